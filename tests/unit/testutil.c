/* Helpers for the unit tests: temporary trees and commands without a shell. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "xmalloc.h"

char *
tu_mkdtemp(void)
{
	const char	*tmp = getenv("TMPDIR");
	char		*dir = xasprintf("%s/cs-test.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");

	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	return (dir);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

void
tu_rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
tu_write(const char *root, const char *path, const char *text, int mode)
{
	char	*full = xasprintf("%s/%s", root, path), *p;
	FILE	*f;

	for (p = full + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		mkdir(full, 0755);
		*p = '/';
	}
	if ((f = fopen(full, "w")) == NULL)
		fail_msg("%s: %s", full, strerror(errno));
	fputs(text, f);
	fclose(f);
	chmod(full, mode != 0 ? (mode_t)mode : 0644);
	free(full);
}

int
tu_run(const char *dir, const char *const *argv)
{
	pid_t	pid;
	int	status, fd;

	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		if (dir != NULL && chdir(dir) == -1)
			_exit(127);
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			fail_msg("waitpid: %s", strerror(errno));
	}
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

void
tu_commit_all(const char *dir, const char *msg)
{
	const char *add[] = { "git", "add", "-A", NULL };
	const char *commit[] = { "git", "-c", "user.name=t", "-c",
	    "user.email=t@t", "commit", "-q", "-m", msg, NULL };

	assert_int_equal(tu_run(dir, add), 0);
	assert_int_equal(tu_run(dir, commit), 0);
}
