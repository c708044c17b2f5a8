#!/usr/bin/env bash
# testlib-style checkers (checker input.txt output.txt answer.txt, exit codes 0/1/2/3): one that
# brings its own header (mini_testlib.h beside it) for a problem with many right answers, a
# self-contained one, and broken checkers, which are IE (never the solution's fault). The answer
# file is never visible to the solution.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
tier=${TIERS%% *}
C=$FIX/checkers
S=$FIX/solutions
python3 -c 'import json,sys; json.dump([{"input": "5\n", "output": "5 1 2 3 4\n"}, {"input": "6\n", "output": "6 1 2 3 4 5\n"}], open(sys.argv[1], "w"))' "$WORK/perm.json"

judge $tier "$S/permutation.py" "$WORK/perm.json" --checker "$C/permutation.cpp"
expect_verdict "permutation, own header" AC
[[ $(jget 'j["checker_compile"]["ok"]') == True ]] || fail "checker compile reported"
jhas 'j["tests"][0]["checker_message"]' "ok a permutation of 5" || fail "checker message kept"
printf 'n = int(input())\nprint(*range(1, n + 1))\n' > "$WORK/ascending.py"
judge $tier "$WORK/ascending.py" "$WORK/perm.json" --checker "$C/permutation.cpp"
expect_verdict "permutation that starts wrong" WA
jhas 'j["detail"]' "the first element must be 5" || fail "WA detail from the checker"
printf 'n = int(input())\nprint(n, *range(1, n))\nprint(7)\n' > "$WORK/extra.py"
judge $tier "$WORK/extra.py" "$WORK/perm.json" --checker "$C/permutation.cpp"
expect_verdict "extra output (presentation error)" WA
jhas 'j["detail"]' "presentation error" || fail "PE is a WA subtype"

python3 -c 'import json,sys; json.dump([{"input": "1 2", "output": "3"}, {"input": "2 2", "output": "5"}], open(sys.argv[1], "w"))' "$WORK/sum.json"
judge $tier "$S/sum.cpp" "$WORK/sum.json" --checker "$C/exact_lines.cpp" --all-tests
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'WA']" ]] || fail "self-contained checker verdicts"

for broken in fail crash broken; do
  judge $tier "$S/sum.cpp" "$WORK/sum.json" --checker "$C/$broken.cpp"
  expect_verdict "checker $broken" IE
done
judge $tier "$S/sum.cpp" "$WORK/sum.json" --checker "$C/fail.cpp"
[[ $(jget 'j["tests"][0]["attempts"]') == 3 ]] || fail "IE is retried twice"
jhas 'j["detail"]' "exit 3" || fail "checker failure named"
judge $tier "$S/sum.cpp" "$WORK/sum.json" --checker "$C/broken.cpp"
jhas 'j["detail"]' "checker does not compile" || fail "checker CE named"
jhas 'j["checker_compile"]["log"]' "undefined_function" || fail "checker compile log"

# The answer file stays out of the solution's sandbox.
cat > "$WORK/peek.py" <<'PY'
import os
for p in ("answer.txt", "/box/answer.txt", "../answer.txt", "/tmp/answer.txt", "output.txt", "input.txt"):
    if os.path.exists(p):
        print("found", p)
print(3)
PY
judge $tier "$WORK/peek.py" "$WORK/sum.json" --checker "$C/exact_lines.cpp"
[[ $(jget 'j["tests"][0]["verdict"]') == AC ]] || fail "the solution saw the checker's files"
check_clean
echo ok
