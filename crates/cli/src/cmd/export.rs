//! `cadenza export`: a model → a Magenta .mag bundle.

use anyhow::Result;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// A model folder (or a .mag).
    pub model: PathBuf,
    /// A Magenta bundle whose graph (metagraph) the new bundle reuses, byte for byte: same
    /// config and sizes. Without it the graph is built for the model's config and sizes.
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// Description stored in the bundle.
    #[arg(long)]
    pub description: Option<String>,
}

pub fn run(a: ExportArgs) -> Result<()> {
    let w = cadenza_model::Weights::load(&a.model)?;
    let mut bundle = match &a.template {
        Some(t) => w.export_bundle(&cadenza_mag::Bundle::read(t)?)?,
        None => w.export_bundle_new(&format!("Cadenza export of {}", a.model.display()))?,
    };
    if let Some(d) = &a.description {
        bundle.set_bundle_description(d);
    }
    bundle.write_atomic(&a.out)?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}
