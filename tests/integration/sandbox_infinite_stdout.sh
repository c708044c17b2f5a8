#!/usr/bin/env bash
# Writing to stdout forever: OLE at the output cap, quickly.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "x")
for tier in $TIERS; do
  hostile $tier "infinite stdout" "$HOSTILE/infinite_stdout.cpp" "$t" OLE -- --output-limit-mb 8
done
echo ok
