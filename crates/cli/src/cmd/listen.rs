//! `cadenza listen`: a blind pairwise listening test from a comparison, and `cadenza listen
//! tally` to unblind and count the answers.

use anyhow::Result;
use cadenza_listen::{add_to_report, build, render_tally, resolve_run, tally, ListenOptions};
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ListenArgs {
    #[command(subcommand)]
    pub command: Option<ListenCommand>,
    /// Comparison folders (`compare` or `demo` output; a demo folder gives its project-recipe
    /// comparison, `DEMO/comparison` the seed's recipe). Several: `pool`'s input runs.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Folder for the test: index.html, audio/, key.json (keep it), listeners.zip (send it).
    #[arg(long, required = true)]
    pub out: Option<PathBuf>,
    /// Original-vs-modified trials.
    #[arg(long)]
    pub pairs: Option<usize>,
    /// Real-vs-model calibration trials.
    #[arg(long)]
    pub calibration: Option<usize>,
    /// Longest excerpt, seconds.
    #[arg(long)]
    pub excerpt: Option<f64>,
    /// Seconds of each excerpt a listener must play before answering.
    #[arg(long)]
    pub min_play: Option<f64>,
    /// Audio sample rate (mono FLAC).
    #[arg(long)]
    pub sample_rate: Option<u32>,
    /// General MIDI SoundFont (default: the system's, else the built-in piano).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Seed of the excerpt choice and the opaque ids.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Do not ask the optional "Which do you like more?".
    #[arg(long)]
    pub no_like_question: bool,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ListenCommand {
    /// Unblind the listeners' answer files with DIR/key.json: per-listener and pooled shares
    /// with exact 95 % intervals, sign tests, calibration, Wilcoxon across listeners.
    Tally(TallyArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct TallyArgs {
    /// The listening test's folder (holding key.json).
    pub dir: PathBuf,
    /// Answer files the listeners sent back.
    #[arg(required = true)]
    pub answers: Vec<PathBuf>,
    /// The comparison to add a "Listening test" section to (its report.html).
    #[arg(long)]
    pub run: Option<PathBuf>,
}

pub fn run(a: ListenArgs) -> Result<()> {
    if let Some(ListenCommand::Tally(t)) = a.command {
        return run_tally(t);
    }
    let d = ListenOptions::default();
    let opts = ListenOptions {
        pairs: a.pairs.unwrap_or(d.pairs),
        calibration: a.calibration.unwrap_or(d.calibration),
        excerpt_seconds: a.excerpt.unwrap_or(d.excerpt_seconds),
        min_play_seconds: a.min_play.unwrap_or(d.min_play_seconds),
        sample_rate: a.sample_rate.unwrap_or(d.sample_rate),
        soundfont: a.soundfont.or(d.soundfont),
        seed: a.seed.unwrap_or(d.seed),
        like_question: !a.no_like_question,
    };
    let out = a.out.expect("clap requires --out");
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("listen {bar:30} {pos}/{len} excerpts ({eta})")
            .expect("a valid template"),
    );
    let built = build(&a.runs, &out, &opts, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    for n in &built.notes {
        eprintln!("note: {n}");
    }
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "listening test {}: {} pairs + {} calibration trials, audio by {}",
        built.run_hash, built.pairs, built.calibration, built.soundfont
    );
    println!(
        "  page and audio: {:.1} MB; send {} ({:.1} MB)",
        mb(built.page_bytes),
        out.join("listeners.zip").display(),
        mb(built.zip_bytes)
    );
    println!("  keep {} (it unblinds the answers)", out.join("key.json").display());
    println!(
        "  then: cadenza listen tally {} ANSWERS.json... --run {}",
        out.display(),
        a.runs.first().map(|r| r.display().to_string()).unwrap_or_default()
    );
    Ok(())
}

fn run_tally(t: TallyArgs) -> Result<()> {
    let result = tally(&t.dir, &t.answers)?;
    for r in &result.refused {
        eprintln!("refused {}: {}", r.file, r.reason);
    }
    print!("{}", render_tally(&result));
    let path = t.dir.join("tally.json");
    cadenza_atomic::write_json(&path, &result).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    if let Some(run) = t.run {
        let report = resolve_run(&run)?.dir.join("report.html");
        add_to_report(&report, &result)?;
        println!("added the listening test to {}", report.display());
    }
    Ok(())
}
