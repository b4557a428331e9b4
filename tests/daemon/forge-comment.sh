#!/bin/sh
# The forge reporter's pull-request comments (TAP), for every forge: the
# first delivery creates the comment, later bodies edit that same comment
# (Bitbucket Server: with the version its last answer gave), an unchanged
# body sends nothing, and a body over GitHub's limit is cut with a note
# instead of being refused.  tests/forge-send drives the daemon's reporter
# on a real store; the forge is tests/forge-double.py, a test double (a
# forge's REST API cannot run here) that checks each request against the
# forge's documented contract and answers with the corpus's real bodies.
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

run gitlab group/infra
run gitea ops/infra
run forgejo ops/infra
run bitbucket team/infra
run bitbucket-server OPS/infra
tap_done
