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

#[test]
fn compare_recipe_realism_trains_the_arm_and_a_decoded_rerun_reuses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let base = root().join("models/perf_dyn_3x256_asap_v2");
    let cmp = tmp.path().join("cmp");
    let args = |out: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "compare",
            "--dataset",
            s(&ds),
            "--original-model",
            s(&base),
            "--recipe",
            "realism",
            "--realism-steps",
            "2",
            "--realism-samples",
            "8",
            "--realism-seconds",
            "20",
            "--samples",
            "2",
            "--num-steps",
            "600",
            "--eval-examples",
            "4",
            "--no-wav",
            "--quiet",
            "--out",
            s(out),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let first = args(&cmp, &[]);
    let out = run(&first.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("realism policy steps"), "{err}");
    let run_dir = cmp.join("modified/seed_0/run");
    assert!(run_dir.join("realism.csv").is_file() && run_dir.join("stop.json").is_file());
    let c = common::read_json(&cmp.join("comparison.json"));
    assert_eq!(c["options"]["realism"], true, "{}", c["options"]);
    assert_ne!(c["original"]["eval_nll"], c["modified"]["eval_nll"], "the realism arm is the original");

    // The realism runs reused, their samples decoded into the new folder.
    let dec = tmp.path().join("dec");
    let second = args(&dec, &["--modified-from", s(&cmp), "--decoding", "1"]);
    let out = run(&second.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("reusing") && !err.contains("realism policy steps"), "{err}");
    assert!(dec.join("modified/seed_0/samples").is_dir() && !dec.join("modified/seed_0/run").exists());
    let d = common::read_json(&dec.join("comparison.json"));
    assert_eq!(d["modified"]["eval_nll"], c["modified"]["eval_nll"]);
}

/// Ctrl-C stops a realism run at its next step with a checkpoint and a clean exit, as it does
/// `train`'s; `--resume` continues from there.
#[test]
fn ctrl_c_stops_a_realism_run_with_a_checkpoint_and_resume_continues() {
    use std::process::{Command, Stdio};
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
        "--eval-every",
        "1000",
        "--checkpoint-every",
        "1",
        "--eval-examples",
        "4",
        "--realism-samples",
        "4",
        "--realism-seconds",
        "10",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .args(["--steps", "100000"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first policy step's row, then send SIGINT.
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(r.join("realism.csv")).unwrap_or_default().lines().count() < 2
        && t0.elapsed().as_secs() < 300
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "the realism run did not exit cleanly on Ctrl-C: {status:?}");
    let stop = common::read_json(&r.join("stop.json"));
    assert_eq!(stop["interrupted"], true, "{stop}");
    let step = stop["step"].as_u64().unwrap();
    assert!(step > 0 && step < 100000, "{stop}");
    let more = (step + 1).to_string();
    let o = run(&[&args[..], &["--steps", &more, "--resume"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stop = common::read_json(&r.join("stop.json"));
    assert_eq!((stop["step"].as_u64(), stop["interrupted"].as_bool()), (Some(step + 1), Some(false)), "{stop}");
}
