/*
 * A run's fresh copy of its blueprint, written from Git objects (no
 * checkout of the repository), and its safe removal.
 */
#ifndef WORKSPACE_H
#define WORKSPACE_H

#include <git2.h>

#define WORKSPACE_MAX_ENTRIES	100000
#define WORKSPACE_MAX_BYTES	(1024LL * 1024 * 1024)

/*
 * Write tree into dest, which must not exist (created 0700): files 0644 or
 * 0755, symlinks only when they stay inside dest, submodules skipped.
 */
int	workspace_checkout(const char *dest, git_repository *,
	    const git_oid *tree, char **cause);
/* Remove a folder and everything in it, never following a symlink. */
int	workspace_remove(const char *path);

#endif
