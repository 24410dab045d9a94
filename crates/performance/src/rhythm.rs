//! Rhythm ratios of successive inter-onset intervals, shared by the evaluation's
//! rhythm-ratio histogram and the training's ratio loss so both bin alike; and the metrical
//! grid of score music, shared by the evaluation's on-grid ratio and the training's grid loss.
//!
//! **The grid.** A score rendered at its tempo puts every onset on a grid: the time from one
//! onset to the next is a whole number of grid units (a 16th note, say), up to the 10 ms
//! rounding of the events. A performance with rubato, or a model that has not learnt the
//! pulse, does not. [`on_grid`] says whether an interval is a whole number (≥ 1) of units
//! within [`GRID_TOLERANCE_STEPS`]; [`grid_unit`] finds the unit of a passage (the longest
//! unit that almost all its intervals are multiples of, the way the key is found from its
//! pitches); [`on_grid_ratio`] measures how much of a passage keeps one grid, above chance.
//! Times are in 10 ms steps, the event vocabulary's time unit. The phase is local: each
//! interval is measured from the previous onset, so a grid whose unit is off by a fraction of
//! a step does not drift over a long passage.

/// Bin edges of the interval ratio `a / (a + b)` of two successive inter-onset intervals: it
/// falls in the bin of the nearest simple ratio (4:1 … 1:4 as 1/5, 1/4, 1/3, 2/5, 1/2, 3/5,
/// 2/3, 3/4, 4/5), with one bin below 0.15 and one above 0.85. The edges are the midpoints
/// between those ratios, so no simple ratio sits on an edge.
pub const RHYTHM_RATIO_EDGES: [f64; 12] =
    [0.0, 0.15, 0.225, 7.0 / 24.0, 11.0 / 30.0, 0.45, 0.55, 19.0 / 30.0, 17.0 / 24.0, 0.775, 0.85, 1.0];

/// Number of [`RHYTHM_RATIO_EDGES`] bins.
pub const RHYTHM_RATIO_BINS: usize = RHYTHM_RATIO_EDGES.len() - 1;

/// The bin of ratio `r` (values at or above 1, or not a number, go to the last bin).
pub fn ratio_bin(r: f64) -> usize {
    RHYTHM_RATIO_EDGES.windows(2).position(|e| r >= e[0] && r < e[1]).unwrap_or(RHYTHM_RATIO_BINS - 1)
}

/// How far (10 ms steps) an interval may be from a whole number of grid units and still be on
/// the grid: one step, the rounding of two onsets that each moved by up to half a step.
pub const GRID_TOLERANCE_STEPS: f64 = 1.0;

/// The grid units searched (10 ms steps): 60 ms to 400 ms, a 16th note from 250 qpm to an
/// 8th at 75 qpm, by 1/32 of a step (fine enough that 16 units drift by half a step at most).
pub const GRID_UNIT_MIN_STEPS: f64 = 6.0;
pub const GRID_UNIT_MAX_STEPS: f64 = 40.0;
const GRID_UNIT_INCREMENT: f64 = 1.0 / 32.0;

/// A passage has a grid when at least this share of its intervals are on it.
pub const GRID_MIN_SHARE: f64 = 0.9;

/// Fewer intervals than this say nothing about a grid.
pub const GRID_MIN_INTERVALS: usize = 8;

/// Whether an interval of `d` steps is a whole number (at least one) of `unit`s, within
/// [`GRID_TOLERANCE_STEPS`].
pub fn on_grid(d: f64, unit: f64) -> bool {
    let n = (d / unit).round().max(1.0);
    (d - n * unit).abs() <= GRID_TOLERANCE_STEPS + 1e-9
}

/// The share of `intervals` on the grid of `unit` (0 without intervals).
pub fn grid_share(intervals: &[f64], unit: f64) -> f64 {
    if intervals.is_empty() {
        return 0.0;
    }
    intervals.iter().filter(|&&d| on_grid(d, unit)).count() as f64 / intervals.len() as f64
}

/// The share of whole-step intervals that land on the grid of `unit` by chance: the
/// `2·tolerance + 1` steps around each multiple, of the `unit` steps between two.
pub fn grid_chance(unit: f64) -> f64 {
    ((2.0 * GRID_TOLERANCE_STEPS + 1.0) / unit).min(1.0)
}

fn units() -> impl Iterator<Item = f64> {
    let n = ((GRID_UNIT_MAX_STEPS - GRID_UNIT_MIN_STEPS) / GRID_UNIT_INCREMENT).round() as usize;
    (0..=n).map(|i| GRID_UNIT_MIN_STEPS + i as f64 * GRID_UNIT_INCREMENT)
}

/// The grid unit of a passage: the longest unit of which at least [`GRID_MIN_SHARE`] of its
/// inter-onset `intervals` (steps) are whole multiples (the middle of the band of units that
/// fit within the tolerance); `None` with fewer than
/// [`GRID_MIN_INTERVALS`] intervals or when no unit fits (a performance with rubato).
pub fn grid_unit(intervals: &[f64]) -> Option<f64> {
    if intervals.len() < GRID_MIN_INTERVALS {
        return None;
    }
    // The tolerance lets a band of units around the true one fit; take the middle of the
    // longest band, not its top edge.
    let fits = |u: f64| grid_share(intervals, u) >= GRID_MIN_SHARE;
    let all: Vec<f64> = units().collect();
    let top = all.iter().rposition(|&u| fits(u))?;
    let bottom = all[..top].iter().rposition(|&u| !fits(u)).map_or(0, |i| i + 1);
    Some((all[bottom] + all[top]) / 2.0)
}

/// How much of a passage keeps one grid: over the units searched, the best
/// `(share − chance) / (1 − chance)` of its inter-onset `intervals` (steps) on the grid
/// (Cohen's kappa against intervals of random length): 1 when every interval is a whole number
/// of one unit, near 0 for intervals that ignore any pulse. `None` with fewer than
/// [`GRID_MIN_INTERVALS`] intervals.
pub fn on_grid_ratio(intervals: &[f64]) -> Option<f64> {
    if intervals.len() < GRID_MIN_INTERVALS {
        return None;
    }
    units()
        .map(|u| {
            let c = grid_chance(u);
            (grid_share(intervals, u) - c) / (1.0 - c)
        })
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Onsets of a score at `unit` steps per 16th, rounded to whole steps as the events are:
    /// the given pattern of 16ths, repeated.
    fn score_intervals(unit: f64, pattern: &[u32], repeats: usize) -> Vec<f64> {
        let mut t = 0.0f64;
        let mut onsets = vec![0.0f64];
        for _ in 0..repeats {
            for &p in pattern {
                t += p as f64 * unit;
                onsets.push(t.round());
            }
        }
        onsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn a_rounded_score_is_on_its_grid_and_a_jittered_one_is_not() {
        // 120 qpm: a 16th is 12.5 steps, so rounded onsets alternate 12 and 13 steps apart.
        let iois = score_intervals(12.5, &[1, 1, 2, 4, 1, 3, 2, 2], 8);
        assert!(iois.contains(&12.0) && iois.contains(&13.0));
        assert_eq!(grid_share(&iois, 12.5), 1.0);
        let u = grid_unit(&iois).expect("a score has a grid");
        // The longest unit fitting the 16ths: 12.5 (25, an 8th, misses the odd 16ths).
        assert!((u - 12.5).abs() <= 0.25, "unit {u}");
        let k = on_grid_ratio(&iois).unwrap();
        assert!(k > 0.99, "on-grid ratio of a score {k}");
        // The same rhythm with ±3 to ±4 steps (30–40 ms) of jitter on every onset: no grid.
        let jitter = [3.0, -4.0, 4.0, -3.0, 3.5, -3.5, 4.0];
        let played: Vec<f64> = iois.iter().enumerate().map(|(i, d)| d + jitter[i % 7] - jitter[(i + 1) % 7]).collect();
        assert!(grid_unit(&played).is_none());
        let kp = on_grid_ratio(&played).unwrap();
        assert!(kp < 0.5 && kp < k - 0.4, "jittered {kp} against {k}");
        // Too few intervals say nothing.
        assert_eq!(on_grid_ratio(&iois[..GRID_MIN_INTERVALS - 1]), None);
        assert_eq!(grid_unit(&iois[..GRID_MIN_INTERVALS - 1]), None);
    }

    #[test]
    fn on_grid_counts_whole_units_only() {
        assert!(on_grid(25.0, 12.5) && on_grid(13.0, 12.5) && on_grid(38.0, 12.5) && on_grid(11.5, 12.5));
        assert!(!on_grid(6.0, 12.5) && !on_grid(19.0, 12.5) && !on_grid(3.0, 12.5));
        assert!((grid_chance(12.5) - 0.24).abs() < 1e-12 && grid_chance(2.0) == 1.0);
        // An 8th-note passage at 100 qpm (30 steps) takes the longest unit that fits: 30, not 15.
        let eighths = score_intervals(15.0, &[2, 2, 4, 2, 6], 4);
        let u = grid_unit(&eighths).unwrap();
        assert!((u - 30.0).abs() <= 0.25, "unit {u}");
    }

    #[test]
    fn simple_ratios_fall_in_their_own_bins() {
        let simple = [0.2, 0.25, 1.0 / 3.0, 0.4, 0.5, 0.6, 2.0 / 3.0, 0.75, 0.8];
        let bins: Vec<usize> = simple.iter().map(|&r| ratio_bin(r)).collect();
        assert_eq!(bins, (1..=9).collect::<Vec<_>>());
        assert_eq!((ratio_bin(0.05), ratio_bin(0.9), ratio_bin(1.0)), (0, 10, 10));
    }
}
