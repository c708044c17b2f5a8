#!/usr/bin/env bash
# Bad input gives a clear message naming the cause and the cli.md exit code; nothing stored is
# lost.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2 --tokens 4500 --per-cell 3 --seed 1 \
  --replay-out replay.jsonl 2>/dev/null

# Malformed JSONL: file and line named, exit 2, nothing run.
{ head -1 data.jsonl; echo '{"prompt": "[]", broken'; } > bad.jsonl
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=bad.jsonl --backend replay:file=replay.jsonl --db db.sqlite
expect_stderr "bad.jsonl:2: malformed JSON"
[[ ! -e db.sqlite ]] || fail "a database was created for a run that never started"

# Missing field.
python3 -c "
import json; r = json.loads(open('data.jsonl').readline()); del r['random_string_to_prepend']
open('nofield.jsonl','w').write(json.dumps(r) + '\n')"
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=nofield.jsonl --backend replay:file=replay.jsonl --db db.sqlite
expect_stderr 'nofield.jsonl:1: missing string field "random_string_to_prepend"'

# prompt that is not a JSON list
python3 -c "
import json; r = json.loads(open('data.jsonl').readline()); r['prompt'] = 'not json'
open('badprompt.jsonl','w').write(json.dumps(r) + '\n')"
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=badprompt.jsonl --backend replay:file=replay.jsonl --db db.sqlite
expect_stderr 'badprompt.jsonl:1: "prompt" is not a JSON list of messages'

# Missing data file, unknown suite, unknown flag, bad mode.
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=nope.jsonl --backend replay:file=replay.jsonl
expect_stderr "nope.jsonl: cannot open"
expect_exit 2 "$V4EVAL_BIN" run --suite nosuch --backend replay:file=replay.jsonl
expect_stderr "unknown suite 'nosuch'"
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --bogus 1
expect_stderr "unknown flag --bogus"
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --mode think
expect_stderr "unknown mode 'think'"

# Malformed replay file.
printf '{"suite":"mrcr","sample_id":"0","text":"a"}\nnot json\n' > badreplay.jsonl
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=badreplay.jsonl --db db.sqlite
expect_stderr "badreplay.jsonl:2: malformed JSON"

# A replay without a line for sample 2: an error attempt (exit 3), not a crash and not a 0.
head -2 replay.jsonl > partial.jsonl
expect_exit 3 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=partial.jsonl --db db.sqlite --run-name p
expect_stderr "1 attempts ended as errors"
expect_exit 0 "$V4EVAL_BIN" report --db db.sqlite --run p --json r.json --samples
python3 - <<'PY'
import json
run = json.load(open("r.json"))["runs"][0]
s = {x["sample_id"]: x for x in run["samples"]}
assert s["2"]["score"] is None and "no recorded generation" in s["2"]["error"], s["2"]
assert run["suites"][0]["n_errors"] == 1 and run["suites"][0]["metrics"]["score"]["n"] == 2
PY

# Same run name, different settings: refused, naming the setting.
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=partial.jsonl --db db.sqlite --run-name p --repeats 2
expect_stderr "different settings"
expect_stderr "repeats: stored 1, given 2"

# The complete replay under the same name would be a different backend: refused too.
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --db db.sqlite --run-name p
expect_stderr "backend: stored"

# The data file changed under a run: refused.
cp data.jsonl data2.jsonl
expect_exit 0 "$V4EVAL_BIN" run --suite mrcr:file=data2.jsonl --backend replay:file=replay.jsonl --db db.sqlite --run-name d --quiet
head -2 data.jsonl > data2.jsonl
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data2.jsonl --backend replay:file=replay.jsonl --db db.sqlite --run-name d
expect_stderr "changed since the run started"

# Not a database / a directory as --db.
head -c 5000 /dev/urandom > junk.sqlite
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --db junk.sqlite
expect_stderr "junk.sqlite"
mkdir adir
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --db adir
expect_stderr "adir"

# Locked database: another writer holds it; the message says so (after the busy timeout).
python3 - <<'PY' &
import sqlite3, time
db = sqlite3.connect("db.sqlite", isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open("locked", "w").close()
time.sleep(15)
PY
locker=$!
for _ in $(seq 100); do [[ -e locked ]] && break; sleep 0.05; done
expect_exit 2 "$V4EVAL_BIN" run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --db db.sqlite --run-name z
expect_stderr "another process holds a lock"
kill $locker 2>/dev/null || true; wait $locker 2>/dev/null || true

# Everything stored earlier is intact.
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("db.sqlite")
assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
assert db.execute("select count(*) from attempts a join runs r on a.run_id = r.id where r.name = 'p'").fetchone()[0] == 3
assert db.execute("select count(*) from attempts a join runs r on a.run_id = r.id where r.name = 'd'").fetchone()[0] == 3
PY
echo ok
