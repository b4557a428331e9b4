#!/bin/sh
# cloudsphered end to end (TAP): a reconcile pass looks only at what a
# commit or a run's end touched (reconciler/engine-touch.c), and what it
# leaves alone stays as it was.
#  - A commit that changes one deployment rewrites that one's desired
#    commit only; the others keep the commit their desired state was read
#    at, and are not run.
#  - A deployment waiting for its upstream goes ahead as soon as the
#    upstream is ready again, even when no run made it so (a revert to
#    the applied state): retries are set an hour apart here, so nothing
#    else would wake the engine.
#  - An operator's apply that fails, for a deployment whose applied state
#    matches the repository, leaves it failed (ready means the last run
#    succeeded) until a retry succeeds.
#  - A removed deployment is destroyed, and a restart (a pass over
#    everything) changes nothing.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
sed -i 's/^retry_min: .*/retry_min: 1h/; s/^retry_max: .*/retry_max: 2h/' \
    "$tmp/cloudsphered.yaml"
for n in 1 2 3 4 5 6 7 8; do
	d_deployment "s$n" "inputs: { value: s$n }"
done
d_deployment base "inputs: { value: b1 }"
d_deployment top "inputs: { value: t1 }" "depends_on: [base]"
# A provider that fails while a file outside the repository says so: the
# failure does not change the fingerprint.
mkdir -p "$work/blueprints/flaky"
cat >"$work/blueprints/flaky/blueprint.yaml" <<'EOF'
description: Fails while a file outside the repository exists
provider: script
script: { command: ./run }
EOF
cat >"$work/blueprints/flaky/run" <<EOF
#!/bin/sh
echo "start \$CLOUDSPHERE_DEPLOYMENT \$1 flaky" >>"$events"
if [ -e "$tmp/flaky-broken" ]; then echo "broken on purpose" >&2; exit 4; fi
exit 0
EOF
chmod +x "$work/blueprints/flaky/run"
printf 'blueprint: flaky\nenvironment: test\n' >"$work/deployments/op.yaml"
d_commit "eleven deployments"
c1=$(git -C "$work" rev-parse HEAD)
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

all_ready() {
	for n in s1 s2 s3 s4 s5 s6 s7 s8 base top op; do
		d_is_phase "$n" ready || return 1
	done
}
check "all eleven become ready" d_wait_cond 30 all_ready
desired() { d_field "$1" "d['desired']['commit']"; }
nruns() { d_ctl --json runs "$1" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
check "s1's desired commit is the first commit" test "$(desired s1)" = "$c1"

# One deployment changes: only it is read again and run.
d_deployment s3 "inputs: { value: s3-new }"
d_commit "s3: new value"
c2=$(git -C "$work" rev-parse HEAD)
s3_applied() { [ "$(d_field s3 "d['outputs']['value']")" = s3-new ] && d_is_phase s3 ready; }
check "s3 is applied again" d_wait_cond 20 s3_applied
check "s3's desired commit is the new one" test "$(desired s3)" = "$c2"
check "s1's desired commit is still the first" test "$(desired s1)" = "$c1"
check "s8's desired commit is still the first" test "$(desired s8)" = "$c1"
check "s1 was not run again" test "$(nruns s1)" -eq 1
check "s3 ran twice" test "$(nruns s3)" -eq 2

# An empty commit changes nothing at all.
d_commit "nothing"
sleep 1
check "after an empty commit s3's desired commit stays" test "$(desired s3)" = "$c2"
check "... and s3 was not run" test "$(nruns s3)" -eq 2

# base fails (its retry is an hour away); top changes and waits for it.
d_deployment base "inputs: { value: b1, fail: true }"
d_commit "base: failing"
d_check_phase base failed
d_deployment top "inputs: { value: t2 }" "depends_on: [base]"
d_commit "top: new value, waits for base"
sleep 2
check "top waits for base: not run again" test "$(nruns top)" -eq 1
check "... and keeps its applied value" \
    test "$(d_field top "d['outputs']['value']")" = t1
# The revert makes base ready without a run: top must go ahead now.
d_deployment base "inputs: { value: b1 }"
d_commit "base: reverted"
d_check_phase base ready
top_applied() { [ "$(d_field top "d['outputs']['value']")" = t2 ] && d_is_phase top ready; }
check "top is applied once base is ready again" d_wait_cond 20 top_applied
check "base was not run for the revert" test "$(nruns base)" -eq 2

# The operator's apply fails; the applied state still matches the
# repository, but the deployment is failed until a retry succeeds.
: >"$tmp/flaky-broken"
check "the operator's apply is queued" d_ctl apply op
d_check_phase op failed
sleep 2
check "op stays failed after the passes that follow" d_is_phase op failed
check "... with the provider's cause" sh -c \
    "'$ctl_bin' -s '$tmp/ctl.sock' show op | grep -q 'exited 4'"
rm "$tmp/flaky-broken"
check "retry is accepted" d_ctl retry op
d_check_phase op ready
op_runs() { d_ctl --json runs op | python3 -c "import json,sys
print(' '.join(r['trigger'] + ':' + r['state'] for r in reversed(json.load(sys.stdin))))"; }
check "op's runs: the first apply, the operator's, the retry" \
    sh -c "echo '$(op_runs)' | grep -Eq '^[a-z]+:succeeded cli:failed retry:succeeded$'"

# A removed deployment is destroyed (prune is on in the environment).
rm "$work/deployments/s8.yaml"
d_commit "s8: removed"
d_check_phase s8 destroyed

# A restart passes over everything: nothing to do.
d_stop
before=$(wc -l <"$events")
d_start || not_ok "daemon restarts"
ten_ready() {
	for n in s1 s2 s3 s4 s5 s6 s7 base top op; do
		d_is_phase "$n" ready || return 1
	done
}
check "after a restart all ten are ready" d_wait_cond 30 ten_ready
sleep 1
check "the restart ran nothing" test "$(wc -l <"$events")" -eq "$before"
check "s1's desired commit survived the restart" test "$(desired s1)" = "$c1"
d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
