/*
 * The Git source: a config repository read straight from a commit's
 * objects with libgit2.  Nothing is checked out; object ids come for free.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "source.h"
#include "tree-cache.h"
#include "xmalloc.h"

struct source_git {
	struct source	 base;
	git_repository	*repo;
	bool		 own_repo;
	git_tree	*root;
};

static char *
git_cause(const char *what)
{
	const git_error	*e = git_error_last();

	return (xasprintf("%s: %s", what, e != NULL && e->message != NULL ?
	    e->message : "unknown libgit2 error"));
}

static enum source_type
source_git_type(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_BLOB:
		return (SOURCE_FILE);
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return (SOURCE_EXEC);
	case GIT_FILEMODE_LINK:
		return (SOURCE_LINK);
	case GIT_FILEMODE_TREE:
		return (SOURCE_TREE);
	default:
		return (SOURCE_OTHER);
	}
}

/* The tree at path; the caller frees it. */
static int
source_git_tree(struct source_git *g, const char *path, git_tree **out)
{
	git_tree_entry	*e;
	int		 error;

	if (path[0] == '\0')
		return (git_tree_dup(out, g->root) == 0 ? 0 : -EIO);
	if (git_tree_entry_bypath(&e, g->root, path) != 0)
		return (-ENOENT);
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		git_tree_entry_free(e);
		return (-ENOTDIR);
	}
	error = git_tree_lookup(out, g->repo, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return (error == 0 ? 0 : -EIO);
}

static int
source_git_list(struct source *s, const char *path, struct source_list *out)
{
	struct source_git	*g = (struct source_git *)s;
	git_tree		*t;
	size_t			 i, n;
	int			 error;

	out->v = NULL;
	out->n = 0;
	if ((error = source_git_tree(g, path, &t)) != 0)
		return (error);
	n = git_tree_entrycount(t);
	out->v = xcalloc(n, sizeof *out->v);
	for (i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);

		out->v[i].name = xstrdup(git_tree_entry_name(e));
		out->v[i].type = source_git_type(git_tree_entry_filemode(e));
		git_oid_cpy(&out->v[i].oid, git_tree_entry_id(e));
	}
	out->n = n;
	git_tree_free(t);
	return (0);
}

struct raw_walk {
	int	(*fn)(void *, const char *, enum source_type, const git_oid *);
	void	*arg;
};

static enum source_type
source_raw_type(unsigned mode)
{
	switch (mode & 0170000) {
	case 0040000:
		return (mode == 0040000 ? SOURCE_TREE : SOURCE_OTHER);
	case 0120000:
		return (SOURCE_LINK);
	case 0100000:
		return (mode & 0100 ? SOURCE_EXEC : SOURCE_FILE);
	default:
		return (SOURCE_OTHER);	/* a submodule */
	}
}

static int
source_raw_entry(void *arg, const char *name, unsigned mode,
    const git_oid *id)
{
	struct raw_walk	*w = arg;

	return (w->fn(w->arg, name, source_raw_type(mode), id));
}

static int	source_git_tree_id(struct source *, const char *, git_oid *);

/*
 * A big folder (deployments/ of thousands) is walked from the tree cache,
 * which reads a new version from its delta against the last one; any
 * other through libgit2.
 */
static int
source_git_walk(struct source *s, const char *path,
    int (*fn)(void *, const char *, enum source_type, const git_oid *),
    void *arg)
{
	struct source_git	*g = (struct source_git *)s;
	struct tree_buf		*raw;
	struct raw_walk		 w = { fn, arg };
	git_tree		*t;
	git_oid			 id;
	const unsigned char	*data;
	size_t			 i, n, len;
	int			 error;

	if ((error = source_git_tree_id(s, path, &id)) != 0)
		return (error);
	if ((raw = tree_cache_get(g->repo, &id)) != NULL) {
		data = tree_buf_data(raw, &len);
		error = tree_raw_walk(data, len, source_raw_entry, &w);
		tree_buf_unref(raw);
		return (error == -EINVAL ? -EIO : error);
	}
	if (git_tree_lookup(&t, g->repo, &id) != 0)
		return (-EIO);
	n = git_tree_entrycount(t);
	for (i = 0; i < n && error == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);

		error = fn(arg, git_tree_entry_name(te),
		    source_git_type(git_tree_entry_filemode(te)),
		    git_tree_entry_id(te));
	}
	git_tree_free(t);
	return (error);
}

static int
source_git_lookup(struct source *s, const char *path, struct source_entry *out)
{
	struct source_git	*g = (struct source_git *)s;
	git_tree_entry		*e;
	const char		*slash;

	memset(out, 0, sizeof *out);
	if (path[0] == '\0') {
		out->name = xstrdup("");
		out->type = SOURCE_TREE;
		git_oid_cpy(&out->oid, git_tree_id(g->root));
		return (0);
	}
	if (git_tree_entry_bypath(&e, g->root, path) != 0)
		return (-ENOENT);
	slash = strrchr(path, '/');
	out->name = xstrdup(slash != NULL ? slash + 1 : path);
	out->type = source_git_type(git_tree_entry_filemode(e));
	git_oid_cpy(&out->oid, git_tree_entry_id(e));
	git_tree_entry_free(e);
	return (0);
}

static int
source_git_read(struct source *s, const char *path, const git_oid *oid,
    size_t max, char **data, size_t *len)
{
	struct source_git	*g = (struct source_git *)s;
	git_blob		*b;
	git_object_size_t	 size;

	*data = NULL;
	*len = 0;
	if (git_blob_lookup(&b, g->repo, oid) != 0)
		return (-ENOENT);
	size = git_blob_rawsize(b);
	if (size > max) {
		git_blob_free(b);
		return (-EFBIG);
	}
	*data = xmalloc((size_t)size + 1);
	memcpy(*data, git_blob_rawcontent(b), (size_t)size);
	(*data)[size] = '\0';
	*len = (size_t)size;
	git_blob_free(b);
	return (0);
}

static int
source_git_tree_id(struct source *s, const char *path, git_oid *out)
{
	struct source_entry	e;

	if (source_git_lookup(s, path, &e) != 0)
		return (-ENOENT);
	free(e.name);
	if (e.type != SOURCE_TREE)
		return (-ENOTDIR);
	git_oid_cpy(out, &e.oid);
	return (0);
}

static void
source_git_free(struct source *s)
{
	struct source_git	*g = (struct source_git *)s;

	git_tree_free(g->root);
	if (g->own_repo)
		git_repository_free(g->repo);
	free(s->commit);
	free(s->desc);
	free(g);
	git_libgit2_shutdown();
}

static const struct source_ops source_git_ops = {
	.kind = "git",
	.list = source_git_list,
	.lookup = source_git_lookup,
	.walk = source_git_walk,
	.read = source_git_read,
	.tree_id = source_git_tree_id,
	.free = source_git_free,
};

int
source_git_new(struct source **out, git_repository *repo,
    const git_oid *commit_id, const char *path, char **cause)
{
	struct source_git	*g;
	git_commit		*commit = NULL;
	git_tree		*tree = NULL;
	git_tree_entry		*e = NULL;
	char			 hex[GIT_OID_HEXSZ + 1];
	int			 error = -EINVAL;

	*out = NULL;
	*cause = NULL;
	git_libgit2_init();
	if (git_commit_lookup(&commit, repo, commit_id) != 0) {
		*cause = git_cause("cannot read the commit");
		goto out;
	}
	if (git_commit_tree(&tree, commit) != 0) {
		*cause = git_cause("cannot read the commit's tree");
		goto out;
	}
	if (path != NULL && path[0] != '\0' && strcmp(path, ".") != 0) {
		git_tree *sub;

		if (git_tree_entry_bypath(&e, tree, path) != 0 ||
		    git_tree_entry_type(e) != GIT_OBJECT_TREE) {
			*cause = xasprintf("path '%s' is not a folder in commit %.12s",
			    path, git_oid_tostr_s(commit_id));
			error = -ENOENT;
			goto out;
		}
		if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) != 0) {
			*cause = git_cause("cannot read the config folder");
			goto out;
		}
		git_tree_free(tree);
		tree = sub;
	}
	g = xcalloc(1, sizeof *g);
	g->base.ops = &source_git_ops;
	git_oid_tostr(hex, sizeof hex, commit_id);
	g->base.commit = xstrdup(hex);
	g->base.desc = xasprintf("commit %.12s", hex);
	g->repo = repo;
	g->root = tree;
	tree = NULL;
	*out = &g->base;
	error = 0;
	git_libgit2_init();	/* balanced by source_git_free */
out:
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(commit);
	git_libgit2_shutdown();
	return (error);
}

int
source_git_open(struct source **out, const char *repopath, const char *rev,
    const char *path, char **cause)
{
	git_repository	*repo = NULL;
	git_object	*obj = NULL;
	int		 error = -EINVAL;

	*out = NULL;
	*cause = NULL;
	git_libgit2_init();
	if (git_repository_open_ext(&repo, repopath, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL) != 0) {
		*cause = git_cause(repopath);
		error = -ENOENT;
		goto out;
	}
	if (git_revparse_single(&obj, repo, rev != NULL ? rev : "HEAD") != 0) {
		*cause = git_cause(rev != NULL ? rev : "HEAD");
		error = -ENOENT;
		goto out;
	}
	{
		git_object *peeled;

		if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) != 0) {
			*cause = xasprintf("%s: not a commit",
			    rev != NULL ? rev : "HEAD");
			goto out;
		}
		git_object_free(obj);
		obj = peeled;
	}
	error = source_git_new(out, repo, git_object_id(obj), path, cause);
	if (error == 0) {
		((struct source_git *)*out)->own_repo = true;
		repo = NULL;
	}
out:
	git_object_free(obj);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return (error);
}
