//! Audio through a General MIDI SoundFont: `rustysynth` plays the notes (velocity, program,
//! pedal control changes) at their times, `hound` writes 16-bit PCM WAV.

use crate::{write_atomic, RenderError};
use cadenza_notes::NoteSequence;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Debian's `fluid-soundfont-gm` package.
pub const DEBIAN_SOUNDFONT: &str = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
const OTHER_SOUNDFONTS: [&str; 3] = [
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioOptions {
    pub sample_rate: u32,
    /// Two channels (the SoundFont's stereo image and reverb), else their mean.
    pub stereo: bool,
    /// Seconds rendered after the sequence ends, for the release; the last 50 ms fade out.
    pub tail_seconds: f64,
    /// Scale the loudest sample to -1 dBFS (a General MIDI piano at moderate velocities is
    /// otherwise around -40 dBFS RMS). Louder renders are always scaled down to that peak.
    pub normalize: bool,
}

/// -1 dBFS.
const PEAK: f32 = 0.891;

impl Default for AudioOptions {
    fn default() -> Self {
        AudioOptions { sample_rate: 44_100, stereo: true, tail_seconds: 0.5, normalize: true }
    }
}

/// The system's General MIDI SoundFont, or an error that says how to install one.
pub fn default_soundfont() -> Result<PathBuf, RenderError> {
    std::iter::once(DEBIAN_SOUNDFONT)
        .chain(OTHER_SOUNDFONTS)
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| RenderError::NoSoundFont(DEBIAN_SOUNDFONT.to_string()))
}

/// The SoundFont a render plays through, as [`soundfont_or_builtin`] chose it.
#[derive(Clone)]
pub struct PlayingSoundFont {
    pub font: Arc<SoundFont>,
    /// The file it was loaded from; `None`: the built-in piano-like synthesiser
    /// ([`piano_soundfont`]), for a system without a General MIDI SoundFont.
    pub path: Option<PathBuf>,
}

/// The SoundFont at `given`, else the system's General MIDI SoundFont ([`default_soundfont`]),
/// else the built-in piano-like synthesiser. A file that is there but does not load is an error
/// (naming it), not a reason to fall back.
pub fn soundfont_or_builtin(given: Option<&Path>) -> Result<PlayingSoundFont, RenderError> {
    let path = match given {
        Some(p) => Some(p.to_path_buf()),
        None => default_soundfont().ok(),
    };
    match path {
        Some(p) => Ok(PlayingSoundFont { font: load_soundfont(&p)?, path: Some(p) }),
        None => Ok(PlayingSoundFont { font: piano_soundfont_loaded(), path: None }),
    }
}

/// Loads the SoundFont file at `path`.
pub fn load_soundfont(path: &Path) -> Result<Arc<SoundFont>, RenderError> {
    let file = std::fs::File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            RenderError::NoSoundFont(path.display().to_string())
        } else {
            RenderError::Io { path: path.display().to_string(), source: e }
        }
    })?;
    let mut r = std::io::BufReader::new(file);
    let sf = SoundFont::new(&mut r)
        .map_err(|e| RenderError::SoundFont { path: path.display().to_string(), msg: e.to_string() })?;
    Ok(Arc::new(sf))
}

enum Action {
    Off { ch: i32, key: i32 },
    Cc { ch: i32, controller: i32, value: i32 },
    On { ch: i32, key: i32, vel: i32 },
}

/// Channel per (program, drum): drums on 9, melodic instruments on the others in order.
fn channels(seq: &NoteSequence) -> Vec<((u32, bool), i32)> {
    let mut map: Vec<((u32, bool), i32)> = Vec::new();
    let mut next = 0i32;
    let keys = seq
        .notes
        .iter()
        .map(|n| (n.program, n.is_drum))
        .chain(seq.control_changes.iter().map(|c| (c.program, c.is_drum)));
    for k in keys {
        if map.iter().any(|(m, _)| *m == k) {
            continue;
        }
        let ch = if k.1 {
            9
        } else {
            let c = next % 15;
            next += 1;
            if c >= 9 {
                c + 1
            } else {
                c
            }
        };
        map.push((k, ch));
    }
    map
}

/// Renders the sequence: (left, right) at `opts.sample_rate`, `end + tail` seconds long,
/// where `end` is the later of `total_time` and the last note end.
pub fn render_audio(
    seq: &NoteSequence,
    soundfont: &Arc<SoundFont>,
    opts: &AudioOptions,
) -> Result<(Vec<f32>, Vec<f32>), RenderError> {
    if !(8_000..=192_000).contains(&opts.sample_rate) {
        return Err(RenderError::Invalid(format!("sample rate {} outside 8000..=192000", opts.sample_rate)));
    }
    if !(opts.tail_seconds.is_finite() && opts.tail_seconds >= 0.0) {
        return Err(RenderError::Invalid(format!("tail of {} s", opts.tail_seconds)));
    }
    let sr = opts.sample_rate as f64;
    let end = seq.total_time.max(seq.notes_end());
    if !end.is_finite() || end > 24.0 * 3600.0 {
        return Err(RenderError::Invalid(format!("sequence of {end} s is too long to render")));
    }
    let len = ((end + opts.tail_seconds) * sr).ceil() as usize;
    let settings = SynthesizerSettings::new(opts.sample_rate as i32);
    let mut synth = Synthesizer::new(soundfont, &settings).map_err(|e| RenderError::Synth(e.to_string()))?;
    let chans = channels(seq);
    let ch_of = |program: u32, drum: bool| chans.iter().find(|(k, _)| *k == (program, drum)).map_or(0, |(_, c)| *c);
    for &((program, drum), ch) in &chans {
        if !drum {
            synth.process_midi_message(ch, 0xC0, program.min(127) as i32, 0);
        }
    }
    let at = |t: f64| ((t.max(0.0) * sr).round() as usize).min(len);
    // (sample, order within a sample: offs, then controllers, then ons), action.
    let mut events: Vec<(usize, u8, Action)> = Vec::with_capacity(seq.notes.len() * 2 + seq.control_changes.len());
    for n in &seq.notes {
        if !(n.start.is_finite() && n.end.is_finite()) || n.end <= n.start || n.velocity == 0 {
            continue;
        }
        let ch = ch_of(n.program, n.is_drum);
        events.push((at(n.start), 2, Action::On { ch, key: n.pitch as i32, vel: n.velocity.min(127) as i32 }));
        events.push((at(n.end), 0, Action::Off { ch, key: n.pitch as i32 }));
    }
    for c in &seq.control_changes {
        if c.time.is_finite() {
            let ch = ch_of(c.program, c.is_drum);
            events.push((
                at(c.time),
                1,
                Action::Cc { ch, controller: c.controller as i32, value: c.value.min(127) as i32 },
            ));
        }
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mut left = vec![0.0f32; len];
    let mut right = vec![0.0f32; len];
    let mut cursor = 0usize;
    for (s, _, a) in events {
        if s > cursor {
            synth.render(&mut left[cursor..s], &mut right[cursor..s]);
            cursor = s;
        }
        match a {
            Action::On { ch, key, vel } => synth.note_on(ch, key, vel),
            Action::Off { ch, key } => synth.note_off(ch, key),
            Action::Cc { ch, controller, value } => synth.process_midi_message(ch, 0xB0, controller, value),
        }
    }
    if cursor < len {
        synth.render(&mut left[cursor..], &mut right[cursor..]);
    }
    // Fade the last 50 ms (or the whole tail, if shorter) so a cut release does not click.
    let fade = ((0.05 * sr) as usize).min((opts.tail_seconds * sr) as usize).min(len);
    for i in 0..fade {
        let g = i as f32 / fade.max(1) as f32;
        left[len - 1 - i] *= g;
        right[len - 1 - i] *= g;
    }
    let peak = left.iter().chain(&right).fold(0.0f32, |m, &x| m.max(x.abs()));
    if (opts.normalize && peak > 1e-6) || peak > PEAK {
        let g = PEAK / peak;
        left.iter_mut().chain(right.iter_mut()).for_each(|x| *x *= g);
    }
    Ok((left, right))
}

/// 16-bit PCM WAV bytes.
pub fn wav_bytes(seq: &NoteSequence, soundfont: &Arc<SoundFont>, opts: &AudioOptions) -> Result<Vec<u8>, RenderError> {
    let (left, right) = render_audio(seq, soundfont, opts)?;
    let spec = hound::WavSpec {
        channels: if opts.stereo { 2 } else { 1 },
        sample_rate: opts.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cur = std::io::Cursor::new(Vec::with_capacity(left.len() * 4 + 64));
    {
        let wav = |e: hound::Error| RenderError::Wav(e.to_string());
        let mut w = hound::WavWriter::new(&mut cur, spec).map_err(wav)?;
        let q = |x: f32| (x.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        let mut iw = w.get_i16_writer((left.len() * spec.channels as usize) as u32);
        for (l, r) in left.iter().zip(&right) {
            if opts.stereo {
                iw.write_sample(q(*l));
                iw.write_sample(q(*r));
            } else {
                iw.write_sample(q(0.5 * (l + r)));
            }
        }
        iw.flush().map_err(wav)?;
        w.finalize().map_err(wav)?;
    }
    Ok(cur.into_inner())
}

/// 16-bit mono FLAC of `samples` (in −1..1, clamped), lossless and about half the size of the
/// same WAV; every current browser plays it. Encoded by `flacenc` (pure Rust).
pub fn flac_bytes(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, RenderError> {
    use flacenc::component::BitRepr;
    use flacenc::error::Verify;
    if samples.is_empty() {
        return Err(RenderError::Invalid("no audio to encode".into()));
    }
    let flac = |e: String| RenderError::Flac(e);
    let ints: Vec<i32> = samples.iter().map(|x| (x.clamp(-1.0, 1.0) * 32767.0).round() as i32).collect();
    let config = flacenc::config::Encoder::default().into_verified().map_err(|(_, e)| flac(format!("{e:?}")))?;
    let source = flacenc::source::MemSource::from_samples(&ints, 1, 16, sample_rate as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| flac(format!("{e:?}")))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream.write(&mut sink).map_err(|e| flac(format!("{e:?}")))?;
    Ok(sink.as_slice().to_vec())
}

pub fn write_wav(
    seq: &NoteSequence,
    soundfont: &Arc<SoundFont>,
    path: &Path,
    opts: &AudioOptions,
) -> Result<(), RenderError> {
    write_atomic(path, &wav_bytes(seq, soundfont, opts)?)
}

/// A minimal SoundFont 2 with one looped sine-wave preset (bank 0, program 0): audio that
/// needs no system package, for tests.
pub fn sine_soundfont() -> Vec<u8> {
    // A held organ-like tone: no envelope generators.
    tiny_soundfont("Sine", &[1.0], &[])
}

/// The built-in piano-like SoundFont: one looped waveform of eight harmonics (amplitudes
/// 1/n^1.6, a bright but soft timbre) under a piano's envelope (2 ms attack, decay to −60 dB
/// over ~6 s at middle C and faster for higher keys, 0.25 s release). It sounds like an
/// electric piano more than a Steinway, but it plays every note at its pitch, velocity and
/// length, so a report always has audio even where no General MIDI SoundFont is installed.
pub fn piano_soundfont() -> Vec<u8> {
    let harmonics: Vec<f64> = (1..=8).map(|n| 1.0 / (n as f64).powf(1.6)).collect();
    // (generator, amount): attackVolEnv, decayVolEnv, sustainVolEnv (cB), releaseVolEnv,
    // keynumToVolEnvDecay (timecents per key from 60).
    let tc = |seconds: f64| (1200.0 * seconds.log2()).round() as i16;
    tiny_soundfont("Cadenza piano", &harmonics, &[(34, tc(0.002)), (36, tc(6.0)), (37, 600), (38, tc(0.25)), (40, 25)])
}

/// [`piano_soundfont`], parsed.
pub fn piano_soundfont_loaded() -> Arc<SoundFont> {
    let bytes = piano_soundfont();
    Arc::new(SoundFont::new(&mut &bytes[..]).expect("the built-in piano SoundFont parses"))
}

/// A SoundFont 2 with one preset (bank 0, program 0) over one looped sample: periods of 100
/// samples at 44.1 kHz (441 Hz as root key 69, 3.9 cents above A4) made of the given
/// harmonic amplitudes, with instrument-level generators `gens`.
fn tiny_soundfont(preset: &str, harmonics: &[f64], gens: &[(u16, i16)]) -> Vec<u8> {
    fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(data.len() + 9);
        v.extend_from_slice(id);
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        if data.len() % 2 == 1 {
            v.push(0);
        }
        v
    }
    fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut body = kind.to_vec();
        chunks.iter().for_each(|c| body.extend_from_slice(c));
        chunk(b"LIST", &body)
    }
    fn name(s: &str) -> [u8; 20] {
        let mut n = [0u8; 20];
        let b = &s.as_bytes()[..s.len().min(19)];
        n[..b.len()].copy_from_slice(b);
        n
    }
    let u16s = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    // 20 periods of 100 samples, looped, then the 46 zeros SF2 asks for.
    const PERIOD: usize = 100;
    const LEN: usize = 20 * PERIOD;
    let norm: f64 = harmonics.iter().sum();
    let mut smpl = Vec::with_capacity((LEN + 46) * 2);
    for i in 0..LEN + 46 {
        let x = if i < LEN {
            let ph = 2.0 * std::f64::consts::PI * i as f64 / PERIOD as f64;
            harmonics.iter().enumerate().map(|(k, a)| a * (ph * (k + 1) as f64).sin()).sum::<f64>() / norm * 16000.0
        } else {
            0.0
        };
        smpl.extend_from_slice(&(x.round() as i16).to_le_bytes());
    }
    let phdr = |n: &str, bag: u16| {
        let mut r = name(n).to_vec();
        r.extend(u16s(&[0, 0, bag]));
        r.extend([0u8; 12]);
        r
    };
    let inst = |n: &str, bag: u16| {
        let mut r = name(n).to_vec();
        r.extend(u16s(&[bag]));
        r
    };
    let shdr = |n: &str, start: u32, end: u32, sl: u32, el: u32, rate: u32, key: u8| {
        let mut r = name(n).to_vec();
        for x in [start, end, sl, el, rate] {
            r.extend(x.to_le_bytes());
        }
        r.extend([key, 0]);
        r.extend(u16s(&[0, if rate == 0 { 0 } else { 1 }]));
        r
    };
    // Instrument zone: the envelope generators, then sampleModes = loop, then sampleID = 0
    // (last, as SF2 requires).
    let mut igen: Vec<u16> = Vec::new();
    for &(g, a) in gens {
        igen.extend([g, a as u16]);
    }
    igen.extend([54, 1, 53, 0]);
    let n_igen = (igen.len() / 2) as u16;
    igen.extend([0, 0]);
    let info =
        list(b"INFO", &[chunk(b"ifil", &u16s(&[2, 1])), chunk(b"isng", b"EMU8000\0"), chunk(b"INAM", b"Cadenza\0")]);
    let sdta = list(b"sdta", &[chunk(b"smpl", &smpl)]);
    let pdta = list(
        b"pdta",
        &[
            chunk(b"phdr", &[phdr(preset, 0), phdr("EOP", 1)].concat()),
            chunk(b"pbag", &u16s(&[0, 0, 1, 0])),
            chunk(b"pmod", &[0u8; 10]),
            // instrument = 0
            chunk(b"pgen", &u16s(&[41, 0, 0, 0])),
            chunk(b"inst", &[inst(preset, 0), inst("EOI", 1)].concat()),
            chunk(b"ibag", &u16s(&[0, 0, n_igen, 0])),
            chunk(b"imod", &[0u8; 10]),
            chunk(b"igen", &u16s(&igen)),
            chunk(
                b"shdr",
                &[
                    shdr(preset, 0, LEN as u32, PERIOD as u32, (LEN - PERIOD) as u32, 44_100, 69),
                    shdr("EOS", 0, 0, 0, 0, 0, 0),
                ]
                .concat(),
            ),
        ],
    );
    let mut body = b"sfbk".to_vec();
    body.extend(info);
    body.extend(sdta);
    body.extend(pdta);
    chunk(b"RIFF", &body)
}

/// [`sine_soundfont`], parsed.
pub fn sine_soundfont_loaded() -> Arc<SoundFont> {
    let bytes = sine_soundfont();
    Arc::new(SoundFont::new(&mut &bytes[..]).expect("the built-in sine SoundFont parses"))
}
