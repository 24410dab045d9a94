//! Training hyper-parameters: one typed struct, saved beside every checkpoint, changeable on
//! resume (the change is logged), with Magenta's `--hparams "k=v,…"` syntax for overrides.

use crate::recipe::{HarmonyCost, Recipe, RhythmCost};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// Magenta's default: the base learning rate throughout.
    Constant,
    /// `lr · rate^(step / steps)`.
    Exponential { decay_rate: f64, decay_steps: u64 },
    /// Triangular cyclical learning rate (Smith 2017), as the seed project used: from `lower`
    /// up to `upper` in `step_size` steps and back down.
    Cyclical { lower: f64, upper: f64, step_size: u64 },
}

impl Schedule {
    pub fn learning_rate(&self, base: f64, step: u64) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Exponential { decay_rate, decay_steps } => {
                base * decay_rate.powf(step as f64 / decay_steps.max(1) as f64)
            }
            Schedule::Cyclical { lower, upper, step_size } => {
                let ss = step_size.max(1) as f64;
                let cycle = (1.0 + step as f64 / (2.0 * ss)).floor();
                let x = (step as f64 / ss - 2.0 * cycle + 1.0).abs();
                lower + (upper - lower) * (1.0 - x).max(0.0)
            }
        }
    }

    /// `--lr-decay rate=0.5,steps=2500`: the learning rate times `rate` every `steps` steps.
    pub fn parse_exponential(s: &str) -> Result<Schedule, String> {
        const WHAT: &str = "exponential decay";
        let kv = parse_kv(s)?;
        if let Some((k, _)) = kv.iter().find(|(k, _)| k != "rate" && k != "steps") {
            return Err(format!("{WHAT} takes rate=R,steps=N, not {k}"));
        }
        let (decay_rate, decay_steps) = (kv_value::<f64>(&kv, WHAT, "rate")?, kv_value::<u64>(&kv, WHAT, "steps")?);
        if !(decay_rate > 0.0 && decay_rate.is_finite() && decay_steps > 0) {
            return Err(format!(
                "{WHAT} needs a finite rate > 0 and steps > 0, got rate={decay_rate},steps={decay_steps}"
            ));
        }
        Ok(Schedule::Exponential { decay_rate, decay_steps })
    }

    /// `--clr lower=0.00025,upper=0.001,step_size=470`.
    pub fn parse_clr(s: &str) -> Result<Schedule, String> {
        const WHAT: &str = "the cyclical learning rate";
        let kv = parse_kv(s)?;
        if let Some((k, _)) = kv.iter().find(|(k, _)| !["lower", "upper", "step_size"].contains(&k.as_str())) {
            return Err(format!("{WHAT} takes lower=L,upper=U,step_size=N, not {k}"));
        }
        let (lower, upper) = (kv_value::<f64>(&kv, WHAT, "lower")?, kv_value::<f64>(&kv, WHAT, "upper")?);
        let step_size = kv_value::<u64>(&kv, WHAT, "step_size")?;
        if !(lower > 0.0 && upper >= lower && upper.is_finite() && step_size > 0) {
            return Err(format!("{WHAT} needs finite 0 < lower ≤ upper and step_size > 0, got {s}"));
        }
        Ok(Schedule::Cyclical { lower, upper, step_size })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HParams {
    pub batch_size: usize,
    /// Magenta's `dropout_keep_prob` on every layer's output (1.0 = no dropout).
    pub dropout_keep_prob: f32,
    pub learning_rate: f64,
    /// Each gradient tensor is clipped to this norm on its own (tf_slim's clip_gradient_norms).
    pub clip_norm: f32,
    /// Weight of Σ|w| over kernels and FC weights (not biases), added to the loss.
    pub l1: f64,
    /// Weight of Σw² over the same tensors.
    pub l2: f64,
    pub schedule: Schedule,
    /// The musical losses ([`Recipe::NONE`]: the original model). In `hparams.json` its four
    /// fields `rhythm_loss`, `harmony_loss`, `rhythm_cost`, `harmony_cost` sit beside the others.
    #[serde(flatten)]
    pub recipe: Recipe,
}

impl Default for HParams {
    /// Magenta's `performance_rnn` defaults.
    fn default() -> Self {
        HParams {
            batch_size: 64,
            dropout_keep_prob: 1.0,
            learning_rate: 0.001,
            clip_norm: 3.0,
            l1: 0.0,
            l2: 0.0,
            schedule: Schedule::Constant,
            recipe: Recipe::NONE,
        }
    }
}

/// The value of `key` in `kv` parsed as a `T`; the errors name `what` is being parsed.
fn kv_value<T: std::str::FromStr>(kv: &[(String, String)], what: &str, key: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    let v = kv.iter().find(|(k, _)| k == key).map(|(_, v)| v).ok_or_else(|| format!("{what} needs {key}=…"))?;
    v.parse::<T>().map_err(|e| format!("{what} {key}: {e}"))
}

fn parse_kv(s: &str) -> Result<Vec<(String, String)>, String> {
    // Split on commas outside brackets (rnn_layer_sizes=[64,64]).
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in s.chars().chain(std::iter::once(',')) {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            let item = cur.trim().to_string();
            cur.clear();
            if item.is_empty() {
                continue;
            }
            let (k, v) = item.split_once('=').ok_or_else(|| format!("'{item}' is not key=value"))?;
            out.push((k.trim().to_string(), v.trim().to_string()));
        } else {
            cur.push(ch);
        }
    }
    Ok(out)
}

/// Changes to [`HParams`], each field `None` = keep. Filled alike from Magenta's
/// `--hparams "k=v,…"` syntax ([`HParamsOverrides::parse`]) and from the single flags, then
/// applied to the defaults (a new run) or to a checkpoint's hyper-parameters (a resume).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HParamsOverrides {
    pub batch_size: Option<usize>,
    pub dropout_keep_prob: Option<f32>,
    pub learning_rate: Option<f64>,
    pub clip_norm: Option<f32>,
    pub l1: Option<f64>,
    pub l2: Option<f64>,
    pub schedule: Option<Schedule>,
    pub rhythm_loss: Option<f64>,
    pub harmony_loss: Option<f64>,
    pub rhythm_cost: Option<RhythmCost>,
    pub harmony_cost: Option<HarmonyCost>,
    /// Magenta's `rnn_layer_sizes`: it shapes the model, which only a run from scratch may
    /// choose, so it is returned by [`Self::apply`] rather than set.
    pub rnn_layer_sizes: Option<Vec<usize>>,
}

/// The fields [`HParamsOverrides`] shares with [`HParams`] outside its recipe, listed once:
/// `hparam_fields!(m)` expands to `m!(batch_size, …)`.
macro_rules! hparam_fields {
    ($m:ident) => {
        $m!(batch_size, dropout_keep_prob, learning_rate, clip_norm, l1, l2, schedule)
    };
}

/// The overrides of the recipe's four parts, listed once.
macro_rules! recipe_fields {
    ($m:ident) => {
        $m!(rhythm_loss, harmony_loss, rhythm_cost, harmony_cost)
    };
}

impl HParamsOverrides {
    /// Overrides that set all four of a recipe's fields.
    pub fn recipe(r: Recipe) -> Self {
        HParamsOverrides {
            rhythm_loss: Some(r.rhythm),
            harmony_loss: Some(r.harmony),
            rhythm_cost: Some(r.rhythm_cost),
            harmony_cost: Some(r.harmony_cost),
            ..Default::default()
        }
    }

    /// Magenta's `k=v,…` syntax (`rnn_layer_sizes=[64,64]` keeps its commas).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut o = HParamsOverrides::default();
        for (k, v) in parse_kv(s)? {
            let num = |v: &str| v.parse::<f64>().map_err(|e| format!("hparam {k}={v}: {e}"));
            let count = |v: &str| v.parse::<usize>().map_err(|e| format!("hparam {k}={v}: {e}"));
            match k.as_str() {
                "batch_size" => o.batch_size = Some(count(&v)?),
                "dropout_keep_prob" => o.dropout_keep_prob = Some(num(&v)? as f32),
                "learning_rate" => o.learning_rate = Some(num(&v)?),
                "clip_norm" => o.clip_norm = Some(num(&v)? as f32),
                "l1" | "l1_scale" => o.l1 = Some(num(&v)?),
                "l2" | "l2_scale" => o.l2 = Some(num(&v)?),
                "rhythm_loss" => o.rhythm_loss = Some(num(&v)?),
                "harmony_loss" => o.harmony_loss = Some(num(&v)?),
                "rhythm_cost" => o.rhythm_cost = Some(RhythmCost::parse(&v).ok_or_else(|| format!("hparam rhythm_cost={v}: known costs are {}", RhythmCost::NAMES.join(", ")))?),
                "harmony_cost" => o.harmony_cost = Some(HarmonyCost::parse(&v).ok_or_else(|| format!("hparam harmony_cost={v}: known costs are {}", HarmonyCost::NAMES.join(", ")))?),
                "rnn_layer_sizes" => {
                    let inner = v.trim().trim_start_matches('[').trim_end_matches(']');
                    o.rnn_layer_sizes = Some(inner.split(',').map(|x| x.trim().parse::<usize>().map_err(|e| format!("rnn_layer_sizes: {e}"))).collect::<Result<Vec<_>, _>>()?);
                }
                other => return Err(format!("unknown hparam '{other}' (known: batch_size, dropout_keep_prob, learning_rate, clip_norm, l1, l2, rhythm_loss, harmony_loss, rhythm_cost, harmony_cost, rnn_layer_sizes)")),
            }
        }
        Ok(o)
    }

    /// `later`'s set fields replace these (a single flag after `--hparams`).
    pub fn then(mut self, later: &HParamsOverrides) -> Self {
        macro_rules! take {
            ($($f:ident),*) => { $( if later.$f.is_some() { self.$f = later.$f.clone(); } )* };
        }
        hparam_fields!(take);
        recipe_fields!(take);
        take!(rnn_layer_sizes);
        self
    }

    /// `r` with each given part of the recipe laid over it.
    pub fn recipe_over(&self, r: Recipe) -> Recipe {
        Recipe {
            rhythm: self.rhythm_loss.unwrap_or(r.rhythm),
            harmony: self.harmony_loss.unwrap_or(r.harmony),
            rhythm_cost: self.rhythm_cost.unwrap_or(r.rhythm_cost),
            harmony_cost: self.harmony_cost.unwrap_or(r.harmony_cost),
            realism: r.realism,
        }
    }

    /// Sets every given field of `hp` and returns `rnn_layer_sizes`; when the result is
    /// invalid, `hp` is left as it was and the error says why.
    pub fn apply(&self, hp: &mut HParams) -> Result<Option<Vec<usize>>, String> {
        let mut new = hp.clone();
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { new.$f = v.clone(); } )* };
        }
        hparam_fields!(set);
        new.recipe = self.recipe_over(new.recipe);
        new.validate()?;
        *hp = new;
        Ok(self.rnn_layer_sizes.clone())
    }
}

impl HParams {
    /// [`HParamsOverrides::parse`] then [`HParamsOverrides::apply`].
    pub fn apply_overrides(&mut self, s: &str) -> Result<Option<Vec<usize>>, String> {
        HParamsOverrides::parse(s)?.apply(self)
    }

    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(x > 0)` also refuses NaN, on purpose
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size == 0 {
            return Err("batch_size must be at least 1".into());
        }
        if !(self.dropout_keep_prob > 0.0 && self.dropout_keep_prob <= 1.0) {
            return Err(format!("dropout_keep_prob must be in (0, 1], got {}", self.dropout_keep_prob));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(format!("learning_rate must be positive, got {}", self.learning_rate));
        }
        if !(self.clip_norm > 0.0) {
            return Err(format!("clip_norm must be positive, got {}", self.clip_norm));
        }
        for (n, v) in [
            ("l1", self.l1),
            ("l2", self.l2),
            ("rhythm_loss", self.recipe.rhythm),
            ("harmony_loss", self.recipe.harmony),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("{n} must be ≥ 0, got {v}"));
            }
        }
        Ok(())
    }

    /// Human-readable list of what differs from `old`, for the resume log.
    pub fn diff(&self, old: &HParams) -> Vec<String> {
        let a = serde_json::to_value(old).unwrap();
        let b = serde_json::to_value(self).unwrap();
        let mut out = Vec::new();
        if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
            for (k, vb) in b {
                if a.get(k) != Some(vb) {
                    out.push(format!("{k}: {} → {}", a.get(k).map(|v| v.to_string()).unwrap_or_default(), vb));
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopMode {
    /// Watch the eval loss, lower is better.
    Min,
    /// Watch the eval accuracy, higher is better.
    Max,
}

/// `--early-stop mode=min,target_loss=0.12,patience=10[,min_delta=0.001]` or
/// `mode=max,target_acc=0.9,patience=10`: on the eval set, patience counted in evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStop {
    pub mode: StopMode,
    pub target: Option<f64>,
    pub patience: usize,
    pub min_delta: f64,
}

impl EarlyStop {
    pub fn parse(s: &str) -> Result<EarlyStop, String> {
        let mut e = EarlyStop { mode: StopMode::Min, target: None, patience: 10, min_delta: 0.0 };
        for (k, v) in parse_kv(s)? {
            let num = |v: &str| match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                Ok(_) => Err(format!("early stopping {k}={v}: not a finite number")),
                Err(err) => Err(format!("early stopping {k}={v}: {err}")),
            };
            match k.as_str() {
                "mode" => {
                    e.mode = match v.as_str() {
                        "min" => StopMode::Min,
                        "max" => StopMode::Max,
                        _ => return Err(format!("early stopping: mode must be min or max, got {v}")),
                    }
                }
                "target_loss" | "target_acc" | "target_accuracy" | "target" => e.target = Some(num(&v)?),
                "patience" => {
                    e.patience = v.parse::<usize>().map_err(|_| {
                        format!("early stopping patience={v}: not a whole number of evaluations (0, 1, 2, …)")
                    })?
                }
                "min_delta" => {
                    e.min_delta = num(&v)?;
                    if e.min_delta < 0.0 {
                        return Err(format!("early stopping min_delta={v}: must be ≥ 0"));
                    }
                }
                other => {
                    return Err(format!(
                        "early stopping: unknown key '{other}' (mode, target_loss, target_acc, patience, min_delta)"
                    ))
                }
            }
        }
        Ok(e)
    }

    pub fn metric_name(&self) -> &'static str {
        match self.mode {
            StopMode::Min => "loss",
            StopMode::Max => "accuracy",
        }
    }

    /// Whether `value` beats `best` by more than `min_delta`.
    pub fn improves(&self, value: f64, best: Option<f64>) -> bool {
        match best {
            None => true,
            Some(b) => match self.mode {
                StopMode::Min => value < b - self.min_delta,
                StopMode::Max => value > b + self.min_delta,
            },
        }
    }

    pub fn reached_target(&self, value: f64) -> bool {
        match (self.target, self.mode) {
            (Some(t), StopMode::Min) => value <= t,
            (Some(t), StopMode::Max) => value >= t,
            (None, _) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every override reaches its field through `then` and `apply`. The struct literal names
    /// every field, so a new one that `hparam_fields!` lacks fails to compile here first.
    #[test]
    fn every_override_is_applied() {
        let all = HParamsOverrides {
            batch_size: Some(7),
            dropout_keep_prob: Some(0.7),
            learning_rate: Some(0.007),
            clip_norm: Some(7.0),
            l1: Some(0.07),
            l2: Some(0.7),
            schedule: Some(Schedule::Exponential { decay_rate: 0.7, decay_steps: 7 }),
            rhythm_loss: Some(0.7),
            harmony_loss: Some(0.07),
            rhythm_cost: Some(if HParams::default().recipe.rhythm_cost == RhythmCost::Emd {
                RhythmCost::Rps
            } else {
                RhythmCost::Emd
            }),
            harmony_cost: Some(if HParams::default().recipe.harmony_cost == HarmonyCost::Tension {
                HarmonyCost::Key
            } else {
                HarmonyCost::Tension
            }),
            rnn_layer_sizes: Some(vec![7]),
        };
        let merged = HParamsOverrides::default().then(&all);
        let mut hp = HParams::default();
        assert_eq!(merged.apply(&mut hp).unwrap(), Some(vec![7]));
        let changed = hp.diff(&HParams::default());
        assert_eq!(changed.len(), 11, "{changed:?}");
    }

    #[test]
    fn clr_is_triangular() {
        let s = Schedule::parse_clr("lower=0.00025,upper=0.001,step_size=470").unwrap();
        assert!((s.learning_rate(0.0, 0) - 0.00025).abs() < 1e-12);
        assert!((s.learning_rate(0.0, 470) - 0.001).abs() < 1e-12);
        assert!((s.learning_rate(0.0, 940) - 0.00025).abs() < 1e-12);
        assert!((s.learning_rate(0.0, 235) - 0.000625).abs() < 1e-12);
        assert!(Schedule::parse_clr("lower=1,upper=0.5,step_size=3").is_err());
        assert_eq!(
            Schedule::parse_exponential("rate=0.5, steps=2500").unwrap(),
            Schedule::Exponential { decay_rate: 0.5, decay_steps: 2500 }
        );
        for bad in
            ["rate=0.5", "steps=10", "rate=0.5,steps=10,x=1", "rate=-1,steps=10", "rate=0.5,steps=0", "rate=a,steps=1"]
        {
            assert!(Schedule::parse_exponential(bad).is_err(), "{bad}");
        }
        let e = Schedule::Exponential { decay_rate: 0.5, decay_steps: 10 };
        assert!((e.learning_rate(1.0, 20) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn hparams_overrides() {
        let mut h = HParams::default();
        let layers = h.apply_overrides("batch_size=48,rnn_layer_sizes=[64,64],dropout_keep_prob=0.5,l1=1e-5").unwrap();
        assert_eq!(layers, Some(vec![64, 64]));
        assert_eq!((h.batch_size, h.dropout_keep_prob, h.l1), (48, 0.5, 1e-5));
        assert!(h.apply_overrides("nope=1").is_err());
        assert!(h.apply_overrides("dropout_keep_prob=0").is_err());
        assert_eq!(h.dropout_keep_prob, 0.5, "a rejected override changes nothing");
        // A single flag after --hparams wins, whatever the order of the fields.
        let o = HParamsOverrides::parse("batch_size=8,learning_rate=0.01")
            .unwrap()
            .then(&HParamsOverrides { batch_size: Some(4), ..Default::default() });
        assert_eq!((o.batch_size, o.learning_rate), (Some(4), Some(0.01)));
        assert!(HParamsOverrides::parse("batch_size=2.5").is_err());
        h.apply_overrides("rhythm_loss=0.5,rhythm_cost=rps").unwrap();
        assert_eq!(h.recipe.rhythm_cost, RhythmCost::Rps);
        assert!(h.apply_overrides("rhythm_cost=l2").unwrap_err().contains("emd, rps, ratio, elapsed, grid"));
        h.apply_overrides("rhythm_cost=elapsed,harmony_cost=key").unwrap();
        assert_eq!((h.recipe.rhythm_cost, h.recipe.harmony_cost), (RhythmCost::Elapsed, HarmonyCost::Key));
        assert!(h.apply_overrides("harmony_cost=chord").unwrap_err().contains("tension, key"));
        // An hparams.json without a cost reads as the first cost of its kind.
        let mut v = serde_json::to_value(HParams::default()).unwrap();
        v.as_object_mut().unwrap().remove("rhythm_cost");
        assert_eq!(serde_json::from_value::<HParams>(v).unwrap().recipe.rhythm_cost, RhythmCost::Emd);
        let old = HParams::default();
        assert!(h.diff(&old).iter().any(|d| d.starts_with("l1:")));
    }

    #[test]
    fn early_stop_parse_and_rules() {
        let e = EarlyStop::parse("mode=min,target_loss=0.12,patience=10").unwrap();
        assert_eq!((e.mode, e.target, e.patience), (StopMode::Min, Some(0.12), 10));
        assert!(e.improves(1.0, Some(1.1)) && !e.improves(1.2, Some(1.1)));
        assert!(e.reached_target(0.1) && !e.reached_target(0.2));
        let m = EarlyStop::parse("mode=max,target_acc=0.9,patience=3,min_delta=0.01").unwrap();
        assert!(m.improves(0.52, Some(0.5)) && !m.improves(0.505, Some(0.5)));
        assert!(EarlyStop::parse("mode=sideways").is_err());
    }

    /// Negative, fractional, infinite and NaN values are refused, naming the key and the value.
    #[test]
    fn parsers_refuse_nonsense() {
        for bad in ["patience=-1", "patience=2.5", "patience=NaN", "min_delta=-0.1", "min_delta=NaN", "target_loss=NaN"]
        {
            let e = EarlyStop::parse(&format!("mode=min,{bad}")).unwrap_err();
            assert!(e.contains(bad), "{bad}: {e}");
        }
        assert_eq!(EarlyStop::parse("mode=min,patience=0,min_delta=0").unwrap().patience, 0);
        for bad in
            ["rate=NaN,steps=10", "rate=inf,steps=10", "rate=-0.5,steps=10", "rate=0.5,steps=-1", "rate=0,steps=1"]
        {
            assert!(Schedule::parse_exponential(bad).is_err(), "{bad}");
        }
        for bad in [
            "lower=NaN,upper=1,step_size=3",
            "lower=-1,upper=1,step_size=3",
            "lower=0.1,upper=inf,step_size=3",
            "lower=0.1,upper=NaN,step_size=3",
            "lower=0.1,upper=1,step_size=-3",
            "lower=0.1,upper=1,step_size=0",
            "lower=0.1,upper=1,step_size=3,rate=2",
        ] {
            assert!(Schedule::parse_clr(bad).is_err(), "{bad}");
        }
    }
}
