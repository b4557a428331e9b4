#!/bin/sh
# cloudsphered maps libcurl only when a repository reports to a forge
# (TAP; daemon/libcurl.h): without forge: no libcurl in /proc/PID/maps, nor
# the libraries only libcurl brings (GnuTLS, LDAP), nor libsystemd; with
# one: libcurl mapped, and its requests made (a forge that refuses
# connections is retried); libcurl.so.4 that cannot be loaded (a broken
# file first on LD_LIBRARY_PATH): logged, naming the library, nothing
# reported to that forge, and the daemon runs and stops as usual.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment web "inputs: { value: v1 }"
d_commit "one deployment"
cp "$tmp/cloudsphered.yaml" "$tmp/no-forge.yaml"

maps() { grep -q "$1" "/proc/$d_pid/maps"; }
not() { ! "$@"; }
applied() { test "$(cat "$state/deployments/infra/web/applied" 2>/dev/null)" = "$1"; }

# No forge.
d_start || { not_ok "daemon starts without a forge"; tap_done; }
ok "daemon starts without a forge"
d_check_phase web ready
check "no forge: libcurl is not mapped" not maps 'libcurl\.so'
check "... nor GnuTLS or LDAP, which only libcurl brings" \
    not maps 'libgnutls\.so\|libldap'
check "... nor libsystemd (notify.c speaks the protocol)" \
    not maps 'libsystemd\.so'
d_stop
check "daemon stops cleanly" test "$d_status" -eq 0

# A forge: a port that refuses connections, so each status is retried.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'tok-%s\n' "$$" >"$tmp/forge.token"
chmod 600 "$tmp/forge.token"
cat >>"$tmp/cloudsphered.yaml" <<EOF
    forge: { kind: github, api_url: "http://127.0.0.1:$port", project: "ops/infra", token_file: $tmp/forge.token }
EOF
cp "$tmp/cloudsphered.yaml" "$tmp/forge.yaml"
d_deployment web "inputs: { value: v2 }"
d_commit "two"
d_start || { not_ok "daemon starts with a forge"; tap_done; }
ok "daemon starts with a forge"
check "a forge: libcurl is mapped" d_wait_cond 10 maps 'libcurl\.so'
check "... the deployment applied" d_wait_cond 20 applied v2
check "... and its requests are made (a refused one is retried)" \
    d_wait_cond 20 grep -q "status cloudsphere/web of .*retry 1 in" \
    "$tmp/daemon.log"
d_stop
check "daemon stops cleanly" test "$d_status" -eq 0

# libcurl.so.4 cannot be loaded.
mkdir "$tmp/lib"
echo "not a library" >"$tmp/lib/libcurl.so.4"
: >"$tmp/daemon.log"
d_deployment web "inputs: { value: v3 }"
d_commit "three"
# The daemon alone gets the broken library first: cloudspherectl, which
# d_start asks whether it answers, links libcurl.
real_daemon=$daemon_bin
daemon_bin=$tmp/daemon-broken-curl
printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$tmp/lib" "$real_daemon" \
    >"$daemon_bin"
chmod +x "$daemon_bin"
d_start || { daemon_bin=$real_daemon; not_ok "daemon starts, libcurl broken"; tap_done; }
daemon_bin=$real_daemon
ok "daemon starts, libcurl broken"
check "the log names the library that cannot be loaded" \
    grep -q "infra: forge: cannot load libcurl.so.4: .*nothing is reported to it" \
    "$tmp/daemon.log"
check "... the rest works: the deployment applied" d_wait_cond 20 applied v3
check "... nothing is sent" not grep -q "status cloudsphere/web of" \
    "$tmp/daemon.log"
d_stop
check "daemon stops cleanly" test "$d_status" -eq 0
tap_done
