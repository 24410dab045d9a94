//! The critic and the policy step on real music: the critic learns to tell held-out ASAP
//! performances from the shipped v2 base's held-out samples; a few policy steps against that
//! critic raise its reward on fresh samples (new seeds) while the KL to the base stays within
//! its bound; a non-finite reward and a critic at chance are refused with a clear message.

use burn::tensor::Device;
use cadenza_model::Weights;
use cadenza_performance::pipeline::primer_performance;
use cadenza_performance::{Config, Token};
use cadenza_realism::{
    accuracy, advantages, check_critic, cut_windows, fit, kl_per_event, policy_step, window_rewards, Critic,
    CriticConfig, PolicyConfig, RealismError,
};
use cadenza_train::PerformanceRnn;
use std::path::PathBuf;

fn base() -> Weights {
    Weights::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/perf_dyn_3x256_asap_v2")).unwrap()
}

/// The first two performances of each piece, as the model's events (sustain applied, as in
/// training).
fn real(pieces: &[&str]) -> Vec<Vec<Token>> {
    let asap = cadenza_shared::require("data/asap");
    let mut out = Vec::new();
    for piece in pieces {
        let mut mids: Vec<PathBuf> = std::fs::read_dir(asap.join(piece))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mid") && !p.to_string_lossy().contains("midi_score"))
            .collect();
        mids.sort();
        for f in mids.iter().take(2) {
            let (seq, _) = cadenza_import::load_file(f, &Default::default()).unwrap();
            let seq = cadenza_notes::transform::apply_sustain(&seq);
            let perf = primer_performance(&seq, Config::PerformanceWithDynamics).unwrap();
            out.push(Config::PerformanceWithDynamics.tokens(&perf).unwrap());
        }
    }
    out
}

fn samples(w: &Weights, n: usize, steps: u32, seed: u64) -> Vec<Vec<Token>> {
    let o = cadenza_generate::GenerateOptions { num_steps: steps, num_outputs: n, seed, ..Default::default() };
    cadenza_generate::generate(w, &o, false).unwrap().into_iter().map(|s| s.drawn_tokens).collect()
}

fn mean(v: &[Vec<f64>]) -> f64 {
    let all: Vec<f64> = v.iter().flatten().copied().collect();
    all.iter().sum::<f64>() / all.len() as f64
}

#[test]
fn the_critic_learns_and_the_policy_follows_it_within_its_kl() {
    let w = base();
    let dev = Device::flex().autodiff();
    let cc = CriticConfig::default();
    let t0 = std::time::Instant::now();
    let real_fit = cut_windows(
        &real(&[
            "Bach/Fugue/bwv_848",
            "Beethoven/Piano_Sonatas/11-1",
            "Chopin/Etudes_op_10/3",
            "Mozart/Piano_Sonatas/8-1",
            "Schubert/Impromptu_op.90_D.899/3",
            "Haydn/Keyboard_Sonatas/39-1",
        ]),
        cc.window,
        12,
    );
    let real_held =
        cut_windows(&real(&["Bach/Fugue/bwv_854", "Chopin/Ballades/2", "Beethoven/Piano_Sonatas/23-1"]), cc.window, 12);
    let fake_fit = cut_windows(&samples(&w, 16, 3000, 1), cc.window, 8);
    let fake_held = cut_windows(&samples(&w, 12, 3000, 2), cc.window, 8);
    eprintln!(
        "windows: real {} / {} held out, generated {} / {} held out ({:.1} s)",
        real_fit.len(),
        real_held.len(),
        fake_fit.len(),
        fake_held.len(),
        t0.elapsed().as_secs_f64()
    );
    let critic = Critic::new(w.config.num_logits(), &cc, 0, &dev);
    let fresh = accuracy(&critic, &real_held, &fake_held, cc.warmup);
    let mut optim = cadenza_train::optim::adam();
    let t1 = std::time::Instant::now();
    let (critic, loss) = fit(critic, &mut optim, &cc, &real_fit, &fake_fit, 300, 7);
    let acc = accuracy(&critic, &real_held, &fake_held, cc.warmup);
    eprintln!(
        "critic: held-out accuracy {fresh:.3} fresh, {acc:.3} fitted (loss {loss:.3}, {:.1} s)",
        t1.elapsed().as_secs_f64()
    );
    assert!(acc >= 0.7 && acc > fresh + 0.1, "held-out accuracy {acc:.3} (fresh {fresh:.3})");
    check_critic(acc, 0.6).unwrap();

    // Policy steps against the fixed critic, each on 16 fresh samples of 20 s.
    let pc = PolicyConfig { learning_rate: 5e-5, beta: 0.1, ..Default::default() };
    let mut net = PerformanceRnn::from_weights(&w, &dev);
    let mut optim = cadenza_train::optim::adam();
    let t2 = std::time::Instant::now();
    for k in 0..8 {
        let now = net.to_weights(&w.config, &w.names);
        let s = samples(&now, 16, 2000, 100 + k);
        let r = window_rewards(&critic, &s, cc.window, cc.warmup);
        let (next, st) = policy_step(net, &mut optim, &w.config, &w, &s, &r, cc.window, None, &pc).unwrap();
        net = next;
        eprintln!("step {k}: reward {:.3} kl {:.4} pg {:+.4} tokens {}", st.reward, st.kl, st.pg_loss, st.tokens);
    }
    eprintln!("8 policy iterations in {:.1} s", t2.elapsed().as_secs_f64());
    let tuned = net.to_weights(&w.config, &w.names);
    let (s_tuned, s_base) = (samples(&tuned, 16, 2000, 900), samples(&w, 16, 2000, 900));
    let r_tuned = mean(&window_rewards(&critic, &s_tuned, cc.window, cc.warmup));
    let r_base = mean(&window_rewards(&critic, &s_base, cc.window, cc.warmup));
    let kl = kl_per_event(&tuned, &w, &s_tuned);
    eprintln!("held-out seeds: reward {r_base:.3} base, {r_tuned:.3} tuned; KL {kl:.4} nats/event");
    assert!(r_tuned > r_base, "reward {r_tuned:.3} tuned against {r_base:.3} base");
    assert!(kl < 0.1, "KL {kl:.4} nats/event over the bound 0.1");
}

#[test]
fn a_non_finite_reward_and_a_critic_at_chance_are_refused() {
    let e = advantages(&[vec![0.1, 0.2], vec![0.3, f64::NAN]]).unwrap_err();
    assert!(matches!(e, RealismError::NonFiniteReward { sample: 1, window: 1, .. }), "{e}");
    assert!(e.to_string().contains("window 1 of sample 1"), "{e}");
    // A critic fitted to tell one real fugue from another has nothing to tell two halves of
    // the same real performances apart with: held out, it sits at chance, and is refused.
    let dev = Device::flex().autodiff();
    let cc = CriticConfig::default();
    let (a, b) = (
        cut_windows(&real(&["Bach/Fugue/bwv_848"]), cc.window, 12),
        cut_windows(&real(&["Bach/Fugue/bwv_854"]), cc.window, 12),
    );
    let critic = Critic::new(388, &cc, 0, &dev);
    let mut optim = cadenza_train::optim::adam();
    let (critic, _) = fit(critic, &mut optim, &cc, &a, &b, 40, 1);
    let held = cut_windows(&real(&["Chopin/Ballades/2", "Mozart/Piano_Sonatas/8-1"]), cc.window, 24);
    let (first, second): (Vec<_>, Vec<_>) = held.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, Vec<Token>)>| v.into_iter().map(|x| x.1).collect::<Vec<_>>();
    let acc = accuracy(&critic, &strip(first), &strip(second), cc.warmup);
    eprintln!("real against real: held-out accuracy {acc:.3}");
    let e = check_critic(acc, 0.6).unwrap_err();
    assert!(e.to_string().contains("at chance"), "{e}");
}
