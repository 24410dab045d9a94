//! The training loop: Magenta's recipe (Adam 0.9/0.999/1e-8, per-tensor clipping at norm 3,
//! mean cross-entropy over real tokens) plus every knob the seed project added — dropout,
//! L1/L2, learning-rate schedules, evaluation inside the run, early stopping on the eval set,
//! checkpoints that resume bit for bit with changed hyper-parameters.
//!
//! A run directory holds `checkpoints/ckpt-NNNNNNNN/` (a loadable model folder plus the burn
//! module and optimizer records and `state.json`), `checkpoint.json` (latest and best),
//! `best/` (the best model), `metrics.csv`, `train/` and `eval/` TensorBoard event files,
//! `curves.svg`/`curves.png`, `log.txt` and, when the run ends, `stop.json`.

//!
//! The loop lives here; the run folder is [`crate::run_dir`], evaluation [`crate::eval`],
//! batches [`crate::data`], the optimiser [`crate::optim`], the LR range test
//! [`crate::lr_find`].

use crate::data::{examples, floats, scalar, Cursor};
pub use crate::error::TrainError;
use crate::error::{ferr, write_json_atomic};
pub use crate::eval::{evaluate, evaluate_report, EvalReport};
use crate::hparams::{EarlyStop, HParams, HParamsOverrides, StopMode};
use crate::logs::{plot_curves, EventWriter, MetricsCsv, Row};
use crate::losses::{check_config, musical_terms};
pub use crate::lr_find::{lr_find, LrFind, LrFindOptions, LrPoint};
use crate::metrics::{Metrics, MetricsSum};
use crate::network::{Batch, PerformanceRnn};
use crate::optim::{adam, regularisers, ClipEach};
pub use crate::run_dir::TrainState;
use crate::run_dir::{load_checkpoint, CheckpointIndex, Log, Run};
pub use crate::stop::{StopInfo, StopReason};
use burn::module::Module;
use burn::optim::GradientsParams;
use cadenza_dataset::Dataset;
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::Config;
use rand::SeedableRng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
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
    /// Set it to stop the run at its next step, with a checkpoint (the binary's Ctrl-C).
    pub cancel: Cancel,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            cancel: Cancel::default(),
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

/// A cancellation flag a caller shares with running training: once set, the loop writes a
/// checkpoint at the end of its step and returns [`StopReason::Interrupted`]. The library
/// installs no signal handler; the binary sets this on Ctrl-C.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// Asks every run holding this flag to stop at its next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs (or resumes) training. Returns why it stopped.
pub fn train(opts: &TrainOptions) -> Result<StopInfo, TrainError> {
    let ds = Dataset::open(&opts.dataset)?;
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
            return Err(TrainError::RunExists(opts.run_dir.display().to_string()));
        }
        let mut hp = HParams::default();
        let layers = opts.overrides.apply(&mut hp).map_err(TrainError::Setup)?;
        let weights = match &opts.init {
            Some(p) => {
                let w = Weights::load(p)?;
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
    if st.hparams.recipe.any() {
        check_config(config).map_err(TrainError::Setup)?;
    }

    let mut run = Run { dir: opts.run_dir.clone(), index, keep_last: opts.keep_last };
    let mut csv = MetricsCsv::open(&opts.run_dir, st.step).map_err(|e| ferr(&opts.run_dir.join("metrics.csv"), e))?;
    let mut tb_train = EventWriter::create(&opts.run_dir.join("train")).map_err(|e| ferr(&opts.run_dir, e))?;
    let mut tb_eval = EventWriter::create(&opts.run_dir.join("eval")).map_err(|e| ferr(&opts.run_dir, e))?;

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
            message: reason.to_string(),
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
        let mw = hp.recipe;
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
                StopReason::NonFinite { step: st.step + 1, loss: ce.to_string() },
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
                    stop_reason = Some(StopReason::TargetReached {
                        metric: es.metric_name().to_string(),
                        value,
                        target: es.target.unwrap(),
                    });
                } else if st.evals_since_best >= es.patience {
                    stop_reason = Some(StopReason::NoImprovement {
                        metric: es.metric_name().to_string(),
                        min_delta: es.min_delta,
                        evaluations: st.evals_since_best as u64,
                        best: st.best_value.unwrap_or(f64::NAN),
                        best_step: st.best_step.unwrap_or(0),
                    });
                }
            }
            last_eval = Some(m);
            if let Err(e) = plot_curves(&csv.rows, &opts.run_dir) {
                log.line(&format!("step {}: could not draw curves: {e}", st.step));
            }
        }

        let interrupted = opts.cancel.is_cancelled();
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
    stop(StopReason::ReachedSteps { steps: opts.steps }, &st, &run, &last_eval, &mut log)
}
