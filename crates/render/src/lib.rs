//! A `NoteSequence` out to people: a piano-roll picture, audio, a score.
//!
//! * [`roll`]: piano-roll PNG (pitch × time, velocity as colour), drawn pixel by pixel and
//!   encoded with the `png` crate: no fonts, no system libraries.
//! * [`audio`]: WAV through a SoundFont with `rustysynth` (pure Rust) and `hound`; FLAC with
//!   `flacenc` (pure Rust).
//! * [`score`]: MusicXML 4.0 partwise of the notes quantised to a 16th grid in 4/4, on a
//!   grand staff, that MuseScore opens and Cadenza's importer reads back.
//!
//! * [`sample`]: one generated sample's MIDI file and, as asked, its picture, score and audio.
//!
//! Every file is written atomically: a temporary file beside the target, then a rename.
#![forbid(unsafe_code)]

pub mod audio;
pub mod chart;
pub mod roll;
pub mod sample;
pub mod score;

pub use audio::{
    default_soundfont, flac_bytes, load_soundfont, piano_soundfont, piano_soundfont_loaded, render_audio,
    sine_soundfont, sine_soundfont_loaded, soundfont_or_builtin, wav_bytes, write_wav, AudioOptions, PlayingSoundFont,
    DEBIAN_SOUNDFONT,
};
pub use roll::{piano_roll_png, write_piano_roll, RollOptions};
/// The loaded SoundFont type `load_soundfont` returns.
pub use rustysynth::SoundFont;
pub use sample::{write_sample, SampleOutputs, WrittenSample};
pub use score::{escape_html, musicxml_string, write_musicxml, ScoreOptions};

use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no SoundFont at {0}; install one with `apt-get install fluid-soundfont-gm` (Debian/Ubuntu) or give another SoundFont file")]
    NoSoundFont(String),
    #[error("SoundFont {path}: {msg}")]
    SoundFont { path: String, msg: String },
    #[error("synthesizer: {0}")]
    Synth(String),
    #[error("PNG: {0}")]
    Png(String),
    #[error("WAV: {0}")]
    Wav(String),
    #[error("FLAC: {0}")]
    Flac(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Midi(#[from] cadenza_midi::MidiError),
}

/// Writes `bytes` to `path` through `cadenza_atomic` (the one atomic writer), with the
/// render error naming the file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    cadenza_atomic::write_atomic(path, bytes)
        .map_err(|source| RenderError::Io { path: path.display().to_string(), source })
}
