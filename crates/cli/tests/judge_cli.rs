//! `cadenza judge` end to end on real performances: Bach's fugues against Chopin's études are
//! told apart (two real styles, one piece's performances held out together), the JSON report
//! holds what the table shows, and bad input gets an error naming the file.

mod common;
use common::*;

#[test]
fn judge_tells_bach_fugues_from_chopin_etudes() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("judge.json");
    let out = cadenza()
        .args(["judge", "--samples", asap().join("Bach/Fugue").to_str().unwrap()])
        .args(["--reference", asap().join("Chopin/Etudes_op_10").to_str().unwrap()])
        .args(["--reference", asap().join("Chopin/Etudes_op_25").to_str().unwrap()])
        .args(["--sample-groups", "folder", "--max-windows", "4", "--permutations", "10", "--trees", "20"])
        .args(["--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}");
    let r = read_json(&json);
    // ASAP's metadata: 29 fugues (one folder each), Chopin's études in their folders.
    assert!(r["samples"]["groups"].as_u64().unwrap() >= 20, "{}", r["samples"]);
    assert!(r["reference"]["groups"].as_u64().unwrap() >= 10, "{}", r["reference"]);
    assert_eq!(r["classifiers"].as_array().unwrap().len(), 2);
    for c in r["classifiers"].as_array().unwrap() {
        let (auc, hi) = (c["auc"].as_f64().unwrap(), c["null_band"][1].as_f64().unwrap());
        assert!(auc > 0.8 && auc > hi, "{}: AUC {auc}, null band up to {hi}", c["classifier"]);
        assert!(c["interval"][0].as_f64().unwrap() <= auc && auc <= c["interval"][1].as_f64().unwrap());
        assert!(stdout.contains(&format!("{auc:.3}")), "the table shows the JSON's AUC");
    }
    assert_eq!(r["separating"].as_array().unwrap().len(), cadenza_judge::FEATURE_NAMES.len());
    assert!(r["frechet"].as_f64().unwrap() > 0.0);
}

#[test]
fn judge_names_the_bad_file_and_the_empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = cadenza()
        .args([
            "judge",
            "--samples",
            empty.to_str().unwrap(),
            "--reference",
            asap().join("Bach/Fugue").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("empty") && err.contains("no MIDI or MusicXML"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let bad = tmp.path().join("broken.mid");
    std::fs::write(&bad, b"MThd\0\0\0\x06\0\x01\0\x02").unwrap();
    let out = cadenza()
        .args(["judge", "--samples", bad.to_str().unwrap(), "--reference", asap().join("Bach/Fugue").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("broken.mid"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Too few samples for the folds: says what to change.
    let out = cadenza()
        .args(["judge", "--samples", asap().join("Bach/Fugue/bwv_846").to_str().unwrap()])
        .args(["--reference", asap().join("Bach/Fugue").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("groups") && err.contains("folds"), "{err}");
}
