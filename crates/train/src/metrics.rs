//! Magenta's training and evaluation metrics (events_rnn_graph.py), from logits and labels.

use crate::network::Batch;
use cadenza_performance::Config;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub loss: f64,
    pub perplexity: f64,
    pub accuracy: f64,
    pub event_accuracy: f64,
    pub no_event_accuracy: f64,
    /// Cross-entropy per 10 ms step: Σ CE / Σ time-shift steps of the labels.
    pub loss_per_step: f64,
    pub tokens: u64,
}

/// Running sums over one or many batches.
#[derive(Debug, Clone, Default)]
pub struct MetricsSum {
    ce: f64,
    tokens: u64,
    correct: u64,
    events: u64,
    events_correct: u64,
    no_events: u64,
    no_events_correct: u64,
    steps: u64,
}

impl MetricsSum {
    /// Adds a batch given its `[T·B, C]` logits and its mean loss.
    pub fn add(&mut self, config: Config, batch: &Batch, logits: &[f32], mean_loss: f64) {
        let sizes = config.class_sizes();
        let c: usize = sizes.iter().sum();
        let w = config.token_width();
        let default = config.default_label();
        let oh = config.one_hot();
        let n_real = batch.tokens() as u64;
        self.ce += mean_loss * n_real as f64;
        self.tokens += n_real;
        for (p, &m) in batch.mask.iter().enumerate() {
            if m == 0.0 {
                continue;
            }
            let row = &logits[p * c..(p + 1) * c];
            let label = &batch.labels[p * w..(p + 1) * w];
            let mut off = 0;
            let mut ok = true;
            for (k, &sz) in sizes.iter().enumerate() {
                let seg = &row[off..off + sz];
                let arg = seg
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a })
                    .0;
                ok &= arg == label[k] as usize;
                off += sz;
            }
            self.correct += ok as u64;
            if label == default.as_slice() {
                self.no_events += 1;
                self.no_events_correct += ok as u64;
            } else {
                self.events += 1;
                self.events_correct += ok as u64;
            }
            self.steps += if config.is_note_encoding() {
                label[0] as u64 * 77 + label[1] as u64
            } else {
                oh.steps_of(label[0] as usize) as u64
            };
        }
    }

    pub fn finish(&self) -> Metrics {
        let div = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let loss = if self.tokens == 0 { 0.0 } else { self.ce / self.tokens as f64 };
        Metrics {
            loss,
            perplexity: loss.exp(),
            accuracy: div(self.correct, self.tokens),
            event_accuracy: div(self.events_correct, self.events),
            no_event_accuracy: div(self.no_events_correct, self.no_events),
            loss_per_step: if self.steps == 0 { 0.0 } else { self.ce / self.steps as f64 },
            tokens: self.tokens,
        }
    }
}
