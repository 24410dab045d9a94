//! Read/write timings of the 25 MB full512 bundle (printed, not asserted).
//! Run with `cargo test -p cadenza-mag --release --test speed -- --nocapture`.

mod common;

use std::time::Instant;

use cadenza_mag::{replace_checkpoint, write_v1, Bundle};
use common::*;

#[test]
fn full512_read_and_write_speed() {
    let path = fixture(FULL);
    let _ = std::fs::read(&path).unwrap(); // warm the page cache
    let mut best_read = f64::MAX;
    let mut best_parse = f64::MAX;
    let mut best_write = f64::MAX;
    let mut best_export = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let bundle = Bundle::read(&path).unwrap();
        let (ckpt, layout) = bundle.load().unwrap();
        best_read = best_read.min(t.elapsed().as_secs_f64());
        assert_eq!(layout.hidden, [512, 512, 512]);

        let bytes = std::fs::read(&path).unwrap();
        let t = Instant::now();
        let b = Bundle::from_bytes(&bytes, "full").unwrap();
        let _ = b.load().unwrap();
        best_parse = best_parse.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let v1 = write_v1(&ckpt).unwrap();
        best_write = best_write.min(t.elapsed().as_secs_f64());
        assert_eq!(v1.len(), bundle.checkpoint_bytes().len());

        let t = Instant::now();
        let out = replace_checkpoint(&bundle, &ckpt).unwrap().to_bytes();
        best_export = best_export.min(t.elapsed().as_secs_f64());
        assert_eq!(out.len(), bytes.len());
    }
    println!(
        "full512 (25 MB): read file + parse + layout {:.1} ms; parse from memory {:.1} ms; \
         write_v1 {:.1} ms; replace_checkpoint + to_bytes {:.1} ms (best of 5, {} build)",
        best_read * 1e3,
        best_parse * 1e3,
        best_write * 1e3,
        best_export * 1e3,
        if cfg!(debug_assertions) { "debug-assertions" } else { "release" }
    );
}
