#!/usr/bin/env bash
# `compare` and `gate` on real runs of 1,000 MRCR samples: a planted 5-point drop fails the gate
# (exit 1, JUnit failure, Markdown), symmetric noise passes, a within-margin drop passes, a run
# over other data is not comparable (exit 3), bad arguments exit 2; a JSON baseline of expected
# values gates the same way; compare's deltas and flip lists equal those computed here.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2,4 --tokens 4200 --per-cell 500 --seed 4 \
  --replay-out replay.jsonl --replay-modes non-think,think-max 2>/dev/null
"$V4EVAL_BIN" gen-mrcr --out other.jsonl --needles 2,4 --tokens 4200 --per-cell 500 --seed 5 \
  --replay-out other-replay.jsonl --replay-modes non-think,think-max 2>/dev/null
RUN=(run --suite mrcr:file=data.jsonl --mode non-think,think-max --db db.sqlite --quiet)
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --backend replay:file=replay.jsonl --run-name base
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --json base.json --samples
# Candidates: `drop` loses the prefix on 50 exactly-answered non-think samples (-0.05);
# `noise` swaps 30 exact answers for misses and 30 misses for exact ones (net 0).
python3 - data.jsonl replay.jsonl base.json <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
replay = [json.loads(l) for l in open(sys.argv[2])]
base = json.load(open(sys.argv[3]))["runs"][0]["samples"]
score = {(s["sample_id"], s["mode"]): s["score"] for s in base}
exact = [s for (s, m), v in sorted(score.items(), key=lambda x: int(x[0][0])) if m == "non-think" and v == 1.0]
zero = [s for (s, m), v in sorted(score.items(), key=lambda x: int(x[0][0])) if m == "non-think" and v == 0.0]
assert len(exact) >= 80 and len(zero) >= 30, (len(exact), len(zero))
def write(path, to_miss, to_exact):
    with open(path, "w") as out:
        for r in replay:
            r = dict(r)
            row = rows[int(r["sample_id"])]
            if r["mode"] == "non-think" and r["sample_id"] in to_miss:
                r["text"] = row["answer"][len(row["random_string_to_prepend"]):]
            if r["mode"] == "non-think" and r["sample_id"] in to_exact:
                r["text"] = row["answer"]
            out.write(json.dumps(r) + "\n")
write("drop.jsonl", set(exact[:50]), set())
write("noise.jsonl", set(exact[50:80]), set(zero[:30]))
PY
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --backend replay:file=drop.jsonl --run-name drop
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --backend replay:file=noise.jsonl --run-name noise
expect_exit 0 "$V4EVAL_BIN" run --suite mrcr:file=other.jsonl --mode non-think,think-max --db other.sqlite \
  --quiet --backend replay:file=other-replay.jsonl --run-name base

# ---- gate
expect_exit 1 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --junit junit.xml --markdown pr.md
grep -q "FAIL mrcr non-think score" "$WORK/stdout" || fail "no failing line"
grep -q "ok   mrcr think-max score" "$WORK/stdout" || fail "think-max should pass"
python3 - junit.xml pr.md <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.findall(".//testcase")
assert root.tag == "testsuites" and root.get("tests") == "2" and root.get("failures") == "1", ET.tostring(root)[:300]
by = {c.get("classname") + "/" + c.get("name"): c for c in cases}
assert set(by) == {"mrcr.non-think/score", "mrcr.think-max/score"}, by.keys()
failure = by["mrcr.non-think/score"].find("failure")
assert failure is not None and "dropped by 0.0500" in failure.get("message"), failure.attrib
assert by["mrcr.think-max/score"].find("failure") is None
md = open(sys.argv[2]).read()
assert "❌ regression" in md and "| ❌ | mrcr | non-think | `score`" in md and "largest drops" in md, md
PY
expect_exit 0 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate noise --junit junit2.xml
python3 -c "import xml.etree.ElementTree as ET; r = ET.parse('junit2.xml').getroot(); assert r.get('failures') == '0', r.attrib"
expect_exit 0 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --max-drop 0.10
expect_exit 1 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --max-drop 0.01 --metric mrcr:score --mode non-think
expect_exit 1 "$V4EVAL_BIN" gate --baseline db.sqlite:base --candidate db.sqlite:drop --json
python3 -c "
import json; g = json.load(open('$WORK/stdout'))
assert g['exit_code'] == 1 and g['checks'][0]['regression'] and abs(g['checks'][0]['delta'] + 0.05) < 1e-12, g['checks'][0]
assert len(g['checks'][0]['largest_drops']) == 20"
# Not comparable: another data set (exit 3), saying so in JUnit too.
expect_exit 3 "$V4EVAL_BIN" gate --baseline other.sqlite --candidate db.sqlite:drop --junit junit3.xml --markdown pr3.md
expect_stderr "not comparable: suite mrcr data"
python3 -c "
import xml.etree.ElementTree as ET; r = ET.parse('junit3.xml').getroot()
assert r.get('errors') == '1' and r.find('.//error').get('type') == 'incomparable', ET.tostring(r)"
grep -q "not comparable" pr3.md || fail "markdown lacks the reason"
# Bad arguments: exit 2.
expect_exit 2 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --metric mrcr:nosuch
expect_exit 2 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --alpha 2
expect_exit 2 "$V4EVAL_BIN" gate --db db.sqlite --baseline base
expect_exit 2 "$V4EVAL_BIN" gate --db db.sqlite --baseline base --candidate nosuchrun
expect_exit 2 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --mode think-high
expect_exit 2 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline base --candidate drop --max-drop x

# Expected values with tolerances (vLLM-style baselines).
expect_exit 0 "$V4EVAL_BIN" gate --db db.sqlite --candidate base --write-baseline expected.json --max-drop 0.01
python3 -c "
import json; e = json.load(open('expected.json'))
assert len(e['metrics']) == 2 and e['metrics'][0]['max_drop'] == 0.01 and e['suites']['mrcr']['data_hash'], e"
expect_exit 1 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline expected.json --candidate drop
expect_exit 0 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline expected.json --candidate noise
expect_exit 0 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline expected.json --candidate base
python3 -c "
import json; e = json.load(open('expected.json')); e['suites']['mrcr']['data_hash'] = 'f' * 64
json.dump(e, open('wrong.json', 'w'))
e = json.load(open('expected.json')); del e['suites']; e['metrics'][0]['max_drop'] = 0.2; json.dump(e, open('loose.json', 'w'))"
expect_exit 3 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline wrong.json --candidate drop
expect_exit 0 "$V4EVAL_BIN" gate --bootstrap 2000 --db db.sqlite --baseline loose.json --candidate drop --mode non-think
echo '{"metrics": [' > broken.json
expect_exit 2 "$V4EVAL_BIN" gate --db db.sqlite --baseline broken.json --candidate drop

# ---- compare: deltas and flips equal those computed from the per-sample rows.
expect_exit 0 "$V4EVAL_BIN" compare base noise --db db.sqlite --json
cp "$WORK/stdout" cmp.json
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run noise --json noise.json --samples
python3 - base.json noise.json cmp.json <<'PY'
import json, sys
a = {(s["sample_id"], s["mode"]): s["score"] for s in json.load(open(sys.argv[1]))["runs"][0]["samples"]}
b = {(s["sample_id"], s["mode"]): s["score"] for s in json.load(open(sys.argv[2]))["runs"][0]["samples"]}
c = json.load(open(sys.argv[3]))
assert c["comparable"] and [r["mode_a"] for r in c["rows"]] == ["non-think", "think-max"]
for r in c["rows"]:
    keys = [k for k in a if k[1] == r["mode_a"]]
    delta = sum(b[k] - a[k] for k in keys) / len(keys)
    assert abs(r["delta"] - delta) < 1e-12 and r["n_paired"] == 1000, (r["delta"], delta)
    won = sorted(k[0] for k in keys if b[k] > a[k]); lost = sorted(k[0] for k in keys if b[k] < a[k])
    assert sorted(x["sample_id"] for x in r["flips"]["won"]) == won and sorted(x["sample_id"] for x in r["flips"]["lost"]) == lost
    assert r["ci_low"] <= r["delta"] <= r["ci_high"] and r["test"] == "paired-bootstrap"
    assert r["p_holm"] >= r["p_value"]
nt = c["rows"][0]
assert nt["won"] == 30 and nt["lost"] == 30 and c["rows"][1]["won"] == c["rows"][1]["lost"] == 0
PY
expect_exit 0 "$V4EVAL_BIN" compare base drop --db db.sqlite --flips 3
grep -Eq "^mrcr +non-think +score +1000  .*-0.0500 \[" "$WORK/stdout" || { cat "$WORK/stdout"; fail "compare table"; }
grep -q "lost (B worse) 50:" "$WORK/stdout" || fail "flip list"
expect_exit 0 "$V4EVAL_BIN" compare --modes non-think,think-max base --db db.sqlite --all-metrics --json
python3 -c "
import json; c = json.load(open('$WORK/stdout'))
assert c['by_mode'] and len(c['rows']) > 5 and c['rows'][0]['metric'] == 'score', c['rows'][0]
assert any(r['metric'].startswith('score@needles=') for r in c['rows'])"
expect_exit 3 "$V4EVAL_BIN" compare other.sqlite db.sqlite:base
expect_stderr "not comparable"
grep -q "NOT COMPARABLE" "$WORK/stdout" || fail "compare should say not comparable"
expect_exit 2 "$V4EVAL_BIN" compare base --db db.sqlite
expect_exit 2 "$V4EVAL_BIN" compare base nosuch --db db.sqlite
expect_exit 2 "$V4EVAL_BIN" compare --modes non-think,non-think base --db db.sqlite
expect_exit 2 "$V4EVAL_BIN" compare base drop --db db.sqlite --metric nosuch
expect_exit 2 "$V4EVAL_BIN" compare db.sqlite drop --db db.sqlite  # several runs: name one
expect_stderr "holds several runs"
echo ok
