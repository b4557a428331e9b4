/*
 * The drift check schedule (reconciler/drift.c): interval after the last
 * check or apply, a jitter within its bounds that stays the same when
 * asked again, and checks overdue at start spread instead of bunched.
 */
#include "config.h"

#include <stdint.h>

#include "testutil.h"
#include "drift.h"

#define T0	1764612000000LL		/* 2025-12-01T18:00:00Z */

static void
test_off(void **state)
{
	(void)state;
	assert_true(drift_next(T0, 0, 1, T0) == DRIFT_NEVER);
	assert_true(drift_next(T0, -1, 1, T0) == DRIFT_NEVER);
}

static void
test_interval_and_jitter(void **state)
{
	int64_t	id, next, min = INT64_MAX, max = 0;

	(void)state;
	for (id = 1; id <= 1000; id++) {
		next = drift_next(T0, 3600, id, T0 - 1000);
		/* An hour after the last check, then up to six minutes... */
		assert_true(next >= T0 + 3600 * 1000LL);
		/* ...but never more than DRIFT_JITTER_MAX_MS. */
		assert_true(next < T0 + 3600 * 1000LL + DRIFT_JITTER_MAX_MS);
		if (next < min)
			min = next;
		if (next > max)
			max = next;
	}
	/* Spread over most of the jitter, not all at one time. */
	assert_true(max - min > DRIFT_JITTER_MAX_MS / 2);

	/* Short intervals: a tenth of the interval at most. */
	for (id = 1; id <= 100; id++) {
		next = drift_next(T0, 2, id, T0 - 1000);
		assert_true(next >= T0 + 2000 && next < T0 + 2200);
	}
}

static void
test_stable(void **state)
{
	(void)state;
	/* The pass asks on every run end: the same answer each time. */
	assert_true(drift_next(T0, 600, 42, T0) ==
	    drift_next(T0, 600, 42, T0));
	assert_true(drift_jitter(42, T0, 60000) == drift_jitter(42, T0, 60000));
	/* A later check moves it. */
	assert_true(drift_next(T0 + 5000, 600, 42, T0) >=
	    T0 + 5000 + 600 * 1000LL);
	assert_int_equal(drift_jitter(1, T0, 0), 0);
	assert_int_equal(drift_jitter(1, T0, -5), 0);
	assert_true(drift_jitter(7, T0, 1) == 0);
}

static void
test_overdue_at_start(void **state)
{
	int64_t	started = T0 + 86400 * 1000LL, id, next, min = INT64_MAX,
		max = 0;

	(void)state;
	/* Last checked a day before the daemon started, every 30 minutes. */
	for (id = 1; id <= 500; id++) {
		next = drift_next(T0, 1800, id, started);
		assert_true(next >= started);
		assert_true(next < started + DRIFT_STARTUP_SPREAD_MS);
		if (next < min)
			min = next;
		if (next > max)
			max = next;
	}
	assert_true(max - min > DRIFT_STARTUP_SPREAD_MS / 2);
	/* Never checked nor applied: due soon after the start too. */
	next = drift_next(0, 1800, 3, started);
	assert_true(next >= started &&
	    next < started + DRIFT_STARTUP_SPREAD_MS);
	/* Not yet due at start: its own time, not the start's. */
	next = drift_next(started - 1000, 1800, 3, started);
	assert_true(next >= started - 1000 + 1800 * 1000LL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off),
		cmocka_unit_test(test_interval_and_jitter),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_overdue_at_start),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
