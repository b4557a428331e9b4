#!/bin/sh
# Drift detection (TAP): a ready deployment with policy drift_check is
# planned on that schedule (trigger drift).  With the real ansible-playbook,
# editing the file a task manages turns it drifted at the next check,
# reported once however many checks follow; detect mode leaves the file
# alone, correct mode applies and restores it; a failing check records a
# failed run and keeps the phase.  With the real terraform (terraform_data
# only), editing the resource's input in terraform.tfstate is drift, and
# correct mode applies the plan that found it.  Deployments without
# drift_check are never checked.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! command -v ansible-playbook >/dev/null 2>&1; then
	skip "ansible-playbook not found"
	tap_done
fi
d_setup 0
export HOME=$tmp	# ansible writes ~/.ansible
target=$tmp/target
mkdir -p "$target" "$work/blueprints/file"
cat >"$work/blueprints/file/blueprint.yaml" <<'EOF'
description: One file on this host, managed by ansible
provider: ansible
inputs:
  path: { type: string }
  content: { type: string }
timeouts: { plan: 1m, apply: 1m, destroy: 1m }
ansible: { playbook: site.yml, inventory: inventory.ini }
EOF
cat >"$work/blueprints/file/inventory.ini" <<'EOF'
localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF
cat >"$work/blueprints/file/site.yml" <<'EOF'
- hosts: localhost
  gather_facts: false
  tasks:
    - name: A check that can be made to fail from outside
      ansible.builtin.command: test ! -e "{{ path }}.broken"
      check_mode: false
      changed_when: false
    - name: The managed file
      ansible.builtin.copy:
        dest: "{{ path }}"
        content: "{{ content }}\n"
        mode: "0644"
EOF
cat >"$work/deployments/conf.yaml" <<EOF
blueprint: file
environment: test
inputs: { path: $target/conf, content: hello }
policy: { drift_check: 2s, drift: detect }
EOF
d_deployment plain "inputs: { value: p }"
d_commit "conf: drift checked every 2s"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

d_check_phase conf ready 60
check "the file is written" test "$(cat "$target/conf")" = hello
drift_runs() { d_ctl --json runs "$1" | python3 -c "import json,sys
print(len([r for r in json.load(sys.stdin) if r['trigger'] == 'drift' and r['state'] == '$2']))"; }
checks_done() { test "$(drift_runs conf succeeded)" -ge "$1"; }
check "drift checks run on schedule" d_wait_cond 30 checks_done 2
all_plans() { d_ctl --json runs conf | python3 -c "import json,sys
assert all(r['action'] == 'plan' for r in json.load(sys.stdin) if r['trigger'] == 'drift')"; }
check "they are plans" all_plans
check "no drift: still ready" d_is_phase conf ready
check "plain has no drift_check and is never checked" test "$(drift_runs plain succeeded)" -eq 0
transitions() { d_ctl --json history "$1" | python3 -c "import json,sys
print(len([t for t in json.load(sys.stdin) if t['to'] == '$2' and t['from'] != t['to']]))"; }
check "no drift check made a transition" test "$(transitions conf ready)" -eq 1

# Drift: the managed file is changed behind the deployment's back.
echo "edited by hand" >"$target/conf"
d_check_phase conf drifted 30
cause() { d_field conf "d['cause']"; }
diag "cause: $(cause)"
check "the cause is the plan's summary" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' show conf | grep -q 'cause: *drift: 1 changed'"
n=$(drift_runs conf succeeded)
more() { test "$(drift_runs conf succeeded)" -ge $((n + 2)); }
check "checks go on while drifted" d_wait_cond 30 more
check "drift is reported once" test "$(transitions conf drifted)" -eq 1
check "detect mode leaves the file as it is" test "$(cat "$target/conf")" = "edited by hand"
check "detect mode applies nothing" test "$(d_runs conf | grep -c apply)" -eq 1
check "the drift's plan waits for approval" test "$(d_field conf "d['plan']['trigger']")" = drift

# A failing check: a failed run, the phase kept.
touch "$target/conf.broken"
failed_check() { test "$(drift_runs conf failed)" -ge 1; }
check "a failing drift check is a failed run" d_wait_cond 30 failed_check
check "... and the deployment stays drifted" d_is_phase conf drifted
n=$(drift_runs conf failed)
more_failed() { test "$(drift_runs conf failed)" -ge $((n + 1)); }
check "... and it is checked again at the next check" d_wait_cond 30 more_failed
rm -f "$target/conf.broken"

# In detect mode the drift's plan can be approved (checks keep replacing
# it, so an approval may meet a newer one or a running check: retried).
restored() { test "$(cat "$target/conf")" = hello && d_is_phase conf ready; }
check "approve the drift's plan" d_wait_cond 30 d_ctl approve conf
check "the approved drift plan restores the file" d_wait_cond 40 restored

# correct: the next check applies, and the file is restored.  The policy
# is not part of the fingerprint: no apply for the commit itself.
sed -i 's/drift: detect/drift: correct/' "$work/deployments/conf.yaml"
d_commit "conf: correct drift"
loaded() { grep -q "infra: commit $(git -C "$work" rev-parse --short=12 HEAD) " "$tmp/daemon.log"; }
d_wait_cond 30 loaded || not_ok "the daemon loads the commit that says correct"
echo "edited in correct mode" >"$target/conf"
check "correct mode restores the file" d_wait_cond 40 restored
check "by an apply with trigger drift" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' --json runs conf | python3 -c \"import json,sys
a=[r for r in json.load(sys.stdin) if r['action'] == 'apply' and r['trigger'] == 'drift']
assert len(a) == 1 and a[0]['state'] == 'succeeded' and a[0]['plan_run'], a\""
check "no apply for the policy's commit" test "$(d_runs conf | grep -c 'apply')" -eq 3
check "the history says drift was corrected" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' history conf | grep -q 'drifted *applying .*drift corrected: applying plan'"
echo "edited again" >"$target/conf"
restored_again() { test "$(cat "$target/conf")" = hello; }
check "... and again at the next drift" d_wait_cond 40 restored_again
d_check_phase conf ready 20

# The schedule survives a restart: checks resume.
d_stop
restart=$(date -u +%Y-%m-%dT%H:%M:%S)
d_start || not_ok "daemon starts again"
resumed() { d_ctl --json runs conf | python3 -c "import json,sys
assert [r for r in json.load(sys.stdin) if r['trigger'] == 'drift' and
    r['state'] == 'succeeded' and r['queued_at'][:19] >= '$restart']"; }
if d_wait_cond 30 resumed; then
	ok "drift checks resume after a restart"
else
	not_ok "drift checks resume after a restart"
	d_ctl runs conf | head -5 | sed 's/^/# /'
	d_ctl show conf | sed 's/^/# /'
fi

if ! command -v terraform >/dev/null 2>&1; then
	skip "terraform not found: terraform drift not checked"
	d_stop
	tap_done
fi
mkdir -p "$work/blueprints/data"
cat >"$work/blueprints/data/blueprint.yaml" <<'EOF'
description: One terraform_data
provider: terraform
inputs:
  value: { type: string }
outputs: [value]
timeouts: { plan: 2m, apply: 2m, destroy: 2m }
EOF
cat >"$work/blueprints/data/main.tf" <<'EOF'
variable "value" { type = string }
resource "terraform_data" "x" {
  input = var.value
}
output "value" { value = terraform_data.x.output }
EOF
cat >"$work/deployments/tf.yaml" <<'EOF'
blueprint: data
environment: test
inputs: { value: original }
policy: { drift_check: 2s, drift: detect }
EOF
d_commit "tf: drift checked"
d_check_phase tf ready 120
tfstate=$state/deployments/infra/tf/terraform.tfstate
state_input() { python3 -c "import json
s = json.load(open('$tfstate'))
print(s['resources'][0]['instances'][0]['attributes']['input']['value'])"; }
check "the state holds the input" test "$(state_input)" = original
# Drift: the recorded resource differs from the configuration.
python3 - "$tfstate" <<'EOF'
import json, os, sys
p = sys.argv[1]
s = json.load(open(p))
a = s['resources'][0]['instances'][0]['attributes']
a['input']['value'] = 'tampered'
a['output']['value'] = 'tampered'
open(p + '.new', 'w').write(json.dumps(s))
os.replace(p + '.new', p)
EOF
d_check_phase tf drifted 60
check "the terraform plan's summary is the cause" sh -c "'$ctl_bin' -s '$tmp/ctl.sock' show tf | grep -q 'cause: *drift: 0 to add, 1 to change, 0 to destroy'"
check "the drift plan's file is kept for approval" \
    sh -c "ls '$state/deployments/infra/tf/plans/' | grep -q '\.tfplan$'"
sed -i 's/drift: detect/drift: correct/' "$work/deployments/tf.yaml"
d_commit "tf: correct drift"
tf_restored() { test "$(state_input)" = original && d_is_phase tf ready; }
check "correct mode restores the state" d_wait_cond 120 tf_restored
check "the output is the configured value again" test "$(d_field tf "d['outputs']['value']")" = original
d_stop
check "the daemon stops with status 0" test "$d_status" -eq 0
tap_done
