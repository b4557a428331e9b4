#!/bin/sh
# cloudsphered end to end with the real ansible-playbook on localhost
# (connection local; TAP): create, update, plans (--check --diff) with and
# without changes, outputs from $CLOUDSPHERE_OUTPUTS wired into a
# downstream deployment, a secret input that a debug task prints and that
# never reaches the store, the logs or the API, a failing task, an
# unreachable host, a playbook with a syntax error (each with its cause),
# and destroy through the destroy_playbook.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "1..0 # SKIP ansible-playbook not found"
	exit 0
fi

d_setup 0
export HOME=$tmp	# ansible-playbook of the test itself, if any
managed=$tmp/managed
mkdir -p "$work/blueprints/pb"
cat >"$work/blueprints/pb/blueprint.yaml" <<'EOF'
description: A file on localhost
provider: ansible
inputs:
  dir: { type: string, required: true }
  message: { type: string, default: hello }
  token: { type: string, secret: true }
  fail: { type: bool, default: false }
outputs: [path]
timeouts: { plan: 60s, apply: 60s, destroy: 60s }
ansible:
  playbook: site.yml
  inventory: inventory.ini
  destroy_playbook: destroy.yml
EOF
cat >"$work/blueprints/pb/inventory.ini" <<'EOF'
localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF
cat >"$work/blueprints/pb/site.yml" <<'EOF'
- name: A managed file
  hosts: localhost
  gather_facts: false
  vars:
    outputs_file: "{{ lookup('env', 'CLOUDSPHERE_OUTPUTS') }}"
  tasks:
    - name: Print the token, as a careless playbook would
      ansible.builtin.debug:
        msg: "token is {{ token }}"
    - name: Fail when asked to
      ansible.builtin.fail:
        msg: "failing on purpose"
      when: fail | bool
    - name: The folder
      ansible.builtin.file:
        path: "{{ dir }}"
        state: directory
        mode: "0755"
    - name: The file
      ansible.builtin.copy:
        dest: "{{ dir }}/managed.txt"
        content: "{{ message }}\n"
        mode: "0644"
    - name: Outputs
      ansible.builtin.copy:
        dest: "{{ outputs_file }}"
        content: "{{ {'path': dir + '/managed.txt'} | to_json }}\n"
        mode: "0600"
      when: not ansible_check_mode
      changed_when: false
EOF
cat >"$work/blueprints/pb/destroy.yml" <<'EOF'
- name: Remove the managed file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The file
      ansible.builtin.file:
        path: "{{ dir }}/managed.txt"
        state: absent
EOF
# The same playbook against a host that refuses connections.
mkdir -p "$work/blueprints/pbdead"
cp "$work/blueprints/pb/site.yml" "$work/blueprints/pb/destroy.yml" \
    "$work/blueprints/pb/blueprint.yaml" "$work/blueprints/pbdead/"
cat >"$work/blueprints/pbdead/inventory.ini" <<'EOF'
[all]
deadhost ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh ansible_ssh_common_args="-o ConnectTimeout=5 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
EOF
sed -i 's/hosts: localhost/hosts: all/' "$work/blueprints/pbdead/site.yml"
# A playbook that does not parse.
mkdir -p "$work/blueprints/pbbroken"
cp "$work/blueprints/pb/blueprint.yaml" "$work/blueprints/pb/inventory.ini" \
    "$work/blueprints/pb/destroy.yml" "$work/blueprints/pbbroken/"
cat >"$work/blueprints/pbbroken/site.yml" <<'EOF'
- name: Broken
  hosts: localhost
  tasks:
    - debug:
        msg: "x"
       foo: bar
EOF

secret=an-Secret-Value-7373
printf '%s\n' "$secret" >"$tmp/secrets/antoken"
chmod 600 "$tmp/secrets/antoken"
pbdep() {
	name=$1
	bp=$2
	shift 2
	{
		echo "blueprint: $bp"
		echo "environment: test"
		echo "inputs:"
		echo "  dir: $managed/$name"
		echo "  token: \"\${{ secrets.antoken }}\""
		for l in "$@"; do echo "  $l"; done
	} >"$work/deployments/$name.yaml"
}
pbdep files pb "message: one"
d_deployment down "inputs: { upstream: \"\${{ deployments.files.outputs.path }}\", token: \"\${{ secrets.credtoken }}\" }"
# A systemd credential (LoadCredential=), found after secrets_dir.
credential=cred-Value-5151
mkdir -p "$tmp/creds"
printf '%s\n' "$credential" >"$tmp/creds/credtoken"
chmod 400 "$tmp/creds/credtoken"
export CREDENTIALS_DIRECTORY=$tmp/creds
d_commit "an ansible deployment and one downstream"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

runs_json() { d_ctl --json runs "$1" 2>/dev/null; }
run_field() {
	runs_json "$1" | python3 -c "import json,sys
r = list(reversed(json.load(sys.stdin)))[$2 - 1]
print($3)" 2>/dev/null
}

d_check_phase files ready 60
check "the playbook made the file" test "$(cat "$managed/files/managed.txt" 2>/dev/null)" = one
check "the outputs come from \$CLOUDSPHERE_OUTPUTS" \
    test "$(d_field files "d['outputs']['path']")" = "$managed/files/managed.txt"
summary=$(run_field files 1 "r['summary']")
check "the run's summary comes from the play recap ($summary)" \
    test "$summary" = "2 changed, 0 failed, 0 unreachable (4 ok, 1 skipped) on 1 host"
run1=$(run_field files 1 "r['id']")
d_ctl log "$run1" >"$tmp/log1" 2>&1
check "the debug task's message reached the log, redacted" grep -q 'token is \*\*\*' "$tmp/log1"
d_check_phase down ready 30
check "files' output is wired into down" \
    test "$(d_field down "d['outputs']['upstream']")" = "$managed/files/managed.txt"
d_ctl log "$(run_field down 1 "r['id']")" >"$tmp/logdown" 2>&1
cred_redacted() { grep -q '"token": *"\*\*\*"' "$tmp/logdown"; }
check "down got the systemd credential, redacted in its log" cred_redacted
cred_redacted || sed 's/^/# /' "$tmp/logdown"

# Update.
pbdep files pb "message: two"
d_commit "files: two"
updated() { test "$(cat "$managed/files/managed.txt" 2>/dev/null)" = two; }
check "the update rewrote the file" d_wait_cond 60 updated
d_check_phase files ready 30

# Plans: --check --diff, changes when a task would change.
d_ctl plan files >/dev/null 2>&1
planned() { test "$(run_field files 3 "r['state']")" = succeeded; }
check "a plan of the applied state succeeds" d_wait_cond 60 planned
check "and finds no changes" test "$(run_field files 3 "r['cause']")" = "no changes"
echo tampered >"$managed/files/managed.txt"
d_ctl plan files >/dev/null 2>&1
planned4() { test "$(run_field files 4 "r['state']")" = succeeded; }
check "a plan after the file was changed succeeds" d_wait_cond 60 planned4
check "and finds changes" test "$(run_field files 4 "r['cause']")" = "changes"
check "the plan changed nothing" test "$(cat "$managed/files/managed.txt")" = tampered
run4=$(run_field files 4 "r['id']")
check "the plan ran with --check --diff (its diff is in the log)" \
    sh -c "'$ctl_bin' -s '$tmp/ctl.sock' log $run4 | grep -q '^-tampered'"

# Failures and their causes.
pbdep failing pb "fail: true"
pbdep dead pbdead
pbdep broken pbbroken
# A secret file that others may read: refused, the cause names the file.
printf 'leaky-Value-6262\n' >"$tmp/secrets/leaky"
chmod 644 "$tmp/secrets/leaky"
pbdep leaky pb
sed -i 's/secrets.antoken/secrets.leaky/' "$work/deployments/leaky.yaml"
d_commit "a failing task, an unreachable host, a syntax error, a leaky secret"
d_check_phase failing failed 60
check "a failing task: its cause ($(run_field failing 1 "r['cause']"))" \
    test "$(run_field failing 1 "r['cause']")" = "exited 2: 1 host failed"
d_check_phase dead failed 60
check "an unreachable host: its cause ($(run_field dead 1 "r['cause']"))" \
    test "$(run_field dead 1 "r['cause']")" = "exited 4: 1 host unreachable"
d_check_phase broken failed 60
cause=$(run_field broken 1 "r['cause']")
case $cause in
"exited 4: the playbook could not be parsed: "*"(site.yml: line 6, column 8)")
	ok "a syntax error: its cause ($cause)" ;;
*)	not_ok "a syntax error: its cause ($cause)" ;;
esac
d_check_phase leaky failed 60
cause=$(run_field leaky 1 "r['cause']")
check "a secret file readable by others is refused ($cause)" test "$cause" = \
    "secret 'leaky': $tmp/secrets/leaky: readable by others (mode 644); chmod 600 it"
for dep in failing dead broken leaky; do d_ctl suspend $dep >/dev/null 2>&1; done

# Destroy through destroy_playbook.
git -C "$work" rm -q deployments/files.yaml deployments/down.yaml
d_commit "remove files and down"
d_check_phase files destroyed 60
check "the destroy playbook removed the file" test ! -e "$managed/files/managed.txt"

# The secret never reached the store, the logs or the API.
all_runs=$(d_ctl --json runs | python3 -c "import json,sys
for r in json.load(sys.stdin): print(r['id'])")
for r in $all_runs; do
	curl -s --unix-socket "$tmp/ctl.sock" "http://localhost/api/v1/runs/$r"
	curl -s --unix-socket "$tmp/ctl.sock" "http://localhost/api/v1/runs/$r/log"
done >"$tmp/all-logs" 2>&1
{
	for dep in files down failing dead broken leaky; do
		d_ctl --json show "$dep"; d_ctl --json history "$dep"
	done
	d_ctl --json deployments; d_ctl --json runs
} >"$tmp/api" 2>&1
check "the debug task printed the token in several runs" \
    test "$(grep -c 'token is \*\*\*' "$tmp/all-logs")" -ge 3
check "the secret is not in the store" sh -c "! grep -a -q -F '$secret' '$state'/cloudsphere.db*"
check "the secret is not in any run's log" sh -c "! grep -q -F '$secret' '$tmp/all-logs'"
check "the secret is not in any API answer" sh -c "! grep -q -F '$secret' '$tmp/api'"
check "the secret is not in the daemon's log" sh -c "! grep -q -F '$secret' '$tmp/daemon.log'"
for v in "$credential" leaky-Value-6262; do
	check "nor the value $v" sh -c "! grep -a -q -F '$v' '$state'/cloudsphere.db* '$tmp/all-logs' '$tmp/api' '$tmp/daemon.log'"
done

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
