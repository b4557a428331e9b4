/*
 * The forge reporter: delivers the outbox (reconciler/outbox.h) to each
 * repository's forge with libcurl's multi interface on the daemon's
 * libevent loop.  A bounded number of requests in flight, one per key at
 * a time, each with a timeout; failures retried with exponential backoff
 * and jitter, or at the time the forge's Retry-After or rate-limit headers
 * give; refusals (4xx) logged with the forge's message and not retried.
 * At start it delivers what a previous run left due.
 *
 * The token is read from forge.token_file and is never logged: it is
 * replaced by *** in every message that could carry it.
 */
#ifndef REPORTER_H
#define REPORTER_H

#include <stdint.h>

struct event_base;
struct store;
struct engine_run_event;
struct reporter;

struct reporter_config {
	int	max_in_flight;		/* 0: 4 */
	long	timeout_ms;		/* per request; 0: 30 s */
	long	retry_min_ms;		/* first backoff; 0: 1 s */
	long	retry_max_ms;		/* backoff cap; 0: 5 min */
};

int	reporter_new(struct reporter **out, struct event_base *,
	    struct store *, const struct reporter_config *, char **cause);
/*
 * The repository's forge (forge.kind, api_url, project, token_file of the
 * configuration); kind NULL or "generic": nothing is reported for it.
 */
int	reporter_add(struct reporter *, int64_t repository_id,
	    const char *repository, const char *kind, const char *api_url,
	    const char *project, const char *token_file, char **cause);
/* Deliver what is due now; call after the transaction commits. */
void	reporter_kick(struct reporter *);
/*
 * An engine run hook (engine_set_run_hook): the commit status of a run
 * on the watched branch, written in the run's transaction; pull-request
 * previews are reported by their own code.
 */
void	reporter_on_run(const struct engine_run_event *, void *reporter);
/* Requests in flight are dropped: their rows stay due for the next start. */
void	reporter_free(struct reporter *);

#endif
