/*
 * HTTP API with libevent's evhttp.  Two servers share the handlers: one on
 * the control socket (its file mode is the access control) and one on the
 * TCP listen address, where /api/ needs "Authorization: Bearer TOKEN",
 * compared in constant time.  Answers are JSON with the field names of
 * DESIGN.md section 7; errors are {"error": "..."}.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "compat.h"
#include "api.h"
#include "conf.h"
#include "buf.h"
#include "hooks.h"
#include "log.h"
#include "status.h"
#include "xmalloc.h"

#define API_TOKEN_MAX	4096
#define API_BODY_MAX	(64 * 1024)	/* the API's; webhooks have theirs */
#define API_HEADERS_MAX	(64 * 1024)
#define API_LOG_CHUNK	(256 * 1024)

struct follower {
	TAILQ_ENTRY(follower)	 entry;
	struct api		*api;
	struct evhttp_request	*req;
	int64_t			 run;
	int64_t			 seq;
};

struct api {
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	struct api_config	 cfg;
	struct evhttp		*unix_http;
	struct evhttp		*tcp_http;
	int			 unix_fd;
	char			*socket_path;
	char			*token;
	TAILQ_HEAD(, follower)	 followers;
	struct {
		api_metrics_cb	 cb;
		void		*arg;
	}			 metrics[8];
	size_t			 nmetrics;
};

void
api_add_metrics(struct api *api, api_metrics_cb cb, void *arg)
{
	if (api->nmetrics == sizeof api->metrics / sizeof api->metrics[0])
		fatalx("too many metrics callbacks");
	api->metrics[api->nmetrics].cb = cb;
	api->metrics[api->nmetrics++].arg = arg;
}

void
api_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(b, s, strlen(s));
	evbuffer_add(b, "\n", 1);
	evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", b);
	evbuffer_free(b);
	free(s);
	json_decref(body);
}

static void
api_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
api_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	api_json(req, code, json_pack("{ss}", "error", s));
	free(s);
}

static json_t *
jraw(const char *s)
{
	json_t	*v;

	if (s == NULL || (v = json_loads(s, 0, NULL)) == NULL)
		return (json_object());
	return (v);
}

/* A run's approval fields: a plan's approval, an apply's plan. */
static json_t *
api_run_approval(const struct store_run *r, json_t *o)
{
	if (o == NULL)
		return (NULL);
	json_object_set_new(o, "approval", status_json_str(r->approval));
	json_object_set_new(o, "plan_run", r->plan_run_id > 0 ?
	    json_integer(r->plan_run_id) : json_null());
	return (o);
}

static json_t *
api_run_json(const struct store_run *r)
{
	return (api_run_approval(r, json_pack("{sI ss* ss* ss* ss* ss* ss* ss* so so ss* ss* so so so so so}",
	    "id", (json_int_t)r->id,
	    "deployment", r->deployment,
	    "repository", r->repository,
	    "action", r->action,
	    "trigger", r->trigger,
	    "commit", r->commit,
	    "fingerprint", r->fingerprint,
	    "state", r->state,
	    "exit_code", r->exit_code >= 0 ?
	    json_integer(r->exit_code) : json_null(),
	    "log_bytes", json_integer(r->log_bytes),
	    "cause", r->cause,
	    "summary", r->summary,
	    "queued_at", status_json_time(r->queued_at),
	    "started_at", status_json_time(r->started_at),
	    "finished_at", status_json_time(r->finished_at),
	    "outputs", jraw(r->outputs),
	    "pull", r->pull > 0 ? json_integer(r->pull) : json_null())));
}

static void
api_approve(struct api *api, struct evhttp_request *req, int64_t id)
{
	int64_t	 apply = 0;
	char	*cause = NULL;
	int	 error;

	error = engine_approve(api->engine, id, &apply, &cause);
	if (error == -ENOENT)
		api_error(req, 404, "%s", cause);
	else if (error != 0)
		api_error(req, 409, "%s", cause);
	else
		api_json(req, 202, json_pack("{sIsIss}", "run",
		    (json_int_t)apply, "plan", (json_int_t)id, "action",
		    "apply"));
	free(cause);
}

static json_t *
api_deployment_json(struct api *api, const struct store_deployment *d)
{
	struct store_run	 run;
	json_t			*last = NULL;

	if (d->last_run_id > 0 &&
	    store_run_get(api->store, d->last_run_id, &run) == 0) {
		last = status_json_last_run(&run);
		store_run_release(&run);
	}
	return (status_json_deployment(api->store, d, last, jraw(d->outputs)));
}

/* The deployment named in a request: ?repository= picks among several. */
static int
api_find_deployment(struct api *api, const char *name, const char *repo,
    struct store_deployment *out)
{
	struct store_deployment	*v;
	size_t			 n, i;
	int			 found = -ENOENT;

	if (store_deployment_list(api->store, 0, &v, &n) != 0)
		return (-EIO);
	for (i = 0; i < n; i++) {
		if (found != 0 && strcmp(v[i].name, name) == 0 &&
		    (repo == NULL || strcmp(v[i].repository, repo) == 0)) {
			*out = v[i];
			memset(&v[i], 0, sizeof v[i]);
			found = 0;
		}
		store_deployment_release(&v[i]);
	}
	free(v);
	return (found);
}

static void
api_deployments(struct api *api, struct evhttp_request *req,
    const char *repo)
{
	struct store_deployment	*v;
	size_t			 n, i;
	json_t			*a = json_array();

	if (store_deployment_list(api->store, 0, &v, &n) != 0) {
		json_decref(a);
		api_error(req, 500, "cannot read the store");
		return;
	}
	for (i = 0; i < n; i++) {
		if (repo == NULL || strcmp(v[i].repository, repo) == 0)
			json_array_append_new(a, api_deployment_json(api,
			    &v[i]));
		store_deployment_release(&v[i]);
	}
	free(v);
	api_json(req, 200, a);
}

static void
api_history(struct api *api, struct evhttp_request *req,
    const struct store_deployment *d)
{
	struct store_transition	*t;
	size_t			 n, i;
	json_t			*a = json_array();

	if (store_transition_list(api->store, d->id, &t, &n) != 0) {
		json_decref(a);
		api_error(req, 500, "cannot read the store");
		return;
	}
	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_pack("{so ss* ss so ss*}",
		    "at", status_json_time(t[i].at), "from", t[i].from_phase,
		    "to", t[i].to_phase,
		    "run", t[i].run_id > 0 ? json_integer(t[i].run_id) :
		    json_null(), "reason", t[i].reason));
		store_transition_release(&t[i]);
	}
	free(t);
	api_json(req, 200, a);
}

static void
api_runs(struct api *api, struct evhttp_request *req, int64_t dep,
    size_t limit)
{
	struct store_run	*v;
	size_t			 n, i;
	json_t			*a = json_array();

	if (store_run_list(api->store, dep, limit, &v, &n) != 0) {
		json_decref(a);
		api_error(req, 500, "cannot read the store");
		return;
	}
	for (i = 0; i < n; i++) {
		json_array_append_new(a, api_run_json(&v[i]));
		store_run_release(&v[i]);
	}
	free(v);
	api_json(req, 200, a);
}

static bool
run_final(const char *state)
{
	return (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0);
}

static void
follower_free(struct follower *f)
{
	TAILQ_REMOVE(&f->api->followers, f, entry);
	free(f);
}

static void
follower_closed(struct evhttp_connection *conn, void *arg)
{
	struct follower	*f = arg;

	(void)conn;
	follower_free(f);
}

/* Send what is new; end the reply when the run is over and all sent. */
static bool
follower_push(struct follower *f)
{
	struct store_run	 run;
	struct buf		 b;
	struct evbuffer		*eb;
	int64_t			 last = f->seq;
	bool			 final;

	if (store_run_get(f->api->store, f->run, &run) != 0)
		return (true);
	final = run_final(run.state);
	store_run_release(&run);
	buf_init(&b, API_LOG_CHUNK);
	for (;;) {
		buf_reset(&b);
		if (store_log_read(f->api->store, f->run, f->seq,
		    API_LOG_CHUNK, &b, &last) != 0 || b.len == 0)
			break;
		f->seq = last;
		eb = evbuffer_new();
		evbuffer_add(eb, b.data, b.len);
		evhttp_send_reply_chunk(f->req, eb);
		evbuffer_free(eb);
	}
	buf_release(&b);
	return (final);
}

void
api_run_changed(int64_t run, void *arg)
{
	struct api	*api = arg;
	struct follower	*f, *next;

	TAILQ_FOREACH_SAFE(f, &api->followers, entry, next) {
		if (f->run != run)
			continue;
		if (follower_push(f)) {
			struct evhttp_connection *c =
			    evhttp_request_get_connection(f->req);

			evhttp_connection_set_closecb(c, NULL, NULL);
			evhttp_send_reply_end(f->req);
			follower_free(f);
		}
	}
}

static void
api_log(struct api *api, struct evhttp_request *req, int64_t id, bool follow)
{
	struct store_run	 run;
	struct follower		*f;
	struct buf		 b;
	struct evbuffer		*eb;
	int64_t			 seq = 0, last = 0;

	if (store_run_get(api->store, id, &run) != 0) {
		api_error(req, 404, "no run %lld", (long long)id);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if (follow && !run_final(run.state)) {
		store_run_release(&run);
		f = xcalloc(1, sizeof *f);
		f->api = api;
		f->req = req;
		f->run = id;
		TAILQ_INSERT_TAIL(&api->followers, f, entry);
		evhttp_send_reply_start(req, 200, "OK");
		evhttp_connection_set_closecb(evhttp_request_get_connection(req),
		    follower_closed, f);
		api_run_changed(id, api);
		return;
	}
	store_run_release(&run);
	eb = evbuffer_new();
	buf_init(&b, API_LOG_CHUNK);
	for (;;) {
		buf_reset(&b);
		if (store_log_read(api->store, id, seq, API_LOG_CHUNK, &b,
		    &last) != 0 || b.len == 0)
			break;
		seq = last;
		evbuffer_add(eb, b.data, b.len);
	}
	buf_release(&b);
	evhttp_send_reply(req, 200, "OK", eb);
	evbuffer_free(eb);
}

static void
api_action(struct api *api, struct evhttp_request *req, const char *name,
    const char *action, const char *repo)
{
	int64_t	 run = 0;
	char	*cause = NULL;
	int	 error;

	error = engine_action(api->engine, repo, name, action, &run, &cause);
	if (error == -ENOENT)
		api_error(req, 404, "%s", cause);
	else if (error == -EBUSY || error == -EALREADY || error == -ESTALE)
		api_error(req, 409, "%s", cause);
	else if (error != 0)
		api_error(req, 400, "%s", cause);
	else if (run > 0)
		api_json(req, 202, json_pack("{sIss}", "run", (json_int_t)run,
		    "action", action));
	else
		api_json(req, 200, json_pack("{ss}", "action", action));
	free(cause);
}

static void
api_metrics(struct api *api, struct evhttp_request *req)
{
	struct store_deployment	*v;
	struct evbuffer		*b = evbuffer_new();
	size_t			 n = 0, i, running, queued;
	static const char	*phases[] = { "pending", "planned", "applying",
	    "destroying", "ready", "failed", "drifted", "destroyed",
	    "orphaned", "invalid", "suspended" };
	size_t			 count[sizeof phases / sizeof phases[0]];

	memset(count, 0, sizeof count);
	if (store_deployment_list(api->store, 0, &v, &n) == 0) {
		for (i = 0; i < n; i++) {
			size_t k;

			for (k = 0; k < sizeof phases / sizeof phases[0]; k++)
				if (strcmp(v[i].phase, phases[k]) == 0)
					count[k]++;
			store_deployment_release(&v[i]);
		}
		free(v);
	}
	engine_counts(api->engine, &running, &queued);
	evbuffer_add_printf(b,
	    "# HELP cloudsphere_deployments Deployments by phase.\n"
	    "# TYPE cloudsphere_deployments gauge\n");
	for (i = 0; i < sizeof phases / sizeof phases[0]; i++)
		evbuffer_add_printf(b,
		    "cloudsphere_deployments{phase=\"%s\"} %zu\n", phases[i],
		    count[i]);
	evbuffer_add_printf(b,
	    "# HELP cloudsphere_runs Runs running and queued.\n"
	    "# TYPE cloudsphere_runs gauge\n"
	    "cloudsphere_runs{state=\"running\"} %zu\n"
	    "cloudsphere_runs{state=\"queued\"} %zu\n", running, queued);
	if (api->cfg.hooks != NULL)
		hooks_metrics(api->cfg.hooks, b);
	for (i = 0; i < api->nmetrics; i++) {
		struct buf	more;

		buf_init(&more, 1024 * 1024);
		api->metrics[i].cb(&more, api->metrics[i].arg);
		evbuffer_add(b, more.data, more.len);
		buf_release(&more);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* Split "/a/b/c" into at most n parts (pointers into buf). */
static size_t
api_split(char *buf, char **parts, size_t n)
{
	size_t	 k = 0;
	char	*p = buf, *s;

	while (*p == '/')
		p++;
	while (*p != '\0' && k < n) {
		parts[k++] = p;
		if ((s = strchr(p, '/')) == NULL)
			break;
		*s = '\0';
		p = s + 1;
	}
	return (k);
}

static bool
api_authorized(struct api *api, struct evhttp_request *req)
{
	const char	*h;
	size_t		 len;

	if (api->token == NULL)
		return (false);
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return (false);
	h += 7;
	len = strlen(api->token);
	if (strlen(h) != len)
		return (false);
	return (CRYPTO_memcmp(h, api->token, len) == 0);
}

static void
api_handle(struct evhttp_request *req, void *arg, bool tcp)
{
	struct api		*api = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	struct evkeyvalq	 q;
	const char		*path = evhttp_uri_get_path(uri), *v;
	const char		*repo = NULL, *query = evhttp_uri_get_query(uri);
	char			*copy, *parts[6], *decoded;
	struct store_deployment	 d;
	size_t			 n;
	int64_t			 id;
	bool			 get = cmd == EVHTTP_REQ_GET;
	bool			 post = cmd == EVHTTP_REQ_POST;

	TAILQ_INIT(&q);
	if (query != NULL)
		evhttp_parse_query_str(query, &q);
	repo = evhttp_find_header(&q, "repository");
	decoded = evhttp_uridecode(path != NULL ? path : "/", 0, NULL);
	copy = decoded;
	n = api_split(copy, parts, 6);

	if (n == 1 && strcmp(parts[0], "healthz") == 0 && get) {
		evhttp_send_reply(req, 200, "OK", NULL);
		goto out;
	}
	/* A webhook authenticates by its signature, not the token. */
	if (n >= 1 && strcmp(parts[0], "hooks") == 0) {
		if (n == 3 && api->cfg.hooks != NULL)
			hooks_handle(api->cfg.hooks, req, parts[1], parts[2]);
		else
			api_error(req, 404, "no such webhook");
		goto out;
	}
	if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
	    API_BODY_MAX) {
		api_error(req, 413, "body over %d bytes", API_BODY_MAX);
		goto out;
	}
	if (tcp && !api_authorized(api, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		api_error(req, 401, "a valid bearer token is needed");
		goto out;
	}
	if (n == 1 && strcmp(parts[0], "metrics") == 0 && get) {
		api_metrics(api, req);
		goto out;
	}
	if (n < 3 || strcmp(parts[0], "api") != 0 ||
	    strcmp(parts[1], "v1") != 0) {
		api_error(req, 404, "no such endpoint");
		goto out;
	}
	if (n == 3 && strcmp(parts[2], "status") == 0 && get) {
		api_json(req, 200, api->cfg.status(api->cfg.arg));
	} else if (n == 3 && strcmp(parts[2], "deployments") == 0 && get) {
		api_deployments(api, req, repo);
	} else if (n >= 4 && strcmp(parts[2], "deployments") == 0) {
		if (api_find_deployment(api, parts[3], repo, &d) != 0) {
			api_error(req, 404, "no deployment '%s'", parts[3]);
			goto out;
		}
		if (n == 4 && get)
			api_json(req, 200, api_deployment_json(api, &d));
		else if (n == 5 && get && strcmp(parts[4], "history") == 0)
			api_history(api, req, &d);
		else if (n == 5 && post)
			api_action(api, req, parts[3], parts[4], d.repository);
		else
			api_error(req, 405, "method not allowed");
		store_deployment_release(&d);
	} else if (n == 3 && strcmp(parts[2], "runs") == 0 && get) {
		id = 0;
		if ((v = evhttp_find_header(&q, "deployment")) != NULL) {
			if (api_find_deployment(api, v, repo, &d) != 0) {
				api_error(req, 404, "no deployment '%s'", v);
				goto out;
			}
			id = d.id;
			store_deployment_release(&d);
		}
		v = evhttp_find_header(&q, "limit");
		api_runs(api, req, id, v != NULL ? (size_t)strtoul(v, NULL,
		    10) : 50);
	} else if (n >= 4 && strcmp(parts[2], "runs") == 0) {
		struct store_run	run;
		char			*end;
		char			*cause = NULL;

		id = strtoll(parts[3], &end, 10);
		if (*end != '\0' || id <= 0) {
			api_error(req, 400, "bad run id '%s'", parts[3]);
			goto out;
		}
		if (n == 4 && get) {
			if (store_run_get(api->store, id, &run) != 0) {
				api_error(req, 404, "no run %lld",
				    (long long)id);
				goto out;
			}
			api_json(req, 200, api_run_json(&run));
			store_run_release(&run);
		} else if (n == 5 && get && strcmp(parts[4], "log") == 0) {
			v = evhttp_find_header(&q, "follow");
			api_log(api, req, id, v != NULL && strcmp(v, "0") != 0);
		} else if (n == 5 && post && strcmp(parts[4], "approve") == 0) {
			api_approve(api, req, id);
		} else if (n == 5 && post && strcmp(parts[4], "cancel") == 0) {
			if (engine_cancel(api->engine, id, &cause) != 0)
				api_error(req, 409, "%s", cause);
			else
				api_json(req, 202, json_pack("{sI}", "run",
				    (json_int_t)id));
			free(cause);
		} else
			api_error(req, 405, "method not allowed");
	} else if (n == 5 && strcmp(parts[2], "repositories") == 0 &&
	    strcmp(parts[4], "sync") == 0 && post) {
		if (api->cfg.sync(parts[3], api->cfg.arg) != 0)
			api_error(req, 404, "no repository '%s'", parts[3]);
		else
			api_json(req, 202, json_pack("{ss}", "repository",
			    parts[3]));
	} else if (n == 3 && strcmp(parts[2], "sync") == 0 && post) {
		api->cfg.sync(NULL, api->cfg.arg);
		api_json(req, 202, json_object());
	} else
		api_error(req, 404, "no such endpoint");
out:
	evhttp_clear_headers(&q);
	free(decoded);
}

static void
api_unix_cb(struct evhttp_request *req, void *arg)
{
	api_handle(req, arg, false);
}

static void
api_tcp_cb(struct evhttp_request *req, void *arg)
{
	api_handle(req, arg, true);
}

static int
api_read_token(const char *path, char **out, char **cause)
{
	FILE	*f;
	char	 buf[API_TOKEN_MAX];
	size_t	 n;

	if ((f = fopen(path, "re")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return (-errno);
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		*cause = xasprintf("%s: empty token", path);
		return (-EINVAL);
	}
	*out = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return (0);
}

static int
api_unix_listen(struct api *api, const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	char			*tmp;
	int			 fd, error;
	mode_t			 old;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("%s: path too long for a socket", path);
		return (-ENAMETOOLONG);
	}
	/*
	 * Bound and listening under a temporary name, then renamed into
	 * place, so that a client that sees the path can connect: bind
	 * makes the path, and a connect before listen is refused.
	 */
	tmp = xasprintf("%s.new", path);
	if (strlen(tmp) >= sizeof sun.sun_path) {
		free(tmp);
		tmp = NULL;		/* no room: bound in place */
	}
	memcpy(sun.sun_path, tmp != NULL ? tmp : path,
	    strlen(tmp != NULL ? tmp : path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		error = errno;
		*cause = xasprintf("socket: %s", strerror(error));
		free(tmp);
		return (-error);
	}
	unlink(sun.sun_path);
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(fd, 64) != 0 ||
	    (tmp != NULL && rename(tmp, path) != 0)) {
		error = errno;
		umask(old);
		*cause = xasprintf("%s: %s", path, strerror(error));
		if (tmp != NULL)
			unlink(tmp);
		free(tmp);
		close(fd);
		return (-error);
	}
	umask(old);
	free(tmp);
	api->unix_fd = fd;
	api->socket_path = xstrdup(path);
	api->unix_http = evhttp_new(api->base);
	evhttp_set_max_body_size(api->unix_http, HOOKS_BODY_MAX);
	evhttp_set_max_headers_size(api->unix_http, API_HEADERS_MAX);
	evhttp_set_allowed_methods(api->unix_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST);
	evhttp_set_gencb(api->unix_http, api_unix_cb, api);
	if (evhttp_accept_socket(api->unix_http, fd) != 0) {
		*cause = xasprintf("%s: cannot accept", path);
		return (-EIO);
	}
	return (0);
}

static int
api_tcp_listen(struct api *api, const char *listen, char **cause)
{
	char	*host = NULL;
	int	 port;

	if (config_parse_listen(listen, &host, &port) != 0) {
		*cause = xasprintf("listen '%s': expected HOST:PORT, [IPV6]:PORT or :PORT",
		    listen);
		return (-EINVAL);
	}
	if (host[0] == '\0') {
		free(host);
		host = xstrdup("::");	/* every address, IPv6 and IPv4 */
	}
	api->tcp_http = evhttp_new(api->base);
	/* The whole server's limit: the API's own is checked per request. */
	evhttp_set_max_body_size(api->tcp_http, HOOKS_BODY_MAX);
	evhttp_set_max_headers_size(api->tcp_http, API_HEADERS_MAX);
	evhttp_set_timeout(api->tcp_http, 30);
	evhttp_set_allowed_methods(api->tcp_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST);
	evhttp_set_gencb(api->tcp_http, api_tcp_cb, api);
	if (evhttp_bind_socket(api->tcp_http, host, (ev_uint16_t)port) != 0 &&
	    (strcmp(host, "::") != 0 ||	/* no IPv6 here: IPv4 then */
	    evhttp_bind_socket(api->tcp_http, "0.0.0.0",
	    (ev_uint16_t)port) != 0)) {
		*cause = xasprintf("cannot listen on %s: %s", listen,
		    strerror(errno));
		free(host);
		return (-EADDRINUSE);
	}
	free(host);
	return (0);
}

int
api_new(struct api **out, struct event_base *base, struct store *store,
    struct engine *engine, const struct api_config *cfg, char **cause)
{
	struct api	*api = xcalloc(1, sizeof *api);
	int		 error;

	*out = NULL;
	*cause = NULL;
	api->base = base;
	api->store = store;
	api->engine = engine;
	api->cfg = *cfg;
	api->unix_fd = -1;
	TAILQ_INIT(&api->followers);
	if (cfg->api_token_file != NULL &&
	    (error = api_read_token(cfg->api_token_file, &api->token,
	    cause)) != 0)
		goto fail;
	if (cfg->control_socket != NULL &&
	    (error = api_unix_listen(api, cfg->control_socket, cause)) != 0)
		goto fail;
	if (cfg->listen != NULL && cfg->listen[0] != '\0' &&
	    (error = api_tcp_listen(api, cfg->listen, cause)) != 0)
		goto fail;
	*out = api;
	return (0);
fail:
	api_free(api);
	return (error);
}

void
api_free(struct api *api)
{
	struct follower	*f;

	if (api == NULL)
		return;
	while ((f = TAILQ_FIRST(&api->followers)) != NULL) {
		evhttp_connection_set_closecb(
		    evhttp_request_get_connection(f->req), NULL, NULL);
		evhttp_send_reply_end(f->req);
		follower_free(f);
	}
	if (api->unix_http != NULL)
		evhttp_free(api->unix_http);
	if (api->tcp_http != NULL)
		evhttp_free(api->tcp_http);
	if (api->socket_path != NULL) {
		unlink(api->socket_path);
		free(api->socket_path);
	}
	if (api->token != NULL) {
		explicit_bzero(api->token, strlen(api->token));
		free(api->token);
	}
	free(api);
}
