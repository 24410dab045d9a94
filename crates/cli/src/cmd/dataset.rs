//! `cadenza dataset`: files and folders → a training dataset.

use super::args::{fraction, positive};
use anyhow::Result;
use cadenza_dataset::BuildOptions;
use cadenza_performance::pipeline::PipelineOptions;
use cadenza_performance::Config;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(clap::Args)]
pub struct DatasetArgs {
    /// MIDI (.mid) and MusicXML (.xml, .musicxml, .mxl) files or folders.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder (built under a temporary name, then renamed).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "performance_with_dynamics")]
    pub config: Config,
    /// Fraction of pieces held out for evaluation (split by piece, before augmentation).
    #[arg(long, default_value_t = 0.1, value_parser = fraction)]
    pub eval_ratio: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Hold out these folders (repeatable) instead of a random block: every piece with a file
    /// under one of them is eval, the rest train; e.g. whole composers of ASAP.
    #[arg(long)]
    pub eval_from: Vec<PathBuf>,
    /// Cross-validation fold: hold out block F of the seed's shuffled pieces (0: the plain split;
    /// folds never share an eval piece, so a result can be checked on pieces it never saw)
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// Training transpositions: a range like -3..3, a list like -2,0,2, or `all` (12 keys: -5..6).
    #[arg(long, default_value = "-3..3", allow_hyphen_values = true)]
    pub transpose: Transpose,
    /// Training time-stretch factors.
    #[arg(long, default_value = "0.95,0.975,1,1.025,1.05", value_delimiter = ',', value_parser = positive)]
    pub stretch: Vec<f64>,
    #[arg(long, default_value_t = 32)]
    pub min_events: usize,
    #[arg(long, default_value_t = 512)]
    pub max_events: usize,
    /// Play MusicXML repeats and voltas.
    #[arg(long)]
    pub expand_repeats: bool,
    /// Reproduce Magenta's importer and pipeline exactly, bugs included.
    #[arg(long)]
    pub magenta_compat: bool,
    /// Also write Magenta-readable SequenceExample TFRecords.
    #[arg(long)]
    pub tfrecord: bool,
    /// How files are grouped into pieces for the split: `metadata` (a metadata.csv in an input
    /// folder or above it, as ASAP and MAESTRO have), `folder` (each folder is a piece), `file`,
    /// or `auto`: metadata when found, else a folder holding exactly one MusicXML score is a
    /// piece and every other file is its own.
    #[arg(long, default_value = "auto")]
    pub group_by: cadenza_dataset::split::GroupBy,
    /// Leave out files whose name matches this glob (repeatable), e.g. `--exclude 'xml_score.*'
    /// --exclude midi_score.mid` keeps only ASAP's performances.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Replace an existing output folder.
    #[arg(long)]
    pub force: bool,
}

/// `--transpose`: semitone shifts of the training pieces, written as a range `-3..3`
/// (`-3..=3` too), a list `-2,0,2`, or `all` (the 12 keys, -5..6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transpose(pub Vec<i32>);

impl FromStr for Transpose {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let whole = |x: &str| x.trim().parse::<i32>().map_err(|_| format!("'{}' is not a whole number", x.trim()));
        if s == "all" {
            return Ok(Transpose((-5..=6).collect()));
        }
        let shifts: Vec<i32> = if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (whole(a)?, whole(b.trim_start_matches('='))?);
            if a > b {
                return Err(format!("{a}..{b} is an empty range"));
            }
            (a..=b).collect()
        } else {
            s.split(',').map(whole).collect::<Result<_, _>>()?
        };
        // Beyond an octave a shift repeats a key a nearer one gives, and moves notes off the piano.
        if let Some(k) = shifts.iter().find(|k| k.abs() > 12) {
            return Err(format!("a shift of {k} semitones is more than an octave (-12..12)"));
        }
        Ok(Transpose(shifts))
    }
}

pub fn run(a: DatasetArgs) -> Result<()> {
    let opts = BuildOptions {
        pipeline: PipelineOptions {
            config: a.config,
            min_events: a.min_events,
            max_events: a.max_events,
            split_seconds: 30.0,
            magenta_compat: a.magenta_compat,
        },
        eval_ratio: a.eval_ratio,
        seed: a.seed,
        fold: a.fold,
        transpositions: a.transpose.0,
        stretches: a.stretch,
        expand_repeats: a.expand_repeats,
        tfrecord: a.tfrecord,
        group_by: a.group_by,
        exclude: a.exclude,
        eval_from: a.eval_from,
        progress: true,
        force: a.force,
    };
    let stats = cadenza_dataset::build(&a.inputs, &a.out, &opts).map_err(|e| match e {
        cadenza_dataset::DatasetError::Exists(p) => {
            anyhow::anyhow!("{p}: output already exists (pass --force to replace it)")
        }
        e => e.into(),
    })?;
    if let Some(g) = &stats.grouping {
        eprintln!("{g}");
    }
    if opts.fold > 0 {
        eprintln!("fold {}: eval pieces {}", opts.fold, stats.eval_pieces.join(", "));
    }
    for s in &stats.skipped {
        eprintln!("skipped {}: {}", s.file, s.reason);
    }
    eprintln!(
        "dataset {}: train {} pieces / {} examples / {} events; eval {} pieces / {} examples / {} events; {} files skipped; {:.1} s",
        a.out.display(),
        stats.train.pieces,
        stats.train.examples,
        stats.train.events,
        stats.eval.pieces,
        stats.eval.examples,
        stats.eval.events,
        stats.skipped.len(),
        stats.seconds
    );
    Ok(())
}
