//! What every CLI test file needs: the binary, the shared data, paths as arguments, JSON.
// Each test file is its own crate and uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `cadenza` binary under test.
pub fn cadenza() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadenza"))
}

/// Runs `cadenza ARGS` and returns what it did (success is the caller's to check).
pub fn run(args: &[&str]) -> Output {
    cadenza().args(args).output().unwrap()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The shared data folder (`CADENZA_SHARED`, else `../shared`), which must hold ASAP.
pub fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "no data/asap in the shared folder {}", p.display());
    p
}

/// ASAP in the shared folder.
pub fn asap() -> PathBuf {
    shared().join("data/asap")
}

pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}
