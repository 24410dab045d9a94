//! The verdict table `cadenza compare` and `cadenza demo` print.

use crate::ComparisonReport;

/// An interval as the terminal tables print it: `+0.0123 [-0.0040, +0.0290]`.
pub(crate) fn ci(i: &crate::stats::Interval) -> String {
    format!("{:+.4} [{:+.4}, {:+.4}]", i.estimate, i.lo, i.hi)
}

/// A plain-text summary of a comparison for the terminal: the verdict table.
pub fn summary_table(r: &ComparisonReport) -> String {
    let f = crate::report::num;
    let mut s = format!(
        "{:<22} {:>9} {:>9} {:>9} {:>9}  {:<34} {}\n",
        "", "base", "original", "modified", "reference", "modified - original [95% CI]", "verdict"
    );
    for v in &r.verdicts {
        let base = r.base.as_ref().and_then(|m| m.mean(&v.metric));
        s.push_str(&format!(
            "{:<22} {:>9} {:>9} {:>9} {:>9}  {:<34} {}\n",
            v.metric,
            f(base),
            f(Some(v.original)),
            f(Some(v.modified)),
            f(r.reference.metrics.get(&v.metric).copied().flatten()),
            ci(&v.difference),
            v.verdict.label()
        ));
    }
    s.push_str(&format!(
        "{} seed(s) x {} samples per model; eval NLL cost of the modified model {:+.2} %\n",
        r.original.runs.len(),
        r.options.samples,
        100.0 * r.eval_nll_relative_cost
    ));
    s
}
