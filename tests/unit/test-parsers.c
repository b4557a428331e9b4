/*
 * Golden tests of the readers of Terraform's -json output and of
 * ansible-playbook's output, against the real captures in
 * ../shared/corpus (Terraform 1.11.4, ansible-core): every capture of
 * the kind is read, and these expectations come from reading the
 * captures by hand.  Skipped, saying so, where the corpus is absent.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "recap.h"
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

/* Read a capture, in chunks of n bytes. */
static void
tf_read(struct tfjson *t, struct buf *log, const char *name, size_t n)
{
	char	*rel = xasprintf("terraform/out/%s.stdout", name), *data;
	size_t	 len, i;

	data = slurp(rel, &len);
	tfjson_init(t);
	for (i = 0; i < len; i += n)
		tfjson_feed(t, data + i, len - i < n ? len - i : n, to_buf,
		    log);
	tfjson_finish(t, to_buf, log);
	free(data);
	free(rel);
}

static const struct {
	const char	*capture;
	const char	*summary;	/* NULL: none */
	const char	*changes;	/* "action addr;..." */
	const char	*cause;		/* NULL: none; else a prefix */
	const char	*logged;	/* a line the log must have */
} tf_cases[] = {
	{ "ok-05-plan-json-detailed", "3 to add, 0 to change, 0 to destroy",
	    "create terraform_data.app;create terraform_data.config[1];"
	    "create terraform_data.config[0];", NULL,
	    "Plan: 3 to add, 0 to change, 0 to destroy." },
	{ "ok-11-plan-update-json-detailed",
	    "3 to add, 1 to change, 2 to destroy",
	    "update terraform_data.app;create terraform_data.config[2];"
	    "replace terraform_data.config[0];"
	    "replace terraform_data.config[1];", NULL, NULL },
	{ "ok-13-destroy-plan-json", "0 to add, 0 to change, 4 to destroy",
	    "delete terraform_data.config[1];delete terraform_data.config[0];"
	    "delete terraform_data.config[2];delete terraform_data.app;",
	    NULL, NULL },
	{ "ok-09-plan-nochange-json-detailed",
	    "0 to add, 0 to change, 0 to destroy", "", NULL, NULL },
	{ "novar-03-plan-var-ok-json", NULL, NULL, NULL, NULL },
	{ "lock-02-plan-json", NULL, "",
	    "the state is locked by root@vm (lock ID "
	    "6d768e6b-1afb-cc3f-5092-f1629dc2ee07)",
	    "Error: Error acquiring the state lock" },
	{ "applyfail-01-apply-json", "2 to add, 0 to change, 0 to destroy",
	    "create terraform_data.ok;create terraform_data.migrate;",
	    "local-exec provisioner error: Error running command", NULL },
	{ "novar-02-plan-json", NULL, "",
	    "No value for required variable: The root module input variable "
	    "\"region\" is not set", NULL },
	{ "noinit-02-plan-json", NULL, "", "", NULL },
	{ "err-04-plan-json-detailed", NULL, "", "", NULL },
	{ "ok-06-apply-json", "3 to add, 0 to change, 0 to destroy", NULL,
	    NULL, NULL },
	{ "ok-14-destroy-json", "0 to add, 0 to change, 4 to destroy", NULL,
	    NULL, NULL },
};

static void
test_terraform_captures(void **state)
{
	struct tfjson	 t, t1;
	struct buf	 log, log1, changes;
	size_t		 i, k;
	char		*s;

	(void)state;
	if (corpus == NULL)
		return;		/* said in main; cmocka's skip() is a TAP failure */
	for (i = 0; i < sizeof tf_cases / sizeof tf_cases[0]; i++) {
		buf_init(&log, 1 << 24);
		buf_init(&log1, 1 << 24);
		buf_init(&changes, 1 << 20);
		tf_read(&t, &log, tf_cases[i].capture, 1 << 20);
		/* The same, a byte at a time. */
		tf_read(&t1, &log1, tf_cases[i].capture, 1);
		assert_int_equal(log.len, log1.len);
		assert_memory_equal(str(&log), str(&log1), log.len);
		assert_int_equal(t.nchanges, t1.nchanges);

		s = tfjson_summary(&t);
		if (tf_cases[i].summary == NULL &&
		    strncmp(tf_cases[i].capture, "novar-03", 8) != 0)
			assert_null(s);
		else if (tf_cases[i].summary != NULL)
			assert_string_equal(s, tf_cases[i].summary);
		free(s);
		if (tf_cases[i].changes != NULL) {
			for (k = 0; k < t.nchanges; k++)
				buf_printf(&changes, "%s %s;",
				    t.changes[k].action, t.changes[k].address);
			assert_string_equal(str(&changes),
			    tf_cases[i].changes);
		}
		s = tfjson_cause(&t);
		if (tf_cases[i].cause == NULL)
			assert_null(s);
		else {
			assert_non_null(s);
			assert_memory_equal(s, tf_cases[i].cause,
			    strlen(tf_cases[i].cause));
		}
		free(s);
		if (tf_cases[i].logged != NULL)
			assert_non_null(strstr(str(&log), tf_cases[i].logged));
		/* No raw JSON reaches the log. */
		assert_null(strstr(str(&log), "\"@level\""));
		tfjson_release(&t);
		tfjson_release(&t1);
		buf_release(&log);
		buf_release(&log1);
		buf_release(&changes);
	}
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
recap_read(struct recap *r, const char *name, const char *stream)
{
	char	*rel = xasprintf("ansible/out/%s.%s", name, stream), *data;
	size_t	 len;

	data = slurp(rel, &len);
	recap_init(r);
	recap_feed(r, data, len);
	recap_finish(r);
	free(data);
	free(rel);
}

static void
test_ansible_captures(void **state)
{
	struct recap	 r;
	char		*s, *data;
	size_t		 len;

	(void)state;
	if (corpus == NULL)
		return;		/* said in main; cmocka's skip() is a TAP failure */
	recap_read(&r, "an-03-site-default", "stdout");
	s = recap_summary(&r);
	assert_string_equal(s,
	    "0 changed, 0 failed, 0 unreachable (4 ok, 1 skipped) on 1 host");
	free(s);
	recap_release(&r);

	recap_read(&r, "an-06-failing-default", "stdout");
	assert_int_equal(r.failed, 1);
	s = recap_cause(&r, 2);
	assert_string_equal(s, "exited 2: 1 host failed");
	free(s);
	recap_release(&r);

	recap_read(&r, "an-09-unreachable-default", "stdout");
	s = recap_cause(&r, 4);
	assert_string_equal(s, "exited 4: 1 host unreachable");
	free(s);
	recap_release(&r);

	recap_read(&r, "an-19-mixed-failed-unreachable-default", "stdout");
	assert_int_equal(r.hosts, 2);
	s = recap_cause(&r, 4);
	assert_string_equal(s, "exited 4: 1 host unreachable, some failed");
	free(s);
	recap_release(&r);

	recap_read(&r, "an-12-missing-playbook", "stderr");
	s = recap_cause(&r, 1);
	assert_string_equal(s, "exited 1: error: the playbook: "
	    "does-not-exist.yml could not be found");
	free(s);
	recap_release(&r);

	recap_read(&r, "an-10-syntax-error-json", "stderr");
	assert_false(r.seen);
	s = recap_cause(&r, 4);
	assert_string_equal(s, "exited 4: the playbook could not be parsed: "
	    "We were unable to read either as JSON nor YAML, these are the "
	    "errors we got from each:");
	free(s);
	recap_release(&r);

	/* The json callback's stats. */
	recap_init(&r);
	data = slurp("ansible/out/an-01-site-json.stdout", &len);
	assert_int_equal(recap_json(&r, data, len), 0);
	assert_int_equal(r.changed, 2);
	assert_int_equal(r.ok, 4);
	assert_int_equal(r.skipped, 1);
	free(data);
	recap_release(&r);
	recap_init(&r);
	data = slurp("ansible/out/an-18-mixed-failed-unreachable-json.stdout",
	    &len);
	assert_int_equal(recap_json(&r, data, len), 0);
	assert_int_equal(r.hosts, 2);
	assert_int_equal(r.failed, 1);
	assert_int_equal(r.unreachable, 1);
	free(data);
	recap_release(&r);
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
		{ 5, "exited 5: bad options" }, { 99, "exited 99: interrupted" },
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
		cmocka_unit_test(test_terraform_captures),
		cmocka_unit_test(test_terraform_json_and_junk),
		cmocka_unit_test(test_ansible_captures),
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
