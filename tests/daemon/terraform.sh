#!/bin/sh
# cloudsphered end to end with the real terraform (TAP): create, update, a
# no-op apply that stops after the plan, outputs wired into a downstream
# deployment, a secret input that the configuration echoes and that never
# reaches the store, the logs or the API, a state-lock conflict (held by a
# concurrent terraform apply on the same state) whose cause names the
# holder and the lock id, a failing local-exec provisioner, a timeout that
# kills the process group, and destroy through a destroy plan.  Only the
# built-in terraform_data resource and local-exec: no provider download.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! command -v terraform >/dev/null 2>&1; then
	echo "1..0 # SKIP terraform not found"
	exit 0
fi

d_setup 0
mkdir -p "$work/blueprints/tf"
cat >"$work/blueprints/tf/blueprint.yaml" <<'EOF'
description: terraform_data and local-exec only
provider: terraform
inputs:
  value: { type: string, required: true }
  token: { type: string, secret: true }
  sleep: { type: number, default: 0 }
  fail: { type: bool, default: false }
outputs: [value, secret]
timeouts: { plan: 60s, apply: 60s, destroy: 60s }
EOF
cat >"$work/blueprints/tf/main.tf" <<'EOF'
variable "value" { type = string }
variable "token" {
  type      = string
  sensitive = true
  default   = ""
}
variable "sleep" {
  type    = number
  default = 0
}
variable "fail" {
  type    = bool
  default = false
}

resource "terraform_data" "thing" {
  input = var.value
}

# Created once per value of sleep and fail: echoes the secret (as a
# careless configuration would), records its pid, sleeps, maybe fails.
resource "terraform_data" "work" {
  triggers_replace = [var.sleep, var.fail]
  provisioner "local-exec" {
    command = "echo token=${nonsensitive(var.token)}; echo $$ > $HOME/provisioner.pid; sleep ${var.sleep}; exit ${var.fail ? 1 : 0}"
  }
}

output "value" { value = terraform_data.thing.output }
output "secret" {
  value     = var.token
  sensitive = true
}
EOF
secret=tf-Secret-Value-4242
printf '%s\n' "$secret" >"$tmp/secrets/tftoken"
chmod 600 "$tmp/secrets/tftoken"
tfdep() {
	name=$1
	shift
	{
		echo "blueprint: tf"
		echo "environment: test"
		for l in "$@"; do echo "$l"; done
	} >"$work/deployments/$name.yaml"
}
tfdep web "inputs: { value: one, token: \"\${{ secrets.tftoken }}\" }"
tfdep locked "inputs: { value: locked, token: \"\${{ secrets.tftoken }}\" }"
# A sensitive output is a secret downstream: the value, redacted.
d_deployment down2 "inputs: { value: \"\${{ deployments.web.outputs.secret }}\" }"
d_deployment down "inputs: { upstream: \"\${{ deployments.web.outputs.value }}\" }"
d_commit "a terraform deployment and one downstream"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

runs_json() { d_ctl --json runs "$1" 2>/dev/null; }
# run_field DEPLOYMENT N EXPR: a field of its Nth run (1 = the first).
run_field() {
	runs_json "$1" | python3 -c "import json,sys
r = list(reversed(json.load(sys.stdin)))[$2 - 1]
print($3)" 2>/dev/null
}
tfstate=$state/deployments/infra/web/terraform.tfstate

d_check_phase web ready 60
check "web's state is in its own folder" test -s "$tfstate"
check "web's .terraform is in its own folder" test -d "$state/deployments/infra/web/.terraform"
check "web's outputs come from terraform output -json" \
    test "$(d_field web "d['outputs']['value']")" = one
check "the sensitive output is stored redacted" \
    test "$(d_field web "d['outputs']['secret']")" = '***'
check "the apply run's summary counts the plan" \
    test "$(run_field web 1 "r['summary']")" = "2 to add, 0 to change, 0 to destroy: +terraform_data.thing +terraform_data.work"
run1=$(run_field web 1 "r['id']")
d_ctl log "$run1" >"$tmp/log1" 2>&1
check "the log shows init, plan and apply" sh -c "grep -q 'Plan: 2 to add' '$tmp/log1' && grep -q 'Apply complete' '$tmp/log1'"
check "the provisioner's echo reached the log, redacted" grep -q 'token=\*\*\*' "$tmp/log1"
d_check_phase down ready 30
check "web's output is wired into down" \
    test "$(d_field down "d['outputs']['upstream']")" = one
d_check_phase down2 ready 30
check "web's sensitive output reaches down2 as its value" \
    test "$(cat "$state/deployments/infra/down2/applied" 2>/dev/null)" = "$secret"
check "down2's output of it is stored redacted" \
    test "$(d_field down2 "d['outputs']['value']")" = '***'
check "the value is kept in web's state folder, private" \
    test "$(stat -c %a "$state/deployments/infra/web/sensitive-outputs.json")" = 600

# Update in place.
tfdep web "inputs: { value: two, token: \"\${{ secrets.tftoken }}\" }"
d_commit "web: two"
updated() { test "$(d_field web "d['outputs']['value']")" = two; }
check "web is updated" d_wait_cond 60 updated
d_check_phase web ready 30
check "the update's summary" \
    test "$(run_field web 2 "r['summary']")" = "0 to add, 1 to change, 0 to destroy: ~terraform_data.thing"
down_two() { test "$(d_field down "d['outputs']['upstream']")" = two; }
check "down follows web's new output" d_wait_cond 30 down_two

# A new value of the secret: web applies again, and so does down2, since
# the sensitive output it uses changed (a keyed hash in its fingerprint).
secret2=tf-Rotated-Value-8484
printf '%s\n' "$secret2" >"$tmp/secrets/tftoken"
d_commit "a pass after the rotation (secrets are read at each pass)"
rotated() { test "$(cat "$state/deployments/infra/down2/applied" 2>/dev/null)" = "$secret2"; }
check "a new secret reaches down2 through web's sensitive output" d_wait_cond 90 rotated
d_check_phase web ready 30
d_check_phase down2 ready 30

# No-op: an operator's apply plans, finds nothing and stops there.
d_ctl apply web >/dev/null 2>&1
third() { test "$(run_field web 4 "r['state']")" = succeeded; }
check "the operator's apply succeeds" d_wait_cond 60 third
check "its cause says there were no changes" \
    test "$(run_field web 4 "r['cause']")" = "no changes"
run3=$(run_field web 4 "r['id']")
d_ctl log "$run3" >"$tmp/log3" 2>&1
check "no apply step ran" sh -c "grep -q 'apply: skipped, the plan has no changes' '$tmp/log3' && ! grep -q 'Apply complete' '$tmp/log3'"

# A failing provisioner.
tfdep bad "inputs: { value: bad, fail: true, token: \"\${{ secrets.tftoken }}\" }"
d_commit "bad: a failing provisioner"
d_check_phase bad failed 60
cause=$(run_field bad 1 "r['cause']")
case $cause in
"apply: exited 1: local-exec provisioner error"*)
	ok "the failing provisioner's cause ($cause)" ;;
*)	not_ok "the failing provisioner's cause ($cause)" ;;
esac

# An init that fails: a provider that cannot be downloaded (no network).
mkdir -p "$work/blueprints/tfnull"
printf 'description: needs hashicorp/null\nprovider: terraform\n' \
    >"$work/blueprints/tfnull/blueprint.yaml"
cat >"$work/blueprints/tfnull/main.tf" <<'EOF'
terraform {
  required_providers {
    null = { source = "hashicorp/null" }
  }
}
EOF
printf 'blueprint: tfnull\nenvironment: test\n' >"$work/deployments/needs.yaml"
d_commit "needs: a provider to download"
needs_ended() { case $(run_field needs 1 "r['state']") in failed|succeeded) return 0;; esac; return 1; }
d_wait_cond 60 needs_ended
cause=$(run_field needs 1 "r['cause']")
if [ "$(run_field needs 1 "r['state']")" = succeeded ]; then
	skip "init's failure: this host reached the registry"
else
	check "init's failure has its error in the cause ($cause)" \
	    test "$cause" = "init: exited 1: Failed to query available provider packages"
fi
d_ctl suspend needs >/dev/null 2>&1

# A timeout: the sleeping provisioner and its process group are killed.
mkdir -p "$work/blueprints/tfslow"
cp "$work/blueprints/tf/main.tf" "$work/blueprints/tfslow/"
sed 's/timeouts: .*/timeouts: { plan: 60s, apply: 3s, destroy: 60s }/' \
    "$work/blueprints/tf/blueprint.yaml" >"$work/blueprints/tfslow/blueprint.yaml"
cat >"$work/deployments/slow.yaml" <<'EOF'
blueprint: tfslow
environment: test
inputs: { value: slow, sleep: 300, token: "${{ secrets.tftoken }}" }
EOF
d_commit "slow: a provisioner that outlives the apply timeout"
d_check_phase slow failed 60
check "the slow run timed out" test "$(run_field slow 1 "r['state']")" = timed-out
cause=$(run_field slow 1 "r['cause']")
check "its cause names the step and the timeout ($cause)" \
    test "$cause" = "apply: timed out after 3s"
spid=$(cat "$state/deployments/infra/slow/provisioner.pid" 2>/dev/null)
gone() { [ -n "$spid" ] && { ! kill -0 "$spid" 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' "/proc/$spid/stat"; }; }
check "the provisioner's shell ($spid) was killed" d_wait_cond 10 gone
d_ctl suspend slow >/dev/null 2>&1

# A lock conflict: a concurrent terraform apply holds locked's state.
d_check_phase locked ready 60
lstate=$state/deployments/infra/locked/terraform.tfstate
mkdir -p "$tmp/holder"
cat >"$tmp/holder/main.tf" <<EOF
terraform {
  backend "local" { path = "$lstate" }
}
resource "terraform_data" "hold" {
  provisioner "local-exec" { command = "sleep 60" }
}
EOF
(cd "$tmp/holder" && TF_DATA_DIR=$tmp/holder/.tf terraform init -input=false \
    -no-color >"$tmp/holder.log" 2>&1 &&
    exec setsid env TF_DATA_DIR=$tmp/holder/.tf terraform apply -input=false \
    -auto-approve -no-color) >>"$tmp/holder.log" 2>&1 &
holder=$!
lockinfo=$state/deployments/infra/locked/.terraform.tfstate.lock.info
check "the holder takes locked's state lock" d_wait_cond 60 test -s "$lockinfo"
lock_id=$(python3 -c "import json; print(json.load(open('$lockinfo'))['ID'])" 2>/dev/null)
lock_who=$(python3 -c "import json; print(json.load(open('$lockinfo'))['Who'])" 2>/dev/null)
nlocked=$(( $(d_runs locked | wc -l) + 1 ))
d_ctl apply locked >/dev/null 2>&1
lock_failed() { test "$(run_field locked $nlocked "r['state']")" = failed; }
check "locked's run fails on the lock" d_wait_cond 60 lock_failed
cause=$(run_field locked $nlocked "r['cause']")
check "the cause names the lock's holder and id ($cause)" test \
    "$cause" = "plan: exited 1: the state is locked by $lock_who (lock ID $lock_id)"
sid=$(ps -o sid= -p "$holder" 2>/dev/null | tr -d ' ')
[ -n "$sid" ] && pkill -KILL -s "$sid" 2>/dev/null
kill -KILL "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
d_ctl suspend locked >/dev/null 2>&1

# Destroy through a destroy plan.
git -C "$work" rm -q deployments/web.yaml deployments/down.yaml deployments/down2.yaml \
    deployments/bad.yaml
d_commit "remove web, down and bad"
d_check_phase web destroyed 90
last=$(runs_json web | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
d_ctl log "$last" >"$tmp/logd" 2>&1
check "the destroy ran a destroy plan and applied it" sh -c \
    "grep -q 'Plan: 0 to add, 0 to change, [0-9]* to destroy' '$tmp/logd' && grep -q 'Destroy complete\|Apply complete' '$tmp/logd'"
empty_state() {
	python3 -c "import json,sys
s = json.load(open('$tfstate'))
sys.exit(0 if not [r for r in s.get('resources', []) if r['name'] in ('thing', 'work')] else 1)"
}
check "web's resources are gone from its state" empty_state

# The secret never reached the store, the logs, the ledger or the API,
# though the configuration echoes it and a failing command quotes it.
all_runs=$(d_ctl --json runs | python3 -c "import json,sys
for r in json.load(sys.stdin): print(r['id'])")
check "runs are listed" test -n "$all_runs"
for r in $all_runs; do
	d_ctl log "$r"
	curl -s --unix-socket "$tmp/ctl.sock" "http://localhost/api/v1/runs/$r"
	curl -s --unix-socket "$tmp/ctl.sock" "http://localhost/api/v1/runs/$r/log"
done >"$tmp/all-logs" 2>&1
{
	for dep in web down down2 bad slow locked needs; do
		d_ctl --json show "$dep"; d_ctl --json runs "$dep"
		d_ctl --json history "$dep"; d_ctl show "$dep"
	done
	d_ctl --json deployments; d_ctl --json runs
} >"$tmp/api" 2>&1
for v in "$secret" "$secret2"; do
	check "$v is not in the store" sh -c "! grep -a -q -F '$v' '$state'/cloudsphere.db*"
	check "$v is not in any run's log" sh -c "! grep -q -F '$v' '$tmp/all-logs'"
	check "$v is not in any API answer" sh -c "! grep -q -F '$v' '$tmp/api'"
	check "$v is not in the daemon's log" sh -c "! grep -q -F '$v' '$tmp/daemon.log'"
	check "$v is not in the ledger" sh -c "! git -C '$remote' log -p --all | grep -q -F '$v'"
done
check "the failing command's cause is there, redacted" \
    grep -q "Error running command 'echo token=\*\*\*;" "$tmp/api"
check "the run folders are gone (the tfvars with the secret too)" \
    sh -c "! ls '$state/runs/'*/work/cloudsphere.auto.tfvars.json 2>/dev/null"

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
