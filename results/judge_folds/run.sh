#!/usr/bin/env bash
# The fifth check (PREREGISTRATION.md): three arms on folds 3-9 of the demo corpus, the v2 base,
# judged by the untargeted judge and the verdict rule. Resumable: a finished comparison is
# reused (compare reuses finished runs). Run from the repository root:
#   results/judge_folds/run.sh BIN WORK
set -euo pipefail
BIN=${1:-target/release/cadenza}
WORK=${2:-/tmp/judge_folds}
BASE=models/perf_dyn_3x256_asap_v2
HP="batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8"
mkdir -p "$WORK"
for F in 3 4 5 6 7 8 9; do
  D="$WORK/fold$F"
  # Arms "original" and "seed" (EMD rhythm x 0.5 + tension harmony x 0.25), trained by the demo.
  if [ ! -f "$D/comparison/comparison.json" ]; then
    WHEEL=$(ls "$WORK"/download/*.whl 2>/dev/null | head -1 || true)
    "$BIN" demo --out "$D" --fold "$F" --init "$BASE" --seeds 1 \
      ${WHEEL:+--wheel "$WHEEL"} \
      --rhythm-loss 0.5 --rhythm-cost emd --harmony-loss 0.25 --harmony-cost tension > "$D.seed.txt" 2>"$D.seed.log"
    [ -n "$WHEEL" ] || { mkdir -p "$WORK/download"; cp "$D"/download/*.whl "$WORK/download/" 2>/dev/null || true; }
  fi
  # Arm "grid-key" (grid rhythm x 0.1 + key harmony x 1) against the same original model.
  if [ ! -f "$D/comparison_gk/comparison.json" ]; then
    "$BIN" compare --dataset "$D/dataset" --init "$BASE" --original-model "$D/comparison/original/seed_0/run/best" \
      --steps 200 --hparams "$HP" --eval-every 33 --eval-examples 400 --seed 0 --seeds 1 \
      --samples 16 --num-steps 3000 --note-events paired --quiet \
      --rhythm-loss 0.1 --rhythm-cost grid --harmony-loss 1 --harmony-cost key \
      --out "$D/comparison_gk" > "$D.gk.txt" 2>"$D.gk.log"
  fi
  echo "fold $F done $(date -u +%H:%M)"
done
