#!/usr/bin/env bash
# gRPC round trip: `v4eval run --backend grpc:addr=...` -> `v4eval serve --grpc` (replay behind)
# stores exactly what a run against the replay backend in-process stores; the served model's
# info reaches the run; the API key is enforced; an unreachable server is an error before
# anything runs; SIGTERM stops the server cleanly.
source "$(dirname "$0")/lib.bash"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

DATA=$V4EVAL_SOURCE_DIR/data/mrcr/sample.jsonl
REPLAY=$V4EVAL_SOURCE_DIR/data/mrcr/sample.replay.jsonl
export V4EVAL_GRPC_KEY="grpc-key-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"

"$V4EVAL_BIN" serve --backend "replay:file=$REPLAY,model=v4-replay" --grpc 0 \
  --api-key-env V4EVAL_GRPC_KEY --ready-file ready.json --exit-after 300 2>serve.log &
SERVE_PID=$!
trap 'kill $SERVE_PID 2>/dev/null && wait $SERVE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -f ready.json ]] && break; sleep 0.1; done
[[ -f ready.json ]] || fail "serve did not start: $(cat serve.log)"
ADDR=$(json_get ready.json "j['grpc']")

MODES=non-think,think-high,think-max
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend "replay:file=$REPLAY,model=v4-replay" \
  --mode $MODES --db direct.sqlite --run-name direct --quiet
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "grpc:addr=$ADDR,api_key_env=V4EVAL_GRPC_KEY,timeout_s=60" \
  --mode $MODES --db grpc.sqlite --run-name via-grpc --concurrency 16 --progress lines
expect_stderr "54/54 attempts graded"
python3 - direct.sqlite grpc.sqlite <<'PY'
import sqlite3, sys
q = """SELECT sample_id, mode, text, reasoning, finish_reason, effective_mode, score, verdict, error
       FROM attempts ORDER BY sample_id, mode"""
direct = sqlite3.connect(sys.argv[1]).execute(q).fetchall()
c = sqlite3.connect(sys.argv[2])
via = c.execute(q).fetchall()
assert len(direct) == 54 and via == direct, [(a, b) for a, b in zip(via, direct) if a != b][:2]
model, backend = c.execute("SELECT model, backend FROM runs").fetchone()
assert model == "v4-replay", model          # the served backend's Info reached the run
assert "grpc-key" not in backend and "V4EVAL_GRPC_KEY" in backend, backend
lat = c.execute("SELECT min(latency_ms) FROM attempts").fetchone()[0]
assert lat > 0, lat
print("grpc round trip: 54 attempts identical to the replay backend in-process")
PY
for f in grpc.sqlite grpc.sqlite-wal serve.log "$WORK/stderr"; do
  [[ -f $f ]] && grep -qaF -- "$V4EVAL_GRPC_KEY" "$f" && fail "API key leaked into $f"
done

# Without the key, or with a wrong one: refused before anything runs (exit 2), saying why.
expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend "grpc:addr=$ADDR" --db x.sqlite --quiet
expect_stderr "UNAUTHENTICATED"
V4EVAL_GRPC_KEY=wrong expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "grpc:addr=$ADDR,api_key_env=V4EVAL_GRPC_KEY" --db x.sqlite --quiet
expect_stderr "UNAUTHENTICATED"
# Nothing listening: a clear error within connect_timeout_s.
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend "grpc:addr=127.0.0.1:$DEAD,connect_timeout_s=1" \
  --db x.sqlite --quiet
expect_stderr "Info from 127.0.0.1:$DEAD failed"

kill -TERM $SERVE_PID
wait $SERVE_PID || fail "serve did not exit 0 on SIGTERM"
grep -q "stopped" serve.log || fail "no clean stop: $(cat serve.log)"
echo "ok"
