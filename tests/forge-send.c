/*
 * A test driver of the forge reporter without the engine: writes outbox
 * rows into a store and runs the daemon's reporter on an event loop until
 * nothing is due, so that the shell tests can check comments (created,
 * then edited in place) against the forge double the way pull requests
 * will send them.
 *
 * Usage: forge-send DB KIND API_URL PROJECT TOKEN_FILE COMMAND...
 * with commands "comment PULL BODY", "comment-file PULL FILE",
 * "status SHA CONTEXT STATE DESCRIPTION" and "send" (deliver what is due,
 * at most 30 seconds); exit 1 if something stays due.
 * $FORGE_SEND_TIMEOUT_MS sets the reporter's per-request timeout.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "outbox.h"
#include "reporter.h"
#include "store.h"
#include "xmalloc.h"

struct send {
	struct event_base	*base;
	struct store		*store;
	int64_t			 repo;
	int			 ticks;
};

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct send	*s = arg;
	int64_t		 at;

	(void)fd;
	(void)what;
	if (outbox_next_due(s->store, s->repo, &at) == -ENOENT ||
	    ++s->ticks > 600)
		event_base_loopexit(s->base, NULL);
}

static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*data;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL)
		fatal("%s", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	data = xmalloc((size_t)n + 1);
	if (fread(data, 1, (size_t)n, fp) != (size_t)n)
		fatalx("%s: short read", path);
	data[n] = '\0';
	fclose(fp);
	return (data);
}

static enum outbox_state
state_of(const char *w)
{
	if (strcmp(w, "pending") == 0)
		return (OUTBOX_PENDING);
	if (strcmp(w, "success") == 0)
		return (OUTBOX_SUCCESS);
	if (strcmp(w, "failure") == 0)
		return (OUTBOX_FAILURE);
	return (OUTBOX_ERROR);
}

int
main(int argc, char **argv)
{
	struct send		 s;
	struct reporter		*rp;
	struct reporter_config	 rc;
	struct event		*tick;
	struct timeval		 tv = { 0, 50000 };
	char			*cause = NULL, *body;
	int			 i, error;
	int64_t			 at;

	log_init(LOG_LEVEL_DEBUG, "forge-send");
	if (argc < 7)
		fatalx("usage: forge-send DB KIND API_URL PROJECT TOKEN_FILE COMMAND...");
	memset(&s, 0, sizeof s);
	if (store_open(&s.store, argv[1], &cause) != 0)
		fatalx("%s", cause);
	if (store_repository_upsert(s.store, "infra", "file:///r", "main",
	    &s.repo) != 0)
		fatalx("cannot record the repository");
	s.base = event_base_new();
	memset(&rc, 0, sizeof rc);
	rc.retry_min_ms = 200;
	if (getenv("FORGE_SEND_TIMEOUT_MS") != NULL)
		rc.timeout_ms = strtol(getenv("FORGE_SEND_TIMEOUT_MS"), NULL,
		    10);
	if (reporter_new(&rp, s.base, s.store, &rc, &cause) != 0)
		fatalx("%s", cause);
	if (reporter_add(rp, s.repo, "infra", argv[2], argv[3], argv[4],
	    argv[5], &cause) != 0)
		fatalx("%s", cause);
	tick = event_new(s.base, -1, EV_PERSIST, on_tick, &s);
	for (i = 6; i < argc; i++) {
		if (strcmp(argv[i], "comment") == 0 && i + 2 < argc) {
			error = outbox_comment(s.store, s.repo,
			    strtoll(argv[i + 1], NULL, 10), argv[i + 2]);
			i += 2;
		} else if (strcmp(argv[i], "comment-file") == 0 &&
		    i + 2 < argc) {
			body = slurp(argv[i + 2]);
			error = outbox_comment(s.store, s.repo,
			    strtoll(argv[i + 1], NULL, 10), body);
			free(body);
			i += 2;
		} else if (strcmp(argv[i], "status") == 0 && i + 4 < argc) {
			error = outbox_status(s.store, s.repo, argv[i + 1],
			    argv[i + 2], state_of(argv[i + 3]), argv[i + 4],
			    NULL);
			i += 4;
		} else if (strcmp(argv[i], "send") == 0) {
			s.ticks = 0;
			reporter_kick(rp);
			event_add(tick, &tv);
			event_base_dispatch(s.base);
			event_del(tick);
			error = 0;
		} else
			fatalx("unknown command %s", argv[i]);
		if (error != 0)
			fatalx("%s: %s", argv[i], strerror(-error));
	}
	error = outbox_next_due(s.store, s.repo, &at) == -ENOENT ? 0 : 1;
	event_free(tick);
	reporter_free(rp);
	event_base_free(s.base);
	store_close(s.store);
	return (error);
}
