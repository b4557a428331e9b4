/*
 * The reconcile decision through the real engine and store (-e), in a
 * child process per measurement, over a SQLite file in the temp dir.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "engine.h"
#include "model.h"
#include "proc.h"
#include "secrets.h"
#include "store.h"
#include "model-scale.h"

/*
 * What the daemon does after a fetch, minus the thread hand-off: load the
 * model (from the previous one), engine_update, one reconcile pass.  The
 * engine's run hook, called inside the pass when a run is queued, gives
 * the moment of the decision and proves how many runs were queued.
 *
 *	first load	empty store, empty cache: t0 before the model load,
 *			until the N-th run is queued
 *	one change	a store where every deployment is applied at its
 *			fingerprint (written ahead, then checked by a pass
 *			over commit 1 that must queue nothing); commit 1 <->
 *			2 alternately: t0 before the model load, until the
 *			one run is queued; each run really runs (./deploy)
 *			and ends before the next change
 */

#define BENCH_KEY_LEN	32

static const char *const secret_names[] = {
	"web_token", "cache_token", "dns_token", "monitor_token",
};

struct ebench {
	struct event_base	*base;
	struct store		*store;
	struct engine		*e;
	struct engine_repo	*er;
	int64_t			 rid;
	char			 state[PATH_MAX];
	char			 secrets[PATH_MAX];
	unsigned char		 key[BENCH_KEY_LEN];
	/* From the run hook. */
	size_t			 queued;	/* before the first start */
	double			 last_queued_ms;
	bool			 started;
	double			 started_ms;	/* the first run's start */
	size_t			 final;
	size_t			 failed;
};

static void
ebench_hook(const struct engine_run_event *ev, void *arg)
{
	struct ebench	*b = arg;

	/*
	 * A pass queues its runs, then starts what it may: the first start
	 * marks the end of the pass that decided (later passes, after runs
	 * end, queue dependents: not counted).
	 */
	if (strcmp(ev->state, "queued") == 0 && !b->started) {
		b->queued++;
		b->last_queued_ms = now_ms();
	} else if (strcmp(ev->state, "running") == 0 && !b->started) {
		b->started = true;
		b->started_ms = now_ms();
		/* Back to the bench once the pass is over. */
		event_base_loopbreak(b->base);
	} else if (store_run_state_final(ev->state)) {
		b->final++;
		if (strcmp(ev->state, "succeeded") != 0)
			b->failed++;
	}
}

static void
ebench_release(struct model *m, void *arg)
{
	(void)arg;
	model_free(m);
}

static void
ebench_open(struct ebench *b, const struct repo *r, const char *name)
{
	struct engine_config	 ec;
	char			 db[PATH_MAX + 32], path[PATH_MAX + 64];
	char			*cause = NULL;
	size_t			 i;
	int			 fd;

	memset(b, 0, sizeof *b);
	snprintf(b->state, sizeof b->state, "%s/%s", r->dir, name);
	snprintf(b->secrets, sizeof b->secrets, "%s/secrets", r->dir);
	if (mkdir(b->state, 0700) != 0 ||
	    (mkdir(b->secrets, 0700) != 0 && errno != EEXIST))
		die("mkdir %s: %s", b->state, strerror(errno));
	for (i = 0; i < sizeof secret_names / sizeof *secret_names; i++) {
		snprintf(path, sizeof path, "%s/%s", b->secrets,
		    secret_names[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
		    write(fd, "s3cret\n", 7) != 7)
			die("%s: %s", path, strerror(errno));
		close(fd);
	}
	for (i = 0; i < sizeof b->key; i++)
		b->key[i] = (unsigned char)(i * 7 + 1);
	snprintf(db, sizeof db, "%s/cloudsphere.db", b->state);
	if (store_open(&b->store, db, &cause) != 0)
		die("store_open: %s", cause);
	if (store_repository_upsert(b->store, "bench", r->git, "main",
	    &b->rid) != 0)
		die("store_repository_upsert failed");
	if ((b->base = event_base_new()) == NULL)
		die("event_base_new failed");
	if (proc_init(b->base) != 0)
		die("proc_init failed");
	memset(&ec, 0, sizeof ec);
	ec.state_dir = b->state;
	ec.secrets_dir = b->secrets;
	ec.max_parallel_runs = 4;
	ec.prune_limit = 5;
	ec.retry_min = 1;
	ec.retry_max = 2;
	ec.log_max_bytes = 16 * 1024 * 1024;
	ec.grace = 10;
	b->e = engine_new(b->base, b->store, &ec, b->key, sizeof b->key);
	engine_set_run_hook(b->e, ebench_hook, b);
	b->er = engine_repo_add(b->e, "bench", b->rid, r->git, ebench_release,
	    NULL);
	engine_repo_release_hold(b->er);
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

/* The resolver of the written-ahead store: what ./deploy writes. */
struct pctx {
	struct ebench	*b;
};

static int
populate_secret(void *arg, const char *name, char **value, char **cause)
{
	struct pctx	*c = arg;

	return (secrets_read(c->b->secrets, name, value, cause));
}

static json_t *
populate_output(void *arg, const char *dep, const char *output)
{
	char	buf[128];

	(void)arg;
	if (strcmp(output, "id") == 0)
		return (json_string(dep));
	if (strcmp(output, "endpoint") == 0) {
		snprintf(buf, sizeof buf, "%s.example", dep);
		return (json_string(buf));
	}
	return (NULL);
}

/* Every deployment applied at its fingerprint, as after a first sync. */
static void
populate(struct ebench *b, const struct model *m, const char *commit)
{
	struct pctx	 c = { b };
	struct resolver	 res = { .commit = commit, .arg = &c,
	    .secret = populate_secret, .output = populate_output,
	    .key = b->key, .keylen = sizeof b->key };
	char		 fp[MODEL_FINGERPRINT_LEN + 1], outputs[256];
	char		*cause = NULL;
	size_t		 i;
	int64_t		 id;

	store_begin(b->store);
	for (i = 0; i < m->ndeployments; i++) {
		const struct deployment *d = m->deployments[i];

		if (store_deployment_ensure(b->store, b->rid, d->name,
		    &id) != 0)
			die("store_deployment_ensure %s failed", d->name);
		if (d->suspended) {
			store_deployment_set_phase(b->store, id, "suspended", 0,
			    "suspended in the repository", NULL);
			continue;
		}
		if (model_fingerprint(fp, d, &res, &cause) != 0)
			die("%s: %s", d->name, cause);
		snprintf(outputs, sizeof outputs,
		    "{\"endpoint\":\"%s.example\",\"id\":\"%s\"}", d->name,
		    d->name);
		store_deployment_set_desired(b->store, id, d->blueprint->name,
		    d->environment->name, commit, fp, false);
		store_deployment_set_applied(b->store, id, commit, fp,
		    outputs);
		store_deployment_set_phase(b->store, id, "ready", 0,
		    "written ahead by model-scale", NULL);
	}
	store_commit(b->store);
}

/* One pass after a new model; returns when the pass is over. */
static void
ebench_pass(struct ebench *b, struct model *m, const char *hex)
{
	b->queued = 0;
	b->final = 0;
	b->failed = 0;
	b->started = false;
	engine_update(b->er, m, hex, "bench");
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

/* Until every run queued has ended, then the pass that follows. */
static void
ebench_drain(struct ebench *b)
{
	double	end = now_ms() + 60000;

	while (b->final < b->queued) {
		if (now_ms() > end)
			die("runs did not end within 60 s");
		event_base_loop(b->base, EVLOOP_ONCE);
	}
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

static struct model *bench_engine_first(const struct repo *,
	struct ebench *, struct eresult *) __attribute__((noinline));
static void bench_engine_change(const struct repo *, struct ebench *,
	struct model *, size_t, struct eresult *) __attribute__((noinline));

static struct model *
bench_engine_first(const struct repo *r, struct ebench *b,
    struct eresult *res)
{
	struct model	*m;
	double		 t0 = now_ms();

	m = load_model(r->c1, NULL, &res->first_load_ms);
	ebench_pass(b, m, r->c1);
	res->first_pass_ms = b->started_ms - t0;
	res->first_ms = b->last_queued_ms - t0;
	res->first_queued = b->queued;
	return (m);
}

static void
bench_engine_change(const struct repo *r, struct ebench *b,
    struct model *cur, size_t repeats, struct eresult *res)
{
	double		 dec[MAX_REPEATS] = { 0 }, lms[MAX_REPEATS] = { 0 };
	double		 pms[MAX_REPEATS] = { 0 };
	double		 wdec[MAX_REPEATS] = { 0 }, wlms[MAX_REPEATS] = { 0 };
	double		 t0, end;
	struct model	*next;
	size_t		 k, nd = 0, nw = 0;

	res->queued_min = SIZE_MAX;
	for (k = 0; k < repeats; k++) {
		const char *hex = k % 2 == 0 ? r->c2 : r->c1;

		load_hold();
		t0 = now_ms();
		next = load_model(hex, cur, &lms[k]);
		ebench_pass(b, next, hex);
		end = b->started ? b->started_ms : now_ms();
		dec[k] = b->queued > 0 ? b->last_queued_ms - t0 : end - t0;
		pms[k] = end - t0;
		if (b->queued < res->queued_min)
			res->queued_min = b->queued;
		if (b->queued > res->queued_max)
			res->queued_max = b->queued;
		if (!quiet)
			printf("  N=%-7zu engine one change %-12.12s %8.2f ms to the decision, %8.2f ms the pass, %zu queued\n",
			    r->n, hex, dec[k], pms[k], b->queued);
		ebench_drain(b);
		res->failed += b->failed;
		cur = next;
		/* To commit 2: its tree a delta (see load_model); to 1: whole. */
		if (k % 2 == 0) {
			dec[nd] = dec[k];
			lms[nd] = lms[k];
			pms[nd++] = pms[k];
		} else {
			wdec[nw] = dec[k];
			wlms[nw++] = lms[k];
		}
	}
	res->repeats = repeats;
	res->decision_ms = median(dec, nd);
	res->load_ms = median(lms, nd);
	res->pass_ms = median(pms, nd);
	minmax(dec, nd, &res->decision_min, &res->decision_max);
	res->decision_whole_ms = nw > 0 ? median(wdec, nw) : 0;
	res->load_whole_ms = nw > 0 ? median(wlms, nw) : 0;
}

/* which 0: the first load; 1: the one-change decisions. */
static void
measure_engine(const struct repo *r, size_t repeats, int which,
    struct eresult *res)
{
	struct ebench	 b;
	struct model	*m;
	double		 t0, ms;

	memset(res, 0, sizeof *res);
	load_open(r);
	if (which == 0) {
		ebench_open(&b, r, "engine-first");
		bench_engine_first(r, &b, res);
		/* The runs that started are killed: only the decision counts. */
		proc_shutdown();
		res->ok = 1;
		return;
	}
	ebench_open(&b, r, "engine-change");
	m = load_model(r->c1, NULL, &ms);
	t0 = now_ms();
	populate(&b, m, r->c1);
	res->populate_ms = now_ms() - t0;
	/* The store written ahead must agree with the engine: no run. */
	t0 = now_ms();
	ebench_pass(&b, m, r->c1);
	res->nochange_ms = now_ms() - t0;
	res->nochange_queued = b.queued;
	if (b.queued != 0)
		die("N=%zu: %zu runs queued over the store written ahead (expected none)",
		    r->n, b.queued);
	bench_engine_change(r, &b, m, repeats, res);
	proc_shutdown();
	res->ok = 1;
}

struct ebench_args {
	const struct repo	*r;
	size_t			 repeats;
	int			 which;
};

static void
ebench_in_child(const void *arg, void *out)
{
	const struct ebench_args	*a = arg;

	measure_engine(a->r, a->repeats, a->which, out);
}

void
ebench_measure_child(const struct repo *r, size_t repeats, int which,
    struct eresult *res, long *maxrss_kb)
{
	struct ebench_args	a = { r, repeats, which };
	int			status;

	if (!child_measure(ebench_in_child, &a, res, sizeof *res, &status,
	    maxrss_kb) || !res->ok)
		die("engine measurement N=%zu failed (status %d)", r->n,
		    status);
}
