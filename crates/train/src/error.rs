//! What can go wrong in training, with the file it concerns.

use serde::Serialize;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{0}")]
    Setup(String),
    /// The dataset could not be opened.
    #[error(transparent)]
    Dataset(#[from] cadenza_dataset::DatasetError),
    /// A model (`--init`, a checkpoint's weights) could not be loaded.
    #[error(transparent)]
    Model(#[from] cadenza_model::ModelError),
    /// A file or folder of the run could not be read or written; `source` is why.
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run folder already holds checkpoints and resuming was not asked for.
    #[error("{0}: already holds a run; resume it, or choose another run folder")]
    RunExists(String),
    /// Another process holds the run folder.
    #[error(transparent)]
    Locked(#[from] cadenza_atomic::LockError),
    #[error("training stopped at step {step}: the loss became {value} (not a finite number); the last good checkpoint is {checkpoint}")]
    NonFinite { step: u64, value: f64, checkpoint: String },
    /// The weights to be saved hold a non-finite value; nothing was written.
    #[error("training stopped at step {step}: {problem}; not saved; the last good checkpoint is {checkpoint}")]
    NonFiniteWeights { step: u64, problem: String, checkpoint: String },
    /// No checkpoint of the run to resume passes its checks.
    #[error("{dir}: no checkpoint is intact, nothing to resume from: {problems}")]
    NoIntactCheckpoint { dir: String, problems: String },
}

pub(crate) fn ferr(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> TrainError {
    // A full disk says so, whichever library's error carried it (an io::Error keeps itself).
    let source: Box<dyn std::error::Error + Send + Sync> = match e.into().downcast::<std::io::Error>() {
        Ok(io) => Box::new(cadenza_atomic::say_disk_full(*io)),
        Err(other)
            if cadenza_atomic::is_disk_full(other.as_ref()) && !other.to_string().contains("the disk is full") =>
        {
            Box::new(cadenza_atomic::say_disk_full(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                other.to_string(),
            )))
        }
        Err(other) => other,
    };
    TrainError::File { path: path.display().to_string(), source }
}

/// JSON through a temp file and a rename.
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainError> {
    cadenza_atomic::write_json(path, v).map_err(|e| ferr(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file error keeps its cause: the message names the file, `source()` gives the error
    /// below (an `io::Error` here) for a caller to inspect.
    #[test]
    fn file_errors_keep_their_source() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let e = ferr(Path::new("/runs/a/metrics.csv"), io);
        assert!(e.to_string().starts_with("/runs/a/metrics.csv: the disk is full (No space left on device)"), "{e}");
        let src = std::error::Error::source(&e).expect("a source");
        assert_eq!(src.downcast_ref::<std::io::Error>().map(|x| x.kind()), Some(std::io::ErrorKind::StorageFull));
        let Err(e) = cadenza_dataset::Dataset::open(Path::new("/no/such/dataset")) else { panic!("opened nothing") };
        let d = TrainError::from(e);
        assert!(matches!(d, TrainError::Dataset(_)) && d.to_string().contains("/no/such/dataset"), "{d}");
    }
}
