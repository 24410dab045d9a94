//! note-seq 0.0.5's MusicXML import, reproduced step for step.
//!
//! This is a port of `musicxml_parser.py` + `musicxml_reader.py`, not a MusicXML reader:
//! it keeps their state machine (one shared state across parts), their float operations in
//! the same order (so start/end times come out bit-identical), and their bugs, listed in
//! `magenta-compat.md` §3. Where Python raises (a `MusicXMLParseError`, or a
//! `ValueError`/`AttributeError`/`ZeroDivisionError` that escapes it), this returns `Err`
//! with the Python complaint. Deviations, all on inputs note-seq would turn into garbage:
//! negative, NaN or infinite tempos, and pitches or velocities outside 0..=127, are errors
//! here, because a `NoteSequence` must not hold NaN times or impossible MIDI values.

use crate::xmlutil::{child, children, elements, et_text, name, py_float, py_int};
use cadenza_notes::{KeySignature, Mode, Note, NoteSequence, Tempo, TimeSignature};
use roxmltree::Node;
use std::collections::HashMap;

/// `constants.STANDARD_PPQ`; Python mixes it as an int into float expressions, which gives
/// the same doubles as using 220.0 while divisions stay below 2^53 (checked).
const PPQ: f64 = 220.0;
const DEFAULT_QPM: f64 = 120.0;
/// `musicxml_reader.music_proto_keys`: circle-of-fifths index + 7 to the proto's Key enum.
const PROTO_KEYS: [u8; 15] = [11, 6, 1, 8, 3, 10, 5, 0, 7, 2, 9, 4, 11, 6, 1];
const NOTE_TYPES: [&str; 14] = [
    "maxima", "long", "breve", "whole", "half", "quarter", "eighth", "16th", "32nd", "64th", "128th", "256th", "512th",
    "1024th",
];
/// Keys of `ChordSymbol.CHORD_KIND_ABBREVIATIONS`: any other `<kind>` text is an error.
const CHORD_KINDS: &[&str] = &[
    "major",
    "minor",
    "augmented",
    "diminished",
    "dominant",
    "major-seventh",
    "minor-seventh",
    "diminished-seventh",
    "augmented-seventh",
    "half-diminished",
    "major-minor",
    "major-sixth",
    "minor-sixth",
    "dominant-ninth",
    "major-ninth",
    "minor-ninth",
    "dominant-11th",
    "major-11th",
    "minor-11th",
    "dominant-13th",
    "major-13th",
    "minor-13th",
    "suspended-second",
    "suspended-fourth",
    "pedal",
    "power",
    "none",
    "dominant-seventh",
    "augmented-ninth",
    "minor-major",
    "",
    "min",
    "aug",
    "dim",
    "7",
    "maj7",
    "min7",
    "dim7",
    "m7b5",
    "minMaj7",
    "6",
    "min6",
    "maj69",
    "9",
    "maj9",
    "min9",
    "sus47",
];

type R<T> = Result<T, String>;

/// Python's `fractions.Fraction`, as far as the parser uses it: normalised, compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Frac {
    n: i64,
    d: i64,
}

fn frac(n: i64, d: i64) -> R<Frac> {
    if d == 0 {
        return Err(format!("ZeroDivisionError: Fraction({n}, 0)"));
    }
    let (mut a, mut b) = (n.unsigned_abs(), d.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let g = a.max(1) as i128;
    let sign = if d < 0 { -1 } else { 1 };
    let n = i64::try_from(sign * n as i128 / g).map_err(|_| "integer overflow in Fraction".to_string())?;
    let d = i64::try_from(sign * d as i128 / g).map_err(|_| "integer overflow in Fraction".to_string())?;
    Ok(Frac { n, d })
}

/// Python's `a % b` (the result takes the sign of `b`).
fn py_mod(a: i64, b: i64) -> i64 {
    let r = a % b;
    if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    }
}

/// `MusicXMLParserState`. Shared by all parts; only the cursor, channel, program and
/// transposition are reset per part (the source of "tempo carried across parts").
struct State {
    divisions: i64,
    qpm: f64,
    seconds_per_quarter: f64,
    time_position: f64,
    velocity: i64,
    midi_program: i64,
    midi_channel: i64,
    /// (duration in divisions, onset) of the previous `<note>`, rests and graces included.
    previous_note: Option<(i64, f64)>,
    transpose: i64,
    time_signature: Option<(i64, i64)>,
}

struct CNote {
    is_rest: bool,
    pitch: Option<i64>,
    voice: i64,
    velocity: i64,
    channel: i64,
    program: i64,
    in_chord: bool,
    duration: i64,
    seconds: f64,
    time_position: f64,
    /// `<time-modification>` with `actual-notes` 0: `duration_ratio()` divides by it.
    zero_tuplet: bool,
}

#[derive(Clone, Copy, PartialEq)]
struct CTime {
    numerator: i64,
    denominator: i64,
    time: f64,
}

#[derive(Clone, Copy, PartialEq)]
struct CKey {
    fifths: i64,
    time: f64,
}

#[derive(Default)]
struct CMeasure {
    notes: Vec<CNote>,
    tempos: Vec<(f64, f64)>,
    time_signature: Option<CTime>,
    key_signature: Option<CKey>,
}

pub(crate) fn import(root: Node) -> R<NoteSequence> {
    let mut score_parts: HashMap<&str, (i64, i64)> = HashMap::new();
    if let Some(list) = child(root, "part-list") {
        for sp in elements(list).filter(|e| name(*e) == "score-part") {
            let id = sp.attribute("id").ok_or("KeyError: score-part without id")?;
            let mut midi = (0, 0);
            if let Some(mi) = child(sp, "midi-instrument") {
                if let (Some(ch), Some(pr)) = (child(mi, "midi-channel"), child(mi, "midi-program")) {
                    midi = (py_int(et_text(ch).as_deref())?, py_int(et_text(pr).as_deref())?);
                }
            }
            score_parts.insert(id, midi);
        }
    }

    let mut st = State {
        divisions: 1,
        qpm: DEFAULT_QPM,
        seconds_per_quarter: 0.5,
        time_position: 0.0,
        velocity: 64,
        midi_program: 0,
        midi_channel: 0,
        previous_note: None,
        transpose: 0,
        time_signature: None,
    };
    let mut parts: Vec<Vec<CMeasure>> = Vec::new();
    let mut total_time = 0.0f64;
    for part in children(root, "part") {
        let id = part.attribute("id").unwrap_or("");
        let (channel, program) = score_parts.get(id).copied().unwrap_or((0, 0));
        st.time_position = 0.0;
        st.midi_channel = channel;
        st.midi_program = program;
        st.transpose = 0;
        let mut measures = Vec::new();
        for m in children(part, "measure") {
            measures.push(parse_measure(m, &mut st)?);
        }
        parts.push(measures);
        if st.time_position > total_time {
            total_time = st.time_position;
        }
    }
    to_sequence(&parts, &st, total_time)
}

fn to_sequence(parts: &[Vec<CMeasure>], st: &State, total_time: f64) -> R<NoteSequence> {
    let mut seq = NoteSequence::new();
    seq.ticks_per_quarter = 220;

    let mut times: Vec<CTime> = Vec::new();
    let mut keys: Vec<CKey> = Vec::new();
    for m in parts.iter().flatten() {
        if let Some(t) = m.time_signature {
            if !times.contains(&t) {
                times.push(t);
            }
        }
        if let Some(k) = m.key_signature {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    for t in times {
        let numerator = u32::try_from(t.numerator).map_err(|_| format!("time signature numerator {}", t.numerator))?;
        let denominator =
            u32::try_from(t.denominator).map_err(|_| format!("time signature denominator {}", t.denominator))?;
        seq.time_signatures.push(TimeSignature { time: t.time, numerator, denominator });
    }
    if keys.is_empty() {
        keys.push(CKey { fifths: 0, time: 0.0 });
    }
    for k in keys {
        // Python list indexing: -15..-1 wrap around, anything else is an IndexError.
        let i = k.fifths.checked_add(7).ok_or("IndexError: key out of range")?;
        let i = if (-15..0).contains(&i) { i + 15 } else { i };
        let key = *usize::try_from(i)
            .ok()
            .and_then(|i| PROTO_KEYS.get(i))
            .ok_or_else(|| format!("IndexError: list index out of range (key signature with {} fifths)", k.fifths))?;
        // The parser compares an Element with 'minor', so every key is major.
        seq.key_signatures.push(KeySignature { time: k.time, key, mode: Mode::Major });
    }
    if let Some(first) = parts.first() {
        for m in first {
            for &(time, qpm) in &m.tempos {
                seq.tempos.push(Tempo { time, qpm });
            }
        }
    }
    if seq.tempos.is_empty() {
        seq.tempos.push(Tempo { time: 0.0, qpm: st.qpm });
    }

    seq.total_time = total_time;
    for (part_index, measures) in parts.iter().enumerate() {
        for n in measures.iter().flat_map(|m| &m.notes) {
            if n.is_rest {
                continue;
            }
            let pitch = n.pitch.ok_or("TypeError: a note that is not a rest has no <pitch>")?;
            if n.zero_tuplet {
                return Err("ZeroDivisionError: <time-modification> with 0 actual-notes".into());
            }
            // `max(start, 0)` returns its first argument unless 0 is greater.
            let start = if 0.0 > n.time_position { 0.0 } else { n.time_position };
            let end = start + n.seconds;
            if !start.is_finite() || !end.is_finite() {
                return Err("note time is not finite".into());
            }
            let pitch = u8::try_from(pitch)
                .ok()
                .filter(|p| *p <= 127)
                .ok_or_else(|| format!("MIDI pitch {pitch} out of range"))?;
            let velocity = u8::try_from(n.velocity)
                .ok()
                .filter(|v| *v <= 127)
                .ok_or_else(|| format!("velocity {} out of range", n.velocity))?;
            let u = |v: i64, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} out of range"));
            seq.notes.push(Note {
                pitch,
                velocity,
                start,
                end,
                instrument: u(n.channel, "MIDI channel")?,
                program: u(n.program, "MIDI program")?,
                is_drum: false,
                part: part_index as u32,
                voice: u(n.voice, "voice")?,
            });
        }
    }
    Ok(seq)
}

fn seconds(duration: i64, st: &State) -> R<f64> {
    if st.divisions == 0 {
        return Err("ZeroDivisionError: <divisions> is 0".into());
    }
    if st.divisions.unsigned_abs() > 1 << 53 {
        return Err(format!("<divisions> {} is too large", st.divisions));
    }
    let ticks = duration as f64 * (PPQ / st.divisions as f64);
    Ok(ticks / PPQ * st.seconds_per_quarter)
}

fn text_of<'a>(node: Option<Node<'a, '_>>, what: &str) -> R<Option<std::borrow::Cow<'a, str>>> {
    match node {
        Some(n) => Ok(et_text(n)),
        None => Err(format!("AttributeError: no <{what}> ('NoneType' object has no attribute 'text')")),
    }
}

fn parse_measure(xml: Node, st: &mut State) -> R<CMeasure> {
    let start_time_position = st.time_position;
    let mut m = CMeasure::default();
    let mut duration: i64 = 0;

    // Issue #674 repair: a measure holding no <note> and exactly one <forward> gets that
    // forward removed and a whole rest of its length appended at the end of the measure.
    let mut repaired: Option<(Node, i64)> = None;
    if children(xml, "note").next().is_none() {
        let mut fw = children(xml, "forward");
        if let (Some(f), None) = (fw.next(), fw.next()) {
            let d = py_int(text_of(child(f, "duration"), "duration")?.as_deref())?;
            repaired = Some((f, d));
        }
    }

    for c in elements(xml) {
        if repaired.is_some_and(|(f, _)| f == c) {
            continue;
        }
        match name(c) {
            "attributes" => parse_attributes(c, st, &mut m)?,
            "backup" | "forward" => {
                let d = py_int(text_of(child(c, "duration"), "duration")?.as_deref())?;
                let s = seconds(d, st)?;
                if name(c) == "backup" {
                    st.time_position -= s;
                } else {
                    st.time_position += s;
                }
            }
            "direction" => {
                for s in elements(c).filter(|s| name(*s) == "sound") {
                    let Some(tempo) = s.attribute("tempo") else { continue };
                    let mut qpm = py_float(Some(tempo))?;
                    if qpm == 0.0 {
                        qpm = DEFAULT_QPM;
                    }
                    if !qpm.is_finite() || qpm < 0.0 {
                        return Err(format!("tempo {tempo:?} would give negative or NaN times"));
                    }
                    m.tempos.push((st.time_position, qpm));
                    st.qpm = qpm;
                    st.seconds_per_quarter = 60.0 / qpm;
                    if let Some(d) = s.attribute("dynamics") {
                        st.velocity = py_int(Some(d))?;
                    }
                }
            }
            "note" => {
                let n = parse_note(c, st)?;
                add_note(n, st, &mut m, &mut duration)?;
            }
            "harmony" => check_harmony(c, st)?,
            _ => {}
        }
    }
    if let Some((_, d)) = repaired {
        // <note><rest/><duration>d</duration><voice>1</voice><type>whole</type></note>
        let mut n = blank_note(st);
        n.is_rest = true;
        parse_duration(&mut n, d, st)?;
        add_note(n, st, &mut m, &mut duration)?;
    }
    fix_time_signature(st, &mut m, duration, start_time_position)?;
    Ok(m)
}

fn add_note(n: CNote, st: &mut State, m: &mut CMeasure, duration: &mut i64) -> R<()> {
    st.previous_note = Some((n.duration, n.time_position));
    if n.voice == 1 && !n.in_chord {
        *duration = duration.checked_add(n.duration).ok_or("measure duration overflows")?;
    }
    m.notes.push(n);
    Ok(())
}

fn parse_attributes(xml: Node, st: &mut State, m: &mut CMeasure) -> R<()> {
    for c in elements(xml) {
        match name(c) {
            "divisions" => st.divisions = py_int(et_text(c).as_deref())?,
            "key" => {
                let fifths =
                    child(c, "fifths").ok_or("KeyParseError: Could not find fifths attribute in key signature.")?;
                let fifths = py_int(et_text(fifths).as_deref())?;
                m.key_signature = Some(CKey { fifths, time: st.time_position });
            }
            "time" => {
                if m.time_signature.is_some() {
                    return Err("MultipleTimeSignatureError: Multiple time signatures".into());
                }
                if children(c, "beats").count() > 1 || children(c, "beat-type").count() > 1 {
                    return Err("AlternatingTimeSignatureError: Alternating Time Signature".into());
                }
                let beats = text_of(child(c, "beats"), "beats")?;
                let beat_type = text_of(child(c, "beat-type"), "beat-type")?;
                let parse = |t: &Option<std::borrow::Cow<str>>| py_int(t.as_deref());
                let (numerator, denominator) = match (parse(&beats), parse(&beat_type)) {
                    (Ok(n), Ok(d)) => (n, d),
                    _ => {
                        return Err(format!(
                            "TimeSignatureParseError: Could not parse time signature: {}/{}",
                            beats.as_deref().unwrap_or("None"),
                            beat_type.as_deref().unwrap_or("None")
                        ))
                    }
                };
                let t = CTime { numerator, denominator, time: st.time_position };
                m.time_signature = Some(t);
                st.time_signature = Some((numerator, denominator));
            }
            "transpose" => {
                let transpose = py_int(text_of(child(c, "chromatic"), "chromatic")?.as_deref())?;
                st.transpose = transpose;
                if let Some(k) = &mut m.key_signature {
                    let key_transpose = py_mod(transpose.checked_mul(-5).ok_or("transpose overflows")?, 12);
                    let mut new_key = k.fifths.checked_add(key_transpose).ok_or("key overflows")?;
                    if new_key > 6 {
                        new_key = py_mod(new_key, -6);
                    }
                    k.fifths = new_key;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `Measure._fix_time_signature`: pickup and partial measures get a fractional signature,
/// computed from the voice-1 duration sum compared (oddly) with the beat count.
fn fix_time_signature(st: &mut State, m: &mut CMeasure, numerator: i64, start: f64) -> R<()> {
    let denominator = st.divisions.checked_mul(4).ok_or("divisions overflow")?;
    let fractional = frac(numerator, denominator)?;
    match st.time_signature {
        None if m.time_signature.is_none() => {
            let t = CTime { numerator: fractional.n, denominator: fractional.d, time: 0.0 };
            m.time_signature = Some(t);
            st.time_signature = Some((t.numerator, t.denominator));
        }
        state_ts => {
            let (snum, sden) = state_ts.ok_or("time signature state is missing")?;
            let fractional_state = frac(snum, sden)?;
            let pickup = numerator < snum;
            let (n, d) = if fractional == (Frac { n: 1, d: 1 }) && !pickup {
                (sden, sden)
            } else {
                (fractional.n, fractional.d)
            };
            if pickup || (m.time_signature.is_none() && fractional != fractional_state) {
                m.time_signature = Some(CTime { numerator: n, denominator: d, time: start });
                st.time_signature = Some((n, d));
            }
        }
    }
    Ok(())
}

fn blank_note(st: &State) -> CNote {
    CNote {
        is_rest: false,
        pitch: None,
        voice: 1,
        velocity: st.velocity,
        channel: st.midi_channel,
        program: st.midi_program,
        in_chord: false,
        duration: 0,
        seconds: 0.0,
        time_position: 0.0,
        zero_tuplet: false,
    }
}

fn parse_note(xml: Node, st: &mut State) -> R<CNote> {
    let mut n = blank_note(st);
    for c in elements(xml) {
        match name(c) {
            "chord" => n.in_chord = true,
            "duration" => {
                let d = py_int(et_text(c).as_deref())?;
                parse_duration(&mut n, d, st)?;
            }
            "pitch" => n.pitch = Some(parse_pitch(c, st)?),
            "rest" => n.is_rest = true,
            "voice" => n.voice = py_int(et_text(c).as_deref())?,
            "type" => {
                let t = et_text(c);
                if !t.as_deref().is_some_and(|t| NOTE_TYPES.contains(&t)) {
                    return Err(format!(
                        "InvalidNoteDurationTypeError: Note duration type \"{}\" is not valid",
                        t.as_deref().unwrap_or("None")
                    ));
                }
            }
            "time-modification" => {
                let actual = py_int(text_of(child(c, "actual-notes"), "actual-notes")?.as_deref())?;
                let normal = py_int(text_of(child(c, "normal-notes"), "normal-notes")?.as_deref())?;
                frac(actual, normal)?;
                n.zero_tuplet = actual == 0;
            }
            "unpitched" => return Err("UnpitchedNoteError: Unpitched notes are not supported".into()),
            _ => {}
        }
    }
    Ok(n)
}

/// `NoteDuration.parse_duration`. A chord note takes the previous note's onset *and*
/// duration (note-seq's Sibelius workaround). A note without `<duration>` (a grace note)
/// never gets here and stays at 0 s with length 0.
fn parse_duration(n: &mut CNote, duration: i64, st: &mut State) -> R<()> {
    n.duration = duration;
    let prev = if n.in_chord {
        let prev = st.previous_note.ok_or("AttributeError: <chord/> note with no previous note")?;
        n.duration = prev.0;
        Some(prev)
    } else {
        None
    };
    n.seconds = seconds(n.duration, st)?;
    n.time_position = st.time_position;
    match prev {
        Some((_, onset)) => n.time_position = onset,
        None => st.time_position += n.seconds,
    }
    Ok(())
}

/// `Note._parse_pitch` + `pitch_to_midi_pitch`: the pitch class wraps mod 12 without
/// carrying into the octave (Cb4 = 71, B#4 = 60), alters are truncated, and only
/// `<chromatic>` transposition applies.
fn parse_pitch(xml: Node, st: &State) -> R<i64> {
    let step = text_of(child(xml, "step"), "step")?;
    let alter_text = child(xml, "alter").and_then(et_text);
    let octave = text_of(child(xml, "octave"), "octave")?;
    let alter = match alter_text.as_deref() {
        Some(t) if !t.is_empty() => py_float(Some(t))?,
        _ => 0.0,
    };
    if !alter.is_finite() || alter.abs() > 1e15 {
        return Err(format!("cannot convert alter {alter} to an integer"));
    }
    let alter_semitones = alter.trunc() as i64;
    let (Some(step), Some(octave)) = (step, octave) else {
        return Err("TypeError: <step> or <octave> is empty".into());
    };
    let class = match &*step {
        "C" => 0,
        "D" => 2,
        "E" => 4,
        "F" => 5,
        "G" => 7,
        "A" => 9,
        "B" => 11,
        other => return Err(format!("PitchStepParseError: Unable to parse pitch step {other}")),
    };
    let class = py_mod(class + alter_semitones, 12);
    let octave = py_int(Some(&octave))?;
    octave
        .checked_mul(12)
        .and_then(|o| o.checked_add(12 + class))
        .and_then(|p| p.checked_add(st.transpose))
        .ok_or_else(|| "pitch overflows".to_string())
}

/// `ChordSymbol._parse`: chord symbols only become text annotations, which a
/// `NoteSequence` does not carry, but a bad one makes note-seq reject the whole file.
fn check_harmony(xml: Node, st: &State) -> R<()> {
    fn alter(t: Option<&str>) -> R<()> {
        let a = py_int(t).map_err(|e| format!("ChordSymbolParseError: Non-integer alter: {e}"))?;
        if !(-2..=2).contains(&a) {
            return Err(format!("ChordSymbolParseError: Invalid alter: {a}"));
        }
        Ok(())
    }
    let pitch = |x: Node, step_tag: &str, alter_tag: &str| -> R<()> {
        let step = child(x, step_tag).ok_or("ChordSymbolParseError: Missing pitch step")?;
        let step = et_text(step);
        if let Some(a) = child(x, alter_tag) {
            alter(et_text(a).as_deref())?;
        }
        if st.transpose != 0 {
            return Err("ChordSymbolParseError: Transposition of chord symbols currently unsupported".into());
        }
        step.map(|_| ()).ok_or_else(|| "TypeError: empty chord step".to_string())
    };
    let mut has_root = false;
    let mut no_chord = false;
    for c in elements(xml) {
        match name(c) {
            "root" => {
                pitch(c, "root-step", "root-alter")?;
                has_root = true;
            }
            "kind" => {
                let Some(t) = et_text(c) else { continue };
                let t = t.trim();
                if !CHORD_KINDS.contains(&t) {
                    return Err(format!("ChordSymbolParseError: Unknown chord kind: {t}"));
                }
                no_chord = t == "none";
            }
            "degree" => {
                let v =
                    child(c, "degree-value").ok_or("ChordSymbolParseError: Missing scale degree value in harmony")?;
                let v = et_text(v).ok_or("ChordSymbolParseError: Missing scale degree")?;
                py_int(Some(&v)).map_err(|_| format!("ChordSymbolParseError: Non-integer scale degree: {v}"))?;
                let mut altered = false;
                if let Some(a) = child(c, "degree-alter") {
                    let t = et_text(a);
                    alter(t.as_deref())?;
                    altered = py_int(t.as_deref())? != 0;
                }
                let ty = child(c, "degree-type").ok_or("ChordSymbolParseError: Missing degree modification type")?;
                match et_text(ty).as_deref() {
                    Some("add") | Some("subtract") => {}
                    Some("alter") if altered => {}
                    Some("alter") => return Err("ChordSymbolParseError: Degree alteration by zero semitones".into()),
                    other => return Err(format!("ChordSymbolParseError: Invalid degree modification type: {other:?}")),
                }
            }
            "bass" => pitch(c, "bass-step", "bass-alter")?,
            "offset" => {
                py_int(et_text(c).as_deref()).map_err(|e| format!("ChordSymbolParseError: Non-integer offset: {e}"))?;
                if st.divisions == 0 {
                    return Err("ZeroDivisionError: <divisions> is 0".into());
                }
            }
            _ => {}
        }
    }
    if !has_root && !no_chord {
        return Err("ChordSymbolParseError: Chord symbol must have a root".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_modulo() {
        assert_eq!(py_mod(-1, 12), 11);
        assert_eq!(py_mod(7, -6), -5);
        assert_eq!(py_mod(12, -6), 0);
        assert_eq!(py_mod(13, -6), -5);
    }

    #[test]
    fn fractions_normalise() {
        assert_eq!(frac(16, 64).unwrap(), Frac { n: 1, d: 4 });
        assert_eq!(frac(3, -6).unwrap(), Frac { n: -1, d: 2 });
        assert_eq!(frac(0, 64).unwrap(), Frac { n: 0, d: 1 });
        assert!(frac(1, 0).is_err());
    }
}
