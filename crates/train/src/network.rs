//! The Performance RNN as a burn module: Magenta's graph (`events_rnn_graph.py`) for every
//! config. Layer 0's input is `[controls, event]`; a one-hot event is a row gather from the
//! kernel, not a matmul. Each layer is the fused LSTM op; dropout (TF's `DropoutWrapper`
//! with `output_keep_prob`) applies to every layer's output, the top one included; the
//! logits are a linear layer on the top output. Parameters keep TensorFlow's shapes, so a
//! Magenta checkpoint loads unchanged and exports back bit for bit.

use crate::lstm_op::{cross_entropy_fused, lstm_layer_dropout, CeTargets};
use burn::module::{Module, Param};
use burn::tensor::activation::log_softmax;
use burn::tensor::{s, Device, Int, Tensor, TensorData};
use cadenza_model::{ModelConfig, TensorNames, Weights};
use cadenza_performance::{Config, EncodedExample, Token};
use rand::Rng;

#[derive(Module, Debug)]
pub struct PerformanceRnn {
    /// Per layer `[in + H, 4H]`, gate columns i, j, f, o.
    pub kernels: Vec<Param<Tensor<2>>>,
    /// Per layer `[4H]` (the forget bias +1 is added inside the cell).
    pub biases: Vec<Param<Tensor<1>>>,
    pub fc_w: Param<Tensor<2>>,
    pub fc_b: Param<Tensor<1>>,
}

/// A padded, time-major batch: position `t` of row `b` is at `t * B + b`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub t: usize,
    pub b: usize,
    /// Input event tokens, `[T, B, width]`.
    pub inputs: Vec<Token>,
    /// Target tokens (the next event), `[T, B, width]`.
    pub labels: Vec<Token>,
    /// 1 for a real position, 0 for padding: `[T, B]`.
    pub mask: Vec<f32>,
    /// Control rows for conditioned configs, `[T, B, control_size]`.
    pub controls: Option<Vec<f32>>,
    /// Index of each row's example in the dataset (for per-example context, e.g. the key).
    pub ids: Vec<usize>,
}

impl Batch {
    /// Magenta's `get_padded_batch`: inputs are events 0..n−2, labels events 1..n−1, padded
    /// with zeros to the longest example.
    pub fn new(config: Config, examples: &[EncodedExample], ids: Vec<usize>) -> Batch {
        let w = config.token_width();
        let b = examples.len();
        let t = examples.iter().map(|e| (e.tokens.len() / w).saturating_sub(1)).max().unwrap_or(0);
        let cs = config.control_size();
        let mut inputs = vec![0; t * b * w];
        let mut labels = vec![0; t * b * w];
        let mut mask = vec![0.0; t * b];
        let mut controls = if cs > 0 { Some(vec![0.0f32; t * b * cs]) } else { None };
        for (r, ex) in examples.iter().enumerate() {
            let n = ex.tokens.len() / w;
            let ctrl = if cs > 0 { config.control_rows(&ex.tokens, ex.disable_conditioning) } else { Vec::new() };
            for p in 0..n.saturating_sub(1) {
                let at = p * b + r;
                inputs[at * w..(at + 1) * w].copy_from_slice(&ex.tokens[p * w..(p + 1) * w]);
                labels[at * w..(at + 1) * w].copy_from_slice(&ex.tokens[(p + 1) * w..(p + 2) * w]);
                mask[at] = 1.0;
                if let Some(c) = controls.as_mut() {
                    // The control of position p+1 goes with event p.
                    c[at * cs..(at + 1) * cs].copy_from_slice(&ctrl[p + 1]);
                }
            }
        }
        Batch { t, b, inputs, labels, mask, controls, ids }
    }

    pub fn tokens(&self) -> usize {
        self.mask.iter().filter(|&&m| m > 0.0).count()
    }
}

/// What a forward pass gives back.
pub struct Output {
    /// `[T·B, C]`.
    pub logits: Tensor<2>,
    /// Mean cross-entropy over real positions (the six sub-losses averaged for the note
    /// encoding), shape `[1]`.
    pub loss: Tensor<1>,
}

fn vec_param<const D: usize>(v: &[f32], shape: [usize; D], dev: &Device) -> Param<Tensor<D>> {
    Param::from_data(TensorData::new(v.to_vec(), shape), dev)
}

fn data<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 tensor")
}

impl PerformanceRnn {
    pub fn from_weights(w: &Weights, dev: &Device) -> Self {
        let c = &w.config;
        PerformanceRnn {
            kernels: c
                .layers
                .iter()
                .enumerate()
                .map(|(l, &h)| vec_param(&w.kernels[l], [c.layer_input(l) + h, 4 * h], dev))
                .collect(),
            biases: c.layers.iter().enumerate().map(|(l, &h)| vec_param(&w.biases[l], [4 * h], dev)).collect(),
            fc_w: vec_param(&w.fc_w, [c.top(), c.num_logits()], dev),
            fc_b: vec_param(&w.fc_b, [c.num_logits()], dev),
        }
    }

    pub fn to_weights(&self, config: &ModelConfig, names: &TensorNames) -> Weights {
        Weights {
            config: config.clone(),
            kernels: self.kernels.iter().map(|k| data(k.val())).collect(),
            biases: self.biases.iter().map(|b| data(b.val())).collect(),
            fc_w: data(self.fc_w.val()),
            fc_b: data(self.fc_b.val()),
            names: names.clone(),
        }
    }

    /// Logits and loss for a batch. `keep_prob < 1` applies dropout with masks drawn from
    /// `rng`, so a run is reproducible from its seed.
    pub fn forward(&self, config: &ModelConfig, batch: &Batch, keep_prob: f32, rng: &mut impl Rng) -> Output {
        let dev = self.fc_w.val().device();
        let cfg = config.config;
        let (t, b) = (batch.t, batch.b);
        let n = t * b;
        let cs = cfg.control_size();
        let w = cfg.token_width();

        // Layer 0 input projection.
        let h0 = config.layers[0];
        let k0 = self.kernels[0].val();
        let feat_rows = cfg.event_feature_size();
        let mut xw = if cfg.event_is_one_hot() {
            let ids: Vec<i64> = batch.inputs.iter().map(|&x| x as i64).collect();
            let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &dev);
            k0.clone().slice(s![cs..cs + feat_rows, ..]).select(0, ids)
        } else {
            let mut feat = vec![0.0f32; n * feat_rows];
            for p in 0..n {
                cfg.encode_event_input(
                    &batch.inputs[p * w..(p + 1) * w],
                    &mut feat[p * feat_rows..(p + 1) * feat_rows],
                );
            }
            Tensor::<2>::from_data(TensorData::new(feat, [n, feat_rows]), &dev)
                .matmul(k0.clone().slice(s![cs..cs + feat_rows, ..]))
        };
        if let Some(ctrl) = &batch.controls {
            let c = Tensor::<2>::from_data(TensorData::new(ctrl.clone(), [n, cs]), &dev);
            xw = xw + c.matmul(k0.clone().slice(s![0..cs, ..]));
        }
        xw = xw + self.biases[0].val().unsqueeze_dim(0);

        let mut h: Tensor<3> = Tensor::zeros([t, b, h0], &dev);
        for (l, &hid) in config.layers.iter().enumerate() {
            let in_rows = config.layer_input(l);
            let k = self.kernels[l].val();
            if l > 0 {
                let prev = config.layers[l - 1];
                xw = h.reshape([n, prev]).matmul(k.clone().slice(s![0..prev, ..]))
                    + self.biases[l].val().unsqueeze_dim(0);
            }
            // Dropout on the layer's output, fused into the op: its mask is a hash of one seed
            // drawn from `rng` per layer and step.
            let (keep, seed) = if keep_prob < 1.0 { (keep_prob, rng.gen::<u64>()) } else { (1.0, 0) };
            h = lstm_layer_dropout(
                xw.clone().reshape([t, b, 4 * hid]),
                k.slice(s![in_rows..in_rows + hid, ..]),
                keep,
                seed,
            );
        }
        let top = config.top();
        let logits = h.reshape([n, top]).matmul(self.fc_w.val()) + self.fc_b.val().unsqueeze_dim(0);

        let sizes = cfg.class_sizes();
        // Fused on the CPU: one pass forward, one backward, no [N, C] intermediates.
        let real = batch.mask.iter().sum::<f32>().max(1.0);
        let mut segments = Vec::with_capacity(sizes.len());
        let mut off = 0;
        for &sz in &sizes {
            segments.push((off, sz));
            off += sz;
        }
        let targets = CeTargets {
            segments,
            labels: (0..n)
                .flat_map(|p| (0..sizes.len()).map(move |k| (p, k)))
                .map(|(p, k)| batch.labels[p * w + k] as u32)
                .collect(),
            weights: batch.mask.iter().map(|&m| m / real / sizes.len() as f32).collect(),
        };
        if let Some(loss) = cross_entropy_fused(&logits, targets) {
            return Output { logits, loss };
        }
        let mask = Tensor::<1>::from_data(TensorData::new(batch.mask.clone(), [n]), &dev);
        let denom = mask.clone().sum().clamp_min(1.0);
        let mut loss: Option<Tensor<1>> = None;
        let mut off = 0;
        for (k, &sz) in sizes.iter().enumerate() {
            let lab: Vec<i64> = (0..n).map(|p| batch.labels[p * w + k] as i64).collect();
            let lab = Tensor::<2, Int>::from_data(TensorData::new(lab, [n, 1]), &dev);
            let seg = if sizes.len() == 1 { logits.clone() } else { logits.clone().slice(s![.., off..off + sz]) };
            let picked = log_softmax(seg, 1).gather(1, lab).reshape([n]);
            let ce = -(picked * mask.clone()).sum() / denom.clone();
            loss = Some(match loss {
                None => ce,
                Some(l) => l + ce,
            });
            off += sz;
        }
        let loss = loss.expect("at least one softmax").div_scalar(sizes.len() as f32);
        Output { logits, loss }
    }
}
