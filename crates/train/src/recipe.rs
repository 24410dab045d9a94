//! The modified model's recipe: which rhythm and harmony losses, and how much of each.
//!
//! One type for every command that trains or compares (`train`, `compare`, `demo`, `pool`,
//! `listen`) and for the hyper-parameters a run trains with: the four numbers, named recipes for
//! the ones the project has measured, and one text form for the command line and the reports:
//!
//! ```text
//! none                               the original recipe (cross-entropy alone)
//! seed                               the seed project's: rhythm=emd:0.5,harmony=tension:0.25
//! grid-key                           the project's: rhythm=grid:0.1,harmony=key:1
//! rhythm=ratio:1,harmony=key:2       any other: COST:WEIGHT for each part (a part left out is off)
//! ```
//!
//! In JSON (`hparams.json`, `comparison.json`'s options, `pooled.json`) a recipe is its four
//! fields `rhythm_loss`, `harmony_loss`, `rhythm_cost`, `harmony_cost` beside the other keys
//! (`#[serde(flatten)]`); a missing weight reads as 0, a missing cost as the first one.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which rhythm loss (see `crate::losses`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RhythmCost {
    /// Expected |predicted − target| shift: the earth mover's distance (not proper).
    #[default]
    Emd,
    /// The ranked probability score: squared CDF differences (strictly proper).
    Rps,
    /// Log loss of the rhythm-ratio bin of the next inter-onset interval (reads ahead).
    Ratio,
    /// Log loss of the rhythm-ratio bin reached at the end of the target shift (proper).
    Elapsed,
    /// Log loss of landing on the example's metrical grid, or off it (proper; score data).
    Grid,
}

impl RhythmCost {
    /// Every cost, in the order of [`RhythmCost::NAMES`] (a test checks the two agree).
    pub const ALL: [RhythmCost; 5] =
        [RhythmCost::Emd, RhythmCost::Rps, RhythmCost::Ratio, RhythmCost::Elapsed, RhythmCost::Grid];
    /// The names the command line and the hparams take.
    pub const NAMES: [&'static str; 5] = ["emd", "rps", "ratio", "elapsed", "grid"];

    pub fn name(self) -> &'static str {
        match self {
            RhythmCost::Emd => "emd",
            RhythmCost::Rps => "rps",
            RhythmCost::Ratio => "ratio",
            RhythmCost::Elapsed => "elapsed",
            RhythmCost::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Which harmony loss (see `crate::losses`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HarmonyCost {
    /// Expected ½·out-of-key + ½·tension of the next note (not proper).
    #[default]
    Tension,
    /// Log loss of the next note's key membership (strictly proper for the in-key share).
    Key,
}

impl HarmonyCost {
    /// Every cost, in the order of [`HarmonyCost::NAMES`] (a test checks the two agree).
    pub const ALL: [HarmonyCost; 2] = [HarmonyCost::Tension, HarmonyCost::Key];
    /// The names the command line and the hparams take.
    pub const NAMES: [&'static str; 2] = ["tension", "key"];

    pub fn name(self) -> &'static str {
        match self {
            HarmonyCost::Tension => "tension",
            HarmonyCost::Key => "key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// Which musical losses, with their weights (0 = off). Two recipes are equal when they train
/// the same losses: the same weights, and the same cost for each part that is on (the cost of
/// a part that is off does not matter).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Recipe {
    /// Weight of the rhythm loss.
    #[serde(rename = "rhythm_loss", default)]
    pub rhythm: f64,
    /// Weight of the harmony loss.
    #[serde(rename = "harmony_loss", default)]
    pub harmony: f64,
    #[serde(default)]
    pub rhythm_cost: RhythmCost,
    #[serde(default)]
    pub harmony_cost: HarmonyCost,
    /// Train on the model's own samples, rewarded by a critic and held near the model it starts
    /// from (`cadenza-realism`), instead of teacher-forced cross-entropy with musical losses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub realism: bool,
}

impl Recipe {
    /// Cross-entropy alone: the original model.
    pub const NONE: Recipe = Recipe {
        rhythm: 0.0,
        harmony: 0.0,
        rhythm_cost: RhythmCost::Emd,
        harmony_cost: HarmonyCost::Tension,
        realism: false,
    };
    /// The seed project's losses, made differentiable: EMD rhythm × 0.5 + tension harmony × 0.25.
    pub const SEED: Recipe = Recipe {
        rhythm: 0.5,
        harmony: 0.25,
        rhythm_cost: RhythmCost::Emd,
        harmony_cost: HarmonyCost::Tension,
        realism: false,
    };
    /// The project's recipe: grid rhythm × 0.1 + key harmony × 1 (see `docs/study/`).
    pub const GRID_KEY: Recipe = Recipe {
        rhythm: 0.1,
        harmony: 1.0,
        rhythm_cost: RhythmCost::Grid,
        harmony_cost: HarmonyCost::Key,
        realism: false,
    };

    /// The model's own samples, rewarded by a critic of realism, held near the start by the KL.
    pub const REALISM: Recipe = Recipe { realism: true, ..Recipe::NONE };

    /// The named recipes: name, recipe, what it is.
    pub const NAMED: [(&'static str, Recipe, &'static str); 4] = [
        ("none", Recipe::NONE, "cross-entropy alone (the original model)"),
        ("seed", Recipe::SEED, "the seed project's: EMD rhythm x 0.5 + tension harmony x 0.25"),
        ("grid-key", Recipe::GRID_KEY, "grid rhythm x 0.1 + key harmony x 1 (the project's)"),
        ("realism", Recipe::REALISM, "trained on its own samples, rewarded by a critic, held near the start by the KL"),
    ];

    /// Whether any musical loss is on.
    pub fn any(&self) -> bool {
        self.rhythm > 0.0 || self.harmony > 0.0
    }

    /// The recipe's name when it is a named one (costs of a part that is off do not matter).
    pub fn name(&self) -> Option<&'static str> {
        Recipe::NAMED.iter().find(|(_, r, _)| r == self).map(|(n, _, _)| *n)
    }

    /// The spec form `rhythm=COST:W,harmony=COST:W` (the parts that are on; `none` when off).
    pub fn spec(&self) -> String {
        if self.realism {
            return "realism".into();
        }
        let mut parts = Vec::new();
        if self.rhythm > 0.0 {
            parts.push(format!("rhythm={}:{}", self.rhythm_cost.name(), self.rhythm));
        }
        if self.harmony > 0.0 {
            parts.push(format!("harmony={}:{}", self.harmony_cost.name(), self.harmony));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(",")
        }
    }
}

impl PartialEq for Recipe {
    fn eq(&self, other: &Recipe) -> bool {
        self.realism == other.realism
            && self.rhythm == other.rhythm
            && self.harmony == other.harmony
            && (self.rhythm == 0.0 || self.rhythm_cost == other.rhythm_cost)
            && (self.harmony == 0.0 || self.harmony_cost == other.harmony_cost)
    }
}

impl fmt::Display for Recipe {
    /// The name of a named recipe, else its spec.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => f.write_str(&self.spec()),
        }
    }
}

/// Why a recipe's text does not parse; the message lists what would.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{text:?} is not a recipe: {why}. Use a name ({names}) or \"rhythm=COST:WEIGHT,harmony=COST:WEIGHT\" with rhythm costs {rhythm} and harmony costs {harmony}")]
pub struct RecipeError {
    pub text: String,
    pub why: String,
    names: String,
    rhythm: String,
    harmony: String,
}

impl RecipeError {
    fn new(text: &str, why: impl Into<String>) -> Self {
        RecipeError {
            text: text.into(),
            why: why.into(),
            names: Recipe::NAMED.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", "),
            rhythm: RhythmCost::NAMES.join(", "),
            harmony: HarmonyCost::NAMES.join(", "),
        }
    }
}

impl FromStr for Recipe {
    type Err = RecipeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some((_, r, _)) = Recipe::NAMED.iter().find(|(n, _, _)| *n == t) {
            return Ok(*r);
        }
        if !t.contains('=') {
            return Err(RecipeError::new(s, "no such name"));
        }
        let mut r = Recipe::NONE;
        let (mut seen_r, mut seen_h) = (false, false);
        for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                part.split_once('=').ok_or_else(|| RecipeError::new(s, format!("{part:?} has no '='")))?;
            let (cost, weight) = value
                .split_once(':')
                .ok_or_else(|| RecipeError::new(s, format!("{part:?}: write COST:WEIGHT, e.g. grid:0.1")))?;
            let w: f64 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| RecipeError::new(s, format!("{weight:?} is not a weight (a number >= 0)")))?;
            match key.trim() {
                "rhythm" if !seen_r => {
                    r.rhythm_cost = RhythmCost::parse(cost.trim())
                        .ok_or_else(|| RecipeError::new(s, format!("no rhythm cost is named {cost:?}")))?;
                    r.rhythm = w;
                    seen_r = true;
                }
                "harmony" if !seen_h => {
                    r.harmony_cost = HarmonyCost::parse(cost.trim())
                        .ok_or_else(|| RecipeError::new(s, format!("no harmony cost is named {cost:?}")))?;
                    r.harmony = w;
                    seen_h = true;
                }
                "rhythm" | "harmony" => return Err(RecipeError::new(s, format!("{key} is given twice"))),
                other => return Err(RecipeError::new(s, format!("{other:?} is neither rhythm nor harmony"))),
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_specs_and_display_round_trip() {
        for (name, r, _) in Recipe::NAMED {
            assert_eq!(name.parse::<Recipe>().unwrap(), r);
            assert_eq!(r.to_string(), name);
            assert_eq!(r.spec().parse::<Recipe>().unwrap(), r, "{}", r.spec());
        }
        assert_eq!("rhythm=emd:0.5,harmony=tension:0.25".parse::<Recipe>().unwrap().to_string(), "seed");
        let r: Recipe = "harmony=key:2, rhythm=ratio:1".parse().unwrap();
        assert_eq!(
            r,
            Recipe {
                rhythm: 1.0,
                harmony: 2.0,
                rhythm_cost: RhythmCost::Ratio,
                harmony_cost: HarmonyCost::Key,
                realism: false
            }
        );
        assert_eq!(r.to_string(), "rhythm=ratio:1,harmony=key:2");
        // A part left out is off, whatever its cost.
        let k: Recipe = "harmony=key:1".parse().unwrap();
        assert_eq!((k.rhythm, k.harmony, k.harmony_cost), (0.0, 1.0, HarmonyCost::Key));
        assert_eq!(Recipe { rhythm_cost: RhythmCost::Grid, ..Recipe::NONE }, Recipe::NONE);
        // A part that is on compares its cost.
        assert_ne!(Recipe { rhythm_cost: RhythmCost::Grid, ..Recipe::SEED }, Recipe::SEED);
    }

    #[test]
    fn bad_recipes_say_what_would_parse() {
        for bad in ["sead", "rhythm=emd", "rhythm=foo:1", "harmony=key:-1", "tempo=emd:1", "rhythm=emd:1,rhythm=rps:1"]
        {
            let e = bad.parse::<Recipe>().unwrap_err().to_string();
            assert!(
                e.contains("none, seed, grid-key")
                    && e.contains("emd, rps, ratio, elapsed, grid")
                    && e.contains("tension, key"),
                "{bad}: {e}"
            );
        }
    }

    /// In JSON a recipe is its four fields; a file without the costs, or without a weight,
    /// reads them as the defaults.
    #[test]
    fn json_keeps_the_four_fields() {
        let v = serde_json::to_value(Recipe::GRID_KEY).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"rhythm_loss": 0.1, "harmony_loss": 1.0, "rhythm_cost": "grid", "harmony_cost": "key"})
        );
        let old = serde_json::json!({"rhythm_loss": 0.5, "harmony_loss": 0.25});
        assert_eq!(serde_json::from_value::<Recipe>(old).unwrap(), Recipe::SEED);
        let harmony_only = serde_json::json!({"harmony_loss": 1.0, "harmony_cost": "key"});
        assert_eq!(serde_json::from_value::<Recipe>(harmony_only).unwrap(), "harmony=key:1".parse().unwrap());
    }
}
