//! The verdict rule: when the modified model makes "better classical music". Written down (in
//! the README and here) before it was run, so that a recipe cannot win by pushing the metric
//! its own loss targets. All three must hold:
//!
//! * **(a) The untargeted judge** (`cadenza_judge`) does not find the modified model's samples
//!   easier to tell from the real music than the original's: neither the interval of ΔAUC
//!   (modified − original) nor that of the per-sample held-out log-odds lies above 0. When the
//!   judge could not run, (a) is not met.
//! * **(b) The music:** at least one harmony or rhythm measure of the samples improves (its
//!   interval of improvement excludes 0), and no measure of the samples moves away from the
//!   reference by more than its interval (a "worse" verdict). Moving toward the reference is
//!   what counts: overshooting the real music's value (in-key above the pieces' own) is worse.
//! * **(c) The likelihood:** the eval NLL costs at most 2 %.

use crate::stats::{MetricVerdict, Verdict};
use cadenza_judge::arms::DeltaAuc;
use serde::{Deserialize, Serialize};

/// The harmony measures of the samples (the seed's "clear tonality, clear chord progression").
pub const HARMONY_MEASURES: [&str; 7] = [
    "in_key_ratio",
    "key_consistency",
    "scale_consistency",
    "pitch_class_entropy",
    "pitch_class_overlap",
    "chord_progression_irregularity",
    "dominant_tonic_ratio",
];
/// The rhythm measures of the samples (the seed's "good sense of rhythm").
pub const RHYTHM_MEASURES: [&str; 7] = [
    "ioi_overlap",
    "rhythm_ratio_overlap",
    "groove_consistency",
    "on_grid_ratio",
    "ioi_mean",
    "ioi_std",
    "empty_beat_rate",
];
/// The most the eval NLL may cost, relative.
pub const MAX_NLL_COST: f64 = 0.02;
/// The judge's per-sample score in the verdict table.
pub const JUDGE_METRIC: &str = "judge_log_odds";

/// One part of the rule: met or not (`None`: could not be measured), and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub met: Option<bool>,
    pub detail: String,
}

/// The rule's outcome and its one-sentence headline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    pub better: bool,
    pub judge: Part,
    pub music: Part,
    pub likelihood: Part,
    pub sentence: String,
}

/// Is a verdict row one of the samples' music measures (not a model number, not the judge)?
fn is_music(metric: &str) -> bool {
    !metric.starts_with("eval_") && metric != JUDGE_METRIC
}

/// Applies the rule to a comparison's (or a pooled comparison's) verdicts. Rows named in
/// `ignore` do not count in (b): the dynamics rows when the real music is scores, which have
/// none (a performance model does not get better by playing deadpan).
pub fn headline(
    verdicts: &[MetricVerdict],
    delta_auc: Option<&DeltaAuc>,
    nll_cost: Option<f64>,
    ignore: &[String],
) -> Headline {
    let verdicts: Vec<&MetricVerdict> = verdicts.iter().filter(|v| !ignore.contains(&v.metric)).collect();
    let f = |x: f64| format!("{x:+.3}");
    // (a)
    let log_odds = verdicts.iter().find(|v| v.metric == JUDGE_METRIC).copied();
    let judge = match (delta_auc, log_odds) {
        (None, None) => Part { met: None, detail: "the judge could not run (samples too short or too few)".into() },
        _ => {
            let mut bad = Vec::new();
            let mut shown = Vec::new();
            if let Some(d) = delta_auc {
                shown.push(format!("ΔAUC {} [{}, {}]", f(d.estimate), f(d.interval[0]), f(d.interval[1])));
                if d.interval[0] > 0.0 {
                    bad.push("ΔAUC");
                }
            }
            if let Some(v) = log_odds {
                let i = &v.difference;
                shown.push(format!("Δlog-odds {} [{}, {}]", f(i.estimate), f(i.lo), f(i.hi)));
                if i.lo > 0.0 {
                    bad.push("Δlog-odds");
                }
            }
            Part {
                met: Some(bad.is_empty()),
                detail: if bad.is_empty() {
                    format!(
                        "the judge finds the modified samples no easier to tell from real music ({})",
                        shown.join(", ")
                    )
                } else {
                    format!(
                        "the judge finds the modified samples easier to tell from real music ({})",
                        shown.join(", ")
                    )
                },
            }
        }
    };
    // (b)
    let improved: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Better)
        .filter(|v| HARMONY_MEASURES.contains(&v.metric.as_str()) || RHYTHM_MEASURES.contains(&v.metric.as_str()))
        .map(|v| v.metric.as_str())
        .collect();
    let away: Vec<&str> = verdicts
        .iter()
        .filter(|v| is_music(&v.metric) && v.verdict == Verdict::Worse)
        .map(|v| v.metric.as_str())
        .collect();
    let music = match (improved.is_empty(), away.is_empty()) {
        (false, true) => {
            Part { met: Some(true), detail: format!("improved: {}; none moved away", improved.join(", ")) }
        }
        (true, true) => {
            Part { met: Some(false), detail: "no harmony or rhythm measure improved beyond its interval".into() }
        }
        (_, false) => Part {
            met: Some(false),
            detail: format!(
                "moved away from the reference: {}{}",
                away.join(", "),
                if improved.is_empty() { String::new() } else { format!(" (improved: {})", improved.join(", ")) }
            ),
        },
    };
    // (c)
    let likelihood = match nll_cost {
        Some(c) if c.is_finite() => Part {
            met: Some(c <= MAX_NLL_COST),
            detail: format!("eval NLL {:+.2} % (at most {:+.0} %)", 100.0 * c, 100.0 * MAX_NLL_COST),
        },
        _ => Part { met: None, detail: "no eval NLL".into() },
    };
    let better = [&judge, &music, &likelihood].iter().all(|p| p.met == Some(true));
    let failed: Vec<String> = [("(a) judge", &judge), ("(b) music", &music), ("(c) likelihood", &likelihood)]
        .iter()
        .filter(|(_, p)| p.met != Some(true))
        .map(|(n, p)| format!("{n}: {}", p.detail))
        .collect();
    let sentence = if better {
        format!(
            "Better classical music by the rule: yes. (a) {}; (b) {}; (c) {}.",
            judge.detail, music.detail, likelihood.detail
        )
    } else {
        format!("Better classical music by the rule: no. {}.", failed.join("; "))
    };
    Headline { better, judge, music, likelihood, sentence }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Goal, Interval};

    fn row(metric: &str, verdict: Verdict, d: (f64, f64, f64)) -> MetricVerdict {
        let i = Interval { estimate: d.0, lo: d.1, hi: d.2 };
        MetricVerdict {
            metric: metric.into(),
            goal: Goal::Higher,
            original: 0.0,
            modified: 0.0,
            difference: i,
            improvement: i,
            verdict,
            seeds: 1,
            samples: 1,
        }
    }

    #[test]
    fn every_part_must_hold() {
        let d = DeltaAuc {
            minuend: "modified".into(),
            subtrahend: "original".into(),
            estimate: -0.01,
            interval: [-0.03, 0.01],
        };
        let good = vec![
            row("in_key_ratio", Verdict::Better, (0.1, 0.05, 0.15)),
            row(JUDGE_METRIC, Verdict::NoClearDifference, (0.0, -0.2, 0.2)),
            row("polyphony", Verdict::NoClearDifference, (0.0, -1.0, 1.0)),
        ];
        let h = headline(&good, Some(&d), Some(0.01), &[]);
        assert!(h.better, "{}", h.sentence);
        // (a): the judge finds the modified samples easier to tell.
        let easier = DeltaAuc { interval: [0.01, 0.05], estimate: 0.03, ..d.clone() };
        let h = headline(&good, Some(&easier), Some(0.01), &[]);
        assert!(!h.better && h.judge.met == Some(false) && h.sentence.contains("(a) judge"), "{}", h.sentence);
        // (b): a measure moved away (overshoot counts).
        let mut away = good.clone();
        away.push(row("polyphony", Verdict::Worse, (2.0, 1.0, 3.0)));
        let h = headline(&away, Some(&d), Some(0.01), &[]);
        assert!(!h.better && h.sentence.contains("moved away from the reference: polyphony"), "{}", h.sentence);
        // ... unless that row is ignored (dynamics against scores).
        assert!(headline(&away, Some(&d), Some(0.01), &["polyphony".to_string()]).better);
        // (b): nothing improved; a model number's "better" does not count.
        let none = vec![row("eval_harmony_cost", Verdict::Better, (-0.1, -0.2, -0.05))];
        assert_eq!(headline(&none, Some(&d), Some(0.0), &[]).music.met, Some(false));
        // (c)
        let h = headline(&good, Some(&d), Some(0.025), &[]);
        assert!(!h.better && h.likelihood.met == Some(false));
        // No judge: not met.
        let no_judge: Vec<MetricVerdict> = good.iter().filter(|v| v.metric != JUDGE_METRIC).cloned().collect();
        let h = headline(&no_judge, None, Some(0.0), &[]);
        assert!(!h.better && h.judge.met.is_none() && h.sentence.contains("could not run"), "{}", h.sentence);
    }
}
