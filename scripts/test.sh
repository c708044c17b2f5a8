#!/usr/bin/env bash
# Runs every test: brings build/ up to date, then ctest (unit tests + integration tests that run
# the real binary). GPU tests, where present, are reported as skipped when no GPU is visible.
#   V4EVAL_BUILD_DIR  build folder (default: build)
#   V4EVAL_JOBS       parallel jobs (default: 2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${V4EVAL_BUILD_DIR:-build}
JOBS=${V4EVAL_JOBS:-2}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  echo "test: $BUILD_DIR is not configured; run ./scripts/setup.sh first" >&2
  exit 2
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
