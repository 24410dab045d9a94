//! Pieces and the train/eval split.
//!
//! The split is made per *piece* before any augmentation: a piece is a score together with
//! all its performances, so no transposed, stretched or re-performed copy of an eval piece
//! can leak into training. How files are grouped into pieces is a [`GroupBy`]:
//!
//! * `metadata`: the `folder` column of an ASAP/MAESTRO-style `metadata.csv` found in an input
//!   folder or in any folder above it (so `asap/Bach/Fugue` still finds `asap/metadata.csv`);
//! * `folder`: every file's own folder is one piece;
//! * `file`: every file is its own piece;
//! * `auto` (the default): `metadata` when a `metadata.csv` is found, else a folder that holds
//!   exactly one MusicXML score is one piece (the score with its performances, ASAP's and
//!   MAESTRO's layout), and every other file is its own piece.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How files are grouped into pieces before the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    #[default]
    Auto,
    Metadata,
    Folder,
    File,
}

impl std::str::FromStr for GroupBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(GroupBy::Auto),
            "metadata" => Ok(GroupBy::Metadata),
            "folder" => Ok(GroupBy::Folder),
            "file" => Ok(GroupBy::File),
            _ => Err(format!("unknown grouping '{s}' (expected auto, metadata, folder or file)")),
        }
    }
}

/// Files to leave out: glob patterns (`midi_score.mid`, `xml_score.*`) matched against each
/// file's name (not its folder). An empty pattern matches no file. `cadenza dataset` and
/// `cadenza judge` both take their `--exclude` through this.
#[derive(Debug, Clone, Default)]
pub struct Exclude(Vec<glob::Pattern>);

impl Exclude {
    /// The patterns, compiled; a malformed one is an error that quotes it.
    pub fn new(patterns: &[String]) -> Result<Exclude, String> {
        patterns
            .iter()
            .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad exclude pattern '{p}': {e}")))
            .collect::<Result<_, _>>()
            .map(Exclude)
    }

    /// Whether `file`'s name matches a pattern.
    pub fn excludes(&self, file: &Path) -> bool {
        let name = file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        self.0.iter().any(|p| p.matches(&name))
    }

    /// `files` without the excluded ones, in their order.
    pub fn keep(&self, files: Vec<PathBuf>) -> Vec<PathBuf> {
        files.into_iter().filter(|f| !self.excludes(f)).collect()
    }
}

/// The grouping a build used, as `stats.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// `metadata`, `folder`, `score-folder` (auto without metadata) or `file`.
    pub method: String,
    /// The `metadata.csv` files read, if any.
    pub metadata: Vec<String>,
    /// Pieces found, and how many of them hold more than one file.
    pub pieces: usize,
    pub multi_file_pieces: usize,
}

impl std::fmt::Display for Grouping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pieces grouped by {}", self.method)?;
        if !self.metadata.is_empty() {
            write!(f, " ({})", self.metadata.join(", "))?;
        }
        write!(f, ": {} pieces, {} with more than one file", self.pieces, self.multi_file_pieces)
    }
}

/// `metadata.csv` in `input` (a folder, or a file's folder) or in the nearest folder above it.
fn find_metadata(input: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(input).ok()?;
    let start = if start.is_dir() { start } else { start.parent()?.to_path_buf() };
    start.ancestors().map(|d| d.join("metadata.csv")).find(|m| m.is_file())
}

/// (canonical piece folder, piece id) for every row of a metadata file.
fn metadata_folders(meta: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(text) = std::fs::read_to_string(meta) else { return out };
    let Some(root) = meta.parent() else { return out };
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return out };
    let cols: Vec<&str> = header.split(',').collect();
    let Some(fi) = cols.iter().position(|c| c.trim() == "folder") else { return out };
    for line in lines {
        // ASAP's folder column never contains commas or quotes.
        if let Some(folder) = line.split(',').nth(fi) {
            let folder = folder.trim();
            if !folder.is_empty() {
                out.push((root.join(folder), folder.to_string()));
            }
        }
    }
    out
}

fn is_score(f: &Path) -> bool {
    matches!(
        f.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("xml" | "musicxml" | "mxl")
    )
}

fn canonical_parent(f: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(f).ok()?.parent().map(Path::to_path_buf)
}

/// Piece id of every file under `group_by`, and the grouping used.
pub fn piece_ids(
    inputs: &[PathBuf],
    files: &[PathBuf],
    group_by: GroupBy,
) -> Result<(BTreeMap<PathBuf, String>, Grouping), String> {
    let mut metas: Vec<PathBuf> = Vec::new();
    if matches!(group_by, GroupBy::Auto | GroupBy::Metadata) {
        for input in inputs {
            if let Some(m) = find_metadata(input) {
                if !metas.contains(&m) {
                    metas.push(m);
                }
            }
        }
        if group_by == GroupBy::Metadata && metas.is_empty() {
            let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
            return Err(format!("no metadata.csv in {} or any folder above it", names.join(", ")));
        }
    }
    let mut out = BTreeMap::new();
    let method;
    if !metas.is_empty() {
        method = "metadata";
        let mut folders: BTreeMap<PathBuf, String> = BTreeMap::new();
        for m in &metas {
            folders.extend(metadata_folders(m));
        }
        for f in files {
            let id = canonical_parent(f).and_then(|p| folders.get(&p).cloned()).unwrap_or_else(|| file_piece_id(f));
            out.insert(f.clone(), id);
        }
    } else if group_by == GroupBy::Folder {
        method = "folder";
        for f in files {
            let id =
                f.parent().map(|p| p.display().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(|| ".".into());
            out.insert(f.clone(), id);
        }
    } else if group_by == GroupBy::File {
        method = "file";
        for f in files {
            out.insert(f.clone(), file_piece_id(f));
        }
    } else {
        method = "score-folder";
        let mut scores: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for f in files.iter().filter(|f| is_score(f)) {
            *scores.entry(f.parent().unwrap_or(Path::new("")).to_path_buf()).or_default() += 1;
        }
        for f in files {
            let dir = f.parent().unwrap_or(Path::new(""));
            let id = if scores.get(dir) == Some(&1) { dir.display().to_string() } else { file_piece_id(f) };
            out.insert(f.clone(), id);
        }
    }
    let mut sizes: BTreeMap<&String, usize> = BTreeMap::new();
    for id in out.values() {
        *sizes.entry(id).or_default() += 1;
    }
    let grouping = Grouping {
        method: method.into(),
        metadata: metas.iter().map(|m| m.display().to_string()).collect(),
        pieces: sizes.len(),
        multi_file_pieces: sizes.values().filter(|&&n| n > 1).count(),
    };
    Ok((out, grouping))
}

fn file_piece_id(f: &Path) -> String {
    f.with_extension("").display().to_string()
}

/// Eval pieces: a seeded shuffle of the sorted piece ids, the first `round(ratio·n)` of them
/// (at least one when the ratio is positive and there are two pieces or more).
pub fn eval_pieces(pieces: &BTreeSet<String>, eval_ratio: f64, seed: u64) -> BTreeSet<String> {
    eval_fold(pieces, eval_ratio, seed, 0).unwrap_or_default()
}

/// How many eval pieces a split of `n` pieces at `eval_ratio` holds out.
fn eval_count(n: usize, eval_ratio: f64) -> usize {
    let mut k = (eval_ratio * n as f64).round() as usize;
    if eval_ratio > 0.0 && k == 0 && n >= 2 {
        k = 1;
    }
    k.min(n)
}

/// How many disjoint folds of eval pieces the seeded shuffle holds: `⌊n / k⌋` (0 when the
/// ratio holds nothing out).
pub fn fold_count(pieces: usize, eval_ratio: f64) -> usize {
    match eval_count(pieces, eval_ratio) {
        0 => 0,
        k => pieces / k,
    }
}

/// Eval pieces of cross-validation fold `fold`: the same seeded shuffle as [`eval_pieces`], cut
/// into consecutive blocks of `round(ratio·n)` pieces; fold `f` holds out block `f`. Fold 0 is
/// [`eval_pieces`]' split, and different folds never share a piece, so a result measured on
/// one fold can be checked on pieces it never saw. `None` when the fold is past the last whole
/// block ([`fold_count`]).
pub fn eval_fold(pieces: &BTreeSet<String>, eval_ratio: f64, seed: u64, fold: usize) -> Option<BTreeSet<String>> {
    let mut ids: Vec<&String> = pieces.iter().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    ids.shuffle(&mut rng);
    let k = eval_count(pieces.len(), eval_ratio);
    if k == 0 {
        return (fold == 0).then(BTreeSet::new);
    }
    let block = ids.get(fold.checked_mul(k)?..fold.checked_add(1)?.checked_mul(k)?)?;
    Some(block.iter().map(|s| (*s).clone()).collect())
}

/// The pieces held out by folder: every piece with a file under one of `folders` (compared as
/// canonical paths). An error when a folder holds none of the files, or when nothing would be
/// left to train on.
pub fn eval_from(pieces_of: &BTreeMap<PathBuf, String>, folders: &[PathBuf]) -> Result<BTreeSet<String>, String> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut eval = BTreeSet::new();
    for dir in folders {
        let d = canon(dir);
        let found: Vec<&String> =
            pieces_of.iter().filter(|(f, _)| canon(f).starts_with(&d)).map(|(_, piece)| piece).collect();
        if found.is_empty() {
            return Err(format!("--eval-from {}: none of the dataset's files is under it", dir.display()));
        }
        eval.extend(found.into_iter().cloned());
    }
    let all: BTreeSet<&String> = pieces_of.values().collect();
    if eval.len() == all.len() {
        return Err("every piece would be held out: nothing is left to train on".into());
    }
    Ok(eval)
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

    /// Folds are disjoint blocks of one shuffle: fold 0 is the plain split, every piece is held
    /// out by exactly one of the ⌊n/k⌋ folds, and a fold past the last is refused.
    #[test]
    fn folds_partition_the_pieces() {
        let pieces: BTreeSet<String> = (0..20).map(|i| format!("p{i:02}")).collect();
        assert_eq!(fold_count(20, 0.1), 10);
        assert_eq!(eval_fold(&pieces, 0.1, 0, 0).unwrap(), eval_pieces(&pieces, 0.1, 0));
        let mut seen = BTreeSet::new();
        for f in 0..10 {
            let e = eval_fold(&pieces, 0.1, 0, f).unwrap();
            assert_eq!(e.len(), 2, "fold {f}");
            for p in e {
                assert!(seen.insert(p.clone()), "{p} held out by two folds");
            }
        }
        assert_eq!(seen, pieces);
        assert!(eval_fold(&pieces, 0.1, 0, 10).is_none());
        assert!(eval_fold(&pieces, 0.1, 0, usize::MAX).is_none());
        // 21 pieces at 0.1: blocks of 2, ten whole folds, one piece never held out.
        let odd: BTreeSet<String> = (0..21).map(|i| format!("p{i:02}")).collect();
        assert_eq!(fold_count(21, 0.1), 10);
        assert!(eval_fold(&odd, 0.1, 3, 9).is_some() && eval_fold(&odd, 0.1, 3, 10).is_none());
    }
}
