#!/usr/bin/env bash
# `report --html` in real headless Chromium: two runs (one with planted errors), three modes.
# The page must load from file:// with no console error and no network request; the mode,
# verdict and score filters, the text search, the error-class filter and the run-vs-run diff
# must show the counts computed here independently from the database; screenshots are taken
# (kept in $V4EVAL_SCREENSHOT_DIR when set). Skips (77) without node, Chromium or playwright-core.
source "$(dirname "$0")/lib.bash"
command -v node >/dev/null || { echo "SKIP: node not found"; exit 77; }

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2,4,8 --tokens 5000,9000 --per-cell 4 --seed 11 \
  --replay-out replay.jsonl --replay-modes non-think,think-high,think-max 2>/dev/null
# The candidate: some answers lose the prefix (score 0), some become exact, and think-max
# loses five recorded generations (error attempts).
python3 - data.jsonl replay.jsonl cand.jsonl <<'PY'
import json, random, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rng = random.Random(5)
dropped = 0
with open(sys.argv[3], "w") as out:
    for line in open(sys.argv[2]):
        r = json.loads(line)
        row = rows[int(r["sample_id"])]
        x = rng.random()
        if r["mode"] == "think-max" and dropped < 5 and x < 0.4:
            dropped += 1
            continue
        if x < 0.25:
            r["text"] = row["answer"][len(row["random_string_to_prepend"]):]
        elif x < 0.5:
            r["text"] = row["answer"]
        out.write(json.dumps(r) + "\n")
assert dropped == 5
PY
RUN=(run --suite mrcr:file=data.jsonl --mode non-think,think-high,think-max --db db.sqlite --quiet)
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --backend replay:file=replay.jsonl --run-name base
expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --backend replay:file=cand.jsonl --run-name cand
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --html report.html --title "MRCR base vs cand"
expect_stderr "HTML report written to report.html"
grep -q '<title>MRCR base vs cand</title>' report.html || fail "title"
if grep -Eq '(src|href)="(https?:)?//' report.html; then fail "report.html references a network resource"; fi

# What the page must show, computed from the database.
python3 - data.jsonl > expect.json <<'PY'
import json, sqlite3, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
db = sqlite3.connect("db.sqlite")
att = db.execute("""select r.name, a.sample_id, a.mode, a.repeat, a.score, coalesce(a.verdict, ''),
                    coalesce(a.text, ''), a.error, a.error_stage
                    from attempts a join runs r on r.id = a.run_id order by r.id""").fetchall()
total = len(att)
tm = [a for a in att if a[2] == "think-max"]
exact = [a for a in tm if a[4] is not None and a[5] == "exact"]
exact_min = [a for a in exact if a[4] >= 0.5]
needle = rows[5]["random_string_to_prepend"]
def hay(a):
    return (a[1] + "\n" + a[6] + "\n" + a[7] + "\n" + (a[5] if a[4] is not None else "")).lower()
search = sum(1 for a in att if needle.lower() in hay(a))
errors = sum(1 for a in att if a[4] is None)
# The diff: base vs cand, non-think, per sample (one repeat each).
def side(run):
    out = {}
    for a in att:
        if a[0] == run and a[2] == "non-think" and a[4] is not None:
            out[a[1]] = (a[4], a[5])
    return out
A, B = side("base"), side("cand")
def outcome(score, verdict):  # one attempt per sample: the verdict
    return verdict
paired = [s for s in A if s in B]
won = sum(1 for s in paired if B[s][0] > A[s][0])
lost = sum(1 for s in paired if B[s][0] < A[s][0])
flipped = sum(1 for s in paired if outcome(*A[s]) != outcome(*B[s]))
assert flipped > 0 and won > 0 and lost > 0, (won, lost, flipped)
print(json.dumps({
    "total": total, "results": 6, "small_n": True, "summarised_prompt": True,
    "filter": {"mode": "think-max", "count": len(tm), "verdict": "exact",
               "verdict_count": len(exact), "verdict_min_count": len(exact_min)},
    "search": {"text": needle, "count": search},
    "error_class": {"name": "generate: no recorded generation", "count": errors},
    "diff": {"a_run": 0, "a_mode": 0, "b_run": 1, "b_mode": 0, "paired": len(paired),
             "won": won, "lost": lost, "flipped": flipped}}))
PY

code=0
node "$V4EVAL_SOURCE_DIR/tests/tools/report_browser.mjs" --html report.html --expect expect.json \
  --screenshots "$WORK/shots" > browser.json || code=$?
cat browser.json
[[ $code == 77 ]] && exit 77
[[ $code == 0 ]] || fail "browser checks failed (see above)"
for shot in overview samples diff plots; do
  [[ -s "$WORK/shots/$shot.png" ]] || fail "no $shot screenshot"
done
if [[ -n "${V4EVAL_SCREENSHOT_DIR:-}" ]]; then mkdir -p "$V4EVAL_SCREENSHOT_DIR"; cp "$WORK"/shots/*.png "$V4EVAL_SCREENSHOT_DIR"/; fi

# Errors and bad arguments.
expect_exit 2 "$V4EVAL_BIN" report --db db.sqlite --html report2.html --run nosuchrun
expect_exit 2 "$V4EVAL_BIN" report --db db.sqlite --html report2.html --prompt-bytes 10
mkdir ro && chmod 500 ro
if [[ $(id -u) != 0 ]]; then expect_exit 1 "$V4EVAL_BIN" report --db db.sqlite --html ro/r.html; fi
echo ok
