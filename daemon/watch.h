/*
 * Watching one config repository: its triggers (a poll timer with jitter,
 * inotify on a repository of this machine, explicit syncs from the API or
 * a webhook) and the task, run on the shared worker pool (workers.h), that
 * fetches and loads the desired state, so that neither the network nor a
 * big load stalls the event loop.  What all repositories share (one poll
 * timer, one inotify instance) is in a hub.
 *
 * Triggers coalesce: while a fetch is under way, any number of new
 * triggers make exactly one more fetch after it, and the newest commit
 * wins.  Models are loaded and freed in the task only; the loop
 * hands each one back with watch_release_model when done with it.
 */
#ifndef WATCH_H
#define WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "conf.h"
#include "model.h"
#include "workers.h"

struct watch;
struct watch_hub;

int	 watch_hub_new(struct watch_hub **out, struct event_base *,
	    struct workers *);
/* After every watch_free. */
void	 watch_hub_free(struct watch_hub *);

/*
 * A new model (or an error) for the repository: called on the loop.  The
 * model belongs to the callee until it gives it back.
 */
typedef void (*watch_result_cb)(struct watch *, struct model *,
    const char *commit, const char *trigger, const char *error, void *arg);

/* The repository's tasks run in lane, one at a time. */
int	 watch_new(struct watch **out, struct watch_hub *,
	    struct workers_lane *, const struct config_repo *,
	    const char *state_dir, watch_result_cb, void *arg, char **cause);
/*
 * Start: load the commit last reconciled (if known, posted with the trigger
 * "last") so that removals can be seen, then fetch.
 */
void	 watch_start(struct watch *, const char *last_commit);
void	 watch_sync(struct watch *, const char *trigger);
void	 watch_release_model(struct model *, void *watch);
/*
 * Pull requests: the task fetches a pull request's head (the forge's
 * ref src, from url, or from the repository's URL when url is NULL) into
 * the mirror's private ref refs/cloudsphere/pulls/<pull>, checks that it
 * is commit head (hex: 40 digits, or at least 7 for the forges that
 * announce a short one), loads its model through the model cache (from
 * the branch's, so that it costs what the pull request changed), and
 * posts it to cb on the loop with head as asked and commit in full.  A newer request for the same pull request
 * replaces one not started yet.  watch_pull_drop deletes the private ref.
 */
typedef void (*watch_pull_cb)(struct watch *, int64_t pull,
    struct model *, const char *head, const char *commit, const char *error,
    void *arg);
void	 watch_set_pull_hook(struct watch *, watch_pull_cb, void *arg);
void	 watch_pull(struct watch *, int64_t pull, const char *url,
	    const char *src, const char *head);
void	 watch_pull_drop(struct watch *, int64_t pull);
const char *watch_mirror_dir(const struct watch *);
const char *watch_name(const struct watch *);
/* Last error of a fetch or load, or NULL. */
const char *watch_error(const struct watch *);
void	 watch_free(struct watch *);

#endif
