/*
 * Webhook receivers: the HTTP side of reconciler/webhook.c.  A delivery is
 * matched to its repository, verified, parsed, checked against the
 * delivery ids already accepted, answered at once, and acted upon from the
 * event loop right after the answer: a sync for a push to the watched
 * branch, the pull callback for a pull request.
 *
 * The replay cache is a ring of the last HOOKS_REPLAY_MAX delivery ids
 * accepted, in memory only: it does not survive a restart (a redelivery
 * after one costs one fetch that finds nothing new).  Delivery ids are not
 * covered by any forge's signature, so the cache stops the forges'
 * redeliveries and naive replays, not an attacker who rewrites the id;
 * what a replay can do is ask for a sync, which a poll does anyway.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "compat.h"
#include "api.h"
#include "hooks.h"
#include "log.h"
#include "xmalloc.h"

enum hooks_reason {
	HOOKS_UNKNOWN,		/* 404 */
	HOOKS_METHOD,		/* 405 */
	HOOKS_SIGNATURE,	/* 401 */
	HOOKS_TOO_LARGE,	/* 413 */
	HOOKS_MALFORMED,	/* 400 */
	HOOKS_NREASONS
};

static const char *const hooks_reasons[] = { "unknown_repository",
    "method", "signature", "too_large", "malformed" };

#define HOOKS_NKINDS	(WEBHOOK_OTHER + 1)

struct hooks_repo {
	char			*name;
	char			*ref;		/* refs/heads/<branch> */
	char			*forge;		/* webhook.forge, or NULL */
	enum webhook_forge	 kind;
	char			*secret;
	bool			 tags;
};

/* What an accepted delivery asks for, done after the answer. */
struct hooks_job {
	TAILQ_ENTRY(hooks_job)	 entry;
	char			*repository;
	struct webhook_event	*ev;
	bool			 sync;
	bool			 pull;
};

struct hooks {
	struct event_base	*base;
	struct hooks_repo	*repos;
	size_t			 nrepos;
	hooks_sync_cb		 sync;
	void			*sync_arg;
	hooks_pull_cb		 pull;
	void			*pull_arg;
	TAILQ_HEAD(, hooks_job)	 jobs;
	struct event		*kick;
	char			*seen[HOOKS_REPLAY_MAX];
	size_t			 seen_next;
	uint64_t		 received;
	uint64_t		 accepted[HOOKS_NKINDS];
	uint64_t		 rejected[HOOKS_NREASONS];
	uint64_t		 replayed;
};

/* The first line of a secret file, the part that is used. */
static int
hooks_read_secret(const char *path, char **out, char **cause)
{
	char	buf[HOOKS_SECRET_MAX + 1];
	ssize_t	n;
	int	fd, error;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		error = -errno;
		*cause = xasprintf("webhook.secret_file %s: %s", path,
		    strerror(errno));
		return (error);
	}
	n = read(fd, buf, sizeof buf - 1);
	error = n < 0 ? -errno : 0;
	close(fd);
	if (n < 0) {
		*cause = xasprintf("webhook.secret_file %s: %s", path,
		    strerror(-error));
		return (error);
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		*cause = xasprintf("webhook.secret_file %s: empty; a webhook secret must not be empty",
		    path);
		error = -EINVAL;
	} else
		*out = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return (error);
}

static void
hooks_repo_release(struct hooks_repo *r)
{
	free(r->name);
	free(r->ref);
	free(r->forge);
	if (r->secret != NULL) {
		explicit_bzero(r->secret, strlen(r->secret));
		free(r->secret);
	}
	memset(r, 0, sizeof *r);
}

/* The webhook settings of one configured repository. */
static int
hooks_repo_init(struct hooks_repo *r, const struct config_repo *cr,
    char **cause)
{
	int	error;

	memset(r, 0, sizeof *r);
	r->name = xstrdup(cr->name);
	r->ref = xasprintf("refs/heads/%s", cr->branch);
	if (cr->webhook_forge == NULL)
		return (0);
	if (webhook_forge_parse(cr->webhook_forge, &r->kind) != 0) {
		*cause = xasprintf("%s: unknown webhook.forge", cr->name);
		return (-EINVAL);
	}
	if (cr->webhook_secret_file == NULL) {
		*cause = xasprintf("%s: webhook needs a secret_file",
		    cr->name);
		return (-EINVAL);
	}
	if ((error = hooks_read_secret(cr->webhook_secret_file, &r->secret,
	    cause)) != 0)
		return (error);
	r->forge = xstrdup(cr->webhook_forge);
	r->tags = cr->webhook_tags;
	return (0);
}

static void
hooks_run(evutil_socket_t fd, short events, void *arg)
{
	struct hooks		*h = arg;
	struct hooks_job	*j;

	(void)fd;
	(void)events;
	while ((j = TAILQ_FIRST(&h->jobs)) != NULL) {
		TAILQ_REMOVE(&h->jobs, j, entry);
		if (j->sync && h->sync != NULL)
			h->sync(j->repository, h->sync_arg);
		if (j->pull && h->pull != NULL)
			h->pull(j->repository, j->ev, h->pull_arg);
		webhook_event_free(j->ev);
		free(j->repository);
		free(j);
	}
}

int
hooks_new(struct hooks **out, struct event_base *base,
    const struct config *c, char **cause)
{
	struct hooks	*h = xcalloc(1, sizeof *h);
	size_t		 i;
	int		 error;

	*out = NULL;
	*cause = NULL;
	h->base = base;
	TAILQ_INIT(&h->jobs);
	h->repos = xcalloc(c->nrepos + 1, sizeof *h->repos);
	for (i = 0; i < c->nrepos; i++) {
		if ((error = hooks_repo_init(&h->repos[i], &c->repos[i],
		    cause)) != 0) {
			hooks_repo_release(&h->repos[i]);
			h->nrepos = i;
			hooks_free(h);
			return (error);
		}
	}
	h->nrepos = c->nrepos;
	h->kick = event_new(base, -1, 0, hooks_run, h);
	*out = h;
	return (0);
}

int
hooks_reload(struct hooks *h, const struct config *c, char **cause)
{
	struct hooks_repo	*fresh;
	size_t			 i, k;
	int			 error = 0;

	*cause = NULL;
	fresh = xcalloc(h->nrepos + 1, sizeof *fresh);
	for (i = 0; i < h->nrepos && error == 0; i++) {
		for (k = 0; k < c->nrepos; k++)
			if (strcmp(c->repos[k].name, h->repos[i].name) == 0)
				break;
		if (k == c->nrepos) {
			/* Removed: its watch runs until the restart. */
			fresh[i] = h->repos[i];
			fresh[i].name = xstrdup(h->repos[i].name);
			fresh[i].ref = xstrdup(h->repos[i].ref);
			fresh[i].forge = h->repos[i].forge != NULL ?
			    xstrdup(h->repos[i].forge) : NULL;
			fresh[i].secret = h->repos[i].secret != NULL ?
			    xstrdup(h->repos[i].secret) : NULL;
			continue;
		}
		error = hooks_repo_init(&fresh[i], &c->repos[k], cause);
		/* The branch watched is the one the watch started with. */
		free(fresh[i].ref);
		fresh[i].ref = xstrdup(h->repos[i].ref);
	}
	if (error != 0) {
		for (k = 0; k < i; k++)
			hooks_repo_release(&fresh[k]);
		free(fresh);
		return (error);
	}
	for (i = 0; i < h->nrepos; i++)
		hooks_repo_release(&h->repos[i]);
	free(h->repos);
	h->repos = fresh;
	return (0);
}

void
hooks_set_sync(struct hooks *h, hooks_sync_cb cb, void *arg)
{
	h->sync = cb;
	h->sync_arg = arg;
}

void
hooks_set_pull(struct hooks *h, hooks_pull_cb cb, void *arg)
{
	h->pull = cb;
	h->pull_arg = arg;
}

static const char *
hooks_header(const char *name, void *arg)
{
	return (evhttp_find_header(arg, name));
}

static void
hooks_answer(struct evhttp_request *req, int code, const char *key,
    const char *value)
{
	api_json(req, code, json_pack("{ss}", key, value));
}

static void
hooks_reject(struct hooks *h, struct evhttp_request *req,
    enum hooks_reason why, int code, const char *error)
{
	h->rejected[why]++;
	hooks_answer(req, code, "error", error);
}

/* Whether (repository, delivery) was accepted before; remembers it. */
static bool
hooks_replayed(struct hooks *h, const char *repo, const char *forge,
    const char *delivery)
{
	char	*key = xasprintf("%s\n%s\n%s", repo, forge, delivery);
	size_t	 i;

	for (i = 0; i < HOOKS_REPLAY_MAX; i++) {
		if (h->seen[i] != NULL && strcmp(h->seen[i], key) == 0) {
			free(key);
			return (true);
		}
	}
	free(h->seen[h->seen_next]);
	h->seen[h->seen_next] = key;
	h->seen_next = (h->seen_next + 1) % HOOKS_REPLAY_MAX;
	return (false);
}

/* What the event asks of this repository, in words for the log. */
static const char *
hooks_decide(const struct hooks_repo *r, const struct webhook_event *ev,
    bool *sync, bool *pull)
{
	const char	*what = "ignored";
	size_t		 i;

	*sync = *pull = false;
	switch (ev->kind) {
	case WEBHOOK_PING:
		return ("ping");
	case WEBHOOK_PULL:
		*pull = true;
		return ("pull request");
	case WEBHOOK_PUSH:
	case WEBHOOK_PUSH_DELETE:
	case WEBHOOK_TAG:
		what = "another ref, ignored";
		for (i = 0; i < ev->nchanges; i++) {
			const struct webhook_change *c = &ev->changes[i];

			if (c->kind == WEBHOOK_PUSH &&
			    strcmp(c->ref, r->ref) == 0)
				*sync = true;
			else if (c->kind == WEBHOOK_TAG && r->tags)
				*sync = true;
			else if (c->kind == WEBHOOK_PUSH_DELETE &&
			    strcmp(c->ref, r->ref) == 0)
				what = "the watched branch deleted, ignored";
			else if (c->kind == WEBHOOK_TAG)
				what = "a tag, ignored (webhook.tags is off)";
		}
		return (*sync ? "sync" : what);
	default:
		return ("not acted upon");
	}
}

void
hooks_handle(struct hooks *h, struct evhttp_request *req, const char *forge,
    const char *repository)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evbuffer		*body = evhttp_request_get_input_buffer(req);
	struct webhook_event	*ev = NULL;
	struct hooks_repo	*r = NULL;
	struct hooks_job	*j;
	const char		*what;
	char			*cause = NULL, *desc;
	const void		*data;
	size_t			 i, len;
	bool			 sync, pull;

	h->received++;
	for (i = 0; i < h->nrepos; i++)
		if (strcmp(h->repos[i].name, repository) == 0)
			r = &h->repos[i];
	if (r == NULL || r->forge == NULL || strcmp(r->forge, forge) != 0) {
		hooks_reject(h, req, HOOKS_UNKNOWN, 404,
		    "no such webhook");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		hooks_reject(h, req, HOOKS_METHOD, 405, "POST only");
		return;
	}
	/* The HTTP layer refuses bigger bodies before reading them. */
	if ((len = evbuffer_get_length(body)) > HOOKS_BODY_MAX) {
		hooks_reject(h, req, HOOKS_TOO_LARGE, 413, "body too large");
		return;
	}
	data = len > 0 ? (const void *)evbuffer_pullup(body, -1) : "";

	if (webhook_verify(r->kind, hooks_header, in, data, len, r->secret,
	    &cause) != 0) {
		log_warnx("%s: webhook %s refused: %s", r->name, r->forge,
		    cause);
		free(cause);
		hooks_reject(h, req, HOOKS_SIGNATURE, 401,
		    "missing or wrong signature");
		return;
	}
	if (webhook_parse(&ev, r->kind, hooks_header, in, data, len,
	    &cause) != 0) {
		/* Only nesting can be too much here: 400 as well. */
		log_warnx("%s: webhook %s refused: %s", r->name, r->forge,
		    cause);
		hooks_reject(h, req, HOOKS_MALFORMED, 400, cause);
		free(cause);
		return;
	}
	if (ev->delivery != NULL && hooks_replayed(h, r->name, r->forge,
	    ev->delivery)) {
		h->replayed++;
		log_info("%s: webhook %s %s delivery %s: already received, ignored",
		    r->name, r->forge, ev->event, ev->delivery);
		hooks_answer(req, 200, "status", "already received");
		webhook_event_free(ev);
		return;
	}

	h->accepted[ev->kind]++;
	what = hooks_decide(r, ev, &sync, &pull);
	desc = webhook_event_describe(ev);
	log_info("%s: webhook %s %s delivery %s: %s: %s", r->name, ev->forge,
	    ev->event, ev->delivery != NULL ? ev->delivery : "-", desc, what);
	free(desc);
	hooks_answer(req, 202, "status", "accepted");

	if (!sync && !pull) {
		webhook_event_free(ev);
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->repository = xstrdup(r->name);
	j->ev = ev;
	j->sync = sync;
	j->pull = pull;
	TAILQ_INSERT_TAIL(&h->jobs, j, entry);
	event_active(h->kick, EV_TIMEOUT, 0);
}

void
hooks_metrics(struct hooks *h, struct evbuffer *b)
{
	size_t	i;

	evbuffer_add_printf(b,
	    "# HELP cloudsphere_webhook_received_total Webhook deliveries received.\n"
	    "# TYPE cloudsphere_webhook_received_total counter\n"
	    "cloudsphere_webhook_received_total %llu\n"
	    "# HELP cloudsphere_webhook_accepted_total Webhook deliveries accepted, by event.\n"
	    "# TYPE cloudsphere_webhook_accepted_total counter\n",
	    (unsigned long long)h->received);
	for (i = 0; i < HOOKS_NKINDS; i++)
		evbuffer_add_printf(b,
		    "cloudsphere_webhook_accepted_total{event=\"%s\"} %llu\n",
		    webhook_kind_name((enum webhook_kind)i),
		    (unsigned long long)h->accepted[i]);
	evbuffer_add_printf(b,
	    "# HELP cloudsphere_webhook_rejected_total Webhook deliveries refused, by reason.\n"
	    "# TYPE cloudsphere_webhook_rejected_total counter\n");
	for (i = 0; i < HOOKS_NREASONS; i++)
		evbuffer_add_printf(b,
		    "cloudsphere_webhook_rejected_total{reason=\"%s\"} %llu\n",
		    hooks_reasons[i], (unsigned long long)h->rejected[i]);
	evbuffer_add_printf(b,
	    "# HELP cloudsphere_webhook_replayed_total Webhook deliveries ignored: their id was accepted before.\n"
	    "# TYPE cloudsphere_webhook_replayed_total counter\n"
	    "cloudsphere_webhook_replayed_total %llu\n",
	    (unsigned long long)h->replayed);
}

void
hooks_free(struct hooks *h)
{
	struct hooks_job	*j;
	size_t			 i;

	if (h == NULL)
		return;
	while ((j = TAILQ_FIRST(&h->jobs)) != NULL) {
		TAILQ_REMOVE(&h->jobs, j, entry);
		webhook_event_free(j->ev);
		free(j->repository);
		free(j);
	}
	if (h->kick != NULL)
		event_free(h->kick);
	for (i = 0; i < h->nrepos; i++)
		hooks_repo_release(&h->repos[i]);
	free(h->repos);
	for (i = 0; i < HOOKS_REPLAY_MAX; i++)
		free(h->seen[i]);
	free(h);
}
