//! exp, σ and tanh: Cephes single-precision approximations, as scalar functions (the portable
//! path) and as vector functions generic over [`pulp::Simd`] (every packed kernel). Both are
//! within a few ULP of libm (see the tests); the vector ones give the same bits on every
//! instruction set (the same IEEE operations in the same order, fused multiply-adds included).

use pulp::Simd;

const EXP_HI: f32 = 88.0;
const EXP_LO: f32 = -87.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const EXP_C1: f32 = 0.693_359_4;
const EXP_C2: f32 = -2.121_944_4e-4;
const EXP_P: [f32; 6] = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5e-1];
const TANH_P: [f32; 5] = [-5.704_988_7e-3, 2.063_909e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328e-1];
const TANH_SMALL: f32 = 0.625;
/// 1.5 · 2²³: adding it rounds any |t| < 2²² to the nearest integer (ties to even), which
/// then sits in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// e^x, Cephes `expf` (≤ 2 ULP); inputs clamped to [−87, 88].
#[inline]
pub fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let fx = (x * LOG2E).round_ties_even();
    let r = x - fx * EXP_C1 - fx * EXP_C2;
    let mut y = EXP_P[0];
    for &p in &EXP_P[1..] {
        y = y * r + p;
    }
    let y = y * (r * r) + r + 1.0;
    y * f32::from_bits((((fx as i32) + 127) as u32) << 23)
}

#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

/// tanh, Cephes `tanhf`: an odd polynomial below 0.625, `1 − 2/(e^{2|x|} + 1)` above.
#[inline]
pub fn tanh_approx(x: f32) -> f32 {
    let ax = x.abs();
    if ax < TANH_SMALL {
        let z = x * x;
        let mut y = TANH_P[0];
        for &p in &TANH_P[1..] {
            y = y * z + p;
        }
        y * z * x + x
    } else {
        let t = 1.0 - 2.0 / (exp_approx(2.0 * ax) + 1.0);
        t.copysign(x)
    }
}

/// Unaligned load of one vector.
///
/// # Safety
/// `p` must be valid for reading `S::F32_LANES` floats.
#[inline(always)]
pub(crate) unsafe fn ld<S: Simd>(p: *const f32) -> S::f32s {
    // SAFETY: the caller's contract; `f32s` is plain old data of exactly that many floats.
    unsafe { (p as *const S::f32s).read_unaligned() }
}

/// Unaligned store of one vector.
///
/// # Safety
/// `p` must be valid for writing `S::F32_LANES` floats.
#[inline(always)]
pub(crate) unsafe fn st<S: Simd>(p: *mut f32, v: S::f32s) {
    // SAFETY: as for `ld`.
    unsafe { (p as *mut S::f32s).write_unaligned(v) }
}

/// Vector [`exp_approx`]. Rounding by [`ROUND_MAGIC`] and scaling by an exact power of two
/// built in the exponent bits give what AVX-512's `roundscale` and `scalef` give, on every
/// instruction set.
#[inline(always)]
pub(crate) fn exp<S: Simd>(s: S, x: S::f32s) -> S::f32s {
    let x = s.min_f32s(s.max_f32s(x, s.splat_f32s(EXP_LO)), s.splat_f32s(EXP_HI));
    let v = s.add_f32s(s.mul_f32s(x, s.splat_f32s(LOG2E)), s.splat_f32s(ROUND_MAGIC));
    let fx = s.sub_f32s(v, s.splat_f32s(ROUND_MAGIC));
    let r = s.negate_mul_add_f32s(fx, s.splat_f32s(EXP_C1), x);
    let r = s.negate_mul_add_f32s(fx, s.splat_f32s(EXP_C2), r);
    let mut y = s.splat_f32s(EXP_P[0]);
    for &p in &EXP_P[1..] {
        y = s.mul_add_f32s(y, r, s.splat_f32s(p));
    }
    let y = s.mul_add_f32s(y, s.mul_f32s(r, r), s.add_f32s(r, s.splat_f32s(1.0)));
    // bits(v) = bits(MAGIC) + n, so 2ⁿ = (n + 127) << 23 with n in [−126, 127].
    let n127 = s.sub_u32s(s.transmute_u32s_f32s(v), s.splat_u32s(ROUND_MAGIC.to_bits() - 127));
    let pow2n = s.transmute_f32s_u32s(s.wrapping_dyn_shl_u32s(n127, s.splat_u32s(23)));
    s.mul_f32s(y, pow2n)
}

#[inline(always)]
pub(crate) fn sigmoid_v<S: Simd>(s: S, x: S::f32s) -> S::f32s {
    let one = s.splat_f32s(1.0);
    s.div_f32s(one, s.add_f32s(one, exp(s, s.sub_f32s(s.splat_f32s(0.0), x))))
}

#[inline(always)]
pub(crate) fn tanh_v<S: Simd>(s: S, x: S::f32s) -> S::f32s {
    let ax = s.abs_f32s(x);
    let z = s.mul_f32s(x, x);
    let mut y = s.splat_f32s(TANH_P[0]);
    for &p in &TANH_P[1..] {
        y = s.mul_add_f32s(y, z, s.splat_f32s(p));
    }
    let small = s.mul_add_f32s(s.mul_f32s(y, z), x, x);
    let e = exp(s, s.add_f32s(ax, ax));
    let one = s.splat_f32s(1.0);
    let big = s.sub_f32s(one, s.div_f32s(s.splat_f32s(2.0), s.add_f32s(e, one)));
    let sign = s.and_u32s(s.transmute_u32s_f32s(x), s.splat_u32s(0x8000_0000));
    let big = s.transmute_f32s_u32s(s.or_u32s(s.transmute_u32s_f32s(big), sign));
    s.select_f32s(s.less_than_f32s(ax, s.splat_f32s(TANH_SMALL)), small, big)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{dispatch, Kernel, Level};

    #[test]
    fn transcendentals_are_close_to_libm() {
        let mut worst = [0.0f64; 3];
        let mut x = -30.0f32;
        while x < 30.0 {
            let e = (x as f64).exp();
            worst[0] = worst[0].max(((exp_approx(x) as f64) - e).abs() / e);
            worst[1] = worst[1].max(((sigmoid(x) as f64) - 1.0 / (1.0 + (-x as f64).exp())).abs());
            worst[2] = worst[2].max(((tanh_approx(x) as f64) - (x as f64).tanh()).abs());
            x += 0.000_37;
        }
        assert!(worst[0] < 3e-7 && worst[1] < 2e-7 && worst[2] < 2e-7, "{worst:?}");
        assert_eq!(sigmoid(-200.0), 0.0f32.max(sigmoid(-200.0)));
        assert_eq!(sigmoid(200.0), 1.0);
        assert_eq!(tanh_approx(200.0), 1.0);
        assert_eq!(tanh_approx(-200.0), -1.0);
    }

    struct Apply<'a>(&'a [f32], &'a mut [[f32; 3]]);
    impl Kernel for Apply<'_> {
        type Output = ();
        #[inline(always)]
        fn run<S: Simd>(self, s: S) {
            let l = S::F32_LANES;
            let mut tmp = [[0.0f32; 16]; 3];
            for (ch, out) in self.0.chunks(l).zip(self.1.chunks_mut(l)) {
                // SAFETY: `ch` holds `l` floats (the input length is a multiple of 16), `tmp` 16.
                unsafe {
                    let v = ld::<S>(ch.as_ptr());
                    st::<S>(tmp[0].as_mut_ptr(), exp(s, v));
                    st::<S>(tmp[1].as_mut_ptr(), sigmoid_v(s, v));
                    st::<S>(tmp[2].as_mut_ptr(), tanh_v(s, v));
                }
                for (k, o) in out.iter_mut().enumerate() {
                    *o = [tmp[0][k], tmp[1][k], tmp[2][k]];
                }
            }
        }
    }

    /// Every level's vector functions agree with the scalar ones, and give the same bits as
    /// each other, including at the clamps and across the tanh branch point.
    #[test]
    fn vector_transcendentals_match_scalar_at_every_level() {
        let mut xs: Vec<f32> = (0..8192).map(|i| (i as f32 - 4096.0) * 0.0123).collect();
        xs.extend([0.0, -0.0, 0.625, -0.625, 0.624_999_9, 88.0, 89.0, -87.0, -100.0, 1e-30, -1e-30, 43.5, -43.5]);
        xs.resize(xs.len().div_ceil(16) * 16, 0.5);
        let mut reference: Option<(Level, Vec<[f32; 3]>)> = None;
        for level in Level::available() {
            let mut out = vec![[0.0f32; 3]; xs.len()];
            dispatch(level, Apply(&xs, &mut out));
            for (&x, o) in xs.iter().zip(&out) {
                let e = exp_approx(x);
                assert!((o[0] - e).abs() <= 2.5e-7 * e, "{level:?} exp {x}: {} vs {e}", o[0]);
                assert!((o[1] - sigmoid(x)).abs() <= 2e-7, "{level:?} sigmoid {x}");
                assert!((o[2] - tanh_approx(x)).abs() <= 2e-7, "{level:?} tanh {x}");
            }
            if level == Level::Scalar {
                continue;
            }
            match &reference {
                None => reference = Some((level, out)),
                Some((l0, r)) => {
                    let same =
                        r.iter().zip(&out).all(|(a, b)| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
                    assert!(same, "{level:?} and {l0:?} differ in bits");
                }
            }
        }
    }
}
