/*
 * The daemon's store: one SQLite file in WAL mode with a versioned schema
 * (PRAGMA user_version) migrated forward at open.  Repositories,
 * deployments (phase, desired and applied commit and fingerprint), runs,
 * their logs and every phase transition.  doc/store.md has the schema.
 *
 * Invariants:
 * - Each function that changes state is one transaction; between
 *   store_begin and store_commit the calls join the caller's transaction,
 *   and any failure inside it makes the whole of it roll back (the
 *   outermost store_commit then returns an error).  A crash at any moment
 *   leaves a consistent file.
 * - Run ids are never reused, even after a crash or a rollback; run states
 *   only move queued -> running -> final, or queued -> final.
 * - Log chunks of a run are numbered 1, 2, 3... without gaps.
 * - Times are milliseconds since the epoch (0: never); strings returned in
 *   structs belong to the struct: release it.
 *
 * Errors are negative errno values: -ENOENT (no such row), -EINVAL (a word
 * that is not a phase, action or state), -EALREADY (the run is not in a
 * state that allows it), -EBUSY (a run is active), -EIO (SQLite failed),
 * -ECANCELED (the enclosing transaction already failed).
 */
#ifndef STORE_H
#define STORE_H

#include <sys/uio.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STORE_SCHEMA_VERSION	7
/* "CSPH": refuse to migrate some other program's SQLite file. */
#define STORE_APPLICATION_ID	0x43535048
/* Appends are stored in rows of at most this many bytes. */
#define STORE_LOG_CHUNK		(64 * 1024)

struct store;

struct store_repository {
	int64_t	 id;
	char	*name;
	char	*url;
	char	*branch;
	char	*last_commit;
	char	*last_error;
	int64_t	 updated_at;
};

struct store_deployment {
	int64_t	 id;
	int64_t	 repository_id;
	char	*repository;
	char	*name;
	char	*phase;
	char	*blueprint;
	char	*environment;
	bool	 suspended;		/* in the repository */
	bool	 operator_suspended;	/* by cloudspherectl suspend */
	bool	 destroy_approved;
	char	*desired_commit;
	char	*desired_fingerprint;
	char	*applied_commit;
	char	*applied_fingerprint;
	int64_t	 applied_at;
	char	*cause;
	char	*outputs;		/* JSON object, secrets redacted */
	int64_t	 last_run_id;
	int	 failures;		/* consecutive, for backoff */
	int64_t	 retry_at;
};

struct store_run {
	int64_t	 id;
	int64_t	 deployment_id;
	char	*deployment;
	char	*repository;
	char	*action;		/* plan, apply, destroy */
	char	*trigger;
	char	*commit;
	char	*fingerprint;
	char	*state;
	int	 exit_code;		/* -1: none */
	char	*cause;
	char	*outputs;
	int64_t	 queued_at;
	int64_t	 started_at;
	int64_t	 finished_at;
	int64_t	 log_bytes;		/* stored */
	int64_t	 log_dropped;		/* not stored: over the limit */
	char	*summary;		/* "2 to add, 0 to change, 1 to destroy" */
	char	*approval;		/* a plan's: waiting, approved... */
	int64_t	 plan_run_id;		/* an apply of a stored plan: its run */
	int64_t	 pull;			/* a pull request's preview; 0: none */
};

struct store_transition {
	int64_t	 id;
	int64_t	 run_id;		/* 0: none */
	int64_t	 at;
	char	*from_phase;
	char	*to_phase;
	char	*reason;
};

/* Opening: creates the file (0600) and migrates it; *cause on failure. */
int	store_open(struct store **out, const char *path, char **cause);
void	store_close(struct store *);
/* Schema version of the open file (STORE_SCHEMA_VERSION once open). */
int	store_version(struct store *);

/* Transactions, nestable: only the outermost pair reaches SQLite. */
int	store_begin(struct store *);
int	store_commit(struct store *);
int	store_rollback(struct store *);

/*
 * At daemon start: runs left queued or running become interrupted, and
 * their deployments caught applying or destroying go to failed with no
 * backoff, so that the engine runs them again.  *interrupted counts runs.
 */
int	store_recover(struct store *, size_t *interrupted);

/* RFC 3339 UTC with milliseconds: "2026-11-24T18:07:00.123Z". */
void	store_time_format(int64_t ms, char buf[32]);
int64_t	store_now(void);

/* Words of DESIGN.md section 3. */
bool	store_phase_valid(const char *);
bool	store_run_state_final(const char *);

int	store_repository_upsert(struct store *, const char *name,
	    const char *url, const char *branch, int64_t *id);
int	store_repository_get(struct store *, const char *name,
	    struct store_repository *out);
/* A NULL commit keeps the last one (a failed fetch only sets error). */
int	store_repository_set_commit(struct store *, int64_t id,
	    const char *commit, const char *error);
void	store_repository_release(struct store_repository *);

/*
 * Creates the deployment in phase "pending" unless it exists; a row made
 * for a pull request becomes the branch's.
 */
int	store_deployment_ensure(struct store *, int64_t repository_id,
	    const char *name, int64_t *id);
/*
 * The row a pull request's preview of a deployment is recorded on: the
 * branch's own, or else a hidden one (made for pull request pull) that
 * lists and lookups by name ignore until store_deployment_ensure.
 */
int	store_deployment_ensure_pull(struct store *, int64_t repository_id,
	    const char *name, int64_t pull, int64_t *id);
int	store_deployment_get(struct store *, int64_t repository_id,
	    const char *name, struct store_deployment *out);
int	store_deployment_get_by_id(struct store *, int64_t id,
	    struct store_deployment *out);
/*
 * repository_id 0: all; sorted by repository then name.  Rows only a pull
 * request declared are left out, here and in store_deployment_get.
 */
int	store_deployment_list(struct store *, int64_t repository_id,
	    struct store_deployment **out, size_t *n);
int	store_deployment_set_desired(struct store *, int64_t id,
	    const char *blueprint, const char *environment,
	    const char *commit, const char *fingerprint, bool suspended);
/* NULL commit and fingerprint clear the applied state (after destroy). */
int	store_deployment_set_applied(struct store *, int64_t id,
	    const char *commit, const char *fingerprint, const char *outputs);
/*
 * Sets phase and cause; when the phase changes, records the transition in
 * the same transaction.  run_id 0: none (last_run_id is kept).
 */
int	store_deployment_set_phase(struct store *, int64_t id,
	    const char *phase, int64_t run_id, const char *reason,
	    const char *cause);
int	store_deployment_set_retry(struct store *, int64_t id, int failures,
	    int64_t retry_at);
int	store_deployment_set_operator_suspended(struct store *, int64_t id,
	    bool);
int	store_deployment_set_destroy_approved(struct store *, int64_t id,
	    bool);
/*
 * Forgets a deployment with its runs, logs and transitions; -EBUSY while
 * a run is queued or running.  Removed deployments normally stay, in phase
 * destroyed or orphaned, with their history.
 */
int	store_deployment_delete(struct store *, int64_t id);
void	store_deployment_release(struct store_deployment *);
void	store_deployment_array_free(struct store_deployment *, size_t);

/* Oldest first. */
int	store_transition_list(struct store *, int64_t deployment_id,
	    struct store_transition **out, size_t *n);
void	store_transition_release(struct store_transition *);
void	store_transition_array_free(struct store_transition *, size_t);

/* A new run in state queued; ids are never reused. */
int	store_run_insert(struct store *, int64_t deployment_id,
	    const char *action, const char *trigger, const char *commit,
	    const char *fingerprint, int64_t *id);
/*
 * Marks a run as a pull request's preview: it is never the deployment's
 * active or last run.
 */
int	store_run_set_pull(struct store *, int64_t id, int64_t pull);
/* queued -> running; -EALREADY from any other state. */
int	store_run_start(struct store *, int64_t id);
/* queued or running -> a final state; -EALREADY if already final. */
int	store_run_finish(struct store *, int64_t id, const char *state,
	    int exit_code, const char *cause, const char *outputs);
int	store_run_set_summary(struct store *, int64_t id, const char *);
int	store_run_get(struct store *, int64_t id, struct store_run *out);
/* deployment_id 0: all; limit 0: no limit; newest first; previews too. */
int	store_run_list(struct store *, int64_t deployment_id, size_t limit,
	    struct store_run **out, size_t *n);
/*
 * The deployment's queued or running run (the newest), or -ENOENT;
 * pull-request previews do not count.
 */
int	store_run_active(struct store *, int64_t deployment_id,
	    int64_t *run_id);
void	store_run_release(struct store_run *);
void	store_run_array_free(struct store_run *, size_t);

/*
 * Logs.  A chunk is stored as given (bytes, NUL included).  Appending to
 * a finished run fails with -EALREADY.  Past the per-run limit, bytes are
 * counted in log_dropped instead of being stored.  For high rates, append
 * several chunks at once, or wrap many appends in store_begin/commit.
 */
int	store_log_append(struct store *, int64_t run_id, const void *,
	    size_t);
int	store_log_append_many(struct store *, int64_t run_id,
	    const struct iovec *, size_t n);
/* Counts bytes the caller dropped (its own cap) in log_dropped. */
int	store_log_dropped(struct store *, int64_t run_id, size_t);
/* Per-run limit of stored log bytes; 0: none (the default). */
void	store_log_set_limit(struct store *, int64_t max_bytes);
/*
 * Appends the chunks after after_seq to out, whole chunks only, while
 * what it adds stays within max_bytes (the first chunk is always taken,
 * so max_bytes >= STORE_LOG_CHUNK never stalls); *last_seq is the last
 * chunk taken, or after_seq.  -E2BIG if out cannot hold even one.
 */
int	store_log_read(struct store *, int64_t run_id, int64_t after_seq,
	    size_t max_bytes, struct buf *out, int64_t *last_seq);
/*
 * Drops the log chunks of all but the newest keep_runs runs of each
 * deployment (active runs are always kept); their log_bytes stay.
 */
int	store_prune_logs(struct store *, size_t keep_runs);

/*
 * Ledger marks (store-ledger.c): the deployments whose ledger files are
 * not pushed yet, each with the line its commit message will carry.  A
 * mark is written in the transaction of the change it reports, so that a
 * crash never loses one.  Its seq grows with every mark: clearing after a
 * push keeps a mark made again since the push was built.
 */
struct store_ledger_mark {
	int64_t	 deployment_id;
	int64_t	 seq;
	char	*line;
};

int	store_ledger_mark(struct store *, int64_t deployment_id,
	    const char *line);
/* A mark whose line tells the run's action and result. */
int	store_ledger_mark_run(struct store *, int64_t deployment_id,
	    int64_t run_id, const char *result);
/* Oldest first; repository_id 0: all. */
int	store_ledger_marks(struct store *, int64_t repository_id,
	    struct store_ledger_mark **out, size_t *n);
/* Removes the mark if it is not newer than seq. */
int	store_ledger_clear(struct store *, int64_t deployment_id,
	    int64_t seq);
int	store_ledger_count(struct store *, int64_t repository_id,
	    size_t *n);
void	store_ledger_marks_free(struct store_ledger_mark *, size_t);

/*
 * Plans that wait for approval (store-plan.c).  A plan run's approval is
 * NULL (not made for approval), "waiting", "approved" (an apply of it was
 * queued: that run's plan_run_id names it), "superseded" (a newer plan or
 * desired state replaced it) or "discarded" (nothing is left to apply).
 * At most one plan of a deployment waits.
 */
bool	store_approval_valid(const char *);
int	store_run_set_approval(struct store *, int64_t run,
	    const char *approval);
int	store_run_set_plan(struct store *, int64_t run, int64_t plan_run);
/* The deployment's plan waiting for approval, or -ENOENT. */
int	store_plan_waiting(struct store *, int64_t deployment_id,
	    int64_t *run);
/*
 * Every plan of the deployment waiting for approval, but keep (0: none),
 * becomes approval ("superseded" or "discarded"); *n counts them.
 */
int	store_plan_retire(struct store *, int64_t deployment_id, int64_t keep,
	    const char *approval, size_t *n);
/* A line in the history without a change of phase (from = to = phase). */
int	store_deployment_note(struct store *, int64_t id, int64_t run,
	    const char *reason);
/* When the deployment's drift was last checked (0: never). */
int	store_deployment_drift_checked(struct store *, int64_t id,
	    int64_t *at);
int	store_deployment_set_drift_checked(struct store *, int64_t id,
	    int64_t at);

#endif
