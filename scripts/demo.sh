#!/usr/bin/env bash
# The main job on the embedded default: a short MRCR evaluation stored in ./v4eval.sqlite,
# ending by saying where the report is.
#  - default: the built-in DeepSeek-V4 engine (CPU reference path) on the tiny random checkpoint
#    (`v4eval v4 make-tiny --tokenizer`, written once under build/), on the short MRCR rows of
#    data/mrcr/tiny.jsonl, in non-think and think-high (think-max needs >= 384K of context; the
#    tiny model has 4K). Random weights: the scores are ~0; the point is the whole path.
#  - V4EVAL_BACKEND set (a real endpoint, e.g. deepseek:model=deepseek-v4-flash, or
#    replay:file=data/mrcr/sample.replay.jsonl): that backend on data/mrcr/sample.jsonl in all
#    three modes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${V4EVAL_BUILD_DIR:-build}
BIN=$BUILD/v4eval
if [[ -n "${V4EVAL_BACKEND:-}" ]]; then
  BACKEND=$V4EVAL_BACKEND
  ARGS=(--suite mrcr:file=data/mrcr/sample.jsonl --mode non-think,think-high,think-max)
else
  TINY=$BUILD/tiny-v4
  if [[ ! -f $TINY/tokenizer.json ]]; then
    "$BIN" v4 make-tiny --out "$TINY" --seed 1 --tokenizer
  fi
  BACKEND=v4:checkpoint=$TINY,device=cpu
  ARGS=(--suite mrcr:file=data/mrcr/tiny.jsonl --mode non-think,think-high --max-tokens 32)
fi
RUN_NAME=${V4EVAL_RUN_NAME:-demo-$(echo "$BACKEND" | sha256sum | cut -c1-8)}
mkdir -p reports-out
code=0
"$BIN" run "${ARGS[@]}" --backend "$BACKEND" --db v4eval.sqlite --run-name "$RUN_NAME" || code=$?
"$BIN" report --db v4eval.sqlite --run "$RUN_NAME"
"$BIN" report --db v4eval.sqlite --run "$RUN_NAME" --json reports-out/demo.json --samples
"$BIN" report --db v4eval.sqlite --run "$RUN_NAME" --html reports-out/demo.html \
  --title "v4eval demo ($BACKEND)"
echo "demo: results in $(pwd)/v4eval.sqlite (run '$RUN_NAME'); report: $(pwd)/reports-out/demo.html" \
  "(JSON: $(pwd)/reports-out/demo.json)" >&2
exit $code
