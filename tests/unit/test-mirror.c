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

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "mirror.h"
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
	const char *add[] = { "git", "add", "-A", NULL };
	const char *ci[] = { "git", "-c", "user.name=t", "-c",
	    "user.email=t@t", "commit", "-q", "-m", text, NULL };
	const char *push[] = { "git", "push", "-q", "-f", f->bare,
	    "HEAD:main", NULL };

	tu_write(f->work, "file", text, 0);
	git_in(f->work, add);
	git_in(f->work, ci);
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
	};

	git_libgit2_init();
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
