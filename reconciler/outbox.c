/*
 * The forge outbox on the store's SQLite file: one row per wanted value of
 * a (repository, kind, key), in the caller's transaction, and what the
 * reporter did with it.  Comparing with the newest row of the key is what
 * makes "only on change" hold across restarts; the remote comment id is
 * kept per key in outbox_remote, so that a superseded create still turns
 * its successor into an edit.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "store-int.h"
#include "xmalloc.h"

static const char *const outbox_states[] = {
	"pending", "success", "failure", "error",
};

const char *
outbox_state_name(enum outbox_state st)
{
	if ((unsigned)st >= sizeof outbox_states / sizeof outbox_states[0])
		return (NULL);
	return (outbox_states[st]);
}

static int
outbox_state_parse(const char *w, enum outbox_state *out)
{
	size_t	i;

	for (i = 0; w != NULL && i < sizeof outbox_states /
	    sizeof outbox_states[0]; i++) {
		if (strcmp(outbox_states[i], w) == 0) {
			*out = (enum outbox_state)i;
			return (0);
		}
	}
	return (-EINVAL);
}

static const char *
outbox_kind_name(enum outbox_kind k)
{
	return (k == OUTBOX_COMMENT ? "comment" : "status");
}

static bool
outbox_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/*
 * 1 when the newest row of the key holds these values already, 0 when it
 * does not (or there is none); the values are columns 0..n-1 of sql.
 */
static int
outbox_unchanged(struct store *s, int64_t repository_id, const char *kind,
    const char *key, const char *sql, const char *const *values, size_t n)
{
	sqlite3_stmt	*st;
	size_t		 i;
	int		 error, same = 1;

	if ((st = store_stmt(s, sql)) == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repository_id);
	store_bind_text(st, 2, kind);
	store_bind_text(st, 3, key);
	if ((error = store_step_row(s, st)) == -ENOENT)
		return (0);
	if (error != 0)
		return (error);
	for (i = 0; i < n; i++) {
		if (!outbox_same((const char *)sqlite3_column_text(st,
		    (int)i), values[i]))
			same = 0;
	}
	sqlite3_reset(st);
	return (same);
}

/* Older undelivered rows of the key give way to the new one. */
static int
outbox_supersede(struct store *s, int64_t repository_id, const char *kind,
    const char *key)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE outbox SET status = 'superseded'"
	    " WHERE repository_id = ? AND kind = ? AND key = ?"
	    " AND status = 'due'");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repository_id);
		store_bind_text(st, 2, kind);
		store_bind_text(st, 3, key);
	}
	return (store_step_done(s, st));
}

int
outbox_status(struct store *s, int64_t repository_id, const char *sha,
    const char *context, enum outbox_state state, const char *description,
    const char *target_url)
{
	sqlite3_stmt	*st;
	const char	*values[4];
	char		*key;
	int		 error;

	if (sha == NULL || *sha == '\0' || context == NULL ||
	    *context == '\0' || outbox_state_name(state) == NULL)
		return (-EINVAL);
	key = xasprintf("%s/%s", sha, context);
	values[0] = outbox_state_name(state);
	values[1] = description;
	values[2] = target_url;
	if ((error = store_begin(s)) != 0) {
		free(key);
		return (error);
	}
	error = outbox_unchanged(s, repository_id, "status", key,
	    "SELECT state, description, target_url FROM outbox"
	    " WHERE repository_id = ? AND kind = ? AND key = ?"
	    " ORDER BY id DESC LIMIT 1", values, 3);
	if (error == 1) {
		free(key);
		return (store_end(s, 0));
	}
	if (error == 0)
		error = outbox_supersede(s, repository_id, "status", key);
	if (error == 0) {
		st = store_stmt(s, "INSERT INTO outbox (repository_id, kind,"
		    " key, sha, context, state, description, target_url,"
		    " created_at) VALUES (?, 'status', ?, ?, ?, ?, ?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, repository_id);
			store_bind_text(st, 2, key);
			store_bind_text(st, 3, sha);
			store_bind_text(st, 4, context);
			store_bind_text(st, 5, values[0]);
			store_bind_text(st, 6, description);
			store_bind_text(st, 7, target_url);
			sqlite3_bind_int64(st, 8, store_now());
		}
		error = store_step_done(s, st);
	}
	free(key);
	return (store_end(s, error));
}

int
outbox_comment(struct store *s, int64_t repository_id, int64_t pull,
    const char *body)
{
	sqlite3_stmt	*st;
	const char	*values[1];
	char		 key[32];
	int		 error;

	if (body == NULL || pull <= 0)
		return (-EINVAL);
	snprintf(key, sizeof key, "pull/%" PRId64, pull);
	values[0] = body;
	if ((error = store_begin(s)) != 0)
		return (error);
	error = outbox_unchanged(s, repository_id, "comment", key,
	    "SELECT body FROM outbox WHERE repository_id = ? AND kind = ?"
	    " AND key = ? ORDER BY id DESC LIMIT 1", values, 1);
	if (error == 1)
		return (store_end(s, 0));
	if (error == 0)
		error = outbox_supersede(s, repository_id, "comment", key);
	if (error == 0) {
		st = store_stmt(s, "INSERT INTO outbox (repository_id, kind,"
		    " key, pull, body, created_at)"
		    " VALUES (?, 'comment', ?, ?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, repository_id);
			store_bind_text(st, 2, key);
			sqlite3_bind_int64(st, 3, pull);
			store_bind_text(st, 4, body);
			sqlite3_bind_int64(st, 5, store_now());
		}
		error = store_step_done(s, st);
	}
	return (store_end(s, error));
}

#define OUTBOX_COLUMNS \
	"o.id, o.repository_id, o.kind, o.key, o.sha, o.context, o.state," \
	" o.description, o.target_url, o.pull, o.body, r.remote_id," \
	" o.attempts, o.next_at, o.created_at" \
	" FROM outbox o LEFT JOIN outbox_remote r" \
	" ON r.repository_id = o.repository_id AND r.kind = o.kind" \
	" AND r.key = o.key"

static void
outbox_item_read(sqlite3_stmt *st, struct outbox_item *it)
{
	const char	*kind;

	memset(it, 0, sizeof *it);
	it->id = sqlite3_column_int64(st, 0);
	it->repository_id = sqlite3_column_int64(st, 1);
	kind = (const char *)sqlite3_column_text(st, 2);
	it->kind = kind != NULL && strcmp(kind, "comment") == 0 ?
	    OUTBOX_COMMENT : OUTBOX_STATUS;
	it->key = store_column_text(st, 3);
	it->sha = store_column_text(st, 4);
	it->context = store_column_text(st, 5);
	if (outbox_state_parse((const char *)sqlite3_column_text(st, 6),
	    &it->state) != 0)
		it->state = OUTBOX_ERROR;
	it->description = store_column_text(st, 7);
	it->target_url = store_column_text(st, 8);
	it->pull = sqlite3_column_int64(st, 9);
	it->body = store_column_text(st, 10);
	it->remote_id = store_column_text(st, 11);
	it->attempts = sqlite3_column_int(st, 12);
	it->next_at = sqlite3_column_int64(st, 13);
	it->created_at = sqlite3_column_int64(st, 14);
}

int
outbox_due(struct store *s, int64_t repository_id, int64_t now, size_t limit,
    struct outbox_item **out, size_t *n)
{
	sqlite3_stmt		*st;
	struct outbox_item	*v = NULL;
	size_t			 cap = 0;
	int			 error;

	*out = NULL;
	*n = 0;
	st = store_stmt(s, "SELECT " OUTBOX_COLUMNS " WHERE o.status = 'due'"
	    " AND o.next_at <= ?1 AND (?2 = 0 OR o.repository_id = ?2)"
	    " ORDER BY o.id LIMIT ?3");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, repository_id);
	sqlite3_bind_int64(st, 3, limit == 0 ? -1 : (int64_t)limit);
	while ((error = store_step_row(s, st)) == 0) {
		v = store_grow(v, *n, &cap, sizeof *v);
		outbox_item_read(st, &v[(*n)++]);
	}
	if (error != -ENOENT) {
		outbox_item_array_free(v, *n);
		*n = 0;
		return (error);
	}
	*out = v;
	return (0);
}

int
outbox_next_due(struct store *s, int64_t repository_id, int64_t *at)
{
	sqlite3_stmt	*st;
	int		 error;

	st = store_stmt(s, "SELECT min(next_at) FROM outbox WHERE"
	    " status = 'due' AND (?1 = 0 OR repository_id = ?1)");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, repository_id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		error = -ENOENT;
	else
		*at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (error);
}

/* -ENOENT when a one-row UPDATE found nothing to change. */
static int
outbox_changed(struct store *s, int error)
{
	if (error == 0 && sqlite3_changes(s->db) == 0)
		return (-ENOENT);
	return (error);
}

int
outbox_delivered(struct store *s, int64_t id, const char *remote_id)
{
	sqlite3_stmt	*st;
	int		 error;

	if ((error = store_begin(s)) != 0)
		return (error);
	st = store_stmt(s, "UPDATE outbox SET status = 'delivered',"
	    " delivered_at = ?, last_error = NULL WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, store_now());
		sqlite3_bind_int64(st, 2, id);
	}
	error = outbox_changed(s, store_step_done(s, st));
	if (error == 0 && remote_id != NULL) {
		st = store_stmt(s, "INSERT INTO outbox_remote (repository_id,"
		    " kind, key, remote_id) SELECT repository_id, kind, key, ?"
		    " FROM outbox WHERE id = ? ON CONFLICT DO UPDATE"
		    " SET remote_id = excluded.remote_id");
		if (st != NULL) {
			store_bind_text(st, 1, remote_id);
			sqlite3_bind_int64(st, 2, id);
		}
		error = store_step_done(s, st);
	}
	return (store_end(s, error));
}

int
outbox_failed(struct store *s, int64_t id, int attempts, int64_t next_at,
    const char *error)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE outbox SET attempts = ?, next_at = ?,"
	    " last_error = ? WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int(st, 1, attempts);
		sqlite3_bind_int64(st, 2, next_at);
		store_bind_text(st, 3, error);
		sqlite3_bind_int64(st, 4, id);
	}
	return (outbox_changed(s, store_step_done(s, st)));
}

int
outbox_abandon(struct store *s, int64_t id, const char *error)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE outbox SET status = CASE status"
	    " WHEN 'due' THEN 'abandoned' ELSE status END,"
	    " attempts = attempts + 1, last_error = ? WHERE id = ?");
	if (st != NULL) {
		store_bind_text(st, 1, error);
		sqlite3_bind_int64(st, 2, id);
	}
	return (outbox_changed(s, store_step_done(s, st)));
}

int
outbox_forget_remote(struct store *s, int64_t repository_id,
    enum outbox_kind kind, const char *key)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "DELETE FROM outbox_remote WHERE"
	    " repository_id = ? AND kind = ? AND key = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repository_id);
		store_bind_text(st, 2, outbox_kind_name(kind));
		store_bind_text(st, 3, key);
	}
	return (store_step_done(s, st));
}

void
outbox_item_release(struct outbox_item *it)
{
	if (it == NULL)
		return;
	free(it->key);
	free(it->sha);
	free(it->context);
	free(it->description);
	free(it->target_url);
	free(it->body);
	free(it->remote_id);
	memset(it, 0, sizeof *it);
}

void
outbox_item_array_free(struct outbox_item *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		outbox_item_release(&v[i]);
	free(v);
}

int
outbox_history(struct store *s, int64_t repository_id, enum outbox_kind kind,
    const char *key, struct outbox_row **out, size_t *n)
{
	sqlite3_stmt		*st;
	struct outbox_row	*v = NULL, *r;
	size_t			 cap = 0;
	int			 error;

	*out = NULL;
	*n = 0;
	st = store_stmt(s, "SELECT o.id, o.key, o.status, o.attempts,"
	    " o.last_error, r.remote_id, o.delivered_at FROM outbox o"
	    " LEFT JOIN outbox_remote r ON r.repository_id = o.repository_id"
	    " AND r.kind = o.kind AND r.key = o.key"
	    " WHERE o.repository_id = ? AND o.kind = ? AND o.key = ?"
	    " ORDER BY o.id");
	if (st == NULL)
		return (-EIO);
	sqlite3_bind_int64(st, 1, repository_id);
	store_bind_text(st, 2, outbox_kind_name(kind));
	store_bind_text(st, 3, key);
	while ((error = store_step_row(s, st)) == 0) {
		v = store_grow(v, *n, &cap, sizeof *v);
		r = &v[(*n)++];
		r->id = sqlite3_column_int64(st, 0);
		r->key = store_column_text(st, 1);
		r->status = store_column_text(st, 2);
		r->attempts = sqlite3_column_int(st, 3);
		r->last_error = store_column_text(st, 4);
		r->remote_id = store_column_text(st, 5);
		r->delivered_at = sqlite3_column_int64(st, 6);
	}
	if (error != -ENOENT) {
		outbox_row_array_free(v, *n);
		*n = 0;
		return (error);
	}
	*out = v;
	return (0);
}

void
outbox_row_array_free(struct outbox_row *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].status);
		free(v[i].last_error);
		free(v[i].remote_id);
	}
	free(v);
}

int
outbox_prune(struct store *s, int64_t before)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "DELETE FROM outbox WHERE status <> 'due'"
	    " AND created_at < ? AND id NOT IN (SELECT max(id) FROM outbox"
	    " GROUP BY repository_id, kind, key)");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, before);
	return (store_step_done(s, st));
}
