#!/usr/bin/env bash
# The sandbox survives its own processes being killed: a slot worker killed mid-run is replaced
# and the request retried (right verdict, internal_retries reported); the launcher killed
# mid-run gives IE promptly (never a hang), and the next start collects what it left (cgroups,
# files); the harness killed mid-run makes the launcher clean up by itself.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
tier=${TIERS%% *}
printf 'import time\ntime.sleep(1.5)\nprint(42)\n' > "$WORK/slow.py"
t=$(tests_file t.json "" "42")
find_proc() {  # COMM-PREFIX: the pid of our launcher's process with that name
  python3 - "$V4EVAL_SANDBOX_DIR" "$1" <<'PY'
import os, sys
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        comm = open("/proc/%s/comm" % pid).read().strip()
    except OSError:
        continue
    if sys.argv[1].encode() in cmd and comm.startswith(sys.argv[2]):
        print(pid)
        break
PY
}
wait_for() {  # COMM-PREFIX
  local p=""
  for _ in $(seq 200); do p=$(find_proc "$1"); [[ -n $p ]] && break; sleep 0.05; done
  [[ -n $p ]] || fail "no $1 process appeared"
  echo "$p"
}

# 1. A worker dies mid-run: replaced, retried, right verdict.
"$V4EVAL_BIN" judge --lang python --source "$WORK/slow.py" --tests "$t" --sandbox $tier --json > "$WORK/out.json" 2>"$WORK/stderr" &
judge_pid=$!
w=$(wait_for v4eval-slot)
sleep 0.5
kill -9 "$w"
wait $judge_pid || fail "judge failed after a worker was killed"
record_launcher
expect_verdict "after a worker was killed" AC
[[ $(jget 'j["internal_retries"]') -ge 1 ]] || fail "the retry is reported"
check_clean

# 2. The launcher dies mid-run: IE, promptly.
"$V4EVAL_BIN" judge --lang python --source "$WORK/slow.py" --tests "$t" --sandbox $tier --json > "$WORK/out.json" 2>"$WORK/stderr" &
judge_pid=$!
l=$(wait_for v4eval-sandbox)
wait_for v4eval-slot >/dev/null
sleep 0.3
kill -9 "$l"
echo "$l" >> "$WORK/launchers"
wait $judge_pid || true
expect_verdict "after the launcher was killed" IE
# It left its runtime directory (and, in the full tier, its cgroups) behind; the next start
# collects them.
[[ -n $(ls -A "$V4EVAL_SANDBOX_DIR") ]] || fail "expected leftovers of a killed launcher"
next_run_ok $tier

# 3. The harness dies mid-run: the launcher notices and removes everything.
"$V4EVAL_BIN" judge --lang python --source "$WORK/slow.py" --tests "$t" --sandbox $tier --json > /dev/null 2>&1 &
judge_pid=$!
wait_for v4eval-sandbox >> "$WORK/launchers"
wait_for v4eval-slot >/dev/null
kill -9 $judge_pid
wait $judge_pid 2>/dev/null || true
for _ in $(seq 100); do [[ -z $(find_proc v4eval-) && -z $(ls -A "$V4EVAL_SANDBOX_DIR") ]] && break; sleep 0.05; done
check_clean
next_run_ok $tier
echo ok
