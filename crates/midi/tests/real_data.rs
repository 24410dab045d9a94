//! Every ASAP MIDI file (performances and score MIDIs) imports, round-trips through the
//! writer, and broken files are errors, not panics.

use cadenza_notes::NoteSequence;
use std::path::{Path, PathBuf};

fn asap() -> PathBuf {
    let p = cadenza_shared::require("data/asap");
    assert!(p.is_dir(), "ASAP data missing at {}", p.display());
    p
}

fn midi_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            midi_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "mid") {
            out.push(p);
        }
    }
}

fn sorted_notes(s: &NoteSequence) -> Vec<(u8, u8, i64, i64)> {
    // Compare at millisecond resolution: the writer's ticks are exact to well under that.
    let mut v: Vec<_> = s
        .notes
        .iter()
        .map(|n| (n.pitch, n.velocity, (n.start * 1000.0).round() as i64, (n.end * 1000.0).round() as i64))
        .collect();
    v.sort();
    v
}

#[test]
fn every_asap_midi_imports_and_round_trips() {
    let mut files = Vec::new();
    midi_files(&asap(), &mut files);
    let performances = files.iter().filter(|p| p.file_name().unwrap() != "midi_score.mid").count();
    assert_eq!(performances, 895, "expected the 895 ASAP performances");
    assert!(files.len() >= 895 + 206);
    let mut notes = 0usize;
    let mut with_pedal = 0usize;
    for f in &files {
        let s = cadenza_midi::read_file(f).unwrap_or_else(|e| panic!("{e}"));
        assert!(!s.notes.is_empty(), "{}: no notes", f.display());
        assert!(s.notes.iter().all(|n| n.end > n.start && n.start >= 0.0), "{}", f.display());
        notes += s.notes.len();
        with_pedal += s.control_changes.iter().any(|c| c.controller == 64) as usize;
        let back = cadenza_midi::read_bytes(&cadenza_midi::to_bytes(&s), "roundtrip").unwrap();
        assert_eq!(sorted_notes(&s), sorted_notes(&back), "{}: MIDI → notes → MIDI changed the notes", f.display());
        assert_eq!(s.control_changes.len(), back.control_changes.len(), "{}", f.display());
    }
    assert!(notes > 1_000_000, "only {notes} notes");
    assert!(with_pedal > 800, "only {with_pedal} files with sustain pedal");
}

#[test]
fn broken_files_are_errors() {
    let good = std::fs::read(asap().join("Bach/Fugue/bwv_846/Shi05M.mid")).unwrap();
    for cut in [0, 5, 13, 14, 22, 100, good.len() / 2] {
        // Lenient parsing may recover notes from a cut track; what matters is no panic.
        let _ = cadenza_midi::read_bytes(&good[..cut], "cut.mid");
    }
    let e = cadenza_midi::read_bytes(&good[..10], "cut.mid").unwrap_err().to_string();
    assert!(e.starts_with("cut.mid:"), "{e}");
    let e = cadenza_midi::read_bytes(b"PK\x03\x04 definitely not midi", "zip.mid").unwrap_err().to_string();
    assert!(e.contains("zip.mid") && e.contains("not a valid MIDI"), "{e}");
    // A file whose last tick is absurdly far away (pretty_midi's corrupt-file guard).
    let mut huge = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x0d".to_vec();
    huge.extend_from_slice(&[0x87, 0xff, 0xff, 0x7f, 0x90, 60, 100, 0x00, 0x80, 60, 0, 0x00, 0xff]);
    huge.truncate(huge.len() - 1);
    huge.extend_from_slice(&[0xff, 0x2f, 0x00]);
    let len = (huge.len() - 22) as u32;
    huge[18..22].copy_from_slice(&len.to_be_bytes());
    let e = cadenza_midi::read_bytes(&huge, "far.mid").unwrap_err().to_string();
    assert!(e.contains("likely corrupt"), "{e}");
}

#[test]
fn pairing_rules_follow_pretty_midi() {
    use midly::num::{u15, u28, u4, u7};
    use midly::{Format, Header, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
    let on = |d: u32, k: u8, v: u8| TrackEvent {
        delta: u28::new(d),
        kind: TrackEventKind::Midi {
            channel: u4::new(0),
            message: MidiMessage::NoteOn { key: u7::new(k), vel: u7::new(v) },
        },
    };
    let eot = TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(midly::MetaMessage::EndOfTrack) };
    // Two overlapping C4s then one zero-velocity note-on closes both; an on+off on the same
    // tick is dropped; running status is exercised by midly's writer.
    let track = vec![
        on(0, 60, 90),
        on(10, 60, 80),
        on(10, 60, 0),
        on(0, 62, 70),
        on(0, 62, 0),
        on(5, 64, 50),
        on(5, 64, 0),
        eot,
    ];
    let smf = Smf { header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(100))), tracks: vec![track] };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    let s = cadenza_midi::read_bytes(&bytes, "t.mid").unwrap();
    let got: Vec<(u8, u8, f64, f64)> = s.notes.iter().map(|n| (n.pitch, n.velocity, n.start, n.end)).collect();
    // 120 qpm, 100 ticks per quarter: 0.005 s per tick.
    assert_eq!(got, vec![(60, 90, 0.0, 0.1), (60, 80, 0.05, 0.1), (64, 50, 0.125, 0.15)]);
}

/// events → notes → events is the identity on canonical event lists, i.e. those the encoder
/// makes from step-aligned notes (a real performance orders same-step onsets by raw onset
/// time, which decoding cannot recover, so the first pass canonicalises them).
#[test]
fn events_to_notes_to_events_is_identity_on_real_files() {
    use cadenza_notes::transform::{apply_sustain, quantize_absolute};
    use cadenza_performance::Performance;
    let round = |p: &Performance| {
        let q = quantize_absolute(&p.to_sequence(100, 0, None, None), 100).unwrap();
        Performance::from_quantized(&q, 0, 32, None)
    };
    let mut files = Vec::new();
    midi_files(&asap().join("Chopin"), &mut files);
    assert!(files.len() > 50);
    for f in files.iter().take(60) {
        let s = cadenza_midi::read_file(f).unwrap();
        let p = Performance::from_quantized(&quantize_absolute(&apply_sustain(&s), 100).unwrap(), 0, 32, None);
        let canonical = round(&p);
        // Nothing is lost: both event lists decode to the same notes.
        let notes = |p: &Performance| {
            let mut v: Vec<_> = p
                .to_sequence(100, 0, None, None)
                .notes
                .iter()
                .map(|n| (n.pitch, n.velocity, (n.start * 100.0).round() as i64, (n.end * 100.0).round() as i64))
                .collect();
            v.sort();
            v
        };
        assert!(
            notes(&p) == notes(&canonical) && p.num_steps() == canonical.num_steps(),
            "{}: decoding lost notes",
            f.display()
        );
        let again = round(&canonical);
        let first_diff = canonical.events.iter().zip(&again.events).position(|(x, y)| x != y);
        assert!(
            canonical.events.len() == again.events.len() && first_diff.is_none(),
            "{}: differs at event {first_diff:?}",
            f.display()
        );
    }
}
