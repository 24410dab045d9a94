//! Layer 2: TensorFlow's file formats, built on the messages of [`crate::proto`].
//!
//! Bottom to top (no module imports one above it):
//!
//! - [`table`]: the LevelDB-style table of V1 checkpoints and V2 `.index` files (reader
//!   with CRC and bounds checks; writer matching TensorFlow's), and the masked CRC32C.
//! - [`ordered_code`]: TensorFlow's `OrderedCode`, the key encoding of V1 checkpoint tables.
//! - [`checkpoint`]: V1 tensor-slice checkpoints (read and write) and V2 checkpoints.
//! - [`tfrecord`]: TFRecord framing and Magenta's training `SequenceExample`s.

pub mod checkpoint;
pub mod ordered_code;
pub mod table;
pub mod tfrecord;
