//! `cadenza`: one binary, one subcommand per pipeline stage. This file declares the command
//! line and dispatches; each subcommand's flags and glue live in `cmd/<name>.rs`.
#![forbid(unsafe_code)]

mod cmd;
#[cfg(test)]
mod tests;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cadenza", version, about = "Fine-tune and modify Magenta's Performance RNN for classical music")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a training dataset from MIDI and MusicXML files or folders.
    Dataset(cmd::dataset::DatasetArgs),
    /// Print one file's performance encoding as JSON (to diff against Magenta).
    Encode(cmd::encode::EncodeArgs),
    /// Turn a Magenta .mag bundle into a Cadenza model folder.
    Import(cmd::import::ImportArgs),
    /// Write a model as a Magenta .mag bundle (its graph built for the model, or a template's).
    Export(cmd::export::ExportArgs),
    /// Score a performance under a model: total and mean log-likelihood as JSON.
    Likelihood(cmd::likelihood::LikelihoodArgs),
    /// Fine-tune (or train from scratch) a Performance RNN on a dataset.
    Train(Box<cmd::train::TrainArgs>),
    /// Learning-rate range test: loss against an exponentially rising learning rate
    /// (lr_find.csv, lr_find.json with a suggestion, lr_find.svg/png).
    LrFind(cmd::lr_find::LrFindArgs),
    /// Fit a note-end model on a dataset's train split (decoding.json) for `generate
    /// --decoding`: how often the next event ends a sounding note, by age, register, polyphony.
    Decoding(cmd::decoding::DecodingArgs),
    /// Generate music (MIDI, piano-roll PNG, optional WAV and MusicXML) from a model.
    Generate(Box<cmd::generate::GenerateArgs>),
    /// Objective metrics of samples (pitch, key, rhythm, groove), optionally against a reference set.
    Evaluate(Box<cmd::evaluate::EvaluateArgs>),
    /// Can a classifier tell the samples from real music? AUC with its permutation null and
    /// interval, the Fréchet distance, and the features that separate them most.
    Judge(Box<cmd::judge::JudgeArgs>),
    /// How the telling features change over a piece's time, samples against real music, and
    /// the note-off hazard real, teacher forced and free running (exposure bias).
    Drift(Box<cmd::drift::DriftArgs>),
    /// Train an original and a modified (rhythm + harmony losses) model the same way, then
    /// evaluate, sample and measure both: report.html and comparison.json.
    Compare(Box<cmd::compare::CompareArgs>),
    /// The whole experiment on a public-domain corpus (music21's): dataset in 12 keys,
    /// original vs modified small models, comparison report.
    Demo(Box<cmd::compare::DemoArgs>),
    /// One verdict from comparisons of one recipe on different held-out folds (`demo --fold F`):
    /// intervals over folds x seeds x samples, each fold against its own eval pieces.
    Pool(cmd::compare::PoolArgs),
    /// A blind pairwise listening test from a comparison (a page to send to musicians), and
    /// `listen tally` to unblind and count their answers.
    Listen(Box<cmd::listen::ListenArgs>),
    /// Measure Cadenza's speed on this machine.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

fn main() {
    let cli = Cli::parse();
    if let Some(why) = cadenza_model::kernels::Level::note() {
        eprintln!("cadenza: {why}");
    }
    let cancel = cancel_on_ctrl_c();
    let r = match cli.command {
        Command::Dataset(a) => cmd::dataset::run(a),
        Command::Encode(a) => cmd::encode::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Likelihood(a) => cmd::likelihood::run(a),
        Command::Train(a) => cmd::train::run(*a, cancel),
        Command::LrFind(a) => cmd::lr_find::run(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Generate(a) => cmd::generate::run(*a),
        Command::Decoding(a) => cmd::decoding::run(a),
        Command::Compare(a) => cmd::compare::run(*a, cancel),
        Command::Demo(a) => cmd::compare::run_demo(*a, cancel),
        Command::Pool(a) => cmd::compare::run_pool(a),
        Command::Evaluate(a) => cmd::evaluate::run(*a),
        Command::Judge(a) => cmd::judge::run(*a),
        Command::Drift(a) => cmd::drift::run(*a),
        Command::Listen(a) => cmd::listen::run(*a),
    };
    if let Err(e) = r {
        eprintln!("error: {}", error_chain(&e));
        std::process::exit(1);
    }
}

/// Ctrl-C asks training to stop at its next step with a checkpoint (the libraries take the
/// flag; the signal is the binary's). A second Ctrl-C while one is pending exits at once.
fn cancel_on_ctrl_c() -> cadenza_train::Cancel {
    let cancel = cadenza_train::Cancel::default();
    let c = cancel.clone();
    let _ = ctrlc::set_handler(move || {
        if c.is_cancelled() {
            std::process::exit(130);
        }
        c.cancel();
    });
    cancel
}

/// The chain of causes, each said once (an error that quotes its source is not repeated).
fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg = format!("{msg}: {c}");
        }
    }
    msg
}
