/*
 * Loading a config repository into a model: walk the source, parse each
 * file once per object id (the cache), link every deployment (reusing the
 * previous commit's results where nothing it depends on changed), then the
 * checks that span deployments: references, dependencies and cycles.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model-int.h"
#include "model-link.h"
#include "compat.h"
#include "table.h"
#include "xmalloc.h"

#define MODEL_MAX_FILE	(1024 * 1024)

struct cache_entry {
	struct mdoc	*doc;
	unsigned	 gen;
};

struct scan_entry {
	struct diags	 diags;		/* symlinks leaving the repository */
	unsigned	 gen;
};

struct model_cache {
	struct table	 docs;		/* kind + oid -> cache_entry */
	struct table	 scans;		/* tree oid + dir -> scan_entry */
	unsigned	 gen;
	size_t		 parsed;
	size_t		 reused;
	size_t		 relinked;
};

struct model_priv {
	struct table	 by_name;	/* deployments */
	struct table	 bp_by_name;
	struct table	 env_by_name;
	struct table	 tmpl_by_name;
	struct mdoc	**docs;		/* references held by this model */
	size_t		 ndocs;
};

struct loader {
	struct source		*src;
	struct model_cache	*cache;
	const struct model	*prev;
	struct model		*m;
	struct model_priv	*p;
	bool			 own_cache;
};

struct model_cache *
model_cache_new(void)
{
	struct model_cache	*c = xcalloc(1, sizeof *c);

	table_init(&c->docs);
	table_init(&c->scans);
	return (c);
}

void
model_cache_free(struct model_cache *c)
{
	size_t	 i = 0;
	void	*v;

	if (c == NULL)
		return;
	while (table_next(&c->docs, &i, NULL, &v)) {
		mdoc_unref(((struct cache_entry *)v)->doc);
		free(v);
	}
	i = 0;
	while (table_next(&c->scans, &i, NULL, &v)) {
		diags_release(&((struct scan_entry *)v)->diags);
		free(v);
	}
	table_release(&c->docs);
	table_release(&c->scans);
	free(c);
}

void
model_cache_stats(const struct model_cache *c, size_t *parsed, size_t *reused,
    size_t *relinked)
{
	*parsed = c->parsed;
	*reused = c->reused;
	*relinked = c->relinked;
}

/* Drop what the last load did not use, once it is most of the cache. */
static void
model_cache_sweep(struct model_cache *c)
{
	struct table	 keep;
	size_t		 i = 0, used = 0;
	const char	*key;
	void		*v;

	while (table_next(&c->docs, &i, NULL, &v)) {
		if (((struct cache_entry *)v)->gen == c->gen)
			used++;
	}
	if (c->docs.count - used <= used / 2 + 64)
		return;
	table_init(&keep);
	i = 0;
	while (table_next(&c->docs, &i, &key, &v)) {
		struct cache_entry *e = v;

		if (e->gen == c->gen)
			table_put(&keep, key, 1 + GIT_OID_RAWSZ, e);
		else {
			mdoc_unref(e->doc);
			free(e);
		}
	}
	table_release(&c->docs);
	c->docs = keep;
}

static void
loader_hold(struct loader *ld, struct mdoc *d)
{
	struct model_priv	*p = ld->p;

	p->docs = xreallocarray(p->docs, p->ndocs + 1, sizeof *p->docs);
	p->docs[p->ndocs++] = mdoc_ref(d);
}

/* Report a document's own errors against its file. */
static void
loader_doc_diags(struct loader *ld, const struct mdoc *d, const char *file)
{
	size_t	i;

	for (i = 0; i < d->ndiags; i++)
		diags_add(&ld->m->diags, file, d->diags[i].line, "%s",
		    d->diags[i].message);
}

/* Parse a file, or take it from the cache by object id. */
static struct mdoc *
loader_parse(struct loader *ld, enum mdoc_kind kind, const char *path,
    const git_oid *oid)
{
	struct cache_entry	*e;
	struct mdoc		*d;
	unsigned char		 key[1 + GIT_OID_RAWSZ];
	char			*data;
	size_t			 len;
	int			 error;

	key[0] = (unsigned char)kind;
	memcpy(key + 1, oid->id, GIT_OID_RAWSZ);
	if ((e = table_get(&ld->cache->docs, key, sizeof key)) != NULL) {
		e->gen = ld->cache->gen;
		ld->cache->reused++;
		loader_hold(ld, e->doc);
		return (e->doc);
	}
	error = ld->src->ops->read(ld->src, path, oid, MODEL_MAX_FILE, &data,
	    &len);
	if (error != 0) {
		/* Unreadable: a document with just that error. */
		d = mdoc_parse(kind, "", 0);
		free(d->diags[0].message);
		d->diags[0].message = error == -EFBIG ?
		    xasprintf("file is larger than %d bytes", MODEL_MAX_FILE) :
		    xasprintf("cannot read the file: %s", strerror(-error));
	} else {
		d = mdoc_parse(kind, data, len);
		free(data);
	}
	ld->cache->parsed++;
	e = xcalloc(1, sizeof *e);
	e->doc = d;
	e->gen = ld->cache->gen;
	table_put(&ld->cache->docs, key, sizeof key, e);
	loader_hold(ld, d);
	return (d);
}

/*
 * List one of the top folders.  A missing folder is an empty one; a
 * symlink to a folder inside the repository is followed.
 */
static int
loader_list(struct loader *ld, const char *dir, struct source_list *out,
    char **resolved)
{
	struct source_entry	 e;
	char			*cause;
	int			 error;

	out->v = NULL;
	out->n = 0;
	*resolved = NULL;
	error = source_resolve(ld->src, dir, &e, resolved, &cause);
	if (error == -ENOENT)
		return (0);
	if (error != 0) {
		diags_add(&ld->m->diags, dir, 1, "%s", cause);
		free(cause);
		return (0);
	}
	if (e.type != SOURCE_TREE) {
		diags_add(&ld->m->diags, dir, 1, "'%s' must be a folder", dir);
		source_entry_release(&e);
		free(*resolved);
		*resolved = NULL;
		return (0);
	}
	source_entry_release(&e);
	return (ld->src->ops->list(ld->src, *resolved, out));
}

/*
 * Resolve a listed entry that may be a symlink: its final path, type and
 * object id.  Errors are reported against the entry's own path.
 */
static bool
loader_entry(struct loader *ld, const char *listed_dir, const char *shown_dir,
    const struct source_entry *e, char **path, struct source_entry *out)
{
	char	*cause, *shown;

	*path = xasprintf("%s/%s", listed_dir, e->name);
	if (e->type != SOURCE_LINK) {
		out->name = NULL;
		out->type = e->type;
		out->oid = e->oid;
		return (true);
	}
	free(*path);
	*path = NULL;
	{
		char *linkpath = xasprintf("%s/%s", listed_dir, e->name);
		int error = source_resolve(ld->src, linkpath, out, path, &cause);

		free(linkpath);
		if (error == 0) {
			free(out->name);
			out->name = NULL;
			return (true);
		}
	}
	shown = xasprintf("%s/%s", shown_dir, e->name);
	if (cause != NULL) {
		diags_add(&ld->m->diags, shown, 1, "%s", cause);
		free(cause);
	} else
		diags_add(&ld->m->diags, shown, 1,
		    "symlink '%s' points to nothing", shown);
	free(shown);
	return (false);
}

/* Strip ".yaml" from a file name; NULL when it is not a YAML file. */
static char *
yaml_basename(const char *name)
{
	size_t	len = strlen(name);

	if (len <= 5 || strcmp(name + len - 5, ".yaml") != 0 || name[0] == '.')
		return (NULL);
	return (xstrndup(name, len - 5));
}

static void
loader_name_error(struct loader *ld, const char *file, const char *what,
    const char *name)
{
	diags_add(&ld->m->diags, file, 1,
	    "invalid %s name '%s' (lowercase letters, digits and '-', at most %d, starting with a letter or digit)",
	    what, name, MODEL_NAME_MAX);
}

/* Walk a blueprint folder for symlinks that leave the repository. */
static void
scan_tree(struct loader *ld, const char *path, int depth, size_t *count,
    struct diags *out)
{
	struct source_list	 l;
	size_t			 i;

	if (depth > 64 || ld->src->ops->list(ld->src, path, &l) != 0)
		return;
	for (i = 0; i < l.n; i++) {
		char *sub = xasprintf("%s/%s", path, l.v[i].name);

		if (++*count > MODEL_MAX_TREE_ENTRIES) {
			if (*count == MODEL_MAX_TREE_ENTRIES + 1)
				diags_add(out, path, 1,
				    "more than %d files in a blueprint folder",
				    MODEL_MAX_TREE_ENTRIES);
			free(sub);
			break;
		}
		if (l.v[i].type == SOURCE_TREE)
			scan_tree(ld, sub, depth + 1, count, out);
		else if (l.v[i].type == SOURCE_LINK) {
			char	*target, *joined;
			size_t	 len;

			if (ld->src->ops->read(ld->src, sub, &l.v[i].oid, 4096,
			    &target, &len) == 0) {
				joined = source_join(path, target);
				if (joined == NULL)
					diags_add(out, sub, 1,
					    "symlink points outside the repository ('%s')",
					    target);
				free(joined);
				free(target);
			}
		} else if (l.v[i].type == SOURCE_OTHER)
			diags_add(out, sub, 1,
			    "submodules and special files are not supported in a blueprint");
		free(sub);
	}
	source_list_release(&l);
}

static void
loader_scan_blueprint(struct loader *ld, struct blueprint *bp,
    const char *path)
{
	struct scan_entry	*s = NULL;
	struct diags		 d;
	char			*key = NULL;
	size_t			 i, count = 0;
	bool			 cacheable = ld->src->commit != NULL;

	if (cacheable) {
		key = xasprintf("%s:%s", git_oid_tostr_s(&bp->tree), path);
		s = table_gets(&ld->cache->scans, key);
	}
	if (s == NULL) {
		diags_init(&d);
		scan_tree(ld, path, 0, &count, &d);
		s = xcalloc(1, sizeof *s);
		s->diags = d;
		if (cacheable)
			table_puts(&ld->cache->scans, key, s);
	}
	s->gen = ld->cache->gen;
	for (i = 0; i < s->diags.n; i++) {
		diags_add(&ld->m->diags, s->diags.v[i].file, s->diags.v[i].line,
		    "%s", s->diags.v[i].message);
		bp->valid = false;
	}
	if (!cacheable) {
		diags_release(&s->diags);
		free(s);
	}
	free(key);
}

/* A path named in blueprint.yaml must be a file inside its folder. */
static void
loader_check_path(struct loader *ld, struct blueprint *bp, const char *dir,
    const char *what, const char *rel, int line, bool exec)
{
	struct source_entry	 e;
	char			*path, *cause = NULL;
	size_t			 dlen = strlen(dir);
	int			 error;

	if (rel == NULL)
		return;
	path = source_join(dir, rel);
	if (path == NULL || strncmp(path, dir, dlen) != 0 || path[dlen] != '/') {
		diags_add(&ld->m->diags, bp->file, line,
		    "%s '%s' leaves the blueprint folder", what, rel);
		bp->valid = false;
		free(path);
		return;
	}
	error = source_resolve(ld->src, path, &e, NULL, &cause);
	if (error != 0) {
		if (cause != NULL)
			diags_add(&ld->m->diags, bp->file, line, "%s: %s", what,
			    cause);
		else
			diags_add(&ld->m->diags, bp->file, line,
			    "%s '%s' not found in %s", what, rel, bp->dir);
		bp->valid = false;
	} else if (e.type != SOURCE_FILE && e.type != SOURCE_EXEC) {
		diags_add(&ld->m->diags, bp->file, line,
		    "%s '%s' is not a file", what, rel);
		bp->valid = false;
	} else if (exec && e.type != SOURCE_EXEC) {
		diags_add(&ld->m->diags, bp->file, line,
		    "%s '%s' is not executable (chmod +x, or git update-index --chmod=+x)",
		    what, rel);
		bp->valid = false;
	}
	source_entry_release(&e);
	free(cause);
	free(path);
}

static void
loader_blueprints(struct loader *ld)
{
	struct source_list	 l;
	struct model		*m = ld->m;
	char			*listed;
	size_t			 i;

	if (loader_list(ld, "blueprints", &l, &listed) != 0 || listed == NULL)
		return;
	if (l.n > MODEL_MAX_BLUEPRINTS) {
		diags_add(&m->diags, "blueprints", 1,
		    "more than %d blueprints", MODEL_MAX_BLUEPRINTS);
		l.n = MODEL_MAX_BLUEPRINTS;
	}
	m->blueprints = xcalloc(l.n, sizeof *m->blueprints);
	for (i = 0; i < l.n; i++) {
		struct source_entry	 e, f;
		struct blueprint	*bp;
		struct blueprint_doc	*doc;
		char			*path, *file, *fpath, *cause;
		int			 error;

		if (l.v[i].name[0] == '.')
			continue;
		if (!loader_entry(ld, listed, "blueprints", &l.v[i], &path, &e))
			continue;
		if (e.type != SOURCE_TREE) {
			free(path);
			continue;	/* a file beside the blueprints */
		}
		fpath = xasprintf("%s/blueprint.yaml", path);
		error = source_resolve(ld->src, fpath, &f, NULL, &cause);
		file = xasprintf("blueprints/%s/blueprint.yaml", l.v[i].name);
		if (error != 0) {
			if (cause != NULL) {
				diags_add(&m->diags, file, 1, "%s", cause);
				free(cause);
			}
			free(file);
			free(fpath);
			free(path);
			continue;	/* not a blueprint */
		}
		if (f.type != SOURCE_FILE && f.type != SOURCE_EXEC) {
			diags_add(&m->diags, file, 1, "blueprint.yaml must be a file");
			source_entry_release(&f);
			free(file);
			free(fpath);
			free(path);
			continue;
		}
		bp = xcalloc(1, sizeof *bp);
		bp->name = xstrdup(l.v[i].name);
		bp->dir = xasprintf("blueprints/%s", l.v[i].name);
		bp->file = file;
		bp->valid = true;
		if (!model_name_valid(bp->name)) {
			loader_name_error(ld, file, "blueprint", bp->name);
			bp->valid = false;
		}
		if (l.v[i].type == SOURCE_TREE && ld->src->commit != NULL)
			bp->tree = l.v[i].oid;
		else if (ld->src->ops->tree_id(ld->src, path, &bp->tree) != 0) {
			diags_add(&m->diags, file, 1,
			    "cannot compute the blueprint's tree id");
			bp->valid = false;
		}
		doc = (struct blueprint_doc *)loader_parse(ld, MDOC_BLUEPRINT,
		    fpath, &f.oid);
		source_entry_release(&f);
		free(fpath);
		loader_doc_diags(ld, &doc->hdr, file);
		if (!doc->hdr.usable || doc->hdr.ndiags > 0)
			bp->valid = false;
		bp->doc = doc;
		bp->description = doc->description;
		bp->provider = doc->provider;
		bp->inputs = doc->inputs;
		bp->ninputs = doc->ninputs;
		bp->outputs = doc->outputs;
		bp->noutputs = doc->noutputs;
		memcpy(bp->timeout, doc->timeout, sizeof bp->timeout);
		bp->playbook = doc->playbook;
		bp->inventory = doc->inventory;
		bp->destroy_playbook = doc->destroy_playbook;
		bp->command = doc->command;
		bp->ncommand = doc->ncommand;

		loader_scan_blueprint(ld, bp, path);
		loader_check_path(ld, bp, path, "ansible.playbook",
		    doc->playbook, doc->playbook_line, false);
		loader_check_path(ld, bp, path, "ansible.inventory",
		    doc->inventory, doc->inventory_line, false);
		loader_check_path(ld, bp, path, "ansible.destroy_playbook",
		    doc->destroy_playbook, doc->destroy_line, false);
		if (doc->ncommand > 0)
			loader_check_path(ld, bp, path, "script.command",
			    doc->command[0], doc->command_line, true);
		free(path);
		m->blueprints[m->nblueprints++] = bp;
		table_puts(&ld->p->bp_by_name, bp->name, bp);
	}
	source_list_release(&l);
	free(listed);
}

/* Environments, templates or deployments: NAME.yaml files in a folder. */
static void
loader_files(struct loader *ld, const char *dir, enum mdoc_kind kind,
    size_t max, void (*add)(struct loader *, const char *, const char *,
    struct mdoc *))
{
	struct source_list	 l;
	char			*listed;
	size_t			 i, count = 0;

	if (loader_list(ld, dir, &l, &listed) != 0 || listed == NULL)
		return;
	for (i = 0; i < l.n; i++) {
		struct source_entry	 e;
		struct mdoc		*doc;
		char			*name, *path, *file;

		if ((name = yaml_basename(l.v[i].name)) == NULL)
			continue;
		if (l.v[i].type == SOURCE_TREE || l.v[i].type == SOURCE_OTHER) {
			free(name);
			continue;
		}
		if (++count > max) {
			if (count == max + 1)
				diags_add(&ld->m->diags, dir, 1,
				    "more than %zu files in %s/", max, dir);
			free(name);
			continue;
		}
		if (!loader_entry(ld, listed, dir, &l.v[i], &path, &e)) {
			free(name);
			continue;
		}
		file = xasprintf("%s/%s", dir, l.v[i].name);
		if (e.type != SOURCE_FILE && e.type != SOURCE_EXEC) {
			diags_add(&ld->m->diags, file, 1, "not a file");
			free(file);
			free(path);
			free(name);
			continue;
		}
		doc = loader_parse(ld, kind, path, &e.oid);
		loader_doc_diags(ld, doc, file);
		add(ld, name, file, doc);
		free(path);
		free(name);
		free(file);
	}
	source_list_release(&l);
	free(listed);
}

static void
add_environment(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc)
{
	struct model		*m = ld->m;
	struct environment	*env = xcalloc(1, sizeof *env);

	env->name = xstrdup(name);
	env->file = xstrdup(file);
	env->doc = (struct environment_doc *)doc;
	env->valid = doc->usable && doc->ndiags == 0;
	env->terraform_binary = env->doc->terraform_binary != NULL ?
	    env->doc->terraform_binary : "terraform";
	if (!model_name_valid(name)) {
		loader_name_error(ld, file, "environment", name);
		env->valid = false;
	}
	m->environments = xreallocarray(m->environments, m->nenvironments + 1,
	    sizeof *m->environments);
	m->environments[m->nenvironments++] = env;
	table_puts(&ld->p->env_by_name, name, env);
}

static void
add_template(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc)
{
	struct model		*m = ld->m;
	struct template		*t = xcalloc(1, sizeof *t);
	struct template_doc	*td = (struct template_doc *)doc;
	size_t			 before = m->diags.n;

	t->name = xstrdup(name);
	t->file = xstrdup(file);
	t->doc = td;
	t->valid = doc->usable && doc->ndiags == 0;
	if (!model_name_valid(name)) {
		loader_name_error(ld, file, "template", name);
		t->valid = false;
	}
	if (td->blueprint != NULL) {
		struct blueprint *bp = table_gets(&ld->p->bp_by_name,
		    td->blueprint);

		if (bp == NULL) {
			diags_add(&m->diags, file, td->blueprint_line,
			    "blueprint '%s' not found (no blueprints/%s/blueprint.yaml)",
			    td->blueprint, td->blueprint);
		} else if (bp->doc->hdr.usable)
			dlink_check_template_inputs(&m->diags, file, td,
			    bp->name, bp->doc);
		if (m->diags.n != before)
			t->valid = false;
	}
	m->templates = xreallocarray(m->templates, m->ntemplates + 1,
	    sizeof *m->templates);
	m->templates[m->ntemplates++] = t;
	table_puts(&ld->p->tmpl_by_name, name, t);
}

static void
add_deployment(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc)
{
	struct model		*m = ld->m;
	struct deployment	*d = xcalloc(1, sizeof *d);

	d->name = xstrdup(name);
	d->file = xstrdup(file);
	d->doc = (struct deployment_doc *)doc;
	d->valid = doc->usable && doc->ndiags == 0;
	if (doc->ndiags > 0)
		d->cause = xasprintf("%s:%d: %s", file, doc->diags[0].line,
		    doc->diags[0].message);
	if (!model_name_valid(name)) {
		loader_name_error(ld, file, "deployment", name);
		if (d->valid)
			d->cause = xasprintf("%s:1: invalid deployment name", file);
		d->valid = false;
	}
	if ((m->ndeployments & (m->ndeployments - 1)) == 0)
		m->deployments = xreallocarray(m->deployments,
		    m->ndeployments == 0 ? 1 : m->ndeployments * 2,
		    sizeof *m->deployments);
	m->deployments[m->ndeployments++] = d;
	table_puts(&ld->p->by_name, name, d);
}

static void
invalidate(struct deployment *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
invalidate(struct deployment *d, const char *fmt, ...)
{
	va_list	ap;

	if (d->valid || d->cause == NULL) {
		free(d->cause);
		va_start(ap, fmt);
		d->cause = xvasprintf(fmt, ap);
		va_end(ap);
	}
	d->valid = false;
}

static void
policy_merge(struct policy *out, const struct policy *over)
{
	if (over->approval != POLICY_UNSET)
		out->approval = over->approval;
	if (over->prune != POLICY_UNSET)
		out->prune = over->prune;
	if (over->drift_check != POLICY_UNSET)
		out->drift_check = over->drift_check;
	if (over->drift != POLICY_UNSET)
		out->drift = over->drift;
}

/* Put a deployment's parts together, reusing the previous link. */
static void
loader_link(struct loader *ld, struct deployment *d)
{
	const struct deployment_doc	*dd = d->doc;
	struct dlink_key		 k;
	struct deployment		*old;
	size_t				 i;

	d->description = dd->description;
	d->suspended = dd->suspended;
	d->policy.approval = APPROVAL_AUTO;
	d->policy.prune = 0;
	d->policy.drift_check = 0;
	d->policy.drift = DRIFT_DETECT;
	if (!dd->hdr.usable)
		return;

	d->blueprint = table_gets(&ld->p->bp_by_name, dd->blueprint);
	d->environment = table_gets(&ld->p->env_by_name, dd->environment);
	if (dd->template != NULL)
		d->template = table_gets(&ld->p->tmpl_by_name, dd->template);
	if (d->environment != NULL && d->environment->doc->hdr.usable)
		policy_merge(&d->policy, &d->environment->doc->policy);
	policy_merge(&d->policy, &dd->policy);

	if (d->blueprint == NULL) {
		diags_add(&ld->m->diags, d->file, dd->blueprint_line,
		    "blueprint '%s' not found (no blueprints/%s/blueprint.yaml)",
		    dd->blueprint, dd->blueprint);
		invalidate(d, "%s:%d: blueprint '%s' not found", d->file,
		    dd->blueprint_line, dd->blueprint);
	} else if (!d->blueprint->valid)
		invalidate(d, "blueprint '%s' is invalid", d->blueprint->name);
	if (d->environment == NULL) {
		diags_add(&ld->m->diags, d->file, dd->environment_line,
		    "environment '%s' not found (no environments/%s.yaml)",
		    dd->environment, dd->environment);
		invalidate(d, "%s:%d: environment '%s' not found", d->file,
		    dd->environment_line, dd->environment);
	} else if (!d->environment->valid)
		invalidate(d, "environment '%s' is invalid",
		    d->environment->name);
	if (dd->template != NULL && d->template == NULL) {
		diags_add(&ld->m->diags, d->file, dd->template_line,
		    "template '%s' not found (no templates/%s.yaml)",
		    dd->template, dd->template);
		invalidate(d, "%s:%d: template '%s' not found", d->file,
		    dd->template_line, dd->template);
	} else if (d->template != NULL && !d->template->valid)
		invalidate(d, "template '%s' is invalid", d->template->name);
	if (d->template != NULL && d->blueprint != NULL &&
	    d->template->doc->blueprint != NULL &&
	    strcmp(d->template->doc->blueprint, d->blueprint->name) != 0) {
		diags_add(&ld->m->diags, d->file, dd->template_line,
		    "template '%s' is for blueprint '%s', not '%s'",
		    d->template->name, d->template->doc->blueprint,
		    d->blueprint->name);
		invalidate(d, "%s:%d: template '%s' is for blueprint '%s'",
		    d->file, dd->template_line, d->template->name,
		    d->template->doc->blueprint);
	}

	/* Linking needs documents that parsed, even if invalid elsewhere. */
	if (d->blueprint == NULL || !d->blueprint->doc->hdr.usable ||
	    d->environment == NULL || !d->environment->doc->hdr.usable ||
	    (dd->template != NULL && (d->template == NULL ||
	    !d->template->doc->hdr.usable)))
		return;

	k.dep = dd;
	k.bp = d->blueprint->doc;
	k.env = d->environment->doc;
	k.tmpl = d->template != NULL ? d->template->doc : NULL;
	old = ld->prev != NULL ? model_deployment(ld->prev, d->name) : NULL;
	if (old != NULL && old->link != NULL &&
	    memcmp(&old->link->key, &k, sizeof k) == 0)
		d->link = dlink_ref(old->link);
	else {
		d->link = dlink_build(&k, d->file, d->environment->file,
		    d->template != NULL ? d->template->file : NULL,
		    d->blueprint->name);
		ld->cache->relinked++;
	}
	d->inputs = d->link->inputs;
	d->ninputs = d->link->ninputs;
	d->env = d->link->env;
	d->nenv = d->link->nenv;
	d->refs = d->link->refs;
	d->nrefs = d->link->nrefs;
	for (i = 0; i < d->link->diags.n; i++) {
		const struct diag *g = &d->link->diags.v[i];

		diags_add(&ld->m->diags, g->file, g->line, "%s", g->message);
		if (i == 0)
			invalidate(d, "%s:%d: %s", g->file, g->line, g->message);
	}
}

static void
needs_add(struct deployment *d, struct deployment *up, int **lines, int line)
{
	size_t	i;

	for (i = 0; i < d->nneeds; i++) {
		if (d->needs[i] == up)
			return;
	}
	d->needs = xreallocarray(d->needs, d->nneeds + 1, sizeof *d->needs);
	*lines = xreallocarray(*lines, d->nneeds + 1, sizeof **lines);
	(*lines)[d->nneeds] = line;
	d->needs[d->nneeds++] = up;
}

static void
outputs_list(char *buf, size_t size, const struct blueprint *bp)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < bp->noutputs; i++) {
		if (i > 0)
			strlcat(buf, ", ", size);
		strlcat(buf, bp->outputs[i], size);
	}
}

/* References and dependencies: they must name what exists. */
static void
loader_edges(struct loader *ld, struct deployment *d, int **lines)
{
	const struct deployment_doc	*dd = d->doc;
	size_t				 i, j;
	char				 list[512];

	*lines = NULL;
	if (dd == NULL || !dd->hdr.usable)
		return;
	for (i = 0; i < dd->ndepends; i++) {
		struct deployment *up = table_gets(&ld->p->by_name,
		    dd->depends[i]);

		if (up == d) {
			diags_add(&ld->m->diags, d->file, dd->depends_line[i],
			    "deployment '%s' depends on itself", d->name);
			invalidate(d, "%s:%d: depends on itself", d->file,
			    dd->depends_line[i]);
		} else if (up == NULL) {
			diags_add(&ld->m->diags, d->file, dd->depends_line[i],
			    "depends on deployment '%s' that does not exist",
			    dd->depends[i]);
			invalidate(d, "%s:%d: depends on deployment '%s' that does not exist",
			    d->file, dd->depends_line[i], dd->depends[i]);
		} else
			needs_add(d, up, lines, dd->depends_line[i]);
	}
	for (i = 0; i < d->nrefs; i++) {
		const struct output_ref	*r = &d->refs[i];
		struct deployment	*up = table_gets(&ld->p->by_name,
		    r->deployment);

		if (up == d) {
			diags_add(&ld->m->diags, r->file, r->line,
			    "deployment '%s' refers to its own output '%s'",
			    d->name, r->output);
			invalidate(d, "%s:%d: refers to its own output", r->file,
			    r->line);
			continue;
		}
		if (up == NULL) {
			diags_add(&ld->m->diags, r->file, r->line,
			    "refers to deployment '%s' that does not exist",
			    r->deployment);
			invalidate(d, "%s:%d: refers to deployment '%s' that does not exist",
			    r->file, r->line, r->deployment);
			continue;
		}
		if (up->blueprint != NULL && up->blueprint->doc->hdr.usable) {
			for (j = 0; j < up->blueprint->noutputs; j++) {
				if (strcmp(up->blueprint->outputs[j],
				    r->output) == 0)
					break;
			}
			if (j == up->blueprint->noutputs) {
				outputs_list(list, sizeof list, up->blueprint);
				diags_add(&ld->m->diags, r->file, r->line,
				    "deployment '%s' has no output '%s' (blueprint '%s' declares %s%s)",
				    up->name, r->output, up->blueprint->name,
				    list[0] != '\0' ? "" : "no outputs",
				    list);
				invalidate(d, "%s:%d: deployment '%s' has no output '%s'",
				    r->file, r->line, up->name, r->output);
				continue;
			}
		}
		needs_add(d, up, lines, strcmp(r->file, d->file) == 0 ?
		    r->line : 1);
	}
}

/*
 * Cycles: Tarjan's strongly connected components, iteratively.  Each
 * component of more than one deployment is reported once, at its first
 * member by name, as the path around the cycle.
 */
struct tarjan {
	size_t	*index;
	size_t	*low;
	bool	*on;
	size_t	*stack;
	size_t	 sp;
	size_t	 next;
};

static void
loader_cycle(struct loader *ld, struct deployment **members, size_t n,
    int **lines, struct table *pos)
{
	struct deployment	*first = members[0], *cur;
	struct table		 in;
	size_t			 i, j, *parent, *queue, head = 0, tail = 0;
	size_t			 npath = 0, *path;
	char			*s, *t;
	int			 line = 1;
	bool			 found = false;

	for (i = 1; i < n; i++) {
		if (strcmp(members[i]->name, first->name) < 0)
			first = members[i];
	}
	table_init(&in);
	for (i = 0; i < n; i++)
		table_puts(&in, members[i]->name, (void *)(uintptr_t)(i + 1));
	/* Breadth-first from first to a member that needs first. */
	parent = xcalloc(n, sizeof *parent);
	queue = xcalloc(n, sizeof *queue);
	path = xcalloc(n + 1, sizeof *path);
	for (i = 0; i < n; i++)
		parent[i] = SIZE_MAX;
	i = (size_t)(uintptr_t)table_gets(&in, first->name) - 1;
	parent[i] = i;
	queue[tail++] = i;
	while (head < tail && !found) {
		cur = members[queue[head++]];
		for (j = 0; j < cur->nneeds; j++) {
			size_t k = (size_t)(uintptr_t)table_gets(&in,
			    cur->needs[j]->name);

			if (k == 0)
				continue;
			k--;
			if (cur->needs[j] == first) {
				/* Walk back from cur to first. */
				size_t at = queue[head - 1];

				for (;;) {
					path[npath++] = at;
					if (members[at] == first)
						break;
					at = parent[at];
				}
				found = true;
				break;
			}
			if (parent[k] == SIZE_MAX) {
				parent[k] = queue[head - 1];
				queue[tail++] = k;
			}
		}
	}
	/* path holds cur ... first; print first -> ... -> cur -> first. */
	s = xasprintf("dependency cycle: %s", first->name);
	for (i = npath; i > 1; i--) {
		t = xasprintf("%s -> %s", s, members[path[i - 2]]->name);
		free(s);
		s = t;
	}
	t = xasprintf("%s -> %s", s, first->name);
	free(s);
	s = t;
	if (npath > 1) {
		struct deployment *second = members[path[npath - 2]];

		for (j = 0; j < first->nneeds; j++) {
			if (first->needs[j] == second) {
				size_t fp = (size_t)(uintptr_t)table_gets(pos,
				    first->name) - 1;

				line = lines[fp][j];
				break;
			}
		}
	} else {
		size_t fp = (size_t)(uintptr_t)table_gets(pos, first->name) - 1;

		for (j = 0; j < first->nneeds; j++) {
			if (first->needs[j] == first)
				line = lines[fp][j];
		}
	}
	diags_add(&ld->m->diags, first->file, line, "%s", s);
	for (i = 0; i < n; i++)
		invalidate(members[i], "%s", s);
	free(s);
	free(parent);
	free(queue);
	free(path);
	table_release(&in);
}

static void
loader_cycles(struct loader *ld, int **lines)
{
	struct model		 *m = ld->m;
	struct tarjan		  t;
	struct table		  pos;
	size_t			  n = m->ndeployments, i, root;
	size_t			 *edge, *callstack, csp;

	if (n == 0)
		return;
	table_init(&pos);
	for (i = 0; i < n; i++)
		table_puts(&pos, m->deployments[i]->name,
		    (void *)(uintptr_t)(i + 1));
	t.index = xcalloc(n, sizeof *t.index);
	t.low = xcalloc(n, sizeof *t.low);
	t.on = xcalloc(n, sizeof *t.on);
	t.stack = xcalloc(n, sizeof *t.stack);
	edge = xcalloc(n, sizeof *edge);
	callstack = xcalloc(n, sizeof *callstack);
	t.sp = 0;
	t.next = 1;
	for (root = 0; root < n; root++) {
		if (t.index[root] != 0 || m->deployments[root]->nneeds == 0)
			continue;
		csp = 0;
		callstack[csp++] = root;
		t.index[root] = t.low[root] = t.next++;
		t.stack[t.sp++] = root;
		t.on[root] = true;
		while (csp > 0) {
			size_t			 v = callstack[csp - 1];
			struct deployment	*d = m->deployments[v];

			if (edge[v] < d->nneeds) {
				size_t w = (size_t)(uintptr_t)table_gets(&pos,
				    d->needs[edge[v]++]->name) - 1;

				if (t.index[w] == 0) {
					t.index[w] = t.low[w] = t.next++;
					t.stack[t.sp++] = w;
					t.on[w] = true;
					callstack[csp++] = w;
				} else if (t.on[w] && t.index[w] < t.low[v])
					t.low[v] = t.index[w];
				continue;
			}
			if (t.low[v] == t.index[v]) {
				struct deployment	**members;
				size_t			  k = 0, w;
				bool			  self = false;

				for (w = 0; w < d->nneeds; w++)
					if (d->needs[w] == d)
						self = true;
				members = xcalloc(t.sp, sizeof *members);
				do {
					w = t.stack[--t.sp];
					t.on[w] = false;
					members[k++] = m->deployments[w];
				} while (w != v);
				if (k > 1 || self)
					loader_cycle(ld, members, k, lines, &pos);
				free(members);
			}
			csp--;
			if (csp > 0) {
				size_t u = callstack[csp - 1];

				if (t.low[v] < t.low[u])
					t.low[u] = t.low[v];
			}
		}
	}
	free(t.index);
	free(t.low);
	free(t.on);
	free(t.stack);
	free(edge);
	free(callstack);
	table_release(&pos);
}

int
model_load(struct model **out, struct source *src, struct model_cache *cache,
    const struct model *prev, char **cause)
{
	struct loader	 ld;
	struct model	*m;
	int		**lines;
	size_t		  i;

	*out = NULL;
	*cause = NULL;
	memset(&ld, 0, sizeof ld);
	ld.src = src;
	ld.prev = prev;
	if (cache == NULL) {
		cache = model_cache_new();
		ld.own_cache = true;
	}
	ld.cache = cache;
	cache->gen++;
	cache->parsed = cache->reused = cache->relinked = 0;

	m = xcalloc(1, sizeof *m);
	ld.p = xcalloc(1, sizeof *ld.p);
	table_init(&ld.p->by_name);
	table_init(&ld.p->bp_by_name);
	table_init(&ld.p->env_by_name);
	table_init(&ld.p->tmpl_by_name);
	m->priv = ld.p;
	diags_init(&m->diags);
	m->commit = src->commit != NULL ? xstrdup(src->commit) : NULL;
	ld.m = m;

	loader_blueprints(&ld);
	loader_files(&ld, "environments", MDOC_ENVIRONMENT,
	    MODEL_MAX_ENVIRONMENTS, add_environment);
	loader_files(&ld, "templates", MDOC_TEMPLATE, MODEL_MAX_TEMPLATES,
	    add_template);
	loader_files(&ld, "deployments", MDOC_DEPLOYMENT,
	    MODEL_MAX_DEPLOYMENTS, add_deployment);

	for (i = 0; i < m->ndeployments; i++)
		loader_link(&ld, m->deployments[i]);
	lines = xcalloc(m->ndeployments + 1, sizeof *lines);
	for (i = 0; i < m->ndeployments; i++)
		loader_edges(&ld, m->deployments[i], &lines[i]);
	loader_cycles(&ld, lines);
	for (i = 0; i < m->ndeployments; i++)
		free(lines[i]);
	free(lines);

	diags_sort(&m->diags);
	model_cache_sweep(cache);
	if (ld.own_cache)
		model_cache_free(cache);
	*out = m;
	return (0);
}

void
model_free(struct model *m)
{
	struct model_priv	*p;
	size_t			 i;

	if (m == NULL)
		return;
	p = m->priv;
	for (i = 0; i < m->nblueprints; i++) {
		free(m->blueprints[i]->name);
		free(m->blueprints[i]->dir);
		free(m->blueprints[i]->file);
		free(m->blueprints[i]);
	}
	for (i = 0; i < m->nenvironments; i++) {
		free(m->environments[i]->name);
		free(m->environments[i]->file);
		free(m->environments[i]);
	}
	for (i = 0; i < m->ntemplates; i++) {
		free(m->templates[i]->name);
		free(m->templates[i]->file);
		free(m->templates[i]);
	}
	for (i = 0; i < m->ndeployments; i++) {
		struct deployment *d = m->deployments[i];

		free(d->name);
		free(d->file);
		free(d->cause);
		free(d->needs);
		dlink_unref(d->link);
		free(d);
	}
	free(m->blueprints);
	free(m->environments);
	free(m->templates);
	free(m->deployments);
	for (i = 0; i < p->ndocs; i++)
		mdoc_unref(p->docs[i]);
	free(p->docs);
	table_release(&p->by_name);
	table_release(&p->bp_by_name);
	table_release(&p->env_by_name);
	table_release(&p->tmpl_by_name);
	free(p);
	diags_release(&m->diags);
	free(m->commit);
	free(m);
}

struct deployment *
model_deployment(const struct model *m, const char *name)
{
	return (table_gets(&((struct model_priv *)m->priv)->by_name, name));
}

struct blueprint *
model_blueprint(const struct model *m, const char *name)
{
	return (table_gets(&((struct model_priv *)m->priv)->bp_by_name, name));
}

size_t
model_invalid_count(const struct model *m)
{
	size_t	i, n = 0;

	for (i = 0; i < m->ndeployments; i++) {
		if (!m->deployments[i]->valid)
			n++;
	}
	return (n);
}
