//! `cadenza listen` and `cadenza listen tally` from the command line, on a real comparison
//! (ASAP's Bach fugues, a tiny Magenta bundle, `cadenza compare` itself): the folder a user
//! sends, the key they keep, the tally with its intervals, the report's new section, and the
//! errors a user meets.

mod common;
use common::*;
use std::path::Path;

use std::process::Output;

fn ok(o: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    text
}

#[test]
fn listen_builds_a_test_and_tally_unblinds_the_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let fugues = shared().join("data/asap/Bach/Fugue");
    ok(&run(&["dataset", s(&fugues), "--out", s(&ds), "--transpose", "0", "--stretch", "1.0", "--eval-ratio", "0.2"]));
    let cmp = tmp.path().join("cmp");
    let init = shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag");
    // A tiny `compare` from Magenta's small bundle: `out` and what differs.
    let compare = |out: &Path, extra: &[&str]| {
        let mut a =
            vec!["compare", "--dataset", s(&ds), "--init", s(&init), "--steps", "3", "--hparams", "batch_size=8"];
        a.extend(["--eval-every", "3", "--eval-examples", "16", "--out", s(out), "--quiet"]);
        a.extend(extra);
        ok(&run(&a));
    };
    compare(&cmp, &["--seeds", "2", "--samples", "2", "--num-steps", "800"]);
    let dir = tmp.path().join("listen");
    let text = ok(&run(&[
        "listen",
        s(&cmp),
        "--out",
        s(&dir),
        "--pairs",
        "20",
        "--calibration",
        "2",
        "--excerpt",
        "5",
        "--min-play",
        "1",
    ]));
    // Two seeds x two samples: 4 pairs, and the user is told why not 20.
    assert!(text.contains("4 pairs + 2 calibration trials") && text.contains("4 pairs, not 20"), "{text}");
    assert!(text.contains("listeners.zip") && text.contains("MB"), "{text}");
    for f in ["index.html", "key.json", "listeners.zip"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // A listener who always picks the first side.
    let key: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("key.json")).unwrap()).unwrap();
    let trials: Vec<serde_json::Value> = key["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let (a, b) = (t["clips"][0].as_str().unwrap(), t["clips"][1].as_str().unwrap());
            serde_json::json!({"trial": t["id"], "a": a, "b": b, "real": "a", "like": null,
                "played": {a: 5.0, b: 5.0}, "seconds": 11.0, "position": 1})
        })
        .collect();
    let first_is_modified = key["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "pair" && key["clips"][t["clips"][0].as_str().unwrap()]["arm"] == "modified")
        .count();
    let answers = serde_json::json!({"format": "cadenza-listen-answers", "version": 1, "run_hash": key["run_hash"],
        "listener": "L-cli", "trials": trials});
    let af = tmp.path().join("answers-L-cli.json");
    std::fs::write(&af, answers.to_string()).unwrap();
    let text = ok(&run(&["listen", "tally", s(&dir), s(&af), "--run", s(&cmp)]));
    assert!(text.contains(&format!("{first_is_modified} of 4 decided pairs")), "{text}");
    let t: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("tally.json")).unwrap()).unwrap();
    assert_eq!(t["pooled"]["chosen"], first_is_modified);
    assert_eq!(
        t["listeners"][0]["calibration"]["trials"]["chosen"].as_u64().unwrap()
            + t["listeners"][0]["calibration"]["trials"]["other"].as_u64().unwrap(),
        2
    );
    let report = std::fs::read_to_string(cmp.join("report.html")).unwrap();
    assert!(report.contains("<h2>Listening test</h2>"));

    // Errors a user meets: the same folder twice, a folder that is no test, a run that is no
    // comparison.
    let e = run(&["listen", s(&cmp), "--out", s(&dir)]);
    assert!(!e.status.success() && String::from_utf8_lossy(&e.stderr).contains("already holds a listening test"));
    let e = run(&["listen", "tally", s(&ds), s(&af)]);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && err.contains("key.json"), "{err}");
    let seed_cmp = tmp.path().join("cmp_seed");
    compare(
        &seed_cmp,
        &["--seeds", "1", "--samples", "1", "--num-steps", "400", "--recipe", "seed", "--original-from", s(&cmp)],
    );
    let e = run(&["listen", s(&cmp), s(&seed_cmp), "--out", s(&tmp.path().join("mixed"))]);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && err.contains("different recipes"), "{err}");
    let e = run(&["listen", s(&ds), "--out", s(&tmp.path().join("x"))]);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(!e.status.success() && err.contains("is not a comparison"), "{err}");
}
