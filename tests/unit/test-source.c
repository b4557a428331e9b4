/*
 * Unit tests of the sources: the directory source must compute the same
 * object ids as Git for files, executables, symlinks and nested folders,
 * leave out empty folders and honour .gitignore.  Real Git repositories,
 * made with the git command.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"
#include "testutil.h"
#include "xmalloc.h"

static void
git_commit_all(const char *dir)
{
	const char *init[] = { "git", "init", "-q", NULL };

	assert_int_equal(tu_run(dir, init), 0);
	tu_commit_all(dir, "test");
}

static void
make_tree(const char *dir)
{
	char	*p;

	tu_write(dir, "blueprints/web/blueprint.yaml", "provider: script\n", 0);
	tu_write(dir, "blueprints/web/deploy", "#!/bin/sh\nexit 0\n", 0755);
	tu_write(dir, "blueprints/web/lib/a.txt", "a\n", 0);
	tu_write(dir, "blueprints/web/lib-b.txt", "b\n", 0);	/* sorts before lib/ */
	tu_write(dir, "blueprints/web/lib.c", "c\n", 0);
	tu_write(dir, "blueprints/web/.gitignore", "*.tfstate\n", 0);
	tu_write(dir, "blueprints/web/local.tfstate", "secret state\n", 0);
	p = xasprintf("%s/blueprints/web/empty", dir);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = xasprintf("%s/blueprints/web/link", dir);
	assert_int_equal(symlink("lib/a.txt", p), 0);
	free(p);
}

static void
test_tree_ids_match_git(void **state)
{
	struct source	*dsrc, *gsrc;
	git_oid		 a, b;
	char		*dir = tu_mkdtemp(), *cause;

	(void)state;
	make_tree(dir);
	git_commit_all(dir);
	assert_int_equal(source_dir_open(&dsrc, dir, &cause), 0);
	assert_int_equal(source_git_open(&gsrc, dir, NULL, NULL, &cause), 0);
	assert_non_null(gsrc->commit);
	assert_null(dsrc->commit);

	assert_int_equal(dsrc->ops->tree_id(dsrc, "blueprints/web", &a), 0);
	assert_int_equal(gsrc->ops->tree_id(gsrc, "blueprints/web", &b), 0);
	assert_true(git_oid_equal(&a, &b));
	assert_int_equal(dsrc->ops->tree_id(dsrc, "", &a), 0);
	assert_int_equal(gsrc->ops->tree_id(gsrc, "", &b), 0);
	assert_true(git_oid_equal(&a, &b));
	assert_int_equal(dsrc->ops->tree_id(dsrc, "nope", &a), -ENOENT);

	source_free(dsrc);
	source_free(gsrc);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_listing_and_read(void **state)
{
	struct source		*srcs[2];
	struct source_list	 l[2];
	struct source_entry	 e;
	char			*dir = tu_mkdtemp(), *cause, *data, *resolved;
	size_t			 len, i, k;

	(void)state;
	make_tree(dir);
	git_commit_all(dir);
	assert_int_equal(source_dir_open(&srcs[0], dir, &cause), 0);
	assert_int_equal(source_git_open(&srcs[1], dir, "HEAD", NULL, &cause), 0);
	for (k = 0; k < 2; k++) {
		struct source *s = srcs[k];

		assert_int_equal(s->ops->list(s, "blueprints/web", &l[k]), 0);
		{
			struct source_list none;

			assert_int_equal(s->ops->list(s, "missing", &none),
			    -ENOENT);
			assert_int_equal(s->ops->list(s,
			    "blueprints/web/deploy", &none), -ENOTDIR);
		}
		assert_int_equal(source_resolve(s, "blueprints/web/link", &e,
		    &resolved, &cause), 0);
		assert_string_equal(resolved, "blueprints/web/lib/a.txt");
		assert_int_equal(e.type, SOURCE_FILE);
		assert_int_equal(s->ops->read(s, resolved, &e.oid, 100, &data,
		    &len), 0);
		assert_string_equal(data, "a\n");
		free(data);
		assert_int_equal(s->ops->read(s, resolved, &e.oid, 1, &data,
		    &len), -EFBIG);
		free(resolved);
		source_entry_release(&e);
	}
	/*
	 * Same entries, same ids; the ignored file is left out of the
	 * folder's listing, the empty folder (which Git cannot hold) is listed
	 * but leaves the tree id unchanged.
	 */
	assert_int_equal(l[0].n, l[1].n + 1);
	for (i = 0; i < l[0].n; i++)
		assert_string_not_equal(l[0].v[i].name, "local.tfstate");
	for (i = 0; i < l[1].n; i++) {
		for (k = 0; k < l[0].n; k++) {
			if (strcmp(l[0].v[k].name, l[1].v[i].name) == 0)
				break;
		}
		assert_true(k < l[0].n);
		if (l[1].v[i].type != SOURCE_TREE) {
			assert_true(git_oid_equal(&l[0].v[k].oid, &l[1].v[i].oid));
			assert_int_equal(l[0].v[k].type, l[1].v[i].type);
		}
	}
	source_list_release(&l[0]);
	source_list_release(&l[1]);
	source_free(srcs[0]);
	source_free(srcs[1]);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_escaping_symlinks(void **state)
{
	struct source		*s;
	struct source_entry	 e;
	char			*dir = tu_mkdtemp(), *cause, *p;

	(void)state;
	tu_write(dir, "deployments/ok.yaml", "x: 1\n", 0);
	p = xasprintf("%s/deployments/out.yaml", dir);
	assert_int_equal(symlink("../../etc/passwd", p), 0);
	free(p);
	p = xasprintf("%s/deployments/abs.yaml", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	free(p);
	p = xasprintf("%s/deployments/loop.yaml", dir);
	assert_int_equal(symlink("loop.yaml", p), 0);
	free(p);
	assert_int_equal(source_dir_open(&s, dir, &cause), 0);
	assert_int_equal(source_resolve(s, "deployments/out.yaml", &e, NULL,
	    &cause), -ELOOP);
	assert_non_null(strstr(cause, "points outside the repository"));
	free(cause);
	assert_int_equal(source_resolve(s, "deployments/abs.yaml", &e, NULL,
	    &cause), -ELOOP);
	free(cause);
	assert_int_equal(source_resolve(s, "deployments/loop.yaml", &e, NULL,
	    &cause), -ELOOP);
	assert_non_null(strstr(cause, "too many levels"));
	free(cause);
	source_free(s);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_join(void **state)
{
	char	*p;

	(void)state;
	p = source_join("a/b", "../c/./d");
	assert_string_equal(p, "a/c/d");
	free(p);
	p = source_join("", "x");
	assert_string_equal(p, "x");
	free(p);
	assert_null(source_join("a", "../../x"));
	assert_null(source_join("a", "/abs"));
	assert_null(source_join("a/b", "../../.."));
}

static void
test_git_errors(void **state)
{
	struct source	*s;
	char		*dir = tu_mkdtemp(), *cause;

	(void)state;
	assert_int_not_equal(source_git_open(&s, dir, NULL, NULL, &cause), 0);
	assert_non_null(cause);
	free(cause);
	tu_write(dir, "a.txt", "a\n", 0);
	git_commit_all(dir);
	assert_int_not_equal(source_git_open(&s, dir, "no-such-rev", NULL,
	    &cause), 0);
	free(cause);
	assert_int_not_equal(source_git_open(&s, dir, NULL, "no/such/path",
	    &cause), 0);
	assert_non_null(strstr(cause, "is not a folder"));
	free(cause);
	tu_rm_rf(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_ids_match_git),
		cmocka_unit_test(test_listing_and_read),
		cmocka_unit_test(test_escaping_symlinks),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_git_errors),
	};

	return (cmocka_run_group_tests_name("source", tests, NULL, NULL));
}
