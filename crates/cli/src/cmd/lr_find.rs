//! `cadenza lr-find`: Smith's learning-rate range test.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct LrFindArgs {
    #[arg(long)]
    pub dataset: PathBuf,
    /// Output folder for lr_find.csv, lr_find.json, lr_find.svg and lr_find.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Start from this .mag or model folder (default: from scratch with --layers).
    #[arg(long)]
    pub init: Option<PathBuf>,
    #[command(flatten)]
    pub layers: super::args::LayersArg,
    #[arg(long, default_value_t = 1e-6, value_parser = super::args::positive)]
    pub min_lr: f64,
    #[arg(long, default_value_t = 1.0, value_parser = super::args::positive)]
    pub max_lr: f64,
    /// Steps from --min-lr to --max-lr.
    #[arg(long, default_value_t = 100)]
    pub steps: u64,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Magenta-style overrides: batch_size=48,dropout_keep_prob=0.5.
    #[arg(long, default_value = "", value_parser = cadenza_train::HParamsOverrides::parse)]
    pub hparams: cadenza_train::HParamsOverrides,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub device: super::args::DeviceArg,
}

pub fn run(a: LrFindArgs) -> Result<()> {
    let overrides = a.hparams.then(&cadenza_train::HParamsOverrides { batch_size: a.batch_size, ..Default::default() });
    let o = cadenza_train::LrFindOptions {
        dataset: a.dataset,
        out: a.out.clone(),
        init: a.init,
        layers: a.layers.layers,
        overrides,
        min_lr: a.min_lr,
        max_lr: a.max_lr,
        steps: a.steps,
        seed: a.seed,
        progress: !a.quiet,
        device: a.device.device,
        on_event: cadenza_train::OnEvent::new(|e| eprintln!("{e}")),
    };
    let r = cadenza_train::lr_find(&o)?;
    let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.3e}"));
    println!(
        "steepest descent at lr {}, lowest loss at lr {}; suggested lr {} ({} points; {})",
        f(r.steepest),
        f(r.min_loss),
        f(r.suggested),
        r.points.len(),
        r.stopped
    );
    eprintln!("wrote {}", a.out.join("lr_find.png").display());
    Ok(())
}
