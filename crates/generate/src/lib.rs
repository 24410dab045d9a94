//! Generation with Magenta's Performance RNN semantics (magenta-compat.md §5), batched.
//!
//! * [`options`]: what to generate ([`GenerateOptions`], [`Primer`], [`Controls`]) and the
//!   errors a bad request gives ([`GenerateError`]).
//! * [`primer`]: primer files, chords and melodies → the primer performance, as Magenta's
//!   `performance_rnn_generate.py` and `PerformanceRnnSequenceGenerator` build it.
//! * [`sampler`]: [`generate`]: every output and every beam in one [`cadenza_model::Stepper`]
//!   batch, ancestral sampling and Magenta's beam search.
//! * [`decoding`]: note-end chances counted on real performances ([`NoteEnds`]) and mixed into
//!   the network's at every step ([`Decoding`]).
//! * [`bench`]: wall time of a 60 s generation, batch 1 and batch 16.
//!
//! Semantics, in short: `num_steps` counts 10 ms steps in total, primer included; the empty
//! primer is one TIME_SHIFT(100) starting at step 1; the primer is fed from the zero state;
//! logits are divided by the temperature and always sampled (beam search included); scores
//! are sums of log-probabilities under the tempered distribution; the output is cut to
//! exactly `num_steps` with `set_length` and decoded with notes capped at 5 s.
#![forbid(unsafe_code)]

pub mod bench;
pub mod decoding;
pub mod options;
pub mod primer;
pub mod sampler;

pub use bench::{bench, BenchResult};
pub use decoding::{Decoding, DecodingError, NoteEnds};
pub use options::{Controls, GenerateError, GenerateOptions, NoteEvents, Primer};
pub use sampler::{check_options, generate, Sample};
