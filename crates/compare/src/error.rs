//! The comparison's errors: a bad setting or state (`Setup`), or a failure of a stage below
//! (training, a dataset, a file) with what was being done and the file it concerns.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CompareError {
    /// Options that cannot work, or a folder in a state the comparison will not overwrite.
    #[error("{0}")]
    Setup(String),
    /// The dataset could not be opened or built.
    #[error(transparent)]
    Dataset(#[from] cadenza_dataset::DatasetError),
    /// A stage below failed while doing `msg` (which names the file or folder).
    #[error("{msg}: {source}")]
    Context {
        msg: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub type Result<T, E = CompareError> = std::result::Result<T, E>;

/// `.ctx(|| what)` on a fallible call: its error with what was being done.
pub(crate) trait Ctx<T> {
    fn ctx(self, msg: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Ctx<T> for std::result::Result<T, E> {
    fn ctx(self, msg: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| CompareError::Context { msg: msg(), source: Box::new(e) })
    }
}

impl<T> Ctx<T> for Option<T> {
    fn ctx(self, msg: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| CompareError::Setup(msg()))
    }
}

/// `return Err(CompareError::Setup(format!(...)))`.
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::error::CompareError::Setup(format!($($t)*))) };
}
pub(crate) use bail;
