#!/usr/bin/env bash
# Runs each coverage-guided fuzz target (cargo fuzz, libFuzzer) for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# Works on stable Rust with --sanitizer none. Installs cargo-fuzz when missing.
# A crash stops the run and leaves its input in fuzz/artifacts/<target>/: turn it
# into a regression test beside the code it broke.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz@0.13.2
fi
cd fuzz
for target in decode session_frames replay; do
  echo "-- fuzzing $target for ${seconds}s"
  cargo fuzz run "$target" --sanitizer none -O -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 \
    | grep -E "^(#[0-9]+\s+DONE|Done|==|SUMMARY|artifact_prefix|Test unit written)" || true
  if ls "artifacts/$target"/crash-* >/dev/null 2>&1; then
    echo "fuzz target $target found a crash: see fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
