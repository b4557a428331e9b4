#!/bin/sh
# The forge reporter's pull-request comments (TAP), for every forge: the
# first delivery creates the comment, later bodies edit that same comment
# (Bitbucket Server: with the version its last answer gave), an unchanged
# body sends nothing, a comment deleted on the forge is posted again, a
# body over GitHub's limit is cut with a note instead of being refused, and
# a request slower than the timeout is retried, a spent rate limit waited
# out.  tests/forge-send drives the daemon's reporter on a real store; the
# forge is tests/forge-double.py, a test double (a forge's REST API cannot
# run here) that checks each request against the forge's documented
# contract and answers with the corpus's real bodies.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"
. "${top_srcdir:-.}/tests/daemon/forge-lib.sh"

if [ ! -f "$corpus/CONTRACTS.md" ]; then
	skip "the corpus is not at $corpus"
	tap_done
fi
send_bin=$builddir/tests/forge-send

# "KIND METHOD LAST-PATH-SEGMENT TEXT-LENGTH" per comment request.
comments() {
	python3 - "$fd_record" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if not (e["kind"] or "").startswith("comment"):
        continue
    b = e["body"] if isinstance(e["body"], dict) else {}
    text = b.get("body") or b.get("text") or (b.get("content") or {}).get("raw") or ""
    extra = " v%s" % b["version"] if "version" in b else ""
    print(e["kind"], e["method"], e["path"].rsplit("/", 1)[1], len(text), str(e["answer"]) + extra)
PY
}

run() {
	kind=$1
	project=$2
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-comment.XXXXXX")
	trap 'fd_stop; rm -rf "$tmp"' EXIT
	fd_start "$kind" "$project" || { not_ok "$kind: the double starts"; return; }
	db=$tmp/cs.db
	send() {
		"$send_bin" "$db" "$kind" "$fd_api" "$project" "$tmp/forge.token" \
		    "$@" >>"$tmp/send.log" 2>&1
	}
	check "$kind: a first comment is sent" send comment 7 "plan one" send
	check "$kind: a second body is sent" send comment 7 "plan two!" send
	check "$kind: the same body again sends nothing" send comment 7 "plan two!" send
	check "$kind: a third body is sent" send comment 7 "plan three" send
	case $kind in
	github) id=1 ;;
	gitlab) id=301 ;;
	gitea|forgejo) id=74 ;;
	bitbucket) id=419169807 ;;
	bitbucket-server) id=1 ;;
	esac
	got=$(comments | tr '\n' ';')
	case $kind in
	github|gitea|forgejo) m=PATCH ;;
	*) m=PUT ;;
	esac
	case $kind in
	bitbucket-server)
		want="comment-create POST comments 8 201;comment-edit PUT $id 9 200 v0;comment-edit PUT $id 10 200 v1;" ;;
	*)
		seg=comments
		[ "$kind" = gitlab ] && seg=notes
		want="comment-create POST $seg 8 201;comment-edit $m $id 9 200;comment-edit $m $id 10 200;" ;;
	esac
	if [ "$got" = "$want" ]; then
		ok "$kind: created once, then edited in place"
	else
		not_ok "$kind: created once, then edited in place"
		diag "got  $got"
		diag "want $want"
		sed 's/^/# /' "$tmp/send.log" | tail -20
	fi
	# Deleted on the forge: the edit's 404 makes the next delivery a create.
	fd_control '{"gone": 1}'
	check "$kind: a comment deleted on the forge is posted again" \
	    send comment 7 "plan four" send
	got=$(comments | tail -2 | cut -d' ' -f1,5 | tr '\n' ';')
	check "$kind: ... as a new comment after the edit's 404" \
	    test "$got" = "comment-edit 404;comment-create 201;"
	check "$kind: every request kept to the forge's contract" fd_no_violations
	check "$kind: the token is never logged" \
	    sh -c "! grep -q -F '$fd_token' '$tmp/send.log'"
	fd_stop
	rm -rf "$tmp"
}

run github ops/infra
# GitHub refuses bodies over 65536 characters: cut, with a note.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-comment.XXXXXX")
fd_start github ops/infra
python3 -c "print('x' * 100000)" >"$tmp/big"
db=$tmp/cs.db
check "github: a 100000-byte plan is delivered" \
    "$send_bin" "$db" github "$fd_api" ops/infra "$tmp/forge.token" \
    comment-file 3 "$tmp/big" send
check "github: ... cut to 65536 characters" \
    test "$(comments | awk '{print $4}')" = 65536
check "github: ... with a note" grep -q "Trimmed to the forge" "$fd_record"
fd_stop
rm -rf "$tmp"

# A slow forge: past the per-request timeout the request is abandoned and
# retried; an answer within it is waited for.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-comment.XXXXXX")
fd_start github ops/infra
db=$tmp/cs.db
slow_send() {
	FORGE_SEND_TIMEOUT_MS=$1 "$send_bin" "$db" github "$fd_api" ops/infra \
	    "$tmp/forge.token" status "$2" cloudsphere/web success done send \
	    >>"$tmp/send.log" 2>&1
}
sha_a=$(printf '%040d' 1)
sha_b=$(printf '%040d' 2)
fd_control '{"slow": 3, "slow_count": 1}'
check "github: a request slower than the timeout is retried and delivered" \
    slow_send 1000 "$sha_a"
check "github: ... after the timeout" \
    grep -q "of 0000000: Operation timed out after .*; retry 1" "$tmp/send.log"
fd_control '{"slow": 1, "slow_count": 1}'
check "github: a slow answer within the timeout is waited for" \
    slow_send 5000 "$sha_b"
check "github: ... and sent once" test "$(grep -c "$sha_b" "$fd_record")" -eq 1
fd_stop
rm -rf "$tmp"

# A spent rate limit (GitHub: 403 and X-RateLimit-Remaining 0, GitLab:
# 429 and RateLimit-Remaining 0) holds the retry until the reset time.
gap_after_first() {
	python3 - "$fd_record" "$1" <<'PY'
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1]) if sys.argv[2] in l]
print("%.3f" % (t[1] - t[0]) if len(t) > 1 else "0")
PY
}
for kind in github gitlab; do
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-comment.XXXXXX")
	fd_start "$kind" ops/infra
	db=$tmp/cs.db
	sha_c=$(printf '%040d' 3)
	fd_control '{"rate_limit": 1, "rate_reset": 2}'
	check "$kind: delivered after a spent rate limit" \
	    "$send_bin" "$db" "$kind" "$fd_api" ops/infra "$tmp/forge.token" \
	    status "$sha_c" cloudsphere/web success done send
	gap=$(gap_after_first "$sha_c")
	check "$kind: ... retried at the reset time (after ${gap}s), not at once" \
	    python3 -c "import sys; sys.exit(not float('$gap') >= 0.9)"
	fd_stop
	rm -rf "$tmp"
done

run gitlab group/infra
run gitea ops/infra
run forgejo ops/infra
run bitbucket team/infra
run bitbucket-server OPS/infra
tap_done
