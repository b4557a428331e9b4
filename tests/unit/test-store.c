/*
 * Unit tests of the store, on real SQLite files: migrations (from an empty
 * file and from schema 1), refusal of newer or foreign files, every
 * function, transitions recorded only on change, logs, recover, prune, and
 * a crash test that kills a writing process at random moments and checks
 * the file it leaves.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "testutil-store.h"
#include "xmalloc.h"

static int64_t
new_run(struct tu_store *f, int64_t dep, const char *action)
{
	int64_t	id;

	assert_int_equal(store_run_insert(f->s, dep, action, "poll", "c0ffee",
	    "fp", &id), 0);
	return (id);
}

/* The run is in that state. */
static void
assert_run_state(struct tu_store *f, int64_t run, const char *state)
{
	struct store_run	u;

	assert_int_equal(store_run_get(f->s, run, &u), 0);
	assert_string_equal(u.state, state);
	store_run_release(&u);
}

/* Pull-request previews: never active, hidden rows until the branch has them. */
static void
test_pulls(void **state)
{
	struct tu_store		*f = *state;
	struct store_deployment	*v, row;
	struct store_run	 run;
	size_t			 n;
	int64_t			 web, hidden, again, id, pid, active;

	assert_int_equal(store_deployment_ensure(f->s, f->repo, "web", &web),
	    0);
	/* The branch's own row is where a preview of it goes. */
	assert_int_equal(store_deployment_ensure_pull(f->s, f->repo, "web", 7,
	    &again), 0);
	assert_int_equal(again, web);
	assert_int_equal(store_run_insert(f->s, web, "apply", "poll", NULL,
	    NULL, &id), 0);
	assert_int_equal(store_run_insert(f->s, web, "plan", "pull-request",
	    NULL, NULL, &pid), 0);
	assert_int_equal(store_run_set_pull(f->s, pid, 7), 0);
	assert_int_equal(store_run_set_pull(f->s, pid + 100, 7), -ENOENT);
	assert_int_equal(store_run_set_pull(f->s, pid, 0), -EINVAL);
	assert_int_equal(store_run_active(f->s, web, &active), 0);
	assert_int_equal(active, id);
	assert_int_equal(store_run_finish(f->s, id, "succeeded", 0, NULL,
	    NULL), 0);
	assert_int_equal(store_run_active(f->s, web, &active), -ENOENT);
	assert_int_equal(store_run_get(f->s, pid, &run), 0);
	assert_int_equal(run.pull, 7);
	store_run_release(&run);
	assert_int_equal(store_run_get(f->s, id, &run), 0);
	assert_int_equal(run.pull, 0);
	store_run_release(&run);

	/* A deployment only the pull request declares: hidden. */
	assert_int_equal(store_deployment_ensure_pull(f->s, f->repo, "cache",
	    7, &hidden), 0);
	assert_true(hidden != web);
	assert_int_equal(store_deployment_ensure_pull(f->s, f->repo, "cache",
	    8, &again), 0);
	assert_int_equal(again, hidden);
	assert_int_equal(store_deployment_list(f->s, f->repo, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "web");
	store_deployment_array_free(v, n);
	assert_int_equal(store_deployment_get(f->s, f->repo, "cache", &row),
	    -ENOENT);
	assert_int_equal(store_deployment_get_by_id(f->s, hidden, &row), 0);
	assert_string_equal(row.name, "cache");
	store_deployment_release(&row);
	/* Merged: the branch declares it, the same row becomes its own. */
	assert_int_equal(store_deployment_ensure(f->s, f->repo, "cache",
	    &again), 0);
	assert_int_equal(again, hidden);
	assert_int_equal(store_deployment_list(f->s, f->repo, &v, &n), 0);
	assert_int_equal(n, 2);
	store_deployment_array_free(v, n);
	assert_int_equal(store_deployment_get(f->s, f->repo, "cache", &row),
	    0);
	assert_string_equal(row.phase, "pending");
	store_deployment_release(&row);
}

static void
test_time_format(void **state)
{
	char	buf[32];

	(void)state;
	store_time_format(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	store_time_format(1795543620123LL, buf);
	assert_string_equal(buf, "2026-11-24T18:07:00.123Z");
	store_time_format(1795543620005LL, buf);
	assert_string_equal(buf, "2026-11-24T18:07:00.005Z");
	store_time_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	assert_true(store_now() > 1700000000000LL);
}

static void
test_open_new(void **state)
{
	struct tu_store	*f = *state;
	struct stat	 sb;
	sqlite3		*db;
	char		*mode;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(store_version(f->s), STORE_SCHEMA_VERSION);
	db = tu_db_open(f->path);
	mode = tu_db_text(db, "PRAGMA journal_mode");
	assert_string_equal(mode, "wal");
	free(mode);
	assert_int_equal(tu_db_int(db, "PRAGMA application_id"),
	    STORE_APPLICATION_ID);
	assert_int_equal(tu_db_int(db, "PRAGMA user_version"),
	    STORE_SCHEMA_VERSION);
	sqlite3_close(db);

	/* Reopening an up-to-date file changes nothing. */
	store_close(f->s);
	f->s = NULL;
	{
		char	*cause = NULL;

		assert_int_equal(store_open(&f->s, f->path, &cause), 0);
		assert_null(cause);
	}
	assert_int_equal(store_version(f->s), STORE_SCHEMA_VERSION);
}

static void
test_open_refused(void **state)
{
	struct tu_store	*f = *state;
	struct store	*s = NULL;
	sqlite3		*db;
	char		*cause = NULL, *path;

	/* A folder. */
	assert_true(store_open(&s, f->dir, &cause) < 0);
	assert_null(s);
	assert_non_null(cause);
	assert_non_null(strstr(cause, f->dir));
	free(cause);

	/* Some other file. */
	tu_write(f->dir, "junk.db", "this is not a database, not at all; it"
	    " only has to be long enough to hold a header of a hundred bytes"
	    " of text, which it does now\n", 0600);
	path = xasprintf("%s/junk.db", f->dir);
	assert_true(store_open(&s, path, &cause) < 0);
	assert_null(s);
	assert_non_null(strstr(cause, "not a database"));
	free(cause);
	free(path);

	/* Another program's database. */
	path = xasprintf("%s/other.db", f->dir);
	tu_db_exec_file(path, "CREATE TABLE t (x)");
	assert_int_equal(store_open(&s, path, &cause), -EPROTO);
	assert_string_equal(strchr(cause, ' ') + 1,
	    "not a cloudsphere database");
	free(cause);
	free(path);

	/* A newer cloudsphered's database. */
	store_close(f->s);
	f->s = NULL;
	tu_db_exec_file(f->path, "PRAGMA user_version = 99");
	assert_int_equal(store_open(&f->s, f->path, &cause), -EPROTO);
	assert_null(f->s);
	assert_non_null(strstr(cause, "schema version 99, newer than"));
	free(cause);
	/* Left as it was. */
	db = tu_db_open(f->path);
	assert_int_equal(tu_db_int(db, "PRAGMA user_version"), 99);
	sqlite3_close(db);
}

/* Schema 1 as the first cloudsphered wrote it, with some history. */
static const char schema_1[] =
	"CREATE TABLE repositories (id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE, url TEXT, branch TEXT, last_commit TEXT,"
	" last_error TEXT, updated_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE deployments (id INTEGER PRIMARY KEY,"
	" repository_id INTEGER NOT NULL REFERENCES repositories(id),"
	" name TEXT NOT NULL, phase TEXT NOT NULL DEFAULT 'pending',"
	" blueprint TEXT, environment TEXT,"
	" suspended INTEGER NOT NULL DEFAULT 0,"
	" operator_suspended INTEGER NOT NULL DEFAULT 0,"
	" destroy_approved INTEGER NOT NULL DEFAULT 0,"
	" desired_commit TEXT, desired_fingerprint TEXT,"
	" applied_commit TEXT, applied_fingerprint TEXT,"
	" applied_at INTEGER NOT NULL DEFAULT 0, cause TEXT, outputs TEXT,"
	" last_run_id INTEGER NOT NULL DEFAULT 0,"
	" failures INTEGER NOT NULL DEFAULT 0,"
	" retry_at INTEGER NOT NULL DEFAULT 0, UNIQUE (repository_id, name));"
	"CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	" action TEXT NOT NULL, trigger TEXT NOT NULL, commit_id TEXT,"
	" fingerprint TEXT, state TEXT NOT NULL, exit_code INTEGER,"
	" cause TEXT, outputs TEXT, queued_at INTEGER NOT NULL,"
	" started_at INTEGER NOT NULL DEFAULT 0,"
	" finished_at INTEGER NOT NULL DEFAULT 0,"
	" log_bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX runs_by_deployment ON runs (deployment_id, id);"
	"CREATE INDEX runs_by_state ON runs (state);"
	"CREATE TABLE run_logs (run_id INTEGER NOT NULL REFERENCES runs(id),"
	" seq INTEGER NOT NULL, at INTEGER NOT NULL, data BLOB NOT NULL,"
	" PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE transitions (id INTEGER PRIMARY KEY,"
	" deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	" from_phase TEXT, to_phase TEXT NOT NULL,"
	" run_id INTEGER NOT NULL DEFAULT 0, reason TEXT,"
	" at INTEGER NOT NULL);"
	"CREATE INDEX transitions_by_deployment"
	" ON transitions (deployment_id, id);"
	"INSERT INTO repositories VALUES (1, 'infra', 'u', 'main', 'abc',"
	" NULL, 5);"
	"INSERT INTO deployments (id, repository_id, name, phase,"
	" applied_fingerprint) VALUES (1, 1, 'net', 'applying', 'fp');"
	"INSERT INTO runs (id, deployment_id, action, trigger, state,"
	" exit_code, queued_at, log_bytes) VALUES"
	" (7, 1, 'apply', 'poll', 'succeeded', 0, 10, 0),"
	" (8, 1, 'apply', 'poll', 'running', NULL, 11, 6);"
	"INSERT INTO run_logs VALUES (8, 1, 11, x'6f6e65'),"
	" (8, 2, 12, x'74776f');"
	"INSERT INTO transitions (deployment_id, from_phase, to_phase, run_id,"
	" reason, at) VALUES (1, 'pending', 'applying', 8, 'new', 11);"
	"PRAGMA user_version = 1;";

static void
test_migrate_from_1(void **state)
{
	struct tu_store		*f = *state;
	struct store		*s;
	struct store_run	 run;
	struct buf		 b;
	sqlite3			*db;
	char			*cause = NULL, *path;
	int64_t			 last, id;
	size_t			 n;

	path = xasprintf("%s/v1.db", f->dir);
	db = tu_db_open(path);
	tu_db_exec(db, "PRAGMA journal_mode = WAL");
	tu_db_exec(db, schema_1);
	sqlite3_close(db);

	assert_int_equal(store_open(&s, path, &cause), 0);
	assert_int_equal(store_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_run_get(s, 8, &run), 0);
	assert_string_equal(run.state, "running");
	assert_string_equal(run.deployment, "net");
	assert_string_equal(run.repository, "infra");
	assert_int_equal(run.log_bytes, 6);
	assert_int_equal(run.log_dropped, 0);
	assert_int_equal(run.exit_code, -1);
	store_run_release(&run);

	/* The log continues where it was: no hole, no duplicate. */
	assert_int_equal(store_log_append(s, 8, "three", 5), 0);
	buf_init(&b, 1024);
	assert_int_equal(store_log_read(s, 8, 0, 1024, &b, &last), 0);
	assert_int_equal(last, 3);
	assert_string_equal(b.data, "onetwothree");
	buf_release(&b);

	/* Recover works on the old history. */
	assert_int_equal(store_recover(s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_run_insert(s, 1, "plan", "cli", NULL, NULL,
	    &id), 0);
	assert_int_equal(id, 9);
	store_close(s);

	db = tu_db_open(path);
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE name = 'runs_by_state'"), 0);
	assert_int_equal(tu_db_int(db, "SELECT log_seq FROM runs WHERE id = 8"),
	    3);
	assert_int_equal(tu_db_int(db, "PRAGMA application_id"),
	    STORE_APPLICATION_ID);
	sqlite3_close(db);
	free(path);
}

static void
test_repositories(void **state)
{
	struct tu_store		*f = *state;
	struct store_repository	 r;
	int64_t			 id, id2;

	assert_int_equal(store_repository_upsert(f->s, "infra", "file:///x",
	    "dev", &id), 0);
	assert_int_equal(id, f->repo);
	assert_int_equal(store_repository_upsert(f->s, "apps", "u", "main",
	    &id2), 0);
	assert_int_not_equal(id2, id);
	assert_int_equal(store_repository_upsert(f->s, "", "u", "m", &id2),
	    -EINVAL);
	assert_int_equal(store_repository_get(f->s, "infra", &r), 0);
	assert_string_equal(r.url, "file:///x");
	assert_string_equal(r.branch, "dev");
	assert_null(r.last_commit);
	assert_true(r.updated_at > 0);
	store_repository_release(&r);

	assert_int_equal(store_repository_set_commit(f->s, id, "abc", NULL),
	    0);
	/* A failed fetch keeps the last commit. */
	assert_int_equal(store_repository_set_commit(f->s, id, NULL,
	    "timed out"), 0);
	assert_int_equal(store_repository_get(f->s, "infra", &r), 0);
	assert_string_equal(r.last_commit, "abc");
	assert_string_equal(r.last_error, "timed out");
	store_repository_release(&r);
	assert_int_equal(store_repository_set_commit(f->s, id, "def", NULL),
	    0);
	assert_int_equal(store_repository_get(f->s, "infra", &r), 0);
	assert_string_equal(r.last_commit, "def");
	assert_null(r.last_error);
	store_repository_release(&r);

	assert_int_equal(store_repository_get(f->s, "nope", &r), -ENOENT);
	store_repository_release(&r);
	store_repository_release(NULL);
	assert_int_equal(store_repository_set_commit(f->s, 999, "x", NULL),
	    -ENOENT);
}

static void
test_deployments(void **state)
{
	struct tu_store		*f = *state;
	struct store_deployment	 d, *v;
	int64_t			 web, net, other, repo2, id;
	size_t			 n;

	web = tu_store_deployment(f, "web");
	net = tu_store_deployment(f, "net");
	assert_int_equal(store_deployment_ensure(f->s, f->repo, "web", &id),
	    0);
	assert_int_equal(id, web);
	assert_int_equal(store_deployment_ensure(f->s, f->repo, NULL, &id),
	    -EINVAL);
	/* The repository must exist. */
	assert_int_equal(store_deployment_ensure(f->s, 999, "x", &id),
	    -ENOENT);
	assert_int_equal(store_repository_upsert(f->s, "apps", "u", "main",
	    &repo2), 0);
	assert_int_equal(store_deployment_ensure(f->s, repo2, "web", &other),
	    0);
	assert_int_not_equal(other, web);

	assert_int_equal(store_deployment_get(f->s, f->repo, "web", &d), 0);
	assert_int_equal(d.id, web);
	assert_string_equal(d.phase, "pending");
	assert_string_equal(d.repository, "infra");
	assert_null(d.blueprint);
	assert_false(d.suspended);
	assert_int_equal(d.last_run_id, 0);
	store_deployment_release(&d);
	assert_int_equal(store_deployment_get(f->s, f->repo, "nope", &d),
	    -ENOENT);
	assert_null(d.name);
	assert_int_equal(store_deployment_get_by_id(f->s, 999, &d), -ENOENT);

	assert_int_equal(store_deployment_set_desired(f->s, web, "webapp",
	    "prod", "c1", "fp1", true), 0);
	assert_int_equal(store_deployment_set_applied(f->s, web, "c1", "fp1",
	    "{\"address\":\"10.0.0.1\"}"), 0);
	assert_int_equal(store_deployment_set_retry(f->s, web, 3, 12345), 0);
	assert_int_equal(store_deployment_set_operator_suspended(f->s, web,
	    true), 0);
	assert_int_equal(store_deployment_set_destroy_approved(f->s, web,
	    true), 0);
	assert_int_equal(store_deployment_get_by_id(f->s, web, &d), 0);
	assert_string_equal(d.blueprint, "webapp");
	assert_string_equal(d.environment, "prod");
	assert_string_equal(d.desired_commit, "c1");
	assert_string_equal(d.desired_fingerprint, "fp1");
	assert_string_equal(d.applied_commit, "c1");
	assert_string_equal(d.applied_fingerprint, "fp1");
	assert_string_equal(d.outputs, "{\"address\":\"10.0.0.1\"}");
	assert_true(d.applied_at > 0);
	assert_true(d.suspended);
	assert_true(d.operator_suspended);
	assert_true(d.destroy_approved);
	assert_int_equal(d.failures, 3);
	assert_int_equal(d.retry_at, 12345);
	store_deployment_release(&d);

	/* After destroy. */
	assert_int_equal(store_deployment_set_applied(f->s, web, NULL, NULL,
	    NULL), 0);
	assert_int_equal(store_deployment_get_by_id(f->s, web, &d), 0);
	assert_null(d.applied_commit);
	assert_null(d.applied_fingerprint);
	assert_null(d.outputs);
	assert_int_equal(d.applied_at, 0);
	store_deployment_release(&d);
	store_deployment_release(NULL);

	/* Missing rows. */
	assert_int_equal(store_deployment_set_desired(f->s, 999, "b", "e",
	    "c", "f", false), -ENOENT);
	assert_int_equal(store_deployment_set_applied(f->s, 999, "c", "f",
	    NULL), -ENOENT);
	assert_int_equal(store_deployment_set_retry(f->s, 999, 1, 1),
	    -ENOENT);
	assert_int_equal(store_deployment_set_operator_suspended(f->s, 999,
	    true), -ENOENT);

	/* Sorted by repository, then name. */
	assert_int_equal(store_deployment_list(f->s, 0, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].repository, "apps");
	assert_int_equal(v[1].id, net);
	assert_int_equal(v[2].id, web);
	store_deployment_array_free(v, n);
	assert_int_equal(store_deployment_list(f->s, f->repo, &v, &n), 0);
	assert_int_equal(n, 2);
	store_deployment_array_free(v, n);
	assert_int_equal(store_deployment_list(f->s, 999, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	store_deployment_array_free(NULL, 0);
}

static void
test_transitions(void **state)
{
	struct tu_store		*f = *state;
	struct store_deployment	 d;
	struct store_transition	*t;
	int64_t			 dep, run;
	size_t			 n;

	dep = tu_store_deployment(f, "web");
	run = new_run(f, dep, "apply");
	assert_int_equal(store_deployment_set_phase(f->s, dep, "applying",
	    run, "new deployment", NULL), 0);
	/* The same phase again: the cause changes, no transition. */
	assert_int_equal(store_deployment_set_phase(f->s, dep, "applying",
	    0, "again", "still going"), 0);
	assert_int_equal(store_deployment_set_phase(f->s, dep, "failed", run,
	    "apply failed", "exited 1"), 0);
	assert_int_equal(store_deployment_set_phase(f->s, dep, "bogus", 0,
	    "x", NULL), -EINVAL);
	assert_int_equal(store_deployment_set_phase(f->s, 999, "ready", 0,
	    "x", NULL), -ENOENT);
	assert_int_equal(store_deployment_set_phase(f->s, dep, "ready", 0,
	    "fixed by hand", NULL), 0);

	assert_int_equal(store_transition_list(f->s, dep, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].from_phase, "pending");
	assert_string_equal(t[0].to_phase, "applying");
	assert_int_equal(t[0].run_id, run);
	assert_string_equal(t[0].reason, "new deployment");
	assert_true(t[0].at > 0);
	assert_string_equal(t[1].from_phase, "applying");
	assert_string_equal(t[1].to_phase, "failed");
	assert_string_equal(t[1].reason, "apply failed");
	assert_string_equal(t[2].to_phase, "ready");
	assert_int_equal(t[2].run_id, 0);
	assert_true(t[0].id < t[1].id && t[1].id < t[2].id);
	store_transition_array_free(t, n);

	/* last_run_id stays when no run is given; the cause is replaced. */
	assert_int_equal(store_deployment_get_by_id(f->s, dep, &d), 0);
	assert_string_equal(d.phase, "ready");
	assert_int_equal(d.last_run_id, run);
	assert_null(d.cause);
	store_deployment_release(&d);

	assert_int_equal(store_transition_list(f->s, 999, &t, &n), 0);
	assert_int_equal(n, 0);
	store_transition_release(NULL);
	store_transition_array_free(NULL, 0);
}

static void
test_runs(void **state)
{
	struct tu_store		*f = *state;
	struct store_run	 u, *v;
	int64_t			 web, net, r1, r2, r3, id;
	size_t			 n;

	web = tu_store_deployment(f, "web");
	net = tu_store_deployment(f, "net");
	assert_int_equal(store_run_active(f->s, web, &id), -ENOENT);
	r1 = new_run(f, web, "plan");
	r2 = new_run(f, net, "apply");
	assert_true(r2 > r1);
	assert_int_equal(store_run_insert(f->s, web, "deploy", "poll", NULL,
	    NULL, &id), -EINVAL);
	assert_int_equal(store_run_insert(f->s, web, "apply", NULL, NULL,
	    NULL, &id), -EINVAL);
	assert_int_equal(store_run_insert(f->s, 999, "apply", "poll", NULL,
	    NULL, &id), -ENOENT);

	assert_int_equal(store_run_get(f->s, r1, &u), 0);
	assert_string_equal(u.state, "queued");
	assert_string_equal(u.action, "plan");
	assert_string_equal(u.trigger, "poll");
	assert_string_equal(u.commit, "c0ffee");
	assert_string_equal(u.fingerprint, "fp");
	assert_string_equal(u.deployment, "web");
	assert_string_equal(u.repository, "infra");
	assert_int_equal(u.exit_code, -1);
	assert_true(u.queued_at > 0);
	assert_int_equal(u.started_at, 0);
	assert_int_equal(u.finished_at, 0);
	store_run_release(&u);
	assert_int_equal(store_run_active(f->s, web, &id), 0);
	assert_int_equal(id, r1);

	assert_int_equal(store_run_start(f->s, r1), 0);
	assert_int_equal(store_run_start(f->s, r1), -EALREADY);
	assert_int_equal(store_run_start(f->s, 999), -ENOENT);
	assert_int_equal(store_run_finish(f->s, r1, "running", 0, NULL, NULL),
	    -EINVAL);
	assert_int_equal(store_run_finish(f->s, r1, "failed", 2, "exited 2",
	    "{\"a\":1}"), 0);
	assert_int_equal(store_run_finish(f->s, r1, "succeeded", 0, NULL,
	    NULL), -EALREADY);
	assert_int_equal(store_run_finish(f->s, 999, "succeeded", 0, NULL,
	    NULL), -ENOENT);
	assert_int_equal(store_run_get(f->s, r1, &u), 0);
	assert_string_equal(u.state, "failed");
	assert_int_equal(u.exit_code, 2);
	assert_string_equal(u.cause, "exited 2");
	assert_string_equal(u.outputs, "{\"a\":1}");
	assert_true(u.started_at >= u.queued_at);
	assert_true(u.finished_at >= u.started_at);
	store_run_release(&u);
	assert_int_equal(store_run_active(f->s, web, &id), -ENOENT);

	/* A queued run cancelled before it started; no exit code. */
	assert_int_equal(store_run_finish(f->s, r2, "cancelled", -1,
	    "cancelled by the operator", NULL), 0);
	assert_int_equal(store_run_get(f->s, r2, &u), 0);
	assert_int_equal(u.exit_code, -1);
	assert_int_equal(u.started_at, 0);
	store_run_release(&u);
	assert_int_equal(store_run_start(f->s, r2), -EALREADY);
	assert_int_equal(store_run_get(f->s, 999, &u), -ENOENT);

	r3 = new_run(f, web, "destroy");
	assert_int_equal(store_run_list(f->s, 0, 0, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, r3);
	assert_int_equal(v[1].id, r2);
	assert_int_equal(v[2].id, r1);
	store_run_array_free(v, n);
	assert_int_equal(store_run_list(f->s, web, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, r3);
	assert_int_equal(v[1].id, r1);
	store_run_array_free(v, n);
	assert_int_equal(store_run_list(f->s, 0, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, r3);
	store_run_array_free(v, n);
	assert_int_equal(store_run_list(f->s, 999, 5, &v, &n), 0);
	assert_int_equal(n, 0);
	store_run_array_free(NULL, 0);
	store_run_release(NULL);
}

static void
test_transactions(void **state)
{
	struct tu_store		*f = *state;
	struct store_deployment	 d;
	int64_t			 dep, run, id;

	dep = tu_store_deployment(f, "web");
	assert_int_equal(store_commit(f->s), -EINVAL);
	assert_int_equal(store_rollback(f->s), -EINVAL);

	/* A failed statement in a function's own transaction. */
	assert_int_equal(store_run_insert(f->s, 999, "apply", "poll", NULL,
	    NULL, &id), -ENOENT);
	assert_int_equal(store_deployment_ensure(f->s, 999, "x", &id),
	    -ENOENT);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_commit(f->s), 0);

	/* Nested: only the outer commit counts. */
	assert_int_equal(store_begin(f->s), 0);
	run = new_run(f, dep, "apply");
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_deployment_set_phase(f->s, dep, "applying",
	    run, "new", NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_deployment_get_by_id(f->s, dep, &d), 0);
	assert_string_equal(d.phase, "applying");
	store_deployment_release(&d);

	/* An inner rollback dooms the whole. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_run_start(f->s, run), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_rollback(f->s), 0);
	/* Writes are refused from now on, reads still work. */
	assert_int_equal(store_run_finish(f->s, run, "succeeded", 0, NULL,
	    NULL), -ECANCELED);
	assert_int_equal(store_run_active(f->s, dep, &id), 0);
	assert_int_equal(store_commit(f->s), -ECANCELED);
	assert_int_equal(store_run_active(f->s, dep, &id), 0);
	assert_run_state(f, run, "queued");

	/* A failing statement inside dooms it too. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_run_start(f->s, run), 0);
	assert_int_equal(store_run_insert(f->s, 999, "apply", "poll", NULL,
	    NULL, &id), -ENOENT);
	assert_int_equal(store_commit(f->s), -ECANCELED);
	assert_run_state(f, run, "queued");

	/* A function that fails before writing leaves it alive. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_run_start(f->s, run), 0);
	assert_int_equal(store_deployment_set_phase(f->s, 999, "ready", 0,
	    "x", NULL), -ENOENT);
	assert_int_equal(store_log_append(f->s, 999, "x", 1), -ENOENT);
	assert_int_equal(store_run_start(f->s, run), -EALREADY);
	assert_int_equal(store_deployment_delete(f->s, dep), -EBUSY);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_run_start(f->s, run), -EALREADY);

	/* An open transaction is rolled back at close. */
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_run_finish(f->s, run, "succeeded", 0, NULL,
	    NULL), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(&f->s, f->path, &(char *){NULL}), 0);
	assert_run_state(f, run, "running");
}

static void
test_logs(void **state)
{
	struct tu_store		*f = *state;
	struct store_run	 u;
	struct buf		 b;
	struct iovec		 iov[3];
	char			*big;
	int64_t			 dep, run, last;
	size_t			 i;

	dep = tu_store_deployment(f, "web");
	run = new_run(f, dep, "apply");
	assert_int_equal(store_run_start(f->s, run), 0);
	buf_init(&b, 1 << 20);

	/* NUL bytes are data. */
	assert_int_equal(store_log_append(f->s, run, "a\0b", 3), 0);
	assert_int_equal(store_log_append(f->s, run, "", 0), 0);
	assert_int_equal(store_log_append(f->s, run, "cd", 2), 0);
	assert_int_equal(store_log_read(f->s, run, 0, 1024, &b, &last), 0);
	assert_int_equal(last, 2);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0bcd", 5);

	/* From a sequence number on; nothing new leaves last as it was. */
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 1, 1024, &b, &last), 0);
	assert_int_equal(last, 2);
	assert_memory_equal(b.data, "cd", 2);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 2, 1024, &b, &last), 0);
	assert_int_equal(last, 2);
	assert_int_equal(b.len, 0);

	/* Several chunks at once. */
	iov[0].iov_base = "ef";
	iov[0].iov_len = 2;
	iov[1].iov_base = "";
	iov[1].iov_len = 0;
	iov[2].iov_base = "ghi";
	iov[2].iov_len = 3;
	assert_int_equal(store_log_append_many(f->s, run, iov, 3), 0);

	/* Whole chunks only, within max_bytes, but always the first. */
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 0, 6, &b, &last), 0);
	assert_int_equal(last, 2);
	assert_int_equal(b.len, 5);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 0, 1, &b, &last), 0);
	assert_int_equal(last, 1);
	assert_int_equal(b.len, 3);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 3, 100, &b, &last), 0);
	assert_int_equal(last, 4);
	assert_string_equal(b.data, "ghi");

	/* Big appends are split into rows of STORE_LOG_CHUNK. */
	big = xmalloc(3 * STORE_LOG_CHUNK + 10);
	for (i = 0; i < 3 * STORE_LOG_CHUNK + 10; i++)
		big[i] = (char)(i % 251);
	assert_int_equal(store_log_append(f->s, run, big,
	    3 * STORE_LOG_CHUNK + 10), 0);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 4, STORE_LOG_CHUNK, &b,
	    &last), 0);
	assert_int_equal(last, 5);
	assert_int_equal(b.len, STORE_LOG_CHUNK);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 4, 1 << 20, &b, &last), 0);
	assert_int_equal(last, 8);
	assert_int_equal(b.len, 3 * STORE_LOG_CHUNK + 10);
	assert_memory_equal(b.data, big, b.len);
	free(big);

	/* A buffer too small for one chunk. */
	buf_release(&b);
	buf_init(&b, 2);
	assert_int_equal(store_log_read(f->s, run, 0, 1024, &b, &last),
	    -E2BIG);
	assert_int_equal(last, 0);
	buf_release(&b);
	buf_init(&b, 1 << 20);

	/* The per-run limit: the rest is counted, not stored. */
	assert_int_equal(store_run_get(f->s, run, &u), 0);
	assert_int_equal(u.log_bytes, 10 + 3 * STORE_LOG_CHUNK + 10);
	assert_int_equal(u.log_dropped, 0);
	store_run_release(&u);
	store_log_set_limit(f->s, 10 + 3 * STORE_LOG_CHUNK + 10 + 4);
	assert_int_equal(store_log_append(f->s, run, "123456", 6), 0);
	assert_int_equal(store_log_append(f->s, run, "789", 3), 0);
	assert_int_equal(store_log_dropped(f->s, run, 100), 0);
	assert_int_equal(store_log_dropped(f->s, 999, 100), -ENOENT);
	assert_int_equal(store_run_get(f->s, run, &u), 0);
	assert_int_equal(u.log_bytes, 10 + 3 * STORE_LOG_CHUNK + 10 + 4);
	assert_int_equal(u.log_dropped, 2 + 3 + 100);
	store_run_release(&u);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, run, 8, 1024, &b, &last), 0);
	assert_int_equal(last, 9);
	assert_string_equal(b.data, "1234");
	store_log_set_limit(f->s, 0);

	/* Closed once the run is finished; missing runs. */
	assert_int_equal(store_run_finish(f->s, run, "succeeded", 0, NULL,
	    NULL), 0);
	assert_int_equal(store_log_append(f->s, run, "late", 4), -EALREADY);
	assert_int_equal(store_log_append(f->s, 999, "x", 1), -ENOENT);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, 999, 0, 1024, &b, &last), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* Many appends in one caller's transaction, then a rolled-back one. */
static void
test_logs_grouped(void **state)
{
	struct tu_store	*f = *state;
	struct buf	 b;
	sqlite3		*db;
	int64_t		 dep, run, last;
	int		 i;

	dep = tu_store_deployment(f, "web");
	run = new_run(f, dep, "apply");
	assert_int_equal(store_begin(f->s), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(store_log_append(f->s, run, "0123456789", 10),
		    0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(store_log_append(f->s, run, "lost", 4), 0);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(store_log_append(f->s, run, "kept", 4), 0);

	buf_init(&b, 1 << 20);
	assert_int_equal(store_log_read(f->s, run, 995, 1 << 20, &b, &last),
	    0);
	assert_int_equal(last, 1001);
	assert_string_equal(b.data, "0123456789" "0123456789" "0123456789"
	    "0123456789" "0123456789" "kept");
	buf_release(&b);
	db = tu_db_open(f->path);
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM run_logs"
	    " WHERE run_id = %lld", (long long)run), 1001);
	assert_int_equal(tu_db_int(db, "SELECT max(seq) FROM run_logs"
	    " WHERE run_id = %lld", (long long)run), 1001);
	sqlite3_close(db);
}

static void
test_recover(void **state)
{
	struct tu_store		*f = *state;
	struct store_deployment	 d;
	struct store_transition	*t;
	struct store_run	 u;
	int64_t			 a, b, c, e, ra, rb, rc, re, rold;
	size_t			 n;

	a = tu_store_deployment(f, "a");
	b = tu_store_deployment(f, "b");
	c = tu_store_deployment(f, "c");
	e = tu_store_deployment(f, "e");
	rold = new_run(f, a, "apply");
	assert_int_equal(store_run_finish(f->s, rold, "succeeded", 0, NULL,
	    NULL), 0);
	/* a: applying, its run running. */
	ra = new_run(f, a, "apply");
	assert_int_equal(store_run_start(f->s, ra), 0);
	assert_int_equal(store_deployment_set_phase(f->s, a, "applying", ra,
	    "new deployment", NULL), 0);
	assert_int_equal(store_deployment_set_retry(f->s, a, 2, 99999999), 0);
	/* b: destroying, its run still queued. */
	rb = new_run(f, b, "destroy");
	assert_int_equal(store_deployment_set_phase(f->s, b, "destroying", rb,
	    "removed", NULL), 0);
	/* c: a plan queued while ready stays ready. */
	assert_int_equal(store_deployment_set_phase(f->s, c, "ready", 0,
	    "ok", NULL), 0);
	rc = new_run(f, c, "plan");
	/* e: applying, but its run had finished (no run active). */
	re = new_run(f, e, "apply");
	assert_int_equal(store_deployment_set_phase(f->s, e, "applying", re,
	    "new deployment", NULL), 0);
	assert_int_equal(store_run_finish(f->s, re, "failed", 1, "exited 1",
	    NULL), 0);

	assert_int_equal(store_recover(f->s, &n), 0);
	assert_int_equal(n, 3);

	assert_int_equal(store_run_get(f->s, ra, &u), 0);
	assert_string_equal(u.state, "interrupted");
	assert_string_equal(u.cause, "interrupted: the daemon stopped");
	assert_true(u.finished_at > 0);
	assert_int_equal(u.exit_code, -1);
	store_run_release(&u);
	assert_run_state(f, rb, "interrupted");
	assert_run_state(f, rc, "interrupted");
	assert_run_state(f, rold, "succeeded");
	assert_run_state(f, re, "failed");

	assert_int_equal(store_deployment_get_by_id(f->s, a, &d), 0);
	assert_string_equal(d.phase, "failed");
	assert_string_equal(d.cause, "interrupted: the daemon stopped");
	assert_int_equal(d.retry_at, 0);
	assert_int_equal(d.failures, 2);
	assert_int_equal(d.last_run_id, ra);
	store_deployment_release(&d);
	assert_int_equal(store_transition_list(f->s, a, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[1].from_phase, "applying");
	assert_string_equal(t[1].to_phase, "failed");
	assert_string_equal(t[1].reason, "daemon restarted");
	assert_int_equal(t[1].run_id, ra);
	store_transition_array_free(t, n);
	assert_int_equal(store_transition_list(f->s, b, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[1].from_phase, "destroying");
	assert_string_equal(t[1].to_phase, "failed");
	assert_int_equal(t[1].run_id, rb);
	store_transition_array_free(t, n);
	assert_int_equal(store_deployment_get_by_id(f->s, c, &d), 0);
	assert_string_equal(d.phase, "ready");
	store_deployment_release(&d);
	assert_int_equal(store_deployment_get_by_id(f->s, e, &d), 0);
	assert_string_equal(d.phase, "failed");
	assert_int_equal(d.last_run_id, re);
	store_deployment_release(&d);

	/* Nothing left to do the second time. */
	assert_int_equal(store_recover(f->s, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_transition_list(f->s, a, &t, &n), 0);
	assert_int_equal(n, 2);
	store_transition_array_free(t, n);
}

static void
test_prune_and_delete(void **state)
{
	struct tu_store		*f = *state;
	struct store_run	 u;
	struct buf		 b;
	struct store_deployment	 d;
	int64_t			 web, net, runs[5], active, last, id;
	size_t			 i;

	web = tu_store_deployment(f, "web");
	net = tu_store_deployment(f, "net");
	for (i = 0; i < 5; i++) {
		runs[i] = new_run(f, web, "apply");
		assert_int_equal(store_log_append(f->s, runs[i], "log", 3), 0);
		assert_int_equal(store_run_finish(f->s, runs[i], "succeeded",
		    0, NULL, NULL), 0);
	}
	active = new_run(f, net, "apply");
	assert_int_equal(store_log_append(f->s, active, "live", 4), 0);

	assert_int_equal(store_prune_logs(f->s, 2), 0);
	buf_init(&b, 1024);
	for (i = 0; i < 5; i++) {
		buf_reset(&b);
		assert_int_equal(store_log_read(f->s, runs[i], 0, 1024, &b,
		    &last), 0);
		assert_int_equal(b.len, i < 3 ? 0 : 3);
	}
	/* The count stays: the log was there. */
	assert_int_equal(store_run_get(f->s, runs[0], &u), 0);
	assert_int_equal(u.log_bytes, 3);
	store_run_release(&u);
	/* An active run keeps its log even with nothing kept. */
	assert_int_equal(store_prune_logs(f->s, 0), 0);
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, active, 0, 1024, &b, &last), 0);
	assert_string_equal(b.data, "live");
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, runs[4], 0, 1024, &b, &last), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);

	/* Delete: refused while a run is active, then forgets everything. */
	assert_int_equal(store_deployment_set_phase(f->s, net, "applying",
	    active, "new", NULL), 0);
	assert_int_equal(store_deployment_delete(f->s, net), -EBUSY);
	assert_int_equal(store_run_finish(f->s, active, "cancelled", -1, NULL,
	    NULL), 0);
	assert_int_equal(store_deployment_delete(f->s, net), 0);
	assert_int_equal(store_deployment_get_by_id(f->s, net, &d), -ENOENT);
	assert_int_equal(store_run_get(f->s, active, &u), -ENOENT);
	assert_int_equal(store_deployment_delete(f->s, net), -ENOENT);
	/* The newest run was deleted; its id is not given again. */
	id = new_run(f, web, "plan");
	assert_true(id > active);
	assert_int_equal(store_deployment_get_by_id(f->s, web, &d), 0);
	store_deployment_release(&d);
}

/*
 * The crash test.  A child writes the way the engine does: a run queued
 * with its phase, started, its log in single, grouped and many-chunk
 * appends, then finished with the deployment's new state, each step one
 * transaction; it tells the parent what each commit returned.  The parent
 * kills it at a random moment, reopens, recovers and checks the file.
 */
enum { CRASH_QUEUED = 1, CRASH_FINISHED = 2 };

struct crash_note {
	int	what;
	int64_t	run;
};

static void
crash_note(int fd, int what, int64_t run)
{
	struct crash_note	n = { what, run };

	if (write(fd, &n, sizeof n) != sizeof n)
		_exit(3);
}

static void __attribute__((noreturn))
crash_child(const char *path, int fd)
{
	struct store	*s;
	struct iovec	 iov[2];
	char		*cause = NULL, line[200];
	int64_t		 repo, dep[3], run;
	unsigned	 i, k;

	if (store_open(&s, path, &cause) != 0 ||
	    store_repository_upsert(s, "infra", "u", "main", &repo) != 0 ||
	    store_deployment_ensure(s, repo, "a", &dep[0]) != 0 ||
	    store_deployment_ensure(s, repo, "b", &dep[1]) != 0 ||
	    store_deployment_ensure(s, repo, "c", &dep[2]) != 0)
		_exit(2);
	for (i = 0;; i++) {
		int64_t	d = dep[i % 3];

		if (store_begin(s) != 0 ||
		    store_run_insert(s, d, "apply", "poll", "c0ffee", "fp",
		    &run) != 0 ||
		    store_deployment_set_phase(s, d, "applying", run, "crash",
		    NULL) != 0 || store_commit(s) != 0)
			_exit(4);
		crash_note(fd, CRASH_QUEUED, run);
		if (store_run_start(s, run) != 0)
			_exit(5);
		for (k = 0; k < 20; k++) {
			snprintf(line, sizeof line, "run %lld line %u\n%c",
			    (long long)run, k, '\0');
			if (store_log_append(s, run, line, strlen(line) + 1) !=
			    0)
				_exit(6);
		}
		if (store_begin(s) != 0)
			_exit(7);
		for (k = 0; k < 50; k++) {
			if (store_log_append(s, run, line, sizeof line) != 0)
				_exit(8);
		}
		if (store_commit(s) != 0)
			_exit(9);
		iov[0].iov_base = line;
		iov[0].iov_len = sizeof line;
		iov[1].iov_base = line;
		iov[1].iov_len = 7;
		if (store_log_append_many(s, run, iov, 2) != 0)
			_exit(10);
		if (store_begin(s) != 0 ||
		    store_run_finish(s, run, "succeeded", 0, NULL,
		    "{\"x\":1}") != 0 ||
		    store_deployment_set_applied(s, d, "c0ffee", "fp",
		    "{\"x\":1}") != 0 ||
		    store_deployment_set_phase(s, d, "ready", run, "applied",
		    NULL) != 0 || store_commit(s) != 0)
			_exit(11);
		crash_note(fd, CRASH_FINISHED, run);
	}
}

/* What must hold of the file whatever the moment of the crash. */
static void
crash_check(const char *path, int64_t *max_id)
{
	sqlite3		*db;
	char		*ok;

	db = tu_db_open(path);
	ok = tu_db_text(db, "PRAGMA integrity_check");
	assert_string_equal(ok, "ok");
	free(ok);
	assert_int_equal(tu_db_int(db, "SELECT count(*)"
	    " FROM pragma_foreign_key_check"), 0);
	/* Every run in a final state. */
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM runs WHERE state"
	    " NOT IN ('succeeded', 'interrupted')"), 0);
	/* Logs: contiguous from 1, counted in the run's row. */
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM runs u WHERE"
	    " u.log_seq != (SELECT count(*) FROM run_logs l"
	    "   WHERE l.run_id = u.id)"
	    " OR u.log_seq != coalesce((SELECT max(seq) FROM run_logs l"
	    "   WHERE l.run_id = u.id), 0)"
	    " OR u.log_bytes != coalesce((SELECT sum(length(data))"
	    "   FROM run_logs l WHERE l.run_id = u.id), 0)"), 0);
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM run_logs"
	    " WHERE seq < 1"), 0);
	/* No duplicate run, ids above what was seen before. */
	assert_int_equal(tu_db_int(db, "SELECT count(*) - count(DISTINCT id)"
	    " FROM runs"), 0);
	/* A finished run has its deployment's transition. */
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM runs u WHERE"
	    " u.state = 'succeeded' AND NOT EXISTS (SELECT 1 FROM transitions t"
	    " WHERE t.run_id = u.id AND t.to_phase = 'ready')"), 0);
	/* Nobody left applying. */
	assert_int_equal(tu_db_int(db, "SELECT count(*) FROM deployments"
	    " WHERE phase = 'applying'"), 0);
	*max_id = tu_db_int(db, "SELECT coalesce(max(id), 0) FROM runs");
	sqlite3_close(db);
}

static void
test_crash(void **state)
{
	struct tu_store		*f = *state;
	struct crash_note	 note;
	struct store_run	 u;
	struct timespec		 ts;
	unsigned		 seed, round;
	int64_t			 max_id = 0, prev_max;
	size_t			 n, queued = 0, finished = 0, interrupted = 0;
	pid_t			 pid;
	int			 fds[2], status;

	store_close(f->s);
	f->s = NULL;
	seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	print_message("# crash test seed %u\n", seed);
	srandom(seed);
	for (round = 0; round < 8; round++) {
		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
		fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
		if ((pid = fork()) == 0) {
			close(fds[0]);
			crash_child(f->path, fds[1]);
		}
		assert_true(pid > 0);
		close(fds[1]);
		/* 20 to 250 ms: mid-append, mid-commit, mid-checkpoint. */
		ts.tv_sec = 0;
		ts.tv_nsec = (20 + random() % 230) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fail_msg("the child exited %d before the kill",
			    WEXITSTATUS(status));

		assert_int_equal(store_open(&f->s, f->path, &(char *){NULL}),
		    0);
		assert_int_equal(store_recover(f->s, &n), 0);
		assert_true(n <= 1);
		interrupted += n;
		/* Whatever a commit confirmed is there, as it was left. */
		prev_max = max_id;
		while (read(fds[0], &note, sizeof note) == sizeof note) {
			assert_true(note.run > prev_max);
			assert_int_equal(store_run_get(f->s, note.run, &u), 0);
			if (note.what == CRASH_FINISHED) {
				assert_string_equal(u.state, "succeeded");
				finished++;
			} else
				queued++;
			store_run_release(&u);
		}
		close(fds[0]);
		store_close(f->s);
		f->s = NULL;
		crash_check(f->path, &max_id);
		assert_true(max_id >= prev_max);
	}
	print_message("# %zu runs queued, %zu finished, %zu interrupted\n",
	    queued, finished, interrupted);
	assert_true(finished > 0);
	assert_int_equal(store_open(&f->s, f->path, &(char *){NULL}), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_format),
		TU_STORE_TEST(test_open_new),
		TU_STORE_TEST(test_open_refused),
		TU_STORE_TEST(test_migrate_from_1),
		TU_STORE_TEST(test_repositories),
		TU_STORE_TEST(test_deployments),
		TU_STORE_TEST(test_transitions),
		TU_STORE_TEST(test_runs),
		TU_STORE_TEST(test_pulls),
		TU_STORE_TEST(test_transactions),
		TU_STORE_TEST(test_logs),
		TU_STORE_TEST(test_logs_grouped),
		TU_STORE_TEST(test_recover),
		TU_STORE_TEST(test_prune_and_delete),
		TU_STORE_TEST(test_crash),
	};

	return (cmocka_run_group_tests_name("store", tests, NULL, NULL));
}
