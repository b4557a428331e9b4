#!/bin/sh
# cloudsphered end to end (TAP): dependencies run in order and outputs reach
# the next deployment; independent deployments run in parallel (observed
# overlap); one deployment never runs twice at once.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

# t NAME ACTION start|end: the time of an event, from the probe's record.
t() {
	awk -v n="$1" -v a="$2" -v w="$3" '$1 == w && $2 == n && $3 == a { print $4; exit }' "$events"
}
before() {	# before T1 T2: T1 < T2
	awk -v x="$1" -v y="$2" 'BEGIN { exit !(x != "" && y != "" && x < y) }'
}

d_setup 0
d_deployment net "inputs: { value: net-42, sleep: 1 }"
d_deployment app "inputs: { upstream: \"\${{ deployments.net.outputs.value }}\" }"
d_deployment p1 "inputs: { sleep: 2 }"
d_deployment p2 "inputs: { sleep: 2 }"
d_commit "four deployments"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"

d_check_phase net ready
d_check_phase app ready
d_check_phase p1 ready
d_check_phase p2 ready
check "app started after net's apply ended" \
    before "$(t net apply end)" "$(t app apply start)"
check "net's output reached app's input" \
    test "$(d_field app "d['outputs']['upstream']")" = net-42
overlapped() {
	before "$(t p1 apply start)" "$(t p2 apply end)" &&
	    before "$(t p2 apply start)" "$(t p1 apply end)"
}
check "independent deployments overlapped" overlapped

# A new output upstream applies the downstream again.
d_deployment net "inputs: { value: net-43 }"
d_commit "net: new value"
d_wait_cond 20 sh -c "test \"\$(grep -c 'start app apply' '$events')\" -ge 2"
d_check_phase app ready
check "app got net's new output" \
    test "$(d_field app "d['outputs']['upstream']")" = net-43

# Never twice at once: while p1 runs, asking for another apply is refused.
d_deployment p1 "inputs: { sleep: 8, value: again }"
d_commit "p1: long run"
d_wait_cond 20 d_is_phase p1 applying
apply_refused() { ! d_ctl apply p1 >/dev/null 2>&1; }
check "a second apply of a running deployment is refused" apply_refused
d_check_phase p1 ready
no_overlap() {
	awk '$2 == "p1" { if ($1 == "start") { if (open) exit 1; open = 1 } else open = 0 }' "$events"
}
check "p1's runs never overlapped" no_overlap

d_stop
tap_done
