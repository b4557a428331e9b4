/*
 * Unit tests of the tree cache: Git deltas applied by hand, raw trees
 * parsed, and a big deployments/ folder walked commit after commit from a
 * mirror that fetched each commit as the daemon does (mirror_fetch into a
 * bare repository, from a real repository made with the git command),
 * entry for entry the same as libgit2's own reading.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "mirror.h"
#include "pack-idx.h"
#include "source.h"
#include "tree-cache.h"
#include "testutil.h"
#include "xmalloc.h"

/* Deltas. */

static void
apply_ok(const char *base, const unsigned char *d, size_t dlen,
    const char *want)
{
	unsigned char	*out;
	size_t		 len;

	assert_int_equal(tree_delta_apply((const unsigned char *)base,
	    strlen(base), d, dlen, 1024, &out, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
}

static void
apply_bad(const char *base, const unsigned char *d, size_t dlen,
    size_t maxlen)
{
	unsigned char	*out = (unsigned char *)"x";
	size_t		 len = 1;

	assert_int_equal(tree_delta_apply((const unsigned char *)base,
	    strlen(base), d, dlen, maxlen, &out, &len), -EINVAL);
	assert_null(out);
	assert_int_equal(len, 0);
}

static void
test_delta_apply(void **state)
{
	/* "hello world" -> "hello, big world": copy 5, insert, copy 6. */
	static const unsigned char ok[] = {
		11, 16,
		0x90, 5,			/* copy offset 0, size 5 */
		5, ',', ' ', 'b', 'i', 'g',	/* insert 5 */
		0x91, 5, 6,			/* copy offset 5, size 6 */
	};
	/* A copy with a two-byte offset: 3 bytes from 0x0102 of 0x010f. */
	static const unsigned char far[] = { 0x8f, 0x02, 3, 0x93, 0x02, 0x01, 3 };
	char		*big = xmalloc(0x0110);
	unsigned char	 d[16];

	(void)state;
	apply_ok("hello world", ok, sizeof ok, "hello, big world");
	memset(big, 'a', 0x010f);
	big[0x010f] = '\0';
	big[0x0102] = 'x';
	apply_ok(big, far, sizeof far, "xaa");
	free(big);

	/* The base is not the one the delta was made against. */
	apply_bad("hello worl", ok, sizeof ok, 1024);
	/* The result would be longer than the caller allows. */
	apply_bad("hello world", ok, sizeof ok, 15);
	/* A reserved command. */
	memcpy(d, (unsigned char[]){ 11, 1, 0 }, 3);
	apply_bad("hello world", d, 3, 1024);
	/* A copy past the base's end. */
	memcpy(d, (unsigned char[]){ 11, 6, 0x91, 6, 6 }, 5);
	apply_bad("hello world", d, 5, 1024);
	/* An insert longer than what is left of the delta. */
	memcpy(d, (unsigned char[]){ 11, 3, 3, 'a' }, 4);
	apply_bad("hello world", d, 4, 1024);
	/* More than the declared result. */
	memcpy(d, (unsigned char[]){ 11, 2, 3, 'a', 'b', 'c' }, 6);
	apply_bad("hello world", d, 6, 1024);
	/* Less than the declared result. */
	memcpy(d, (unsigned char[]){ 11, 4, 3, 'a', 'b', 'c' }, 6);
	apply_bad("hello world", d, 6, 1024);
	/* A copy whose size byte is missing; a size varint cut short. */
	memcpy(d, (unsigned char[]){ 11, 5, 0x90 }, 3);
	apply_bad("hello world", d, 3, 1024);
	memcpy(d, (unsigned char[]){ 11, 0x85 }, 2);
	apply_bad("hello world", d, 2, 1024);
}

/* Raw trees. */

struct seen {
	char		names[8][32];
	unsigned	modes[8];
	git_oid		ids[8];
	int		n;
	int		stop_at;
};

static int
seen_entry(void *arg, const char *name, unsigned mode, const git_oid *id)
{
	struct seen	*s = arg;

	if (s->n == s->stop_at)
		return (42);
	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof s->names[s->n], "%s", name);
	s->modes[s->n] = mode;
	s->ids[s->n++] = *id;
	return (0);
}

static size_t
raw_entry(unsigned char *p, const char *mode, const char *name,
    unsigned char fill)
{
	size_t	n = strlen(mode), m = strlen(name);

	memcpy(p, mode, n);
	p[n] = ' ';
	memcpy(p + n + 1, name, m + 1);
	memset(p + n + 1 + m + 1, fill, 20);
	return (n + 1 + m + 1 + 20);
}

static int
walk_raw(const unsigned char *p, size_t len, struct seen *s)
{
	memset(s, 0, sizeof *s);
	s->stop_at = -1;
	return (tree_raw_walk(p, len, seen_entry, s));
}

static void
test_raw_walk(void **state)
{
	unsigned char	 t[256], b[256];
	struct seen	 s;
	size_t		 len = 0, n;

	(void)state;
	len += raw_entry(t + len, "100644", "a.yaml", 0x11);
	len += raw_entry(t + len, "100755", "deploy", 0x22);
	len += raw_entry(t + len, "40000", "lib", 0x33);
	len += raw_entry(t + len, "120000", "link", 0x44);
	assert_int_equal(walk_raw(t, len, &s), 0);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.names[0], "a.yaml");
	assert_int_equal(s.modes[0], 0100644);
	assert_int_equal(s.modes[1], 0100755);
	assert_string_equal(s.names[2], "lib");
	assert_int_equal(s.modes[2], 040000);
	assert_int_equal(s.modes[3], 0120000);
	assert_int_equal(s.ids[3].id[19], 0x44);
	assert_int_equal(walk_raw(t, 0, &s), 0);
	assert_int_equal(s.n, 0);

	/* fn stops the walk. */
	memset(&s, 0, sizeof s);
	s.stop_at = 1;
	assert_int_equal(tree_raw_walk(t, len, seen_entry, &s), 42);

	/* Cut anywhere inside the last entry: never read past the end. */
	for (n = len - 1; n > len - 28; n--) {
		memcpy(b, t, n);
		assert_int_equal(walk_raw(b, n, &s), -EINVAL);
	}
	n = raw_entry(b, "10064x", "a", 1);
	assert_int_equal(walk_raw(b, n, &s), -EINVAL);	/* not octal */
	n = raw_entry(b, "", "a", 1);
	assert_int_equal(walk_raw(b, n, &s), -EINVAL);	/* no mode */
	n = raw_entry(b, "100644", "", 1);
	assert_int_equal(walk_raw(b, n, &s), -EINVAL);	/* no name */
	n = raw_entry(b, "1006440000000", "a", 1);
	assert_int_equal(walk_raw(b, n, &s), -EINVAL);	/* too long */
}

/* A real mirror. */

#define NFILES	2500		/* about 95 KB of tree: over TREE_CACHE_MIN */

static void
git_in(const char *dir, const char *const *argv)
{
	assert_int_equal(tu_run(dir, argv), 0);
}

struct entries {
	char	**names;
	int	 *types;
	git_oid	 *ids;
	size_t	  n;
};

static int
entries_add(void *arg, const char *name, enum source_type type,
    const git_oid *id)
{
	struct entries	*e = arg;

	e->names = xreallocarray(e->names, e->n + 1, sizeof *e->names);
	e->types = xreallocarray(e->types, e->n + 1, sizeof *e->types);
	e->ids = xreallocarray(e->ids, e->n + 1, sizeof *e->ids);
	e->names[e->n] = xstrdup(name);
	e->types[e->n] = type;
	e->ids[e->n++] = *id;
	return (0);
}

static void
entries_free(struct entries *e)
{
	size_t	i;

	for (i = 0; i < e->n; i++)
		free(e->names[i]);
	free(e->names);
	free(e->types);
	free(e->ids);
	memset(e, 0, sizeof *e);
}

/* deployments/ of commit tip, walked through the source, and by libgit2. */
static void
check_walk(git_repository *repo, const git_oid *tip)
{
	struct source	*src;
	struct entries	 a = { 0 };
	git_commit	*c;
	git_tree	*root, *t;
	git_tree_entry	*e;
	char		*cause;
	size_t		 i;

	assert_int_equal(source_git_new(&src, repo, tip, NULL, &cause), 0);
	assert_int_equal(src->ops->walk(src, "deployments", entries_add, &a),
	    0);
	source_free(src);

	assert_int_equal(git_commit_lookup(&c, repo, tip), 0);
	assert_int_equal(git_commit_tree(&root, c), 0);
	assert_int_equal(git_tree_entry_bypath(&e, root, "deployments"), 0);
	assert_int_equal(git_tree_lookup(&t, repo, git_tree_entry_id(e)), 0);
	assert_int_equal(a.n, git_tree_entrycount(t));
	for (i = 0; i < a.n; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		git_filemode_t m = git_tree_entry_filemode(te);

		assert_string_equal(a.names[i], git_tree_entry_name(te));
		assert_true(git_oid_equal(&a.ids[i], git_tree_entry_id(te)));
		assert_int_equal(a.types[i], m == GIT_FILEMODE_TREE ?
		    SOURCE_TREE : m == GIT_FILEMODE_LINK ? SOURCE_LINK :
		    m == GIT_FILEMODE_BLOB_EXECUTABLE ? SOURCE_EXEC :
		    SOURCE_FILE);
	}
	git_tree_free(t);
	git_tree_entry_free(e);
	git_tree_free(root);
	git_commit_free(c);
	entries_free(&a);
}

/* Commit one more change to deployments/ of work (k: which). */
static void
change(const char *work, int k)
{
	char	*path, *text;

	switch (k) {
	case 3:		/* an entry added */
		tu_write(work, "deployments/d01234a.yaml", "blueprint: web\n", 0);
		break;
	case 4:		/* one removed */
		path = xasprintf("%s/deployments/d00007.yaml", work);
		assert_int_equal(unlink(path), 0);
		free(path);
		break;
	default:	/* one changed */
		path = xasprintf("deployments/d%05d.yaml", 100 * k);
		text = xasprintf("blueprint: web\ninputs: {n: -%d}\n", k);
		tu_write(work, path, text, 0);
		free(path);
		free(text);
	}
	text = xasprintf("change %d", k);
	tu_commit_all(work, text);
	free(text);
}

static char *
make_work(const char *dir)
{
	char		*work, *path, *text;
	const char	*init[] = { "git", "init", "-q", "-b", "main", NULL };
	int		 i;

	work = xasprintf("%s/work", dir);
	assert_int_equal(mkdir(work, 0755), 0);
	for (i = 0; i < NFILES; i++) {
		path = xasprintf("deployments/d%05d.yaml", i);
		text = xasprintf("blueprint: web\ninputs: {n: %d}\n", i);
		tu_write(work, path, text, 0);
		free(path);
		free(text);
	}
	tu_write(work, "deployments/sub/x.yaml", "blueprint: web\n", 0);
	tu_write(work, "deployments/run", "#!/bin/sh\n", 0755);
	git_in(work, init);
	tu_commit_all(work, "first");
	return (work);
}

/*
 * What a fetch over Git's smart protocol (HTTP, SSH: a forge) writes: a
 * thin pack made whole, where the new tree is a delta against the one
 * the fetching side had.  Made here by git fetch with unpackLimit=1 (over
 * the same protocol, through pipes); libgit2's fetch over git:// was seen
 * writing the same.
 */
static void
test_fetched_chain(void **state)
{
	struct tree_cache_stats	 st;
	git_repository		*repo;
	git_object		*o;
	char			*dir = tu_mkdtemp(), *work, *bare;
	const char		*init[] = { "git", "init", "-q", "--bare",
				    "fetched.git", NULL };
	const char		*fetch[] = { "git", "-c", "fetch.unpackLimit=1",
				    "fetch", "-q", NULL, "main:refs/heads/main",
				    NULL };
	int			 k;

	(void)state;
	tree_cache_clear();
	work = make_work(dir);
	bare = xasprintf("%s/fetched.git", dir);
	git_in(dir, init);
	fetch[5] = work;
	for (k = 0; k <= 6; k++) {
		if (k > 0)
			change(work, k);
		git_in(bare, fetch);
		assert_int_equal(git_repository_open_bare(&repo, bare), 0);
		assert_int_equal(git_revparse_single(&o, repo, "main"), 0);
		check_walk(repo, git_object_id(o));
		git_object_free(o);
		git_repository_free(repo);
	}
	tree_cache_stats(&st);
	assert_int_equal(st.whole, 1);
	assert_int_equal(st.deltas, 6);
	/* Two versions kept of this repository, no more. */
	assert_true(st.bytes > 2 * 38 * NFILES);
	assert_true(st.bytes < 3 * 38 * NFILES);

	/* Walked again: from the cache, the same entries. */
	assert_int_equal(git_repository_open_bare(&repo, bare), 0);
	assert_int_equal(git_revparse_single(&o, repo, "main"), 0);
	check_walk(repo, git_object_id(o));
	tree_cache_stats(&st);
	assert_int_equal(st.hits, 1);

	/* Forgotten: read whole again, and the same. */
	tree_cache_clear();
	check_walk(repo, git_object_id(o));
	tree_cache_stats(&st);
	assert_int_equal(st.whole, 1);
	git_object_free(o);
	git_repository_free(repo);

	tree_cache_clear();
	tu_rm_rf(dir);
	free(work);
	free(bare);
	free(dir);
}

/*
 * The daemon's own mirror of a repository on this machine: libgit2's
 * local transport packs each new tree whole, so every version is read
 * whole, and must read the same.
 */
static void
test_mirror_chain(void **state)
{
	struct tree_cache_stats	 st;
	struct mirror		*m;
	git_oid			 tip;
	char			*dir = tu_mkdtemp(), *work, *mdir, *cause;
	int			 k;

	(void)state;
	tree_cache_clear();
	work = make_work(dir);
	mdir = xasprintf("%s/mirror.git", dir);
	assert_int_equal(mirror_open(&m, mdir, work, "main", NULL, &cause), 0);
	for (k = 0; k <= 4; k++) {
		if (k > 0)
			change(work, k);
		assert_int_equal(mirror_fetch(m, 30, &tip, &cause), 0);
		check_walk(mirror_repository(m), &tip);
	}
	tree_cache_stats(&st);
	assert_int_equal(st.whole + st.deltas, 5);
	assert_true(st.bytes < 3 * 38 * NFILES);
	mirror_free(m);
	tree_cache_clear();
	tu_rm_rf(dir);
	free(work);
	free(mdir);
	free(dir);
}

/*
 * Pack indexes of both versions, written by git index-pack for one pack:
 * the same ids, each found at the same offset; a file that is no index.
 */
static void
test_pack_idx_versions(void **state)
{
	struct pack_idx	 v[2];
	git_oid		 id, other;
	uint64_t	 o1, o2;
	char		*dir = tu_mkdtemp(), *path[2], *pack, *junk;
	const char	*init[] = { "git", "init", "-q", NULL };
	const char	*repack[] = { "git", "repack", "-adq", NULL };
	const char	*index[] = { "git", "index-pack", NULL, "-o", NULL,
			    NULL, NULL };
	uint32_t	 i;
	int		 k;

	(void)state;
	tu_write(dir, "a", "a\n", 0);
	tu_write(dir, "b/c", "c\n", 0);
	git_in(dir, init);
	tu_commit_all(dir, "one");
	git_in(dir, repack);
	{
		glob_t	 g;
		char	*pat = xasprintf("%s/.git/objects/pack/pack-*.pack",
			    dir);

		assert_int_equal(glob(pat, 0, NULL, &g), 0);
		assert_int_equal(g.gl_pathc, 1);
		pack = xstrdup(g.gl_pathv[0]);
		globfree(&g);
		free(pat);
	}
	for (k = 0; k < 2; k++) {
		path[k] = xasprintf("%s/v%d.idx", dir, k + 1);
		index[2] = k == 0 ? "--index-version=1" : "--index-version=2";
		index[4] = path[k];
		index[5] = pack;
		git_in(dir, index);
		assert_int_equal(pack_idx_open(&v[k], path[k]), 0);
	}
	assert_false(v[0].v2);
	assert_true(v[1].v2);
	assert_int_equal(v[0].n, v[1].n);
	assert_true(v[0].n >= 5);	/* commit, 2 trees, 2 blobs */
	for (i = 0; i < v[0].n; i++) {
		pack_idx_id(&v[0], i, &id);
		pack_idx_id(&v[1], i, &other);
		assert_true(git_oid_equal(&id, &other));
		assert_int_equal(pack_idx_find(&v[0], &id, &o1), 0);
		assert_int_equal(pack_idx_find(&v[1], &id, &o2), 0);
		assert_true(o1 == o2 && o1 >= 12);	/* after the header */
	}
	memset(&id, 0xee, sizeof id);
	assert_int_equal(pack_idx_find(&v[1], &id, &o1), -ENOENT);
	pack_idx_close(&v[0]);
	pack_idx_close(&v[1]);

	junk = xasprintf("%s/junk.idx", dir);
	tu_write(dir, "junk.idx", "not an index\n", 0);
	assert_int_equal(pack_idx_open(&v[0], junk), -EINVAL);
	assert_null(v[0].map);
	assert_true(pack_idx_open(&v[0], "/no/such.idx") == -ENOENT);

	free(junk);
	free(pack);
	free(path[0]);
	free(path[1]);
	tu_rm_rf(dir);
	free(dir);
}

/* Small folders are not kept: libgit2 reads them as before. */
static void
test_small_not_kept(void **state)
{
	struct tree_cache_stats	 st;
	struct source		*src;
	struct entries		 a = { 0 };
	char			*dir = tu_mkdtemp(), *cause;
	const char		*init[] = { "git", "init", "-q", NULL };

	(void)state;
	tree_cache_clear();
	tu_write(dir, "deployments/a.yaml", "blueprint: web\n", 0);
	git_in(dir, init);
	tu_commit_all(dir, "one");
	assert_int_equal(source_git_open(&src, dir, NULL, NULL, &cause), 0);
	assert_int_equal(src->ops->walk(src, "deployments", entries_add, &a),
	    0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.names[0], "a.yaml");
	assert_int_equal(src->ops->walk(src, "no-such", entries_add, &a),
	    -ENOENT);
	assert_int_equal(src->ops->walk(src, "deployments/a.yaml",
	    entries_add, &a), -ENOTDIR);
	source_free(src);
	tree_cache_stats(&st);
	assert_int_equal(st.small, 1);
	assert_int_equal(st.whole + st.deltas + st.bytes, 0);
	entries_free(&a);
	tu_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_apply),
		cmocka_unit_test(test_raw_walk),
		cmocka_unit_test(test_fetched_chain),
		cmocka_unit_test(test_mirror_chain),
		cmocka_unit_test(test_small_not_kept),
		cmocka_unit_test(test_pack_idx_versions),
	};

	git_libgit2_init();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
