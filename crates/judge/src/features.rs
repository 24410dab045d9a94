//! Fixed-length windows of music and one broad feature vector per window.
//!
//! The vector covers pitch, the key-normalised pitch-class profile, melodic intervals,
//! inter-onset intervals, durations, dynamics, polyphony and chord sizes, density and
//! register: 37 numbers, none of which a single Cadenza loss targets. Notes are measured as
//! they sound: the sustain pedal is applied first (a generated sample without pedal events is
//! left as it is), so real and generated music are measured the same way.

use cadenza_notes::transform::{apply_sustain, split};
use cadenza_notes::{Note, NoteSequence};
use cadenza_performance::controls::estimate_key;

/// Onsets closer than this are one onset (a chord), as in `cadenza evaluate`.
const ONSET_TOLERANCE: f64 = 0.03;
/// A note this short or shorter is "very short" (a click more than a note).
pub const SHORT_NOTE_SECONDS: f64 = 0.02;
/// A note this long or longer is "held".
pub const HELD_NOTE_SECONDS: f64 = 4.0;

/// The names of [`features`]' entries, in order.
pub const FEATURE_NAMES: [&str; 37] = [
    "density",
    "pitch_mean",
    "pitch_std",
    "pitch_range",
    "pc_rel_0",
    "pc_rel_1",
    "pc_rel_2",
    "pc_rel_3",
    "pc_rel_4",
    "pc_rel_5",
    "pc_rel_6",
    "pc_rel_7",
    "pc_rel_8",
    "pc_rel_9",
    "pc_rel_10",
    "pc_rel_11",
    "key_minor",
    "pc_entropy",
    "interval_0",
    "interval_1_2",
    "interval_3_4",
    "interval_5_7",
    "interval_8_12",
    "interval_13_up",
    "ioi_log_mean",
    "ioi_log_std",
    "duration_log_mean",
    "duration_log_std",
    "short_notes",
    "held_notes",
    "velocity_mean",
    "velocity_std",
    "polyphony",
    "chord_size",
    "chords_3_up",
    "silence",
    "onset_rate",
];

/// The full windows of `seconds` of a sequence (pedal applied, drums dropped) with at least
/// `min_notes` notes. A window holds the notes whose onset falls in it, cut at its end; the
/// last, partial window is dropped.
pub fn windows(seq: &NoteSequence, seconds: f64, min_notes: usize) -> Vec<NoteSequence> {
    let mut seq = apply_sustain(seq);
    seq.notes.retain(|n| !n.is_drum && n.start.is_finite() && n.end.is_finite());
    let end = seq.notes.iter().map(|n| n.end).fold(seq.total_time, f64::max);
    let full = (end / seconds + 1e-9).floor() as usize;
    split(&seq, seconds).into_iter().take(full).filter(|w| w.notes.len() >= min_notes).collect()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt())
}

/// Total length of the union of the notes' intervals.
fn union_length(notes: &[Note]) -> f64 {
    let mut iv: Vec<(f64, f64)> = notes.iter().map(|n| (n.start, n.end.max(n.start))).collect();
    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut cur) = (0.0, None::<(f64, f64)>);
    for (s, e) in iv {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            _ => {
                if let Some((cs, ce)) = cur {
                    total += ce - cs;
                }
                cur = Some((s, e));
            }
        }
    }
    total + cur.map_or(0.0, |(s, e)| e - s)
}

/// The feature vector of one window of `seconds` (see [`FEATURE_NAMES`]). Every entry is
/// finite; a quantity a window cannot define (an interval with one onset) is 0.
pub fn features(window: &NoteSequence, seconds: f64) -> Vec<f64> {
    let mut notes: Vec<Note> = window.notes.iter().filter(|n| !n.is_drum).cloned().collect();
    notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.pitch.cmp(&b.pitch)));
    let n = notes.len().max(1) as f64;
    let pitches: Vec<f64> = notes.iter().map(|x| x.pitch as f64).collect();
    let (pitch_mean, pitch_std) = mean_std(&pitches);
    let range = pitches.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - pitches.iter().cloned().fold(f64::INFINITY, f64::min);

    // Key-relative pitch-class profile (count-weighted), the key found from the
    // duration-weighted profile (Krumhansl–Schmuckler), as `cadenza evaluate` finds it.
    let (mut by_duration, mut by_count) = ([0.0f64; 12], [0.0f64; 12]);
    for x in &notes {
        by_duration[x.pitch as usize % 12] += (x.end - x.start).max(0.0);
        by_count[x.pitch as usize % 12] += 1.0;
    }
    let key = estimate_key(&by_duration);
    let rel: Vec<f64> = (0..12).map(|k| by_count[(k + key.tonic as usize) % 12] / n).collect();
    let entropy = -by_count.iter().filter(|&&c| c > 0.0).map(|c| (c / n) * (c / n).log2()).sum::<f64>();

    // Onsets (chords grouped): sizes, the top note of each (the melody, roughly), intervals.
    let mut groups: Vec<(f64, Vec<u8>)> = Vec::new();
    for x in &notes {
        match groups.last_mut() {
            Some((t, ps)) if x.start - *t <= ONSET_TOLERANCE => ps.push(x.pitch),
            _ => groups.push((x.start, vec![x.pitch])),
        }
    }
    let tops: Vec<i32> = groups.iter().map(|(_, ps)| *ps.iter().max().unwrap() as i32).collect();
    let mut intervals = [0.0f64; 6];
    for w in tops.windows(2) {
        let d = (w[1] - w[0]).unsigned_abs();
        intervals[match d {
            0 => 0,
            1..=2 => 1,
            3..=4 => 2,
            5..=7 => 3,
            8..=12 => 4,
            _ => 5,
        }] += 1.0;
    }
    let ni = (tops.len().saturating_sub(1)).max(1) as f64;
    let iois: Vec<f64> = groups.windows(2).map(|w| (w[1].0 - w[0].0).max(1e-3).ln()).collect();
    let (ioi_mean, ioi_std) = mean_std(&iois);
    let durations: Vec<f64> = notes.iter().map(|x| (x.end - x.start).max(1e-3).ln()).collect();
    let (dur_mean, dur_std) = mean_std(&durations);
    let short = notes.iter().filter(|x| x.end - x.start <= SHORT_NOTE_SECONDS + 1e-9).count() as f64 / n;
    let held = notes.iter().filter(|x| x.end - x.start >= HELD_NOTE_SECONDS).count() as f64 / n;
    let velocities: Vec<f64> = notes.iter().map(|x| x.velocity as f64).collect();
    let (vel_mean, vel_std) = mean_std(&velocities);
    let sounding = union_length(&notes);
    let polyphony =
        if sounding > 0.0 { notes.iter().map(|x| (x.end - x.start).max(0.0)).sum::<f64>() / sounding } else { 0.0 };
    let ng = groups.len().max(1) as f64;
    let chord_size = notes.len() as f64 / ng;
    let chords3 = groups.iter().filter(|(_, ps)| ps.len() >= 3).count() as f64 / ng;

    let mut v = vec![notes.len() as f64 / seconds, pitch_mean, pitch_std, if range.is_finite() { range } else { 0.0 }];
    v.extend(rel);
    v.push(if key.minor { 1.0 } else { 0.0 });
    v.push(entropy);
    v.extend(intervals.iter().map(|c| c / ni));
    v.extend([ioi_mean, ioi_std, dur_mean, dur_std, short, held, vel_mean, vel_std, polyphony, chord_size, chords3]);
    v.push((1.0 - sounding / seconds).clamp(0.0, 1.0));
    v.push(groups.len() as f64 / seconds);
    debug_assert_eq!(v.len(), FEATURE_NAMES.len());
    v.into_iter().map(|x| if x.is_finite() { x } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_notes::transform::sequence_of;

    /// A C major chord then a melody, worked by hand.
    #[test]
    fn features_of_a_small_window_worked_by_hand() {
        // C4-E4-G4 chord at 0 (1 s), then D5 at 1 s (0.5 s), then a 10 ms click E5 at 2 s.
        let seq = sequence_of(&[
            (60, 80, 0.0, 1.0),
            (64, 80, 0.0, 1.0),
            (67, 80, 0.0, 1.0),
            (74, 100, 1.0, 1.5),
            (76, 60, 2.0, 2.01),
        ]);
        let f = features(&seq, 4.0);
        let get = |name: &str| f[FEATURE_NAMES.iter().position(|&x| x == name).unwrap()];
        assert!((get("density") - 5.0 / 4.0).abs() < 1e-12);
        assert!((get("pitch_mean") - (60 + 64 + 67 + 74 + 76) as f64 / 5.0).abs() < 1e-12);
        assert_eq!(get("pitch_range"), 16.0);
        // Key C major: C, D, E, E, G relative to C.
        assert_eq!(get("key_minor"), 0.0);
        assert!((get("pc_rel_0") - 0.2).abs() < 1e-12 && (get("pc_rel_4") - 0.4).abs() < 1e-12);
        // Tops: G4 (67) -> D5 (74) = 7 -> E5 (76) = 2.
        assert_eq!((get("interval_5_7"), get("interval_1_2")), (0.5, 0.5));
        assert!((get("ioi_log_mean") - 0.0).abs() < 1e-12, "IOIs are 1 s and 1 s");
        assert!((get("short_notes") - 0.2).abs() < 1e-12);
        assert!((get("velocity_mean") - 80.0).abs() < 1e-12);
        // Sounding 0..1.5 and 2..2.01: 1.51 s; durations sum 3 + 0.5 + 0.01.
        assert!((get("polyphony") - 3.51 / 1.51).abs() < 1e-12);
        assert!((get("chord_size") - 5.0 / 3.0).abs() < 1e-12 && (get("chords_3_up") - 1.0 / 3.0).abs() < 1e-12);
        assert!((get("silence") - (1.0 - 1.51 / 4.0)).abs() < 1e-12);
        assert!(f.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn windows_are_full_and_have_enough_notes() {
        // 10 notes a second for 31 s: two full windows of 15 s, the last second dropped.
        let notes: Vec<(u8, u8, f64, f64)> =
            (0..310).map(|i| (60, 80, i as f64 * 0.1, i as f64 * 0.1 + 0.05)).collect();
        let w = windows(&sequence_of(&notes), 15.0, 8);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].notes.len(), 150);
        assert!(windows(&sequence_of(&notes[..5]), 15.0, 8).is_empty());
    }
}
