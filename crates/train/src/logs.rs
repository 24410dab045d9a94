//! What a training run leaves for people: `metrics.csv`, TensorBoard event files (train and
//! eval as separate runs, Magenta's scalar tags), and loss/accuracy curves as SVG and PNG.

use crate::metrics::Metrics;
use prost::Message;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CSV_HEADER: &str = "step,split,loss,perplexity,accuracy,event_accuracy,no_event_accuracy,learning_rate";

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    pub split: String,
    pub m: Metrics,
    pub learning_rate: f64,
}

/// `RUN_DIR/metrics.csv`, one row per summary or evaluation.
pub struct MetricsCsv {
    path: PathBuf,
    pub rows: Vec<Row>,
}

impl MetricsCsv {
    /// Opens the file, keeping only rows up to `resume_step` (rows a killed run wrote after
    /// its last checkpoint are dropped, so a resumed run does not log a step twice).
    pub fn open(run_dir: &Path, resume_step: u64) -> std::io::Result<Self> {
        let path = run_dir.join("metrics.csv");
        let mut rows = Vec::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                if f.len() != 8 {
                    continue;
                }
                let num = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
                let step = f[0].parse::<u64>().unwrap_or(u64::MAX);
                if step > resume_step {
                    continue;
                }
                rows.push(Row {
                    step,
                    split: f[1].to_string(),
                    m: Metrics {
                        loss: num(2),
                        perplexity: num(3),
                        accuracy: num(4),
                        event_accuracy: num(5),
                        no_event_accuracy: num(6),
                        loss_per_step: f64::NAN,
                        tokens: 0,
                    },
                    learning_rate: num(7),
                });
            }
        }
        let me = MetricsCsv { path, rows };
        me.rewrite()?;
        Ok(me)
    }

    fn line(r: &Row) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            r.step,
            r.split,
            r.m.loss,
            r.m.perplexity,
            r.m.accuracy,
            r.m.event_accuracy,
            r.m.no_event_accuracy,
            r.learning_rate
        )
    }

    fn rewrite(&self) -> std::io::Result<()> {
        let mut s = String::from(CSV_HEADER);
        s.push('\n');
        for r in &self.rows {
            s.push_str(&Self::line(r));
            s.push('\n');
        }
        cadenza_atomic::write_atomic(&self.path, s.as_bytes())
    }

    pub fn push(&mut self, row: Row) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        writeln!(f, "{}", Self::line(&row))?;
        self.rows.push(row);
        Ok(())
    }
}

// TensorFlow's Event / Summary protos, only the fields TensorBoard needs for scalars.
#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(double, tag = "1")]
    wall_time: f64,
    #[prost(int64, tag = "2")]
    step: i64,
    #[prost(string, optional, tag = "3")]
    file_version: Option<String>,
    #[prost(message, optional, tag = "5")]
    summary: Option<Summary>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Summary {
    #[prost(message, repeated, tag = "1")]
    value: Vec<SummaryValue>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct SummaryValue {
    #[prost(string, tag = "1")]
    tag: String,
    #[prost(float, optional, tag = "2")]
    simple_value: Option<f32>,
}

/// A TensorBoard event file (`events.out.tfevents.*`) in `dir`.
pub struct EventWriter {
    file: std::fs::File,
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl EventWriter {
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let host =
            std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "cadenza".into());
        let path = dir.join(format!("events.out.tfevents.{}.{}.{}", now() as u64, host, std::process::id()));
        let mut w = EventWriter { file: std::fs::File::create(path)? };
        w.write(&Event { wall_time: now(), step: 0, file_version: Some("brain.Event:2".into()), summary: None })?;
        Ok(w)
    }

    fn write(&mut self, e: &Event) -> std::io::Result<()> {
        self.file.write_all(&cadenza_mag::tfrecord::encode_record(&e.encode_to_vec()))?;
        self.file.flush()
    }

    /// Magenta's tags: `loss`, `metrics/perplexity`, `metrics/accuracy`, … and `learning_rate`.
    pub fn scalars(&mut self, step: u64, m: &Metrics, lr: Option<f64>) -> std::io::Result<()> {
        let mut value = vec![
            ("loss", m.loss),
            ("metrics/perplexity", m.perplexity),
            ("metrics/accuracy", m.accuracy),
            ("metrics/event_accuracy", m.event_accuracy),
            ("metrics/no_event_accuracy", m.no_event_accuracy),
            ("metrics/loss_per_step", m.loss_per_step),
            ("metrics/perplexity_per_step", m.loss_per_step.exp()),
        ];
        if let Some(lr) = lr {
            value.push(("learning_rate", lr));
        }
        let summary = Summary {
            value: value
                .into_iter()
                .map(|(t, v)| SummaryValue { tag: t.to_string(), simple_value: Some(v as f32) })
                .collect(),
        };
        self.write(&Event { wall_time: now(), step: step as i64, file_version: None, summary: Some(summary) })
    }
}

/// Reads back the scalars of an event file: (step, tag, value). For tests and tools.
pub fn read_events(path: &Path) -> Result<Vec<(i64, String, f32)>, String> {
    let recs = cadenza_mag::tfrecord::read_file(path).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in recs {
        let e = Event::decode(r.as_slice()).map_err(|e| e.to_string())?;
        if let Some(s) = e.summary {
            for v in s.value {
                out.push((e.step, v.tag, v.simple_value.unwrap_or(f32::NAN)));
            }
        }
    }
    Ok(out)
}

pub(crate) fn font() -> bool {
    use std::sync::OnceLock;
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        for p in [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        ] {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// `curves.svg` and `curves.png`: loss (top) and accuracy (bottom), train (blue) vs eval
/// (red), by step. Axis labels need a system font (Debian's fonts-dejavu-core).
pub fn plot_curves(rows: &[Row], out_dir: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, plotters::coord::Shift>,
        rows: &[Row],
        text: bool,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let areas = root.split_evenly((2, 1));
        let max_step = rows.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
        for (ai, area) in areas.iter().enumerate() {
            let pick = |r: &Row| if ai == 0 { r.m.loss } else { r.m.accuracy };
            let vals: Vec<f64> = rows.iter().map(pick).filter(|v| v.is_finite()).collect();
            let (lo, hi) = if ai == 0 { (0.0, vals.iter().cloned().fold(0.1, f64::max) * 1.05) } else { (0.0, 1.0) };
            let mut b = ChartBuilder::on(area);
            b.margin(12).x_label_area_size(if text { 30 } else { 5 }).y_label_area_size(if text { 50 } else { 5 });
            if text {
                b.caption(if ai == 0 { "loss" } else { "accuracy" }, ("sans-serif", 18));
            }
            let mut chart = b.build_cartesian_2d(0.0..max_step, lo..hi).map_err(e)?;
            if text {
                chart.configure_mesh().x_desc("step").draw().map_err(e)?;
            }
            for (split, color) in [("train", BLUE), ("eval", RED)] {
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.split == split && pick(r).is_finite())
                    .map(|r| (r.step as f64, pick(r)))
                    .collect();
                let s = chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2))).map_err(e)?;
                if text {
                    s.label(split).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                }
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, color.filled()))).map_err(e)?;
            }
            if text {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw()
                    .map_err(e)?;
            }
        }
        root.present().map_err(|x| x.to_string())
    }
    write_figure(out_dir, "curves", (900, 700), |a, text| draw(a, rows, text), |a, text| draw(a, rows, text))
}

/// One figure as `NAME.svg` and `NAME.png` in `out_dir`, each drawn into a temporary file and
/// renamed into place. `svg` and `png` draw it on each backend (the same generic function; a
/// closure cannot be generic), told whether a font is there to lay out text (without one the
/// figure is drawn bare).
pub(crate) fn write_figure(
    out_dir: &Path,
    name: &str,
    size: (u32, u32),
    svg: impl FnOnce(
        plotters::drawing::DrawingArea<plotters::prelude::SVGBackend, plotters::coord::Shift>,
        bool,
    ) -> Result<(), String>,
    png: impl FnOnce(
        plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend, plotters::coord::Shift>,
        bool,
    ) -> Result<(), String>,
) -> Result<(), String> {
    use plotters::prelude::*;
    let text = font();
    let (tmp_svg, tmp_png) = (out_dir.join(format!(".{name}.tmp.svg")), out_dir.join(format!(".{name}.tmp.png")));
    let drawn = svg(SVGBackend::new(&tmp_svg, size).into_drawing_area(), text)
        .and_then(|()| png(BitMapBackend::new(&tmp_png, size).into_drawing_area(), text));
    if let Err(e) = drawn {
        let _ = std::fs::remove_file(&tmp_svg);
        let _ = std::fs::remove_file(&tmp_png);
        return Err(e);
    }
    std::fs::rename(&tmp_svg, out_dir.join(format!("{name}.svg"))).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp_png, out_dir.join(format!("{name}.png"))).map_err(|e| e.to_string())?;
    Ok(())
}
