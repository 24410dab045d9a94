//! Arbitrary bytes into the .mag bundle, V1/V2 checkpoint, layout and TFRecord parsers.
//! Run: `cd fuzz && cargo +nightly fuzz run mag_bundle` (seed corpus: the fixture bundles
//! in shared/fixtures/magenta/bundles). The same body runs over random mutations of the
//! fixtures in `crates/mag/tests/fuzz_mutations.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cadenza_mag::fuzzing::fuzz_one(data);
});
