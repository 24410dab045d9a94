//! Decoding that follows what the training pieces say about note endings.
//!
//! A sampled model ends old notes far too rarely and young ones too often (`cadenza drift`).
//! [`NoteEnds`] counts, on real performances, how often the next event ends a sounding note,
//! per the note's age, its register and how many notes sound with it. [`Decoding`] mixes that
//! chance into the network's own probability of ending each sounding note at every step of
//! sampling: `(1 − weight)·p + weight·h`, the other events sharing what is left.

use cadenza_performance::{Config, Event, Token, STEPS_PER_SECOND};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

/// Upper edges of the age bins, in seconds (the last bin is open).
pub const AGE_EDGES_SECONDS: [f64; 7] = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0];
/// Lowest pitch of the middle and the high register.
pub const REGISTER_EDGES: [u8; 2] = [48, 72];
/// Lowest count of sounding notes of each polyphony bin after the first: none, one bin. Bins
/// of 1 | 2–3 | 4–6 | 7+ fed back on the exploration fold: real music ends few notes per event
/// while a chord is struck, so a sample with many notes sounding ended fewer and piled up more
/// (8 samples of the v2 base: 6.2 sounding notes at weight 0.5 against 5.5 undecoded and 2.9
/// real; 5.1 without the bins).
pub const POLYPHONY_EDGES: [usize; 0] = [];
/// Events of exposure a cell's own rate needs to weigh as much as its age bin's rate.
const SHRINK_EVENTS: f64 = 50.0;
/// The most probability the endings of sounding notes may take at one step.
const MAX_END_MASS: f64 = 0.95;
const FORMAT: u32 = 1;

const AGES: usize = AGE_EDGES_SECONDS.len() + 1;
const REGISTERS: usize = REGISTER_EDGES.len() + 1;
const POLYPHONIES: usize = POLYPHONY_EDGES.len() + 1;
const CELLS: usize = AGES * REGISTERS * POLYPHONIES;

#[derive(Debug, Error)]
pub enum DecodingError {
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    #[error("the note-end model needs performances with note endings; {0}")]
    NoData(String),
    #[error("decoding weight must be a number from 0 to 1, got {0}")]
    Weight(f64),
}

/// Per-event chances that a sounding note ends, by age × register × polyphony, fitted on real
/// performances (`decoding.json` beside a model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteEnds {
    pub format: u32,
    /// Where the counts come from (a dataset's train split).
    pub source: String,
    /// Performances (examples) counted.
    pub examples: usize,
    pub age_edges_seconds: Vec<f64>,
    pub register_edges: Vec<u8>,
    pub polyphony_edges: Vec<usize>,
    /// Events during which a note of each cell sounded; cell `(age · REGISTERS + register) ·
    /// POLYPHONIES + polyphony`.
    pub exposures: Vec<u64>,
    /// Of those, the events that ended it.
    pub ends: Vec<u64>,
    /// `ends / exposures` shrunk toward the age bin's own rate.
    pub hazard: Vec<f64>,
}

/// [`NoteEnds`] and how strongly it is mixed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decoding {
    pub note_ends: NoteEnds,
    /// 0: the network alone; 1: the counted chances alone.
    pub weight: f64,
}

impl Decoding {
    /// The weight `generate --decoding` uses unless told.
    pub const DEFAULT_WEIGHT: f64 = 0.5;

    pub fn new(note_ends: NoteEnds, weight: f64) -> Result<Self, DecodingError> {
        Self::check_weight(weight)?;
        Ok(Decoding { note_ends, weight })
    }

    /// A weight is a number from 0 to 1.
    pub fn check_weight(weight: f64) -> Result<(), DecodingError> {
        if weight.is_finite() && (0.0..=1.0).contains(&weight) {
            Ok(())
        } else {
            Err(DecodingError::Weight(weight))
        }
    }
}

fn age_bin(age_steps: i64) -> usize {
    let s = age_steps as f64 / STEPS_PER_SECOND as f64;
    AGE_EDGES_SECONDS.iter().position(|&e| s < e).unwrap_or(AGES - 1)
}

fn cell(age_steps: i64, pitch: u8, polyphony: usize) -> usize {
    let reg = REGISTER_EDGES.iter().position(|&e| pitch < e).unwrap_or(REGISTERS - 1);
    let poly = POLYPHONY_EDGES.iter().position(|&e| polyphony < e).unwrap_or(POLYPHONIES - 1);
    (age_bin(age_steps) * REGISTERS + reg) * POLYPHONIES + poly
}

/// Counts of one walk over events: exposures and ends per cell.
struct Counts {
    exposures: Vec<u64>,
    ends: Vec<u64>,
}

impl Counts {
    /// Walks one performance: before each event, every sounding note is exposed once, and
    /// ended when the event is its NOTE_OFF. A NOTE_OFF of a note not seen starting (a window
    /// that begins mid-note) is not counted.
    fn add(&mut self, events: impl Iterator<Item = Event>) {
        let mut sounding: Vec<(u8, i64)> = Vec::new();
        let mut now = 0i64;
        for e in events {
            let n = sounding.len();
            for &(p, onset) in &sounding {
                let c = cell(now - onset, p, n);
                self.exposures[c] += 1;
                if e == Event::NoteOff(p) {
                    self.ends[c] += 1;
                }
            }
            match e {
                Event::NoteOn(p) if !sounding.iter().any(|&(q, _)| q == p) => sounding.push((p, now)),
                Event::NoteOff(p) => sounding.retain(|&(q, _)| q != p),
                Event::TimeShift(s) => now += s as i64,
                _ => {}
            }
        }
    }
}

impl NoteEnds {
    /// Fits the counts on performances given as class indices of `config`.
    pub fn fit<I>(config: Config, performances: I, source: &str) -> Result<Self, DecodingError>
    where
        I: IntoIterator<Item = Vec<Token>>,
    {
        let oh = config.one_hot();
        let mut counts = Counts { exposures: vec![0; CELLS], ends: vec![0; CELLS] };
        let mut examples = 0;
        for tokens in performances {
            counts.add(tokens.iter().filter_map(|&t| oh.decode(t as usize)));
            examples += 1;
        }
        if counts.ends.iter().sum::<u64>() == 0 {
            return Err(DecodingError::NoData(format!("{source}: {examples} performances end no note")));
        }
        let hazard = smoothed(&counts);
        Ok(NoteEnds {
            format: FORMAT,
            source: source.to_string(),
            examples,
            age_edges_seconds: AGE_EDGES_SECONDS.to_vec(),
            register_edges: REGISTER_EDGES.to_vec(),
            polyphony_edges: POLYPHONY_EDGES.to_vec(),
            exposures: counts.exposures,
            ends: counts.ends,
            hazard,
        })
    }

    /// The chance that the next event ends a note of `pitch` sounding for `age_steps`, while
    /// `polyphony` notes sound.
    pub fn hazard(&self, age_steps: i64, pitch: u8, polyphony: usize) -> f64 {
        self.hazard[cell(age_steps, pitch, polyphony)]
    }

    /// Per age bin ([`AGE_EDGES_SECONDS`]), over registers: endings per note-event and the
    /// note-events counted.
    pub fn age_rates(&self) -> Vec<(f64, u64)> {
        let per_age = REGISTERS * POLYPHONIES;
        (0..AGES)
            .map(|a| {
                let r = a * per_age..(a + 1) * per_age;
                let (e, x): (u64, u64) = (self.ends[r.clone()].iter().sum(), self.exposures[r].iter().sum());
                (e as f64 / x.max(1) as f64, x)
            })
            .collect()
    }

    /// Writes `path` atomically (JSON).
    pub fn save(&self, path: &Path) -> Result<(), DecodingError> {
        cadenza_atomic::write_json(path, self)
            .map_err(|e| DecodingError::File { path: path.display().to_string(), msg: e.to_string() })
    }

    /// Reads and checks a saved model: the bins it was fitted with must be these, and every
    /// chance a number in [0, 1].
    pub fn load(path: &Path) -> Result<Self, DecodingError> {
        let err = |msg: String| DecodingError::File { path: path.display().to_string(), msg };
        let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let n: NoteEnds =
            serde_json::from_slice(&bytes).map_err(|e| err(format!("not a note-end model (decoding.json): {e}")))?;
        if n.format != FORMAT
            || n.age_edges_seconds != AGE_EDGES_SECONDS
            || n.register_edges != REGISTER_EDGES
            || n.polyphony_edges != POLYPHONY_EDGES
        {
            return Err(err(format!("format {} with other bins than this build's (format {FORMAT})", n.format)));
        }
        if n.hazard.len() != CELLS || n.exposures.len() != CELLS || n.ends.len() != CELLS {
            return Err(err(format!("{} chances where {CELLS} are needed", n.hazard.len())));
        }
        if let Some(h) = n.hazard.iter().find(|h| !(h.is_finite() && (0.0..=1.0).contains(*h))) {
            return Err(err(format!("a chance of {h}, outside [0, 1]")));
        }
        Ok(n)
    }
}

/// Each cell's rate shrunk toward its age bin's: `(ends + k·age_rate) / (exposures + k)`.
fn smoothed(c: &Counts) -> Vec<f64> {
    let per_age = REGISTERS * POLYPHONIES;
    let total = c.ends.iter().sum::<u64>() as f64 / c.exposures.iter().sum::<u64>().max(1) as f64;
    let age_rate: Vec<f64> = (0..AGES)
        .map(|a| {
            let r = a * per_age..(a + 1) * per_age;
            let (e, x): (u64, u64) = (c.ends[r.clone()].iter().sum(), c.exposures[r].iter().sum());
            (e as f64 + SHRINK_EVENTS * total) / (x as f64 + SHRINK_EVENTS)
        })
        .collect();
    (0..CELLS)
        .map(|i| {
            let prior = age_rate[i / per_age];
            (c.ends[i] as f64 + SHRINK_EVENTS * prior) / (c.exposures[i] as f64 + SHRINK_EVENTS)
        })
        .collect()
}

/// The notes sounding in one sampled row: open count and onset step per pitch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sounding {
    pub open: [u16; 128],
    pub onset: [i64; 128],
}

impl Default for Sounding {
    fn default() -> Self {
        Sounding { open: [0; 128], onset: [0; 128] }
    }
}

impl Sounding {
    pub fn count(&self) -> usize {
        self.open.iter().filter(|&&o| o > 0).count()
    }

    /// Applies one event at step `now` (the step before its own shift).
    pub fn push(&mut self, e: Option<Event>, now: i64) {
        match e {
            Some(Event::NoteOn(p)) => {
                let o = &mut self.open[p as usize & 127];
                if *o == 0 {
                    self.onset[p as usize & 127] = now;
                }
                *o = o.saturating_add(1);
            }
            Some(Event::NoteOff(p)) => {
                let o = &mut self.open[p as usize & 127];
                *o = o.saturating_sub(1);
            }
            _ => {}
        }
    }
}

/// Mixes the note-end chances into `probs` (a normalised distribution over classes) at step
/// `now`: each sounding pitch's NOTE_OFF class (`off_class[p]`) gets `(1 − w)·p + w·h`, capped
/// together at [`MAX_END_MASS`], and every other class is scaled to fill what is left.
pub(crate) fn mix_note_ends(probs: &mut [f64], d: &Decoding, s: &Sounding, now: i64, off_class: &[usize; 128]) {
    let polyphony = s.count();
    if polyphony == 0 || d.weight == 0.0 {
        return;
    }
    let w = d.weight;
    let (mut old, mut new) = (0.0f64, 0.0f64);
    let mut mixed = [f64::NAN; 128];
    for p in 0..128u8 {
        if s.open[p as usize] == 0 {
            continue;
        }
        let q = probs[off_class[p as usize]];
        let h = d.note_ends.hazard(now - s.onset[p as usize], p, polyphony);
        old += q;
        mixed[p as usize] = (1.0 - w) * q + w * h;
        new += mixed[p as usize];
    }
    let cap = if new > MAX_END_MASS { MAX_END_MASS / new } else { 1.0 };
    let rest = 1.0 - old;
    let others = if rest > 1e-12 { (1.0 - new * cap) / rest } else { 0.0 };
    probs.iter_mut().for_each(|q| *q *= others);
    for (p, m) in mixed.iter().enumerate() {
        if !m.is_nan() {
            probs[off_class[p]] = m * cap;
        }
    }
    let sum: f64 = probs.iter().sum();
    if sum > 0.0 && (sum - 1.0).abs() > 1e-9 {
        probs.iter_mut().for_each(|q| *q /= sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends_at(cfg: Config) -> NoteEnds {
        // Two notes: 60 held 0.3 s, 64 held 2 s; events in class indices.
        let oh = cfg.one_hot();
        let ev = [
            Event::NoteOn(60),
            Event::NoteOn(64),
            Event::TimeShift(30),
            Event::NoteOff(60),
            Event::TimeShift(100),
            Event::TimeShift(70),
            Event::NoteOff(64),
        ];
        let tokens: Vec<Token> = ev.iter().map(|e| oh.encode(e).unwrap() as Token).collect();
        NoteEnds::fit(cfg, vec![tokens], "test").unwrap()
    }

    #[test]
    fn counts_expose_every_sounding_note_once_per_event() {
        let n = ends_at(Config::PerformanceWithDynamics);
        assert_eq!(n.ends.iter().sum::<u64>(), 2);
        // 60 is exposed at the second NOTE_ON, the shift and its NOTE_OFF (3 events); 64 at
        // the shift, 60's NOTE_OFF, two shifts and its own NOTE_OFF (5).
        assert_eq!(n.exposures.iter().sum::<u64>(), 8);
        // 60 ended at 0.3 s (bin 0.2–0.5 s), two notes sounding, middle register.
        assert_eq!(n.ends[cell(30, 60, 2)], 1);
        assert_eq!(n.ends[cell(200, 64, 1)], 1);
        assert!(n.hazard.iter().all(|h| (0.0..=1.0).contains(h)));
    }

    #[test]
    fn mixing_moves_the_endings_and_keeps_a_distribution() {
        let n = ends_at(Config::PerformanceWithDynamics);
        let d = Decoding::new(n, 1.0).unwrap();
        let mut off_class = [0usize; 128];
        for (p, k) in off_class.iter_mut().enumerate() {
            *k = 128 + p;
        }
        let mut s = Sounding::default();
        s.push(Some(Event::NoteOn(64)), 0);
        let c = Config::PerformanceWithDynamics.one_hot().num_classes();
        let mut probs = vec![1.0 / c as f64; c];
        mix_note_ends(&mut probs, &d, &s, 200, &off_class);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((probs[128 + 64] - d.note_ends.hazard(200, 64, 1)).abs() < 1e-9);
        assert!(Decoding::new(d.note_ends.clone(), 1.5).is_err());
    }
}
