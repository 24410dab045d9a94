//! `comparison.json`'s types: each sample's files, each run's and each arm's numbers, the
//! judge's part, the reference, and the rows of the verdict.

use crate::rule;
use crate::stats::Goal;
use crate::stats::MetricVerdict;
use crate::CompareOptions;
use cadenza_evaluate::{Comparison, Evaluation, FEATURES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One generated sample (or rendered eval piece) as the report lists it (paths relative to
/// the output folder).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleFiles {
    pub seed: u64,
    pub midi: String,
    pub png: String,
    pub wav: Option<String>,
    pub musicxml: String,
    pub num_notes: usize,
    pub log_likelihood: f64,
}

/// Per-sample metrics measured against the reference beyond [`FEATURES`].
pub const REFERENCE_METRICS: [&str; 4] =
    ["pitch_class_overlap", "ioi_overlap", "rhythm_ratio_overlap", rule::JUDGE_METRIC];

/// One trained (or given) model: its eval numbers and samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Training seed (`None` for a model that was given or is the base).
    pub seed: Option<u64>,
    /// Where the weights came from (a run's best checkpoint or a given model).
    pub model: String,
    pub steps: Option<u64>,
    /// Mean cross-entropy per event on the eval split (nats).
    pub eval_nll: f64,
    pub eval_perplexity: f64,
    pub eval_accuracy: f64,
    pub eval_event_accuracy: f64,
    /// Mean |predicted − true| time shift on the eval split, 10 ms steps (expected under the
    /// shift softmax, and of its argmax).
    pub eval_shift_error: f64,
    pub eval_shift_error_argmax: f64,
    /// Mean expected harmony cost of the next note on the eval split (0..1, lower = more in
    /// key and more consonant with what sounds).
    pub eval_harmony_cost: Option<f64>,
    pub samples: Vec<SampleFiles>,
    /// Every metric's value per sample, by name ([`FEATURES`] and [`REFERENCE_METRICS`]).
    pub sample_values: BTreeMap<String, Vec<Option<f64>>>,
    /// Full metrics per sample.
    pub evaluation: Evaluation,
    /// The samples themselves, for the judge (not saved: they are the MIDI files).
    #[serde(skip)]
    pub sequences: Vec<cadenza_notes::NoteSequence>,
}

/// One arm (base, original or modified): `comparison.json`'s `base`, `original` and
/// `modified` objects. The top-level numbers are means over the arm's runs and samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSummary {
    pub name: String,
    pub rhythm_loss: f64,
    pub harmony_loss: f64,
    pub eval_nll: f64,
    pub eval_accuracy: f64,
    pub eval_shift_error: f64,
    pub eval_harmony_cost: Option<f64>,
    /// The mean over every run's samples of every metric, by name.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Yang & Lerch overlapping area of each feature's distribution (all runs' samples pooled)
    /// with the eval split's (1 = indistinguishable from the reference music), and its mean.
    pub overlap_area: BTreeMap<String, Option<f64>>,
    pub mean_overlap_area: Option<f64>,
    pub runs: Vec<RunSummary>,
    pub reference_comparison: Comparison,
}

impl ModelSummary {
    /// The arm's mean of one metric: the eval numbers over runs, the music's over samples.
    pub fn mean(&self, metric: &str) -> Option<f64> {
        match metric {
            "eval_nll" => Some(self.eval_nll),
            "eval_accuracy" => Some(self.eval_accuracy),
            "eval_shift_error" => Some(self.eval_shift_error),
            "eval_harmony_cost" => self.eval_harmony_cost,
            m => self.metrics.get(m).copied().flatten(),
        }
    }

    /// Values of one metric as `[run][sample]` (per-model numbers: one value per run).
    pub fn values(&self, metric: &str) -> Vec<Vec<Option<f64>>> {
        self.runs
            .iter()
            .map(|r| match metric {
                "eval_nll" => vec![Some(r.eval_nll)],
                "eval_accuracy" => vec![Some(r.eval_accuracy)],
                "eval_shift_error" => vec![Some(r.eval_shift_error)],
                "eval_harmony_cost" => vec![r.eval_harmony_cost],
                m => r.sample_values.get(m).cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// `comparison.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonReport {
    pub options: CompareOptions,
    pub dataset_fingerprint: String,
    pub config: String,
    pub layers: Vec<usize>,
    pub reference: ReferenceSummary,
    /// The initial model, not fine-tuned (when both arms start from one).
    pub base: Option<ModelSummary>,
    pub original: ModelSummary,
    pub modified: ModelSummary,
    /// Every metric: modified − original with its bootstrap interval and the verdict.
    pub verdicts: Vec<MetricVerdict>,
    /// (modified − original) ÷ original eval NLL: the modified model's price in likelihood.
    pub eval_nll_relative_cost: f64,
    /// The synthesiser of the WAV players.
    pub audio: Option<String>,
    /// The untargeted judge: how well a classifier tells each arm's samples from the eval
    /// pieces, with its anchors (`None` when it could not run, or the file has no `judge`).
    #[serde(default)]
    pub judge: Option<ComparisonJudge>,
    /// The verdict rule's outcome ([`rule`]): the report's first sentence.
    #[serde(default)]
    pub headline: Option<rule::Headline>,
}

/// An anchor of the judge's scale: its AUC for a pair of sets whose answer is known.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JudgeAnchor {
    pub name: String,
    pub auc: f64,
    pub interval: [f64; 2],
}

/// The judge's part of a comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonJudge {
    /// Base (when there is one), original and modified against the eval pieces' files.
    pub arms: cadenza_judge::arms::ArmsJudgement,
    /// Floor: the real music's pieces in two halves, one against the other.
    pub floor: Option<JudgeAnchor>,
    /// Ceiling: the initial model sampled at temperature 1.5 against the eval pieces.
    pub ceiling: Option<JudgeAnchor>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
    /// Each arm's drift over its samples' time against the eval pieces (`cadenza drift`).
    #[serde(default)]
    pub drift: Vec<(String, cadenza_judge::drift::DriftReport)>,
}

/// The eval split as the report describes it: the reference of every music metric.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceSummary {
    pub split: String,
    pub sequences: usize,
    /// The mean of every metric over the reference music.
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Mean key-relative pitch-class histogram and IOI histogram of the reference: what
    /// `pitch_class_overlap` and `ioi_overlap` intersect each sample's with.
    pub key_relative_pc_histogram: Option<Vec<f64>>,
    pub ioi_histogram: Option<Vec<f64>>,
    /// Mean interval-ratio histogram of the reference (`rhythm_ratio_overlap`'s), a rhythm
    /// measure that does not depend on the tempo.
    #[serde(default)]
    pub rhythm_ratio_histogram: Option<Vec<f64>>,
    /// A few eval sequences rendered like the samples.
    pub pieces: Vec<SampleFiles>,
}

/// The metrics of the verdict, in table order, with which way is better. Music features are
/// better when closer to the reference's mean; the two overlaps, when higher.
pub fn verdict_metrics(reference: &BTreeMap<String, Option<f64>>) -> Vec<(String, Goal)> {
    let mut v: Vec<(String, Goal)> = vec![
        ("eval_nll".into(), Goal::Lower),
        ("eval_accuracy".into(), Goal::Higher),
        ("eval_shift_error".into(), Goal::Lower),
        ("eval_harmony_cost".into(), Goal::Lower),
        ("pitch_class_overlap".into(), Goal::Higher),
        ("ioi_overlap".into(), Goal::Higher),
        ("rhythm_ratio_overlap".into(), Goal::Higher),
        // The untargeted judge's per-sample held-out log-odds of "generated": lower = more
        // like the real music.
        (rule::JUDGE_METRIC.into(), Goal::Lower),
    ];
    for f in FEATURES {
        if let Some(Some(r)) = reference.get(f) {
            v.push((f.to_string(), Goal::Toward(*r)));
        }
    }
    v
}
