//! `cadenza encode`: one file's performance encoding as JSON (to diff against Magenta).

use anyhow::{bail, Context, Result};
use cadenza_import::LoadOptions;
use cadenza_performance::pipeline::{examples, primer_performance, PipelineOptions, PipelineStats};
use cadenza_performance::Config;
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum PipelineKind {
    /// The whole file, no sustain, no split: what Magenta's generator does with a primer.
    Primer,
    /// Magenta's eval branch: sustain, 30 s split, 512-event truncation, 32-event minimum.
    Eval,
}

#[derive(clap::Args)]
pub struct EncodeArgs {
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "primer")]
    pub pipeline: PipelineKind,
    #[arg(long, default_value = "performance_with_dynamics")]
    pub config: Config,
    #[arg(long)]
    pub magenta_compat: bool,
    #[arg(long)]
    pub expand_repeats: bool,
}

pub fn run(a: EncodeArgs) -> Result<()> {
    let lo = LoadOptions { magenta_compat: a.magenta_compat, expand_repeats: a.expand_repeats };
    let (seq, warnings) = cadenza_import::load_file(&a.file, &lo)?;
    for w in &warnings {
        eprintln!("warning: {}: {w}", a.file.display());
    }
    let mut out = serde_json::json!({
        "file": a.file.display().to_string(),
        "config": a.config.key(),
        "num_notes": seq.notes.len(),
        "total_time": seq.total_time,
    });
    match a.pipeline {
        PipelineKind::Primer => {
            if a.config.is_note_encoding() {
                bail!("the primer pipeline encodes events; use --pipeline eval for the note encoding");
            }
            let perf = primer_performance(&seq, a.config).with_context(|| a.file.display().to_string())?;
            let idx = a.config.tokens(&perf).context("event outside the vocabulary")?;
            out["num_events"] = perf.len().into();
            out["num_steps"] = perf.num_steps().into();
            out["class_indices"] = idx.into();
        }
        PipelineKind::Eval => {
            let opts = PipelineOptions { config: a.config, magenta_compat: a.magenta_compat, ..Default::default() };
            let mut stats = PipelineStats::default();
            let ex = examples(&seq, &opts, &[0], &[1.0], &mut stats);
            out["num_events"] =
                ex.iter().map(|e| e.encoded.tokens.len() / a.config.token_width()).sum::<usize>().into();
            out["examples"] = ex
                .iter()
                .map(|e| serde_json::json!({"segment": e.segment, "class_indices": e.encoded.tokens, "disable_conditioning": e.encoded.disable_conditioning}))
                .collect::<Vec<_>>()
                .into();
            out["stats"] = serde_json::to_value(&stats)?;
        }
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
