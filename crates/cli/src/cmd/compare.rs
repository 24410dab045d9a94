//! `cadenza compare` and `cadenza demo` flags.

use anyhow::Result;
use cadenza_compare::{compare, summary_table, CompareOptions, DemoEvent, DemoOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// A dataset made by `cadenza dataset` (its eval split scores both models).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Both models start from this .mag bundle or model folder (default: from scratch).
    #[arg(long)]
    pub init: Option<PathBuf>,
    #[command(flatten)]
    pub layers: super::args::LayersArg,
    /// Use this trained model as the original instead of training one.
    #[arg(long)]
    pub original_model: Option<PathBuf>,
    /// Take the original arm's runs from this earlier comparison's folder (trained there when
    /// missing), so another recipe faces the very same original models.
    #[arg(long)]
    pub original_from: Option<PathBuf>,
    /// Use this trained model as the modified one instead of training one.
    #[arg(long)]
    pub modified_model: Option<PathBuf>,
    /// Take the modified arm's trained runs from this earlier comparison's folder (trained
    /// there when missing); its samples are this comparison's own.
    #[arg(long)]
    pub modified_from: Option<PathBuf>,
    /// The modified arm samples with note-end decoding fitted on the train split, mixed in at
    /// this weight (0–1; see `cadenza decoding`). With `--recipe none` the modified arm is the
    /// original models, decoded.
    #[arg(long, value_parser = super::args::unit)]
    pub decoding: Option<f64>,
    /// Training steps of each model.
    #[arg(long, default_value_t = CompareOptions::default().steps)]
    pub steps: u64,
    /// Magenta-style overrides for both runs: batch_size=48,dropout_keep_prob=0.5,learning_rate=0.001.
    #[arg(long, default_value = "")]
    pub hparams: String,
    /// The modified model's losses (default: `grid-key`, which passes the verdict rule on real
    /// performances and came closest on scores; `--recipe seed` for the seed project's).
    #[command(flatten)]
    pub recipe: super::recipe::RecipeArgs,
    #[command(flatten)]
    pub realism: super::realism::RealismArgs,
    /// Policy steps of the realism recipe (after each seed's original is trained).
    #[arg(long, default_value_t = CompareOptions::default().realism_steps)]
    pub realism_steps: u64,
    #[arg(long, default_value_t = CompareOptions::default().eval_every)]
    pub eval_every: u64,
    /// Evaluate on at most this many eval examples.
    #[arg(long)]
    pub eval_examples: Option<usize>,
    /// Training seed (data order, dropout) of the first run of each model; run k uses seed + k.
    #[arg(long, default_value_t = CompareOptions::default().seed)]
    pub seed: u64,
    /// Independent training runs per model: the verdict's intervals span seeds × samples.
    #[arg(long, default_value_t = CompareOptions::default().seeds)]
    pub seeds: usize,
    /// Samples per trained model (the same sample seeds for every model).
    #[arg(long, default_value_t = CompareOptions::default().samples)]
    pub samples: usize,
    /// Length of each sample in 10 ms steps (3000 = 30 s).
    #[arg(long, default_value_t = CompareOptions::default().num_steps)]
    pub num_steps: u32,
    #[arg(long, default_value_t = CompareOptions::default().temperature)]
    pub temperature: f64,
    /// Seed of sample 1 (both models sample from the same seeds).
    #[arg(long, default_value_t = CompareOptions::default().sample_seed)]
    pub sample_seed: u64,
    /// Which note events the samples may use: "paired" (a NOTE_OFF only of a sounding pitch, a
    /// NOTE_ON only of a silent one, as in all training data) or "any" (Magenta's sampler)
    #[arg(long, value_enum, default_value = CompareOptions::default().note_events.name())]
    pub note_events: super::args::NoteEventsArg,
    /// SoundFont for the WAV players (default: Debian's fluid-soundfont-gm if installed, else the built-in piano-like synthesiser).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// No WAV files.
    #[arg(long)]
    pub no_wav: bool,
    /// Output folder: report.html, comparison.json, original/, modified/.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub device: super::args::DeviceArg,
}

impl CompareArgs {
    pub fn options(&self) -> CompareOptions {
        CompareOptions {
            dataset: self.dataset.clone(),
            init: self.init.clone(),
            layers: self.layers.layers.clone(),
            original_model: self.original_model.clone(),
            original_from: self.original_from.clone(),
            modified_model: self.modified_model.clone(),
            steps: self.steps,
            hparams: self.hparams.clone(),
            recipe: self.recipe.over(CompareOptions::default().recipe),
            eval_every: self.eval_every,
            eval_examples: self.eval_examples,
            seed: self.seed,
            seeds: self.seeds,
            samples: self.samples,
            num_steps: self.num_steps,
            temperature: self.temperature,
            sample_seed: self.sample_seed,
            note_events: self.note_events.into(),
            soundfont: self.soundfont.clone(),
            wav: !self.no_wav,
            out: self.out.clone(),
            progress: !self.quiet,
            device: self.device.device,
            cancel: Default::default(),
            train_events: Default::default(),
            realism_hparams: self.realism.hparams(),
            realism_steps: self.realism_steps,
            decoding: self.decoding,
            modified_from: self.modified_from.clone(),
        }
    }
}

/// Runs `cadenza compare`.
pub fn run(args: CompareArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    let train_events = cadenza_train::OnEvent::new(|e| eprintln!("{e}"));
    let r = compare(&CompareOptions { cancel, train_events, ..args.options() }, &mut |e| eprintln!("{e}"))?;
    print!("{}", summary_table(&r));
    eprintln!("wrote {} and {}", args.out.join("report.html").display(), args.out.join("comparison.json").display());
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Working folder: corpus/, dataset/, comparison/ (report.html inside).
    #[arg(long, default_value_os_t = DemoOptions::default().out)]
    pub out: PathBuf,
    /// Take the 20 pieces from this music21 wheel instead of the corpus shipped in corpus/music21.
    #[arg(long)]
    pub wheel: Option<PathBuf>,
    /// Take them from a music21 wheel fetched with `pip download music21 --no-deps`.
    #[arg(long)]
    pub download: bool,
    /// Start both models from this .mag (e.g. Magenta's performance_with_dynamics.mag) or model
    /// folder (default: the shipped base, models/perf_dyn_3x256_asap_v2).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Train small models from scratch instead of fine-tuning a base.
    #[arg(long)]
    pub from_scratch: bool,
    /// Layer sizes of the models trained from scratch.
    #[arg(long, value_delimiter = ',', default_values_t = DemoOptions::default().layers)]
    pub layers: Vec<usize>,
    /// Fine-tuning steps of each model.
    #[arg(long, default_value_t = DemoOptions::default().steps)]
    pub steps: u64,
    /// Fine-tuning hyper-parameters of both models.
    #[arg(long, default_value_t = DemoOptions::default().hparams)]
    pub hparams: String,
    /// The modified model's losses (default: the seed project's recipe, `seed`).
    #[command(flatten)]
    pub recipe: super::recipe::RecipeArgs,
    /// A third arm: the project's recipe (default "grid-key") against the same original
    /// models; "none" for the original and one modified arm only.
    #[arg(long, default_value = "grid-key")]
    pub project_recipe: String,
    /// Training seeds per model.
    #[arg(long, default_value_t = DemoOptions::default().seeds)]
    pub seeds: usize,
    /// Samples per trained model.
    #[arg(long, default_value_t = DemoOptions::default().samples)]
    pub samples: usize,
    /// 10 ms steps per sample (3000 = 30 s).
    #[arg(long, default_value_t = DemoOptions::default().num_steps)]
    pub num_steps: u32,
    /// Which note events the samples may use: "paired" (well-formed NOTE_ON/NOTE_OFF only) or "any" (Magenta's sampler)
    #[arg(long, value_enum, default_value = DemoOptions::default().note_events.name())]
    pub note_events: super::args::NoteEventsArg,
    #[arg(long, default_value_t = DemoOptions::default().seed)]
    pub seed: u64,
    /// Cross-validation fold of the split by piece: 0 is the plain split; fold F (1..9) holds out
    /// two pieces no other fold holds out, to check a verdict on music it was not found on
    #[arg(long, default_value_t = DemoOptions::default().fold)]
    pub fold: usize,
    /// Evaluate on at most this many eval examples.
    #[arg(long, default_value_t = DemoOptions::default().eval_examples)]
    pub eval_examples: usize,
    #[command(flatten)]
    pub device: super::args::DeviceArg,
}

impl DemoArgs {
    pub fn options(&self) -> anyhow::Result<DemoOptions> {
        Ok(DemoOptions {
            out: self.out.clone(),
            wheel: self.wheel.clone(),
            download: self.download,
            init: self.init.clone(),
            from_scratch: self.from_scratch,
            layers: self.layers.clone(),
            steps: self.steps,
            hparams: self.hparams.clone(),
            recipe: self.recipe.over(DemoOptions::default().recipe),
            project_recipe: match self.project_recipe.as_str() {
                "none" => None,
                p => Some(p.parse().map_err(|e: cadenza_train::RecipeError| anyhow::anyhow!("--project-recipe: {e}"))?),
            },
            seeds: self.seeds,
            samples: self.samples,
            num_steps: self.num_steps,
            note_events: self.note_events.into(),
            seed: self.seed,
            fold: self.fold,
            eval_examples: self.eval_examples,
            device: self.device.device,
            cancel: Default::default(),
            train_events: Default::default(),
        })
    }
}

pub fn run_demo(args: DemoArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    let mut tables = 0;
    let train_events = cadenza_train::OnEvent::new(|e| eprintln!("{e}"));
    cadenza_compare::run_demo(&DemoOptions { cancel, train_events, ..args.options()? }, &mut |e| match e {
        // Each comparison's verdict table goes to stdout, a blank line between two.
        DemoEvent::Compared(r) => {
            print!("{}{}", if tables > 0 { "\n" } else { "" }, summary_table(r));
            tables += 1;
        }
        e => eprintln!("{e}"),
    })?;
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct PoolArgs {
    /// Comparison folders (or their comparison.json) of one recipe, each on another fold.
    #[arg(required = true, num_args = 2..)]
    pub comparisons: Vec<PathBuf>,
    /// Where to write pooled.json and pooled.txt.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run_pool(args: PoolArgs) -> Result<()> {
    let p = cadenza_compare::pool_to(&args.comparisons, &args.out)?;
    print!("{}", cadenza_compare::pooled_table(&p));
    Ok(())
}
