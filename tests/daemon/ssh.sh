#!/bin/sh
# cloudsphered fetching over SSH (TAP), from a real sshd on loopback with a
# key of its own: a host missing from known_hosts is refused, a host whose
# key differs is refused, the right one is fetched and applied with
# auth.ssh_key.  Skipped, saying so, where sshd is not installed.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

if ! d_have_sshd; then
	skip "sshd (openssh-server) is not installed"
	tap_done
fi
d_setup 0
d_sshd_start || { not_ok "sshd starts"; tap_done; }
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_host_key"
d_known_hosts "$tmp/other_host_key.pub" >"$tmp/wrong_hosts"
: >"$tmp/empty_hosts"

d_deployment viassh "inputs: { value: over-ssh }"
d_commit "over ssh"
setconf() {
	sed -i "s|url: .*|url: $(d_ssh_url "$remote")|; s|poll_interval: .*|poll_interval: 0s\n$(d_ssh_auth "$1")|" \
	    "$tmp/cloudsphered.yaml"
}
cp "$tmp/cloudsphered.yaml" "$tmp/base.yaml"

cp "$tmp/base.yaml" "$tmp/cloudsphered.yaml"; setconf "$tmp/empty_hosts"
d_start || { not_ok "daemon starts"; tap_done; }
refused() { grep -q "is not in $tmp/empty_hosts" "$tmp/daemon.log"; }
check "a host missing from known_hosts is refused" d_wait_cond 10 refused
check "nothing was applied" test ! -e "$state/deployments/infra/viassh/applied"
d_stop

cp "$tmp/base.yaml" "$tmp/cloudsphered.yaml"; setconf "$tmp/wrong_hosts"
d_start || { not_ok "daemon starts"; tap_done; }
mismatch() { grep -q "does not match $tmp/wrong_hosts" "$tmp/daemon.log"; }
check "a host whose key differs is refused" d_wait_cond 10 mismatch
d_stop

cp "$tmp/base.yaml" "$tmp/cloudsphered.yaml"; setconf "$tmp/known_hosts"
d_start || { not_ok "daemon starts"; tap_done; }
d_check_phase viassh ready 20
check "the commit fetched over SSH was applied" \
    test "$(cat "$state/deployments/infra/viassh/applied" 2>/dev/null)" = over-ssh
d_deployment viassh "inputs: { value: again }"
d_commit "again"
check "sync fetches the next commit over SSH" d_ctl sync infra
again() { test "$(cat "$state/deployments/infra/viassh/applied" 2>/dev/null)" = again; }
check "and applies it" d_wait_cond 20 again
d_stop
d_sshd_stop
tap_done
