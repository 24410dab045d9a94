#!/usr/bin/env bash
# The decoding arm's weight on the exploration fold (docs/study/08-realism.md, amendment): the
# Mozart fold's original model, decoded at each weight, against the same model undecoded.
#   results/realism_check/explore_decoding.sh BIN WORK
set -euo pipefail
BIN=${1:-target/debug/cadenza}
WORK=${2:-/tmp/realism_explore}
BASE=models/perf_dyn_3x256_asap_v2
HP="batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8"
COMMON=(--init "$BASE" --steps 200 --hparams "$HP" --eval-every 33 --eval-examples 400 --seed 0 --seeds 1
        --samples 16 --num-steps 3000 --note-events paired --quiet)
D="$WORK/mozart"
for W in 0.5 1; do
  N="decoding_w$W"
  if [ ! -f "$D/$N/comparison.json" ]; then
    "$BIN" compare --dataset "$D/dataset" "${COMMON[@]}" --recipe none --decoding "$W" \
      --original-from "$D/b0.05_s50" --out "$D/$N" > "$D/$N.txt" 2> "$D/$N.log"
  fi
  echo "$N done $(date -u +%H:%M)"
done
