//! Dev tool: prints one JSON line per MIDI file with its primer and eval-pipeline class
//! indices, for comparison with Magenta's own encoder (tools/magenta_oracle.py).

use cadenza_performance::pipeline::{examples, primer_performance, PipelineOptions, PipelineStats};
use cadenza_performance::Config;

fn main() {
    for path in std::env::args().skip(1) {
        let seq = match cadenza_midi::read_file(std::path::Path::new(&path)) {
            Ok(s) => s,
            Err(e) => {
                println!("{}", serde_json::json!({"path": path, "error": e.to_string()}));
                continue;
            }
        };
        let c = Config::PerformanceWithDynamics;
        let primer = c.tokens(&primer_performance(&seq, c).unwrap()).unwrap();
        let opts = PipelineOptions { magenta_compat: true, ..Default::default() };
        let ev: Vec<Vec<u16>> = examples(&seq, &opts, &[0], &[1.0], &mut PipelineStats::default())
            .into_iter()
            .map(|e| e.encoded.tokens)
            .collect();
        println!("{}", serde_json::json!({"path": path, "primer": primer, "eval": ev}));
    }
}
