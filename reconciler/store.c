/*
 * The store, on SQLite: opening, the schema and its migrations,
 * transactions, the statement cache, and what runs at daemon start
 * (recover) or now and then (prune).  Repositories, deployments and
 * transitions are in store-deployment.c; runs and logs in store-run.c.
 *
 * WAL with synchronous=NORMAL: a process crash loses nothing committed; a
 * power cut may lose the last transactions, never the file's consistency.
 * Statements are prepared once and cached by their text.
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

#include "store-int.h"
#include "xmalloc.h"

#define STORE_BUSY_MS		5000

/*
 * Schema version 1, as the first cloudsphered wrote it.  Never edit a
 * migration that has shipped: add the next one.
 */
static int
store_migrate_1(struct store *s)
{
	return (store_exec(s,
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
	    "CREATE INDEX transitions_by_deployment"
	    "  ON transitions (deployment_id, id);"));
}

/*
 * Version 2: the next log sequence number lives in the run's row (so that
 * appends need no max() and cannot leave gaps), bytes over the log limit
 * are counted, active runs have their own small index, and the file says
 * whose it is.
 */
static int
store_migrate_2(struct store *s)
{
	return (store_exec(s,
	    "ALTER TABLE runs ADD COLUMN log_seq INTEGER NOT NULL DEFAULT 0;"
	    "ALTER TABLE runs ADD COLUMN log_dropped INTEGER NOT NULL"
	    "  DEFAULT 0;"
	    "UPDATE runs SET log_seq = coalesce((SELECT max(seq)"
	    "  FROM run_logs WHERE run_id = runs.id), 0);"
	    "DROP INDEX runs_by_state;"
	    "CREATE INDEX runs_active ON runs (deployment_id, id)"
	    "  WHERE state IN ('queued', 'running');"
	    "PRAGMA application_id = 1129533512;"));
}

/* 2 -> 3: what a plan or an apply found, in one line. */
static int
store_migrate_3(struct store *s)
{
	return (store_exec(s, "ALTER TABLE runs ADD COLUMN summary TEXT;"));
}

/* Deployments whose ledger files are not pushed yet (store-ledger.c). */
static int
store_migrate_ledger(struct store *s)
{
	return (store_exec(s,
	    "CREATE TABLE ledger_marks ("
	    "  deployment_id INTEGER PRIMARY KEY"
	    "    REFERENCES deployments(id) ON DELETE CASCADE,"
	    "  repository_id INTEGER NOT NULL REFERENCES repositories(id),"
	    "  seq INTEGER NOT NULL, line TEXT NOT NULL);"
	    "CREATE INDEX ledger_marks_by_repository ON ledger_marks"
	    "  (repository_id, seq);"));
}

/*
 * Plans waiting for approval (approval: manual) and what became
 * of them, the plan an apply carries out, and when a deployment's drift
 * was last checked (so that the schedule survives a restart).
 */
static int
store_migrate_plans(struct store *s)
{
	return (store_exec(s,
	    "ALTER TABLE runs ADD COLUMN approval TEXT;"
	    "ALTER TABLE runs ADD COLUMN plan_run_id INTEGER NOT NULL"
	    "  DEFAULT 0;"
	    "ALTER TABLE deployments ADD COLUMN drift_checked_at INTEGER"
	    "  NOT NULL DEFAULT 0;"
	    "CREATE INDEX runs_waiting ON runs (deployment_id, id)"
	    "  WHERE approval = 'waiting';"));
}

/*
 * The forge outbox (reconciler/outbox.c): one row per wanted commit
 * status or pull-request comment, and what its delivery became; the
 * remote id of a comment, per key, so that it is edited in place.
 */
static int
store_migrate_outbox(struct store *s)
{
	return (store_exec(s,
	    "CREATE TABLE outbox ("
	    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    "  repository_id INTEGER NOT NULL REFERENCES repositories(id),"
	    "  kind TEXT NOT NULL CHECK (kind IN ('status', 'comment')),"
	    "  key TEXT NOT NULL,"
	    "  sha TEXT, context TEXT, state TEXT, description TEXT,"
	    "  target_url TEXT,"
	    "  pull INTEGER NOT NULL DEFAULT 0, body TEXT,"
	    "  status TEXT NOT NULL DEFAULT 'due' CHECK (status IN"
	    "  ('due', 'delivered', 'superseded', 'abandoned')),"
	    "  attempts INTEGER NOT NULL DEFAULT 0,"
	    "  next_at INTEGER NOT NULL DEFAULT 0,"
	    "  last_error TEXT,"
	    "  created_at INTEGER NOT NULL,"
	    "  delivered_at INTEGER NOT NULL DEFAULT 0);"
	    "CREATE INDEX outbox_by_key ON outbox"
	    "  (repository_id, kind, key, id);"
	    "CREATE INDEX outbox_due ON outbox (next_at, id)"
	    "  WHERE status = 'due';"
	    "CREATE TABLE outbox_remote ("
	    "  repository_id INTEGER NOT NULL REFERENCES repositories(id),"
	    "  kind TEXT NOT NULL, key TEXT NOT NULL,"
	    "  remote_id TEXT NOT NULL,"
	    "  PRIMARY KEY (repository_id, kind, key)) WITHOUT ROWID;"));
}

/*
 * Pull-request plans: runs.pull is the pull request a preview run planned
 * (NULL: a run of the branch); deployments.pull marks a row made for a
 * deployment that so far exists only in a pull request, hidden from the
 * deployment lists until the branch declares it.
 */
static int
store_migrate_pulls(struct store *s)
{
	return (store_exec(s,
	    "ALTER TABLE runs ADD COLUMN pull INTEGER;"
	    "ALTER TABLE deployments ADD COLUMN pull INTEGER;"));
}

static const struct {
	const char	*what;
	int		(*fn)(struct store *);
} store_migrations[] = {
	{ "tables", store_migrate_1 },
	{ "log sequence and dropped bytes", store_migrate_2 },
	{ "run summaries", store_migrate_3 },
	{ "ledger marks", store_migrate_ledger },
	{ "approvals and drift checks", store_migrate_plans },
	{ "forge outbox", store_migrate_outbox },
	{ "pull-request plans", store_migrate_pulls },
};

_Static_assert(sizeof store_migrations / sizeof store_migrations[0] ==
    STORE_SCHEMA_VERSION, "one migration per schema version");
_Static_assert(STORE_APPLICATION_ID == 1129533512,
    "migration 2 writes the application id");

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
	time_t		t;
	struct tm	tm;
	int64_t		frac;
	char		day[24];

	/* Floor, so that times before the epoch still read right. */
	frac = ms % 1000;
	if (frac < 0)
		frac += 1000;
	t = (time_t)((ms - frac) / 1000);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, 32, "-");
		return;
	}
	snprintf(buf, 32, "%s.%03dZ", day, (int)frac);
}

static const char *const store_phases[] = {
	"pending", "planned", "applying", "destroying", "ready", "failed",
	"drifted", "destroyed", "orphaned", "invalid", "suspended",
};

static bool
store_word(const char *const *words, size_t n, const char *w)
{
	size_t	i;

	if (w == NULL)
		return (false);
	for (i = 0; i < n; i++) {
		if (strcmp(words[i], w) == 0)
			return (true);
	}
	return (false);
}

bool
store_phase_valid(const char *phase)
{
	return (store_word(store_phases, sizeof store_phases /
	    sizeof store_phases[0], phase));
}

bool
store_run_state_final(const char *state)
{
	static const char *const finals[] = {
		"succeeded", "failed", "timed-out", "cancelled", "interrupted",
	};

	return (store_word(finals, sizeof finals / sizeof finals[0], state));
}

/* SQLite's result codes, read in this one place. */
static int
store_errno(int rc)
{
	switch (rc) {
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return (-ENOENT);
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return (-EEXIST);
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return (-EINVAL);
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return (-EBUSY);
	case SQLITE_FULL:
		return (-ENOSPC);
	case SQLITE_NOMEM:
		return (-ENOMEM);
	case SQLITE_READONLY:
		return (-EROFS);
	case SQLITE_TOOBIG:
		return (-E2BIG);
	}
	return (-EIO);
}

/* A failure inside a transaction dooms all of it. */
static int
store_fail(struct store *s, int error)
{
	if (s->depth > 0)
		s->failed = true;
	return (error);
}

sqlite3_stmt *
store_stmt(struct store *s, const char *sql)
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

int
store_step_done(struct store *s, sqlite3_stmt *st)
{
	int	rc;

	if (st == NULL)
		return (store_fail(s, -EIO));
	/*
	 * Never write after a failure in a transaction: SQLite may have
	 * rolled it back already, and the write would commit on its own.
	 */
	if (s->depth > 0 && (s->failed || sqlite3_get_autocommit(s->db))) {
		s->failed = true;
		return (-ECANCELED);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return (store_fail(s, store_errno(rc)));
	return (0);
}

int
store_step_row(struct store *s, sqlite3_stmt *st)
{
	int	rc;

	if (st == NULL)
		return (store_fail(s, -EIO));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return (0);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return (-ENOENT);
	return (store_fail(s, store_errno(rc)));
}

int
store_exec(struct store *s, const char *sql)
{
	int	rc;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return (rc == SQLITE_OK ? 0 : store_errno(rc));
}

void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

char *
store_column_text(sqlite3_stmt *st, int i)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	return (t != NULL ? xstrdup((const char *)t) : NULL);
}

void *
store_grow(void *v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return (v);
	*cap = *cap == 0 ? 16 : *cap * 2;
	return (xreallocarray(v, *cap, size));
}

/* Run one cached statement of the transaction machinery. */
static int
store_tx(struct store *s, const char *sql)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_stmt(s, sql)) == NULL)
		return (-EIO);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return (rc == SQLITE_DONE ? 0 : store_errno(rc));
}

static void
store_abort(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		store_tx(s, "ROLLBACK");
	s->failed = false;
}

/*
 * IMMEDIATE takes the write lock at once, so that a transaction never
 * fails half-way because another connection wrote first.  A failed
 * store_begin leaves no transaction open: do not end it.
 */
int
store_begin(struct store *s)
{
	int	error;

	if (s->depth > 0) {
		s->depth++;
		return (0);
	}
	if ((error = store_tx(s, "BEGIN IMMEDIATE")) != 0)
		return (error);
	s->depth = 1;
	s->failed = false;
	return (0);
}

int
store_commit(struct store *s)
{
	int	error;

	if (s->depth == 0)
		return (-EINVAL);
	if (--s->depth > 0)
		return (s->failed ? -ECANCELED : 0);
	if (s->failed) {
		store_abort(s);
		return (-ECANCELED);
	}
	if ((error = store_tx(s, "COMMIT")) != 0) {
		store_abort(s);
		return (error);
	}
	return (0);
}

int
store_rollback(struct store *s)
{
	if (s->depth == 0)
		return (-EINVAL);
	s->failed = true;
	if (--s->depth > 0)
		return (0);
	store_abort(s);
	return (0);
}

/*
 * A function that fails before it writes anything (no such row, a run
 * already finished) leaves the caller's transaction alive; a failed
 * statement dooms it.
 */
int
store_end(struct store *s, int error)
{
	int	end;

	if (error != 0 && s->failed) {
		store_rollback(s);
		return (error);
	}
	end = store_commit(s);
	return (error != 0 ? error : end);
}

static int
store_pragma_int(struct store *s, const char *sql, int64_t *v)
{
	sqlite3_stmt	*st;
	int		 error;

	if ((st = store_stmt(s, sql)) == NULL)
		return (-EIO);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	*v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

int
store_version(struct store *s)
{
	int64_t	v;

	if (store_pragma_int(s, "PRAGMA user_version", &v) != 0)
		return (-EIO);
	return ((int)v);
}

/* Refuse what is not ours or is newer than this code; 1: up to date. */
static int
store_check(struct store *s, int64_t version, char **cause)
{
	int64_t	appid, tables;

	if (store_pragma_int(s, "PRAGMA application_id", &appid) != 0 ||
	    store_pragma_int(s, "SELECT count(*) FROM sqlite_master",
	    &tables) != 0) {
		*cause = xstrdup(sqlite3_errmsg(s->db));
		return (-EIO);
	}
	if ((appid != 0 && appid != STORE_APPLICATION_ID) ||
	    (version == 0 && tables != 0)) {
		*cause = xstrdup("not a cloudsphere database");
		return (-EPROTO);
	}
	if (version > STORE_SCHEMA_VERSION) {
		*cause = xasprintf("the database has schema version %lld, newer than this program's (%d): use a newer cloudsphered",
		    (long long)version, STORE_SCHEMA_VERSION);
		return (-EPROTO);
	}
	return (version == STORE_SCHEMA_VERSION);
}

/*
 * Each migration is one transaction that also moves user_version on: a
 * crash between two leaves a file at a known version.  The version is
 * read under the write lock, so two processes never migrate together.
 */
static int
store_migrate(struct store *s, char **cause)
{
	int64_t	 version;
	int	 error;
	char	*sql;

	for (;;) {
		if ((error = store_begin(s)) != 0) {
			*cause = xasprintf("cannot lock: %s",
			    sqlite3_errmsg(s->db));
			return (error);
		}
		if ((error = store_pragma_int(s, "PRAGMA user_version",
		    &version)) != 0) {
			*cause = xstrdup(sqlite3_errmsg(s->db));
			store_rollback(s);
			return (error);
		}
		if ((error = store_check(s, version, cause)) != 0) {
			store_rollback(s);
			return (error < 0 ? error : 0);
		}
		error = store_migrations[version].fn(s);
		if (error == 0) {
			sql = xasprintf("PRAGMA user_version = %lld",
			    (long long)version + 1);
			error = store_exec(s, sql);
			free(sql);
		}
		if (error != 0) {
			*cause = xasprintf("migration to schema %lld (%s): %s",
			    (long long)version + 1,
			    store_migrations[version].what,
			    sqlite3_errmsg(s->db));
			store_rollback(s);
			return (error);
		}
		if ((error = store_commit(s)) != 0) {
			*cause = xasprintf("migration to schema %lld: %s",
			    (long long)version + 1, sqlite3_errmsg(s->db));
			return (error);
		}
	}
}

/* journal_mode answers with the mode it could set. */
static int
store_wal(struct store *s)
{
	sqlite3_stmt	*st;
	const char	*mode;
	int		 error;

	if ((st = store_stmt(s, "PRAGMA journal_mode = WAL")) == NULL)
		return (-EIO);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	mode = (const char *)sqlite3_column_text(st, 0);
	error = mode != NULL && strcmp(mode, "wal") == 0 ? 0 : -ENOTSUP;
	sqlite3_reset(st);
	return (error);
}

int
store_open(struct store **out, const char *path, char **cause)
{
	struct store	*s;
	char		*c = NULL;
	int		 fd, error;

	*out = NULL;
	*cause = NULL;
	/* Created private before SQLite opens it; its -wal and -shm follow. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		error = -errno;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return (error);
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
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if ((error = store_wal(s)) != 0) {
		c = error == -ENOTSUP ? xstrdup("cannot use a WAL journal") :
		    xstrdup(sqlite3_errmsg(s->db));
	} else if ((error = store_exec(s, "PRAGMA synchronous = NORMAL;"
	    "PRAGMA foreign_keys = ON;"
	    /* 64 MB: the WAL is truncated back to it after a checkpoint. */
	    "PRAGMA journal_size_limit = 67108864")) != 0)
		c = xstrdup(sqlite3_errmsg(s->db));
	else
		error = store_migrate(s, &c);
	if (error != 0) {
		*cause = xasprintf("%s: %s", path, c);
		free(c);
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
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		store_tx(s, "ROLLBACK");
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
	int64_t		*ids = NULL, now = store_now();
	size_t		 n = 0, cap = 0, i;
	int		 error;

	*interrupted = 0;
	if ((error = store_begin(s)) != 0)
		return (error);
	/* Deployments caught in the middle of a run, with that run. */
	st = store_stmt(s, "SELECT d.id, coalesce((SELECT max(u.id)"
	    " FROM runs u WHERE u.deployment_id = d.id AND u.pull IS NULL"
	    " AND u.state IN ('queued', 'running')), d.last_run_id)"
	    " FROM deployments d WHERE d.phase IN ('applying', 'destroying')");
	if (st == NULL)
		error = -EIO;
	while (error == 0 && (error = store_step_row(s, st)) == 0) {
		ids = store_grow(ids, n, &cap, 2 * sizeof *ids);
		ids[n++] = sqlite3_column_int64(st, 0);
		ids[n++] = sqlite3_column_int64(st, 1);
	}
	if (error == -ENOENT)
		error = 0;
	sqlite3_reset(st);
	for (i = 0; error == 0 && i < n; i += 2) {
		error = store_deployment_set_phase(s, ids[i], "failed",
		    ids[i + 1], "daemon restarted",
		    "interrupted: the daemon stopped");
		if (error == 0 && (st = store_stmt(s, "UPDATE deployments"
		    " SET retry_at = 0 WHERE id = ?")) != NULL)
			sqlite3_bind_int64(st, 1, ids[i]);
		if (error == 0)
			error = store_step_done(s, st);
		if (error == 0)
			error = store_ledger_mark_run(s, ids[i], ids[i + 1],
			    "interrupted");
	}
	free(ids);
	if (error == 0) {
		st = store_stmt(s, "UPDATE runs SET state = 'interrupted',"
		    " cause = 'interrupted: the daemon stopped',"
		    " finished_at = ? WHERE state IN ('queued', 'running')");
		if (st != NULL)
			sqlite3_bind_int64(st, 1, now);
		if ((error = store_step_done(s, st)) == 0)
			*interrupted = (size_t)sqlite3_changes(s->db);
	}
	if ((error = store_end(s, error)) != 0)
		*interrupted = 0;
	return (error);
}

int
store_prune_logs(struct store *s, size_t keep)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "DELETE FROM run_logs WHERE run_id IN"
	    " (SELECT id FROM (SELECT id, state, row_number() OVER"
	    " (PARTITION BY deployment_id ORDER BY id DESC) AS n FROM runs)"
	    " WHERE n > ? AND state NOT IN ('queued', 'running'))");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, (int64_t)keep);
	return (store_step_done(s, st));
}
