//! One generated sample's files: `STEM.mid`, and beside it as asked the piano roll
//! (`STEM.png`), the score (`STEM.musicxml`) and the audio (`STEM.wav`).

use crate::{write_musicxml, write_piano_roll, write_wav, AudioOptions, RenderError, RollOptions, ScoreOptions};
use cadenza_notes::NoteSequence;
use rustysynth::SoundFont;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which files of a sample to write besides its MIDI file.
#[derive(Clone, Default)]
pub struct SampleOutputs<'a> {
    /// The piano roll, drawn with the default [`RollOptions`].
    pub png: bool,
    /// The score, with these options.
    pub musicxml: Option<ScoreOptions>,
    /// The audio through this SoundFont, with the default [`AudioOptions`].
    pub wav: Option<&'a Arc<SoundFont>>,
}

/// The files [`write_sample`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenSample {
    pub midi: PathBuf,
    pub png: Option<PathBuf>,
    pub musicxml: Option<PathBuf>,
    pub wav: Option<PathBuf>,
}

/// Writes `seq` as `stem.mid` and the files `outputs` asks for as `stem.png`, `stem.musicxml`
/// and `stem.wav` (each atomically); the error names the file that failed.
pub fn write_sample(seq: &NoteSequence, stem: &Path, outputs: &SampleOutputs) -> Result<WrittenSample, RenderError> {
    let midi = stem.with_extension("mid");
    cadenza_midi::write_file(seq, &midi)?;
    let png = outputs.png.then(|| stem.with_extension("png"));
    if let Some(p) = &png {
        write_piano_roll(seq, p, &RollOptions::default())?;
    }
    let musicxml = outputs.musicxml.as_ref().map(|_| stem.with_extension("musicxml"));
    if let (Some(p), Some(so)) = (&musicxml, &outputs.musicxml) {
        write_musicxml(seq, p, so)?;
    }
    let wav = outputs.wav.map(|_| stem.with_extension("wav"));
    if let (Some(p), Some(sf)) = (&wav, outputs.wav) {
        write_wav(seq, sf, p, &AudioOptions::default())?;
    }
    Ok(WrittenSample { midi, png, musicxml, wav })
}
