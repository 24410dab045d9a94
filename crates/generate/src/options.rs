//! What to generate, and every way a request can be wrong.

use cadenza_performance::controls::DEFAULT_DENSITY;
use cadenza_performance::{Config, ControlValues};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thiserror::Error;

/// Magenta's `MAX_NOTE_DURATION_SECONDS`: the generator turns off any note after 5 s.
pub const MAX_NOTE_DURATION_SECONDS: f64 = 5.0;

#[derive(Debug, Error)]
pub enum GenerateError {
    /// The primer file cannot be read or parsed.
    #[error("primer {path}: {msg}")]
    PrimerFile { path: String, msg: String },
    /// A `--primer-pitches` / `--primer-melody` value out of range.
    #[error("primer: {0}")]
    PrimerValue(String),
    #[error("the primer lasts {primer_seconds:.2} s, which is not shorter than the {total_seconds:.2} s requested ({num_steps} steps); ask for more steps or a shorter primer")]
    PrimerTooLong { primer_seconds: f64, total_seconds: f64, num_steps: u32 },
    #[error("temperature must be a finite number greater than 0, got {0}")]
    Temperature(f64),
    #[error("{name} must be at least 1, got 0")]
    Zero { name: &'static str },
    #[error("pitch-class histogram {index} has {len} values; it needs 12 (C, C#, D, ..., B)")]
    HistogramLength { index: usize, len: usize },
    #[error("invalid control value: {0}")]
    Control(String),
    /// The weights do not fit their config, or the config cannot be generated from.
    #[error("model: {0}")]
    Model(String),
}

/// What the performance starts with (Magenta's `--primer_midi`, `--primer_pitches`,
/// `--primer_melody`; nothing gives the empty primer).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Primer {
    #[default]
    None,
    /// A MIDI or MusicXML file.
    File(PathBuf),
    /// A chord held for 0.5 s (a quarter at 120 qpm), velocity 100.
    Pitches(Vec<u8>),
    /// A `note_seq.Melody`: one value per 16th at 120 qpm (0.125 s); a pitch starts a note,
    /// -2 holds, -1 releases.
    Melody(Vec<i32>),
}

/// Control values over time for conditioned models. Each list is one value (constant) or
/// several: the generated span is divided into equal segments, one per value (Magenta's
/// `_step_to_value`). An empty list means "not given": the model's default with a warning.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Controls {
    pub notes_per_second: Vec<f64>,
    /// Each histogram needs 12 non-negative numbers (normalised by the encoder).
    pub pitch_class_histogram: Vec<Vec<f64>>,
    /// Only for the optional-conditioning config: `true` switches the controls off.
    pub disable_conditioning: Vec<bool>,
}

impl Controls {
    pub fn is_empty(&self) -> bool {
        self.notes_per_second.is_empty()
            && self.pitch_class_histogram.is_empty()
            && self.disable_conditioning.is_empty()
    }

    /// From a list of full control values over time (one segment each).
    pub fn from_values(values: &[ControlValues]) -> Self {
        Controls {
            notes_per_second: values.iter().map(|v| v.notes_per_second).collect(),
            pitch_class_histogram: values.iter().map(|v| v.pitch_histogram.to_vec()).collect(),
            disable_conditioning: values.iter().map(|v| v.disable).collect(),
        }
    }
}

/// Which NOTE_ON and NOTE_OFF events the sampler may draw.
///
/// Performance RNN's vocabulary can say "end pitch 61" while 61 is silent, or "start 60"
/// while 60 sounds. Magenta's encoder never writes either (0 of each in ASAP's performances);
/// its decoder drops the first, and keeps two overlapping notes of one pitch for the second.
/// Under-trained models do both a lot: Cadenza's ASAP base, 16 samples of 60 s, leaves a
/// quarter of its NOTE_OFFs unmatched and two thirds of its NOTE_ONs re-strike a sounding
/// pitch, so the notes it meant to end sound on until the 5 s cap. That is where the
/// piled-up polyphony of small models comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteEvents {
    /// Any event, as Magenta samples (the default: bit-for-bit Magenta's draws).
    #[default]
    Any,
    /// Only events the encoder could have written: a NOTE_OFF of a sounding pitch, a NOTE_ON
    /// of a silent one. The model's probability of ending (starting) *a* note is kept and
    /// shared among the allowed pitches in proportion to the model's own probabilities for
    /// them. Scores (`log_likelihood`) are those of this constrained distribution.
    Paired,
}

impl NoteEvents {
    /// The flag value (`any`, `paired`).
    pub const fn name(self) -> &'static str {
        match self {
            NoteEvents::Any => "any",
            NoteEvents::Paired => "paired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "any" => Some(NoteEvents::Any),
            "paired" => Some(NoteEvents::Paired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Total length in 10 ms steps, primer included (6000 = 60 s).
    pub num_steps: u32,
    pub temperature: f64,
    /// Independent samples, run as one batch.
    pub num_outputs: usize,
    pub beam_size: usize,
    pub branch_factor: usize,
    pub steps_per_iteration: usize,
    /// Output `i` draws from a ChaCha8 stream seeded with `seed + i`, so a batch and single
    /// runs with the matching seeds sample the same events.
    pub seed: u64,
    pub primer: Primer,
    /// Keep only the first this many seconds of a primer file (notes cut at that time).
    pub primer_seconds: Option<f64>,
    pub controls: Controls,
    /// Notes are capped at this length when decoding (Magenta: 5 s).
    pub max_note_duration: f64,
    /// Which NOTE_ON / NOTE_OFF events may be drawn.
    #[serde(default)]
    pub note_events: NoteEvents,
    /// Note-end chances mixed into the network's own (`None`: the network alone).
    #[serde(default)]
    pub decoding: Option<crate::decoding::Decoding>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            // Magenta's `--num_steps` default (magenta-compat.md §5.1).
            num_steps: 3000,
            temperature: 1.0,
            num_outputs: 1,
            beam_size: 1,
            branch_factor: 1,
            steps_per_iteration: 1,
            seed: 0,
            primer: Primer::None,
            primer_seconds: None,
            controls: Controls::default(),
            max_note_duration: MAX_NOTE_DURATION_SECONDS,
            note_events: NoteEvents::Any,
            decoding: None,
        }
    }
}

/// The checked, per-step view of [`Controls`] for one config.
#[derive(Debug, Clone)]
pub(crate) struct ControlPlan {
    pub density: Vec<f64>,
    pub histogram: Vec<[f64; 12]>,
    pub disable: Vec<bool>,
    /// Mean requested density (Magenta's event-count estimate), default 15.
    pub mean_density: f64,
    pub conditioned: bool,
}

/// `_step_to_value`: which of `n` values applies at `step` of `total`.
pub(crate) fn segment(step: i64, total: i64, n: usize) -> usize {
    if n <= 1 || total <= 0 {
        return 0;
    }
    let i = (step.max(0) as i128 * n as i128 / total as i128) as usize;
    i.min(n - 1)
}

impl ControlPlan {
    pub fn new(config: Config, c: &Controls, warnings: &mut Vec<String>) -> Result<Self, GenerateError> {
        for (i, &d) in c.notes_per_second.iter().enumerate() {
            if !(d.is_finite() && d >= 0.0) {
                return Err(GenerateError::Control(format!(
                    "notes per second value {i} is {d}; it must be a number >= 0"
                )));
            }
        }
        let mut histogram = Vec::with_capacity(c.pitch_class_histogram.len());
        for (i, h) in c.pitch_class_histogram.iter().enumerate() {
            if h.len() != 12 {
                return Err(GenerateError::HistogramLength { index: i, len: h.len() });
            }
            if let Some(x) = h.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                return Err(GenerateError::Control(format!(
                    "pitch-class histogram {i} holds {x}; values must be numbers >= 0"
                )));
            }
            let mut a = [0.0; 12];
            a.copy_from_slice(h);
            histogram.push(a);
        }
        let key = config.key();
        let mut plan = ControlPlan {
            density: Vec::new(),
            histogram: Vec::new(),
            disable: Vec::new(),
            mean_density: DEFAULT_DENSITY,
            conditioned: config.is_conditioned(),
        };
        if config.uses_density() {
            if c.notes_per_second.is_empty() {
                warnings.push(format!(
                    "notes per second not given for the {key} model; using the default {DEFAULT_DENSITY}"
                ));
                plan.density = vec![DEFAULT_DENSITY];
            } else {
                plan.density = c.notes_per_second.clone();
                plan.mean_density = plan.density.iter().sum::<f64>() / plan.density.len() as f64;
            }
        } else if !c.notes_per_second.is_empty() {
            warnings.push(format!("the {key} model is not conditioned on note density; notes per second ignored"));
        }
        if config.uses_histogram() {
            if histogram.is_empty() {
                warnings
                    .push(format!("pitch-class histogram not given for the {key} model; using the default (uniform)"));
                plan.histogram = vec![[1.0; 12]];
            } else {
                plan.histogram = histogram;
            }
        } else if !histogram.is_empty() {
            warnings.push(format!(
                "the {key} model is not conditioned on a pitch-class histogram; histogram (or key) ignored"
            ));
        }
        if config.optional_conditioning() {
            plan.disable = if c.disable_conditioning.is_empty() { vec![false] } else { c.disable_conditioning.clone() };
        } else if !c.disable_conditioning.is_empty() {
            warnings.push(format!("the {key} model has no optional conditioning; disable-conditioning ignored"));
        }
        Ok(plan)
    }

    /// Segment indices in force at `step` of `total`.
    pub fn index(&self, step: i64, total: i64) -> (usize, usize, usize) {
        (
            segment(step, total, self.density.len()),
            segment(step, total, self.histogram.len()),
            segment(step, total, self.disable.len()),
        )
    }

    pub fn values(&self, idx: (usize, usize, usize)) -> ControlValues {
        ControlValues {
            notes_per_second: self.density.get(idx.0).copied().unwrap_or(DEFAULT_DENSITY),
            pitch_histogram: self.histogram.get(idx.1).copied().unwrap_or([1.0; 12]),
            disable: self.disable.get(idx.2).copied().unwrap_or(false),
        }
    }
}

impl GenerateOptions {
    /// Checks everything that does not need the model.
    pub fn validate(&self) -> Result<(), GenerateError> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(GenerateError::Temperature(self.temperature));
        }
        for (name, v) in [
            ("beam size", self.beam_size),
            ("branch factor", self.branch_factor),
            ("steps per iteration", self.steps_per_iteration),
            ("number of outputs", self.num_outputs),
        ] {
            if v == 0 {
                return Err(GenerateError::Zero { name });
            }
        }
        if self.num_steps == 0 {
            return Err(GenerateError::Zero { name: "number of steps" });
        }
        if let Some(d) = &self.decoding {
            crate::decoding::Decoding::new(d.note_ends.clone(), d.weight)
                .map_err(|e| GenerateError::Control(e.to_string()))?;
        }
        if let Some(s) = self.primer_seconds {
            if !(s.is_finite() && s > 0.0) {
                return Err(GenerateError::PrimerValue(format!("primer seconds must be a number > 0, got {s}")));
            }
        }
        if !(self.max_note_duration.is_finite() && self.max_note_duration > 0.0) {
            return Err(GenerateError::PrimerValue(format!(
                "max note duration must be > 0, got {}",
                self.max_note_duration
            )));
        }
        Ok(())
    }
}

/// `"D minor"`, `"F# major"`, `"Bb"`, `"c#m"`, `"Ebmin"` → (tonic pitch class, minor).
pub fn parse_key(s: &str) -> Result<(u8, bool), String> {
    let t = s.trim();
    let mut chars = t.chars();
    let letter = chars.next().ok_or_else(|| "empty key".to_string())?;
    let base: i32 = match letter.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return Err(format!("key '{s}': expected a note name A-G, like \"D minor\" or \"F# major\"")),
    };
    let rest: String = chars.collect();
    let mut rest = rest.as_str();
    let mut alter = 0;
    loop {
        if let Some(r) = rest.strip_prefix('#').or_else(|| rest.strip_prefix('♯')) {
            alter += 1;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('b').or_else(|| rest.strip_prefix('♭')) {
            // "b" right after the letter is a flat, never the start of a mode word.
            alter -= 1;
            rest = r;
        } else {
            break;
        }
    }
    let mode = rest.trim().trim_start_matches('-').trim().to_ascii_lowercase();
    let minor = match mode.as_str() {
        "" | "major" | "maj" | "dur" => false,
        "m" | "minor" | "min" | "moll" => true,
        _ => return Err(format!("key '{s}': mode '{mode}' is neither major nor minor")),
    };
    Ok(((base + alter).rem_euclid(12) as u8, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(parse_key("D minor"), Ok((2, true)));
        assert_eq!(parse_key("F# major"), Ok((6, false)));
        assert_eq!(parse_key("Bb"), Ok((10, false)));
        assert_eq!(parse_key("c#m"), Ok((1, true)));
        assert_eq!(parse_key("Cb major"), Ok((11, false)));
        assert!(parse_key("H minor").is_err());
        assert!(parse_key("D dorian").is_err());
    }

    #[test]
    fn segments_split_the_span_equally() {
        assert_eq!(segment(0, 6000, 3), 0);
        assert_eq!(segment(1999, 6000, 3), 0);
        assert_eq!(segment(2000, 6000, 3), 1);
        assert_eq!(segment(5999, 6000, 3), 2);
        assert_eq!(segment(7000, 6000, 3), 2);
        assert_eq!(segment(10, 6000, 1), 0);
    }
}
