//! Plain-f32 kernels of TensorFlow's `BasicLSTMCell` layer.
//!
//! The cell (magenta-compat.md §4.1): `z = [x, h] · K + b`, gate blocks `i, j, f, o`,
//! `c' = c ⊙ σ(f + 1) + σ(i) ⊙ tanh(j)`, `h' = tanh(c') ⊙ σ(o)`. The input half of `K` is
//! applied for all steps at once by the caller (a row gather for one-hot inputs); these
//! kernels run the recurrence.
//!
//! Two implementations of the same arithmetic:
//! * the packed path, on every SIMD level ([`Level`]: AVX-512, AVX2 + FMA, NEON) from one
//!   generic source ([`micro`], over `pulp`): the recurrent kernel is packed once into column
//!   blocks that hold the four gates of one vector of units side by side, so one
//!   register-blocked microkernel computes `h · K_h` for those units and the gate math runs on
//!   the accumulators still in registers. The units are split over a small team of threads
//!   ([`team`], one per core) that meet at a spin barrier once per time step.
//!   Backpropagation through time does the same with `K_hᵀ`, and the recurrent weight
//!   gradient is one large GEMM;
//! * the portable path ([`Level::Scalar`], or layer sizes that are not whole vectors): one
//!   `gemm`-crate GEMM per step and scalar gate math.
//!
//! Every output element is computed by one thread in a fixed order whatever the number of
//! threads, so results are bit-for-bit reproducible on a machine and level. σ, tanh and exp
//! are vectorised Cephes approximations ([`vmath`]: within a few ULP of libm).
//!
//! Layout: [`team`] (threads), [`simd`] (levels and dispatch), [`vmath`] (exp, σ, tanh),
//! [`packed`] (packed operands, row groups), [`micro`] (the microkernels), [`lstm`] (the layer),
//! [`dropout`].

pub mod dropout;
pub mod lstm;
pub(crate) mod micro;
pub mod packed;
pub mod simd;
pub mod team;
pub mod vmath;

pub use dropout::{apply_dropout, apply_dropout_at, dropout_keeps, dropout_threshold};
pub use lstm::{
    gemv_acc, lstm_backward, lstm_backward_at, lstm_forward, lstm_forward_at, lstm_step, LstmGrads, LstmTape,
};
pub use packed::{Packed, RowGroups, Seg};
pub use simd::Level;
pub use team::{part, team_run, team_threads, SharedMut, SpinBarrier};
pub use vmath::{exp_approx, sigmoid, tanh_approx};

/// Forget-gate bias TensorFlow adds at run time (not stored in the checkpoint).
pub const FORGET_BIAS: f32 = 1.0;

/// `dst[m×n] = (accumulate ? dst : 0) + a[m×k] · b[k×n]`, all row-major, with optional
/// transposed views (`ta`: a is stored k×m; `tb`: b is stored n×k).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    accumulate: bool,
) {
    assert!(dst.len() >= m * n && a.len() >= m * k && b.len() >= k * n, "sgemm: buffers too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].iter_mut().for_each(|x| *x = 0.0);
        }
        return;
    }
    let (a_rs, a_cs) = if ta { (1isize, m as isize) } else { (k as isize, 1isize) };
    let (b_rs, b_cs) = if tb { (1isize, k as isize) } else { (n as isize, 1isize) };
    let par = if m * n * k >= 1 << 18 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: the asserts above keep every access of the strided views inside the slices.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// `out[m×n] = bias + a[m×k] · B` through the packed microkernels of `level` (a GEMM for
/// benchmarks and tests of the packed path; `b` row-major `k × n`).
pub fn packed_gemm(level: Level, m: usize, n: usize, k: usize, a: &[f32], b: &Packed, bias: &[f32], out: &mut [f32]) {
    assert!(a.len() >= m * k && b.k == k && b.n == n && bias.len() >= n && out.len() >= m * n, "packed_gemm: shapes");
    assert_eq!(b.lanes(), level.lanes(), "packed_gemm: packed for another level");
    struct G<'a> {
        m: usize,
        n: usize,
        k: usize,
        a: &'a [f32],
        b: &'a Packed,
        bias: &'a [f32],
        out: &'a mut [f32],
    }
    impl simd::Kernel for G<'_> {
        type Output = ();
        #[inline(always)]
        fn run<S: pulp::Simd>(self, s: S) {
            let seg = Seg { a: self.a.as_ptr(), lda: self.k, k0: 0, k: self.k };
            // SAFETY: packed_gemm's asserts size every operand.
            unsafe {
                micro::gemm(
                    s,
                    self.m,
                    0..self.b.blocks(),
                    self.bias.as_ptr(),
                    self.out.as_mut_ptr(),
                    self.n,
                    &[seg],
                    self.b,
                )
            };
        }
    }
    simd::dispatch(level, G { m, n, k, a, b, bias, out });
}

/// The machine's memory read bandwidth in GB/s: the team's threads sum a `mib`-MiB buffer
/// (pick it far larger than the caches), best of three passes. The yardstick of batch-1
/// generation, which reads every weight once per step.
pub fn memory_read_gbs(mib: usize) -> f64 {
    fn sum(x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 16];
        for c in x.chunks_exact(16) {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        acc.iter().sum()
    }
    let n = mib << 18;
    let buf: Vec<f32> = (0..n).map(|i| (i & 7) as f32).collect();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        team_run(&|tid, nt, _| {
            std::hint::black_box(sum(&buf[part(n, tid, nt)]));
        });
        best = best.min(t.elapsed().as_secs_f64());
    }
    (n * 4) as f64 / best / 1e9
}

#[cfg(test)]
mod tests {
    use super::lstm::*;
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rand_vec(rng: &mut impl Rng, n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-s..s)).collect()
    }

    /// Loss = Σ w ⊙ h_out for fixed random w; its gradient by BPTT vs central differences (f64
    /// accumulation of the loss keeps the check sharp in f32).
    fn grad_check(level: Level, t: usize, b: usize, h: usize, seed: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.7);
        let h0 = rand_vec(&mut rng, b * h, 0.5);
        let c0 = rand_vec(&mut rng, b * h, 0.5);
        let w = rand_vec(&mut rng, t * b * h, 1.0);
        let loss = |xw: &[f32], kh: &[f32], h0: &[f32], c0: &[f32]| -> f64 {
            let (out, _) = lstm_forward_at(level, xw, kh, h0, c0, t, b, h);
            out.iter().zip(&w).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
        };
        let (_, tape) = lstm_forward_at(level, &xw, &kh, &h0, &c0, t, b, h);
        let g = lstm_backward_at(level, &w, &kh, &tape, t, b, h);
        let eps = 1e-2f32;
        let check = |name: &str, analytic: &[f32], f: &dyn Fn(usize, f32) -> f64, n: usize| {
            let mut worst = 0.0f64;
            for i in 0..n {
                let num = (f(i, eps) - f(i, -eps)) / (2.0 * eps as f64);
                let err = (num - analytic[i] as f64).abs() / (1.0 + num.abs());
                worst = worst.max(err);
            }
            assert!(worst < 2e-3, "{level:?} {name}: worst relative error {worst}");
        };
        check(
            "xw",
            &g.dxw,
            &|i, d| {
                let mut v = xw.clone();
                v[i] += d;
                loss(&v, &kh, &h0, &c0)
            },
            xw.len(),
        );
        check(
            "k_h",
            &g.dk_h,
            &|i, d| {
                let mut v = kh.clone();
                v[i] += d;
                loss(&xw, &v, &h0, &c0)
            },
            kh.len(),
        );
        check(
            "h0",
            &g.dh0,
            &|i, d| {
                let mut v = h0.clone();
                v[i] += d;
                loss(&xw, &kh, &v, &c0)
            },
            h0.len(),
        );
        check(
            "c0",
            &g.dc0,
            &|i, d| {
                let mut v = c0.clone();
                v[i] += d;
                loss(&xw, &kh, &h0, &v)
            },
            c0.len(),
        );
    }

    #[test]
    fn lstm_gradients_match_finite_differences() {
        grad_check(Level::Scalar, 5, 3, 4, 1);
    }

    /// The same check on the packed path of every level (H a multiple of 16, a row tail: 7 is
    /// 6 + 1 rows with AVX-512, 3 + 3 + 1 with AVX2).
    #[test]
    fn packed_lstm_gradients_match_finite_differences_at_every_level() {
        for level in Level::available() {
            grad_check(level, 3, 7, 16, 3);
        }
    }

    /// Batches of 13 rows split over threads by rows, 5 rows by units (with two threads), at
    /// every level against the portable path; and each level is deterministic to the bit.
    #[test]
    fn packed_path_matches_portable_at_every_level() {
        for level in Level::available() {
            packed_matches_portable(level, 13);
            packed_matches_portable(level, 5);
        }
    }

    fn packed_matches_portable(level: Level, b: usize) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (t, h) = (6, 64);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 2.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.3);
        let h0 = rand_vec(&mut rng, b * h, 0.5);
        let c0 = rand_vec(&mut rng, b * h, 0.5);
        let dh = rand_vec(&mut rng, t * b * h, 1.0);
        let (o1, tape1) = lstm_forward_at(level, &xw, &kh, &h0, &c0, t, b, h);
        let (o2, tape2) = lstm_forward_at(Level::Scalar, &xw, &kh, &h0, &c0, t, b, h);
        let close = |a: &[f32], e: &[f32], tol: f32, what: &str| {
            let worst = a.iter().zip(e).map(|(a, e)| (a - e).abs() / (1.0 + e.abs())).fold(0.0f32, f32::max);
            assert!(worst < tol, "{level:?} b={b} {what}: {worst}");
        };
        close(&o1, &o2, 1e-5, "h");
        close(&tape1.c, &tape2.c, 1e-5, "c");
        close(&tape1.gates, &tape2.gates, 1e-5, "gates");
        let g1 = lstm_backward_at(level, &dh, &kh, &tape1, t, b, h);
        let g2 = lstm_backward_at(Level::Scalar, &dh, &kh, &tape2, t, b, h);
        close(&g1.dxw, &g2.dxw, 1e-4, "dxw");
        close(&g1.dk_h, &g2.dk_h, 1e-4, "dk_h");
        close(&g1.dh0, &g2.dh0, 1e-4, "dh0");
        close(&g1.dc0, &g2.dc0, 1e-4, "dc0");
        // Bit-level determinism: a second run (recycled tape buffers holding the first run's
        // values) gives the same bits.
        drop((tape1, tape2));
        let (o3, tape3) = lstm_forward_at(level, &xw, &kh, &h0, &c0, t, b, h);
        let g3 = lstm_backward_at(level, &dh, &kh, &tape3, t, b, h);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&o1), bits(&o3), "{level:?}: forward not deterministic");
        for (x, y) in [(&g1.dxw, &g3.dxw), (&g1.dk_h, &g3.dk_h), (&g1.dh0, &g3.dh0), (&g1.dc0, &g3.dc0)] {
            assert_eq!(bits(x), bits(y), "{level:?}: backward not deterministic");
        }
    }

    #[test]
    fn packed_gemm_matches_sgemm_at_every_level() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for level in Level::available().into_iter().filter(|&l| l != Level::Scalar) {
            for &(m, k, n) in &[(1usize, 37usize, 388usize), (16, 512, 388), (7, 64, 100), (13, 33, 16), (5, 600, 3)] {
                let a = rand_vec(&mut rng, m * k, 1.0);
                let bm = rand_vec(&mut rng, k * n, 1.0);
                let bias = rand_vec(&mut rng, n, 1.0);
                let mut want = bias.repeat(m);
                sgemm(m, n, k, &mut want, &a, false, &bm, false, true);
                let p = Packed::new(&bm, k, n, level);
                let mut got = vec![f32::NAN; m * n];
                packed_gemm(level, m, n, k, &a, &p, &bias, &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{level:?} {m}x{k}x{n}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn step_equals_forward() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (t, b, h) = (4, 2, 8);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.5);
        let (out, _) = lstm_forward_at(Level::Scalar, &xw, &kh, &vec![0.0; b * h], &vec![0.0; b * h], t, b, h);
        for bb in [1usize, 2] {
            let (mut hs, mut cs, mut z) = (vec![0.0; bb * h], vec![0.0; bb * h], Vec::new());
            for s in 0..t {
                // rows 0..bb of step s
                let x: Vec<f32> = xw[s * b * 4 * h..s * b * 4 * h + bb * 4 * h].to_vec();
                lstm_step(&x, &kh, &mut hs, &mut cs, bb, h, &mut z);
                for (a, e) in hs.iter().zip(&out[s * b * h..s * b * h + bb * h]) {
                    assert!((a - e).abs() < 1e-6);
                }
            }
        }
    }
}
