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
 *	one change	commit 1 <-> commit 2 alternately, prev = the last model
 *			(median of several loads)
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
 * "The reconcile decision" below.
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
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <git2.h>
#include <jansson.h>

#include "engine.h"
#include "model.h"
#include "proc.h"
#include "secrets.h"
#include "source.h"
#include "store.h"

#define NBLUEPRINTS	10
#define NENVIRONMENTS	3
#define MAX_REPEATS	101
#define CHANGED_INPUT	"size"
#define CHANGED_VALUE	4242

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void die(const char *, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void
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

static double
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

static double
median(const double *v, size_t n)
{
	double	s[MAX_REPEATS];

	if (n == 0)
		return (0);
	memcpy(s, v, n * sizeof *s);
	qsort(s, n, sizeof *s, dbl_cmp);
	return (n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2);
}

/* A growing string. */
struct sb {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void sb_printf(struct sb *, const char *, ...)
	__attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			die("out of memory");
	}
	b->len += (size_t)n;
}

static void
sb_init(struct sb *b)
{
	b->cap = 4096;
	b->len = 0;
	if ((b->p = malloc(b->cap)) == NULL)
		die("out of memory");
	b->p[0] = '\0';
}

/* Deterministic pseudo-random numbers from an index (splitmix64). */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	if (remove(path) != 0)
		fprintf(stderr, "model-scale: remove %s: %s\n", path,
		    strerror(errno));
	return (0);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static unsigned long long du_total;

static int
du_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F)
		du_total += (unsigned long long)st->st_size;
	return (0);
}

static unsigned long long
du(const char *dir)
{
	du_total = 0;
	nftw(dir, du_entry, 32, FTW_PHYS);
	return (du_total);
}

/* Run argv (no shell) with GIT_DIR set if gitdir is not NULL. */
static int
run(const char *gitdir, char *const argv[], int stdout_fd)
{
	pid_t	pid;
	int	status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (gitdir != NULL)
			setenv("GIT_DIR", gitdir, 1);
		if (stdout_fd != -1)
			dup2(stdout_fd, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "model-scale: %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	}
	return (status);
}

/* ------------------------------------------------------------------ */
/* The generated repository                                            */

/*
 * Ten script blueprints.  Every one declares name (string, required),
 * size (number) and upstream (string); some also a secret token, tags
 * (map), enabled (bool) or zones (list).  All declare output "id", half
 * of them "endpoint" too.
 */
static const char *const bp_names[NBLUEPRINTS] = {
	"web", "api", "worker", "cache", "queue",
	"db", "dns", "cdn", "storage", "monitor",
};
static const char *const env_names[NENVIRONMENTS] = {
	"dev", "staging", "prod",
};

static bool bp_token(int b) { return (b % 3 == 0); }
static bool bp_tags(int b) { return (b % 2 == 0); }
static bool bp_enabled(int b) { return (b % 4 == 1); }
static bool bp_zones(int b) { return (b % 5 == 2); }
static bool bp_endpoint(int b) { return (b % 2 == 0); }

static void
gen_blueprint(struct sb *b, int i)
{
	sb_printf(b,
	    "# generated by model-scale\n"
	    "description: %s service, run by a script\n"
	    "provider: script\n"
	    "inputs:\n"
	    "  name:\n"
	    "    type: string\n"
	    "    required: true\n"
	    "    description: Service name\n"
	    "  size: { type: number, default: 1, description: Instances }\n"
	    "  upstream: { type: string, default: none }\n",
	    bp_names[i]);
	if (bp_token(i))
		sb_printf(b, "  token: { type: string, secret: true }\n");
	if (bp_tags(i))
		sb_printf(b, "  tags: { type: map, default: {} }\n");
	if (bp_enabled(i))
		sb_printf(b, "  enabled: { type: bool, default: true }\n");
	if (bp_zones(i))
		sb_printf(b, "  zones: { type: list, default: [] }\n");
	sb_printf(b, "outputs: [id%s]\n"
	    "timeouts: { plan: 5m, apply: 15m, destroy: 10m }\n"
	    "script:\n"
	    "  command: ./deploy\n",
	    bp_endpoint(i) ? ", endpoint" : "");
}

static const char deploy_script[] =
    "#!/bin/sh\n"
    "# called as ./deploy plan|apply|destroy\n"
    "set -eu\n"
    "case ${1:-} in\n"
    "plan) exit 0 ;;\n"
    "apply) printf '{\"id\": \"%s\", \"endpoint\": \"%s.example\"}\\n' "
    "\"$CLOUDSPHERE_DEPLOYMENT\" \"$CLOUDSPHERE_DEPLOYMENT\" "
    "> \"$CLOUDSPHERE_OUTPUTS\" ;;\n"
    "destroy) ;;\n"
    "*) echo 'usage: deploy plan|apply|destroy' >&2; exit 1 ;;\n"
    "esac\n";

static void
gen_environment(struct sb *b, int i)
{
	static const char *const policy[NENVIRONMENTS] = {
	    "{ approval: auto, prune: true, drift_check: 1h, drift: correct }",
	    "{ approval: auto, prune: true, drift_check: 30m, drift: detect }",
	    "{ approval: manual, prune: false, drift_check: 6h, drift: detect }",
	};

	sb_printf(b,
	    "# generated by model-scale\n"
	    "description: The %s environment\n"
	    "runner:\n"
	    "  env:\n"
	    "    TIER: %s\n"
	    "    REGION: eu-%d\n"
	    "    DEPLOY_ENV: ${{ environment.name }}\n"
	    "inputs:\n"
	    "  size: %d\n"
	    "  tags: { tier: %s }\n"
	    "policy: %s\n",
	    env_names[i], env_names[i], i + 1, i + 1, env_names[i], policy[i]);
}

static const char tmpl_small[] =
    "# generated by model-scale\n"
    "description: Smallest size, fits any blueprint\n"
    "inputs:\n"
    "  size: 1\n";
static const char tmpl_web_large[] =
    "# generated by model-scale\n"
    "description: A large web pool\n"
    "blueprint: web\n"
    "inputs:\n"
    "  size: 8\n"
    "  tags: { size: large }\n";

/* The blueprint and template of deployment i. */
static int
dep_blueprint(size_t i)
{
	if (i % 20 == 3)
		return (0);	/* template web-large needs blueprint web */
	return ((int)(mix(i) % NBLUEPRINTS));
}

/* An earlier deployment, mostly close by (like related services). */
static size_t
dep_earlier(size_t i, uint64_t salt)
{
	uint64_t	r = mix(i ^ (salt << 40));
	size_t		span = i < 500 ? i : 500;

	return (i - 1 - (size_t)(r % span));
}

static void
gen_deployment(struct sb *b, size_t i, bool changed)
{
	int	bp = dep_blueprint(i);
	size_t	up;

	sb_printf(b,
	    "# generated by model-scale\n"
	    "description: Service %zu of the %s fleet\n"
	    "blueprint: %s\n"
	    "environment: %s\n",
	    i, bp_names[bp], bp_names[bp],
	    env_names[mix(i + 7) % NENVIRONMENTS]);
	if (i % 20 == 3)
		sb_printf(b, "template: web-large\n");
	else if (i % 20 == 13)
		sb_printf(b, "template: small\n");
	sb_printf(b, "inputs:\n  name: svc-%zu\n", i);
	if (i % 20 != 13 || changed)
		sb_printf(b, "  size: %d\n",
		    changed ? CHANGED_VALUE : (int)(i % 7) + 1);
	if (i % 10 == 4 && i > 0) {
		up = dep_earlier(i, 1);
		sb_printf(b,
		    "  upstream: ${{ deployments.dep-%06zu.outputs.%s }}\n", up,
		    bp_endpoint(dep_blueprint(up)) && i % 20 == 4 ?
		    "endpoint" : "id");
	}
	if (bp_token(bp))
		sb_printf(b, "  token: ${{ secrets.%s_token }}\n", bp_names[bp]);
	if (bp_tags(bp) && i % 2 == 0)
		sb_printf(b, "  tags:\n    team: team-%d\n"
		    "    cost-center: \"cc-%d\"\n",
		    (int)(i % 13), (int)(i % 5));
	if (bp_enabled(bp))
		sb_printf(b, "  enabled: %s\n", i % 9 == 0 ? "false" : "true");
	if (bp_zones(bp))
		sb_printf(b, "  zones: [a, b%s]\n", i % 3 == 0 ? ", c" : "");
	if (i % 5 == 1) {
		up = dep_earlier(i, 2);
		if (i % 15 == 1 && dep_earlier(i, 3) != up)
			sb_printf(b, "depends_on: [dep-%06zu, dep-%06zu]\n", up,
			    dep_earlier(i, 3));
		else
			sb_printf(b, "depends_on: [dep-%06zu]\n", up);
	}
	if (i % 25 == 0)
		sb_printf(b, "policy: { approval: manual, drift_check: 15m }\n");
	if (i % 97 == 0)
		sb_printf(b, "suspended: true\n");
}

static void
fi_file(FILE *f, const char *mode, const char *path, const char *data,
    size_t len)
{
	fprintf(f, "M %s inline %s\ndata %zu\n", mode, path, len);
	fwrite(data, 1, len, f);
	fputc('\n', f);
}

static void
fi_commit(FILE *f, int mark, int from, const char *msg)
{
	fprintf(f, "commit refs/heads/main\nmark :%d\n"
	    "committer Model Scale <bench@example.com> %d +0000\n"
	    "data %zu\n%s\n", mark, 1700000000 + mark, strlen(msg), msg);
	if (from != 0)
		fprintf(f, "from :%d\n", from);
}

struct repo {
	char	 dir[PATH_MAX - 64];	/* temp dir */
	char	 git[PATH_MAX];		/* bare repository */
	char	 c1[GIT_OID_HEXSZ + 1];
	char	 c2[GIT_OID_HEXSZ + 1];
	char	 changed[32];		/* deployment changed by c2 */
	size_t	 n;
	double	 gen_ms;
	unsigned long long bytes;
};

static void
read_marks(struct repo *r, const char *path)
{
	FILE	*f;
	char	 line[256], hex[GIT_OID_HEXSZ + 1];
	int	 mark;

	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, ":%d %40s", &mark, hex) != 2)
			continue;
		if (mark == 1)
			memcpy(r->c1, hex, sizeof hex);
		else if (mark == 2)
			memcpy(r->c2, hex, sizeof hex);
	}
	fclose(f);
	if (r->c1[0] == '\0' || r->c2[0] == '\0')
		die("%s: commit marks missing", path);
}

static void
generate(struct repo *r, size_t n)
{
	const char	*tmp = getenv("TMPDIR");
	char		 marks[PATH_MAX + 16], optmarks[PATH_MAX + 32];
	char		*init[] = { "git", "init", "--bare", "-q",
			    "--initial-branch=main", r->git, NULL };
	char		*fi[] = { "git", "fast-import", "--quiet",
			    optmarks, NULL };
	struct sb	 b;
	FILE		*f;
	double		 t0 = now_ms();
	size_t		 i;
	pid_t		 pid;
	int		 p[2], status, bpi;
	char		 path[128];

	memset(r, 0, sizeof *r);
	r->n = n;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(r->dir, sizeof r->dir, "%s/model-scale.XXXXXX",
	    tmp) >= sizeof r->dir)
		die("TMPDIR is too long");
	if (mkdtemp(r->dir) == NULL)
		die("mkdtemp %s: %s", r->dir, strerror(errno));
	snprintf(r->git, sizeof r->git, "%s/config.git", r->dir);
	snprintf(marks, sizeof marks, "%s/marks", r->dir);
	snprintf(optmarks, sizeof optmarks, "--export-marks=%s", marks);
	snprintf(r->changed, sizeof r->changed, "dep-%06zu", n / 2);

	if ((status = run(NULL, init, -1)) != 0)
		die("git init failed (status %d)", status);

	if (pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[1]);
		dup2(p[0], STDIN_FILENO);
		close(p[0]);
		setenv("GIT_DIR", r->git, 1);
		execvp(fi[0], fi);
		fprintf(stderr, "model-scale: git fast-import: %s\n",
		    strerror(errno));
		_exit(127);
	}
	close(p[0]);
	if ((f = fdopen(p[1], "w")) == NULL)
		die("fdopen: %s", strerror(errno));
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	sb_init(&b);

	fi_commit(f, 1, 0, "model-scale: initial configuration");
	for (bpi = 0; bpi < NBLUEPRINTS; bpi++) {
		b.len = 0;
		gen_blueprint(&b, bpi);
		snprintf(path, sizeof path, "blueprints/%s/blueprint.yaml",
		    bp_names[bpi]);
		fi_file(f, "100644", path, b.p, b.len);
		snprintf(path, sizeof path, "blueprints/%s/deploy",
		    bp_names[bpi]);
		fi_file(f, "100755", path, deploy_script,
		    sizeof deploy_script - 1);
	}
	for (bpi = 0; bpi < NENVIRONMENTS; bpi++) {
		b.len = 0;
		gen_environment(&b, bpi);
		snprintf(path, sizeof path, "environments/%s.yaml",
		    env_names[bpi]);
		fi_file(f, "100644", path, b.p, b.len);
	}
	fi_file(f, "100644", "templates/small.yaml", tmpl_small,
	    sizeof tmpl_small - 1);
	fi_file(f, "100644", "templates/web-large.yaml", tmpl_web_large,
	    sizeof tmpl_web_large - 1);
	fi_file(f, "100644", "README.md", "Generated by model-scale.\n", 26);
	for (i = 0; i < n; i++) {
		b.len = 0;
		gen_deployment(&b, i, false);
		snprintf(path, sizeof path, "deployments/dep-%06zu.yaml", i);
		fi_file(f, "100644", path, b.p, b.len);
	}
	fputc('\n', f);

	/* Commit 2: one input of one deployment. */
	fi_commit(f, 2, 1, "model-scale: change one input");
	b.len = 0;
	gen_deployment(&b, n / 2, true);
	snprintf(path, sizeof path, "deployments/%s.yaml", r->changed);
	fi_file(f, "100644", path, b.p, b.len);
	fputs("\ndone\n", f);
	free(b.p);
	if (fclose(f) != 0)
		die("writing to git fast-import: %s", strerror(errno));
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	}
	if (status != 0)
		die("git fast-import failed (status %d)", status);
	read_marks(r, marks);
	r->gen_ms = now_ms() - t0;
	r->bytes = du(r->git);
}

/* The repository must be valid: cloudspherectl validate, both commits. */
static void
validate(const struct repo *r, const char *ctl)
{
	const char	*revs[2] = { r->c1, r->c2 };
	char		*argv[] = { (char *)ctl, "validate", "--git",
			    (char *)r->git, "--rev", NULL, NULL };
	int		 i, status;

	for (i = 0; i < 2; i++) {
		argv[5] = (char *)revs[i];
		printf("validate commit %d (%.12s): ", i + 1, revs[i]);
		fflush(stdout);
		status = run(NULL, argv, -1);
		if (status != 0)
			die("cloudspherectl validate failed (status %d) on %s",
			    status, r->git);
	}
}

/* Where cloudspherectl is: $CLOUDSPHERECTL, the build tree, or $PATH. */
static char *
find_ctl(const char *argv0)
{
	const char	*env = getenv("CLOUDSPHERECTL");
	const char	*slash = strrchr(argv0, '/');
	char		 path[PATH_MAX];

	if (env != NULL && env[0] != '\0')
		return (strdup(env));
	if (slash != NULL) {
		/* tests/bench/model-scale -> ../../cloudspherectl */
		snprintf(path, sizeof path, "%.*s/../../cloudspherectl",
		    (int)(slash - argv0), argv0);
		if (access(path, X_OK) == 0)
			return (strdup(path));
	}
	return (strdup("cloudspherectl"));
}

/* ------------------------------------------------------------------ */
/* The measurements, in a child process per size                       */

enum { ST_FULL, ST_FIRST, ST_CHANGE, ST_NOCHANGE, ST_N };

struct result {
	int	ok;
	size_t	repeats;
	double	full_ms;
	double	change_ms;		/* median */
	double	change_min, change_max;
	double	nochange_ms;		/* median */
	double	tree_ms;		/* median: read deployments/ alone */
	double	free_ms;		/* model_free of a whole model */
	long	base_rss_kb;		/* at the start of the child */
	long	rss_after_full_kb;
	size_t	stats[ST_N][3];		/* parsed, reused, relinked */
	bool	stats_stable[ST_N];	/* same figures at every load */
};

static struct model_cache *g_cache;
static git_repository *g_repo;
static bool quiet;

static long
rss_kb(void)
{
	FILE	*f = fopen("/proc/self/status", "r");
	char	 line[256];
	long	 kb = -1;

	if (f == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return (kb);
}

/* One load: source_git_new + model_load, timed. */
static struct model *
load(const char *hex, const struct model *prev, double *ms)
{
	struct source	*src;
	struct model	*m;
	git_oid		 oid;
	char		*cause;
	double		 t0;

	if (git_oid_fromstr(&oid, hex) != 0)
		die("bad commit id %s", hex);
	t0 = now_ms();
	if (source_git_new(&src, g_repo, &oid, NULL, &cause) != 0)
		die("source_git_new: %s", cause);
	if (model_load(&m, src, g_cache, prev, &cause) != 0)
		die("model_load: %s", cause);
	*ms = now_ms() - t0;
	source_free(src);
	return (m);
}

/*
 * The floor under a one-change load: libgit2 reading the deployments/ tree
 * of a commit and walking its entries, nothing else.
 */
static double
tree_read(const char *hex)
{
	git_commit	*c;
	git_tree	*root, *t;
	git_tree_entry	*e;
	git_oid		 oid;
	size_t		 i, n;
	unsigned	 sum = 0;
	double		 t0;

	if (git_oid_fromstr(&oid, hex) != 0)
		die("bad commit id %s", hex);
	t0 = now_ms();
	if (git_commit_lookup(&c, g_repo, &oid) != 0 ||
	    git_commit_tree(&root, c) != 0 ||
	    git_tree_entry_bypath(&e, root, "deployments") != 0 ||
	    git_tree_lookup(&t, g_repo, git_tree_entry_id(e)) != 0)
		die("cannot read deployments/ of %s", hex);
	n = git_tree_entrycount(t);
	for (i = 0; i < n; i++)
		sum += git_tree_entry_id(git_tree_entry_byindex(t, i))->id[0];
	git_tree_free(t);
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(c);
	if (sum == 1)		/* keep the loop */
		fputc('\0', stderr);
	return (now_ms() - t0);
}

/* Separate, never inlined, so that a profile can pick one of them. */
static struct model *bench_load_full(const char *, double *)
	__attribute__((noinline));
static struct model *bench_load_change(const char *, const struct model *,
	double *) __attribute__((noinline));
static struct model *bench_load_nochange(const char *, const struct model *,
	double *) __attribute__((noinline));

static struct model *
bench_load_full(const char *hex, double *ms)
{
	return (load(hex, NULL, ms));
}

static struct model *
bench_load_change(const char *hex, const struct model *prev, double *ms)
{
	return (load(hex, prev, ms));
}

static struct model *
bench_load_nochange(const char *hex, const struct model *prev, double *ms)
{
	return (load(hex, prev, ms));
}

static void
check(const struct repo *r, const struct model *m, const char *what)
{
	if (m->ndeployments != r->n)
		die("%s: %zu deployments loaded, expected %zu", what,
		    m->ndeployments, r->n);
	if (m->diags.n > 0)
		die("%s: %zu errors, first %s:%d: %s", what, m->diags.n,
		    m->diags.v[0].file, m->diags.v[0].line,
		    m->diags.v[0].message);
	if (model_invalid_count(m) != 0)
		die("%s: %zu invalid deployments", what,
		    model_invalid_count(m));
}

/* The changed input, to be sure the one-change load saw the change. */
static long long
changed_input(const struct repo *r, const struct model *m)
{
	const struct deployment	*d = model_deployment(m, r->changed);
	size_t			 i;

	if (d == NULL)
		die("deployment %s missing", r->changed);
	for (i = 0; i < d->ninputs; i++) {
		if (strcmp(d->inputs[i].name, CHANGED_INPUT) == 0)
			return (json_integer_value(d->inputs[i].value));
	}
	die("deployment %s has no input %s", r->changed, CHANGED_INPUT);
}

static void
record(struct result *res, int kind, bool first, const struct repo *r,
    const char *label, double ms)
{
	size_t	s[3];

	model_cache_stats(g_cache, &s[0], &s[1], &s[2]);
	if (first) {
		memcpy(res->stats[kind], s, sizeof s);
		res->stats_stable[kind] = true;
	} else if (memcmp(res->stats[kind], s, sizeof s) != 0)
		res->stats_stable[kind] = false;
	if (!quiet)
		printf("  N=%-7zu %-24s %10.2f ms   parsed %zu, reused %zu, relinked %zu\n",
		    r->n, label, ms, s[0], s[1], s[2]);
}

static void
measure(const struct repo *r, size_t repeats, struct result *res)
{
	struct model	*m1, *cur, *next;
	double		 change[MAX_REPEATS], nochange[MAX_REPEATS], ms, t0;
	size_t		 k, nchange = 0;
	char		 label[64];
	long long	 v;

	memset(res, 0, sizeof *res);
	res->repeats = repeats;
	res->base_rss_kb = rss_kb();
	git_libgit2_init();
	if (git_repository_open_bare(&g_repo, r->git) != 0)
		die("%s: %s", r->git, git_error_last() != NULL ?
		    git_error_last()->message : "cannot open");
	g_cache = model_cache_new();

	/* (a) Full load of commit 1, empty cache. */
	m1 = bench_load_full(r->c1, &res->full_ms);
	res->rss_after_full_kb = rss_kb();
	record(res, ST_FULL, true, r, "full load (commit 1)", res->full_ms);
	check(r, m1, "commit 1");

	/* (b) Commit 2 with prev = commit 1: one file re-parsed. */
	cur = bench_load_change(r->c2, m1, &ms);
	change[nchange++] = ms;
	record(res, ST_FIRST, true, r, "one change (1 -> 2)", ms);
	check(r, cur, "commit 2");
	if ((v = changed_input(r, cur)) != CHANGED_VALUE ||
	    changed_input(r, m1) == CHANGED_VALUE)
		die("the changed input is %lld in commit 2", v);
	t0 = now_ms();
	model_free(m1);
	res->free_ms = now_ms() - t0;

	/* More one-change loads, back and forth, prev = the last model. */
	for (k = 1; k < repeats; k++) {
		bool to1 = k % 2 == 1;

		snprintf(label, sizeof label, "one change (%d -> %d)",
		    to1 ? 2 : 1, to1 ? 1 : 2);
		next = bench_load_change(to1 ? r->c1 : r->c2, cur, &ms);
		change[nchange++] = ms;
		record(res, ST_CHANGE, k == 1, r, label, ms);
		check(r, next, label);
		if ((changed_input(r, next) == CHANGED_VALUE) == to1)
			die("%s: wrong value of the changed input", label);
		model_free(cur);
		cur = next;
	}
	if (changed_input(r, cur) != CHANGED_VALUE) {
		/* End on commit 2 for the no-change loads. */
		next = bench_load_change(r->c2, cur, &ms);
		model_free(cur);
		cur = next;
	}

	/* (c) Commit 2 again with prev = commit 2: nothing changed. */
	for (k = 0; k < repeats; k++) {
		next = bench_load_nochange(r->c2, cur, &nochange[k]);
		record(res, ST_NOCHANGE, k == 0, r, "no change (2 -> 2)",
		    nochange[k]);
		check(r, next, "no change");
		model_free(cur);
		cur = next;
	}

	res->change_ms = median(change, nchange);
	res->change_min = res->change_max = change[0];
	for (k = 1; k < nchange; k++) {
		if (change[k] < res->change_min)
			res->change_min = change[k];
		if (change[k] > res->change_max)
			res->change_max = change[k];
	}
	res->nochange_ms = median(nochange, repeats);
	for (k = 0; k < repeats; k++)
		nochange[k] = tree_read(k % 2 == 0 ? r->c1 : r->c2);
	res->tree_ms = median(nochange, repeats);

	model_free(cur);
	model_cache_free(g_cache);
	git_repository_free(g_repo);
	git_libgit2_shutdown();
	res->ok = 1;
}

/* Fork, measure in the child, collect its results and peak RSS. */
static void
measure_child(const struct repo *r, size_t repeats, struct result *res,
    long *maxrss_kb)
{
	struct rusage	ru;
	pid_t		pid;
	ssize_t		got;
	size_t		off = 0;
	int		p[2], status;

	if (pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct result	 out;
		const char	*at = (const char *)&out;
		size_t		 put = 0;
		ssize_t		 w;

		close(p[0]);
		measure(r, repeats, &out);
		fflush(stdout);
		while (put < sizeof out) {
			w = write(p[1], at + put, sizeof out - put);
			if (w <= 0 && errno != EINTR)
				_exit(1);
			if (w > 0)
				put += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	memset(res, 0, sizeof *res);
	while (off < sizeof *res) {
		got = read(p[0], (char *)res + off, sizeof *res - off);
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
	while (wait4(pid, &status, 0, &ru) == -1) {
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    off != sizeof *res || !res->ok)
		die("measuring N=%zu failed (status %d)", r->n, status);
	*maxrss_kb = ru.ru_maxrss;
}


/* ------------------------------------------------------------------ */
/* The reconcile decision through the engine (-e)                      */

/*
 * What the daemon does after a fetch, minus the thread hand-off: load the
 * model (from the previous one), engine_update, one reconcile pass.  The
 * engine's run hook, called inside the pass when a run is queued, gives
 * the moment of the decision and proves how many runs were queued.
 *
 *	first load	empty store, empty cache: t0 before the model load,
 *			until the N-th run is queued
 *	one change	a store where every deployment is applied at its
 *			fingerprint (written ahead, then checked by a pass
 *			over commit 1 that must queue nothing); commit 1 <->
 *			2 alternately: t0 before the model load, until the
 *			one run is queued; each run really runs (./deploy)
 *			and ends before the next change
 */

#define BENCH_KEY_LEN	32

static const char *const secret_names[] = {
	"web_token", "cache_token", "dns_token", "monitor_token",
};

struct eresult {
	int	ok;
	double	first_ms;		/* load + pass until the N-th queued */
	double	first_load_ms;		/* the model load alone in it */
	double	first_pass_ms;		/* the whole first pass */
	size_t	first_queued;
	double	populate_ms;
	double	nochange_ms;		/* a pass over commit 1 again */
	size_t	nochange_queued;
	double	decision_ms;		/* median: load + pass to the queued run */
	double	decision_min, decision_max;
	double	load_ms;		/* median: the model load alone */
	double	pass_ms;		/* median: the whole pass */
	size_t	queued_min, queued_max;	/* per change */
	size_t	failed;			/* runs that did not succeed */
	size_t	repeats;
};

struct ebench {
	struct event_base	*base;
	struct store		*store;
	struct engine		*e;
	struct engine_repo	*er;
	int64_t			 rid;
	char			 state[PATH_MAX];
	char			 secrets[PATH_MAX];
	unsigned char		 key[BENCH_KEY_LEN];
	/* From the run hook. */
	size_t			 queued;	/* before the first start */
	double			 last_queued_ms;
	bool			 started;
	double			 started_ms;	/* the first run's start */
	size_t			 final;
	size_t			 failed;
};

static void
ebench_hook(const struct engine_run_event *ev, void *arg)
{
	struct ebench	*b = arg;

	/*
	 * A pass queues its runs, then starts what it may: the first start
	 * marks the end of the pass that decided (later passes, after runs
	 * end, queue dependents: not counted).
	 */
	if (strcmp(ev->state, "queued") == 0 && !b->started) {
		b->queued++;
		b->last_queued_ms = now_ms();
	} else if (strcmp(ev->state, "running") == 0 && !b->started) {
		b->started = true;
		b->started_ms = now_ms();
		/* Back to the bench once the pass is over. */
		event_base_loopbreak(b->base);
	} else if (store_run_state_final(ev->state)) {
		b->final++;
		if (strcmp(ev->state, "succeeded") != 0)
			b->failed++;
	}
}

static void
ebench_release(struct model *m, void *arg)
{
	(void)arg;
	model_free(m);
}

static void
ebench_open(struct ebench *b, const struct repo *r, const char *name)
{
	struct engine_config	 ec;
	char			 db[PATH_MAX + 32], path[PATH_MAX + 64];
	char			*cause = NULL;
	size_t			 i;
	int			 fd;

	memset(b, 0, sizeof *b);
	snprintf(b->state, sizeof b->state, "%s/%s", r->dir, name);
	snprintf(b->secrets, sizeof b->secrets, "%s/secrets", r->dir);
	if (mkdir(b->state, 0700) != 0 ||
	    (mkdir(b->secrets, 0700) != 0 && errno != EEXIST))
		die("mkdir %s: %s", b->state, strerror(errno));
	for (i = 0; i < sizeof secret_names / sizeof *secret_names; i++) {
		snprintf(path, sizeof path, "%s/%s", b->secrets,
		    secret_names[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
		    write(fd, "s3cret\n", 7) != 7)
			die("%s: %s", path, strerror(errno));
		close(fd);
	}
	for (i = 0; i < sizeof b->key; i++)
		b->key[i] = (unsigned char)(i * 7 + 1);
	snprintf(db, sizeof db, "%s/cloudsphere.db", b->state);
	if (store_open(&b->store, db, &cause) != 0)
		die("store_open: %s", cause);
	if (store_repository_upsert(b->store, "bench", r->git, "main",
	    &b->rid) != 0)
		die("store_repository_upsert failed");
	if ((b->base = event_base_new()) == NULL)
		die("event_base_new failed");
	if (proc_init(b->base) != 0)
		die("proc_init failed");
	memset(&ec, 0, sizeof ec);
	ec.state_dir = b->state;
	ec.secrets_dir = b->secrets;
	ec.max_parallel_runs = 4;
	ec.prune_limit = 5;
	ec.retry_min = 1;
	ec.retry_max = 2;
	ec.log_max_bytes = 16 * 1024 * 1024;
	ec.grace = 10;
	b->e = engine_new(b->base, b->store, &ec, b->key, sizeof b->key);
	engine_set_run_hook(b->e, ebench_hook, b);
	b->er = engine_repo_add(b->e, "bench", b->rid, r->git, ebench_release,
	    NULL);
	engine_repo_release_hold(b->er);
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

/* The resolver of the written-ahead store: what ./deploy writes. */
struct pctx {
	struct ebench	*b;
};

static int
populate_secret(void *arg, const char *name, char **value, char **cause)
{
	struct pctx	*c = arg;

	return (secrets_read(c->b->secrets, name, value, cause));
}

static json_t *
populate_output(void *arg, const char *dep, const char *output)
{
	char	buf[128];

	(void)arg;
	if (strcmp(output, "id") == 0)
		return (json_string(dep));
	if (strcmp(output, "endpoint") == 0) {
		snprintf(buf, sizeof buf, "%s.example", dep);
		return (json_string(buf));
	}
	return (NULL);
}

/* Every deployment applied at its fingerprint, as after a first sync. */
static void
populate(struct ebench *b, const struct model *m, const char *commit)
{
	struct pctx	 c = { b };
	struct resolver	 res = { .commit = commit, .arg = &c,
	    .secret = populate_secret, .output = populate_output,
	    .key = b->key, .keylen = sizeof b->key };
	char		 fp[MODEL_FINGERPRINT_LEN + 1], outputs[256];
	char		*cause = NULL;
	size_t		 i;
	int64_t		 id;

	store_begin(b->store);
	for (i = 0; i < m->ndeployments; i++) {
		const struct deployment *d = m->deployments[i];

		if (store_deployment_ensure(b->store, b->rid, d->name,
		    &id) != 0)
			die("store_deployment_ensure %s failed", d->name);
		if (d->suspended) {
			store_deployment_set_phase(b->store, id, "suspended", 0,
			    "suspended in the repository", NULL);
			continue;
		}
		if (model_fingerprint(fp, d, &res, &cause) != 0)
			die("%s: %s", d->name, cause);
		snprintf(outputs, sizeof outputs,
		    "{\"endpoint\":\"%s.example\",\"id\":\"%s\"}", d->name,
		    d->name);
		store_deployment_set_desired(b->store, id, d->blueprint->name,
		    d->environment->name, commit, fp, false);
		store_deployment_set_applied(b->store, id, commit, fp,
		    outputs);
		store_deployment_set_phase(b->store, id, "ready", 0,
		    "written ahead by model-scale", NULL);
	}
	store_commit(b->store);
}

/* One pass after a new model; returns when the pass is over. */
static void
ebench_pass(struct ebench *b, struct model *m, const char *hex)
{
	b->queued = 0;
	b->final = 0;
	b->failed = 0;
	b->started = false;
	engine_update(b->er, m, hex, "bench");
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

/* Until every run queued has ended, then the pass that follows. */
static void
ebench_drain(struct ebench *b)
{
	double	end = now_ms() + 60000;

	while (b->final < b->queued) {
		if (now_ms() > end)
			die("runs did not end within 60 s");
		event_base_loop(b->base, EVLOOP_ONCE);
	}
	event_base_loop(b->base, EVLOOP_NONBLOCK);
}

static struct model *bench_engine_first(const struct repo *,
	struct ebench *, struct eresult *) __attribute__((noinline));
static void bench_engine_change(const struct repo *, struct ebench *,
	struct model *, size_t, struct eresult *) __attribute__((noinline));

static struct model *
bench_engine_first(const struct repo *r, struct ebench *b,
    struct eresult *res)
{
	struct model	*m;
	double		 t0 = now_ms();

	m = load(r->c1, NULL, &res->first_load_ms);
	ebench_pass(b, m, r->c1);
	res->first_pass_ms = b->started_ms - t0;
	res->first_ms = b->last_queued_ms - t0;
	res->first_queued = b->queued;
	return (m);
}

static void
bench_engine_change(const struct repo *r, struct ebench *b,
    struct model *cur, size_t repeats, struct eresult *res)
{
	double		 dec[MAX_REPEATS] = { 0 }, lms[MAX_REPEATS] = { 0 };
	double		 pms[MAX_REPEATS] = { 0 };
	double		 t0, end;
	struct model	*next;
	size_t		 k;

	res->queued_min = SIZE_MAX;
	for (k = 0; k < repeats; k++) {
		const char *hex = k % 2 == 0 ? r->c2 : r->c1;

		t0 = now_ms();
		next = load(hex, cur, &lms[k]);
		ebench_pass(b, next, hex);
		end = b->started ? b->started_ms : now_ms();
		dec[k] = b->queued > 0 ? b->last_queued_ms - t0 : end - t0;
		pms[k] = end - t0;
		if (b->queued < res->queued_min)
			res->queued_min = b->queued;
		if (b->queued > res->queued_max)
			res->queued_max = b->queued;
		if (!quiet)
			printf("  N=%-7zu engine one change %-12.12s %8.2f ms to the decision, %8.2f ms the pass, %zu queued\n",
			    r->n, hex, dec[k], pms[k], b->queued);
		ebench_drain(b);
		res->failed += b->failed;
		cur = next;
	}
	res->repeats = repeats;
	res->decision_ms = median(dec, repeats);
	res->load_ms = median(lms, repeats);
	res->pass_ms = median(pms, repeats);
	res->decision_min = res->decision_max = dec[0];
	for (k = 1; k < repeats; k++) {
		if (dec[k] < res->decision_min)
			res->decision_min = dec[k];
		if (dec[k] > res->decision_max)
			res->decision_max = dec[k];
	}
}

/* which 0: the first load; 1: the one-change decisions. */
static void
measure_engine(const struct repo *r, size_t repeats, int which,
    struct eresult *res)
{
	struct ebench	 b;
	struct model	*m;
	double		 t0, ms;

	memset(res, 0, sizeof *res);
	git_libgit2_init();
	if (git_repository_open_bare(&g_repo, r->git) != 0)
		die("%s: cannot open", r->git);
	g_cache = model_cache_new();
	if (which == 0) {
		ebench_open(&b, r, "engine-first");
		bench_engine_first(r, &b, res);
		/* The runs that started are killed: only the decision counts. */
		proc_shutdown();
		res->ok = 1;
		return;
	}
	ebench_open(&b, r, "engine-change");
	m = load(r->c1, NULL, &ms);
	t0 = now_ms();
	populate(&b, m, r->c1);
	res->populate_ms = now_ms() - t0;
	/* The store written ahead must agree with the engine: no run. */
	t0 = now_ms();
	ebench_pass(&b, m, r->c1);
	res->nochange_ms = now_ms() - t0;
	res->nochange_queued = b.queued;
	if (b.queued != 0)
		die("N=%zu: %zu runs queued over the store written ahead (expected none)",
		    r->n, b.queued);
	bench_engine_change(r, &b, m, repeats, res);
	proc_shutdown();
	res->ok = 1;
}

/* Fork, measure in the child; its results and peak RSS. */
static void
measure_engine_child(const struct repo *r, size_t repeats, int which,
    struct eresult *res, long *maxrss_kb)
{
	struct rusage	ru;
	pid_t		pid;
	ssize_t		got;
	size_t		off = 0;
	int		p[2], status;

	if (pipe(p) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		struct eresult	 out;
		const char	*at = (const char *)&out;
		size_t		 put = 0;
		ssize_t		 w;

		close(p[0]);
		measure_engine(r, repeats, which, &out);
		fflush(stdout);
		while (put < sizeof out) {
			w = write(p[1], at + put, sizeof out - put);
			if (w <= 0 && errno != EINTR)
				_exit(1);
			if (w > 0)
				put += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	memset(res, 0, sizeof *res);
	while (off < sizeof *res) {
		got = read(p[0], (char *)res + off, sizeof *res - off);
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
	while (wait4(pid, &status, 0, &ru) == -1) {
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    off != sizeof *res || !res->ok)
		die("engine measurement N=%zu failed (status %d)", r->n,
		    status);
	*maxrss_kb = ru.ru_maxrss;
}
/* ------------------------------------------------------------------ */

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
	ctl = find_ctl(argv0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	for (i = 0; i < nsizes; i++) {
		struct row *row = &rows[i];

		printf("N=%zu: generating the repository... ", sizes[i]);
		fflush(stdout);
		generate(&row->repo, sizes[i]);
		printf("%.0f ms, %.1f MiB (commits %.12s, %.12s)\n",
		    row->repo.gen_ms, (double)row->repo.bytes / 1048576.0,
		    row->repo.c1, row->repo.c2);
		if (!validated && sizes[i] <= 10000) {
			validate(&row->repo, ctl);
			validated = true;
		}
		measure_child(&row->repo, repeats, &row->res, &row->maxrss_kb);
		if (eng) {
			measure_engine_child(&row->repo, repeats, 0,
			    &row->first, &row->first_rss_kb);
			measure_engine_child(&row->repo, repeats, 1,
			    &row->change, &row->change_rss_kb);
		}
		if (keep)
			printf("N=%zu: kept %s\n", sizes[i], row->repo.git);
		else
			rm_rf(row->repo.dir);
	}
	if (!validated)
		printf("(no size <= 10000: repositories not checked with cloudspherectl validate)\n");

	printf("\nmodel load, Git source (one-change and no-change: median of %zu loads)\n\n",
	    repeats);
	printf("%11s  %10s  %10s  %6s  %10s  %10s  %8s  %9s\n", "deployments",
	    "full-load", "one-change", "ratio", "tree-read", "no-change",
	    "peak-RSS", "generate");
	printf("%11s  %10s  %10s  %6s  %10s  %10s  %8s  %9s\n", "", "ms", "ms",
	    "%", "ms", "ms", "MiB", "ms");
	for (i = 0; i < nsizes; i++) {
		const struct row *row = &rows[i];

		printf("%11zu  %10.1f  %10.2f  %5.1f%%  %10.2f  %10.2f  %8.1f  %9.0f\n",
		    row->repo.n, row->res.full_ms, row->res.change_ms,
		    100.0 * row->res.change_ms / row->res.full_ms,
		    row->res.tree_ms, row->res.nochange_ms, (double)row->maxrss_kb / 1024.0,
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

		printf("%11zu  one-change min %.2f / max %.2f ms; model_free %.1f ms; "
		    "RSS at child start %.1f MiB, after the full load %.1f MiB\n",
		    row->repo.n, row->res.change_min, row->res.change_max,
		    row->res.free_ms, (double)row->res.base_rss_kb / 1024.0,
		    (double)row->res.rss_after_full_kb / 1024.0);
	}
	if (eng) {
		printf("\nreconcile decision through the engine (fetch done -> runs queued; one-change: median of %zu)\n\n",
		    repeats);
		printf("%11s  %10s  %8s  %10s  %10s  %10s  %10s  %9s  %8s  %8s\n",
		    "deployments", "first", "queued", "no-change", "one-change",
		    "load", "pass", "queued", "RSS-1st", "RSS-chg");
		printf("%11s  %10s  %8s  %10s  %10s  %10s  %10s  %9s  %8s  %8s\n",
		    "", "ms", "runs", "pass ms", "ms", "ms", "ms", "per chg",
		    "MiB", "MiB");
		for (i = 0; i < nsizes; i++) {
			const struct row *row = &rows[i];

			printf("%11zu  %10.1f  %8zu  %10.1f  %10.2f  %10.2f  %10.2f  %4zu-%-4zu  %8.1f  %8.1f\n",
			    row->repo.n, row->first.first_ms,
			    row->first.first_queued, row->change.nochange_ms,
			    row->change.decision_ms, row->change.load_ms,
			    row->change.pass_ms, row->change.queued_min,
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
			    "\"tree_read_ms\": %.3f, \"model_peak_rss_bytes\": %lld",
			    row->repo.n, row->res.full_ms, row->res.change_ms,
			    row->res.nochange_ms, row->res.tree_ms,
			    (long long)row->maxrss_kb * 1024);
			if (eng)
				fprintf(jf, ", \"first_ms\": %.3f, \"first_load_ms\": %.3f, "
				    "\"first_pass_ms\": %.3f, \"first_queued\": %zu, "
				    "\"populate_ms\": %.3f, \"nochange_pass_ms\": %.3f, "
				    "\"decision_ms\": %.3f, \"decision_min_ms\": %.3f, "
				    "\"decision_max_ms\": %.3f, \"decision_load_ms\": %.3f, "
				    "\"pass_ms\": %.3f, \"queued_per_change\": \"%zu-%zu\", "
				    "\"failed_runs\": %zu, \"repeats\": %zu, "
				    "\"first_rss_bytes\": %lld, \"change_rss_bytes\": %lld, "
				    "\"peak_rss_bytes\": %lld",
				    row->first.first_ms, row->first.first_load_ms,
				    row->first.first_pass_ms, row->first.first_queued,
				    row->change.populate_ms, row->change.nochange_ms,
				    row->change.decision_ms, row->change.decision_min,
				    row->change.decision_max, row->change.load_ms,
				    row->change.pass_ms, row->change.queued_min,
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
