//! One policy-gradient step on the model's own samples, held near a reference model.
//!
//! The objective is the RL Tuner's: E_{x∼π}[R(x)] − β · KL(π ‖ π_ref). R is the critic's
//! score of each window of a sample; every event is credited with the scores of its own window
//! and of every later one (the reward to go), judged against the other samples of its group at
//! the same window (a group-relative baseline, as GRPO's, no value network). The gradient is a
//! weighted cross-entropy on the sampled events, so a step costs one forward and one backward
//! pass over the samples, like a training step. The KL is the exact one over the whole next-
//! event distribution at every sampled position (not a one-sample estimate), against the
//! reference model's probabilities, and is differentiated with the rest.

use crate::critic::{floats, Critic};
use crate::RealismError;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::{EncodedExample, Token};
use cadenza_train::optim::ClipEach;
use cadenza_train::{Batch, PerformanceRnn};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// β: the weight of KL(π ‖ π_ref), per event.
    pub beta: f64,
    pub learning_rate: f64,
    /// TensorFlow's per-tensor gradient clip (Magenta's 3).
    pub clip_norm: f32,
    /// The weight of the teacher-forced cross-entropy on a batch of real music mixed in (0: none).
    pub ce_weight: f64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig { beta: 0.1, learning_rate: 2e-5, clip_norm: 3.0, ce_weight: 0.0 }
    }
}

/// What a step saw and did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolicyStats {
    /// Mean critic score of the samples' windows (the reward before the step).
    pub reward: f64,
    /// Exact KL(π ‖ π_ref) per event over the sampled positions, before the step.
    pub kl: f64,
    /// The policy-gradient part of the loss.
    pub pg_loss: f64,
    /// The teacher-forced cross-entropy on real music, when mixed in.
    pub ce_real: Option<f64>,
    /// Sampled events the step trained on.
    pub tokens: usize,
}

/// The critic's score of each full window of each sample (`[sample][window]`).
pub fn window_rewards(critic: &Critic, samples: &[Vec<Token>], window: usize, warmup: usize) -> Vec<Vec<f64>> {
    let windows: Vec<Vec<Token>> = samples.iter().flat_map(|s| s.chunks_exact(window).map(|w| w.to_vec())).collect();
    let mut scores = if windows.is_empty() { Vec::new() } else { critic.score(&windows, warmup) }.into_iter();
    samples.iter().map(|s| (0..s.len() / window).map(|_| scores.next().unwrap_or(f64::NAN)).collect()).collect()
}

/// Group-relative advantages of the rewards to go: for window `w` of sample `i`,
/// `(G_iw − mean_j G_jw) / (std_j G_jw + 1e-6)` over the samples that reach window `w`.
/// A non-finite reward is an error (it would poison every weight).
pub fn advantages(rewards: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, RealismError> {
    for (i, r) in rewards.iter().enumerate() {
        if let Some(w) = r.iter().position(|x| !x.is_finite()) {
            return Err(RealismError::NonFiniteReward { sample: i, window: w, value: r[w] });
        }
    }
    let to_go: Vec<Vec<f64>> = rewards
        .iter()
        .map(|r| {
            let mut g = r.clone();
            for w in (0..g.len().saturating_sub(1)).rev() {
                g[w] += g[w + 1];
            }
            g
        })
        .collect();
    let most = to_go.iter().map(Vec::len).max().unwrap_or(0);
    let mut adv: Vec<Vec<f64>> = to_go.iter().map(|g| vec![0.0; g.len()]).collect();
    for w in 0..most {
        let at: Vec<usize> = (0..to_go.len()).filter(|&i| to_go[i].len() > w).collect();
        let m = at.iter().map(|&i| to_go[i][w]).sum::<f64>() / at.len() as f64;
        let sd = (at.iter().map(|&i| (to_go[i][w] - m).powi(2)).sum::<f64>() / at.len() as f64).sqrt();
        for &i in &at {
            adv[i][w] = (to_go[i][w] - m) / (sd + 1e-6);
        }
    }
    Ok(adv)
}

/// The reference model's log-probabilities of every class after each event but the last,
/// laid out like the batch's logits (`[T·B, C]`, time-major, padding rows 0).
fn reference_log_probs(reference: &Weights, samples: &[Vec<Token>], t: usize) -> Vec<f32> {
    let b = samples.len();
    let c = reference.config.num_logits();
    let mut out = vec![0.0f32; t * b * c];
    for (r, s) in samples.iter().enumerate() {
        let rows = cadenza_model::inference::softmax_rows(reference, s);
        for (i, row) in rows.iter().take(s.len().saturating_sub(1)).enumerate() {
            let at = (i * b + r) * c;
            for (o, p) in out[at..at + c].iter_mut().zip(row) {
                *o = p.max(1e-30).ln();
            }
        }
    }
    out
}

/// Per-position weights of the policy gradient: each sampled event's advantage (its window's;
/// events after the last full window get none), divided by the number of events.
fn position_weights(samples: &[Vec<Token>], adv: &[Vec<f64>], window: usize, t: usize) -> Vec<f32> {
    let b = samples.len();
    let n: usize = samples.iter().map(|s| s.len().saturating_sub(1)).sum();
    let mut w = vec![0.0f32; t * b];
    for (r, s) in samples.iter().enumerate() {
        // Position i predicts event i + 1, which lies in window (i + 1) / window.
        for i in 0..s.len().saturating_sub(1) {
            if let Some(a) = adv[r].get((i + 1) / window) {
                w[i * b + r] = (*a / n.max(1) as f64) as f32;
            }
        }
    }
    w
}

/// One step: samples (whole event sequences as drawn, the first event given), the critic's
/// reward of each of their windows ([`window_rewards`]), the reference model, optionally a
/// batch of real music for the mixed-in cross-entropy. Returns the updated network and what
/// the step saw.
pub fn policy_step(
    net: PerformanceRnn,
    optim: &mut burn::optim::ModuleOptimizer,
    model: &ModelConfig,
    reference: &Weights,
    samples: &[Vec<Token>],
    rewards: &[Vec<f64>],
    window: usize,
    real: Option<&Batch>,
    c: &PolicyConfig,
) -> Result<(PerformanceRnn, PolicyStats), RealismError> {
    let adv = advantages(rewards)?;
    let config = model.config;
    let examples: Vec<EncodedExample> =
        samples.iter().map(|s| EncodedExample { tokens: s.clone(), disable_conditioning: false }).collect();
    let batch = Batch::new(config, &examples, (0..samples.len()).collect());
    let (t, b) = (batch.t, batch.b);
    let dev = net.fc_w.val().device();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let logits = net.forward(model, &batch, 1.0, &mut rng).logits;
    let cl = config.num_logits();
    let logp = log_softmax(logits, 1);

    let labels: Vec<i64> = batch.labels.iter().map(|&x| x as i64).collect();
    let labels = Tensor::<2, Int>::from_data(TensorData::new(labels, [t * b, 1]), &dev);
    let weights = position_weights(samples, &adv, window, t);
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [t * b, 1]), &dev);
    let pg = (logp.clone().gather(1, labels) * weights).sum().neg();

    let ntok = batch.tokens().max(1) as f32;
    let mask = Tensor::<2>::from_data(TensorData::new(batch.mask.clone(), [t * b, 1]), &dev);
    let reference_lp =
        Tensor::<2>::from_data(TensorData::new(reference_log_probs(reference, samples, t), [t * b, cl]), &dev);
    let kl = ((logp.clone().exp() * (logp - reference_lp)).sum_dim(1) * mask).sum() / ntok;

    let mut loss = pg.clone() + kl.clone().mul_scalar(c.beta as f32);
    let mut ce_real = None;
    if let (Some(real), true) = (real, c.ce_weight > 0.0) {
        let ce = net.forward(model, real, 1.0, &mut rng).loss;
        ce_real = Some(floats(ce.clone())[0] as f64);
        loss = loss + ce.mul_scalar(c.ce_weight as f32);
    }
    let (pg_v, kl_v) = (floats(pg)[0] as f64, floats(kl)[0] as f64);
    if !pg_v.is_finite() || !kl_v.is_finite() {
        return Err(RealismError::NonFiniteLoss { what: if pg_v.is_finite() { "KL" } else { "policy gradient" } });
    }
    let mut grads = GradientsParams::from_grads(loss.backward(), &net);
    net.visit(&mut ClipEach { grads: &mut grads, clip: c.clip_norm });
    let net = optim.step(c.learning_rate, net, grads);
    let all: Vec<f64> = rewards.iter().flatten().copied().collect();
    let reward = all.iter().sum::<f64>() / all.len().max(1) as f64;
    Ok((net, PolicyStats { reward, kl: kl_v, pg_loss: pg_v, ce_real, tokens: batch.tokens() }))
}

/// KL(π ‖ π_ref) per event on sequences: at every position but the last, the exact KL
/// between the two models' next-event distributions, averaged over positions.
pub fn kl_per_event(policy: &Weights, reference: &Weights, samples: &[Vec<Token>]) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for s in samples {
        let p = cadenza_model::inference::softmax_rows(policy, s);
        let q = cadenza_model::inference::softmax_rows(reference, s);
        for (pr, qr) in p.iter().zip(&q).take(s.len().saturating_sub(1)) {
            sum += pr
                .iter()
                .zip(qr)
                .filter(|(a, _)| **a > 0.0)
                .map(|(&a, &b)| a as f64 * ((a as f64).ln() - (b.max(1e-30) as f64).ln()))
                .sum::<f64>();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}
