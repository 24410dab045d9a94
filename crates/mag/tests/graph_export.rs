//! Template-free export: the metagraph Cadenza builds equals, node for node, the one Magenta
//! wrote into the fixture bundles of the same sizes; a bundle built with it loads back.

mod common;

use cadenza_mag::graph::{generation_metagraph, Collection, GraphShape, MetaGraphDef, VariableDef, WhileContextDef};
use cadenza_mag::{new_bundle, Bundle, Checkpoint, Tensor};
use common::*;
use prost::Message;

fn fixture_metagraph(mag: &str) -> MetaGraphDef {
    let bundle = Bundle::read(fixture(mag)).expect("fixture bundle reads");
    MetaGraphDef::decode(bundle.metagraph_bytes()).expect("fixture metagraph decodes")
}

fn bytes_list(mg: &MetaGraphDef, key: &str) -> Vec<Vec<u8>> {
    match mg.collection_def.get(key).and_then(|c| c.kind.clone()) {
        Some(Collection::BytesList(b)) => b.value,
        other => panic!("collection {key} is {other:?}"),
    }
}

fn assert_same_graph(mag: &str, layers: Vec<usize>) {
    let want = fixture_metagraph(mag);
    let got = generation_metagraph(&GraphShape { input_size: 388, layers, num_classes: 388 }).unwrap();
    // Round trip through bytes, as Magenta will read it.
    let got = MetaGraphDef::decode(got.encode_to_vec().as_slice()).unwrap();

    let (wg, gg) = (want.graph_def.as_ref().unwrap(), got.graph_def.as_ref().unwrap());
    for (k, (w, g)) in wg.node.iter().zip(&gg.node).enumerate() {
        assert_eq!(w, g, "{mag}: node {k} differs:\n  Magenta: {w:?}\n  Cadenza: {g:?}");
    }
    assert_eq!(wg.node.len(), gg.node.len(), "{mag}: node count");
    assert_eq!(wg.versions.as_ref().unwrap().producer, gg.versions.as_ref().unwrap().producer);
    assert_eq!(want.saver_def, got.saver_def, "{mag}: SaverDef");

    let keys = |m: &MetaGraphDef| m.collection_def.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&want), keys(&got), "{mag}: collection keys");
    for key in ["inputs", "temperature", "softmax", "initial_state", "final_state"] {
        assert_eq!(want.collection_def[key], got.collection_def[key], "{mag}: collection {key}");
    }
    for key in ["model_variables", "trainable_variables", "variables"] {
        let dec = |m: &MetaGraphDef| {
            bytes_list(m, key).iter().map(|b| VariableDef::decode(b.as_slice()).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(dec(&want), dec(&got), "{mag}: collection {key}");
    }
    let wc = |m: &MetaGraphDef| {
        let b = bytes_list(m, "while_context");
        assert_eq!(b.len(), 1);
        let mut w = WhileContextDef::decode(b[0].as_slice()).unwrap();
        w.values_def.as_mut().unwrap().values.sort();
        w
    };
    assert_eq!(wc(&want), wc(&got), "{mag}: while_context");
}

#[test]
fn metagraph_equals_magentas_for_2x64() {
    assert_same_graph("bundles/perf_dyn_small64.mag", vec![64, 64]);
}

#[test]
fn metagraph_equals_magentas_for_3x512() {
    assert_same_graph("bundles/perf_dyn_full512.mag", vec![512, 512, 512]);
}

#[test]
fn new_bundle_round_trips_weights_and_passes_the_graph_checks() {
    // The fixture's 2×64 weights in a template-free bundle: same checkpoint bytes, and the
    // loader's metagraph checks accept the generated graph.
    let fixture = Bundle::read(fixture("bundles/perf_dyn_small64.mag")).unwrap();
    let (ckpt, layout) = fixture.load().unwrap();
    let shape = GraphShape { input_size: layout.input_size, layers: layout.hidden.clone(), num_classes: 388 };
    let b = new_bundle("performance_with_dynamics", &shape, &ckpt, "round trip").unwrap();
    let again = Bundle::from_bytes(&b.to_bytes(), "new.mag").unwrap();
    assert_eq!(again.generator_description(), "Performance RNN with dynamics");
    assert_eq!(again.checkpoint_bytes(), fixture.checkpoint_bytes(), "V1 checkpoint bytes");
    let (ckpt2, layout2) = again.load().unwrap();
    assert!(ckpt2.bitwise_eq(&ckpt));
    assert_eq!(layout2, layout);
}

#[test]
fn new_bundle_refuses_wrong_shapes_and_ids() {
    let shape = GraphShape { input_size: 388, layers: vec![8], num_classes: 388 };
    let t = |n: &str, d: Vec<usize>| Tensor::new(n, d.clone(), vec![0.1; d.iter().product()]).unwrap();
    let ok = vec![
        t("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel", vec![396, 32]),
        t("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias", vec![32]),
        t("fully_connected/weights", vec![8, 388]),
        t("fully_connected/biases", vec![388]),
    ];
    assert!(new_bundle("performance_with_dynamics", &shape, &Checkpoint::new(ok.clone()).unwrap(), "").is_ok());
    let e = new_bundle("performance", &shape, &Checkpoint::new(ok.clone()).unwrap(), "").unwrap_err().to_string();
    assert!(e.contains("356"), "{e}");
    let mut bad = ok.clone();
    bad[2] = t("fully_connected/weights", vec![9, 388]);
    let e =
        new_bundle("performance_with_dynamics", &shape, &Checkpoint::new(bad).unwrap(), "").unwrap_err().to_string();
    assert!(e.contains("fully_connected/weights"), "{e}");
    let mut nan = ok;
    nan[3].data[5] = f32::NAN;
    let e =
        new_bundle("performance_with_dynamics", &shape, &Checkpoint::new(nan).unwrap(), "").unwrap_err().to_string();
    assert!(e.contains("non-finite"), "{e}");
}
