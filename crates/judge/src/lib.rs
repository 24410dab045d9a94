//! An untargeted judge of realism: can a classifier tell generated music from real music?
//!
//! Every file is cut into windows of fixed length ([`features::windows`]), each window becomes
//! one broad feature vector ([`features::features`]), and two classifiers are cross-validated
//! to tell the generated windows from the real ones, with whole groups (a real piece, a
//! generated sample) held out together ([`classify`]). An AUC of 0.5 means the classifier
//! cannot tell them apart; 1.0 means it always can. The AUC is read against its own null (the
//! same pipeline with the labels permuted between groups), with a bootstrap interval over
//! groups. Beside it: the Fréchet distance between the two sides' feature distributions
//! ([`frechet`]), which still ranks arms when the AUC sits at 1, the logistic regression's mean
//! held-out log-odds, and the features that separate the sides most.
//!
//! No Cadenza loss targets these features, so a recipe cannot win here by pushing its own
//! metric.

#![forbid(unsafe_code)]

pub mod arms;
pub mod classify;
pub mod drift;
pub mod features;
pub mod frechet;

use cadenza_notes::NoteSequence;
use classify::{Classifier, CvSettings, Table};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How files are grouped into pieces, and which are left out: `cadenza dataset`'s rules.
pub use cadenza_dataset::split::{Exclude, GroupBy};
pub use classify::Classifier as ClassifierKind;
pub use features::FEATURE_NAMES;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("{}: {source}", path.display())]
    Load { path: PathBuf, source: cadenza_import::LoadError },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: no MIDI or MusicXML file found", path.display())]
    NoFiles { path: PathBuf },
    #[error("{}: {msg}", path.display())]
    Grouping { path: PathBuf, msg: String },
    #[error("the {side} have {groups} groups with a window of {seconds} s and {min_notes}+ notes; the judge needs at least {needed} (one per fold) — give more or longer files, or lower the window or the folds")]
    TooFew { side: &'static str, groups: usize, seconds: f64, min_notes: usize, needed: usize },
    #[error("{0}")]
    Fit(String),
    #[error("no feature is named {name:?}; the features are {valid}")]
    UnknownFeature { name: String, valid: String },
}

/// The judge's settings; the defaults are stated here once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeOptions {
    /// Window length, seconds.
    pub window_seconds: f64,
    /// A window needs this many notes.
    pub min_notes: usize,
    /// At most this many windows per group (evenly spaced), so long pieces do not dominate.
    pub max_windows_per_group: usize,
    /// Cross-validation folds (grouped, stratified).
    pub folds: usize,
    /// Permutations of the labels between groups for the null.
    pub permutations: usize,
    /// Bootstrap resamples of the groups for the AUC's interval.
    pub bootstrap: usize,
    /// The logistic regression's L2 penalty (on standardised features).
    pub alpha: f64,
    /// Trees of the random forest.
    pub trees: usize,
    pub seed: u64,
    /// Features left out (by name): [`PERFORMANCE_FEATURES`] when the reference is scores,
    /// whose dynamics and articulation no performance has.
    #[serde(default)]
    pub exclude_features: Vec<String>,
}

/// The features a score lacks (constant velocity, no articulation): left out when real music
/// means scores, so a performance model does not "improve" by playing deadpan.
pub const PERFORMANCE_FEATURES: [&str; 3] = ["velocity_mean", "velocity_std", "short_notes"];

impl JudgeOptions {
    /// The indices into [`FEATURE_NAMES`] of the features used.
    pub fn kept(&self) -> Vec<usize> {
        (0..FEATURE_NAMES.len()).filter(|&j| !self.exclude_features.iter().any(|x| x == FEATURE_NAMES[j])).collect()
    }

    fn check(&self) -> Result<(), JudgeError> {
        match self.exclude_features.iter().find(|x| !FEATURE_NAMES.contains(&x.as_str())) {
            Some(x) => Err(JudgeError::UnknownFeature { name: x.clone(), valid: FEATURE_NAMES.join(", ") }),
            None => Ok(()),
        }
    }
}

/// One window's features, without the excluded ones.
pub(crate) fn window_row(w: &NoteSequence, opts: &JudgeOptions, kept: &[usize]) -> Vec<f64> {
    let all = features::features(w, opts.window_seconds);
    kept.iter().map(|&j| all[j]).collect()
}

impl Default for JudgeOptions {
    fn default() -> Self {
        JudgeOptions {
            window_seconds: 15.0,
            min_notes: 8,
            max_windows_per_group: 8,
            folds: 5,
            permutations: 50,
            bootstrap: 1000,
            alpha: 1.0,
            trees: 50,
            seed: 0,
            exclude_features: Vec::new(),
        }
    }
}

/// One piece of music and the group it belongs to (its piece for real music, itself for a
/// generated sample): a group's windows are held out together.
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub group: String,
    pub sequence: NoteSequence,
}

/// The files of one split (`"train"` or `"eval"`) of a `cadenza dataset` folder, read from its
/// `split.json` and grouped by the piece the dataset gave them. Files that no longer load (the
/// dataset skipped unreadable ones too) are left out; none loading is an error.
pub fn dataset_items(dataset: &Path, split: &str) -> Result<Vec<Item>, JudgeError> {
    let path = dataset.join("split.json");
    let files = cadenza_dataset::read_split(dataset).map_err(|source| JudgeError::Io { path: path.clone(), source })?;
    let mut items = Vec::new();
    for f in files.iter().filter(|f| f.split == split) {
        if let Ok((sequence, _)) = cadenza_import::load_file(Path::new(&f.path), &Default::default()) {
            items.push(Item { name: f.path.clone(), group: f.piece.clone(), sequence });
        }
    }
    if items.is_empty() {
        return Err(JudgeError::NoFiles { path });
    }
    Ok(items)
}

/// Every MIDI or MusicXML file under `paths`, read, except those whose file name matches a
/// glob of `exclude` (e.g. `midi_score.mid`, ASAP's score rendered as MIDI), grouped into
/// pieces by `group_by` as `cadenza dataset` groups them. A `cadenza dataset` folder stands for
/// its eval split's files, grouped by the piece the dataset gave them.
pub fn load_items(paths: &[PathBuf], group_by: GroupBy, exclude: &Exclude) -> Result<Vec<Item>, JudgeError> {
    let mut items = Vec::new();
    for root in paths {
        if root.join("dataset.json").is_file() && root.join("split.json").is_file() {
            items.extend(dataset_items(root, "eval")?);
            continue;
        }
        let files = cadenza_import::collect_files(std::slice::from_ref(root))
            .map_err(|source| JudgeError::Io { path: root.clone(), source })?;
        let files = exclude.keep(files);
        if files.is_empty() {
            return Err(JudgeError::NoFiles { path: root.clone() });
        }
        let (pieces, _) = cadenza_dataset::split::piece_ids(std::slice::from_ref(root), &files, group_by)
            .map_err(|msg| JudgeError::Grouping { path: root.clone(), msg })?;
        for f in files {
            let (sequence, _) = cadenza_import::load_file(&f, &Default::default())
                .map_err(|source| JudgeError::Load { path: f.clone(), source })?;
            items.push(Item { name: f.display().to_string(), group: pieces[&f].clone(), sequence });
        }
    }
    Ok(items)
}

/// How many files, groups and windows one side gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    pub files: usize,
    pub groups: usize,
    pub windows: usize,
}

/// One classifier's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierResult {
    pub classifier: Classifier,
    /// Held-out AUC for "generated" (0.5: cannot tell; 1: always tells).
    pub auc: f64,
    /// 95 % bootstrap interval over groups.
    pub interval: [f64; 2],
    /// The null: the AUC with the labels permuted between groups (mean and 95 % band);
    /// `None` without permutations.
    pub null_mean: Option<f64>,
    pub null_band: Option<[f64; 2]>,
    /// One-sided permutation p-value of an AUC this high under the null.
    pub p_value: Option<f64>,
    pub permutations: usize,
    /// The AUC is at the ceiling (≥ 0.95): every arm there looks equally fake to it; read the
    /// Fréchet distance and the log-odds instead.
    pub saturated: bool,
}

/// A feature that separates the sides: its means and the standardised mean difference
/// (samples − reference, over the pooled standard deviation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureGap {
    pub feature: String,
    pub samples: f64,
    pub reference: f64,
    pub effect: f64,
}

/// The judge's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeReport {
    pub options: JudgeOptions,
    pub samples: SideSummary,
    pub reference: SideSummary,
    pub classifiers: Vec<ClassifierResult>,
    /// The logistic regression's mean held-out log-odds that a generated window is generated
    /// (0: no idea; higher: easier to tell).
    pub mean_log_odds: f64,
    /// Fréchet distance between the sides' windows, features standardised by the reference's.
    pub frechet: f64,
    /// Every feature, the largest |effect| first.
    pub separating: Vec<FeatureGap>,
}

/// The windows of one side as rows with group ids from `first_group` on.
pub(crate) fn side_rows(
    items: &[Item],
    opts: &JudgeOptions,
    first_group: usize,
) -> (Vec<Vec<f64>>, Vec<usize>, SideSummary) {
    let kept = opts.kept();
    let mut by_group: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new();
    for it in items {
        let w = features::windows(&it.sequence, opts.window_seconds, opts.min_notes);
        let e = by_group.entry(it.group.as_str()).or_default();
        e.extend(w.iter().map(|w| window_row(w, opts, &kept)));
    }
    let (mut x, mut g) = (Vec::new(), Vec::new());
    let mut groups = 0;
    for rows in by_group.into_values() {
        if rows.is_empty() {
            continue;
        }
        let k = opts.max_windows_per_group.max(1).min(rows.len());
        // Evenly spaced over the group's windows.
        for i in 0..k {
            x.push(rows[i * rows.len() / k].clone());
            g.push(first_group + groups);
        }
        groups += 1;
    }
    let summary = SideSummary { files: items.len(), groups, windows: x.len() };
    (x, g, summary)
}

pub(crate) fn mean_sd(rows: &[Vec<f64>], j: usize) -> (f64, f64) {
    let n = rows.len().max(1) as f64;
    let m = rows.iter().map(|r| r[j]).sum::<f64>() / n;
    (m, (rows.iter().map(|r| (r[j] - m).powi(2)).sum::<f64>() / n).sqrt())
}

/// The windows of both sides as one table (reference rows first, then the samples'), with
/// each side's counts: what [`judge`] classifies, for a cross-check outside Cadenza.
pub fn window_table(
    samples: &[Item],
    reference: &[Item],
    opts: &JudgeOptions,
) -> Result<(Table, SideSummary, SideSummary), JudgeError> {
    opts.check()?;
    let (xr, gr, rs) = side_rows(reference, opts, 0);
    let (xs, gs, ss) = side_rows(samples, opts, rs.groups);
    for (side, s) in [("samples", &ss), ("reference", &rs)] {
        if s.groups < opts.folds.max(2) {
            return Err(JudgeError::TooFew {
                side,
                groups: s.groups,
                seconds: opts.window_seconds,
                min_notes: opts.min_notes,
                needed: opts.folds.max(2),
            });
        }
    }
    let mut t = Table::default();
    for (x, g) in xr.into_iter().zip(gr) {
        t.x.push(x);
        t.generated.push(false);
        t.group.push(g);
    }
    for (x, g) in xs.into_iter().zip(gs) {
        t.x.push(x);
        t.generated.push(true);
        t.group.push(g);
    }
    Ok((t, ss, rs))
}

/// The table as CSV: `group,generated,<feature>…`, one row per window.
pub fn table_csv(t: &Table, opts: &JudgeOptions) -> String {
    let names: Vec<&str> = opts.kept().iter().map(|&j| FEATURE_NAMES[j]).collect();
    let mut s = format!("group,generated,{}\n", names.join(","));
    for ((x, g), y) in t.x.iter().zip(&t.group).zip(&t.generated) {
        s += &format!("{g},{}", *y as u8);
        for v in x {
            s += &format!(",{v}");
        }
        s.push('\n');
    }
    s
}

/// The reference's mean and spread of each feature used: the scale on which the Fréchet
/// distance and the separating features of any set of windows are measured.
pub(crate) struct ReferenceScale<'a> {
    stats: Vec<(f64, f64)>,
    standardised: Vec<Vec<f64>>,
    kept: &'a [usize],
}

impl<'a> ReferenceScale<'a> {
    pub(crate) fn of(reference: &[Vec<f64>], kept: &'a [usize]) -> Self {
        let stats: Vec<(f64, f64)> = (0..kept.len()).map(|j| mean_sd(reference, j)).collect();
        let mut scale = ReferenceScale { stats, standardised: Vec::new(), kept };
        scale.standardised = scale.standardise(reference);
        scale
    }

    /// Rows in the reference's standard units (a constant reference feature keeps its units).
    fn standardise(&self, rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let s = &self.stats;
        rows.iter()
            .map(|r| {
                r.iter().enumerate().map(|(j, v)| (v - s[j].0) / if s[j].1 > 1e-12 { s[j].1 } else { 1.0 }).collect()
            })
            .collect()
    }

    /// Fréchet distance of `rows` to the reference, on this scale.
    pub(crate) fn frechet(&self, rows: &[Vec<f64>]) -> Result<f64, JudgeError> {
        frechet::frechet_distance(&self.standardise(rows), &self.standardised).map_err(JudgeError::Fit)
    }

    /// Every feature's standardised mean difference of `rows` from the reference, the largest
    /// |effect| first.
    pub(crate) fn separating(&self, rows: &[Vec<f64>]) -> Vec<FeatureGap> {
        let mut gaps: Vec<FeatureGap> = (0..self.kept.len())
            .map(|j| {
                let ((ms, ss), (mr, sr)) = (mean_sd(rows, j), self.stats[j]);
                let pooled = ((ss * ss + sr * sr) / 2.0).sqrt();
                FeatureGap {
                    feature: FEATURE_NAMES[self.kept[j]].to_string(),
                    samples: ms,
                    reference: mr,
                    effect: if pooled > 1e-12 { (ms - mr) / pooled } else { 0.0 },
                }
            })
            .collect();
        gaps.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()));
        gaps
    }
}

/// Judges `samples` against `reference`. `on_step(done, total)` reports progress over the
/// cross-validations (one per classifier and permutation).
pub fn judge(
    samples: &[Item],
    reference: &[Item],
    opts: &JudgeOptions,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<JudgeReport, JudgeError> {
    let (t, ss, rs) = window_table(samples, reference, opts)?;
    judge_table(&t, ss, rs, opts, on_step)
}

/// [`judge`] on a table [`window_table`] made (so a caller that also writes the table out
/// measures the windows once).
pub fn judge_table(
    t: &Table,
    ss: SideSummary,
    rs: SideSummary,
    opts: &JudgeOptions,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<JudgeReport, JudgeError> {
    let xr: Vec<Vec<f64>> = t.x.iter().zip(&t.generated).filter(|(_, &y)| !y).map(|(x, _)| x.clone()).collect();
    let xs: Vec<Vec<f64>> = t.x.iter().zip(&t.generated).filter(|(_, &y)| y).map(|(x, _)| x.clone()).collect();
    let classes = t.group_classes();
    let settings = CvSettings { folds: opts.folds.max(2), alpha: opts.alpha, trees: opts.trees };
    let total = Classifier::ALL.len() * (1 + opts.permutations);
    let mut done = 0;
    let mut results = Vec::new();
    let mut mean_log_odds = 0.0;
    for c in Classifier::ALL {
        let scores = classify::cv_scores(t, &classes, c, settings, opts.seed).map_err(JudgeError::Fit)?;
        done += 1;
        on_step(done, total);
        let auc = classify::auc(&scores, &t.generated);
        if c == Classifier::Logistic {
            let gen: Vec<f64> = scores.iter().zip(&t.generated).filter(|(_, &y)| y).map(|(s, _)| *s).collect();
            mean_log_odds = gen.iter().sum::<f64>() / gen.len().max(1) as f64;
        }
        let interval = classify::bootstrap_auc(t, &scores, opts.bootstrap, opts.seed ^ 0xb007);
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x9e37_79b9);
        let mut null = Vec::with_capacity(opts.permutations);
        for p in 0..opts.permutations {
            let perm = classify::permuted(&classes, &mut rng);
            let labels: Vec<bool> = t.group.iter().map(|&g| perm[g]).collect();
            let s = classify::cv_scores(t, &perm, c, settings, opts.seed.wrapping_add(1 + p as u64))
                .map_err(JudgeError::Fit)?;
            null.push(classify::auc(&s, &labels));
            done += 1;
            on_step(done, total);
        }
        let null_mean = null.iter().sum::<f64>() / null.len().max(1) as f64;
        let above = null.iter().filter(|&&a| a >= auc).count();
        results.push(ClassifierResult {
            classifier: c,
            auc,
            interval,
            null_mean: (!null.is_empty()).then_some(null_mean),
            null_band: (!null.is_empty()).then(|| [classify::quantile(&null, 0.025), classify::quantile(&null, 0.975)]),
            p_value: (!null.is_empty()).then(|| (1 + above) as f64 / (1 + null.len()) as f64),
            permutations: null.len(),
            saturated: auc >= 0.95,
        });
    }
    // Fréchet distance and the separating features, on the reference's scale.
    let kept = opts.kept();
    let scale = ReferenceScale::of(&xr, &kept);
    let frechet = scale.frechet(&xs)?;
    let separating = scale.separating(&xs);
    Ok(JudgeReport {
        options: opts.clone(),
        samples: ss,
        reference: rs,
        classifiers: results,
        mean_log_odds,
        frechet,
        separating,
    })
}

/// The report as a table for the terminal.
pub fn render_table(r: &JudgeReport) -> String {
    let mut s = String::new();
    s += &format!(
        "windows of {} s ({}+ notes, at most {} per group): samples {} files, {} groups, {} windows; reference {} files, {} groups, {} windows\n\n",
        r.options.window_seconds,
        r.options.min_notes,
        r.options.max_windows_per_group,
        r.samples.files,
        r.samples.groups,
        r.samples.windows,
        r.reference.files,
        r.reference.groups,
        r.reference.windows
    );
    s += "classifier   AUC     95% CI            null (permuted)        p\n";
    for c in &r.classifiers {
        let null = match (c.null_mean, c.null_band, c.p_value) {
            (Some(m), Some(b), Some(p)) => format!("{m:.3} [{:.3}, {:.3}]   {p:.3}", b[0], b[1]),
            _ => format!("{:<22} {:<5}", "not run", "–"),
        };
        s += &format!(
            "{:<12} {:.3}   [{:.3}, {:.3}]    {null}{}\n",
            c.classifier.name(),
            c.auc,
            c.interval[0],
            c.interval[1],
            if c.saturated { "  (saturated)" } else { "" }
        );
    }
    s += &format!(
        "\nFréchet distance {:.3} (features standardised by the reference); mean held-out log-odds {:+.3}\n",
        r.frechet, r.mean_log_odds
    );
    s += "AUC: how often the classifier ranks a generated window above a real one, on pieces it did not\n\
          see. 0.5 = it cannot tell them apart (read it against the permuted null); 1 = it always can.\n";
    if r.classifiers.iter().any(|c| c.saturated) {
        s += "The AUC is saturated: the samples are always told from real music; compare arms by the\n\
              Fréchet distance and the log-odds, and fix the features below first.\n";
    }
    s += "\nwhat separates them most (standardised mean difference, samples − reference):\n";
    for g in r.separating.iter().take(8) {
        s +=
            &format!("  {:<18} {:+.2}   samples {:.3}, reference {:.3}\n", g.feature, g.effect, g.samples, g.reference);
    }
    s
}
