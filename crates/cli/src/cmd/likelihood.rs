//! `cadenza likelihood`: a performance's log-likelihood under a model, as JSON.

use anyhow::{bail, Context, Result};
use cadenza_import::LoadOptions;
use cadenza_performance::pipeline::primer_performance;
use cadenza_performance::Config;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct LikelihoodArgs {
    /// A model folder or a .mag bundle.
    #[arg(long)]
    pub model: PathBuf,
    /// A JSON object with `class_indices` (what `cadenza encode` prints).
    #[arg(long, conflicts_with = "file")]
    pub events: Option<PathBuf>,
    /// A MIDI or MusicXML file, encoded as Magenta's generator primer.
    #[arg(required_unless_present = "events")]
    pub file: Option<PathBuf>,
    /// Write `{"log_likelihood", "softmax"}` with softmax[t] = P(event t+1 | events 0..t).
    #[arg(long)]
    pub dump_probs: Option<PathBuf>,
    #[arg(long)]
    pub magenta_compat: bool,
}

pub fn run(a: LikelihoodArgs) -> Result<()> {
    let w = cadenza_model::Weights::load(&a.model)?;
    let config = w.config.config;
    let tokens: Vec<u16> = match (&a.events, &a.file) {
        (Some(p), None) => read_class_indices(p, config)?,
        (None, Some(f)) => {
            let (seq, _) =
                cadenza_import::load_file(f, &LoadOptions { magenta_compat: a.magenta_compat, expand_repeats: false })?;
            let perf = primer_performance(&seq, config).with_context(|| f.display().to_string())?;
            config.tokens(&perf).context("event outside the vocabulary")?
        }
        _ => bail!("give either --events EVENTS.json or a MIDI/MusicXML file"),
    };
    let width = config.token_width();
    let n = tokens.len() / width;
    if n < 2 {
        bail!("need at least two events to score, got {n}");
    }
    let (ll, _) = cadenza_model::log_likelihood(&w, &tokens, false);
    let scored = n - 1;
    println!(
        "{}",
        serde_json::json!({"log_likelihood": ll, "mean_log_likelihood": ll / scored as f64, "events": scored, "config": config.key()})
    );
    if let Some(out) = &a.dump_probs {
        let softmax = cadenza_model::inference::softmax_rows(&w, &tokens);
        cadenza_atomic::write_atomic(
            out,
            &serde_json::to_vec(&serde_json::json!({"log_likelihood": ll, "softmax": softmax}))?,
        )
        .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// The `class_indices` array of a JSON object (what `cadenza encode` prints), each checked
/// against `config`'s classes.
fn read_class_indices(p: &Path, config: Config) -> Result<Vec<u16>> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).with_context(|| p.display().to_string())?)
            .with_context(|| format!("{}: not JSON", p.display()))?;
    let arr = v["class_indices"].as_array().with_context(|| format!("{}: no `class_indices` array", p.display()))?;
    let n = config.num_logits() as u64;
    arr.iter()
        .map(|x| {
            x.as_u64()
                .filter(|&i| i < n || config.is_note_encoding())
                .map(|i| i as u16)
                .with_context(|| format!("{}: class index {x} is not one of the model's {n} classes", p.display()))
        })
        .collect()
}
