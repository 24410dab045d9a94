//! Training each arm's runs, and reusing the finished ones: a run is reused only when it was
//! asked for with the same settings (its `variant.json`), resumed from its checkpoint when it
//! stopped half-way, and trained otherwise.

use crate::error::{bail, Ctx, Result};
use crate::event::{CompareEvent, RunLabel};
use crate::{Arm, CompareOptions};
use cadenza_train::{HParamsOverrides, HarmonyCost, Recipe, RhythmCost, TrainOptions};
use std::path::{Path, PathBuf};

/// A model an arm is measured on: its best checkpoint (or a given model) and the step it
/// reached (`None` for a given model).
#[derive(Debug, Clone)]
pub(crate) struct TrainedModel {
    pub model: PathBuf,
    pub steps: Option<u64>,
}

/// Both fine-tunes of one training seed.
#[derive(Debug, Clone)]
pub(crate) struct SeedRuns {
    pub seed: u64,
    pub original: TrainedModel,
    pub modified: TrainedModel,
}

/// `OUT/{arm}/seed_{seed}`: one training seed's run and settings (the original arm's under
/// `original_from`, the modified arm's under `modified_from`, when set).
pub(crate) fn seed_folder(o: &CompareOptions, arm: Arm, seed: u64) -> PathBuf {
    match (&o.original_from, &o.modified_from, arm) {
        (Some(dir), _, Arm::Original) | (_, Some(dir), Arm::Modified) => {
            dir.join(arm.name()).join(format!("seed_{seed}"))
        }
        _ => o.out.join(arm.name()).join(format!("seed_{seed}")),
    }
}

/// Where one seed's samples of `arm` land: its run's folder, but this comparison's own for a
/// modified arm (decoded or taken from another comparison, its samples are this one's).
pub(crate) fn samples_folder(o: &CompareOptions, arm: Arm, seed: u64) -> PathBuf {
    match arm {
        Arm::Modified => o.out.join(arm.name()).join(format!("seed_{seed}")),
        _ => seed_folder(o, arm, seed),
    }
}

/// Every seed's original and modified model: given, reused, resumed or trained.
pub(crate) fn train_all(o: &CompareOptions, on_event: &mut dyn FnMut(CompareEvent)) -> Result<Vec<SeedRuns>> {
    let mut trained = Vec::new();
    for seed in o.training_seeds() {
        let mut model = |arm: Arm, given: &Option<PathBuf>| match given {
            Some(p) => Ok(TrainedModel { model: p.clone(), steps: None }),
            None => train_variant(o, arm, seed, arm.recipe(o), on_event),
        };
        let original = model(Arm::Original, &o.original_model)?;
        let modified = match &o.modified_model {
            None if o.recipe.realism => realism_variant(o, seed, &original.model, on_event)?,
            // A decoding alone: the modified arm is the original models, decoded.
            None if !o.recipe.any() => original.clone(),
            given => model(Arm::Modified, given)?,
        };
        trained.push(SeedRuns { seed, original, modified });
    }
    Ok(trained)
}

/// The costs a run's record names: those of the parts that are on, when not the first cost of
/// their kind (so records that name no cost keep matching the runs they describe).
pub(crate) fn named_costs(r: Recipe) -> (Option<RhythmCost>, Option<HarmonyCost>) {
    (
        (r.rhythm > 0.0 && r.rhythm_cost != RhythmCost::Emd).then_some(r.rhythm_cost),
        (r.harmony > 0.0 && r.harmony_cost != HarmonyCost::Tension).then_some(r.harmony_cost),
    )
}

/// What a run was asked to be (`variant.json`): a finished or half-done run is reused only for
/// the same request, so changing a loss weight or the init never silently reuses the old model.
fn variant_record(o: &CompareOptions, recipe: Recipe, seed: u64) -> serde_json::Value {
    let mut variant = serde_json::json!({
        "dataset": o.dataset.display().to_string(),
        "init": o.init.as_ref().map(|p| p.display().to_string()),
        "layers": o.layers,
        "hparams": o.hparams,
        "rhythm_loss": recipe.rhythm,
        "harmony_loss": recipe.harmony,
        "seed": seed,
    });
    let (rhythm_cost, harmony_cost) = named_costs(recipe);
    if let Some(c) = rhythm_cost {
        variant["rhythm_cost"] = c.name().into();
    }
    if let Some(c) = harmony_cost {
        variant["harmony_cost"] = c.name().into();
    }
    variant
}

/// Trains (or resumes, or reuses) one run of `arm` with `recipe` and returns its best model.
fn train_variant(
    o: &CompareOptions,
    arm: Arm,
    seed: u64,
    recipe: Recipe,
    on_event: &mut dyn FnMut(CompareEvent),
) -> Result<TrainedModel> {
    let label = RunLabel { arm, seed: Some(seed) };
    let run_dir = seed_folder(o, arm, seed).join("run");
    let variant = variant_record(o, recipe, seed);
    let variant_path = seed_folder(o, arm, seed).join("variant.json");
    same_request(&variant_path, &variant, &run_dir, &arm.to_string())?;
    let stop: Option<cadenza_train::StopInfo> =
        std::fs::read(run_dir.join("stop.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let best = run_dir.join("best");
    if let Some(s) = &stop {
        let early = s.reason.is_early_stop();
        if (s.step >= o.steps || early) && best.join("model.json").is_file() {
            on_event(CompareEvent::Reusing { run: label, dir: run_dir.clone(), step: s.step });
            return Ok(TrainedModel { model: best, steps: Some(s.step) });
        }
    }
    let resume = run_dir.join("checkpoint.json").is_file();
    let overrides = HParamsOverrides::parse(&o.hparams)
        .map_err(|e| crate::error::CompareError::Setup(format!("hyper-parameters '{}': {e}", o.hparams)))?
        .then(&HParamsOverrides::recipe(recipe));
    let topts = TrainOptions {
        dataset: o.dataset.clone(),
        run_dir: run_dir.clone(),
        init: o.init.clone(),
        layers: o.layers.clone(),
        overrides,
        steps: o.steps,
        eval_every: o.eval_every,
        summary_every: (o.eval_every / 5).max(1),
        checkpoint_every: o.eval_every,
        eval_examples: o.eval_examples,
        seed,
        resume,
        progress: o.progress,
        device: o.device,
        cancel: o.cancel.clone(),
        on_event: o.train_events.clone(),
        ..Default::default()
    };
    std::fs::create_dir_all(variant_path.parent().unwrap_or(&o.out))
        .ctx(|| format!("cannot create {}", run_dir.display()))?;
    cadenza_atomic::write_json(&variant_path, &variant).ctx(|| format!("cannot write {}", variant_path.display()))?;
    on_event(CompareEvent::Training { run: label, steps: o.steps, recipe, resume });
    let info = cadenza_train::train(&topts).ctx(|| format!("training the {arm} model in {}", run_dir.display()))?;
    if info.reason.is_interrupted() {
        bail!("{arm}: training interrupted at step {}; run the same command again to resume", info.step);
    }
    if !best.join("model.json").is_file() {
        bail!("{arm}: the run has no best checkpoint (is the dataset's eval split empty?)");
    }
    Ok(TrainedModel { model: best, steps: Some(info.step) })
}

/// The realism arm of one seed: that seed's original model trained on its own samples
/// (`cadenza-realism`), rewarded by a critic and held near the original by the KL; reused when
/// finished. Its model is `best/` (the latest evaluation within the NLL budget), else the last
/// checkpoint.
fn realism_variant(
    o: &CompareOptions,
    seed: u64,
    original: &Path,
    on_event: &mut dyn FnMut(CompareEvent),
) -> Result<TrainedModel> {
    let label = RunLabel { arm: Arm::Modified, seed: Some(seed) };
    let folder = seed_folder(o, Arm::Modified, seed);
    let run_dir = folder.join("run");
    let variant = serde_json::json!({
        "dataset": o.dataset.display().to_string(),
        "original": original.display().to_string(),
        "realism": o.realism_hparams,
        "steps": o.realism_steps,
        "seed": seed,
    });
    let variant_path = folder.join("variant.json");
    same_request(&variant_path, &variant, &run_dir, "realism")?;
    let stop: Option<cadenza_realism::RealismStop> =
        std::fs::read(run_dir.join("stop.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let finished = stop.as_ref().is_some_and(|s| s.step >= o.realism_steps && !s.interrupted);
    if !finished {
        std::fs::create_dir_all(&folder).ctx(|| format!("cannot create {}", folder.display()))?;
        cadenza_atomic::write_json(&variant_path, &variant)
            .ctx(|| format!("cannot write {}", variant_path.display()))?;
        let resume = run_dir.join("checkpoint.json").is_file();
        on_event(CompareEvent::Training { run: label, steps: o.realism_steps, recipe: o.recipe, resume });
        let ro = cadenza_realism::RealismOptions {
            dataset: o.dataset.clone(),
            init: original.to_path_buf(),
            run_dir: run_dir.clone(),
            steps: o.realism_steps,
            eval_every: (o.realism_steps / 5).max(1),
            checkpoint_every: (o.realism_steps / 5).max(1),
            keep_last: 2,
            eval_examples: o.eval_examples,
            seed,
            resume,
            hparams: o.realism_hparams.clone(),
            cancel: o.cancel.clone(),
        };
        let s = cadenza_realism::train_realism(&ro, &mut |_| {})
            .ctx(|| format!("training the realism model in {}", run_dir.display()))?;
        if s.interrupted {
            bail!("realism: training interrupted at step {}; run the same command again to resume", s.step);
        }
    } else {
        on_event(CompareEvent::Reusing { run: label, dir: run_dir.clone(), step: o.realism_steps });
    }
    let model = cadenza_realism::result_model(&run_dir)
        .map_err(|e| crate::error::CompareError::Setup(format!("realism: {e}")))?;
    Ok(TrainedModel { model, steps: Some(o.realism_steps) })
}

/// Refuses a run folder whose `variant.json` records another request than `variant`: a finished
/// or half-done run is reused only for the same one.
fn same_request(variant_path: &Path, variant: &serde_json::Value, run_dir: &Path, what: &str) -> Result<()> {
    if let Some(old) =
        std::fs::read(variant_path).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    {
        if &old != variant {
            bail!("{} holds a {what} run made with other settings ({old}); pass another output folder, or remove that one to retrain", run_dir.display());
        }
    }
    Ok(())
}
