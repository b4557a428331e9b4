/*
 * Pull requests in the engine: which deployments a pull request's head
 * changes compared with the branch, and their preview runs.
 *
 * A deployment changes when its fingerprint at the head differs from the
 * one of the branch's desired state (both computed here, with the same
 * secrets key and the outputs the store recorded), when it is new, gone,
 * or invalid at the head.  Each changed valid deployment gets a plan run
 * marked with the pull request's number: engine-run.c gives it a scratch
 * copy of the deployment's state folder and skips every update of the
 * deployment at its end, engine.c does not count it as the deployment's
 * run, and the store never makes it the active or last run.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "engine-int.h"
#include "xmalloc.h"

#define PULL_STATE_MAX_ENTRIES	100000
#define PULL_STATE_MAX_DEPTH	64
#define PULL_CAUSE_MAX		4096	/* bytes of FILE:LINE errors */

const char *
engine_pull_change_name(enum engine_pull_change c)
{
	switch (c) {
	case ENGINE_PULL_CHANGED:
		return ("changed");
	case ENGINE_PULL_ADDED:
		return ("added");
	case ENGINE_PULL_REMOVED:
		return ("removed");
	case ENGINE_PULL_INVALID:
		return ("invalid");
	}
	return ("?");
}

/*
 * Copy one folder level; symlinks are copied as links, never followed.
 * tfdata: this is Terraform's data folder (TF_DATA_DIR, .terraform).
 */
static int
copy_tree(int sfd, int dfd, int depth, bool tfdata, size_t *entries,
    char **cause)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		 buf[65536], link[PATH_MAX];
	ssize_t		 n, w, off;
	int		 in, out, sub, dsub, error = 0;

	if (depth > PULL_STATE_MAX_DEPTH) {
		*cause = xstrdup("state folder too deep to copy");
		return (-ELOOP);
	}
	if ((dir = fdopendir(dup(sfd))) == NULL)
		return (-errno);
	while (error == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* Terraform's lock of the real state is not ours. */
		if (depth == 0 &&
		    strcmp(de->d_name, ".terraform.tfstate.lock.info") == 0)
			continue;
		/*
		 * Nor is the backend it records (the real state's path):
		 * init configures the copy's afresh, keeping the providers
		 * and modules.
		 */
		if (tfdata && strcmp(de->d_name, "terraform.tfstate") == 0)
			continue;
		if (++*entries > PULL_STATE_MAX_ENTRIES) {
			*cause = xstrdup("state folder has too many entries to copy");
			error = -E2BIG;
			break;
		}
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			error = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dfd, de->d_name, 0700) != 0) {
				error = -errno;
				break;
			}
			sub = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			dsub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub == -1 || dsub == -1)
				error = -errno;
			else
				error = copy_tree(sub, dsub, depth + 1,
				    depth == 0 &&
				    strcmp(de->d_name, ".terraform") == 0,
				    entries, cause);
			if (sub != -1)
				close(sub);
			if (dsub != -1)
				close(dsub);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlinkat(sfd, de->d_name, link, sizeof link - 1);
			if (n < 0) {
				error = -errno;
				break;
			}
			link[n] = '\0';
			if (symlinkat(link, dfd, de->d_name) != 0)
				error = -errno;
		} else if (S_ISREG(st.st_mode)) {
			in = openat(sfd, de->d_name, O_RDONLY | O_NOFOLLOW |
			    O_CLOEXEC);
			out = openat(dfd, de->d_name, O_WRONLY | O_CREAT |
			    O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    st.st_mode & 0700);
			if (in == -1 || out == -1)
				error = -errno;
			while (error == 0 && (n = read(in, buf, sizeof buf)) != 0) {
				if (n < 0) {
					if (errno != EINTR)
						error = -errno;
					continue;
				}
				for (off = 0; error == 0 && off < n; off += w) {
					if ((w = write(out, buf + off,
					    (size_t)(n - off))) < 0) {
						if (errno == EINTR)
							w = 0;
						else
							error = -errno;
					}
				}
			}
			if (in != -1)
				close(in);
			if (out != -1)
				close(out);
		}
		/* Sockets, fifos, devices: not state. */
	}
	closedir(dir);
	return (error);
}

int
erun_pull_state(const char *from, const char *to, char **cause)
{
	size_t	entries = 0;
	int	sfd, dfd, error;

	if (mkdir(to, 0700) != 0) {
		*cause = xasprintf("cannot create %s: %s", to, strerror(errno));
		return (-errno);
	}
	if ((sfd = open(from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return (0);	/* never applied: nothing to copy */
		*cause = xasprintf("cannot open %s: %s", from, strerror(errno));
		return (-errno);
	}
	if ((dfd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		error = -errno;
		close(sfd);
		*cause = xasprintf("cannot open %s: %s", to, strerror(-error));
		return (error);
	}
	error = copy_tree(sfd, dfd, 0, false, &entries, cause);
	close(sfd);
	close(dfd);
	if (error != 0 && *cause == NULL)
		*cause = xasprintf("cannot copy the state of %s: %s", from,
		    strerror(-error));
	return (error);
}

/* Resolver: secrets from the host, outputs as the store recorded them. */
struct pull_ctx {
	struct engine_repo	*r;
};

static int
pull_secret(void *arg, const char *name, char **value, char **cause)
{
	return (engine_secret(((struct pull_ctx *)arg)->r->e, name, value,
	    cause));
}

static json_t *
pull_output(void *arg, const char *dep, const char *output)
{
	struct pull_ctx		*c = arg;
	struct store_deployment	 row;
	json_t			*v;

	if (store_deployment_get(c->r->e->store, c->r->store_id, dep,
	    &row) != 0)
		return (NULL);
	v = engine_output(c->r->e, &row, output);
	store_deployment_release(&row);
	return (v);
}

static int
pull_fingerprint(struct engine_repo *r, const struct deployment *d,
    const char *commit, char fp[MODEL_FINGERPRINT_LEN + 1], char **cause)
{
	struct pull_ctx	ctx = { r };
	struct resolver	res = { .commit = commit, .arg = &ctx,
	    .secret = pull_secret, .output = pull_output,
	    .key = r->e->key, .keylen = r->e->keylen };

	return (model_fingerprint(fp, d, &res, cause));
}

/* The deployment's errors, FILE:LINE: message, one per line. */
static char *
pull_errors(const struct model *m, const struct deployment *d)
{
	struct buf	b;
	char		*line, *s;
	size_t		 i;

	buf_init(&b, PULL_CAUSE_MAX);
	for (i = 0; i < m->diags.n; i++) {
		if (strcmp(m->diags.v[i].file, d->file) != 0)
			continue;
		line = xasprintf("%s%s:%d: %s", b.len > 0 ? "\n" : "",
		    m->diags.v[i].file, m->diags.v[i].line,
		    m->diags.v[i].message);
		if (buf_add(&b, line, strlen(line)) != 0) {
			free(line);
			break;
		}
		free(line);
	}
	if (b.len == 0) {
		buf_release(&b);
		return (xstrdup(d->cause != NULL ? d->cause : "invalid"));
	}
	s = xmalloc(b.len + 1);
	memcpy(s, b.data, b.len);
	s[b.len] = '\0';
	buf_release(&b);
	return (s);
}

static void
pull_item_add(struct engine_pull_item **v, size_t *n, const char *name,
    enum engine_pull_change change, char *cause, int64_t run)
{
	struct engine_pull_item	*it;

	*v = xreallocarray(*v, *n + 1, sizeof **v);
	it = &(*v)[(*n)++];
	it->deployment = xstrdup(name);
	it->change = change;
	it->cause = cause;
	it->error = cause != NULL && change != ENGINE_PULL_REMOVED;
	it->run = run;
}

static int
pull_item_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct engine_pull_item *)a)->deployment,
	    ((const struct engine_pull_item *)b)->deployment));
}

/* Queue the preview of d; 0 and *cause when it cannot be stored. */
static int64_t
pull_queue(struct engine_repo *r, struct emodel *em, int64_t pull,
    const struct deployment *d, const char *fp, engine_run_cb cb, void *arg)
{
	struct engine	*e = r->e;
	struct erun	*run;
	int64_t		 dep, id;

	if (store_deployment_ensure_pull(e->store, r->store_id, d->name, pull,
	    &dep) != 0 ||
	    store_run_insert(e->store, dep, "plan", "pull-request",
	    em->commit, fp, &id) != 0 ||
	    store_run_set_pull(e->store, id, pull) != 0)
		return (0);
	run = erun_new(r, em, d, dep, id, PROVIDER_PLAN, "pull-request", fp,
	    true);
	run->pull = pull;
	run->pull_cb = cb;
	run->pull_arg = arg;
	erun_report(run, "queued", NULL);
	return (id);
}

void
engine_pull_plan(struct engine_repo *r, int64_t pull, struct model *m,
    const char *commit, engine_run_cb cb, void *arg,
    struct engine_pull_item **items, size_t *n)
{
	struct engine		*e = r->e;
	struct emodel		*em = xcalloc(1, sizeof *em);
	const struct model	*base = r->cur != NULL ? r->cur->m : NULL;
	const struct deployment	*d, *bd;
	struct store_deployment	 row;
	char			 fp[MODEL_FINGERPRINT_LEN + 1];
	char			 bfp[MODEL_FINGERPRINT_LEN + 1];
	char			*cause, *bcause;
	enum engine_pull_change	 change;
	bool			 have_base;
	size_t			 i;
	int			 nplans = 0;
	int64_t			 id;

	*items = NULL;
	*n = 0;
	em->m = m;
	em->commit = xstrdup(commit);
	em->nref = 1;
	em->repo = r;
	em->complete = true;

	store_begin(e->store);
	for (i = 0; i < m->ndeployments; i++) {
		d = m->deployments[i];
		bd = base != NULL ? model_deployment(base, d->name) : NULL;
		have_base = bd != NULL;
		if (base == NULL && store_deployment_get(e->store,
		    r->store_id, d->name, &row) == 0) {
			/* The branch is not loaded yet: as the store has it. */
			have_base = true;
			store_deployment_release(&row);
		}
		change = have_base ? ENGINE_PULL_CHANGED : ENGINE_PULL_ADDED;
		if (!d->valid) {
			cause = pull_errors(m, d);
			if (bd != NULL && !bd->valid && bd->cause != NULL &&
			    d->cause != NULL && strcmp(bd->cause, d->cause) == 0) {
				free(cause);	/* as broken as on the branch */
				continue;
			}
			pull_item_add(items, n, d->name, ENGINE_PULL_INVALID,
			    cause, 0);
			continue;
		}
		cause = NULL;
		if (pull_fingerprint(r, d, commit, fp, &cause) != 0) {
			pull_item_add(items, n, d->name, change, xasprintf(
			    "cannot resolve inputs: %s", cause), 0);
			free(cause);
			continue;
		}
		bcause = NULL;
		if (bd != NULL && bd->valid && pull_fingerprint(r, bd,
		    r->cur->commit, bfp, &bcause) == 0 &&
		    strcmp(fp, bfp) == 0)
			continue;
		free(bcause);
		if (bd == NULL && base == NULL && have_base &&
		    store_deployment_get(e->store, r->store_id, d->name,
		    &row) == 0) {
			bool same = row.desired_fingerprint != NULL &&
			    strcmp(row.desired_fingerprint, fp) == 0;

			store_deployment_release(&row);
			if (same)
				continue;
		}
		if (d->suspended) {
			pull_item_add(items, n, d->name, change,
			    xstrdup("suspended in the repository: not planned"),
			    0);
			(*items)[*n - 1].error = false;
			continue;
		}
		if (nplans >= ENGINE_PULL_MAX_PLANS) {
			pull_item_add(items, n, d->name, change, xasprintf(
			    "not planned: the pull request changes more than %d deployments",
			    ENGINE_PULL_MAX_PLANS), 0);
			(*items)[*n - 1].error = false;
			continue;
		}
		nplans++;
		id = pull_queue(r, em, pull, d, fp, cb, arg);
		pull_item_add(items, n, d->name, change, id == 0 ?
		    xstrdup("cannot record the run") : NULL, id);
	}
	for (i = 0; base != NULL && i < base->ndeployments; i++) {
		bd = base->deployments[i];
		if (model_deployment(m, bd->name) == NULL)
			pull_item_add(items, n, bd->name, ENGINE_PULL_REMOVED,
			    NULL, 0);
	}
	store_commit(e->store);
	if (*n > 1)
		qsort(*items, *n, sizeof **items, pull_item_cmp);
	engine_emodel_unref(em);
	engine_kick(e);
}

void
engine_pull_items_free(struct engine_pull_item *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(v[i].deployment);
		free(v[i].cause);
	}
	free(v);
}

void
engine_pull_cancel(struct engine_repo *r, int64_t pull, const char *why,
    size_t *n)
{
	struct engine	*e = r->e;
	struct erun	*run, *next;

	*n = 0;
	TAILQ_FOREACH_SAFE(run, &e->runs, entry, next) {
		if (run->repo != r || run->pull != pull)
			continue;
		(*n)++;
		if (run->state == ERUN_QUEUED) {
			char *cause = xasprintf("cancelled: %s", why);

			erun_abandon(run, "cancelled", cause);
			free(cause);
		} else if (run->proc != NULL)
			proc_cancel(run->proc, why);
	}
}
