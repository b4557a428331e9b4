#!/bin/sh
# make bench's prerequisite check: the tools the benchmarks compare with or
# drive.  They are not test dependencies (etc/install-deps leaves them
# out): wrk is installed here from Debian's archive when it is missing and
# we are root; otherwise the benchmarks that need a tool say they were
# skipped.  ansible-pull and ansible-playbook come with ansible-core, which
# etc/install-deps installs for the tests.
set -u

missing=
for tool in python3 git; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "bench: missing:$missing (run etc/install-deps)" >&2
	exit 1
fi
if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing wrk (Debian package) for the webhook benchmark"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends wrk >/dev/null 2>&1 ||
		    { apt-get update -qq >/dev/null 2>&1 &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends wrk >/dev/null 2>&1; } ||
		    echo "bench: cannot install wrk: the webhook benchmark is skipped"
	else
		echo "bench: no wrk (apt-get install wrk): the webhook benchmark is skipped"
	fi
fi
for tool in ansible-pull ansible-playbook; do
	command -v "$tool" >/dev/null 2>&1 ||
	    echo "bench: no $tool (apt-get install ansible-core): its reference is skipped"
done
exit 0
