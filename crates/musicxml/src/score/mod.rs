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
mod dynamics;
mod part;

use dynamics::{apply_dynamics, merge_ties, resolve_graces, Dyn};
use part::PartParser;

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
