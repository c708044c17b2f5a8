#!/usr/bin/env bash
# A replay run end to end: the scores v4eval stores equal CPython's difflib on the same pairs
# (the official MRCR grader), report counts are exact, and a rerun does nothing twice.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2,4,8 --tokens 5000,10000 --per-cell 2 \
  --seed 3 --replay-out replay.jsonl --replay-modes non-think,think-high 2>/dev/null
[[ $(wc -l < data.jsonl) == 12 ]] || fail "expected 12 rows"

expect_exit 0 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl \
  --mode non-think,think-high --db db.sqlite --run-name demo --progress lines
expect_stderr "24/24 attempts graded"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --json report.json --samples

python3 - data.jsonl replay.jsonl report.json <<'PY'
import json, sys, difflib
rows = [json.loads(l) for l in open(sys.argv[1])]
replay = {(r["sample_id"], r["mode"]): r["text"] for r in map(json.loads, open(sys.argv[2]))}
report = json.load(open(sys.argv[3]))
run = report["runs"][0]
def grade(response, answer, prefix):  # openai/mrcr README grader
    if not response.startswith(prefix):
        return 0.0
    return difflib.SequenceMatcher(None, response.removeprefix(prefix), answer.removeprefix(prefix)).ratio()
samples = run["samples"]
assert len(samples) == 24, len(samples)
by_mode = {}
for s in samples:
    row = rows[int(s["sample_id"])]
    want = grade(replay[(s["sample_id"], s["mode"])], row["answer"], row["random_string_to_prepend"])
    assert s["score"] == want, (s, want)
    assert s["details"]["n_needles"] == row["n_needles"]
    assert s["details"]["bin"] in ("8k", "16k"), s["details"]
    by_mode.setdefault(s["mode"], []).append(want)
for suite in run["suites"]:
    assert suite["n_samples"] == 12 and suite["n_attempts"] == 12 and suite["n_errors"] == 0, suite
    m = suite["metrics"]["score"]
    want = sum(by_mode[suite["mode"]]) / 12
    assert abs(m["value"] - want) < 1e-12, (m, want)
    assert m["ci_low"] <= m["value"] <= m["ci_high"] and m["n"] == 12
    assert "score@needles=2" in suite["metrics"] and "score@bin=8k" in suite["metrics"]
print("replay run matches CPython difflib on", len(samples), "attempts")
PY

# The same command again: resumes, finds everything done, asks nothing.
expect_exit 0 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl \
  --mode non-think,think-high --db db.sqlite --run-name demo --quiet
expect_stderr "resuming run 'demo'"
expect_stderr "24/24 attempts graded (0 now"
expect_stderr "0 backend calls"

# show: one attempt in full
expect_exit 0 "$V4EVAL_BIN" show --db db.sqlite --run demo --suite mrcr --sample 3 --json
python3 -c "
import json; a = json.load(open('$WORK/stdout'))
assert a['sample_id'] == '3' and a['prompt'][-1]['role'] == 'user' and 'Prepend' in a['prompt'][-1]['content']
assert a['details']['tokens'] > 4096
"
expect_exit 0 "$V4EVAL_BIN" suites --json
python3 -c "import json; d = json.load(open('$WORK/stdout')); assert d[0]['name'] == 'mrcr' and 'score' in d[0]['metrics']"
# --config holds the same keys as the flags; flags win. --limit keeps the first N samples.
cat > cfg.json <<JSON
{"suite": ["mrcr:file=data.jsonl"], "backend": "replay:file=replay.jsonl",
 "mode": ["non-think", "think-high"], "limit": 5, "run_name": "from-config", "db": "cfg.sqlite"}
JSON
expect_exit 0 "$V4EVAL_BIN" run --config cfg.json --mode think-high --quiet
expect_stderr "5/5 attempts graded"
expect_exit 2 "$V4EVAL_BIN" run --config cfg.json --bogus-key
printf '{"suit": "x"}' > badcfg.json
expect_exit 2 "$V4EVAL_BIN" run --config badcfg.json
expect_stderr 'unknown key "suit"'
echo "ok"
