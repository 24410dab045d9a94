//! Why a run ended ([`StopReason`]) and where (`stop.json`, [`StopInfo`]).

use crate::metrics::Metrics;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// Why a training run ended, as data: `stop.json` stores it tagged by `kind`
/// (`{"kind": "reached_steps", "steps": 4000}`) beside the sentence [`fmt::Display`] gives
/// (`message`). A `stop.json` from before (the reason as a sentence) still loads: its sentence
/// is read back into the same variants ([`StopReason::from_sentence`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// The run did all its planned steps.
    ReachedSteps { steps: u64 },
    /// Early stopping: the eval metric (`loss` or `accuracy`) reached its target.
    TargetReached { metric: String, value: f64, target: f64 },
    /// Early stopping: the eval metric did not improve by more than `min_delta` for
    /// `evaluations` evaluations.
    NoImprovement { metric: String, min_delta: f64, evaluations: u64, best: f64, best_step: u64 },
    /// Stopped by Ctrl-C or a [`crate::Cancel`], after writing a checkpoint to resume from.
    Interrupted,
    /// The training loss became NaN or infinite at `step` (`loss` as written: `NaN`, `inf`).
    NonFinite { step: u64, loss: String },
    /// A sentence of an older `stop.json` that is none of the above.
    Sentence { text: String },
}

impl StopReason {
    pub fn is_early_stop(&self) -> bool {
        match self {
            StopReason::TargetReached { .. } | StopReason::NoImprovement { .. } => true,
            StopReason::Sentence { text } => text.starts_with("early stopping"),
            _ => false,
        }
    }

    pub fn is_interrupted(&self) -> bool {
        matches!(self, StopReason::Interrupted)
    }

    /// The reason an older `stop.json`'s sentence (this type's [`fmt::Display`]) names.
    pub fn from_sentence(s: &str) -> StopReason {
        let num = |x: &str| x.trim().trim_end_matches(')').parse::<f64>().ok();
        if let Some(n) = s.strip_prefix("reached --steps ").and_then(|n| n.parse().ok()) {
            return StopReason::ReachedSteps { steps: n };
        }
        if s.starts_with("interrupted") {
            return StopReason::Interrupted;
        }
        // "early stopping: eval {metric} {value} reached the target {target}"
        if let Some(rest) = s.strip_prefix("early stopping: eval ") {
            if let Some((head, target)) = rest.split_once(" reached the target ") {
                if let (Some((metric, value)), Some(target)) = (head.split_once(' '), num(target)) {
                    if let Some(value) = num(value) {
                        return StopReason::TargetReached { metric: metric.into(), value, target };
                    }
                }
            }
            // "early stopping: eval {metric} has not improved by more than {d} for {n}
            // evaluations (best {b} at step {s})"
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.len() == 16 && words[1..6] == ["has", "not", "improved", "by", "more"] {
                if let (Some(d), Ok(n), Some(b), Ok(st)) =
                    (num(words[7]), words[9].parse(), num(words[12]), words[15].trim_end_matches(')').parse())
                {
                    return StopReason::NoImprovement {
                        metric: words[0].into(),
                        min_delta: d,
                        evaluations: n,
                        best: b,
                        best_step: st,
                    };
                }
            }
        }
        // "the loss became {loss} at step {step}"
        if let Some((loss, step)) = s.strip_prefix("the loss became ").and_then(|r| r.split_once(" at step ")) {
            if let Ok(step) = step.trim().parse() {
                return StopReason::NonFinite { step, loss: loss.into() };
            }
        }
        StopReason::Sentence { text: s.into() }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::ReachedSteps { steps } => write!(f, "reached --steps {steps}"),
            StopReason::TargetReached { metric, value, target } => {
                write!(f, "early stopping: eval {metric} {value:.5} reached the target {target}")
            }
            StopReason::NoImprovement { metric, min_delta, evaluations, best, best_step } => write!(
                f,
                "early stopping: eval {metric} has not improved by more than {min_delta} for {evaluations} evaluations (best {best:.5} at step {best_step})"
            ),
            StopReason::Interrupted => f.write_str("interrupted (Ctrl-C); resume with --resume"),
            StopReason::NonFinite { step, loss } => write!(f, "the loss became {loss} at step {step}"),
            StopReason::Sentence { text } => f.write_str(text),
        }
    }
}

/// A `reason` as either form: today's tagged data or an older file's sentence.
fn reason_either<'de, D: Deserializer<'de>>(d: D) -> Result<StopReason, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Data(StopReason),
        Sentence(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::Data(r) => r,
        Either::Sentence(s) => StopReason::from_sentence(&s),
    })
}

/// `stop.json`: why and where the run ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopInfo {
    #[serde(deserialize_with = "reason_either")]
    pub reason: StopReason,
    /// The reason as a sentence, for people reading the file (absent from older files).
    #[serde(default)]
    pub message: String,
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

    fn every() -> Vec<StopReason> {
        vec![
            StopReason::ReachedSteps { steps: 4000 },
            StopReason::TargetReached { metric: "loss".into(), value: 2.5, target: 2.5 },
            StopReason::NoImprovement {
                metric: "accuracy".into(),
                min_delta: 0.001,
                evaluations: 2,
                best: 0.25,
                best_step: 40,
            },
            StopReason::Interrupted,
            StopReason::NonFinite { step: 7, loss: "NaN".into() },
            StopReason::Sentence { text: "something a later version says".into() },
        ]
    }

    #[test]
    fn reasons_are_stored_as_data_and_read_back() {
        for r in every() {
            let json = serde_json::to_value(&r).unwrap();
            assert!(json["kind"].is_string(), "{json}");
            assert_eq!(serde_json::from_value::<StopReason>(json).unwrap(), r);
        }
        let j = serde_json::to_value(StopReason::ReachedSteps { steps: 200 }).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "reached_steps", "steps": 200}));
    }

    /// A `stop.json` written before this change (the reason as its sentence) still loads, into
    /// the same variants.
    #[test]
    fn an_older_stop_json_with_a_sentence_still_loads() {
        for r in every() {
            let old = serde_json::json!({
                "reason": r.to_string(), "step": 40, "best_checkpoint": "ckpt-00000040",
                "best_step": 40, "best_metric": "loss", "best_value": 2.5, "last_eval": null
            });
            let info: StopInfo = serde_json::from_value(old).unwrap();
            assert_eq!(info.reason, r, "{r}");
            assert_eq!(info.message, "");
        }
        // As that code wrote them, word for word.
        let s = "early stopping: eval loss has not improved by more than 0 for 2 evaluations (best 3.12345 at step 20)";
        assert!(matches!(
            StopReason::from_sentence(s),
            StopReason::NoImprovement { evaluations: 2, best_step: 20, .. }
        ));
        assert!(StopReason::from_sentence(s).is_early_stop());
        assert!(StopReason::from_sentence("interrupted (Ctrl-C); resume with --resume").is_interrupted());
    }
}
