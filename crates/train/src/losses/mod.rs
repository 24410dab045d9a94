//! The modified model's musical losses: differentiable, so they really move the gradients.
//!
//! The seed project added "rhythm" and "harmony" penalties computed on the argmax of the
//! logits, over event *indices*: an argmax has no gradient, so the penalties changed the
//! logged loss and nothing else. Here both losses are the **expected cost of the next event
//! under the model's softmax**, with a cost that knows what the classes mean (pitches,
//! 10 ms time shifts):
//!
//! ```text
//! L_musical = (1/|P|) Σ_{p∈P} Σ_k q_p(k) · cost_p(k),   q_p = softmax(z_p[K])
//! ∂L/∂z_p(j) = q_p(j) · (cost_p(j) − E_p) / |P|          (E_p = Σ_k q_p(k) cost_p(k))
//! ```
//!
//! where `K` is a block of classes and `P` the positions whose target lies in that block.
//! Restricting the softmax to the block (the distribution of the next NOTE_ON *given* that a
//! note starts, of the next shift *given* that time moves) keeps the losses from changing
//! *how often* the model plays or waits, which cross-entropy alone should decide; they only
//! change *which* note and *how long*.
//!
//! * **Harmony** (`--harmony-loss W`), positions whose target is a NOTE_ON, `K` = the 128
//!   NOTE_ON classes: `cost(q) = ½·out_of_key(q) + ½·tension(q)`, or `out_of_key(q)` alone
//!   when nothing sounds. `out_of_key` is 1 for pitch classes outside the scale of the
//!   example's key (Krumhansl–Schmuckler over its NOTE_ON pitch classes: the dataset keeps
//!   events, not key signatures, and transposed copies then get transposed keys), and
//!   `tension(q)` is the mean [`TENSION`] of the intervals from `q` to every note sounding at
//!   that point (followed through the input's NOTE_ON/NOTE_OFF events): minor 2nd, major 7th
//!   and tritone high; unison, octave, fourth and fifth low.
//! * **Rhythm** (`--rhythm-loss W`), positions whose target is a TIME_SHIFT(t), `K` = the
//!   100 shift classes: `cost(k) = |k − t| / 10`. Against a one-hot target this expected cost
//!   *is* the earth mover's distance between the predicted and the target shift
//!   distributions (1-D EMD = Σ|CDF_q − CDF_target|), in tenths of a second: predicting 490 ms
//!   for 500 ms costs 0.1, predicting 10 ms costs 4.9, where cross-entropy charges both alike.
//!   This is `rhythm_cost=emd`. Its flaw, measured: the expected distance
//!   is minimised by putting *all* the mass on the median of the shifts that can follow a
//!   context, so a model trained with it samples more uniform rhythms than the music's (the
//!   IOI histogram moved away from the reference's).
//! * **Rhythm, proper** (`rhythm_cost=rps`): the ranked probability score
//!   `Σ_j (CDF_q(j) − CDF_target(j))² / 10` over the same 100 shift classes (Epstein 1969;
//!   the discrete CRPS). It equals the EMD for a sure prediction and keeps its ordinal credit
//!   (a near miss costs less than a far one), but it is *strictly proper*: its expectation
//!   is lowest at the true distribution of the next shift, so it sharpens the rhythm the data
//!   has instead of collapsing it to a median.
//!
//! * **Rhythm ratio** (`rhythm_cost=ratio`): the log loss of the *rhythm-ratio bin* the next
//!   inter-onset interval makes with the previous one. At a position whose target is
//!   TIME_SHIFT(t), with `a` the last inter-onset interval (between the last two distinct
//!   onsets), `e` the time since the last onset and `r` the time from the end of this shift to
//!   the next onset (read ahead in the labels), shift `k` would make the ratio
//!   `a / (a + e + k + r)`; the set `S_p` holds the shifts whose ratio falls in the same simple-
//!   ratio bin (4:1 … 1:4, [`cadenza_performance::rhythm`]) as the target's, and the loss is
//!   `−log Σ_{k∈S_p} q_p(k)`. It scores the relation a listener hears (the next beat is as long
//!   as this one, or twice, or a third) rather than the absolute length, and, as a log loss of
//!   the bin, it is proper for the bin the music goes to where the EMD collapses to the median.
//! * **Elapsed ratio** (`rhythm_cost=elapsed`): the same bins without reading ahead (`r = 0`):
//!   the ratio the time since the last onset, at the end of the shift, makes with the last
//!   interval. Every shift target after two onsets has a row, and `S_p` is a function of the
//!   target shift alone, so this is the log loss of a coarsening of the next event: strictly
//!   proper for the shift distribution, so it agrees with cross-entropy at the optimum. The
//!   `ratio` set depends on later labels too, so it is not proper. Measured on held-out folds,
//!   both cost about +6 % eval NLL at weight 1: properness did not lower the price.
//! * **Grid** (`rhythm_cost=grid`), for score data: the log loss of landing on the example's
//!   metrical grid. A score rendered at its tempo puts every onset a whole number of grid
//!   units after the previous one ([`cadenza_performance::rhythm`]). The unit is found from
//!   the example's own inter-onset intervals (the longest unit that 90 % of them are
//!   multiples of, as the key is found from the example's pitches); at a position whose target
//!   is TIME_SHIFT(t), with `e` the time since the last onset, `S_p` holds the shifts `k` for
//!   which `e + k` is on the grid when `e + t` is, and the shifts off it when it is not. `S_p`
//!   depends on the target alone, so this is the log loss of a two-way partition of the
//!   shifts: strictly proper, and it weighs the one fact a listener hears most about timing,
//!   that the notes keep the pulse. Examples without a grid (a performance with rubato, fewer
//!   than 8 intervals) have no rows: on performance data the loss does nothing.
//! * **Harmony, proper** (`harmony_cost=key`): the log loss of the next note's *key
//!   membership*, `−log Σ_{k∈S_p} q_p(k)`, where `S_p` is the set of NOTE_ON classes in the
//!   example's scale when the target note is in it, and the set outside it when it is not.
//!   The expected tension cost above is minimised by putting all the mass on the most
//!   consonant in-key pitches, which the music does not do (measured: the eval NLL paid for it,
//!   +2.4 % on held-out folds). This one is strictly proper for the in-key share: its
//!   expectation is lowest when the model's in-key mass equals the music's, so it agrees with
//!   cross-entropy at the optimum and only weighs the one fact a listener hears most, that
//!   notes stay in the key, more than the other 127 ways a note can be wrong.
//!
//! Both need the one-hot event vocabulary (every `performance*` config); the note-based
//! configs' six softmaxes have no such block and are refused.

use crate::network::Batch;
use burn::tensor::activation::softmax;
use burn::tensor::{s, Int, Tensor, TensorData};
use cadenza_performance::controls::estimate_key;
use cadenza_performance::{Config, Event, OneHot};

/// Tension of an interval, by semitones mod 12 (0 = unison/octave … 11 = major 7th).
pub const TENSION: [f32; 12] = [0.0, 1.0, 0.6, 0.25, 0.2, 0.1, 0.9, 0.0, 0.25, 0.2, 0.6, 1.0];

use crate::recipe::Recipe;
pub use crate::recipe::{HarmonyCost, RhythmCost};

/// Why a config cannot carry the musical losses.
pub fn check_config(config: Config) -> Result<(), String> {
    if config.class_sizes().len() != 1 {
        return Err(format!("the rhythm and harmony losses need a one-hot event config (performance, performance_with_dynamics, …); {config} predicts six softmaxes"));
    }
    Ok(())
}

/// The positions of a batch each loss looks at and their cost rows.
#[derive(Debug, Clone, Default)]
pub struct CostRows {
    /// Flat positions (`t * B + b`) into the batch's `[T·B, C]` logits.
    pub positions: Vec<i64>,
    /// `positions.len() × width` costs, row-major.
    pub costs: Vec<f32>,
    pub width: usize,
    /// First class of the block.
    pub offset: usize,
}

mod rows;
#[cfg(test)]
mod tests;

pub use rows::*;

/// `(1/|P|) Σ_p −log Σ_k softmax(z_p[block])_k · member_p(k)`, with `rows.costs` holding the
/// 0/1 membership of the target's side: the log loss of the side the target is on.
pub fn side_log_loss(logits: &Tensor<2>, rows: &CostRows) -> Option<Tensor<1>> {
    let (q, member) = block_and_rows(logits, rows)?;
    // The block softmax is positive everywhere and the target's class is a member, so the
    // share is > 0; the floor only guards a softmax that underflowed in f32.
    let share = (q * member).sum_dim(1).clamp_min(1e-30);
    Some(share.log().sum().neg().div_scalar(rows.positions.len() as f32))
}

/// The softmax over the block of classes at each position of `rows` (`[|P|, width]`).
fn block_softmax(logits: &Tensor<2>, rows: &CostRows) -> Tensor<2> {
    let idx =
        Tensor::<1, Int>::from_data(TensorData::new(rows.positions.clone(), [rows.positions.len()]), &logits.device());
    softmax(logits.clone().select(0, idx).slice(s![.., rows.offset..rows.offset + rows.width]), 1)
}

/// The block softmax at the rows' positions and the rows' values as a tensor, both
/// `[|P|, width]`; `None` when no position of the batch has a target in the block.
fn block_and_rows(logits: &Tensor<2>, rows: &CostRows) -> Option<(Tensor<2>, Tensor<2>)> {
    let m = rows.positions.len();
    if m == 0 {
        return None;
    }
    let values = Tensor::<2>::from_data(TensorData::new(rows.costs.clone(), [m, rows.width]), &logits.device());
    Some((block_softmax(logits, rows), values))
}

/// `(1/|P|) Σ_p Σ_k softmax(z_p[block])_k · cost_p(k)`: differentiable in the logits.
/// `None` when no position of the batch has a target in the block.
pub fn expected_cost(logits: &Tensor<2>, rows: &CostRows) -> Option<Tensor<1>> {
    let (q, cost) = block_and_rows(logits, rows)?;
    Some((q * cost).sum().div_scalar(rows.positions.len() as f32))
}

/// `(1/|P|) Σ_p Σ_j (CDF_q(j) − CDF_target(j))² / 10`, `q = softmax(z_p[block])`, with
/// `rows.costs` holding the target CDFs: the ranked probability score in tenths of a second.
pub fn ranked_probability_score(logits: &Tensor<2>, rows: &CostRows) -> Option<Tensor<1>> {
    let (q, target) = block_and_rows(logits, rows)?;
    let w = rows.width;
    // CDF by a matmul with the upper-triangular ones: CDF(j) = Σ_{i ≤ j} q_i.
    let tri: Vec<f32> = (0..w * w).map(|x| if x / w <= x % w { 1.0 } else { 0.0 }).collect();
    let cdf = q.matmul(Tensor::<2>::from_data(TensorData::new(tri, [w, w]), &logits.device()));
    let d = cdf - target;
    Some((d.clone() * d).sum().div_scalar(10.0 * rows.positions.len() as f32))
}

/// The musical terms of one batch (unweighted), each `None` when its weight is 0 or the
/// batch has no position for it.
pub struct MusicalTerms {
    pub rhythm: Option<Tensor<1>>,
    pub harmony: Option<Tensor<1>>,
}

pub fn musical_terms(config: Config, batch: &Batch, logits: &Tensor<2>, w: Recipe) -> MusicalTerms {
    MusicalTerms {
        rhythm: match (w.rhythm > 0.0, w.rhythm_cost) {
            (false, _) => None,
            (true, RhythmCost::Emd) => expected_cost(logits, &rhythm_rows(config, batch)),
            (true, RhythmCost::Rps) => ranked_probability_score(logits, &rhythm_cdf_rows(config, batch)),
            (true, RhythmCost::Ratio) => side_log_loss(logits, &ratio_rows(config, batch, true)),
            (true, RhythmCost::Elapsed) => side_log_loss(logits, &ratio_rows(config, batch, false)),
            (true, RhythmCost::Grid) => side_log_loss(logits, &grid_rows(config, batch)),
        },
        harmony: match (w.harmony > 0.0, w.harmony_cost) {
            (false, _) => None,
            (true, HarmonyCost::Tension) => expected_cost(logits, &harmony_rows(config, batch)),
            (true, HarmonyCost::Key) => side_log_loss(logits, &key_rows(config, batch)),
        },
    }
}

/// Mean absolute error of the predicted time shift, in 10 ms steps, at every position whose
/// target is a shift: `expected` under the softmax restricted to the shift classes, and of
/// the `argmax` over those classes. The rhythm loss's claim is measured with these.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShiftError {
    pub expected: f64,
    pub argmax: f64,
    pub positions: u64,
}

/// Running sums for [`ShiftError`] over batches (`logits` row-major `[T·B, C]`).
#[derive(Debug, Clone, Default)]
pub struct ShiftErrorSum {
    expected: f64,
    argmax: f64,
    n: u64,
}

impl ShiftErrorSum {
    pub fn add(&mut self, config: Config, batch: &Batch, logits: &[f32]) {
        if check_config(config).is_err() {
            return;
        }
        let c = config.num_logits();
        let oh = config.one_hot();
        let n = oh.max_shift_steps as usize;
        for p in 0..batch.t * batch.b {
            if batch.mask[p] <= 0.0 {
                continue;
            }
            let Some(Event::TimeShift(t)) = oh.decode(batch.labels[p] as usize) else { continue };
            let z = &logits[p * c + 256..p * c + 256 + n];
            let mx = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f64;
            let mut e = 0.0f64;
            let mut best = (f32::NEG_INFINITY, 0usize);
            for (k, &v) in z.iter().enumerate() {
                let q = ((v - mx) as f64).exp();
                sum += q;
                e += q * ((k + 1) as f64 - t as f64).abs();
                if v > best.0 {
                    best = (v, k);
                }
            }
            self.expected += e / sum;
            self.argmax += ((best.1 + 1) as f64 - t as f64).abs();
            self.n += 1;
        }
    }

    pub fn finish(&self) -> ShiftError {
        let d = self.n.max(1) as f64;
        ShiftError { expected: self.expected / d, argmax: self.argmax / d, positions: self.n }
    }
}
