/*
 * What a mirror's packs cost, and what rolling them up costs.  Builds a
 * mirror of a config repository of FILES deployments whose branch moved
 * NPACKS times, each move one pack written through libgit2's indexer as a
 * fetch writes it (one deployment changed: its blob, the deployments/
 * tree, the root tree, the commit).  Then, on a fresh git_repository as a
 * daemon started again has: a model load of the tip, the fds the process
 * holds, VmRSS; the roll-up mirror_fetch does past MIRROR_PACK_LIMIT, and
 * the same again; and, to compare, one pack of everything reachable from
 * the refs (git_packbuilder over a revwalk).
 *
 *	tests/bench/mirror-packs [-f FILES] [-k] [-n] NPACKS ...
 *
 * -k keeps the mirrors (their paths are printed), -n measures without
 * rolling up.
 *
 * Not run by make check (built by it); figures in BENCHMARKS.md.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/mempack.h>

#include "mirror.h"
#include "model.h"
#include "source.h"
#include "xmalloc.h"

#define REF	"refs/remotes/origin/main"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
check(int rc, const char *what)
{
	const git_error	*e;

	if (rc >= 0)
		return;
	e = git_error_last();
	fprintf(stderr, "mirror-packs: %s: %s\n", what,
	    e != NULL ? e->message : "error");
	exit(1);
}

static size_t
open_fds(void)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return (n - 1);		/* the one opendir holds */
}

/* Maps of pack files (.idx and .pack windows). */
static size_t
pack_maps(void)
{
	FILE	*f;
	char	 line[4096];
	size_t	 n = 0;

	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return (0);
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "/objects/pack/") != NULL)
			n++;
	fclose(f);
	return (n);
}

/* The peak RSS from now on (Linux resets VmHWM on "5"). */
static void
vm_peak_reset(void)
{
	FILE	*f;

	if ((f = fopen("/proc/self/clear_refs", "we")) == NULL)
		return;
	fputs("5", f);
	fclose(f);
}

static long
vm_status_kb(const char *key)
{
	FILE	*f;
	char	 line[256], *end;
	size_t	 len = strlen(key);
	long	 kb = -1;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, len) == 0) {
			errno = 0;
			kb = strtol(line + len, &end, 10);
			if (errno != 0 || end == line + len)
				kb = -1;
			break;
		}
	}
	fclose(f);
	return (kb);
}

static long
vm_rss_kb(void)
{
	return (vm_status_kb("VmRSS:"));
}

static void
blob(git_oid *out, git_repository *r, const char *text)
{
	check(git_blob_create_from_buffer(out, r, text, strlen(text)), "blob");
}

/*
 * One fetch's pack: the commit and what it adds (the first one: the
 * whole tree), written through the indexer as a fetch's is.  The objects
 * were written to the mempack, dropped after.
 */
static void
flush_pack(git_repository *r, git_odb_backend *mp, const char *packdir,
    const git_oid *ids, size_t n, bool whole)
{
	git_packbuilder	*pb;
	size_t		 i;

	check(git_packbuilder_new(&pb, r), "pb");
	git_packbuilder_set_threads(pb, 1);
	if (whole)
		check(git_packbuilder_insert_commit(pb, &ids[0]), "insert");
	else
		for (i = 0; i < n; i++)
			check(git_packbuilder_insert(pb, &ids[i], NULL),
			    "insert");
	check(git_packbuilder_write(pb, packdir, 0, NULL, NULL), "write");
	git_packbuilder_free(pb);
	check(git_mempack_reset(mp), "reset");
}

static void
build(const char *dir, size_t files, size_t npacks)
{
	git_repository		*r;
	git_odb			*odb;
	git_odb_backend		*mp;
	git_treebuilder		*deps, *root, *bp;
	git_signature		*sig;
	git_tree		*tree;
	git_commit		*parent = NULL;
	git_reference		*ref;
	git_oid			 id, bpid, envid, depsid, rootid, cid;
	char			*packdir, *name, *text;
	size_t			 i;

	check(git_repository_init(&r, dir, 1), "init");
	packdir = xasprintf("%s/objects/pack", dir);
	check(git_mempack_new(&mp), "mempack");
	check(git_repository_odb(&odb, r), "odb");
	check(git_odb_add_backend(odb, mp, 1000), "backend");
	check(git_signature_new(&sig, "b", "b@b", 1700000000, 0), "sig");

	check(git_treebuilder_new(&bp, r, NULL), "tb");
	blob(&id, r, "provider: script\ninputs: { n: number }\n"
	    "script: { command: ./deploy }\n");
	check(git_treebuilder_insert(NULL, bp, "blueprint.yaml", &id,
	    GIT_FILEMODE_BLOB), "insert");
	blob(&id, r, "#!/bin/sh\n");
	check(git_treebuilder_insert(NULL, bp, "deploy", &id,
	    GIT_FILEMODE_BLOB_EXECUTABLE), "insert");
	check(git_treebuilder_write(&id, bp), "write");
	git_treebuilder_free(bp);
	check(git_treebuilder_new(&bp, r, NULL), "tb");
	check(git_treebuilder_insert(NULL, bp, "web", &id,
	    GIT_FILEMODE_TREE), "insert");
	check(git_treebuilder_write(&bpid, bp), "write");
	git_treebuilder_free(bp);
	check(git_treebuilder_new(&bp, r, NULL), "tb");
	blob(&id, r, "inputs: {}\n");
	check(git_treebuilder_insert(NULL, bp, "prod.yaml", &id,
	    GIT_FILEMODE_BLOB), "insert");
	check(git_treebuilder_write(&envid, bp), "write");
	git_treebuilder_free(bp);

	check(git_treebuilder_new(&deps, r, NULL), "tb");
	for (i = 0; i <= files + npacks; i++) {
		/* Pack 0 holds all files; each next one changes one. */
		if (i == 0 || i > files) {
			size_t k = i == 0 ? 0 : (i - files - 1) % files;

			if (i > files) {
				name = xasprintf("d%06zu.yaml", k);
				text = xasprintf("blueprint: web\n"
				    "environment: prod\ninputs: { n: %zu }\n",
				    i);
				blob(&id, r, text);
				check(git_treebuilder_insert(NULL, deps, name,
				    &id, GIT_FILEMODE_BLOB), "insert");
				free(name);
				free(text);
			} else {
				size_t j;

				for (j = 0; j < files; j++) {
					name = xasprintf("d%06zu.yaml", j);
					text = xasprintf("blueprint: web\n"
					    "environment: prod\n"
					    "inputs: { n: %zu }\n", j);
					blob(&id, r, text);
					check(git_treebuilder_insert(NULL,
					    deps, name, &id,
					    GIT_FILEMODE_BLOB), "insert");
					free(name);
					free(text);
				}
			}
			check(git_treebuilder_write(&depsid, deps), "write");
			check(git_treebuilder_new(&root, r, NULL), "tb");
			check(git_treebuilder_insert(NULL, root, "blueprints",
			    &bpid, GIT_FILEMODE_TREE), "insert");
			check(git_treebuilder_insert(NULL, root,
			    "environments", &envid, GIT_FILEMODE_TREE),
			    "insert");
			check(git_treebuilder_insert(NULL, root,
			    "deployments", &depsid, GIT_FILEMODE_TREE),
			    "insert");
			check(git_treebuilder_write(&rootid, root), "write");
			git_treebuilder_free(root);
			check(git_tree_lookup(&tree, r, &rootid), "tree");
			check(git_commit_create(&cid, r, NULL, sig, sig, NULL,
			    "move", tree, parent != NULL ? 1 : 0,
			    (const git_commit **)&parent), "commit");
			git_tree_free(tree);
			{
				git_oid ids[] = { cid, rootid, depsid, id };

				flush_pack(r, mp, packdir, ids, 4, i == 0);
			}
			check(git_odb_refresh(odb), "refresh");
			git_commit_free(parent);
			check(git_commit_lookup(&parent, r, &cid), "lookup");
		}
	}
	check(git_reference_create(&ref, r, REF, &cid, 1, "bench"), "ref");
	git_reference_free(ref);
	git_commit_free(parent);
	git_treebuilder_free(deps);
	git_signature_free(sig);
	git_odb_free(odb);
	git_repository_free(r);
	free(packdir);
}

/* Every blob of the tip's deployments/, read: the seconds it took. */
static double
read_all(git_repository *r, const git_oid *tip)
{
	git_commit	*c;
	git_tree	*root, *deps;
	git_odb		*odb;
	git_odb_object	*o;
	size_t		 i;
	double		 t0 = now();

	check(git_repository_odb(&odb, r), "odb");
	check(git_commit_lookup(&c, r, tip), "commit");
	check(git_commit_tree(&root, c), "tree");
	check(git_tree_lookup(&deps, r, git_tree_entry_id(
	    git_tree_entry_byname(root, "deployments"))), "deployments");
	for (i = 0; i < git_tree_entrycount(deps); i++) {
		check(git_odb_read(&o, odb, git_tree_entry_id(
		    git_tree_entry_byindex(deps, i))), "read");
		git_odb_object_free(o);
	}
	git_tree_free(deps);
	git_tree_free(root);
	git_commit_free(c);
	git_odb_free(odb);
	return (now() - t0);
}

/* A daemon started again: a fresh handle, a model load of the tip. */
static void
measure(const char *dir, const char *when, size_t files)
{
	git_repository	*r;
	struct source	*src;
	struct model	*m;
	git_oid		 tip;
	char		*cause = NULL;
	size_t		 fds0 = open_fds();
	long		 rss0 = vm_rss_kb();
	double		 t0;

	check(git_repository_open_bare(&r, dir), "open");
	check(git_reference_name_to_id(&tip, r, REF), "ref");
	t0 = now();
	if (source_git_new(&src, r, &tip, NULL, &cause) != 0 ||
	    model_load(&m, src, NULL, NULL, &cause) != 0) {
		fprintf(stderr, "mirror-packs: %s\n", cause);
		exit(1);
	}
	if (m->ndeployments != files) {
		fprintf(stderr, "mirror-packs: %zu deployments, not %zu\n",
		    m->ndeployments, files);
		exit(1);
	}
	t0 = now() - t0;
	printf("  %-7s packs %5zu  load %7.3f s  fds +%zu  pack maps %zu"
	    "  VmRSS +%ld kB", when, mirror_pack_count(r), t0,
	    open_fds() - fds0, pack_maps(), vm_rss_kb() - rss0);
	t0 = read_all(r, &tip);
	printf("; every blob read %.3f s, then fds +%zu pack maps %zu"
	    " VmRSS +%ld kB\n", t0, open_fds() - fds0, pack_maps(),
	    vm_rss_kb() - rss0);
	model_free(m);
	source_free(src);
	git_repository_free(r);
}

/*
 * measure() in a process of its own: libgit2 shares open packs between
 * the repositories of a process, and the build opened them all.
 */
static void
measure_apart(const char *dir, const char *when, size_t files)
{
	char	*n = xasprintf("%zu", files);
	char	*argv[] = { "mirror-packs", "-m", (char *)dir, (char *)when,
	    n, NULL };
	pid_t	 pid;
	int	 status;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(1);
	free(n);
}

/* Option (a): one pack of everything the refs reach. */
static double
pack_everything(const char *dir, const char *out)
{
	git_repository	*r;
	git_packbuilder	*pb;
	git_revwalk	*walk;
	double		 t0 = now();

	check(git_repository_open_bare(&r, dir), "open");
	check(git_revwalk_new(&walk, r), "walk");
	check(git_revwalk_push_glob(walk, "refs/*"), "push");
	check(git_packbuilder_new(&pb, r), "pb");
	git_packbuilder_set_threads(pb, 1);
	check(git_packbuilder_insert_walk(pb, walk), "insert");
	check(git_packbuilder_write(pb, out, 0, NULL, NULL), "write");
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_repository_free(r);
	return (now() - t0);
}

int
main(int argc, char **argv)
{
	git_repository	*r;
	char		*end, tmpl[] = "/tmp/mirror-packs.XXXXXX", *dir, *out;
	char		*cause = NULL;
	const char	*base;
	size_t		 files = 1000, npacks, seen = 0;
	long		 v, rss;
	double		 t0;
	int		 ch, keep = 0, rollup = 1, apart = 0, i;

	while ((ch = getopt(argc, argv, "f:kmn")) != -1) {
		switch (ch) {
		case 'f':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1)
				goto usage;
			files = (size_t)v;
			break;
		case 'k':
			keep = 1;
			break;
		case 'm':
			apart = 1;
			break;
		case 'n':
			rollup = 0;
			break;
		default:
			goto usage;
		}
	}
	if (optind == argc)
		goto usage;
	git_libgit2_init();
	mirror_read_options();
	if (apart) {
		/* Internal: mirror-packs -m DIR WHEN FILES */
		if (argc - optind != 3)
			goto usage;
		errno = 0;
		v = strtol(argv[argc - 1], &end, 10);
		if (errno != 0 || *end != '\0' || v < 1)
			goto usage;
		measure(argv[argc - 3], argv[argc - 2], (size_t)v);
		return (0);
	}
	if ((base = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	for (i = optind; i < argc; i++) {
		errno = 0;
		v = strtol(argv[i], &end, 10);
		if (errno != 0 || *end != '\0' || v < 1)
			goto usage;
		npacks = (size_t)v;
		dir = xasprintf("%s/m%zu-%zu.git", base, files, npacks);
		out = xasprintf("%s/everything-%zu-%zu", base, files, npacks);
		if (mkdir(out, 0700) != 0) {
			perror(out);
			return (1);
		}
		t0 = now();
		build(dir, files, npacks);
		printf("%zu files, %zu fetches (built in %.1f s)\n", files,
		    npacks, now() - t0);
		measure_apart(dir, "before", files);
		if (!rollup)
			goto next;
		check(git_repository_open_bare(&r, dir), "open");
		vm_peak_reset();
		rss = vm_rss_kb();
		t0 = now();
		if (mirror_pack_consolidate(r, MIRROR_PACK_LIMIT, &seen,
		    &cause) != 0) {
			fprintf(stderr, "mirror-packs: %s\n", cause);
			return (1);
		}
		printf("  roll-up %.3f s (limit %d), peak RSS +%ld kB\n",
		    now() - t0, MIRROR_PACK_LIMIT,
		    vm_status_kb("VmHWM:") - rss);
		git_repository_free(r);
		measure_apart(dir, "after", files);
		printf("  one pack of everything (option a) %.3f s\n",
		    pack_everything(dir, out));
next:
		if (keep)
			printf("  kept %s\n", dir);
		free(dir);
		free(out);
	}
	if (!keep) {
		const char *rm[] = { "rm", "-rf", base, NULL };
		pid_t pid;

		/* argv only, no shell. */
		if ((pid = fork()) == 0) {
			execvp(rm[0], (char *const *)rm);
			_exit(127);
		}
		while (pid > 0 && waitpid(pid, NULL, 0) == -1 &&
		    errno == EINTR)
			;
	}
	git_libgit2_shutdown();
	return (0);
usage:
	fprintf(stderr, "usage: mirror-packs [-f FILES] [-k] [-n] NPACKS ...\n");
	return (2);
}
