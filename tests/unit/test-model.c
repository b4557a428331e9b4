/*
 * Unit tests of the model: input precedence, resolution, fingerprints,
 * incremental loading, and the directory source against the Git source.
 * Repositories are real folders and real Git repositories.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"
#include "xmalloc.h"

static const char *const argv_add[] = { "git", "add", "-A", NULL };
static const char *const argv_commit[] = { "git", "-c", "user.name=t", "-c",
    "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "test", NULL };

static void
write_repo(const char *dir)
{
	tu_write(dir, "blueprints/net/blueprint.yaml",
	    "provider: script\n"
	    "outputs: [subnet_id, zones, count]\n"
	    "script: { command: ./deploy }\n", 0);
	tu_write(dir, "blueprints/net/deploy", "#!/bin/sh\n", 0755);
	tu_write(dir, "blueprints/web/blueprint.yaml",
	    "provider: script\n"
	    "inputs:\n"
	    "  region: { type: string, default: bp-default }\n"
	    "  size: { type: string, default: bp-default }\n"
	    "  tier: { type: string, default: bp-default }\n"
	    "  name: { type: string, default: bp-default }\n"
	    "  replicas: { type: number, required: true }\n"
	    "  password: { type: string, secret: true }\n"
	    "  subnet: string\n"
	    "  zones: list\n"
	    "  label: string\n"
	    "  optional: string\n"
	    "outputs: [address]\n"
	    "script: { command: ./deploy }\n", 0);
	tu_write(dir, "blueprints/web/deploy", "#!/bin/sh\n", 0755);
	tu_write(dir, "environments/prod.yaml",
	    "runner: { env: { TOKEN: \"${{ secrets.api_token }}\", PLAIN: x } }\n"
	    "inputs: { region: env, size: env, tier: env, not_declared: 1 }\n"
	    "policy: { approval: manual, prune: true }\n", 0);
	tu_write(dir, "templates/small.yaml",
	    "inputs: { size: template, tier: template }\n", 0);
	tu_write(dir, "deployments/net.yaml",
	    "blueprint: net\nenvironment: prod\n", 0);
	tu_write(dir, "deployments/web.yaml",
	    "blueprint: web\n"
	    "environment: prod\n"
	    "template: small\n"
	    "inputs:\n"
	    "  tier: deployment\n"
	    "  replicas: 3\n"
	    "  password: ${{ secrets.db_password }}\n"
	    "  subnet: ${{ deployments.net.outputs.subnet_id }}\n"
	    "  zones: ${{ deployments.net.outputs.zones }}\n"
	    "  label: \"${{ deployment.name }}/${{ environment.name }}/n=${{ deployments.net.outputs.count }}\"\n"
	    "policy: { approval: auto }\n", 0);
}

static struct model *
load_dir(const char *dir)
{
	struct source	*src;
	struct model	*m;
	char		*cause;

	if (source_dir_open(&src, dir, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(model_load(&m, src, NULL, NULL, &cause), 0);
	source_free(src);
	return (m);
}

static struct model *
load_git(const char *dir, const char *rev, struct model_cache *cache,
    const struct model *prev)
{
	struct source	*src;
	struct model	*m;
	char		*cause;

	if (source_git_open(&src, dir, rev, NULL, &cause) != 0)
		fail_msg("%s", cause);
	assert_int_equal(model_load(&m, src, cache, prev, &cause), 0);
	source_free(src);
	return (m);
}

static void
commit(const char *dir)
{
	const char *init[] = { "git", "init", "-q", NULL };

	tu_run(dir, init);
	assert_int_equal(tu_run(dir, argv_add), 0);
	assert_int_equal(tu_run(dir, argv_commit), 0);
}

static int
fake_secret(void *arg, const char *name, char **value, char **cause)
{
	(void)arg;
	*cause = NULL;
	if (strcmp(name, "db_password") == 0) {
		*value = xstrdup("hunter2");
		return (0);
	}
	if (strcmp(name, "api_token") == 0) {
		*value = xstrdup("tok-123");
		return (0);
	}
	return (-ENOENT);
}

static json_t *
fake_output(void *arg, const char *dep, const char *out)
{
	(void)arg;
	if (strcmp(dep, "net") != 0)
		return (NULL);
	if (strcmp(out, "subnet_id") == 0)
		return (json_string("subnet-42"));
	if (strcmp(out, "zones") == 0)
		return (json_pack("[ss]", "a", "b"));
	if (strcmp(out, "count") == 0)
		return (json_integer(7));
	return (NULL);
}

static void
dump_diags(const struct model *m)
{
	size_t	i;

	for (i = 0; i < m->diags.n; i++)
		print_message("%s:%d: %s\n", m->diags.v[i].file,
		    m->diags.v[i].line, m->diags.v[i].message);
}

static void
test_precedence_and_resolution(void **state)
{
	struct resolver		 r = { .commit = "abc", .secret = fake_secret,
	    .output = fake_output };
	struct model		*m;
	struct deployment	*d;
	json_t			*in, *env;
	char			*dir = tu_mkdtemp(), *cause, *s;

	(void)state;
	write_repo(dir);
	m = load_dir(dir);
	dump_diags(m);
	assert_int_equal(m->diags.n, 0);
	d = model_deployment(m, "web");
	assert_non_null(d);
	assert_true(d->valid);
	/* Policy: environment, then the deployment's own keys. */
	assert_int_equal(d->policy.approval, APPROVAL_AUTO);
	assert_int_equal(d->policy.prune, 1);
	assert_int_equal(d->policy.drift_check, 0);
	/* Dependencies implied by output references. */
	assert_int_equal(d->nneeds, 1);
	assert_string_equal(m->deployments[d->needs[0]]->name, "net");

	assert_int_equal(model_resolve(&in, &env, d, &r, RESOLVE_REAL, &cause),
	    0);
	assert_string_equal(json_string_value(json_object_get(in, "region")),
	    "env");
	assert_string_equal(json_string_value(json_object_get(in, "size")),
	    "template");
	assert_string_equal(json_string_value(json_object_get(in, "tier")),
	    "deployment");
	assert_string_equal(json_string_value(json_object_get(in, "name")),
	    "bp-default");
	assert_null(json_object_get(in, "not_declared"));
	assert_null(json_object_get(in, "optional"));
	assert_int_equal(json_integer_value(json_object_get(in, "replicas")), 3);
	assert_string_equal(json_string_value(json_object_get(in, "password")),
	    "hunter2");
	assert_string_equal(json_string_value(json_object_get(in, "subnet")),
	    "subnet-42");
	/* A whole-value reference keeps the output's type. */
	assert_true(json_is_array(json_object_get(in, "zones")));
	assert_string_equal(json_string_value(json_object_get(in, "label")),
	    "web/prod/n=7");
	assert_string_equal(json_string_value(json_object_get(env, "TOKEN")),
	    "tok-123");
	json_decref(in);
	json_decref(env);

	/* Redacted: secrets hidden, the rest visible. */
	assert_int_equal(model_resolve(&in, &env, d, &r, RESOLVE_REDACTED,
	    &cause), 0);
	s = json_dumps(in, 0);
	assert_null(strstr(s, "hunter2"));
	assert_string_equal(json_string_value(json_object_get(in, "password")),
	    "***");
	free(s);
	s = json_dumps(env, 0);
	assert_null(strstr(s, "tok-123"));
	free(s);
	json_decref(in);
	json_decref(env);

	/* Real values need every reference. */
	r.output = NULL;
	assert_int_not_equal(model_resolve(&in, NULL, d, &r, RESOLVE_REAL,
	    &cause), 0);
	assert_non_null(strstr(cause, "not known yet"));
	free(cause);
	/* Redacted view without outputs: the expression stays. */
	assert_int_equal(model_resolve(&in, NULL, d, &r, RESOLVE_REDACTED,
	    &cause), 0);
	assert_string_equal(json_string_value(json_object_get(in, "subnet")),
	    "${{ deployments.net.outputs.subnet_id }}");
	json_decref(in);

	model_free(m);
	tu_rm_rf(dir);
	free(dir);
}

static void
fingerprint(char *out, const struct model *m, const char *name,
    const struct resolver *r)
{
	char	*cause;

	if (model_fingerprint(out, model_deployment(m, name), r, &cause) != 0)
		fail_msg("%s: %s", name, cause);
}

static void
test_fingerprints(void **state)
{
	unsigned char	 key1[] = "key-one", key2[] = "key-two";
	struct resolver	 r = { .commit = NULL, .secret = fake_secret,
	    .output = fake_output, .key = key1, .keylen = 7 };
	struct model	*m;
	char		 a[65], b[65], c[65], n1[65], n2[65];
	char		*dir = tu_mkdtemp();

	(void)state;
	write_repo(dir);
	m = load_dir(dir);
	fingerprint(a, m, "web", &r);
	fingerprint(n1, m, "net", &r);
	assert_int_equal(strlen(a), 64);
	fingerprint(b, m, "web", &r);
	assert_string_equal(a, b);		/* deterministic */
	r.key = key2;
	fingerprint(b, m, "web", &r);
	assert_string_not_equal(a, b);		/* secrets are keyed */
	r.key = key1;
	r.output = NULL;
	fingerprint(b, m, "web", &r);
	assert_string_not_equal(a, b);		/* upstream outputs count */
	r.output = fake_output;
	model_free(m);

	/* An input change moves only that deployment's fingerprint. */
	tu_write(dir, "deployments/web.yaml",
	    "blueprint: web\nenvironment: prod\ntemplate: small\n"
	    "inputs:\n  tier: deployment\n  replicas: 4\n"
	    "  password: ${{ secrets.db_password }}\n", 0);
	m = load_dir(dir);
	fingerprint(c, m, "web", &r);
	fingerprint(n2, m, "net", &r);
	assert_string_not_equal(a, c);
	assert_string_equal(n1, n2);
	model_free(m);

	/* A file of the blueprint changes its tree id, so the fingerprint. */
	tu_write(dir, "blueprints/web/extra.tf", "# new file\n", 0);
	m = load_dir(dir);
	fingerprint(b, m, "web", &r);
	assert_string_not_equal(b, c);
	fingerprint(n2, m, "net", &r);
	assert_string_equal(n1, n2);
	model_free(m);
	tu_rm_rf(dir);
	free(dir);
}

/* Both sources give the same diagnostics and the same fingerprints. */
static void
compare_sources(const char *dir)
{
	struct model	*dm, *gm;
	struct resolver	 r = { .commit = NULL };
	size_t		 i;
	char		 a[65], b[65];

	dm = load_dir(dir);
	gm = load_git(dir, NULL, NULL, NULL);
	assert_int_equal(dm->ndeployments, gm->ndeployments);
	assert_int_equal(dm->nblueprints, gm->nblueprints);
	assert_int_equal(dm->diags.n, gm->diags.n);
	for (i = 0; i < dm->diags.n; i++) {
		assert_string_equal(dm->diags.v[i].file, gm->diags.v[i].file);
		assert_int_equal(dm->diags.v[i].line, gm->diags.v[i].line);
		assert_string_equal(dm->diags.v[i].message,
		    gm->diags.v[i].message);
	}
	for (i = 0; i < dm->ndeployments; i++) {
		struct deployment *d = dm->deployments[i];
		struct deployment *g = model_deployment(gm, d->name);

		assert_non_null(g);
		assert_int_equal(d->valid, g->valid);
		if (!d->valid)
			continue;
		fingerprint(a, dm, d->name, &r);
		fingerprint(b, gm, d->name, &r);
		assert_string_equal(a, b);
	}
	model_free(dm);
	model_free(gm);
}

static void
test_dir_equals_git(void **state)
{
	char	*dir = tu_mkdtemp();

	(void)state;
	write_repo(dir);
	commit(dir);
	compare_sources(dir);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_example_dir_equals_git(void **state)
{
	const char	*srcdir = getenv("top_srcdir");
	char		*dir = tu_mkdtemp(), *from;
	const char	*cp[] = { "cp", "-a", NULL, NULL, NULL };
	struct model	*m;

	(void)state;
	from = xasprintf("%s/examples/config-repo/.", srcdir != NULL ?
	    srcdir : ".");
	cp[2] = from;
	cp[3] = dir;
	assert_int_equal(tu_run(NULL, cp), 0);
	m = load_dir(dir);
	dump_diags(m);
	assert_int_equal(m->diags.n, 0);
	assert_true(m->ndeployments >= 4);
	assert_true(m->nblueprints >= 3);
	model_free(m);
	commit(dir);
	compare_sources(dir);
	free(from);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_incremental(void **state)
{
	struct model_cache	*cache = model_cache_new();
	struct model		*m1, *m2, *fresh;
	struct resolver		 r = { .commit = NULL };
	size_t			 parsed, reused, relinked, i;
	char			*dir = tu_mkdtemp(), *name, *text, a[65], b[65];

	(void)state;
	write_repo(dir);
	for (i = 0; i < 50; i++) {
		name = xasprintf("deployments/w%02zu.yaml", i);
		text = xasprintf("blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: %zu, password: \"${{ secrets.p }}\" }\n", i);
		tu_write(dir, name, text, 0);
		free(name);
		free(text);
	}
	commit(dir);
	m1 = load_git(dir, NULL, cache, NULL);
	model_cache_stats(cache, &parsed, &reused, &relinked);
	assert_int_equal(parsed, 2 + 1 + 1 + 52);
	assert_int_equal(relinked, 52);

	tu_write(dir, "deployments/w07.yaml",
	    "blueprint: web\nenvironment: prod\n"
	    "inputs: { replicas: 700, password: \"${{ secrets.p }}\" }\n", 0);
	commit(dir);
	m2 = load_git(dir, NULL, cache, m1);
	model_cache_stats(cache, &parsed, &reused, &relinked);
	assert_int_equal(parsed, 1);		/* only the changed file */
	assert_int_equal(relinked, 1);		/* only its deployment */

	/* The incremental model is the one a fresh load gives. */
	fresh = load_git(dir, NULL, NULL, NULL);
	for (i = 0; i < fresh->ndeployments; i++) {
		const char *n = fresh->deployments[i]->name;

		fingerprint(a, fresh, n, &r);
		fingerprint(b, m2, n, &r);
		assert_string_equal(a, b);
	}
	fingerprint(a, m1, "w07", &r);
	fingerprint(b, m2, "w07", &r);
	assert_string_not_equal(a, b);

	/* A change to the environment relinks everyone using it. */
	model_free(m1);
	tu_write(dir, "environments/prod.yaml",
	    "inputs: { region: moved }\n", 0);
	commit(dir);
	m1 = load_git(dir, NULL, cache, m2);
	model_cache_stats(cache, &parsed, &reused, &relinked);
	assert_int_equal(parsed, 1);
	assert_int_equal(relinked, 52);
	model_free(m1);
	model_free(m2);
	model_free(fresh);
	model_cache_free(cache);
	tu_rm_rf(dir);
	free(dir);
}

/*
 * Two models of one commit are the same: diagnostics, deployments in
 * order, validity, causes, dependencies and fingerprints.
 */
static void
compare_models(const struct model *x, const struct model *y)
{
	struct resolver	 r = { .commit = NULL };
	size_t		 i, j;
	char		 a[65], b[65];

	assert_int_equal(x->diags.n, y->diags.n);
	for (i = 0; i < x->diags.n; i++) {
		assert_string_equal(x->diags.v[i].file, y->diags.v[i].file);
		assert_int_equal(x->diags.v[i].line, y->diags.v[i].line);
		assert_string_equal(x->diags.v[i].message,
		    y->diags.v[i].message);
	}
	assert_int_equal(x->ndeployments, y->ndeployments);
	for (i = 0; i < x->ndeployments; i++) {
		const struct deployment *d = x->deployments[i];
		const struct deployment *e = y->deployments[i];

		assert_string_equal(d->name, e->name);
		assert_int_equal(d->valid, e->valid);
		if (d->cause != NULL || e->cause != NULL) {
			assert_non_null(d->cause);
			assert_non_null(e->cause);
			assert_string_equal(d->cause, e->cause);
		}
		assert_int_equal(d->nneeds, e->nneeds);
		for (j = 0; j < d->nneeds; j++)
			assert_string_equal(x->deployments[d->needs[j]]->name,
			    y->deployments[e->needs[j]]->name);
		if (!d->valid)
			continue;
		fingerprint(a, x, d->name, &r);
		fingerprint(b, y, d->name, &r);
		assert_string_equal(a, b);
	}
}

/*
 * Loading a commit from the previous model (delta loading where it
 * applies) gives exactly what a fresh load gives, through a series of
 * changes that do and do not qualify for it.
 */
static void
test_delta_equals_full(void **state)
{
	static const struct {
		const char	*path;
		const char	*text;	/* NULL: remove the file */
		int		 shared; /* unchanged deployments shared? */
	} steps[] = {
		/* One input changed: shared. */
		{ "deployments/w03.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: 33, password: \"${{ secrets.p }}\" }\n",
		    1 },
		/* Broken YAML: only that deployment is invalid. */
		{ "deployments/w04.yaml", "blueprint: web\nenvironment: [\n", 0 },
		{ "deployments/w04.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: 4, password: \"${{ secrets.p }}\" }\n",
		    0 },
		/* An error in the file itself: shared. */
		{ "deployments/w05.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: x, password: \"${{ secrets.p }}\" }\n",
		    1 },
		/* New dependencies: a cycle w06 -> w07 -> w06. */
		{ "deployments/w06.yaml", "blueprint: web\nenvironment: prod\n"
		    "depends_on: [w07]\n"
		    "inputs: { replicas: 6, password: \"${{ secrets.p }}\" }\n",
		    0 },
		{ "deployments/w07.yaml", "blueprint: web\nenvironment: prod\n"
		    "depends_on: [w06]\n"
		    "inputs: { replicas: 7, password: \"${{ secrets.p }}\" }\n",
		    0 },
		/* A change inside the cycle. */
		{ "deployments/w07.yaml", "blueprint: web\nenvironment: prod\n"
		    "depends_on: [w06]\n"
		    "inputs: { replicas: 77, password: \"${{ secrets.p }}\" }\n",
		    0 },
		/* Added, then removed. */
		{ "deployments/new.yaml", "blueprint: net\nenvironment: prod\n",
		    0 },
		{ "deployments/w01.yaml", NULL, 0 },
		/* A reference to an output that does not exist: shared. */
		{ "deployments/w08.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: 8, password: \"${{ secrets.p }}\",\n"
		    "  subnet: \"${{ deployments.net.outputs.nope }}\" }\n", 0 },
		{ "deployments/w09.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: 9, password: \"${{ secrets.p }}\",\n"
		    "  subnet: \"${{ deployments.net.outputs.subnet_id }}\" }\n",
		    0 },
		{ "deployments/w09.yaml", "blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: 99, password: \"${{ secrets.p }}\",\n"
		    "  subnet: \"${{ deployments.net.outputs.subnet_id }}\" }\n",
		    1 },
		/* Nothing the model reads: shared. */
		{ "README.md", "hello\n", 1 },
		{ "deployments/notes.txt", "not a deployment\n", 1 },
		/* The blueprint changes: everything is loaded again. */
		{ "blueprints/web/blueprint.yaml", "provider: script\n"
		    "inputs: { replicas: number, password: { secret: true },\n"
		    "  subnet: string }\n"
		    "script: { command: ./deploy }\n", 0 },
	};
	struct model_cache	*cache = model_cache_new();
	struct model		*prev, *next, *fresh;
	size_t			 i, k;
	char			*dir = tu_mkdtemp(), *name, *text, *path;

	(void)state;
	write_repo(dir);
	for (i = 0; i < 10; i++) {
		name = xasprintf("deployments/w%02zu.yaml", i);
		text = xasprintf("blueprint: web\nenvironment: prod\n"
		    "inputs: { replicas: %zu, password: \"${{ secrets.p }}\" }\n", i);
		tu_write(dir, name, text, 0);
		free(name);
		free(text);
	}
	commit(dir);
	prev = load_git(dir, NULL, cache, NULL);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (steps[i].text != NULL)
			tu_write(dir, steps[i].path, steps[i].text, 0);
		else {
			path = xasprintf("%s/%s", dir, steps[i].path);
			assert_int_equal(unlink(path), 0);
			free(path);
		}
		commit(dir);
		next = load_git(dir, NULL, cache, prev);
		fresh = load_git(dir, NULL, NULL, NULL);
		compare_models(next, fresh);
		if (steps[i].shared) {
			/* Every deployment but the changed one is shared. */
			for (k = 0; k < next->ndeployments; k++) {
				if (strcmp(next->deployments[k]->file,
				    steps[i].path) == 0)
					assert_ptr_not_equal(
					    next->deployments[k],
					    prev->deployments[k]);
				else
					assert_ptr_equal(next->deployments[k],
					    prev->deployments[k]);
			}
		}
		model_free(fresh);
		model_free(prev);
		prev = next;
	}
	model_free(prev);
	model_cache_free(cache);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_invalid_never_hides_valid(void **state)
{
	struct model	*m;
	char		*dir = tu_mkdtemp();

	(void)state;
	write_repo(dir);
	tu_write(dir, "deployments/broken.yaml", "blueprint: [\n", 0);
	tu_write(dir, "deployments/typo.yaml",
	    "blueprint: web\nenvironment: prod\ninputs: { replicas: many }\n", 0);
	m = load_dir(dir);
	assert_int_equal(m->ndeployments, 4);
	/* A file that does not parse is still a deployment: never pruned. */
	assert_non_null(model_deployment(m, "broken"));
	assert_false(model_deployment(m, "broken")->valid);
	assert_false(model_deployment(m, "typo")->valid);
	assert_non_null(model_deployment(m, "typo")->cause);
	assert_non_null(strstr(model_deployment(m, "typo")->cause,
	    "deployments/typo.yaml:3: input 'replicas' must be a number"));
	assert_true(model_deployment(m, "web")->valid);
	assert_true(model_deployment(m, "net")->valid);
	assert_int_equal(model_invalid_count(m), 2);
	model_free(m);
	tu_rm_rf(dir);
	free(dir);
}

static void
test_durations_and_names(void **state)
{
	(void)state;
	assert_int_equal(model_duration("30s"), 30);
	assert_int_equal(model_duration("1h30m"), 5400);
	assert_int_equal(model_duration("2d"), 172800);
	assert_int_equal(model_duration(""), -1);
	assert_int_equal(model_duration("10"), -1);
	assert_int_equal(model_duration("1x"), -1);
	assert_int_equal(model_duration("-5m"), -1);
	assert_int_equal(model_duration("99999999999s"), -1);
	assert_true(model_name_valid("a"));
	assert_true(model_name_valid("0-web-1"));
	assert_false(model_name_valid("-web"));
	assert_false(model_name_valid("Web"));
	assert_false(model_name_valid("web_1"));
	assert_false(model_name_valid(""));
	assert_true(model_name_valid(
	    "a23456789012345678901234567890123456789012345678901234567890123"));
	assert_false(model_name_valid(
	    "a234567890123456789012345678901234567890123456789012345678901234"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precedence_and_resolution),
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_dir_equals_git),
		cmocka_unit_test(test_example_dir_equals_git),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_delta_equals_full),
		cmocka_unit_test(test_invalid_never_hides_valid),
		cmocka_unit_test(test_durations_and_names),
	};

	return (cmocka_run_group_tests_name("model", tests, NULL, NULL));
}
