//! The fuzz target's body (`cadenza_mag::fuzzing::fuzz_one`) over a few thousand
//! pseudo-random mutations of the fixture bundle and of a tiny synthetic bundle.
//! A panic anywhere fails the test.

mod common;

use std::time::Instant;

use cadenza_mag::fuzzing::{fuzz_one, FuzzOutcome};
use cadenza_mag::table::{mask_crc, Table};
use cadenza_mag::{write_v1, Bundle, Checkpoint, Tensor};
use common::*;

#[derive(Default, Debug)]
struct Tally {
    runs: usize,
    bundle_ok: usize,
    checkpoint_ok: usize,
    layout_ok: usize,
    raw_ok: usize,
}

impl Tally {
    fn add(&mut self, o: FuzzOutcome) {
        self.runs += 1;
        self.bundle_ok += o.bundle_ok as usize;
        self.checkpoint_ok += o.checkpoint_ok as usize;
        self.layout_ok += o.layout_ok as usize;
        self.raw_ok += o.raw_checkpoint_ok as usize;
    }
}

fn mutate(rng: &mut XorShift, src: &[u8], focus: std::ops::Range<usize>) -> Vec<u8> {
    let mut d = src.to_vec();
    let pick = |rng: &mut XorShift, len: usize| {
        if rng.below(2) == 0 && !focus.is_empty() && focus.end <= len {
            focus.start + rng.below(focus.len())
        } else {
            rng.below(len.max(1))
        }
    };
    for _ in 0..1 + rng.below(4) {
        if d.is_empty() {
            d.push(rng.next() as u8);
            continue;
        }
        match rng.below(6) {
            0 | 1 => {
                let i = pick(rng, d.len());
                d[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = pick(rng, d.len());
                d[i] = rng.next() as u8;
            }
            3 => {
                let at = rng.below(d.len() + 1);
                d.truncate(at);
            }
            4 => {
                let at = pick(rng, d.len());
                let n = 1 + rng.below(8);
                for _ in 0..n {
                    d.insert(at, rng.next() as u8);
                }
            }
            _ => {
                let at = pick(rng, d.len());
                let n = (1 + rng.below(16)).min(d.len() - at);
                d.drain(at..at + n);
            }
        }
    }
    d
}

/// Recompute every block trailer CRC of a table (at the original block positions), so
/// that byte flips reach the parsers behind the CRC check.
fn reseal(table: &mut [u8], handles: &[(u64, u64)]) {
    for &(off, size) in handles {
        let (off, size) = (off as usize, size as usize);
        if off + size + 5 > table.len() {
            continue;
        }
        let crc = crc32c::crc32c_append(crc32c::crc32c(&table[off..off + size]), &table[off + size..off + size + 1]);
        table[off + size + 1..off + size + 5].copy_from_slice(&mask_crc(crc).to_le_bytes());
    }
}

fn handles(table: &[u8]) -> Vec<(u64, u64)> {
    let t = Table::open(table).unwrap();
    let mut v: Vec<(u64, u64)> = t.index().iter().map(|(_, h)| (h.offset, h.size)).collect();
    v.push((t.metaindex_handle().offset, t.metaindex_handle().size));
    v.push((t.index_handle().offset, t.index_handle().size));
    v
}

/// A `MetaGraphDef` of one BasicLSTMCell node, protobuf-encoded by hand (every length < 128).
fn tiny_metagraph() -> Vec<u8> {
    let (name, op) = (&b"rnn/while/rnn/multi_rnn_cell/cell_0/basic_lstm_cell/MatMul"[..], &b"MatMul"[..]);
    let mut node = vec![0x0a, name.len() as u8];
    node.extend_from_slice(name);
    node.extend_from_slice(&[0x12, op.len() as u8]);
    node.extend_from_slice(op);
    let mut graph = vec![0x0a, node.len() as u8];
    graph.extend(node);
    let mut mg = vec![0x12, graph.len() as u8];
    mg.extend(graph);
    mg
}

fn tiny_bundle() -> Bundle {
    let mut tensors = Vec::new();
    let (input, h, classes) = (388usize, 1usize, 388usize);
    let mut below = input;
    for k in 0..2 {
        let p = format!("rnn/multi_rnn_cell/cell_{k}/basic_lstm_cell");
        let n = (below + h) * 4 * h;
        tensors.push(
            Tensor::new(format!("{p}/kernel"), vec![below + h, 4 * h], (0..n).map(|i| i as f32 * 0.01).collect())
                .unwrap(),
        );
        tensors.push(Tensor::new(format!("{p}/bias"), vec![4 * h], vec![0.5; 4 * h]).unwrap());
        below = h;
    }
    tensors.push(Tensor::new("fully_connected/weights", vec![h, classes], vec![0.25; h * classes]).unwrap());
    tensors.push(Tensor::new("fully_connected/biases", vec![classes], vec![0.0; classes]).unwrap());
    let ckpt = Checkpoint::new(tensors).unwrap();
    Bundle::new("performance_with_dynamics", "tiny", "fuzz seed", write_v1(&ckpt).unwrap(), tiny_metagraph())
}

#[test]
fn fuzz_body_survives_mutations() {
    let start = Instant::now();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);

    // 1. The real small bundle, mutated anywhere (mostly stopped by protobuf or CRC checks).
    let small = fixture_bytes(SMALL);
    let bundle = Bundle::from_bytes(&small, "small").unwrap();
    let ck_len = bundle.checkpoint_bytes().len();
    // checkpoint_file[0] starts after field 1 (2 + 58 bytes) and its own tag + length.
    let ck_start = small.windows(16).position(|w| w == &bundle.checkpoint_bytes()[..16]).unwrap();
    let tail = ck_start + ck_len - 600..small.len();
    let mut t1 = Tally::default();
    for _ in 0..1500 {
        t1.add(fuzz_one(&mutate(&mut rng, &small, tail.clone())));
    }

    // 2. Byte flips inside the small bundle's checkpoint with CRCs recomputed, so the
    //    table, protobuf and layout code behind the CRC sees the damage.
    let hs = handles(bundle.checkpoint_bytes());
    let mut t2 = Tally::default();
    for i in 0..800 {
        let mut p = bundle.proto.clone();
        let table = &mut p.checkpoint_file[0];
        let n = 1 + rng.below(3);
        for _ in 0..n {
            // Bias toward structure: the first 4 KiB of block 0, the index, the footer.
            let at = match i % 3 {
                0 => rng.below(4096),
                1 => table.len() - 1 - rng.below(200),
                _ => rng.below(table.len()),
            };
            table[at] ^= 1 << rng.below(8);
        }
        reseal(table, &hs);
        t2.add(fuzz_one(&prost::Message::encode_to_vec(&p)));
    }

    // 3. A tiny synthetic bundle, where nearly every byte is structure.
    let tiny = tiny_bundle();
    if let Err(e) = tiny.load() {
        panic!("the tiny bundle does not load: {e}");
    }
    let tiny_bytes = tiny.to_bytes();
    let ths = handles(tiny.checkpoint_bytes());
    let mut t3 = Tally::default();
    for i in 0..3000 {
        if i % 2 == 0 {
            // Half the edits land in the bundle header + meta record or in the index + footer.
            let focus = if i % 4 == 0 { 0..700 } else { tiny_bytes.len() - 300..tiny_bytes.len() };
            t3.add(fuzz_one(&mutate(&mut rng, &tiny_bytes, focus)));
        } else {
            let mut p = tiny.proto.clone();
            let table = &mut p.checkpoint_file[0];
            for _ in 0..1 + rng.below(3) {
                let at = match rng.below(3) {
                    0 => rng.below(600),
                    1 => table.len() - 1 - rng.below(250),
                    _ => rng.below(table.len()),
                };
                table[at] = rng.next() as u8;
            }
            reseal(table, &ths);
            t3.add(fuzz_one(&prost::Message::encode_to_vec(&p)));
        }
    }
    // 4. The raw tiny checkpoint table mutated on its own.
    let raw = tiny.checkpoint_bytes().to_vec();
    let mut t4 = Tally::default();
    for i in 0..2000 {
        let focus = if i % 2 == 0 { 0..600 } else { raw.len() - 250..raw.len() };
        let mut d = mutate(&mut rng, &raw, focus);
        if d.len() == raw.len() {
            reseal(&mut d, &ths);
        }
        t4.add(fuzz_one(&d));
    }

    println!("small bundle, random mutations:   {t1:?}");
    println!("small bundle, resealed flips:      {t2:?}");
    println!("tiny bundle, mutations + reseals:  {t3:?}");
    println!("tiny raw checkpoint:               {t4:?}");
    println!("fuzz mutations took {:?}", start.elapsed());
    // The resealed runs must get past the CRC checks some of the time, or they test little.
    assert!(t2.checkpoint_ok > 0 && t2.checkpoint_ok < t2.runs);
    assert!(t3.checkpoint_ok > 0 && t3.checkpoint_ok < t3.runs);
    assert!(t4.raw_ok > 0 && t4.raw_ok < t4.runs);
}
