#!/bin/sh
# cloudsphered idling (TAP): polls of an unchanged repository write
# nothing to the database; a failing fetch records its error in the
# repository's row, and the next good fetch clears it even when it finds
# nothing new.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

row() {	# the repository's row: "updated_at|last_error"
	python3 - "$state/cloudsphere.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
r = c.execute("SELECT updated_at, last_error FROM repositories WHERE name = 'infra'").fetchone()
print("%s|%s" % (r[0], r[1] or ""))
PY
}
has_error() { row | grep -q '|.'; }
no_error() { row | grep -q '|$'; }

d_setup 1
d_deployment idle "inputs: { value: one }"
d_commit "idle: one"
d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
d_check_phase idle ready
before=$(row)
sleep 3
check "three polls of an unchanged repository write nothing ($before)" \
    test "$(row)" = "$before"

mv "$remote" "$tmp/moved.git"
check "a failing fetch records its error" d_wait_cond 10 has_error
mv "$tmp/moved.git" "$remote"
check "the next good fetch clears it, with nothing new" d_wait_cond 10 no_error
check "the run count is unchanged" test "$(d_runs idle | wc -l)" -eq 1
d_stop
tap_done
