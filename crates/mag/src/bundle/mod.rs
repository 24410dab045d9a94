//! Layer 3: Magenta's `.mag` generator bundles, built on the TensorFlow file formats of
//! [`crate::tf`] and the messages of [`crate::proto`].
//!
//! Bottom to top (no module imports one above it):
//!
//! - [`layout`]: reading a checkpoint as a Performance RNN, and the known generator ids.
//! - [`metagraph`]: what a bundle's `MetaGraphDef` says about the network.
//! - [`Bundle`]: a `.mag` file, read, checked against its metagraph, written atomically.
//! - [`export`]: a new bundle from a template bundle and new weights.
//! - [`graph`]: the generation `MetaGraphDef` built in code, and a new bundle without a
//!   template.

pub mod export;
pub mod graph;
pub mod layout;
mod mag;
pub mod metagraph;

pub use crate::proto::{BundleDetails, GeneratorBundle, GeneratorDetails};
pub use mag::Bundle;
