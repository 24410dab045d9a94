//! Transforms on `NoteSequence`, each reproducing note-seq's `sequences_lib` function of the
//! same name step for step (float operations in the same order), because the training
//! examples must come out index-for-index identical to Magenta's.

use crate::{ControlChange, Note, NoteSequence, CC_SOFT, CC_SOSTENUTO, CC_SUSTAIN};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum TransformError {
    #[error("negative time after quantisation: note {pitch} at step {start_step}..{end_step}")]
    NegativeTime { pitch: u8, start_step: i64, end_step: i64 },
    #[error("sustain control change with value {0} outside 0..127")]
    BadControlValue(u8),
    #[error("time {0} is not a finite number")]
    NonFinite(f64),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SusKind {
    SustainOn = 0,
    SustainOff = 1,
    NoteOn = 2,
    NoteOff = 3,
}

/// Extends notes held by the sustain pedal (CC 64), exactly as note-seq's
/// `apply_sustain_control_changes`: pedal down ≥ 64; while down, a NOTE_OFF does not end a
/// note and a re-struck pitch ends the earlier note (deleting it if that leaves it empty);
/// pedal up ends every note that only the pedal held. Drums are left alone.
pub fn apply_sustain(seq: &NoteSequence) -> NoteSequence {
    apply_sustain_cc(seq, CC_SUSTAIN)
}

pub fn apply_sustain_cc(seq: &NoteSequence, controller: u8) -> NoteSequence {
    let mut out = seq.clone();
    let events = sustain_events(&out, controller);

    // Instruments are small dense indices: per-instrument state lives in vectors. The order
    // of an active list never affects the result (every rule applies to all its matching
    // notes alike), so removal may swap. A per-pitch count skips the re-strike scan when no
    // note of that pitch is active, which is almost always.
    let n_inst = out
        .notes
        .iter()
        .map(|n| n.instrument)
        .chain(out.control_changes.iter().map(|c| c.instrument))
        .max()
        .map_or(0, |m| m as usize + 1);
    let mut active: Vec<Vec<usize>> = vec![Vec::new(); n_inst];
    let mut pitch_count: Vec<[u32; 128]> = vec![[0; 128]; n_inst];
    let mut sus: Vec<bool> = vec![false; n_inst];
    let mut deleted = vec![false; out.notes.len()];
    let mut time = 0.0f64;
    for &(t, kind, idx, _) in &events {
        time = t;
        match kind {
            SusKind::SustainOn => {
                sus[out.control_changes[idx].instrument as usize] = true;
            }
            SusKind::SustainOff => {
                let inst = out.control_changes[idx].instrument as usize;
                sus[inst] = false;
                let (notes, total) = (&mut out.notes, &mut out.total_time);
                let counts = &mut pitch_count[inst];
                active[inst].retain(|&ni| {
                    if notes[ni].end < time {
                        notes[ni].end = time;
                        if time > *total {
                            *total = time;
                        }
                        counts[notes[ni].pitch as usize & 127] -= 1;
                        false
                    } else {
                        true
                    }
                });
            }
            SusKind::NoteOn => {
                let inst = out.notes[idx].instrument as usize;
                let pitch = out.notes[idx].pitch;
                if sus[inst] && pitch_count[inst][pitch as usize & 127] > 0 {
                    let notes = &mut out.notes;
                    active[inst].retain(|&ni| {
                        if notes[ni].pitch == pitch {
                            notes[ni].end = time;
                            if notes[ni].start == notes[ni].end {
                                deleted[ni] = true;
                            }
                            false
                        } else {
                            true
                        }
                    });
                    pitch_count[inst][pitch as usize & 127] = 0;
                }
                active[inst].push(idx);
                pitch_count[inst][pitch as usize & 127] += 1;
            }
            SusKind::NoteOff => {
                let inst = out.notes[idx].instrument as usize;
                if !sus[inst] {
                    let list = &mut active[inst];
                    if let Some(p) = list.iter().rposition(|&ni| ni == idx) {
                        list.swap_remove(p);
                        pitch_count[inst][out.notes[idx].pitch as usize & 127] -= 1;
                    }
                }
            }
        }
    }
    hold_to_end(&mut out, &active, time);
    drop_deleted(&mut out.notes, &deleted);
    out
}

/// The sustain rules' events in note-seq's order: (time, kind, index, push order), the index
/// into `notes` for note events and into `control_changes` for pedal events of `controller`.
fn sustain_events(seq: &NoteSequence, controller: u8) -> Vec<(f64, SusKind, usize, usize)> {
    let mut events: Vec<(f64, SusKind, usize, usize)> = Vec::with_capacity(seq.notes.len() * 2 + 16);
    for (i, n) in seq.notes.iter().enumerate() {
        if !n.is_drum {
            events.push((n.start, SusKind::NoteOn, i, events.len()));
        }
    }
    for (i, n) in seq.notes.iter().enumerate() {
        if !n.is_drum {
            events.push((n.end, SusKind::NoteOff, i, events.len()));
        }
    }
    for (i, cc) in seq.control_changes.iter().enumerate() {
        if cc.controller != controller {
            continue;
        }
        let kind = if cc.value >= 64 { SusKind::SustainOn } else { SusKind::SustainOff };
        events.push((cc.time, kind, i, events.len()));
    }
    // Python's stable sort on (time, kind): an unstable sort with the push order as the last
    // key gives the same order, faster.
    events.sort_unstable_by(|a, b| {
        a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1)).then(a.3.cmp(&b.3))
    });
    events
}

/// Notes the pedal still holds at the end stop at the last event's `time`.
fn hold_to_end(out: &mut NoteSequence, active: &[Vec<usize>], time: f64) {
    let mut any_active = false;
    for list in active {
        for &ni in list {
            out.notes[ni].end = time;
            any_active = true;
        }
    }
    if any_active {
        out.total_time = time;
    }
}

/// Removes the notes marked in `deleted`.
fn drop_deleted(notes: &mut Vec<Note>, deleted: &[bool]) {
    if deleted.iter().any(|&d| d) {
        let mut i = 0;
        notes.retain(|_| {
            let keep = !deleted[i];
            i += 1;
            keep
        });
    }
}

/// Transposes every non-drum note by `amount` semitones. Returns `None` when any note would
/// leave 0..=127: like Magenta's TranspositionPipeline the whole transposition is skipped
/// rather than silently dropping notes. Key signatures move with the notes.
pub fn transpose(seq: &NoteSequence, amount: i32) -> Option<NoteSequence> {
    let mut out = seq.clone();
    for n in &mut out.notes {
        n.pitch = transposed_pitch(n.pitch, n.is_drum, amount)?;
    }
    for k in &mut out.key_signatures {
        k.key = ((k.key as i32 + amount).rem_euclid(12)) as u8;
    }
    Some(out)
}

/// A note's pitch moved by `amount` (a drum's stays), or `None` when it would leave 0..=127.
fn transposed_pitch(pitch: u8, is_drum: bool, amount: i32) -> Option<u8> {
    if is_drum {
        return Some(pitch);
    }
    u8::try_from(pitch as i32 + amount).ok().filter(|p| *p <= 127)
}

/// Multiplies every time by `factor` (> 1 is slower) and divides tempi by it, as note-seq's
/// `stretch_note_sequence`.
pub fn stretch(seq: &NoteSequence, factor: f64) -> NoteSequence {
    let mut out = seq.clone();
    if factor == 1.0 {
        return out;
    }
    for n in &mut out.notes {
        n.start *= factor;
        n.end *= factor;
    }
    out.total_time *= factor;
    for t in &mut out.time_signatures {
        t.time *= factor;
    }
    for k in &mut out.key_signatures {
        k.time *= factor;
    }
    for t in &mut out.tempos {
        t.time *= factor;
    }
    for c in &mut out.control_changes {
        c.time *= factor;
    }
    for t in &mut out.tempos {
        t.qpm /= factor;
    }
    out
}

/// Splits at `hop`, `2·hop`, … below `total_time` (note-seq's `split_note_sequence` with
/// `skip_splits_inside_notes=False`): each note goes to the segment holding its onset, is
/// shifted to start at 0 and cut at the segment end. Pedal state (CC 64/66/67) and the tempo,
/// time and key signature in force are carried to the start of each segment.
pub fn split(seq: &NoteSequence, hop: f64) -> Vec<NoteSequence> {
    let mut times = vec![0.0f64];
    // np.arange(hop, total, hop): start + i*step.
    let mut i = 0u64;
    loop {
        let t = hop + (i as f64) * hop;
        if t >= seq.total_time {
            break;
        }
        times.push(t);
        i += 1;
    }
    if seq.total_time > *times.last().unwrap() {
        times.push(seq.total_time);
    }
    if times.len() < 2 {
        return Vec::new();
    }
    extract_subsequences(seq, &times)
}

fn extract_subsequences(seq: &NoteSequence, split_times: &[f64]) -> Vec<NoteSequence> {
    let n_sub = split_times.len() - 1;
    let template = NoteSequence {
        notes: Vec::new(),
        tempos: Vec::new(),
        time_signatures: Vec::new(),
        key_signatures: Vec::new(),
        control_changes: Vec::new(),
        total_time: 0.0,
        ticks_per_quarter: seq.ticks_per_quarter,
        source: seq.source.clone(),
    };
    let mut subs = vec![template; n_sub];
    split_notes(seq, split_times, &mut subs);
    // Stateful events: the one in force at a boundary is re-inserted at time 0.
    carry(&seq.time_signatures, |e| e.time, |e, t| e.time = t, split_times, |i, e| subs[i].time_signatures.push(e));
    carry(&seq.key_signatures, |e| e.time, |e, t| e.time = t, split_times, |i, e| subs[i].key_signatures.push(e));
    carry(&seq.tempos, |e| e.time, |e, t| e.time = t, split_times, |i, e| subs[i].tempos.push(e));
    split_pedals(seq, split_times, &mut subs);
    subs
}

/// Each note to the segment holding its onset, shifted to start at 0 and cut at the segment
/// end; each segment's total time is its latest note end.
fn split_notes(seq: &NoteSequence, split_times: &[f64], subs: &mut [NoteSequence]) {
    let n_sub = split_times.len() - 1;
    let mut order: Vec<usize> = (0..seq.notes.len()).collect();
    // Stable by start time (ties keep note order), as Python's sorted().
    order.sort_unstable_by(|&a, &b| {
        seq.notes[a].start.partial_cmp(&seq.notes[b].start).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b))
    });
    let mut si: isize = -1;
    for &ni in &order {
        let note = &seq.notes[ni];
        if note.start < split_times[0] {
            continue;
        }
        while si < n_sub as isize && note.start >= split_times[(si + 1) as usize] {
            si += 1;
        }
        if si == n_sub as isize {
            break;
        }
        let s = si as usize;
        let mut n = note.clone();
        n.start -= split_times[s];
        n.end = note.end.min(split_times[s + 1]) - split_times[s];
        if n.end > subs[s].total_time {
            subs[s].total_time = n.end;
        }
        subs[s].notes.push(n);
    }
}

/// Carries a stateful event (tempo, time or key signature) into the segments: each event to
/// the segment it falls in, shifted, and the one in force at a boundary re-inserted at time 0.
fn carry<T: Clone>(
    events: &[T],
    time_of: impl Fn(&T) -> f64,
    set_time: impl Fn(&mut T, f64),
    split_times: &[f64],
    mut push: impl FnMut(usize, T),
) {
    let n_sub = split_times.len() - 1;
    let mut sorted: Vec<&T> = events.iter().collect();
    sorted.sort_by(|a, b| time_of(a).partial_cmp(&time_of(b)).unwrap_or(std::cmp::Ordering::Equal));
    let mut prev: Option<T> = None;
    let mut si: isize = -1;
    for ev in sorted {
        let t = time_of(ev);
        if t <= split_times[0] {
            prev = Some(ev.clone());
            continue;
        }
        while si < n_sub as isize && t > split_times[(si + 1) as usize] {
            si += 1;
            if si == n_sub as isize {
                break;
            }
            if let Some(p) = &prev {
                let mut p = p.clone();
                set_time(&mut p, 0.0);
                push(si as usize, p);
            }
        }
        if si == n_sub as isize {
            break;
        }
        // si may still be -1 only if t <= split_times[0], handled above.
        let s = si.max(0) as usize;
        if t < split_times[s + 1] {
            let mut e = ev.clone();
            set_time(&mut e, t - split_times[s]);
            push(s, e);
        }
        prev = Some(ev.clone());
    }
    while si < n_sub as isize - 1 {
        si += 1;
        if let Some(p) = &prev {
            let mut p = p.clone();
            set_time(&mut p, 0.0);
            push(si as usize, p);
        }
    }
}

/// Pedal control changes (CC 64/66/67) into the segments: each to the segment it falls in,
/// shifted, and the state per (instrument, controller) re-inserted at time 0 of each segment.
fn split_pedals(seq: &NoteSequence, split_times: &[f64], subs: &mut [NoteSequence]) {
    let n_sub = split_times.len() - 1;
    let mut pedals: Vec<&ControlChange> =
        seq.control_changes.iter().filter(|c| [CC_SUSTAIN, CC_SOSTENUTO, CC_SOFT].contains(&c.controller)).collect();
    pedals.sort_by(|a, b| a.time.partial_cmp(&b.time).unwrap_or(std::cmp::Ordering::Equal));
    let mut prev: Vec<((u32, u8), ControlChange)> = Vec::new();
    let set_prev = |prev: &mut Vec<((u32, u8), ControlChange)>, c: &ControlChange| {
        let key = (c.instrument, c.controller);
        if let Some(slot) = prev.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = *c;
        } else {
            prev.push((key, *c));
        }
    };
    let mut si: isize = -1;
    for c in pedals {
        if c.time <= split_times[0] {
            set_prev(&mut prev, c);
            continue;
        }
        while si < n_sub as isize && c.time > split_times[(si + 1) as usize] {
            si += 1;
            if si == n_sub as isize {
                break;
            }
            for (_, p) in &prev {
                let mut p = *p;
                p.time = 0.0;
                subs[si as usize].control_changes.push(p);
            }
        }
        if si == n_sub as isize {
            break;
        }
        let s = si.max(0) as usize;
        if c.time < split_times[s + 1] {
            let mut e = *c;
            e.time -= split_times[s];
            subs[s].control_changes.push(e);
        }
        set_prev(&mut prev, c);
    }
    while si < n_sub as isize - 1 {
        si += 1;
        for (_, p) in &prev {
            let mut p = *p;
            p.time = 0.0;
            subs[si as usize].control_changes.push(p);
        }
    }
}

/// A note with its absolute-quantised steps. `start` (seconds) is kept because Magenta
/// orders notes by raw start time, not by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedNote {
    pub pitch: u8,
    pub velocity: u8,
    pub start_step: i64,
    pub end_step: i64,
    pub start: f64,
    pub instrument: u32,
    pub program: u32,
    pub is_drum: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedSequence {
    pub notes: Vec<QuantizedNote>,
    pub steps_per_second: u32,
    pub total_steps: i64,
}

impl QuantizedSequence {
    /// [`transpose`] for a quantized sequence (which carries no key signatures to move): every
    /// non-drum note by `amount` semitones, `None` when any would leave 0..=127.
    pub fn transposed(&self, amount: i32) -> Option<QuantizedSequence> {
        let mut out = self.clone();
        for n in &mut out.notes {
            n.pitch = transposed_pitch(n.pitch, n.is_drum, amount)?;
        }
        Some(out)
    }
}

/// `int(seconds * steps_per_second + 0.5)` with Python's truncation toward zero.
pub fn quantize_to_step(seconds: f64, steps_per_second: u32) -> i64 {
    (seconds * steps_per_second as f64 + 0.5).trunc() as i64
}

/// note-seq's `quantize_note_sequence_absolute`: round half up at `steps_per_second`, notes of
/// zero length get one step, negative steps are an error.
pub fn quantize_absolute(seq: &NoteSequence, steps_per_second: u32) -> Result<QuantizedSequence, TransformError> {
    let mut total = quantize_to_step(seq.total_time, steps_per_second);
    let mut notes = Vec::with_capacity(seq.notes.len());
    for n in &seq.notes {
        if !n.start.is_finite() {
            return Err(TransformError::NonFinite(n.start));
        }
        if !n.end.is_finite() {
            return Err(TransformError::NonFinite(n.end));
        }
        let start_step = quantize_to_step(n.start, steps_per_second);
        let mut end_step = quantize_to_step(n.end, steps_per_second);
        if end_step == start_step {
            end_step += 1;
        }
        if start_step < 0 || end_step < 0 {
            return Err(TransformError::NegativeTime { pitch: n.pitch, start_step, end_step });
        }
        if end_step > total {
            total = end_step;
        }
        notes.push(QuantizedNote {
            pitch: n.pitch,
            velocity: n.velocity,
            start_step,
            end_step,
            start: n.start,
            instrument: n.instrument,
            program: n.program,
            is_drum: n.is_drum,
        });
    }
    Ok(QuantizedSequence { notes, steps_per_second, total_steps: total })
}

/// Helper for tests and generators: a sequence from (pitch, velocity, start, end) tuples.
pub fn sequence_of(notes: &[(u8, u8, f64, f64)]) -> NoteSequence {
    let mut s = NoteSequence::new();
    for &(p, v, a, b) in notes {
        s.notes.push(Note::new(p, v, a, b));
        if b > s.total_time {
            s.total_time = b;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(time: f64, value: u8) -> ControlChange {
        ControlChange { time, controller: 64, value, instrument: 0, program: 0, is_drum: false }
    }

    // The cases of note-seq's sequences_lib_test.testApplySustainControlChanges*.
    #[test]
    fn sustain_extends_and_ends_notes() {
        let mut s = sequence_of(&[(60, 100, 0.0, 1.0), (62, 100, 2.0, 3.0)]);
        s.control_changes = vec![cc(0.5, 127), cc(1.5, 0)];
        s.total_time = 3.0;
        let out = apply_sustain(&s);
        assert_eq!(out.notes[0].end, 1.5);
        assert_eq!(out.notes[1].end, 3.0);
    }

    #[test]
    fn sustain_restrike_ends_previous_and_deletes_empty() {
        // Pedal down, two notes of the same pitch: the re-strike ends the first.
        let mut s = sequence_of(&[(60, 100, 1.0, 1.5), (60, 100, 2.0, 2.5), (60, 100, 2.0, 2.2)]);
        s.control_changes = vec![cc(0.0, 127), cc(4.0, 0)];
        s.total_time = 2.5;
        let out = apply_sustain(&s);
        // First note ends at 2.0; of the two notes at 2.0 the earlier-listed one is emptied
        // and deleted, the last is held to the pedal release.
        assert_eq!(out.notes.len(), 2);
        assert_eq!(out.notes[0].end, 2.0);
        assert_eq!(out.notes[1].start, 2.0);
        assert_eq!(out.notes[1].end, 4.0);
        assert_eq!(out.total_time, 4.0);
    }

    #[test]
    fn sustain_held_to_end_stops_at_last_event() {
        let mut s = sequence_of(&[(60, 100, 0.0, 1.0)]);
        s.control_changes = vec![cc(0.5, 100), cc(3.0, 100)];
        let out = apply_sustain(&s);
        assert_eq!(out.notes[0].end, 3.0);
        assert_eq!(out.total_time, 3.0);
    }

    #[test]
    fn transpose_skips_out_of_range() {
        let s = sequence_of(&[(126, 80, 0.0, 1.0)]);
        assert!(transpose(&s, 2).is_none());
        assert_eq!(transpose(&s, 1).unwrap().notes[0].pitch, 127);
        assert_eq!(transpose(&s, -126).unwrap().notes[0].pitch, 0);
    }

    #[test]
    fn stretch_scales_times_and_tempo() {
        let mut s = sequence_of(&[(60, 80, 1.0, 2.0)]);
        s.tempos.push(crate::Tempo { time: 0.0, qpm: 120.0 });
        let out = stretch(&s, 2.0);
        assert_eq!((out.notes[0].start, out.notes[0].end, out.total_time), (2.0, 4.0, 4.0));
        assert_eq!(out.tempos[0].qpm, 60.0);
    }

    #[test]
    fn split_assigns_notes_by_onset_and_cuts_tails() {
        let s = sequence_of(&[(60, 80, 0.0, 35.0), (62, 80, 29.0, 31.0), (64, 80, 30.0, 31.0), (65, 80, 61.0, 62.5)]);
        let parts = split(&s, 30.0);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].notes.len(), 2);
        assert_eq!(parts[0].notes[0].end, 30.0);
        assert_eq!(parts[0].notes[1].end, 30.0);
        assert_eq!(parts[1].notes.len(), 1);
        assert_eq!(parts[1].notes[0].start, 0.0);
        assert_eq!(parts[2].notes[0].start, 1.0);
        assert_eq!(parts[2].total_time, 2.5);
    }

    #[test]
    fn split_carries_pedal_state() {
        let mut s = sequence_of(&[(60, 80, 0.0, 1.0), (62, 80, 45.0, 46.0)]);
        s.control_changes = vec![cc(10.0, 127)];
        let parts = split(&s, 30.0);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].control_changes[0].time, 10.0);
        assert_eq!(parts[1].control_changes.len(), 1);
        assert_eq!(parts[1].control_changes[0].time, 0.0);
    }

    #[test]
    fn quantize_rounds_half_up_and_extends_empty_notes() {
        let s = sequence_of(&[(60, 80, 0.005, 0.0051), (61, 80, 0.014, 0.026)]);
        let q = quantize_absolute(&s, 100).unwrap();
        assert_eq!((q.notes[0].start_step, q.notes[0].end_step), (1, 2));
        assert_eq!((q.notes[1].start_step, q.notes[1].end_step), (1, 3));
        let neg = sequence_of(&[(60, 80, -0.02, 0.5)]);
        assert!(matches!(quantize_absolute(&neg, 100), Err(TransformError::NegativeTime { .. })));
        // Python's int() truncates toward zero: -0.004 s rounds to step 0, not -1.
        let tiny = sequence_of(&[(60, 80, -0.004, 0.5)]);
        assert_eq!(quantize_absolute(&tiny, 100).unwrap().notes[0].start_step, 0);
    }
}
