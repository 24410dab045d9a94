//! Pieces and the train/eval split.
//!
//! The split is made per *piece* before any augmentation: a piece is a score together with
//! all its performances (ASAP's `metadata.csv` folder when present, else the file), so no
//! transposed, stretched or re-performed copy of an eval piece can leak into training.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Piece id of every file: the ASAP folder for files listed in a `metadata.csv` found in an
/// input folder, otherwise the file path without its extension.
pub fn piece_ids(inputs: &[PathBuf], files: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let mut folders: Vec<(PathBuf, String)> = Vec::new(); // (absolute folder, piece id)
    for input in inputs {
        let meta = input.join("metadata.csv");
        let Ok(text) = std::fs::read_to_string(&meta) else { continue };
        let mut lines = text.lines();
        let Some(header) = lines.next() else { continue };
        let cols: Vec<&str> = header.split(',').collect();
        let Some(fi) = cols.iter().position(|c| c.trim() == "folder") else { continue };
        for line in lines {
            // ASAP's folder column never contains commas or quotes.
            if let Some(folder) = line.split(',').nth(fi) {
                let folder = folder.trim();
                if !folder.is_empty() {
                    folders.push((input.join(folder), folder.to_string()));
                }
            }
        }
    }
    folders.sort();
    folders.dedup();
    let mut out = BTreeMap::new();
    for f in files {
        let id = folders
            .iter()
            .filter(|(dir, _)| f.parent() == Some(dir.as_path()))
            .map(|(_, id)| id.clone())
            .next()
            .unwrap_or_else(|| file_piece_id(f));
        out.insert(f.clone(), id);
    }
    out
}

fn file_piece_id(f: &Path) -> String {
    f.with_extension("").display().to_string()
}

/// Eval pieces: a seeded shuffle of the sorted piece ids, the first `round(ratio·n)` of them
/// (at least one when the ratio is positive and there are two pieces or more).
pub fn eval_pieces(pieces: &BTreeSet<String>, eval_ratio: f64, seed: u64) -> BTreeSet<String> {
    let mut ids: Vec<&String> = pieces.iter().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    ids.shuffle(&mut rng);
    let n = pieces.len();
    let mut k = (eval_ratio * n as f64).round() as usize;
    if eval_ratio > 0.0 && k == 0 && n >= 2 {
        k = 1;
    }
    k = k.min(n);
    ids.into_iter().take(k).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_and_sized() {
        let pieces: BTreeSet<String> = (0..50).map(|i| format!("p{i}")).collect();
        let a = eval_pieces(&pieces, 0.1, 7);
        assert_eq!(a.len(), 5);
        assert_eq!(a, eval_pieces(&pieces, 0.1, 7));
        assert_ne!(a, eval_pieces(&pieces, 0.1, 8));
        assert_eq!(eval_pieces(&pieces, 0.0, 7).len(), 0);
        let two: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        assert_eq!(eval_pieces(&two, 0.1, 1).len(), 1);
    }
}
