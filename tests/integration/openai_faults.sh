#!/usr/bin/env bash
# `deepseek:` / `openai:` backends through a fault-injecting loopback server
# (tests/tools/fake_openai_server.py): every MRCR attempt, in all three modes, streaming and not,
# must end with the answer the server finally gives and exactly the score that answer earns,
# with no infrastructure fault stored as a model failure; the API key must appear nowhere.
source "$(dirname "$0")/lib.bash"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
command -v python3 >/dev/null || { echo "skip: python3 missing"; exit 77; }

DATA=$V4EVAL_SOURCE_DIR/data/mrcr/sample.jsonl
REPLAY=$V4EVAL_SOURCE_DIR/data/mrcr/sample.replay.jsonl
SERVER=$V4EVAL_SOURCE_DIR/tests/tools/fake_openai_server.py
export V4EVAL_TEST_KEY="sk-v4eval-test-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

python3 "$SERVER" --data "$DATA" --replay "$REPLAY" --api-key-env V4EVAL_TEST_KEY \
  --port-file port --expect-out expected.jsonl --summary-out summary.json --stall-seconds 3 \
  --max-seconds 240 2>server.log &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null && wait $SERVER_PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -f port ]] && break; sleep 0.1; done
[[ -f port ]] || fail "fake server did not start: $(cat server.log)"
PORT=$(cat port)
# A port nobody listens on: the first base_url is "down" (connection refused) for the whole test.
DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stats() { python3 -c "import json, urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$PORT/stats$1').read().decode())"; }

MODES=non-think,think-high,think-max
# The scores the final answers earn, graded by the same binary through the replay backend.
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend replay:file=expected.jsonl \
  --mode $MODES --db expected.sqlite --run-name expected --quiet

# 1. deepseek: streaming (the default), two base URLs of which one is down, a 1.5 s timeout.
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "deepseek:base_url=http://127.0.0.1:$DEAD/v1|http://127.0.0.1:$PORT/v1,api_key_env=V4EVAL_TEST_KEY,timeout_s=1.5" \
  --mode $MODES --db run.sqlite --run-name stream --retries 4 --retry-base-ms 20 --concurrency 8 \
  --progress lines
cp "$WORK/stderr" stream.stderr
stats "?reset" > stats_stream.json

# 2. openai: (chat-template switches), not streaming, one base URL.
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "openai:base_url=http://127.0.0.1:$PORT/v1,model=deepseek-v4-flash,api_key_env=V4EVAL_TEST_KEY,stream=false,timeout_s=1.5" \
  --mode $MODES --db run.sqlite --run-name plain --retries 4 --retry-base-ms 20 --concurrency 8 \
  --progress lines
cp "$WORK/stderr" plain.stderr
stats "?reset" > stats_plain.json

expect_exit 0 "$V4EVAL_BIN" report --db run.sqlite --json report.json --samples
cp "$WORK/stdout" report.stdout

python3 - expected.sqlite run.sqlite expected.jsonl stats_stream.json stats_plain.json <<'PY'
import json, sqlite3, sys
exp_db, run_db, exp_file, s_stream, s_plain = sys.argv[1:]
def rows(db, run):
    c = sqlite3.connect(db)
    q = """SELECT a.sample_id, a.mode, a.text, a.reasoning, a.finish_reason, a.effective_mode,
                  a.prompt_tokens, a.completion_tokens, a.reasoning_tokens, a.latency_ms, a.ttft_ms,
                  a.score, a.verdict, a.error, a.tries
           FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.name = ?"""
    cols = ["sample_id", "mode", "text", "reasoning", "finish_reason", "effective_mode", "prompt_tokens",
            "completion_tokens", "reasoning_tokens", "latency_ms", "ttft_ms", "score", "verdict", "error", "tries"]
    return {(r[0], r[1]): dict(zip(cols, r)) for r in c.execute(q, (run,))}
expected = rows(exp_db, "expected")
answers = {(r["sample_id"], r["mode"]): r for r in map(json.loads, open(exp_file))}
assert len(expected) == 54, len(expected)
for run, stats_file, streaming in (("stream", s_stream, True), ("plain", s_plain, False)):
    got = rows(run_db, run)
    stats = json.load(open(stats_file))
    assert len(got) == 54, (run, len(got))
    extra_tries = 0
    for key, e in expected.items():
        g = got[key]
        a = answers[key]
        assert g["error"] == "", (run, key, g["error"])
        assert g["text"] == a["text"], (run, key, g["text"][:80], a["text"][:80])
        assert g["reasoning"] == a["reasoning"], (run, key, g["reasoning"], a["reasoning"])
        assert g["score"] == e["score"] and g["verdict"] == e["verdict"], (run, key, g["score"], e["score"])
        assert g["finish_reason"] == a["finish_reason"], (run, key, g["finish_reason"])
        assert g["effective_mode"] == key[1], (run, key, g["effective_mode"])
        assert g["prompt_tokens"] > 0 and g["completion_tokens"] > 0, (run, key)
        assert (g["reasoning_tokens"] > 0) == (key[1] != "non-think"), (run, key, g["reasoning_tokens"])
        assert g["latency_ms"] > 0, (run, key)
        if streaming:
            assert 0 < g["ttft_ms"] <= g["latency_ms"], (run, key, g["ttft_ms"], g["latency_ms"])
        else:
            assert g["ttft_ms"] < 0, (run, key, g["ttft_ms"])
        extra_tries += g["tries"] - 1
    injected = stats["injected"]
    # Every injected fault cost one retry of the runner: none was taken for an answer, none was
    # stored as the attempt's result. (A reset before any response on a reused keep-alive
    # connection is retried at once by libcurl itself, so those may cost none.)
    total = sum(injected.values())
    assert total - injected.get("reset", 0) <= extra_tries <= total, (run, extra_tries, injected)
    kinds = {"429", "500", "502", "503", "reset", "reset_mid", "truncated", "malformed", "timeout",
             "error_in_200", "empty_choices"} | ({"stream_cut"} if streaming else set())
    assert kinds <= set(injected), (run, sorted(kinds - set(injected)))
    assert stats["retry_after_gaps"] and min(stats["retry_after_gaps"]) >= 0.95, stats["retry_after_gaps"]
    assert stats["styles"] == (["deepseek"] if run == "stream" else ["template"]), stats["styles"]
    print(f"{run}: 54 attempts, {sum(injected.values())} faults injected, {extra_tries} retries, scores exact")
length = [k for k, v in answers.items() if v["finish_reason"] == "length"]
assert length, "the schedule has cut answers"
PY
python3 - report.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for run in r["runs"]:
    for s in run["suites"]:
        assert s["n_errors"] == 0 and s["n_attempts"] == 18, s
PY

# The key is in none of what v4eval wrote or printed.
for f in run.sqlite run.sqlite-wal report.json report.stdout stream.stderr plain.stderr; do
  [[ -f $f ]] || continue
  if grep -qaF -- "$V4EVAL_TEST_KEY" "$f"; then fail "API key leaked into $f"; fi
done
python3 - run.sqlite "$V4EVAL_TEST_KEY" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (table,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
    for row in c.execute(f"SELECT * FROM {table}"):
        assert sys.argv[2] not in repr(row), table
PY

# A wrong key is a final error (stored, exit 3), not retried forever, and still not printed.
V4EVAL_TEST_KEY=sk-wrong-key-0123456789 expect_exit 3 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "deepseek:base_url=http://127.0.0.1:$PORT/v1,api_key_env=V4EVAL_TEST_KEY" --limit 1 \
  --db wrong.sqlite --run-name wrong --retries 4 --retry-base-ms 20 --quiet
expect_stderr "1 attempts ended as errors"
python3 -c "
import sqlite3; c = sqlite3.connect('wrong.sqlite')
err, tries = c.execute('SELECT error, tries FROM attempts').fetchone()
assert 'HTTP 401' in err and tries == 1, (err, tries)
assert 'sk-wrong-key' not in err"
if grep -qaF sk-wrong-key "$WORK/stderr" wrong.sqlite*; then fail "wrong key printed or stored"; fi

# HTTPS: the same server behind TLS with a certificate made here, trusted through ca_file.
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
  python3 "$SERVER" --data "$DATA" --replay "$REPLAY" --api-key-env V4EVAL_TEST_KEY \
    --port-file tls_port --expect-out tls_expected.jsonl --summary-out tls_summary.json \
    --stall-seconds 3 --max-seconds 120 --tls-cert cert.pem --tls-key key.pem 2>tls_server.log &
  TLS_PID=$!
  for _ in $(seq 100); do [[ -f tls_port ]] && break; sleep 0.1; done
  TLS_PORT=$(cat tls_port)
  expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --limit 6 --mode non-think,think-high \
    --backend "deepseek:base_url=https://127.0.0.1:$TLS_PORT/v1,api_key_env=V4EVAL_TEST_KEY,ca_file=$WORK/cert.pem,timeout_s=1.5" \
    --db tls.sqlite --run-name tls --retries 4 --retry-base-ms 20 --quiet
  python3 - expected.sqlite tls.sqlite <<'PY'
import sqlite3, sys
q = "SELECT sample_id, mode, score, error FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.name = ?"
want = {(s, m): sc for s, m, sc, _ in sqlite3.connect(sys.argv[1]).execute(q, ("expected",))}
got = sqlite3.connect(sys.argv[2]).execute(q, ("tls",)).fetchall()
assert len(got) == 12 and all(e == "" and sc == want[(s, m)] for s, m, sc, e in got), got
print("https: 12 attempts through TLS, scores exact")
PY
  # Without the certificate the server is not trusted: a final error, not endless retries.
  expect_exit 3 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --limit 1 \
    --backend "deepseek:base_url=https://127.0.0.1:$TLS_PORT/v1,api_key_env=V4EVAL_TEST_KEY" \
    --db tls-untrusted.sqlite --run-name untrusted --retries 4 --retry-base-ms 20 --quiet
  python3 -c "
import sqlite3; err, tries = sqlite3.connect('tls-untrusted.sqlite').execute('SELECT error, tries FROM attempts').fetchone()
assert 'TLS' in err and tries == 1, (err, tries)"
  kill $TLS_PID 2>/dev/null && wait $TLS_PID 2>/dev/null || true
fi

# Spec errors are caught before anything runs (exit 2).
expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --db x.sqlite \
  --backend "deepseek:base_url=http://127.0.0.1:$PORT/v1,api_key_env=V4EVAL_UNSET_VARIABLE"
expect_stderr "V4EVAL_UNSET_VARIABLE"
expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --db x.sqlite \
  --backend "deepseek:base_url=http://127.0.0.1:$PORT/v1,api_key=sk-inline"
expect_stderr "api_key_env"
expect_exit 2 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --db x.sqlite --mode think-max \
  --backend "deepseek:base_url=http://127.0.0.1:$PORT/v1,api_key_env=V4EVAL_TEST_KEY,context_window=131072"
expect_stderr "cannot serve mode think-max"
echo "ok"
