//! TensorFlow / Magenta file formats in pure Rust, for Cadenza.
//!
//! - [`bundle`]: Magenta `.mag` generator bundles (`GeneratorBundle` protobuf), with an
//!   atomic writer.
//! - [`table`]: the LevelDB-style table format of TensorFlow V1 checkpoints and V2
//!   `.index` files (reader with CRC and bounds checks; writer matching TensorFlow's).
//! - [`checkpoint`]: V1 tensor-slice checkpoints (read and write) and V2 checkpoints.
//! - [`layout`]: reading a checkpoint as a Performance RNN (LSTM layers + fully
//!   connected output), and the known generator ids.
//! - [`export`]: a new bundle from a template bundle and new weights.
//! - [`tfrecord`]: TFRecord framing and Magenta's training `SequenceExample`s.
//!
//! Typical use:
//!
//! ```no_run
//! use cadenza_mag::{Bundle, replace_checkpoint};
//! let bundle = Bundle::read("performance_with_dynamics.mag")?;
//! let (mut ckpt, layout) = bundle.load()?;
//! println!("{} layers of {:?}, {} classes", layout.num_layers(), layout.hidden, layout.num_classes);
//! // ... fine-tune ckpt's values in place ...
//! let out = replace_checkpoint(&bundle, &ckpt)?;
//! out.write_atomic("fine_tuned.mag")?;
//! # Ok::<(), cadenza_mag::MagError>(())
//! ```
#![forbid(unsafe_code)]

pub mod bundle;
pub mod checkpoint;
pub mod error;
pub mod export;
pub mod fuzzing;
pub mod graph;
pub mod layout;
pub mod metagraph;
pub mod ordered_code;
pub mod proto;
pub mod table;
pub mod tfrecord;

pub use bundle::Bundle;
pub use checkpoint::{read_v1, read_v2, write_v1, write_v2, Checkpoint, Tensor, V2Checkpoint};
pub use error::{MagError, Result};
pub use export::replace_checkpoint;
pub use graph::{generation_metagraph, new_bundle, GraphShape};
pub use layout::{check_generator_id, CellKind, Layout, LayoutNames, LstmLayerNames, KNOWN_GENERATOR_IDS};
pub use metagraph::{inspect as inspect_metagraph, GraphFacts};
