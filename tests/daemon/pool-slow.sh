#!/bin/sh
# cloudsphered's worker pool with fetches that do not end (TAP): two
# repositories whose HTTP remote accepts the connection and never answers
# hold both of the pool's threads; the other repositories still load and
# notice their pushes (the pool adds a thread while every one is held),
# and the event loop still answers; once the remote goes away the daemon
# stops cleanly.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_commit "first"
port=$(d_free_port)
# Accepts, reads, never answers; the connections stay open until it dies.
python3 -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$port" >"$tmp/silent.log" 2>&1 &
silent_pid=$!
d_kill_at_exit "$silent_pid"
d_wait_cond 30 d_listening "$port" || not_ok "the silent server listens"
mkdir -p "$tmp/repos"
{
	sed '/^repositories:/,$d' "$tmp/cloudsphered.yaml"
	echo "repositories:"
	for r in hang1 hang2; do
		printf '  - name: %s\n    url: http://127.0.0.1:%s/%s.git\n    branch: main\n    poll_interval: 0s\n' \
		    "$r" "$port" "$r"
	done
	for r in a b c; do
		git clone -q --bare "$remote" "$tmp/repos/$r.git"
		printf '  - name: %s\n    url: %s\n    branch: main\n    poll_interval: 0s\n' \
		    "$r" "$tmp/repos/$r.git"
	done
} >"$tmp/slow.yaml"
mv "$tmp/slow.yaml" "$tmp/cloudsphered.yaml"

loaded() {
	for r in a b c; do
		grep -q "$r: commit .* (startup)" "$tmp/daemon.log" || return 1
	done
}

d_start || { not_ok "daemon starts"; kill "$silent_pid"; tap_done; }
ok "daemon starts"
check "the two silent remotes are being fetched" \
    d_wait_cond 10 sh -c "[ \$(ss -tn state established '( dport = :$port )' | tail -n +2 | wc -l) -ge 2 ]"
check "the other repositories load meanwhile" d_wait_cond 60 loaded
check "the event loop answers" d_ctl status
threads=$(ls "/proc/$d_pid/task" | wc -l)
check "the pool grew by a thread or more for them ($threads)" test "$threads" -ge 4

git -C "$work" commit -q --allow-empty -m "second"
head=$(git -C "$work" rev-parse --short=12 HEAD)
git -C "$work" push -q "$tmp/repos/b.git" main
check "a push to another repository is noticed" \
    d_wait_cond 30 grep -q "b: commit $head (inotify)" "$tmp/daemon.log"
check "the silent ones have loaded nothing" \
    sh -c "! grep -q 'hang[12]: commit' '$tmp/daemon.log'"

# The remote goes: its fetches fail, and the stop joins every worker.
kill "$silent_pid"
wait "$silent_pid" 2>/dev/null
check "the failed fetches are logged" \
    d_wait_cond 30 sh -c "grep -q 'hang1: fetch failed' '$tmp/daemon.log' &&
    grep -q 'hang2: fetch failed' '$tmp/daemon.log'"
d_stop
check "SIGTERM stops it cleanly ($d_status)" test "$d_status" -eq 0
tap_done
