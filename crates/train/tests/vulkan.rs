//! The Vulkan path, built only with `--features wgpu` or `--features vulkan` (CI builds
//! neither): `cargo test --release -p cadenza-train --features wgpu --test vulkan`.
//!
//! It needs a Vulkan adapter: a GPU, or on a machine without one Mesa's llvmpipe (Debian:
//! `mesa-vulkan-drivers`), which runs the shaders on the CPU (llvmpipe takes the `wgpu`
//! feature's WGSL; it segfaults on cubecl's own SPIR-V matmul). The checks are the CPU's:
//! Magenta's bundle gives Magenta's logits, gradients equal the fused CPU kernels', and a real
//! `train` run on the device lowers the eval loss and leaves a checkpoint that the CPU
//! evaluates to the same numbers.
#![cfg(any(feature = "vulkan", feature = "wgpu"))]

use burn::tensor::{Device, Tensor};
use cadenza_dataset::BuildOptions;
use cadenza_model::Weights;
use cadenza_performance::pipeline::PipelineOptions;
use cadenza_performance::{Config, EncodedExample};
use cadenza_train::device::{select, DeviceChoice, Selected};
use cadenza_train::{Batch, PerformanceRnn, TrainOptions};
use rand::SeedableRng;
use std::path::PathBuf;

fn shared() -> PathBuf {
    cadenza_shared::require("")
}

fn vulkan() -> Selected {
    let s = select(DeviceChoice::Vulkan).unwrap_or_else(|e| panic!("this test needs a Vulkan adapter: {e}"));
    eprintln!("{}", s.description);
    s
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Logits, loss and the gradients of every parameter, on `dev` (with dropout, same seed).
fn run(w: &Weights, batch: &Batch, keep: f32, dev: &Device) -> (Vec<f32>, f32, Vec<Vec<f32>>) {
    let net = PerformanceRnn::from_weights(w, &dev.clone().autodiff());
    let out = net.forward(&w.config, batch, keep, &mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
    let loss = vec_of(out.loss.clone())[0];
    let g = out.loss.backward();
    let mut grads: Vec<Vec<f32>> = net.kernels.iter().map(|k| vec_of(k.val().grad(&g).expect("kernel grad"))).collect();
    grads.extend(net.biases.iter().map(|b| vec_of(b.val().grad(&g).expect("bias grad"))));
    grads.push(vec_of(net.fc_w.val().grad(&g).unwrap()));
    (vec_of(out.logits), loss, grads)
}

#[test]
fn magenta_bundle_gives_the_cpu_numbers_on_vulkan() {
    let v = vulkan();
    let w = Weights::load(&shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag")).unwrap();
    let probs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared().join("fixtures/magenta/probs_small64.json")).unwrap())
            .unwrap();
    let tokens: Vec<u16> =
        probs["primer_class_indices"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u16).collect();
    // Three rows, the primer shifted, so the batch and the recurrence are both exercised.
    let exs: Vec<EncodedExample> =
        (0..3).map(|k| EncodedExample { tokens: tokens[k * 20..].to_vec(), disable_conditioning: false }).collect();
    let batch = Batch::new(Config::PerformanceWithDynamics, &exs, vec![0, 1, 2]);

    // Magenta's own logits (the reference inference checks against probs_small64.json elsewhere).
    let (lv, loss_v, gv) = run(&w, &batch, 1.0, &v.device);
    let toks: Vec<&[u16]> = tokens[..tokens.len() - 1].chunks(1).collect();
    let reference = cadenza_model::sequence_logits(&w, &toks, None);
    let t = batch.t;
    let first_row: Vec<f32> = (0..t).flat_map(|p| lv[(p * 3) * 388..(p * 3 + 1) * 388].to_vec()).collect();
    let d = max_diff(&first_row[..reference.len()], &reference);
    assert!(d < 1e-4, "Vulkan logits differ from the reference inference by {d}");

    let (lc, loss_c, gc) = run(&w, &batch, 1.0, &Device::flex());
    assert!(max_diff(&lv, &lc) < 1e-4, "logits: {}", max_diff(&lv, &lc));
    assert!((loss_v - loss_c).abs() < 1e-5, "loss {loss_v} vs {loss_c}");
    for (i, (a, b)) in gv.iter().zip(&gc).enumerate() {
        let scale = b.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
        assert!(max_diff(a, b) < 1e-3 * scale, "gradient {i}: {} (scale {scale})", max_diff(a, b));
    }

    // Dropout: the composed path multiplies by the fused op's mask, so the numbers still agree.
    let (_, dv, gdv) = run(&w, &batch, 0.5, &v.device);
    let (_, dc, gdc) = run(&w, &batch, 0.5, &Device::flex());
    assert!((dv - dc).abs() < 1e-4, "loss with dropout {dv} vs {dc}");
    let scale = gdc[0].iter().fold(1e-3f32, |m, x| m.max(x.abs()));
    assert!(max_diff(&gdv[0], &gdc[0]) < 1e-3 * scale);
}

#[test]
fn train_on_vulkan_lowers_eval_loss_and_the_cpu_reads_its_checkpoint() {
    vulkan();
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let opts = BuildOptions {
        pipeline: PipelineOptions { config: Config::PerformanceWithDynamics, max_events: 128, ..Default::default() },
        transpositions: vec![0],
        stretches: vec![1.0],
        eval_ratio: 0.5,
        seed: 1,
        ..Default::default()
    };
    let asap = shared().join("data/asap/Bach/Fugue");
    cadenza_dataset::build(&[asap.join("bwv_846"), asap.join("bwv_848")], &ds, &opts).unwrap();
    let run_dir = tmp.path().join("run");
    let t = TrainOptions {
        dataset: ds.clone(),
        run_dir: run_dir.clone(),
        layers: vec![32],
        overrides: cadenza_train::HParamsOverrides::parse("batch_size=8,learning_rate=0.01").unwrap(),
        steps: 30,
        eval_every: 30,
        summary_every: 10,
        checkpoint_every: 30,
        eval_examples: Some(16),
        seed: 3,
        device: DeviceChoice::Vulkan,
        ..Default::default()
    };
    let info = cadenza_train::train(&t).unwrap();
    let log = std::fs::read_to_string(run_dir.join("log.txt")).unwrap();
    assert!(log.contains("device: vulkan"), "{log}");
    let trained = info.last_eval.expect("an evaluation");

    // The same evaluation on the CPU: of the weights the run started from, and of its checkpoint.
    let store = cadenza_dataset::Dataset::open(&ds).unwrap();
    let cpu_eval = |w: &Weights| {
        cadenza_train::evaluate(&PerformanceRnn::from_weights(w, &Device::flex()), &w.config, &store.eval, 8, Some(16))
    };
    let start = Weights::init(cadenza_model::ModelConfig::new(Config::PerformanceWithDynamics, vec![32]), 3);
    let before = cpu_eval(&start);
    let after = cpu_eval(&Weights::load(&run_dir.join("best")).unwrap());
    eprintln!("eval loss {:.4} -> {:.4} (Vulkan's own eval {:.4})", before.loss, after.loss, trained.loss);
    assert!(after.loss < before.loss - 0.3, "eval loss {} -> {}", before.loss, after.loss);
    assert!(
        (after.loss - trained.loss).abs() < 1e-3,
        "CPU eval of the checkpoint {} vs the run's {}",
        after.loss,
        trained.loss
    );
}

/// `auto` never picks a CPU Vulkan adapter: it takes a GPU, or the fused CPU kernels and says why.
#[test]
fn auto_takes_a_gpu_or_the_cpu_with_a_reason() {
    let a = select(DeviceChoice::Auto).unwrap();
    if a.is_cpu() {
        let why = a.fallback.expect("a reason");
        assert!(why.starts_with("no Vulkan GPU"), "{why}");
    } else {
        assert!(a.description.contains("GPU"), "{}", a.description);
    }
}
