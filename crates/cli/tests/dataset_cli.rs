//! `cadenza dataset` and `cadenza encode` end to end, on the real ASAP data.

mod common;
use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// The ASAP metadata's folder of every file that went into the dataset, per split.
fn pieces_by_split(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let split = read_json(&dir.join("split.json"));
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in split.as_array().unwrap() {
        out.entry(f["split"].as_str().unwrap().to_string())
            .or_default()
            .insert(f["piece"].as_str().unwrap().to_string());
    }
    out
}

#[test]
fn asap_in_twelve_keys_split_by_piece() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("asap");
    let st = cadenza()
        .args([
            "dataset",
            shared().join("data/asap").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--transpose",
            "all",
            "--stretch",
            "1",
            "--seed",
            "3",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let stats = read_json(&out.join("stats.json"));
    assert_eq!(stats["skipped"].as_array().unwrap().len(), 0, "{}", stats["skipped"]);
    let train_files = stats["train"]["files"].as_u64().unwrap();
    let eval_files = stats["eval"]["files"].as_u64().unwrap();
    assert_eq!(
        train_files + eval_files,
        895 + 207 + 206,
        "every performance, score MIDI (207) and MusicXML score (206)"
    );
    let by = pieces_by_split(&out);
    let (train, eval) = (&by["train"], &by["eval"]);
    assert!(eval.is_disjoint(train), "pieces in both splits: {:?}", eval.intersection(train).collect::<Vec<_>>());
    // ASAP has 207 piece folders: 10 % of them held out.
    assert_eq!(train.len() + eval.len(), 207);
    assert_eq!(eval.len(), 21);
    // Every piece folder keeps its score and performances together.
    for f in read_json(&out.join("split.json")).as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert!(path.contains(&format!("/{}/", f["piece"].as_str().unwrap())), "{path}");
    }
    // 12 keys: training examples come in transpositions -5..6, eval only untransposed.
    let ds = cadenza_dataset::Dataset::open(&out).unwrap();
    let mut keys = BTreeSet::new();
    for i in 0..ds.train.len() {
        keys.insert(ds.train.meta(i).transpose);
    }
    assert_eq!(keys, (-5..=6).collect::<BTreeSet<i8>>());
    assert!((0..ds.eval.len()).all(|i| ds.eval.meta(i).transpose == 0));
    assert!(ds.train.len() > 10 * ds.eval.len());
    let t = ds.train.tokens(0);
    assert!(t.len() >= 32 && t.len() <= 512 && t.iter().all(|&x| x < 388));
    assert_eq!(stats["train"]["examples"].as_u64().unwrap() as usize, ds.train.len());
}

#[test]
fn bad_inputs_are_skipped_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let inp = tmp.path().join("in");
    std::fs::create_dir(&inp).unwrap();
    let asap = shared().join("data/asap");
    // Two good pieces.
    std::fs::copy(asap.join("Bach/Fugue/bwv_846/Shi05M.mid"), inp.join("good1.mid")).unwrap();
    std::fs::copy(asap.join("Bach/Fugue/bwv_846/xml_score.mxl"), inp.join("good2.mxl")).unwrap();
    // A truncated MIDI.
    let midi = std::fs::read(asap.join("Chopin/Etudes_op_10/2/JiaXin01.mid")).unwrap();
    std::fs::write(inp.join("truncated.mid"), &midi[..9]).unwrap();
    // A zip that is not MusicXML.
    {
        let f = std::fs::File::create(inp.join("notxml.mxl")).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("readme.txt", zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }
    // An XML bomb.
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<score-partwise version="3.1"><work><work-title>&lol9;</work-title></work><part-list/></score-partwise>"#;
    std::fs::write(inp.join("bomb.xml"), bomb).unwrap();
    // A .mxl whose entry claims 2 GB: a stored entry with a forged uncompressed size.
    {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        z.start_file("score.xml", o).unwrap();
        z.write_all(b"<score-partwise/>").unwrap();
        z.finish().unwrap();
        let mut b = buf.into_inner();
        // Patch the uncompressed size (offset 22 in the local header, 24 in the central one).
        b[22..26].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        let cd = b.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        b[cd + 24..cd + 28].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        std::fs::write(inp.join("huge.mxl"), b).unwrap();
    }
    // A negative tempo.
    let neg = r#"<?xml version="1.0"?><score-partwise version="3.1"><part-list><score-part id="P1"><part-name>P</part-name></score-part></part-list>
<part id="P1"><measure number="1"><attributes><divisions>1</divisions></attributes><direction><sound tempo="-60"/></direction>
<note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note></measure></part></score-partwise>"#;
    std::fs::write(inp.join("negtempo.xml"), neg).unwrap();

    let out = tmp.path().join("ds");
    let o = cadenza()
        .args(["dataset", inp.to_str().unwrap(), "--out", out.to_str().unwrap(), "--eval-ratio", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stats = read_json(&out.join("stats.json"));
    let skipped: BTreeMap<String, String> = stats["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                Path::new(s["file"].as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for bad in ["truncated.mid", "notxml.mxl", "bomb.xml", "huge.mxl"] {
        let reason = skipped.get(bad).unwrap_or_else(|| panic!("{bad} not skipped: {skipped:?}"));
        assert!(!reason.contains('\n'), "{reason}");
        assert!(stderr.contains(bad), "stderr does not name {bad}: {stderr}");
    }
    // The negative tempo is either refused or read with a warning, never NaN times.
    assert!(skipped.contains_key("negtempo.xml") || stats["warnings"].to_string().contains("negtempo.xml"), "{stats}");
    assert!(stats["train"]["examples"].as_u64().unwrap() > 10, "the good files still build: {stats}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn killed_build_leaves_no_half_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let mut child = cadenza()
        .args([
            "dataset",
            shared().join("data/asap").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--transpose",
            "all",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed build left {}", out.display());
    // Rebuilding works and an existing dataset is not replaced without --force.
    let small = shared().join("data/asap/Bach/Fugue/bwv_846");
    let ok = |args: &[&str]| cadenza().args(args).stderr(std::process::Stdio::null()).status().unwrap().success();
    assert!(ok(&["dataset", small.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    let before = std::fs::read(out.join("dataset.json")).unwrap();
    assert!(!ok(&["dataset", small.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    assert_eq!(before, std::fs::read(out.join("dataset.json")).unwrap());
    assert!(ok(&["dataset", small.to_str().unwrap(), "--out", out.to_str().unwrap(), "--force", "--transpose", "0"]));
}

#[derive(serde::Deserialize)]
struct Fixture {
    asap_path: String,
    generator_primer: Primer,
    pipeline_eval: Vec<Ex>,
}
#[derive(serde::Deserialize)]
struct Primer {
    class_indices: Vec<u64>,
}
#[derive(serde::Deserialize)]
struct Ex {
    class_indices: Vec<u64>,
}

/// The acceptance test of the encoding: all six Magenta fixtures, through the CLI.
#[test]
fn encode_reproduces_every_magenta_fixture() {
    let dir = shared().join("fixtures/magenta/events");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() == "index.json" {
            continue;
        }
        let fx: Fixture = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        // The MusicXML sources are stored as .mxl in ../shared/data/asap.
        let src = shared().join("data/asap").join(fx.asap_path.replace(".musicxml", ".mxl"));
        let run = |pipeline: &str| -> serde_json::Value {
            let o = cadenza()
                .args(["encode", src.to_str().unwrap(), "--magenta-compat", "--pipeline", pipeline])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}: {}", src.display(), String::from_utf8_lossy(&o.stderr));
            serde_json::from_slice(&o.stdout).unwrap()
        };
        let primer = run("primer");
        let got: Vec<u64> = primer["class_indices"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(got, fx.generator_primer.class_indices, "{}: primer", fx.asap_path);
        let eval = run("eval");
        let exs = eval["examples"].as_array().unwrap();
        assert_eq!(exs.len(), fx.pipeline_eval.len(), "{}", fx.asap_path);
        for (i, (a, b)) in exs.iter().zip(&fx.pipeline_eval).enumerate() {
            let got: Vec<u64> = a["class_indices"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            assert_eq!(got, b.class_indices, "{}: eval example {i}", fx.asap_path);
        }
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn encode_reports_unreadable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("broken.mid");
    std::fs::write(&p, b"MThd\x00\x00").unwrap();
    let o = cadenza().args(["encode", p.to_str().unwrap()]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.mid"), "{err}");
    assert!(o.stdout.is_empty());
}

/// `--tfrecord` writes SequenceExamples in Magenta's layout: one-hot `inputs` of the events
/// and `labels` of the next events, the same data as the example store.
#[test]
fn tfrecord_matches_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ds");
    let src = shared().join("data/asap/Bach/Fugue/bwv_846");
    let st = cadenza()
        .args([
            "dataset",
            src.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--tfrecord",
            "--transpose",
            "-1..1",
            "--stretch",
            "1",
            "--eval-ratio",
            "0",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let ds = cadenza_dataset::Dataset::open(&out).unwrap();
    let recs = cadenza_mag::tfrecord::read_file(out.join("training_performances.tfrecord")).unwrap();
    assert_eq!(recs.len(), ds.train.len());
    assert!(recs.len() > 10);
    for (i, r) in recs.iter().enumerate().step_by(7) {
        let ex = cadenza_mag::tfrecord::parse_performance_sequence_example(r).unwrap();
        let tokens = ds.train.tokens(i);
        assert_eq!(ex.labels.len(), tokens.len() - 1);
        for (k, (inp, lab)) in ex.inputs.iter().zip(&ex.labels).enumerate() {
            assert_eq!(inp.len(), 388);
            assert_eq!(inp.iter().position(|&x| x == 1.0), Some(tokens[k] as usize));
            assert_eq!(inp.iter().sum::<f32>(), 1.0);
            assert_eq!(lab, &vec![tokens[k + 1] as i64]);
        }
    }
    assert!(cadenza_mag::tfrecord::read_file(out.join("eval_performances.tfrecord")).unwrap().is_empty());
}

/// `--eval-from`: whole folders held out (a composer, a genre): every piece under them is eval,
/// nothing under them is trained on, and a folder that holds none of the files is an error.
#[test]
fn eval_from_holds_out_whole_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let bach = shared().join("data/asap/Bach");
    let out = tmp.path().join("ds");
    let o = cadenza()
        .arg("dataset")
        .arg(&bach)
        .args(["--transpose", "0", "--stretch", "1", "--exclude", "xml_score.*", "--exclude", "midi_score.mid"])
        .arg("--eval-from")
        .arg(bach.join("Prelude"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let split = read_json(&out.join("split.json"));
    let files = split.as_array().unwrap();
    let (mut eval, mut train) = (0, 0);
    for f in files {
        let path = f["path"].as_str().unwrap();
        let is_prelude = path.contains("/Bach/Prelude/");
        match f["split"].as_str().unwrap() {
            "eval" => {
                assert!(is_prelude, "{path} is eval");
                eval += 1;
            }
            _ => {
                assert!(!is_prelude, "{path} is trained on");
                train += 1;
            }
        }
    }
    assert!(eval >= 20 && train >= 20, "{eval} eval, {train} train files");
    eprintln!("{eval} eval, {train} train files");
    let manifest = read_json(&out.join("dataset.json"));
    assert_eq!(manifest["options"]["eval_from"][0], bach.join("Prelude").display().to_string());
    // A folder with none of the files, and holding everything out: errors that say so.
    let o = cadenza()
        .arg("dataset")
        .arg(bach.join("Fugue"))
        .arg("--eval-from")
        .arg(bach.join("Prelude"))
        .arg("--out")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("none of the dataset's files is under it"), "{err}");
    let o = cadenza()
        .arg("dataset")
        .arg(&bach)
        .arg("--eval-from")
        .arg(&bach)
        .arg("--out")
        .arg(tmp.path().join("y"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("nothing is left to train on"), "{err}");
}

/// The binary's defaults find the shared folder by one rule: `CADENZA_SHARED` wins, else
/// `../shared`; a wrong value is an error that names it.
#[test]
fn the_shared_folder_comes_from_cadenza_shared() {
    let tmp = tempfile::tempdir().unwrap();
    let asap = tmp.path().join("mine/data/asap");
    std::fs::create_dir_all(&asap).unwrap();
    std::fs::copy(shared().join("data/asap/Bach/Prelude/bwv_846/Shi05M.mid"), asap.join("one.mid")).unwrap();
    let o = cadenza()
        .args(["bench", "data", "--runs", "1"])
        .env("CADENZA_SHARED", tmp.path().join("mine"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    assert!(text.contains("1 files") || text.contains("1 file"), "{text}");
    let o = cadenza()
        .args(["bench", "data", "--runs", "1"])
        .env("CADENZA_SHARED", tmp.path().join("nope"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("CADENZA_SHARED=") && err.contains("is not a folder"), "{err}");
}
