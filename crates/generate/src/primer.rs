//! The primer: a file, a chord or a melody → a `NoteSequence` as Magenta's
//! `performance_rnn_generate.py` builds it → the primer performance, extended to the step
//! where generation starts (`PerformanceRnnSequenceGenerator._generate`).

use crate::options::{GenerateError, Primer};
use cadenza_notes::{Note, NoteSequence};
use cadenza_performance::{Config, Performance, STEPS_PER_SECOND};
use std::path::Path;

/// Magenta's `DEFAULT_QUARTERS_PER_MINUTE`, and the 4 steps per quarter of a `Melody`.
const QPM: f64 = 120.0;
const MELODY_STEPS_PER_QUARTER: f64 = 4.0;
pub const MELODY_NOTE_OFF: i32 = -1;
pub const MELODY_NO_EVENT: i32 = -2;

/// The primer as notes (empty for `Primer::None`).
pub fn primer_sequence(primer: &Primer, primer_seconds: Option<f64>) -> Result<NoteSequence, GenerateError> {
    let mut seq = match primer {
        Primer::None => NoteSequence::new(),
        Primer::File(path) => load_primer_file(path)?,
        Primer::Pitches(p) => chord(p)?,
        Primer::Melody(m) => melody(m)?,
    };
    if let Some(limit) = primer_seconds {
        trim(&mut seq, limit);
    }
    Ok(seq)
}

fn load_primer_file(path: &Path) -> Result<NoteSequence, GenerateError> {
    let err = |msg: String| GenerateError::PrimerFile { path: path.display().to_string(), msg };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    let (seq, _warnings) = cadenza_import::load_file(path, &Default::default()).map_err(|e| err(e.to_string()))?;
    if seq.notes.iter().any(|n| !(n.start.is_finite() && n.end.is_finite())) {
        return Err(err("a note has a non-finite time".into()));
    }
    Ok(seq)
}

/// `--primer_pitches`: every pitch from 0 to 60/qpm = 0.5 s, velocity 100.
fn chord(pitches: &[u8]) -> Result<NoteSequence, GenerateError> {
    let mut seq = NoteSequence::new();
    for &p in pitches {
        if p > 127 {
            return Err(GenerateError::PrimerValue(format!("pitch {p} is outside 0..=127")));
        }
        seq.notes.push(Note::new(p, 100, 0.0, 60.0 / QPM));
        seq.total_time = 60.0 / QPM;
    }
    Ok(seq)
}

/// `note_seq.Melody(events).to_sequence()` at 120 qpm, 4 steps per quarter, velocity 100:
/// a pitch ends the sounding note and starts a new one, -1 ends it, -2 continues; the end of
/// the melody ends a sounding note; `total_time` is the end of the last note.
fn melody(events: &[i32]) -> Result<NoteSequence, GenerateError> {
    let step_s = 60.0 / QPM / MELODY_STEPS_PER_QUARTER;
    let mut seq = NoteSequence::new();
    seq.tempos.push(cadenza_notes::Tempo { time: 0.0, qpm: QPM });
    let mut open: Option<usize> = None;
    for (step, &e) in events.iter().enumerate() {
        let t = step as f64 * step_s;
        match e {
            0..=127 => {
                if let Some(i) = open {
                    seq.notes[i].end = t;
                }
                seq.notes.push(Note::new(e as u8, 100, t, t));
                open = Some(seq.notes.len() - 1);
            }
            MELODY_NOTE_OFF => {
                if let Some(i) = open.take() {
                    seq.notes[i].end = t;
                }
            }
            MELODY_NO_EVENT => {}
            _ => {
                return Err(GenerateError::PrimerValue(format!(
                    "melody value {e} at position {step}: expected a pitch 0..=127, -1 (note off) or -2 (no event)"
                )))
            }
        }
    }
    if let Some(i) = open {
        seq.notes[i].end = events.len() as f64 * step_s;
    }
    seq.total_time = seq.notes.last().map_or(0.0, |n| n.end);
    Ok(seq)
}

/// Keeps what sounds in the first `limit` seconds: later notes dropped, notes cut at `limit`.
fn trim(seq: &mut NoteSequence, limit: f64) {
    seq.notes.retain(|n| n.start < limit);
    for n in &mut seq.notes {
        n.end = n.end.min(limit);
    }
    seq.notes.retain(|n| n.end > n.start);
    seq.control_changes.retain(|c| c.time < limit);
    seq.tempos.retain(|t| t.time < limit);
    seq.time_signatures.retain(|t| t.time < limit);
    seq.key_signatures.retain(|k| k.time < limit);
    seq.total_time = seq.notes_end();
}

/// The performance generation extends, and where the requested span ends.
#[derive(Debug, Clone)]
pub struct PrimerPerformance {
    /// Ready to extend: the primer events, padded with time shifts to the generate start
    /// (or one TIME_SHIFT(100) for the empty primer, which starts at step 1 as Magenta's).
    pub performance: Performance,
    /// Steps the finished performance must span (relative to `performance.start_step`).
    pub total_steps: i64,
}

/// Magenta's `_generate` up to the generation loop: quantise the primer at 100 steps/s,
/// extract its performance, start generating at `int(total_time·100 + 1)`, end at
/// `num_steps`, seed an empty primer with `set_length(min(100, total))`.
pub fn primer_performance(
    seq: &NoteSequence,
    config: Config,
    num_steps: u32,
) -> Result<PrimerPerformance, GenerateError> {
    let sps = STEPS_PER_SECOND as f64;
    let end_step = num_steps as i64;
    if seq.total_time * sps >= end_step as f64 {
        return Err(GenerateError::PrimerTooLong {
            primer_seconds: seq.total_time,
            total_seconds: end_step as f64 / sps,
            num_steps,
        });
    }
    // note_seq.quantize_to_step(start, 100, quantize_cutoff=0.0).
    let start_step = ((seq.total_time * sps) + 1.0) as i64;
    let mut perf = if seq.notes.is_empty() {
        None
    } else {
        let p = cadenza_performance::pipeline::primer_performance(seq, config)
            .map_err(|e| GenerateError::PrimerValue(format!("cannot quantise the primer: {e}")))?;
        if p.is_empty() {
            None
        } else {
            Some(p)
        }
    }
    .unwrap_or_else(|| {
        let mut p = Performance::new(config.num_velocity_bins());
        p.start_step = start_step;
        p
    });
    perf.set_length(start_step - perf.start_step);
    let total_steps = perf.num_steps() + (end_step - start_step);
    if perf.is_empty() && total_steps > 0 {
        perf.set_length(total_steps.min(perf.max_shift_steps as i64));
    }
    Ok(PrimerPerformance { performance: perf, total_steps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_performance::Event;

    #[test]
    fn empty_primer_is_one_shift_at_step_one() {
        let p = primer_performance(&NoteSequence::new(), Config::PerformanceWithDynamics, 1000).unwrap();
        assert_eq!(p.performance.start_step, 1);
        assert_eq!(p.performance.events, vec![Event::TimeShift(100)]);
        assert_eq!(p.total_steps, 999);
        let short = primer_performance(&NoteSequence::new(), Config::PerformanceWithDynamics, 50).unwrap();
        assert_eq!(short.performance.events, vec![Event::TimeShift(49)]);
    }

    #[test]
    fn chord_primer_is_half_a_second_and_generation_starts_at_step_51() {
        let seq = primer_sequence(&Primer::Pitches(vec![60, 64, 67]), None).unwrap();
        assert_eq!(seq.notes.len(), 3);
        assert_eq!(seq.total_time, 0.5);
        let p = primer_performance(&seq, Config::PerformanceWithDynamics, 1000).unwrap();
        let e = &p.performance.events;
        assert_eq!(e[..4], [Event::Velocity(25), Event::NoteOn(60), Event::NoteOn(64), Event::NoteOn(67)]);
        assert_eq!(p.performance.num_steps(), 51);
        assert_eq!(p.performance.start_step, 0);
        assert_eq!(p.total_steps, 1000);
        assert!(matches!(primer_sequence(&Primer::Pitches(vec![200]), None), Err(GenerateError::PrimerValue(_))));
    }

    #[test]
    fn melody_follows_note_seq() {
        let seq = primer_sequence(&Primer::Melody(vec![-1, 60, -2, 62, -1, -2, 64]), None).unwrap();
        let notes: Vec<(u8, f64, f64)> = seq.notes.iter().map(|n| (n.pitch, n.start, n.end)).collect();
        assert_eq!(notes, vec![(60, 0.125, 0.375), (62, 0.375, 0.5), (64, 0.75, 0.875)]);
        assert_eq!(seq.total_time, 0.875);
        assert!(seq.notes.iter().all(|n| n.velocity == 100));
        assert!(matches!(primer_sequence(&Primer::Melody(vec![60, -3]), None), Err(GenerateError::PrimerValue(_))));
    }

    #[test]
    fn primer_longer_than_request_is_an_error() {
        let seq = primer_sequence(&Primer::Pitches(vec![60]), None).unwrap();
        assert!(matches!(
            primer_performance(&seq, Config::PerformanceWithDynamics, 50),
            Err(GenerateError::PrimerTooLong { .. })
        ));
    }
}
