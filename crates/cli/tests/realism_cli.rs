//! `cadenza train --recipe realism` on real data: the shipped v2 base trained on its own
//! samples from the command line, with the run folder `train` gives; without `--init` it is a
//! clear error.

mod common;
use common::{run, s, shared};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dataset(dir: &Path) -> PathBuf {
    let ds = dir.join("ds");
    let fugues = shared().join("data/asap/Bach/Fugue");
    let out =
        run(&["dataset", s(&fugues), "--out", s(&ds), "--transpose", "0", "--stretch", "1", "--eval-ratio", "0.2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ds
}

#[test]
fn train_recipe_realism_runs_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let base = root().join("models/perf_dyn_3x256_asap_v2");
    let args = [
        "train",
        "--dataset",
        s(&ds),
        "--run-dir",
        s(&r),
        "--init",
        s(&base),
        "--recipe",
        "realism",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--checkpoint-every",
        "1",
        "--eval-examples",
        "4",
        "--realism-samples",
        "8",
        "--realism-seconds",
        "20",
        "--realism-beta",
        "0.2",
    ];
    let out = run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("critic fitted") && err.contains("held-out accuracy"), "{err}");
    assert!(r.join("checkpoints/ckpt-00000002/weights.ckpt").is_file());
    assert!(r.join("realism.csv").is_file() && r.join("curves.svg").is_file() && r.join("stop.json").is_file());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.join("checkpoints/ckpt-00000002/state.json")).unwrap()).unwrap();
    assert_eq!(state["hparams"]["policy"]["beta"], 0.2, "{state}");
    assert_eq!(state["hparams"]["samples"], 8, "{state}");

    let no_init = run(&["train", "--dataset", s(&ds), "--run-dir", s(&tmp.path().join("r2")), "--recipe", "realism"]);
    assert!(!no_init.status.success());
    assert!(
        String::from_utf8_lossy(&no_init.stderr).contains("--init"),
        "{}",
        String::from_utf8_lossy(&no_init.stderr)
    );
}
