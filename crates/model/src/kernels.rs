//! Plain-f32 kernels of TensorFlow's `BasicLSTMCell` layer, on the `gemm` crate.
//!
//! The cell (magenta-compat.md §4.1): `z = [x, h] · K + b`, gate blocks `i, j, f, o`,
//! `c' = c ⊙ σ(f + 1) + σ(i) ⊙ tanh(j)`, `h' = tanh(c') ⊙ σ(o)`. The input half of `K` is
//! applied for all steps at once by the caller (a row gather for one-hot inputs); these
//! kernels run the recurrence: one GEMM per step for `h · K_h`, the gate math fused in one
//! pass, and for backpropagation through time one GEMM per step plus a single GEMM over all
//! T·B rows for the recurrent weight gradient.

/// Forget-gate bias TensorFlow adds at run time (not stored in the checkpoint).
pub const FORGET_BIAS: f32 = 1.0;

/// `dst[m×n] = (accumulate ? dst : 0) + a[m×k] · b[k×n]`, all row-major, with optional
/// transposed views (`ta`: a is stored k×m; `tb`: b is stored n×k).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(m: usize, n: usize, k: usize, dst: &mut [f32], a: &[f32], ta: bool, b: &[f32], tb: bool, accumulate: bool) {
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
        gemm::gemm(m, n, k, dst.as_mut_ptr(), 1, n as isize, accumulate, a.as_ptr(), a_cs, a_rs, b.as_ptr(), b_cs, b_rs, 1.0, 1.0, false, false, false, par);
    }
}

#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// What the forward pass keeps for the backward pass.
#[derive(Debug, Clone, Default)]
pub struct LstmTape {
    /// Activated gates per step: σ(i), tanh(j), σ(f+1), σ(o): [T, B, 4H].
    pub gates: Vec<f32>,
    /// Cell states c_0..c_T: [T+1, B, H].
    pub c: Vec<f32>,
    /// Hidden states h_0..h_T: [T+1, B, H].
    pub h: Vec<f32>,
}

/// Runs the recurrence over `t` steps for a batch of `b`. `xw` holds `x·K_x + bias` for every
/// step ([T, B, 4H]); `k_h` is the recurrent half of the kernel ([H, 4H]); `h0`, `c0` are the
/// initial state ([B, H]). Returns h_1..h_T ([T, B, H]) and the tape.
pub fn lstm_forward(xw: &[f32], k_h: &[f32], h0: &[f32], c0: &[f32], t: usize, b: usize, hid: usize) -> (Vec<f32>, LstmTape) {
    let g4 = 4 * hid;
    assert_eq!(xw.len(), t * b * g4, "lstm_forward: xw shape");
    assert_eq!(k_h.len(), hid * g4, "lstm_forward: k_h shape");
    let bh = b * hid;
    let mut tape = LstmTape { gates: vec![0.0; t * b * g4], c: vec![0.0; (t + 1) * bh], h: vec![0.0; (t + 1) * bh] };
    tape.c[..bh].copy_from_slice(c0);
    tape.h[..bh].copy_from_slice(h0);
    let mut z = vec![0.0f32; b * g4];
    for s in 0..t {
        z.copy_from_slice(&xw[s * b * g4..(s + 1) * b * g4]);
        let (hs, _) = tape.h.split_at(bh * (s + 1));
        sgemm(b, g4, hid, &mut z, &hs[bh * s..], false, k_h, false, true);
        let gates = &mut tape.gates[s * b * g4..(s + 1) * b * g4];
        let (c_prev, c_next) = tape.c.split_at_mut(bh * (s + 1));
        let c_prev = &c_prev[bh * s..];
        let c_next = &mut c_next[..bh];
        let h_next = &mut tape.h[bh * (s + 1)..bh * (s + 2)];
        for r in 0..b {
            let zr = &z[r * g4..(r + 1) * g4];
            let gr = &mut gates[r * g4..(r + 1) * g4];
            for u in 0..hid {
                let i = sigmoid(zr[u]);
                let j = zr[hid + u].tanh();
                let f = sigmoid(zr[2 * hid + u] + FORGET_BIAS);
                let o = sigmoid(zr[3 * hid + u]);
                let c = c_prev[r * hid + u] * f + i * j;
                c_next[r * hid + u] = c;
                h_next[r * hid + u] = c.tanh() * o;
                gr[u] = i;
                gr[hid + u] = j;
                gr[2 * hid + u] = f;
                gr[3 * hid + u] = o;
            }
        }
    }
    let out = tape.h[bh..].to_vec();
    (out, tape)
}

/// Gradients of one LSTM layer.
pub struct LstmGrads {
    /// dL/d(x·K_x + bias) for every step: [T, B, 4H] (so dK_x = xᵀ·dz and dbias = Σ dz).
    pub dxw: Vec<f32>,
    /// dL/dK_h: [H, 4H].
    pub dk_h: Vec<f32>,
    pub dh0: Vec<f32>,
    pub dc0: Vec<f32>,
}

/// Backpropagation through time. `dh_out` is dL/dh_1..h_T ([T, B, H]).
pub fn lstm_backward(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize) -> LstmGrads {
    let g4 = 4 * hid;
    let bh = b * hid;
    assert_eq!(dh_out.len(), t * bh, "lstm_backward: dh shape");
    let mut dz = vec![0.0f32; t * b * g4];
    let mut dh_next = vec![0.0f32; bh];
    let mut dc_next = vec![0.0f32; bh];
    for s in (0..t).rev() {
        let gates = &tape.gates[s * b * g4..(s + 1) * b * g4];
        let c_prev = &tape.c[s * bh..(s + 1) * bh];
        let c_cur = &tape.c[(s + 1) * bh..(s + 2) * bh];
        let dzs = &mut dz[s * b * g4..(s + 1) * b * g4];
        for r in 0..b {
            for u in 0..hid {
                let k = r * hid + u;
                let g = &gates[r * g4..(r + 1) * g4];
                let (i, j, f, o) = (g[u], g[hid + u], g[2 * hid + u], g[3 * hid + u]);
                let tc = c_cur[k].tanh();
                let dh = dh_out[s * bh + k] + dh_next[k];
                let dc = dc_next[k] + dh * o * (1.0 - tc * tc);
                let d = &mut dzs[r * g4..(r + 1) * g4];
                d[u] = dc * j * i * (1.0 - i);
                d[hid + u] = dc * i * (1.0 - j * j);
                d[2 * hid + u] = dc * c_prev[k] * f * (1.0 - f);
                d[3 * hid + u] = dh * tc * o * (1.0 - o);
                dc_next[k] = dc * f;
            }
        }
        // dh_{s} = dz_s · K_hᵀ
        sgemm(b, hid, g4, &mut dh_next, dzs, false, k_h, true, false);
    }
    // dK_h = Σ_s h_sᵀ dz_s over all T·B rows at once: [H, T·B] × [T·B, 4H].
    let mut dk_h = vec![0.0f32; hid * g4];
    sgemm(hid, g4, t * b, &mut dk_h, &tape.h[..t * bh], true, &dz, false, false);
    LstmGrads { dxw: dz, dk_h, dh0: dh_next, dc0: dc_next }
}

/// One step for inference (no tape): updates `h`, `c` ([B, H]) in place from `xw` ([B, 4H]).
pub fn lstm_step(xw: &[f32], k_h: &[f32], h: &mut [f32], c: &mut [f32], b: usize, hid: usize, z: &mut Vec<f32>) {
    let g4 = 4 * hid;
    z.clear();
    z.extend_from_slice(&xw[..b * g4]);
    if b == 1 {
        gemv_acc(h, k_h, hid, g4, z);
    } else {
        sgemm(b, g4, hid, z, h, false, k_h, false, true);
    }
    for r in 0..b {
        let zr = &z[r * g4..(r + 1) * g4];
        for u in 0..hid {
            let i = sigmoid(zr[u]);
            let j = zr[hid + u].tanh();
            let f = sigmoid(zr[2 * hid + u] + FORGET_BIAS);
            let o = sigmoid(zr[3 * hid + u]);
            let cc = c[r * hid + u] * f + i * j;
            c[r * hid + u] = cc;
            h[r * hid + u] = cc.tanh() * o;
        }
    }
}

/// `y[n] += x[k] · w[k×n]` for a single row: a GEMV the batch-1 sampling path uses, because
/// a GEMM kernel tuned for big blocks wastes most of its time packing a 1-row operand.
pub fn gemv_acc(x: &[f32], w: &[f32], k: usize, n: usize, y: &mut [f32]) {
    for (kk, &xv) in x[..k].iter().enumerate() {
        if xv == 0.0 {
            continue;
        }
        let row = &w[kk * n..(kk + 1) * n];
        for (yv, &wv) in y[..n].iter_mut().zip(row) {
            *yv += xv * wv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rand_vec(rng: &mut impl Rng, n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-s..s)).collect()
    }

    /// Loss = Σ w ⊙ h_out for fixed random w; its gradient by BPTT vs central differences (f64
    /// accumulation of the loss keeps the check sharp in f32).
    #[test]
    fn lstm_gradients_match_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (t, b, h) = (5, 3, 4);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.7);
        let h0 = rand_vec(&mut rng, b * h, 0.5);
        let c0 = rand_vec(&mut rng, b * h, 0.5);
        let w = rand_vec(&mut rng, t * b * h, 1.0);
        let loss = |xw: &[f32], kh: &[f32], h0: &[f32], c0: &[f32]| -> f64 {
            let (out, _) = lstm_forward(xw, kh, h0, c0, t, b, h);
            out.iter().zip(&w).map(|(a, b)| (*a as f64) * (*b as f64)).sum()
        };
        let (_, tape) = lstm_forward(&xw, &kh, &h0, &c0, t, b, h);
        let g = lstm_backward(&w, &kh, &tape, t, b, h);
        let eps = 1e-2f32;
        let check = |name: &str, analytic: &[f32], f: &dyn Fn(usize, f32) -> f64, n: usize| {
            let mut worst = 0.0f64;
            for i in 0..n {
                let num = (f(i, eps) - f(i, -eps)) / (2.0 * eps as f64);
                let err = (num - analytic[i] as f64).abs() / (1.0 + num.abs());
                worst = worst.max(err);
            }
            assert!(worst < 2e-3, "{name}: worst relative error {worst}");
        };
        check("xw", &g.dxw, &|i, d| { let mut v = xw.clone(); v[i] += d; loss(&v, &kh, &h0, &c0) }, xw.len());
        check("k_h", &g.dk_h, &|i, d| { let mut v = kh.clone(); v[i] += d; loss(&xw, &v, &h0, &c0) }, kh.len());
        check("h0", &g.dh0, &|i, d| { let mut v = h0.clone(); v[i] += d; loss(&xw, &kh, &v, &c0) }, h0.len());
        check("c0", &g.dc0, &|i, d| { let mut v = c0.clone(); v[i] += d; loss(&xw, &kh, &h0, &v) }, c0.len());
    }

    #[test]
    fn step_equals_forward() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let (t, b, h) = (4, 2, 8);
        let xw = rand_vec(&mut rng, t * b * 4 * h, 1.0);
        let kh = rand_vec(&mut rng, h * 4 * h, 0.5);
        let (out, _) = lstm_forward(&xw, &kh, &vec![0.0; b * h], &vec![0.0; b * h], t, b, h);
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
