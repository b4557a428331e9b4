/*
 * Unit tests of the store on a real SQLite file: schema and migrations,
 * every query, transitions recorded only on change, logs in order, what
 * recover does, and durability when the writer is killed with SIGKILL at
 * random moments.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

static struct store *
open_store(const char *dir)
{
	struct store	*s;
	char		*path = xasprintf("%s/test.db", dir), *cause = NULL;

	if (store_open(&s, path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	free(path);
	return (s);
}

static void
test_open_and_schema(void **state)
{
	char		*dir = tu_mkdtemp(), *path, *cause = NULL;
	struct store	*s;
	struct stat	 st;
	sqlite3		*db;
	int64_t		 id1, id2;

	(void)state;
	s = open_store(dir);
	path = xasprintf("%s/test.db", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(store_repository_upsert(s, "infra", "/srv/a.git",
	    "main", &id1), 0);
	store_close(s);

	/* Reopened: same data, no migration twice. */
	s = open_store(dir);
	assert_int_equal(store_repository_upsert(s, "infra", "/srv/b.git",
	    "main", &id2), 0);
	assert_int_equal(id1, id2);
	store_close(s);

	/* A newer schema is refused with a clear cause. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_not_equal(store_open(&s, path, &cause), 0);
	assert_non_null(strstr(cause, "newer than this cloudsphered"));
	free(cause);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_deployments_and_transitions(void **state)
{
	char			*dir = tu_mkdtemp();
	struct store		*s = open_store(dir);
	struct store_deployment	 d, *v;
	struct store_transition	*t;
	struct store_repository	 r;
	size_t			 n, i;
	int64_t			 repo, id, again;

	(void)state;
	assert_int_equal(store_repository_upsert(s, "infra", "/srv/x.git",
	    "main", &repo), 0);
	assert_int_equal(store_repository_set_commit(s, repo,
	    "0123456789012345678901234567890123456789", NULL), 0);
	assert_int_equal(store_repository_get(s, "infra", &r), 0);
	assert_string_equal(r.last_commit,
	    "0123456789012345678901234567890123456789");
	store_repository_release(&r);
	assert_int_equal(store_repository_get(s, "nope", &r), -ENOENT);

	assert_int_equal(store_deployment_ensure(s, repo, "web", &id), 0);
	assert_int_equal(store_deployment_ensure(s, repo, "web", &again), 0);
	assert_int_equal(id, again);
	assert_int_equal(store_deployment_get(s, repo, "web", &d), 0);
	assert_string_equal(d.phase, "pending");
	assert_string_equal(d.repository, "infra");
	assert_null(d.applied_fingerprint);
	store_deployment_release(&d);

	assert_int_equal(store_deployment_set_desired(s, id, "bp", "env",
	    "c1", "f1", false), 0);
	assert_int_equal(store_deployment_set_phase(s, id, "applying", 7,
	    "new deployment", NULL), 0);
	/* The same phase again is not a transition. */
	assert_int_equal(store_deployment_set_phase(s, id, "applying", 7,
	    "new deployment", NULL), 0);
	assert_int_equal(store_deployment_set_applied(s, id, "c1", "f1",
	    "{\"a\":1}"), 0);
	assert_int_equal(store_deployment_set_phase(s, id, "ready", 7,
	    "applied", NULL), 0);
	assert_int_equal(store_deployment_get_by_id(s, id, &d), 0);
	assert_string_equal(d.phase, "ready");
	assert_string_equal(d.applied_fingerprint, "f1");
	assert_string_equal(d.outputs, "{\"a\":1}");
	assert_int_equal(d.last_run_id, 7);
	assert_true(d.applied_at > 0);
	store_deployment_release(&d);

	assert_int_equal(store_transition_list(s, id, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].from_phase, "pending");
	assert_string_equal(t[0].to_phase, "applying");
	assert_string_equal(t[1].to_phase, "ready");
	assert_string_equal(t[1].reason, "applied");
	for (i = 0; i < n; i++)
		store_transition_release(&t[i]);
	free(t);

	assert_int_equal(store_deployment_ensure(s, repo, "api", &again), 0);
	assert_int_equal(store_deployment_list(s, repo, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "api");	/* by name */
	for (i = 0; i < n; i++)
		store_deployment_release(&v[i]);
	free(v);
	store_close(s);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_runs_and_logs(void **state)
{
	char			*dir = tu_mkdtemp();
	struct store		*s = open_store(dir);
	struct store_run	 u, *v;
	struct buf		 b;
	int64_t			 repo, dep, r1, r2, last;
	size_t			 n, i;
	static const char	 chunk[] = { 'a', '\0', 'b', '\n' };

	(void)state;
	store_repository_upsert(s, "infra", "/x", "main", &repo);
	store_deployment_ensure(s, repo, "web", &dep);
	assert_int_equal(store_run_insert(s, dep, "apply", "poll", "c1", "f1",
	    &r1), 0);
	assert_int_equal(store_run_insert(s, dep, "destroy", "cli", "c2",
	    "f2", &r2), 0);
	assert_true(r2 > r1);
	assert_int_equal(store_run_start(s, r1), 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(store_log_append(s, r1, chunk, sizeof chunk),
		    0);
	assert_int_equal(store_run_finish(s, r1, "failed", 3, "exited 3",
	    NULL), 0);
	assert_int_equal(store_run_get(s, r1, &u), 0);
	assert_string_equal(u.state, "failed");
	assert_int_equal(u.exit_code, 3);
	assert_string_equal(u.cause, "exited 3");
	assert_string_equal(u.deployment, "web");
	assert_int_equal(u.log_bytes, 100 * sizeof chunk);
	assert_true(u.started_at >= u.queued_at && u.finished_at >= u.started_at);
	store_run_release(&u);
	assert_int_equal(store_run_get(s, r2, &u), 0);
	assert_int_equal(u.exit_code, -1);
	store_run_release(&u);

	/* Newest first, with a limit. */
	assert_int_equal(store_run_list(s, dep, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, r2);
	store_run_release(&v[0]);
	free(v);

	/* Logs: all of it, in order; then by pieces after a sequence. */
	buf_init(&b, 1 << 20);
	assert_int_equal(store_log_read(s, r1, 0, 1 << 20, &b, &last), 0);
	assert_int_equal(b.len, 100 * sizeof chunk);
	assert_int_equal(last, 100);
	assert_memory_equal(b.data + 4 * 50, chunk, sizeof chunk);
	buf_reset(&b);
	assert_int_equal(store_log_read(s, r1, 90, 8, &b, &last), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(last, 92);
	buf_reset(&b);
	assert_int_equal(store_log_read(s, r1, 100, 1 << 20, &b, &last), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(last, 100);
	buf_release(&b);
	store_close(s);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_recover(void **state)
{
	char			*dir = tu_mkdtemp();
	struct store		*s = open_store(dir);
	struct store_deployment	 d;
	struct store_run	 u;
	struct store_transition	*t;
	int64_t			 repo, dep, r1, r2, r3;
	size_t			 n, i, count;

	(void)state;
	store_repository_upsert(s, "infra", "/x", "main", &repo);
	store_deployment_ensure(s, repo, "web", &dep);
	store_run_insert(s, dep, "apply", "poll", "c", "f", &r1);
	store_run_start(s, r1);
	store_run_finish(s, r1, "succeeded", 0, "exited 0", "{}");
	store_run_insert(s, dep, "apply", "poll", "c", "f", &r2);
	store_run_start(s, r2);
	store_run_insert(s, dep, "apply", "poll", "c", "f", &r3);
	store_deployment_set_phase(s, dep, "applying", r2, "changed", NULL);
	store_close(s);

	s = open_store(dir);
	assert_int_equal(store_recover(s, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(store_run_get(s, r1, &u), 0);
	assert_string_equal(u.state, "succeeded");
	store_run_release(&u);
	assert_int_equal(store_run_get(s, r2, &u), 0);
	assert_string_equal(u.state, "interrupted");
	assert_true(u.finished_at > 0);
	store_run_release(&u);
	assert_int_equal(store_run_get(s, r3, &u), 0);
	assert_string_equal(u.state, "interrupted");
	store_run_release(&u);
	assert_int_equal(store_deployment_get_by_id(s, dep, &d), 0);
	assert_string_equal(d.phase, "failed");
	assert_int_equal(d.retry_at, 0);
	store_deployment_release(&d);
	assert_int_equal(store_transition_list(s, dep, &t, &n), 0);
	assert_string_equal(t[n - 1].reason, "daemon restarted");
	for (i = 0; i < n; i++)
		store_transition_release(&t[i]);
	free(t);
	/* A second recover finds nothing. */
	assert_int_equal(store_recover(s, &count), 0);
	assert_int_equal(count, 0);
	store_close(s);
	tu_rm_rf(dir);
	free(dir);
}

/* The writer of the crash test: never returns. */
static void
crash_writer(const char *dir)
{
	struct store	*s = open_store(dir);
	int64_t		 repo, dep, run;
	char		 line[64];
	int		 i, k;

	store_repository_upsert(s, "infra", "/x", "main", &repo);
	for (k = 0;; k++) {
		store_deployment_ensure(s, repo, k % 2 ? "a" : "b", &dep);
		store_begin(s);
		store_run_insert(s, dep, "apply", "poll", "c", "f", &run);
		store_deployment_set_phase(s, dep, "applying", run, "changed",
		    NULL);
		store_commit(s);
		store_run_start(s, run);
		for (i = 0; i < 20; i++) {
			snprintf(line, sizeof line, "run %lld line %d\n",
			    (long long)run, i);
			store_log_append(s, run, line, strlen(line));
		}
		store_begin(s);
		store_run_finish(s, run, "succeeded", 0, "exited 0", "{}");
		store_deployment_set_phase(s, dep, "ready", run, "applied",
		    NULL);
		store_commit(s);
	}
}

static void
test_kill9(void **state)
{
	char		*dir = tu_mkdtemp(), *path;
	struct store	*s;
	sqlite3		*db;
	sqlite3_stmt	*st;
	pid_t		 pid;
	int		 round, status;
	size_t		 count;
	int64_t		 prev = 0;

	(void)state;
	srand((unsigned)time(NULL));
	for (round = 0; round < 6; round++) {
		if ((pid = fork()) == 0)
			crash_writer(dir);
		usleep(20000 + (rand() % 80000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		s = open_store(dir);
		assert_int_equal(store_recover(s, &count), 0);
		assert_true(count <= 1);
		store_close(s);
	}
	path = xasprintf("%s/test.db", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	/* Every run ended; ids only grow; log sequences have no hole. */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM runs"
	    " WHERE state IN ('queued', 'running')", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT run_id, count(*),"
	    " max(seq) FROM run_logs GROUP BY run_id", -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		assert_int_equal(sqlite3_column_int(st, 1),
		    sqlite3_column_int(st, 2));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id FROM runs ORDER BY"
	    " rowid", -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(sqlite3_column_int64(st, 0) > prev);
		prev = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	assert_true(prev > 0);
	sqlite3_close(db);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_and_schema),
		cmocka_unit_test(test_deployments_and_transitions),
		cmocka_unit_test(test_runs_and_logs),
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_kill9),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
