#!/usr/bin/env bash
# Codeforces-style suite end to end on the real CodeElo special-judge problems: 8 attempts per
# problem replayed through `v4eval run`; problems without a checker are skipped (never judged by
# plain comparison), 1997A and 1998A are judged by the built-in checkers; the CodeElo rating comes
# out for the contest whose standings are given and the report says which contest has none.
# (No real standings snapshot is public: the standings here are synthetic, 250 rated
# participants at 1500, so the expected rating has a closed form.)
source "$(dirname "$0")/lib.bash"
CF="$V4EVAL_SHARED_DIR/data/codeforces"
[[ -f "$CF/codeelo_special_judge_problems.json" ]] || { echo "SKIP: no shared Codeforces data"; exit 77; }
printf 'print(1)\n' > probe.py
printf '[{"input": "", "output": "1\\n"}]' > probe.json
rc=0; "$V4EVAL_BIN" judge --lang python --source probe.py --tests probe.json --json >/dev/null 2>probe.err || rc=$?
if [[ $rc == 4 ]]; then echo "SKIP: no sandbox on this machine: $(cat probe.err)"; exit 77; fi

python3 - <<'PY'
import json
good_1997a = """```cpp
#include <bits/stdc++.h>
int main() { int t; std::cin >> t; while (t--) { std::string s; std::cin >> s;
  size_t i = 1; while (i < s.size() && s[i] != s[i - 1]) ++i;
  char c = 'a'; while (c == s[i - 1] || (i < s.size() && c == s[i])) ++c;
  s.insert(s.begin() + i, c); std::cout << s << "\\n"; } }
```"""
wrong_1997a = "```python\nfor _ in range(int(input())):\n    s = input()\n    print(s + s[-1])\n```"
good_1998a = """```python
t = int(input())
for _ in range(t):
    x, y, k = map(int, input().split())
    pts = [(x, y)] if k % 2 else []
    for i in range(1, k // 2 + 1):
        pts += [(x + i, y), (x - i, y)]
    print("\\n".join(f"{a} {b}" for a, b in pts))
```"""
wrong_1998a = "```python\nfor _ in range(int(input())):\n    x, y, k = map(int, input().split())\n    print('\\n'.join(f'{x} {y}' for _ in range(k)))\n```"
attempts = {"1997A": ["No code here."] + [wrong_1997a] + [good_1997a] * 6,
            "1998A": [wrong_1998a] * 2 + [good_1998a] * 6}
with open("replay.jsonl", "w") as f:
    for sid, texts in attempts.items():
        for r, text in enumerate(texts):
            f.write(json.dumps({"suite": "codeforces", "sample_id": sid, "repeat": r, "text": text}) + "\n")
# Synthetic standings of contest 1997 in the Codeforces API's shape (ICPC rules: no points).
rows = [{"party": {"members": [{"handle": f"h{i}"}]}, "points": 2.0 if i < 110 else 1.0,
         "penalty": 0 if i < 110 else 25} for i in range(250)]
import os
os.makedirs("standings", exist_ok=True)
json.dump({"status": "OK", "result": {"contest": {"id": 1997, "name": "synthetic"},
           "problems": [{"contestId": 1997, "index": "A"}, {"contestId": 1997, "index": "B"}], "rows": rows}},
          open("standings/1997.standings.json", "w"))
json.dump({"status": "OK", "result": [{"handle": f"h{i}", "oldRating": 1500} for i in range(250)]},
          open("standings/1997.ratingChanges.json", "w"))
PY

SUITE="codeforces:file=$CF/codeelo_special_judge_problems.json,standings=$WORK/standings"
expect_exit 0 "$V4EVAL_BIN" run --suite "$SUITE" --backend replay:file=replay.jsonl --repeats 8 \
  --db db.sqlite --run-name cf --progress none
expect_stderr "152 attempts skipped"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run cf --json report.json --samples

python3 - report.json <<'PY'
import json, math, sys
run = json.load(open(sys.argv[1]))["runs"][0]
samples = run["samples"]
judged = {(s["sample_id"], s["repeat"]): s for s in samples if s["skipped"] is None}
skipped = [s for s in samples if s["skipped"]]
assert len(judged) == 16 and len(skipped) == 152, (len(judged), len(skipped))
assert all("checker" in s["skipped"] for s in skipped)
v = lambda sid: [judged[(sid, r)]["verdict"] for r in range(8)]
assert v("1997A") == ["NO_CODE", "WA"] + ["AC"] * 6, v("1997A")
assert v("1998A") == ["WA", "WA"] + ["AC"] * 6, v("1998A")
wa = judged[("1997A", 1)]["details"]
assert wa["judged_by"] == "checker (built-in)" and "typing time" in wa["tests"][0]["checker"], wa
assert judged[("1997A", 2)]["details"]["language"] == "cpp" and judged[("1998A", 2)]["details"]["language"] == "python"
m = run["suites"][0]["metrics"]
# 1997A first accepted at index 2 -> ICPC penalty 20 < 25: rank 110 among 250 rated at 1500.
want = math.floor(1500 + 400 * math.log10(250 / 109 - 1))
assert m["rating@contest=1997"]["value"] == want, (m["rating@contest=1997"], want)
assert m["rating"]["value"] == want and m["rating"]["n"] == 1
assert m["rating_contests_without_standings"]["value"] == 1  # contest 1998: no data, no rating
assert 0 < m["rating_percentile"]["value"] < 100
assert m["rating_rule@attempts"]["value"] == 8
assert abs(m["pass@1"]["value"] - (6 / 8 + 6 / 8) / 2) < 1e-12 and m["pass@8"]["value"] == 1.0
print("codeforces: rating", want, "percentile", m["rating_percentile"]["value"])
PY

# `suites` documents the metrics and the method.
expect_exit 0 "$V4EVAL_BIN" suites --json
python3 -c "
import json; d = {s['name']: s for s in json.load(open('$WORK/stdout'))}
cf, lcb = d['codeforces'], d['livecodebench']
assert 'rating' in cf['metrics'] and 'rating_contests_without_standings' in cf['metrics']
assert 'calc_rating' in cf['description'] and 'pass@1' in lcb['metrics'] and 'pass@k' in lcb['metrics']
"
