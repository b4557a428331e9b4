#!/bin/sh
# cloudsphered and systemd's notify protocol (TAP), as systemd would see it:
# a datagram socket of ours is the daemon's $NOTIFY_SOCKET (systemd's side
# is a socket like it; sd_notify(3) is what the daemon calls), with
# $WATCHDOG_USEC set.  The daemon says READY=1 once started, a STATUS= line
# with its counts, WATCHDOG=1 at half the watchdog interval, RELOADING=1
# then READY=1 around a SIGHUP (also one that is refused), and STOPPING=1
# on SIGTERM.  Skipped, saying so, in a build without libsystemd.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! grep -q '^#define HAVE_SYSTEMD 1' "${top_builddir:-.}/config.h" 2>/dev/null; then
	skip "built without libsystemd: no sd_notify"
	tap_done
fi
d_setup 0
d_deployment web "inputs: { value: v1 }"
d_commit "one deployment"
sock=$tmp/notify.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    m = s.recv(4096).decode()
    out.write(m.replace("\n", " ") + "\n")
' "$sock" "$tmp/notify.log" &
listener=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
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
tap_done
