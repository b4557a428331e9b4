/*
 * Unit tests of the store's approvals and drift checks (store-plan.c), on
 * a real SQLite file: a plan's approval words, the one waiting plan of a
 * deployment, retiring the others, the plan an apply carries out, history
 * lines without a change of phase, and the last drift check; and a file
 * of schema 3 migrated with its runs.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil-store.h"
#include "xmalloc.h"

static int64_t
plan_run(struct tu_store *f, const char *action)
{
	int64_t	id;

	assert_int_equal(store_run_insert(f->s, f->dep, action, "poll",
	    "0123456789012345678901234567890123456789", "fp", &id), 0);
	assert_int_equal(store_run_finish(f->s, id, "succeeded", 2,
	    "changes", NULL), 0);
	return (id);
}

static char *
approval(struct tu_store *f, int64_t id)
{
	struct store_run	 r;
	char			*a;

	assert_int_equal(store_run_get(f->s, id, &r), 0);
	a = r.approval != NULL ? xstrdup(r.approval) : NULL;
	store_run_release(&r);
	return (a);
}

static void
assert_approval(struct tu_store *f, int64_t id, const char *want)
{
	char	*a = approval(f, id);

	if (want == NULL)
		assert_null(a);
	else
		assert_string_equal(a, want);
	free(a);
}

static void
test_words(void **state)
{
	struct tu_store	*f = *state;
	int64_t		 p = plan_run(f, "plan"), a = plan_run(f, "apply");

	assert_true(store_approval_valid("waiting"));
	assert_true(store_approval_valid("discarded"));
	assert_false(store_approval_valid("maybe"));
	assert_false(store_approval_valid(NULL));
	assert_approval(f, p, NULL);
	assert_int_equal(store_run_set_approval(f->s, p, "maybe"), -EINVAL);
	assert_int_equal(store_run_set_approval(f->s, p, "waiting"), 0);
	assert_approval(f, p, "waiting");
	/* Only plans wait for approval. */
	assert_int_equal(store_run_set_approval(f->s, a, "waiting"), -ENOENT);
	assert_int_equal(store_run_set_approval(f->s, 9999, "waiting"),
	    -ENOENT);
	assert_int_equal(store_run_set_approval(f->s, p, NULL), 0);
	assert_approval(f, p, NULL);
}

static void
test_waiting_and_retire(void **state)
{
	struct tu_store	*f = *state;
	int64_t		 p1, p2, other, id;
	size_t		 n;

	assert_int_equal(store_plan_waiting(f->s, f->dep, &id), -ENOENT);
	assert_int_equal(id, 0);
	p1 = plan_run(f, "plan");
	p2 = plan_run(f, "plan");
	assert_int_equal(store_run_set_approval(f->s, p1, "waiting"), 0);
	assert_int_equal(store_run_set_approval(f->s, p2, "waiting"), 0);
	assert_int_equal(store_plan_waiting(f->s, f->dep, &id), 0);
	assert_int_equal(id, p2);	/* the newest */

	/* Another deployment's plans are not touched. */
	assert_int_equal(store_deployment_ensure(f->s, f->repo, "db", &other),
	    0);
	assert_int_equal(store_run_insert(f->s, other, "plan", "poll", NULL,
	    NULL, &id), 0);
	assert_int_equal(store_run_set_approval(f->s, id, "waiting"), 0);

	assert_int_equal(store_plan_retire(f->s, f->dep, p2, "superseded",
	    &n), 0);
	assert_int_equal(n, 1);
	assert_approval(f, p1, "superseded");
	assert_approval(f, p2, "waiting");
	assert_int_equal(store_plan_retire(f->s, f->dep, 0, "discarded", &n),
	    0);
	assert_int_equal(n, 1);
	assert_approval(f, p2, "discarded");
	assert_approval(f, p1, "superseded");
	assert_int_equal(store_plan_waiting(f->s, f->dep, &id), -ENOENT);
	assert_int_equal(store_plan_waiting(f->s, other, &id), 0);
	/* "waiting" is not an end. */
	assert_int_equal(store_plan_retire(f->s, f->dep, 0, "waiting", &n),
	    -EINVAL);
	assert_int_equal(store_plan_retire(f->s, f->dep, 0, NULL, NULL),
	    -EINVAL);
}

static void
test_apply_of_plan(void **state)
{
	struct tu_store		*f = *state;
	struct store_run	 r;
	int64_t			 p = plan_run(f, "plan"), a;

	assert_int_equal(store_run_insert(f->s, f->dep, "apply", "cli", NULL,
	    "fp", &a), 0);
	assert_int_equal(store_run_get(f->s, a, &r), 0);
	assert_int_equal(r.plan_run_id, 0);
	store_run_release(&r);
	assert_int_equal(store_run_set_plan(f->s, a, p), 0);
	assert_int_equal(store_run_get(f->s, a, &r), 0);
	assert_int_equal(r.plan_run_id, p);
	store_run_release(&r);
	assert_int_equal(store_run_set_plan(f->s, 9999, p), -ENOENT);
}

static void
test_note(void **state)
{
	struct tu_store		*f = *state;
	struct store_transition	*t;
	size_t			 n;

	assert_int_equal(store_deployment_set_phase(f->s, f->dep, "planned",
	    0, "plan 1 waits", NULL), 0);
	assert_int_equal(store_deployment_note(f->s, f->dep, 7,
	    "approval of run 7 refused: stale"), 0);
	assert_int_equal(store_transition_list(f->s, f->dep, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[1].from_phase, "planned");
	assert_string_equal(t[1].to_phase, "planned");
	assert_int_equal(t[1].run_id, 7);
	assert_string_equal(t[1].reason, "approval of run 7 refused: stale");
	store_transition_array_free(t, n);
	assert_int_equal(store_deployment_note(f->s, 9999, 0, "x"), -ENOENT);
}

static void
test_drift_checked(void **state)
{
	struct tu_store	*f = *state;
	int64_t		 at = -1;

	assert_int_equal(store_deployment_drift_checked(f->s, f->dep, &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(store_deployment_set_drift_checked(f->s, f->dep,
	    1764612000123LL), 0);
	assert_int_equal(store_deployment_drift_checked(f->s, f->dep, &at), 0);
	assert_true(at == 1764612000123LL);
	assert_int_equal(store_deployment_drift_checked(f->s, 9999, &at),
	    -ENOENT);
	assert_int_equal(store_deployment_set_drift_checked(f->s, 9999, 1),
	    -ENOENT);
}

/* A file of schema 3 keeps its runs, which wait for nothing. */
static void
test_migrate_from_3(void **state)
{
	struct tu_store		*f = *state;
	struct store_run	 r;
	struct store		*s;
	char			*cause = NULL;
	int64_t			 id = plan_run(f, "plan"), at = -1;

	store_close(f->s);
	f->s = NULL;
	/* Back to schema 3: what the later migrations added goes. */
	tu_db_exec_file(f->path,
	    "DROP TABLE outbox_remote;"
	    "DROP TABLE outbox;"
	    "DROP TABLE ledger_marks;"
	    "DROP INDEX runs_waiting;"
	    "ALTER TABLE runs DROP COLUMN approval;"
	    "ALTER TABLE runs DROP COLUMN plan_run_id;"
	    "ALTER TABLE deployments DROP COLUMN drift_checked_at;"
	    "ALTER TABLE runs DROP COLUMN pull;"
	    "ALTER TABLE deployments DROP COLUMN pull;"
	    "PRAGMA user_version = 3;");
	if (store_open(&s, f->path, &cause) != 0)
		fail_msg("store_open: %s", cause);
	f->s = s;
	assert_int_equal(store_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_run_get(s, id, &r), 0);
	assert_null(r.approval);
	assert_int_equal(r.plan_run_id, 0);
	assert_string_equal(r.state, "succeeded");
	store_run_release(&r);
	assert_int_equal(store_deployment_drift_checked(s, f->dep, &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(store_plan_waiting(s, f->dep, &id), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_STORE_TEST_WEB(test_words),
		TU_STORE_TEST_WEB(test_waiting_and_retire),
		TU_STORE_TEST_WEB(test_apply_of_plan),
		TU_STORE_TEST_WEB(test_note),
		TU_STORE_TEST_WEB(test_drift_checked),
		TU_STORE_TEST_WEB(test_migrate_from_3),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
