//! A full disk, for real: `cadenza train` and `cadenza dataset` on a size-limited tmpfs that
//! fills up (CI runs as root; elsewhere, where `mount` is not allowed, the test says it was
//! skipped). What must hold: the error names the file and says the disk is full; no panic; no
//! earlier checkpoint, dataset or metrics row is lost or corrupt, and no partial temporary
//! folder is left to hold the space; after space is freed, `--resume` continues bit-exactly.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tmpfs mounted for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", s(dir)])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let st = Command::new("mount").args(["-o", &format!("remount,size={size}"), s(&self.0)]).status().unwrap();
        assert!(st.success(), "remount {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Files and folders whose names start with '.' under `dir` (temporary ones), recursively;
/// not the lock files that keep a second process out of a folder.
fn hidden(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && !name.ends_with(cadenza_atomic::LOCK_FILE) {
            out.push(p.clone());
        }
        if p.is_dir() {
            out.extend(hidden(&p));
        }
    }
    out
}

const TRAIN: [&str; 14] = [
    "--batch-size",
    "8",
    "--layers",
    "24",
    "--steps",
    "12",
    "--eval-every",
    "4",
    "--eval-examples",
    "16",
    "--checkpoint-every",
    "2",
    "--summary-every",
    "2",
];

fn train(ds: &Path, run_dir: &Path, resume: bool) -> Output {
    let mut a = vec!["train", "--dataset", s(ds), "--run-dir", s(run_dir)];
    a.extend(TRAIN);
    if resume {
        a.push("--resume");
    }
    run(&a)
}

#[test]
fn a_full_disk_stops_cleanly_and_resume_continues_bit_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "2m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); CI runs it");
        return;
    };
    let ds = tmp.path().join("ds");
    let fugues = cadenza_shared::require("data/asap/Bach/Fugue");
    let args = ["--transpose", "0", "--stretch", "1", "--eval-ratio", "0.2", "--seed", "1"];
    let mut a = vec!["dataset", s(&fugues), "--out", s(&ds)];
    a.extend(args);
    assert!(run(&a).status.success());

    // The same run on a roomy disk: what the resumed run must reproduce.
    let reference = tmp.path().join("reference");
    let o = train(&ds, &reference, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // 2 MB: a few of this model's checkpoints (about 0.8 MB each) fill it.
    let run = disk.0.join("run");
    let o = train(&ds, &run, false);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the run should have met a full disk");
    assert!(!err.contains("panicked"), "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains("the disk is full") && line.contains(s(&run)), "{line}");
    // Nothing torn: the index names a complete checkpoint that loads; no partial temporary
    // folder holds the space; every metrics row is one the roomy run wrote too.
    let idx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint.json")).expect("checkpoint.json")).unwrap();
    let latest = idx["latest"].as_str().expect("a checkpoint before the disk filled").to_string();
    cadenza_model::Weights::load(&run.join("checkpoints").join(&latest)).unwrap();
    for name in idx["all"].as_array().unwrap() {
        let c = run.join("checkpoints").join(name.as_str().unwrap());
        for f in ["model.json", "weights.ckpt", "module.bpk", "optimizer.bpk", "state.json"] {
            assert!(c.join(f).is_file(), "{} lacks {f}", c.display());
        }
    }
    assert_eq!(hidden(&run), Vec::<PathBuf>::new(), "temporary files left on the full disk");
    let full = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let roomy = std::fs::read_to_string(reference.join("metrics.csv")).unwrap();
    let roomy_lines: Vec<&str> = roomy.lines().collect();
    for l in full.lines() {
        assert!(roomy_lines.contains(&l), "metrics row {l:?} is not one the roomy run wrote");
    }

    // Space freed: --resume finishes, bit for bit the roomy run.
    disk.resize("64m");
    let o = train(&ds, &run, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let w = |r: &Path| std::fs::read(r.join("checkpoints/ckpt-00000012/weights.ckpt")).unwrap();
    assert!(w(&run) == w(&reference), "the resumed run differs from the uninterrupted one");
    assert_eq!(std::fs::read_to_string(run.join("metrics.csv")).unwrap(), roomy);
    let log = std::fs::read_to_string(run.join("log.txt")).unwrap();
    assert!(log.contains(&format!("resumed from {latest}")), "{log}");
}

#[test]
fn a_full_disk_keeps_the_earlier_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "8m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root); CI runs it");
        return;
    };
    let fugues = cadenza_shared::require("data/asap/Bach/Fugue");
    let out = disk.0.join("ds");
    let build = |extra: &[&str]| {
        let mut a =
            vec!["dataset", s(&fugues), "--out", s(&out), "--stretch", "1", "--eval-ratio", "0.2", "--seed", "1"];
        a.extend(extra);
        run(&a)
    };
    let o = build(&["--transpose", "0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    // Fill the disk but for 300 kB, then rebuild in three keys over it.
    let used: u64 = before.iter().map(|(_, b)| b.len() as u64).sum();
    let ballast = disk.0.join("ballast");
    std::fs::write(&ballast, vec![0u8; (8 << 20) - used as usize - 300_000 - 64 * 1024])
        .unwrap_or_else(|e| panic!("{e}"));
    let o = build(&["--transpose", "-1..1", "--force"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the build should have met a full disk");
    assert!(!err.contains("panicked"), "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains("the disk is full") && line.contains(s(&disk.0)), "{line}");
    // The earlier dataset, byte for byte; no half-built folder beside it.
    for (p, b) in &before {
        assert!(std::fs::read(p).unwrap() == *b, "{} changed", p.display());
    }
    assert_eq!(hidden(&disk.0), Vec::<PathBuf>::new());
    // Space freed: the rebuild goes through.
    std::fs::remove_file(&ballast).unwrap();
    let o = build(&["--transpose", "-1..1", "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
