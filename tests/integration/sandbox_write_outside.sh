#!/usr/bin/env bash
# Writing outside the scratch directory (/, /usr, /etc, /tmp/.., /work, the program itself,
# device nodes) fails; the scratch directory works. No marker file appears on the host.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
marker=v4eval-pwned-$$
t=$(tests_file t.json "$marker" "contained")
for tier in $TIERS; do
  hostile $tier "write outside scratch" "$HOSTILE/write_outside.cpp" "$t" AC
  for d in / /usr /usr/bin /etc /dev /tmp /work /root /var/tmp /home "$WORK" "$V4EVAL_SOURCE_DIR"; do
    [[ ! -e $d/$marker && ! -e $d/$marker.d ]] || fail "$d/$marker was created on the host"
  done
done
echo ok
