#!/bin/sh
# cloudsphered's forge reporter end to end (TAP), for GitHub and GitLab:
# a commit that applies a deployment yields one pending then one final
# commit status; a failing apply a failure with its cause; the forge
# answering 500 across a daemon restart gets each status exactly once when
# it recovers; a 422 is logged with GitHub's message and not retried;
# Retry-After is honoured; a dropped connection is retried; the token
# never reaches the log.  Real daemon, Git, SQLite and libcurl; the forge
# is tests/forge-double.py, a test double (a forge's REST API cannot run
# here) that checks every request against the forge's documented contract.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"
. "${top_srcdir:-.}/tests/daemon/forge-lib.sh"

if [ ! -f "$corpus/CONTRACTS.md" ]; then
	skip "the corpus is not at $corpus"
	tap_done
fi

head_sha() {
	git -C "$work" rev-parse HEAD
}

# Seconds between the first answer $3 and the next request for sha $1.
gap_after() {
	python3 - "$fd_record" "$1" "$2" <<'EOF'
import json, sys
t = None
for line in open(sys.argv[1]):
    e = json.loads(line)
    if sys.argv[2] not in e["path"]:
        continue
    if t is None and str(e["answer"]) == sys.argv[3]:
        t = e["time"]
    elif t is not None:
        print("%.3f" % (e["time"] - t))
        break
EOF
}

answers_for() {
	python3 - "$fd_record" "$1" "$2" <<'EOF'
import json, sys
print(sum(1 for l in open(sys.argv[1])
          if sys.argv[2] in json.loads(l)["path"]
          and str(json.loads(l)["answer"]) == sys.argv[3]))
EOF
}

# commit_faulty JSON MESSAGE: commit, aim the double's faults at that
# commit only (the engine's retries of older commits also report), push.
commit_faulty() {
	git -C "$work" add -A
	git -C "$work" commit -q -m "$2"
	fsha=$(head_sha)
	fd_control "$(python3 -c 'import json, sys
d = json.loads(sys.argv[1]); d["match"] = sys.argv[2]; print(json.dumps(d))' "$1" "$fsha")"
	git -C "$work" push -q origin main 2>/dev/null
}

at_least() {
	[ "$(answers_for "$1" "$2")" -ge "$3" ]
}

scenario() {
	kind=$1
	project=$2
	ctx=cloudsphere/web

	d_setup 0
	trap 'fd_stop; d_cleanup' EXIT
	fd_start "$kind" "$project" || { not_ok "$kind: the double starts"; return; }
	d_deployment web "inputs: { value: one, sleep: 1 }"
	d_commit "web"
	sha1=$(head_sha)
	d_start || { not_ok "$kind: daemon starts"; return; }
	ok "$kind: daemon starts"

	# One pending, then one final status.
	d_wait_phase web ready
	fd_wait_ok "$sha1" "$ctx" success
	sleep 1
	check "$kind: statuses of the first commit are pending then success" \
	    test "$(fd_statuses "$sha1" "$ctx" | tr '\n' ' ')" = "201 pending 201 success "
	check "$kind: every request kept to the forge's contract" fd_no_violations

	# A failing apply: failure with its cause.
	d_deployment web "inputs: { value: two, sleep: 1, fail: true }"
	d_commit "web fails"
	sha2=$(head_sha)
	d_wait_phase web failed
	fd_wait_ok "$sha2" "$ctx" failure
	# (The engine retries it: more pending and failure may follow.)
	check "$kind: a failed apply is pending, then a failure status" \
	    test "$(fd_statuses "$sha2" "$ctx" | head -2 | tr '\n' ' ')" = "201 pending 201 failure "
	has_cause() {
		grep "$sha2" "$fd_record" | grep -q 'apply failed: exited 3'
	}
	check "$kind: the failure says why" has_cause

	# Retry-After: a 503 asking for 2 s is retried after 2 s, not sooner.
	d_deployment web "inputs: { value: three, sleep: 1 }"
	commit_faulty '{"fail": 1, "fail_status": 503, "retry_after": "2"}' "web three"
	sha3=$fsha
	fd_wait_ok "$sha3" "$ctx" success 30
	gap=$(gap_after "$sha3" 503)
	check "$kind: Retry-After honoured (retried after ${gap:-?}s)" \
	    python3 -c "import sys; sys.exit(not (float('${gap:-0}') >= 1.9))"
	fd_control '{"retry_after": null}'

	# A dropped connection is retried.
	d_deployment web "inputs: { value: four, sleep: 1 }"
	commit_faulty '{"drop": 1}' "web four"
	sha4=$fsha
	fd_wait_ok "$sha4" "$ctx" success 30
	check "$kind: a dropped connection is retried" \
	    test "$(fd_statuses "$sha4" "$ctx" | head -1 | cut -d' ' -f1)" = dropped
	check "$kind: ... and the status then delivered once" \
	    test "$(fd_ok_count "$sha4" "$ctx" success)" -eq 1

	# The forge answers 500 across a restart: once each when it recovers.
	d_deployment web "inputs: { value: five, sleep: 1 }"
	commit_faulty '{"fail": 100000, "fail_status": 500}' "web five"
	sha5=$fsha
	d_wait_cond 20 sh -c "test \"\$(cat '$state/deployments/infra/web/applied' 2>/dev/null)\" = five"
	d_wait_phase web ready
	d_wait_cond 20 at_least "$sha5" 500 3
	check "$kind: the forge failing, nothing is delivered" \
	    test "$(answers_for "$sha5" 201)" -eq 0
	d_stop
	before=$(wc -l <"$fd_record")
	fd_control '{"fail": 0}'
	d_start || not_ok "$kind: daemon restarts"
	fd_wait_ok "$sha5" "$ctx" success 30
	sleep 3
	check "$kind: after the restart, the final status delivered exactly once" \
	    test "$(fd_ok_count "$sha5" "$ctx" success)" -eq 1
	check "$kind: ... and no older value of it after the final one" \
	    test "$(fd_statuses "$sha5" "$ctx" | grep '^2' | tail -1)" = "201 success"
	check "$kind: nothing delivered before was sent again" \
	    test "$(tail -n +"$((before + 1))" "$fd_record" | grep -c -e "$sha1" -e "$sha2" -e "$sha3" -e "$sha4")" -eq 0

	check "$kind: every request kept to the forge's contract" fd_no_violations
	check "$kind: the token is never logged" \
	    sh -c "! grep -q -F '$fd_token' '$tmp/daemon.log'"
	check "$kind: the token is never stored" \
	    sh -c "! grep -a -q -F '$fd_token' '$state/cloudsphere.db' '$state/cloudsphere.db-wal' 2>/dev/null"
}

# GitHub's 422 "description is too long": logged, not retried.
scenario_422() {
	ctx=cloudsphere/web
	d_deployment web "inputs: { value: six, sleep: 1 }"
	commit_faulty '{"reject_422": 1}' "web six"
	sha6=$fsha
	fd_wait_ok "$sha6" "$ctx" success 30
	sleep 3
	check "github: the 422 was answered once and never retried" \
	    test "$(answers_for "$sha6" 422)" -eq 1
	check "github: the pending refused, the final still delivered" \
	    test "$(fd_statuses "$sha6" "$ctx" | tr '\n' ' ')" = "422 pending 201 success "
	check "github: the forge's message is logged" \
	    grep -q 'refused by the forge, not retried: HTTP 422: Validation Failed: description is too long (maximum is 140 characters)' "$tmp/daemon.log"
}

scenario github ops/infra
scenario_422
d_stop
fd_stop
d_cleanup

scenario gitlab group/sub/infra
d_stop
fd_stop
tap_done
