#!/bin/sh
# cloudsphered fetching over SSH (TAP), from a real sshd on loopback with a
# key of its own: a host missing from known_hosts is refused, a host whose
# key differs is refused, the right one is fetched and applied with
# auth.ssh_key.  Skipped, saying so, where sshd is not installed.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

sshd=/usr/sbin/sshd
if [ ! -x "$sshd" ] || ! command -v ssh-keygen >/dev/null 2>&1; then
	skip "sshd (openssh-server) is not installed"
	tap_done
fi
d_setup 0
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=$(id -un)
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_host_key"
cp "$tmp/client_key.pub" "$tmp/authorized_keys"
chmod 600 "$tmp/authorized_keys" "$tmp/client_key"
cat >"$tmp/sshd_config" <<EOF
Port $port
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
"$sshd" -D -e -f "$tmp/sshd_config" >"$tmp/sshd.log" 2>&1 &
sshd_pid=$!
trap 'kill $sshd_pid 2>/dev/null; d_cleanup' EXIT
i=0
while ! grep -q "" "$tmp/sshd.pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$tmp/other_host_key.pub")" >"$tmp/wrong_hosts"
: >"$tmp/empty_hosts"

d_deployment viassh "inputs: { value: over-ssh }"
d_commit "over ssh"
url="ssh://$user@127.0.0.1:$port$remote"
setconf() {
	sed -i "s|url: .*|url: $url|; s|poll_interval: .*|poll_interval: 0s\n    auth: { ssh_key: $tmp/client_key, known_hosts: $1 }|" \
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
tap_done
