//! Layer 1: hand-written prost messages for the protobufs this crate reads and writes.
//! This module depends on nothing else in the crate; every other layer builds on it.
//!
//! Field numbers follow the upstream `.proto` files (note-seq `generator.proto`;
//! TensorFlow `saved_tensor_slice.proto`, `tensor.proto`, `tensor_shape.proto`,
//! `tensor_slice.proto`, `versions.proto`, `tensor_bundle.proto`, `example.proto`,
//! `feature.proto`, and the graph protos of [`graph`]: `meta_graph.proto`, `graph.proto`,
//! `node_def.proto`, `attr_value.proto`, `saver.proto`, `control_flow.proto`). Only the
//! fields this crate needs are declared; prost skips the others when decoding.
//!
//! All messages but the graph ones are re-exported flat here (`proto::TensorProto`); the
//! graph messages stay in [`graph`] (`CollectionDef.BytesList` would clash with
//! `tensorflow.BytesList`).

mod checkpoint;
mod example;
mod generator;
pub mod graph;
mod tensor;

pub use checkpoint::{
    BundleEntryProto, BundleHeaderProto, SavedSlice, SavedSliceMeta, SavedTensorSliceMeta, SavedTensorSlices,
};
pub use example::{
    feature, BytesList, Feature, FeatureList, FeatureLists, Features, FloatList, Int64List, SequenceExample,
};
pub use generator::{BundleDetails, GeneratorBundle, GeneratorDetails};
pub use tensor::{
    dtype_name, tensor_slice_extent, TensorProto, TensorShapeDim, TensorShapeProto, TensorSliceExtent,
    TensorSliceProto, VersionDef, DT_FLOAT, DT_INT32, DT_INT64, DT_RESOURCE, DT_STRING,
};
