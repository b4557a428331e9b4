/*
 * The store, on SQLite.  Statements are prepared once and cached by their
 * text; every function that changes more than one row runs in one
 * transaction (nested calls join the caller's).  WAL with synchronous=NORMAL:
 * a process crash loses nothing committed; a power cut may lose the last
 * transactions, never the file's consistency.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "table.h"
#include "xmalloc.h"

struct store {
	sqlite3		*db;
	struct table	 stmts;		/* SQL text -> sqlite3_stmt */
	int		 depth;		/* of store_begin */
	bool		 failed;	/* a nested part failed: roll back */
	int64_t		 log_run;	/* the last run appended to */
	int64_t		 log_seq;
};

/* Migrations: migrations[i] takes user_version i to i + 1. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE repositories ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  url TEXT, branch TEXT,"
	"  last_commit TEXT, last_error TEXT,"
	"  updated_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE deployments ("
	"  id INTEGER PRIMARY KEY,"
	"  repository_id INTEGER NOT NULL REFERENCES repositories(id),"
	"  name TEXT NOT NULL,"
	"  phase TEXT NOT NULL DEFAULT 'pending',"
	"  blueprint TEXT, environment TEXT,"
	"  suspended INTEGER NOT NULL DEFAULT 0,"
	"  operator_suspended INTEGER NOT NULL DEFAULT 0,"
	"  destroy_approved INTEGER NOT NULL DEFAULT 0,"
	"  desired_commit TEXT, desired_fingerprint TEXT,"
	"  applied_commit TEXT, applied_fingerprint TEXT,"
	"  applied_at INTEGER NOT NULL DEFAULT 0,"
	"  cause TEXT, outputs TEXT,"
	"  last_run_id INTEGER NOT NULL DEFAULT 0,"
	"  failures INTEGER NOT NULL DEFAULT 0,"
	"  retry_at INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (repository_id, name));"
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	"  action TEXT NOT NULL, trigger TEXT NOT NULL,"
	"  commit_id TEXT, fingerprint TEXT,"
	"  state TEXT NOT NULL,"
	"  exit_code INTEGER, cause TEXT, outputs TEXT,"
	"  queued_at INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  log_bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX runs_by_deployment ON runs (deployment_id, id);"
	"CREATE INDEX runs_by_state ON runs (state);"
	"CREATE TABLE run_logs ("
	"  run_id INTEGER NOT NULL REFERENCES runs(id),"
	"  seq INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE transitions ("
	"  id INTEGER PRIMARY KEY,"
	"  deployment_id INTEGER NOT NULL REFERENCES deployments(id),"
	"  from_phase TEXT, to_phase TEXT NOT NULL,"
	"  run_id INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT, at INTEGER NOT NULL);"
	"CREATE INDEX transitions_by_deployment ON transitions (deployment_id, id);",
	/* 1 -> 2: what a plan or an apply found, in one line. */
	"ALTER TABLE runs ADD COLUMN summary TEXT;",
};

#define NMIGRATIONS	(sizeof migrations / sizeof migrations[0])

int64_t
store_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
store_time_format(int64_t ms, char buf[32])
{
	time_t		t = (time_t)(ms / 1000);
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static sqlite3_stmt *
stmt(struct store *s, const char *sql)
{
	sqlite3_stmt	*st;

	if ((st = table_gets(&s->stmts, sql)) != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return (st);
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK)
		return (NULL);
	table_puts(&s->stmts, sql, st);
	return (st);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	return (t != NULL ? xstrdup((const char *)t) : NULL);
}

/* Run a statement that returns no row. */
static int
step_done(struct store *s, sqlite3_stmt *st)
{
	int	rc;

	if (st == NULL) {
		s->failed = true;
		return (-EIO);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		s->failed = true;
		return (rc == SQLITE_CONSTRAINT ? -EEXIST : -EIO);
	}
	return (0);
}

static int
exec(struct store *s, const char *sql)
{
	return (sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 :
	    -EIO);
}

int
store_begin(struct store *s)
{
	if (s->depth++ > 0)
		return (0);
	s->failed = false;
	if (exec(s, "BEGIN IMMEDIATE") != 0) {
		s->depth = 0;
		return (-EIO);
	}
	return (0);
}

int
store_commit(struct store *s)
{
	if (s->depth == 0 || --s->depth > 0)
		return (0);
	if (s->failed) {
		exec(s, "ROLLBACK");
		s->log_run = 0;
		return (-EIO);
	}
	if (exec(s, "COMMIT") != 0) {
		exec(s, "ROLLBACK");
		s->log_run = 0;
		return (-EIO);
	}
	return (0);
}

int
store_rollback(struct store *s)
{
	if (s->depth == 0)
		return (0);
	s->failed = true;
	if (--s->depth > 0)
		return (0);
	exec(s, "ROLLBACK");
	s->log_run = 0;
	return (0);
}

static int
store_migrate(struct store *s, char **cause)
{
	sqlite3_stmt	*st;
	int		 version = 0;
	size_t		 v;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s", sqlite3_errmsg(s->db));
		return (-EIO);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > (int)NMIGRATIONS) {
		*cause = xasprintf("the database has schema version %d, newer than this cloudsphered (%zu): upgrade it",
		    version, NMIGRATIONS);
		return (-EPROTO);
	}
	for (v = (size_t)version; v < NMIGRATIONS; v++) {
		char	*sql;

		if (exec(s, "BEGIN IMMEDIATE") != 0) {
			*cause = xasprintf("%s", sqlite3_errmsg(s->db));
			return (-EIO);
		}
		sql = xasprintf("%s; PRAGMA user_version = %zu;",
		    migrations[v], v + 1);
		if (exec(s, sql) != 0) {
			*cause = xasprintf("migration to schema %zu: %s",
			    v + 1, sqlite3_errmsg(s->db));
			free(sql);
			exec(s, "ROLLBACK");
			return (-EIO);
		}
		free(sql);
		if (exec(s, "COMMIT") != 0) {
			*cause = xasprintf("%s", sqlite3_errmsg(s->db));
			return (-EIO);
		}
	}
	return (0);
}

int
store_open(struct store **out, const char *path, char **cause)
{
	struct store	*s;
	int		 fd, error;

	*out = NULL;
	*cause = NULL;
	/* Created private before SQLite opens it. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return (-errno);
	}
	close(fd);
	s = xcalloc(1, sizeof *s);
	table_init(&s->stmts);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, s->db != NULL ?
		    sqlite3_errmsg(s->db) : "cannot open");
		store_close(s);
		return (-EIO);
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (exec(s, "PRAGMA journal_mode = WAL") != 0 ||
	    exec(s, "PRAGMA synchronous = NORMAL") != 0 ||
	    exec(s, "PRAGMA foreign_keys = ON") != 0) {
		*cause = xasprintf("%s: %s", path, sqlite3_errmsg(s->db));
		store_close(s);
		return (-EIO);
	}
	if ((error = store_migrate(s, cause)) != 0) {
		char *c = xasprintf("%s: %s", path, *cause);

		free(*cause);
		*cause = c;
		store_close(s);
		return (error);
	}
	*out = s;
	return (0);
}

void
store_close(struct store *s)
{
	size_t	 i = 0;
	void	*v;

	if (s == NULL)
		return;
	while (table_next(&s->stmts, &i, NULL, &v))
		sqlite3_finalize(v);
	table_release(&s->stmts);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

int
store_recover(struct store *s, size_t *interrupted)
{
	sqlite3_stmt	*st;
	int64_t		 now = store_now();
	int		 error = 0;

	*interrupted = 0;
	store_begin(s);
	/* Deployments whose run was cut short are applied again. */
	st = stmt(s, "SELECT d.id, d.phase, r.id FROM runs r"
	    " JOIN deployments d ON d.id = r.deployment_id"
	    " WHERE r.state IN ('queued', 'running')");
	if (st == NULL) {
		store_rollback(s);
		return (-EIO);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t		 dep = sqlite3_column_int64(st, 0);
		int64_t		 run = sqlite3_column_int64(st, 2);
		const char	*phase = (const char *)sqlite3_column_text(st,
		    1);
		sqlite3_stmt	*t;

		(*interrupted)++;
		if (phase == NULL || (strcmp(phase, "applying") != 0 &&
		    strcmp(phase, "destroying") != 0))
			continue;
		t = stmt(s, "INSERT INTO transitions (deployment_id,"
		    " from_phase, to_phase, run_id, reason, at)"
		    " VALUES (?, ?, 'failed', ?, 'daemon restarted', ?)");
		sqlite3_bind_int64(t, 1, dep);
		bind_text(t, 2, phase);
		sqlite3_bind_int64(t, 3, run);
		sqlite3_bind_int64(t, 4, now);
		error |= step_done(s, t);
		t = stmt(s, "UPDATE deployments SET phase = 'failed',"
		    " cause = 'interrupted: the daemon stopped', retry_at = 0"
		    " WHERE id = ?");
		sqlite3_bind_int64(t, 1, dep);
		error |= step_done(s, t);
	}
	sqlite3_reset(st);
	st = stmt(s, "UPDATE runs SET state = 'interrupted',"
	    " cause = 'interrupted: the daemon stopped',"
	    " finished_at = ? WHERE state IN ('queued', 'running')");
	sqlite3_bind_int64(st, 1, now);
	error |= step_done(s, st);
	if (error != 0) {
		store_rollback(s);
		return (-EIO);
	}
	return (store_commit(s));
}

/* Repositories. */

int
store_repository_upsert(struct store *s, const char *name, const char *url,
    const char *branch, int64_t *id)
{
	sqlite3_stmt	*st;

	st = stmt(s, "INSERT INTO repositories (name, url, branch, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET"
	    " url = ?2, branch = ?3");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, name);
	bind_text(st, 2, url);
	bind_text(st, 3, branch);
	sqlite3_bind_int64(st, 4, store_now());
	if (step_done(s, st) != 0)
		return (-EIO);
	st = stmt(s, "SELECT id FROM repositories WHERE name = ?");
	bind_text(st, 1, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-EIO);
	}
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

int
store_repository_get(struct store *s, const char *name,
    struct store_repository *out)
{
	sqlite3_stmt	*st;

	memset(out, 0, sizeof *out);
	st = stmt(s, "SELECT id, name, url, branch, last_commit, last_error,"
	    " updated_at FROM repositories WHERE name = ?");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-ENOENT);
	}
	out->id = sqlite3_column_int64(st, 0);
	out->name = col_text(st, 1);
	out->url = col_text(st, 2);
	out->branch = col_text(st, 3);
	out->last_commit = col_text(st, 4);
	out->last_error = col_text(st, 5);
	out->updated_at = sqlite3_column_int64(st, 6);
	sqlite3_reset(st);
	return (0);
}

int
store_repository_set_commit(struct store *s, int64_t id, const char *commit,
    const char *error)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE repositories SET last_commit = coalesce(?1,"
	    " last_commit), last_error = ?2, updated_at = ?3 WHERE id = ?4");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, commit);
	bind_text(st, 2, error);
	sqlite3_bind_int64(st, 3, store_now());
	sqlite3_bind_int64(st, 4, id);
	return (step_done(s, st));
}

void
store_repository_release(struct store_repository *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->url);
	free(r->branch);
	free(r->last_commit);
	free(r->last_error);
	memset(r, 0, sizeof *r);
}

/* Deployments. */

#define DEPLOYMENT_COLUMNS \
	"d.id, d.repository_id, r.name, d.name, d.phase, d.blueprint," \
	" d.environment, d.suspended, d.operator_suspended," \
	" d.destroy_approved, d.desired_commit, d.desired_fingerprint," \
	" d.applied_commit, d.applied_fingerprint, d.applied_at, d.cause," \
	" d.outputs, d.last_run_id, d.failures, d.retry_at" \
	" FROM deployments d JOIN repositories r ON r.id = d.repository_id"

static void
deployment_row(sqlite3_stmt *st, struct store_deployment *d)
{
	d->id = sqlite3_column_int64(st, 0);
	d->repository_id = sqlite3_column_int64(st, 1);
	d->repository = col_text(st, 2);
	d->name = col_text(st, 3);
	d->phase = col_text(st, 4);
	d->blueprint = col_text(st, 5);
	d->environment = col_text(st, 6);
	d->suspended = sqlite3_column_int(st, 7) != 0;
	d->operator_suspended = sqlite3_column_int(st, 8) != 0;
	d->destroy_approved = sqlite3_column_int(st, 9) != 0;
	d->desired_commit = col_text(st, 10);
	d->desired_fingerprint = col_text(st, 11);
	d->applied_commit = col_text(st, 12);
	d->applied_fingerprint = col_text(st, 13);
	d->applied_at = sqlite3_column_int64(st, 14);
	d->cause = col_text(st, 15);
	d->outputs = col_text(st, 16);
	d->last_run_id = sqlite3_column_int64(st, 17);
	d->failures = sqlite3_column_int(st, 18);
	d->retry_at = sqlite3_column_int64(st, 19);
}

void
store_deployment_release(struct store_deployment *d)
{
	if (d == NULL)
		return;
	free(d->repository);
	free(d->name);
	free(d->phase);
	free(d->blueprint);
	free(d->environment);
	free(d->desired_commit);
	free(d->desired_fingerprint);
	free(d->applied_commit);
	free(d->applied_fingerprint);
	free(d->cause);
	free(d->outputs);
	memset(d, 0, sizeof *d);
}

int
store_deployment_ensure(struct store *s, int64_t repo, const char *name,
    int64_t *id)
{
	sqlite3_stmt	*st;

	st = stmt(s, "INSERT INTO deployments (repository_id, name)"
	    " VALUES (?, ?) ON CONFLICT (repository_id, name) DO NOTHING");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repo);
	bind_text(st, 2, name);
	if (step_done(s, st) != 0)
		return (-EIO);
	st = stmt(s, "SELECT id FROM deployments WHERE repository_id = ?"
	    " AND name = ?");
	sqlite3_bind_int64(st, 1, repo);
	bind_text(st, 2, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-EIO);
	}
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_get(struct store *s, int64_t repo, const char *name,
    struct store_deployment *out)
{
	sqlite3_stmt	*st;

	memset(out, 0, sizeof *out);
	st = stmt(s, "SELECT " DEPLOYMENT_COLUMNS
	    " WHERE d.repository_id = ? AND d.name = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repo);
	bind_text(st, 2, name);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-ENOENT);
	}
	deployment_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_get_by_id(struct store *s, int64_t id,
    struct store_deployment *out)
{
	sqlite3_stmt	*st;

	memset(out, 0, sizeof *out);
	st = stmt(s, "SELECT " DEPLOYMENT_COLUMNS " WHERE d.id = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-ENOENT);
	}
	deployment_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_list(struct store *s, int64_t repo,
    struct store_deployment **out, size_t *n)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;

	*out = NULL;
	*n = 0;
	st = stmt(s, "SELECT " DEPLOYMENT_COLUMNS
	    " WHERE ?1 = 0 OR d.repository_id = ?1 ORDER BY r.name, d.name");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repo);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		memset(&(*out)[*n], 0, sizeof **out);
		deployment_row(st, &(*out)[(*n)++]);
	}
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_set_desired(struct store *s, int64_t id,
    const char *blueprint, const char *environment, const char *commit,
    const char *fingerprint, bool suspended)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE deployments SET blueprint = ?, environment = ?,"
	    " desired_commit = ?, desired_fingerprint = ?, suspended = ?"
	    " WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, blueprint);
	bind_text(st, 2, environment);
	bind_text(st, 3, commit);
	bind_text(st, 4, fingerprint);
	sqlite3_bind_int(st, 5, suspended);
	sqlite3_bind_int64(st, 6, id);
	return (step_done(s, st));
}

int
store_deployment_set_applied(struct store *s, int64_t id, const char *commit,
    const char *fingerprint, const char *outputs)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE deployments SET applied_commit = ?,"
	    " applied_fingerprint = ?, outputs = ?, applied_at = ?"
	    " WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, commit);
	bind_text(st, 2, fingerprint);
	bind_text(st, 3, outputs);
	sqlite3_bind_int64(st, 4, commit != NULL ? store_now() : 0);
	sqlite3_bind_int64(st, 5, id);
	return (step_done(s, st));
}

int
store_deployment_set_phase(struct store *s, int64_t id, const char *phase,
    int64_t run, const char *reason, const char *cause)
{
	sqlite3_stmt	*st;
	char		*from = NULL;
	int		 error = 0;

	store_begin(s);
	st = stmt(s, "SELECT phase FROM deployments WHERE id = ?");
	if (st == NULL) {
		store_rollback(s);
		return (-EIO);
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		store_rollback(s);
		return (-ENOENT);
	}
	from = col_text(st, 0);
	sqlite3_reset(st);
	if (from == NULL || strcmp(from, phase) != 0) {
		st = stmt(s, "INSERT INTO transitions (deployment_id,"
		    " from_phase, to_phase, run_id, reason, at)"
		    " VALUES (?, ?, ?, ?, ?, ?)");
		sqlite3_bind_int64(st, 1, id);
		bind_text(st, 2, from);
		bind_text(st, 3, phase);
		sqlite3_bind_int64(st, 4, run);
		bind_text(st, 5, reason);
		sqlite3_bind_int64(st, 6, store_now());
		error |= step_done(s, st);
	}
	st = stmt(s, "UPDATE deployments SET phase = ?, cause = ?,"
	    " last_run_id = CASE WHEN ? > 0 THEN ? ELSE last_run_id END"
	    " WHERE id = ?");
	bind_text(st, 1, phase);
	bind_text(st, 2, cause);
	sqlite3_bind_int64(st, 3, run);
	sqlite3_bind_int64(st, 4, run);
	sqlite3_bind_int64(st, 5, id);
	error |= step_done(s, st);
	free(from);
	if (error != 0) {
		store_rollback(s);
		return (-EIO);
	}
	return (store_commit(s));
}

int
store_deployment_set_retry(struct store *s, int64_t id, int failures,
    int64_t retry_at)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE deployments SET failures = ?, retry_at = ?"
	    " WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int(st, 1, failures);
	sqlite3_bind_int64(st, 2, retry_at);
	sqlite3_bind_int64(st, 3, id);
	return (step_done(s, st));
}

int
store_deployment_set_operator_suspended(struct store *s, int64_t id, bool on)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE deployments SET operator_suspended = ?"
	    " WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int(st, 1, on);
	sqlite3_bind_int64(st, 2, id);
	return (step_done(s, st));
}

int
store_deployment_set_destroy_approved(struct store *s, int64_t id, bool on)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE deployments SET destroy_approved = ?"
	    " WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int(st, 1, on);
	sqlite3_bind_int64(st, 2, id);
	return (step_done(s, st));
}

/* Transitions. */

int
store_transition_list(struct store *s, int64_t dep,
    struct store_transition **out, size_t *n)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;

	*out = NULL;
	*n = 0;
	st = stmt(s, "SELECT id, run_id, at, from_phase, to_phase, reason"
	    " FROM transitions WHERE deployment_id = ? ORDER BY id");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, dep);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_transition	*t;

		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		t = &(*out)[(*n)++];
		t->id = sqlite3_column_int64(st, 0);
		t->run_id = sqlite3_column_int64(st, 1);
		t->at = sqlite3_column_int64(st, 2);
		t->from_phase = col_text(st, 3);
		t->to_phase = col_text(st, 4);
		t->reason = col_text(st, 5);
	}
	sqlite3_reset(st);
	return (0);
}

void
store_transition_release(struct store_transition *t)
{
	if (t == NULL)
		return;
	free(t->from_phase);
	free(t->to_phase);
	free(t->reason);
	memset(t, 0, sizeof *t);
}

/* Runs. */

#define RUN_COLUMNS \
	"u.id, u.deployment_id, d.name, r.name, u.action, u.trigger," \
	" u.commit_id, u.fingerprint, u.state, u.exit_code, u.cause," \
	" u.outputs, u.queued_at, u.started_at, u.finished_at, u.log_bytes," \
	" u.summary" \
	" FROM runs u JOIN deployments d ON d.id = u.deployment_id" \
	" JOIN repositories r ON r.id = d.repository_id"

static void
run_row(sqlite3_stmt *st, struct store_run *u)
{
	u->id = sqlite3_column_int64(st, 0);
	u->deployment_id = sqlite3_column_int64(st, 1);
	u->deployment = col_text(st, 2);
	u->repository = col_text(st, 3);
	u->action = col_text(st, 4);
	u->trigger = col_text(st, 5);
	u->commit = col_text(st, 6);
	u->fingerprint = col_text(st, 7);
	u->state = col_text(st, 8);
	u->exit_code = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, 9);
	u->cause = col_text(st, 10);
	u->outputs = col_text(st, 11);
	u->queued_at = sqlite3_column_int64(st, 12);
	u->started_at = sqlite3_column_int64(st, 13);
	u->finished_at = sqlite3_column_int64(st, 14);
	u->log_bytes = sqlite3_column_int64(st, 15);
	u->summary = col_text(st, 16);
}

void
store_run_release(struct store_run *u)
{
	if (u == NULL)
		return;
	free(u->deployment);
	free(u->repository);
	free(u->action);
	free(u->trigger);
	free(u->commit);
	free(u->fingerprint);
	free(u->state);
	free(u->cause);
	free(u->outputs);
	free(u->summary);
	memset(u, 0, sizeof *u);
}

int
store_run_insert(struct store *s, int64_t dep, const char *action,
    const char *trigger, const char *commit, const char *fingerprint,
    int64_t *id)
{
	sqlite3_stmt	*st;

	st = stmt(s, "INSERT INTO runs (deployment_id, action, trigger,"
	    " commit_id, fingerprint, state, queued_at)"
	    " VALUES (?, ?, ?, ?, ?, 'queued', ?)");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, dep);
	bind_text(st, 2, action);
	bind_text(st, 3, trigger);
	bind_text(st, 4, commit);
	bind_text(st, 5, fingerprint);
	sqlite3_bind_int64(st, 6, store_now());
	if (step_done(s, st) != 0)
		return (-EIO);
	*id = sqlite3_last_insert_rowid(s->db);
	return (0);
}

int
store_run_start(struct store *s, int64_t id)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE runs SET state = 'running', started_at = ?"
	    " WHERE id = ? AND state = 'queued'");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, store_now());
	sqlite3_bind_int64(st, 2, id);
	return (step_done(s, st));
}

int
store_run_finish(struct store *s, int64_t id, const char *state,
    int exit_code, const char *cause, const char *outputs)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE runs SET state = ?, exit_code = ?, cause = ?,"
	    " outputs = ?, finished_at = ? WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, state);
	if (exit_code >= 0)
		sqlite3_bind_int(st, 2, exit_code);
	else
		sqlite3_bind_null(st, 2);
	bind_text(st, 3, cause);
	bind_text(st, 4, outputs);
	sqlite3_bind_int64(st, 5, store_now());
	sqlite3_bind_int64(st, 6, id);
	return (step_done(s, st));
}

int
store_run_set_summary(struct store *s, int64_t id, const char *summary)
{
	sqlite3_stmt	*st;

	st = stmt(s, "UPDATE runs SET summary = ? WHERE id = ?");
	if (st == NULL)
		return (-EIO);
	bind_text(st, 1, summary);
	sqlite3_bind_int64(st, 2, id);
	return (step_done(s, st));
}

int
store_run_get(struct store *s, int64_t id, struct store_run *out)
{
	sqlite3_stmt	*st;

	memset(out, 0, sizeof *out);
	st = stmt(s, "SELECT " RUN_COLUMNS " WHERE u.id = ?");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return (-ENOENT);
	}
	run_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_run_list(struct store *s, int64_t dep, size_t limit,
    struct store_run **out, size_t *n)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;

	*out = NULL;
	*n = 0;
	st = stmt(s, "SELECT " RUN_COLUMNS
	    " WHERE ?1 = 0 OR u.deployment_id = ?1 ORDER BY u.id DESC"
	    " LIMIT ?2");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, dep);
	sqlite3_bind_int64(st, 2, limit > 0 ? (int64_t)limit : -1);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		memset(&(*out)[*n], 0, sizeof **out);
		run_row(st, &(*out)[(*n)++]);
	}
	sqlite3_reset(st);
	return (0);
}

/* Logs. */

int
store_log_append(struct store *s, int64_t run, const void *data, size_t len)
{
	sqlite3_stmt	*st;
	int64_t		 seq;
	int		 error;

	if (len == 0)
		return (0);
	if (s->log_run != run) {
		st = stmt(s, "SELECT coalesce(max(seq), 0) FROM run_logs"
		    " WHERE run_id = ?");
		if (st == NULL)
			return (-EIO);
		sqlite3_bind_int64(st, 1, run);
		seq = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		s->log_run = run;
		s->log_seq = seq;
	}
	seq = s->log_seq + 1;
	store_begin(s);
	st = stmt(s, "INSERT INTO run_logs (run_id, seq, at, data)"
	    " VALUES (?, ?, ?, ?)");
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_int64(st, 3, store_now());
	sqlite3_bind_blob64(st, 4, data, len, SQLITE_TRANSIENT);
	error = step_done(s, st);
	st = stmt(s, "UPDATE runs SET log_bytes = log_bytes + ? WHERE id = ?");
	sqlite3_bind_int64(st, 1, (int64_t)len);
	sqlite3_bind_int64(st, 2, run);
	error |= step_done(s, st);
	if (error != 0) {
		store_rollback(s);
		s->log_run = 0;
		return (-EIO);
	}
	if (store_commit(s) != 0) {
		s->log_run = 0;
		return (-EIO);
	}
	s->log_seq = seq;
	return (0);
}

int
store_log_read(struct store *s, int64_t run, int64_t after, size_t max,
    struct buf *out, int64_t *last)
{
	sqlite3_stmt	*st;

	*last = after;
	st = stmt(s, "SELECT seq, data FROM run_logs WHERE run_id = ?"
	    " AND seq > ? ORDER BY seq");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, after);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t	len = (size_t)sqlite3_column_bytes(st, 1);

		if (out->len > 0 && out->len + len > max)
			break;
		if (buf_add(out, sqlite3_column_blob(st, 1), len) != 0)
			break;
		*last = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	return (0);
}

int
store_prune_logs(struct store *s, size_t keep)
{
	sqlite3_stmt	*st;

	st = stmt(s, "DELETE FROM run_logs WHERE run_id IN (SELECT id FROM"
	    " (SELECT id, row_number() OVER (PARTITION BY deployment_id"
	    " ORDER BY id DESC) AS n FROM runs) WHERE n > ?)");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, (int64_t)keep);
	return (step_done(s, st));
}
