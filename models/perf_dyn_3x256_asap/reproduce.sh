#!/usr/bin/env bash
# Reproduces this base model from the ASAP performances in ../shared (run from the repository
# root after `cargo build --release`). About 75 minutes on 2 cores (AMD EPYC Zen 5, ~22k tokens/s).
set -euo pipefail
OUT=${1:-runs}
./target/release/cadenza dataset ../shared/data/asap --exclude 'xml_score.*' --exclude midi_score.mid --out "$OUT/asap_perf"
./target/release/cadenza train --dataset "$OUT/asap_perf" --run-dir "$OUT/base3x256" --layers 256,256,256 \
  --steps 4000 --batch-size 48 --dropout 1.0 --learning-rate 0.002 --lr-decay rate=0.5,steps=2500 \
  --eval-every 250 --checkpoint-every 250 --checkpoint-minutes 5 --summary-every 50 --seed 0
# The shipped folder is the run's best checkpoint (lowest eval loss):
#   cp "$OUT/base3x256/best/"{model.json,weights.ckpt} models/perf_dyn_3x256_asap/
# The Magenta bundle beside it (same weights, Magenta's graph for 3x256; see MODEL_CARD.md):
#   ./target/release/cadenza export models/perf_dyn_3x256_asap --out models/perf_dyn_3x256_asap.mag --description "..."
# An interrupted run continues with the same train command plus --resume.
