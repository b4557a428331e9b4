/*
 * The webhook receivers, POST /hooks/<forge>/<repository> on the TCP listen
 * address and on the control socket (cloudsphered.conf(5), WEBHOOKS).  A
 * delivery authenticates by its signature, not by the API's bearer token:
 *
 *	404	no such repository, no webhook for it, or another forge
 *	401	the signature or token is missing or wrong
 *	413	the body is over HOOKS_BODY_MAX
 *	400	the body is not what the forge sends
 *	200	a delivery id already accepted: ignored
 *	202	accepted; what it asks for happens after the answer
 *
 * A push to the watched branch (a tag too with webhook.tags) asks for the
 * same coalesced sync as the poll timer; pull-request events go to the
 * hooks_pull_cb.  Secrets are read from webhook.secret_file at start and
 * on reload; the daemon refuses to start with an empty one.
 */
#ifndef HOOKS_H
#define HOOKS_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"
#include "webhook.h"

#define HOOKS_BODY_MAX		WEBHOOK_BODY_MAX	/* 4 MiB */
#define HOOKS_REPLAY_MAX	4096	/* delivery ids remembered */
#define HOOKS_SECRET_MAX	4096	/* bytes of a secret file read */

struct hooks;

/* A pull-request event for repository; ev is borrowed for the call. */
typedef void (*hooks_pull_cb)(const char *repository,
    const struct webhook_event *, void *arg);
/* A push the repository must sync for (trigger "webhook"). */
typedef void (*hooks_sync_cb)(const char *repository, void *arg);

/* Reads every webhook secret: -errno and *cause if one is unusable. */
int	 hooks_new(struct hooks **out, struct event_base *,
	    const struct config *, char **cause);
/*
 * New webhook settings (forge, secret, tags) for the repositories known at
 * start; all or nothing.  Repositories added take effect at restart.
 */
int	 hooks_reload(struct hooks *, const struct config *, char **cause);
void	 hooks_set_sync(struct hooks *, hooks_sync_cb, void *arg);
void	 hooks_set_pull(struct hooks *, hooks_pull_cb, void *arg);
/* Answers req, a request for /hooks/<forge>/<repository>. */
void	 hooks_handle(struct hooks *, struct evhttp_request *,
	    const char *forge, const char *repository);
/* The counters, in Prometheus text. */
void	 hooks_metrics(struct hooks *, struct evbuffer *);
void	 hooks_free(struct hooks *);

#endif
