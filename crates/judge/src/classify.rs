//! The classifier two-sample test (Lopez-Paz & Oquab, ICLR 2017): how well a classifier, fitted
//! on some groups and scored on the others, tells generated windows from real ones.
//!
//! * Grouped, stratified k-fold cross-validation: all the windows of one group (a real piece, a
//!   generated sample) fall in one fold, so a classifier never recognises a piece it has seen.
//! * The AUC of the held-out scores of every window, pooled over the folds.
//! * Its null: the same pipeline with the labels permuted between groups. With few groups a
//!   grouped cross-validation lands below 0.5 on identical distributions (holding a group out
//!   moves its class's training mean away from it: anti-learning), so the AUC is read against
//!   this band, not against 0.5.
//! * A 95 % interval by bootstrap over groups (each class resampled on its own), of the AUC of
//!   the held-out scores.
//!
//! The classifiers come from `smartcore`: an L2-regularised logistic regression on features
//! standardised on each training fold, and a random forest (each tree one of smartcore's
//! random-forest trees, with its bootstrap and its √d features per split; the forest's score is
//! the share of trees that vote "generated", which smartcore's forest does not return).

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

/// Which classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Classifier {
    /// L2-regularised logistic regression on standardised features.
    Logistic,
    /// A random forest.
    Forest,
}

impl Classifier {
    pub const ALL: [Classifier; 2] = [Classifier::Logistic, Classifier::Forest];

    pub fn name(self) -> &'static str {
        match self {
            Classifier::Logistic => "logistic",
            Classifier::Forest => "forest",
        }
    }
}

/// Windows as rows: features, class (true = generated) and group.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub x: Vec<Vec<f64>>,
    pub generated: Vec<bool>,
    pub group: Vec<usize>,
}

impl Table {
    /// The class of each group (groups are numbered 0..n, each of one class).
    pub fn group_classes(&self) -> Vec<bool> {
        let n = self.group.iter().max().map_or(0, |g| g + 1);
        let mut c = vec![false; n];
        for (&g, &y) in self.group.iter().zip(&self.generated) {
            c[g] = y;
        }
        c
    }
}

/// The settings of one cross-validation.
#[derive(Debug, Clone, Copy)]
pub struct CvSettings {
    pub folds: usize,
    /// The logistic regression's L2 penalty.
    pub alpha: f64,
    pub trees: usize,
}

/// A fold for each group: each class's groups shuffled and dealt round-robin, so every fold
/// holds groups of both classes when each class has at least `folds` groups.
fn fold_of_groups(classes: &[bool], folds: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut fold = vec![0; classes.len()];
    for class in [false, true] {
        let mut ids: Vec<usize> = (0..classes.len()).filter(|&g| classes[g] == class).collect();
        ids.shuffle(rng);
        for (i, g) in ids.into_iter().enumerate() {
            fold[g] = i % folds;
        }
    }
    fold
}

fn standardiser(rows: &[&Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let d = rows.first().map_or(0, |r| r.len());
    let n = rows.len().max(1) as f64;
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let sd: Vec<f64> = (0..d)
        .map(|j| {
            let s = (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt();
            if s > 1e-12 {
                s
            } else {
                1.0
            }
        })
        .collect();
    (mean, sd)
}

fn matrix(rows: Vec<Vec<f64>>) -> Result<DenseMatrix<f64>, String> {
    DenseMatrix::from_2d_vec(&rows).map_err(|e| e.to_string())
}

/// Scores (higher = more likely generated) of `test` by `classifier` fitted on `train`.
fn fit_and_score(
    classifier: Classifier,
    train: &[&Vec<f64>],
    y: &[bool],
    test: &[&Vec<f64>],
    s: CvSettings,
    seed: u64,
) -> Result<Vec<f64>, String> {
    let (mean, sd) = standardiser(train);
    let z = |r: &Vec<f64>| -> Vec<f64> { r.iter().enumerate().map(|(j, v)| (v - mean[j]) / sd[j]).collect() };
    let xt = matrix(train.iter().map(|r| z(r)).collect())?;
    let xs: Vec<Vec<f64>> = test.iter().map(|r| z(r)).collect();
    let yi: Vec<i32> = y.iter().map(|&b| b as i32).collect();
    match classifier {
        Classifier::Logistic => {
            let lr = LogisticRegression::fit(&xt, &yi, LogisticRegressionParameters::default().with_alpha(s.alpha))
                .map_err(|e| e.to_string())?;
            let (w, b) = (lr.coefficients(), *lr.intercept().get((0, 0)));
            // Binary: the decision value is the log-odds of classes[1] = 1 (generated).
            Ok(xs.iter().map(|r| b + r.iter().enumerate().map(|(j, v)| v * *w.get((0, j))).sum::<f64>()).collect())
        }
        Classifier::Forest => {
            let d = xs.first().map_or(1, |r| r.len());
            let m = ((d as f64).sqrt().round() as usize).max(1);
            let xm = matrix(xs)?;
            let mut votes = vec![0.0f64; test.len()];
            for t in 0..s.trees.max(1) {
                let p = RandomForestClassifierParameters::default()
                    .with_n_trees(1)
                    .with_m(m)
                    .with_seed(seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
                let f = RandomForestClassifier::fit(&xt, &yi, p).map_err(|e| e.to_string())?;
                let pred: Vec<i32> = f.predict(&xm).map_err(|e| e.to_string())?;
                for (v, p) in votes.iter_mut().zip(pred) {
                    *v += p as f64;
                }
            }
            Ok(votes.into_iter().map(|v| v / s.trees.max(1) as f64).collect())
        }
    }
}

/// The held-out score of every row under grouped cross-validation with `classes` as each
/// group's class (the table's own, or permuted).
pub fn cv_scores(
    t: &Table,
    classes: &[bool],
    classifier: Classifier,
    s: CvSettings,
    seed: u64,
) -> Result<Vec<f64>, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fold = fold_of_groups(classes, s.folds, &mut rng);
    let mut scores = vec![f64::NAN; t.x.len()];
    for k in 0..s.folds {
        let (mut train, mut y, mut test, mut at) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (r, &g)) in t.x.iter().zip(&t.group).enumerate() {
            if fold[g] == k {
                test.push(r);
                at.push(i);
            } else {
                train.push(r);
                y.push(classes[g]);
            }
        }
        if test.is_empty() {
            continue;
        }
        if !(y.contains(&true) && y.contains(&false)) {
            return Err(format!("fold {k} trains on one class only: too few groups for {} folds", s.folds));
        }
        let sc = fit_and_score(classifier, &train, &y, &test, s, seed.wrapping_add(k as u64))?;
        for (i, v) in at.into_iter().zip(sc) {
            scores[i] = v;
        }
    }
    Ok(scores)
}

/// The area under the ROC curve of `scores` for `positive` (the Mann–Whitney U over both
/// classes' rows, ties counted half), with each row weighted by `weight`.
pub fn auc_weighted(scores: &[f64], positive: &[bool], weight: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).filter(|&i| weight[i] > 0.0).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut below_neg, mut u) = (0.0f64, 0.0f64);
    let (mut wp, mut wn) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        let (mut tie_p, mut tie_n) = (0.0, 0.0);
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            let r = idx[j];
            if positive[r] {
                tie_p += weight[r];
            } else {
                tie_n += weight[r];
            }
            j += 1;
        }
        u += tie_p * (below_neg + 0.5 * tie_n);
        below_neg += tie_n;
        wp += tie_p;
        wn += tie_n;
        i = j;
    }
    if wp == 0.0 || wn == 0.0 {
        return f64::NAN;
    }
    u / (wp * wn)
}

/// [`auc_weighted`] with every row weighing 1.
pub fn auc(scores: &[f64], positive: &[bool]) -> f64 {
    auc_weighted(scores, positive, &vec![1.0; scores.len()])
}

/// The `q` quantile of the finite values of `v` ([`cadenza_evaluate::quantile`]); NaN when
/// there are none.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    cadenza_evaluate::quantile(v, q).unwrap_or(f64::NAN)
}

/// A 95 % percentile interval of the AUC of fixed held-out scores, by resampling each class's
/// groups with replacement.
pub fn bootstrap_auc(t: &Table, scores: &[f64], reps: usize, seed: u64) -> [f64; 2] {
    let classes = t.group_classes();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let by_class: Vec<Vec<usize>> =
        [false, true].iter().map(|&c| (0..classes.len()).filter(|&g| classes[g] == c).collect()).collect();
    let mut aucs = Vec::with_capacity(reps);
    for _ in 0..reps {
        let mut mult = vec![0.0f64; classes.len()];
        for ids in &by_class {
            for _ in 0..ids.len() {
                mult[ids[rng.gen_range(0..ids.len())]] += 1.0;
            }
        }
        let w: Vec<f64> = t.group.iter().map(|&g| mult[g]).collect();
        aucs.push(auc_weighted(scores, &t.generated, &w));
    }
    [quantile(&aucs, 0.025), quantile(&aucs, 0.975)]
}

/// The groups' classes permuted (each class keeps its number of groups).
pub fn permuted(classes: &[bool], rng: &mut ChaCha8Rng) -> Vec<bool> {
    let mut c = classes.to_vec();
    c.shuffle(rng);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values computed with scikit-learn 1.9.1 `roc_auc_score` (ties and weights included):
    /// `roc_auc_score([0,0,1,1,0,1], [0.1,0.4,0.35,0.8,0.4,0.4])` = 0.6666666666666667 and
    /// with `sample_weight=[1,2,1,1,1,3]` = 0.625 (by hand: 12.5 of 20 weighted pairs).
    #[test]
    fn auc_agrees_with_scikit_learn() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        let y = [false, false, true, true, false, true];
        assert!((auc(&s, &y) - 0.6666666666666667).abs() < 1e-12);
        let w = [1.0, 2.0, 1.0, 1.0, 1.0, 3.0];
        assert!((auc_weighted(&s, &y, &w) - 0.625).abs() < 1e-12);
    }

    #[test]
    fn folds_keep_groups_whole_and_both_classes_in_each() {
        let classes: Vec<bool> = (0..23).map(|g| g % 3 == 0).collect();
        let fold = fold_of_groups(&classes, 5, &mut ChaCha8Rng::seed_from_u64(1));
        for k in 0..5 {
            assert!((0..23).any(|g| fold[g] == k && classes[g]) && (0..23).any(|g| fold[g] == k && !classes[g]));
        }
    }

    /// Two well-separated Gaussian clouds: both classifiers find them (AUC near 1); the same
    /// cloud for both classes: near 0.5.
    #[test]
    fn classifiers_separate_what_differs_and_not_what_does_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for shift in [3.0, 0.0] {
            let mut t = Table::default();
            for g in 0..40 {
                let gen = g % 2 == 1;
                for _ in 0..5 {
                    let mut r: Vec<f64> = (0..6).map(|_| rng.gen_range(-1.0..1.0)).collect();
                    if gen {
                        r[2] += shift;
                    }
                    t.x.push(r);
                    t.generated.push(gen);
                    t.group.push(g);
                }
            }
            let s = CvSettings { folds: 5, alpha: 1.0, trees: 30 };
            for c in Classifier::ALL {
                let sc = cv_scores(&t, &t.group_classes(), c, s, 7).unwrap();
                let a = auc(&sc, &t.generated);
                if shift > 0.0 {
                    assert!(a > 0.95, "{} AUC {a} on separated clouds", c.name());
                } else {
                    assert!((a - 0.5).abs() < 0.15, "{} AUC {a} on one cloud", c.name());
                }
            }
        }
    }
}
