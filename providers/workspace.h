/*
 * A run's fresh copy of its blueprint, written from Git objects (no
 * checkout of the repository), and its safe removal.
 */
#ifndef WORKSPACE_H
#define WORKSPACE_H

#include <git2.h>

#define WORKSPACE_MAX_ENTRIES	100000
#define WORKSPACE_MAX_BYTES	(1024LL * 1024 * 1024)
#define WORKSPACE_MAX_DEPTH	256

/*
 * Write tree into dest, which must not exist (created 0700): files 0644 or
 * 0755 (exactly, whatever the umask), folders 0755, symlinks only when
 * they stay inside dest ("../a/b" style: up, then down), submodules and
 * ".git" skipped.  At most WORKSPACE_MAX_ENTRIES entries, MAX_BYTES of
 * file data and MAX_DEPTH levels; blob sizes are checked before a blob is
 * read.  On failure dest is removed again and *cause says why.
 */
int	workspace_checkout(const char *dest, git_repository *,
	    const git_oid *tree, char **cause);
/*
 * Remove path and everything in it, never following a symlink (path itself
 * may be one: the link goes).  0 when it is gone or never was.
 */
int	workspace_remove(const char *path);

#endif
