#!/usr/bin/env bash
# The sixth check (PREREGISTRATION.md): three arms on real ASAP performances with whole
# composers held out from fine-tuning, evaluated on pieces the base never saw. Resumable
# (compare reuses finished runs). From the repository root:
#   results/composer_folds/run.sh BIN WORK
set -euo pipefail
BIN=${1:-target/release/cadenza}
WORK=${2:-/tmp/composer_folds}
A=$(cd ../shared/data/asap && pwd)
BASE=models/perf_dyn_3x256_asap_v2
HP="batch_size=16,learning_rate=0.001,dropout_keep_prob=0.8"
COMMON=(--init "$BASE" --steps 200 --hparams "$HP" --eval-every 33 --eval-examples 400 --seed 0 --seeds 2
        --samples 16 --num-steps 3000 --note-events paired --quiet)
mkdir -p "$WORK"
# fold name | composers held out of fine-tuning | their pieces the base never saw (its eval split, seed 0)
FOLDS=(
  "bach|Bach|Bach/Fugue/bwv_848 Bach/Fugue/bwv_854 Bach/Fugue/bwv_868 Bach/Prelude/bwv_854 Bach/Prelude/bwv_856 Bach/Prelude/bwv_873 Bach/Prelude/bwv_891"
  "beethoven|Beethoven|Beethoven/Piano_Sonatas/11-1 Beethoven/Piano_Sonatas/16-2 Beethoven/Piano_Sonatas/17-1_no_repeat Beethoven/Piano_Sonatas/2-1 Beethoven/Piano_Sonatas/23-1 Beethoven/Piano_Sonatas/24-1 Beethoven/Piano_Sonatas/27-2 Beethoven/Piano_Sonatas/3-2"
  "others|Chopin Schubert Debussy Haydn|Chopin/Ballades/2 Chopin/Etudes_op_10/8 Schubert/Impromptu_op.90_D.899/3 Schubert/Impromptu_op142/3 Debussy/Images_Book_1/1_Reflets_dans_lEau Haydn/Keyboard_Sonatas/48-2"
)
for entry in "${FOLDS[@]}"; do
  IFS='|' read -r NAME HELD EVAL <<< "$entry"
  D="$WORK/$NAME"
  mkdir -p "$D"
  if [ ! -f "$D/dataset/dataset.json" ]; then
    INPUTS=()
    for c in "$A"/*/; do
      c=$(basename "$c")
      [[ " $HELD " == *" $c "* ]] || INPUTS+=("$A/$c")
    done
    EVAL_ARGS=()
    for p in $EVAL; do INPUTS+=("$A/$p"); EVAL_ARGS+=(--eval-from "$A/$p"); done
    "$BIN" dataset "${INPUTS[@]}" "${EVAL_ARGS[@]}" --exclude 'xml_score.*' --exclude midi_score.mid \
      --out "$D/dataset" > "$D/dataset.txt" 2>&1
  fi
  # Arms "original" and "seed" (EMD rhythm x 0.5 + tension harmony x 0.25), and the base column.
  if [ ! -f "$D/comparison/comparison.json" ]; then
    "$BIN" compare --dataset "$D/dataset" "${COMMON[@]}" --recipe seed --out "$D/comparison" > "$D/seed.txt" 2> "$D/seed.log"
  fi
  # Arm "grid-key" (grid rhythm x 0.1 + key harmony x 1) against the very same original runs.
  if [ ! -f "$D/comparison_gk/comparison.json" ]; then
    "$BIN" compare --dataset "$D/dataset" "${COMMON[@]}" --recipe grid-key --original-from "$D/comparison" \
      --out "$D/comparison_gk" > "$D/gk.txt" 2> "$D/gk.log"
  fi
  echo "fold $NAME done $(date -u +%H:%M)"
done
"$BIN" pool "$WORK"/*/comparison --out "$WORK/pooled_seed" > "$WORK/pooled_seed.txt"
"$BIN" pool "$WORK"/*/comparison_gk --out "$WORK/pooled_grid-key" > "$WORK/pooled_grid-key.txt"
echo "pooled $(date -u +%H:%M)"
