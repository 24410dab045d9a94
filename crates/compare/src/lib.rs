//! `cadenza compare`: the seed project's research question, answered with numbers.
//!
//! Two models start from the same weights, see the same data in the same order with the same
//! seed for the same number of steps; the *modified* one adds the differentiable rhythm and
//! harmony losses (`cadenza_train::losses`). Both are then scored on the eval split (NLL,
//! accuracy, time-shift error, harmony cost), sample the same number of pieces from the same
//! seeds, and their samples are measured (`cadenza_evaluate`) against the eval split's own
//! music. Everything lands in one folder:
//!
//! ```text
//! OUT/comparison.json            numbers for both models (see [`ModelSummary`])
//! OUT/report.html                self-contained report: curves, table, piano rolls, players
//! OUT/{original,modified}/run/   training runs (resumable; re-running reuses finished ones)
//! OUT/{original,modified}/samples/sample_NN.{mid,png,wav,musicxml}
//! ```

pub mod cli;
pub mod demo;
pub mod report;

use anyhow::{bail, Context, Result};
use cadenza_dataset::Dataset;
use cadenza_evaluate::{compare_to_reference, decode_store, evaluate_sequences, Comparison, Evaluation, Split, FEATURES};
use cadenza_generate::GenerateOptions;
use cadenza_model::Weights;
use cadenza_render::{AudioOptions, RollOptions, ScoreOptions};
use cadenza_train::{evaluate_report, EvalReport, PerformanceRnn, TrainOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use cli::{run, CompareArgs};
pub use demo::{run_demo, DemoArgs};

/// What to compare and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareOptions {
    pub dataset: PathBuf,
    /// Both models start here (`.mag` or model folder); `None`: from scratch with `layers`.
    pub init: Option<PathBuf>,
    pub layers: Vec<usize>,
    /// Take these trained models instead of training (either or both).
    pub original_model: Option<PathBuf>,
    pub modified_model: Option<PathBuf>,
    pub steps: u64,
    /// Magenta-style overrides for both runs, e.g. `batch_size=16,learning_rate=0.002`.
    pub hparams: String,
    pub rhythm_loss: f64,
    pub harmony_loss: f64,
    pub eval_every: u64,
    /// Evaluate on at most this many eval examples (all when `None`).
    pub eval_examples: Option<usize>,
    pub seed: u64,
    pub samples: usize,
    /// 10 ms steps per sample.
    pub num_steps: u32,
    pub temperature: f64,
    /// Seed of sample 1 (sample i uses `sample_seed + i − 1`), the same for both models.
    pub sample_seed: u64,
    /// A SoundFont for WAV players; `None`: the system's General MIDI font if installed.
    pub soundfont: Option<PathBuf>,
    pub wav: bool,
    pub out: PathBuf,
    pub progress: bool,
    /// Where both models train (`auto`: a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU).
    #[serde(default)]
    pub device: cadenza_train::DeviceChoice,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            dataset: PathBuf::new(),
            init: None,
            layers: vec![512, 512, 512],
            original_model: None,
            modified_model: None,
            steps: 1000,
            hparams: String::new(),
            rhythm_loss: 0.5,
            harmony_loss: 0.25,
            eval_every: 100,
            eval_examples: None,
            seed: 0,
            samples: 4,
            num_steps: 3000,
            temperature: 1.0,
            sample_seed: 1,
            soundfont: None,
            wav: true,
            out: PathBuf::new(),
            progress: false,
            device: cadenza_train::DeviceChoice::Auto,
        }
    }
}

/// One generated sample as the report lists it (paths relative to the output folder).
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

/// One model's numbers: `comparison.json`'s `original` and `modified` objects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelSummary {
    /// Where the weights came from (a run's best checkpoint or a given model).
    pub model: String,
    pub rhythm_loss: f64,
    pub harmony_loss: f64,
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
    /// The mean over the samples of every `cadenza evaluate` feature, by name.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, Option<f64>>,
    /// Yang & Lerch overlapping area of each feature's distribution with the eval split's
    /// (1 = indistinguishable from the reference music), and its mean.
    pub overlap_area: BTreeMap<String, Option<f64>>,
    pub mean_overlap_area: Option<f64>,
    pub samples: Vec<SampleFiles>,
    /// Full metrics: per sample, and the comparison with the reference.
    pub evaluation: Evaluation,
    pub reference_comparison: Comparison,
}

/// `comparison.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComparisonReport {
    pub options: CompareOptions,
    pub dataset_fingerprint: String,
    pub config: String,
    pub layers: Vec<usize>,
    pub reference: ReferenceSummary,
    pub original: ModelSummary,
    pub modified: ModelSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceSummary {
    pub split: String,
    pub sequences: usize,
    /// The mean of every feature over the reference music.
    pub metrics: BTreeMap<String, Option<f64>>,
}

/// Trains (or resumes, or reuses) one run and returns its best model folder.
fn train_variant(o: &CompareOptions, name: &str, rhythm: f64, harmony: f64) -> Result<(PathBuf, Option<u64>)> {
    let run_dir = o.out.join(name).join("run");
    let stop: Option<cadenza_train::StopInfo> = std::fs::read(run_dir.join("stop.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let best = run_dir.join("best");
    if let Some(s) = &stop {
        let early = s.reason.starts_with("early stopping");
        if (s.step >= o.steps || early) && best.join("model.json").is_file() {
            eprintln!("{name}: reusing the finished run in {} (step {})", run_dir.display(), s.step);
            return Ok((best, Some(s.step)));
        }
    }
    let resume = run_dir.join("checkpoint.json").is_file();
    let mut patch = o.hparams.clone();
    if !patch.is_empty() {
        patch.push(',');
    }
    patch.push_str(&format!("rhythm_loss={rhythm},harmony_loss={harmony}"));
    let topts = TrainOptions {
        dataset: o.dataset.clone(),
        run_dir: run_dir.clone(),
        init: o.init.clone(),
        layers: o.layers.clone(),
        patch,
        steps: o.steps,
        eval_every: o.eval_every,
        summary_every: (o.eval_every / 5).max(1),
        checkpoint_every: o.eval_every,
        eval_examples: o.eval_examples,
        seed: o.seed,
        resume,
        progress: o.progress,
        device: o.device,
        ..Default::default()
    };
    eprintln!("{name}: training {} steps (rhythm loss {rhythm}, harmony loss {harmony}){}", o.steps, if resume { ", resuming" } else { "" });
    let info = cadenza_train::train(&topts).with_context(|| format!("training the {name} model in {}", run_dir.display()))?;
    if info.reason.starts_with("interrupted") {
        bail!("{name}: training interrupted at step {}; run the same command again to resume", info.step);
    }
    if !best.join("model.json").is_file() {
        bail!("{name}: the run has no best checkpoint (is the dataset's eval split empty?)");
    }
    Ok((best, Some(info.step)))
}

fn means(e: &Evaluation) -> BTreeMap<String, Option<f64>> {
    FEATURES.iter().map(|f| (f.to_string(), e.summary(f).and_then(|s| s.mean))).collect()
}

fn rel(out: &Path, p: &Path) -> String {
    p.strip_prefix(out).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

#[allow(clippy::too_many_arguments)]
fn summarise(o: &CompareOptions, name: &str, model: &Path, steps: Option<u64>, rhythm: f64, harmony: f64, ds: &Dataset, reference: &Evaluation, soundfont: Option<&std::sync::Arc<cadenza_render::SoundFont>>) -> Result<ModelSummary> {
    let weights = Weights::load(model).with_context(|| format!("cannot load {}", model.display()))?;
    if weights.config.config != ds.manifest.config && weights.config.config.generator_id() != ds.manifest.config.generator_id() {
        bail!("{}: a {} model cannot be evaluated on a {} dataset", model.display(), weights.config.config, ds.manifest.config);
    }
    eprintln!("{name}: evaluating on the eval split");
    let net = PerformanceRnn::from_weights(&weights, &burn::tensor::Device::flex());
    let ev: EvalReport = evaluate_report(&net, &weights.config, &ds.eval, 32, o.eval_examples);

    eprintln!("{name}: generating {} samples of {} steps", o.samples, o.num_steps);
    let gopts = GenerateOptions { num_steps: o.num_steps, num_outputs: o.samples, temperature: o.temperature, seed: o.sample_seed, ..Default::default() };
    let samples = cadenza_generate::generate(&weights, &gopts, o.progress).map_err(|e| anyhow::anyhow!("{name}: generation failed: {e}"))?;
    let dir = o.out.join(name).join("samples");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let stem = dir.join(format!("sample_{:02}", i + 1));
        let midi = stem.with_extension("mid");
        cadenza_midi::write_file(&s.sequence, &midi)?;
        let png = stem.with_extension("png");
        cadenza_render::write_piano_roll(&s.sequence, &png, &RollOptions::default())?;
        let xml = stem.with_extension("musicxml");
        cadenza_render::write_musicxml(&s.sequence, &xml, &ScoreOptions { qpm: None, title: Some(format!("Cadenza {name} sample {} (seed {})", i + 1, s.seed)) })?;
        let wav = match soundfont {
            Some(sf) => {
                let w = stem.with_extension("wav");
                cadenza_render::write_wav(&s.sequence, sf, &w, &AudioOptions::default())?;
                Some(rel(&o.out, &w))
            }
            None => None,
        };
        files.push(SampleFiles { seed: s.seed, midi: rel(&o.out, &midi), png: rel(&o.out, &png), wav, musicxml: rel(&o.out, &xml), num_notes: s.sequence.notes.len(), log_likelihood: s.log_likelihood });
    }
    let seqs: Vec<_> = samples.into_iter().map(|s| s.sequence).collect();
    let evaluation = evaluate_sequences(&seqs);
    let cmp = compare_to_reference(&evaluation, reference);
    let overlap_area = cmp.features.iter().map(|f| (f.feature.clone(), f.distribution.as_ref().map(|d| d.overlap_area))).collect();
    Ok(ModelSummary {
        model: model.display().to_string(),
        rhythm_loss: rhythm,
        harmony_loss: harmony,
        steps,
        eval_nll: ev.metrics.loss,
        eval_perplexity: ev.metrics.perplexity,
        eval_accuracy: ev.metrics.accuracy,
        eval_event_accuracy: ev.metrics.event_accuracy,
        eval_shift_error: ev.shift_error.expected,
        eval_shift_error_argmax: ev.shift_error.argmax,
        eval_harmony_cost: ev.harmony_cost,
        metrics: means(&evaluation),
        mean_overlap_area: cmp.mean_overlap_area,
        overlap_area,
        samples: files,
        evaluation,
        reference_comparison: cmp,
    })
}

/// Runs the whole comparison and writes `comparison.json` and `report.html`.
pub fn compare(o: &CompareOptions) -> Result<ComparisonReport> {
    if o.samples == 0 || o.num_steps == 0 {
        bail!("--samples and --num-steps must be at least 1");
    }
    if o.rhythm_loss <= 0.0 && o.harmony_loss <= 0.0 {
        bail!("the modified model needs --rhythm-loss or --harmony-loss above 0 (else it is the original)");
    }
    let ds = Dataset::open(&o.dataset).map_err(|e| anyhow::anyhow!("{e}"))?;
    if ds.eval.is_empty() {
        bail!("{}: the eval split is empty; the comparison scores both models on it", o.dataset.display());
    }
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    // Fail before hours of training when audio was asked for and cannot be made.
    let soundfont = if o.wav {
        let path = match &o.soundfont {
            Some(p) => Some(p.clone()),
            None => cadenza_render::default_soundfont().ok(),
        };
        match path {
            Some(p) => Some(cadenza_render::load_soundfont(&p)?),
            None => {
                eprintln!("note: no SoundFont found, the report will have no audio players (apt-get install fluid-soundfont-gm, or pass --soundfont)");
                None
            }
        }
    } else {
        None
    };

    let (orig_model, orig_steps) = match &o.original_model {
        Some(p) => (p.clone(), None),
        None => train_variant(o, "original", 0.0, 0.0)?,
    };
    let (mod_model, mod_steps) = match &o.modified_model {
        Some(p) => (p.clone(), None),
        None => train_variant(o, "modified", o.rhythm_loss, o.harmony_loss)?,
    };

    eprintln!("reference: decoding the eval split");
    let ref_seqs = decode_store(ds.manifest.config, &ds.eval, Split::Eval);
    let reference = evaluate_sequences(&ref_seqs);
    let original = summarise(o, "original", &orig_model, orig_steps, 0.0, 0.0, &ds, &reference, soundfont.as_ref())?;
    let modified = summarise(o, "modified", &mod_model, mod_steps, o.rhythm_loss, o.harmony_loss, &ds, &reference, soundfont.as_ref())?;
    let w = Weights::load(&orig_model)?;
    let report = ComparisonReport {
        options: o.clone(),
        dataset_fingerprint: ds.manifest.fingerprint.clone(),
        config: w.config.config.key().to_string(),
        layers: w.config.layers.clone(),
        reference: ReferenceSummary { split: "eval".into(), sequences: ref_seqs.len(), metrics: means(&reference) },
        original,
        modified,
    };
    let json = serde_json::to_vec_pretty(&report)?;
    cadenza_render::write_atomic(&o.out.join("comparison.json"), &json)?;
    let html = report::html(&report, &o.out)?;
    cadenza_render::write_atomic(&o.out.join("report.html"), html.as_bytes())?;
    Ok(report)
}
