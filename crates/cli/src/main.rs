//! `cadenza`: one binary, one subcommand per pipeline stage.
#![forbid(unsafe_code)]

mod cmd;

use anyhow::{bail, Context, Result};
use cadenza_dataset::BuildOptions;
use cadenza_import::LoadOptions;
use cadenza_performance::pipeline::{examples, primer_performance, PipelineOptions, PipelineStats};
use cadenza_performance::Config;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cadenza", version, about = "Fine-tune and modify Magenta's Performance RNN for classical music")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a training dataset from MIDI and MusicXML files or folders.
    Dataset(DatasetArgs),
    /// Print one file's performance encoding as JSON (to diff against Magenta).
    Encode(EncodeArgs),
    /// Turn a Magenta .mag bundle into a Cadenza model folder.
    Import(ImportArgs),
    /// Write a model as a Magenta .mag bundle (its graph built for the model, or a template's).
    Export(ExportArgs),
    /// Score a performance under a model: total and mean log-likelihood as JSON.
    Likelihood(LikelihoodArgs),
    /// Fine-tune (or train from scratch) a Performance RNN on a dataset.
    Train(Box<TrainArgs>),
    /// Learning-rate range test: loss against an exponentially rising learning rate
    /// (lr_find.csv, lr_find.json with a suggestion, lr_find.svg/png).
    LrFind(LrFindArgs),
    /// Generate music (MIDI, piano-roll PNG, optional WAV and MusicXML) from a model.
    Generate(Box<cmd::generate::GenerateArgs>),
    /// Objective metrics of samples (pitch, key, rhythm, groove), optionally against a reference set.
    Evaluate(Box<cmd::evaluate::EvaluateArgs>),
    /// Can a classifier tell the samples from real music? AUC with its permutation null and
    /// interval, the Fréchet distance, and the features that separate them most.
    Judge(Box<cmd::judge::JudgeArgs>),
    /// How the telling features change over a piece's time, samples against real music, and
    /// the note-off hazard real, teacher forced and free running (exposure bias).
    Drift(Box<cmd::drift::DriftArgs>),
    /// Train an original and a modified (rhythm + harmony losses) model the same way, then
    /// evaluate, sample and measure both: report.html and comparison.json.
    Compare(Box<cmd::compare::CompareArgs>),
    /// The whole experiment on a public-domain corpus (music21's): dataset in 12 keys,
    /// original vs modified small models, comparison report.
    Demo(Box<cmd::compare::DemoArgs>),
    /// One verdict from comparisons of one recipe on different held-out folds (`demo --fold F`):
    /// intervals over folds x seeds x samples, each fold against its own eval pieces.
    Pool(cmd::compare::PoolArgs),
    /// A blind pairwise listening test from a comparison (a page to send to musicians), and
    /// `listen tally` to unblind and count their answers.
    Listen(Box<cmd::listen::ListenArgs>),
    /// Measure Cadenza's speed on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(clap::Args)]
struct LrFindArgs {
    #[arg(long)]
    dataset: PathBuf,
    /// Output folder for lr_find.csv, lr_find.json, lr_find.svg and lr_find.png.
    #[arg(long)]
    out: PathBuf,
    /// Start from this .mag or model folder (default: from scratch with --layers).
    #[arg(long)]
    init: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "512,512,512")]
    layers: Vec<usize>,
    #[arg(long, default_value_t = 1e-6)]
    min_lr: f64,
    #[arg(long, default_value_t = 1.0)]
    max_lr: f64,
    /// Steps from --min-lr to --max-lr.
    #[arg(long, default_value_t = 100)]
    steps: u64,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Magenta-style overrides: batch_size=48,dropout_keep_prob=0.5.
    #[arg(long, default_value = "")]
    hparams: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    quiet: bool,
    /// Where to train: auto (a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU), cpu or vulkan.
    #[arg(long, default_value = "auto")]
    device: cadenza_train::DeviceChoice,
}

fn lr_find(a: LrFindArgs) -> Result<()> {
    let overrides = cadenza_train::HParamsOverrides::parse(&a.hparams)
        .map_err(|e| anyhow::anyhow!("--hparams: {e}"))?
        .then(&cadenza_train::HParamsOverrides { batch_size: a.batch_size, ..Default::default() });
    let o = cadenza_train::LrFindOptions {
        dataset: a.dataset,
        out: a.out.clone(),
        init: a.init,
        layers: a.layers,
        overrides,
        min_lr: a.min_lr,
        max_lr: a.max_lr,
        steps: a.steps,
        seed: a.seed,
        progress: !a.quiet,
        device: a.device,
    };
    let r = cadenza_train::lr_find(&o)?;
    let f = |v: Option<f64>| v.map_or("–".into(), |x| format!("{x:.3e}"));
    println!(
        "steepest descent at lr {}, lowest loss at lr {}; suggested lr {} ({} points; {})",
        f(r.steepest),
        f(r.min_loss),
        f(r.suggested),
        r.points.len(),
        r.stopped
    );
    eprintln!("wrote {}", a.out.join("lr_find.png").display());
    Ok(())
}

#[derive(clap::Args)]
struct ImportArgs {
    bundle: PathBuf,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// A model folder (or a .mag).
    model: PathBuf,
    /// A Magenta bundle whose graph (metagraph) the new bundle reuses, byte for byte: same
    /// config and sizes. Without it the graph is built for the model's config and sizes.
    #[arg(long)]
    template: Option<PathBuf>,
    #[arg(long)]
    out: PathBuf,
    /// Description stored in the bundle.
    #[arg(long)]
    description: Option<String>,
}

#[derive(clap::Args)]
struct LikelihoodArgs {
    /// A model folder or a .mag bundle.
    #[arg(long)]
    model: PathBuf,
    /// A JSON object with `class_indices` (what `cadenza encode` prints).
    #[arg(long, conflicts_with = "file")]
    events: Option<PathBuf>,
    /// A MIDI or MusicXML file, encoded as Magenta's generator primer.
    file: Option<PathBuf>,
    /// Write `{"log_likelihood", "softmax"}` with softmax[t] = P(event t+1 | events 0..t).
    #[arg(long)]
    dump_probs: Option<PathBuf>,
    #[arg(long)]
    magenta_compat: bool,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// A dataset folder made by `cadenza dataset`.
    #[arg(long)]
    dataset: PathBuf,
    /// Where checkpoints, logs and curves go.
    #[arg(long)]
    run_dir: PathBuf,
    /// Start from a Magenta .mag bundle or a Cadenza model folder (default: from scratch).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Layer sizes when training from scratch.
    #[arg(long, value_delimiter = ',', default_value = "512,512,512")]
    layers: Vec<usize>,
    /// Train until this step (counted across resumes).
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Dropout keep probability on every layer's output (Magenta's dropout_keep_prob; 0.5 keeps half).
    #[arg(long)]
    dropout: Option<f32>,
    #[arg(long)]
    learning_rate: Option<f64>,
    /// L1 weight on kernels and FC weights (not biases); may change on --resume.
    #[arg(long)]
    l1: Option<f64>,
    /// L2 weight on the same tensors.
    #[arg(long)]
    l2: Option<f64>,
    /// The modified model's losses (none by default; may change on --resume).
    #[command(flatten)]
    recipe: cmd::recipe::RecipeArgs,
    /// Triangular cyclical learning rate: lower=0.00025,upper=0.001,step_size=470.
    #[arg(long)]
    clr: Option<String>,
    /// Exponential decay: rate=0.95,steps=1000.
    #[arg(long)]
    lr_decay: Option<String>,
    /// Magenta-style overrides: batch_size=48,dropout_keep_prob=0.5,rnn_layer_sizes=[64,64].
    #[arg(long, default_value = "")]
    hparams: String,
    /// Early stopping on the eval set: mode=min,target_loss=0.12,patience=10 or mode=max,target_acc=0.9,patience=10 (patience in evaluations; optional min_delta).
    #[arg(long)]
    early_stop: Option<String>,
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    /// Evaluate on at most this many eval examples.
    #[arg(long)]
    eval_examples: Option<usize>,
    #[arg(long, default_value_t = 10)]
    summary_every: u64,
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    #[arg(long, default_value_t = 10.0)]
    checkpoint_minutes: f64,
    /// Checkpoints to keep besides the best.
    #[arg(long, default_value_t = 3)]
    keep: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue the run in --run-dir from its latest checkpoint; hyper-parameters given now override the saved ones (and the change is logged).
    #[arg(long)]
    resume: bool,
    /// Where to train: auto (a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU), cpu or vulkan.
    #[arg(long, default_value = "auto")]
    device: cadenza_train::DeviceChoice,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Build the eval-branch dataset (no augmentation) of every score and performance in a
    /// folder (default: ASAP's 206 scores and 895 performances; score MIDIs are left out).
    Data(BenchDataArgs),
    /// Training throughput (tokens/s) at batch × events, and this machine's SGEMM speed.
    Train(BenchTrainArgs),
    /// Wall time of one `--num-steps` generation at each batch size (default: 6000 steps,
    /// batch 1 and 16).
    Generate(BenchGenerateArgs),
}

#[derive(clap::Args)]
struct BenchGenerateArgs {
    /// A .mag bundle or model folder (default: ../shared's perf_dyn_full512.mag, else a random
    /// 3×512 performance_with_dynamics model).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, default_value_t = 6000)]
    num_steps: u32,
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    batch: Vec<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct BenchTrainArgs {
    #[arg(long, default_value = "performance_with_dynamics")]
    config: Config,
    #[arg(long, value_delimiter = ',', default_value = "512,512,512")]
    layers: Vec<usize>,
    #[arg(long, default_value_t = 48)]
    batch: usize,
    #[arg(long, default_value_t = 512)]
    events: usize,
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Dropout keep probability (the seed project trained at 0.5).
    #[arg(long, default_value_t = 0.5)]
    dropout: f32,
    #[arg(long)]
    json: bool,
    /// cpu (default: the fused kernels), vulkan, or auto.
    #[arg(long, default_value = "cpu")]
    device: cadenza_train::DeviceChoice,
}

#[derive(clap::Args)]
struct BenchDataArgs {
    /// Default: the shared folder's ASAP (`$CADENZA_SHARED`, else `../shared`).
    dir: Option<PathBuf>,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct DatasetArgs {
    /// MIDI (.mid) and MusicXML (.xml, .musicxml, .mxl) files or folders.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Output folder (built under a temporary name, then renamed).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "performance_with_dynamics")]
    config: Config,
    /// Fraction of pieces held out for evaluation (split by piece, before augmentation).
    #[arg(long, default_value_t = 0.1)]
    eval_ratio: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hold out these folders (repeatable) instead of a random block: every piece with a file
    /// under one of them is eval, the rest train; e.g. whole composers of ASAP.
    #[arg(long)]
    eval_from: Vec<PathBuf>,
    /// Cross-validation fold: hold out block F of the seed's shuffled pieces (0: the plain split;
    /// folds never share an eval piece, so a result can be checked on pieces it never saw)
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Training transpositions: a range like -3..3, a list like -2,0,2, or `all` (12 keys: -5..6).
    #[arg(long, default_value = "-3..3", allow_hyphen_values = true)]
    transpose: String,
    /// Training time-stretch factors.
    #[arg(long, default_value = "0.95,0.975,1,1.025,1.05", value_delimiter = ',')]
    stretch: Vec<f64>,
    #[arg(long, default_value_t = 32)]
    min_events: usize,
    #[arg(long, default_value_t = 512)]
    max_events: usize,
    /// Play MusicXML repeats and voltas.
    #[arg(long)]
    expand_repeats: bool,
    /// Reproduce Magenta's importer and pipeline exactly, bugs included.
    #[arg(long)]
    magenta_compat: bool,
    /// Also write Magenta-readable SequenceExample TFRecords.
    #[arg(long)]
    tfrecord: bool,
    /// How files are grouped into pieces for the split: `metadata` (a metadata.csv in an input
    /// folder or above it, as ASAP and MAESTRO have), `folder` (each folder is a piece), `file`,
    /// or `auto`: metadata when found, else a folder holding exactly one MusicXML score is a
    /// piece and every other file is its own.
    #[arg(long, default_value = "auto")]
    group_by: cadenza_dataset::split::GroupBy,
    /// Leave out files whose name matches this glob (repeatable), e.g. `--exclude 'xml_score.*'
    /// --exclude midi_score.mid` keeps only ASAP's performances.
    #[arg(long)]
    exclude: Vec<String>,
    /// Replace an existing output folder.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PipelineKind {
    /// The whole file, no sustain, no split: what Magenta's generator does with a primer.
    Primer,
    /// Magenta's eval branch: sustain, 30 s split, 512-event truncation, 32-event minimum.
    Eval,
}

#[derive(clap::Args)]
struct EncodeArgs {
    file: PathBuf,
    #[arg(long, value_enum, default_value = "primer")]
    pipeline: PipelineKind,
    #[arg(long, default_value = "performance_with_dynamics")]
    config: Config,
    #[arg(long)]
    magenta_compat: bool,
    #[arg(long)]
    expand_repeats: bool,
}

fn parse_transpose(s: &str) -> Result<Vec<i32>> {
    let s = s.trim();
    if s == "all" {
        return Ok((-5..=6).collect());
    }
    if let Some((a, b)) = s.split_once("..") {
        let a: i32 = a.trim().parse().with_context(|| format!("--transpose {s}: bad range start"))?;
        let b: i32 =
            b.trim().trim_start_matches('=').parse().with_context(|| format!("--transpose {s}: bad range end"))?;
        if a > b {
            bail!("--transpose {s}: empty range");
        }
        return Ok((a..=b).collect());
    }
    s.split(',')
        .map(|x| x.trim().parse::<i32>().with_context(|| format!("--transpose {s}: '{x}' is not a whole number")))
        .collect()
}

fn dataset(a: DatasetArgs) -> Result<()> {
    let transpositions = parse_transpose(&a.transpose)?;
    if !(0.0..1.0).contains(&a.eval_ratio) {
        bail!("--eval-ratio must be in [0, 1), got {}", a.eval_ratio);
    }
    if a.stretch.iter().any(|f| !(f.is_finite() && *f > 0.0)) {
        bail!("--stretch factors must be positive numbers");
    }
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
        transpositions,
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

fn encode(a: EncodeArgs) -> Result<()> {
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

/// Magenta's note-seq parse time per file on this machine (issue #2): 0.10 s per MusicXML
/// file and 0.067 s per MIDI file, before any pipeline work.
const MAGENTA_SECONDS_PER_XML: f64 = 0.10;
const MAGENTA_SECONDS_PER_MIDI: f64 = 0.067;

fn bench_data(a: BenchDataArgs) -> Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => cadenza_shared::dir()?.join("data/asap"),
    };
    let files: Vec<PathBuf> = cadenza_dataset::collect_files(std::slice::from_ref(&dir))?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "midi_score.mid"))
        .collect();
    let xml =
        files.iter().filter(|p| cadenza_dataset::file_kind(p) == Some(cadenza_dataset::FileKind::MusicXml)).count();
    let midi = files.len() - xml;
    if files.is_empty() {
        bail!("{}: no MIDI or MusicXML files", dir.display());
    }
    let opts = BuildOptions { transpositions: vec![0], stretches: vec![1.0], ..Default::default() };
    let mut best = f64::INFINITY;
    let mut stats = None;
    for _ in 0..a.runs.max(1) {
        let tmp = tempfile::Builder::new().prefix("cadenza-bench-").tempdir()?;
        let out = tmp.path().join("bench");
        let t = std::time::Instant::now();
        let s = cadenza_dataset::build(&files, &out, &opts)?;
        best = best.min(t.elapsed().as_secs_f64());
        stats = Some(s);
    }
    let stats = stats.unwrap();
    let magenta = xml as f64 * MAGENTA_SECONDS_PER_XML + midi as f64 * MAGENTA_SECONDS_PER_MIDI;
    let examples = stats.train.examples + stats.eval.examples;
    let events = stats.train.events + stats.eval.events;
    let threads = rayon_threads();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"files": files.len(), "musicxml": xml, "midi": midi, "examples": examples, "events": events,
                "seconds": best, "files_per_second": files.len() as f64 / best, "threads": threads,
                "magenta_parse_seconds": magenta, "speedup_vs_magenta_parse": magenta / best, "skipped": stats.skipped.len()})
        );
    } else {
        println!(
            "eval-branch dataset of {} files ({xml} MusicXML, {midi} MIDI): {examples} examples, {events} events in {best:.3} s ({:.0} files/s, {threads} threads); Magenta needs {magenta:.1} s just to parse them: {:.0}x faster end to end",
            files.len(),
            files.len() as f64 / best,
            magenta / best
        );
    }
    Ok(())
}

fn bench_train(a: BenchTrainArgs) -> Result<()> {
    if a.events < 2 || a.batch == 0 || a.steps == 0 {
        bail!("need --events ≥ 2, --batch ≥ 1 and --steps ≥ 1");
    }
    let sel = cadenza_train::device::select(a.device).map_err(anyhow::Error::msg)?;
    if let Some(why) = &sel.fallback {
        eprintln!("device auto: {why}");
    }
    let r = cadenza_train::bench::bench_train(a.config, a.layers, a.batch, a.events, a.steps, a.dropout, &sel);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "train {} {:?} batch {} × {} events on {}: {:.0} tokens/s ({:.3} steps/s), {:.1} GFLOP/s = {:.0}% of this machine's SGEMM ({:.1} GFLOP/s)",
            r.config,
            r.layers,
            r.batch,
            r.events,
            r.device,
            r.tokens_per_second,
            r.steps_per_second,
            r.achieved_gflops,
            100.0 * r.fraction_of_sgemm,
            r.sgemm_gflops
        );
    }
    Ok(())
}

fn bench_generate(a: BenchGenerateArgs) -> Result<()> {
    let fixture = cadenza_shared::dir().ok().map(|d| d.join("fixtures/magenta/bundles/perf_dyn_full512.mag"));
    let model = a.model.clone().or_else(|| fixture.filter(|f| f.exists()));
    let weights = match &model {
        Some(p) => cadenza_model::Weights::load(p).with_context(|| format!("cannot load model {}", p.display()))?,
        None => cadenza_model::Weights::init(
            cadenza_model::ModelConfig::new(Config::PerformanceWithDynamics, vec![512, 512, 512]),
            0,
        ),
    };
    let sg = cadenza_train::bench::sgemm_gflops();
    let bw = cadenza_model::kernels::memory_read_gbs(512);
    let rs = cadenza_generate::bench(&weights, a.num_steps, &a.batch, a.seed)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"config": weights.config.config.key(), "layers": weights.config.layers, "results": rs, "sgemm_gflops": sg, "memory_read_gbs": bw})
        );
    } else {
        for r in &rs {
            // Batch 1 reads every weight once per step: the memory roofline. Larger batches
            // are GEMMs: the SGEMM roofline over the rows actually stepped.
            let floor_ms = r.weight_bytes as f64 / (bw * 1e9) * 1e3;
            println!(
                "generate {} {:?} on {}: {} × {} steps in {:.3} s wall ({} RNN steps, {:.3} ms each = {:.2}× the {:.3} ms to read {:.1} MB of weights at {:.1} GB/s; {} row steps at {:.1} GFLOP/s = {:.0}% of SGEMM {:.1} GFLOP/s; {:.0} events/s per sample)",
                weights.config.config.key(),
                weights.config.layers,
                r.simd_level,
                r.batch,
                r.num_steps,
                r.seconds,
                r.rnn_steps,
                r.ms_per_rnn_step,
                r.ms_per_rnn_step / floor_ms,
                floor_ms,
                r.weight_bytes as f64 / 1e6,
                bw,
                r.row_steps,
                r.gflops,
                100.0 * r.gflops / sg,
                sg,
                r.mean_events / r.seconds,
            );
        }
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn import(a: ImportArgs) -> Result<()> {
    let w = cadenza_model::Weights::load(&a.bundle)?;
    w.save_dir(&a.out, &format!("imported from {}", a.bundle.display()))?;
    eprintln!(
        "{}: {} {}×LSTM{:?} ({}), {} parameters → {}",
        a.bundle.display(),
        w.config.config.key(),
        w.config.layers.len(),
        w.config.layers,
        if w.names.forget_bias == 0.0 {
            "cuDNN-compatible cells, forget bias in the saved bias"
        } else {
            "BasicLSTMCell"
        },
        w.config.num_parameters(),
        a.out.display()
    );
    Ok(())
}

fn export(a: ExportArgs) -> Result<()> {
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

fn likelihood(a: LikelihoodArgs) -> Result<()> {
    let w = cadenza_model::Weights::load(&a.model)?;
    let config = w.config.config;
    let tokens: Vec<u16> = match (&a.events, &a.file) {
        (Some(p), None) => {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).with_context(|| p.display().to_string())?)
                    .with_context(|| format!("{}: not JSON", p.display()))?;
            let arr =
                v["class_indices"].as_array().with_context(|| format!("{}: no `class_indices` array", p.display()))?;
            let n = config.num_logits() as u64;
            arr.iter()
                .map(|x| {
                    x.as_u64().filter(|&i| i < n || config.is_note_encoding()).map(|i| i as u16).with_context(|| {
                        format!("{}: class index {x} is not one of the model's {n} classes", p.display())
                    })
                })
                .collect::<Result<_>>()?
        }
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

fn train(a: TrainArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    let mut schedule = match &a.clr {
        Some(s) => Some(cadenza_train::Schedule::parse_clr(s).map_err(|e| anyhow::anyhow!("--clr {s}: {e}"))?),
        None => None,
    };
    if let Some(d) = &a.lr_decay {
        schedule =
            Some(cadenza_train::Schedule::parse_exponential(d).map_err(|e| anyhow::anyhow!("--lr-decay {d}: {e}"))?);
    }
    let flags = cadenza_train::HParamsOverrides {
        batch_size: a.batch_size,
        dropout_keep_prob: a.dropout,
        learning_rate: a.learning_rate,
        l1: a.l1,
        l2: a.l2,
        schedule,
        ..a.recipe.overrides()
    };
    let overrides =
        cadenza_train::HParamsOverrides::parse(&a.hparams).map_err(|e| anyhow::anyhow!("--hparams: {e}"))?.then(&flags);
    let early_stop = match &a.early_stop {
        Some(s) => Some(cadenza_train::EarlyStop::parse(s).map_err(|e| anyhow::anyhow!("--early-stop {s}: {e}"))?),
        None => None,
    };
    let opts = cadenza_train::TrainOptions {
        cancel,
        dataset: a.dataset,
        run_dir: a.run_dir,
        init: a.init,
        layers: a.layers,
        overrides,
        early_stop,
        steps: a.steps,
        eval_every: a.eval_every,
        summary_every: a.summary_every,
        checkpoint_every: a.checkpoint_every,
        checkpoint_minutes: a.checkpoint_minutes,
        keep_last: a.keep,
        eval_examples: a.eval_examples,
        seed: a.seed,
        resume: a.resume,
        progress: true,
        device: a.device,
        ..Default::default()
    };
    let info = cadenza_train::train(&opts).map_err(|e| match e {
        cadenza_train::TrainError::RunExists(p) => {
            anyhow::anyhow!("{p}: already holds a run; pass --resume to continue it, or choose another --run-dir")
        }
        e => e.into(),
    })?;
    eprintln!(
        "{}: stopped at step {} ({}); best checkpoint {} (eval {} {:.5})",
        opts.run_dir.display(),
        info.step,
        info.reason,
        info.best_checkpoint.as_deref().unwrap_or("none"),
        info.best_metric.as_deref().unwrap_or("loss"),
        info.best_value.unwrap_or(f64::NAN)
    );
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    // Ctrl-C asks training to stop at its next step with a checkpoint (the libraries take the
    // flag; the signal is the binary's). A second Ctrl-C while one is pending exits at once.
    let cancel = cadenza_train::Cancel::default();
    {
        let c = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            if c.is_cancelled() {
                std::process::exit(130);
            }
            c.cancel();
        });
    }
    let r = match cli.command {
        Command::Dataset(a) => dataset(a),
        Command::Encode(a) => encode(a),
        Command::Import(a) => import(a),
        Command::Export(a) => export(a),
        Command::Likelihood(a) => likelihood(a),
        Command::Train(a) => train(*a, cancel),
        Command::Bench(BenchCommand::Data(a)) => bench_data(a),
        Command::Bench(BenchCommand::Train(a)) => bench_train(a),
        Command::Bench(BenchCommand::Generate(a)) => bench_generate(a),
        Command::Generate(a) => cmd::generate::run(*a),
        Command::Compare(a) => cmd::compare::run(*a, cancel),
        Command::LrFind(a) => lr_find(a),
        Command::Demo(a) => cmd::compare::run_demo(*a, cancel),
        Command::Pool(a) => cmd::compare::run_pool(a),
        Command::Evaluate(a) => cmd::evaluate::run(*a),
        Command::Judge(a) => cmd::judge::run(*a),
        Command::Drift(a) => cmd::drift::run(*a),
        Command::Listen(a) => cmd::listen::run(*a),
    };
    if let Err(e) = r {
        // The chain of causes, each said once (an error that quotes its source is not repeated).
        let mut msg = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !msg.contains(&c) {
                msg = format!("{msg}: {c}");
            }
        }
        eprintln!("error: {msg}");
        std::process::exit(1);
    }
}
