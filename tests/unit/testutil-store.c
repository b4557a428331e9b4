/* The store fixture of the unit tests (testutil-store.h). */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>

#include "testutil-store.h"
#include "xmalloc.h"

int
tu_store_setup(void **state)
{
	struct tu_store	*f = xcalloc(1, sizeof *f);
	char		*cause = NULL;

	f->dir = tu_mkdtemp();
	f->path = xasprintf("%s/cloudsphere.db", f->dir);
	if (store_open(&f->s, f->path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	assert_int_equal(store_repository_upsert(f->s, "infra", "file:///r",
	    "main", &f->repo), 0);
	*state = f;
	return (0);
}

int
tu_store_setup_web(void **state)
{
	struct tu_store	*f;

	tu_store_setup(state);
	f = *state;
	f->dep = tu_store_deployment(f, "web");
	return (0);
}

int
tu_store_teardown(void **state)
{
	struct tu_store	*f = *state;

	store_close(f->s);
	tu_rm_rf(f->dir);
	free(f->path);
	free(f->dir);
	free(f);
	return (0);
}

void
tu_store_reopen(struct tu_store *f)
{
	char	*cause = NULL;

	store_close(f->s);
	if (store_open(&f->s, f->path, &cause) != 0)
		fail_msg("store_open: %s", cause);
}

int64_t
tu_store_deployment(struct tu_store *f, const char *name)
{
	int64_t	id;

	assert_int_equal(store_deployment_ensure(f->s, f->repo, name, &id), 0);
	return (id);
}

sqlite3 *
tu_db_open(const char *path)
{
	sqlite3	*db;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		fail_msg("sqlite3_open %s", path);
	sqlite3_busy_timeout(db, 5000);
	return (db);
}

void
tu_db_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

void
tu_db_exec_file(const char *path, const char *sql)
{
	sqlite3	*db = tu_db_open(path);

	tu_db_exec(db, sql);
	sqlite3_close(db);
}

int64_t
tu_db_int(sqlite3 *db, const char *fmt, ...)
{
	sqlite3_stmt	*st;
	va_list		 ap;
	char		*sql;
	int64_t		 v = -1;

	va_start(ap, fmt);
	sql = xvasprintf(fmt, ap);
	va_end(ap);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	free(sql);
	return (v);
}

char *
tu_db_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	char		*v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return (v);
}
