/*
 * Fingerprints remembered between reconcile passes.  Every pass used to
 * resolve and hash every deployment of the repository (model_fingerprint:
 * inputs resolved to JSON, canonical dumps, SHA-256, secrets read and
 * HMACed), whatever the commit changed: at 10,000 deployments most of a
 * pass.  A fingerprint is now taken from the last pass when nothing it
 * hashes can have changed:
 *
 *  - the deployment is the very object of the last pass: the model loader
 *    shares a deployment between the models of successive commits only
 *    when its file did not change and neither did any blueprint,
 *    environment or template (model.c, loader_delta), so the blueprint's
 *    tree, the provider and the linked inputs are the same; the memo only
 *    ever holds deployments of the model of its last pass, which the
 *    engine keeps alive as the current or the previous model, so an
 *    address cannot have been reused by another deployment;
 *  - no input or runner env entry uses git.commit (it changes with every
 *    commit: resolved every time);
 *  - if one uses upstream outputs, the resolver gives the same values for
 *    them as at the last pass (asked again every pass: a lookup of the
 *    upstream's row, where a fingerprint resolves and hashes everything);
 *  - if one uses a secret, the secrets folder looks as it did at the last
 *    pass: the name, inode, mode, owner, size and change times of every
 *    entry, read once per pass (no secret value is read for this).
 *
 * Anything else goes through model_fingerprint as before, and only
 * fingerprints that could be computed are remembered.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "compat.h"
#include "engine-memo.h"
#include "table.h"
#include "xmalloc.h"

#define MEMO_SECRETS_MAX	4096	/* entries looked at in the folder */

struct memo_entry {
	const struct deployment	*d;
	char			 fp[MODEL_FINGERPRINT_LEN + 1];
	json_t			*outputs;	/* upstream values used, or NULL */
};

struct engine_memo {
	struct table		 last;	/* name -> entry, of the last pass */
	struct table		 next;	/* being made by this pass */
	const struct model	*model;	/* of the last pass */
	unsigned char		 digest[32];	/* secrets folder, last pass */
	bool			 have_digest;
	unsigned char		 now[32];	/* this pass */
	bool			 have_now;
	size_t			 reused;
	size_t			 computed;
};

static void
memo_entry_free(struct memo_entry *e)
{
	if (e == NULL)
		return;
	json_decref(e->outputs);
	free(e);
}

static void
memo_entry_free_v(void *v)
{
	memo_entry_free(v);
}

static void
memo_clear(struct table *t)
{
	table_clear(t, memo_entry_free_v);
}

struct engine_memo *
engine_memo_new(void)
{
	struct engine_memo	*m = xcalloc(1, sizeof *m);

	table_init(&m->last);
	table_init(&m->next);
	return (m);
}

void
engine_memo_free(struct engine_memo *m)
{
	if (m == NULL)
		return;
	memo_clear(&m->last);
	memo_clear(&m->next);
	free(m);
}

void
engine_memo_rotate(struct engine_memo *m, const struct model *cur)
{
	if (m->model != NULL && m->model != cur) {
		memo_clear(&m->last);
		m->model = NULL;
	}
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
digest_stat(EVP_MD_CTX *ctx, const char *name, const struct stat *st)
{
	long long	v[9];

	v[0] = (long long)st->st_ino;
	v[1] = (long long)st->st_mode;
	v[2] = (long long)st->st_uid;
	v[3] = (long long)st->st_size;
	v[4] = (long long)st->st_mtim.tv_sec;
	v[5] = (long long)st->st_mtim.tv_nsec;
	v[6] = (long long)st->st_ctim.tv_sec;
	v[7] = (long long)st->st_ctim.tv_nsec;
	v[8] = (long long)st->st_dev;
	EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	EVP_DigestUpdate(ctx, v, sizeof v);
}

/* What the secrets folder looks like now; false if it cannot be told. */
static bool
secrets_digest(const char *dir, unsigned char out[32])
{
	EVP_MD_CTX	*ctx;
	DIR		*dp;
	struct dirent	*de;
	struct stat	 st;
	char		**names = NULL, *path;
	size_t		 n = 0, i;
	unsigned int	 len = 0;
	bool		 ok = false;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (false);
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	if (dir == NULL) {
		EVP_DigestUpdate(ctx, "none", 5);
		ok = true;
		goto done;
	}
	if (stat(dir, &st) != 0) {
		/* Missing: every secret lookup fails the same way. */
		EVP_DigestUpdate(ctx, "missing", 8);
		ok = true;
		goto done;
	}
	digest_stat(ctx, ".", &st);
	if ((dp = opendir(dir)) == NULL)
		goto out;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n == MEMO_SECRETS_MAX) {
			closedir(dp);
			goto out;
		}
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (n > 0)
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n; i++) {
		path = xasprintf("%s/%s", dir, names[i]);
		if (lstat(path, &st) != 0)
			memset(&st, 0, sizeof st);
		free(path);
		digest_stat(ctx, names[i], &st);
	}
	ok = true;
done:
	if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
		ok = false;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	EVP_MD_CTX_free(ctx);
	return (ok);
}

void
engine_memo_begin(struct engine_memo *m, const char *secrets_dir)
{
	memo_clear(&m->next);
	m->have_now = secrets_digest(secrets_dir, m->now);
}

void
engine_memo_end(struct engine_memo *m, const struct model *model, bool whole)
{
	struct table	 t;
	const char	*k;
	void		*v;
	size_t		 i;

	if (whole) {
		/* What this pass did not look at goes: no dangling deployments. */
		memo_clear(&m->last);
		t = m->last;
		m->last = m->next;
		m->next = t;
	} else {
		for (i = 0; table_next(&m->next, &i, &k, &v); )
			if (v != NULL)
				memo_entry_free(table_puts(&m->last, k, v));
		table_release(&m->next);
		table_init(&m->next);
	}
	m->model = model;
	memcpy(m->digest, m->now, sizeof m->digest);
	m->have_digest = m->have_now;
}

bool
engine_memo_secrets_changed(const struct engine_memo *m)
{
	return (!m->have_digest || !m->have_now ||
	    memcmp(m->digest, m->now, sizeof m->digest) != 0);
}

void
engine_memo_forget(struct engine_memo *m, const char *name)
{
	if (table_gets(&m->last, name) != NULL)
		memo_entry_free(table_puts(&m->last, name, NULL));
	if (table_gets(&m->next, name) != NULL)
		memo_entry_free(table_puts(&m->next, name, NULL));
}

/* Which of the things that change by themselves d's fingerprint uses. */
static int
uses(const struct deployment *d)
{
	int	flags = 0;
	size_t	i;

	for (i = 0; i < d->ninputs; i++)
		flags |= d->inputs[i].flags;
	for (i = 0; i < d->nenv; i++)
		flags |= d->env[i].flags;
	if (d->nrefs > 0)
		flags |= RINPUT_OUTPUTS;
	return (flags);
}

bool
engine_memo_every_commit(const struct deployment *d)
{
	return (d->valid && d->link != NULL && (uses(d) & RINPUT_COMMIT));
}

/* The values of d's output references now, in order (null: unknown). */
static json_t *
upstream(const struct deployment *d, const struct resolver *res)
{
	json_t	*a = json_array(), *v;
	size_t	 i;

	for (i = 0; i < d->nrefs; i++) {
		v = res != NULL && res->output != NULL ? res->output(res->arg,
		    d->refs[i].deployment, d->refs[i].output) : NULL;
		json_array_append_new(a, v != NULL ? v : json_null());
	}
	return (a);
}

int
engine_memo_fingerprint(struct engine_memo *m,
    char out[MODEL_FINGERPRINT_LEN + 1], const struct deployment *d,
    const struct resolver *res, char **cause)
{
	struct memo_entry	*e;
	json_t			*ups = NULL;
	int			 flags, error;
	bool			 secrets_same;

	*cause = NULL;
	flags = d->valid && d->link != NULL ? uses(d) : RINPUT_BROKEN;
	if ((flags & (RINPUT_COMMIT | RINPUT_BROKEN)) ||
	    ((flags & RINPUT_OUTPUTS) && d->nrefs == 0)) {
		if ((error = model_fingerprint(out, d, res, cause)) == 0)
			m->computed++;
		return (error);
	}
	if (flags & RINPUT_OUTPUTS)
		ups = upstream(d, res);
	secrets_same = m->have_digest && m->have_now &&
	    memcmp(m->digest, m->now, sizeof m->digest) == 0;
	e = table_gets(&m->last, d->name);
	if (e != NULL && m->model != NULL && e->d == d &&
	    (!(flags & RINPUT_SECRET) || secrets_same) &&
	    (ups == NULL ? e->outputs == NULL :
	    e->outputs != NULL && json_equal(ups, e->outputs))) {
		memcpy(out, e->fp, sizeof e->fp);
		m->reused++;
	} else {
		if ((error = model_fingerprint(out, d, res, cause)) != 0) {
			json_decref(ups);
			return (error);
		}
		m->computed++;
	}
	if ((flags & RINPUT_SECRET) && !m->have_now) {
		json_decref(ups);
		return (0);	/* not told whether secrets change */
	}
	if ((e = table_gets(&m->next, d->name)) == NULL) {
		e = xcalloc(1, sizeof *e);
		memo_entry_free(table_puts(&m->next, d->name, e));
	}
	e->d = d;
	memcpy(e->fp, out, sizeof e->fp);
	json_decref(e->outputs);
	e->outputs = ups;
	return (0);
}

void
engine_memo_stats(const struct engine_memo *m, size_t *reused,
    size_t *computed)
{
	*reused = m->reused;
	*computed = m->computed;
}
