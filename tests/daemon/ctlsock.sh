#!/bin/sh
# cloudsphered's control socket (TAP): a client that sees its path can
# connect at once.  The daemon used to bind(2) the path and listen(2)
# after, and a connect in between was refused (38 of 300 starts under
# load, seen by a test helper that connected as soon as the path was
# there).  Now it listens under a temporary name and renames it into
# place.  To make the window wide on any machine, strace delays each of
# the daemon's listen(2) calls by 300 ms, and a client polling for the
# path every 0.2 ms connects the moment it appears.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! command -v strace >/dev/null 2>&1; then
	echo "1..0 # SKIP strace not found"
	exit 0
fi
d_setup 0
d_deployment web "inputs: { value: v1 }"
d_commit "one deployment"
n=3
refused=0
i=0
while [ "$i" -lt "$n" ]; do
	rm -f "$tmp/ctl.sock" "$tmp/race"
	python3 - "$tmp/ctl.sock" "$tmp/race" <<'PY' &
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
end = time.monotonic() + 60
while not os.path.exists(path):
    if time.monotonic() > end:
        open(out, "w").write("timeout\n")
        sys.exit(0)
    time.sleep(0.0002)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(path)
    open(out, "w").write("connected\n")
except OSError as e:
    open(out, "w").write("refused %s\n" % e)
PY
	racer=$!
	strace -f -o /dev/null -e trace=listen \
	    -e inject=listen:delay_enter=300000 \
	    "$daemon_bin" -d -c "$tmp/cloudsphered.yaml" >>"$tmp/daemon.log" 2>&1 &
	tracer=$!
	wait "$racer"
	cat "$tmp/race" >>"$tmp/races"
	grep -q '^connected' "$tmp/race" || refused=$((refused + 1))
	d_pid=$tracer
	d_wait_cond 20 d_started
	pkill -TERM -P "$tracer" 2>/dev/null
	wait "$tracer" 2>/dev/null
	d_pid=
	i=$((i + 1))
done
sed 's/^/# /' "$tmp/races"
check "a client connecting as soon as the path appears is never refused ($refused of $n)" \
    test "$refused" = 0
check "no temporary socket name is left behind" test ! -e "$tmp/ctl.sock.new"
d_start || not_ok "daemon starts"
check "the socket answers" d_ctl status
check "it is not readable by others" \
    test "$(stat -c %a "$tmp/ctl.sock")" = 660
d_stop
tap_done
