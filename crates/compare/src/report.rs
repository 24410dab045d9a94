//! `report.html`: one self-contained page that opens from a `file://` URL with no network.
//! Curves and piano rolls are embedded as data URIs; WAV, MIDI and MusicXML are relative
//! links into the samples folders next to it (audio would bloat the page by megabytes).

use crate::error::Result;
use crate::stats::Verdict;
use crate::summary::{ComparisonJudge, ComparisonReport, SampleFiles};
use base64::Engine;
use std::fmt::Write;
use std::path::Path;

use cadenza_render::escape_html as esc;

fn data_uri(path: &Path, mime: &str) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

pub(crate) fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => {
            if x.abs() >= 100.0 {
                format!("{x:.1}")
            } else {
                format!("{x:.4}")
            }
        }
        _ => "–".into(),
    }
}

/// A column of players: `title` over the first `limit` of `files`, each captioned `noun N`.
fn samples(out: &mut String, title: &str, noun: &str, files: &[SampleFiles], dir: &Path, limit: usize) {
    let _ = writeln!(out, "<section class=\"samples\"><h3>{}</h3>", esc(title));
    for (i, s) in files.iter().take(limit).enumerate() {
        let _ = writeln!(out, "<figure><figcaption>{noun} {} ({} notes)</figcaption>", i + 1, s.num_notes);
        if let Some(uri) = data_uri(&dir.join(&s.png), "image/png") {
            let _ = writeln!(out, "<img class=\"roll\" alt=\"piano roll of {} {}\" src=\"{uri}\">", esc(title), i + 1);
        }
        if let Some(w) = &s.wav {
            let _ = writeln!(out, "<audio controls preload=\"none\" src=\"{}\"></audio>", esc(w));
        }
        let _ = writeln!(
            out,
            "<p><a href=\"{}\">MIDI</a> · <a href=\"{}\">MusicXML</a>{}</p></figure>",
            esc(&s.midi),
            esc(&s.musicxml),
            s.wav.as_ref().map(|w| format!(" · <a href=\"{}\">WAV</a>", esc(w))).unwrap_or_default()
        );
    }
    out.push_str("</section>\n");
}

fn interval(i: &crate::stats::Interval) -> String {
    let f = |x: f64| if x.abs() >= 100.0 { format!("{x:+.1}") } else { format!("{x:+.4}") };
    format!("{} [{}, {}]", f(i.estimate), f(i.lo), f(i.hi))
}

/// The report page for a finished comparison whose files sit under `dir`.
pub fn html(r: &ComparisonReport, dir: &Path) -> Result<String> {
    let mut h = String::new();
    h.push_str(HEAD);
    intro(&mut h, r);
    if let Some(hl) = &r.headline {
        let _ = writeln!(
            h,
            "<p class=\"headline\" data-better=\"{}\"><b>{}</b></p>\n<p><small>The rule, fixed before it was run: better classical music only when (a) the untargeted judge does not find the modified samples easier to tell from the real music (neither ΔAUC's nor the log-odds' interval above 0), (b) at least one harmony or rhythm measure improves with an interval excluding 0 and none moves away from the reference, and (c) the eval NLL costs at most 2 %.</small></p>",
            hl.better,
            esc(&hl.sentence)
        );
    }
    if let Some(j) = &r.judge {
        judge_section(&mut h, j);
    }
    verdict_section(&mut h, r);
    curves_section(&mut h, r);
    listen_section(&mut h, r, dir);
    h.push_str(FOOT);
    Ok(h)
}

/// The page's head and style, and the opening of its body.
const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\n<title>Cadenza: original vs modified Performance RNN</title>\n<style>\nbody{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}\ntable{border-collapse:collapse;margin:1em 0}th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}th{text-align:left;font-weight:normal}\nthead th{font-weight:bold;text-align:right}td.better{font-weight:bold;background:#e6f4e6}td.worse{background:#f8e6e6}td.ref{color:#777}\n.curves{display:flex;gap:1em;flex-wrap:wrap}.curves figure{flex:1;min-width:380px;margin:0}.curves img{width:100%}\n.cols{display:flex;gap:1.5em;flex-wrap:wrap}.samples{flex:1;min-width:300px}.samples img.roll{width:100%;image-rendering:pixelated;border:1px solid #ccc}\nfigure{margin:0 0 1.5em 0}audio{width:100%}small{color:#666}\n</style></head><body>\n";

/// What was compared, and how: the first paragraph.
fn intro(h: &mut String, r: &ComparisonReport) {
    let a = &r.original;
    let seeds = a.runs.len();
    let _ = writeln!(
        h,
        "<h1>Does the modified Performance RNN make better classical music?</h1>\n<p>Both models: <code>{}</code> {:?}, initialised from <code>{}</code>, fine-tuned on <code>{}</code> (fingerprint {}) for {} steps{}, with {} training seed{} each (seeds {}…; seed k gives both the same initial weights, data order and dropout). The modified model adds the rhythm loss ({}) × {} and the harmony loss ({}) × {}. Every model generated {} samples of {} s from seeds {}…{} at temperature {}{}. The reference is the eval split ({} sequences of pieces neither model trained on).</p>",
        esc(&r.config),
        r.layers,
        esc(&r.options.init.as_ref().map_or("scratch".into(), |p| p.display().to_string())),
        esc(&r.options.dataset.display().to_string()),
        esc(&r.dataset_fingerprint[..12.min(r.dataset_fingerprint.len())]),
        r.options.steps,
        if r.options.hparams.is_empty() { String::new() } else { format!(" (<code>{}</code>)", esc(&r.options.hparams)) },
        seeds,
        if seeds == 1 { "" } else { "s" },
        r.options.seed,
        r.options.recipe.rhythm_cost.name(),
        r.modified.rhythm_loss,
        r.options.recipe.harmony_cost.name(),
        r.modified.harmony_loss,
        r.options.samples,
        r.options.num_steps as f64 / 100.0,
        r.options.sample_seed,
        r.options.sample_seed + r.options.samples as u64 - 1,
        r.options.temperature,
        match r.options.note_events {
            cadenza_generate::NoteEvents::Paired => ", with paired note events (a NOTE_OFF only of a sounding pitch, a NOTE_ON only of a silent one)",
            cadenza_generate::NoteEvents::Any => ", with any note event (Magenta's sampler)",
        },
        r.reference.sequences
    );
}

/// The untargeted judge's table: each arm, the anchors, ΔAUC and the notes.
fn judge_section(h: &mut String, j: &ComparisonJudge) {
    h.push_str("<h2>The untargeted judge</h2>\n<p><small>A logistic regression on 37 features of 15 s windows (pitch, key-relative pitch classes, intervals, timing, durations, dynamics, polyphony, chords, density, register), none of which a Cadenza loss targets, tells each model's samples from the eval pieces, with whole pieces and samples held out. AUC 0.5: it cannot tell them apart; 1: it always can. The floor is two sets of real music, the ceiling a plainly bad generator. At the ceiling the AUC stops ranking; the log-odds and the Fréchet distance still do.</small></p>\n<table><thead><tr><th>arm</th><th>AUC [95 % CI]</th><th>mean log-odds</th><th>Fréchet</th><th>most apart from the real music</th></tr></thead><tbody>\n");
    for a in &j.arms.arms {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td>{:.3} [{:.3}, {:.3}]{}</td><td>{:+.2}</td><td>{:.2}</td><td>{}</td></tr>",
            esc(&a.name),
            a.auc,
            a.interval[0],
            a.interval[1],
            if a.saturated { " (saturated)" } else { "" },
            a.mean_log_odds,
            a.frechet,
            esc(&a
                .separating
                .iter()
                .take(3)
                .map(|g| format!("{} {:+.2}", g.feature, g.effect))
                .collect::<Vec<_>>()
                .join(", "))
        );
    }
    for x in j.floor.iter().chain(&j.ceiling) {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td>{:.3} [{:.3}, {:.3}]</td><td></td><td></td><td></td></tr>",
            esc(&x.name),
            x.auc,
            x.interval[0],
            x.interval[1]
        );
    }
    h.push_str("</tbody></table>\n");
    if let Some(d) = &j.arms.delta_auc {
        let _ = writeln!(
            h,
            "<p>ΔAUC {} − {}: {:+.3} [{:+.3}, {:+.3}] (paired bootstrap over eval pieces and seeds × samples).</p>",
            esc(&d.minuend),
            esc(&d.subtrahend),
            d.estimate,
            d.interval[0],
            d.interval[1]
        );
    }
    for n in &j.notes {
        let _ = writeln!(h, "<p><small>note: {}</small></p>", esc(n));
    }
    drift_section(h, j);
}

/// Each arm's drift figure: the judge's telling features slice by slice over the samples' time
/// against the eval pieces, and the note-off hazard.
fn drift_section(h: &mut String, j: &ComparisonJudge) {
    if j.drift.is_empty() {
        return;
    }
    h.push_str("<h2>Drift over the samples' time</h2>\n<p><small>The judge's telling features on each 5 s slice of the samples (red) and of the eval pieces (blue), and the note-off hazard (the share of sounding notes the next event ends) by time and by note age. A gap there from the first slice is the model's; a gap that opens as the sample goes on is drift (<code>cadenza drift</code> adds the model fed real music, teacher forced).</small></p>\n");
    for (arm, d) in &j.drift {
        let svg = base64::engine::general_purpose::STANDARD.encode(cadenza_judge::drift::drift_svg(d));
        let _ = writeln!(
            h,
            "<figure class=\"drift\"><figcaption>{}</figcaption><img alt=\"drift of the {} samples\" style=\"max-width:100%\" src=\"data:image/svg+xml;base64,{svg}\"></figure>",
            esc(arm),
            esc(arm)
        );
    }
}

/// The verdict: the counts, then a row per metric.
fn verdict_section(h: &mut String, r: &ComparisonReport) {
    let (a, b) = (&r.original, &r.modified);
    let better = r.verdicts.iter().filter(|v| v.verdict == Verdict::Better).count();
    let worse = r.verdicts.iter().filter(|v| v.verdict == Verdict::Worse).count();
    let _ = writeln!(h, "<h2>Verdict</h2>\n<p><b>{better} better, {worse} worse, {} with no clear difference</b>; eval NLL cost of the modified model {:+.2} %.</p>\n<p><small>Each row: the mean over runs × samples, and modified − original with a paired bootstrap 95 % interval over training seeds × samples (10,000 replicates). A metric is called better or worse only when the interval of its improvement excludes 0. Music features count as better when they move <i>toward</i> the reference's mean (the interval shown is then of |original − ref| − |modified − ref|); the two overlaps (key-relative pitch-class histogram, inter-onset-interval histogram, each intersected with the reference's) when they rise. With one seed the interval covers the samples' spread only, not training's.</small></p>", r.verdicts.len() - better - worse, 100.0 * r.eval_nll_relative_cost);
    h.push_str("<table><thead><tr><th>metric</th><th>base</th><th>original</th><th>modified</th><th>reference</th><th>modified − original [95 % CI]</th><th>improvement [95 % CI]</th><th>verdict</th></tr></thead><tbody>\n");
    for v in &r.verdicts {
        let base = r.base.as_ref().and_then(|m| m.mean(&v.metric));
        let reference = r.reference.metrics.get(&v.metric).copied().flatten();
        let cls = match v.verdict {
            Verdict::Better => " class=\"better\"",
            Verdict::Worse => " class=\"worse\"",
            Verdict::NoClearDifference => "",
        };
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td class=\"ref\">{}</td><td>{}</td><td{cls}>{}</td><td class=\"ref\">{}</td><td>{}</td><td>{}</td><td{cls}>{}</td></tr>",
            esc(&v.metric),
            num(base),
            num(Some(v.original)),
            num(Some(v.modified)),
            num(reference),
            interval(&v.difference),
            interval(&v.improvement),
            v.verdict.label()
        );
    }
    let _ = writeln!(h, "</tbody></table>\n<p><small>Yang &amp; Lerch mean overlapping area with the reference: original {}, modified {}. Full numbers, every sample's values and the intervals: <a href=\"comparison.json\">comparison.json</a>.</small></p>", num(a.mean_overlap_area), num(b.mean_overlap_area));
}

/// Each run's training curves.
fn curves_section(h: &mut String, r: &ComparisonReport) {
    h.push_str("<h2>Training curves (loss and accuracy, train against eval)</h2><div class=\"curves\">\n");
    for m in [&r.original, &r.modified] {
        for run in &m.runs {
            let title = format!("{}{}", m.name, run.seed.map(|s| format!(", seed {s}")).unwrap_or_default());
            let svg = Path::new(&run.model).parent().map(|run| run.join("curves.svg"));
            match svg.and_then(|p| data_uri(&p, "image/svg+xml")) {
                Some(uri) => {
                    let _ = writeln!(h, "<figure><figcaption>{}</figcaption><img alt=\"training curves of the {}\" src=\"{uri}\"></figure>", esc(&title), esc(&title));
                }
                None => {
                    let _ = writeln!(h, "<figure><figcaption>{}</figcaption><p><small>no curves: the model was given, not trained here</small></p></figure>", esc(&title));
                }
            }
        }
    }
    h.push_str("</div>\n");
}

/// The players: the eval pieces, and the first seed's first samples of each model.
fn listen_section(h: &mut String, r: &ComparisonReport, dir: &Path) {
    let (a, b) = (&r.original, &r.modified);
    let _ = writeln!(h, "<h2>Listen</h2>\n<p><small>Audio: {}. The first training seed's first samples of each model; all samples are in the folders beside this page.</small></p><div class=\"cols\">", esc(r.audio.as_deref().unwrap_or("none (WAV rendering was off)")));
    samples(h, "eval pieces (reference)", "Piece", &r.reference.pieces, dir, 2);
    if let Some(base) = &r.base {
        samples(h, "base (not fine-tuned)", "Sample", &base.runs[0].samples, dir, 4);
    }
    samples(h, "original", "Sample", &a.runs[0].samples, dir, 4);
    samples(h, "modified", "Sample", &b.runs[0].samples, dir, 4);
    h.push_str("</div>\n<p id=\"status\" data-status=\"pending\"><small>Made by Cadenza.</small></p>\n");
}

/// The self-check a headless browser (and the tests) can read: every embedded image decoded.
const FOOT: &str = "<script>\nwindow.addEventListener('load', function () {\n  var imgs = Array.prototype.slice.call(document.images);\n  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });\n  var s = document.getElementById('status');\n  s.setAttribute('data-status', bad.length ? 'broken' : 'ok');\n  s.setAttribute('data-images', String(imgs.length));\n  if (bad.length) { console.error('cadenza-report: ' + bad.length + ' image(s) failed to load'); }\n  else { console.log('cadenza-report-ok ' + imgs.length + ' images'); }\n});\n</script>\n</body></html>\n";
