//! One chord per beat, recognised by templates, and two measures of the progression they
//! make: MusDr's chord progression irregularity (Wu & Yang 2020) and the share of root
//! motion down a fifth (V→I-type motion).
//!
//! Recognition: the notes are cut into beats of the grid (the sequence's first tempo and time
//! signature, see [`crate::Grid`]; beat `k` spans `[k·b, (k+1)·b)` seconds from time 0, as the
//! empty-beat grid). A beat's **duration-weighted pitch-class histogram** (the seconds each
//! pitch class sounds inside the beat) is matched against the binary templates of five
//! qualities ([`ChordQuality`]) on the 12 roots by cosine similarity; the best template is
//! the beat's chord (ties, e.g. the three spellings of one augmented triad, go to the lowest
//! root, then to the quality listed first). Beats where nothing sounds are skipped.
//!
//! Why a beat and not a half bar: a window that spans two chords mixes them into one
//! histogram whose best template is often neither, while a window shorter than the harmonic
//! rhythm only repeats a chord, which [`merge_repeats`] removes. The beat is the finer of the
//! two and needs no guess of where a half bar falls in a 3/4 or 6/8 bar.

use crate::structure::{chroma_frames, sounding_notes, MAX_SECONDS};
use cadenza_notes::NoteSequence;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

const ROOT_NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// The chord qualities of the template matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChordQuality {
    Major,
    Minor,
    Diminished,
    Augmented,
    /// Major triad with a minor seventh.
    Dominant7,
}

impl ChordQuality {
    /// In the order ties are broken.
    pub const ALL: [ChordQuality; 5] = [
        ChordQuality::Major,
        ChordQuality::Minor,
        ChordQuality::Diminished,
        ChordQuality::Augmented,
        ChordQuality::Dominant7,
    ];

    /// Semitones above the root of the chord tones.
    pub fn intervals(self) -> &'static [u8] {
        match self {
            ChordQuality::Major => &[0, 4, 7],
            ChordQuality::Minor => &[0, 3, 7],
            ChordQuality::Diminished => &[0, 3, 6],
            ChordQuality::Augmented => &[0, 4, 8],
            ChordQuality::Dominant7 => &[0, 4, 7, 10],
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            ChordQuality::Major => "",
            ChordQuality::Minor => "m",
            ChordQuality::Diminished => "dim",
            ChordQuality::Augmented => "aug",
            ChordQuality::Dominant7 => "7",
        }
    }
}

/// A recognised chord: a root pitch class (0 = C) and a quality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Chord {
    pub root: u8,
    pub quality: ChordQuality,
}

impl Chord {
    pub fn new(root: u8, quality: ChordQuality) -> Chord {
        Chord { root: root % 12, quality }
    }

    /// e.g. "C", "Dm", "Bdim", "Caug", "G7".
    pub fn name(&self) -> String {
        format!("{}{}", ROOT_NAMES[self.root as usize % 12], self.quality.suffix())
    }
}

/// The template whose cosine similarity with the pitch-class histogram `h` is highest;
/// `None` when `h` is all zeros. The cosine with a binary template `T` is
/// `Σ_{pc∈T} h[pc] / (‖h‖·√|T|)`, so a triad played alone matches its triad (1) better than
/// the seventh chord containing it (3/(√3·2) ≈ 0.87), and four equal chord tones of a
/// dominant seventh match it (1) better than either triad inside (3/(2·√3)).
pub fn recognize_chord(h: &[f64; 12]) -> Option<Chord> {
    if h.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    let mut best: Option<(f64, Chord)> = None;
    for root in 0..12u8 {
        for quality in ChordQuality::ALL {
            let tones = quality.intervals();
            let score = tones.iter().map(|&i| h[((root + i) % 12) as usize]).sum::<f64>() / (tones.len() as f64).sqrt();
            // A relative margin: equal sums added in another order must still tie.
            if best.is_none_or(|(b, _)| score > b * (1.0 + 1e-9)) {
                best = Some((score, Chord::new(root, quality)));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// The chord of every beat of `beat_seconds` in which a note sounds, in time order (not
/// merged). Empty without notes, with a beat that is not positive, or past
/// [`MAX_SECONDS`].
pub fn beat_chords(seq: &NoteSequence, beat_seconds: f64) -> Vec<Chord> {
    let notes = sounding_notes(seq);
    if notes.is_empty() || !(beat_seconds > 0.0 && beat_seconds.is_finite()) {
        return Vec::new();
    }
    let start = notes.iter().map(|n| n.start).fold(f64::INFINITY, f64::min);
    let end = notes.iter().map(|n| n.end.max(n.start)).fold(f64::NEG_INFINITY, f64::max);
    if end - start > MAX_SECONDS {
        return Vec::new();
    }
    let t0 = (start.max(0.0) / beat_seconds).floor() * beat_seconds;
    let count = (((end - t0) / beat_seconds).ceil() as usize).max(1);
    chroma_frames(&notes, t0, beat_seconds, count).iter().filter_map(recognize_chord).collect()
}

/// Consecutive equal chords as one: the progression of chord changes, as a lead sheet's
/// chord symbols (what MusDr's chord tokens are) write it.
pub fn merge_repeats(chords: &[Chord]) -> Vec<Chord> {
    let mut out: Vec<Chord> = Vec::with_capacity(chords.len());
    for &c in chords {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

/// Wu & Yang (2020, MusDr) CPI: the number of distinct chord trigrams over the number of
/// trigrams (`n − 2` of `n` chords), a fraction in (0, 1] (MusDr reports it as a percentage).
/// `progression` is used as given: [`SampleMetrics`](crate::SampleMetrics) passes the merged
/// beat chords. `None` with fewer than 3 chords. (MusDr's code divides by `n − 3` and
/// leaves the last trigram out, and returns 1 for short pieces; this counts every trigram.)
pub fn chord_progression_irregularity(progression: &[Chord]) -> Option<f64> {
    if progression.len() < 3 {
        return None;
    }
    let trigrams = progression.windows(3);
    let total = trigrams.len();
    let distinct: HashSet<&[Chord]> = trigrams.collect();
    Some(distinct.len() as f64 / total as f64)
}

/// Functional harmony: among consecutive chords whose roots differ, the share whose root
/// moves down a perfect fifth (up a fourth: `(next − previous) mod 12 = 5`), the motion of
/// V→I, ii→V, I→IV. `None` when no two consecutive chords have different roots.
pub fn dominant_tonic_ratio(progression: &[Chord]) -> Option<f64> {
    let moves: Vec<u8> =
        progression.windows(2).map(|w| (w[1].root + 12 - w[0].root) % 12).filter(|&i| i != 0).collect();
    (!moves.is_empty()).then(|| moves.iter().filter(|&&i| i == 5).count() as f64 / moves.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChordQuality::*;

    fn hist(pcs: &[(u8, f64)]) -> [f64; 12] {
        let mut h = [0.0; 12];
        for &(pc, w) in pcs {
            h[pc as usize] += w;
        }
        h
    }

    #[test]
    fn templates_recognise_each_quality() {
        let ok = |pcs: &[u8], root: u8, q: ChordQuality| {
            let h = hist(&pcs.iter().map(|&p| (p, 1.0)).collect::<Vec<_>>());
            assert_eq!(recognize_chord(&h), Some(Chord::new(root, q)), "{pcs:?}");
        };
        ok(&[0, 4, 7], 0, Major);
        ok(&[2, 5, 9], 2, Minor);
        ok(&[11, 2, 5], 11, Diminished);
        ok(&[7, 11, 2, 5], 7, Dominant7);
        // An augmented triad is the same three pitch classes on three roots: the lowest wins.
        ok(&[4, 8, 0], 0, Augmented);
        ok(&[1, 5, 9], 1, Augmented);
        // A lone pitch class: every triad holding it scores 1/√3; C major is listed first.
        ok(&[0], 0, Major);
        assert_eq!(recognize_chord(&[0.0; 12]), None);
        // Duration weighting: C E G with a brief Bb (0.1 of each triad tone's 1) is still C:
        // major (1+1+1)/√3 ≈ 1.732 against dominant seventh (3.1)/2 = 1.55.
        assert_eq!(recognize_chord(&hist(&[(0, 1.0), (4, 1.0), (7, 1.0), (10, 0.1)])), Some(Chord::new(0, Major)));
        assert_eq!(Chord::new(7, Dominant7).name(), "G7");
        assert_eq!(Chord::new(14, Minor).name(), "Dm");
    }

    #[test]
    fn irregularity_and_fifths_by_hand() {
        let (c, f, g) = (Chord::new(0, Major), Chord::new(5, Major), Chord::new(7, Major));
        // C F G C F G C: 5 trigrams, CFG FGC GCF CFG FGC: 3 distinct → 3/5.
        let p = [c, f, g, c, f, g, c];
        assert_eq!(chord_progression_irregularity(&p), Some(3.0 / 5.0));
        // Roots move +5, +2, +5, +5, +2, +5: 4 of 6 down a fifth.
        assert_eq!(dominant_tonic_ratio(&p), Some(4.0 / 6.0));
        assert_eq!(chord_progression_irregularity(&p[..2]), None);
        assert_eq!(chord_progression_irregularity(&p[..3]), Some(1.0));
        // C → Cm → C: the roots never move.
        let cm = Chord::new(0, Minor);
        assert_eq!(dominant_tonic_ratio(&[c, cm, c]), None);
        assert_eq!(merge_repeats(&[c, c, f, f, f, c, c]), vec![c, f, c]);
    }
}
