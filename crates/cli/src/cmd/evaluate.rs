//! `cadenza evaluate`: metrics of a folder of samples, optionally against a reference
//! (a folder of files or a `cadenza dataset` folder), as a table on stdout and JSON.

use anyhow::{Context, Result};
use cadenza_evaluate::{evaluate_paths, render_table, Split};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// The samples: a folder of MIDI/MusicXML files (searched recursively) or one file.
    #[arg(long)]
    pub samples: PathBuf,
    /// Reference set: a folder of MIDI/MusicXML files, or a dataset folder made by `cadenza dataset`.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Which split of a reference dataset.
    #[arg(long, default_value = "eval", value_parser = ["train", "eval"])]
    pub split: String,
    /// Write per-sample metrics, aggregates and the comparison as JSON (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: EvaluateArgs) -> Result<()> {
    let split = if args.split == "train" { Split::Train } else { Split::Eval };
    let report = evaluate_paths(&args.samples, args.reference.as_deref(), split)?;
    print!("{}", render_table(&report));
    if let Some(out) = &args.json {
        write_json_atomic(out, &report)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Writes `value` as pretty JSON to `path` (atomically), creating its folder.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    cadenza_atomic::write_json(path, value).with_context(|| format!("cannot write {}", path.display()))
}
