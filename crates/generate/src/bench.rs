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
}

/// Generates `num_steps` from the empty primer once per entry of `batches` (no progress bar,
/// no files), seeds `seed..seed + batch`.
pub fn bench(weights: &Weights, num_steps: u32, batches: &[usize], seed: u64) -> Result<Vec<BenchResult>, GenerateError> {
    let mut out = Vec::new();
    for &batch in batches {
        let opts = GenerateOptions { num_steps, num_outputs: batch, seed, ..Default::default() };
        let t = Instant::now();
        let g = generate_report(weights, &opts, false)?;
        let seconds = t.elapsed().as_secs_f64();
        let rnn_steps = g.samples.iter().map(|s| s.tokens.len()).max().unwrap_or(0);
        let mean_events = g.samples.iter().map(|s| s.tokens.len() as f64).sum::<f64>() / g.samples.len().max(1) as f64;
        out.push(BenchResult { batch, num_steps, seconds, rnn_steps, ms_per_rnn_step: seconds * 1000.0 / rnn_steps.max(1) as f64, mean_events });
    }
    Ok(out)
}
