#!/bin/sh
# cloudsphered end to end (TAP): kill -9 of the daemon during a run, then a
# restart: the run is recorded interrupted, the deployment is reconciled
# again, and no run record is lost or duplicated.  SIGTERM during a run
# stops cleanly within the grace period.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment slow "inputs: { sleep: 30 }"
d_commit "a slow deployment"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
started() { grep -q "start slow apply" "$events"; }
check "the slow run started" d_wait_cond 20 started
d_stop KILL
pkill -KILL -f "$tmp/state/runs/" 2>/dev/null

# Restart with a quicker input so that the second run ends.
d_deployment slow "inputs: { sleep: 0 }"
d_commit "slow: quick now"
d_start || { not_ok "daemon restarts"; tap_done; }
ok "daemon restarts"
d_check_phase slow ready 30
runs=$(d_runs slow)
diag "$runs"
check "the killed run is recorded interrupted" \
    test "$(echo "$runs" | awk 'NR == 1 { print $3 }')" = interrupted
check "a later run applied the deployment" \
    test "$(echo "$runs" | tail -1 | awk '{ print $3 }')" = succeeded
check "no run record is duplicated" \
    test "$(echo "$runs" | awk '{ print $1 }' | sort | uniq -d | wc -l)" -eq 0
ids_grow() { echo "$runs" | awk '{ print $1 }' | sort -n -c; }
check "run ids only grow" ids_grow

# SIGTERM during a run: the provider is cancelled after the grace period
# (5 s here), the run recorded interrupted, and the daemon exits 0.
d_deployment slow "inputs: { sleep: 60, value: long }"
d_commit "slow: long again"
long_started() { test "$(grep -c 'start slow apply' "$events")" -ge 3; }
check "the long run started" d_wait_cond 20 long_started
t0=$(date +%s)
d_stop TERM
t1=$(date +%s)
check "SIGTERM stops within the grace period ($((t1 - t0)) s)" test $((t1 - t0)) -le 12
check "exit status 0 after SIGTERM" test "$d_status" -eq 0
d_start || { not_ok "daemon starts again"; tap_done; }
first_id=$(echo "$runs" | awk 'NR == 1 { print $1 }')
sigterm_interrupted() {
	d_ctl --json runs slow | python3 -c "import json,sys
sys.exit(0 if any(r['state'] == 'interrupted' and r['id'] != $first_id
    for r in json.load(sys.stdin)) else 1)"
}
check "the run stopped by SIGTERM is recorded interrupted" sigterm_interrupted
d_stop
tap_done
