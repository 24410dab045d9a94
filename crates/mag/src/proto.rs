//! Hand-written prost messages for the protobufs this crate reads and writes.
//!
//! Field numbers follow the upstream `.proto` files (note-seq `generator.proto`;
//! TensorFlow `saved_tensor_slice.proto`, `tensor.proto`, `tensor_shape.proto`,
//! `tensor_slice.proto`, `versions.proto`, `tensor_bundle.proto`, `example.proto`,
//! `feature.proto`). Only the fields this crate needs are declared; prost skips the
//! others when decoding.

// ---------------------------------------------------------------- generator.proto

/// `magenta.GeneratorBundle`: the whole `.mag` file.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GeneratorBundle {
    #[prost(message, optional, tag = "1")]
    pub generator_details: Option<GeneratorDetails>,
    /// Raw bytes of checkpoint files; Magenta supports exactly one (a V1 table).
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub checkpoint_file: Vec<Vec<u8>>,
    /// Raw bytes of the binary `MetaGraphDef`.
    #[prost(bytes = "vec", tag = "3")]
    pub metagraph_file: Vec<u8>,
    #[prost(message, optional, tag = "4")]
    pub bundle_details: Option<BundleDetails>,
}

/// `magenta.GeneratorDetails`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GeneratorDetails {
    /// Selects the model config, e.g. `performance_with_dynamics`.
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub description: String,
}

/// `magenta.GeneratorBundle.BundleDetails`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BundleDetails {
    #[prost(string, tag = "1")]
    pub description: String,
}

// ------------------------------------------------------ TensorFlow framework protos

/// `tensorflow.TensorShapeProto`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorShapeDim>,
    #[prost(bool, tag = "3")]
    pub unknown_rank: bool,
}

/// `tensorflow.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorShapeDim {
    #[prost(int64, tag = "1")]
    pub size: i64,
    #[prost(string, tag = "2")]
    pub name: String,
}

impl TensorShapeProto {
    /// A shape with the given dimensions (no names).
    pub fn from_dims(dims: &[usize]) -> Self {
        TensorShapeProto {
            dim: dims.iter().map(|&d| TensorShapeDim { size: d as i64, name: String::new() }).collect(),
            unknown_rank: false,
        }
    }
}

/// `tensorflow.TensorSliceProto`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorSliceProto {
    #[prost(message, repeated, tag = "1")]
    pub extent: Vec<TensorSliceExtent>,
}

impl TensorSliceProto {
    /// The full slice of a tensor of the given rank: one empty `Extent` per dimension,
    /// which is how TensorFlow writes it (bytes `0a 00` per dimension).
    pub fn full(rank: usize) -> Self {
        TensorSliceProto { extent: vec![TensorSliceExtent::default(); rank] }
    }

    /// True when every extent covers its whole dimension.
    pub fn is_full(&self) -> bool {
        self.extent.iter().all(|e| e.is_full())
    }
}

/// `tensorflow.TensorSliceProto.Extent`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorSliceExtent {
    #[prost(int64, tag = "1")]
    pub start: i64,
    #[prost(oneof = "tensor_slice_extent::HasLength", tags = "2")]
    pub has_length: Option<tensor_slice_extent::HasLength>,
}

impl TensorSliceExtent {
    /// An extent is full when it starts at 0 and has no length (or length −1).
    pub fn is_full(&self) -> bool {
        self.start == 0
            && match self.has_length {
                None => true,
                Some(tensor_slice_extent::HasLength::Length(l)) => l == -1,
            }
    }
}

/// The `has_length` oneof of [`TensorSliceExtent`].
pub mod tensor_slice_extent {
    #[derive(Clone, Copy, PartialEq, Eq, ::prost::Oneof)]
    pub enum HasLength {
        #[prost(int64, tag = "2")]
        Length(i64),
    }
}

/// `tensorflow.VersionDef`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct VersionDef {
    #[prost(int32, tag = "1")]
    pub producer: i32,
    #[prost(int32, tag = "2")]
    pub min_consumer: i32,
    #[prost(int32, repeated, tag = "3")]
    pub bad_consumers: Vec<i32>,
}

/// `tensorflow.TensorProto` (the value fields this crate may meet in a checkpoint).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TensorProto {
    /// A `tensorflow.DataType` value; see [`crate::checkpoint::DT_FLOAT`].
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    #[prost(int32, tag = "3")]
    pub version_number: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
    #[prost(int32, repeated, tag = "7")]
    pub int_val: Vec<i32>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
    #[prost(float, repeated, tag = "9")]
    pub scomplex_val: Vec<f32>,
    #[prost(int64, repeated, tag = "10")]
    pub int64_val: Vec<i64>,
    #[prost(bool, repeated, tag = "11")]
    pub bool_val: Vec<bool>,
    #[prost(double, repeated, tag = "12")]
    pub dcomplex_val: Vec<f64>,
    #[prost(int32, repeated, tag = "13")]
    pub half_val: Vec<i32>,
    #[prost(uint32, repeated, tag = "16")]
    pub uint32_val: Vec<u32>,
    #[prost(uint64, repeated, tag = "17")]
    pub uint64_val: Vec<u64>,
}

impl TensorProto {
    /// Names of the non-float value fields that hold values (for error messages).
    pub fn non_float_fields(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.double_val.is_empty() {
            v.push("double_val");
        }
        if !self.int_val.is_empty() {
            v.push("int_val");
        }
        if !self.string_val.is_empty() {
            v.push("string_val");
        }
        if !self.scomplex_val.is_empty() {
            v.push("scomplex_val");
        }
        if !self.int64_val.is_empty() {
            v.push("int64_val");
        }
        if !self.bool_val.is_empty() {
            v.push("bool_val");
        }
        if !self.dcomplex_val.is_empty() {
            v.push("dcomplex_val");
        }
        if !self.half_val.is_empty() {
            v.push("half_val");
        }
        if !self.uint32_val.is_empty() {
            v.push("uint32_val");
        }
        if !self.uint64_val.is_empty() {
            v.push("uint64_val");
        }
        v
    }
}

// ------------------------------------------------------- saved_tensor_slice.proto

/// `tensorflow.SavedTensorSlices`: the value of every record of a V1 checkpoint.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SavedTensorSlices {
    /// Only in the record with the empty key: the table of contents.
    #[prost(message, optional, tag = "1")]
    pub meta: Option<SavedTensorSliceMeta>,
    /// In every other record: one slice of one tensor.
    #[prost(message, optional, tag = "2")]
    pub data: Option<SavedSlice>,
}

/// `tensorflow.SavedTensorSliceMeta`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SavedTensorSliceMeta {
    #[prost(message, repeated, tag = "1")]
    pub tensor: Vec<SavedSliceMeta>,
    #[prost(message, optional, tag = "2")]
    pub versions: Option<VersionDef>,
}

/// `tensorflow.SavedSliceMeta`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SavedSliceMeta {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
    /// A `tensorflow.DataType` value.
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    #[prost(message, repeated, tag = "4")]
    pub slice: Vec<TensorSliceProto>,
}

/// `tensorflow.SavedSlice`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SavedSlice {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub slice: Option<TensorSliceProto>,
    #[prost(message, optional, tag = "3")]
    pub data: Option<TensorProto>,
}

// ------------------------------------------------------------ tensor_bundle.proto

/// `tensorflow.BundleHeaderProto`: the empty-key record of a V2 `.index` file.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BundleHeaderProto {
    #[prost(int32, tag = "1")]
    pub num_shards: i32,
    /// 0 = little-endian, 1 = big-endian.
    #[prost(int32, tag = "2")]
    pub endianness: i32,
    #[prost(message, optional, tag = "3")]
    pub version: Option<VersionDef>,
}

/// `tensorflow.BundleEntryProto`: one tensor of a V2 checkpoint.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BundleEntryProto {
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
    #[prost(int32, tag = "3")]
    pub shard_id: i32,
    #[prost(int64, tag = "4")]
    pub offset: i64,
    #[prost(int64, tag = "5")]
    pub size: i64,
    /// Masked CRC32C of the tensor's bytes.
    #[prost(fixed32, tag = "6")]
    pub crc32c: u32,
    #[prost(message, repeated, tag = "7")]
    pub slices: Vec<TensorSliceProto>,
}

// ------------------------------------------------------ example.proto / feature.proto

/// `tensorflow.SequenceExample`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SequenceExample {
    #[prost(message, optional, tag = "1")]
    pub context: Option<Features>,
    #[prost(message, optional, tag = "2")]
    pub feature_lists: Option<FeatureLists>,
}

/// `tensorflow.Features`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Features {
    #[prost(btree_map = "string, message", tag = "1")]
    pub feature: std::collections::BTreeMap<String, Feature>,
}

/// `tensorflow.FeatureLists`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FeatureLists {
    #[prost(btree_map = "string, message", tag = "1")]
    pub feature_list: std::collections::BTreeMap<String, FeatureList>,
}

/// `tensorflow.FeatureList`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FeatureList {
    #[prost(message, repeated, tag = "1")]
    pub feature: Vec<Feature>,
}

/// `tensorflow.Feature`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Feature {
    #[prost(oneof = "feature::Kind", tags = "1, 2, 3")]
    pub kind: Option<feature::Kind>,
}

/// The `kind` oneof of [`Feature`].
pub mod feature {
    #[derive(Clone, PartialEq, ::prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        BytesList(super::BytesList),
        #[prost(message, tag = "2")]
        FloatList(super::FloatList),
        #[prost(message, tag = "3")]
        Int64List(super::Int64List),
    }
}

/// `tensorflow.BytesList`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
}

/// `tensorflow.FloatList` (packed).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct FloatList {
    #[prost(float, repeated, tag = "1")]
    pub value: Vec<f32>,
}

/// `tensorflow.Int64List` (packed).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct Int64List {
    #[prost(int64, repeated, tag = "1")]
    pub value: Vec<i64>,
}
