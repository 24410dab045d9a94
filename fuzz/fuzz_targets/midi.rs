//! Arbitrary bytes into the MIDI reader, then the notes back out to MIDI and in again.
//! Run: `tools/fuzz.sh midi` (seed corpus: every ASAP MIDI file in ../shared).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(seq) = cadenza_midi::read_bytes(data, "fuzz.mid") {
        let bytes = cadenza_midi::to_bytes(&seq);
        // What Cadenza writes, Cadenza reads (a failure here is a crash the fuzzer reports).
        let back = cadenza_midi::read_bytes(&bytes, "fuzz-rewritten.mid").expect("what Cadenza writes, Cadenza reads");
        assert!(
            back.notes.len() <= seq.notes.len(),
            "re-reading invented notes: {} > {}",
            back.notes.len(),
            seq.notes.len()
        );
    }
});
