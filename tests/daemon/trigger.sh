#!/bin/sh
# cloudsphered end to end (TAP): a push to a watched local bare repository
# starts a run within 1 s (x d_slow) with polling off (inotify); a repository the
# daemon cannot watch (served over HTTP by git http-backend) is picked up
# by polling; cloudspherectl sync fetches at once.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment first "inputs: { value: one }"
d_commit "first"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase first ready

# inotify: time from the ref's landing in the bare repository (its
# mtime: git push's own processes are not the daemon's latency) to the
# provider's start.  1 s, times d_slow on a loaded machine.
d_deployment first "inputs: { value: two }"
git -C "$work" add -A
git -C "$work" commit -q -m "first: two"
git -C "$work" push -q origin main
t0=$(stat -c %.9Y "$remote/refs/heads/main")
second() { test "$(grep -c 'start first apply' "$events")" -ge 2; }
d_wait_cond 5 second
t1=$(awk '$1 == "start" && $2 == "first" { t = $4 } END { print t }' "$events")
lat=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
check "a push starts a run within $d_slow x 1 s without polling (${lat} s)" \
    awk -v l="$lat" -v max="$d_slow" 'BEGIN { exit !(l > 0 && l < max) }'
d_stop

# Polling a repository served over HTTP.
port=$(d_free_port)
python3 "$srcdir/tests/daemon/git-http.py" "$tmp" "$port" >"$tmp/http.log" 2>&1 &
http_pid=$!
d_kill_at_exit "$http_pid"
d_wait_cond 30 d_listening "$port" || not_ok "git-http.py listens"
sed -i "s|url: .*|url: http://127.0.0.1:$port/remote.git|; s|poll_interval: .*|poll_interval: 1s|" \
    "$tmp/cloudsphered.yaml"
d_start || { not_ok "daemon starts with an HTTP remote"; tap_done; }
d_deployment polled "inputs: { value: p }"
d_commit "polled"
d_check_phase polled ready 20
check "polling picked up the commit over HTTP" grep -q "start polled apply" "$events"

# sync: with polling off, cloudspherectl sync fetches now.
d_stop
sed -i "s|poll_interval: .*|poll_interval: 0s|" "$tmp/cloudsphered.yaml"
d_start
d_deployment synced "inputs: { value: s }"
d_commit "synced"
sleep 1
check "without polling nor inotify, nothing happens" \
    sh -c "! grep -q 'start synced' '$events'"
check "cloudspherectl sync answers" d_ctl sync infra
d_check_phase synced ready 20
d_stop
kill "$http_pid" 2>/dev/null
tap_done
