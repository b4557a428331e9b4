/*
 * Terraform's plugin cache shared by hard links (providers/tfcache.c):
 * packages the target lacks are linked (same inode, no copy), whole
 * packages only, never replacing what is there, skipping symbolic links
 * and our temporary dot folders; both directions, as runs do.  No
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

	/* Seeding: one package, its files linked, not copied. */
	assert_int_equal(tfcache_sync(shared, mine), 1);
	assert_int_equal(inode(mine, PKG "/terraform-provider-null_v3.2.1_x5"),
	    inode(shared, PKG "/terraform-provider-null_v3.2.1_x5"));
	assert_int_equal(inode(mine, PKG "/docs/README"),
	    inode(shared, PKG "/docs/README"));
	assert_int_equal(inode(mine, "registry.terraform.io/hashicorp/.tmp.1.0"), 0);
	assert_int_equal(inode(mine, "registry.terraform.io/hashicorp/evil"), 0);
	/* Again: nothing to add. */
	assert_int_equal(tfcache_sync(shared, mine), 0);

	/* An init added a version: published back, the rest untouched. */
	tu_write(mine, PKG2 "/terraform-provider-null_v3.2.2_x5", "new", 0755);
	assert_int_equal(tfcache_sync(mine, shared), 1);
	assert_int_equal(inode(shared, PKG2 "/terraform-provider-null_v3.2.2_x5"),
	    inode(mine, PKG2 "/terraform-provider-null_v3.2.2_x5"));

	/* A package already there is never replaced nor merged into. */
	tu_write(mine, PKG "/extra", "extra", 0);
	assert_int_equal(tfcache_sync(mine, shared), 0);
	assert_int_equal(inode(shared, PKG "/extra"), 0);

	/* A packed archive (legacy layout) is one file, linked. */
	tu_write(mine, "registry.terraform.io/hashicorp/null/"
	    "terraform-provider-null_3.2.3_linux_amd64.zip", "zip", 0);
	assert_int_equal(tfcache_sync(mine, shared), 1);

	/* No temporary folder is left behind. */
	assert_int_equal(inode(shared, "registry.terraform.io/hashicorp/null/"
	    "3.2.2/.tmp.0.0"), 0);
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
