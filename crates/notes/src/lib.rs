//! The note model shared by every Cadenza stage.
//!
//! `NoteSequence` mirrors the fields of Magenta's `note_seq.NoteSequence` proto that the
//! Performance RNN pipeline reads, as plain Rust values: no protobuf, no global state.
//! Times are `f64` seconds because Magenta's are proto doubles and quantisation
//! (`int(t * 100 + 0.5)`) must see the same bits to land on the same step.
#![forbid(unsafe_code)]

pub mod transform;

use serde::{Deserialize, Serialize};

pub use transform::{QuantizedNote, QuantizedSequence, TransformError};

/// MIDI controller numbers of the pedals Magenta keeps across split points.
pub const CC_SUSTAIN: u8 = 64;
pub const CC_SOSTENUTO: u8 = 66;
pub const CC_SOFT: u8 = 67;

/// One sounding note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub pitch: u8,
    pub velocity: u8,
    /// Onset in seconds from the start of the sequence.
    pub start: f64,
    /// Release in seconds (exclusive).
    pub end: f64,
    /// Magenta's `instrument`: for MIDI the index of the pretty_midi instrument, for
    /// MusicXML the MIDI channel of the part.
    pub instrument: u32,
    pub program: u32,
    pub is_drum: bool,
    /// Index of the MusicXML part (0 for MIDI).
    pub part: u32,
    /// MusicXML voice (1 when unknown).
    pub voice: u32,
}

impl Note {
    pub fn new(pitch: u8, velocity: u8, start: f64, end: f64) -> Self {
        Note { pitch, velocity, start, end, instrument: 0, program: 0, is_drum: false, part: 0, voice: 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tempo {
    pub time: f64,
    /// Quarter notes per minute.
    pub qpm: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub time: f64,
    pub numerator: u32,
    pub denominator: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Major,
    Minor,
    /// A church mode or `none`, kept so that nothing claims a key it does not have.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeySignature {
    pub time: f64,
    /// Pitch class of the tonic, 0 = C .. 11 = B.
    pub key: u8,
    pub mode: Mode,
}

impl KeySignature {
    /// Tonic from a circle-of-fifths count (`<fifths>`, MIDI key-signature `sf`).
    pub fn from_fifths(time: f64, fifths: i32, mode: Mode) -> Self {
        let major_tonic = (fifths * 7).rem_euclid(12);
        let key = match mode {
            Mode::Minor => (major_tonic + 9) % 12,
            _ => major_tonic,
        } as u8;
        KeySignature { time, key, mode }
    }

    pub fn name(&self) -> String {
        const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
        let mode = match self.mode {
            Mode::Major => "major",
            Mode::Minor => "minor",
            Mode::Other => "modal",
        };
        format!("{} {}", NAMES[self.key as usize % 12], mode)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ControlChange {
    pub time: f64,
    pub controller: u8,
    pub value: u8,
    pub instrument: u32,
    pub program: u32,
    pub is_drum: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Midi,
    MusicXml,
    Generated,
    #[default]
    Unknown,
}

/// Where a sequence came from, so every stage downstream can name it in errors and stats.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceInfo {
    pub path: String,
    pub kind: SourceKind,
    pub title: Option<String>,
    pub composer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NoteSequence {
    /// Notes in the order the importer produced them. Order matters for exact
    /// Magenta compatibility: its sorts are stable.
    pub notes: Vec<Note>,
    pub tempos: Vec<Tempo>,
    pub time_signatures: Vec<TimeSignature>,
    pub key_signatures: Vec<KeySignature>,
    pub control_changes: Vec<ControlChange>,
    /// End of the sequence in seconds (Magenta's `total_time`).
    pub total_time: f64,
    /// MIDI resolution the sequence was read with (220 when made by Magenta's decoder).
    pub ticks_per_quarter: u32,
    pub source: SourceInfo,
}

impl NoteSequence {
    pub fn new() -> Self {
        NoteSequence { ticks_per_quarter: 220, ..Default::default() }
    }

    /// Distinct programs among the notes, in first-seen order.
    pub fn programs(&self) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for n in &self.notes {
            if !out.contains(&n.program) {
                out.push(n.program);
            }
        }
        out
    }

    /// The key in force at `time`, if the source declared one.
    pub fn key_at(&self, time: f64) -> Option<KeySignature> {
        let mut best: Option<KeySignature> = None;
        for k in &self.key_signatures {
            if k.time <= time && best.is_none_or(|b| k.time >= b.time) {
                best = Some(*k);
            }
        }
        best
    }

    /// Latest note end, or 0 for an empty sequence.
    pub fn notes_end(&self) -> f64 {
        self.notes.iter().map(|n| n.end).fold(0.0, f64::max)
    }
}
