//! TensorFlow / Magenta file formats in pure Rust, for Cadenza.
//!
//! The crate is built in layers; a module only imports from its own layer or the ones
//! below it:
//!
//! 0. [`error`]: the error type.
//! 1. [`proto`]: the hand-written prost messages (Magenta's `GeneratorBundle`,
//!    TensorFlow's tensor, checkpoint, example and graph protos).
//! 2. [`tf`]: TensorFlow's file formats: the [`table`] of V1 checkpoints and V2 `.index`
//!    files, the [`ordered_code`] of its keys, V1/V2 [`checkpoint`]s, and [`tfrecord`]
//!    framing with Magenta's training `SequenceExample`s.
//! 3. [`bundle`]: Magenta's `.mag` bundles: the Performance RNN [`layout`] of a
//!    checkpoint and the known generator ids, what a [`metagraph`] says, reading and
//!    writing a [`Bundle`], [`export`] of new weights into a template bundle, and the
//!    generation [`graph`] built in code for a bundle without a template.
//! 4. [`fuzzing`]: the fuzz target's body, which feeds bytes to every parser.
//!
//! The modules of layers 2 and 3 are also re-exported at the crate root
//! (`cadenza_mag::checkpoint`, `cadenza_mag::graph`, …), as are the main types.
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
pub mod error;
pub mod fuzzing;
pub mod proto;
pub mod tf;

pub use bundle::{export, graph, layout, metagraph};
pub use tf::{checkpoint, ordered_code, table, tfrecord};

pub use bundle::Bundle;
pub use checkpoint::{read_v1, read_v2, write_v1, write_v2, Checkpoint, Tensor, V2Checkpoint};
pub use error::{MagError, Result};
pub use export::replace_checkpoint;
pub use graph::{generation_metagraph, new_bundle, GraphShape};
pub use layout::{check_generator_id, CellKind, Layout, LayoutNames, LstmLayerNames, KNOWN_GENERATOR_IDS};
pub use metagraph::{inspect as inspect_metagraph, GraphFacts};
