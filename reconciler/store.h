/*
 * The daemon's store: one SQLite file in WAL mode with a versioned schema
 * (PRAGMA user_version) migrated forward at open.  Repositories,
 * deployments (phase, desired and applied commit and fingerprint), runs,
 * their logs and every phase transition.  Each change is one transaction,
 * so a crash at any moment leaves a consistent file; store_recover then
 * turns runs left queued or running into interrupted ones.
 *
 * Times are milliseconds since the epoch; strings returned in structs
 * belong to the struct (release it).
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STORE_SCHEMA_VERSION	2

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
	int	 failures;
	int64_t	 retry_at;
};

struct store_run {
	int64_t	 id;
	int64_t	 deployment_id;
	char	*deployment;
	char	*repository;
	char	*action;
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
	int64_t	 log_bytes;
	char	*summary;		/* "2 to add, 0 to change, 1 to destroy" */
};

struct store_transition {
	int64_t	 id;
	int64_t	 run_id;
	int64_t	 at;
	char	*from_phase;
	char	*to_phase;
	char	*reason;
};

int	store_open(struct store **out, const char *path, char **cause);
void	store_close(struct store *);
int	store_begin(struct store *);
int	store_commit(struct store *);
int	store_rollback(struct store *);

int	store_recover(struct store *, size_t *interrupted);
void	store_time_format(int64_t ms, char buf[32]);
int64_t	store_now(void);

int	store_repository_upsert(struct store *, const char *name,
	    const char *url, const char *branch, int64_t *id);
int	store_repository_get(struct store *, const char *name,
	    struct store_repository *out);
int	store_repository_set_commit(struct store *, int64_t id,
	    const char *commit, const char *error);
void	store_repository_release(struct store_repository *);

int	store_deployment_ensure(struct store *, int64_t repository_id,
	    const char *name, int64_t *id);
int	store_deployment_get(struct store *, int64_t repository_id,
	    const char *name, struct store_deployment *out);
int	store_deployment_get_by_id(struct store *, int64_t id,
	    struct store_deployment *out);
int	store_deployment_list(struct store *, int64_t repository_id,
	    struct store_deployment **out, size_t *n);
int	store_deployment_set_desired(struct store *, int64_t id,
	    const char *blueprint, const char *environment,
	    const char *commit, const char *fingerprint, bool suspended);
int	store_deployment_set_applied(struct store *, int64_t id,
	    const char *commit, const char *fingerprint, const char *outputs);
int	store_deployment_set_phase(struct store *, int64_t id,
	    const char *phase, int64_t run_id, const char *reason,
	    const char *cause);
int	store_deployment_set_retry(struct store *, int64_t id, int failures,
	    int64_t retry_at);
int	store_deployment_set_operator_suspended(struct store *, int64_t id,
	    bool);
int	store_deployment_set_destroy_approved(struct store *, int64_t id,
	    bool);
void	store_deployment_release(struct store_deployment *);

int	store_transition_list(struct store *, int64_t deployment_id,
	    struct store_transition **out, size_t *n);
void	store_transition_release(struct store_transition *);

int	store_run_insert(struct store *, int64_t deployment_id,
	    const char *action, const char *trigger, const char *commit,
	    const char *fingerprint, int64_t *id);
int	store_run_start(struct store *, int64_t id);
int	store_run_finish(struct store *, int64_t id, const char *state,
	    int exit_code, const char *cause, const char *outputs);
int	store_run_set_summary(struct store *, int64_t id, const char *);
int	store_run_get(struct store *, int64_t id, struct store_run *out);
int	store_run_list(struct store *, int64_t deployment_id, size_t limit,
	    struct store_run **out, size_t *n);
void	store_run_release(struct store_run *);

int	store_log_append(struct store *, int64_t run_id, const void *,
	    size_t);
int	store_log_read(struct store *, int64_t run_id, int64_t after_seq,
	    size_t max_bytes, struct buf *out, int64_t *last_seq);
int	store_prune_logs(struct store *, size_t keep_runs);

#endif
