//! What can go wrong in training, with the file it concerns.

use serde::Serialize;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{0}")]
    Setup(String),
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    /// The run folder already holds checkpoints and resuming was not asked for.
    #[error("{0}: already holds a run; resume it, or choose another run folder")]
    RunExists(String),
    #[error("training stopped at step {step}: the loss became {value} (not a finite number); the last good checkpoint is {checkpoint}")]
    NonFinite { step: u64, value: f64, checkpoint: String },
}

pub(crate) fn ferr(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File { path: path.display().to_string(), msg: e.to_string() }
}

/// JSON through a temp file and a rename.
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainError> {
    let bytes = serde_json::to_vec_pretty(v).expect("serialisable");
    cadenza_atomic::write_atomic(path, &bytes).map_err(|e| ferr(path, e))
}
