//! Drift: how the judge's telling features change over a piece's time, for generated samples
//! against real performances, slice by slice (the first 5 s, the next 5 s, …), and whether a
//! model's free-running playing departs from what it predicts when it is fed real music
//! (teacher forcing). A gap that opens over time is exposure bias; a gap that is there from
//! the first slice is not.
//!
//! Two measurements:
//! - **Features per slice**: a handful of the judge's features (duration spread, very short and
//!   held notes, polyphony, velocity, density, pitch-class entropy) on each slice of each file,
//!   averaged over files, with a 95 % bootstrap interval over groups (a real piece's
//!   performances resampled together), and the standardised gap per slice.
//! - **The note-off hazard**: at every event of a performance, for every sounding note, did the
//!   next event end it? Measured on real music (what happens), predicted by the model on the
//!   same real music (teacher forced: its probability of that NOTE_OFF), and measured on the
//!   model's own samples (free running); by the note's age and by time slice.

use crate::features::{features, FEATURE_NAMES};
use crate::Item;
use cadenza_model::Weights;
use cadenza_notes::transform::{apply_sustain, split};
use cadenza_notes::NoteSequence;
use cadenza_performance::pipeline::primer_performance;
use cadenza_performance::Config;
use cadenza_performance::Event;
use cadenza_render::chart::{panels_svg, Line, Panel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The judge's features followed over time: the ones that give samples away.
pub const DRIFT_FEATURES: [&str; 8] = [
    "duration_log_std",
    "short_notes",
    "held_notes",
    "polyphony",
    "velocity_mean",
    "density",
    "pc_entropy",
    "chords_3_up",
];

/// Upper edges (seconds) of the note-age bins of the hazard; the last bin is open.
pub const AGE_BINS: [f64; 6] = [0.05, 0.2, 0.5, 1.0, 2.0, 4.0];

/// A slice counts for a file when it holds at least this many notes.
const MIN_NOTES_PER_SLICE: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct DriftOptions {
    /// Length of one slice (seconds).
    pub slice_seconds: f64,
    /// How much of each file is followed (seconds from its start).
    pub total_seconds: f64,
    /// Bootstrap resamples for the intervals.
    pub bootstrap: usize,
    pub seed: u64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions { slice_seconds: 5.0, total_seconds: 60.0, bootstrap: 1000, seed: 0 }
    }
}

/// A mean over files with its 95 % bootstrap interval over groups.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Files that had this slice.
    pub n: usize,
}

/// One feature, slice by slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub feature: String,
    pub samples: Vec<Option<Estimate>>,
    pub reference: Vec<Option<Estimate>>,
    /// (samples − reference) / the two sides' pooled spread over files, per slice (none where
    /// neither side varies).
    pub gap: Vec<Option<f64>>,
    /// |gap| of the last slice both sides have minus |gap| of the first, with its 95 %
    /// bootstrap interval: above 0 when the gap opens over time.
    pub opening: Option<Estimate>,
}

/// One side's note-off hazard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hazard {
    /// `real`, `teacher_forced` or `free_running`.
    pub label: String,
    /// Per age bin (see [`AGE_BINS`]): the share of (event, sounding note) pairs where the
    /// next event ended the note (or its predicted probability), and how many pairs.
    pub by_age: Vec<(f64, u64)>,
    /// The same over all ages, per time slice.
    pub by_slice: Vec<(f64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub slice_seconds: f64,
    /// The slices' start times.
    pub slices: Vec<f64>,
    pub sample_files: usize,
    pub reference_files: usize,
    pub features: Vec<FeatureDrift>,
    /// Real, teacher forced (when a model was given), free running.
    pub hazard: Vec<Hazard>,
}

/// The per-slice feature vectors of one file (`None` for a slice with too few notes).
fn slice_features(seq: &NoteSequence, slice: f64, n: usize) -> Vec<Option<Vec<f64>>> {
    let mut seq = apply_sustain(seq);
    seq.notes.retain(|x| !x.is_drum && x.start.is_finite() && x.end.is_finite());
    let end = seq.notes.iter().map(|x| x.end).fold(seq.total_time, f64::max);
    let full = ((end / slice + 1e-9).floor() as usize).min(n);
    let mut out: Vec<Option<Vec<f64>>> = split(&seq, slice)
        .into_iter()
        .take(full)
        .map(|w| (w.notes.len() >= MIN_NOTES_PER_SLICE).then(|| features(&w, slice)))
        .collect();
    out.resize(n, None);
    out
}

/// Per file: the chosen features' values per slice, and the file's group.
struct Side {
    groups: Vec<String>,
    /// `[file][slice][feature]`.
    values: Vec<Vec<Option<Vec<f64>>>>,
}

fn side(items: &[Item], opts: &DriftOptions, n: usize, idx: &[usize]) -> Side {
    let values = items
        .iter()
        .map(|it| {
            slice_features(&it.sequence, opts.slice_seconds, n)
                .into_iter()
                .map(|s| s.map(|v| idx.iter().map(|&i| v[i]).collect()))
                .collect()
        })
        .collect();
    Side { groups: items.iter().map(|i| i.group.clone()).collect(), values }
}

/// Files' indices by group, in a stable order.
fn by_group(groups: &[String]) -> Vec<Vec<usize>> {
    let mut m: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        m.entry(g).or_default().push(i);
    }
    m.into_values().collect()
}

/// A group bootstrap: every resample's list of files (groups drawn with replacement).
fn resamples(groups: &[String], reps: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let g = by_group(groups);
    (0..reps).map(|_| (0..g.len()).flat_map(|_| g[rng.gen_range(0..g.len())].iter().copied()).collect()).collect()
}

fn mean_of(side: &Side, files: &[usize], slice: usize, f: usize) -> Option<(f64, usize)> {
    let v: Vec<f64> = files.iter().filter_map(|&i| side.values[i][slice].as_ref().map(|x| x[f])).collect();
    (!v.is_empty()).then(|| (v.iter().sum::<f64>() / v.len() as f64, v.len()))
}

fn variance(side: &Side, slice: usize, f: usize) -> f64 {
    let v: Vec<f64> = side.values.iter().filter_map(|s| s[slice].as_ref().map(|x| x[f])).collect();
    let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len().max(1) as f64
}

fn interval(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

fn estimate(side: &Side, boots: &[Vec<usize>], slice: usize, f: usize) -> Option<Estimate> {
    let all: Vec<usize> = (0..side.values.len()).collect();
    let (mean, n) = mean_of(side, &all, slice, f)?;
    let (lo, hi) = interval(boots.iter().filter_map(|b| mean_of(side, b, slice, f).map(|x| x.0)).collect());
    Some(Estimate { mean, lo, hi, n })
}

/// The gap of one feature at one slice in one resample of both sides.
fn gap_at(s: &Side, sb: &[usize], r: &Side, rb: &[usize], slice: usize, f: usize, scale: Option<f64>) -> Option<f64> {
    Some((mean_of(s, sb, slice, f)?.0 - mean_of(r, rb, slice, f)?.0) / scale?)
}

fn feature_drift(s: &Side, r: &Side, name: &str, f: usize, n: usize, opts: &DriftOptions) -> FeatureDrift {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let (sb, rb) = (resamples(&s.groups, opts.bootstrap, &mut rng), resamples(&r.groups, opts.bootstrap, &mut rng));
    let all_s: Vec<usize> = (0..s.values.len()).collect();
    let all_r: Vec<usize> = (0..r.values.len()).collect();
    let scales: Vec<Option<f64>> =
        (0..n).map(|k| Some(((variance(s, k, f) + variance(r, k, f)) / 2.0).sqrt()).filter(|&x| x > 1e-9)).collect();
    let gap: Vec<Option<f64>> = (0..n).map(|k| gap_at(s, &all_s, r, &all_r, k, f, scales[k])).collect();
    let both: Vec<usize> = (0..n).filter(|&k| gap[k].is_some()).collect();
    let opening = match (both.first(), both.last()) {
        (Some(&a), Some(&b)) if a < b => {
            let open = |sf: &[usize], rf: &[usize]| {
                Some(gap_at(s, sf, r, rf, b, f, scales[b])?.abs() - gap_at(s, sf, r, rf, a, f, scales[a])?.abs())
            };
            let mean = open(&all_s, &all_r).unwrap_or(f64::NAN);
            let (lo, hi) = interval(sb.iter().zip(&rb).filter_map(|(x, y)| open(x, y)).collect());
            Some(Estimate { mean, lo, hi, n: s.values.len() })
        }
        _ => None,
    };
    FeatureDrift {
        feature: name.to_string(),
        samples: (0..n).map(|k| estimate(s, &sb, k, f)).collect(),
        reference: (0..n).map(|k| estimate(r, &rb, k, f)).collect(),
        gap,
        opening,
    }
}

fn age_bin(age: f64) -> usize {
    AGE_BINS.iter().position(|&e| age < e).unwrap_or(AGE_BINS.len())
}

/// Running sums of one hazard.
#[derive(Default, Clone)]
struct HazardSums {
    age: Vec<(f64, u64)>,
    slice: Vec<(f64, u64)>,
}

impl HazardSums {
    fn new(n: usize) -> Self {
        HazardSums { age: vec![(0.0, 0); AGE_BINS.len() + 1], slice: vec![(0.0, 0); n] }
    }

    fn add(&mut self, age: f64, slice: usize, value: f64) {
        let a = &mut self.age[age_bin(age)];
        a.0 += value;
        a.1 += 1;
        if let Some(s) = self.slice.get_mut(slice) {
            s.0 += value;
            s.1 += 1;
        }
    }

    fn finish(self, label: &str) -> Hazard {
        let mean =
            |v: Vec<(f64, u64)>| v.into_iter().map(|(s, c)| (if c > 0 { s / c as f64 } else { f64::NAN }, c)).collect();
        Hazard { label: label.to_string(), by_age: mean(self.age), by_slice: mean(self.slice) }
    }
}

/// A file's event classes as the model sees them (sustain applied, as the training data are),
/// cut at `seconds`.
fn events_of(seq: &NoteSequence, config: Config, seconds: f64) -> Option<Vec<u16>> {
    let mut seq = apply_sustain(seq);
    seq.notes.retain(|x| !x.is_drum && x.start < seconds);
    let perf = primer_performance(&seq, config).ok()?;
    config.tokens(&perf)
}

/// Walks one event sequence: for every event and every note sounding before it, `visit(age,
/// slice, pitch, position, ended)` where `ended` says whether the next event is its NOTE_OFF.
fn walk(config: Config, tokens: &[u16], slice: f64, mut visit: impl FnMut(f64, usize, u8, usize, bool)) {
    let events = config.events(tokens);
    let mut sounding: BTreeMap<u8, f64> = BTreeMap::new();
    let mut now = 0.0f64;
    for (i, e) in events.iter().enumerate() {
        let next_off = match events.get(i + 1) {
            Some(Event::NoteOff(p)) => Some(*p),
            _ => None,
        };
        match *e {
            Event::NoteOn(p) => {
                sounding.insert(p, now);
            }
            Event::NoteOff(p) => {
                sounding.remove(&p);
            }
            Event::TimeShift(s) => now += s as f64 / 100.0,
            Event::Velocity(_) => {}
        }
        if i + 1 == events.len() {
            break;
        }
        let k = (now / slice) as usize;
        for (&p, &t0) in &sounding {
            visit(now - t0, k, p, i, next_off == Some(p));
        }
    }
}

/// The note-off hazards: real (measured), teacher forced (the model's probabilities on the real
/// music, when a model is given) and free running (measured on the samples).
fn hazards(
    samples: &[Item],
    reference: &[Item],
    model: Option<&Weights>,
    config: Config,
    o: &DriftOptions,
    n: usize,
) -> Vec<Hazard> {
    let (mut real, mut tf, mut free) = (HazardSums::new(n), HazardSums::new(n), HazardSums::new(n));
    let oh = config.one_hot();
    for it in reference {
        let Some(tokens) = events_of(&it.sequence, config, o.total_seconds) else { continue };
        walk(config, &tokens, o.slice_seconds, |age, k, _, _, ended| real.add(age, k, ended as u8 as f64));
        if let Some(w) = model {
            let probs = teacher_forced_probs(w, &tokens);
            let c = config.num_logits();
            walk(config, &tokens, o.slice_seconds, |age, k, p, i, _| {
                let class = oh.encode(&Event::NoteOff(p)).expect("a NOTE_OFF has a class");
                tf.add(age, k, probs[i * c + class] as f64)
            });
        }
    }
    for it in samples {
        let Some(tokens) = events_of(&it.sequence, config, o.total_seconds) else { continue };
        walk(config, &tokens, o.slice_seconds, |age, k, _, _, ended| free.add(age, k, ended as u8 as f64));
    }
    let mut out = vec![real.finish("real")];
    if model.is_some() {
        out.push(tf.finish("teacher_forced"));
    }
    out.push(free.finish("free_running"));
    out
}

/// The model's probability of every class after each event of `tokens` (row `i`: the
/// distribution of event `i + 1`), flattened.
fn teacher_forced_probs(w: &Weights, tokens: &[u16]) -> Vec<f32> {
    cadenza_model::inference::softmax_rows(w, tokens).concat()
}

/// Measures the drift of `samples` against `reference` (see the module's documentation).
/// `model` adds the teacher-forced hazard; `config` is the event vocabulary the hazard is
/// measured in (the model's, when one is given).
pub fn drift(
    samples: &[Item],
    reference: &[Item],
    model: Option<&Weights>,
    config: Config,
    opts: &DriftOptions,
) -> DriftReport {
    let n = ((opts.total_seconds / opts.slice_seconds) + 1e-9).floor().max(1.0) as usize;
    let idx: Vec<usize> =
        DRIFT_FEATURES.iter().map(|f| FEATURE_NAMES.iter().position(|x| x == f).expect("a judge feature")).collect();
    let (s, r) = (side(samples, opts, n, &idx), side(reference, opts, n, &idx));
    let features = DRIFT_FEATURES.iter().enumerate().map(|(f, name)| feature_drift(&s, &r, name, f, n, opts)).collect();
    DriftReport {
        slice_seconds: opts.slice_seconds,
        slices: (0..n).map(|k| k as f64 * opts.slice_seconds).collect(),
        sample_files: samples.len(),
        reference_files: reference.len(),
        features,
        hazard: hazards(samples, reference, model, config, opts, n),
    }
}

fn fmt(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite()).map_or("—".into(), |v| format!("{v:.3}"))
}

/// A plain-text table: each feature's samples / reference mean and gap per slice, whether its
/// gap opens, then the hazards.
pub fn render_drift(r: &DriftReport) -> String {
    let mut s = format!(
        "drift over time: {} sample files against {} reference files, slices of {} s\n\n",
        r.sample_files, r.reference_files, r.slice_seconds
    );
    s.push_str(&format!("{:<18}", "feature \\ slice"));
    for t in &r.slices {
        s.push_str(&format!(" {:>15}", format!("{t:.0}-{:.0} s", t + r.slice_seconds)));
    }
    s.push_str("  gap opens (last - first |gap|)\n");
    for f in &r.features {
        s.push_str(&format!("{:<18}", f.feature));
        for k in 0..r.slices.len() {
            let cell = format!("{}/{}", fmt(f.samples[k].map(|e| e.mean)), fmt(f.reference[k].map(|e| e.mean)));
            s.push_str(&format!(" {cell:>15}"));
        }
        s.push_str(&match f.opening {
            Some(o) => format!("  {:+.2} [{:+.2}, {:+.2}]\n", o.mean, o.lo, o.hi),
            None => "  —\n".into(),
        });
    }
    s.push_str("(each cell: samples/reference mean over files)\n\nnote-off hazard (share of sounding notes the next event ends)\n");
    s.push_str(&format!("{:<16}", "note age <"));
    for e in AGE_BINS.iter().map(|e| format!("{e} s")).chain(["more".to_string()]) {
        s.push_str(&format!(" {e:>8}"));
    }
    s.push('\n');
    for h in &r.hazard {
        s.push_str(&format!("{:<16}", h.label));
        for (v, _) in &h.by_age {
            s.push_str(&format!(" {:>8}", fmt(Some(*v))));
        }
        s.push('\n');
    }
    s.push_str(&format!("{:<16}", "slice start (s)"));
    for t in &r.slices {
        s.push_str(&format!(" {t:>8.0}"));
    }
    s.push('\n');
    for h in &r.hazard {
        s.push_str(&format!("{:<16}", h.label));
        for (v, _) in &h.by_slice {
            s.push_str(&format!(" {:>8}", fmt(Some(*v))));
        }
        s.push('\n');
    }
    s
}

fn colour(label: &str) -> &'static str {
    match label {
        "real" | "reference" => "#1f77b4",
        "teacher_forced" => "#2ca02c",
        _ => "#d62728",
    }
}

fn legend(label: &str) -> &'static str {
    match label {
        "real" => "real music",
        "reference" => "real music",
        "teacher_forced" => "the model fed real music (teacher forced)",
        _ => "samples (free running)",
    }
}

fn line(label: &str, points: Vec<(f64, f64)>) -> Line {
    Line { label: legend(label).into(), colour: colour(label).into(), points }
}

/// The drift figure as a self-contained SVG: one panel per feature (samples and real music over
/// the piece's time), then the note-off hazard by time slice and by the note's age.
pub fn drift_svg(r: &DriftReport) -> String {
    let mid = |k: usize| r.slices[k] + r.slice_seconds / 2.0;
    let means = |v: &[Option<Estimate>]| (0..v.len()).filter_map(|k| v[k].map(|e| (mid(k), e.mean))).collect();
    let mut panels: Vec<Panel> = r
        .features
        .iter()
        .map(|f| Panel {
            title: format!("{} (x: s)", f.feature),
            lines: vec![line("samples", means(&f.samples)), line("reference", means(&f.reference))],
        })
        .collect();
    panels.push(Panel {
        title: "note-off hazard by time (x: s)".into(),
        lines: r
            .hazard
            .iter()
            .map(|h| line(&h.label, h.by_slice.iter().enumerate().map(|(k, v)| (mid(k), v.0)).collect()))
            .collect(),
    });
    panels.push(Panel {
        title: "note-off hazard by note age (x: log10 s)".into(),
        lines: r
            .hazard
            .iter()
            .map(|h| line(&h.label, h.by_age.iter().enumerate().map(|(k, v)| (age_mid(k).log10(), v.0)).collect()))
            .collect(),
    });
    panels_svg(
        &format!(
            "drift: {} samples against {} real files, slices of {} s",
            r.sample_files, r.reference_files, r.slice_seconds
        ),
        &panels,
        3,
        (320.0, 180.0),
    )
}

/// A representative age of bin `k` (the geometric middle of its edges; the open bin twice its
/// lower edge).
fn age_mid(k: usize) -> f64 {
    match k {
        0 => AGE_BINS[0] / 2.0,
        k if k < AGE_BINS.len() => (AGE_BINS[k - 1] * AGE_BINS[k]).sqrt(),
        _ => 2.0 * AGE_BINS[AGE_BINS.len() - 1],
    }
}
