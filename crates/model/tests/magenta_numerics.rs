//! The numerics proof: Cadenza's network reproduces Magenta's TensorFlow softmax, log-likelihood
//! and final state on the fixtures Magenta itself produced.

use cadenza_model::inference::{log_softmax_segments, sequence_logits};
use cadenza_model::{log_likelihood, Stepper, Weights};
use serde::Deserialize;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/magenta");
    assert!(p.is_dir(), "Magenta fixtures missing at {}", p.display());
    p
}

#[derive(Deserialize)]
struct Probs {
    primer_class_indices: Vec<u16>,
    softmax: Vec<Vec<f32>>,
    log_likelihood_magenta_evaluate: f64,
    final_state_after_primer: Vec<Vec<f32>>,
    checkpoint_variable_sha256_f32le: std::collections::BTreeMap<String, String>,
}

fn check(bundle: &str, probs: &str) {
    let p: Probs = serde_json::from_str(&std::fs::read_to_string(fixtures().join(probs)).unwrap()).unwrap();
    let w = Weights::load(&fixtures().join("bundles").join(bundle)).unwrap();

    // Every variable bit for bit.
    let ckpt = w.to_checkpoint().unwrap();
    for (name, sha) in &p.checkpoint_variable_sha256_f32le {
        let t = ckpt.get(name).unwrap_or_else(|| panic!("{name} missing"));
        let bytes: Vec<u8> = t.data.iter().flat_map(|x| x.to_le_bytes()).collect();
        use sha2::Digest;
        assert_eq!(&format!("{:x}", sha2::Sha256::digest(&bytes)), sha, "{name}");
    }

    // softmax[t] = P(event t+1 | events 0..t) over the 200-event primer.
    let toks: Vec<&[u16]> = p.primer_class_indices.chunks(1).collect();
    let mut lp = sequence_logits(&w, &toks, None);
    log_softmax_segments(&mut lp, &[388]);
    let mut worst = 0.0f32;
    for (t, row) in p.softmax.iter().enumerate() {
        for (c, &m) in row.iter().enumerate() {
            worst = worst.max((lp[t * 388 + c].exp() - m).abs());
        }
    }
    println!("{bundle}: max |softmax − Magenta| = {worst:.3e}");
    assert!(worst <= 1e-5, "{bundle}: softmax differs from Magenta by {worst}");

    let (ll, _) = log_likelihood(&w, &p.primer_class_indices, false);
    println!("{bundle}: log-likelihood {ll:.4} (Magenta {:.4})", p.log_likelihood_magenta_evaluate);
    assert!((ll - p.log_likelihood_magenta_evaluate).abs() <= 1e-3, "{bundle}: {ll} vs {}", p.log_likelihood_magenta_evaluate);

    // Feeding one event at a time with carried state ends in Magenta's final state.
    let mut st = Stepper::new(&w, 1);
    for t in &p.primer_class_indices {
        st.step(&[std::slice::from_ref(t)], None);
    }
    let mut worst = 0.0f32;
    for (got, want) in st.state().iter().zip(&p.final_state_after_primer) {
        for (a, b) in got.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    println!("{bundle}: max |state − Magenta| = {worst:.3e}");
    assert!(worst <= 1e-4, "{bundle}: final state differs by {worst}");
}

#[test]
fn small64_matches_magenta() {
    check("perf_dyn_small64.mag", "probs_small64.json");
}

#[test]
fn full512_matches_magenta() {
    check("perf_dyn_full512.mag", "probs_full512.json");
}

/// The fixture tests again in a child process at every SIMD level this CPU has
/// (`CADENZA_SIMD=scalar`, `avx2`, `avx512`, …): the softmax is Magenta's at each.
#[test]
fn magenta_fixtures_match_at_every_simd_level() {
    cadenza_model::kernels::simd::rerun_tests_at_every_level(&["small64_matches_magenta", "full512_matches_magenta"]);
}

/// import → model folder → export → import keeps every weight bit for bit, and the exported
/// bundle gives the same probabilities.
#[test]
fn import_export_round_trip_is_bit_exact() {
    let src = fixtures().join("bundles/perf_dyn_small64.mag");
    let w = Weights::load(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    w.save_dir(&dir.path().join("m"), "test").unwrap();
    let w2 = Weights::load(&dir.path().join("m")).unwrap();
    assert_eq!(w, w2);
    let template = cadenza_mag::Bundle::read(&src).unwrap();
    let out = dir.path().join("out.mag");
    w2.export_bundle(&template).unwrap().write_atomic(&out).unwrap();
    let w3 = Weights::load(&out).unwrap();
    assert_eq!(w, w3);
    assert_eq!(std::fs::read(&src).unwrap(), std::fs::read(&out).unwrap(), "unchanged weights give the template's exact bytes");
}
