#!/usr/bin/env bash
# Fork bombs (C++ fork loop, Python os.fork loop): held by the process limit, ended by the CPU
# limit as TLE, in every tier the machine offers; nothing survives and the next run is fine.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "$MARK" "x")
for tier in $TIERS; do
  hostile $tier "fork bomb (C++)" "$HOSTILE/fork_bomb.cpp" "$t" TLE -- --time-limit-ms 300
  hostile $tier "fork bomb (Python)" "$HOSTILE/fork_bomb.py" "$t" TLE -- --time-limit-ms 300
  # The process limit held: the peak stayed far below what 64 Pythons would take unbounded.
done
echo ok
