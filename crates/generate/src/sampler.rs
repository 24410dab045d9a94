//! Batched ancestral sampling and Magenta's beam search over one [`Stepper`].
//!
//! Rows of the batch are grouped by output: output `g` owns `beam_size · branch_factor`
//! consecutive rows (one row for plain sampling), so `num_outputs` samples, or beams, cost
//! one batched step each. Invariant of the loop: the model state of every row has consumed
//! all but the last event of that row; the last one is fed at the next step, whose logits give
//! the distribution of the event after it. That makes a beam copy a state copy plus an event
//! list copy.

use crate::decoding::{mix_note_ends, Decoding, Sounding};
use crate::options::{ControlPlan, GenerateError, GenerateOptions, NoteEvents};
use crate::primer::{primer_performance, primer_sequence, PrimerPerformance};
use cadenza_model::{Stepper, Weights};
use cadenza_notes::NoteSequence;
use cadenza_performance::{Performance, Token, STEPS_PER_SECOND};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One generated performance.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Primer included, cut to exactly the requested span with `set_length`:
    /// `start_step + num_steps() == num_steps` requested (start_step is 1 for the empty
    /// primer, as Magenta's, and 0 otherwise).
    pub performance: Performance,
    /// Class indices of `performance.events`.
    pub tokens: Vec<Token>,
    /// Every event as drawn, before `set_length` trimmed the end (primer included): the
    /// events `log_likelihood` scores.
    pub drawn_tokens: Vec<Token>,
    /// Decoded notes (velocity 100 before any VELOCITY event, notes capped at 5 s).
    pub sequence: NoteSequence,
    /// Sum of log p of every event after the first, primer included, under the tempered
    /// distribution, over all the events the sampler drew (a few past the end are trimmed by
    /// `set_length`): Magenta's beam-search score.
    pub log_likelihood: f64,
    /// Events of the primer performance (after its padding to the generate start).
    pub primer_events: usize,
    /// Scores of every beam entry at the end of the last beam-search pass, best first (its
    /// first value is `log_likelihood`); one value for plain sampling.
    pub beam_scores: Vec<f64>,
    /// Seed of this sample's random stream (`seed + output index`).
    pub seed: u64,
}

/// Samples and the warnings the request gave (controls the model ignores, defaults used).
#[derive(Debug, Clone)]
pub struct Generated {
    pub samples: Vec<Sample>,
    pub warnings: Vec<String>,
}

/// Validates the options against the model; returns the warnings Magenta would log.
pub fn check_options(weights: &Weights, opts: &GenerateOptions) -> Result<Vec<String>, GenerateError> {
    opts.validate()?;
    let config = weights.config.config;
    weights.check("model").map_err(|e| GenerateError::Model(e.to_string()))?;
    if config.is_note_encoding() {
        return Err(GenerateError::Model(format!(
            "config {}: generation is not supported for the note-based encoding (Magenta's own generator cannot extend a note performance either)",
            config.key()
        )));
    }
    if weights.config.num_logits() != config.one_hot().num_classes()
        || weights.config.input_size() != config.control_size() + config.event_feature_size()
    {
        return Err(GenerateError::Model(format!("the weights' shapes do not match config {}", config.key())));
    }
    let mut warnings = Vec::new();
    ControlPlan::new(config, &opts.controls, &mut warnings)?;
    Ok(warnings)
}

/// [`generate_report`]'s samples alone (its warnings, Magenta's log lines, are dropped: take
/// them from `generate_report` to show them).
pub fn generate(weights: &Weights, opts: &GenerateOptions, progress: bool) -> Result<Vec<Sample>, GenerateError> {
    Ok(generate_report(weights, opts, progress)?.samples)
}

/// Generates `opts.num_outputs` samples as one batch.
pub fn generate_report(weights: &Weights, opts: &GenerateOptions, progress: bool) -> Result<Generated, GenerateError> {
    let _ = check_options(weights, opts)?;
    let config = weights.config.config;
    let mut warnings = Vec::new();
    let plan = ControlPlan::new(config, &opts.controls, &mut warnings)?;
    let seq = primer_sequence(&opts.primer, opts.primer_seconds)?;
    let primer = primer_performance(&seq, config, opts.num_steps)?;
    let primer_tokens = config.tokens(&primer.performance).ok_or_else(|| {
        GenerateError::Model(format!("the primer has an event outside config {}'s vocabulary", config.key()))
    })?;
    let results = run_batch(weights, opts, &plan, &primer, &primer_tokens, progress);
    let oh = config.one_hot();
    let samples = results
        .into_iter()
        .enumerate()
        .map(|(g, r)| {
            let mut performance = primer.performance.clone();
            performance.events =
                r.tokens.iter().map(|&t| oh.decode(t as usize).expect("sampled class in vocabulary")).collect();
            performance.set_length(primer.total_steps);
            let tokens = config.tokens(&performance).expect("events from the vocabulary");
            let sequence = performance.to_sequence(100, 0, None, Some(opts.max_note_duration));
            Sample {
                performance,
                tokens,
                drawn_tokens: r.tokens,
                sequence,
                log_likelihood: r.score,
                primer_events: primer_tokens.len(),
                beam_scores: r.beam_scores,
                seed: opts.seed.wrapping_add(g as u64),
            }
        })
        .collect();
    Ok(Generated { samples, warnings })
}

struct GroupResult {
    tokens: Vec<Token>,
    score: f64,
    beam_scores: Vec<f64>,
}

struct Row {
    tokens: Vec<Token>,
    steps: i64,
    score: f64,
    /// Control segments of the row's current control input, to re-encode only on change.
    ctrl: Option<(usize, usize, usize)>,
    /// Notes sounding after `tokens`: open count and onset per pitch ([`NoteEvents::Paired`]
    /// and the decoding need them).
    sounding: Sounding,
}

struct Group {
    rng: ChaCha8Rng,
    /// Events left in the current beam-search pass and iteration.
    pass_left: usize,
    iter_left: usize,
    result: Option<GroupResult>,
}

/// Magenta's estimate of the events needed for `remaining` steps: 4 events per note at the
/// mean requested density (at least 1 note/s).
fn events_for(remaining: i64, mean_density: f64) -> usize {
    let d = mean_density.max(1.0);
    ((4.0 * d * remaining as f64 / STEPS_PER_SECOND as f64).ceil() as usize).max(1)
}

/// Draws one class from `softmax(logits / T)` with the uniform `u`; returns it with its
/// tempered log-probability. No softmax copy: one pass for the maximum, one filling the
/// running sum (kept in `cum`), a binary search.
fn draw(logits: &[f32], inv_t: f64, u: f64, cum: &mut Vec<f64>) -> (usize, f64) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64 * inv_t;
    cum.clear();
    let mut sum = 0.0f64;
    for &l in logits {
        sum += (l as f64 * inv_t - max).exp();
        cum.push(sum);
    }
    let target = u * sum;
    let idx = cum.partition_point(|&c| c <= target).min(logits.len() - 1);
    (idx, logits[idx] as f64 * inv_t - max - sum.ln())
}

/// What [`NoteEvents::Paired`] and the decoding need per class: the pitch a class turns on or
/// off, its event, and each pitch's NOTE_OFF class.
struct Pairing {
    on: Vec<Option<u8>>,
    off: Vec<Option<u8>>,
    events: Vec<Option<cadenza_performance::Event>>,
    off_class: [usize; 128],
}

impl Pairing {
    fn new(oh: &cadenza_performance::OneHot, c: usize) -> Self {
        use cadenza_performance::Event;
        let ev: Vec<Option<Event>> = (0..c).map(|k| oh.decode(k)).collect();
        let mut off_class = [0usize; 128];
        for (p, k) in off_class.iter_mut().enumerate() {
            *k = oh.encode(&Event::NoteOff(p as u8)).unwrap_or(0);
        }
        Pairing {
            on: ev.iter().map(|e| if let Some(Event::NoteOn(p)) = e { Some(*p) } else { None }).collect(),
            off: ev.iter().map(|e| if let Some(Event::NoteOff(p)) = e { Some(*p) } else { None }).collect(),
            events: ev,
            off_class,
        }
    }

    /// The notes sounding after `tokens`, which start at step 0.
    fn sounding_after(&self, tokens: &[Token], shift_of: &[i64]) -> Sounding {
        let mut s = Sounding::default();
        let mut now = 0;
        for &t in tokens {
            s.push(self.events[t as usize], now);
            now += shift_of[t as usize];
        }
        s
    }

    /// For a NOTE_ON (kind 0) or NOTE_OFF (kind 1) class: its kind and whether the pairing
    /// allows it now; `None` for every other class.
    fn allowed(&self, k: usize, open: &[u16; 128]) -> Option<(usize, bool)> {
        if let Some(p) = self.on[k] {
            Some((0, open[p as usize & 127] == 0))
        } else {
            self.off[k].map(|p| (1, open[p as usize & 127] > 0))
        }
    }

    /// Each kind's factor that gives its whole mass to its allowed pitches (all / allowed; 0
    /// when none is allowed), from every class's unscaled `weights`.
    fn scales(&self, weights: &[f64], open: &[u16; 128]) -> [f64; 2] {
        let mut mass = [[0.0f64; 2]; 2];
        for (k, &w) in weights.iter().enumerate() {
            if let Some((kind, ok)) = self.allowed(k, open) {
                mass[kind][0] += w;
                if ok {
                    mass[kind][1] += w;
                }
            }
        }
        mass.map(|[all, ok]| if ok > 0.0 { all / ok } else { 0.0 })
    }

    /// Class `k`'s weight under the pairing, from its unscaled weight `w` and the [`scales`].
    ///
    /// [`scales`]: Pairing::scales
    fn paired(&self, k: usize, w: f64, scale: &[f64; 2], open: &[u16; 128]) -> f64 {
        match self.allowed(k, open) {
            Some((kind, true)) => w * scale[kind],
            Some((_, false)) => 0.0,
            None => w,
        }
    }
}

/// [`draw`] under [`NoteEvents::Paired`]: a NOTE_OFF of a silent pitch and a NOTE_ON of a
/// sounding one get weight 0; the mass of each kind goes to that kind's allowed pitches in
/// proportion to their own (to nothing when none is allowed: renormalised).
fn draw_paired(
    logits: &[f32],
    inv_t: f64,
    u: f64,
    cum: &mut Vec<f64>,
    pairing: &Pairing,
    open: &[u16; 128],
) -> (usize, f64) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64 * inv_t;
    // One exp per class: `cum` first holds each class's unscaled weight.
    cum.clear();
    cum.extend(logits.iter().map(|&l| (l as f64 * inv_t - max).exp()));
    let scale = pairing.scales(cum, open);
    let weight = |k: usize, l: f32| pairing.paired(k, (l as f64 * inv_t - max).exp(), &scale, open);
    // Then the running sum of the scaled weights.
    let mut sum = 0.0f64;
    for (k, c) in cum.iter_mut().enumerate() {
        sum += pairing.paired(k, *c, &scale, open);
        *c = sum;
    }
    let target = u * sum;
    let mut idx = cum.partition_point(|&c| c <= target).min(logits.len() - 1);
    // A zero-weight class can only be hit at the top end through rounding; step back to the
    // last class that has weight.
    while idx > 0 && weight(idx, logits[idx]) == 0.0 {
        idx -= 1;
    }
    (idx, (weight(idx, logits[idx]) / sum).ln())
}

/// A draw under the decoding: the tempered distribution (paired when `paired`), with the
/// note-end chances mixed into each sounding note's NOTE_OFF ([`mix_note_ends`]).
#[allow(clippy::too_many_arguments)]
fn draw_decoded(
    logits: &[f32],
    inv_t: f64,
    u: f64,
    probs: &mut Vec<f64>,
    pairing: &Pairing,
    paired: bool,
    s: &Sounding,
    now: i64,
    d: &Decoding,
) -> (usize, f64) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64 * inv_t;
    probs.clear();
    probs.extend(logits.iter().map(|&l| (l as f64 * inv_t - max).exp()));
    if paired {
        let scale = pairing.scales(probs, &s.open);
        for (k, w) in probs.iter_mut().enumerate() {
            *w = pairing.paired(k, *w, &scale, &s.open);
        }
    }
    let sum: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|w| *w /= sum);
    mix_note_ends(probs, d, s, now, &pairing.off_class);
    let mut acc = 0.0;
    let mut idx = probs.len() - 1;
    for (k, &q) in probs.iter().enumerate() {
        acc += q;
        if u < acc && q > 0.0 {
            idx = k;
            break;
        }
    }
    while idx > 0 && probs[idx] == 0.0 {
        idx -= 1;
    }
    (idx, probs[idx].ln())
}

/// Tempered log p of class `k` (the primer's scores).
fn log_prob(logits: &[f32], inv_t: f64, k: usize) -> f64 {
    let max = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64 * inv_t;
    let sum: f64 = logits.iter().map(|&l| (l as f64 * inv_t - max).exp()).sum();
    logits[k] as f64 * inv_t - max - sum.ln()
}

/// The fixed facts of one batched run: the classes' time shifts, the span and the beam shape.
struct Batch<'a> {
    opts: &'a GenerateOptions,
    plan: &'a ControlPlan,
    config: cadenza_performance::Config,
    /// Classes (logits per row).
    c: usize,
    /// Time steps each class moves on.
    shift_of: Vec<i64>,
    /// Steps of the whole performance, primer included.
    total: i64,
    /// Steps the primer covers.
    primer_steps: i64,
    /// Rows per output: `beam_size · branch_factor`.
    w: usize,
    inv_t: f64,
    pairing: Pairing,
}

/// What each batched step reuses: the fed events, the control inputs, the draws.
struct Buffers {
    feed: Vec<Token>,
    /// One control input per row (empty when the model is not conditioned).
    ctrl_rows: Vec<Vec<f32>>,
    drawn: Vec<(usize, f64)>,
    active: Vec<bool>,
    cum: Vec<f64>,
}

fn run_batch(
    weights: &Weights,
    opts: &GenerateOptions,
    plan: &ControlPlan,
    primer: &PrimerPerformance,
    primer_tokens: &[Token],
    progress: bool,
) -> Vec<GroupResult> {
    let b = Batch::new(weights, opts, plan, primer, primer_tokens);
    let mut groups: Vec<Group> = (0..opts.num_outputs)
        .map(|g| Group {
            rng: ChaCha8Rng::seed_from_u64(opts.seed.wrapping_add(g as u64)),
            pass_left: 0,
            iter_left: 0,
            result: None,
        })
        .collect();
    if b.primer_steps >= b.total || primer_tokens.is_empty() {
        // Nothing to generate: the primer already fills the span.
        return groups
            .iter()
            .map(|_| GroupResult { tokens: primer_tokens.to_vec(), score: 0.0, beam_scores: vec![0.0] })
            .collect();
    }

    let batch = opts.num_outputs * b.w;
    let mut stepper = Stepper::new(weights, batch);
    let mut bufs = Buffers {
        feed: vec![0; batch],
        ctrl_rows: if plan.conditioned { vec![Vec::new(); batch] } else { Vec::new() },
        drawn: vec![(0, 0.0); batch],
        active: vec![true; batch],
        cum: Vec::with_capacity(b.c),
    };
    let primer_score = b.feed_primer(&mut stepper, &mut bufs, primer_tokens);
    let mut rows: Vec<Row> = (0..batch)
        .map(|_| Row {
            tokens: primer_tokens.to_vec(),
            steps: b.primer_steps,
            score: primer_score,
            ctrl: None,
            sounding: b.pairing.sounding_after(primer_tokens, &b.shift_of),
        })
        .collect();
    for g in &mut groups {
        b.start_pass(g, b.primer_steps);
    }

    let span = (b.total - b.primer_steps).max(1) as u64;
    let pb = progress_bar(progress, span, opts.num_outputs, b.w);
    while groups.iter().any(|g| g.result.is_none()) {
        b.draw_step(&mut stepper, &mut rows, &mut groups, &mut bufs);
        for (g, group) in groups.iter_mut().enumerate() {
            if group.result.is_none() {
                b.advance(&mut stepper, &mut rows, g, group, &bufs.drawn);
            }
        }
        let pos = b.position(&groups, &rows, span);
        if pos != pb.position() {
            pb.set_position(pos);
        }
    }
    pb.finish_and_clear();
    groups.into_iter().map(|g| g.result.expect("every group finished")).collect()
}

/// A bar over the generated steps, or a hidden one.
fn progress_bar(progress: bool, span: u64, outputs: usize, w: usize) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(span);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} steps ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(format!("generating {} × {} rows", outputs, w));
    pb
}

impl<'a> Batch<'a> {
    fn new(
        weights: &Weights,
        opts: &'a GenerateOptions,
        plan: &'a ControlPlan,
        primer: &PrimerPerformance,
        primer_tokens: &[Token],
    ) -> Self {
        let config = weights.config.config;
        let oh = config.one_hot();
        let c = weights.config.num_logits();
        let shift_of: Vec<i64> = (0..c).map(|k| oh.steps_of(k) as i64).collect();
        let primer_steps: i64 = primer_tokens.iter().map(|&t| shift_of[t as usize]).sum();
        Batch {
            opts,
            plan,
            config,
            c,
            shift_of,
            total: primer.total_steps,
            primer_steps,
            w: opts.beam_size * opts.branch_factor,
            inv_t: 1.0 / opts.temperature,
            pairing: Pairing::new(&oh, c),
        }
    }

    /// Sets up a beam-search pass for an output whose best entry is at `steps`.
    fn start_pass(&self, group: &mut Group, steps: i64) {
        let n = events_for(self.total - steps, self.plan.mean_density);
        group.pass_left = n;
        group.iter_left = (n - 1) % self.opts.steps_per_iteration + 1;
    }

    /// Feeds the primer (all but its last event) to every row from the zero state; returns
    /// its score.
    fn feed_primer(&self, stepper: &mut Stepper, bufs: &mut Buffers, primer_tokens: &[Token]) -> f64 {
        let conditioned = self.plan.conditioned;
        let mut primer_score = 0.0f64;
        let mut steps = 0i64;
        let mut ctrl_cache = None;
        for i in 0..primer_tokens.len() - 1 {
            steps += self.shift_of[primer_tokens[i] as usize];
            bufs.feed.iter_mut().for_each(|f| *f = primer_tokens[i]);
            if conditioned {
                let idx = self.plan.index(steps, self.total);
                if ctrl_cache != Some(idx) {
                    let row = self.config.encode_controls(&self.plan.values(idx));
                    bufs.ctrl_rows.iter_mut().for_each(|r| r.clone_from(&row));
                    ctrl_cache = Some(idx);
                }
            }
            let refs: Vec<&[Token]> = bufs.feed.chunks(1).collect();
            let logits = stepper.step(&refs, if conditioned { Some(&bufs.ctrl_rows[..]) } else { None });
            primer_score += log_prob(&logits[..self.c], self.inv_t, primer_tokens[i + 1] as usize);
        }
        primer_score
    }

    /// One batched step: feeds each row's last event, with the control input for the time
    /// step after it (`_extend_control_events`), and draws the next event of every row of an
    /// unfinished output into `bufs.drawn`.
    fn draw_step(&self, stepper: &mut Stepper, rows: &mut [Row], groups: &mut [Group], bufs: &mut Buffers) {
        let (w, c) = (self.w, self.c);
        for (r, row) in rows.iter().enumerate() {
            bufs.feed[r] = *row.tokens.last().expect("rows are never empty");
        }
        if self.plan.conditioned {
            for (r, row) in rows.iter_mut().enumerate() {
                let idx = self.plan.index(row.steps, self.total);
                if row.ctrl != Some(idx) {
                    bufs.ctrl_rows[r] = self.config.encode_controls(&self.plan.values(idx));
                    row.ctrl = Some(idx);
                }
            }
        }
        let refs: Vec<&[Token]> = bufs.feed.chunks(1).collect();
        // Finished outputs sit the step out (their rows' state and logits are not used).
        for (g, group) in groups.iter().enumerate() {
            bufs.active[g * w..(g + 1) * w].iter_mut().for_each(|a| *a = group.result.is_none());
        }
        let controls = if self.plan.conditioned { Some(&bufs.ctrl_rows[..]) } else { None };
        let logits = stepper.step_active(&refs, controls, Some(&bufs.active));
        for (g, group) in groups.iter_mut().enumerate() {
            if group.result.is_some() {
                continue;
            }
            for r in g * w..(g + 1) * w {
                let u: f64 = group.rng.gen();
                let l = &logits[r * c..(r + 1) * c];
                let (s, paired) = (&rows[r].sounding, self.opts.note_events == NoteEvents::Paired);
                bufs.drawn[r] = match &self.opts.decoding {
                    Some(d) => {
                        draw_decoded(l, self.inv_t, u, &mut bufs.cum, &self.pairing, paired, s, rows[r].steps, d)
                    }
                    None if paired => draw_paired(l, self.inv_t, u, &mut bufs.cum, &self.pairing, &s.open),
                    None => draw(l, self.inv_t, u, &mut bufs.cum),
                };
            }
        }
    }

    /// Appends the drawn events to output `g`'s rows and moves its search on: plain sampling
    /// stops at the end of the span; beam search prunes and branches at the end of each
    /// iteration and keeps the best entry at the end of each pass.
    fn advance(&self, stepper: &mut Stepper, rows: &mut [Row], g: usize, group: &mut Group, drawn: &[(usize, f64)]) {
        let rs = g * self.w..(g + 1) * self.w;
        for r in rs.clone() {
            let (k, lp) = drawn[r];
            let row = &mut rows[r];
            row.tokens.push(k as Token);
            row.sounding.push(self.pairing.events[k], row.steps);
            row.steps += self.shift_of[k];
            row.score += lp;
        }
        group.pass_left -= 1;
        if self.w == 1 {
            // Plain sampling: what lies past the end is trimmed anyway, so stop there.
            let row = &rows[rs.start];
            if row.steps >= self.total {
                group.result =
                    Some(GroupResult { tokens: row.tokens.clone(), score: row.score, beam_scores: vec![row.score] });
            } else if group.pass_left == 0 {
                group.pass_left = events_for(self.total - row.steps, self.plan.mean_density);
            }
            return;
        }
        group.iter_left -= 1;
        if group.iter_left > 0 {
            return;
        }
        let order = ranked(&rows[rs.clone()]);
        if group.pass_left == 0 {
            self.end_pass(stepper, rows, rs, &order, group);
        } else {
            // Prune to the best beam_size entries, then branch each branch_factor times:
            // the kept entries stay in their rows, copies fill the others.
            let keep: Vec<usize> = order[..self.opts.beam_size].iter().map(|&i| rs.start + i).collect();
            let free: Vec<usize> = rs.clone().filter(|r| !keep.contains(r)).collect();
            let mut f = free.into_iter();
            for _ in 1..self.opts.branch_factor {
                for &src in &keep {
                    let dst = f.next().expect("beam_size · (branch_factor − 1) free rows");
                    copy_row(stepper, rows, src, dst);
                }
            }
            group.iter_left = self.opts.steps_per_iteration;
        }
    }

    /// End of a pass (one `_generate_events` call) over the rows `rs`, ranked by `order`:
    /// keeps the best entry as the result when it is long enough, else starts a new pass
    /// from copies of it.
    fn end_pass(
        &self,
        stepper: &mut Stepper,
        rows: &mut [Row],
        rs: std::ops::Range<usize>,
        order: &[usize],
        group: &mut Group,
    ) {
        let best = rs.start + order[0];
        let scores: Vec<f64> = order.iter().map(|&i| rows[rs.start + i].score).collect();
        if rows[best].steps >= self.total {
            group.result =
                Some(GroupResult { tokens: rows[best].tokens.clone(), score: rows[best].score, beam_scores: scores });
            return;
        }
        for r in rs {
            if r != best {
                copy_row(stepper, rows, best, r);
            }
        }
        self.start_pass(group, rows[best].steps);
    }

    /// Generated steps of the output furthest behind (the progress bar's position).
    fn position(&self, groups: &[Group], rows: &[Row], span: u64) -> u64 {
        groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                if group.result.is_some() {
                    span
                } else {
                    let s = rows[g * self.w..(g + 1) * self.w].iter().map(|r| r.steps).max().unwrap_or(0);
                    (s - self.primer_steps).clamp(0, span as i64) as u64
                }
            })
            .min()
            .unwrap_or(span)
    }
}

/// Indices of `rows` by score, best first; ties keep row order (`heapq.nlargest`).
fn ranked(rows: &[Row]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[b].score.partial_cmp(&rows[a].score).unwrap_or(std::cmp::Ordering::Equal));
    order
}

fn copy_row(stepper: &mut Stepper, rows: &mut [Row], from: usize, to: usize) {
    stepper.copy_row(from, to);
    let (tokens, steps, score, sounding) =
        (rows[from].tokens.clone(), rows[from].steps, rows[from].score, rows[from].sounding);
    let dst = &mut rows[to];
    dst.sounding = sounding;
    dst.tokens = tokens;
    dst.steps = steps;
    dst.score = score;
    // The control input is re-encoded from the copied steps at the next step.
    dst.ctrl = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_follows_the_tempered_distribution() {
        let logits = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let mut cum = Vec::new();
        // p = [0.25, 0.75, 0]
        assert_eq!(draw(&logits, 1.0, 0.1, &mut cum).0, 0);
        assert_eq!(draw(&logits, 1.0, 0.3, &mut cum).0, 1);
        assert_eq!(draw(&logits, 1.0, 0.999999, &mut cum).0, 1);
        let (_, lp) = draw(&logits, 1.0, 0.5, &mut cum);
        assert!((lp - 0.75f64.ln()).abs() < 1e-6);
        // T = 0.5 squares the odds: p = [0.1, 0.9, 0]
        let (k, lp) = draw(&logits, 2.0, 0.05, &mut cum);
        assert_eq!(k, 0);
        assert!((lp - 0.1f64.ln()).abs() < 1e-6);
        assert!((log_prob(&logits, 2.0, 1) - 0.9f64.ln()).abs() < 1e-6);
    }

    /// Classes: NOTE_ON 60, NOTE_ON 61, NOTE_OFF 60, NOTE_OFF 61, a shift of 10 ms.
    fn five_classes() -> Pairing {
        use cadenza_performance::Event;
        let mut off_class = [4usize; 128];
        off_class[60] = 2;
        off_class[61] = 3;
        Pairing {
            on: vec![Some(60), Some(61), None, None, None],
            off: vec![None, None, Some(60), Some(61), None],
            events: vec![
                Some(Event::NoteOn(60)),
                Some(Event::NoteOn(61)),
                Some(Event::NoteOff(60)),
                Some(Event::NoteOff(61)),
                Some(Event::TimeShift(1)),
            ],
            off_class,
        }
    }

    #[test]
    fn decoded_draw_mixes_the_note_end_chance_into_the_paired_one() {
        use crate::decoding::{Decoding, NoteEnds};
        use cadenza_performance::Config;
        // A note-end model from a real ASAP performance's encoding.
        let perf = cadenza_shared::require("data/asap/Bach/Fugue/bwv_846/Shi05M.mid");
        let seq = cadenza_midi::read_file(&perf).expect("ASAP performance");
        let cfg = Config::PerformanceWithDynamics;
        let p = cadenza_performance::pipeline::primer_performance(&seq, cfg).unwrap();
        let tokens = cfg.tokens(&p).unwrap();
        let ends = NoteEnds::fit(cfg, vec![tokens], "bwv_846").unwrap();
        let pairing = five_classes();
        let mut s = Sounding::default();
        s.push(Some(cadenza_performance::Event::NoteOn(60)), 0);
        let logits = [0.0f32; 5];
        let mut probs = Vec::new();
        let mut cum = Vec::new();
        let h = ends.hazard(150, 60, 1);
        for (w, expect_off) in [(0.0, 0.4), (0.5, 0.2 + 0.5 * h), (1.0, h)] {
            let d = Decoding::new(ends.clone(), w).unwrap();
            // u just below the NOTE_OFF 60's upper edge draws it, with its mixed probability.
            let (k, lp) = draw_decoded(&logits, 1.0, 0.0, &mut probs, &pairing, true, &s, 150, &d);
            assert_eq!(k, 1, "weight {w}: NOTE_ON 61 first");
            let off = probs[2];
            assert!((off - expect_off).abs() < 1e-12, "weight {w}: {off} against {expect_off}");
            assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!((lp - probs[1].ln()).abs() < 1e-12);
            // The paired draw with weight 0 is the plain paired distribution.
            if w == 0.0 {
                let (k0, lp0) = draw_paired(&logits, 1.0, 0.0, &mut cum, &pairing, &s.open);
                assert_eq!((k0, (lp0 - lp).abs() < 1e-12), (k, true));
            }
        }
    }

    #[test]
    fn paired_draw_gives_each_kind_its_mass_on_the_allowed_pitches() {
        // Classes: NOTE_ON 60, NOTE_ON 61, NOTE_OFF 60, NOTE_OFF 61, a shift; 60 sounds.
        let pairing = five_classes();
        let mut open = [0u16; 128];
        open[60] = 1;
        let logits = [0.0f32; 5];
        let mut cum = Vec::new();
        // Unconstrained p = 0.2 each; paired: ON 61 gets both ONs' 0.4, OFF 60 both OFFs' 0.4.
        let expect = [0.0, 0.4, 0.4, 0.0, 0.2];
        let mut counts = [0usize; 5];
        let n = 10_000;
        for i in 0..n {
            let (k, lp) = draw_paired(&logits, 1.0, (i as f64 + 0.5) / n as f64, &mut cum, &pairing, &open);
            assert!((lp - f64::ln(expect[k])).abs() < 1e-12, "class {k}: log p {lp}");
            counts[k] += 1;
        }
        for k in 0..5 {
            assert!((counts[k] as f64 / n as f64 - expect[k]).abs() < 1e-3, "class {k}: {counts:?}");
        }
        // Nothing sounding: no NOTE_OFF at all, the rest renormalised (ONs keep 0.4 of 0.6).
        let silent = [0u16; 128];
        let (k, lp) = draw_paired(&logits, 1.0, 0.999_999, &mut cum, &pairing, &silent);
        assert_eq!(k, 4);
        assert!((lp - f64::ln(0.2 / 0.6)).abs() < 1e-12);
        let (k, lp) = draw_paired(&logits, 1.0, 0.1, &mut cum, &pairing, &silent);
        assert_eq!(k, 0);
        assert!((lp - f64::ln(0.2 / 0.6)).abs() < 1e-12);
    }

    #[test]
    fn events_estimate_matches_magenta() {
        // ceil(4 · 15 · 5999 / 100)
        assert_eq!(events_for(5999, 15.0), 3600);
        assert_eq!(events_for(100, 0.2), 4);
    }
}
