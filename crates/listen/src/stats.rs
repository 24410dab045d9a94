//! The statistics of a pairwise listening test, exact where it is cheap:
//! * [`clopper_pearson`]: the exact binomial 95 % interval of a proportion;
//! * [`sign_test`]: the two-sided exact binomial test of k successes in n against ½
//!   (scipy's `binomtest(k, n, 0.5)`: for p = ½ its "as likely or less likely" rule is twice
//!   the smaller tail);
//! * [`binomial_upper_tail`]: P(X ≥ k) under ½, the one-sided test a calibration uses;
//! * [`wilcoxon`]: the Wilcoxon signed-rank test of paired differences against 0, zeros dropped,
//!   average ranks for ties, the exact permutation distribution of those ranks (what scipy
//!   1.17's `wilcoxon(d)` computes for n ≤ 50), a normal approximation with the tie correction
//!   above [`WILCOXON_EXACT_MAX`].
//!
//! Hand-written: each is a few lines over the binomial probabilities, and the crates that offer
//! them (statrs) bring a beta-quantile whose accuracy would need checking anyway; the tests
//! compare with scipy's values.

/// ln(n!) for n up to `n`, by summing logarithms (exact enough: relative 1e-15 per term).
fn ln_factorials(n: u64) -> Vec<f64> {
    let mut out = Vec::with_capacity(n as usize + 1);
    let mut acc = 0.0f64;
    out.push(0.0);
    for i in 1..=n {
        acc += (i as f64).ln();
        out.push(acc);
    }
    out
}

/// P(X = i) for X ~ Binomial(n, p), i = 0..=n.
fn binomial_pmf(n: u64, p: f64) -> Vec<f64> {
    let lf = ln_factorials(n);
    (0..=n)
        .map(|i| {
            if p <= 0.0 {
                return if i == 0 { 1.0 } else { 0.0 };
            }
            if p >= 1.0 {
                return if i == n { 1.0 } else { 0.0 };
            }
            let ln = lf[n as usize] - lf[i as usize] - lf[(n - i) as usize]
                + i as f64 * p.ln()
                + (n - i) as f64 * (1.0 - p).ln();
            ln.exp()
        })
        .collect()
}

/// P(X ≤ k) for X ~ Binomial(n, p).
fn cdf(k: u64, n: u64, p: f64) -> f64 {
    binomial_pmf(n, p)[..=(k.min(n) as usize)].iter().sum::<f64>().min(1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p).
fn sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    binomial_pmf(n, p)[k as usize..].iter().sum::<f64>().min(1.0)
}

/// The p in (0, 1) where the monotone `f` crosses `target`, by bisection to 1e-15.
fn solve(f: impl Fn(f64) -> f64, target: f64, increasing: bool) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if (f(mid) < target) == increasing {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The exact (Clopper–Pearson) interval of k successes in n at `level` (0.95): the p whose
/// upper tail from k is (1 − level)/2, and the p whose lower tail to k is the same. n = 0 gives
/// [0, 1].
pub fn clopper_pearson(k: u64, n: u64, level: f64) -> [f64; 2] {
    assert!(k <= n, "{k} successes in {n} trials");
    let a = (1.0 - level) / 2.0;
    if n == 0 {
        return [0.0, 1.0];
    }
    let lo = if k == 0 { 0.0 } else { solve(|p| sf(k, n, p), a, true) };
    let hi = if k == n { 1.0 } else { solve(|p| cdf(k, n, p), a, false) };
    [lo, hi]
}

/// The two-sided exact sign test of k successes in n against ½; 1 when n = 0.
pub fn sign_test(k: u64, n: u64) -> f64 {
    assert!(k <= n, "{k} successes in {n} trials");
    if n == 0 {
        return 1.0;
    }
    let tail = cdf(k, n, 0.5).min(sf(k, n, 0.5));
    (2.0 * tail).min(1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, ½): the one-sided p that a listener does better than chance.
pub fn binomial_upper_tail(k: u64, n: u64) -> f64 {
    sf(k, n, 0.5)
}

/// Largest count of non-zero differences for which [`wilcoxon`] enumerates the exact
/// distribution (its table has n(n+1) + 1 entries, filled n times).
pub const WILCOXON_EXACT_MAX: usize = 400;

/// The Wilcoxon signed-rank test's result.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Wilcoxon {
    /// Non-zero differences used.
    pub n: usize,
    /// min(W+, W−), scipy's two-sided statistic.
    pub statistic: f64,
    /// Two-sided p.
    pub p: f64,
    /// Whether the exact distribution was used (else the normal approximation).
    pub exact: bool,
}

/// Two-sided Wilcoxon signed-rank test of `d` against 0. Zeros (|d| < 1e-12) are dropped;
/// `None` when nothing is left.
pub fn wilcoxon(d: &[f64]) -> Option<Wilcoxon> {
    let mut x: Vec<f64> = d.iter().copied().filter(|v| v.is_finite() && v.abs() >= 1e-12).collect();
    let n = x.len();
    if n == 0 {
        return None;
    }
    x.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    // Average ranks, doubled so that ties' halves stay integers.
    let mut rank2 = vec![0u64; n];
    let mut ties: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && x[j + 1].abs() == x[i].abs() {
            j += 1;
        }
        // ranks i+1 ..= j+1, average (i+j+2)/2, doubled: i+j+2.
        for r in rank2.iter_mut().take(j + 1).skip(i) {
            *r = (i + j + 2) as u64;
        }
        ties.push(j - i + 1);
        i = j + 1;
    }
    let w_plus2: u64 = x.iter().zip(&rank2).filter(|(v, _)| **v > 0.0).map(|(_, r)| *r).sum();
    let total2: u64 = rank2.iter().sum();
    let stat2 = w_plus2.min(total2 - w_plus2);
    let statistic = stat2 as f64 / 2.0;
    if n <= WILCOXON_EXACT_MAX {
        // Number of sign patterns whose doubled W+ is each value.
        let mut counts = vec![0f64; total2 as usize + 1];
        counts[0] = 1.0;
        let mut reach = 0usize;
        for &r in &rank2 {
            let r = r as usize;
            for s in (0..=reach).rev() {
                if counts[s] != 0.0 {
                    counts[s + r] += counts[s];
                }
            }
            reach += r;
        }
        let all: f64 = counts.iter().sum();
        let below: f64 = counts[..=stat2 as usize].iter().sum();
        let p = (2.0 * below / all).min(1.0);
        return Some(Wilcoxon { n, statistic, p, exact: true });
    }
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let tie: f64 = ties.iter().map(|&t| (t as f64).powi(3) - t as f64).sum();
    let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie / 48.0;
    let z = (statistic - mean) / var.sqrt();
    Some(Wilcoxon { n, statistic, p: erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0), exact: false })
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2e-7): only the normal approximation of a test with more than 400 listeners uses it.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() < 1e-15
    }

    /// scipy 1.17.1: `r = binomtest(k, n, 0.5)`; `r.pvalue`; `r.proportion_ci(0.95, 'exact')`.
    #[test]
    fn binomial_test_and_interval_match_scipy() {
        let cases: [(u64, u64, f64, f64, f64); 8] = [
            (14, 20, 0.11531829833984375, 0.4572108177235281, 0.8810684095942724),
            (0, 10, 0.001953125, 0.0, 0.30849710781876294),
            (10, 10, 0.001953125, 0.6915028921812371, 1.0),
            (7, 12, 0.7744140625, 0.2766696856821058, 0.8483477701915653),
            (3, 3, 0.25, 0.2924017738212867, 1.0),
            (1, 1, 1.0, 0.025000000000000022, 1.0),
            (50, 120, 0.08240747932752648, 0.3273676700032785, 0.5101784457977084),
            (0, 1, 1.0, 0.0, 0.975),
        ];
        for (k, n, p, lo, hi) in cases {
            assert!(close(sign_test(k, n), p, 1e-9), "p of {k}/{n}: {} vs {p}", sign_test(k, n));
            let [l, h] = clopper_pearson(k, n, 0.95);
            assert!(close(l, lo, 1e-9) && close(h, hi, 1e-9), "CI of {k}/{n}: [{l}, {h}] vs [{lo}, {hi}]");
        }
        assert_eq!(clopper_pearson(0, 0, 0.95), [0.0, 1.0]);
        assert_eq!(sign_test(0, 0), 1.0);
        // One-sided: 6 of 6 is 1/64; 5 of 6 is 7/64.
        assert!(close(binomial_upper_tail(6, 6), 1.0 / 64.0, 1e-12));
        assert!(close(binomial_upper_tail(5, 6), 7.0 / 64.0, 1e-12));
        assert_eq!(binomial_upper_tail(0, 6), 1.0);
    }

    /// scipy 1.17.1: `wilcoxon(np.array(x) - 0.5)` (default: zeros dropped, two-sided, exact
    /// for n ≤ 50, ties ranked by their average, as the floating-point differences give them).
    #[test]
    fn wilcoxon_matches_scipy_with_and_without_ties() {
        let cases: [(&[f64], f64, f64); 4] = [
            (&[0.7, 0.55, 0.8, 0.45, 0.65, 0.9, 0.62], 1.0, 0.03125),
            (&[0.6, 0.6, 0.4, 0.7, 0.75, 0.5, 0.35], 6.0, 0.4375),
            (&[0.9, 0.8, 0.7, 0.65, 0.85], 0.0, 0.0625),
            (&[0.3, 0.45, 0.6, 0.2, 0.1, 0.4, 0.55, 0.35], 5.5, 0.0859375),
        ];
        for (x, stat, p) in cases {
            let d: Vec<f64> = x.iter().map(|v| v - 0.5).collect();
            let w = wilcoxon(&d).unwrap();
            assert!(w.exact);
            assert!(close(w.statistic, stat, 1e-12) && close(w.p, p, 1e-12), "{x:?}: {w:?} vs {stat}, {p}");
        }
        assert!(wilcoxon(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn normal_approximation_agrees_with_the_exact_test_for_many_listeners() {
        // 60 differences, the exact test against the approximation it replaces above 400.
        let d: Vec<f64> = (0..60).map(|i| ((i * 37 % 23) as f64 - 9.0) / 10.0 + 0.013 * i as f64).collect();
        let exact = wilcoxon(&d).unwrap();
        let nf = exact.n as f64;
        let z = (exact.statistic - nf * (nf + 1.0) / 4.0) / (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
        let approx = erfc(z.abs() / std::f64::consts::SQRT_2);
        assert!((exact.p - approx).abs() < 0.01, "{} vs {approx}", exact.p);
        assert!(close(erfc(1.0), 0.157_299_207_050_285_1, 2e-7) && close(erfc(-0.5), 1.520_499_877_813_047, 2e-7));
    }
}
