#!/usr/bin/env bash
# CorpusQA on synthetic rows (128K tokens) with recorded answers and recorded judge verdicts:
# extraction and the [[YES]]/[[NO]] rule equal src/eval.py's, computed here in Python; a prompt
# over the context window is skipped with its reason, not truncated; token counts reported.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-corpusqa --out cq.jsonl --tokens 128000,20000 --per-size 3 --seed 4 \
  --replay-out model.jsonl --judge-replay-out judge.jsonl 2>/dev/null
# Add verdict variety: hedged judges and a "[[YES]] ... [[NO]]" contradiction.
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("judge.jsonl")]
rows[0]["text"] = "Both say the same. [[YES]] Wait, no: [[NO]]"
rows[1]["text"] = "They are equivalent.\n[[YES]]"
with open("judge.jsonl", "w") as f:
    for r in rows: f.write(json.dumps(r) + "\n")
PY

expect_exit 0 "$V4EVAL_BIN" run --suite corpusqa:file=cq.jsonl --backend replay:file=model.jsonl \
  --judge replay:file=judge.jsonl --db db.sqlite --run-name all --quiet
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run all --json all.json --samples

python3 - <<'PY'
import json, re
def extract_answer(response):  # Tongyi-Zhiwen/CorpusQA src/eval.py
    m = re.search(r'The answer is: (.*)', response)
    return m.group(1).strip() if m else response.strip()
def correct(text):
    return "[[YES]]" in text and "[[NO]]" not in text
rows = {r["id"]: r for r in map(json.loads, open("cq.jsonl"))}
model = {r["sample_id"]: r["text"] for r in map(json.loads, open("model.jsonl"))}
judge = {r["sample_id"]: r["text"] for r in map(json.loads, open("judge.jsonl"))}
run = json.load(open("all.json"))["runs"][0]
samples = run["samples"]
assert len(samples) == 6 and all(s["score"] is not None for s in samples)
for s in samples:
    d = s["details"]
    assert d["extracted_answer"] == extract_answer(model[s["sample_id"]]), d
    assert d["gold"] == rows[s["sample_id"]]["answer"]
    assert s["score"] == (1.0 if correct(judge[s["sample_id"]]) else 0.0), s
    assert d["domain"] == "financial_en" and d["difficulty"] in ("easy", "medium", "hard")
big = [s["details"]["tokens_o200k"] for s in samples if s["details"]["tokens_o200k"] > 100000]
assert len(big) == 3 and all(110000 < t < 140000 for t in big), big
m = run["suites"][0]["metrics"]
want = sum(correct(judge[i]) for i in rows) / 6
assert abs(m["accuracy"]["value"] - want) < 1e-12 and m["score"]["value"] == m["accuracy"]["value"]
assert "accuracy@domain=financial_en" in m and "accuracy@difficulty=hard" in m
print("corpusqa grades equal src/eval.py's rules; accuracy", want)
PY

# A 100K-token window: the three 128K prompts are skipped with a reason, never truncated.
expect_exit 0 "$V4EVAL_BIN" run --suite corpusqa:file=cq.jsonl,context_window=100000 \
  --backend replay:file=model.jsonl --judge replay:file=judge.jsonl --db db.sqlite --run-name win --quiet
expect_stderr "3 attempts skipped"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run win --json win.json --samples
python3 - <<'PY'
import json
run = json.load(open("win.json"))["runs"][0]
skipped = [s for s in run["samples"] if s["skipped"]]
assert len(skipped) == 3 and all("over the context window of 100000" in s["skipped"] for s in skipped), skipped
assert run["suites"][0]["n_skipped"] == 3 and run["suites"][0]["n_errors"] == 0
assert run["suites"][0]["metrics"]["accuracy"]["n"] == 3
PY
# ... and resuming does not redo skipped attempts.
expect_exit 0 "$V4EVAL_BIN" run --suite corpusqa:file=cq.jsonl,context_window=100000 \
  --backend replay:file=model.jsonl --judge replay:file=judge.jsonl --db db.sqlite --run-name win --quiet
expect_stderr "(0 now"
echo ok
