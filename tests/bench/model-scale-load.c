/*
 * The model loads of one size, in a child process so that its peak RSS is
 * theirs alone, with the same model_cache throughout:
 *
 *	full load	commit 1, empty cache, no previous model
 *	one change	commit 1 <-> commit 2 alternately, prev = the last model
 *			(median of several loads)
 *	no change	commit 2 again, prev = the model of commit 2 (median)
 *	tree read	libgit2 alone reading and walking the deployments/
 *			tree of commit 1 or 2 (median)
 *
 * with the cache statistics of each load (what was parsed and relinked).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>
#include <jansson.h>

#include "mirror.h"
#include "model.h"
#include "source.h"
#include "tree-cache.h"
#include "model-scale.h"

static struct model_cache *g_cache;
static git_repository *g_repo;
unsigned long	g_tree_deltas;

static long
rss_kb(void)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kb = -1;

	if (f == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return (kb);
}

void
load_open(const struct repo *r)
{
	git_libgit2_init();
	mirror_read_options();		/* as the daemon reads its mirrors */
	if (git_repository_open_bare(&g_repo, r->git) != 0)
		die("%s: %s", r->git, git_error_last() != NULL ?
		    git_error_last()->message : "cannot open");
	g_cache = model_cache_new();
}

/*
 * The daemon's tree cache holds the deployments/ tree of the commit it
 * loaded last, never the one it is about to load (a new commit): so
 * before each load, untimed, the cache is emptied and given that tree.
 * Commit 2's tree is then rebuilt from its pack delta against commit 1's,
 * as a fetch over the network stores it; commit 1's, stored whole, is read
 * whole, as a fetch from a repository on the same machine stores it.
 */
static char	 g_last[GIT_OID_HEXSZ + 1];	/* the last commit loaded */

/* The id of commit hex's deployments/ tree; -1 when it has none. */
static int
deployments_id(const char *hex, git_oid *out)
{
	git_commit	*c;
	git_tree	*root;
	git_tree_entry	*e;
	git_oid		 oid;
	int		 rc = -1;

	if (git_oid_fromstr(&oid, hex) != 0 ||
	    git_commit_lookup(&c, g_repo, &oid) != 0)
		return (-1);
	if (git_commit_tree(&root, c) == 0) {
		if (git_tree_entry_bypath(&e, root, "deployments") == 0) {
			git_oid_cpy(out, git_tree_entry_id(e));
			git_tree_entry_free(e);
			rc = 0;
		}
		git_tree_free(root);
	}
	git_commit_free(c);
	return (rc);
}

static void
tree_hold(const char *hex)
{
	git_oid	id;

	tree_cache_clear();
	if (hex != NULL && deployments_id(hex, &id) == 0)
		tree_buf_unref(tree_cache_get(g_repo, &id));
}

void
load_hold(void)
{
	tree_hold(g_last[0] != '\0' ? g_last : NULL);
}

struct model *
load_model(const char *hex, const struct model *prev, double *ms)
{
	struct tree_cache_stats st;
	struct source	*src;
	struct model	*m;
	git_oid		 oid;
	char		*cause;
	double		 t0;

	if (git_oid_fromstr(&oid, hex) != 0)
		die("bad commit id %s", hex);
	if (prev == NULL)
		tree_cache_clear();
	tree_cache_stats(&st);
	g_tree_deltas -= st.deltas;
	t0 = now_ms();
	if (source_git_new(&src, g_repo, &oid, NULL, &cause) != 0)
		die("source_git_new: %s", cause);
	if (model_load(&m, src, g_cache, prev, &cause) != 0)
		die("model_load: %s", cause);
	*ms = now_ms() - t0;
	source_free(src);
	tree_cache_stats(&st);
	g_tree_deltas += st.deltas;
	snprintf(g_last, sizeof g_last, "%s", hex);
	return (m);
}

/*
 * The floor under a one-change load: libgit2 reading the deployments/ tree
 * of a commit and walking its entries, nothing else.
 */
static double
tree_read(const char *hex)
{
	git_tree	*t;
	git_oid		 id;
	size_t		 i, n;
	unsigned	 sum = 0;
	double		 t0;

	t0 = now_ms();
	if (deployments_id(hex, &id) != 0 ||
	    git_tree_lookup(&t, g_repo, &id) != 0)
		die("cannot read deployments/ of %s", hex);
	n = git_tree_entrycount(t);
	for (i = 0; i < n; i++)
		sum += git_tree_entry_id(git_tree_entry_byindex(t, i))->id[0];
	git_tree_free(t);
	if (sum == 1)		/* keep the loop */
		fputc('\0', stderr);
	return (now_ms() - t0);
}

/* Separate, never inlined, so that a profile can pick one of them. */
static struct model *bench_load_full(const char *, double *)
	__attribute__((noinline));
static struct model *bench_load_change(const char *, const struct model *,
	double *) __attribute__((noinline));
static struct model *bench_load_nochange(const char *, const struct model *,
	double *) __attribute__((noinline));

static struct model *
bench_load_full(const char *hex, double *ms)
{
	return (load_model(hex, NULL, ms));
}

static struct model *
bench_load_change(const char *hex, const struct model *prev, double *ms)
{
	load_hold();
	return (load_model(hex, prev, ms));
}

static struct model *
bench_load_nochange(const char *hex, const struct model *prev, double *ms)
{
	load_hold();
	return (load_model(hex, prev, ms));
}

static void
check(const struct repo *r, const struct model *m, const char *what)
{
	if (m->ndeployments != r->n)
		die("%s: %zu deployments loaded, expected %zu", what,
		    m->ndeployments, r->n);
	if (m->diags.n > 0)
		die("%s: %zu errors, first %s:%d: %s", what, m->diags.n,
		    m->diags.v[0].file, m->diags.v[0].line,
		    m->diags.v[0].message);
	if (model_invalid_count(m) != 0)
		die("%s: %zu invalid deployments", what,
		    model_invalid_count(m));
}

/* The changed input, to be sure the one-change load saw the change. */
static long long
changed_input(const struct repo *r, const struct model *m)
{
	const struct deployment	*d = model_deployment(m, r->changed);
	size_t			 i;

	if (d == NULL)
		die("deployment %s missing", r->changed);
	for (i = 0; i < d->ninputs; i++) {
		if (strcmp(d->inputs[i].name, CHANGED_INPUT) == 0)
			return (json_integer_value(d->inputs[i].value));
	}
	die("deployment %s has no input %s", r->changed, CHANGED_INPUT);
}

static void
record(struct result *res, int kind, bool first, const struct repo *r,
    const char *label, double ms)
{
	size_t	s[3];

	model_cache_stats(g_cache, &s[0], &s[1], &s[2]);
	if (first) {
		memcpy(res->stats[kind], s, sizeof s);
		res->stats_stable[kind] = true;
	} else if (memcmp(res->stats[kind], s, sizeof s) != 0)
		res->stats_stable[kind] = false;
	if (!quiet)
		printf("  N=%-7zu %-24s %10.2f ms   parsed %zu, reused %zu, relinked %zu\n",
		    r->n, label, ms, s[0], s[1], s[2]);
}

static void
measure(const struct repo *r, size_t repeats, struct result *res)
{
	struct model	*m1, *cur, *next;
	double		 change[MAX_REPEATS], nochange[MAX_REPEATS], ms, t0;
	double		 whole[MAX_REPEATS];
	size_t		 k, nchange = 0, nwhole = 0;
	char		 label[64];
	long long	 v;

	memset(res, 0, sizeof *res);
	res->repeats = repeats;
	res->base_rss_kb = rss_kb();
	load_open(r);

	/* (a) Full load of commit 1, empty cache. */
	m1 = bench_load_full(r->c1, &res->full_ms);
	res->rss_after_full_kb = rss_kb();
	record(res, ST_FULL, true, r, "full load (commit 1)", res->full_ms);
	check(r, m1, "commit 1");

	/* (b) Commit 2 with prev = commit 1: one file re-parsed. */
	g_tree_deltas = 0;
	cur = bench_load_change(r->c2, m1, &ms);
	change[nchange++] = ms;
	record(res, ST_FIRST, true, r, "one change (1 -> 2)", ms);
	check(r, cur, "commit 2");
	if ((v = changed_input(r, cur)) != CHANGED_VALUE ||
	    changed_input(r, m1) == CHANGED_VALUE)
		die("the changed input is %lld in commit 2", v);
	t0 = now_ms();
	model_free(m1);
	res->free_ms = now_ms() - t0;

	/* More one-change loads, back and forth, prev = the last model. */
	for (k = 1; k < repeats; k++) {
		bool to1 = k % 2 == 1;

		snprintf(label, sizeof label, "one change (%d -> %d)",
		    to1 ? 2 : 1, to1 ? 1 : 2);
		next = bench_load_change(to1 ? r->c1 : r->c2, cur, &ms);
		if (to1)
			whole[nwhole++] = ms;
		else
			change[nchange++] = ms;
		record(res, ST_CHANGE, k == 1, r, label, ms);
		check(r, next, label);
		if ((changed_input(r, next) == CHANGED_VALUE) == to1)
			die("%s: wrong value of the changed input", label);
		model_free(cur);
		cur = next;
	}
	if (changed_input(r, cur) != CHANGED_VALUE) {
		/* End on commit 2 for the no-change loads. */
		next = bench_load_change(r->c2, cur, &ms);
		model_free(cur);
		cur = next;
	}

	/* (c) Commit 2 again with prev = commit 2: nothing changed. */
	for (k = 0; k < repeats; k++) {
		next = bench_load_nochange(r->c2, cur, &nochange[k]);
		record(res, ST_NOCHANGE, k == 0, r, "no change (2 -> 2)",
		    nochange[k]);
		check(r, next, "no change");
		model_free(cur);
		cur = next;
	}

	res->change_ms = median(change, nchange);
	minmax(change, nchange, &res->change_min, &res->change_max);
	res->change_whole_ms = nwhole > 0 ? median(whole, nwhole) : 0;
	res->tree_deltas = g_tree_deltas;
	res->nochange_ms = median(nochange, repeats);
	for (k = 0; k < repeats; k++)
		nochange[k] = tree_read(k % 2 == 0 ? r->c1 : r->c2);
	res->tree_ms = median(nochange, repeats);

	model_free(cur);
	model_cache_free(g_cache);
	git_repository_free(g_repo);
	git_libgit2_shutdown();
	res->ok = 1;
}

struct load_args {
	const struct repo	*r;
	size_t			 repeats;
};

static void
load_in_child(const void *arg, void *out)
{
	const struct load_args	*a = arg;

	measure(a->r, a->repeats, out);
}

void
load_measure_child(const struct repo *r, size_t repeats, struct result *res,
    long *maxrss_kb)
{
	struct load_args	a = { r, repeats };
	int			status;

	if (!child_measure(load_in_child, &a, res, sizeof *res, &status,
	    maxrss_kb) || !res->ok)
		die("measuring N=%zu failed (status %d)", r->n, status);
}
