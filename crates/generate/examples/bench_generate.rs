//! `cargo run --release -p cadenza-generate --example bench_generate [MODEL] [NUM_STEPS] [BATCH...]`
//!
//! Wall time of generating NUM_STEPS (default 6000 = 60 s) from the empty primer with the
//! full-size Magenta fixture model, batch 1 and batch 16 by default.

use cadenza_generate::bench;
use cadenza_model::Weights;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| cadenza_shared::require("fixtures/magenta/bundles/perf_dyn_full512.mag"));
    let num_steps: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(6000);
    let mut batches: Vec<usize> = args.map(|s| s.parse()).collect::<Result<_, _>>()?;
    if batches.is_empty() {
        batches = vec![1, 16];
    }
    let weights = Weights::load(&model)?;
    println!(
        "model {} ({} × {:?}), {} steps ({} s)",
        model.display(),
        weights.config.config.key(),
        weights.config.layers,
        num_steps,
        num_steps as f64 / 100.0
    );
    for r in bench(&weights, num_steps, &batches, 0)? {
        println!(
            "batch {:>3}: {:7.2} s  ({} model steps, {:.3} ms/step, {:.0} events/sample)",
            r.batch, r.seconds, r.rnn_steps, r.ms_per_rnn_step, r.mean_events
        );
    }
    Ok(())
}
