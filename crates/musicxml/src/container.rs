//! From file bytes to a parsed XML document: `.mxl` zip containers, text encodings and the
//! size limits that keep a hostile file from exhausting memory.

use crate::xmlutil::{child, children, elements};
use crate::{Fail, Warnings};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};
use std::collections::HashMap;
use std::io::{Cursor, Read};

/// Largest file, zip entry or decoded document accepted. The biggest real scores (full
/// orchestral works) are a few tens of MiB of XML.
pub(crate) const MAX_BYTES: u64 = 256 << 20;
/// Cap on characters produced by DTD entity expansion: real MusicXML declares no entities,
/// so anything near this is an attack ("billion laughs").
const MAX_ENTITY_EXPANSION: u64 = 1 << 20;
/// Cap on XML nodes, bounding roxmltree's memory (the largest ASAP score has ~2.5 M).
const MAX_NODES: u32 = 20_000_000;

const MUSICXML_MIME_TYPE: &str = "application/vnd.recordare.musicxml+xml";

/// Returns the XML text of the score. `strict` follows note-seq: the container must name the
/// score, and bytes must decode cleanly.
pub(crate) fn load(bytes: &[u8], name: &str, strict: bool, warnings: &mut Warnings) -> Result<String, Fail> {
    if bytes.is_empty() {
        return Err(Fail::Container("empty file".into()));
    }
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Fail::TooLarge(format!("{} bytes (limit {} MiB)", bytes.len(), MAX_BYTES >> 20)));
    }
    let lower = name.to_ascii_lowercase();
    if bytes.starts_with(b"PK") || lower.ends_with(".mxl") {
        let xml = read_mxl(bytes, strict, warnings)?;
        decode(&xml, strict, warnings)
    } else {
        decode(bytes, strict, warnings)
    }
}

fn read_mxl(bytes: &[u8], strict: bool, warnings: &mut Warnings) -> Result<Vec<u8>, Fail> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Fail::Container(format!("not a readable .mxl (zip) archive: {e}")))?;
    // note-seq turns names stored without the UTF-8 flag back into their raw bytes and
    // decodes those as UTF-8; reading the raw bytes does the same for both kinds.
    let mut names: Vec<String> = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| Fail::Container(format!("zip entry {i}: {e}")))?;
        names.push(String::from_utf8_lossy(f.name_raw()).into_owned());
    }
    let find = |wanted: &str| names.iter().position(|n| n == wanted);

    let score_name = match find("META-INF/container.xml") {
        Some(idx) => {
            let raw = read_entry(&mut zip, idx, "META-INF/container.xml")?;
            let text = decode(&raw, strict, warnings)?;
            let doc = parse_xml(&text).map_err(|e| Fail::Container(format!("META-INF/container.xml: {e}")))?;
            let mut chosen: Option<String> = None;
            if let Some(rootfiles) = child(doc.root_element(), "rootfiles") {
                for rf in children(rootfiles, "rootfile") {
                    let qualifies = match rf.attribute("media-type") {
                        Some(t) => t == MUSICXML_MIME_TYPE,
                        None => true,
                    };
                    if !qualifies {
                        continue;
                    }
                    let Some(path) = rf.attribute("full-path") else {
                        return Err(Fail::Container("container.xml has a rootfile without full-path".into()));
                    };
                    if chosen.is_some() {
                        return Err(Fail::Container("container.xml names several MusicXML rootfiles".into()));
                    }
                    chosen = Some(path.to_string());
                }
            }
            chosen.ok_or_else(|| Fail::Container("container.xml names no MusicXML rootfile".into()))?
        }
        None if strict => {
            return Err(Fail::Container("no META-INF/container.xml, so no MusicXML score to read".into()));
        }
        None => {
            let guess = names.iter().find(|n| {
                let l = n.to_ascii_lowercase();
                !l.starts_with("meta-inf/") && (l.ends_with(".xml") || l.ends_with(".musicxml"))
            });
            let Some(guess) = guess else {
                return Err(Fail::Container("zip holds no META-INF/container.xml and no .xml/.musicxml entry".into()));
            };
            warnings.push(format!("no META-INF/container.xml; reading {guess}"));
            guess.clone()
        }
    };
    let idx = find(&score_name)
        .ok_or_else(|| Fail::Container(format!("container.xml names {score_name}, which is not in the archive")))?;
    read_entry(&mut zip, idx, &score_name)
}

/// Reads one entry, refusing it before inflating when it claims more than the limit, and
/// again while inflating in case the header lies.
fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, idx: usize, what: &str) -> Result<Vec<u8>, Fail> {
    let f = zip.by_index(idx).map_err(|e| Fail::Container(format!("{what}: {e}")))?;
    let claimed = f.size();
    if claimed > MAX_BYTES {
        return Err(Fail::TooLarge(format!(
            "{what} claims {claimed} bytes uncompressed (limit {} MiB)",
            MAX_BYTES >> 20
        )));
    }
    let mut buf = Vec::with_capacity(claimed.min(64 << 20) as usize);
    f.take(MAX_BYTES + 1).read_to_end(&mut buf).map_err(|e| Fail::Container(format!("{what}: cannot inflate: {e}")))?;
    if buf.len() as u64 > MAX_BYTES {
        return Err(Fail::TooLarge(format!("{what} inflates past {} MiB", MAX_BYTES >> 20)));
    }
    Ok(buf)
}

/// Bytes to text: a BOM wins, then UTF-16 recognisable from `<` without a BOM, then the
/// `encoding` of the XML declaration, then UTF-8.
pub(crate) fn decode(bytes: &[u8], strict: bool, warnings: &mut Warnings) -> Result<String, Fail> {
    let (encoding, body): (&'static Encoding, &[u8]) = if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        (enc, &bytes[bom..])
    } else if bytes.starts_with(&[b'<', 0]) {
        (UTF_16LE, bytes)
    } else if bytes.starts_with(&[0, b'<']) {
        (UTF_16BE, bytes)
    } else {
        match declared_encoding(bytes) {
            // A declaration readable as ASCII cannot really be UTF-16: the label is stale.
            Some(enc) if enc == UTF_16LE || enc == UTF_16BE => (UTF_8, bytes),
            Some(enc) => (enc, bytes),
            None => (UTF_8, bytes),
        }
    };
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(body) {
        return Ok(text.into_owned());
    }
    if strict {
        return Err(Fail::Container(format!("bytes are not valid {}", encoding.name())));
    }
    warnings.push(format!("bytes are not valid {}; bad sequences replaced", encoding.name()));
    Ok(encoding.decode_without_bom_handling(body).0.into_owned())
}

fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(512)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let label = rest[1..].split(quote).next()?;
    Encoding::for_label(label.as_bytes())
}

/// Drops indentation: runs of whitespace holding a newline that sit between two tags where
/// they cannot be an element's own text, i.e. before a start tag, or before an end tag when
/// the previous tag was itself an end tag or an empty-element tag. Pretty-printed exports
/// (every MuseScore file) then build about 40% fewer roxmltree nodes, which is most of the
/// import time, and no value either parser reads changes: a leaf's text is never touched.
pub(crate) fn strip_indentation(text: &str) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut copied = 0; // b[..copied] is dealt with
    let mut pos = 0;
    // Indentation is found from its newline: one search per line rather than per tag.
    while let Some(k) = memchr::memchr(b'\n', &b[pos..]) {
        let newline = pos + k;
        let mut start = newline;
        while start > copied && matches!(b[start - 1], b' ' | b'\t' | b'\r') {
            start -= 1;
        }
        let mut end = newline + 1;
        while end < b.len() && matches!(b[end], b' ' | b'\t' | b'\r' | b'\n') {
            end += 1;
        }
        pos = end;
        let between_tags = start > 0 && b[start - 1] == b'>' && b.get(end) == Some(&b'<');
        if between_tags && (b.get(end + 1) != Some(&b'/') || closes_element(&b[..start])) {
            out.extend_from_slice(&b[copied..start]);
            copied = end;
        }
    }
    out.extend_from_slice(&b[copied..]);
    // Only ASCII bytes next to ASCII bytes were removed, so this cannot fail.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether `text`, which ends with `>`, ends with an end tag or an empty-element tag.
fn closes_element(text: &[u8]) -> bool {
    if text.len() >= 2 && text[text.len() - 2] == b'/' {
        return true;
    }
    match memchr::memrchr(b'<', text) {
        Some(lt) => text.get(lt + 1) == Some(&b'/'),
        None => false,
    }
}

/// Parses XML with DTDs allowed (most MusicXML carries a DOCTYPE) but with entity expansion
/// and node count bounded.
pub(crate) fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, String> {
    check_entity_expansion(text)?;
    let opts = roxmltree::ParsingOptions { allow_dtd: true, nodes_limit: MAX_NODES };
    roxmltree::Document::parse_with_options(text, opts).map_err(|e| e.to_string())
}

/// roxmltree stops entity loops and caps the references one reference may pull in, but a
/// document can still repeat a large entity many times. This adds up, before parsing, how
/// many characters all references to internal entities would produce, and refuses the
/// document past `MAX_ENTITY_EXPANSION`.
fn check_entity_expansion(text: &str) -> Result<(), String> {
    if !text.contains("<!ENTITY") {
        return Ok(());
    }
    let mut decls: HashMap<&str, &str> = HashMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("<!ENTITY") {
        rest = &rest[at + "<!ENTITY".len()..];
        let r = rest.trim_start();
        if r.starts_with('%') {
            continue; // parameter entities are not expanded into content
        }
        let name_end = r.find(|c: char| c.is_whitespace()).unwrap_or(r.len());
        let name = &r[..name_end];
        let r = r[name_end..].trim_start();
        let Some(quote) = r.chars().next().filter(|&q| q == '"' || q == '\'') else {
            continue; // external (SYSTEM/PUBLIC): roxmltree does not fetch those
        };
        if let Some(end) = r[1..].find(quote) {
            decls.entry(name).or_insert(&r[1..1 + end]);
        }
    }
    let mut memo: HashMap<&str, u64> = HashMap::new();
    let mut total: u64 = 0;
    for name in references(text) {
        total = total.saturating_add(expansion(name, &decls, &mut memo, 0)?);
        if total > MAX_ENTITY_EXPANSION {
            return Err(format!(
                "DTD entities expand to more than {} KiB (entity expansion attack?)",
                MAX_ENTITY_EXPANSION >> 10
            ));
        }
    }
    Ok(())
}

fn references(s: &str) -> impl Iterator<Item = &str> {
    s.match_indices('&').filter_map(move |(i, _)| {
        let r = &s[i + 1..];
        let end = r.find(';')?;
        let name = &r[..end];
        (!name.is_empty() && !name.starts_with('#') && name.len() < 256).then_some(name)
    })
}

fn expansion<'a>(
    name: &'a str,
    decls: &HashMap<&'a str, &'a str>,
    memo: &mut HashMap<&'a str, u64>,
    depth: u32,
) -> Result<u64, String> {
    let Some(value) = decls.get(name) else { return Ok(1) };
    if let Some(&n) = memo.get(name) {
        return Ok(n);
    }
    if depth > 16 {
        return Err("DTD entities nest too deeply".into());
    }
    let mut n = value.len() as u64;
    for r in references(value) {
        n = n.saturating_add(expansion(r, decls, memo, depth + 1)?);
    }
    memo.insert(name, n);
    Ok(n)
}

/// Title and composer, as far as the header gives them.
pub(crate) fn title_and_composer(root: roxmltree::Node) -> (Option<String>, Option<String>) {
    let clean = |s: &str| Some(s.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty());
    let text = |n: Option<roxmltree::Node>| n.and_then(|n| crate::xmlutil::et_text(n)).and_then(|t| clean(&t));
    let work = text(child(root, "work").and_then(|w| child(w, "work-title")));
    let movement = text(child(root, "movement-title"));
    let title = match (work, movement) {
        (Some(w), Some(m)) if w != m => Some(format!("{w}: {m}")),
        (w, m) => w.or(m),
    };
    let composer = child(root, "identification").and_then(|id| {
        elements(id)
            .filter(|c| c.tag_name().name() == "creator" && c.attribute("type") == Some("composer"))
            .find_map(|c| text(Some(c)))
    });
    (title, composer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billion_laughs_is_refused() {
        let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        doc.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
        for i in 2..10 {
            let p = i - 1;
            doc.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", format!("&lol{p};").repeat(10)));
        }
        doc.push_str("]>\n<lolz>&lol9;</lolz>");
        let err = parse_xml(&doc).unwrap_err();
        assert!(err.contains("entit"), "{err}");
    }

    #[test]
    fn a_few_small_entities_are_fine() {
        let doc = "<!DOCTYPE a [<!ENTITY x \"ab\">]><a>&x;&x;&amp;</a>";
        let d = parse_xml(doc).unwrap();
        assert_eq!(d.root_element().text(), Some("abab&"));
    }

    #[test]
    fn indentation_goes_leaf_text_stays() {
        let xml = "<a>\n  <b> 4 </b>\n  <c>\n  </c>\n  <d/>\n  <e>x</e>\n</a>\n";
        assert_eq!(strip_indentation(xml), "<a><b> 4 </b><c>\n  </c><d/><e>x</e></a>\n");
        let same = "<a> <b/> </a><c>\n</c>é\n<d>x\n<e/></d>";
        assert_eq!(strip_indentation(same), same);
        assert_eq!(strip_indentation("<a>\r\n\t<b/>\n\n  \n</a>"), "<a><b/></a>");
    }

    #[test]
    fn encodings() {
        let mut w = Warnings::default();
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("<a>é</a>".encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
        assert_eq!(decode(&utf16, true, &mut w).unwrap(), "<a>é</a>");
        let latin1 = b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xe9</a>";
        assert!(decode(latin1, true, &mut w).unwrap().ends_with("<a>é</a>"));
        assert!(decode(b"<a>\xff</a>", true, &mut w).is_err());
        assert!(decode(b"<a>\xff</a>", false, &mut w).is_ok());
    }
}
