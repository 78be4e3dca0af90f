#!/usr/bin/env bash
# Fuzz every parser of attacker-controlled input for SECONDS each (default 60), with
# cargo-fuzz on the nightly toolchain. Not part of .ci/run: this is open-ended work.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs: rustup toolchain nightly, `cargo install cargo-fuzz`. Crashes land in
# fuzz/artifacts/<target>/; the script exits non-zero if any target found one.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
# Panics are what is looked for (the crate forbids unsafe code): no sanitizer keeps the
# build and the runs fast; -timeout catches hangs, -rss_limit_mb runaway memory.
cargo +nightly fuzz build --sanitizer none
failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t (${secs}s)"
  if ! cargo +nightly fuzz run --sanitizer none "$t" "corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 5; then
    failed+=("$t")
  fi
  if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
  exit 1
fi
echo "no crashes in ${#targets[@]} targets, ${secs}s each"
