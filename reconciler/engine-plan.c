/*
 * Plans that wait for approval (policy.approval: manual), and applies of
 * exactly such a plan.
 *
 * A deployment that needs an apply is planned first.  A plan with changes
 * is kept, and the deployment waits in phase planned until the operator
 * approves that plan's run; a plan without changes makes it ready with no
 * apply.  What an apply of the plan needs is kept with it: Terraform's
 * plan file moves out of the run's folder (removed when the run ends) to
 * the deployment's state folder, plans/RUN.tfplan, until it is applied or
 * replaced; for the other providers the plan run's commit and fingerprint
 * say what is applied.  An approval is refused once the desired state
 * moved on; a new desired state supersedes the waiting plan with a new
 * one.  Drift checks (engine-drift.c) keep their plans the same way, so
 * that a drift found can be approved too.
 *
 * In the store, the plan run's approval says what became of it (waiting,
 * approved, superseded, discarded), an apply's plan_run_id which plan it
 * carries out, and history lines record approvals and refusals.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "engine-int.h"
#include "xmalloc.h"

static bool
same(const char *a, const char *b)
{
	return ((a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0));
}

/* A phase change, unless the row already says it. */
static void
eplan_phase(struct engine *e, const struct store_deployment *row,
    const char *phase, int64_t run, const char *reason, const char *cause)
{
	if (strcmp(row->phase, phase) == 0 && same(row->cause, cause))
		return;
	engine_phase(e, row->id, row->name, phase, run, reason, cause);
}

static char *
eplan_dir(struct engine *e, const char *repo, const char *dep)
{
	return (xasprintf("%s/deployments/%s/%s/plans", e->state_dir, repo,
	    dep));
}

static char *
eplan_path(struct engine *e, const char *repo, const char *dep, int64_t run)
{
	return (xasprintf("%s/deployments/%s/%s/plans/%lld.tfplan",
	    e->state_dir, repo, dep, (long long)run));
}

/* Remove the kept plan files of a deployment but keep's. */
static void
eplan_clean(struct engine *e, const char *repo, const char *dep, int64_t keep)
{
	char		*dir = eplan_dir(e, repo, dep), *path, *end;
	DIR		*dp;
	struct dirent	*de;
	long long	 id;

	if ((dp = opendir(dir)) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		id = strtoll(de->d_name, &end, 10);
		if (id == keep && strcmp(end, ".tfplan") == 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		unlink(path);
		free(path);
	}
	closedir(dp);
	free(dir);
}

/* Every waiting plan of the deployment is over: nothing to approve. */
static void
eplan_retire(struct engine *e, const struct store_deployment *row,
    const char *approval)
{
	store_plan_retire(e->store, row->id, 0, approval, NULL);
	eplan_clean(e, row->repository, row->name, 0);
}

static bool
eplan_has_file(const struct erun *run)
{
	return (run->runner.kind == PROVIDER_TERRAFORM ||
	    run->runner.kind == PROVIDER_TOFU);
}

/*
 * Keep what the plan run made so that it can be approved: its plan file,
 * out of the run's folder; it becomes the deployment's one waiting plan.
 */
static int
eplan_keep(struct erun *run, char **cause)
{
	struct engine	*e = run->e;
	char		*dir, *from, *to;
	int		 error = 0;

	*cause = NULL;
	if (eplan_has_file(run)) {
		dir = eplan_dir(e, run->repo->name, run->name);
		from = xasprintf("%s/plan.tfplan", run->rundir);
		to = eplan_path(e, run->repo->name, run->name, run->id);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			error = -errno;
		else if (rename(from, to) != 0)
			error = -errno;
		if (error != 0)
			*cause = xasprintf("cannot keep the plan file %s: %s",
			    to, strerror(-error));
		free(dir);
		free(from);
		free(to);
		if (error != 0)
			return (error);
	}
	store_plan_retire(e->store, run->dep_id, run->id, "superseded", NULL);
	store_run_set_approval(e->store, run->id, "waiting");
	eplan_clean(e, run->repo->name, run->name, run->id);
	return (0);
}

/* The plan's summary, redacted, or words when the provider gave none. */
static char *
eplan_summary(const struct erun *run)
{
	if (run->summary == NULL)
		return (xstrdup("the plan has changes"));
	return (redact_string(run->secrets, run->nsecrets, run->summary));
}

/*
 * Queue an apply of plan run plan (its commit and fingerprint): the
 * stored plan file for Terraform, the provider's apply for the others.
 */
static int64_t
eplan_apply(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, const struct store_deployment *row,
    int64_t plan, const char *fingerprint, const char *trigger,
    const char *reason, bool operator)
{
	struct engine	*e = r->e;
	struct erun	*run;
	int64_t		 id;

	store_begin(e->store);
	id = erun_queue(r, em, d, row, PROVIDER_APPLY, trigger, fingerprint,
	    reason, operator);
	if (id > 0 && (run = erun_find(e, id)) != NULL) {
		run->plan_run = plan;
		run->changes = true;	/* what the plan said */
		store_run_set_plan(e->store, id, plan);
		store_run_set_approval(e->store, plan, "approved");
	}
	store_commit(e->store);
	return (id);
}

void
eplan_gate(struct engine_repo *r, struct emodel *em,
    const struct deployment *d, const struct store_deployment *row,
    const char *fp, const char *trigger, const char *reason)
{
	struct engine		*e = r->e;
	struct store_run	 plan;
	struct erun		*run;
	int64_t			 id;
	char			*why, *cause;
	bool			 current;

	if (store_plan_waiting(e->store, row->id, &id) == 0 &&
	    store_run_get(e->store, id, &plan) == 0) {
		current = same(plan.fingerprint, fp);
		if (current && strcmp(row->phase, "planned") != 0) {
			/* Resumed, or its upstream was busy: it still waits. */
			why = xasprintf("plan %lld waits for approval",
			    (long long)id);
			cause = xasprintf("%s; approve with: cloudspherectl approve %lld",
			    plan.summary != NULL ? plan.summary :
			    "the plan has changes", (long long)id);
			eplan_phase(e, row, "planned", id, why, cause);
			free(cause);
			free(why);
		}
		store_run_release(&plan);
		if (current)
			return;		/* it waits for the operator */
		why = xasprintf("plan %lld superseded: the desired state changed at %.12s",
		    (long long)id, em->commit);
		store_run_set_approval(e->store, id, "superseded");
		eplan_clean(e, row->repository, row->name, 0);
		store_deployment_note(e->store, row->id, id, why);
		if (strcmp(row->phase, "planned") == 0) {
			cause = xasprintf("planning again at %.12s",
			    em->commit);
			eplan_phase(e, row, "planned", 0, why, cause);
			free(cause);
		}
		free(why);
	}
	id = erun_queue(r, em, d, row, PROVIDER_PLAN, trigger, fp, reason,
	    false);
	if (id > 0 && (run = erun_find(e, id)) != NULL)
		run->purpose = ERUN_GATE;
}

void
eplan_settled(struct engine *e, const struct store_deployment *row)
{
	size_t	n = 0;

	store_plan_retire(e->store, row->id, 0, "discarded", &n);
	eplan_clean(e, row->repository, row->name, 0);
	eplan_phase(e, row, "ready", 0, n > 0 ?
	    "the repository is back to the applied state: the plan waiting for approval is discarded" :
	    "applied state matches the repository", NULL);
}

int
eplan_prepare(struct erun *run, struct runner_settings *settings,
    char **cause)
{
	const struct provider	*p = run->d->blueprint->provider;

	settings->plan_file = NULL;
	if (run->plan_run <= 0 || (p->kind != PROVIDER_TERRAFORM &&
	    p->kind != PROVIDER_TOFU))
		return (0);
	run->plan_file = eplan_path(run->e, run->repo->name, run->name,
	    run->plan_run);
	if (access(run->plan_file, R_OK) != 0) {
		*cause = xasprintf("the plan file of run %lld is gone (%s): plan again",
		    (long long)run->plan_run, strerror(errno));
		return (-ENOENT);
	}
	settings->plan_file = run->plan_file;
	return (0);
}

/* A plan for approval ended. */
static void
eplan_gate_done(struct erun *run, const struct store_deployment *row,
    const char *state, const char *cause)
{
	struct engine	*e = run->e;
	char		*summary, *why, *c;
	int		 failures;

	if (strcmp(state, "succeeded") == 0 && run->changes) {
		if (eplan_keep(run, &c) != 0) {
			eplan_phase(e, row, "failed", run->id, "plan failed",
			    c);
			free(c);
			return;
		}
		summary = eplan_summary(run);
		why = xasprintf("plan %lld waits for approval",
		    (long long)run->id);
		c = xasprintf("%s; approve with: cloudspherectl approve %lld",
		    summary, (long long)run->id);
		if (strcmp(row->phase, "planned") == 0)	/* a new plan */
			store_deployment_note(e->store, row->id, run->id, why);
		eplan_phase(e, row, "planned", run->id, why, c);
		free(c);
		free(why);
		free(summary);
		return;
	}
	if (strcmp(state, "succeeded") == 0) {
		/* Nothing to do: the real state is the desired one. */
		store_deployment_set_applied(e->store, row->id,
		    run->em->commit, run->fingerprint, row->outputs);
		store_deployment_set_retry(e->store, row->id, 0, 0);
		eplan_retire(e, row, "discarded");
		why = xasprintf("plan %lld has no changes", (long long)run->id);
		engine_phase(e, row->id, row->name, "ready", run->id, why,
		    NULL);
		free(why);
		return;
	}
	if (strcmp(state, "interrupted") == 0) {
		engine_phase(e, row->id, row->name, "failed", run->id,
		    "interrupted", cause);
		return;
	}
	failures = row->failures + 1;
	store_deployment_set_retry(e->store, row->id, failures,
	    engine_now_ms() + engine_backoff_ms(e, failures));
	engine_phase(e, row->id, row->name, "failed", run->id, "plan failed",
	    cause);
}

/*
 * A drift check ended.  It never fails the deployment: a failed check is
 * a failed run, and the next check comes at its time.
 */
static void
eplan_drift_done(struct erun *run, const struct store_deployment *row,
    const char *state)
{
	struct engine	*e = run->e;
	const struct deployment *d = run->d;
	char		*summary, *why, *c, *keep = NULL;
	bool		 correct;
	size_t		 n = 0;

	store_deployment_set_drift_checked(e->store, row->id, engine_now_ms());
	if (strcmp(state, "succeeded") != 0)
		return;
	if (!run->changes) {
		store_plan_retire(e->store, row->id, 0, "discarded", &n);
		eplan_clean(e, row->repository, row->name, 0);
		if (strcmp(row->phase, "drifted") == 0) {
			why = xasprintf("drift check %lld found no changes",
			    (long long)run->id);
			engine_phase(e, row->id, row->name, "ready", run->id,
			    why, NULL);
			free(why);
		}
		return;
	}
	/*
	 * Corrected at once only with approval auto, and only while the
	 * repository still says what was checked.
	 */
	correct = d->policy.drift == DRIFT_CORRECT &&
	    d->policy.approval == APPROVAL_AUTO && run->em == run->repo->cur &&
	    !e->stopping;
	if (eplan_keep(run, &keep) != 0)
		correct = false;
	summary = eplan_summary(run);
	c = xasprintf("drift: %s", summary);
	if (correct)
		why = xasprintf("drift check %lld found changes: correcting",
		    (long long)run->id);
	else if (keep != NULL)
		why = xasprintf("drift check %lld found changes (%s)",
		    (long long)run->id, keep);
	else
		why = xasprintf("drift check %lld found changes; apply them with: cloudspherectl approve %lld",
		    (long long)run->id, (long long)run->id);
	if (strcmp(row->phase, "drifted") != 0)
		engine_phase(e, row->id, row->name, "drifted", run->id, why,
		    c);
	else if (!same(row->cause, c)) {
		/* Still drifted, differently: once in the history. */
		store_deployment_note(e->store, row->id, run->id, why);
		engine_phase(e, row->id, row->name, "drifted", run->id, why,
		    c);
	}
	if (correct) {
		free(why);
		why = xasprintf("drift corrected: applying plan %lld",
		    (long long)run->id);
		eplan_apply(run->repo, run->em, d, row, run->id,
		    run->fingerprint, "drift", why, false);
	}
	free(why);
	free(c);
	free(summary);
	free(keep);
}

bool
eplan_finish(struct erun *run, const struct store_deployment *row,
    const char *state, const char *cause)
{
	struct engine	*e = run->e;

	switch (run->action) {
	case PROVIDER_PLAN:
		if (run->purpose == ERUN_GATE) {
			eplan_gate_done(run, row, state, cause);
			return (true);
		}
		if (run->purpose == ERUN_DRIFT) {
			eplan_drift_done(run, row, state);
			return (true);
		}
		return (false);
	case PROVIDER_APPLY:
	case PROVIDER_DESTROY:
		/*
		 * The infrastructure was touched (or the plan used up):
		 * saved plans no longer describe it.
		 */
		eplan_retire(e, row, "superseded");
		if (run->action == PROVIDER_DESTROY && row->destroy_approved &&
		    strcmp(state, "succeeded") == 0)
			store_deployment_set_destroy_approved(e->store, row->id,
			    false);
		return (false);
	default:
		return (false);
	}
}

/* Why plan cannot be approved now, or 0 with its deployment in *d. */
static int
eplan_check(struct engine *e, const struct store_run *plan,
    const struct store_deployment *row, struct engine_repo **rp,
    const struct deployment **dp, char **cause)
{
	struct engine_repo	*r;
	const struct deployment	*d = NULL;
	char			 fp[MODEL_FINGERPRINT_LEN + 1], *c = NULL;
	int64_t			 waiting = 0;
	long long		 id = (long long)plan->id;
	int			 error = -EALREADY;

	if (strcmp(plan->action, "plan") != 0) {
		*cause = xasprintf("run %lld is %s %s, not a plan", id,
		    strcmp(plan->action, "apply") == 0 ? "an" : "a",
		    plan->action);
		return (-EINVAL);
	}
	if (!store_run_state_final(plan->state)) {
		*cause = xasprintf("plan %lld is still %s", id, plan->state);
		return (-EBUSY);
	}
	if (strcmp(plan->state, "succeeded") != 0) {
		*cause = xasprintf("plan %lld did not succeed (%s): nothing to approve",
		    id, plan->state);
		return (-EALREADY);
	}
	if (plan->cause != NULL && strcmp(plan->cause, "no changes") == 0) {
		*cause = xasprintf("plan %lld has no changes: nothing to approve",
		    id);
		return (-EALREADY);
	}
	if (plan->approval != NULL && strcmp(plan->approval, "approved") == 0) {
		*cause = xasprintf("plan %lld was already approved", id);
		return (-EALREADY);
	}
	TAILQ_FOREACH(r, &e->repos, entry) {
		if (r->store_id == row->repository_id)
			break;
	}
	if (r != NULL && r->cur != NULL)
		d = model_deployment(r->cur->m, row->name);
	if (d == NULL || !d->valid) {
		*cause = xasprintf("deployment '%s' is %s", row->name,
		    d == NULL ? "not in the repository any more" : "invalid");
		return (-EALREADY);
	}
	if (engine_busy(e, row->id)) {
		*cause = xasprintf("deployment '%s' has a run queued or running",
		    row->name);
		return (-EBUSY);
	}
	if (d->suspended || row->operator_suspended) {
		*cause = xasprintf("deployment '%s' is suspended: resume it first",
		    row->name);
		return (-EALREADY);
	}
	store_plan_waiting(e->store, row->id, &waiting);
	if (!same(row->desired_fingerprint, plan->fingerprint) ||
	    engine_fingerprint(r, r->cur, d, fp, &c) != 0 ||
	    !same(fp, plan->fingerprint)) {
		free(c);
		*cause = xasprintf("the desired state of '%s' moved on since plan %lld (planned at %.12s, the repository is at %.12s)",
		    row->name, id, plan->commit != NULL ? plan->commit : "-",
		    r->cur->commit);
		error = -ESTALE;
	} else if (plan->approval == NULL)
		*cause = xasprintf("plan %lld was not made for approval: it is an operator's plan",
		    id);
	else if (strcmp(plan->approval, "discarded") == 0)
		*cause = xasprintf("plan %lld was discarded: the deployment needs no apply any more",
		    id);
	else if (strcmp(plan->approval, "waiting") != 0 || waiting != plan->id)
		*cause = xasprintf("plan %lld was superseded by a newer plan",
		    id);
	else {
		*rp = r;
		*dp = d;
		return (0);
	}
	if (waiting > 0 && waiting != plan->id) {
		c = *cause;
		*cause = xasprintf("%s: approve plan %lld instead", c,
		    (long long)waiting);
		free(c);
	}
	return (error);
}

int
engine_approve(struct engine *e, int64_t id, int64_t *apply, char **cause)
{
	struct store_run	 plan;
	struct store_deployment	 row;
	struct engine_repo	*r = NULL;
	const struct deployment	*d = NULL;
	char			*why;
	int			 error;

	*apply = 0;
	*cause = NULL;
	if (store_run_get(e->store, id, &plan) != 0) {
		*cause = xasprintf("no run %lld", (long long)id);
		return (-ENOENT);
	}
	if (store_deployment_get_by_id(e->store, plan.deployment_id,
	    &row) != 0) {
		store_run_release(&plan);
		*cause = xasprintf("no deployment for run %lld", (long long)id);
		return (-ENOENT);
	}
	if ((error = eplan_check(e, &plan, &row, &r, &d, cause)) != 0) {
		why = xasprintf("approval of run %lld refused: %s",
		    (long long)id, *cause);
		store_deployment_note(e->store, row.id, id, why);
		free(why);
		goto out;
	}
	why = xasprintf("plan %lld approved by the operator", (long long)id);
	*apply = eplan_apply(r, r->cur, d, &row, id, plan.fingerprint, "cli",
	    why, true);
	free(why);
	if (*apply <= 0) {
		*cause = xstrdup("cannot queue the apply");
		error = -EIO;
		goto out;
	}
	erun_start_queued(e);
out:
	store_deployment_release(&row);
	store_run_release(&plan);
	return (error);
}

/*
 * approve DEPLOYMENT for a destroy held back by the prune limit: it goes
 * ahead at the next pass.
 */
int
eplan_approve_prune(struct engine *e, const struct store_deployment *row,
    char **cause)
{
	if (strcmp(row->phase, "planned") != 0 ||
	    row->applied_fingerprint == NULL || row->cause == NULL ||
	    strncmp(row->cause, "destroy waits for approval", 26) != 0) {
		*cause = xasprintf("deployment '%s' has no plan waiting for approval",
		    row->name);
		return (-EALREADY);
	}
	store_begin(e->store);
	store_deployment_set_destroy_approved(e->store, row->id, true);
	store_deployment_note(e->store, row->id, 0,
	    "destroy approved by the operator");
	store_commit(e->store);
	engine_kick(e);
	return (0);
}
