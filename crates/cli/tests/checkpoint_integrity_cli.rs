//! Checkpoints that prove their bytes, through the binary on real data: a byte flipped in any
//! file of a checkpoint is named, and `train --resume` falls back to the newest intact one
//! (bit for bit the run that was never damaged); with none intact it stops naming each file;
//! checkpoints without checksums still resume; a flipped byte in a `.mag`'s weights is refused.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Output;

const TRAIN: [&str; 10] =
    ["--batch-size", "8", "--layers", "16", "--eval-every", "1000", "--checkpoint-every", "2", "--keep", "10"];

fn dataset(dir: &Path) -> PathBuf {
    let out = dir.join("ds");
    let fugues = shared().join("data/asap/Bach/Fugue");
    let o =
        run(&["dataset", s(&fugues), "--out", s(&out), "--transpose", "0", "--stretch", "1", "--eval-ratio", "0.2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn train(ds: &Path, run_dir: &Path, steps: &str, resume: bool) -> Output {
    let mut args = vec!["train", "--dataset", s(ds), "--run-dir", s(run_dir), "--steps", steps];
    args.extend(TRAIN);
    if resume {
        args.push("--resume");
    }
    run(&args)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Flips four bytes in the middle of a file.
fn flip(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let at = b.len() / 2;
    for x in &mut b[at..at + 4] {
        *x ^= 0x21;
    }
    std::fs::write(path, b).unwrap();
}

fn weights(run_dir: &Path, ckpt: &str) -> Vec<u8> {
    std::fs::read(run_dir.join("checkpoints").join(ckpt).join("weights.ckpt")).unwrap()
}

/// A run to step 6 and a run stopped at step 4 (checkpoints at 2 and 4), in `tmp`.
fn straight_and_half(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ds = dataset(tmp);
    let straight = tmp.join("straight");
    let o = train(&ds, &straight, "6", false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let half = tmp.join("half");
    let o = train(&ds, &half, "4", false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (ds, straight, half)
}

#[test]
fn a_damaged_checkpoint_file_is_named_and_resume_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, straight, half) = straight_and_half(tmp.path());
    for file in ["module.bpk", "optimizer.bpk", "weights.ckpt", "model.json", "state.json", "checksums.json"] {
        let r = tmp.path().join(format!("damaged-{file}"));
        copy_dir(&half, &r);
        let damaged = r.join("checkpoints/ckpt-00000004").join(file);
        flip(&damaged);
        let o = train(&ds, &r, "6", true);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{file}: {err}");
        // The file is named; a damaged manifest may instead make another file's sum differ,
        // and the warning then says which file and that checksums.json disagrees.
        let named = if file == "checksums.json" {
            format!("warning: {}/", damaged.parent().unwrap().display())
        } else {
            format!("warning: {}: ", damaged.display())
        };
        let warned = |l: &&str| l.starts_with(&named) && l.contains("ckpt-00000004") && l.contains("checksums.json");
        let warning = err.lines().find(warned).unwrap_or_else(|| panic!("{file}: no warning naming it: {err}"));
        let log = std::fs::read_to_string(r.join("log.txt")).unwrap();
        assert!(log.contains(warning.trim_start_matches("warning: ")), "{file}: {log}");
        assert!(log.contains("resumed from ckpt-00000002 at step 2"), "{file}: {log}");
        // From the intact checkpoint on, bit for bit the run that was never damaged.
        assert!(weights(&r, "ckpt-00000006") == weights(&straight, "ckpt-00000006"), "{file}: the run differs");
        let idx = read_json(&r.join("checkpoint.json"));
        assert_eq!(idx["latest"], "ckpt-00000006", "{idx}");
        cadenza_model::Weights::load(&r.join("best")).unwrap();
    }
}

#[test]
fn with_no_intact_checkpoint_resume_stops_naming_each_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, _, half) = straight_and_half(tmp.path());
    let a = half.join("checkpoints/ckpt-00000004/optimizer.bpk");
    let b = half.join("checkpoints/ckpt-00000002/state.json");
    flip(&a);
    flip(&b);
    let o = train(&ds, &half, "6", true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains("no checkpoint is intact"), "{line}");
    assert!(line.contains(&format!("{}: damaged", a.display())), "{line}");
    assert!(line.contains(&format!("{}: damaged", b.display())), "{line}");
    assert!(!half.join("checkpoints/ckpt-00000006").exists());
}

/// Checkpoints written before checksums existed resume as they did; one of them whose
/// module holds a NaN (the flip the checksums would have caught) is passed over.
#[test]
fn checkpoints_without_checksums_resume_and_a_non_finite_one_is_passed_over() {
    let tmp = tempfile::tempdir().unwrap();
    let (ds, straight, half) = straight_and_half(tmp.path());
    for c in ["ckpt-00000002", "ckpt-00000004"] {
        std::fs::remove_file(half.join("checkpoints").join(c).join("checksums.json")).unwrap();
    }
    let plain = tmp.path().join("plain");
    copy_dir(&half, &plain);
    let o = train(&ds, &plain, "6", true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
    assert!(std::fs::read_to_string(plain.join("log.txt")).unwrap().contains("resumed from ckpt-00000004 at step 4"));
    assert!(weights(&plain, "ckpt-00000006") == weights(&straight, "ckpt-00000006"));

    // A weight of ckpt-4's module (as its weights.ckpt holds it too) made NaN.
    let ckpt = half.join("checkpoints/ckpt-00000004");
    let w = cadenza_model::Weights::load(&ckpt).unwrap();
    let module = ckpt.join("module.bpk");
    let mut bytes = std::fs::read(&module).unwrap();
    let pattern = w.kernels[0][5].to_le_bytes();
    let at: Vec<usize> = bytes.windows(4).enumerate().filter(|(_, x)| *x == pattern).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "the weight's bytes are found once in {}", module.display());
    bytes[at[0]..at[0] + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&module, bytes).unwrap();
    let o = train(&ds, &half, "6", true);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let warning = format!("warning: {}: tensor ", module.display());
    assert!(err.lines().any(|l| l.starts_with(&warning) && l.contains("non-finite")), "{err}");
    assert!(std::fs::read_to_string(half.join("log.txt")).unwrap().contains("resumed from ckpt-00000002 at step 2"));
    assert!(weights(&half, "ckpt-00000006") == weights(&straight, "ckpt-00000006"));
    cadenza_model::Weights::load(&half.join("best")).unwrap();
}

/// The `.mag` format carries a CRC32C per block of its checkpoint table: a flipped byte in
/// the weights is refused, naming the file.
#[test]
fn a_flipped_byte_in_a_mag_bundles_weights_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let fixture = shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag");
    let mut bytes = std::fs::read(&fixture).unwrap();
    let bundle = cadenza_mag::Bundle::from_bytes(&bytes, "fixture").unwrap();
    let ck = bundle.checkpoint_bytes();
    let start = bytes.windows(64).position(|w| w == &ck[..64]).expect("the checkpoint inside the bundle");
    assert_eq!(&bytes[start..start + ck.len()], ck);
    let block = cadenza_mag::table::Table::open(ck).unwrap().index()[0].1;
    bytes[start + block.offset as usize + block.size as usize / 2] ^= 0x10;
    let flipped = tmp.path().join("flipped.mag");
    std::fs::write(&flipped, bytes).unwrap();
    let r = tmp.path().join("run");
    let mut args = vec!["train", "--dataset", s(&ds), "--run-dir", s(&r), "--steps", "2", "--init", s(&flipped)];
    args.extend(["--batch-size", "8"]);
    let o = run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    let line = err.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(line.contains(s(&flipped)) && line.contains("CRC32C mismatch"), "{line}");
    assert!(!r.join("checkpoints").exists());
}
