//! Rendering what the report plays and shows: each sample (or eval piece) as MIDI, a piano
//! roll, MusicXML and, with a SoundFont, WAV; and the SoundFont the players use.

use crate::error::{Ctx, Result};
use crate::event::CompareEvent;
use crate::summary::SampleFiles;
use crate::CompareOptions;
use cadenza_notes::NoteSequence;
use cadenza_render::{SampleOutputs, ScoreOptions, SoundFont};
use std::path::Path;
use std::sync::Arc;

/// The SoundFont of the WAV players (`None`: no WAV) and how the report names it.
pub(crate) struct Players {
    pub soundfont: Option<Arc<SoundFont>>,
    pub audio: Option<String>,
}

/// The players' SoundFont: the one given, else the system's General MIDI font, else the
/// built-in piano-like one (said through `on_event`).
pub(crate) fn players(o: &CompareOptions, on_event: &mut dyn FnMut(CompareEvent)) -> Result<Players> {
    if !o.wav {
        return Ok(Players { soundfont: None, audio: None });
    }
    let given = o.soundfont.as_deref();
    let font = cadenza_render::soundfont_or_builtin(given)
        .ctx(|| format!("cannot load the SoundFont {}", given.map_or(String::new(), |p| p.display().to_string())))?;
    let audio = match &font.path {
        Some(p) => p.display().to_string(),
        None => {
            on_event(CompareEvent::BuiltInSynthesiser);
            "Cadenza's built-in piano-like synthesiser".to_string()
        }
    };
    Ok(Players { soundfont: Some(font.font), audio: Some(audio) })
}

/// One sequence to render, with the seed it was sampled from and its log-likelihood.
pub(crate) struct ToRender<'a> {
    pub seed: u64,
    pub log_likelihood: f64,
    pub sequence: &'a NoteSequence,
}

/// `p` relative to the report's folder `out` (a sibling folder's files, as `original_from`'s,
/// through `../`).
fn rel(out: &Path, p: &Path) -> String {
    let up = out.parent().filter(|up| !up.as_os_str().is_empty());
    let r = match (p.strip_prefix(out), up.and_then(|up| p.strip_prefix(up).ok())) {
        (Ok(r), _) => r.to_path_buf(),
        (Err(_), Some(r)) => Path::new("..").join(r),
        (Err(_), None) => p.to_path_buf(),
    };
    r.to_string_lossy().replace('\\', "/")
}

/// Writes MIDI, piano roll, MusicXML and (with a SoundFont) WAV of each sequence as
/// `dir/sample_NN.*`.
pub(crate) fn render_all(
    out: &Path,
    dir: &Path,
    title: &str,
    seqs: &[ToRender],
    soundfont: Option<&Arc<SoundFont>>,
) -> Result<Vec<SampleFiles>> {
    std::fs::create_dir_all(dir).ctx(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        let (seed, seq) = (s.seed, s.sequence);
        let stem = dir.join(format!("sample_{:02}", i + 1));
        let outputs = SampleOutputs {
            png: true,
            musicxml: Some(ScoreOptions { qpm: None, title: Some(format!("Cadenza {title} {} (seed {seed})", i + 1)) }),
            wav: soundfont,
        };
        let w = cadenza_render::write_sample(seq, &stem, &outputs)
            .ctx(|| format!("cannot write sample {} in {}", i + 1, dir.display()))?;
        let or_none = |p: &Option<std::path::PathBuf>| p.as_deref().map(|p| rel(out, p));
        files.push(SampleFiles {
            seed,
            midi: rel(out, &w.midi),
            png: or_none(&w.png).unwrap_or_default(),
            wav: or_none(&w.wav),
            musicxml: or_none(&w.musicxml).unwrap_or_default(),
            num_notes: seq.notes.len(),
            log_likelihood: s.log_likelihood,
        });
    }
    Ok(files)
}
