/*
 * Helpers shared by the unit tests: cmocka, plus building small config
 * repositories on disk and in Git.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Create a temporary folder; the caller removes it with rm_rf. */
char	*tu_mkdtemp(void);
void	 tu_rm_rf(const char *);
/* Write a file below root, creating folders; mode 0 means 0644. */
void	 tu_write(const char *root, const char *path, const char *text,
	    int mode);
/* Run a command given as argv (no shell); returns its exit status. */
int	 tu_run(const char *dir, const char *const *argv);
/* git add -A and git commit -m msg in dir (a work tree); asserts both. */
void	 tu_commit_all(const char *dir, const char *msg);

#endif
