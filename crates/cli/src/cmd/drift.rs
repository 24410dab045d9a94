//! `cadenza drift`: the judge's telling features slice by slice over a piece's time, samples
//! against real performances, and the note-off hazard of real music, of the model fed that
//! music (teacher forced) and of its own samples (free running): a gap that opens over time is
//! exposure bias.

use anyhow::{Context, Result};
use cadenza_judge::drift::{drift, drift_svg, render_drift, DriftOptions};
use cadenza_judge::{load_items, Exclude, GroupBy};
use cadenza_performance::Config;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct DriftArgs {
    /// Generated samples: folders of MIDI files (searched recursively) or files.
    #[arg(long, num_args = 1.., required = true)]
    pub samples: Vec<PathBuf>,
    /// Real performances: folders or files, or a `cadenza dataset` folder (its eval pieces).
    #[arg(long, num_args = 1.., required = true)]
    pub reference: Vec<PathBuf>,
    /// The model that played the samples (a .mag or model folder): adds its teacher-forced
    /// note-off hazard on the reference.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Length of one slice in seconds.
    #[arg(long, default_value_t = 5.0, value_parser = super::args::positive)]
    pub slice: f64,
    /// Follow each file from its start for this many seconds.
    #[arg(long, default_value_t = 60.0, value_parser = super::args::positive)]
    pub seconds: f64,
    /// How the reference is grouped for the intervals: `folder` suits ASAP (a piece's
    /// performances are resampled together); `file`, `metadata` or `auto` as `cadenza dataset`.
    #[arg(long, default_value = "folder")]
    pub reference_groups: GroupBy,
    /// Leave out files whose name matches this glob (repeatable), as `cadenza dataset --exclude`;
    /// by default ASAP's scores rendered as MIDI.
    #[arg(long, default_values = ["midi_score.mid"])]
    pub exclude: Vec<String>,
    /// Bootstrap resamples for the intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write drift.json and drift.svg (the figure) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: DriftArgs) -> Result<()> {
    anyhow::ensure!(a.slice <= a.seconds, "--slice ({}) is longer than --seconds ({})", a.slice, a.seconds);
    let model = a.model.as_ref().map(|p| cadenza_model::Weights::load(p)).transpose()?;
    let config = model.as_ref().map_or(Config::PerformanceWithDynamics, |w| w.config.config);
    anyhow::ensure!(
        !config.is_note_encoding(),
        "{}: the note-off hazard needs an event model; {config} encodes whole notes",
        a.model.as_ref().map_or(String::new(), |p| p.display().to_string())
    );
    let exclude = Exclude::new(&a.exclude).map_err(anyhow::Error::msg)?;
    let samples = load_items(&a.samples, GroupBy::File, &exclude)?;
    let reference = load_items(&a.reference, a.reference_groups, &exclude)?;
    let opts = DriftOptions { slice_seconds: a.slice, total_seconds: a.seconds, bootstrap: a.bootstrap, seed: a.seed };
    let report = drift(&samples, &reference, model.as_ref(), config, &opts);
    print!("{}", render_drift(&report));
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        cadenza_atomic::write_json(&out.join("drift.json"), &report)
            .with_context(|| format!("cannot write {}", out.join("drift.json").display()))?;
        cadenza_atomic::write_atomic(&out.join("drift.svg"), drift_svg(&report).as_bytes())
            .with_context(|| format!("cannot write {}", out.join("drift.svg").display()))?;
        eprintln!("wrote {}/drift.json and drift.svg", out.display());
    }
    Ok(())
}
