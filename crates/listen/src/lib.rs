//! Blind ears: a pairwise listening test a user sends to musicians, and its statistics.
//!
//! * [`build()`]: from one or more comparisons (`cadenza compare`/`demo` folders), pairs of
//!   excerpts drawn with the same sampling seed, one from the original model and one from the
//!   modified, plus calibration trials that pair a real piece with a model sample; audio as
//!   FLAC under opaque ids; a self-contained page ([`page`]) that shuffles sides and order per
//!   listener; `key.json` (the unblinding, kept by the sender) and `listeners.zip` (the page and
//!   the audio, what is sent).
//! * [`tally()`]: answers unblinded, per listener and pooled: exact intervals and sign tests,
//!   calibration accuracy, the Wilcoxon signed-rank test across listeners ([`stats`]).
#![forbid(unsafe_code)]

pub mod build;
pub mod excerpt;
pub mod page;
pub mod stats;
pub mod tally;

pub use build::{build, resolve_run, Arm, Built, Key, KeyClip, KeyTrial, ListenOptions, TrialKind, QUESTION};
pub use tally::{add_to_report, render_tally, report_section, tally, Answers, Tally};

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ListenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Format { path: PathBuf, msg: String },
    #[error("{path}: {msg}")]
    Load { path: PathBuf, msg: String },
    #[error("{path}: rendering the excerpt: {msg}")]
    Render { path: PathBuf, msg: String },
    /// The SoundFont asked for (or the system's) does not load; the message names the file.
    #[error(transparent)]
    SoundFont(#[from] cadenza_render::RenderError),
    #[error("{0} is not a comparison: no comparison.json in it (nor in comparison_project/ or comparison/ as a demo folder has)")]
    NotARun(PathBuf),
    #[error("no sample pairs: none of {0:?} holds original/ and modified/ samples with the same seed and number")]
    NoPairs(Vec<PathBuf>),
    #[error("no real pieces for the calibration trials: the datasets of {0:?} are gone and no reference/ pieces were rendered (or ask for no calibration trials)")]
    NoReal(Vec<PathBuf>),
    #[error("{0} already holds a listening test (key.json): answers to it would stop matching; choose another folder")]
    Exists(PathBuf),
    #[error("no answers counted: {0}")]
    NoAnswers(String),
    #[error("{0}")]
    Invalid(String),
}
