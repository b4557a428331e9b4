/*
 * Unit tests of the ledger's rendering, on a real store: the status file
 * exactly as written (field names of DESIGN.md section 7), strings that
 * YAML would read as something else, secret outputs left out, the last
 * finished run rather than the one under way, logs whole under the cap and
 * head, marker and tail past it, commit messages; and the store's marks
 * (sequence, clearing, the marks a restart leaves for interrupted runs).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger.h"
#include "store.h"
#include "testutil-store.h"
#include "xmalloc.h"
#include "ydoc.h"

#define C1	"1111111111111111111111111111111111111111"
#define C2	"2222222222222222222222222222222222222222"

/* A deployment applied by one finished run, with outputs. */
static int64_t
applied(struct tu_store *f, const char *name, const char *outputs,
    int64_t *run)
{
	int64_t	id;

	id = tu_store_deployment(f, name);
	assert_int_equal(store_deployment_set_desired(f->s, id, "web",
	    "prod", C2, "fp2", false), 0);
	assert_int_equal(store_run_insert(f->s, id, "apply", "poll", C1,
	    "fp1", run), 0);
	assert_int_equal(store_run_start(f->s, *run), 0);
	assert_int_equal(store_run_finish(f->s, *run, "succeeded", 0,
	    "exited 0", outputs), 0);
	assert_int_equal(store_deployment_set_applied(f->s, id, C1, "fp1",
	    outputs), 0);
	assert_int_equal(store_deployment_set_phase(f->s, id, "ready", *run,
	    "applied", NULL), 0);
	return (id);
}

static char *
render(struct tu_store *f, int64_t id, int64_t *run)
{
	struct store_deployment	 d;
	struct buf		 b;

	assert_int_equal(store_deployment_get_by_id(f->s, id, &d), 0);
	buf_init(&b, 4 * 1024 * 1024);
	assert_int_equal(ledger_render_status(f->s, &d, &b, run), 0);
	store_deployment_release(&d);
	return (buf_detach(&b));
}

static void
test_status_exact(void **state)
{
	struct tu_store	*f = *state;
	int64_t		 id, run, got;
	char		*text, *sql;

	id = applied(f, "web", "{\"address\":\"10.0.0.1\",\"count\":3}",
	    &run);
	/* Fixed times, for exact output. */
	sql = xasprintf("UPDATE deployments SET applied_at = 1764612000000"
	    " WHERE id = %lld; UPDATE runs SET started_at = 1764611940000,"
	    " finished_at = 1764611999500 WHERE id = %lld", (long long)id,
	    (long long)run);
	tu_db_exec_file(f->path, sql);
	free(sql);
	text = render(f, id, &got);
	assert_int_equal(got, run);
	assert_string_equal(text,
	    "# Status of deployment web, written by cloudsphered (cloudspherectl show web --json has the same fields).\n"
	    "name: web\n"
	    "repository: infra\n"
	    "phase: ready\n"
	    "blueprint: web\n"
	    "environment: prod\n"
	    "suspended: false\n"
	    "desired:\n"
	    "  commit: \"" C2 "\"\n"
	    "  fingerprint: fp2\n"
	    "applied:\n"
	    "  commit: \"" C1 "\"\n"
	    "  fingerprint: fp1\n"
	    "  at: \"2025-12-01T18:00:00.000Z\"\n"
	    "last_run:\n"
	    "  id: 1\n"
	    "  action: apply\n"
	    "  result: succeeded\n"
	    "  exit_code: 0\n"
	    "  cause: exited 0\n"
	    "  started_at: \"2025-12-01T17:59:00.000Z\"\n"
	    "  finished_at: \"2025-12-01T17:59:59.500Z\"\n"
	    "outputs:\n"
	    "  address: \"10.0.0.1\"\n"
	    "  count: 3\n"
	    "plan: null\n");
	free(text);
}

static const struct ynode *
get(const struct ynode *map, const char *key)
{
	const struct ynode	*n = ynode_get(map, key);

	if (n == NULL)
		fail_msg("no key '%s'", key);
	return (n);
}

/* Every string reads back as the same string, never as another type. */
static void
test_status_strings(void **state)
{
	static const char *const tricky[] = { "yes", "No", "null", "~", "123",
	    "0x1F", "1e5", "-", "- x", "", " lead", "trail ", "a: b", "#x",
	    "x #y", "line1\nline2", "tab\there", "quote\"s", "back\\slash",
	    "caf\xc3\xa9", "\x01" "ctl", "[1]", "{a: 1}", "&anchor", "*alias",
	    "!tag", "%pct", "@at", "`tick", "2026-01-01", ".inf", "true",
	    "plain words" };
	struct tu_store		*f = *state;
	const struct ynode	*outs, *v, *n;
	struct ynode		*root;
	json_t			*o = json_object();
	char			*dump, *text, *cause = NULL, key[16];
	int64_t			 id, run, got;
	size_t			 i;
	int			 line;

	for (i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
		snprintf(key, sizeof key, "k%zu", i);
		json_object_set_new(o, key, json_string(tricky[i]));
	}
	json_object_set_new(o, "yes", json_integer(-7));	/* a key too */
	json_object_set_new(o, "real", json_real(0.5));
	json_object_set_new(o, "on", json_true());
	json_object_set_new(o, "none", json_null());
	json_object_set_new(o, "list", json_pack("[s i [] {}]", "1", 2));
	json_object_set_new(o, "map", json_pack("{s{ss}}", "a", "b", "no"));
	dump = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	id = applied(f, "tricky", dump, &run);
	free(dump);
	assert_int_equal(store_deployment_set_phase(f->s, id, "failed", 0,
	    "x", "error: \"quoted\"\nsecond line"), 0);
	text = render(f, id, &got);
	if (ydoc_parse(&root, text, strlen(text), &cause, &line) != 0)
		fail_msg("%s:%d: %s\n%s", "status", line, cause, text);
	assert_string_equal(get(root, "cause")->text,
	    "error: \"quoted\"\nsecond line");
	outs = get(root, "outputs");
	for (i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
		snprintf(key, sizeof key, "k%zu", i);
		v = get(outs, key);
		assert_int_equal(v->kind, YNODE_SCALAR);
		assert_int_equal(v->len, strlen(tricky[i]));
		assert_memory_equal(v->text, tricky[i], v->len);
		if (strcmp(tricky[i], "plain words") == 0)
			assert_true(v->plain);
		else if (strchr("0123456789-~.tnNy", tricky[i][0]) != NULL ||
		    tricky[i][0] == '\0')
			assert_false(v->plain);	/* would read as non-string */
	}
	v = get(outs, "yes");
	assert_true(v->plain);
	assert_string_equal(v->text, "-7");
	assert_string_equal(get(outs, "real")->text, "0.5");
	assert_true(get(outs, "on")->plain);
	assert_string_equal(get(outs, "on")->text, "true");
	assert_string_equal(get(outs, "none")->text, "null");
	n = get(outs, "list");
	assert_int_equal(n->kind, YNODE_SEQ);
	assert_int_equal(n->n, 4);
	assert_false(n->items[0]->plain);	/* the string "1" */
	assert_true(n->items[1]->plain);
	assert_int_equal(n->items[2]->kind, YNODE_SEQ);
	assert_int_equal(n->items[3]->kind, YNODE_MAP);
	assert_false(get(get(get(outs, "map"), "a"), "b")->plain);
	ynode_free(root);
	free(text);
	free(cause);
}

/* Secret outputs (stored as "***") stay out; inputs are never written. */
static void
test_status_secrets(void **state)
{
	struct tu_store		*f = *state;
	struct ynode		*root;
	const struct ynode	*outs;
	char			*text, *cause = NULL;
	int64_t			 id, run, got;
	int			 line;

	id = applied(f, "sec",
	    "{\"password\":\"***\",\"url\":\"https://u:***@h/\",\"n\":1}", &run);
	text = render(f, id, &got);
	assert_int_equal(ydoc_parse(&root, text, strlen(text), &cause, &line),
	    0);
	outs = get(root, "outputs");
	assert_null(ynode_get(outs, "password"));
	assert_string_equal(get(outs, "url")->text, "https://u:***@h/");
	assert_string_equal(get(outs, "n")->text, "1");
	assert_null(ynode_get(root, "inputs"));
	ynode_free(root);
	free(text);
}

/* last_run: the newest finished run, not the one under way; or null. */
static void
test_status_last_finished(void **state)
{
	struct tu_store		*f = *state;
	struct ynode		*root;
	const struct ynode	*last;
	char			*text, *cause = NULL;
	int64_t			 id, run, next, got, fresh;
	int			 line;

	id = applied(f, "busy", "{}", &run);
	assert_int_equal(store_run_insert(f->s, id, "destroy", "cli", C2,
	    "fp2", &next), 0);
	assert_int_equal(store_run_start(f->s, next), 0);
	assert_int_equal(store_deployment_set_phase(f->s, id, "destroying",
	    next, "asked", NULL), 0);
	text = render(f, id, &got);
	assert_int_equal(got, run);
	assert_int_equal(ydoc_parse(&root, text, strlen(text), &cause, &line),
	    0);
	assert_string_equal(get(root, "phase")->text, "destroying");
	last = get(root, "last_run");
	assert_string_equal(get(last, "id")->text, "1");
	assert_string_equal(get(last, "action")->text, "apply");
	assert_int_equal(get(root, "outputs")->kind, YNODE_MAP);
	assert_int_equal(get(root, "outputs")->n, 0);
	ynode_free(root);
	free(text);

	assert_int_equal(store_deployment_ensure(f->s, f->repo, "fresh",
	    &fresh), 0);
	text = render(f, fresh, &got);
	assert_int_equal(got, 0);
	assert_non_null(strstr(text, "\nphase: pending\n"));
	assert_non_null(strstr(text, "\nlast_run: null\n"));
	assert_non_null(strstr(text, "  commit: null\n"));
	free(text);
}

static int64_t
logged_run(struct tu_store *f, const char *name)
{
	int64_t	id = tu_store_deployment(f, name), run;

	assert_int_equal(store_run_insert(f->s, id, "apply", "poll", C1,
	    "fp", &run), 0);
	assert_int_equal(store_run_start(f->s, run), 0);
	return (run);
}

static void
test_log_whole(void **state)
{
	struct tu_store	*f = *state;
	struct buf	 b;
	int64_t		 run = logged_run(f, "small");
	static const char part1[] = "first line\n", part2[] = "token=***\n";
	char		 bin[3] = { 'a', '\0', 'b' };

	assert_int_equal(store_log_append(f->s, run, part1, strlen(part1)), 0);
	assert_int_equal(store_log_append(f->s, run, bin, sizeof bin), 0);
	assert_int_equal(store_log_append(f->s, run, part2, strlen(part2)), 0);
	buf_init(&b, LEDGER_LOG_MAX + 1);
	assert_int_equal(ledger_render_log(f->s, run, LEDGER_LOG_MAX, &b), 0);
	assert_int_equal(b.len, strlen(part1) + sizeof bin + strlen(part2));
	assert_memory_equal(b.data, "first line\na\0btoken=***\n", b.len);
	buf_release(&b);

	/* A run without output: an empty log. */
	run = logged_run(f, "quiet");
	buf_init(&b, 16);
	assert_int_equal(ledger_render_log(f->s, run, LEDGER_LOG_MAX, &b), 0);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

/* Past the cap: whole lines of head and tail, a marker that counts. */
static void
test_log_capped(void **state)
{
	struct tu_store	*f = *state;
	struct buf	 b, all;
	int64_t		 run = logged_run(f, "chatty");
	size_t		 i, skipped, head, tail;
	char		 line[64], *m, *end;
	int		 n;

	buf_init(&all, 8 * 1024 * 1024);
	store_begin(f->s);
	for (i = 0; i < 40000; i++) {
		n = snprintf(line, sizeof line, "line %06zu of the log\n", i);
		assert_int_equal(store_log_append(f->s, run, line, (size_t)n),
		    0);
		buf_add(&all, line, (size_t)n);
	}
	assert_int_equal(store_commit(f->s), 0);
	assert_true(all.len > LEDGER_LOG_MAX);
	buf_init(&b, LEDGER_LOG_MAX * 2);
	assert_int_equal(ledger_render_log(f->s, run, LEDGER_LOG_MAX, &b), 0);
	assert_true(b.len <= LEDGER_LOG_MAX);
	assert_true(b.len > LEDGER_LOG_MAX - 8192);
	assert_memory_equal(b.data, "line 000000 of the log\n", 23);
	assert_true(b.len > 23 && memcmp(b.data + b.len - 23,
	    "line 039999 of the log\n", 23) == 0);
	m = strstr(b.data, "\n[cloudsphere: ");
	assert_non_null(m);
	assert_true((size_t)(m - b.data) <= LEDGER_LOG_HEAD);
	assert_true(m[-1] == '\n');		/* the head ends a line */
	skipped = strtoul(m + 15, NULL, 10);
	assert_non_null(strstr(m, "cloudspherectl log 1 has them all]\n"));
	end = strstr(m + 1, "]\n") + 2;
	assert_memory_equal(end, "line ", 5);	/* the tail starts one */
	head = (size_t)(m - b.data);
	tail = b.len - (size_t)(end - b.data);
	assert_int_equal(head + skipped + tail, all.len);
	assert_memory_equal(b.data, all.data, head);
	assert_memory_equal(end, all.data + all.len - tail, tail);
	buf_release(&b);

	/* Exactly at the cap: whole, no marker. */
	buf_init(&b, all.len + 1);
	assert_int_equal(ledger_render_log(f->s, run, all.len, &b), 0);
	assert_int_equal(b.len, all.len);
	assert_memory_equal(b.data, all.data, all.len);
	buf_release(&b);
	buf_release(&all);
}

static void
test_message(void **state)
{
	char	*one[] = { "web: apply succeeded (1234567)" };
	char	*three[] = { "a: apply succeeded (1234567)",
	    "b: destroy failed (1234567)", "c: invalid (89abcde)" };
	char	*many[30], *msg;
	size_t	 i;

	(void)state;
	msg = ledger_message(one, 1);
	assert_string_equal(msg, "web: apply succeeded (1234567)\n");
	free(msg);
	msg = ledger_message(three, 3);
	assert_string_equal(msg, "3 deployments: a, b, c\n\n"
	    "a: apply succeeded (1234567)\nb: destroy failed (1234567)\n"
	    "c: invalid (89abcde)\n");
	free(msg);
	for (i = 0; i < 30; i++)
		many[i] = xasprintf("deployment-%02zu: apply succeeded", i);
	msg = ledger_message(many, 30);
	assert_true(strchr(msg, '\n') - msg <= 72);
	assert_non_null(strstr(msg, " more\n\n"));
	assert_non_null(strstr(msg, "\ndeployment-29: apply succeeded\n"));
	free(msg);
	for (i = 0; i < 30; i++)
		free(many[i]);
}

static void
test_marks(void **state)
{
	struct tu_store			*f = *state;
	struct store_ledger_mark	*v;
	size_t				 n, interrupted;
	int64_t				 a, b, run, other;

	assert_int_equal(store_deployment_ensure(f->s, f->repo, "a", &a), 0);
	assert_int_equal(store_deployment_ensure(f->s, f->repo, "b", &b), 0);
	assert_int_equal(store_ledger_mark(f->s, a, "a: one"), 0);
	assert_int_equal(store_ledger_mark(f->s, b, "b: one"), 0);
	assert_int_equal(store_ledger_mark(f->s, a, "a: two"), 0);
	assert_int_equal(store_ledger_marks(f->s, f->repo, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].deployment_id, b);
	assert_int_equal(v[1].deployment_id, a);
	assert_string_equal(v[1].line, "a: two");
	assert_true(v[1].seq > v[0].seq);
	/* A push of what a had at seq - 1 does not clear the newer mark. */
	assert_int_equal(store_ledger_clear(f->s, a, v[1].seq - 1), 0);
	assert_int_equal(store_ledger_count(f->s, f->repo, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_ledger_clear(f->s, a, v[1].seq), 0);
	assert_int_equal(store_ledger_clear(f->s, b, v[0].seq), 0);
	store_ledger_marks_free(v, 2);
	assert_int_equal(store_ledger_count(f->s, f->repo, &n), 0);
	assert_int_equal(n, 0);
	/* Marks are per repository; a mark of a missing deployment is none. */
	assert_int_equal(store_repository_upsert(f->s, "other", "/o", "main",
	    &other), 0);
	assert_int_equal(store_ledger_mark(f->s, 999, "x"), 0);
	assert_int_equal(store_ledger_count(f->s, 0, &n), 0);
	assert_int_equal(n, 0);

	/* A restart marks the deployments whose runs it interrupts. */
	assert_int_equal(store_run_insert(f->s, a, "apply", "poll", C2, "fp",
	    &run), 0);
	assert_int_equal(store_run_start(f->s, run), 0);
	assert_int_equal(store_deployment_set_phase(f->s, a, "applying", run,
	    "x", NULL), 0);
	assert_int_equal(store_recover(f->s, &interrupted), 0);
	assert_int_equal(interrupted, 1);
	assert_int_equal(store_ledger_marks(f->s, f->repo, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].deployment_id, a);
	assert_string_equal(v[0].line, "a: apply interrupted (2222222)");
	store_ledger_marks_free(v, n);
	/* Forgetting a deployment forgets its mark. */
	assert_int_equal(store_deployment_delete(f->s, a), 0);
	assert_int_equal(store_ledger_count(f->s, 0, &n), 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_STORE_TEST(test_status_exact),
		TU_STORE_TEST(test_status_strings),
		TU_STORE_TEST(test_status_secrets),
		TU_STORE_TEST(test_status_last_finished),
		TU_STORE_TEST(test_log_whole),
		TU_STORE_TEST(test_log_capped),
		cmocka_unit_test(test_message),
		TU_STORE_TEST(test_marks),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
