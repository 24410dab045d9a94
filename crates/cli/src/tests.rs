//! Every flag that converts to a typed value or conflicts with another, through
//! `Cli::try_parse_from`: good values give the typed value, bad ones a clap error that names
//! the flag and the value.

use super::{Cli, Command};
use crate::cmd::args::NoteEventsArg;
use clap::error::ErrorKind;
use clap::Parser;
use std::ops::RangeInclusive;

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    Cli::try_parse_from(std::iter::once("cadenza").chain(args.iter().copied())).map(|c| c.command)
}

/// The error of a refused command line, checked to name `flag` and `value`.
fn refused(args: &[&str], flag: &str, value: &str, kind: ErrorKind) {
    let Err(e) = parse(args) else { panic!("{args:?} was accepted") };
    let msg = e.to_string();
    assert_eq!(e.kind(), kind, "{args:?}: {msg}");
    assert!(msg.contains(flag) && msg.contains(value), "{args:?}: the message names neither {flag} nor {value}: {msg}");
}

const TRAIN: [&str; 5] = ["train", "--dataset", "d", "--run-dir", "r"];

fn train(extra: &[&str]) -> crate::cmd::train::TrainArgs {
    match parse(&[&TRAIN[..], extra].concat()) {
        Ok(Command::Train(t)) => *t,
        Ok(_) => unreachable!(),
        Err(e) => panic!("{extra:?}: {e}"),
    }
}

fn train_refuses(extra: &[&str], flag: &str, value: &str) {
    refused(&[&TRAIN[..], extra].concat(), flag, value, ErrorKind::ValueValidation);
}

#[test]
fn clr_and_lr_decay_are_schedules_and_exclusive() {
    use cadenza_train::Schedule;
    let t = train(&["--clr", "lower=0.00025,upper=0.001,step_size=470"]);
    assert_eq!(t.clr, Some(Schedule::Cyclical { lower: 0.00025, upper: 0.001, step_size: 470 }));
    let t = train(&["--lr-decay", "rate=0.5,steps=100"]);
    assert_eq!(t.lr_decay, Some(Schedule::Exponential { decay_rate: 0.5, decay_steps: 100 }));
    let both =
        [&TRAIN[..], &["--clr", "lower=0.1,upper=0.2,step_size=10", "--lr-decay", "rate=0.5,steps=100"]].concat();
    refused(&both, "--clr", "--lr-decay", ErrorKind::ArgumentConflict);
    for bad in ["lower=NaN,upper=1,step_size=3", "lower=0.1,upper=1,step_size=-3", "lower=0.1,upper=1"] {
        train_refuses(&["--clr", bad], "--clr", bad);
    }
    for bad in ["rate=-0.5,steps=10", "rate=NaN,steps=10", "rate=0.5,steps=-1", "rate=0.5"] {
        train_refuses(&["--lr-decay", bad], "--lr-decay", bad);
    }
}

#[test]
fn early_stop_is_typed_and_refuses_negative_or_nan() {
    let e = train(&["--early-stop", "mode=max,target_acc=0.9,patience=3,min_delta=0.01"]).early_stop.unwrap();
    assert_eq!((e.mode, e.target, e.patience, e.min_delta), (cadenza_train::StopMode::Max, Some(0.9), 3, 0.01));
    assert!(train(&[]).early_stop.is_none());
    for bad in ["mode=min,patience=-1", "mode=min,patience=NaN", "mode=min,min_delta=-0.1", "mode=up"] {
        train_refuses(&["--early-stop", bad], "--early-stop", bad);
    }
}

#[test]
fn hyper_parameter_flags_are_typed_and_checked() {
    let t = train(&["--hparams", "batch_size=8,learning_rate=0.01", "--learning-rate", "0.002", "--dropout", "0.5"]);
    assert_eq!((t.hparams.batch_size, t.hparams.learning_rate), (Some(8), Some(0.01)));
    assert_eq!((t.learning_rate, t.dropout), (Some(0.002), Some(0.5)));
    assert_eq!(train(&[]).hparams, cadenza_train::HParamsOverrides::default());
    train_refuses(&["--hparams", "nope=1"], "--hparams", "nope=1");
    train_refuses(&["--learning-rate", "NaN"], "--learning-rate", "NaN");
    train_refuses(&["--learning-rate=-0.1"], "--learning-rate", "-0.1");
    train_refuses(&["--dropout", "1.5"], "--dropout", "1.5");
    train_refuses(&["--dropout", "0"], "--dropout", "0");
    train_refuses(&["--l1=-1"], "--l1", "-1");
    train_refuses(&["--rhythm-loss=-0.5"], "--rhythm-loss", "-0.5");
    train_refuses(&["--harmony-loss", "inf"], "--harmony-loss", "inf");
    train_refuses(&["--device", "quantum"], "--device", "quantum");
    let lr = ["lr-find", "--dataset", "d", "--out", "o"];
    refused(&[&lr[..], &["--min-lr", "0"]].concat(), "--min-lr", "0", ErrorKind::ValueValidation);
    refused(
        &[&lr[..], &["--hparams", "batch_size=x"]].concat(),
        "--hparams",
        "batch_size=x",
        ErrorKind::ValueValidation,
    );
}

fn transpose(v: &str) -> Result<Vec<i32>, clap::Error> {
    match parse(&["dataset", "in", "--out", "o", "--transpose", v])? {
        Command::Dataset(d) => Ok(d.transpose.0),
        _ => unreachable!(),
    }
}

#[test]
fn transpose_is_a_range_a_list_or_all() {
    let range = |r: RangeInclusive<i32>| r.collect::<Vec<_>>();
    assert_eq!(transpose("-3..3").unwrap(), range(-3..=3));
    assert_eq!(transpose("-1..=1").unwrap(), range(-1..=1));
    assert_eq!(transpose("-2,0,2").unwrap(), vec![-2, 0, 2]);
    assert_eq!(transpose("0").unwrap(), vec![0]);
    assert_eq!(transpose("all").unwrap(), range(-5..=6));
    match parse(&["dataset", "in", "--out", "o"]).unwrap() {
        Command::Dataset(d) => assert_eq!(d.transpose.0, range(-3..=3)),
        _ => unreachable!(),
    }
    for bad in ["3..-3", "-3..x", "1,two", "", "some", "0..13", "-20"] {
        refused(&["dataset", "in", "--out", "o", "--transpose", bad], "--transpose", bad, ErrorKind::ValueValidation);
    }
}

#[test]
fn dataset_ratio_and_stretch_are_checked() {
    let ds = ["dataset", "in", "--out", "o"];
    for (flag, bad) in [("--eval-ratio", "1"), ("--eval-ratio", "NaN"), ("--stretch", "1,-0.5"), ("--stretch", "0")] {
        let (v, arg) = (bad.rsplit(',').next().unwrap(), format!("{flag}={bad}"));
        refused(&[&ds[..], &[arg.as_str()]].concat(), flag, v, ErrorKind::ValueValidation);
    }
    match parse(&[&ds[..], &["--eval-ratio", "0", "--stretch", "1,1.5"]].concat()).unwrap() {
        Command::Dataset(d) => assert_eq!((d.eval_ratio, d.stretch), (0.0, vec![1.0, 1.5])),
        _ => unreachable!(),
    }
}

#[test]
fn note_events_is_an_enum_everywhere() {
    let note_events = |args: &[&str]| match parse(args).unwrap() {
        Command::Generate(g) => g.note_events,
        Command::Compare(c) => c.note_events,
        Command::Demo(d) => d.note_events,
        _ => unreachable!(),
    };
    let generate = ["generate", "--model", "m", "--out", "o"];
    let compare = ["compare", "--dataset", "d", "--out", "o"];
    assert_eq!(note_events(&generate), NoteEventsArg::Any);
    assert_eq!(note_events(&[&generate[..], &["--note-events", "paired"]].concat()), NoteEventsArg::Paired);
    assert_eq!(note_events(&compare), NoteEventsArg::Paired);
    assert_eq!(note_events(&["demo", "--note-events", "any"]), NoteEventsArg::Any);
    assert_eq!(cadenza_generate::NoteEvents::from(NoteEventsArg::Paired), cadenza_generate::NoteEvents::Paired);
    for cmd in [&generate[..], &compare[..], &["demo"]] {
        refused(&[cmd, &["--note-events", "some"]].concat(), "--note-events", "some", ErrorKind::InvalidValue);
    }
}

#[test]
fn likelihood_needs_events_or_a_file_not_both() {
    let m = ["likelihood", "--model", "m"];
    assert!(parse(&[&m[..], &["f.mid"]].concat()).is_ok());
    assert!(parse(&[&m[..], &["--events", "e.json"]].concat()).is_ok());
    assert_eq!(parse(&m).err().map(|e| e.kind()), Some(ErrorKind::MissingRequiredArgument));
    let both = [&m[..], &["--events", "e.json", "f.mid"]].concat();
    assert_eq!(parse(&both).err().map(|e| e.kind()), Some(ErrorKind::ArgumentConflict));
}

#[test]
fn the_command_line_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
