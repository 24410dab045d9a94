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
use cadenza_model::kernels::{lstm_backward, lstm_forward, LstmTape, FORGET_BIAS};
use std::sync::Arc;

#[backend_extension(Flex, Autodiff)]
pub trait LstmBackend: Backend {
    /// `xw`: `[T, B, 4H]` input projections (bias included); `k_h`: `[H, 4H]`.
    /// Returns the hidden states `[T, B, H]`, from a zero initial state.
    fn lstm_layer(xw: FloatTensor<Self>, k_h: FloatTensor<Self>) -> FloatTensor<Self>;
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

fn forward(xw: &FlexTensor, k_h: &FlexTensor) -> (FlexTensor, LstmTape, [usize; 3]) {
    let d = xw.shape().to_vec();
    let (t, b, h) = (d[0], d[1], d[2] / 4);
    assert_eq!(k_h.shape().to_vec(), vec![h, 4 * h], "lstm_layer: recurrent kernel shape");
    let zero = vec![0.0f32; b * h];
    let (out, tape) = lstm_forward(slice(xw), slice(k_h), &zero, &zero, t, b, h);
    (flex(out, &[t, b, h]), tape, [t, b, h])
}

impl LstmBackend for Flex {
    fn lstm_layer(xw: FlexTensor, k_h: FlexTensor) -> FlexTensor {
        forward(&contiguous(xw), &contiguous(k_h)).0
    }
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 2> for LstmBackward {
    type State = (Arc<LstmTape>, FlexTensor, [usize; 3]);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _c: &mut Checkpointer) {
        let [node_xw, node_kh] = ops.parents;
        let dh = contiguous(grads.consume::<Flex>(&ops.node));
        let (tape, k_h, [t, b, h]) = ops.state;
        let g = lstm_backward(slice(&dh), slice(&k_h), &tape, t, b, h);
        if let Some(n) = node_xw {
            grads.register::<Flex>(n.id, flex(g.dxw, &[t, b, 4 * h]));
        }
        if let Some(n) = node_kh {
            grads.register::<Flex>(n.id, flex(g.dk_h, &[h, 4 * h]));
        }
    }
}

impl<C: CheckpointStrategy> LstmBackend for Autodiff<Flex, C> {
    fn lstm_layer(xw: FloatTensor<Self>, k_h: FloatTensor<Self>) -> FloatTensor<Self> {
        match LstmBackward.prepare::<C>([xw.node(), k_h.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (xw, k_h) = (contiguous(xw.into_primitive()), contiguous(k_h.into_primitive()));
                let (out, tape, dims) = forward(&xw, &k_h);
                prep.finish((Arc::new(tape), k_h, dims), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(<Flex as LstmBackend>::lstm_layer(xw.into_primitive(), k_h.into_primitive())),
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

/// Whether the fused CPU kernels can run on these tensors (both on Flex, same autodiff mode).
fn fused_ok(a: &Device, b: &Device) -> bool {
    let flex = Device::flex();
    *a == flex && *b == flex && a.is_autodiff() == b.is_autodiff()
}

/// One LSTM layer over a whole sequence: fused on the CPU, composed elsewhere.
pub fn lstm_layer(xw: Tensor<3>, k_h: Tensor<2>) -> Tensor<3> {
    if fused_ok(&xw.device(), &k_h.device()) {
        Tensor::from_dispatch(<Dispatch as LstmBackend>::lstm_layer(xw.into_dispatch(), k_h.into_dispatch()))
    } else {
        lstm_layer_composed(xw, k_h)
    }
}
