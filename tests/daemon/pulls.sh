#!/bin/sh
# Pull requests end to end (TAP): the real daemon, a real bare repository
# as the remote (the test pushes GitHub's refs/pull/N/head into it), signed
# GitHub webhooks built from the corpus's real deliveries sent to the real
# endpoint, and tests/forge-double.py in place of GitHub's REST API (a
# double only because GitHub cannot run here).  A pull request that
# changes one deployment gets one pending then one final status for it and
# one comment with its plan; a new head edits the same comment; the real
# deployments are untouched (phases, applied commits and fingerprints,
# state folders, last runs, run slots, the ledger); a fork's pull request
# is not planned; closing discards the plans; merging applies.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if [ ! -d "$corpus/github/webhooks/octokit" ]; then
	skip "no corpus at $corpus"
	tap_done
fi

d_setup 0
printf 'forge-token-of-the-test\n' >"$tmp/forge.token"
chmod 600 "$tmp/forge.token"
record=$tmp/forge-requests.jsonl
: >"$record"
python3 "$srcdir/tests/forge-double.py" --corpus "$corpus" \
    --record "$record" --port-file "$tmp/double.port" --forge github \
    --token forge-token-of-the-test --project Codertocat/Hello-World \
    >>"$tmp/double.log" 2>&1 &
double_pid=$!
d_kill_at_exit $double_pid
d_wait_cond 10 test -s "$tmp/double.port" || { not_ok "forge double starts"; tap_done; }
dport=$(cat "$tmp/double.port")
d_listen
d_webhook github
cat >>"$tmp/cloudsphered.yaml" <<EOF
    forge: { kind: github, api_url: "http://127.0.0.1:$dport", project: Codertocat/Hello-World, token_file: $tmp/forge.token }
    pull_requests: { plan: true, forks: false }
EOF

# A blueprint whose plan reads the state an apply left, and scribbles in
# the state folder it is given.
mkdir -p "$work/blueprints/stateful"
cat >"$work/blueprints/stateful/blueprint.yaml" <<'EOF'
description: Keeps state between runs
provider: script
timeouts: { plan: 30s, apply: 30s, destroy: 30s }
script: { command: ./run }
EOF
cat >"$work/blueprints/stateful/run" <<'EOF'
#!/bin/sh
s=$CLOUDSPHERE_STATE_DIR
case $1 in
plan)
	echo "state holds: $(cat "$s/applied") and $(cat "$s/nested/file")"
	echo scribble >"$s/plan-was-here"
	echo scribble >"$s/nested/file"
	;;
apply)
	echo applied-state >"$s/applied"
	mkdir -p "$s/nested"
	echo nested-state >"$s/nested/file"
	ln -sf applied "$s/link"
	echo '{}' >"$CLOUDSPHERE_OUTPUTS"
	;;
esac
EOF
chmod +x "$work/blueprints/stateful/run"
printf 'blueprint: stateful\nenvironment: test\n' >"$work/deployments/keeper.yaml"
d_deployment web "inputs: { value: one }"
d_deployment other "inputs: { value: other }"
d_commit "three deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase web ready
d_check_phase other ready
d_check_phase keeper ready

hook() {
	d_pull_event github "$@"
}

# The double's record: statuses of SHA for CONTEXT, in order.
statuses() {
	python3 - "$record" "$1" "$2" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("kind") == "status" and r["path"].endswith("/" + sys.argv[2]) \
            and r["body"].get("context") == sys.argv[3]:
        print(r["body"]["state"])
EOF
}
count_kind() {
	python3 - "$record" "$1" <<'EOF'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("kind") == sys.argv[2]))
EOF
}
# The body of the last comment request, and every path comments went to.
last_comment() {
	python3 - "$record" <<'EOF'
import json, sys
b = None
for l in open(sys.argv[1]):
    r = json.loads(l)
    if (r.get("kind") or "").startswith("comment"):
        b = r["body"]["body"]
print(b or "")
EOF
}
comment_paths() {
	python3 - "$record" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if (r.get("kind") or "").startswith("comment"):
        print(r["method"], r["path"], r["answer"])
EOF
}
violations() {
	python3 - "$record" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    for v in r.get("violations") or []:
        print(r["method"], r["path"], v)
EOF
}
no_runs() { ! ls -A "$state/runs" 2>/dev/null | grep -q .; }
no_ref() { ! git -C "$state/repos/infra.git" rev-parse -q --verify "refs/cloudsphere/pulls/$1"; }
final_of() {
	statuses "$1" "$2" | grep -qv pending
}
# What must not change: each deployment's row, its state folder, the ledger.
snapshot() {
	for d in web other keeper; do
		d_field "$d" "(d['phase'], d['applied']['commit'], d['applied']['fingerprint'], d['desired']['fingerprint'], d['last_run'] and d['last_run']['id'], d['outputs'])"
	done
	(cd "$state/deployments" && find . -type f | sort | xargs md5sum)
	git -C "$remote" rev-parse -q --verify refs/heads/cloudsphere/status || echo "no ledger"
	git -C "$remote" rev-parse refs/heads/main
}
# A ledger writes after the first applies: until it holds each one's last
# run and nothing waits to be pushed.
ledger_settled() {
	for d in web other keeper; do
		id=$(d_field "$d" "d['last_run']['id']")
		git -C "$remote" show "refs/heads/cloudsphere/status:deployments/$d.yaml" 2>/dev/null |
		    python3 -c "import sys, yaml
sys.exit(0 if (yaml.safe_load(sys.stdin) or {}).get('last_run', {}).get('id') == $id else 1)" ||
		    return 1
	done
	d_ctl --json status | python3 -c "import json, sys
l = json.load(sys.stdin)['repositories'][0]['ledger']
sys.exit(0 if l['pending'] == 0 else 1)"
}
d_wait_cond 30 ledger_settled || not_ok "the ledger settles"
before=$(snapshot)

# Pull request 1: changes web only; its plan takes a second.
git -C "$work" checkout -q -b feature
d_deployment web "inputs: { value: two, sleep: 1 }"
git -C "$work" add -A
git -C "$work" commit -q -m "web: value two"
sha1=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/1/head"
check "opened: the endpoint accepts the signed delivery" \
    test "$(hook opened 1 "$sha1" feature main)" = 202
if d_wait_cond 30 final_of "$sha1" cloudsphere/web; then
	ok "web gets a final status on the head"
else
	not_ok "web gets a final status on the head"
fi
sleep 1
check "web: exactly one pending then one success" \
    test "$(statuses "$sha1" cloudsphere/web | tr '\n' ' ')" = "pending success "
check "no status for the deployment the pull request does not change" \
    test -z "$(statuses "$sha1" cloudsphere/other)"
d_wait_cond 10 test "$(count_kind comment-create)" -ge 1
check "exactly one comment created" test "$(count_kind comment-create)" -eq 1
check "and none edited yet" test "$(count_kind comment-edit)" -eq 0
body=$(last_comment)
has() { printf '%s' "$body" | grep -qF -- "$1"; }
check "the comment lists web as changed" has '| `web` | changed |'
check "the comment names the head" has "$(echo "$sha1" | cut -c1-12)"
check "the comment has web's plan output" has "probe web plan: inputs"
check "the comment does not list other" sh -c '! printf "%s" "$0" | grep -qF "\`other\`"' "$body"
check "the preview ran a plan of web" grep -q "start web plan" "$events"

preview=$(d_ctl --json runs web | python3 -c "import json,sys
for r in json.load(sys.stdin):
    if r.get('pull') == 1: print(r['id'], r['action'], r['trigger'], r['state'], r['commit'])")
check "the preview is a plan run of pull request 1 at the head" \
    test "$(echo "$preview" | cut -d' ' -f2-)" = "plan pull-request succeeded $sha1"
after=$(snapshot)
if [ "$before" = "$after" ]; then
	ok "the real deployments, their state folders and the ledger are untouched"
else
	not_ok "the real deployments, their state folders and the ledger are untouched"
	diag "before: $before"
	diag "after: $after"
fi
check "web's real state still has value one" \
    test "$(cat "$state/deployments/infra/web/applied")" = one
check "the preview's scratch folder is gone" d_wait_cond 10 no_runs
check "the head is in the mirror's private ref" \
    test "$(git -C "$state/repos/infra.git" rev-parse refs/cloudsphere/pulls/1)" = "$sha1"

# New commits on the head: the same comment is edited with the new plan.
# The plan takes 3 seconds: meanwhile web's own run slot stays free.
d_deployment web "inputs: { value: three, sleep: 3 }"
git -C "$work" commit -q -am "web: value three"
sha2=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q -f origin "HEAD:refs/pull/1/head"
check "synchronize: accepted" \
    test "$(hook synchronize 1 "$sha2" feature main)" = 202
d_wait_cond 10 test -n "$(statuses "$sha2" cloudsphere/web)"
if out=$(d_ctl apply web 2>&1); then
	ok "while the preview runs, web's own run slot is free ($out)"
else
	not_ok "while the preview runs, web's own run slot is free ($out)"
fi
d_wait_cond 30 final_of "$sha2" cloudsphere/web
sleep 1
check "the new head: one pending then one success" \
    test "$(statuses "$sha2" cloudsphere/web | tr '\n' ' ')" = "pending success "
d_wait_cond 10 test "$(count_kind comment-edit)" -ge 1
check "still one comment created" test "$(count_kind comment-create)" -eq 1
cid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" \
    "$corpus/go-scm/github/api/issue_comment.json")
paths=$(comment_paths)
check "the comment is edited in place (PATCH of the created comment)" \
    test "$(echo "$paths" | sed -n 2p)" = \
    "PATCH /repos/Codertocat/Hello-World/issues/comments/$cid 200"
check "it was created on the pull request" \
    test "$(echo "$paths" | sed -n 1p)" = \
    "POST /repos/Codertocat/Hello-World/issues/1/comments 201"
body=$(last_comment)
check "the edited comment names the new head" has "$(echo "$sha2" | cut -c1-12)"
check "the edited comment has the new plan" has '"value":"three"'
d_wait_phase web ready 20
check "web stays at value one (the operator's apply reapplied it)" \
    test "$(cat "$state/deployments/infra/web/applied")" = one

# A fork's pull request is not planned (pull_requests.forks: false).
git -C "$work" checkout -q -b fork main
d_deployment other "inputs: { value: from-a-fork }"
git -C "$work" commit -q -am "other: from a fork"
sha3=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/2/head"
check "fork: accepted" test "$(hook opened 2 "$sha3" fork main fork)" = 202
d_wait_cond 10 grep -q "pull request #2 is from a fork: not planned" "$tmp/daemon.log"
check "the log says a fork's pull request is not planned" \
    grep -q "pull request #2 is from a fork: not planned" "$tmp/daemon.log"
sleep 1
check "no status for the fork's head" \
    test -z "$(statuses "$sha3" cloudsphere/other)"
check "no plan of other ran" sh -c "! grep -q 'start other plan' '$events'"

# Closing discards: pull request 3 is closed while its plan runs.
git -C "$work" checkout -q -b slow main
d_deployment other "inputs: { value: slow, sleep: 30 }"
git -C "$work" commit -q -am "other: slow"
sha4=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/3/head"
hook opened 3 "$sha4" slow main >/dev/null
d_wait_cond 20 grep -q "start other plan" "$events"
check "closed: accepted" test "$(hook closed 3 "$sha4" slow main)" = 202
plan3() {
	d_ctl --json runs other | python3 -c "import json,sys
for r in json.load(sys.stdin):
    if r.get('pull') == 3: print(r['state'])"
}
plan3_cancelled() { test "$(plan3)" = cancelled; }
last_is_error() { test "$(statuses "$sha4" cloudsphere/other | tail -1)" = error; }
d_wait_cond 20 plan3_cancelled
check "closing cancels the running plan" plan3_cancelled
check "its status ends as an error" d_wait_cond 10 last_is_error
check "its scratch folder is gone" d_wait_cond 10 no_runs
check "its private ref is gone" d_wait_cond 10 no_ref 3
check "closing writes no comment for the cancelled plan" \
    sh -c "! printf '%s\n' \"\$0\" | grep -q '/issues/3/comments'" "$(comment_paths)"
check "other is still ready at its own value" \
    test "$(cat "$state/deployments/infra/other/applied")" = other

# Merging: the push to the branch applies; the webhook only discards.
git -C "$work" checkout -q main
git -C "$work" merge -q --no-edit feature
git -C "$work" push -q origin main
check "merged: accepted" test "$(hook closed 1 "$sha2" feature main merged)" = 202
d_ctl sync >/dev/null 2>&1
d_wait_cond 30 sh -c "test \"\$(cat '$state/deployments/infra/web/applied' 2>/dev/null)\" = three"
check "merging applies the pull request's change" \
    test "$(cat "$state/deployments/infra/web/applied")" = three
d_check_phase web ready
check "the merged pull request's private ref is gone" d_wait_cond 10 no_ref 1
check "every forge request kept to the API's contract" test -z "$(violations)"
v=$(violations)
[ -n "$v" ] && diag "$v"

# A plan works on a copy of the deployment's state: it reads what the
# applies left, and what it writes stays in its copy.
keeper_before=$(cd "$state/deployments/infra/keeper" && find . | sort | xargs ls -ld --time-style=+ | md5sum; cat applied nested/file)
git -C "$work" checkout -q -b keeper main
echo "# a new version of the blueprint" >>"$work/blueprints/stateful/run"
git -C "$work" commit -q -am "stateful: a new version"
sha6=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/5/head"
hook opened 5 "$sha6" keeper main >/dev/null
keeper_final() { statuses "$sha6" cloudsphere/keeper | grep -q success; }
check "keeper's plan succeeds" d_wait_cond 20 keeper_final
keeper_comment() { last_comment | grep -qF "state holds: applied-state and nested-state"; }
check "the plan read a copy of keeper's real state" d_wait_cond 10 keeper_comment
keeper_after=$(cd "$state/deployments/infra/keeper" && find . | sort | xargs ls -ld --time-style=+ | md5sum; cat applied nested/file)
check "what the plan wrote did not reach the real state folder" \
    test "$keeper_before" = "$keeper_after"
check "no plan-was-here in the real state" \
    test ! -e "$state/deployments/infra/keeper/plan-was-here"

# Added, removed and invalid deployments: the new one is planned (on a
# row no deployment list shows), the removed one would be destroyed, the
# invalid one says where; none of it reaches the real deployments.
git -C "$work" checkout -q -b mixed main
d_deployment cache "inputs: { value: new }"
git -C "$work" rm -q deployments/keeper.yaml
printf 'blueprint: probe\nenvironment: test\ninptus: { value: x }\n' >"$work/deployments/other.yaml"
git -C "$work" add -A
git -C "$work" commit -q -m "cache added, keeper removed, other broken"
sha7=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/6/head"
hook opened 6 "$sha7" mixed main >/dev/null
cache_final() { final_of "$sha7" cloudsphere/cache; }
check "the added deployment is planned" d_wait_cond 20 cache_final
check "the added deployment: one pending then one success" \
    test "$(statuses "$sha7" cloudsphere/cache | tr '\n' ' ')" = "pending success "
check "the invalid deployment: one failure" \
    test "$(statuses "$sha7" cloudsphere/other | tr '\n' ' ')" = "failure "
check "the removed deployment: no status" \
    test -z "$(statuses "$sha7" cloudsphere/keeper)"
mixed_comment() { last_comment | grep -qF '| `cache` | added |'; }
d_wait_cond 10 mixed_comment
body=$(last_comment)
check "the comment lists the added deployment" has '| `cache` | added | no changes |'
check "the comment says the removed one would be destroyed" \
    has '| `keeper` | removed | would be destroyed when merged |'
check "the comment gives the invalid one's FILE:LINE error" \
    has "deployments/other.yaml:3: unknown key 'inptus'"
check "the added deployment is in no deployment list" \
    sh -c "! '$ctl_bin' -s '$tmp/ctl.sock' deployments | grep -q '^cache '"
check "keeper is not destroyed" d_is_phase keeper ready
check "other is not invalid" d_is_phase other ready

# Terraform: the preview plans against a copy of the real state, without
# its lock; the real state file stays as the apply left it.
if command -v terraform >/dev/null 2>&1; then
	git -C "$work" checkout -q main
	mkdir -p "$work/blueprints/tfdata"
	cat >"$work/blueprints/tfdata/blueprint.yaml" <<'EOF'
description: terraform_data only (no provider download)
provider: terraform
inputs:
  value: { type: string, default: a }
outputs: [value]
timeouts: { plan: 2m, apply: 2m, destroy: 2m }
EOF
	cat >"$work/blueprints/tfdata/main.tf" <<'EOF'
variable "value" {
  type = string
}

resource "terraform_data" "x" {
  input = var.value
}

output "value" {
  value = terraform_data.x.output
}
EOF
	printf 'blueprint: tfdata\nenvironment: test\ninputs: { value: first }\n' >"$work/deployments/tf.yaml"
	d_commit "tf: terraform_data"
	d_wait_phase tf ready 120
	check "terraform: the real deployment is applied" d_is_phase tf ready
	tfstate=$state/deployments/infra/tf/terraform.tfstate
	tf_before=$(md5sum "$tfstate")
	git -C "$work" checkout -q -b tf main
	printf 'blueprint: tfdata\nenvironment: test\ninputs: { value: second }\n' >"$work/deployments/tf.yaml"
	git -C "$work" commit -q -am "tf: second"
	sha8=$(git -C "$work" rev-parse HEAD)
	git -C "$work" push -q origin "HEAD:refs/pull/7/head"
	hook opened 7 "$sha8" tf main >/dev/null
	tf_final() { final_of "$sha8" cloudsphere/tf; }
	d_wait_cond 120 tf_final
	if [ "$(statuses "$sha8" cloudsphere/tf | tr '\n' ' ')" = "pending success " ]; then
		ok "terraform: the plan succeeds"
	else
		not_ok "terraform: the plan succeeds"
		for id in $(d_ctl --json runs tf | python3 -c "import json,sys
for r in json.load(sys.stdin): print(r['id'])"); do
			diag "$(d_ctl log "$id" 2>&1 | tail -30)"
		done
	fi
	tf_comment() { last_comment | grep -qF '| `tf` | changed |'; }
	d_wait_cond 10 tf_comment
	body=$(last_comment)
	check "terraform: the comment has the plan's summary" has "to change"
	check "terraform: and the plan's output" has "terraform_data.x"
	check "terraform: the real state file is unchanged" \
	    test "$(md5sum "$tfstate")" = "$tf_before"
	check "terraform: no lock left in the real state folder" \
	    test ! -e "$state/deployments/infra/tf/.terraform.tfstate.lock.info"
	check "terraform: the real deployment keeps its value" \
	    test "$(d_field tf "d['outputs']['value']")" = first
	git -C "$work" checkout -q main
else
	skip "terraform is not installed: no Terraform preview"
fi

# A plan cut short by a crash: after the restart its status is final.
git -C "$work" checkout -q -b crash main
d_deployment other "inputs: { value: crash, sleep: 30 }"
git -C "$work" commit -q -am "other: crash"
sha5=$(git -C "$work" rev-parse HEAD)
git -C "$work" push -q origin "HEAD:refs/pull/4/head"
: >"$events"
hook opened 4 "$sha5" crash main >/dev/null
d_wait_cond 20 grep -q "start other plan" "$events"
d_wait_cond 10 test -n "$(statuses "$sha5" cloudsphere/other)"
d_stop KILL
d_start
crash_error() { test "$(statuses "$sha5" cloudsphere/other | tail -1)" = error; }
check "after a crash, the interrupted plan's status ends as an error" \
    d_wait_cond 20 crash_error
check "and the real deployment is ready again" d_wait_phase other ready 20

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
