//! Standard MIDI files ⇄ `NoteSequence`.
//!
//! Reading follows pretty_midi 0.2.11 (what note-seq's `midi_file_to_note_sequence` uses)
//! rule for rule, because a different note pairing or instrument order changes Magenta's
//! event lists: tempo changes are read from track 0 only; a note-off closes every open
//! note of that channel and pitch that did not start on the same tick; a note-on and
//! note-off on the same tick drop the note; instruments are keyed by
//! (program, channel, track) in order of their first *closed* note; control changes seen
//! before an instrument's first note are kept only if that (channel, track) later gets one.
//! Parsing is midly's (lenient mode), so running status and odd chunk lengths are handled.
#![forbid(unsafe_code)]

use cadenza_notes::{
    ControlChange, KeySignature, Mode, Note, NoteSequence, SourceInfo, SourceKind, Tempo, TimeSignature,
};
use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use std::path::Path;
use thiserror::Error;

/// pretty_midi refuses files whose last tick exceeds this: such files are almost always
/// corrupt and the tick→time table would exhaust memory.
pub const MAX_TICK: u64 = 10_000_000;

#[derive(Debug, Error)]
pub enum MidiError {
    #[error("{file}: cannot read: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("{file}: not a valid MIDI file: {msg}")]
    Parse { file: String, msg: String },
    #[error("{file}: largest tick {tick} exceeds {MAX_TICK}; the file is likely corrupt")]
    TooLong { file: String, tick: u64 },
    #[error("{file}: tempo of 0 microseconds per quarter note")]
    ZeroTempo { file: String },
    #[error("{file}: {msg}")]
    Invalid { file: String, msg: String },
    #[error("{file}: cannot write: {msg}")]
    Write { file: String, msg: String },
}

pub fn read_file(path: &Path) -> Result<NoteSequence, MidiError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| MidiError::Io { file: file.clone(), source })?;
    read_bytes(&bytes, &file)
}

/// Maps ticks to seconds the way pretty_midi's `_update_tick_to_time` fills its table.
struct TickMap {
    /// (start tick, seconds per tick, seconds at start tick)
    scales: Vec<(u64, f64, f64)>,
}

impl TickMap {
    fn time(&self, tick: u64) -> f64 {
        // Last segment starting at or before `tick` (later duplicates win, as numpy's
        // overlapping slice writes do).
        let i = self.scales.partition_point(|s| s.0 <= tick).saturating_sub(1);
        let (start, scale, base) = self.scales[i];
        base + scale * ((tick - start) as f64)
    }
}

struct Instrument {
    program: u8,
    channel: u8,
    notes: Vec<Note>,
    cc_list: usize,
}

/// Whether midly would read a header chunk whose SMPTE frame-rate byte is 0x80. The chunks are
/// walked as midly walks them (id, big-endian length, a short last chunk taking the rest; an
/// RMID file's RIFF `data` chunk first), so bytes inside a track that merely spell `MThd` are
/// not taken for a header (notes can spell `MThd`; `tests/fuzz_regressions.rs` holds such
/// files).
fn overflowing_smpte_header(bytes: &[u8]) -> bool {
    let smf = if bytes.starts_with(b"RIFF") {
        match rmid_data(bytes) {
            Some(d) => d,
            None => return false,
        }
    } else {
        bytes
    };
    chunks(smf, Chunks::Smf).any(|(id, data)| id == b"MThd" && data.get(4) == Some(&0x80))
}

/// How a file's chunks are laid out: SMF lengths are big-endian; RIFF's are little-endian and
/// odd-sized chunks are padded to an even length.
#[derive(Clone, Copy, PartialEq)]
enum Chunks {
    Smf,
    Riff,
}

/// `(id, data)` of each chunk, as midly walks them: a chunk longer than what is left takes the
/// rest, and the walk ends when fewer than 8 bytes (an id and a length) remain.
fn chunks(mut rest: &[u8], layout: Chunks) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        if rest.len() < 8 {
            return None;
        }
        let id = &rest[..4];
        let len_bytes = [rest[4], rest[5], rest[6], rest[7]];
        let len = match layout {
            Chunks::Smf => u32::from_be_bytes(len_bytes),
            Chunks::Riff => u32::from_le_bytes(len_bytes),
        } as usize;
        rest = &rest[8..];
        let data = if len <= rest.len() {
            let (d, r) = rest.split_at(len);
            rest = r;
            d
        } else {
            std::mem::take(&mut rest)
        };
        if layout == Chunks::Riff && len % 2 == 1 && !rest.is_empty() {
            rest = &rest[1..];
        }
        Some((id, data))
    })
}

/// The SMF inside an RMID file as midly unwraps it: the RIFF chunk's `RMID` form, then its
/// first `data` chunk.
fn rmid_data(bytes: &[u8]) -> Option<&[u8]> {
    let (id, riff) = chunks(bytes, Chunks::Riff).next()?;
    if id != b"RIFF" || riff.get(..4) != Some(b"RMID") {
        return None;
    }
    chunks(&riff[4..], Chunks::Riff).find(|(id, _)| *id == b"data").map(|(_, d)| d)
}

pub fn read_bytes(bytes: &[u8], name: &str) -> Result<NoteSequence, MidiError> {
    let file = name.to_string();
    let smf = parse_smf(bytes, &file)?;
    let abs = absolute_ticks(&smf, &file)?;
    let (resolution, tmap) = tick_map(&smf, &abs, &file)?;
    let metrical = matches!(smf.header.timing, Timing::Metrical(_));

    let mut seq = NoteSequence::new();
    seq.ticks_per_quarter = resolution;
    seq.source = SourceInfo { path: name.to_string(), kind: SourceKind::Midi, ..Default::default() };

    // Metadata from track 0.
    for (ev, &tick) in smf.tracks[0].iter().zip(&abs[0]) {
        match ev.kind {
            TrackEventKind::Meta(MetaMessage::KeySignature(sf, minor)) => {
                let mode = if minor { Mode::Minor } else { Mode::Major };
                seq.key_signatures.push(KeySignature::from_fifths(tmap.time(tick), sf as i32, mode));
            }
            TrackEventKind::Meta(MetaMessage::TimeSignature(num, den_pow, _, _)) => {
                let denominator = 1u32.checked_shl(den_pow as u32).unwrap_or(0);
                seq.time_signatures.push(TimeSignature { time: tmap.time(tick), numerator: num as u32, denominator });
            }
            _ => {}
        }
    }
    // pretty_midi's get_tempo_changes: one entry per tick scale.
    for &(start, scale, _) in &tmap.scales {
        let qpm = if metrical { 60.0 / (scale * resolution as f64) } else { 120.0 };
        seq.tempos.push(Tempo { time: tmap.time(start), qpm });
    }

    let instruments = load_instruments(&smf, &abs, &tmap);
    instruments.add_to(&mut seq, &tmap);
    Ok(seq)
}

/// midly's parse, refusing what it would panic on, and a file without tracks.
fn parse_smf<'a>(bytes: &'a [u8], file: &str) -> Result<Smf<'a>, MidiError> {
    let file = file.to_string();
    // midly negates the SMPTE frame-rate byte as an i8, which overflows (a panic in builds
    // with overflow checks) for 0x80; no real file has it (fuzzing found it, in the first
    // header and in a second `MThd` chunk among the tracks, which midly also reads), so refuse
    // it in any header chunk here.
    if overflowing_smpte_header(bytes) {
        return Err(MidiError::Parse { file, msg: "invalid SMPTE timing in a header (frame-rate byte 0x80)".into() });
    }
    // And a net for anything else the parser might panic on: an error, never a crash.
    let smf = match std::panic::catch_unwind(|| Smf::parse(bytes)) {
        Ok(r) => r.map_err(|e| MidiError::Parse { file: file.clone(), msg: e.to_string() })?,
        Err(_) => {
            return Err(MidiError::Parse {
                file,
                msg: "the MIDI parser gave up on this file (malformed structure)".into(),
            })
        }
    };
    if smf.tracks.is_empty() {
        return Err(MidiError::Invalid { file, msg: "no tracks".into() });
    }
    Ok(smf)
}

/// Absolute ticks per event, per track; fails past [`MAX_TICK`].
fn absolute_ticks(smf: &Smf, file: &str) -> Result<Vec<Vec<u64>>, MidiError> {
    let mut max_tick = 0u64;
    let abs: Vec<Vec<u64>> = smf
        .tracks
        .iter()
        .map(|t| {
            let mut tick = 0u64;
            t.iter()
                .map(|e| {
                    tick += e.delta.as_int() as u64;
                    max_tick = max_tick.max(tick);
                    tick
                })
                .collect()
        })
        .collect();
    let max_tick = max_tick + 1;
    if max_tick > MAX_TICK {
        return Err(MidiError::TooLong { file: file.to_string(), tick: max_tick });
    }
    Ok(abs)
}

/// The resolution and the tempo map (track 0 only, as pretty_midi).
fn tick_map(smf: &Smf, abs: &[Vec<u64>], file: &str) -> Result<(u32, TickMap), MidiError> {
    let file = file.to_string();
    let (resolution, mut raw_scales): (u32, Vec<(u64, f64)>) = match smf.header.timing {
        Timing::Metrical(tpq) => {
            let res = tpq.as_int() as u32;
            if res == 0 {
                return Err(MidiError::Invalid { file, msg: "zero ticks per quarter note".into() });
            }
            (res, vec![(0, 60.0 / (120.0 * res as f64))])
        }
        Timing::Timecode(fps, sub) => {
            // SMPTE time: ticks are absolute, tempo events do not apply.
            let per_sec = fps.as_f32() as f64 * sub as f64;
            if per_sec <= 0.0 {
                return Err(MidiError::Invalid { file, msg: "zero SMPTE ticks per second".into() });
            }
            (220, vec![(0, 1.0 / per_sec)])
        }
    };
    if matches!(smf.header.timing, Timing::Metrical(_)) {
        let res = resolution as f64;
        for (ev, &tick) in smf.tracks[0].iter().zip(&abs[0]) {
            if let TrackEventKind::Meta(MetaMessage::Tempo(us)) = ev.kind {
                let us = us.as_int();
                if us == 0 {
                    return Err(MidiError::ZeroTempo { file });
                }
                let bpm = 6e7 / us as f64;
                let scale = 60.0 / (bpm * res);
                if tick == 0 {
                    raw_scales = vec![(0, scale)];
                } else if raw_scales.last().map(|s| s.1) != Some(scale) {
                    raw_scales.push((tick, scale));
                }
            }
        }
    }
    let mut scales = Vec::with_capacity(raw_scales.len());
    let mut base = 0.0f64;
    for (i, &(start, scale)) in raw_scales.iter().enumerate() {
        if i > 0 {
            let (pstart, pscale) = raw_scales[i - 1];
            base += pscale * ((start - pstart) as f64);
        }
        scales.push((start, scale, base));
    }
    Ok((resolution, TickMap { scales }))
}

/// The instruments pretty_midi's `_load_instruments` builds, with their control changes.
/// Few instruments per file: linear lookups beat hashing here.
#[derive(Default)]
struct Instruments {
    list: Vec<Instrument>,
    /// (program, channel, track) → index in `list`.
    index: Vec<((u8, u8, usize), usize)>,
    /// Control changes (tick, controller, value), one list per instrument or straggler.
    cc_lists: Vec<Vec<(u64, u8, u8)>>,
    /// (channel, track) with control changes before any instrument → its cc list.
    stragglers: Vec<((u8, usize), usize)>,
}

impl Instruments {
    fn find(&self, k: (u8, u8, usize)) -> Option<usize> {
        self.index.iter().find(|e| e.0 == k).map(|e| e.1)
    }

    fn find_straggler(&self, k: (u8, usize)) -> Option<usize> {
        self.stragglers.iter().find(|e| e.0 == k).map(|e| e.1)
    }

    /// The instrument of (program, channel, track), created at its first closed note; a new
    /// one takes the control changes its (channel, track) saw before.
    fn instrument(&mut self, program: u8, ch: u8, track: usize) -> usize {
        if let Some(i) = self.find((program, ch, track)) {
            return i;
        }
        let cc_list = match self.find_straggler((ch, track)) {
            Some(l) => l,
            None => {
                self.cc_lists.push(Vec::new());
                self.cc_lists.len() - 1
            }
        };
        self.list.push(Instrument { program, channel: ch, notes: Vec::new(), cc_list });
        self.index.push(((program, ch, track), self.list.len() - 1));
        self.list.len() - 1
    }

    /// The control-change list of (program, channel, track): its instrument's, or the
    /// (channel, track)'s straggler list.
    fn cc_list(&mut self, program: u8, ch: u8, track: usize) -> usize {
        match self.find((program, ch, track)) {
            Some(i) => self.list[i].cc_list,
            None => match self.find_straggler((ch, track)) {
                Some(l) => l,
                None => {
                    self.cc_lists.push(Vec::new());
                    self.stragglers.push(((ch, track), self.cc_lists.len() - 1));
                    self.cc_lists.len() - 1
                }
            },
        }
    }

    /// Appends the notes (numbered by instrument) and the instruments' control changes to
    /// `seq`, and sets its total time.
    fn add_to(&self, seq: &mut NoteSequence, tmap: &TickMap) {
        let mut total: Option<f64> = None;
        for (i, inst) in self.list.iter().enumerate() {
            for n in &inst.notes {
                let mut n = n.clone();
                n.instrument = i as u32;
                if total.is_none_or(|t| t == 0.0 || n.end > t) {
                    total = Some(n.end);
                }
                seq.notes.push(n);
            }
        }
        for (i, inst) in self.list.iter().enumerate() {
            for &(tick, controller, value) in &self.cc_lists[inst.cc_list] {
                seq.control_changes.push(ControlChange {
                    time: tmap.time(tick),
                    controller,
                    value,
                    instrument: i as u32,
                    program: inst.program as u32,
                    is_drum: inst.channel == 9,
                });
            }
        }
        seq.total_time = total.unwrap_or(0.0);
    }
}

/// pretty_midi's `_load_instruments`: pairs note-ons with note-offs per track and sorts
/// notes and control changes into instruments.
fn load_instruments(smf: &Smf, abs: &[Vec<u64>], tmap: &TickMap) -> Instruments {
    let mut insts = Instruments::default();
    // Open notes per (channel, key); an empty list means "not open", as a missing key does in
    // pretty_midi's dict (it never holds an empty list).
    let mut last_note_on: Vec<Vec<(u64, u8)>> = vec![Vec::new(); 16 * 128];
    for (track_idx, track) in smf.tracks.iter().enumerate() {
        last_note_on.iter_mut().for_each(|v| v.clear());
        let mut current_program = [0u8; 16];
        for (ev, &tick) in track.iter().zip(&abs[track_idx]) {
            let TrackEventKind::Midi { channel, message } = ev.kind else { continue };
            let ch = channel.as_int();
            let program = current_program[ch as usize];
            match message {
                MidiMessage::ProgramChange { program: p } => current_program[ch as usize] = p.as_int(),
                MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                    last_note_on[ch as usize * 128 + key.as_int() as usize].push((tick, vel.as_int()));
                }
                MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                    let slot = ch as usize * 128 + key.as_int() as usize;
                    if last_note_on[slot].is_empty() {
                        continue;
                    }
                    let open = std::mem::take(&mut last_note_on[slot]);
                    let (close, keep): (Vec<_>, Vec<_>) = open.into_iter().partition(|&(s, _)| s != tick);
                    for &(start_tick, vel) in &close {
                        let ii = insts.instrument(program, ch, track_idx);
                        let mut n = Note::new(key.as_int(), vel, tmap.time(start_tick), tmap.time(tick));
                        n.program = program as u32;
                        n.is_drum = ch == 9;
                        insts.list[ii].notes.push(n);
                    }
                    if !close.is_empty() && !keep.is_empty() {
                        last_note_on[slot] = keep;
                    }
                }
                MidiMessage::Controller { controller, value } => {
                    let list = insts.cc_list(program, ch, track_idx);
                    insts.cc_lists[list].push((tick, controller.as_int(), value.as_int()));
                }
                _ => {}
            }
        }
    }
    insts
}

/// Writes a type-1 file: track 0 holds tempo, time and key signatures; one track per
/// (instrument, program) holds its notes and control changes. Times map to ticks through
/// the sequence's own tempo map at its own resolution, so reading the file back gives the
/// same notes to within half a tick.
pub fn to_bytes(seq: &NoteSequence) -> Vec<u8> {
    let tpq: u16 = if (1..=0x7fff).contains(&seq.ticks_per_quarter) { seq.ticks_per_quarter as u16 } else { 220 };
    let segs = tempo_segments(seq, tpq);
    let conductor = conductor_events(seq, &segs);
    let groups = instrument_events(seq, &segs);

    let mut tracks = vec![finish_track(conductor.into_iter().map(|(t, k)| (t, 0u8, k)).collect())];
    for (i, (key, evs)) in groups.into_iter().enumerate() {
        let mut all = Vec::with_capacity(evs.len() + 1);
        if !key.2 {
            // First at tick 0: the stable sort in `finish_track` keeps it ahead of the notes.
            let ch = u4::new(channel_for(i, false));
            all.push((
                0,
                0,
                TrackEventKind::Midi {
                    channel: ch,
                    message: MidiMessage::ProgramChange { program: u7::new(key.1.min(127) as u8) },
                },
            ));
        }
        all.extend(evs);
        tracks.push(finish_track(all));
    }
    let smf = Smf { header: Header::new(Format::Parallel, Timing::Metrical(u15::new(tpq))), tracks };
    let mut buf = Vec::new();
    smf.write_std(&mut buf).expect("writing to a Vec cannot fail");
    buf
}

/// A tempo segment of the written file: (start seconds, start tick, seconds per tick,
/// microseconds per quarter note).
type Segment = (f64, u64, f64, u32);

/// A track event at an absolute tick, with its order among events of the same tick.
type Timed = (u64, u8, TrackEventKind<'static>);

/// The tempo segments of `seq` at `tpq` ticks per quarter note (120 qpm from 0 s when the
/// sequence has no tempo there); a tempo's tick is rounded so both reader and writer agree
/// on where it falls.
fn tempo_segments(seq: &NoteSequence, tpq: u16) -> Vec<Segment> {
    let mut tempos: Vec<Tempo> =
        seq.tempos.iter().copied().filter(|t| t.qpm.is_finite() && t.qpm > 0.0 && t.time >= 0.0).collect();
    tempos.sort_by(|a, b| a.time.total_cmp(&b.time));
    if tempos.first().is_none_or(|t| t.time > 0.0) {
        tempos.insert(0, Tempo { time: 0.0, qpm: 120.0 });
    }
    let mut segs: Vec<Segment> = Vec::new();
    for t in &tempos {
        let us = (6e7 / t.qpm).round().clamp(1.0, 16_777_215.0) as u32;
        let scale = us as f64 / 1e6 / tpq as f64;
        let tick = match segs.last() {
            None => 0,
            Some(&(s0, k0, sc, _)) => k0 + ((t.time - s0) / sc).round().max(0.0) as u64,
        };
        let time = match segs.last() {
            None => 0.0,
            Some(&(s0, k0, sc, _)) => s0 + (tick - k0) as f64 * sc,
        };
        segs.push((time, tick, scale, us));
    }
    segs
}

/// The tick of time `t` (seconds; 0 when negative or not finite) under `segs`.
fn to_tick(segs: &[Segment], t: f64) -> u64 {
    let t = if t.is_finite() { t.max(0.0) } else { 0.0 };
    let i = segs.partition_point(|s| s.0 <= t).saturating_sub(1);
    let (s0, k0, sc, _) = segs[i];
    k0 + ((t - s0) / sc).round() as u64
}

/// Track 0's events: tempos, time signatures, key signatures.
fn conductor_events(seq: &NoteSequence, segs: &[Segment]) -> Vec<(u64, TrackEventKind<'static>)> {
    let mut conductor: Vec<(u64, TrackEventKind<'static>)> = Vec::new();
    for &(_, tick, _, us) in segs {
        conductor.push((tick, TrackEventKind::Meta(MetaMessage::Tempo(u24::new(us)))));
    }
    for ts in &seq.time_signatures {
        let pow = if ts.denominator.is_power_of_two() { ts.denominator.trailing_zeros() as u8 } else { 2 };
        conductor.push((
            to_tick(segs, ts.time),
            TrackEventKind::Meta(MetaMessage::TimeSignature(ts.numerator.min(255) as u8, pow, 24, 8)),
        ));
    }
    for ks in &seq.key_signatures {
        let minor = ks.mode == Mode::Minor;
        let tonic_major = if minor { (ks.key + 3) % 12 } else { ks.key };
        // fifths in -6..=5 whose tonic is `tonic_major`.
        let sf = (0..12i8).map(|f| f - 6).find(|f| ((*f as i32) * 7).rem_euclid(12) == tonic_major as i32).unwrap_or(0);
        conductor.push((to_tick(segs, ks.time), TrackEventKind::Meta(MetaMessage::KeySignature(sf, minor))));
    }
    conductor
}

/// Notes and control changes grouped by (instrument, program, is_drum) in first-seen order,
/// each group on its own channel.
fn instrument_events(seq: &NoteSequence, segs: &[Segment]) -> Vec<((u32, u32, bool), Vec<Timed>)> {
    let mut groups: Vec<((u32, u32, bool), Vec<Timed>)> = Vec::new();
    let group_of = |key: (u32, u32, bool), groups: &mut Vec<((u32, u32, bool), Vec<Timed>)>| -> usize {
        if let Some(i) = groups.iter().position(|g| g.0 == key) {
            i
        } else {
            groups.push((key, Vec::new()));
            groups.len() - 1
        }
    };
    for n in &seq.notes {
        let key = (n.instrument, n.program, n.is_drum);
        let gi = group_of(key, &mut groups);
        let ch = u4::new(channel_for(gi, n.is_drum));
        let (a, mut b) = (to_tick(segs, n.start), to_tick(segs, n.end));
        if b <= a {
            b = a + 1;
        }
        // Order at equal ticks: offs (0) before controllers (1) before ons (2).
        groups[gi].1.push((
            a,
            2,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::NoteOn { key: u7::new(n.pitch.min(127)), vel: u7::new(n.velocity.clamp(1, 127)) },
            },
        ));
        groups[gi].1.push((
            b,
            0,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::NoteOff { key: u7::new(n.pitch.min(127)), vel: u7::new(0) },
            },
        ));
    }
    for c in &seq.control_changes {
        let key = (c.instrument, c.program, c.is_drum);
        let gi = group_of(key, &mut groups);
        let ch = u4::new(channel_for(gi, c.is_drum));
        groups[gi].1.push((
            to_tick(segs, c.time),
            1,
            TrackEventKind::Midi {
                channel: ch,
                message: MidiMessage::Controller {
                    controller: u7::new(c.controller.min(127)),
                    value: u7::new(c.value.min(127)),
                },
            },
        ));
    }
    groups
}

/// A track from timed events: sorted by (tick, order), delta-coded, ended.
fn finish_track(mut evs: Vec<Timed>) -> Vec<TrackEvent<'static>> {
    evs.sort_by_key(|e| (e.0, e.1));
    let mut out = Vec::with_capacity(evs.len() + 1);
    let mut last = 0u64;
    for (tick, _, kind) in evs {
        out.push(TrackEvent { delta: u28::new((tick - last).min(0x0fff_ffff) as u32), kind });
        last = tick;
    }
    out.push(TrackEvent { delta: u28::new(0), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
    out
}

/// Channel for the `i`-th instrument track: 9 is reserved for drums.
fn channel_for(i: usize, drum: bool) -> u8 {
    if drum {
        9
    } else {
        let c = (i % 15) as u8;
        if c >= 9 {
            c + 1
        } else {
            c
        }
    }
}

/// Writes a MIDI file atomically: a temp file in the same folder, then a rename, so an
/// interrupted write never leaves a truncated file behind.
pub fn write_file(seq: &NoteSequence, path: &Path) -> Result<(), MidiError> {
    cadenza_atomic::write_atomic(path, &to_bytes(seq))
        .map_err(|e| MidiError::Write { file: path.display().to_string(), msg: e.to_string() })
}
