/* Unit tests of the YAML document tree: lines, limits, aliases, merges. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "testutil.h"
#include "xmalloc.h"
#include "ydoc.h"

static struct ynode *
parse_ok(const char *text)
{
	struct ynode	*root;
	char		*cause;
	int		 line;

	if (ydoc_parse(&root, text, strlen(text), &cause, &line) != 0)
		fail_msg("unexpected error at line %d: %s", line, cause);
	return (root);
}

static void
parse_err(const char *text, int want_line, const char *want)
{
	struct ynode	*root;
	char		*cause = NULL;
	int		 line = 0;

	assert_int_not_equal(ydoc_parse(&root, text, strlen(text), &cause,
	    &line), 0);
	assert_null(root);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, want);
	assert_int_equal(line, want_line);
	free(cause);
}

static void
test_lines_and_styles(void **state)
{
	struct ynode	*root, *n;

	(void)state;
	root = parse_ok("# comment\na: 1\nb:\n  - x\n  - 'y'\nc: {d: e}\n");
	assert_int_equal(root->kind, YNODE_MAP);
	assert_int_equal(root->n, 3);
	n = ynode_get(root, "a");
	assert_int_equal(n->line, 2);
	assert_true(n->plain);
	n = ynode_get(root, "b");
	assert_int_equal(n->kind, YNODE_SEQ);
	assert_int_equal(n->items[1]->line, 5);
	assert_false(n->items[1]->plain);	/* quoted */
	n = ynode_get(root, "c");
	assert_int_equal(n->kind, YNODE_MAP);
	assert_string_equal(ynode_get(n, "d")->text, "e");
	assert_null(ynode_get(root, "zz"));
	ynode_free(root);
}

static void
test_empty(void **state)
{
	(void)state;
	assert_null(parse_ok(""));
	assert_null(parse_ok("# only a comment\n"));
}

static void
test_duplicate_key(void **state)
{
	(void)state;
	parse_err("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a' (first set at line 1)");
}

static void
test_syntax_error_line(void **state)
{
	(void)state;
	parse_err("a: 1\nb: [1, 2\nc: 3\n", 3, "flow");
}

static void
test_multiple_documents(void **state)
{
	(void)state;
	parse_err("a: 1\n---\nb: 2\n", 2, "more than one YAML document");
}

static void
test_depth_limit(void **state)
{
	struct buf	 b;
	struct ynode	*root;
	int		 i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < YDOC_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	for (i = 0; i < YDOC_MAX_DEPTH; i++)
		buf_addch(&b, ']');
	root = parse_ok(b.data);	/* exactly at the limit */
	ynode_free(root);
	buf_reset(&b);
	for (i = 0; i <= YDOC_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	for (i = 0; i <= YDOC_MAX_DEPTH; i++)
		buf_addch(&b, ']');
	parse_err(b.data, 1, "nesting deeper than");
	buf_release(&b);
}

static void
test_alias_bomb(void **state)
{
	(void)state;
	/* Ten levels of ten aliases each: 10^10 nodes once expanded. */
	parse_err(
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n",
	    5, "expands to more than");
}

static void
test_alias_and_merge(void **state)
{
	struct ynode	*root, *n;

	(void)state;
	root = parse_ok(
	    "base: &base {region: eu, size: 1}\n"
	    "copy: *base\n"
	    "merged:\n"
	    "  <<: *base\n"
	    "  size: 2\n");
	n = ynode_get(root, "copy");
	assert_string_equal(ynode_get(n, "region")->text, "eu");
	n = ynode_get(root, "merged");
	assert_int_equal(n->n, 2);
	assert_string_equal(ynode_get(n, "size")->text, "2");
	assert_string_equal(ynode_get(n, "region")->text, "eu");
	ynode_free(root);
	parse_err("a: *nope\n", 1, "unknown alias '*nope'");
	parse_err("a:\n  <<: 5\n", 2, "merge key");
}

static void
test_tags(void **state)
{
	struct ynode	*root;

	(void)state;
	root = parse_ok("a: !!str 5\nb: 5\n");
	assert_false(ynode_get(root, "a")->plain);
	assert_true(ynode_get(root, "b")->plain);
	ynode_free(root);
	parse_err("a: !custom 5\n", 1, "unsupported tag");
}

static void
test_nul_and_size(void **state)
{
	struct ynode	*root;
	char		*big, *cause;
	int		 line;

	(void)state;
	parse_err("a: \"x\\0y\"\n", 1, "NUL");
	big = xmalloc(YDOC_MAX_BYTES + 2);
	memset(big, '#', YDOC_MAX_BYTES + 1);
	big[YDOC_MAX_BYTES + 1] = '\0';
	assert_int_not_equal(ydoc_parse(&root, big, YDOC_MAX_BYTES + 1, &cause,
	    &line), 0);
	assert_non_null(strstr(cause, "larger than"));
	free(cause);
	free(big);
}

static void
test_non_scalar_key(void **state)
{
	(void)state;
	parse_err("? [a, b]\n: 1\n", 1, "mapping keys must be plain strings");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_styles),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_syntax_error_line),
		cmocka_unit_test(test_multiple_documents),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_alias_and_merge),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_nul_and_size),
		cmocka_unit_test(test_non_scalar_key),
	};

	return (cmocka_run_group_tests_name("ydoc", tests, NULL, NULL));
}
