/*
 * Golden tests of the readers of Terraform's -json output and of
 * ansible-playbook's output, against the real captures in
 * ../shared/corpus (Terraform 1.11.4, ansible-core): every capture of
 * the kind is read, and these expectations come from reading the
 * captures by hand.  Skipped, saying so, where the corpus is absent.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "recap.h"
#include "runner.h"
#include "testutil.h"
#include "tfjson.h"
#include "xmalloc.h"

static const char *corpus;

static char *
slurp(const char *rel, size_t *len)
{
	char	*path = xasprintf("%s/%s", corpus, rel), *data;
	FILE	*f;
	long	 n;

	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = xmalloc((size_t)n + 1);
	if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)
		fail_msg("%s: short read", path);
	data[n] = '\0';
	fclose(f);
	free(path);
	*len = (size_t)n;
	return (data);
}

static const char *
str(const struct buf *b)
{
	return (b->data != NULL ? b->data : "");
}

static void
to_buf(const char *data, size_t len, void *arg)
{
	buf_add(arg, data, len);
}

/* A capture as the runner's one pipe gives it: stdout, then stderr. */
static char *
capture_read(const char *rel, size_t *len)
{
	char	*out, *err, *path, *data;
	size_t	 nout, nerr;

	if (strncmp(rel, "opentofu/", 9) == 0)
		return (slurp(rel, len));
	path = xasprintf("%s.stdout", rel);
	out = slurp(path, &nout);
	free(path);
	path = xasprintf("%s.stderr", rel);
	err = slurp(path, &nerr);
	free(path);
	data = xmalloc(nout + nerr + 1);
	memcpy(data, out, nout);
	memcpy(data + nout, err, nerr);
	data[nout + nerr] = '\0';
	free(out);
	free(err);
	*len = nout + nerr;
	return (data);
}

static int
capture_exit(const char *rel)
{
	char	*path = xasprintf("%s.exitcode", rel), *data;
	size_t	 len;
	char	*end;
	long	 code;

	data = slurp(path, &len);
	errno = 0;
	code = strtol(data, &end, 10);
	assert_true(errno == 0 && end != data && code >= 0 && code <= 255);
	free(data);
	free(path);
	return ((int)code);
}

/* Read a capture with tfjson, in chunks of n bytes. */
static void
tf_read(struct tfjson *t, struct buf *log, const char *data, size_t len,
    size_t n)
{
	size_t	i;

	tfjson_init(t);
	for (i = 0; i < len; i += n)
		tfjson_feed(t, data + i, len - i < n ? len - i : n, to_buf,
		    log);
	tfjson_finish(t, to_buf, log);
}

static void
recap_read(struct recap *r, const char *data, size_t len, size_t n)
{
	size_t	i;

	recap_init(r);
	for (i = 0; i < len; i += n)
		recap_feed(r, data + i, len - i < n ? len - i : n);
	recap_finish(r);
}

enum reader {
	READ_TFJSON,	/* plan, apply: tfjson.h */
	READ_OUTPUTS,	/* terraform output -json: runner_outputs */
	READ_RECAP,	/* ansible-playbook: recap.h */
	READ_NONE,	/* no reader of ours reads this kind of file */
};

/*
 * Every capture of the corpus, with what the readers must make of it;
 * expectations written from reading the captures by hand.  A capture
 * that has no line here fails the test: add its expectation.
 */
static const struct golden {
	const char	*capture;	/* corpus path; out/ captures by name */
	enum reader	 reader;
	const char	*summary;	/* NULL: none */
	const char	*cause;		/* exact; NULL: none */
	const char	*logged;	/* tfjson: a line of the log; outputs:
					   the outputs, compact, sorted */
	int		 secrets;	/* outputs: sensitive string values */
} goldens[] = {
#include "test-parsers-golden.h"
};

/* GOLDEN_PRINT=1: a string as C source, to write new expectations. */
static void
print_c(const char *s, const char *after)
{
	if (s == NULL)
		printf("NULL");
	else {
		putchar('"');
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				putchar('\\');
			putchar(*s);
		}
		putchar('"');
	}
	printf("%s", after);
}

/* got equals want, or both are NULL. */
static void
assert_string_or_null(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

static bool
has_json_line(const char *data)
{
	const char	*p = data;

	for (;;) {
		if (*p == '{')
			return (true);
		if ((p = strchr(p, '\n')) == NULL)
			return (false);
		p++;
	}
}

static void
golden_check(const struct golden *g, bool print)
{
	struct tfjson	 t, t1;
	struct recap	 r, r1;
	struct runner	 runner;
	struct buf	 log, log1;
	json_t		*out = NULL;
	char		*data, *s, *cause = NULL, *dump, **secrets = NULL;
	size_t		 len, nsecrets = 0, i;
	int		 code;

	if (g->reader == READ_NONE) {
		if (print)
			printf("\t{ \"%s\", READ_NONE, NULL, NULL, NULL, 0 },\n",
			    g->capture);
		return;
	}
	data = capture_read(g->capture, &len);
	switch (g->reader) {
	case READ_TFJSON:
		buf_init(&log, 1 << 24);
		buf_init(&log1, 1 << 24);
		tf_read(&t, &log, data, len, 1 << 20);
		tf_read(&t1, &log1, data, len, 1);	/* a byte at a time */
		s = tfjson_summary(&t);
		cause = tfjson_cause(&t);
		if (print) {
			printf("\t{ \"%s\", READ_TFJSON,\n\t    ", g->capture);
			print_c(s, ",\n\t    ");
			print_c(cause, ",\n\t    ");
			print_c(g->logged, ", 0 },\n");
		} else {
			assert_int_equal(log.len, log1.len);
			assert_memory_equal(str(&log), str(&log1), log.len);
			assert_string_or_null(s, g->summary);
			assert_string_or_null(cause, g->cause);
			if (g->logged != NULL &&
			    strstr(str(&log), g->logged) == NULL)
				fail_msg("%s: the log lacks \"%s\"", g->capture,
				    g->logged);
			/* No UI message reaches the log as JSON... */
			assert_null(strstr(str(&log), "\"@level\""));
			/* ...and human output reaches it as it is. */
			if (!has_json_line(data)) {
				assert_int_equal(log.len, len);
				assert_memory_equal(str(&log), data, len);
			}
		}
		free(s);
		tfjson_release(&t);
		tfjson_release(&t1);
		buf_release(&log);
		buf_release(&log1);
		break;
	case READ_OUTPUTS:
		memset(&runner, 0, sizeof runner);
		runner.kind = PROVIDER_TERRAFORM;
		assert_int_equal(runner_outputs(&runner, NULL, data, len, &out,
		    &secrets, &nsecrets, &cause), 0);
		dump = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		if (print) {
			printf("\t{ \"%s\", READ_OUTPUTS, NULL, NULL,\n\t    ",
			    g->capture);
			print_c(dump, "");
			printf(", %zu },\n", nsecrets);
		} else {
			assert_string_equal(dump, g->logged);
			assert_int_equal(nsecrets, g->secrets);
		}
		free(dump);
		json_decref(out);
		for (i = 0; i < nsecrets; i++)
			free(secrets[i]);
		free(secrets);
		break;
	case READ_RECAP:
		code = capture_exit(g->capture);
		recap_read(&r, data, len, 1 << 20);
		recap_read(&r1, data, len, 1);
		s = recap_summary(&r);
		cause = code != 0 ? recap_cause(&r, code) : NULL;
		if (print) {
			printf("\t{ \"%s\", READ_RECAP,\n\t    ", g->capture);
			print_c(s, ",\n\t    ");
			print_c(cause, ", NULL, 0 },\n");
		} else {
			assert_string_or_null(s, g->summary);
			assert_string_or_null(cause, g->cause);
			assert_int_equal(r.hosts, r1.hosts);
			assert_int_equal(r.changed, r1.changed);
			assert_int_equal(r.failed, r1.failed);
		}
		free(s);
		recap_release(&r);
		recap_release(&r1);
		break;
	case READ_NONE:
		break;
	}
	free(cause);
	free(data);
}

static const struct golden *
golden_find(const char *capture)
{
	size_t	i;

	for (i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
		if (strcmp(goldens[i].capture, capture) == 0)
			return (&goldens[i]);
	}
	return (NULL);
}

static char	**found;
static size_t	  nfound;

static void
found_add(const char *capture)
{
	found = xreallocarray(found, nfound + 1, sizeof *found);
	found[nfound++] = xstrdup(capture);
}

/* The captures of an out/ folder: one per NAME.exitcode. */
static void
list_out(const char *rel)
{
	char		*path = xasprintf("%s/%s", corpus, rel), *name;
	struct dirent	*de;
	DIR		*d;
	size_t		 n;

	if ((d = opendir(path)) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 9 || strcmp(de->d_name + n - 9, ".exitcode") != 0)
			continue;
		name = xasprintf("%s/%.*s", rel, (int)(n - 9), de->d_name);
		found_add(name);
		free(name);
	}
	closedir(d);
	free(path);
}

/* Every file under a folder. */
static void
list_tree(const char *rel)
{
	char		*path = xasprintf("%s/%s", corpus, rel), *sub;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;

	if ((d = opendir(path)) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", rel, de->d_name);
		free(path);
		path = xasprintf("%s/%s", corpus, sub);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			list_tree(sub);
		else
			found_add(sub);
		free(sub);
	}
	closedir(d);
	free(path);
}

static int
strp_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
test_golden(void **state)
{
	const struct golden	*g;
	bool			 print = getenv("GOLDEN_PRINT") != NULL;
	size_t			 i, missing = 0;

	(void)state;
	if (corpus == NULL)
		return;		/* said in main; cmocka's skip() is a TAP failure */
	list_out("terraform/out");
	list_out("ansible/out");
	list_tree("opentofu");
	qsort(found, nfound, sizeof *found, strp_cmp);
	for (i = 0; i < nfound; i++) {
		if ((g = golden_find(found[i])) == NULL) {
			printf("# %s: no expectation in tests/unit/test-parsers-golden.h\n",
			    found[i]);
			missing++;
			continue;
		}
		golden_check(g, print);
	}
	/* And no expectation for a capture that is not there. */
	for (i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
		if (bsearch(&goldens[i].capture, found, nfound, sizeof *found,
		    strp_cmp) == NULL) {
			printf("# %s: expected, not in the corpus\n",
			    goldens[i].capture);
			missing++;
		}
	}
	for (i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	found = NULL;
	nfound = 0;
	assert_int_equal(missing, 0);
}

static void
test_terraform_json_and_junk(void **state)
{
	struct tfjson	 t;
	struct buf	 log;
	json_t		*j;
	const char	*in = "not json at all\n"
	    "{\"@message\":\"Plan: 1 to add, 0 to change, 0 to destroy.\","
	    "\"type\":\"change_summary\",\"changes\":{\"add\":1,\"change\":0,"
	    "\"remove\":0,\"import\":0,\"operation\":\"plan\"}}\n"
	    "{\"type\":\"planned_change\",\"change\":{\"action\":\"create\","
	    "\"resource\":{\"addr\":\"a.b\"}}}";

	(void)state;
	buf_init(&log, 1 << 20);
	tfjson_init(&t);
	tfjson_feed(&t, in, strlen(in), to_buf, &log);
	tfjson_finish(&t, to_buf, &log);
	assert_string_equal(str(&log), "not json at all\n"
	    "Plan: 1 to add, 0 to change, 0 to destroy.\n");
	j = tfjson_json(&t);
	assert_int_equal(json_integer_value(json_object_get(j, "add")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "resources"), 0), "address")), "a.b");
	json_decref(j);
	tfjson_release(&t);
	buf_release(&log);
}

static void
test_ansible_exit_codes(void **state)
{
	static const struct {
		int		 code;
		const char	*cause;
	} cases[] = {
		{ 0, "exited 0" }, { 1, "exited 1: error" },
		{ 2, "exited 2: failed, or bad command line" },
		{ 4, "exited 4: the playbook could not be parsed" },
		{ 5, "exited 5: bad options" },
		{ 6, "exited 6: arguments are not UTF-8" },
		{ 8, "exited 8: a host failed and the play was stopped" },
		{ 99, "exited 99: interrupted" },
		{ 250, "exited 250: unexpected error in ansible-playbook" },
		{ 255, "exited 255: unknown error" },
	};
	struct recap	r;
	size_t		i;
	char		*s;

	(void)state;
	recap_init(&r);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s = recap_cause(&r, cases[i].code);
		assert_string_equal(s, cases[i].cause);
		free(s);
	}
	recap_release(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_terraform_json_and_junk),
		cmocka_unit_test(test_ansible_exit_codes),
	};
	char	*probe;
	FILE	*f;

	corpus = getenv("CORPUS_DIR");
	if (corpus != NULL) {
		probe = xasprintf("%s/CONTRACTS.md", corpus);
		if ((f = fopen(probe, "r")) == NULL) {
			printf("# corpus not found at %s: the capture tests are skipped\n",
			    corpus);
			corpus = NULL;
		} else
			fclose(f);
		free(probe);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
