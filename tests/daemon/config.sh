#!/bin/sh
# cloudsphered's configuration (TAP): -n accepts a good file and prints every
# error of a bad one as FILE:LINE: message with exit status 1; secret files
# readable by others and empty webhook secrets are refused; SIGHUP with a
# broken file keeps the running configuration, with a good one applies it;
# cloudspherectl exits 3 when no daemon answers.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
conf=$tmp/cloudsphered.yaml
out=$("$daemon_bin" -n -c "$conf" 2>&1); st=$?
check "-n accepts the test configuration" test $st -eq 0
check "-n says OK" test "$out" = "$conf: configuration OK (1 repositories)"

bad=$tmp/bad.yaml
printf 'secret_dir: /x\nmax_parallel_runs: 0\nrepositories:\n  - name: Bad_Name\n    url: ftp://example.com/x\n    poll_interval: soon\n  - name: ok\n    url: /srv/ok.git\n    webhook: { forge: github, secret_file: %s }\n  - name: ok\n    url: /srv/ok2.git\n' \
    "$tmp/hook.secret" >"$bad"
: >"$tmp/hook.secret"
chmod 644 "$tmp/hook.secret"
{
	echo "$bad:1: unknown key 'secret_dir' in the configuration (did you mean 'secrets_dir'?)"
	echo "$bad:2: max_parallel_runs: 0 is out of range (1 to 256)"
	echo "$bad:4: invalid repository name 'Bad_Name' (lowercase letters, digits and '-', at most 63)"
	echo "$bad:5: url 'ftp://example.com/x': not a local path, file://, https://, http://, ssh:// or user@host:path URL"
	echo "$bad:6: poll_interval: invalid duration 'soon' (like 30s, 5m, 1h30m)"
	echo "$bad:9: webhook.secret_file $tmp/hook.secret: readable or writable by others (mode 644); chmod 600 it"
	echo "$bad:10: repository 'ok' is already defined at line 7"
} >"$tmp/expected"
"$daemon_bin" -n -c "$bad" >"$tmp/out" 2>&1; st=$?
check "-n refuses a broken file with status 1" test $st -eq 1
if cmp -s "$tmp/expected" "$tmp/out"; then
	ok "-n prints every error as FILE:LINE: message"
else
	not_ok "-n prints every error as FILE:LINE: message"
	diag "$(diff "$tmp/expected" "$tmp/out")"
fi
chmod 600 "$tmp/hook.secret"
"$daemon_bin" -n -c "$bad" >"$tmp/out" 2>&1
check "an empty webhook secret is refused" \
    grep -q "hook.secret: empty; a webhook secret must not be empty" "$tmp/out"

# cloudspherectl without a daemon.
d_ctl status >/dev/null 2>&1; st=$?
check "cloudspherectl exits 3 when the daemon cannot be reached" test $st -eq 3

# SIGHUP.
d_deployment a "inputs: { value: a }"
d_commit "a"
d_start || { not_ok "daemon starts"; tap_done; }
d_check_phase a ready
cp "$conf" "$tmp/good.yaml"
printf 'log_max_bytes: huge\n' >>"$conf"
kill -HUP "$d_pid"
refused() { grep -q "not reloaded, the running configuration stays" "$tmp/daemon.log"; }
check "SIGHUP with a broken file is refused" d_wait_cond 5 refused
check "the error is logged with its line" \
    grep -q "cloudsphered.yaml:[0-9]*: log_max_bytes: 'huge' is not a size" "$tmp/daemon.log"
check "the daemon still answers" d_ctl status
cp "$tmp/good.yaml" "$conf"
kill -HUP "$d_pid"
reloaded() { grep -q ": reloaded" "$tmp/daemon.log"; }
check "SIGHUP with a good file reloads it" d_wait_cond 5 reloaded
d_deployment a "inputs: { value: b }"
d_commit "a: b"
applied_b() { test "$(d_field a "d['outputs']['value']")" = b; }
check "the daemon works on after the reloads" d_wait_cond 20 applied_b
d_stop
tap_done
