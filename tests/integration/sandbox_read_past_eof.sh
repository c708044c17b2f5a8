#!/usr/bin/env bash
# Reading past the end of the input returns EOF at once, every time (C++: AC after a million
# reads); Python's input() past EOF raises EOFError (RE, exit code 1). No hang.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
t=$(tests_file t.json "1 2" "3")
for tier in $TIERS; do
  hostile $tier "read past EOF (C++)" "$HOSTILE/read_past_eof.cpp" "$t" AC
  hostile $tier "read past EOF (Python)" "$HOSTILE/read_past_eof.py" "$t" RE
  [[ $(jget 'j["tests"][0]["exit_code"]') == 1 ]] || fail "EOFError exits 1"
  jhas 'j["tests"][0]["stderr"]' EOFError || fail "the traceback is kept"
done
echo ok
