//! Dev tool: time importing every ASAP score (best of 5 passes), one thread and two.
//!
//!     cargo run --release -p cadenza-musicxml --example bench [ASAP_DIR]

use cadenza_musicxml::{read_file, ImportOptions};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn scores(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable folder") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            scores(&p, out);
        } else if p.file_name().is_some_and(|n| n == "xml_score.mxl") {
            out.push(p);
        }
    }
}

fn pass(files: &[PathBuf], opts: &ImportOptions, threads: usize) -> f64 {
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in files.chunks(files.len().div_ceil(threads)) {
            s.spawn(move || {
                for f in chunk {
                    read_file(f, opts).expect("imports");
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| cadenza_shared::require("data/asap").display().to_string());
    let mut files = Vec::new();
    scores(Path::new(&dir), &mut files);
    files.sort();
    for (label, opts) in [
        ("compat", ImportOptions { magenta_compat: true, expand_repeats: false }),
        ("default", ImportOptions::default()),
    ] {
        for threads in [1, 2] {
            let best = (0..5).map(|_| pass(&files, &opts, threads)).fold(f64::INFINITY, f64::min);
            println!("{label:8} {} files, {threads} thread(s): {best:.3} s", files.len());
        }
    }
}
