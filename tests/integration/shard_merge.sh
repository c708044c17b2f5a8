#!/usr/bin/env bash
# `run --shard I/N` + `merge`: three shards (from the flag, from Slurm's and from Kubernetes'
# variables) merged equal the unsharded run sample for sample; every sample's modes and
# repeats land in one shard; merging is idempotent, incremental (exit 3 until every shard is
# there), survives a crash half-way, and refuses shards of another run.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2,4,8 --tokens 4500 --per-cell 6 --seed 21 \
  --replay-out replay.jsonl --replay-modes non-think,think-max 2>/dev/null
# Two repeats. First pass: the replay file lacks some lines, so a few attempts are errors (they
# must merge as errors, not vanish); the full file later lets every run resume to completion.
python3 - replay.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open("replay.full", "w") as full, open(sys.argv[1], "w") as partial:
    for r in rows:
        for rep in (0, 1):
            line = json.dumps(dict(r, repeat=rep)) + "\n"
            full.write(line)
            if not (rep == 1 and int(r["sample_id"]) % 2 == 1 and r["mode"] == "think-max"):
                partial.write(line)
PY
RUN=(run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --mode non-think,think-max
     --repeats 2 --run-name mrcr-shards --quiet)
expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --db full.sqlite
expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --db s0.sqlite --shard 0/3
SLURM_ARRAY_TASK_ID=11 SLURM_ARRAY_TASK_MIN=10 SLURM_ARRAY_TASK_COUNT=3 \
  expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --db s1.sqlite --shard auto
JOB_COMPLETION_INDEX=2 V4EVAL_SHARD_COUNT=3 expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --db s2.sqlite --shard auto

# Bad shard specs: nothing runs.
expect_exit 2 "$V4EVAL_BIN" "${RUN[@]}" --db bad.sqlite --shard 3/3
expect_stderr "0-based"
expect_exit 2 "$V4EVAL_BIN" "${RUN[@]}" --db bad.sqlite --shard 1
expect_exit 2 "$V4EVAL_BIN" "${RUN[@]}" --db bad.sqlite --shard auto
expect_stderr "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX"
JOB_COMPLETION_INDEX=0 expect_exit 2 "$V4EVAL_BIN" "${RUN[@]}" --db bad.sqlite --shard auto
expect_stderr "V4EVAL_SHARD_COUNT"
[[ ! -e bad.sqlite ]] || fail "a refused run created its database"

# Partition: disjoint, complete, whole samples per shard.
python3 - <<'PY'
import sqlite3
full = {r for r in sqlite3.connect("full.sqlite").execute("select sample_id, mode, repeat from attempts")}
shards = [set(sqlite3.connect(f"s{i}.sqlite").execute("select sample_id, mode, repeat from attempts")) for i in range(3)]
assert set().union(*shards) == full, "the shards do not cover the run"
assert sum(len(s) for s in shards) == len(full), "the shards overlap"
samples = [{a[0] for a in s} for s in shards]
assert all(samples[i].isdisjoint(samples[j]) for i in range(3) for j in range(i + 1, 3)), "a sample is split"
assert all(len(s) > 0 for s in samples), [len(s) for s in samples]
for s in shards:
    for sample in {a[0] for a in s}:
        assert {(a[1], a[2]) for a in s if a[0] == sample} == {(m, r) for m in ("non-think", "think-max") for r in (0, 1)}
spec = sqlite3.connect("s1.sqlite").execute("select spec from runs").fetchone()[0]
assert '"shard":"1/3"' in spec, spec
PY

# Merge two shards: incomplete (exit 3) but stored; the third adds the rest, still with the
# shards' errors (exit 3); the merged run equals the unsharded one, errors included.
expect_exit 3 "$V4EVAL_BIN" merge out.sqlite s0.sqlite s1.sqlite
expect_stderr "missing shards 2 of 3"
expect_exit 3 "$V4EVAL_BIN" merge out.sqlite s2.sqlite
expect_stderr "unfinished shards 0 (incomplete), 1 (incomplete), 2 (incomplete)"
same_as_full() {
  expect_exit 0 "$V4EVAL_BIN" report --db full.sqlite --json full.json --samples
  for db in "$@"; do expect_exit 0 "$V4EVAL_BIN" report --db "$db" --json "$db.json" --samples; done
  python3 - full.json "${@/%/.json}" <<'PY'
import json, sys
def load(p):
    run = json.load(open(p))["runs"][0]
    samples = {(s["suite"], s["sample_id"], s["mode"], s["repeat"]):
               (s["score"], s["verdict"], s["error"] is not None, json.dumps(s["details"], sort_keys=True))
               for s in run["samples"]}
    return run, samples
full, fs = load(sys.argv[1])
for path in sys.argv[2:]:
    run, s = load(path)
    assert s == fs, f"{path}: merged attempts differ from the unsharded run"
    assert run["name"] == full["name"] and run["settings"] == full["settings"], (run["settings"], full["settings"])
    for a, b in zip(full["suites"], run["suites"]):
        assert a["metrics"] == b["metrics"] and a["n_errors"] == b["n_errors"], (a, b)
print("merged == unsharded on", len(fs), "attempts,", sum(v[2] for v in fs.values()), "errors")
PY
}
same_as_full out.sqlite

# Every run resumes with the full recording; merging again replaces the errors: complete.
cp replay.full replay.jsonl
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db full.sqlite
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db s0.sqlite --shard 0/3
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db s1.sqlite --shard 1/3
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db s2.sqlite --shard 2/3
expect_exit 0 "$V4EVAL_BIN" merge out.sqlite s0.sqlite s1.sqlite s2.sqlite
expect_stderr "complete (all 3 shards)"
grep -q "replaced errors" "$WORK/stderr" || fail "no replaced errors reported"
expect_exit 0 "$V4EVAL_BIN" merge out.sqlite s2.sqlite s0.sqlite s1.sqlite
expect_stderr "0 attempts added, 0 replaced errors"

# A crash half-way (after the first input is committed), then the same merge again.
V4EVAL_TEST_MERGE_ABORT_AFTER=1 expect_exit 137 "$V4EVAL_BIN" merge crash.sqlite s0.sqlite s1.sqlite s2.sqlite
expect_exit 0 "$V4EVAL_BIN" merge crash.sqlite s0.sqlite s1.sqlite s2.sqlite
same_as_full out.sqlite crash.sqlite
expect_exit 0 "$V4EVAL_BIN" compare full.sqlite out.sqlite --json
python3 -c "
import json; c = json.load(open('$WORK/stdout'))
assert c['comparable'] and all(r['delta'] == 0 and r['won'] == 0 and r['lost'] == 0 for r in c['rows']), c"

# Shards of another run are refused, naming the difference; nothing is written.
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db other.sqlite --shard 0/3 --temperature 0.5
expect_exit 2 "$V4EVAL_BIN" merge refused.sqlite s1.sqlite other.sqlite
expect_stderr "temperature"
[[ ! -e refused.sqlite ]] || fail "a refused merge created its output"
expect_exit 2 "$V4EVAL_BIN" merge out.sqlite other.sqlite
expect_stderr "already has a run 'mrcr-shards' with other settings"
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db four.sqlite --shard 0/4
expect_exit 2 "$V4EVAL_BIN" merge refused.sqlite s0.sqlite four.sqlite
expect_stderr "shard counts differ"
expect_exit 2 "$V4EVAL_BIN" merge out.sqlite out.sqlite
expect_exit 2 "$V4EVAL_BIN" merge out.sqlite
echo ok
