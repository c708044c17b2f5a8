#!/usr/bin/env bash
# SimpleQA and Chinese SimpleQA on real rows with recorded model answers and recorded judge
# outputs (replay files keyed like the model's). v4eval's grades and metrics must equal the
# official formulas computed here independently in Python (re.search(r"(A|B|C)"), the
# simple-evals aggregate); judge failures stay ungraded and are retried on resume; judge calls
# are cached.
source "$(dirname "$0")/lib.bash"
DATA="$V4EVAL_SHARED_DIR/data"

python3 - "$DATA" <<'PY'
import csv, json, random, sys
data = sys.argv[1]
rng = random.Random(7)
judge_texts = ["A", "B", "C", "A", "B", "The grade is A", "Correct: A", "no letters", "  B\n",
               "答案：A", "I think C", "A"]
# SimpleQA: 60 real rows (sample id = row index), two modes.
rows = list(csv.DictReader(open(f"{data}/simpleqa/simple_qa_test_set.csv", encoding="utf-8")))[:60]
with open("sq_model.jsonl", "w") as m, open("sq_judge.jsonl", "w") as j:
    for i, r in enumerate(rows):
        for mode in ("non-think", "think-high"):
            ans = rng.choice([r["answer"], "I don't know.", "Probably " + r["answer"], "Paris"])
            m.write(json.dumps({"suite": "simpleqa", "sample_id": str(i), "mode": mode, "text": ans}) + "\n")
            if i == 5 and mode == "think-high":
                continue  # no recorded judge output: this attempt stays ungraded
            j.write(json.dumps({"suite": "simpleqa", "sample_id": str(i), "mode": mode,
                                "text": rng.choice(judge_texts)}) + "\n")
# Chinese SimpleQA: 40 real rows (sample id = id); one empty answer (ungraded, officially).
crows = [json.loads(l) for l in open(f"{data}/chinese_simpleqa/chinese_simpleqa.jsonl", encoding="utf-8")][:40]
with open("cs_model.jsonl", "w") as m, open("cs_judge.jsonl", "w") as j:
    for k, r in enumerate(crows):
        ans = "" if k == 3 else rng.choice([r["answer"], "我不知道。", "北京"])
        m.write(json.dumps({"suite": "chinese_simpleqa", "sample_id": r["id"], "text": ans}, ensure_ascii=False) + "\n")
        j.write(json.dumps({"suite": "chinese_simpleqa", "sample_id": r["id"], "text": rng.choice(judge_texts)}, ensure_ascii=False) + "\n")
PY
python3 -c "
import csv,sys
rows = list(csv.reader(open('$DATA/simpleqa/simple_qa_test_set.csv', encoding='utf-8')))
w = csv.writer(open('sq.csv','w',encoding='utf-8',newline=''), lineterminator='\n')
w.writerows(rows[:61])"
head -40 "$DATA/chinese_simpleqa/chinese_simpleqa.jsonl" > cs.jsonl

# The judge is required.
expect_exit 2 "$V4EVAL_BIN" run --suite simpleqa:file=sq.csv --backend replay:file=sq_model.jsonl --db db.sqlite
expect_stderr "give --judge SPEC"

RUN=(run --suite simpleqa:file=sq.csv --backend replay:file=sq_model.jsonl
     --judge replay:file=sq_judge.jsonl --mode non-think,think-high --db db.sqlite --run-name sq --quiet)
expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}"
expect_stderr "1 attempts ended as errors"
# Record the missing judge output and resume: only that attempt is graded now.
python3 -c "
import json
print(json.dumps({'suite':'simpleqa','sample_id':'5','mode':'think-high','text':'B'}))" >> sq_judge.jsonl
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}"
expect_stderr "120/120 attempts graded (1 now"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run sq --json sq.json --samples

expect_exit 3 "$V4EVAL_BIN" run --suite chinese_simpleqa:file=cs.jsonl --backend replay:file=cs_model.jsonl \
  --judge replay:file=cs_judge.jsonl --db db.sqlite --run-name cs --quiet
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run cs --json cs.json --samples

python3 - <<'PY'
import json, re
def letter(t):
    m = re.search(r"(A|B|C)", t)
    return m.group(0) if m else "C"
def official(letters):  # simple-evals simpleqa_eval.py aggregate
    n = len(letters)
    c = sum(l == "A" for l in letters) / n
    i = sum(l == "B" for l in letters) / n
    na = sum(l == "C" for l in letters) / n
    att = c + i
    aga = c / att if att > 0 else 0
    f1 = 2 * aga * c / (aga + c) if (aga + c) > 0 else 0
    return {"correct": c, "incorrect": i, "not_attempted": na, "correct_given_attempted": aga, "f1": f1}

judge = {}
for path in ("sq_judge.jsonl", "cs_judge.jsonl"):
    for l in open(path, encoding="utf-8"):
        r = json.loads(l)
        judge[(r["suite"], r["sample_id"], r.get("mode", "non-think"))] = r["text"]

for report, suite, n_graded, n_err in (("sq.json", "simpleqa", 120, 0), ("cs.json", "chinese_simpleqa", 39, 1)):
    run = json.load(open(report))["runs"][0]
    graded = [s for s in run["samples"] if s["score"] is not None]
    assert len(graded) == n_graded, (suite, len(graded))
    errors = [s for s in run["samples"] if s["error"]]
    assert len(errors) == n_err, errors
    if suite == "chinese_simpleqa":
        assert "empty model output" in errors[0]["error"], errors
    by_mode = {}
    for s in graded:
        want = letter(judge[(suite, s["sample_id"], s["mode"])])
        assert s["details"]["grade"] == want, (s, want)
        assert s["verdict"] == {"A": "correct", "B": "incorrect", "C": "not_attempted"}[want]
        by_mode.setdefault(s["mode"], []).append(want)
    for entry in run["suites"]:
        want = official(by_mode[entry["mode"]])
        for name, value in want.items():
            got = entry["metrics"][name]["value"]
            assert abs(got - value) < 1e-12, (suite, entry["mode"], name, got, value)
        m = entry["metrics"]["correct"]
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
        # per-group metrics exist (topic / category)
        assert any(k.startswith("correct@") for k in entry["metrics"]), entry["metrics"].keys()
print("simpleqa + chinese_simpleqa metrics equal the official formulas")
PY

echo ok
