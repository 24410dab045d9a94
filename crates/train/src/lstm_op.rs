//! The LSTM layer as one differentiable op.
//!
//! On burn's CPU backend (`Flex`, with or without autodiff) the forward pass and the
//! backpropagation through time run in `cadenza_model::kernels` — one GEMM per step, gate
//! math fused, the recurrent weight gradient as a single GEMM — and register their own
//! backward step with burn's autodiff. On any other device (a GPU backend) the same cell is
//! composed from ordinary tensor ops and burn differentiates it. Both compute TensorFlow's
//! `BasicLSTMCell` (gates i, j, f, o; forget bias +1 at run time) from a zero state.

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::flex::FlexTensor;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Dispatch, Flex, TensorMetadata};
use burn::tensor::{activation::sigmoid, s, DType, Device, Tensor, TensorData};
use cadenza_model::kernels::{
    apply_dropout, dropout_keeps, dropout_threshold, lstm_backward, lstm_forward, part, team_run, LstmTape, SharedMut,
    FORGET_BIAS,
};
use std::sync::Arc;

#[backend_extension(Flex, Autodiff)]
pub trait LstmBackend: Backend {
    /// `xw`: `[T, B, 4H]` input projections (bias included); `k_h`: `[H, 4H]`.
    /// Returns the hidden states `[T, B, H]`, from a zero initial state, with dropout
    /// (mask [`dropout_mask`] of `seed`) applied when `keep < 1`.
    fn lstm_layer(xw: FloatTensor<Self>, k_h: FloatTensor<Self>, keep: f32, seed: u64) -> FloatTensor<Self>;
}

fn contiguous(t: FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fused LSTM works in f32");
    if t.as_slice::<f32>().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn flex(v: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.to_vec()))
}

fn forward(xw: &FlexTensor, k_h: &FlexTensor, keep: f32, seed: u64) -> (FlexTensor, LstmTape, [usize; 3]) {
    let d = xw.shape().to_vec();
    let (t, b, h) = (d[0], d[1], d[2] / 4);
    assert_eq!(k_h.shape().to_vec(), vec![h, 4 * h], "lstm_layer: recurrent kernel shape");
    let zero = vec![0.0f32; b * h];
    let (mut out, tape) = lstm_forward(slice(xw), slice(k_h), &zero, &zero, t, b, h);
    if keep < 1.0 {
        apply_dropout(&tape.h[b * h..], &mut out, keep, seed);
    }
    (flex(out, &[t, b, h]), tape, [t, b, h])
}

impl LstmBackend for Flex {
    fn lstm_layer(xw: FlexTensor, k_h: FlexTensor, keep: f32, seed: u64) -> FlexTensor {
        forward(&contiguous(xw), &contiguous(k_h), keep, seed).0
    }
}

/// The dropout mask of `seed` over `n` elements, scaled by `1 / keep` (what the fused op
/// multiplies its output by).
pub fn dropout_mask(n: usize, keep: f32, seed: u64) -> Vec<f32> {
    let th = dropout_threshold(keep);
    (0..n).map(|i| if dropout_keeps(seed, i as u64, th) { 1.0 / keep } else { 0.0 }).collect()
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 2> for LstmBackward {
    type State = (Arc<LstmTape>, FlexTensor, [usize; 3], f32, u64);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _c: &mut Checkpointer) {
        let [node_xw, node_kh] = ops.parents;
        let dh = contiguous(grads.consume::<Flex>(&ops.node));
        let (tape, k_h, [t, b, h], keep, seed) = ops.state;
        let g = if keep < 1.0 {
            let mut dh_in = vec![0.0f32; t * b * h];
            apply_dropout(slice(&dh), &mut dh_in, keep, seed);
            lstm_backward(&dh_in, slice(&k_h), &tape, t, b, h)
        } else {
            lstm_backward(slice(&dh), slice(&k_h), &tape, t, b, h)
        };
        if let Some(n) = node_xw {
            grads.register::<Flex>(n.id, flex(g.dxw, &[t, b, 4 * h]));
        }
        if let Some(n) = node_kh {
            grads.register::<Flex>(n.id, flex(g.dk_h, &[h, 4 * h]));
        }
    }
}

impl<C: CheckpointStrategy> LstmBackend for Autodiff<Flex, C> {
    fn lstm_layer(xw: FloatTensor<Self>, k_h: FloatTensor<Self>, keep: f32, seed: u64) -> FloatTensor<Self> {
        match LstmBackward.prepare::<C>([xw.node(), k_h.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (xw, k_h) = (contiguous(xw.into_primitive()), contiguous(k_h.into_primitive()));
                let (out, tape, dims) = forward(&xw, &k_h, keep, seed);
                prep.finish((Arc::new(tape), k_h, dims, keep, seed), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(<Flex as LstmBackend>::lstm_layer(xw.into_primitive(), k_h.into_primitive(), keep, seed))
            }
        }
    }
}

/// The same cell from ordinary tensor ops: any backend, differentiated by burn.
pub fn lstm_layer_composed(xw: Tensor<3>, k_h: Tensor<2>) -> Tensor<3> {
    let [t_len, b, g4] = xw.dims();
    let h = g4 / 4;
    let dev = xw.device();
    let mut hp = Tensor::<2>::zeros([b, h], &dev);
    let mut cp = Tensor::<2>::zeros([b, h], &dev);
    let mut hs = Vec::with_capacity(t_len);
    for t in 0..t_len {
        let z = xw.clone().slice(s![t..t + 1]).reshape([b, g4]) + hp.matmul(k_h.clone());
        let i = sigmoid(z.clone().slice(s![.., 0..h]));
        let j = z.clone().slice(s![.., h..2 * h]).tanh();
        let f = sigmoid(z.clone().slice(s![.., 2 * h..3 * h]).add_scalar(FORGET_BIAS));
        let o = sigmoid(z.slice(s![.., 3 * h..4 * h]));
        cp = f * cp + i * j;
        hp = o * cp.clone().tanh();
        hs.push(hp.clone());
    }
    Tensor::stack(hs, 0)
}

// ---------------------------------------------------------------------------------------
// The loss: masked mean cross-entropy over one or more softmax segments, fused.

/// Targets of [`cross_entropy`]: per row one label per segment and a weight (the padding mask
/// over the number of real positions and segments).
#[derive(Debug)]
pub struct CeTargets {
    /// `(offset, size)` of each softmax segment within a logits row.
    pub segments: Vec<(usize, usize)>,
    /// `[N, segments]`.
    pub labels: Vec<u32>,
    /// `[N]`.
    pub weights: Vec<f32>,
}

#[backend_extension(Flex, Autodiff)]
pub trait CeBackend: Backend {
    /// `Σ_rows weight · Σ_segments −log softmax(logits_segment)[label]`, shape `[1]`.
    fn cross_entropy_op(logits: FloatTensor<Self>, targets: Arc<CeTargets>) -> FloatTensor<Self>;
}

/// Per row and segment the log-sum-exp, and the loss (f64 sums, rows split over the team,
/// summed in row order: the same value for any thread count). Scalar on purpose: it is ~1 % of
/// a training step, and a vectorised f32 exp, though within a few ULP, changes the training
/// trajectory, so every recorded run (the base model, the sweeps) would no longer reproduce
/// bit for bit.
fn ce_forward(x: &[f32], c: usize, tg: &CeTargets) -> (f32, Vec<f32>) {
    let n = tg.weights.len();
    let ns = tg.segments.len();
    assert_eq!(x.len(), n * c, "cross_entropy: logits shape");
    let mut lse = vec![0.0f32; n * ns];
    let mut row_loss = vec![0.0f64; n];
    let (lp, rp) = (SharedMut(lse.as_mut_ptr()), SharedMut(row_loss.as_mut_ptr()));
    team_run(&|tid, nt, _| {
        for r in part(n, tid, nt) {
            let row = &x[r * c..(r + 1) * c];
            let mut l = 0.0f64;
            for (k, &(off, sz)) in tg.segments.iter().enumerate() {
                let seg = &row[off..off + sz];
                let m = seg.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let s: f64 = seg.iter().map(|&v| ((v - m) as f64).exp()).sum();
                let z = m + s.ln() as f32;
                // SAFETY: row r belongs to this thread.
                unsafe { *lp.p().add(r * ns + k) = z };
                l += (z - seg[tg.labels[r * ns + k] as usize]) as f64;
            }
            // SAFETY: row r belongs to this thread.
            unsafe { *rp.p().add(r) = l * tg.weights[r] as f64 };
        }
    });
    (row_loss.iter().sum::<f64>() as f32, lse)
}

/// d loss / d logits = g · weight · (softmax − one-hot), per segment.
fn ce_backward(x: &[f32], c: usize, lse: &[f32], tg: &CeTargets, g: f32) -> Vec<f32> {
    let n = tg.weights.len();
    let ns = tg.segments.len();
    let mut d = vec![0.0f32; n * c];
    let dp = SharedMut(d.as_mut_ptr());
    team_run(&|tid, nt, _| {
        for r in part(n, tid, nt) {
            let wr = g * tg.weights[r];
            // SAFETY: row r belongs to this thread.
            let dr = unsafe { std::slice::from_raw_parts_mut(dp.p().add(r * c), c) };
            if wr == 0.0 {
                continue;
            }
            for (k, &(off, sz)) in tg.segments.iter().enumerate() {
                let z = lse[r * ns + k];
                for (o, &v) in dr[off..off + sz].iter_mut().zip(&x[r * c + off..r * c + off + sz]) {
                    *o = wr * (v - z).exp();
                }
                dr[off + tg.labels[r * ns + k] as usize] -= wr;
            }
        }
    });
    d
}

impl CeBackend for Flex {
    fn cross_entropy_op(logits: FlexTensor, targets: Arc<CeTargets>) -> FlexTensor {
        let x = contiguous(logits);
        let c = x.shape().to_vec()[1];
        flex(vec![ce_forward(slice(&x), c, &targets).0], &[1])
    }
}

#[derive(Debug)]
struct CeBackward;

impl Backward<Flex, 1> for CeBackward {
    type State = (FlexTensor, Vec<f32>, Arc<CeTargets>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _c: &mut Checkpointer) {
        let [node] = ops.parents;
        let g = contiguous(grads.consume::<Flex>(&ops.node));
        let (x, lse, tg) = ops.state;
        if let Some(nd) = node {
            let shape = x.shape().to_vec();
            let d = ce_backward(slice(&x), shape[1], &lse, &tg, slice(&g)[0]);
            grads.register::<Flex>(nd.id, flex(d, &shape));
        }
    }
}

impl<C: CheckpointStrategy> CeBackend for Autodiff<Flex, C> {
    fn cross_entropy_op(logits: FloatTensor<Self>, targets: Arc<CeTargets>) -> FloatTensor<Self> {
        match CeBackward.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let x = contiguous(logits.into_primitive());
                let c = x.shape().to_vec()[1];
                let (loss, lse) = ce_forward(slice(&x), c, &targets);
                prep.finish((x, lse, targets), flex(vec![loss], &[1]))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(<Flex as CeBackend>::cross_entropy_op(logits.into_primitive(), targets))
            }
        }
    }
}

/// The fused masked cross-entropy on the CPU backend (`None` on other devices: compose it
/// from burn ops there). Forward and backward are one pass each over the logits.
pub fn cross_entropy_fused(logits: &Tensor<2>, targets: CeTargets) -> Option<Tensor<1>> {
    let dev = logits.device();
    if !fused_ok(&dev, &dev) {
        return None;
    }
    Some(Tensor::from_dispatch(<Dispatch as CeBackend>::cross_entropy_op(
        logits.clone().into_dispatch(),
        Arc::new(targets),
    )))
}

/// Whether the fused CPU kernels can run on these tensors (both on Flex, same autodiff mode).
fn fused_ok(a: &Device, b: &Device) -> bool {
    let flex = Device::flex();
    *a == flex && *b == flex && a.is_autodiff() == b.is_autodiff()
}

/// Keeps the training step's large buffers (up to hundreds of MB each, freed and allocated
/// again every step) in the process heap: by default glibc maps every allocation over 32 MB
/// afresh and unmaps it on free, so each step faulted in and cleared ~3.5 GB of pages (~0.9 M
/// page faults, a sixth of the step's CPU time). Process-wide (the heap then keeps its peak
/// size, which the training step reaches anyway); done once, by the first fused LSTM call.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            const M_TRIM_THRESHOLD: i32 = -1;
            const M_MMAP_MAX: i32 = -4;
            // SAFETY: mallopt only changes glibc's allocation strategy.
            unsafe {
                mallopt(M_MMAP_MAX, 0);
                mallopt(M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// One LSTM layer over a whole sequence: fused on the CPU, composed elsewhere.
pub fn lstm_layer(xw: Tensor<3>, k_h: Tensor<2>) -> Tensor<3> {
    lstm_layer_dropout(xw, k_h, 1.0, 0)
}

/// [`lstm_layer`] followed by dropout (keep probability `keep`, mask [`dropout_mask`] of
/// `seed`): fused into the op on the CPU (no mask tensor), a mask multiply elsewhere.
pub fn lstm_layer_dropout(xw: Tensor<3>, k_h: Tensor<2>, keep: f32, seed: u64) -> Tensor<3> {
    if fused_ok(&xw.device(), &k_h.device()) {
        keep_freed_memory();
        Tensor::from_dispatch(<Dispatch as LstmBackend>::lstm_layer(
            xw.into_dispatch(),
            k_h.into_dispatch(),
            keep,
            seed,
        ))
    } else {
        let h = lstm_layer_composed(xw, k_h);
        if keep < 1.0 {
            let dims = h.dims();
            let mask = dropout_mask(dims.iter().product(), keep, seed);
            let dev = h.device();
            h * Tensor::<3>::from_data(TensorData::new(mask, dims), &dev)
        } else {
            h
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    /// Dropout fused into the op (mask regenerated in the backward pass) equals the composed
    /// cell times the same mask, values and gradients.
    #[test]
    fn fused_dropout_equals_composed_mask() {
        let ad = Device::flex().autodiff();
        let (t, b, h) = (5, 3, 16);
        let xw_v: Vec<f32> = (0..t * b * 4 * h).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        let kh_v: Vec<f32> = (0..h * 4 * h).map(|i| ((i * 53 % 97) as f32 / 80.0) - 0.6).collect();
        let wv: Vec<f32> = (0..t * b * h).map(|i| ((i * 29 % 89) as f32 / 44.0) - 1.0).collect();
        let run = |fused: bool| {
            let xw = Tensor::<3>::from_data(TensorData::new(xw_v.clone(), [t, b, 4 * h]), &ad).require_grad();
            let kh = Tensor::<2>::from_data(TensorData::new(kh_v.clone(), [h, 4 * h]), &ad).require_grad();
            let wt = Tensor::<3>::from_data(TensorData::new(wv.clone(), [t, b, h]), &ad);
            let out = if fused {
                lstm_layer_dropout(xw.clone(), kh.clone(), 0.6, 42)
            } else {
                let m = Tensor::<3>::from_data(TensorData::new(dropout_mask(t * b * h, 0.6, 42), [t, b, h]), &ad);
                lstm_layer_composed(xw.clone(), kh.clone()) * m
            };
            let g = (out.clone() * wt).sum().backward();
            (vec_of(out), vec_of(xw.grad(&g).unwrap()), vec_of(kh.grad(&g).unwrap()))
        };
        let (o1, gx1, gk1) = run(true);
        let (o2, gx2, gk2) = run(false);
        let md = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        let zeros = o1.iter().filter(|&&v| v == 0.0).count() as f32 / o1.len() as f32;
        assert!((zeros - 0.4).abs() < 0.1, "dropped fraction {zeros}");
        assert!(
            md(&o1, &o2) < 1e-5 && md(&gx1, &gx2) < 1e-4 && md(&gk1, &gk2) < 1e-4,
            "{} {} {}",
            md(&o1, &o2),
            md(&gx1, &gx2),
            md(&gk1, &gk2)
        );
    }

    /// The fused loss equals burn's log_softmax + gather composition, value and gradient, with
    /// two segments and padding.
    #[test]
    fn fused_cross_entropy_equals_composed() {
        use burn::tensor::{activation::log_softmax, Int};
        let ad = Device::flex().autodiff();
        let (n, sizes) = (9usize, [5usize, 7]);
        let c: usize = sizes.iter().sum();
        let xv: Vec<f32> = (0..n * c).map(|i| ((i * 37 % 101) as f32 / 20.0) - 2.5).collect();
        let labels: Vec<[u32; 2]> = (0..n).map(|r| [(r * 3 % 5) as u32, (r * 5 % 7) as u32]).collect();
        let mask: Vec<f32> = (0..n).map(|r| if r % 4 == 3 { 0.0 } else { 1.0 }).collect();
        let real: f32 = mask.iter().sum();
        let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [n, c]), &ad).require_grad();
        let tg = CeTargets {
            segments: vec![(0, 5), (5, 7)],
            labels: labels.iter().flatten().cloned().collect(),
            weights: mask.iter().map(|m| m / real / 2.0).collect(),
        };
        let fused = cross_entropy_fused(&x, tg).expect("flex");
        let g1 = fused.backward();
        let (l1, d1) = (vec_of(fused_val(&x, &labels, &mask)), vec_of(x.grad(&g1).unwrap()));
        // composed
        let x2 = Tensor::<2>::from_data(TensorData::new(xv, [n, c]), &ad).require_grad();
        let m = Tensor::<1>::from_data(TensorData::new(mask.clone(), [n]), &ad);
        let mut loss: Option<Tensor<1>> = None;
        let mut off = 0;
        for (k, &sz) in sizes.iter().enumerate() {
            let lab: Vec<i64> = labels.iter().map(|l| l[k] as i64).collect();
            let lab = Tensor::<2, Int>::from_data(TensorData::new(lab, [n, 1]), &ad);
            let picked = log_softmax(x2.clone().slice(s![.., off..off + sz]), 1).gather(1, lab).reshape([n]);
            let ce = -(picked * m.clone()).sum() / real;
            loss = Some(match loss {
                None => ce,
                Some(l) => l + ce,
            });
            off += sz;
        }
        let loss = loss.unwrap().div_scalar(2.0);
        let g2 = loss.backward();
        let (l2, d2) = (vec_of(loss), vec_of(x2.grad(&g2).unwrap()));
        assert!((l1[0] - l2[0]).abs() < 1e-5, "{l1:?} vs {l2:?}");
        let md = d1.iter().zip(&d2).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(md < 1e-6, "gradient {md}");
    }

    fn fused_val(x: &Tensor<2>, labels: &[[u32; 2]], mask: &[f32]) -> Tensor<1> {
        let real: f32 = mask.iter().sum();
        let tg = CeTargets {
            segments: vec![(0, 5), (5, 7)],
            labels: labels.iter().flatten().cloned().collect(),
            weights: mask.iter().map(|m| m / real / 2.0).collect(),
        };
        cross_entropy_fused(x, tg).unwrap()
    }
}
