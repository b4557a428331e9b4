/*
 * Pull requests on the daemon's side (DESIGN.md section 6): an opened,
 * reopened or updated pull request against a watched branch has its head
 * fetched and loaded by the repository's worker, the deployments it
 * changes planned in isolation by the engine (engine_pull_plan), and the
 * results reported through the forge outbox: a pending then a final
 * commit status per changed deployment (context cloudsphere/<name>) on the
 * head, and the pull request's one comment, written once every plan of
 * the head is over and edited in place for each new head.  A new head
 * cancels the old one's plans; closing or merging discards them (merging
 * itself is applied by the push to the branch).  Pull requests from forks
 * are planned only with pull_requests.forks; pull_requests.plan false
 * turns all of it off.
 */
#ifndef PULLS_H
#define PULLS_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "engine.h"
#include "store.h"
#include "watch.h"

enum pulls_action {
	PULLS_OPENED,
	PULLS_SYNCHRONIZED,
	PULLS_REOPENED,
	PULLS_CLOSED,
	PULLS_MERGED,
	PULLS_OTHER,
};

/* What a forge said about a pull request; strings are borrowed. */
struct pulls_request {
	int64_t			 pull;
	enum pulls_action	 action;
	const char		*forge;		/* of the webhook */
	const char		*head_sha;	/* 40 hex */
	const char		*head_ref;
	const char		*base_ref;
	const char		*head_clone_url;
	bool			 fork;
};

struct pulls;

struct pulls	*pulls_new(struct event_base *, struct store *);
void		 pulls_free(struct pulls *);
/* Called after each outbox write is committed: deliver it. */
void		 pulls_set_kick(struct pulls *, void (*)(void *), void *);
void		 pulls_add_repo(struct pulls *, const struct config_repo *,
		    int64_t store_id, struct watch *, struct engine_repo *);
/*
 * After store_recover, which ran at since (ms): the plans it found
 * interrupted get a final status, so that none stays pending.
 */
void		 pulls_recovered(struct pulls *, int64_t since);
/* pull_requests settings after a reload (repositories stay). */
void		 pulls_set_config(struct pulls *, const struct config *);
void		 pulls_request(struct pulls *, const char *repository,
		    const struct pulls_request *);
/* A hooks_pull_cb (daemon/hooks.h): the webhook's event, arg the pulls. */
struct webhook_event;
void		 pulls_hook(const char *repository,
		    const struct webhook_event *, void *arg);

#endif
