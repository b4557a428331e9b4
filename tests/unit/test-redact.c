/*
 * Unit tests of streaming redaction: secrets split across chunks, overlapping
 * and repeated values, short values left alone.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "testutil.h"
#include "xmalloc.h"

struct sink {
	char	*s;
	size_t	 len;
};

static void
sink_add(const char *data, size_t len, void *arg)
{
	struct sink	*k = arg;

	k->s = xreallocarray(k->s, k->len + len + 1, 1);
	memcpy(k->s + k->len, data, len);
	k->len += len;
	k->s[k->len] = '\0';
}

/* Feed text in chunks of size n; the redacted result. */
static char *
feed(char *const *secrets, size_t nsecrets, const char *text, size_t n)
{
	struct redact	*r = redact_new(secrets, nsecrets);
	struct sink	 k = { xstrdup(""), 0 };
	size_t		 len = strlen(text), i;

	for (i = 0; i < len; i += n)
		redact_add(r, text + i, len - i < n ? len - i : n, sink_add,
		    &k);
	redact_finish(r, sink_add, &k);
	redact_free(r);
	return (k.s);
}

static void
test_split_everywhere(void **state)
{
	char		*secrets[] = { "hunter2-secret", "tok-1234" };
	const char	*text = "user=admin pass=hunter2-secret token=tok-1234"
	    " again hunter2-secret and tok-1234tok-1234 end";
	const char	*want = "user=admin pass=*** token=***"
	    " again *** and ****** end";
	size_t		 n;
	char		*got;

	(void)state;
	for (n = 1; n <= strlen(text) + 1; n++) {
		got = feed(secrets, 2, text, n);
		assert_string_equal(got, want);
		free(got);
	}
}

static void
test_longest_first_and_short(void **state)
{
	char	*secrets[] = { "abcd", "abcdef", "xy" };
	char	*got;

	(void)state;
	got = feed(secrets, 3, "abcdefg abcdx xy", 3);
	/* "xy" is too short to redact: it would hide ordinary text. */
	assert_string_equal(got, "***g ***x xy");
	free(got);
	got = redact_string(secrets, 3, "no secret here");
	assert_string_equal(got, "no secret here");
	free(got);
}

static void
test_no_secrets_and_binary(void **state)
{
	struct redact	*r = redact_new(NULL, 0);
	struct sink	 k = { xstrdup(""), 0 };
	char		 bin[5] = { 'a', '\0', 'b', '\0', 'c' };

	(void)state;
	redact_add(r, bin, sizeof bin, sink_add, &k);
	redact_finish(r, sink_add, &k);
	assert_int_equal(k.len, sizeof bin);
	assert_memory_equal(k.s, bin, sizeof bin);
	free(k.s);
	redact_free(r);
}

/*
 * What could not start a secret is emitted at once, not held back by the
 * secret's length: a silent provider's last line reaches a follower.
 */
static void
test_holds_only_a_possible_start(void **state)
{
	char		*secrets[] = { "Log-Secret-Value-31337" };
	struct redact	*r = redact_new(secrets, 1);
	struct sink	 k = { xstrdup(""), 0 };

	(void)state;
	redact_add(r, "tick 5\n", 7, sink_add, &k);
	assert_string_equal(k.s, "tick 5\n");
	/* A tail that may be the secret's start waits for what follows. */
	redact_add(r, "tick 6 Log-Se", 13, sink_add, &k);
	assert_string_equal(k.s, "tick 5\ntick 6 ");
	redact_add(r, "cret-Value-31337 x", 18, sink_add, &k);
	assert_string_equal(k.s, "tick 5\ntick 6 *** x");
	/* Once it cannot be the secret any more, it goes out. */
	redact_add(r, "Log-Sec", 7, sink_add, &k);
	redact_add(r, "tion\n", 5, sink_add, &k);
	assert_string_equal(k.s, "tick 5\ntick 6 *** xLog-Section\n");
	redact_finish(r, sink_add, &k);
	free(k.s);
	redact_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_longest_first_and_short),
		cmocka_unit_test(test_no_secrets_and_binary),
		cmocka_unit_test(test_holds_only_a_possible_start),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
