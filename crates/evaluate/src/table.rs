//! The plain-text table `cadenza evaluate` prints: per-sample metrics, then the comparison
//! against the reference.

use crate::{Report, FEATURES, IOI_BIN_EDGES};
use std::fmt::Write as _;

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "-".into(),
    }
}

fn short_name(p: &str) -> String {
    let parts: Vec<&str> = p.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    let tail = parts.len().saturating_sub(3);
    let s = parts[tail..].join("/");
    if s.chars().count() > 44 {
        let skip = s.chars().count() - 43;
        format!("…{}", s.chars().skip(skip).collect::<String>())
    } else {
        s
    }
}

/// The plain-text report: one row per sample, then one row per feature (samples mean ± std,
/// and with a reference: its mean ± std, OA, KL, and the inter-set OA and KL).
pub fn render_table(r: &Report) -> String {
    let mut o = String::new();
    let e = &r.evaluation;
    let _ = writeln!(o, "samples: {} ({} files)", r.samples_path, e.samples.len());
    let _ = writeln!(
        o,
        "{:<44} {:>5} {:>6} {:<9} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
        "sample",
        "notes",
        "sec",
        "key",
        "inKey",
        "keyC",
        "scale",
        "H_pc",
        "poly",
        "dens",
        "range",
        "vel",
        "groov",
        "empty",
        "CPI",
        "SI"
    );
    for s in &e.samples {
        let _ = writeln!(
            o,
            "{:<44} {:>5} {:>6.1} {:<9} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
            short_name(&s.name),
            s.num_notes,
            s.seconds,
            s.key.as_ref().map_or("-".to_string(), |k| k.name.replace(" major", " maj").replace(" minor", " min")),
            num(s.in_key_ratio, 2),
            num(s.key_consistency, 2),
            num(s.scale_consistency, 2),
            num(s.pitch_class_entropy, 2),
            num(s.polyphony, 2),
            num(s.note_density, 1),
            num(s.pitch_range, 0),
            num(s.velocity_mean, 0),
            num(s.groove_consistency, 2),
            num(s.empty_beat_rate, 2),
            num(s.chord_progression_irregularity, 2),
            num(s.structureness, 2),
        );
    }
    let _ = writeln!(o);
    // The feature column fits the longest name.
    let w = FEATURES.iter().map(|f| f.len()).max().unwrap_or(0);
    match (&r.reference, &r.comparison) {
        (Some(re), Some(c)) => {
            let _ = writeln!(
                o,
                "reference: {} ({}, {} sequences); OA and KL(reference || samples, nats) of Gaussian KDEs (Yang & Lerch 2018); inter = intra-reference vs. inter-set distances",
                r.reference_path.as_deref().unwrap_or("?"),
                r.reference_split.as_deref().unwrap_or("?"),
                re.samples.len()
            );
            let _ = writeln!(
                o,
                "{:<w$} {:>19} {:>19} {:>6} {:>7} {:>8} {:>9}",
                "feature", "samples mean±std", "reference mean±std", "OA", "KL", "inter OA", "inter KL"
            );
            for f in &c.features {
                let ms = format!("{}±{}", num(f.samples.mean, 3), num(f.samples.std, 3));
                let mr = format!("{}±{}", num(f.reference.mean, 3), num(f.reference.std, 3));
                let _ = writeln!(
                    o,
                    "{:<w$} {:>19} {:>19} {:>6} {:>7} {:>8} {:>9}",
                    f.feature,
                    ms,
                    mr,
                    num(f.distribution.map(|d| d.overlap_area), 3),
                    num(f.distribution.map(|d| d.kl_divergence), 3),
                    num(f.inter_set.map(|d| d.overlap_area), 3),
                    num(f.inter_set.map(|d| d.kl_divergence), 3),
                );
            }
            let _ = writeln!(o, "mean OA over features: {}", num(c.mean_overlap_area, 3));
        }
        _ => {
            let _ = writeln!(o, "{:<w$} {:>6} {:>9} {:>9} {:>9} {:>9}", "feature", "n", "mean", "std", "min", "max");
            for f in FEATURES {
                if let Some(s) = e.summary(f) {
                    let _ = writeln!(
                        o,
                        "{:<w$} {:>6} {:>9} {:>9} {:>9} {:>9}",
                        f,
                        s.n,
                        num(s.mean, 3),
                        num(s.std, 3),
                        num(s.min, 3),
                        num(s.max, 3)
                    );
                }
            }
        }
    }
    let labels: Vec<String> = IOI_BIN_EDGES
        .windows(2)
        .map(|w| if w[1].is_finite() { format!("<{}", w[1]) } else { format!("≥{}", w[0]) })
        .collect();
    let _ = writeln!(
        o,
        "IOI histogram (s, mean over samples): {}",
        labels.iter().zip(&e.ioi_histogram_mean).map(|(l, v)| format!("{l}:{v:.2}")).collect::<Vec<_>>().join(" ")
    );
    if let Some(re) = &r.reference {
        let _ = writeln!(
            o,
            "IOI histogram (s, reference):         {}",
            labels.iter().zip(&re.ioi_histogram_mean).map(|(l, v)| format!("{l}:{v:.2}")).collect::<Vec<_>>().join(" ")
        );
    }
    o
}
