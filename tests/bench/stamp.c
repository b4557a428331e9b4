/*
 * stamp: the provider of the daemon benchmarks (tests/bench/bench.py).
 *
 * Committed into a generated config repository as a script blueprint's
 * command, it is called as "./deploy plan|apply|destroy" like any script
 * provider.  Its first instruction reads the real-time clock, so that
 * "provider process started" is the provider's own first timestamp, not a
 * shell's.  It appends one line to $CLOUDSPHERE_STATE_DIR/stamps:
 *
 *	start ACTION SECONDS.NANOSECONDS COMMIT
 *
 * If the blueprint folder (its working directory) holds a file
 * "write-bytes" with a number, it then writes that many bytes to stdout and
 * appends "wrote BYTES START END" (real-time clock before the first and
 * after the last write).  It writes "{}" to $CLOUDSPHERE_OUTPUTS and exits
 * 0.  Two writers:
 *
 *	BYTES		64 KiB blocks of a prebuilt buffer, with write(2): the
 *			cheapest writer there is, so the capture is all that
 *			is measured
 *	BYTES lines	log lines as Terraform and Ansible print them, each
 *			with a timestamp and counters formatted by snprintf,
 *			through stdio, fully buffered as stdio is when
 *			stdout is not a terminal: a realistic provider
 *	BYTES unbuffered the same lines, one write(2) each, as a Go program
 *			writes to os.Stdout (Terraform): the cost of each
 *			write to the pipe, not of its bytes
 *
 * Run by hand as "stamp -w|-l|-u BYTES", it writes BYTES to
 * stdout and prints "wrote BYTES START END" on stderr: the direct
 * references of the log capture benchmark (stdout to /dev/null or to a
 * pipe).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	(64 * 1024)

static void
now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* Writes n bytes of a fixed pattern to stdout; 0 or -1. */
static int
write_bytes(unsigned long long n, struct timespec *t0, struct timespec *t1)
{
	static char	 block[BLOCK];
	size_t		 len;
	ssize_t		 w;

	memset(block, 'x', sizeof block);
	for (len = 63; len < sizeof block; len += 64)
		block[len] = '\n';
	now(t0);
	while (n > 0) {
		len = n < sizeof block ? (size_t)n : sizeof block;
		if ((w = write(STDOUT_FILENO, block, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		n -= (unsigned long long)w;
	}
	now(t1);
	return (0);
}

/*
 * A log line as a provider prints it: Terraform's resource progress with
 * TF_LOG-style timestamps, Ansible's task headers and host results.
 */
static int
format_line(char *buf, size_t size, unsigned long long k)
{
	static time_t	 last = -1;
	static char	 stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	unsigned	 i = (unsigned)(k / 8 % 1000), ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != last) {
		last = ts.tv_sec;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	}
	ms = (unsigned)(ts.tv_nsec / 1000000);
	switch (k % 8) {
	case 0:
		return (snprintf(buf, size, "%s.%03uZ [INFO]  "
		    "module.app.aws_instance.web[%u]: Creating...\n",
		    stamp, ms, i));
	case 1:
	case 2:
		return (snprintf(buf, size, "%s.%03uZ [INFO]  "
		    "module.app.aws_instance.web[%u]: Still creating... "
		    "[%llus elapsed]\n", stamp, ms, i, k % 600));
	case 3:
		return (snprintf(buf, size, "%s.%03uZ [INFO]  "
		    "module.app.aws_instance.web[%u]: Creation complete after "
		    "%llus [id=i-%016llx]\n", stamp, ms, i, k % 600,
		    k * 0x9e3779b97f4a7c15ULL));
	case 4:
		return (snprintf(buf, size, "%s.%03uZ [INFO]  "
		    "module.app.aws_route53_record.web[%u]: Modifying... "
		    "[id=Z%08llX_web-%u.example.internal_A]\n", stamp, ms,
		    i, k & 0xffffffffULL, i));
	case 5:
		return (snprintf(buf, size, "\nTASK [app : install packages "
		    "(%u)] %.*s\n", i, 40, "****************************************"));
	case 6:
		return (snprintf(buf, size, "changed: [web-%u.example.internal] "
		    "=> (item=nginx-1.%u.%llu)\n", i, i % 30, k % 10));
	default:
		return (snprintf(buf, size, "ok: [web-%u.example.internal] "
		    "%s.%03uZ (0:00:%02llu.%03u)\n", i, stamp, ms, k % 60, ms));
	}
}

/* Writes one line with write(2); 0 or -1. */
static int
write_line(const char *line, size_t len)
{
	ssize_t	w;

	while (len > 0) {
		if ((w = write(STDOUT_FILENO, line, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		line += w;
		len -= (size_t)w;
	}
	return (0);
}

/*
 * Writes n bytes of log lines to stdout, through stdio or (unbuffered) a
 * write(2) for each line; 0 or -1.
 */
static int
write_lines(unsigned long long n, int unbuffered, struct timespec *t0,
    struct timespec *t1)
{
	char			 line[256];
	unsigned long long	 k = 0;
	size_t			 len;
	int			 w;

	now(t0);
	while (n > 0) {
		if ((w = format_line(line, sizeof line, k++)) <= 0)
			return (-1);
		len = (size_t)w < sizeof line ? (size_t)w : sizeof line - 1;
		if (len > n)
			len = (size_t)n;
		if (unbuffered ? write_line(line, len) != 0 :
		    fwrite(line, 1, len, stdout) != len)
			return (-1);
		n -= len;
	}
	if (fflush(stdout) != 0)
		return (-1);
	now(t1);
	return (0);
}

static void
append(const char *path, const char *line)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		return;
	if (write(fd, line, strlen(line)) == -1)
		fprintf(stderr, "stamp: %s: %s\n", path, strerror(errno));
	close(fd);
}

int
main(int argc, char **argv)
{
	struct timespec		 start, t0, t1;
	const char		*dir, *commit, *outputs;
	char			 path[PATH_MAX], line[256], buf[32];
	char			*end;
	unsigned long long	 n = 0;
	ssize_t			 got;
	int			 fd, lines, unbuffered;

	now(&start);
	if (argc == 3 && (strcmp(argv[1], "-w") == 0 ||
	    strcmp(argv[1], "-l") == 0 || strcmp(argv[1], "-u") == 0)) {
		n = strtoull(argv[2], NULL, 10);
		if ((argv[1][1] == 'w' ? write_bytes(n, &t0, &t1) :
		    write_lines(n, argv[1][1] == 'u', &t0, &t1)) != 0)
			return (1);
		fprintf(stderr, "wrote %llu %lld.%09ld %lld.%09ld\n", n,
		    (long long)t0.tv_sec, t0.tv_nsec, (long long)t1.tv_sec,
		    t1.tv_nsec);
		return (0);
	}
	if ((dir = getenv("CLOUDSPHERE_STATE_DIR")) == NULL) {
		fprintf(stderr, "usage: stamp -w|-l|-u BYTES, or as a script "
		    "provider\n");
		return (2);
	}
	commit = getenv("CLOUDSPHERE_COMMIT");
	snprintf(path, sizeof path, "%s/stamps", dir);
	snprintf(line, sizeof line, "start %s %lld.%09ld %s\n",
	    argc > 1 ? argv[1] : "-", (long long)start.tv_sec, start.tv_nsec,
	    commit != NULL ? commit : "-");
	append(path, line);

	if ((fd = open("write-bytes", O_RDONLY | O_CLOEXEC)) != -1) {
		got = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[got > 0 ? got : 0] = '\0';
		n = strtoull(buf, &end, 10);
		lines = strncmp(end, " lines", 6) == 0;
		unbuffered = strncmp(end, " unbuffered", 11) == 0;
		if ((lines || unbuffered ? write_lines(n, unbuffered, &t0, &t1) :
		    write_bytes(n, &t0, &t1)) != 0)
			return (1);
		snprintf(line, sizeof line, "wrote %llu %lld.%09ld %lld.%09ld\n",
		    n, (long long)t0.tv_sec, t0.tv_nsec, (long long)t1.tv_sec,
		    t1.tv_nsec);
		append(path, line);
	}
	if ((outputs = getenv("CLOUDSPHERE_OUTPUTS")) != NULL &&
	    (fd = open(outputs, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) != -1) {
		if (write(fd, "{}\n", 3) != 3)
			fprintf(stderr, "stamp: %s: %s\n", outputs,
			    strerror(errno));
		close(fd);
	}
	return (0);
}
