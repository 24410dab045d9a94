//! `cadenza bench data|train|generate`: Cadenza's speed on this machine.

use anyhow::{bail, Context, Result};
use cadenza_performance::Config;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BenchCommand {
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
pub struct BenchGenerateArgs {
    /// A .mag bundle or model folder (default: ../shared's perf_dyn_full512.mag, else a random
    /// 3×512 performance_with_dynamics model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value_t = 6000)]
    pub num_steps: u32,
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pub batch: Vec<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct BenchTrainArgs {
    #[arg(long, default_value = "performance_with_dynamics")]
    pub config: Config,
    #[command(flatten)]
    pub layers: super::args::LayersArg,
    #[arg(long, default_value_t = 48)]
    pub batch: usize,
    #[arg(long, default_value_t = 512)]
    pub events: usize,
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Dropout keep probability (the seed project trained at 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f32,
    #[arg(long)]
    pub json: bool,
    /// cpu (default: the fused kernels), vulkan, or auto.
    #[arg(long, default_value = "cpu")]
    pub device: cadenza_train::DeviceChoice,
}

#[derive(clap::Args)]
pub struct BenchDataArgs {
    /// Default: the shared folder's ASAP (`$CADENZA_SHARED`, else `../shared`).
    pub dir: Option<PathBuf>,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
}

fn bench_data(a: BenchDataArgs) -> Result<()> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => cadenza_shared::dir()?.join("data/asap"),
    };
    let b = cadenza_dataset::bench::bench_build(&dir, a.runs)?;
    let (files, xml, midi, best, stats) = (b.files, b.musicxml, b.midi, b.seconds, &b.stats);
    let magenta = b.magenta_parse_seconds();
    let examples = stats.train.examples + stats.eval.examples;
    let events = stats.train.events + stats.eval.events;
    let threads = rayon_threads();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"files": files, "musicxml": xml, "midi": midi, "examples": examples, "events": events,
                "seconds": best, "files_per_second": files as f64 / best, "threads": threads,
                "magenta_parse_seconds": magenta, "speedup_vs_magenta_parse": magenta / best, "skipped": stats.skipped.len()})
        );
    } else {
        println!(
            "eval-branch dataset of {files} files ({xml} MusicXML, {midi} MIDI): {examples} examples, {events} events in {best:.3} s ({:.0} files/s, {threads} threads); Magenta needs {magenta:.1} s just to parse them: {:.0}x faster end to end",
            files as f64 / best,
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
    let r = cadenza_train::bench::bench_train(a.config, a.layers.layers, a.batch, a.events, a.steps, a.dropout, &sel);
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

pub fn run(c: BenchCommand) -> Result<()> {
    match c {
        BenchCommand::Data(a) => bench_data(a),
        BenchCommand::Train(a) => bench_train(a),
        BenchCommand::Generate(a) => bench_generate(a),
    }
}
