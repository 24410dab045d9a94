//! `cadenza compare` on real data (ASAP's Bach fugues), tiny models: the numbers, the files,
//! the reuse of finished runs, and the report rendering in headless Chromium.

use cadenza_compare::{compare, CompareEvent, CompareOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

use cadenza_shared::chromium;

/// Renders the page headless; returns (dumped DOM, console lines).
fn render(browser: &str, page: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        err.lines().filter(|l| l.contains("CONSOLE")).map(String::from).collect(),
    )
}

#[test]
fn compare_trains_both_models_and_writes_a_report_that_renders() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let bo = cadenza_dataset::BuildOptions {
        transpositions: vec![0],
        stretches: vec![1.0],
        eval_ratio: 0.2,
        seed: 1,
        ..Default::default()
    };
    cadenza_dataset::build(&[shared().join("data/asap/Bach/Fugue")], &ds, &bo).unwrap();
    let out = tmp.path().join("cmp");
    let o = CompareOptions {
        dataset: ds.clone(),
        init: Some(shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag")),
        steps: 12,
        hparams: "batch_size=8".into(),
        eval_every: 6,
        eval_examples: Some(32),
        seeds: 2,
        samples: 2,
        num_steps: 600,
        soundfont: None,
        wav: true,
        out: out.clone(),
        ..Default::default()
    };
    let r = compare(&o, &mut |_| {}).unwrap();

    // comparison.json: both objects carry the eval numbers and every metric.
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    for side in ["original", "modified"] {
        let m = &j[side];
        assert!(m["eval_nll"].as_f64().unwrap() > 0.5, "{side}: {}", m["eval_nll"]);
        assert!((0.0..=1.0).contains(&m["eval_accuracy"].as_f64().unwrap()));
        for f in cadenza_evaluate::FEATURES {
            assert!(m.get(f).is_some(), "{side} lacks {f}");
        }
        assert_eq!(m["runs"].as_array().unwrap().len(), 2, "{side}: one run per seed");
        let mids: Vec<PathBuf> = std::fs::read_dir(out.join(side).join("seed_1/samples"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "mid"))
            .collect();
        assert_eq!(mids.len(), 2, "{side}");
        for m in mids {
            let seq = cadenza_midi::read_file(&m).unwrap();
            assert!(seq.total_time <= 6.0 + 1e-6, "{}: {}", m.display(), seq.total_time);
        }
    }
    assert_eq!(j["original"]["rhythm_loss"], 0.0);
    // The default recipe: grid-key (grid rhythm x 0.1 + key harmony x 1).
    assert_eq!((j["modified"]["rhythm_loss"].as_f64(), j["modified"]["harmony_loss"].as_f64()), (Some(0.1), Some(1.0)));
    assert_eq!(
        (j["options"]["rhythm_cost"].as_str(), j["options"]["harmony_cost"].as_str()),
        (Some("grid"), Some("key"))
    );
    // Same init, data, seed and steps: the modified run differs only by its losses, so
    // the logs show the loss terms only on the modified side.
    let log = |s: &str| std::fs::read_to_string(out.join(s).join("seed_0/run/log.txt")).unwrap();
    assert!(log("modified").contains("harmony_term") && !log("original").contains("harmony_term"));
    assert_ne!(r.original.eval_nll, r.modified.eval_nll);
    // Two seeds are two different trainings.
    assert_ne!(r.original.runs[0].eval_nll, r.original.runs[1].eval_nll);
    // The base column is the init model itself, evaluated and sampled the same way.
    let base = r.base.as_ref().expect("a base column when both arms start from one model");
    assert_eq!(base.runs.len(), 1);
    assert!(base.eval_nll > r.original.eval_nll.min(r.modified.eval_nll) - 1.0);
    // The verdict: an interval for every metric, the better/worse call only outside 0.
    assert!(r.verdicts.len() >= 6 + 10, "{}", r.verdicts.len());
    for v in &r.verdicts {
        assert!(
            v.difference.lo <= v.difference.estimate + 1e-12 && v.difference.estimate <= v.difference.hi + 1e-12,
            "{v:?}"
        );
        assert_eq!(v.seeds, 2, "{v:?}");
        let call = if v.improvement.lo > 0.0 {
            "better"
        } else if v.improvement.hi < 0.0 {
            "worse"
        } else {
            "no clear difference"
        };
        assert_eq!(v.verdict.label(), call, "{v:?}");
    }
    for m in ["eval_nll", "pitch_class_overlap", "ioi_overlap", "in_key_ratio"] {
        assert!(r.verdicts.iter().any(|v| v.metric == m), "no verdict on {m}");
    }
    assert!(j["verdicts"][0]["difference"]["lo"].is_f64());
    // The untargeted judge: every arm against the eval pieces' files (6 s windows, as long as
    // the samples), each sample's log-odds as a verdict row, the anchors, and the rule's
    // headline, whatever it says.
    let judge = r.judge.as_ref().expect("the judge ran");
    let names: Vec<&str> = judge.arms.arms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["base", "original", "modified"]);
    for a in &judge.arms.arms {
        assert!((0.0..=1.0).contains(&a.auc) && a.interval[0] <= a.auc && a.auc <= a.interval[1], "{a:?}");
    }
    assert!(judge.floor.is_some() && judge.ceiling.is_some(), "{:?}", judge.notes);
    let d = judge.arms.delta_auc.as_ref().unwrap();
    assert_eq!((d.minuend.as_str(), d.subtrahend.as_str()), ("modified", "original"));
    assert!(r.verdicts.iter().any(|v| v.metric == "judge_log_odds"), "no verdict on the judge");
    let h = r.headline.as_ref().unwrap();
    assert!(h.sentence.starts_with("Better classical music by the rule: "), "{}", h.sentence);
    assert_eq!(h.better, h.judge.met == Some(true) && h.music.met == Some(true) && h.likelihood.met == Some(true));
    let table = cadenza_compare::summary_table(&r);
    assert!(table.starts_with(&h.sentence) && table.contains("ΔAUC modified - original"), "{table}");
    // The eval pieces are rendered beside the samples, with audio even without a SoundFont.
    assert_eq!(r.reference.pieces.len(), 2);
    assert!(out.join("reference/sample_01.wav").is_file() && out.join("base/samples/sample_01.mid").is_file());

    // Re-running reuses every finished run (no training) and gives the same numbers.
    let before = std::fs::metadata(out.join("original/seed_0/run/stop.json")).unwrap().modified().unwrap();
    let mut events = Vec::new();
    let r2 = compare(&o, &mut |e| events.push(e)).unwrap();
    let reused = events.iter().filter(|e| matches!(e, CompareEvent::Reusing { .. })).count();
    assert_eq!(reused, 4, "two arms x two seeds: {events:?}");
    assert!(!events.iter().any(|e| matches!(e, CompareEvent::Training { .. })), "{events:?}");
    assert_eq!(std::fs::metadata(out.join("original/seed_0/run/stop.json")).unwrap().modified().unwrap(), before);
    assert_eq!(r2.original.eval_nll, r.original.eval_nll);

    // The report: self-contained except for relative links into the samples folders.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("data:image/png;base64,") && html.contains("data:image/svg+xml;base64,"));
    assert!(!html.contains("http://") && !html.contains("https://"), "the report must work offline");
    assert_eq!(
        html.matches("<figure class=\"drift\">").count(),
        3,
        "a drift figure per arm (base, original, modified)"
    );
    assert!(
        html.contains("original/seed_0/samples/sample_01.mid")
            && html.contains("modified/seed_0/samples/sample_02.musicxml")
    );
    assert!(
        html.contains("reference/sample_01.wav")
            && html.contains("base (not fine-tuned)")
            && html.contains("95 %")
            && html.contains("class=\"headline\"")
            && html.contains("The untargeted judge")
    );
    match chromium() {
        Some(b) => {
            let (dom, console) = render(b, &out.join("report.html"));
            assert!(
                dom.contains("data-status=\"ok\""),
                "report did not finish rendering: {}",
                &dom[dom.len().saturating_sub(400)..]
            );
            assert!(console.iter().any(|l| l.contains("cadenza-report-ok")), "no console output captured: {console:?}");
            let errors: Vec<&String> = console.iter().filter(|l| !l.contains("cadenza-report-ok")).collect();
            assert!(errors.is_empty(), "console errors: {errors:?}");
        }
        None => eprintln!("skipped the browser check: no chromium (apt-get install chromium)"),
    }

    // Other loss weights in the same folder: an error, never the old model reused.
    let other = CompareOptions { recipe: cadenza_train::Recipe { harmony: 0.5, ..o.recipe }, ..o.clone() };
    let e = compare(&other, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("other settings"), "{e}");

    // Bad input is an error naming the problem, not a panic.
    let bad = CompareOptions { dataset: tmp.path().join("nope"), out: tmp.path().join("x"), ..o.clone() };
    assert!(compare(&bad, &mut |_| {}).is_err());
    let same = CompareOptions { recipe: cadenza_train::Recipe::NONE, ..o };
    assert!(compare(&same, &mut |_| {}).unwrap_err().to_string().contains("rhythm or a harmony loss"));
}
