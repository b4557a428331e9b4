/* Unit tests of expressions: the five forms and nothing else. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "model-int.h"
#include "testutil.h"

static void
scan_ok(const char *s, struct expr_list *l)
{
	char	*cause;

	if (expr_scan(s, l, &cause) != 0)
		fail_msg("'%s': %s", s, cause);
}

static void
scan_err(const char *s, const char *want)
{
	struct expr_list	 l;
	char			*cause = NULL;

	assert_int_not_equal(expr_scan(s, &l, &cause), 0);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("'%s': cause '%s' lacks '%s'", s, cause, want);
	free(cause);
}

static void
test_forms(void **state)
{
	struct expr_list	l;

	(void)state;
	scan_ok("${{ deployments.net-1.outputs.subnet_id }}", &l);
	assert_true(expr_whole(&l));
	assert_int_equal(l.v[0].kind, EXPR_OUTPUT);
	assert_string_equal(l.v[0].a, "net-1");
	assert_string_equal(l.v[0].b, "subnet_id");
	expr_list_release(&l);

	scan_ok("${{secrets.db_password}}", &l);
	assert_int_equal(l.v[0].kind, EXPR_SECRET);
	assert_string_equal(l.v[0].a, "db_password");
	expr_list_release(&l);

	scan_ok("pre-${{ deployment.name }}.${{environment.name}}@${{ git.commit }}",
	    &l);
	assert_false(expr_whole(&l));
	assert_int_equal(l.n, 6);
	assert_int_equal(l.v[0].kind, EXPR_TEXT);
	assert_string_equal(l.v[0].a, "pre-");
	assert_int_equal(l.v[1].kind, EXPR_DEPLOYMENT_NAME);
	assert_int_equal(l.v[3].kind, EXPR_ENVIRONMENT_NAME);
	assert_int_equal(l.v[5].kind, EXPR_GIT_COMMIT);
	expr_list_release(&l);
}

static void
test_escape(void **state)
{
	struct expr_list	l;

	(void)state;
	scan_ok("literal $${{ not.evaluated }} text", &l);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].kind, EXPR_TEXT);
	assert_string_equal(l.v[0].a, "literal ${{ not.evaluated }} text");
	expr_list_release(&l);
	assert_false(expr_maybe("plain ${ text } {{ }}"));
}

static void
test_rejected(void **state)
{
	(void)state;
	scan_err("${{ env.HOME }}", "unknown expression");
	scan_err("${{ deployments.a.outputs }}", "unknown expression");
	scan_err("${{ deployments.a.outputs.b.c }}", "unknown expression");
	scan_err("${{ deployments.A.outputs.b }}", "invalid deployment name");
	scan_err("${{ secrets.bad name }}", "invalid secret name");
	scan_err("${{ secrets.a/../b }}", "unknown expression");
	scan_err("${{ $(rm -rf /) }}", "unknown expression");
	scan_err("${{ deployment.name ", "unterminated expression");
	scan_err("${{ }}", "unknown expression");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_rejected),
	};

	return (cmocka_run_group_tests_name("expr", tests, NULL, NULL));
}
