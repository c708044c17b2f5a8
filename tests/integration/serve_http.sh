#!/usr/bin/env bash
# `v4eval serve --http` in front of a replay backend: the official `openai` npm client gets
# correct chat completions streaming and not (tests/tools/openai_npm_client.mjs), our own
# `openai:` backend round-trips a whole run through it with the same scores, the API key is
# enforced, limits answer 413/429, and SIGTERM lets a request in flight finish.
source "$(dirname "$0")/lib.bash"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

DATA=$V4EVAL_SOURCE_DIR/data/mrcr/sample.jsonl
# A replay file with reasoning in the thinking modes (the sample one has none).
python3 - "$V4EVAL_SOURCE_DIR/data/mrcr/sample.replay.jsonl" replay.jsonl cases.json <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cases = []
with open(sys.argv[2], "w") as f:
    for r in rows:
        if r["mode"] != "non-think":
            r["reasoning"] = f"Looking for the needle of sample {r['sample_id']} ({r['mode']})."
        f.write(json.dumps(r) + "\n")
        if r["sample_id"] in ("0", "7"):
            cases.append({"sample_id": r["sample_id"], "mode": r["mode"], "text": r["text"],
                          "reasoning": r.get("reasoning", "")})
json.dump(cases, open(sys.argv[3], "w"))
PY

export V4EVAL_SERVE_KEY="serve-key-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
start_serve() {  # start_serve READY_FILE ARGS...: starts serve in the background, sets SERVE_PID, HTTP
  local ready=$1; shift
  rm -f "$ready"
  "$V4EVAL_BIN" serve --ready-file "$ready" --exit-after 300 "$@" 2>>serve.log &
  SERVE_PID=$!
  for _ in $(seq 100); do [[ -f $ready ]] && break; sleep 0.1; done
  [[ -f $ready ]] || fail "serve did not start: $(cat serve.log)"
  HTTP=$(json_get "$ready" "j['http']")
}
trap 'kill $SERVE_PID 2>/dev/null && wait $SERVE_PID 2>/dev/null; rm -rf "$WORK"' EXIT

start_serve ready.json --backend replay:file=replay.jsonl,model=v4-replay --http 0 \
  --api-key-env V4EVAL_SERVE_KEY --max-body-mb 4

# 1. The official openai npm client.
if command -v node >/dev/null; then
  rc=0
  node "$V4EVAL_SOURCE_DIR/tests/tools/openai_npm_client.mjs" "http://$HTTP/v1" "$V4EVAL_SERVE_KEY" cases.json \
    >npm.out 2>&1 || rc=$?
  cat npm.out
  if [[ $rc == 3 ]]; then
    NPM_SKIPPED=1
  elif [[ $rc != 0 ]]; then
    fail "openai npm client checks failed"
  fi
else
  NPM_SKIPPED=1
fi

# 2. Our own openai: backend through the server: the same scores as the replay backend in-process.
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" --backend replay:file=replay.jsonl \
  --mode non-think,think-high,think-max --db direct.sqlite --run-name direct --quiet
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "openai:base_url=http://$HTTP/v1,model=v4-replay,api_key_env=V4EVAL_SERVE_KEY,attempt_metadata=true" \
  --mode non-think,think-high,think-max --db via.sqlite --run-name via --quiet
expect_exit 0 "$V4EVAL_BIN" run --suite "mrcr:file=$DATA" \
  --backend "deepseek:base_url=http://$HTTP/v1,model=v4-replay,api_key_env=V4EVAL_SERVE_KEY,attempt_metadata=true,stream=false" \
  --mode non-think,think-high,think-max --db via.sqlite --run-name via-plain --quiet
python3 - direct.sqlite via.sqlite <<'PY'
import sqlite3, sys
q = """SELECT sample_id, mode, text, reasoning, score, effective_mode, error FROM attempts a
       JOIN runs r ON r.id = a.run_id WHERE r.name = ? ORDER BY sample_id, mode"""
direct = sqlite3.connect(sys.argv[1]).execute(q, ("direct",)).fetchall()
assert len(direct) == 54
for run in ("via", "via-plain"):
    via = sqlite3.connect(sys.argv[2]).execute(q, (run,)).fetchall()
    assert via == direct, (run, [(a, b) for a, b in zip(via, direct) if a != b][:2])
print("openai: backend through serve: 2 x 54 attempts identical to the replay backend in-process")
PY

# 3. Protocol edges with a raw client: health without a key, 401, 404, 413, 405.
python3 - "$HTTP" "$V4EVAL_SERVE_KEY" <<'PY'
import json, sys, urllib.request, urllib.error
host, key = sys.argv[1:]
def call(path, body=None, auth=key, method=None):
    req = urllib.request.Request(f"http://{host}{path}", data=body, method=method)
    if auth: req.add_header("Authorization", "Bearer " + auth)
    if body is not None: req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), e.headers
s, j, _ = call("/health", auth=None); assert s == 200 and j["status"] == "ok", (s, j)
s, j, _ = call("/v1/models", auth=None); assert s == 401 and j["error"]["code"] == "invalid_api_key", (s, j)
s, j, _ = call("/v1/models", auth="x" * len(key)); assert s == 401, s
s, j, _ = call("/v1/models"); assert s == 200 and j["data"][0]["id"] == "v4-replay", j
s, j, _ = call("/v1/models/v4-replay"); assert s == 200, s
s, j, _ = call("/v1/nope"); assert s == 404, s
s, j, _ = call("/v1/chat/completions", method="GET"); assert s == 405, s
s, j, _ = call("/v1/chat/completions", b"{not json"); assert s == 400 and "JSON" in j["error"]["message"], j
big = json.dumps({"model": "v4-replay", "messages": [{"role": "user", "content": "x" * (5 << 20)}]}).encode()
s, j, _ = call("/v1/chat/completions", big); assert s == 413, s
print("serve --http: auth, routes and limits ok")
PY

# 4. Busy: with --max-inflight 1, a second request while one runs gets 429 + Retry-After;
#    SIGTERM while a request is in flight lets it finish, then serve exits 0.
kill -TERM $SERVE_PID; wait $SERVE_PID || fail "serve did not exit 0 on SIGTERM"
start_serve ready2.json --backend replay:file=replay.jsonl,model=v4-replay,delay_ms=1500 --http 0 --max-inflight 1
python3 - "$HTTP" $SERVE_PID replay.jsonl <<'PY'
import json, os, signal, sys, threading, time, urllib.request, urllib.error
host, pid = sys.argv[1], int(sys.argv[2])
want = [r["text"] for r in map(json.loads, open(sys.argv[3])) if r["sample_id"] == "4" and r["mode"] == "non-think"][0]
body = json.dumps({"model": "v4-replay", "messages": [{"role": "user", "content": "x"}], "stream": True,
                   "metadata": {"suite": "mrcr", "sample_id": "4"}, "thinking": {"type": "disabled"}}).encode()
result = {}
def slow():
    req = urllib.request.Request(f"http://{host}/v1/chat/completions", data=body)
    with urllib.request.urlopen(req, timeout=30) as r:
        result["body"] = r.read().decode()
t = threading.Thread(target=slow); t.start()
time.sleep(0.4)
try:
    urllib.request.urlopen(urllib.request.Request(f"http://{host}/v1/chat/completions", data=body), timeout=10)
    raise SystemExit("second request was not refused")
except urllib.error.HTTPError as e:
    assert e.code == 429 and e.headers["Retry-After"] == "1", (e.code, dict(e.headers))
os.kill(pid, signal.SIGTERM)   # graceful: the request in flight completes
t.join()
events = [l[6:] for l in result["body"].split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]", events[-3:]
text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1] if json.loads(e)["choices"])
assert text == want, (text[:40], want[:40])
print("serve --http: 429 when busy; SIGTERM finished the request in flight")
PY
wait $SERVE_PID || fail "serve did not exit 0 after a graceful stop"
grep -q "stopped" serve.log || fail "serve did not report a clean stop"
if grep -qaF -- "$V4EVAL_SERVE_KEY" serve.log; then fail "serve printed its API key"; fi
[[ ${NPM_SKIPPED:-0} == 1 ]] && { echo "skip: openai npm package not installed (the rest passed)"; exit 77; }
echo "ok"
