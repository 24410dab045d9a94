//! `cadenza train`: fine-tune (or train from scratch) a Performance RNN on a dataset.

use super::args::{keep_prob, non_negative, positive};
use anyhow::Result;
use cadenza_train::{EarlyStop, HParamsOverrides, Schedule};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// A dataset folder made by `cadenza dataset`.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Where checkpoints, logs and curves go.
    #[arg(long)]
    pub run_dir: PathBuf,
    /// Start from a Magenta .mag bundle or a Cadenza model folder (default: from scratch).
    #[arg(long)]
    pub init: Option<PathBuf>,
    #[command(flatten)]
    pub layers: super::args::LayersArg,
    /// Train until this step (counted across resumes).
    #[arg(long, default_value_t = 1000)]
    pub steps: u64,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Dropout keep probability on every layer's output (Magenta's dropout_keep_prob; 0.5 keeps half).
    #[arg(long, value_parser = keep_prob)]
    pub dropout: Option<f32>,
    #[arg(long, value_parser = positive)]
    pub learning_rate: Option<f64>,
    /// L1 weight on kernels and FC weights (not biases); may change on --resume.
    #[arg(long, value_parser = non_negative)]
    pub l1: Option<f64>,
    /// L2 weight on the same tensors.
    #[arg(long, value_parser = non_negative)]
    pub l2: Option<f64>,
    /// The modified model's losses (none by default; may change on --resume).
    #[command(flatten)]
    pub recipe: super::recipe::RecipeArgs,
    #[command(flatten)]
    pub realism: super::realism::RealismArgs,
    /// Triangular cyclical learning rate: lower=0.00025,upper=0.001,step_size=470.
    #[arg(long, value_parser = Schedule::parse_clr, conflicts_with = "lr_decay")]
    pub clr: Option<Schedule>,
    /// Exponential decay: rate=0.95,steps=1000.
    #[arg(long, value_parser = Schedule::parse_exponential)]
    pub lr_decay: Option<Schedule>,
    /// Magenta-style overrides: batch_size=48,dropout_keep_prob=0.5,rnn_layer_sizes=[64,64].
    #[arg(long, default_value = "", value_parser = HParamsOverrides::parse)]
    pub hparams: HParamsOverrides,
    /// Early stopping on the eval set: mode=min,target_loss=0.12,patience=10 or mode=max,target_acc=0.9,patience=10 (patience in evaluations; optional min_delta).
    #[arg(long, value_parser = EarlyStop::parse)]
    pub early_stop: Option<EarlyStop>,
    #[arg(long, default_value_t = 100)]
    pub eval_every: u64,
    /// Evaluate on at most this many eval examples.
    #[arg(long)]
    pub eval_examples: Option<usize>,
    #[arg(long, default_value_t = 10)]
    pub summary_every: u64,
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: u64,
    #[arg(long, default_value_t = 10.0)]
    pub checkpoint_minutes: f64,
    /// Checkpoints to keep besides the best.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run in --run-dir from its latest checkpoint; hyper-parameters given now override the saved ones (and the change is logged).
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub device: super::args::DeviceArg,
}

pub fn run(a: TrainArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    if a.recipe.recipe.is_some_and(|r| r.realism) {
        return run_realism(a, cancel);
    }
    let flags = HParamsOverrides {
        batch_size: a.batch_size,
        dropout_keep_prob: a.dropout,
        learning_rate: a.learning_rate,
        l1: a.l1,
        l2: a.l2,
        schedule: a.clr.or(a.lr_decay),
        ..a.recipe.overrides()
    };
    let overrides = a.hparams.then(&flags);
    let opts = cadenza_train::TrainOptions {
        cancel,
        dataset: a.dataset,
        run_dir: a.run_dir,
        init: a.init,
        layers: a.layers.layers,
        overrides,
        early_stop: a.early_stop,
        steps: a.steps,
        eval_every: a.eval_every,
        summary_every: a.summary_every,
        checkpoint_every: a.checkpoint_every,
        checkpoint_minutes: a.checkpoint_minutes,
        keep_last: a.keep,
        eval_examples: a.eval_examples,
        seed: a.seed,
        resume: a.resume,
        progress: true,
        device: a.device.device,
        on_event: cadenza_train::OnEvent::new(|e| eprintln!("{e}")),
    };
    let info = cadenza_train::train(&opts).map_err(|e| match e {
        cadenza_train::TrainError::RunExists(p) => {
            anyhow::anyhow!("{p}: already holds a run; pass --resume to continue it, or choose another --run-dir")
        }
        e => e.into(),
    })?;
    eprintln!(
        "{}: stopped at step {} ({}); best checkpoint {} (eval {} {:.5})",
        opts.run_dir.display(),
        info.step,
        info.reason,
        info.best_checkpoint.as_deref().unwrap_or("none"),
        info.best_metric.as_deref().unwrap_or("loss"),
        info.best_value.unwrap_or(f64::NAN)
    );
    Ok(())
}

/// `--recipe realism`: the model given by `--init` trained on its own samples.
fn run_realism(a: TrainArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    let Some(init) = a.init.clone() else {
        anyhow::bail!("--recipe realism trains a model on its own samples: give the model to start from with --init");
    };
    super::realism::run(cadenza_realism::RealismOptions {
        dataset: a.dataset,
        init,
        run_dir: a.run_dir,
        steps: a.steps,
        eval_every: a.eval_every,
        checkpoint_every: a.checkpoint_every,
        keep_last: a.keep,
        eval_examples: a.eval_examples,
        seed: a.seed,
        resume: a.resume,
        hparams: a.realism.hparams(),
        cancel,
    })
}
