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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "workspace.h"
#include "xmalloc.h"

struct checkout {
	git_repository	*repo;
	long long	 bytes;
	size_t		 entries;
	char		*cause;
};

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

/* Does a link target, from the folder rel (inside the root), stay inside? */
static int
link_inside(const char *rel, const char *target)
{
	int		 depth = 0;
	const char	*p, *s;
	size_t		 len;

	if (target[0] == '/' || target[0] == '\0')
		return (0);
	for (p = rel; *p != '\0'; p = s) {
		s = strchr(p, '/');
		len = s != NULL ? (size_t)(s - p) : strlen(p);
		if (len > 0)
			depth++;
		if (s == NULL)
			break;
		s++;
	}
	for (p = target; *p != '\0'; p = s) {
		s = strchr(p, '/');
		len = s != NULL ? (size_t)(s - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return (0);
		} else if (len > 0 && !(len == 1 && p[0] == '.'))
			depth++;
		if (s == NULL)
			break;
		s++;
	}
	return (1);
}

static int
checkout_tree(struct checkout *c, int at, const char *rel,
    const git_tree *tree)
{
	size_t	i, n = git_tree_entrycount(tree);
	int	error = 0;

	for (i = 0; i < n && error == 0; i++) {
		const git_tree_entry	*e = git_tree_entry_byindex(tree, i);
		const char		*name = git_tree_entry_name(e);
		git_filemode_t		 mode = git_tree_entry_filemode(e);
		git_object		*obj = NULL;
		char			*sub;
		int			 fd;

		if (++c->entries > WORKSPACE_MAX_ENTRIES) {
			c->cause = xasprintf("more than %d files in the blueprint",
			    WORKSPACE_MAX_ENTRIES);
			return (-EFBIG);
		}
		if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 ||
		    strcmp(name, ".") == 0 || strcmp(name, ".git") == 0)
			continue;
		if (mode == GIT_FILEMODE_COMMIT)
			continue;	/* a submodule */
		if (git_tree_entry_to_object(&obj, c->repo, e) != 0) {
			c->cause = xasprintf("cannot read %s/%s", rel, name);
			return (-EIO);
		}
		sub = rel[0] != '\0' ? xasprintf("%s/%s", rel, name) :
		    xstrdup(name);
		if (mode == GIT_FILEMODE_TREE) {
			if (mkdirat(at, name, 0700) != 0 ||
			    (fd = openat(at, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC)) == -1) {
				c->cause = xasprintf("cannot create %s: %s", sub,
				    strerror(errno));
				error = -errno;
			} else {
				error = checkout_tree(c, fd, sub,
				    (git_tree *)obj);
				fchmod(fd, 0755);
				close(fd);
			}
		} else if (mode == GIT_FILEMODE_LINK) {
			const git_blob	*b = (git_blob *)obj;
			char		*target = xstrndup(
			    git_blob_rawcontent(b), (size_t)git_blob_rawsize(b));

			if (!link_inside(rel, target)) {
				c->cause = xasprintf("symlink %s points outside the blueprint ('%s')",
				    sub, target);
				error = -ELOOP;
			} else if (symlinkat(target, at, name) != 0) {
				c->cause = xasprintf("cannot create %s: %s", sub,
				    strerror(errno));
				error = -errno;
			}
			free(target);
		} else {
			const git_blob	*b = (git_blob *)obj;
			size_t		 len = (size_t)git_blob_rawsize(b);

			c->bytes += (long long)len;
			if (c->bytes > WORKSPACE_MAX_BYTES) {
				c->cause = xasprintf("the blueprint is larger than %lld bytes",
				    WORKSPACE_MAX_BYTES);
				error = -EFBIG;
			} else if ((fd = openat(at, name, O_WRONLY | O_CREAT |
			    O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 :
			    0644)) == -1 || write_all(fd,
			    git_blob_rawcontent(b), len) != 0) {
				c->cause = xasprintf("cannot write %s: %s", sub,
				    strerror(errno));
				error = -EIO;
			}
			if (fd != -1) {
				fchmod(fd, mode == GIT_FILEMODE_BLOB_EXECUTABLE ?
				    0755 : 0644);
				close(fd);
			}
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
	git_tree	*tree;
	int		 fd, error;

	*cause = NULL;
	memset(&c, 0, sizeof c);
	c.repo = repo;
	if (git_tree_lookup(&tree, repo, tree_id) != 0) {
		*cause = xasprintf("blueprint tree %s not found",
		    git_oid_tostr_s(tree_id));
		return (-ENOENT);
	}
	if (mkdir(dest, 0700) != 0 || (fd = open(dest, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		*cause = xasprintf("cannot create %s: %s", dest,
		    strerror(errno));
		git_tree_free(tree);
		return (-errno);
	}
	error = checkout_tree(&c, fd, "", tree);
	close(fd);
	git_tree_free(tree);
	if (error != 0) {
		*cause = c.cause != NULL ? c.cause :
		    xasprintf("cannot write the blueprint");
		workspace_remove(dest);
		return (error);
	}
	return (0);
}

static int
remove_at(int at, const char *name, int depth)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd, error = 0;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return (0);
	if (errno != EISDIR && errno != EPERM)
		return (-errno);
	if (depth > 256)
		return (-ELOOP);
	if ((fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (-errno);
	fchmod(fd, 0700);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (-errno);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_at(dirfd(d), de->d_name, depth + 1) != 0)
			error = -EIO;
	}
	closedir(d);
	if (unlinkat(at, name, AT_REMOVEDIR) != 0 && error == 0)
		error = -errno;
	return (error);
}

int
workspace_remove(const char *path)
{
	return (remove_at(AT_FDCWD, path, 0));
}
