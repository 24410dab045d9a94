//! An excerpt of a performance, as a listener hears it: from the first note, at most
//! `seconds` long, ending where a note begins (no note is cut off by the edge of the file: the
//! fade starts at a note boundary and no new note sounds during it), faded in and out, and
//! levelled to one loudness so that volume gives no side away.

use cadenza_notes::{ControlChange, NoteSequence};

/// Seconds of the fade-out at the end (the notes that sound at the cut ring through it).
pub const FADE_OUT: f64 = 1.0;
/// Seconds of the fade-in at the start (a click guard).
pub const FADE_IN: f64 = 0.01;
/// The loudness every excerpt is levelled to: −20 dBFS RMS, then scaled down if its peak would
/// pass −1 dBFS.
const TARGET_RMS: f32 = 0.1;
const PEAK: f32 = 0.891;

/// Where an excerpt sits in its source, in the source's seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// The first note's onset: the excerpt's time 0.
    pub start: f64,
    /// The onset where the fade begins; notes starting here or later are dropped.
    pub fade: f64,
    /// `fade + FADE_OUT`.
    pub end: f64,
}

/// Chooses the cut of `seq` for an excerpt of at most `seconds` (≥ 2 × FADE_OUT) that starts
/// at the first onset at or after `from` seconds (the first onset when none is): the fade
/// begins at the last onset at or before `start + seconds − FADE_OUT` that leaves at least half
/// the excerpt, else exactly at that time (a texture with no onset there: a held chord). A
/// sequence that ends sooner is taken to its end. `None` for a sequence without notes.
pub fn choose_cut(seq: &NoteSequence, from: f64, seconds: f64) -> Option<Cut> {
    let first = |lo: f64| seq.notes.iter().map(|n| n.start).filter(|&t| t >= lo).fold(f64::INFINITY, f64::min);
    let at_from = first(from);
    let start = if at_from.is_finite() { at_from } else { first(f64::NEG_INFINITY) };
    if !start.is_finite() {
        return None;
    }
    let limit = start + seconds - FADE_OUT;
    let last = seq.notes.iter().map(|n| n.end).fold(start, f64::max);
    if last <= limit {
        return Some(Cut { start, fade: last, end: last + FADE_OUT });
    }
    let half = start + 0.5 * (seconds - FADE_OUT);
    let fade = seq.notes.iter().map(|n| n.start).filter(|&t| t > half && t <= limit).fold(f64::NAN, f64::max);
    let fade = if fade.is_finite() { fade } else { limit };
    Some(Cut { start, fade, end: fade + FADE_OUT })
}

/// The notes and pedal of `seq` inside `cut`, shifted to start at 0: notes that begin at or
/// after the fade are dropped, notes that sound past the end are clipped to it, and each
/// controller's last value before the start is restated at time 0 (a pedal already down).
pub fn cut_sequence(seq: &NoteSequence, cut: &Cut) -> NoteSequence {
    let mut out = NoteSequence::new();
    for n in seq.notes.iter().filter(|n| n.start >= cut.start && n.start < cut.fade) {
        let mut m = n.clone();
        m.start -= cut.start;
        m.end = n.end.min(cut.end) - cut.start;
        if m.end > m.start {
            out.notes.push(m);
        }
    }
    let mut carried: Vec<ControlChange> = Vec::new();
    let mut ccs: Vec<&ControlChange> = seq.control_changes.iter().collect();
    ccs.sort_by(|a, b| a.time.total_cmp(&b.time));
    for c in ccs {
        if c.time < cut.start {
            carried.retain(|x| (x.controller, x.instrument) != (c.controller, c.instrument));
            carried.push(ControlChange { time: 0.0, ..*c });
        } else if c.time < cut.end {
            out.control_changes.push(ControlChange { time: c.time - cut.start, ..*c });
        }
    }
    carried.append(&mut out.control_changes);
    out.control_changes = carried;
    out.total_time = cut.end - cut.start;
    out
}

/// Mono samples of `left`/`right` (their mean), `length` long (padded with silence or cut),
/// with the fades and the levelling applied.
pub fn finish_audio(left: &[f32], right: &[f32], sample_rate: u32, length: usize) -> Vec<f32> {
    let mut x: Vec<f32> = left.iter().zip(right).map(|(l, r)| 0.5 * (l + r)).collect();
    x.resize(length, 0.0);
    let sr = sample_rate as f64;
    let fin = ((FADE_IN * sr) as usize).max(1).min(length);
    for (i, v) in x.iter_mut().take(fin).enumerate() {
        *v *= i as f32 / fin as f32;
    }
    let fout = ((FADE_OUT * sr) as usize).min(length);
    for i in 0..fout {
        // A raised-cosine fade from 1 to 0 over the last second.
        let g = 0.5 * (1.0 + (std::f64::consts::PI * (i as f64 + 1.0) / fout as f64).cos());
        x[length - fout + i] *= g as f32;
    }
    let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt() as f32;
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if rms > 0.0 {
        let gain = (TARGET_RMS / rms).min(PEAK / peak);
        x.iter_mut().for_each(|v| *v *= gain);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_notes::Note;

    fn seq(notes: &[(u8, f64, f64)]) -> NoteSequence {
        let mut s = NoteSequence::new();
        for &(p, a, b) in notes {
            s.notes.push(Note::new(p, 80, a, b));
        }
        s.total_time = s.notes_end();
        s
    }

    #[test]
    fn the_cut_falls_on_an_onset_and_nothing_starts_in_the_fade() {
        // Notes every 0.7 s from 2.0 s: a 10 s excerpt starts at 2.0 and fades from the last
        // onset at or before 2.0 + 9.0 = 11.0, i.e. 2.0 + 12 × 0.7 = 10.4.
        let s = seq(&(0..40)
            .map(|i| (60 + (i % 12) as u8, 2.0 + 0.7 * i as f64, 2.0 + 0.7 * i as f64 + 1.5))
            .collect::<Vec<_>>());
        let c = choose_cut(&s, 0.0, 10.0).unwrap();
        assert!((c.start - 2.0).abs() < 1e-12 && (c.fade - 10.4).abs() < 1e-9 && (c.end - 11.4).abs() < 1e-9, "{c:?}");
        let e = cut_sequence(&s, &c);
        assert_eq!(e.notes.len(), 12);
        assert!(e.notes.iter().all(|n| n.start >= 0.0 && n.start < 8.4 + 1e-9 && n.end <= 9.4 + 1e-9));
        assert!((e.total_time - 9.4).abs() < 1e-9);
        // A short sequence is taken whole; no notes, no excerpt.
        let short = seq(&[(60, 1.0, 2.0), (64, 1.5, 3.0)]);
        let c = choose_cut(&short, 0.0, 30.0).unwrap();
        assert_eq!((c.start, c.fade, c.end), (1.0, 3.0, 4.0));
        assert!(choose_cut(&NoteSequence::new(), 0.0, 30.0).is_none());
        // From a later point: the first onset at or after it; past the end: the first onset.
        let c = choose_cut(&s, 5.0, 10.0).unwrap();
        assert!((c.start - 5.5).abs() < 1e-9, "{c:?}");
        assert_eq!(choose_cut(&short, 99.0, 30.0).unwrap().start, 1.0);
    }

    #[test]
    fn a_pedal_already_down_is_restated_at_the_start() {
        let mut s = seq(&[(60, 5.0, 6.0), (62, 6.0, 7.0)]);
        let cc = |t: f64, v: u8| ControlChange {
            time: t,
            controller: 64,
            value: v,
            instrument: 0,
            program: 0,
            is_drum: false,
        };
        s.control_changes = vec![cc(1.0, 127), cc(3.0, 0), cc(4.0, 100), cc(6.5, 0), cc(30.0, 127)];
        let c = choose_cut(&s, 0.0, 30.0).unwrap();
        let e = cut_sequence(&s, &c);
        let got: Vec<(f64, u8)> = e.control_changes.iter().map(|c| (c.time, c.value)).collect();
        assert_eq!(got, vec![(0.0, 100), (1.5, 0)]);
    }

    #[test]
    fn audio_is_faded_and_levelled() {
        let sr = 1000;
        let x = vec![0.5f32; 3000];
        let y = finish_audio(&x, &x, sr, 3000);
        assert_eq!(y[0], 0.0);
        assert!(y[2999].abs() < 1e-6 && y[1500] > 0.0);
        // Levelled: the middle (no fade) sits at the gain that brings the whole to −20 dBFS
        // RMS, unless the peak caps it.
        let rms = (y.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / 3000.0).sqrt();
        assert!((rms - 0.1).abs() < 1e-3, "{rms}");
        // Padded to the length asked for.
        assert_eq!(finish_audio(&x[..10], &x[..10], sr, 50).len(), 50);
    }
}
