#!/usr/bin/env bash
# The NEON kernels on an x86-64 machine: cross-builds cadenza-model's tests for aarch64 and runs
# them under qemu-user (unit tests at every level the emulated CPU has, then the Magenta fixture
# tests forced to NEON). Needs Debian's qemu-user, gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross, and `rustup target add aarch64-unknown-linux-gnu`.
# The re-run-at-every-level tests are skipped: a process under qemu-user cannot start another.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
T=${CARGO_TARGET_DIR:-target/aarch64-emulated}
cargo test --target aarch64-unknown-linux-gnu -p cadenza-model --target-dir "$T" -- --skip every_simd_level
CADENZA_SIMD=neon cargo test --target aarch64-unknown-linux-gnu -p cadenza-model --target-dir "$T" --test magenta_numerics \
  -- --exact small64_matches_magenta full512_matches_magenta --nocapture
