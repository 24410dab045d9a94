//! The modified model's claims, on real data: trained with the harmony loss, a small model's
//! samples sit more in their key than those of the same model trained with cross-entropy
//! alone (same init, data, seed, steps, sampling seeds); trained with the rhythm loss, its
//! time-shift predictions on the held-out pieces are closer to the truth. The proper
//! redesigns aim at what the listener hears: the key loss raises the in-key ratio, and the
//! rhythm-ratio loss brings the samples' ratios of successive intervals nearer the held-out
//! pieces', and the grid loss puts the samples' onsets on a beat grid, as the scores' are.

use cadenza_dataset::{BuildOptions, Dataset};
use cadenza_generate::GenerateOptions;
use cadenza_model::Weights;
use cadenza_notes::NoteSequence;
use cadenza_performance::controls::estimate_key;
use cadenza_train::{evaluate_report, EvalReport, PerformanceRnn, TrainOptions};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

/// Fraction of notes whose pitch class is in the scale of the sample's own
/// Krumhansl–Schmuckler key (count-weighted).
fn in_key_ratio(seq: &NoteSequence) -> Option<f64> {
    if seq.notes.is_empty() {
        return None;
    }
    let mut h = [0.0f64; 12];
    for n in &seq.notes {
        h[n.pitch as usize % 12] += 1.0;
    }
    let scale = estimate_key(&h).scale();
    Some(seq.notes.iter().filter(|n| scale[n.pitch as usize % 12]).count() as f64 / seq.notes.len() as f64)
}

struct Trained {
    weights: Weights,
    eval: EvalReport,
}

/// A dataset of `inputs` in `dir/name`: one key, no stretch, 20 % of the pieces held out.
fn build(inputs: &[PathBuf], dir: &Path, name: &str) -> PathBuf {
    let ds = dir.join(name);
    let opts =
        BuildOptions { transpositions: vec![0], stretches: vec![1.0], eval_ratio: 0.2, seed: 1, ..Default::default() };
    cadenza_dataset::build(inputs, &ds, &opts).unwrap();
    ds
}

/// The fugues' folders: each piece's score and performances.
fn build_fugues(dir: &Path) -> PathBuf {
    build(&[shared().join("data/asap/Bach/Fugue")], dir, "ds")
}

/// The 29 fugues' scores alone (one `xml_score.mxl` per piece folder): music written on a
/// grid, as the demo's corpus, where the performances play with free timing.
fn build_fugue_scores(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared().join("data/asap/Bach/Fugue"))
        .unwrap()
        .map(|e| e.unwrap().path().join("xml_score.mxl"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{} fugue scores", files.len());
    build(&files, dir, "scores")
}

fn train(ds: &Path, dir: &Path, name: &str, patch: &str) -> Trained {
    let run = dir.join(name);
    let opts = TrainOptions {
        dataset: ds.to_path_buf(),
        run_dir: run.clone(),
        init: Some(shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag")),
        overrides: cadenza_train::HParamsOverrides::parse(&format!("batch_size=16,learning_rate=0.005{patch}"))
            .unwrap(),
        steps: 150,
        eval_every: 1000,
        summary_every: 50,
        checkpoint_every: 1000,
        seed: 7,
        ..Default::default()
    };
    cadenza_train::train(&opts).unwrap();
    let weights = Weights::load(&run.join("best")).unwrap();
    let data = Dataset::open(ds).unwrap();
    let net = PerformanceRnn::from_weights(&weights, &burn::tensor::Device::flex());
    let eval = evaluate_report(&net, &weights.config, &data.eval, 32, None);
    Trained { weights, eval }
}

fn samples(w: &Weights) -> Vec<NoteSequence> {
    let opts = GenerateOptions { num_steps: 1500, num_outputs: 12, seed: 11, ..Default::default() };
    cadenza_generate::generate(w, &opts, false).unwrap().into_iter().map(|s| s.sequence).collect()
}

fn mean_in_key(w: &Weights) -> f64 {
    let r: Vec<f64> = samples(w).iter().filter_map(in_key_ratio).collect();
    assert!(r.len() >= 10, "too many empty samples");
    r.iter().sum::<f64>() / r.len() as f64
}

#[test]
fn harmony_loss_raises_in_key_ratio_and_rhythm_loss_lowers_shift_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = build_fugues(tmp.path());

    let base = train(&ds, tmp.path(), "original", "");
    let harmony = train(&ds, tmp.path(), "harmony", ",harmony_loss=2.0");
    let rhythm = train(&ds, tmp.path(), "rhythm", ",rhythm_loss=1.0");

    // Harmony: the samples sit more in their key, and on held-out pieces the expected
    // harmony cost of the next note falls.
    let (k0, k1) = (mean_in_key(&base.weights), mean_in_key(&harmony.weights));
    eprintln!("in-key ratio: cross-entropy {k0:.4}, + harmony loss {k1:.4}");
    eprintln!("eval harmony cost: {:?} → {:?}", base.eval.harmony_cost, harmony.eval.harmony_cost);
    assert!(k1 > k0 + 0.02, "harmony loss did not raise the in-key ratio: {k0:.4} → {k1:.4}");

    // Rhythm: the mean absolute time-shift error on held-out pieces falls.
    let (e0, e1) = (base.eval.shift_error, rhythm.eval.shift_error);
    eprintln!(
        "eval shift error (10 ms steps): expected {:.2} → {:.2}, argmax {:.2} → {:.2}; eval loss {:.4} / {:.4}",
        e0.expected, e1.expected, e0.argmax, e1.argmax, base.eval.metrics.loss, rhythm.eval.metrics.loss
    );
    assert!(e1.expected < e0.expected * 0.95, "rhythm loss did not lower the expected shift error: {e0:?} → {e1:?}");
}

/// Mean overlap of the samples' rhythm-ratio histograms with the held-out pieces' mean one.
fn mean_ratio_overlap(w: &Weights, ds: &Path) -> f64 {
    let data = Dataset::open(ds).unwrap();
    let reference: Vec<cadenza_evaluate::SampleMetrics> =
        cadenza_evaluate::decode_store(w.config.config, &data.eval, cadenza_evaluate::Split::Eval)
            .iter()
            .map(cadenza_evaluate::sample_metrics)
            .collect();
    let r = cadenza_evaluate::mean_histogram(reference.iter().map(|m| m.rhythm_ratio_histogram.as_slice())).unwrap();
    let o: Vec<f64> = samples(w)
        .iter()
        .filter_map(|s| {
            cadenza_evaluate::histogram_overlap(&cadenza_evaluate::sample_metrics(s).rhythm_ratio_histogram, &r)
        })
        .collect();
    assert!(o.len() >= 10, "too many samples without three onsets");
    o.iter().sum::<f64>() / o.len() as f64
}

/// Mean on-grid ratio (onsets on the beat grid, chance-corrected) of a model's samples.
fn mean_on_grid(w: &Weights) -> f64 {
    let g: Vec<f64> = samples(w).iter().filter_map(|s| cadenza_evaluate::sample_metrics(s).on_grid_ratio).collect();
    assert!(g.len() >= 10, "too many samples with fewer than nine onsets");
    g.iter().sum::<f64>() / g.len() as f64
}

#[test]
fn key_loss_raises_in_key_ratio_and_ratio_and_grid_losses_bring_rhythm_nearer() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = build_fugue_scores(tmp.path());
    let base = train(&ds, tmp.path(), "original", "");
    let key = train(&ds, tmp.path(), "key", ",harmony_loss=2.0,harmony_cost=key");
    let ratio = train(&ds, tmp.path(), "ratio", ",rhythm_loss=1.0,rhythm_cost=ratio");
    let grid = train(&ds, tmp.path(), "grid", ",rhythm_loss=1.0,rhythm_cost=grid");
    let (k0, k1) = (mean_in_key(&base.weights), mean_in_key(&key.weights));
    let (r0, r1) = (mean_ratio_overlap(&base.weights, &ds), mean_ratio_overlap(&ratio.weights, &ds));
    eprintln!(
        "in-key ratio {k0:.4} -> {k1:.4} (key loss); rhythm-ratio overlap {r0:.4} -> {r1:.4} (ratio loss); eval loss {:.4} / key {:.4} / ratio {:.4}",
        base.eval.metrics.loss, key.eval.metrics.loss, ratio.eval.metrics.loss
    );
    // Measured on an AMD EPYC (Zen 4): 0.664 -> 0.724 and 0.407 -> 0.455, one seed (on an
    // Intel Xeon with AVX-512: 0.664 -> 0.811 and 0.407 -> 0.436). On the
    // fugues' performances instead of their scores the ratio loss did not help (0.459 ->
    // 0.440): free timing has no simple ratios to find.
    assert!(k1 > k0 + 0.02, "key loss did not raise the in-key ratio: {k0:.4} -> {k1:.4}");
    assert!(r1 > r0 + 0.02, "ratio loss did not bring the rhythm ratios nearer the eval pieces': {r0:.4} -> {r1:.4}");
    // The scores' onsets are on their grid; the grid loss moves the samples' onsets onto one.
    let reference: Vec<f64> = {
        let data = Dataset::open(&ds).unwrap();
        cadenza_evaluate::decode_store(base.weights.config.config, &data.eval, cadenza_evaluate::Split::Eval)
            .iter()
            .filter_map(|s| cadenza_evaluate::sample_metrics(s).on_grid_ratio)
            .collect()
    };
    let g_ref = reference.iter().sum::<f64>() / reference.len() as f64;
    let (g0, g1) = (mean_on_grid(&base.weights), mean_on_grid(&grid.weights));
    eprintln!(
        "on-grid ratio {g0:.4} -> {g1:.4} (grid loss; held-out scores {g_ref:.4}); eval loss {:.4} / grid {:.4}",
        base.eval.metrics.loss, grid.eval.metrics.loss
    );
    assert!(g_ref > 0.8, "the held-out scores are not on a grid: {g_ref:.4}");
    // Measured on an Intel Xeon (AVX-512), one seed: 0.938 -> 0.971 against the scores' 1.000,
    // half of the way; cross-entropy alone had already learnt most of the scores' pulse.
    assert!(
        g1 > g0 + 0.01 && g1 - g0 > 0.25 * (g_ref - g0),
        "grid loss did not bring the onsets nearer the scores' grid: {g0:.4} -> {g1:.4} (scores {g_ref:.4})"
    );
}
