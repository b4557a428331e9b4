/*
 * Unit tests of the forge outbox on a real SQLite file: rows written only
 * on change, older undelivered values superseded, rows joining (and
 * rolling back with) the caller's transaction, a comment's remote id
 * carried to its successors, retries and abandon, and delivery exactly
 * once across a closed and reopened store.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "store.h"
#include "testutil-store.h"
#include "xmalloc.h"

#define SHA	"a6e5e7d797edf751cbd839d6bd4aef86c941eec9"
#define SHA2	"18f3e63d05582537db6d183d9d557be09e1f90c8"

static size_t
count_due(struct tu_store *f)
{
	struct outbox_item	*v;
	size_t			 n;

	assert_int_equal(outbox_due(f->s, 0, INT64_MAX, 0, &v, &n), 0);
	outbox_item_array_free(v, n);
	return (n);
}

static void
test_only_on_change(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	struct outbox_row	*h;
	size_t			 n;

	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	/* The same value again: nothing new. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(count_due(f), 1);

	/* Delivered, then wanted again unchanged: still nothing to send. */
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kind, OUTBOX_STATUS);
	assert_string_equal(v[0].key, SHA "/cloudsphere/web");
	assert_string_equal(v[0].sha, SHA);
	assert_string_equal(v[0].context, "cloudsphere/web");
	assert_int_equal(v[0].state, OUTBOX_PENDING);
	assert_string_equal(v[0].description, "applying");
	assert_null(v[0].target_url);
	assert_int_equal(outbox_delivered(f->s, v[0].id, NULL), 0);
	outbox_item_array_free(v, n);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(count_due(f), 0);

	/* Any field that changes makes a new row: state, text, URL. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", "http://x/runs/1"), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, NULL, "http://x/runs/1"), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, NULL, "http://x/runs/1"), 0);
	assert_int_equal(outbox_history(f->s, f->repo, OUTBOX_STATUS,
	    SHA "/cloudsphere/web", &h, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(h[0].status, "delivered");
	assert_string_equal(h[1].status, "superseded");
	assert_string_equal(h[2].status, "superseded");
	assert_string_equal(h[3].status, "due");
	outbox_row_array_free(h, n);

	/* Other keys are other rows. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA2, "cloudsphere/web",
	    OUTBOX_SUCCESS, NULL, "http://x/runs/1"), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/db",
	    OUTBOX_SUCCESS, NULL, "http://x/runs/1"), 0);
	assert_int_equal(count_due(f), 3);

	/* Comments: the same body is no change. */
	assert_int_equal(outbox_comment(f->s, f->repo, 7, "plan: 1 to add"),
	    0);
	assert_int_equal(outbox_comment(f->s, f->repo, 7, "plan: 1 to add"),
	    0);
	assert_int_equal(count_due(f), 4);
}

static void
test_invalid(void **state)
{
	struct tu_store	*f = *state;

	assert_int_equal(outbox_status(f->s, f->repo, NULL, "c",
	    OUTBOX_PENDING, NULL, NULL), -EINVAL);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "",
	    OUTBOX_PENDING, NULL, NULL), -EINVAL);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "c",
	    (enum outbox_state)9, NULL, NULL), -EINVAL);
	assert_int_equal(outbox_comment(f->s, f->repo, 0, "x"), -EINVAL);
	assert_int_equal(outbox_comment(f->s, f->repo, 3, NULL), -EINVAL);
	/* No such repository: the foreign key refuses it. */
	assert_int_not_equal(outbox_status(f->s, 999, SHA, "c",
	    OUTBOX_PENDING, NULL, NULL), 0);
	assert_int_equal(count_due(f), 0);
	assert_string_equal(outbox_state_name(OUTBOX_FAILURE), "failure");
	assert_null(outbox_state_name((enum outbox_state)4));
}

static void
test_supersede(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	size_t			 n;

	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "queued", NULL), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_FAILURE, "apply failed: exited 1", NULL), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, OUTBOX_FAILURE);
	assert_string_equal(v[0].description, "apply failed: exited 1");
	outbox_item_array_free(v, n);

	/* Going back to a superseded value is a change: it is sent. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, OUTBOX_PENDING);
	outbox_item_array_free(v, n);
}

/* What the caller rolls back leaves no row, and no "last value". */
static void
test_transaction(void **state)
{
	struct tu_store	*f = *state;

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(outbox_comment(f->s, f->repo, 3, "body"), 0);
	assert_int_equal(store_rollback(f->s), 0);
	assert_int_equal(count_due(f), 0);

	assert_int_equal(store_begin(f->s), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(store_commit(f->s), 0);
	assert_int_equal(count_due(f), 1);
}

static void
test_comment_remote_id(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	struct outbox_row	*h;
	size_t			 n;
	int64_t			 first;

	assert_int_equal(outbox_comment(f->s, f->repo, 12, "one"), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].kind, OUTBOX_COMMENT);
	assert_int_equal(v[0].pull, 12);
	assert_string_equal(v[0].key, "pull/12");
	assert_string_equal(v[0].body, "one");
	assert_null(v[0].remote_id);
	first = v[0].id;
	outbox_item_array_free(v, n);

	/* Superseded while its create is in flight... */
	assert_int_equal(outbox_comment(f->s, f->repo, 12, "two"), 0);
	/* ...the create's answer still gives the key its id. */
	assert_int_equal(outbox_delivered(f->s, first, "301"), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].body, "two");
	assert_string_equal(v[0].remote_id, "301");
	assert_int_equal(outbox_delivered(f->s, v[0].id, NULL), 0);
	outbox_item_array_free(v, n);

	assert_int_equal(outbox_history(f->s, f->repo, OUTBOX_COMMENT,
	    "pull/12", &h, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(h[0].status, "delivered");
	assert_string_equal(h[1].status, "delivered");
	assert_string_equal(h[1].remote_id, "301");
	assert_true(h[1].delivered_at > 0);
	outbox_row_array_free(h, n);

	/* The comment was deleted on the forge: the next one creates. */
	assert_int_equal(outbox_comment(f->s, f->repo, 12, "three"), 0);
	assert_int_equal(outbox_forget_remote(f->s, f->repo, OUTBOX_COMMENT,
	    "pull/12"), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_null(v[0].remote_id);
	outbox_item_array_free(v, n);

	/* Another pull request has its own comment. */
	assert_int_equal(outbox_comment(f->s, f->repo, 13, "one"), 0);
	assert_int_equal(count_due(f), 2);
}

static void
test_retry_and_abandon(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	struct outbox_row	*h;
	size_t			 n;
	int64_t			 now = store_now(), at;

	assert_int_equal(outbox_next_due(f->s, 0, &at), -ENOENT);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL), 0);
	assert_int_equal(outbox_status(f->s, f->repo, SHA2, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL), 0);
	assert_int_equal(outbox_due(f->s, 0, now + 1000, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].sha, SHA);	/* oldest first */
	assert_int_equal(outbox_failed(f->s, v[0].id, 1, now + 60000,
	    "HTTP 500"), 0);
	assert_int_equal(outbox_abandon(f->s, v[1].id,
	    "HTTP 422: Validation Failed"), 0);
	outbox_item_array_free(v, n);

	/* Not due before its time; due after it, with its attempts. */
	assert_int_equal(count_due(f) , 1);
	assert_int_equal(outbox_due(f->s, 0, now + 59000, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(outbox_next_due(f->s, 0, &at), 0);
	assert_int_equal(at, now + 60000);
	assert_int_equal(outbox_due(f->s, f->repo, now + 60000, 1, &v, &n),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].attempts, 1);
	outbox_item_array_free(v, n);
	assert_int_equal(outbox_due(f->s, f->repo + 1, now + 60000, 0, &v,
	    &n), 0);
	assert_int_equal(n, 0);
	free(v);

	assert_int_equal(outbox_history(f->s, f->repo, OUTBOX_STATUS,
	    SHA2 "/cloudsphere/web", &h, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].status, "abandoned");
	assert_string_equal(h[0].last_error, "HTTP 422: Validation Failed");
	outbox_row_array_free(h, n);
	/* Abandoned is final: the same value is not wanted again. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA2, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL), 0);
	assert_int_equal(count_due(f), 1);
	assert_int_equal(outbox_delivered(f->s, 9999, NULL), -ENOENT);
}

/*
 * The store is closed (a daemon restart) with rows due, delivered and in
 * retry: after reopening, each due row comes back once, delivered ones
 * never, and the last wanted values still suppress repeats.
 */
static void
test_exactly_once_across_reopen(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	size_t			 n, i;
	int			 delivered = 0;
	char			 ctx[32];

	for (i = 0; i < 5; i++) {
		snprintf(ctx, sizeof ctx, "cloudsphere/d%zu", i);
		assert_int_equal(outbox_status(f->s, f->repo, SHA, ctx,
		    OUTBOX_PENDING, "applying", NULL), 0);
	}
	assert_int_equal(outbox_due(f->s, 0, store_now(), 2, &v, &n), 0);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_int_equal(outbox_delivered(f->s, v[i].id, NULL), 0);
	delivered += (int)n;
	outbox_item_array_free(v, n);

	tu_store_reopen(f);
	for (i = 0; i < 5; i++) {
		snprintf(ctx, sizeof ctx, "cloudsphere/d%zu", i);
		assert_int_equal(outbox_status(f->s, f->repo, SHA, ctx,
		    OUTBOX_PENDING, "applying", NULL), 0);
	}
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_string_not_equal(v[i].context, "cloudsphere/d0");
		assert_string_not_equal(v[i].context, "cloudsphere/d1");
		assert_int_equal(outbox_delivered(f->s, v[i].id, NULL), 0);
	}
	delivered += (int)n;
	outbox_item_array_free(v, n);
	assert_int_equal(delivered, 5);

	tu_store_reopen(f);
	assert_int_equal(count_due(f), 0);
	assert_int_equal(store_version(f->s), STORE_SCHEMA_VERSION);
}

static void
test_prune(void **state)
{
	struct tu_store		*f = *state;
	struct outbox_item	*v;
	struct outbox_row	*h;
	size_t			 n, i;

	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	for (i = 0; i < n; i++)
		outbox_delivered(f->s, v[i].id, NULL);
	outbox_item_array_free(v, n);
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL), 0);
	assert_int_equal(outbox_due(f->s, 0, store_now(), 0, &v, &n), 0);
	for (i = 0; i < n; i++)
		outbox_delivered(f->s, v[i].id, NULL);
	outbox_item_array_free(v, n);
	assert_int_equal(outbox_status(f->s, f->repo, SHA2, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", NULL), 0);

	assert_int_equal(outbox_prune(f->s, store_now() + 1), 0);
	assert_int_equal(outbox_history(f->s, f->repo, OUTBOX_STATUS,
	    SHA "/cloudsphere/web", &h, &n), 0);
	assert_int_equal(n, 1);		/* the newest stays */
	assert_string_equal(h[0].status, "delivered");
	outbox_row_array_free(h, n);
	assert_int_equal(count_due(f), 1);	/* due rows stay */
	/* And it still suppresses the same value. */
	assert_int_equal(outbox_status(f->s, f->repo, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL), 0);
	assert_int_equal(count_due(f), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_STORE_TEST(test_only_on_change),
		TU_STORE_TEST(test_invalid),
		TU_STORE_TEST(test_supersede),
		TU_STORE_TEST(test_transaction),
		TU_STORE_TEST(test_comment_remote_id),
		TU_STORE_TEST(test_retry_and_abandon),
		TU_STORE_TEST(test_exactly_once_across_reopen),
		TU_STORE_TEST(test_prune),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
