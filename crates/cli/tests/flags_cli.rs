//! Flags that contradict each other or make no sense stop the binary before any work: exit
//! code 2 (clap's usage error) and a message naming the flag and the value.

mod common;

use common::run;

fn usage_error(args: &[&str], names: &[&str]) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for n in names {
        assert!(err.contains(n), "{args:?}: the message lacks {n}: {err}");
    }
}

#[test]
fn nonsense_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let train = ["train", "--dataset", "no-dataset", "--run-dir", run_dir.to_str().unwrap()];
    let clr = ["--clr", "lower=0.0001,upper=0.001,step_size=10", "--lr-decay", "rate=0.5,steps=100"];
    usage_error(&[&train[..], &clr].concat(), &["--clr", "--lr-decay"]);
    usage_error(&[&train[..], &["--early-stop", "mode=min,patience=-1"]].concat(), &["--early-stop", "patience=-1"]);
    usage_error(&[&train[..], &["--lr-decay", "rate=NaN,steps=100"]].concat(), &["--lr-decay", "rate=NaN"]);
    assert!(!run_dir.exists(), "a refused command line wrote nothing");
    let out = dir.path().join("ds");
    usage_error(&["dataset", "in", "--out", out.to_str().unwrap(), "--transpose", "3..-3"], &["--transpose", "3..-3"]);
    usage_error(&["generate", "--model", "m", "--out", "o", "--note-events", "some"], &["--note-events", "some"]);
    assert!(!out.exists());
}
