/*
 * When to check a deployment for drift (policy.drift_check): pure
 * arithmetic on times in milliseconds, so that the schedule can be tested
 * without a clock.  The engine asks on every pass; the answer is the same
 * each time for the same deployment and the same last check, so the
 * jitter spreads checks without moving them about.
 */
#ifndef DRIFT_H
#define DRIFT_H

#include <stdint.h>

/* At most this much jitter after the interval, however long it is. */
#define DRIFT_JITTER_MAX_MS	(5 * 60 * 1000)
/* Checks overdue when the daemon starts are spread over at most this. */
#define DRIFT_STARTUP_SPREAD_MS	(60 * 1000)
#define DRIFT_NEVER		INT64_MAX

/* A stable value in [0, span) for (id, base); 0 when span <= 0. */
int64_t	drift_jitter(int64_t id, int64_t base, int64_t span);

/*
 * The time of deployment id's next check: interval seconds after last
 * (its last check or apply, whichever is later), plus a jitter of up to a
 * tenth of the interval (at most DRIFT_JITTER_MAX_MS).  A check that fell
 * due before started (the daemon was not running) comes at started plus
 * a jitter of up to a tenth of the interval (at most
 * DRIFT_STARTUP_SPREAD_MS), so that a restart does not check everything
 * at once.  DRIFT_NEVER when interval is 0 or less.
 */
int64_t	drift_next(int64_t last, long interval, int64_t id, int64_t started);

#endif
