//! Evaluating and sampling each model: its numbers on the eval split, its samples rendered and
//! measured against the reference music (the eval split's own), and each arm's means.

use crate::error::{bail, Ctx, Result};
use crate::event::{CompareEvent, RunLabel};
use crate::render::{render_all, ToRender};
use crate::runs::{samples_folder, SeedRuns, TrainedModel};
use crate::summary::{ModelSummary, ReferenceSummary, RunSummary, SampleFiles, REFERENCE_METRICS};
use crate::{Arm, CompareOptions};
use cadenza_dataset::Dataset;
use cadenza_evaluate::{
    compare_to_reference, decode_store, evaluate_sequences, histogram_overlap, mean_histogram, Evaluation, Split,
    FEATURES,
};
use cadenza_generate::GenerateOptions;
use cadenza_model::Weights;
use cadenza_render::SoundFont;
use cadenza_train::{evaluate_report, EvalReport, PerformanceRnn, Recipe};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The reference's mean histograms, against which each sample's are intersected.
struct ReferenceHistograms {
    pc: Option<Vec<f64>>,
    ioi: Option<Vec<f64>>,
    ratio: Option<Vec<f64>>,
}

impl ReferenceHistograms {
    fn of(reference: &Evaluation) -> Self {
        ReferenceHistograms {
            pc: mean_histogram(reference.samples.iter().map(|s| s.key_relative_pc_histogram.as_slice())),
            ioi: mean_histogram(reference.samples.iter().map(|s| s.ioi_histogram.as_slice())),
            ratio: mean_histogram(reference.samples.iter().map(|s| s.rhythm_ratio_histogram.as_slice())),
        }
    }

    /// Every metric of every sample, by name.
    fn sample_values(&self, e: &Evaluation) -> BTreeMap<String, Vec<Option<f64>>> {
        let mut m: BTreeMap<String, Vec<Option<f64>>> =
            FEATURES.iter().map(|f| (f.to_string(), e.samples.iter().map(|s| s.feature(f)).collect())).collect();
        let pc = e
            .samples
            .iter()
            .map(|s| self.pc.as_ref().and_then(|r| histogram_overlap(&s.key_relative_pc_histogram, r)))
            .collect();
        let ioi =
            e.samples.iter().map(|s| self.ioi.as_ref().and_then(|r| histogram_overlap(&s.ioi_histogram, r))).collect();
        m.insert("pitch_class_overlap".into(), pc);
        m.insert("ioi_overlap".into(), ioi);
        let ratio = e
            .samples
            .iter()
            .map(|s| self.ratio.as_ref().and_then(|r| histogram_overlap(&s.rhythm_ratio_histogram, r)))
            .collect();
        m.insert("rhythm_ratio_overlap".into(), ratio);
        m
    }
}

fn mean_of(vals: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = vals.flatten().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The reference music: the eval split decoded and measured, and two of its pieces rendered
/// like the samples.
pub(crate) struct Reference {
    sequences: usize,
    pub evaluation: Evaluation,
    histograms: ReferenceHistograms,
    /// The mean of every metric over the reference music.
    pub metrics: BTreeMap<String, Option<f64>>,
    pieces: Vec<SampleFiles>,
}

impl Reference {
    pub fn of(o: &CompareOptions, ds: &Dataset, soundfont: Option<&Arc<SoundFont>>) -> Result<Reference> {
        let ref_seqs = decode_store(ds.manifest.config, &ds.eval, Split::Eval);
        let evaluation = evaluate_sequences(&ref_seqs);
        let histograms = ReferenceHistograms::of(&evaluation);
        let metrics = histograms
            .sample_values(&evaluation)
            .iter()
            .map(|(k, v)| (k.clone(), mean_of(v.iter().copied())))
            .collect();
        // The longest eval sequences of distinct pieces, rendered like the samples.
        let mut order: Vec<usize> = (0..ref_seqs.len()).collect();
        order.sort_by(|&a, &b| ref_seqs[b].notes.len().cmp(&ref_seqs[a].notes.len()).then(a.cmp(&b)));
        let mut seen = std::collections::BTreeSet::new();
        let picked: Vec<ToRender> = order
            .into_iter()
            .filter(|&i| seen.insert(ds.eval.meta(i).source))
            .take(2)
            .map(|i| ToRender { seed: i as u64, log_likelihood: 0.0, sequence: &ref_seqs[i] })
            .collect();
        let pieces = render_all(&o.out, &o.out.join("reference"), "eval piece", &picked, soundfont)?;
        Ok(Reference { sequences: ref_seqs.len(), evaluation, histograms, metrics, pieces })
    }

    /// The reference as `comparison.json` describes it.
    pub fn summary(self) -> ReferenceSummary {
        ReferenceSummary {
            split: "eval".into(),
            sequences: self.sequences,
            metrics: self.metrics,
            key_relative_pc_histogram: self.histograms.pc,
            ioi_histogram: self.histograms.ioi,
            rhythm_ratio_histogram: self.histograms.ratio,
            pieces: self.pieces,
        }
    }
}

/// One arm's evaluated runs (one per training seed; the base has one).
pub(crate) struct ArmRuns {
    pub arm: Arm,
    pub runs: Vec<RunSummary>,
}

/// One model to evaluate and sample: which run it is, where its samples go, and its weights.
struct ModelRun<'a> {
    label: RunLabel,
    dir: PathBuf,
    trained: &'a TrainedModel,
    /// The note-end decoding its samples use, if any.
    decoding: Option<&'a cadenza_generate::Decoding>,
}

/// Evaluates and samples every model: the base (when both arms start from an initial model
/// and neither was given), then each seed's original and modified.
pub(crate) fn evaluate_arms(
    o: &CompareOptions,
    ds: &Dataset,
    trained: &[SeedRuns],
    reference: &Reference,
    soundfont: Option<&Arc<SoundFont>>,
    decoding: Option<&cadenza_generate::Decoding>,
    on_event: &mut dyn FnMut(CompareEvent),
) -> Result<Vec<ArmRuns>> {
    let given = o.given_models();
    let mut arms = Vec::new();
    if let (Some(init), false) = (&o.init, given) {
        let base = TrainedModel { model: init.clone(), steps: Some(0) };
        let run = ModelRun {
            label: RunLabel { arm: Arm::Base, seed: None },
            dir: o.out.join("base"),
            trained: &base,
            decoding: None,
        };
        let summary = run_summary(o, &run, None, ds, reference, soundfont, on_event)?;
        arms.push(ArmRuns { arm: Arm::Base, runs: vec![summary] });
    }
    let (mut original, mut modified) = (Vec::new(), Vec::new());
    for s in trained {
        let seed = (!given).then_some(s.seed);
        for (arm, model, runs) in
            [(Arm::Original, &s.original, &mut original), (Arm::Modified, &s.modified, &mut modified)]
        {
            let run = ModelRun {
                label: RunLabel { arm, seed: Some(s.seed) },
                dir: samples_folder(o, arm, s.seed),
                trained: model,
                decoding: if arm == Arm::Modified { decoding } else { None },
            };
            runs.push(run_summary(o, &run, seed, ds, reference, soundfont, on_event)?);
        }
    }
    arms.push(ArmRuns { arm: Arm::Original, runs: original });
    arms.push(ArmRuns { arm: Arm::Modified, runs: modified });
    Ok(arms)
}

/// Evaluates one model on the eval split and samples it; `seed` is the training seed the
/// report records (`None` for a given model or the base).
fn run_summary(
    o: &CompareOptions,
    run: &ModelRun,
    seed: Option<u64>,
    ds: &Dataset,
    reference: &Reference,
    soundfont: Option<&Arc<SoundFont>>,
    on_event: &mut dyn FnMut(CompareEvent),
) -> Result<RunSummary> {
    let model = &run.trained.model;
    let weights = Weights::load(model).ctx(|| format!("cannot load {}", model.display()))?;
    if weights.config.config != ds.manifest.config
        && weights.config.config.generator_id() != ds.manifest.config.generator_id()
    {
        bail!(
            "{}: a {} model cannot be evaluated on a {} dataset",
            model.display(),
            weights.config.config,
            ds.manifest.config
        );
    }
    on_event(CompareEvent::Evaluating(run.label));
    let net = PerformanceRnn::from_weights(&weights, &burn::tensor::Device::flex());
    let ev: EvalReport = evaluate_report(&net, &weights.config, &ds.eval, 32, o.eval_examples);

    on_event(CompareEvent::Generating { run: run.label, samples: o.samples, num_steps: o.num_steps });
    let (files, sequences) = sample(o, &weights, run, soundfont)?;
    let evaluation = evaluate_sequences(&sequences);
    Ok(RunSummary {
        seed,
        model: model.display().to_string(),
        steps: run.trained.steps,
        eval_nll: ev.metrics.loss,
        eval_perplexity: ev.metrics.perplexity,
        eval_accuracy: ev.metrics.accuracy,
        eval_event_accuracy: ev.metrics.event_accuracy,
        eval_shift_error: ev.shift_error.expected,
        eval_shift_error_argmax: ev.shift_error.argmax,
        eval_harmony_cost: ev.harmony_cost,
        samples: files,
        sample_values: reference.histograms.sample_values(&evaluation),
        evaluation,
        sequences,
    })
}

/// Samples one model from the comparison's sample seeds and renders the samples into
/// `run.dir/samples`.
fn sample(
    o: &CompareOptions,
    weights: &Weights,
    run: &ModelRun,
    soundfont: Option<&Arc<SoundFont>>,
) -> Result<(Vec<SampleFiles>, Vec<cadenza_notes::NoteSequence>)> {
    let gopts = GenerateOptions {
        num_steps: o.num_steps,
        num_outputs: o.samples,
        temperature: o.temperature,
        seed: o.sample_seed,
        note_events: o.note_events,
        decoding: run.decoding.cloned(),
        ..Default::default()
    };
    let samples = cadenza_generate::generate(weights, &gopts, o.progress)
        .map_err(|e| crate::error::CompareError::Setup(format!("{}: generation failed: {e}", run.label)))?;
    let seqs: Vec<ToRender> = samples
        .iter()
        .map(|s| ToRender { seed: s.seed, log_likelihood: s.log_likelihood, sequence: &s.sequence })
        .collect();
    let title = format!("{} sample", run.label);
    let files = render_all(&o.out, &run.dir.join("samples"), &title, &seqs, soundfont)?;
    Ok((files, samples.into_iter().map(|s| s.sequence).collect()))
}

/// One arm's summary: the means of its runs' numbers and of its samples' metrics, and its
/// samples' distributions against the reference's.
pub(crate) fn arm_summary(arm: Arm, recipe: Recipe, runs: Vec<RunSummary>, reference: &Evaluation) -> ModelSummary {
    let mean_run = |f: &dyn Fn(&RunSummary) -> Option<f64>| mean_of(runs.iter().map(f));
    let mut metrics = BTreeMap::new();
    for m in FEATURES.iter().chain(REFERENCE_METRICS.iter()) {
        metrics.insert(
            m.to_string(),
            mean_of(runs.iter().flat_map(|r| r.sample_values.get(*m).cloned().unwrap_or_default())),
        );
    }
    let pooled = cadenza_evaluate::aggregate(runs.iter().flat_map(|r| r.evaluation.samples.iter().cloned()).collect());
    let cmp = compare_to_reference(&pooled, reference);
    ModelSummary {
        name: arm.name().into(),
        rhythm_loss: recipe.rhythm,
        harmony_loss: recipe.harmony,
        eval_nll: mean_run(&|r| Some(r.eval_nll)).unwrap_or(f64::NAN),
        eval_accuracy: mean_run(&|r| Some(r.eval_accuracy)).unwrap_or(f64::NAN),
        eval_shift_error: mean_run(&|r| Some(r.eval_shift_error)).unwrap_or(f64::NAN),
        eval_harmony_cost: mean_run(&|r| r.eval_harmony_cost),
        metrics,
        overlap_area: cmp
            .features
            .iter()
            .map(|f| (f.feature.clone(), f.distribution.as_ref().map(|d| d.overlap_area)))
            .collect(),
        mean_overlap_area: cmp.mean_overlap_area,
        runs,
        reference_comparison: cmp,
    }
}
