/*
 * pipe-read: the floor of any reader of a pipe, for the log capture
 * benchmark (tests/bench/bench.py, section "logs").
 *
 *	pipe-read [-s PIPE_SIZE] [-b READ_SIZE] PROGRAM [ARG ...]
 *
 * Runs PROGRAM with its standard output on a pipe (stdin and stderr are
 * ours) and reads the pipe with blocking reads of READ_SIZE bytes (64 KiB
 * by default) into one buffer, which is thrown away: no event loop, no
 * copy, no processing.  The pipe is made as the daemon makes a provider's
 * (providers/proc.c): PIPE_SIZE bytes (1 MiB by default) asked with
 * F_SETPIPE_SZ, the kernel's default when that is refused.  Unlike "| cat"
 * (whose read size and pipe depend on the shell and coreutils, and whose
 * figures swing from one run to the next) the reader costs the same every
 * time.  Prints "read BYTES SELF CHILD" on stderr (CPU seconds, user and
 * system, of the reader and of PROGRAM) and exits with PROGRAM's status.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pipe-read [-s pipe-size] [-b read-size] "
	    "program [arg ...]\n");
	exit(2);
}

static double
cpu(const struct rusage *r)
{
	return ((double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	    (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6);
}

int
main(int argc, char **argv)
{
	struct rusage		 self, child;
	unsigned long long	 total = 0;
	long			 psize = 1024 * 1024, bsize = 64 * 1024;
	char			*buf;
	ssize_t			 n;
	pid_t			 pid;
	int			 fds[2], ch, status;

	while ((ch = getopt(argc, argv, "+b:s:")) != -1) {
		switch (ch) {
		case 'b':
			bsize = strtol(optarg, NULL, 10);
			break;
		case 's':
			psize = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || bsize <= 0)
		usage();
	if ((buf = malloc((size_t)bsize)) == NULL || pipe(fds) != 0) {
		perror("pipe-read");
		return (1);
	}
	if (psize > 0 && fcntl(fds[0], F_SETPIPE_SZ, (int)psize) == -1)
		fprintf(stderr, "pipe-read: F_SETPIPE_SZ %ld: %s\n", psize,
		    strerror(errno));
	switch (pid = fork()) {
	case -1:
		perror("pipe-read: fork");
		return (1);
	case 0:
		if (dup2(fds[1], STDOUT_FILENO) == -1)
			_exit(126);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "pipe-read: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], buf, (size_t)bsize);
		if (n > 0) {
			total += (unsigned long long)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &child);
	fprintf(stderr, "read %llu %.3f %.3f\n", total, cpu(&self), cpu(&child));
	free(buf);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
