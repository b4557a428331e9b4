/*
 * Terraform's plugin cache shared by copies (providers/tfcache.c):
 * packages the target lacks are copied (their own inodes: terraform
 * rewrites a reinstalled package in place, which must not reach another
 * cache), whole packages only, never replacing what is there, skipping
 * symbolic links and our temporary dot folders; both directions, as runs
 * do.  No
 * terraform here: the layout is Terraform's (HOST/NS/TYPE/VERSION/ARCH).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tfcache.h"
#include "xmalloc.h"

#define PKG	"registry.terraform.io/hashicorp/null/3.2.1/linux_amd64"
#define PKG2	"registry.terraform.io/hashicorp/null/3.2.2/linux_amd64"

static ino_t
inode(const char *root, const char *path)
{
	char		*p = xasprintf("%s/%s", root, path);
	struct stat	 st;

	if (lstat(p, &st) != 0)
		st.st_ino = 0;
	free(p);
	return (st.st_ino);
}

static char *
content(const char *root, const char *path)
{
	char	*p = xasprintf("%s/%s", root, path), *data = xmalloc(4096);
	size_t	 len = 0;
	FILE	*f;

	if ((f = fopen(p, "r")) != NULL) {
		len = fread(data, 1, 4095, f);
		fclose(f);
	}
	data[len] = '\0';
	free(p);
	return (data);
}

/* A copy: the same bytes and mode, its own inode. */
static void
assert_copy(const char *a, const char *b, const char *path)
{
	char		*x = content(a, path), *y = content(b, path);
	char		*pa = xasprintf("%s/%s", a, path);
	char		*pb = xasprintf("%s/%s", b, path);
	struct stat	 sa, sb;

	assert_int_equal(lstat(pa, &sa), 0);
	assert_int_equal(lstat(pb, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_not_equal(sa.st_ino, sb.st_ino);
	assert_int_equal(sa.st_mode & 0777, sb.st_mode & 0777);
	assert_string_equal(x, y);
	free(x);
	free(y);
	free(pa);
	free(pb);
}

static void
test_sync(void **state)
{
	char	*shared = tu_mkdtemp(), *mine = tu_mkdtemp(), *p;

	(void)state;
	assert_int_equal(tfcache_sync("/nonexistent/cache", mine), -ENOENT);
	tu_write(shared, PKG "/terraform-provider-null_v3.2.1_x5", "binary", 0755);
	tu_write(shared, PKG "/LICENSE", "license", 0);
	tu_write(shared, PKG "/docs/README", "readme", 0);
	tu_write(shared, "registry.terraform.io/hashicorp/.tmp.1.0/x", "tmp", 0);
	p = xasprintf("%s/registry.terraform.io/hashicorp/evil", shared);
	assert_int_equal(symlink("/etc", p), 0);
	free(p);

	/* Seeding: one package, its files copied. */
	assert_int_equal(tfcache_sync(shared, mine), 1);
	assert_copy(shared, mine, PKG "/terraform-provider-null_v3.2.1_x5");
	assert_copy(shared, mine, PKG "/LICENSE");
	assert_copy(shared, mine, PKG "/docs/README");
	assert_int_equal(inode(mine, "registry.terraform.io/hashicorp/.tmp.1.0"), 0);
	assert_int_equal(inode(mine, "registry.terraform.io/hashicorp/evil"), 0);
	/* Again: nothing to add. */
	assert_int_equal(tfcache_sync(shared, mine), 0);

	/* An init added a version: published back, the rest untouched. */
	tu_write(mine, PKG2 "/terraform-provider-null_v3.2.2_x5", "new", 0755);
	assert_int_equal(tfcache_sync(mine, shared), 1);
	assert_copy(mine, shared, PKG2 "/terraform-provider-null_v3.2.2_x5");

	/* Terraform rewriting its copy in place touches no other cache. */
	tu_write(mine, PKG "/terraform-provider-null_v3.2.1_x5", "rewritten",
	    0755);
	p = content(shared, PKG "/terraform-provider-null_v3.2.1_x5");
	assert_string_equal(p, "binary");
	free(p);

	/* A package already there is never replaced nor merged into. */
	tu_write(mine, PKG "/extra", "extra", 0);
	assert_int_equal(tfcache_sync(mine, shared), 0);
	assert_int_equal(inode(shared, PKG "/extra"), 0);

	/* A packed archive (legacy layout) is one file, linked. */
	tu_write(mine, "registry.terraform.io/hashicorp/null/"
	    "terraform-provider-null_3.2.3_linux_amd64.zip", "zip", 0);
	assert_int_equal(tfcache_sync(mine, shared), 1);
	assert_copy(mine, shared, "registry.terraform.io/hashicorp/null/"
	    "terraform-provider-null_3.2.3_linux_amd64.zip");
	assert_int_equal(tfcache_sync(mine, shared), 0);

	/* No temporary file or folder is left behind (but the planted one). */
	assert_int_equal(tu_run(shared, (const char *const[]){ "/bin/sh", "-c",
	    "! find . -name '.tmp.*' ! -name .tmp.1.0 | grep -q .", NULL }), 0);
	tu_rm_rf(shared);
	tu_rm_rf(mine);
	free(shared);
	free(mine);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
