//! Small hand-written scores: one behaviour each, in both modes, plus hostile input.

use cadenza_musicxml::{read_bytes, read_file, ImportOptions, Imported, MusicXmlError};
use cadenza_notes::{Mode, Note};
use std::io::Write;

const COMPAT: ImportOptions = ImportOptions { magenta_compat: true, expand_repeats: false };
const DEFAULT: ImportOptions = ImportOptions { magenta_compat: false, expand_repeats: false };
const REPEATS: ImportOptions = ImportOptions { magenta_compat: false, expand_repeats: true };

const ATTR: &str =
    "<attributes><divisions>1</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>";

/// A one-part score-partwise document around `measures`.
fn one(measures: &str) -> String {
    parts(&[measures])
}

fn parts(measures: &[&str]) -> String {
    let mut list = String::new();
    let mut body = String::new();
    for (i, m) in measures.iter().enumerate() {
        list.push_str(&format!(
            r#"<score-part id="P{i}"><part-name>P{i}</part-name><midi-instrument id="P{i}-I1"><midi-channel>{}</midi-channel><midi-program>1</midi-program></midi-instrument></score-part>"#,
            i + 1
        ));
        body.push_str(&format!(r#"<part id="P{i}">{m}</part>"#));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0"><work><work-title>Test</work-title></work>
<identification><creator type="composer">Anon</creator></identification>
<part-list>{list}</part-list>{body}</score-partwise>"#
    )
}

fn measure(content: &str) -> String {
    format!(r#"<measure number="1">{content}</measure>"#)
}

/// A pitched note: `n("C", 0, 4, 1, "")`; `extra` goes inside `<note>` after `<voice>`.
fn n(step: &str, alter: i32, octave: i32, dur: u32, extra: &str) -> String {
    let alter = if alter != 0 { format!("<alter>{alter}</alter>") } else { String::new() };
    format!(
        "<note><pitch><step>{step}</step>{alter}<octave>{octave}</octave></pitch><duration>{dur}</duration><voice>1</voice>{extra}</note>"
    )
}

fn read(xml: &str, opts: ImportOptions) -> Imported {
    read_bytes(xml.as_bytes(), "test.musicxml", &opts).unwrap_or_else(|e| panic!("{e}"))
}

fn err(bytes: &[u8], name: &str, opts: ImportOptions) -> MusicXmlError {
    match read_bytes(bytes, name, &opts) {
        Ok(imp) => panic!("{name}: expected an error, got {} notes", imp.sequence.notes.len()),
        Err(e) => {
            assert!(e.to_string().starts_with(&format!("{name}: ")), "error does not name the file: {e}");
            assert_eq!(e.file(), name);
            e
        }
    }
}

fn pitches(s: &[Note]) -> Vec<u8> {
    s.iter().map(|n| n.pitch).collect()
}

fn times(s: &[Note]) -> Vec<(u8, f64, f64)> {
    s.iter().map(|n| (n.pitch, n.start, n.end)).collect()
}

// ---- pitch -------------------------------------------------------------------------------

#[test]
fn pitch_spelling_and_microtones() {
    let xml = one(&measure(&format!(
        "{ATTR}{}{}{}{}",
        n("C", -1, 4, 1, ""),
        n("B", 1, 4, 1, ""),
        "<note><pitch><step>C</step><alter>0.5</alter><octave>4</octave></pitch><duration>1</duration></note>",
        n("B", -2, 3, 1, "")
    )));
    assert_eq!(pitches(&read(&xml, DEFAULT).sequence.notes), vec![59, 72, 61, 57]);
    // note-seq wraps the pitch class without carrying the octave (magenta issue #1182).
    assert_eq!(pitches(&read(&xml, COMPAT).sequence.notes), vec![71, 60, 60, 57]);
}

// ---- chords, ties, grace notes -------------------------------------------------------------

#[test]
fn chord_notes_keep_their_own_durations() {
    let xml = one(&measure(&format!(
        "{ATTR}{}{}",
        n("C", 0, 4, 4, ""),
        n("E", 0, 4, 1, "").replacen("<note>", "<note><chord/>", 1)
    )));
    assert_eq!(times(&read(&xml, DEFAULT).sequence.notes), vec![(60, 0.0, 2.0), (64, 0.0, 0.5)]);
    // note-seq gives every chord note the first note's duration.
    assert_eq!(times(&read(&xml, COMPAT).sequence.notes), vec![(60, 0.0, 2.0), (64, 0.0, 2.0)]);
}

#[test]
fn tied_notes_are_one_note() {
    let m1 = measure(&format!(
        "{ATTR}{}{}",
        n("D", 0, 4, 2, ""),
        n("C", 0, 4, 2, r#"<tie type="start"/><notations><tied type="start"/></notations>"#)
    ));
    // The continuation sits in the next measure, after a voice-2 note of the same pitch.
    let m2 = format!(
        r#"<measure number="2">{}<backup><duration>4</duration></backup>{}</measure>"#,
        n("C", 0, 4, 4, r#"<tie type="stop"/>"#),
        n("C", 0, 3, 4, "").replace("<voice>1</voice>", "<voice>2</voice>")
    );
    let xml = one(&format!("{m1}{m2}"));
    let d = read(&xml, DEFAULT);
    assert_eq!(times(&d.sequence.notes), vec![(62, 0.0, 1.0), (60, 1.0, 4.0), (48, 2.0, 4.0)]);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert_eq!(read(&xml, COMPAT).sequence.notes.len(), 4);
}

#[test]
fn grace_notes_take_time_from_their_principal() {
    let grace = |slash: &str, step: &str, ty: &str, attrs: &str| {
        format!(
            r#"<note><grace{slash}{attrs}/><pitch><step>{step}</step><octave>5</octave></pitch><voice>1</voice><type>{ty}</type></note>"#
        )
    };
    // Acciaccatura before beat 2: a 32nd (1/8 quarter = 62.5 ms at 120 qpm) taken from E4.
    let xml = one(&measure(&format!(
        "{ATTR}{}{}{}<note><rest/><duration>2</duration><voice>1</voice></note>",
        n("C", 0, 4, 1, ""),
        grace(r#" slash="yes""#, "D", "eighth", ""),
        n("E", 0, 4, 1, "")
    )));
    let d = read(&xml, DEFAULT).sequence;
    assert_eq!(times(&d.notes), vec![(60, 0.0, 0.5), (74, 0.5, 0.5625), (64, 0.5625, 1.0)]);
    // note-seq: the grace note sits at 0 with length 0.
    let c = read(&xml, COMPAT).sequence;
    assert_eq!(times(&c.notes), vec![(60, 0.0, 0.5), (74, 0.0, 0.0), (64, 0.5, 1.0)]);

    // An appoggiatura (eighth) before a half note takes its written value.
    let xml =
        one(&measure(&format!("{ATTR}{}{}{}", n("C", 0, 4, 2, ""), grace("", "D", "eighth", ""), n("E", 0, 4, 2, ""))));
    assert_eq!(times(&read(&xml, DEFAULT).sequence.notes), vec![(60, 0.0, 1.0), (74, 1.0, 1.25), (64, 1.25, 2.0)]);

    // Two graces in a row share the time in order; never more than 1/4 of a quarter note.
    let xml = one(&measure(&format!(
        "{ATTR}{}{}{}{}<note><rest/><duration>2</duration><voice>1</voice></note>",
        n("C", 0, 4, 1, ""),
        grace(r#" slash="yes""#, "D", "16th", ""),
        grace(r#" slash="yes""#, "F", "16th", ""),
        n("E", 0, 4, 1, "")
    )));
    assert_eq!(
        times(&read(&xml, DEFAULT).sequence.notes),
        vec![(60, 0.0, 0.5), (74, 0.5, 0.5625), (77, 0.5625, 0.625), (64, 0.625, 1.0)]
    );

    // steal-time-previous: the grace takes half of the previous note; E4 stays on the beat.
    let xml = one(&measure(&format!(
        "{ATTR}{}{}{}<note><rest/><duration>2</duration><voice>1</voice></note>",
        n("C", 0, 4, 1, ""),
        grace("", "D", "eighth", r#" steal-time-previous="50""#),
        n("E", 0, 4, 1, "")
    )));
    assert_eq!(times(&read(&xml, DEFAULT).sequence.notes), vec![(60, 0.0, 0.25), (74, 0.25, 0.5), (64, 0.5, 1.0)]);

    // steal-time-following: exactly that share of the principal.
    let xml = one(&measure(&format!(
        "{ATTR}{}{}",
        grace("", "D", "eighth", r#" steal-time-following="25""#),
        n("E", 0, 4, 4, "")
    )));
    assert_eq!(times(&read(&xml, DEFAULT).sequence.notes), vec![(74, 0.0, 0.5), (64, 0.5, 2.0)]);
}

// ---- tempo ---------------------------------------------------------------------------------

#[test]
fn metronome_marks_set_the_tempo() {
    let metronome = r#"<direction><direction-type><metronome><beat-unit>quarter</beat-unit><beat-unit-dot/><per-minute>60</per-minute></metronome></direction-type></direction>"#;
    let xml = one(&measure(&format!("{ATTR}{metronome}{}", n("C", 0, 4, 1, ""))));
    let d = read(&xml, DEFAULT).sequence;
    assert_eq!(d.tempos.len(), 1);
    assert_eq!(d.tempos[0].qpm, 90.0); // dotted quarter = 60
    assert_eq!(d.notes[0].end, 60.0 / 90.0);
    // note-seq reads only <sound tempo> inside <direction>.
    assert_eq!(read(&xml, COMPAT).sequence.notes[0].end, 0.5);

    let odd = r#"<direction><direction-type><metronome><beat-unit>half</beat-unit><per-minute>c. 60</per-minute></metronome></direction-type></direction>"#;
    let imp = read(&one(&measure(&format!("{ATTR}{odd}{}", n("C", 0, 4, 1, "")))), DEFAULT);
    assert_eq!(imp.sequence.notes[0].end, 0.5);
    assert!(imp.warnings.iter().any(|w| w.contains("metronome")), "{:?}", imp.warnings);

    // A <sound> directly in <measure> counts too.
    let xml = one(&measure(&format!(r#"{ATTR}<sound tempo="60"/>{}"#, n("C", 0, 4, 1, ""))));
    assert_eq!(read(&xml, DEFAULT).sequence.notes[0].end, 1.0);
    assert_eq!(read(&xml, COMPAT).sequence.notes[0].end, 0.5);
}

#[test]
fn one_tempo_map_for_all_parts() {
    let tempo = |q: u32| {
        format!(r#"<direction><direction-type><words>x</words></direction-type><sound tempo="{q}"/></direction>"#)
    };
    let p1 = format!(
        r#"{}<measure number="2">{}{}</measure>"#,
        measure(&format!("{ATTR}{}{}", tempo(60), n("C", 0, 5, 4, ""))),
        tempo(120),
        n("C", 0, 5, 4, "")
    );
    let p2 = format!(
        r#"{}<measure number="2">{}</measure>"#,
        measure(&format!("{ATTR}{}", n("C", 0, 3, 4, ""))),
        n("C", 0, 3, 4, "")
    );
    let xml = parts(&[&p1, &p2]);
    let d = read(&xml, DEFAULT).sequence;
    assert_eq!(times(&d.notes), vec![(72, 0.0, 4.0), (48, 0.0, 4.0), (72, 4.0, 6.0), (48, 4.0, 6.0)]);
    assert_eq!(d.total_time, 6.0);
    assert_eq!(d.tempos.iter().map(|t| (t.time, t.qpm)).collect::<Vec<_>>(), vec![(0.0, 60.0), (4.0, 120.0)]);
    // note-seq: part 2 inherits the tempo part 1 ended with.
    let c = read(&xml, COMPAT).sequence;
    assert_eq!(times(&c.notes), vec![(72, 0.0, 4.0), (72, 4.0, 6.0), (48, 0.0, 2.0), (48, 2.0, 4.0)]);
    assert_eq!(c.total_time, 6.0);

    // A tempo written only in the lower part still times the upper one.
    let xml = parts(&[
        &measure(&format!("{ATTR}{}", n("C", 0, 5, 4, ""))),
        &measure(&format!("{ATTR}{}{}", tempo(60), n("C", 0, 3, 4, ""))),
    ]);
    assert!(read(&xml, DEFAULT).sequence.notes.iter().all(|n| n.end == 4.0));
}

#[test]
fn bad_tempos_never_give_nan() {
    for bad in ["-60", "NaN", "0", "inf", "fast"] {
        let xml =
            one(&measure(&format!(r#"{ATTR}<direction><sound tempo="{bad}"/></direction>{}"#, n("C", 0, 4, 1, ""))));
        let d = read(&xml, DEFAULT);
        assert_eq!(times(&d.sequence.notes), vec![(60, 0.0, 0.5)], "tempo {bad}");
        assert!(!d.warnings.is_empty(), "tempo {bad} should be reported");
        match read_bytes(xml.as_bytes(), "t.xml", &COMPAT) {
            // note-seq reads 0 as 120.
            Ok(c) => {
                assert_eq!(bad, "0");
                assert_eq!(c.sequence.notes[0].end, 0.5);
            }
            Err(e) => assert!(matches!(e, MusicXmlError::MagentaRejects { .. }), "{e}"),
        }
    }
}

// ---- dynamics --------------------------------------------------------------------------------

#[test]
fn dynamics_set_velocities() {
    let dynamic =
        |m: &str| format!("<direction><direction-type><dynamics><{m}/></dynamics></direction-type></direction>");
    let m1 = measure(&format!(
        "{ATTR}{}{}{}{}{}{}",
        n("C", 0, 4, 1, ""),
        dynamic("p"),
        n("D", 0, 4, 1, ""),
        dynamic("sf"),
        n("E", 0, 4, 1, ""),
        n("F", 0, 4, 1, "")
    ));
    let m2 = format!(
        r#"<measure number="2"><direction><direction-type><words>forte</words></direction-type><sound dynamics="100"/></direction>{}{}{}{}</measure>"#,
        n("G", 0, 4, 1, ""),
        n("A", 0, 4, 1, "").replace("<note>", r#"<note dynamics="50">"#),
        n("B", 0, 4, 1, ""),
        n("C", 0, 5, 1, "").replace("<note>", r#"<note dynamics="0">"#)
    );
    let xml = one(&format!("{m1}{m2}"));
    let v: Vec<(u8, u8)> = read(&xml, DEFAULT).sequence.notes.iter().map(|n| (n.pitch, n.velocity)).collect();
    // 64 before any mark, p = 49, sf accents one note (101), <sound dynamics="100"> = 90,
    // a note's own dynamics="50" = 45, and dynamics="0" silences the note.
    assert_eq!(v, vec![(60, 64), (62, 49), (64, 101), (65, 49), (67, 90), (69, 45), (71, 90)]);
    assert!(read(&xml, COMPAT).sequence.notes.iter().all(|n| n.velocity == 64));
}

#[test]
fn dynamics_apply_by_position_across_voices() {
    // "p" is written mid-measure in voice 1; voice 2 (after <backup>) is loud before it.
    let xml = one(&measure(&format!(
        "{ATTR}{}{}<direction><direction-type><dynamics><p/></dynamics></direction-type></direction>{}<backup><duration>4</duration></backup>{}{}",
        n("C", 0, 5, 1, ""),
        n("C", 0, 5, 1, ""),
        n("C", 0, 5, 2, ""),
        n("C", 0, 3, 2, "").replace("<voice>1</voice>", "<voice>2</voice>"),
        n("C", 0, 3, 2, "").replace("<voice>1</voice>", "<voice>2</voice>"),
    )));
    let v: Vec<(u8, f64, u8)> =
        read(&xml, DEFAULT).sequence.notes.iter().map(|n| (n.pitch, n.start, n.velocity)).collect();
    assert_eq!(v, vec![(48, 0.0, 64), (72, 0.0, 64), (72, 0.5, 64), (48, 1.0, 49), (72, 1.0, 49)]);
}

// ---- transposition, keys, meters --------------------------------------------------------------

#[test]
fn transposing_instrument_with_octave_change() {
    // Bass clarinet: written D5 in D major sounds C4 in C major.
    let xml = one(&measure(
        &(r#"<attributes><divisions>1</divisions><key><fifths>2</fifths><mode>major</mode></key><time><beats>4</beats><beat-type>4</beat-type></time><transpose><diatonic>-1</diatonic><chromatic>-2</chromatic><octave-change>-1</octave-change></transpose></attributes>"#
            .to_string()
            + &n("D", 0, 5, 4, "")),
    ));
    let d = read(&xml, DEFAULT).sequence;
    assert_eq!(pitches(&d.notes), vec![60]);
    assert_eq!((d.key_signatures[0].key, d.key_signatures[0].mode), (0, Mode::Major));
    // note-seq ignores <octave-change> but shifts the key the same way.
    let c = read(&xml, COMPAT).sequence;
    assert_eq!(pitches(&c.notes), vec![72]);
    assert_eq!((c.key_signatures[0].key, c.key_signatures[0].mode), (0, Mode::Major));
}

#[test]
fn keys_keep_their_mode_and_meters_never_fail() {
    let attrs = r#"<attributes><divisions>2</divisions><key><fifths>-3</fifths><mode>minor</mode></key><key number="2"><fifths>-3</fifths><mode>minor</mode></key><time><beats>3+2</beats><beat-type>8</beat-type></time></attributes>"#;
    let alternating = r#"<attributes><time><beats>2</beats><beat-type>4</beat-type><beats>3</beats><beat-type>8</beat-type></time><key><fifths>1</fifths><mode>dorian</mode></key></attributes>"#;
    let xml = one(&format!(
        r#"{}<measure number="2">{alternating}{}</measure>"#,
        measure(&format!("{attrs}{}", n("C", 0, 4, 5, ""))),
        n("C", 0, 4, 7, "")
    ));
    let d = read(&xml, DEFAULT).sequence;
    let keys: Vec<(f64, u8, Mode)> = d.key_signatures.iter().map(|k| (k.time, k.key, k.mode)).collect();
    // One sharp, dorian: A dorian.
    assert_eq!(keys, vec![(0.0, 0, Mode::Minor), (1.25, 9, Mode::Other)]);
    let ts: Vec<(f64, u32, u32)> = d.time_signatures.iter().map(|t| (t.time, t.numerator, t.denominator)).collect();
    assert_eq!(ts, vec![(0.0, 5, 8), (1.25, 7, 8)]);
    // note-seq raises on both meters.
    assert!(read_bytes(xml.as_bytes(), "m.xml", &COMPAT).is_err());
}

#[test]
fn compat_rejects_what_note_seq_rejects() {
    let cases = [
        ("<attributes><time><beats>3+2</beats><beat-type>8</beat-type></time></attributes>", "TimeSignatureParseError"),
        (
            "<attributes><time><beats>2</beats><beat-type>4</beat-type><beats>3</beats><beat-type>8</beat-type></time></attributes>",
            "Alternating",
        ),
        (
            "<attributes><time><beats>2</beats><beat-type>4</beat-type></time><time><beats>3</beats><beat-type>4</beat-type></time></attributes>",
            "Multiple",
        ),
        ("<attributes><key><key-step>C</key-step></key></attributes>", "KeyParseError"),
        ("<attributes><divisions>0</divisions></attributes>", "ZeroDivision"),
        ("<note><unpitched><display-step>C</display-step><display-octave>5</display-octave></unpitched><duration>1</duration></note>", "Unpitched"),
        ("<note><pitch><step>H</step><octave>4</octave></pitch><duration>1</duration></note>", "PitchStepParseError"),
        ("<note><pitch><step>C</step><octave>4</octave></pitch><duration>1.5</duration></note>", "invalid literal"),
        ("<note><chord/><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>", "chord"),
        ("<harmony><kind>weird</kind></harmony>", "ChordSymbolParseError"),
        (r#"<direction><sound tempo="100" dynamics="80.5"/></direction>"#, "invalid literal"),
    ];
    for (content, want) in cases {
        let xml = one(&measure(content));
        let e = err(xml.as_bytes(), "c.xml", COMPAT);
        assert!(e.to_string().contains(want), "{content}: {e}");
        // Default mode reads all of these, with warnings where something was skipped.
        read(&xml, DEFAULT);
    }
}

#[test]
fn unpitched_notes_are_skipped_with_a_warning() {
    let xml = one(&measure(&format!(
        "{ATTR}<note><unpitched><display-step>C</display-step><display-octave>5</display-octave></unpitched><duration>1</duration><voice>1</voice></note>{}",
        n("D", 0, 4, 1, "")
    )));
    let d = read(&xml, DEFAULT);
    assert_eq!(times(&d.sequence.notes), vec![(62, 0.5, 1.0)]);
    assert!(d.warnings.iter().any(|w| w.contains("unpitched")));
}

// ---- repeats ---------------------------------------------------------------------------------

#[test]
fn repeats_expand_when_asked() {
    let xml = one(&format!(
        r#"<measure number="1">{ATTR}<barline location="left"><repeat direction="forward"/></barline>{}<barline location="right"><repeat direction="backward"/></barline></measure><measure number="2">{}</measure>"#,
        n("C", 0, 4, 4, ""),
        n("D", 0, 4, 4, "")
    ));
    assert_eq!(times(&read(&xml, DEFAULT).sequence.notes), vec![(60, 0.0, 2.0), (62, 2.0, 4.0)]);
    let r = read(&xml, REPEATS).sequence;
    assert_eq!(times(&r.notes), vec![(60, 0.0, 2.0), (60, 2.0, 4.0), (62, 4.0, 6.0)]);
    assert_eq!(r.total_time, 6.0);
    // note-seq reads straight through, whatever the flag says.
    let c = read(&xml, ImportOptions { magenta_compat: true, expand_repeats: true });
    assert_eq!(c.sequence.notes.len(), 2);
    assert!(!c.warnings.is_empty());
}

#[test]
fn voltas() {
    let xml = one(&format!(
        r#"<measure number="1">{ATTR}{}</measure>
           <measure number="2"><barline location="left"><ending number="1" type="start"/></barline>{}<barline location="right"><ending number="1" type="stop"/><repeat direction="backward"/></barline></measure>
           <measure number="3"><barline location="left"><ending number="2" type="start"/></barline>{}<barline location="right"><ending number="2" type="discontinue"/></barline></measure>"#,
        n("C", 0, 4, 4, ""),
        n("D", 0, 4, 4, ""),
        n("E", 0, 4, 4, "")
    ));
    assert_eq!(pitches(&read(&xml, REPEATS).sequence.notes), vec![60, 62, 60, 64]);
}

// ---- containers and encodings -----------------------------------------------------------------

fn simple() -> String {
    one(&measure(&format!("{ATTR}{}", n("C", 0, 4, 4, ""))))
}

#[test]
fn utf16_with_bom_and_doctype() {
    let xml = simple().replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"").replacen(
        "?>",
        "?>\n<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" \"http://www.musicxml.org/dtds/partwise.dtd\">",
        1,
    );
    let want = read(&simple(), DEFAULT).sequence.notes;
    let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain(xml.encode_utf16().flat_map(|u| u.to_le_bytes())).collect();
    let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain(xml.encode_utf16().flat_map(|u| u.to_be_bytes())).collect();
    for (bytes, opts) in [(&le, DEFAULT), (&be, DEFAULT), (&le, COMPAT)] {
        let got = read_bytes(bytes, "utf16.xml", &opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.sequence.notes.len(), 1);
        assert_eq!(got.sequence.notes[0].pitch, want[0].pitch);
    }
    let s = read(&xml.replace("UTF-16", "UTF-8"), DEFAULT).sequence;
    assert_eq!(s.source.title.as_deref(), Some("Test"));
    assert_eq!(s.source.composer.as_deref(), Some("Anon"));
}

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const CONTAINER: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<container><rootfiles><rootfile full-path="score.xml" media-type="application/vnd.recordare.musicxml+xml"/><rootfile full-path="cover.png" media-type="image/png"/></rootfiles></container>"#;

#[test]
fn mxl_containers() {
    let xml = simple();
    // Score stored before container.xml: order does not matter.
    let ok = zip(&[("score.xml", xml.as_bytes()), ("META-INF/container.xml", CONTAINER), ("cover.png", b"\x89PNG")]);
    for opts in [DEFAULT, COMPAT] {
        assert_eq!(read_bytes(&ok, "a.mxl", &opts).unwrap().sequence.notes.len(), 1);
    }
    // Zip magic wins over a misleading extension.
    assert_eq!(read_bytes(&ok, "a.xml", &DEFAULT).unwrap().sequence.notes.len(), 1);

    // No container.xml: default mode takes the first .xml entry, note-seq gives up.
    let bare = zip(&[("mimetype", b"application/vnd.recordare.musicxml"), ("score.musicxml", xml.as_bytes())]);
    let imp = read_bytes(&bare, "bare.mxl", &DEFAULT).unwrap();
    assert_eq!(imp.sequence.notes.len(), 1);
    assert!(imp.warnings[0].contains("container.xml"));
    err(&bare, "bare.mxl", COMPAT);

    let two =
        br#"<container><rootfiles><rootfile full-path="a.xml"/><rootfile full-path="b.xml"/></rootfiles></container>"#;
    let e = err(
        &zip(&[("META-INF/container.xml", two), ("a.xml", xml.as_bytes()), ("b.xml", xml.as_bytes())]),
        "two.mxl",
        DEFAULT,
    );
    assert!(e.to_string().contains("several"), "{e}");

    let missing = zip(&[("META-INF/container.xml", CONTAINER)]);
    assert!(err(&missing, "missing.mxl", DEFAULT).to_string().contains("not in the archive"));
}

#[test]
fn zip_that_is_not_musicxml() {
    let e = err(&zip(&[("readme.txt", b"hello")]), "notes.mxl", DEFAULT);
    assert!(e.to_string().contains("container.xml"), "{e}");
    let images =
        br#"<container><rootfiles><rootfile full-path="cover.png" media-type="image/png"/></rootfiles></container>"#;
    let e = err(&zip(&[("META-INF/container.xml", images), ("cover.png", b"\x89PNG")]), "Bach/x.mxl", DEFAULT);
    assert_eq!(e.to_string(), "Bach/x.mxl: container.xml names no MusicXML rootfile");
    let html = zip(&[("META-INF/container.xml", CONTAINER), ("score.xml", b"<html><body/></html>")]);
    assert!(matches!(err(&html, "html.mxl", COMPAT), MusicXmlError::NotMusicXml { .. }));
    assert!(matches!(err(b"PK\x03\x04 not really a zip", "junk.mxl", DEFAULT), MusicXmlError::Container { .. }));
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A stored (uncompressed) zip written by hand, with every entry's sizes in a trailing data
/// descriptor (flag bit 3) as streaming zip writers do, and names without the UTF-8 flag.
fn zip_with_data_descriptors(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let (crc, size) = (crc32(data), data.len() as u32);
        let u16le = |v: u16| v.to_le_bytes();
        let u32le = |v: u32| v.to_le_bytes();
        out.extend(u32le(0x0403_4b50));
        out.extend(u16le(20));
        out.extend(u16le(0x0008)); // sizes follow the data
        out.extend(u16le(0)); // stored
        out.extend([0; 4]); // time, date
        out.extend([0; 12]); // crc, sizes: unknown here
        out.extend(u16le(name.len() as u16));
        out.extend(u16le(0));
        out.extend(*name);
        out.extend(*data);
        out.extend(u32le(0x0807_4b50));
        out.extend(u32le(crc));
        out.extend(u32le(size));
        out.extend(u32le(size));
        central.extend(u32le(0x0201_4b50));
        central.extend(u16le(20));
        central.extend(u16le(20));
        central.extend(u16le(0x0008));
        central.extend(u16le(0));
        central.extend([0; 4]);
        central.extend(u32le(crc));
        central.extend(u32le(size));
        central.extend(u32le(size));
        central.extend(u16le(name.len() as u16));
        central.extend([0; 12]); // extra, comment, disk, internal and external attributes
        central.extend(u32le(offset));
        central.extend(*name);
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend([0; 2]);
    out
}

#[test]
fn mxl_with_data_descriptors_and_non_utf8_flagged_names() {
    let xml = simple();
    // "Partitur für Klavier.xml" in UTF-8 bytes, stored without the UTF-8 flag: note-seq
    // decodes such names as UTF-8, and so must we to find the rootfile.
    let name = "Partitur für Klavier.xml";
    let container = format!(r#"<container><rootfiles><rootfile full-path="{name}"/></rootfiles></container>"#);
    let z = zip_with_data_descriptors(&[
        (b"META-INF/container.xml", container.as_bytes()),
        (name.as_bytes(), xml.as_bytes()),
    ]);
    for opts in [DEFAULT, COMPAT] {
        let imp = read_bytes(&z, "dd.mxl", &opts).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imp.sequence.notes.len(), 1);
    }
}

/// Patches the uncompressed size recorded for `name` in the local and central headers.
fn claim_size(mut z: Vec<u8>, name: &str, size: u32) -> Vec<u8> {
    let mut patched = 0;
    for i in 0..z.len().saturating_sub(46) {
        let (size_at, len_at, name_at) = match &z[i..i + 4] {
            b"PK\x03\x04" => (22, 26, 30),
            b"PK\x01\x02" => (24, 28, 46),
            _ => continue,
        };
        let len = u16::from_le_bytes([z[i + len_at], z[i + len_at + 1]]) as usize;
        if z.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
            z[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2);
    z
}

#[test]
fn mxl_entry_claiming_2_gb_is_refused_before_inflating() {
    let z = claim_size(
        zip(&[("META-INF/container.xml", CONTAINER), ("score.xml", simple().as_bytes())]),
        "score.xml",
        0x8000_0000,
    );
    for opts in [DEFAULT, COMPAT] {
        let e = err(&z, "big.mxl", opts);
        assert!(matches!(e, MusicXmlError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("2147483648"), "{e}");
    }
}

#[test]
fn xml_bomb_is_an_error() {
    let mut dtd = String::from("<!DOCTYPE score-partwise [\n<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n");
    let mut prev = "a".to_string();
    for i in 0..8 {
        let name = format!("e{i}");
        dtd.push_str(&format!("<!ENTITY {name} \"{}\">\n", format!("&{prev};").repeat(10)));
        prev = name;
    }
    dtd.push_str("]>\n");
    let xml =
        simple().replacen("?>", &format!("?>\n{dtd}"), 1).replace("<work-title>Test", &format!("<work-title>&{prev};"));
    for opts in [DEFAULT, COMPAT] {
        let t = std::time::Instant::now();
        let e = err(xml.as_bytes(), "bomb.xml", opts);
        assert!(matches!(e, MusicXmlError::Xml { .. }), "{e}");
        assert!(t.elapsed().as_secs() < 2);
    }
    // The quadratic variant: one big entity, referenced many times at top level.
    let big = format!("<!DOCTYPE score-partwise [<!ENTITY big \"{}\">]>", "x".repeat(100_000));
    let xml = simple()
        .replacen("?>", &format!("?>{big}"), 1)
        .replace("<work-title>Test", &format!("<work-title>{}", "&big;".repeat(1000)));
    err(xml.as_bytes(), "quadratic.xml", DEFAULT);
}

#[test]
fn malformed_and_empty_input() {
    err(b"", "empty.xml", DEFAULT);
    err(b"", "empty.mxl", COMPAT);
    assert!(matches!(err(b"<score-partwise><part-list>", "cut.xml", DEFAULT), MusicXmlError::Xml { .. }));
    assert!(matches!(err(b"\x00\x01\x02garbage", "bin.musicxml", COMPAT), MusicXmlError::Xml { .. }));
    let timewise = "<score-timewise><part-list/><measure number=\"1\"/></score-timewise>";
    assert!(err(timewise.as_bytes(), "tw.xml", DEFAULT).to_string().contains("score-timewise"));
    let e = read_file(std::path::Path::new("/nonexistent/score.mxl"), &DEFAULT).unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/score.mxl: cannot read"), "{e}");
}

#[test]
fn absurd_numbers_are_errors_or_warnings_never_panics() {
    let weird = [
        "<attributes><divisions>-4</divisions></attributes>",
        "<attributes><divisions>0</divisions></attributes><note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>",
        "<note><pitch><step>C</step><octave>4</octave></pitch><duration>99999999999999999999999</duration></note>",
        "<note><pitch><step>C</step><octave>4</octave></pitch><duration>999999999999999999</duration></note>",
        "<note><pitch><step>C</step><octave>4</octave></pitch><duration>-5</duration></note>",
        "<note><pitch><step>C</step><alter>1e308</alter><octave>4</octave></pitch><duration>1</duration></note>",
        "<note><pitch><step>C</step><octave>99999</octave></pitch><duration>1</duration></note>",
        "<backup><duration>100</duration></backup><note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>",
        "<forward><duration>9223372036854775807</duration></forward><forward><duration>9223372036854775807</duration></forward>",
        r#"<direction><sound tempo="1e-300"/></direction><note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>"#,
        r#"<direction><direction-type><metronome><beat-unit>maxima</beat-unit><per-minute>1e308</per-minute></metronome></direction-type></direction>"#,
        r#"<barline><repeat direction="backward" times="4000000000"/></barline><note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>"#,
        r#"<attributes><transpose><chromatic>2147483647</chromatic><octave-change>2147483647</octave-change></transpose></attributes>"#,
        r#"<attributes><key><fifths>-2147483648</fifths></key><time><beats>0</beats><beat-type>0</beat-type></time></attributes>"#,
        r#"<note><grace steal-time-following="1e9"/><pitch><step>C</step><octave>4</octave></pitch></note><note><chord/><rest/></note>"#,
    ];
    for content in weird {
        let xml = one(&measure(content));
        for opts in [DEFAULT, COMPAT, REPEATS] {
            if let Ok(imp) = read_bytes(xml.as_bytes(), "weird.xml", &opts) {
                let s = imp.sequence;
                assert!(s.total_time.is_finite(), "{content}");
                assert!(
                    s.notes.iter().all(|n| n.start.is_finite() && n.end.is_finite() && n.pitch <= 127),
                    "{content}"
                );
            }
        }
    }
}
