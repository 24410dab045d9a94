//! MusicXML (`.xml`, `.musicxml`, `.mxl`) to `NoteSequence`.
//!
//! Two readings of the same file, because Cadenza needs both:
//!
//! * **Default**: what a musician would play. Ties make one note, grace notes take real
//!   time from their neighbours, chords keep their own lengths, one tempo map (from `<sound
//!   tempo>` and `<metronome>` in any part) times every part, dynamics marks set velocities,
//!   transposing instruments sound at concert pitch, repeats can be expanded. Problems in
//!   the music become warnings; only a file that cannot be read as a score is an error.
//! * **`magenta_compat`**: exactly what note-seq 0.0.5's `musicxml_file_to_sequence_proto`
//!   produces (same notes, order and f64 bits), bugs included, so that examples built from
//!   it match Magenta's index for index. Where note-seq raises, this mode returns an error.
//!
//! Both modes refuse oversized, bomb-like or malformed input with an error and never panic.
#![forbid(unsafe_code)]

mod compat;
mod container;
mod rational;
mod repeats;
mod score;
mod xmlutil;

use cadenza_notes::NoteSequence;
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Reproduce note-seq bit for bit instead of reading the score correctly.
    pub magenta_compat: bool,
    /// Play repeats, voltas and D.C./D.S. jumps (default mode only: note-seq reads straight
    /// through, so compat mode ignores this with a warning).
    pub expand_repeats: bool,
}

#[derive(Debug, Clone)]
pub struct Imported {
    pub sequence: NoteSequence,
    /// Things the importer skipped or guessed, each once with a count; empty for a clean file.
    pub warnings: Vec<String>,
}

/// Every error names the file it is about, so a batch import can report it as is.
#[derive(Debug, thiserror::Error)]
pub enum MusicXmlError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Empty input, a broken zip, a missing or ambiguous `container.xml`, an undecodable text.
    #[error("{file}: {reason}")]
    Container { file: String, reason: String },
    /// Refused before it could exhaust memory.
    #[error("{file}: too large: {reason}")]
    TooLarge { file: String, reason: String },
    #[error("{file}: malformed XML: {reason}")]
    Xml { file: String, reason: String },
    /// Well-formed XML that is not a score-partwise MusicXML document.
    #[error("{file}: not a MusicXML score: {reason}")]
    NotMusicXml { file: String, reason: String },
    /// A score whose content cannot be turned into notes (default mode).
    #[error("{file}: {reason}")]
    Score { file: String, reason: String },
    /// Compat mode only: note-seq raises on this file (or would produce NaN or out-of-range
    /// values that a `NoteSequence` cannot hold).
    #[error("{file}: note-seq rejects this file: {reason}")]
    MagentaRejects { file: String, reason: String },
}

impl MusicXmlError {
    pub fn file(&self) -> &str {
        match self {
            MusicXmlError::Io { file, .. }
            | MusicXmlError::Container { file, .. }
            | MusicXmlError::TooLarge { file, .. }
            | MusicXmlError::Xml { file, .. }
            | MusicXmlError::NotMusicXml { file, .. }
            | MusicXmlError::Score { file, .. }
            | MusicXmlError::MagentaRejects { file, .. } => file,
        }
    }
}

/// An error before the file name is attached.
#[derive(Debug)]
pub(crate) enum Fail {
    Container(String),
    TooLarge(String),
    Xml(String),
    NotMusicXml(String),
    Score(String),
    Magenta(String),
}

impl Fail {
    fn with_file(self, file: &str) -> MusicXmlError {
        let file = file.to_string();
        match self {
            Fail::Container(reason) => MusicXmlError::Container { file, reason },
            Fail::TooLarge(reason) => MusicXmlError::TooLarge { file, reason },
            Fail::Xml(reason) => MusicXmlError::Xml { file, reason },
            Fail::NotMusicXml(reason) => MusicXmlError::NotMusicXml { file, reason },
            Fail::Score(reason) => MusicXmlError::Score { file, reason },
            Fail::Magenta(reason) => MusicXmlError::MagentaRejects { file, reason },
        }
    }
}

/// Warnings deduplicated in first-seen order, so a score with 500 unpitched notes says so
/// once, with the count.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<(String, usize)>,
    index: std::collections::HashMap<String, usize>,
}

impl Warnings {
    pub fn push(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        if let Some(&i) = self.index.get(&msg) {
            self.list[i].1 += 1;
        } else {
            self.index.insert(msg.clone(), self.list.len());
            self.list.push((msg, 1));
        }
    }

    fn finish(self) -> Vec<String> {
        self.list.into_iter().map(|(m, n)| if n > 1 { format!("{m} (x{n})") } else { m }).collect()
    }
}

pub fn read_file(path: &Path, opts: &ImportOptions) -> Result<Imported, MusicXmlError> {
    let file = path.display().to_string();
    let io = |source| MusicXmlError::Io { file: file.clone(), source };
    let f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len > container::MAX_BYTES {
        return Err(Fail::TooLarge(format!("{len} bytes (limit {} MiB)", container::MAX_BYTES >> 20)).with_file(&file));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(container::MAX_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    read_bytes(&bytes, &file, opts)
}

/// `name` is the file's name or path: it is used in errors and `SourceInfo`, and its
/// `.mxl` extension (or zip magic in `bytes`) selects the compressed container.
pub fn read_bytes(bytes: &[u8], name: &str, opts: &ImportOptions) -> Result<Imported, MusicXmlError> {
    let mut warnings = Warnings::default();
    let mut sequence = import(bytes, name, opts, &mut warnings).map_err(|f| f.with_file(name))?;
    sequence.source.path = name.to_string();
    sequence.source.kind = cadenza_notes::SourceKind::MusicXml;
    Ok(Imported { sequence, warnings: warnings.finish() })
}

fn import(bytes: &[u8], name: &str, opts: &ImportOptions, warnings: &mut Warnings) -> Result<NoteSequence, Fail> {
    let strict = opts.magenta_compat;
    let original = container::load(bytes, name, strict, warnings)?;
    let text = container::strip_indentation(&original);
    let doc = match container::parse_xml(&text) {
        Ok(doc) => doc,
        // Report the error at its place in the file as written.
        Err(e) => return Err(Fail::Xml(container::parse_xml(&original).err().unwrap_or(e))),
    };
    drop(original);
    let root = doc.root_element();
    match root.tag_name().name() {
        "score-partwise" => {}
        "score-timewise" => {
            return Err(Fail::NotMusicXml(
                "score-timewise is not supported (convert it to score-partwise, e.g. with the MusicXML XSLT)".into(),
            ))
        }
        other => return Err(Fail::NotMusicXml(format!("root element is <{other}>, not <score-partwise>"))),
    }
    let mut seq = if opts.magenta_compat {
        if opts.expand_repeats {
            warnings.push("expand_repeats is ignored in magenta_compat mode (note-seq reads straight through)");
        }
        compat::import(root).map_err(Fail::Magenta)?
    } else {
        score::import(root, opts.expand_repeats, warnings)?
    };
    let (title, composer) = container::title_and_composer(root);
    seq.source.title = title;
    seq.source.composer = composer;
    Ok(seq)
}
