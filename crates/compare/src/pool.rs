//! `cadenza pool`: one verdict from comparisons run on different held-out folds.
//!
//! A comparison's intervals cover its training seeds and its samples, not the choice of its
//! eval pieces: with 20 pieces split 90:10 the reference is two pieces, and a verdict found on
//! them may be theirs alone. Run the same recipe on other folds of the split by piece
//! (`cadenza demo --fold F`, `cadenza dataset --fold F`: folds never share an eval piece), then
//! pool them here. Each metric's difference modified − original is averaged over folds, every
//! fold against its own reference music, with a paired bootstrap over folds × seeds × samples
//! ([`stats::compare_metric_folds`]); each fold's own verdict is listed beside it.
//!
//! The comparisons must be the same experiment (same init, layers, steps, hyper-parameters,
//! loss weights, samples and sampler) on different data: anything else is refused, naming the
//! file and the setting, as is the same fold given twice.

use crate::error::{bail, Ctx, Result};
use crate::stats::{self, FoldValues, Interval, MetricVerdict, Verdict};
use crate::{verdict_metrics, CompareOptions, ComparisonReport};
use cadenza_train::{HParamsOverrides, Recipe};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One fold as the pooled result lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldSummary {
    /// The comparison's `comparison.json`.
    pub comparison: PathBuf,
    pub dataset: PathBuf,
    pub dataset_fingerprint: String,
    /// The fold's held-out pieces (from the dataset's `split.json`, when it is still there).
    pub eval_pieces: Vec<String>,
    /// The dataset's cross-validation fold (`cadenza dataset --fold`, from its `dataset.json`,
    /// when it is still there); the table names the fold by it.
    #[serde(default)]
    pub split_fold: Option<usize>,
    pub reference_sequences: usize,
    pub seeds: usize,
    pub samples: usize,
    /// The fold's eval NLL cost of the modified model, (modified − original) ÷ original.
    pub eval_nll_relative_cost: f64,
    /// The fold's own verdicts (as its `comparison.json` has them).
    pub verdicts: Vec<MetricVerdict>,
}

/// One metric over all folds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PooledVerdict {
    /// Pooled over folds × seeds × samples.
    pub pooled: MetricVerdict,
    /// Folds whose own interval calls the modified model better, and worse.
    pub folds_better: usize,
    pub folds_worse: usize,
    /// Folds with a verdict on this metric.
    pub folds: usize,
}

/// The judge's ΔAUC (modified − original) over folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledDeltaAuc {
    /// Each fold's ΔAUC with its paired bootstrap interval, in the folds' order (`None`: that
    /// fold's judge gave none).
    pub folds: Vec<Option<cadenza_judge::arms::DeltaAuc>>,
    /// The mean over the folds that have one, with a 95 % interval from their intervals taken
    /// as independent normal errors (each half-width / 1.96 a standard error): the folds hold
    /// out different pieces, so their errors are independent; the interval is as good as the
    /// normal reading of each fold's bootstrap.
    pub estimate: f64,
    pub interval: [f64; 2],
    /// Folds whose own interval lies above 0 (the modified samples easier to tell from the
    /// real music) and below it.
    pub folds_easier: usize,
    pub folds_harder: usize,
}

/// Pools the folds' ΔAUCs ([`PooledDeltaAuc`]); `None` when no fold has one.
pub fn pool_delta_auc(folds: Vec<Option<cadenza_judge::arms::DeltaAuc>>) -> Option<PooledDeltaAuc> {
    let have: Vec<&cadenza_judge::arms::DeltaAuc> = folds.iter().flatten().collect();
    if have.is_empty() {
        return None;
    }
    let k = have.len() as f64;
    let estimate = have.iter().map(|d| d.estimate).sum::<f64>() / k;
    let var: f64 = have.iter().map(|d| ((d.interval[1] - d.interval[0]) / (2.0 * 1.96)).powi(2)).sum::<f64>() / (k * k);
    let half = 1.96 * var.sqrt();
    Some(PooledDeltaAuc {
        estimate,
        interval: [estimate - half, estimate + half],
        folds_easier: have.iter().filter(|d| d.interval[0] > 0.0).count(),
        folds_harder: have.iter().filter(|d| d.interval[1] < 0.0).count(),
        folds,
    })
}

/// `pooled.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PooledComparison {
    pub folds: Vec<FoldSummary>,
    pub verdicts: Vec<PooledVerdict>,
    /// The modified model's eval NLL cost, pooled: the eval NLL difference's interval ÷ the
    /// original's pooled eval NLL.
    pub eval_nll_relative_cost: Option<Interval>,
    /// The recipe every fold's modified model trained with.
    #[serde(flatten)]
    pub recipe: Recipe,
    pub replicates: usize,
    /// The verdict rule on the pooled verdicts ([`crate::rule`]; the judge by its per-sample
    /// log-odds, pooled like the other rows).
    #[serde(default)]
    pub headline: Option<crate::rule::Headline>,
    /// The judge's ΔAUC over folds (reported beside the rule, which reads the log-odds row).
    #[serde(default)]
    pub delta_auc: Option<PooledDeltaAuc>,
}

/// `DIR` or `DIR/comparison.json` → the file.
fn comparison_file(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join("comparison.json")
    } else {
        p.to_path_buf()
    }
}

/// The eval pieces of a dataset, from its `split.json` (empty when it cannot be read).
fn eval_pieces(dataset: &Path) -> Vec<String> {
    let Ok(entries) = cadenza_dataset::read_split(dataset) else { return Vec::new() };
    let set: BTreeSet<String> = entries.into_iter().filter(|e| e.split == "eval").map(|e| e.piece).collect();
    set.into_iter().collect()
}

/// The cross-validation fold a dataset was split with, from its `dataset.json` (`None` when
/// it cannot be read).
fn split_fold(dataset: &Path) -> Option<usize> {
    let bytes = std::fs::read(dataset.join("dataset.json")).ok()?;
    serde_json::from_slice::<cadenza_dataset::Manifest>(&bytes).ok().map(|m| m.options.fold)
}

/// The settings two folds of one experiment share: the model, its training, its recipe and
/// its sampler.
struct Experiment<'a> {
    config: &'a str,
    layers: &'a [usize],
    options: &'a CompareOptions,
}

/// A setting two experiments do not share: its name, and its value in each.
struct Difference {
    name: &'static str,
    this: String,
    other: String,
}

/// Hyper-parameters as written, equal when they set the same values.
struct HParams<'a> {
    text: &'a str,
    values: HParamsOverrides,
}

impl<'a> HParams<'a> {
    fn of(o: &'a CompareOptions) -> Result<Self, String> {
        let values =
            HParamsOverrides::parse(&o.hparams).map_err(|e| format!("hyper-parameters '{}': {e}", o.hparams))?;
        Ok(HParams { text: &o.hparams, values })
    }
}

impl PartialEq for HParams<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

/// `Some(Difference)` when `a` and `b` differ, each shown by `show`.
fn differ<T: PartialEq + ?Sized>(name: &'static str, a: &T, b: &T, show: impl Fn(&T) -> String) -> Option<Difference> {
    (a != b).then(|| Difference { name, this: show(a), other: show(b) })
}

impl<'a> Experiment<'a> {
    fn of(r: &'a ComparisonReport) -> Self {
        Experiment { config: &r.config, layers: &r.layers, options: &r.options }
    }

    /// The first setting in which `other` differs from this experiment. Hyper-parameters
    /// compare as the values they set (in any order), the recipe as losses.
    fn difference(&self, other: &Experiment) -> Result<Option<Difference>, String> {
        let (a, b) = (self.options, other.options);
        let (ha, hb) = (HParams::of(a)?, HParams::of(b)?);
        let text = |s: &str| s.to_string();
        let init = |p: &Option<PathBuf>| p.as_ref().map_or("none (from scratch)".into(), |p| p.display().to_string());
        Ok(differ("config", self.config, other.config, text)
            .or_else(|| differ("layers", self.layers, other.layers, |l| format!("{l:?}")))
            .or_else(|| differ("init", &a.init, &b.init, init))
            .or_else(|| differ("steps", &a.steps, &b.steps, u64::to_string))
            .or_else(|| differ("hparams", &ha, &hb, |h| h.text.to_string()))
            .or_else(|| {
                differ("recipe (rhythm_loss, harmony_loss, rhythm_cost, harmony_cost)", &a.recipe, &b.recipe, |r| {
                    r.spec()
                })
            })
            .or_else(|| differ("samples", &a.samples, &b.samples, usize::to_string))
            .or_else(|| differ("num_steps", &a.num_steps, &b.num_steps, u32::to_string))
            .or_else(|| differ("temperature", &a.temperature, &b.temperature, f64::to_string))
            .or_else(|| differ("sample_seed", &a.sample_seed, &b.sample_seed, u64::to_string))
            .or_else(|| differ("note_events", &a.note_events, &b.note_events, |n| format!("{n:?}"))))
    }
}

/// One fold's comparison: its file and what it says.
struct Fold {
    file: PathBuf,
    report: ComparisonReport,
}

/// Reads the comparisons, refusing another experiment or the same data twice.
fn read_folds(comparisons: &[PathBuf]) -> Result<Vec<Fold>> {
    let mut folds: Vec<Fold> = Vec::new();
    for c in comparisons {
        let file = comparison_file(c);
        let bytes = std::fs::read(&file).ctx(|| format!("cannot read {}", file.display()))?;
        let r: ComparisonReport = serde_json::from_slice(&bytes)
            .ctx(|| format!("{} is not a comparison.json of this Cadenza", file.display()))?;
        if let Some(first) = folds.first() {
            let d = Experiment::of(&first.report)
                .difference(&Experiment::of(&r))
                .map_err(|e| crate::error::CompareError::Setup(format!("{}: {e}", file.display())))?;
            if let Some(Difference { name, this, other }) = d {
                bail!(
                    "{} is another experiment than {}: {name} is {other} there and {this} here; pool only folds of one recipe",
                    file.display(),
                    first.file.display()
                );
            }
        }
        if let Some(same) = folds.iter().find(|f| f.report.dataset_fingerprint == r.dataset_fingerprint) {
            bail!(
                "{} and {} are the same data (dataset fingerprint {}): a fold counted twice",
                same.file.display(),
                file.display(),
                &r.dataset_fingerprint[..r.dataset_fingerprint.len().min(12)]
            );
        }
        folds.push(Fold { file, report: r });
    }
    Ok(folds)
}

/// Each fold as the pooled result lists it, refusing two folds that hold out the same piece.
fn fold_summaries(folds: &[Fold]) -> Result<Vec<FoldSummary>> {
    let mut held_out: Vec<(String, &Path)> = Vec::new();
    let mut summaries = Vec::new();
    for Fold { file, report: r } in folds {
        let pieces = eval_pieces(&r.options.dataset);
        for p in &pieces {
            if let Some((_, other)) = held_out.iter().find(|(q, _)| q == p) {
                bail!(
                    "{} and {} both hold out {p}: folds must not share an eval piece",
                    other.display(),
                    file.display()
                );
            }
        }
        held_out.extend(pieces.iter().map(|p| (p.clone(), file.as_path())));
        summaries.push(FoldSummary {
            comparison: file.clone(),
            dataset: r.options.dataset.clone(),
            dataset_fingerprint: r.dataset_fingerprint.clone(),
            eval_pieces: pieces,
            split_fold: split_fold(&r.options.dataset),
            reference_sequences: r.reference.sequences,
            seeds: r.original.runs.len(),
            samples: r.options.samples,
            eval_nll_relative_cost: r.eval_nll_relative_cost,
            verdicts: r.verdicts.clone(),
        });
    }
    Ok(summaries)
}

/// Every metric all folds have, in the first fold's table order, pooled over folds, with
/// each fold's own verdict counted beside it.
fn pooled_verdicts(folds: &[Fold], summaries: &[FoldSummary], replicates: usize) -> Vec<PooledVerdict> {
    let per_fold: Vec<Vec<(String, stats::Goal)>> =
        folds.iter().map(|f| verdict_metrics(&f.report.reference.metrics)).collect();
    let mut verdicts = Vec::new();
    for (metric, _) in &per_fold[0] {
        let goals: Option<Vec<stats::Goal>> =
            per_fold.iter().map(|ms| ms.iter().find(|(m, _)| m == metric).map(|(_, g)| *g)).collect();
        let Some(goals) = goals else { continue };
        let values: Vec<_> =
            folds.iter().map(|f| (f.report.original.values(metric), f.report.modified.values(metric))).collect();
        let fold_values: Vec<FoldValues> =
            values.iter().zip(&goals).map(|((o, m), g)| FoldValues { goal: *g, original: o, modified: m }).collect();
        let Some(pooled) = stats::compare_metric_folds(metric, &fold_values, replicates, stats::BOOTSTRAP_SEED) else {
            continue;
        };
        let own: Vec<Verdict> = summaries
            .iter()
            .filter_map(|f| f.verdicts.iter().find(|v| &v.metric == metric).map(|v| v.verdict))
            .collect();
        verdicts.push(PooledVerdict {
            pooled,
            folds_better: own.iter().filter(|v| **v == Verdict::Better).count(),
            folds_worse: own.iter().filter(|v| **v == Verdict::Worse).count(),
            folds: own.len(),
        });
    }
    verdicts
}

/// Reads the comparisons and pools them. `replicates` bootstrap draws (the comparisons use
/// [`stats::BOOTSTRAP_REPLICATES`]).
pub fn pool(comparisons: &[PathBuf], replicates: usize) -> Result<PooledComparison> {
    if comparisons.len() < 2 {
        bail!("pooling needs the comparisons of two folds or more (got {})", comparisons.len());
    }
    let reports = read_folds(comparisons)?;
    let folds = fold_summaries(&reports)?;
    let verdicts = pooled_verdicts(&reports, &folds, replicates);
    let eval_nll_relative_cost = verdicts.iter().find(|v| v.pooled.metric == "eval_nll").map(|v| {
        let (d, o) = (&v.pooled.difference, v.pooled.original);
        Interval { estimate: d.estimate / o, lo: d.lo / o, hi: d.hi / o }
    });
    let pooled_verdicts: Vec<stats::MetricVerdict> = verdicts.iter().map(|v| v.pooled.clone()).collect();
    // Rows the judge left out for scores (dynamics) do not count in (b) either.
    let ignore: Vec<String> = reports
        .iter()
        .filter_map(|f| f.report.judge.as_ref())
        .flat_map(|j| j.arms.options.exclude_features.iter().cloned())
        .collect();
    let headline = crate::rule::headline(&pooled_verdicts, None, eval_nll_relative_cost.map(|c| c.estimate), &ignore);
    let delta_auc = pool_delta_auc(
        reports.iter().map(|f| f.report.judge.as_ref().and_then(|j| j.arms.delta_auc.clone())).collect(),
    );
    Ok(PooledComparison {
        delta_auc,
        folds,
        verdicts,
        eval_nll_relative_cost,
        recipe: reports[0].report.options.recipe,
        replicates,
        headline: Some(headline),
    })
}

/// The pooled verdict table for the terminal (and `pooled.txt`).
pub fn pooled_table(p: &PooledComparison) -> String {
    let f = crate::report::num;
    let ci = crate::table::ci;
    let mut s = String::new();
    if let Some(h) = &p.headline {
        s.push_str(&format!("{}\n\n", h.sentence));
    }
    // Folds held out by folder (`dataset --eval-from`) all say fold 0: number them instead.
    let distinct = p.folds.iter().map(|f| f.split_fold).collect::<BTreeSet<_>>().len() == p.folds.len();
    for (i, fold) in p.folds.iter().enumerate() {
        s.push_str(&format!(
            "fold {}: {} ({} eval sequences; {} seed(s) x {} samples; eval NLL cost {:+.2} %)\n",
            fold.split_fold.filter(|_| distinct).map_or(format!("#{}", i + 1), |f| f.to_string()),
            if fold.eval_pieces.is_empty() {
                fold.dataset.display().to_string()
            } else {
                // Piece ids are paths; their last part names the piece.
                fold.eval_pieces
                    .iter()
                    .map(|p| Path::new(p).file_name().map_or(p.clone(), |n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            fold.reference_sequences,
            fold.seeds,
            fold.samples,
            100.0 * fold.eval_nll_relative_cost
        ));
    }
    s.push_str(&format!(
        "\n{:<22} {:>9} {:>9} {:>9}  {:<34} {:<20} {}\n",
        "", "original", "modified", "reference", "modified - original [95% CI]", "verdict", "folds better/worse"
    ));
    for v in &p.verdicts {
        let reference = match v.pooled.goal {
            stats::Goal::Toward(r) => Some(r),
            _ => None,
        };
        s.push_str(&format!(
            "{:<22} {:>9} {:>9} {:>9}  {:<34} {:<20} {}/{} of {}\n",
            v.pooled.metric,
            f(Some(v.pooled.original)),
            f(Some(v.pooled.modified)),
            f(reference),
            ci(&v.pooled.difference),
            v.pooled.verdict.label(),
            v.folds_better,
            v.folds_worse,
            v.folds
        ));
    }
    s.push_str(&format!(
        "{} folds, intervals over folds x seeds x samples ({} replicates); reference = each fold's own eval pieces (mean shown)\n",
        p.folds.len(),
        p.replicates
    ));
    if let Some(d) = &p.delta_auc {
        s.push_str(&format!(
            "judge ΔAUC modified - original, mean over {} fold(s): {:+.3} [{:+.3}, {:+.3}] (folds easier to tell {}, harder {})\n",
            d.folds.iter().flatten().count(),
            d.estimate,
            d.interval[0],
            d.interval[1],
            d.folds_easier,
            d.folds_harder
        ));
    }
    if let Some(c) = &p.eval_nll_relative_cost {
        s.push_str(&format!(
            "eval NLL cost of the modified model {:+.2} % [{:+.2} %, {:+.2} %]\n",
            100.0 * c.estimate,
            100.0 * c.lo,
            100.0 * c.hi
        ));
    }
    s
}

/// Pools and writes `out/pooled.json` and `out/pooled.txt`.
pub fn pool_to(comparisons: &[PathBuf], out: &Path) -> Result<PooledComparison> {
    let p = pool(comparisons, stats::BOOTSTRAP_REPLICATES)?;
    std::fs::create_dir_all(out).ctx(|| format!("cannot create {}", out.display()))?;
    let path = out.join("pooled.json");
    cadenza_atomic::write_json(&path, &p).ctx(|| format!("cannot write {}", path.display()))?;
    let path = out.join("pooled.txt");
    cadenza_atomic::write_atomic(&path, pooled_table(&p).as_bytes())
        .ctx(|| format!("cannot write {}", path.display()))?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cadenza_judge::arms::DeltaAuc;

    /// Hyper-parameters are one experiment whatever the order of their keys; another value is
    /// another experiment, named.
    #[test]
    fn hparams_compare_as_values() {
        let o = |hparams: &str| CompareOptions { hparams: hparams.into(), ..Default::default() };
        fn e(o: &CompareOptions) -> Experiment<'_> {
            Experiment { config: "performance_with_dynamics", layers: &[64], options: o }
        }
        let (a, b) = (o("batch_size=8,learning_rate=0.01"), o(" learning_rate=0.01, batch_size=8"));
        assert!(e(&a).difference(&e(&b)).unwrap().is_none());
        let c = o("learning_rate=0.01,batch_size=16");
        let d = e(&a).difference(&e(&c)).unwrap().expect("batch sizes 8 and 16 differ");
        assert_eq!((d.name, d.this.as_str(), d.other.as_str()), ("hparams", a.hparams.as_str(), c.hparams.as_str()));
        // The recipe compares as losses: a cost of a part that is off does not matter.
        let off = CompareOptions {
            recipe: Recipe { rhythm: 0.0, rhythm_cost: cadenza_train::RhythmCost::Rps, ..a.recipe },
            ..a.clone()
        };
        let off2 = CompareOptions { recipe: Recipe { rhythm: 0.0, ..a.recipe }, ..a.clone() };
        assert!(e(&off).difference(&e(&off2)).unwrap().is_none());
        let other = CompareOptions { recipe: Recipe { harmony: 0.5, ..a.recipe }, ..a.clone() };
        assert!(e(&a).difference(&e(&other)).unwrap().unwrap().name.contains("harmony_loss"));
        assert!(e(&a).difference(&e(&o("batch_size=eight"))).is_err());
    }

    #[test]
    fn fold_delta_aucs_pool_as_independent_normal_errors() {
        let d = |e: f64, lo: f64, hi: f64| {
            Some(DeltaAuc {
                minuend: "modified".into(),
                subtrahend: "original".into(),
                estimate: e,
                interval: [lo, hi],
            })
        };
        // Two folds with half-widths 0.196 and 0.392: standard errors 0.1 and 0.2; the mean's
        // is sqrt(0.01 + 0.04) / 2.
        let p = pool_delta_auc(vec![d(0.1, -0.096, 0.296), None, d(-0.3, -0.692, 0.092)]).unwrap();
        assert!((p.estimate + 0.1).abs() < 1e-12);
        let half = 1.96 * (0.05f64).sqrt() / 2.0;
        assert!((p.interval[0] - (-0.1 - half)).abs() < 1e-9 && (p.interval[1] - (-0.1 + half)).abs() < 1e-9, "{p:?}");
        assert_eq!((p.folds_easier, p.folds_harder, p.folds.len()), (0, 0, 3));
        let p = pool_delta_auc(vec![d(0.2, 0.05, 0.35), d(0.1, 0.01, 0.19)]).unwrap();
        assert_eq!(p.folds_easier, 2);
        assert!(pool_delta_auc(vec![None, None]).is_none());
    }
}
