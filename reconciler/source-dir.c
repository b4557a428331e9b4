/*
 * The directory source: a config repository read from a folder on disk,
 * typically a checkout being linted before a push.  Object ids are computed
 * as Git computes them (blobs from the bytes, trees from sorted entries, the
 * executable bit as mode 100755, empty folders left out), and when the
 * folder is inside a Git working tree its ignore rules apply, so a clean
 * checkout gives the same ids, and so the same fingerprints, as the commit.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "buf.h"
#include "source.h"
#include "xmalloc.h"

#define SOURCE_DIR_MAX_ENTRIES	100000	/* per folder */
#define SOURCE_DIR_MAX_DEPTH	64

struct source_dir {
	struct source	 base;
	char		*root;		/* absolute */
	git_repository	*repo;		/* enclosing working tree, or NULL */
	char		*prefix;	/* root relative to its workdir */
};

static char *
source_dir_path(struct source_dir *d, const char *path)
{
	if (path[0] == '\0')
		return (xstrdup(d->root));
	return (xasprintf("%s/%s", d->root, path));
}

static bool
source_dir_ignored(struct source_dir *d, const char *path, bool dir)
{
	char	*rel;
	int	 ignored = 0;

	if (d->repo == NULL)
		return (false);
	rel = xasprintf("%s%s%s", d->prefix, path, dir ? "/" : "");
	if (git_ignore_path_is_ignored(&ignored, d->repo, rel) != 0)
		ignored = 0;
	free(rel);
	return (ignored == 1);
}

/* Fill an entry from lstat, hashing files and link targets as Git blobs. */
static int
source_dir_stat(struct source_dir *d, const char *path, const char *name,
    struct source_entry *out)
{
	struct stat	 st;
	char		*full = source_dir_path(d, path);
	char		 target[PATH_MAX];
	ssize_t		 n;
	int		 error = 0;

	memset(out, 0, sizeof *out);
	if (lstat(full, &st) == -1) {
		error = -errno;
		free(full);
		return (error);
	}
	out->name = xstrdup(name);
	if (S_ISDIR(st.st_mode))
		out->type = SOURCE_TREE;
	else if (S_ISLNK(st.st_mode)) {
		out->type = SOURCE_LINK;
		n = readlink(full, target, sizeof target);
		if (n < 0 || (size_t)n >= sizeof target)
			error = -EIO;
		else if (git_odb_hash(&out->oid, target, (size_t)n,
		    GIT_OBJECT_BLOB) != 0)
			error = -EIO;
	} else if (S_ISREG(st.st_mode)) {
		out->type = (st.st_mode & S_IXUSR) ? SOURCE_EXEC : SOURCE_FILE;
		if (git_odb_hashfile(&out->oid, full, GIT_OBJECT_BLOB) != 0)
			error = -EIO;
	} else
		out->type = SOURCE_OTHER;
	free(full);
	if (error != 0)
		source_entry_release(out);
	return (error);
}

static int
entry_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct source_entry *)a)->name,
	    ((const struct source_entry *)b)->name));
}

static int
source_dir_list(struct source *s, const char *path, struct source_list *out)
{
	struct source_dir	*d = (struct source_dir *)s;
	struct dirent		*de;
	DIR			*dp;
	char			*full, *sub;
	int			 error = 0;

	out->v = NULL;
	out->n = 0;
	full = source_dir_path(d, path);
	dp = opendir(full);
	free(full);
	if (dp == NULL)
		return (errno == ENOTDIR ? -ENOTDIR : -ENOENT);
	while ((de = readdir(dp)) != NULL) {
		struct source_entry	e;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0)
			continue;
		if (out->n >= SOURCE_DIR_MAX_ENTRIES) {
			error = -E2BIG;
			break;
		}
		sub = xasprintf("%s%s%s", path, path[0] != '\0' ? "/" : "",
		    de->d_name);
		if (source_dir_stat(d, sub, de->d_name, &e) != 0) {
			free(sub);
			continue;	/* vanished while listing */
		}
		if (source_dir_ignored(d, sub, e.type == SOURCE_TREE)) {
			source_entry_release(&e);
			free(sub);
			continue;
		}
		free(sub);
		out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
		out->v[out->n++] = e;
	}
	closedir(dp);
	if (error != 0) {
		source_list_release(out);
		return (error);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, entry_cmp);
	return (0);
}

static int
source_dir_lookup(struct source *s, const char *path, struct source_entry *out)
{
	struct source_dir	*d = (struct source_dir *)s;
	const char		*slash = strrchr(path, '/');

	return (source_dir_stat(d, path, slash != NULL ? slash + 1 : path, out));
}

static int
source_dir_read(struct source *s, const char *path, const git_oid *oid,
    size_t max, char **data, size_t *len)
{
	struct source_dir	*d = (struct source_dir *)s;
	struct buf		 b;
	struct stat		 st;
	char			*full = source_dir_path(d, path), tmp[8192];
	ssize_t			 n;
	int			 fd, error = 0;

	*data = NULL;
	*len = 0;
	if (lstat(full, &st) == 0 && S_ISLNK(st.st_mode)) {
		n = readlink(full, tmp, sizeof tmp);
		free(full);
		if (n < 0 || (size_t)n >= sizeof tmp || (size_t)n > max)
			return (n < 0 ? -errno : -EFBIG);
		*data = xstrndup(tmp, (size_t)n);
		*len = (size_t)n;
		return (0);
	}
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(full);
	if (fd == -1)
		return (-errno);
	buf_init(&b, max);
	for (;;) {
		n = read(fd, tmp, sizeof tmp);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = -errno;
			break;
		}
		if (buf_add(&b, tmp, (size_t)n) != 0) {
			error = -EFBIG;
			break;
		}
	}
	close(fd);
	if (error != 0) {
		buf_release(&b);
		return (error);
	}
	*len = b.len;
	*data = buf_detach(&b);
	return (0);
}

/* Git's tree order: folders sort as if their name ended in '/'. */
static int
tree_order(const void *a, const void *b)
{
	const struct source_entry	*x = a, *y = b;
	size_t				 lx = strlen(x->name), ly = strlen(y->name);
	size_t				 n = lx < ly ? lx : ly;
	int				 c;
	unsigned char			 cx, cy;

	if ((c = memcmp(x->name, y->name, n)) != 0)
		return (c);
	cx = lx > n ? (unsigned char)x->name[n] :
	    (x->type == SOURCE_TREE ? '/' : '\0');
	cy = ly > n ? (unsigned char)y->name[n] :
	    (y->type == SOURCE_TREE ? '/' : '\0');
	return ((int)cx - (int)cy);
}

/* Tree id of a folder; *empty is set when Git would not store it. */
static int
source_dir_tree(struct source_dir *d, const char *path, int depth,
    git_oid *out, bool *empty)
{
	struct source_list	 l;
	struct buf		 b;
	size_t			 i;
	int			 error;

	*empty = true;
	if (depth > SOURCE_DIR_MAX_DEPTH)
		return (-ELOOP);
	if ((error = source_dir_list(&d->base, path, &l)) != 0)
		return (error);
	buf_init(&b, SIZE_MAX / 2);
	for (i = 0; i < l.n; i++) {
		struct source_entry	*e = &l.v[i];

		if (e->type == SOURCE_TREE) {
			char	*sub = xasprintf("%s%s%s", path,
			    path[0] != '\0' ? "/" : "", e->name);
			bool	 sub_empty;

			error = source_dir_tree(d, sub, depth + 1, &e->oid,
			    &sub_empty);
			free(sub);
			if (error != 0)
				break;
			if (sub_empty)
				e->type = SOURCE_OTHER;	/* leave it out */
		}
	}
	if (error == 0) {
		const char *mode;

		if (l.n > 1)
			qsort(l.v, l.n, sizeof *l.v, tree_order);
		for (i = 0; i < l.n; i++) {
			switch (l.v[i].type) {
			case SOURCE_FILE:
				mode = "100644";
				break;
			case SOURCE_EXEC:
				mode = "100755";
				break;
			case SOURCE_LINK:
				mode = "120000";
				break;
			case SOURCE_TREE:
				mode = "40000";
				break;
			default:
				continue;
			}
			buf_printf(&b, "%s %s", mode, l.v[i].name);
			buf_add(&b, "", 1);
			buf_add(&b, l.v[i].oid.id, GIT_OID_RAWSZ);
			*empty = false;
		}
		if (git_odb_hash(out, b.data != NULL ? b.data : "", b.len,
		    GIT_OBJECT_TREE) != 0)
			error = -EIO;
	}
	buf_release(&b);
	source_list_release(&l);
	return (error);
}

static int
source_dir_tree_id(struct source *s, const char *path, git_oid *out)
{
	bool	empty;

	return (source_dir_tree((struct source_dir *)s, path, 0, out, &empty));
}

static void
source_dir_free(struct source *s)
{
	struct source_dir	*d = (struct source_dir *)s;

	git_repository_free(d->repo);
	free(d->root);
	free(d->prefix);
	free(s->desc);
	free(s->commit);
	free(d);
	git_libgit2_shutdown();
}

static const struct source_ops source_dir_ops = {
	.kind = "directory",
	.list = source_dir_list,
	.lookup = source_dir_lookup,
	.read = source_dir_read,
	.tree_id = source_dir_tree_id,
	.free = source_dir_free,
};

int
source_dir_open(struct source **out, const char *dir, char **cause)
{
	struct source_dir	*d;
	struct stat		 st;
	char			*abs;
	const char		*workdir;

	*out = NULL;
	*cause = NULL;
	if ((abs = realpath(dir, NULL)) == NULL) {
		*cause = xasprintf("%s: %s", dir, strerror(errno));
		return (-errno);
	}
	if (stat(abs, &st) == -1 || !S_ISDIR(st.st_mode)) {
		*cause = xasprintf("%s: not a folder", dir);
		free(abs);
		return (-ENOTDIR);
	}
	git_libgit2_init();
	d = xcalloc(1, sizeof *d);
	d->base.ops = &source_dir_ops;
	d->base.desc = xstrdup(dir);
	d->root = abs;
	/* Inside a working tree, honour its ignore rules. */
	if (git_repository_open_ext(&d->repo, abs, 0, NULL) == 0 &&
	    (workdir = git_repository_workdir(d->repo)) != NULL &&
	    strncmp(abs, workdir, strlen(workdir) - 1) == 0) {
		const char *rest = abs + strlen(workdir) - 1;

		d->prefix = rest[0] == '/' ? xasprintf("%s/", rest + 1) :
		    xstrdup("");
	} else {
		git_repository_free(d->repo);
		d->repo = NULL;
	}
	*out = &d->base;
	return (0);
}
