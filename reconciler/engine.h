/*
 * The reconcile engine (DESIGN.md section 3): compares each repository's
 * desired state (a model) with what the store recorded, queues runs, and
 * runs them through the providers in dependency order, at most
 * max_parallel_runs at once and never two on one deployment.  Every phase
 * change goes to the store with its reason.
 *
 * The engine lives on the daemon's event loop.  Models come from elsewhere
 * (a worker thread loads them); the engine only reads them and gives each
 * back through the release callback once nothing uses it any more.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "model.h"
#include "store.h"

struct engine_config {
	const char	*state_dir;
	const char	*secrets_dir;	/* NULL: no secrets */
	const char	*credentials_dir; /* $CREDENTIALS_DIRECTORY, or NULL */
	int		 max_parallel_runs;
	int		 prune_limit;
	long		 retry_min;	/* seconds */
	long		 retry_max;
	size_t		 log_max_bytes;	/* per run */
	int		 grace;		/* seconds between TERM and KILL */
};

struct engine;
struct engine_repo;

/* Gives a model back to whoever made it. */
typedef void (*engine_release_cb)(struct model *, void *arg);

struct engine	*engine_new(struct event_base *, struct store *,
		    const struct engine_config *, const unsigned char *key,
		    size_t keylen);
void		 engine_free(struct engine *);
void		 engine_set_config(struct engine *,
		    const struct engine_config *);

struct engine_repo *engine_repo_add(struct engine *, const char *name,
		    int64_t store_id, const char *mirror_dir,
		    engine_release_cb, void *arg);
struct engine_repo *engine_repo_find(struct engine *, const char *name);
/*
 * A repository is held (not reconciled) from engine_repo_add until this
 * call: the daemon makes it once the first fetch is over, so that the
 * commit recorded before a restart only serves to see what was removed.
 */
void		 engine_repo_release_hold(struct engine_repo *);

/*
 * A new desired state for a repository, from commit (40 hex), with the
 * trigger that found it (poll, inotify, webhook, cli, startup).  complete
 * is false when the model could not be read whole: nothing is pruned then.
 */
void		 engine_update(struct engine_repo *, struct model *,
		    const char *commit, const char *trigger);

/*
 * Operator actions on a deployment: "apply", "destroy", "plan" queue a
 * run (*run receives its id); "suspend", "resume", "retry" change what
 * the engine does with it; "approve" approves its plan waiting for
 * approval (see engine_approve) or its destroy held by the prune limit.  -ENOENT: no such deployment; -EBUSY: a run is
 * already queued or running; *cause says why in words.
 */
int		 engine_action(struct engine *, const char *repo,
		    const char *deployment, const char *action,
		    int64_t *run, char **cause);
int		 engine_cancel(struct engine *, int64_t run, char **cause);
/*
 * The operator approves plan run (approval: manual, or a drift check's
 * plan): an apply of exactly that plan is queued (*apply receives its
 * id).  Refused, with *cause, when the run is not the deployment's plan
 * waiting for approval (-EALREADY, -EINVAL), when the desired state moved
 * on since the plan (-ESTALE) or while a run is active (-EBUSY); -ENOENT:
 * no such run.  A refusal is recorded in the deployment's history.
 */
int		 engine_approve(struct engine *, int64_t run, int64_t *apply,
		    char **cause);

/* Number of runs running and queued. */
void		 engine_counts(struct engine *, size_t *running,
		    size_t *queued);

/*
 * Graceful stop: no new run starts; running ones get grace seconds to
 * finish, then are cancelled and recorded as interrupted.  done is called
 * once nothing runs any more.
 */
void		 engine_stop(struct engine *, int grace, void (*done)(void *),
		    void *arg);

/* Called by the engine after each run ends (for the API's followers). */
typedef void (*engine_log_cb)(int64_t run, void *arg);
void		 engine_set_log_hook(struct engine *, engine_log_cb, void *);

/* Called after each phase change (the daemon logs them). */
typedef void (*engine_phase_cb)(const char *deployment, const char *phase,
    const char *reason, const char *cause, void *arg);
void		 engine_set_phase_hook(struct engine *, engine_phase_cb,
		    void *);

/*
 * A run changed state: queued, running, or a final state of DESIGN.md
 * section 3.  Called inside the store transaction that records the change,
 * so that what the callee writes to the store (an outbox row, a ledger
 * mark) commits or rolls back with it; the callee must not commit.  The
 * strings are borrowed for the call.  phase is the deployment's phase
 * after the change; summary is the plan's or apply's, redacted, or NULL.
 */
struct engine_run_event {
	int64_t		 run;
	int64_t		 deployment_id;
	int64_t		 repository_id;
	const char	*repository;
	const char	*deployment;
	const char	*action;	/* plan, apply, destroy */
	const char	*trigger;
	const char	*commit;	/* 40 hex: the source commit */
	const char	*state;		/* queued, running, succeeded... */
	const char	*phase;
	const char	*cause;		/* redacted; NULL while not final */
	const char	*summary;
	int64_t		 pull;		/* a pull request's preview; 0: not */
};
typedef void (*engine_run_cb)(const struct engine_run_event *, void *arg);
void		 engine_set_run_hook(struct engine *, engine_run_cb, void *);

/*
 * Pull requests (engine-pull.c): the deployments a pull request changes,
 * planned in isolation.  A preview run plans one deployment at the pull
 * request's head with a scratch copy of its state folder: it never
 * changes a phase, the applied state, the retry backoff, the deployment's
 * active or last run, and it does not hold the deployment's run slot; it
 * counts within max_parallel_runs, after the branch's own runs, at most
 * ENGINE_PULL_MAX_PLANS per head.  Its trigger is "pull-request" and its
 * events carry the pull request's number.
 */
/* Plans queued for one head at most; other changes are only listed. */
#define ENGINE_PULL_MAX_PLANS	50

enum engine_pull_change {
	ENGINE_PULL_CHANGED,	/* its fingerprint differs from the branch's */
	ENGINE_PULL_ADDED,	/* not on the branch */
	ENGINE_PULL_REMOVED,	/* gone at the head: merging would destroy it */
	ENGINE_PULL_INVALID,	/* does not validate at the head */
};

struct engine_pull_item {
	char			*deployment;
	enum engine_pull_change	 change;
	/*
	 * Why it is not planned: the FILE:LINE errors of an invalid one
	 * (one per line), or why its inputs cannot be resolved.  NULL when
	 * a preview run was queued.
	 */
	char			*cause;
	bool			 error;	/* not planned because of an error */
	int64_t			 run;	/* the preview run, 0: none */
};

/*
 * Queue a preview run for every deployment of m (the model of commit, the
 * pull request's head) whose desired state differs from the branch's,
 * and list each deployment that differs in *items (sorted by name).  The
 * engine takes m and gives it back through the repository's release
 * callback.  cb is called, inside the store transaction, on each change
 * of state of these runs (as the run hook is).  Joins the caller's store
 * transaction.
 */
void		 engine_pull_plan(struct engine_repo *, int64_t pull,
		    struct model *m, const char *commit, engine_run_cb cb,
		    void *arg, struct engine_pull_item **items, size_t *n);
void		 engine_pull_items_free(struct engine_pull_item *, size_t);
/*
 * Cancel the pull request's queued and running preview runs (why: the
 * cause they record); *n counts them.
 */
void		 engine_pull_cancel(struct engine_repo *, int64_t pull,
		    const char *why, size_t *n);
const char	*engine_pull_change_name(enum engine_pull_change);

#endif
