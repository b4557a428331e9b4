#!/bin/sh
# cloudsphered's webhook receivers (TAP), through the real HTTP endpoint on
# TCP and on the control socket: every signature vector of the corpus
# accepted or refused as labelled, every corpus delivery accepted and
# classified as tests/webhook-corpus.txt says (in the daemon's log), 413,
# 400, 404, 401, a replayed delivery ignored, a slow client dropped, tags
# ignored unless webhook.tags, the secret reloaded on SIGHUP and never
# logged, an empty secret refused, and a GitHub push to the watched branch
# applying the new commit with trigger "webhook" while polling is off (the
# repository is served over HTTP, so inotify does not see the push).
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

corpus=${CORPUS_DIR:-$srcdir/../shared/corpus}
if [ ! -f "$corpus/signature-vectors/vectors.json" ]; then
	echo "1..0 # SKIP no corpus at $corpus"
	exit 0
fi
send="python3 $srcdir/tests/daemon/webhook-send.py"
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
secret_file() {	# NAME VALUE
	printf '%s\n' "$2" >"$tmp/$1"
	chmod 600 "$tmp/$1"
}

d_setup 0
port=$(free_port)
hport=$(free_port)
python3 "$srcdir/tests/daemon/git-http.py" "$tmp" "$hport" >"$tmp/http.log" 2>&1 &
http_pid=$!
hook_secret="hook-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
corpus_secret="corpus-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
secret_file hook.secret "$hook_secret"
secret_file corpus.secret "$corpus_secret"
secret_file api.token "tok-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
git init -q --bare -b main "$tmp/other.git"

sed -i "1i listen: 127.0.0.1:$port\napi_token_file: $tmp/api.token" \
    "$tmp/cloudsphered.yaml"
sed -i "s|url: $remote|url: http://127.0.0.1:$hport/remote.git|" \
    "$tmp/cloudsphered.yaml"
cat >>"$tmp/cloudsphered.yaml" <<EOF
    webhook: { forge: github, secret_file: $tmp/hook.secret }
  - name: nohook
    url: $tmp/other.git
    poll_interval: 0
EOF
# One repository per forge for the corpus, one per signature vector.
for f in github gitlab gitea bitbucket bitbucket-server; do
	tags=false
	[ $f = gitlab ] && tags=true
	cat >>"$tmp/cloudsphered.yaml" <<EOF
  - name: c-$f
    url: $tmp/other.git
    poll_interval: 0
    webhook: { forge: $f, secret_file: $tmp/corpus.secret, tags: $tags }
EOF
done
python3 - "$corpus" "$tmp" >>"$tmp/cloudsphered.yaml" <<'EOF'
import json, os, sys
corpus, tmp = sys.argv[1], sys.argv[2]
for i, v in enumerate(json.load(open(corpus + "/signature-vectors/vectors.json"))):
    p = "%s/vector%d.secret" % (tmp, i)
    with open(p, "w") as f:
        f.write(v["secret"] + "\n")
    os.chmod(p, 0o600)
    print("  - name: v%d\n    url: %s/other.git\n    poll_interval: 0\n"
          "    webhook: { forge: %s, secret_file: %s }" % (i, tmp, v["forge"], p))
EOF

d_deployment web "inputs: { value: one }"
d_commit "web: one"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase web ready

tcp=tcp:$port
unix=unix:$tmp/ctl.sock
hook() {	# TARGET FORGE REPO SECRET EVENT FILE [DELIVERY [SIG]]: the code
	$send one "$@" | awk '{ print $1 }'
}

# A slow client, in the background while the rest runs: dropped after the
# listen address's 30 s timeout.
$send slow "$tcp" 50 >"$tmp/slow" 2>&1 &
slow_pid=$!

# Every signature vector.
$send vectors "$tcp" "$corpus" v >"$tmp/vectors" 2>&1
vectors_ok() {
	python3 - "$tmp/vectors" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
assert len(rows) == 9, rows
for vid, expect, code in rows:
    want = "202" if expect == "valid" else "401"
    if vid == "go-scm-github-sha1-fallback-valid":
        want = "401"    # legacy SHA-1 alone is refused by choice
    if vid == "github-docs":
        want = "400"    # verified, then "Hello, World!" is no JSON
    assert code == want, (vid, code, want)
EOF
}
check "every signature vector: 202, or 401 when invalid (SHA-1 alone refused)" vectors_ok
diag "$(cat "$tmp/vectors")"
printf 'Hello, World!' >"$tmp/hello"
check "the GitHub docs vector with a wrong secret: 401" \
    test "$(hook "$tcp" github v0 wrong push "$tmp/hello")" = 401

# Every corpus delivery, classified as the table says.
if $send corpus "$tcp" "$corpus" "$srcdir/tests/webhook-corpus.txt" \
    "$corpus_secret" c- "$tmp/daemon.log" >"$tmp/corpus.out" 2>&1; then
	ok "every corpus delivery: 202 (400 when listed invalid), logged with its classification"
else
	not_ok "every corpus delivery: 202 (400 when listed invalid), logged with its classification"
	diag "$(cat "$tmp/corpus.out")"
fi
check "a GitLab tag push with webhook.tags: a sync" \
    grep -q "c-gitlab: webhook gitlab Tag Push Hook delivery corpus-[0-9]*: tag refs/tags/v1.0.0 [0-9a-f]*: sync" "$tmp/daemon.log"
check "a GitHub tag push without webhook.tags: ignored" \
    grep -q "c-github: webhook github push delivery corpus-[0-9]*: tag refs/tags/v0.0.1 .*: a tag, ignored" "$tmp/daemon.log"
check "pull-request events reach the pull callback" \
    grep -q "c-gitea: pull request 1 synchronized: head 2eba238e3360 (feature) into master" "$tmp/daemon.log"

# Refusals.
big=$($send big "$tcp" $((4 * 1024 * 1024 + 1)))
check "a body over 4 MiB: 413 before it is sent ($big)" \
    sh -c "echo '$big' | grep -q ' 413 '"
printf '{"zen": "truncated' >"$tmp/broken.json"
check "malformed JSON with a right signature: 400" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/broken.json")" = 400
echo '{"zen": "ok", "hook_id": 1}' >"$tmp/ping.json"
check "an unknown repository: 404" \
    test "$(hook "$tcp" github nosuch "$hook_secret" ping "$tmp/ping.json")" = 404
check "a forge that is not the repository's: 404" \
    test "$(hook "$tcp" gitlab infra "$hook_secret" ping "$tmp/ping.json")" = 404
check "a repository without a webhook: 404" \
    test "$(hook "$tcp" github nohook "$hook_secret" ping "$tmp/ping.json")" = 404
check "no signature: 401" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" d-1 none)" = 401
check "a wrong signature: 401" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" d-1 bad)" = 401
check "a right legacy SHA-1 signature alone: 401" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" d-1 sha1)" = 401
check "the API's bearer token is not needed for webhooks, it is for the API" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/deployments")" = 401

# Ping, replay, the control socket.
check "a ping: 202" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" ping-1)" = 202
check "the ping is logged" \
    grep -q "infra: webhook github ping delivery ping-1: ping: ping" "$tmp/daemon.log"
check "the same delivery again: 200, ignored" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" ping-1)" = 200
check "the replay is logged as such" \
    grep -q "infra: webhook github ping delivery ping-1: already received, ignored" "$tmp/daemon.log"
check "on the control socket too: 202" \
    test "$(hook "$unix" github infra "$hook_secret" ping "$tmp/ping.json" ping-2)" = 202

# A push to the watched branch: the new commit applied, trigger webhook.
d_deployment web "inputs: { value: two }"
d_commit "web: two"
sha=$(git -C "$work" rev-parse HEAD)
sleep 1
check "with polling off and an HTTP remote, nothing happens without the hook" \
    test "$(d_runs web | wc -l)" -eq 1
printf '{"ref": "refs/heads/other", "before": "%s", "after": "%s", "deleted": false}' \
    "$sha" "$sha" >"$tmp/push-other.json"
check "a push to another branch: 202" \
    test "$(hook "$tcp" github infra "$hook_secret" push "$tmp/push-other.json" push-0)" = 202
printf '{"ref": "refs/heads/main", "before": "%s", "after": "%s", "deleted": false, "created": false}' \
    "$(git -C "$work" rev-parse HEAD~1)" "$sha" >"$tmp/push.json"
code=$(WEBHOOK_TIMING=1 $send one "$tcp" github infra "$hook_secret" push "$tmp/push.json" push-1 2>"$tmp/took")
took=$(cat "$tmp/took")
check "a push to main: 202 ($code)" sh -c "echo '$code' | grep -q '^202 '"
# Milliseconds, normally; a second leaves room for a loaded, sanitised build.
check "answered at once, before the fetch ($took s)" \
    awk -v t="$took" 'BEGIN { exit !(t + 0 > 0 && t + 0 < 1) }'
applied() { test "$(cat "$state/deployments/infra/web/applied" 2>/dev/null)" = two; }
check "the new commit is applied" d_wait_cond 20 applied
trigger_ok() {
	d_ctl --json runs web | python3 -c "import json,sys
r = json.load(sys.stdin)[0]
assert r['trigger'] == 'webhook' and r['commit'] == '$sha' and r['state'] == 'succeeded', r"
}
check "its run has trigger webhook and the pushed commit" d_wait_cond 20 trigger_ok
check "the other branch did not sync" \
    grep -q "infra: webhook github push delivery push-0: push refs/heads/other $sha: another ref, ignored" "$tmp/daemon.log"
printf '{"ref": "refs/heads/main", "before": "%s", "after": "0000000000000000000000000000000000000000", "deleted": true}' \
    "$sha" >"$tmp/delete.json"
check "deleting the watched branch: 202" \
    test "$(hook "$tcp" github infra "$hook_secret" push "$tmp/delete.json" push-2)" = 202
check "and ignored" grep -q "delivery push-2: push-delete refs/heads/main -: the watched branch deleted, ignored" "$tmp/daemon.log"
printf '{"ref": "refs/tags/v1", "before": "0000000000000000000000000000000000000000", "after": "%s"}' \
    "$sha" >"$tmp/tag.json"
check "a tag push without webhook.tags: 202" \
    test "$(hook "$tcp" github infra "$hook_secret" push "$tmp/tag.json" push-3)" = 202
check "and ignored" grep -q "delivery push-3: tag refs/tags/v1 $sha: a tag, ignored" "$tmp/daemon.log"
sleep 1
check "no run came of them" test "$(d_runs web | wc -l)" -eq 2

# Counters.
d_ctl_metrics() {
	curl -s --unix-socket "$tmp/ctl.sock" http://localhost/metrics
}
d_ctl_metrics >"$tmp/metrics"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/metrics"; }
pulls=$(grep -v '^#' "$srcdir/tests/webhook-corpus.txt" | awk '$4 == "pull"' | wc -l)
# The corpus's, and the Gitea vector's.
pulls=$((pulls + 1))
check "metrics: accepted pull requests ($(metric 'cloudsphere_webhook_accepted_total{event="pull"}') of $pulls)" \
    test "$(metric 'cloudsphere_webhook_accepted_total{event="pull"}')" -eq "$pulls"
check "metrics: one replayed" test "$(metric cloudsphere_webhook_replayed_total)" -eq 1
check "metrics: signatures refused" \
    test "$(metric 'cloudsphere_webhook_rejected_total{reason="signature"}')" -ge 8
check "metrics: unknown repositories" \
    test "$(metric 'cloudsphere_webhook_rejected_total{reason="unknown_repository"}')" -eq 3
check "metrics: malformed" \
    test "$(metric 'cloudsphere_webhook_rejected_total{reason="malformed"}')" -ge 3
# 10 vectors, the corpus, 14 more above; not the 413 (the HTTP layer's).
rows=$(grep -v '^#' "$srcdir/tests/webhook-corpus.txt" | grep -c .)
check "metrics: received ($(metric cloudsphere_webhook_received_total))" \
    test "$(metric cloudsphere_webhook_received_total)" -eq $((10 + rows + 14))

# SIGHUP reads the secret again.
secret_file hook.secret "$hook_secret-2"
kill -HUP "$d_pid"
d_wait_cond 10 grep -q "reloaded" "$tmp/daemon.log"
check "after SIGHUP the old secret is refused" \
    test "$(hook "$tcp" github infra "$hook_secret" ping "$tmp/ping.json" ping-3)" = 401
check "and the new one accepted" \
    test "$(hook "$tcp" github infra "$hook_secret-2" ping "$tmp/ping.json" ping-4)" = 202
check "no secret in the log" \
    sh -c "! grep -F -e '$hook_secret' -e '$corpus_secret' -e topsecret '$tmp/daemon.log'"

wait "$slow_pid"
slow=$(cat "$tmp/slow")
check "a slow client is dropped after the 30 s timeout ($slow s)" \
    awk -v s="$slow" 'BEGIN { exit !(s != "open" && s + 0 >= 25 && s + 0 < 45) }'
d_stop
check "the daemon stops cleanly" test "$d_status" -eq 0

# An empty secret: the configuration is refused, the daemon does not start.
: >"$tmp/hook.secret"
"$daemon_bin" -n -c "$tmp/cloudsphered.yaml" >"$tmp/check.out" 2>&1; st=$?
check "an empty webhook secret is refused (exit $st)" test $st -eq 1
check "saying why" grep -q "webhook.secret_file $tmp/hook.secret: empty" "$tmp/check.out"
kill "$http_pid" 2>/dev/null
tap_done
