/*
 * How fast the store takes run logs: appends of several sizes, one
 * transaction each, grouped in the caller's transactions, or several
 * chunks per call.  The daemon captures up to about 100 MB/s of provider
 * output, flushed in pieces of up to 256 KiB.  Not part of make check:
 * make bench-store, or tests/bench/store-log [MEGABYTES] [DIR].
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "xmalloc.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* mode 0: one transaction per append, 1: 1 MiB per transaction, 2: many */
static void
bench(struct store *s, int64_t dep, const char *what, size_t chunk,
    int mode, size_t total)
{
	struct iovec	 iov[16];
	char		*data = xmalloc(chunk);
	int64_t		 run;
	size_t		 done = 0, i, per;
	double		 t0, t;

	for (i = 0; i < chunk; i++)
		data[i] = i % 80 == 79 ? '\n' : (char)(' ' + i % 95);
	if (store_run_insert(s, dep, "apply", "cli", NULL, NULL, &run) != 0 ||
	    store_run_start(s, run) != 0) {
		fprintf(stderr, "cannot make a run\n");
		exit(1);
	}
	per = chunk >= (1 << 20) ? 1 : (1 << 20) / chunk;
	t0 = now();
	while (done < total) {
		if (mode == 1)
			store_begin(s);
		if (mode == 2) {
			for (i = 0; i < 16; i++) {
				iov[i].iov_base = data;
				iov[i].iov_len = chunk;
			}
			if (store_log_append_many(s, run, iov, 16) != 0)
				exit(1);
			done += 16 * chunk;
		} else {
			for (i = 0; i < (mode == 1 ? per : 1); i++) {
				if (store_log_append(s, run, data, chunk) != 0)
					exit(1);
				done += chunk;
			}
		}
		if (mode == 1 && store_commit(s) != 0)
			exit(1);
	}
	t = now() - t0;
	store_run_finish(s, run, "succeeded", 0, NULL, NULL);
	printf("%-32s %8zu B  %8.0f MB/s  %9.0f appends/s\n", what, chunk,
	    (double)done / t / 1e6, (double)done / (double)chunk / t);
	free(data);
}

int
main(int argc, char **argv)
{
	struct store	*s;
	char		*dir, *path, *cause = NULL;
	const char	*tmp = getenv("TMPDIR");
	size_t		 total;
	int64_t		 repo, dep;

	total = (argc > 1 ? strtoul(argv[1], NULL, 10) : 200) << 20;
	dir = argc > 2 ? xstrdup(argv[2]) : xasprintf("%s/cs-bench.XXXXXX",
	    tmp != NULL ? tmp : "/tmp");
	if (argc <= 2 && mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	path = xasprintf("%s/bench.db", dir);
	if (store_open(&s, path, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	if (store_repository_upsert(s, "bench", "u", "main", &repo) != 0 ||
	    store_deployment_ensure(s, repo, "d", &dep) != 0)
		return (1);
	printf("%zu MB per case, %s\n", total >> 20, path);
	bench(s, dep, "one transaction per append", 4096, 0, total);
	bench(s, dep, "one transaction per append", 65536, 0, total);
	bench(s, dep, "one transaction per append", 262144, 0, total);
	bench(s, dep, "1 MiB per caller transaction", 4096, 1, total);
	bench(s, dep, "1 MiB per caller transaction", 512, 1, total);
	bench(s, dep, "append_many, 16 chunks", 4096, 2, total);
	store_close(s);
	unlink(path);
	free(path);
	path = xasprintf("%s/bench.db-wal", dir);
	unlink(path);
	free(path);
	path = xasprintf("%s/bench.db-shm", dir);
	unlink(path);
	free(path);
	if (argc <= 2)
		rmdir(dir);
	free(dir);
	return (0);
}
