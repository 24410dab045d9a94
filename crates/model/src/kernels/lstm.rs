//! The LSTM layer: forward over a sequence (with the tape backpropagation needs), BPTT, and
//! the one-step form for inference. Each has the packed path (the microkernels of
//! [`super::micro`] on a thread team) and the portable path (`gemm`-crate GEMMs, scalar gate
//! math), which compute the same arithmetic.

use super::micro::{bptt_cell, cell, BpttIo, CellIo};
use super::packed::{Packed, RowGroups, Seg};
use super::simd::{dispatch, Kernel, Level};
use super::team::{part, team_run, SharedMut, SpinBarrier};
use super::vmath::{sigmoid, tanh_approx};
use super::{sgemm, FORGET_BIAS};
use pulp::Simd;
use std::sync::Mutex;

// ---------------------------------------------------------------------------------------
// Workspace: the tape's buffers (hundreds of MB a training step) are recycled, so a step
// neither zeroes nor faults in fresh memory for them after the first.

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
/// Buffers the pool keeps: three per layer of a deep stack, and spares.
const POOL_MAX: usize = 16;
/// Smaller buffers are not worth keeping.
const POOL_MIN: usize = 1 << 16;

/// A buffer of `n` floats, every one initialised (zero where it is new memory; stale values
/// of an earlier tape otherwise, which the kernels overwrite).
fn take(n: usize) -> Vec<f32> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let best =
        pool.iter().enumerate().filter(|(_, v)| v.capacity() >= n).min_by_key(|(_, v)| v.capacity()).map(|(i, _)| i);
    let Some(i) = best else {
        drop(pool);
        return vec![0.0; n];
    };
    let mut v = pool.swap_remove(i);
    drop(pool);
    // Truncates, or zero-fills only what was never written.
    v.resize(n, 0.0);
    v
}

fn give(v: Vec<f32>) {
    if v.capacity() < POOL_MIN {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_MAX {
        pool.push(v);
    }
}

/// What the forward pass keeps for the backward pass. Its buffers go back to a pool when it
/// is dropped, for the next forward pass.
#[derive(Debug, Clone, Default)]
pub struct LstmTape {
    /// Activated gates per step: σ(i), tanh(j), σ(f+1), σ(o): [T, B, 4H].
    pub gates: Vec<f32>,
    /// Cell states c_0..c_T: [T+1, B, H].
    pub c: Vec<f32>,
    /// Hidden states h_0..h_T: [T+1, B, H].
    pub h: Vec<f32>,
}

impl LstmTape {
    fn new(t: usize, b: usize, hid: usize) -> LstmTape {
        LstmTape { gates: take(t * b * 4 * hid), c: take((t + 1) * b * hid), h: take((t + 1) * b * hid) }
    }
}

impl Drop for LstmTape {
    fn drop(&mut self) {
        for v in [&mut self.gates, &mut self.c, &mut self.h] {
            give(std::mem::take(v));
        }
    }
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

// ---------------------------------------------------------------------------------------
// Forward.

/// Runs the recurrence over `t` steps for a batch of `b`. `xw` holds `x·K_x + bias` for every
/// step ([T, B, 4H]); `k_h` is the recurrent half of the kernel ([H, 4H]); `h0`, `c0` are the
/// initial state ([B, H]). Returns h_1..h_T ([T, B, H]) and the tape.
pub fn lstm_forward(
    xw: &[f32],
    k_h: &[f32],
    h0: &[f32],
    c0: &[f32],
    t: usize,
    b: usize,
    hid: usize,
) -> (Vec<f32>, LstmTape) {
    lstm_forward_at(Level::current(), xw, k_h, h0, c0, t, b, hid)
}

/// [`lstm_forward`] on the kernels of `level`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_forward_at(
    level: Level,
    xw: &[f32],
    k_h: &[f32],
    h0: &[f32],
    c0: &[f32],
    t: usize,
    b: usize,
    hid: usize,
) -> (Vec<f32>, LstmTape) {
    let g4 = 4 * hid;
    assert_eq!(xw.len(), t * b * g4, "lstm_forward: xw shape");
    assert_eq!(k_h.len(), hid * g4, "lstm_forward: k_h shape");
    assert!(h0.len() == b * hid && c0.len() == b * hid, "lstm_forward: state shape");
    let bh = b * hid;
    let mut tape = LstmTape::new(t, b, hid);
    tape.c[..bh].copy_from_slice(c0);
    tape.h[..bh].copy_from_slice(h0);
    if level.packs(hid) && t > 0 && b > 0 {
        forward_packed(level, xw, k_h, &mut tape, t, b, hid);
    } else {
        forward_portable(xw, k_h, &mut tape, t, b, hid);
    }
    let out = tape.h[bh..].to_vec();
    (out, tape)
}

fn forward_packed(level: Level, xw: &[f32], k_h: &[f32], tape: &mut LstmTape, t: usize, b: usize, hid: usize) {
    let kp = Packed::lstm(k_h, hid, hid, level);
    let (gp, cp, hp) =
        (SharedMut(tape.gates.as_mut_ptr()), SharedMut(tape.c.as_mut_ptr()), SharedMut(tape.h.as_mut_ptr()));
    let groups = RowGroups::new(b, level);
    team_run(&|tid, n, bar| dispatch(level, ForwardThread { tid, n, bar, xw, kp: &kp, t, b, hid, groups, gp, cp, hp }));
}

/// One team thread's share of the forward pass.
struct ForwardThread<'a> {
    tid: usize,
    n: usize,
    bar: &'a SpinBarrier,
    xw: &'a [f32],
    kp: &'a Packed,
    t: usize,
    b: usize,
    hid: usize,
    groups: RowGroups,
    gp: SharedMut,
    cp: SharedMut,
    hp: SharedMut,
}

impl Kernel for ForwardThread<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let ForwardThread { tid, n, bar, xw, kp, t, b, hid, groups, gp, cp, hp } = self;
        let (g4, bh, nub) = (4 * hid, b * hid, hid / S::F32_LANES);
        let io = |step: usize, r0: usize| CellIo {
            // SAFETY (of every `add`): rows r0.. of step `step` are inside the buffers, which
            // lstm_forward_at sized for T steps of B rows.
            init: unsafe { xw.as_ptr().add(step * b * g4 + r0 * g4) },
            ldi: g4,
            c_in: unsafe { cp.p().add(step * bh + r0 * hid) },
            c_out: unsafe { cp.p().add((step + 1) * bh + r0 * hid) },
            h_out: unsafe { hp.p().add((step + 1) * bh + r0 * hid) },
            gates: unsafe { gp.p().add(step * b * g4 + r0 * g4) },
        };
        if groups.split_by_rows(n) {
            let rows = groups.thread_rows(tid, n);
            if rows.is_empty() {
                return;
            }
            for step in 0..t {
                // SAFETY: this thread reads and writes only its rows of every buffer; h_step
                // of those rows was written by this thread at the previous step.
                unsafe {
                    let seg = Seg { a: hp.p().add(step * bh + rows.start * hid), lda: hid, k0: 0, k: hid };
                    cell(s, rows.len(), 0..nub, hid, io(step, rows.start), &[seg], kp);
                }
            }
            return;
        }
        let ubs = part(nub, tid, n);
        for step in 0..t {
            // SAFETY: this thread writes only its units of step + 1 (c, h) and of the step's
            // gates; everyone reads h_step, complete since the previous barrier.
            unsafe {
                let seg = Seg { a: hp.p().add(step * bh), lda: hid, k0: 0, k: hid };
                cell(s, b, ubs.clone(), hid, io(step, 0), &[seg], kp);
            }
            bar.wait();
        }
    }
}

fn forward_portable(xw: &[f32], k_h: &[f32], tape: &mut LstmTape, t: usize, b: usize, hid: usize) {
    let g4 = 4 * hid;
    let bh = b * hid;
    let mut z = vec![0.0f32; b * g4];
    for s in 0..t {
        z.copy_from_slice(&xw[s * b * g4..(s + 1) * b * g4]);
        let (hs, _) = tape.h.split_at(bh * (s + 1));
        sgemm(b, g4, hid, &mut z, &hs[bh * s..], false, k_h, false, true);
        let gates = &mut tape.gates[s * b * g4..(s + 1) * b * g4];
        let (c_prev, c_next) = tape.c.split_at_mut(bh * (s + 1));
        let c_next = &mut c_next[..bh];
        c_next.copy_from_slice(&c_prev[bh * s..]);
        let h_next = &mut tape.h[bh * (s + 1)..bh * (s + 2)];
        cells_scalar(&z, c_next, h_next, Some(gates), hid);
    }
}

/// The scalar cell for every row: from the pre-activations `z` ([B, 4H]) updates `c` ([B, H])
/// in place, writes `h` and, when given, the activated gates ([B, 4H]).
fn cells_scalar(z: &[f32], c: &mut [f32], h: &mut [f32], mut gates: Option<&mut [f32]>, hid: usize) {
    let g4 = 4 * hid;
    for (r, zr) in z.chunks_exact(g4).enumerate() {
        for u in 0..hid {
            let i = sigmoid(zr[u]);
            let j = tanh_approx(zr[hid + u]);
            let f = sigmoid(zr[2 * hid + u] + FORGET_BIAS);
            let o = sigmoid(zr[3 * hid + u]);
            let cc = c[r * hid + u] * f + i * j;
            c[r * hid + u] = cc;
            h[r * hid + u] = tanh_approx(cc) * o;
            if let Some(g) = gates.as_deref_mut() {
                let gr = &mut g[r * g4..(r + 1) * g4];
                (gr[u], gr[hid + u], gr[2 * hid + u], gr[3 * hid + u]) = (i, j, f, o);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Backward.

/// Backpropagation through time. `dh_out` is dL/dh_1..h_T ([T, B, H]).
pub fn lstm_backward(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize) -> LstmGrads {
    lstm_backward_at(Level::current(), dh_out, k_h, tape, t, b, hid)
}

/// [`lstm_backward`] on the kernels of `level`.
pub fn lstm_backward_at(
    level: Level,
    dh_out: &[f32],
    k_h: &[f32],
    tape: &LstmTape,
    t: usize,
    b: usize,
    hid: usize,
) -> LstmGrads {
    let bh = b * hid;
    let g4 = 4 * hid;
    assert_eq!(dh_out.len(), t * bh, "lstm_backward: dh shape");
    assert_eq!(k_h.len(), hid * g4, "lstm_backward: k_h shape");
    assert!(
        tape.gates.len() == t * b * g4 && tape.c.len() == (t + 1) * bh && tape.h.len() == (t + 1) * bh,
        "lstm_backward: tape shape"
    );
    let mut g =
        LstmGrads { dxw: vec![0.0; t * b * g4], dk_h: vec![0.0; hid * g4], dh0: vec![0.0; bh], dc0: vec![0.0; bh] };
    if level.packs(hid) && t > 0 && b > 0 {
        backward_packed(level, dh_out, k_h, tape, t, b, hid, &mut g);
    } else {
        backward_portable(dh_out, k_h, tape, t, b, hid, &mut g);
    }
    // dK_h = Σ_s h_sᵀ dz_s over all T·B rows at once: [H, T·B] × [T·B, 4H].
    sgemm(hid, g4, t * b, &mut g.dk_h, &tape.h[..t * bh], true, &g.dxw, false, false);
    g
}

#[allow(clippy::too_many_arguments)]
fn backward_packed(
    level: Level,
    dh_out: &[f32],
    k_h: &[f32],
    tape: &LstmTape,
    t: usize,
    b: usize,
    hid: usize,
    g: &mut LstmGrads,
) {
    // dh_s = dz_s · K_hᵀ: K_hᵀ is [4H, H], its column blocks are blocks of 4L units.
    let kt = Packed::new_transposed(k_h, 4 * hid, hid, level);
    let (dzp, dhp, dcp) = (SharedMut(g.dxw.as_mut_ptr()), SharedMut(g.dh0.as_mut_ptr()), SharedMut(g.dc0.as_mut_ptr()));
    let groups = RowGroups::new(b, level);
    team_run(&|tid, n, bar| {
        dispatch(level, BackwardThread { tid, n, bar, dh_out, tape, kt: &kt, t, b, hid, groups, dzp, dhp, dcp })
    });
}

/// One team thread's share of BPTT.
struct BackwardThread<'a> {
    tid: usize,
    n: usize,
    bar: &'a SpinBarrier,
    dh_out: &'a [f32],
    tape: &'a LstmTape,
    kt: &'a Packed,
    t: usize,
    b: usize,
    hid: usize,
    groups: RowGroups,
    dzp: SharedMut,
    dhp: SharedMut,
    dcp: SharedMut,
}

impl Kernel for BackwardThread<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: Simd>(self, s: S) {
        let BackwardThread { tid, n, bar, dh_out, tape, kt, t, b, hid, groups, dzp, dhp, dcp } = self;
        let (g4, bh) = (4 * hid, b * hid);
        let io = |step: usize, r0: usize| BpttIo {
            // SAFETY (of every `add`): rows r0.. of step `step` are inside the buffers, which
            // lstm_backward_at checked against T, B and H.
            gates: unsafe { tape.gates.as_ptr().add(step * b * g4 + r0 * g4) },
            c_prev: unsafe { tape.c.as_ptr().add(step * bh + r0 * hid) },
            c_cur: unsafe { tape.c.as_ptr().add((step + 1) * bh + r0 * hid) },
            dh_out: unsafe { dh_out.as_ptr().add(step * bh + r0 * hid) },
            dh_next: unsafe { dhp.p().add(r0 * hid) },
            dc: unsafe { dcp.p().add(r0 * hid) },
            dz: unsafe { dzp.p().add(step * b * g4 + r0 * g4) },
        };
        let nblk = kt.blocks();
        if groups.split_by_rows(n) {
            // Each thread runs BPTT for its rows alone, no barriers.
            let rows = groups.thread_rows(tid, n);
            if rows.is_empty() {
                return;
            }
            for step in (0..t).rev() {
                // SAFETY: this thread reads and writes only its rows of every buffer.
                unsafe {
                    let io = io(step, rows.start);
                    bptt_cell(s, rows.len(), 0..hid, hid, io);
                    let seg = Seg { a: io.dz, lda: g4, k0: 0, k: g4 };
                    super::micro::gemm(
                        s,
                        rows.len(),
                        0..nblk,
                        std::ptr::null(),
                        io.dh_next as *mut f32,
                        hid,
                        &[seg],
                        kt,
                    );
                }
            }
            return;
        }
        let blks = part(nblk, tid, n);
        let w = 4 * S::F32_LANES;
        let us = (blks.start * w).min(hid)..(blks.end * w).min(hid);
        for step in (0..t).rev() {
            // SAFETY: the elementwise part touches only this thread's units (dz columns of its
            // units, dc, and dh_next, which only this thread writes); the GEMM reads all of
            // dz_step (complete after the barrier) and writes this thread's units of dh_next.
            unsafe {
                bptt_cell(s, b, us.clone(), hid, io(step, 0));
                bar.wait();
                let seg = Seg { a: dzp.p().add(step * b * g4), lda: g4, k0: 0, k: g4 };
                super::micro::gemm(s, b, blks.clone(), std::ptr::null(), dhp.p(), hid, &[seg], kt);
            }
        }
    }
}

fn backward_portable(dh_out: &[f32], k_h: &[f32], tape: &LstmTape, t: usize, b: usize, hid: usize, g: &mut LstmGrads) {
    let g4 = 4 * hid;
    let bh = b * hid;
    let (dz, dh_next, dc_next) = (&mut g.dxw, &mut g.dh0, &mut g.dc0);
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
                let tc = tanh_approx(c_cur[k]);
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
        sgemm(b, hid, g4, dh_next, dzs, false, k_h, true, false);
    }
}

// ---------------------------------------------------------------------------------------
// One step (the portable inference path; `crate::Stepper` runs the packed one).

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
    cells_scalar(&z[..b * g4], &mut c[..b * hid], &mut h[..b * hid], None, hid);
}

/// `y[n] += x[k] · w[k×n]` for a single row: a GEMV the batch-1 portable path uses, because
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
