/*
 * Requests to the forges' status and comment APIs, and the reading of
 * their answers, without I/O (see forge.h).  One table row per forge says
 * how it names things; the few places where the forges differ more
 * (GitLab's encoded project, Bitbucket's URL-less statuses, Bitbucket
 * Server's versioned comment edits) are spelled out where they happen.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "forge.h"
#include "xmalloc.h"

/* Longest message kept from an error answer. */
#define FORGE_MESSAGE_MAX	300
/* Longest answer body read for an id or a message. */
#define FORGE_ANSWER_MAX	(1024 * 1024)

struct forge {
	enum forge_kind	 kind;
	char		*name;
	char		*api_url;	/* no trailing slash */
	char		*project;
	char		*owner;		/* project's first part... */
	char		*repo;		/* ...and the rest */
	char		*token;
};

static const struct forge_info {
	const char		*name;
	const char		*default_url;
	struct forge_limits	 limits;
	const char		*states[4];	/* by enum outbox_state */
} forge_infos[] = {
	/*
	 * GitHub: description 140 and comment 65536 characters, both answered
	 * with 422 over the limit (CONTRACTS.md section 3).
	 */
	[FORGE_GITHUB] = { "github", "https://api.github.com", { 140, 65536 },
	    { "pending", "success", "failure", "error" } },
	/*
	 * GitLab: notes up to 1,000,000 characters (its notes API); status
	 * descriptions have no documented limit: 255 is conservative.  The
	 * daemon is working while a status is pending, hence running.
	 */
	[FORGE_GITLAB] = { "gitlab", "https://gitlab.com/api/v4",
	    { 255, 1000000 }, { "running", "success", "failed", "failed" } },
	/* Gitea, Forgejo: no documented limits; GitHub's are conservative. */
	[FORGE_GITEA] = { "gitea", NULL, { 140, 65536 },
	    { "pending", "success", "failure", "error" } },
	/*
	 * Bitbucket Cloud: no documented limits; Bitbucket Server's comment
	 * limit and 255 for descriptions are conservative.  STOPPED is its
	 * word for a build that did not finish.
	 */
	[FORGE_BITBUCKET] = { "bitbucket", "https://api.bitbucket.org/2.0",
	    { 255, 32768 }, { "INPROGRESS", "SUCCESSFUL", "FAILED",
	    "STOPPED" } },
	/* Bitbucket Server: comments up to 32768 characters (Atlantis). */
	[FORGE_BITBUCKET_SERVER] = { "bitbucket-server", NULL, { 255, 32768 },
	    { "INPROGRESS", "SUCCESSFUL", "FAILED", "FAILED" } },
};

const struct forge_limits *
forge_limits(enum forge_kind k)
{
	return (&forge_infos[k].limits);
}

const char *
forge_state_word(enum forge_kind k, enum outbox_state st)
{
	if ((unsigned)st > OUTBOX_ERROR)
		return (NULL);
	return (forge_infos[k].states[st]);
}

enum forge_kind
forge_kind(const struct forge *f)
{
	return (f->kind);
}

const char *
forge_name(const struct forge *f)
{
	return (f->name);
}

static bool
forge_segment_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return (false);
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.' && s[i] != '~')
			return (false);
	}
	return (true);
}

/* Path segments separated by '/', each of URL-safe characters. */
static bool
forge_project_valid(const char *p, size_t *nparts)
{
	const char	*slash;

	*nparts = 0;
	for (;;) {
		slash = strchr(p, '/');
		if (!forge_segment_valid(p, slash != NULL ? (size_t)(slash - p) :
		    strlen(p)))
			return (false);
		(*nparts)++;
		if (slash == NULL)
			return (true);
		p = slash + 1;
	}
}

int
forge_new(struct forge **out, const char *kind, const char *api_url,
    const char *project, const char *token, char **cause)
{
	struct forge	*f;
	enum forge_kind	 k;
	size_t		 i, nparts, len;
	const char	*slash;

	*out = NULL;
	*cause = NULL;
	if (kind == NULL || strcmp(kind, "generic") == 0) {
		*cause = xstrdup("forge kind generic has no status API");
		return (-ENOTSUP);
	}
	if (strcmp(kind, "forgejo") == 0)
		k = FORGE_GITEA;
	else {
		for (i = 0; i < sizeof forge_infos / sizeof forge_infos[0]; i++)
			if (strcmp(forge_infos[i].name, kind) == 0)
				break;
		if (i == sizeof forge_infos / sizeof forge_infos[0]) {
			*cause = xasprintf("unknown forge kind %s", kind);
			return (-EINVAL);
		}
		k = (enum forge_kind)i;
	}
	if (api_url == NULL)
		api_url = forge_infos[k].default_url;
	if (api_url == NULL) {
		*cause = xasprintf("forge %s needs an api_url", kind);
		return (-EINVAL);
	}
	if (strncmp(api_url, "https://", 8) != 0 &&
	    strncmp(api_url, "http://", 7) != 0) {
		*cause = xasprintf("forge api_url %s: not http(s)", api_url);
		return (-EINVAL);
	}
	if (project == NULL || !forge_project_valid(project, &nparts) ||
	    (k != FORGE_GITLAB && nparts != 2)) {
		*cause = xasprintf("forge project '%s': want %s",
		    project != NULL ? project : "",
		    k == FORGE_GITLAB ? "group/project or an id" :
		    k == FORGE_BITBUCKET ? "workspace/repository" :
		    k == FORGE_BITBUCKET_SERVER ? "PROJECT/repository" :
		    "owner/repository");
		return (-EINVAL);
	}
	if (token == NULL || *token == '\0' || strpbrk(token, "\r\n") != NULL) {
		*cause = xstrdup("forge token empty or not one line");
		return (-EINVAL);
	}
	f = xcalloc(1, sizeof *f);
	f->kind = k;
	f->name = xstrdup(kind);
	len = strlen(api_url);
	while (len > 0 && api_url[len - 1] == '/')
		len--;
	f->api_url = xstrndup(api_url, len);
	f->project = xstrdup(project);
	slash = strchr(project, '/');
	f->owner = slash != NULL ? xstrndup(project, (size_t)(slash - project)) :
	    xstrdup(project);
	f->repo = xstrdup(slash != NULL ? slash + 1 : "");
	f->token = xstrdup(token);
	*out = f;
	return (0);
}

void
forge_free(struct forge *f)
{
	if (f == NULL)
		return;
	free(f->name);
	free(f->api_url);
	free(f->project);
	free(f->owner);
	free(f->repo);
	if (f->token != NULL) {
		explicit_bzero(f->token, strlen(f->token));
		free(f->token);
	}
	free(f);
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static char *
forge_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct buf		 b;
	unsigned char		 c;

	buf_init(&b, 3 * strlen(s) + 1);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			buf_addch(&b, (char)c);
		else {
			buf_addch(&b, '%');
			buf_addch(&b, hex[c >> 4]);
			buf_addch(&b, hex[c & 15]);
		}
	}
	return (buf_detach(&b));
}

char *
forge_trim(const char *text, size_t max, const char *note, bool *trimmed)
{
	size_t	len = strlen(text), nlen = note != NULL ? strlen(note) : 0;
	size_t	cut;
	char	*out;

	*trimmed = false;
	if (len <= max)
		return (xstrdup(text));
	*trimmed = true;
	if (nlen > max)
		nlen = 0;
	cut = max - nlen;
	/* Back to the start of a UTF-8 sequence. */
	while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	out = xmalloc(cut + nlen + 1);
	memcpy(out, text, cut);
	if (nlen > 0)
		memcpy(out + cut, note, nlen);
	out[cut + nlen] = '\0';
	return (out);
}

static void
forge_header(struct forge_request *r, const char *name, const char *v)
{
	if (r->nheaders < FORGE_HEADERS_MAX)
		r->headers[r->nheaders++] = xasprintf("%s: %s", name, v);
}

static void
forge_auth(struct forge_request *r, const char *name, const char *scheme,
    const char *token)
{
	if (r->nheaders < FORGE_HEADERS_MAX)
		r->headers[r->nheaders++] = xasprintf("%s: %s%s", name,
		    scheme, token);
}

static void
forge_headers(const struct forge *f, struct forge_request *r)
{
	switch (f->kind) {
	case FORGE_GITHUB:
		forge_header(r, "Accept", "application/vnd.github+json");
		forge_header(r, "X-GitHub-Api-Version", "2022-11-28");
		forge_auth(r, "Authorization", "Bearer ", f->token);
		break;
	case FORGE_GITLAB:
		forge_header(r, "Accept", "application/json");
		forge_header(r, "PRIVATE-TOKEN", f->token);
		break;
	case FORGE_GITEA:
		forge_header(r, "Accept", "application/json");
		forge_auth(r, "Authorization", "token ", f->token);
		break;
	case FORGE_BITBUCKET:
	case FORGE_BITBUCKET_SERVER:
		forge_header(r, "Accept", "application/json");
		forge_auth(r, "Authorization", "Bearer ", f->token);
		break;
	}
	forge_header(r, "Content-Type", "application/json");
	forge_header(r, "User-Agent", "cloudsphered/" PACKAGE_VERSION);
}

static char *
forge_dump(json_t *j)
{
	char	*s;

	s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (s == NULL)
		abort();
	return (s);
}

static void
forge_set_text(json_t *o, const char *key, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, key, json_string(v));
}

int
forge_status_request(const struct forge *f, const char *sha,
    const char *context, enum outbox_state state, const char *description,
    const char *target_url, struct forge_request *r)
{
	const char	*word;
	char		*desc = NULL, *proj, *link = NULL;
	json_t		*o;
	size_t		 i;
	bool		 trimmed = false;

	memset(r, 0, sizeof *r);
	if (sha == NULL || strlen(sha) < 7 || strlen(sha) > 64 ||
	    context == NULL || *context == '\0' ||
	    (word = forge_state_word(f->kind, state)) == NULL)
		return (-EINVAL);
	for (i = 0; sha[i] != '\0'; i++)
		if (!isxdigit((unsigned char)sha[i]))
			return (-EINVAL);
	/* Descriptions are single lines; the note is "..." itself. */
	if (description != NULL)
		desc = forge_trim(description,
		    forge_infos[f->kind].limits.description, "...", &trimmed);
	r->trimmed = trimmed;
	r->method = "POST";
	o = json_object();
	switch (f->kind) {
	case FORGE_GITHUB:
	case FORGE_GITEA:
		r->url = xasprintf("%s/repos/%s/%s/statuses/%s", f->api_url,
		    f->owner, f->repo, sha);
		json_object_set_new(o, "state", json_string(word));
		json_object_set_new(o, "context", json_string(context));
		forge_set_text(o, "description", desc);
		forge_set_text(o, "target_url", target_url);
		break;
	case FORGE_GITLAB:
		proj = forge_escape(f->project);
		r->url = xasprintf("%s/projects/%s/statuses/%s", f->api_url,
		    proj, sha);
		free(proj);
		json_object_set_new(o, "state", json_string(word));
		json_object_set_new(o, "name", json_string(context));
		forge_set_text(o, "description", desc);
		forge_set_text(o, "target_url", target_url);
		break;
	case FORGE_BITBUCKET:
		r->url = xasprintf("%s/repositories/%s/%s/commit/%s"
		    "/statuses/build", f->api_url, f->owner, f->repo, sha);
		if (target_url == NULL) {
			/* https://api.bitbucket.org/2.0 -> bitbucket.org */
			if (strcmp(f->api_url, "https://api.bitbucket.org/2.0")
			    == 0)
				link = xasprintf("https://bitbucket.org/%s/%s"
				    "/commits/%s", f->owner, f->repo, sha);
			else
				link = xasprintf("%s/repositories/%s/%s/commit"
				    "/%s", f->api_url, f->owner, f->repo, sha);
		}
		json_object_set_new(o, "key", json_string(context));
		json_object_set_new(o, "state", json_string(word));
		json_object_set_new(o, "name", json_string(context));
		json_object_set_new(o, "url", json_string(target_url != NULL ?
		    target_url : link));
		forge_set_text(o, "description", desc);
		break;
	case FORGE_BITBUCKET_SERVER:
		r->url = xasprintf("%s/rest/build-status/1.0/commits/%s",
		    f->api_url, sha);
		if (target_url == NULL)
			link = xasprintf("%s/projects/%s/repos/%s/commits/%s",
			    f->api_url, f->owner, f->repo, sha);
		json_object_set_new(o, "state", json_string(word));
		json_object_set_new(o, "key", json_string(context));
		json_object_set_new(o, "name", json_string(context));
		json_object_set_new(o, "url", json_string(target_url != NULL ?
		    target_url : link));
		forge_set_text(o, "description", desc);
		break;
	}
	r->body = forge_dump(o);
	forge_headers(f, r);
	free(desc);
	free(link);
	return (0);
}

/* Bitbucket Server's remote id is "ID/VERSION": edits name the version. */
static int
forge_stash_id(const char *remote, int64_t *id, int64_t *version)
{
	char	*end;

	*id = strtoll(remote, &end, 10);
	if (end == remote || *id <= 0)
		return (-EINVAL);
	*version = 0;
	if (*end == '/') {
		remote = end + 1;
		*version = strtoll(remote, &end, 10);
		if (end == remote || *version < 0)
			return (-EINVAL);
	}
	return (*end == '\0' ? 0 : -EINVAL);
}

static bool
forge_digits(const char *s)
{
	if (*s == '\0')
		return (false);
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return (false);
	return (true);
}

static bool
forge_id_valid(const char *s)
{
	return (strlen(s) <= 40 && forge_digits(s));
}

int
forge_comment_request(const struct forge *f, int64_t pull,
    const char *remote_id, const char *body, struct forge_request *r)
{
	const struct forge_limits	*lim = &forge_infos[f->kind].limits;
	char				*text, *note, *proj;
	int64_t				 sid = 0, sver = 0;
	json_t				*o, *c;
	bool				 trimmed;

	memset(r, 0, sizeof *r);
	if (pull <= 0 || body == NULL)
		return (-EINVAL);
	if (remote_id != NULL && (f->kind == FORGE_BITBUCKET_SERVER ?
	    forge_stash_id(remote_id, &sid, &sver) != 0 :
	    !forge_id_valid(remote_id)))
		return (-EINVAL);
	note = xasprintf("\n\n---\n*Trimmed to the forge's limit of %zu"
	    " characters: see the run's log (cloudspherectl log) for the"
	    " rest.*\n", lim->comment);
	text = forge_trim(body, lim->comment, note, &trimmed);
	free(note);
	r->trimmed = trimmed;
	r->method = remote_id == NULL ? "POST" : "PATCH";
	o = json_object();
	switch (f->kind) {
	case FORGE_GITHUB:
	case FORGE_GITEA:
		if (remote_id == NULL)
			r->url = xasprintf("%s/repos/%s/%s/issues/%" PRId64
			    "/comments", f->api_url, f->owner, f->repo, pull);
		else
			r->url = xasprintf("%s/repos/%s/%s/issues/comments/%s",
			    f->api_url, f->owner, f->repo, remote_id);
		json_object_set_new(o, "body", json_string(text));
		break;
	case FORGE_GITLAB:
		proj = forge_escape(f->project);
		if (remote_id == NULL)
			r->url = xasprintf("%s/projects/%s/merge_requests/%"
			    PRId64 "/notes", f->api_url, proj, pull);
		else {
			r->method = "PUT";
			r->url = xasprintf("%s/projects/%s/merge_requests/%"
			    PRId64 "/notes/%s", f->api_url, proj, pull,
			    remote_id);
		}
		free(proj);
		json_object_set_new(o, "body", json_string(text));
		break;
	case FORGE_BITBUCKET:
		if (remote_id == NULL)
			r->url = xasprintf("%s/repositories/%s/%s/pullrequests/%"
			    PRId64 "/comments", f->api_url, f->owner, f->repo,
			    pull);
		else {
			r->method = "PUT";
			r->url = xasprintf("%s/repositories/%s/%s/pullrequests/%"
			    PRId64 "/comments/%s", f->api_url, f->owner,
			    f->repo, pull, remote_id);
		}
		c = json_object();
		json_object_set_new(c, "raw", json_string(text));
		json_object_set_new(o, "content", c);
		break;
	case FORGE_BITBUCKET_SERVER:
		if (remote_id == NULL)
			r->url = xasprintf("%s/rest/api/1.0/projects/%s/repos/%s"
			    "/pull-requests/%" PRId64 "/comments", f->api_url,
			    f->owner, f->repo, pull);
		else {
			r->method = "PUT";
			r->url = xasprintf("%s/rest/api/1.0/projects/%s/repos/%s"
			    "/pull-requests/%" PRId64 "/comments/%" PRId64,
			    f->api_url, f->owner, f->repo, pull, sid);
			json_object_set_new(o, "version", json_integer(sver));
		}
		json_object_set_new(o, "text", json_string(text));
		break;
	}
	free(text);
	if (json_object_size(o) == 0 || (f->kind != FORGE_BITBUCKET &&
	    json_string_value(json_object_get(o, f->kind ==
	    FORGE_BITBUCKET_SERVER ? "text" : "body")) == NULL)) {
		/* Not UTF-8: jansson refused the string. */
		json_decref(o);
		forge_request_release(r);
		return (-EILSEQ);
	}
	if (f->kind == FORGE_BITBUCKET && json_string_value(json_object_get(
	    json_object_get(o, "content"), "raw")) == NULL) {
		json_decref(o);
		forge_request_release(r);
		return (-EILSEQ);
	}
	r->body = forge_dump(o);
	forge_headers(f, r);
	return (0);
}

void
forge_request_release(struct forge_request *r)
{
	size_t	i;

	if (r == NULL)
		return;
	free(r->url);
	for (i = 0; i < r->nheaders; i++) {
		/* The auth header holds the token. */
		explicit_bzero(r->headers[i], strlen(r->headers[i]));
		free(r->headers[i]);
	}
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* Answers ------------------------------------------------------------- */

/* The value of header name (case-insensitive), or NULL; borrowed. */
static const char *
forge_header_value(const char *const *headers, size_t n, const char *name,
    char *buf, size_t size)
{
	size_t		 i, len = strlen(name), vlen;
	const char	*v;

	for (i = 0; i < n; i++) {
		if (strncasecmp(headers[i], name, len) != 0 ||
		    headers[i][len] != ':')
			continue;
		v = headers[i] + len + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		vlen = strcspn(v, "\r\n");
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (vlen >= size)
			vlen = size - 1;
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		return (buf);
	}
	return (NULL);
}

int64_t
forge_retry_after(const char *v, int64_t now)
{
	struct tm	 tm;
	const char	*end;
	long long	 secs;
	time_t		 t;

	if (v == NULL)
		return (0);
	if (forge_digits(v)) {
		if (strlen(v) > 9)
			return (0);
		secs = strtoll(v, NULL, 10);
		return (now + secs * 1000);
	}
	/* IMF-fixdate, RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT". */
	memset(&tm, 0, sizeof tm);
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return (0);
	if ((t = timegm(&tm)) == (time_t)-1)
		return (0);
	return ((int64_t)t * 1000);
}

/* A reset time: epoch seconds (GitHub, GitLab), or seconds from now. */
static int64_t
forge_reset(const char *v, int64_t now)
{
	long long	s;

	if (v == NULL || !forge_digits(v) || strlen(v) > 12)
		return (0);
	s = strtoll(v, NULL, 10);
	/* Small numbers are delays (the IETF RateLimit-Reset draft). */
	if (s < 1000000000LL)
		return (now + s * 1000);
	return (s * 1000);
}

/* What the forge said, in one line: its message(s), bounded. */
static char *
forge_message(json_t *j)
{
	struct buf	 b;
	json_t		*errs, *e, *m;
	const char	*s;
	size_t		 i;

	buf_init(&b, FORGE_MESSAGE_MAX);
	if (json_is_object(j)) {
		m = json_object_get(j, "message");
		if (json_is_string(m))
			buf_addstr(&b, json_string_value(m));
		else if (json_is_object(m) || json_is_array(m)) {
			/* GitLab: {"message": {"field": ["why"]}} */
			char *d = json_dumps(m, JSON_COMPACT);
			if (d != NULL) {
				buf_add(&b, d, strlen(d) < FORGE_MESSAGE_MAX / 2 ?
				    strlen(d) : FORGE_MESSAGE_MAX / 2);
				free(d);
			}
		}
		/* Bitbucket Cloud: {"error": {"message": ...}} */
		m = json_object_get(json_object_get(j, "error"), "message");
		if (json_is_string(m))
			buf_addstr(&b, json_string_value(m));
		/* GitHub's and Bitbucket Server's errors[].message */
		errs = json_object_get(j, "errors");
		json_array_foreach(errs, i, e) {
			s = json_string_value(json_object_get(e, "message"));
			if (s == NULL)
				continue;
			if (b.len > 0 && buf_addstr(&b, ": ") != 0)
				break;
			if (buf_addstr(&b, s) != 0)
				break;
		}
	}
	if (b.len == 0) {
		buf_release(&b);
		return (NULL);
	}
	/* One line. */
	for (i = 0; i < b.len; i++)
		if (b.data[i] == '\n' || b.data[i] == '\r')
			b.data[i] = ' ';
	return (buf_detach(&b));
}

static char *
forge_remote_id(const struct forge *f, json_t *j)
{
	json_t		*id, *ver;

	id = json_object_get(j, "id");
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return (NULL);
	if (f->kind == FORGE_BITBUCKET_SERVER) {
		ver = json_object_get(j, "version");
		return (xasprintf("%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		    json_integer_value(id), json_is_integer(ver) ?
		    json_integer_value(ver) : (json_int_t)0));
	}
	return (xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id)));
}

void
forge_answer_read(const struct forge *f, enum outbox_kind kind, bool create,
    long status, const char *const *headers, size_t nheaders,
    const char *body, size_t len, int64_t now, struct forge_answer *a)
{
	char		 v1[64], v2[64];
	const char	*remaining, *reset, *ra;
	json_t		*j = NULL;
	char		*msg = NULL;
	int64_t		 at;

	memset(a, 0, sizeof *a);
	if (body != NULL && len > 0 && len <= FORGE_ANSWER_MAX)
		j = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, NULL);

	/* Rate limits: GitHub's X-RateLimit-*, GitLab's RateLimit-*. */
	remaining = forge_header_value(headers, nheaders,
	    "X-RateLimit-Remaining", v1, sizeof v1);
	reset = forge_header_value(headers, nheaders, "X-RateLimit-Reset", v2,
	    sizeof v2);
	if (remaining == NULL) {
		remaining = forge_header_value(headers, nheaders,
		    "RateLimit-Remaining", v1, sizeof v1);
		reset = forge_header_value(headers, nheaders,
		    "RateLimit-Reset", v2, sizeof v2);
	}
	if (remaining != NULL && strcmp(remaining, "0") == 0 &&
	    (at = forge_reset(reset, now)) > now)
		a->pause_until = at;
	ra = forge_header_value(headers, nheaders, "Retry-After", v1,
	    sizeof v1);
	at = forge_retry_after(ra, now);

	if (status >= 200 && status < 300) {
		a->verdict = FORGE_DELIVERED;
		if (kind == OUTBOX_COMMENT && (create ||
		    f->kind == FORGE_BITBUCKET_SERVER))
			a->remote_id = forge_remote_id(f, j);
		if (kind == OUTBOX_COMMENT && create && a->remote_id == NULL) {
			a->message = xstrdup("the forge's answer has no comment id");
		}
		json_decref(j);
		return;
	}
	msg = forge_message(j);
	json_decref(j);
	if (status == 0) {
		a->verdict = FORGE_RETRY;
		a->message = xstrdup("no answer");
		free(msg);
		return;
	}
	a->message = msg != NULL ? xasprintf("HTTP %ld: %s", status, msg) :
	    xasprintf("HTTP %ld", status);
	free(msg);
	if (status >= 500 || status == 408 || status == 429 ||
	    (status == 409 && f->kind != FORGE_BITBUCKET_SERVER)) {
		a->verdict = FORGE_RETRY;
		a->retry_at = at;
		if (a->retry_at == 0 && a->pause_until > 0)
			a->retry_at = a->pause_until;
		return;
	}
	/* GitHub answers a spent rate limit with 403 and Remaining 0. */
	if (status == 403 && (a->pause_until > 0 || at > 0)) {
		a->verdict = FORGE_RETRY;
		a->retry_at = at > 0 ? at : a->pause_until;
		return;
	}
	/*
	 * The comment to edit was deleted (404), or Bitbucket Server's
	 * version of it is stale (409: someone else edited it): post anew.
	 */
	if (kind == OUTBOX_COMMENT && !create && (status == 404 ||
	    (status == 409 && f->kind == FORGE_BITBUCKET_SERVER))) {
		a->verdict = FORGE_GONE;
		return;
	}
	a->verdict = FORGE_REFUSED;
}

void
forge_answer_release(struct forge_answer *a)
{
	if (a == NULL)
		return;
	free(a->remote_id);
	free(a->message);
	memset(a, 0, sizeof *a);
}
