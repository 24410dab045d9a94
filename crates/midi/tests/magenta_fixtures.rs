//! The MIDI half of Magenta's own encodings (../shared/fixtures/magenta/events): Cadenza must
//! reproduce note-seq's generator-primer and eval-pipeline class indices exactly.

use cadenza_performance::pipeline::{examples, primer_performance, PipelineOptions, PipelineStats};
use cadenza_performance::Config;
use serde::Deserialize;
use std::path::PathBuf;

fn shared() -> PathBuf {
    let p = cadenza_shared::require("");
    assert!(
        p.join("fixtures/magenta/events").is_dir(),
        "../shared/fixtures/magenta/events is missing beside the project root ({})",
        p.display()
    );
    p
}

#[derive(Deserialize)]
struct Fixture {
    asap_path: String,
    kind: String,
    note_sequence: NsSummary,
    generator_primer: Primer,
    pipeline_eval: Vec<EvalExample>,
}
#[derive(Deserialize)]
struct NsSummary {
    num_notes: usize,
    total_time: f64,
    num_control_changes: usize,
}
#[derive(Deserialize)]
struct Primer {
    class_indices: Vec<usize>,
    num_steps: i64,
}
#[derive(Deserialize)]
struct EvalExample {
    class_indices: Vec<usize>,
}

fn fixtures() -> Vec<Fixture> {
    let dir = shared().join("fixtures/magenta/events");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("midi_") {
            out.push(serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap());
        }
    }
    assert_eq!(out.len(), 3, "expected three MIDI fixtures in {}", dir.display());
    out
}

#[test]
fn midi_matches_magenta_primer_and_eval_pipeline_exactly() {
    let asap = shared().join("data/asap");
    for fx in fixtures() {
        assert_eq!(fx.kind, "midi");
        let seq = cadenza_midi::read_file(&asap.join(&fx.asap_path)).unwrap();
        assert_eq!(seq.notes.len(), fx.note_sequence.num_notes, "{}", fx.asap_path);
        assert_eq!(seq.total_time, fx.note_sequence.total_time, "{}", fx.asap_path);
        assert_eq!(seq.control_changes.len(), fx.note_sequence.num_control_changes, "{}", fx.asap_path);

        let config = Config::PerformanceWithDynamics;
        let perf = primer_performance(&seq, config).unwrap();
        let idx: Vec<usize> = config.tokens(&perf).unwrap().into_iter().map(|t| t as usize).collect();
        assert_eq!(perf.num_steps(), fx.generator_primer.num_steps, "{}", fx.asap_path);
        assert_eq!(idx, fx.generator_primer.class_indices, "{}: primer", fx.asap_path);

        let opts = PipelineOptions { magenta_compat: true, ..Default::default() };
        let mut stats = PipelineStats::default();
        let ex = examples(&seq, &opts, &[0], &[1.0], &mut stats);
        assert_eq!(ex.len(), fx.pipeline_eval.len(), "{}: number of eval examples", fx.asap_path);
        for (i, (a, b)) in ex.iter().zip(&fx.pipeline_eval).enumerate() {
            let got: Vec<usize> = a.encoded.tokens.iter().map(|&t| t as usize).collect();
            assert_eq!(got, b.class_indices, "{}: eval example {i}", fx.asap_path);
        }
    }
}
