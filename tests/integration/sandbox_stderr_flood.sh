#!/usr/bin/env bash
# 256 MB on stderr before the answer: stderr is drained (the program never blocks) and kept
# only as a capped head and tail; the verdict is decided by stdout (AC).
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "20 22" "42")
for tier in $TIERS; do
  hostile $tier "stderr flood" "$HOSTILE/stderr_flood.cpp" "$t" AC
  [[ $(jget 'len(j["tests"][0]["stderr"]) <= 8192') == True ]] || fail "stderr not capped in the report"
done
echo ok
