//! Never panic: a real score with random values swapped in, elements duplicated or cut,
//! must import or fail with an error, and never yield a non-finite time.

use cadenza_musicxml::{read_bytes, ImportOptions};
use std::io::Read;

const WEIRD: [&str; 14] = [
    "",
    "0",
    "-1",
    "-0",
    "1.5",
    "NaN",
    "inf",
    "1e309",
    "99999999999999999999",
    "9223372036854775807",
    "abc",
    "  7 ",
    "-9223372036854775808",
    "0.000000001",
];

/// xorshift: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn real_score() -> String {
    let path = cadenza_shared::require("data/asap/Bach/Fugue/bwv_846/xml_score.mxl");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("ASAP data missing at {}: {e}", path.display()));
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let mut xml = String::new();
    zip.by_name("score.musicxml").unwrap().read_to_string(&mut xml).unwrap();
    xml
}

fn mutate(xml: &str, rng: &mut Rng) -> String {
    let b = xml.as_bytes();
    // Start of some element's text: after a '>' that is followed by something other than '<'.
    let leaf = |rng: &mut Rng| loop {
        let at = rng.next(b.len() - 1);
        if let Some(k) = xml[at..].find('>') {
            let s = at + k + 1;
            if s < b.len() && b[s] != b'<' && b[s] != b'\n' {
                if let Some(e) = xml[s..].find('<') {
                    return (s, s + e);
                }
            }
        }
    };
    match rng.next(4) {
        0 | 1 => {
            // Several values at once, so that odd combinations are reached.
            let mut out = xml.to_string();
            for _ in 0..1 + rng.next(5) {
                let (s, e) = leaf(rng);
                if e <= out.len() && out.is_char_boundary(s) && out.is_char_boundary(e) {
                    out.replace_range(s..e, WEIRD[rng.next(WEIRD.len())]);
                }
            }
            out
        }
        2 => {
            // Duplicate or drop one line (an element, or half of one).
            let lines: Vec<&str> = xml.lines().collect();
            let i = rng.next(lines.len());
            let mut out: Vec<&str> = lines.clone();
            if rng.next(2) == 0 {
                out.insert(i, lines[i]);
            } else {
                out.remove(i);
            }
            out.join("\n")
        }
        _ => {
            let mut cut = rng.next(xml.len());
            while !xml.is_char_boundary(cut) {
                cut -= 1;
            }
            xml[..cut].to_string()
        }
    }
}

#[test]
fn mutated_real_scores_never_panic() {
    let xml = real_score();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let modes = [
        ImportOptions { magenta_compat: false, expand_repeats: false },
        ImportOptions { magenta_compat: true, expand_repeats: false },
        ImportOptions { magenta_compat: false, expand_repeats: true },
    ];
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..150 {
        let m = mutate(&xml, &mut rng);
        for opts in &modes {
            match read_bytes(m.as_bytes(), "mutant.xml", opts) {
                Ok(imp) => {
                    ok += 1;
                    let s = imp.sequence;
                    assert!(s.total_time.is_finite());
                    assert!(s.notes.iter().all(|n| n.start.is_finite() && n.end.is_finite() && n.pitch <= 127));
                }
                Err(e) => {
                    failed += 1;
                    assert!(e.to_string().starts_with("mutant.xml: "));
                }
            }
        }
    }
    eprintln!("mutants: {ok} imported, {failed} rejected");
    assert!(ok > 0 && failed > 0);
}
