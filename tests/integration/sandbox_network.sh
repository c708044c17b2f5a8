#!/usr/bin/env bash
# Network: TCP to a listener of this test on 127.0.0.1, ::1, a public address, UDP, raw,
# netlink, packet and vsock sockets all fail; the listener never sees a connection.
source "$(dirname "$0")/lib.bash"
source "$V4EVAL_SOURCE_DIR/tests/fixtures/sandbox/lib.bash"
python3 - "$WORK/port" "$WORK/connections" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(0.2)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
deadline = time.time() + 120
while time.time() < deadline:
    try:
        c, a = s.accept()
        open(sys.argv[2], "a").write("connection from %s\n" % (a,))
    except socket.timeout:
        pass
PY
listener=$!
trap 'kill $listener 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
t=$(tests_file t.json "$(cat "$WORK/port")" "contained")
for tier in $TIERS; do
  hostile $tier "network" "$HOSTILE/network.cpp" "$t" AC
done
[[ ! -e $WORK/connections ]] || fail "the sandbox reached the host: $(cat "$WORK/connections")"
echo ok
