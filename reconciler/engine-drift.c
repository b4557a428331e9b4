/*
 * Drift checks (policy.drift_check): each ready or drifted deployment is
 * planned on its schedule, with trigger "drift".  The pass asks here for
 * every such deployment that is not busy, so a check never overlaps a run
 * on the same deployment; the next check is computed from the store (the
 * last check or apply, whichever is later: drift.h), so the schedule
 * survives a restart.  One timer wakes the engine for the earliest one.
 * What a check finds is handled with the plans in engine-plan.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "drift.h"
#include "engine-int.h"

static void
edrift_fire(evutil_socket_t fd, short events, void *arg)
{
	struct engine	*e = arg;

	(void)fd;
	(void)events;
	e->drift_at = 0;
	engine_kick(e);
}

void
edrift_init(struct engine *e)
{
	e->started = engine_now_ms();
	e->drift_ev = evtimer_new(e->base, edrift_fire, e);
}

void
edrift_free(struct engine *e)
{
	if (e->drift_ev != NULL)
		event_free(e->drift_ev);
	e->drift_ev = NULL;
}

/* Wake the engine at the latest at at. */
static void
edrift_arm(struct engine *e, int64_t at)
{
	int64_t		delay = at - engine_now_ms();
	struct timeval	tv;

	if (e->drift_at != 0 && e->drift_at <= at &&
	    evtimer_pending(e->drift_ev, NULL))
		return;
	if (delay < 0)
		delay = 0;
	e->drift_at = at;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(e->drift_ev, &tv);
}

void
edrift_pass(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, const struct store_deployment *row,
    const char *fp)
{
	struct engine	*e = r->e;
	struct erun	*run;
	int64_t		 checked = 0, last, next, id;

	if (d->policy.drift_check <= 0 || e->stopping || e->drift_ev == NULL)
		return;
	if (strcmp(row->phase, "ready") != 0 &&
	    strcmp(row->phase, "drifted") != 0)
		return;
	store_deployment_drift_checked(e->store, row->id, &checked);
	last = checked > row->applied_at ? checked : row->applied_at;
	next = drift_next(last, d->policy.drift_check, row->id, e->started);
	if (next > engine_now_ms()) {
		edrift_arm(e, next);
		etouch_wake(r, d->name, next);
		return;
	}
	id = erun_queue(r, em, d, row, PROVIDER_PLAN, "drift", fp,
	    "drift check", false);
	if (id > 0 && (run = erun_find(e, id)) != NULL)
		run->purpose = ERUN_DRIFT;
}
