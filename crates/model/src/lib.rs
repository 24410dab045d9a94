//! The Performance RNN: Magenta's `BasicLSTMCell` stack with TensorFlow's exact numerics.
//!
//! * [`kernels`]: the LSTM layer's fused CPU forward and backward (the speed-critical part).
//! * [`weights`]: weights in TensorFlow's layout, from and to `.mag` bundles and model folders.
//! * [`inference`]: whole-sequence likelihood and step-by-step state for sampling.

pub mod inference;
pub mod kernels;
pub mod weights;

pub use inference::{log_likelihood, sequence_logits, Stepper};
pub use weights::{ModelConfig, ModelError, ModelFile, TensorNames, Weights};
