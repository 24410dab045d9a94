//! Notes → performance events → model inputs and labels, exactly as Magenta's
//! `performance_lib`, `performance_encoder_decoder` and `performance_controls` do it, so
//! that a Magenta checkpoint sees the same inputs and a Cadenza dataset the same labels.
//!
//! * [`Performance`]: the event list of a quantised sequence, and back to notes.
//! * [`OneHot`]: the 356/388-class index layout that decides weight compatibility.
//! * [`controls`]: note-density and pitch-class-histogram conditioning signals.
//! * [`rhythm`]: the simple-ratio bins of successive inter-onset intervals, and the metrical
//!   grid of score music.
//! * [`Config`]: the nine Performance RNN configs and their input encoders.
#![forbid(unsafe_code)]

pub mod config;
pub mod controls;
mod event;
mod onehot;
pub mod pipeline;
pub mod rhythm;

pub use config::{Config, ControlValues, EncodedExample, Token};
pub use event::{
    velocity_bin_to_velocity, velocity_to_bin, Event, NoteEvent, NotePairing, NotePerformance, Performance,
    PerformanceError,
};
pub use onehot::OneHot;

/// 10 ms per step, as every Performance RNN config.
pub const STEPS_PER_SECOND: u32 = 100;
/// Longest single TIME_SHIFT, 1 s.
pub const MAX_SHIFT_STEPS: u32 = 100;
/// One-hot index of TIME_SHIFT(100): Magenta's default event and "no event" label.
pub const DEFAULT_EVENT_INDEX: usize = 355;
