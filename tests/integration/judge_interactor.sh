#!/usr/bin/env bash
# Interactive problems: solution and testlib-style interactor cross-wired through pipes, each in
# its own sandbox; the interactor's verdict, the solution's limits, interactor failures (IE),
# and a checker on the interactor's tout.txt.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
tier=${TIERS%% *}
I=$FIX/interactors
S=$FIX/solutions
python3 -c 'import json,sys; json.dump([{"input": "37 100", "output": "4"}, {"input": "1 1000000", "output": "19"}], open(sys.argv[1], "w"))' "$WORK/guess.json"

for sol in guess.cpp guess.py; do
  judge $tier "$S/$sol" "$WORK/guess.json" --interactor "$I/guess.cpp"
  expect_verdict "guess ($sol)" AC
done
[[ $(jget 'j["interactor_compile"]["ok"]') == True ]] || fail "interactor compile reported"
judge $tier "$S/guess_wrong.cpp" "$WORK/guess.json" --interactor "$I/guess.cpp"
expect_verdict "wrong guess" WA
jhas 'j["detail"]' "guessed 101" || fail "the interactor's message"
judge $tier "$S/guess_quit.cpp" "$WORK/guess.json" --interactor "$I/guess.cpp"
expect_verdict "silent solution" WA
judge $tier "$S/guess_noflush.cpp" "$WORK/guess.json" --interactor "$I/guess.cpp" --time-limit-ms 500 --wall-limit-ms 1500
expect_verdict "unflushed solution" TLE
[[ $(jget 'j["tests"][0]["detail"]') == idle ]] || fail "deadlock is TLE/idle"
judge $tier "$S/guess.cpp" "$WORK/guess.json" --interactor "$I/crash.cpp"
expect_verdict "crashing interactor" IE

# The checker judges tout.txt (number of queries) against the answer.
judge $tier "$S/guess.cpp" "$WORK/guess.json" --interactor "$I/guess.cpp" --checker "$FIX/checkers/exact_lines.cpp" --all-tests
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'WA']" ]] || fail "checker on tout.txt (37 takes 4 queries; 1 in 1e6 takes 20, not 19)"
check_clean
echo ok
