//! The modified model's claims, on real data: trained with the harmony loss, a small model's
//! samples sit more in their key than those of the same model trained with cross-entropy
//! alone (same init, data, seed, steps, sampling seeds); trained with the rhythm loss, its
//! time-shift predictions on the held-out pieces are closer to the truth.

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

fn mean_in_key(w: &Weights) -> f64 {
    let opts = GenerateOptions { num_steps: 1500, num_outputs: 12, seed: 11, ..Default::default() };
    let samples = cadenza_generate::generate(w, &opts, false).unwrap();
    let r: Vec<f64> = samples.iter().filter_map(|s| in_key_ratio(&s.sequence)).collect();
    assert!(r.len() >= 10, "too many empty samples");
    r.iter().sum::<f64>() / r.len() as f64
}

#[test]
fn harmony_loss_raises_in_key_ratio_and_rhythm_loss_lowers_shift_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let opts =
        BuildOptions { transpositions: vec![0], stretches: vec![1.0], eval_ratio: 0.2, seed: 1, ..Default::default() };
    cadenza_dataset::build(&[shared().join("data/asap/Bach/Fugue")], &ds, &opts).unwrap();

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
