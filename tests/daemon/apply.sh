#!/bin/sh
# cloudsphered end to end (TAP): a new deployment is applied, an input change
# applies it again, removing its file destroys it (prune on) or leaves it
# orphaned (prune off), and a commit with broken YAML makes only that
# deployment invalid and destroys nothing.  Real Git, SQLite, processes.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

d_setup 0
d_deployment web "inputs: { value: one }"
d_deployment keep "inputs: { value: kept }" "policy: { prune: false }"
d_deployment other "inputs: { value: other }"
d_commit "three deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

d_check_phase web ready
d_check_phase keep ready
d_check_phase other ready
check "web's outputs are recorded" \
    test "$(d_field web "d['outputs']['value']")" = one
check "web's provider ran in its state folder" \
    test "$(cat "$state"/deployments/infra/web/applied)" = one
check "one apply run for web" test "$(d_runs web | wc -l)" -eq 1

# An input change applies again.
fp1=$(d_field web "d['applied']['fingerprint']")
d_deployment web "inputs: { value: two }"
d_commit "web: value two"
d_wait_cond 20 sh -c "test \"\$(cat '$state/deployments/infra/web/applied' 2>/dev/null)\" = two"
d_check_phase web ready
check "web applied again with the new input" \
    test "$(d_field web "d['outputs']['value']")" = two
check "web's fingerprint changed" \
    test "$(d_field web "d['applied']['fingerprint']")" != "$fp1"
check "two apply runs for web" test "$(d_runs web | grep -c 'apply succeeded')" -eq 2
check "other was not run again" test "$(d_runs other | wc -l)" -eq 1

# A commit with broken YAML: only that deployment is invalid.
printf 'blueprint: probe\nenvironment: [\n' >"$work/deployments/other.yaml"
d_commit "other: broken"
d_check_phase other invalid
says_why() { d_ctl show other | grep -q 'cause: *deployments/other.yaml:'; }
check "the invalid deployment says why" says_why
check "web is still ready" d_is_phase web ready
check "nothing was destroyed" sh -c "! grep -q destroy '$events'"

# Removing files: destroy with prune on, orphaned with prune off.
git -C "$work" rm -q deployments/web.yaml deployments/keep.yaml
d_commit "remove web and keep"
d_check_phase web destroyed
d_check_phase keep orphaned
check "web's destroy ran" grep -q "start web destroy" "$events"
check "web's resources are gone" test ! -e "$state/deployments/infra/web/applied"
check "keep was not destroyed" test -e "$state/deployments/infra/keep/applied"
check "no destroy for keep" sh -c "! grep -q 'keep destroy' '$events'"
has_history() { d_ctl history web | grep -q 'destroying  *destroyed'; }
check "history records web's phases" has_history

d_stop
check "daemon stops on SIGTERM with status 0" test "$d_status" -eq 0
tap_done
