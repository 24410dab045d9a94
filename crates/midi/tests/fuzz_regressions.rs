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

/// Inputs the fuzzer found where the file read but what Cadenza wrote of it did not read back:
/// the notes written out spelled `MThd` followed, 12 bytes on, by a NOTE_OFF status 0x80, and
/// a scan of the bytes would take that for a header with SMPTE frame-rate byte 0x80, where
/// walking the chunks as midly does finds none; each file must read, write, and read back.
#[test]
fn what_cadenza_writes_of_fuzz_found_inputs_reads_back() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/roundtrip");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let seq = cadenza_midi::read_file(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let bytes = cadenza_midi::to_bytes(&seq);
        let back = cadenza_midi::read_bytes(&bytes, "rewritten.mid").unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(back.notes.len() <= seq.notes.len() && !back.notes.is_empty(), "{}", p.display());
        n += 1;
    }
    assert!(n >= 1);
    // The bytes of a header with frame-rate byte 0x80, inside a track, do not make a header.
    let mut track = Vec::new();
    track.extend_from_slice(b"\x00\x90\x3c\x40"); // a NOTE_ON
    track.extend_from_slice(b"\x00\xf0\x0dMThd\x00\x00\x00\x06\x00\x00\x00\x01\x80\xf7"); // a SysEx
    track.extend_from_slice(b"\x60\x80\x3c\x00\x00\xff\x2f\x00"); // NOTE_OFF, end of track
    let mut file = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk".to_vec();
    file.extend_from_slice(&(track.len() as u32).to_be_bytes());
    file.extend_from_slice(&track);
    let seq = cadenza_midi::read_bytes(&file, "sysex.mid").unwrap();
    assert_eq!(seq.notes.len(), 1);
    // A real second header chunk with that byte is still refused.
    let mut bad = file.clone();
    bad.extend_from_slice(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x80\x04");
    assert!(cadenza_midi::read_bytes(&bad, "bad.mid").unwrap_err().to_string().contains("SMPTE"));
}
