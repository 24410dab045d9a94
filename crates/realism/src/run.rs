//! The realism loop: fine-tunes a model on batches of its own samples, rewarded by a critic
//! that is re-fitted as the model changes, held near the model it started from (the original
//! fine-tuned model) by the KL. A run folder like `train`'s: checkpoints written whole (policy
//! weights and Adam state, critic and its Adam state, the critic's replay of generated windows,
//! the state), `best/`, `realism.csv`, `curves.svg`, `stop.json`; resume continues bit-exactly
//! (every random draw is a function of the seed and the step); a cancel flag checkpoints and
//! stops.

use crate::critic::{accuracy, cut_windows, fit, Critic, CriticConfig, CriticFit};
use crate::policy::{policy_step, window_rewards, PolicyConfig, PolicyStats};
use crate::{check_critic, RealismError};
use burn::tensor::Device;
use cadenza_dataset::{Dataset, ExampleStore};
use cadenza_generate::{GenerateOptions, NoteEvents};
use cadenza_model::{ModelConfig, TensorNames, Weights};
use cadenza_performance::{EncodedExample, Token};
use cadenza_train::optim::adam;
use cadenza_train::{Batch, Cancel, PerformanceRnn};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The realism recipe's hyper-parameters, saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealismHParams {
    pub critic: CriticConfig,
    pub policy: PolicyConfig,
    /// Samples per policy step (one group: the same empty primer, different draws).
    pub samples: usize,
    /// Length of each sample in 10 ms steps.
    pub sample_steps: u32,
    pub temperature: f64,
    pub note_events: NoteEvents,
    /// Critic fitting steps before the first policy step, and at every re-fit.
    pub critic_pretrain_steps: usize,
    pub critic_refit_steps: usize,
    /// Re-fit the critic every this many policy steps.
    pub refit_every: u64,
    /// Generated windows the critic keeps from earlier steps (so it does not forget old faults).
    pub replay_windows: usize,
    /// A critic below this held-out accuracy before the first step gives noise: the run stops.
    pub min_critic_accuracy: f64,
    /// Examples per real batch of the mixed-in cross-entropy (when `policy.ce_weight > 0`).
    pub real_batch: usize,
    /// `best/` is the latest evaluated model whose eval NLL is at most this fraction above the
    /// starting model's.
    pub max_nll_cost: f64,
}

impl Default for RealismHParams {
    fn default() -> Self {
        RealismHParams {
            critic: CriticConfig::default(),
            policy: PolicyConfig::default(),
            samples: 16,
            sample_steps: 2000,
            temperature: 1.0,
            note_events: NoteEvents::Paired,
            critic_pretrain_steps: 200,
            critic_refit_steps: 40,
            refit_every: 5,
            replay_windows: 512,
            min_critic_accuracy: 0.6,
            real_batch: 8,
            max_nll_cost: 0.02,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RealismOptions {
    /// Real music: windows from the train split feed the critic; the eval split gives the
    /// critic's held-out accuracy and the eval NLL.
    pub dataset: PathBuf,
    /// The model to start from and stay near (a `.mag` or model folder).
    pub init: PathBuf,
    pub run_dir: PathBuf,
    /// Run until this policy step (counted across resumes).
    pub steps: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    pub keep_last: usize,
    /// Evaluate on at most this many eval examples (all when `None`).
    pub eval_examples: Option<usize>,
    pub seed: u64,
    pub resume: bool,
    pub hparams: RealismHParams,
    pub cancel: Cancel,
}

/// One line of `realism.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub step: u64,
    pub reward: f64,
    pub kl: f64,
    pub pg_loss: f64,
    pub ce_real: Option<f64>,
    /// Held-out accuracy of the critic at its latest fit (real eval windows against samples it
    /// had not seen).
    pub critic_accuracy: f64,
    pub eval_loss: Option<f64>,
    /// Sampled events the step trained on, and the seconds spent in each part.
    pub tokens: usize,
    pub seconds_sampling: f64,
    pub seconds_critic: f64,
    pub seconds_policy: f64,
}

/// What the loop reports as it goes; the caller prints.
#[derive(Debug, Clone)]
pub enum RealismEvent {
    Resumed {
        step: u64,
    },
    /// A newer checkpoint was passed over on resume: what is wrong with it, naming the file.
    DamagedCheckpoint(String),
    CriticFitted {
        step: u64,
        fit: CriticFit,
    },
    Step(StepRow),
    Checkpoint {
        step: u64,
        name: String,
        best: bool,
    },
}

/// Everything besides tensors that a resumed run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealismState {
    pub step: u64,
    pub seed: u64,
    pub hparams: RealismHParams,
    pub model: ModelConfig,
    pub names: TensorNames,
    pub init: String,
    pub initial_eval_loss: Option<f64>,
    pub critic_accuracy: f64,
    pub best_step: Option<u64>,
    pub seconds: f64,
}

/// Why and where the run stopped (`stop.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealismStop {
    pub step: u64,
    pub interrupted: bool,
    pub best_step: Option<u64>,
    pub last: Option<StepRow>,
}

/// The tensors and buffers of a run.
pub(crate) struct Live {
    pub net: PerformanceRnn,
    pub optim: burn::optim::ModuleOptimizer,
    pub critic: Critic,
    pub critic_optim: burn::optim::ModuleOptimizer,
    pub replay: Vec<Vec<Token>>,
    pub state: RealismState,
    pub rows: Vec<StepRow>,
}

/// A seed for draw `what` at `step`, independent of every other draw.
fn seed_of(seed: u64, step: u64, what: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ step.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ what.wrapping_mul(0x94D0_49BB_1331_11EB)
}

/// Up to `n` windows of real music from a store, from examples drawn with `seed`.
fn real_windows(store: &ExampleStore, window: usize, n: usize, seed: u64) -> Vec<Vec<Token>> {
    let mut ids: Vec<usize> = (0..store.len()).collect();
    ids.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut out = Vec::new();
    for i in ids {
        out.extend(cut_windows(&[store.tokens(i)], window, 2));
        if out.len() >= n {
            break;
        }
    }
    out.truncate(n);
    out
}

fn draw_samples(w: &Weights, h: &RealismHParams, seed: u64) -> Result<Vec<Vec<Token>>, RealismError> {
    let o = GenerateOptions {
        num_steps: h.sample_steps,
        num_outputs: h.samples,
        temperature: h.temperature,
        note_events: h.note_events,
        seed,
        ..Default::default()
    };
    let g =
        cadenza_generate::sampler::generate_report(w, &o, false).map_err(|e| RealismError::Sampling(e.to_string()))?;
    Ok(g.samples.into_iter().map(|s| s.drawn_tokens).collect())
}

/// Fits the critic before the first step: real train windows against the starting model's
/// samples; refused when its held-out accuracy is at chance.
fn pretrain_critic(
    live: &mut Live,
    real_fit: &[Vec<Token>],
    real_held: &[Vec<Token>],
    start: &Weights,
) -> Result<CriticFit, RealismError> {
    let h = &live.state.hparams;
    let seed = live.state.seed;
    let fake_fit = cut_windows(&draw_samples(start, h, seed_of(seed, 0, 1))?, h.critic.window, 8);
    let fake_held = cut_windows(&draw_samples(start, h, seed_of(seed, 0, 2))?, h.critic.window, 8);
    let critic = live.critic.clone();
    let (critic, loss) = fit(
        critic,
        &mut live.critic_optim,
        &h.critic,
        real_fit,
        &fake_fit,
        h.critic_pretrain_steps,
        seed_of(seed, 0, 3),
    );
    let acc = accuracy(&critic, real_held, &fake_held, h.critic.warmup);
    live.critic = critic;
    check_critic(acc, h.min_critic_accuracy)?;
    live.replay = fake_fit;
    live.state.critic_accuracy = acc;
    Ok(CriticFit { steps: h.critic_pretrain_steps, loss, held_out_accuracy: acc })
}

/// Re-fits the critic on the replay of generated windows with this step's samples added; its
/// accuracy is measured first on those samples, which it has not seen.
fn refit_critic(
    live: &mut Live,
    samples: &[Vec<Token>],
    real_fit: &[Vec<Token>],
    real_held: &[Vec<Token>],
) -> CriticFit {
    let h = live.state.hparams.clone();
    let fresh = cut_windows(samples, h.critic.window, 8);
    let acc = accuracy(&live.critic, real_held, &fresh, h.critic.warmup);
    live.replay.extend(fresh);
    let over = live.replay.len().saturating_sub(h.replay_windows);
    live.replay.drain(..over);
    let critic = live.critic.clone();
    let (critic, loss) = fit(
        critic,
        &mut live.critic_optim,
        &h.critic,
        real_fit,
        &live.replay,
        h.critic_refit_steps,
        seed_of(live.state.seed, live.state.step, 3),
    );
    live.critic = critic;
    live.state.critic_accuracy = acc;
    CriticFit { steps: h.critic_refit_steps, loss, held_out_accuracy: acc }
}

/// A batch of real training examples for the mixed-in cross-entropy.
fn real_batch(ds: &Dataset, live: &Live) -> Batch {
    let mut rng = ChaCha8Rng::seed_from_u64(seed_of(live.state.seed, live.state.step, 4));
    let ids: Vec<usize> =
        (0..live.state.hparams.real_batch).map(|_| rand::Rng::gen_range(&mut rng, 0..ds.train.len())).collect();
    let ex: Vec<EncodedExample> = ids
        .iter()
        .map(|&i| EncodedExample {
            tokens: ds.train.tokens(i),
            disable_conditioning: ds.train.meta(i).disable_conditioning,
        })
        .collect();
    Batch::new(live.state.model.config, &ex, ids)
}

/// One policy step: sample, (re-fit the critic when due), reward, step.
fn one_step(
    live: &mut Live,
    ds: &Dataset,
    reference: &Weights,
    real: (&[Vec<Token>], &[Vec<Token>]),
    progress: &mut dyn FnMut(RealismEvent),
) -> Result<StepRow, RealismError> {
    let h = live.state.hparams.clone();
    let t0 = Instant::now();
    let now = live.net.to_weights(&live.state.model, &live.state.names);
    let samples = draw_samples(&now, &h, seed_of(live.state.seed, live.state.step, 0))?;
    let t1 = Instant::now();
    if live.state.step > 0 && live.state.step.is_multiple_of(h.refit_every.max(1)) {
        let f = refit_critic(live, &samples, real.0, real.1);
        progress(RealismEvent::CriticFitted { step: live.state.step, fit: f });
    }
    let rewards = window_rewards(&live.critic, &samples, h.critic.window, h.critic.warmup);
    let t2 = Instant::now();
    let batch = (h.policy.ce_weight > 0.0).then(|| real_batch(ds, live));
    let net = live.net.clone();
    let (net, st): (PerformanceRnn, PolicyStats) = policy_step(
        net,
        &mut live.optim,
        &live.state.model,
        reference,
        &samples,
        &rewards,
        h.critic.window,
        batch.as_ref(),
        &h.policy,
    )?;
    live.net = net;
    let t3 = Instant::now();
    live.state.step += 1;
    Ok(StepRow {
        step: live.state.step,
        reward: st.reward,
        kl: st.kl,
        pg_loss: st.pg_loss,
        ce_real: st.ce_real,
        critic_accuracy: live.state.critic_accuracy,
        eval_loss: None,
        tokens: st.tokens,
        seconds_sampling: (t1 - t0).as_secs_f64(),
        seconds_critic: (t2 - t1).as_secs_f64(),
        seconds_policy: (t3 - t2).as_secs_f64(),
    })
}

/// Runs (or resumes) the realism loop until `o.steps`, a cancel, or an error.
pub fn train_realism(o: &RealismOptions, progress: &mut dyn FnMut(RealismEvent)) -> Result<RealismStop, RealismError> {
    let ds = Dataset::open(&o.dataset).map_err(|e| RealismError::Setup(format!("{}: {e}", o.dataset.display())))?;
    if ds.train.is_empty() || ds.eval.is_empty() {
        return Err(RealismError::Setup(format!(
            "{}: the realism recipe needs train and eval examples",
            o.dataset.display()
        )));
    }
    std::fs::create_dir_all(&o.run_dir).map_err(crate::store::io(&o.run_dir))?;
    let dev = Device::flex().autodiff();
    let reference = Weights::load(&o.init).map_err(|e| RealismError::Setup(format!("{}: {e}", o.init.display())))?;
    let h = &o.hparams;
    let mut damaged = Vec::new();
    let mut live = if o.resume {
        let (live, d) = crate::store::load_latest(&o.run_dir, &dev)?;
        damaged = d;
        live
    } else {
        fresh(o, &reference, &dev)?
    };
    let h = if o.resume { live.state.hparams.clone() } else { h.clone() };
    let real_fit = real_windows(&ds.train, h.critic.window, 1024, seed_of(live.state.seed, 0, 5));
    let real_held = real_windows(&ds.eval, h.critic.window, 256, seed_of(live.state.seed, 0, 6));
    if o.resume {
        for why in damaged {
            progress(RealismEvent::DamagedCheckpoint(why));
        }
        progress(RealismEvent::Resumed { step: live.state.step });
    } else {
        let f = pretrain_critic(&mut live, &real_fit, &real_held, &reference)?;
        progress(RealismEvent::CriticFitted { step: 0, fit: f });
        live.state.initial_eval_loss = Some(eval_loss(&live, &ds, o));
    }
    let started = Instant::now();
    let base_seconds = live.state.seconds;
    while live.state.step < o.steps {
        let mut row = one_step(&mut live, &ds, &reference, (&real_fit, &real_held), progress)?;
        let step = live.state.step;
        let eval_now = step % o.eval_every.max(1) == 0 || step == o.steps;
        let mut best = false;
        if eval_now {
            let loss = eval_loss(&live, &ds, o);
            row.eval_loss = Some(loss);
            let budget = live.state.initial_eval_loss.map_or(f64::INFINITY, |l| l * (1.0 + h.max_nll_cost));
            best = loss.is_finite() && loss <= budget;
            if best {
                live.state.best_step = Some(step);
            }
        }
        live.rows.push(row.clone());
        progress(RealismEvent::Step(row));
        let interrupted = o.cancel.is_cancelled();
        if step % o.checkpoint_every.max(1) == 0 || best || interrupted || step == o.steps {
            live.state.seconds = base_seconds + started.elapsed().as_secs_f64();
            let name = crate::store::save(&o.run_dir, &live_parts(&live), best, o.keep_last)?;
            progress(RealismEvent::Checkpoint { step, name, best });
        }
        if interrupted {
            return finish(o, &live, true);
        }
    }
    finish(o, &live, false)
}

fn live_parts(live: &Live) -> crate::store::Parts<'_> {
    crate::store::Parts {
        net: &live.net,
        optim: &live.optim,
        critic: &live.critic,
        critic_optim: &live.critic_optim,
        replay: &live.replay,
        state: &live.state,
        rows: &live.rows,
    }
}

fn eval_loss(live: &Live, ds: &Dataset, o: &RealismOptions) -> f64 {
    cadenza_train::evaluate(&live.net, &live.state.model, &ds.eval, 16, o.eval_examples).loss
}

fn fresh(o: &RealismOptions, reference: &Weights, dev: &Device) -> Result<Live, RealismError> {
    if o.run_dir.join("checkpoint.json").exists() {
        return Err(RealismError::Setup(format!(
            "{}: a run is already here (resume it, or choose another folder)",
            o.run_dir.display()
        )));
    }
    let h = o.hparams.clone();
    Ok(Live {
        net: PerformanceRnn::from_weights(reference, dev),
        optim: adam(),
        critic: Critic::new(reference.config.num_logits(), &h.critic, seed_of(o.seed, 0, 7), dev),
        critic_optim: adam(),
        replay: Vec::new(),
        state: RealismState {
            step: 0,
            seed: o.seed,
            hparams: h,
            model: reference.config.clone(),
            names: reference.names.clone(),
            init: o.init.display().to_string(),
            initial_eval_loss: None,
            critic_accuracy: f64::NAN,
            best_step: None,
            seconds: 0.0,
        },
        rows: Vec::new(),
    })
}

fn finish(o: &RealismOptions, live: &Live, interrupted: bool) -> Result<RealismStop, RealismError> {
    let stop = RealismStop {
        step: live.state.step,
        interrupted,
        best_step: live.state.best_step,
        last: live.rows.last().cloned(),
    };
    crate::store::write_json(&o.run_dir.join("stop.json"), &stop)?;
    Ok(stop)
}
