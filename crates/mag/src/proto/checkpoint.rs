//! The records of TensorFlow checkpoints: `saved_tensor_slice.proto` (V1 tables) and
//! `tensor_bundle.proto` (V2 `.index` files).

use crate::proto::tensor::{TensorProto, TensorShapeProto, TensorSliceProto, VersionDef};

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
