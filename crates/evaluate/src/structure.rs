//! Repetition structure: a simplified form of MusDr's structureness indicator (Wu & Yang
//! 2020), and the pitch-class frames it and the chord recogniser share.
//!
//! MusDr's SI(l, u) is the maximum, over segments whose duration lies in `[l, u]` seconds, of
//! Müller's fitness scape plot: a segment's fitness is the harmonic mean of how similar its
//! best family of repeats is (a warping path through the chroma self-similarity matrix) and
//! how much of the piece that family covers. What [`structureness`] computes instead:
//!
//! 1. the notes (from the first onset) in [`FRAME_SECONDS`] frames (MusDr's scape plots are
//!    sampled at 2 Hz too), each a 12-dim vector of the seconds each pitch class sounds in the
//!    frame, a note sounding for its first [`HEARD_SECONDS`] at most (MusDr's chroma come from
//!    synthesised audio, where notes decay; without the cap the held, pedalled final chord of
//!    a Chopin étude made the same notes with shuffled pitches score 1);
//! 2. the self-similarity of two frames: the cosine of their vectors, in [0, 1] (0 when either
//!    is silent);
//! 3. for every segment of `d` frames, `d` from [`SI_MIN_SECONDS`] to [`SI_MAX_SECONDS`], and
//!    every lag `L ≥ d` (so the repeat does not overlap the segment), the mean similarity of
//!    the segment's frames to the frames `L` later (a diagonal stripe of the matrix, without
//!    warping), and SI = the maximum of that mean over segments, lengths and lags.
//!
//! So SI is the similarity of the best-repeated passage of 3 to 8 s to its best exact-tempo
//! repeat: 1 when some passage recurs note for note (a chord struck again and again counts),
//! lower when nothing does. Unlike MusDr's there is no coverage term (a passage heard twice
//! and one heard ten times score alike), no tempo warping (a repeat played slower only matches
//! while the drift stays under a frame), and the mean over a segment, not a path score. The
//! maximum over the more segments and lags of a longer piece biases SI up a little.
//!
//! The range is MusDr's short-term one, SI(3, 8): the samples of `cadenza generate` (30 s
//! by default) and the examples of a `cadenza dataset` (at most 30 s) are too short for the
//! mid-term SI(8, 15), which needs a piece of 30 s here.

use cadenza_notes::{Note, NoteSequence};

/// Frame length of the self-similarity matrix, in seconds.
pub const FRAME_SECONDS: f64 = 0.5;
/// Shortest segment of [`structureness`], in seconds.
pub const SI_MIN_SECONDS: f64 = 3.0;
/// Longest segment of [`structureness`], in seconds; a piece shorter than twice this has no
/// SI (the longest segment and its repeat must fit).
pub const SI_MAX_SECONDS: f64 = 8.0;
/// A note counts in the frames of its first this many seconds only (a piano note decays), so
/// that a held or pedalled chord is not a passage that repeats itself.
pub const HEARD_SECONDS: f64 = 1.0;
/// Pieces longer than this (first onset to last note end: an hour) get no chords and no SI,
/// so that one stuck note cannot make the frames take gigabytes.
pub const MAX_SECONDS: f64 = 3600.0;
/// The weight, in seconds, of a note of zero length in the frame of its onset.
const ZERO_LENGTH_WEIGHT: f64 = 1e-3;

/// The notes that sound: finite times, not drums.
pub(crate) fn sounding_notes(seq: &NoteSequence) -> Vec<&Note> {
    seq.notes.iter().filter(|n| n.start.is_finite() && n.end.is_finite() && !n.is_drum).collect()
}

/// `count` frames of `frame` seconds from `t0`: per frame, the seconds each pitch class sounds
/// inside it (a zero-length note counts 1 ms in the frame of its onset). Notes outside the
/// frames are cut off.
pub fn chroma_frames(notes: &[&Note], t0: f64, frame: f64, count: usize) -> Vec<[f64; 12]> {
    let mut out = vec![[0.0; 12]; count];
    for n in notes {
        let pc = (n.pitch % 12) as usize;
        let first = ((n.start - t0) / frame).floor().max(0.0) as usize;
        if n.end <= n.start {
            if let Some(f) = out.get_mut(first) {
                f[pc] += ZERO_LENGTH_WEIGHT;
            }
            continue;
        }
        let last = (((n.end - t0) / frame).ceil().max(0.0) as usize).min(count);
        for (k, f) in out.iter_mut().enumerate().take(last).skip(first) {
            let (a, b) = (t0 + k as f64 * frame, t0 + (k + 1) as f64 * frame);
            let overlap = n.end.min(b) - n.start.max(a);
            if overlap > 0.0 {
                f[pc] += overlap;
            }
        }
    }
    out
}

/// The structureness indicator as the module describes it; `None` without notes, for a piece
/// shorter than `2 ·` [`SI_MAX_SECONDS`] or longer than [`MAX_SECONDS`].
pub fn structureness(seq: &NoteSequence) -> Option<f64> {
    let notes = sounding_notes(seq);
    let start = notes.iter().map(|n| n.start).fold(f64::INFINITY, f64::min);
    let end = notes.iter().map(|n| n.end.max(n.start)).fold(f64::NEG_INFINITY, f64::max);
    let seconds = end - start;
    if notes.is_empty() || !(2.0 * SI_MAX_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return None;
    }
    let n = (seconds / FRAME_SECONDS).ceil() as usize;
    let heard: Vec<Note> =
        notes.iter().map(|x| Note { end: x.end.min(x.start + HEARD_SECONDS), ..(*x).clone() }).collect();
    let heard: Vec<&Note> = heard.iter().collect();
    let frames: Vec<[f64; 12]> = chroma_frames(&heard, start, FRAME_SECONDS, n)
        .into_iter()
        .map(|f| {
            let norm = f.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                f.map(|v| v / norm)
            } else {
                f
            }
        })
        .collect();
    let (d_min, d_max) =
        ((SI_MIN_SECONDS / FRAME_SECONDS).round() as usize, (SI_MAX_SECONDS / FRAME_SECONDS).round() as usize);
    let mut best = 0.0f64;
    let mut prefix = vec![0.0; n + 1];
    for lag in d_min..n {
        // Pairs (t, t + lag) for t < m; a segment [s, s + d) needs s + d ≤ m.
        let m = n - lag;
        if m < d_min {
            break;
        }
        for t in 0..m {
            let sim: f64 = frames[t].iter().zip(&frames[t + lag]).map(|(a, b)| a * b).sum();
            prefix[t + 1] = prefix[t] + sim;
        }
        for d in d_min..=d_max.min(lag).min(m) {
            for s in 0..=m - d {
                best = best.max((prefix[s + d] - prefix[s]) / d as f64);
            }
        }
    }
    Some(best.clamp(0.0, 1.0))
}
