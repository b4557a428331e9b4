#!/bin/sh
# cloudsphered's interfaces (TAP): the HTTP API on the control socket and on
# TCP with the bearer token, the JSON field names of DESIGN.md section 7,
# following a log live, and cloudspherectl's commands with their exit
# codes: status, deployments, show, history, runs, log -f, sync, apply,
# destroy, suspend, resume, cancel; more than prune_limit removals at once
# wait for approval.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'tok-%s\n' "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" >"$tmp/api.token"
chmod 600 "$tmp/api.token"
token=$(cat "$tmp/api.token")
sed -i "1i listen: 127.0.0.1:$port\napi_token_file: $tmp/api.token" "$tmp/cloudsphered.yaml"
sed -i 's/prune_limit: 5/prune_limit: 2/' "$tmp/cloudsphered.yaml"
for n in one two three four; do d_deployment $n "inputs: { value: $n }"; done
d_deployment slow "inputs: { sleep: 4, value: s }"
d_commit "five deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

# TCP: the bearer token is needed for the API, not for /healthz.
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "/healthz answers 200 without a token" \
    test "$(code "http://127.0.0.1:$port/healthz")" = 200
check "the API on TCP answers 401 without a token" \
    test "$(code "http://127.0.0.1:$port/api/v1/deployments")" = 401
check "the API on TCP answers 401 with a wrong token" \
    test "$(code -H "Authorization: Bearer x$token" "http://127.0.0.1:$port/api/v1/deployments")" = 401
check "the API on TCP answers 200 with the token" \
    test "$(code -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/deployments")" = 200
check "/metrics needs the token on TCP" \
    test "$(code "http://127.0.0.1:$port/metrics")" = 401

# Follow the slow run's log while it runs.
d_wait_cond 20 d_is_phase slow applying
run=$(d_runs slow | awk 'NR == 1 { print $1 }')
d_ctl log "$run" -f >"$tmp/follow" 2>&1; st=$?
check "log -f follows the run to its end (exit $st)" test $st -eq 0
check "the followed log has the provider's output" grep -q "probe slow apply" "$tmp/follow"
check "the followed log ends with the result" grep -q "succeeded: exited 0" "$tmp/follow"
for n in one two three four slow; do d_wait_phase $n ready; done

# JSON fields of DESIGN.md section 7.
fields_ok() {
	d_ctl --json show one | python3 -c "import json,sys
d = json.load(sys.stdin)
need = {'name', 'repository', 'phase', 'blueprint', 'environment', 'suspended', 'desired', 'applied', 'last_run', 'outputs'}
assert need <= set(d), set(d)
assert set(d['desired']) == {'commit', 'fingerprint'}
assert set(d['applied']) == {'commit', 'fingerprint', 'at'}
assert {'id', 'action', 'result', 'exit_code', 'cause', 'started_at', 'finished_at'} <= set(d['last_run'])
assert d['applied']['at'].endswith('Z')"
}
check "a deployment's JSON has the fields of DESIGN.md" fields_ok
run_fields_ok() {
	d_ctl --json runs one | python3 -c "import json,sys
r = json.load(sys.stdin)[0]
need = {'id', 'deployment', 'action', 'trigger', 'commit', 'fingerprint', 'state', 'exit_code', 'cause', 'queued_at', 'started_at', 'finished_at', 'outputs'}
assert need <= set(r), set(r)
assert r['state'] == 'succeeded' and r['action'] == 'apply' and r['trigger'] in ('startup', 'inotify')"
}
check "a run's JSON has the fields of DESIGN.md" run_fields_ok

# Tables and exit codes.
check "status exits 0" d_ctl status
check "deployments lists five" test "$(d_ctl deployments | grep -c ' ready ')" -eq 5
check "show exits 0 for a ready deployment" d_ctl show one
d_ctl show nosuch >/dev/null 2>&1; st=$?
check "show exits 1 for an unknown deployment" test $st -eq 1
d_ctl bogus >/dev/null 2>&1; st=$?
check "an unknown command exits 2" test $st -eq 2
d_ctl show >/dev/null 2>&1; st=$?
check "a missing argument exits 2" test $st -eq 2
check "history shows the phase changes" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history one | grep -q 'applying  *ready'"
check "sync exits 0" d_ctl sync

# Operator actions.
check "apply queues a run" d_ctl apply one
two_runs() { test "$(d_runs one | grep -c 'apply succeeded')" -eq 2; }
check "the asked-for apply ran" d_wait_cond 20 two_runs
check "suspend exits 0" d_ctl suspend two
d_check_phase two suspended
d_deployment two "inputs: { value: changed }"
d_commit "two: changed while suspended"
sleep 1
check "a suspended deployment is left alone" test "$(d_runs two | wc -l)" -eq 1
check "resume exits 0" d_ctl resume two
d_wait_cond 20 sh -c "test \"\$(cat '$state/deployments/infra/two/applied' 2>/dev/null)\" = changed"
d_check_phase two ready
check "destroy exits 0" d_ctl destroy three
d_check_phase three destroyed
check "the destroy ran" grep -q "start three destroy" "$events"

# Cancel a running run.
d_deployment slow "inputs: { sleep: 30, value: t }"
d_commit "slow: long"
d_wait_cond 20 d_is_phase slow applying
run=$(d_runs slow | tail -1 | awk '{ print $1 }')
d_wait_cond 20 grep -q "start slow apply" "$events"	# the provider runs
check "cancel exits 0" d_ctl cancel "$run"
cancelled() { test "$(d_runs slow | tail -1 | awk '{ print $3 }')" = cancelled; }
check "the run is cancelled" d_wait_cond 20 cancelled

# More than prune_limit (2) removals at once wait for approval.
git -C "$work" rm -q deployments/one.yaml deployments/two.yaml deployments/four.yaml
d_commit "remove three at once"
d_check_phase one planned
waits() { d_ctl show one | grep -q 'destroy waits for approval: 3 deployments removed at once (prune_limit 2)'; }
check "the cause says why" waits
check "nothing was destroyed" sh -c "! grep -q 'start one destroy' '$events'"
d_stop
tap_done
