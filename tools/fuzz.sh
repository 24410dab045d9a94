#!/usr/bin/env bash
# Fuzz one parser with cargo-fuzz (nightly), seeded with the real files in ../shared.
#   tools/fuzz.sh TARGET [RUNS] [SECONDS]   TARGET: mag_bundle | checkpoint | tfrecord | midi | musicxml
#   RUNS default 1000000; SECONDS (optional) stops earlier; MAX_LEN (env, default 262144) caps inputs.
# Needs: rustup toolchain install nightly; cargo install cargo-fuzz.
# Crashes land in fuzz/artifacts/TARGET/; commit each as a regression input and fix it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?target: mag_bundle, checkpoint, tfrecord, midi or musicxml}
runs=${2:-1000000}
secs=${3:-0}
max_len=${MAX_LEN:-262144}
shared=$(cd ../shared && pwd)
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
# Tiny models trained from scratch (2x4 and 1x8 units) for seeds smaller than MAX_LEN: leaves
# their model folders in $seeds/tiny_4x4/ and $seeds/tiny_8/.
tiny_models() {
  cargo build --release -q --bin cadenza
  ./target/release/cadenza dataset "$shared/data/asap/Bach/Fugue" --out "$seeds/ds" --transpose 0 --stretch 1 \
    --group-by folder --max-events 64 >/dev/null 2>&1
  for layers in 4,4 8; do
    ./target/release/cadenza train --dataset "$seeds/ds" --run-dir "$seeds/run" --layers "$layers" --steps 2 \
      --batch-size 2 --eval-every 2 >/dev/null 2>&1
    mv "$seeds/run/best" "$seeds/tiny_${layers/,/x}"; rm -rf "$seeds/run"
  done
  rm -rf "$seeds/ds"
}
case "$target" in
  mag_bundle)
    cp "$shared"/fixtures/magenta/bundles/*.mag "$seeds"/
    # The fixtures are larger than MAX_LEN (a cut bundle is refused at once), so add whole
    # template-free bundles of tiny models.
    tiny_models
    for m in "$seeds"/tiny_*/; do
      ./target/release/cadenza export "$m" --out "${m%/}.mag" >/dev/null 2>&1
    done
    rm -rf "$seeds"/tiny_*/ ;;
  checkpoint)
    # The fixture bundles' V1 checkpoints (checkpoint_file[0]), as Cadenza model folders hold them,
    # and, since those are larger than MAX_LEN (a cut checkpoint loses its index and is refused at
    # once), whole checkpoints of tiny models trained from scratch (2x4 and 1x8 units: ~40 KB).
    cargo build --release -q --bin cadenza
    for b in "$shared"/fixtures/magenta/bundles/*.mag; do
      ./target/release/cadenza import "$b" --out "$seeds/m" >/dev/null 2>&1
      cp "$seeds/m/weights.ckpt" "$seeds/$(basename "$b" .mag).ckpt"; rm -rf "$seeds/m"
    done
    tiny_models
    for m in "$seeds"/tiny_*/; do cp "$m/weights.ckpt" "${m%/}.ckpt"; done
    rm -rf "$seeds"/tiny_*/ ;;
  tfrecord)
    # Magenta SequenceExample TFRecords of two small ASAP folders, as `cadenza dataset --tfrecord` writes them.
    cargo build --release -q --bin cadenza
    for d in Bach/Fugue/bwv_846 Bach/Prelude/bwv_846; do
      ./target/release/cadenza dataset "$shared/data/asap/$d" --out "$seeds/ds" --tfrecord --transpose 0 --stretch 1 \
        --group-by file --max-events 64 >/dev/null 2>&1
      for f in "$seeds"/ds/*.tfrecord; do cp "$f" "$seeds/$(echo "$d$f" | md5sum | cut -c1-12).tfrecord"; done
      rm -rf "$seeds/ds"
    done ;;
  midi)
    mapfile -t files < <(find "$shared/data/asap" -name '*.mid' | sort)
    for f in "${files[@]:0:200}"; do cp "$f" "$seeds/$(echo "$f" | md5sum | cut -c1-12).mid"; done ;;
  musicxml)
    mapfile -t files < <(find "$shared/data/asap" -name '*.mxl' | sort)
    for f in "${files[@]:0:60}"; do
      h=$(echo "$f" | md5sum | cut -c1-12)
      cp "$f" "$seeds/$h.mxl"
      # The plain XML inside too (the zip's largest member outside META-INF).
      python3 - "$f" "$seeds/$h.xml" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
m = max((i for i in z.infolist() if not i.filename.startswith("META-INF")), key=lambda i: i.file_size)
open(sys.argv[2], "wb").write(z.read(m))
PY
    done ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
mkdir -p "fuzz/corpus/$target"
cd fuzz
# -rss_limit_mb: an allocation over 1 GB is a finding; -timeout: an input over 1 s is a hang.
cargo +nightly fuzz run ${SANITIZER:+--sanitizer "$SANITIZER"} "$target" "corpus/$target" "$seeds" -- -runs="$runs" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=1 -max_len="$max_len" -print_final_stats=1
