//! Dropout masks from a counter-based hash: element `i` of a mask is a pure function of
//! (seed, i), so the forward and backward passes (and any thread split) agree without storing it.

use super::simd::{dispatch, Kernel, Level};
use super::team::{part, team_run, SharedMut};
use pulp::Simd;

/// The keep threshold of `keep_prob` on the 24-bit uniform of [`dropout_keeps`].
#[inline]
pub fn dropout_threshold(keep_prob: f32) -> u32 {
    (keep_prob.clamp(0.0, 1.0) as f64 * (1u64 << 24) as f64).round() as u32
}

#[inline]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

/// Whether element `i` survives dropout: two rounds of MurmurHash3's finaliser over (seed, i)
/// give a uniform `u = k / 2²⁴`, kept when `u < keep_prob`.
#[inline]
pub fn dropout_keeps(seed: u64, i: u64, threshold: u32) -> bool {
    let h = fmix32((i as u32).wrapping_mul(0x9E37_79B1) ^ seed as u32);
    let h = fmix32(h ^ (seed >> 32) as u32);
    (h >> 8) < threshold
}

/// `dst[i] = src[i] · mask_i / keep_prob` (inverted dropout, TensorFlow's scaling), split over
/// the team.
pub fn apply_dropout(src: &[f32], dst: &mut [f32], keep_prob: f32, seed: u64) {
    apply_dropout_at(Level::current(), src, dst, keep_prob, seed)
}

/// [`apply_dropout`] on the kernels of `level` (the same bits on every level).
pub fn apply_dropout_at(level: Level, src: &[f32], dst: &mut [f32], keep_prob: f32, seed: u64) {
    assert_eq!(src.len(), dst.len());
    assert!(src.len() <= u32::MAX as usize, "dropout: too many elements");
    let th = dropout_threshold(keep_prob);
    let scale = 1.0 / keep_prob;
    let d = SharedMut(dst.as_mut_ptr());
    let len = src.len();
    team_run(&|tid, n, _| {
        let r = part(len, tid, n);
        // SAFETY: each thread writes its own range of `dst`.
        let out = unsafe { std::slice::from_raw_parts_mut(d.p().add(r.start), r.len()) };
        let done = if level == Level::Scalar {
            0
        } else {
            dispatch(level, Chunk { src: &src[r.clone()], dst: &mut *out, first: r.start as u32, seed, th, scale })
        };
        for k in done..r.len() {
            let x = src[r.start + k];
            out[k] = if dropout_keeps(seed, (r.start + k) as u64, th) { x * scale } else { 0.0 };
        }
    });
}

struct Chunk<'a> {
    src: &'a [f32],
    dst: &'a mut [f32],
    first: u32,
    seed: u64,
    th: u32,
    scale: f32,
}

impl Kernel for Chunk<'_> {
    type Output = usize;
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> usize {
        super::micro::dropout(s, self.src, self.dst, self.first, self.seed, self.th, self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_at_every_level_equals_scalar_and_keeps_the_fraction() {
        let src: Vec<f32> = (0..100_037).map(|i| i as f32 * 0.5 - 3.0).collect();
        let th = dropout_threshold(0.7);
        for level in Level::available() {
            let mut dst = vec![f32::NAN; src.len()];
            apply_dropout_at(level, &src, &mut dst, 0.7, 0x1234_5678_9abc_def0);
            let mut kept = 0;
            for (i, (&x, &y)) in src.iter().zip(&dst).enumerate() {
                let k = dropout_keeps(0x1234_5678_9abc_def0, i as u64, th);
                kept += k as usize;
                assert_eq!(y.to_bits(), if k { x * (1.0 / 0.7) } else { 0.0 }.to_bits(), "{level:?} {i}");
            }
            let frac = kept as f64 / src.len() as f64;
            assert!((frac - 0.7).abs() < 0.01, "{frac}");
        }
    }
}
