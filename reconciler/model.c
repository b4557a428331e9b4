/*
 * Loading a config repository into a model: walk the source, parse each
 * file once per object id (the cache), link every deployment (reusing the
 * previous commit's results where nothing it depends on changed), then the
 * checks that span deployments: references, dependencies and cycles (the
 * last two in model-graph.c).
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
	bool		 has_link;	/* any symlink in the folder */
	unsigned	 gen;
};

struct model_cache {
	struct table	 docs;		/* kind + oid -> cache_entry */
	struct table	 scans;		/* tree oid + dir -> scan_entry */
	unsigned	 gen;
	unsigned	 serial;	/* tells caches apart */
	size_t		 added;		/* documents added by delta loads */
	size_t		 parsed;
	size_t		 reused;
	size_t		 relinked;
};

/*
 * What the models of commits whose blueprints/, environments/ and
 * templates/ folders are the same share: those parts, with the documents
 * they hold.
 */
struct model_parts {
	unsigned		  nref;
	struct blueprint	**blueprints;
	size_t			  nblueprints;
	struct environment	**environments;
	size_t			  nenvironments;
	struct template		**templates;
	size_t			  ntemplates;
	struct table		  bp_by_name;
	struct table		  env_by_name;
	struct table		  tmpl_by_name;
	struct mdoc		**docs;
	size_t			  ndocs;
};

/*
 * Deployment name -> index + 1, and the file names in order, one after the
 * other: shared while no file is added or removed.
 */
struct model_names {
	unsigned	 nref;
	struct table	 by_name;
	char		*files;		/* "NAME.yaml\0NAME.yaml\0..." */
};

/* The top folders, by index. */
enum { TOP_BLUEPRINTS, TOP_ENVIRONMENTS, TOP_TEMPLATES, TOP_DEPLOYMENTS,
    TOP_COUNT };
static const char *const top_dirs[TOP_COUNT] = { "blueprints",
    "environments", "templates", "deployments" };

struct model_priv {
	struct model_parts	*parts;
	struct model_names	*names;
	/* For the next load: can it start from this model? */
	unsigned		 cache_serial;
	bool			 delta_ok;
	git_oid			 top[TOP_COUNT];	/* zero when absent */
	git_oid			*oids;		/* of each deployment's file */
};

struct loader {
	struct source		*src;
	struct model_cache	*cache;
	const struct model	*prev;
	struct model		*m;
	struct model_priv	*p;
	bool			 own_cache;
	bool			 saw_link;	/* a symlink anywhere */
};

struct model_cache *
model_cache_new(void)
{
	static unsigned		 serial;
	struct model_cache	*c = xcalloc(1, sizeof *c);

	c->serial = ++serial;
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

/* Used by the last load. */
static bool
cache_entry_used(const struct model_cache *c, const struct cache_entry *e)
{
	return (e->gen == c->gen);
}

/* Held by a model as well as by the cache. */
static bool
cache_entry_held(const struct model_cache *c, const struct cache_entry *e)
{
	(void)c;
	return (e->doc->refs > 1);
}

/* Drop every entry but those keep wants. */
static void
model_cache_keep(struct model_cache *c, bool (*keep)(const struct model_cache *,
    const struct cache_entry *))
{
	struct table	 kept;
	size_t		 i = 0;
	const char	*key;
	void		*v;

	table_init(&kept);
	while (table_next(&c->docs, &i, &key, &v)) {
		struct cache_entry *e = v;

		if (keep(c, e))
			table_put(&kept, key, 1 + GIT_OID_RAWSZ, e);
		else {
			mdoc_unref(e->doc);
			free(e);
		}
	}
	table_release(&c->docs);
	c->docs = kept;
}

/* Drop what the last load did not use, once it is most of the cache. */
static void
model_cache_sweep(struct model_cache *c)
{
	size_t	 i = 0, used = 0;
	void	*v;

	while (table_next(&c->docs, &i, NULL, &v)) {
		if (cache_entry_used(c, v))
			used++;
	}
	if (c->docs.count - used <= used / 2 + 64)
		return;
	model_cache_keep(c, cache_entry_used);
}

/*
 * After delta loads have added documents for a while, drop the cache
 * entries that no model holds any more.
 */
static void
model_cache_trim(struct model_cache *c)
{
	if (c->added <= 64 + c->docs.count / 4)
		return;
	c->added = 0;
	model_cache_keep(c, cache_entry_held);
}

/* Blueprints, environments and templates hold their documents here. */
static void
loader_hold(struct loader *ld, struct mdoc *d)
{
	struct model_parts	*p = ld->p->parts;

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
	if (e->type == SOURCE_LINK)
		ld->saw_link = true;
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
    struct diags *out, bool *has_link)
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
			scan_tree(ld, sub, depth + 1, count, out, has_link);
		else if (l.v[i].type == SOURCE_LINK) {
			char	*target, *joined;
			size_t	 len;

			*has_link = true;
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
		s = xcalloc(1, sizeof *s);
		scan_tree(ld, path, 0, &count, &d, &s->has_link);
		s->diags = d;
		if (cacheable)
			table_puts(&ld->cache->scans, key, s);
	}
	s->gen = ld->cache->gen;
	if (s->has_link)
		ld->saw_link = true;
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
		loader_hold(ld, &doc->hdr);
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
		table_puts(&ld->p->parts->bp_by_name, bp->name, bp);
	}
	source_list_release(&l);
	free(listed);
}

/* Environments, templates or deployments: NAME.yaml files in a folder. */
static void
loader_files(struct loader *ld, const char *dir, enum mdoc_kind kind,
    size_t max, void (*add)(struct loader *, const char *, const char *,
    struct mdoc *, const git_oid *))
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
		add(ld, name, file, doc, &e.oid);
		free(path);
		free(name);
		free(file);
	}
	source_list_release(&l);
	free(listed);
}

static void
add_environment(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc, const git_oid *oid)
{
	struct model		*m = ld->m;
	struct environment	*env = xcalloc(1, sizeof *env);

	(void)oid;
	loader_hold(ld, doc);
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
	table_puts(&ld->p->parts->env_by_name, name, env);
}

static void
add_template(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc, const git_oid *oid)
{
	struct model		*m = ld->m;
	struct template		*t = xcalloc(1, sizeof *t);
	struct template_doc	*td = (struct template_doc *)doc;
	size_t			 before = m->diags.n;

	(void)oid;
	loader_hold(ld, doc);
	t->name = xstrdup(name);
	t->file = xstrdup(file);
	t->doc = td;
	t->valid = doc->usable && doc->ndiags == 0;
	if (!model_name_valid(name)) {
		loader_name_error(ld, file, "template", name);
		t->valid = false;
	}
	if (td->blueprint != NULL) {
		struct blueprint *bp = table_gets(&ld->p->parts->bp_by_name,
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
	table_puts(&ld->p->parts->tmpl_by_name, name, t);
}

static struct deployment *
deployment_new(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc, const git_oid *oid)
{
	struct deployment	*d = xcalloc(1, sizeof *d);

	d->nref = 1;
	d->name = xstrdup(name);
	d->file = xstrdup(file);
	d->doc = (struct deployment_doc *)mdoc_ref(doc);
	d->oid = *oid;
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
	return (d);
}

static void
deployment_unref(struct deployment *d)
{
	if (d == NULL || --d->nref > 0)
		return;
	free(d->name);
	free(d->file);
	free(d->cause);
	free(d->needs);
	dlink_unref(d->link);
	mdoc_unref((struct mdoc *)&d->doc->hdr);
	free(d);
}

static void
add_deployment(struct loader *ld, const char *name, const char *file,
    struct mdoc *doc, const git_oid *oid)
{
	struct model		*m = ld->m;
	struct deployment	*d = deployment_new(ld, name, file, doc, oid);

	if ((m->ndeployments & (m->ndeployments - 1)) == 0)
		m->deployments = xreallocarray(m->deployments,
		    m->ndeployments == 0 ? 1 : m->ndeployments * 2,
		    sizeof *m->deployments);
	m->deployments[m->ndeployments++] = d;
	table_puts(&ld->p->names->by_name, name,
	    (void *)(uintptr_t)m->ndeployments);
}

void
deployment_invalidate(struct deployment *d, const char *fmt, ...)
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

	d->blueprint = table_gets(&ld->p->parts->bp_by_name, dd->blueprint);
	d->environment = table_gets(&ld->p->parts->env_by_name, dd->environment);
	if (dd->template != NULL)
		d->template = table_gets(&ld->p->parts->tmpl_by_name, dd->template);
	if (d->environment != NULL && d->environment->doc->hdr.usable)
		policy_merge(&d->policy, &d->environment->doc->policy);
	policy_merge(&d->policy, &dd->policy);

	if (d->blueprint == NULL) {
		diags_add(&ld->m->diags, d->file, dd->blueprint_line,
		    "blueprint '%s' not found (no blueprints/%s/blueprint.yaml)",
		    dd->blueprint, dd->blueprint);
		deployment_invalidate(d, "%s:%d: blueprint '%s' not found",
		    d->file, dd->blueprint_line, dd->blueprint);
	} else if (!d->blueprint->valid)
		deployment_invalidate(d, "blueprint '%s' is invalid",
		    d->blueprint->name);
	if (d->environment == NULL) {
		diags_add(&ld->m->diags, d->file, dd->environment_line,
		    "environment '%s' not found (no environments/%s.yaml)",
		    dd->environment, dd->environment);
		deployment_invalidate(d, "%s:%d: environment '%s' not found",
		    d->file, dd->environment_line, dd->environment);
	} else if (!d->environment->valid)
		deployment_invalidate(d, "environment '%s' is invalid",
		    d->environment->name);
	if (dd->template != NULL && d->template == NULL) {
		diags_add(&ld->m->diags, d->file, dd->template_line,
		    "template '%s' not found (no templates/%s.yaml)",
		    dd->template, dd->template);
		deployment_invalidate(d, "%s:%d: template '%s' not found",
		    d->file, dd->template_line, dd->template);
	} else if (d->template != NULL && !d->template->valid)
		deployment_invalidate(d, "template '%s' is invalid",
		    d->template->name);
	if (d->template != NULL && d->blueprint != NULL &&
	    d->template->doc->blueprint != NULL &&
	    strcmp(d->template->doc->blueprint, d->blueprint->name) != 0) {
		diags_add(&ld->m->diags, d->file, dd->template_line,
		    "template '%s' is for blueprint '%s', not '%s'",
		    d->template->name, d->template->doc->blueprint,
		    d->blueprint->name);
		deployment_invalidate(d,
		    "%s:%d: template '%s' is for blueprint '%s'", d->file,
		    dd->template_line, d->template->name,
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
			deployment_invalidate(d, "%s:%d: %s", g->file,
			    g->line, g->message);
	}
}

/* Did the diagnostics added since before name another file than d's? */
static void
loader_note_diags(struct loader *ld, struct deployment *d, size_t before)
{
	size_t	i;

	for (i = before; i < ld->m->diags.n; i++) {
		if (strcmp(ld->m->diags.v[i].file, d->file) != 0)
			d->diags_elsewhere = true;
	}
}

static struct model_parts *
parts_new(void)
{
	struct model_parts	*p = xcalloc(1, sizeof *p);

	p->nref = 1;
	table_init(&p->bp_by_name);
	table_init(&p->env_by_name);
	table_init(&p->tmpl_by_name);
	return (p);
}

static void
parts_unref(struct model_parts *p)
{
	size_t	i;

	if (p == NULL || --p->nref > 0)
		return;
	for (i = 0; i < p->nblueprints; i++) {
		free(p->blueprints[i]->name);
		free(p->blueprints[i]->dir);
		free(p->blueprints[i]->file);
		free(p->blueprints[i]);
	}
	for (i = 0; i < p->nenvironments; i++) {
		free(p->environments[i]->name);
		free(p->environments[i]->file);
		free(p->environments[i]);
	}
	for (i = 0; i < p->ntemplates; i++) {
		free(p->templates[i]->name);
		free(p->templates[i]->file);
		free(p->templates[i]);
	}
	free(p->blueprints);
	free(p->environments);
	free(p->templates);
	for (i = 0; i < p->ndocs; i++)
		mdoc_unref(p->docs[i]);
	free(p->docs);
	table_release(&p->bp_by_name);
	table_release(&p->env_by_name);
	table_release(&p->tmpl_by_name);
	free(p);
}

static void
names_unref(struct model_names *n)
{
	if (n == NULL || --n->nref > 0)
		return;
	table_release(&n->by_name);
	free(n->files);
	free(n);
}

/* A new, empty model for ld. */
static struct model *
loader_start(struct loader *ld)
{
	struct model	*m = xcalloc(1, sizeof *m);

	ld->p = xcalloc(1, sizeof *ld->p);
	ld->p->cache_serial = ld->cache->serial;
	m->priv = ld->p;
	diags_init(&m->diags);
	m->commit = ld->src->commit != NULL ? xstrdup(ld->src->commit) : NULL;
	ld->m = m;
	return (m);
}

/*
 * Record the top folders' tree ids, and whether the next load may start
 * from this model: a Git source, the same cache, no symlink anywhere.
 */
static void
loader_finish(struct loader *ld)
{
	struct source_entry	 e;
	size_t			 i;

	ld->p->delta_ok = ld->src->commit != NULL &&
	    ld->src->ops->walk != NULL && !ld->saw_link;
	for (i = 0; i < TOP_COUNT; i++) {
		memset(&ld->p->top[i], 0, sizeof ld->p->top[i]);
		if (ld->src->ops->lookup(ld->src, top_dirs[i], &e) != 0)
			continue;
		if (e.type == SOURCE_TREE)
			ld->p->top[i] = e.oid;
		else
			ld->p->delta_ok = false;
		source_entry_release(&e);
	}
}

/* The deployments' file names and object ids, in order. */
static void
loader_index(struct loader *ld)
{
	struct model	*m = ld->m;
	size_t		 i, len, size = 1;
	char		*at;

	for (i = 0; i < m->ndeployments; i++)
		size += strlen(m->deployments[i]->file) + 1;
	at = ld->p->names->files = xmalloc(size);
	ld->p->oids = xreallocarray(NULL, m->ndeployments + 1,
	    sizeof *ld->p->oids);
	for (i = 0; i < m->ndeployments; i++) {
		const struct deployment *d = m->deployments[i];

		if (strncmp(d->file, "deployments/", 12) != 0) {
			ld->saw_link = true;	/* cannot happen: no delta */
			continue;
		}
		len = strlen(d->file + 12) + 1;
		memcpy(at, d->file + 12, len);
		at += len;
		ld->p->oids[i] = d->oid;
	}
	*at = '\0';
}

/* The whole repository. */
static void
loader_full(struct loader *ld)
{
	struct model	*m = ld->m;
	int		**lines;
	size_t		  i, before;

	ld->p->parts = parts_new();
	ld->p->names = xcalloc(1, sizeof *ld->p->names);
	ld->p->names->nref = 1;
	table_init(&ld->p->names->by_name);

	loader_blueprints(ld);
	loader_files(ld, "environments", MDOC_ENVIRONMENT,
	    MODEL_MAX_ENVIRONMENTS, add_environment);
	loader_files(ld, "templates", MDOC_TEMPLATE, MODEL_MAX_TEMPLATES,
	    add_template);
	loader_files(ld, "deployments", MDOC_DEPLOYMENT,
	    MODEL_MAX_DEPLOYMENTS, add_deployment);

	for (i = 0; i < m->ndeployments; i++) {
		before = m->diags.n;
		loader_link(ld, m->deployments[i]);
		loader_note_diags(ld, m->deployments[i], before);
	}
	lines = xcalloc(m->ndeployments + 1, sizeof *lines);
	for (i = 0; i < m->ndeployments; i++) {
		before = m->diags.n;
		graph_edges(m, &ld->p->names->by_name, m->deployments[i],
		    &lines[i]);
		loader_note_diags(ld, m->deployments[i], before);
	}
	graph_cycles(m, lines);
	for (i = 0; i < m->ndeployments; i++)
		free(lines[i]);
	free(lines);

	/* What the next load compares its deployments/ folder with. */
	loader_index(ld);

	/* The parts are the model's until a later load shares them. */
	ld->p->parts->blueprints = m->blueprints;
	ld->p->parts->nblueprints = m->nblueprints;
	ld->p->parts->environments = m->environments;
	ld->p->parts->nenvironments = m->nenvironments;
	ld->p->parts->templates = m->templates;
	ld->p->parts->ntemplates = m->ntemplates;
	loader_finish(ld);
	diags_sort(&m->diags);
	model_cache_sweep(ld->cache);
}

/*
 * Delta loading.  When blueprints/, environments/ and templates/ are the
 * same as in the previous model and deployments/ only has files whose
 * contents changed (none added, removed, renamed or turned into
 * something else), the new model shares everything with the previous one
 * but those deployments, and costs one walk of the deployments/ tree plus
 * the work on the changed files.  Anything else takes the full path, which
 * gives the same result.
 */
#define DELTA_MAX_CHANGES	64

struct delta_walk {
	size_t			 n_prev;
	const char		*file;		/* in the names' files */
	const git_oid		*oids;
	size_t			 next;		/* in prev->deployments */
	size_t			 idx[DELTA_MAX_CHANGES];
	git_oid			 oid[DELTA_MAX_CHANGES];
	size_t			 n;
};

static int
delta_entry(void *arg, const char *name, enum source_type type,
    const git_oid *oid)
{
	struct delta_walk	*w = arg;
	size_t			 len = strlen(name);

	if (type == SOURCE_TREE || type == SOURCE_OTHER)
		return (0);		/* not read by the loader either */
	if (len <= 5 || memcmp(name + len - 5, ".yaml", 5) != 0 ||
	    name[0] == '.')
		return (0);
	if (type == SOURCE_LINK || w->next == w->n_prev)
		return (1);
	if (memcmp(w->file, name, len + 1) != 0)
		return (1);		/* added or removed */
	w->file += len + 1;
	if (!git_oid_equal(&w->oids[w->next], oid)) {
		if (w->n == DELTA_MAX_CHANGES)
			return (1);
		w->idx[w->n] = w->next;
		w->oid[w->n++] = *oid;
	}
	w->next++;
	return (0);
}

static bool
needs_equal(const struct deployment *a, const struct deployment *b)
{
	size_t	i, j;

	if (a->nneeds != b->nneeds)
		return (false);
	for (i = 0; i < a->nneeds; i++) {
		for (j = 0; j < b->nneeds; j++) {
			if (a->needs[i] == b->needs[j])
				break;
		}
		if (j == b->nneeds)
			return (false);
	}
	return (true);
}

static bool
loader_delta(struct loader *ld)
{
	const struct model	*prev = ld->prev;
	struct model_priv	*pp;
	struct model		*m = ld->m;
	struct source_entry	 e;
	struct delta_walk	 w;
	struct deployment	*fresh[DELTA_MAX_CHANGES];
	struct diags		 own;
	git_oid			 top[TOP_COUNT];
	size_t			 i, j, k, nfresh = 0;
	int			*lines;
	bool			 ok = true;

	if (prev == NULL || ld->src->commit == NULL ||
	    ld->src->ops->walk == NULL)
		return (false);
	pp = prev->priv;
	if (!pp->delta_ok || pp->cache_serial != ld->cache->serial ||
	    prev->ndeployments >= MODEL_MAX_DEPLOYMENTS)
		return (false);
	for (i = 0; i < TOP_COUNT; i++) {
		memset(&top[i], 0, sizeof top[i]);
		if (ld->src->ops->lookup(ld->src, top_dirs[i], &e) != 0)
			continue;
		if (e.type == SOURCE_TREE)
			top[i] = e.oid;
		source_entry_release(&e);
		if (e.type != SOURCE_TREE)
			return (false);
		if (i != TOP_DEPLOYMENTS && !git_oid_equal(&top[i], &pp->top[i]))
			return (false);
	}

	memset(&w, 0, sizeof w);
	w.n_prev = prev->ndeployments;
	w.file = pp->names->files;
	w.oids = pp->oids;
	if (!git_oid_equal(&top[TOP_DEPLOYMENTS], &pp->top[TOP_DEPLOYMENTS])) {
		if (git_oid_is_zero(&top[TOP_DEPLOYMENTS]) ||
		    ld->src->ops->walk(ld->src, "deployments", delta_entry,
		    &w) != 0 || w.next != prev->ndeployments)
			return (false);
	}

	/*
	 * Build the changed deployments against the shared parts and names;
	 * their diagnostics go to the new model's list, which is empty.
	 */
	ld->p->parts = pp->parts;
	ld->p->names = pp->names;
	m->blueprints = pp->parts->blueprints;
	m->nblueprints = pp->parts->nblueprints;
	m->environments = pp->parts->environments;
	m->nenvironments = pp->parts->nenvironments;
	m->templates = pp->parts->templates;
	m->ntemplates = pp->parts->ntemplates;
	m->deployments = prev->deployments;	/* for lookups, until copied */
	m->ndeployments = prev->ndeployments;
	for (i = 0; i < w.n && ok; i++) {
		struct deployment	*old = prev->deployments[w.idx[i]];
		struct deployment	*d;
		struct mdoc		*doc;
		char			*name;

		doc = loader_parse(ld, MDOC_DEPLOYMENT, old->file, &w.oid[i]);
		loader_doc_diags(ld, doc, old->file);
		name = xstrdup(old->name);
		d = deployment_new(ld, name, old->file, doc, &w.oid[i]);
		free(name);
		fresh[nfresh++] = d;
		loader_link(ld, d);
		lines = NULL;
		graph_edges(m, &ld->p->names->by_name, d, &lines);
		free(lines);
		ok = !old->in_cycle && !old->diags_elsewhere &&
		    old->blueprint == d->blueprint && needs_equal(old, d);
	}
	for (i = 0; i < m->diags.n && ok; i++) {
		for (j = 0; j < nfresh; j++) {
			if (strcmp(m->diags.v[i].file, fresh[j]->file) == 0)
				break;
		}
		if (j == nfresh)
			ok = false;	/* an error in another file */
	}
	if (!ok) {
		for (i = 0; i < nfresh; i++)
			deployment_unref(fresh[i]);
		diags_release(&m->diags);
		diags_init(&m->diags);
		m->deployments = NULL;
		m->ndeployments = 0;
		m->blueprints = NULL;
		m->environments = NULL;
		m->templates = NULL;
		m->nblueprints = m->nenvironments = m->ntemplates = 0;
		ld->p->parts = NULL;
		ld->p->names = NULL;
		return (false);
	}

	/* Commit: share the rest. */
	pp->parts->nref++;
	pp->names->nref++;
	m->deployments = xreallocarray(NULL, prev->ndeployments + 1,
	    sizeof *m->deployments);
	ld->p->oids = xreallocarray(NULL, prev->ndeployments + 1,
	    sizeof *ld->p->oids);
	memcpy(ld->p->oids, pp->oids, prev->ndeployments * sizeof *pp->oids);
	for (i = 0; i < w.n; i++)
		ld->p->oids[w.idx[i]] = w.oid[i];
	for (i = 0; i < prev->ndeployments; i++) {
		m->deployments[i] = prev->deployments[i];
		m->deployments[i]->nref++;
	}
	for (i = 0; i < nfresh; i++) {
		deployment_unref(m->deployments[w.idx[i]]);
		m->deployments[w.idx[i]] = fresh[i];
	}
	own = m->diags;
	diags_init(&m->diags);
	for (i = 0; i < prev->diags.n; i++) {
		const struct diag *g = &prev->diags.v[i];

		for (k = 0; k < nfresh; k++) {
			if (strcmp(g->file, fresh[k]->file) == 0)
				break;
		}
		if (k == nfresh)
			diags_add(&m->diags, g->file, g->line, "%s", g->message);
	}
	for (i = 0; i < own.n; i++)
		diags_add(&m->diags, own.v[i].file, own.v[i].line, "%s",
		    own.v[i].message);
	diags_release(&own);
	diags_sort(&m->diags);

	ld->p->delta_ok = true;
	memcpy(ld->p->top, top, sizeof ld->p->top);
	ld->cache->reused = pp->parts->ndocs + m->ndeployments -
	    ld->cache->parsed;
	ld->cache->added += ld->cache->parsed;
	model_cache_trim(ld->cache);
	return (true);
}

int
model_load(struct model **out, struct source *src, struct model_cache *cache,
    const struct model *prev, char **cause)
{
	struct loader	 ld;

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

	loader_start(&ld);
	if (!loader_delta(&ld)) {
		cache->parsed = cache->reused = cache->relinked = 0;
		loader_full(&ld);
	}
	if (ld.own_cache)
		model_cache_free(cache);
	*out = ld.m;
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
	for (i = 0; i < m->ndeployments; i++)
		deployment_unref(m->deployments[i]);
	free(m->deployments);
	parts_unref(p->parts);
	names_unref(p->names);
	free(p->oids);
	free(p);
	diags_release(&m->diags);
	free(m->commit);
	free(m);
}

struct deployment *
model_deployment(const struct model *m, const char *name)
{
	struct model_priv	*p = m->priv;
	uintptr_t		 i = (uintptr_t)table_gets(&p->names->by_name,
	    name);

	return (i == 0 ? NULL : m->deployments[i - 1]);
}

bool
model_deployment_index(const struct model *m, const char *name, size_t *out)
{
	struct model_priv	*p = m->priv;
	uintptr_t		 i = (uintptr_t)table_gets(&p->names->by_name,
	    name);

	if (i == 0)
		return (false);
	*out = i - 1;
	return (true);
}

struct blueprint *
model_blueprint(const struct model *m, const char *name)
{
	return (table_gets(&((struct model_priv *)m->priv)->parts->bp_by_name,
	    name));
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
