//! The example store: one file per split, memory-mapped for training.
//!
//! Layout (little-endian):
//! ```text
//! "CDZEXMP1" | u32 header_len | header JSON | pad to 8
//! records: count × 32 bytes (token offset u64, token count u32, source u32, segment u32,
//!          qpm f32 (NaN = unknown), stretch f32, transpose i8, key u8 (255 = unknown),
//!          flags u8 (bit 0: conditioning disabled), pad u8)
//! tokens:  u16 each
//! footer:  u32 CRC32C of everything before it | u32 0 | "CDZFOOT1"
//! ```
//! Hand-written rather than a serialisation crate because training wants zero-copy access
//! to token slices of a file that may be larger than memory, and a checksum that catches a
//! half-copied or corrupted dataset before hours of training are spent on it.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;
use thiserror::Error;

const MAGIC: &[u8; 8] = b"CDZEXMP1";
const FOOTER_MAGIC: &[u8; 8] = b"CDZFOOT1";
const RECORD: usize = 32;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: not a Cadenza example store ({msg})")]
    Format { file: String, msg: String },
    #[error("{file}: checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is corrupt or was cut short")]
    Checksum { file: String, stored: u32, computed: u32 },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoreHeader {
    pub config: String,
    pub token_width: usize,
    pub count: usize,
    pub total_tokens: u64,
}

/// Per-example facts kept beside the tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExampleMeta {
    pub source: u32,
    pub segment: u32,
    pub qpm: Option<f32>,
    pub stretch: f32,
    pub transpose: i8,
    /// Tonic + 12·minor, when the source declared a key.
    pub key: Option<u8>,
    pub disable_conditioning: bool,
}

pub struct StoreWriter {
    records: Vec<u8>,
    tokens: Vec<u8>,
    count: usize,
    total_tokens: u64,
}

impl StoreWriter {
    pub fn new() -> Self {
        StoreWriter { records: Vec::new(), tokens: Vec::new(), count: 0, total_tokens: 0 }
    }

    pub fn push(&mut self, tokens: &[u16], meta: &ExampleMeta) {
        let mut r = [0u8; RECORD];
        r[0..8].copy_from_slice(&self.total_tokens.to_le_bytes());
        r[8..12].copy_from_slice(&(tokens.len() as u32).to_le_bytes());
        r[12..16].copy_from_slice(&meta.source.to_le_bytes());
        r[16..20].copy_from_slice(&meta.segment.to_le_bytes());
        r[20..24].copy_from_slice(&meta.qpm.unwrap_or(f32::NAN).to_le_bytes());
        r[24..28].copy_from_slice(&meta.stretch.to_le_bytes());
        r[28] = meta.transpose as u8;
        r[29] = meta.key.unwrap_or(255);
        r[30] = meta.disable_conditioning as u8;
        self.records.extend_from_slice(&r);
        for t in tokens {
            self.tokens.extend_from_slice(&t.to_le_bytes());
        }
        self.count += 1;
        self.total_tokens += tokens.len() as u64;
    }

    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Serialises the store. Callers write it to a temporary folder that is renamed into
    /// place once complete.
    pub fn write(&self, path: &Path, config: &str, token_width: usize) -> Result<(), StoreError> {
        let file = path.display().to_string();
        let io = |source| StoreError::Io { file: file.clone(), source: cadenza_atomic::say_disk_full(source) };
        let header =
            StoreHeader { config: config.to_string(), token_width, count: self.count, total_tokens: self.total_tokens };
        let hjson = serde_json::to_vec(&header).expect("header serialises");
        let mut buf = Vec::with_capacity(32 + hjson.len() + self.records.len() + self.tokens.len() + 16);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(hjson.len() as u32).to_le_bytes());
        buf.extend_from_slice(&hjson);
        while buf.len() % 8 != 0 {
            buf.push(0);
        }
        buf.extend_from_slice(&self.records);
        buf.extend_from_slice(&self.tokens);
        let crc = crc32c::crc32c(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(FOOTER_MAGIC);
        let mut f = std::fs::File::create(path).map_err(io)?;
        f.write_all(&buf).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }
}

impl Default for StoreWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// A read-only, memory-mapped store, checked on open.
pub struct ExampleStore {
    map: memmap2::Mmap,
    header: StoreHeader,
    records_at: usize,
    tokens_at: usize,
}

impl ExampleStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let file = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|source| StoreError::Io { file: file.clone(), source })?;
        // SAFETY: the file is opened read-only and Cadenza never writes a store in place
        // (stores are built in a temp folder and renamed), so the mapping cannot change
        // under us unless another program rewrites the file, which the CRC check on open
        // and bounds checks on every access turn into errors rather than UB in our code.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|source| StoreError::Io { file: file.clone(), source })?;
        let fmt = |msg: &str| StoreError::Format { file: file.clone(), msg: msg.to_string() };
        if map.len() < 8 + 4 + 16 || &map[..8] != MAGIC {
            return Err(fmt("bad magic"));
        }
        let n = map.len();
        if &map[n - 8..] != FOOTER_MAGIC {
            return Err(fmt("missing footer: the file was cut short"));
        }
        let stored = u32::from_le_bytes(map[n - 16..n - 12].try_into().unwrap());
        let computed = crc32c::crc32c(&map[..n - 16]);
        if stored != computed {
            return Err(StoreError::Checksum { file, stored, computed });
        }
        let hlen = u32::from_le_bytes(map[8..12].try_into().unwrap()) as usize;
        let hend =
            12usize.checked_add(hlen).filter(|&e| e <= n - 16).ok_or_else(|| fmt("header length out of range"))?;
        let header: StoreHeader =
            serde_json::from_slice(&map[12..hend]).map_err(|e| fmt(&format!("bad header: {e}")))?;
        let records_at = hend.div_ceil(8) * 8;
        let tokens_at = header
            .count
            .checked_mul(RECORD)
            .and_then(|r| r.checked_add(records_at))
            .ok_or_else(|| fmt("count overflows"))?;
        let end = (header.total_tokens as usize).checked_mul(2).and_then(|t| t.checked_add(tokens_at));
        if end != Some(n - 16) {
            return Err(fmt("sizes in the header do not match the file length"));
        }
        let store = ExampleStore { map, header, records_at, tokens_at };
        for i in 0..store.len() {
            let (off, len) = store.span(i);
            if off.checked_add(len).is_none_or(|e| e > store.header.total_tokens as usize) {
                return Err(fmt(&format!("example {i} points outside the token section")));
            }
        }
        Ok(store)
    }

    pub fn header(&self) -> &StoreHeader {
        &self.header
    }
    pub fn len(&self) -> usize {
        self.header.count
    }
    pub fn is_empty(&self) -> bool {
        self.header.count == 0
    }

    fn record(&self, i: usize) -> &[u8] {
        &self.map[self.records_at + i * RECORD..self.records_at + (i + 1) * RECORD]
    }

    fn span(&self, i: usize) -> (usize, usize) {
        let r = self.record(i);
        (
            u64::from_le_bytes(r[0..8].try_into().unwrap()) as usize,
            u32::from_le_bytes(r[8..12].try_into().unwrap()) as usize,
        )
    }

    /// Number of tokens of example `i`.
    pub fn tokens_len(&self, i: usize) -> usize {
        self.span(i).1
    }

    pub fn tokens(&self, i: usize) -> Vec<u16> {
        let (off, len) = self.span(i);
        let b = &self.map[self.tokens_at + off * 2..self.tokens_at + (off + len) * 2];
        b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()
    }

    pub fn meta(&self, i: usize) -> ExampleMeta {
        let r = self.record(i);
        let qpm = f32::from_le_bytes(r[20..24].try_into().unwrap());
        ExampleMeta {
            source: u32::from_le_bytes(r[12..16].try_into().unwrap()),
            segment: u32::from_le_bytes(r[16..20].try_into().unwrap()),
            qpm: if qpm.is_nan() { None } else { Some(qpm) },
            stretch: f32::from_le_bytes(r[24..28].try_into().unwrap()),
            transpose: r[28] as i8,
            key: if r[29] == 255 { None } else { Some(r[29]) },
            disable_conditioning: r[30] & 1 == 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(i: u32) -> ExampleMeta {
        ExampleMeta {
            source: i,
            segment: i * 2,
            qpm: if i.is_multiple_of(2) { Some(96.0) } else { None },
            stretch: 1.025,
            transpose: -3,
            key: Some(14),
            disable_conditioning: i == 1,
        }
    }

    #[test]
    fn round_trip_and_corruption_detected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.examples");
        let mut w = StoreWriter::new();
        w.push(&[1, 2, 3], &meta(0));
        w.push(&[387, 355, 0, 65535], &meta(1));
        w.write(&p, "performance_with_dynamics", 1).unwrap();
        let s = ExampleStore::open(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.tokens(1), vec![387, 355, 0, 65535]);
        assert_eq!(s.meta(0), meta(0));
        assert_eq!(s.meta(1), meta(1));
        drop(s);

        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(ExampleStore::open(&p), Err(StoreError::Checksum { .. })));
        bytes[mid] ^= 0x40;
        std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
        let e = ExampleStore::open(&p).err().unwrap().to_string();
        assert!(e.contains("cut short"), "{e}");
    }
}
