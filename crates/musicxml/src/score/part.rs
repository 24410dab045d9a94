//! Walking one part's measures: notes, chords, grace notes, backups and forwards, tempo
//! marks, meters, keys and dynamics, at exact positions in quarter notes.

use super::dynamics::{mark_velocity, percent_velocity};
use super::*;

fn type_quarters(t: &str) -> Option<Rat> {
    Some(match t.trim() {
        "maxima" => q(32, 1),
        "long" => q(16, 1),
        "breve" => q(8, 1),
        "whole" => q(4, 1),
        "half" => q(2, 1),
        "quarter" => q(1, 1),
        "eighth" => q(1, 2),
        "16th" => q(1, 4),
        "32nd" => q(1, 8),
        "64th" => q(1, 16),
        "128th" => q(1, 32),
        "256th" => q(1, 64),
        "512th" => q(1, 128),
        "1024th" => q(1, 256),
        _ => return None,
    })
}

/// `base` lengthened by `dots` augmentation dots: base · (2 − 1/2^dots).
fn dotted(base: Rat, dots: u32) -> Option<Rat> {
    let dots = dots.min(8);
    let factor = Rat::new((1i64 << (dots + 1)) - 1, 1i64 << dots)?;
    base.mul(factor)
}

/// What a `<note>` element's children say.
struct NoteChildren<'a, 'i> {
    grace: Option<Node<'a, 'i>>,
    chord: bool,
    rest: bool,
    unpitched: bool,
    pitch: Option<Node<'a, 'i>>,
    tie_start: bool,
    tie_stop: bool,
    voice: u32,
    /// The written value (type, dots, tuplet), for graces and for notes that lack <duration>.
    written: Option<Rat>,
    /// The `<dynamics>` of its `<notations>`.
    note_dynamics: Option<Node<'a, 'i>>,
}

/// Reads a `<note>` element's children: grace, chord, rest, pitch, ties, voice, written value.
fn note_children<'a, 'i>(x: Node<'a, 'i>) -> NoteChildren<'a, 'i> {
    let mut grace: Option<Node> = None;
    let (mut chord, mut rest, mut unpitched) = (false, false, false);
    let mut pitch: Option<Node> = None;
    let (mut tie_start, mut tie_stop) = (false, false);
    let mut voice = 1u32;
    let mut written: Option<Rat> = None;
    let mut dots = 0u32;
    let mut tuplet: Option<(i64, i64)> = None;
    let mut note_dynamics: Option<Node> = None;
    for c in elements(x) {
        match name(c) {
            "grace" => grace = Some(c),
            "chord" => chord = true,
            "pitch" => pitch = Some(c),
            "unpitched" => unpitched = true,
            "rest" => rest = true,
            "tie" => match c.attribute("type") {
                Some("start") => tie_start = true,
                Some("stop") => tie_stop = true,
                _ => {}
            },
            "voice" => voice = et_text(c).and_then(|t| t.trim().parse().ok()).unwrap_or(1),
            "type" => written = et_text(c).and_then(|t| type_quarters(&t)),
            "dot" => dots += 1,
            "time-modification" => {
                let num = |t: &str| child_text(c, t).and_then(|v| v.parse::<i64>().ok()).filter(|v| *v > 0);
                tuplet = num("actual-notes").zip(num("normal-notes"));
            }
            "notations" => {
                for t in children(c, "tied") {
                    match t.attribute("type") {
                        Some("start") => tie_start = true,
                        Some("stop") => tie_stop = true,
                        _ => {}
                    }
                }
                note_dynamics = child(c, "dynamics").or(note_dynamics);
            }
            _ => {}
        }
    }
    // The written value, for graces and for notes that lack <duration>.
    let written = written.and_then(|w| dotted(w, dots)).map(|w| match tuplet {
        Some((actual, normal)) => Rat::new(normal, actual).and_then(|r| w.mul(r)).unwrap_or(w),
        None => w,
    });
    NoteChildren { grace, chord, rest, unpitched, pitch, tie_start, tie_stop, voice, written, note_dynamics }
}

pub(super) struct PartParser<'a> {
    part: usize,
    divisions: Rat,
    cursor: Rat,
    measure_start: Rat,
    measure_end: Rat,
    part_end: Rat,
    /// Length of a full measure under the part's current time signature.
    meter: Option<Rat>,
    transpose: i32,
    /// Onset of the last note that was not a chord continuation (chords join it).
    last_onset: Rat,
    /// Voice of the previous note if it was a grace note (a `<chord/>` joins its slot).
    last_grace_voice: Option<u32>,
    notes: Vec<RawNote>,
    dyns: Vec<(Rat, usize, Dyn)>,
    pending: HashMap<u32, GraceGroup>,
    groups: Vec<GraceGroup>,
    global: &'a mut Global,
    w: &'a mut Warnings,
}

impl<'a> PartParser<'a> {
    pub(super) fn new(part: usize, global: &'a mut Global, w: &'a mut Warnings) -> Self {
        PartParser {
            part,
            divisions: Rat::int(1),
            cursor: Rat::ZERO,
            measure_start: Rat::ZERO,
            measure_end: Rat::ZERO,
            part_end: Rat::ZERO,
            meter: None,
            transpose: 0,
            last_onset: Rat::ZERO,
            last_grace_voice: None,
            notes: Vec::new(),
            dyns: Vec::new(),
            pending: HashMap::new(),
            groups: Vec::new(),
            global,
            w,
        }
    }

    pub(super) fn finish(mut self) -> ParsedPart {
        // Grace notes still waiting for a principal have none.
        let mut left: Vec<GraceGroup> = self.pending.drain().map(|(_, g)| g).collect();
        left.sort_by_key(|g| g.onset);
        self.groups.extend(left);
        ParsedPart { notes: self.notes, end: self.part_end, dynamics: self.dyns, graces: self.groups }
    }

    fn next_seq(&mut self) -> usize {
        self.global.seq += 1;
        self.global.seq
    }

    fn move_cursor(&mut self, to: Rat) {
        self.cursor = to;
        self.measure_end = self.measure_end.max(to);
        self.part_end = self.part_end.max(to);
    }

    pub(super) fn measure(&mut self, m: Node) -> R<()> {
        self.measure_start = self.cursor;
        self.measure_end = self.cursor;
        for c in elements(m) {
            match name(c) {
                "attributes" => self.attributes(c),
                "note" => self.note(c)?,
                "backup" | "forward" => {
                    let Some(d) = self.duration(c)? else {
                        self.w.push(format!("<{}> without a valid <duration> ignored", name(c)));
                        continue;
                    };
                    if name(c) == "forward" {
                        let to = ck(self.cursor.add(d))?;
                        self.move_cursor(to);
                    } else {
                        // Followed even past the measure start: MuseScore sometimes writes a
                        // huge backup that a later forward cancels, and the notes in between
                        // are then dropped for starting before the score.
                        self.cursor = ck(self.cursor.sub(d))?;
                    }
                }
                "direction" => self.direction(c)?,
                "sound" => {
                    let pos = self.cursor;
                    self.sound(c, pos, &[]);
                }
                _ => {}
            }
        }
        // Where the next measure starts: exporters leave the cursor at the end of the
        // measure, even after a voice that overflows it (MuseScore backs up over the excess),
        // so a cursor that ends a full measure is trusted; otherwise the furthest voice
        // decides, so that an incomplete last voice cannot pull the music back.
        let full = self.meter.and_then(|m| self.measure_start.add(m));
        if self.cursor != self.measure_end && Some(self.cursor) != full {
            self.cursor = self.measure_end;
        }
        Ok(())
    }

    /// `<duration>` of a note, backup or forward in quarter notes; `None` when absent or
    /// unreadable, an error when absurdly long.
    fn duration(&mut self, x: Node) -> R<Option<Rat>> {
        let Some(text) = child_text(x, "duration") else { return Ok(None) };
        let Some(d) = Rat::parse_decimal(&text) else {
            self.w.push(format!("unreadable <duration> {text:?}"));
            return Ok(None);
        };
        if d.is_negative() {
            self.w.push("negative <duration> read as 0");
            return Ok(Some(Rat::ZERO));
        }
        let quarters = ck(d.div(self.divisions))?;
        if quarters > Rat::int(MAX_DURATION_QUARTERS) {
            return Err(Fail::Score(format!("absurd <duration> {text} ({} quarter notes)", quarters.to_f64())));
        }
        Ok(Some(quarters))
    }

    fn attributes(&mut self, x: Node) {
        let mut keys: Vec<(i32, i32, Mode)> = Vec::new();
        for c in elements(x) {
            match name(c) {
                "divisions" => match et_text(c).and_then(|t| Rat::parse_decimal(&t)) {
                    Some(d) if d.is_positive() => self.divisions = d,
                    _ => self.w.push("zero, negative or unreadable <divisions> ignored"),
                },
                "key" => {
                    let Some(fifths) = child_text(c, "fifths").and_then(|t| t.parse::<i32>().ok()) else {
                        self.w.push("key signature without <fifths> (non-traditional key) ignored");
                        continue;
                    };
                    if fifths.unsigned_abs() > 30 {
                        self.w.push(format!("key signature with {fifths} fifths ignored"));
                        continue;
                    }
                    // Tonic as semitones above the major tonic of the signature.
                    let (mode, offset) = match child_text(c, "mode").map(|m| m.to_ascii_lowercase()).as_deref() {
                        None | Some("major") | Some("ionian") => (Mode::Major, 0),
                        Some("minor") | Some("aeolian") => (Mode::Minor, 9),
                        Some("dorian") => (Mode::Other, 2),
                        Some("phrygian") => (Mode::Other, 4),
                        Some("lydian") => (Mode::Other, 5),
                        Some("mixolydian") => (Mode::Other, 7),
                        Some("locrian") => (Mode::Other, 11),
                        Some(_) => (Mode::Other, 0),
                    };
                    keys.push((fifths, offset, mode));
                }
                "time" => self.time_signature(c),
                "transpose" => {
                    let num = |tag: &str| child_text(c, tag).and_then(|t| t.parse::<i32>().ok());
                    let chromatic = num("chromatic").unwrap_or_else(|| {
                        self.w.push("<transpose> without a readable <chromatic> read as 0");
                        0
                    });
                    let octaves = num("octave-change").unwrap_or(0);
                    match octaves.checked_mul(12).and_then(|o| o.checked_add(chromatic)) {
                        Some(t) if t.abs() <= 48 => self.transpose = t,
                        _ => self.w.push("<transpose> of more than 4 octaves ignored"),
                    }
                }
                _ => {}
            }
        }
        // A transposing part's key is written, like its notes: shift it to sounding pitch.
        for (fifths, offset, mode) in keys {
            let major = KeySignature::from_fifths(0.0, fifths, Mode::Major).key as i32;
            let key = (major + offset + self.transpose).rem_euclid(12) as u8;
            self.global.keys.push((self.cursor.max(Rat::ZERO), key, mode));
        }
    }

    /// Meter as written, whatever its form: "3+2"/8 is 5/8, alternating 2/4 + 3/8 is
    /// recorded as their sum 7/8. Never fails the file.
    fn time_signature(&mut self, x: Node) {
        if child(x, "senza-misura").is_some() {
            return;
        }
        let beats: Vec<_> = children(x, "beats").map(|b| et_text(b).unwrap_or_default()).collect();
        let types: Vec<_> = children(x, "beat-type").map(|b| et_text(b).unwrap_or_default()).collect();
        let parse_sum = |t: &str| -> Option<u32> {
            t.split('+').map(|p| p.trim().parse::<u32>().ok()).try_fold(0u32, |acc, v| acc.checked_add(v?))
        };
        let mut pairs = Vec::new();
        for (b, t) in beats.iter().zip(&types) {
            match (parse_sum(b), t.trim().parse::<u32>().ok()) {
                (Some(b), Some(t)) if b > 0 && t > 0 && t <= 1024 => pairs.push((b, t)),
                _ => {}
            }
        }
        if pairs.is_empty() || beats.len() != types.len() {
            self.w.push("unreadable time signature ignored");
            return;
        }
        let (numerator, denominator) = if pairs.len() == 1 {
            pairs[0]
        } else {
            let den = pairs.iter().fold(1u64, |l, &(_, t)| lcm(l, t as u64));
            let num: Option<u64> =
                pairs.iter().try_fold(0u64, |acc, &(b, t)| acc.checked_add((b as u64).checked_mul(den / t as u64)?));
            match (num.and_then(|n| u32::try_from(n).ok()), u32::try_from(den).ok()) {
                (Some(n), Some(d)) => (n, d),
                _ => {
                    self.w.push("unreadable time signature ignored");
                    return;
                }
            }
        };
        self.meter = Rat::new(4 * numerator as i64, denominator as i64);
        self.global.times.push((self.cursor.max(Rat::ZERO), numerator, denominator));
    }

    fn note(&mut self, x: Node) -> R<()> {
        let NoteChildren { grace, chord, rest, unpitched, pitch, tie_start, tie_stop, voice, written, note_dynamics } =
            note_children(x);
        let mut is_grace = grace.is_some() || (chord && self.last_grace_voice.is_some());
        let dur = if is_grace {
            Rat::ZERO
        } else {
            match self.duration(x)? {
                Some(d) => d,
                // A chord note shares its chord's time anyway: its written value will do.
                None if chord => written.unwrap_or(Rat::ZERO),
                // Takes no time (as note-seq and MuseScore read it): sound it like a grace.
                None => {
                    self.w.push("note without <duration> read as a grace note");
                    is_grace = true;
                    Rat::ZERO
                }
            }
        };
        let onset = if chord { self.last_onset } else { self.cursor };
        if !chord {
            self.last_onset = onset;
            if !is_grace {
                let to = ck(self.cursor.add(dur))?;
                self.move_cursor(to);
            }
        }

        let sounding = if rest { None } else { self.sounding_pitch(unpitched, pitch) };

        // A note's own dynamics of 0 silences it (ASAP scores mute a trill's written note
        // this way and spell the trill out in hidden notes).
        let own = x.attribute("dynamics").and_then(|d| d.trim().parse::<f64>().ok());
        let silent = own.is_some_and(|p| p <= 0.0);
        let velocity = own.and_then(percent_velocity);
        let idx = self.notes.len();
        self.notes.push(RawNote {
            pitch: sounding.filter(|_| !silent),
            voice,
            onset,
            dur,
            orig_onset: onset,
            orig_end: ck(onset.add(dur))?,
            grace: is_grace,
            tie_start: tie_start && !is_grace,
            tie_stop: tie_stop && !is_grace,
            velocity,
            dead: false,
        });
        if let Some(d) = note_dynamics {
            self.dynamics_marks(d, onset, None);
        }

        if is_grace {
            let gvoice = if chord { self.last_grace_voice.unwrap_or(voice) } else { voice };
            self.grace(idx, gvoice, onset, chord, grace, written);
            self.last_grace_voice = Some(gvoice);
        } else {
            self.last_grace_voice = None;
            if !chord {
                if let Some(mut g) = self.pending.remove(&voice) {
                    g.has_principal = g.onset == onset;
                    self.groups.push(g);
                }
            }
        }
        Ok(())
    }

    /// The MIDI pitch of a note that is not a rest; `None` (with a warning) for a percussion
    /// note or one without `<pitch>`.
    fn sounding_pitch(&mut self, unpitched: bool, pitch: Option<Node>) -> Option<u8> {
        if unpitched {
            self.w.push("unpitched (percussion) note skipped");
            None
        } else if let Some(p) = pitch {
            self.midi_pitch(p)
        } else {
            self.w.push("note without <pitch> skipped");
            None
        }
    }

    fn grace(&mut self, idx: usize, voice: u32, onset: Rat, chord: bool, grace: Option<Node>, written: Option<Rat>) {
        if chord {
            if let Some(slot) = self.pending.get_mut(&voice).and_then(|g| g.slots.last_mut()) {
                slot.0.push(idx);
                return;
            }
        }
        if self.pending.get(&voice).is_some_and(|g| g.onset != onset) {
            if let Some(g) = self.pending.remove(&voice) {
                self.groups.push(g);
            }
        }
        let attr = |a: &str| grace.and_then(|g| g.attribute(a)).and_then(Rat::percent);
        let slash = grace.and_then(|g| g.attribute("slash")) == Some("yes");
        let nominal = if slash { q(1, 8) } else { written.filter(|w| w.is_positive()).unwrap_or(q(1, 2)) };
        let g = self.pending.entry(voice).or_insert_with(|| GraceGroup {
            voice,
            onset,
            slots: Vec::new(),
            slash,
            steal_following: None,
            steal_previous: None,
            has_principal: false,
        });
        g.slash |= slash;
        g.steal_following = g.steal_following.or(attr("steal-time-following"));
        g.steal_previous = g.steal_previous.or(attr("steal-time-previous"));
        g.slots.push((vec![idx], nominal));
    }

    /// MIDI = 12·(octave+1) + step + alter, microtones rounded, plus the part's
    /// transposition (written to sounding, octave changes included).
    fn midi_pitch(&mut self, p: Node) -> Option<u8> {
        let step = match child_text(p, "step").as_deref() {
            Some("C") => 0,
            Some("D") => 2,
            Some("E") => 4,
            Some("F") => 5,
            Some("G") => 7,
            Some("A") => 9,
            Some("B") => 11,
            _ => {
                self.w.push("note with an unreadable <step> skipped");
                return None;
            }
        };
        let Some(octave) =
            child_text(p, "octave").and_then(|o| o.parse::<i32>().ok()).filter(|o| (-2..=12).contains(o))
        else {
            self.w.push("note with an unreadable <octave> skipped");
            return None;
        };
        let alter = match child_text(p, "alter") {
            None => 0.0,
            Some(a) => match a.parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= 12.0 => v,
                _ => {
                    self.w.push("unreadable <alter> read as 0");
                    0.0
                }
            },
        };
        let midi = (12 * (octave + 1) + step + self.transpose) as f64 + alter;
        let midi = midi.round();
        if (0.0..=127.0).contains(&midi) {
            Some(midi as u8)
        } else {
            self.w.push("note outside the MIDI range 0..127 skipped");
            None
        }
    }

    fn direction(&mut self, x: Node) -> R<()> {
        let mut pos = self.cursor;
        if let Some(off) = child(x, "offset").filter(|o| o.attribute("sound") == Some("yes")) {
            if let Some(d) = et_text(off).and_then(|t| Rat::parse_decimal(&t)) {
                let d = ck(d.div(self.divisions))?;
                pos = ck(pos.add(d))?.max(Rat::ZERO);
            }
        }
        let mut metronome: Option<f64> = None;
        let mut marks: Vec<Node> = Vec::new();
        for dt in children(x, "direction-type") {
            for c in elements(dt) {
                match name(c) {
                    "metronome" => metronome = metronome.or_else(|| self.metronome(c)),
                    "dynamics" => marks.push(c),
                    _ => {}
                }
            }
        }
        let sound = child(x, "sound");
        let sound_has_tempo = sound.is_some_and(|s| s.attribute("tempo").is_some());
        if let (Some(qpm), false) = (metronome, sound_has_tempo) {
            self.tempo(pos, qpm);
        }
        match sound {
            Some(s) => self.sound(s, pos, &marks),
            None => {
                for m in marks {
                    self.dynamics_marks(m, pos, None);
                }
            }
        }
        Ok(())
    }

    /// `<metronome>`: beat unit (with dots) × per-minute, in quarter notes per minute.
    fn metronome(&mut self, m: Node) -> Option<f64> {
        let mut unit: Option<Rat> = None;
        let mut dots = 0;
        let mut per_minute: Option<String> = None;
        for c in elements(m) {
            match name(c) {
                "beat-unit" if unit.is_none() => unit = et_text(c).and_then(|t| type_quarters(&t)),
                "beat-unit" => return None, // metric modulation (unit = unit)
                "beat-unit-dot" if per_minute.is_none() => dots += 1,
                "per-minute" => per_minute = et_text(c).map(|t| t.trim().to_string()),
                _ => {}
            }
        }
        let unit = dotted(unit?, dots)?;
        let Some(pm) = per_minute.as_deref().and_then(|p| p.parse::<f64>().ok()) else {
            if per_minute.is_some() {
                self.w.push("non-numeric metronome mark ignored");
            }
            return None;
        };
        Some(pm * unit.to_f64())
    }

    fn tempo(&mut self, pos: Rat, qpm: f64) {
        if !(qpm.is_finite() && (0.1..=10_000.0).contains(&qpm)) {
            self.w.push(format!("tempo {qpm} qpm ignored"));
            return;
        }
        let seq = self.next_seq();
        self.global.tempos.push(TempoMark { pos: pos.max(Rat::ZERO), part: self.part, seq, qpm });
    }

    /// A `<sound>` element: tempo, and the dynamics level (or accent, when the direction's
    /// mark is a sforzando) in percent of forte.
    fn sound(&mut self, s: Node, pos: Rat, marks: &[Node]) {
        if let Some(t) = s.attribute("tempo") {
            match t.trim().parse::<f64>() {
                Ok(qpm) => self.tempo(pos, qpm),
                Err(_) => self.w.push(format!("unreadable tempo {t:?} ignored")),
            }
        }
        let sound_velocity = s.attribute("dynamics").map(|d| d.trim().parse::<f64>().ok().and_then(percent_velocity));
        if sound_velocity == Some(None) {
            self.w.push("unreadable or negative <sound dynamics> ignored");
        }
        let sound_velocity = sound_velocity.flatten();
        if marks.is_empty() {
            if let Some(v) = sound_velocity {
                let seq = self.next_seq();
                self.dyns.push((pos, seq, Dyn::Level(v)));
            }
        }
        for m in marks {
            self.dynamics_marks(*m, pos, sound_velocity);
        }
    }

    fn dynamics_marks(&mut self, d: Node, pos: Rat, sound_velocity: Option<u8>) {
        let mut any = false;
        for m in elements(d) {
            let Some(kind) = mark_velocity(name(m)) else { continue };
            any = true;
            let kind = match (kind, sound_velocity) {
                (k, None) => k,
                (Dyn::Level(_), Some(v)) => Dyn::Level(v),
                (Dyn::Accent(_), Some(v)) => Dyn::Accent(v),
                (Dyn::AccentThen(_, l), Some(v)) => Dyn::AccentThen(v, l),
            };
            let seq = self.next_seq();
            self.dyns.push((pos, seq, kind));
        }
        if let (false, Some(v)) = (any, sound_velocity) {
            let seq = self.next_seq();
            self.dyns.push((pos, seq, Dyn::Level(v)));
        }
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a.checked_div(x).map_or(0, |q| q.saturating_mul(b))
}
