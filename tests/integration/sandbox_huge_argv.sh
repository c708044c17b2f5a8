#!/usr/bin/env bash
# Re-executing itself with 200 MB of arguments, then of environment: E2BIG. And the other
# direction, a 48 MB input: delivered through stdin (never argv) intact.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "E2BIG E2BIG")
for tier in $TIERS; do
  hostile $tier "huge argv/env" "$HOSTILE/huge_argv.cpp" "$t" AC -- --memory-limit-mb 512
done
python3 -c '
import json, sys
line = "7" * (48 << 20)
json.dump([{"input": line + "\n", "output": str(len(line))}], open(sys.argv[1], "w"))' "$WORK/big.json"
printf 'import sys\nprint(len(sys.stdin.buffer.read().strip()))\n' > "$WORK/count.py"
for tier in $TIERS; do
  hostile $tier "48 MB input" "$WORK/count.py" "$WORK/big.json" AC -- --memory-limit-mb 512
done
echo ok
