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
pub use crate::event::{OnEvent, TrainEvent};
use crate::hparams::{EarlyStop, HParams, HParamsOverrides, StopMode};
use crate::logs::{plot_curves, EventWriter, MetricsCsv, Row};
use crate::losses::{check_config, musical_terms};
pub use crate::lr_find::{lr_find, LrFind, LrFindOptions, LrPoint};
use crate::metrics::{Metrics, MetricsSum};
use crate::network::{Batch, PerformanceRnn};
use crate::optim::{adam, regularisers, ClipEach};
pub use crate::run_dir::TrainState;
use crate::run_dir::{load_newest_intact, read_index, CheckpointIndex, Log, Run};
pub use crate::stop::{StopInfo, StopReason};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use cadenza_dataset::Dataset;
use cadenza_model::{ModelConfig, Weights};
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
    #[cfg(test)]
    pub(crate) test_nan_at_step: Option<u64>,
    /// Where the run's messages go (the device, settings changed on resume, a damaged
    /// checkpoint passed over, an early stop); the binary prints them.
    pub on_event: OnEvent,
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
            #[cfg(test)]
            test_nan_at_step: None,
            on_event: OnEvent::default(),
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
    let _lock = cadenza_atomic::DirLock::acquire(&opts.run_dir, "training")?;
    let mut log = Log::open(&opts.run_dir)?;
    tell(opts, &mut log, TrainEvent::Device(sel.summary()));
    let mut index = read_index(&opts.run_dir);
    let (net, optim, st) = if opts.resume {
        resume(opts, &ds, &dev, &mut index, &mut log)?
    } else {
        if index.latest.is_some() {
            return Err(TrainError::RunExists(opts.run_dir.display().to_string()));
        }
        let (net, st) = start(opts, &ds, &dev, &mut log)?;
        (net, adam(), st)
    };
    if st.hparams.recipe.any() {
        check_config(st.model.config).map_err(TrainError::Setup)?;
    }
    Session::open(opts, &ds, optim, st, index, log)?.run(net)
}

/// An event in `log.txt` and to the caller.
fn tell(opts: &TrainOptions, log: &mut Log, e: TrainEvent) {
    log.line(&e.message());
    opts.on_event.emit(e);
}

/// Resumes from the newest intact checkpoint, with the options' changes to its
/// hyper-parameters and early stopping applied (and logged).
fn resume(
    opts: &TrainOptions,
    ds: &Dataset,
    dev: &Device,
    index: &mut CheckpointIndex,
    log: &mut Log,
) -> Result<(PerformanceRnn, ModuleOptimizer, TrainState), TrainError> {
    if index.latest.is_none() {
        return Err(TrainError::Setup(format!("{}: nothing to resume (no checkpoint.json)", opts.run_dir.display())));
    }
    let loaded = load_newest_intact(&opts.run_dir, index, dev, &mut |name, problem| {
        let e = TrainEvent::DamagedCheckpoint { checkpoint: name.to_string(), problem: problem.to_string() };
        tell(opts, log, e)
    })?;
    let mut st = loaded.state;
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
        tell(opts, log, TrainEvent::Resumed { step: st.step, change: d });
    }
    if st.dataset_fingerprint != ds.manifest.fingerprint {
        let was = st.dataset_fingerprint[..12.min(st.dataset_fingerprint.len())].to_string();
        let now = ds.manifest.fingerprint[..12].to_string();
        tell(opts, log, TrainEvent::DatasetChanged { step: st.step, was, now });
        st.dataset_fingerprint = ds.manifest.fingerprint.clone();
    }
    log.line(&format!("resumed from {} at step {}", loaded.name, st.step));
    Ok((loaded.net, loaded.optim, st))
}

/// A new run: the model from `init` (or initialised for the dataset's encoding), checked
/// against the dataset, at step 0.
fn start(
    opts: &TrainOptions,
    ds: &Dataset,
    dev: &Device,
    log: &mut Log,
) -> Result<(PerformanceRnn, TrainState), TrainError> {
    let mut hp = HParams::default();
    let layers = opts.overrides.apply(&mut hp).map_err(TrainError::Setup)?;
    let weights = match &opts.init {
        Some(p) => {
            let w = Weights::load(p)?;
            if layers.is_some_and(|l| l != w.config.layers) {
                return Err(TrainError::Setup(format!("rnn_layer_sizes cannot change the shape of {}", p.display())));
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
    Ok((PerformanceRnn::from_weights(&weights, dev), st))
}

/// What one optimiser step measured, for its summary.
struct Stepped {
    batch: Batch,
    logits: Tensor<2>,
    /// The cross-entropy alone.
    ce: f64,
    lr: f64,
    /// The L1 and L2 terms, and the rhythm and harmony terms (unweighted), as added to the loss.
    l1: f64,
    l2: f64,
    rhythm: f64,
    harmony: f64,
    musical: bool,
}

/// A run in progress: its optimiser and state, where it writes, and its clocks. The model
/// itself passes through [`Session::run`] by value, as the optimiser's step takes it.
struct Session<'a> {
    opts: &'a TrainOptions,
    ds: &'a Dataset,
    model: ModelConfig,
    optim: ModuleOptimizer,
    st: TrainState,
    run: Run,
    log: Log,
    csv: MetricsCsv,
    tb_train: EventWriter,
    tb_eval: EventWriter,
    bar: indicatif::ProgressBar,
    cursor: Cursor,
    started: Instant,
    base_seconds: f64,
    last_ckpt_time: Instant,
    last_eval: Option<Metrics>,
    window_tokens: u64,
    window_start: Instant,
    last_good: String,
}

impl<'a> Session<'a> {
    /// Opens the run's metrics, event files and progress bar at the state's step.
    fn open(
        opts: &'a TrainOptions,
        ds: &'a Dataset,
        optim: ModuleOptimizer,
        st: TrainState,
        index: CheckpointIndex,
        log: Log,
    ) -> Result<Self, TrainError> {
        let dir = &opts.run_dir;
        let run = Run { dir: dir.clone(), index, keep_last: opts.keep_last };
        let csv = MetricsCsv::open(dir, st.step).map_err(|e| ferr(&dir.join("metrics.csv"), e))?;
        let tb_train = EventWriter::create(&dir.join("train")).map_err(|e| ferr(dir, e))?;
        let tb_eval = EventWriter::create(&dir.join("eval")).map_err(|e| ferr(dir, e))?;
        let bar =
            if opts.progress { indicatif::ProgressBar::new(opts.steps) } else { indicatif::ProgressBar::hidden() };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} step {pos}/{len} [{bar:30}] {msg} eta {eta}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_position(st.step);
        let cursor = Cursor::new(ds.train.len(), st.seed, st.epoch, st.position);
        let last_good = run.index.latest.clone().unwrap_or_else(|| "none".into());
        Ok(Session {
            opts,
            ds,
            model: st.model.clone(),
            optim,
            base_seconds: st.seconds,
            st,
            run,
            log,
            csv,
            tb_train,
            tb_eval,
            bar,
            cursor,
            started: Instant::now(),
            last_ckpt_time: Instant::now(),
            last_eval: None,
            window_tokens: 0,
            window_start: Instant::now(),
            last_good,
        })
    }

    /// Steps until the last step, an early stop, a cancel or a non-finite loss.
    fn run(mut self, mut net: PerformanceRnn) -> Result<StopInfo, TrainError> {
        let opts = self.opts;
        while self.st.step < opts.steps {
            let (stepped_net, stepped) = self.step(net)?;
            net = stepped_net;
            let lr = stepped.lr;
            if self.st.step.is_multiple_of(opts.summary_every.max(1)) || self.st.step == opts.steps {
                self.summarise(stepped)?;
            }
            let eval_now = !self.ds.eval.is_empty()
                && (self.st.step.is_multiple_of(opts.eval_every.max(1)) || self.st.step == opts.steps);
            let (is_best, stop_reason) = if eval_now { self.evaluate(&net, lr)? } else { (false, None) };
            let interrupted = opts.cancel.is_cancelled();
            self.checkpoint(&net, is_best, interrupted || stop_reason.is_some())?;
            if interrupted {
                self.bar.finish_and_clear();
                return self.stop(StopReason::Interrupted);
            }
            if let Some(r) = stop_reason {
                self.bar.finish_and_clear();
                opts.on_event.emit(TrainEvent::EarlyStop(r.clone()));
                return self.stop(r);
            }
        }
        self.bar.finish_and_clear();
        self.stop(StopReason::ReachedSteps { steps: opts.steps })
    }

    /// One optimiser step on the next batch. A non-finite loss ends the run (`stop.json`) with
    /// an error naming the last good checkpoint.
    fn step(&mut self, mut net: PerformanceRnn) -> Result<(PerformanceRnn, Stepped), TrainError> {
        let hp = self.st.hparams.clone();
        let lr = hp.schedule.learning_rate(hp.learning_rate, self.st.step);
        let ids = self.cursor.next(hp.batch_size, self.st.seed);
        (self.st.epoch, self.st.position) = (self.cursor.epoch, self.cursor.position);
        let batch = Batch::new(self.model.config, &examples(&self.ds.train, &ids), ids);
        let seed = self.st.seed.wrapping_mul(31).wrapping_add(self.st.step);
        let mut drop_rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let out = net.forward(&self.model, &batch, hp.dropout_keep_prob, &mut drop_rng);
        let mut loss = out.loss.clone();
        let mut s = Stepped {
            batch,
            logits: out.logits,
            ce: 0.0,
            lr,
            l1: 0.0,
            l2: 0.0,
            rhythm: 0.0,
            harmony: 0.0,
            musical: false,
        };
        if hp.l1 > 0.0 || hp.l2 > 0.0 {
            let (l1, l2) = regularisers(&net);
            if hp.l1 > 0.0 {
                let t = l1.mul_scalar(hp.l1 as f32);
                s.l1 = scalar(t.clone());
                loss = loss + t;
            }
            if hp.l2 > 0.0 {
                let t = l2.mul_scalar(hp.l2 as f32);
                s.l2 = scalar(t.clone());
                loss = loss + t;
            }
        }
        let mw = hp.recipe;
        s.musical = mw.any();
        if mw.any() {
            let terms = musical_terms(self.model.config, &s.batch, &s.logits, mw);
            if let Some(t) = terms.rhythm {
                s.rhythm = scalar(t.clone());
                loss = loss + t.mul_scalar(mw.rhythm as f32);
            }
            if let Some(t) = terms.harmony {
                s.harmony = scalar(t.clone());
                loss = loss + t.mul_scalar(mw.harmony as f32);
            }
        }
        s.ce = scalar(out.loss.clone());
        #[cfg(test)]
        if self.opts.test_nan_at_step == Some(self.st.step + 1) {
            s.ce = f64::NAN;
        }
        if !s.ce.is_finite() {
            self.bar.finish_and_clear();
            let _ = self.stop(StopReason::NonFinite { step: self.st.step + 1, loss: s.ce.to_string() });
            return Err(TrainError::NonFinite {
                step: self.st.step + 1,
                value: s.ce,
                checkpoint: self.last_good.clone(),
            });
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        net.visit(&mut ClipEach { grads: &mut grads, clip: hp.clip_norm });
        net = self.optim.step(lr, net, grads);
        self.st.step += 1;
        let ntok = s.batch.tokens() as u64;
        self.st.tokens_seen += ntok;
        self.window_tokens += ntok;
        self.bar.set_position(self.st.step);
        Ok((net, s))
    }

    /// The training metrics of the step just taken: `metrics.csv`, TensorBoard, `log.txt` and
    /// the progress bar.
    fn summarise(&mut self, s: Stepped) -> Result<(), TrainError> {
        let opts = self.opts;
        let dir = &opts.run_dir;
        let mut sum = MetricsSum::default();
        sum.add(self.model.config, &s.batch, &floats(s.logits), s.ce);
        let m = sum.finish();
        let tps = self.window_tokens as f64 / self.window_start.elapsed().as_secs_f64().max(1e-9);
        self.window_tokens = 0;
        self.window_start = Instant::now();
        self.bar.set_message(format!("loss {:.4} acc {:.3} {:.0} tok/s", m.loss, m.accuracy, tps));
        let step = self.st.step;
        self.csv
            .push(Row { step, split: "train".into(), m: m.clone(), learning_rate: s.lr })
            .map_err(|e| ferr(dir, e))?;
        self.tb_train.scalars(step, &m, Some(s.lr)).map_err(|e| ferr(dir, e))?;
        let musical = if s.musical {
            format!(" rhythm_term {:.5} harmony_term {:.5}", s.rhythm, s.harmony)
        } else {
            String::new()
        };
        self.log.line(&format!(
            "step {step} train loss {:.5} accuracy {:.4} lr {:.3e} l1_term {:.5} l2_term {:.5}{musical} {:.0} tok/s",
            m.loss, m.accuracy, s.lr, s.l1, s.l2, tps
        ));
        Ok(())
    }

    /// Evaluates on the eval split and records it (with the step's learning rate `lr`); returns
    /// whether this is the best evaluation yet, and why early stopping ends the run, if it does.
    fn evaluate(&mut self, net: &PerformanceRnn, lr: f64) -> Result<(bool, Option<StopReason>), TrainError> {
        let opts = self.opts;
        let dir = &opts.run_dir;
        let step = self.st.step;
        let m = evaluate(net, &self.model, &self.ds.eval, self.st.hparams.batch_size, self.opts.eval_examples);
        self.csv.push(Row { step, split: "eval".into(), m: m.clone(), learning_rate: lr }).map_err(|e| ferr(dir, e))?;
        self.tb_eval.scalars(step, &m, None).map_err(|e| ferr(dir, e))?;
        self.log.line(&format!(
            "step {step} eval loss {:.5} accuracy {:.4} event_accuracy {:.4}",
            m.loss, m.accuracy, m.event_accuracy
        ));
        let verdict = self.early_stop(&m);
        self.last_eval = Some(m);
        if let Err(e) = plot_curves(&self.csv.rows, dir) {
            self.log.line(&format!("step {step}: could not draw curves: {e}"));
        }
        Ok(verdict)
    }

    /// Whether `m` is the best evaluation yet (updating the state's best and patience), and
    /// why early stopping ends the run, if it does.
    fn early_stop(&mut self, m: &Metrics) -> (bool, Option<StopReason>) {
        let st = &mut self.st;
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
        let is_best = es.improves(value, st.best_value);
        if is_best {
            st.best_value = Some(value);
            st.best_step = Some(st.step);
            st.evals_since_best = 0;
        } else {
            st.evals_since_best += 1;
        }
        if st.early_stop.is_none() {
            return (is_best, None);
        }
        let reason = if es.reached_target(value) {
            Some(StopReason::TargetReached { metric: es.metric_name().to_string(), value, target: es.target.unwrap() })
        } else if st.evals_since_best >= es.patience {
            Some(StopReason::NoImprovement {
                metric: es.metric_name().to_string(),
                min_delta: es.min_delta,
                evaluations: st.evals_since_best as u64,
                best: st.best_value.unwrap_or(f64::NAN),
                best_step: st.best_step.unwrap_or(0),
            })
        } else {
            None
        };
        (is_best, reason)
    }

    /// Saves a checkpoint when one is due (by steps or minutes), at the last step, or when
    /// `best` or `now` asks for one.
    fn checkpoint(&mut self, net: &PerformanceRnn, best: bool, now: bool) -> Result<(), TrainError> {
        let due = self.st.step.is_multiple_of(self.opts.checkpoint_every.max(1))
            || self.last_ckpt_time.elapsed().as_secs_f64() >= self.opts.checkpoint_minutes * 60.0;
        if due || best || now || self.st.step == self.opts.steps {
            self.st.seconds = self.base_seconds + self.started.elapsed().as_secs_f64();
            self.last_good = self.run.save(net, &self.optim, &self.st, best)?;
            self.last_ckpt_time = Instant::now();
        }
        Ok(())
    }

    /// Writes `stop.json` and the log line of why the run stopped.
    fn stop(&mut self, reason: StopReason) -> Result<StopInfo, TrainError> {
        let st = &self.st;
        let info = StopInfo {
            message: reason.to_string(),
            reason: reason.clone(),
            step: st.step,
            best_checkpoint: self.run.index.best.clone(),
            best_step: st.best_step,
            best_metric: Some(st.early_stop.as_ref().map_or("loss", |e| e.metric_name()).to_string()),
            best_value: st.best_value,
            last_eval: self.last_eval.clone(),
        };
        write_json_atomic(&self.run.dir.join("stop.json"), &info)?;
        self.log.line(&format!("stopped at step {}: {reason}", st.step));
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_dataset::BuildOptions;

    /// A NaN loss on real data stops the run naming the step, and keeps the last checkpoint.
    #[test]
    fn a_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint() {
        let fugues = cadenza_shared::require("data/asap/Bach/Fugue");
        let tmp = tempfile::tempdir().unwrap();
        let ds = tmp.path().join("ds");
        let opts = BuildOptions {
            transpositions: vec![0],
            stretches: vec![1.0],
            eval_ratio: 0.2,
            seed: 1,
            ..Default::default()
        };
        cadenza_dataset::build(&[fugues], &ds, &opts).unwrap();
        let r = tmp.path().join("run");
        let t = TrainOptions {
            dataset: ds,
            run_dir: r.clone(),
            layers: vec![16],
            overrides: HParamsOverrides { batch_size: Some(4), ..Default::default() },
            steps: 50,
            checkpoint_every: 5,
            eval_every: 100,
            test_nan_at_step: Some(8),
            ..Default::default()
        };
        let err = train(&t).unwrap_err();
        assert!(matches!(err, TrainError::NonFinite { step: 8, .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("step 8") && msg.contains("NaN") && msg.contains("ckpt-00000005"), "{msg}");
        assert!(r.join("checkpoints/ckpt-00000005/weights.ckpt").is_file());
        assert!(!r.join("checkpoints/ckpt-00000008").exists());
        let stop: serde_json::Value = serde_json::from_slice(&std::fs::read(r.join("stop.json")).unwrap()).unwrap();
        // The reason as data, and as a sentence for people.
        assert_eq!(stop["reason"]["kind"], "non_finite", "{stop}");
        assert_eq!(stop["reason"]["loss"], "NaN", "{stop}");
        assert!(stop["message"].as_str().unwrap().contains("NaN"), "{stop}");
    }
}
