#!/bin/sh
# cloudsphered's forge reporter for Gitea, Forgejo, Bitbucket Cloud and
# Bitbucket Server (TAP): a commit that applies a deployment yields one
# pending then one final commit status, in each forge's own endpoint, auth
# header and state words.  The forge is tests/forge-double.py, a test
# double (a forge's REST API cannot run here) that checks every request
# against the forge's documented contract; GitHub and GitLab, with the
# failure cases, are in forge.sh.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"
. "${top_srcdir:-.}/tests/daemon/forge-lib.sh"

if [ ! -f "$corpus/CONTRACTS.md" ]; then
	skip "the corpus is not at $corpus"
	tap_done
fi

round_trip() {
	kind=$1
	project=$2
	code=$3
	ctx=cloudsphere/web

	d_setup 0
	trap 'fd_stop; d_cleanup' EXIT
	fd_start "$kind" "$project" || { not_ok "$kind: the double starts"; return; }
	d_deployment web "inputs: { value: one, sleep: 1 }"
	d_commit "web"
	sha=$(git -C "$work" rev-parse HEAD)
	d_start || { not_ok "$kind: daemon starts"; return; }
	d_wait_phase web ready
	fd_wait_ok "$sha" "$ctx" success
	sleep 1
	check "$kind: pending then success" \
	    test "$(fd_statuses "$sha" "$ctx" | tr '\n' ' ')" = "$code pending $code success "
	check "$kind: every request kept to the forge's contract" fd_no_violations

	# A failure, in the forge's word for it.
	d_deployment web "inputs: { value: two, sleep: 1, fail: true }"
	d_commit "web fails"
	sha=$(git -C "$work" rev-parse HEAD)
	d_wait_phase web failed
	fd_wait_ok "$sha" "$ctx" failure
	# (The engine retries it: more pending and failure may follow.)
	check "$kind: a failed apply is pending, then a failure status" \
	    test "$(fd_statuses "$sha" "$ctx" | head -2 | tr '\n' ' ')" = "$code pending $code failure "
	check "$kind: the token is never logged" \
	    sh -c "! grep -q -F '$fd_token' '$tmp/daemon.log'"
	d_stop
	fd_stop
	d_cleanup
}

round_trip gitea ops/infra 201
round_trip forgejo ops/infra 201
round_trip bitbucket team/infra 201
round_trip bitbucket-server OPS/infra 204
tap_done
