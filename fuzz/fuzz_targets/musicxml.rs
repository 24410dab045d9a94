//! Arbitrary bytes into the MusicXML importer, as plain XML and as a compressed `.mxl`
//! (the zip magic or the name picks the container), with and without Magenta's quirks and
//! repeats. Run: `tools/fuzz.sh musicxml` (seed corpus: ASAP's scores, unzipped and zipped).
#![no_main]

use cadenza_musicxml::ImportOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (name, magenta_compat, expand_repeats) in [("fuzz.musicxml", false, true), ("fuzz.mxl", true, false)] {
        let _ = cadenza_musicxml::read_bytes(data, name, &ImportOptions { magenta_compat, expand_repeats });
    }
});
