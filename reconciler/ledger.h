/*
 * The ledger (DESIGN.md section 6): the status of each deployment, and
 * the log of its last finished run, committed to the repository's ledger
 * branch and pushed, so that `git log` of that branch is the history of
 * the deployments any Git user can read.  doc/ledger.md has the format.
 *
 * Everything written comes from the store, where secrets are already
 * redacted.  What is due is kept in the store as marks (store.h), written
 * in the transaction of the change they report; the ledger renders the
 * marked deployments on the event loop, a little after the first mark so
 * that runs that end together share one commit, and hands the files to
 * its task on the worker pool, which builds the commit on the remote
 * ledger tip in the daemon's mirror and pushes it: rebuilt on the new tip when someone else
 * pushed, retried with capped, jittered backoff when the remote cannot be
 * reached.  A mark is cleared once its files are pushed, so a restart
 * pushes whatever was not.
 */
#ifndef LEDGER_H
#define LEDGER_H

#include <stdint.h>

#include <event2/event.h>

#include "buf.h"
#include "engine.h"
#include "mirror.h"
#include "store.h"
#include "workers.h"

/* The last run's log in the ledger: head and tail kept past this. */
#define LEDGER_LOG_MAX		(256 * 1024)
#define LEDGER_LOG_HEAD		(64 * 1024)
/*
 * Marks share a commit until none came for LEDGER_BATCH_MS, or for at
 * most LEDGER_BATCH_WAIT_MS after the first.
 */
#define LEDGER_BATCH_MS		750
#define LEDGER_BATCH_WAIT_MS	5000
/* Backoff between failed pushes, in seconds: doubles up to the cap. */
#define LEDGER_RETRY_MIN	1
#define LEDGER_RETRY_MAX	60
/* Seconds one fetch or push may take. */
#define LEDGER_DEADLINE		120
/* Deployments of one commit (more wait for the next one). */
#define LEDGER_BATCH_MAX	1000

struct ledger_config {
	const char		*repository;	/* its name */
	int64_t			 repository_id;	/* in the store */
	const char		*url;
	const char		*branch;	/* the ledger branch */
	const char		*mirror_dir;
	struct mirror_auth	 auth;
	/* The repository's lane: never at the same time as its fetch. */
	struct workers_lane	*lane;
};

enum ledger_level { LEDGER_DEBUG, LEDGER_INFO, LEDGER_WARN };
/* What the daemon logs: one line, on the loop. */
typedef void (*ledger_log_cb)(enum ledger_level, const char *repository,
    const char *message, void *arg);

struct ledger_stats {
	uint64_t	commits;	/* pushed */
	uint64_t	pushes;		/* that succeeded */
	uint64_t	push_failures;	/* attempts that failed or were rejected */
	size_t		pending;	/* deployments not pushed yet */
};

struct ledger;

int	 ledger_new(struct ledger **out, struct event_base *, struct store *,
	    const struct ledger_config *, ledger_log_cb, void *arg,
	    char **cause);
/* Starts pushing; marks left from before a restart go out at once. */
void	 ledger_start(struct ledger *);
/*
 * The engine's run hook: a final run marks its deployment (inside the
 * engine's transaction).
 */
void	 ledger_run(struct ledger *, const struct engine_run_event *);
/*
 * A phase change worth recording (planned, ready, failed, drifted,
 * invalid, orphaned...; not applying or destroying) marks the deployment
 * of this repository that has that name, if any.
 */
void	 ledger_phase(struct ledger *, const char *deployment,
	    const char *phase);
/*
 * At a stop: push what is marked now, then call done, once no mark is
 * left (at once if none is).  The caller bounds the wait: what is not
 * pushed then goes at the next start.
 */
void	 ledger_flush(struct ledger *, void (*done)(void *), void *arg);
/* The remote answered (a fetch went well): a waiting retry goes now. */
void	 ledger_kick(struct ledger *);
void	 ledger_stats(struct ledger *, struct ledger_stats *);
/* Why the last push failed (allocated), NULL once one went well. */
char	*ledger_error(struct ledger *);
const char *ledger_branch(const struct ledger *);
/* Prometheus lines for the ledgers given. */
void	 ledger_metrics(struct ledger *const *, size_t n, struct buf *);
void	 ledger_free(struct ledger *);

/*
 * Rendering, from the store only.  deployments/NAME.yaml: the deployment
 * with the field names of DESIGN.md section 7, its last finished run,
 * outputs without the secret ones.  *run receives that run's id (0: none).
 */
int	 ledger_render_status(struct store *, const struct store_deployment *,
	    struct buf *out, int64_t *run);
/* logs/NAME.log: the run's log, capped at max bytes (head and tail). */
int	 ledger_render_log(struct store *, int64_t run, size_t max,
	    struct buf *out);
/* The commit message of a batch: one line, or a summary and the lines. */
char	*ledger_message(char *const *lines, size_t n);

#endif
