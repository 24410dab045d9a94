//! The judge of a comparison: several arms (base, original, modified), each `[run][sample]`,
//! against one real reference, with one classifier for all of them so their scores share a
//! scale.
//!
//! A logistic regression is cross-validated on every arm's windows (generated) against the
//! reference's (real), groups held out whole (a sample; a real piece). Each arm then gets:
//! * its AUC against the reference, from the held-out scores of its windows and the
//!   reference's, with a bootstrap interval over groups;
//! * each sample's mean held-out log-odds of "generated" ([`ArmsJudgement::log_odds`]): a
//!   per-sample realism score (lower = more like the real music) that pairs sample for sample
//!   across arms, so the comparison's paired bootstrap gives its difference an interval;
//! * the Fréchet distance to the reference and the features that separate it most.
//!
//! The difference of two arms' AUCs gets a paired bootstrap interval: the reference's groups
//! resampled, and the arms' (run, sample) pairs resampled together.

use crate::classify::{self, Classifier, CvSettings, Table};
use crate::{features, FeatureGap, Item, JudgeError, JudgeOptions, SideSummary};
use cadenza_notes::NoteSequence;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One arm's judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmJudgement {
    pub name: String,
    /// Windows of the arm that entered.
    pub windows: usize,
    /// Held-out AUC of the arm's windows against the reference's (0.5: cannot tell).
    pub auc: f64,
    /// 95 % bootstrap interval over groups.
    pub interval: [f64; 2],
    /// At the ceiling (≥ 0.95): read the log-odds and the Fréchet distance instead.
    pub saturated: bool,
    /// Mean held-out log-odds of "generated" over the arm's windows.
    pub mean_log_odds: f64,
    /// Fréchet distance to the reference, features standardised by the reference's.
    pub frechet: f64,
    /// The five features that separate the arm from the reference most.
    pub separating: Vec<FeatureGap>,
}

/// A difference of two arms' AUCs with its paired bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaAuc {
    /// `minuend − subtrahend`, by arm name.
    pub minuend: String,
    pub subtrahend: String,
    pub estimate: f64,
    pub interval: [f64; 2],
}

/// The judgement of every arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmsJudgement {
    pub options: JudgeOptions,
    pub reference: SideSummary,
    pub arms: Vec<ArmJudgement>,
    /// `[arm][run][sample]`: the sample's mean held-out log-odds (`None`: no full window).
    pub log_odds: Vec<Vec<Vec<Option<f64>>>>,
    /// The last arm's AUC minus the one before it (modified − original), when both are paired.
    pub delta_auc: Option<DeltaAuc>,
}

/// One arm's samples: `[run][sample]`, the same shape in every arm that is paired.
pub type ArmSamples = (String, Vec<Vec<NoteSequence>>);

/// Judges every arm against `reference` (see the module documentation).
pub fn judge_arms(arms: &[ArmSamples], reference: &[Item], opts: &JudgeOptions) -> Result<ArmsJudgement, JudgeError> {
    opts.check()?;
    let kept = opts.kept();
    let (xr, gr, rs) = crate::side_rows(reference, opts, 0);
    if rs.groups < opts.folds.max(2) {
        return Err(JudgeError::TooFew {
            side: "reference",
            groups: rs.groups,
            seconds: opts.window_seconds,
            min_notes: opts.min_notes,
            needed: opts.folds.max(2),
        });
    }
    let (t, origin, arm_groups) = pooled_table(arms, &xr, &gr, rs.groups, opts, &kept);
    if arm_groups < opts.folds.max(2) {
        return Err(JudgeError::TooFew {
            side: "samples",
            groups: arm_groups,
            seconds: opts.window_seconds,
            min_notes: opts.min_notes,
            needed: opts.folds.max(2),
        });
    }
    let settings = CvSettings { folds: opts.folds.max(2), alpha: opts.alpha, trees: opts.trees };
    let scores = classify::cv_scores(&t, &t.group_classes(), Classifier::Logistic, settings, opts.seed)
        .map_err(JudgeError::Fit)?;
    let pooled = Pooled { t, origin, scores };

    let log_odds = sample_log_odds(arms, &pooled);
    let scale = crate::ReferenceScale::of(&xr, &kept);
    let mut results = Vec::new();
    for (a, (name, _)) in arms.iter().enumerate() {
        results.push(judge_arm(&pooled, a, name, &scale, opts)?);
    }
    let delta_auc = paired_delta_auc(arms, &pooled, rs.groups, opts);
    Ok(ArmsJudgement { options: opts.clone(), reference: rs, arms: results, log_odds, delta_auc })
}

/// Every arm's windows and the reference's in one table, with their held-out scores.
struct Pooled {
    t: Table,
    /// Per row: the arm and (run, sample) it came from; `None` for the reference.
    origin: Vec<Option<(usize, usize, usize)>>,
    /// Held-out log-odds of "generated", per row.
    scores: Vec<f64>,
}

/// The reference's rows (groups from 0) and then every arm's windows, one group per sample
/// (at most `max_windows_per_group` windows each, evenly spaced); returns the table, each
/// row's origin and the number of samples (the arms' groups, a sample without windows too).
fn pooled_table(
    arms: &[ArmSamples],
    xr: &[Vec<f64>],
    gr: &[usize],
    ref_groups: usize,
    opts: &JudgeOptions,
    kept: &[usize],
) -> (Table, Vec<Option<(usize, usize, usize)>>, usize) {
    let mut t = Table::default();
    let mut origin: Vec<Option<(usize, usize, usize)>> = Vec::new();
    for (x, g) in xr.iter().zip(gr) {
        t.x.push(x.clone());
        t.generated.push(false);
        t.group.push(*g);
        origin.push(None);
    }
    let mut next_group = ref_groups;
    for (a, (_, runs)) in arms.iter().enumerate() {
        for (r, samples) in runs.iter().enumerate() {
            for (i, seq) in samples.iter().enumerate() {
                let w = features::windows(seq, opts.window_seconds, opts.min_notes);
                let k = opts.max_windows_per_group.max(1).min(w.len());
                for j in 0..k {
                    t.x.push(crate::window_row(&w[j * w.len() / k], opts, kept));
                    t.generated.push(true);
                    t.group.push(next_group);
                    origin.push(Some((a, r, i)));
                }
                next_group += 1;
            }
        }
    }
    (t, origin, next_group - ref_groups)
}

/// `[arm][run][sample]`: each sample's mean held-out log-odds (`None`: no full window).
fn sample_log_odds(arms: &[ArmSamples], p: &Pooled) -> Vec<Vec<Vec<Option<f64>>>> {
    let mut log_odds: Vec<Vec<Vec<Option<f64>>>> =
        arms.iter().map(|(_, runs)| runs.iter().map(|s| vec![None; s.len()]).collect()).collect();
    let mut sums: Vec<Vec<Vec<(f64, usize)>>> =
        arms.iter().map(|(_, runs)| runs.iter().map(|s| vec![(0.0, 0); s.len()]).collect()).collect();
    for (o, s) in p.origin.iter().zip(&p.scores) {
        if let Some((a, r, i)) = *o {
            sums[a][r][i].0 += s;
            sums[a][r][i].1 += 1;
        }
    }
    for (a, runs) in sums.iter().enumerate() {
        for (r, samples) in runs.iter().enumerate() {
            for (i, &(s, n)) in samples.iter().enumerate() {
                log_odds[a][r][i] = (n > 0).then(|| s / n as f64);
            }
        }
    }
    log_odds
}

/// Arm `a` against the reference: its AUC from the held-out scores of its rows and the
/// reference's, with a bootstrap interval, its mean log-odds, Fréchet distance and the
/// features that separate it most.
fn judge_arm(
    p: &Pooled,
    a: usize,
    name: &str,
    scale: &crate::ReferenceScale,
    opts: &JudgeOptions,
) -> Result<ArmJudgement, JudgeError> {
    let (t, origin, scores) = (&p.t, &p.origin, &p.scores);
    let rows: Vec<usize> = (0..t.x.len()).filter(|&k| origin[k].is_none_or(|(b, _, _)| b == a)).collect();
    let sub = Table {
        x: rows.iter().map(|&k| t.x[k].clone()).collect(),
        generated: rows.iter().map(|&k| t.generated[k]).collect(),
        group: rows.iter().map(|&k| t.group[k]).collect(),
    };
    let sub = renumber(sub);
    let sub_scores: Vec<f64> = rows.iter().map(|&k| scores[k]).collect();
    let xa: Vec<Vec<f64>> = rows.iter().filter(|&&k| origin[k].is_some()).map(|&k| t.x[k].clone()).collect();
    if xa.len() < 2 {
        return Err(JudgeError::Fit(format!("{name}: fewer than two windows of {} s", opts.window_seconds)));
    }
    let auc = classify::auc(&sub_scores, &sub.generated);
    let gen_scores: Vec<f64> = rows.iter().filter(|&&k| origin[k].is_some()).map(|&k| scores[k]).collect();
    let mut separating = scale.separating(&xa);
    separating.truncate(5);
    Ok(ArmJudgement {
        name: name.to_string(),
        windows: xa.len(),
        auc,
        interval: classify::bootstrap_auc(&sub, &sub_scores, opts.bootstrap, opts.seed ^ (0xa5 + a as u64)),
        saturated: auc >= 0.95,
        mean_log_odds: gen_scores.iter().sum::<f64>() / gen_scores.len() as f64,
        frechet: scale.frechet(&xa)?,
        separating,
    })
}

/// The paired ΔAUC of the last two arms (modified − original) when both have the same
/// `[run][sample]` shape: the reference's groups resampled, and the arms' (run, sample)
/// pairs resampled together.
fn paired_delta_auc(arms: &[ArmSamples], p: &Pooled, ref_groups: usize, opts: &JudgeOptions) -> Option<DeltaAuc> {
    if arms.len() < 2 {
        return None;
    }
    let (t, origin, scores) = (&p.t, &p.origin, &p.scores);
    let (a1, a0) = (arms.len() - 1, arms.len() - 2);
    let shape_ok =
        arms[a1].1.len() == arms[a0].1.len() && arms[a1].1.iter().zip(&arms[a0].1).all(|(x, y)| x.len() == y.len());
    if !shape_ok {
        return None;
    }
    let auc_of = |arm: usize, ref_w: &[f64], pair_w: &dyn Fn(usize, usize) -> f64| -> f64 {
        let mut w = vec![0.0; t.x.len()];
        for k in 0..t.x.len() {
            w[k] = match origin[k] {
                None => ref_w[t.group[k]],
                Some((b, r, i)) if b == arm => pair_w(r, i),
                Some(_) => 0.0,
            };
        }
        classify::auc_weighted(scores, &t.generated, &w)
    };
    let ones = vec![1.0; ref_groups];
    let estimate = auc_of(a1, &ones, &|_, _| 1.0) - auc_of(a0, &ones, &|_, _| 1.0);
    let pairs: Vec<(usize, usize)> =
        arms[a1].1.iter().enumerate().flat_map(|(r, s)| (0..s.len()).map(move |i| (r, i))).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0xde17a);
    let mut reps = Vec::with_capacity(opts.bootstrap);
    for _ in 0..opts.bootstrap {
        let mut ref_w = vec![0.0; ref_groups];
        for _ in 0..ref_groups {
            ref_w[rng.gen_range(0..ref_groups)] += 1.0;
        }
        let mut mult = std::collections::HashMap::<(usize, usize), f64>::new();
        for _ in 0..pairs.len() {
            *mult.entry(pairs[rng.gen_range(0..pairs.len())]).or_default() += 1.0;
        }
        let pw = |r: usize, i: usize| mult.get(&(r, i)).copied().unwrap_or(0.0);
        reps.push(auc_of(a1, &ref_w, &pw) - auc_of(a0, &ref_w, &pw));
    }
    Some(DeltaAuc {
        minuend: arms[a1].0.clone(),
        subtrahend: arms[a0].0.clone(),
        estimate,
        interval: [classify::quantile(&reps, 0.025), classify::quantile(&reps, 0.975)],
    })
}

/// The table's groups renumbered 0..n in order of appearance.
fn renumber(mut t: Table) -> Table {
    let mut map = std::collections::HashMap::new();
    for g in t.group.iter_mut() {
        let n = map.len();
        *g = *map.entry(*g).or_insert(n);
    }
    t
}
