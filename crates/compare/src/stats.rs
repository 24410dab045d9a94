//! The verdict's statistics: a paired, two-level bootstrap over training seeds × samples.
//!
//! Both arms of a comparison are trained from the same K seeds (seed k gives both models the
//! same initial weights, data order and dropout stream) and sample the same N sample seeds, so
//! `original[k][i]` and `modified[k][i]` are a pair. One bootstrap replicate draws K seeds with
//! replacement and, inside each drawn seed, N samples with replacement, the same draws for both
//! arms, and computes the statistic on the resampled arms. The 95 % interval is the 2.5th and
//! 97.5th percentile of 10,000 replicates (percentile bootstrap). Seeds are resampled as well
//! as samples because the seed-to-seed spread of training is the larger part of the noise: a
//! verdict from one training seed is an anecdote however many samples it draws.
//!
//! A metric is called *better* or *worse* only when its interval excludes 0; otherwise there
//! is *no clear difference*.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Replicates drawn for every interval.
pub const BOOTSTRAP_REPLICATES: usize = 10_000;
/// Seed of the bootstrap's own random stream (the intervals are reproducible).
pub const BOOTSTRAP_SEED: u64 = 0x0C0FFEE;

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Higher,
    Lower,
    /// Closer to the reference music's mean (the value itself moving is not a gain).
    Toward(f64),
}

/// The verdict on one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    NoClearDifference,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoClearDifference => "no clear difference",
        }
    }
}

/// A 95 % percentile-bootstrap interval around a point estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Interval {
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// One metric, both arms: the difference modified − original and, for [`Goal::Toward`], the
/// gain `|original − ref| − |modified − ref|` (positive = the modified model is closer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    pub metric: String,
    pub goal: Goal,
    pub original: f64,
    pub modified: f64,
    /// modified − original.
    pub difference: Interval,
    /// For `Toward`: the gain toward the reference; else the difference signed so that
    /// positive is better.
    pub improvement: Interval,
    pub verdict: Verdict,
    /// Seeds and samples per seed that entered (pairs with a value in both arms).
    pub seeds: usize,
    pub samples: usize,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    cadenza_evaluate::quantile_of_sorted(sorted, q)
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    s / n as f64
}

/// Keeps the pairs where both arms have a value; seeds left with no pair are dropped.
fn pairs(original: &[Vec<Option<f64>>], modified: &[Vec<Option<f64>>]) -> Vec<Vec<(f64, f64)>> {
    original
        .iter()
        .zip(modified)
        .map(|(o, m)| {
            o.iter()
                .zip(m)
                .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect::<Vec<_>>()
        })
        .filter(|s: &Vec<(f64, f64)>| !s.is_empty())
        .collect()
}

/// The paired two-level bootstrap of one metric. `original[k][i]` is sample `i` of the model
/// trained with seed `k` (one value per seed for per-model numbers such as eval NLL). `None`
/// when no pair has a value in both arms.
pub fn compare_metric(
    metric: &str,
    goal: Goal,
    original: &[Vec<Option<f64>>],
    modified: &[Vec<Option<f64>>],
) -> Option<MetricVerdict> {
    compare_metric_with(metric, goal, original, modified, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED)
}

pub fn compare_metric_with(
    metric: &str,
    goal: Goal,
    original: &[Vec<Option<f64>>],
    modified: &[Vec<Option<f64>>],
    replicates: usize,
    seed: u64,
) -> Option<MetricVerdict> {
    compare_metric_folds(metric, &[FoldValues { goal, original, modified }], replicates, seed)
}

/// One held-out fold's values of a metric for [`compare_metric_folds`]: `[seed][sample]` per
/// arm, and which way is better against this fold's own reference music.
#[derive(Debug, Clone, Copy)]
pub struct FoldValues<'a> {
    pub goal: Goal,
    pub original: &'a [Vec<Option<f64>>],
    pub modified: &'a [Vec<Option<f64>>],
}

/// The paired bootstrap over held-out folds × training seeds × samples. Each fold is a
/// comparison on its own eval pieces (its own reference: a [`Goal::Toward`] is measured
/// against the fold's reference); the statistic is the mean over folds of each fold's
/// difference and improvement. A replicate draws F folds with replacement, then inside each
/// drawn fold K seeds and N samples as [`compare_metric`] does, so the interval covers the
/// choice of held-out pieces as well as the training seeds and the samples. With one fold no
/// fold is drawn and the result is [`compare_metric_with`]'s, bit for bit. With few folds the
/// percentile interval is optimistic (resampling F folds sees about (F − 1)/F of their spread);
/// read it beside the per-fold verdicts.
///
/// In the result, `original` and `modified` are the means over folds, `seeds` counts the seeds
/// of all folds, and a `Toward` goal carries the mean of the folds' references.
pub fn compare_metric_folds(metric: &str, folds: &[FoldValues], replicates: usize, seed: u64) -> Option<MetricVerdict> {
    let folds: Vec<(Goal, Vec<Vec<(f64, f64)>>)> =
        folds.iter().map(|f| (f.goal, pairs(f.original, f.modified))).filter(|(_, p)| !p.is_empty()).collect();
    if folds.is_empty() {
        return None;
    }
    // Each seed weighs the same whatever its count of valid samples: the mean of seed means.
    let arm_means = |p: &[Vec<(f64, f64)>], draw: &[(usize, Vec<usize>)]| -> (f64, f64) {
        let o = mean(draw.iter().map(|(k, idx)| mean(idx.iter().map(|&i| p[*k][i].0))));
        let m = mean(draw.iter().map(|(k, idx)| mean(idx.iter().map(|&i| p[*k][i].1))));
        (o, m)
    };
    let stats = |goal: Goal, o: f64, m: f64| -> (f64, f64) {
        let d = m - o;
        let imp = match goal {
            Goal::Higher => d,
            Goal::Lower => -d,
            Goal::Toward(r) => (o - r).abs() - (m - r).abs(),
        };
        (d, imp)
    };
    // Point estimates: every fold, seed and sample once.
    let (mut o0, mut m0, mut d0, mut i0) = (0.0, 0.0, 0.0, 0.0);
    for (goal, p) in &folds {
        let full: Vec<(usize, Vec<usize>)> = p.iter().enumerate().map(|(k, s)| (k, (0..s.len()).collect())).collect();
        let (o, m) = arm_means(p, &full);
        let (d, i) = stats(*goal, o, m);
        (o0, m0, d0, i0) = (o0 + o, m0 + m, d0 + d, i0 + i);
    }
    let nf = folds.len() as f64;
    let (o0, m0, d0, i0) = (o0 / nf, m0 / nf, d0 / nf, i0 / nf);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ds = Vec::with_capacity(replicates);
    let mut is = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        let (mut dsum, mut isum) = (0.0, 0.0);
        for slot in 0..folds.len() {
            let (goal, p) = if folds.len() == 1 { &folds[slot] } else { &folds[rng.gen_range(0..folds.len())] };
            let k = p.len();
            let draw: Vec<(usize, Vec<usize>)> = (0..k)
                .map(|_| {
                    let s = rng.gen_range(0..k);
                    let n = p[s].len();
                    (s, (0..n).map(|_| rng.gen_range(0..n)).collect())
                })
                .collect();
            let (o, m) = arm_means(p, &draw);
            let (d, i) = stats(*goal, o, m);
            (dsum, isum) = (dsum + d, isum + i);
        }
        ds.push(dsum / nf);
        is.push(isum / nf);
    }
    ds.sort_by(f64::total_cmp);
    is.sort_by(f64::total_cmp);
    let difference = Interval { estimate: d0, lo: percentile(&ds, 0.025), hi: percentile(&ds, 0.975) };
    let improvement = Interval { estimate: i0, lo: percentile(&is, 0.025), hi: percentile(&is, 0.975) };
    let verdict = if improvement.lo > 0.0 {
        Verdict::Better
    } else if improvement.hi < 0.0 {
        Verdict::Worse
    } else {
        Verdict::NoClearDifference
    };
    let goal = match folds[0].0 {
        Goal::Toward(_) => {
            Goal::Toward(mean(folds.iter().map(|(g, _)| if let Goal::Toward(r) = g { *r } else { f64::NAN })))
        }
        g => g,
    };
    Some(MetricVerdict {
        metric: metric.to_string(),
        goal,
        original: o0,
        modified: m0,
        difference,
        improvement,
        verdict,
        seeds: folds.iter().map(|(_, p)| p.len()).sum(),
        samples: folds.iter().flat_map(|(_, p)| p.iter().map(Vec::len)).max().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(v: &[&[f64]]) -> Vec<Vec<Option<f64>>> {
        v.iter().map(|s| s.iter().map(|&x| Some(x)).collect()).collect()
    }

    /// A constructed case whose answer is known in closed form: with one seed and a constant
    /// shift, every replicate's difference is exactly the shift.
    #[test]
    fn constant_shift_gives_a_point_interval() {
        let o = arm(&[&[1.0, 2.0, 3.0, 4.0]]);
        let m = arm(&[&[1.5, 2.5, 3.5, 4.5]]);
        let v = compare_metric("x", Goal::Higher, &o, &m).unwrap();
        assert!((v.difference.estimate - 0.5).abs() < 1e-12);
        assert!((v.difference.lo - 0.5).abs() < 1e-12 && (v.difference.hi - 0.5).abs() < 1e-12);
        assert_eq!(v.verdict, Verdict::Better);
        assert_eq!(compare_metric("x", Goal::Lower, &o, &m).unwrap().verdict, Verdict::Worse);
    }

    /// The interval of a mean difference of iid noise has the width the normal theory gives:
    /// two seeds of 200 pairs with unit-variance differences and mean 0.3 → the standard error
    /// of the mean of seed means is about 1/√400 = 0.05, so the 95 % interval is about
    /// 0.3 ± 0.098 and excludes 0; with mean 0 it covers 0.
    #[test]
    fn interval_width_matches_the_standard_error() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut draw = |shift: f64| {
            let mut o = Vec::new();
            let mut m = Vec::new();
            for _ in 0..2 {
                let (mut so, mut sm) = (Vec::new(), Vec::new());
                for _ in 0..200 {
                    // Sum of 12 uniforms − 6: mean 0, variance 1.
                    let z: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
                    so.push(Some(0.0));
                    sm.push(Some(shift + z));
                }
                o.push(so);
                m.push(sm);
            }
            (o, m)
        };
        let (o, m) = draw(0.3);
        let v = compare_metric("x", Goal::Higher, &o, &m).unwrap();
        let half = (v.difference.hi - v.difference.lo) / 2.0;
        // Two seeds resampled too: the between-seed part adds a little; allow 0.06..0.14.
        assert!(half > 0.06 && half < 0.14, "half width {half}");
        assert_eq!(v.verdict, Verdict::Better);
        let (o, m) = draw(0.0);
        let v = compare_metric("x", Goal::Higher, &o, &m).unwrap();
        assert!(v.difference.lo < 0.0 && v.difference.hi > 0.0, "{:?}", v.difference);
        assert_eq!(v.verdict, Verdict::NoClearDifference);
    }

    /// Moving away from the reference is worse even when the value goes up: the report's old
    /// star followed the overlap area and called 66 better than 54.75 against a reference 32.4.
    #[test]
    fn toward_the_reference_is_what_counts() {
        let o = arm(&[&[54.0, 55.0, 55.5, 54.5], &[54.0, 55.5, 55.0, 54.5]]);
        let m = arm(&[&[65.0, 66.0, 67.0, 66.0], &[66.0, 65.5, 66.5, 66.0]]);
        let v = compare_metric("pitch_range", Goal::Toward(32.4), &o, &m).unwrap();
        assert!(v.difference.estimate > 10.0);
        assert_eq!(v.verdict, Verdict::Worse);
        let v = compare_metric("pitch_range", Goal::Toward(32.4), &m, &o).unwrap();
        assert_eq!(v.verdict, Verdict::Better);
    }

    /// Seed-to-seed spread counts: two seeds that disagree in sign leave no clear difference
    /// even with many samples each.
    #[test]
    fn disagreeing_seeds_give_no_clear_difference() {
        let o = arm(&[&[0.0; 50], &[0.0; 50]]);
        let m = arm(&[&[1.0; 50], &[-1.0; 50]]);
        let v = compare_metric("x", Goal::Higher, &o, &m).unwrap();
        assert_eq!(v.verdict, Verdict::NoClearDifference);
        assert!(v.difference.lo <= -0.99 && v.difference.hi >= 0.99);
    }

    #[test]
    fn missing_values_are_dropped_pairwise() {
        let o = vec![vec![Some(1.0), None, Some(3.0)]];
        let m = vec![vec![Some(2.0), Some(9.0), None]];
        let v = compare_metric("x", Goal::Higher, &o, &m).unwrap();
        assert_eq!(v.samples, 1);
        assert!((v.difference.estimate - 1.0).abs() < 1e-12);
        assert!(compare_metric("x", Goal::Higher, &[vec![None]], &[vec![Some(1.0)]]).is_none());
    }

    /// One fold is the plain comparison, bit for bit (the committed verdict tables reproduce).
    #[test]
    fn one_fold_is_the_plain_comparison() {
        let o = arm(&[&[0.1, 0.5, 0.2, 0.9], &[0.3, 0.3, 0.8, 0.1], &[0.6, 0.2, 0.4, 0.4]]);
        let m = arm(&[&[0.4, 0.6, 0.1, 0.9], &[0.5, 0.2, 0.9, 0.3], &[0.9, 0.2, 0.7, 0.5]]);
        for goal in [Goal::Higher, Goal::Lower, Goal::Toward(0.45)] {
            let plain = compare_metric("x", goal, &o, &m).unwrap();
            let folds = [FoldValues { goal, original: &o, modified: &m }];
            let pooled = compare_metric_folds("x", &folds, BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED).unwrap();
            assert_eq!(plain, pooled);
        }
    }

    /// The same constant shift in every fold: a point interval at the shift. Folds that agree
    /// in sign pool to a clear verdict; folds that disagree leave none, however tight each is.
    #[test]
    fn folds_pool_and_their_spread_counts() {
        let o = arm(&[&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]]);
        let up = arm(&[&[1.5, 2.5, 3.5], &[2.5, 3.5, 4.5]]);
        let down = arm(&[&[0.5, 1.5, 2.5], &[1.5, 2.5, 3.5]]);
        let fold = |m| FoldValues { goal: Goal::Higher, original: &o, modified: m };
        let v = compare_metric_folds("x", &[fold(&up), fold(&up), fold(&up)], 2000, 1).unwrap();
        assert!((v.difference.estimate - 0.5).abs() < 1e-12);
        assert!((v.difference.lo - 0.5).abs() < 1e-12 && (v.difference.hi - 0.5).abs() < 1e-12);
        assert_eq!((v.verdict, v.seeds), (Verdict::Better, 6));
        let v = compare_metric_folds("x", &[fold(&up), fold(&down), fold(&up), fold(&down)], 2000, 1).unwrap();
        assert!(v.difference.estimate.abs() < 1e-12);
        assert!(v.difference.lo <= -0.25 && v.difference.hi >= 0.25, "{:?}", v.difference);
        assert_eq!(v.verdict, Verdict::NoClearDifference);
    }

    /// Each fold is measured against its own reference: the modified model sits on fold A's
    /// reference (10) and on fold B's (0), the original away from both, so it is better in both,
    /// though its pooled mean (5) is no nearer the folds' mean reference (5) than the original's.
    #[test]
    fn each_fold_has_its_own_reference() {
        let oa = arm(&[&[12.0, 12.0]]);
        let ma = arm(&[&[10.0, 10.0]]);
        let ob = arm(&[&[-2.0, -2.0]]);
        let mb = arm(&[&[0.0, 0.0]]);
        let folds = [
            FoldValues { goal: Goal::Toward(10.0), original: &oa, modified: &ma },
            FoldValues { goal: Goal::Toward(0.0), original: &ob, modified: &mb },
        ];
        let v = compare_metric_folds("x", &folds, 2000, 1).unwrap();
        assert!((v.improvement.estimate - 2.0).abs() < 1e-12 && (v.improvement.lo - 2.0).abs() < 1e-12);
        assert_eq!(v.verdict, Verdict::Better);
        assert_eq!(v.goal, Goal::Toward(5.0));
        assert!((v.original - 5.0).abs() < 1e-12 && (v.modified - 5.0).abs() < 1e-12);
    }
}
