//! The speed of the eval-branch dataset build, against the time Magenta needs just to parse
//! the same files.

use crate::{build, collect_files, file_kind, io_err, BuildOptions, DatasetError, FileKind, Stats};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Magenta's note-seq parse time per file on this machine (issue #2): 0.10 s per MusicXML
/// file and 0.067 s per MIDI file, before any pipeline work.
pub const MAGENTA_SECONDS_PER_XML: f64 = 0.10;
pub const MAGENTA_SECONDS_PER_MIDI: f64 = 0.067;

/// The best of several timed builds of one folder.
#[derive(Debug, Clone)]
pub struct DataBench {
    pub files: usize,
    pub musicxml: usize,
    pub midi: usize,
    /// The best wall time, seconds.
    pub seconds: f64,
    /// The last build's statistics.
    pub stats: Stats,
}

impl DataBench {
    /// What Magenta spends parsing the same files, before any pipeline work.
    pub fn magenta_parse_seconds(&self) -> f64 {
        self.musicxml as f64 * MAGENTA_SECONDS_PER_XML + self.midi as f64 * MAGENTA_SECONDS_PER_MIDI
    }
}

/// Builds the eval-branch dataset (no augmentation) of every MIDI and MusicXML file under
/// `dir` except ASAP's score MIDIs (`midi_score.mid`) `runs` times (at least once), each in a
/// fresh temporary folder, and keeps the best time.
pub fn bench_build(dir: &Path, runs: usize) -> Result<DataBench, DatasetError> {
    let files: Vec<PathBuf> = collect_files(&[dir.to_path_buf()])
        .map_err(|e| DatasetError::Input(e.to_string()))?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "midi_score.mid"))
        .collect();
    let musicxml = files.iter().filter(|p| file_kind(p) == Some(FileKind::MusicXml)).count();
    if files.is_empty() {
        return Err(DatasetError::Input(format!("{}: no MIDI or MusicXML files", dir.display())));
    }
    let opts = BuildOptions { transpositions: vec![0], stretches: vec![1.0], ..Default::default() };
    let mut best = f64::INFINITY;
    let mut stats = None;
    for _ in 0..runs.max(1) {
        let tmp = tempfile::Builder::new().prefix("cadenza-bench-").tempdir().map_err(io_err(&std::env::temp_dir()))?;
        let out = tmp.path().join("bench");
        let t = Instant::now();
        let s = build(&files, &out, &opts)?;
        best = best.min(t.elapsed().as_secs_f64());
        stats = Some(s);
    }
    let stats = stats.expect("at least one run");
    Ok(DataBench { files: files.len(), musicxml, midi: files.len() - musicxml, seconds: best, stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_build_counts_and_times_a_folder() {
        let dir = cadenza_shared::require("data/asap/Bach/Fugue/bwv_846");
        let b = bench_build(&dir, 1).unwrap();
        assert!(b.files > 0 && b.musicxml == 1 && b.midi == b.files - 1, "{b:?}");
        assert!(b.seconds > 0.0 && b.stats.train.examples + b.stats.eval.examples > 0);
        let want = MAGENTA_SECONDS_PER_XML + b.midi as f64 * MAGENTA_SECONDS_PER_MIDI;
        assert!((b.magenta_parse_seconds() - want).abs() < 1e-12);
        let empty = tempfile::tempdir().unwrap();
        assert!(bench_build(empty.path(), 1).unwrap_err().to_string().contains("no MIDI or MusicXML files"));
    }
}
