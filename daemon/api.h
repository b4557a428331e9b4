/*
 * The HTTP interface of DESIGN.md section 7, on the control socket (guarded
 * by its file mode) and on the TCP listen address (the API needs the
 * bearer token there): deployments, runs, logs (followed live with
 * ?follow=1), sync, actions, /healthz and /metrics.
 */
#ifndef API_H
#define API_H

#include <event2/event.h>

#include "buf.h"
#include "engine.h"
#include "store.h"

struct api;
struct hooks;

/* Asked to sync a repository by name (NULL: all); -ENOENT if unknown. */
typedef int (*api_sync_cb)(const char *repo, void *arg);
/* A JSON object describing the daemon, for GET /api/v1/status. */
typedef struct json_t *(*api_status_cb)(void *arg);

struct api_config {
	const char	*control_socket;	/* NULL: none */
	const char	*listen;		/* NULL or "": none */
	const char	*api_token_file;	/* needed for TCP */
	api_sync_cb	 sync;
	api_status_cb	 status;
	void		*arg;
	struct hooks	*hooks;			/* POST /hooks/; NULL: none */
};

int	 api_new(struct api **out, struct event_base *, struct store *,
	    struct engine *, const struct api_config *, char **cause);
/* Appends Prometheus lines to GET /metrics (the ledger's, the forge's). */
typedef void (*api_metrics_cb)(struct buf *, void *arg);
void	 api_add_metrics(struct api *, api_metrics_cb, void *arg);
/* New bytes of a run's log, or the run ended: wakes its followers. */
void	 api_run_changed(int64_t run, void *api);
void	 api_free(struct api *);
/* Answers with a JSON body (taken) and its status code. */
struct evhttp_request;
void	 api_json(struct evhttp_request *, int code, struct json_t *);

#endif
