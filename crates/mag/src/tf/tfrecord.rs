//! TFRecord files and the `tf.train.SequenceExample`s Magenta trains on.
//!
//! A TFRecord is `u64 LE length`, `u32 LE masked CRC32C of those 8 bytes`, the data,
//! `u32 LE masked CRC32C of the data`. Magenta's `make_sequence_example` writes one
//! `SequenceExample` per record with `feature_lists.feature_list["inputs"]` (one
//! `FloatList` per step) and `["labels"]` (one `Int64List` per step), no context.

use std::io::{Read, Write};
use std::path::Path;

use prost::encoding::{encode_varint, encoded_len_varint};
use prost::Message;

use crate::error::{MagError, Result};
use crate::proto::{feature, SequenceExample};
use crate::tf::table::{masked_crc32c, unmask_crc};

/// Bytes of framing around each record's data.
pub const RECORD_OVERHEAD: usize = 16;

/// Append one framed record to `out`.
pub fn append_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(data.len() + RECORD_OVERHEAD);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// One framed record.
pub fn encode_record(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + RECORD_OVERHEAD);
    append_record(&mut out, data);
    out
}

/// Writes framed records to any `Write` (wrap a file in a `BufWriter`).
#[derive(Debug)]
pub struct TfRecordWriter<W: Write> {
    inner: W,
    records: u64,
}

impl<W: Write> TfRecordWriter<W> {
    pub fn new(inner: W) -> Self {
        TfRecordWriter { inner, records: 0 }
    }

    /// Write one record.
    pub fn write_record(&mut self, data: &[u8]) -> std::io::Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut head = [0u8; 12];
        head[..8].copy_from_slice(&len);
        head[8..].copy_from_slice(&masked_crc32c(&len).to_le_bytes());
        self.inner.write_all(&head)?;
        self.inner.write_all(data)?;
        self.inner.write_all(&masked_crc32c(data).to_le_bytes())?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// The underlying writer (not flushed).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Iterates over the records of an in-memory TFRecord file, verifying both CRCs of each.
/// After the first error it yields nothing more.
#[derive(Clone, Debug)]
pub struct TfRecordIter<'a> {
    data: &'a [u8],
    pos: usize,
    index: usize,
    done: bool,
}

/// Iterate over the records in `data`.
pub fn iter_records(data: &[u8]) -> TfRecordIter<'_> {
    TfRecordIter { data, pos: 0, index: 0, done: false }
}

/// All records in `data`, or the first error.
pub fn read_records(data: &[u8]) -> Result<Vec<&[u8]>> {
    iter_records(data).collect()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Iterator for TfRecordIter<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos == self.data.len() {
            return None;
        }
        let (index, start) = (self.index, self.pos);
        let fail = |this: &mut Self, msg: String| {
            this.done = true;
            Some(Err(MagError::tfrecord(format!("record {index} at byte {start}: {msg}"))))
        };
        let rest = &self.data[start..];
        if rest.len() < 12 {
            return fail(self, format!("truncated header ({} of 12 bytes)", rest.len()));
        }
        let len_bytes = &rest[..8];
        let stored = unmask_crc(u32_at(rest, 8));
        let actual = crc32c::crc32c(len_bytes);
        if stored != actual {
            return fail(self, "length CRC32C mismatch: the file is corrupt".to_string());
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let avail = (rest.len() - 12) as u64;
        if len > avail.saturating_sub(4) || avail < 4 {
            return fail(
                self,
                format!("record of {len} bytes runs past the end of the file ({} bytes left): truncated", avail),
            );
        }
        let len = len as usize;
        let payload = &rest[12..12 + len];
        let stored = unmask_crc(u32_at(rest, 12 + len));
        let actual = crc32c::crc32c(payload);
        if stored != actual {
            return fail(self, "data CRC32C mismatch: the file is corrupt".to_string());
        }
        self.pos = start + 12 + len + 4;
        self.index += 1;
        Some(Ok(payload))
    }
}

/// Reads framed records from any `Read`, verifying both CRCs of each.
#[derive(Debug)]
pub struct TfRecordReader<R: Read> {
    inner: R,
    index: usize,
    offset: u64,
}

impl<R: Read> TfRecordReader<R> {
    pub fn new(inner: R) -> Self {
        TfRecordReader { inner, index: 0, offset: 0 }
    }

    /// The next record, `Ok(None)` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        let (index, start) = (self.index, self.offset);
        let err = |msg: String| MagError::tfrecord(format!("record {index} at byte {start}: {msg}"));
        let mut head = [0u8; 12];
        let got = read_full(&mut self.inner, &mut head).map_err(|e| err(format!("read error: {e}")))?;
        if got == 0 {
            return Ok(None);
        }
        if got < 12 {
            return Err(err(format!("truncated header ({got} of 12 bytes)")));
        }
        if unmask_crc(u32_at(&head, 8)) != crc32c::crc32c(&head[..8]) {
            return Err(err("length CRC32C mismatch: the file is corrupt".to_string()));
        }
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        // The length is CRC-protected; still, grow the buffer as bytes arrive rather than
        // trusting it for one allocation.
        let mut data = Vec::with_capacity(len.min(1 << 20) as usize);
        let n = (&mut self.inner).take(len).read_to_end(&mut data).map_err(|e| err(format!("read error: {e}")))?;
        if (n as u64) < len {
            return Err(err(format!("record of {len} bytes truncated after {n} bytes")));
        }
        let mut tail = [0u8; 4];
        if read_full(&mut self.inner, &mut tail).map_err(|e| err(format!("read error: {e}")))? < 4 {
            return Err(err("truncated data CRC".to_string()));
        }
        if unmask_crc(u32::from_le_bytes(tail)) != crc32c::crc32c(&data) {
            return Err(err("data CRC32C mismatch: the file is corrupt".to_string()));
        }
        self.index += 1;
        self.offset += 16 + len;
        Ok(Some(data))
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read every record of a TFRecord file.
pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<Vec<u8>>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| MagError::io(path, e))?;
    let name = path.display().to_string();
    iter_records(&bytes).map(|r| r.map(|d| d.to_vec()).map_err(|e| e.with_file(&name))).collect()
}

// ------------------------------------------------------------------ SequenceExample

fn delimited_len(inner: usize) -> usize {
    1 + encoded_len_varint(inner as u64) + inner
}

fn float_feature_len(v: &[f32]) -> usize {
    let list = if v.is_empty() { 0 } else { delimited_len(4 * v.len()) };
    delimited_len(list) // Feature { float_list = 2 }
}

fn int64_payload_len(v: &[i64]) -> usize {
    v.iter().map(|&x| encoded_len_varint(x as u64)).sum()
}

fn int64_feature_len(v: &[i64]) -> usize {
    let list = if v.is_empty() { 0 } else { delimited_len(int64_payload_len(v)) };
    delimited_len(list) // Feature { int64_list = 3 }
}

fn map_entry_len(key: &str, value_len: usize) -> usize {
    delimited_len(key.len()) + if value_len == 0 { 0 } else { delimited_len(value_len) }
}

/// Encode Magenta's training `SequenceExample` (`make_sequence_example`, spec §2.8) into
/// `out`: `feature_lists.feature_list["inputs"]` with one `FloatList` per step and
/// `["labels"]` with one `Int64List` per step. Byte-identical to prost's encoding of
/// the same message (map keys in sorted order).
///
/// This writes by hand what [`SequenceExample`] would encode, on purpose: the dataset
/// writer's steps are borrowed slices, and the prost message would need every step copied
/// into an owned `Vec` (inside a `Feature`, a `FeatureList` and a map) before encoding.
/// Decoding ([`parse_performance_sequence_example`]) uses the prost message; the test
/// `direct_encoder_matches_prost` keeps the two byte-identical.
pub fn encode_performance_sequence_example_into<I: AsRef<[f32]>, L: AsRef<[i64]>>(
    out: &mut Vec<u8>,
    inputs: &[I],
    labels: &[L],
) {
    let inputs_fl: usize = inputs.iter().map(|v| delimited_len(float_feature_len(v.as_ref()))).sum();
    let labels_fl: usize = labels.iter().map(|v| delimited_len(int64_feature_len(v.as_ref()))).sum();
    let inputs_entry = map_entry_len("inputs", inputs_fl);
    let labels_entry = map_entry_len("labels", labels_fl);
    let lists_len = delimited_len(inputs_entry) + delimited_len(labels_entry);
    out.reserve(delimited_len(lists_len));

    out.push(0x12); // SequenceExample.feature_lists
    encode_varint(lists_len as u64, out);

    // entry "inputs"
    out.push(0x0a);
    encode_varint(inputs_entry as u64, out);
    out.push(0x0a);
    encode_varint(6, out);
    out.extend_from_slice(b"inputs");
    if inputs_fl > 0 {
        out.push(0x12);
        encode_varint(inputs_fl as u64, out);
        for v in inputs {
            let v = v.as_ref();
            out.push(0x0a); // FeatureList.feature
            encode_varint(float_feature_len(v) as u64, out);
            out.push(0x12); // Feature.float_list
            let list = if v.is_empty() { 0 } else { delimited_len(4 * v.len()) };
            encode_varint(list as u64, out);
            if !v.is_empty() {
                out.push(0x0a); // FloatList.value, packed
                encode_varint((4 * v.len()) as u64, out);
                for x in v {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
    }

    // entry "labels"
    out.push(0x0a);
    encode_varint(labels_entry as u64, out);
    out.push(0x0a);
    encode_varint(6, out);
    out.extend_from_slice(b"labels");
    if labels_fl > 0 {
        out.push(0x12);
        encode_varint(labels_fl as u64, out);
        for v in labels {
            let v = v.as_ref();
            out.push(0x0a);
            encode_varint(int64_feature_len(v) as u64, out);
            out.push(0x1a); // Feature.int64_list
            let list = if v.is_empty() { 0 } else { delimited_len(int64_payload_len(v)) };
            encode_varint(list as u64, out);
            if !v.is_empty() {
                out.push(0x0a); // Int64List.value, packed
                encode_varint(int64_payload_len(v) as u64, out);
                for &x in v {
                    encode_varint(x as u64, out);
                }
            }
        }
    }
}

/// [`encode_performance_sequence_example_into`] into a new buffer.
///
/// Magenta pairs `inputs[k]` (the encoding of event k) with `labels[k]` (the class of
/// event k+1), so both slices normally have the same length; they are written as given.
pub fn performance_sequence_example<I: AsRef<[f32]>, L: AsRef<[i64]>>(inputs: &[I], labels: &[L]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_performance_sequence_example_into(&mut out, inputs, labels);
    out
}

/// Decoded `inputs` and `labels` of a Magenta training example.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerformanceExample {
    pub inputs: Vec<Vec<f32>>,
    pub labels: Vec<Vec<i64>>,
}

/// Decode a `SequenceExample` written by Magenta or [`performance_sequence_example`].
pub fn parse_performance_sequence_example(bytes: &[u8]) -> Result<PerformanceExample> {
    let ex = SequenceExample::decode(bytes).map_err(|e| MagError::example(format!("protobuf decoding failed: {e}")))?;
    let lists = ex.feature_lists.ok_or_else(|| MagError::example("no feature_lists"))?.feature_list;
    let mut out = PerformanceExample::default();
    if let Some(fl) = lists.get("inputs") {
        for (i, f) in fl.feature.iter().enumerate() {
            match &f.kind {
                Some(feature::Kind::FloatList(l)) => out.inputs.push(l.value.clone()),
                _ => return Err(MagError::example(format!("feature_list['inputs'][{i}] is not a FloatList"))),
            }
        }
    } else {
        return Err(MagError::example("no feature_list['inputs']"));
    }
    if let Some(fl) = lists.get("labels") {
        for (i, f) in fl.feature.iter().enumerate() {
            match &f.kind {
                Some(feature::Kind::Int64List(l)) => out.labels.push(l.value.clone()),
                _ => return Err(MagError::example(format!("feature_list['labels'][{i}] is not an Int64List"))),
            }
        }
    } else {
        return Err(MagError::example("no feature_list['labels']"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Feature, FeatureList, FeatureLists, FloatList, Int64List};

    fn prost_version(inputs: &[Vec<f32>], labels: &[Vec<i64>]) -> Vec<u8> {
        let mut map = std::collections::BTreeMap::new();
        map.insert(
            "inputs".to_string(),
            FeatureList {
                feature: inputs
                    .iter()
                    .map(|v| Feature { kind: Some(feature::Kind::FloatList(FloatList { value: v.clone() })) })
                    .collect(),
            },
        );
        map.insert(
            "labels".to_string(),
            FeatureList {
                feature: labels
                    .iter()
                    .map(|v| Feature { kind: Some(feature::Kind::Int64List(Int64List { value: v.clone() })) })
                    .collect(),
            },
        );
        SequenceExample { context: None, feature_lists: Some(FeatureLists { feature_list: map }) }.encode_to_vec()
    }

    #[test]
    fn direct_encoder_matches_prost() {
        let inputs = vec![vec![0.0, 1.0, 0.5], vec![], vec![-2.0; 388]];
        let labels = vec![vec![3], vec![], vec![-1, 1 << 40, 0, 5, 6, 7]];
        assert_eq!(performance_sequence_example(&inputs, &labels), prost_version(&inputs, &labels));
        let empty: Vec<Vec<f32>> = vec![];
        let empty_l: Vec<Vec<i64>> = vec![];
        assert_eq!(performance_sequence_example(&empty, &empty_l), prost_version(&empty, &empty_l));
        let back = parse_performance_sequence_example(&performance_sequence_example(&inputs, &labels)).unwrap();
        assert_eq!(back.inputs, inputs);
        assert_eq!(back.labels, labels);
    }

    #[test]
    fn reader_streams() {
        let mut buf = Vec::new();
        {
            let mut w = TfRecordWriter::new(&mut buf);
            w.write_record(b"abc").unwrap();
            w.write_record(b"").unwrap();
        }
        let mut r = TfRecordReader::new(&buf[..]);
        assert_eq!(r.next_record().unwrap().unwrap(), b"abc");
        assert_eq!(r.next_record().unwrap().unwrap(), b"");
        assert!(r.next_record().unwrap().is_none());
        let mut r = TfRecordReader::new(&buf[..buf.len() - 1]);
        assert!(r.next_record().is_ok());
        assert!(r.next_record().is_err());
    }
}
