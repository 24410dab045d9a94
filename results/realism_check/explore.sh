#!/usr/bin/env bash
# The seventh check's exploration (docs/study/08-realism.md, amended before it ran): the realism
# recipe's beta x policy steps on a fold outside the check's own (Mozart held out of the
# fine-tuning, Mozart's performances the judge's reference), one training seed. Resumable.
#   results/realism_check/explore.sh BIN WORK
set -euo pipefail
BIN=${1:-target/debug/cadenza}
WORK=${2:-/tmp/realism_explore}
A=$(cd ../shared/data/asap && pwd)
BASE=models/perf_dyn_3x256_asap_v2
HP="batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8"
COMMON=(--init "$BASE" --steps 200 --hparams "$HP" --eval-every 33 --eval-examples 400 --seed 0 --seeds 1
        --samples 16 --num-steps 3000 --note-events paired --quiet)
D="$WORK/mozart"
mkdir -p "$D"
if [ ! -f "$D/dataset/dataset.json" ]; then
  INPUTS=()
  for c in "$A"/*/; do
    c=$(basename "$c")
    [ "$c" = Mozart ] || INPUTS+=("$A/$c")
  done
  "$BIN" dataset "${INPUTS[@]}" "$A/Mozart" --eval-from "$A/Mozart" --exclude 'xml_score.*' \
    --exclude midi_score.mid --out "$D/dataset" > "$D/dataset.txt" 2>&1
fi
FIRST=""
for S in 50 100; do
  for B in 0.05 0.1 0.2; do
    N="b${B}_s${S}"
    ORIG=()
    [ -n "$FIRST" ] && ORIG=(--original-from "$FIRST")
    if [ ! -f "$D/$N/comparison.json" ]; then
      "$BIN" compare --dataset "$D/dataset" "${COMMON[@]}" --recipe realism --realism-beta "$B" \
        --realism-steps "$S" "${ORIG[@]}" --out "$D/$N" > "$D/$N.txt" 2> "$D/$N.log"
    fi
    [ -n "$FIRST" ] || FIRST="$D/$N"
    echo "$N done $(date -u +%H:%M)"
  done
done
