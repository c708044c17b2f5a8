#!/usr/bin/env bash
# The `openai:` backend against an HTTP server that is not ours: Node's `http` module
# (tests/tools/node_chat_server.mjs), which streams with chunked transfer encoding, sends plain
# bodies with a Content-Length, and closes keep-alive connections idle for 2 ms, racing the
# client's next request on them. Every MRCR attempt, streaming and not, through our HTTP/1.1
# transport and through libcurl, must store the server's answer with its exact score and no
# error; through ours at the first try (a request that meets a connection the server just
# closed is re-sent by the transport, never seen by the runner).
source "$(dirname "$0")/lib.bash"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
command -v node >/dev/null || { echo "skip: node missing"; exit 77; }

DATA=$V4EVAL_SOURCE_DIR/data/mrcr/sample.jsonl
REPLAY=$V4EVAL_SOURCE_DIR/data/mrcr/sample.replay.jsonl
MODES=non-think,think-high,think-max

node "$V4EVAL_SOURCE_DIR/tests/tools/node_chat_server.mjs" --replay "$REPLAY" --port-file port \
  --stats-file stats.json --idle-close-ms 2 --max-seconds 240 2>server.log &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -f port ]] && break; sleep 0.1; done
[[ -f port ]] || fail "node server did not start: $(cat server.log)"
PORT=$(cat port)

# The scores the replayed answers earn, from the replay backend.
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend "replay:file=$REPLAY" \
  --mode $MODES --db expected.sqlite --run-name expected --quiet

SPEC="openai:base_url=http://127.0.0.1:$PORT/v1,model=node,attempt_metadata=true,timeout_s=20"
for transport in native curl; do
  for stream in true false; do
    # Twice over: --concurrency 3 keeps a few connections busy, the second pass starts on
    # connections the server has long closed.
    for pass in 1 2; do
      V4EVAL_HTTP_TRANSPORT=$transport expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
        --backend "$SPEC,stream=$stream" --mode $MODES --db run.sqlite \
        --run-name "$transport-$stream-$pass" --retries 2 --retry-base-ms 20 --concurrency 3 --no-cache --quiet
    done
  done
done
kill -TERM $SERVER_PID
wait $SERVER_PID || true

python3 - expected.sqlite run.sqlite stats.json <<'PY'
import json, sqlite3, sys
exp_db, run_db, stats_file = sys.argv[1:]
def rows(db, run):
    c = sqlite3.connect(db)
    q = """SELECT a.sample_id, a.mode, a.text, a.reasoning, a.score, a.verdict, a.error, a.tries,
                  a.ttft_ms, a.latency_ms
           FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.name = ?"""
    return {(r[0], r[1]): r[2:] for r in c.execute(q, (run,))}
expected = rows(exp_db, "expected")
assert len(expected) == 54, len(expected)
for transport in ("native", "curl"):
    for stream in ("true", "false"):
        for run_pass in (1, 2):
            run = f"{transport}-{stream}-{run_pass}"
            got = rows(run_db, run)
            assert len(got) == 54, (run, len(got))
            for key, (text, _, score, verdict, _, _, _, _) in expected.items():
                g_text, g_reasoning, g_score, g_verdict, g_error, g_tries, ttft, latency = got[key]
                assert g_error == "", (run, key, g_error)
                # Ours re-sends a request that met a connection the server had just closed;
                # libcurl does not in every such race (a reset while sending), and then the
                # runner's retry takes it: never an error, at most one extra try.
                assert g_tries == 1 if transport == "native" else g_tries <= 2, (run, key, g_tries)
                assert g_text == text, (run, key, g_text[:60], text[:60])
                assert (g_reasoning != "") == (key[1] != "non-think"), (run, key, g_reasoning)
                assert (g_score, g_verdict) == (score, verdict), (run, key, g_score, score)
                assert (0 < ttft <= latency) if stream == "true" else ttft < 0, (run, key, ttft, latency)
stats = json.load(open(stats_file))
assert stats["refused"] == 0, stats
assert stats["streamed"] >= 4 * 54 and stats["plain"] >= 4 * 54, stats
# The server closed idle connections under the client again and again (8 runs of 3 in flight
# would need only 24 connections otherwise).
assert stats["idle_closed"] > 50 and stats["connections"] > 24 + 50, stats
print("node server:", stats)
PY
