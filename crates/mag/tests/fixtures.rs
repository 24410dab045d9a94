//! The real Magenta-made bundles: read, checked against the fixture JSON, re-written.

mod common;

use cadenza_mag::checkpoint::read_v1_meta;
use cadenza_mag::table::Table;
use cadenza_mag::{read_v1, replace_checkpoint, write_v1, Bundle, Layout};
use common::*;

fn check_bundle(mag: &str, info: &str, probs: &str, layers: usize, hidden: usize) {
    let bundle = Bundle::read(fixture(mag)).expect("bundle reads");
    let info = fixture_json(info);
    let probs = fixture_json(probs);

    assert_eq!(bundle.generator_id(), "performance_with_dynamics");
    assert_eq!(bundle.generator_id(), info["generator_details"]["id"].as_str().unwrap());
    assert_eq!(bundle.generator_id(), probs["generator_id"].as_str().unwrap());
    assert_eq!(bundle.generator_description(), info["generator_details"]["description"].as_str().unwrap());
    assert_eq!(bundle.bundle_description(), info["bundle_details"]["description"].as_str().unwrap());
    assert_eq!(bundle.checkpoint_bytes().len() as u64, info["checkpoint_bytes"].as_u64().unwrap());
    assert_eq!(bundle.metagraph_bytes().len() as u64, info["metagraph_bytes"].as_u64().unwrap());
    let first16: String = bundle.checkpoint_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(first16, info["checkpoint_magic_first16_hex"].as_str().unwrap());
    assert_eq!(sha256_hex(&std::fs::read(fixture(mag)).unwrap()), probs["bundle_sha256"].as_str().unwrap());

    let (ckpt, layout) = bundle.load().expect("checkpoint and layout");

    // Names and shapes: exactly the fixture's list (both JSON files agree).
    let want = variables(&info);
    assert_eq!(want, variables(&probs));
    assert_eq!(want.len(), 2 * layers + 2);
    let got: Vec<(String, Vec<usize>)> = ckpt.tensors.iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
    assert_eq!(got, want);

    // Every variable's float32 LE bytes hash to what TensorFlow reported.
    let shas = variable_sha256(&probs);
    assert_eq!(shas.len(), want.len());
    for t in &ckpt.tensors {
        assert_eq!(sha256_hex(&t.to_le_bytes()), shas[&t.name], "sha256 of variable {} differs", t.name);
    }

    assert_eq!(layout.generator_id, "performance_with_dynamics");
    assert_eq!(layout.input_size, 388);
    assert_eq!(layout.num_classes, 388);
    assert_eq!(layout.hidden, vec![hidden; layers]);
    assert_eq!(layout.names.fc_weights, "fully_connected/weights");
    assert_eq!(layout.names.fc_biases, "fully_connected/biases");
    for (k, c) in layout.names.cells.iter().enumerate() {
        assert_eq!(c.kernel, format!("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/kernel"));
        assert_eq!(c.bias, format!("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell/bias"));
    }
    assert!(layout.extra.is_empty());
    assert_eq!(layout.variable_shapes(), want);
    assert_eq!(layout.num_parameters(), ckpt.num_parameters());
}

#[test]
fn small64_bundle_matches_fixture() {
    check_bundle(SMALL, "bundles/perf_dyn_small64.info.json", "probs_small64.json", 2, 64);
}

#[test]
fn full512_bundle_matches_fixture() {
    check_bundle(FULL, "bundles/perf_dyn_full512.info.json", "probs_full512.json", 3, 512);
    let ckpt = Bundle::read(fixture(FULL)).unwrap().checkpoint().unwrap();
    assert_eq!(ckpt.num_parameters(), 6_242_692); // spec §1.8
}

#[test]
fn bundle_reencodes_to_identical_bytes() {
    for f in [SMALL, FULL] {
        let bytes = fixture_bytes(f);
        let b = Bundle::from_bytes(&bytes, f).unwrap();
        assert!(b.to_bytes() == bytes, "{f}: re-encoded bundle differs from the file");
    }
}

/// Our V1 writer reproduces TensorFlow's file byte for byte (same blocks, same index
/// separators, same meta record, same float packing).
#[test]
fn write_v1_reproduces_tensorflow_bytes() {
    for f in [SMALL, FULL] {
        let b = Bundle::read(fixture(f)).unwrap();
        let orig = b.checkpoint_bytes();
        let written = write_v1(&read_v1(orig).unwrap()).unwrap();
        assert_eq!(written.len(), orig.len(), "{f}: size differs");
        if let Some(i) = written.iter().zip(orig).position(|(a, b)| a != b) {
            panic!("{f}: first differing byte at offset {i}");
        }
    }
}

/// Structural comparison with the original: same table keys in the same blocks, same
/// index keys, same meta record.
#[test]
fn written_checkpoint_structure_matches_original() {
    for f in [SMALL, FULL] {
        let b = Bundle::read(fixture(f)).unwrap();
        let orig = b.checkpoint_bytes();
        let written = write_v1(&b.checkpoint().unwrap()).unwrap();
        assert_eq!(read_v1_meta(orig).unwrap(), read_v1_meta(&written).unwrap());
        let (to, tw) = (Table::open(orig).unwrap(), Table::open(&written).unwrap());
        let keys = |t: &Table| t.entries().unwrap().into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(keys(&to), keys(&tw));
        let index_keys = |t: &Table| t.index().iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(index_keys(&to), index_keys(&tw));
        let handles = |t: &Table| t.index().iter().map(|(_, h)| *h).collect::<Vec<_>>();
        assert_eq!(handles(&to), handles(&tw));
        if f == FULL {
            assert_eq!(to.index().len(), 8); // spec §6.4: 8 data blocks
            let ik = index_keys(&to);
            assert_eq!(ik[0], b"\x00fully_connected/c");
            assert_eq!(ik[1], b"\x00g");
            assert_eq!(ik[7], b"\x01");
        }
    }
}

#[test]
fn v1_write_read_is_bit_identical() {
    for f in [SMALL, FULL] {
        let ckpt = Bundle::read(fixture(f)).unwrap().checkpoint().unwrap();
        let back = read_v1(&write_v1(&ckpt).unwrap()).unwrap();
        assert!(back.bitwise_eq(&ckpt), "{f}");
    }
}

#[test]
fn replace_checkpoint_roundtrip() {
    for f in [SMALL, FULL] {
        let template = Bundle::read(fixture(f)).unwrap();
        let ckpt = template.checkpoint().unwrap();
        let out = replace_checkpoint(&template, &ckpt).unwrap();
        assert_eq!(out.generator_id(), template.generator_id());
        assert_eq!(out.metagraph_bytes(), template.metagraph_bytes());
        assert_eq!(out.proto.generator_details, template.proto.generator_details);
        let bytes = out.to_bytes();
        let again = Bundle::from_bytes(&bytes, "re-written").unwrap();
        let (back, layout) = again.load().unwrap();
        assert!(back.bitwise_eq(&ckpt), "{f}");
        assert_eq!(layout, template.load().unwrap().1);
        // Unchanged weights give back the original file.
        assert!(bytes == fixture_bytes(f), "{f}: unchanged weights should give the same .mag bytes");
    }
}

#[test]
fn replace_checkpoint_with_new_values() {
    let template = Bundle::read(fixture(SMALL)).unwrap();
    let mut ckpt = template.checkpoint().unwrap();
    for t in &mut ckpt.tensors {
        for (i, v) in t.data.iter_mut().enumerate() {
            *v = *v * 0.5 + (i % 7) as f32 * 1e-3;
        }
    }
    let out = replace_checkpoint(&template, &ckpt).unwrap();
    let back = Bundle::from_bytes(&out.to_bytes(), "new").unwrap().checkpoint().unwrap();
    assert!(back.bitwise_eq(&ckpt));
    assert!(!back.bitwise_eq(&template.checkpoint().unwrap()));
}

#[test]
fn full_model_rewrite_is_stable() {
    let template = Bundle::read(fixture(FULL)).unwrap();
    let ckpt = template.checkpoint().unwrap();
    let a = write_v1(&ckpt).unwrap();
    let b = write_v1(&ckpt).unwrap();
    assert!(a == b, "two writes of the same checkpoint differ");
    let ba = replace_checkpoint(&template, &ckpt).unwrap().to_bytes();
    let bb = replace_checkpoint(&template, &ckpt).unwrap().to_bytes();
    assert!(ba == bb);
}

#[test]
fn write_atomic_creates_and_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let template = Bundle::read(fixture(SMALL)).unwrap();
    let path = dir.path().join("out.mag");
    template.write_atomic(&path).unwrap();
    assert!(std::fs::read(&path).unwrap() == fixture_bytes(SMALL));

    // Replace with a different bundle.
    let mut other = template.clone();
    other.set_bundle_description("fine-tuned by cadenza");
    other.write_atomic(&path).unwrap();
    let back = Bundle::read(&path).unwrap();
    assert_eq!(back.bundle_description(), "fine-tuned by cadenza");
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.mag")]);

    // A failing write (target is a non-empty directory) leaves everything as it was.
    let blocker = dir.path().join("blocker.mag");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), b"x").unwrap();
    let err = template.write_atomic(&blocker).unwrap_err().to_string();
    assert!(err.contains("blocker.mag"), "{err}");
    assert!(blocker.join("keep").exists());
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("blocker.mag"), "out.mag".into()]);

    // Missing directory: clear error naming the path, nothing created.
    let err = template.write_atomic(dir.path().join("nope/x.mag")).unwrap_err().to_string();
    assert!(err.contains("nope/x.mag"), "{err}");

    // The layout survives a write/read through the file system.
    let (_, layout) = Bundle::read(&path).unwrap().load().unwrap();
    assert_eq!(layout.hidden, vec![64, 64]);
    let _ = Layout::infer_shapes;
}
