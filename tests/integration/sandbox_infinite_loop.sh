#!/usr/bin/env bash
# A CPU spin: TLE decided on CPU time, with the CPU time reported at (or just past) the limit.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "x")
for tier in $TIERS; do
  hostile $tier "infinite loop" "$HOSTILE/infinite_loop.cpp" "$t" TLE -- --time-limit-ms 500
  [[ $(jget 'j["tests"][0]["detail"]') == cpu ]] || fail "TLE should be on CPU time"
  [[ $(jget 'j["tests"][0]["cpu_ms"] >= 500') == True ]] || fail "CPU time below the limit for a TLE"
done
echo ok
