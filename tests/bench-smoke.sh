#!/bin/sh
# A smoke run of make bench's harness (TAP), with tiny sizes
# (BENCH_SMOKE=1): it asserts behaviour, never times.  A push to a watched
# repository and a webhook each start the provider once per push, and wrk
# loses no distinct webhook delivery (skipped without wrk).
set -u
. "${top_srcdir:-.}/tests/tap.sh"

json=$(mktemp "${TMPDIR:-/tmp}/bench-smoke.XXXXXX")
trap 'rm -f "$json"' EXIT
if BENCH_SMOKE=1 BENCH_JSON="$json" python3 "${top_srcdir:-.}/tests/bench/bench.py" \
    trigger webhook >"$json.out" 2>&1; then
	ok "the harness runs the trigger and webhook benchmarks"
else
	not_ok "the harness runs the trigger and webhook benchmarks"
	sed 's/^/# /' "$json.out"
fi
rm -f "$json.out"
check_json() {	# PYTHON-EXPRESSION over r (results by key) and raw
	python3 - "$json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = {x["key"]: x for x in d["results"]}
raw = d["raw"]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}
check "the machine is described" \
    check_json 'd["machine"]["nproc"] > 0 and d["machine"]["versions"]["git"]'
for mode in inotify webhook; do
	check "every $mode push started the provider, after the ref landed" \
	    check_json "len(raw['trigger_$mode']) == 5 and all(0 < v < 30000 for v in raw['trigger_$mode'])"
done
if command -v wrk >/dev/null 2>&1; then
	check "wrk: every request answered 202, no distinct delivery lost or replayed" \
	    check_json 'raw["webhook"]["lost"] == 0 and raw["webhook"]["wrk"]["other"] == 0 and raw["webhook"]["daemon_replayed"] == 0 and raw["webhook"]["daemon_accepted"] >= raw["webhook"]["wrk"]["accepted"] > 0'
else
	skip "no wrk"
fi
tap_done
