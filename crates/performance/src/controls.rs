//! Conditioning signals of note-seq's `performance_controls`: note density (notes per second
//! over the next 3 s) and pitch-class histogram (seconds each class sounds over the next 5 s),
//! recomputed only at the first event and after each TIME_SHIFT, as Magenta does.

use crate::event::Event;

pub const DENSITY_WINDOW_STEPS: i64 = 300;
pub const HISTOGRAM_WINDOW_STEPS: i64 = 500;
pub const DENSITY_BIN_EDGES: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
pub const DENSITY_BINS: usize = 8;
pub const DEFAULT_DENSITY: f64 = 15.0;
pub const HISTOGRAM_PRIOR: f64 = 0.01;

pub fn density_sequence(events: &[Event], steps_per_second: u32) -> Vec<f64> {
    let mut out = Vec::with_capacity(events.len());
    let mut prev_was_shift: Option<bool> = None;
    let mut prev = 0.0;
    for i in 0..events.len() {
        if prev_was_shift == Some(false) {
            out.push(prev);
            prev_was_shift = Some(matches!(events[i], Event::TimeShift(_)));
            continue;
        }
        let (mut j, mut offset, mut count) = (i, 0i64, 0u32);
        while offset < DENSITY_WINDOW_STEPS && j < events.len() {
            match events[j] {
                Event::NoteOn(_) => count += 1,
                Event::TimeShift(s) => offset += s as i64,
                _ => {}
            }
            j += 1;
        }
        let window = offset.min(DENSITY_WINDOW_STEPS);
        let d = if window > 0 { count as f64 * steps_per_second as f64 / window as f64 } else { 0.0 };
        out.push(d);
        prev = d;
        prev_was_shift = Some(matches!(events[i], Event::TimeShift(_)));
    }
    out
}

/// Bin of a density: the first edge it is below, 7 for ≥ 64.
pub fn density_bin(d: f64) -> usize {
    DENSITY_BIN_EDGES.iter().position(|&e| d < e).unwrap_or(DENSITY_BIN_EDGES.len())
}

pub fn histogram_sequence(events: &[Event], steps_per_second: u32) -> Vec<[f64; 12]> {
    histogram_sequence_with(events, steps_per_second, HISTOGRAM_WINDOW_STEPS, HISTOGRAM_PRIOR)
}

pub fn histogram_sequence_with(
    events: &[Event],
    steps_per_second: u32,
    window_steps: i64,
    prior: f64,
) -> Vec<[f64; 12]> {
    let mut out = Vec::with_capacity(events.len());
    let mut prev_was_shift: Option<bool> = None;
    let mut prev = [1.0f64; 12];
    let mut base: Vec<u8> = Vec::new(); // sounding pitches, insertion order
    fn add(set: &mut Vec<u8>, p: u8) {
        if !set.contains(&p) {
            set.push(p);
        }
    }
    fn discard(set: &mut Vec<u8>, p: u8) {
        set.retain(|&q| q != p);
    }
    for i in 0..events.len() {
        match events[i] {
            Event::NoteOn(p) => add(&mut base, p),
            Event::NoteOff(p) => discard(&mut base, p),
            _ => {}
        }
        if prev_was_shift == Some(false) {
            out.push(prev);
            prev_was_shift = Some(matches!(events[i], Event::TimeShift(_)));
            continue;
        }
        let mut active = base.clone();
        let mut h = [prior; 12];
        let (mut j, mut offset) = (i, 0i64);
        while offset < window_steps && j < events.len() {
            match events[j] {
                Event::NoteOn(p) => add(&mut active, p),
                Event::NoteOff(p) => discard(&mut active, p),
                Event::TimeShift(s) => {
                    for &p in &active {
                        h[(p % 12) as usize] += s as f64 / steps_per_second as f64;
                    }
                    offset += s as i64;
                }
                _ => {}
            }
            j += 1;
        }
        out.push(h);
        prev = h;
        prev_was_shift = Some(matches!(events[i], Event::TimeShift(_)));
    }
    out
}

/// The histogram as the model sees it: normalised to sum 1, uniform when empty.
pub fn normalize_histogram(h: &[f64; 12]) -> [f64; 12] {
    let total: f64 = h.iter().sum();
    if total > 0.0 {
        h.map(|c| c / total)
    } else {
        [1.0 / 12.0; 12]
    }
}

/// Krumhansl–Kessler probe-tone profiles, tonic first.
pub const KK_MAJOR: [f64; 12] = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
pub const KK_MINOR: [f64; 12] = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

/// A key found by [`estimate_key`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EstimatedKey {
    /// Pitch class of the tonic, 0 = C.
    pub tonic: u8,
    pub minor: bool,
    /// Pearson correlation of the histogram with the key's profile (−1..1); 0 when the
    /// histogram is flat or empty.
    pub correlation: f64,
}

impl EstimatedKey {
    /// The seven pitch classes of the key's scale (natural minor for minor keys).
    pub fn scale(&self) -> [bool; 12] {
        let steps: [usize; 7] = if self.minor { [0, 2, 3, 5, 7, 8, 10] } else { [0, 2, 4, 5, 7, 9, 11] };
        let mut s = [false; 12];
        for st in steps {
            s[(st + self.tonic as usize) % 12] = true;
        }
        s
    }
}

fn pearson(a: &[f64; 12], b: &[f64; 12]) -> f64 {
    let (ma, mb) = (a.iter().sum::<f64>() / 12.0, b.iter().sum::<f64>() / 12.0);
    let (mut num, mut va, mut vb) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        va += (a[i] - ma).powi(2);
        vb += (b[i] - mb).powi(2);
    }
    if va <= 0.0 || vb <= 0.0 {
        0.0
    } else {
        num / (va * vb).sqrt()
    }
}

/// Krumhansl–Schmuckler key finding: the major or minor key whose Krumhansl–Kessler profile
/// correlates best with a pitch-class histogram (weighted by duration or by count). Ties go
/// to the lower tonic, major before minor, so the answer is deterministic; an empty or flat
/// histogram gives C major with correlation 0.
pub fn estimate_key(histogram: &[f64; 12]) -> EstimatedKey {
    let mut best = EstimatedKey { tonic: 0, minor: false, correlation: f64::NEG_INFINITY };
    for minor in [false, true] {
        let prof = if minor { KK_MINOR } else { KK_MAJOR };
        for tonic in 0..12u8 {
            let mut rotated = [0.0; 12];
            for (i, v) in prof.iter().enumerate() {
                rotated[(i + tonic as usize) % 12] = *v;
            }
            let r = pearson(histogram, &rotated);
            if r > best.correlation {
                best = EstimatedKey { tonic, minor, correlation: r };
            }
        }
    }
    if best.correlation <= 0.0 && pearson(histogram, &KK_MAJOR) == 0.0 {
        best = EstimatedKey { tonic: 0, minor: false, correlation: 0.0 };
    }
    best
}

/// Krumhansl–Kessler key profiles turned into a 12-class histogram for `--key "D minor"`:
/// the friendlier way to ask a pitch-conditioned model for a key.
pub fn key_histogram(tonic: u8, minor: bool) -> [f64; 12] {
    let prof = if minor { KK_MINOR } else { KK_MAJOR };
    let mut h = [0.0; 12];
    for (i, v) in prof.iter().enumerate() {
        h[(i + tonic as usize) % 12] = *v;
    }
    normalize_histogram(&h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event::*;

    // performance_controls_test.py: testNoteDensity / testPitchHistogram.
    #[test]
    fn key_finding_recovers_scales_and_profiles() {
        for tonic in 0..12u8 {
            for minor in [false, true] {
                let k = estimate_key(&key_histogram(tonic, minor));
                assert_eq!((k.tonic, k.minor), (tonic, minor));
                assert!((k.correlation - 1.0).abs() < 1e-12);
            }
        }
        // A D major scale with tonic-heavy weighting is D major, and its scale has F# and C#.
        let mut h = [0.0; 12];
        for (pc, w) in [(2, 4.0), (4, 1.0), (6, 2.0), (7, 1.0), (9, 3.0), (11, 1.0), (1, 1.0)] {
            h[pc] = w;
        }
        let k = estimate_key(&h);
        assert_eq!((k.tonic, k.minor), (2, false));
        assert!(k.scale()[6] && k.scale()[1] && !k.scale()[0]);
        assert_eq!(estimate_key(&[0.0; 12]), EstimatedKey { tonic: 0, minor: false, correlation: 0.0 });
    }

    /// A chord held half a second, then one note: the events both golden tests read.
    const GOLDEN: [Event; 11] = [
        NoteOn(60),
        NoteOn(64),
        NoteOn(67),
        TimeShift(50),
        NoteOff(60),
        NoteOff(64),
        TimeShift(25),
        NoteOff(67),
        NoteOn(64),
        TimeShift(25),
        NoteOff(64),
    ];

    #[test]
    fn density_golden() {
        let events = GOLDEN;
        let d = density_sequence(&events, 100);
        assert_eq!(d, vec![4.0, 4.0, 4.0, 4.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 0.0]);
    }

    #[test]
    fn histogram_golden() {
        let events = GOLDEN;
        let h = histogram_sequence_with(&events, 100, 100, 0.0);
        let a = [0.5, 0.0, 0.0, 0.0, 0.75, 0.0, 0.0, 0.75, 0.0, 0.0, 0.0, 0.0];
        let b = [0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0];
        let c = [0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let expected = vec![a, a, a, a, b, b, b, c, c, c, [0.0; 12]];
        assert_eq!(h, expected);
        let n = normalize_histogram(&a);
        assert_eq!(n[0], 0.25);
        assert_eq!(n[4], 0.375);
        assert_eq!(normalize_histogram(&[0.0; 12]), [1.0 / 12.0; 12]);
    }

    #[test]
    fn density_bins() {
        assert_eq!(density_bin(0.0), 0);
        assert_eq!(density_bin(1.0), 1);
        assert_eq!(density_bin(15.0), 4);
        assert_eq!(density_bin(64.0), 7);
        assert_eq!(density_bin(1000.0), 7);
    }

    #[test]
    fn key_histogram_peaks_on_tonic() {
        let h = key_histogram(2, true);
        let max = (0..12).max_by(|&a, &b| h[a].partial_cmp(&h[b]).unwrap()).unwrap();
        assert_eq!(max, 2);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
