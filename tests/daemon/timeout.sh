#!/bin/sh
# cloudsphered end to end (TAP): a provider that forks a grandchild and hangs
# is killed at its timeout, grandchild included, with cause "timed out
# after ..."; a failing provider's exit status becomes the cause and the
# deployment is retried with backoff.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
sed -i 's/timeouts: { plan: 30s, apply: 30s, destroy: 30s }/timeouts: { plan: 30s, apply: 2s, destroy: 30s }/' \
    "$work/blueprints/probe/blueprint.yaml"
d_deployment hang "inputs: { hang: true }"
d_deployment bad "inputs: { fail: true }"
d_commit "a hanging and a failing deployment"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

d_check_phase hang failed 30
run=$(d_runs hang | awk 'NR == 1 { print $1 }')
check "the run timed out" test "$(d_runs hang | awk 'NR == 1 { print $3 }')" = timed-out
cause=$(d_ctl --json runs hang | python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['cause'])")
check "cause: timed out after 2s ($cause)" test "$cause" = "timed out after 2s"
gpid=$(cat "$state/deployments/infra/hang/grandchild.pid" 2>/dev/null)
gone() { ! kill -0 "$gpid" 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' "/proc/$gpid/stat"; }
check "the grandchild ($gpid) was killed too" d_wait_cond 5 gone

d_check_phase bad failed
# The first run's cause (the deployment itself may be retrying already).
bad_cause() {
	d_ctl --json runs bad | python3 -c "import json,sys
r = json.load(sys.stdin)[-1]
sys.exit(0 if r['state'] == 'failed' and r['cause'] == 'exited 3' else 1)"
}
check "the failing run's cause is its exit status" bad_cause
retried() { test "$(d_runs bad | wc -l)" -ge 2; }
check "the failed deployment is retried with backoff" d_wait_cond 15 retried
logged() { d_ctl log "$run" | grep -q 'to stderr'; }
check "the run's log holds stdout and stderr" logged

d_stop
tap_done
