#!/usr/bin/env bash
# A full disk mid-run: a clear message, exit 3, the database stays intact with every attempt
# committed before the disk filled, and the run completes once there is room.
# Needs to mount a small tmpfs (root); skipped (exit 77) where that is not allowed.
source "$(dirname "$0")/lib.bash"

mkdir small
if ! mount -t tmpfs -o size=320k tmpfs small 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"; exit 77
fi
trap 'umount "$WORK/small" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$V4EVAL_BIN" gen-mrcr --out data.jsonl --needles 2,4,8 --tokens 4500 --per-cell 20 --seed 4 \
  --replay-out replay.jsonl 2>/dev/null
RUN=(run --suite mrcr:file=data.jsonl --backend replay:file=replay.jsonl --run-name full --quiet)
expect_exit 3 "$V4EVAL_BIN" "${RUN[@]}" --db small/db.sqlite
expect_stderr "disk full"
expect_stderr "finished attempts are stored"

cp small/db.sqlite* .
umount small
python3 - <<'PY'
import sqlite3
db = sqlite3.connect("db.sqlite")
assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
n = db.execute("select count(*) from attempts").fetchone()[0]
assert 0 < n < 60, n
open("stored", "w").write(str(n))
PY
stored=$(cat stored)
expect_exit 0 "$V4EVAL_BIN" "${RUN[@]}" --db db.sqlite
expect_stderr "60/60 attempts graded ($((60 - stored)) now"
echo ok
