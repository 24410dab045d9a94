//! Bad input gives a clear error naming the problem, never a panic.

mod common;

use cadenza_mag::checkpoint::DT_INT64;
use cadenza_mag::ordered_code::encode_full_slice_key;
use cadenza_mag::proto::*;
use cadenza_mag::table::{Table, TableBuilder};
use cadenza_mag::{read_v1, replace_checkpoint, write_v1, Bundle, Checkpoint, Layout, MagError, Tensor};
use common::*;
use prost::Message;

/// from_bytes → checkpoint → layout, as the CLI would load a bundle.
fn load(bytes: &[u8], name: &str) -> Result<(), MagError> {
    let b = Bundle::from_bytes(bytes, name)?;
    b.load()?;
    Ok(())
}

#[test]
fn truncated_small_bundle_every_997_bytes() {
    let bytes = fixture_bytes(SMALL);
    let mut cut = 0;
    let mut n = 0;
    while cut < bytes.len() {
        let err = load(&bytes[..cut], "small.mag")
            .expect_err(&format!("cut at {cut} of {} should fail", bytes.len()))
            .to_string();
        assert!(err.starts_with("small.mag"), "cut {cut}: error does not name the file: {err}");
        assert!(
            err.contains("truncated") || err.contains("has 0 checkpoint_file") || err.contains("no metagraph_file"),
            "cut {cut}: unclear error: {err}"
        );
        cut += 997;
        n += 1;
    }
    assert!(n > 700);
    // Cuts right at the field boundaries.
    for cut in [0, 1, 2, 3, 4, 5, 60, 61, 62, 63, 64, 65, 66] {
        assert!(load(&bytes[..cut], "small.mag").is_err(), "cut {cut}");
    }
}

#[test]
fn truncated_full_bundle_in_the_middle() {
    let bytes = fixture_bytes(FULL);
    for cut in [bytes.len() / 2, bytes.len() - 82_000, bytes.len() - 1] {
        let err = load(&bytes[..cut], "full.mag").unwrap_err().to_string();
        assert!(err.contains("full.mag") && err.contains("truncated"), "cut {cut}: {err}");
    }
}

#[test]
fn truncated_checkpoint_tables() {
    let b = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();
    let ck = b.checkpoint_bytes();
    for cut in (0..ck.len()).step_by(997).chain([ck.len() - 1, ck.len() - 48, 47, 10]) {
        let err = read_v1(&ck[..cut]).expect_err("truncated table must fail").to_string();
        assert!(err.contains("truncated") || err.contains("magic") || err.contains("too short"), "cut {cut}: {err}");
    }
    // A cut table wrapped in a bundle: the error names the bundle and the checkpoint.
    let mut p = b.proto.clone();
    p.checkpoint_file[0].truncate(ck.len() / 2);
    let err = load(&p.encode_to_vec(), "cut.mag").unwrap_err().to_string();
    assert!(err.starts_with("cut.mag (checkpoint_file[0]): "), "{err}");
    assert!(err.contains("magic"), "{err}");
}

#[test]
fn flipped_byte_in_data_block_is_a_crc_error() {
    let b = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();
    let table = Table::open(b.checkpoint_bytes()).unwrap();
    let blocks: Vec<_> = table.index().iter().map(|(_, h)| *h).collect();
    for h in blocks {
        for rel in [0u64, 1, h.size / 3, h.size - 1] {
            let mut p = b.proto.clone();
            p.checkpoint_file[0][(h.offset + rel) as usize] ^= 0x10;
            let err = load(&p.encode_to_vec(), "flipped.mag").unwrap_err().to_string();
            assert!(err.contains("CRC32C mismatch"), "{err}");
            assert!(err.contains(&format!("data block at offset {}", h.offset)), "error should name the block: {err}");
            assert!(err.starts_with("flipped.mag (checkpoint_file[0])"), "{err}");
        }
    }
    // A flipped byte in the trailer's CRC itself, and in the index block.
    let h = table.index()[0].1;
    let mut p = b.proto.clone();
    p.checkpoint_file[0][(h.offset + h.size + 2) as usize] ^= 1;
    let err = load(&p.encode_to_vec(), "x.mag").unwrap_err().to_string();
    assert!(err.contains("CRC32C mismatch"), "{err}");
    let ih = table.index_handle();
    let mut p = b.proto.clone();
    p.checkpoint_file[0][(ih.offset + 3) as usize] ^= 1;
    let err = load(&p.encode_to_vec(), "x.mag").unwrap_err().to_string();
    assert!(err.contains(&format!("index block at offset {}", ih.offset)), "{err}");
}

#[test]
fn unknown_generator_id() {
    let mut b = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();
    b.proto.generator_details.as_mut().unwrap().id = "my_own_model".into();
    let bytes = b.to_bytes();
    let b = Bundle::from_bytes(&bytes, "custom.mag").unwrap();
    let err = b.load().unwrap_err();
    assert!(matches!(err, MagError::UnknownGenerator { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("custom.mag: unknown generator id 'my_own_model'"), "{msg}");
    assert!(msg.contains("performance_with_dynamics"), "{msg}");

    // A known id whose config does not fit the weights.
    let mut b = b;
    b.proto.generator_details.as_mut().unwrap().id = "performance".into();
    let msg = b.load().unwrap_err().to_string();
    assert!(msg.contains("cell_0/basic_lstm_cell/kernel") && msg.contains("needs input size 356"), "{msg}");
}

#[test]
fn shapes_that_disagree_are_layout_errors() {
    let template = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();
    let ckpt = template.checkpoint().unwrap();

    // Bias of the wrong length, written into a bundle and loaded back.
    let mut bad = ckpt.clone();
    let bias = bad.get_mut("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias").unwrap();
    bias.shape = vec![255];
    bias.data.truncate(255);
    let mut p = template.proto.clone();
    p.checkpoint_file = vec![write_v1(&bad).unwrap()];
    let err = load(&p.encode_to_vec(), "badbias.mag").unwrap_err();
    assert_eq!(err.tensor(), Some("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias"));
    let msg = err.to_string();
    assert!(msg.starts_with("badbias.mag: "), "{msg}");
    assert!(msg.contains("[255]") && msg.contains("[128, 256]") && msg.contains("[256]"), "{msg}");

    // Kernel rows that do not match the layer below.
    let mut bad = ckpt.clone();
    let k = bad.get_mut("rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel").unwrap();
    k.shape = vec![127, 256];
    k.data.truncate(127 * 256);
    let msg = Layout::infer("performance_with_dynamics", &bad).unwrap_err().to_string();
    assert!(msg.contains("cell_1/basic_lstm_cell/kernel") && msg.contains("[127, 256]"), "{msg}");
    assert!(msg.contains("[452, 256]"), "{msg}");

    // FC rows that do not match the top layer.
    let mut bad = ckpt.clone();
    let w = bad.get_mut("fully_connected/weights").unwrap();
    w.shape = vec![32, 776];
    let msg = Layout::infer("performance_with_dynamics", &bad).unwrap_err().to_string();
    assert!(
        msg.contains("'fully_connected/weights'") && msg.contains("[32, 776]") && msg.contains("[128, 256]"),
        "{msg}"
    );

    // A missing tensor.
    let mut bad = ckpt.clone();
    bad.tensors.retain(|t| t.name != "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel");
    let msg = Layout::infer("performance_with_dynamics", &bad).unwrap_err().to_string();
    assert!(msg.contains("cell_0/basic_lstm_cell/kernel") && msg.contains("missing"), "{msg}");

    // A gap in the cell numbering.
    let mut bad = ckpt.clone();
    for t in &mut bad.tensors {
        t.name = t.name.replace("cell_1/", "cell_2/");
    }
    let msg = Layout::infer("performance_with_dynamics", &bad).unwrap_err().to_string();
    assert!(msg.contains("cell_1/basic_lstm_cell") && msg.contains("gap"), "{msg}");
}

/// A V1 table built by hand from the low-level pieces.
fn hand_table(metas: Vec<SavedSliceMeta>, records: Vec<(String, usize, TensorProto)>) -> Vec<u8> {
    let meta = SavedTensorSlices {
        meta: Some(SavedTensorSliceMeta {
            tensor: metas,
            versions: Some(VersionDef { producer: 1, min_consumer: 0, bad_consumers: vec![] }),
        }),
        data: None,
    };
    let mut tb = TableBuilder::new();
    tb.add(b"", &meta.encode_to_vec()).unwrap();
    let mut recs: Vec<(Vec<u8>, Vec<u8>)> = records
        .into_iter()
        .map(|(name, rank, data)| {
            let v = SavedTensorSlices {
                meta: None,
                data: Some(SavedSlice {
                    name: name.clone(),
                    slice: Some(TensorSliceProto::full(rank)),
                    data: Some(data),
                }),
            };
            (encode_full_slice_key(&name, rank), v.encode_to_vec())
        })
        .collect();
    recs.sort();
    for (k, v) in recs {
        tb.add(&k, &v).unwrap();
    }
    tb.finish()
}

fn meta(name: &str, dims: &[usize], dtype: i32) -> SavedSliceMeta {
    SavedSliceMeta {
        name: name.into(),
        shape: Some(TensorShapeProto::from_dims(dims)),
        r#type: dtype,
        slice: vec![TensorSliceProto::full(dims.len())],
    }
}

#[test]
fn non_float_tensor_is_rejected_by_name() {
    let bytes = hand_table(
        vec![meta("global_step", &[1], DT_INT64), meta("w", &[2], 1)],
        vec![
            ("global_step".into(), 1, TensorProto { int64_val: vec![7], ..Default::default() }),
            ("w".into(), 1, TensorProto { float_val: vec![1.0, 2.0], ..Default::default() }),
        ],
    );
    let err = read_v1(&bytes).unwrap_err();
    assert_eq!(err.tensor(), Some("global_step"));
    let msg = err.to_string();
    assert!(msg.contains("'global_step'") && msg.contains("DT_INT64") && msg.contains("DT_FLOAT"), "{msg}");

    // Meta says float, but the data holds int64 values.
    let bytes = hand_table(
        vec![meta("w", &[2], 1)],
        vec![("w".into(), 1, TensorProto { int64_val: vec![1, 2], ..Default::default() })],
    );
    let msg = read_v1(&bytes).unwrap_err().to_string();
    assert!(msg.contains("'w'") && msg.contains("int64_val"), "{msg}");

    // Data dtype set to something else.
    let bytes = hand_table(
        vec![meta("w", &[2], 1)],
        vec![("w".into(), 1, TensorProto { dtype: 2, double_val: vec![1.0, 2.0], ..Default::default() })],
    );
    let msg = read_v1(&bytes).unwrap_err().to_string();
    assert!(msg.contains("'w'") && msg.contains("DT_DOUBLE"), "{msg}");
}

#[test]
fn wrong_value_count_and_missing_data() {
    let bytes = hand_table(
        vec![meta("w", &[2, 3], 1)],
        vec![("w".into(), 2, TensorProto { float_val: vec![1.0; 5], ..Default::default() })],
    );
    let msg = read_v1(&bytes).unwrap_err().to_string();
    assert!(msg.contains("'w'") && msg.contains("5 stored values") && msg.contains("needs 6"), "{msg}");

    let bytes = hand_table(
        vec![meta("w", &[2], 1), meta("v", &[1], 1)],
        vec![("w".into(), 1, TensorProto { float_val: vec![1.0, 2.0], ..Default::default() })],
    );
    let msg = read_v1(&bytes).unwrap_err().to_string();
    assert!(msg.contains("'v'") && msg.contains("no data record"), "{msg}");

    let bytes = hand_table(
        vec![meta("w", &[2], 1)],
        vec![
            ("w".into(), 1, TensorProto { float_val: vec![1.0, 2.0], ..Default::default() }),
            ("x".into(), 1, TensorProto { float_val: vec![1.0], ..Default::default() }),
        ],
    );
    let msg = read_v1(&bytes).unwrap_err().to_string();
    assert!(msg.contains("'x'") && msg.contains("not in the table of contents"), "{msg}");
}

#[test]
fn tensor_content_and_unpacked_floats_are_accepted() {
    let vals = [1.5f32, -2.25, 3.0e-7, f32::MAX];
    let content: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = hand_table(
        vec![meta("a", &[2, 2], 1), meta("b", &[4], 1)],
        vec![
            ("a".into(), 2, TensorProto { dtype: 1, tensor_content: content, ..Default::default() }),
            ("b".into(), 1, TensorProto { float_val: vals.to_vec(), ..Default::default() }),
        ],
    );
    let c = read_v1(&bytes).unwrap();
    assert_eq!(c.get("a").unwrap().data, vals);
    assert_eq!(c.get("a").unwrap().shape, [2, 2]);
    assert_eq!(c.get("b").unwrap().data, vals);

    // Unpacked float_val: tag 0x2d (field 5, fixed32) before each value.
    let mut tensor = Vec::new();
    for v in vals {
        tensor.push(0x2d);
        tensor.extend_from_slice(&v.to_le_bytes());
    }
    let mut slice_msg = Vec::new();
    slice_msg.extend_from_slice(&[0x0a, 1, b'b']); // name
    slice_msg.extend_from_slice(&[0x12, 2, 0x0a, 0]); // full slice, rank 1
    slice_msg.push(0x1a);
    slice_msg.push(tensor.len() as u8);
    slice_msg.extend_from_slice(&tensor);
    let mut record = vec![0x12, slice_msg.len() as u8];
    record.extend_from_slice(&slice_msg);
    let meta_rec = SavedTensorSlices {
        meta: Some(SavedTensorSliceMeta { tensor: vec![meta("b", &[4], 1)], versions: None }),
        data: None,
    };
    let mut tb = TableBuilder::new();
    tb.add(b"", &meta_rec.encode_to_vec()).unwrap();
    tb.add(&encode_full_slice_key("b", 1), &record).unwrap();
    let c = read_v1(&tb.finish()).unwrap();
    assert_eq!(c.get("b").unwrap().data, vals);
}

#[test]
fn replace_checkpoint_rejects_mismatches() {
    let template = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();
    let ckpt = template.checkpoint().unwrap();

    let mut bad = ckpt.clone();
    let b = bad.get_mut("fully_connected/biases").unwrap();
    b.shape = vec![389];
    b.data.push(0.0);
    let err = replace_checkpoint(&template, &bad).unwrap_err();
    assert!(matches!(err, MagError::Mismatch { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("small.mag: "), "{msg}");
    assert!(msg.contains("'fully_connected/biases'") && msg.contains("[389]") && msg.contains("[388]"), "{msg}");

    let mut bad = ckpt.clone();
    bad.tensors.remove(0);
    let msg = replace_checkpoint(&template, &bad).unwrap_err().to_string();
    assert!(msg.contains("'fully_connected/biases'") && msg.contains("missing"), "{msg}");

    let mut bad = ckpt.clone();
    bad.tensors.push(Tensor::new("zzz/extra", vec![1], vec![0.0]).unwrap());
    let msg = replace_checkpoint(&template, &bad).unwrap_err().to_string();
    assert!(msg.contains("'zzz/extra'") && msg.contains("not in the template"), "{msg}");

    let mut bad = ckpt.clone();
    bad.get_mut("rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias").unwrap().data[3] = f32::NAN;
    let msg = replace_checkpoint(&template, &bad).unwrap_err().to_string();
    assert!(
        msg.contains("cell_0/basic_lstm_cell/bias") && msg.contains("non-finite") && msg.contains("index 3"),
        "{msg}"
    );

    let mut bad = ckpt.clone();
    bad.get_mut("fully_connected/weights").unwrap().data.pop();
    let msg = replace_checkpoint(&template, &bad).unwrap_err().to_string();
    assert!(msg.contains("'fully_connected/weights'") && msg.contains("24831 values"), "{msg}");
}

#[test]
fn bundle_structure_errors() {
    let b = Bundle::from_bytes(&fixture_bytes(SMALL), "small.mag").unwrap();

    let mut p = b.proto.clone();
    p.checkpoint_file.push(vec![1, 2, 3]);
    let msg = Bundle::from_bytes(&p.encode_to_vec(), "two.mag").unwrap_err().to_string();
    assert!(msg.starts_with("two.mag: ") && msg.contains("2 checkpoint_file entries"), "{msg}");

    let mut p = b.proto.clone();
    p.checkpoint_file.clear();
    let msg = Bundle::from_bytes(&p.encode_to_vec(), "none.mag").unwrap_err().to_string();
    assert!(msg.contains("0 checkpoint_file entries"), "{msg}");

    let mut p = b.proto.clone();
    p.metagraph_file.clear();
    let msg = Bundle::from_bytes(&p.encode_to_vec(), "nomg.mag").unwrap_err().to_string();
    assert!(msg.contains("no metagraph_file"), "{msg}");

    let msg = Bundle::from_bytes(b"definitely not a bundle", "text.mag").unwrap_err().to_string();
    assert!(msg.starts_with("text.mag: not a usable Magenta GeneratorBundle"), "{msg}");

    let msg = Bundle::read("/nonexistent/dir/x.mag").unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/dir/x.mag"), "{msg}");

    // A bundle whose checkpoint is not a table at all.
    let mut p = b.proto.clone();
    p.checkpoint_file[0] = vec![0u8; 100];
    let msg = Bundle::from_bytes(&p.encode_to_vec(), "zero.mag").unwrap().load().unwrap_err().to_string();
    assert!(msg.starts_with("zero.mag (checkpoint_file[0]): ") && msg.contains("magic"), "{msg}");
}

#[test]
fn checkpoint_new_validates() {
    assert!(Tensor::new("x", vec![2, 2], vec![0.0; 3]).is_err());
    let c = Checkpoint::new(vec![
        Tensor::new("b", vec![1], vec![0.0]).unwrap(),
        Tensor::new("a", vec![1], vec![0.0]).unwrap(),
    ])
    .unwrap();
    assert_eq!(c.names().collect::<Vec<_>>(), ["a", "b"]);
}
