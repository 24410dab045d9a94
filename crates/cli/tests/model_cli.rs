//! `cadenza import / export / likelihood` on the bundles Magenta made.

mod common;
use common::*;

use std::path::PathBuf;

fn fixtures() -> PathBuf {
    let p = cadenza_shared::require("fixtures/magenta");
    assert!(p.is_dir(), "Magenta fixtures missing at {}", p.display());
    p
}

#[test]
fn likelihood_matches_magenta_for_both_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    for (bundle, probs) in
        [("perf_dyn_small64.mag", "probs_small64.json"), ("perf_dyn_full512.mag", "probs_full512.json")]
    {
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures().join(probs)).unwrap()).unwrap();
        let events = tmp.path().join("events.json");
        std::fs::write(&events, serde_json::json!({"class_indices": fx["primer_class_indices"]}).to_string()).unwrap();
        let dump = tmp.path().join("probs.json");
        let o = run(&[
            "likelihood",
            "--model",
            s(&fixtures().join("bundles").join(bundle)),
            "--events",
            s(&events),
            "--dump-probs",
            s(&dump),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let want = fx["log_likelihood_magenta_evaluate"].as_f64().unwrap();
        assert!((out["log_likelihood"].as_f64().unwrap() - want).abs() <= 1e-3, "{bundle}: {out} vs {want}");
        assert_eq!(out["events"], 199);
        let got: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
        let (a, b) = (got["softmax"].as_array().unwrap(), fx["softmax"].as_array().unwrap());
        assert_eq!(a.len(), b.len());
        let mut worst = 0.0f64;
        for (ra, rb) in a.iter().zip(b) {
            for (x, y) in ra.as_array().unwrap().iter().zip(rb.as_array().unwrap()) {
                worst = worst.max((x.as_f64().unwrap() - y.as_f64().unwrap()).abs());
            }
        }
        assert!(worst <= 1e-5, "{bundle}: softmax off by {worst}");
    }
}

#[test]
fn likelihood_of_a_music_file() {
    let asap = fixtures().join("../../data/asap/Bach/Fugue/bwv_846/Shi05M.mid");
    let o = run(&["likelihood", "--model", s(&fixtures().join("bundles/perf_dyn_small64.mag")), s(&asap)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["events"], 3469);
    let mean = out["mean_log_likelihood"].as_f64().unwrap();
    assert!(mean < 0.0 && mean > -6.0, "{out}");
}

#[test]
fn import_export_import_is_bit_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("bundles/perf_dyn_full512.mag");
    let m = tmp.path().join("model");
    assert!(run(&["import", s(&src), "--out", s(&m)]).status.success());
    let out = tmp.path().join("again.mag");
    let o = run(&["export", s(&m), "--template", s(&src), "--out", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&src).unwrap(), std::fs::read(&out).unwrap());
    let m2 = tmp.path().join("model2");
    assert!(run(&["import", s(&out), "--out", s(&m2)]).status.success());
    assert_eq!(std::fs::read(m.join("weights.ckpt")).unwrap(), std::fs::read(m2.join("weights.ckpt")).unwrap());
    // A model and a template of different sizes do not mix.
    let o = run(&[
        "export",
        s(&m),
        "--template",
        s(&fixtures().join("bundles/perf_dyn_small64.mag")),
        "--out",
        s(&tmp.path().join("bad.mag")),
    ]);
    assert!(!o.status.success());
    assert!(!tmp.path().join("bad.mag").exists());
}

#[test]
fn broken_bundles_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixtures().join("bundles/perf_dyn_small64.mag")).unwrap();
    let check = |name: &str, bytes: &[u8], expect: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = run(&["import", s(&p), "--out", s(&tmp.path().join("m"))]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{name} was accepted");
        assert!(err.contains(name), "{name}: {err}");
        assert!(err.to_lowercase().contains(expect), "{name}: expected '{expect}' in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    check("truncated.mag", &good[..good.len() / 2], "");
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 1;
    check("flipped.mag", &flipped, "crc");
    // Unknown generator id: rewrite the id string inside the bundle (same length).
    let id = b"performance_with_dynamics";
    let pos = good.windows(id.len()).position(|w| w == id).unwrap();
    let mut unknown = good.clone();
    unknown[pos..pos + id.len()].copy_from_slice(b"performance_with_xylophon");
    check("unknown.mag", &unknown, "performance_with_xylophon");
}
