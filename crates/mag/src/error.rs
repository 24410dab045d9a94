//! Layer 0: the crate's error type, used by every layer above; it depends on nothing in the
//! crate.
//!
//! Every variant carries the file it is about when that is known (see
//! [`MagError::with_file`]), and names the tensor, block or record at fault.

use std::fmt;
use std::path::PathBuf;

/// The file an error is about, printed as a `"name: "` prefix (nothing when unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCtx(pub Option<String>);

impl FileCtx {
    /// No file known (yet).
    pub const NONE: FileCtx = FileCtx(None);

    /// A named file.
    pub fn named(name: impl Into<String>) -> Self {
        FileCtx(Some(name.into()))
    }
}

impl fmt::Display for FileCtx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(name) => write!(f, "{name}: "),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong reading or writing Magenta / TensorFlow files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MagError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a usable `GeneratorBundle` (`.mag`) protobuf.
    #[error("{file}not a usable Magenta GeneratorBundle (.mag): {detail}")]
    Bundle { file: FileCtx, detail: String },

    /// The LevelDB-style table (V1 checkpoint, V2 index) is truncated or corrupt.
    /// `detail` names the block (by byte offset) or the footer at fault.
    #[error("{file}corrupt or truncated TensorFlow table: {detail}")]
    Table { file: FileCtx, detail: String },

    /// A checkpoint-level problem that is not about one tensor.
    #[error("{file}checkpoint: {detail}")]
    Checkpoint { file: FileCtx, detail: String },

    /// A problem with one tensor of a checkpoint.
    #[error("{file}checkpoint tensor '{tensor}': {detail}")]
    Tensor { file: FileCtx, tensor: String, detail: String },

    /// `generator_details.id` is not one of the Performance RNN generator ids Magenta knows
    /// (`known` lists them).
    #[error("{file}unknown generator id '{id}' (expected one of: {known})")]
    UnknownGenerator { file: FileCtx, id: String, known: String },

    /// The checkpoint is not a Performance RNN the way the generator id says.
    #[error("{file}not a Performance RNN checkpoint: tensor '{tensor}': {detail}")]
    Layout { file: FileCtx, tensor: String, detail: String },

    /// The bundle's `metagraph_file` cannot be read, or describes a graph other than the one
    /// its checkpoint's variables say (another cell, a wrapper Cadenza does not implement).
    #[error("{file}metagraph: {detail}")]
    Metagraph { file: FileCtx, detail: String },

    /// A new checkpoint does not fit the template bundle it is meant to replace.
    #[error("{file}new checkpoint does not match the template bundle: {detail}")]
    Mismatch { file: FileCtx, detail: String },

    /// A TFRecord file is truncated or corrupt.
    #[error("{file}TFRecord: {detail}")]
    TfRecord { file: FileCtx, detail: String },

    /// A `tf.train.SequenceExample` could not be decoded.
    #[error("{file}SequenceExample: {detail}")]
    Example { file: FileCtx, detail: String },
}

impl MagError {
    /// Attach a file name to an error that does not have one yet.
    pub fn with_file(mut self, name: &str) -> Self {
        if let Some(ctx) = self.file_ctx_mut() {
            if ctx.0.is_none() {
                ctx.0 = Some(name.to_string());
            }
        }
        self
    }

    /// The file the error is about, when known.
    pub fn file(&self) -> Option<String> {
        match self {
            MagError::Io { path, .. } => Some(path.display().to_string()),
            MagError::Bundle { file, .. }
            | MagError::Table { file, .. }
            | MagError::Checkpoint { file, .. }
            | MagError::Tensor { file, .. }
            | MagError::UnknownGenerator { file, .. }
            | MagError::Layout { file, .. }
            | MagError::Mismatch { file, .. }
            | MagError::Metagraph { file, .. }
            | MagError::TfRecord { file, .. }
            | MagError::Example { file, .. } => file.0.clone(),
        }
    }

    /// The tensor the error is about, when there is one.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            MagError::Tensor { tensor, .. } | MagError::Layout { tensor, .. } => Some(tensor),
            _ => None,
        }
    }

    fn file_ctx_mut(&mut self) -> Option<&mut FileCtx> {
        match self {
            MagError::Io { .. } => None,
            MagError::Bundle { file, .. }
            | MagError::Table { file, .. }
            | MagError::Checkpoint { file, .. }
            | MagError::Tensor { file, .. }
            | MagError::UnknownGenerator { file, .. }
            | MagError::Layout { file, .. }
            | MagError::Mismatch { file, .. }
            | MagError::Metagraph { file, .. }
            | MagError::TfRecord { file, .. }
            | MagError::Example { file, .. } => Some(file),
        }
    }

    pub(crate) fn table(detail: impl Into<String>) -> Self {
        MagError::Table { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn checkpoint(detail: impl Into<String>) -> Self {
        MagError::Checkpoint { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn tensor_err(tensor: impl Into<String>, detail: impl Into<String>) -> Self {
        MagError::Tensor { file: FileCtx::NONE, tensor: tensor.into(), detail: detail.into() }
    }

    pub(crate) fn layout(tensor: impl Into<String>, detail: impl Into<String>) -> Self {
        MagError::Layout { file: FileCtx::NONE, tensor: tensor.into(), detail: detail.into() }
    }

    pub(crate) fn bundle(detail: impl Into<String>) -> Self {
        MagError::Bundle { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn mismatch(detail: impl Into<String>) -> Self {
        MagError::Mismatch { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn metagraph(detail: impl Into<String>) -> Self {
        MagError::Metagraph { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn tfrecord(detail: impl Into<String>) -> Self {
        MagError::TfRecord { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn example(detail: impl Into<String>) -> Self {
        MagError::Example { file: FileCtx::NONE, detail: detail.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MagError::Io { path: path.into(), source }
    }
}

/// Shorthand for `Result<T, MagError>`.
pub type Result<T, E = MagError> = std::result::Result<T, E>;
