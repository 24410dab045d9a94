//! Running a trained network without autodiff: whole-sequence evaluation (likelihood,
//! eval loss) and step-by-step sampling state, straight on the fused kernels.

use crate::kernels::micro::{cell, gemm, CellIo};
use crate::kernels::simd::{dispatch, Kernel};
use crate::kernels::{
    gemv_acc, lstm_forward, lstm_step, part, sgemm, team_run, Level, Packed, Seg, SharedMut, SpinBarrier,
};
use crate::weights::Weights;
use cadenza_performance::Token;

/// Layer 0's input projection `x·K_x + b` for each position. `tokens` holds one event per
/// position (`token_width` tokens each); `controls`, when the config is conditioned, one
/// control row per position. One-hot events are a row gather, not a matmul.
pub fn input_projection(w: &Weights, tokens: &[&[Token]], controls: Option<&[Vec<f32>]>) -> Vec<f32> {
    let cfg = w.config.config;
    let g4 = 4 * w.config.layers[0];
    let k = &w.kernels[0];
    let cs = cfg.control_size();
    let mut out = Vec::with_capacity(tokens.len() * g4);
    let mut feat = vec![0.0f32; cfg.event_input_size()];
    for (p, tok) in tokens.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(&w.biases[0]);
        let row = &mut out[start..];
        if let Some(ctrl) = controls {
            gemv_acc(&ctrl[p], &k[..cs * g4], cs, g4, row);
        }
        if cfg.event_is_one_hot() {
            let r = cs + tok[0] as usize;
            for (o, kv) in row.iter_mut().zip(&k[r * g4..(r + 1) * g4]) {
                *o += kv;
            }
        } else {
            cfg.encode_event_input(tok, &mut feat);
            gemv_acc(&feat, &k[cs * g4..], feat.len(), g4, row);
        }
    }
    out
}

/// Logits for every position of one sequence from the zero state: `[T, C]`.
pub fn sequence_logits(w: &Weights, tokens: &[&[Token]], controls: Option<&[Vec<f32>]>) -> Vec<f32> {
    let t = tokens.len();
    let mut x = input_projection(w, tokens, controls);
    let mut h_prev: Vec<f32> = Vec::new();
    for (l, &hid) in w.config.layers.iter().enumerate() {
        let g4 = 4 * hid;
        if l > 0 {
            let hin = w.config.layers[l - 1];
            x = w.biases[l].repeat(t);
            sgemm(t, g4, hin, &mut x, &h_prev, false, &w.kernels[l][..hin * g4], false, true);
        }
        let in_rows = w.config.layer_input(l);
        let k_h = &w.kernels[l][in_rows * g4..];
        let (out, _) = lstm_forward(&x, k_h, &vec![0.0; hid], &vec![0.0; hid], t, 1, hid);
        h_prev = out;
    }
    let c = w.config.num_logits();
    let mut logits = w.fc_b.repeat(t);
    sgemm(t, c, w.config.top(), &mut logits, &h_prev, false, &w.fc_w, false, true);
    logits
}

/// Log-softmax over each of the config's softmax segments (one, or six for notes), in place.
pub fn log_softmax_segments(logits: &mut [f32], sizes: &[usize]) {
    let c: usize = sizes.iter().sum();
    for row in logits.chunks_mut(c) {
        let mut off = 0;
        for &n in sizes {
            let seg = &mut row[off..off + n];
            let m = seg.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let lse = m + seg.iter().map(|&v| ((v - m) as f64).exp()).sum::<f64>().ln() as f32;
            seg.iter_mut().for_each(|v| *v -= lse);
            off += n;
        }
    }
}

/// `softmax[t]` = P(event t+1 | events 0..t) at every position of `tokens` (flat, `token_width`
/// values per event), the last included (it predicts past the end): what `cadenza likelihood
/// --dump-probs` writes and Magenta's `softmax` collection holds for the same primer. Controls
/// of conditioned configs are the ones the events imply, the default after the last.
pub fn softmax_rows(w: &Weights, tokens: &[Token]) -> Vec<Vec<f32>> {
    let config = w.config.config;
    let width = config.token_width();
    let events: Vec<&[Token]> = tokens.chunks(width).collect();
    let ctrl = config.is_conditioned().then(|| {
        let mut c = config.control_rows(tokens, false)[1..].to_vec();
        c.push(config.encode_controls(&Default::default()));
        c
    });
    let mut lp = sequence_logits(w, &events, ctrl.as_deref());
    log_softmax_segments(&mut lp, &config.class_sizes());
    lp.chunks(w.config.num_logits()).map(|r| r.iter().map(|v| v.exp()).collect()).collect()
}

/// Log-likelihood of a sequence of events, as Magenta's `_evaluate_log_likelihood`: the first
/// event is given, every later one is scored. Returns (total, per-step log-probabilities).
pub fn log_likelihood(w: &Weights, tokens: &[Token], disable_conditioning: bool) -> (f64, Vec<f32>) {
    let cfg = w.config.config;
    let width = cfg.token_width();
    let n = tokens.len() / width;
    if n < 2 {
        return (0.0, Vec::new());
    }
    let events: Vec<&[Token]> = tokens.chunks(width).collect();
    // Controls at i+1 go with event i (magenta-compat.md §1.7).
    let ctrl =
        if cfg.is_conditioned() { Some(cfg.control_rows(tokens, disable_conditioning)[1..].to_vec()) } else { None };
    let mut lp = sequence_logits(w, &events[..n - 1], ctrl.as_deref());
    let sizes = cfg.class_sizes();
    log_softmax_segments(&mut lp, &sizes);
    let c = w.config.num_logits();
    let mut total = 0.0f64;
    let mut steps = Vec::with_capacity(n - 1);
    for i in 0..n - 1 {
        let row = &lp[i * c..(i + 1) * c];
        let mut off = 0;
        let mut s = 0.0f32;
        for (k, &sz) in sizes.iter().enumerate() {
            s += row[off + events[i + 1][k] as usize];
            off += sz;
        }
        steps.push(s);
        total += s as f64;
    }
    (total, steps)
}

/// The weights packed for the step kernels of one level: layer 0's recurrent half, every deeper
/// layer's whole kernel (`[x, h]` in one pass), the logits layer.
struct PackedNet {
    level: Level,
    layers: Vec<Packed>,
    fc: Packed,
}

/// Recurrent state for `batch` sequences, for sampling one event at a time.
///
/// On the packed path (a SIMD [`Level`], layer sizes whole vectors) one step runs every layer and the
/// logits in one [`team_run`]: each thread owns a fixed set of units (and logit columns),
/// streams only its part of the packed weights for all rows at once, and the threads meet at
/// a barrier between layers. Elsewhere the portable kernels run.
pub struct Stepper<'w> {
    w: &'w Weights,
    pub batch: usize,
    h: Vec<Vec<f32>>,
    c: Vec<Vec<f32>>,
    /// The next hidden state of every layer (the fast path writes here, then swaps).
    h_next: Vec<Vec<f32>>,
    z: Vec<f32>,
    x: Vec<f32>,
    logits: Vec<f32>,
    packed: Option<PackedNet>,
}

impl<'w> Stepper<'w> {
    pub fn new(w: &'w Weights, batch: usize) -> Self {
        Stepper::at_level(w, batch, Level::current())
    }

    /// [`Stepper::new`] on the kernels of `level`.
    pub fn at_level(w: &'w Weights, batch: usize, level: Level) -> Self {
        let h: Vec<Vec<f32>> = w.config.layers.iter().map(|&n| vec![0.0; batch * n]).collect();
        let c = w.config.layers.iter().map(|&n| vec![0.0; batch * n]).collect();
        let packed = if w.config.layers.iter().all(|&n| level.packs(n)) {
            let layers = w
                .config
                .layers
                .iter()
                .enumerate()
                .map(|(l, &hid)| {
                    let in_rows = w.config.layer_input(l);
                    if l == 0 {
                        Packed::lstm(&w.kernels[0][in_rows * 4 * hid..], hid, hid, level)
                    } else {
                        Packed::lstm(&w.kernels[l], in_rows + hid, hid, level)
                    }
                })
                .collect();
            Some(PackedNet { level, layers, fc: Packed::new(&w.fc_w, w.config.top(), w.config.num_logits(), level) })
        } else {
            None
        };
        Stepper { w, batch, h_next: h.clone(), h, c, z: Vec::new(), x: Vec::new(), logits: Vec::new(), packed }
    }

    /// Flattened state per layer, `[c, h]` each, as Magenta's `final_state` collection.
    pub fn state(&self) -> Vec<&[f32]> {
        let mut v = Vec::new();
        for l in 0..self.h.len() {
            v.push(&self.c[l][..]);
            v.push(&self.h[l][..]);
        }
        v
    }

    /// Copies the state of row `from` into row `to` (beam search branches).
    pub fn copy_row(&mut self, from: usize, to: usize) {
        for (l, &n) in self.w.config.layers.iter().enumerate() {
            self.h[l].copy_within(from * n..(from + 1) * n, to * n);
            self.c[l].copy_within(from * n..(from + 1) * n, to * n);
        }
    }

    /// Feeds one event per row and returns the logits `[batch, C]`.
    pub fn step(&mut self, tokens: &[&[Token]], controls: Option<&[Vec<f32>]>) -> &[f32] {
        self.step_active(tokens, controls, None)
    }

    /// [`Stepper::step`] for the rows marked in `active` only (all when `None`): the others
    /// keep their state, and their logits are left stale. Finished samples of a batch then
    /// cost nothing.
    pub fn step_active(
        &mut self,
        tokens: &[&[Token]],
        controls: Option<&[Vec<f32>]>,
        active: Option<&[bool]>,
    ) -> &[f32] {
        assert_eq!(tokens.len(), self.batch, "one event per batch row");
        if let Some(a) = active {
            assert_eq!(a.len(), self.batch, "one flag per batch row");
        }
        if self.packed.is_some() {
            return self.step_packed(tokens, controls, active);
        }
        // The portable path steps every row, then puts the resting rows' state back.
        let resting: Vec<usize> = active.map(|a| (0..self.batch).filter(|&r| !a[r]).collect()).unwrap_or_default();
        let layers = &self.w.config.layers;
        let saved: Vec<(Vec<f32>, Vec<f32>)> = resting
            .iter()
            .flat_map(|&r| layers.iter().enumerate().map(move |(l, &n)| (l, r, n)))
            .map(|(l, r, n)| (self.h[l][r * n..(r + 1) * n].to_vec(), self.c[l][r * n..(r + 1) * n].to_vec()))
            .collect();
        self.step_portable(tokens, controls);
        let mut it = saved.into_iter();
        for &r in &resting {
            for (l, &n) in layers.iter().enumerate() {
                let (h, c) = it.next().expect("saved row");
                self.h[l][r * n..(r + 1) * n].copy_from_slice(&h);
                self.c[l][r * n..(r + 1) * n].copy_from_slice(&c);
            }
        }
        &self.logits
    }

    /// The level the step kernels run on.
    pub fn level(&self) -> Level {
        self.packed.as_ref().map_or(Level::Scalar, |p| p.level)
    }

    fn step_packed(&mut self, tokens: &[&[Token]], controls: Option<&[Vec<f32>]>, active: Option<&[bool]>) -> &[f32] {
        let w = self.w;
        let layers = &w.config.layers;
        let c = w.config.num_logits();
        self.logits.resize(self.batch * c, 0.0);
        let rows: Vec<usize> = (0..self.batch).filter(|&r| active.is_none_or(|a| a[r])).collect();
        let pk = self.packed.as_ref().expect("packed weights");
        if rows.len() == self.batch {
            let x0 = input_projection(w, tokens, controls);
            let hp: Vec<SharedMut> = self.h.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
            let hn: Vec<SharedMut> = self.h_next.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
            let cp: Vec<SharedMut> = self.c.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
            run_packed(w, pk, self.batch, &x0, &hp, &hn, &cp, SharedMut(self.logits.as_mut_ptr()));
            std::mem::swap(&mut self.h, &mut self.h_next);
            return &self.logits;
        }
        // Some rows sit out: gather the active ones into contiguous buffers (full row
        // groups for the kernels), step those, scatter the new state and logits back.
        let na = rows.len();
        let toks: Vec<&[Token]> = rows.iter().map(|&r| tokens[r]).collect();
        let ctrl: Option<Vec<Vec<f32>>> = controls.map(|cs| rows.iter().map(|&r| cs[r].clone()).collect());
        let x0 = input_projection(w, &toks, ctrl.as_deref());
        let gather = |src: &[Vec<f32>]| -> Vec<Vec<f32>> {
            layers
                .iter()
                .enumerate()
                .map(|(l, &n)| rows.iter().flat_map(|&r| src[l][r * n..(r + 1) * n].iter().cloned()).collect())
                .collect()
        };
        let (mut hs, mut cs) = (gather(&self.h), gather(&self.c));
        let mut hns: Vec<Vec<f32>> = layers.iter().map(|&n| vec![0.0; na * n]).collect();
        let mut lg = vec![0.0f32; na * c];
        let hp: Vec<SharedMut> = hs.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
        let hn: Vec<SharedMut> = hns.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
        let cp: Vec<SharedMut> = cs.iter_mut().map(|v| SharedMut(v.as_mut_ptr())).collect();
        run_packed(w, pk, na, &x0, &hp, &hn, &cp, SharedMut(lg.as_mut_ptr()));
        for (i, &r) in rows.iter().enumerate() {
            for (l, &n) in layers.iter().enumerate() {
                self.h[l][r * n..(r + 1) * n].copy_from_slice(&hns[l][i * n..(i + 1) * n]);
                self.c[l][r * n..(r + 1) * n].copy_from_slice(&cs[l][i * n..(i + 1) * n]);
            }
            self.logits[r * c..(r + 1) * c].copy_from_slice(&lg[i * c..(i + 1) * c]);
        }
        &self.logits
    }

    fn step_portable(&mut self, tokens: &[&[Token]], controls: Option<&[Vec<f32>]>) -> &[f32] {
        let w = self.w;
        let mut x = input_projection(w, tokens, controls);
        for (l, &hid) in w.config.layers.iter().enumerate() {
            let g4 = 4 * hid;
            if l > 0 {
                let hin = w.config.layers[l - 1];
                self.x.clear();
                for _ in 0..self.batch {
                    self.x.extend_from_slice(&w.biases[l]);
                }
                if self.batch == 1 {
                    gemv_acc(&self.h[l - 1], &w.kernels[l][..hin * g4], hin, g4, &mut self.x);
                } else {
                    sgemm(
                        self.batch,
                        g4,
                        hin,
                        &mut self.x,
                        &self.h[l - 1],
                        false,
                        &w.kernels[l][..hin * g4],
                        false,
                        true,
                    );
                }
                std::mem::swap(&mut x, &mut self.x);
            }
            let in_rows = w.config.layer_input(l);
            lstm_step(&x, &w.kernels[l][in_rows * g4..], &mut self.h[l], &mut self.c[l], self.batch, hid, &mut self.z);
        }
        let c = w.config.num_logits();
        self.logits.clear();
        for _ in 0..self.batch {
            self.logits.extend_from_slice(&w.fc_b);
        }
        let top = w.config.layers.len() - 1;
        if self.batch == 1 {
            gemv_acc(&self.h[top], &w.fc_w, w.config.top(), c, &mut self.logits);
        } else {
            sgemm(self.batch, c, w.config.top(), &mut self.logits, &self.h[top], false, &w.fc_w, false, true);
        }
        &self.logits
    }
}

/// One packed step of `b` rows over the team: per layer each thread computes its units for
/// every row (layer 0 from `x0`, deeper layers from the previous layer's new state and their
/// own old state), a barrier, then each thread its logit columns. Writes `c` in place and the
/// new hidden states into `hn`. At batch 1 this is a GEMV that reads every weight once per
/// step, in the packed order (one sequential stream per thread).
#[allow(clippy::too_many_arguments)]
fn run_packed(
    w: &Weights,
    pk: &PackedNet,
    b: usize,
    x0: &[f32],
    hp: &[SharedMut],
    hn: &[SharedMut],
    cp: &[SharedMut],
    lp: SharedMut,
) {
    team_run(&|tid, n, bar| dispatch(pk.level, StepThread { tid, n, bar, w, pk, b, x0, hp, hn, cp, lp }));
}

/// One team thread's share of [`run_packed`].
struct StepThread<'a> {
    tid: usize,
    n: usize,
    bar: &'a SpinBarrier,
    w: &'a Weights,
    pk: &'a PackedNet,
    b: usize,
    x0: &'a [f32],
    hp: &'a [SharedMut],
    hn: &'a [SharedMut],
    cp: &'a [SharedMut],
    lp: SharedMut,
}

impl Kernel for StepThread<'_> {
    type Output = ();
    #[inline(always)]
    fn run<S: pulp::Simd>(self, s: S) {
        let StepThread { tid, n, bar, w, pk, b, x0, hp, hn, cp, lp } = self;
        let layers = &w.config.layers;
        let c = w.config.num_logits();
        for (l, &hid) in layers.iter().enumerate() {
            let kp = &pk.layers[l];
            let own = part(hid / S::F32_LANES, tid, n);
            let (init, ldi) = if l == 0 { (x0.as_ptr(), 4 * hid) } else { (w.biases[l].as_ptr(), 0) };
            let io =
                CellIo { init, ldi, c_in: cp[l].p(), c_out: cp[l].p(), h_out: hn[l].p(), gates: std::ptr::null_mut() };
            // Layer 0 multiplies its own old h only; deeper layers [new h below, own old h].
            let own_h = Seg { a: hp[l].p(), lda: hid, k0: 0, k: hid };
            let (segs, nseg) = if l == 0 {
                ([own_h, Seg::EMPTY], 1)
            } else {
                let hin = layers[l - 1];
                ([Seg { a: hn[l - 1].p(), lda: hin, k0: 0, k: hin }, Seg { k0: hin, ..own_h }], 2)
            };
            // SAFETY: every thread reads the previous layer's new state (complete after the
            // barrier) and this layer's old state, and writes only its own units of this
            // layer's c and new h; every buffer holds b rows, `kp` was packed for this level.
            unsafe { cell(s, b, own, hid, io, &segs[..nseg], kp) };
            bar.wait();
        }
        let top = layers.len() - 1;
        let segs = [Seg { a: hn[top].p(), lda: layers[top], k0: 0, k: layers[top] }];
        // SAFETY: each thread writes its own logit columns of the b rows.
        unsafe { gemm(s, b, part(pk.fc.blocks(), tid, n), w.fc_b.as_ptr(), lp.p(), c, &segs, &pk.fc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelConfig;
    use cadenza_performance::Config;

    /// The packed, team-parallel step and the portable step agree (row tails, two layer sizes,
    /// carried state, a beam-style row copy).
    #[test]
    fn packed_step_matches_portable_at_every_level() {
        for level in Level::available().into_iter().filter(|&l| l != Level::Scalar) {
            packed_step_matches_portable(level);
        }
    }

    fn packed_step_matches_portable(level: Level) {
        let w = Weights::init(ModelConfig::new(Config::PerformanceWithDynamics, vec![32, 48]), 3);
        let b = 7;
        let mut fast = Stepper::at_level(&w, b, level);
        assert_eq!(fast.level(), level);
        let mut slow = Stepper::at_level(&w, b, Level::Scalar);
        let classes = w.config.num_logits() as u16;
        for s in 0..12u16 {
            let toks: Vec<[Token; 1]> = (0..b as u16).map(|r| [(s * 31 + r * 7) % classes]).collect();
            let refs: Vec<&[Token]> = toks.iter().map(|t| &t[..]).collect();
            let a = fast.step(&refs, None).to_vec();
            let e = slow.step(&refs, None).to_vec();
            let worst = a.iter().zip(&e).map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "step {s}: {worst}");
            if s == 5 {
                fast.copy_row(2, 4);
                slow.copy_row(2, 4);
            }
            if s == 8 {
                // Rows 1, 2 and 5 sit this step out: their state must not move.
                let before: Vec<Vec<f32>> = fast.state().iter().map(|v| v.to_vec()).collect();
                let active: Vec<bool> = (0..b).map(|r| ![1, 2, 5].contains(&r)).collect();
                let a = fast.step_active(&refs, None, Some(&active)).to_vec();
                let c = w.config.num_logits();
                let mut one = Stepper::at_level(&w, b, Level::Scalar);
                for (v, src) in [&mut one.h, &mut one.c].into_iter().zip([&slow.h, &slow.c]) {
                    v.clone_from(src);
                }
                let e = one.step(&refs, None).to_vec();
                for r in (0..b).filter(|&r| active[r]) {
                    let worst = a[r * c..(r + 1) * c]
                        .iter()
                        .zip(&e[r * c..(r + 1) * c])
                        .map(|(a, e)| (a - e).abs())
                        .fold(0.0f32, f32::max);
                    assert!(worst < 1e-5, "active row {r}: {worst}");
                }
                let after = fast.state();
                for (l, (x, y)) in before.iter().zip(&after).enumerate() {
                    let n = x.len() / b;
                    for r in [1usize, 2, 5] {
                        assert_eq!(
                            &x[r * n..(r + 1) * n],
                            &y[r * n..(r + 1) * n],
                            "inactive row {r} moved (state {l})"
                        );
                    }
                }
                // Bring the skipped rows back in line with the portable stepper.
                for r in [1usize, 2, 5] {
                    for l in 0..fast.h.len() {
                        let n = w.config.layers[l];
                        fast.h[l][r * n..(r + 1) * n].copy_from_slice(&one.h[l][r * n..(r + 1) * n]);
                        fast.c[l][r * n..(r + 1) * n].copy_from_slice(&one.c[l][r * n..(r + 1) * n]);
                    }
                }
                slow = one;
                continue;
            }
        }
        for (a, e) in fast.state().iter().zip(slow.state()) {
            assert!(a.iter().zip(e).all(|(a, e)| (a - e).abs() < 1e-5));
        }
    }
}
