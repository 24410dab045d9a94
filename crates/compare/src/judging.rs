//! The untargeted judge in a comparison: every arm's samples against the real music's files
//! (each sample's log-odds becomes a verdict row), with the two anchors of its scale: the floor
//! (real music against real music) and the ceiling (the initial model sampled too hot).

use crate::evaluate::ArmRuns;
use crate::event::CompareEvent;
use crate::summary::{ComparisonJudge, JudgeAnchor};
use crate::{rule, CompareOptions};
use cadenza_generate::GenerateOptions;
use cadenza_judge::{Item, JudgeOptions};
use cadenza_model::Weights;
use std::collections::BTreeSet;

/// The judge's settings in a comparison: windows as long as a sample when samples are shorter
/// than the default window.
fn judge_options(o: &CompareOptions) -> JudgeOptions {
    let d = JudgeOptions::default();
    JudgeOptions { window_seconds: d.window_seconds.min(o.num_steps as f64 / 100.0), seed: o.seed, ..d }
}

/// The distinct groups (pieces, or samples) of some items.
fn pieces(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(|i| i.group.clone()).collect()
}

/// One anchor: `samples` against `reference` by the judge's logistic regression, no
/// permutations, with as many folds as the smaller side's groups allow (at most the judge's).
fn anchor(name: &str, samples: &[Item], reference: &[Item], jo: &JudgeOptions) -> Result<JudgeAnchor, String> {
    let folds = jo.folds.min(pieces(samples).len()).min(pieces(reference).len()).max(2);
    let opts = JudgeOptions { permutations: 0, folds, ..jo.clone() };
    let r = cadenza_judge::judge(samples, reference, &opts, &mut |_, _| {}).map_err(|e| format!("{name}: {e}"))?;
    let c = &r.classifiers[0];
    Ok(JudgeAnchor { name: name.into(), auc: c.auc, interval: c.interval })
}

/// Is this file a score (MusicXML) rather than a performance?
fn is_score(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".xml") || n.ends_with(".musicxml") || n.ends_with(".mxl")
}

/// The real music the judge compares with: the eval pieces' own files, or, when the eval
/// split has fewer pieces than the judge has folds (the demo holds out two), every piece of
/// the dataset. When it is all scores, the features no score has (dynamics, articulation) are
/// left out of `jo`. What it had to change goes into `notes`.
fn real_music(o: &CompareOptions, jo: &mut JudgeOptions, notes: &mut Vec<String>) -> Result<Vec<Item>, String> {
    let mut reference = cadenza_judge::dataset_items(&o.dataset, "eval")
        .map_err(|e| format!("the judge cannot read the eval pieces' files: {e}"))?;
    if pieces(&reference).len() < jo.folds {
        match cadenza_judge::dataset_items(&o.dataset, "train") {
            Ok(train) => {
                notes.push(format!(
                    "the eval split has {} pieces, fewer than the judge's {} folds: the real music is every piece of the dataset",
                    pieces(&reference).len(),
                    jo.folds
                ));
                reference.extend(train);
            }
            Err(e) => notes.push(format!("the training pieces' files: {e}")),
        }
    }
    if reference.iter().all(|i| is_score(&i.name)) {
        jo.exclude_features = cadenza_judge::PERFORMANCE_FEATURES.iter().map(|s| s.to_string()).collect();
        notes.push(format!(
            "the real music is scores: the judge leaves out what no score has ({})",
            cadenza_judge::PERFORMANCE_FEATURES.join(", ")
        ));
    }
    Ok(reference)
}

/// Floor: the real music's pieces in two halves (alternating in name order), one against the
/// other.
fn floor(reference: &[Item], jo: &JudgeOptions) -> Result<JudgeAnchor, String> {
    let all: Vec<String> = pieces(reference).into_iter().collect();
    let half_a: BTreeSet<&String> = all.iter().step_by(2).collect();
    let (a, b): (Vec<Item>, Vec<Item>) = reference.iter().cloned().partition(|i| half_a.contains(&i.group));
    anchor("floor: the real music's pieces, one half against the other", &a, &b, jo)
}

/// Ceiling: the initial model sampled at temperature 1.5 against the real music.
fn ceiling(o: &CompareOptions, init: &Weights, reference: &[Item], jo: &JudgeOptions) -> Result<JudgeAnchor, String> {
    let g = GenerateOptions {
        num_steps: o.num_steps,
        temperature: 1.5,
        num_outputs: o.samples.max(jo.folds),
        seed: o.sample_seed,
        note_events: o.note_events,
        ..Default::default()
    };
    let hot = cadenza_generate::generate(init, &g, false).map_err(|e| format!("ceiling: {e}"))?;
    let items: Vec<Item> = hot
        .into_iter()
        .enumerate()
        .map(|(i, s)| Item { name: format!("hot#{i}"), group: format!("hot#{i}"), sequence: s.sequence })
        .collect();
    anchor("ceiling: the initial model at temperature 1.5", &items, reference, jo)
}

/// Runs the judge on every arm (inserting each sample's log-odds into its run's
/// `sample_values`) and on the anchors. What cannot run becomes a note, not an error; when the
/// judge cannot run at all, `on_event` hears why and there is no judgement.
pub(crate) fn run_judge(
    o: &CompareOptions,
    arms: &mut [ArmRuns],
    init_weights: Option<&Weights>,
    on_event: &mut dyn FnMut(CompareEvent),
) -> Option<ComparisonJudge> {
    let mut jo = judge_options(o);
    let mut notes = Vec::new();
    let reference = match real_music(o, &mut jo, &mut notes) {
        Ok(r) => r,
        Err(why) => {
            on_event(CompareEvent::NoJudge(why));
            return None;
        }
    };
    on_event(CompareEvent::Judging { arms: arms.len(), files: reference.len() });
    let input: Vec<cadenza_judge::arms::ArmSamples> =
        arms.iter().map(|a| (a.arm.name().to_string(), a.runs.iter().map(|r| r.sequences.clone()).collect())).collect();
    let judged = match cadenza_judge::arms::judge_arms(&input, &reference, &jo) {
        Ok(j) => j,
        Err(e) => {
            on_event(CompareEvent::NoJudge(format!("the judge could not run: {e}")));
            return None;
        }
    };
    for (a, lo) in arms.iter_mut().zip(&judged.log_odds) {
        for (run, values) in a.runs.iter_mut().zip(lo) {
            run.sample_values.insert(rule::JUDGE_METRIC.to_string(), values.clone());
        }
    }
    let floor = floor(&reference, &jo).map_err(|e| notes.push(e)).ok();
    let ceiling = init_weights.and_then(|w| ceiling(o, w, &reference, &jo).map_err(|e| notes.push(e)).ok());
    let config = init_weights.map_or(cadenza_performance::Config::PerformanceWithDynamics, |w| w.config.config);
    let drift = arms.iter().map(|a| (a.arm.name().to_string(), arm_drift(o, a, &reference, config))).collect();
    Some(ComparisonJudge { arms: judged, floor, ceiling, notes, drift })
}

/// How an arm's samples part from the eval pieces over the samples' time (5 s slices), every
/// sample its own group.
fn arm_drift(
    o: &CompareOptions,
    arm: &ArmRuns,
    reference: &[Item],
    config: cadenza_performance::Config,
) -> cadenza_judge::drift::DriftReport {
    let samples: Vec<Item> = arm
        .runs
        .iter()
        .flat_map(|r| r.sequences.iter())
        .enumerate()
        .map(|(i, s)| Item {
            name: format!("{}#{i}", arm.arm.name()),
            group: format!("{}#{i}", arm.arm.name()),
            sequence: s.clone(),
        })
        .collect();
    let seconds = (o.num_steps as f64 / 100.0).clamp(5.0, 60.0);
    let opts =
        cadenza_judge::drift::DriftOptions { slice_seconds: 5.0, total_seconds: seconds, bootstrap: 200, seed: o.seed };
    cadenza_judge::drift::drift(&samples, reference, None, config, &opts)
}
