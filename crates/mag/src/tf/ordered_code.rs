//! TensorFlow's `OrderedCode` encoding, as used for V1 checkpoint keys
//! (`EncodeTensorNameSlice` in `saved_tensor_slice_util.cc`).
//!
//! A V1 data key is `WriteNumIncreasing(0)`, `WriteString(name)`, `WriteNumIncreasing(rank)`,
//! then per dimension `WriteSignedNumIncreasing(start)`, `WriteSignedNumIncreasing(length)`,
//! where a full extent is start 0, length −1.

/// Append `v` as a length byte followed by its big-endian bytes without leading zeros.
pub fn write_num_increasing(buf: &mut Vec<u8>, v: u64) {
    let n = (8 - v.leading_zeros() as usize / 8).min(8);
    let n = if v == 0 { 0 } else { n };
    buf.push(n as u8);
    buf.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

/// Read a number written by [`write_num_increasing`].
pub fn read_num_increasing(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let len = *buf.get(*pos)? as usize;
    if len > 8 {
        return None;
    }
    let bytes = buf.get(*pos + 1..*pos + 1 + len)?;
    let v = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
    *pos += 1 + len;
    Some(v)
}

/// Append `s` with `00` → `00 ff` and `ff` → `ff 00` escaping, then the `00 01` terminator.
pub fn write_string(buf: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            0x00 => buf.extend_from_slice(&[0x00, 0xff]),
            0xff => buf.extend_from_slice(&[0xff, 0x00]),
            _ => buf.push(b),
        }
    }
    buf.extend_from_slice(&[0x00, 0x01]);
}

/// Read a string written by [`write_string`].
pub fn read_string(buf: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = *pos;
    loop {
        let b = *buf.get(i)?;
        i += 1;
        match b {
            0x00 => {
                let next = *buf.get(i)?;
                i += 1;
                match next {
                    0x01 => {
                        *pos = i;
                        return Some(out);
                    }
                    0xff => out.push(0x00),
                    _ => return None,
                }
            }
            0xff => {
                let next = *buf.get(i)?;
                i += 1;
                if next != 0x00 {
                    return None;
                }
                out.push(0xff);
            }
            _ => out.push(b),
        }
    }
}

const LENGTH_TO_HEADER_BITS: [[u8; 2]; 11] = [
    [0, 0],
    [0x80, 0],
    [0xc0, 0],
    [0xe0, 0],
    [0xf0, 0],
    [0xf8, 0],
    [0xfc, 0],
    [0xfe, 0],
    [0xff, 0],
    [0xff, 0x80],
    [0xff, 0xc0],
];

const LENGTH_TO_MASK: [u64; 11] = [
    0,
    0x80,
    0xc000,
    0xe0_0000,
    0xf000_0000,
    0xf8_0000_0000,
    0xfc00_0000_0000,
    0xfe_0000_0000_0000,
    0xff00_0000_0000_0000,
    0x8000_0000_0000_0000,
    0,
];

/// Append a signed number in OrderedCode's sign-and-length-prefixed form.
/// Values in −64..63 take one byte: `0x80 ^ value` (0 → `80`, −1 → `7f`).
pub fn write_signed_num_increasing(buf: &mut Vec<u8>, val: i64) {
    let x: u64 = if val < 0 { !(val as u64) } else { val as u64 };
    if x < 64 {
        buf.push(0x80 ^ (val as u8));
        return;
    }
    let bits = 64 - x.leading_zeros() as usize; // log2floor(x) + 1
    let len = (bits + 7) / 7; // n bytes hold [-2^(7n-1), 2^(7n-1))
    let sign: u8 = if val < 0 { 0xff } else { 0x00 };
    let mut tmp = [sign; 10];
    tmp[2..].copy_from_slice(&(val as u64).to_be_bytes());
    let begin = 10 - len;
    tmp[begin] ^= LENGTH_TO_HEADER_BITS[len][0];
    tmp[begin + 1] ^= LENGTH_TO_HEADER_BITS[len][1];
    buf.extend_from_slice(&tmp[begin..]);
}

/// Read a number written by [`write_signed_num_increasing`].
pub fn read_signed_num_increasing(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let src = buf.get(*pos..)?;
    let b0 = *src.first()?;
    let xor_mask: u64 = if b0 & 0x80 == 0 { !0 } else { 0 };
    let first = b0 ^ (xor_mask as u8);
    let len;
    let x: u64;
    if first != 0xff {
        // len = 7 - log2floor(first ^ 0xff); first >= 0x80 here, so len is 1..=7.
        len = (first ^ 0xff).leading_zeros() as usize;
        let bytes = src.get(..len)?;
        x = bytes.iter().fold(xor_mask, |acc, &b| (acc << 8) | b as u64);
    } else {
        let mut l = 8;
        if src.len() < l {
            return None;
        }
        let second = src[1] ^ (xor_mask as u8);
        if second >= 0x80 {
            if second < 0xc0 {
                l = 9;
            } else {
                let third = src[2] ^ (xor_mask as u8);
                if second == 0xc0 && third < 0x80 {
                    l = 10;
                } else {
                    return None;
                }
            }
            if src.len() < l {
                return None;
            }
        }
        len = l;
        x = u64::from_be_bytes(src[len - 8..len].try_into().ok()?);
    }
    *pos += len;
    Some((x ^ LENGTH_TO_MASK[len]) as i64)
}

/// The key of a tensor slice in a V1 checkpoint. `extents` are `(start, length)` pairs;
/// a full dimension is `(0, -1)`.
pub fn encode_tensor_name_slice(name: &str, extents: &[(i64, i64)]) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 4 + 2 * extents.len() + 4);
    write_num_increasing(&mut k, 0);
    write_string(&mut k, name.as_bytes());
    write_num_increasing(&mut k, extents.len() as u64);
    for &(start, length) in extents {
        write_signed_num_increasing(&mut k, start);
        write_signed_num_increasing(&mut k, length);
    }
    k
}

/// The key of the full slice of a tensor of the given rank.
pub fn encode_full_slice_key(name: &str, rank: usize) -> Vec<u8> {
    encode_tensor_name_slice(name, &vec![(0, -1); rank])
}

/// A decoded V1 data key: tensor name bytes and `(start, length)` extents.
pub type NameSlice = (Vec<u8>, Vec<(i64, i64)>);

/// Decode a V1 data key into the tensor name bytes and its `(start, length)` extents.
/// `None` when the key is not a well-formed tensor-slice key.
pub fn decode_tensor_name_slice(key: &[u8]) -> Option<NameSlice> {
    let mut pos = 0;
    if read_num_increasing(key, &mut pos)? != 0 {
        return None;
    }
    let name = read_string(key, &mut pos)?;
    let rank = read_num_increasing(key, &mut pos)?;
    // Every extent takes at least 2 bytes: reject absurd ranks before allocating.
    if rank > (key.len() - pos) as u64 / 2 {
        return None;
    }
    let mut extents = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        let s = read_signed_num_increasing(key, &mut pos)?;
        let l = read_signed_num_increasing(key, &mut pos)?;
        extents.push((s, l));
    }
    if pos != key.len() {
        return None;
    }
    Some((name, extents))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let k = encode_full_slice_key("fully_connected/biases", 1);
        let mut want = vec![0u8];
        want.extend_from_slice(b"fully_connected/biases");
        want.extend_from_slice(&[0x00, 0x01, 0x01, 0x01, 0x80, 0x7f]);
        assert_eq!(k, want);
        let k = encode_full_slice_key("a/kernel", 2);
        assert!(k.ends_with(&[0x00, 0x01, 0x01, 0x02, 0x80, 0x7f, 0x80, 0x7f]));
        assert_eq!(decode_tensor_name_slice(&k), Some((b"a/kernel".to_vec(), vec![(0, -1), (0, -1)])));
    }

    #[test]
    fn signed_examples_from_tf_comments() {
        let mut b = Vec::new();
        write_signed_num_increasing(&mut b, 0x424242);
        assert_eq!(b, [0xf0, 0x42, 0x42, 0x42]);
        b.clear();
        write_signed_num_increasing(&mut b, -0x800);
        assert_eq!(b, [0x38, 0x00]);
    }

    #[test]
    fn signed_roundtrip_and_order() {
        let mut vals: Vec<i64> = vec![i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, 0, -1, 1];
        for s in 0..63 {
            let p = 1i64 << s;
            vals.extend_from_slice(&[p, p - 1, p + 1, -p, -p - 1, -p + 1]);
        }
        vals.sort();
        vals.dedup();
        let mut prev: Option<Vec<u8>> = None;
        for &v in &vals {
            let mut b = Vec::new();
            write_signed_num_increasing(&mut b, v);
            let mut pos = 0;
            assert_eq!(read_signed_num_increasing(&b, &mut pos), Some(v), "value {v}");
            assert_eq!(pos, b.len());
            if let Some(p) = prev {
                assert!(p < b, "order broken at {v}");
            }
            prev = Some(b);
        }
    }

    #[test]
    fn strings_and_nums() {
        let s = b"a\x00b\xffc";
        let mut b = Vec::new();
        write_string(&mut b, s);
        let mut pos = 0;
        assert_eq!(read_string(&b, &mut pos).as_deref(), Some(&s[..]));
        for v in [0u64, 1, 255, 256, u64::MAX] {
            let mut b = Vec::new();
            write_num_increasing(&mut b, v);
            let mut pos = 0;
            assert_eq!(read_num_increasing(&b, &mut pos), Some(v));
        }
        let mut b = Vec::new();
        write_num_increasing(&mut b, 2);
        assert_eq!(b, [1, 2]);
    }
}
