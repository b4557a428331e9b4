#!/bin/sh
# Manual approval (TAP): with policy approval manual a deployment is planned
# first and waits in phase planned; "cloudspherectl approve RUN" (or the
# API) applies exactly that plan; a plan without changes makes it ready with
# no apply; a newer commit supersedes the plan, and approving the old one is
# refused (exit 1) and recorded; the waiting plan survives a restart.  With
# the real terraform (terraform_data only), the approved apply is of the
# saved plan file: what plantimestamp() gave at plan time is what gets
# applied, and no new plan is made.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
# A script blueprint whose plan compares its state with the input.
mkdir -p "$work/blueprints/gate"
cat >"$work/blueprints/gate/blueprint.yaml" <<'EOF'
description: Writes value to its state folder, planned first
provider: script
inputs:
  value: { type: string }
outputs: [value]
timeouts: { plan: 30s, apply: 30s, destroy: 30s }
script:
  command: ./gate
EOF
cat >"$work/blueprints/gate/gate" <<EOF
#!/bin/sh
value=\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["value"])' "\$CLOUDSPHERE_INPUTS")
file=\$CLOUDSPHERE_STATE_DIR/applied
echo "gate \$CLOUDSPHERE_DEPLOYMENT \$1 \$value" >>"$events"
case \$1 in
plan)
	if [ "\$(cat "\$file" 2>/dev/null)" = "\$value" ]; then
		echo "no changes"
		exit 0
	fi
	echo "~ \$file: '\$(cat "\$file" 2>/dev/null)' -> '\$value'"
	exit 2 ;;
apply)
	echo "\$value" >"\$file"
	printf '{"value": "%s"}\n' "\$value" >"\$CLOUDSPHERE_OUTPUTS" ;;
destroy)
	rm -f "\$file" ;;
esac
EOF
chmod +x "$work/blueprints/gate/gate"
gate() {
	{
		echo "blueprint: gate"
		echo "environment: test"
		echo "inputs: { value: $2 }"
		echo "policy: { approval: manual }"
	} >"$work/deployments/$1.yaml"
}
gate web one
d_commit "web: manual approval"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

plan_id() { d_field "$1" "d['plan']['id']"; }
last_id() { d_ctl --json runs "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])"; }
run_field() { d_ctl --json runs | python3 -c "import json,sys
r=[r for r in json.load(sys.stdin) if r['id']==$1][0]
print($2)"; }
applied() { cat "$state/deployments/infra/$1/applied" 2>/dev/null; }

d_check_phase web planned
p1=$(plan_id web)
check "the waiting plan is a succeeded plan run" \
    test "$(run_field "$p1" "r['action'], r['state'], r['approval']")" = "plan succeeded waiting"
check "nothing was applied before the approval" sh -c "! grep -q 'gate web apply' '$events'"
cause_has() { d_field web "d['cause']" | grep -q -- "$1"; }
check "the cause names the plan run" cause_has "approve $p1"
check "the cause says how to approve" cause_has "cloudspherectl approve $p1"
check "show prints the plan waiting" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' show web | grep -q 'plan: *$p1 .*waits for approval'"

out=$(d_ctl approve "$p1" 2>&1)
check "approve RUN exits 0" test $? -eq 0
echo "$out" | grep -q "plan $p1 approved: apply run [0-9]* queued"
check "approve says which apply it queued ($out)" test $? -eq 0
d_check_phase web ready
check "the approved plan was applied" test "$(applied web)" = one
a1=$(last_id web)
check "the apply carries out the plan" test "$(run_field "$a1" "r['action'], r['plan_run'], r['trigger']")" = "apply $p1 cli"
check "the plan is marked approved" test "$(run_field "$p1" "r['approval']")" = approved
check "the history records the approval" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history web | grep -q 'planned *applying *$a1 *plan $p1 approved by the operator'"
d_ctl approve "$p1" >/dev/null 2>"$tmp/err"
check "approving it again exits 1" test $? -eq 1
check "... saying it was approved already" grep -q "already approved" "$tmp/err"

# A plan without changes: ready, and no apply.
echo two >"$state/deployments/infra/web/applied"
gate web two
d_commit "web: two, already in place"
no_change_ready() {
	test "$(d_phase web)" = ready &&
	    test "$(d_field web "d['desired']['fingerprint'] == d['applied']['fingerprint']")" = True
}
check "a plan without changes makes it ready" d_wait_cond 20 no_change_ready
check "... without an apply" test "$(grep -c 'gate web apply' "$events")" -eq 1
p0=$(last_id web)
check "... and the plan waits for nothing" test "$(run_field "$p0" "r['action'], r['cause'], r['approval']")" = "plan no changes None"
d_ctl approve "$p0" >/dev/null 2>"$tmp/err"
check "approving a plan without changes exits 1" test $? -eq 1
check "... saying so" grep -q "no changes" "$tmp/err"

# A newer commit supersedes the waiting plan; the old one is refused.
gate web three
d_commit "web: three"
d_check_phase web planned
p3=$(plan_id web)
gate web four
d_commit "web: four"
superseded() { test "$(plan_id web)" != "$p3" && test "$(plan_id web)" != none && d_is_phase web planned; }
check "a newer commit plans again" d_wait_cond 20 superseded
p4=$(plan_id web)
check "the old plan is superseded" test "$(run_field "$p3" "r['approval']")" = superseded
d_ctl approve "$p3" >/dev/null 2>"$tmp/err"
check "approving the superseded plan exits 1" test $? -eq 1
diag "$(cat "$tmp/err")"
check "... saying the desired state moved on" grep -q "moved on since plan $p3" "$tmp/err"
check "... and which plan to approve" grep -q "approve plan $p4 instead" "$tmp/err"
check "the refusal is in the history" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history web | grep -q 'approval of run $p3 refused'"
check "the supersede is in the history" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history web | grep -q 'plan $p3 superseded'"
check "nothing was applied" test "$(applied web)" = two

# The waiting plan survives a restart.
d_stop
d_start || not_ok "daemon starts again"
check "still planned after a restart" d_wait_phase web planned 5
check "the same plan waits" test "$(plan_id web)" = "$p4"

# Suspended, a deployment's plan cannot be approved; resumed, it waits again.
d_ctl suspend web >/dev/null
d_check_phase web suspended
d_ctl approve "$p4" >/dev/null 2>"$tmp/err"
check "approving a suspended deployment's plan exits 1" test $? -eq 1
check "... saying it is suspended" grep -q "suspended" "$tmp/err"
d_ctl resume web >/dev/null
d_check_phase web planned
check "resumed, the same plan waits" test "$(plan_id web)" = "$p4"

# Approval through the API, over the control socket.
code=$(curl -s -o "$tmp/answer" -w '%{http_code}' --unix-socket "$tmp/ctl.sock" \
    -X POST "http://localhost/api/v1/runs/$p4/approve")
check "POST /api/v1/runs/$p4/approve answers 202" test "$code" = 202
check "... with the apply run" python3 -c "import json; a=json.load(open('$tmp/answer')); assert a['plan'] == $p4 and a['run'] > $p4"
d_check_phase web ready
check "the plan approved through the API is applied" test "$(applied web)" = four
code=$(curl -s -o "$tmp/answer" -w '%{http_code}' --unix-socket "$tmp/ctl.sock" \
    -X POST "http://localhost/api/v1/runs/$p4/approve")
check "approving it again through the API answers 409" test "$code" = 409

# approve DEPLOYMENT: the deployment's plan waiting for approval.
gate web six
d_commit "web: six"
d_check_phase web planned
p6=$(plan_id web)
out=$(d_ctl approve web 2>&1)
check "approve DEPLOYMENT approves its waiting plan ($out)" sh -c "echo '$out' | grep -q 'approved: apply run'"
check "... that plan" test "$(run_field "$p6" "r['approval']")" = approved
d_check_phase web ready
check "... and applies it" test "$(applied web)" = six
d_ctl approve web >/dev/null 2>"$tmp/err"
check "approve DEPLOYMENT with nothing waiting exits 1" test $? -eq 1
check "... saying so" grep -q "no plan waiting for approval" "$tmp/err"

# Going back to the applied state discards the waiting plan.
gate web five
d_commit "web: five"
d_check_phase web planned
p5=$(plan_id web)
gate web six
d_commit "web: back to six"
d_check_phase web ready
check "the plan is discarded" test "$(run_field "$p5" "r['approval']")" = discarded
check "nothing was applied" test "$(applied web)" = six

# Destroys held back by the prune limit (5) are approved by name.
for i in 1 2 3 4 5 6; do d_deployment "gone$i" "inputs: { value: g$i }"; done
d_commit "six probes"
for i in 1 2 3 4 5 6; do d_wait_phase "gone$i" ready; done
git -C "$work" rm -q deployments/gone*.yaml
d_commit "remove six at once"
d_check_phase gone1 planned
check "the prune limit says why" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' show gone1 | grep -q 'destroy waits for approval'"
out=$(d_ctl approve gone1 2>&1)
check "approve DEPLOYMENT approves a destroy held by the prune limit ($out)" test $? -eq 0
d_check_phase gone1 destroyed
check "the others still wait for theirs" d_is_phase gone2 planned
d_ctl approve gone2 >/dev/null
d_check_phase gone2 destroyed
check "... one by one" d_is_phase gone3 planned
check "the approval is in the history" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history gone1 | grep -q 'destroy approved by the operator'"

# Errors of the client.
d_ctl approve "$a1" >/dev/null 2>"$tmp/err"
check "approving an apply exits 1" test $? -eq 1
check "... saying it is not a plan" grep -q "not a plan" "$tmp/err"
d_ctl approve 99999 >/dev/null 2>&1
check "approving a missing run exits 1" test $? -eq 1
d_ctl approve >/dev/null 2>&1
check "approve without a run exits 2" test $? -eq 2

# terraform: the approved apply is of the saved plan.
if ! command -v terraform >/dev/null 2>&1; then
	skip "terraform not found: the saved plan is not checked"
	d_stop
	tap_done
fi
mkdir -p "$work/blueprints/stamp"
cat >"$work/blueprints/stamp/blueprint.yaml" <<'EOF'
description: terraform_data with the time of its plan
provider: terraform
inputs:
  value: { type: string }
outputs: [value, stamp]
timeouts: { plan: 2m, apply: 2m, destroy: 2m }
EOF
cat >"$work/blueprints/stamp/main.tf" <<'EOF'
variable "value" { type = string }
resource "terraform_data" "stamp" {
  input = { value = var.value, stamp = plantimestamp() }
  provisioner "local-exec" {
    command = "echo applying ${self.input.value} planned at ${self.input.stamp}"
  }
}
output "value" { value = terraform_data.stamp.output.value }
output "stamp" { value = terraform_data.stamp.output.stamp }
EOF
{
	echo "blueprint: stamp"
	echo "environment: test"
	echo "inputs: { value: alpha }"
	echo "policy: { approval: manual }"
} >"$work/deployments/tf.yaml"
d_commit "tf: terraform, manual"
d_check_phase tf planned 120
tp=$(plan_id tf)
check "the terraform plan's summary is in the cause" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' show tf | grep -q 'cause:.*1 to add, 0 to change, 0 to destroy'"
check "the plan file is kept in the deployment's state folder" \
    test -s "$state/deployments/infra/tf/plans/$tp.tfplan"
planned_at=$(run_field "$tp" "r['finished_at']")
sleep 2	# a new plan would take a later plantimestamp()
d_ctl approve "$tp" >/dev/null
check "approve the terraform plan" test $? -eq 0
d_check_phase tf ready 120
ta=$(last_id tf)
stamp=$(d_field tf "d['outputs']['stamp']")
diag "planned at $planned_at, applied stamp $stamp"
check "the applied stamp is the plan's, not a new plan's" python3 -c "
s = '$stamp'.replace('Z', '')[:19]
p = '$planned_at'[:19]
assert s <= p, (s, p)"
d_ctl log "$ta" >"$tmp/tflog"
check "the approved apply applies the saved plan" grep -q "Apply complete! Resources: 1 added" "$tmp/tflog"
check "... without planning again" sh -c "! grep -q '^\[cloudsphere\] plan$' '$tmp/tflog'"
check "the plan file is gone once applied" test ! -e "$state/deployments/infra/tf/plans/$tp.tfplan"
check "the terraform output comes from the apply" test "$(d_field tf "d['outputs']['value']")" = alpha

# A stale terraform plan is refused too.
sed -i 's/alpha/beta/' "$work/deployments/tf.yaml"
d_commit "tf: beta"
d_check_phase tf planned 120
tb=$(plan_id tf)
sed -i 's/beta/gamma/' "$work/deployments/tf.yaml"
d_commit "tf: gamma"
tf_superseded() { test "$(plan_id tf)" != "$tb" && test "$(plan_id tf)" != none; }
check "the newer commit plans tf again" d_wait_cond 120 tf_superseded
d_ctl approve "$tb" >/dev/null 2>"$tmp/err"
check "approving the stale terraform plan exits 1" test $? -eq 1
check "its plan file is removed" test ! -e "$state/deployments/infra/tf/plans/$tb.tfplan"
d_stop
check "the daemon stops with status 0" test "$d_status" -eq 0
tap_done
