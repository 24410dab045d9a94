//! Default mode: the score as a musician would play it.
//!
//! Each part is walked once (in playback order when repeats are expanded), recording notes,
//! tempo marks, dynamics, meters and keys at exact positions in quarter notes (`Rat`). The
//! musical rules are then applied in score time, per part: grace notes get real time, tied
//! notes merge, dynamics give velocities. Finally one tempo map, built from the tempo marks
//! of every part, converts all positions to seconds, so the parts stay aligned whatever
//! part carries the tempo.
//!
//! Choices, for the cases the notation leaves open:
//! * The next measure starts at the cursor if that completes the measure, else where the
//!   furthest voice ended (see `measure`). Notes that a broken `<backup>` puts before the
//!   start of the score are dropped.
//! * Cue notes (`<cue/>`) sound. MusicXML defines them as silent, but MuseScore writes every
//!   small note as a cue note, and small notes are played: whole textures (Chopin op. 25/1)
//!   and spelled-out ornaments in the ASAP scores are cue notes.
//! * A note whose own `dynamics` is 0 is silent and dropped.
//! * Grace notes: see `resolve_graces`.
//! * Velocities: see `mark_velocity`; `<sound dynamics>` (percent of forte = 90) wins over
//!   the table when both are given. Hairpins are not interpreted.

use crate::rational::Rat;
use crate::repeats::playback_order;
use crate::xmlutil::{child, child_text, children, elements, et_text, name};
use crate::{Fail, Warnings};
use cadenza_notes::{KeySignature, Mode, Note, NoteSequence, Tempo, TimeSignature};
use roxmltree::Node;
use std::collections::HashMap;

const DEFAULT_QPM: f64 = 120.0;
const DEFAULT_VELOCITY: u8 = 64;
/// Longest single duration accepted, in quarter notes (over an hour at any usual tempo).
const MAX_DURATION_QUARTERS: i64 = 100_000;

type R<T> = Result<T, Fail>;

fn ck(r: Option<Rat>) -> R<Rat> {
    r.ok_or_else(|| Fail::Score("score positions overflow (absurd durations or divisions)".into()))
}

fn q(n: i64, d: i64) -> Rat {
    Rat::new(n, d).unwrap_or(Rat::ZERO)
}

/// Length of a note type in quarter notes.
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

/// MusicXML `dynamics` percentages are relative to forte, which this importer plays at
/// MIDI velocity 90.
fn percent_velocity(p: f64) -> Option<u8> {
    if !p.is_finite() || p < 0.0 {
        return None;
    }
    Some((p * 90.0 / 100.0).round().clamp(1.0, 127.0) as u8)
}

#[derive(Clone, Copy, Debug)]
enum Dyn {
    /// From here on.
    Level(u8),
    /// Only the notes struck at this instant.
    Accent(u8),
    /// An accent, then a new level (fp, sfp, ...).
    AccentThen(u8, u8),
}

/// The velocity table for dynamics marks: steps of 13 from pppp = 10 to ffff = 127, with
/// f = 88 close to the forte = 90 of `<sound dynamics>`; sforzandi are one-note accents at
/// ff (sffz at fff); fp-like marks accent the note and drop to the second level.
fn mark_velocity(mark: &str) -> Option<Dyn> {
    use Dyn::*;
    Some(match mark {
        "pppppp" => Level(1),
        "ppppp" => Level(5),
        "pppp" => Level(10),
        "ppp" => Level(23),
        "pp" => Level(36),
        "p" => Level(49),
        "mp" => Level(62),
        "mf" => Level(75),
        "f" => Level(88),
        "ff" => Level(101),
        "fff" => Level(114),
        "ffff" | "fffff" | "ffffff" => Level(127),
        "sf" | "sfz" | "fz" | "rf" | "rfz" => Accent(101),
        "sffz" => Accent(114),
        "fp" => AccentThen(88, 49),
        "sfp" | "sfzp" => AccentThen(101, 49),
        "sfpp" => AccentThen(101, 36),
        "pf" => AccentThen(49, 88),
        _ => return None,
    })
}

struct RawNote {
    /// `None` for rests, silent and unpitched notes: they still take part in timing.
    pitch: Option<u8>,
    voice: u32,
    onset: Rat,
    dur: Rat,
    /// As written, before grace notes moved anything: ties and dynamics match on these.
    orig_onset: Rat,
    orig_end: Rat,
    grace: bool,
    tie_start: bool,
    tie_stop: bool,
    velocity: Option<u8>,
    dead: bool,
}

struct GraceGroup {
    voice: u32,
    onset: Rat,
    /// Successive grace notes; a grace chord is one slot. Each with its nominal length.
    slots: Vec<(Vec<usize>, Rat)>,
    slash: bool,
    steal_following: Option<Rat>,
    steal_previous: Option<Rat>,
    has_principal: bool,
}

struct TempoMark {
    pos: Rat,
    part: usize,
    seq: usize,
    qpm: f64,
}

#[derive(Default)]
struct Global {
    tempos: Vec<TempoMark>,
    times: Vec<(Rat, u32, u32)>,
    keys: Vec<(Rat, u8, Mode)>,
    seq: usize,
}

/// A part in score time, before the musical rules are applied.
struct ParsedPart {
    notes: Vec<RawNote>,
    /// Furthest position reached.
    end: Rat,
    /// (position, document order, mark)
    dynamics: Vec<(Rat, usize, Dyn)>,
    graces: Vec<GraceGroup>,
}

struct PartOut {
    notes: Vec<RawNote>,
    end: Rat,
    instrument: u32,
    program: u32,
}

pub(crate) fn import(root: Node, expand_repeats: bool, w: &mut Warnings) -> R<NoteSequence> {
    let mut midi: HashMap<&str, (Option<u32>, Option<u32>)> = HashMap::new();
    if let Some(list) = child(root, "part-list") {
        for sp in children(list, "score-part") {
            let Some(id) = sp.attribute("id") else { continue };
            let mi = child(sp, "midi-instrument");
            let num = |tag: &str, max: u32| {
                mi.and_then(|mi| child_text(mi, tag))
                    .and_then(|t| t.parse::<u32>().ok())
                    .filter(|v| (1..=max).contains(v))
                    .map(|v| v - 1)
            };
            midi.insert(id, (num("midi-channel", 16), num("midi-program", 128)));
        }
    }

    let mut global = Global::default();
    let mut parts = Vec::new();
    for (index, part) in children(root, "part").enumerate() {
        let (channel, program) = part.attribute("id").and_then(|id| midi.get(id).copied()).unwrap_or((None, None));
        let measures: Vec<Node> = children(part, "measure").collect();
        let order: Vec<usize> =
            if expand_repeats { playback_order(&measures, w) } else { (0..measures.len()).collect() };
        let mut p = PartParser::new(index, &mut global, w);
        for &i in &order {
            p.measure(measures[i])?;
        }
        let ParsedPart { mut notes, end, dynamics, graces } = p.finish();
        resolve_graces(&mut notes, &graces);
        merge_ties(&mut notes, w);
        apply_dynamics(&mut notes, dynamics);
        parts.push(PartOut { notes, end, instrument: channel.unwrap_or(index as u32), program: program.unwrap_or(0) });
    }
    if parts.is_empty() {
        w.push("score has no <part>");
    }

    let map = TempoMap::new(&global.tempos);
    let mut seq = NoteSequence::new();
    seq.ticks_per_quarter = 220;
    seq.tempos = map.tempos();
    let mut total = 0.0f64;
    for (pi, part) in parts.iter().enumerate() {
        total = total.max(map.secs(part.end));
        for n in &part.notes {
            let Some(pitch) = n.pitch else { continue };
            if n.dead {
                continue;
            }
            if !n.dur.is_positive() {
                w.push("note with zero duration dropped");
                continue;
            }
            if n.onset.is_negative() {
                w.push("note placed before the start of the score (bad <backup>) dropped");
                continue;
            }
            let start = map.secs(n.onset);
            let end = map.secs(ck(n.onset.add(n.dur))?);
            if !(start.is_finite() && end.is_finite() && end > start) {
                return Err(Fail::Score("note times are not finite".into()));
            }
            total = total.max(end);
            seq.notes.push(Note {
                pitch,
                velocity: n.velocity.unwrap_or(DEFAULT_VELOCITY),
                start,
                end,
                instrument: part.instrument,
                program: part.program,
                is_drum: false,
                part: pi as u32,
                voice: n.voice,
            });
        }
    }
    seq.notes.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.part.cmp(&b.part)).then(a.pitch.cmp(&b.pitch)));
    seq.total_time = total;

    global.times.sort();
    global.times.dedup();
    seq.time_signatures = global
        .times
        .iter()
        .map(|&(pos, numerator, denominator)| TimeSignature { time: map.secs(pos), numerator, denominator })
        .collect();
    global.keys.sort_by_key(|&(pos, key, mode)| (pos, key, mode as u8));
    global.keys.dedup();
    seq.key_signatures =
        global.keys.iter().map(|&(pos, key, mode)| KeySignature { time: map.secs(pos), key, mode }).collect();
    Ok(seq)
}

/// One tempo map for the whole score, from every part's marks. When parts disagree at the
/// same instant the topmost part wins; within a part, the last mark at that instant.
struct TempoMap {
    /// (position, seconds at that position, qpm from there on)
    segs: Vec<(Rat, f64, f64)>,
}

impl TempoMap {
    fn new(marks: &[TempoMark]) -> TempoMap {
        let mut sorted: Vec<&TempoMark> = marks.iter().collect();
        sorted.sort_by(|a, b| a.pos.cmp(&b.pos).then(b.part.cmp(&a.part)).then(a.seq.cmp(&b.seq)));
        let mut segs: Vec<(Rat, f64, f64)> = vec![(Rat::ZERO, 0.0, DEFAULT_QPM)];
        for m in sorted {
            let last = *segs.last().unwrap_or(&(Rat::ZERO, 0.0, DEFAULT_QPM));
            if m.pos == last.0 {
                if let Some(s) = segs.last_mut() {
                    s.2 = m.qpm;
                }
            } else {
                let secs = last.1 + span(last.0, m.pos) * 60.0 / last.2;
                segs.push((m.pos, secs, m.qpm));
            }
        }
        segs.dedup_by(|b, a| a.2 == b.2); // a mark that changes nothing
        TempoMap { segs }
    }

    fn secs(&self, pos: Rat) -> f64 {
        let i = self.segs.partition_point(|s| s.0 <= pos).saturating_sub(1);
        let (p, s, qpm) = self.segs[i];
        s + span(p, pos) * 60.0 / qpm
    }

    fn tempos(&self) -> Vec<Tempo> {
        self.segs.iter().map(|&(_, time, qpm)| Tempo { time, qpm }).collect()
    }
}

fn span(from: Rat, to: Rat) -> f64 {
    to.sub(from).map(Rat::to_f64).unwrap_or_else(|| to.to_f64() - from.to_f64())
}

struct PartParser<'a> {
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
    fn new(part: usize, global: &'a mut Global, w: &'a mut Warnings) -> Self {
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

    fn finish(mut self) -> ParsedPart {
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

    fn measure(&mut self, m: Node) -> R<()> {
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

        let sounding = if rest {
            None
        } else if unpitched {
            self.w.push("unpitched (percussion) note skipped");
            None
        } else if let Some(p) = pitch {
            self.midi_pitch(p)
        } else {
            self.w.push("note without <pitch> skipped");
            None
        };

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

/// Grace notes get real time, taken from a neighbour in their voice (all in quarter notes,
/// so "short" scales with the tempo):
/// * Normally from the following (principal) note, which starts later by the same amount.
///   A slashed grace (acciaccatura) is nominally a 32nd, others their written value; a
///   group together takes at most 1/4 (slashed) or 1/2 (others) of the principal.
/// * `steal-time-following="P"` takes exactly P% of the principal; `steal-time-previous="P"`
///   takes P% from the end of the previous note instead, leaving the principal on the beat.
/// * Graces with no principal after them (after-beat graces) take time from the end of the
///   previous note the same way; with neither, they sound for their nominal length.
/// * Successive graces share the time in order, in proportion to their nominal lengths;
///   the notes of a grace chord share a slot.
fn resolve_graces(notes: &mut [RawNote], groups: &[GraceGroup]) {
    if groups.is_empty() {
        return;
    }
    let mut by_onset: HashMap<(u32, Rat), Vec<usize>> = HashMap::new();
    let mut by_end: HashMap<(u32, Rat), Vec<usize>> = HashMap::new();
    for (i, n) in notes.iter().enumerate() {
        if !n.grace && n.dur.is_positive() {
            by_onset.entry((n.voice, n.orig_onset)).or_default().push(i);
            by_end.entry((n.voice, n.orig_end)).or_default().push(i);
        }
    }
    let min_dur = |notes: &[RawNote], idx: &[usize]| idx.iter().map(|&i| notes[i].dur).min();
    for g in groups {
        let Some(nominal) = g.slots.iter().try_fold(Rat::ZERO, |acc, s| acc.add(s.1)) else { continue };
        if !nominal.is_positive() {
            continue;
        }
        let cap = if g.slash { q(1, 4) } else { q(1, 2) };
        let share = |base: Rat, steal: Option<Rat>| -> Option<Rat> {
            match steal {
                Some(p) => base.mul(p.min(Rat::int(1))),
                None => Some(nominal.min(base.mul(cap)?)),
            }
        };
        let principals =
            if g.has_principal && g.steal_previous.is_none() { by_onset.get(&(g.voice, g.onset)) } else { None };
        if let Some(ps) = principals {
            if let Some(total) =
                min_dur(notes, ps).and_then(|base| share(base, g.steal_following)).filter(|t| t.is_positive())
            {
                place(notes, g, g.onset, total, nominal);
                for &i in ps {
                    if let (Some(on), Some(d)) = (notes[i].onset.add(total), notes[i].dur.sub(total)) {
                        notes[i].onset = on;
                        notes[i].dur = d;
                    }
                }
                continue;
            }
        }
        let prev = by_end.get(&(g.voice, g.onset));
        let total = prev.and_then(|ps| min_dur(notes, ps)).and_then(|base| share(base, g.steal_previous));
        match (prev, total.filter(|t| t.is_positive())) {
            (Some(ps), Some(total)) => {
                let Some(start) = g.onset.sub(total) else { continue };
                place(notes, g, start, total, nominal);
                for &i in ps {
                    if let Some(d) = notes[i].dur.sub(total) {
                        notes[i].dur = d;
                    }
                }
            }
            _ => place(notes, g, g.onset, nominal, nominal),
        }
    }
}

fn place(notes: &mut [RawNote], g: &GraceGroup, start: Rat, total: Rat, nominal: Rat) {
    let mut t = start;
    for (idx, slot_nominal) in &g.slots {
        let Some(len) = total.mul(*slot_nominal).and_then(|x| x.div(nominal)) else { return };
        for &i in idx {
            notes[i].onset = t;
            notes[i].dur = len;
        }
        let Some(next) = t.add(len) else { return };
        t = next;
    }
}

/// A tie stop continues an open tied note of the same pitch: preferably one ending exactly
/// where the stop starts (same voice first, then any voice), else one of the same voice
/// that ended a little earlier (at most a whole note: a written-out arpeggio tied into a
/// chord, or a rhythm nudged by the encoder). The chain becomes one note, from the first
/// onset to the last end. A pitch struck again without a tie closes its open chains.
fn merge_ties(notes: &mut [RawNote], w: &mut Warnings) {
    const MAX_GAP: Rat = Rat::int_const(4);
    // By pitch, the open chains: (index of the sounding note, written end so far, voice).
    let mut open: Vec<Vec<(usize, Rat, u32)>> = vec![Vec::new(); 128];
    // In time order: a tie may start in a voice written after the voice it ends in.
    let mut order: Vec<usize> = (0..notes.len()).collect();
    order.sort_by_key(|&i| notes[i].orig_onset);
    for i in order {
        let n = &notes[i];
        let Some(pitch) = n.pitch else { continue };
        if n.grace || n.dead {
            continue;
        }
        let (onset, voice, start, stop, orig_end) = (n.orig_onset, n.voice, n.tie_start, n.tie_stop, n.orig_end);
        let Some(chains) = open.get_mut(pitch as usize) else { continue };
        if stop {
            let near =
                |c: &(usize, Rat, u32)| c.2 == voice && c.1 < onset && onset.sub(c.1).is_some_and(|gap| gap <= MAX_GAP);
            let k = chains
                .iter()
                .position(|c| c.1 == onset && c.2 == voice)
                .or_else(|| chains.iter().position(|c| c.1 == onset))
                .or_else(|| chains.iter().rposition(near));
            if let Some(k) = k {
                let head = chains[k].0;
                let end = notes[i].onset.add(notes[i].dur);
                if let Some(dur) = end.and_then(|e| e.sub(notes[head].onset)) {
                    notes[head].dur = dur;
                    notes[i].dead = true;
                    if start {
                        chains[k].1 = orig_end;
                    } else {
                        chains.remove(k);
                    }
                    continue;
                }
            }
            w.push("tie stop with no tied note before it; struck again");
        }
        chains.retain(|c| c.1 >= onset);
        if start {
            chains.push((i, orig_end, voice));
        }
    }
}

/// Velocity of every note from the part's dynamics, by position: the last level at or
/// before the onset (64 before any), replaced by an accent at exactly the onset, replaced
/// by the note's own `dynamics` attribute.
fn apply_dynamics(notes: &mut [RawNote], mut dyns: Vec<(Rat, usize, Dyn)>) {
    dyns.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    // Level in force after each event, and the accent an event gives the notes it falls on.
    let mut level_after = Vec::with_capacity(dyns.len());
    let mut level = DEFAULT_VELOCITY;
    for d in &dyns {
        match d.2 {
            Dyn::Level(v) | Dyn::AccentThen(_, v) => level = v,
            Dyn::Accent(_) => {}
        }
        level_after.push(level);
    }
    for n in notes.iter_mut() {
        if n.velocity.is_some() || n.pitch.is_none() {
            continue;
        }
        let k = dyns.partition_point(|d| d.0 <= n.orig_onset);
        let mut v = if k == 0 { DEFAULT_VELOCITY } else { level_after[k - 1] };
        for d in dyns[..k].iter().rev().take_while(|d| d.0 == n.orig_onset) {
            if let Dyn::Accent(a) | Dyn::AccentThen(a, _) = d.2 {
                v = a;
                break;
            }
        }
        n.velocity = Some(v);
    }
}
