/*
 * model-scale: how loading the desired-state model scales with the number
 * of deployments (DESIGN.md sections 2 and 8).
 *
 * For each N (default 1000 10000 100000), a bare Git repository is written
 * with "git fast-import": ten script blueprints, three environments, two
 * templates and N deployments, then a second commit that changes one input
 * of one deployment.  A fresh child process per N then measures, with the
 * same model_cache throughout:
 *
 *	full load	commit 1, empty cache, no previous model
 *	one change	commit 1 <-> commit 2 alternately, prev = the last model,
 *			the tree cache holding the last commit's deployments/
 *			tree only, as in the daemon: commit 2's tree is a pack
 *			delta against commit 1's (as a fetch over the network
 *			stores a new tree), rebuilt from it; commit 1's is
 *			stored whole (as a fetch from a repository on the same
 *			machine stores it) and read whole; the median of each
 *	no change	commit 2 again, prev = the model of commit 2 (median)
 *	tree read	libgit2 alone reading and walking the deployments/
 *			tree of commit 1 or 2 (median): the floor under a
 *			one-change load, since Git rewrites a folder's whole
 *			tree object when one file in it changes
 *
 * and the parent prints one table with the child's peak RSS (wait4).  The
 * cache statistics of each load show what was parsed and relinked.
 *
 * With -e, two more children per N measure the reconcile decision through
 * the real engine and store (a SQLite file in the temp dir): the first
 * load over an empty store (until N runs are queued), and one change over
 * a store where everything is applied (until the one run is queued); see
 * model-scale-engine.c.
 *
 * This is a benchmark, not a test: it exits 0 unless something failed
 * (the repository could not be generated, or it did not load without
 * errors).
 *
 * Usage: model-scale [-ekq] [-j FILE] [-r REPEATS] [N ...]
 *	-e	also the reconcile decision through the engine (below)
 *	-j	write the figures to FILE as JSON (for tests/bench/bench.py)
 *	-k	keep the generated repositories (their path is printed)
 *	-q	only the table, not one line per load
 *	-r	one-change and no-change loads per size (default 7)
 *
 * Environment: CLOUDSPHERECTL, the cloudspherectl used to validate the
 * first repository of at most 10000 deployments (default: the one next to
 * this program's build tree, then $PATH); TMPDIR.
 *
 * Profiling: the loads run inside bench_load_full, bench_load_change and
 * bench_load_nochange (never inlined), so a profile can be narrowed to one
 * of them, e.g. "perf report --no-children -p bench_load_change -x" or
 * "valgrind --tool=callgrind --collect-atstart=no
 * --toggle-collect=bench_load_change".
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "model-scale.h"

bool	quiet;

void
die(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("model-scale: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

static int
dbl_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

double
median(const double *v, size_t n)
{
	double	s[MAX_REPEATS];

	if (n == 0)
		return (0);
	memcpy(s, v, n * sizeof *s);
	qsort(s, n, sizeof *s, dbl_cmp);
	return (n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2);
}

void
minmax(const double *v, size_t n, double *min, double *max)
{
	size_t	i;

	*min = *max = v[0];
	for (i = 1; i < n; i++) {
		if (v[i] < *min)
			*min = v[i];
		if (v[i] > *max)
			*max = v[i];
	}
}

bool
child_measure(void (*fn)(const void *, void *), const void *arg, void *res,
    size_t size, int *status, long *maxrss_kb)
{
	struct rusage	ru;
	pid_t		pid;
	ssize_t		got;
	size_t		off = 0;
	int		p[2];

	if (pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char	*out = calloc(1, size);
		size_t	 put = 0;
		ssize_t	 w;

		close(p[0]);
		if (out == NULL)
			_exit(1);
		fn(arg, out);
		fflush(stdout);
		while (put < size) {
			w = write(p[1], out + put, size - put);
			if (w <= 0 && errno != EINTR)
				_exit(1);
			if (w > 0)
				put += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	memset(res, 0, size);
	while (off < size) {
		got = read(p[0], (char *)res + off, size - off);
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			die("read: %s", strerror(errno));
		}
		off += (size_t)got;
	}
	close(p[0]);
	while (wait4(pid, status, 0, &ru) == -1) {
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	}
	*maxrss_kb = ru.ru_maxrss;
	return (WIFEXITED(*status) && WEXITSTATUS(*status) == 0 &&
	    off == size);
}

struct row {
	struct repo	repo;
	struct result	res;
	long		maxrss_kb;
	struct eresult	first, change;
	long		first_rss_kb, change_rss_kb;
};

static void
usage(void)
{
	fprintf(stderr, "usage: model-scale [-ekq] [-j file] [-r repeats] [N ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const size_t	 defaults[] = { 1000, 10000, 100000 };
	struct row		*rows;
	size_t			*sizes, nsizes, i, repeats = 7;
	bool			 keep = false, validated = false, eng = false;
	char			*ctl, *end;
	const char		*jpath = NULL;
	FILE			*jf;
	const char		*argv0 = argv[0];
	int			 ch, s;

	while ((ch = getopt(argc, argv, "ej:kqr:")) != -1) {
		switch (ch) {
		case 'e':
			eng = true;
			break;
		case 'j':
			jpath = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'r':
			errno = 0;
			repeats = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || repeats < 1 ||
			    repeats > MAX_REPEATS - 1)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	nsizes = argc > 0 ? (size_t)argc : sizeof defaults / sizeof *defaults;
	if ((sizes = calloc(nsizes, sizeof *sizes)) == NULL ||
	    (rows = calloc(nsizes, sizeof *rows)) == NULL)
		die("out of memory");
	for (i = 0; i < nsizes; i++) {
		if (argc == 0) {
			sizes[i] = defaults[i];
			continue;
		}
		errno = 0;
		sizes[i] = strtoul(argv[i], &end, 10);
		if (errno != 0 || *end != '\0' || sizes[i] < 2 ||
		    sizes[i] > MODEL_MAX_DEPLOYMENTS || sizes[i] > 999999)
			die("bad size '%s' (2 to %d)", argv[i],
			    MODEL_MAX_DEPLOYMENTS);
	}
	ctl = ctl_find(argv0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < nsizes; i++) {
		struct row *row = &rows[i];

		printf("N=%zu: generating the repository... ", sizes[i]);
		fflush(stdout);
		repo_generate(&row->repo, sizes[i]);
		printf("%.0f ms, %.1f MiB (commits %.12s, %.12s)\n",
		    row->repo.gen_ms, (double)row->repo.bytes / 1048576.0,
		    row->repo.c1, row->repo.c2);
		if (!validated && sizes[i] <= 10000) {
			repo_validate(&row->repo, ctl);
			validated = true;
		}
		load_measure_child(&row->repo, repeats, &row->res,
		    &row->maxrss_kb);
		if (eng) {
			ebench_measure_child(&row->repo, repeats, 0,
			    &row->first, &row->first_rss_kb);
			ebench_measure_child(&row->repo, repeats, 1,
			    &row->change, &row->change_rss_kb);
		}
		if (keep)
			printf("N=%zu: kept %s\n", sizes[i], row->repo.git);
		else
			repo_remove(&row->repo);
	}
	if (!validated)
		printf("(no size <= 10000: repositories not checked with cloudspherectl validate)\n");

	printf("\nmodel load, Git source (one-change and no-change: median of %zu loads)\n\n",
	    repeats);
	printf("%11s  %10s  %10s  %6s  %10s  %10s  %10s  %8s  %9s\n",
	    "deployments", "full-load", "one-change", "ratio", "whole",
	    "tree-read", "no-change", "peak-RSS", "generate");
	printf("%11s  %10s  %10s  %6s  %10s  %10s  %10s  %8s  %9s\n", "", "ms",
	    "ms", "%", "ms", "ms", "ms", "MiB", "ms");
	for (i = 0; i < nsizes; i++) {
		const struct row *row = &rows[i];

		printf("%11zu  %10.1f  %10.2f  %5.1f%%  %10.2f  %10.2f  %10.2f  %8.1f  %9.0f\n",
		    row->repo.n, row->res.full_ms, row->res.change_ms,
		    100.0 * row->res.change_ms / row->res.full_ms,
		    row->res.change_whole_ms, row->res.tree_ms, row->res.nochange_ms, (double)row->maxrss_kb / 1024.0,
		    row->repo.gen_ms);
	}

	printf("\ncache statistics (parsed / reused / relinked)\n\n");
	printf("%11s  %-24s  %-24s  %-24s  %s\n", "deployments",
	    "full-load", "one-change (first)", "one-change (others)",
	    "no-change");
	for (i = 0; i < nsizes; i++) {
		const struct row	*row = &rows[i];
		char			 cell[ST_N][48];

		for (s = 0; s < ST_N; s++) {
			if (s == ST_CHANGE && row->res.repeats < 2)
				snprintf(cell[s], sizeof cell[s], "-");
			else
				snprintf(cell[s], sizeof cell[s],
				    "%zu / %zu / %zu%s",
				    row->res.stats[s][0], row->res.stats[s][1],
				    row->res.stats[s][2],
				    row->res.stats_stable[s] ? "" : " (varied)");
		}
		printf("%11zu  %-24s  %-24s  %-24s  %s\n", row->repo.n,
		    cell[ST_FULL], cell[ST_FIRST], cell[ST_CHANGE],
		    cell[ST_NOCHANGE]);
	}

	printf("\nnotes\n\n");
	for (i = 0; i < nsizes; i++) {
		const struct row *row = &rows[i];

		printf("%11zu  one-change min %.2f / max %.2f ms; %lu of its "
		    "trees rebuilt from a pack delta; model_free %.1f ms; "
		    "RSS at child start %.1f MiB, after the full load %.1f MiB\n",
		    row->repo.n, row->res.change_min, row->res.change_max,
		    row->res.tree_deltas,
		    row->res.free_ms, (double)row->res.base_rss_kb / 1024.0,
		    (double)row->res.rss_after_full_kb / 1024.0);
	}
	if (eng) {
		printf("\nreconcile decision through the engine (fetch done -> runs queued; one-change: median of %zu)\n\n",
		    repeats);
		printf("%11s  %10s  %8s  %10s  %10s  %10s  %10s  %10s  %9s  %8s  %8s\n",
		    "deployments", "first", "queued", "no-change", "one-change",
		    "load", "pass", "whole", "queued", "RSS-1st", "RSS-chg");
		printf("%11s  %10s  %8s  %10s  %10s  %10s  %10s  %10s  %9s  %8s  %8s\n",
		    "", "ms", "runs", "pass ms", "ms", "ms", "ms", "ms",
		    "per chg", "MiB", "MiB");
		for (i = 0; i < nsizes; i++) {
			const struct row *row = &rows[i];

			printf("%11zu  %10.1f  %8zu  %10.1f  %10.2f  %10.2f  %10.2f  %10.2f  %4zu-%-4zu  %8.1f  %8.1f\n",
			    row->repo.n, row->first.first_ms,
			    row->first.first_queued, row->change.nochange_ms,
			    row->change.decision_ms, row->change.load_ms,
			    row->change.pass_ms, row->change.decision_whole_ms,
			    row->change.queued_min,
			    row->change.queued_max,
			    (double)row->first_rss_kb / 1024.0,
			    (double)row->change_rss_kb / 1024.0);
		}
	}
	if (jpath != NULL) {
		if ((jf = fopen(jpath, "w")) == NULL)
			die("%s: %s", jpath, strerror(errno));
		fputs("[\n", jf);
		for (i = 0; i < nsizes; i++) {
			const struct row	*row = &rows[i];
			long			 peak = row->first_rss_kb >
			    row->change_rss_kb ? row->first_rss_kb :
			    row->change_rss_kb;

			fprintf(jf, " {\"deployments\": %zu, \"full_load_ms\": %.3f, "
			    "\"change_load_ms\": %.3f, \"nochange_load_ms\": %.3f, "
			    "\"change_whole_load_ms\": %.3f, \"tree_deltas\": %lu, "
			    "\"tree_read_ms\": %.3f, \"model_peak_rss_bytes\": %lld",
			    row->repo.n, row->res.full_ms, row->res.change_ms,
			    row->res.nochange_ms, row->res.change_whole_ms,
			    row->res.tree_deltas, row->res.tree_ms,
			    (long long)row->maxrss_kb * 1024);
			if (eng)
				fprintf(jf, ", \"first_ms\": %.3f, \"first_load_ms\": %.3f, "
				    "\"first_pass_ms\": %.3f, \"first_queued\": %zu, "
				    "\"populate_ms\": %.3f, \"nochange_pass_ms\": %.3f, "
				    "\"decision_ms\": %.3f, \"decision_min_ms\": %.3f, "
				    "\"decision_max_ms\": %.3f, \"decision_load_ms\": %.3f, "
				    "\"pass_ms\": %.3f, \"decision_whole_ms\": %.3f, "
				    "\"decision_whole_load_ms\": %.3f, "
				    "\"queued_per_change\": \"%zu-%zu\", "
				    "\"failed_runs\": %zu, \"repeats\": %zu, "
				    "\"first_rss_bytes\": %lld, \"change_rss_bytes\": %lld, "
				    "\"peak_rss_bytes\": %lld",
				    row->first.first_ms, row->first.first_load_ms,
				    row->first.first_pass_ms, row->first.first_queued,
				    row->change.populate_ms, row->change.nochange_ms,
				    row->change.decision_ms, row->change.decision_min,
				    row->change.decision_max, row->change.load_ms,
				    row->change.pass_ms, row->change.decision_whole_ms,
				    row->change.load_whole_ms, row->change.queued_min,
				    row->change.queued_max, row->change.failed,
				    row->change.repeats,
				    (long long)row->first_rss_kb * 1024,
				    (long long)row->change_rss_kb * 1024,
				    (long long)peak * 1024);
			fprintf(jf, "}%s\n", i + 1 < nsizes ? "," : "");
		}
		fputs("]\n", jf);
		if (fclose(jf) != 0)
			die("%s: %s", jpath, strerror(errno));
	}
	free(ctl);
	free(sizes);
	free(rows);
	return (0);
}
