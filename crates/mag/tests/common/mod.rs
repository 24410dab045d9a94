//! Shared helpers for the integration tests: locating the Magenta fixtures.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// `/work/shared/fixtures/magenta`, found relative to this crate.
pub fn fixtures_dir() -> PathBuf {
    cadenza_shared::require("fixtures/magenta")
}

/// The path of a fixture file; panics with a clear message when it is missing.
pub fn fixture(rel: &str) -> PathBuf {
    let p = fixtures_dir().join(rel);
    if !p.exists() {
        panic!(
            "Magenta fixture '{rel}' not found at {}: these tests need the shared fixtures \
             (shared/fixtures/magenta next to the repository checkout)",
            p.display()
        );
    }
    p
}

pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    let p = fixture(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

pub fn fixture_json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture_bytes(rel)).unwrap_or_else(|e| panic!("fixture {rel} is not valid JSON: {e}"))
}

/// `checkpoint_variables` of a JSON fixture: `[[name, [dims...]], ...]`.
pub fn variables(json: &serde_json::Value) -> Vec<(String, Vec<usize>)> {
    json["checkpoint_variables"]
        .as_array()
        .expect("checkpoint_variables is an array")
        .iter()
        .map(|v| {
            let name = v[0].as_str().expect("name").to_string();
            let shape = v[1].as_array().expect("shape").iter().map(|d| d.as_u64().expect("dim") as usize).collect();
            (name, shape)
        })
        .collect()
}

/// `checkpoint_variable_sha256_f32le` of a probs fixture.
pub fn variable_sha256(json: &serde_json::Value) -> BTreeMap<String, String> {
    json["checkpoint_variable_sha256_f32le"]
        .as_object()
        .expect("checkpoint_variable_sha256_f32le is an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("hex").to_string()))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub const SMALL: &str = "bundles/perf_dyn_small64.mag";
pub const FULL: &str = "bundles/perf_dyn_full512.mag";

/// Tiny xorshift64* RNG for reproducible mutations.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
