//! Arbitrary bytes into the TFRecord reader and Magenta's `SequenceExample` parser (what
//! `performance_rnn_create_dataset` writes). Seeds: TFRecords `cadenza dataset --tfrecord`
//! writes from ASAP files (tools/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in cadenza_mag::tfrecord::iter_records(data).take(256) {
        match r {
            Ok(rec) => {
                let _ = cadenza_mag::tfrecord::parse_performance_sequence_example(rec);
            }
            Err(_) => break,
        }
    }
    let mut reader = cadenza_mag::tfrecord::TfRecordReader::new(data);
    for _ in 0..256 {
        match reader.next_record() {
            Ok(Some(_)) => {}
            _ => break,
        }
    }
});
