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
//!   This is `rhythm_cost=emd`, the first design. Its flaw, measured: the expected distance
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

/// Which rhythm loss (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RhythmCost {
    /// Expected |predicted − target| shift: the earth mover's distance (not proper).
    #[default]
    Emd,
    /// The ranked probability score: squared CDF differences (strictly proper).
    Rps,
    /// Log loss of the rhythm-ratio bin of the next inter-onset interval (reads ahead).
    Ratio,
    /// Log loss of the rhythm-ratio bin reached at the end of the target shift (proper).
    Elapsed,
    /// Log loss of landing on the example's metrical grid, or off it (proper; score data).
    Grid,
}

impl RhythmCost {
    /// Every cost, in the order of [`RhythmCost::NAMES`] (a test checks the two agree).
    pub const ALL: [RhythmCost; 5] =
        [RhythmCost::Emd, RhythmCost::Rps, RhythmCost::Ratio, RhythmCost::Elapsed, RhythmCost::Grid];
    /// The names the command line and the hparams take.
    pub const NAMES: [&'static str; 5] = ["emd", "rps", "ratio", "elapsed", "grid"];

    pub fn name(self) -> &'static str {
        match self {
            RhythmCost::Emd => "emd",
            RhythmCost::Rps => "rps",
            RhythmCost::Ratio => "ratio",
            RhythmCost::Elapsed => "elapsed",
            RhythmCost::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Which harmony loss (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HarmonyCost {
    /// Expected ½·out-of-key + ½·tension of the next note (not proper).
    #[default]
    Tension,
    /// Log loss of the next note's key membership (strictly proper for the in-key share).
    Key,
}

impl HarmonyCost {
    /// Every cost, in the order of [`HarmonyCost::NAMES`] (a test checks the two agree).
    pub const ALL: [HarmonyCost; 2] = [HarmonyCost::Tension, HarmonyCost::Key];
    /// The names the command line and the hparams take.
    pub const NAMES: [&'static str; 2] = ["tension", "key"];

    pub fn name(self) -> &'static str {
        match self {
            HarmonyCost::Tension => "tension",
            HarmonyCost::Key => "key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Weights of the two musical losses (0 = off: the original recipe): the [`crate::Recipe`].
pub type MusicalWeights = crate::recipe::Recipe;

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

/// Cost of each of the 12 pitch classes given a key's scale and the pitches sounding.
pub fn pitch_class_costs(scale: &[bool; 12], sounding: &[u8]) -> [f32; 12] {
    let mut c = [0.0f32; 12];
    for (pc, cv) in c.iter_mut().enumerate() {
        let out = if scale[pc] { 0.0 } else { 1.0 };
        *cv = if sounding.is_empty() {
            out
        } else {
            let t: f32 = sounding.iter().map(|&s| TENSION[(pc + 12 - (s as usize % 12)) % 12]).sum::<f32>()
                / sounding.len() as f32;
            0.5 * out + 0.5 * t
        };
    }
    c
}

/// Per row of the batch, the input/label tokens in time order.
fn row_tokens(batch: &Batch, r: usize) -> impl Iterator<Item = (usize, u16, u16)> + '_ {
    (0..batch.t)
        .map(move |t| t * batch.b + r)
        .filter(move |&at| batch.mask[at] > 0.0)
        .map(move |at| (at, batch.inputs[at], batch.labels[at]))
}

/// One row of a batch with its events decoded once: `toks[i]` is position `i`'s (flat position,
/// input, label), `events[0]` the row's first input and `events[i + 1]` the label at position
/// `i`, and `time[j]` the time (10 ms steps) after event `j`.
struct RowEvents {
    toks: Vec<(usize, u16, u16)>,
    events: Vec<Option<Event>>,
    time: Vec<u64>,
}

/// Row `r` of the batch as [`RowEvents`]; `None` when the row has no position.
fn row_events(oh: &OneHot, batch: &Batch, r: usize) -> Option<RowEvents> {
    let toks: Vec<(usize, u16, u16)> = row_tokens(batch, r).collect();
    let &(_, first, _) = toks.first()?;
    let events: Vec<Option<Event>> =
        std::iter::once(first).chain(toks.iter().map(|t| t.2)).map(|c| oh.decode(c as usize)).collect();
    let time: Vec<u64> = events
        .iter()
        .scan(0u64, |now, ev| {
            if let Some(Event::TimeShift(s)) = ev {
                *now += *s as u64;
            }
            Some(*now)
        })
        .collect();
    Some(RowEvents { toks, events, time })
}

/// Per row of the batch, the scale of its key: Krumhansl–Schmuckler over the row's NOTE_ON
/// pitch classes (its first input and every label).
fn row_scale(config: Config, batch: &Batch, r: usize) -> [bool; 12] {
    let oh = config.one_hot();
    let mut hist = [0.0f64; 12];
    let mut first = true;
    for (_, inp, lab) in row_tokens(batch, r) {
        if first {
            if let Some(Event::NoteOn(p)) = oh.decode(inp as usize) {
                hist[p as usize % 12] += 1.0;
            }
            first = false;
        }
        if let Some(Event::NoteOn(p)) = oh.decode(lab as usize) {
            hist[p as usize % 12] += 1.0;
        }
    }
    estimate_key(&hist).scale()
}

/// Harmony cost rows: every position whose label is a NOTE_ON.
pub fn harmony_rows(config: Config, batch: &Batch) -> CostRows {
    let oh = config.one_hot();
    let mut out = CostRows { width: 128, offset: 0, ..Default::default() };
    for r in 0..batch.b {
        let scale = row_scale(config, batch, r);
        let mut sounding: Vec<u8> = Vec::new();
        for (at, inp, lab) in row_tokens(batch, r) {
            match oh.decode(inp as usize) {
                Some(Event::NoteOn(p)) if !sounding.contains(&p) => {
                    sounding.push(p);
                }
                Some(Event::NoteOff(p)) => sounding.retain(|&x| x != p),
                _ => {}
            }
            if let Some(Event::NoteOn(_)) = oh.decode(lab as usize) {
                let pcc = pitch_class_costs(&scale, &sounding);
                out.positions.push(at as i64);
                out.costs.extend((0..128).map(|q| pcc[q % 12]));
            }
        }
    }
    out
}

/// Key-membership rows: every position whose label is a NOTE_ON(t), with 1 for the NOTE_ON
/// classes on the same side of the example's scale as `t` (in it, or out of it) and 0 for the
/// others.
pub fn key_rows(config: Config, batch: &Batch) -> CostRows {
    key_rows_by(config, batch, |in_scale, target_in| in_scale == target_in)
}

/// In-key rows: every position whose label is a NOTE_ON, with 1 for the NOTE_ON classes in the
/// example's scale. Their [`expected_cost`] is the model's in-key mass of the next note, the
/// share the key loss moves (read from the model, not from sampled notes).
pub fn in_key_rows(config: Config, batch: &Batch) -> CostRows {
    key_rows_by(config, batch, |in_scale, _| in_scale)
}

/// Rows at every NOTE_ON label: column `q` holds `member(q in the scale, the target in it)`.
fn key_rows_by(config: Config, batch: &Batch, member: impl Fn(bool, bool) -> bool) -> CostRows {
    let oh = config.one_hot();
    let mut out = CostRows { width: 128, offset: 0, ..Default::default() };
    for r in 0..batch.b {
        let scale = row_scale(config, batch, r);
        for (at, _, lab) in row_tokens(batch, r) {
            if let Some(Event::NoteOn(t)) = oh.decode(lab as usize) {
                let side = scale[t as usize % 12];
                out.positions.push(at as i64);
                out.costs.extend((0..128).map(|q| if member(scale[q % 12], side) { 1.0 } else { 0.0 }));
            }
        }
    }
    out
}

/// `(1/|P|) Σ_p −log Σ_k softmax(z_p[block])_k · member_p(k)`, with `rows.costs` holding the
/// 0/1 membership of the target's side: the log loss of the side the target is on.
pub fn side_log_loss(logits: &Tensor<2>, rows: &CostRows) -> Option<Tensor<1>> {
    let (q, member) = block_and_rows(logits, rows)?;
    // The block softmax is positive everywhere and the target's class is a member, so the
    // share is > 0; the floor only guards a softmax that underflowed in f32.
    let share = (q * member).sum_dim(1).clamp_min(1e-30);
    Some(share.log().sum().neg().div_scalar(rows.positions.len() as f32))
}

/// Rows over the shift classes at every position whose label is a TIME_SHIFT(t): column
/// `k - 1` (shift k) holds `value(k, t)`.
fn shift_rows(config: Config, batch: &Batch, value: impl Fn(usize, usize) -> f32) -> CostRows {
    let oh = config.one_hot();
    let n = oh.max_shift_steps as usize;
    let mut out = CostRows { width: n, offset: 256, ..Default::default() };
    for r in 0..batch.b {
        for (at, _, lab) in row_tokens(batch, r) {
            if let Some(Event::TimeShift(t)) = oh.decode(lab as usize) {
                out.positions.push(at as i64);
                out.costs.extend((1..=n).map(|k| value(k, t as usize)));
            }
        }
    }
    out
}

/// Rhythm-ratio rows: every position whose label is a TIME_SHIFT(t) after two distinct onsets,
/// with 1 for the shift classes whose interval ratio with the last inter-onset interval falls
/// in the target's bin (see the module documentation). With `lookahead` (`ratio`) the interval
/// runs to the next onset among the labels, and a shift with no onset after it has no row;
/// without it (`elapsed`) the interval ends with the shift, so the set depends on the target
/// alone.
pub fn ratio_rows(config: Config, batch: &Batch, lookahead: bool) -> CostRows {
    use cadenza_performance::rhythm::ratio_bin;
    let oh = config.one_hot();
    let n = oh.max_shift_steps as usize;
    let mut out = CostRows { width: n, offset: 256, ..Default::default() };
    for r in 0..batch.b {
        let Some(RowEvents { toks, events, time }) = row_events(&oh, batch, r) else { continue };
        // `next_onset[j]`: the time of the first NOTE_ON after event j.
        let mut next_onset = vec![None; events.len()];
        for j in (0..events.len() - 1).rev() {
            next_onset[j] =
                if matches!(events[j + 1], Some(Event::NoteOn(_))) { Some(time[j + 1]) } else { next_onset[j + 1] };
        }
        // Walk the positions: the input (event i) has happened; keep the last two onsets.
        let (mut last_onset, mut last_ioi) = (None::<u64>, None::<u64>);
        for (i, &(at, _, _)) in toks.iter().enumerate() {
            let now = time[i];
            if matches!(events[i], Some(Event::NoteOn(_))) && last_onset != Some(now) {
                last_ioi = last_onset.map(|l| now - l);
                last_onset = Some(now);
            }
            let (Some(Event::TimeShift(t)), Some(a), Some(l)) = (events[i + 1], last_ioi, last_onset) else {
                continue;
            };
            // Time from the end of this shift to the next onset (0 without lookahead).
            let rest = match (lookahead, next_onset[i + 1]) {
                (false, _) => 0,
                (true, Some(on)) => on - time[i + 1],
                (true, None) => continue,
            };
            let (a, e) = (a as f64, (now - l) as f64);
            let bin = |k: usize| ratio_bin(a / (a + e + k as f64 + rest as f64));
            let target = bin(t as usize);
            out.positions.push(at as i64);
            out.costs.extend((1..=n).map(|k| if bin(k) == target { 1.0 } else { 0.0 }));
        }
    }
    out
}

/// Grid rows: every position whose label is a TIME_SHIFT(t) after the row's first onset, in a
/// row whose onsets have a grid unit `u` ([`cadenza_performance::rhythm::grid_unit`]), with
/// 1 for the shifts `k` that land on the same side of the grid as `t` (`e + k` a whole number
/// of units after the last onset, `e` the time since it, or not) and 0 for the others.
pub fn grid_rows(config: Config, batch: &Batch) -> CostRows {
    grid_rows_by(config, batch, |on, target_on| on == target_on)
}

/// On-grid rows: the positions of [`grid_rows`], with 1 for the shifts that land on the grid.
/// Their [`expected_cost`] is the model's on-grid mass of the next shift, the share the grid
/// loss moves (read from the model, not from sampled notes).
pub fn on_grid_rows(config: Config, batch: &Batch) -> CostRows {
    grid_rows_by(config, batch, |on, _| on)
}

/// The positions of [`grid_rows`]: column `k - 1` holds `member(e + k on the grid, e + t on it)`.
fn grid_rows_by(config: Config, batch: &Batch, member: impl Fn(bool, bool) -> bool) -> CostRows {
    use cadenza_performance::rhythm::{grid_unit, on_grid};
    let oh = config.one_hot();
    let n = oh.max_shift_steps as usize;
    let mut out = CostRows { width: n, offset: 256, ..Default::default() };
    for r in 0..batch.b {
        let Some(RowEvents { toks, events, time }) = row_events(&oh, batch, r) else { continue };
        let mut onsets: Vec<u64> =
            events.iter().zip(&time).filter(|(e, _)| matches!(e, Some(Event::NoteOn(_)))).map(|(_, &t)| t).collect();
        onsets.dedup();
        let intervals: Vec<f64> = onsets.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let Some(unit) = grid_unit(&intervals) else { continue };
        let mut last_onset = None::<u64>;
        for (i, &(at, _, _)) in toks.iter().enumerate() {
            if matches!(events[i], Some(Event::NoteOn(_))) {
                last_onset = Some(time[i]);
            }
            let (Some(Event::TimeShift(t)), Some(l)) = (events[i + 1], last_onset) else { continue };
            let e = (time[i] - l) as f64;
            let side = on_grid(e + t as f64, unit);
            out.positions.push(at as i64);
            out.costs.extend((1..=n).map(|k| if member(on_grid(e + k as f64, unit), side) { 1.0 } else { 0.0 }));
        }
    }
    out
}

/// Rhythm cost rows: every position whose label is a TIME_SHIFT.
pub fn rhythm_rows(config: Config, batch: &Batch) -> CostRows {
    shift_rows(config, batch, |k, t| (k as f32 - t as f32).abs() / 10.0)
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

/// Target rows of the ranked probability score: every position whose label is a
/// TIME_SHIFT(t), with the target's CDF over the shift classes (0 below `t`, 1 from `t`).
pub fn rhythm_cdf_rows(config: Config, batch: &Batch) -> CostRows {
    shift_rows(config, batch, |k, t| if k >= t { 1.0 } else { 0.0 })
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

pub fn musical_terms(config: Config, batch: &Batch, logits: &Tensor<2>, w: MusicalWeights) -> MusicalTerms {
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Tensor};
    use cadenza_performance::EncodedExample;
    use rand::{Rng, SeedableRng};

    fn ex(events: &[Event]) -> EncodedExample {
        let oh = Config::Performance.one_hot();
        EncodedExample {
            tokens: events.iter().map(|e| oh.encode(e).unwrap() as u16).collect(),
            disable_conditioning: false,
        }
    }

    /// The autodiff gradient of the expected cost equals q·(cost − E)/|P| and central
    /// differences of the same function computed in f64.
    #[test]
    fn expected_cost_gradient_matches_formula_and_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (n, c) = (5, 12);
        let z: Vec<f32> = (0..n * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let rows = CostRows {
            positions: vec![0, 2, 4],
            costs: (0..3 * 4).map(|_| rng.gen_range(0.0..1.0)).collect(),
            width: 4,
            offset: 3,
        };
        let f64_loss = |z: &[f32]| -> f64 {
            let mut tot = 0.0;
            for (i, &p) in rows.positions.iter().enumerate() {
                let blk: Vec<f64> = (0..4).map(|k| z[p as usize * c + 3 + k] as f64).collect();
                let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
                let s: f64 = e.iter().sum();
                tot += (0..4).map(|k| e[k] / s * rows.costs[i * 4 + k] as f64).sum::<f64>();
            }
            tot / 3.0
        };
        let dev = Device::flex().autodiff();
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [n, c]), &dev).require_grad();
        let loss = expected_cost(&zt, &rows).unwrap();
        assert!((loss.clone().into_scalar::<f32>() as f64 - f64_loss(&z)).abs() < 1e-6);
        let grads = loss.backward();
        let g: Vec<f32> = zt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let eps = 1e-3f32;
        for i in 0..n * c {
            let (mut a, mut b) = (z.clone(), z.clone());
            a[i] += eps;
            b[i] -= eps;
            let num = (f64_loss(&a) - f64_loss(&b)) / (2.0 * eps as f64);
            assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
        }
        // Rows without a target in the block, and columns outside it, get no gradient.
        assert!(g[c..2 * c].iter().all(|&v| v == 0.0));
        assert!(g[..3].iter().all(|&v| v == 0.0));
        assert!(g.iter().any(|&v| v.abs() > 1e-3));
    }

    #[test]
    fn rhythm_cost_is_ordinal() {
        let e = ex(&[Event::NoteOn(60), Event::TimeShift(50)]);
        let b = Batch::new(Config::Performance, &[e], vec![0]);
        let rows = rhythm_rows(Config::Performance, &b);
        assert_eq!(rows.positions, vec![0]);
        // 490 ms (class 49) for 500 ms costs 0.1; 10 ms costs 4.9; exact costs 0.
        assert!((rows.costs[48] - 0.1).abs() < 1e-6 && (rows.costs[0] - 4.9).abs() < 1e-6 && rows.costs[49] == 0.0);
        // A model sure of 490 ms pays less than one sure of 10 ms (cross-entropy: the same).
        let mk = |class: usize| {
            let mut z = vec![0.0f32; 388];
            z[class] = 30.0;
            Tensor::<2>::from_data(TensorData::new(z, [1, 388]), &Device::flex())
        };
        let near = expected_cost(&mk(256 + 48), &rows).unwrap().into_scalar::<f32>();
        let far = expected_cost(&mk(256), &rows).unwrap().into_scalar::<f32>();
        assert!(near < 0.11 && far > 4.8, "{near} {far}");
    }

    /// The RPS equals the EMD for a sure prediction, is lowest in expectation at the true
    /// distribution (proper) where the EMD prefers the median, and its gradient matches
    /// central differences.
    #[test]
    fn rps_is_proper_and_its_gradient_is_right() {
        let e = ex(&[Event::NoteOn(60), Event::TimeShift(50), Event::NoteOff(60), Event::TimeShift(20)]);
        let b = Batch::new(Config::Performance, &[e], vec![0]);
        let (emd_rows, rps_rows) = (rhythm_rows(Config::Performance, &b), rhythm_cdf_rows(Config::Performance, &b));
        assert_eq!(rps_rows.positions, emd_rows.positions);
        let c = Config::Performance.num_logits();
        let sure = |classes: [usize; 2]| {
            let mut z = vec![0.0f32; 3 * c];
            for (row, k) in [0usize, 2].into_iter().zip(classes) {
                z[row * c + 256 + k] = 40.0;
            }
            Tensor::<2>::from_data(TensorData::new(z, [3, c]), &Device::flex())
        };
        for classes in [[49, 19], [39, 29], [0, 99]] {
            let z = sure(classes);
            let (a, r) = (
                expected_cost(&z, &emd_rows).unwrap().into_scalar::<f32>(),
                ranked_probability_score(&z, &rps_rows).unwrap().into_scalar::<f32>(),
            );
            assert!((a - r).abs() < 1e-4, "{classes:?}: emd {a} rps {r}");
        }
        // A context followed by 100 ms or 500 ms, half each. Expected score of predicting
        // p·δ(100) + (1−p)·δ(500) over that mixture of targets, in f64.
        let expected = |p: f64, rps: bool| {
            let pred = |j: usize| {
                if j >= 500 {
                    1.0
                } else if j >= 100 {
                    p
                } else {
                    0.0
                }
            };
            let mut tot = 0.0;
            for t in [100usize, 500] {
                let s: f64 = (10..=1000)
                    .step_by(10)
                    .map(|j| {
                        let d = pred(j) - if j >= t { 1.0 } else { 0.0 };
                        if rps {
                            d * d
                        } else {
                            d.abs()
                        }
                    })
                    .sum();
                tot += 0.5 * s / 100.0;
            }
            tot
        };
        let best = |rps: bool| {
            (0..=100)
                .map(|i| i as f64 / 100.0)
                .min_by(|&a, &b| expected(a, rps).partial_cmp(&expected(b, rps)).unwrap())
                .unwrap()
        };
        assert!((best(true) - 0.5).abs() < 1e-9, "RPS is lowest at the true 0.5, got {}", best(true));
        // The EMD is flat in p here (any split between the two is a median): it does not
        // reward the true distribution, and anything that tips it collapses the choice.
        assert!(
            (expected(0.0, false) - expected(1.0, false)).abs() < 1e-9
                && (expected(0.5, false) - expected(0.0, false)).abs() < 1e-9
        );
        // Gradient against central differences of the f64 score.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let z: Vec<f32> = (0..3 * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let f64_rps = |z: &[f32]| -> f64 {
            let mut tot = 0.0;
            for (i, &p) in rps_rows.positions.iter().enumerate() {
                let blk: Vec<f64> = (0..100).map(|k| z[p as usize * c + 256 + k] as f64).collect();
                let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
                let s: f64 = e.iter().sum();
                let mut cdf = 0.0;
                for k in 0..100 {
                    cdf += e[k] / s;
                    let d = cdf - rps_rows.costs[i * 100 + k] as f64;
                    tot += d * d / 10.0;
                }
            }
            tot / rps_rows.positions.len() as f64
        };
        let dev = Device::flex().autodiff();
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [3, c]), &dev).require_grad();
        let loss = ranked_probability_score(&zt, &rps_rows).unwrap();
        assert!((loss.clone().into_scalar::<f32>() as f64 - f64_rps(&z)).abs() < 1e-5);
        let g: Vec<f32> = zt.grad(&loss.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let eps = 1e-2f32;
        for i in (0..3 * c).filter(|i| i % c >= 250) {
            let (mut a, mut b) = (z.clone(), z.clone());
            a[i] += eps;
            b[i] -= eps;
            let num = (f64_rps(&a) - f64_rps(&b)) / (2.0 * eps as f64);
            assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
        }
        assert!(g[c..2 * c].iter().all(|&v| v == 0.0), "the NOTE_OFF target row has no rhythm gradient");
    }

    #[test]
    fn harmony_cost_prefers_the_key_and_consonance() {
        // C major context (C E G C E G …), then C and E sounding: the next note is scored.
        let mut evs = Vec::new();
        for _ in 0..4 {
            for p in [60u8, 64, 67, 65, 62, 71] {
                evs.extend([Event::NoteOn(p), Event::TimeShift(10), Event::NoteOff(p)]);
            }
        }
        evs.extend([Event::NoteOn(48), Event::NoteOn(52), Event::NoteOn(67)]);
        let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
        let rows = harmony_rows(Config::Performance, &b);
        let last = rows.positions.len() - 1;
        let cost = &rows.costs[last * 128..(last + 1) * 128];
        // Sounding C3, E3: G is consonant and in key, F# out of key, C# and F dissonant.
        assert!(cost[67] < cost[65] && cost[65] < cost[66], "G {} F {} F# {}", cost[67], cost[65], cost[66]);
        assert!(cost[61] > 0.7 && cost[67] < 0.15, "C# {} G {}", cost[61], cost[67]);
        // Nothing sounding: pure scale membership (C D E F G A B over MIDI 0..127: 75 pitches).
        assert_eq!(rows.costs[..128].iter().filter(|&&c| c == 0.0).count(), 75);
        assert!(rows.costs[..128].iter().all(|&c| c == 0.0 || c == 1.0));
    }

    /// The key loss marks the target's side of the scale, is lowest where the model's in-key
    /// share equals the music's (proper, where the tension cost wants all mass in the key),
    /// and its gradient matches central differences.
    #[test]
    fn key_loss_is_proper_and_its_gradient_is_right() {
        // C major context, then an in-key E and an out-of-key F#.
        let mut evs = Vec::new();
        for _ in 0..4 {
            for p in [60u8, 64, 67, 65, 62, 71] {
                evs.extend([Event::NoteOn(p), Event::TimeShift(10), Event::NoteOff(p)]);
            }
        }
        evs.extend([Event::NoteOn(64), Event::NoteOn(66)]);
        let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
        let rows = key_rows(Config::Performance, &b);
        assert_eq!(rows.positions, harmony_rows(Config::Performance, &b).positions);
        let n = rows.positions.len();
        let row = |i: usize| &rows.costs[i * 128..(i + 1) * 128];
        // The E's row holds the 75 pitches of C major, the F#'s the 53 outside it.
        assert!(row(n - 2)[64] == 1.0 && row(n - 2)[66] == 0.0 && row(n - 2).iter().sum::<f32>() == 75.0);
        assert!(row(n - 1)[66] == 1.0 && row(n - 1)[64] == 0.0 && row(n - 1).iter().sum::<f32>() == 53.0);
        // Proper: over the last two targets (one in, one out), the loss of a model whose
        // in-key share is s, spread evenly inside each side, is lowest at s = 1/2.
        let c = Config::Performance.num_logits();
        let last2 = CostRows {
            positions: rows.positions[n - 2..].to_vec(),
            costs: rows.costs[(n - 2) * 128..].to_vec(),
            ..rows.clone()
        };
        let at_share = |s: f64| {
            let mut z = vec![0.0f32; b.t * c];
            for &p in &last2.positions {
                for k in 0..128 {
                    let inside = row(n - 2)[k] == 1.0;
                    z[p as usize * c + k] = if inside { (s / 75.0).ln() } else { ((1.0 - s) / 53.0).ln() } as f32;
                }
            }
            let zt = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
            side_log_loss(&zt, &last2).unwrap().into_scalar::<f32>() as f64
        };
        let best = (1..100).map(|i| i as f64 / 100.0).min_by(|&a, &x| at_share(a).partial_cmp(&at_share(x)).unwrap());
        assert_eq!(best, Some(0.5));
        assert!((at_share(0.5) - std::f64::consts::LN_2).abs() < 1e-5);
        // Gradient against central differences of the f64 loss.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let z: Vec<f32> = (0..b.t * c).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let f64_loss = |z: &[f32]| -> f64 {
            let mut tot = 0.0;
            for (i, &p) in last2.positions.iter().enumerate() {
                let blk: Vec<f64> = (0..128).map(|k| z[p as usize * c + k] as f64).collect();
                let mx = blk.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = blk.iter().map(|v| (v - mx).exp()).collect();
                let inside: f64 = (0..128).map(|k| e[k] * last2.costs[i * 128 + k] as f64).sum();
                tot -= (inside / e.iter().sum::<f64>()).ln();
            }
            tot / 2.0
        };
        let dev = Device::flex().autodiff();
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [b.t, c]), &dev).require_grad();
        let loss = side_log_loss(&zt, &last2).unwrap();
        assert!((loss.clone().into_scalar::<f32>() as f64 - f64_loss(&z)).abs() < 1e-5);
        let g: Vec<f32> = zt.grad(&loss.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let eps = 1e-2f32;
        for &p in &last2.positions {
            for i in (p as usize * c..(p as usize + 1) * c).step_by(7) {
                let (mut a, mut x) = (z.clone(), z.clone());
                a[i] += eps;
                x[i] -= eps;
                let num = (f64_loss(&a) - f64_loss(&x)) / (2.0 * eps as f64);
                assert!((num - g[i] as f64).abs() < 1e-4, "logit {i}: autodiff {} vs numeric {num}", g[i]);
            }
        }
        assert!(g[..(last2.positions[0] as usize) * c].iter().all(|&v| v == 0.0), "earlier rows get no gradient");
    }

    /// The names the command line offers, `name`, `parse` and the serde names of
    /// `hparams.json` are one list.
    #[test]
    fn cost_names_agree_everywhere() {
        for (i, c) in RhythmCost::ALL.into_iter().enumerate() {
            assert_eq!((RhythmCost::NAMES[i], RhythmCost::parse(c.name())), (c.name(), Some(c)));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        for (i, c) in HarmonyCost::ALL.into_iter().enumerate() {
            assert_eq!((HarmonyCost::NAMES[i], HarmonyCost::parse(c.name())), (c.name(), Some(c)));
            assert_eq!(serde_json::to_value(c).unwrap(), c.name());
        }
        assert_eq!((RhythmCost::parse("l2"), HarmonyCost::parse("")), (None, None));
    }

    /// `elapsed` is the log loss of a partition of the shifts that depends on the history and
    /// the target alone (so it is proper); `ratio`'s set also depends on what comes after.
    #[test]
    fn elapsed_sets_partition_the_shifts_and_ratio_sets_read_ahead() {
        use Event::*;
        let set = |t: u32, after: &[Event], lookahead: bool| -> Vec<usize> {
            let mut evs = vec![NoteOn(60), TimeShift(40), NoteOn(62), TimeShift(30), NoteOn(64), TimeShift(t)];
            evs.extend_from_slice(after);
            let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
            let rows = ratio_rows(Config::Performance, &b, lookahead);
            let i = rows.positions.iter().position(|&p| p == 4).expect("a row for the last shift");
            (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect()
        };
        let sets: Vec<Vec<usize>> = (1..=100).map(|t| set(t, &[NoteOn(65)], false)).collect();
        for (t, s) in sets.iter().enumerate() {
            assert!(s.contains(&(t + 1)), "target {} outside its own set {s:?}", t + 1);
            for k in s {
                assert_eq!(&sets[k - 1], s, "shifts {} and {k} share a set but not their sets", t + 1);
            }
        }
        assert!(sets.iter().collect::<std::collections::HashSet<_>>().len() > 2);
        // The same target, a different future: elapsed keeps its set, ratio changes it.
        let later = [TimeShift(60), NoteOn(65)];
        assert_eq!(set(20, &[NoteOn(65)], false), set(20, &later, false));
        assert_ne!(set(20, &[NoteOn(65)], true), set(20, &later, true));
    }

    /// The ratio loss's sets: the shifts that would give the next inter-onset interval the
    /// target's simple ratio with the last one, counting time already waited and time still to
    /// wait after a NOTE_OFF.
    #[test]
    fn ratio_rows_hold_the_shifts_of_the_targets_ratio() {
        use Event::*;
        let evs = [
            NoteOn(60),
            TimeShift(50),
            NoteOn(62),
            TimeShift(50),
            NoteOn(64),
            TimeShift(25),
            NoteOn(65),
            TimeShift(50),
            NoteOn(67),
            TimeShift(30),
            NoteOff(67),
            TimeShift(20),
            NoteOn(69),
            NoteOn(72),
            TimeShift(20),
        ];
        let b = Batch::new(Config::Performance, &[ex(&evs)], vec![0]);
        let rows = ratio_rows(Config::Performance, &b, true);
        let members =
            |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
        // No ratio before two onsets (position 0), nor for the last shift, with no onset after
        // it; every other shift target has one.
        assert_eq!(rows.positions, vec![2, 4, 6, 8, 10]);
        // 50 after 50 is 1:1: the shifts 41..=61 give 50/(50+k) in [0.45, 0.55).
        assert_eq!(members(0), (41..=61).collect::<Vec<_>>());
        // 25 after 50 is 2:1: 21..=28 give 50/(50+k) in [19/30, 17/24).
        assert_eq!(members(1), (21..=28).collect::<Vec<_>>());
        // 50 after 25 is 1:2, a ratio of 1/3: 25/(25+k) in [7/24, 11/30) for k = 44..=60.
        assert_eq!(members(2), (44..=60).collect::<Vec<_>>());
        // A 30 shift, a NOTE_OFF, then 20 more before the onset: the interval is k + 20.
        assert_eq!(members(3), (21..=41).collect::<Vec<_>>());
        // The 20 after the NOTE_OFF: 30 already waited, so the interval is 30 + k.
        assert_eq!(members(4), (11..=31).collect::<Vec<_>>());
        // The loss prefers a model sure of a shift in the set to one sure of a shift outside.
        let c = Config::Performance.num_logits();
        let sure = |k: usize| {
            let mut z = vec![0.0f32; b.t * c];
            for &p in &rows.positions {
                z[p as usize * c + 256 + k - 1] = 30.0;
            }
            let z = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
            side_log_loss(&z, &rows).unwrap().into_scalar::<f32>()
        };
        assert!(sure(41) < sure(5), "{} {}", sure(41), sure(5));

        // Without lookahead the interval ends with the shift: the same sets wherever an onset
        // follows the shift at once, and a row for the last shift too.
        let rows = ratio_rows(Config::Performance, &b, false);
        let members =
            |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
        assert_eq!(rows.positions, vec![2, 4, 6, 8, 10, 13]);
        assert_eq!(members(0), (41..=61).collect::<Vec<_>>());
        assert_eq!(members(1), (21..=28).collect::<Vec<_>>());
        assert_eq!(members(2), (44..=60).collect::<Vec<_>>());
        // The 30 before the NOTE_OFF: 50/80 is near 3:2 (0.6), whose bin [0.55, 19/30) holds
        // 50/(50+k) for k = 29..=40.
        assert_eq!(members(3), (29..=40).collect::<Vec<_>>());
        assert_eq!(members(4), (11..=31).collect::<Vec<_>>());
        // The last 20 after an interval of 50 (the chord at 225 is one onset): 50/70 lies in
        // [17/24, 0.775), which holds 50/(50+k) for k = 15..=20.
        assert_eq!(members(5), (15..=20).collect::<Vec<_>>());
    }

    /// A score at 120 qpm (16ths of 12.5 steps, rounded): the grid rows hold the shifts that
    /// land a whole number of 16ths after the last onset, the sets partition the shifts by the
    /// target alone, and a row with rubato has no grid and no rows.
    #[test]
    fn grid_rows_hold_the_shifts_that_land_on_the_examples_grid() {
        use Event::*;
        // Onsets at rounded multiples of 12.5 steps: 16ths, 8ths and a dotted 8th.
        let sixteenths = [1u32, 1, 2, 1, 1, 2, 3, 1, 2, 2, 1, 1, 2];
        let score = |jitter: &[i64]| -> Vec<Event> {
            let mut evs = vec![NoteOn(60)];
            let (mut pos, mut prev) = (0u32, 0i64);
            for (i, &d) in sixteenths.iter().enumerate() {
                pos += d;
                let at = (pos as f64 * 12.5).round() as i64 + jitter[i % jitter.len()];
                evs.push(TimeShift((at - prev) as u32));
                evs.push(NoteOn(60 + (i % 5) as u8));
                prev = at;
            }
            evs.push(TimeShift(20));
            evs
        };
        let on = |d: usize| cadenza_performance::rhythm::on_grid(d as f64, 12.5);
        let b = Batch::new(Config::Performance, &[ex(&score(&[0]))], vec![0]);
        let rows = grid_rows(Config::Performance, &b);
        // Every shift has a row (each follows an onset), the trailing 20 too.
        assert_eq!(rows.positions, (0..=sixteenths.len() as i64).map(|i| 2 * i).collect::<Vec<_>>());
        let members =
            |i: usize| -> Vec<usize> { (0..100).filter(|&k| rows.costs[i * 100 + k] == 1.0).map(|k| k + 1).collect() };
        // The first shift (12 or 13 steps, one 16th) is on the grid: the set is the shifts a
        // whole number of 16ths long, within a step.
        let on_set: Vec<usize> = (1..=100).filter(|&k| on(k)).collect();
        assert_eq!(members(0), on_set);
        assert!(on_set.starts_with(&[12, 13, 24, 25, 26, 37]) && on_set.len() < 30, "{on_set:?}");
        // The trailing 20 steps after the last onset is off the grid: its set is the rest.
        let last = rows.positions.len() - 1;
        assert_eq!(members(last), (1..=100).filter(|&k| !on(k)).collect::<Vec<_>>());
        // The loss prefers a model sure of a shift on the grid to one sure of an off-grid one.
        let c = Config::Performance.num_logits();
        let sure = |k: usize| {
            let mut z = vec![0.0f32; b.t * c];
            for &p in &rows.positions[..last] {
                z[p as usize * c + 256 + k - 1] = 30.0;
            }
            let z = Tensor::<2>::from_data(TensorData::new(z, [b.t, c]), &Device::flex());
            let only_on = CostRows {
                positions: rows.positions[..last].to_vec(),
                costs: rows.costs[..last * 100].to_vec(),
                ..rows.clone()
            };
            side_log_loss(&z, &only_on).unwrap().into_scalar::<f32>()
        };
        assert!(sure(25) < 1e-3 && sure(19) > 5.0, "{} {}", sure(25), sure(19));
        // A played version, every onset 3–4 steps (30–40 ms) early or late: no grid, no rows.
        let b = Batch::new(Config::Performance, &[ex(&score(&[3, -4, 4, -3, 3]))], vec![0]);
        assert!(grid_rows(Config::Performance, &b).positions.is_empty());
    }

    #[test]
    fn shift_error_counts_only_shift_targets() {
        let e = ex(&[Event::NoteOn(60), Event::TimeShift(50), Event::NoteOff(60), Event::TimeShift(20)]);
        let b = Batch::new(Config::Performance, &[e], vec![0]);
        let c = Config::Performance.num_logits();
        let mut logits = vec![0.0f32; 3 * c];
        logits[256 + 39] = 50.0; // predicts 400 ms where 500 ms follows
        logits[2 * c + 256 + 19] = 50.0; // exact
        let mut s = ShiftErrorSum::default();
        s.add(Config::Performance, &b, &logits);
        let r = s.finish();
        assert_eq!(r.positions, 2);
        assert!((r.argmax - 5.0).abs() < 1e-9 && (r.expected - 5.0).abs() < 1e-6, "{r:?}");
    }
}
