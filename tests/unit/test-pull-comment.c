/*
 * Unit tests of a pull request's comment: what it lists for each kind of
 * change, plan outputs in fences that their own backticks cannot close,
 * trimming to the forge's limit (ends kept, a note, small outputs whole),
 * and text made safe (valid UTF-8, no NUL or control characters).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pull-comment.h"
#include "testutil.h"
#include "xmalloc.h"

#define HEAD	"0123456789abcdef0123456789abcdef01234567"

static bool
valid_utf8(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len, i;

	while (*p != '\0') {
		if (*p < 0x20 && *p != '\n' && *p != '\t')
			return (false);
		if (*p < 0x80)
			len = 1;
		else if ((*p & 0xe0) == 0xc0)
			len = 2;
		else if ((*p & 0xf0) == 0xe0)
			len = 3;
		else if ((*p & 0xf8) == 0xf0)
			len = 4;
		else
			return (false);
		for (i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return (false);
		}
		p += len;
	}
	return (true);
}

/* A log of n bytes: numbered lines, "FIRST" at the start, "LAST" at the end. */
static char *
make_log(size_t n, const char *tag)
{
	char	*s = xmalloc(n + 1), line[64];
	size_t	 o = 0, k = 0;
	int	 len;

	len = snprintf(line, sizeof line, "FIRST %s\n", tag);
	memcpy(s, line, (size_t)len);
	o = (size_t)len;
	while (o < n) {
		len = snprintf(line, sizeof line, "%s line %zu of the plan\n",
		    tag, k++);
		if (o + (size_t)len > n)
			break;
		memcpy(s + o, line, (size_t)len);
		o += (size_t)len;
	}
	len = snprintf(line, sizeof line, "LAST %s\n", tag);
	if (o + (size_t)len > n)
		o = n - (size_t)len;
	memcpy(s + o, line, (size_t)len);
	o += (size_t)len;
	s[o] = '\0';
	return (s);
}

static void
test_one_deployment(void **state)
{
	const char			*log = "[cloudsphere] plan of web\n+ resource\nPlan: 1 to add\n";
	struct pull_comment_entry	 e = { "web", "changed", 42, "succeeded",
	    "1 to add, 0 to change, 0 to destroy", "changes", log,
	    strlen(log) };
	char				*c;

	(void)state;
	c = pull_comment_render(HEAD, &e, 1, 65536);
	assert_non_null(strstr(c, "<!-- cloudsphere"));
	assert_non_null(strstr(c, "plans at 0123456789ab"));
	assert_non_null(strstr(c,
	    "| `web` | changed | 1 to add, 0 to change, 0 to destroy |"));
	assert_non_null(strstr(c, "#### `web` (run 42)"));
	assert_non_null(strstr(c, "```\n[cloudsphere] plan of web\n+ resource\nPlan: 1 to add\n```"));
	assert_null(strstr(c, "trimmed"));
	assert_true(valid_utf8(c));
	free(c);
}

static void
test_kinds(void **state)
{
	struct pull_comment_entry	 v[] = {
		{ "bad", "invalid", 0, NULL, NULL,
		    "deployments/bad.yaml:3: unknown key 'inptus'\ndeployments/bad.yaml:5: input 'x' is not declared",
		    NULL, 0 },
		{ "db", "changed", 7, "failed", NULL,
		    "plan: exited 1: Error: No value | for variable", "oops\n", 5 },
		{ "new", "added", 8, "running", NULL, NULL, NULL, 0 },
		{ "old", "removed", 0, NULL, NULL, NULL, NULL, 0 },
		{ "sec", "changed", 0, NULL, NULL,
		    "cannot resolve inputs: no secret 'x'", NULL, 0 },
	};
	char	*c;

	(void)state;
	c = pull_comment_render(HEAD, v, 5, 65536);
	assert_non_null(strstr(c, "| `bad` | invalid | invalid: not planned |"));
	assert_non_null(strstr(c, "deployments/bad.yaml:3: unknown key 'inptus'\ndeployments/bad.yaml:5: input 'x'"));
	/* A pipe in a cause does not break the table. */
	assert_non_null(strstr(c,
	    "| `db` | changed | failed: plan: exited 1: Error: No value \\| for variable |"));
	assert_non_null(strstr(c, "| `new` | added | planning... |"));
	assert_non_null(strstr(c, "| `old` | removed | would be destroyed when merged |"));
	assert_non_null(strstr(c, "| `sec` | changed | not planned |"));
	assert_non_null(strstr(c, "no secret 'x'"));
	free(c);

	c = pull_comment_render(HEAD, NULL, 0, 65536);
	assert_non_null(strstr(c, "changes no deployment"));
	free(c);
}

static void
test_fences(void **state)
{
	const char			*log = "a ```` b\n```\nc\n";
	struct pull_comment_entry	 e = { "web", "changed", 1, "succeeded",
	    NULL, "no changes", log, strlen(log) };
	char				*c;

	(void)state;
	c = pull_comment_render(HEAD, &e, 1, 65536);
	assert_non_null(strstr(c, "\n`````\na ```` b\n```\nc\n`````\n"));
	free(c);
}

static void
test_clean(void **state)
{
	const char			 log[] = "ok \xc3\xa9 bad \xff\xfe nul \0 esc \x1b[0m cr\r\n"
	    "cut \xe2\x82";
	struct pull_comment_entry	 e = { "web", "changed", 1, "succeeded",
	    NULL, "changes", log, sizeof log - 1 };
	char				*c;

	(void)state;
	c = pull_comment_render(HEAD, &e, 1, 65536);
	assert_true(valid_utf8(c));
	assert_non_null(strstr(c, "ok \xc3\xa9 bad ?? nul ? esc ?[0m cr\ncut ??"));
	free(c);
}

static void
test_trim_one(void **state)
{
	char				*log = make_log(200000, "web"), *c;
	char				 note[128];
	struct pull_comment_entry	 e = { "web", "changed", 9, "succeeded",
	    "1 to add", "changes", log, strlen(log) };

	(void)state;
	c = pull_comment_render(HEAD, &e, 1, 65536);
	assert_true(strlen(c) <= 65536);
	assert_true(strlen(c) > 60000);		/* the room is used */
	assert_non_null(strstr(c, "LAST web\n```"));
	assert_null(strstr(c, "FIRST web"));
	assert_non_null(strstr(c, "Plan output trimmed to fit the comment: the last "));
	snprintf(note, sizeof note,
	    "of %zu bytes; the whole log: `cloudspherectl log 9`",
	    strlen(log));
	assert_non_null(strstr(c, note));
	/* Cut at a line start. */
	assert_non_null(strstr(c, "```\nweb line "));
	free(c);
	free(log);
}

static void
test_trim_shared(void **state)
{
	char				*big = make_log(100000, "big");
	char				*big2 = make_log(80000, "other");
	const char			*small = "small plan output\n";
	struct pull_comment_entry	 v[] = {
		{ "a", "changed", 1, "succeeded", NULL, "changes", big,
		    strlen(big) },
		{ "b", "changed", 2, "succeeded", NULL, "no changes", small,
		    strlen(small) },
		{ "c", "added", 3, "succeeded", NULL, "changes", big2,
		    strlen(big2) },
	};
	char				*c, *a, *cc;

	(void)state;
	c = pull_comment_render(HEAD, v, 3, 32768);
	assert_true(strlen(c) <= 32768);
	assert_non_null(strstr(c, "```\nsmall plan output\n```"));
	assert_non_null(strstr(c, "LAST big\n"));
	assert_non_null(strstr(c, "LAST other\n"));
	assert_null(strstr(c, "FIRST big"));
	assert_null(strstr(c, "FIRST other"));
	/* Both big ones get about the same room. */
	a = strstr(c, "the last ");
	assert_non_null(a);
	cc = strstr(a + 1, "the last ");
	assert_non_null(cc);
	assert_true(labs(atol(a + 9) - atol(cc + 9)) < 200);
	assert_true(atol(a + 9) > 10000);
	free(c);
	free(big);
	free(big2);
}

static void
test_too_many(void **state)
{
	struct pull_comment_entry	*v;
	char				 names[500][16], *c;
	size_t				 i;

	(void)state;
	v = xcalloc(500, sizeof *v);
	for (i = 0; i < 500; i++) {
		snprintf(names[i], sizeof names[i], "dep-%zu", i);
		v[i].deployment = names[i];
		v[i].change = "removed";
	}
	c = pull_comment_render(HEAD, v, 500, 4096);
	assert_true(strlen(c) <= 4096);
	assert_non_null(strstr(c, "too many deployments"));
	assert_non_null(strstr(c, "| `dep-0` | removed |"));
	free(c);
	free(v);
}

static void
test_limits(void **state)
{
	(void)state;
	assert_int_equal(pull_comment_limit("github"), 65536);
	assert_int_equal(pull_comment_limit("gitea"), 65536);
	assert_int_equal(pull_comment_limit("bitbucket-server"), 32768);
	assert_int_equal(pull_comment_limit("bitbucket"), 32768);
	assert_int_equal(pull_comment_limit("gitlab"), 1000000);
	assert_int_equal(pull_comment_limit(NULL), 65536);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_deployment),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_fences),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_trim_one),
		cmocka_unit_test(test_trim_shared),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_limits),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
