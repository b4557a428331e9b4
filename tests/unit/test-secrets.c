/*
 * Secrets on the daemon host (secrets_dir, then systemd credentials) and
 * their redaction as tools print them: a refused file's cause names the
 * file, never the value; JSON spellings of a value are redacted too.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redact.h"
#include "secrets.h"
#include "testutil.h"
#include "xmalloc.h"

static void
test_read_and_refuse(void **state)
{
	char	*dir = tu_mkdtemp(), *v, *cause, *path;

	(void)state;
	tu_write(dir, "ok", "s3cret-value\n", 0600);
	assert_int_equal(secrets_read(dir, "ok", &v, &cause), 0);
	assert_string_equal(v, "s3cret-value");	/* one newline removed */
	assert_null(cause);
	free(v);

	tu_write(dir, "open", "open-value-1\n", 0640);
	chmod((path = xasprintf("%s/open", dir)), 0640);
	assert_int_equal(secrets_read(dir, "open", &v, &cause), -EACCES);
	assert_null(v);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "readable by others (mode 640)"));
	assert_null(strstr(cause, "open-value-1"));
	free(cause);
	free(path);

	assert_int_equal(secrets_read(dir, "missing", &v, &cause), -ENOENT);
	assert_null(cause);
	assert_int_equal(secrets_read(dir, "../ok", &v, &cause), -EINVAL);
	free(cause);
	/* A symbolic link is not followed. */
	path = xasprintf("%s/link", dir);
	assert_int_equal(symlink("ok", path), 0);
	assert_int_not_equal(secrets_read(dir, "link", &v, &cause), 0);
	assert_null(v);
	assert_null(strstr(cause, "s3cret-value"));
	free(cause);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_lookup_order(void **state)
{
	char	*dir = tu_mkdtemp(), *creds = tu_mkdtemp(), *v, *cause, *p;

	(void)state;
	tu_write(dir, "both", "from-secrets-dir\n", 0600);
	tu_write(creds, "both", "from-credentials\n", 0400);
	tu_write(creds, "cred", "only-credential\n", 0400);
	tu_write(creds, "acl", "granted-by-acl\n", 0440);
	tu_write(creds, "world", "world-readable\n", 0444);
	tu_write(dir, "bad", "refused-here\n", 0644);
	tu_write(creds, "bad", "fine-there\n", 0400);
	chmod((p = xasprintf("%s/bad", dir)), 0644);
	free(p);
	chmod((p = xasprintf("%s/acl", creds)), 0440);
	free(p);
	chmod((p = xasprintf("%s/world", creds)), 0444);
	free(p);

	/* secrets_dir first, then the credentials. */
	assert_int_equal(secrets_lookup(dir, creds, "both", &v, &cause), 0);
	assert_string_equal(v, "from-secrets-dir");
	free(v);
	assert_int_equal(secrets_lookup(dir, creds, "cred", &v, &cause), 0);
	assert_string_equal(v, "only-credential");
	free(v);
	assert_int_equal(secrets_lookup(NULL, creds, "cred", &v, &cause), 0);
	free(v);
	/* systemd's ACL shows as group bits: allowed there, not others. */
	assert_int_equal(secrets_lookup(dir, creds, "acl", &v, &cause), 0);
	assert_string_equal(v, "granted-by-acl");
	free(v);
	assert_int_equal(secrets_lookup(dir, creds, "world", &v, &cause),
	    -EACCES);
	assert_null(strstr(cause, "world-readable"));
	free(cause);
	/* A refused file is an error, not a reason to look further. */
	assert_int_equal(secrets_lookup(dir, creds, "bad", &v, &cause),
	    -EACCES);
	assert_null(v);
	assert_non_null(strstr(cause, "/bad: readable by others"));
	free(cause);
	assert_int_equal(secrets_lookup(dir, creds, "none", &v, &cause),
	    -ENOENT);
	assert_null(cause);
	assert_int_equal(secrets_lookup(NULL, NULL, "none", &v, &cause),
	    -ENOENT);
	assert_int_equal(secrets_lookup(dir, "", "cred", &v, &cause), -ENOENT);
	tu_rm_rf(dir);
	tu_rm_rf(creds);
	free(dir);
	free(creds);
}

static void
test_redact_json_spellings(void **state)
{
	char		*secrets[] = { "pa\"ss\\wd", "caf\xc3\xa9-tok", "line1\nline2" };
	char		*got;

	(void)state;
	got = redact_string(secrets, 3,
	    "raw pa\"ss\\wd json \"pa\\\"ss\\\\wd\" "
	    "utf8 caf\xc3\xa9-tok py \"caf\\u00e9-tok\" jansson caf\\u00E9-tok "
	    "nl line1\\nline2 end");
	assert_string_equal(got, "raw *** json \"***\" utf8 *** py \"***\" "
	    "jansson *** nl *** end");
	free(got);
	/* Short values stay: they would blank out ordinary text. */
	got = redact_string((char *[]){ "abc" }, 1, "abc abc");
	assert_string_equal(got, "abc abc");
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_and_refuse),
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_redact_json_spellings),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
