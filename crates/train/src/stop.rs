//! Why a run ended ([`StopReason`]) and where (`stop.json`, [`StopInfo`]).

use crate::metrics::Metrics;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a training run ended. `stop.json` stores the sentence [`fmt::Display`] gives (the file
/// reads as it always has) and [`StopReason::parse`] reads it back.
#[derive(Debug, Clone, PartialEq)]
pub enum StopReason {
    /// The run did all its planned steps.
    ReachedSteps(u64),
    /// Early stopping: the eval metric reached its target or stopped improving (the sentence
    /// says which, with the values).
    EarlyStop(String),
    /// Stopped by Ctrl-C or a [`crate::Cancel`], after writing a checkpoint to resume from.
    Interrupted,
    /// The training loss became NaN or infinite (the sentence gives the value and the step).
    NonFinite(String),
    /// A sentence this version does not know (a `stop.json` from another version).
    Other(String),
}

const INTERRUPTED: &str = "interrupted (Ctrl-C); resume with --resume";

impl StopReason {
    pub fn is_early_stop(&self) -> bool {
        matches!(self, StopReason::EarlyStop(_))
    }

    pub fn is_interrupted(&self) -> bool {
        matches!(self, StopReason::Interrupted)
    }

    /// The reason a sentence of [`fmt::Display`] names.
    pub fn parse(s: &str) -> StopReason {
        if let Some(n) = s.strip_prefix("reached --steps ").and_then(|n| n.parse().ok()) {
            StopReason::ReachedSteps(n)
        } else if s.starts_with("interrupted") {
            StopReason::Interrupted
        } else if s.starts_with("early stopping") {
            StopReason::EarlyStop(s.into())
        } else if s.starts_with("the loss became") {
            StopReason::NonFinite(s.into())
        } else {
            StopReason::Other(s.into())
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::ReachedSteps(n) => write!(f, "reached --steps {n}"),
            StopReason::Interrupted => f.write_str(INTERRUPTED),
            StopReason::EarlyStop(s) | StopReason::NonFinite(s) | StopReason::Other(s) => f.write_str(s),
        }
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StopReason, D::Error> {
        Ok(StopReason::parse(&String::deserialize(d)?))
    }
}

/// `stop.json`: why and where the run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopInfo {
    pub reason: StopReason,
    pub step: u64,
    pub best_checkpoint: Option<String>,
    pub best_step: Option<u64>,
    pub best_metric: Option<String>,
    pub best_value: Option<f64>,
    pub last_eval: Option<Metrics>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_sentence() {
        for r in [
            StopReason::ReachedSteps(4000),
            StopReason::EarlyStop("early stopping: eval loss 2.50000 reached the target 2.5".into()),
            StopReason::Interrupted,
            StopReason::NonFinite("the loss became NaN at step 7".into()),
            StopReason::Other("something a later version says".into()),
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{r}\""));
            assert_eq!(serde_json::from_str::<StopReason>(&json).unwrap(), r);
        }
    }
}
