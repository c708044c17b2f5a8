#!/usr/bin/env bash
# Runs the benchmarks (figures, not pass/fail). Build first with ./scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${V4EVAL_BUILD_DIR:-build}
cmake --build "$B" -j "${V4EVAL_JOBS:-2}"
"$B/bench/bench_runner"
"$B/bench/bench_o200k"
for b in bench_http bench_sandbox bench_lcb bench_report bench_v4_tokenizer bench_v4_linear \
    bench_v4_model bench_cuda_kernels; do
  [[ -x "$B/bench/$b" ]] && "$B/bench/$b"
done
