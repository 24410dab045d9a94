//! Arbitrary bytes into the TensorFlow checkpoint readers: a V1 tensor-slice checkpoint (then
//! its Performance RNN layout and a re-write), and a V2 `.index` + data pair (the input cut in
//! two at its first byte's position). Seeds: the fixture bundles' checkpoints (tools/fuzz.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ckpt) = cadenza_mag::read_v1(data) {
        let _ = cadenza_mag::Layout::infer("performance_with_dynamics", &ckpt);
        if let Ok(bytes) = cadenza_mag::write_v1(&ckpt) {
            let _ = cadenza_mag::read_v1(&bytes);
        }
    }
    let cut = data.first().map_or(0, |&b| (b as usize * data.len()) / 256);
    let _ = cadenza_mag::read_v2(&data[..cut], &data[cut..]);
    let _ = cadenza_mag::read_v2(data, data);
});
