#!/usr/bin/env bash
# kill -9 mid-run, then the same command: every attempt stored exactly once, the ones finished
# before the kill are not asked again; and SIGINT stops cleanly with exit 130.
source "$(dirname "$0")/lib.bash"

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2 --tokens 4500 --per-cell 40 --seed 9 \
  --replay-out replay.jsonl 2>/dev/null
RUN=(run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl,delay_ms=100
     --db db.sqlite --concurrency 2 --progress lines)

"$V4EVAL_BIN" "${RUN[@]}" --run-name k >/dev/null 2>"$WORK/first.err" &
pid=$!
for _ in $(seq 100); do  # wait until some attempts are committed, then kill -9
  n=$(python3 -c "import sqlite3; print(sqlite3.connect('db.sqlite').execute('select count(*) from attempts').fetchone()[0])" 2>/dev/null || echo 0)
  [[ $n -ge 5 ]] && break
  sleep 0.05
done
kill -9 $pid
wait $pid 2>/dev/null || true
before=$(python3 -c "import sqlite3; print(sqlite3.connect('db.sqlite').execute('select count(*) from attempts').fetchone()[0])")
[[ $before -ge 5 && $before -lt 40 ]] || fail "expected a partial run before the kill, got $before attempts"

expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --run-name k
expect_stderr "resuming run 'k'"
expect_stderr "40/40 attempts graded ($((40 - before)) now"
expect_stderr "$((40 - before)) backend calls"
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("db.sqlite")
rows = db.execute("select sample_id, count(*), max(tries) from attempts group by sample_id").fetchall()
assert len(rows) == 40, len(rows)
assert all(c == 1 and t == 1 for _, c, t in rows), rows
assert db.execute("select status from runs").fetchone()[0] == "complete"
PY

# SIGINT: exit 130, everything finished is stored, the rerun completes the rest.
rm -f db.sqlite*
"$V4EVAL_BIN" "${RUN[@]}" --run-name s >/dev/null 2>"$WORK/int.err" &
pid=$!
# Background jobs of a non-interactive shell start with SIGINT ignored until v4eval installs
# its handler: wait for committed attempts (a loaded machine can take longer than any sleep).
for _ in $(seq 200); do
  n=$(python3 -c "import sqlite3; print(sqlite3.connect('db.sqlite').execute('select count(*) from attempts').fetchone()[0])" 2>/dev/null || echo 0)
  [[ $n -ge 3 ]] && break
  sleep 0.05
done
kill -INT $pid
code=0; wait $pid || code=$?
[[ $code == 130 ]] || { cat "$WORK/int.err"; fail "SIGINT: expected exit 130, got $code"; }
grep -q "interrupted; the same command resumes the run" "$WORK/int.err" || fail "no interrupt message"
stored=$(python3 -c "import sqlite3; print(sqlite3.connect('db.sqlite').execute('select count(*) from attempts').fetchone()[0])")
status=$(python3 -c "import sqlite3; print(sqlite3.connect('db.sqlite').execute('select status from runs').fetchone()[0])")
[[ $status == interrupted ]] || fail "run status $status"
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --run-name s
expect_stderr "40/40 attempts graded ($((40 - stored)) now"
echo ok
