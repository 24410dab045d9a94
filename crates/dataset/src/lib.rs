//! Files → examples. `build` runs Magenta's Performance RNN pipeline over a set of MIDI and
//! MusicXML files, splits train/eval by piece, and writes a dataset folder:
//!
//! * `train.examples`, `eval.examples`: the example stores ([`store`]);
//! * `dataset.json`: config, options and a fingerprint that training checkpoints record;
//! * `stats.json`: pieces, examples and events per split, files skipped with reasons;
//! * `split.json`: every source file with its piece and split.
//!
//! The folder is built under a temporary name beside the target and renamed at the end, so
//! an interrupted build never leaves a half dataset where a complete one is expected.

pub mod bench;
pub mod split;
pub mod store;

pub use cadenza_import::{collect_files, file_kind, load_file, FileKind, LoadError, LoadOptions};
pub use cadenza_performance::pipeline::{examples, primer_performance, Example, PipelineOptions, PipelineStats};
pub use store::{ExampleMeta, ExampleStore, StoreError, StoreHeader, StoreWriter};

use cadenza_performance::Config;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{0}")]
    Input(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: output already exists (a forced build replaces it)")]
    Exists(String),
    #[error("{path}: not a Cadenza dataset: {msg}")]
    NotADataset { path: String, msg: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io { path: path.display().to_string(), source: cadenza_atomic::say_disk_full(source) }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildOptions {
    pub pipeline: PipelineOptions,
    pub eval_ratio: f64,
    pub seed: u64,
    /// Cross-validation fold: which block of `round(eval_ratio·n)` pieces of the seeded shuffle
    /// is held out (0: the first, the plain split). Folds never share an eval piece.
    #[serde(default)]
    pub fold: usize,
    /// Semitone shifts applied to training pieces (eval is never augmented).
    pub transpositions: Vec<i32>,
    pub stretches: Vec<f64>,
    pub expand_repeats: bool,
    /// Also write Magenta-readable SequenceExample TFRecords
    /// (`training_performances.tfrecord`, `eval_performances.tfrecord`).
    pub tfrecord: bool,
    /// How files are grouped into pieces for the split.
    #[serde(default)]
    pub group_by: split::GroupBy,
    /// File-name glob patterns (`midi_score.mid`, `*.mxl`) of files to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Hold out these folders instead of a random block: every piece with a file under one of
    /// them is eval, every other piece train (`eval_ratio` and `fold` are then unused). Whole
    /// composers held out: `asap/Haydn`, `asap/Mozart`.
    #[serde(default)]
    pub eval_from: Vec<PathBuf>,
    #[serde(skip)]
    pub progress: bool,
    #[serde(skip)]
    pub force: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            pipeline: PipelineOptions::default(),
            eval_ratio: 0.1,
            seed: 0,
            fold: 0,
            transpositions: (-3..=3).collect(),
            stretches: vec![0.95, 0.975, 1.0, 1.025, 1.05],
            expand_repeats: false,
            tfrecord: false,
            group_by: split::GroupBy::Auto,
            exclude: Vec::new(),
            eval_from: Vec::new(),
            progress: false,
            force: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SplitStats {
    pub pieces: usize,
    pub files: usize,
    pub examples: usize,
    pub events: u64,
    pub pipeline: PipelineStats,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// How files were grouped into pieces (absent in datasets built before it was recorded).
    #[serde(default)]
    pub grouping: Option<split::Grouping>,
    /// Files left out by an `exclude` pattern.
    #[serde(default)]
    pub excluded: usize,
    pub train: SplitStats,
    pub eval: SplitStats,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<String>,
    pub seconds: f64,
    /// The eval split's pieces.
    #[serde(default)]
    pub eval_pieces: Vec<String>,
}

/// `DATASET/split.json`: every file the dataset read, its piece and its split. A file that
/// cannot be read or parsed is an `io::Error` (the caller names the path).
pub fn read_split(dataset: &Path) -> std::io::Result<Vec<SplitFile>> {
    let text = std::fs::read_to_string(dataset.join("split.json"))?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitFile {
    pub path: String,
    pub piece: String,
    pub split: String,
}

/// `dataset.json`: what a training run needs to know about its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub config: Config,
    pub options: BuildOptions,
    /// sha256 over both example stores: training checkpoints record it so a resumed run
    /// can tell it is still looking at the same data.
    pub fingerprint: String,
    pub sources: Vec<String>,
}

struct FileResult {
    examples: Vec<Example>,
    stats: PipelineStats,
    warnings: Vec<String>,
}

fn process(path: &Path, train: bool, opts: &BuildOptions) -> Result<FileResult, String> {
    let lo = LoadOptions { magenta_compat: opts.pipeline.magenta_compat, expand_repeats: opts.expand_repeats };
    let (seq, warnings) = load_file(path, &lo).map_err(|e| e.to_string())?;
    let (t, s): (&[i32], &[f64]) = if train { (&opts.transpositions, &opts.stretches) } else { (&[0], &[1.0]) };
    let mut stats = PipelineStats::default();
    let examples = examples(&seq, &opts.pipeline, t, s, &mut stats);
    let warnings = warnings.into_iter().map(|w| format!("{}: {w}", path.display())).collect();
    Ok(FileResult { examples, stats, warnings })
}

/// Builds a dataset folder at `out` from `inputs` (files or folders).
pub fn build(inputs: &[PathBuf], out: &Path, opts: &BuildOptions) -> Result<Stats, DatasetError> {
    let started = std::time::Instant::now();
    let _lock = cadenza_atomic::DirLock::acquire_beside(out, "dataset build")
        .map_err(|e| DatasetError::Input(e.to_string()))?;
    if out.exists() && !opts.force {
        return Err(DatasetError::Exists(out.display().to_string()));
    }
    let (files, excluded) = input_files(inputs, opts)?;
    let (pieces_of, grouping) = split::piece_ids(inputs, &files, opts.group_by).map_err(DatasetError::Input)?;
    let eval = eval_pieces(&pieces_of, opts)?;
    let results = process_all(&files, &pieces_of, &eval, opts);

    // Build into a temp folder beside `out`, then rename.
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = tempfile::Builder::new().prefix(".cadenza-dataset-").tempdir_in(parent).map_err(io_err(parent))?;

    let config = opts.pipeline.config;
    let gathered = gather(results, &pieces_of, config);
    let fingerprint = write_stores(tmp.path(), gathered.writers, config, opts.tfrecord)?;

    let [train, evals] = gathered.stats;
    let stats = Stats {
        grouping: Some(grouping),
        excluded,
        train,
        eval: evals,
        skipped: gathered.skipped,
        warnings: gathered.warnings,
        seconds: started.elapsed().as_secs_f64(),
        eval_pieces: eval.iter().cloned().collect(),
    };
    let manifest = Manifest { format: 1, config, options: opts.clone(), fingerprint, sources: gathered.sources };
    write_json(&tmp.path().join("stats.json"), &stats)?;
    write_json(&tmp.path().join("split.json"), &gathered.split_files)?;
    write_json(&tmp.path().join("dataset.json"), &manifest)?;

    let tmp_path = tmp.keep();
    if out.exists() {
        // --force: move the old dataset aside first so a failure cannot lose both.
        let old = parent.join(format!(".cadenza-old-{}", std::process::id()));
        std::fs::rename(out, &old).map_err(io_err(out))?;
        std::fs::rename(&tmp_path, out).map_err(io_err(out))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&tmp_path, out).map_err(io_err(out))?;
    }
    Ok(stats)
}

/// The MIDI and MusicXML files under `inputs` that no `exclude` pattern names, and how many
/// the patterns left out; fails when none is left.
fn input_files(inputs: &[PathBuf], opts: &BuildOptions) -> Result<(Vec<PathBuf>, usize), DatasetError> {
    let files = collect_files(inputs).map_err(|e| DatasetError::Input(e.to_string()))?;
    let exclude = split::Exclude::new(&opts.exclude).map_err(DatasetError::Input)?;
    let before = files.len();
    let files = exclude.keep(files);
    let excluded = before - files.len();
    if files.is_empty() {
        return Err(DatasetError::Input(format!(
            "no MIDI or MusicXML files under {}",
            inputs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok((files, excluded))
}

/// The eval pieces: the `eval_from` folders' pieces, else the seeded fold.
fn eval_pieces(pieces_of: &BTreeMap<PathBuf, String>, opts: &BuildOptions) -> Result<BTreeSet<String>, DatasetError> {
    let all_pieces: BTreeSet<String> = pieces_of.values().cloned().collect();
    let eval = if opts.eval_from.is_empty() {
        split::eval_fold(&all_pieces, opts.eval_ratio, opts.seed, opts.fold).ok_or_else(|| {
            DatasetError::Input(format!(
                "fold {} does not exist: {} pieces at eval ratio {} make {} fold(s), numbered from 0",
                opts.fold,
                all_pieces.len(),
                opts.eval_ratio,
                split::fold_count(all_pieces.len(), opts.eval_ratio)
            ))
        })?
    } else {
        split::eval_from(pieces_of, &opts.eval_from).map_err(DatasetError::Input)?
    };
    Ok(eval)
}

/// Runs the pipeline over every file in parallel: (file, whether it is train, its examples
/// or why it was skipped), in `files` order.
fn process_all(
    files: &[PathBuf],
    pieces_of: &BTreeMap<PathBuf, String>,
    eval: &BTreeSet<String>,
    opts: &BuildOptions,
) -> Vec<(PathBuf, bool, Result<FileResult, String>)> {
    let bar =
        if opts.progress { indicatif::ProgressBar::new(files.len() as u64) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} building dataset [{bar:30}] {pos}/{len} files ({per_sec}, eta {eta})",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    let results = files
        .par_iter()
        .map(|f| {
            let is_train = !eval.contains(&pieces_of[f]);
            // A panic here would be a bug in an importer; keep the rest of the dataset.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| process(f, is_train, opts)))
                .unwrap_or_else(|_| Err("internal error while reading this file (please report it)".to_string()));
            bar.inc(1);
            (f.clone(), is_train, r)
        })
        .collect();
    bar.finish_and_clear();
    results
}

/// The files' examples sorted into the train and eval stores, with their statistics.
struct Gathered {
    /// Train, eval.
    writers: [StoreWriter; 2],
    stats: [SplitStats; 2],
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    split_files: Vec<SplitFile>,
    /// The files that gave examples, by source index.
    sources: Vec<String>,
}

/// Sorts each file's examples into its split's store, in file order, and counts them.
fn gather(
    results: Vec<(PathBuf, bool, Result<FileResult, String>)>,
    pieces_of: &BTreeMap<PathBuf, String>,
    config: Config,
) -> Gathered {
    let mut g = Gathered {
        writers: [StoreWriter::new(), StoreWriter::new()],
        stats: [SplitStats::default(), SplitStats::default()],
        skipped: Vec::new(),
        warnings: Vec::new(),
        split_files: Vec::new(),
        sources: Vec::new(),
    };
    let mut pieces_seen = [BTreeSet::new(), BTreeSet::new()];
    for (f, is_train, r) in results {
        let k = if is_train { 0 } else { 1 };
        let piece = pieces_of[&f].clone();
        g.split_files.push(SplitFile {
            path: f.display().to_string(),
            piece: piece.clone(),
            split: if is_train { "train" } else { "eval" }.into(),
        });
        match r {
            Err(reason) => {
                g.skipped.push(Skipped { file: f.display().to_string(), reason });
            }
            Ok(fr) => {
                let source = g.sources.len() as u32;
                g.sources.push(f.display().to_string());
                g.warnings.extend(fr.warnings);
                let s = &mut g.stats[k];
                s.files += 1;
                pieces_seen[k].insert(piece);
                add_stats(&mut s.pipeline, &fr.stats);
                for ex in fr.examples {
                    s.examples += 1;
                    s.events += (ex.encoded.tokens.len() / config.token_width()) as u64;
                    g.writers[k].push(
                        &ex.encoded.tokens,
                        &ExampleMeta {
                            source,
                            segment: ex.segment,
                            qpm: ex.qpm,
                            stretch: ex.stretch,
                            transpose: ex.transpose,
                            key: ex.key,
                            disable_conditioning: ex.encoded.disable_conditioning,
                        },
                    );
                }
            }
        }
    }
    g.stats[0].pieces = pieces_seen[0].len();
    g.stats[1].pieces = pieces_seen[1].len();
    g
}

/// Writes the train and eval stores into `dir` (and Magenta's TFRecords when asked); returns
/// the fingerprint over both stores.
fn write_stores(dir: &Path, writers: [StoreWriter; 2], config: Config, tfrecord: bool) -> Result<String, DatasetError> {
    let train_path = dir.join("train.examples");
    let eval_path = dir.join("eval.examples");
    let [train, eval] = writers;
    train.write(&train_path, config.key(), config.token_width())?;
    eval.write(&eval_path, config.key(), config.token_width())?;
    if tfrecord {
        for (store_path, name) in
            [(&train_path, "training_performances.tfrecord"), (&eval_path, "eval_performances.tfrecord")]
        {
            write_tfrecord(&ExampleStore::open(store_path)?, config, &dir.join(name))?;
        }
    }
    let mut h = sha2::Sha256::new();
    for p in [&train_path, &eval_path] {
        h.update(std::fs::read(p).map_err(io_err(p))?);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Magenta's `make_sequence_example` for every stored example: `inputs` rows of
/// `input_size` floats and `labels` (one int, or six for the note encoding).
fn write_tfrecord(store: &ExampleStore, config: Config, path: &Path) -> Result<(), DatasetError> {
    use std::io::Write;
    let f = std::fs::File::create(path).map_err(io_err(path))?;
    let mut w = cadenza_mag::tfrecord::TfRecordWriter::new(std::io::BufWriter::new(f));
    for i in 0..store.len() {
        let ex = cadenza_performance::EncodedExample {
            tokens: store.tokens(i),
            disable_conditioning: store.meta(i).disable_conditioning,
        };
        let (inputs, labels) = config.encode(&ex);
        let labels: Vec<Vec<i64>> = labels.into_iter().map(|l| l.into_iter().map(i64::from).collect()).collect();
        w.write_record(&cadenza_mag::tfrecord::performance_sequence_example(&inputs, &labels)).map_err(io_err(path))?;
    }
    let mut inner = w.into_inner();
    inner.flush().map_err(io_err(path))?;
    inner
        .into_inner()
        .map_err(|e| DatasetError::Io {
            path: path.display().to_string(),
            source: cadenza_atomic::say_disk_full(e.into_error()),
        })?
        .sync_all()
        .map_err(io_err(path))?;
    Ok(())
}

fn add_stats(a: &mut PipelineStats, b: &PipelineStats) {
    a.segments += b.segments;
    a.discarded_too_short += b.discarded_too_short;
    a.truncated += b.truncated;
    a.skipped_transpositions += b.skipped_transpositions;
    a.discarded_more_than_one_program += b.discarded_more_than_one_program;
    a.discarded_note_limits += b.discarded_note_limits;
    a.quantize_errors += b.quantize_errors;
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<(), DatasetError> {
    cadenza_atomic::write_json(path, v).map_err(io_err(path))
}

/// An opened dataset folder.
pub struct Dataset {
    pub manifest: Manifest,
    pub train: ExampleStore,
    pub eval: ExampleStore,
}

impl Dataset {
    pub fn open(dir: &Path) -> Result<Self, DatasetError> {
        let mpath = dir.join("dataset.json");
        let text = std::fs::read_to_string(&mpath).map_err(|e| DatasetError::NotADataset {
            path: dir.display().to_string(),
            msg: format!("cannot read dataset.json: {e}"),
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| DatasetError::NotADataset { path: mpath.display().to_string(), msg: e.to_string() })?;
        let train = ExampleStore::open(&dir.join("train.examples"))?;
        let eval = ExampleStore::open(&dir.join("eval.examples"))?;
        Ok(Dataset { manifest, train, eval })
    }

    /// The train split's examples as played (no transposition, no stretch; every example when
    /// the dataset has none such), as class indices.
    pub fn train_as_played(&self) -> impl Iterator<Item = Vec<u16>> + '_ {
        let plain = |i: &usize| {
            let m = self.train.meta(*i);
            m.transpose == 0 && m.stretch == 1.0
        };
        let any_plain = (0..self.train.len()).any(|i| plain(&i));
        (0..self.train.len()).filter(move |i| !any_plain || plain(i)).map(|i| self.train.tokens(i))
    }
}
