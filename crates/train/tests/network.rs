//! The burn network: same numbers as the reference inference, gradients that check against
//! finite differences and against burn's own autodiff of the composed cell, every config.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::{Config, EncodedExample};
use cadenza_train::lstm_op::{lstm_layer, lstm_layer_composed};
use cadenza_train::{Batch, PerformanceRnn};
use rand::{Rng, SeedableRng};

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// The network's checks again in a child process at every SIMD level this CPU has
/// (`CADENZA_SIMD=scalar`, `avx2`, `avx512`, …).
#[test]
fn network_checks_pass_at_every_simd_level() {
    cadenza_model::kernels::simd::rerun_tests_at_every_level(&[
        "burn_network_matches_reference_inference_on_magenta_bundle",
        "fused_op_gradients_equal_burns_autodiff_of_the_composed_cell",
        "network_gradients_match_finite_differences",
        "training_steps_are_bit_identical_when_repeated",
    ]);
}

#[test]
fn burn_network_matches_reference_inference_on_magenta_bundle() {
    let bundle = cadenza_shared::require("fixtures/magenta/bundles/perf_dyn_small64.mag");
    let w = Weights::load(&bundle).unwrap();
    let probs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.with_file_name("../probs_small64.json")).unwrap_or_else(
            |_| std::fs::read_to_string(cadenza_shared::require("fixtures/magenta/probs_small64.json")).unwrap(),
        ))
        .unwrap();
    let tokens: Vec<u16> =
        probs["primer_class_indices"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u16).collect();
    let net = PerformanceRnn::from_weights(&w, &Device::flex());
    let batch = Batch::new(
        Config::PerformanceWithDynamics,
        &[EncodedExample { tokens: tokens.clone(), disable_conditioning: false }],
        vec![0],
    );
    let out = net.forward(&w.config, &batch, 1.0, &mut rng(0));
    let logits = vec_of(out.logits);
    let toks: Vec<&[u16]> = tokens[..199].chunks(1).collect();
    let reference = cadenza_model::sequence_logits(&w, &toks, None);
    let worst = logits.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "burn logits differ from the reference by {worst}");
    let (ll, _) = cadenza_model::log_likelihood(&w, &tokens, false);
    let loss = vec_of(out.loss)[0] as f64;
    assert!((loss + ll / 199.0).abs() < 1e-4, "loss {loss} vs −LL/199 {}", -ll / 199.0);
    // Round trip through the module keeps every weight.
    assert_eq!(net.to_weights(&w.config, &w.names), w);
}

#[test]
fn fused_op_gradients_equal_burns_autodiff_of_the_composed_cell() {
    let ad = Device::flex().autodiff();
    // H = 5 runs the portable kernels; H = 16 with 7 rows the packed ones (with a row tail).
    for (t, b, h) in [(6, 3, 5), (5, 7, 16)] {
        let mut r = rng(1);
        let xw_v: Vec<f32> = (0..t * b * 4 * h).map(|_| r.gen_range(-1.0..1.0)).collect();
        let kh_v: Vec<f32> = (0..h * 4 * h).map(|_| r.gen_range(-0.6..0.6)).collect();
        let wv: Vec<f32> = (0..t * b * h).map(|_| r.gen_range(-1.0..1.0)).collect();
        let run = |fused: bool| {
            let xw = Tensor::<3>::from_data(TensorData::new(xw_v.clone(), [t, b, 4 * h]), &ad).require_grad();
            let kh = Tensor::<2>::from_data(TensorData::new(kh_v.clone(), [h, 4 * h]), &ad).require_grad();
            let wt = Tensor::<3>::from_data(TensorData::new(wv.clone(), [t, b, h]), &ad);
            let out =
                if fused { lstm_layer(xw.clone(), kh.clone()) } else { lstm_layer_composed(xw.clone(), kh.clone()) };
            let loss = (out.clone() * wt).sum();
            let g = loss.backward();
            (vec_of(out), vec_of(xw.grad(&g).unwrap()), vec_of(kh.grad(&g).unwrap()))
        };
        let (o1, gx1, gk1) = run(true);
        let (o2, gx2, gk2) = run(false);
        let md = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(md(&o1, &o2) < 1e-5, "H={h} outputs {}", md(&o1, &o2));
        assert!(md(&gx1, &gx2) < 1e-4, "d xw {}", md(&gx1, &gx2));
        assert!(md(&gk1, &gk2) < 1e-4, "d k_h {}", md(&gk1, &gk2));
    }
}

fn random_example(config: Config, n: usize, r: &mut impl Rng) -> EncodedExample {
    let mut tokens = Vec::new();
    for _ in 0..n {
        if config.is_note_encoding() {
            for &c in &cadenza_performance::config::NOTE_CLASSES {
                tokens.push(r.gen_range(0..c) as u16);
            }
        } else {
            tokens.push(r.gen_range(0..config.one_hot().num_classes()) as u16);
        }
    }
    EncodedExample { tokens, disable_conditioning: r.gen_bool(0.3) }
}

struct CountGrads<'a> {
    grads: &'a GradientsParams,
    found: usize,
    nonzero: usize,
}
impl ModuleVisitor for CountGrads<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(p.id) {
            self.found += 1;
            if vec_of(g).iter().any(|&x| x != 0.0) {
                self.nonzero += 1;
            }
        }
    }
}

#[test]
fn every_config_trains() {
    let ad = Device::flex().autodiff();
    for (i, &config) in Config::ALL.iter().enumerate() {
        let mc = ModelConfig::new(config, vec![8, 6]);
        let w = Weights::init(mc.clone(), i as u64);
        let mut net = PerformanceRnn::from_weights(&w, &ad);
        let mut r = rng(10 + i as u64);
        let exs: Vec<EncodedExample> = (0..3).map(|k| random_example(config, 12 + 3 * k, &mut r)).collect();
        let batch = Batch::new(config, &exs, vec![0, 1, 2]);
        let mut opt = AdamConfig::new().with_epsilon(1e-8).init();
        let first = vec_of(net.forward(&mc, &batch, 0.9, &mut r).loss)[0];
        assert!(first.is_finite(), "{config}");
        let mut last = first;
        for step in 0..30 {
            let out = net.forward(&mc, &batch, 1.0, &mut r);
            last = vec_of(out.loss.clone())[0];
            let grads = GradientsParams::from_grads(out.loss.backward(), &net);
            if step == 0 {
                let mut c = CountGrads { grads: &grads, found: 0, nonzero: 0 };
                net.visit(&mut c);
                assert_eq!(c.found, 2 * 2 + 2, "{config}: a parameter got no gradient");
                assert_eq!(c.nonzero, c.found, "{config}: a gradient is all zero");
            }
            net = opt.step(0.01, net, grads);
        }
        assert!(last < first * 0.8, "{config}: loss {first} → {last} did not fall");
    }
}

/// The whole network's loss gradient against central differences, for a few weights of
/// every tensor.
#[test]
fn network_gradients_match_finite_differences() {
    let ad = Device::flex().autodiff();
    let config = Config::MulticonditionedPerformanceWithDynamics;
    let mc = ModelConfig::new(config, vec![6, 5]);
    let w = Weights::init(mc.clone(), 3);
    let mut r = rng(4);
    let exs: Vec<EncodedExample> = (0..2).map(|k| random_example(config, 9 + k, &mut r)).collect();
    let batch = Batch::new(config, &exs, vec![0, 1]);
    let loss_of = |w: &Weights| -> f64 {
        let net = PerformanceRnn::from_weights(w, &Device::flex());
        vec_of(net.forward(&mc, &batch, 1.0, &mut rng(0)).loss)[0] as f64
    };
    let net = PerformanceRnn::from_weights(&w, &ad);
    let grads = net.forward(&mc, &batch, 1.0, &mut rng(0)).loss.backward();
    let analytic: Vec<Vec<f32>> = net.kernels.iter().map(|k| vec_of(k.val().grad(&grads).unwrap())).collect();
    let afc = vec_of(net.fc_w.val().grad(&grads).unwrap());
    let eps = 3e-3f32;
    let mut r = rng(5);
    for l in 0..2 {
        for _ in 0..12 {
            // Rows the batch actually touches: controls, h rows, or a used token row.
            let i = r.gen_range(0..w.kernels[l].len());
            let (mut a, mut b) = (w.clone(), w.clone());
            a.kernels[l][i] += eps;
            b.kernels[l][i] -= eps;
            let num = (loss_of(&a) - loss_of(&b)) / (2.0 * eps as f64);
            let an = analytic[l][i] as f64;
            assert!((num - an).abs() < 2e-3 + 2e-2 * num.abs(), "kernel {l}[{i}]: numeric {num} analytic {an}");
        }
    }
    for _ in 0..12 {
        let i = r.gen_range(0..w.fc_w.len());
        let (mut a, mut b) = (w.clone(), w.clone());
        a.fc_w[i] += eps;
        b.fc_w[i] -= eps;
        let num = (loss_of(&a) - loss_of(&b)) / (2.0 * eps as f64);
        assert!((num - afc[i] as f64).abs() < 2e-3 + 2e-2 * num.abs(), "fc_w[{i}]: numeric {num} analytic {}", afc[i]);
    }
}

/// Three Adam steps with dropout, twice from the same seed, at packed sizes (64 and 32 units,
/// a row tail of 7): every parameter comes out with the same bits.
#[test]
fn training_steps_are_bit_identical_when_repeated() {
    let ad = Device::flex().autodiff();
    let config = Config::PerformanceWithDynamics;
    let mc = ModelConfig::new(config, vec![64, 32]);
    let mut r = rng(21);
    let exs: Vec<EncodedExample> = (0..7).map(|k| random_example(config, 20 + k, &mut r)).collect();
    let batch = Batch::new(config, &exs, (0..7).collect());
    let run = || {
        let mut net = PerformanceRnn::from_weights(&Weights::init(mc.clone(), 5), &ad);
        let mut opt = AdamConfig::new().with_epsilon(1e-8).init();
        let mut r = rng(22);
        for _ in 0..3 {
            let out = net.forward(&mc, &batch, 0.8, &mut r);
            let grads = GradientsParams::from_grads(out.loss.backward(), &net);
            net = opt.step(0.01, net, grads);
        }
        let mut v: Vec<u32> = Vec::new();
        for k in &net.kernels {
            v.extend(vec_of(k.val()).iter().map(|x| x.to_bits()));
        }
        v.extend(vec_of(net.fc_w.val()).iter().map(|x| x.to_bits()));
        v
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), b.len());
    let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert_eq!(differ, 0, "{differ} of {} parameter bits differ between two identical runs", a.len());
}

/// What the tolerances of [`simd_levels_agree_on_forward_backward_and_a_training_step`] allow,
/// relative to the largest magnitude of each quantity: the levels sum in different orders (FMA
/// lanes of 8 or 16, scalar left to right) and use their own exp/tanh approximations, so bit
/// patterns differ; the numbers may not differ by more than float rounding accumulated over a
/// few hundred terms. Adam's first step is `lr · g / (|g| + ε)` per weight, about `±lr` for any
/// gradient well above ε: a gradient near ε (a weight the batch barely touches) turns its
/// rounding difference into a visible change of its step, so the step gets a looser bound.
/// Measured on an Intel Xeon (AVX-512), relative to the scalar level: logits 3e-7, loss 0,
/// gradients 2e-7, step 8e-4 (AVX2) and the same order for AVX-512.
const LEVEL_TOLERANCE: [(&str, f32); 4] = [("logits", 1e-5), ("loss", 1e-6), ("gradients", 1e-5), ("step", 5e-3)];

/// The numbers of one forward pass, its backward pass and one Adam step (dropout 0.8, packed
/// sizes of 64 and 32 units, a row tail of 7), at this process's SIMD level.
fn level_numbers() -> Vec<Vec<f32>> {
    let ad = Device::flex().autodiff();
    let config = Config::PerformanceWithDynamics;
    let mc = ModelConfig::new(config, vec![64, 32]);
    let mut r = rng(31);
    let exs: Vec<EncodedExample> = (0..7).map(|k| random_example(config, 30 + k, &mut r)).collect();
    let batch = Batch::new(config, &exs, (0..7).collect());
    let w = Weights::init(mc.clone(), 9);
    let net = PerformanceRnn::from_weights(&w, &ad);
    let out = net.forward(&mc, &batch, 0.8, &mut rng(32));
    let (logits, loss) = (vec_of(out.logits.clone()), vec_of(out.loss.clone()));
    let grads = out.loss.backward();
    let mut g: Vec<f32> = Vec::new();
    for k in &net.kernels {
        g.extend(vec_of(k.val().grad(&grads).unwrap()));
    }
    for b in &net.biases {
        g.extend(vec_of(b.val().grad(&grads).unwrap()));
    }
    g.extend(vec_of(net.fc_w.val().grad(&grads).unwrap()));
    let gp = GradientsParams::from_grads(grads, &net);
    let mut opt = AdamConfig::new().with_epsilon(1e-8).init();
    let stepped = opt.step(0.01, net, gp);
    let after = stepped.to_weights(&mc, &w.names);
    // The step's change of each weight (the weights themselves would hide it under their size).
    let mut step: Vec<f32> = Vec::new();
    for (a, b) in after.kernels.iter().zip(&w.kernels) {
        step.extend(a.iter().zip(b).map(|(x, y)| x - y));
    }
    step.extend(after.fc_w.iter().zip(&w.fc_w).map(|(x, y)| x - y));
    vec![logits, loss, g, step]
}

/// The scalar, AVX2 and AVX-512 kernels (each this CPU has) agree on the same inputs: forward
/// logits and loss, every gradient of the backward pass, and the change one Adam step makes,
/// each within [`LEVEL_TOLERANCE`] of the scalar level's, relative to its largest magnitude.
/// Each level runs in a child process (`CADENZA_SIMD`), since the level is chosen per process.
#[test]
fn simd_levels_agree_on_forward_backward_and_a_training_step() {
    use cadenza_model::kernels::simd::Level;
    if let Some(out) = std::env::var_os("CADENZA_LEVEL_OUT") {
        std::fs::write(out, serde_json::to_vec(&level_numbers()).unwrap()).unwrap();
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut by_level: Vec<(&str, Vec<Vec<f32>>)> = Vec::new();
    for level in Level::available() {
        let path = tmp.path().join(level.name());
        let out = std::process::Command::new(&exe)
            .args(["simd_levels_agree_on_forward_backward_and_a_training_step", "--exact", "--test-threads", "1"])
            .env("CADENZA_SIMD", level.name())
            .env_remove("CADENZA_NO_SIMD")
            .env("CADENZA_LEVEL_OUT", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "at CADENZA_SIMD={}: {}", level.name(), String::from_utf8_lossy(&out.stderr));
        by_level.push((level.name(), serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()));
    }
    assert!(by_level.len() >= 2 || cfg!(not(target_arch = "x86_64")), "x86_64 has at least scalar and AVX2 here");
    let (base_name, base) = &by_level[0];
    assert_eq!(*base_name, "scalar");
    for (name, nums) in &by_level[1..] {
        for ((what, tol), (a, b)) in LEVEL_TOLERANCE.iter().zip(base.iter().zip(nums)) {
            assert_eq!(a.len(), b.len());
            let scale = a.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(f32::MIN_POSITIVE);
            let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max) / scale;
            let differ = a.iter().zip(b).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
            eprintln!(
                "{name} vs scalar, {what}: max |diff| / max |x| = {worst:.2e} ({differ} of {} differ in bits)",
                a.len()
            );
            assert!(worst <= *tol, "{name} vs scalar, {what}: {worst:.2e} > {tol:.0e}");
        }
    }
}
