//! Quantiles of a list of numbers: the one estimator the judge's intervals, the comparison's
//! bootstrap intervals and the listening test's medians share.

/// The `q` quantile (0 ≤ q ≤ 1) of the finite values of `v`, linearly interpolated between the
/// two nearest order statistics (Hyndman & Fan's type 7, NumPy's default); `None` when `v` holds
/// no finite value.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    Some(quantile_of_sorted(&s, q))
}

/// [`quantile`] of values already sorted ascending, all finite, at least one.
pub fn quantile_of_sorted(s: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_like_numpy_and_skips_non_finite_values() {
        // numpy.quantile([3, 1, 4, 1, 5], [0, 0.25, 0.5, 0.9, 1]) = [1, 1, 3, 4.6, 5].
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, f64::NAN, f64::INFINITY];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.9, 1.0].iter().map(|&q| quantile(&v, q).unwrap()).collect();
        for (g, w) in got.iter().zip([1.0, 1.0, 3.0, 4.6, 5.0]) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        // The median of an even count is the mean of the middle two.
        assert_eq!(quantile(&[4.0, 1.0, 2.0, 10.0], 0.5), Some(3.0));
        assert_eq!(quantile(&[7.0], 0.975), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
    }
}
