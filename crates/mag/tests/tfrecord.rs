//! TFRecord framing and Magenta training SequenceExamples.

use cadenza_mag::tfrecord::*;

fn example(n: usize, seed: i64) -> (Vec<Vec<f32>>, Vec<Vec<i64>>) {
    let inputs = (0..n)
        .map(|k| {
            let mut v = vec![0.0f32; 388];
            v[((k as i64 * 31 + seed) % 388) as usize] = 1.0;
            v
        })
        .collect();
    let labels = (0..n).map(|k| vec![(k as i64 * 17 + seed) % 388]).collect();
    (inputs, labels)
}

fn three_records() -> (Vec<u8>, Vec<Vec<u8>>) {
    let payloads: Vec<Vec<u8>> = [(5, 1), (1, 2), (511, 3)]
        .iter()
        .map(|&(n, s)| {
            let (i, l) = example(n, s);
            performance_sequence_example(&i, &l)
        })
        .collect();
    let mut file = Vec::new();
    let mut w = TfRecordWriter::new(&mut file);
    for p in &payloads {
        w.write_record(p).unwrap();
    }
    assert_eq!(w.records_written(), 3);
    (file, payloads)
}

#[test]
fn three_records_roundtrip() {
    let (file, payloads) = three_records();
    let total: usize = payloads.iter().map(|p| p.len() + RECORD_OVERHEAD).sum();
    assert_eq!(file.len(), total);

    let got = read_records(&file).unwrap();
    assert_eq!(got.len(), 3);
    for (g, p) in got.iter().zip(&payloads) {
        assert_eq!(g, p);
    }
    // Streaming reader agrees.
    let mut r = TfRecordReader::new(&file[..]);
    for p in &payloads {
        assert_eq!(&r.next_record().unwrap().unwrap(), p);
    }
    assert!(r.next_record().unwrap().is_none());

    // And the examples decode back to what was encoded.
    for (k, (n, s)) in [(5, 1), (1, 2), (511, 3)].into_iter().enumerate() {
        let ex = parse_performance_sequence_example(got[k]).unwrap();
        let (i, l) = example(n, s);
        assert_eq!(ex.inputs, i);
        assert_eq!(ex.labels, l);
    }
    // encode_record / append_record produce the same framing.
    let mut again = Vec::new();
    for p in &payloads {
        append_record(&mut again, p);
    }
    assert_eq!(again, file);
    assert_eq!(encode_record(&payloads[0]), file[..payloads[0].len() + 16]);
}

#[test]
fn flipped_bytes_are_detected() {
    let (file, payloads) = three_records();
    let second = payloads[0].len() + 16;
    // In the data of the second record.
    let mut bad = file.clone();
    bad[second + 12 + 7] ^= 0x01;
    let err = read_records(&bad).unwrap_err().to_string();
    assert!(err.contains("record 1") && err.contains("data CRC32C mismatch"), "{err}");
    let mut r = TfRecordReader::new(&bad[..]);
    assert!(r.next_record().is_ok());
    let err = r.next_record().unwrap_err().to_string();
    assert!(err.contains("data CRC32C mismatch"), "{err}");
    // In the length of the first record.
    let mut bad = file.clone();
    bad[2] ^= 0x40;
    let err = read_records(&bad).unwrap_err().to_string();
    assert!(err.contains("record 0") && err.contains("length CRC32C mismatch"), "{err}");
    assert!(TfRecordReader::new(&bad[..]).next_record().is_err());
    // In a stored CRC.
    let mut bad = file.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    let err = read_records(&bad).unwrap_err().to_string();
    assert!(err.contains("record 2"), "{err}");
    // The iterator stops after the first error.
    let results: Vec<_> = iter_records(&bad).collect();
    assert_eq!(results.len(), 3);
    assert!(results[2].is_err());
}

#[test]
fn truncation_is_detected() {
    let (file, _) = three_records();
    for cut in [1, 11, 12, 20, file.len() - 1, file.len() - 4] {
        let err = read_records(&file[..cut]).unwrap_err().to_string();
        assert!(err.contains("truncated"), "cut {cut}: {err}");
        let mut r = TfRecordReader::new(&file[..cut]);
        let mut saw_err = false;
        for _ in 0..4 {
            match r.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    assert!(e.to_string().contains("truncated"), "{e}");
                    saw_err = true;
                    break;
                }
            }
        }
        assert!(saw_err, "cut {cut}");
    }
    assert!(read_records(&[]).unwrap().is_empty());
}

#[test]
fn file_roundtrip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("training_performances.tfrecord");
    let (file, payloads) = three_records();
    std::fs::write(&path, &file).unwrap();
    assert_eq!(read_file(&path).unwrap(), payloads);
    let mut bad = file;
    bad[30] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let err = read_file(&path).unwrap_err().to_string();
    assert!(err.contains("training_performances.tfrecord"), "{err}");
}

#[test]
fn note_encoding_labels_have_six_ints() {
    let inputs = vec![vec![0.5f32; 315]; 3];
    let labels = vec![vec![0i64, 0, 60, 0, 0, 0]; 3];
    let ex = parse_performance_sequence_example(&performance_sequence_example(&inputs, &labels)).unwrap();
    assert_eq!(ex.labels[2], [0, 0, 60, 0, 0, 0]);
    assert!(parse_performance_sequence_example(b"\x12\x03garbage").is_err());
}
