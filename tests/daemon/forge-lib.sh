# Helpers for the forge reporter's integration tests: source after
# tests/daemon/lib.sh.  The forge is tests/forge-double.py, a test double:
# the forges' REST APIs cannot run here, so it checks each request against
# the documented contract and answers with the corpus's real bodies.
#
#	fd_start KIND PROJECT	start the double and point the repository at it
#	fd_stop			stop the double
#	fd_control JSON		set the double's faults (see forge-double.py)
#	fd_statuses SHA CTX	"ANSWER STATE" per status request, in order
#				(STATE as pending, success, failure or error)
#	fd_ok_count SHA CTX STATE	2xx answers to that status
#	fd_violations		requests that broke the contract, one a line
#	fd_token		the token the daemon must send (and never log)

fd_pid=
fd_token=tok-$$-3f9a1c7e
fd_record=
fd_port=

fd_start() {
	fd_kind=$1
	fd_project=$2
	fd_record=$tmp/forge-record.jsonl
	: >"$fd_record"
	rm -f "$tmp/forge.port"
	python3 "$srcdir/tests/forge-double.py" --corpus "$corpus" \
	    --record "$fd_record" --port-file "$tmp/forge.port" \
	    --token "$fd_token" --project "$fd_project" \
	    >>"$tmp/forge-double.log" 2>&1 &
	fd_pid=$!
	d_wait_cond 10 test -s "$tmp/forge.port" || return 1
	fd_port=$(cat "$tmp/forge.port")
	case $fd_kind in
	github) fd_api=http://127.0.0.1:$fd_port/github ;;
	gitlab) fd_api=http://127.0.0.1:$fd_port/gitlab/api/v4 ;;
	gitea|forgejo) fd_api=http://127.0.0.1:$fd_port/$fd_kind/api/v1 ;;
	bitbucket) fd_api=http://127.0.0.1:$fd_port/bitbucket/2.0 ;;
	bitbucket-server) fd_api=http://127.0.0.1:$fd_port/bitbucket-server ;;
	esac
	printf '%s\n' "$fd_token" >"$tmp/forge.token"
	chmod 600 "$tmp/forge.token"
	cat >>"$tmp/cloudsphered.yaml" <<EOF
    forge: { kind: $fd_kind, api_url: "$fd_api", project: "$fd_project", token_file: $tmp/forge.token }
EOF
}

fd_stop() {
	[ -n "$fd_pid" ] || return 0
	kill "$fd_pid" 2>/dev/null
	wait "$fd_pid" 2>/dev/null
	fd_pid=
}

fd_control() {
	python3 - "$fd_port" "$1" <<'EOF'
import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:%s/_double/control" % sys.argv[1],
                             data=sys.argv[2].encode(), method="POST")
urllib.request.urlopen(req, timeout=10).read()
EOF
}

# The status requests for (sha, context) as "ANSWER STATE", in the order
# they arrived (the record is written as each answer ends, and a dropped
# connection's handler may end after the retry that follows it).
fd_statuses() {
	python3 - "$fd_record" "$1" "$2" <<'EOF'
import json, sys
words = {"pending": "pending", "running": "pending", "INPROGRESS": "pending",
         "success": "success", "SUCCESSFUL": "success",
         "failure": "failure", "failed": "failure", "FAILED": "failure",
         "error": "error", "STOPPED": "error"}
entries = [json.loads(line) for line in open(sys.argv[1])]
entries.sort(key=lambda e: (e.get("time", 0), e.get("n", 0)))
for e in entries:
    b = e.get("body")
    if e.get("kind") != "status" and not (isinstance(b, dict) and "state" in b):
        continue
    if sys.argv[2] not in e["path"] or not isinstance(b, dict):
        continue
    ctx = b.get("context") or b.get("name") or b.get("key")
    if ctx != sys.argv[3]:
        continue
    print(e["answer"], words.get(b.get("state"), b.get("state")))
EOF
}

fd_ok_count() {
	fd_statuses "$1" "$2" | awk -v s="$3" '$1 ~ /^2/ && $2 == s' | wc -l
}

fd_violations() {
	python3 - "$fd_record" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["violations"]:
        print(e["n"], e["method"], e["path"], "; ".join(e["violations"]))
EOF
}

fd_no_violations() {
	v=$(fd_violations)
	[ -z "$v" ] && return 0
	echo "$v" | sed 's/^/# /'
	return 1
}

# fd_wait_ok SHA CTX STATE [SECONDS]: until one such status is delivered.
fd_has_ok() {
	[ "$(fd_ok_count "$1" "$2" "$3")" -ge 1 ]
}

fd_wait_ok() {
	d_wait_cond "${4:-20}" fd_has_ok "$1" "$2" "$3"
}
