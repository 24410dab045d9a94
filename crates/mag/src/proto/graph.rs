//! TensorFlow's `meta_graph.proto`, `graph.proto`, `node_def.proto`, `attr_value.proto`,
//! `saver.proto` and `control_flow.proto`: the `MetaGraphDef` of a bundle's
//! `metagraph_file`, with the fields Magenta's generation graph uses.
//!
//! These live in their own module, not re-exported flat in `proto`, because
//! `CollectionDef.BytesList` and `tensorflow.BytesList` share a name.

use std::collections::BTreeMap;

use crate::proto::tensor::{TensorProto, TensorShapeProto, VersionDef};

/// `tensorflow.MetaGraphDef` (`meta_info_def` is read as its scalar fields only).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MetaGraphDef {
    #[prost(message, optional, tag = "1")]
    pub meta_info_def: Option<MetaInfoDef>,
    #[prost(message, optional, tag = "2")]
    pub graph_def: Option<GraphDef>,
    #[prost(message, optional, tag = "3")]
    pub saver_def: Option<SaverDef>,
    #[prost(btree_map = "string, message", tag = "4")]
    pub collection_def: BTreeMap<String, CollectionDef>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct MetaInfoDef {
    #[prost(string, tag = "1")]
    pub meta_graph_version: String,
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    #[prost(string, tag = "5")]
    pub tensorflow_version: String,
    #[prost(string, tag = "6")]
    pub tensorflow_git_version: String,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct GraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    #[prost(message, optional, tag = "4")]
    pub versions: Option<VersionDef>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct NodeDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(string, repeated, tag = "3")]
    pub input: Vec<String>,
    #[prost(string, tag = "4")]
    pub device: String,
    #[prost(btree_map = "string, message", tag = "5")]
    pub attr: BTreeMap<String, AttrValue>,
}

/// `tensorflow.AttrValue` (all kinds but `func`).
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct AttrValue {
    #[prost(oneof = "Value", tags = "1, 2, 3, 4, 5, 6, 7, 8, 9")]
    pub value: Option<Value>,
}

#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Value {
    #[prost(message, tag = "1")]
    List(ListValue),
    #[prost(bytes, tag = "2")]
    S(Vec<u8>),
    #[prost(int64, tag = "3")]
    I(i64),
    #[prost(float, tag = "4")]
    F(f32),
    #[prost(bool, tag = "5")]
    B(bool),
    #[prost(int32, tag = "6")]
    Type(i32),
    #[prost(message, tag = "7")]
    Shape(TensorShapeProto),
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
    #[prost(string, tag = "9")]
    Placeholder(String),
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ListValue {
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub s: Vec<Vec<u8>>,
    #[prost(int64, repeated, tag = "3")]
    pub i: Vec<i64>,
    #[prost(float, repeated, tag = "4")]
    pub f: Vec<f32>,
    #[prost(bool, repeated, tag = "5")]
    pub b: Vec<bool>,
    #[prost(int32, repeated, tag = "6")]
    pub r#type: Vec<i32>,
    #[prost(message, repeated, tag = "7")]
    pub shape: Vec<TensorShapeProto>,
    #[prost(message, repeated, tag = "8")]
    pub tensor: Vec<TensorProto>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct SaverDef {
    #[prost(string, tag = "1")]
    pub filename_tensor_name: String,
    #[prost(string, tag = "2")]
    pub save_tensor_name: String,
    #[prost(string, tag = "3")]
    pub restore_op_name: String,
    #[prost(int32, tag = "4")]
    pub max_to_keep: i32,
    #[prost(bool, tag = "5")]
    pub sharded: bool,
    #[prost(float, tag = "6")]
    pub keep_checkpoint_every_n_hours: f32,
    /// `SaverDef.CheckpointFormatVersion`: 1 = V1.
    #[prost(int32, tag = "7")]
    pub version: i32,
}

/// `tensorflow.CollectionDef`, the two kinds Magenta's graph uses.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct CollectionDef {
    #[prost(oneof = "Collection", tags = "1, 2")]
    pub kind: Option<Collection>,
}

#[derive(Clone, PartialEq, ::prost::Oneof)]
pub enum Collection {
    #[prost(message, tag = "1")]
    NodeList(StringList),
    #[prost(message, tag = "2")]
    BytesList(BytesList),
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct StringList {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
}

/// `tensorflow.VariableDef`, an entry of the `variables` collections.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct VariableDef {
    #[prost(string, tag = "1")]
    pub variable_name: String,
    #[prost(string, tag = "2")]
    pub initializer_name: String,
    #[prost(string, tag = "3")]
    pub snapshot_name: String,
    #[prost(string, tag = "6")]
    pub initial_value_name: String,
    #[prost(bool, tag = "7")]
    pub trainable: bool,
}

/// `tensorflow.WhileContextDef`, the `while_context` collection's entry.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct WhileContextDef {
    #[prost(string, tag = "1")]
    pub context_name: String,
    #[prost(int32, tag = "2")]
    pub parallel_iterations: i32,
    #[prost(bool, tag = "3")]
    pub back_prop: bool,
    #[prost(bool, tag = "4")]
    pub swap_memory: bool,
    #[prost(string, tag = "5")]
    pub pivot_name: String,
    #[prost(string, tag = "6")]
    pub pivot_for_pred_name: String,
    #[prost(string, tag = "7")]
    pub pivot_for_body_name: String,
    #[prost(string, repeated, tag = "8")]
    pub loop_exit_names: Vec<String>,
    #[prost(message, optional, tag = "9")]
    pub values_def: Option<ValuesDef>,
    #[prost(string, repeated, tag = "10")]
    pub loop_enter_names: Vec<String>,
    #[prost(string, tag = "11")]
    pub maximum_iterations_name: String,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ValuesDef {
    #[prost(string, repeated, tag = "1")]
    pub values: Vec<String>,
    #[prost(btree_map = "string, string", tag = "2")]
    pub external_values: BTreeMap<String, String>,
}
