//! MusDr's chord progression irregularity and structureness indicator, and the share of root
//! motion down a fifth: hand-worked sequences, and a real ASAP fugue against the same notes
//! with their pitches shuffled.

use cadenza_evaluate::chords::{beat_chords, merge_repeats};
use cadenza_evaluate::structure::structureness;
use cadenza_evaluate::{load_sequence, sample_metrics, Chord, ChordQuality, FEATURES};
use cadenza_notes::transform::sequence_of;
use cadenza_notes::{NoteSequence, Tempo};
use std::path::PathBuf;

fn asap() -> PathBuf {
    let p = cadenza_shared::require("data/asap");
    assert!(p.is_dir(), "../shared/data/asap must sit beside the project root ({})", p.display());
    p
}

/// A pseudo-random generator without a dependency (64-bit LCG, high bits).
fn lcg(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *state >> 33
}

/// Block chords, each `(pitches, beats)`, one after the other at `beat` seconds a beat.
fn chords(beat: f64, progression: &[(&[u8], usize)]) -> NoteSequence {
    let mut notes = Vec::new();
    let mut t = 0.0;
    for &(pitches, beats) in progression {
        let end = t + beats as f64 * beat;
        notes.extend(pitches.iter().map(|&p| (p, 80, t, end)));
        t = end;
    }
    sequence_of(&notes)
}

const C: &[u8] = &[60, 64, 67];
const F: &[u8] = &[60, 65, 69];
const G: &[u8] = &[59, 62, 67];

#[test]
fn a_repeated_i_iv_v_i_by_hand() {
    // I–IV–V–I in C, two beats a chord (120 qpm 4/4 by default: 1 s), three times.
    let once: [(&[u8], usize); 4] = [(C, 2), (F, 2), (G, 2), (C, 2)];
    let seq = chords(0.5, &once.repeat(3));
    let (c, f, g) =
        (Chord::new(0, ChordQuality::Major), Chord::new(5, ChordQuality::Major), Chord::new(7, ChordQuality::Major));
    let beats = beat_chords(&seq, 0.5);
    assert_eq!(beats, [c, c, f, f, g, g, c, c].repeat(3));
    // Merged: C F G C F G C F G C (10 chords, the C C at each seam is one).
    assert_eq!(merge_repeats(&beats), vec![c, f, g, c, f, g, c, f, g, c]);
    let m = sample_metrics(&seq);
    // 10 − 2 = 8 trigrams: CFG FGC GCF CFG FGC GCF CFG FGC, 3 of them distinct: 3/8.
    assert_eq!(m.chord_progression_irregularity, Some(3.0 / 8.0));
    // 9 changes of root: C→F +5, F→G +2, G→C +5, three times: 6 of 9 fall a fifth.
    assert_eq!(m.dominant_tonic_ratio, Some(6.0 / 9.0));
    assert_eq!(m.feature("chord_progression_irregularity"), Some(0.375));

    // Rests are skipped: each chord one beat then a beat of silence gives the same progression.
    let mut rests = seq.clone();
    rests.notes.iter_mut().for_each(|n| n.end = n.start + 0.5);
    assert_eq!(beat_chords(&rests, 0.5).len(), 12);
    assert_eq!(sample_metrics(&rests).chord_progression_irregularity, Some(3.0 / 8.0));
    // One chord held: no trigram, no change of root.
    let held = sample_metrics(&chords(0.5, &[(C, 8)]));
    assert_eq!((held.chord_progression_irregularity, held.dominant_tonic_ratio), (None, None));
}

#[test]
fn ii_v_i_vi_on_the_sequence_s_own_beat() {
    // Dm, G7, C, Am, a beat each at 60 qpm (1 s beats: the grid comes from the tempo).
    let mut seq = chords(1.0, &[(&[62, 65, 69], 1), (&[55, 59, 62, 65], 1), (C, 1), (&[57, 60, 64], 1)]);
    seq.tempos.push(Tempo { time: 0.0, qpm: 60.0 });
    let m = sample_metrics(&seq);
    let names: Vec<String> = beat_chords(&seq, 1.0).iter().map(Chord::name).collect();
    assert_eq!(names, ["Dm", "G7", "C", "Am"]);
    // D→G +5, G→C +5, C→A +9: two of three changes fall a fifth.
    assert_eq!(m.dominant_tonic_ratio, Some(2.0 / 3.0));
    // Two trigrams, Dm-G7-C and G7-C-Am, both distinct: 2/2.
    assert_eq!(m.chord_progression_irregularity, Some(1.0));
    // At 120 qpm the same notes are two beats a chord: merged, the same progression.
    seq.tempos.clear();
    assert_eq!(sample_metrics(&seq).dominant_tonic_ratio, Some(2.0 / 3.0));
}

/// Sixteen half-second notes (an 8 s phrase), chromatic from C4: frame `t` holds pitch class
/// `t mod 12`, plus, with `doubled`, the pitch class a whole tone above.
fn phrase(from: f64, doubled: bool) -> Vec<(u8, u8, f64, f64)> {
    let mut notes = Vec::new();
    for t in 0..16u8 {
        let at = from + t as f64 * 0.5;
        notes.push((60 + t, 80, at, at + 0.5));
        if doubled {
            notes.push((62 + t, 80, at, at + 0.5));
        }
    }
    notes
}

#[test]
fn structureness_by_hand() {
    // The phrase three times: frame t and frame t + 16 hold the same pitch class, cosine 1,
    // so a 3 s segment and its repeat 8 s later have mean similarity 1.
    let mut notes = phrase(0.0, false);
    notes.extend(phrase(8.0, false));
    notes.extend(phrase(16.0, false));
    let si = structureness(&sequence_of(&notes)).unwrap();
    assert!((si - 1.0).abs() < 1e-12, "{si}");

    // The phrase, then the phrase with every note doubled a whole tone up (16 s, 32 frames).
    // Aligned frames at lag 16: {t} against {t, t+2}, cosine 1/(1·√2). Every other stripe is
    // lower: within the first phrase only lag 12 matches (frames 0–3 against 12–15), so its
    // best 6-frame (3 s) segment holds 4 ones: 4/6 ≈ 0.667; the doubled phrase against itself
    // shares one of two pitch classes at lags 10 and 14 (1/2) and all of them at lag 12 for
    // frames 16–19 only (again 4/6); lags 14 and 26 pair the first phrase with the doubled one
    // as lag 16 does (1/√2). SI = 1/√2.
    let mut notes = phrase(0.0, false);
    notes.extend(phrase(8.0, true));
    let si = structureness(&sequence_of(&notes)).unwrap();
    assert!((si - 0.5f64.sqrt()).abs() < 1e-12, "{si}");

    // Random pitches, a note every 0.2 s for 30 s: nothing repeats for 3 s.
    for seed in 1..5 {
        let mut s = seed;
        let notes: Vec<(u8, u8, f64, f64)> =
            (0..150).map(|i| (36 + (lcg(&mut s) % 48) as u8, 80, i as f64 * 0.2, i as f64 * 0.2 + 0.3)).collect();
        let si = structureness(&sequence_of(&notes)).unwrap();
        assert!(si < 0.7, "seed {seed}: {si}");
    }

    // A piece must hold the longest segment (8 s) twice: 15.5 s is too short.
    let short = sequence_of(&phrase(0.0, false).into_iter().chain(phrase(7.5, false)).collect::<Vec<_>>());
    assert_eq!(structureness(&short), None);
    assert_eq!(sample_metrics(&short).feature("structureness"), None);
    // A held chord does not repeat itself: a note counts for its first second only, and the
    // silent frames after it match nothing.
    assert_eq!(structureness(&chords(0.5, &[(C, 40)])), Some(0.0));
}

/// A real fugue (bwv 846, one performance as heard: sustain applied) has more repetition,
/// a more regular chord progression and more fifth motion than the same notes with their
/// pitches shuffled among them.
#[test]
fn a_bach_fugue_against_its_notes_shuffled() {
    let seq = load_sequence(&asap().join("Bach/Fugue/bwv_846/Shi05M.mid")).unwrap();
    let real = sample_metrics(&seq);
    for f in ["chord_progression_irregularity", "dominant_tonic_ratio", "structureness"] {
        assert!(FEATURES.contains(&f));
        let v = real.feature(f).unwrap_or_else(|| panic!("{f} undefined"));
        assert!((0.0..=1.0).contains(&v), "{f}: {v}");
    }
    for seed in 1..=3u64 {
        let mut shuffled = seq.clone();
        let mut pitches: Vec<u8> = shuffled.notes.iter().map(|n| n.pitch).collect();
        let mut s = seed;
        for i in (1..pitches.len()).rev() {
            pitches.swap(i, (lcg(&mut s) % (i as u64 + 1)) as usize);
        }
        shuffled.notes.iter_mut().zip(&pitches).for_each(|(n, &p)| n.pitch = p);
        let m = sample_metrics(&shuffled);
        let (a, b) = (real.structureness.unwrap(), m.structureness.unwrap());
        assert!(a > b + 0.03, "seed {seed}: SI {a} real against {b} shuffled");
        let (a, b) = (real.chord_progression_irregularity.unwrap(), m.chord_progression_irregularity.unwrap());
        assert!(a < b - 0.03, "seed {seed}: CPI {a} real against {b} shuffled");
        let (a, b) = (real.dominant_tonic_ratio.unwrap(), m.dominant_tonic_ratio.unwrap());
        assert!(a > b + 0.03, "seed {seed}: fifths {a} real against {b} shuffled");
    }
}
