/*
 * Unit tests of the engine's fingerprint memo (reconciler/engine-memo.c):
 * over real Git commits loaded one from the other, every fingerprint it
 * gives must be the one model_fingerprint computes, and it must compute
 * again exactly what can have changed: a deployment whose file changed,
 * every deployment after a blueprint changed, a deployment using a secret
 * once the secrets folder changed, a deployment using an upstream output
 * once that output's value changed, and every time one using git.commit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine-memo.h"
#include "model.h"
#include "secrets.h"
#include "source.h"
#include "testutil.h"
#include "xmalloc.h"

#define NPLAIN	8

struct ctx {
	char			*dir;		/* the repository */
	char			*secrets;
	struct model_cache	*cache;
	struct model		*cur, *prev;
	struct engine_memo	*memo;
	unsigned char		 key[32];
	const char		*outval;	/* what upstreams output */
};

static int
ctx_secret(void *arg, const char *name, char **value, char **cause)
{
	struct ctx	*c = arg;

	return (secrets_read(c->secrets, name, value, cause));
}

static json_t *
ctx_output(void *arg, const char *dep, const char *output)
{
	struct ctx	*c = arg;
	char		*s = xasprintf("%s.%s=%s", dep, output, c->outval);
	json_t		*v = json_string(s);

	free(s);
	return (v);
}

static void
commit_all(const char *dir, const char *msg)
{
	const char *add[] = { "git", "add", "-A", NULL };
	const char *ci[] = { "git", "-c", "user.name=t", "-c",
	    "user.email=t@t", "commit", "-q", "--allow-empty", "-m", msg,
	    NULL };

	assert_int_equal(tu_run(dir, add), 0);
	assert_int_equal(tu_run(dir, ci), 0);
}

static void
write_secret(struct ctx *c, const char *value)
{
	char	*path = xasprintf("%s/token", c->secrets);
	char	*tmp = xasprintf("%s/token.new", c->secrets);

	/* Replaced as an operator would: a new file, renamed in. */
	tu_write(c->secrets, "token.new", value, 0600);
	assert_int_equal(rename(tmp, path), 0);
	free(tmp);
	free(path);
}

static void
setup_repo(struct ctx *c)
{
	const char	*init[] = { "git", "init", "-q", "-b", "main", NULL };
	char		 path[64], text[256];
	int		 i;

	memset(c, 0, sizeof *c);
	c->dir = tu_mkdtemp();
	c->secrets = tu_mkdtemp();
	assert_int_equal(chmod(c->secrets, 0700), 0);
	write_secret(c, "one");
	for (i = 0; i < 32; i++)
		c->key[i] = (unsigned char)i;
	tu_write(c->dir, "blueprints/bp/blueprint.yaml",
	    "provider: script\n"
	    "inputs:\n"
	    "  value: { type: string, default: x }\n"
	    "  token: { type: string, default: \"\" }\n"
	    "  up: { type: string, default: \"\" }\n"
	    "  rev: { type: string, default: \"\" }\n"
	    "outputs: [id]\n"
	    "script: { command: ./deploy }\n", 0);
	tu_write(c->dir, "blueprints/bp/deploy", "#!/bin/sh\n", 0755);
	tu_write(c->dir, "environments/env.yaml", "description: e\n", 0);
	for (i = 0; i < NPLAIN; i++) {
		snprintf(path, sizeof path, "deployments/plain%d.yaml", i);
		snprintf(text, sizeof text,
		    "blueprint: bp\nenvironment: env\ninputs: { value: v%d }\n",
		    i);
		tu_write(c->dir, path, text, 0);
	}
	tu_write(c->dir, "deployments/secret.yaml",
	    "blueprint: bp\nenvironment: env\n"
	    "inputs: { token: \"${{ secrets.token }}\" }\n", 0);
	tu_write(c->dir, "deployments/output.yaml",
	    "blueprint: bp\nenvironment: env\n"
	    "inputs: { up: \"${{ deployments.plain0.outputs.id }}\" }\n", 0);
	tu_write(c->dir, "deployments/commit.yaml",
	    "blueprint: bp\nenvironment: env\n"
	    "inputs: { rev: \"${{ git.commit }}\" }\n", 0);
	assert_int_equal(tu_run(c->dir, init), 0);
	commit_all(c->dir, "one");
	c->cache = model_cache_new();
	c->memo = engine_memo_new();
	c->outval = "a";
}

static void
teardown_repo(struct ctx *c)
{
	engine_memo_free(c->memo);
	model_free(c->cur);
	model_free(c->prev);
	model_cache_free(c->cache);
	tu_rm_rf(c->dir);
	tu_rm_rf(c->secrets);
	free(c->dir);
	free(c->secrets);
}

/* Load HEAD from the current model, as the daemon's worker does. */
static void
load_head(struct ctx *c)
{
	struct source	*src;
	struct model	*m;
	char		*cause = NULL;

	if (source_git_open(&src, c->dir, "HEAD", NULL, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(model_load(&m, src, c->cache, c->cur, &cause), 0);
	source_free(src);
	assert_int_equal(m->diags.n, 0);
	/* engine_update: cur becomes prev, the memo is told first. */
	engine_memo_rotate(c->memo, c->cur);
	model_free(c->prev);
	c->prev = c->cur;
	c->cur = m;
}

/*
 * One pass over the current model: every fingerprint checked against
 * model_fingerprint; returns how many the memo computed.
 */
static size_t
pass(struct ctx *c, const char *commit)
{
	struct resolver	 res = { .commit = commit, .arg = c,
	    .secret = ctx_secret, .output = ctx_output, .key = c->key,
	    .keylen = sizeof c->key };
	char		 fp[MODEL_FINGERPRINT_LEN + 1];
	char		 want[MODEL_FINGERPRINT_LEN + 1];
	char		*cause = NULL;
	size_t		 i, reused0, computed0, reused, computed;

	engine_memo_stats(c->memo, &reused0, &computed0);
	engine_memo_begin(c->memo, c->secrets);
	for (i = 0; i < c->cur->ndeployments; i++) {
		const struct deployment *d = c->cur->deployments[i];

		assert_true(d->valid);
		assert_int_equal(engine_memo_fingerprint(c->memo, fp, d, &res,
		    &cause), 0);
		assert_int_equal(model_fingerprint(want, d, &res, &cause), 0);
		assert_string_equal(fp, want);
	}
	engine_memo_end(c->memo, c->cur, true);
	engine_memo_stats(c->memo, &reused, &computed);
	assert_int_equal((reused - reused0) + (computed - computed0),
	    c->cur->ndeployments);
	return (computed - computed0);
}

static void
test_memo(void **state)
{
	struct ctx	c;
	size_t		all = NPLAIN + 3;

	(void)state;
	setup_repo(&c);
	load_head(&c);
	assert_int_equal(pass(&c, "c1"), all);		/* nothing known */
	/* The same model again: only what always changes (git.commit). */
	assert_int_equal(pass(&c, "c1"), 1);

	/* The upstream's output changes: its user is computed again. */
	c.outval = "b";
	assert_int_equal(pass(&c, "c1"), 2);
	assert_int_equal(pass(&c, "c1"), 1);

	/* One deployment's file changes: it, and the one that always does. */
	tu_write(c.dir, "deployments/plain3.yaml",
	    "blueprint: bp\nenvironment: env\ninputs: { value: changed }\n", 0);
	commit_all(c.dir, "two");
	load_head(&c);
	assert_int_equal(pass(&c, "c2"), 2);

	/* A new commit that changes nothing. */
	commit_all(c.dir, "three");
	load_head(&c);
	assert_int_equal(pass(&c, "c3"), 1);

	/* The secret changes on the host: its user is computed again. */
	write_secret(&c, "two");
	assert_int_equal(pass(&c, "c3"), 2);
	assert_int_equal(pass(&c, "c3"), 1);

	/* A blueprint changes: every deployment is a new object. */
	tu_write(c.dir, "blueprints/bp/deploy", "#!/bin/sh\nexit 0\n", 0755);
	commit_all(c.dir, "four");
	load_head(&c);
	assert_int_equal(pass(&c, "c4"), all);

	/* Two models in a row without a pass: nothing of the older one. */
	tu_write(c.dir, "deployments/plain1.yaml",
	    "blueprint: bp\nenvironment: env\ninputs: { value: again }\n", 0);
	commit_all(c.dir, "five");
	load_head(&c);
	tu_write(c.dir, "deployments/plain2.yaml",
	    "blueprint: bp\nenvironment: env\ninputs: { value: again }\n", 0);
	commit_all(c.dir, "six");
	load_head(&c);
	assert_int_equal(pass(&c, "c6"), all);
	assert_int_equal(pass(&c, "c6"), 1);
	teardown_repo(&c);
}

/*
 * A pass over some deployments (engine-touch.c) keeps what it did not look
 * at; a forgotten deployment is computed again; the secrets folder is
 * told to have changed exactly when it did.
 */
static void
test_partial(void **state)
{
	struct ctx	 c;
	struct resolver	 res;
	char		 fp[MODEL_FINGERPRINT_LEN + 1];
	char		*cause = NULL;
	size_t		 all = NPLAIN + 3, i, n;
	size_t		 reused0, computed0, reused, computed;

	(void)state;
	setup_repo(&c);
	load_head(&c);
	res = (struct resolver){ .commit = "c1", .arg = &c,
	    .secret = ctx_secret, .output = ctx_output, .key = c.key,
	    .keylen = sizeof c.key };
	assert_int_equal(pass(&c, "c1"), all);
	for (i = 0, n = 0; i < c.cur->ndeployments; i++)
		if (engine_memo_every_commit(c.cur->deployments[i]))
			n++;
	assert_int_equal(n, 1);

	/* A pass over one deployment only. */
	engine_memo_stats(c.memo, &reused0, &computed0);
	engine_memo_begin(c.memo, c.secrets);
	assert_false(engine_memo_secrets_changed(c.memo));
	assert_int_equal(engine_memo_fingerprint(c.memo, fp,
	    c.cur->deployments[0], &res, &cause), 0);
	engine_memo_end(c.memo, c.cur, false);
	engine_memo_stats(c.memo, &reused, &computed);
	assert_int_equal(reused + computed - reused0 - computed0, 1);
	/* The others were kept: a whole pass computes only git.commit's. */
	assert_int_equal(pass(&c, "c1"), 1);

	/* Forgotten: computed again, the rest still known. */
	engine_memo_forget(c.memo, c.cur->deployments[1]->name);
	engine_memo_forget(c.memo, "no-such-deployment");
	n = engine_memo_every_commit(c.cur->deployments[1]) ? 1 : 2;
	assert_int_equal(pass(&c, "c1"), n);

	/* The secrets folder changes: told once, then not. */
	write_secret(&c, "three");
	engine_memo_begin(c.memo, c.secrets);
	assert_true(engine_memo_secrets_changed(c.memo));
	engine_memo_end(c.memo, c.cur, false);
	engine_memo_begin(c.memo, c.secrets);
	assert_false(engine_memo_secrets_changed(c.memo));
	engine_memo_end(c.memo, c.cur, false);
	teardown_repo(&c);
}

/* A secrets folder that is empty, missing, or none at all. */
static void
test_secrets_folders(void **state)
{
	struct engine_memo	*m = engine_memo_new();
	char			*dir = tu_mkdtemp(), *missing;

	(void)state;
	missing = xasprintf("%s/missing", dir);
	engine_memo_begin(m, dir);
	engine_memo_end(m, NULL, true);
	engine_memo_begin(m, missing);
	engine_memo_end(m, NULL, true);
	engine_memo_begin(m, NULL);
	engine_memo_end(m, NULL, true);
	engine_memo_free(m);
	tu_rm_rf(dir);
	free(dir);
	free(missing);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_secrets_folders),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
