//! What a comparison tells its caller while it runs ([`CompareEvent`]); the binary prints
//! each one as its `Display` text.

use crate::Arm;
use cadenza_train::Recipe;
use std::fmt;
use std::path::PathBuf;

/// Which model a step concerns: an arm, and the training seed of its run (none for the base).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLabel {
    pub arm: Arm,
    pub seed: Option<u64>,
}

impl fmt::Display for RunLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seed {
            Some(s) => write!(f, "{} seed {s}", self.arm),
            None => write!(f, "{}", self.arm),
        }
    }
}

/// One step of a comparison, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareEvent {
    /// No General MIDI SoundFont was found: the players use the built-in synthesiser.
    BuiltInSynthesiser,
    /// A finished run is taken as it is.
    Reusing { run: RunLabel, dir: PathBuf, step: u64 },
    /// A run starts (or resumes) training.
    Training { run: RunLabel, steps: u64, recipe: Recipe, resume: bool },
    /// The eval split is decoded into the reference music.
    DecodingReference,
    /// A model is scored on the eval split.
    Evaluating(RunLabel),
    /// A model samples its pieces.
    Generating { run: RunLabel, samples: usize, num_steps: u32 },
    /// The judge starts on every arm against the real music's files.
    Judging { arms: usize, files: usize },
    /// The judge cannot run; the comparison goes on without it.
    NoJudge(String),
}

impl fmt::Display for CompareEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareEvent::BuiltInSynthesiser => f.write_str("note: no General MIDI SoundFont found; the players use Cadenza's built-in piano-like synthesiser (apt-get install fluid-soundfont-gm, or pass a SoundFont, for a sampled piano)"),
            CompareEvent::Reusing { run, dir, step } => {
                write!(f, "{run}: reusing the finished run in {} (step {step})", dir.display())
            }
            CompareEvent::Training { run, steps, recipe: r, resume } if r.realism => {
                write!(f, "{run}: {steps} realism policy steps{}", if *resume { ", resuming" } else { "" })
            }
            CompareEvent::Training { run, steps, recipe: r, resume } => {
                let (rhythm_cost, harmony_cost) = crate::runs::named_costs(*r);
                write!(
                    f,
                    "{run}: training {steps} steps (rhythm loss {}{}, harmony loss {}{}){}",
                    r.rhythm,
                    rhythm_cost.map_or(String::new(), |c| format!(" {}", c.name())),
                    r.harmony,
                    harmony_cost.map_or(String::new(), |c| format!(" {}", c.name())),
                    if *resume { ", resuming" } else { "" }
                )
            }
            CompareEvent::DecodingReference => f.write_str("reference: decoding the eval split"),
            CompareEvent::Evaluating(run) => write!(f, "{run}: evaluating on the eval split"),
            CompareEvent::Generating { run, samples, num_steps } => {
                write!(f, "{run}: generating {samples} samples of {num_steps} steps")
            }
            CompareEvent::Judging { arms, files } => {
                write!(f, "judge: {arms} arms against {files} files of real music")
            }
            CompareEvent::NoJudge(why) => write!(f, "note: {why}"),
        }
    }
}
