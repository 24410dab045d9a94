//! One run per folder: a second `cadenza` process on a folder in use is refused at once, naming
//! the folder and the holder's pid; a holder killed with -9 leaves nothing that blocks.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("ds");
    let fugues = shared().join("data/asap/Bach/Fugue");
    let o =
        run(&["dataset", s(&fugues), "--out", s(&out), "--transpose", "0", "--stretch", "1", "--eval-ratio", "0.2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

const TRAIN: [&str; 8] = ["--batch-size", "8", "--layers", "16", "--eval-every", "1000", "--checkpoint-every", "2"];

/// A training run that goes on for long, holding `run`.
fn long_run(ds: &Path, run: &Path) -> Child {
    cadenza()
        .args(["train", "--dataset", s(ds), "--run-dir", s(run), "--steps", "1000000"])
        .args(TRAIN)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `run` holds a checkpoint and its lock file names `pid`.
fn wait_for_holder(run: &Path, pid: u32) {
    let t0 = Instant::now();
    loop {
        let lock = std::fs::read_to_string(run.join(".cadenza.lock")).unwrap_or_default();
        if lock.contains(&format!("pid {pid}\n")) && run.join("checkpoint.json").is_file() {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "the first run never took {}", run.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `error:` line of a refused command, checked to name the folder and the holder.
fn refused(args: &[&str], dir: &Path, pid: u32) {
    let t0 = Instant::now();
    let o = run(args);
    let took = t0.elapsed();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} ran beside the holder: {err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains(&format!("{}: in use by process {pid} (", dir.display())), "{line}");
    assert!(line.contains("train"), "the holder's command is named: {line}");
    assert!(took < Duration::from_secs(20), "{args:?} took {took:?} to refuse");
}

#[test]
fn a_second_process_on_a_folder_in_use_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let mut first = long_run(&ds, &r);
    let pid = first.id();
    wait_for_holder(&r, pid);
    let metrics_before = std::fs::read_to_string(r.join("metrics.csv")).unwrap_or_default();

    let mut train = vec!["train", "--dataset", s(&ds), "--run-dir", s(&r), "--steps", "4"];
    train.extend(TRAIN);
    // Without --resume too: the lock comes before the check for an existing run.
    refused(&train, &r, pid);
    train.push("--resume");
    refused(&train, &r, pid);
    refused(&["lr-find", "--dataset", s(&ds), "--out", s(&r), "--layers", "16", "--steps", "4", "--quiet"], &r, pid);
    let compare = ["compare", "--dataset", s(&ds), "--out", s(&r), "--layers", "16", "--steps", "2", "--no-wav"];
    refused(&compare, &r, pid);

    // The holder was not disturbed: still running, its metrics only grew.
    assert!(first.try_wait().unwrap().is_none(), "the first run stopped");
    std::thread::sleep(Duration::from_millis(300));
    let metrics_after = std::fs::read_to_string(r.join("metrics.csv")).unwrap_or_default();
    assert!(metrics_after.starts_with(&metrics_before), "the refused runs touched metrics.csv");
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_holder_killed_with_dash_nine_leaves_the_folder_free() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let r = tmp.path().join("run");
    let mut first = long_run(&ds, &r);
    let pid = first.id();
    wait_for_holder(&r, pid);
    first.kill().unwrap(); // SIGKILL: no destructor runs.
    first.wait().unwrap();
    // The lock file still names the dead process; the OS has released its lock.
    let lock = std::fs::read_to_string(r.join(".cadenza.lock")).unwrap();
    assert!(lock.contains(&format!("pid {pid}\n")), "{lock}");

    let idx = read_json(&r.join("checkpoint.json"));
    let latest = idx["latest"].as_str().unwrap().to_string();
    let step: u64 = latest.trim_start_matches("ckpt-").parse().unwrap();
    let target = (step + 2).to_string();
    let mut args = vec!["train", "--dataset", s(&ds), "--run-dir", s(&r), "--steps", &target, "--resume"];
    args.extend(TRAIN);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(r.join("log.txt")).unwrap();
    assert!(log.contains(&format!("resumed from {latest} at step {step}")), "{log}");
    assert_eq!(read_json(&r.join("stop.json"))["step"].as_u64(), Some(step + 2));
    // A dataset build refused while another builds into the same folder; free once it ends.
    let out = tmp.path().join("ds2");
    let fugues = shared().join("data/asap/Bach/Fugue");
    let lock = cadenza_atomic::DirLock::acquire_beside(&out, "test").unwrap();
    let o = run(&["dataset", s(&fugues), "--out", s(&out), "--transpose", "0"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains(&format!("{}: in use by process {}", out.display(), std::process::id())), "{err}");
    drop(lock);
    let o = run(&["dataset", s(&fugues), "--out", s(&out), "--transpose", "0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
