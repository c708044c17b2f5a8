#!/usr/bin/env bash
# Reading /etc/shadow, root's files, the harness's own files (its database, the tests with
# their expected outputs, this repository), /proc and /sys, the harness's environment (an API
# key) and inherited descriptors: nothing is reachable.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
export OPENAI_API_KEY=sk-v4eval-test-secret
paths="$V4EVAL_SOURCE_DIR/CMakeLists.txt
$V4EVAL_BIN
$WORK/t.json
$V4EVAL_SHARED_DIR/design/sandbox.md
/work/main/v4eval.sqlite"
python3 -c 'import json,sys; json.dump([{"input": sys.argv[2], "output": "contained"}], open(sys.argv[1], "w"))' "$WORK/t.json" "$paths"
for tier in $TIERS; do
  hostile $tier "read secrets" "$HOSTILE/read_secrets.cpp" "$WORK/t.json" AC
done
echo ok
