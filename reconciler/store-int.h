/*
 * What the store's files share: the handle, the statement cache and the
 * helpers that turn SQLite's results into errno values.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include <sqlite3.h>

#include "store.h"
#include "table.h"

struct store {
	sqlite3		*db;
	struct table	 stmts;		/* SQL text -> prepared statement */
	int		 depth;		/* of store_begin */
	bool		 failed;	/* a part failed: the whole rolls back */
	int64_t		 log_limit;	/* per run, 0: none */
};

/* A cached statement, reset and unbound; NULL if it does not prepare. */
sqlite3_stmt	*store_stmt(struct store *, const char *sql);
/* Step a statement that returns no row, then reset it. */
int		 store_step_done(struct store *, sqlite3_stmt *);
/* Step to the first row: 0 (a row, left for reading), -ENOENT or -EIO. */
int		 store_step_row(struct store *, sqlite3_stmt *);
/* Run the SQL text (several statements) without caching it. */
int		 store_exec(struct store *, const char *sql);
/*
 * End an internal transaction: commit, unless a statement failed.  Only
 * errors found before any write may leave s->failed unset.
 */
int		 store_end(struct store *, int error);

void		 store_bind_text(sqlite3_stmt *, int, const char *);
char		*store_column_text(sqlite3_stmt *, int);
/* Rows of a list, grown by doubling. */
void		*store_grow(void *, size_t n, size_t *cap, size_t size);

#endif
