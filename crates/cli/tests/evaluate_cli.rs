//! `cadenza evaluate` end to end: ASAP performances against a dataset built by
//! `cadenza dataset`, the JSON report, and the errors.

mod common;
use common::*;

#[test]
fn evaluate_asap_performances_against_a_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    // Reference: two preludes' folders (score MIDI, MusicXML and performances) as a dataset.
    let ds = tmp.path().join("ds");
    let st = cadenza()
        .args([
            "dataset",
            asap().join("Bach/Prelude/bwv_846").to_str().unwrap(),
            asap().join("Bach/Prelude/bwv_854").to_str().unwrap(),
        ])
        .args(["--out", ds.to_str().unwrap(), "--eval-ratio", "0.5", "--transpose", "0", "--stretch", "1"])
        .status()
        .unwrap();
    assert!(st.success());
    let stats = read_json(&ds.join("stats.json"));
    let eval_examples = stats["eval"]["examples"].as_u64().unwrap();
    assert!(eval_examples > 0);

    // Samples: three ASAP performances.
    let samples = tmp.path().join("samples");
    std::fs::create_dir(&samples).unwrap();
    for (src, name) in [
        ("Bach/Prelude/bwv_846/Shi05M.mid", "bach_846.mid"),
        ("Bach/Prelude/bwv_865/Rizikov01M.mid", "bach_865.mid"),
        ("Chopin/Etudes_op_10/3/SunMeiting08.mid", "chopin_10_3.mid"),
    ] {
        std::fs::copy(asap().join(src), samples.join(name)).unwrap();
    }
    let json = tmp.path().join("out/report.json");
    let out = cadenza()
        .args([
            "evaluate",
            "--samples",
            samples.to_str().unwrap(),
            "--reference",
            ds.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "bach_846.mid",
        "chopin_10_3.mid",
        "C maj",
        "A min",
        "pitch_class_entropy",
        "groove_consistency",
        "chord_progression_irregularity",
        "structureness",
        "mean OA over features",
    ] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
    let text = std::fs::read_to_string(&json).unwrap();
    assert!(!text.contains("NaN"));
    let r = read_json(&json);
    let s = r["evaluation"]["samples"].as_array().unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0]["key"]["name"], "C major");
    assert_eq!(s[1]["key"]["name"], "A minor");
    assert!(s[0]["in_key_ratio"].as_f64().unwrap() > 0.8);
    let aggregate: Vec<&str> =
        r["evaluation"]["aggregate"].as_array().unwrap().iter().map(|f| f["feature"].as_str().unwrap()).collect();
    assert_eq!(aggregate, cadenza_evaluate::FEATURES, "one per feature, in order");
    assert_eq!(aggregate.len(), 17);
    // MusDr's metrics on a 2-minute prelude: defined, fractions.
    for f in ["chord_progression_irregularity", "dominant_tonic_ratio", "structureness"] {
        let v = s[0][f].as_f64().unwrap_or_else(|| panic!("{f}: {}", s[0][f]));
        assert!((0.0..=1.0).contains(&v), "{f}: {v}");
    }
    assert_eq!(r["reference_split"], "eval");
    assert_eq!(r["reference"]["samples"].as_array().unwrap().len() as u64, eval_examples);
    let c = &r["comparison"];
    assert_eq!(c["num_samples"], 3);
    assert_eq!(c["num_reference"].as_u64().unwrap(), eval_examples);
    let features = c["features"].as_array().unwrap();
    assert_eq!(features.len(), cadenza_evaluate::FEATURES.len(), "one per feature");
    for f in features {
        let oa = f["distribution"]["overlap_area"].as_f64().unwrap_or_else(|| panic!("{f}"));
        assert!((0.0..=1.0).contains(&oa), "{f}");
        assert!(f["distribution"]["kl_divergence"].as_f64().unwrap() >= 0.0);
    }
    // No temporary file left beside the report.
    assert_eq!(std::fs::read_dir(json.parent().unwrap()).unwrap().count(), 1);

    // The train split, and the samples against themselves as a folder reference: OA 1.
    let out = cadenza()
        .args([
            "evaluate",
            "--samples",
            samples.to_str().unwrap(),
            "--reference",
            samples.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = read_json(&json);
    assert_eq!(r["reference_split"], "files");
    for f in r["comparison"]["features"].as_array().unwrap() {
        assert!(f["distribution"]["overlap_area"].as_f64().unwrap() > 0.999, "{f}");
    }
    let out = cadenza()
        .args([
            "evaluate",
            "--samples",
            samples.to_str().unwrap(),
            "--reference",
            ds.to_str().unwrap(),
            "--split",
            "train",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("(train, "));
}

#[test]
fn evaluate_errors_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = cadenza().args(["evaluate", "--samples", empty.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no MIDI or MusicXML files"), "{err}");

    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::copy(asap().join("Bach/Prelude/bwv_846/Shi05M.mid"), bad.join("good.mid")).unwrap();
    std::fs::write(bad.join("broken.mid"), b"MThd garbage").unwrap();
    let out = cadenza().args(["evaluate", "--samples", bad.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.mid"), "{err}");

    // Without a reference: per-sample metrics and aggregates only.
    std::fs::remove_file(bad.join("broken.mid")).unwrap();
    let out = cadenza().args(["evaluate", "--samples", bad.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("good.mid") && stdout.contains("in_key_ratio"), "{stdout}");
}
