/*
 * Sharing Terraform's plugin cache by hard links (see tfcache.h).  Every
 * path is walked with *at() calls from folder descriptors opened without
 * following symbolic links: a cache holds folders and regular files only,
 * anything else is skipped, and so are dot names (our temporary folders).
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

#include "tfcache.h"
#include "xmalloc.h"

#define TFCACHE_PACKAGE_DEPTH	5	/* HOST/NS/TYPE/VERSION/OS_ARCH */
#define TFCACHE_MAX_DEPTH	12	/* inside a package, too */
#define TFCACHE_MAX_ENTRIES	100000	/* per folder */

static int
open_dir(int at, const char *name)
{
	return (openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC));
}

/* Remove what a failed publication left. */
static void
remove_tree(int at, const char *name, int depth)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if (unlinkat(at, name, 0) == 0 || errno == ENOENT)
		return;
	if (depth > TFCACHE_MAX_DEPTH || (fd = open_dir(at, name)) == -1)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			remove_tree(dirfd(d), de->d_name, depth + 1);
	}
	closedir(d);
	unlinkat(at, name, AT_REMOVEDIR);
}

/* Link the whole folder FROM into the new folder TO: -errno on failure. */
static int
link_tree(int from, int to, int depth)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd, sub, subto, error = 0, n = 0;

	if (depth > TFCACHE_MAX_DEPTH)
		return (-ELOOP);
	if ((fd = dup(from)) == -1)
		return (-errno);
	if ((d = fdopendir(fd)) == NULL) {
		error = -errno;
		close(fd);
		return (error);
	}
	rewinddir(d);
	while (error == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (++n > TFCACHE_MAX_ENTRIES) {
			error = -E2BIG;
			break;
		}
		if (fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			error = -errno;
		else if (S_ISREG(st.st_mode)) {
			if (linkat(from, de->d_name, to, de->d_name, 0) != 0)
				error = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdirat(to, de->d_name, 0755) != 0)
				error = -errno;
			else if ((sub = open_dir(from, de->d_name)) == -1)
				error = -errno;
			else {
				if ((subto = open_dir(to, de->d_name)) == -1)
					error = -errno;
				else {
					error = link_tree(sub, subto,
					    depth + 1);
					close(subto);
				}
				close(sub);
			}
		}
		/* Anything else (a symbolic link...) is not a package's. */
	}
	closedir(d);
	return (error);
}

/* Publish package NAME of FROM into TO under a temporary name, renamed. */
static int
link_package(int from, int to, const char *name)
{
	static unsigned	 serial;
	char		 tmp[64];
	int		 sub, subto, error;

	snprintf(tmp, sizeof tmp, ".tmp.%ld.%u", (long)getpid(), serial++);
	if ((sub = open_dir(from, name)) == -1)
		return (-errno);
	if (mkdirat(to, tmp, 0755) != 0 || (subto = open_dir(to, tmp)) == -1) {
		error = -errno;
		close(sub);
		unlinkat(to, tmp, AT_REMOVEDIR);
		return (error);
	}
	error = link_tree(sub, subto, TFCACHE_PACKAGE_DEPTH);
	close(subto);
	close(sub);
	/* renameat refuses to replace a folder that is not empty. */
	if (error == 0 && renameat(to, tmp, to, name) != 0)
		error = -errno;
	if (error != 0)
		remove_tree(to, tmp, TFCACHE_PACKAGE_DEPTH);
	return (error);
}

static int
sync_dir(int from, int to, int depth)
{
	struct dirent	*de;
	struct stat	 st, there;
	DIR		*d;
	int		 fd, sub, subto, added = 0, n = 0;

	if ((fd = dup(from)) == -1)
		return (0);
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return (0);
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL && ++n <= TFCACHE_MAX_ENTRIES) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(from, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (fstatat(to, de->d_name, &there, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (!S_ISDIR(st.st_mode) || depth == TFCACHE_PACKAGE_DEPTH))
			continue;	/* already there */
		if (S_ISREG(st.st_mode)) {
			/* A packed archive: one file, linked at once. */
			if (linkat(from, de->d_name, to, de->d_name, 0) == 0)
				added++;
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (depth == TFCACHE_PACKAGE_DEPTH) {
			if (link_package(from, to, de->d_name) == 0)
				added++;
			continue;
		}
		if (mkdirat(to, de->d_name, 0755) != 0 && errno != EEXIST)
			continue;
		if ((sub = open_dir(from, de->d_name)) == -1)
			continue;
		if ((subto = open_dir(to, de->d_name)) != -1) {
			added += sync_dir(sub, subto, depth + 1);
			close(subto);
		}
		close(sub);
	}
	closedir(d);
	return (added);
}

int
tfcache_sync(const char *from, const char *to)
{
	int	f, t, added, error;

	if ((f = open(from, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-errno);
	if ((t = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		error = -errno;
		close(f);
		return (error);
	}
	added = sync_dir(f, t, 1);
	close(t);
	close(f);
	return (added);
}
