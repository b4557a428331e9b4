#!/bin/sh
# cloudsphered end to end (TAP): the mirror's packs stay few.  Each push is
# fetched as one more pack; past MIRROR_PACK_LIMIT (16) the fetch rolls
# them up (doc/mirror.md).  After 40 pushes, each applied: few packs, every
# commit still in the mirror, no fds left on removed packs, and a daemon
# started again loads and applies the last one.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment p "inputs: { value: v0 }"
d_commit "v0"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase p ready
mirror=$state/repos/infra.git
applied=$state/deployments/infra/p/applied
is_applied() { test "$(cat "$applied" 2>/dev/null)" = "$1"; }

n=40
i=1
ok=0
while [ $i -le $n ]; do
	d_deployment p "inputs: { value: v$i }"
	d_commit "v$i"
	v=v$i
	d_wait_cond 20 is_applied "$v" && ok=$((ok + 1))
	i=$((i + 1))
done
check "all $n pushes applied" test "$ok" = "$n"
packs=$(ls "$mirror/objects/pack" | grep -c '\.idx$')
check "the mirror holds at most 16 packs after $n fetches ($packs)" \
    test "$packs" -le 16
check "every .pack has its .idx" \
    test "$(ls "$mirror/objects/pack" | grep -c '\.pack$')" = "$packs"
check "every commit is still in the mirror" \
    test "$(git --git-dir="$mirror" rev-list --count refs/remotes/origin/main)" = $((n + 1))
check "git fsck finds the mirror whole" \
    git --git-dir="$mirror" fsck --no-progress --connectivity-only
deleted=$(ls -l "/proc/$d_pid/fd" 2>/dev/null | grep -c 'objects/pack/.*(deleted)')
check "no fd left on a removed pack, the engine's handle's neither ($deleted)" \
    test "$deleted" = 0
open=$(ls -l "/proc/$d_pid/fd" 2>/dev/null | grep -c 'objects/pack/')
echo "# fds on packs: $open"
check "the daemon holds at most 32 fds on packs ($open)" test "$open" -le 32
d_stop
check "the daemon stops with status 0" test "$d_status" = 0

# Started again on the rolled-up mirror: a new push loads and applies.
d_start || { not_ok "daemon starts again"; tap_done; }
d_deployment p "inputs: { value: last }"
d_commit "last"
check "a push after a restart is applied" d_wait_cond 20 is_applied last
d_stop
tap_done
