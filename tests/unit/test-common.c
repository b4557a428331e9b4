/* Unit tests of common/: bounded buffers and hash tables. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compat.h"
#include "table.h"
#include "testutil.h"
#include "xmalloc.h"

static void
test_buf_bounded(void **state)
{
	struct buf	b;
	char		*s;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_addstr(&b, "abcd"), 0);
	assert_int_equal(buf_printf(&b, "%d", 123), 0);
	assert_string_equal(b.data, "abcd123");
	/* Past the maximum: refused, contents unchanged. */
	assert_int_equal(buf_addstr(&b, "xy"), -E2BIG);
	assert_string_equal(b.data, "abcd123");
	assert_int_equal(buf_addch(&b, 'z'), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_addch(&b, '!'), -E2BIG);
	s = buf_detach(&b);
	assert_string_equal(s, "abcd123z");
	free(s);
	/* A detached buffer is empty and reusable. */
	assert_int_equal(b.len, 0);
	s = buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
	buf_release(&b);
	buf_release(NULL);
}

static void
test_table_many(void **state)
{
	struct table	 t;
	char		 key[32];
	size_t		 i, n = 0;
	const char	*k;
	void		*v;

	(void)state;
	table_init(&t);
	assert_null(table_gets(&t, "missing"));
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key-%zu", i);
		assert_null(table_puts(&t, key, (void *)(i + 1)));
	}
	assert_int_equal(t.count, 5000);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "key-%zu", i);
		assert_ptr_equal(table_gets(&t, key), (void *)(i + 1));
	}
	/* Replacing returns the old value and keeps the count. */
	assert_ptr_equal(table_puts(&t, "key-7", (void *)99), (void *)8);
	assert_int_equal(t.count, 5000);
	i = 0;
	while (table_next(&t, &i, &k, &v))
		n++;
	assert_int_equal(n, 5000);
	/* Binary keys with NUL bytes are distinct from their prefixes. */
	assert_null(table_put(&t, "a\0b", 3, (void *)1));
	assert_null(table_get(&t, "a", 1));
	assert_ptr_equal(table_get(&t, "a\0b", 3), (void *)1);
	table_release(&t);
}

static size_t	table_freed;

static void
table_count_free(void *v)
{
	if (v != NULL)
		table_freed++;
	free(v);
}

/* table_clear hands every value, NULL ones too, to the function. */
static void
test_table_clear(void **state)
{
	struct table	t;

	(void)state;
	table_init(&t);
	table_puts(&t, "a", xstrdup("a"));
	table_puts(&t, "b", xstrdup("b"));
	table_puts(&t, "gone", NULL);
	table_clear(&t, table_count_free);
	assert_int_equal(table_freed, 2);
	assert_int_equal(t.count, 0);
	assert_null(table_gets(&t, "a"));
	/* Empty and NULL tables, and no function. */
	table_clear(&t, table_count_free);
	table_clear(NULL, table_count_free);
	table_puts(&t, "kept", (void *)1);
	table_clear(&t, NULL);
	assert_int_equal(table_freed, 2);
}

static void
test_strlcpy(void **state)
{
	char	b[4];

	(void)state;
	assert_int_equal(strlcpy(b, "abcdef", sizeof b), 6);
	assert_string_equal(b, "abc");
	assert_int_equal(strlcat(b, "zz", sizeof b), 5);
	assert_string_equal(b, "abc");
	assert_int_equal(strlcpy(b, "a", sizeof b), 1);
	assert_int_equal(strlcat(b, "bc", sizeof b), 3);
	assert_string_equal(b, "abc");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_bounded),
		cmocka_unit_test(test_table_many),
		cmocka_unit_test(test_table_clear),
		cmocka_unit_test(test_strlcpy),
	};

	return (cmocka_run_group_tests_name("common", tests, NULL, NULL));
}
