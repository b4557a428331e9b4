/*
 * The reconcile engine: desired state (a model) against recorded state
 * (the store), and the run queue.
 *
 * A reconcile pass is cheap to ask for and runs once per loop iteration
 * however often it was asked: after a new model, after a run ends, at a
 * retry time, after an operator action.  Each pass walks the model in
 * order; a deployment whose upstream deployments are not all ready waits,
 * and is looked at again when one of them finishes, so dependency order
 * falls out of the passes.  Removed deployments are destroyed (prune on)
 * dependents first, or left orphaned (prune off).
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "compat.h"
#include "engine-int.h"
#include "secrets.h"
#include "table.h"
#include "xmalloc.h"

static void	engine_pass(evutil_socket_t, short, void *);

int64_t
engine_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

struct engine *
engine_new(struct event_base *base, struct store *store,
    const struct engine_config *cfg, const unsigned char *key, size_t keylen)
{
	struct engine	*e = xcalloc(1, sizeof *e);

	e->base = base;
	e->store = store;
	TAILQ_INIT(&e->repos);
	TAILQ_INIT(&e->runs);
	table_init(&e->busy);
	e->key = xmalloc(keylen);
	memcpy(e->key, key, keylen);
	e->keylen = keylen;
	engine_set_config(e, cfg);
	e->pass_ev = event_new(base, -1, 0, engine_pass, e);
	edrift_init(e);
	return (e);
}

void
engine_set_config(struct engine *e, const struct engine_config *cfg)
{
	free(e->state_dir);
	free(e->secrets_dir);
	free(e->credentials_dir);
	e->cfg = *cfg;
	e->state_dir = xstrdup(cfg->state_dir);
	e->secrets_dir = cfg->secrets_dir != NULL ?
	    xstrdup(cfg->secrets_dir) : NULL;
	e->cfg.state_dir = e->state_dir;
	e->cfg.secrets_dir = e->secrets_dir;
	e->credentials_dir = cfg->credentials_dir != NULL ?
	    xstrdup(cfg->credentials_dir) : NULL;
	e->cfg.credentials_dir = e->credentials_dir;
	if (e->cfg.max_parallel_runs < 1)
		e->cfg.max_parallel_runs = 1;
	etouch_whole(e);
}

static void
emodel_unref(struct emodel *em)
{
	if (em == NULL || --em->nref > 0)
		return;
	em->repo->release(em->m, em->repo->release_arg);
	etouch_emodel_free(em);
	free(em->commit);
	free(em);
}

struct emodel *
emodel_ref(struct emodel *em)
{
	em->nref++;
	return (em);
}

void
engine_emodel_unref(struct emodel *em)
{
	emodel_unref(em);
}

void
engine_free(struct engine *e)
{
	struct engine_repo	*r;
	struct erun		*run;

	if (e == NULL)
		return;
	while ((run = TAILQ_FIRST(&e->runs)) != NULL)
		erun_free(run);
	while ((r = TAILQ_FIRST(&e->repos)) != NULL) {
		TAILQ_REMOVE(&e->repos, r, entry);
		emodel_unref(r->cur);
		emodel_unref(r->prev);
		if (r->retry_ev != NULL)
			event_free(r->retry_ev);
		engine_memo_free(r->memo);
		etouch_release(r);
		free(r->name);
		free(r->mirror_dir);
		free(r->trigger);
		free(r);
	}
	if (e->pass_ev != NULL)
		event_free(e->pass_ev);
	if (e->stop_ev != NULL)
		event_free(e->stop_ev);
	edrift_free(e);
	table_release(&e->busy);
	explicit_bzero(e->key, e->keylen);
	free(e->key);
	free(e->state_dir);
	free(e->secrets_dir);
	free(e->credentials_dir);
	free(e);
}

void
engine_set_log_hook(struct engine *e, engine_log_cb cb, void *arg)
{
	e->log_cb = cb;
	e->log_arg = arg;
}

/* Ask for a reconcile pass over every repository. */
void
engine_kick(struct engine *e)
{
	if (e->pass_ev != NULL && !e->stopping)
		event_active(e->pass_ev, 0, 0);
}

static void
engine_retry_fire(evutil_socket_t fd, short events, void *arg)
{
	struct engine_repo	*r = arg;

	(void)fd;
	(void)events;
	free(r->trigger);
	r->trigger = xstrdup("retry");
	engine_kick(r->e);
}

struct engine_repo *
engine_repo_add(struct engine *e, const char *name, int64_t store_id,
    const char *mirror_dir, engine_release_cb release, void *arg)
{
	struct engine_repo	*r = xcalloc(1, sizeof *r);

	r->e = e;
	r->name = xstrdup(name);
	r->store_id = store_id;
	r->mirror_dir = xstrdup(mirror_dir);
	r->release = release;
	r->release_arg = arg;
	r->trigger = xstrdup("startup");
	r->retry_ev = evtimer_new(e->base, engine_retry_fire, r);
	r->held = true;
	r->memo = engine_memo_new();
	etouch_init(r);
	TAILQ_INSERT_TAIL(&e->repos, r, entry);
	return (r);
}

void
engine_repo_release_hold(struct engine_repo *r)
{
	if (!r->held)
		return;
	r->held = false;
	r->whole = true;
	engine_kick(r->e);
}

struct engine_repo *
engine_repo_find(struct engine *e, const char *name)
{
	struct engine_repo	*r;

	TAILQ_FOREACH(r, &e->repos, entry) {
		if (strcmp(r->name, name) == 0)
			return (r);
	}
	return (NULL);
}

/* The model could not be read whole: a top folder is missing or broken. */
static bool
model_complete(const struct model *m)
{
	size_t	i;

	for (i = 0; i < m->diags.n; i++) {
		const char *f = m->diags.v[i].file;

		if (strchr(f, '/') == NULL ||
		    strncmp(m->diags.v[i].message, "more than ", 10) == 0)
			return (false);
	}
	return (true);
}

void
engine_update(struct engine_repo *r, struct model *m, const char *commit,
    const char *trigger)
{
	struct emodel	*em = xcalloc(1, sizeof *em);
	struct erun	*run, *next;

	em->m = m;
	em->commit = xstrdup(commit);
	em->nref = 1;
	em->repo = r;
	em->complete = model_complete(m);
	etouch_update(r, r->cur, m);
	/*
	 * The previous model is kept: removed deployments are found, with
	 * their policy and blueprint, in it.
	 */
	engine_memo_rotate(r->memo, r->cur != NULL ? r->cur->m : NULL);
	emodel_unref(r->prev);
	r->prev = r->cur;
	r->cur = em;
	free(r->trigger);
	r->trigger = xstrdup(trigger);
	store_repository_set_commit(r->e->store, r->store_id, commit, NULL);

	/* Runs queued for an older commit are superseded. */
	TAILQ_FOREACH_SAFE(run, &r->e->runs, entry, next) {
		if (run->repo == r && run->state == ERUN_QUEUED &&
		    run->em != em && !run->operator && run->pull == 0)
			erun_abandon(run, "cancelled",
			    "superseded by a newer commit");
	}
	engine_kick(r->e);
}

/*
 * Store rows of a repository by deployment name: listed all at once for a
 * pass over every deployment, else read one by one as they are asked for.
 */
struct rows {
	struct engine		*e;
	int64_t			 repo_id;
	bool			 listed;
	struct store_deployment	*all;
	size_t			 nall;
	struct store_deployment	**one;		/* read by name */
	size_t			 none;
	struct table		 by_name;
};

/* Marks a name the store has no row for. */
static struct store_deployment	rows_absent;

static void
rows_init(struct rows *rows, struct engine *e, struct engine_repo *r)
{
	memset(rows, 0, sizeof *rows);
	rows->e = e;
	rows->repo_id = r->store_id;
	table_init(&rows->by_name);
}

static void
rows_list(struct rows *rows)
{
	size_t	i;

	rows->listed = true;
	if (store_deployment_list(rows->e->store, rows->repo_id, &rows->all,
	    &rows->nall) != 0)
		return;
	for (i = 0; i < rows->nall; i++)
		table_puts(&rows->by_name, rows->all[i].name, &rows->all[i]);
}

static void
rows_release(struct rows *rows)
{
	size_t	i;

	for (i = 0; i < rows->nall; i++)
		store_deployment_release(&rows->all[i]);
	free(rows->all);
	for (i = 0; i < rows->none; i++) {
		store_deployment_release(rows->one[i]);
		free(rows->one[i]);
	}
	free(rows->one);
	table_release(&rows->by_name);
}

/* Read name's row now (a row just made, or one not listed). */
static struct store_deployment *
rows_fetch(struct rows *rows, const char *name)
{
	struct store_deployment	*row = xcalloc(1, sizeof *row);

	if (store_deployment_get(rows->e->store, rows->repo_id, name,
	    row) != 0) {
		free(row);
		table_puts(&rows->by_name, name, &rows_absent);
		return (NULL);
	}
	rows->one = xreallocarray(rows->one, rows->none + 1,
	    sizeof *rows->one);
	rows->one[rows->none++] = row;
	table_puts(&rows->by_name, name, row);
	return (row);
}

static struct store_deployment *
rows_get(struct rows *rows, const char *name)
{
	struct store_deployment	*row = table_gets(&rows->by_name, name);

	if (row == &rows_absent)
		return (NULL);
	if (row != NULL || rows->listed)
		return (row);
	return (rows_fetch(rows, name));
}

/* Resolver callbacks: secrets from the host, outputs from the store. */
struct resolve_ctx {
	struct engine	*e;
	struct rows	*rows;
};

/* secrets_dir first, then systemd's credentials (secrets.h). */
int
engine_secret(void *arg, const char *name, char **value, char **cause)
{
	struct engine	*e = arg;

	return (secrets_lookup(e->secrets_dir, e->credentials_dir, name,
	    value, cause));
}

static int
resolve_secret(void *arg, const char *name, char **value, char **cause)
{
	return (engine_secret(((struct resolve_ctx *)arg)->e, name, value,
	    cause));
}

/*
 * A sensitive output ("***" in the store) counts in a fingerprint as a
 * keyed hash of its value, like a secret input: a new value applies the
 * deployments that use it again, and the stored fingerprint reveals
 * nothing.
 */
static json_t *
resolve_sensitive(struct engine *e, const struct store_deployment *row,
    const char *output, json_t *stored)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0, i;
	char		*dir, **secrets = NULL, *dump, hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t		 nsecrets = 0, k;
	json_t		*v;

	if (row->repository == NULL)
		return (stored);
	dir = xasprintf("%s/deployments/%s/%s", e->state_dir, row->repository,
	    row->name);
	v = runner_sensitive_output(dir, output, &secrets, &nsecrets);
	free(dir);
	for (k = 0; k < nsecrets; k++) {
		explicit_bzero(secrets[k], strlen(secrets[k]));
		free(secrets[k]);
	}
	free(secrets);
	if (v == NULL)
		return (stored);
	dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(v);
	if (dump == NULL)
		return (stored);
	HMAC(EVP_sha256(), e->key, (int)e->keylen, (unsigned char *)dump,
	    strlen(dump), mac, &maclen);
	explicit_bzero(dump, strlen(dump));
	free(dump);
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	json_decref(stored);
	return (json_pack("{ss}", "$sensitive-output", hex));
}

/* An applied deployment's output as a fingerprint or a run sees it. */
json_t *
engine_output(struct engine *e, const struct store_deployment *row,
    const char *output)
{
	json_t	*all, *v;

	if (row == NULL || row->outputs == NULL ||
	    row->applied_fingerprint == NULL)
		return (NULL);
	if ((all = json_loads(row->outputs, 0, NULL)) == NULL)
		return (NULL);
	v = json_object_get(all, output);
	if (v != NULL)
		json_incref(v);
	json_decref(all);
	if (json_is_string(v) &&
	    strcmp(json_string_value(v), RUNNER_REDACTED) == 0)
		v = resolve_sensitive(e, row, output, v);
	return (v);
}

static json_t *
resolve_output(void *arg, const char *dep, const char *output)
{
	struct resolve_ctx	*c = arg;

	return (engine_output(c->e, rows_get(c->rows, dep), output));
}

/*
 * Whether a run of the deployment is queued or running.  Asked for every
 * deployment of every pass: a lookup, not a walk of the run queue (a first
 * load queues a run per deployment, and the walk made it quadratic).
 */
bool
engine_busy(struct engine *e, int64_t dep_id)
{
	return (table_get(&e->busy, &dep_id, sizeof dep_id) != NULL);
}

void
engine_busy_add(struct engine *e, int64_t dep_id, int delta)
{
	uintptr_t	n;

	n = (uintptr_t)table_get(&e->busy, &dep_id, sizeof dep_id);
	n = (uintptr_t)((intptr_t)n + delta);
	table_put(&e->busy, &dep_id, sizeof dep_id, (void *)n);
}

/* Every phase change goes through here: the store, then the hook. */
void
engine_phase(struct engine *e, int64_t dep_id, const char *name,
    const char *phase, int64_t run, const char *reason, const char *cause)
{
	if (store_deployment_set_phase(e->store, dep_id, phase, run, reason,
	    cause) != 0)
		return;
	etouch_phase(e, name, phase);
	if (e->phase_cb != NULL)
		e->phase_cb(name, phase, reason, cause, e->phase_arg);
}

void
engine_set_phase_hook(struct engine *e, engine_phase_cb cb, void *arg)
{
	e->phase_cb = cb;
	e->phase_arg = arg;
}

void
engine_set_run_hook(struct engine *e, engine_run_cb cb, void *arg)
{
	e->run_cb = cb;
	e->run_arg = arg;
}

static void
set_phase(struct engine *e, const struct store_deployment *row,
    const char *phase, int64_t run, const char *reason, const char *cause)
{
	if (strcmp(row->phase, phase) == 0 &&
	    ((row->cause == NULL && cause == NULL) ||
	    (row->cause != NULL && cause != NULL &&
	    strcmp(row->cause, cause) == 0)))
		return;
	engine_phase(e, row->id, row->name, phase, run, reason, cause);
}

/* Are all upstream deployments of d applied at their desired state? */
static bool
upstream_ready(const struct model *m, const struct deployment *d,
    struct rows *rows, struct engine *e, const char **waiting)
{
	size_t	i;

	for (i = 0; i < d->nneeds; i++) {
		const struct deployment	*u = m->deployments[d->needs[i]];
		struct store_deployment	*row = rows_get(rows, u->name);

		/* Drifted: applied as desired, its outputs stand. */
		if (row == NULL || (strcmp(row->phase, "ready") != 0 &&
		    strcmp(row->phase, "drifted") != 0) ||
		    row->applied_fingerprint == NULL ||
		    row->desired_fingerprint == NULL ||
		    strcmp(row->applied_fingerprint,
		    row->desired_fingerprint) != 0 ||
		    engine_busy(e, row->id)) {
			*waiting = u->name;
			return (false);
		}
	}
	return (true);
}

int64_t
engine_backoff_ms(struct engine *e, int failures)
{
	int64_t	ms = e->cfg.retry_min * 1000;
	int	i;

	for (i = 1; i < failures && ms < e->cfg.retry_max * 1000; i++)
		ms *= 2;
	if (ms > e->cfg.retry_max * 1000)
		ms = e->cfg.retry_max * 1000;
	/* Up to a fifth of jitter, so that failures do not march together. */
	ms += (int64_t)(arc4random_uniform((uint32_t)(ms / 5 + 1)));
	return (ms);
}

static void
schedule_retry(struct engine_repo *r, const char *name, int64_t at)
{
	int64_t		now = engine_now_ms(), delay = at - now;
	struct timeval	tv;

	etouch_wake(r, name, at);
	if (delay < 0)
		delay = 0;
	if (r->next_retry != 0 && r->next_retry <= at &&
	    evtimer_pending(r->retry_ev, NULL))
		return;
	r->next_retry = at;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(r->retry_ev, &tv);
}

static bool
same(const char *a, const char *b)
{
	return ((a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/*
 * Record the desired state, unless it is what the row already says.  The
 * desired commit is the one the desired state was first read at: a commit
 * that leaves a deployment as it was does not rewrite its row (what a
 * commit costs is what it changed, not the size of the repository).
 */
static void
set_desired(struct engine *e, const struct store_deployment *row,
    const char *blueprint, const char *environment, const char *commit,
    const char *fingerprint, bool suspended)
{
	if (same(row->blueprint, blueprint) &&
	    same(row->environment, environment) &&
	    row->desired_commit != NULL &&
	    same(row->desired_fingerprint, fingerprint) &&
	    row->suspended == suspended)
		return;
	store_deployment_set_desired(e->store, row->id, blueprint,
	    environment, commit, fingerprint, suspended);
}

/*
 * Did the deployment fail applying this very fingerprint (an operator's
 * apply, a drift correction, an interrupted apply)?  Then it stays failed
 * and is retried, though the applied state matches the repository: ready
 * means the last run succeeded.  A failure for a desired state since
 * reverted is not: the applied state is what is asked for again.
 */
static bool
failed_at(struct engine *e, const struct store_deployment *row,
    const char *fp)
{
	struct store_run	run;
	bool			same_fp;

	if (strcmp(row->phase, "failed") != 0 || row->last_run_id <= 0 ||
	    store_run_get(e->store, row->last_run_id, &run) != 0)
		return (false);
	same_fp = run.fingerprint != NULL && strcmp(run.fingerprint, fp) == 0 &&
	    strcmp(run.action, "plan") != 0;
	store_run_release(&run);
	return (same_fp);
}

/* One present deployment. */
static void
pass_deployment(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, struct rows *rows)
{
	struct engine		*e = r->e;
	struct resolve_ctx	 ctx = { e, rows };
	struct resolver		 res = { .commit = em->commit, .arg = &ctx,
	    .secret = resolve_secret, .output = resolve_output,
	    .key = e->key, .keylen = e->keylen };
	struct store_deployment	*row = rows_get(rows, d->name);
	char			 fp[MODEL_FINGERPRINT_LEN + 1];
	char			*cause = NULL, *reason;
	const char		*waiting = NULL;
	bool			 changed;
	int64_t			 id;

	etouch_every_commit(r, d);
	if (row == NULL) {
		if (store_deployment_ensure(e->store, r->store_id, d->name,
		    &id) != 0)
			return;
		if ((row = rows_fetch(rows, d->name)) == NULL)
			return;
	}
	if (engine_busy(e, row->id))
		return;
	if (!d->valid) {
		set_desired(e, row,
		    d->doc != NULL && d->blueprint != NULL ?
		    d->blueprint->name : NULL, d->environment != NULL ?
		    d->environment->name : NULL, em->commit, NULL, d->suspended);
		set_phase(e, row, "invalid", 0, "validation failed", d->cause);
		return;
	}
	if (row->operator_suspended && strcmp(row->phase, "destroyed") == 0)
		return;		/* destroyed by the operator: kept so */
	if (d->suspended || row->operator_suspended) {
		set_phase(e, row, "suspended", 0, d->suspended ?
		    "suspended in the repository" : "suspended by the operator",
		    NULL);
		return;
	}
	if (!upstream_ready(em->m, d, rows, e, &waiting)) {
		cause = xasprintf("waiting for deployment '%s'", waiting);
		if (row->applied_fingerprint == NULL)
			set_phase(e, row, "pending", 0, "waiting for upstream",
			    cause);
		free(cause);
		return;
	}
	if (engine_memo_fingerprint(r->memo, fp, d, &res, &cause) != 0) {
		set_desired(e, row, d->blueprint->name, d->environment->name,
		    em->commit, NULL, false);
		set_phase(e, row, "failed", 0, "cannot resolve inputs", cause);
		free(cause);
		return;
	}
	changed = row->desired_fingerprint == NULL ||
	    strcmp(row->desired_fingerprint, fp) != 0;
	set_desired(e, row, d->blueprint->name, d->environment->name,
	    em->commit, fp, false);
	if (row->applied_fingerprint != NULL &&
	    strcmp(row->applied_fingerprint, fp) == 0 &&
	    !failed_at(e, row, fp)) {
		if (strcmp(row->phase, "planned") == 0)
			eplan_settled(e, row);
		else if (strcmp(row->phase, "ready") != 0 &&
		    strcmp(row->phase, "drifted") != 0)
			set_phase(e, row, "ready", 0,
			    "applied state matches the repository", NULL);
		else
			edrift_pass(r, em, d, row, fp);
		return;
	}
	if (strcmp(row->phase, "failed") == 0 && !changed &&
	    row->retry_at > engine_now_ms()) {
		schedule_retry(r, row->name, row->retry_at);
		return;
	}
	if (changed && row->failures > 0)
		store_deployment_set_retry(e->store, row->id, 0, 0);
	if (row->applied_fingerprint == NULL)
		reason = xstrdup(strcmp(row->phase, "failed") == 0 ?
		    "retry" : "new deployment");
	else if (strcmp(row->phase, "failed") == 0 && !changed)
		reason = xstrdup("retry");
	else
		reason = xasprintf("desired state changed at %.12s",
		    em->commit);
	if (d->policy.approval == APPROVAL_MANUAL)
		eplan_gate(r, em, d, row, fp, strcmp(reason, "retry") == 0 ?
		    "retry" : r->trigger, reason);
	else
		erun_queue(r, em, d, row, PROVIDER_APPLY,
		    strcmp(reason, "retry") == 0 ? "retry" : r->trigger, fp,
		    reason, false);
	free(reason);
}

/* Is deployment name still needed by a removed one not yet destroyed? */
static bool
needed_by_removed(const struct model *prev, size_t idx,
    const struct model *cur, struct rows *rows)
{
	size_t	i, j;

	for (i = 0; i < prev->ndeployments; i++) {
		const struct deployment	*d = prev->deployments[i];
		struct store_deployment	*row;

		if (model_deployment(cur, d->name) != NULL)
			continue;
		row = rows_get(rows, d->name);
		if (row == NULL || strcmp(row->phase, "destroyed") == 0 ||
		    strcmp(row->phase, "orphaned") == 0)
			continue;
		for (j = 0; j < d->nneeds; j++) {
			if (d->needs[j] == idx)
				return (true);
		}
	}
	return (false);
}

/* A row the model no longer has, not yet destroyed or orphaned? */
static bool
row_unsettled(const struct model *cur, const struct store_deployment *row)
{
	return (strcmp(row->phase, "destroyed") != 0 &&
	    strcmp(row->phase, "orphaned") != 0 &&
	    model_deployment(cur, row->name) == NULL);
}

/* Are there such rows? */
static bool
rows_removed(struct engine_repo *r, struct rows *rows)
{
	size_t	i;

	for (i = 0; i < rows->nall; i++)
		if (row_unsettled(r->cur->m, &rows->all[i]))
			return (true);
	return (false);
}

/* Deployments recorded but no longer in the repository. */
static void
pass_removed(struct engine_repo *r, struct rows *rows)
{
	struct engine		*e = r->e;
	const struct model	*cur = r->cur->m;
	const struct model	*prev = r->prev != NULL ? r->prev->m : NULL;
	size_t			 i, ndestroy = 0;
	char			*cause;

	if (!r->cur->complete)
		return;		/* a parse failure never prunes */
	/* Count first: too many destroys at once wait for approval. */
	for (i = 0; i < rows->nall; i++) {
		struct store_deployment	*row = &rows->all[i];
		const struct deployment	*pd;

		if (!row_unsettled(cur, row) ||
		    row->applied_fingerprint == NULL)
			continue;
		pd = prev != NULL ? model_deployment(prev, row->name) : NULL;
		if (pd != NULL && pd->policy.prune == 1)
			ndestroy++;
	}
	for (i = 0; i < rows->nall; i++) {
		struct store_deployment	*row = &rows->all[i];
		const struct deployment	*pd;
		size_t			 idx = 0, k;

		if (!row_unsettled(cur, row) || engine_busy(e, row->id))
			continue;
		if (row->applied_fingerprint == NULL) {
			/* Never applied: nothing to destroy. */
			set_phase(e, row, "destroyed", 0,
			    "removed from the repository before it was applied",
			    NULL);
			continue;
		}
		pd = prev != NULL ? model_deployment(prev, row->name) : NULL;
		if (pd == NULL || pd->policy.prune != 1 || pd->doc == NULL ||
		    pd->blueprint == NULL) {
			set_phase(e, row, "orphaned", 0,
			    pd == NULL ? "removed from the repository" :
			    "removed from the repository, prune is off", NULL);
			continue;
		}
		/*
		 * Held back by the prune limit, it waits for its own
		 * approval even once fewer are left.
		 */
		if ((ndestroy > (size_t)e->cfg.prune_limit ||
		    strcmp(row->phase, "planned") == 0) &&
		    !row->destroy_approved) {
			cause = xasprintf("destroy waits for approval: %zu deployments removed at once (prune_limit %d)",
			    ndestroy, e->cfg.prune_limit);
			set_phase(e, row, "planned", 0, "prune limit", cause);
			free(cause);
			continue;
		}
		for (k = 0; k < prev->ndeployments; k++) {
			if (prev->deployments[k] == pd)
				idx = k;
		}
		if (needed_by_removed(prev, idx, cur, rows))
			continue;	/* its dependents go first */
		erun_queue(r, r->prev, pd, row, PROVIDER_DESTROY, r->trigger,
		    row->applied_fingerprint, "removed from the repository",
		    false);
	}
}

/*
 * One repository: the deployments engine-touch.c marked, or all of them
 * (the first pass, a new configuration, the secrets folder changed, or
 * so many marked that one read of every row is cheaper).
 */
static void
pass_repo(struct engine_repo *r)
{
	struct engine	*e = r->e;
	struct rows	 rows;
	size_t		*visit, nvisit, i, added;
	int64_t		 id;
	bool		 some;

	if (r->cur == NULL)
		return;
	engine_memo_begin(r->memo, e->secrets_dir);
	if (engine_memo_secrets_changed(r->memo))
		r->whole = true;
	some = etouch_take(r, engine_now_ms(), &visit, &nvisit);
	if (some && nvisit == 0 && !r->removals) {
		engine_memo_end(r->memo, r->cur->m, false);
		free(visit);
		return;
	}
	/* One transaction per pass, not one per deployment. */
	store_begin(e->store);
	rows_init(&rows, e, r);
	if (some) {
		for (i = 0; i < nvisit; i++)
			pass_deployment(r, r->cur,
			    r->cur->m->deployments[visit[i]], &rows);
	} else {
		rows_list(&rows);
		/* Rows for new deployments first, then the list once more. */
		for (i = 0, added = 0; i < r->cur->m->ndeployments; i++) {
			const char *name = r->cur->m->deployments[i]->name;

			if (rows_get(&rows, name) == NULL &&
			    store_deployment_ensure(e->store, r->store_id,
			    name, &id) == 0)
				added++;
		}
		if (added > 0) {
			rows_release(&rows);
			rows_init(&rows, e, r);
			rows_list(&rows);
		}
		for (i = 0; i < r->cur->m->ndeployments; i++)
			pass_deployment(r, r->cur, r->cur->m->deployments[i],
			    &rows);
	}
	engine_memo_end(r->memo, r->cur->m, !some);
	/*
	 * Removed rows, once settled (destroyed, orphaned, or waiting on a
	 * run, an approval or their dependents' destroys, each of which marks
	 * them again), are looked at only when something may have moved
	 * them.  The pass above changed no row of theirs: a list it made
	 * serves.
	 */
	if (r->removals && r->cur->complete) {
		r->removals = false;
		if (!rows.listed)
			rows_list(&rows);
		if (rows_removed(r, &rows))
			pass_removed(r, &rows);
	}
	rows_release(&rows);
	store_commit(e->store);
	free(visit);
}

static void
engine_pass(evutil_socket_t fd, short events, void *arg)
{
	struct engine		*e = arg;
	struct engine_repo	*r;

	(void)fd;
	(void)events;
	if (e->stopping)
		return;
	TAILQ_FOREACH(r, &e->repos, entry) {
		if (!r->held)
			pass_repo(r);
	}
	erun_start_queued(e);
}

/*
 * The fingerprint of d's desired state in em now (the pass records it in
 * the store only when the deployment is not busy).
 */
int
engine_fingerprint(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, char fp[MODEL_FINGERPRINT_LEN + 1],
    char **cause)
{
	struct engine		*e = r->e;
	struct rows		 rows;
	struct resolve_ctx	 ctx = { e, &rows };
	struct resolver		 res = { .commit = em->commit, .arg = &ctx,
	    .secret = resolve_secret, .output = resolve_output,
	    .key = e->key, .keylen = e->keylen };
	int			 error;

	rows_init(&rows, e, r);
	error = model_fingerprint(fp, d, &res, cause);
	rows_release(&rows);
	return (error);
}

/* approve DEPLOYMENT: its plan waiting for approval, or its destroy. */
static int
engine_action_approve(struct engine *e, const struct store_deployment *row,
    int64_t *run, char **cause)
{
	int64_t	plan, apply = 0;
	int	error;

	if (store_plan_waiting(e->store, row->id, &plan) != 0)
		return (eplan_approve_prune(e, row, cause));
	error = engine_approve(e, plan, &apply, cause);
	if (run != NULL)
		*run = apply;
	return (error);
}

int
engine_action(struct engine *e, const char *repo, const char *name,
    const char *action, int64_t *run, char **cause)
{
	struct engine_repo	*r;
	struct store_deployment	 row;
	const struct deployment	*d = NULL;
	int			 error = 0;

	*cause = NULL;
	if (run != NULL)
		*run = 0;
	TAILQ_FOREACH(r, &e->repos, entry) {
		if (repo != NULL && strcmp(r->name, repo) != 0)
			continue;
		if (store_deployment_get(e->store, r->store_id, name,
		    &row) == 0)
			break;
	}
	if (r == NULL) {
		*cause = xasprintf("no deployment '%s'", name);
		return (-ENOENT);
	}
	if (r->cur != NULL)
		d = model_deployment(r->cur->m, name);
	if (strcmp(action, "suspend") == 0 || strcmp(action, "resume") == 0) {
		bool on = action[0] == 's';

		store_deployment_set_operator_suspended(e->store, row.id, on);
		if (!on && strcmp(row.phase, "suspended") == 0)
			engine_phase(e, row.id, row.name, "pending", 0,
			    "resumed by the operator", NULL);
		engine_kick(e);
		goto out;
	}
	if (strcmp(action, "approve") == 0) {
		error = engine_action_approve(e, &row, run, cause);
		goto out;
	}
	if (strcmp(action, "retry") == 0) {
		store_deployment_set_retry(e->store, row.id, row.failures, 0);
		engine_kick(e);
		goto out;
	}
	if (engine_busy(e, row.id)) {
		*cause = xasprintf("deployment '%s' has a run queued or running",
		    name);
		error = -EBUSY;
		goto out;
	}
	if (strcmp(action, "apply") == 0 || strcmp(action, "plan") == 0) {
		struct rows		 rows;
		struct resolve_ctx	 ctx = { e, &rows };
		struct resolver		 res = { .arg = &ctx,
		    .secret = resolve_secret, .output = resolve_output,
		    .key = e->key, .keylen = e->keylen };
		char			 fp[MODEL_FINGERPRINT_LEN + 1];

		if (d == NULL || !d->valid) {
			*cause = xasprintf("deployment '%s' is %s", name,
			    d == NULL ? "not in the repository" : "invalid");
			error = -EINVAL;
			goto out;
		}
		rows_init(&rows, e, r);
		res.commit = r->cur->commit;
		if (model_fingerprint(fp, d, &res, cause) != 0) {
			rows_release(&rows);
			error = -EINVAL;
			goto out;
		}
		*run = erun_queue(r, r->cur, d, &row, action[0] == 'a' ?
		    PROVIDER_APPLY : PROVIDER_PLAN, "cli", fp,
		    action[0] == 'a' ? "apply asked by the operator" :
		    "plan asked by the operator", true);
		rows_release(&rows);
	} else if (strcmp(action, "destroy") == 0) {
		const struct deployment	*pd = d;

		if (pd == NULL && r->prev != NULL)
			pd = model_deployment(r->prev->m, name);
		if (pd == NULL || pd->blueprint == NULL) {
			*cause = xasprintf("no blueprint known for '%s'", name);
			error = -EINVAL;
			goto out;
		}
		if (row.applied_fingerprint == NULL) {
			*cause = xasprintf("deployment '%s' is not applied",
			    name);
			error = -EINVAL;
			goto out;
		}
		*run = erun_queue(r, pd == d ? r->cur : r->prev, pd, &row,
		    PROVIDER_DESTROY, "cli", row.applied_fingerprint,
		    "destroy asked by the operator", true);
		/* Kept destroyed until the operator applies or resumes. */
		store_deployment_set_operator_suspended(e->store, row.id, true);
	} else {
		*cause = xasprintf("unknown action '%s'", action);
		error = -EINVAL;
		goto out;
	}
	erun_start_queued(e);
out:
	/* Whatever the action did, the next pass looks at it. */
	etouch_name(e, name);
	store_deployment_release(&row);
	return (error);
}

void
engine_counts(struct engine *e, size_t *running, size_t *queued)
{
	struct erun	*run;

	*running = *queued = 0;
	TAILQ_FOREACH(run, &e->runs, entry) {
		if (run->state == ERUN_RUNNING)
			(*running)++;
		else
			(*queued)++;
	}
}
