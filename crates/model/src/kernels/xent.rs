//! The vector parts of the fused softmax cross-entropy (training's loss): a segment's
//! log-sum-exp, and the scaled softmax its gradient is.

use super::simd::{dispatch, Kernel, Level};
use super::vmath::{exp, exp_approx, ld, st};
use pulp::Simd;

/// `ln Σ exp(x)` of one softmax segment, shifted by its maximum: each vector lane sums at most
/// `x.len() / L` terms ≤ 1 in f32, the lanes and the tail are summed in f64.
pub fn log_sum_exp(level: Level, x: &[f32]) -> f32 {
    if x.is_empty() {
        return f32::NEG_INFINITY;
    }
    // A NaN logit makes the loss NaN (the vector exp would clamp it to a number), which the
    // training loop then reports.
    if x.iter().any(|v| v.is_nan()) {
        return f32::NAN;
    }
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return m;
    }
    let s = if level == Level::Scalar { x.iter().map(|&v| exp_approx(v - m) as f64).sum() } else { dispatch(level, SumExp { x, m }) };
    m + s.ln() as f32
}

struct SumExp<'a> {
    x: &'a [f32],
    m: f32,
}

impl Kernel for SumExp<'_> {
    type Output = f64;
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> f64 {
        let l = S::F32_LANES;
        let n = self.x.len() / l * l;
        let mv = s.splat_f32s(self.m);
        let mut acc = s.splat_f32s(0.0);
        let mut k = 0;
        while k < n {
            // SAFETY: k + l ≤ n ≤ the slice's length.
            let v = unsafe { ld::<S>(self.x.as_ptr().add(k)) };
            acc = s.add_f32s(acc, exp(s, s.sub_f32s(v, mv)));
            k += l;
        }
        let tail: f64 = self.x[n..].iter().map(|&v| exp_approx(v - self.m) as f64).sum();
        s.reduce_sum_f32s(acc) as f64 + tail
    }
}

/// `d[i] = w · exp(x[i] − z)`: a segment's softmax scaled by the row's loss weight.
pub fn scaled_softmax(level: Level, x: &[f32], z: f32, w: f32, d: &mut [f32]) {
    assert_eq!(x.len(), d.len(), "scaled_softmax: lengths");
    let done = if level == Level::Scalar { 0 } else { dispatch(level, ScaledExp { x, z, w, d: &mut *d }) };
    for (o, &v) in d[done..].iter_mut().zip(&x[done..]) {
        *o = w * exp_approx(v - z);
    }
}

struct ScaledExp<'a> {
    x: &'a [f32],
    z: f32,
    w: f32,
    d: &'a mut [f32],
}

impl Kernel for ScaledExp<'_> {
    type Output = usize;
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> usize {
        let l = S::F32_LANES;
        let n = self.x.len() / l * l;
        let (zv, wv) = (s.splat_f32s(self.z), s.splat_f32s(self.w));
        let mut k = 0;
        while k < n {
            // SAFETY: k + l ≤ n ≤ both lengths (asserted equal).
            unsafe {
                let v = ld::<S>(self.x.as_ptr().add(k));
                st::<S>(self.d.as_mut_ptr().add(k), s.mul_f32s(wv, exp(s, s.sub_f32s(v, zv))));
            }
            k += l;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sum_exp_and_softmax_match_f64_at_every_level() {
        let x: Vec<f32> = (0..389).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.21).collect();
        let m = x.iter().copied().fold(f64::NEG_INFINITY, |a, b| a.max(b as f64));
        let want = m + x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        for level in Level::available() {
            for seg in [&x[..], &x[..7], &x[3..391 - 3]] {
                let m = seg.iter().copied().fold(f64::NEG_INFINITY, |a, b| a.max(b as f64));
                let want = m + seg.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
                let got = log_sum_exp(level, seg) as f64;
                assert!((got - want).abs() < 2e-6 * (1.0 + want.abs()), "{level:?} n={}: {got} vs {want}", seg.len());
            }
            let z = log_sum_exp(level, &x);
            let mut d = vec![f32::NAN; x.len()];
            scaled_softmax(level, &x, z, 0.5, &mut d);
            for (&v, &g) in x.iter().zip(&d) {
                let e = 0.5 * (v as f64 - want).exp();
                assert!((g as f64 - e).abs() < 1e-6 * (1.0 + e), "{level:?}: {g} vs {e}");
            }
        }
    }
}
