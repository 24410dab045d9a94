//! `cadenza import`: a Magenta .mag bundle → a Cadenza model folder.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ImportArgs {
    pub bundle: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: ImportArgs) -> Result<()> {
    let w = cadenza_model::Weights::load(&a.bundle)?;
    w.save_dir(&a.out, &format!("imported from {}", a.bundle.display()))?;
    eprintln!(
        "{}: {} {}×LSTM{:?} ({}), {} parameters → {}",
        a.bundle.display(),
        w.config.config.key(),
        w.config.layers.len(),
        w.config.layers,
        if w.names.forget_bias == 0.0 {
            "cuDNN-compatible cells, forget bias in the saved bias"
        } else {
            "BasicLSTMCell"
        },
        w.config.num_parameters(),
        a.out.display()
    );
    Ok(())
}
