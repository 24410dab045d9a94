//! Which positions of a batch each loss looks at, and their cost rows: the events of each
//! example are followed (sounding notes, onsets, the key, the metrical grid) to say, for
//! every candidate class, what it would cost.

use super::*;

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
pub(super) fn row_tokens(batch: &Batch, r: usize) -> impl Iterator<Item = (usize, u16, u16)> + '_ {
    (0..batch.t)
        .map(move |t| t * batch.b + r)
        .filter(move |&at| batch.mask[at] > 0.0)
        .map(move |at| (at, batch.inputs[at], batch.labels[at]))
}

/// One row of a batch with its events decoded once: `toks[i]` is position `i`'s (flat position,
/// input, label), `events[0]` the row's first input and `events[i + 1]` the label at position
/// `i`, and `time[j]` the time (10 ms steps) after event `j`.
pub(super) struct RowEvents {
    toks: Vec<(usize, u16, u16)>,
    events: Vec<Option<Event>>,
    time: Vec<u64>,
}

/// Row `r` of the batch as [`RowEvents`]; `None` when the row has no position.
pub(super) fn row_events(oh: &OneHot, batch: &Batch, r: usize) -> Option<RowEvents> {
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
pub(super) fn row_scale(config: Config, batch: &Batch, r: usize) -> [bool; 12] {
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
pub(super) fn key_rows_by(config: Config, batch: &Batch, member: impl Fn(bool, bool) -> bool) -> CostRows {
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

/// Rows over the shift classes at every position whose label is a TIME_SHIFT(t): column
/// `k - 1` (shift k) holds `value(k, t)`.
pub(super) fn shift_rows(config: Config, batch: &Batch, value: impl Fn(usize, usize) -> f32) -> CostRows {
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
pub(super) fn grid_rows_by(config: Config, batch: &Batch, member: impl Fn(bool, bool) -> bool) -> CostRows {
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

/// Target rows of the ranked probability score: every position whose label is a
/// TIME_SHIFT(t), with the target's CDF over the shift classes (0 below `t`, 1 from `t`).
pub fn rhythm_cdf_rows(config: Config, batch: &Batch) -> CostRows {
    shift_rows(config, batch, |k, t| if k >= t { 1.0 } else { 0.0 })
}
