#!/usr/bin/env bash
# Reproduces this base model (run from the repository root after `cargo build --release`).
# It is perf_dyn_3x256_asap (4,000 steps, see ../perf_dyn_3x256_asap/reproduce.sh) trained on for
# STEPS more steps with a new data order (seed 1) and a fresh Adam state: about 4.5 minutes per
# 250 steps on 2 cores (Intel Xeon, AVX-512, ~23k tokens/s).
set -euo pipefail
OUT=${1:-runs}
STEPS=${STEPS:-6250}
./target/release/cadenza dataset ../shared/data/asap --exclude 'xml_score.*' --exclude midi_score.mid --out "$OUT/asap_perf"
./target/release/cadenza train --dataset "$OUT/asap_perf" --run-dir "$OUT/base3x256_v2" --init models/perf_dyn_3x256_asap \
  --steps "$STEPS" --batch-size 48 --dropout 1.0 --learning-rate 0.001 --lr-decay rate=0.5,steps=5000 \
  --eval-every 250 --checkpoint-every 250 --checkpoint-minutes 5 --summary-every 50 --seed 1
# The shipped folder is the run's best checkpoint (lowest eval loss):
#   cp "$OUT/base3x256_v2/best/"{model.json,weights.ckpt} models/perf_dyn_3x256_asap_v2/
# The Magenta bundle beside it (same weights, Magenta's graph for 3x256; see MODEL_CARD.md):
#   ./target/release/cadenza export models/perf_dyn_3x256_asap_v2 --out models/perf_dyn_3x256_asap_v2.mag --description "..."
# An interrupted run continues with the same train command plus --resume. To train on from this
# model in a later session without the run folder, use --init models/perf_dyn_3x256_asap_v2 (a
# fresh Adam state cost nothing visible here: the eval NLL fell from the first evaluation on).
# The note-end model beside it (`generate --decoding`), counted on the same train split as played:
./target/release/cadenza decoding --dataset "$OUT/asap_perf" --out "$OUT/decoding.json"
