//! The critic: a small recurrent network over event windows that learns to tell real
//! performances from the model's own samples. It reads the events themselves (a learned row
//! per event class feeding one LSTM layer, a log-odds of "real" per step), never the judge's
//! features, so the verdict's judge stays untargeted.
//!
//! Each step's log-odds is the LSTM's view plus a learned weight of the event itself (a bag of
//! events). A window's score is the mean per-step log-odds after a short warm-up; it is trained
//! with a label-smoothed logistic loss on balanced batches (as many real windows as generated
//! ones).

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Int, Tensor, TensorData};
use cadenza_performance::Token;
use cadenza_train::lstm_op::lstm_layer;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The critic's size and how it is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticConfig {
    /// Events per window.
    pub window: usize,
    /// Steps at the start of a window left out of its score (the LSTM's warm-up).
    pub warmup: usize,
    /// LSTM units.
    pub hidden: usize,
    pub learning_rate: f64,
    /// Windows per side in one fitting batch.
    pub batch: usize,
    /// Targets 1 − s for real and s for generated windows.
    pub label_smoothing: f64,
}

impl Default for CriticConfig {
    fn default() -> Self {
        CriticConfig { window: 256, warmup: 16, hidden: 64, learning_rate: 3e-3, batch: 16, label_smoothing: 0.1 }
    }
}

#[derive(Module, Debug)]
pub struct Critic {
    /// `[classes, 4H]`: the input projection of each event class (a one-hot row gather).
    pub embed: Param<Tensor<2>>,
    /// `[H, 4H]`, gate columns i, j, f, o (the cell of the policy's own LSTM).
    pub recurrent: Param<Tensor<2>>,
    /// `[4H]`.
    pub bias: Param<Tensor<1>>,
    /// `[H, 1]` and `[1]`: the per-step log-odds of "real".
    pub head_w: Param<Tensor<2>>,
    pub head_b: Param<Tensor<1>>,
    /// `[classes, 1]`: each event class's own share of the log-odds (a bag of events beside the
    /// recurrent view: it learns the plain frequency differences fast and steadily).
    pub bag: Param<Tensor<2>>,
}

fn normal(rng: &mut ChaCha8Rng, n: usize, scale: f32) -> Vec<f32> {
    // Box–Muller: a dependency-free normal draw, reproducible from the seed.
    (0..n)
        .map(|_| {
            let (u, v): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
            scale * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

fn param<const D: usize>(v: Vec<f32>, shape: [usize; D], dev: &Device) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(v, shape), dev)
}

impl Critic {
    /// A fresh critic for a vocabulary of `classes` events, initialised from `seed`.
    pub fn new(classes: usize, c: &CriticConfig, seed: u64, dev: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let h = c.hidden;
        let s_in = (1.0 / (classes as f32).sqrt()).max(0.05);
        let s_h = 1.0 / (h as f32).sqrt();
        Critic {
            embed: param(normal(&mut rng, classes * 4 * h, s_in), [classes, 4 * h], dev),
            recurrent: param(normal(&mut rng, h * 4 * h, s_h), [h, 4 * h], dev),
            bias: param(vec![0.0; 4 * h], [4 * h], dev),
            head_w: param(normal(&mut rng, h, s_h), [h, 1], dev),
            head_b: param(vec![0.0], [1], dev),
            bag: param(vec![0.0; classes], [classes, 1], dev),
        }
    }

    /// Per-step log-odds `[T, B]` for `b` windows of `t` events each, time-major
    /// (`tokens[i * b + r]` is event `i` of window `r`).
    pub fn step_logits(&self, tokens: &[Token], t: usize, b: usize) -> Tensor<2> {
        let dev = self.bias.val().device();
        let h = self.recurrent.val().dims()[0];
        let ids: Vec<i64> = tokens.iter().map(|&x| x as i64).collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [t * b]), &dev);
        let xw = self.embed.val().select(0, ids.clone()) + self.bias.val().unsqueeze_dim(0);
        let hs = lstm_layer(xw.reshape([t, b, 4 * h]), self.recurrent.val());
        let bag = self.bag.val().select(0, ids);
        (hs.reshape([t * b, h]).matmul(self.head_w.val()) + self.head_b.val().unsqueeze_dim(0) + bag).reshape([t, b])
    }

    /// Each window's score: the mean log-odds over its steps after `warmup`, `[B]`.
    pub fn window_scores(&self, tokens: &[Token], t: usize, b: usize, warmup: usize) -> Tensor<1> {
        let from = warmup.min(t.saturating_sub(1));
        self.step_logits(tokens, t, b).slice([from..t, 0..b]).mean_dim(0).reshape([b])
    }

    /// Scores of windows given as rows (all `t` events long), in batches; plain numbers.
    pub fn score(&self, windows: &[Vec<Token>], warmup: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(windows.len());
        for chunk in windows.chunks(64) {
            let t = chunk[0].len();
            let tokens = time_major(chunk, t);
            let s = self.window_scores(&tokens, t, chunk.len(), warmup);
            out.extend(floats(s).into_iter().map(|x| x as f64));
        }
        out
    }
}

/// Rows of equal length, interleaved time-major.
pub fn time_major(rows: &[Vec<Token>], t: usize) -> Vec<Token> {
    let b = rows.len();
    let mut out = vec![0; t * b];
    for (r, row) in rows.iter().enumerate() {
        for i in 0..t {
            out[i * b + r] = row[i];
        }
    }
    out
}

pub(crate) fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// Cuts event sequences into non-overlapping windows of `window` events (a shorter tail is
/// dropped); at most `per_sequence` from each, spread over the sequence.
pub fn cut_windows(sequences: &[Vec<Token>], window: usize, per_sequence: usize) -> Vec<Vec<Token>> {
    let mut out = Vec::new();
    for s in sequences {
        let n = s.len() / window;
        let take = n.min(per_sequence.max(1));
        for k in 0..take {
            let at = if take == n { k } else { k * n / take };
            out.push(s[at * window..(at + 1) * window].to_vec());
        }
    }
    out
}

/// What one fitting round did, on its own batches and on the held-out windows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CriticFit {
    pub steps: usize,
    /// Mean loss over the round's last quarter of steps.
    pub loss: f64,
    /// Accuracy (score > 0 means "real") on held-out real and generated windows, balanced.
    pub held_out_accuracy: f64,
}

/// Held-out balanced accuracy: the mean of the real windows' and the generated windows'
/// accuracies.
pub fn accuracy(critic: &Critic, real: &[Vec<Token>], fake: &[Vec<Token>], warmup: usize) -> f64 {
    let hit = |w: &[Vec<Token>], real_side: bool| {
        if w.is_empty() {
            return 0.5;
        }
        let s = critic.score(w, warmup);
        s.iter().filter(|&&x| (x > 0.0) == real_side).count() as f64 / s.len() as f64
    };
    0.5 * (hit(real, true) + hit(fake, false))
}

/// Fits the critic for `steps` steps on balanced batches drawn (with `seed`) from `real` and
/// `fake` windows, with its own Adam state (kept by the caller across rounds).
pub fn fit(
    critic: Critic,
    optim: &mut burn::optim::ModuleOptimizer,
    c: &CriticConfig,
    real: &[Vec<Token>],
    fake: &[Vec<Token>],
    steps: usize,
    seed: u64,
) -> (Critic, f64) {
    let mut critic = critic;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut losses = Vec::with_capacity(steps);
    let dev = critic.bias.val().device();
    for _ in 0..steps {
        let mut rows: Vec<Vec<Token>> = real.choose_multiple(&mut rng, c.batch).cloned().collect();
        let n_real = rows.len();
        rows.extend(fake.choose_multiple(&mut rng, c.batch).cloned());
        let b = rows.len();
        let s = c.label_smoothing as f32;
        let targets: Vec<f32> = (0..b).map(|r| if r < n_real { 1.0 - s } else { s }).collect();
        let y = Tensor::<1>::from_data(TensorData::new(targets, [b]), &dev);
        let scores = critic.window_scores(&time_major(&rows, c.window), c.window, b, c.warmup);
        // −[y·log σ(s) + (1 − y)·log(1 − σ(s))] = y·softplus(−s) + (1 − y)·softplus(s).
        let loss = (y.clone() * softplus(scores.clone().neg(), 1.0) + (y.neg() + 1.0) * softplus(scores, 1.0)).mean();
        losses.push(floats(loss.clone())[0] as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &critic);
        critic = optim.step(c.learning_rate, critic, grads);
    }
    let tail = &losses[losses.len() * 3 / 4..];
    (critic, tail.iter().sum::<f64>() / tail.len().max(1) as f64)
}
