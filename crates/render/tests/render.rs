//! PNG, WAV and MusicXML from real and hand-made sequences.

use cadenza_notes::{Note, NoteSequence};
use cadenza_render::*;
use std::path::Path;

const ASAP_PERFORMANCE: &str = "data/asap/Bach/Prelude/bwv_846/Shi05M.mid";

fn asap(seconds: f64) -> NoteSequence {
    let mut seq = cadenza_midi::read_file(&cadenza_shared::require(ASAP_PERFORMANCE)).expect("an ASAP performance");
    seq.notes.retain(|n| n.start < seconds);
    for n in &mut seq.notes {
        n.end = n.end.min(seconds);
    }
    seq.notes.retain(|n| n.end > n.start);
    seq.total_time = seq.notes_end();
    seq
}

fn notes(list: &[(u8, u8, f64, f64)]) -> NoteSequence {
    let mut s = NoteSequence::new();
    for &(p, v, a, b) in list {
        s.notes.push(Note::new(p, v, a, b));
    }
    s.total_time = s.notes_end();
    s
}

#[test]
fn piano_roll_png_decodes_with_the_right_size_and_coloured_notes() {
    let seq = asap(20.0);
    let bytes = piano_roll_png(&seq, &RollOptions::default()).unwrap();
    let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    // 20 s at 50 px/s (+1), 88 keys × 6 px.
    assert_eq!(info.width, (seq.total_time * 50.0).ceil() as u32 + 1);
    assert_eq!(info.height, 88 * 6);
    let px = &buf[..info.buffer_size()];
    let palette: Vec<[u8; 3]> = seq.notes.iter().map(|n| roll::velocity_colour(n.velocity)).collect();
    let coloured = px.chunks(3).filter(|c| palette.iter().any(|p| p[..] == c[..])).count();
    // A dense prelude covers a good share of the picture with note colours.
    assert!(coloured > 2000, "{coloured} note pixels");
    let grey = px.chunks(3).filter(|c| c[0] == c[1] && c[1] == c[2]).count();
    assert!(grey > coloured, "background and grid are grey");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roll.png");
    write_piano_roll(&seq, &path, &RollOptions::default()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn long_sequences_are_squeezed_to_the_maximum_width() {
    let seq = notes(&[(60, 80, 0.0, 1.0), (72, 90, 500.0, 501.0)]);
    let (w, h, _) = roll::piano_roll_rgb(&seq, &RollOptions { max_width: 1000, ..Default::default() });
    assert!(w <= 1001, "{w}");
    assert_eq!(h, 88 * 6);
}

fn wav_stats(bytes: &[u8]) -> (hound::WavSpec, f64, f64) {
    let mut r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    let spec = r.spec();
    let samples: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let frames = samples.len() / spec.channels as usize;
    let rms = (samples.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (spec, frames as f64 / spec.sample_rate as f64, rms)
}

#[test]
fn wav_lasts_the_sequence_plus_tail_and_is_not_silent() {
    let sf = sine_soundfont_loaded();
    let seq = notes(&[(60, 100, 0.0, 1.0), (64, 80, 0.5, 1.5), (67, 60, 1.0, 2.25)]);
    let opts = AudioOptions::default();
    let bytes = wav_bytes(&seq, &sf, &opts).unwrap();
    let (spec, seconds, rms) = wav_stats(&bytes);
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (44_100, 2, 16));
    assert!((seconds - (2.25 + opts.tail_seconds)).abs() <= 1.0 / 44_100.0, "{seconds} s");
    assert!(rms > 0.02, "rms {rms}");
    // Silence stays silence: nothing sounds after the release.
    let (l, r) = render_audio(&seq, &sf, &opts).unwrap();
    let after: f32 = l[(2.45 * 44_100.0) as usize..]
        .iter()
        .chain(&r[(2.45 * 44_100.0) as usize..])
        .map(|x| x.abs())
        .fold(0.0, f32::max);
    assert!(after < 0.05, "{after}");
    let during: f32 = l[22_050..44_100].iter().map(|x| x.abs()).fold(0.0, f32::max);
    assert!(during > 0.05, "{during}");

    let mono = wav_bytes(&seq, &sf, &AudioOptions { stereo: false, ..opts }).unwrap();
    assert_eq!(wav_stats(&mono).0.channels, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wav");
    write_wav(&seq, &sf, &path, &opts).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn missing_soundfont_says_how_to_install_one() {
    let e = load_soundfont(Path::new("/nonexistent/FluidR3_GM.sf2")).unwrap_err().to_string();
    assert!(e.contains("apt-get install fluid-soundfont-gm"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sf2");
    std::fs::write(&bad, b"RIFF\0\0\0\0nope").unwrap();
    let e = load_soundfont(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.sf2"), "{e}");
}

/// A SoundFont given is the one played; none given is the system's or, without one, the
/// built-in piano; a given file that does not load is an error, never a silent fallback.
#[test]
fn soundfont_or_builtin_takes_the_given_then_the_system_then_the_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let sine = dir.path().join("sine.sf2");
    std::fs::write(&sine, sine_soundfont()).unwrap();
    let given = soundfont_or_builtin(Some(&sine)).unwrap();
    assert_eq!(given.path.as_deref(), Some(sine.as_path()));
    let chosen = soundfont_or_builtin(None).unwrap();
    assert_eq!(chosen.path, default_soundfont().ok());
    if chosen.path.is_none() {
        assert_eq!(chosen.font.get_presets().len(), piano_soundfont_loaded().get_presets().len());
    }
    let e = soundfont_or_builtin(Some(Path::new("/nonexistent/given.sf2"))).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/given.sf2"), "{e}");
}

/// A sample's MIDI file reads back as the notes, and only the files asked for are written.
#[test]
fn write_sample_writes_the_midi_and_the_files_asked_for() {
    let seq = asap(6.0);
    let dir = tempfile::tempdir().unwrap();
    let sf = sine_soundfont_loaded();
    let all = SampleOutputs { png: true, musicxml: Some(ScoreOptions::default()), wav: Some(&sf) };
    let w = write_sample(&seq, &dir.path().join("sample_01"), &all).unwrap();
    assert_eq!(w.midi, dir.path().join("sample_01.mid"));
    assert_eq!(cadenza_midi::read_file(&w.midi).unwrap().notes.len(), seq.notes.len());
    for p in [w.png.unwrap(), w.musicxml.unwrap(), w.wav.unwrap()] {
        assert!(std::fs::metadata(&p).unwrap().len() > 100, "{}", p.display());
    }
    let w = write_sample(&seq, &dir.path().join("sample_02"), &SampleOutputs::default()).unwrap();
    assert_eq!((w.png, w.musicxml, w.wav), (None, None, None));
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["sample_01.mid", "sample_01.musicxml", "sample_01.png", "sample_01.wav", "sample_02.mid"]);
    let e = write_sample(&seq, &dir.path().join("no/such/sample_03"), &SampleOutputs::default()).unwrap_err();
    assert!(e.to_string().contains("sample_03.mid"), "{e}");
}

/// Text and attribute values come out escaped, so a title cannot break the page or the score.
#[test]
fn escape_html_escapes_the_four_markup_characters() {
    assert_eq!(escape_html(r#"Bach & "Fugue" <bwv 846>"#), "Bach &amp; &quot;Fugue&quot; &lt;bwv 846&gt;");
    assert_eq!(escape_html("plain"), "plain");
}

/// The General MIDI piano of Debian's fluid-soundfont-gm, when installed (CI installs it).
#[test]
fn wav_with_the_system_general_midi_soundfont() {
    let Ok(path) = default_soundfont() else {
        eprintln!("skipped: no system SoundFont (apt-get install fluid-soundfont-gm)");
        return;
    };
    let sf = load_soundfont(&path).unwrap();
    let seq = asap(8.0);
    let bytes = wav_bytes(&seq, &sf, &AudioOptions::default()).unwrap();
    let (_, seconds, rms) = wav_stats(&bytes);
    assert!((seconds - (seq.total_time + 0.5)).abs() < 0.01, "{seconds} vs {}", seq.total_time);
    assert!(rms > 0.01, "rms {rms}");
}

fn reimport(xml: &str) -> NoteSequence {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("score.musicxml");
    std::fs::write(&path, xml).unwrap();
    let imported = cadenza_musicxml::read_file(&path, &Default::default()).unwrap();
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    imported.sequence
}

fn pitches(seq: &NoteSequence) -> Vec<u8> {
    let mut p: Vec<u8> = seq.notes.iter().map(|n| n.pitch).collect();
    p.sort_unstable();
    p
}

#[test]
fn musicxml_of_a_real_performance_reimports_with_the_same_pitches() {
    let seq = asap(30.0);
    let xml = musicxml_string(&seq, &ScoreOptions::default());
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\""));
    let back = reimport(&xml);
    assert_eq!(pitches(&back), pitches(&seq));
    // 120 qpm: a 16th is 0.125 s; onsets come back on the grid, within half a 16th.
    let mut a: Vec<(u8, f64)> = seq.notes.iter().map(|n| (n.pitch, n.start)).collect();
    let mut b: Vec<(u8, f64)> = back.notes.iter().map(|n| (n.pitch, n.start)).collect();
    a.sort_by(|x, y| x.partial_cmp(y).unwrap());
    b.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let close = a.iter().zip(&b).filter(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() <= 0.0625 + 1e-9).count();
    assert!(close as f64 >= 0.95 * a.len() as f64, "{close} of {} onsets on the grid", a.len());
    // Velocities travel through the notes' dynamics attribute.
    let v = |s: &NoteSequence| s.notes.iter().map(|n| n.velocity as f64).sum::<f64>() / s.notes.len() as f64;
    assert!((v(&seq) - v(&back)).abs() < 1.0, "{} vs {}", v(&seq), v(&back));
}

#[test]
fn musicxml_ties_chords_voices_and_rests() {
    // Over a barline (tie), a 5/16 note (tie inside the measure), a chord, a crowded moment
    // with six overlapping lengths on one staff, a repeated pitch, a bass line, silence.
    let seq = notes(&[
        (72, 80, 1.75, 2.5),
        (74, 80, 2.5, 3.125),
        (60, 90, 0.0, 0.5),
        (64, 90, 0.0, 0.5),
        (67, 90, 0.0, 0.5),
        (62, 70, 4.0, 6.0),
        (65, 70, 4.125, 5.75),
        (69, 70, 4.25, 5.5),
        (71, 70, 4.375, 5.25),
        (76, 70, 4.5, 5.0),
        (79, 70, 4.625, 4.75),
        (48, 60, 0.0, 4.0),
        (48, 60, 4.0, 4.5),
        (36, 100, 9.0, 9.5),
    ]);
    let xml = musicxml_string(&seq, &ScoreOptions { qpm: Some(120.0), title: Some("A & B".into()) });
    assert!(xml.contains("<work-title>A &amp; B</work-title>"));
    assert!(xml.contains("<tie type=\"start\"/>") && xml.contains("<tied type=\"stop\"/>"));
    assert!(xml.contains("<chord/>"));
    assert!(xml.contains("<rest measure=\"yes\"/>"));
    assert!(xml.contains("<backup>"));
    let back = reimport(&xml);
    assert_eq!(pitches(&back), pitches(&seq));
    // The tied 72 (1.75 → 2.5 s across the barline at 2 s) comes back as one note.
    let n72: Vec<_> = back.notes.iter().filter(|n| n.pitch == 72).collect();
    assert_eq!(n72.len(), 1);
    assert!((n72[0].start - 1.75).abs() < 1e-9 && (n72[0].end - 2.5).abs() < 1e-9, "{:?}", n72[0]);
    let n48: Vec<_> = back.notes.iter().filter(|n| n.pitch == 48).collect();
    assert_eq!(n48.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.musicxml");
    write_musicxml(&seq, &path, &ScoreOptions::default()).unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
}

#[test]
fn empty_sequence_gives_one_empty_measure() {
    let xml = musicxml_string(&NoteSequence::new(), &ScoreOptions::default());
    let back = reimport(&xml);
    assert!(back.notes.is_empty());
    assert_eq!(xml.matches("<measure ").count(), 1);
    let png = piano_roll_png(&NoteSequence::new(), &RollOptions::default()).unwrap();
    assert!(png.len() > 100);
}

/// |DFT| of `x` at `f` Hz (Goertzel), normalised by the length.
fn magnitude_at(x: &[f32], sr: f64, f: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / sr;
    let (mut re, mut im) = (0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        re += v as f64 * (w * n as f64).cos();
        im -= v as f64 * (w * n as f64).sin();
    }
    (re * re + im * im).sqrt() / x.len() as f64
}

/// The built-in piano: what the report's players use when no SoundFont is installed. A note
/// is audible, its spectrum peaks at the note's own frequency (not the sample's 441 Hz), it
/// decays while held like a struck string, and velocity makes it louder.
#[test]
fn builtin_piano_is_audible_at_the_notes_pitch_and_decays() {
    let sf = piano_soundfont_loaded();
    let opts = AudioOptions { stereo: false, ..Default::default() };
    for (pitch, hz) in [(57u8, 220.0), (64, 329.63), (72, 523.25)] {
        let (l, _) = render_audio(&notes(&[(pitch, 100, 0.0, 2.0)]), &sf, &opts).unwrap();
        let first = &l[2_205..2_205 + 22_050]; // 0.05–0.55 s
        let rms = (first.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / first.len() as f64).sqrt();
        assert!(rms > 0.05, "pitch {pitch}: rms {rms}");
        // Scan 50 Hz–2 kHz in steps of 1/40 octave: the loudest is within a step of the note.
        let mut best = (0.0, 0.0);
        let mut f = 50.0;
        while f < 2000.0 {
            let m = magnitude_at(first, 44_100.0, f);
            if m > best.1 {
                best = (f, m);
            }
            f *= 2f64.powf(1.0 / 40.0);
        }
        assert!((best.0 / hz).log2().abs() < 1.0 / 40.0, "pitch {pitch}: peak at {} Hz, expected {hz}", best.0);
        let late = &l[(1.5 * 44_100.0) as usize..(1.9 * 44_100.0) as usize];
        let late_rms = (late.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / late.len() as f64).sqrt();
        assert!(late_rms < 0.8 * rms && late_rms > 0.0, "pitch {pitch}: held note does not decay ({rms} → {late_rms})");
    }
    let loud = render_audio(
        &notes(&[(60, 110, 0.0, 1.0), (48, 30, 0.0, 1.0)]),
        &sf,
        &AudioOptions { normalize: false, stereo: false, ..Default::default() },
    )
    .unwrap()
    .0;
    let soft = render_audio(
        &notes(&[(60, 30, 0.0, 1.0), (48, 30, 0.0, 1.0)]),
        &sf,
        &AudioOptions { normalize: false, stereo: false, ..Default::default() },
    )
    .unwrap()
    .0;
    let at = |x: &[f32], hz: f64| magnitude_at(&x[..22_050], 44_100.0, hz);
    assert!(at(&loud, 261.63) > 2.0 * at(&soft, 261.63), "velocity does not change loudness");
    // A WAV file of it plays: the bytes parse and are not silent.
    let (_, seconds, rms) = wav_stats(&wav_bytes(&asap(4.0), &sf, &AudioOptions::default()).unwrap());
    assert!(seconds > 4.0 && rms > 0.02, "{seconds} s, rms {rms}");
}

#[test]
fn flac_of_a_real_performance_decodes_to_the_same_samples_and_is_smaller_than_wav() {
    let seq = asap(6.0);
    let sf = piano_soundfont_loaded();
    let opts = AudioOptions { sample_rate: 22_050, stereo: false, ..Default::default() };
    let (l, r) = render_audio(&seq, &sf, &opts).unwrap();
    let mono: Vec<f32> = l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect();
    let flac = flac_bytes(&mono, 22_050).unwrap();
    // Decoded by an independent decoder (claxon): the same 16-bit samples, bit for bit.
    let mut reader = claxon::FlacReader::new(&flac[..]).unwrap();
    let info = reader.streaminfo();
    assert_eq!((info.sample_rate, info.channels, info.bits_per_sample), (22_050, 1, 16));
    let decoded: Vec<i32> = reader.samples().map(|s| s.unwrap()).collect();
    let expect: Vec<i32> = mono.iter().map(|x| (x.clamp(-1.0, 1.0) * 32767.0).round() as i32).collect();
    assert_eq!(decoded.len(), expect.len());
    assert!(decoded == expect, "FLAC is lossless");
    assert!(expect.iter().any(|&s| s.abs() > 1000), "not silent");
    let wav = wav_bytes(&seq, &sf, &opts).unwrap();
    assert!(flac.len() < wav.len() * 3 / 4, "FLAC {} B vs WAV {} B", flac.len(), wav.len());
    assert!(flac_bytes(&[], 22_050).is_err());
}
