/*
 * The forge reporter (see reporter.h): the outbox's due rows become
 * libcurl requests driven by the daemon's libevent loop.  libcurl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to call it
 * back (CURLMOPT_TIMERFUNCTION); events call curl_multi_socket_action,
 * and finished transfers are read with curl_multi_info_read.
 *
 * Delivery never happens inside the caller's transaction: reporter_kick
 * arms a zero timer, which fires once the current callback (and its
 * commit) is over.  Each answer is recorded in the store at once, so that
 * a restart resends only what was not delivered.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "buf.h"
#include "engine.h"
#include "forge.h"
#include "libcurl.h"
#include "log.h"
#include "outbox.h"
#include "reporter.h"
#include "store.h"
#include "xmalloc.h"

/* Answers longer than this are cut (only ids and messages are read). */
#define REPORTER_BODY_MAX	(256 * 1024)
#define REPORTER_HEADERS_MAX	64
#define REPORTER_TOKEN_MAX	4096
/* A Retry-After further than this is not believed. */
#define REPORTER_WAIT_MAX_MS	(3600 * 1000L)

struct rforge {
	struct reporter		*rp;
	int64_t			 repository_id;
	char			*repository;
	struct forge		*forge;
	char			*token;		/* to redact */
	int64_t			 paused_until;	/* rate limit spent */
	TAILQ_ENTRY(rforge)	 entry;
};

struct rreq {
	struct reporter		*rp;
	struct rforge		*rf;
	struct outbox_item	 item;
	struct forge_request	 req;
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 body;
	char			*lines[REPORTER_HEADERS_MAX];
	size_t			 nlines;
	char			 error[CURL_ERROR_SIZE];
	TAILQ_ENTRY(rreq)	 entry;
};

struct rsock {
	struct reporter		*rp;
	curl_socket_t		 fd;
	struct event		*ev;
};

struct reporter {
	struct event_base	*base;
	struct store		*store;
	struct reporter_config	 cfg;
	const struct libcurl	*lc;		/* NULL until a forge comes */
	CURLM			*multi;
	struct event		*curl_timer;	/* libcurl's own timeouts */
	struct event		*kick;		/* deliver now */
	struct event		*retry;		/* the next row falls due */
	TAILQ_HEAD(, rforge)	 forges;
	TAILQ_HEAD(, rreq)	 reqs;
	int			 nreqs;
	bool			 freeing;
};

static void	reporter_run(struct reporter *);
static void	reporter_done(struct rreq *, CURLcode);

/* The token never reaches a log line. */
static char *
reporter_redact(const struct rforge *rf, const char *s)
{
	struct buf	 b;
	const char	*p;
	size_t		 tlen;

	if (s == NULL)
		return (NULL);
	if (rf->token == NULL || (tlen = strlen(rf->token)) == 0)
		return (xstrdup(s));
	buf_init(&b, strlen(s) + 1);
	while ((p = strstr(s, rf->token)) != NULL) {
		buf_add(&b, s, (size_t)(p - s));
		buf_addstr(&b, "***");
		s = p + tlen;
	}
	buf_addstr(&b, s);
	return (buf_detach(&b));
}

static int
reporter_read_token(const char *path, char **out, char **cause)
{
	char	 buf[REPORTER_TOKEN_MAX + 1];
	ssize_t	 n;
	size_t	 len;
	int	 fd, error;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		error = -errno;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return (error);
	}
	n = read(fd, buf, sizeof buf - 1);
	error = n < 0 ? -errno : 0;
	close(fd);
	if (n < 0) {
		*cause = xasprintf("%s: %s", path, strerror(-error));
		return (error);
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len == 0) {
		*cause = xasprintf("%s: the first line is empty", path);
		explicit_bzero(buf, sizeof buf);
		return (-EINVAL);
	}
	*out = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return (0);
}

/* libcurl's sockets and timer on the event loop. */

static void
reporter_check(struct reporter *rp)
{
	CURLMsg		*msg;
	int		 left;
	struct rreq	*q;

	while ((msg = rp->lc->multi_info_read(rp->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		q = NULL;
		rp->lc->easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &q);
		if (q != NULL)
			reporter_done(q, msg->data.result);
	}
}

static void
reporter_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct reporter	*rp = arg;
	int		 running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	rp->lc->multi_socket_action(rp->multi, fd, flags, &running);
	reporter_check(rp);
}

static int
reporter_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct reporter	*rp = userp;
	struct rsock	*rs = socketp;
	short		 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (rs != NULL) {
			event_free(rs->ev);
			free(rs);
			rp->lc->multi_assign(rp->multi, fd, NULL);
		}
		return (0);
	}
	kind = EV_PERSIST;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		kind |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		kind |= EV_WRITE;
	if (rs == NULL) {
		rs = xcalloc(1, sizeof *rs);
		rs->rp = rp;
		rs->fd = fd;
		rs->ev = event_new(rp->base, fd, kind, reporter_on_socket, rp);
		rp->lc->multi_assign(rp->multi, fd, rs);
	} else {
		event_del(rs->ev);
		event_assign(rs->ev, rp->base, fd, kind, reporter_on_socket,
		    rp);
	}
	event_add(rs->ev, NULL);
	return (0);
}

static void
reporter_on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct reporter	*rp = arg;
	int		 running;

	(void)fd;
	(void)what;
	rp->lc->multi_socket_action(rp->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	reporter_check(rp);
}

static int
reporter_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct reporter	*rp = userp;
	struct timeval	 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(rp->curl_timer);
		return (0);
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(rp->curl_timer, &tv);
	return (0);
}

static void
reporter_on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reporter_run(arg);
}

int
reporter_new(struct reporter **out, struct event_base *base,
    struct store *store, const struct reporter_config *cfg, char **cause)
{
	struct reporter	*rp;

	*out = NULL;
	(void)cause;
	rp = xcalloc(1, sizeof *rp);
	rp->base = base;
	rp->store = store;
	if (cfg != NULL)
		rp->cfg = *cfg;
	if (rp->cfg.max_in_flight <= 0)
		rp->cfg.max_in_flight = 4;
	if (rp->cfg.timeout_ms <= 0)
		rp->cfg.timeout_ms = 30000;
	if (rp->cfg.retry_min_ms <= 0)
		rp->cfg.retry_min_ms = 1000;
	if (rp->cfg.retry_max_ms <= 0)
		rp->cfg.retry_max_ms = 300000;
	if (rp->cfg.retry_max_ms < rp->cfg.retry_min_ms)
		rp->cfg.retry_max_ms = rp->cfg.retry_min_ms;
	TAILQ_INIT(&rp->forges);
	TAILQ_INIT(&rp->reqs);
	rp->curl_timer = evtimer_new(base, reporter_on_curl_timer, rp);
	rp->kick = evtimer_new(base, reporter_on_kick, rp);
	rp->retry = evtimer_new(base, reporter_on_kick, rp);
	*out = rp;
	return (0);
}

/*
 * libcurl and its multi handle, the first time a forge is added: a
 * daemon that reports to no forge never maps libcurl (libcurl.h).
 */
static int
reporter_open(struct reporter *rp, char **cause)
{
	const struct libcurl	*lc;
	char			*c = NULL;

	if (rp->multi != NULL)
		return (0);
	if ((lc = libcurl_load(&c)) == NULL) {
		*cause = c;
		return (-ENOENT);
	}
	if (lc->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = xstrdup("cannot initialise libcurl");
		return (-EIO);
	}
	if ((rp->multi = lc->multi_init()) == NULL) {
		lc->global_cleanup();
		*cause = xstrdup("cannot initialise libcurl");
		return (-EIO);
	}
	rp->lc = lc;
	lc->multi_setopt(rp->multi, CURLMOPT_SOCKETFUNCTION,
	    reporter_socket_cb);
	lc->multi_setopt(rp->multi, CURLMOPT_SOCKETDATA, rp);
	lc->multi_setopt(rp->multi, CURLMOPT_TIMERFUNCTION, reporter_timer_cb);
	lc->multi_setopt(rp->multi, CURLMOPT_TIMERDATA, rp);
	lc->multi_setopt(rp->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    (long)rp->cfg.max_in_flight);
	log_debug("forge reporting: %s loaded (%s)", LIBCURL_SONAME,
	    lc->version());
	return (0);
}

int
reporter_add(struct reporter *rp, int64_t repository_id,
    const char *repository, const char *kind, const char *api_url,
    const char *project, const char *token_file, char **cause)
{
	struct rforge	*rf;
	struct forge	*f;
	char		*token = NULL, *c = NULL;
	int		 error;

	*cause = NULL;
	if (kind == NULL || strcmp(kind, "generic") == 0)
		return (0);
	if (token_file == NULL) {
		*cause = xstrdup("forge.token_file is needed to report");
		return (-EINVAL);
	}
	if ((error = reporter_read_token(token_file, &token, cause)) != 0)
		return (error);
	if ((error = reporter_open(rp, cause)) != 0) {
		explicit_bzero(token, strlen(token));
		free(token);
		return (error);
	}
	if ((error = forge_new(&f, kind, api_url, project, token, &c)) != 0) {
		explicit_bzero(token, strlen(token));
		free(token);
		*cause = c;
		return (error);
	}
	rf = xcalloc(1, sizeof *rf);
	rf->rp = rp;
	rf->repository_id = repository_id;
	rf->repository = xstrdup(repository);
	rf->forge = f;
	rf->token = token;
	TAILQ_INSERT_TAIL(&rp->forges, rf, entry);
	/* What a previous run left due goes out once the loop runs. */
	reporter_kick(rp);
	return (0);
}

static struct rforge *
reporter_forge(struct reporter *rp, int64_t repository_id)
{
	struct rforge	*rf;

	TAILQ_FOREACH(rf, &rp->forges, entry)
		if (rf->repository_id == repository_id)
			return (rf);
	return (NULL);
}

void
reporter_kick(struct reporter *rp)
{
	struct timeval	zero = { 0, 0 };

	if (rp == NULL || rp->freeing)
		return;
	if (!evtimer_pending(rp->kick, NULL))
		evtimer_add(rp->kick, &zero);
}

/* Curl callbacks of one request. */

static size_t
reporter_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct rreq	*q = arg;
	size_t		 len = size * n, room;

	/* Past the limit the answer is cut, not failed: only ids are read. */
	room = q->body.max - 1 - q->body.len;
	buf_add(&q->body, data, len < room ? len : room);
	return (len);
}

static size_t
reporter_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct rreq	*q = arg;
	size_t		 len = size * n;

	/* A new status line (after a 100 Continue) starts over. */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		while (q->nlines > 0)
			free(q->lines[--q->nlines]);
		return (len);
	}
	if (q->nlines < REPORTER_HEADERS_MAX && len > 2 && len < 8192)
		q->lines[q->nlines++] = xstrndup(data, len);
	return (len);
}

static void
reporter_req_free(struct rreq *q)
{
	const struct libcurl	*lc = q->rp->lc;
	size_t			 i;

	if (q->easy != NULL) {
		lc->multi_remove_handle(q->rp->multi, q->easy);
		lc->easy_cleanup(q->easy);
	}
	lc->slist_free_all(q->headers);
	forge_request_release(&q->req);
	outbox_item_release(&q->item);
	buf_release(&q->body);
	for (i = 0; i < q->nlines; i++)
		free(q->lines[i]);
	free(q);
}

/* "status cloudsphere/web of a6e5e7d" or "comment on pull request 7" */
static char *
reporter_what(const struct outbox_item *it)
{
	if (it->kind == OUTBOX_COMMENT)
		return (xasprintf("comment on pull request %" PRId64, it->pull));
	return (xasprintf("status %s of %.7s", it->context, it->sha));
}

static int
reporter_start(struct reporter *rp, struct rforge *rf, struct outbox_item *it)
{
	const struct libcurl	*lc = rp->lc;
	struct rreq		*q;
	size_t			 i;
	int			 error;
	char			*what;

	q = xcalloc(1, sizeof *q);
	q->rp = rp;
	q->rf = rf;
	q->item = *it;
	memset(it, 0, sizeof *it);
	buf_init(&q->body, REPORTER_BODY_MAX);
	if (q->item.kind == OUTBOX_COMMENT)
		error = forge_comment_request(rf->forge, q->item.pull,
		    q->item.remote_id, q->item.body, &q->req);
	else
		error = forge_status_request(rf->forge, q->item.sha,
		    q->item.context, q->item.state, q->item.description,
		    q->item.target_url, &q->req);
	if (error != 0) {
		/* Nothing any forge would take: give it up at once. */
		what = reporter_what(&q->item);
		log_warnx("%s: %s: cannot be sent: %s", rf->repository, what,
		    strerror(-error));
		free(what);
		outbox_abandon(rp->store, q->item.id, strerror(-error));
		reporter_req_free(q);
		return (0);
	}
	if ((q->easy = lc->easy_init()) == NULL) {
		reporter_req_free(q);
		return (-ENOMEM);
	}
	for (i = 0; i < q->req.nheaders; i++)
		q->headers = lc->slist_append(q->headers, q->req.headers[i]);
	q->headers = lc->slist_append(q->headers, "Expect:");
	lc->easy_setopt(q->easy, CURLOPT_URL, q->req.url);
	lc->easy_setopt(q->easy, CURLOPT_CUSTOMREQUEST, q->req.method);
	lc->easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->req.body != NULL ?
	    q->req.body : "");
	lc->easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE, (long)(q->req.body !=
	    NULL ? strlen(q->req.body) : 0));
	lc->easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
	lc->easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, reporter_write_cb);
	lc->easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	lc->easy_setopt(q->easy, CURLOPT_HEADERFUNCTION, reporter_header_cb);
	lc->easy_setopt(q->easy, CURLOPT_HEADERDATA, q);
	lc->easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->error);
	lc->easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	lc->easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
	lc->easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, rp->cfg.timeout_ms);
	lc->easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    rp->cfg.timeout_ms < 10000 ? rp->cfg.timeout_ms : 10000L);
	lc->easy_setopt(q->easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	lc->easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	lc->easy_setopt(q->easy, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (lc->multi_add_handle(rp->multi, q->easy) != CURLM_OK) {
		reporter_req_free(q);
		return (-EIO);
	}
	TAILQ_INSERT_TAIL(&rp->reqs, q, entry);
	rp->nreqs++;
	log_debug("%s: sending %s: %s %s", rf->repository,
	    q->item.kind == OUTBOX_COMMENT ? "comment" : "status",
	    q->req.method, q->req.url);
	return (0);
}

/* Exponential, with full jitter over the upper half: [d/2, d]. */
static int64_t
reporter_backoff(struct reporter *rp, int attempts)
{
	int64_t	d = rp->cfg.retry_min_ms;
	int	i;

	for (i = 1; i < attempts && d < rp->cfg.retry_max_ms; i++)
		d *= 2;
	if (d > rp->cfg.retry_max_ms)
		d = rp->cfg.retry_max_ms;
	return (d / 2 + (int64_t)arc4random_uniform((uint32_t)(d / 2 + 1)));
}

static void
reporter_done(struct rreq *q, CURLcode result)
{
	struct reporter		*rp = q->rp;
	struct rforge		*rf = q->rf;
	struct forge_answer	 a;
	long			 status = 0;
	int64_t			 now = store_now(), at;
	int			 attempts = q->item.attempts + 1;
	char			*what, *msg, *raw = NULL;

	TAILQ_REMOVE(&rp->reqs, q, entry);
	rp->nreqs--;
	if (result == CURLE_OK)
		rp->lc->easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	else
		raw = xstrdup(q->error[0] != '\0' ? q->error :
		    rp->lc->easy_strerror(result));
	forge_answer_read(rf->forge, q->item.kind, q->item.kind ==
	    OUTBOX_COMMENT && q->item.remote_id == NULL, status,
	    (const char *const *)q->lines, q->nlines, q->body.data,
	    q->body.len, now, &a);
	if (raw != NULL) {
		free(a.message);
		a.message = raw;
	}
	msg = reporter_redact(rf, a.message);
	what = reporter_what(&q->item);
	if (a.pause_until > rf->paused_until) {
		rf->paused_until = a.pause_until;
		log_info("%s: forge rate limit spent: waiting %" PRId64 "s",
		    rf->repository, (a.pause_until - now + 999) / 1000);
	}
	switch (a.verdict) {
	case FORGE_DELIVERED:
		if (outbox_delivered(rp->store, q->item.id, a.remote_id) != 0)
			log_warnx("%s: %s delivered but not recorded",
			    rf->repository, what);
		else
			log_debug("%s: %s delivered (HTTP %ld)", rf->repository,
			    what, status);
		if (q->req.trimmed)
			log_info("%s: %s cut to the forge's limit",
			    rf->repository, what);
		if (msg != NULL)
			log_warnx("%s: %s: %s", rf->repository, what, msg);
		break;
	case FORGE_RETRY:
		at = a.retry_at;
		if (at > now + REPORTER_WAIT_MAX_MS)
			at = now + REPORTER_WAIT_MAX_MS;
		if (at <= now)
			at = now + reporter_backoff(rp, attempts);
		else if (at > rf->paused_until) {
			/* Retry-After speaks for the server, not one row. */
			rf->paused_until = at;
		}
		log_warnx("%s: %s: %s; retry %d in %" PRId64 ".%03" PRId64 "s%s",
		    rf->repository, what, msg != NULL ? msg : "failed",
		    attempts, (at - now) / 1000, (at - now) % 1000,
		    a.retry_at > now ? " (as the forge asked)" : "");
		outbox_failed(rp->store, q->item.id, attempts, at, msg);
		break;
	case FORGE_GONE:
		log_info("%s: %s: the comment to edit is gone (%s): posting a new one",
		    rf->repository, what, msg != NULL ? msg : "gone");
		outbox_forget_remote(rp->store, rf->repository_id,
		    q->item.kind, q->item.key);
		outbox_failed(rp->store, q->item.id, attempts, now, msg);
		break;
	case FORGE_REFUSED:
		log_warnx("%s: %s refused by the forge, not retried: %s",
		    rf->repository, what, msg != NULL ? msg : "refused");
		outbox_abandon(rp->store, q->item.id, msg);
		break;
	}
	free(what);
	free(msg);
	forge_answer_release(&a);
	reporter_req_free(q);
	if (!rp->freeing)
		reporter_kick(rp);
}

static bool
reporter_busy(struct reporter *rp, int64_t repository_id,
    const struct outbox_item *it)
{
	struct rreq	*q;

	TAILQ_FOREACH(q, &rp->reqs, entry) {
		if (q->item.id == it->id || (q->item.repository_id ==
		    repository_id && q->item.kind == it->kind &&
		    strcmp(q->item.key, it->key) == 0))
			return (true);
	}
	return (false);
}

/* Start what is due, within the bound; arm the timer for the rest. */
static void
reporter_run(struct reporter *rp)
{
	struct rforge		*rf;
	struct outbox_item	*v;
	size_t			 n, i;
	int64_t			 now = store_now(), next = 0, at;
	struct timeval		 tv;
	int			 running;

	TAILQ_FOREACH(rf, &rp->forges, entry) {
		if (rf->paused_until > now) {
			if (next == 0 || rf->paused_until < next)
				next = rf->paused_until;
			continue;
		}
		if (rp->nreqs < rp->cfg.max_in_flight &&
		    outbox_due(rp->store, rf->repository_id, now,
		    (size_t)rp->cfg.max_in_flight + (size_t)rp->nreqs, &v,
		    &n) == 0) {
			for (i = 0; i < n && rp->nreqs <
			    rp->cfg.max_in_flight; i++) {
				if (reporter_busy(rp, rf->repository_id, &v[i]))
					continue;
				if (reporter_start(rp, rf, &v[i]) != 0)
					break;
			}
			outbox_item_array_free(v, n);
		}
		/* The earliest row not yet due (or not started). */
		if (outbox_next_due(rp->store, rf->repository_id, &at) == 0 &&
		    at > now && (next == 0 || at < next))
			next = at;
	}
	evtimer_del(rp->retry);
	if (next > now) {
		tv.tv_sec = (time_t)((next - now) / 1000);
		tv.tv_usec = (suseconds_t)((next - now) % 1000 * 1000);
		evtimer_add(rp->retry, &tv);
	}
	/* Let libcurl start the new transfers. */
	if (rp->multi == NULL)
		return;
	rp->lc->multi_socket_action(rp->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running);
	reporter_check(rp);
}

void
reporter_free(struct reporter *rp)
{
	struct rforge	*rf;
	struct rreq	*q;

	if (rp == NULL)
		return;
	rp->freeing = true;
	while ((q = TAILQ_FIRST(&rp->reqs)) != NULL) {
		TAILQ_REMOVE(&rp->reqs, q, entry);
		reporter_req_free(q);
	}
	while ((rf = TAILQ_FIRST(&rp->forges)) != NULL) {
		TAILQ_REMOVE(&rp->forges, rf, entry);
		forge_free(rf->forge);
		if (rf->token != NULL) {
			explicit_bzero(rf->token, strlen(rf->token));
			free(rf->token);
		}
		free(rf->repository);
		free(rf);
	}
	event_free(rp->curl_timer);
	event_free(rp->kick);
	event_free(rp->retry);
	if (rp->multi != NULL) {
		rp->lc->multi_cleanup(rp->multi);
		rp->lc->global_cleanup();
	}
	free(rp);
}

/* The engine's run hook. */

static const char *
reporter_doing(const char *action)
{
	if (action == NULL)
		return ("working");
	if (strcmp(action, "plan") == 0)
		return ("planning");
	if (strcmp(action, "destroy") == 0)
		return ("destroying");
	return ("applying");
}

void
reporter_on_run(const struct engine_run_event *ev, void *arg)
{
	struct reporter		*rp = arg;
	enum outbox_state	 st;
	char			*context, *desc;
	const char		*action = ev->action != NULL ? ev->action : "run";
	const char		*why;
	int			 error;

	if (rp == NULL || ev->commit == NULL || ev->deployment == NULL ||
	    ev->state == NULL || reporter_forge(rp, ev->repository_id) == NULL)
		return;
	/* Pull-request previews: the pull-request code reports those. */
	if (ev->pull != 0)
		return;
	/* A success's cause is only "exited 0": its summary says more. */
	why = ev->summary;
	if (strcmp(ev->state, "queued") == 0 ||
	    strcmp(ev->state, "running") == 0) {
		/*
		 * One pending status per run: queued and running read the
		 * same, so the second is no change and is not sent.
		 */
		st = OUTBOX_PENDING;
		desc = xstrdup(reporter_doing(action));
	} else if (strcmp(ev->state, "succeeded") == 0) {
		if (strcmp(action, "plan") == 0 && ev->phase != NULL &&
		    strcmp(ev->phase, "planned") == 0) {
			/* A plan waits for approval: not applied yet. */
			st = OUTBOX_PENDING;
			desc = why != NULL ? xasprintf("waiting for approval: %s",
			    why) : xstrdup("waiting for approval");
		} else {
			st = OUTBOX_SUCCESS;
			desc = why != NULL ? xasprintf("%s succeeded: %s",
			    action, why) : xasprintf("%s succeeded", action);
		}
	} else {
		st = strcmp(ev->state, "failed") == 0 ||
		    strcmp(ev->state, "timed-out") == 0 ? OUTBOX_FAILURE :
		    OUTBOX_ERROR;
		desc = ev->cause != NULL ? xasprintf("%s %s: %s", action,
		    ev->state, ev->cause) : xasprintf("%s %s", action,
		    ev->state);
	}
	context = xasprintf("cloudsphere/%s", ev->deployment);
	error = outbox_status(rp->store, ev->repository_id, ev->commit,
	    context, st, desc, NULL);
	if (error != 0)
		log_warnx("%s: %s: cannot record the forge status: %s",
		    ev->repository, ev->deployment, strerror(-error));
	else
		reporter_kick(rp);
	free(context);
	free(desc);
}
