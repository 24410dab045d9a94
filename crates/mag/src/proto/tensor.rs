//! TensorFlow's framework protos: `types.proto` (the `DataType` values this crate uses),
//! `tensor_shape.proto`, `tensor_slice.proto`, `versions.proto` and `tensor.proto`.

/// `tensorflow.DataType` value of float32.
pub const DT_FLOAT: i32 = 1;
/// `tensorflow.DataType` value of int32.
pub const DT_INT32: i32 = 3;
/// `tensorflow.DataType` value of string.
pub const DT_STRING: i32 = 7;
/// `tensorflow.DataType` value of int64.
pub const DT_INT64: i32 = 9;
/// `tensorflow.DataType` value of resource (a `TensorArray` handle).
pub const DT_RESOURCE: i32 = 20;

/// A readable name for a `tensorflow.DataType` value.
pub fn dtype_name(dtype: i32) -> String {
    const NAMES: [&str; 24] = [
        "DT_INVALID",
        "DT_FLOAT",
        "DT_DOUBLE",
        "DT_INT32",
        "DT_UINT8",
        "DT_INT16",
        "DT_INT8",
        "DT_STRING",
        "DT_COMPLEX64",
        "DT_INT64",
        "DT_BOOL",
        "DT_QINT8",
        "DT_QUINT8",
        "DT_QINT32",
        "DT_BFLOAT16",
        "DT_QINT16",
        "DT_QUINT16",
        "DT_UINT16",
        "DT_COMPLEX128",
        "DT_HALF",
        "DT_RESOURCE",
        "DT_VARIANT",
        "DT_UINT32",
        "DT_UINT64",
    ];
    match dtype {
        d @ 0..=23 => NAMES[d as usize].to_string(),
        d @ 101..=123 => format!("{}_REF", NAMES[(d - 100) as usize]),
        d => format!("DataType({d})"),
    }
}

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
    /// A `tensorflow.DataType` value; see [`DT_FLOAT`].
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_names() {
        assert_eq!(dtype_name(1), "DT_FLOAT");
        assert_eq!(dtype_name(9), "DT_INT64");
        assert_eq!(dtype_name(101), "DT_FLOAT_REF");
        assert_eq!(dtype_name(999), "DataType(999)");
    }
}
