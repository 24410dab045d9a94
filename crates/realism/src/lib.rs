//! Training a Performance RNN on its own samples so that it sounds real.
//!
//! * [`critic`]: a small recurrent network over event windows that learns to tell real
//!   performances from the model's samples (its own view of the music: never the judge's
//!   features), re-fitted as the model changes.
//! * [`policy`]: one policy-gradient step on a batch of the model's samples, rewarded by the
//!   critic window by window against a group-relative baseline, held near the original model
//!   by the exact KL.
//! * [`run`]: the loop (sample, re-fit the critic, step, evaluate, checkpoint, resume) and its
//!   run folder.
#![forbid(unsafe_code)]

pub mod critic;
pub mod policy;
pub mod run;
mod store;

pub use critic::{accuracy, cut_windows, fit, Critic, CriticConfig, CriticFit};
pub use policy::{advantages, kl_per_event, policy_step, window_rewards, PolicyConfig, PolicyStats};
pub use run::{train_realism, RealismEvent, RealismHParams, RealismOptions, RealismState, RealismStop, StepRow};
pub use store::result_model;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RealismError {
    #[error(
        "the critic's reward of window {window} of sample {sample} is {value}: not a number the policy can follow"
    )]
    NonFiniteReward { sample: usize, window: usize, value: f64 },
    #[error("the {what} loss is not finite")]
    NonFiniteLoss { what: &'static str },
    #[error(
        "the critic tells real windows from the model's at chance (held-out accuracy {accuracy:.3}, needs {needed:.2}): its reward would be noise; fit it longer or on more windows"
    )]
    CriticAtChance { accuracy: f64, needed: f64 },
    #[error("sampling: {0}")]
    Sampling(String),
    #[error("{0}")]
    Setup(String),
    #[error("{}: {source}", path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
    #[error("step {step}: the policy's weights are not finite ({detail}); no checkpoint was written")]
    NonFiniteWeights { step: u64, detail: String },
}

/// Refuses a critic whose held-out accuracy is below `needed`.
pub fn check_critic(accuracy: f64, needed: f64) -> Result<(), RealismError> {
    if accuracy.is_finite() && accuracy >= needed {
        Ok(())
    } else {
        Err(RealismError::CriticAtChance { accuracy, needed })
    }
}
