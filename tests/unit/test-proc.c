/*
 * Unit tests of process supervision, log capture and workspaces with real
 * processes and a real Git repository: output order, causes, a timeout
 * that kills a grandchild, cancellation, a provider writing fast, small
 * writes read in batches, a slow writer read on a timer, head and tail
 * capture, blueprint copies with modes and symlinks, safe removal.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <git2.h>

#include "buf.h"
#include "logcap.h"
#include "proc.h"
#include "testutil.h"
#include "workspace.h"
#include "xmalloc.h"

struct outcome {
	struct buf	 out;
	size_t		 bytes;
	size_t		 calls;		/* output callbacks */
	struct timespec	 start;
	double		 first_ms;	/* from the spawn to the first output */
	bool		 keep;
	bool		 done;
	int		 exit_code;
	int		 sig;
	bool		 timed_out;
	bool		 cancelled;
	char		*cause;
};

static struct event_base *base;

static void
on_output(const char *data, size_t len, void *arg)
{
	struct outcome	*o = arg;
	struct timespec	 now;

	if (o->calls++ == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		o->first_ms = (double)(now.tv_sec - o->start.tv_sec) * 1e3 +
		    (double)(now.tv_nsec - o->start.tv_nsec) / 1e6;
	}
	o->bytes += len;
	if (o->keep)
		buf_add(&o->out, data, len);
}

static void
on_exit_cb(const struct proc_result *r, void *arg)
{
	struct outcome	*o = arg;

	o->done = true;
	o->exit_code = r->exit_code;
	o->sig = r->signal;
	o->timed_out = r->timed_out;
	o->cancelled = r->cancelled;
	o->cause = xstrdup(r->cause);
	event_base_loopbreak(base);
}

/* Run sh -c SCRIPT to its end under the loop. */
static void
run_sh(const char *script, int timeout, struct outcome *o, bool cancel)
{
	const char	*argv[] = { "/bin/sh", "-c", script, NULL };
	const char	*envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct proc_spec spec = { argv, envp, "/", timeout, 1 };
	struct proc	*p;
	char		*cause = NULL;

	memset(o, 0, sizeof *o);
	buf_init(&o->out, 64 * 1024 * 1024);
	o->keep = true;
	clock_gettime(CLOCK_MONOTONIC, &o->start);
	if (proc_spawn(&p, &spec, on_output, on_exit_cb, o, &cause) != 0)
		fail_msg("proc_spawn: %s", cause);
	if (cancel) {
		struct timeval tv = { 0, 300000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		proc_cancel(p, "asked");
	}
	while (!o->done)
		event_base_dispatch(base);
	proc_free(p);
}

static void
outcome_release(struct outcome *o)
{
	buf_release(&o->out);
	free(o->cause);
}

static void
test_order_and_causes(void **state)
{
	struct outcome	o;
	struct buf	want;
	int		i;

	(void)state;
	run_sh("i=0; while [ $i -lt 500 ]; do echo out$i; echo err$i >&2;"
	    " i=$((i + 1)); done; exit 3", 0, &o, false);
	buf_init(&want, 1 << 20);
	for (i = 0; i < 500; i++)
		buf_printf(&want, "out%d\nerr%d\n", i, i);
	assert_int_equal(o.out.len, want.len);
	assert_memory_equal(o.out.data, want.data, want.len);
	assert_int_equal(o.exit_code, 3);
	assert_string_equal(o.cause, "exited 3");
	buf_release(&want);
	outcome_release(&o);

	run_sh("kill -9 $$", 0, &o, false);
	assert_int_equal(o.sig, 9);
	assert_string_equal(o.cause, "killed by signal 9 (SIGKILL)");
	outcome_release(&o);

	run_sh("read x; echo \"[$x]\"", 0, &o, false);
	assert_string_equal(o.out.data, "[]\n");	/* stdin is /dev/null */
	outcome_release(&o);
}

static void
test_timeout_kills_grandchild(void **state)
{
	struct outcome	 o;
	char		*dir = tu_mkdtemp(), *script, pidbuf[32], *path, *end;
	FILE		*f;
	pid_t		 g;
	long		 pidl;
	int		 i;

	(void)state;
	script = xasprintf("sh -c 'echo $$ > %s/pid; exec sleep 1000' &"
	    " sleep 1000", dir);
	run_sh(script, 1, &o, false);
	assert_true(o.timed_out);
	assert_string_equal(o.cause, "timed out after 1s");
	path = xasprintf("%s/pid", dir);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(pidbuf, sizeof pidbuf, f));
	fclose(f);
	errno = 0;
	pidl = strtol(pidbuf, &end, 10);
	assert_true(errno == 0 && end != pidbuf && pidl > 1 &&
	    pidl <= INT_MAX);
	g = (pid_t)pidl;
	/* Reaped by our loop as an orphan: give it a moment. */
	for (i = 0; i < 50 && kill(g, 0) == 0; i++) {
		struct timeval tv = { 0, 20000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(kill(g, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(path);
	free(script);
	outcome_release(&o);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_cancel_and_volume(void **state)
{
	struct outcome	o;

	(void)state;
	run_sh("sleep 1000", 0, &o, true);
	assert_true(o.cancelled);
	assert_string_equal(o.cause, "cancelled: asked");
	outcome_release(&o);

	/* 64 MiB as fast as the child can write: nothing lost. */
	memset(&o, 0, sizeof o);
	run_sh("head -c 67108864 /dev/zero", 0, &o, false);
	assert_int_equal(o.bytes, 67108864);
	assert_int_equal(o.exit_code, 0);
	outcome_release(&o);
}

/*
 * Small writes, which the loop reads in batches (proc.c, proc_batch):
 * nothing lost, nothing reordered, the end still seen at once; and a
 * writer with pauses between its lines, read as they come.
 */
static void
test_small_writes(void **state)
{
	struct outcome	o;
	struct buf	want;
	int		i;

	(void)state;
	run_sh("dd if=/dev/zero bs=512 count=16384 2>/dev/null; echo end",
	    0, &o, false);
	assert_int_equal(o.bytes, 8388608 + 4);
	assert_memory_equal(o.out.data + 8388608, "end\n", 4);
	assert_int_equal(o.exit_code, 0);
	outcome_release(&o);

	run_sh("i=0; while [ $i -lt 40 ]; do echo out$i; echo err$i >&2;"
	    " [ $((i % 8)) = 0 ] && sleep 0.05; i=$((i + 1)); done", 0, &o,
	    false);
	buf_init(&want, 1 << 20);
	for (i = 0; i < 40; i++)
		buf_printf(&want, "out%d\nerr%d\n", i, i);
	assert_int_equal(o.out.len, want.len);
	assert_memory_equal(o.out.data, want.data, want.len);
	buf_release(&want);
	outcome_release(&o);
}

/*
 * A slow writer (a line every 10 ms or so) is read on a timer, several
 * lines at a time, not at each write (the pipe never goes into epoll:
 * proc.c, proc_poll_period); a line after a silence still comes within
 * PROC_POLL_MAX_US (50 ms), here well under a second, while the writer
 * sleeps; and the end is seen at the exit, not a period later.
 */
static void
test_slow_writer(void **state)
{
	struct outcome	o;
	struct buf	want;
	int		i;

	(void)state;
	run_sh("i=0; while [ $i -lt 60 ]; do echo out$i; echo err$i >&2;"
	    " sleep 0.01; i=$((i + 1)); done", 0, &o, false);
	buf_init(&want, 1 << 20);
	for (i = 0; i < 60; i++)
		buf_printf(&want, "out%d\nerr%d\n", i, i);
	assert_int_equal(o.out.len, want.len);
	assert_memory_equal(o.out.data, want.data, want.len);
	/* One callback a line or more before: 120 writes, 60 pauses. */
	if (o.calls > 30)
		fail_msg("%zu reads for 60 pauses", o.calls);
	buf_release(&want);
	outcome_release(&o);

	run_sh("echo first; sleep 2; echo second", 0, &o, false);
	assert_string_equal(o.out.data, "first\nsecond\n");
	if (o.first_ms > 1000)
		fail_msg("the first line came after %.0f ms", o.first_ms);
	outcome_release(&o);
}

static void
test_find_program(void **state)
{
	char	*out;

	(void)state;
	assert_int_equal(proc_find_program("sh", "/nonexistent:/bin", &out), 0);
	assert_string_equal(out, "/bin/sh");
	free(out);
	assert_int_equal(proc_find_program("no-such-program-here",
	    "/bin:/usr/bin", &out), -ENOENT);
	assert_int_equal(proc_find_program("bin/sh", "/bin", &out), -EINVAL);
}

static void
cap_emit(const char *data, size_t len, void *arg)
{
	buf_add(arg, data, len);
}

static void
test_logcap(void **state)
{
	struct logcap	c;
	struct buf	b;
	char		chunk[7];
	int		i;

	(void)state;
	buf_init(&b, 1 << 20);
	logcap_init(&c, 10, 8);
	for (i = 0; i < 10; i++) {
		snprintf(chunk, sizeof chunk, "%05d,", i);
		logcap_add(&c, chunk, 6, cap_emit, &b);
	}
	/* The head went out at once. */
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "00000,0000", 10);
	logcap_finish(&c, cap_emit, &b);
	assert_string_equal(b.data,
	    "00000,0000\n[cloudsphere: 42 bytes omitted]\n8,00009,");
	logcap_release(&c);

	/* Nothing dropped: no marker. */
	buf_reset(&b);
	logcap_init(&c, 100, 100);
	logcap_add(&c, "hello\n", 6, cap_emit, &b);
	logcap_finish(&c, cap_emit, &b);
	assert_string_equal(b.data, "hello\n");
	logcap_release(&c);
	buf_release(&b);
}

static void
test_workspace(void **state)
{
	char		*dir = tu_mkdtemp(), *src, *dest, *out, *p;
	const char	*add[] = { "git", "add", "-A", NULL };
	const char	*commit[] = { "git", "-c", "user.name=t", "-c",
	    "user.email=t@t", "commit", "-q", "-m", "t", NULL };
	const char	*init[] = { "git", "init", "-q", NULL };
	git_repository	*repo;
	git_object	*tree;
	struct stat	 st;
	char		*cause = NULL;

	(void)state;
	git_libgit2_init();
	src = xasprintf("%s/src", dir);
	mkdir(src, 0755);
	tu_write(src, "bp/run", "#!/bin/sh\n", 0755);
	tu_write(src, "bp/conf/a.txt", "a\n", 0644);
	tu_write(src, "bp/README", "r\n", 0644);
	p = xasprintf("%s/bp/link", src);
	assert_int_equal(symlink("conf/a.txt", p), 0);
	free(p);
	assert_int_equal(tu_run(src, init), 0);
	assert_int_equal(tu_run(src, add), 0);
	assert_int_equal(tu_run(src, commit), 0);
	assert_int_equal(git_repository_open(&repo, src), 0);
	assert_int_equal(git_revparse_single(&tree, repo, "HEAD:bp"), 0);

	dest = xasprintf("%s/work", dir);
	assert_int_equal(workspace_checkout(dest, repo, git_object_id(tree),
	    &cause), 0);
	p = xasprintf("%s/run", dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	free(p);
	p = xasprintf("%s/conf/a.txt", dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(p);
	p = xasprintf("%s/link", dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	free(p);
	/* It must not exist yet. */
	assert_int_not_equal(workspace_checkout(dest, repo,
	    git_object_id(tree), &cause), 0);
	free(cause);
	cause = NULL;

	/* Removal never follows a symlink out of the folder. */
	out = xasprintf("%s/outside", dir);
	mkdir(out, 0755);
	tu_write(out, "keep.txt", "keep\n", 0644);
	p = xasprintf("%s/escape", dest);
	assert_int_equal(symlink(out, p), 0);
	free(p);
	assert_int_equal(workspace_remove(dest), 0);
	assert_int_equal(stat(dest, &st), -1);
	p = xasprintf("%s/keep.txt", out);
	assert_int_equal(stat(p, &st), 0);
	free(p);

	git_object_free(tree);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(out);
	free(dest);
	free(src);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_workspace_link_outside(void **state)
{
	char		*dir = tu_mkdtemp(), *src, *dest, *p;
	const char	*add[] = { "git", "add", "-A", NULL };
	const char	*commit[] = { "git", "-c", "user.name=t", "-c",
	    "user.email=t@t", "commit", "-q", "-m", "t", NULL };
	const char	*init[] = { "git", "init", "-q", NULL };
	git_repository	*repo;
	git_object	*tree;
	struct stat	 st;
	char		*cause = NULL;

	(void)state;
	git_libgit2_init();
	src = xasprintf("%s/src", dir);
	mkdir(src, 0755);
	tu_write(src, "bp/run", "#!/bin/sh\n", 0755);
	p = xasprintf("%s/bp/up", src);
	assert_int_equal(symlink("../../etc/passwd", p), 0);
	free(p);
	tu_run(src, init);
	tu_run(src, add);
	tu_run(src, commit);
	assert_int_equal(git_repository_open(&repo, src), 0);
	assert_int_equal(git_revparse_single(&tree, repo, "HEAD:bp"), 0);
	dest = xasprintf("%s/work", dir);
	assert_int_equal(workspace_checkout(dest, repo, git_object_id(tree),
	    &cause), -ELOOP);
	assert_non_null(strstr(cause, "points outside the blueprint"));
	assert_int_equal(stat(dest, &st), -1);	/* nothing left behind */
	free(cause);
	git_object_free(tree);
	git_repository_free(repo);
	git_libgit2_shutdown();
	free(dest);
	free(src);
	tu_rm_rf(dir);
	free(dir);
}

static int
setup(void **state)
{
	(void)state;
	base = event_base_new();
	return (proc_init(base));
}

static int
teardown(void **state)
{
	(void)state;
	proc_shutdown();
	event_base_free(base);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_causes),
		cmocka_unit_test(test_timeout_kills_grandchild),
		cmocka_unit_test(test_cancel_and_volume),
		cmocka_unit_test(test_find_program),
		cmocka_unit_test(test_small_writes),
		cmocka_unit_test(test_slow_writer),
		cmocka_unit_test(test_logcap),
		cmocka_unit_test(test_workspace),
		cmocka_unit_test(test_workspace_link_outside),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
