//! What training tells the person running it, besides the progress bar: the library prints
//! nothing; it hands these to the caller's [`OnEvent`], and the binary prints them.

use crate::stop::StopReason;
use std::fmt;
use std::sync::Arc;

/// Something a person running training should see.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// Where training runs (the device and its kernels).
    Device(String),
    /// A resumed run takes a hyper-parameter other than its checkpoint's (`change` says which,
    /// from what to what).
    Resumed { step: u64, change: String },
    /// The dataset is not the one the checkpoint was trained on (fingerprints, shortened).
    DatasetChanged { step: u64, was: String, now: String },
    /// A checkpoint failed its checks (`problem` names the file) and resuming passes over it.
    DamagedCheckpoint { checkpoint: String, problem: String },
    /// Early stopping ended the run.
    EarlyStop(StopReason),
}

impl TrainEvent {
    /// Whether the event warns of something amiss.
    pub fn is_warning(&self) -> bool {
        matches!(self, TrainEvent::DatasetChanged { .. } | TrainEvent::DamagedCheckpoint { .. })
    }

    /// The event as a line of `log.txt` (what [`fmt::Display`] shows, without `warning: `).
    pub fn message(&self) -> String {
        match self {
            TrainEvent::Device(s) => s.clone(),
            TrainEvent::Resumed { step, change } => format!("step {step}: resumed with {change}"),
            TrainEvent::DatasetChanged { step, was, now } => {
                format!("step {step}: the dataset changed since the checkpoint (fingerprint {was} → {now})")
            }
            TrainEvent::DamagedCheckpoint { checkpoint, problem } => {
                format!("{problem}; passing over {checkpoint} for an earlier checkpoint")
            }
            TrainEvent::EarlyStop(r) => r.to_string(),
        }
    }
}

impl fmt::Display for TrainEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_warning() {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message())
    }
}

/// The caller's handler of [`TrainEvent`]s (none by default: the events are dropped).
#[derive(Clone, Default)]
pub struct OnEvent(Option<Arc<dyn Fn(&TrainEvent) + Send + Sync>>);

impl OnEvent {
    pub fn new(f: impl Fn(&TrainEvent) + Send + Sync + 'static) -> Self {
        OnEvent(Some(Arc::new(f)))
    }

    pub(crate) fn emit(&self, e: TrainEvent) {
        if let Some(f) = &self.0 {
            f(&e);
        }
    }
}

impl fmt::Debug for OnEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "OnEvent(handler)" } else { "OnEvent(none)" })
    }
}
