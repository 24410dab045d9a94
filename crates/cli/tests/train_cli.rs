//! `cadenza train` end to end on a small real dataset (ASAP's Bach fugues, untransposed).

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("ds");
    let o = run(&[
        "dataset",
        s(&shared().join("data/asap/Bach/Fugue")),
        "--out",
        s(&out),
        "--transpose",
        "0",
        "--stretch",
        "1",
        "--eval-ratio",
        "0.2",
        "--seed",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// (step, loss, accuracy) of every row of a split in metrics.csv.
fn rows(run_dir: &Path, split: &str) -> Vec<(u64, f64, f64)> {
    let text = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,split,loss,perplexity,accuracy,event_accuracy,no_event_accuracy,learning_rate"
    );
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1] == split).then(|| (f[0].parse().unwrap(), f[2].parse().unwrap(), f[4].parse().unwrap()))
        })
        .collect()
}

fn stop_json(run_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("stop.json")).unwrap()).unwrap()
}

fn train(ds: &Path, run_dir: &Path, extra: &[&str]) -> Output {
    let mut args =
        vec!["train", "--dataset", s(ds), "--run-dir", s(run_dir), "--batch-size", "8", "--summary-every", "5"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn fine_tuning_and_training_from_scratch_lower_the_eval_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let bundle = shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag");
    for (name, extra) in [("finetune", vec!["--init", s(&bundle)]), ("scratch", vec!["--layers", "48"])] {
        let r = tmp.path().join(name);
        let mut args = vec!["--steps", "40", "--eval-every", "10", "--eval-examples", "64"];
        args.extend(extra);
        let o = train(&ds, &r, &args);
        assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
        let ev = rows(&r, "eval");
        assert_eq!(ev.iter().map(|r| r.0).collect::<Vec<_>>(), vec![10, 20, 30, 40], "{name}");
        assert!(ev[3].1 < ev[0].1 - 0.01, "{name}: eval loss did not fall: {ev:?}");
        assert_eq!(rows(&r, "train").len(), 8);
        let stop = stop_json(&r);
        assert_eq!(stop["step"], 40);
        let log = std::fs::read_to_string(r.join("log.txt")).unwrap();
        assert!(log.contains("device: cpu (fused LSTM kernels"), "{name}: {log}");
        assert!(
            r.join("best/model.json").is_file() && r.join("curves.png").is_file() && r.join("curves.svg").is_file()
        );
        // TensorBoard: separate train and eval runs with Magenta's tags.
        for split in ["train", "eval"] {
            let f = std::fs::read_dir(r.join(split)).unwrap().next().unwrap().unwrap().path();
            let ev = cadenza_train::logs::read_events(&f).unwrap();
            assert!(
                ev.iter().any(|(_, t, _)| t == "loss") && ev.iter().any(|(_, t, _)| t == "metrics/accuracy"),
                "{split}"
            );
        }
        // The best model is a model: it scores a file.
        let o = run(&[
            "likelihood",
            "--model",
            s(&r.join("best")),
            s(&shared().join("data/asap/Bach/Fugue/bwv_846/Shi05M.mid")),
        ]);
        assert!(o.status.success());
    }
}

/// In a build without a GPU feature, `--device vulkan` is refused up front, naming the rebuild,
/// and leaves no run behind; `--device cpu` and the default `auto` train on the CPU.
#[test]
fn device_vulkan_without_the_feature_is_a_clear_error() {
    if cfg!(any(feature = "vulkan", feature = "wgpu")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("gpu");
    let o = train(&ds, &r, &["--layers", "16", "--steps", "2", "--device", "vulkan"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--features vulkan"), "{err}");
    assert!(!r.join("checkpoint.json").exists());
    let o = run(&[
        "bench", "train", "--layers", "16", "--batch", "2", "--events", "8", "--steps", "1", "--device", "vulkan",
    ]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--features vulkan"));
    let o = run(&[
        "bench", "train", "--layers", "16", "--batch", "2", "--events", "8", "--steps", "1", "--device", "auto",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["device"].as_str().unwrap().starts_with("cpu"), "{j}");
    assert!(j["tokens_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn early_stopping_fires_in_both_modes_and_on_target() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    // A learning rate of 1e-12 makes the run plateau: nothing improves by min_delta.
    for (mode, metric) in
        [("mode=min,patience=2,min_delta=0.001", "loss"), ("mode=max,patience=2,min_delta=0.001", "accuracy")]
    {
        let r = tmp.path().join(format!("plateau-{metric}"));
        let o = train(
            &ds,
            &r,
            &[
                "--layers",
                "16",
                "--steps",
                "200",
                "--eval-every",
                "5",
                "--eval-examples",
                "32",
                "--learning-rate",
                "1e-12",
                "--early-stop",
                mode,
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stop = stop_json(&r);
        assert_eq!(stop["reason"]["kind"], "no_improvement", "{stop}");
        assert_eq!(
            (&stop["reason"]["metric"], &stop["reason"]["evaluations"]),
            (&serde_json::json!(metric), &serde_json::json!(2))
        );
        let reason = stop["message"].as_str().unwrap();
        assert!(
            reason.contains("early stopping") && reason.contains(metric) && reason.contains("2 evaluations"),
            "{reason}"
        );
        assert_eq!(stop["step"], 15, "first eval sets the best, two more without improvement stop the run");
        assert_eq!(stop["best_checkpoint"], "ckpt-00000005");
        assert!(r.join("checkpoints/ckpt-00000005").is_dir(), "the best checkpoint is kept");
    }
    let r = tmp.path().join("target");
    let o = train(
        &ds,
        &r,
        &[
            "--layers",
            "16",
            "--steps",
            "200",
            "--eval-every",
            "5",
            "--eval-examples",
            "32",
            "--early-stop",
            "mode=min,target_loss=50,patience=10",
        ],
    );
    assert!(o.status.success());
    let stop = stop_json(&r);
    assert_eq!(stop["reason"]["kind"], "target_reached", "{stop}");
    assert!(stop["message"].as_str().unwrap().contains("reached the target"), "{stop}");
    assert_eq!(stop["step"], 5);
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("weights.ckpt")).unwrap()
}

#[test]
fn resume_is_bit_exact_and_takes_changed_hyperparameters() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let common = [
        "--layers",
        "24",
        "--eval-every",
        "10",
        "--eval-examples",
        "16",
        "--checkpoint-every",
        "5",
        "--hparams",
        "dropout_keep_prob=0.7",
    ];
    let a = tmp.path().join("straight");
    let mut args = common.to_vec();
    args.extend(["--steps", "20"]);
    assert!(train(&ds, &a, &args).status.success());
    let b = tmp.path().join("resumed");
    let mut args = common.to_vec();
    args.extend(["--steps", "12"]);
    assert!(train(&ds, &b, &args).status.success());
    // Without --resume an existing run is refused rather than overwritten.
    assert!(!train(&ds, &b, &args).status.success());
    let mut args = common.to_vec();
    args.extend(["--steps", "20", "--resume"]);
    let o = train(&ds, &b, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        weights(&a.join("checkpoints/ckpt-00000020")),
        weights(&b.join("checkpoints/ckpt-00000020")),
        "resumed run differs from the straight one"
    );
    // Same evaluations, besides the one the first half made when it stopped at step 12.
    let b_rows: Vec<_> = rows(&b, "eval").into_iter().filter(|r| r.0 != 12).collect();
    assert_eq!(rows(&a, "eval"), b_rows);

    // Resume with a changed L1: logged, and the L1 term enters the loss.
    let mut args = common.to_vec();
    args.extend(["--steps", "30", "--resume", "--l1", "0.0001"]);
    let o = train(&ds, &b, &args);
    assert!(o.status.success());
    let log = std::fs::read_to_string(b.join("log.txt")).unwrap();
    assert!(log.contains("step 20: resumed with l1: 0.0 → 0.0001"), "{log}");
    let l1_terms: Vec<f64> = log
        .lines()
        .filter(|l| l.contains(" train loss "))
        .filter_map(|l| l.split("l1_term ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(l1_terms.iter().take(4).all(|&x| x == 0.0) && l1_terms.last().copied().unwrap() > 0.0, "{l1_terms:?}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("checkpoints/ckpt-00000030/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["hparams"]["l1"], 0.0001);
}

#[test]
fn kill_dash_nine_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args([
            "train",
            "--dataset",
            s(&ds),
            "--run-dir",
            s(&r),
            "--batch-size",
            "8",
            "--layers",
            "64",
            "--steps",
            "100000",
            "--eval-every",
            "1000",
            "--checkpoint-every",
            "3",
            "--keep",
            "2",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for a few checkpoints, then kill -9.
    let t0 = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let idx = std::fs::read_to_string(r.join("checkpoint.json")).unwrap_or_default();
        if idx.contains("ckpt-00000009") || t0.elapsed().as_secs() > 120 {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();
    // Every checkpoint folder is complete; only a hidden .tmp folder may be partial.
    let mut complete = Vec::new();
    for e in std::fs::read_dir(r.join("checkpoints")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with('.') {
            continue;
        }
        for f in ["model.json", "weights.ckpt", "module.bpk", "optimizer.bpk", "state.json"] {
            assert!(p.join(f).is_file(), "{name} lacks {f}");
        }
        cadenza_model::Weights::load(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        complete.push(name);
    }
    assert!(complete.len() >= 2, "{complete:?}");
    let idx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("checkpoint.json")).unwrap()).unwrap();
    let latest = idx["latest"].as_str().unwrap().to_string();
    let latest_step: u64 = latest.trim_start_matches("ckpt-").parse().unwrap();
    let target = (latest_step + 4).to_string();
    let o = run(&[
        "train",
        "--dataset",
        s(&ds),
        "--run-dir",
        s(&r),
        "--batch-size",
        "8",
        "--steps",
        &target,
        "--eval-every",
        "1000",
        "--checkpoint-every",
        "3",
        "--resume",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(r.join("log.txt")).unwrap();
    assert!(log.contains(&format!("resumed from {latest} at step {latest_step}")), "{log}");
    assert_eq!(stop_json(&r)["step"].as_u64().unwrap(), latest_step + 4);
}

#[test]
fn lr_find_sweeps_the_learning_rate_and_suggests_one() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let out = tmp.path().join("lr");
    let bundle = shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag");
    let o = run(&[
        "lr-find",
        "--dataset",
        s(&ds),
        "--out",
        s(&out),
        "--init",
        s(&bundle),
        "--batch-size",
        "8",
        "--steps",
        "40",
        "--min-lr",
        "1e-5",
        "--max-lr",
        "10",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("lr_find.csv")).unwrap();
    let rows: Vec<(f64, f64)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            (f[1], f[2])
        })
        .collect();
    assert!(rows.len() >= 10, "{csv}");
    assert!(rows.windows(2).all(|w| w[1].0 > w[0].0), "learning rate must rise");
    assert!((rows[0].0 - 1e-5).abs() < 1e-12);
    // Learning rates up to 10 blow Adam up: the loss at the end is far above its best.
    let best = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("lr_find.json")).unwrap()).unwrap();
    let sug = j["suggested"].as_f64().unwrap();
    assert!(sug > 1e-5 && sug < 1.0, "suggested {sug}");
    assert!(
        rows.last().unwrap().1 > best + 0.5 || j["stopped"].as_str().unwrap().contains("4×"),
        "{:?} {}",
        rows.last(),
        j["stopped"]
    );
    assert!(out.join("lr_find.png").is_file() && out.join("lr_find.svg").is_file());
    assert!(String::from_utf8_lossy(&o.stdout).contains("suggested lr"));
}

/// `--recipe` names the modified model's losses once; a part flag changes one part of it; an
/// unknown name is refused with the names that exist.
#[test]
fn a_named_recipe_with_one_part_changed_reaches_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let o = train(
        &ds,
        &r,
        &["--layers", "16", "--steps", "2", "--eval-every", "2", "--eval-examples", "8", "--checkpoint-every", "2"]
            .iter()
            .chain(&["--recipe", "grid-key", "--rhythm-loss", "0.2"])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("checkpoints/ckpt-00000002/state.json")).unwrap())
            .unwrap();
    let h = &state["hparams"];
    assert_eq!(
        (&h["rhythm_loss"], &h["rhythm_cost"], &h["harmony_loss"], &h["harmony_cost"]),
        (&serde_json::json!(0.2), &serde_json::json!("grid"), &serde_json::json!(1.0), &serde_json::json!("key"))
    );
    let o = run(&["compare", "--dataset", s(&ds), "--out", s(&tmp.path().join("c")), "--recipe", "sead"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("none, seed, grid-key") && err.contains("emd, rps"), "{err}");
}

/// Ctrl-C (SIGINT) is the binary's: training stops at its next step with a checkpoint, says so
/// in stop.json, exits cleanly, and `--resume` continues from there.
#[test]
fn ctrl_c_checkpoints_and_resume_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let args = [
        "train",
        "--dataset",
        s(&ds),
        "--run-dir",
        s(&r),
        "--batch-size",
        "8",
        "--layers",
        "32",
        "--eval-every",
        "1000",
        "--checkpoint-every",
        "1000",
        "--summary-every",
        "1",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadenza"))
        .args(args)
        .args(["--steps", "100000"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until training runs (its metrics file has a row), then send SIGINT.
    let t0 = std::time::Instant::now();
    while std::fs::read_to_string(r.join("metrics.csv")).unwrap_or_default().lines().count() < 2
        && t0.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let st = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "training did not exit cleanly on Ctrl-C: {status:?}");
    let stop = stop_json(&r);
    assert!(stop.to_string().contains("nterrupt"), "{stop}");
    let step = stop["step"].as_u64().unwrap();
    assert!(step > 0 && step < 100000);
    // The checkpoint written on the way out resumes.
    let o = run(&[&args[..], &["--steps", &(step + 2).to_string(), "--resume"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stop_json(&r)["step"].as_u64().unwrap(), step + 2);
}
