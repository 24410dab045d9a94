//! The verdict table `cadenza compare` and `cadenza demo` print.

use crate::ComparisonReport;

/// An interval as the terminal tables print it: `+0.0123 [-0.0040, +0.0290]`.
pub(crate) fn ci(i: &crate::stats::Interval) -> String {
    format!("{:+.4} [{:+.4}, {:+.4}]", i.estimate, i.lo, i.hi)
}

/// The judge's lines for the terminal: each arm's AUC, log-odds and Fréchet distance, the
/// anchors, ΔAUC and what AUC means.
pub fn judge_lines(j: &crate::ComparisonJudge) -> String {
    let mut s =
        String::from("untargeted judge (logistic regression on 37 window features; held-out pieces and samples):\n");
    for a in &j.arms.arms {
        s.push_str(&format!(
            "  {:<10} AUC {:.3} [{:.3}, {:.3}]  log-odds {:+.2}  Fréchet {:.2}{}  most apart: {}\n",
            a.name,
            a.auc,
            a.interval[0],
            a.interval[1],
            a.mean_log_odds,
            a.frechet,
            if a.saturated { "  (saturated)" } else { "" },
            a.separating
                .iter()
                .take(3)
                .map(|g| format!("{} {:+.2}", g.feature, g.effect))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for x in j.floor.iter().chain(&j.ceiling) {
        s.push_str(&format!("  {}: AUC {:.3} [{:.3}, {:.3}]\n", x.name, x.auc, x.interval[0], x.interval[1]));
    }
    if let Some(d) = &j.arms.delta_auc {
        s.push_str(&format!(
            "  ΔAUC {} - {}: {:+.3} [{:+.3}, {:+.3}] (paired bootstrap)\n",
            d.minuend, d.subtrahend, d.estimate, d.interval[0], d.interval[1]
        ));
    }
    s.push_str("  AUC: how often the judge ranks a sample's window above a real one (0.5: cannot tell them apart; 1: always can; read it between the floor and the ceiling). At the ceiling, the log-odds and the Fréchet distance still rank the arms.\n");
    for n in &j.notes {
        s.push_str(&format!("  note: {n}\n"));
    }
    s
}

/// A plain-text summary of a comparison for the terminal: the rule's headline, the verdict
/// table and the judge.
pub fn summary_table(r: &ComparisonReport) -> String {
    let f = crate::report::num;
    let mut s = String::new();
    if let Some(h) = &r.headline {
        s.push_str(&format!("{}\n\n", h.sentence));
    }
    s.push_str(&format!(
        "{:<30} {:>9} {:>9} {:>9} {:>9}  {:<34} {:<34} {}\n",
        "",
        "base",
        "original",
        "modified",
        "reference",
        "modified - original [95% CI]",
        "improvement [95% CI]",
        "verdict"
    ));
    for v in &r.verdicts {
        let base = r.base.as_ref().and_then(|m| m.mean(&v.metric));
        s.push_str(&format!(
            "{:<30} {:>9} {:>9} {:>9} {:>9}  {:<34} {:<34} {}\n",
            v.metric,
            f(base),
            f(Some(v.original)),
            f(Some(v.modified)),
            f(r.reference.metrics.get(&v.metric).copied().flatten()),
            ci(&v.difference),
            ci(&v.improvement),
            v.verdict.label()
        ));
    }
    s.push_str(&format!(
        "{} seed(s) x {} samples per model; eval NLL cost of the modified model {:+.2} %\n",
        r.original.runs.len(),
        r.options.samples,
        100.0 * r.eval_nll_relative_cost
    ));
    s.push_str("The verdict reads the improvement: toward the reference's value for music features (|original - ref| - |modified - ref|), the better direction for the others.\n");
    if let Some(j) = &r.judge {
        s.push('\n');
        s.push_str(&judge_lines(j));
    }
    s
}
