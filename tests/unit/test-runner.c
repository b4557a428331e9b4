/*
 * The steps the terraform and ansible providers run (providers/runner.c):
 * their argv, environment and timeouts, the private tfvars file, the
 * dependency lock file kept with the state, sensitive outputs kept and
 * removed by a destroy.  The programs are looked up as the daemon does;
 * where terraform or ansible-playbook is not installed, those cases say so
 * and check nothing else (tests/daemon/terraform.sh and ansible.sh run
 * the real tools).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "runner.h"
#include "testutil.h"
#include "xmalloc.h"

struct fixture {
	char		*root, *work, *state, *run;
	json_t		*inputs;
	struct run_spec	 rs;
};

static void
fixture_init(struct fixture *f, const char *action)
{
	memset(f, 0, sizeof *f);
	f->root = tu_mkdtemp();
	f->work = xasprintf("%s/run/work", f->root);
	f->state = xasprintf("%s/state", f->root);
	f->run = xasprintf("%s/run", f->root);
	tu_write(f->root, "run/work/main.tf", "# empty\n", 0);
	tu_write(f->root, "state/.keep", "", 0);
	f->inputs = json_pack("{ssss}", "name", "web", "password",
	    "hunter2-secret");
	f->rs.action = action;
	f->rs.deployment = "web";
	f->rs.environment = "test";
	f->rs.commit = "0123456789012345678901234567890123456789";
	f->rs.workdir = f->work;
	f->rs.statedir = f->state;
	f->rs.rundir = f->run;
	f->rs.inputs = f->inputs;
	f->rs.timeout = 30;
	f->rs.plan_timeout = 7;
	f->rs.grace = 1;
}

static void
fixture_release(struct fixture *f)
{
	tu_rm_rf(f->root);
	free(f->root);
	free(f->work);
	free(f->state);
	free(f->run);
	json_decref(f->inputs);
}

static bool
have(const char *program)
{
	char	*path;

	if (proc_find_program(program, SCRIPT_PATH, &path) != 0) {
		printf("# %s not found in %s: its cases are skipped\n", program,
		    SCRIPT_PATH);
		return (false);
	}
	free(path);
	return (true);
}

/* "a b c" of a step's argv, without argv[0]. */
static char *
args(const struct runner_step *s)
{
	char	*out = xstrdup(""), *next;
	size_t	 i;

	for (i = 1; s->spec.argv[i] != NULL; i++) {
		next = xasprintf("%s%s%s", out, i > 1 ? " " : "",
		    s->spec.argv[i]);
		free(out);
		out = next;
	}
	return (out);
}

static const char *
env(const struct runner_step *s, const char *name)
{
	size_t	i, len = strlen(name);

	for (i = 0; s->spec.envp[i] != NULL; i++) {
		if (strncmp(s->spec.envp[i], name, len) == 0 &&
		    s->spec.envp[i][len] == '=')
			return (s->spec.envp[i] + len + 1);
	}
	return (NULL);
}

static void
prepare(struct runner *r, struct fixture *f, enum provider_kind kind,
    const struct runner_settings *set)
{
	const struct provider	*p = provider_find(kind == PROVIDER_ANSIBLE ?
	    "ansible" : "terraform");
	char			*cause = NULL;

	if (runner_prepare(r, p, &f->rs, set, &cause) != 0)
		fail_msg("runner_prepare: %s", cause);
}

static char *
read_text(const char *path)
{
	char	*data = xmalloc(65536);
	size_t	 len;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL) {
		free(data);
		return (NULL);
	}
	len = fread(data, 1, 65535, fp);
	data[len] = '\0';
	fclose(fp);
	return (data);
}

static void
test_terraform_steps(void **state)
{
	struct runner_settings	 set = { .terraform_binary = "terraform" };
	struct fixture		 f;
	struct runner		 r;
	struct stat		 st;
	char			*s, *want, *data, *path, *cause;
	size_t			 i, k;

	(void)state;
	if (!have("terraform"))
		return;
	fixture_init(&f, "apply");
	set.plugin_cache = xasprintf("%s/plugin-cache", f.root);
	assert_int_equal(mkdir(set.plugin_cache, 0700), 0);
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_int_equal(r.nsteps, 4);
	assert_string_equal(r.steps[0].name, "init");
	assert_string_equal(s = args(&r.steps[0]), "init -input=false -no-color");
	free(s);
	want = xasprintf("plan -input=false -no-color -detailed-exitcode "
	    "-json -out=%s/plan.tfplan", f.run);
	assert_string_equal(s = args(&r.steps[1]), want);
	free(s);
	free(want);
	assert_true(r.steps[1].plan);
	/* Exactly the stored plan, only when it has changes. */
	want = xasprintf("apply -input=false -no-color -json %s/plan.tfplan",
	    f.run);
	assert_string_equal(s = args(&r.steps[2]), want);
	free(s);
	free(want);
	assert_true(r.steps[2].if_changes);
	assert_string_equal(s = args(&r.steps[3]), "output -no-color -json");
	free(s);
	assert_true(r.steps[3].capture);
	/* init and plan under the plan timeout, apply its own. */
	assert_int_equal(r.steps[0].spec.timeout, 7);
	assert_int_equal(r.steps[1].spec.timeout, 7);
	assert_int_equal(r.steps[2].spec.timeout, 30);
	for (i = 0; i < r.nsteps; i++) {
		want = xasprintf("%s/.terraform", f.state);
		assert_string_equal(env(&r.steps[i], "TF_DATA_DIR"), want);
		free(want);
		want = xasprintf("%s/plugin-cache", f.state);
		assert_string_equal(env(&r.steps[i], "TF_PLUGIN_CACHE_DIR"),
		    want);
		free(want);
		assert_string_equal(env(&r.steps[i], "TF_INPUT"), "0");
		assert_string_equal(env(&r.steps[i], "TF_IN_AUTOMATION"), "1");
		assert_string_equal(s = xstrdup(r.steps[i].spec.cwd), f.work);
		free(s);
		/* No secret in the environment. */
		for (k = 0; r.steps[i].spec.envp[k] != NULL; k++)
			assert_null(strstr(r.steps[i].spec.envp[k],
			    "hunter2-secret"));
	}
	/* The inputs, private to the run. */
	path = xasprintf("%s/cloudsphere.auto.tfvars.json", f.work);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(path);
	path = xasprintf("%s/cloudsphere.auto.tfvars.json", f.work);
	assert_non_null(data = read_text(path));
	free(path);
	assert_string_equal(data,
	    "{\"name\":\"web\",\"password\":\"hunter2-secret\"}");
	free(data);
	runner_release(&r);
	free((char *)set.plugin_cache);
	set.plugin_cache = NULL;
	fixture_release(&f);

	/* Destroy: a destroy plan applied, no output step. */
	fixture_init(&f, "destroy");
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_int_equal(r.nsteps, 3);
	assert_non_null(strstr(s = args(&r.steps[1]), " -destroy -out="));
	free(s);
	assert_string_equal(r.steps[2].name, "apply");
	assert_null(env(&r.steps[0], "TF_PLUGIN_CACHE_DIR"));
	runner_release(&r);
	fixture_release(&f);

	/* Plan: init and plan only; tofu when asked. */
	fixture_init(&f, "plan");
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_int_equal(r.nsteps, 2);
	runner_release(&r);
	set.terraform_binary = "no-such-terraform";
	assert_int_equal(runner_prepare(&r, provider_find("terraform"), &f.rs,
	    &set, &cause), -ENOENT);
	assert_non_null(strstr(cause, "no-such-terraform: not found"));
	free(cause);
	fixture_release(&f);
}

static void
test_terraform_lock_file(void **state)
{
	struct runner_settings	 set = { .terraform_binary = "terraform" };
	struct fixture		 f;
	struct runner		 r;
	char			*work_lock, *state_lock, *s;

	(void)state;
	if (!have("terraform"))
		return;
	fixture_init(&f, "apply");
	work_lock = xasprintf("%s/.terraform.lock.hcl", f.work);
	state_lock = xasprintf("%s/.terraform.lock.hcl", f.state);
	/* No lock file yet: the one init writes is kept. */
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	tu_write(f.root, "run/work/.terraform.lock.hcl", "# v1\n", 0);
	runner_step_succeeded(&r, 1);	/* plan: nothing */
	assert_int_equal(access(state_lock, F_OK), -1);
	runner_step_succeeded(&r, 0);	/* init */
	assert_string_equal(s = read_text(state_lock), "# v1\n");
	free(s);
	runner_release(&r);
	/* The next run's fresh copy gets it back. */
	unlink(work_lock);
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_string_equal(s = read_text(work_lock), "# v1\n");
	free(s);
	runner_release(&r);
	/* A blueprint with its own lock file: that one, nothing kept. */
	tu_write(f.root, "run/work/.terraform.lock.hcl", "# blueprint\n", 0);
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_string_equal(s = read_text(work_lock), "# blueprint\n");
	free(s);
	runner_step_succeeded(&r, 0);
	assert_string_equal(s = read_text(state_lock), "# v1\n");
	free(s);
	runner_release(&r);
	/* A plan uses the kept lock file and keeps nothing. */
	unlink(work_lock);
	f.rs.action = "plan";
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_string_equal(s = read_text(work_lock), "# v1\n");
	free(s);
	tu_write(f.root, "run/work/.terraform.lock.hcl", "# v2\n", 0);
	runner_step_succeeded(&r, 0);
	assert_string_equal(s = read_text(state_lock), "# v1\n");
	free(s);
	runner_release(&r);
	free(work_lock);
	free(state_lock);
	fixture_release(&f);
}

static void
test_terraform_sensitive_outputs(void **state)
{
	struct runner_settings	 set = { .terraform_binary = "terraform" };
	struct fixture		 f;
	struct runner		 r;
	struct stat		 st;
	const char		*doc = "{\"plain\":{\"sensitive\":false,"
	    "\"type\":\"string\",\"value\":\"v\"},\"db\":{\"sensitive\":true,"
	    "\"type\":\"string\",\"value\":\"pw-12345\"},\"conf\":{"
	    "\"sensitive\":true,\"type\":[\"map\",\"string\"],\"value\":{"
	    "\"user\":\"admin-user\",\"key\":\"key-67890\"}}}";
	json_t			*out, *v;
	char			**secrets = NULL, *cause = NULL, *dump, *path;
	size_t			 nsecrets = 0, i;

	(void)state;
	if (!have("terraform"))
		return;
	fixture_init(&f, "apply");
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	assert_int_equal(runner_outputs(&r, &f.rs, doc, strlen(doc), &out,
	    &secrets, &nsecrets, &cause), 0);
	dump = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	/* Whatever the type, a sensitive output is stored as "***". */
	assert_string_equal(dump,
	    "{\"conf\":\"***\",\"db\":\"***\",\"plain\":\"v\"}");
	free(dump);
	json_decref(out);
	assert_int_equal(nsecrets, 3);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nsecrets = 0;
	path = xasprintf("%s/%s", f.state, RUNNER_SENSITIVE_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Downstream gets the value, and redacts its strings. */
	v = runner_sensitive_output(f.state, "conf", &secrets, &nsecrets);
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "key")),
	    "key-67890");
	json_decref(v);
	assert_int_equal(nsecrets, 2);
	assert_null(runner_sensitive_output(f.state, "plain", &secrets,
	    &nsecrets));
	runner_sensitive_secrets(f.state, &secrets, &nsecrets);
	assert_int_equal(nsecrets, 5);
	for (i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	runner_release(&r);
	/* A successful destroy removes them. */
	f.rs.action = "destroy";
	prepare(&r, &f, PROVIDER_TERRAFORM, &set);
	runner_step_succeeded(&r, 1);
	assert_int_equal(access(path, F_OK), 0);
	runner_step_succeeded(&r, 2);
	assert_int_equal(access(path, F_OK), -1);
	runner_release(&r);
	free(path);
	fixture_release(&f);
}

static void
test_ansible_steps(void **state)
{
	struct runner_settings	 set = { .playbook = "site.yml",
	    .inventory = "inventory.ini" };
	struct fixture		 f;
	struct runner		 r;
	char			*s, *want, *cause = NULL;

	(void)state;
	if (!have("ansible-playbook"))
		return;
	fixture_init(&f, "plan");
	prepare(&r, &f, PROVIDER_ANSIBLE, &set);
	assert_int_equal(r.nsteps, 1);
	want = xasprintf("-i inventory.ini -e @%s/inputs.json --check --diff "
	    "site.yml", f.run);
	assert_string_equal(s = args(&r.steps[0]), want);
	free(s);
	free(want);
	assert_int_equal(r.steps[0].parser, RUNNER_RECAP);
	assert_int_equal(r.steps[0].spec.timeout, 30);
	runner_release(&r);

	f.rs.action = "apply";
	prepare(&r, &f, PROVIDER_ANSIBLE, &set);
	want = xasprintf("-i inventory.ini -e @%s/inputs.json site.yml", f.run);
	assert_string_equal(s = args(&r.steps[0]), want);
	free(s);
	free(want);
	runner_release(&r);

	f.rs.action = "destroy";
	assert_int_equal(runner_prepare(&r, provider_find("ansible"), &f.rs,
	    &set, &cause), -EINVAL);
	assert_string_equal(cause, "the blueprint has no destroy_playbook");
	free(cause);
	set.destroy_playbook = "destroy.yml";
	prepare(&r, &f, PROVIDER_ANSIBLE, &set);
	assert_non_null(strstr(s = args(&r.steps[0]), " destroy.yml"));
	free(s);
	runner_release(&r);
	fixture_release(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terraform_steps),
		cmocka_unit_test(test_terraform_lock_file),
		cmocka_unit_test(test_terraform_sensitive_outputs),
		cmocka_unit_test(test_ansible_steps),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
