//! The LevelDB-style "table" (SSTable) format that TensorFlow uses for V1 checkpoints
//! and for V2 `.index` files (`tensorflow/core/lib/io/table_builder.cc`, `format.cc`,
//! `block_builder.cc`).
//!
//! File layout: data blocks, an (empty) metaindex block, the index block, then a
//! 48-byte footer. Every block is followed by a 5-byte trailer: a compression-type
//! byte (always 0 here) and the masked CRC32C of the block contents plus that byte.
//!
//! The reader checks every length and offset against the file before using it and
//! verifies every block's CRC, so a truncated or corrupt file gives an error, never a
//! panic or an allocation larger than the input.

use crate::error::{MagError, Result};

/// The table magic number, stored as the last 8 bytes of the file (little-endian).
pub const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;
/// Size of the footer: two block handles padded to 40 bytes, then the magic.
pub const FOOTER_LEN: usize = 48;
/// Size of a block trailer: compression type byte + masked CRC32C.
pub const BLOCK_TRAILER_LEN: usize = 5;
/// TensorFlow's default data block size target (256 KiB).
pub const DEFAULT_BLOCK_SIZE: usize = 262_144;
/// Restart interval of data blocks.
pub const DATA_RESTART_INTERVAL: usize = 16;
/// Restart interval of the index block.
pub const INDEX_RESTART_INTERVAL: usize = 1;

const CRC_MASK_DELTA: u32 = 0xa282_ead8;

/// LevelDB/TensorFlow CRC mask: rotate right by 15 and add a constant.
pub fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(CRC_MASK_DELTA)
}

/// Inverse of [`mask_crc`].
pub fn unmask_crc(masked: u32) -> u32 {
    masked.wrapping_sub(CRC_MASK_DELTA).rotate_left(15)
}

/// Masked CRC32C of `data`.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    mask_crc(crc32c::crc32c(data))
}

// ------------------------------------------------------------------------ varints

pub(crate) fn put_varint64(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn put_varint32(buf: &mut Vec<u8>, v: u32) {
    put_varint64(buf, v as u64)
}

/// Decode a varint64 at `*pos`, advancing it. `None` when truncated or over-long.
pub(crate) fn get_varint64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut result: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 63 && b > 1 {
            return None;
        }
        result |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(result);
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Decode a varint32 at `*pos`, advancing it. `None` when truncated or over-long.
pub(crate) fn get_varint32(buf: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift == 28 && b > 0x0f {
            return None;
        }
        result |= ((b & 0x7f) as u32) << shift;
        if b < 0x80 {
            return Some(result);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

fn read_u32_le(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

// ------------------------------------------------------------------- block handle

/// Where a block lives in the file: offset and size of its contents (trailer excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    /// Append `varint64 offset, varint64 size`.
    pub fn encode_to(&self, buf: &mut Vec<u8>) {
        put_varint64(buf, self.offset);
        put_varint64(buf, self.size);
    }

    /// Decode a handle at `*pos`, advancing it.
    pub fn decode_from(buf: &[u8], pos: &mut usize) -> Option<BlockHandle> {
        let offset = get_varint64(buf, pos)?;
        let size = get_varint64(buf, pos)?;
        Some(BlockHandle { offset, size })
    }
}

// -------------------------------------------------------------------------- reader

/// One key/value entry of a table. The value borrows from the file bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: Vec<u8>,
    pub value: &'a [u8],
}

/// An opened table: footer and index parsed and checked; data blocks read on demand.
#[derive(Clone, Debug)]
pub struct Table<'a> {
    data: &'a [u8],
    /// Offset of the footer (= end of the last block trailer).
    footer_start: usize,
    metaindex: BlockHandle,
    index_handle: BlockHandle,
    index: Vec<(Vec<u8>, BlockHandle)>,
}

fn describe_key(key: &[u8]) -> String {
    let mut s = String::new();
    for &b in key.iter().take(96) {
        if b.is_ascii_graphic() || b == b' ' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if key.len() > 96 {
        s.push('…');
    }
    s
}

impl<'a> Table<'a> {
    /// Parse and check the footer, the metaindex block and the index block.
    pub fn open(data: &'a [u8]) -> Result<Table<'a>> {
        if data.len() < FOOTER_LEN {
            return Err(MagError::table(format!(
                "file is {} bytes, too short to hold the {FOOTER_LEN}-byte table footer (truncated?)",
                data.len()
            )));
        }
        let footer_start = data.len() - FOOTER_LEN;
        let footer = &data[footer_start..];
        let magic = u64::from_le_bytes(footer[40..48].try_into().expect("8 bytes"));
        if magic != TABLE_MAGIC {
            return Err(MagError::table(format!(
                "bad table magic number 0x{magic:016x} in the last 8 bytes (expected 0x{TABLE_MAGIC:016x}): \
                 not a TensorFlow checkpoint table, or the file is truncated"
            )));
        }
        let mut pos = 0;
        let metaindex = BlockHandle::decode_from(&footer[..40], &mut pos).ok_or_else(|| {
            MagError::table(format!("footer at offset {footer_start}: unreadable metaindex block handle"))
        })?;
        let index_handle = BlockHandle::decode_from(&footer[..40], &mut pos).ok_or_else(|| {
            MagError::table(format!("footer at offset {footer_start}: unreadable index block handle"))
        })?;
        let mut table = Table { data, footer_start, metaindex, index_handle, index: Vec::new() };
        // The metaindex block is always empty in TF files; check its CRC anyway.
        table.block_contents(metaindex, "metaindex")?;
        let index_contents = table.block_contents(index_handle, "index")?;
        let entries = parse_block(index_contents, index_handle.offset, "index")?;
        let mut index = Vec::with_capacity(entries.len());
        for e in entries {
            let mut p = 0;
            let handle = BlockHandle::decode_from(e.value, &mut p).ok_or_else(|| {
                MagError::table(format!(
                    "index block at offset {}: entry '{}' holds an unreadable block handle",
                    index_handle.offset,
                    describe_key(&e.key)
                ))
            })?;
            table.check_handle(handle, "data")?;
            index.push((e.key, handle));
        }
        table.index = index;
        Ok(table)
    }

    /// The metaindex block's handle.
    pub fn metaindex_handle(&self) -> BlockHandle {
        self.metaindex
    }

    /// The index block's handle.
    pub fn index_handle(&self) -> BlockHandle {
        self.index_handle
    }

    /// The index: one `(separator key, data block handle)` per data block, in order.
    pub fn index(&self) -> &[(Vec<u8>, BlockHandle)] {
        &self.index
    }

    fn check_handle(&self, h: BlockHandle, what: &str) -> Result<(usize, usize)> {
        let end = h.offset.checked_add(h.size).and_then(|e| e.checked_add(BLOCK_TRAILER_LEN as u64));
        match end {
            Some(end) if end <= self.footer_start as u64 => Ok((h.offset as usize, h.size as usize)),
            _ => Err(MagError::table(format!(
                "{what} block at offset {} (size {}) extends past the end of the block area ({} bytes): \
                 file truncated or block handle corrupt",
                h.offset, h.size, self.footer_start
            ))),
        }
    }

    /// The contents of a block, after checking bounds, compression type and CRC.
    pub fn block_contents(&self, h: BlockHandle, what: &str) -> Result<&'a [u8]> {
        let (off, size) = self.check_handle(h, what)?;
        let contents = &self.data[off..off + size];
        let ty = self.data[off + size];
        let stored = read_u32_le(self.data, off + size + 1).expect("bounds checked");
        let actual = crc32c::crc32c_append(crc32c::crc32c(contents), &[ty]);
        if unmask_crc(stored) != actual {
            return Err(MagError::table(format!(
                "{what} block at offset {off} (size {size}): CRC32C mismatch (stored 0x{:08x}, computed 0x{actual:08x}): \
                 the file is corrupt",
                unmask_crc(stored)
            )));
        }
        match ty {
            0 => Ok(contents),
            1 => Err(MagError::table(format!(
                "{what} block at offset {off}: Snappy-compressed blocks are not supported \
                 (TensorFlow's checkpoint writers never compress)"
            ))),
            t => Err(MagError::table(format!("{what} block at offset {off}: unknown compression type {t}"))),
        }
    }

    /// Every entry of every data block, in key order. Checks each block's CRC, that keys
    /// strictly increase, and that every key is covered by its index entry.
    pub fn entries(&self) -> Result<Vec<Entry<'a>>> {
        let mut out: Vec<Entry<'a>> = Vec::new();
        let mut prev_sep: Option<&[u8]> = None;
        for (sep, h) in &self.index {
            if let Some(p) = prev_sep {
                if p >= sep.as_slice() {
                    return Err(MagError::table(format!(
                        "index block at offset {}: keys out of order at '{}'",
                        self.index_handle.offset,
                        describe_key(sep)
                    )));
                }
            }
            prev_sep = Some(sep);
            let contents = self.block_contents(*h, "data")?;
            let entries = parse_block(contents, h.offset, "data")?;
            for e in entries {
                if let Some(last) = out.last() {
                    if e.key <= last.key {
                        return Err(MagError::table(format!(
                            "data block at offset {}: key '{}' is not greater than the previous key '{}'",
                            h.offset,
                            describe_key(&e.key),
                            describe_key(&last.key)
                        )));
                    }
                }
                if e.key.as_slice() > sep.as_slice() {
                    return Err(MagError::table(format!(
                        "data block at offset {}: key '{}' is beyond the block's index key '{}'",
                        h.offset,
                        describe_key(&e.key),
                        describe_key(sep)
                    )));
                }
                out.push(e);
            }
        }
        Ok(out)
    }
}

/// Parse the entries of one block's contents. `offset` and `what` only feed error messages.
///
/// Checks the restart array (count, bounds, ordering, and that each restart point is an
/// entry with no shared key prefix) and every entry's lengths.
pub fn parse_block<'a>(contents: &'a [u8], offset: u64, what: &str) -> Result<Vec<Entry<'a>>> {
    let err = |msg: String| MagError::table(format!("{what} block at offset {offset}: {msg}"));
    if contents.len() < 4 {
        return Err(err(format!(
            "{} bytes is too short for a block (needs at least the 4-byte restart count)",
            contents.len()
        )));
    }
    let num_restarts = read_u32_le(contents, contents.len() - 4).expect("len >= 4") as u64;
    let max_restarts = (contents.len() as u64 - 4) / 4;
    if num_restarts > max_restarts {
        return Err(err(format!("restart count {num_restarts} does not fit in a block of {} bytes", contents.len())));
    }
    let entries_end = contents.len() - 4 - 4 * num_restarts as usize;
    let mut restarts = Vec::with_capacity(num_restarts as usize);
    for i in 0..num_restarts as usize {
        let r = read_u32_le(contents, entries_end + 4 * i).expect("bounds checked") as usize;
        if let Some(&prev) = restarts.last() {
            if r <= prev {
                return Err(err(format!("restart offsets not increasing ({prev} then {r})")));
            }
        }
        if r >= entries_end && !(r == 0 && entries_end == 0) {
            return Err(err(format!("restart offset {r} is outside the {entries_end} bytes of entries")));
        }
        restarts.push(r);
    }
    if entries_end > 0 && restarts.first() != Some(&0) {
        return Err(err("the first restart point is not at offset 0".to_string()));
    }

    let mut out = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0usize;
    let mut next_restart = 0usize;
    while pos < entries_end {
        let start = pos;
        let region = &contents[..entries_end];
        let bad = |field: &str| err(format!("entry at block offset {start}: unreadable {field}"));
        let shared = get_varint32(region, &mut pos).ok_or_else(|| bad("shared-prefix length"))? as usize;
        let non_shared = get_varint32(region, &mut pos).ok_or_else(|| bad("key length"))? as usize;
        let value_len = get_varint32(region, &mut pos).ok_or_else(|| bad("value length"))? as usize;
        if shared > key.len() {
            return Err(err(format!(
                "entry at block offset {start}: shares {shared} key bytes but the previous key has {}",
                key.len()
            )));
        }
        let key_end = pos.checked_add(non_shared).filter(|&e| e <= entries_end).ok_or_else(|| {
            err(format!("entry at block offset {start}: key of {non_shared} bytes runs past the entries"))
        })?;
        let value_end = key_end.checked_add(value_len).filter(|&e| e <= entries_end).ok_or_else(|| {
            err(format!("entry at block offset {start}: value of {value_len} bytes runs past the entries"))
        })?;
        if next_restart < restarts.len() && restarts[next_restart] == start {
            if shared != 0 {
                return Err(err(format!("entry at restart point {start} shares {shared} key bytes (must be 0)")));
            }
            next_restart += 1;
        } else if next_restart < restarts.len() && restarts[next_restart] < start {
            return Err(err(format!("restart offset {} is not the start of an entry", restarts[next_restart])));
        }
        key.truncate(shared);
        key.extend_from_slice(&contents[pos..key_end]);
        out.push(Entry { key: key.clone(), value: &contents[key_end..value_end] });
        pos = value_end;
    }
    if entries_end > 0 && next_restart != restarts.len() {
        return Err(err(format!("restart offset {} is not the start of an entry", restarts[next_restart])));
    }
    Ok(out)
}

// -------------------------------------------------------------------------- writer

/// Builds one block: prefix-compressed entries, restart array, restart count.
#[derive(Clone, Debug)]
struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    counter: usize,
    interval: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    fn new(interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            counter: 0,
            interval: interval.max(1),
            last_key: Vec::new(),
            entries: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.counter < self.interval {
            key.iter().zip(self.last_key.iter()).take_while(|(a, b)| a == b).count()
        } else {
            self.restarts.push(self.buf.len() as u32);
            self.counter = 0;
            0
        };
        put_varint32(&mut self.buf, shared as u32);
        put_varint32(&mut self.buf, (key.len() - shared) as u32);
        put_varint32(&mut self.buf, value.len() as u32);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.counter += 1;
        self.entries += 1;
    }

    fn size_estimate(&self) -> usize {
        self.buf.len() + self.restarts.len() * 4 + 4
    }

    /// Append the finished block to `out` and reset.
    fn finish_into(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf);
        for r in &self.restarts {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(self.restarts.len() as u32).to_le_bytes());
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.last_key.clear();
        self.entries = 0;
    }
}

/// Append a finished block and its trailer (type 0, masked CRC32C) to `out`.
fn write_block(out: &mut Vec<u8>, block: &mut BlockBuilder) -> BlockHandle {
    let offset = out.len();
    block.finish_into(out);
    let size = out.len() - offset;
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[offset..]), &[0u8]);
    out.push(0);
    out.extend_from_slice(&mask_crc(crc).to_le_bytes());
    BlockHandle { offset: offset as u64, size: size as u64 }
}

/// Shorten `start` to a key that is ≥ `start` and < `limit` (TensorFlow's
/// `FindShortestSeparator`).
fn find_shortest_separator(start: &mut Vec<u8>, limit: &[u8]) {
    let min_len = start.len().min(limit.len());
    let diff = start.iter().zip(limit.iter()).take_while(|(a, b)| a == b).count();
    if diff >= min_len {
        return; // one is a prefix of the other
    }
    let b = start[diff];
    if b < 0xff && b + 1 < limit[diff] {
        start[diff] += 1;
        start.truncate(diff + 1);
    }
}

/// Shorten `key` to a short key ≥ it (TensorFlow's `FindShortSuccessor`).
fn find_short_successor(key: &mut Vec<u8>) {
    if let Some(i) = key.iter().position(|&b| b != 0xff) {
        key[i] += 1;
        key.truncate(i + 1);
    }
}

/// Writes a table the way TensorFlow's `TableBuilder` does (no compression): data
/// blocks with restart interval 16, flushed when their size estimate reaches the block
/// size target and *before* an entry of at least twice the target; an empty
/// metaindex block; an index block with restart interval 1 keyed by shortest
/// separators; the 48-byte footer.
#[derive(Clone, Debug)]
pub struct TableBuilder {
    out: Vec<u8>,
    block_size: usize,
    data_block: BlockBuilder,
    index_block: BlockBuilder,
    last_key: Vec<u8>,
    num_entries: u64,
    pending_handle: Option<BlockHandle>,
}

impl Default for TableBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TableBuilder {
    /// A builder with TensorFlow's default 256 KiB block size.
    pub fn new() -> Self {
        Self::with_block_size(DEFAULT_BLOCK_SIZE)
    }

    /// A builder with a custom block size target (tests use small ones).
    pub fn with_block_size(block_size: usize) -> Self {
        TableBuilder {
            out: Vec::new(),
            block_size: block_size.max(1),
            data_block: BlockBuilder::new(DATA_RESTART_INTERVAL),
            index_block: BlockBuilder::new(INDEX_RESTART_INTERVAL),
            last_key: Vec::new(),
            num_entries: 0,
            pending_handle: None,
        }
    }

    /// Reserve room for `additional` more output bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.out.reserve(additional);
    }

    /// Number of entries added so far.
    pub fn num_entries(&self) -> u64 {
        self.num_entries
    }

    /// Add an entry. Keys must strictly increase; keys and values must each fit in a
    /// varint32 length (< 4 GiB).
    pub fn add(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.len() > u32::MAX as usize || value.len() > u32::MAX as usize {
            return Err(MagError::table(format!(
                "cannot write entry '{}': key or value longer than 4 GiB",
                describe_key(key)
            )));
        }
        if self.num_entries > 0 {
            if key <= self.last_key.as_slice() {
                return Err(MagError::table(format!(
                    "cannot write entry '{}': keys must be added in strictly increasing order (previous '{}')",
                    describe_key(key),
                    describe_key(&self.last_key)
                )));
            }
            // An overly large entry goes into a block of its own.
            if key.len() + value.len() >= 2 * self.block_size {
                self.flush();
            }
        }
        if let Some(handle) = self.pending_handle.take() {
            find_shortest_separator(&mut self.last_key, key);
            let mut enc = Vec::with_capacity(20);
            handle.encode_to(&mut enc);
            self.index_block.add(&self.last_key, &enc);
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.num_entries += 1;
        self.data_block.add(key, value);
        if self.data_block.size_estimate() >= self.block_size {
            self.flush();
        }
        Ok(())
    }

    /// End the current data block (no-op when it is empty).
    pub fn flush(&mut self) {
        if self.data_block.is_empty() {
            return;
        }
        let handle = write_block(&mut self.out, &mut self.data_block);
        self.pending_handle = Some(handle);
    }

    /// Write the remaining blocks and the footer; return the whole file.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush();
        let mut meta = BlockBuilder::new(DATA_RESTART_INTERVAL);
        let metaindex = write_block(&mut self.out, &mut meta);
        if let Some(handle) = self.pending_handle.take() {
            find_short_successor(&mut self.last_key);
            let mut enc = Vec::with_capacity(20);
            handle.encode_to(&mut enc);
            self.index_block.add(&self.last_key, &enc);
        }
        let index_handle = write_block(&mut self.out, &mut self.index_block);
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        metaindex.encode_to(&mut footer);
        index_handle.encode_to(&mut footer);
        footer.resize(40, 0);
        footer.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
        self.out.extend_from_slice(&footer);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_mask_roundtrip() {
        for v in [0u32, 1, 0xdeadbeef, u32::MAX] {
            assert_eq!(unmask_crc(mask_crc(v)), v);
        }
    }

    #[test]
    fn varints() {
        let mut b = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            b.clear();
            put_varint64(&mut b, v);
            let mut p = 0;
            assert_eq!(get_varint64(&b, &mut p), Some(v));
            assert_eq!(p, b.len());
        }
        let mut p = 0;
        assert_eq!(get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x1f], &mut p), None);
        let mut p = 0;
        assert_eq!(get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x0f], &mut p), Some(u32::MAX));
        let mut p = 0;
        assert_eq!(get_varint64(&[0x80, 0x80], &mut p), None);
    }

    #[test]
    fn empty_metaindex_bytes() {
        let mut b = BlockBuilder::new(16);
        let mut out = Vec::new();
        b.finish_into(&mut out);
        assert_eq!(out, [0, 0, 0, 0, 1, 0, 0, 0]);
    }

    #[test]
    fn separators() {
        let mut s = b"\x00fully_connected/biases".to_vec();
        find_shortest_separator(&mut s, b"\x00fully_connected/weights");
        assert_eq!(s, b"\x00fully_connected/c");
        let mut s = b"abc".to_vec();
        find_shortest_separator(&mut s, b"abd");
        assert_eq!(s, b"abc");
        let mut s = b"\x00rnn".to_vec();
        find_short_successor(&mut s);
        assert_eq!(s, b"\x01");
    }

    #[test]
    fn roundtrip_many_blocks() {
        let mut tb = TableBuilder::with_block_size(64);
        let mut expect = Vec::new();
        for i in 0..500u32 {
            let k = format!("key{:05}", i * 7).into_bytes();
            let v = vec![(i % 251) as u8; (i % 40) as usize];
            tb.add(&k, &v).unwrap();
            expect.push((k, v));
        }
        let bytes = tb.finish();
        let t = Table::open(&bytes).unwrap();
        assert!(t.index().len() > 10);
        let got = t.entries().unwrap();
        assert_eq!(got.len(), expect.len());
        for (g, (k, v)) in got.iter().zip(&expect) {
            assert_eq!(&g.key, k);
            assert_eq!(g.value, v.as_slice());
        }
    }

    #[test]
    fn order_enforced() {
        let mut tb = TableBuilder::new();
        tb.add(b"b", b"1").unwrap();
        assert!(tb.add(b"a", b"2").is_err());
        assert!(tb.add(b"b", b"2").is_err());
    }

    #[test]
    fn empty_table() {
        let bytes = TableBuilder::new().finish();
        let t = Table::open(&bytes).unwrap();
        assert!(t.entries().unwrap().is_empty());
    }
}
