#!/usr/bin/env bash
# A daemonised grandchild (double fork + setsid) keeps stdout open and runs forever: the run
# ends when the program exits (AC, no waiting for EOF until the wall limit) and the grandchild
# is killed with the sandbox.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
marker=$MARK
t=$(tests_file t.json "$marker" "done")
for tier in $TIERS; do
  hostile $tier "daemonised grandchild" "$HOSTILE/daemon.cpp" "$t" AC -- --time-limit-ms 1000 --wall-limit-ms 20000
  # Had the judge waited for the grandchild's stdout to close, it would have run into the
  # 20 s wall limit (TLE); it ended with the program.
  [[ $(jget 'j["tests"][0]["wall_ms"] < 20000') == True ]] || fail "waited for the grandchild"
done
echo ok
