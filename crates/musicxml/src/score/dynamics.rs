//! The musical rules applied in score time, per part: grace notes get real time, tied notes
//! merge, dynamics marks give velocities.

use super::*;

/// MusicXML `dynamics` percentages are relative to forte, which this importer plays at
/// MIDI velocity 90.
pub(super) fn percent_velocity(p: f64) -> Option<u8> {
    if !p.is_finite() || p < 0.0 {
        return None;
    }
    Some((p * 90.0 / 100.0).round().clamp(1.0, 127.0) as u8)
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Dyn {
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
pub(super) fn mark_velocity(mark: &str) -> Option<Dyn> {
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
pub(super) fn resolve_graces(notes: &mut [RawNote], groups: &[GraceGroup]) {
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
pub(super) fn merge_ties(notes: &mut [RawNote], w: &mut Warnings) {
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
pub(super) fn apply_dynamics(notes: &mut [RawNote], mut dyns: Vec<(Rat, usize, Dyn)>) {
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
