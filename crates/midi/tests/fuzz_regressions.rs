//! Inputs the fuzzer (`tools/fuzz.sh midi`) found crashing the reader, kept so they never do
//! again: each must give a clear error naming the file, not a panic.

use std::path::Path;

#[test]
fn fuzz_found_inputs_are_errors_not_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let err = cadenza_midi::read_file(&p).expect_err("a malformed file");
        assert!(err.to_string().contains(&*p.file_name().unwrap().to_string_lossy()), "{err}");
        n += 1;
    }
    assert!(n >= 1);
    // The first one: SMPTE timing with frame-rate byte 0x80 overflowed midly's i8 negation.
    let err = cadenza_midi::read_file(&dir.join("smpte_fps_0x80.mid")).unwrap_err().to_string();
    assert!(err.contains("SMPTE"), "{err}");
    // The second: the same byte in a second `MThd` chunk after a valid header.
    let err = cadenza_midi::read_file(&dir.join("smpte_fps_0x80_second_header.mid")).unwrap_err().to_string();
    assert!(err.contains("SMPTE"), "{err}");
}
