#!/usr/bin/env bash
# Memory bombs (C++ new[] loop, Python bytearray list): MLE at the limit, in every tier.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "x")
for tier in $TIERS; do
  hostile $tier "memory bomb (C++)" "$HOSTILE/memory_bomb.cpp" "$t" MLE -- --memory-limit-mb 128
  [[ $(jget 'j["tests"][0]["memory_kb"] >= 100 * 1024') == True ]] || fail "peak memory not reported near the limit"
  hostile $tier "memory bomb (Python)" "$HOSTILE/memory_bomb.py" "$t" MLE -- --memory-limit-mb 128
done
echo ok
