#!/bin/sh
# cloudsphered with many repositories on its shared worker pool (TAP):
# 150 local repositories, more than the kernel's default 128 inotify
# instances per user, all notice a push through inotify alone (polling
# off); the daemon's threads and inotify instances do not grow with the
# repositories; SIGHUP with a repository added or removed keeps the
# running set (they change at the next restart) and the triggers work on;
# SIGTERM joins the workers and exits 0.
set -u
. "${top_srcdir:-.}/tests/tap.sh"
. "${top_srcdir:-.}/tests/daemon/lib.sh"

n=150
d_setup 0
d_commit "first"
mkdir -p "$tmp/repos"
{
	sed '/^repositories:/,$d' "$tmp/cloudsphered.yaml"
	echo "repositories:"
	i=0
	while [ $i -lt $n ]; do
		r=$(printf 'r%03d' $i)
		git clone -q --bare "$remote" "$tmp/repos/$r.git"
		printf '  - name: %s\n    url: %s\n    branch: main\n    poll_interval: 0s\n' \
		    "$r" "$tmp/repos/$r.git"
		i=$((i + 1))
	done
} >"$tmp/pool.yaml"
mv "$tmp/pool.yaml" "$tmp/cloudsphered.yaml"

# count PATTERN: lines of the daemon's log with it.
count() {
	grep -c -- "$1" "$tmp/daemon.log" 2>/dev/null || true
}
at_least() {
	[ "$(count "$1")" -ge "$2" ]
}

d_start || { not_ok "daemon starts"; tap_done; }
ok "daemon starts"
if d_wait_cond 120 at_least ": commit .* (startup)" $n; then
	ok "all $n repositories loaded at startup"
else
	not_ok "all $n repositories loaded at startup ($(count ': commit .* (startup)'))"
fi

threads=$(ls "/proc/$d_pid/task" | wc -l)
check "threads do not grow with the repositories ($threads for $n)" \
    test "$threads" -le 16
inotify=$(for f in /proc/$d_pid/fd/*; do readlink "$f"; done 2>/dev/null |
    grep -c 'anon_inode:inotify')
check "one inotify instance for $n repositories ($inotify)" test "$inotify" -eq 1
check "no inotify failure logged" \
    sh -c "! grep -q ': inotify: \\|cannot watch' '$tmp/daemon.log'"

# A push to every repository: each notices it through inotify.
git -C "$work" commit -q --allow-empty -m "second"
head=$(git -C "$work" rev-parse --short=12 HEAD)
i=0
while [ $i -lt $n ]; do
	git -C "$work" push -q "$tmp/repos/$(printf 'r%03d' $i).git" main
	i=$((i + 1))
done
if d_wait_cond 120 at_least ": commit $head (inotify)" $n; then
	ok "all $n repositories noticed their push through inotify"
else
	not_ok "all $n repositories noticed their push through inotify ($(count ": commit $head (inotify)"))"
	i=0
	while [ $i -lt $n ]; do
		r=$(printf 'r%03d' $i)
		grep -q "^.*$r: commit $head (inotify)" "$tmp/daemon.log" ||
		    diag "$r did not"
		i=$((i + 1))
	done
fi
check "and only once each" test "$(count ": commit $head (inotify)")" -eq $n

# SIGHUP with one more repository and one fewer: the running set stays.
git clone -q --bare "$remote" "$tmp/repos/extra.git"
sed -i '/name: r149$/,+3d' "$tmp/cloudsphered.yaml"
printf '  - name: extra\n    url: %s\n    branch: main\n    poll_interval: 0s\n' \
    "$tmp/repos/extra.git" >>"$tmp/cloudsphered.yaml"
sed -i 's/^max_parallel_runs: 4/max_parallel_runs: 3/' "$tmp/cloudsphered.yaml"
kill -HUP "$d_pid"
check "SIGHUP reloads" d_wait_cond 10 at_least "cloudsphered.yaml: reloaded" 1
sed -i 's/^max_parallel_runs: 3/max_parallel_runs: 4/' "$tmp/cloudsphered.yaml"
# Same count (one in, one out): no warning, the set stays as it was.
git -C "$work" commit -q --allow-empty -m "third"
head=$(git -C "$work" rev-parse --short=12 HEAD)
git -C "$work" push -q "$tmp/repos/r149.git" main
git -C "$work" push -q "$tmp/repos/r000.git" main
git -C "$work" push -q "$tmp/repos/extra.git" main
check "after SIGHUP a push still syncs (r000)" \
    d_wait_cond 30 grep -q "r000: commit $head (inotify)" "$tmp/daemon.log"
check "and the repository dropped from the file still runs until a restart" \
    d_wait_cond 30 grep -q "r149: commit $head (inotify)" "$tmp/daemon.log"
check "the one added waits for the restart" \
    sh -c "! grep -q 'extra: commit' '$tmp/daemon.log'"
printf '  - name: extra2\n    url: %s\n    branch: main\n    poll_interval: 0s\n' \
    "$tmp/repos/extra.git" >>"$tmp/cloudsphered.yaml"
kill -HUP "$d_pid"
check "a SIGHUP that adds a repository says it takes effect at the restart" \
    d_wait_cond 10 at_least "take effect at the next restart" 1

d_stop
check "SIGTERM stops it cleanly ($d_status)" test "$d_status" -eq 0
check "its stop joined the workers" grep -q "stopped" "$tmp/daemon.log"

# The restart takes the file's set: extra in, r149 out.
: >"$tmp/daemon.log"
d_start || { not_ok "daemon restarts"; tap_done; }
check "after the restart the added repository loads" \
    d_wait_cond 60 grep -q "extra: commit $head" "$tmp/daemon.log"
check "and the removed one is gone" sh -c "! grep -q 'r149:' '$tmp/daemon.log'"
d_stop
tap_done
