#!/usr/bin/env bash
# `v4eval judge` end to end (cli.md): verdicts AC/WA/CE/RE, the JSON contract, fail-fast and
# --all-tests, source on stdin, comparison modes, human output, exit codes for bad arguments.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
tier=${TIERS%% *}
S=$FIX/solutions
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
json.dump([{"input": "1 2\n", "output": "3\n"}, {"input": "5 7", "output": "12"},
           {"input": "1 1", "output": "3"}, {"input": "2 2", "output": "4"}], open(w + "/sum.json", "w"))
json.dump([{"input": "1 2", "output": "3"}], open(w + "/one.json", "w"))
PY

judge $tier "$S/sum.cpp" "$WORK/sum.json"
expect_verdict "sum with a wrong third test" WA
python3 - "$WORK/out.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert set(j) >= {"verdict", "compile", "tests", "sandbox", "detail"}, j.keys()
assert j["compile"]["ok"] is True and j["compile"]["log"] == "", j["compile"]
assert j["sandbox"]["tier"] in ("full", "userns"), j["sandbox"]
v = [t["verdict"] for t in j["tests"]]
assert v == ["AC", "AC", "WA", "SKIPPED"], v  # stops at the first failure
t = j["tests"][0]
for k in ("verdict", "cpu_ms", "wall_ms", "memory_kb", "exit_code", "signal"):
    assert k in t, k
assert t["exit_code"] == 0 and t["signal"] is None and t["memory_kb"] > 0, t
assert "test 3" in j["detail"] and "expected: '3', found: '2'" in j["detail"], j["detail"]
PY
judge $tier "$S/sum.cpp" "$WORK/sum.json" --all-tests
[[ $(jget '[t["verdict"] for t in j["tests"]]') == "['AC', 'AC', 'WA', 'AC']" ]] || fail "--all-tests runs every test"
check_clean

# Source on stdin; Python.
printf 'a, b = map(int, input().split())\nprint(a + b)\n' > "$WORK/sum.py"
expect_exit 0 "$V4EVAL_BIN" judge --lang python --tests "$WORK/one.json" --sandbox $tier --json < "$WORK/sum.py"
cp "$WORK/stdout" "$WORK/out.json"
expect_verdict "python from stdin" AC

# CE with the compiler's message; the tests are skipped.
printf 'int main() { return undefined_name; }\n' > "$WORK/ce.cpp"
judge $tier "$WORK/ce.cpp" "$WORK/one.json"
expect_verdict "compile error" CE
jhas 'j["compile"]["log"]' "undefined_name" || fail "CE log lacks the compiler's message"
[[ $(jget 'j["compile"]["ok"]') == False ]] || fail "compile.ok"

# RE: non-zero exit, a signal, a Python exception.
printf 'int main() { return 3; }\n' > "$WORK/exit3.cpp"
judge $tier "$WORK/exit3.cpp" "$WORK/one.json"
expect_verdict "exit 3" RE
[[ $(jget 'j["tests"][0]["exit_code"]') == 3 ]] || fail "exit code 3 reported"
printf '#include <csignal>\nint main() { std::raise(SIGFPE); }\n' > "$WORK/fpe.cpp"
judge $tier "$WORK/fpe.cpp" "$WORK/one.json"
expect_verdict "SIGFPE" RE
[[ $(jget 'j["tests"][0]["signal"]') == SIGFPE ]] || fail "signal name reported"
printf 'raise ValueError("boom")\n' > "$WORK/raise.py"
judge $tier "$WORK/raise.py" "$WORK/one.json"
expect_verdict "python exception" RE
jhas 'j["tests"][0]["stderr"]' "ValueError: boom" || fail "traceback kept in stderr"

# Comparison modes.
cmp_case() {  # MODE OUTPUT ANSWER VERDICT (OUTPUT and ANSWER with backslash escapes)
  python3 - "$WORK" "$2" "$3" <<'PY'
import json, sys
w, out, ans = sys.argv[1], *(a.encode().decode("unicode_escape") for a in sys.argv[2:4])
open(w + "/print.py", "w").write("import sys\nsys.stdout.write(%r)\n" % out)
json.dump([{"input": "", "output": ans}], open(w + "/cmp.json", "w"))
PY
  judge $tier "$WORK/print.py" "$WORK/cmp.json" --compare "$1"
  expect_verdict "compare $1: '$2' vs '$3'" "$4"
}
cmp_case tokens "1  2\n\n" "1 2" AC
cmp_case exact "3" "3\n" WA
cmp_case lines "a\r\nb\n\n" "a\nb" AC
cmp_case lines "a b\n" "a  b\n" WA
cmp_case float:1e-6 "0.3333333\n" "0.333333333" AC
cmp_case float:1e-9 "0.3333333\n" "0.333333333" WA
cmp_case lcb "1.0 2\n" "1 2.00" AC
cmp_case lcb "Yes\n" "YES" WA
cmp_case lcb "0.30000000000000004" "0.3" WA
cmp_case yesno "yes\n" "YES" AC

# Human-readable output.
expect_exit 0 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/sum.json" --sandbox $tier
grep -q "^verdict: WA" "$WORK/stdout" || fail "human output"
grep -q "^test 3: WA" "$WORK/stdout" || fail "human output per test"

# Bad arguments: exit 2, nothing run.
expect_exit 2 "$V4EVAL_BIN" judge --source "$S/sum.cpp" --tests "$WORK/sum.json"
expect_stderr "--lang is required"
expect_exit 2 "$V4EVAL_BIN" judge --lang cobol --source "$S/sum.cpp" --tests "$WORK/sum.json"
expect_stderr "unknown language"
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/nope.json"
expect_stderr "cannot open"
echo '[{"input": 1}]' > "$WORK/bad.json"
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/bad.json"
expect_stderr "test 1 must be"
echo '{"input": "1"' > "$WORK/broken.json"
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/broken.json"
expect_stderr "malformed JSON"
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/sum.json" --compare float:abc
expect_exit 2 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/sum.json" --sandbox none
expect_stderr "unknown sandbox tier"
check_clean
echo ok
