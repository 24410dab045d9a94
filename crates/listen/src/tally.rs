//! `cadenza listen tally`: the answers unblinded with `key.json`, and their statistics.

use crate::build::{Arm, Key, KeyTrial, TrialKind};
use crate::stats::{binomial_upper_tail, clopper_pearson, sign_test, wilcoxon, Wilcoxon};
use crate::ListenError;
use cadenza_render::escape_html as esc;
use cadenza_train::Recipe;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Listeners needed before the across-listener Wilcoxon test is run.
pub const WILCOXON_MIN_LISTENERS: usize = 5;
/// A listener is "at chance" when their calibration score is not above chance at this level
/// (one-sided exact binomial test).
pub const CALIBRATION_ALPHA: f64 = 0.05;
/// Played seconds may fall this much short of the minimum (the page's clock rounds).
const PLAY_SLACK: f64 = 0.25;

pub const ANSWERS_FORMAT: &str = "cadenza-listen-answers";

/// A listener's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    A,
    B,
    None,
}

/// One trial as the page saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerTrial {
    pub trial: String,
    pub a: String,
    pub b: String,
    pub real: Choice,
    #[serde(default)]
    pub like: Option<Choice>,
    /// Seconds of each clip played, by clip id.
    pub played: BTreeMap<String, f64>,
    /// Seconds from the trial's start to the answer.
    pub seconds: f64,
    #[serde(default)]
    pub position: usize,
}

/// The file the page's "Download answers" saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    pub format: String,
    pub version: u32,
    pub run_hash: String,
    pub listener: String,
    #[serde(default)]
    pub started: Option<String>,
    #[serde(default)]
    pub finished: Option<String>,
    pub trials: Vec<AnswerTrial>,
}

/// How often one side was chosen over the other, with its exact interval and sign test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Trials where the modified (or, for calibration, the real) side was chosen.
    pub chosen: u64,
    /// Trials where the other side was chosen.
    pub other: u64,
    /// "Can't tell" / "no preference": reported, left out of the test.
    pub cant_tell: u64,
    /// chosen / (chosen + other); `None` with no decided trial.
    pub share: Option<f64>,
    /// Clopper–Pearson 95 % interval of the share.
    pub ci: [f64; 2],
    /// Two-sided exact sign test against ½.
    pub p: f64,
}

impl Share {
    /// (chosen, other, can't tell) summed over `shares`.
    fn total<'a>(shares: impl Iterator<Item = &'a Share>) -> [u64; 3] {
        shares.fold([0; 3], |t, s| [t[0] + s.chosen, t[1] + s.other, t[2] + s.cant_tell])
    }

    /// One share of every trial in `shares`.
    fn pooled<'a>(shares: impl Iterator<Item = &'a Share>) -> Share {
        let [c, o, n] = Share::total(shares);
        Share::from_counts(c, o, n)
    }

    fn from_counts(chosen: u64, other: u64, cant_tell: u64) -> Share {
        let n = chosen + other;
        Share {
            chosen,
            other,
            cant_tell,
            share: (n > 0).then(|| chosen as f64 / n as f64),
            ci: clopper_pearson(chosen, n, 0.95),
            p: sign_test(chosen, n),
        }
    }
}

/// Real against model: how often the listener picked the real piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub trials: Share,
    /// One-sided exact p that the listener does better than chance.
    pub p_above_chance: f64,
    /// Not shown above chance: this listener's preferences between models mean little.
    pub at_chance: bool,
}

impl Calibration {
    fn from_counts(correct: u64, wrong: u64, cant_tell: u64) -> Calibration {
        // "Can't tell" is a failure to tell here: it counts against the listener.
        let n = correct + wrong + cant_tell;
        let p = binomial_upper_tail(correct, n);
        Calibration {
            trials: Share::from_counts(correct, wrong, cant_tell),
            p_above_chance: p,
            at_chance: n == 0 || p > CALIBRATION_ALPHA,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerTally {
    pub listener: String,
    pub file: String,
    /// Trials counted, and trials left out (an excerpt not played long enough).
    pub trials: usize,
    pub excluded: usize,
    /// Pairs: the modified model's excerpt judged more like a real performance.
    pub realism: Share,
    /// Pairs: the modified model's excerpt liked more (when asked).
    pub like: Option<Share>,
    pub calibration: Calibration,
    /// Median seconds per trial.
    pub median_seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub file: String,
    pub reason: String,
}

/// `tally.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub run_hash: String,
    pub question: String,
    pub recipes: Vec<Recipe>,
    pub listeners: Vec<ListenerTally>,
    pub refused: Vec<Refusal>,
    /// Every counted listener's pair trials together (trials of one listener are not
    /// independent of each other, nor are listeners who heard the same clips: read the
    /// across-listener test too).
    pub pooled: Share,
    pub pooled_like: Option<Share>,
    /// Only the listeners whose calibration is above chance.
    pub pooled_calibrated: Share,
    pub calibrated_listeners: usize,
    pub calibration: Calibration,
    /// Wilcoxon signed-rank test of the per-listener shares against ½ (from
    /// [`WILCOXON_MIN_LISTENERS`] listeners on).
    pub wilcoxon: Option<Wilcoxon>,
    pub sentence: String,
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

/// Unblinds and counts the answer files against the test in `dir`. Files from another test's
/// page, a listener already counted, malformed files and trials this test does not have are
/// refused (listed in the result, never counted); no file counted at all is an error.
pub fn tally(dir: &Path, answers: &[PathBuf]) -> Result<Tally, ListenError> {
    let key = Key::read(dir)?;
    let trials: BTreeMap<&str, &KeyTrial> = key.trials.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut refused = Vec::new();
    // Listener → the file counted for them.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut listeners = Vec::new();
    for file in answers {
        let counted = read_answers(file, &key, &seen).and_then(|a| {
            check_trials(&a, &trials)?;
            count_listener(&key, &trials, &a, file)
        });
        match counted {
            Ok(l) => {
                seen.insert(l.listener.clone(), l.file.clone());
                listeners.push(l);
            }
            Err(reason) => refused.push(Refusal { file: file.display().to_string(), reason }),
        }
    }
    if listeners.is_empty() {
        let why: Vec<String> = refused.iter().map(|r| format!("{}: {}", r.file, r.reason)).collect();
        return Err(ListenError::NoAnswers(why.join("; ")));
    }
    Ok(pool(&key, listeners, refused))
}

/// One answers file, read and checked against the test (format, run hash, a listener not yet
/// counted); the error is the reason it is refused.
fn read_answers(file: &Path, key: &Key, seen: &BTreeMap<String, String>) -> Result<Answers, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot be read: {e}"))?;
    let a: Answers =
        serde_json::from_str(&text).map_err(|e| format!("is not an answers file from the listening page: {e}"))?;
    if a.format != ANSWERS_FORMAT {
        return Err(format!("is not an answers file (format {:?})", a.format));
    }
    if a.run_hash != key.run_hash {
        return Err(format!(
            "comes from another listening test's page (run hash {}, this test's is {})",
            a.run_hash, key.run_hash
        ));
    }
    if let Some(first) = seen.get(&a.listener) {
        return Err(format!("listener {} is already counted (from {first})", a.listener));
    }
    Ok(a)
}

/// Every trial answered must be this test's, once, with its own two clips.
fn check_trials(a: &Answers, trials: &BTreeMap<&str, &KeyTrial>) -> Result<(), String> {
    let mut ids = BTreeSet::new();
    for t in &a.trials {
        let Some(k) = trials.get(t.trial.as_str()) else {
            return Err(format!("answers trial {} which this test does not have", t.trial));
        };
        if !ids.insert(t.trial.as_str()) {
            return Err(format!("answers trial {} twice", t.trial));
        }
        let mut pair = [t.a.as_str(), t.b.as_str()];
        pair.sort();
        let mut want = [k.clips[0].as_str(), k.clips[1].as_str()];
        want.sort();
        if pair != want {
            return Err(format!("trial {} names clips {} and {}, not the trial's", t.trial, t.a, t.b));
        }
    }
    Ok(())
}

/// Whether both excerpts of `t` were played long enough for the answer to count.
fn played_enough(key: &Key, t: &AnswerTrial) -> bool {
    let clip_len = |id: &str| key.clips.get(id).map_or(0.0, |c| c.seconds);
    [t.a.as_str(), t.b.as_str()].iter().all(|id| {
        let need = key.min_play_seconds.min((clip_len(id) - 0.5).max(0.0));
        t.played.get(*id).copied().unwrap_or(0.0) + PLAY_SLACK >= need
    })
}

/// Where `choice` in trial `t` counts: 0 the side counted (`target`: the modified model, or the
/// real piece for calibration), 1 the other side, 2 can't tell.
fn slot(key: &Key, t: &AnswerTrial, choice: Choice, target: Arm) -> usize {
    let arm = |id: &str| key.clips.get(id).map(|c| c.arm);
    let picked = match choice {
        Choice::A => arm(&t.a),
        Choice::B => arm(&t.b),
        Choice::None => None,
    };
    match picked {
        None => 2,
        Some(x) if x == target => 0,
        Some(_) => 1,
    }
}

/// One listener's checked answers, counted; refused (the reason) when no trial counts.
fn count_listener(
    key: &Key,
    trials: &BTreeMap<&str, &KeyTrial>,
    a: &Answers,
    file: &Path,
) -> Result<ListenerTally, String> {
    let (mut real, mut likes, mut cal) = ([0u64; 3], [0u64; 3], [0u64; 3]);
    let mut asked_like = false;
    let mut excluded = 0usize;
    let mut secs = Vec::new();
    for t in &a.trials {
        if !played_enough(key, t) {
            excluded += 1;
            continue;
        }
        secs.push(t.seconds);
        match trials[t.trial.as_str()].kind {
            TrialKind::Pair => {
                real[slot(key, t, t.real, Arm::Modified)] += 1;
                if let Some(l) = t.like {
                    asked_like = true;
                    likes[slot(key, t, l, Arm::Modified)] += 1;
                }
            }
            TrialKind::Calibration => cal[slot(key, t, t.real, Arm::Real)] += 1,
        }
    }
    if secs.is_empty() {
        return Err("has no trial with both excerpts played long enough".into());
    }
    Ok(ListenerTally {
        listener: a.listener.clone(),
        file: file.display().to_string(),
        trials: secs.len(),
        excluded,
        realism: Share::from_counts(real[0], real[1], real[2]),
        like: asked_like.then(|| Share::from_counts(likes[0], likes[1], likes[2])),
        calibration: Calibration::from_counts(cal[0], cal[1], cal[2]),
        median_seconds: cadenza_evaluate::quantile(&secs, 0.5).unwrap_or(0.0),
    })
}

/// The counted listeners pooled: shares, calibration, the across-listener test, the sentence.
fn pool(key: &Key, listeners: Vec<ListenerTally>, refused: Vec<Refusal>) -> Tally {
    let pooled = Share::pooled(listeners.iter().map(|l| &l.realism));
    let pooled_like = listeners
        .iter()
        .any(|l| l.like.is_some())
        .then(|| Share::pooled(listeners.iter().filter_map(|l| l.like.as_ref())));
    let calibrated = || listeners.iter().filter(|l| !l.calibration.at_chance);
    let pooled_calibrated = Share::pooled(calibrated().map(|l| &l.realism));
    let calibrated_listeners = calibrated().count();
    let [k0, k1, k2] = Share::total(listeners.iter().map(|l| &l.calibration.trials));
    let calibration = Calibration::from_counts(k0, k1, k2);
    let shares: Vec<f64> = listeners.iter().filter_map(|l| l.realism.share).map(|s| s - 0.5).collect();
    let wilcoxon = if shares.len() >= WILCOXON_MIN_LISTENERS { wilcoxon(&shares) } else { None };
    let sentence = sentence(listeners.len(), &pooled, &calibration, calibrated_listeners, wilcoxon.as_ref());
    Tally {
        run_hash: key.run_hash.clone(),
        question: key.question.clone(),
        recipes: key.runs.iter().map(|r| r.recipe).collect(),
        listeners,
        refused,
        pooled,
        pooled_like,
        pooled_calibrated,
        calibrated_listeners,
        calibration,
        wilcoxon,
        sentence,
    }
}

/// The tally in words: the pooled pairs, the calibration, the across-listener test.
fn sentence(
    listeners: usize,
    pooled: &Share,
    calibration: &Calibration,
    calibrated_listeners: usize,
    wilcoxon: Option<&Wilcoxon>,
) -> String {
    let mut sentence = match pooled.share {
        Some(s) => format!(
            "{} listener{}: the modified model's excerpt sounded more like a real performance in {} of {} decided pairs ({}, 95 % CI {}-{}, sign test p = {:.3}); {} can't tell.",
            listeners,
            if listeners == 1 { "" } else { "s" },
            pooled.chosen,
            pooled.chosen + pooled.other,
            pct(s),
            pct(pooled.ci[0]),
            pct(pooled.ci[1]),
            pooled.p,
            pooled.cant_tell
        ),
        None => format!("{} listener(s), no decided pair.", listeners),
    };
    sentence.push_str(&format!(
        " Calibration: real music picked in {} of {} trials; {} of {} listeners could not be shown to tell real from model (one-sided p > {CALIBRATION_ALPHA}), and their preferences mean little.",
        calibration.trials.chosen,
        calibration.trials.chosen + calibration.trials.other + calibration.trials.cant_tell,
        listeners - calibrated_listeners,
        listeners
    ));
    match wilcoxon {
        Some(w) => {
            sentence.push_str(&format!(" Across listeners (Wilcoxon signed-rank, n = {}): p = {:.3}.", w.n, w.p))
        }
        None => sentence.push_str(&format!(" The across-listener test waits for {WILCOXON_MIN_LISTENERS} listeners.")),
    }
    sentence
}

fn share_cells(s: &Share) -> String {
    match s.share {
        Some(x) => format!(
            "{:>3}/{:<3} {:>5} [{:>4}, {:>4}] p={:.3}",
            s.chosen,
            s.chosen + s.other,
            pct(x),
            pct(s.ci[0]),
            pct(s.ci[1]),
            s.p
        ),
        None => "  no decided trial".to_string(),
    }
}

/// The tally as a table for stdout.
pub fn render_tally(t: &Tally) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\n\n", t.sentence));
    out.push_str(&format!(
        "Question: {}\nModified recipe: {}\n\n",
        t.question,
        t.recipes.iter().map(Recipe::to_string).collect::<Vec<_>>().join("; ")
    ));
    out.push_str(&format!(
        "{:<16} {:>6}  {:<36} {:>10}  {:<22}\n",
        "listener", "trials", "modified more real [95 % CI] sign p", "can't tell", "calibration (real)"
    ));
    let row = |name: &str, trials: String, s: &Share, cal: &Calibration| {
        format!(
            "{:<16} {:>6}  {:<36} {:>10}  {}/{} p={:.3}{}\n",
            name,
            trials,
            share_cells(s),
            s.cant_tell,
            cal.trials.chosen,
            cal.trials.chosen + cal.trials.other + cal.trials.cant_tell,
            cal.p_above_chance,
            if cal.at_chance { "  AT CHANCE" } else { "" }
        )
    };
    for l in &t.listeners {
        let trials = if l.excluded > 0 { format!("{}(-{})", l.trials, l.excluded) } else { l.trials.to_string() };
        out.push_str(&row(&l.listener, trials, &l.realism, &l.calibration));
    }
    let total: usize = t.listeners.iter().map(|l| l.trials).sum();
    out.push_str(&row("pooled", total.to_string(), &t.pooled, &t.calibration));
    out.push_str(&format!(
        "{:<16} {:>6}  {:<36} {:>10}\n",
        format!("calibrated ({})", t.calibrated_listeners),
        "",
        share_cells(&t.pooled_calibrated),
        t.pooled_calibrated.cant_tell
    ));
    if let Some(l) = &t.pooled_like {
        out.push_str(&format!("\nLiked more (modified), pooled: {}; no preference {}\n", share_cells(l), l.cant_tell));
    }
    match &t.wilcoxon {
        Some(w) => out.push_str(&format!(
            "\nWilcoxon signed-rank on per-listener shares vs 50 %: n = {}, W = {}, p = {:.4} ({})\n",
            w.n,
            w.statistic,
            w.p,
            if w.exact { "exact" } else { "normal approximation" }
        )),
        None => out.push_str(&format!(
            "\nWilcoxon signed-rank across listeners: needs {WILCOXON_MIN_LISTENERS} listeners ({} so far)\n",
            t.listeners.len()
        )),
    }
    for r in &t.refused {
        out.push_str(&format!("refused: {} {}\n", r.file, r.reason));
    }
    out
}

/// The "Listening test" section of a report.
pub fn report_section(t: &Tally) -> String {
    let mut h = String::new();
    h.push_str("<section id=\"listening-test\">\n<h2>Listening test</h2>\n");
    h.push_str(&format!("<p class=\"headline\">{}</p>\n", esc(&t.sentence)));
    h.push_str(&format!("<p>Question: <em>{}</em> Blind pairwise trials, sides and order shuffled per listener; \"can't tell\" is left out of the tests. Calibration trials pair a real piece with a model sample.</p>\n", esc(&t.question)));
    h.push_str("<table>\n<tr><th>listener</th><th>trials</th><th>modified more real</th><th>95 % CI</th><th>sign test p</th><th>can't tell</th><th>calibration (real picked)</th></tr>\n");
    let row = |name: &str, trials: usize, s: &Share, cal: &Calibration| {
        format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}/{}{}</td></tr>\n",
            esc(name),
            trials,
            s.share.map_or("-".into(), pct),
            format_args!("{} to {}", pct(s.ci[0]), pct(s.ci[1])),
            s.p,
            s.cant_tell,
            cal.trials.chosen,
            cal.trials.chosen + cal.trials.other + cal.trials.cant_tell,
            if cal.at_chance { " (at chance)" } else { "" }
        )
    };
    for l in &t.listeners {
        h.push_str(&row(&l.listener, l.trials, &l.realism, &l.calibration));
    }
    let total: usize = t.listeners.iter().map(|l| l.trials).sum();
    h.push_str(&row("pooled", total, &t.pooled, &t.calibration));
    h.push_str("</table>\n");
    if let Some(w) = &t.wilcoxon {
        h.push_str(&format!(
            "<p>Wilcoxon signed-rank test of the per-listener shares against 50 %: n = {}, p = {:.4}.</p>\n",
            w.n, w.p
        ));
    }
    h.push_str("</section>\n");
    h
}

const BEGIN: &str = "<!-- cadenza-listen -->";
const END: &str = "<!-- /cadenza-listen -->";

/// Puts the section into `report.html` (replacing an earlier one), before `</body>`.
pub fn add_to_report(report: &Path, t: &Tally) -> Result<(), ListenError> {
    let html =
        std::fs::read_to_string(report).map_err(|source| ListenError::Io { path: report.to_path_buf(), source })?;
    let section = format!("{BEGIN}\n{}{END}\n", report_section(t));
    let html = match (html.find(BEGIN), html.find(END)) {
        (Some(a), Some(b)) if b > a => {
            let end = b + END.len() + usize::from(html[b + END.len()..].starts_with('\n'));
            format!("{}{}{}", &html[..a], section, &html[end..])
        }
        _ => match html.rfind("</body>") {
            Some(i) => format!("{}{}{}", &html[..i], section, &html[i..]),
            None => format!("{html}{section}"),
        },
    };
    cadenza_atomic::write_atomic(report, html.as_bytes())
        .map_err(|source| ListenError::Io { path: report.to_path_buf(), source })
}
