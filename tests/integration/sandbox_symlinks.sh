#!/usr/bin/env bash
# Symlink tricks in the scratch directory: links to /etc/shadow, /etc/passwd, /proc/self/root,
# "/" and a FIFO under the names the judge uses (output.txt, answer.txt, main, tout.txt), a
# hard link to a system binary. The judge reads nothing through them; the host is untouched.
# An interactor that leaves tout.txt as a link to a host file gets IE (never read).
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
shadow_before=$(stat -c '%i %s %Y %U' /etc/shadow /etc/passwd 2>/dev/null)
t=$(tests_file t.json "" "planted 1")
for tier in $TIERS; do
  hostile $tier "symlinks in scratch" "$HOSTILE/symlinks.cpp" "$t" AC
  hostile $tier "symlinks, with a checker" "$HOSTILE/symlinks.cpp" "$t" AC -- --checker "$FIX/checkers/exact_lines.cpp"
done
[[ $(stat -c '%i %s %Y %U' /etc/shadow /etc/passwd 2>/dev/null) == "$shadow_before" ]] || fail "host files changed"
t=$(tests_file t2.json "" "")
printf '#include <cstdio>\nint main() { std::printf("1\\n"); std::fflush(stdout); return 0; }\n' > "$WORK/one.cpp"
for tier in $TIERS; do
  judge $tier "$WORK/one.cpp" "$t" --interactor "$FIX/interactors/tout_symlink.cpp" --checker "$FIX/checkers/exact_lines.cpp"
  expect_verdict "tout.txt planted as a link" IE
  jhas 'j["detail"]' "tout.txt" || fail "IE should name tout.txt"
  if [[ -r /etc/shadow ]] && grep -qF "$(head -c 12 /etc/shadow)" "$WORK/out.json"; then fail "host data read"; fi
  check_clean
done
echo ok
