//! Where a training step's time goes: forward, backward, optimizer, at the bench shape.
//! `cargo run --release -p cadenza-train --example train_profile [steps]`
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use cadenza_model::{ModelConfig, Weights};
use cadenza_performance::{Config, EncodedExample};
use cadenza_train::network::{Batch, PerformanceRnn};
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// Minor page faults of this process so far (Linux).
fn minflt() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| s.rsplit(')').next()?.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let config = Config::PerformanceWithDynamics;
    let model = ModelConfig::new(config, vec![512, 512, 512]);
    let dev = Device::flex().autodiff();
    let mut net = PerformanceRnn::from_weights(&Weights::init(model.clone(), 0), &dev);
    let mut optim: burn::optim::ModuleOptimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let classes = config.one_hot().num_classes();
    let exs: Vec<EncodedExample> = (0..48)
        .map(|_| EncodedExample {
            tokens: (0..512).map(|_| rng.gen_range(0..classes) as u16).collect(),
            disable_conditioning: false,
        })
        .collect();
    let b = Batch::new(config, &exs, (0..48).collect());
    for s in 0..steps {
        let f0 = minflt();
        let t0 = Instant::now();
        let out = net.forward(&model, &b, 0.5, &mut rng);
        let _ = out.loss.clone().into_data();
        let t1 = Instant::now();
        let g = out.loss.backward();
        let t2 = Instant::now();
        let grads = GradientsParams::from_grads(g, &net);
        net = optim.step(1e-3, net, grads);
        let _ = net.fc_b.val().into_data();
        let t3 = Instant::now();
        println!(
            "step {s}: forward {:.3} s, backward {:.3} s, optimizer {:.3} s, total {:.3} s, {} page faults",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            (t3 - t0).as_secs_f64(),
            minflt() - f0
        );
    }
}
