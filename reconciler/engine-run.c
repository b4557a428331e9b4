/*
 * One run, from the queue to its end: a fresh copy of the blueprint, the
 * resolved inputs, the provider's process, its output redacted, capped and
 * stored as it arrives, then the result, the outputs and the deployment's
 * new phase.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "engine-int.h"
#include "workspace.h"
#include "xmalloc.h"

#define ERUN_FLUSH_BYTES	(256 * 1024)
#define ERUN_FLUSH_MS		100
#define ERUN_TAIL_BYTES		(256 * 1024)

static void	erun_finish(struct erun *, const char *state, int exit_code,
		    const char *cause, const char *outputs);
static void	erun_step(struct erun *);
static void	erun_done(struct erun *);

static const char *
action_phase(enum provider_action action)
{
	switch (action) {
	case PROVIDER_APPLY:
		return ("applying");
	case PROVIDER_DESTROY:
		return ("destroying");
	default:
		return (NULL);
	}
}

int64_t
erun_queue(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, const struct store_deployment *row,
    enum provider_action action, const char *trigger,
    const char *fingerprint, const char *reason, bool operator)
{
	struct engine	*e = r->e;
	struct erun	*run;
	int64_t		 id;
	const char	*phase;

	if (store_run_insert(e->store, row->id, provider_action_name(action),
	    trigger, em->commit, fingerprint, &id) != 0)
		return (0);
	if ((phase = action_phase(action)) != NULL)
		engine_phase(e, row->id, row->name, phase, id, reason, NULL);
	run = erun_new(r, em, d, row->id, id, action, trigger, fingerprint,
	    operator);
	/* The deployment's slot: a pull request's plan holds none. */
	engine_busy_add(e, run->dep_id, 1);
	erun_report(run, "queued", NULL);
	return (id);
}

/* A queued run of a run's row already stored, at the end of the queue. */
struct erun *
erun_new(struct engine_repo *r, struct emodel *em, const struct deployment *d,
    int64_t dep_id, int64_t id, enum provider_action action,
    const char *trigger, const char *fingerprint, bool operator)
{
	struct erun	*run;

	run = xcalloc(1, sizeof *run);
	run->e = r->e;
	run->repo = r;
	run->em = emodel_ref(em);
	run->d = d;
	run->id = id;
	run->dep_id = dep_id;
	run->name = xstrdup(d->name);
	run->action = action;
	run->trigger = xstrdup(trigger);
	run->fingerprint = xstrdup(fingerprint);
	run->operator = operator;
	run->state = ERUN_QUEUED;
	buf_init(&run->pending, ERUN_FLUSH_BYTES * 4);
	buf_init(&run->captured, RUNNER_CAPTURE_MAX);
	tfjson_init(&run->tf);
	recap_init(&run->recap);
	TAILQ_INSERT_TAIL(&r->e->runs, run, entry);
	return (run);
}

/*
 * Tells the run hook about a change of state; the caller holds the store
 * transaction that recorded it.
 */
void
erun_report(struct erun *run, const char *state, const char *cause)
{
	struct engine		*e = run->e;
	struct engine_run_event	 ev;
	struct store_deployment	 row;
	char			*summary = NULL, *safe = NULL;
	bool			 have;

	if (e->run_cb == NULL && run->pull_cb == NULL)
		return;
	have = store_deployment_get_by_id(e->store, run->dep_id, &row) == 0;
	if (run->summary != NULL && store_run_state_final(state))
		summary = redact_string(run->secrets, run->nsecrets,
		    run->summary);
	memset(&ev, 0, sizeof ev);
	ev.run = run->id;
	ev.deployment_id = run->dep_id;
	ev.repository_id = run->repo->store_id;
	ev.repository = run->repo->name;
	ev.deployment = run->name;
	ev.action = provider_action_name(run->action);
	ev.trigger = run->trigger;
	ev.commit = run->em->commit;
	ev.state = state;
	ev.phase = have ? row.phase : NULL;
	if (cause != NULL)
		safe = redact_string(run->secrets, run->nsecrets, cause);
	ev.cause = safe;
	ev.summary = summary;
	ev.pull = run->pull;
	if (run->pull_cb != NULL)
		run->pull_cb(&ev, run->pull_arg);
	if (e->run_cb != NULL)
		e->run_cb(&ev, e->run_arg);
	free(safe);
	free(summary);
	if (have)
		store_deployment_release(&row);
}

void
erun_free(struct erun *run)
{
	size_t	i;

	if (run == NULL)
		return;
	TAILQ_REMOVE(&run->e->runs, run, entry);
	if (run->pull == 0) {
		engine_busy_add(run->e, run->dep_id, -1);
		if (run->repo != NULL && run->name != NULL)
			etouch_run_ended(run->repo, run->name);
	}
	if (run->proc != NULL)
		proc_free(run->proc);
	if (run->flush_ev != NULL)
		event_free(run->flush_ev);
	runner_release(&run->runner);
	buf_release(&run->captured);
	tfjson_release(&run->tf);
	recap_release(&run->recap);
	free(run->summary);
	logcap_release(&run->cap);
	redact_free(run->redact);
	buf_release(&run->pending);
	json_decref(run->inputs);
	for (i = 0; i < run->nenv; i++)
		free(run->env[i]);
	free(run->env);
	for (i = 0; i < run->nsecrets; i++) {
		explicit_bzero(run->secrets[i], strlen(run->secrets[i]));
		free(run->secrets[i]);
	}
	free(run->secrets);
	if (run->rundir != NULL) {
		workspace_remove(run->rundir);
		free(run->rundir);
	}
	free(run->workdir);
	free(run->statedir);
	free(run->name);
	free(run->trigger);
	free(run->fingerprint);
	free(run->cancel_why);
	free(run->plan_file);
	engine_emodel_unref(run->em);
	free(run);
}

struct erun *
erun_find(struct engine *e, int64_t id)
{
	struct erun	*run;

	/*
	 * From the newest: callers look up the run they have just queued,
	 * and a walk from the head made a first load quadratic.
	 */
	TAILQ_FOREACH_REVERSE(run, &e->runs, erun_list, entry) {
		if (run->id == id)
			return (run);
	}
	return (NULL);
}

/* A run that never started: recorded with its state, then dropped. */
void
erun_abandon(struct erun *run, const char *state, const char *cause)
{
	struct engine	*e = run->e;

	store_begin(e->store);
	store_run_finish(e->store, run->id, state, -1, cause, NULL);
	/* A plan (a drift check, a pull request's) never made anything fail. */
	if (strcmp(state, "interrupted") == 0 &&
	    run->action != PROVIDER_PLAN && run->pull == 0)
		engine_phase(e, run->dep_id, run->name, "failed", run->id,
		    "interrupted", cause);
	erun_report(run, state, cause);
	store_commit(e->store);
	erun_free(run);
}

/* Store what the provider wrote so far. */
static void
erun_flush(struct erun *run)
{
	if (run->pending.len == 0)
		return;
	store_log_append(run->e->store, run->id, run->pending.data,
	    run->pending.len);
	buf_reset(&run->pending);
	if (run->e->log_cb != NULL)
		run->e->log_cb(run->id, run->e->log_arg);
}

static void
erun_flush_timer(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	erun_flush(arg);
}

static void
erun_store_bytes(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;
	struct timeval	 tv = { 0, ERUN_FLUSH_MS * 1000 };

	if (run->pending.len + len > ERUN_FLUSH_BYTES)
		erun_flush(run);
	if (len > ERUN_FLUSH_BYTES) {
		store_log_append(run->e->store, run->id, data, len);
		return;
	}
	buf_add(&run->pending, data, len);
	if (!evtimer_pending(run->flush_ev, NULL))
		evtimer_add(run->flush_ev, &tv);
}

static void
erun_capped(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;

	logcap_add(&run->cap, data, len, erun_store_bytes, run);
}

static void
erun_output(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;

	redact_add(run->redact, data, len, erun_capped, run);
}

/* Write a line of our own into the run's log. */
static void
erun_note(struct erun *run, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
erun_note(struct erun *run, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, *line;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	line = xasprintf("[cloudsphere] %s\n", s);
	erun_output(line, strlen(line), run);
	free(line);
	free(s);
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char	*p = xstrdup(path), *s;
	int	 error = 0;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			error = -errno;
			break;
		}
		*s = '/';
	}
	if (error == 0 && mkdir(p, mode) != 0 && errno != EEXIST)
		error = -errno;
	free(p);
	return (error);
}

struct run_resolve {
	struct erun		*run;
};

static int
run_secret(void *arg, const char *name, char **value, char **cause)
{
	struct erun	*run = arg;
	int		 error;

	if ((error = engine_secret(run->e, name, value, cause)) != 0)
		return (error);
	run->secrets = xreallocarray(run->secrets, run->nsecrets + 1,
	    sizeof *run->secrets);
	run->secrets[run->nsecrets++] = xstrdup(*value);
	return (0);
}

static json_t *
run_output(void *arg, const char *dep, const char *output)
{
	struct erun		*run = arg;
	struct store_deployment	 row;
	json_t			*all, *v = NULL;

	if (store_deployment_get(run->e->store, run->repo->store_id, dep,
	    &row) != 0)
		return (NULL);
	if (row.outputs != NULL && row.applied_fingerprint != NULL &&
	    (all = json_loads(row.outputs, 0, NULL)) != NULL) {
		if ((v = json_object_get(all, output)) != NULL)
			json_incref(v);
		json_decref(all);
	}
	store_deployment_release(&row);
	/* A sensitive output: its value from the upstream's state folder. */
	if (json_is_string(v) &&
	    strcmp(json_string_value(v), RUNNER_REDACTED) == 0) {
		char	*dir = xasprintf("%s/deployments/%s/%s",
		    run->e->state_dir, run->repo->name, dep);
		json_t	*secret = runner_sensitive_output(dir, output,
		    &run->secrets, &run->nsecrets);

		free(dir);
		if (secret != NULL) {
			json_decref(v);
			v = secret;
		}
	}
	return (v);
}

static void	erun_exited(const struct proc_result *, void *);

/* Everything before the provider's process; a cause on failure. */
static int
erun_prepare(struct erun *run, char **cause)
{
	struct engine		*e = run->e;
	struct engine_repo	*r = run->repo;
	const struct deployment	*d = run->d;
	const struct blueprint	*bp = d->blueprint;
	struct resolver		 res = { .commit = run->em->commit,
	    .arg = run, .secret = run_secret, .output = run_output,
	    .key = e->key, .keylen = e->keylen };
	struct runner_settings	 settings;
	json_t			*env = NULL, *v;
	const char		*k;
	git_repository		*git;
	char			*tmp, *plugin_cache = NULL;
	int			 error;

	run->statedir = xasprintf("%s/deployments/%s/%s", e->state_dir,
	    r->name, d->name);
	run->rundir = xasprintf("%s/runs/%lld", e->state_dir,
	    (long long)run->id);
	run->workdir = xasprintf("%s/work", run->rundir);
	if (run->pull != 0) {
		/* A preview works on a copy: the real state stays as it is. */
		tmp = run->statedir;
		run->statedir = xasprintf("%s/state", run->rundir);
		if ((error = mkdir_p(run->rundir, 0700)) == 0)
			error = erun_pull_state(tmp, run->statedir, cause);
		else
			*cause = xasprintf("cannot create %s: %s",
			    run->rundir, strerror(-error));
		free(tmp);
		if (error != 0)
			return (error);
	}
	if ((error = mkdir_p(run->statedir, 0700)) != 0 ||
	    (error = mkdir_p(run->rundir, 0700)) != 0) {
		*cause = xasprintf("cannot create %s: %s", run->rundir,
		    strerror(-error));
		return (error);
	}
	/*
	 * A handle on the mirror for this checkout only: kept for good, one
	 * per repository, it cost about 10 KiB each (its parsed config files,
	 * caches), and held packs the fetch's roll-up has since removed.
	 */
	if (git_repository_open_bare(&git, r->mirror_dir) != 0) {
		*cause = xasprintf("cannot open %s", r->mirror_dir);
		return (-EIO);
	}
	error = workspace_checkout(run->workdir, git, &bp->tree, cause);
	git_repository_free(git);
	if (error != 0)
		return (error);

	if ((error = model_resolve(&run->inputs, &env, d, &res, RESOLVE_REAL,
	    cause)) != 0)
		return (error);
	if (env != NULL) {
		run->env = xcalloc(json_object_size(env) + 1,
		    sizeof *run->env);
		json_object_foreach(env, k, v)
			run->env[run->nenv++] = xasprintf("%s=%s", k,
			    json_is_string(v) ? json_string_value(v) : "");
		json_decref(env);
	}
	/* This deployment's own sensitive outputs, should a tool print them. */
	runner_sensitive_secrets(run->statedir, &run->secrets, &run->nsecrets);
	run->redact = redact_new(run->secrets, run->nsecrets);

	tmp = xasprintf("%s/tmp", run->rundir);
	mkdir(tmp, 0700);
	free(tmp);
	run->spec.action = provider_action_name(run->action);
	run->spec.deployment = d->name;
	run->spec.environment = d->environment->name;
	run->spec.commit = run->em->commit;
	run->spec.workdir = run->workdir;
	run->spec.statedir = run->statedir;
	run->spec.rundir = run->rundir;
	run->spec.inputs = run->inputs;
	run->spec.runner_env = (const char *const *)run->env;
	run->spec.command = (const char *const *)bp->command;
	run->spec.ncommand = bp->ncommand;
	run->spec.timeout = (int)bp->timeout[run->action];
	run->spec.plan_timeout = (int)bp->timeout[PROVIDER_PLAN];
	run->spec.grace = e->cfg.grace;
	settings.playbook = bp->playbook;
	settings.inventory = bp->inventory;
	settings.destroy_playbook = bp->destroy_playbook;
	/* tofu blueprints run tofu unless the environment names a binary. */
	settings.terraform_binary = d->environment->terraform_binary;
	if (bp->provider->kind == PROVIDER_TOFU &&
	    strcmp(settings.terraform_binary, "terraform") == 0)
		settings.terraform_binary = "tofu";
	plugin_cache = xasprintf("%s/plugin-cache", e->state_dir);
	mkdir(plugin_cache, 0700);
	settings.plugin_cache = plugin_cache;
	settings.no_lock = run->pull != 0;
	if ((error = eplan_prepare(run, &settings, cause)) == 0)
		error = runner_prepare(&run->runner, bp->provider, &run->spec,
		    &settings, cause);
	free(plugin_cache);
	return (error);
}

static void
erun_start(struct erun *run)
{
	struct engine	*e = run->e;
	char		*cause = NULL;

	run->state = ERUN_RUNNING;
	e->running++;
	store_begin(e->store);
	store_run_start(e->store, run->id);
	erun_report(run, "running", NULL);
	store_commit(e->store);
	logcap_init(&run->cap, e->cfg.log_max_bytes > ERUN_TAIL_BYTES ?
	    e->cfg.log_max_bytes - ERUN_TAIL_BYTES : e->cfg.log_max_bytes / 2,
	    e->cfg.log_max_bytes > ERUN_TAIL_BYTES ? ERUN_TAIL_BYTES :
	    e->cfg.log_max_bytes / 2);
	run->flush_ev = evtimer_new(e->base, erun_flush_timer, run);
	if (erun_prepare(run, &cause) != 0) {
		if (run->redact == NULL)
			run->redact = redact_new(run->secrets, run->nsecrets);
		erun_note(run, "%s", cause);
		erun_finish(run, "failed", -1, cause, NULL);
		free(cause);
		return;
	}
	erun_note(run, "%s of %s at %.12s (run %lld, %s, %s)",
	    provider_action_name(run->action), run->name, run->em->commit,
	    (long long)run->id, run->trigger, run->d->blueprint->provider->name);
	run->step = 0;
	erun_step(run);
}

/* Where a capture step's standard output goes. */
static void
erun_capture(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;

	buf_add(&run->captured, data, len);
}

/* terraform -json: the human messages go to the log. */
static void
erun_tfjson(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;

	tfjson_feed(&run->tf, data, len, erun_output, run);
}

/* ansible-playbook: read for its recap on the way to the log. */
static void
erun_recap(const char *data, size_t len, void *arg)
{
	struct erun	*run = arg;

	recap_feed(&run->recap, data, len);
	erun_output(data, len, run);
}

/* Start the current step, skipping what the plan made useless. */
static void
erun_step(struct erun *run)
{
	struct runner_step	*s;
	char			*cause = NULL;

	while (run->step < run->runner.nsteps &&
	    run->runner.steps[run->step].if_changes && !run->changes) {
		erun_note(run, "%s: skipped, the plan has no changes",
		    run->runner.steps[run->step].name);
		run->step++;
	}
	if (run->step == run->runner.nsteps) {
		erun_done(run);
		return;
	}
	s = &run->runner.steps[run->step];
	if (run->runner.nsteps > 1)
		erun_note(run, "%s", s->name);
	proc_free(run->proc);
	run->proc = NULL;
	tfjson_release(&run->tf);
	tfjson_init(&run->tf);
	if (proc_spawn(&run->proc, &s->spec, s->capture ? erun_capture :
	    s->parser == RUNNER_TFJSON ? erun_tfjson :
	    s->parser == RUNNER_RECAP ? erun_recap : erun_output,
	    erun_exited, run, &cause) != 0) {
		erun_note(run, "%s", cause);
		erun_finish(run, "failed", -1, cause, NULL);
		free(cause);
	}
}

void
erun_start_queued(struct engine *e)
{
	struct erun	*run, *next;
	int		 previews;

	/* The branch's runs first: pull requests' plans take what is left. */
	for (previews = 0; previews < 2; previews++) {
		TAILQ_FOREACH_SAFE(run, &e->runs, entry, next) {
			if (e->stopping ||
			    e->running >= (size_t)e->cfg.max_parallel_runs)
				return;
			if (run->state == ERUN_QUEUED &&
			    (run->pull != 0) == (previews == 1))
				erun_start(run);
		}
	}
}

/* Outputs to store: a JSON object with secret values redacted. */
static char *
erun_outputs(struct erun *run, json_t **outputs, char **cause)
{
	char	*dump, *safe;

	*outputs = NULL;
	if (runner_outputs(&run->runner, &run->spec, run->captured.data,
	    run->captured.len, outputs, &run->secrets, &run->nsecrets,
	    cause) != 0)
		return (NULL);
	dump = json_dumps(*outputs, JSON_COMPACT | JSON_SORT_KEYS);
	if (dump == NULL)
		return (NULL);
	safe = redact_string(run->secrets, run->nsecrets, dump);
	free(dump);
	return (safe);
}

/* All steps went well. */
static void
erun_done(struct erun *run)
{
	json_t	*outputs = NULL;
	char	*stored = NULL, *cause = NULL;

	if (run->action == PROVIDER_APPLY &&
	    (stored = erun_outputs(run, &outputs, &cause)) == NULL) {
		erun_note(run, "failed: %s", cause);
		erun_finish(run, "failed", run->last_exit, cause, NULL);
		free(cause);
		return;
	}
	if (run->summary != NULL)
		erun_note(run, "%s", run->summary);
	if (run->action == PROVIDER_PLAN)
		cause = xstrdup(run->changes ? "changes" : "no changes");
	else if (run->runner.nsteps == 1)
		cause = xstrdup("exited 0");
	else if (!run->changes)
		cause = xstrdup("no changes");
	else
		cause = xstrdup(run->action == PROVIDER_APPLY ? "applied" :
		    "destroyed");
	erun_note(run, "succeeded: %s", cause);
	erun_finish(run, "succeeded", run->last_exit, cause, stored);
	json_decref(outputs);
	free(stored);
	free(cause);
}

static void
erun_exited(const struct proc_result *pr, void *arg)
{
	struct erun		*run = arg;
	struct runner_step	*s = &run->runner.steps[run->step];
	char			*cause, *summary, *detail;
	const char		*state = NULL;

	run->last_exit = pr->exit_code;
	if (s->parser == RUNNER_TFJSON) {
		tfjson_finish(&run->tf, erun_output, run);
		if ((summary = tfjson_summary(&run->tf)) != NULL) {
			if (s->plan || run->summary == NULL) {
				free(run->summary);
				run->summary = summary;
			} else
				free(summary);
		}
	} else if (s->parser == RUNNER_RECAP) {
		recap_finish(&run->recap);
		free(run->summary);
		run->summary = recap_summary(&run->recap);
	}
	if (pr->cancelled)
		state = run->interrupted ? "interrupted" : "cancelled";
	else if (pr->timed_out)
		state = "timed-out";
	else if (s->plan && (pr->exit_code == 0 || pr->exit_code == 2))
		run->changes = pr->exit_code == 2;
	else if (pr->exit_code != 0)
		state = "failed";
	else if (s->parser == RUNNER_RECAP && run->action == PROVIDER_PLAN)
		run->changes = run->recap.changed > 0;	/* --check --diff */
	if (state == NULL) {
		if (s->capture && run->captured.len == 0 && pr->exit_code != 0)
			state = "failed";
		else {
			if (pr->exit_code == 0)
				runner_step_succeeded(&run->runner, run->step);
			run->step++;
			erun_step(run);
			return;
		}
	}
	detail = NULL;
	if (strcmp(state, "failed") == 0 && s->parser == RUNNER_TFJSON)
		detail = tfjson_cause(&run->tf);
	else if (strcmp(state, "failed") == 0 && s->parser == RUNNER_RECAP)
		detail = recap_cause(&run->recap, pr->exit_code);
	if (run->interrupted)
		cause = xstrdup("interrupted: the daemon stopped");
	else if (detail != NULL && s->parser == RUNNER_TFJSON)
		cause = xasprintf("%s: %s: %s", s->name, pr->cause, detail);
	else if (detail != NULL)
		cause = xstrdup(detail);
	else if (run->runner.nsteps > 1)
		cause = xasprintf("%s: %s", s->name, pr->cause);
	else
		cause = xstrdup(pr->cause);
	free(detail);
	erun_note(run, "%s: %s", state, cause);
	erun_finish(run, state, pr->exit_code, cause, NULL);
	free(cause);
}

static void
erun_finish(struct erun *run, const char *state, int exit_code,
    const char *raw_cause, const char *outputs)
{
	struct engine		*e = run->e;
	struct store_deployment	 row;
	bool			 ok = strcmp(state, "succeeded") == 0;
	int64_t			 id = run->id;
	char			*cause;

	/*
	 * A cause may quote the provider's own words (Terraform's or
	 * Ansible's error): redacted before the store, the API and the
	 * ledger see it.
	 */
	cause = raw_cause != NULL ? redact_string(run->secrets, run->nsecrets,
	    raw_cause) : NULL;
	redact_finish(run->redact, erun_capped, run);
	logcap_finish(&run->cap, erun_store_bytes, run);
	erun_flush(run);
	store_begin(e->store);
	store_run_finish(e->store, run->id, state, exit_code, cause, outputs);
	if (run->summary != NULL) {
		char *safe = redact_string(run->secrets, run->nsecrets,
		    run->summary);

		store_run_set_summary(e->store, run->id, safe);
		free(safe);
	}
	if (run->pull == 0 &&
	    store_deployment_get_by_id(e->store, run->dep_id, &row) == 0) {
		if (eplan_finish(run, &row, state, cause))
			;	/* a plan for approval or a drift check */
		else if (run->action == PROVIDER_APPLY && ok) {
			store_deployment_set_applied(e->store, row.id,
			    run->em->commit, run->fingerprint, outputs);
			store_deployment_set_retry(e->store, row.id, 0, 0);
			engine_phase(e, row.id, row.name, "ready", run->id,
			    "applied", NULL);
		} else if (run->action == PROVIDER_DESTROY && ok) {
			store_deployment_set_applied(e->store, row.id, NULL,
			    NULL, NULL);
			store_deployment_set_retry(e->store, row.id, 0, 0);
			engine_phase(e, row.id, row.name, "destroyed", run->id,
			    "destroyed", NULL);
		} else if (run->action != PROVIDER_PLAN &&
		    strcmp(state, "interrupted") == 0) {
			engine_phase(e, row.id, row.name, "failed", run->id,
			    "interrupted", cause);
		} else if (run->action != PROVIDER_PLAN) {
			int	failures = row.failures + 1;
			int64_t	at = engine_now_ms() + engine_backoff_ms(e,
			    failures);

			store_deployment_set_retry(e->store, row.id, failures,
			    at);
			engine_phase(e, row.id, row.name, "failed", run->id,
			    run->action == PROVIDER_APPLY ? "apply failed" :
			    "destroy failed", cause);
		}
		store_deployment_release(&row);
	}
	erun_report(run, state, cause);
	store_commit(e->store);
	free(cause);
	if (run->state == ERUN_RUNNING)
		e->running--;
	erun_free(run);
	if (e->log_cb != NULL)
		e->log_cb(id, e->log_arg);
	if (e->stopping) {
		if (e->running == 0 && e->stop_done != NULL) {
			void	(*done)(void *) = e->stop_done;

			e->stop_done = NULL;
			done(e->stop_arg);
		}
		return;
	}
	engine_kick(e);
}

int
engine_cancel(struct engine *e, int64_t id, char **cause)
{
	struct erun	*run;

	*cause = NULL;
	TAILQ_FOREACH(run, &e->runs, entry) {
		if (run->id != id)
			continue;
		if (run->state == ERUN_QUEUED)
			erun_abandon(run, "cancelled", "cancelled by the operator");
		else
			proc_cancel(run->proc, "by the operator");
		return (0);
	}
	*cause = xasprintf("run %lld is not queued or running", (long long)id);
	return (-ENOENT);
}

static void
engine_stop_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct engine	*e = arg;
	struct erun	*run;

	(void)fd;
	(void)events;
	TAILQ_FOREACH(run, &e->runs, entry) {
		if (run->state == ERUN_RUNNING && run->proc != NULL) {
			run->interrupted = true;
			proc_cancel(run->proc, "the daemon stopped");
		}
	}
}

void
engine_stop(struct engine *e, int grace, void (*done)(void *), void *arg)
{
	struct erun	*run, *next;
	struct timeval	 tv = { grace, 0 };

	e->stopping = true;
	TAILQ_FOREACH_SAFE(run, &e->runs, entry, next) {
		if (run->state == ERUN_QUEUED)
			erun_abandon(run, "interrupted",
			    "interrupted: the daemon stopped before it started");
	}
	if (e->running == 0) {
		done(arg);
		return;
	}
	e->stop_done = done;
	e->stop_arg = arg;
	e->stop_ev = evtimer_new(e->base, engine_stop_timeout, e);
	evtimer_add(e->stop_ev, &tv);
}
