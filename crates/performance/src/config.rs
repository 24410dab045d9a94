//! The nine Performance RNN configs of Magenta's `performance_model.py`, and how each turns
//! an event list into model inputs and labels.
//!
//! A stored example is a list of *tokens* (class indices, `u16`): one per event for the
//! event-based configs, six per note for the note encoding. Inputs are derived from tokens
//! when a batch is built, so one dataset format serves every config.

use crate::controls;
use crate::event::{Event, NotePerformance, Performance};
use crate::onehot::OneHot;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

pub type Token = u16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Config {
    Performance,
    PerformanceWithDynamics,
    PerformanceWithDynamicsCompact,
    PerformanceWithDynamicsAndModuloEncoding,
    PerformanceWithDynamicsAndNoteEncoding,
    DensityConditionedPerformanceWithDynamics,
    PitchConditionedPerformanceWithDynamics,
    MulticonditionedPerformanceWithDynamics,
    OptionalMulticonditionedPerformanceWithDynamics,
}

/// Note encoding sub-softmax sizes: shift major/minor, pitch, velocity, duration major/minor.
pub const NOTE_CLASSES: [usize; 6] = [13, 77, 128, 32, 25, 40];

/// One example as stored: tokens plus, for the optional-conditioning config, whether the
/// controls were disabled when it was encoded (Magenta encodes each performance both ways).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedExample {
    pub tokens: Vec<Token>,
    pub disable_conditioning: bool,
}

/// Control values requested at generation time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlValues {
    pub notes_per_second: f64,
    pub pitch_histogram: [f64; 12],
    pub disable: bool,
}

impl Default for ControlValues {
    fn default() -> Self {
        ControlValues { notes_per_second: controls::DEFAULT_DENSITY, pitch_histogram: [1.0; 12], disable: false }
    }
}

impl Config {
    pub const ALL: [Config; 9] = [
        Config::Performance,
        Config::PerformanceWithDynamics,
        Config::PerformanceWithDynamicsCompact,
        Config::PerformanceWithDynamicsAndModuloEncoding,
        Config::PerformanceWithDynamicsAndNoteEncoding,
        Config::DensityConditionedPerformanceWithDynamics,
        Config::PitchConditionedPerformanceWithDynamics,
        Config::MulticonditionedPerformanceWithDynamics,
        Config::OptionalMulticonditionedPerformanceWithDynamics,
    ];

    /// The `--config` key in Magenta.
    pub fn key(&self) -> &'static str {
        match self {
            Config::Performance => "performance",
            Config::PerformanceWithDynamics => "performance_with_dynamics",
            Config::PerformanceWithDynamicsCompact => "performance_with_dynamics_compact",
            Config::PerformanceWithDynamicsAndModuloEncoding => "performance_with_dynamics_and_modulo_encoding",
            Config::PerformanceWithDynamicsAndNoteEncoding => "performance_with_dynamics_and_note_encoding",
            Config::DensityConditionedPerformanceWithDynamics => "density_conditioned_performance_with_dynamics",
            Config::PitchConditionedPerformanceWithDynamics => "pitch_conditioned_performance_with_dynamics",
            Config::MulticonditionedPerformanceWithDynamics => "multiconditioned_performance_with_dynamics",
            Config::OptionalMulticonditionedPerformanceWithDynamics => {
                "optional_multiconditioned_performance_with_dynamics"
            }
        }
    }

    /// `GeneratorDetails.id` in a `.mag` bundle; the compact config shares its parent's.
    pub fn generator_id(&self) -> &'static str {
        match self {
            Config::PerformanceWithDynamicsCompact => "performance_with_dynamics",
            c => c.key(),
        }
    }

    pub fn from_key(key: &str) -> Option<Config> {
        Config::ALL.iter().copied().find(|c| c.key() == key)
    }

    pub fn num_velocity_bins(&self) -> u8 {
        match self {
            Config::Performance => 0,
            _ => 32,
        }
    }

    pub fn one_hot(&self) -> OneHot {
        OneHot::new(self.num_velocity_bins())
    }

    pub fn is_note_encoding(&self) -> bool {
        matches!(self, Config::PerformanceWithDynamicsAndNoteEncoding)
    }

    pub fn uses_density(&self) -> bool {
        matches!(
            self,
            Config::DensityConditionedPerformanceWithDynamics
                | Config::MulticonditionedPerformanceWithDynamics
                | Config::OptionalMulticonditionedPerformanceWithDynamics
        )
    }

    pub fn uses_histogram(&self) -> bool {
        matches!(
            self,
            Config::PitchConditionedPerformanceWithDynamics
                | Config::MulticonditionedPerformanceWithDynamics
                | Config::OptionalMulticonditionedPerformanceWithDynamics
        )
    }

    pub fn optional_conditioning(&self) -> bool {
        matches!(self, Config::OptionalMulticonditionedPerformanceWithDynamics)
    }

    pub fn is_conditioned(&self) -> bool {
        self.uses_density() || self.uses_histogram()
    }

    /// Tokens per event: 6 for the note encoding, else 1.
    pub fn token_width(&self) -> usize {
        if self.is_note_encoding() {
            6
        } else {
            1
        }
    }

    /// Size of each softmax: one for event configs, six for the note encoding.
    pub fn class_sizes(&self) -> Vec<usize> {
        if self.is_note_encoding() {
            NOTE_CLASSES.to_vec()
        } else {
            vec![self.one_hot().num_classes()]
        }
    }

    pub fn num_logits(&self) -> usize {
        self.class_sizes().iter().sum()
    }

    /// Width of the control part of the input (flag first for the optional config).
    pub fn control_size(&self) -> usize {
        let mut n = 0;
        if self.uses_density() {
            n += controls::DENSITY_BINS;
        }
        if self.uses_histogram() {
            n += 12;
        }
        if self.optional_conditioning() {
            n += 1;
        }
        n
    }

    /// Width of the event part of the input as Magenta's placeholder sees it.
    pub fn event_input_size(&self) -> usize {
        match self {
            Config::PerformanceWithDynamicsCompact => 1,
            Config::PerformanceWithDynamicsAndModuloEncoding => 16,
            Config::PerformanceWithDynamicsAndNoteEncoding => NOTE_CLASSES.iter().sum(),
            c => c.one_hot().num_classes(),
        }
    }

    pub fn input_size(&self) -> usize {
        self.control_size() + self.event_input_size()
    }

    /// Rows of the LSTM's first kernel that the event part feeds: the compact config one-hots
    /// its index inside the graph, so its weights have the one-hot shape.
    pub fn event_feature_size(&self) -> usize {
        match self {
            Config::PerformanceWithDynamicsCompact => self.one_hot().num_classes(),
            c => c.event_input_size(),
        }
    }

    /// Whether the event part of the input is a single one-hot (a row gather in the model).
    pub fn event_is_one_hot(&self) -> bool {
        !matches!(
            self,
            Config::PerformanceWithDynamicsAndModuloEncoding | Config::PerformanceWithDynamicsAndNoteEncoding
        )
    }

    /// Tokens of an event performance; `None` when an event has no class.
    pub fn tokens(&self, perf: &Performance) -> Option<Vec<Token>> {
        let oh = self.one_hot();
        perf.events.iter().map(|e| oh.encode(e).map(|i| i as Token)).collect()
    }

    pub fn note_tokens(perf: &NotePerformance) -> Vec<Token> {
        let mut out = Vec::with_capacity(perf.events.len() * 6);
        for e in &perf.events {
            out.extend_from_slice(&note_labels(e.shift, e.pitch, e.velocity_bin, e.duration));
        }
        out
    }

    /// Events of event tokens (not for the note encoding).
    pub fn events(&self, tokens: &[Token]) -> Vec<Event> {
        let oh = self.one_hot();
        tokens.iter().filter_map(|&t| oh.decode(t as usize)).collect()
    }

    /// The label of the default event: TIME_SHIFT(100), or (0, 0, 60, 0, 0, 0) for notes.
    pub fn default_label(&self) -> Vec<Token> {
        if self.is_note_encoding() {
            vec![0, 0, 60, 0, 0, 0]
        } else {
            vec![crate::DEFAULT_EVENT_INDEX as Token]
        }
    }

    /// Control features for every event position (`n` rows of `control_size()`), from the
    /// events themselves as in training.
    pub fn control_rows(&self, tokens: &[Token], disable: bool) -> Vec<Vec<f32>> {
        if !self.is_conditioned() {
            return Vec::new();
        }
        let events = self.events(tokens);
        let dens = if self.uses_density() { controls::density_sequence(&events, 100) } else { Vec::new() };
        let hist = if self.uses_histogram() { controls::histogram_sequence(&events, 100) } else { Vec::new() };
        (0..events.len())
            .map(|i| {
                let v = ControlValues {
                    notes_per_second: dens.get(i).copied().unwrap_or(controls::DEFAULT_DENSITY),
                    pitch_histogram: hist.get(i).copied().unwrap_or([1.0; 12]),
                    disable,
                };
                self.encode_controls(&v)
            })
            .collect()
    }

    /// One control row from raw values (what generation asks for).
    pub fn encode_controls(&self, v: &ControlValues) -> Vec<f32> {
        let mut row = Vec::with_capacity(self.control_size());
        if self.optional_conditioning() {
            if v.disable {
                row.push(1.0);
                row.resize(self.control_size(), 0.0);
                return row;
            }
            row.push(0.0);
        }
        if self.uses_density() {
            let b = controls::density_bin(v.notes_per_second);
            row.extend((0..controls::DENSITY_BINS).map(|i| if i == b { 1.0 } else { 0.0 }));
        }
        if self.uses_histogram() {
            row.extend(controls::normalize_histogram(&v.pitch_histogram).iter().map(|&x| x as f32));
        }
        row
    }

    /// Writes the event part of the input for one event (`event_input_size()` floats).
    pub fn encode_event_input(&self, token: &[Token], out: &mut [f32]) {
        out.iter_mut().for_each(|x| *x = 0.0);
        match self {
            Config::PerformanceWithDynamicsCompact => out[0] = token[0] as f32,
            Config::PerformanceWithDynamicsAndModuloEncoding => modulo_input(self.one_hot(), token[0] as usize, out),
            Config::PerformanceWithDynamicsAndNoteEncoding => {
                let mut off = 0;
                for (k, &n) in NOTE_CLASSES.iter().enumerate() {
                    out[off + token[k] as usize] = 1.0;
                    off += n;
                }
            }
            _ => out[token[0] as usize] = 1.0,
        }
    }

    /// Magenta's `encode`: `n − 1` input rows (control at i+1, then event i) and the labels
    /// (tokens of events 1..n). Inputs are dense; the model uses a gather for one-hots.
    pub fn encode(&self, ex: &EncodedExample) -> (Vec<Vec<f32>>, Vec<Vec<Token>>) {
        let w = self.token_width();
        let n = ex.tokens.len() / w;
        if n < 2 {
            return (Vec::new(), Vec::new());
        }
        let ctrl = self.control_rows(&ex.tokens, ex.disable_conditioning);
        let cs = self.control_size();
        let mut inputs = Vec::with_capacity(n - 1);
        let mut labels = Vec::with_capacity(n - 1);
        for i in 0..n - 1 {
            let mut row = vec![0.0f32; self.input_size()];
            if cs > 0 {
                row[..cs].copy_from_slice(&ctrl[i + 1]);
            }
            self.encode_event_input(&ex.tokens[i * w..(i + 1) * w], &mut row[cs..]);
            inputs.push(row);
            labels.push(ex.tokens[(i + 1) * w..(i + 2) * w].to_vec());
        }
        (inputs, labels)
    }
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Config::from_key(s).ok_or_else(|| {
            format!(
                "unknown config '{s}'; expected one of: {}",
                Config::ALL.iter().map(|c| c.key()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// Sub-labels of one note event: shift major/minor (77 per segment), pitch, velocity − 1,
/// duration − 1 major/minor (40 per segment).
pub fn note_labels(shift: u32, pitch: u8, velocity_bin: u8, duration: u32) -> [Token; 6] {
    let d = duration.saturating_sub(1);
    [
        (shift / 77) as Token,
        (shift % 77) as Token,
        pitch as Token,
        velocity_bin.saturating_sub(1) as Token,
        (d / 40) as Token,
        (d % 40) as Token,
    ]
}

fn modulo_input(oh: OneHot, index: usize, out: &mut [f32]) {
    let Some(e) = oh.decode(index) else { return };
    let cs = |a: f64| [a.cos() as f32, a.sin() as f32];
    match e {
        Event::NoteOn(p) | Event::NoteOff(p) => {
            let off = if matches!(e, Event::NoteOn(_)) { 0 } else { 5 };
            let n = cs((p as f64 * PI) / 72.0);
            let c = cs(((p % 12) as f64 * PI) / 6.0);
            out[off..off + 5].copy_from_slice(&[1.0, n[0], n[1], c[0], c[1]]);
        }
        Event::TimeShift(s) => {
            let a = cs(((s - 1) as f64 * 2.0 * PI) / oh.max_shift_steps as f64);
            out[10..13].copy_from_slice(&[1.0, a[0], a[1]]);
        }
        Event::Velocity(b) => {
            let a = cs(((b - 1) as f64 * 2.0 * PI) / oh.num_velocity_bins as f64);
            out[13..16].copy_from_slice(&[1.0, a[0], a[1]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_reference_table() {
        // (input_size, layer-0 kernel rows with H = 512, logits) from magenta-compat.md §1.8.
        let expect = [
            (356, 868, 356),
            (388, 900, 388),
            (1, 900, 388),
            (16, 528, 388),
            (315, 827, 315),
            (396, 908, 388),
            (400, 912, 388),
            (408, 920, 388),
            (409, 921, 388),
        ];
        for (c, (inp, rows, logits)) in Config::ALL.iter().zip(expect) {
            assert_eq!(c.input_size(), inp, "{c}");
            assert_eq!(c.control_size() + c.event_feature_size() + 512, rows, "{c}");
            assert_eq!(c.num_logits(), logits, "{c}");
        }
        assert_eq!(Config::PerformanceWithDynamicsCompact.generator_id(), "performance_with_dynamics");
        assert_eq!("performance".parse::<Config>().unwrap(), Config::Performance);
        assert!("nope".parse::<Config>().is_err());
    }

    #[test]
    fn modulo_golden() {
        let c = Config::PerformanceWithDynamicsAndModuloEncoding;
        let mut out = vec![9.0; 16];
        c.encode_event_input(&[60], &mut out);
        let expect = [1.0, -0.8660254, 0.5, 1.0, 0.0];
        for (a, b) in out[..5].iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
        assert!(out[5..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn conditioned_inputs_put_controls_first_at_next_position() {
        let c = Config::OptionalMulticonditionedPerformanceWithDynamics;
        // VEL, ON60, SHIFT 50, OFF60
        let tokens = vec![380, 60, 305, 188];
        let (inp, lab) = c.encode(&EncodedExample { tokens: tokens.clone(), disable_conditioning: false });
        assert_eq!(inp.len(), 3);
        assert_eq!(inp[0].len(), 409);
        assert_eq!(inp[0][0], 0.0);
        assert_eq!(inp[0][21 + 380], 1.0);
        assert_eq!(lab, vec![vec![60], vec![305], vec![188]]);
        let rows = c.control_rows(&tokens, false);
        assert_eq!(&inp[1][..21], &rows[2][..]);
        let (dis, _) = c.encode(&EncodedExample { tokens, disable_conditioning: true });
        assert_eq!(dis[0][0], 1.0);
        assert!(dis[0][1..21].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn note_labels_split_major_minor() {
        assert_eq!(note_labels(0, 60, 1, 1), [0, 0, 60, 0, 0, 0]);
        assert_eq!(note_labels(1000, 127, 32, 1000), [12, 76, 127, 31, 24, 39]);
    }
}
