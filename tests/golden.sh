#!/bin/sh
# Golden tests for `cloudspherectl validate`: every case under tests/golden/
# is a broken config repository (CASE/repo, plus an optional CASE/generate
# script that adds content not stored as is) and the exact lines validate
# must print for it (CASE/expected).  Each case is checked twice: read from
# a folder, and read from a commit of a Git repository (--git).  Output: TAP.
#
# Environment: top_builddir (where cloudspherectl is, default .),
# top_srcdir (where tests/golden is, default .), GOLDEN_FILTER (run only the
# cases whose name contains this string), VALGRIND (a command prefix such as
# "valgrind --error-exitcode=9 --leak-check=full -q").

set -u

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-.}
ctl=$builddir/cloudspherectl
golden=$srcdir/tests/golden
min_cases=36
filter=${GOLDEN_FILTER:-}
valgrind=${VALGRIND:-}

# Git must not pick up a repository from the caller's environment.
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY 2>/dev/null

case $ctl in /*) ;; *) ctl=$(pwd)/$ctl ;; esac
case $golden in /*) ;; *) golden=$(pwd)/$golden ;; esac

if [ ! -x "$ctl" ]; then
	echo "1..0 # SKIP $ctl not built"
	exit 0
fi
if [ ! -d "$golden" ]; then
	echo "Bail out! no folder $golden"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/golden.XXXXXX") || {
	echo "Bail out! mktemp failed"
	exit 1
}
cleanup() {
	chmod -R u+rwx "$tmp" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The cases, in name order (LC_ALL=C: the same order everywhere).
cases=
ncases=0
for d in $(cd "$golden" && LC_ALL=C ls); do
	[ -d "$golden/$d/repo" ] || continue
	[ -f "$golden/$d/expected" ] || continue
	ncases=$((ncases + 1))
	case $d in *"$filter"*) ;; *) continue ;; esac
	cases="$cases $d"
done
nrun=0
for d in $cases; do nrun=$((nrun + 1)); done

echo "1..$((nrun * 2 + 1))"
n=0
failed=0

# report NAME: compares $tmp/out (and $tmp/rc) with the expected file.
report() {
	n=$((n + 1))
	name=$1
	rc=$(cat "$tmp/rc")
	if [ "$rc" = 1 ] && cmp -s "$exp" "$tmp/out"; then
		echo "ok $n - $name"
		return
	fi
	failed=$((failed + 1))
	echo "not ok $n - $name"
	[ "$rc" = 1 ] || echo "# exit status $rc, expected 1"
	diff -u "$exp" "$tmp/out" | sed 's/^/# /'
	if [ -s "$tmp/err" ]; then
		echo "# stderr:"
		sed 's/^/#   /' "$tmp/err"
	fi
}

for c in $cases; do
	exp=$golden/$c/expected
	work=$tmp/$c
	mkdir "$work"
	# cp -a keeps symlinks (stored as they are) and modes (exec bits).
	cp -a "$golden/$c/repo" "$work/repo"
	if [ -f "$golden/$c/generate" ]; then
		if ! sh "$golden/$c/generate" "$work/repo" >"$tmp/gen" 2>&1; then
			echo "# $c: generate failed:"
			sed 's/^/#   /' "$tmp/gen"
		fi
	fi

	# 1. Read from a folder.
	(cd "$work" && $valgrind "$ctl" validate repo) \
	    >"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
	report "$c (folder)"

	# 2. Read from a commit of a Git repository.
	if (cd "$work/repo" && git init -q . && git add -A &&
	    git -c user.name=t -c user.email=t@t -c commit.gpgsign=false \
	    commit -q -m "$c" --no-verify) >"$tmp/gen" 2>&1; then
		(cd "$work" && $valgrind "$ctl" validate --git repo) \
		    >"$tmp/out" 2>"$tmp/err"
		echo $? >"$tmp/rc"
	else
		echo "git commit failed:" >"$tmp/out"
		cat "$tmp/gen" >>"$tmp/out"
		: >"$tmp/err"
		echo 1 >"$tmp/rc"
	fi
	report "$c (git)"
	chmod -R u+rwx "$work" 2>/dev/null
	rm -rf "$work"
done

n=$((n + 1))
if [ "$ncases" -ge "$min_cases" ]; then
	echo "ok $n - at least $min_cases golden cases ($ncases)"
else
	failed=$((failed + 1))
	echo "not ok $n - at least $min_cases golden cases ($ncases)"
fi

[ "$failed" -eq 0 ]
