#!/usr/bin/env bash
# Compile-time attacks end as CE within the compile limits, with a capped log and no host data:
# #include "/dev/zero" (endless input), #include "/etc/shadow" (host secrets), exponential
# template instantiation, and a flood of diagnostics.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
B=$FIX/compile_bombs
t=$(tests_file t.json "" "x")
best=${TIERS%% *}
for tier in $TIERS; do
  # The CPU-bound bombs cost a compile limit each: in the best tier only.
  bombs=(include_dev_zero include_shadow)
  [[ $tier == "$best" ]] && bombs+=(template_bomb error_flood)
  for bomb in "${bombs[@]}"; do
    hostile $tier "compile bomb $bomb" "$B/$bomb.cpp" "$t" CE -- --compile-time-limit-ms 500
    [[ $(jget 'len(j["compile"]["log"]) <= 70000') == True ]] || fail "compile log not capped"
    [[ $(jget 'j["tests"][0]["verdict"]') == SKIPPED ]] || fail "tests must be skipped after CE"
  done
  # The shadow file's content never appears; the compiler could not even see it.
  judge $tier "$B/include_shadow.cpp" "$t"
  jhas 'j["compile"]["log"]' "No such file" || fail "expected ENOENT for /etc/shadow in the log"
  if [[ -r /etc/shadow ]] && grep -qF "$(head -c 12 /etc/shadow)" "$WORK/out.json"; then fail "host data in the log"; fi
done
echo ok
