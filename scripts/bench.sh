#!/usr/bin/env bash
# Runs the benchmarks (figures, not pass/fail). Build first with ./scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${V4EVAL_BUILD_DIR:-build}
cmake --build "$B" -j "${V4EVAL_JOBS:-2}" --target bench_runner bench_o200k
"$B/bench/bench_runner" "$@"
"$B/bench/bench_o200k"
