/*
 * The steps of each provider.  Every program is found on a fixed PATH and
 * run with an explicit environment; nothing goes through a shell.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"
#include "tfcache.h"
#include "xmalloc.h"

struct strv {
	char	**v;
	size_t	  n;
};

static void
strv_add(struct strv *s, char *item)
{
	s->v = xreallocarray(s->v, s->n + 2, sizeof *s->v);
	s->v[s->n++] = item;
	s->v[s->n] = NULL;
}

static void
strv_copy(struct strv *s, const char *const *v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		strv_add(s, xstrdup(v[i]));
}

static int
write_private(const char *path, const char *data, char **cause)
{
	size_t	len = strlen(data);
	ssize_t	n;
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		*cause = xasprintf("cannot write %s: %s", path,
		    strerror(errno));
		return (-errno);
	}
	while (len > 0) {
		if ((n = write(fd, data, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			*cause = xasprintf("cannot write %s", path);
			close(fd);
			return (-EIO);
		}
		data += n;
		len -= (size_t)n;
	}
	close(fd);
	return (0);
}

/* Copy a small file (the dependency lock file) through a renamed temporary. */
static int
copy_file(const char *from, const char *to)
{
	struct stat	 st;
	char		*tmp, *data, *cause = NULL;
	ssize_t		 n;
	int		 fd, error;

	if ((fd = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (-errno);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > RUNNER_LOCKFILE_MAX) {
		close(fd);
		return (-EINVAL);
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = read(fd, data, (size_t)st.st_size);
	close(fd);
	if (n != (ssize_t)st.st_size) {
		free(data);
		return (-EIO);
	}
	data[n] = '\0';
	tmp = xasprintf("%s.tmp", to);
	if ((error = write_private(tmp, data, &cause)) == 0 &&
	    rename(tmp, to) != 0)
		error = -errno;
	free(cause);
	if (error != 0)
		unlink(tmp);
	free(tmp);
	free(data);
	return (error);
}

/*
 * One step: argv from a NULL-terminated list, the script provider's
 * environment (which has the CLOUDSPHERE_* variables) plus extra ones.
 */
static void
add_step(struct runner *r, const char *name, struct strv *argv,
    const struct proc_spec *base, const char *const *extra_env, bool capture,
    bool plan, bool if_changes)
{
	struct runner_step	*s = &r->steps[r->nsteps++];
	struct strv		 env = { NULL, 0 };

	strv_copy(&env, base->envp);
	strv_copy(&env, extra_env);
	s->name = name;
	s->spec.argv = (const char *const *)argv->v;
	s->spec.envp = (const char *const *)env.v;
	s->spec.cwd = xstrdup(base->cwd);
	s->spec.timeout = base->timeout;
	s->spec.grace = base->grace;
	s->capture = capture;
	s->plan = plan;
	s->if_changes = if_changes;
}

static char	*sensitive_path(const char *);

static int
find(const char *name, char **out, char **cause)
{
	if (proc_find_program(name, SCRIPT_PATH, out) != 0) {
		*cause = xasprintf("%s: not found in %s", name, SCRIPT_PATH);
		return (-ENOENT);
	}
	return (0);
}

/*
 * After init, the steps of an approved apply: apply of the saved plan
 * (terraform refuses it if the state moved since), then output.
 */
static void
terraform_saved(struct runner *r, const char *tf, const char *plan,
    const struct proc_spec *base, const char *const *env)
{
	struct strv	argv;

	memset(&argv, 0, sizeof argv);
	strv_add(&argv, xstrdup(tf));
	strv_add(&argv, xstrdup("apply"));
	strv_add(&argv, xstrdup("-input=false"));
	strv_add(&argv, xstrdup("-no-color"));
	strv_add(&argv, xstrdup("-json"));
	strv_add(&argv, xstrdup(plan));
	add_step(r, "apply", &argv, base, env, false, false, false);
	r->steps[r->nsteps - 1].parser = RUNNER_TFJSON;

	memset(&argv, 0, sizeof argv);
	strv_add(&argv, xstrdup(tf));
	strv_add(&argv, xstrdup("output"));
	strv_add(&argv, xstrdup("-no-color"));
	strv_add(&argv, xstrdup("-json"));
	add_step(r, "output", &argv, base, env, true, false, false);
}

static int
terraform_prepare(struct runner *r, const struct run_spec *rs,
    const struct runner_settings *set, const struct proc_spec *base,
    char **cause)
{
	struct strv	 argv;
	char		*tf, *vars, *json, *backend, *plan, *env[6];
	const char	*bin = set->terraform_binary != NULL ?
	    set->terraform_binary : "terraform";
	bool		 destroy = strcmp(rs->action, "destroy") == 0;
	bool		 apply = destroy || strcmp(rs->action, "apply") == 0;
	int		 error, plan_timeout, i;

	if (destroy)
		r->sensitive = sensitive_path(rs->statedir);

	if ((error = find(bin, &tf, cause)) != 0)
		return (error);
	/* Inputs as variables, readable by the run alone. */
	json = json_dumps(rs->inputs, JSON_COMPACT | JSON_SORT_KEYS);
	vars = xasprintf("%s/cloudsphere.auto.tfvars.json", rs->workdir);
	error = write_private(vars, json != NULL ? json : "{}", cause);
	if (json != NULL) {
		explicit_bzero(json, strlen(json));
		free(json);
	}
	free(vars);
	/* State in the deployment's own folder, whatever the blueprint says. */
	backend = xasprintf("terraform {\n  backend \"local\" {\n"
	    "    path = \"%s/terraform.tfstate\"\n  }\n}\n", rs->statedir);
	vars = xasprintf("%s/cloudsphere_backend_override.tf", rs->workdir);
	if (error == 0)
		error = write_private(vars, backend, cause);
	free(vars);
	free(backend);
	if (error != 0) {
		free(tf);
		return (error);
	}
	/*
	 * .terraform persists with the state (TF_DATA_DIR); the blueprint's
	 * files are a fresh copy each run.  The plugin cache is the
	 * deployment's own, shared with the others through tfcache.
	 */
	env[0] = xasprintf("TF_DATA_DIR=%s/.terraform", rs->statedir);
	env[1] = xstrdup("TF_IN_AUTOMATION=1");
	env[2] = xstrdup("TF_INPUT=0");
	env[3] = xstrdup("CHECKPOINT_DISABLE=1");
	env[4] = NULL;
	env[5] = NULL;
	if (set->plugin_cache != NULL) {
		r->cache_private = xasprintf("%s/plugin-cache", rs->statedir);
		if (mkdir(r->cache_private, 0700) == 0 || errno == EEXIST) {
			r->cache_shared = xstrdup(set->plugin_cache);
			tfcache_sync(r->cache_shared, r->cache_private);
			env[4] = xasprintf("TF_PLUGIN_CACHE_DIR=%s",
			    r->cache_private);
		} else {
			free(r->cache_private);
			r->cache_private = NULL;
		}
	}

	/*
	 * The plan of an apply or a destroy is a plan: init and plan have
	 * the blueprint's plan timeout, the apply of the plan its own.
	 */
	plan_timeout = rs->plan_timeout > 0 ? rs->plan_timeout : base->timeout;
	/*
	 * The dependency lock file: the blueprint's when it has one, else
	 * the one the last init wrote, kept with the state, so that a run
	 * never picks newer provider versions behind the operator's back.
	 */
	r->lock_work = xasprintf("%s/.terraform.lock.hcl", rs->workdir);
	r->lock_state = xasprintf("%s/.terraform.lock.hcl", rs->statedir);
	if (access(r->lock_work, F_OK) == 0) {
		free(r->lock_state);
		r->lock_state = NULL;
	} else {
		copy_file(r->lock_state, r->lock_work);
		/* A plan (a preview, a drift check) changes nothing kept. */
		if (!apply) {
			free(r->lock_state);
			r->lock_state = NULL;
		}
	}

	memset(&argv, 0, sizeof argv);
	strv_add(&argv, xstrdup(tf));
	strv_add(&argv, xstrdup("init"));
	strv_add(&argv, xstrdup("-input=false"));
	strv_add(&argv, xstrdup("-no-color"));
	add_step(r, "init", &argv, base, (const char *const *)env, false,
	    false, false);
	r->steps[r->nsteps - 1].parser = RUNNER_TFJSON;	/* its errors */
	r->steps[r->nsteps - 1].spec.timeout = plan_timeout;

	/* Applying a saved plan (an approved one): no new plan. */
	if (apply && !destroy && set->plan_file != NULL) {
		terraform_saved(r, tf, set->plan_file, base,
		    (const char *const *)env);
		free(tf);
		for (i = 0; i < 5; i++)
			free(env[i]);
		return (0);
	}

	plan = xasprintf("%s/plan.tfplan", rs->rundir);
	memset(&argv, 0, sizeof argv);
	strv_add(&argv, xstrdup(tf));
	strv_add(&argv, xstrdup("plan"));
	strv_add(&argv, xstrdup("-input=false"));
	strv_add(&argv, xstrdup("-no-color"));
	strv_add(&argv, xstrdup("-detailed-exitcode"));
	strv_add(&argv, xstrdup("-json"));
	if (set->no_lock)
		strv_add(&argv, xstrdup("-lock=false"));
	if (destroy)
		strv_add(&argv, xstrdup("-destroy"));
	strv_add(&argv, xasprintf("-out=%s", plan));
	add_step(r, "plan", &argv, base, (const char *const *)env, false,
	    true, false);
	r->steps[r->nsteps - 1].parser = RUNNER_TFJSON;
	r->steps[r->nsteps - 1].spec.timeout = plan_timeout;

	if (apply) {
		memset(&argv, 0, sizeof argv);
		strv_add(&argv, xstrdup(tf));
		strv_add(&argv, xstrdup("apply"));
		strv_add(&argv, xstrdup("-input=false"));
		strv_add(&argv, xstrdup("-no-color"));
		strv_add(&argv, xstrdup("-json"));
		strv_add(&argv, xstrdup(plan));
		add_step(r, "apply", &argv, base, (const char *const *)env,
		    false, false, true);
		r->steps[r->nsteps - 1].parser = RUNNER_TFJSON;
	}
	if (apply && !destroy) {
		memset(&argv, 0, sizeof argv);
		strv_add(&argv, xstrdup(tf));
		strv_add(&argv, xstrdup("output"));
		strv_add(&argv, xstrdup("-no-color"));
		strv_add(&argv, xstrdup("-json"));
		add_step(r, "output", &argv, base, (const char *const *)env,
		    true, false, false);
	}
	free(plan);
	free(tf);
	for (i = 0; i < 5; i++)
		free(env[i]);
	return (0);
}

static int
ansible_prepare(struct runner *r, const struct run_spec *rs,
    const struct runner_settings *set, const struct proc_spec *base,
    char **cause)
{
	struct strv	 argv;
	char		*bin, *env[6];
	const char	*playbook = set->playbook;
	bool		 plan = strcmp(rs->action, "plan") == 0;
	int		 error, i;

	if (strcmp(rs->action, "destroy") == 0) {
		if (set->destroy_playbook == NULL) {
			*cause = xstrdup("the blueprint has no destroy_playbook");
			return (-EINVAL);
		}
		playbook = set->destroy_playbook;
	}
	if ((error = find("ansible-playbook", &bin, cause)) != 0)
		return (error);
	memset(&argv, 0, sizeof argv);
	strv_add(&argv, bin);
	if (set->inventory != NULL) {
		strv_add(&argv, xstrdup("-i"));
		strv_add(&argv, xstrdup(set->inventory));
	}
	strv_add(&argv, xstrdup("-e"));
	strv_add(&argv, xasprintf("@%s/inputs.json", rs->rundir));
	if (plan) {
		strv_add(&argv, xstrdup("--check"));
		strv_add(&argv, xstrdup("--diff"));
	}
	strv_add(&argv, xstrdup(playbook));
	env[0] = xstrdup("ANSIBLE_NOCOLOR=1");
	env[1] = xstrdup("ANSIBLE_RETRY_FILES_ENABLED=0");
	env[2] = xasprintf("ANSIBLE_LOCAL_TEMP=%s/tmp", rs->rundir);
	env[3] = xstrdup("ANSIBLE_HOST_KEY_CHECKING=1");
	env[4] = xstrdup("PYTHONUNBUFFERED=1");
	env[5] = NULL;
	add_step(r, plan ? "plan" : rs->action, &argv, base,
	    (const char *const *)env, false, false, false);
	r->steps[r->nsteps - 1].parser = RUNNER_RECAP;
	for (i = 0; i < 5; i++)
		free(env[i]);
	return (0);
}

int
runner_prepare(struct runner *r, const struct provider *p,
    const struct run_spec *rs, const struct runner_settings *set,
    char **cause)
{
	struct proc_spec	 base;
	struct strv		 argv;
	size_t			 i;
	int			 error;

	memset(r, 0, sizeof *r);
	*cause = NULL;
	r->kind = p->kind;
	/* The script provider's spec: inputs file, environment, argv. */
	if ((error = script_prepare(rs, &base, cause)) != 0)
		return (error);
	switch (p->kind) {
	case PROVIDER_SCRIPT:
		if (base.argv == NULL) {
			*cause = xstrdup("the blueprint has no script.command");
			error = -EINVAL;
			break;
		}
		memset(&argv, 0, sizeof argv);
		for (i = 0; base.argv[i] != NULL; i++)
			strv_add(&argv, xstrdup(base.argv[i]));
		add_step(r, rs->action, &argv, &base, NULL, false,
		    strcmp(rs->action, "plan") == 0, false);
		break;
	case PROVIDER_TERRAFORM:
	case PROVIDER_TOFU:
		error = terraform_prepare(r, rs, set, &base, cause);
		break;
	case PROVIDER_ANSIBLE:
		error = ansible_prepare(r, rs, set, &base, cause);
		break;
	}
	script_spec_release(&base);
	if (error != 0)
		runner_release(r);
	return (error);
}

void
runner_release(struct runner *r)
{
	size_t	i;

	for (i = 0; i < r->nsteps; i++)
		script_spec_release(&r->steps[i].spec);
	r->nsteps = 0;
	free(r->cache_shared);
	free(r->cache_private);
	free(r->lock_work);
	free(r->lock_state);
	free(r->sensitive);
	r->cache_shared = r->cache_private = NULL;
	r->lock_work = r->lock_state = r->sensitive = NULL;
}

void
runner_step_succeeded(struct runner *r, size_t n)
{
	if (n >= r->nsteps)
		return;
	if (strcmp(r->steps[n].name, "init") == 0) {
		/* What it put in the deployment's cache is shared. */
		if (r->cache_shared != NULL)
			tfcache_sync(r->cache_private, r->cache_shared);
		/* The lock file it wrote is kept for the next runs. */
		if (r->lock_state != NULL)
			copy_file(r->lock_work, r->lock_state);
	}
	/* Destroyed: the sensitive outputs are gone with the resources. */
	if (strcmp(r->steps[n].name, "apply") == 0 && r->sensitive != NULL)
		unlink(r->sensitive);
}

/* Every string inside v, for redaction. */
static void
add_strings(const json_t *v, char ***secrets, size_t *nsecrets)
{
	const json_t	*item;
	const char	*k;
	size_t		 i;

	if (json_is_string(v)) {
		*secrets = xreallocarray(*secrets, *nsecrets + 1,
		    sizeof **secrets);
		(*secrets)[(*nsecrets)++] = xstrdup(json_string_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			add_strings(item, secrets, nsecrets);
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, item)
			add_strings(item, secrets, nsecrets);
	}
}

static char *
sensitive_path(const char *statedir)
{
	return (xasprintf("%s/%s", statedir, RUNNER_SENSITIVE_FILE));
}

/* The deployment's sensitive outputs (an object), or NULL. */
static json_t *
sensitive_load(const char *statedir)
{
	char	*path = sensitive_path(statedir);
	json_t	*all;
	int	 fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return (NULL);
	all = json_loadfd(fd, 0, NULL);
	close(fd);
	if (all != NULL && !json_is_object(all)) {
		json_decref(all);
		all = NULL;
	}
	return (all);
}

/*
 * terraform output -json: {"name": {"sensitive": b, "value": v}, ...}.
 * A sensitive value is stored as "***"; the value itself stays in the
 * deployment's state folder, next to the state that holds it anyway.
 */
static int
terraform_outputs(const struct run_spec *rs, const char *data, size_t len,
    json_t **out, char ***secrets, size_t *nsecrets, char **cause)
{
	json_error_t	 jerr;
	json_t		*all, *o, *v, *sensitive;
	const char	*k;
	char		*path, *dump;
	int		 error = 0;

	if ((all = json_loadb(data, len, 0, &jerr)) == NULL ||
	    !json_is_object(all)) {
		*cause = xasprintf("terraform output -json: %s",
		    all == NULL ? jerr.text : "not an object");
		json_decref(all);
		return (-EINVAL);
	}
	*out = json_object();
	sensitive = json_object();
	json_object_foreach(all, k, o) {
		if ((v = json_object_get(o, "value")) == NULL)
			continue;
		if (json_is_true(json_object_get(o, "sensitive"))) {
			add_strings(v, secrets, nsecrets);
			json_object_set(sensitive, k, v);
			json_object_set_new(*out, k, json_string(RUNNER_REDACTED));
		} else
			json_object_set(*out, k, v);
	}
	json_decref(all);
	if (rs != NULL && rs->statedir != NULL) {
		path = sensitive_path(rs->statedir);
		if (json_object_size(sensitive) == 0)
			unlink(path);
		else {
			dump = json_dumps(sensitive, JSON_COMPACT |
			    JSON_SORT_KEYS);
			error = write_private(path, dump != NULL ? dump : "{}",
			    cause);
			if (dump != NULL) {
				explicit_bzero(dump, strlen(dump));
				free(dump);
			}
		}
		free(path);
	}
	json_decref(sensitive);
	if (error != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return (error);
}

json_t *
runner_sensitive_output(const char *statedir, const char *name,
    char ***secrets, size_t *nsecrets)
{
	json_t	*all, *v;

	if ((all = sensitive_load(statedir)) == NULL)
		return (NULL);
	if ((v = json_object_get(all, name)) != NULL) {
		json_incref(v);
		add_strings(v, secrets, nsecrets);
	}
	json_decref(all);
	return (v);
}

void
runner_sensitive_secrets(const char *statedir, char ***secrets,
    size_t *nsecrets)
{
	json_t	*all;

	if ((all = sensitive_load(statedir)) != NULL) {
		add_strings(all, secrets, nsecrets);
		json_decref(all);
	}
}

int
runner_outputs(const struct runner *r, const struct run_spec *rs,
    const char *captured, size_t len, json_t **out, char ***secrets,
    size_t *nsecrets, char **cause)
{
	*out = NULL;
	*cause = NULL;
	if (r->kind == PROVIDER_TERRAFORM || r->kind == PROVIDER_TOFU)
		return (terraform_outputs(rs, captured != NULL ? captured :
		    "{}", captured != NULL ? len : 2, out, secrets, nsecrets,
		    cause));
	return (script_outputs(rs, out, cause));
}
