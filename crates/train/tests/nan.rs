//! A NaN loss on real data stops the run naming the step, and keeps the last checkpoint.

use cadenza_dataset::BuildOptions;
use cadenza_train::{HParamsOverrides, TrainError, TrainOptions};
use std::path::PathBuf;

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

#[test]
fn a_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let opts =
        BuildOptions { transpositions: vec![0], stretches: vec![1.0], eval_ratio: 0.2, seed: 1, ..Default::default() };
    cadenza_dataset::build(&[shared().join("data/asap/Bach/Fugue")], &ds, &opts).unwrap();
    let r = tmp.path().join("run");
    let t = TrainOptions {
        dataset: ds,
        run_dir: r.clone(),
        layers: vec![16],
        overrides: HParamsOverrides { batch_size: Some(4), ..Default::default() },
        steps: 50,
        checkpoint_every: 5,
        eval_every: 100,
        test_nan_at_step: Some(8),
        ..Default::default()
    };
    let err = cadenza_train::train(&t).unwrap_err();
    assert!(matches!(err, TrainError::NonFinite { step: 8, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("step 8") && msg.contains("NaN") && msg.contains("ckpt-00000005"), "{msg}");
    assert!(r.join("checkpoints/ckpt-00000005/weights.ckpt").is_file());
    assert!(!r.join("checkpoints/ckpt-00000008").exists());
    let stop: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("stop.json")).unwrap()).unwrap();
    // The reason as data, and as a sentence for people.
    assert_eq!(stop["reason"]["kind"], "non_finite", "{stop}");
    assert_eq!(stop["reason"]["loss"], "NaN", "{stop}");
    assert!(stop["message"].as_str().unwrap().contains("NaN"), "{stop}");
}
