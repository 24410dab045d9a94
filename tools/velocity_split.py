#!/usr/bin/env python3
"""Split a model's per-event NLL into "which kind of event comes next" and "which one of that kind".

The per-kind NLL table in a model card charges each event -ln P(event). For a VELOCITY event that
is the cost of two guesses: that the next event is a VELOCITY event at all (the kind), and which of
the 32 bins it is (the bin given the kind):

    -ln p(target) = -ln P(kind)  +  -ln( p(target) / P(kind) ),   P(kind) = sum of p over the kind

Only the second part is comparable with a uniform guess over the bins (ln 32 = 3.466 nats).

Usage (stdlib only):

    python3 tools/velocity_split.py --cadenza ./target/release/cadenza \
        --model models/perf_dyn_3x256_asap_v2 [--model models/perf_dyn_3x256_asap] FILE.mid ...

For each file it runs `cadenza encode FILE --pipeline primer` (the class indices) and
`cadenza likelihood --model M --events ENC.json --dump-probs PROBS.json`, where
softmax[t] = P(event t+1 | events 0..t); event 0 is not scored, as in `cadenza likelihood`.
It checks that the summed -ln p matches the log-likelihood `cadenza` reports, then prints, per
model, the per-kind table (pooled over the files) and the VELOCITY split per file.

Class layout of `performance_with_dynamics` (crates/performance/src/onehot.rs): NOTE_ON 0-127,
NOTE_OFF 128-255, TIME_SHIFT 256-355 (1..100 steps), VELOCITY 356-387 (bins 1..32).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter

KINDS = [  # name, first class, number of classes
    ("TIME_SHIFT", 256, 100),
    ("NOTE_ON", 0, 128),
    ("NOTE_OFF", 128, 128),
    ("VELOCITY", 356, 32),
]
NUM_CLASSES = 388


def kind_of(cls):
    for name, lo, n in KINDS:
        if lo <= cls < lo + n:
            return name
    raise ValueError(f"class {cls} outside the 388-class layout")


def encode(cadenza, path):
    out = subprocess.run([cadenza, "encode", path, "--pipeline", "primer"],
                         check=True, capture_output=True, text=True).stdout
    enc = json.loads(out)
    if enc.get("config") not in (None, "performance_with_dynamics"):
        sys.exit(f"{path}: config {enc['config']}, this script knows only performance_with_dynamics")
    return enc


def score(cadenza, model, enc, tmp):
    """Per scored event: (target class, total NLL, kind NLL, P(VELOCITY)), plus cadenza's own
    log-likelihood."""
    ev_path = os.path.join(tmp, "events.json")
    probs_path = os.path.join(tmp, "probs.json")
    with open(ev_path, "w") as f:
        json.dump({"class_indices": enc["class_indices"]}, f)
    out = subprocess.run([cadenza, "likelihood", "--model", model, "--events", ev_path,
                          "--dump-probs", probs_path],
                         check=True, capture_output=True, text=True).stdout
    reported = json.loads(out)
    with open(probs_path) as f:
        softmax = json.load(f)["softmax"]
    os.remove(probs_path)
    classes = enc["class_indices"]
    rows = []
    for t in range(len(classes) - 1):
        p = softmax[t]
        assert len(p) == NUM_CLASSES, len(p)
        target = classes[t + 1]
        _, lo, n = next(k for k in KINDS if k[0] == kind_of(target))
        total = -math.log(p[target])
        kind = -math.log(sum(p[lo:lo + n]))
        rows.append((target, total, kind, sum(p[356:388])))
    return rows, reported


def vel_share(rows):
    return sum(kind_of(r[0]) == "VELOCITY" for r in rows) / len(rows)


def binary_entropy(q):
    return -q * math.log(q) - (1 - q) * math.log(1 - q)


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def velocity_baselines(per_file_classes):
    """Context-free costs of the bin, given that the event is a VELOCITY event.

    Fitted on the very events they are scored on, so they are optimistic (a lower bound for what
    such a rule would get on unseen music)."""
    bins, deltas = Counter(), Counter()
    pairs = []
    for classes in per_file_classes:
        prev = None
        for i, c in enumerate(classes):
            if kind_of(c) != "VELOCITY":
                continue
            b = c - 356 + 1
            if i >= 1:  # the events the model is scored on
                bins[b] += 1
                if prev is not None:
                    pairs.append((prev, b))
                    deltas[b - prev] += 1
            prev = b
    # Unigram: P(bin) = its share of the VELOCITY events.
    n = sum(bins.values())
    unigram = -sum(k / n * math.log(k / n) for k in bins.values())
    # Step from the previous bin: P(bin | prev) = share of the step (bin - prev), renormalised
    # over the steps that land in 1..32. Scored on the events that have a previous bin.
    costs = []
    for prev, b in pairs:
        z = sum(k for d, k in deltas.items() if 1 <= prev + d <= 32)
        costs.append(-math.log(deltas[b - prev] / z))
    return n, unigram, mean(costs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cadenza", required=True, help="the cadenza binary")
    ap.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    ap.add_argument("files", nargs="+", help="MIDI files (whole files, primer encoding)")
    args = ap.parse_args()

    encs = [encode(args.cadenza, f) for f in args.files]
    scored = sum(len(e["class_indices"]) - 1 for e in encs)
    print(f"{len(args.files)} files, {scored} scored events "
          f"(each file's first event is not scored)")
    for f, e in zip(args.files, encs):
        print(f"  {len(e['class_indices']) - 1:6d}  {f}")

    with tempfile.TemporaryDirectory() as tmp:
        for model in args.model:
            per_file = []
            for f, enc in zip(args.files, encs):
                rows, reported = score(args.cadenza, model, enc, tmp)
                ours = -sum(r[1] for r in rows)
                if abs(ours - reported["log_likelihood"]) > 1e-3 * len(rows):
                    sys.exit(f"{f}: summed -ln p {-ours:.3f} != cadenza's {-reported['log_likelihood']:.3f}")
                per_file.append(rows)
            pooled = [r for rows in per_file for r in rows]

            print(f"\n== {model}: mean NLL {mean([r[1] for r in pooled]):.4f} nats/event ==")
            print(f"{'kind':<11} {'share':>6} {'NLL':>7} {'= kind':>7} {'+ within':>9}"
                  f" {'uniform within':>15} {'kind by share':>14}")
            for name, _, n in KINDS:
                rs = [r for r in pooled if kind_of(r[0]) == name]
                share = len(rs) / len(pooled)
                tot, kind = mean([r[1] for r in rs]), mean([r[2] for r in rs])
                print(f"{name:<11} {share:6.3f} {tot:7.3f} {kind:7.3f} {tot - kind:9.3f}"
                      f" {math.log(n):15.3f} {-math.log(share):14.3f}")
            print("  NLL = -ln p(target); kind = -ln P(next event is of this kind);"
                  " within = NLL - kind = -ln P(target | kind).")
            print("  uniform within = ln(classes of the kind); kind by share ="
                  " -ln(share), a context-free guess of the kind.")

            # The kind part above is charged only where a VELOCITY event comes; this charges the
            # yes/no guess "is the next event a VELOCITY event?" at every event.
            binary = mean([-math.log(r[3]) if kind_of(r[0]) == "VELOCITY" else -math.log(1 - r[3])
                           for r in pooled])
            print(f"  'is the next event a VELOCITY event?' at every event: {binary:.4f} nats"
                  f" (by the share alone: {binary_entropy(vel_share(pooled)):.4f})")

            print(f"\nVELOCITY per file {'events':>9} {'NLL':>6} {'kind':>6} {'bin|kind':>8}")
            for f, rows in zip(args.files, per_file):
                rs = [r for r in rows if kind_of(r[0]) == "VELOCITY"]
                tot, kind = mean([r[1] for r in rs]), mean([r[2] for r in rs])
                print(f"  {os.path.basename(f):<24} {len(rs):6d} {tot:6.3f} {kind:6.3f}"
                      f" {tot - kind:8.3f}")

    n, unigram, step = velocity_baselines([e["class_indices"] for e in encs])
    print(f"\nBaselines for the VELOCITY bin given the kind ({n} VELOCITY events):")
    print(f"  uniform over the 32 bins                              ln 32 = {math.log(32):.3f}")
    print(f"  uniform over the 31 bins other than the current one   ln 31 = {math.log(31):.3f}"
          "  (a VELOCITY event is written only when the bin changes)")
    print(f"  unigram of the bins, fitted on these events                 {unigram:.3f}")
    print(f"  step from the previous bin, fitted on these events          {step:.3f}")


if __name__ == "__main__":
    main()
