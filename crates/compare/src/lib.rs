//! `cadenza compare`: the seed project's research question, answered with numbers.
//!
//! Two models start from the same weights, see the same data in the same order with the same
//! seed for the same number of steps; the *modified* one adds the differentiable rhythm and
//! harmony losses (`cadenza_train::losses`). Both are then scored on the eval split (NLL,
//! accuracy, time-shift error, harmony cost), sample the same number of pieces from the same
//! seeds, and their samples are measured (`cadenza_evaluate`) against the eval split's own
//! music. Everything lands in one folder:
//!
//! With `seeds` = K, each arm is trained K times (training seeds `seed`, `seed+1`, …: seed k
//! gives both arms the same initial weights, data order and dropout stream), every run samples
//! the same `samples` seeds, and the verdict on each metric is the difference modified −
//! original with a paired bootstrap 95 % interval over seeds × samples ([`stats`]).
//!
//! ```text
//! OUT/comparison.json                      numbers, intervals and verdicts ([`ComparisonReport`])
//! OUT/report.html                          self-contained report: verdict, curves, rolls, players
//! OUT/{original,modified}/seed_K/run/      training runs (resumable; finished ones are reused)
//! OUT/{original,modified}/seed_K/samples/  sample_NN.{mid,png,wav,musicxml}
//! OUT/base/samples/                        the initial model's samples (when there is one)
//! OUT/reference/                           eval pieces, rendered the same way
//! ```
#![forbid(unsafe_code)]

pub mod demo;
mod error;
mod evaluate;
mod event;
mod judging;
mod pool;
mod render;
mod report;
mod rule;
mod runs;
mod stats;
mod summary;
mod table;

use crate::error::{bail, Ctx, Result};
use cadenza_dataset::Dataset;
use cadenza_generate::NoteEvents;
use cadenza_model::Weights;
use cadenza_train::Recipe;
use evaluate::{arm_summary, ArmRuns, Reference};
use serde::{Deserialize, Serialize};
use stats::{compare_metric, MetricVerdict};
use std::fmt;
use std::path::PathBuf;
use summary::{verdict_metrics, ComparisonJudge, ModelSummary};

pub use demo::{run_demo, DemoEvent, DemoOptions};
pub use error::CompareError;
pub use event::CompareEvent;
pub use pool::{pool, pool_to, pooled_table, PooledComparison};
pub use summary::ComparisonReport;
pub use table::summary_table;

/// What to compare and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareOptions {
    pub dataset: PathBuf,
    /// Both models start here (`.mag` or model folder); `None`: from scratch with `layers`.
    pub init: Option<PathBuf>,
    pub layers: Vec<usize>,
    /// Take these trained models instead of training (either or both; then one seed).
    pub original_model: Option<PathBuf>,
    /// Take the original arm's runs from this earlier comparison's folder (its
    /// `original/seed_K/`; trained there when missing), so several recipes face the very same
    /// original models.
    #[serde(default)]
    pub original_from: Option<PathBuf>,
    pub modified_model: Option<PathBuf>,
    pub steps: u64,
    /// Magenta-style overrides for both runs, e.g. `batch_size=16,learning_rate=0.002`.
    pub hparams: String,
    /// The modified model's losses (in JSON, its four fields `rhythm_loss`, `harmony_loss`,
    /// `rhythm_cost`, `harmony_cost` beside the other options).
    #[serde(flatten)]
    pub recipe: Recipe,
    pub eval_every: u64,
    /// Evaluate on at most this many eval examples (all when `None`).
    pub eval_examples: Option<usize>,
    /// Training seed of the first run of each arm; run k uses `seed + k`.
    pub seed: u64,
    /// Independent training runs per arm.
    #[serde(default = "default_seeds")]
    pub seeds: usize,
    /// Samples per trained model (and of the base).
    pub samples: usize,
    /// 10 ms steps per sample.
    pub num_steps: u32,
    pub temperature: f64,
    /// Seed of sample 1 (sample i uses `sample_seed + i − 1`), the same for every model.
    pub sample_seed: u64,
    /// Which note events every model may sample (the same for all of them).
    #[serde(default)]
    pub note_events: NoteEvents,
    /// A SoundFont for WAV players; `None`: the system's General MIDI font if installed, else
    /// the built-in piano-like one.
    pub soundfont: Option<PathBuf>,
    pub wav: bool,
    pub out: PathBuf,
    pub progress: bool,
    /// Where both models train (`auto`: a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU).
    #[serde(default)]
    pub device: cadenza_train::DeviceChoice,
    /// Set it to stop training at the next step, with a checkpoint (the binary's Ctrl-C); a
    /// rerun resumes.
    #[serde(skip)]
    pub cancel: cadenza_train::Cancel,
    /// Hears each training run's events (its device, resumes, damaged checkpoints, early stops).
    #[serde(skip)]
    pub train_events: cadenza_train::OnEvent,
    /// The realism recipe's hyper-parameters and policy steps (used when the recipe is
    /// `realism`: the modified arm is then each seed's original trained on its own samples).
    #[serde(default)]
    pub realism_hparams: cadenza_realism::RealismHParams,
    #[serde(default = "default_realism_steps")]
    pub realism_steps: u64,
    /// The modified arm samples with note-end decoding ([`cadenza_generate::Decoding`]) fitted
    /// on the train split, mixed in at this weight (`OUT/decoding.json`). With the recipe
    /// `none` the modified arm is the original models decoded.
    #[serde(default)]
    pub decoding: Option<f64>,
    /// Take the modified arm's trained runs from this earlier comparison's folder (its
    /// `modified/seed_K/run`; trained there when missing); samples land in this one's.
    #[serde(default)]
    pub modified_from: Option<PathBuf>,
}

fn default_realism_steps() -> u64 {
    50
}

/// The modified model's recipe when none is given: the project's (grid rhythm × 0.1 + key
/// harmony × 1; `docs/study/` tells how it was chosen). The seed project's stays one flag away
/// (`--recipe seed`).
const DEFAULT_RECIPE: Recipe = Recipe::GRID_KEY;

fn default_seeds() -> usize {
    1
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            dataset: PathBuf::new(),
            init: None,
            layers: vec![512, 512, 512],
            original_model: None,
            original_from: None,
            modified_model: None,
            steps: 1000,
            hparams: String::new(),
            recipe: DEFAULT_RECIPE,
            eval_every: 100,
            eval_examples: None,
            seed: 0,
            seeds: 3,
            samples: 16,
            num_steps: 3000,
            temperature: 1.0,
            sample_seed: 1,
            // Only well-formed NOTE_ON/NOTE_OFF events, so the music metrics measure the models'
            // choices of notes and times rather than notes left hanging by unmatched NOTE_OFFs
            // (a small model's polyphony halves; see `NoteEvents`).
            note_events: NoteEvents::Paired,
            soundfont: None,
            wav: true,
            out: PathBuf::new(),
            progress: false,
            device: cadenza_train::DeviceChoice::Auto,
            cancel: Default::default(),
            train_events: Default::default(),
            realism_hparams: Default::default(),
            realism_steps: default_realism_steps(),
            decoding: None,
            modified_from: None,
        }
    }
}

impl CompareOptions {
    /// Whether a trained model was given for either arm (then there is one seed and no base).
    fn given_models(&self) -> bool {
        self.original_model.is_some() || self.modified_model.is_some()
    }

    /// The training seed of each run of an arm.
    fn training_seeds(&self) -> Vec<u64> {
        if self.given_models() {
            vec![self.seed]
        } else {
            (0..self.seeds as u64).map(|k| self.seed + k).collect()
        }
    }
}

/// One arm of the comparison: the initial model, and the two fine-tunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// The initial model, not fine-tuned.
    Base,
    /// Fine-tuned with cross-entropy alone.
    Original,
    /// Fine-tuned with the recipe's rhythm and harmony losses too.
    Modified,
}

impl Arm {
    /// The arm's name in `comparison.json`, the folders and the judge.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Base => "base",
            Arm::Original => "original",
            Arm::Modified => "modified",
        }
    }

    /// The losses the arm trains with.
    fn recipe(self, o: &CompareOptions) -> Recipe {
        match self {
            Arm::Base | Arm::Original => Recipe::NONE,
            Arm::Modified => o.recipe,
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs the whole comparison and writes `comparison.json` and `report.html`; `on_event`
/// hears what it is doing.
pub fn compare(o: &CompareOptions, on_event: &mut dyn FnMut(CompareEvent)) -> Result<ComparisonReport> {
    check_options(o)?;
    let ds = Dataset::open(&o.dataset)?;
    if ds.eval.is_empty() {
        bail!("{}: the eval split is empty; the comparison scores both models on it", o.dataset.display());
    }
    std::fs::create_dir_all(&o.out).ctx(|| format!("cannot create {}", o.out.display()))?;
    let _lock = cadenza_atomic::DirLock::acquire(&o.out, "comparison")
        .map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    // Fail before hours of training when audio was asked for and cannot be made.
    let players = render::players(o, on_event)?;
    let trained = runs::train_all(o, on_event)?;
    let decoding = decoding_of(o, &ds)?;
    on_event(CompareEvent::DecodingReference);
    let reference = Reference::of(o, &ds, players.soundfont.as_ref())?;
    let mut arms =
        evaluate::evaluate_arms(o, &ds, &trained, &reference, players.soundfont.as_ref(), decoding.as_ref(), on_event)?;
    // The judge sees every arm at once (one classifier, one scale), then the summaries.
    let init_weights = match &o.init {
        Some(p) => Some(Weights::load(p).ctx(|| format!("cannot load {}", p.display()))?),
        None => None,
    };
    let judge = judging::run_judge(o, &mut arms, init_weights.as_ref(), on_event);
    let first_model = &trained[0].original.model;
    let weights = Weights::load(first_model).ctx(|| format!("cannot load {}", first_model.display()))?;
    let report = assemble(o, &ds, &weights, reference, arms, judge, players.audio);
    write_report(o, &report)?;
    Ok(report)
}

/// The modified arm's decoding: note endings counted on the train split, written to
/// `OUT/decoding.json`.
fn decoding_of(o: &CompareOptions, ds: &Dataset) -> Result<Option<cadenza_generate::Decoding>> {
    let Some(weight) = o.decoding else { return Ok(None) };
    let source = format!("{} (train split, as played)", o.dataset.display());
    let ends = cadenza_generate::NoteEnds::fit(ds.manifest.config, ds.train_as_played(), &source)
        .map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    ends.save(&o.out.join("decoding.json")).map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    let d =
        cadenza_generate::Decoding::new(ends, weight).map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    Ok(Some(d))
}

/// Refuses options that cannot make a comparison.
fn check_options(o: &CompareOptions) -> Result<()> {
    if o.samples == 0 || o.num_steps == 0 {
        bail!("the comparison needs at least one sample of at least one step");
    }
    if o.seeds == 0 {
        bail!("the comparison needs at least one training seed per model");
    }
    if !o.recipe.any() && !o.recipe.realism && o.decoding.is_none() {
        bail!("the modified model needs a rhythm or a harmony loss weight above 0, the realism recipe or a decoding (else it is the original)");
    }
    if let Some(w) = o.decoding {
        cadenza_generate::Decoding::check_weight(w).map_err(|e| crate::error::CompareError::Setup(e.to_string()))?;
    }
    Ok(())
}

/// The report from the evaluated arms: each arm's means, the verdict on every metric, the
/// likelihood's price and the rule's headline.
fn assemble(
    o: &CompareOptions,
    ds: &Dataset,
    weights: &Weights,
    reference: Reference,
    arms: Vec<ArmRuns>,
    judge: Option<ComparisonJudge>,
    audio: Option<String>,
) -> ComparisonReport {
    let mut base = None;
    let (mut original, mut modified) = (None, None);
    for a in arms {
        let summary = arm_summary(a.arm, a.arm.recipe(o), a.runs, &reference.evaluation);
        match a.arm {
            Arm::Base => base = Some(summary),
            Arm::Original => original = Some(summary),
            Arm::Modified => modified = Some(summary),
        }
    }
    let (original, modified): (ModelSummary, ModelSummary) =
        (original.expect("an original arm"), modified.expect("a modified arm"));
    let verdicts: Vec<MetricVerdict> = verdict_metrics(&reference.metrics)
        .into_iter()
        .filter_map(|(m, g)| compare_metric(&m, g, &original.values(&m), &modified.values(&m)))
        .collect();
    let eval_nll_relative_cost = (modified.eval_nll - original.eval_nll) / original.eval_nll;
    let headline = rule::headline(
        &verdicts,
        judge.as_ref().and_then(|j| j.arms.delta_auc.as_ref()),
        Some(eval_nll_relative_cost),
        &judge.as_ref().map(|j| j.arms.options.exclude_features.clone()).unwrap_or_default(),
    );
    ComparisonReport {
        options: o.clone(),
        dataset_fingerprint: ds.manifest.fingerprint.clone(),
        config: weights.config.config.key().to_string(),
        layers: weights.config.layers.clone(),
        reference: reference.summary(),
        eval_nll_relative_cost,
        base,
        original,
        modified,
        verdicts,
        audio,
        judge,
        headline: Some(headline),
    }
}

/// Writes `comparison.json` and `report.html` into the output folder.
fn write_report(o: &CompareOptions, report: &ComparisonReport) -> Result<()> {
    let path = o.out.join("comparison.json");
    cadenza_atomic::write_json(&path, report).ctx(|| format!("cannot write {}", path.display()))?;
    let html = report::html(report, &o.out)?;
    let path = o.out.join("report.html");
    cadenza_atomic::write_atomic(&path, html.as_bytes()).ctx(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
