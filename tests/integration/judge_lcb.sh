#!/usr/bin/env bash
# LiveCodeBench run modes (--lcb, --lcb-function): every test of a generation in one
# interpreter with the reference's semantics (prelude, wrapped program, mocked stdin, exit()
# swallowed, tuple -> list), the verdict decided outside the sandbox test by test; the warm
# interpreter (zygote) gives the same verdicts as a fresh one; generations the official
# LiveCodeBench run accepted pass their public tests here too.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
tier=${TIERS%% *}
lcb() { judge $tier "$@" --lcb; }

# Semantics of the reference (suites.md §1.4).
cat > "$WORK/quirks.py" <<'PY'
import sys
first = sys.stdin.read()
again = sys.stdin.read()          # the mock returns the whole input every time
lines = sys.stdin.readlines()     # ... and readlines() too, split on "\n"
n = int(input())                  # while input() walks the lines
print(deque([n]).pop() + len(lines) + (first == again))   # deque from the import prelude
exit()                            # SystemExit is swallowed; the output so far is graded
print("never")
PY
t=$(tests_file q.json "5
x
" "9")
lcb "$WORK/quirks.py" "$t"
expect_verdict "reference stdin semantics" AC
cat > "$WORK/main_guard.py" <<'PY'
def solve():
    print(int(input()) * 2)
if __name__ == '__main__':
    solve()
PY
python3 -c 'import json,sys; json.dump([{"input": "2\n", "output": "4"}, {"input": "5", "output": "10"}, {"input": "7", "output": "15"}], open(sys.argv[1], "w"))' "$WORK/g.json"
lcb "$WORK/main_guard.py" "$WORK/g.json"
expect_verdict "main guard inlined, third test wrong" WA
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'AC', 'WA']" ]] || fail "test by test, stopping at the failure"
jhas 'j["detail"]' "Wrong answer at output_line_idx=0: 14 != 15" || fail "LCB's message"
printf 'import os\nos.write(1, b"4\\n")\n' > "$WORK/rawfd.py"
lcb "$WORK/rawfd.py" "$WORK/g.json"
expect_verdict "writes to fd 1 are not captured (as in the reference)" WA
printf 'def f(:\n' > "$WORK/syntax.py"
lcb "$WORK/syntax.py" "$WORK/g.json"
expect_verdict "syntax error" RE
jhas 'j["detail"]' "Error during testing: SyntaxError" || fail "the reference's -4 message"
printf 'n = int(input())\nif n == 5:\n    while True: pass\nprint(n * 2)\n' > "$WORK/slow.py"
lcb "$WORK/slow.py" "$WORK/g.json" --time-limit-ms 400
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'TLE', 'SKIPPED']" ]] || fail "per-test CPU limit"
[[ $(jget 'j["tests"][1]["cpu_ms"] >= 400') == True ]] || fail "TLE CPU time"
printf 'n = int(input())\nx = bytearray((n * 100) << 20)\nprint(n * 2)\n' > "$WORK/big.py"
lcb "$WORK/big.py" "$WORK/g.json" --memory-limit-mb 256
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'MLE', 'SKIPPED']" ]] || fail "memory limit in LCB mode"
# The generation after a TLE or MLE runs normally (the warm interpreter was replaced).
printf 'print(int(input()) * 2)\n' > "$WORK/double.py"
lcb "$WORK/double.py" "$WORK/g.json" --all-tests
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'AC', 'WA']" ]] || fail "--all-tests in LCB mode"

# Call-based (LeetCode) problems.
cat > "$WORK/two_sum.py" <<'PY'
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return (seen[target - x], i)   # a tuple: compared as a list
            seen[x] = i
PY
python3 -c 'import json,sys; json.dump([{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]"}, {"input": "[3, 3]\n6", "output": "[0, 1]"}], open(sys.argv[1], "w"))' "$WORK/ts.json"
judge $tier "$WORK/two_sum.py" "$WORK/ts.json" --lcb-function twoSum
expect_verdict "call-based" AC
printf 'class Solution:\n    def twoSum(self, nums, target):\n        return {0, 1}\n' > "$WORK/set.py"
judge $tier "$WORK/set.py" "$WORK/ts.json" --lcb-function twoSum
expect_verdict "a set is never equal to a list" WA
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$WORK/set.py" --tests "$WORK/ts.json" --lcb
check_clean

# Real generations (Qwen2.5-7B-Instruct, LiveCodeBench's own eval_all): the zygote and a fresh
# interpreter agree, and what LiveCodeBench accepted on all its tests passes the public ones.
python3 - "$V4EVAL_SHARED_DIR/data/livecodebench" "$WORK" <<'PY'
import json, sys
d, w = sys.argv[1], sys.argv[2]
rows = {}
for line in open(d + "/lcb_release_v1_rows_public_tests_only.jsonl"):
    r = json.loads(line)
    rows[r["question_id"]] = r
picked = {True: 0, False: 0}
with open(w + "/real.tsv", "w") as out:
    for g in json.load(open(d + "/lcb_eval_all_qwen25_7b_ins_release_v6.json")):
        r = rows.get(g["question_id"])
        if not r or not g["code_list"] or picked[g["graded_list"][0]] >= (8 if g["graded_list"][0] else 4):
            continue
        tests = json.loads(r["public_test_cases"])
        fn = json.loads(r["metadata"]).get("func_name") or ""
        q = g["question_id"]
        open("%s/%s.py" % (w, q), "w").write(g["code_list"][0])
        json.dump([{"input": t["input"], "output": t["output"]} for t in tests], open("%s/%s.json" % (w, q), "w"))
        out.write("%s %s %d\n" % (q, fn if tests[0]["testtype"] == "functional" else "-", g["graded_list"][0]))
        picked[g["graded_list"][0]] += 1
PY
while read -r q fn official; do
  mode=(--lcb); [[ $fn != - ]] && mode=(--lcb-function "$fn")
  judge $tier "$WORK/$q.py" "$WORK/$q.json" "${mode[@]}" --time-limit-ms 6000
  warm=$(jget 'j["verdict"]')
  V4EVAL_SANDBOX_NO_ZYGOTE=1 judge $tier "$WORK/$q.py" "$WORK/$q.json" "${mode[@]}" --time-limit-ms 6000
  fresh=$(jget 'j["verdict"]')
  [[ $warm == "$fresh" ]] || fail "$q: zygote says $warm, a fresh interpreter $fresh"
  if [[ $official == 1 && $warm != AC ]]; then fail "$q: LiveCodeBench accepted it, we say $warm"; fi
  echo "ok: $q official=$official ours=$warm"
done < "$WORK/real.tsv"
check_clean
echo ok
