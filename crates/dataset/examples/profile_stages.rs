//! Dev tool: time each stage of the dataset build over a folder, single-threaded.
use cadenza_dataset::{collect_files, load_file, LoadOptions};
use cadenza_performance::pipeline::{examples, PipelineOptions, PipelineStats};
use std::time::Instant;

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| cadenza_shared::require("data/asap").display().to_string());
    let files: Vec<_> = collect_files(&[dir.into()])
        .unwrap()
        .into_iter()
        .filter(|p| p.file_name().unwrap() != "midi_score.mid")
        .collect();
    let (mut t_midi, mut t_xml, mut t_pipe) = (0.0, 0.0, 0.0);
    let mut seqs = Vec::new();
    for f in &files {
        let t = Instant::now();
        let (s, _) = load_file(f, &LoadOptions::default()).unwrap();
        let dt = t.elapsed().as_secs_f64();
        if f.extension().unwrap() == "mid" {
            t_midi += dt
        } else {
            t_xml += dt
        }
        seqs.push(s);
    }
    let opts = PipelineOptions::default();
    let reps: usize = std::env::var("PIPE_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let t = Instant::now();
    let mut n = 0;
    for s in seqs.iter().cycle().take(seqs.len() * reps) {
        n += examples(s, &opts, &[0], &[1.0], &mut PipelineStats::default()).len();
    }
    t_pipe += t.elapsed().as_secs_f64();
    println!("midi load {t_midi:.3}s  xml load {t_xml:.3}s  pipeline {t_pipe:.3}s  ({n} examples)");
}
