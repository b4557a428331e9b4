/*
 * cloudspherectl's online commands: HTTP over the daemon's control socket
 * with libcurl.  Tables for people, --json for scripts (the API's answer
 * as it is).  Exit status: 0 success, 1 the thing asked about failed or is
 * invalid, 2 usage, 3 the daemon could not be reached.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"
#include "ctl.h"
#include "xmalloc.h"

#define CTL_ANSWER_MAX	(64 * 1024 * 1024)

struct ctl_opts ctl_opts;

struct answer {
	struct buf	 body;
	bool		 stream;	/* write to stdout as it comes */
};

static size_t
ctl_write(char *data, size_t size, size_t n, void *arg)
{
	struct answer	*a = arg;

	if (a->stream) {
		fwrite(data, size, n, stdout);
		fflush(stdout);
		return (size * n);
	}
	if (buf_add(&a->body, data, size * n) != 0)
		return (0);
	return (size * n);
}

/*
 * One request; *status receives the HTTP status, *json the parsed body
 * (when not streamed).  Returns CTL_UNREACHABLE when there is no daemon.
 */
static int
ctl_request(const char *method, const char *path, bool stream, long *status,
    json_t **json)
{
	CURL		*c;
	CURLcode	 rc;
	struct answer	 a;
	char		*url;
	int		 ret = CTL_OK;

	*status = 0;
	if (json != NULL)
		*json = NULL;
	memset(&a, 0, sizeof a);
	buf_init(&a.body, CTL_ANSWER_MAX);
	a.stream = stream;
	if ((c = curl_easy_init()) == NULL) {
		fprintf(stderr, "cloudspherectl: cannot initialise libcurl\n");
		return (CTL_UNREACHABLE);
	}
	url = xasprintf("http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ctl_opts.socket);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (!stream)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
	    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING) {
		fprintf(stderr, "cloudspherectl: cannot reach the daemon at %s: %s\n",
		    ctl_opts.socket, curl_easy_strerror(rc));
		ret = CTL_UNREACHABLE;
		goto out;
	}
	if (rc != CURLE_OK) {
		fprintf(stderr, "cloudspherectl: %s\n", curl_easy_strerror(rc));
		ret = CTL_UNREACHABLE;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (json != NULL && !stream && a.body.len > 0)
		*json = json_loadb(a.body.data, a.body.len, 0, NULL);
out:
	buf_release(&a.body);
	free(url);
	curl_easy_cleanup(c);
	return (ret);
}

static const char *
jget(const json_t *o, const char *key)
{
	const json_t	*v = json_object_get(o, key);

	if (json_is_string(v))
		return (json_string_value(v));
	return ("-");
}

static void
print_json(const json_t *j)
{
	char	*s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	printf("%s\n", s != NULL ? s : "null");
	free(s);
}

/* An error answer: its message on stderr, exit status 1. */
static int
ctl_failed(long status, const json_t *j)
{
	const char	*msg = j != NULL ? jget(j, "error") : "-";

	fprintf(stderr, "cloudspherectl: %s (HTTP %ld)\n",
	    strcmp(msg, "-") != 0 ? msg : "request failed", status);
	return (CTL_FAILED);
}

static int
ctl_get(const char *path, json_t **j)
{
	long	status;
	int	ret;

	if ((ret = ctl_request("GET", path, false, &status, j)) != CTL_OK)
		return (ret);
	if (status != 200 || *j == NULL) {
		ret = ctl_failed(status, *j);
		json_decref(*j);
		*j = NULL;
	}
	return (ret);
}

/* Short forms for tables. */
static void
short_time(const char *t, char out[20])
{
	if (t == NULL || strcmp(t, "-") == 0 || strlen(t) < 19) {
		snprintf(out, 20, "-");
		return;
	}
	snprintf(out, 20, "%.10s %.8s", t, t + 11);
}

static int
ctl_cmd_status(int argc, char **argv)
{
	json_t		*j, *repos, *r;
	size_t		 i;
	int		 ret;

	(void)argc;
	(void)argv;
	if ((ret = ctl_get("/api/v1/status", &j)) != CTL_OK)
		return (ret);
	if (ctl_opts.json) {
		print_json(j);
		json_decref(j);
		return (CTL_OK);
	}
	printf("cloudsphered %s, pid %lld: %lld runs running, %lld queued\n",
	    jget(j, "version"),
	    (long long)json_integer_value(json_object_get(j, "pid")),
	    (long long)json_integer_value(json_object_get(json_object_get(j,
	    "runs"), "running")),
	    (long long)json_integer_value(json_object_get(json_object_get(j,
	    "runs"), "queued")));
	repos = json_object_get(j, "repositories");
	printf("%-20s %-12s %s\n", "REPOSITORY", "COMMIT", "ERROR");
	json_array_foreach(repos, i, r) {
		printf("%-20s %-12.12s %s\n", jget(r, "name"), jget(r, "commit"),
		    jget(r, "error"));
	}
	json_decref(j);
	return (CTL_OK);
}

static int
ctl_cmd_deployments(int argc, char **argv)
{
	json_t	*j, *d, *last;
	size_t	 i;
	int	 ret;
	char	*path;

	path = argc > 1 ? xasprintf("/api/v1/deployments?repository=%s",
	    argv[1]) : xstrdup("/api/v1/deployments");
	ret = ctl_get(path, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	if (ctl_opts.json) {
		print_json(j);
		json_decref(j);
		return (CTL_OK);
	}
	printf("%-24s %-12s %-11s %-12s %-10s %s\n", "DEPLOYMENT",
	    "REPOSITORY", "PHASE", "APPLIED", "LAST-RUN", "CAUSE");
	json_array_foreach(j, i, d) {
		char	run[32];

		last = json_object_get(d, "last_run");
		if (json_is_object(last))
			snprintf(run, sizeof run, "%lld %s",
			    (long long)json_integer_value(json_object_get(last,
			    "id")), jget(last, "result"));
		else
			snprintf(run, sizeof run, "-");
		printf("%-24s %-12s %-11s %-12.12s %-10s %s\n",
		    jget(d, "name"), jget(d, "repository"), jget(d, "phase"),
		    jget(json_object_get(d, "applied"), "commit"), run,
		    jget(d, "cause"));
	}
	json_decref(j);
	return (CTL_OK);
}

static int
ctl_cmd_show(int argc, char **argv)
{
	json_t		*j, *o;
	const char	*phase;
	char		*path;
	int		 ret;

	if (argc != 2)
		return (CTL_USAGE);
	path = xasprintf("/api/v1/deployments/%s", argv[1]);
	ret = ctl_get(path, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	phase = jget(j, "phase");
	if (ctl_opts.json)
		print_json(j);
	else {
		printf("deployment:   %s\n", jget(j, "name"));
		printf("repository:   %s\n", jget(j, "repository"));
		printf("phase:        %s\n", phase);
		printf("blueprint:    %s\n", jget(j, "blueprint"));
		printf("environment:  %s\n", jget(j, "environment"));
		printf("suspended:    %s\n", json_is_true(json_object_get(j,
		    "suspended")) ? "yes" : "no");
		o = json_object_get(j, "desired");
		printf("desired:      %.12s %s\n", jget(o, "commit"),
		    jget(o, "fingerprint"));
		o = json_object_get(j, "applied");
		printf("applied:      %.12s %s %s\n", jget(o, "commit"),
		    jget(o, "fingerprint"), jget(o, "at"));
		o = json_object_get(j, "last_run");
		if (json_is_object(o))
			printf("last run:     %lld %s %s: %s\n",
			    (long long)json_integer_value(json_object_get(o,
			    "id")), jget(o, "action"), jget(o, "result"),
			    jget(o, "cause"));
		if (strcmp(jget(j, "cause"), "-") != 0)
			printf("cause:        %s\n", jget(j, "cause"));
		o = json_object_get(j, "plan");
		if (json_is_object(o))
			printf("plan:         %lld at %.12s waits for approval (%s): cloudspherectl approve %lld\n",
			    (long long)json_integer_value(json_object_get(o,
			    "id")), jget(o, "commit"),
			    strcmp(jget(o, "summary"), "-") != 0 ?
			    jget(o, "summary") : "changes",
			    (long long)json_integer_value(json_object_get(o,
			    "id")));
		o = json_object_get(j, "outputs");
		if (json_object_size(o) > 0) {
			char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

			printf("outputs:      %s\n", s);
			free(s);
		}
	}
	ret = strcmp(phase, "failed") == 0 || strcmp(phase, "invalid") == 0 ?
	    CTL_FAILED : CTL_OK;
	json_decref(j);
	return (ret);
}

static int
ctl_cmd_history(int argc, char **argv)
{
	json_t	*j, *t;
	size_t	 i;
	char	*path, at[20];
	int	 ret;

	if (argc != 2)
		return (CTL_USAGE);
	path = xasprintf("/api/v1/deployments/%s/history", argv[1]);
	ret = ctl_get(path, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	if (ctl_opts.json)
		print_json(j);
	else {
		printf("%-19s %-11s %-11s %-6s %s\n", "AT", "FROM", "TO", "RUN",
		    "REASON");
		json_array_foreach(j, i, t) {
			char	run[24];

			short_time(jget(t, "at"), at);
			if (json_is_integer(json_object_get(t, "run")))
				snprintf(run, sizeof run, "%lld",
				    (long long)json_integer_value(
				    json_object_get(t, "run")));
			else
				snprintf(run, sizeof run, "-");
			printf("%-19s %-11s %-11s %-6s %s\n", at,
			    jget(t, "from"), jget(t, "to"), run,
			    jget(t, "reason"));
		}
	}
	json_decref(j);
	return (CTL_OK);
}

/* What became of a plan, or which plan an apply carried out. */
static void
ctl_run_note(const json_t *r, char *out, size_t len)
{
	const json_t	*plan = json_object_get(r, "plan_run");

	if (strcmp(jget(r, "approval"), "-") != 0)
		snprintf(out, len, " (%s)", jget(r, "approval"));
	else if (json_is_integer(plan))
		snprintf(out, len, " (plan %lld)",
		    (long long)json_integer_value(plan));
	else
		out[0] = '\0';
}

static int
ctl_cmd_runs(int argc, char **argv)
{
	json_t	*j, *r, *code;
	size_t	 i;
	char	*path, at[20], exitc[16], note[40];
	int	 ret;

	path = argc > 1 ? xasprintf("/api/v1/runs?deployment=%s", argv[1]) :
	    xstrdup("/api/v1/runs");
	ret = ctl_get(path, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	if (ctl_opts.json)
		print_json(j);
	else {
		printf("%-6s %-24s %-8s %-8s %-11s %-4s %-19s %s\n", "RUN",
		    "DEPLOYMENT", "ACTION", "TRIGGER", "STATE", "EXIT",
		    "STARTED", "CAUSE");
		json_array_foreach(j, i, r) {
			short_time(jget(r, "started_at"), at);
			code = json_object_get(r, "exit_code");
			if (json_is_integer(code))
				snprintf(exitc, sizeof exitc, "%lld",
				    (long long)json_integer_value(code));
			else
				snprintf(exitc, sizeof exitc, "-");
			ctl_run_note(r, note, sizeof note);
			printf("%-6lld %-24s %-8s %-8s %-11s %-4s %-19s %s%s\n",
			    (long long)json_integer_value(json_object_get(r,
			    "id")), jget(r, "deployment"), jget(r, "action"),
			    jget(r, "trigger"), jget(r, "state"), exitc, at,
			    jget(r, "cause"), note);
		}
	}
	json_decref(j);
	return (CTL_OK);
}

static int
ctl_cmd_log(int argc, char **argv)
{
	json_t	*j;
	long	 status;
	char	*path, *end;
	bool	 follow = false;
	int	 ret, i;
	const char *run = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 ||
		    strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if (run == NULL)
			run = argv[i];
		else
			return (CTL_USAGE);
	}
	if (run == NULL || strtoll(run, &end, 10) <= 0 || *end != '\0')
		return (CTL_USAGE);
	path = xasprintf("/api/v1/runs/%s/log%s", run, follow ?
	    "?follow=1" : "");
	ret = ctl_request("GET", path, true, &status, NULL);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	if (status != 200) {
		fprintf(stderr, "cloudspherectl: no run %s\n", run);
		return (CTL_FAILED);
	}
	/* The run's result is the exit status. */
	path = xasprintf("/api/v1/runs/%s", run);
	ret = ctl_get(path, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	ret = strcmp(jget(j, "state"), "succeeded") == 0 ||
	    strcmp(jget(j, "state"), "running") == 0 ||
	    strcmp(jget(j, "state"), "queued") == 0 ? CTL_OK : CTL_FAILED;
	json_decref(j);
	return (ret);
}

static int
ctl_post(const char *path)
{
	json_t	*j = NULL;
	long	 status;
	int	 ret;

	if ((ret = ctl_request("POST", path, false, &status, &j)) != CTL_OK)
		return (ret);
	if (status < 200 || status >= 300) {
		ret = ctl_failed(status, j);
		json_decref(j);
		return (ret);
	}
	if (ctl_opts.json)
		print_json(j);
	else if (json_is_integer(json_object_get(j, "run")))
		printf("run %lld %s\n", (long long)json_integer_value(
		    json_object_get(j, "run")), status == 202 ? "queued" :
		    "done");
	json_decref(j);
	return (CTL_OK);
}

static int
ctl_cmd_sync(int argc, char **argv)
{
	char	*path;
	int	 ret;

	if (argc > 2)
		return (CTL_USAGE);
	path = argc == 2 ? xasprintf("/api/v1/repositories/%s/sync",
	    argv[1]) : xstrdup("/api/v1/sync");
	ret = ctl_post(path);
	free(path);
	if (ret == CTL_OK && !ctl_opts.json)
		printf("sync requested\n");
	return (ret);
}

static int
ctl_cmd_action(int argc, char **argv)
{
	char	*path;
	int	 ret;

	if (argc != 2)
		return (CTL_USAGE);
	path = xasprintf("/api/v1/deployments/%s/%s", argv[1], argv[0]);
	ret = ctl_post(path);
	free(path);
	return (ret);
}

static int
ctl_cmd_cancel(int argc, char **argv)
{
	char	*path, *end;
	int	 ret;

	if (argc != 2 || strtoll(argv[1], &end, 10) <= 0 || *end != '\0')
		return (CTL_USAGE);
	path = xasprintf("/api/v1/runs/%s/cancel", argv[1]);
	ret = ctl_post(path);
	free(path);
	return (ret);
}

/*
 * approve RUN: an apply of exactly that plan.  A name instead of a number
 * approves the deployment's plan waiting for approval, or its destroy held
 * back by the prune limit.
 */
static int
ctl_cmd_approve(int argc, char **argv)
{
	json_t		*j = NULL;
	const json_t	*run, *plan;
	char		*path, *end;
	long		 status;
	int		 ret;

	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-')
		return (CTL_USAGE);
	if (strtoll(argv[1], &end, 10) > 0 && *end == '\0')
		path = xasprintf("/api/v1/runs/%s/approve", argv[1]);
	else
		path = xasprintf("/api/v1/deployments/%s/approve", argv[1]);
	ret = ctl_request("POST", path, false, &status, &j);
	free(path);
	if (ret != CTL_OK)
		return (ret);
	if (status < 200 || status >= 300) {
		ret = ctl_failed(status, j);
		json_decref(j);
		return (ret);
	}
	run = json_object_get(j, "run");
	plan = json_object_get(j, "plan");
	if (ctl_opts.json)
		print_json(j);
	else if (json_is_integer(run) && json_is_integer(plan))
		printf("plan %lld approved: apply run %lld queued\n",
		    (long long)json_integer_value(plan),
		    (long long)json_integer_value(run));
	else if (json_is_integer(run))
		printf("approved: apply run %lld queued\n",
		    (long long)json_integer_value(run));
	else
		printf("approved\n");
	json_decref(j);
	return (CTL_OK);
}

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} ctl_online[] = {
	{ "status", ctl_cmd_status, "status" },
	{ "deployments", ctl_cmd_deployments, "deployments [REPOSITORY]" },
	{ "show", ctl_cmd_show, "show DEPLOYMENT" },
	{ "history", ctl_cmd_history, "history DEPLOYMENT" },
	{ "runs", ctl_cmd_runs, "runs [DEPLOYMENT]" },
	{ "log", ctl_cmd_log, "log RUN [-f]" },
	{ "sync", ctl_cmd_sync, "sync [REPOSITORY]" },
	{ "plan", ctl_cmd_action, "plan DEPLOYMENT" },
	{ "apply", ctl_cmd_action, "apply DEPLOYMENT" },
	{ "destroy", ctl_cmd_action, "destroy DEPLOYMENT" },
	{ "suspend", ctl_cmd_action, "suspend DEPLOYMENT" },
	{ "resume", ctl_cmd_action, "resume DEPLOYMENT" },
	{ "retry", ctl_cmd_action, "retry DEPLOYMENT" },
	{ "approve", ctl_cmd_approve, "approve RUN" },
	{ "cancel", ctl_cmd_cancel, "cancel RUN" },
};

/* -1 when name is not an online command. */
int
ctl_online_run(int argc, char **argv)
{
	size_t	i;
	int	ret, j, k;

	for (i = 0; i < sizeof ctl_online / sizeof ctl_online[0]; i++) {
		if (strcmp(argv[0], ctl_online[i].name) == 0)
			break;
	}
	if (i == sizeof ctl_online / sizeof ctl_online[0])
		return (-1);
	/* --json may also come after the command. */
	for (j = 1, k = 1; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			ctl_opts.json = true;
		else if (strcmp(argv[j], "--help") == 0 ||
		    strcmp(argv[j], "-h") == 0) {
			printf("usage: cloudspherectl [-s SOCKET] [-c FILE] [--json] %s\n",
			    ctl_online[i].usage);
			return (CTL_OK);
		} else
			argv[k++] = argv[j];
	}
	argc = k;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = ctl_online[i].fn(argc, argv);
	curl_global_cleanup();
	if (ret == CTL_USAGE)
		fprintf(stderr, "usage: cloudspherectl [-s SOCKET] [-c FILE] [--json] %s\n",
		    ctl_online[i].usage);
	return (ret);
}

void
ctl_online_usage(FILE *f)
{
	size_t	i;

	for (i = 0; i < sizeof ctl_online / sizeof ctl_online[0]; i++)
		fprintf(f, "  %s\n", ctl_online[i].usage);
}
