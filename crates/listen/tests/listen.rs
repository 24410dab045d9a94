//! The listening test on a real comparison (ASAP's Bach fugues, tiny models): what it builds,
//! what the tally counts and refuses, and a real browser answering it (headless Chromium,
//! playing the excerpts, the keyboard, a reload mid-way, the download).

use cadenza_listen::build::{Arm, Key, TrialKind};
use cadenza_listen::stats::clopper_pearson;
use cadenza_listen::{add_to_report, build, tally, ListenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::OnceLock;
use std::time::Duration;

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

/// One small real comparison for every test: two seeds, three samples per seed and arm.
fn comparison() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = RUN.get_or_init(|| {
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
        let o = cadenza_compare::CompareOptions {
            dataset: ds,
            init: Some(shared().join("fixtures/magenta/bundles/perf_dyn_small64.mag")),
            steps: 4,
            hparams: "batch_size=8".into(),
            eval_every: 4,
            eval_examples: Some(16),
            seeds: 2,
            samples: 3,
            num_steps: 800,
            wav: false,
            out: out.clone(),
            ..Default::default()
        };
        cadenza_compare::compare(&o, &mut |_| {}).unwrap();
        (tmp, out)
    });
    out
}

fn small() -> ListenOptions {
    ListenOptions {
        pairs: 4,
        calibration: 2,
        excerpt_seconds: 6.0,
        min_play_seconds: 1.0,
        sample_rate: 16_000,
        ..Default::default()
    }
}

fn built(dir: &Path, opts: &ListenOptions) -> Key {
    build(&[comparison().to_path_buf()], dir, opts, &mut |_, _| {}).unwrap();
    Key::read(dir).unwrap()
}

/// An answers file as the page writes it: `pick(trial kind, arms of a and b)` chooses.
fn answers(key: &Key, listener: &str, pick: impl Fn(TrialKind, Arm, Arm) -> &'static str) -> serde_json::Value {
    let trials: Vec<serde_json::Value> = key
        .trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (a, b) = (&t.clips[0], &t.clips[1]);
            let choice = pick(t.kind, key.clips[a].arm, key.clips[b].arm);
            serde_json::json!({
                "trial": t.id, "a": a, "b": b, "real": choice,
                "real_clip": match choice { "a" => Some(a), "b" => Some(b), _ => None },
                "like": null, "like_clip": null,
                "played": {a.as_str(): 5.0, b.as_str(): 5.0},
                "seconds": 12.5, "position": i + 1
            })
        })
        .collect();
    serde_json::json!({
        "format": "cadenza-listen-answers", "version": 1, "run_hash": key.run_hash,
        "listener": listener, "started": null, "finished": null, "user_agent": "test", "trials": trials
    })
}

/// A listener who hears the modified side as real every time and always finds the real piece.
fn modified_and_real(kind: TrialKind, a: Arm, _b: Arm) -> &'static str {
    let target = if kind == TrialKind::Pair { Arm::Modified } else { Arm::Real };
    if a == target {
        "a"
    } else {
        "b"
    }
}

fn write(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

#[test]
fn the_test_is_blind_paired_and_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("listen");
    let key = built(&dir, &small());
    let pairs: Vec<_> = key.trials.iter().filter(|t| t.kind == TrialKind::Pair).collect();
    let cal: Vec<_> = key.trials.iter().filter(|t| t.kind == TrialKind::Calibration).collect();
    assert_eq!((pairs.len(), cal.len()), (4, 2));
    // A pair: one original, one modified, the same run, training seed and sample number (the
    // same sampling seed).
    let mut seen = std::collections::BTreeSet::new();
    for t in &pairs {
        let (x, y) = (&key.clips[&t.clips[0]], &key.clips[&t.clips[1]]);
        let mut arms = [x.arm, y.arm];
        arms.sort_by_key(|a| *a as u8);
        assert_eq!(arms, [Arm::Original, Arm::Modified]);
        assert_eq!((x.run, x.seed, x.sample), (y.run, y.seed, y.sample));
        assert!(seen.insert((x.seed, x.sample)), "a pair used twice");
        for c in [x, y] {
            let folder = if c.arm == Arm::Original { "original/seed_" } else { "modified/seed_" };
            assert!(c.source.contains(folder), "{c:?}");
        }
    }
    // Calibration: a real eval piece (an ASAP performance of the eval split) and a model sample.
    for t in &cal {
        let arms: Vec<Arm> = t.clips.iter().map(|c| key.clips[c].arm).collect();
        assert!(arms.contains(&Arm::Real) && arms.iter().any(|a| *a != Arm::Real), "{arms:?}");
        let real = t.clips.iter().find(|c| key.clips[*c].arm == Arm::Real).unwrap();
        assert!(key.clips[real].source.contains("asap/Bach/Fugue"), "{}", key.clips[real].source);
    }
    // Every excerpt: FLAC, at most the excerpt's length, with notes.
    for (id, c) in &key.clips {
        let bytes = std::fs::read(dir.join("audio").join(format!("{id}.flac"))).unwrap();
        assert_eq!(&bytes[..4], b"fLaC", "{id}");
        // STREAMINFO: the sample rate (20 bits) and the total samples (36 bits).
        let sr = (u32::from(bytes[18]) << 12) | (u32::from(bytes[19]) << 4) | (u32::from(bytes[20]) >> 4);
        let total = (u64::from(bytes[21] & 0x0f) << 32)
            | u64::from(u32::from_be_bytes([bytes[22], bytes[23], bytes[24], bytes[25]]));
        assert_eq!(sr, 16_000);
        let seconds = total as f64 / 16_000.0;
        assert!(
            (seconds - c.seconds).abs() < 0.01 && c.seconds <= 6.0 + 1e-9 && c.seconds > 2.0,
            "{id}: {seconds} s, {c:?}"
        );
        assert!(c.notes > 0);
    }
    // The page names nothing: no arm, no source, no seed; it has every trial and clip id.
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for word in ["original", "modified", "seed_", "sample_", "Fugue", ".mid", "calibration", "http://", "https://"] {
        assert!(!html.to_lowercase().contains(&word.to_lowercase()), "the page says {word:?}");
    }
    for t in &key.trials {
        assert!(html.contains(&t.id) && html.contains(&t.clips[0]) && html.contains(&t.clips[1]));
    }
    assert!(html.contains(&key.run_hash));
    // What is sent: the page and the audio, never the key.
    let z = zip::ZipArchive::new(std::fs::File::open(dir.join("listeners.zip")).unwrap()).unwrap();
    let names: Vec<&str> = z.file_names().collect();
    assert!(names.contains(&"listening-test/index.html"));
    assert_eq!(names.iter().filter(|n| n.ends_with(".flac")).count(), key.clips.len());
    assert!(!names.iter().any(|n| n.contains("key")));
    // Built again into the same folder: refused (the answers would stop matching).
    let e = build(&[comparison().to_path_buf()], &dir, &small(), &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("already holds a listening test"), "{e}");
    // The same seed gives the same test; another seed other ids.
    let again = built(&tmp.path().join("again"), &small());
    assert_eq!(again.run_hash, key.run_hash);
    let other = built(&tmp.path().join("other"), &ListenOptions { seed: 2, ..small() });
    assert_ne!(other.run_hash, key.run_hash);
    // Not a comparison: a clear error naming the folder.
    let e =
        build(&[tmp.path().to_path_buf()], &tmp.path().join("x"), &small(), &mut |_, _| {}).unwrap_err().to_string();
    assert!(e.contains("is not a comparison"), "{e}");
}

#[test]
fn the_tally_counts_refuses_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("listen");
    let key = built(&dir, &small());
    // Listener 1 hears the modified as real every time and finds the real piece.
    let l1 = answers(&key, "L-000001", modified_and_real);
    // Listener 2 picks the original and cannot tell real from model.
    let l2 = answers(&key, "L-000002", |k, a, _| match k {
        TrialKind::Pair => {
            if a == Arm::Original {
                "a"
            } else {
                "b"
            }
        }
        TrialKind::Calibration => "none",
    });
    let f1 = write(tmp.path(), "a1.json", &l1);
    let f2 = write(tmp.path(), "a2.json", &l2);
    // Refused: the same listener again, another test's page, a malformed file, a trial this
    // test does not have.
    let dup = write(tmp.path(), "dup.json", &l1);
    let mut foreign = l2.clone();
    foreign["run_hash"] = "0123456789abcdef".into();
    foreign["listener"] = "L-000003".into();
    let foreign = write(tmp.path(), "foreign.json", &foreign);
    let broken = tmp.path().join("broken.json");
    std::fs::write(&broken, b"{\"format\": \"cadenza-listen-answers\", \"trials\": [").unwrap();
    let mut unknown = l2.clone();
    unknown["listener"] = "L-000004".into();
    unknown["trials"][0]["trial"] = "tnope".into();
    let unknown = write(tmp.path(), "unknown.json", &unknown);
    let t = tally(&dir, &[f1.clone(), f2.clone(), dup, foreign, broken, unknown]).unwrap();
    assert_eq!(t.listeners.len(), 2);
    let reasons: Vec<&str> = t.refused.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("already counted") && reasons[1].contains("another listening test"));
    assert!(reasons[2].contains("not an answers file") && reasons[3].contains("does not have"), "{reasons:?}");
    let (a, b) = (&t.listeners[0], &t.listeners[1]);
    assert_eq!((a.realism.chosen, a.realism.other, a.realism.share), (4, 0, Some(1.0)));
    assert_eq!(a.realism.ci, clopper_pearson(4, 4, 0.95));
    assert!((a.realism.p - 0.125).abs() < 1e-12);
    assert_eq!(
        (a.calibration.trials.chosen, a.calibration.at_chance),
        (2, true),
        "2 of 2 is not above chance (p = 0.25)"
    );
    assert_eq!((b.realism.chosen, b.realism.other), (0, 4));
    assert_eq!((b.calibration.trials.cant_tell, b.calibration.at_chance), (2, true));
    assert_eq!((t.pooled.chosen, t.pooled.other), (4, 4));
    assert!((t.pooled.p - 1.0).abs() < 1e-12 && t.wilcoxon.is_none());
    assert!(t.sentence.contains("4 of 8 decided pairs"), "{}", t.sentence);
    // A trial whose excerpts were not played long enough is left out.
    let mut short = l1.clone();
    short["listener"] = "L-000005".into();
    let (c0, c1) = (key.trials[0].clips[0].clone(), key.trials[0].clips[1].clone());
    short["trials"][0]["played"] = serde_json::json!({c0: 0.2, c1: 5.0});
    let fs = write(tmp.path(), "short.json", &short);
    let t = tally(&dir, &[fs]).unwrap();
    assert_eq!((t.listeners[0].trials, t.listeners[0].excluded), (5, 1));
    // Five listeners: the across-listener test runs.
    let files: Vec<PathBuf> = (0..5)
        .map(|i| {
            let v = answers(&key, ["L-a", "L-b", "L-c", "L-d", "L-e"][i], modified_and_real);
            write(tmp.path(), &format!("five{i}.json"), &v)
        })
        .collect();
    let t = tally(&dir, &files).unwrap();
    let w = t.wilcoxon.unwrap();
    // Five shares of 1.0: all positive, tied ranks 3 each; W- = 0, p = 2/32.
    assert_eq!((w.n, w.statistic), (5, 0.0));
    assert!((w.p - 0.0625).abs() < 1e-12, "{w:?}");
    // Nothing countable: an error that says why.
    let e = tally(&dir, &[tmp.path().join("foreign.json")]).unwrap_err().to_string();
    assert!(e.contains("another listening test"), "{e}");
    // The report gets one section, replaced on a second tally.
    let report = comparison().join("report.html");
    let copy = tmp.path().join("report.html");
    std::fs::copy(&report, &copy).unwrap();
    add_to_report(&copy, &t).unwrap();
    add_to_report(&copy, &t).unwrap();
    let html = std::fs::read_to_string(&copy).unwrap();
    assert_eq!(html.matches("<h2>Listening test</h2>").count(), 1);
    assert!(html.contains("Wilcoxon") && html.trim_end().ends_with("</html>"));
}

// ---- a real browser ----

/// A static file server for `root` that passes every POST (path, body) to the test.
fn serve(root: PathBuf) -> (u16, Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, tx) = (root.clone(), tx.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &root, &tx);
            });
        }
    });
    (port, rx)
}

fn handle(mut s: TcpStream, root: &Path, tx: &Sender<(String, String)>) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/").to_string());
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    if method == "POST" {
        let mut body = vec![0u8; length];
        r.read_exact(&mut body)?;
        let _ = tx.send((target, String::from_utf8_lossy(&body).into_owned()));
        return s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let path = target.split('?').next().unwrap_or("/").trim_start_matches('/').to_string();
    let file = root.join(if path.is_empty() { "index.html" } else { &path });
    match (path.contains(".."), std::fs::read(&file)) {
        (false, Ok(bytes)) => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("flac") => "audio/flac",
                _ => "application/octet-stream",
            };
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    bytes.len()
                )
                .as_bytes(),
            )?;
            s.write_all(&bytes)
        }
        _ => s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

/// Answers the whole test in headless Chromium; returns (download's file name, answers JSON,
/// the harness's events).
fn answer_in_browser(mode: &str) -> Option<(Key, PathBuf, String, serde_json::Value, Vec<String>)> {
    let Some(browser) = cadenza_shared::chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have chromium (apt-get install chromium)");
        eprintln!("skipped the browser test: no chromium (apt-get install chromium)");
        return None;
    };
    let tmp = tempfile::tempdir().unwrap().keep();
    let dir = tmp.join("listen");
    let key = built(&dir, &small());
    let arms: serde_json::Map<String, serde_json::Value> =
        key.clips.iter().map(|(id, c)| (id.clone(), serde_json::to_value(c.arm).unwrap())).collect();
    let harness = include_str!("harness.html")
        .replace("/*ARMS*/null", &serde_json::Value::Object(arms).to_string())
        .replace("/*MODE*/null", &format!("{mode:?}"));
    std::fs::write(dir.join("harness.html"), harness).unwrap();
    let (port, rx) = serve(dir.clone());
    let profile = tmp.join("profile");
    let log = std::fs::File::create(tmp.join("chromium.log")).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://127.0.0.1:{port}/harness.html"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut events = Vec::new();
    let result = loop {
        match rx.recv_timeout(Duration::from_secs(180)) {
            Ok((path, body)) if path.starts_with("/answers") => break Ok((path, body)),
            Ok((path, body)) if path.starts_with("/event") => events.push(body),
            Ok((_, body)) => break Err(format!("the harness failed: {body}")),
            Err(e) => break Err(format!("no answers from the browser: {e}")),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let console = std::fs::read_to_string(tmp.join("chromium.log")).unwrap_or_default();
    let (path, body) = result.unwrap_or_else(|e| panic!("{e}\n{}", &console[console.len().saturating_sub(3000)..]));
    let errors: Vec<&str> = console.lines().filter(|l| l.contains("Uncaught")).collect();
    assert!(errors.is_empty(), "page errors: {errors:?}");
    let name = path.split("name=").nth(1).unwrap_or("").replace("%2F", "/").to_string();
    let json: serde_json::Value = serde_json::from_str(&body).expect("the download is JSON");
    Some((key, dir, name, json, events))
}

#[test]
fn a_listener_in_chromium_answers_with_the_keyboard_and_the_tally_matches() {
    let Some((key, dir, name, json, _)) = answer_in_browser("full") else { return };
    let listener = json["listener"].as_str().unwrap().to_string();
    assert!(listener.starts_with("L-") && name == format!("answers-{listener}.json"), "{name}");
    assert_eq!(json["run_hash"], key.run_hash.as_str());
    let trials = json["trials"].as_array().unwrap();
    assert_eq!(trials.len(), key.trials.len());
    for t in trials {
        // Both excerpts really played (the page's clock, not a seek) for at least the minimum.
        for c in [t["a"].as_str().unwrap(), t["b"].as_str().unwrap()] {
            assert!(t["played"][c].as_f64().unwrap() >= 1.0, "{t}");
        }
    }
    let f = dir.join(&name);
    std::fs::write(&f, json.to_string()).unwrap();
    let t = tally(&dir, &[f]).unwrap();
    assert!(t.refused.is_empty(), "{:?}", t.refused);
    let l = &t.listeners[0];
    // The pattern, exactly: the modified side every time, the real side every time.
    assert_eq!((l.realism.chosen, l.realism.other, l.realism.cant_tell), (4, 0, 0));
    assert_eq!(t.pooled.share, Some(1.0));
    assert_eq!(t.pooled.ci, clopper_pearson(4, 4, 0.95));
    assert!((t.pooled.p - 0.125).abs() < 1e-12);
    assert_eq!((l.calibration.trials.chosen, l.calibration.trials.other), (2, 0));
    // The optional question, answered on every other trial with the same side.
    let liked_pairs = trials
        .iter()
        .filter(|x| !x["like"].is_null() && key.trials.iter().any(|k| k.id == x["trial"] && k.kind == TrialKind::Pair))
        .count() as u64;
    let like = l.like.as_ref().unwrap();
    assert_eq!((like.chosen, like.other), (liked_pairs, 0));
    // Every listener gets their own order: the answers are not in the key's order... unless by
    // chance (1 in 720); the positions run 1..=6.
    let positions: Vec<u64> = trials.iter().map(|x| x["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=6).collect::<Vec<_>>());
}

#[test]
fn a_reload_midway_resumes_where_the_listener_stopped() {
    let Some((key, dir, _, json, events)) = answer_in_browser("reload") else { return };
    assert_eq!(events, vec![format!("resumed at Trial {} of {}", key.trials.len() / 2 + 1, key.trials.len())]);
    let trials = json["trials"].as_array().unwrap();
    let ids: std::collections::BTreeSet<&str> = trials.iter().map(|t| t["trial"].as_str().unwrap()).collect();
    assert_eq!((trials.len(), ids.len()), (key.trials.len(), key.trials.len()), "each trial once");
    let f = dir.join("answers.json");
    std::fs::write(&f, json.to_string()).unwrap();
    let t = tally(&dir, &[f]).unwrap();
    assert_eq!((t.pooled.chosen, t.pooled.other), (4, 0));
}
