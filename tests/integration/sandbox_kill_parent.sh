#!/usr/bin/env bash
# Killing its parent, PID 1, every pid it can name (kill -1 included), ptrace, unshare, mount,
# chroot, setuid: all fail; the program itself lives on (AC) and the judge is unaffected.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "" "alive")
for tier in $TIERS; do
  hostile $tier "kill parent" "$HOSTILE/kill_parent.cpp" "$t" AC
done
echo ok
