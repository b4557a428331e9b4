# Harness for the integration tests of cloudsphered: source it after
# tests/tap.sh.  Everything is real: a Git working repository pushed to a
# bare repository that the daemon watches, a SQLite file, the daemon and
# cloudspherectl from the build tree, real child processes.
#
# Provides:
#	d_setup [poll_interval]	temp folders, a config repository, a config
#	d_start			start the daemon, wait for its socket
#	d_stop [SIGNAL]		stop it (TERM by default) and wait
#	d_ctl ARGS...		cloudspherectl against this daemon
#	d_commit MESSAGE	commit everything in $work and push it
#	d_phase DEPLOYMENT	the deployment's phase (or "none")
#	d_field DEPLOYMENT EXPR	a field of show --json (Python expression on d)
#	d_wait_phase DEP PHASE [SECONDS]	wait for a phase, 0 if reached
#	d_wait_cond SECONDS CMD...	wait until CMD succeeds
#	d_runs DEPLOYMENT	its runs as "id action state" lines, oldest first
#	d_release PATH N	once N applies wait at barrier PATH, let them end
#	d_listen		the API and webhooks on TCP too ($port, $tmp/api.token)
#	d_webhook FORGE		the repository takes FORGE's webhooks ($tmp/hook.secret)
#	d_pull_event FORGE ARGS...	a pull request's delivery (pull-event.py)
#	d_free_port		a free TCP port on loopback
#	d_listening PORT [BANNER]	whether something listens there
#	d_kill_at_exit PID	a helper process d_cleanup stops
#	d_have_sshd		whether sshd and ssh-keygen are installed
#	d_sshd_start, d_sshd_stop	an sshd on loopback (see d_sshd_start)
#	$tmp $work $remote $state $events	folders and the events file
#
# The "probe" blueprint is a script that appends "start NAME ACTION TIME"
# and "end NAME ACTION TIME" lines to $events, sleeps for its input sleep,
# writes outputs {value, upstream} and can be told to fail or hang.  Given
# a barrier (a path), its apply appends "barrier NAME TIME" and waits for
# that file before it ends: d_release PATH N lets N waiting applies end
# together.

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
case $builddir in /*) ;; *) builddir=$(pwd)/$builddir ;; esac
daemon_bin=$builddir/cloudsphered
ctl_bin=$builddir/cloudspherectl
corpus=${CORPUS_DIR:-$srcdir/../shared/corpus}

unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE 2>/dev/null
export GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.invalid
export GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.invalid

d_pid=
d_helpers=
d_cleanup() {
	if [ -n "$d_pid" ]; then
		kill -KILL "$d_pid" 2>/dev/null
		wait "$d_pid" 2>/dev/null
	fi
	for p in $d_helpers; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	d_helpers=
	# Leftover probe processes of this test.
	[ -n "${tmp:-}" ] && pkill -KILL -f "$tmp/" 2>/dev/null
	if [ "${tap_failed:-0}" != 0 ] && [ -f "${tmp:-/nonexistent}/daemon.log" ]; then
		echo "# daemon log:"
		tail -50 "$tmp/daemon.log" | sed 's/^/#   /'
	fi
	[ -n "${tmp:-}" ] && rm -rf "$tmp"
}

d_setup() {
	poll=${1:-0}
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-daemon.XXXXXX")
	trap d_cleanup EXIT
	trap 'exit 130' INT TERM
	work=$tmp/work
	remote=$tmp/remote.git
	state=$tmp/state
	events=$tmp/events
	: >"$events"
	mkdir -p "$work/blueprints/probe" "$work/environments" \
	    "$work/deployments" "$tmp/secrets"
	chmod 700 "$tmp/secrets"
	cat >"$work/blueprints/probe/blueprint.yaml" <<'EOF'
description: Test probe
provider: script
inputs:
  sleep: { type: number, default: 0 }
  value: { type: string, default: v }
  upstream: { type: string, default: "" }
  fail: { type: bool, default: false }
  hang: { type: bool, default: false }
  token: { type: string, default: "" }
  barrier: { type: string, default: "" }
outputs: [value, upstream]
timeouts: { plan: 30s, apply: 30s, destroy: 30s }
script:
  command: ./probe
EOF
	cat >"$work/blueprints/probe/probe" <<EOF
#!/bin/sh
# A test provider: records what it does in \$CLOUDSPHERE_STATE_DIR/../../../../events.
events=$events
action=\$1
name=\$CLOUDSPHERE_DEPLOYMENT
in=\$(cat "\$CLOUDSPHERE_INPUTS")
get() { printf '%s' "\$in" | python3 -c "import json,sys; v=json.load(sys.stdin).get('\$1'); print(v if not isinstance(v,bool) else str(v).lower())"; }
echo "start \$name \$action \$(date +%s.%N)" >>"\$events"
echo "probe \$name \$action: inputs \$in"
echo "to stderr" >&2
if [ "\$(get hang)" = true ] && [ "\$action" = apply ]; then
	sh -c 'echo \$\$ > "\$1"; exec sleep 1000' sh "\$CLOUDSPHERE_STATE_DIR/grandchild.pid" &
	sleep 1000
fi
sleep "\$(get sleep)"
if [ "\$(get fail)" = true ]; then
	echo "end \$name \$action \$(date +%s.%N) failed" >>"\$events"
	echo "failing on purpose" >&2
	exit 3
fi
case \$action in
apply)
	printf '{"value": "%s", "upstream": "%s"}\n' "\$(get value)" "\$(get upstream)" >"\$CLOUDSPHERE_OUTPUTS"
	get value >"\$CLOUDSPHERE_STATE_DIR/applied"
	;;
destroy)
	rm -f "\$CLOUDSPHERE_STATE_DIR/applied"
	;;
esac
barrier=\$(get barrier)
if [ -n "\$barrier" ] && [ "\$action" = apply ]; then
	echo "barrier \$name \$(date +%s.%N)" >>"\$events"
	while [ ! -e "\$barrier" ]; do sleep 0.05; done
fi
echo "end \$name \$action \$(date +%s.%N)" >>"\$events"
EOF
	chmod +x "$work/blueprints/probe/probe"
	cat >"$work/environments/test.yaml" <<'EOF'
description: Test environment
policy: { prune: true }
EOF
	git init -q -b main "$work"
	git init -q --bare -b main "$remote"
	git -C "$work" remote add origin "$remote"
	cat >"$tmp/cloudsphered.yaml" <<EOF
state_dir: $state
control_socket: $tmp/ctl.sock
secrets_dir: $tmp/secrets
max_parallel_runs: 4
prune_limit: 5
shutdown_grace: 5s
retry_min: 1s
retry_max: 2s
repositories:
  - name: infra
    url: $remote
    branch: main
    poll_interval: ${poll}s
EOF
}

d_start() {
	"$daemon_bin" -d -v -c "$tmp/cloudsphered.yaml" >>"$tmp/daemon.log" 2>&1 &
	d_pid=$!
	d_wait_cond 10 d_started && d_ctl status >/dev/null 2>&1
}

# The control socket answers, or the daemon has exited (no use waiting).
# Not the socket's path alone: bind(2) makes it before listen(2), and a
# client connecting in between is refused.
d_started() {
	! kill -0 "$d_pid" 2>/dev/null || d_ctl status >/dev/null 2>&1
}

d_stop() {
	sig=${1:-TERM}
	[ -n "$d_pid" ] || return 0
	kill -"$sig" "$d_pid" 2>/dev/null
	wait "$d_pid" 2>/dev/null
	d_status=$?
	d_pid=
	rm -f "$tmp/ctl.sock"
	return 0
}

d_ctl() {
	"$ctl_bin" -s "$tmp/ctl.sock" "$@"
}

# d_deployment NAME [key: value lines]: a probe deployment file.
d_deployment() {
	name=$1
	shift
	{
		echo "blueprint: probe"
		echo "environment: test"
		for l in "$@"; do echo "$l"; done
	} >"$work/deployments/$name.yaml"
}

d_commit() {
	git -C "$work" add -A
	git -C "$work" commit -q --allow-empty -m "$1"
	git -C "$work" push -q origin main 2>/dev/null
}

d_json() {
	d_ctl --json show "$1" 2>/dev/null
}

d_field() {
	d_json "$1" | python3 -c "import json,sys
try:
    d=json.load(sys.stdin)
    print($2)
except Exception:
    print('none')"
}

d_phase() {
	d_field "$1" "d['phase']"
}

# Deadlines are for what must happen: a test waits for the condition
# itself, and the deadline only says when to give up.  On a loaded machine
# (two shared cores, make check -j2, ASan) things take several times as long
# as on a quiet one, and a longer deadline costs time only when a test
# fails: each is stretched by d_slow (CS_TEST_DEADLINE_FACTOR, 3 unless set).
d_slow=${CS_TEST_DEADLINE_FACTOR:-3}
case $d_slow in ''|*[!0-9]*|0) d_slow=3 ;; esac

d_wait_cond() {
	secs=$1
	shift
	end=$(( $(date +%s) + secs * d_slow ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}

d_is_phase() {
	[ "$(d_phase "$1")" = "$2" ]
}

d_wait_phase() {
	d_wait_cond "${3:-20}" d_is_phase "$1" "$2"
}

d_runs() {
	d_ctl --json runs "$1" 2>/dev/null | python3 -c "import json,sys
for r in reversed(json.load(sys.stdin)):
    print(r['id'], r['action'], r['state'])"
}

# d_check_phase NAME PHASE [SECONDS]: one test point.
d_check_phase() {
	if d_wait_phase "$1" "$2" "${3:-20}"; then
		ok "$1 becomes $2"
	else
		not_ok "$1 becomes $2 (is $(d_phase "$1"))"
		d_ctl show "$1" 2>&1 | sed 's/^/# /'
	fi
}

d_at_barrier() {
	[ "$(grep -c '^barrier ' "$events")" -ge "$1" ]
}

d_release() {
	d_wait_cond 60 d_at_barrier "$2" || return 1
	touch "$1"
}

d_listen() {
	port=$(d_free_port)
	printf 'api-token-for-the-test\n' >"$tmp/api.token"
	chmod 600 "$tmp/api.token"
	sed -i "1i listen: 127.0.0.1:$port\napi_token_file: $tmp/api.token" \
	    "$tmp/cloudsphered.yaml"
}

# After d_setup and d_listen (its lines end the repository's entry).
d_webhook() {
	printf 'webhook secret of the %s test\n' "$1" >"$tmp/hook.secret"
	chmod 600 "$tmp/hook.secret"
	echo "    webhook: { forge: $1, secret_file: $tmp/hook.secret }" \
	    >>"$tmp/cloudsphered.yaml"
}

# d_pull_event FORGE ACTION NUMBER SHA HEAD BASE [REPO]: built from the
# corpus's real delivery, signed as FORGE does; prints the HTTP answer.
d_pull_event() {
	f=$1
	shift
	python3 "$srcdir/tests/daemon/pull-event.py" --forge "$f" \
	    "http://127.0.0.1:$port/hooks/$f/infra" "$tmp/hook.secret" \
	    "$corpus" "$@"
}

d_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

d_kill_at_exit() {
	d_helpers="$d_helpers $1"
}

d_have_sshd() {
	[ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null 2>&1
}

# d_listening PORT [BANNER]: a connection to PORT on loopback is accepted
# (and its first bytes are BANNER).
d_listening() {
	python3 - "$1" "${2:-}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.settimeout(5)
b = sys.argv[2].encode()
sys.exit(0 if not b or s.recv(len(b)) == b else 1)
EOF
}

# d_sshd_start: a real sshd on a free loopback port ($sshd_port), with a
# host key of its own, that lets $(id -un) in with the key $tmp/client_key
# (no password, no PAM).  $tmp/known_hosts names its host key (d_known_hosts
# PUBKEY prints the line for another key).  Returns once sshd answers with
# its banner, 1 if it does not by the deadline; d_cleanup stops it.
d_sshd_start() {
	sshd_port=$(d_free_port)
	rm -f "$tmp/host_key" "$tmp/host_key.pub" "$tmp/client_key" "$tmp/client_key.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_key" || return 1
	cp "$tmp/client_key.pub" "$tmp/authorized_keys"
	chmod 600 "$tmp/authorized_keys" "$tmp/client_key"
	cat >"$tmp/sshd_config" <<EOF
Port $sshd_port
ListenAddress 127.0.0.1
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $tmp/sshd.pid
LogLevel ERROR
EOF
	[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
	/usr/sbin/sshd -D -e -f "$tmp/sshd_config" >>"$tmp/sshd.log" 2>&1 &
	sshd_pid=$!
	d_kill_at_exit "$sshd_pid"
	d_known_hosts "$tmp/host_key.pub" >"$tmp/known_hosts"
	d_wait_cond 30 d_listening "$sshd_port" SSH-
}

d_known_hosts() {
	printf '[127.0.0.1]:%s %s\n' "$sshd_port" "$(cut -d' ' -f1,2 "$1")"
}

# d_ssh_auth KNOWN_HOSTS: the auth line of a repository fetched from
# d_sshd_start's sshd with $tmp/client_key, host keys checked in KNOWN_HOSTS.
d_ssh_auth() {
	printf '    auth: { ssh_key: %s, known_hosts: %s }' "$tmp/client_key" "$1"
}

# d_ssh_url PATH: the URL of PATH on d_sshd_start's sshd.
d_ssh_url() {
	printf 'ssh://%s@127.0.0.1:%s%s' "$(id -un)" "$sshd_port" "$1"
}

d_sshd_stop() {
	[ -n "${sshd_pid:-}" ] || return 0
	kill "$sshd_pid" 2>/dev/null
	wait "$sshd_pid" 2>/dev/null
	d_helpers=$(echo " $d_helpers " | sed "s/ $sshd_pid / /")
	sshd_pid=
}
