//! `cadenza demo` end to end: the real music21 corpus (fetched with pip once, cached in the
//! target folder), a dataset in 12 keys split by piece, both models, the report. CI runs a
//! small slice (few steps, one short sample); `CADENZA_FULL_DEMO=1` runs the defaults and
//! checks the 20-minute promise.

use cadenza_compare::{run_demo, DemoOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// A music21 wheel, downloaded once into the target folder and reused by later runs.
fn cached_wheel() -> Option<PathBuf> {
    cadenza_compare::demo::download_wheel(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("music21-wheel")).ok()
}

fn args(out: PathBuf, full: bool) -> DemoOptions {
    DemoOptions {
        out,
        wheel: None,
        init: None,
        from_scratch: false,
        layers: vec![128, 128],
        steps: if full { 200 } else { 3 },
        hparams: if full {
            "batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8".into()
        } else {
            "batch_size=4,learning_rate=0.001".into()
        },
        recipe: cadenza_train::Recipe::SEED,
        seeds: if full { 3 } else { 1 },
        samples: if full { 16 } else { 1 },
        num_steps: if full { 3000 } else { 300 },
        seed: 0,
        eval_examples: if full { 400 } else { 8 },
        ..Default::default()
    }
}

#[test]
fn demo_runs_end_to_end_on_the_music21_corpus() {
    let full = std::env::var("CADENZA_FULL_DEMO").is_ok_and(|v| v == "1");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let t = Instant::now();
    run_demo(&args(out.clone(), full), &mut |_| {}).unwrap();
    let minutes = t.elapsed().as_secs_f64() / 60.0;
    eprintln!("demo ({}) took {minutes:.1} min", if full { "full" } else { "slice" });
    if full {
        assert!(minutes < 20.0, "the demo took {minutes:.1} min");
    }

    // The corpus (shipped with Cadenza, no pip): 20 pieces with their source, rights and
    // checksum recorded.
    let sources: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("corpus/SOURCES.json")).unwrap()).unwrap();
    let sources = sources.as_array().unwrap();
    assert_eq!(sources.len(), 20);
    assert!(sources
        .iter()
        .all(|s| s["path_in_wheel"].as_str().unwrap().starts_with("music21/corpus/") && s.get("rights").is_some()));

    // 12 keys, split by piece: 2 eval pieces, 18 train, and no piece on both sides.
    let split: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dataset/split.json")).unwrap()).unwrap();
    let mut side: BTreeMap<String, String> = BTreeMap::new();
    for f in split.as_array().unwrap() {
        let (p, s) = (f["piece"].as_str().unwrap().to_string(), f["split"].as_str().unwrap().to_string());
        assert!(side.insert(p.clone(), s.clone()).is_none_or(|old| old == s), "{p} is on both sides");
    }
    assert_eq!(side.values().filter(|s| *s == "eval").count(), 2);
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dataset/stats.json")).unwrap()).unwrap();
    let ds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("dataset/dataset.json")).unwrap()).unwrap();
    assert_eq!(ds.to_string().matches("transpositions").count(), 1);
    assert_eq!(ds["options"]["transpositions"].as_array().unwrap().len(), 12, "{ds}");
    assert!(stats["train"]["examples"].as_u64().unwrap() > stats["eval"]["examples"].as_u64().unwrap());

    // The comparison.
    let c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("comparison/comparison.json")).unwrap()).unwrap();
    assert!(c["original"]["eval_nll"].as_f64().unwrap() > 0.0 && c["modified"]["eval_nll"].as_f64().unwrap() > 0.0);
    assert!(
        out.join("comparison/report.html").is_file()
            && out.join("comparison/original/seed_0/samples/sample_01.mid").is_file()
    );
    // It fine-tuned the shipped base, which also has its own column, and the verdict has rows.
    assert!(
        c["options"]["init"].as_str().unwrap().ends_with(cadenza_compare::demo::BASE_MODEL),
        "{}",
        c["options"]["init"]
    );
    assert!(c["base"]["eval_nll"].as_f64().unwrap() > 0.0);
    assert!(c["verdicts"].as_array().unwrap().len() >= 10);
    assert_eq!(c["options"]["rhythm_cost"], "emd", "the first modified arm is the seed project's recipe");
    // The third arm: the project's recipe against the very same original models (not retrained
    // in its own folder), and one page with each recipe's headline under the rule.
    let p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("comparison_project/comparison.json")).unwrap()).unwrap();
    assert_eq!(
        (p["options"]["rhythm_cost"].as_str(), p["options"]["harmony_cost"].as_str()),
        (Some("grid"), Some("key"))
    );
    assert_eq!(p["original"]["eval_nll"], c["original"]["eval_nll"]);
    assert!(!out.join("comparison_project/original").exists());
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    for r in [
        "seed",
        "grid-key",
        "comparison/report.html",
        "comparison_project/report.html",
        "Better classical music by the rule",
    ] {
        assert!(index.contains(r), "index.html lacks {r}: {index}");
    }
    let html = std::fs::read_to_string(out.join("comparison_project/report.html")).unwrap();
    assert!(html.contains("../comparison/original/seed_0/samples/sample_01.mid"), "links into the shared original arm");

    // Re-running reuses every stage.
    let t = Instant::now();
    run_demo(&args(out.clone(), full), &mut |_| {}).unwrap();
    let again = t.elapsed().as_secs_f64() / 60.0;
    assert!(again < minutes, "the second run ({again:.2} min) redid work ({minutes:.2} min the first time)");

    // Another fold holds out two other pieces, and pooling the two folds gives one verdict with
    // each fold's own beside it.
    let fold1 = tmp.path().join("demo_fold1");
    run_demo(&DemoOptions { fold: 1, ..args(fold1.clone(), full) }, &mut |_| {}).unwrap();
    let eval_of = |d: &std::path::Path| -> Vec<String> {
        let split: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("dataset/split.json")).unwrap()).unwrap();
        let mut e: Vec<String> = split
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["split"] == "eval")
            .map(|f| f["piece"].as_str().unwrap().to_string())
            .collect();
        e.sort();
        e.dedup();
        e
    };
    let (e0, e1) = (eval_of(&out), eval_of(&fold1));
    assert_eq!((e0.len(), e1.len()), (2, 2));
    assert!(e0.iter().all(|p| !e1.contains(p)), "folds 0 and 1 share an eval piece: {e0:?} {e1:?}");
    let pooled_dir = tmp.path().join("pooled");
    let folds = [out.join("comparison"), fold1.join("comparison")];
    let p = cadenza_compare::pool_to(&folds, &pooled_dir).unwrap();
    assert_eq!(p.folds.len(), 2);
    // The judge's ΔAUC: pooled from the folds that have one (a one-sample slice may have none).
    let fold_delta = |d: &std::path::Path| -> bool {
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("comparison/comparison.json")).unwrap()).unwrap();
        !j["judge"]["arms"]["delta_auc"].is_null()
    };
    let have = [fold_delta(&out), fold_delta(&fold1)];
    assert_eq!(p.delta_auc.is_some(), have.iter().any(|h| *h));
    if let Some(d) = &p.delta_auc {
        assert_eq!(d.folds.iter().map(Option::is_some).collect::<Vec<_>>(), have);
        assert!(d.interval[0] <= d.estimate && d.estimate <= d.interval[1], "{d:?}");
    }
    assert_eq!(p.folds[1].eval_pieces, e1);
    let nll = p.verdicts.iter().find(|v| v.pooled.metric == "eval_nll").unwrap();
    assert_eq!(nll.folds, 2);
    // The pooled eval NLL is the mean of the two folds' (each fold's mean over its seeds).
    let fold_nll = |d: &std::path::Path, side: &str| -> f64 {
        let c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("comparison/comparison.json")).unwrap()).unwrap();
        c[side]["eval_nll"].as_f64().unwrap()
    };
    let mean_orig = (fold_nll(&out, "original") + fold_nll(&fold1, "original")) / 2.0;
    assert!((nll.pooled.original - mean_orig).abs() < 1e-9, "{} vs {mean_orig}", nll.pooled.original);
    for v in &p.verdicts {
        let d = &v.pooled.difference;
        assert!(d.lo <= d.estimate + 1e-12 && d.estimate <= d.hi + 1e-12, "{v:?}");
    }
    let table = std::fs::read_to_string(pooled_dir.join("pooled.txt")).unwrap();
    let name = std::path::Path::new(&e1[0]).file_name().unwrap().to_string_lossy().into_owned();
    assert!(table.contains("in_key_ratio") && table.contains(&name), "{table}");
    // Each fold is named by its split's fold number, not its place in the list.
    assert_eq!((p.folds[0].split_fold, p.folds[1].split_fold), (Some(0), Some(1)));
    assert!(table.contains("fold 0: ") && table.contains("fold 1: ") && !table.contains("fold 2: "), "{table}");
    // The same fold twice, or a fold of another recipe, is refused naming the file.
    let e = cadenza_compare::pool(&[folds[0].clone(), folds[0].clone()], 100).unwrap_err().to_string();
    assert!(e.contains("same data"), "{e}");
    let mut other: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fold1.join("comparison/comparison.json")).unwrap()).unwrap();
    other["options"]["harmony_loss"] = serde_json::json!(0.5);
    let other_file = tmp.path().join("other.json");
    std::fs::write(&other_file, serde_json::to_vec(&other).unwrap()).unwrap();
    let e = cadenza_compare::pool(&[folds[0].clone(), other_file.clone()], 100).unwrap_err().to_string();
    assert!(e.contains("another experiment") && e.contains("harmony_loss") && e.contains("other.json"), "{e}");
    std::fs::write(&other_file, b"{ not json").unwrap();
    let e = cadenza_compare::pool(&[folds[0].clone(), other_file], 100).unwrap_err().to_string();
    assert!(e.contains("other.json") && e.contains("not a comparison.json"), "{e}");
}

/// The shipped corpus is music21's files byte for byte: a fresh wheel (when pip can fetch one)
/// gives the same 20 files with the same checksums; a changed shipped file is refused by name.
#[test]
fn the_shipped_corpus_is_the_wheels_and_is_checked() {
    let shipped = cadenza_compare::demo::shipped_corpus().expect("corpus/music21 in the source tree");
    let list: Vec<cadenza_compare::demo::Source> =
        serde_json::from_slice(&std::fs::read(shipped.join("SOURCES.json")).unwrap()).unwrap();
    assert_eq!(list.len(), 20);
    assert!(list.iter().all(|s| s.sha256.as_deref().is_some_and(|h| h.len() == 64)));
    // No rights text but one CC-BY encoding (Corelli's), as PROVENANCE.md says.
    let rights: Vec<&str> = list.iter().filter_map(|s| s.rights.as_deref()).collect();
    assert_eq!(rights, ["© 2014, Creative Commons License (CC-BY)"]);
    let tmp = tempfile::tempdir().unwrap();
    let files = cadenza_compare::demo::copy_corpus(&shipped, &tmp.path().join("corpus")).unwrap();
    assert_eq!(files.len(), 20);
    assert!(files.iter().all(|f| f.is_file()));
    // A shipped file changed: refused, naming it.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    for e in std::fs::read_dir(&shipped).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), bad.join(e.file_name())).unwrap();
    }
    std::fs::write(bad.join(&list[3].file), b"<score-partwise/>").unwrap();
    let err = cadenza_compare::demo::copy_corpus(&bad, &tmp.path().join("c2")).unwrap_err().to_string();
    assert!(err.contains(&list[3].file) && err.contains("has changed"), "{err}");
    assert!(!tmp.path().join("c2").exists(), "nothing half-copied");
    match cached_wheel() {
        Some(w) => {
            let from_wheel = tmp.path().join("from_wheel");
            cadenza_compare::demo::extract_corpus(&w, &from_wheel, &mut |_| {}).unwrap();
            let again: Vec<cadenza_compare::demo::Source> =
                serde_json::from_slice(&std::fs::read(from_wheel.join("SOURCES.json")).unwrap()).unwrap();
            let pairs: Vec<(String, Option<String>)> =
                again.iter().map(|s| (s.file.clone(), s.sha256.clone())).collect();
            let shipped_pairs: Vec<(String, Option<String>)> =
                list.iter().map(|s| (s.file.clone(), s.sha256.clone())).collect();
            assert_eq!(pairs, shipped_pairs, "the wheel's files differ from the shipped ones");
        }
        None => eprintln!("the wheel check skipped: pip could not download music21"),
    }
}
