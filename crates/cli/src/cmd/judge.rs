//! `cadenza judge`: can a classifier tell the samples from real music? A classifier two-sample
//! test (grouped cross-validation, permutation null, bootstrap interval), the Fréchet distance
//! and the features that separate them, as a table on stdout and JSON.

use anyhow::Result;
use cadenza_judge::{judge_table, load_items, render_table, Exclude, GroupBy, JudgeOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct JudgeArgs {
    /// Generated samples: folders of MIDI/MusicXML files (searched recursively) or files.
    #[arg(long, num_args = 1.., required = true)]
    pub samples: Vec<PathBuf>,
    /// Real music to tell them from: folders or files (performances, for a performance model).
    #[arg(long, num_args = 1.., required = true)]
    pub reference: Vec<PathBuf>,
    /// How the samples are grouped for cross-validation (a group is held out whole): `file`
    /// (each file), `folder` (each folder), `metadata` or `auto`, as `cadenza dataset --group-by`.
    #[arg(long, default_value = "file")]
    pub sample_groups: GroupBy,
    /// How the reference is grouped: `folder` suits ASAP (a piece's folder holds its performances).
    #[arg(long, default_value = "folder")]
    pub reference_groups: GroupBy,
    /// Leave out files whose name matches this glob (repeatable), as `cadenza dataset --exclude`;
    /// by default ASAP's scores rendered as MIDI; '' for none.
    #[arg(long, default_values = ["midi_score.mid"])]
    pub exclude: Vec<String>,
    /// Window length in seconds.
    #[arg(long)]
    pub window: Option<f64>,
    /// Notes a window needs.
    #[arg(long)]
    pub min_notes: Option<usize>,
    /// At most this many windows per group.
    #[arg(long)]
    pub max_windows: Option<usize>,
    /// Cross-validation folds.
    #[arg(long)]
    pub folds: Option<usize>,
    /// Label permutations for the null.
    #[arg(long)]
    pub permutations: Option<usize>,
    /// Trees of the random forest.
    #[arg(long)]
    pub trees: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Leave these features out (comma-separated names; `performance` = velocity_mean,
    /// velocity_std, short_notes, which scores lack: use it when the reference is scores).
    #[arg(long, value_delimiter = ',')]
    pub exclude_features: Vec<String>,
    /// Write the report as JSON (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also write every window's group, class and features as CSV (for tools/check_judge.py).
    #[arg(long)]
    pub features_csv: Option<PathBuf>,
}

impl JudgeArgs {
    /// The options: each flag given overrides the library's default.
    pub fn options(&self) -> JudgeOptions {
        let d = JudgeOptions::default();
        JudgeOptions {
            window_seconds: self.window.unwrap_or(d.window_seconds),
            min_notes: self.min_notes.unwrap_or(d.min_notes),
            max_windows_per_group: self.max_windows.unwrap_or(d.max_windows_per_group),
            folds: self.folds.unwrap_or(d.folds),
            permutations: self.permutations.unwrap_or(d.permutations),
            trees: self.trees.unwrap_or(d.trees),
            seed: self.seed.unwrap_or(d.seed),
            exclude_features: self
                .exclude_features
                .iter()
                .flat_map(|x| {
                    if x == "performance" {
                        cadenza_judge::PERFORMANCE_FEATURES.iter().map(|s| s.to_string()).collect()
                    } else {
                        vec![x.clone()]
                    }
                })
                .collect(),
            ..d
        }
    }
}

pub fn run(args: JudgeArgs) -> Result<()> {
    let opts = args.options();
    anyhow::ensure!(
        opts.window_seconds > 0.0 && opts.window_seconds.is_finite(),
        "--window must be a positive number of seconds"
    );
    anyhow::ensure!(opts.folds >= 2, "--folds must be at least 2");
    let exclude = Exclude::new(&args.exclude).map_err(anyhow::Error::msg)?;
    let samples = load_items(&args.samples, args.sample_groups, &exclude)?;
    let reference = load_items(&args.reference, args.reference_groups, &exclude)?;
    let (table, ss, rs) = cadenza_judge::window_table(&samples, &reference, &opts)?;
    if let Some(csv) = &args.features_csv {
        cadenza_atomic::write_atomic(csv, cadenza_judge::table_csv(&table, &opts).as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", csv.display()))?;
        eprintln!("wrote {}", csv.display());
    }
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("judge {bar:30} {pos}/{len} cross-validations ({eta})")
            .expect("a valid template"),
    );
    let report = judge_table(&table, ss, rs, &opts, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    print!("{}", render_table(&report));
    if let Some(out) = &args.json {
        super::evaluate::write_json_atomic(out, &report)?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}
