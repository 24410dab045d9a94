//! Training the Performance RNN with burn.
//!
//! * [`network`]: the model as a burn module (every Magenta config), loss and batches.
//! * [`train`]: the training loop (open or resume, step, evaluate, checkpoint, stop).
//! * [`run_dir`]: the run folder (checkpoints written whole, `best/`, `log.txt`, resume state);
//!   each checkpoint's files carry CRC32C checksums that resuming checks.
//! * [`event`]: what training tells the person running it (the binary prints it).
//! * [`eval`]: evaluation with dropout off, with the musical measures.
//! * [`lr_find`]: the learning-rate range test.
//! * [`logs`]: `metrics.csv`, TensorBoard event files and the curves.
//! * [`lstm_op`]: the LSTM layer as one op — fused CPU kernels with a hand-written backward
//!   on burn's `Flex` backend, composed tensor ops on any other backend.
//! * [`losses`]: the modified model's differentiable rhythm and harmony losses.
//! * [`recipe`]: which of them, how much of each, and the named recipes.
//! * [`device`]: the CPU (fused kernels) or, with the `vulkan` feature, a Vulkan GPU.

pub mod bench;
pub mod checksums;
mod data;
pub mod device;
pub mod error;
pub mod eval;
pub mod event;
pub mod hparams;
pub mod logs;
pub mod losses;
pub mod lr_find;
pub mod lstm_op;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod recipe;
pub mod run_dir;
pub mod stop;
pub mod train;

pub use device::{DeviceChoice, Selected};
pub use eval::{musical_shares, MusicalShares};
pub use event::{OnEvent, TrainEvent};
pub use hparams::{EarlyStop, HParams, HParamsOverrides, Schedule, StopMode};
pub use losses::{HarmonyCost, RhythmCost, ShiftError};
pub use metrics::Metrics;
pub use network::{Batch, Output, PerformanceRnn};
pub use recipe::{Recipe, RecipeError};
pub use train::{
    evaluate, evaluate_report, lr_find, train, Cancel, EvalReport, LrFind, LrFindOptions, LrPoint, StopInfo,
    StopReason, TrainError, TrainOptions, TrainState,
};
