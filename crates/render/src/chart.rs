//! Small line charts as self-contained SVG: a grid of panels, each a few coloured lines over a
//! shared x axis, with the panel's title and its y range written as text the browser draws (no
//! font file needed, unlike a raster plot). For curves and drift figures embedded in reports.

use crate::score::escape_html as escape;

/// One line of a panel: its label (for the legend), an SVG colour and its points. Non-finite
/// values are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: String,
    pub colour: String,
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub lines: Vec<Line>,
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

fn panel(p: &Panel, x0: f64, y0: f64, w: f64, h: f64) -> String {
    let (ylo, yhi) = range(p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.1)));
    let (xlo, xhi) = range(p.lines.iter().flat_map(|l| l.points.iter().map(|q| q.0)));
    let px = |x: f64| x0 + 46.0 + (x - xlo) / (xhi - xlo) * (w - 56.0);
    let py = |y: f64| y0 + h - 22.0 - (y - ylo) / (yhi - ylo) * (h - 44.0);
    let mut s = format!(
        "<g><rect x=\"{x0}\" y=\"{y0}\" width=\"{w}\" height=\"{h}\" fill=\"white\" stroke=\"#ccc\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
        x0 + 6.0,
        y0 + 14.0,
        escape(&p.title),
        x0 + 2.0,
        py(yhi) + 4.0,
        short(yhi),
        x0 + 2.0,
        py(ylo) + 4.0,
        short(ylo),
        px(xlo),
        y0 + h - 6.0,
        short(xlo),
        px(xhi),
        y0 + h - 6.0,
        short(xhi),
    );
    for l in &p.lines {
        let pts: Vec<String> = l
            .points
            .iter()
            .filter(|q| q.0.is_finite() && q.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        s.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            escape(&l.colour),
            pts.join(" "),
            escape(&l.label)
        ));
    }
    s.push_str("</g>");
    s
}

fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// Panels laid out `columns` to a row under a one-line caption; the legend lists every line
/// label once with its colour.
pub fn panels_svg(caption: &str, panels: &[Panel], columns: usize, panel_size: (f64, f64)) -> String {
    let cols = columns.max(1);
    let (pw, ph) = panel_size;
    let rows = panels.len().div_ceil(cols).max(1);
    let mut legend: Vec<(&str, &str)> = Vec::new();
    for l in panels.iter().flat_map(|p| &p.lines) {
        if !legend.iter().any(|(label, _)| *label == l.label) {
            legend.push((&l.label, &l.colour));
        }
    }
    let (width, height) = (cols as f64 * pw, rows as f64 * ph + 44.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\">\
<text x=\"8\" y=\"16\" font-size=\"13\">{}</text>",
        escape(caption)
    );
    let mut x = 8.0;
    for (label, colour) in legend {
        s.push_str(&format!(
            "<rect x=\"{x}\" y=\"26\" width=\"14\" height=\"4\" fill=\"{}\"/><text x=\"{}\" y=\"32\" font-size=\"11\">{}</text>",
            escape(colour),
            x + 18.0,
            escape(label)
        ));
        x += 30.0 + 7.0 * label.chars().count() as f64;
    }
    for (i, p) in panels.iter().enumerate() {
        s.push_str(&panel(p, (i % cols) as f64 * pw, 44.0 + (i / cols) as f64 * ph, pw - 6.0, ph - 6.0));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_draw_every_finite_point_and_escape_text() {
        let p = Panel {
            title: "loss <eval>".into(),
            lines: vec![
                Line {
                    label: "a".into(),
                    colour: "#d62728".into(),
                    points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)],
                },
                Line { label: "b".into(), colour: "#1f77b4".into(), points: vec![(0.0, 2.0), (2.0, 2.0)] },
            ],
        };
        let svg = panels_svg("x & y", &[p.clone(), p], 2, (300.0, 160.0));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("loss &lt;eval&gt;") && svg.contains("x &amp; y"));
        // Two points survive of line a (the NaN is skipped).
        let first = svg.split("points=\"").nth(1).unwrap();
        assert_eq!(first.split('"').next().unwrap().split(' ').count(), 2);
    }
}
