/*
 * What the next reconcile pass must look at.  A pass used to visit every
 * deployment of the repository and read every row of the store, whatever
 * had happened: at 10,000 deployments most of the time from a commit to
 * its decision, and growing with the repository.  A pass now visits only
 * the deployments something happened to:
 *
 *  - a commit: the deployments the loader did not share with the previous
 *    model (their file, or a blueprint, environment or template, changed:
 *    model.c shares a deployment only when none did), those whose
 *    fingerprint uses git.commit, and, when one left the model, the
 *    removed rows;
 *  - a run's end: its deployment and the ones that need it (their
 *    upstream's outputs and state are what they wait on);
 *  - a deployment becoming ready: the ones that need it;
 *  - an operator's action on a deployment;
 *  - a retry or a drift check falling due (remembered with its time);
 *  - the secrets folder changing, a new configuration, the first pass and
 *    the end of a repository's hold: everything.
 *
 * Visiting a deployment for nothing costs a lookup and changes nothing,
 * so each of these marks errs on the side of more.  A pass over many
 * marked deployments lists the rows at once instead of one by one.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine-int.h"
#include "xmalloc.h"

/* Past this share of the deployments, a pass reads every row at once. */
#define ETOUCH_WHOLE_SHARE	8	/* one in eight */

static void
wake_fire(evutil_socket_t fd, short events, void *arg)
{
	struct engine_repo	*r = arg;

	(void)fd;
	(void)events;
	engine_kick(r->e);
}

void
etouch_init(struct engine_repo *r)
{
	r->whole = true;
	table_init(&r->touched);
	table_init(&r->wake);
	table_init(&r->every_commit);
	r->wake_ev = evtimer_new(r->e->base, wake_fire, r);
}

/* The timer for the earliest visit remembered. */
static void
wake_arm(struct engine_repo *r)
{
	int64_t		delay;
	struct timeval	tv;

	if (r->wake_next == 0 || r->wake_ev == NULL)
		return;
	if (r->wake_armed != 0 && r->wake_armed <= r->wake_next &&
	    evtimer_pending(r->wake_ev, NULL))
		return;
	delay = r->wake_next - engine_now_ms();
	if (delay < 0)
		delay = 0;
	r->wake_armed = r->wake_next;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(r->wake_ev, &tv);
}

void
etouch_release(struct engine_repo *r)
{
	table_release(&r->touched);
	table_clear(&r->wake, free);
	table_release(&r->every_commit);
	if (r->wake_ev != NULL)
		event_free(r->wake_ev);
	r->wake_ev = NULL;
}

/*
 * Who needs each deployment of em, made once per model when first asked:
 * the deployments' needs turned around, as offsets into one array.
 */
static void
rdeps_make(struct emodel *em)
{
	const struct model	*m = em->m;
	size_t			 i, j, n = m->ndeployments, *fill;

	em->rdep_off = xcalloc(n + 1, sizeof *em->rdep_off);
	for (i = 0; i < n; i++)
		for (j = 0; j < m->deployments[i]->nneeds; j++)
			em->rdep_off[m->deployments[i]->needs[j] + 1]++;
	for (i = 0; i < n; i++)
		em->rdep_off[i + 1] += em->rdep_off[i];
	em->rdep = xcalloc(em->rdep_off[n] + 1, sizeof *em->rdep);
	fill = xcalloc(n + 1, sizeof *fill);
	for (i = 0; i < n; i++)
		for (j = 0; j < m->deployments[i]->nneeds; j++) {
			size_t up = m->deployments[i]->needs[j];

			em->rdep[em->rdep_off[up] + fill[up]++] = i;
		}
	free(fill);
}

void
etouch_emodel_free(struct emodel *em)
{
	free(em->rdep_off);
	free(em->rdep);
	em->rdep_off = em->rdep = NULL;
}

static void
touch_one(struct engine_repo *r, const char *name)
{
	if (table_gets(&r->touched, name) == NULL)
		table_puts(&r->touched, name, (void *)1);
}

/* Mark name in r, and with needers the deployments that need it. */
static void
touch_repo(struct engine_repo *r, const char *name, bool self, bool needers)
{
	struct emodel		*em = r->cur;
	size_t			 idx, k;

	if (em == NULL || r->whole)
		return;
	if (!model_deployment_index(em->m, name, &idx)) {
		/* Not (or no longer) declared: a removed row's business. */
		if (self)
			r->removals = true;
		return;
	}
	if (self)
		touch_one(r, name);
	if (!needers)
		return;
	if (em->rdep_off == NULL)
		rdeps_make(em);
	for (k = em->rdep_off[idx]; k < em->rdep_off[idx + 1]; k++)
		touch_one(r, em->m->deployments[em->rdep[k]]->name);
}

void
etouch_run_ended(struct engine_repo *r, const char *name)
{
	touch_repo(r, name, true, true);
	engine_kick(r->e);
}

/*
 * A deployment's phase changed (engine_phase).  The store's row does not
 * say which repository it is in, and names are unique only in one: every
 * repository declaring the name is marked, a harmless visit too many.
 */
void
etouch_phase(struct engine *e, const char *name, const char *phase)
{
	struct engine_repo	*r;

	if (strcmp(phase, "ready") != 0 && strcmp(phase, "drifted") != 0)
		return;
	TAILQ_FOREACH(r, &e->repos, entry)
		touch_repo(r, name, false, true);
	engine_kick(e);
}

void
etouch_name(struct engine *e, const char *name)
{
	struct engine_repo	*r;

	TAILQ_FOREACH(r, &e->repos, entry)
		touch_repo(r, name, true, true);
	engine_kick(e);
}

void
etouch_whole(struct engine *e)
{
	struct engine_repo	*r;

	TAILQ_FOREACH(r, &e->repos, entry)
		r->whole = true;
	engine_kick(e);
}

/*
 * A new model replaces old: mark what it changed, and forget the memo's
 * fingerprints of deployments that changed or left.
 */
void
etouch_update(struct engine_repo *r, const struct emodel *oldem,
    const struct model *new)
{
	const struct model	*old = oldem != NULL ? oldem->m : NULL;
	const struct deployment	*d, *od;
	const char		*k;
	void			*v;
	size_t			 i, kept = 0;

	if (old == NULL) {
		r->whole = true;
		return;
	}
	/* A parse failure held back the prune: the next complete one may. */
	if (!oldem->complete)
		r->removals = true;
	for (i = 0; i < new->ndeployments; i++) {
		d = new->deployments[i];
		od = i < old->ndeployments && old->deployments[i] == d ? d :
		    model_deployment(old, d->name);
		if (od != NULL)
			kept++;
		if (od == d)
			continue;
		engine_memo_forget(r->memo, d->name);
		touch_one(r, d->name);
	}
	if (kept < old->ndeployments) {
		for (i = 0; i < old->ndeployments; i++) {
			od = old->deployments[i];
			if (model_deployment(new, od->name) == NULL)
				engine_memo_forget(r->memo, od->name);
		}
		r->removals = true;
	}
	for (i = 0; table_next(&r->every_commit, &i, &k, &v); )
		if (v != NULL && model_deployment(new, k) != NULL)
			touch_one(r, k);
}

void
etouch_every_commit(struct engine_repo *r, const struct deployment *d)
{
	bool	 on = engine_memo_every_commit(d);

	if (on || table_gets(&r->every_commit, d->name) != NULL)
		table_puts(&r->every_commit, d->name, on ? (void *)1 : NULL);
}

/* Visit name again at at (ms): a retry or a drift check. */
void
etouch_wake(struct engine_repo *r, const char *name, int64_t at)
{
	int64_t	*when = table_gets(&r->wake, name);

	if (when == NULL) {
		when = xmalloc(sizeof *when);
		*when = at;
		table_puts(&r->wake, name, when);
	} else if (at < *when)
		*when = at;
	if (r->wake_next == 0 || at < r->wake_next)
		r->wake_next = at;
	wake_arm(r);
}

/* Mark what fell due by now. */
static void
wake_collect(struct engine_repo *r, int64_t now)
{
	struct table	 keep;
	const char	*k;
	void		*v;
	size_t		 i;
	int64_t		 next = 0, *when;

	if (r->wake_next == 0)
		return;
	if (r->wake_next > now) {
		/* The timer can fire a little before the clock says. */
		wake_arm(r);
		return;
	}
	table_init(&keep);
	for (i = 0; table_next(&r->wake, &i, &k, &v); ) {
		if ((when = v) == NULL)
			continue;
		if (*when <= now) {
			touch_one(r, k);
			free(when);
			continue;
		}
		if (next == 0 || *when < next)
			next = *when;
		table_puts(&keep, k, when);
	}
	table_release(&r->wake);
	r->wake = keep;
	r->wake_next = next;
	wake_arm(r);
}

static int
size_cmp(const void *a, const void *b)
{
	size_t	x = *(const size_t *)a, y = *(const size_t *)b;

	return (x < y ? -1 : x > y);
}

/*
 * What this pass visits: the marked deployments' indices in the model,
 * in its order (the order a pass over all of them had), and the marks
 * taken.  Returns false for a pass over everything (also when so many are
 * marked that one read of all rows is cheaper).
 */
bool
etouch_take(struct engine_repo *r, int64_t now, size_t **out, size_t *n)
{
	const struct model	*m = r->cur->m;
	const char		*k;
	void			*v;
	size_t			 i, idx;

	*out = NULL;
	*n = 0;
	if (!r->whole)
		wake_collect(r, now);
	if (!r->whole && r->touched.count > 0 &&
	    r->touched.count > m->ndeployments / ETOUCH_WHOLE_SHARE &&
	    r->touched.count > 64)
		r->whole = true;
	if (r->whole) {
		r->whole = false;
		r->removals = true;
		table_release(&r->touched);
		table_init(&r->touched);
		table_clear(&r->wake, free);
		r->wake_next = 0;
		return (false);
	}
	*out = xreallocarray(NULL, r->touched.count + 1, sizeof **out);
	for (i = 0; table_next(&r->touched, &i, &k, &v); ) {
		if (model_deployment_index(m, k, &idx))
			(*out)[(*n)++] = idx;
	}
	table_release(&r->touched);
	table_init(&r->touched);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, size_cmp);
	return (true);
}
