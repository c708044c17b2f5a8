#!/usr/bin/env bash
# Unbounded recursion: the stack counts against the memory limit (full tier: MLE by the cgroup);
# under rlimits the program dies of SIGSEGV (RE) or runs out (MLE/TLE). Never a hang, never IE.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "x")
for tier in $TIERS; do
  if [[ $tier == full ]]; then want=(MLE); else want=(MLE RE); fi
  hostile $tier "stack overflow (C++)" "$HOSTILE/stack_overflow.cpp" "$t" "${want[@]}" -- --memory-limit-mb 128
  hostile $tier "stack overflow (Python)" "$HOSTILE/stack_overflow.py" "$t" "${want[@]}" TLE -- --memory-limit-mb 128 --time-limit-ms 1000
done
echo ok
