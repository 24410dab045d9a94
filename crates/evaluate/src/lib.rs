//! Objective metrics of generated music, and how far a set of samples is from a reference
//! set: `cadenza evaluate`.
//!
//! * [`sample_metrics`] / [`evaluate_sequences`]: per-sample metrics (pitch-class entropy,
//!   in-key ratio, key and scale consistency, polyphony, note density, pitch range,
//!   velocity, inter-onset intervals, groove consistency, empty beats, MusDr's chord
//!   progression irregularity and structureness, root motion by fifths; each defined on its
//!   field of [`SampleMetrics`]) and their mean and standard deviation over the set.
//! * [`compare_to_reference`]: Yang & Lerch (2018): per feature, Gaussian KDEs of the
//!   feature over the samples and over the reference, their overlapping area and
//!   KL(reference ‖ samples), plus the intra-/inter-set distance variant.
//! * [`load_samples`] / [`load_reference`]: MIDI and MusicXML files (sustain pedal applied),
//!   or the examples of a `cadenza dataset` folder decoded back to notes.
//! * [`quantile()`]: the quantile estimator the judge, the comparison and the listening test
//!   share.
#![forbid(unsafe_code)]

pub mod chords;
pub mod compare;
pub mod metrics;
pub mod quantile;
pub mod structure;
pub mod table;

pub use chords::{Chord, ChordQuality};
pub use compare::{divergence, inter_set_divergence, scott_bandwidth, Divergence};
pub use metrics::{
    histogram_overlap, mean_histogram, sample_metrics, Grid, Key, SampleMetrics, FEATURES, IOI_BIN_EDGES,
    KEY_WINDOW_SECONDS, ONSET_TOLERANCE_SECONDS,
};
pub use quantile::{quantile, quantile_of_sorted};
pub use table::render_table;

use cadenza_dataset::{Dataset, ExampleStore};
use cadenza_import::LoadOptions;
use cadenza_notes::NoteSequence;
use cadenza_performance::{Config, NoteEvent, NotePerformance, Performance, Token};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvalError {
    #[error("{path}: cannot read: {source}")]
    Load { path: String, source: cadenza_import::LoadError },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}: no MIDI or MusicXML files (.mid, .midi, .xml, .musicxml, .mxl)")]
    NoFiles(String),
    #[error("{path}: not a readable Cadenza dataset: {source}")]
    Dataset { path: String, source: cadenza_dataset::DatasetError },
    #[error("{path}: the dataset's {split} split has no examples")]
    EmptySplit { path: String, split: String },
}

/// Mean and spread of one feature over a set (samples whose value is `null` are left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSummary {
    pub feature: String,
    /// Samples with a value.
    pub n: usize,
    pub mean: Option<f64>,
    /// Population standard deviation (ddof 0).
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// The metrics of a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub samples: Vec<SampleMetrics>,
    /// One entry per [`FEATURES`] name, in that order.
    pub aggregate: Vec<FeatureSummary>,
    /// Mean over samples of each sample's normalised IOI histogram.
    pub ioi_histogram_mean: Vec<f64>,
    /// The histogram's bin edges in seconds (the last is open: `null` in JSON for ∞).
    pub ioi_bin_edges: Vec<Option<f64>>,
}

impl Evaluation {
    /// The finite values of one feature over the set.
    pub fn values(&self, feature: &str) -> Vec<f64> {
        self.samples.iter().filter_map(|s| s.feature(feature)).collect()
    }

    pub fn summary(&self, feature: &str) -> Option<&FeatureSummary> {
        self.aggregate.iter().find(|f| f.feature == feature)
    }
}

/// One feature, samples against reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureComparison {
    pub feature: String,
    pub samples: FeatureSummary,
    pub reference: FeatureSummary,
    /// Yang & Lerch on the feature values: KDE over the samples vs. KDE over the reference;
    /// `null` when either set has no value.
    pub distribution: Option<Divergence>,
    /// Yang & Lerch's distance form: KDE of the reference's intra-set distances vs. KDE of
    /// the sample–reference distances; `null` with fewer than two reference values.
    pub inter_set: Option<Divergence>,
}

/// The samples against a reference set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub num_samples: usize,
    pub num_reference: usize,
    /// What the KL numbers are: "KL(reference || samples), nats".
    pub kl: String,
    pub bandwidth: String,
    pub features: Vec<FeatureComparison>,
    /// Mean overlapping area over the features that have one (higher = closer to the
    /// reference).
    pub mean_overlap_area: Option<f64>,
}

/// Everything `cadenza evaluate --json` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The samples folder or file.
    pub samples_path: String,
    pub evaluation: Evaluation,
    /// The reference folder or dataset, and which split.
    pub reference_path: Option<String>,
    pub reference_split: Option<String>,
    pub reference: Option<Evaluation>,
    pub comparison: Option<Comparison>,
}

fn summarize(feature: &str, samples: &[SampleMetrics]) -> FeatureSummary {
    let v: Vec<f64> = samples.iter().filter_map(|s| s.feature(feature)).collect();
    let n = v.len();
    let (mean, std) = if n == 0 {
        (None, None)
    } else {
        let m = v.iter().sum::<f64>() / n as f64;
        (Some(m), Some((v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64).sqrt()))
    };
    FeatureSummary {
        feature: feature.to_string(),
        n,
        mean,
        std,
        min: v.iter().copied().reduce(f64::min),
        max: v.iter().copied().reduce(f64::max),
    }
}

/// Metrics of already computed samples, aggregated.
pub fn aggregate(samples: Vec<SampleMetrics>) -> Evaluation {
    let aggregate = FEATURES.iter().map(|f| summarize(f, &samples)).collect();
    let bins = IOI_BIN_EDGES.len() - 1;
    let with_iois: Vec<&SampleMetrics> = samples.iter().filter(|s| s.ioi_histogram.iter().sum::<f64>() > 0.0).collect();
    let mut ioi_histogram_mean = vec![0.0; bins];
    for s in &with_iois {
        for (m, v) in ioi_histogram_mean.iter_mut().zip(&s.ioi_histogram) {
            *m += v / with_iois.len() as f64;
        }
    }
    Evaluation {
        samples,
        aggregate,
        ioi_histogram_mean,
        ioi_bin_edges: IOI_BIN_EDGES.iter().map(|e| e.is_finite().then_some(*e)).collect(),
    }
}

/// Per-sample metrics of every sequence (named by `source.path`) and their aggregates.
pub fn evaluate_sequences(seqs: &[NoteSequence]) -> Evaluation {
    aggregate(seqs.iter().map(sample_metrics).collect())
}

/// Yang & Lerch's comparison of every [`FEATURES`] distribution: samples against reference.
pub fn compare_to_reference(samples: &Evaluation, reference: &Evaluation) -> Comparison {
    let features: Vec<FeatureComparison> = FEATURES
        .iter()
        .map(|f| {
            let (s, r) = (samples.values(f), reference.values(f));
            FeatureComparison {
                feature: f.to_string(),
                samples: summarize(f, &samples.samples),
                reference: summarize(f, &reference.samples),
                distribution: divergence(&r, &s),
                inter_set: inter_set_divergence(&r, &s),
            }
        })
        .collect();
    let oas: Vec<f64> = features.iter().filter_map(|f| f.distribution.map(|d| d.overlap_area)).collect();
    Comparison {
        num_samples: samples.samples.len(),
        num_reference: reference.samples.len(),
        kl: "KL(reference || samples), nats, on the KDE grid".into(),
        bandwidth: "Gaussian KDE, Scott's rule (sd with ddof 1 times n^-1/5), per set".into(),
        mean_overlap_area: (!oas.is_empty()).then(|| oas.iter().sum::<f64>() / oas.len() as f64),
        features,
    }
}

/// Reads one MIDI or MusicXML file as heard: the sustain pedal applied (as Magenta's
/// pipeline does before encoding, so files compare with dataset examples and generated
/// samples), `source.path` set to the path.
pub fn load_sequence(path: &Path) -> Result<NoteSequence, EvalError> {
    let (seq, _warnings) = cadenza_import::load_file(path, &LoadOptions::default())
        .map_err(|source| EvalError::Load { path: path.display().to_string(), source })?;
    let mut seq = cadenza_notes::transform::apply_sustain(&seq);
    seq.source.path = path.display().to_string();
    Ok(seq)
}

/// Every MIDI and MusicXML file under `path` (a file or a folder, recursively, sorted).
/// An unreadable file is an error naming it; a folder without music files is an error.
pub fn load_samples(path: &Path) -> Result<Vec<NoteSequence>, EvalError> {
    let files = cadenza_import::collect_files(&[path.to_path_buf()])
        .map_err(|source| EvalError::Io { path: path.display().to_string(), source })?;
    if files.is_empty() {
        return Err(EvalError::NoFiles(path.display().to_string()));
    }
    files.iter().map(|f| load_sequence(f)).collect()
}

/// Which split of a dataset folder is the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    #[default]
    Eval,
}

impl Split {
    pub fn name(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Eval => "eval",
        }
    }
}

/// Decodes one example's tokens back to notes (`Performance::to_sequence`, or
/// `NotePerformance::to_sequence` for the note encoding). Configs without dynamics decode at
/// velocity 100, as Magenta's generator.
pub fn decode_example(config: Config, tokens: &[Token]) -> NoteSequence {
    if config.is_note_encoding() {
        let events = tokens
            .chunks_exact(6)
            .map(|t| NoteEvent {
                shift: t[0] as u32 * 77 + t[1] as u32,
                pitch: t[2] as u8,
                velocity_bin: t[3] as u8 + 1,
                duration: t[4] as u32 * 40 + t[5] as u32 + 1,
            })
            .collect();
        NotePerformance { events, start_step: 0, num_velocity_bins: config.num_velocity_bins() }.to_sequence()
    } else {
        let mut perf = Performance::new(config.num_velocity_bins());
        perf.events = config.events(tokens);
        perf.to_sequence(100, 0, None, None)
    }
}

/// Every example of one split of an opened dataset, decoded and named `SPLIT.examples#i`.
/// Optional-conditioning configs store each example twice (conditioning on and off): the
/// copy with conditioning disabled is left out.
pub fn decode_store(config: Config, store: &ExampleStore, split: Split) -> Vec<NoteSequence> {
    (0..store.len())
        .filter(|&i| !(config.optional_conditioning() && store.meta(i).disable_conditioning))
        .map(|i| {
            let mut s = decode_example(config, &store.tokens(i));
            s.source.path = format!("{}.examples#{i}", split.name());
            s
        })
        .collect()
}

/// The reference set: a `cadenza dataset` folder (it has `dataset.json`: the `split`
/// examples decoded to notes) or MIDI/MusicXML files (a file or folder, as [`load_samples`]).
pub fn load_reference(path: &Path, split: Split) -> Result<Vec<NoteSequence>, EvalError> {
    if path.join("dataset.json").is_file() {
        let ds =
            Dataset::open(path).map_err(|source| EvalError::Dataset { path: path.display().to_string(), source })?;
        let store = match split {
            Split::Train => &ds.train,
            Split::Eval => &ds.eval,
        };
        let seqs = decode_store(ds.manifest.config, store, split);
        if seqs.is_empty() {
            return Err(EvalError::EmptySplit { path: path.display().to_string(), split: split.name().into() });
        }
        Ok(seqs)
    } else {
        load_samples(path)
    }
}

/// Runs the whole evaluation: samples, and the reference when given.
pub fn evaluate_paths(samples: &Path, reference: Option<&Path>, split: Split) -> Result<Report, EvalError> {
    let evaluation = evaluate_sequences(&load_samples(samples)?);
    let (reference_eval, comparison) = match reference {
        Some(r) => {
            let re = evaluate_sequences(&load_reference(r, split)?);
            let c = compare_to_reference(&evaluation, &re);
            (Some(re), Some(c))
        }
        None => (None, None),
    };
    Ok(Report {
        samples_path: samples.display().to_string(),
        evaluation,
        reference_path: reference.map(|r| r.display().to_string()),
        reference_split: reference.map(|r| {
            if r.join("dataset.json").is_file() {
                split.name().to_string()
            } else {
                "files".to_string()
            }
        }),
        reference: reference_eval,
        comparison,
    })
}
