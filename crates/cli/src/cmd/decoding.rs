//! `cadenza decoding`: fits the note-end model of `generate --decoding` on a dataset's train
//! split and writes it as JSON (beside a model, `MODEL/decoding.json`, by convention).

use anyhow::{Context, Result};
use cadenza_generate::decoding::{NoteEnds, AGE_EDGES_SECONDS};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct DecodingArgs {
    /// A `cadenza dataset` folder: its train split (the pieces as played) is counted.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Where to write the note-end model (e.g. MODEL/decoding.json).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: DecodingArgs) -> Result<()> {
    let ds = cadenza_dataset::Dataset::open(&a.dataset)?;
    let source = format!("{} (train split, as played)", a.dataset.display());
    let ends = NoteEnds::fit(ds.manifest.config, ds.train_as_played(), &source)
        .with_context(|| format!("fitting note endings on {}", a.dataset.display()))?;
    ends.save(&a.out)?;
    println!("note-end model: {} performances of {}; written to {}", ends.examples, source, a.out.display());
    println!("chance that the next event ends a sounding note, by its age:");
    let mut lower = 0.0;
    for (i, (rate, events)) in ends.age_rates().into_iter().enumerate() {
        let upper = AGE_EDGES_SECONDS.get(i).map(|u| format!("{u} s")).unwrap_or_else(|| "on".into());
        println!("  {lower:>5} s – {upper:<6} {rate:.4}  ({events} note-events)");
        lower = AGE_EDGES_SECONDS.get(i).copied().unwrap_or(lower);
    }
    Ok(())
}
