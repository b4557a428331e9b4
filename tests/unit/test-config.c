/*
 * Unit tests of the daemon configuration (daemon/conf.c): a full file read
 * with its values and defaults, relative paths, each error with its exact
 * FILE:LINE: message, every error of one file reported together, and the
 * duration and size forms.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "diag.h"
#include "testutil.h"
#include "xmalloc.h"

struct fixture {
	char	*dir;
	char	*conf;		/* dir/cloudsphered.yaml */
};

static int
setup(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof *f);
	char		*secrets, *tmp;

	/* Resolved, as getcwd(3) would give it. */
	tmp = tu_mkdtemp();
	if ((f->dir = realpath(tmp, NULL)) == NULL)
		fail_msg("realpath %s: %s", tmp, strerror(errno));
	free(tmp);
	f->conf = xasprintf("%s/cloudsphered.yaml", f->dir);
	/* Private secret files, as an operator should make them. */
	tu_write(f->dir, "keys/deploy_key", "-----BEGIN KEY-----\n", 0600);
	tu_write(f->dir, "keys/git.token", "token\n", 0600);
	tu_write(f->dir, "keys/hook.secret", "hooksecret\n", 0600);
	tu_write(f->dir, "keys/forge.token", "forgetoken\n", 0600);
	tu_write(f->dir, "api.token", "apitoken\n", 0600);
	tu_write(f->dir, "open.token", "token\n", 0640);
	tu_write(f->dir, "empty.secret", "", 0600);
	tu_write(f->dir, "newline.secret", "\nsecond line\n", 0600);
	secrets = xasprintf("%s/secrets", f->dir);
	assert_int_equal(mkdir(secrets, 0700), 0);
	free(secrets);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	tu_rm_rf(f->dir);
	free(f->dir);
	free(f->conf);
	free(f);
	return (0);
}

/* A copy of s with each "@D" replaced by the fixture's folder. */
static char *
subst(const struct fixture *f, const char *s)
{
	struct buf	 b;
	const char	*at;

	buf_init(&b, 1024 * 1024);
	while ((at = strstr(s, "@D")) != NULL) {
		assert_int_equal(buf_add(&b, s, (size_t)(at - s)), 0);
		assert_int_equal(buf_addstr(&b, f->dir), 0);
		s = at + 2;
	}
	assert_int_equal(buf_addstr(&b, s), 0);
	return (buf_detach(&b));
}

/* Write the configuration (with @D substituted) and load it. */
static int
load(const struct fixture *f, const char *yaml, struct config **out,
    struct diags *errs)
{
	char	*text = subst(f, yaml);

	tu_write(f->dir, "cloudsphered.yaml", text, 0644);
	free(text);
	return (config_load(out, f->conf, errs));
}

/* The errors of a configuration as "FILE:LINE: message" lines. */
static char *
errors_of(const struct fixture *f, const char *yaml)
{
	struct config	*c = NULL;
	struct diags	 errs;
	struct buf	 b;
	char		*line;
	size_t		 i;
	int		 error;

	diags_init(&errs);
	error = load(f, yaml, &c, &errs);
	assert_null(c);
	assert_int_not_equal(error, 0);
	assert_true(errs.n > 0);
	buf_init(&b, 1024 * 1024);
	for (i = 0; i < errs.n; i++) {
		line = diag_format(&errs.v[i]);
		assert_int_equal(buf_printf(&b, "%s\n", line), 0);
		free(line);
	}
	diags_release(&errs);
	return (buf_detach(&b));
}

static void
assert_errors(const struct fixture *f, const char *yaml, const char *want)
{
	char	*got = errors_of(f, yaml), *exp = subst(f, want);

	if (strcmp(got, exp) != 0)
		fail_msg("for\n%s\nexpected\n%sgot\n%s", yaml, exp, got);
	free(got);
	free(exp);
}

/* got is the fixture's folder followed by "/rel". */
static void
assert_below(const struct fixture *f, const char *got, const char *rel)
{
	char	*want = xasprintf("%s/%s", f->dir, rel);

	assert_string_equal(got, want);
	free(want);
}

static void
test_config_full(void **state)
{
	struct fixture		*f = *state;
	struct config		*c = NULL;
	struct config_repo	*r;
	struct diags		 errs;

	diags_init(&errs);
	assert_int_equal(load(f,
	    "state_dir: state\n"
	    "listen: 127.0.0.1:8480\n"
	    "control_socket: /run/cs/control.sock\n"
	    "api_token_file: api.token\n"
	    "secrets_dir: @D/secrets\n"
	    "max_parallel_runs: 8\n"
	    "prune_limit: 0\n"
	    "shutdown_grace: 2m\n"
	    "retry_min: 10s\n"
	    "retry_max: 2h\n"
	    "log_max_bytes: 1MiB\n"
	    "repositories:\n"
	    "  - name: infra\n"
	    "    url: git@git.example.com:ops/infra.git\n"
	    "    branch: release/2026\n"
	    "    path: envs/prod\n"
	    "    poll_interval: 1h30m\n"
	    "    auth: { ssh_key: keys/deploy_key, token_file: keys/git.token }\n"
	    "    webhook: { forge: github, secret_file: keys/hook.secret, tags: true }\n"
	    "    forge:\n"
	    "      kind: gitea\n"
	    "      api_url: https://git.example.com/api/v1\n"
	    "      project: ops/infra\n"
	    "      token_file: @D/keys/forge.token\n"
	    "    ledger_branch: \"\"\n"
	    "    pull_requests: { plan: false, forks: true }\n"
	    "  - name: local-2\n"
	    "    url: /srv/git/local.git\n"
	    "    poll_interval: 0\n", &c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	assert_string_equal(c->file, f->conf);
	assert_below(f, c->state_dir, "state");
	assert_string_equal(c->listen, "127.0.0.1:8480");
	assert_string_equal(c->control_socket, "/run/cs/control.sock");
	assert_below(f, c->api_token_file, "api.token");
	assert_below(f, c->secrets_dir, "secrets");
	assert_int_equal(c->max_parallel_runs, 8);
	assert_int_equal(c->prune_limit, 0);
	assert_int_equal(c->shutdown_grace, 120);
	assert_int_equal(c->retry_min, 10);
	assert_int_equal(c->retry_max, 7200);
	assert_int_equal(c->log_max_bytes, 1024 * 1024);
	assert_int_equal(c->nrepos, 2);

	r = &c->repos[0];
	assert_string_equal(r->name, "infra");
	assert_string_equal(r->url, "git@git.example.com:ops/infra.git");
	assert_int_equal(r->url_kind, CONFIG_URL_SCP);
	assert_string_equal(r->branch, "release/2026");
	assert_string_equal(r->path, "envs/prod");
	assert_int_equal(r->poll_interval, 5400);
	assert_below(f, r->ssh_key, "keys/deploy_key");
	assert_below(f, r->token_file, "keys/git.token");
	assert_string_equal(r->webhook_forge, "github");
	assert_below(f, r->webhook_secret_file, "keys/hook.secret");
	assert_true(r->webhook_tags);
	assert_string_equal(r->forge_kind, "gitea");
	assert_string_equal(r->forge_api_url,
	    "https://git.example.com/api/v1");
	assert_string_equal(r->forge_project, "ops/infra");
	assert_below(f, r->forge_token_file, "keys/forge.token");
	assert_string_equal(r->ledger_branch, "");
	assert_false(r->pr_plan);
	assert_true(r->pr_forks);
	assert_int_equal(r->line, 13);

	r = &c->repos[1];
	assert_string_equal(r->name, "local-2");
	assert_int_equal(r->url_kind, CONFIG_URL_LOCAL);
	assert_int_equal(r->poll_interval, 0);
	assert_int_equal(r->line, 27);
	config_free(c);
	diags_release(&errs);
}

static void
test_config_defaults(void **state)
{
	struct fixture		*f = *state;
	struct config		*c = NULL;
	struct config_repo	*r;
	struct diags		 errs;

	diags_init(&errs);
	assert_int_equal(load(f,
	    "repositories:\n"
	    "  - name: infra\n"
	    "    url: https://git.example.com/ops/infra.git\n", &c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->state_dir, LOCALSTATEDIR "/lib/cloudsphere");
	assert_string_equal(c->control_socket,
	    RUNSTATEDIR "/cloudsphere/control.sock");
	assert_null(c->listen);
	assert_null(c->api_token_file);
	assert_null(c->secrets_dir);
	assert_int_equal(c->max_parallel_runs, 4);
	assert_int_equal(c->prune_limit, 5);
	assert_int_equal(c->shutdown_grace, 30);
	assert_int_equal(c->retry_min, 30);
	assert_int_equal(c->retry_max, 3600);
	assert_int_equal(c->log_max_bytes, 16 * 1024 * 1024);
	assert_int_equal(c->nrepos, 1);
	r = &c->repos[0];
	assert_int_equal(r->url_kind, CONFIG_URL_HTTPS);
	assert_string_equal(r->branch, "main");
	assert_string_equal(r->path, ".");
	assert_int_equal(r->poll_interval, 60);
	assert_null(r->ssh_key);
	assert_null(r->token_file);
	assert_null(r->webhook_forge);
	assert_null(r->webhook_secret_file);
	assert_false(r->webhook_tags);
	assert_null(r->forge_kind);
	assert_string_equal(r->ledger_branch, "cloudsphere/status");
	assert_true(r->pr_plan);
	assert_false(r->pr_forks);
	config_free(c);
	config_free(NULL);

	/* Dots inside a name are not "..". */
	assert_int_equal(load(f,
	    "repositories: [ { name: a, url: /srv/a.git, path: v1..v2/.x } ]\n",
	    &c, &errs), 0);
	assert_string_equal(c->repos[0].path, "v1..v2/.x");
	config_free(c);

	/* An empty listen is off. */
	assert_int_equal(load(f,
	    "listen: \"\"\n"
	    "repositories: [ { name: a, url: /srv/a.git } ]\n", &c, &errs), 0);
	assert_null(c->listen);
	config_free(c);
	diags_release(&errs);
}

/* A relative configuration path: relative keys are taken from its folder. */
static void
test_config_relative(void **state)
{
	struct fixture	*f = *state;
	struct config	*c = NULL;
	struct diags	 errs;
	char		 cwd[PATH_MAX];

	diags_init(&errs);
	assert_non_null(getcwd(cwd, sizeof cwd));
	tu_write(f->dir, "etc/cloudsphered.yaml",
	    "state_dir: ../state\n"
	    "control_socket: run/ctl.sock\n"
	    "repositories:\n"
	    "  - name: a\n"
	    "    url: /srv/a.git\n"
	    "    auth: { token_file: ../keys/git.token }\n", 0644);
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(config_load(&c, "etc/cloudsphered.yaml", &errs), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(errs.n, 0);
	assert_below(f, c->file, "etc/cloudsphered.yaml");
	assert_below(f, c->state_dir, "etc/../state");
	assert_below(f, c->control_socket, "etc/run/ctl.sock");
	assert_below(f, c->repos[0].token_file, "etc/../keys/git.token");
	config_free(c);

	/* Errors name the file as it was given. */
	tu_write(f->dir, "etc/bad.yaml", "max_parallel_runs: 0\n", 0644);
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(config_load(&c, "etc/bad.yaml", &errs), -EINVAL);
	assert_int_equal(chdir(cwd), 0);
	assert_null(c);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.v[0].file, "etc/bad.yaml");
	assert_int_equal(errs.v[0].line, 1);
	assert_string_equal(errs.v[0].message, "max_parallel_runs: 0 is out of range (1 to 256)");
	assert_string_equal(errs.v[1].message, "no repositories to watch");
	diags_release(&errs);
}

#define REPO	"repositories:\n  - name: a\n    url: /srv/a.git\n"

/* One error each: the file, then its exact line. */
static const struct {
	const char	*yaml;
	const char	*want;
} one_error[] = {
	/* Keys. */
	{ "secret_dir: /x\n" REPO,
	  "@D/cloudsphered.yaml:1: unknown key 'secret_dir' in the configuration (did you mean 'secrets_dir'?)" },
	{ "colour: blue\n" REPO,
	  "@D/cloudsphered.yaml:1: unknown key 'colour' in the configuration" },
	{ REPO "    brnch: dev\n",
	  "@D/cloudsphered.yaml:4: unknown key 'brnch' in a repository (did you mean 'branch'?)" },
	{ REPO "    auth: { ssh-key: x }\n",
	  "@D/cloudsphered.yaml:4: unknown key 'ssh-key' in auth (did you mean 'ssh_key'?)" },
	{ REPO "    pull_requests:\n      plan: true\n      fork: true\n",
	  "@D/cloudsphered.yaml:6: unknown key 'fork' in pull_requests (did you mean 'forks'?)" },
	{ "state_dir: /a\nstate_dir: /b\n" REPO,
	  "@D/cloudsphered.yaml:2: duplicate key 'state_dir' (first set at line 1)" },
	/* Types. */
	{ "repositories: infra\n",
	  "@D/cloudsphered.yaml:1: 'repositories' must be a list" },
	{ "repositories:\n",
	  "@D/cloudsphered.yaml:1: no repositories to watch" },
	{ "state_dir: \"\"\n" REPO,
	  "@D/cloudsphered.yaml:1: 'state_dir' must not be an empty path" },
	{ REPO "    auth: { ssh_key: '' }\n",
	  "@D/cloudsphered.yaml:4: 'ssh_key' must not be an empty path" },
	{ "state_dir: [ a, b ]\n" REPO,
	  "@D/cloudsphered.yaml:1: 'state_dir' must be a string" },
	{ REPO "    auth: /etc/key\n",
	  "@D/cloudsphered.yaml:4: 'auth' must be a mapping" },
	{ "repositories:\n  - infra\n",
	  "@D/cloudsphered.yaml:2: a repository must be a mapping" },
	{ "- a\n- b\n",
	  "@D/cloudsphered.yaml:1: the configuration must be a mapping of keys" },
	{ "state_dir: [\n",
	  NULL },	/* a YAML syntax error: whatever libyaml says */
	/* Numbers and durations. */
	{ "max_parallel_runs: 0\n" REPO,
	  "@D/cloudsphered.yaml:1: max_parallel_runs: 0 is out of range (1 to 256)" },
	{ "max_parallel_runs: 257\n" REPO,
	  "@D/cloudsphered.yaml:1: max_parallel_runs: 257 is out of range (1 to 256)" },
	{ "max_parallel_runs: four\n" REPO,
	  "@D/cloudsphered.yaml:1: max_parallel_runs: 'four' is not a number" },
	{ "prune_limit: -1\n" REPO,
	  "@D/cloudsphered.yaml:1: prune_limit: -1 is out of range (0 to 1000000)" },
	{ REPO "    poll_interval: soon\n",
	  "@D/cloudsphered.yaml:4: poll_interval: invalid duration 'soon' (like 30s, 5m, 1h30m)" },
	{ REPO "    poll_interval: 8d\n",
	  "@D/cloudsphered.yaml:4: poll_interval: 8d is out of range" },
	{ "shutdown_grace: 1h30\n" REPO,
	  "@D/cloudsphered.yaml:1: shutdown_grace: invalid duration '1h30' (like 30s, 5m, 1h30m)" },
	{ "log_max_bytes: huge\n" REPO,
	  "@D/cloudsphered.yaml:1: log_max_bytes: 'huge' is not a size from 64KiB to 1GiB" },
	{ "log_max_bytes: 1KiB\n" REPO,
	  "@D/cloudsphered.yaml:1: log_max_bytes: '1KiB' is not a size from 64KiB to 1GiB" },
	{ REPO "    pull_requests: { plan: yes }\n",
	  "@D/cloudsphered.yaml:4: plan: expected true or false, got 'yes'" },
	/* Listen. */
	{ "listen: 127.0.0.1\napi_token_file: api.token\n" REPO,
	  "@D/cloudsphered.yaml:1: listen '127.0.0.1': expected HOST:PORT, [IPV6]:PORT or :PORT" },
	{ "listen: :70000\napi_token_file: api.token\n" REPO,
	  "@D/cloudsphered.yaml:1: listen ':70000': expected HOST:PORT, [IPV6]:PORT or :PORT" },
	{ "listen: \"::1:8480\"\napi_token_file: api.token\n" REPO,
	  "@D/cloudsphered.yaml:1: listen '::1:8480': expected HOST:PORT, [IPV6]:PORT or :PORT" },
	{ "listen: :8480\n" REPO,
	  "@D/cloudsphered.yaml:1: listen needs api_token_file: the TCP API is only for bearers of the token" },
	/* Repositories. */
	{ "repositories:\n  - url: /srv/a.git\n",
	  "@D/cloudsphered.yaml:2: a repository needs a name" },
	{ "repositories:\n  - name: a\n",
	  "@D/cloudsphered.yaml:2: repository 'a' needs a url" },
	{ "repositories:\n  - name: Infra_1\n    url: /srv/a.git\n",
	  "@D/cloudsphered.yaml:2: invalid repository name 'Infra_1' (lowercase letters, digits and '-', at most 63)" },
	{ "repositories:\n  - name: " "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "\n    url: /srv/a.git\n",
	  "@D/cloudsphered.yaml:2: invalid repository name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' (lowercase letters, digits and '-', at most 63)" },
	{ REPO "  - name: b\n    url: /srv/b.git\n  - name: a\n    url: /srv/c.git\n",
	  "@D/cloudsphered.yaml:6: repository 'a' is already defined at line 2" },
	{ "repositories:\n  - name: a\n    url: ftp://example.com/a.git\n",
	  "@D/cloudsphered.yaml:3: url 'ftp://example.com/a.git': not a local path, file://, https://, http://, ssh:// or user@host:path URL" },
	{ "repositories:\n  - name: a\n    url: srv/a.git\n",
	  "@D/cloudsphered.yaml:3: url 'srv/a.git': not a local path, file://, https://, http://, ssh:// or user@host:path URL" },
	{ "repositories:\n  - name: a\n    url: https://\n",
	  "@D/cloudsphered.yaml:3: url 'https://': not a local path, file://, https://, http://, ssh:// or user@host:path URL" },
	{ REPO "    branch: two..dots\n",
	  "@D/cloudsphered.yaml:4: invalid branch name 'two..dots'" },
	{ REPO "    branch: \"bad branch\"\n",
	  "@D/cloudsphered.yaml:4: invalid branch name 'bad branch'" },
	{ REPO "    ledger_branch: status.lock\n",
	  "@D/cloudsphered.yaml:4: invalid ledger_branch 'status.lock'" },
	{ REPO "    path: ../other\n",
	  "@D/cloudsphered.yaml:4: path '../other' must be relative, inside the repository" },
	{ REPO "    path: /etc\n",
	  "@D/cloudsphered.yaml:4: path '/etc' must be relative, inside the repository" },
	{ REPO "    path: envs/../../other\n",
	  "@D/cloudsphered.yaml:4: path 'envs/../../other' must be relative, inside the repository" },
	{ REPO "    path: envs/..\n",
	  "@D/cloudsphered.yaml:4: path 'envs/..' must be relative, inside the repository" },
	{ REPO "    forge: { kind: gitlab, api_url: gitlab.example.com }\n",
	  "@D/cloudsphered.yaml:4: forge.api_url 'gitlab.example.com': not an https:// or http:// URL" },
	{ "control_socket: /run/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n" REPO,
	  "@D/cloudsphered.yaml:1: control_socket /run/" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock: longer than 107 bytes, too long for a socket" },
	{ REPO "    forge: { kind: sourcehut }\n",
	  "@D/cloudsphered.yaml:4: forge.kind must be one of github, gitlab, gitea, forgejo, bitbucket, bitbucket-server, generic" },
	{ REPO "    webhook: { forge: gogs, secret_file: keys/hook.secret }\n",
	  "@D/cloudsphered.yaml:4: webhook.forge must be one of github, gitlab, gitea, forgejo, bitbucket, bitbucket-server, generic" },
	{ REPO "    webhook:\n      forge: github\n",
	  "@D/cloudsphered.yaml:5: webhook needs a secret_file" },
	/* Files holding secrets. */
	{ "api_token_file: missing.token\n" REPO,
	  "@D/cloudsphered.yaml:1: api_token_file @D/missing.token: No such file or directory" },
	{ "api_token_file: keys\n" REPO,
	  "@D/cloudsphered.yaml:1: api_token_file @D/keys: not a regular file" },
	{ "api_token_file: open.token\n" REPO,
	  "@D/cloudsphered.yaml:1: api_token_file @D/open.token: readable or writable by others (mode 640); chmod 600 it" },
	{ REPO "    auth: { ssh_key: open.token }\n",
	  "@D/cloudsphered.yaml:4: auth.ssh_key @D/open.token: readable or writable by others (mode 640); chmod 600 it" },
	{ REPO "    auth:\n      token_file: missing\n",
	  "@D/cloudsphered.yaml:5: auth.token_file @D/missing: No such file or directory" },
	{ REPO "    forge: { kind: github, token_file: open.token }\n",
	  "@D/cloudsphered.yaml:4: forge.token_file @D/open.token: readable or writable by others (mode 640); chmod 600 it" },
	{ REPO "    webhook: { forge: github, secret_file: empty.secret }\n",
	  "@D/cloudsphered.yaml:4: webhook.secret_file @D/empty.secret: empty; a webhook secret must not be empty" },
	{ REPO "    webhook: { forge: github, secret_file: newline.secret }\n",
	  "@D/cloudsphered.yaml:4: webhook.secret_file @D/newline.secret: empty; a webhook secret must not be empty" },
	{ "api_token_file: empty.secret\n" REPO,
	  "@D/cloudsphered.yaml:1: api_token_file @D/empty.secret: empty; the API token must not be empty" },
	{ REPO "    auth: { token_file: empty.secret }\n",
	  "@D/cloudsphered.yaml:4: auth.token_file @D/empty.secret: empty; a token must not be empty" },
	{ REPO "    forge: { kind: gitlab, token_file: newline.secret }\n",
	  "@D/cloudsphered.yaml:4: forge.token_file @D/newline.secret: empty; a token must not be empty" },
	{ "secrets_dir: nowhere\n" REPO,
	  "@D/cloudsphered.yaml:1: secrets_dir @D/nowhere: No such file or directory" },
	{ "secrets_dir: api.token\n" REPO,
	  "@D/cloudsphered.yaml:1: secrets_dir @D/api.token: not a folder" },
};

static void
test_config_one_error(void **state)
{
	struct fixture	*f = *state;
	size_t		 i;
	char		*want;

	for (i = 0; i < sizeof one_error / sizeof one_error[0]; i++) {
		if (one_error[i].want == NULL) {
			free(errors_of(f, one_error[i].yaml));
			continue;
		}
		want = xasprintf("%s\n", one_error[i].want);
		assert_errors(f, one_error[i].yaml, want);
		free(want);
	}
}

/* A folder of secrets open to the group is refused, telling the chmod. */
static void
test_config_secrets_dir_mode(void **state)
{
	struct fixture	*f = *state;
	char		*dir = xasprintf("%s/secrets", f->dir);

	assert_int_equal(chmod(dir, 0750), 0);
	assert_errors(f, "secrets_dir: secrets\n" REPO,
	    "@D/cloudsphered.yaml:1: secrets_dir @D/secrets: open to others (mode 750); chmod 700 it\n");
	assert_int_equal(chmod(dir, 0700), 0);
	free(dir);
}

/* Every error of a file at once, sorted by line. */
static void
test_config_all_errors(void **state)
{
	struct fixture	*f = *state;

	assert_errors(f,
	    "stat_dir: /x\n"
	    "max_parallel_runs: 0\n"
	    "listen: nowhere\n"
	    "api_token_file: open.token\n"
	    "repositories:\n"
	    "  - name: Bad_Name\n"
	    "    url: ftp://example.com/x\n"
	    "    poll_interval: soon\n"
	    "  - name: ok\n"
	    "    url: /srv/ok.git\n"
	    "    webhook: { forge: github, secret_file: empty.secret }\n"
	    "  - name: ok\n"
	    "    url: /srv/ok2.git\n"
	    "    branch: a..b\n",
	    "@D/cloudsphered.yaml:1: unknown key 'stat_dir' in the configuration (did you mean 'state_dir'?)\n"
	    "@D/cloudsphered.yaml:2: max_parallel_runs: 0 is out of range (1 to 256)\n"
	    "@D/cloudsphered.yaml:3: listen 'nowhere': expected HOST:PORT, [IPV6]:PORT or :PORT\n"
	    "@D/cloudsphered.yaml:4: api_token_file @D/open.token: readable or writable by others (mode 640); chmod 600 it\n"
	    "@D/cloudsphered.yaml:6: invalid repository name 'Bad_Name' (lowercase letters, digits and '-', at most 63)\n"
	    "@D/cloudsphered.yaml:7: url 'ftp://example.com/x': not a local path, file://, https://, http://, ssh:// or user@host:path URL\n"
	    "@D/cloudsphered.yaml:8: poll_interval: invalid duration 'soon' (like 30s, 5m, 1h30m)\n"
	    "@D/cloudsphered.yaml:11: webhook.secret_file @D/empty.secret: empty; a webhook secret must not be empty\n"
	    "@D/cloudsphered.yaml:12: repository 'ok' is already defined at line 9\n"
	    "@D/cloudsphered.yaml:14: invalid branch name 'a..b'\n");
}

static void
test_config_missing_file(void **state)
{
	struct fixture	*f = *state;
	struct config	*c = (struct config *)1;
	struct diags	 errs;
	char		*path = xasprintf("%s/nowhere.yaml", f->dir);

	diags_init(&errs);
	assert_int_equal(config_load(&c, path, &errs), -ENOENT);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].file, path);
	assert_int_equal(errs.v[0].line, 1);
	assert_string_equal(errs.v[0].message, "No such file or directory");
	diags_release(&errs);
	free(path);

	/* A folder given as the file. */
	diags_init(&errs);
	assert_int_equal(config_load(&c, f->dir, &errs), -EISDIR);
	assert_null(c);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.v[0].message, "Is a directory");
	diags_release(&errs);
}

/* All URL forms and what they are taken for. */
static void
test_config_url_kinds(void **state)
{
	static const struct {
		const char		*url;
		enum config_url_kind	 kind;
	} urls[] = {
		{ "/srv/git/infra.git", CONFIG_URL_LOCAL },
		{ "file:///srv/git/infra.git", CONFIG_URL_FILE },
		{ "https://git.example.com/ops/infra.git", CONFIG_URL_HTTPS },
		{ "http://localhost:3000/ops/infra", CONFIG_URL_HTTP },
		{ "ssh://git@git.example.com:2222/ops/infra.git", CONFIG_URL_SSH },
		{ "git@git.example.com:ops/infra.git", CONFIG_URL_SCP },
		{ "git.example.com:infra.git", CONFIG_URL_SCP },
	};
	struct fixture	*f = *state;
	struct config	*c;
	struct diags	 errs;
	char		*yaml;
	size_t		 i;

	diags_init(&errs);
	for (i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		yaml = xasprintf("repositories:\n  - name: a\n    url: \"%s\"\n",
		    urls[i].url);
		c = NULL;
		assert_int_equal(load(f, yaml, &c, &errs), 0);
		assert_int_equal(c->repos[0].url_kind, urls[i].kind);
		config_free(c);
		free(yaml);
	}
	assert_int_equal(errs.n, 0);
	diags_release(&errs);
}

static void
test_config_durations(void **state)
{
	static const struct {
		const char	*s;
		int		 error;
		long		 seconds;
	} t[] = {
		{ "0", 0, 0 },
		{ "45", 0, 45 },
		{ "30s", 0, 30 },
		{ "5m", 0, 300 },
		{ "1h", 0, 3600 },
		{ "1h30m", 0, 5400 },
		{ "2d", 0, 172800 },
		{ "1d2h3m4s", 0, 93784 },
		{ "", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
		{ "+5s", -EINVAL, 0 },
		{ " 5s", -EINVAL, 0 },
		{ "5 s", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },
		{ "5w", -EINVAL, 0 },
		{ "1.5h", -EINVAL, 0 },
		{ "99999999999999999999s", -ERANGE, 0 },
		{ "999999999999999d", -ERANGE, 0 },	/* overflows once multiplied */
		{ "4611686018427387903s1s", -ERANGE, 0 },
	};
	size_t	i;
	long	v;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		v = -1;
		if (config_parse_duration(t[i].s, &v) != t[i].error)
			fail_msg("'%s': expected %d", t[i].s, t[i].error);
		if (t[i].error == 0 && v != t[i].seconds)
			fail_msg("'%s': %ld, expected %ld", t[i].s, v,
			    t[i].seconds);
	}
}

static void
test_config_sizes(void **state)
{
	static const struct {
		const char	*s;
		int		 error;
		size_t		 bytes;
	} t[] = {
		{ "65536", 0, 65536 },
		{ "100B", 0, 100 },
		{ "512KiB", 0, 512 * 1024 },
		{ "512K", 0, 512 * 1024 },
		{ "16MiB", 0, 16 * 1024 * 1024 },
		{ "1GiB", 0, 1024 * 1024 * 1024 },
		{ "", -EINVAL, 0 },
		{ "MiB", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "16 MiB", -EINVAL, 0 },
		{ "16TiB", -EINVAL, 0 },
		{ "17179869184GiB", -ERANGE, 0 },	/* 2^64 bytes */
		{ "17179869185GiB", -ERANGE, 0 },	/* would wrap to 1GiB */
		{ "18446744073709551616", -ERANGE, 0 },
	};
	size_t	i, v;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		v = 0;
		if (config_parse_size(t[i].s, &v) != t[i].error)
			fail_msg("'%s': expected %d", t[i].s, t[i].error);
		if (t[i].error == 0 && v != t[i].bytes)
			fail_msg("'%s': %zu, expected %zu", t[i].s, v,
			    t[i].bytes);
	}
}

static void
test_config_listen(void **state)
{
	static const struct {
		const char	*s;
		int		 error;
		const char	*host;
		int		 port;
	} t[] = {
		{ "127.0.0.1:8480", 0, "127.0.0.1", 8480 },
		{ "[::1]:8480", 0, "::1", 8480 },
		{ "[::]:80", 0, "::", 80 },
		{ ":8480", 0, "", 8480 },
		{ "localhost:1", 0, "localhost", 1 },
		{ "ci-1.example.com:65535", 0, "ci-1.example.com", 65535 },
		{ "", -EINVAL, NULL, 0 },
		{ "8480", -EINVAL, NULL, 0 },
		{ "localhost", -EINVAL, NULL, 0 },
		{ "localhost:", -EINVAL, NULL, 0 },
		{ ":0", -ERANGE, NULL, 0 },
		{ ":65536", -ERANGE, NULL, 0 },
		{ ":123456", -EINVAL, NULL, 0 },
		{ ":+80", -EINVAL, NULL, 0 },
		{ ": 80", -EINVAL, NULL, 0 },
		{ ":80 ", -EINVAL, NULL, 0 },
		{ "::1:8480", -EINVAL, NULL, 0 },
		{ "[::1]", -EINVAL, NULL, 0 },
		{ "[::1]8480", -EINVAL, NULL, 0 },
		{ "[::1:8480", -EINVAL, NULL, 0 },
		{ "[]:8480", -EINVAL, NULL, 0 },
		{ "[example.com]:80", -EINVAL, NULL, 0 },
		{ "http://host:80", -EINVAL, NULL, 0 },
		{ "host name:80", -EINVAL, NULL, 0 },
	};
	size_t	 i;
	char	*host;
	int	 port, error;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		host = (char *)1;
		port = -1;
		error = config_parse_listen(t[i].s, &host, &port);
		if (error != t[i].error)
			fail_msg("'%s': %d, expected %d", t[i].s, error,
			    t[i].error);
		if (error != 0) {
			assert_null(host);
			continue;
		}
		assert_string_equal(host, t[i].host);
		assert_int_equal(port, t[i].port);
		free(host);
	}
}

/*
 * The example in examples/ has no mistake of its own: on a machine without
 * its /etc files, missing files are the only errors.
 */
static void
test_config_example(void **state)
{
	struct config	*c = NULL;
	struct diags	 errs;
	char		*path;
	const char	*srcdir = getenv("top_srcdir");
	size_t		 i;

	(void)state;
	path = xasprintf("%s/examples/cloudsphered.yaml",
	    srcdir != NULL ? srcdir : ".");
	diags_init(&errs);
	if (config_load(&c, path, &errs) == 0) {
		assert_int_equal(errs.n, 0);
		assert_true(c->nrepos > 0);
		config_free(c);
	}
	for (i = 0; i < errs.n; i++) {
		const char *m = errs.v[i].message;

		if (strstr(m, ": No such file or directory") == NULL)
			fail_msg("%s:%d: %s", errs.v[i].file, errs.v[i].line,
			    m);
	}
	diags_release(&errs);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_relative, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_one_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_secrets_dir_mode,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_all_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_config_url_kinds, setup,
		    teardown),
		cmocka_unit_test(test_config_durations),
		cmocka_unit_test(test_config_sizes),
		cmocka_unit_test(test_config_listen),
		cmocka_unit_test(test_config_example),
	};

	return (cmocka_run_group_tests_name("config", tests, NULL, NULL));
}
