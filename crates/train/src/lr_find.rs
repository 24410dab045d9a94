//! Leslie Smith's learning-rate range test, with its curve (`lr_find.csv/json/svg/png`).

use crate::data::{examples, scalar, Cursor};
use crate::error::{ferr, write_json_atomic, TrainError};
use crate::hparams::{HParams, HParamsOverrides};
use crate::network::{Batch, PerformanceRnn};
use crate::optim::{adam, ClipEach};
use burn::module::Module;
use burn::optim::GradientsParams;
use cadenza_dataset::Dataset;
use cadenza_model::{ModelConfig, Weights};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One point of an LR range test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrPoint {
    pub step: u64,
    pub learning_rate: f64,
    pub loss: f64,
    /// Exponential moving average of the loss (β = 0.98), bias-corrected.
    pub smoothed_loss: f64,
}

/// `lr_find.json`: the curve and what it suggests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LrFind {
    pub points: Vec<LrPoint>,
    /// Learning rate where the smoothed loss falls fastest (per log-LR).
    pub steepest: Option<f64>,
    /// Learning rate of the lowest smoothed loss.
    pub min_loss: Option<f64>,
    /// The range test's usual pick: the steepest point, capped at a tenth of the minimum's
    /// learning rate; a cyclical schedule would use it as `upper` and a quarter as `lower`.
    pub suggested: Option<f64>,
    pub stopped: String,
}

/// Options of [`lr_find`].
#[derive(Debug, Clone)]
pub struct LrFindOptions {
    pub dataset: PathBuf,
    pub out: PathBuf,
    pub init: Option<PathBuf>,
    pub layers: Vec<usize>,
    pub overrides: HParamsOverrides,
    pub min_lr: f64,
    pub max_lr: f64,
    pub steps: u64,
    pub seed: u64,
    pub progress: bool,
    pub device: crate::DeviceChoice,
    /// Where the device in use is told (with `progress`); the binary prints it.
    pub on_event: crate::OnEvent,
}

/// Leslie Smith's learning-rate range test: from `min_lr` to `max_lr` exponentially over
/// `steps` training steps (Magenta's recipe otherwise: Adam, per-tensor clipping, the
/// hyper-parameters of `overrides`), recording the loss; stops once the smoothed loss exceeds 4×
/// its best. Writes `lr_find.csv`, `lr_find.json` and `lr_find.svg/png` (loss against
/// log learning rate) to `out`. The model is not saved: the test only reads the curve.
pub fn lr_find(o: &LrFindOptions) -> Result<LrFind, TrainError> {
    if !(o.min_lr > 0.0 && o.max_lr > o.min_lr && o.steps >= 2) {
        return Err(TrainError::Setup("the range test needs 0 < min_lr < max_lr and at least 2 steps".into()));
    }
    let ds = Dataset::open(&o.dataset)?;
    if ds.train.is_empty() {
        return Err(TrainError::Setup(format!("{}: the training split is empty", o.dataset.display())));
    }
    let mut hp = HParams::default();
    let layers = o.overrides.apply(&mut hp).map_err(TrainError::Setup)?;
    let weights = match &o.init {
        Some(p) => Weights::load(p)?,
        None => Weights::init(ModelConfig::new(ds.manifest.config, layers.unwrap_or_else(|| o.layers.clone())), o.seed),
    };
    let model = weights.config.clone();
    let config = model.config;
    let sel = crate::device::select(o.device).map_err(TrainError::Setup)?;
    if o.progress {
        o.on_event.emit(crate::TrainEvent::Device(sel.summary()));
    }
    let dev = sel.device.clone().autodiff();
    let mut net = PerformanceRnn::from_weights(&weights, &dev);
    let mut optim = adam();
    let _lock = cadenza_atomic::DirLock::acquire(&o.out, "learning-rate range test")?;
    let mut cursor = Cursor::new(ds.train.len(), o.seed, 0, 0);
    let bar = if o.progress { indicatif::ProgressBar::new(o.steps) } else { indicatif::ProgressBar::hidden() };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} lr-find {pos}/{len} [{bar:30}] {msg}")
            .unwrap()
            .progress_chars("=> "),
    );
    let ratio = (o.max_lr / o.min_lr).ln();
    let (mut avg, mut best) = (0.0f64, f64::INFINITY);
    let mut points: Vec<LrPoint> = Vec::new();
    let mut stopped = format!("reached the maximum learning rate {} after {} steps", o.max_lr, o.steps);
    for step in 0..o.steps {
        let lr = o.min_lr * (ratio * step as f64 / (o.steps - 1) as f64).exp();
        let ids = cursor.next(hp.batch_size, o.seed);
        let batch = Batch::new(config, &examples(&ds.train, &ids), ids);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(o.seed.wrapping_mul(31).wrapping_add(step));
        let out = net.forward(&model, &batch, hp.dropout_keep_prob, &mut rng);
        let loss = scalar(out.loss.clone());
        if !loss.is_finite() {
            stopped = format!("the loss became {loss} at learning rate {lr:.3e}");
            break;
        }
        avg = 0.98 * avg + 0.02 * loss;
        let smoothed = avg / (1.0 - 0.98f64.powi(step as i32 + 1));
        points.push(LrPoint { step, learning_rate: lr, loss, smoothed_loss: smoothed });
        bar.set_position(step + 1);
        bar.set_message(format!("lr {lr:.2e} loss {smoothed:.4}"));
        best = best.min(smoothed);
        if step > 5 && smoothed > 4.0 * best {
            stopped = format!("the smoothed loss passed 4× its best at learning rate {lr:.3e}");
            break;
        }
        let mut grads = GradientsParams::from_grads(out.loss.backward(), &net);
        net.visit(&mut ClipEach { grads: &mut grads, clip: hp.clip_norm });
        net = optim.step(lr, net, grads);
    }
    bar.finish_and_clear();
    // Steepest descent of the smoothed loss per unit of ln(lr), over a 5-point window,
    // ignoring the first tenth (the moving average is still warming up).
    let skip = points.len() / 10;
    let min_at = points
        .iter()
        .enumerate()
        .skip(skip)
        .min_by(|a, b| a.1.smoothed_loss.total_cmp(&b.1.smoothed_loss))
        .map_or(points.len(), |(i, _)| i + 1);
    let mut steepest: Option<(f64, f64)> = None;
    // Only before the lowest loss: past it the loss is diverging, and a lucky drop there
    // is no place to train.
    for w in points[..min_at.min(points.len())].windows(5).skip(skip) {
        let slope = (w[4].smoothed_loss - w[0].smoothed_loss) / (w[4].learning_rate.ln() - w[0].learning_rate.ln());
        if steepest.is_none_or(|(s, _)| slope < s) {
            steepest = Some((slope, w[2].learning_rate));
        }
    }
    let min_loss =
        points.iter().skip(skip).min_by(|a, b| a.smoothed_loss.total_cmp(&b.smoothed_loss)).map(|p| p.learning_rate);
    let steepest = steepest.filter(|(s, _)| *s < 0.0).map(|(_, lr)| lr);
    let suggested = match (steepest, min_loss) {
        (Some(s), Some(m)) => Some(s.min(m / 10.0).max(o.min_lr)),
        (Some(s), None) => Some(s),
        (None, Some(m)) => Some(m / 10.0),
        _ => None,
    };
    let r = LrFind { points, steepest, min_loss, suggested, stopped };
    let mut csv = String::from("step,learning_rate,loss,smoothed_loss\n");
    for p in &r.points {
        csv.push_str(&format!("{},{},{},{}\n", p.step, p.learning_rate, p.loss, p.smoothed_loss));
    }
    cadenza_atomic::write_atomic(&o.out.join("lr_find.csv"), csv.as_bytes())
        .map_err(|e| ferr(&o.out.join("lr_find.csv"), e))?;
    write_json_atomic(&o.out.join("lr_find.json"), &r)?;
    plot_lr_find(&r.points, r.suggested, &o.out).map_err(|e| ferr(&o.out, e))?;
    Ok(r)
}

/// `lr_find.svg` and `lr_find.png`: loss (raw and smoothed) against the learning rate on a
/// log axis, with the suggested learning rate marked.
pub fn plot_lr_find(points: &[LrPoint], suggested: Option<f64>, out_dir: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    fn draw<DB: DrawingBackend>(
        root: DrawingArea<DB, plotters::coord::Shift>,
        points: &[LrPoint],
        suggested: Option<f64>,
        text: bool,
    ) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
        root.fill(&WHITE).map_err(e)?;
        let (lo_lr, hi_lr) = (
            points.first().map_or(1e-6, |p| p.learning_rate),
            points
                .last()
                .map_or(1.0, |p| p.learning_rate)
                .max(points.first().map_or(1e-6, |p| p.learning_rate) * 1.0001),
        );
        let vals: Vec<f64> = points.iter().flat_map(|p| [p.loss, p.smoothed_loss]).filter(|v| v.is_finite()).collect();
        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min).min(1e9);
        let first = points.first().map_or(1.0, |p| p.smoothed_loss);
        let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max).min(first * 2.0).max(lo + 1e-3);
        let mut b = ChartBuilder::on(&root);
        b.margin(15).x_label_area_size(if text { 35 } else { 5 }).y_label_area_size(if text { 55 } else { 5 });
        if text {
            b.caption("learning-rate range test", ("sans-serif", 20));
        }
        let mut chart = b.build_cartesian_2d((lo_lr..hi_lr).log_scale(), lo..hi).map_err(e)?;
        if text {
            chart
                .configure_mesh()
                .x_desc("learning rate")
                .y_desc("loss")
                .x_label_formatter(&|x| format!("{x:.0e}"))
                .draw()
                .map_err(e)?;
        }
        let raw: Vec<(f64, f64)> = points.iter().map(|p| (p.learning_rate, p.loss.min(hi))).collect();
        let sm: Vec<(f64, f64)> = points.iter().map(|p| (p.learning_rate, p.smoothed_loss.min(hi))).collect();
        let s = chart.draw_series(LineSeries::new(raw, BLUE.mix(0.35).stroke_width(1))).map_err(e)?;
        if text {
            s.label("loss").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.mix(0.35)));
        }
        let s = chart.draw_series(LineSeries::new(sm, BLUE.stroke_width(2))).map_err(e)?;
        if text {
            s.label("smoothed").legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        }
        if let Some(lr) = suggested {
            let s = chart.draw_series(LineSeries::new(vec![(lr, lo), (lr, hi)], RED.stroke_width(2))).map_err(e)?;
            if text {
                s.label(format!("suggested {lr:.1e}"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
            }
        }
        if text {
            chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw().map_err(e)?;
        }
        root.present().map_err(|x| x.to_string())
    }
    crate::logs::write_figure(
        out_dir,
        "lr_find",
        (900, 600),
        |a, text| draw(a, points, suggested, text),
        |a, text| draw(a, points, suggested, text),
    )
}
