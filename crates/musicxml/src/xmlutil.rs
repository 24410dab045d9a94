//! Small helpers over roxmltree shared by both parsers, including the exact behaviour of
//! Python's `int()` / `float()` and ElementTree's `.text`, which decide whether note-seq
//! accepts a value.

use roxmltree::Node;
use std::borrow::Cow;

/// Element children only: ElementTree drops comments and processing instructions, and
/// both parsers look at elements alone.
pub(crate) fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

/// First element child named `name` (ElementTree's `find(name)`).
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(node).find(|c| c.tag_name().name() == name)
}

pub(crate) fn children<'a, 'i: 'a>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    elements(node).filter(move |c| c.tag_name().name() == name)
}

pub(crate) fn name<'a>(node: Node<'a, '_>) -> &'a str {
    node.tag_name().name()
}

/// ElementTree's `.text`: the character data before the first child element (comments in
/// between are invisible to ElementTree), or `None` when there is none.
pub(crate) fn et_text<'a>(node: Node<'a, '_>) -> Option<Cow<'a, str>> {
    let mut out: Option<Cow<'a, str>> = None;
    for c in node.children() {
        if c.is_element() {
            break;
        }
        if let Some(t) = c.text().filter(|_| c.is_text()) {
            out = Some(match out {
                None => Cow::Borrowed(t),
                Some(prev) => Cow::Owned(format!("{prev}{t}")),
            });
        }
    }
    out
}

/// Text of the first child named `name`, trimmed; `None` when absent or empty.
pub(crate) fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<Cow<'a, str>> {
    let t = et_text(child(node, name)?)?;
    let trimmed = t.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == t.len() {
        Some(t)
    } else {
        Some(Cow::Owned(trimmed.to_string()))
    }
}

fn py_strip(s: &str) -> &str {
    // str.strip() with no argument strips what str.isspace() calls whitespace; Rust's
    // is_whitespace misses only the four ASCII separators 0x1C..0x1F.
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Removes the underscores Python accepts between digits ("1_000"); `None` if one is
/// misplaced, which Python rejects.
fn py_underscores(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('_') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i > 0 && b[i - 1].is_ascii_digit();
            let after = i + 1 < b.len() && b[i + 1].is_ascii_digit();
            if !(before && after) {
                return None;
            }
        }
    }
    Some(Cow::Owned(s.replace('_', "")))
}

/// Python's `int(text)` for a decimal string; `Err` carries Python's complaint. Values
/// beyond i64 are reported as errors (Python would carry on with a bignum, but every such
/// value ends in an exception or a proto range error later in note-seq anyway).
pub(crate) fn py_int(text: Option<&str>) -> Result<i64, String> {
    let Some(text) = text else {
        return Err("int() argument must be a string, not 'NoneType'".into());
    };
    let bad = || format!("invalid literal for int() with base 10: {text:?}");
    let s = py_strip(text);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = py_underscores(digits).ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let v: i128 = digits.trim_start_matches('0').parse::<i128>().or_else(|_| {
        if digits.trim_start_matches('0').is_empty() {
            Ok(0)
        } else {
            Err(format!("integer {text:?} is too large"))
        }
    })?;
    let v = if neg { -v } else { v };
    i64::try_from(v).map_err(|_| format!("integer {text:?} is too large"))
}

/// Python's `float(text)`.
pub(crate) fn py_float(text: Option<&str>) -> Result<f64, String> {
    let Some(text) = text else {
        return Err("float() argument must be a string or a real number, not 'NoneType'".into());
    };
    let bad = || format!("could not convert string to float: {text:?}");
    let s = py_underscores(py_strip(text)).ok_or_else(bad)?;
    // Rust and Python agree on the syntax of decimal literals and on "inf"/"nan" spelled in
    // any case; both round correctly. Rust also takes "infinity", as does Python.
    s.parse::<f64>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int() {
        assert_eq!(py_int(Some(" 12\n")), Ok(12));
        assert_eq!(py_int(Some("+3")), Ok(3));
        assert_eq!(py_int(Some("-0")), Ok(0));
        assert_eq!(py_int(Some("1_000")), Ok(1000));
        assert!(py_int(Some("1__0")).is_err());
        assert!(py_int(Some("_1")).is_err());
        assert!(py_int(Some("1.0")).is_err());
        assert!(py_int(Some("")).is_err());
        assert!(py_int(None).is_err());
        assert!(py_int(Some("99999999999999999999999")).is_err());
    }

    #[test]
    fn python_float() {
        assert_eq!(py_float(Some(" 88.5 ")), Ok(88.5));
        assert_eq!(py_float(Some("1_0.5")), Ok(10.5));
        assert!(py_float(Some("nan")).unwrap().is_nan());
        assert_eq!(py_float(Some("-Inf")), Ok(f64::NEG_INFINITY));
        assert!(py_float(Some("abc")).is_err());
        assert!(py_float(Some("")).is_err());
    }

    #[test]
    fn element_tree_text() {
        let doc = roxmltree::Document::parse("<a><b>4</b><c><!--x-->5</c><d/><e>x<f/>y</e></a>").unwrap();
        let root = doc.root_element();
        let t = |n: &str| et_text(child(root, n).unwrap()).map(|c| c.into_owned());
        assert_eq!(t("b").as_deref(), Some("4"));
        assert_eq!(t("c").as_deref(), Some("5"));
        assert_eq!(t("d"), None);
        assert_eq!(t("e").as_deref(), Some("x"));
    }
}
