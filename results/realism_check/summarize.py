#!/usr/bin/env python3
"""One table of the seventh check from its comparison folders: per fold and arm, the judge AUC
of the original and the arm with their intervals, the floor, ΔAUC, Δ log-odds, the NLL cost,
the rule's headline; and the separating features of each arm.

    results/realism_check/summarize.py WORK > check/summary.md
"""
import json
import os
import sys

ARMS = [("decoding", "decoding alone (w 1)"), ("realism", "realism (β 0.2, 50 steps)"),
        ("realism_seed0", "realism (β 0.2, 50 steps), seed 0 alone"),
        ("realism_decoding", "realism + decoding"), ("realism_decoding_seed0", "realism + decoding, seed 0 alone")]


def auc(a):
    lo, hi = a["interval"]
    return f"{a['auc']:.3f} [{lo:.3f}, {hi:.3f}]"


def main(work):
    print("| fold | arm | AUC original | AUC arm | floor | ΔAUC [95 % CI] | Δ log-odds [95 % CI] | NLL cost | rule |")
    print("|---|---|---|---|---|---|---|---|---|")
    features = []
    for fold in ("bach", "beethoven", "others"):
        for d, name in ARMS:
            p = os.path.join(work, fold, d, "comparison.json")
            if not os.path.exists(p):
                continue
            c = json.load(open(p))
            j = c["judge"]
            arms = {a["name"]: a for a in j["arms"]["arms"]}
            da = j["arms"]["delta_auc"]
            floor = j["floor"]
            fl = f"{floor['auc']:.2f}" if floor else "–"
            v = next((x for x in c["verdicts"] if x["metric"] == "judge_log_odds"), None)
            dl = f"{v['difference']['estimate']:+.2f} [{v['difference']['lo']:+.2f}, {v['difference']['hi']:+.2f}]" if v else "–"
            h = c["headline"]
            rule = "**yes**" if h["better"] else "no: " + "; ".join(
                k for k in ("judge", "music", "cost") if h.get(k) and not h[k]["met"])
            print(f"| {fold} | {name} | {auc(arms['original'])} | {auc(arms['modified'])} | {fl} | "
                  f"{da['estimate']:+.3f} [{da['interval'][0]:+.3f}, {da['interval'][1]:+.3f}] | {dl} | "
                  f"{100 * c['eval_nll_relative_cost']:+.2f} % | {rule} |")
            sep = ", ".join(f"{s['feature']} {s['effect']:+.2f}" for s in arms["modified"]["separating"][:3])
            features.append(f"- {fold}, {name}: {sep}; Fréchet {arms['original']['frechet']:.0f} → "
                            f"{arms['modified']['frechet']:.0f}")
    print()
    print("Most apart from the performances (the arm's windows; standardised effect):")
    print("\n".join(features))


if __name__ == "__main__":
    main(sys.argv[1])
