#!/usr/bin/env bash
# Tier detection and policy: --json reports the tier in force; the weak tier runs only when
# chosen explicitly (and still contains the hostile programs it can: Landlock, seccomp,
# rlimits); with no isolation available the judge refuses (exit 4) and says how to opt in; an
# unprivileged user gets the userns tier automatically.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
S=$FIX/solutions
python3 -c 'import json,sys; json.dump([{"input": "20 22", "output": "42"}], open(sys.argv[1], "w"))' "$WORK/sum.json"
best=${TIERS%% *}
judge auto "$S/sum.cpp" "$WORK/sum.json"
expect_verdict "auto tier" AC
[[ $(jget 'j["sandbox"]["tier"]') == "$best" ]] || fail "auto should pick $best"
if [[ $best == full ]]; then
  [[ $(jget 'j["sandbox"]["cgroup"]') != none ]] || fail "full tier without cgroups"
  [[ $(jget 'j["sandbox"]["memory_limit"]') == cgroup ]] || fail "full tier memory by cgroup"
fi
[[ $(jget 'j["sandbox"]["seccomp"]') == True ]] || fail "seccomp is on"

# Refusal: no acceptable tier, and no opt-in.
V4EVAL_SANDBOX_DENY=full,userns expect_exit 4 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/sum.json" --json
expect_stderr "no isolation tier available"
expect_stderr "--sandbox weak"
[[ ! -s $WORK/stdout ]] || fail "a refused judge prints no result"
V4EVAL_SANDBOX_DENY=full expect_exit 4 "$V4EVAL_BIN" judge --lang cpp --source "$S/sum.cpp" --tests "$WORK/sum.json" --sandbox full
expect_stderr "full: disabled"
check_clean

# The weak tier, explicitly: runs, says so, and still contains what it can.
judge weak "$S/sum.cpp" "$WORK/sum.json"
expect_verdict "weak tier" AC
[[ $(jget 'j["sandbox"]["tier"]') == weak ]] || fail "weak tier reported"
[[ $(jget 'j["sandbox"]["namespaces"]["pid"]') == False ]] || fail "weak tier has no namespaces"
check_clean
if [[ $(jget 'j["sandbox"]["landlock"]') == True ]]; then
  t=$(tests_file t.json "v4eval-pwned-weak-$$" "contained")
  hostile weak "write outside scratch (weak)" "$HOSTILE/write_outside.cpp" "$t" AC
  [[ ! -e /var/tmp/v4eval-pwned-weak-$$ && ! -e /tmp/v4eval-pwned-weak-$$ ]] || fail "weak tier wrote outside"
  t=$(tests_file t2.json "45678" "contained")
  hostile weak "network (weak)" "$HOSTILE/network.cpp" "$t" AC
fi
t=$(tests_file t3.json "" "x")
hostile weak "fork bomb (weak)" "$HOSTILE/fork_bomb.cpp" "$(tests_file t5.json "$MARK" x)" TLE RE -- --time-limit-ms 500
hostile weak "memory bomb (weak)" "$HOSTILE/memory_bomb.cpp" "$t" MLE -- --memory-limit-mb 128
hostile weak "daemon (weak)" "$HOSTILE/daemon.cpp" "$(tests_file t4.json "$MARK" done)" AC

# An unprivileged user: auto gives the userns tier.
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null && [[ " $TIERS " == *" userns "* ]] &&
   setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$V4EVAL_BIN"; then
  nobody_dir=$WORK/nobody
  mkdir -p "$nobody_dir/rt" "$nobody_dir/cache"
  cp "$S/sum.cpp" "$WORK/sum.json" "$HOSTILE/fork_bomb.py" "$nobody_dir/"
  chown -R 65534:65534 "$nobody_dir"
  run_nobody() {
    setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME="$nobody_dir" \
      V4EVAL_SANDBOX_DIR="$nobody_dir/rt" V4EVAL_CACHE_DIR="$nobody_dir/cache" "$V4EVAL_BIN" judge "$@" --json
  }
  expect_exit 0 run_nobody --lang cpp --source "$nobody_dir/sum.cpp" --tests "$nobody_dir/sum.json"
  cp "$WORK/stdout" "$WORK/out.json"
  expect_verdict "unprivileged" AC
  [[ $(jget 'j["sandbox"]["tier"]') == userns ]] || fail "unprivileged auto tier should be userns"
  python3 -c 'import json,sys; json.dump([{"input": "", "output": "x"}], open(sys.argv[1], "w"))' "$nobody_dir/e.json"
  expect_exit 0 run_nobody --lang python --source "$nobody_dir/fork_bomb.py" --tests "$nobody_dir/e.json" --time-limit-ms 500
  cp "$WORK/stdout" "$WORK/out.json"
  expect_verdict "unprivileged fork bomb" TLE
  [[ -z $(ls -A "$nobody_dir/rt") ]] || fail "unprivileged run left files"
else
  echo "note: unprivileged check skipped (needs root, setpriv, userns, and a binary others can run)"
fi
echo ok
