//! The realism recipe on the command line: its knobs, declared once, and the glue that runs
//! `cadenza_realism::train_realism` for `train --recipe realism` with indicatif progress.

use super::args::{non_negative, positive};
use anyhow::Result;
use cadenza_realism::{RealismEvent, RealismHParams, RealismOptions};

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

/// A line above the progress bar, printed also when the bar is hidden (not a terminal).
fn say(bar: &indicatif::ProgressBar, line: String) {
    bar.suspend(|| eprintln!("{line}"));
}

/// Runs the realism loop, printing its progress.
pub fn run(o: RealismOptions) -> Result<()> {
    let bar = indicatif::ProgressBar::new(o.steps).with_style(
        indicatif::ProgressStyle::with_template("{spinner} realism step {pos}/{len} [{bar:30}] {msg} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let stop = cadenza_realism::train_realism(&o, &mut |e| match e {
        RealismEvent::DamagedCheckpoint(why) => say(&bar, format!("warning: passed over a damaged checkpoint: {why}")),
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
