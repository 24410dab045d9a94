//! A readable score of a performance: MusicXML 4.0 (partwise, with the DOCTYPE MuseScore
//! expects), one piano part on a grand staff.
//!
//! * Time: a fixed tempo (the sequence's first tempo, else 120 qpm, or the caller's), onsets
//!   and ends rounded to the 16th grid, every note at least a 16th; 4/4 measures.
//! * Staves: pitches from middle C up on the treble staff, the rest on the bass staff.
//! * Voices: notes with the same onset and length form a chord; chords go to the first voice
//!   of their staff that is free by then (up to four voices a staff). When all four are busy,
//!   the chord that started earliest is cut short where the new one starts (or, when every
//!   busy chord starts together with the new one, the new notes join the closest of them):
//!   lengths may change, pitches never do.
//! * Notes crossing a barline, or lasting a value that has no single note symbol (5, 9, 10,
//!   11, 13, 15 16ths), are split into tied notes; gaps in the first voice are rests, in other
//!   voices invisible `<forward>`s.
//! * Key signature: the major or minor key whose Krumhansl–Kessler profile best matches the
//!   duration-weighted pitch classes; black keys are spelt with sharps in sharp keys and flats
//!   in flat keys. Velocities go to each note's `dynamics` (percent of forte = 90).

use crate::{write_atomic, RenderError};
use cadenza_notes::NoteSequence;
use cadenza_performance::controls::key_histogram;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreOptions {
    /// Tempo of the beat grid; `None`: the sequence's first tempo, else 120.
    pub qpm: Option<f64>,
    pub title: Option<String>,
}

/// Divisions per quarter: the grid is a 16th.
const DIVISIONS: i64 = 4;
const MEASURE: i64 = 4 * DIVISIONS;
const MAX_VOICES: usize = 4;
/// Lowest pitch of the treble staff.
const SPLIT_PITCH: u8 = 60;

#[derive(Debug, Clone)]
struct Chord {
    onset: i64,
    dur: i64,
    /// (pitch, velocity)
    notes: Vec<(u8, u8)>,
}

#[derive(Debug, Clone)]
enum Item {
    Rest { dur: i64, whole_measure: bool },
    Skip(i64),
    Notes { notes: Vec<(u8, u8)>, dur: i64, tie_stop: bool, tie_start: bool },
}

/// Note values a single symbol can show, in 16ths: whole, dotted half, half, dotted quarter,
/// quarter, dotted eighth, eighth, 16th.
const VALUES: [(i64, &str, u32); 8] = [
    (16, "whole", 0),
    (12, "half", 1),
    (8, "half", 0),
    (6, "quarter", 1),
    (4, "quarter", 0),
    (3, "eighth", 1),
    (2, "eighth", 0),
    (1, "16th", 0),
];

fn pieces(mut d: i64) -> Vec<i64> {
    let mut out = Vec::new();
    while d > 0 {
        let v = VALUES.iter().find(|v| v.0 <= d).map_or(1, |v| v.0);
        out.push(v);
        d -= v;
    }
    out
}

fn value_of(d: i64) -> (&'static str, u32) {
    VALUES.iter().find(|v| v.0 == d).map_or(("16th", 0), |v| (v.1, v.2))
}

/// Assigns chords to at most `MAX_VOICES` non-overlapping voices.
fn voices(mut chords: Vec<Chord>) -> Vec<Vec<Chord>> {
    chords.sort_by(|a, b| a.onset.cmp(&b.onset).then(b.dur.cmp(&a.dur)));
    let mut voices: Vec<Vec<Chord>> = Vec::new();
    for ch in chords {
        let end = |v: &Vec<Chord>| v.last().map_or(0, |c| c.onset + c.dur);
        if let Some(v) = voices.iter_mut().find(|v| end(v) <= ch.onset) {
            v.push(ch);
            continue;
        }
        if voices.len() < MAX_VOICES {
            voices.push(vec![ch]);
            continue;
        }
        // All voices busy: cut the earliest-started busy chord, else join a simultaneous one.
        let earliest = (0..voices.len())
            .filter(|&i| voices[i].last().is_some_and(|c| c.onset < ch.onset))
            .min_by_key(|&i| voices[i].last().map_or(i64::MAX, |c| c.onset));
        if let Some(i) = earliest {
            let last = voices[i].last_mut().expect("busy voice");
            last.dur = ch.onset - last.onset;
            voices[i].push(ch);
        } else {
            let i = (0..voices.len())
                .min_by_key(|&i| voices[i].last().map_or(i64::MAX, |c| (c.dur - ch.dur).abs()))
                .expect("four voices");
            voices[i].last_mut().expect("busy voice").notes.extend(ch.notes);
        }
    }
    if voices.is_empty() {
        voices.push(Vec::new());
    }
    voices
}

/// One voice laid out in `n` measures.
fn layout(chords: &[Chord], n: usize, primary: bool) -> Vec<Vec<Item>> {
    let mut out: Vec<Vec<Item>> = vec![Vec::new(); n];
    let gap = |out: &mut Vec<Vec<Item>>, from: i64, to: i64| {
        let mut s = from;
        while s < to {
            let m = (s / MEASURE) as usize;
            let e = to.min((m as i64 + 1) * MEASURE);
            if primary {
                let whole = s % MEASURE == 0 && e - s == MEASURE;
                for d in pieces(e - s) {
                    out[m].push(Item::Rest { dur: d, whole_measure: whole });
                }
            } else {
                out[m].push(Item::Skip(e - s));
            }
            s = e;
        }
    };
    let mut t = 0i64;
    for ch in chords {
        gap(&mut out, t, ch.onset);
        let mut parts: Vec<(usize, i64)> = Vec::new();
        let mut s = ch.onset;
        let end = ch.onset + ch.dur;
        while s < end {
            let m = (s / MEASURE) as usize;
            let e = end.min((m as i64 + 1) * MEASURE);
            parts.extend(pieces(e - s).into_iter().map(|d| (m, d)));
            s = e;
        }
        let k = parts.len();
        for (i, (m, d)) in parts.into_iter().enumerate() {
            out[m].push(Item::Notes { notes: ch.notes.clone(), dur: d, tie_stop: i > 0, tie_start: i + 1 < k });
        }
        t = end;
    }
    gap(&mut out, t, n as i64 * MEASURE);
    out
}

/// Major/minor key with the best profile correlation → fifths of its signature.
fn estimate_fifths(hist: &[f64; 12]) -> (i32, bool) {
    const FIFTHS_OF_MAJOR: [i32; 12] = [0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5];
    if hist.iter().sum::<f64>() <= 0.0 {
        return (0, false);
    }
    // Pearson correlation of the histogram, rotated to `tonic`, with a key profile in C.
    let corr = |p: &[f64; 12], tonic: usize| {
        let mh = hist.iter().sum::<f64>() / 12.0;
        let mp = p.iter().sum::<f64>() / 12.0;
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for i in 0..12 {
            let x = hist[(i + tonic) % 12] - mh;
            let y = p[i] - mp;
            sxy += x * y;
            sxx += x * x;
            syy += y * y;
        }
        if sxx <= 0.0 || syy <= 0.0 {
            0.0
        } else {
            sxy / (sxx * syy).sqrt()
        }
    };
    let mut best = (f64::NEG_INFINITY, 0i32, false);
    for tonic in 0..12 {
        for minor in [false, true] {
            let r = corr(&key_histogram(0, minor), tonic);
            if r > best.0 {
                let major_tonic = if minor { (tonic + 3) % 12 } else { tonic };
                best = (r, FIFTHS_OF_MAJOR[major_tonic], minor);
            }
        }
    }
    (best.1, best.2)
}

fn spell(pitch: u8, fifths: i32) -> (&'static str, i32, i32) {
    const SHARP: [(&str, i32); 12] = [
        ("C", 0),
        ("C", 1),
        ("D", 0),
        ("D", 1),
        ("E", 0),
        ("F", 0),
        ("F", 1),
        ("G", 0),
        ("G", 1),
        ("A", 0),
        ("A", 1),
        ("B", 0),
    ];
    const FLAT: [(&str, i32); 12] = [
        ("C", 0),
        ("D", -1),
        ("D", 0),
        ("E", -1),
        ("E", 0),
        ("F", 0),
        ("G", -1),
        ("G", 0),
        ("A", -1),
        ("A", 0),
        ("B", -1),
        ("B", 0),
    ];
    const NEUTRAL: [(&str, i32); 12] = [
        ("C", 0),
        ("C", 1),
        ("D", 0),
        ("E", -1),
        ("E", 0),
        ("F", 0),
        ("F", 1),
        ("G", 0),
        ("G", 1),
        ("A", 0),
        ("B", -1),
        ("B", 0),
    ];
    let table = match fifths.signum() {
        1 => &SHARP,
        -1 => &FLAT,
        _ => &NEUTRAL,
    };
    let (step, alter) = table[(pitch % 12) as usize];
    (step, alter, pitch as i32 / 12 - 1)
}

/// `s` as HTML or XML text or a quoted attribute value: `&`, `<`, `>` and `"` escaped. Every
/// page and score Cadenza writes escapes through this.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The score as a MusicXML document.
pub fn musicxml_string(seq: &NoteSequence, opts: &ScoreOptions) -> String {
    let qpm =
        opts.qpm.or_else(|| seq.tempos.first().map(|t| t.qpm)).filter(|q| q.is_finite() && *q > 0.0).unwrap_or(120.0);
    let unit = 60.0 / qpm / DIVISIONS as f64;
    let mut hist = [0.0f64; 12];
    let mut staff_chords: [Vec<Chord>; 2] = [Vec::new(), Vec::new()];
    for n in &seq.notes {
        if !(n.start.is_finite() && n.end.is_finite()) || n.pitch > 127 {
            continue;
        }
        let onset = (n.start.max(0.0) / unit).round() as i64;
        let end = (n.end.max(0.0) / unit).round() as i64;
        let dur = (end - onset).max(1);
        hist[(n.pitch % 12) as usize] += dur as f64;
        let staff = usize::from(n.pitch < SPLIT_PITCH);
        let chords = &mut staff_chords[staff];
        match chords.iter_mut().find(|c| c.onset == onset && c.dur == dur) {
            Some(c) => c.notes.push((n.pitch, n.velocity)),
            None => chords.push(Chord { onset, dur, notes: vec![(n.pitch, n.velocity)] }),
        }
    }
    let (fifths, minor) = estimate_fifths(&hist);
    let staff_voices: Vec<Vec<Vec<Chord>>> = staff_chords.into_iter().map(voices).collect();
    let end = staff_voices.iter().flatten().flatten().map(|c| c.onset + c.dur).max().unwrap_or(0);
    let n_measures = ((end + MEASURE - 1) / MEASURE).max(1) as usize;
    let laid: Vec<Vec<Vec<Vec<Item>>>> = staff_voices
        .iter()
        .map(|vs| vs.iter().enumerate().map(|(i, v)| layout(v, n_measures, i == 0)).collect())
        .collect();

    let title = escape_html(opts.title.as_deref().unwrap_or("Cadenza sample"));
    let mut x = String::with_capacity(4096 + seq.notes.len() * 300);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n");
    x.push_str("<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" \"http://www.musicxml.org/dtds/partwise.dtd\">\n");
    x.push_str("<score-partwise version=\"4.0\">\n");
    let _ = writeln!(x, "  <work><work-title>{title}</work-title></work>");
    x.push_str("  <identification><encoding><software>Cadenza</software></encoding></identification>\n");
    x.push_str("  <part-list>\n    <score-part id=\"P1\">\n      <part-name>Piano</part-name>\n");
    x.push_str("      <score-instrument id=\"P1-I1\"><instrument-name>Piano</instrument-name></score-instrument>\n");
    x.push_str("      <midi-instrument id=\"P1-I1\"><midi-channel>1</midi-channel><midi-program>1</midi-program></midi-instrument>\n");
    x.push_str("    </score-part>\n  </part-list>\n  <part id=\"P1\">\n");
    let qpm_text = format!("{}", (qpm * 100.0).round() / 100.0);
    for m in 0..n_measures {
        let _ = writeln!(x, "    <measure number=\"{}\">", m + 1);
        if m == 0 {
            let _ = writeln!(
                x,
                "      <attributes><divisions>{DIVISIONS}</divisions><key><fifths>{fifths}</fifths><mode>{}</mode></key><time><beats>4</beats><beat-type>4</beat-type></time><staves>2</staves><clef number=\"1\"><sign>G</sign><line>2</line></clef><clef number=\"2\"><sign>F</sign><line>4</line></clef></attributes>",
                if minor { "minor" } else { "major" }
            );
            let _ = writeln!(
                x,
                "      <direction placement=\"above\"><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>{qpm_text}</per-minute></metronome></direction-type><staff>1</staff><sound tempo=\"{qpm_text}\"/></direction>"
            );
        }
        let mut first = true;
        for (s, voices) in laid.iter().enumerate() {
            for (vi, measures) in voices.iter().enumerate() {
                let items = &measures[m];
                if vi > 0 && items.iter().all(|i| matches!(i, Item::Skip(_))) {
                    continue;
                }
                if !first {
                    let _ = writeln!(x, "      <backup><duration>{MEASURE}</duration></backup>");
                }
                first = false;
                let voice = s * MAX_VOICES + vi + 1;
                let staff = s + 1;
                for item in items {
                    write_item(&mut x, item, voice, staff, fifths);
                }
            }
        }
        if m + 1 == n_measures {
            x.push_str("      <barline location=\"right\"><bar-style>light-heavy</bar-style></barline>\n");
        }
        x.push_str("    </measure>\n");
    }
    x.push_str("  </part>\n</score-partwise>\n");
    x
}

fn write_item(x: &mut String, item: &Item, voice: usize, staff: usize, fifths: i32) {
    match item {
        Item::Skip(d) => {
            let _ = writeln!(
                x,
                "      <forward><duration>{d}</duration><voice>{voice}</voice><staff>{staff}</staff></forward>"
            );
        }
        Item::Rest { dur, whole_measure } => {
            if *whole_measure {
                let _ = writeln!(x, "      <note><rest measure=\"yes\"/><duration>{dur}</duration><voice>{voice}</voice><staff>{staff}</staff></note>");
            } else {
                let (ty, dots) = value_of(*dur);
                let _ = writeln!(
                    x,
                    "      <note><rest/><duration>{dur}</duration><voice>{voice}</voice><type>{ty}</type>{}<staff>{staff}</staff></note>",
                    "<dot/>".repeat(dots as usize)
                );
            }
        }
        Item::Notes { notes, dur, tie_stop, tie_start } => {
            let mut sorted = notes.clone();
            sorted.sort_unstable();
            let (ty, dots) = value_of(*dur);
            for (i, &(pitch, vel)) in sorted.iter().enumerate() {
                let (step, alter, octave) = spell(pitch, fifths);
                let dynamics = (vel as f64 * 100.0 / 90.0 * 100.0).round() / 100.0;
                let _ = write!(x, "      <note dynamics=\"{dynamics}\">");
                if i > 0 {
                    x.push_str("<chord/>");
                }
                let alter_xml = if alter != 0 { format!("<alter>{alter}</alter>") } else { String::new() };
                let _ = write!(
                    x,
                    "<pitch><step>{step}</step>{alter_xml}<octave>{octave}</octave></pitch><duration>{dur}</duration>"
                );
                if *tie_stop {
                    x.push_str("<tie type=\"stop\"/>");
                }
                if *tie_start {
                    x.push_str("<tie type=\"start\"/>");
                }
                let _ = write!(
                    x,
                    "<voice>{voice}</voice><type>{ty}</type>{}<staff>{staff}</staff>",
                    "<dot/>".repeat(dots as usize)
                );
                if *tie_stop || *tie_start {
                    x.push_str("<notations>");
                    if *tie_stop {
                        x.push_str("<tied type=\"stop\"/>");
                    }
                    if *tie_start {
                        x.push_str("<tied type=\"start\"/>");
                    }
                    x.push_str("</notations>");
                }
                x.push_str("</note>\n");
            }
        }
    }
}

pub fn write_musicxml(seq: &NoteSequence, path: &Path, opts: &ScoreOptions) -> Result<(), RenderError> {
    write_atomic(path, musicxml_string(seq, opts).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_lengths_split_into_symbols() {
        assert_eq!(pieces(5), vec![4, 1]);
        assert_eq!(pieces(15), vec![12, 3]);
        assert_eq!(pieces(16), vec![16]);
        assert_eq!(value_of(6), ("quarter", 1));
    }

    #[test]
    fn c_major_scale_is_c_major_and_flat_keys_spell_flats() {
        let mut h = [0.0; 12];
        for (pc, w) in [(0, 6.0), (2, 3.0), (4, 4.0), (5, 4.0), (7, 5.0), (9, 3.0), (11, 2.0)] {
            h[pc] = w;
        }
        assert_eq!(estimate_fifths(&h), (0, false));
        assert_eq!(spell(70, -2), ("B", -1, 4));
        assert_eq!(spell(61, 3), ("C", 1, 4));
        assert_eq!(spell(60, 0), ("C", 0, 4));
    }

    #[test]
    fn crowded_staff_keeps_every_pitch() {
        // Five overlapping notes with different lengths: the fifth must cut or join.
        let chords: Vec<Chord> =
            (0..6).map(|i| Chord { onset: i, dur: 20 - i, notes: vec![(60 + i as u8, 80)] }).collect();
        let v = voices(chords);
        assert!(v.len() <= MAX_VOICES);
        let mut pitches: Vec<u8> = v.iter().flatten().flat_map(|c| c.notes.iter().map(|n| n.0)).collect();
        pitches.sort_unstable();
        assert_eq!(pitches, vec![60, 61, 62, 63, 64, 65]);
        for voice in &v {
            for w in voice.windows(2) {
                assert!(w[0].onset + w[0].dur <= w[1].onset);
            }
        }
    }
}
