//! `cadenza generate`: Magenta's `performance_rnn_generate` flags, and an output folder of
//! `sample_NN.mid` (+ `.png`, `.wav`, `.musicxml`) with `generate.json`.

use anyhow::{bail, Context, Result};
use cadenza_generate::options::{parse_key, Controls, GenerateOptions, Primer, MAX_NOTE_DURATION_SECONDS};
use cadenza_generate::sampler::{check_options, generate_report};
use cadenza_model::Weights;
use cadenza_render::{SampleOutputs, ScoreOptions};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// Model: a Magenta .mag bundle or a Cadenza model folder.
    #[arg(long)]
    pub model: PathBuf,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Total length in 10 ms steps, primer included (Magenta's default, 3000 = 30 s; 6000 = 60 s).
    #[arg(long, default_value_t = GenerateOptions::default().num_steps)]
    pub num_steps: u32,
    /// Divides the logits: above 1 is more random, below 1 more conservative.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Samples to generate (all in one batch).
    #[arg(long, default_value_t = 1)]
    pub num_outputs: usize,
    /// Primer: a MIDI or MusicXML file the samples continue.
    #[arg(long, group = "primer_source")]
    pub primer: Option<PathBuf>,
    /// Primer: a chord held for 0.5 s, e.g. "[60, 64, 67]".
    #[arg(long, group = "primer_source")]
    pub primer_pitches: Option<String>,
    /// Primer: a note_seq Melody in 16ths at 120 qpm, e.g. "[60, -2, 62, -1]" (-2 holds, -1 releases).
    #[arg(long, group = "primer_source", allow_hyphen_values = true)]
    pub primer_melody: Option<String>,
    /// Keep only the first this many seconds of the --primer file.
    #[arg(long)]
    pub primer_seconds: Option<f64>,
    /// Which note events may be sampled: "any" (Magenta's sampler) or "paired" (a NOTE_OFF
    /// only of a sounding pitch, a NOTE_ON only of a silent one, as in all training data; the
    /// model's chance of ending or starting a note goes to the allowed pitches)
    #[arg(long, value_enum, default_value = GenerateOptions::default().note_events.name())]
    pub note_events: super::args::NoteEventsArg,
    /// Decoding: a note-end model (`cadenza decoding`'s JSON, e.g. MODEL/decoding.json) whose
    /// chance that each sounding note ends now is mixed into the network's.
    #[arg(long)]
    pub decoding: Option<PathBuf>,
    /// How much of the note-end model to mix in (0: the network alone, 1: the counts alone).
    #[arg(long, default_value_t = cadenza_generate::Decoding::DEFAULT_WEIGHT, value_parser = super::args::unit, requires = "decoding")]
    pub decoding_weight: f64,
    #[arg(long, default_value_t = 1)]
    pub beam_size: usize,
    #[arg(long, default_value_t = 1)]
    pub branch_factor: usize,
    #[arg(long, default_value_t = 1)]
    pub steps_per_iteration: usize,
    /// Seed of sample 1; sample i uses seed + i − 1 (default: from the clock, recorded in generate.json).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Density-conditioned models: notes per second, one value or a list over time, e.g. "[4, 8]".
    #[arg(long)]
    pub notes_per_second: Option<String>,
    /// Pitch-conditioned models: 12 weights C..B, or a list of such lists over time.
    #[arg(long, conflicts_with = "key")]
    pub pitch_class_histogram: Option<String>,
    /// Pitch-conditioned models: a key, e.g. "D minor" (its Krumhansl–Kessler profile), or several: "C major, G major".
    #[arg(long)]
    pub key: Option<String>,
    /// Optional-conditioning models: switch the controls off ("true"/"false", or a list over time).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub disable_conditioning: Option<String>,
    /// Also render each sample to WAV through a SoundFont.
    #[arg(long)]
    pub wav: bool,
    /// SoundFont for --wav (default: the system's General MIDI SoundFont, e.g. fluid-soundfont-gm's,
    /// else Cadenza's built-in piano-like synthesiser).
    #[arg(long)]
    pub soundfont: Option<PathBuf>,
    /// Write a piano-roll PNG per sample (the default).
    #[arg(long, overrides_with = "no_png")]
    pub png: bool,
    /// Do not write piano-roll PNGs.
    #[arg(long)]
    pub no_png: bool,
    /// Also write a MusicXML score per sample, quantised to 16ths in 4/4.
    #[arg(long)]
    pub score: bool,
    /// Tempo of the score's beat grid (default 120 qpm).
    #[arg(long)]
    pub score_qpm: Option<f64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Python-literal lists as Magenta's flags take them (`ast.literal_eval`): JSON numbers and
/// lists, with True/False accepted and tuples read as lists.
fn literal(flag: &str, s: &str) -> Result<Value> {
    let t = s.trim().replace('(', "[").replace(')', "]").replace("True", "true").replace("False", "false");
    serde_json::from_str(&t).with_context(|| format!("--{flag} '{s}': expected a number or a list like [1, 2, 3]"))
}

fn numbers(flag: &str, v: &Value) -> Result<Vec<f64>> {
    match v {
        Value::Number(n) => Ok(vec![n.as_f64().unwrap_or(f64::NAN)]),
        Value::Array(a) => {
            a.iter().map(|x| x.as_f64().with_context(|| format!("--{flag}: '{x}' is not a number"))).collect()
        }
        _ => bail!("--{flag}: expected a number or a list of numbers"),
    }
}

fn parse_pitches(s: &str) -> Result<Vec<u8>> {
    let v = literal("primer-pitches", s)?;
    numbers("primer-pitches", &v)?
        .into_iter()
        .map(|p| {
            if p.fract() == 0.0 && (0.0..=127.0).contains(&p) {
                Ok(p as u8)
            } else {
                bail!("--primer-pitches: {p} is not a MIDI pitch 0..127")
            }
        })
        .collect()
}

fn parse_melody(s: &str) -> Result<Vec<i32>> {
    let v = literal("primer-melody", s)?;
    numbers("primer-melody", &v)?
        .into_iter()
        .map(|p| {
            if p.fract() == 0.0 && (-2.0..=127.0).contains(&p) {
                Ok(p as i32)
            } else {
                bail!("--primer-melody: {p} is not a pitch 0..127, -1 (note off) or -2 (no event)")
            }
        })
        .collect()
}

fn parse_histograms(s: &str) -> Result<Vec<Vec<f64>>> {
    let v = literal("pitch-class-histogram", s)?;
    match &v {
        Value::Array(a) if a.iter().all(|x| x.is_array()) && !a.is_empty() => {
            a.iter().map(|x| numbers("pitch-class-histogram", x)).collect()
        }
        Value::Array(_) => Ok(vec![numbers("pitch-class-histogram", &v)?]),
        _ => bail!("--pitch-class-histogram: expected a list of 12 numbers or a list of such lists"),
    }
}

fn parse_bools(s: &str) -> Result<Vec<bool>> {
    let v = literal("disable-conditioning", &s.to_ascii_lowercase())?;
    match v {
        Value::Bool(b) => Ok(vec![b]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_bool().with_context(|| format!("--disable-conditioning: '{x}' is not true or false")))
            .collect(),
        _ => bail!("--disable-conditioning: expected true, false or a list of them"),
    }
}

impl GenerateArgs {
    fn decoding_model(&self) -> Result<Option<cadenza_generate::Decoding>> {
        let Some(path) = &self.decoding else { return Ok(None) };
        let ends = cadenza_generate::NoteEnds::load(path)?;
        Ok(Some(cadenza_generate::Decoding::new(ends, self.decoding_weight)?))
    }

    /// The library options these flags ask for (the seed resolved by the caller).
    pub fn options(&self, seed: u64) -> Result<GenerateOptions> {
        let primer = if let Some(p) = &self.primer {
            Primer::File(p.clone())
        } else if let Some(s) = &self.primer_pitches {
            Primer::Pitches(parse_pitches(s)?)
        } else if let Some(s) = &self.primer_melody {
            Primer::Melody(parse_melody(s)?)
        } else {
            Primer::None
        };
        if self.primer_seconds.is_some() && self.primer.is_none() {
            bail!("--primer-seconds trims a --primer file; no file given");
        }
        let mut controls = Controls::default();
        if let Some(s) = &self.notes_per_second {
            controls.notes_per_second = numbers("notes-per-second", &literal("notes-per-second", s)?)?;
        }
        if let Some(s) = &self.pitch_class_histogram {
            controls.pitch_class_histogram = parse_histograms(s)?;
        }
        if let Some(k) = &self.key {
            for part in k.split(',').filter(|p| !p.trim().is_empty()) {
                let (tonic, minor) = parse_key(part).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
                controls
                    .pitch_class_histogram
                    .push(cadenza_performance::controls::key_histogram(tonic, minor).to_vec());
            }
        }
        if let Some(s) = &self.disable_conditioning {
            controls.disable_conditioning = parse_bools(s)?;
        }
        Ok(GenerateOptions {
            num_steps: self.num_steps,
            temperature: self.temperature,
            num_outputs: self.num_outputs,
            beam_size: self.beam_size,
            branch_factor: self.branch_factor,
            steps_per_iteration: self.steps_per_iteration,
            seed,
            primer,
            primer_seconds: self.primer_seconds,
            controls,
            max_note_duration: MAX_NOTE_DURATION_SECONDS,
            note_events: self.note_events.into(),
            decoding: self.decoding_model()?,
        })
    }
}

#[derive(Serialize)]
struct SampleReport {
    midi: String,
    png: Option<String>,
    wav: Option<String>,
    musicxml: Option<String>,
    seed: u64,
    log_likelihood: f64,
    /// 10 ms steps from the performance start (start_step + num_steps = requested).
    start_step: i64,
    num_steps: i64,
    seconds: f64,
    num_events: usize,
    primer_events: usize,
    num_notes: usize,
    /// How the sampled NOTE_ONs and NOTE_OFFs paired up (unmatched NOTE_OFFs are no-ops,
    /// never-ended notes sound until `max_note_duration`).
    note_pairing: cadenza_performance::NotePairing,
    beam_scores: Vec<f64>,
}

#[derive(Serialize)]
struct Report<'a> {
    model: String,
    config: &'a str,
    layers: &'a [usize],
    options: &'a GenerateOptions,
    warnings: &'a [String],
    generate_seconds: f64,
    samples: Vec<SampleReport>,
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Runs `cadenza generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
            & 0xffff_ffff
    });
    let opts = args.options(seed)?;
    opts.validate()?;
    let weights = Weights::load(&args.model).with_context(|| format!("cannot load model {}", args.model.display()))?;
    check_options(&weights, &opts)?;
    // Fail before generating when the audio cannot be rendered.
    let soundfont = if args.wav {
        let sf = cadenza_render::soundfont_or_builtin(args.soundfont.as_deref())?;
        if sf.path.is_none() {
            eprintln!("note: no General MIDI SoundFont found; the WAV files use Cadenza's built-in piano-like synthesiser (apt-get install fluid-soundfont-gm, or pass --soundfont, for a sampled piano)");
        }
        Some(sf.font)
    } else {
        None
    };
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;

    let t = Instant::now();
    let generated = generate_report(&weights, &opts, !args.quiet)?;
    let generate_seconds = t.elapsed().as_secs_f64();
    for w in &generated.warnings {
        eprintln!("warning: {w}");
    }
    let digits = opts.num_outputs.to_string().len().max(2);
    let png = !args.no_png;
    let mut reports = Vec::new();
    for (i, s) in generated.samples.iter().enumerate() {
        let stem = format!("sample_{:0digits$}", i + 1);
        let outputs = SampleOutputs {
            png,
            musicxml: args.score.then(|| ScoreOptions {
                qpm: args.score_qpm,
                title: Some(format!("Cadenza {stem} (seed {})", s.seed)),
            }),
            wav: soundfont.as_ref(),
        };
        let files = cadenza_render::write_sample(&s.sequence, &args.out.join(&stem), &outputs)?;
        let midi = files.midi;
        let num_steps = s.performance.num_steps();
        eprintln!(
            "{}: {:.1} s, {} notes, {} events, log-likelihood {:.1}",
            midi.display(),
            (s.performance.start_step + num_steps) as f64 / 100.0,
            s.sequence.notes.len(),
            s.performance.events.len(),
            s.log_likelihood
        );
        reports.push(SampleReport {
            midi: file_name(&midi),
            png: files.png.as_deref().map(file_name),
            wav: files.wav.as_deref().map(file_name),
            musicxml: files.musicxml.as_deref().map(file_name),
            seed: s.seed,
            log_likelihood: s.log_likelihood,
            start_step: s.performance.start_step,
            num_steps,
            seconds: (s.performance.start_step + num_steps) as f64 / 100.0,
            num_events: s.performance.events.len(),
            primer_events: s.primer_events,
            num_notes: s.sequence.notes.len(),
            note_pairing: s.performance.note_pairing(),
            beam_scores: s.beam_scores.clone(),
        });
    }
    let report = Report {
        model: args.model.display().to_string(),
        config: weights.config.config.key(),
        layers: &weights.config.layers,
        options: &opts,
        warnings: &generated.warnings,
        generate_seconds,
        samples: reports,
    };
    cadenza_atomic::write_json(&args.out.join("generate.json"), &report)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.out.join("generate.json").display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_literals_parse() {
        assert_eq!(parse_pitches("[60, 64, 67]").unwrap(), vec![60, 64, 67]);
        assert_eq!(parse_melody("[60, -2, 62, -1]").unwrap(), vec![60, -2, 62, -1]);
        assert!(parse_melody("[60, -3]").is_err());
        assert!(parse_pitches("[60, 128]").is_err());
        assert_eq!(parse_histograms("[1,0,1,0,1,1,0,1,0,1,0,1]").unwrap().len(), 1);
        assert_eq!(parse_histograms("[[1,0,1,0,1,1,0,1,0,1,0,1], [1,1,1,1,1,1,1,1,1,1,1,1]]").unwrap().len(), 2);
        assert_eq!(parse_bools("True").unwrap(), vec![true]);
        assert_eq!(parse_bools("[False, true]").unwrap(), vec![false, true]);
        assert_eq!(numbers("x", &literal("x", "(4, 8)").unwrap()).unwrap(), vec![4.0, 8.0]);
        assert!(literal("x", "[1, 2").is_err());
    }

    use clap::Parser;

    fn small() -> String {
        cadenza_shared::require("fixtures/magenta/bundles/perf_dyn_small64.mag").display().to_string()
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        g: GenerateArgs,
    }

    #[test]
    fn key_flag_gives_one_histogram_per_key() {
        let cli = Cli::parse_from(["x", "--model", &small(), "--out", "unused", "--key", "C major, F# major"]);
        let o = cli.g.options(5).unwrap();
        let want: Vec<Vec<f64>> = [(0, false), (6, false)]
            .iter()
            .map(|&(t, m)| cadenza_performance::controls::key_histogram(t, m).to_vec())
            .collect();
        assert_eq!(o.controls.pitch_class_histogram, want);
        assert_eq!((o.seed, o.note_events), (5, cadenza_generate::NoteEvents::Any));
        let cli = Cli::parse_from(["x", "--model", &small(), "--out", "unused", "--note-events", "paired"]);
        assert_eq!(cli.g.options(5).unwrap().note_events, cadenza_generate::NoteEvents::Paired);
    }

    #[test]
    fn cli_writes_the_output_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sf = dir.path().join("sine.sf2");
        std::fs::write(&sf, cadenza_render::sine_soundfont()).unwrap();
        let cli = Cli::parse_from([
            "x",
            "--model",
            &small(),
            "--out",
            out.to_str().unwrap(),
            "--num-steps",
            "800",
            "--num-outputs",
            "2",
            "--seed",
            "4",
            "--primer-pitches",
            "[60, 64, 67]",
            "--wav",
            "--soundfont",
            sf.to_str().unwrap(),
            "--score",
            "--quiet",
            "--notes-per-second",
            "8",
        ]);
        run(cli.g).unwrap();
        for stem in ["sample_01", "sample_02"] {
            let midi = cadenza_midi::read_file(&out.join(format!("{stem}.mid"))).unwrap();
            assert!(midi.total_time <= 8.0 + 1e-9 && !midi.notes.is_empty());
            assert!(out.join(format!("{stem}.png")).is_file());
            let wav = hound::WavReader::open(out.join(format!("{stem}.wav"))).unwrap();
            let secs = wav.duration() as f64 / wav.spec().sample_rate as f64;
            assert!((secs - (midi.total_time + 0.5)).abs() < 0.02, "{secs}");
            let xml = cadenza_musicxml::read_file(&out.join(format!("{stem}.musicxml")), &Default::default())
                .unwrap()
                .sequence;
            let mut a: Vec<u8> = xml.notes.iter().map(|n| n.pitch).collect();
            let mut b: Vec<u8> = midi.notes.iter().map(|n| n.pitch).collect();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "{stem}: score pitches");
        }
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("generate.json")).unwrap()).unwrap();
        assert_eq!(json["config"], "performance_with_dynamics");
        assert_eq!(json["options"]["seed"], 4);
        assert_eq!(json["samples"].as_array().unwrap().len(), 2);
        assert_eq!(json["samples"][1]["seed"], 5);
        assert_eq!(json["samples"][0]["num_steps"], 800);
        assert!(json["samples"][0]["log_likelihood"].as_f64().unwrap() < 0.0);
        assert_eq!(json["warnings"].as_array().unwrap().len(), 1, "density ignored by an unconditioned model");

        // No SoundFont: a clear error before anything is generated.
        let cli = Cli::parse_from([
            "x",
            "--model",
            &small(),
            "--out",
            out.to_str().unwrap(),
            "--wav",
            "--soundfont",
            "/nonexistent.sf2",
            "--quiet",
        ]);
        let e = run(cli.g).unwrap_err().to_string();
        assert!(e.contains("apt-get install fluid-soundfont-gm"), "{e}");
        let cli = Cli::parse_from([
            "x",
            "--model",
            &small(),
            "--out",
            out.to_str().unwrap(),
            "--temperature",
            "0",
            "--quiet",
        ]);
        assert!(run(cli.g).unwrap_err().to_string().contains("temperature"));
    }
}
