//! The body of the `mag_bundle` fuzz target (`fuzz/fuzz_targets/mag_bundle.rs`), also run
//! over random mutations of the fixture bundles by the crate's tests.

use crate::bundle::layout::Layout;
use crate::bundle::{metagraph, Bundle};
use crate::tf::checkpoint::{read_v1, read_v2, write_v1};
use crate::tf::tfrecord::iter_records;

/// What [`fuzz_one`] got through, for tests that want to see coverage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuzzOutcome {
    pub bundle_ok: bool,
    pub checkpoint_ok: bool,
    pub layout_ok: bool,
    pub raw_checkpoint_ok: bool,
}

/// Feed arbitrary bytes to every parser: as a `.mag` bundle (then its checkpoint and
/// layout, and a re-write), as a raw V1 checkpoint, as a V2 index, and as a TFRecord
/// file. Must never panic, whatever the input.
pub fn fuzz_one(data: &[u8]) -> FuzzOutcome {
    let mut out = FuzzOutcome::default();
    if let Ok(bundle) = Bundle::from_bytes(data, "fuzz-input") {
        out.bundle_ok = true;
        let _ = bundle.to_bytes();
        if let Ok(facts) = metagraph::inspect(bundle.metagraph_bytes()) {
            let _ = facts.forget_biases.len();
        }
        if let Ok(ckpt) = bundle.checkpoint() {
            out.checkpoint_ok = true;
            if let Ok(layout) = bundle.layout(&ckpt) {
                out.layout_ok = true;
                let _ = layout.variable_shapes();
            }
            let _ = Layout::infer_shapes(&ckpt);
            if let Ok(bytes) = write_v1(&ckpt) {
                let _ = read_v1(&bytes);
            }
        }
    }
    if let Ok(ckpt) = read_v1(data) {
        out.raw_checkpoint_ok = true;
        let _ = Layout::infer("performance_with_dynamics", &ckpt);
    }
    let _ = read_v2(data, data);
    for r in iter_records(data).take(64) {
        if r.is_err() {
            break;
        }
    }
    out
}
