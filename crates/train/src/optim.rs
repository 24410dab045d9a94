//! Magenta's optimiser recipe: Adam (0.9 / 0.999 / 1e-8), TensorFlow's per-tensor gradient
//! clipping, and the L1/L2 regularisers the seed project added.

use crate::network::PerformanceRnn;
use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Tensor;

/// TensorFlow's `clip_by_norm` on each gradient tensor: g·c / max(‖g‖, c).
pub struct ClipEach<'a> {
    pub grads: &'a mut GradientsParams,
    pub clip: f32,
}
impl ModuleVisitor for ClipEach<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(p.id) {
            let norm = g.clone().square().sum().sqrt().clamp_min(self.clip);
            self.grads.register::<D>(p.id, g.mul_scalar(self.clip) / norm.unsqueeze());
        }
    }
}

pub fn adam() -> burn::optim::ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).init()
}

/// Σ|w| and Σw² over kernels and FC weights (biases excluded), as tensors in the graph.
pub(crate) fn regularisers(net: &PerformanceRnn) -> (Tensor<1>, Tensor<1>) {
    let mut l1: Option<Tensor<1>> = None;
    let mut l2: Option<Tensor<1>> = None;
    let mut add = |w: Tensor<2>| {
        let a = w.clone().abs().sum();
        let b = w.square().sum();
        l1 = Some(match l1.take() {
            None => a,
            Some(x) => x + a,
        });
        l2 = Some(match l2.take() {
            None => b,
            Some(x) => x + b,
        });
    };
    for k in &net.kernels {
        add(k.val());
    }
    add(net.fc_w.val());
    (l1.unwrap(), l2.unwrap())
}
