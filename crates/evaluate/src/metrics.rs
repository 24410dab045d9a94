//! Per-sample metrics of one `NoteSequence`.
//!
//! Every metric is defined on the notes as heard (the loaders apply the sustain pedal, as
//! Magenta's pipeline does before encoding) and is either a number or `None` (JSON `null`)
//! when it is undefined for the sample (no notes, one onset, …): never NaN.

use crate::chords::{beat_chords, chord_progression_irregularity, dominant_tonic_ratio, merge_repeats};
use crate::structure::structureness;
use cadenza_notes::NoteSequence;
use cadenza_performance::controls::{estimate_key, EstimatedKey};
use serde::{Deserialize, Serialize};

/// Length of the windows of [`SampleMetrics::key_consistency`], in seconds.
pub const KEY_WINDOW_SECONDS: f64 = 4.0;
/// Onsets closer than this (seconds) to the first onset of a group are one onset: a chord
/// played by a pianist spreads over a few tens of milliseconds.
pub const ONSET_TOLERANCE_SECONDS: f64 = 0.03;
/// Bin edges (seconds) of [`SampleMetrics::ioi_histogram`]; the last bin is open-ended
/// (`[2, ∞)`).
pub const IOI_BIN_EDGES: [f64; 13] = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0, f64::INFINITY];
/// Bin edges of [`SampleMetrics::rhythm_ratio_histogram`] (defined with the performance
/// events, where the training's ratio loss bins alike).
pub use cadenza_performance::rhythm::RHYTHM_RATIO_EDGES;
/// Grid positions per quarter note of the groove and empty-beat grid (16ths).
pub const GRID_PER_QUARTER: u32 = 4;
/// Tempo of the grid when the sequence declares none (MIDI's default).
pub const DEFAULT_QPM: f64 = 120.0;

const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// A Krumhansl–Schmuckler key, with a readable name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// e.g. "C major", "F# minor".
    pub name: String,
    /// Pitch class of the tonic, 0 = C.
    pub tonic: u8,
    pub minor: bool,
    /// Pearson correlation of the duration-weighted pitch-class histogram with the key's
    /// Krumhansl–Kessler profile.
    pub correlation: f64,
}

impl From<EstimatedKey> for Key {
    fn from(k: EstimatedKey) -> Self {
        Key {
            name: format!("{} {}", NAMES[k.tonic as usize % 12], if k.minor { "minor" } else { "major" }),
            tonic: k.tonic,
            minor: k.minor,
            correlation: k.correlation,
        }
    }
}

/// The beat grid of the groove and empty-beat metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    /// The sequence's first tempo, else 120.
    pub qpm: f64,
    /// The sequence's first time signature, else 4/4.
    pub numerator: u32,
    pub denominator: u32,
}

impl Grid {
    /// The grid of a sequence: its first tempo and first time signature (the one at the
    /// earliest time), else 120 qpm 4/4 (generated performances have neither).
    pub fn of(seq: &NoteSequence) -> Grid {
        let qpm = seq
            .tempos
            .iter()
            .filter(|t| t.qpm.is_finite() && t.qpm > 0.0)
            .min_by(|a, b| a.time.total_cmp(&b.time))
            .map_or(DEFAULT_QPM, |t| t.qpm);
        let ts = seq
            .time_signatures
            .iter()
            .filter(|t| t.numerator > 0 && t.denominator > 0 && t.denominator.is_power_of_two())
            .min_by(|a, b| a.time.total_cmp(&b.time));
        let (numerator, denominator) = ts.map_or((4, 4), |t| (t.numerator, t.denominator));
        Grid { qpm, numerator, denominator }
    }

    /// Seconds per grid position (a 16th note).
    pub fn step_seconds(&self) -> f64 {
        60.0 / self.qpm / GRID_PER_QUARTER as f64
    }

    /// Grid positions per beat (the time signature's denominator note; at least one).
    pub fn steps_per_beat(&self) -> u64 {
        ((GRID_PER_QUARTER * 4) / self.denominator).max(1) as u64
    }

    /// Grid positions per bar.
    pub fn steps_per_bar(&self) -> u64 {
        self.steps_per_beat() * self.numerator as u64
    }
}

/// The metrics of one sample. Scalar features (the ones compared against a reference) are
/// listed in [`FEATURES`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMetrics {
    /// The file (or `split.examples#index`) the sample came from.
    pub name: String,
    pub num_notes: usize,
    /// Distinct onsets (onsets within [`ONSET_TOLERANCE_SECONDS`] of a group's first are one).
    pub num_onsets: usize,
    /// Seconds from the first onset to the last note end (0 without notes).
    pub seconds: f64,
    /// Krumhansl–Schmuckler key of the whole sample: the major or minor key whose
    /// Krumhansl–Kessler profile correlates best with the **duration-weighted** pitch-class
    /// histogram (`cadenza_performance::controls::estimate_key`). `null` without notes.
    pub key: Option<Key>,
    /// Shannon entropy (bits, 0..log2 12 ≈ 3.585) of the **count-weighted** pitch-class
    /// histogram (each note counts once, as MusPy and MGEval): low for tonal music that
    /// dwells on few pitch classes, high for chromatic or random pitches.
    pub pitch_class_entropy: Option<f64>,
    /// Fraction of notes (by count) whose pitch class is in the scale of [`Self::key`]
    /// (`EstimatedKey::scale()`: major, or natural minor, so a minor piece's raised leading
    /// tone counts as out of key). Tonality at the scale of the whole sample.
    pub in_key_ratio: Option<f64>,
    /// Tonality over time: the sample is cut into [`KEY_WINDOW_SECONDS`] windows from its
    /// first onset; each window with notes gets its own Krumhansl–Schmuckler key (notes
    /// weighted by the time they sound inside the window); the fraction of those windows
    /// whose key (tonic and mode) equals the whole sample's key. Modulating music scores
    /// lower; so does music that wanders without a key.
    pub key_consistency: Option<f64>,
    /// Mogren (2016) / Yang & Lerch (2018, MGEval): the largest fraction of notes (by count)
    /// in one of the 24 major and natural-minor scales. Unlike `in_key_ratio` it does not
    /// depend on the key finder.
    pub scale_consistency: Option<f64>,
    /// Mean number of notes sounding, over the time at least one note sounds (MusPy's
    /// definition): Σ note durations ÷ length of the union of the note intervals. 1 for a
    /// monophonic line; a four-voice chorale is near 4.
    pub polyphony: Option<f64>,
    /// Notes per second: notes ÷ (last note end − first onset). 0 without notes; `null` when
    /// that span is 0.
    pub note_density: Option<f64>,
    /// Highest minus lowest pitch, in semitones.
    pub pitch_range: Option<f64>,
    /// Mean MIDI velocity of the notes.
    pub velocity_mean: Option<f64>,
    /// Population standard deviation of the velocities: dynamics (0 for a constant velocity).
    pub velocity_std: Option<f64>,
    /// Mean inter-onset interval (seconds) between consecutive distinct onsets (onset groups,
    /// see `num_onsets`); `null` with fewer than two onsets.
    pub ioi_mean: Option<f64>,
    /// Population standard deviation of those intervals: rhythmic variety.
    pub ioi_std: Option<f64>,
    /// Fraction of the intervals in each [`IOI_BIN_EDGES`] bin (all zeros without intervals).
    /// It depends on the tempo: the same rhythm played 5 % faster can move to other bins.
    pub ioi_histogram: Vec<f64>,
    /// Tempo-invariant rhythm (Jacoby & McDermott 2017's interval ratios): for every two
    /// successive inter-onset intervals `a`, `b`, the ratio `a / (a + b)` (0.5 for an even
    /// pulse, 1/3 and 2/3 for a long-short pattern), as the fraction of pairs in each
    /// [`RHYTHM_RATIO_EDGES`] bin. All zeros with fewer than three onsets.
    #[serde(default)]
    pub rhythm_ratio_histogram: Vec<f64>,
    /// The count-weighted pitch-class histogram relative to the key: rotated so that the
    /// tonic of a major [`Self::key`] (the relative major's tonic, three semitones above, of a
    /// minor one) is bin 0, then normalised to sum 1; so the diatonic pitches of any key fall
    /// on the bins of C major. Empty without notes. Comparing it across pieces in different
    /// keys is what a transposition-invariant pitch profile needs.
    #[serde(default)]
    pub key_relative_pc_histogram: Vec<f64>,
    /// Wu & Yang (2020): 1 − the mean, over pairs of adjacent bars, of the Hamming distance
    /// between the bars' binary onset patterns on the 16th-note grid (divided by the grid
    /// positions per bar). Onsets snap to the nearest grid position of [`Self::grid`]; bars
    /// run from the one with the first onset to the one with the last (empty bars inside
    /// count). 1 = every bar has the same rhythm. `null` with fewer than two bars.
    pub groove_consistency: Option<f64>,
    /// Fraction of beats of the grid with no onset, from the beat of the first onset to the
    /// beat of the last (onsets snapped to the nearest 16th as for the groove): long silences
    /// and held notes raise it.
    pub empty_beat_rate: Option<f64>,
    /// Onsets on the beat grid, without being told the tempo: of the intervals between
    /// successive distinct onsets (in 10 ms steps, the events' time unit), the share that is a
    /// whole number of one grid unit within a step, for the unit from 60 to 400 ms that fits
    /// best, corrected for chance as Cohen's kappa ([`cadenza_performance::rhythm::on_grid_ratio`]).
    /// A score rendered at its tempo is near 1; onsets that keep no pulse are near 0. `null`
    /// with fewer than 9 onsets.
    #[serde(default)]
    pub on_grid_ratio: Option<f64>,
    /// Wu & Yang (2020, MusDr) chord progression irregularity: one chord per beat of
    /// [`Self::grid`] (template matching, [`crate::chords`]), consecutive repeats merged, then
    /// the number of distinct chord trigrams over the number of trigrams, as a fraction
    /// (MusDr reports a percentage). Low for a progression that loops, 1 when no three
    /// successive chords recur. `null` with fewer than 3 chords after merging (and for a
    /// piece over an hour).
    #[serde(default)]
    pub chord_progression_irregularity: Option<f64>,
    /// Functional harmony: of the successive merged beat chords whose roots differ, the share
    /// whose root falls a perfect fifth (V→I, ii→V, I→IV; [`crate::chords::dominant_tonic_ratio`]).
    /// About 1/11 for roots that move at random; `null` without a change of root.
    #[serde(default)]
    pub dominant_tonic_ratio: Option<f64>,
    /// A simplified MusDr structureness indicator SI(3 s, 8 s) ([`crate::structure`]): the
    /// mean cosine similarity of the 0.5 s pitch-class frames (a note counting for its first
    /// second) of the best-repeated passage of 3–8 s to its best non-overlapping repeat at the
    /// same tempo, 0..1. `null` for pieces under 16 s (or over an hour).
    #[serde(default)]
    pub structureness: Option<f64>,
    /// The beat grid: the sequence's first tempo and time signature, else 120 qpm 4/4.
    pub grid: Grid,
}

/// The scalar features of [`SampleMetrics`], in table order: the ones aggregated and
/// compared against a reference.
pub const FEATURES: [&str; 17] = [
    "pitch_class_entropy",
    "in_key_ratio",
    "key_consistency",
    "scale_consistency",
    "polyphony",
    "note_density",
    "pitch_range",
    "velocity_mean",
    "velocity_std",
    "ioi_mean",
    "ioi_std",
    "groove_consistency",
    "empty_beat_rate",
    "on_grid_ratio",
    "chord_progression_irregularity",
    "dominant_tonic_ratio",
    "structureness",
];

impl SampleMetrics {
    /// The value of one of [`FEATURES`] (`None` for an unknown name or an undefined value).
    pub fn feature(&self, name: &str) -> Option<f64> {
        match name {
            "pitch_class_entropy" => self.pitch_class_entropy,
            "in_key_ratio" => self.in_key_ratio,
            "key_consistency" => self.key_consistency,
            "scale_consistency" => self.scale_consistency,
            "polyphony" => self.polyphony,
            "note_density" => self.note_density,
            "pitch_range" => self.pitch_range,
            "velocity_mean" => self.velocity_mean,
            "velocity_std" => self.velocity_std,
            "ioi_mean" => self.ioi_mean,
            "ioi_std" => self.ioi_std,
            "groove_consistency" => self.groove_consistency,
            "empty_beat_rate" => self.empty_beat_rate,
            "on_grid_ratio" => self.on_grid_ratio,
            "chord_progression_irregularity" => self.chord_progression_irregularity,
            "dominant_tonic_ratio" => self.dominant_tonic_ratio,
            "structureness" => self.structureness,
            _ => None,
        }
        .filter(|v| v.is_finite())
    }
}

fn mean_std(xs: &[f64]) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
    (Some(m), Some(v.sqrt()))
}

/// Shannon entropy in bits of a histogram (normalised here); `None` when it is empty.
pub fn entropy_bits(h: &[f64; 12]) -> Option<f64> {
    let total: f64 = h.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let e = -h.iter().filter(|&&v| v > 0.0).map(|&v| (v / total) * (v / total).log2()).sum::<f64>();
    Some(e.max(0.0))
}

/// Distinct onset times: sorted onsets grouped when within [`ONSET_TOLERANCE_SECONDS`] of
/// the group's first onset; each group is represented by its first onset.
pub fn distinct_onsets(seq: &NoteSequence) -> Vec<f64> {
    let mut on: Vec<f64> = seq.notes.iter().map(|n| n.start).filter(|t| t.is_finite()).collect();
    on.sort_by(f64::total_cmp);
    let mut out: Vec<f64> = Vec::new();
    for t in on {
        if out.last().is_none_or(|&g| t - g > ONSET_TOLERANCE_SECONDS) {
            out.push(t);
        }
    }
    out
}

fn key_of(hist: &[f64; 12]) -> Option<EstimatedKey> {
    (hist.iter().sum::<f64>() > 0.0).then(|| estimate_key(hist))
}

/// Every metric of one sequence (see the fields of [`SampleMetrics`] for the definitions).
pub fn sample_metrics(seq: &NoteSequence) -> SampleMetrics {
    let notes: Vec<&cadenza_notes::Note> =
        seq.notes.iter().filter(|n| n.start.is_finite() && n.end.is_finite() && !n.is_drum).collect();
    let n = notes.len();
    let grid = Grid::of(seq);
    let start = notes.iter().map(|n| n.start).fold(f64::INFINITY, f64::min);
    let end = notes.iter().map(|n| n.end.max(n.start)).fold(f64::NEG_INFINITY, f64::max);
    let seconds = if n == 0 { 0.0 } else { end - start };

    // Pitch-class histograms: by count and by duration.
    let mut by_count = [0.0; 12];
    let mut by_duration = [0.0; 12];
    for x in &notes {
        by_count[(x.pitch % 12) as usize] += 1.0;
        by_duration[(x.pitch % 12) as usize] += (x.end - x.start).max(0.0);
    }
    // All notes zero-length: fall back to counts so the key is still defined.
    let key_hist = if by_duration.iter().sum::<f64>() > 0.0 { by_duration } else { by_count };
    let key = key_of(&key_hist);
    let in_scale =
        |scale: &[bool; 12]| -> f64 { (0..12).filter(|&pc| scale[pc]).map(|pc| by_count[pc]).sum::<f64>() / n as f64 };
    let in_key_ratio = key.filter(|_| n > 0).map(|k| in_scale(&k.scale()));
    let scale_consistency = (n > 0).then(|| {
        let mut best = 0.0f64;
        for tonic in 0..12u8 {
            for minor in [false, true] {
                best = best.max(in_scale(&EstimatedKey { tonic, minor, correlation: 0.0 }.scale()));
            }
        }
        best
    });

    let key_consistency = key.and_then(|k| key_consistency(&notes, k, start, end));
    let polyphony = polyphony(&notes);
    let note_density = if n == 0 { Some(0.0) } else { (seconds > 0.0).then(|| n as f64 / seconds) };
    let pitch_range = (n > 0).then(|| {
        let lo = notes.iter().map(|x| x.pitch).min().unwrap();
        let hi = notes.iter().map(|x| x.pitch).max().unwrap();
        (hi - lo) as f64
    });
    let (velocity_mean, velocity_std) = mean_std(&notes.iter().map(|x| x.velocity as f64).collect::<Vec<_>>());

    // Inter-onset intervals.
    let onsets = {
        let mut s = seq.clone();
        s.notes.retain(|x| x.start.is_finite() && x.end.is_finite() && !x.is_drum);
        distinct_onsets(&s)
    };
    let iois: Vec<f64> = onsets.windows(2).map(|w| w[1] - w[0]).collect();
    let (ioi_mean, ioi_std) = mean_std(&iois);
    let ioi_histogram = ioi_histogram(&iois);
    let rhythm_ratio_histogram = rhythm_ratio_histogram(&iois);

    let step_intervals: Vec<f64> = iois.iter().map(|d| (d * 100.0).round()).collect();
    let on_grid_ratio = cadenza_performance::rhythm::on_grid_ratio(&step_intervals);

    let (groove_consistency, empty_beat_rate) = groove_and_empty_beats(&notes, &grid);

    let progression = merge_repeats(&beat_chords(seq, grid.step_seconds() * grid.steps_per_beat() as f64));

    let key_relative_pc_histogram = match key.filter(|_| n > 0) {
        Some(k) => {
            let shift = (k.tonic as usize + if k.minor { 3 } else { 0 }) % 12;
            (0..12).map(|d| by_count[(d + shift) % 12] / n as f64).collect()
        }
        None => Vec::new(),
    };
    SampleMetrics {
        name: seq.source.path.clone(),
        num_notes: n,
        num_onsets: onsets.len(),
        seconds,
        key: key.filter(|_| n > 0).map(Key::from),
        pitch_class_entropy: entropy_bits(&by_count),
        in_key_ratio,
        key_consistency,
        scale_consistency,
        polyphony,
        note_density,
        pitch_range,
        velocity_mean,
        velocity_std,
        ioi_mean,
        ioi_std,
        ioi_histogram,
        rhythm_ratio_histogram,
        key_relative_pc_histogram,
        groove_consistency,
        empty_beat_rate,
        on_grid_ratio,
        chord_progression_irregularity: chord_progression_irregularity(&progression),
        dominant_tonic_ratio: dominant_tonic_ratio(&progression),
        structureness: structureness(seq),
        grid,
    }
}

/// Share of the windows of [`KEY_WINDOW_SECONDS`] over `[start, end)` whose key is `key`
/// (windows without notes are left out); `None` when no window has notes.
fn key_consistency(notes: &[&cadenza_notes::Note], key: EstimatedKey, start: f64, end: f64) -> Option<f64> {
    let (mut agree, mut windows) = (0usize, 0usize);
    let mut w0 = start;
    while w0 < end {
        let w1 = w0 + KEY_WINDOW_SECONDS;
        let mut h = [0.0; 12];
        for x in notes {
            let overlap = x.end.min(w1) - x.start.max(w0);
            if overlap > 0.0 {
                h[(x.pitch % 12) as usize] += overlap;
            } else if x.start >= w0 && x.start < w1 && x.end <= x.start {
                h[(x.pitch % 12) as usize] += 1e-3; // a zero-length note still counts a little
            }
        }
        if let Some(wk) = key_of(&h) {
            windows += 1;
            agree += usize::from(wk.tonic == key.tonic && wk.minor == key.minor);
        }
        w0 = w1;
    }
    (windows > 0).then(|| agree as f64 / windows as f64)
}

/// Polyphony: Σ durations / |∪ intervals|; `None` when no note has a length.
fn polyphony(notes: &[&cadenza_notes::Note]) -> Option<f64> {
    let mut iv: Vec<(f64, f64)> = notes.iter().filter(|x| x.end > x.start).map(|x| (x.start, x.end)).collect();
    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = iv.iter().map(|(a, b)| b - a).sum();
    let mut union = 0.0;
    let mut cur: Option<(f64, f64)> = None;
    for (a, b) in iv {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                union += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((ca, cb)) = cur {
        union += cb - ca;
    }
    (union > 0.0).then(|| total / union)
}

/// The inter-onset intervals binned by [`IOI_BIN_EDGES`], normalised (all zeros when empty).
fn ioi_histogram(iois: &[f64]) -> Vec<f64> {
    let mut ioi_histogram = vec![0.0; IOI_BIN_EDGES.len() - 1];
    for &d in iois {
        let b = IOI_BIN_EDGES.windows(2).position(|e| d >= e[0] && d < e[1]).unwrap_or(ioi_histogram.len() - 1);
        ioi_histogram[b] += 1.0;
    }
    if !iois.is_empty() {
        for v in &mut ioi_histogram {
            *v /= iois.len() as f64;
        }
    }
    ioi_histogram
}

/// The ratios `a / (a + b)` of consecutive inter-onset intervals, binned by
/// [`RHYTHM_RATIO_EDGES`] and normalised (all zeros when there is none).
fn rhythm_ratio_histogram(iois: &[f64]) -> Vec<f64> {
    let mut rhythm_ratio_histogram = vec![0.0; cadenza_performance::rhythm::RHYTHM_RATIO_BINS];
    let ratios: Vec<f64> = iois.windows(2).filter(|w| w[0] + w[1] > 0.0).map(|w| w[0] / (w[0] + w[1])).collect();
    for &r in &ratios {
        rhythm_ratio_histogram[cadenza_performance::rhythm::ratio_bin(r)] += 1.0 / ratios.len() as f64;
    }
    rhythm_ratio_histogram
}

/// Groove consistency and the empty-beat rate on the grid, every note onset snapped to the
/// nearest 16th; `None` without notes (groove: without two bars).
fn groove_and_empty_beats(notes: &[&cadenza_notes::Note], grid: &Grid) -> (Option<f64>, Option<f64>) {
    let step = grid.step_seconds();
    let mut positions: Vec<u64> = notes.iter().map(|x| (x.start.max(0.0) / step).round() as u64).collect();
    positions.sort_unstable();
    positions.dedup();
    let (Some(&first), Some(&last)) = (positions.first(), positions.last()) else {
        return (None, None);
    };
    let per_bar = grid.steps_per_bar();
    let per_beat = grid.steps_per_beat();
    let (b0, b1) = (first / per_bar, last / per_bar);
    let groove = (b1 > b0).then(|| {
        let bars = (b1 - b0 + 1) as usize;
        let mut pat = vec![vec![false; per_bar as usize]; bars];
        for &p in &positions {
            pat[(p / per_bar - b0) as usize][(p % per_bar) as usize] = true;
        }
        let d: f64 = pat
            .windows(2)
            .map(|w| w[0].iter().zip(&w[1]).filter(|(a, b)| a != b).count() as f64 / per_bar as f64)
            .sum();
        1.0 - d / (bars - 1) as f64
    });
    let (k0, k1) = (first / per_beat, last / per_beat);
    let beats = (k1 - k0 + 1) as f64;
    let mut occupied: Vec<u64> = positions.iter().map(|p| p / per_beat).collect();
    occupied.dedup();
    (groove, Some(1.0 - occupied.len() as f64 / beats))
}

/// Histogram intersection Σ min(aᵢ, bᵢ) of two normalised histograms (1 = identical, 0 =
/// disjoint); `None` when either is empty or all zeros, or their lengths differ.
pub fn histogram_overlap(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.iter().sum::<f64>() <= 0.0 || b.iter().sum::<f64>() <= 0.0 {
        return None;
    }
    Some(a.iter().zip(b).map(|(x, y)| x.min(*y)).sum())
}

/// The mean of normalised histograms, each weighing the same (empty or all-zero ones are left
/// out); `None` when none is left.
pub fn mean_histogram<'a>(hs: impl Iterator<Item = &'a [f64]>) -> Option<Vec<f64>> {
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for h in hs.filter(|h| h.iter().sum::<f64>() > 0.0) {
        if sum.is_empty() {
            sum = vec![0.0; h.len()];
        }
        if h.len() != sum.len() {
            continue;
        }
        sum.iter_mut().zip(h).for_each(|(s, v)| *s += v);
        n += 1;
    }
    (n > 0).then(|| sum.into_iter().map(|s| s / n as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_notes::transform::sequence_of;

    #[test]
    fn key_relative_histogram_is_transposition_invariant() {
        // A C major scale and the same scale in E: both land on C major's bins.
        let scale = |t: u8| {
            sequence_of(
                &[0u8, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0]
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| (60 + t + p, 80, i as f64 * 0.5, i as f64 * 0.5 + 0.5))
                    .collect::<Vec<_>>(),
            )
        };
        let (c, e) = (sample_metrics(&scale(0)), sample_metrics(&scale(4)));
        assert_eq!(c.key.as_ref().unwrap().name, "C major");
        assert_eq!(e.key.as_ref().unwrap().name, "E major");
        assert_eq!(c.key_relative_pc_histogram, e.key_relative_pc_histogram);
        assert!((c.key_relative_pc_histogram.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(histogram_overlap(&c.key_relative_pc_histogram, &e.key_relative_pc_histogram), Some(1.0));
        assert!(sample_metrics(&sequence_of(&[])).key_relative_pc_histogram.is_empty());
        assert_eq!(histogram_overlap(&[0.5, 0.5, 0.0], &[0.0, 0.5, 0.5]), Some(0.5));
        assert_eq!(histogram_overlap(&[], &[]), None);
        assert_eq!(
            mean_histogram([&[1.0, 0.0][..], &[0.0, 0.0][..], &[0.0, 1.0][..]].into_iter()),
            Some(vec![0.5, 0.5])
        );
    }

    #[test]
    fn entropy_of_uniform_and_single() {
        assert_eq!(entropy_bits(&[0.0; 12]), None);
        let mut h = [0.0; 12];
        h[3] = 5.0;
        assert_eq!(entropy_bits(&h), Some(0.0));
        assert!((entropy_bits(&[1.0; 12]).unwrap() - 12f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn grid_defaults_and_sizes() {
        let g = Grid::of(&sequence_of(&[(60, 80, 0.0, 1.0)]));
        assert_eq!(g, Grid { qpm: 120.0, numerator: 4, denominator: 4 });
        assert_eq!((g.step_seconds(), g.steps_per_beat(), g.steps_per_bar()), (0.125, 4, 16));
        let six_eight = Grid { qpm: 90.0, numerator: 6, denominator: 8 };
        assert_eq!((six_eight.steps_per_beat(), six_eight.steps_per_bar()), (2, 12));
    }
}
