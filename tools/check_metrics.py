#!/usr/bin/env python3
"""Checks `cadenza evaluate`'s metrics against independent implementations (MusPy and
pretty_midi) on the same MIDI files.

Setup (PyPI only):
    python3 -m venv /tmp/venv-metrics && /tmp/venv-metrics/bin/pip install muspy pretty_midi
Run:
    /tmp/venv-metrics/bin/python tools/check_metrics.py --cadenza target/release/cadenza DIR_OR_MIDI...

Where the definitions match, the values must agree within 1e-6 (exit status 1 otherwise):
  in_key_ratio         notes in the scale of the key       muspy.pitch_in_scale_rate (of the
                       Cadenza's Krumhansl–Schmuckler key finds; major or natural minor)
  pitch_range          max − min pitch                     muspy.pitch_range
  pitch_class_entropy  count-weighted pitch-class entropy  muspy.pitch_class_entropy
  scale_consistency    best of 24 major/minor scales        muspy.scale_consistency
  polyphony            Σ durations ÷ |∪ note intervals|     muspy.polyphony (on the tick grid,
                       the count of sounding notes averaged over ticks where one sounds is the same
                       ratio), checked on files where no note overlaps another of its own pitch:
                       MusPy counts sounding *pitches* (a piano roll), Cadenza sounding *notes*, so
                       a key re-struck while it still sounds (common in generated performances)
                       counts twice in Cadenza and once in MusPy; those files are reported apart
  velocity_mean/std    population mean and std              pretty_midi notes
  note_density         notes ÷ (last end − first onset)     pretty_midi notes
  ioi_mean             mean interval between onset groups  pretty_midi onsets (a group: onsets
                       within 30 ms of its first)
  rhythm_ratio_histogram  a/(a+b) of successive intervals,  the same onsets, binned here
                       binned at the nearest simple ratio   (max |diff| over the 11 bins)
  on_grid_ratio        onsets on a beat grid (intervals     the same onsets, re-implemented here
                       in 10 ms steps a whole number of     from the definition (no library has
                       one unit within a step; best unit    it)
                       60-400 ms by 1/32 step; kappa)
Where they differ (reported, not checked):
  empty_beat_rate      Cadenza: beats with no onset from the first onset's beat to the last's,
                       onsets snapped to the nearest 16th; MusPy: beats with no onset from time 0
                       to the end, onsets floored to their beat.
  groove_consistency   Cadenza: onsets snapped to 16ths, bars from the first onset's to the last's;
                       MusPy: raw tick positions within a measure from time 0.
Only files without sustain-pedal events are checked: Cadenza measures the notes as heard (the
pedal extends them, as Magenta's pipeline does), MusPy and pretty_midi the notes as written.
Cadenza's generated samples never carry pedal events.
"""
import argparse
import json
import math
import pathlib
import subprocess
import sys
import tempfile

import muspy
import pretty_midi

TOL = 1e-6
ONSET_TOLERANCE = 0.03
RATIO_EDGES = [0.0, 0.15, 0.225, 7 / 24, 11 / 30, 0.45, 0.55, 19 / 30, 17 / 24, 0.775, 0.85, 1.0]


def midi_files(paths):
    for p in map(pathlib.Path, paths):
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.suffix.lower() in (".mid", ".midi"))
        else:
            yield p


def self_overlap(notes):
    by_pitch = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append((n.start, n.end))
    for iv in by_pitch.values():
        iv.sort()
        if any(b[0] < a[1] for a, b in zip(iv, iv[1:])):
            return True
    return False


def has_pedal(pm):
    return any(cc.number == 64 for inst in pm.instruments for cc in inst.control_changes)


def independent(path, key=None):
    pm = pretty_midi.PrettyMIDI(str(path))
    # MusPy's reader keeps zero-length notes (a note-on and its note-off on the same tick) that
    # pretty_midi and Cadenza drop: a difference of parsing, not of the metrics' definitions, so
    # they are dropped here too (on MusPy's exact tick grid).
    music = muspy.read_midi(str(path))
    for track in music.tracks:
        track.notes = [n for n in track.notes if n.duration > 0]
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    out = {}
    if notes:
        vel = [n.velocity for n in notes]
        m = sum(vel) / len(vel)
        out["velocity_mean"] = m
        out["velocity_std"] = math.sqrt(sum((v - m) ** 2 for v in vel) / len(vel))
        span = max(n.end for n in notes) - min(n.start for n in notes)
        if span > 0:
            out["note_density"] = len(notes) / span
    for name, fn in [
        ("pitch_range", muspy.pitch_range),
        ("pitch_class_entropy", muspy.pitch_class_entropy),
        ("scale_consistency", muspy.scale_consistency),
        ("polyphony", muspy.polyphony),
        ("empty_beat_rate", muspy.empty_beat_rate),
    ]:
        v = fn(music)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[name] = float(v)
    if notes:
        starts = sorted(n.start for n in notes)
        groups = [starts[0]]
        for t in starts[1:]:
            if t - groups[-1] >= ONSET_TOLERANCE:
                groups.append(t)
        iois = [b - a for a, b in zip(groups, groups[1:])]
        if iois:
            out["ioi_mean"] = sum(iois) / len(iois)
        ratios = [a / (a + b) for a, b in zip(iois, iois[1:]) if a + b > 0]
        hist = [0.0] * (len(RATIO_EDGES) - 1)
        for r in ratios:
            b = next((i for i in range(len(hist)) if RATIO_EDGES[i] <= r < RATIO_EDGES[i + 1]), len(hist) - 1)
            hist[b] += 1.0 / len(ratios)
        out["rhythm_ratio_histogram"] = hist
        rnd = lambda x: math.floor(x + 0.5)  # Rust's f64::round for x >= 0 (Python's round is to even)
        steps = [rnd(d * 100.0) for d in iois]
        if len(steps) >= 8:
            best = None
            for i in range(int(round((40.0 - 6.0) * 32)) + 1):
                unit = 6.0 + i / 32.0
                on = sum(1 for d in steps if abs(d - max(rnd(d / unit), 1.0) * unit) <= 1.0 + 1e-9)
                chance = min(3.0 / unit, 1.0)
                kappa = (on / len(steps) - chance) / (1.0 - chance)
                best = kappa if best is None else max(best, kappa)
            out["on_grid_ratio"] = best
    if notes and self_overlap(notes):
        out["polyphony_unison_overlap"] = True
    if key is not None and notes:
        # The in-scale rate of the key Cadenza found (the key finder itself is Cadenza's).
        out["in_key_ratio"] = float(muspy.pitch_in_scale_rate(music, key["tonic"], "minor" if key["minor"] else "major"))
    try:
        v = muspy.groove_consistency(music, measure_resolution=4 * music.resolution)
        if not math.isnan(v):
            out["groove_consistency"] = float(v)
    except Exception:  # noqa: BLE001 - MusPy raises on sequences shorter than a bar
        pass
    return out, has_pedal(pm)


CHECKED = ["in_key_ratio", "pitch_range", "pitch_class_entropy", "scale_consistency", "polyphony", "velocity_mean", "velocity_std", "note_density", "ioi_mean", "rhythm_ratio_histogram", "on_grid_ratio"]
REPORTED = ["empty_beat_rate", "groove_consistency"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cadenza", default="target/release/cadenza")
    ap.add_argument("--json", help="write the per-file comparison here")
    ap.add_argument("paths", nargs="+")
    a = ap.parse_args()
    files = [f for f in midi_files(a.paths)]
    rows, worst = [], {m: 0.0 for m in CHECKED + REPORTED}
    skipped = 0
    overlap_files = 0
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            out = pathlib.Path(tmp) / "e.json"
            subprocess.run([a.cadenza, "evaluate", "--samples", str(f), "--json", str(out)], check=True, capture_output=True)
            ours = json.loads(out.read_text())["evaluation"]["samples"][0]
            theirs, pedal = independent(f, ours.get("key"))
            if pedal:
                skipped += 1
                continue
            row = {"file": str(f)}
            for m in CHECKED + REPORTED:
                x, y = ours.get(m), theirs.get(m)
                if x is None or y is None:
                    continue
                if m == "polyphony" and theirs.get("polyphony_unison_overlap"):
                    overlap_files += 1
                    worst["polyphony (re-struck notes)"] = max(worst.get("polyphony (re-struck notes)", 0.0), abs(x - y))
                    continue
                d = max(abs(p - q) for p, q in zip(x, y)) if isinstance(x, list) else abs(x - y)
                worst[m] = max(worst[m], d)
                row[m] = {"cadenza": x, "independent": y, "diff": d}
            rows.append(row)
    bad = [m for m in CHECKED if worst[m] > TOL]
    print(f"{len(rows)} files compared ({skipped} with sustain pedal left out)")
    for m in CHECKED:
        print(f"  {m:<22} max |diff| {worst[m]:.3g}  {'ok' if worst[m] <= TOL else 'MISMATCH'}")
    if overlap_files:
        print(f"  polyphony on {overlap_files} files with re-struck notes: max |diff| {worst['polyphony (re-struck notes)']:.3g}  (definitions differ, see --help)")
    for m in REPORTED:
        print(f"  {m:<22} max |diff| {worst[m]:.3g}  (definitions differ, see --help)")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps({"worst": worst, "files": rows}, indent=1))
    sys.exit(1 if bad or not rows else 0)


if __name__ == "__main__":
    main()
