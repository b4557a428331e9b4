/*
 * The store's repositories, deployments and their phase transitions.  A
 * phase change and its transition row are written in one transaction, so
 * that the history never misses a change nor records one that did not
 * happen.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "xmalloc.h"

/* Repositories. */

int
store_repository_upsert(struct store *s, const char *name, const char *url,
    const char *branch, int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	if (name == NULL || *name == '\0')
		return (-EINVAL);
	if ((error = store_begin(s)) != 0)
		return (error);
	st = store_stmt(s, "INSERT INTO repositories (name, url, branch,"
	    " updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name)"
	    " DO UPDATE SET url = ?2, branch = ?3");
	if (st != NULL) {
		store_bind_text(st, 1, name);
		store_bind_text(st, 2, url);
		store_bind_text(st, 3, branch);
		sqlite3_bind_int64(st, 4, store_now());
	}
	if ((error = store_step_done(s, st)) == 0) {
		st = store_stmt(s, "SELECT id FROM repositories WHERE name = ?");
		if (st != NULL)
			store_bind_text(st, 1, name);
		if ((error = store_step_row(s, st)) == 0) {
			*id = sqlite3_column_int64(st, 0);
			sqlite3_reset(st);
		}
	}
	return (store_end(s, error));
}

int
store_repository_get(struct store *s, const char *name,
    struct store_repository *out)
{
	sqlite3_stmt	*st;
	int		 error;

	memset(out, 0, sizeof *out);
	st = store_stmt(s, "SELECT id, name, url, branch, last_commit,"
	    " last_error, updated_at FROM repositories WHERE name = ?");
	if (st != NULL)
		store_bind_text(st, 1, name);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	out->id = sqlite3_column_int64(st, 0);
	out->name = store_column_text(st, 1);
	out->url = store_column_text(st, 2);
	out->branch = store_column_text(st, 3);
	out->last_commit = store_column_text(st, 4);
	out->last_error = store_column_text(st, 5);
	out->updated_at = sqlite3_column_int64(st, 6);
	sqlite3_reset(st);
	return (0);
}

/* -ENOENT when a one-row UPDATE found nothing to change. */
static int
store_changed(struct store *s, int error)
{
	if (error == 0 && sqlite3_changes(s->db) == 0)
		return (-ENOENT);
	return (error);
}

int
store_repository_set_commit(struct store *s, int64_t id, const char *commit,
    const char *error)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE repositories SET last_commit ="
	    " coalesce(?1, last_commit), last_error = ?2, updated_at = ?3"
	    " WHERE id = ?4");
	if (st != NULL) {
		store_bind_text(st, 1, commit);
		store_bind_text(st, 2, error);
		sqlite3_bind_int64(st, 3, store_now());
		sqlite3_bind_int64(st, 4, id);
	}
	return (store_changed(s, store_step_done(s, st)));
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
store_deployment_row(sqlite3_stmt *st, struct store_deployment *d)
{
	d->id = sqlite3_column_int64(st, 0);
	d->repository_id = sqlite3_column_int64(st, 1);
	d->repository = store_column_text(st, 2);
	d->name = store_column_text(st, 3);
	d->phase = store_column_text(st, 4);
	d->blueprint = store_column_text(st, 5);
	d->environment = store_column_text(st, 6);
	d->suspended = sqlite3_column_int(st, 7) != 0;
	d->operator_suspended = sqlite3_column_int(st, 8) != 0;
	d->destroy_approved = sqlite3_column_int(st, 9) != 0;
	d->desired_commit = store_column_text(st, 10);
	d->desired_fingerprint = store_column_text(st, 11);
	d->applied_commit = store_column_text(st, 12);
	d->applied_fingerprint = store_column_text(st, 13);
	d->applied_at = sqlite3_column_int64(st, 14);
	d->cause = store_column_text(st, 15);
	d->outputs = store_column_text(st, 16);
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

void
store_deployment_array_free(struct store_deployment *v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_deployment_release(&v[i]);
	free(v);
}

/* The id of a repository's row for name, whoever declared it. */
static int
deployment_id(struct store *s, int64_t repo, const char *name, int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	st = store_stmt(s, "SELECT id FROM deployments"
	    " WHERE repository_id = ? AND name = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repo);
		store_bind_text(st, 2, name);
	}
	if ((error = store_step_row(s, st)) == 0) {
		*id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return (error);
}

int
store_deployment_ensure(struct store *s, int64_t repo, const char *name,
    int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	if (name == NULL || *name == '\0')
		return (-EINVAL);
	if ((error = store_begin(s)) != 0)
		return (error);
	st = store_stmt(s, "INSERT INTO deployments (repository_id, name)"
	    " VALUES (?, ?) ON CONFLICT (repository_id, name) DO UPDATE"
	    " SET pull = NULL WHERE pull IS NOT NULL");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repo);
		store_bind_text(st, 2, name);
	}
	if ((error = store_step_done(s, st)) == 0)
		error = deployment_id(s, repo, name, id);
	return (store_end(s, error));
}

int
store_deployment_ensure_pull(struct store *s, int64_t repo, const char *name,
    int64_t pull, int64_t *id)
{
	sqlite3_stmt	*st;
	int		 error;

	if (name == NULL || *name == '\0' || pull <= 0)
		return (-EINVAL);
	if ((error = store_begin(s)) != 0)
		return (error);
	st = store_stmt(s, "INSERT INTO deployments (repository_id, name, pull)"
	    " VALUES (?, ?, ?) ON CONFLICT (repository_id, name) DO NOTHING");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repo);
		store_bind_text(st, 2, name);
		sqlite3_bind_int64(st, 3, pull);
	}
	if ((error = store_step_done(s, st)) == 0)
		error = deployment_id(s, repo, name, id);
	return (store_end(s, error));
}

int
store_deployment_get(struct store *s, int64_t repo, const char *name,
    struct store_deployment *out)
{
	sqlite3_stmt	*st;
	int		 error;

	memset(out, 0, sizeof *out);
	st = store_stmt(s, "SELECT " DEPLOYMENT_COLUMNS
	    " WHERE d.repository_id = ? AND d.name = ? AND d.pull IS NULL");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, repo);
		store_bind_text(st, 2, name);
	}
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	store_deployment_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_get_by_id(struct store *s, int64_t id,
    struct store_deployment *out)
{
	sqlite3_stmt	*st;
	int		 error;

	memset(out, 0, sizeof *out);
	st = store_stmt(s, "SELECT " DEPLOYMENT_COLUMNS " WHERE d.id = ?");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	store_deployment_row(st, out);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_list(struct store *s, int64_t repo,
    struct store_deployment **out, size_t *n)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;
	int		 error;

	*out = NULL;
	*n = 0;
	st = store_stmt(s, "SELECT " DEPLOYMENT_COLUMNS
	    " WHERE (?1 = 0 OR d.repository_id = ?1) AND d.pull IS NULL"
	    " ORDER BY r.name, d.name");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, repo);
	while ((error = store_step_row(s, st)) == 0) {
		*out = store_grow(*out, *n, &cap, sizeof **out);
		memset(&(*out)[*n], 0, sizeof **out);
		store_deployment_row(st, &(*out)[(*n)++]);
	}
	if (error != -ENOENT) {
		store_deployment_array_free(*out, *n);
		*out = NULL;
		*n = 0;
		return (error);
	}
	return (0);
}

int
store_deployment_set_desired(struct store *s, int64_t id,
    const char *blueprint, const char *environment, const char *commit,
    const char *fingerprint, bool suspended)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE deployments SET blueprint = ?,"
	    " environment = ?, desired_commit = ?, desired_fingerprint = ?,"
	    " suspended = ? WHERE id = ?");
	if (st != NULL) {
		store_bind_text(st, 1, blueprint);
		store_bind_text(st, 2, environment);
		store_bind_text(st, 3, commit);
		store_bind_text(st, 4, fingerprint);
		sqlite3_bind_int(st, 5, suspended);
		sqlite3_bind_int64(st, 6, id);
	}
	return (store_changed(s, store_step_done(s, st)));
}

int
store_deployment_set_applied(struct store *s, int64_t id, const char *commit,
    const char *fingerprint, const char *outputs)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE deployments SET applied_commit = ?,"
	    " applied_fingerprint = ?, outputs = ?, applied_at = ?"
	    " WHERE id = ?");
	if (st != NULL) {
		store_bind_text(st, 1, commit);
		store_bind_text(st, 2, fingerprint);
		store_bind_text(st, 3, outputs);
		sqlite3_bind_int64(st, 4, commit != NULL ? store_now() : 0);
		sqlite3_bind_int64(st, 5, id);
	}
	return (store_changed(s, store_step_done(s, st)));
}

int
store_deployment_set_phase(struct store *s, int64_t id, const char *phase,
    int64_t run, const char *reason, const char *cause)
{
	sqlite3_stmt	*st;
	char		*from = NULL;
	int		 error;

	if (!store_phase_valid(phase))
		return (-EINVAL);
	if ((error = store_begin(s)) != 0)
		return (error);
	st = store_stmt(s, "SELECT phase FROM deployments WHERE id = ?");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, id);
	if ((error = store_step_row(s, st)) != 0)
		return (store_end(s, error));
	from = store_column_text(st, 0);
	sqlite3_reset(st);
	if (from == NULL || strcmp(from, phase) != 0) {
		st = store_stmt(s, "INSERT INTO transitions (deployment_id,"
		    " from_phase, to_phase, run_id, reason, at)"
		    " VALUES (?, ?, ?, ?, ?, ?)");
		if (st != NULL) {
			sqlite3_bind_int64(st, 1, id);
			store_bind_text(st, 2, from);
			store_bind_text(st, 3, phase);
			sqlite3_bind_int64(st, 4, run);
			store_bind_text(st, 5, reason);
			sqlite3_bind_int64(st, 6, store_now());
		}
		error = store_step_done(s, st);
	}
	free(from);
	if (error == 0) {
		st = store_stmt(s, "UPDATE deployments SET phase = ?1,"
		    " cause = ?2, last_run_id = CASE WHEN ?3 > 0 THEN ?3"
		    " ELSE last_run_id END WHERE id = ?4");
		if (st != NULL) {
			store_bind_text(st, 1, phase);
			store_bind_text(st, 2, cause);
			sqlite3_bind_int64(st, 3, run);
			sqlite3_bind_int64(st, 4, id);
		}
		error = store_step_done(s, st);
	}
	return (store_end(s, error));
}

int
store_deployment_set_retry(struct store *s, int64_t id, int failures,
    int64_t retry_at)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "UPDATE deployments SET failures = ?, retry_at = ?"
	    " WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int(st, 1, failures);
		sqlite3_bind_int64(st, 2, retry_at);
		sqlite3_bind_int64(st, 3, id);
	}
	return (store_changed(s, store_step_done(s, st)));
}

static int
store_deployment_set_flag(struct store *s, const char *sql, int64_t id,
    bool on)
{
	sqlite3_stmt	*st;

	if ((st = store_stmt(s, sql)) != NULL) {
		sqlite3_bind_int(st, 1, on);
		sqlite3_bind_int64(st, 2, id);
	}
	return (store_changed(s, store_step_done(s, st)));
}

int
store_deployment_set_operator_suspended(struct store *s, int64_t id, bool on)
{
	return (store_deployment_set_flag(s, "UPDATE deployments"
	    " SET operator_suspended = ? WHERE id = ?", id, on));
}

int
store_deployment_set_destroy_approved(struct store *s, int64_t id, bool on)
{
	return (store_deployment_set_flag(s, "UPDATE deployments"
	    " SET destroy_approved = ? WHERE id = ?", id, on));
}

int
store_deployment_delete(struct store *s, int64_t id)
{
	static const char *const sql[] = {
		"DELETE FROM run_logs WHERE run_id IN"
		" (SELECT id FROM runs WHERE deployment_id = ?)",
		"DELETE FROM runs WHERE deployment_id = ?",
		"DELETE FROM transitions WHERE deployment_id = ?",
		"DELETE FROM deployments WHERE id = ?",
	};
	sqlite3_stmt	*st;
	int64_t		 run;
	size_t		 i;
	int		 error;

	if ((error = store_begin(s)) != 0)
		return (error);
	error = store_run_active(s, id, &run);
	if (error == 0)
		error = -EBUSY;
	else if (error == -ENOENT)
		error = 0;
	for (i = 0; error == 0 && i < sizeof sql / sizeof sql[0]; i++) {
		if ((st = store_stmt(s, sql[i])) != NULL)
			sqlite3_bind_int64(st, 1, id);
		error = store_step_done(s, st);
	}
	return (store_end(s, store_changed(s, error)));
}

/* Transitions. */

int
store_transition_list(struct store *s, int64_t dep,
    struct store_transition **out, size_t *n)
{
	sqlite3_stmt		*st;
	struct store_transition	*t;
	size_t			 cap = 0;
	int			 error;

	*out = NULL;
	*n = 0;
	st = store_stmt(s, "SELECT id, run_id, at, from_phase, to_phase,"
	    " reason FROM transitions WHERE deployment_id = ? ORDER BY id");
	if (st != NULL)
		sqlite3_bind_int64(st, 1, dep);
	while ((error = store_step_row(s, st)) == 0) {
		*out = store_grow(*out, *n, &cap, sizeof **out);
		t = &(*out)[(*n)++];
		t->id = sqlite3_column_int64(st, 0);
		t->run_id = sqlite3_column_int64(st, 1);
		t->at = sqlite3_column_int64(st, 2);
		t->from_phase = store_column_text(st, 3);
		t->to_phase = store_column_text(st, 4);
		t->reason = store_column_text(st, 5);
	}
	if (error != -ENOENT) {
		store_transition_array_free(*out, *n);
		*out = NULL;
		*n = 0;
		return (error);
	}
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

void
store_transition_array_free(struct store_transition *v, size_t n)
{
	size_t	i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_transition_release(&v[i]);
	free(v);
}
