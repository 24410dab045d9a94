//! `report.html`: one self-contained page that opens from a `file://` URL with no network.
//! Curves and piano rolls are embedded as data URIs; WAV, MIDI and MusicXML are relative
//! links into the samples folders next to it (audio would bloat the page by megabytes).

use crate::{ComparisonReport, ModelSummary};
use anyhow::Result;
use base64::Engine;
use std::fmt::Write;
use std::path::Path;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn data_uri(path: &Path, mime: &str) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn num(v: Option<f64>) -> String {
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

/// Which side is better: `Some(true)` when the original, `Some(false)` the modified.
fn better(a: Option<f64>, b: Option<f64>, lower_is_better: bool) -> Option<bool> {
    match (a, b) {
        (Some(a), Some(b)) if a.is_finite() && b.is_finite() && a != b => Some((a < b) == lower_is_better),
        _ => None,
    }
}

fn row(out: &mut String, name: &str, hint: &str, a: Option<f64>, b: Option<f64>, reference: Option<f64>, winner: Option<bool>) {
    let cls = |first: bool| match winner {
        Some(w) if w == first => " class=\"better\"",
        _ => "",
    };
    let _ = writeln!(
        out,
        "<tr><th title=\"{}\">{}</th><td{}>{}</td><td{}>{}</td><td class=\"ref\">{}</td></tr>",
        esc(hint),
        esc(name),
        cls(true),
        num(a),
        cls(false),
        num(b),
        num(reference)
    );
}

fn samples(out: &mut String, title: &str, m: &ModelSummary, dir: &Path) {
    let _ = writeln!(out, "<section class=\"samples\"><h3>{}</h3>", esc(title));
    for (i, s) in m.samples.iter().enumerate() {
        let _ = writeln!(out, "<figure><figcaption>Sample {} (seed {}, {} notes)</figcaption>", i + 1, s.seed, s.num_notes);
        if let Some(uri) = data_uri(&dir.join(&s.png), "image/png") {
            let _ = writeln!(out, "<img class=\"roll\" alt=\"piano roll of sample {}\" src=\"{uri}\">", i + 1);
        }
        if let Some(w) = &s.wav {
            let _ = writeln!(out, "<audio controls preload=\"none\" src=\"{}\"></audio>", esc(w));
        }
        let _ = writeln!(out, "<p><a href=\"{}\">MIDI</a> · <a href=\"{}\">MusicXML</a>{}</p></figure>", esc(&s.midi), esc(&s.musicxml), s.wav.as_ref().map(|w| format!(" · <a href=\"{}\">WAV</a>", esc(w))).unwrap_or_default());
    }
    out.push_str("</section>\n");
}

/// The report page for a finished comparison whose files sit under `dir`.
pub fn html(r: &ComparisonReport, dir: &Path) -> Result<String> {
    let (a, b) = (&r.original, &r.modified);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\n<title>Cadenza: original vs modified Performance RNN</title>\n<style>\nbody{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}\ntable{border-collapse:collapse;margin:1em 0}th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}th{text-align:left;font-weight:normal}\nthead th{font-weight:bold;text-align:right}td.better{font-weight:bold;background:#e6f4e6}td.better::after{content:\" ★\"}td.ref{color:#777}\n.curves{display:flex;gap:1em;flex-wrap:wrap}.curves figure{flex:1;min-width:380px;margin:0}.curves img{width:100%}\n.cols{display:flex;gap:2em;flex-wrap:wrap}.samples{flex:1;min-width:380px}.samples img.roll{width:100%;image-rendering:pixelated;border:1px solid #ccc}\nfigure{margin:0 0 1.5em 0}audio{width:100%}small{color:#666}\n</style></head><body>\n");
    let _ = writeln!(
        h,
        "<h1>Original vs modified Performance RNN</h1>\n<p>Both models: <code>{}</code> {:?}, initialised from <code>{}</code>, trained on <code>{}</code> (fingerprint {}) with seed {} for {} steps{}. The modified model adds the rhythm loss × {} and the harmony loss × {}. Each generated {} samples of {} s from seeds {}…{} at temperature {}.</p>",
        esc(&r.config),
        r.layers,
        esc(&r.options.init.as_ref().map_or("scratch".into(), |p| p.display().to_string())),
        esc(&r.options.dataset.display().to_string()),
        esc(&r.dataset_fingerprint[..12.min(r.dataset_fingerprint.len())]),
        r.options.seed,
        r.options.steps,
        if r.options.hparams.is_empty() { String::new() } else { format!(" (<code>{}</code>)", esc(&r.options.hparams)) },
        r.modified.rhythm_loss,
        r.modified.harmony_loss,
        r.options.samples,
        r.options.num_steps as f64 / 100.0,
        r.options.sample_seed,
        r.options.sample_seed + r.options.samples as u64 - 1,
        r.options.temperature
    );

    h.push_str("<h2>Training curves</h2><div class=\"curves\">\n");
    for (name, m) in [("original", a), ("modified", b)] {
        let svg = Path::new(&m.model).parent().map(|run| run.join("curves.svg"));
        match svg.and_then(|p| data_uri(&p, "image/svg+xml")) {
            Some(uri) => {
                let _ = writeln!(h, "<figure><figcaption>{name}</figcaption><img alt=\"training curves of the {name} model\" src=\"{uri}\"></figure>");
            }
            None => {
                let _ = writeln!(h, "<figure><figcaption>{name}</figcaption><p><small>no curves: the model was given, not trained here</small></p></figure>");
            }
        }
    }
    h.push_str("</div>\n");

    h.push_str("<h2>Numbers</h2>\n<p><small>★ marks the better model: lower loss, error and cost, higher accuracy; for the music's features, the larger overlapping area (Yang &amp; Lerch 2018) with the eval split's own music, i.e. closer to the reference. Hover a row for its definition.</small></p>\n<table><thead><tr><th></th><th>original</th><th>modified</th><th>reference</th></tr></thead><tbody>\n");
    row(&mut h, "eval NLL (nats/event)", "mean cross-entropy on the eval split", Some(a.eval_nll), Some(b.eval_nll), None, better(Some(a.eval_nll), Some(b.eval_nll), true));
    row(&mut h, "eval accuracy", "next-event accuracy on the eval split", Some(a.eval_accuracy), Some(b.eval_accuracy), None, better(Some(a.eval_accuracy), Some(b.eval_accuracy), false));
    row(&mut h, "eval time-shift error (10 ms)", "expected |predicted − true| time shift where the next event is a shift", Some(a.eval_shift_error), Some(b.eval_shift_error), None, better(Some(a.eval_shift_error), Some(b.eval_shift_error), true));
    row(&mut h, "eval harmony cost", "expected out-of-key + interval-tension cost of the next note", a.eval_harmony_cost, b.eval_harmony_cost, None, better(a.eval_harmony_cost, b.eval_harmony_cost, true));
    row(&mut h, "mean overlapping area", "mean over features of the overlap with the reference distribution", a.mean_overlap_area, b.mean_overlap_area, None, better(a.mean_overlap_area, b.mean_overlap_area, false));
    h.push_str("</tbody></table>\n<table><thead><tr><th>feature (mean over samples)</th><th>original</th><th>modified</th><th>reference</th><th>OA original</th><th>OA modified</th></tr></thead><tbody>\n");
    for (f, va) in &a.metrics {
        let vb = b.metrics.get(f).copied().flatten();
        let (oa, ob) = (a.overlap_area.get(f).copied().flatten(), b.overlap_area.get(f).copied().flatten());
        let w = better(oa, ob, false);
        let cls = |first: bool| match w {
            Some(x) if x == first => " class=\"better\"",
            _ => "",
        };
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td{}>{}</td><td{}>{}</td><td class=\"ref\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(f),
            cls(true),
            num(*va),
            cls(false),
            num(vb),
            num(r.reference.metrics.get(f).copied().flatten()),
            num(oa),
            num(ob)
        );
    }
    let _ = writeln!(h, "</tbody></table>\n<p><small>Reference: the dataset's eval split, {} sequences. Full numbers: <a href=\"comparison.json\">comparison.json</a>.</small></p>", r.reference.sequences);

    h.push_str("<h2>Samples</h2><div class=\"cols\">\n");
    samples(&mut h, "original", a, dir);
    samples(&mut h, "modified", b, dir);
    h.push_str("</div>\n<p id=\"status\" data-status=\"pending\"><small>Made by Cadenza.</small></p>\n");
    // A self-check a headless browser (and the tests) can read: every embedded image decoded.
    h.push_str("<script>\nwindow.addEventListener('load', function () {\n  var imgs = Array.prototype.slice.call(document.images);\n  var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });\n  var s = document.getElementById('status');\n  s.setAttribute('data-status', bad.length ? 'broken' : 'ok');\n  s.setAttribute('data-images', String(imgs.length));\n  if (bad.length) { console.error('cadenza-report: ' + bad.length + ' image(s) failed to load'); }\n  else { console.log('cadenza-report-ok ' + imgs.length + ' images'); }\n});\n</script>\n</body></html>\n");
    Ok(h)
}
