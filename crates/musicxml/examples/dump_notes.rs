//! Dev tool: the Rust counterpart of `tools/dump_notes.py`, same JSON-lines format, for
//! diffing compat mode against note-seq:
//!
//!     cargo run --release -p cadenza-musicxml --example dump_notes -- [--default] FILE...
//!
//! Prints the total wall time spent importing to stderr.

use cadenza_musicxml::{read_file, ImportOptions};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

fn main() {
    let mut opts = ImportOptions { magenta_compat: true, expand_repeats: false };
    let mut spent = 0.0;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--default" => {
                opts.magenta_compat = false;
                continue;
            }
            "--repeats" => {
                opts.expand_repeats = true;
                continue;
            }
            _ => {}
        }
        let t = Instant::now();
        let r = read_file(Path::new(&arg), &opts);
        spent += t.elapsed().as_secs_f64();
        let line = match r {
            Err(e) => json!({"path": arg, "error": e.to_string()}),
            Ok(imp) => {
                let s = imp.sequence;
                json!({
                    "path": arg,
                    "total_time": s.total_time.to_bits(),
                    "total_time_s": s.total_time,
                    "notes": s.notes.iter().map(|n| json!([n.pitch, n.velocity, n.start.to_bits(), n.end.to_bits(),
                        n.instrument, n.program, n.part, n.voice])).collect::<Vec<_>>(),
                    "tempos": s.tempos.iter().map(|t| json!([t.time.to_bits(), t.qpm.to_bits()])).collect::<Vec<_>>(),
                    "time_signatures": s.time_signatures.iter().map(|t| json!([t.time.to_bits(), t.numerator, t.denominator])).collect::<Vec<_>>(),
                    "key_signatures": s.key_signatures.iter().map(|k| json!([k.time.to_bits(), k.key,
                        match k.mode { cadenza_notes::Mode::Major => 0, cadenza_notes::Mode::Minor => 1, _ => 2 }])).collect::<Vec<_>>(),
                    "warnings": imp.warnings,
                })
            }
        };
        println!("{line}");
    }
    eprintln!("import time: {spent:.3} s");
}
