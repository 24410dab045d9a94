//! The modified losses move what they aim at, on real data, on every CPU: a small model
//! trained with a musical loss is compared with the same model trained with cross-entropy
//! alone (same init, data, seed and steps) on the held-out pieces, by what the loss's gradient
//! pushes, read from the model's softmax: the expected harmony cost and the in-key mass of the
//! next note, the expected time-shift error, the mass of the target's rhythm-ratio bin, and the
//! on-grid mass of the next shift ([`cadenza_train::musical_shares`]).
//!
//! Why not the sampled notes: one training run's trajectory depends on the SIMD level's
//! rounding (scalar, AVX2, AVX-512 kernels sum in different orders), and so do the notes a seed
//! samples from it. The samples' in-key ratio after the key loss measured 0.664 -> 0.724 on a
//! Zen 4, 0.664 -> 0.811 on a Xeon with AVX-512 and 0.664 -> 0.659 on a Zen 3 (AVX2): one
//! seed of one short run cannot carry an assertion about sampled music. Whether the music
//! improves is a statistical claim over seeds and held-out folds (`cadenza compare`, `pool`).
//! The model-read shares move by far more than their spread across levels (measured below).

use cadenza_dataset::{BuildOptions, Dataset};
use cadenza_model::Weights;
use cadenza_train::{evaluate_report, musical_shares, EvalReport, MusicalShares, PerformanceRnn, TrainOptions};
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

struct Trained {
    weights: Weights,
    eval: EvalReport,
    shares: MusicalShares,
    /// The expected harmony cost on the first training examples.
    train_harmony_cost: f64,
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
    let shares = musical_shares(&net, &weights.config, &data.eval, 32, None);
    let train_harmony_cost =
        evaluate_report(&net, &weights.config, &data.train, 32, Some(256)).harmony_cost.expect("one-hot config");
    eprintln!(
        "{name}: eval loss {:.4}, {:?}, train harmony {train_harmony_cost:.4} {shares:?}",
        eval.metrics.loss, eval.harmony_cost
    );
    Trained { weights, eval, shares, train_harmony_cost }
}

/// `after - before` of a share both runs have.
fn gain(before: Option<f64>, after: Option<f64>, what: &str) -> f64 {
    after.unwrap_or_else(|| panic!("no {what} after")) - before.unwrap_or_else(|| panic!("no {what} before"))
}

#[test]
fn harmony_loss_lowers_the_harmony_cost_and_rhythm_loss_lowers_shift_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = build_fugues(tmp.path());

    let base = train(&ds, tmp.path(), "original", "");
    let harmony = train(&ds, tmp.path(), "harmony", ",harmony_loss=2.0");
    let rhythm = train(&ds, tmp.path(), "rhythm", ",rhythm_loss=1.0");

    // Harmony: the expected harmony cost of the next note falls on the pieces it trains on.
    // On the held-out fugues it does not: they sit in keys the training pieces (one key each,
    // no transposition) do not cover, and the tension cost's gradient moves the mass toward the
    // training pieces' pitch classes (measured on an Intel Xeon, seed 7, every SIMD level: train
    // 0.410 -> 0.377, held-out 0.438 -> 0.476, held-out in-key mass -0.057; with the pieces in
    // 12 keys, held-out 0.429 -> 0.431). Printed, not asserted: a negative result of this recipe.
    let (t0, t1) = (base.train_harmony_cost, harmony.train_harmony_cost);
    let (h0, h1) = (base.eval.harmony_cost.unwrap(), harmony.eval.harmony_cost.unwrap());
    let dk = gain(base.shares.in_key, harmony.shares.in_key, "in-key mass");
    eprintln!("harmony cost: train {t0:.4} -> {t1:.4}, held-out {h0:.4} -> {h1:.4}; held-out in-key mass {dk:+.4}");
    assert!(t1 < t0 * HARMONY_COST_FACTOR, "harmony loss did not lower the training harmony cost: {t0:.4} -> {t1:.4}");

    // Rhythm: the mean absolute time-shift error on held-out pieces falls.
    let (e0, e1) = (base.eval.shift_error, rhythm.eval.shift_error);
    eprintln!(
        "eval shift error (10 ms steps): expected {:.2} → {:.2}, argmax {:.2} → {:.2}; eval loss {:.4} / {:.4}",
        e0.expected, e1.expected, e0.argmax, e1.argmax, base.eval.metrics.loss, rhythm.eval.metrics.loss
    );
    assert!(e1.expected < e0.expected * 0.95, "rhythm loss did not lower the expected shift error: {e0:?} → {e1:?}");
}

#[test]
fn key_ratio_and_grid_losses_raise_the_shares_they_aim_at() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = build_fugue_scores(tmp.path());
    let base = train(&ds, tmp.path(), "original", "");
    let key = train(&ds, tmp.path(), "key", ",harmony_loss=2.0,harmony_cost=key");
    let ratio = train(&ds, tmp.path(), "ratio", ",rhythm_loss=1.0,rhythm_cost=ratio");
    let grid = train(&ds, tmp.path(), "grid", ",rhythm_loss=1.0,rhythm_cost=grid");
    let dk = gain(base.shares.in_key, key.shares.in_key, "in-key mass");
    let dr = gain(base.shares.ratio_bin, ratio.shares.ratio_bin, "ratio-bin mass");
    let dg = gain(base.shares.on_grid, grid.shares.on_grid, "on-grid mass");
    eprintln!(
        "eval in-key mass {dk:+.4} (key loss), ratio-bin mass {dr:+.4} (ratio loss), on-grid mass {dg:+.4} (grid loss); \
         eval loss {:.4} / key {:.4} / ratio {:.4} / grid {:.4}",
        base.eval.metrics.loss, key.eval.metrics.loss, ratio.eval.metrics.loss, grid.eval.metrics.loss
    );
    // The scores' onsets are on their grid (a fact of the data, not of the training).
    let reference: Vec<f64> = {
        let data = Dataset::open(&ds).unwrap();
        cadenza_evaluate::decode_store(base.weights.config.config, &data.eval, cadenza_evaluate::Split::Eval)
            .iter()
            .filter_map(|s| cadenza_evaluate::sample_metrics(s).on_grid_ratio)
            .collect()
    };
    let g_ref = reference.iter().sum::<f64>() / reference.len() as f64;
    assert!(g_ref > 0.8, "the held-out scores are not on a grid: {g_ref:.4}");
    assert!(dk > KEY_IN_KEY_GAIN, "key loss did not raise the eval in-key mass: {dk:+.4}");
    assert!(dr > RATIO_GAIN, "ratio loss did not raise the eval mass of the target's ratio bin: {dr:+.4}");
    assert!(dg > GRID_GAIN, "grid loss did not raise the eval on-grid mass: {dg:+.4}");
}

// The bounds, from what was measured (Intel Xeon, AVX-512 machine; the levels forced with
// `CADENZA_SIMD`; training seeds 7, 8, 9 as a stand-in for the larger spread between CPUs, whose
// caches also change the GEMMs' summation order). Each gain measured at least ~2x its bound.
/// Training harmony cost, harmony (tension) loss against cross-entropy alone: x0.919 (seed 7,
/// every level), x0.946 (seed 8). (The rhythm loss's held-out expected shift error is checked
/// inline against x0.95, measured at seed 8 only: x0.69.)
const HARMONY_COST_FACTOR: f64 = 0.975;
/// Held-out in-key mass, key loss: +0.044 (seed 7, AVX-512 and AVX2), +0.074 (seed 7, scalar),
/// +0.150 (seed 8), +0.166 (seed 9). (The samples' in-key ratio, one seed: -0.005 to +0.147.)
const KEY_IN_KEY_GAIN: f64 = 0.015;
/// Held-out mass of the target's rhythm-ratio bin, ratio loss: +0.337 (seed 7, AVX-512 and
/// AVX2), +0.243 (seed 7, scalar), +0.252 (seed 8), +0.257 (seed 9).
const RATIO_GAIN: f64 = 0.1;
/// Held-out on-grid mass, grid loss: +0.037 (seed 7, every level), +0.035 (seed 8), +0.037
/// (seed 9).
const GRID_GAIN: f64 = 0.015;
