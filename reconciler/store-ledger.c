/*
 * The store's ledger marks: which deployments still have ledger files to
 * push (see ledger.c and doc/ledger.md).  A mark is one row per
 * deployment, replaced by the newest change, with a sequence number that
 * only grows while marks exist, so that a push clears exactly what it
 * carried.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "xmalloc.h"

int
store_ledger_mark(struct store *s, int64_t deployment_id, const char *line)
{
	sqlite3_stmt	*st;

	if (line == NULL)
		return (-EINVAL);
	/*
	 * max(seq) + 1: a mark being pushed stays in the table until the
	 * push is done, so a new mark always gets a bigger number than it.
	 */
	st = store_stmt(s, "INSERT INTO ledger_marks (deployment_id,"
	    " repository_id, seq, line) SELECT id, repository_id,"
	    " (SELECT coalesce(max(seq), 0) + 1 FROM ledger_marks), ?2"
	    " FROM deployments WHERE id = ?1 ON CONFLICT (deployment_id)"
	    " DO UPDATE SET seq = excluded.seq, line = excluded.line");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, deployment_id);
		store_bind_text(st, 2, line);
	}
	return (store_step_done(s, st));
}

int
store_ledger_mark_run(struct store *s, int64_t deployment_id, int64_t run_id,
    const char *result)
{
	sqlite3_stmt	*st;
	char		*line;
	int		 error;

	st = store_stmt(s, "SELECT d.name || ': ' || coalesce(r.action, 'run')"
	    " || ' ' || ?3 || coalesce(' (' || substr(r.commit_id, 1, 7) || ')',"
	    " '') FROM deployments d LEFT JOIN runs r ON r.id = ?2"
	    " WHERE d.id = ?1");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, deployment_id);
		sqlite3_bind_int64(st, 2, run_id);
		store_bind_text(st, 3, result);
	}
	if ((error = store_step_row(s, st)) != 0)
		return (error == -ENOENT ? 0 : error);
	line = store_column_text(st, 0);
	sqlite3_reset(st);
	error = store_ledger_mark(s, deployment_id, line);
	free(line);
	return (error);
}

int
store_ledger_marks(struct store *s, int64_t repository_id,
    struct store_ledger_mark **out, size_t *n)
{
	struct store_ledger_mark	*v = NULL;
	sqlite3_stmt			*st;
	size_t				 cap = 0;
	int				 rc;

	*out = NULL;
	*n = 0;
	st = store_stmt(s, "SELECT deployment_id, seq, line FROM ledger_marks"
	    " WHERE ?1 = 0 OR repository_id = ?1 ORDER BY seq");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repository_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = store_grow(v, *n, &cap, sizeof *v);
		v[*n].deployment_id = sqlite3_column_int64(st, 0);
		v[*n].seq = sqlite3_column_int64(st, 1);
		v[*n].line = store_column_text(st, 2);
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		store_ledger_marks_free(v, *n);
		*n = 0;
		return (-EIO);
	}
	*out = v;
	return (0);
}

int
store_ledger_clear(struct store *s, int64_t deployment_id, int64_t seq)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "DELETE FROM ledger_marks WHERE deployment_id = ?1"
	    " AND seq <= ?2");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, deployment_id);
		sqlite3_bind_int64(st, 2, seq);
	}
	return (store_step_done(s, st));
}

int
store_ledger_count(struct store *s, int64_t repository_id, size_t *n)
{
	sqlite3_stmt	*st;
	int		 error;

	*n = 0;
	st = store_stmt(s, "SELECT count(*) FROM ledger_marks"
	    " WHERE ?1 = 0 OR repository_id = ?1");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, repository_id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

void
store_ledger_marks_free(struct store_ledger_mark *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].line);
	free(v);
}
