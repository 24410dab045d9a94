//! Evaluation with dropout off: Magenta's metrics, and the musical measures (time-shift
//! error, expected harmony cost) the comparison reports.

use crate::data::{examples, floats, scalar};
use crate::losses::{
    check_config, expected_cost, harmony_rows, in_key_rows, on_grid_rows, ratio_rows, CostRows, ShiftError,
    ShiftErrorSum,
};
use crate::metrics::{Metrics, MetricsSum};
use crate::network::{Batch, PerformanceRnn};
use burn::module::Module;
use cadenza_dataset::ExampleStore;
use cadenza_model::ModelConfig;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Runs the model with dropout off over (a prefix of) a store, batch by batch.
pub(crate) fn for_each_eval_batch(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
    mut f: impl FnMut(&Batch, crate::network::Output),
) {
    let n = limit.map_or(store.len(), |l| l.min(store.len()));
    let valid = net.valid();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for start in (0..n).step_by(batch_size.max(1)) {
        let ids: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let batch = Batch::new(model.config, &examples(store, &ids), ids);
        let out = valid.forward(model, &batch, 1.0, &mut rng);
        f(&batch, out);
    }
}

/// Evaluates on (a prefix of) a store with dropout off.
pub fn evaluate(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
) -> Metrics {
    let mut sum = MetricsSum::default();
    for_each_eval_batch(net, model, store, batch_size, limit, |batch, out| {
        let loss = scalar(out.loss);
        sum.add(model.config, batch, &floats(out.logits), loss);
    });
    sum.finish()
}

/// An evaluation with the musical measures besides Magenta's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub metrics: Metrics,
    /// Mean |predicted − target| time shift, in 10 ms steps, where the target is a shift.
    pub shift_error: ShiftError,
    /// Mean expected harmony cost (see [`crate::losses`]) where the target is a NOTE_ON:
    /// lower = the model's next notes sit better in the key and against the sounding notes.
    /// `None` for configs without one-hot events.
    pub harmony_cost: Option<f64>,
}

/// [`evaluate`] plus the time-shift error and the expected harmony cost.
pub fn evaluate_report(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
) -> EvalReport {
    let mut sum = MetricsSum::default();
    let mut shifts = ShiftErrorSum::default();
    let one_hot = check_config(model.config).is_ok();
    let (mut hsum, mut hn) = (0.0f64, 0usize);
    for_each_eval_batch(net, model, store, batch_size, limit, |batch, out| {
        if one_hot {
            let rows = harmony_rows(model.config, batch);
            if let Some(h) = expected_cost(&out.logits, &rows) {
                hsum += scalar(h) * rows.positions.len() as f64;
                hn += rows.positions.len();
            }
        }
        let loss = scalar(out.loss);
        let logits = floats(out.logits);
        shifts.add(model.config, batch, &logits);
        sum.add(model.config, batch, &logits, loss);
    });
    EvalReport {
        metrics: sum.finish(),
        shift_error: shifts.finish(),
        harmony_cost: (one_hot && hn > 0).then(|| hsum / hn as f64),
    }
}

/// The shares the side losses push, read from the model's softmax on a store (dropout off):
/// quantities that a training step moves directly, so a test of a loss's effect can assert on
/// them on every CPU, where sampled notes depend on the SIMD level's rounding of the whole
/// training trajectory. Each is a mean over the positions its loss looks at, `None` when the
/// store has none (or the config has no one-hot events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MusicalShares {
    /// In-key mass of the next NOTE_ON (given that a note starts), in the example's key, at
    /// every position whose target is a NOTE_ON: what `harmony_cost=key` raises.
    pub in_key: Option<f64>,
    /// On-grid mass of the next TIME_SHIFT (given that time moves), on the example's grid:
    /// what `rhythm_cost=grid` raises. Examples without a grid have no positions.
    pub on_grid: Option<f64>,
    /// Mass of the target's rhythm-ratio bin (reading ahead): what `rhythm_cost=ratio` raises.
    pub ratio_bin: Option<f64>,
}

/// [`MusicalShares`] on (a prefix of) a store.
pub fn musical_shares(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
) -> MusicalShares {
    if check_config(model.config).is_err() {
        return MusicalShares::default();
    }
    let kinds: [fn(cadenza_performance::Config, &Batch) -> CostRows; 3] =
        [in_key_rows, on_grid_rows, |c, b| ratio_rows(c, b, true)];
    let mut sums = [(0.0f64, 0usize); 3];
    for_each_eval_batch(net, model, store, batch_size, limit, |batch, out| {
        for (rows_of, (sum, n)) in kinds.iter().zip(sums.iter_mut()) {
            let rows = rows_of(model.config, batch);
            if let Some(m) = expected_cost(&out.logits, &rows) {
                *sum += scalar(m) * rows.positions.len() as f64;
                *n += rows.positions.len();
            }
        }
    });
    let mean = |(sum, n): (f64, usize)| (n > 0).then(|| sum / n as f64);
    MusicalShares { in_key: mean(sums[0]), on_grid: mean(sums[1]), ratio_bin: mean(sums[2]) }
}
