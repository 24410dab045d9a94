//! `cadenza bench train`: training throughput against the machine's own SGEMM speed.

use crate::network::{Batch, PerformanceRnn};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::{Config, EncodedExample};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    pub config: String,
    pub layers: Vec<usize>,
    pub batch: usize,
    pub events: usize,
    pub steps: usize,
    pub dropout_keep_prob: f32,
    /// Where it ran (`cpu (fused LSTM kernels, avx512, 2 threads)`, `vulkan: …`).
    pub device: String,
    /// The CPU kernels' instruction set (`scalar`, `avx2`, `avx512`, `neon`).
    pub simd_level: String,
    pub tokens_per_second: f64,
    pub steps_per_second: f64,
    /// Multiply-adds ×2 per trained token: forward, and backward at twice the forward.
    pub flops_per_token: f64,
    pub achieved_gflops: f64,
    /// The machine's SGEMM (1024³, the same `gemm` kernels, best of 7) measured in this run.
    pub sgemm_gflops: f64,
    pub fraction_of_sgemm: f64,
    /// Peak resident memory of the process over warm-up and the timed steps (VmHWM), MiB.
    pub peak_rss_mb: f64,
}

/// The process's peak resident set size (Linux `VmHWM`), MiB; 0 where unknown.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// FLOPs of one training token: 3× the forward pass (2 per multiply-add).
pub fn flops_per_token(m: &ModelConfig) -> f64 {
    3.0 * m.forward_flops()
}

/// The machine's SGEMM speed (1024³, the `gemm` kernels training uses), GFLOP/s: the best of
/// seven timings of two products each, so that a neighbour's burst on a shared machine does
/// not set the yardstick.
pub fn sgemm_gflops() -> f64 {
    let n = 1024;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; n * n];
    cadenza_model::kernels::sgemm(n, n, n, &mut c, &a, false, &a, false, false);
    let reps = 2;
    let mut best = f64::INFINITY;
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..reps {
            cadenza_model::kernels::sgemm(n, n, n, &mut c, &a, false, &a, false, false);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * (n * n * n * reps) as f64 / best / 1e9
}

pub fn bench_train(
    config: Config,
    layers: Vec<usize>,
    batch: usize,
    events: usize,
    steps: usize,
    keep: f32,
    on: &crate::Selected,
) -> TrainBench {
    let model = ModelConfig::new(config, layers.clone());
    let dev = on.device.clone().autodiff();
    let mut net = PerformanceRnn::from_weights(&Weights::init(model.clone(), 0), &dev);
    let mut optim: burn::optim::ModuleOptimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let classes = config.one_hot().num_classes();
    let exs: Vec<EncodedExample> = (0..batch)
        .map(|_| EncodedExample {
            tokens: (0..events).map(|_| rng.gen_range(0..classes) as u16).collect(),
            disable_conditioning: false,
        })
        .collect();
    let b = Batch::new(config, &exs, (0..batch).collect());
    let mut step = |net: PerformanceRnn, rng: &mut rand_chacha::ChaCha8Rng| -> PerformanceRnn {
        let out = net.forward(&model, &b, keep, rng);
        let grads = GradientsParams::from_grads(out.loss.backward(), &net);
        optim.step(1e-3, net, grads)
    };
    net = step(net, &mut rng); // warm-up
    let _ = on.device.sync(); // a GPU queues work: time only what has finished
    let t = Instant::now();
    for _ in 0..steps {
        net = step(net, &mut rng);
    }
    let _ = on.device.sync();
    let secs = t.elapsed().as_secs_f64();
    let _ = net.num_params();
    let peak = peak_rss_mb();
    let tokens = (b.tokens() * steps) as f64;
    let fpt = flops_per_token(&model);
    let sg = sgemm_gflops();
    let achieved = tokens * fpt / secs / 1e9;
    TrainBench {
        config: config.key().into(),
        layers,
        batch,
        events,
        steps,
        dropout_keep_prob: keep,
        device: on.description.clone(),
        simd_level: cadenza_model::kernels::Level::current().name().into(),
        tokens_per_second: tokens / secs,
        steps_per_second: steps as f64 / secs,
        flops_per_token: fpt,
        achieved_gflops: achieved,
        sgemm_gflops: sg,
        fraction_of_sgemm: achieved / sg,
        peak_rss_mb: peak,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn flops_match_the_issue_estimate() {
        let m =
            cadenza_model::ModelConfig::new(cadenza_performance::Config::PerformanceWithDynamics, vec![512, 512, 512]);
        let f = super::flops_per_token(&m) / 1e6;
        assert!((f - 32.6).abs() < 0.3, "{f} MFLOP per token");
    }
}
