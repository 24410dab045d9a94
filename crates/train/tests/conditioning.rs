//! `--key` on a pitch-conditioned model *trained here* on real music (ASAP's Bach fugues in
//! 12 keys): asking for C major gives more C-major pitch classes than asking for F# major,
//! from the same seeds.

use cadenza_dataset::BuildOptions;
use cadenza_generate::{Controls, GenerateOptions};
use cadenza_model::Weights;
use cadenza_performance::pipeline::PipelineOptions;
use cadenza_performance::{Config, Event};
use cadenza_train::TrainOptions;
use std::path::PathBuf;

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(p.join("data/asap").is_dir(), "../shared/data/asap missing ({})", p.display());
    p
}

fn in_c_major(w: &Weights, key: &str) -> f64 {
    let (tonic, minor) = cadenza_generate::options::parse_key(key).unwrap();
    // What `--key` builds: the key's Krumhansl–Kessler profile as the pitch-class histogram.
    let controls = Controls {
        pitch_class_histogram: vec![cadenza_performance::controls::key_histogram(tonic, minor).to_vec()],
        ..Default::default()
    };
    let opts = GenerateOptions { num_steps: 1500, num_outputs: 6, seed: 3, controls, ..Default::default() };
    let samples = cadenza_generate::generate(w, &opts, false).unwrap();
    let (mut inside, mut n) = (0usize, 0usize);
    for s in &samples {
        for e in &s.performance.events[s.primer_events..] {
            if let Event::NoteOn(p) = e {
                inside += [0, 2, 4, 5, 7, 9, 11].contains(&(p % 12)) as usize;
                n += 1;
            }
        }
    }
    assert!(n > 50, "{n} notes");
    inside as f64 / n as f64
}

#[test]
fn key_conditioning_of_a_trained_model_moves_the_pitch_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let config = Config::PitchConditionedPerformanceWithDynamics;
    let opts = BuildOptions {
        pipeline: PipelineOptions { config, ..Default::default() },
        transpositions: (-5..=6).collect(),
        stretches: vec![1.0],
        eval_ratio: 0.2,
        seed: 1,
        ..Default::default()
    };
    cadenza_dataset::build(
        &[shared().join("data/asap/Bach/Fugue/bwv_846"), shared().join("data/asap/Bach/Fugue/bwv_848")],
        &ds,
        &opts,
    )
    .unwrap();
    let run = tmp.path().join("run");
    let t = TrainOptions {
        dataset: ds,
        run_dir: run.clone(),
        layers: vec![64],
        overrides: cadenza_train::HParamsOverrides::parse("batch_size=16,learning_rate=0.01").unwrap(),
        steps: 400,
        eval_every: 400,
        summary_every: 100,
        checkpoint_every: 1000,
        seed: 2,
        ..Default::default()
    };
    cadenza_train::train(&t).unwrap();
    let w = Weights::load(&run.join("best")).unwrap();
    assert_eq!(w.config.config, config);
    let (c, fs) = (in_c_major(&w, "C major"), in_c_major(&w, "F# major"));
    eprintln!("in C major: --key 'C major' {c:.3}, --key 'F# major' {fs:.3}");
    assert!(c > fs + 0.15, "--key did not move the pitch classes: C major {c:.3}, F# major {fs:.3}");
}
