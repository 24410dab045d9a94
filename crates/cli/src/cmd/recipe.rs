//! The modified model's recipe on the command line, declared once and flattened into every
//! subcommand that trains or compares (`train`, `compare`, `demo`).

use cadenza_train::{HarmonyCost, Recipe, RhythmCost};

fn rhythm_cost(s: &str) -> Result<RhythmCost, String> {
    RhythmCost::parse(s)
        .ok_or_else(|| format!("no rhythm cost is named {s:?}; the costs are {}", RhythmCost::NAMES.join(", ")))
}

fn harmony_cost(s: &str) -> Result<HarmonyCost, String> {
    HarmonyCost::parse(s)
        .ok_or_else(|| format!("no harmony cost is named {s:?}; the costs are {}", HarmonyCost::NAMES.join(", ")))
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RecipeArgs {
    /// The modified model's losses: a named recipe ("none": cross-entropy alone; "seed": the seed
    /// project's EMD rhythm x 0.5 + tension harmony x 0.25; "grid-key": grid rhythm x 0.1 + key
    /// harmony x 1) or "rhythm=COST:WEIGHT,harmony=COST:WEIGHT". The four flags below change one
    /// part of it.
    #[arg(long)]
    pub recipe: Option<Recipe>,
    /// Weight of the differentiable rhythm loss (0 = off).
    #[arg(long, value_parser = super::args::non_negative)]
    pub rhythm_loss: Option<f64>,
    /// Which rhythm loss: emd (expected shift distance, the first design), rps (ranked
    /// probability score: ordinal like the EMD, but strictly proper), ratio (log loss of the
    /// rhythm-ratio bin the next inter-onset interval makes with the last one), elapsed (the same
    /// bins for the time elapsed at the end of the shift: strictly proper) or grid (log loss of
    /// landing on the example's metrical grid or off it: strictly proper; score data only).
    #[arg(long, value_parser = rhythm_cost)]
    pub rhythm_cost: Option<RhythmCost>,
    /// Weight of the differentiable harmony loss (0 = off).
    #[arg(long, value_parser = super::args::non_negative)]
    pub harmony_loss: Option<f64>,
    /// Which harmony loss: tension (expected out-of-key and interval-tension cost, the first
    /// design) or key (log loss of the next note's key membership: strictly proper).
    #[arg(long, value_parser = harmony_cost)]
    pub harmony_cost: Option<HarmonyCost>,
}

impl RecipeArgs {
    /// The recipe: `--recipe`, else `default`, with each part flag given laid over it.
    pub fn over(&self, default: Recipe) -> Recipe {
        let base = self.recipe.unwrap_or(default);
        Recipe { realism: base.realism, ..self.overrides().recipe_over(base) }
    }

    /// As training overrides: only what was given (a run's own recipe stays on `--resume`).
    pub fn overrides(&self) -> cadenza_train::HParamsOverrides {
        let base = self.recipe.map(cadenza_train::HParamsOverrides::recipe).unwrap_or_default();
        cadenza_train::HParamsOverrides {
            rhythm_loss: self.rhythm_loss.or(base.rhythm_loss),
            harmony_loss: self.harmony_loss.or(base.harmony_loss),
            rhythm_cost: self.rhythm_cost.or(base.rhythm_cost),
            harmony_cost: self.harmony_cost.or(base.harmony_cost),
            ..Default::default()
        }
    }
}
