/*
 * Workspaces: a blueprint's tree written out for one run, and removed
 * after it with openat/unlinkat, so that a symlink a provider left behind
 * cannot make us delete anything outside.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "compat.h"
#include "workspace.h"
#include "xmalloc.h"

struct checkout {
	git_repository	*repo;
	git_odb		*odb;
	long long	 bytes;
	size_t		 entries;
	char		*cause;
};

static int	remove_at(int, const char *, int);

/* libgit2's last error: read here only. */
static const char *
checkout_git_error(void)
{
	const git_error	*e = git_error_last();

	return (e != NULL && e->message != NULL ? e->message : "unknown error");
}

static int
write_all(int fd, const char *data, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-errno);
		}
		data += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Whether a link target, read from the folder rel (relative to the root),
 * stays inside.  Only a relative target of the form "../../a/b" is taken:
 * up at most as far as the root through real folders, then down.  A ".."
 * after a name could climb out through another symlink ("d/up/.." with
 * d/up -> ..), so it is refused, as is any absolute target.
 */
static bool
link_inside(const char *rel, const char *target)
{
	const char	*p, *s;
	size_t		 len;
	int		 depth = 0;
	bool		 down = false;

	if (target[0] == '/' || target[0] == '\0')
		return (false);
	for (p = rel; *p != '\0'; p = s + 1) {
		s = strchrnul(p, '/');
		if (s > p)
			depth++;
		if (*s == '\0')
			break;
	}
	for (p = target; *p != '\0'; p = s + 1) {
		s = strchrnul(p, '/');
		len = (size_t)(s - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (down || --depth < 0)
				return (false);
		} else if (len > 0 && !(len == 1 && p[0] == '.'))
			down = true;
		if (*s == '\0')
			break;
	}
	return (true);
}

/* Count an object against the limits before it is read into memory. */
static int
checkout_count(struct checkout *c, const git_oid *id, const char *sub)
{
	git_object_t	type;
	size_t		len;

	if (git_odb_read_header(&len, &type, c->odb, id) != 0) {
		c->cause = xasprintf("cannot read %s: %s", sub,
		    checkout_git_error());
		return (-EIO);
	}
	c->bytes += (long long)len;
	if (c->bytes > WORKSPACE_MAX_BYTES) {
		c->cause = xasprintf("the blueprint is larger than %lld MiB",
		    WORKSPACE_MAX_BYTES / (1024 * 1024));
		return (-EFBIG);
	}
	return (0);
}

static int
checkout_link(struct checkout *c, int at, const char *rel, const char *name,
    const char *sub, const git_blob *b)
{
	size_t	 len = (size_t)git_blob_rawsize(b);
	char	*target;
	int	 error = 0;

	if (memchr(git_blob_rawcontent(b), '\0', len) != NULL) {
		c->cause = xasprintf("symlink %s has an invalid target", sub);
		return (-EINVAL);
	}
	target = xstrndup(git_blob_rawcontent(b), len);
	if (!link_inside(rel, target)) {
		c->cause = xasprintf("symlink %s points outside the blueprint "
		    "('%s')", sub, target);
		error = -ELOOP;
	} else if (symlinkat(target, at, name) != 0) {
		error = -errno;
		c->cause = xasprintf("cannot create %s: %s", sub,
		    strerror(errno));
	}
	free(target);
	return (error);
}

static int
checkout_file(struct checkout *c, int at, const char *name, const char *sub,
    const git_blob *b, mode_t mode)
{
	int	fd, error;

	fd = openat(at, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1) {
		error = -errno;
		c->cause = xasprintf("cannot write %s: %s", sub,
		    strerror(errno));
		return (error);
	}
	/* Exactly this mode, whatever the umask. */
	if ((error = write_all(fd, git_blob_rawcontent(b),
	    (size_t)git_blob_rawsize(b))) == 0 && fchmod(fd, mode) != 0)
		error = -errno;
	if (close(fd) != 0 && error == 0)
		error = -errno;
	if (error != 0)
		c->cause = xasprintf("cannot write %s: %s", sub,
		    strerror(-error));
	return (error);
}

static int
checkout_tree(struct checkout *c, int at, const char *rel,
    const git_tree *tree, int depth)
{
	size_t	i, n = git_tree_entrycount(tree);
	int	error = 0, fd;

	if (depth > WORKSPACE_MAX_DEPTH) {
		c->cause = xasprintf("folders nested more than %d deep in the "
		    "blueprint", WORKSPACE_MAX_DEPTH);
		return (-ELOOP);
	}
	for (i = 0; i < n && error == 0; i++) {
		const git_tree_entry	*e = git_tree_entry_byindex(tree, i);
		const char		*name = git_tree_entry_name(e);
		git_filemode_t		 mode = git_tree_entry_filemode(e);
		git_object		*obj = NULL;
		char			*sub;

		if (++c->entries > WORKSPACE_MAX_ENTRIES) {
			c->cause = xasprintf("more than %d files in the "
			    "blueprint", WORKSPACE_MAX_ENTRIES);
			return (-EFBIG);
		}
		/* Names Git itself would not check out. */
		if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 ||
		    strcmp(name, ".") == 0 || strcasecmp(name, ".git") == 0)
			continue;
		if (mode == GIT_FILEMODE_COMMIT)
			continue;	/* a submodule */
		sub = rel[0] != '\0' ? xasprintf("%s/%s", rel, name) :
		    xstrdup(name);
		if (mode != GIT_FILEMODE_TREE &&
		    (error = checkout_count(c, git_tree_entry_id(e), sub)) != 0) {
			free(sub);
			break;
		}
		if (git_tree_entry_to_object(&obj, c->repo, e) != 0) {
			c->cause = xasprintf("cannot read %s: %s", sub,
			    checkout_git_error());
			free(sub);
			return (-EIO);
		}
		switch (mode) {
		case GIT_FILEMODE_TREE:
			if (mkdirat(at, name, 0700) != 0 ||
			    (fd = openat(at, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC)) == -1) {
				error = -errno;
				c->cause = xasprintf("cannot create %s: %s",
				    sub, strerror(errno));
				break;
			}
			error = checkout_tree(c, fd, sub, (git_tree *)obj,
			    depth + 1);
			if (error == 0 && fchmod(fd, 0755) != 0) {
				error = -errno;
				c->cause = xasprintf("cannot create %s: %s",
				    sub, strerror(errno));
			}
			close(fd);
			break;
		case GIT_FILEMODE_LINK:
			error = checkout_link(c, at, rel, name, sub,
			    (git_blob *)obj);
			break;
		case GIT_FILEMODE_BLOB_EXECUTABLE:
			error = checkout_file(c, at, name, sub,
			    (git_blob *)obj, 0755);
			break;
		default:
			error = checkout_file(c, at, name, sub,
			    (git_blob *)obj, 0644);
			break;
		}
		free(sub);
		git_object_free(obj);
	}
	return (error);
}

int
workspace_checkout(const char *dest, git_repository *repo,
    const git_oid *tree_id, char **cause)
{
	struct checkout	 c;
	git_tree	*tree = NULL;
	int		 fd = -1, error;

	*cause = NULL;
	memset(&c, 0, sizeof c);
	c.repo = repo;
	if (git_repository_odb(&c.odb, repo) != 0 ||
	    git_tree_lookup(&tree, repo, tree_id) != 0) {
		*cause = xasprintf("blueprint tree %s: %s",
		    git_oid_tostr_s(tree_id), checkout_git_error());
		error = -ENOENT;
		goto out;
	}
	if (mkdir(dest, 0700) != 0) {
		error = -errno;
		*cause = xasprintf("cannot create %s: %s", dest,
		    strerror(errno));
		goto out;
	}
	if ((fd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		error = -errno;
		*cause = xasprintf("cannot open %s: %s", dest,
		    strerror(errno));
	} else
		error = checkout_tree(&c, fd, "", tree, 0);
	if (error != 0) {
		if (*cause == NULL)
			*cause = c.cause != NULL ? c.cause :
			    xstrdup("cannot write the blueprint");
		else
			free(c.cause);
		/* Nothing half-written is left: we made dest. */
		workspace_remove(dest);
	}
out:
	if (fd != -1)
		close(fd);
	git_tree_free(tree);
	git_odb_free(c.odb);
	return (error);
}

/* Empty the folder open as fd; it is closed. */
static int
remove_children(int fd, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 error = 0, pass;
	bool		 seen;

	if ((d = fdopendir(fd)) == NULL) {
		error = -errno;
		close(fd);
		return (error);
	}
	/*
	 * Entries removed while reading may hide others from this pass;
	 * read again until a pass finds nothing (or nothing can go).
	 */
	for (pass = 0; pass < 8; pass++) {
		seen = false;
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			seen = true;
			if ((error = remove_at(dirfd(d), de->d_name,
			    depth + 1)) != 0)
				break;
		}
		if (!seen || error != 0)
			break;
	}
	closedir(d);
	return (error);
}

/*
 * Remove name in the folder at: a symlink is unlinked, never followed, and
 * a folder is entered by descriptor (O_NOFOLLOW), so that nothing a
 * provider left behind can redirect us outside.
 */
static int
remove_at(int at, const char *name, int depth)
{
	int	fd, error;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return (0);
	if (errno != EISDIR && errno != EPERM)
		return (-errno);
	if (depth > WORKSPACE_MAX_DEPTH)
		return (-ELOOP);
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (errno == ENOENT ? 0 : -errno);
	/* A provider may have left read-only folders. */
	fchmod(fd, 0700);
	if ((error = remove_children(fd, depth)) != 0)
		return (error);
	if (unlinkat(at, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		return (-errno);
	return (0);
}

int
workspace_remove(const char *path)
{
	return (remove_at(AT_FDCWD, path, 0));
}
