//! Yang & Lerch (2018), "On the evaluation of generative models in music": compare two sets
//! of music by the distributions of each feature, estimated with Gaussian kernel density
//! estimates, through their overlapping area (OA) and Kullback–Leibler divergence (KL).

use serde::{Deserialize, Serialize};

/// At most this many values per set enter the pairwise-distance (inter-set) variant:
/// evenly strided, so the cost stays O(cap²) on a large reference.
pub const DISTANCE_CAP: usize = 300;
/// Floor of the normalised sample density in the KL sum (caps KL near 23 nats where the
/// sample set has no mass at all).
pub const KL_FLOOR: f64 = 1e-10;

/// Overlap and divergence of two estimated densities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// Overlapping area ∫ min(p, q) dx, 0..1 (1 = identical distributions).
    pub overlap_area: f64,
    /// KL(p ‖ q) in nats, with p the reference's density and q the samples' (or, in the
    /// inter-set variant, p the reference's intra-set distances and q the inter-set ones,
    /// as Yang & Lerch), computed on the grid as scipy's `entropy(p, q)` does.
    pub kl_divergence: f64,
}

/// Scott's rule for a 1-D Gaussian KDE, as scipy's `gaussian_kde`: σ̂ (ddof 1) · n^(−1/5).
/// `None` with fewer than two values or no spread.
pub fn scott_bandwidth(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (sd > 0.0 && sd.is_finite()).then(|| sd * n.powf(-0.2))
}

/// A Gaussian KDE of `xs` with bandwidth `h`, evaluated on the regular grid `g0 + i·dx`
/// (kernels cut at 8 h), normalised to integrate to 1 on the grid.
fn kde_on_grid(xs: &[f64], h: f64, g0: f64, dx: f64, len: usize) -> Vec<f64> {
    let mut out = vec![0.0; len];
    let reach = 8.0 * h;
    for &x in xs {
        let lo = (((x - reach - g0) / dx).ceil().max(0.0)) as usize;
        let hi = (((x + reach - g0) / dx).floor().min(len as f64 - 1.0)).max(-1.0);
        if hi < 0.0 {
            continue;
        }
        for (i, o) in out.iter_mut().enumerate().take(hi as usize + 1).skip(lo) {
            let z = (g0 + i as f64 * dx - x) / h;
            *o += (-0.5 * z * z).exp();
        }
    }
    let total: f64 = out.iter().sum::<f64>() * dx;
    if total > 0.0 {
        for o in &mut out {
            *o /= total;
        }
    }
    out
}

/// OA and KL(reference ‖ samples) between Gaussian KDEs of two sets of values (Scott's
/// bandwidth per set; a set with fewer than two values or no spread borrows the other's, and
/// if neither has one, 1/1000 of the pooled range). `None` when a set is empty. Two sets of
/// one and the same constant give OA 1 and KL 0.
pub fn divergence(reference: &[f64], samples: &[f64]) -> Option<Divergence> {
    let r: Vec<f64> = reference.iter().copied().filter(|v| v.is_finite()).collect();
    let s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if r.is_empty() || s.is_empty() {
        return None;
    }
    let lo = r.iter().chain(&s).copied().fold(f64::INFINITY, f64::min);
    let hi = r.iter().chain(&s).copied().fold(f64::NEG_INFINITY, f64::max);
    let range = hi - lo;
    if range <= 0.0 {
        return Some(Divergence { overlap_area: 1.0, kl_divergence: 0.0 });
    }
    let (hr, hs) = match (scott_bandwidth(&r), scott_bandwidth(&s)) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a),
        (None, Some(b)) => (b, b),
        (None, None) => (range * 1e-3, range * 1e-3),
    };
    let hmax = hr.max(hs);
    let hmin = hr.min(hs);
    let (g0, g1) = (lo - 4.0 * hmax, hi + 4.0 * hmax);
    // At least 4 grid points per narrowest bandwidth, 512..8192 points.
    let len = (((g1 - g0) / (hmin / 4.0)).ceil() as usize).clamp(512, 8192);
    let dx = (g1 - g0) / (len - 1) as f64;
    let p = kde_on_grid(&r, hr, g0, dx, len);
    let q = kde_on_grid(&s, hs, g0, dx, len);
    let overlap_area = p.iter().zip(&q).map(|(a, b)| a.min(*b)).sum::<f64>() * dx;
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    let kl = p
        .iter()
        .zip(&q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| {
            let (pa, qb) = (a / sp, (b / sq).max(KL_FLOOR));
            pa * (pa / qb).ln()
        })
        .sum::<f64>();
    Some(Divergence { overlap_area: overlap_area.clamp(0.0, 1.0), kl_divergence: kl.max(0.0) })
}

fn strided(xs: &[f64], cap: usize) -> Vec<f64> {
    if xs.len() <= cap {
        return xs.to_vec();
    }
    (0..cap).map(|i| xs[i * xs.len() / cap]).collect()
}

/// Yang & Lerch's own variant: the distribution of the reference's intra-set distances
/// |rᵢ − rⱼ| (i < j) against that of the inter-set distances |sᵢ − rⱼ|; OA and
/// KL(intra-reference ‖ inter-set). Each set is first thinned to [`DISTANCE_CAP`] values.
/// `None` with fewer than two reference values or no samples.
pub fn inter_set_divergence(reference: &[f64], samples: &[f64]) -> Option<Divergence> {
    let r = strided(&reference.iter().copied().filter(|v| v.is_finite()).collect::<Vec<_>>(), DISTANCE_CAP);
    let s = strided(&samples.iter().copied().filter(|v| v.is_finite()).collect::<Vec<_>>(), DISTANCE_CAP);
    if r.len() < 2 || s.is_empty() {
        return None;
    }
    let mut intra = Vec::with_capacity(r.len() * (r.len() - 1) / 2);
    for i in 0..r.len() {
        for j in i + 1..r.len() {
            intra.push((r[i] - r[j]).abs());
        }
    }
    let inter: Vec<f64> = s.iter().flat_map(|a| r.iter().map(move |b| (a - b).abs())).collect();
    divergence(&intra, &inter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scott_matches_scipy() {
        // scipy.stats.gaussian_kde([1, 2, 3, 4, 5]).factor * std(ddof=1) = 5**-0.2 * 1.5811388
        let h = scott_bandwidth(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!((h - 1.5811388300841898 * 5f64.powf(-0.2)).abs() < 1e-12);
        assert_eq!(scott_bandwidth(&[2.0, 2.0]), None);
        assert_eq!(scott_bandwidth(&[2.0]), None);
    }

    #[test]
    fn two_gaussians_overlap_analytically() {
        // Many points from N(0,1) and N(1,1) (deterministic quantiles): OA of two unit
        // normals one apart is 2Φ(−0.5) = 0.6171, KL = 0.5.
        let quantiles: Vec<f64> = (1..2000).map(|i| inv_norm(i as f64 / 2000.0)).collect();
        let shifted: Vec<f64> = quantiles.iter().map(|x| x + 1.0).collect();
        let d = divergence(&quantiles, &shifted).unwrap();
        assert!((d.overlap_area - 0.6171).abs() < 0.02, "{d:?}");
        assert!((d.kl_divergence - 0.5).abs() < 0.06, "{d:?}");
        let same = divergence(&quantiles, &quantiles).unwrap();
        assert!(same.overlap_area > 0.999 && same.kl_divergence < 1e-9, "{same:?}");
    }

    #[test]
    fn degenerate_sets() {
        assert_eq!(divergence(&[], &[1.0]), None);
        assert_eq!(divergence(&[3.0, 3.0], &[3.0]), Some(Divergence { overlap_area: 1.0, kl_divergence: 0.0 }));
        let apart = divergence(&[0.0], &[1.0]).unwrap();
        assert!(apart.overlap_area < 1e-6 && apart.kl_divergence > 10.0, "{apart:?}");
    }

    /// Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
    fn inv_norm(p: f64) -> f64 {
        let a = [
            -3.969683028665376e1,
            2.209460984245205e2,
            -2.759285104469687e2,
            1.38357751867269e2,
            -3.066479806614716e1,
            2.506628277459239,
        ];
        let b = [
            -5.447609879822406e1,
            1.615858368580409e2,
            -1.556989798598866e2,
            6.680131188771972e1,
            -1.328068155288572e1,
        ];
        let c = [
            -7.784894002430293e-3,
            -3.223964580411365e-1,
            -2.400758277161838,
            -2.549732539343734,
            4.374664141464968,
            2.938163982698783,
        ];
        let d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
        let pl = 0.02425;
        if p < pl {
            let q = (-2.0 * p.ln()).sqrt();
            (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
        } else if p > 1.0 - pl {
            -inv_norm(1.0 - p)
        } else {
            let q = p - 0.5;
            let r = q * q;
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
        }
    }
}
