#!/usr/bin/env bash
# The main job on the embedded default: a short MRCR evaluation of the sample data shipped in
# the repository, in all three reasoning modes, through the replay backend (recorded answers),
# stored in ./v4eval.sqlite; ends by saying where the report is.
#   V4EVAL_BACKEND  another backend spec (e.g. a real endpoint) instead of the replay file
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${V4EVAL_BUILD_DIR:-build}/v4eval
BACKEND=${V4EVAL_BACKEND:-replay:file=data/mrcr/sample.replay.jsonl}
RUN_NAME=${V4EVAL_RUN_NAME:-demo-$(echo "$BACKEND" | sha256sum | cut -c1-8)}
mkdir -p reports-out
code=0
"$BIN" run --suite mrcr:file=data/mrcr/sample.jsonl --backend "$BACKEND" \
  --mode non-think,think-high,think-max --db v4eval.sqlite --run-name "$RUN_NAME" || code=$?
"$BIN" report --db v4eval.sqlite --run "$RUN_NAME"
"$BIN" report --db v4eval.sqlite --run "$RUN_NAME" --json reports-out/demo.json --samples
echo "demo: results in $(pwd)/v4eval.sqlite (run '$RUN_NAME'); report: $(pwd)/reports-out/demo.json" >&2
exit $code
