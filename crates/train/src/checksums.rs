//! Checkpoints that prove their bytes: `checksums.json`, written last into every checkpoint
//! folder, holds each file's length and CRC32C (as TensorFlow keeps one per tensor); resuming
//! checks them and names the file that differs. A checkpoint without the file (one written
//! before it existed) is read unchecked.

use crate::error::{ferr, write_json_atomic, TrainError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest's name in a checkpoint folder.
pub const MANIFEST: &str = "checksums.json";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    /// Always `crc32c` (Castagnoli, unmasked).
    algorithm: String,
    files: BTreeMap<String, FileSum>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct FileSum {
    bytes: u64,
    crc32c: u32,
}

fn sum(path: &Path) -> std::io::Result<FileSum> {
    let bytes = std::fs::read(path)?;
    Ok(FileSum { bytes: bytes.len() as u64, crc32c: crc32c::crc32c(&bytes) })
}

/// Reads `files` of `dir` back and writes their checksums to `dir/checksums.json`.
pub fn write(dir: &Path, files: &[&str]) -> Result<(), TrainError> {
    let mut sums = BTreeMap::new();
    for f in files {
        let p = dir.join(f);
        sums.insert(f.to_string(), sum(&p).map_err(|e| ferr(&p, e))?);
    }
    write_json_atomic(&dir.join(MANIFEST), &Manifest { algorithm: "crc32c".into(), files: sums })
}

/// Whether a checkpoint folder's files match its manifest: `Ok(true)` when they do,
/// `Ok(false)` when it has no manifest, and otherwise what differs, naming the file.
pub fn verify(dir: &Path) -> Result<bool, String> {
    let mpath = dir.join(MANIFEST);
    let text = match std::fs::read(&mpath) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(format!("{}: cannot be read: {e}", mpath.display())),
    };
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| format!("{}: damaged: {e}", mpath.display()))?;
    if m.algorithm != "crc32c" {
        return Err(format!("{}: unknown checksum algorithm {:?}", mpath.display(), m.algorithm));
    }
    for (name, want) in &m.files {
        let p = dir.join(name);
        let got = match sum(&p) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("{}: missing (the checkpoint's {MANIFEST} lists it)", p.display()))
            }
            Err(e) => return Err(format!("{}: cannot be read: {e}", p.display())),
        };
        if got.bytes != want.bytes {
            return Err(format!("{}: damaged: {} bytes, {MANIFEST} says {}", p.display(), got.bytes, want.bytes));
        }
        if got.crc32c != want.crc32c {
            return Err(format!(
                "{}: damaged: its CRC32C is 0x{:08x}, {MANIFEST} says 0x{:08x}",
                p.display(),
                got.crc32c,
                want.crc32c
            ));
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each change to a listed file is named: a flipped byte, a cut, a removal; a folder
    /// without a manifest is unchecked, and a damaged manifest is itself named.
    #[test]
    fn a_changed_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        assert_eq!(verify(dir), Ok(false));
        std::fs::write(dir.join("a.bpk"), b"weights weights weights").unwrap();
        std::fs::write(dir.join("state.json"), b"{\"step\": 3}").unwrap();
        write(dir, &["a.bpk", "state.json"]).unwrap();
        assert_eq!(verify(dir), Ok(true));

        let mut b = std::fs::read(dir.join("a.bpk")).unwrap();
        b[3] ^= 0x04;
        std::fs::write(dir.join("a.bpk"), &b).unwrap();
        let e = verify(dir).unwrap_err();
        assert!(e.starts_with(&format!("{}: damaged: its CRC32C", dir.join("a.bpk").display())), "{e}");
        b[3] ^= 0x04;
        std::fs::write(dir.join("a.bpk"), &b[..b.len() - 1]).unwrap();
        assert!(verify(dir).unwrap_err().contains("a.bpk: damaged: 22 bytes, checksums.json says 23"));
        std::fs::write(dir.join("a.bpk"), &b).unwrap();
        assert_eq!(verify(dir), Ok(true));

        std::fs::remove_file(dir.join("state.json")).unwrap();
        assert!(verify(dir).unwrap_err().contains("state.json: missing"));
        std::fs::write(dir.join(MANIFEST), b"{\"algorithm\": \"crc32c\", \"fi").unwrap();
        assert!(verify(dir).unwrap_err().contains("checksums.json: damaged"));
    }
}
