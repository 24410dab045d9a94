//! `cadenza bench generate`: wall time of one generation per batch size.

use crate::options::{GenerateError, GenerateOptions};
use crate::sampler::generate_report;
use cadenza_model::Weights;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Samples generated together (one batch).
    pub batch: usize,
    /// 10 ms steps per sample (6000 = 60 s).
    pub num_steps: u32,
    /// Wall time of the whole call: primer, sampling, decoding.
    pub seconds: f64,
    /// Model steps the batch ran (events of the longest sample).
    pub rnn_steps: usize,
    pub ms_per_rnn_step: f64,
    /// Mean events per sample.
    pub mean_events: f64,
    /// Rows the model actually stepped (Σ events over the samples: finished samples rest).
    pub row_steps: usize,
    /// Multiply-adds ×2 of those row steps (recurrent and deeper-layer kernels, logits) per
    /// second of wall time.
    pub gflops: f64,
    /// Bytes of f32 weights one step reads (every kernel but layer 0's one-hot input rows, the
    /// logits layer).
    pub weight_bytes: usize,
    /// The CPU kernels' instruction set.
    pub simd_level: String,
}

/// Generates `num_steps` from the empty primer once per entry of `batches` (no progress bar,
/// no files), seeds `seed..seed + batch`.
pub fn bench(
    weights: &Weights,
    num_steps: u32,
    batches: &[usize],
    seed: u64,
) -> Result<Vec<BenchResult>, GenerateError> {
    let mut out = Vec::new();
    let flops = weights.config.forward_flops();
    for &batch in batches {
        let opts = GenerateOptions { num_steps, num_outputs: batch, seed, ..Default::default() };
        let t = Instant::now();
        let g = generate_report(weights, &opts, false)?;
        let seconds = t.elapsed().as_secs_f64();
        let rnn_steps = g.samples.iter().map(|s| s.tokens.len()).max().unwrap_or(0);
        let mean_events = g.samples.iter().map(|s| s.tokens.len() as f64).sum::<f64>() / g.samples.len().max(1) as f64;
        let row_steps: usize = g.samples.iter().map(|s| s.tokens.len()).sum();
        out.push(BenchResult {
            batch,
            num_steps,
            seconds,
            rnn_steps,
            ms_per_rnn_step: seconds * 1000.0 / rnn_steps.max(1) as f64,
            mean_events,
            row_steps,
            gflops: row_steps as f64 * flops / seconds / 1e9,
            // One f32 weight per multiply-add.
            weight_bytes: (flops / 2.0) as usize * 4,
            simd_level: cadenza_model::kernels::Level::current().name().into(),
        });
    }
    Ok(out)
}
