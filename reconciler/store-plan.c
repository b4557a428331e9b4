/*
 * The store's side of approvals and drift checks: what became of each plan
 * made for approval (at most one of a deployment waits), which plan an
 * apply carries out, history lines that change no phase (an approval
 * refused, a plan superseded), and when drift was last checked.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"
#include "xmalloc.h"

bool
store_approval_valid(const char *approval)
{
	static const char *const words[] = { "waiting", "approved",
	    "superseded", "discarded" };
	size_t	i;

	if (approval == NULL)
		return (false);
	for (i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strcmp(approval, words[i]) == 0)
			return (true);
	}
	return (false);
}

/* -ENOENT when a one-row UPDATE found nothing to change. */
static int
store_plan_changed(struct store *s, int error)
{
	if (error == 0 && sqlite3_changes(s->db) == 0)
		return (-ENOENT);
	return (error);
}

int
store_run_set_approval(struct store *s, int64_t run, const char *approval)
{
	sqlite3_stmt	*st;

	if (approval != NULL && !store_approval_valid(approval))
		return (-EINVAL);
	if ((st = store_stmt(s, "UPDATE runs SET approval = ? WHERE id = ?"
	    " AND action = 'plan'")) != NULL) {
		store_bind_text(st, 1, approval);
		sqlite3_bind_int64(st, 2, run);
	}
	return (store_plan_changed(s, store_step_done(s, st)));
}

int
store_run_set_plan(struct store *s, int64_t run, int64_t plan_run)
{
	sqlite3_stmt	*st;

	if ((st = store_stmt(s, "UPDATE runs SET plan_run_id = ?"
	    " WHERE id = ?")) != NULL) {
		sqlite3_bind_int64(st, 1, plan_run);
		sqlite3_bind_int64(st, 2, run);
	}
	return (store_plan_changed(s, store_step_done(s, st)));
}

int
store_plan_waiting(struct store *s, int64_t dep, int64_t *run)
{
	sqlite3_stmt	*st;
	int		 error;

	*run = 0;
	if ((st = store_stmt(s, "SELECT id FROM runs WHERE deployment_id = ?"
	    " AND approval = 'waiting' ORDER BY id DESC LIMIT 1")) != NULL)
		sqlite3_bind_int64(st, 1, dep);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	*run = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

int
store_plan_retire(struct store *s, int64_t dep, int64_t keep,
    const char *approval, size_t *n)
{
	sqlite3_stmt	*st;
	int		 error;

	if (n != NULL)
		*n = 0;
	if (approval == NULL || strcmp(approval, "waiting") == 0 ||
	    !store_approval_valid(approval))
		return (-EINVAL);
	if ((st = store_stmt(s, "UPDATE runs SET approval = ?"
	    " WHERE deployment_id = ? AND approval = 'waiting'"
	    " AND id != ?")) != NULL) {
		store_bind_text(st, 1, approval);
		sqlite3_bind_int64(st, 2, dep);
		sqlite3_bind_int64(st, 3, keep);
	}
	if ((error = store_step_done(s, st)) == 0 && n != NULL)
		*n = (size_t)sqlite3_changes(s->db);
	return (error);
}

int
store_deployment_note(struct store *s, int64_t id, int64_t run,
    const char *reason)
{
	sqlite3_stmt	*st;

	st = store_stmt(s, "INSERT INTO transitions (deployment_id,"
	    " from_phase, to_phase, run_id, reason, at)"
	    " SELECT id, phase, phase, ?, ?, ? FROM deployments WHERE id = ?");
	if (st != NULL) {
		sqlite3_bind_int64(st, 1, run);
		store_bind_text(st, 2, reason);
		sqlite3_bind_int64(st, 3, store_now());
		sqlite3_bind_int64(st, 4, id);
	}
	return (store_plan_changed(s, store_step_done(s, st)));
}

int
store_deployment_drift_checked(struct store *s, int64_t id, int64_t *at)
{
	sqlite3_stmt	*st;
	int		 error;

	*at = 0;
	if ((st = store_stmt(s, "SELECT drift_checked_at FROM deployments"
	    " WHERE id = ?")) != NULL)
		sqlite3_bind_int64(st, 1, id);
	if ((error = store_step_row(s, st)) != 0)
		return (error);
	*at = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (0);
}

int
store_deployment_set_drift_checked(struct store *s, int64_t id, int64_t at)
{
	sqlite3_stmt	*st;

	if ((st = store_stmt(s, "UPDATE deployments SET drift_checked_at = ?"
	    " WHERE id = ?")) != NULL) {
		sqlite3_bind_int64(st, 1, at);
		sqlite3_bind_int64(st, 2, id);
	}
	return (store_plan_changed(s, store_step_done(s, st)));
}
