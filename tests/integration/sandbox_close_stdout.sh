#!/usr/bin/env bash
# Closing stdout early does not end the run: the program that then spins is TLE, and one
# that closes stdout and exits has its output so far judged.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "1 2" "3")
for tier in $TIERS; do
  hostile $tier "close stdout then spin" "$HOSTILE/close_stdout.cpp" "$t" TLE -- --time-limit-ms 500
done
printf 'import os\nprint(3, flush=True)\nos.close(1)\n' > "$WORK/closer.py"
for tier in $TIERS; do
  hostile $tier "close stdout then exit" "$WORK/closer.py" "$t" AC
done
echo ok
