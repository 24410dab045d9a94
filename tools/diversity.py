#!/usr/bin/env python3
"""Diversity of a comparison's samples, outside the rule: the issue asks whether training on
the model's own samples collapses it. Per arm: distinct pitch 4-grams over all onsets of a
sample (share of its 4-grams that are distinct), distinct 4-grams across all the arm's samples
(share), pitch range, and notes per sample. Reads OUT/{original,modified}/seed_K/samples/*.mid
of each comparison folder given (`pip install mido`).

    tools/diversity.py COMPARISON_DIR... > diversity.txt
"""
import glob
import os
import statistics
import sys

import mido


def onsets(path):
    """Pitches in onset order (ties by pitch)."""
    t, notes = 0.0, []
    for msg in mido.MidiFile(path):
        t += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            notes.append((round(t, 4), msg.note))
    return [p for _, p in sorted(notes)]


def grams(ps, n=4):
    return [tuple(ps[i:i + n]) for i in range(len(ps) - n + 1)]


def arm_stats(files):
    per, pooled, ranges, counts = [], [], [], []
    for f in files:
        ps = onsets(f)
        g = grams(ps)
        if g:
            per.append(len(set(g)) / len(g))
            pooled.extend(g)
        if ps:
            ranges.append(max(ps) - min(ps))
        counts.append(len(ps))
    mean = lambda xs: statistics.mean(xs) if xs else float("nan")
    return {
        "samples": len(files),
        "distinct_4grams_within": mean(per),
        "distinct_4grams_across": len(set(pooled)) / len(pooled) if pooled else float("nan"),
        "pitch_range": mean(ranges),
        "notes": mean(counts),
    }


def main(dirs):
    print(f"{'comparison':<40} {'arm':<9} {'n':>3} {'distinct 4-grams in':>20} {'across':>7} {'range':>6} {'notes':>6}")
    for d in dirs:
        for arm in ("original", "modified"):
            files = sorted(glob.glob(os.path.join(d, arm, "seed_*", "samples", "*.mid")))
            if not files:
                continue
            s = arm_stats(files)
            print(f"{d[-40:]:<40} {arm:<9} {s['samples']:>3} {s['distinct_4grams_within']:>20.3f} "
                  f"{s['distinct_4grams_across']:>7.3f} {s['pitch_range']:>6.1f} {s['notes']:>6.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
