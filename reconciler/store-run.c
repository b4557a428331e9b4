/*
 * The store's runs and their logs.  A run moves queued -> running ->
 * final (or queued -> final) and never back.  Its log is a sequence of
 * chunks numbered from 1 without gaps: the run's row holds the last
 * number, so that an append is one read and two writes by primary key
 * whatever the size of the log, and a rolled-back append leaves no hole.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "xmalloc.h"

#define RUN_COLUMNS \
	"u.id, u.deployment_id, d.name, r.name, u.action, u.trigger," \
	" u.commit_id, u.fingerprint, u.state, u.exit_code, u.cause," \
	" u.outputs, u.queued_at, u.started_at, u.finished_at, u.log_bytes," \
	" u.log_dropped, u.summary, u.approval, u.plan_run_id, u.pull" \
	" FROM runs u JOIN deployments d ON d.id = u.deployment_id" \
	" JOIN repositories r ON r.id = d.repository_id"

static bool
store_action_valid(const char *action)
{
	return (action != NULL && (strcmp(action, "plan") == 0 ||
	    strcmp(action, "apply") == 0 || strcmp(action, "destroy") == 0));
}

static void
store_run_row(sqlite3_stmt *st, struct store_run *u)
{
	u->id = sqlite3_column_int64(st, 0);
	u->deployment_id = sqlite3_column_int64(st, 1);
	u->deployment = store_column_text(st, 2);
	u->repository = store_column_text(st, 3);
	u->action = store_column_text(st, 4);
	u->trigger = store_column_text(st, 5);
	u->commit = store_column_text(st, 6);
	u->fingerprint = store_column_text(st, 7);
	u->state = store_column_text(st, 8);
	u->exit_code = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, 9);
	u->cause = store_column_text(st, 10);
	u->outputs = store_column_text(st, 11);
	u->queued_at = sqlite3_column_int64(st, 12);
	u->started_at = sqlite3_column_int64(st, 13);
	u->finished_at = sqlite3_column_int64(st, 14);
	u->log_bytes = sqlite3_column_int64(st, 15);
	u->log_dropped = sqlite3_column_int64(st, 16);
	u->summary = store_column_text(st, 17);
	u->approval = store_column_text(st, 18);
	u->plan_run_id = sqlite3_column_int64(st, 19);
	u->pull = sqlite3_column_type(st, 20) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(st, 20);
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
	free(u->approval);
	memset(u, 0, sizeof *u);
}

void
store_run_array_free(struct store_run *v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_run_release(&v[i]);
	free(v);
}

int
store_run_insert(struct store *s, int64_t dep, const char *action,
    const char *trigger, const char *commit, const char *fingerprint,
    int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	if (!store_action_valid(action) || trigger == NULL ||
	    *trigger == '\0')
		return (-EINVAL);
	st = store_stmt(s, "INSERT INTO runs (deployment_id, action, trigger,"
	    " commit_id, fingerprint, state, queued_at)"
	    " VALUES (?, ?, ?, ?, ?, 'queued', ?)");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, dep);
		store_bind_text(st, 2, action);
		store_bind_text(st, 3, trigger);
		store_bind_text(st, 4, commit);
		store_bind_text(st, 5, fingerprint);
		sqlite3_bind_int64(st, 6, store_now());
	}
	if ((error = store_step_done(s, st)) != 0)
		return (error);
	*id = sqlite3_last_insert_rowid(s->db);
	return (0);
}

int
store_run_set_pull(struct store *s, int64_t id, int64_t pull)
{
	sqlite3_stmt	*st;
	int		 error;

	if (pull <= 0)
		return (-EINVAL);
	if ((st = store_stmt(s, "UPDATE runs SET pull = ? WHERE id = ?")) ==
	    NULL)
		return (store_step_done(s, NULL));
	sqlite3_bind_int64(st, 1, pull);
	sqlite3_bind_int64(st, 2, id);
	if ((error = store_step_done(s, st)) != 0)
		return (error);
	return (sqlite3_changes(s->db) == 0 ? -ENOENT : 0);
}

/* Why a run did not change: it does not exist, or its state forbids. */
static int
store_run_unchanged(struct store *s, int64_t id)
{
	sqlite3_stmt	*st;
	int		 error;

	if ((st = store_stmt(s, "SELECT 1 FROM runs WHERE id = ?")) != NULL)
		sqlite3_bind_int64(st, 1, id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	sqlite3_reset(st);
	return (-EALREADY);
}

int
store_run_start(struct store *s, int64_t id)
{
	sqlite3_stmt	*st;
	int		 error;

	st = store_stmt(s, "UPDATE runs SET state = 'running', started_at = ?"
	    " WHERE id = ? AND state = 'queued'");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, store_now());
		sqlite3_bind_int64(st, 2, id);
	}
	if ((error = store_step_done(s, st)) != 0)
		return (error);
	if (sqlite3_changes(s->db) == 0)
		return (store_run_unchanged(s, id));
	return (0);
}

int
store_run_finish(struct store *s, int64_t id, const char *state,
    int exit_code, const char *cause, const char *outputs)
{
	sqlite3_stmt	*st;
	int		 error;

	if (!store_run_state_final(state))
		return (-EINVAL);
	st = store_stmt(s, "UPDATE runs SET state = ?, exit_code = ?,"
	    " cause = ?, outputs = ?, finished_at = ?"
	    " WHERE id = ? AND state IN ('queued', 'running')");
	if (st != NULL) {
		store_bind_text(st, 1, state);
		if (exit_code >= 0)
			sqlite3_bind_int(st, 2, exit_code);
		else
			sqlite3_bind_null(st, 2);
		store_bind_text(st, 3, cause);
		store_bind_text(st, 4, outputs);
		sqlite3_bind_int64(st, 5, store_now());
		sqlite3_bind_int64(st, 6, id);
	}
	if ((error = store_step_done(s, st)) != 0)
		return (error);
	if (sqlite3_changes(s->db) == 0)
		return (store_run_unchanged(s, id));
	return (0);
}

int
store_run_set_summary(struct store *s, int64_t id, const char *summary)
{
	sqlite3_stmt	*st;

	if ((st = store_stmt(s, "UPDATE runs SET summary = ? WHERE id = ?")) ==
	    NULL)
		return (-EIO);
	store_bind_text(st, 1, summary);
	sqlite3_bind_int64(st, 2, id);
	return (store_step_done(s, st));
}

int
store_run_get(struct store *s, int64_t id, struct store_run *out)
{
	sqlite3_stmt	*st;
	int		 error;

	memset(out, 0, sizeof *out);
	if ((st = store_stmt(s, "SELECT " RUN_COLUMNS " WHERE u.id = ?")) !=
	    NULL)
		sqlite3_bind_int64(st, 1, id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	store_run_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_run_list(struct store *s, int64_t dep, size_t limit,
    struct store_run **out, size_t *n)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;
	int		 error;

	*out = NULL;
	*n = 0;
	/* Two statements, so that each uses its index. */
	if (dep != 0)
		st = store_stmt(s, "SELECT " RUN_COLUMNS
		    " WHERE u.deployment_id = ?1 ORDER BY u.id DESC LIMIT ?2");
	else
		st = store_stmt(s, "SELECT " RUN_COLUMNS
		    " WHERE ?1 = 0 ORDER BY u.id DESC LIMIT ?2");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, dep);
		sqlite3_bind_int64(st, 2, limit > 0 && limit < INT64_MAX ?
		    (int64_t)limit : -1);
	}
	while ((error = store_step_row(s, st)) == 0) {
		*out = store_grow(*out, *n, &cap, sizeof **out);
		memset(&(*out)[*n], 0, sizeof **out);
		store_run_row(st, &(*out)[(*n)++]);
	}
	if (error != -ENOENT) {
		store_run_array_free(*out, *n);
		*out = NULL;
		*n = 0;
		return (error);
	}
	return (0);
}

int
store_run_active(struct store *s, int64_t dep, int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	st = store_stmt(s, "SELECT id FROM runs WHERE deployment_id = ?"
	    " AND state IN ('queued', 'running') AND pull IS NULL"
	    " ORDER BY id DESC LIMIT 1");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, dep);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

/* Logs. */

void
store_log_set_limit(struct store *s, int64_t max)
{
	s->log_limit = max > 0 ? max : 0;
}

/* Count bytes that were not stored. */
static int
store_log_count(struct store *s, int64_t run, int64_t seq, int64_t stored,
    int64_t dropped)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE runs SET log_seq = ?, log_bytes ="
	    " log_bytes + ?, log_dropped = log_dropped + ? WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, seq);
		sqlite3_bind_int64(st, 2, stored);
		sqlite3_bind_int64(st, 3, dropped);
		sqlite3_bind_int64(st, 4, run);
	}
	return (store_step_done(s, st));
}

/* The run's last chunk number and stored bytes, if it takes more. */
static int
store_log_open(struct store *s, int64_t run, int64_t *seq, int64_t *bytes)
{
	sqlite3_stmt	*st;
	const char	*state;
	int		 error;

	st = store_stmt(s, "SELECT state, log_seq, log_bytes FROM runs"
	    " WHERE id = ?");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, run);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	state = (const char *)sqlite3_column_text(st, 0);
	if (store_run_state_final(state))
		error = -EALREADY;
	*seq = sqlite3_column_int64(st, 1);
	*bytes = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return (error);
}

int
store_log_append_many(struct store *s, int64_t run, const struct iovec *iov,
    size_t n)
{
	sqlite3_stmt		*st;
	const unsigned char	*p;
	int64_t			 seq, bytes, room, stored = 0, dropped = 0;
	size_t			 i, left, len;
	int			 error;

	for (i = 0, len = 0; i < n; i++)
		len += iov[i].iov_len;
	if (len == 0)
		return (0);
	if ((error = store_begin(s)) != 0)
		return (error);
	if ((error = store_log_open(s, run, &seq, &bytes)) != 0)
		return (store_end(s, error));
	room = s->log_limit == 0 ? INT64_MAX : s->log_limit > bytes ?
	    s->log_limit - bytes : 0;
	st = store_stmt(s, "INSERT INTO run_logs (run_id, seq, at, data)"
	    " VALUES (?, ?, ?, ?)");
	if (st == NULL)
		error = -EIO;
	else {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 3, store_now());
	}
	for (i = 0; error == 0 && i < n; i++) {
		p = iov[i].iov_base;
		left = iov[i].iov_len;
		if ((int64_t)left > room) {
			dropped += (int64_t)left - room;
			left = (size_t)room;
		}
		/* Small rows, and a reader always makes progress. */
		while (error == 0 && left > 0) {
			len = left < STORE_LOG_CHUNK ? left : STORE_LOG_CHUNK;
			sqlite3_bind_int64(st, 2, ++seq);
			sqlite3_bind_blob64(st, 4, p, len, SQLITE_STATIC);
			error = store_step_done(s, st);
			p += len;
			left -= len;
			stored += (int64_t)len;
			room -= (int64_t)len;
		}
	}
	if (st != NULL)
		sqlite3_clear_bindings(st);
	if (error == 0)
		error = store_log_count(s, run, seq, stored, dropped);
	return (store_end(s, error));
}

int
store_log_append(struct store *s, int64_t run, const void *data, size_t len)
{
	struct iovec	iov;

	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = len;
	return (store_log_append_many(s, run, &iov, 1));
}

int
store_log_dropped(struct store *s, int64_t run, size_t len)
{
	sqlite3_stmt	*st;
	int		 error;

	if (len == 0)
		return (0);
	st = store_stmt(s, "UPDATE runs SET log_dropped = log_dropped + ?"
	    " WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, (int64_t)len);
		sqlite3_bind_int64(st, 2, run);
	}
	if ((error = store_step_done(s, st)) != 0)
		return (error);
	return (sqlite3_changes(s->db) == 0 ? -ENOENT : 0);
}

int
store_log_read(struct store *s, int64_t run, int64_t after, size_t max,
    struct buf *out, int64_t *last)
{
	sqlite3_stmt	*st;
	const void	*data;
	size_t		 len, taken = 0;
	int		 error;

	*last = after;
	st = store_stmt(s, "SELECT seq, data FROM run_logs WHERE run_id = ?"
	    " AND seq > ? ORDER BY seq");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, after);
	}
	while ((error = store_step_row(s, st)) == 0) {
		data = sqlite3_column_blob(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 1);
		if (taken > 0 && (len > max || taken > max - len))
			break;
		if ((error = buf_add(out, data, len)) != 0) {
			if (taken > 0)
				error = 0;
			break;
		}
		taken += len;
		*last = sqlite3_column_int64(st, 0);
	}
	if (error == -ENOENT)
		error = 0;
	sqlite3_reset(st);
	return (error);
}
