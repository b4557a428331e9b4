/*
 * Sharing Terraform's plugin cache by copies (see tfcache.h).  Every
 * path is walked with *at() calls from folder descriptors opened without
 * following symbolic links: a cache holds folders and regular files only,
 * anything else is skipped, and so are dot names (our temporary folders).
 * Files are copied, never hard-linked: terraform rewrites a package it
 * reinstalls in place (O_TRUNC on the same inode, measured with 1.11), so
 * a link would let one deployment's init write into every other cache.
 * A copy is a reflink where the file system can (FICLONE: no space, no
 * time), else copy_file_range, else read and write.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/fs.h>

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

/* Copy the regular file NAME of FROM to a new file NAME in TO. */
static int
copy_at(int from, const char *name, int to, const char *toname, mode_t mode)
{
	char		 buf[65536];
	ssize_t		 n, w, off;
	int		 in, out, error = 0;

	if ((in = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (-errno);
	if ((out = openat(to, toname, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, mode & 0777)) == -1) {
		error = -errno;
		close(in);
		return (error);
	}
	if (ioctl(out, FICLONE, in) != 0) {
		/* No reflink here: copy_file_range, or plain reads. */
		while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
			;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP)) {
			while ((n = read(in, buf, sizeof buf)) > 0) {
				for (off = 0; off < n; off += w) {
					if ((w = write(out, buf + off,
					    (size_t)(n - off))) <= 0) {
						n = -1;
						break;
					}
				}
				if (n < 0)
					break;
			}
		}
		if (n < 0)
			error = errno != 0 ? -errno : -EIO;
	}
	if (close(out) != 0 && error == 0)
		error = -errno;
	close(in);
	if (error != 0)
		unlinkat(to, toname, 0);
	return (error);
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

/* Copy the whole folder FROM into the new folder TO: -errno on failure. */
static int
copy_tree(int from, int to, int depth)
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
		else if (S_ISREG(st.st_mode))
			error = copy_at(from, de->d_name, to, de->d_name,
			    st.st_mode);
		else if (S_ISDIR(st.st_mode)) {
			if (mkdirat(to, de->d_name, 0755) != 0)
				error = -errno;
			else if ((sub = open_dir(from, de->d_name)) == -1)
				error = -errno;
			else {
				if ((subto = open_dir(to, de->d_name)) == -1)
					error = -errno;
				else {
					error = copy_tree(sub, subto,
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

static unsigned	tfcache_serial;

static int
copy_file_renamed(int from, int to, const char *name, mode_t mode)
{
	char	tmp[64];
	int	error;

	snprintf(tmp, sizeof tmp, ".tmp.%ld.%u", (long)getpid(),
	    tfcache_serial++);
	if ((error = copy_at(from, name, to, tmp, mode)) != 0)
		return (error);
	/* Linked, then the temporary unlinked: never replaces a file. */
	if (linkat(to, tmp, to, name, 0) != 0)
		error = -errno;
	unlinkat(to, tmp, 0);
	return (error);
}

/* Publish package NAME of FROM into TO under a temporary name, renamed. */
static int
copy_package(int from, int to, const char *name)
{
	char		 tmp[64];
	int		 sub, subto, error;

	snprintf(tmp, sizeof tmp, ".tmp.%ld.%u", (long)getpid(),
	    tfcache_serial++);
	if ((sub = open_dir(from, name)) == -1)
		return (-errno);
	if (mkdirat(to, tmp, 0755) != 0 || (subto = open_dir(to, tmp)) == -1) {
		error = -errno;
		close(sub);
		unlinkat(to, tmp, AT_REMOVEDIR);
		return (error);
	}
	error = copy_tree(sub, subto, TFCACHE_PACKAGE_DEPTH);
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
			/* A packed archive: one file, copied then renamed. */
			if (copy_file_renamed(from, to, de->d_name,
			    st.st_mode) == 0)
				added++;
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		if (depth == TFCACHE_PACKAGE_DEPTH) {
			if (copy_package(from, to, de->d_name) == 0)
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
