use cadenza_notes::{Note, NoteSequence, QuantizedSequence};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One performance event (note-seq's `PerformanceEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    NoteOn(u8),
    NoteOff(u8),
    /// Steps of 10 ms, 1..=100 in the one-hot vocabulary.
    TimeShift(u32),
    /// Velocity bin, 1..=num_velocity_bins.
    Velocity(u8),
}

impl Event {
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::NoteOn(_) => "NOTE_ON",
            Event::NoteOff(_) => "NOTE_OFF",
            Event::TimeShift(_) => "TIME_SHIFT",
            Event::Velocity(_) => "VELOCITY",
        }
    }
    pub fn value(&self) -> u32 {
        match *self {
            Event::NoteOn(p) | Event::NoteOff(p) => p as u32,
            Event::TimeShift(s) => s,
            Event::Velocity(b) => b as u32,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum PerformanceError {
    #[error("a time shift of {0} steps exceeds the note encoding's maximum of 1000")]
    TooManyTimeShiftSteps(i64),
    #[error("a duration of {0} steps exceeds the note encoding's maximum of 1000")]
    TooManyDurationSteps(i64),
}

/// `ceil(127 / bins)` with float division, as Magenta.
fn bin_size(num_bins: u8) -> u32 {
    (127.0f64 / num_bins as f64).ceil() as u32
}

pub fn velocity_to_bin(velocity: u8, num_bins: u8) -> u8 {
    // Python's floor division: velocity 0 gives (−1)//4 + 1 = 0.
    (((velocity as i32) - 1).div_euclid(bin_size(num_bins) as i32) + 1) as u8
}

/// The lower edge of the bin: Magenta decodes bin 25 of 32 to 97, not to the bin centre.
pub fn velocity_bin_to_velocity(bin: u8, num_bins: u8) -> u8 {
    (1 + (bin as u32).saturating_sub(1) * bin_size(num_bins)).min(127) as u8
}

/// An event list at 100 steps/s (note-seq's `Performance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Performance {
    pub events: Vec<Event>,
    pub start_step: i64,
    pub num_velocity_bins: u8,
    pub max_shift_steps: u32,
    pub steps_per_second: u32,
    pub program: Option<u32>,
    pub is_drum: Option<bool>,
}

impl Performance {
    pub fn new(num_velocity_bins: u8) -> Self {
        Performance {
            events: Vec::new(),
            start_step: 0,
            num_velocity_bins,
            max_shift_steps: crate::MAX_SHIFT_STEPS,
            steps_per_second: crate::STEPS_PER_SECOND,
            program: None,
            is_drum: None,
        }
    }

    /// `BasePerformance._from_quantized_sequence`: notes sorted by (raw start time, pitch),
    /// every NOTE_OFF at a step before every NOTE_ON, VELOCITY just before a NOTE_ON whose
    /// bin differs, gaps split into TIME_SHIFT(100)s and a remainder.
    pub fn from_quantized(
        q: &QuantizedSequence,
        start_step: i64,
        num_velocity_bins: u8,
        instrument: Option<u32>,
    ) -> Self {
        let mut notes: Vec<(usize, &cadenza_notes::QuantizedNote)> = q
            .notes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.start_step >= start_step && instrument.is_none_or(|i| n.instrument == i))
            .collect();
        // Python's stable sorted() by (start time, pitch): the original index breaks ties.
        notes.sort_unstable_by(|(ia, a), (ib, b)| {
            a.start
                .partial_cmp(&b.start)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.pitch.cmp(&b.pitch))
                .then(ia.cmp(ib))
        });
        let notes: Vec<&cadenza_notes::QuantizedNote> = notes.into_iter().map(|(_, n)| n).collect();
        let mut marks: Vec<(i64, usize, bool)> = Vec::with_capacity(notes.len() * 2);
        for (i, n) in notes.iter().enumerate() {
            marks.push((n.start_step, i, false));
            marks.push((n.end_step, i, true));
        }
        marks.sort_unstable();

        let mut perf = Performance::new(num_velocity_bins);
        perf.start_step = start_step;
        let (program, is_drum) = program_and_drum(q, instrument);
        perf.program = program;
        perf.is_drum = is_drum;
        let max_shift = perf.max_shift_steps as i64;
        let mut current_step = start_step;
        let mut current_bin = 0u8;
        let events = &mut perf.events;
        for (step, idx, is_offset) in marks {
            if step > current_step {
                while step > current_step + max_shift {
                    events.push(Event::TimeShift(max_shift as u32));
                    current_step += max_shift;
                }
                events.push(Event::TimeShift((step - current_step) as u32));
                current_step = step;
            }
            let n = notes[idx];
            if num_velocity_bins > 0 && !is_offset {
                let bin = velocity_to_bin(n.velocity, num_velocity_bins);
                if bin != current_bin {
                    current_bin = bin;
                    events.push(Event::Velocity(bin));
                }
            }
            events.push(if is_offset { Event::NoteOff(n.pitch) } else { Event::NoteOn(n.pitch) });
        }
        perf
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Total length in steps: the sum of the time shifts.
    pub fn num_steps(&self) -> i64 {
        self.events.iter().map(|e| if let Event::TimeShift(s) = e { *s as i64 } else { 0 }).sum()
    }

    /// Keep the first `n` events (open notes are left open, as Magenta).
    pub fn truncate(&mut self, n: usize) {
        self.events.truncate(n);
    }

    /// Pad with time shifts or trim from the end to exactly `steps` (Magenta's `set_length`).
    pub fn set_length(&mut self, steps: i64) {
        let have = self.num_steps();
        let max = self.max_shift_steps as i64;
        if have < steps {
            let mut need = steps - have;
            if let Some(Event::TimeShift(s)) = self.events.last_mut() {
                if (*s as i64) < max {
                    let add = need.min(max - *s as i64);
                    *s += add as u32;
                    need -= add;
                }
            }
            while need >= max {
                self.events.push(Event::TimeShift(max as u32));
                need -= max;
            }
            if need > 0 {
                self.events.push(Event::TimeShift(need as u32));
            }
        } else if have > steps {
            let target = have - steps;
            let mut trimmed = 0i64;
            while trimmed < target {
                match self.events.last_mut() {
                    None => break,
                    Some(Event::TimeShift(s)) => {
                        if trimmed + *s as i64 > target {
                            *s -= (target - trimmed) as u32;
                            trimmed = target;
                        } else {
                            trimmed += *s as i64;
                            self.events.pop();
                        }
                    }
                    Some(_) => {
                        self.events.pop();
                    }
                }
            }
        }
    }

    /// How the NOTE_ON / NOTE_OFF events pair up when decoded: what a sampled performance's
    /// piled-up notes come from. A NOTE_OFF with no open note of its pitch is a no-op in
    /// Magenta's decoder (and in [`Self::to_sequence`]); a note whose NOTE_OFF never comes
    /// sounds until the end (or the generator's `max_note_duration`).
    pub fn note_pairing(&self) -> NotePairing {
        let mut open = [0u32; 128];
        let mut stats = NotePairing::default();
        for e in &self.events {
            match *e {
                Event::NoteOn(p) => {
                    stats.note_ons += 1;
                    if open[p as usize & 127] > 0 {
                        stats.restruck += 1;
                    }
                    open[p as usize & 127] += 1;
                }
                Event::NoteOff(p) => {
                    stats.note_offs += 1;
                    let o = &mut open[p as usize & 127];
                    if *o == 0 {
                        stats.unmatched_note_offs += 1;
                    } else {
                        *o -= 1;
                    }
                }
                _ => {}
            }
        }
        stats.never_ended = open.iter().map(|&o| o as usize).sum();
        stats
    }

    /// Decode to notes (`Performance.to_sequence`): each NOTE_OFF closes the oldest open
    /// note of its pitch, zero-length notes are dropped, notes left open end at the final
    /// step, and `max_note_duration` (seconds) caps every note when given.
    pub fn to_sequence(
        &self,
        velocity: u8,
        instrument: u32,
        program: Option<u32>,
        max_note_duration: Option<f64>,
    ) -> NoteSequence {
        let sps = 1.0 / self.steps_per_second as f64;
        let seq_start = self.start_step as f64 * sps;
        let program = program.or(self.program).unwrap_or(0);
        let is_drum = self.is_drum.unwrap_or(false);
        let mut seq = NoteSequence::new();
        seq.ticks_per_quarter = 220;
        let mut open: Vec<(u8, std::collections::VecDeque<(i64, u8)>)> = Vec::new();
        fn slot(open: &mut Vec<(u8, std::collections::VecDeque<(i64, u8)>)>, p: u8) -> usize {
            match open.iter().position(|(q, _)| *q == p) {
                Some(i) => i,
                None => {
                    open.push((p, Default::default()));
                    open.len() - 1
                }
            }
        }
        let mut step = 0i64;
        let mut velocity = velocity;
        let emit = |seq: &mut NoteSequence, pitch: u8, start_step: i64, end_step: i64, vel: u8| {
            let start = start_step as f64 * sps + seq_start;
            let mut end = end_step as f64 * sps + seq_start;
            if let Some(m) = max_note_duration {
                if m > 0.0 && end - start > m {
                    end = start + m;
                }
            }
            let mut n = Note::new(pitch, vel, start, end);
            n.instrument = instrument;
            n.program = program;
            n.is_drum = is_drum;
            if end > seq.total_time {
                seq.total_time = end;
            }
            seq.notes.push(n);
        };
        for e in &self.events {
            match *e {
                Event::NoteOn(p) => {
                    let i = slot(&mut open, p);
                    open[i].1.push_back((step, velocity));
                }
                Event::NoteOff(p) => {
                    let i = slot(&mut open, p);
                    if let Some((s, v)) = open[i].1.pop_front() {
                        if s != step {
                            emit(&mut seq, p, s, step, v);
                        }
                    }
                }
                Event::TimeShift(s) => step += s as i64,
                Event::Velocity(b) => velocity = velocity_bin_to_velocity(b, self.num_velocity_bins.max(1)),
            }
        }
        for (p, q) in &open {
            for &(s, v) in q {
                if s != step {
                    emit(&mut seq, *p, s, step, v);
                }
            }
        }
        seq
    }
}

/// See [`Performance::note_pairing`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotePairing {
    pub note_ons: usize,
    pub note_offs: usize,
    /// NOTE_OFFs of a pitch that was not sounding: dropped by the decoder.
    pub unmatched_note_offs: usize,
    /// NOTE_ONs never closed by a NOTE_OFF.
    pub never_ended: usize,
    /// NOTE_ONs of a pitch that was already sounding (a piano re-strikes the key; the decoder
    /// keeps both notes).
    pub restruck: usize,
}

fn program_and_drum(q: &QuantizedSequence, instrument: Option<u32>) -> (Option<u32>, Option<bool>) {
    // note-seq's _program_and_is_drum_from_sequence: only defined when one program is used.
    let notes: Vec<_> = q.notes.iter().filter(|n| instrument.is_none_or(|i| n.instrument == i)).collect();
    let first = match notes.first() {
        Some(n) => n,
        None => return (None, None),
    };
    if notes.iter().all(|n| n.program == first.program && n.is_drum == first.is_drum) {
        (Some(first.program), Some(first.is_drum))
    } else {
        (None, None)
    }
}

/// One event of the note-based encoding: (shift since previous onset, pitch, velocity bin,
/// duration), all in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteEvent {
    pub shift: u32,
    pub pitch: u8,
    pub velocity_bin: u8,
    pub duration: u32,
}

/// note-seq's `NotePerformance`: one event per note, shift and duration at most 1000 steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotePerformance {
    pub events: Vec<NoteEvent>,
    pub start_step: i64,
    pub num_velocity_bins: u8,
}

impl NotePerformance {
    pub const MAX_SHIFT_STEPS: i64 = 1000;
    pub const MAX_DURATION_STEPS: i64 = 1000;

    pub fn from_quantized(
        q: &QuantizedSequence,
        start_step: i64,
        num_velocity_bins: u8,
    ) -> Result<Self, PerformanceError> {
        let mut notes: Vec<_> = q.notes.iter().filter(|n| n.start_step >= start_step).collect();
        notes.sort_by(|a, b| {
            a.start.partial_cmp(&b.start).unwrap_or(std::cmp::Ordering::Equal).then(a.pitch.cmp(&b.pitch))
        });
        let mut current = start_step;
        let mut events = Vec::with_capacity(notes.len());
        for n in notes {
            let shift = n.start_step - current;
            if shift > Self::MAX_SHIFT_STEPS {
                return Err(PerformanceError::TooManyTimeShiftSteps(shift));
            }
            current = n.start_step;
            let duration = n.end_step - n.start_step;
            if duration > Self::MAX_DURATION_STEPS {
                return Err(PerformanceError::TooManyDurationSteps(duration));
            }
            events.push(NoteEvent {
                shift: shift as u32,
                pitch: n.pitch,
                velocity_bin: velocity_to_bin(n.velocity, num_velocity_bins),
                duration: duration as u32,
            });
        }
        Ok(NotePerformance { events, start_step, num_velocity_bins })
    }

    pub fn num_steps(&self) -> i64 {
        let shifts: i64 = self.events.iter().map(|e| e.shift as i64).sum();
        shifts + self.events.last().map_or(0, |e| e.duration as i64)
    }

    pub fn to_sequence(&self) -> NoteSequence {
        let mut seq = NoteSequence::new();
        let mut step = self.start_step;
        for e in &self.events {
            step += e.shift as i64;
            let start = step as f64 / 100.0;
            let end = (step + e.duration as i64) as f64 / 100.0;
            seq.notes.push(Note::new(
                e.pitch,
                velocity_bin_to_velocity(e.velocity_bin, self.num_velocity_bins.max(1)),
                start,
                end,
            ));
            seq.total_time = seq.total_time.max(end);
        }
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OneHot;
    use cadenza_notes::transform::{quantize_absolute, sequence_of};

    #[test]
    fn velocity_bins_match_magenta() {
        assert_eq!(velocity_to_bin(1, 32), 1);
        assert_eq!(velocity_to_bin(4, 32), 1);
        assert_eq!(velocity_to_bin(5, 32), 2);
        assert_eq!(velocity_to_bin(127, 32), 32);
        assert_eq!(velocity_to_bin(0, 32), 0);
        assert_eq!(velocity_to_bin(100, 32), 25);
        assert_eq!(velocity_bin_to_velocity(25, 32), 97);
        assert_eq!(velocity_bin_to_velocity(32, 32), 125);
        assert_eq!(velocity_to_bin(100, 16), 13);
    }

    // The golden example of magenta-compat.md §2.3 (performance_lib_test.py, 32 bins).
    #[test]
    fn golden_three_note_example() {
        let s = sequence_of(&[(60, 100, 0.0, 4.0), (64, 100, 0.0, 3.0), (67, 127, 1.0, 2.0)]);
        let q = quantize_absolute(&s, 100).unwrap();
        let p = Performance::from_quantized(&q, 0, 32, None);
        let oh = OneHot::new(32);
        let idx: Vec<usize> = p.events.iter().map(|e| oh.encode(e).unwrap()).collect();
        assert_eq!(idx, vec![380, 60, 64, 355, 387, 67, 355, 195, 355, 192, 355, 188]);
        assert_eq!(p.num_steps(), 400);
    }

    #[test]
    fn no_velocity_bins_no_velocity_events() {
        let s = sequence_of(&[(60, 100, 0.0, 4.0), (64, 100, 0.0, 3.0), (67, 127, 1.0, 2.0)]);
        let q = quantize_absolute(&s, 100).unwrap();
        let p = Performance::from_quantized(&q, 0, 0, None);
        assert!(p.events.iter().all(|e| !matches!(e, Event::Velocity(_))));
        assert_eq!(p.len(), 10);
    }

    #[test]
    fn long_gaps_split_into_full_shifts_and_remainder() {
        let s = sequence_of(&[(60, 100, 0.0, 2.5)]);
        let p = Performance::from_quantized(&quantize_absolute(&s, 100).unwrap(), 0, 32, None);
        assert_eq!(
            p.events[2..],
            [Event::TimeShift(100), Event::TimeShift(100), Event::TimeShift(50), Event::NoteOff(60)]
        );
        let s = sequence_of(&[(60, 100, 0.0, 2.0)]);
        let p = Performance::from_quantized(&quantize_absolute(&s, 100).unwrap(), 0, 32, None);
        assert_eq!(p.events[2..], [Event::TimeShift(100), Event::TimeShift(100), Event::NoteOff(60)]);
    }

    #[test]
    fn set_length_pads_and_trims() {
        let mut p = Performance::new(32);
        p.events = vec![Event::NoteOn(60), Event::TimeShift(30), Event::NoteOff(60)];
        p.set_length(280);
        assert_eq!(p.events[3..], [Event::TimeShift(100), Event::TimeShift(100), Event::TimeShift(50)]);
        p.events = vec![Event::NoteOn(60), Event::TimeShift(30)];
        p.set_length(250);
        assert_eq!(p.events[1..], [Event::TimeShift(100), Event::TimeShift(100), Event::TimeShift(50)]);
        p.set_length(120);
        assert_eq!(p.events[1..], [Event::TimeShift(100), Event::TimeShift(20)]);
        assert_eq!(p.num_steps(), 120);
    }

    #[test]
    fn decode_roundtrip_and_fifo_noteoffs() {
        let mut p = Performance::new(32);
        p.events = vec![
            Event::Velocity(25),
            Event::NoteOn(60),
            Event::NoteOn(60),
            Event::TimeShift(10),
            Event::NoteOff(60),
            Event::TimeShift(10),
            Event::NoteOff(60),
            Event::NoteOff(61),
            Event::NoteOn(62),
            Event::TimeShift(5),
        ];
        let s = p.to_sequence(100, 0, None, None);
        assert_eq!(s.notes.len(), 3);
        assert_eq!((s.notes[0].start, s.notes[0].end, s.notes[0].velocity), (0.0, 0.1, 97));
        assert_eq!(s.notes[1].end, 0.2);
        assert_eq!((s.notes[2].pitch, s.notes[2].start, s.notes[2].end), (62, 0.2, 0.25));
        let capped = p.to_sequence(100, 0, None, Some(0.05));
        assert!(capped.notes.iter().all(|n| n.end - n.start <= 0.05 + 1e-12));
        // 60 twice on, twice off; 61 off while silent; 62 never ended.
        assert_eq!(
            p.note_pairing(),
            NotePairing { note_ons: 3, note_offs: 3, unmatched_note_offs: 1, never_ended: 1, restruck: 1 }
        );
    }

    #[test]
    fn note_performance_limits() {
        let s = sequence_of(&[(60, 100, 0.0, 1.0), (62, 90, 0.5, 0.75)]);
        let q = quantize_absolute(&s, 100).unwrap();
        let np = NotePerformance::from_quantized(&q, 0, 32).unwrap();
        assert_eq!(np.events[1], NoteEvent { shift: 50, pitch: 62, velocity_bin: 23, duration: 25 });
        let far = sequence_of(&[(60, 100, 0.0, 1.0), (62, 90, 10.5, 10.75)]);
        let q = quantize_absolute(&far, 100).unwrap();
        assert_eq!(NotePerformance::from_quantized(&q, 0, 32), Err(PerformanceError::TooManyTimeShiftSteps(1050)));
    }
}
