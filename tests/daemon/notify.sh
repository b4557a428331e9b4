#!/bin/sh
# cloudsphered and systemd's notify protocol (TAP), as systemd would see it:
# a datagram socket of ours is the daemon's $NOTIFY_SOCKET (systemd's side
# is a socket like it; sd_notify(3) is what the daemon calls), with
# $WATCHDOG_USEC set.  The daemon says READY=1 once started, a STATUS= line
# with its counts, WATCHDOG=1 at half the watchdog interval, RELOADING=1
# then READY=1 around a SIGHUP (also one that is refused), and STOPPING=1
# on SIGTERM.  Then the same daemon on an abstract socket ("@name"), with
# $WATCHDOG_PID naming another process: READY=1 still, no WATCHDOG=1; and a
# malformed $WATCHDOG_USEC is logged, not fatal.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment web "inputs: { value: v1 }"
d_commit "one deployment"
sock=$tmp/notify.sock
# listen ADDRESS LOG: systemd's side, a datagram socket at ADDRESS (a path,
# or "@name" in the abstract namespace); LOG.ready once bound.
listen() {
	rm -f "$2.ready"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = sys.argv[1]
s.bind("\0" + a[1:] if a.startswith("@") else a)
out = open(sys.argv[2], "a", buffering=1)
open(sys.argv[2] + ".ready", "w").close()
while True:
    m = s.recv(4096).decode()
    out.write(m.replace("\n", " ") + "\n")
' "$1" "$2" &
	listener=$!
	i=0
	while [ ! -e "$2.ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
listen "$sock" "$tmp/notify.log"
said() { grep -q "$1" "$tmp/notify.log"; }
count() { grep -c "$1" "$tmp/notify.log"; }

NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000
export NOTIFY_SOCKET WATCHDOG_USEC
d_start || { not_ok "daemon starts"; kill "$listener"; tap_done; }
unset NOTIFY_SOCKET WATCHDOG_USEC
ok "daemon starts"
d_check_phase web ready
check "READY=1 once started" d_wait_cond 10 said '^READY=1'
check "a STATUS= line with the counts" \
    d_wait_cond 10 said '^STATUS=1 repositories, [0-9]* runs running, [0-9]* queued'
sleep 1
check "WATCHDOG=1 at half the interval (at least 3 in a second)" \
    test "$(count '^WATCHDOG=1')" -ge 3

# A reload: RELOADING=1, then READY=1 again, also when it is refused.
ready=$(count '^READY=1')
kill -HUP "$d_pid"
reloaded() { [ "$(count '^READY=1')" -gt "$ready" ]; }
check "SIGHUP: RELOADING=1" d_wait_cond 10 said '^RELOADING=1'
check "... then READY=1" d_wait_cond 10 reloaded
ready=$(count '^READY=1')
cp "$tmp/cloudsphered.yaml" "$tmp/good.yaml"
echo "no_such_key: 1" >>"$tmp/cloudsphered.yaml"
kill -HUP "$d_pid"
check "a refused reload says READY=1 too" d_wait_cond 10 reloaded
check "... and it was refused" grep -q "not reloaded" "$tmp/daemon.log"
mv "$tmp/good.yaml" "$tmp/cloudsphered.yaml"

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
check "STOPPING=1 on SIGTERM" said '^STOPPING=1'
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

# An abstract address; the watchdog set for another process (WATCHDOG_PID
# inherited from a parent): no keep-alives from this one.
abstract="@cloudsphere-notify-test-$$"
: >"$tmp/notify.log"
listen "$abstract" "$tmp/notify.log"
NOTIFY_SOCKET=$abstract WATCHDOG_USEC=200000 WATCHDOG_PID=1
export NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
d_start || not_ok "daemon starts on an abstract socket"
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
check "abstract socket: READY=1" d_wait_cond 10 said '^READY=1'
sleep 1
check "WATCHDOG_PID of another process: no WATCHDOG=1" \
    test "$(count '^WATCHDOG=1')" -eq 0
d_stop
check "abstract socket: STOPPING=1" said '^STOPPING=1'

# A malformed WATCHDOG_USEC: said in the log, the daemon runs on.
NOTIFY_SOCKET=$abstract WATCHDOG_USEC=soon
export NOTIFY_SOCKET WATCHDOG_USEC
d_start || not_ok "daemon starts with WATCHDOG_USEC=soon"
unset NOTIFY_SOCKET WATCHDOG_USEC
check "a malformed WATCHDOG_USEC is logged" \
    d_wait_cond 10 grep -q "WATCHDOG_USEC or WATCHDOG_PID malformed" \
    "$tmp/daemon.log"
d_stop
check "... and the daemon ran and stopped cleanly" test "$d_status" -eq 0
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null
tap_done
