#!/bin/sh
# The bundled example through the real daemon (TAP): examples/demo.sh's set-up
# (a bare repository made from examples/config-repo, its secrets, a local
# state folder) with every deployment of the example becoming ready: the
# script, the real ansible-playbook and the real terraform (terraform_data
# only, no provider download).  Without terraform, its deployments are
# checked to fail with a clear cause instead, and the test says so.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"	# d_wait_cond only
case $srcdir in /*) ;; *) srcdir=$(pwd)/$srcdir ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs-example.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	if [ "$tap_failed" != 0 ]; then
		echo "# daemon log:"
		tail -40 "$tmp/demo.log" | sed 's/^/#   /'
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
ctl() { "$builddir/cloudspherectl" -s "$tmp/demo/control.sock" "$@"; }
phase() {
	ctl --json show "$1" 2>/dev/null |
	    python3 -c "import json,sys; print(json.load(sys.stdin)['phase'])" 2>/dev/null
}
is_phase() {
	[ "$(phase "$1")" = "$2" ]
}
wait_phase() {
	d_wait_cond 60 is_phase "$1" "$2"
}
check_phase() {
	if wait_phase "$1" "$2"; then ok "$1 becomes $2"
	else not_ok "$1 becomes $2 (is $(phase "$1"))"; ctl show "$1" | sed 's/^/# /'; fi
}

if ! command -v ansible-playbook >/dev/null 2>&1; then
	skip "ansible-playbook is not installed"
	tap_done
fi
export HOME=$tmp	# ansible writes ~/.ansible
DEMO_DIR=$tmp/demo CLOUDSPHERED=$builddir/cloudsphered \
    sh "$srcdir/examples/demo.sh" >"$tmp/demo.log" 2>&1 &
pid=$!
d_wait_cond 30 test -S "$tmp/demo/control.sock"
check "the demo starts the daemon" test -S "$tmp/demo/control.sock"

check_phase hello-staging ready
if command -v terraform >/dev/null 2>&1; then
	check_phase network ready
	check_phase network-staging ready
	check_phase motd ready
	# Manual approval: planned, then applied once its plan is approved.
	check_phase hello-production planned
	plan=$(ctl --json show hello-production |
	    python3 -c "import json,sys; print(json.load(sys.stdin)['plan']['id'])")
	check "the demo says how to approve" grep -q "approve RUN" "$tmp/demo.log"
	check "approve hello-production's plan $plan" ctl approve "$plan"
	check_phase hello-production ready
	subnet() {
		ctl --json show motd | python3 -c "import json,sys
d = json.load(sys.stdin)
assert d['outputs']['motd_path'].endswith('/motd'), d['outputs']"
	}
	check "motd's outputs come from the playbook" subnet
	net_out() {
		ctl --json show network | python3 -c "import json,sys
d = json.load(sys.stdin)
assert d['outputs']['subnet_id'].startswith('subnet-'), d['outputs']"
	}
	check "network's outputs come from terraform output -json" net_out
else
	skip "terraform is not installed: network, motd and hello-production (manual approval) not checked"
fi

# A push from the working clone is applied.
sed -i 's/staging team/everyone/' "$tmp/demo/work/deployments/hello-staging.yaml"
git -C "$tmp/demo/work" commit -qam "greet everyone"
git -C "$tmp/demo/work" push -q
greeted() {
	ctl --json show hello-staging | python3 -c "import json,sys
d = json.load(sys.stdin)
assert d['outputs']['message'].endswith('everyone!'), d['outputs']
assert d['phase'] == 'ready'"
}
d_wait_cond 60 greeted
check "a pushed change is applied" greeted
no_secret() { ! grep -r -q -F "$(cat "$tmp/demo/secrets/hello_api_token")" "$tmp/demo/state/cloudsphere.db"*; }
check "the secret's value is not in the store" no_secret
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
check "the daemon stops cleanly ($st)" test "$st" -eq 0
tap_done
