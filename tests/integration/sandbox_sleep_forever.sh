#!/usr/bin/env bash
# Sleeping forever uses no CPU: the wall-clock backstop ends it as TLE (idle).
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "x")
for tier in $TIERS; do
  hostile $tier "sleep forever" "$HOSTILE/sleep_forever.py" "$t" TLE -- --time-limit-ms 300 --wall-limit-ms 800
  [[ $(jget 'j["tests"][0]["detail"]') == idle ]] || fail "a sleeping program is TLE/idle"
done
echo ok
