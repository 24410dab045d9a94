//! Times `Stepper::step` alone (no sampling) on a random 3×512 performance_with_dynamics
//! model at the batch sizes given (default 1 and 16): what generation's RNN step costs.
//! `cargo run --release -p cadenza-model --example step_profile [batch…]`
use cadenza_model::{ModelConfig, Stepper, Weights};
use cadenza_performance::Config;
use std::time::Instant;

fn main() {
    let batches: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let batches = if batches.is_empty() { vec![1, 16] } else { batches };
    let w = Weights::init(ModelConfig::new(Config::PerformanceWithDynamics, vec![512, 512, 512]), 0);
    let classes = w.config.num_logits() as u16;
    for b in batches {
        let mut st = Stepper::new(&w, b);
        let steps = 100;
        let toks: Vec<[u16; 1]> = (0..b as u16).map(|r| [(r * 37) % classes]).collect();
        let refs: Vec<&[u16]> = toks.iter().map(|t| &t[..]).collect();
        for _ in 0..20 {
            st.step(&refs, None);
        }
        // Best of 7 runs: the fastest is the least disturbed by other load.
        let mut ms = f64::INFINITY;
        for _ in 0..7 {
            let t = Instant::now();
            for _ in 0..steps {
                std::hint::black_box(st.step(&refs, None));
            }
            ms = ms.min(t.elapsed().as_secs_f64() * 1e3 / steps as f64);
        }
        let flops = 2.0 * b as f64 * (512.0 * 2048.0 + 2.0 * 1024.0 * 2048.0 + 512.0 * classes as f64);
        println!("batch {b}: {ms:.3} ms per step, {:.1} GFLOP/s", flops / ms / 1e6);
    }
}
