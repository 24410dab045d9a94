//! The numerics proof: Cadenza's network reproduces Magenta's TensorFlow softmax, log-likelihood
//! and final state on the fixtures Magenta itself produced.

use cadenza_model::inference::{log_softmax_segments, sequence_logits};
use cadenza_model::{log_likelihood, Stepper, Weights};
use serde::Deserialize;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    let p = cadenza_shared::require("fixtures/magenta");
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

/// The largest |softmax − Magenta's| over the fixture's primer.
fn max_softmax_error(w: &Weights, p: &Probs) -> f32 {
    let rows = cadenza_model::inference::softmax_rows(w, &p.primer_class_indices);
    rows.iter().zip(&p.softmax).flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs())).fold(0.0, f32::max)
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
    let worst = max_softmax_error(&w, &p);
    println!("{bundle}: max |softmax − Magenta| = {worst:.3e}");
    assert!(worst <= 1e-5, "{bundle}: softmax differs from Magenta by {worst}");
    // What `likelihood --dump-probs` writes is the same softmax.
    let rows = cadenza_model::inference::softmax_rows(&w, &p.primer_class_indices);
    assert_eq!(rows.len(), p.primer_class_indices.len());
    for (t, row) in rows.iter().enumerate() {
        assert!(row.iter().zip(&lp[t * 388..(t + 1) * 388]).all(|(a, b)| *a == b.exp()), "row {t}");
    }

    let (ll, _) = log_likelihood(&w, &p.primer_class_indices, false);
    println!("{bundle}: log-likelihood {ll:.4} (Magenta {:.4})", p.log_likelihood_magenta_evaluate);
    assert!(
        (ll - p.log_likelihood_magenta_evaluate).abs() <= 1e-3,
        "{bundle}: {ll} vs {}",
        p.log_likelihood_magenta_evaluate
    );

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
    assert_eq!(
        std::fs::read(&src).unwrap(),
        std::fs::read(&out).unwrap(),
        "unchanged weights give the template's exact bytes"
    );
}

/// A copy of a fixture bundle as a `use_cudnn=True` Magenta would have written it: variables
/// renamed to the cuDNN-compatible cell's scope (`per_layer`: one `cudnn_lstm[_K]/rnn` scope
/// per layer), and the forget gate's +1 folded into the saved bias.
fn cudnn_copy(bundle: &str, per_layer: bool) -> (cadenza_mag::Bundle, cadenza_mag::Checkpoint) {
    let b = cadenza_mag::Bundle::read(fixtures().join("bundles").join(bundle)).unwrap();
    let (ckpt, layout) = b.load().unwrap();
    let mut ts = Vec::new();
    for t in &ckpt.tensors {
        let mut data = t.data.clone();
        let name = match t.name.strip_prefix("rnn/multi_rnn_cell/cell_") {
            Some(rest) => {
                let (k, tail) = rest.split_once('/').unwrap();
                let tail = tail.replace("basic_lstm_cell", "cudnn_compatible_lstm_cell");
                if tail.ends_with("/bias") {
                    let h = data.len() / 4;
                    data[2 * h..3 * h].iter_mut().for_each(|x| *x += 1.0);
                }
                match (per_layer, k) {
                    (false, _) => format!("cudnn_lstm/rnn/multi_rnn_cell/cell_{k}/{tail}"),
                    (true, "0") => format!("cudnn_lstm/rnn/{tail}"),
                    (true, _) => format!("cudnn_lstm_{k}/rnn/{tail}"),
                }
            }
            None => t.name.clone(),
        };
        ts.push(cadenza_mag::Tensor::new(name, t.shape.clone(), data).unwrap());
    }
    assert_eq!(
        layout.names.cells.len(),
        ts.iter().filter(|t| t.name.ends_with("cudnn_compatible_lstm_cell/kernel")).count()
    );
    let ckpt = cadenza_mag::Checkpoint::new(ts).unwrap();
    let bytes = cadenza_mag::write_v1(&ckpt).unwrap();
    // Its graph: the fixture's, with the cells' nodes renamed and each layer's cell an
    // LSTMBlockCell with forget_bias 0 (what CudnnCompatibleLSTMCell builds).
    use prost::Message;
    let mut mg = cadenza_mag::graph::MetaGraphDef::decode(b.metagraph_bytes()).unwrap();
    let nodes = &mut mg.graph_def.as_mut().unwrap().node;
    nodes.retain(|n| !n.name.contains("/basic_lstm_cell/"));
    for k in 0..layout.names.cells.len() {
        let mut n = cadenza_mag::graph::NodeDef {
            name: format!("cudnn_lstm/rnn/while/multi_rnn_cell/cell_{k}/cudnn_compatible_lstm_cell/LSTMBlockCell"),
            op: "LSTMBlockCell".into(),
            ..Default::default()
        };
        let zero = cadenza_mag::graph::AttrValue { value: Some(cadenza_mag::graph::Value::F(0.0)) };
        n.attr.insert("forget_bias".into(), zero);
        nodes.push(n);
    }
    let out = cadenza_mag::Bundle::new(
        b.generator_id(),
        b.generator_description(),
        "cuDNN-layout copy",
        bytes,
        mg.encode_to_vec(),
    );
    (out, ckpt)
}

/// cuDNN-trained bundles load and give Magenta's softmax; export keeps their layout.
#[test]
fn cudnn_layout_bundles_give_the_fixture_softmax() {
    for (bundle, probs, per_layer) in
        [("perf_dyn_full512.mag", "probs_full512.json", false), ("perf_dyn_small64.mag", "probs_small64.json", true)]
    {
        let p: Probs = serde_json::from_str(&std::fs::read_to_string(fixtures().join(probs)).unwrap()).unwrap();
        let (b, stored) = cudnn_copy(bundle, per_layer);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cudnn.mag");
        b.write_atomic(&path).unwrap();
        let w = Weights::load(&path).unwrap();
        assert_eq!(w.names.forget_bias, 0.0);
        assert!(w.names.kernels[0].starts_with("cudnn_lstm/rnn/"), "{:?}", w.names.kernels);
        let worst = max_softmax_error(&w, &p);
        println!("{bundle} as cuDNN (per-layer scopes: {per_layer}): max |softmax − Magenta| = {worst:.3e}");
        assert!(worst <= 1e-6, "{bundle}: {worst}");
        // Saved again (a model folder, an export on the cuDNN template): the cuDNN names and
        // the stored biases come back bit for bit.
        w.save_dir(&dir.path().join("m"), "test").unwrap();
        let w2 = Weights::load(&dir.path().join("m")).unwrap();
        assert_eq!(w.names, w2.names);
        assert!(w.kernels == w2.kernels && w.fc_w == w2.fc_w && w.fc_b == w2.fc_b);
        for (l, (a, b)) in w.biases.iter().zip(&w2.biases).enumerate() {
            let bad: Vec<(usize, f32, f32)> = a
                .iter()
                .zip(b)
                .enumerate()
                .filter(|(_, (x, y))| x.to_bits() != y.to_bits())
                .map(|(i, (x, y))| (i, *x, *y))
                .take(3)
                .collect();
            assert!(bad.is_empty(), "layer {l} bias: {bad:?}");
        }
        let back = w2.export_bundle(&b).unwrap().checkpoint().unwrap();
        for t in &stored.tensors {
            assert_eq!(back.get(&t.name).unwrap_or_else(|| panic!("{} missing", t.name)).data, t.data, "{}", t.name);
        }
    }
}

/// A fixture bundle with an attention tensor added is refused, naming the tensor.
#[test]
fn an_attention_bundle_is_refused_by_name() {
    let b = cadenza_mag::Bundle::read(fixtures().join("bundles/perf_dyn_small64.mag")).unwrap();
    let mut ts = b.checkpoint().unwrap().tensors;
    ts.push(
        cadenza_mag::Tensor::new("rnn/attention_cell_wrapper/attention/kernel", vec![128, 64], vec![0.0; 128 * 64])
            .unwrap(),
    );
    let bytes = cadenza_mag::write_v1(&cadenza_mag::Checkpoint::new(ts).unwrap()).unwrap();
    let bad = cadenza_mag::Bundle::new(
        b.generator_id(),
        b.generator_description(),
        "attention",
        bytes,
        b.metagraph_bytes().to_vec(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attn.mag");
    bad.write_atomic(&path).unwrap();
    let err = Weights::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("rnn/attention_cell_wrapper/attention/kernel")
            && err.contains("attention model")
            && err.contains("attn.mag"),
        "{err}"
    );
}

/// The fixture metagraphs say BasicLSTMCell with forget bias 1.0 in every layer; mutated
/// copies that say otherwise (another forget bias, an attention wrapper, cuDNN cells over
/// BasicLSTMCell variables) are refused, naming the node.
#[test]
fn metagraphs_are_checked_against_the_checkpoint() {
    use cadenza_mag::graph::{AttrValue, MetaGraphDef, NodeDef, Value};
    use cadenza_mag::metagraph::inspect;
    use cadenza_mag::CellKind;
    use prost::Message;
    for (bundle, layers) in [("perf_dyn_small64.mag", 2), ("perf_dyn_full512.mag", 3)] {
        let b = cadenza_mag::Bundle::read(fixtures().join("bundles").join(bundle)).unwrap();
        let f = inspect(b.metagraph_bytes()).unwrap();
        assert_eq!(f.cells, [CellKind::Basic], "{bundle}");
        assert_eq!(f.forget_biases.len(), layers, "{bundle}: {:?}", f.forget_biases);
        assert!(f.forget_biases.iter().all(|(_, v)| *v == 1.0) && f.wrappers.is_empty());
        let with_graph = |edit: &dyn Fn(&mut Vec<NodeDef>)| {
            let mut mg = MetaGraphDef::decode(b.metagraph_bytes()).unwrap();
            edit(&mut mg.graph_def.as_mut().unwrap().node);
            let copy = cadenza_mag::Bundle::new(
                b.generator_id(),
                b.generator_description(),
                "mutated",
                b.checkpoint_bytes().to_vec(),
                mg.encode_to_vec(),
            );
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("mutated.mag");
            copy.write_atomic(&path).unwrap();
            Weights::load(&path).map(|_| ()).map_err(|e| e.to_string())
        };
        with_graph(&|_| {}).expect("the fixture's own graph, re-encoded, loads");
        let err = with_graph(&|nodes| {
            for n in nodes.iter_mut().filter(|n| n.name.ends_with("cell_1/basic_lstm_cell/Const_1")) {
                match &mut n.attr.get_mut("value").unwrap().value {
                    Some(Value::Tensor(t)) => t.float_val = vec![0.0],
                    v => panic!("{v:?}"),
                }
            }
        })
        .unwrap_err();
        assert!(
            err.contains("cell_1/basic_lstm_cell/Add")
                && err.contains("forget bias of 0")
                && err.contains("mutated.mag"),
            "{err}"
        );
        let err = with_graph(&|nodes| {
            nodes.push(NodeDef {
                name: "rnn/while/rnn/attention_cell_wrapper/attention/Softmax".into(),
                op: "Softmax".into(),
                ..Default::default()
            })
        })
        .unwrap_err();
        assert!(err.contains("attention_cell_wrapper") && err.contains("AttentionCellWrapper"), "{err}");
        let err = with_graph(&|nodes| {
            let mut n = NodeDef {
                name: "rnn/while/rnn/multi_rnn_cell/cell_0/cudnn_compatible_lstm_cell/LSTMBlockCell".into(),
                op: "LSTMBlockCell".into(),
                ..Default::default()
            };
            n.attr.insert("forget_bias".into(), AttrValue { value: Some(Value::F(0.0)) });
            nodes.push(n);
        })
        .unwrap_err();
        assert!(err.contains("mixes LSTM cells"), "{err}");
    }
}
