//! The training loop: Magenta's recipe (Adam 0.9/0.999/1e-8, per-tensor clipping at norm 3,
//! mean cross-entropy over real tokens) plus every knob the seed project added — dropout,
//! L1/L2, learning-rate schedules, evaluation inside the run, early stopping on the eval set,
//! checkpoints that resume bit for bit with changed hyper-parameters.
//!
//! A run directory holds `checkpoints/ckpt-NNNNNNNN/` (a loadable model folder plus the burn
//! module and optimizer records and `state.json`), `checkpoint.json` (latest and best),
//! `best/` (the best model), `metrics.csv`, `train/` and `eval/` TensorBoard event files,
//! `curves.svg`/`curves.png`, `log.txt` and, when the run ends, `stop.json`.

use crate::hparams::{EarlyStop, HParams, HParamsOverrides, StopMode};
use crate::logs::{plot_curves, EventWriter, MetricsCsv, Row};
use crate::losses::{
    check_config, expected_cost, harmony_rows, musical_terms, MusicalWeights, ShiftError, ShiftErrorSum,
};
use crate::metrics::{Metrics, MetricsSum};
use crate::network::{Batch, PerformanceRnn};
pub use crate::stop::{StopInfo, StopReason};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use cadenza_dataset::{Dataset, ExampleStore};
use cadenza_model::{ModelConfig, TensorNames, Weights};
use cadenza_performance::{Config, EncodedExample};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("{0}")]
    Setup(String),
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    #[error("training stopped at step {step}: the loss became {value} (not a finite number); the last good checkpoint is {checkpoint}")]
    NonFinite { step: u64, value: f64, checkpoint: String },
}

fn ferr(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::File { path: path.display().to_string(), msg: e.to_string() }
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub dataset: PathBuf,
    pub run_dir: PathBuf,
    /// Start from a `.mag` or a model folder; `None` trains from scratch.
    pub init: Option<PathBuf>,
    /// Layer sizes for a model trained from scratch.
    pub layers: Vec<usize>,
    /// Applied to the defaults (new run) or to the checkpoint's hyper-parameters (resume).
    pub overrides: HParamsOverrides,
    pub early_stop: Option<EarlyStop>,
    /// Train until this step (counted from the start of the run, across resumes).
    pub steps: u64,
    pub eval_every: u64,
    pub summary_every: u64,
    pub checkpoint_every: u64,
    pub checkpoint_minutes: f64,
    pub keep_last: usize,
    /// Evaluate on at most this many eval examples (all when `None`).
    pub eval_examples: Option<usize>,
    pub seed: u64,
    pub resume: bool,
    pub progress: bool,
    /// Where to train (`auto`: a Vulkan GPU in a build with the `vulkan` or `wgpu` feature, else the CPU).
    pub device: crate::DeviceChoice,
    /// Tests only: pretend the loss of this step is NaN (the NaN path on real data).
    #[doc(hidden)]
    pub test_nan_at_step: Option<u64>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            dataset: PathBuf::new(),
            run_dir: PathBuf::new(),
            init: None,
            layers: vec![512, 512, 512],
            overrides: HParamsOverrides::default(),
            early_stop: None,
            steps: 1000,
            eval_every: 100,
            summary_every: 10,
            checkpoint_every: 100,
            checkpoint_minutes: 10.0,
            keep_last: 3,
            eval_examples: None,
            seed: 0,
            resume: false,
            progress: false,
            device: crate::DeviceChoice::Auto,
            test_nan_at_step: None,
        }
    }
}

/// Everything besides tensors that a resumed run needs, saved in every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub epoch: u64,
    pub position: usize,
    pub seed: u64,
    pub hparams: HParams,
    pub early_stop: Option<EarlyStop>,
    pub model: ModelConfig,
    pub names: TensorNames,
    pub dataset_fingerprint: String,
    pub best_step: Option<u64>,
    pub best_value: Option<f64>,
    pub evals_since_best: usize,
    pub tokens_seen: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CheckpointIndex {
    latest: Option<String>,
    best: Option<String>,
    all: Vec<String>,
}

/// Set by Ctrl-C: the loop saves a checkpoint and returns.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks a running `train` to stop at the next step, as Ctrl-C does.
pub fn request_stop() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

struct Log(std::fs::File);
impl Log {
    fn line(&mut self, s: &str) {
        let _ = writeln!(self.0, "{s}");
        let _ = self.0.flush();
    }
}

/// TensorFlow's `clip_by_norm` on each gradient tensor: g·c / max(‖g‖, c).
struct ClipEach<'a> {
    grads: &'a mut GradientsParams,
    clip: f32,
}
impl ModuleVisitor for ClipEach<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(p.id) {
            let norm = g.clone().square().sum().sqrt().clamp_min(self.clip);
            self.grads.register::<D>(p.id, g.mul_scalar(self.clip) / norm.unsqueeze());
        }
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().convert::<f32>().try_into_vec::<f32>().map(|v| v[0] as f64).unwrap_or(f64::NAN)
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

fn examples(store: &ExampleStore, ids: &[usize]) -> Vec<EncodedExample> {
    ids.iter()
        .map(|&i| EncodedExample { tokens: store.tokens(i), disable_conditioning: store.meta(i).disable_conditioning })
        .collect()
}

/// Runs the model with dropout off over (a prefix of) a store, batch by batch.
fn for_each_eval_batch(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
    mut f: impl FnMut(&Batch, crate::network::Output),
) {
    let n = limit.map_or(store.len(), |l| l.min(store.len()));
    let valid = net.valid();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    for start in (0..n).step_by(batch_size.max(1)) {
        let ids: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let batch = Batch::new(model.config, &examples(store, &ids), ids);
        let out = valid.forward(model, &batch, 1.0, &mut rng);
        f(&batch, out);
    }
}

/// Evaluates on (a prefix of) a store with dropout off.
pub fn evaluate(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
) -> Metrics {
    let mut sum = MetricsSum::default();
    for_each_eval_batch(net, model, store, batch_size, limit, |batch, out| {
        let loss = scalar(out.loss);
        sum.add(model.config, batch, &floats(out.logits), loss);
    });
    sum.finish()
}

/// An evaluation with the musical measures besides Magenta's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub metrics: Metrics,
    /// Mean |predicted − target| time shift, in 10 ms steps, where the target is a shift.
    pub shift_error: ShiftError,
    /// Mean expected harmony cost (see [`crate::losses`]) where the target is a NOTE_ON:
    /// lower = the model's next notes sit better in the key and against the sounding notes.
    /// `None` for configs without one-hot events.
    pub harmony_cost: Option<f64>,
}

/// [`evaluate`] plus the time-shift error and the expected harmony cost.
pub fn evaluate_report(
    net: &PerformanceRnn,
    model: &ModelConfig,
    store: &ExampleStore,
    batch_size: usize,
    limit: Option<usize>,
) -> EvalReport {
    let mut sum = MetricsSum::default();
    let mut shifts = ShiftErrorSum::default();
    let one_hot = check_config(model.config).is_ok();
    let (mut hsum, mut hn) = (0.0f64, 0usize);
    for_each_eval_batch(net, model, store, batch_size, limit, |batch, out| {
        if one_hot {
            let rows = harmony_rows(model.config, batch);
            if let Some(h) = expected_cost(&out.logits, &rows) {
                hsum += scalar(h) * rows.positions.len() as f64;
                hn += rows.positions.len();
            }
        }
        let loss = scalar(out.loss);
        let logits = floats(out.logits);
        shifts.add(model.config, batch, &logits);
        sum.add(model.config, batch, &logits, loss);
    });
    EvalReport {
        metrics: sum.finish(),
        shift_error: shifts.finish(),
        harmony_cost: (one_hot && hn > 0).then(|| hsum / hn as f64),
    }
}

/// Where a run is in its shuffled pass over the training split.
struct Cursor {
    perm: Vec<usize>,
    epoch: u64,
    position: usize,
}

impl Cursor {
    fn new(n: usize, seed: u64, epoch: u64, position: usize) -> Self {
        Cursor { perm: permutation(n, seed, epoch), epoch, position }
    }

    /// The next batch's example ids; a new epoch (and permutation) starts when the current
    /// one cannot fill a batch.
    fn next(&mut self, batch_size: usize, seed: u64) -> Vec<usize> {
        let n = self.perm.len();
        if self.position + batch_size > n && self.position > 0 {
            self.epoch += 1;
            self.position = 0;
            self.perm = permutation(n, seed, self.epoch);
        }
        let ids = self.perm[self.position..(self.position + batch_size).min(n)].to_vec();
        self.position += ids.len();
        ids
    }
}

fn permutation(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
    p
}

fn write_json_atomic<T: Serialize>(path: &Path, v: &T) -> Result<(), TrainError> {
    let bytes = serde_json::to_vec_pretty(v).expect("serialisable");
    cadenza_mag::write_file_atomic(path, &bytes).map_err(|e| ferr(path, e))
}

struct Run {
    dir: PathBuf,
    index: CheckpointIndex,
    keep_last: usize,
}

impl Run {
    fn ckpt_dir(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// Writes a checkpoint into a temporary folder and renames it into place: a checkpoint
    /// folder either exists complete or not at all.
    fn save(
        &mut self,
        net: &PerformanceRnn,
        optim: &burn::optim::ModuleOptimizer,
        state: &TrainState,
        best: bool,
    ) -> Result<String, TrainError> {
        let name = format!("ckpt-{:08}", state.step);
        let root = self.ckpt_dir();
        std::fs::create_dir_all(&root).map_err(|e| ferr(&root, e))?;
        let tmp = root.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| ferr(&tmp, e))?;
        let weights = net.to_weights(&state.model, &state.names);
        weights
            .save_dir(&tmp, &format!("training run {} step {}", self.dir.display(), state.step))
            .map_err(|e| ferr(&tmp, e))?;
        net.clone().save_file(tmp.join("module.bpk")).map_err(|e| ferr(&tmp.join("module.bpk"), e))?;
        optim.save(tmp.join("optimizer.bpk")).map_err(|e| ferr(&tmp.join("optimizer.bpk"), e))?;
        write_json_atomic(&tmp.join("state.json"), state)?;
        for f in ["module.bpk", "optimizer.bpk"] {
            if let Ok(file) = std::fs::File::open(tmp.join(f)) {
                let _ = file.sync_all();
            }
        }
        cadenza_atomic::sync_dir(&tmp);
        let dst = root.join(&name);
        let _ = std::fs::remove_dir_all(&dst);
        std::fs::rename(&tmp, &dst).map_err(|e| ferr(&dst, e))?;
        cadenza_atomic::sync_dir(&root);
        if !self.index.all.contains(&name) {
            self.index.all.push(name.clone());
        }
        self.index.latest = Some(name.clone());
        if best {
            self.index.best = Some(name.clone());
            // `best/`: the best model as a plain model folder, replaced atomically.
            let best_tmp = self.dir.join(".best.tmp");
            let _ = std::fs::remove_dir_all(&best_tmp);
            weights.save_dir(&best_tmp, &format!("best checkpoint {name}")).map_err(|e| ferr(&best_tmp, e))?;
            let best_dir = self.dir.join("best");
            let old = self.dir.join(".best.old");
            let _ = std::fs::remove_dir_all(&old);
            if best_dir.exists() {
                std::fs::rename(&best_dir, &old).map_err(|e| ferr(&best_dir, e))?;
            }
            std::fs::rename(&best_tmp, &best_dir).map_err(|e| ferr(&best_dir, e))?;
            let _ = std::fs::remove_dir_all(&old);
        }
        // Keep the last K and the best.
        while self.index.all.len() > self.keep_last.max(1) {
            let pos = self.index.all.iter().position(|n| Some(n) != self.index.best.as_ref()).unwrap_or(0);
            let victim = self.index.all.remove(pos);
            if Some(&victim) == self.index.best.as_ref() {
                self.index.all.insert(0, victim);
                break;
            }
            let _ = std::fs::remove_dir_all(root.join(&victim));
        }
        write_json_atomic(&self.dir.join("checkpoint.json"), &self.index)?;
        Ok(name)
    }
}

/// Loads a checkpoint folder: module (with its parameter ids), optimizer state and state.json.
fn load_checkpoint(
    dir: &Path,
    dev: &Device,
) -> Result<(PerformanceRnn, burn::optim::ModuleOptimizer, TrainState), TrainError> {
    let state: TrainState =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).map_err(|e| ferr(&dir.join("state.json"), e))?)
            .map_err(|e| ferr(&dir.join("state.json"), e))?;
    let weights = Weights::load_dir(dir).map_err(|e| ferr(dir, e))?;
    let net = PerformanceRnn::from_weights(&weights, dev)
        .try_load_file(dir.join("module.bpk"))
        .map_err(|e| ferr(&dir.join("module.bpk"), e))?;
    let optim = adam().load(dir.join("optimizer.bpk")).map_err(|e| ferr(&dir.join("optimizer.bpk"), e))?;
    Ok((net, optim, state))
}

fn adam() -> burn::optim::ModuleOptimizer {
    AdamConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).init()
}

/// Σ|w| and Σw² over kernels and FC weights (biases excluded), as tensors in the graph.
fn regularisers(net: &PerformanceRnn) -> (Tensor<1>, Tensor<1>) {
    let mut l1: Option<Tensor<1>> = None;
    let mut l2: Option<Tensor<1>> = None;
    let mut add = |w: Tensor<2>| {
        let a = w.clone().abs().sum();
        let b = w.square().sum();
        l1 = Some(match l1.take() {
            None => a,
            Some(x) => x + a,
        });
        l2 = Some(match l2.take() {
            None => b,
            Some(x) => x + b,
        });
    };
    for k in &net.kernels {
        add(k.val());
    }
    add(net.fc_w.val());
    (l1.unwrap(), l2.unwrap())
}

/// Runs (or resumes) training. Returns why it stopped.
pub fn train(opts: &TrainOptions) -> Result<StopInfo, TrainError> {
    let ds = Dataset::open(&opts.dataset).map_err(|e| TrainError::Setup(e.to_string()))?;
    if ds.train.is_empty() {
        return Err(TrainError::Setup(format!("{}: the training split is empty", opts.dataset.display())));
    }
    let sel = crate::device::select(opts.device).map_err(TrainError::Setup)?;
    let dev = sel.device.clone().autodiff();
    std::fs::create_dir_all(&opts.run_dir).map_err(|e| ferr(&opts.run_dir, e))?;
    let mut log = Log(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(opts.run_dir.join("log.txt"))
        .map_err(|e| ferr(&opts.run_dir, e))?);
    eprintln!("{}", sel.summary());
    log.line(&sel.summary());
    let index_path = opts.run_dir.join("checkpoint.json");
    let index: CheckpointIndex =
        std::fs::read(&index_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();

    let (mut net, mut optim, mut st) = if opts.resume {
        let latest = index.latest.clone().ok_or_else(|| {
            TrainError::Setup(format!("{}: nothing to resume (no checkpoint.json)", opts.run_dir.display()))
        })?;
        let (net, optim, mut st) = load_checkpoint(&opts.run_dir.join("checkpoints").join(&latest), &dev)?;
        let old = st.hparams.clone();
        opts.overrides.apply(&mut st.hparams).map_err(TrainError::Setup)?;
        if let Some(e) = &opts.early_stop {
            if st.early_stop.as_ref() != Some(e) {
                log.line(&format!("step {}: early stopping changed to {e:?}", st.step));
                st.evals_since_best = 0;
            }
            st.early_stop = Some(e.clone());
        }
        for d in st.hparams.diff(&old) {
            let msg = format!("step {}: resumed with {d}", st.step);
            eprintln!("{msg}");
            log.line(&msg);
        }
        if st.dataset_fingerprint != ds.manifest.fingerprint {
            let msg = format!(
                "step {}: the dataset changed since the checkpoint (fingerprint {} → {})",
                st.step,
                &st.dataset_fingerprint[..12.min(st.dataset_fingerprint.len())],
                &ds.manifest.fingerprint[..12]
            );
            eprintln!("warning: {msg}");
            log.line(&msg);
            st.dataset_fingerprint = ds.manifest.fingerprint.clone();
        }
        log.line(&format!("resumed from {latest} at step {}", st.step));
        (net, optim, st)
    } else {
        if index.latest.is_some() {
            return Err(TrainError::Setup(format!(
                "{}: already holds a run; pass --resume to continue it, or choose another --run-dir",
                opts.run_dir.display()
            )));
        }
        let mut hp = HParams::default();
        let layers = opts.overrides.apply(&mut hp).map_err(TrainError::Setup)?;
        let weights = match &opts.init {
            Some(p) => {
                let w = Weights::load(p).map_err(|e| TrainError::Setup(e.to_string()))?;
                if layers.is_some_and(|l| l != w.config.layers) {
                    return Err(TrainError::Setup(format!(
                        "rnn_layer_sizes cannot change the shape of {}",
                        p.display()
                    )));
                }
                w
            }
            None => Weights::init(
                ModelConfig::new(ds.manifest.config, layers.unwrap_or_else(|| opts.layers.clone())),
                opts.seed,
            ),
        };
        let compatible = weights.config.config == ds.manifest.config
            || (weights.config.config.generator_id() == ds.manifest.config.generator_id()
                && weights.config.input_size() == ModelConfig::new(ds.manifest.config, vec![1]).input_size());
        if !compatible {
            return Err(TrainError::Setup(format!(
                "the model is a {} model but the dataset was built for {}",
                weights.config.config, ds.manifest.config
            )));
        }
        let st = TrainState {
            step: 0,
            epoch: 0,
            position: 0,
            seed: opts.seed,
            hparams: hp,
            early_stop: opts.early_stop.clone(),
            model: weights.config.clone(),
            names: weights.names.clone(),
            dataset_fingerprint: ds.manifest.fingerprint.clone(),
            best_step: None,
            best_value: None,
            evals_since_best: 0,
            tokens_seen: 0,
            seconds: 0.0,
        };
        log.line(&format!(
            "new run: {} {:?}, init {}, hparams {}",
            st.model.config,
            st.model.layers,
            opts.init.as_ref().map_or("scratch".into(), |p| p.display().to_string()),
            serde_json::to_string(&st.hparams).unwrap()
        ));
        (PerformanceRnn::from_weights(&weights, &dev), adam(), st)
    };
    let model = st.model.clone();
    let config: Config = model.config;
    if st.hparams.rhythm_loss > 0.0 || st.hparams.harmony_loss > 0.0 {
        check_config(config).map_err(TrainError::Setup)?;
    }

    let mut run = Run { dir: opts.run_dir.clone(), index, keep_last: opts.keep_last };
    let mut csv = MetricsCsv::open(&opts.run_dir, st.step).map_err(|e| ferr(&opts.run_dir.join("metrics.csv"), e))?;
    let mut tb_train = EventWriter::create(&opts.run_dir.join("train")).map_err(|e| ferr(&opts.run_dir, e))?;
    let mut tb_eval = EventWriter::create(&opts.run_dir.join("eval")).map_err(|e| ferr(&opts.run_dir, e))?;
    INTERRUPTED.store(false, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));

    let bar = if opts.progress { indicatif::ProgressBar::new(opts.steps) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} step {pos}/{len} [{bar:30}] {msg} eta {eta}")
            .unwrap()
            .progress_chars("=> "),
    );
    bar.set_position(st.step);

    let n_train = ds.train.len();
    let mut cursor = Cursor::new(n_train, st.seed, st.epoch, st.position);
    let started = Instant::now();
    let base_seconds = st.seconds;
    let mut last_ckpt_time = Instant::now();
    let mut last_eval: Option<Metrics> = None;
    let mut window_tokens = 0u64;
    let mut window_start = Instant::now();
    let mut last_good = run.index.latest.clone().unwrap_or_else(|| "none".into());
    let inject_nan_at = opts.test_nan_at_step;

    let stop = |reason: StopReason,
                st: &TrainState,
                run: &Run,
                last_eval: &Option<Metrics>,
                log: &mut Log|
     -> Result<StopInfo, TrainError> {
        let info = StopInfo {
            reason: reason.clone(),
            step: st.step,
            best_checkpoint: run.index.best.clone(),
            best_step: st.best_step,
            best_metric: Some(st.early_stop.as_ref().map_or("loss", |e| e.metric_name()).to_string()),
            best_value: st.best_value,
            last_eval: last_eval.clone(),
        };
        write_json_atomic(&run.dir.join("stop.json"), &info)?;
        log.line(&format!("stopped at step {}: {reason}", st.step));
        Ok(info)
    };

    while st.step < opts.steps {
        let hp = st.hparams.clone();
        let lr = hp.schedule.learning_rate(hp.learning_rate, st.step);
        let ids = cursor.next(hp.batch_size, st.seed);
        (st.epoch, st.position) = (cursor.epoch, cursor.position);
        let batch = Batch::new(config, &examples(&ds.train, &ids), ids);
        let mut drop_rng = rand_chacha::ChaCha8Rng::seed_from_u64(st.seed.wrapping_mul(31).wrapping_add(st.step));
        let out = net.forward(&model, &batch, hp.dropout_keep_prob, &mut drop_rng);
        let mut loss = out.loss.clone();
        let (mut l1v, mut l2v) = (0.0, 0.0);
        if hp.l1 > 0.0 || hp.l2 > 0.0 {
            let (l1, l2) = regularisers(&net);
            if hp.l1 > 0.0 {
                let t = l1.mul_scalar(hp.l1 as f32);
                l1v = scalar(t.clone());
                loss = loss + t;
            }
            if hp.l2 > 0.0 {
                let t = l2.mul_scalar(hp.l2 as f32);
                l2v = scalar(t.clone());
                loss = loss + t;
            }
        }
        let (mut rhythm_v, mut harmony_v) = (0.0, 0.0);
        let mw = MusicalWeights { rhythm: hp.rhythm_loss, harmony: hp.harmony_loss, rhythm_cost: hp.rhythm_cost };
        if mw.any() {
            let terms = musical_terms(config, &batch, &out.logits, mw);
            if let Some(t) = terms.rhythm {
                rhythm_v = scalar(t.clone());
                loss = loss + t.mul_scalar(mw.rhythm as f32);
            }
            if let Some(t) = terms.harmony {
                harmony_v = scalar(t.clone());
                loss = loss + t.mul_scalar(mw.harmony as f32);
            }
        }
        let mut ce = scalar(out.loss.clone());
        if inject_nan_at == Some(st.step + 1) {
            ce = f64::NAN;
        }
        if !ce.is_finite() {
            bar.finish_and_clear();
            let _ = stop(
                StopReason::NonFinite(format!("the loss became {ce} at step {}", st.step + 1)),
                &st,
                &run,
                &last_eval,
                &mut log,
            );
            return Err(TrainError::NonFinite { step: st.step + 1, value: ce, checkpoint: last_good });
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        net.visit(&mut ClipEach { grads: &mut grads, clip: hp.clip_norm });
        net = optim.step(lr, net, grads);
        st.step += 1;
        let ntok = batch.tokens() as u64;
        st.tokens_seen += ntok;
        window_tokens += ntok;
        bar.set_position(st.step);

        if st.step % opts.summary_every.max(1) == 0 || st.step == opts.steps {
            let mut sum = MetricsSum::default();
            sum.add(config, &batch, &floats(out.logits), ce);
            let m = sum.finish();
            let tps = window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
            window_tokens = 0;
            window_start = Instant::now();
            bar.set_message(format!("loss {:.4} acc {:.3} {:.0} tok/s", m.loss, m.accuracy, tps));
            csv.push(Row { step: st.step, split: "train".into(), m: m.clone(), learning_rate: lr })
                .map_err(|e| ferr(&opts.run_dir, e))?;
            tb_train.scalars(st.step, &m, Some(lr)).map_err(|e| ferr(&opts.run_dir, e))?;
            let musical = if mw.any() {
                format!(" rhythm_term {rhythm_v:.5} harmony_term {harmony_v:.5}")
            } else {
                String::new()
            };
            log.line(&format!(
                "step {} train loss {:.5} accuracy {:.4} lr {:.3e} l1_term {:.5} l2_term {:.5}{musical} {:.0} tok/s",
                st.step, m.loss, m.accuracy, lr, l1v, l2v, tps
            ));
        }

        let mut stop_reason: Option<StopReason> = None;
        let mut is_best = false;
        let eval_now = !ds.eval.is_empty() && (st.step % opts.eval_every.max(1) == 0 || st.step == opts.steps);
        if eval_now {
            let m = evaluate(&net, &model, &ds.eval, hp.batch_size, opts.eval_examples);
            csv.push(Row { step: st.step, split: "eval".into(), m: m.clone(), learning_rate: lr })
                .map_err(|e| ferr(&opts.run_dir, e))?;
            tb_eval.scalars(st.step, &m, None).map_err(|e| ferr(&opts.run_dir, e))?;
            log.line(&format!(
                "step {} eval loss {:.5} accuracy {:.4} event_accuracy {:.4}",
                st.step, m.loss, m.accuracy, m.event_accuracy
            ));
            let es = st.early_stop.clone().unwrap_or(EarlyStop {
                mode: StopMode::Min,
                target: None,
                patience: usize::MAX,
                min_delta: 0.0,
            });
            let value = match es.mode {
                StopMode::Min => m.loss,
                StopMode::Max => m.accuracy,
            };
            if es.improves(value, st.best_value) {
                st.best_value = Some(value);
                st.best_step = Some(st.step);
                st.evals_since_best = 0;
                is_best = true;
            } else {
                st.evals_since_best += 1;
            }
            if st.early_stop.is_some() {
                if es.reached_target(value) {
                    stop_reason = Some(StopReason::EarlyStop(format!(
                        "early stopping: eval {} {value:.5} reached the target {}",
                        es.metric_name(),
                        es.target.unwrap()
                    )));
                } else if st.evals_since_best >= es.patience {
                    stop_reason = Some(StopReason::EarlyStop(format!(
                        "early stopping: eval {} has not improved by more than {} for {} evaluations (best {:.5} at step {})",
                        es.metric_name(),
                        es.min_delta,
                        st.evals_since_best,
                        st.best_value.unwrap_or(f64::NAN),
                        st.best_step.unwrap_or(0)
                    )));
                }
            }
            last_eval = Some(m);
            if let Err(e) = plot_curves(&csv.rows, &opts.run_dir) {
                log.line(&format!("step {}: could not draw curves: {e}", st.step));
            }
        }

        let interrupted = INTERRUPTED.load(Ordering::SeqCst);
        let due = st.step % opts.checkpoint_every.max(1) == 0
            || last_ckpt_time.elapsed().as_secs_f64() >= opts.checkpoint_minutes * 60.0;
        if due || is_best || interrupted || stop_reason.is_some() || st.step == opts.steps {
            st.seconds = base_seconds + started.elapsed().as_secs_f64();
            last_good = run.save(&net, &optim, &st, is_best)?;
            last_ckpt_time = Instant::now();
        }
        if interrupted {
            bar.finish_and_clear();
            return stop(StopReason::Interrupted, &st, &run, &last_eval, &mut log);
        }
        if let Some(r) = stop_reason {
            bar.finish_and_clear();
            eprintln!("{r}");
            return stop(r, &st, &run, &last_eval, &mut log);
        }
    }
    bar.finish_and_clear();
    stop(StopReason::ReachedSteps(opts.steps), &st, &run, &last_eval, &mut log)
}

/// One point of an LR range test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrPoint {
    pub step: u64,
    pub learning_rate: f64,
    pub loss: f64,
    /// Exponential moving average of the loss (β = 0.98), bias-corrected.
    pub smoothed_loss: f64,
}

/// `lr_find.json`: the curve and what it suggests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrFind {
    pub points: Vec<LrPoint>,
    /// Learning rate where the smoothed loss falls fastest (per log-LR).
    pub steepest: Option<f64>,
    /// Learning rate of the lowest smoothed loss.
    pub min_loss: Option<f64>,
    /// The range test's usual pick: the steepest point, capped at a tenth of the minimum's
    /// learning rate; a cyclical schedule would use it as `upper` and a quarter as `lower`.
    pub suggested: Option<f64>,
    pub stopped: String,
}

/// Options of [`lr_find`].
#[derive(Debug, Clone)]
pub struct LrFindOptions {
    pub dataset: PathBuf,
    pub out: PathBuf,
    pub init: Option<PathBuf>,
    pub layers: Vec<usize>,
    pub overrides: HParamsOverrides,
    pub min_lr: f64,
    pub max_lr: f64,
    pub steps: u64,
    pub seed: u64,
    pub progress: bool,
    pub device: crate::DeviceChoice,
}

/// Leslie Smith's learning-rate range test: from `min_lr` to `max_lr` exponentially over
/// `steps` training steps (Magenta's recipe otherwise: Adam, per-tensor clipping, the
/// hyper-parameters of `overrides`), recording the loss; stops once the smoothed loss exceeds 4×
/// its best. Writes `lr_find.csv`, `lr_find.json` and `lr_find.svg/png` (loss against
/// log learning rate) to `out`. The model is not saved: the test only reads the curve.
pub fn lr_find(o: &LrFindOptions) -> Result<LrFind, TrainError> {
    if !(o.min_lr > 0.0 && o.max_lr > o.min_lr && o.steps >= 2) {
        return Err(TrainError::Setup("lr-find needs 0 < --min-lr < --max-lr and --steps ≥ 2".into()));
    }
    let ds = Dataset::open(&o.dataset).map_err(|e| TrainError::Setup(e.to_string()))?;
    if ds.train.is_empty() {
        return Err(TrainError::Setup(format!("{}: the training split is empty", o.dataset.display())));
    }
    let mut hp = HParams::default();
    let layers = o.overrides.apply(&mut hp).map_err(TrainError::Setup)?;
    let weights = match &o.init {
        Some(p) => Weights::load(p).map_err(|e| TrainError::Setup(e.to_string()))?,
        None => Weights::init(ModelConfig::new(ds.manifest.config, layers.unwrap_or_else(|| o.layers.clone())), o.seed),
    };
    let model = weights.config.clone();
    let config = model.config;
    let sel = crate::device::select(o.device).map_err(TrainError::Setup)?;
    if o.progress {
        eprintln!("{}", sel.summary());
    }
    let dev = sel.device.clone().autodiff();
    let mut net = PerformanceRnn::from_weights(&weights, &dev);
    let mut optim = adam();
    std::fs::create_dir_all(&o.out).map_err(|e| ferr(&o.out, e))?;
    let mut cursor = Cursor::new(ds.train.len(), o.seed, 0, 0);
    let bar = if o.progress { indicatif::ProgressBar::new(o.steps) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} lr-find {pos}/{len} [{bar:30}] {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    let ratio = (o.max_lr / o.min_lr).ln();
    let (mut avg, mut best) = (0.0f64, f64::INFINITY);
    let mut points: Vec<LrPoint> = Vec::new();
    let mut stopped = format!("reached --max-lr {} after {} steps", o.max_lr, o.steps);
    for step in 0..o.steps {
        let lr = o.min_lr * (ratio * step as f64 / (o.steps - 1) as f64).exp();
        let ids = cursor.next(hp.batch_size, o.seed);
        let batch = Batch::new(config, &examples(&ds.train, &ids), ids);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(o.seed.wrapping_mul(31).wrapping_add(step));
        let out = net.forward(&model, &batch, hp.dropout_keep_prob, &mut rng);
        let loss = scalar(out.loss.clone());
        if !loss.is_finite() {
            stopped = format!("the loss became {loss} at learning rate {lr:.3e}");
            break;
        }
        avg = 0.98 * avg + 0.02 * loss;
        let smoothed = avg / (1.0 - 0.98f64.powi(step as i32 + 1));
        points.push(LrPoint { step, learning_rate: lr, loss, smoothed_loss: smoothed });
        bar.set_position(step + 1);
        bar.set_message(format!("lr {lr:.2e} loss {smoothed:.4}"));
        best = best.min(smoothed);
        if step > 5 && smoothed > 4.0 * best {
            stopped = format!("the smoothed loss passed 4× its best at learning rate {lr:.3e}");
            break;
        }
        let mut grads = GradientsParams::from_grads(out.loss.backward(), &net);
        net.visit(&mut ClipEach { grads: &mut grads, clip: hp.clip_norm });
        net = optim.step(lr, net, grads);
    }
    bar.finish_and_clear();
    // Steepest descent of the smoothed loss per unit of ln(lr), over a 5-point window,
    // ignoring the first tenth (the moving average is still warming up).
    let skip = points.len() / 10;
    let min_at = points
        .iter()
        .enumerate()
        .skip(skip)
        .min_by(|a, b| a.1.smoothed_loss.total_cmp(&b.1.smoothed_loss))
        .map_or(points.len(), |(i, _)| i + 1);
    let mut steepest: Option<(f64, f64)> = None;
    // Only before the lowest loss: past it the loss is diverging, and a lucky drop there
    // is no place to train.
    for w in points[..min_at.min(points.len())].windows(5).skip(skip) {
        let slope = (w[4].smoothed_loss - w[0].smoothed_loss) / (w[4].learning_rate.ln() - w[0].learning_rate.ln());
        if steepest.is_none_or(|(s, _)| slope < s) {
            steepest = Some((slope, w[2].learning_rate));
        }
    }
    let min_loss =
        points.iter().skip(skip).min_by(|a, b| a.smoothed_loss.total_cmp(&b.smoothed_loss)).map(|p| p.learning_rate);
    let steepest = steepest.filter(|(s, _)| *s < 0.0).map(|(_, lr)| lr);
    let suggested = match (steepest, min_loss) {
        (Some(s), Some(m)) => Some(s.min(m / 10.0).max(o.min_lr)),
        (Some(s), None) => Some(s),
        (None, Some(m)) => Some(m / 10.0),
        _ => None,
    };
    let r = LrFind { points, steepest, min_loss, suggested, stopped };
    let mut csv = String::from("step,learning_rate,loss,smoothed_loss\n");
    for p in &r.points {
        csv.push_str(&format!("{},{},{},{}\n", p.step, p.learning_rate, p.loss, p.smoothed_loss));
    }
    cadenza_mag::write_file_atomic(o.out.join("lr_find.csv"), csv.as_bytes())
        .map_err(|e| ferr(&o.out.join("lr_find.csv"), e))?;
    write_json_atomic(&o.out.join("lr_find.json"), &r)?;
    crate::logs::plot_lr_find(&r.points, r.suggested, &o.out).map_err(|e| ferr(&o.out, e))?;
    Ok(r)
}
