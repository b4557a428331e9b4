# TAP helpers for the shell tests: source this file.
tap_n=0
tap_failed=0
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}
not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=1
	echo "not ok $tap_n - $*"
}
# check NAME CMD...: one test point from a command's status.
check() {
	name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi
}
skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - # SKIP $*"
}
diag() {
	echo "$*" | sed 's/^/# /'
}
tap_done() {
	echo "1..$tap_n"
	exit $tap_failed
}
