/*
 * Unit tests of the mirror's fetch from a local remote (a path or a
 * file:// URL), which looks at the remote's branch first and fetches only
 * when it moved: every move must still be fetched (a new commit, a force
 * push back, a branch only in packed-refs, a remote reached through a
 * .git file), an unchanged branch gives the same tip, and a missing branch
 * or remote is an error that clears once the remote is back.  Real Git
 * repositories, made with the git command.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "mirror.h"
#include "model.h"
#include "source.h"
#include "testutil.h"
#include "xmalloc.h"

struct fixture {
	char	*dir;
	char	*work;
	char	*bare;
};

static void
git_in(const char *dir, const char *const *argv)
{
	assert_int_equal(tu_run(dir, argv), 0);
}

static void
commit(struct fixture *f, const char *text)
{
	const char *push[] = { "git", "push", "-q", "-f", f->bare,
	    "HEAD:main", NULL };

	tu_write(f->work, "file", text, 0);
	tu_commit_all(f->work, text);
	git_in(f->work, push);
}

static void
setup(struct fixture *f)
{
	const char *init[] = { "git", "init", "-q", "-b", "main", NULL };
	const char *bare[] = { "git", "init", "-q", "--bare", "-b", "main",
	    "remote.git", NULL };

	f->dir = tu_mkdtemp();
	f->work = xasprintf("%s/work", f->dir);
	f->bare = xasprintf("%s/remote.git", f->dir);
	tu_write(f->dir, "work/file", "0", 0);
	git_in(f->work, init);
	git_in(f->dir, bare);
	commit(f, "one");
}

static void
teardown(struct fixture *f)
{
	tu_rm_rf(f->dir);
	free(f->dir);
	free(f->work);
	free(f->bare);
}

/* The remote's main, as Git sees it. */
static void
remote_tip(struct fixture *f, git_oid *out)
{
	git_repository	*r;

	assert_int_equal(git_repository_open_bare(&r, f->bare), 0);
	assert_int_equal(git_reference_name_to_id(out, r, "refs/heads/main"),
	    0);
	git_repository_free(r);
}

/* A fetch that must land on the remote's tip, with its commit. */
static void
fetch_matches(struct mirror *m, struct fixture *f)
{
	git_oid		 tip, want;
	git_commit	*c;
	char		*cause = NULL;

	assert_int_equal(mirror_fetch(m, 30, &tip, &cause), 0);
	assert_null(cause);
	remote_tip(f, &want);
	assert_true(git_oid_equal(&tip, &want));
	assert_int_equal(git_commit_lookup(&c, mirror_repository(m), &tip), 0);
	git_commit_free(c);
	assert_int_equal(mirror_tip(m, &want), 0);
	assert_true(git_oid_equal(&tip, &want));
}

static void
follows(const char *url_prefix, bool through_gitfile)
{
	struct fixture	 f;
	struct mirror	*m;
	char		*url, *mdir, *cause = NULL, *gitfile;
	const char	*back[] = { "git", "reset", "-q", "--hard", "HEAD~1",
	    NULL };
	const char	*pack[] = { "git", "pack-refs", "--all", NULL };

	setup(&f);
	if (through_gitfile) {
		/* As "git init --separate-git-dir" leaves it. */
		gitfile = xasprintf("gitdir: %s\n", f.bare);
		tu_write(f.dir, "front/.git", gitfile, 0);
		free(gitfile);
		url = xasprintf("%s%s/front", url_prefix, f.dir);
	} else
		url = xasprintf("%s%s", url_prefix, f.bare);
	mdir = xasprintf("%s/mirror.git", f.dir);
	assert_int_equal(mirror_open(&m, mdir, url, "main", NULL, &cause), 0);

	fetch_matches(m, &f);		/* the first fetch */
	fetch_matches(m, &f);		/* unchanged */
	commit(&f, "two");
	fetch_matches(m, &f);		/* a new commit */
	fetch_matches(m, &f);
	git_in(f.work, back);		/* a force push back to one */
	{
		const char *push[] = { "git", "push", "-q", "-f", f.bare,
		    "HEAD:main", NULL };

		git_in(f.work, push);
	}
	fetch_matches(m, &f);
	git_in(f.bare, pack);		/* main only in packed-refs */
	fetch_matches(m, &f);
	commit(&f, "three");
	git_in(f.bare, pack);
	fetch_matches(m, &f);

	mirror_free(m);
	free(mdir);
	free(url);
	teardown(&f);
}

static void
test_path_follows_the_branch(void **state)
{
	(void)state;
	follows("", false);
}

static void
test_file_url_follows_the_branch(void **state)
{
	(void)state;
	follows("file://", false);
}

static void
test_gitfile_follows_the_branch(void **state)
{
	(void)state;
	follows("", true);
}

static void
test_errors_then_recovery(void **state)
{
	struct fixture	 f;
	struct mirror	*m;
	git_oid		 tip;
	char		*mdir, *moved, *cause = NULL;

	(void)state;
	setup(&f);
	mdir = xasprintf("%s/mirror.git", f.dir);
	moved = xasprintf("%s/moved.git", f.dir);

	/* A branch the remote does not have. */
	assert_int_equal(mirror_open(&m, mdir, f.bare, "nope", NULL, &cause),
	    0);
	assert_int_not_equal(mirror_fetch(m, 30, &tip, &cause), 0);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	mirror_free(m);

	/* The remote gone after a good fetch, then back. */
	assert_int_equal(mirror_open(&m, mdir, f.bare, "main", NULL, &cause),
	    0);
	fetch_matches(m, &f);
	assert_int_equal(rename(f.bare, moved), 0);
	assert_int_not_equal(mirror_fetch(m, 30, &tip, &cause), 0);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_int_equal(rename(moved, f.bare), 0);
	commit(&f, "two");
	fetch_matches(m, &f);
	mirror_free(m);

	free(moved);
	free(mdir);
	teardown(&f);
}

/*
 * Packs: a fetch adds one; past MIRROR_PACK_LIMIT the small ones are
 * rolled into one, every object kept, the old files and their handles
 * gone.
 */

/* One commit of a config repository: deployment i added, then pushed. */
static void
commit_deployment(struct fixture *f, size_t i)
{
	char	*path, *text;

	path = xasprintf("deployments/d%03zu.yaml", i);
	text = xasprintf("blueprint: web\nenvironment: prod\n"
	    "inputs: { n: %zu }\n", i);
	tu_write(f->work, path, text, 0);
	free(path);
	free(text);
	commit(f, "x");
}

static void
config_setup(struct fixture *f)
{
	setup(f);
	tu_write(f->work, "blueprints/web/blueprint.yaml",
	    "provider: script\ninputs: { n: number }\n"
	    "script: { command: ./deploy }\n", 0);
	tu_write(f->work, "blueprints/web/deploy", "#!/bin/sh\n", 0755);
	tu_write(f->work, "environments/prod.yaml", "inputs: {}\n", 0);
}

static size_t
files_ending(const char *dir, const char *suffix)
{
	DIR		*d;
	struct dirent	*e;
	size_t		 n = 0, len, slen = strlen(suffix);

	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (len > slen && strcmp(e->d_name + len - slen, suffix) == 0)
			n++;
	}
	closedir(d);
	return (n);
}

/* Open fds on files removed from objects/pack: handles not dropped. */
static size_t
deleted_packs_open(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 link[PATH_MAX], *path;
	ssize_t		 len;
	size_t		 n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL) {
		path = xasprintf("/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof link - 1);
		free(path);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strstr(link, "/objects/pack/") != NULL &&
		    strstr(link, "(deleted)") != NULL)
			n++;
	}
	closedir(d);
	return (n);
}

/* Every object of every commit reachable from every ref, read whole. */
static size_t
read_everything(git_repository *r)
{
	git_revwalk		*walk;
	git_commit		*c;
	git_tree		*t;
	git_object		*o;
	git_oid			 id;
	size_t			 n = 0, i;

	assert_int_equal(git_revwalk_new(&walk, r), 0);
	assert_int_equal(git_revwalk_push_glob(walk, "refs/*"), 0);
	while (git_revwalk_next(&id, walk) == 0) {
		assert_int_equal(git_commit_lookup(&c, r, &id), 0);
		assert_int_equal(git_commit_tree(&t, c), 0);
		for (i = 0; i < git_tree_entrycount(t); i++) {
			assert_int_equal(git_tree_entry_to_object(&o, r,
			    git_tree_entry_byindex(t, i)), 0);
			git_object_free(o);
		}
		git_tree_free(t);
		git_commit_free(c);
		n++;
	}
	git_revwalk_free(walk);
	return (n);
}

/* Every object id the odb holds, as the test saw them first. */
struct idset {
	git_oid	*ids;
	size_t	 n;
};

static int
idset_add(const git_oid *id, void *arg)
{
	struct idset	*s = arg;

	s->ids = xreallocarray(s->ids, s->n + 1, sizeof *s->ids);
	s->ids[s->n++] = *id;
	return (0);
}

static void
idset_all_there(const struct idset *s, git_repository *r)
{
	git_odb		*odb;
	git_odb_object	*o;
	size_t		 i;

	assert_int_equal(git_repository_odb(&odb, r), 0);
	for (i = 0; i < s->n; i++) {
		assert_int_equal(git_odb_read(&o, odb, &s->ids[i]), 0);
		git_odb_object_free(o);
	}
	git_odb_free(odb);
}

static void
load_tip(struct mirror *m, size_t deployments)
{
	struct source	*src;
	struct model	*model;
	git_oid		 tip;
	char		*cause = NULL;

	assert_int_equal(mirror_tip(m, &tip), 0);
	assert_int_equal(source_git_new(&src, mirror_repository(m), &tip,
	    NULL, &cause), 0);
	assert_int_equal(model_load(&model, src, NULL, NULL, &cause), 0);
	assert_null(cause);
	assert_int_equal(model->ndeployments, deployments);
	model_free(model);
	source_free(src);
}

static void
test_packs_stay_few(void **state)
{
	struct fixture	 f;
	struct mirror	*m;
	git_repository	*fresh;
	git_oid		 got;
	char		*mdir, *pdir, *cause = NULL;
	size_t		 i, n = 3 * MIRROR_PACK_LIMIT;

	(void)state;
	config_setup(&f);
	mdir = xasprintf("%s/mirror.git", f.dir);
	pdir = xasprintf("%s/objects/pack", mdir);
	assert_int_equal(mirror_open(&m, mdir, f.bare, "main", NULL, &cause),
	    0);
	for (i = 0; i < n; i++) {
		commit_deployment(&f, i);
		fetch_matches(m, &f);
		assert_null(mirror_pack_error(m));
		/* Reading after a roll-up, as a load right after does. */
		load_tip(m, i + 1);
		assert_true(mirror_pack_count(mirror_repository(m)) <=
		    MIRROR_PACK_LIMIT);
		assert_int_equal(files_ending(pdir, ".pack"),
		    files_ending(pdir, ".idx"));
		assert_int_equal(deleted_packs_open(), 0);
		if (i == 5) {
			/* A pull request's head: a ref of its own. */
			const char *br[] = { "git", "push", "-q", f.bare,
			    "HEAD:refs/pull/1/head", NULL };

			git_in(f.work, br);
			assert_int_equal(mirror_fetch_ref(m, NULL,
			    "refs/pull/1/head", "refs/cloudsphere/pulls/1", 30,
			    &got, &cause), 0);
		}
	}
	/* Fewer than one pack a fetch: it did roll up. */
	assert_true(mirror_pack_count(mirror_repository(m)) < n / 2);
	assert_int_equal(read_everything(mirror_repository(m)), n + 1);
	assert_int_equal(git_repository_open_bare(&fresh, mdir), 0);
	assert_int_equal(read_everything(fresh), n + 1);
	git_repository_free(fresh);
	mirror_free(m);

	free(pdir);
	free(mdir);
	teardown(&f);
}

static void
copy_file(const char *from, const char *to)
{
	const char *cp[] = { "cp", "-p", from, to, NULL };

	assert_int_equal(tu_run("/", cp), 0);
}

/*
 * A roll-up cut short after its pack was written: the old packs still
 * there (objects in two packs), one of them without its .idx.  Everything
 * stays readable and the next roll-up cleans up.
 */
static void
test_packs_interrupted(void **state)
{
	struct fixture	 f;
	struct mirror	*m;
	git_repository	*fresh;
	git_odb		*odb;
	struct idset	 ids = { NULL, 0 };
	DIR		*d;
	struct dirent	*e;
	char		*mdir, *pdir, *save, *from, *to, *cause = NULL;
	size_t		 i, seen = 0, orphaned = 0;

	(void)state;
	config_setup(&f);
	mdir = xasprintf("%s/mirror.git", f.dir);
	pdir = xasprintf("%s/objects/pack", mdir);
	save = xasprintf("%s/saved", f.dir);
	assert_int_equal(mkdir(save, 0700), 0);
	assert_int_equal(mirror_open(&m, mdir, f.bare, "main", NULL, &cause),
	    0);
	for (i = 0; i < 6; i++) {
		commit_deployment(&f, i);
		fetch_matches(m, &f);
	}
	assert_int_equal(mirror_pack_count(mirror_repository(m)), 6);
	assert_int_equal(git_repository_odb(&odb, mirror_repository(m)), 0);
	assert_int_equal(git_odb_foreach(odb, idset_add, &ids), 0);
	git_odb_free(odb);

	assert_non_null(d = opendir(pdir));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		from = xasprintf("%s/%s", pdir, e->d_name);
		to = xasprintf("%s/%s", save, e->d_name);
		copy_file(from, to);
		free(from);
		free(to);
	}
	closedir(d);

	assert_int_equal(mirror_pack_consolidate(mirror_repository(m), 2,
	    &seen, &cause), 0);
	assert_null(cause);
	assert_int_equal(mirror_pack_count(mirror_repository(m)), 1);
	assert_int_equal(seen, 1);
	idset_all_there(&ids, mirror_repository(m));
	load_tip(m, 6);

	/* The old packs back, as if the daemon died before removing them. */
	assert_non_null(d = opendir(save));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		from = xasprintf("%s/%s", save, e->d_name);
		to = xasprintf("%s/%s", pdir, e->d_name);
		copy_file(from, to);
		/* One died between its .idx and its .pack. */
		if (orphaned == 0 && strstr(to, ".idx") != NULL) {
			assert_int_equal(unlink(to), 0);
			orphaned++;
		}
		free(from);
		free(to);
	}
	closedir(d);
	assert_int_equal(mirror_pack_count(mirror_repository(m)), 6);
	assert_int_equal(files_ending(pdir, ".pack"), 7);
	assert_int_equal(git_repository_open_bare(&fresh, mdir), 0);
	idset_all_there(&ids, fresh);
	assert_int_equal(read_everything(fresh), 7);	/* and "one" */
	git_repository_free(fresh);

	/* A daemon started again: fetches, then a roll-up that cleans up. */
	mirror_free(m);
	assert_int_equal(mirror_open(&m, mdir, f.bare, "main", NULL, &cause),
	    0);
	load_tip(m, 6);
	for (i = 6; i < 6 + MIRROR_PACK_LIMIT; i++) {
		commit_deployment(&f, i);
		fetch_matches(m, &f);
		assert_null(mirror_pack_error(m));
	}
	assert_true(mirror_pack_count(mirror_repository(m)) <
	    MIRROR_PACK_LIMIT);
	assert_int_equal(files_ending(pdir, ".pack"),
	    files_ending(pdir, ".idx"));
	idset_all_there(&ids, mirror_repository(m));
	load_tip(m, 6 + MIRROR_PACK_LIMIT);
	mirror_free(m);

	free(ids.ids);
	free(save);
	free(pdir);
	free(mdir);
	teardown(&f);
}

/*
 * Two handles on one mirror (the watch's and the ledger's): when one
 * rolls up, the other drops its handles on the removed packs at its next
 * fetch.
 */
static void
test_packs_other_handle(void **state)
{
	struct fixture	 f;
	struct mirror	*a, *b;
	char		*mdir, *cause = NULL;
	size_t		 i;

	(void)state;
	config_setup(&f);
	mdir = xasprintf("%s/mirror.git", f.dir);
	assert_int_equal(mirror_open(&a, mdir, f.bare, "main", NULL, &cause),
	    0);
	assert_int_equal(mirror_open(&b, mdir, f.bare, "main", NULL, &cause),
	    0);
	for (i = 0; i < MIRROR_PACK_LIMIT; i++) {
		commit_deployment(&f, i);
		fetch_matches(a, &f);
	}
	fetch_matches(b, &f);
	load_tip(b, MIRROR_PACK_LIMIT);	/* b opens every pack */
	commit_deployment(&f, i);
	fetch_matches(a, &f);		/* a rolls up */
	assert_true(deleted_packs_open() > 0);	/* b's */
	load_tip(b, MIRROR_PACK_LIMIT + 1);	/* the refs are shared */
	commit_deployment(&f, i + 1);
	fetch_matches(b, &f);
	load_tip(b, MIRROR_PACK_LIMIT + 2);
	assert_int_equal(deleted_packs_open(), 0);
	mirror_free(a);
	mirror_free(b);
	free(mdir);
	teardown(&f);
}

/* Ports of ssh:// URLs: only 1 to 65535, the whole field a number. */
static void
test_ssh_port(void **state)
{
	(void)state;
	assert_int_equal(mirror_ssh_port("git@example.org:config.git"), 22);
	assert_int_equal(mirror_ssh_port("ssh://git@example.org/c.git"), 22);
	assert_int_equal(mirror_ssh_port("ssh://git@example.org:/c.git"), 22);
	assert_int_equal(mirror_ssh_port("ssh://example.org:2222/c.git"), 2222);
	assert_int_equal(mirror_ssh_port("ssh://example.org:65535"), 65535);
	assert_int_equal(mirror_ssh_port("ssh://example.org:1/c.git"), 1);
	assert_int_equal(mirror_ssh_port("ssh://example.org:0/c.git"), -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org:65536/c.git"),
	    -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org:99999999999/c.git"),
	    -EINVAL);
	assert_int_equal(mirror_ssh_port(
	    "ssh://example.org:18446744073709551638/c.git"), -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org:22x/c.git"),
	    -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org:-22/c.git"),
	    -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org: 22/c.git"),
	    -EINVAL);
	assert_int_equal(mirror_ssh_port("ssh://example.org:+22/c.git"),
	    -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_follows_the_branch),
		cmocka_unit_test(test_file_url_follows_the_branch),
		cmocka_unit_test(test_gitfile_follows_the_branch),
		cmocka_unit_test(test_errors_then_recovery),
		cmocka_unit_test(test_ssh_port),
		cmocka_unit_test(test_packs_stay_few),
		cmocka_unit_test(test_packs_interrupted),
		cmocka_unit_test(test_packs_other_handle),
	};

	git_libgit2_init();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
