//! Evaluation with dropout off: Magenta's metrics, and the musical measures (time-shift
//! error, expected harmony cost) the comparison reports.

use crate::data::{examples, floats, scalar};
use crate::losses::{check_config, expected_cost, harmony_rows, ShiftError, ShiftErrorSum};
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
