//! Rhythm ratios of successive inter-onset intervals, shared by the evaluation's
//! rhythm-ratio histogram and the training's ratio loss so both bin alike.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_ratios_fall_in_their_own_bins() {
        let simple = [0.2, 0.25, 1.0 / 3.0, 0.4, 0.5, 0.6, 2.0 / 3.0, 0.75, 0.8];
        let bins: Vec<usize> = simple.iter().map(|&r| ratio_bin(r)).collect();
        assert_eq!(bins, (1..=9).collect::<Vec<_>>());
        assert_eq!((ratio_bin(0.05), ratio_bin(0.9), ratio_bin(1.0)), (0, 10, 10));
    }
}
