//! The realism recipe on the command line: its knobs, declared once, and the glue that runs
//! `cadenza_realism::train_realism` for `train --recipe realism` with indicatif progress.

use anyhow::Result;
use cadenza_realism::{RealismEvent, RealismHParams, RealismOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RealismArgs {
    /// Realism recipe: β, the weight of KL(model ‖ the model it started from) per event.
    #[arg(long, value_parser = non_negative)]
    pub realism_beta: Option<f64>,
    /// Realism recipe: the policy's learning rate.
    #[arg(long, value_parser = positive)]
    pub realism_lr: Option<f64>,
    /// Realism recipe: samples drawn per policy step (one group for the baseline).
    #[arg(long)]
    pub realism_samples: Option<usize>,
    /// Realism recipe: the length of each sample in seconds.
    #[arg(long, value_parser = positive)]
    pub realism_seconds: Option<f64>,
    /// Realism recipe: re-fit the critic every this many policy steps.
    #[arg(long)]
    pub critic_refit_every: Option<u64>,
    /// Realism recipe: weight of the teacher-forced cross-entropy on real music mixed in (0: none).
    #[arg(long, value_parser = non_negative)]
    pub realism_ce: Option<f64>,
}

fn number(s: &str) -> Result<f64, String> {
    s.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("`{s}` is not a finite number"))
}

fn positive(s: &str) -> Result<f64, String> {
    number(s).and_then(|v| if v > 0.0 { Ok(v) } else { Err(format!("`{s}` must be above 0")) })
}

fn non_negative(s: &str) -> Result<f64, String> {
    number(s).and_then(|v| if v >= 0.0 { Ok(v) } else { Err(format!("`{s}` must not be negative")) })
}

impl RealismArgs {
    /// The recipe's hyper-parameters: the defaults with every flag given laid over them.
    pub fn hparams(&self) -> RealismHParams {
        let mut h = RealismHParams::default();
        if let Some(b) = self.realism_beta {
            h.policy.beta = b;
        }
        if let Some(lr) = self.realism_lr {
            h.policy.learning_rate = lr;
        }
        if let Some(n) = self.realism_samples {
            h.samples = n.max(2);
        }
        if let Some(s) = self.realism_seconds {
            h.sample_steps = (s * 100.0).round().max(1.0) as u32;
        }
        if let Some(k) = self.critic_refit_every {
            h.refit_every = k.max(1);
        }
        if let Some(c) = self.realism_ce {
            h.policy.ce_weight = c;
        }
        h
    }
}

/// Where and how long a realism run trains (the `train` flags it shares).
pub struct RunPlan {
    pub dataset: PathBuf,
    pub init: PathBuf,
    pub run_dir: PathBuf,
    pub steps: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    pub keep_last: usize,
    pub eval_examples: Option<usize>,
    pub seed: u64,
    pub resume: bool,
}

/// A line above the progress bar, printed also when the bar is hidden (not a terminal).
fn say(bar: &indicatif::ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Runs the realism loop, printing its progress.
pub fn run(plan: RunPlan, args: &RealismArgs, cancel: cadenza_train::Cancel) -> Result<()> {
    let o = RealismOptions {
        dataset: plan.dataset,
        init: plan.init,
        run_dir: plan.run_dir,
        steps: plan.steps,
        eval_every: plan.eval_every,
        checkpoint_every: plan.checkpoint_every,
        keep_last: plan.keep_last,
        eval_examples: plan.eval_examples,
        seed: plan.seed,
        resume: plan.resume,
        hparams: args.hparams(),
        cancel,
    };
    let bar = indicatif::ProgressBar::new(o.steps).with_style(
        indicatif::ProgressStyle::with_template("{spinner} realism step {pos}/{len} [{bar:30}] {msg} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let stop = cadenza_realism::train_realism(&o, &mut |e| match e {
        RealismEvent::Resumed { step } => {
            bar.set_position(step);
            say(&bar, format!("resumed at step {step}"));
        }
        RealismEvent::CriticFitted { step, fit } => say(
            &bar,
            format!(
                "step {step}: critic fitted ({} steps, loss {:.3}), held-out accuracy {:.3}",
                fit.steps, fit.loss, fit.held_out_accuracy
            ),
        ),
        RealismEvent::Step(r) => {
            bar.set_position(r.step);
            let secs = r.seconds_sampling + r.seconds_critic + r.seconds_policy;
            bar.set_message(format!(
                "reward {:+.3} KL {:.4} critic {:.2} {:.0} tok/s",
                r.reward,
                r.kl,
                r.critic_accuracy,
                r.tokens as f64 / secs.max(1e-9)
            ));
            if let Some(l) = r.eval_loss {
                say(&bar, format!("step {}: eval NLL {l:.4}", r.step));
            }
        }
        RealismEvent::Checkpoint { step, name, best } => {
            if best {
                say(&bar, format!("step {step}: {name} is the best within the NLL budget"));
            }
        }
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{}: stopped at step {}{}; best/ from step {}",
        o.run_dir.display(),
        stop.step,
        if stop.interrupted { " (interrupted)" } else { "" },
        stop.best_step.map_or("none (no evaluation within the NLL budget)".into(), |s| s.to_string())
    );
    Ok(())
}
