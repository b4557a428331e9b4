#!/bin/sh
# The ledger branch (TAP), pushed for real: to a local bare repository
# (the one the daemon watches, by file:// URL), through `git http-backend`
# over HTTP, and to an sshd on loopback.  After a push that applies two
# deployments the branch holds their status files and logs, read with
# plain git, equal to what the API says, without secrets; the ledger push
# causes no fetch nor run of its own; a second writer pushing to the same
# branch at the same time loses nothing and makes the daemon lose nothing;
# a remote that is gone for a while gets the pending update when it is
# back, and so does a daemon killed before it could push; a stop pushes
# before it exits; a push a hook refuses is retried, not rebuilt;
# ledger_branch "" writes nothing.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

L=cloudsphere/status
d_setup 0
sed -i "s|url: .*|url: file://$remote|" "$tmp/cloudsphered.yaml"
printf 'sup3r-s3cret-value\n' >"$tmp/secrets/probe_token"
chmod 600 "$tmp/secrets/probe_token"
# The two first applies end together (a barrier), as close as the batch
# window needs whatever the machine's load.
d_deployment alpha "inputs: { value: a, token: \"\${{ secrets.probe_token }}\", barrier: $tmp/release }"
d_deployment beta "inputs: { value: b, barrier: $tmp/release }"
d_commit "two deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_release "$tmp/release" 2 || not_ok "both applies reach the barrier"
d_check_phase alpha ready
d_check_phase beta ready

# g ARGS: git in the watched bare repository.
g() { git -C "$remote" "$@"; }
# ledger_has DEP EXPR: the status file read back from the ledger tip as
# YAML, with a Python expression on it (d).
ledger_has() {
	g show "$L:deployments/$1.yaml" 2>/dev/null | python3 -c "import sys, yaml
d = yaml.safe_load(sys.stdin)
sys.exit(0 if ($2) else 1)"
}
last_run() { d_field "$1" "d['last_run']['id']"; }
a_run=$(last_run alpha)
b_run=$(last_run beta)
check "the ledger has alpha's status" d_wait_cond 10 ledger_has alpha "d['last_run']['id'] == $a_run"
check "the ledger has beta's status" d_wait_cond 10 ledger_has beta "d['last_run']['id'] == $b_run"
check "git show reads the logs" sh -c "git -C '$remote' show $L:logs/alpha.log | grep -q 'probe alpha apply' &&
    git -C '$remote' show $L:logs/beta.log | grep -q 'probe beta apply'"
same_as_api() {
	d_json "$1" >"$tmp/api.json"
	g show "$L:deployments/$1.yaml" | python3 -c "import json, sys, yaml
f = yaml.safe_load(sys.stdin)
a = json.load(open('$tmp/api.json'))
assert f == a, (f, a)"
}
check "the status file says what the API says, field for field" same_as_api beta
check "the status file has the fields of DESIGN.md section 7" ledger_has alpha \
    "d['phase'] == 'ready' and d['blueprint'] == 'probe' and d['environment'] == 'test' and \
     set(d['desired']) == {'commit', 'fingerprint'} and set(d['applied']) == {'commit', 'fingerprint', 'at'} and \
     d['last_run']['action'] == 'apply' and d['last_run']['result'] == 'succeeded' and \
     d['last_run']['exit_code'] == 0 and d['outputs']['value'] == 'a'"
no_secret() { ! g grep -q -F sup3r-s3cret "$L"; }
check "no secret anywhere in the ledger" no_secret
redacted() { g show "$L:logs/alpha.log" | grep -q -F '"token":"***"'; }
check "the log shows the secret as ***" redacted
src=$(g rev-parse --short=7 main)
subject() { g log -1 --format=%s "$L"; }
# Runs that end together share a commit (the two started together).
check "the two runs share one commit" test "$(g rev-list --count $L)" -eq 1
check "its message names both (\"$(subject)\")" sh -c "git -C '$remote' log -1 --format=%B $L | grep -qx 'alpha: apply succeeded ($src)' &&
    git -C '$remote' log -1 --format=%B $L | grep -qx 'beta: apply succeeded ($src)'"
check "the watched branch is untouched" test "$(g rev-list --count main)" -eq 1

# The ledger never reconciles itself: its pushes to the very repository
# the daemon watches with inotify cause no sync, no fetch, no run.
syncs() { grep -c "infra: sync (inotify)" "$tmp/daemon.log"; }
runs_before=$(d_runs alpha | wc -l)
d_ctl plan alpha >/dev/null 2>&1
plan_done() { ledger_has alpha "d['last_run']['action'] == 'plan'"; }
check "an operator's plan reaches the ledger" d_wait_cond 15 plan_done
check "one commit for it: '$(subject)'" sh -c "git -C '$remote' log -1 --format=%s $L | grep -q '^alpha: plan succeeded'"
sleep 1
check "the ledger's pushes caused no inotify sync ($(syncs))" test "$(syncs)" -eq 0
check "and no run beyond the plan" test "$(d_runs alpha | wc -l)" -eq $((runs_before + 1))
d_deployment beta "inputs: { value: b2 }"
d_commit "beta: b2"
check "a push to the watched branch still syncs at once" d_wait_cond 5 sh -c "test \$(grep -c 'infra: sync (inotify)' '$tmp/daemon.log') -ge 1"
d_check_phase beta ready
b_run=$(last_run beta)
check "beta's new run reaches the ledger" d_wait_cond 10 ledger_has beta "d['last_run']['id'] == $b_run and d['outputs']['value'] == 'b2'"
s0=$(syncs)
sleep 1.5
check "no sync after the ledger's push ($(syncs) = $s0)" test "$(syncs)" -eq "$s0"
# With both branches packed (packed-refs renamed into place: one sync),
# a ledger push writes its loose ref again and packed-refs stays.
g pack-refs --all
sleep 1
s0=$(syncs)
d_ctl plan beta >/dev/null 2>&1
b_plan() { ledger_has beta "d['last_run']['action'] == 'plan'"; }
check "a plan reaches the packed ledger branch" d_wait_cond 15 b_plan
sleep 1
check "no sync after that push ($(syncs) = $s0)" test "$(syncs)" -eq "$s0"

# A second writer pushing to the ledger branch while the daemon does.
git clone -q -b "$L" "$remote" "$tmp/other" 2>/dev/null
(
	cd "$tmp/other" || exit 1
	i=1
	while [ $i -le 12 ]; do
		echo "note $i" >>notes.txt
		git add notes.txt
		git commit -q -m "other writer: note $i"
		n=0
		until git push -q origin "HEAD:$L" 2>/dev/null; do
			git pull -q --rebase origin "$L" 2>/dev/null
			n=$((n + 1))
			[ $n -gt 50 ] && exit 1
		done
		i=$((i + 1))
		sleep 0.15
	done
) &
writer=$!
for v in 1 2 3 4 5 6; do
	d_deployment alpha "inputs: { value: a$v, token: \"\${{ secrets.probe_token }}\" }"
	d_deployment beta "inputs: { value: b$v }"
	d_commit "values $v"
	sleep 0.4
done
wait $writer
check "the other writer's pushes all went through" test $? -eq 0
d_check_phase alpha ready
d_check_phase beta ready
check "the daemon's last values are in the ledger" d_wait_cond 15 sh -c "
    git -C '$remote' show $L:deployments/alpha.yaml | grep -q 'value: a6' &&
    git -C '$remote' show $L:deployments/beta.yaml | grep -q 'value: b6'"
check "the other writer's 12 commits are all in the ledger's history" \
    test "$(g log --format=%s $L | grep -c '^other writer: note')" -eq 12
check "and its file, whole, at the tip" test "$(g show $L:notes.txt | wc -l)" -eq 12
# Every ledger commit of the daemon is in the history: one per run batch,
# each carrying its deployments' line.
daemon_lines=$(g log --format=%B $L | grep -c '^alpha: apply succeeded\|^beta: apply succeeded')
check "the daemon's commits are all there ($daemon_lines lines)" test "$daemon_lines" -ge 4
check "no merge commits: each side built on the other" test "$(g rev-list --merges --count $L)" -eq 0
metric() {
	curl -s --unix-socket "$tmp/ctl.sock" http://x/metrics | awk -v m="$1" '$1 ~ "^"m"{" { print $2 }'
}
check "/metrics counts ledger commits ($(metric cloudsphere_ledger_commits_total))" \
    test "$(metric cloudsphere_ledger_commits_total)" -ge 3
check "/metrics shows nothing pending" test "$(metric cloudsphere_ledger_pending)" = 0

# The remote goes away (moved), the update waits and arrives once back.
mv "$remote" "$remote.away"
d_ctl plan beta >/dev/null 2>&1
failing() { grep -q "ledger $L: push failed\|ledger $L: fetch failed\|ledger $L: .*failed" "$tmp/daemon.log"; }
check "a push to a remote that is gone fails, logged" d_wait_cond 15 failing
check "/metrics counts the failure, 1 pending" sh -c "test \"\$(curl -s --unix-socket '$tmp/ctl.sock' http://x/metrics | awk '/^cloudsphere_ledger_push_failures_total/ { print \$2 }')\" -ge 1 &&
    test \"\$(curl -s --unix-socket '$tmp/ctl.sock' http://x/metrics | awk '/^cloudsphere_ledger_pending/ { print \$2 }')\" = 1"
status_ledger() {
	d_ctl --json status | python3 -c "import json, sys
l = json.load(sys.stdin)['repositories'][0]['ledger']
sys.exit(0 if ($1) else 1)"
}
check "cloudspherectl status says why and what waits" \
    status_ledger "l['branch'] == '$L' and l['pending'] == 1 and 'remote.git' in l['error']"
b_run=$(d_runs beta | awk 'END { print $1 }')
mv "$remote.away" "$remote"
check "back: the pending update arrives" d_wait_cond 30 ledger_has beta "d['last_run']['id'] == $b_run and d['last_run']['action'] == 'plan'"
check "and the status clears" d_wait_cond 5 status_ledger "l['pending'] == 0 and l.get('error') is None"
check "and the other writer's file is still there" test "$(g show $L:notes.txt | wc -l)" -eq 12

# Killed with an update not pushed: it arrives after the restart.
# The run's end and its mark are one store transaction: once the plan has
# ended, the update waits in the store.
mv "$remote" "$remote.away"
n=$(d_runs alpha | wc -l)
d_ctl plan alpha >/dev/null 2>&1
plan_ended() {
	d_runs alpha | awk -v n="$n" 'NR > n && $2 == "plan" && $3 == "succeeded" { f = 1 } END { exit !f }'
}
d_wait_cond 15 plan_ended || not_ok "the plan ends"
a_run=$(d_runs alpha | awk 'END { print $1 }')
d_stop KILL
mv "$remote.away" "$remote"
check "the plan did not reach the ledger before the kill" sh -c "! git -C '$remote' show $L:deployments/alpha.yaml | grep -q 'id: $a_run\$'"
d_start || not_ok "daemon restarts"
check "after the restart, it arrives" d_wait_cond 20 ledger_has alpha "d['last_run']['id'] == $a_run"

# A stop (SIGTERM) pushes what its last runs left before it exits: here a
# run cut short when shutdown_grace is over.
d_deployment alpha "inputs: { value: a7, sleep: 30, token: \"\${{ secrets.probe_token }}\" }"
d_commit "alpha: slow"
d_wait_phase alpha applying 20
d_stop
check "the daemon stopped cleanly ($d_status)" test "$d_status" -eq 0
check "the interrupted run was pushed before the exit" \
    ledger_has alpha "d['last_run']['result'] == 'interrupted' and d['phase'] == 'failed'"
d_deployment alpha "inputs: { value: a8, token: \"\${{ secrets.probe_token }}\" }"
d_commit "alpha: quick again"

# ledger_branch "": no ledger at all.
sed -i "s|poll_interval: .*|poll_interval: 0s\n    ledger_branch: \"\"|" "$tmp/cloudsphered.yaml"
tip=$(g rev-parse "$L")
d_start || not_ok "daemon starts without a ledger"
d_deployment beta "inputs: { value: b-off }"
d_commit "beta: off"
off_applied() { test "$(d_field beta "d['outputs']['value']")" = b-off; }
d_wait_cond 20 off_applied
sleep 1.5
check "with ledger_branch \"\" nothing is pushed" test "$(g rev-parse "$L")" = "$tip"
check "and /metrics has no ledger lines" sh -c "! curl -s --unix-socket '$tmp/ctl.sock' http://x/metrics | grep -q ledger"
d_stop
sed -i '/ledger_branch: ""/d' "$tmp/cloudsphered.yaml"

# other_push BRANCH: another writer's commit on a ledger branch, pushed
# straight to the bare repository, behind the daemon's back.
other_push() {
	rm -rf "$tmp/o2"
	git clone -q -b "$1" "$remote" "$tmp/o2" 2>/dev/null &&
	    echo "$1" >"$tmp/o2/other-$2.txt" &&
	    git -C "$tmp/o2" add -A && git -C "$tmp/o2" commit -q -m "other on $1" &&
	    git -C "$tmp/o2" push -q origin "HEAD:$1" 2>/dev/null
}
# rebuilt BRANCH DEP: after someone else pushed, the daemon's next push is
# rejected (its tip is stale), rebuilt on theirs, and both commits stay.
rebuilt() {
	other_push "$1" "$2" || return 1
	d_ctl plan "$2" >/dev/null 2>&1 || return 1
	d_wait_cond 20 sh -c "git -C '$remote' log -1 --format=%s $1 | grep -q '^$2: plan succeeded'" || return 1
	git -C "$remote" log --format=%s "$1" | grep -q "^other on $1\$" &&
	    git -C "$remote" show "$1:other-$2.txt" >/dev/null &&
	    grep -q "ledger $1: .*rebuilding on the new tip" "$tmp/daemon.log"
}

# Over HTTP, through git http-backend (receive-pack enabled).
port=$(d_free_port)
python3 "$srcdir/tests/daemon/git-http.py" "$tmp" "$port" >"$tmp/http.log" 2>&1 &
http_pid=$!
d_kill_at_exit $http_pid
d_wait_cond 30 d_listening "$port" || not_ok "git-http.py listens"
g config http.receivepack true
sed -i "s|url: .*|url: http://127.0.0.1:$port/remote.git|; s|poll_interval: .*|poll_interval: 1s\n    ledger_branch: ledger/http|" \
    "$tmp/cloudsphered.yaml"
d_deployment gamma "inputs: { value: g }"
d_commit "gamma"
d_start || not_ok "daemon starts with an HTTP remote"
d_check_phase gamma ready
g_run=$(last_run gamma)
http_ok() {
	git -C "$remote" show ledger/http:deployments/gamma.yaml 2>/dev/null | grep -q "id: $g_run\$"
}
check "pushed over HTTP: gamma's status is on ledger/http" d_wait_cond 15 http_ok
check "and its log" sh -c "git -C '$remote' show ledger/http:logs/gamma.log | grep -q 'probe gamma apply'"
check "the HTTP server saw receive-pack" grep -q "git-receive-pack" "$tmp/http.log"
check "a push rejected over HTTP is rebuilt on the other writer's tip" rebuilt ledger/http gamma
# A remote that refuses (a hook): retried with backoff, not rebuilt.
cat >"$remote/hooks/pre-receive" <<EOF
#!/bin/sh
test -e "$tmp/refuse" && { echo "ledger/http is closed" >&2; exit 1; }
exit 0
EOF
chmod +x "$remote/hooks/pre-receive"
touch "$tmp/refuse"
rebuilds=$(grep -c "rebuilding on the new tip" "$tmp/daemon.log")
d_ctl plan gamma >/dev/null 2>&1
declined() { grep -q "ledger ledger/http: push rejected: .*declined" "$tmp/daemon.log"; }
check "a push the remote's hook declines is logged" d_wait_cond 15 declined
check "and is not taken for a moved branch" \
    test "$(grep -c "rebuilding on the new tip" "$tmp/daemon.log")" -eq "$rebuilds"
g_run=$(d_runs gamma | awk 'END { print $1 }')
rm -f "$tmp/refuse"
check "once the hook lets it, the update arrives" d_wait_cond 20 http_ok
rm -f "$remote/hooks/pre-receive"
d_stop
kill $http_pid 2>/dev/null

# Over SSH, to a real sshd on loopback (known_hosts checked as for fetch).
if ! d_have_sshd; then
	skip "sshd (openssh-server) is not installed"
	tap_done
fi
d_sshd_start || { not_ok "sshd starts"; tap_done; }
sed -i "s|url: .*|url: $(d_ssh_url "$remote")|; s|ledger_branch: .*|ledger_branch: ledger/ssh\n$(d_ssh_auth "$tmp/known_hosts")|" \
    "$tmp/cloudsphered.yaml"
d_deployment delta "inputs: { value: d }"
d_commit "delta"
d_start || not_ok "daemon starts with an SSH remote"
d_check_phase delta ready
dl_run=$(last_run delta)
ssh_ok() {
	git -C "$remote" show ledger/ssh:deployments/delta.yaml 2>/dev/null | grep -q "id: $dl_run\$"
}
check "pushed over SSH: delta's status is on ledger/ssh" d_wait_cond 15 ssh_ok
check "and its log" sh -c "git -C '$remote' show ledger/ssh:logs/delta.log | grep -q 'probe delta apply'"
check "a push rejected over SSH is rebuilt on the other writer's tip" rebuilt ledger/ssh delta
d_stop
d_sshd_stop
tap_done
