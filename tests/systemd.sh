#!/bin/sh
# The systemd files (TAP): systemd-analyze verify accepts the unit (with
# ExecStart pointing at the cloudsphered of this build tree) and refuses it
# when the program is missing; systemd-sysusers and systemd-tmpfiles accept
# their snippets, the latter creating the folders with the right modes in a
# scratch root.  Skipped, saying so, where the systemd tools are absent.
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
. "$srcdir/tests/tap.sh"
case $builddir in /*) ;; *) builddir=$(pwd)/$builddir ;; esac
case $srcdir in /*) ;; *) srcdir=$(pwd)/$srcdir ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "systemd-analyze is not installed"
	tap_done
fi

unit=$tmp/cloudsphered.service
sed "s|@sbindir@|$builddir|g" "$srcdir/systemd/cloudsphered.service.in" >"$unit"
# Only what is said about our unit counts: on some machines verify also
# complains about the host's own units.
out=$(systemd-analyze verify --man=no "$unit" 2>&1); st=$?
ours=$(printf '%s\n' "$out" | grep -F -e cloudsphered.service -e "$tmp")
if [ $st -eq 0 ] && [ -z "$ours" ]; then
	ok "systemd-analyze verify accepts cloudsphered.service"
	[ -z "$out" ] || diag "$out"
else
	not_ok "systemd-analyze verify accepts cloudsphered.service"
	diag "$out"
fi
sed "s|@sbindir@|$tmp/nowhere|g" "$srcdir/systemd/cloudsphered.service.in" \
    >"$tmp/broken.service"
check "systemd-analyze verify refuses a unit whose program is missing" \
    sh -c "! systemd-analyze verify --man=no '$tmp/broken.service'"
for key in Type=notify WatchdogSec= NoNewPrivileges=yes ProtectSystem=strict \
    StateDirectory=cloudsphere RuntimeDirectory=cloudsphere \
    ConfigurationDirectory=cloudsphere User=cloudsphere ExecReload= \
    UMask=0077 Restart=on-failure; do
	check "the unit sets $key" grep -q "^$key" "$unit"
done
# Stopping waits for the providers' grace (30s by default): systemd must
# wait longer before it kills them.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
check "TimeoutStopSec ($stop s) is longer than the default shutdown_grace" \
    test "${stop:-0}" -gt 30

if command -v systemd-sysusers >/dev/null 2>&1; then
	check "systemd-sysusers accepts cloudsphere.sysusers" \
	    systemd-sysusers --dry-run "$srcdir/systemd/cloudsphere.sysusers"
else
	skip "systemd-sysusers is not installed"
fi

if command -v systemd-tmpfiles >/dev/null 2>&1; then
	root=$tmp/root
	mkdir -p "$root/etc"
	printf 'root:x:0:0::/root:/bin/sh\ncloudsphere:x:995:995::/var/lib/cloudsphere:/usr/sbin/nologin\n' \
	    >"$root/etc/passwd"
	printf 'root:x:0:\ncloudsphere:x:995:\n' >"$root/etc/group"
	check "systemd-tmpfiles creates the folders" systemd-tmpfiles \
	    --root="$root" --create "$srcdir/systemd/cloudsphere.tmpfiles"
	check "the state folder is private (0700)" \
	    test "$(stat -c %a "$root/var/lib/cloudsphere")" = 700
	check "the runtime folder is 0750" \
	    test "$(stat -c %a "$root/run/cloudsphere")" = 750
else
	skip "systemd-tmpfiles is not installed"
fi
tap_done
