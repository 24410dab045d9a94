//! Note-end decoding from the command line on ASAP: `cadenza decoding` fits the model,
//! `generate --decoding` samples with it, `compare --recipe none --decoding` measures it as an
//! arm of its own, and a broken file is refused naming it.

mod common;
use common::{run, s, shared};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dataset(dir: &Path) -> PathBuf {
    let ds = dir.join("ds");
    let fugues = shared().join("data/asap/Bach/Fugue");
    let out = run(&[
        "dataset",
        s(&fugues),
        "--out",
        s(&ds),
        "--transpose",
        "0",
        "--stretch",
        "1",
        "--eval-ratio",
        "0.2",
        "--exclude",
        "midi_score.mid",
        "--exclude",
        "xml_score.*",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ds
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn decoding_is_fitted_sampled_and_compared_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let table = tmp.path().join("decoding.json");
    let said = ok(&["decoding", "--dataset", s(&ds), "--out", s(&table)]);
    assert!(said.contains("performances") && said.contains("4 s – on"), "{said}");
    let fitted: serde_json::Value = serde_json::from_slice(&std::fs::read(&table).unwrap()).unwrap();
    let ends: u64 = fitted["ends"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).sum();
    assert!(ends > 1000, "{ends} endings counted");

    let base = root().join("models/perf_dyn_3x256_asap_v2");
    let gen = tmp.path().join("gen");
    let common = ["generate", "--model", s(&base), "--num-outputs", "2", "--num-steps", "800", "--seed", "4"];
    let plain_args = [&common[..], &["--out", s(&gen), "--note-events", "paired"]].concat();
    ok(&plain_args);
    let plain = std::fs::read(gen.join("sample_01.mid")).unwrap();
    let dgen = tmp.path().join("dgen");
    let decoded_args = [
        &common[..],
        &["--out", s(&dgen), "--note-events", "paired", "--decoding", s(&table), "--decoding-weight", "1"],
    ]
    .concat();
    ok(&decoded_args);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dgen.join("generate.json")).unwrap()).unwrap();
    assert_eq!(report["options"]["decoding"]["weight"], 1.0, "{}", report["options"]);
    assert_ne!(std::fs::read(dgen.join("sample_01.mid")).unwrap(), plain, "decoding changed nothing");

    // The decoding as an arm: the original is the base, given; the modified arm is it decoded.
    let cmp = tmp.path().join("cmp");
    let said = ok(&[
        "compare",
        "--dataset",
        s(&ds),
        "--original-model",
        s(&base),
        "--recipe",
        "none",
        "--decoding",
        "1",
        "--samples",
        "2",
        "--num-steps",
        "600",
        "--eval-examples",
        "4",
        "--no-wav",
        "--quiet",
        "--out",
        s(&cmp),
    ]);
    assert!(said.contains("Better classical music by the rule") && said.contains("polyphony"), "{said}");
    assert!(cmp.join("decoding.json").is_file() && cmp.join("modified/seed_0/samples").is_dir());
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(cmp.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(c["options"]["decoding"], 1.0);
    // The same model decoded: the same eval NLL.
    assert_eq!(c["original"]["eval_nll"], c["modified"]["eval_nll"]);
}

#[test]
fn a_broken_note_end_file_and_a_weight_out_of_range_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("decoding.json");
    std::fs::write(&bad, b"not json").unwrap();
    let base = root().join("models/perf_dyn_3x256_asap_v2");
    let out = run(&["generate", "--model", s(&base), "--out", s(&tmp.path().join("g")), "--decoding", s(&bad)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("decoding.json") && err.contains("not a note-end model"), "{err}");
    let out = run(&[
        "generate",
        "--model",
        s(&base),
        "--out",
        s(&tmp.path().join("g")),
        "--decoding",
        s(&bad),
        "--decoding-weight",
        "1.5",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--decoding-weight") && err.contains("[0, 1]"), "{err}");
}
