//! Real scores: the 206 ASAP MusicXML files (MuseScore exports), read from the shared data
//! folder, never copied into the repository.

use cadenza_musicxml::{read_file, ImportOptions, Imported};
use cadenza_notes::{Mode, Note};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

const COMPAT: ImportOptions = ImportOptions { magenta_compat: true, expand_repeats: false };
const DEFAULT: ImportOptions = ImportOptions { magenta_compat: false, expand_repeats: false };

fn asap_dir() -> PathBuf {
    let dir = cadenza_shared::require("data/asap");
    assert!(
        dir.is_dir(),
        "ASAP data not found at {} (expected /work/shared/data/asap next to the repository); \
         these tests need the real scores",
        dir.display()
    );
    dir
}

fn asap(rel: &str) -> PathBuf {
    asap_dir().join(rel)
}

fn scores(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scores(&p, out);
        } else if p.file_name().is_some_and(|n| n == "xml_score.mxl") {
            out.push(p);
        }
    }
}

fn import(rel: &str, opts: ImportOptions) -> Imported {
    read_file(&asap(rel), &opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Run with `cargo test --release -p cadenza-musicxml --test asap -- --nocapture` to see
/// the timings.
#[test]
fn every_asap_score_imports_in_both_modes() {
    let mut files = Vec::new();
    scores(&asap_dir(), &mut files);
    assert_eq!(files.len(), 206, "expected the 206 ASAP xml_score.mxl files");
    for (label, opts) in [
        ("compat", COMPAT),
        ("default", DEFAULT),
        ("default+repeats", ImportOptions { expand_repeats: true, ..DEFAULT }),
    ] {
        let t = Instant::now();
        let mut notes = 0;
        for f in &files {
            let imp = read_file(f, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
            let s = &imp.sequence;
            assert!(!s.notes.is_empty(), "{label}: {} has no notes", f.display());
            assert!(s.total_time.is_finite() && s.total_time > 0.0);
            for n in &s.notes {
                assert!(n.start.is_finite() && n.end.is_finite() && n.start >= 0.0, "{n:?}");
                assert!(n.pitch <= 127 && n.velocity <= 127);
                // note-seq keeps a negative <duration> as a note ending before it starts,
                // and does not count note ends in total_time; default mode does neither.
                if !opts.magenta_compat {
                    assert!(n.end > n.start, "{}: {n:?}", f.display());
                    assert!(n.end <= s.total_time, "{}: note past total_time", f.display());
                }
            }
            notes += s.notes.len();
        }
        eprintln!("{label}: {} files, {notes} notes in {:.3} s", files.len(), t.elapsed().as_secs_f64());
    }
}

// ---- compat mode against note-seq -------------------------------------------------------

#[derive(serde::Deserialize)]
struct Golden {
    file: String,
    num_notes: usize,
    total_time: f64,
    total_time_bits: u64,
    notes_sha256: String,
    first_notes: Vec<[u64; 8]>,
    tempos: Vec<[u64; 2]>,
    time_signatures: Vec<[u64; 3]>,
    key_signatures: Vec<[u64; 3]>,
}

fn note_row(n: &Note) -> [u64; 8] {
    [
        n.pitch as u64,
        n.velocity as u64,
        n.start.to_bits(),
        n.end.to_bits(),
        n.instrument as u64,
        n.program as u64,
        n.part as u64,
        n.voice as u64,
    ]
}

fn check_golden(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    let g: Golden = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let s = import(&g.file, COMPAT).sequence;
    assert_eq!(s.notes.len(), g.num_notes, "{}", g.file);
    assert_eq!(s.total_time, g.total_time);
    assert_eq!(s.total_time.to_bits(), g.total_time_bits);
    for (i, want) in g.first_notes.iter().enumerate() {
        assert_eq!(&note_row(&s.notes[i]), want, "{} note {i}", g.file);
    }
    let mut h = Sha256::new();
    for n in &s.notes {
        h.update([n.pitch, n.velocity]);
        h.update(n.start.to_bits().to_le_bytes());
        h.update(n.end.to_bits().to_le_bytes());
        for v in [n.instrument, n.program, n.part, n.voice] {
            h.update(v.to_le_bytes());
        }
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, g.notes_sha256, "{}: notes differ from note-seq", g.file);
    let tempos: Vec<[u64; 2]> = s.tempos.iter().map(|t| [t.time.to_bits(), t.qpm.to_bits()]).collect();
    assert_eq!(tempos, g.tempos);
    let times: Vec<[u64; 3]> =
        s.time_signatures.iter().map(|t| [t.time.to_bits(), t.numerator as u64, t.denominator as u64]).collect();
    assert_eq!(times, g.time_signatures);
    let keys: Vec<[u64; 3]> = s
        .key_signatures
        .iter()
        .map(|k| [k.time.to_bits(), k.key as u64, if k.mode == Mode::Major { 0 } else { 1 }])
        .collect();
    assert_eq!(keys, g.key_signatures);
}

#[test]
fn compat_bwv_846_matches_note_seq() {
    check_golden("Bach__Fugue__bwv_846.json");
}

#[test]
fn compat_beethoven_17_2_matches_note_seq() {
    check_golden("Beethoven__Piano_Sonatas__17-2.json");
}

#[test]
fn compat_chopin_10_2_matches_note_seq() {
    check_golden("Chopin__Etudes_op_10__2.json");
}

/// Rondo alla Turca: 189 grace notes, which note-seq puts at t = 0 with length 0.
#[test]
fn compat_mozart_11_3_matches_note_seq() {
    check_golden("Mozart__Piano_Sonatas__11-3.json");
}

/// The numbers Magenta's own fixtures (shared/fixtures/magenta/events/xml_*.json) record.
#[test]
fn compat_matches_magenta_fixture_summaries() {
    for (rel, notes, total) in [
        ("Bach/Fugue/bwv_846/xml_score.mxl", 802, 54.0),
        ("Beethoven/Piano_Sonatas/17-2/xml_score.mxl", 1741, 476.0576923076906),
        ("Chopin/Etudes_op_10/2/xml_score.mxl", 1475, 81.66666666666679),
    ] {
        let s = import(rel, COMPAT).sequence;
        assert_eq!((s.notes.len(), s.total_time), (notes, total), "{rel}");
        assert!(s.notes.iter().all(|n| n.velocity == 64 && n.program == 1 && n.instrument == 1));
    }
}

// ---- default mode on real scores --------------------------------------------------------

/// Measure 2 of the C major fugue: G4 in voice 2, an eighth tied to a sixteenth (2.25 s to
/// 2.625 s at 120 qpm). One note in default mode, two in note-seq's reading.
#[test]
fn default_real_tie_is_one_note() {
    let rel = "Bach/Fugue/bwv_846/xml_score.mxl";
    let d = import(rel, DEFAULT).sequence;
    let around = |n: &&Note| n.pitch == 67 && n.voice == 2 && (2.0..2.7).contains(&n.start);
    let g4: Vec<&Note> = d.notes.iter().filter(around).collect();
    assert_eq!(g4.len(), 1, "{g4:?}");
    assert_eq!((g4[0].start, g4[0].end), (2.25, 2.625));
    let c = import(rel, COMPAT).sequence;
    let g4c: Vec<(f64, f64)> = c.notes.iter().filter(around).map(|n| (n.start, n.end)).collect();
    assert_eq!(g4c, vec![(2.25, 2.5), (2.5, 2.625)]);
    assert!(d.notes.len() < c.notes.len());
}

#[test]
fn default_real_grace_notes_take_time() {
    let rel = "Mozart/Piano_Sonatas/11-3/xml_score.mxl";
    let c = import(rel, COMPAT).sequence;
    let zero_in_compat = c.notes.iter().filter(|n| n.start == 0.0 && n.end == 0.0).count();
    assert!(zero_in_compat > 100, "note-seq piles the grace notes at 0: {zero_in_compat}");
    let d = import(rel, DEFAULT).sequence;
    assert!(d.notes.iter().all(|n| n.end > n.start), "every note has a positive length");
    let at_zero = d.notes.iter().filter(|n| n.start == 0.0).count();
    assert!(at_zero <= 2, "only the opening notes start at 0, got {at_zero}");
    // The opening turn (B4 A4 G#4 A4 as 16ths) is written with real durations; the first
    // grace notes of the piece (measure 25 onwards) sit just before their principal.
    assert!(d.notes.iter().all(|n| n.start >= 0.0));
}

#[test]
fn default_real_metronome_and_tempo_marks() {
    // Islamey carries a dozen <sound tempo>/<metronome> changes.
    let d = import("Balakirev/Islamey/xml_score.mxl", DEFAULT).sequence;
    assert!(d.tempos.len() > 5);
    assert_eq!(d.tempos[0].time, 0.0);
    assert_eq!(d.tempos[0].qpm, 134.0);
    assert!(d.tempos.windows(2).all(|w| w[0].time < w[1].time));
}

#[test]
fn default_real_dynamics_give_velocities() {
    let d = import("Beethoven/Piano_Sonatas/17-2/xml_score.mxl", DEFAULT).sequence;
    let mut v: Vec<u8> = d.notes.iter().map(|n| n.velocity).collect();
    v.sort();
    v.dedup();
    assert!(v.len() > 3, "dynamics marks should give several velocities, got {v:?}");
}

#[test]
fn default_real_repeats_expand() {
    // Haydn 39-3 repeats both halves; ASAP keeps a MIDI rendering with the repeats played.
    let rel = "Haydn/Keyboard_Sonatas/39-3/xml_score.mxl";
    let straight = import(rel, DEFAULT).sequence;
    let expanded = import(rel, ImportOptions { expand_repeats: true, ..DEFAULT }).sequence;
    assert_eq!(expanded.notes.len(), 2 * straight.notes.len());
    assert_eq!(expanded.total_time, 2.0 * straight.total_time);
}

#[test]
fn title_and_composer() {
    let s = import("Bach/Fugue/bwv_846/xml_score.mxl", DEFAULT).sequence;
    assert_eq!(s.source.kind, cadenza_notes::SourceKind::MusicXml);
    assert!(s.source.path.ends_with("bwv_846/xml_score.mxl"));
}
