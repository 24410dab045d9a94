//! TensorFlow checkpoints: V1 tensor-slice tables (what `.mag` bundles hold) and V2
//! `.index` + `.data` pairs (what Magenta training runs write).
//!
//! Only `DT_FLOAT` tensors are supported as data; anything else is a clear error naming
//! the tensor (V1) or is listed in [`V2Checkpoint::other`] (V2, where `global_step` is
//! always an int64).

use std::collections::HashMap;

use prost::Message;

use crate::error::{MagError, Result};
use crate::proto::{
    BundleEntryProto, BundleHeaderProto, SavedSlice, SavedSliceMeta, SavedTensorSliceMeta, SavedTensorSlices,
    TensorProto, TensorShapeProto, TensorSliceProto, VersionDef,
};
use crate::tf::ordered_code::{decode_tensor_name_slice, encode_full_slice_key};
use crate::tf::table::{masked_crc32c, unmask_crc, Table, TableBuilder};

/// The `tensorflow.DataType` values and names, defined with the protos in [`crate::proto`].
pub use crate::proto::{dtype_name, DT_FLOAT, DT_INT64};

/// `TF_CHECKPOINT_VERSION`, written as `versions.producer`.
pub const TF_CHECKPOINT_VERSION: i32 = 1;
/// Largest single slice TensorFlow will write or read (`kMaxMessageBytes`).
pub const MAX_SLICE_BYTES: usize = 1 << 31;

/// One float32 variable: name, shape, row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Number of elements of a shape, `None` on overflow.
pub fn shape_elements(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// A tensor, checking that `data.len()` equals the product of `shape`.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Result<Tensor> {
        let t = Tensor { name: name.into(), shape, data };
        t.validate()?;
        Ok(t)
    }

    /// Check name and data length.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(MagError::checkpoint("a tensor has an empty name"));
        }
        match shape_elements(&self.shape) {
            Some(n) if n == self.data.len() => Ok(()),
            Some(n) => Err(MagError::tensor_err(
                &self.name,
                format!("has {} values but shape {:?} needs {n}", self.data.len(), self.shape),
            )),
            None => Err(MagError::tensor_err(&self.name, format!("shape {:?} has too many elements", self.shape))),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The values as float32 little-endian bytes.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() * 4);
        for v in &self.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Same name, shape and bit-identical values (NaN payloads included).
    pub fn bitwise_eq(&self, other: &Tensor) -> bool {
        self.name == other.name
            && self.shape == other.shape
            && self.data.len() == other.data.len()
            && self.data.iter().zip(&other.data).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

/// A set of float32 variables, sorted by name (bytewise, as TensorFlow sorts them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: Vec<Tensor>,
}

impl Checkpoint {
    /// A checkpoint from tensors in any order: sorts them, rejects duplicate names and
    /// data lengths that do not match shapes.
    pub fn new(mut tensors: Vec<Tensor>) -> Result<Checkpoint> {
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
        let c = Checkpoint { tensors };
        c.validate()?;
        Ok(c)
    }

    /// Check order, uniqueness and every tensor's data length.
    pub fn validate(&self) -> Result<()> {
        for t in &self.tensors {
            t.validate()?;
        }
        for w in self.tensors.windows(2) {
            if w[0].name == w[1].name {
                return Err(MagError::tensor_err(&w[0].name, "appears twice in the checkpoint"));
            }
            if w[0].name > w[1].name {
                return Err(MagError::checkpoint(format!(
                    "tensors are not sorted by name ('{}' before '{}'); use Checkpoint::new",
                    w[0].name, w[1].name
                )));
            }
        }
        Ok(())
    }

    /// The tensor with this name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.position(name).map(|i| &self.tensors[i])
    }

    /// The tensor with this name, mutably (change values, not names or shapes).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Tensor> {
        self.position(name).map(move |i| &mut self.tensors[i])
    }

    fn position(&self, name: &str) -> Option<usize> {
        match self.tensors.binary_search_by(|t| t.name.as_str().cmp(name)) {
            Ok(i) => Some(i),
            // Tolerate a hand-built, unsorted checkpoint.
            Err(_) => self.tensors.iter().position(|t| t.name == name),
        }
    }

    /// Tensor names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|t| t.name.as_str())
    }

    /// Total number of float parameters.
    pub fn num_parameters(&self) -> usize {
        self.tensors.iter().map(|t| t.data.len()).sum()
    }

    /// Same tensors with bit-identical values.
    pub fn bitwise_eq(&self, other: &Checkpoint) -> bool {
        self.tensors.len() == other.tensors.len()
            && self.tensors.iter().zip(&other.tensors).all(|(a, b)| a.bitwise_eq(b))
    }
}

fn shape_from_proto(name: &str, shape: Option<&TensorShapeProto>) -> Result<Vec<usize>> {
    let Some(shape) = shape else {
        return Err(MagError::tensor_err(name, "has no shape"));
    };
    if shape.unknown_rank {
        return Err(MagError::tensor_err(name, "has an unknown rank"));
    }
    let mut dims = Vec::with_capacity(shape.dim.len());
    for d in &shape.dim {
        if d.size < 0 {
            return Err(MagError::tensor_err(name, format!("has a negative or unknown dimension ({})", d.size)));
        }
        let size = usize::try_from(d.size)
            .map_err(|_| MagError::tensor_err(name, format!("dimension {} is too large", d.size)))?;
        dims.push(size);
    }
    if shape_elements(&dims).is_none() {
        return Err(MagError::tensor_err(name, format!("shape {dims:?} has too many elements")));
    }
    Ok(dims)
}

fn check_full_slice(name: &str, slice: &TensorSliceProto, rank: usize) -> Result<()> {
    if !slice.is_full() {
        return Err(MagError::tensor_err(
            name,
            "is stored as partial slices (a partitioned variable); only whole tensors are supported",
        ));
    }
    if slice.extent.len() != rank && !slice.extent.is_empty() {
        return Err(MagError::tensor_err(
            name,
            format!("slice has {} extents but the tensor has rank {rank}", slice.extent.len()),
        ));
    }
    Ok(())
}

/// The float values of a `TensorProto`: packed or unpacked `float_val`, or
/// `tensor_content` (float32 little-endian). `expected` is the element count.
fn floats_from_tensor_proto(name: &str, proto: TensorProto, expected: usize) -> Result<Vec<f32>> {
    if proto.dtype != 0 && proto.dtype != DT_FLOAT {
        return Err(MagError::tensor_err(
            name,
            format!("data has dtype {}; only DT_FLOAT (float32) tensors are supported", dtype_name(proto.dtype)),
        ));
    }
    let others = proto.non_float_fields();
    if !others.is_empty() {
        return Err(MagError::tensor_err(
            name,
            format!(
                "data holds non-float values ({}); only DT_FLOAT (float32) tensors are supported",
                others.join(", ")
            ),
        ));
    }
    let values = match (proto.float_val.is_empty(), proto.tensor_content.is_empty()) {
        (false, false) => return Err(MagError::tensor_err(name, "data sets both float_val and tensor_content")),
        (false, true) => proto.float_val,
        (true, false) => {
            if !proto.tensor_content.chunks_exact(4).remainder().is_empty() {
                return Err(MagError::tensor_err(
                    name,
                    format!("tensor_content has {} bytes, not a multiple of 4", proto.tensor_content.len()),
                ));
            }
            proto.tensor_content.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        (true, true) => Vec::new(),
    };
    if values.len() != expected {
        return Err(MagError::tensor_err(
            name,
            format!("has {} stored values but its shape needs {expected}", values.len()),
        ));
    }
    Ok(values)
}

fn check_versions(v: Option<&VersionDef>) -> Result<()> {
    if let Some(v) = v {
        if v.min_consumer > TF_CHECKPOINT_VERSION {
            return Err(MagError::checkpoint(format!(
                "written for checkpoint readers >= version {} (this reader is version {TF_CHECKPOINT_VERSION})",
                v.min_consumer
            )));
        }
        if v.bad_consumers.contains(&TF_CHECKPOINT_VERSION) {
            return Err(MagError::checkpoint(format!(
                "marks checkpoint reader version {TF_CHECKPOINT_VERSION} as bad"
            )));
        }
    }
    Ok(())
}

/// Read a V1 tensor-slice checkpoint (the bytes of `checkpoint_file[0]` of a bundle).
///
/// Parses the table, the empty-key `SavedTensorSliceMeta` record (names, shapes,
/// dtypes), then every `SavedSlice`; checks that each tensor is float32, stored whole,
/// exactly once, with as many values as its shape needs.
pub fn read_v1(bytes: &[u8]) -> Result<Checkpoint> {
    let table = Table::open(bytes)?;
    let entries = table.entries()?;
    let Some(first) = entries.first().filter(|e| e.key.is_empty()) else {
        return Err(MagError::checkpoint("no table-of-contents record (empty key): not a TensorFlow V1 checkpoint"));
    };
    let meta = SavedTensorSlices::decode(first.value)
        .map_err(|e| MagError::checkpoint(format!("unreadable table-of-contents record: {e}")))?
        .meta
        .ok_or_else(|| MagError::checkpoint("the table-of-contents record has no meta"))?;
    check_versions(meta.versions.as_ref())?;

    struct Slot {
        shape: Vec<usize>,
        elements: usize,
        data: Option<Vec<f32>>,
    }
    let mut slots: Vec<(String, Slot)> = Vec::with_capacity(meta.tensor.len());
    let mut by_name: HashMap<String, usize> = HashMap::with_capacity(meta.tensor.len());
    for m in meta.tensor {
        if m.name.is_empty() {
            return Err(MagError::checkpoint("the table of contents lists a tensor with an empty name"));
        }
        if by_name.contains_key(&m.name) {
            return Err(MagError::tensor_err(&m.name, "is listed twice in the table of contents"));
        }
        if m.r#type != DT_FLOAT {
            return Err(MagError::tensor_err(
                &m.name,
                format!("has dtype {}; only DT_FLOAT (float32) tensors are supported", dtype_name(m.r#type)),
            ));
        }
        let shape = shape_from_proto(&m.name, m.shape.as_ref())?;
        for s in &m.slice {
            check_full_slice(&m.name, s, shape.len())?;
        }
        if m.slice.len() > 1 {
            return Err(MagError::tensor_err(
                &m.name,
                format!("is stored as {} slices; only whole tensors are supported", m.slice.len()),
            ));
        }
        let elements = shape_elements(&shape).expect("checked in shape_from_proto");
        by_name.insert(m.name.clone(), slots.len());
        slots.push((m.name, Slot { shape, elements, data: None }));
    }

    for e in &entries[1..] {
        let record = SavedTensorSlices::decode(e.value).map_err(|err| {
            let who = decode_tensor_name_slice(&e.key)
                .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
                .unwrap_or_else(|| "?".to_string());
            MagError::tensor_err(who, format!("unreadable data record: {err}"))
        })?;
        let Some(slice) = record.data else {
            return Err(MagError::checkpoint("a record with a non-empty key holds no tensor data"));
        };
        let SavedSlice { name, slice, data } = slice;
        let Some(&idx) = by_name.get(&name) else {
            return Err(MagError::tensor_err(&name, "has a data record but is not in the table of contents"));
        };
        let slot = &mut slots[idx].1;
        let slice = slice.unwrap_or_default();
        check_full_slice(&name, &slice, slot.shape.len())?;
        match decode_tensor_name_slice(&e.key) {
            Some((key_name, _)) if key_name == name.as_bytes() => {}
            _ => return Err(MagError::tensor_err(&name, "its record key does not encode its name")),
        }
        if e.key != encode_full_slice_key(&name, slot.shape.len()) {
            return Err(MagError::tensor_err(&name, "its record key is not the full-slice key for its rank"));
        }
        if slot.data.is_some() {
            return Err(MagError::tensor_err(&name, "is stored twice"));
        }
        let values = floats_from_tensor_proto(&name, data.unwrap_or_default(), slot.elements)?;
        slot.data = Some(values);
    }

    let mut tensors = Vec::with_capacity(slots.len());
    for (name, slot) in slots {
        let Some(data) = slot.data else {
            return Err(MagError::tensor_err(&name, "is listed in the table of contents but has no data record"));
        };
        tensors.push(Tensor { name, shape: slot.shape, data });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Checkpoint { tensors })
}

/// Read only the table of contents of a V1 checkpoint (names, shapes, dtypes, versions).
pub fn read_v1_meta(bytes: &[u8]) -> Result<SavedTensorSliceMeta> {
    let table = Table::open(bytes)?;
    let index = table.index();
    let Some((_, first)) = index.first() else {
        return Err(MagError::checkpoint("the table has no data blocks"));
    };
    let contents = table.block_contents(*first, "data")?;
    let entries = crate::tf::table::parse_block(contents, first.offset, "data")?;
    let Some(e) = entries.first().filter(|e| e.key.is_empty()) else {
        return Err(MagError::checkpoint("no table-of-contents record (empty key): not a TensorFlow V1 checkpoint"));
    };
    SavedTensorSlices::decode(e.value)
        .map_err(|e| MagError::checkpoint(format!("unreadable table-of-contents record: {e}")))?
        .meta
        .ok_or_else(|| MagError::checkpoint("the table-of-contents record has no meta"))
}

/// Encode a packed `float_val` `SavedTensorSlices` record without an intermediate copy.
fn encode_slice_record(t: &Tensor) -> Vec<u8> {
    // Bytes equal to prost's encoding of
    // SavedTensorSlices { data: SavedSlice { name, slice: full(rank), data: TensorProto { float_val } } }.
    let slice = TensorSliceProto::full(t.shape.len());
    let slice_len = slice.encoded_len();
    let floats_len = t.data.len() * 4;
    let tensor_len =
        if floats_len == 0 { 0 } else { 1 + prost::encoding::encoded_len_varint(floats_len as u64) + floats_len };
    let saved_slice_len = 1
        + prost::encoding::encoded_len_varint(t.name.len() as u64)
        + t.name.len()
        + 1
        + prost::encoding::encoded_len_varint(slice_len as u64)
        + slice_len
        + 1
        + prost::encoding::encoded_len_varint(tensor_len as u64)
        + tensor_len;
    let total = 1 + prost::encoding::encoded_len_varint(saved_slice_len as u64) + saved_slice_len;
    let mut buf = Vec::with_capacity(total);
    buf.push(0x12); // SavedTensorSlices.data
    prost::encoding::encode_varint(saved_slice_len as u64, &mut buf);
    buf.push(0x0a); // SavedSlice.name
    prost::encoding::encode_varint(t.name.len() as u64, &mut buf);
    buf.extend_from_slice(t.name.as_bytes());
    buf.push(0x12); // SavedSlice.slice
    prost::encoding::encode_varint(slice_len as u64, &mut buf);
    slice.encode_raw(&mut buf);
    buf.push(0x1a); // SavedSlice.data
    prost::encoding::encode_varint(tensor_len as u64, &mut buf);
    if floats_len > 0 {
        buf.push(0x2a); // TensorProto.float_val, packed
        prost::encoding::encode_varint(floats_len as u64, &mut buf);
        for v in &t.data {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
    debug_assert_eq!(buf.len(), total);
    buf
}

/// Write a V1 tensor-slice checkpoint the way TensorFlow's `Saver(write_version=V1)`
/// does: the empty-key meta record first (tensors sorted by name, each with one full
/// slice written as empty extents, dtype DT_FLOAT, `versions.producer` = 1), then one
/// record per tensor under its OrderedCode full-slice key with packed `float_val`.
///
/// Errors for an invalid checkpoint (duplicate names, data/shape mismatch, a scalar,
/// a tensor over 2 GiB).
pub fn write_v1(ckpt: &Checkpoint) -> Result<Vec<u8>> {
    let mut tensors: Vec<&Tensor> = ckpt.tensors.iter().collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &tensors {
        t.validate()?;
        if t.shape.is_empty() {
            return Err(MagError::tensor_err(&t.name, "is a scalar; V1 checkpoints cannot store rank-0 tensors"));
        }
        if t.data.len().saturating_mul(4) >= MAX_SLICE_BYTES {
            return Err(MagError::tensor_err(&t.name, "is over 2 GiB, more than one V1 checkpoint slice can hold"));
        }
    }
    for w in tensors.windows(2) {
        if w[0].name == w[1].name {
            return Err(MagError::tensor_err(&w[0].name, "appears twice in the checkpoint"));
        }
    }
    let meta = SavedTensorSlices {
        meta: Some(SavedTensorSliceMeta {
            tensor: tensors
                .iter()
                .map(|t| SavedSliceMeta {
                    name: t.name.clone(),
                    shape: Some(TensorShapeProto::from_dims(&t.shape)),
                    r#type: DT_FLOAT,
                    slice: vec![TensorSliceProto::full(t.shape.len())],
                })
                .collect(),
            versions: Some(VersionDef { producer: TF_CHECKPOINT_VERSION, min_consumer: 0, bad_consumers: Vec::new() }),
        }),
        data: None,
    };
    let mut tb = TableBuilder::new();
    tb.reserve(ckpt.num_parameters() * 4 + 4096 + tensors.len() * 256);
    tb.add(b"", &meta.encode_to_vec())?;
    // Keys sort like names here: the OrderedCode string encoding is order-preserving and
    // ends with the same terminator for every name, so sorted names give sorted keys.
    let mut keyed: Vec<(Vec<u8>, &Tensor)> =
        tensors.iter().map(|t| (encode_full_slice_key(&t.name, t.shape.len()), *t)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, t) in keyed {
        tb.add(&key, &encode_slice_record(t))?;
    }
    Ok(tb.finish())
}

// ---------------------------------------------------------------------------- V2

/// A tensor of a V2 checkpoint that is not float32 (e.g. `global_step`): listed, not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherTensor {
    pub name: String,
    pub dtype: i32,
    pub shape: Vec<usize>,
}

/// A V2 checkpoint: its float32 tensors, plus the names of the others.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct V2Checkpoint {
    pub floats: Checkpoint,
    pub other: Vec<OtherTensor>,
}

/// Read a single-shard V2 checkpoint: `model.ckpt-N.index` and
/// `model.ckpt-N.data-00000-of-00001`. Float32 tensors are read and CRC-checked;
/// other dtypes are listed in [`V2Checkpoint::other`].
pub fn read_v2(index_bytes: &[u8], data_bytes: &[u8]) -> Result<V2Checkpoint> {
    let table = Table::open(index_bytes)?;
    let entries = table.entries()?;
    let Some(first) = entries.first().filter(|e| e.key.is_empty()) else {
        return Err(MagError::checkpoint("no header record (empty key): not a TensorFlow V2 checkpoint index"));
    };
    let header = BundleHeaderProto::decode(first.value)
        .map_err(|e| MagError::checkpoint(format!("unreadable V2 header record: {e}")))?;
    if header.num_shards != 1 {
        return Err(MagError::checkpoint(format!(
            "has {} data shards; only single-shard checkpoints are supported",
            header.num_shards
        )));
    }
    if header.endianness != 0 {
        return Err(MagError::checkpoint("is big-endian; only little-endian checkpoints are supported"));
    }
    check_versions(header.version.as_ref())?;
    let mut tensors = Vec::new();
    let mut other = Vec::new();
    for e in &entries[1..] {
        let name = String::from_utf8(e.key.clone())
            .map_err(|_| MagError::checkpoint("a tensor name in the index is not UTF-8"))?;
        let entry = BundleEntryProto::decode(e.value)
            .map_err(|err| MagError::tensor_err(&name, format!("unreadable index entry: {err}")))?;
        let shape = shape_from_proto(&name, entry.shape.as_ref())?;
        if !entry.slices.is_empty() {
            return Err(MagError::tensor_err(
                &name,
                "is stored as partial slices (a partitioned variable); only whole tensors are supported",
            ));
        }
        if entry.dtype != DT_FLOAT {
            other.push(OtherTensor { name, dtype: entry.dtype, shape });
            continue;
        }
        if entry.shard_id != 0 {
            return Err(MagError::tensor_err(
                &name,
                format!("is in shard {} of a single-shard checkpoint", entry.shard_id),
            ));
        }
        let elements = shape_elements(&shape).expect("checked");
        let want = elements
            .checked_mul(4)
            .ok_or_else(|| MagError::tensor_err(&name, format!("shape {shape:?} has too many elements")))?;
        if entry.size < 0 || entry.size as u64 != want as u64 {
            return Err(MagError::tensor_err(
                &name,
                format!("index says {} bytes but shape {shape:?} of float32 needs {want}", entry.size),
            ));
        }
        let start = usize::try_from(entry.offset).ok();
        let bytes = start
            .and_then(|s| s.checked_add(want).map(|e| (s, e)))
            .and_then(|(s, e)| data_bytes.get(s..e))
            .ok_or_else(|| {
                MagError::tensor_err(
                    &name,
                    format!(
                        "bytes {}..+{want} lie outside the {}-byte data file (truncated?)",
                        entry.offset,
                        data_bytes.len()
                    ),
                )
            })?;
        let crc = crc32c::crc32c(bytes);
        if unmask_crc(entry.crc32c) != crc {
            return Err(MagError::tensor_err(
                &name,
                format!(
                    "CRC32C mismatch in the data file at offset {} (stored 0x{:08x}, computed 0x{crc:08x})",
                    entry.offset,
                    unmask_crc(entry.crc32c)
                ),
            ));
        }
        let data = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        tensors.push(Tensor { name, shape, data });
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(V2Checkpoint { floats: Checkpoint { tensors }, other })
}

/// Write a single-shard V2 checkpoint of float32 tensors: returns
/// `(index_bytes, data_bytes)` for `X.index` and `X.data-00000-of-00001`.
pub fn write_v2(ckpt: &Checkpoint) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut tensors: Vec<&Tensor> = ckpt.tensors.iter().collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &tensors {
        t.validate()?;
    }
    for w in tensors.windows(2) {
        if w[0].name == w[1].name {
            return Err(MagError::tensor_err(&w[0].name, "appears twice in the checkpoint"));
        }
    }
    let header = BundleHeaderProto {
        num_shards: 1,
        endianness: 0,
        version: Some(VersionDef { producer: TF_CHECKPOINT_VERSION, min_consumer: 0, bad_consumers: Vec::new() }),
    };
    let mut tb = TableBuilder::new();
    tb.add(b"", &header.encode_to_vec())?;
    let mut data = Vec::with_capacity(ckpt.num_parameters() * 4);
    for t in tensors {
        let offset = data.len();
        for v in &t.data {
            data.extend_from_slice(&v.to_le_bytes());
        }
        let entry = BundleEntryProto {
            dtype: DT_FLOAT,
            shape: Some(TensorShapeProto::from_dims(&t.shape)),
            shard_id: 0,
            offset: offset as i64,
            size: (data.len() - offset) as i64,
            crc32c: masked_crc32c(&data[offset..]),
            slices: Vec::new(),
        };
        tb.add(t.name.as_bytes(), &entry.encode_to_vec())?;
    }
    Ok((tb.finish(), data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::SavedSlice;

    fn sample() -> Checkpoint {
        Checkpoint::new(vec![
            Tensor::new("b/bias", vec![3], vec![1.0, -2.0, f32::NAN]).unwrap(),
            Tensor::new("a/kernel", vec![2, 3], vec![0.5, 1.5, 2.5, -0.0, 1e-30, 3.0]).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn v1_roundtrip() {
        let c = sample();
        let bytes = write_v1(&c).unwrap();
        let back = read_v1(&bytes).unwrap();
        assert!(back.bitwise_eq(&c));
        assert_eq!(back.names().collect::<Vec<_>>(), ["a/kernel", "b/bias"]);
    }

    #[test]
    fn record_encoding_matches_prost() {
        for t in &sample().tensors {
            let msg = SavedTensorSlices {
                meta: None,
                data: Some(SavedSlice {
                    name: t.name.clone(),
                    slice: Some(TensorSliceProto::full(t.shape.len())),
                    data: Some(TensorProto { float_val: t.data.clone(), ..Default::default() }),
                }),
            };
            assert_eq!(encode_slice_record(t), msg.encode_to_vec());
        }
        let empty = Tensor::new("e", vec![0], vec![]).unwrap();
        let msg = SavedTensorSlices {
            meta: None,
            data: Some(SavedSlice {
                name: "e".into(),
                slice: Some(TensorSliceProto::full(1)),
                data: Some(TensorProto::default()),
            }),
        };
        assert_eq!(encode_slice_record(&empty), msg.encode_to_vec());
    }

    #[test]
    fn v2_roundtrip() {
        let c = sample();
        let (index, data) = write_v2(&c).unwrap();
        let back = read_v2(&index, &data).unwrap();
        assert!(back.floats.bitwise_eq(&c));
        assert!(back.other.is_empty());
        let mut bad = data.clone();
        bad[5] ^= 1;
        let err = read_v2(&index, &bad).unwrap_err().to_string();
        assert!(err.contains("CRC32C mismatch"), "{err}");
        let err = read_v2(&index, &data[..10]).unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
    }

    #[test]
    fn invalid_checkpoints_rejected_by_writer() {
        let bad = Checkpoint { tensors: vec![Tensor { name: "x".into(), shape: vec![2, 2], data: vec![1.0] }] };
        assert!(write_v1(&bad).unwrap_err().to_string().contains("'x'"));
        let scalar = Checkpoint { tensors: vec![Tensor { name: "s".into(), shape: vec![], data: vec![1.0] }] };
        assert!(write_v1(&scalar).unwrap_err().to_string().contains("scalar"));
        assert!(Checkpoint::new(vec![
            Tensor::new("d", vec![1], vec![1.0]).unwrap(),
            Tensor::new("d", vec![1], vec![1.0]).unwrap()
        ])
        .is_err());
    }
}
