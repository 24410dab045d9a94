//! Files → notes: one entry point for every music file a user may hand Cadenza (MIDI,
//! MusicXML plain or compressed), dispatched by extension. Generation's primers, evaluation
//! and the CLI read files here without the dataset stage.
#![forbid(unsafe_code)]

use cadenza_notes::NoteSequence;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Reproduce note-seq's MusicXML import bugs and all, to match Magenta's examples.
    pub magenta_compat: bool,
    /// Play MusicXML repeats and voltas.
    pub expand_repeats: bool,
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Midi(#[from] cadenza_midi::MidiError),
    #[error(transparent)]
    MusicXml(#[from] cadenza_musicxml::MusicXmlError),
    #[error("{0}: unsupported file type (expected .mid, .midi, .xml, .musicxml or .mxl)")]
    Unsupported(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Midi,
    MusicXml,
}

pub fn file_kind(path: &Path) -> Option<FileKind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "mid" | "midi" => Some(FileKind::Midi),
        "xml" | "musicxml" | "mxl" => Some(FileKind::MusicXml),
        _ => None,
    }
}

/// Reads a MIDI or MusicXML file; warnings (skipped unpitched notes, …) come back beside it.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<(NoteSequence, Vec<String>), LoadError> {
    match file_kind(path) {
        Some(FileKind::Midi) => Ok((cadenza_midi::read_file(path)?, Vec::new())),
        Some(FileKind::MusicXml) => {
            let o = cadenza_musicxml::ImportOptions {
                magenta_compat: opts.magenta_compat,
                expand_repeats: opts.expand_repeats,
            };
            let imported = cadenza_musicxml::read_file(path, &o)?;
            Ok((imported.sequence, imported.warnings))
        }
        None => Err(LoadError::Unsupported(path.display().to_string())),
    }
}

/// Every music file under `inputs` (files or folders, recursively), sorted, so a build is
/// reproducible whatever order the file system lists them in.
pub fn collect_files(inputs: &[std::path::PathBuf]) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    fn walk(p: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
        if p.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(p)?.collect::<Result<_, _>>()?;
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                walk(&e.path(), out)?;
            }
        } else if file_kind(p).is_some() {
            out.push(p.to_path_buf());
        }
        Ok(())
    }
    for i in inputs {
        if !i.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", i.display()),
            ));
        }
        if i.is_file() && file_kind(i).is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{}: not a MIDI or MusicXML file", i.display()),
            ));
        }
        walk(i, &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASAP: &str = "data/asap/Bach/Prelude/bwv_846";

    #[test]
    fn dispatches_by_extension_and_names_unsupported_files() {
        let dir = cadenza_shared::require(ASAP);
        let (perf, _) = load_file(&dir.join("Shi05M.mid"), &LoadOptions::default()).unwrap();
        let (score, _) = load_file(&dir.join("xml_score.mxl"), &LoadOptions::default()).unwrap();
        assert!(perf.notes.len() > 500 && score.notes.len() > 500, "{} {}", perf.notes.len(), score.notes.len());
        assert_eq!(file_kind(Path::new("a.MXL")), Some(FileKind::MusicXml));
        let t = tempfile::tempdir().unwrap();
        let txt = t.path().join("notes.txt");
        std::fs::write(&txt, "x").unwrap();
        let err = load_file(&txt, &LoadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("notes.txt") && err.contains("unsupported"), "{err}");
        let files = collect_files(std::slice::from_ref(&dir)).unwrap();
        assert!(files.iter().any(|f| f.ends_with("Shi05M.mid")) && files.windows(2).all(|w| w[0] < w[1]));
        assert!(collect_files(&[txt]).is_err());
    }
}
