#!/usr/bin/env bash
# End to end with `v4eval serve` as the judge: SimpleQA graded through an OpenAI-compatible
# HTTP judge (serve in front of recorded judge outputs) gives exactly the grades of the same
# judge recording used in-process.
source "$(dirname "$0")/lib.bash"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
DATA="$V4EVAL_SHARED_DIR/data"

python3 - "$DATA" <<'PY'
import csv, json, random, sys
rng = random.Random(11)
rows = list(csv.reader(open(f"{sys.argv[1]}/simpleqa/simple_qa_test_set.csv", encoding="utf-8")))[:31]
csv.writer(open("sq.csv", "w", encoding="utf-8", newline=""), lineterminator="\n").writerows(rows)
with open("model.jsonl", "w") as m, open("judge.jsonl", "w") as j:
    for i, r in enumerate(rows[1:]):
        m.write(json.dumps({"suite": "simpleqa", "sample_id": str(i), "text": rng.choice([r[2], "I don't know"])}) + "\n")
        j.write(json.dumps({"suite": "simpleqa", "sample_id": str(i), "text": rng.choice(["A", "B", "C", "Grade: B"])}) + "\n")
PY

"$V4EVAL_BIN" serve --backend replay:file=judge.jsonl,model=judge-replay --http 0 \
  --ready-file ready.json --exit-after 120 2>serve.log &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -f ready.json ]] && break; sleep 0.1; done
[[ -f ready.json ]] || fail "serve did not start: $(cat serve.log)"
HTTP=$(json_get ready.json "j['http']")

expect_exit 0 "$V4EVAL_BIN" run --suite simpleqa:file=sq.csv --backend replay:file=model.jsonl \
  --judge "openai:base_url=http://$HTTP/v1,model=judge-replay,attempt_metadata=true" \
  --db db.sqlite --run-name served --quiet
expect_exit 0 "$V4EVAL_BIN" run --suite simpleqa:file=sq.csv --backend replay:file=model.jsonl \
  --judge replay:file=judge.jsonl --db db.sqlite --run-name local --quiet
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run served --run local --json r.json --samples
python3 - <<'PY'
import json
runs = {r["name"]: r for r in json.load(open("r.json"))["runs"]}
grades = {name: {s["sample_id"]: s["details"]["grade"] for s in r["samples"]} for name, r in runs.items()}
assert len(grades["served"]) == 30 and grades["served"] == grades["local"], grades
assert runs["served"]["settings"]["judge"].startswith("openai:")
m1, m2 = (runs[n]["suites"][0]["metrics"] for n in ("served", "local"))
assert all(m1[k]["value"] == m2[k]["value"] for k in ("correct", "incorrect", "not_attempted", "f1"))
print("served judge == in-process judge on", len(grades["served"]), "items")
PY
echo ok
