#!/bin/sh
# Pull requests on GitLab, Bitbucket Server and Cloud (TAP): each forge
# keeps a pull request's head under its own ref (refs/merge-requests/N/head,
# refs/pull-requests/N/from; Cloud: the head branch, announced by an
# abbreviated commit id), announces it with its own delivery (signed
# or with a token, built from the corpus's real ones) and takes statuses
# and comments through its own API.  The real daemon, a real bare
# repository the test pushes those refs into, and tests/forge-double.py as
# the forge's API (a test double: the forges cannot run here).  GitHub,
# with isolation, forks, closing and merging, is in pulls.sh.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"
. "${top_srcdir:-.}/tests/daemon/forge-lib.sh"

if [ ! -d "$corpus/go-scm/stash/webhooks" ]; then
	skip "the corpus is not at $corpus"
	tap_done
fi

comments() {
	python3 - "$fd_record" "$1" <<'EOF'
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("kind") == sys.argv[2] and str(r.get("answer")).startswith("2"):
        n += 1
print(n)
EOF
}
last_comment() {
	python3 - "$fd_record" <<'EOF'
import json, sys
t = ""
for l in open(sys.argv[1]):
    r = json.loads(l)
    if (r.get("kind") or "").startswith("comment") and isinstance(r["body"], dict):
        b = r["body"]
        t = b.get("body") or b.get("text") or \
            (b.get("content") or {}).get("raw") or t
print(t)
EOF
}

plan_round() {
	kind=$1
	project=$2
	ref=$3
	ctx=cloudsphere/web

	d_setup 0
	trap 'fd_stop; d_cleanup' EXIT
	d_listen
	d_webhook "$kind"
	echo "    pull_requests: { plan: true }" >>"$tmp/cloudsphered.yaml"
	fd_start "$kind" "$project" || { not_ok "$kind: the double starts"; return; }
	d_deployment web "inputs: { value: one }"
	d_commit "web"
	d_start || { not_ok "$kind: daemon starts"; return; }
	d_wait_phase web ready

	git -C "$work" checkout -q -b feature
	d_deployment web "inputs: { value: two, sleep: 1 }"
	git -C "$work" commit -q -am "web: two"
	sha1=$(git -C "$work" rev-parse HEAD)
	git -C "$work" push -q origin "HEAD:$ref"
	check "$kind: the delivery is accepted" \
	    test "$(d_pull_event "$kind" opened 7 "$sha1" feature main)" = 202
	fd_wait_ok "$sha1" "$ctx" success 30
	d_wait_cond 10 test "$(comments comment-create)" -ge 1
	sleep 1
	check "$kind: one pending then one success on the head (fetched from $ref)" \
	    test "$(fd_statuses "$sha1" "$ctx" | awk '{print $2}' | tr '\n' ' ')" = "pending success "
	check "$kind: one comment created" test "$(comments comment-create)" -eq 1
	has_plan() { last_comment | grep -qF "probe web plan: inputs"; }
	check "$kind: with the plan" has_plan

	d_deployment web "inputs: { value: three, sleep: 1 }"
	git -C "$work" commit -q -am "web: three"
	sha2=$(git -C "$work" rev-parse HEAD)
	git -C "$work" push -q -f origin "HEAD:$ref"
	d_pull_event "$kind" synchronize 7 "$sha2" feature main >/dev/null
	fd_wait_ok "$sha2" "$ctx" success 30
	d_wait_cond 10 test "$(comments comment-edit)" -ge 1
	check "$kind: the new head edits the same comment" \
	    test "$(comments comment-create) $(comments comment-edit)" = "1 1"
	has_new() { last_comment | grep -qF '"value":"three"'; }
	check "$kind: with the new plan" has_new
	check "$kind: every request kept to the forge's contract" \
	    fd_no_violations
	check "$kind: web's real state is untouched" \
	    test "$(cat "$state/deployments/infra/web/applied")" = one
	d_stop
	fd_stop
	d_cleanup
	trap - EXIT
}

plan_round gitlab ops/infra refs/merge-requests/7/head
plan_round bitbucket-server OPS/infra refs/pull-requests/7/from
# Bitbucket Cloud has no pull refs: the head branch, announced abbreviated.
plan_round bitbucket team/infra refs/heads/feature
tap_done
