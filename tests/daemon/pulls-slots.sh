#!/bin/sh
# Pull requests' plans and the run slots (TAP): with max_parallel_runs 1, a
# plan of a pull request waits for the slot like any run, but the branch's
# own runs queued after it start first; a deployment's real run does not
# wait for a plan of it.  No forge here (none is needed to plan): the real
# daemon, a real bare repository, signed GitHub deliveries from the corpus.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if [ ! -d "$corpus/github/webhooks/octokit" ]; then
	skip "no corpus at $corpus"
	tap_done
fi

d_setup 0
sed -i "s/^max_parallel_runs: .*/max_parallel_runs: 1/" "$tmp/cloudsphered.yaml"
d_listen
d_webhook github
d_deployment slow "inputs: { value: one }"
d_deployment web "inputs: { value: one }"
d_deployment late "inputs: { value: one }"
d_commit "three deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase slow ready
d_check_phase web ready
d_check_phase late ready

hook() {
	d_pull_event github "$@"
}

# The one slot is taken by an apply of the branch that ends when the test
# says (a barrier), once everything below is queued.
d_deployment slow "inputs: { value: two, barrier: $tmp/release }"
d_commit "slow: two"
d_wait_cond 20 grep -q "start slow apply" "$events"
# Meanwhile a pull request's plan of web queues...
git -C "$work" checkout -q -b feature
d_deployment web "inputs: { value: two }"
git -C "$work" commit -q -am "web: two"
sha=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/1/head"
check "the delivery is accepted" test "$(hook opened 1 "$sha" feature main)" = 202
queued() {
	d_ctl --json runs web | python3 -c "import json,sys
sys.exit(0 if any(r.get('pull') == 1 and r['state'] == 'queued' for r in json.load(sys.stdin)) else 1)"
}
check "the plan waits for the slot" d_wait_cond 10 queued
# ...then the branch changes late, and web itself (an operator's apply).
git -C "$work" checkout -q main
d_deployment late "inputs: { value: two }"
d_commit "late: two"
late_queued() { d_runs late | grep -q "apply queued"; }
d_wait_cond 10 late_queued
out=$(d_ctl apply web 2>&1)
check "web's own apply is not refused for the plan of it ($out)" \
    sh -c "printf '%s' '$out' | grep -q queued"
d_release "$tmp/release" 1 || not_ok "slow's apply reaches the barrier"
planned() { grep -q "start web plan" "$events"; }
check "the plan runs in the end" d_wait_cond 30 planned
order=$(grep -E "^start (late apply|web apply|web plan)" "$events" | tail -3 | cut -d' ' -f2,3 | tr '\n' ',')
check "the branch's runs went first, the plan after them ($order)" \
    test "$order" = "late apply,web apply,web plan,"
d_check_phase late ready
d_check_phase web ready
d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
