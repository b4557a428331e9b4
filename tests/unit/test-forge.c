/*
 * Unit tests of the forge requests and answers (reconciler/forge.c): for
 * every forge the method, URL, headers and JSON body of a commit status,
 * a comment created and a comment edited; the limits (descriptions and
 * comments cut on UTF-8 boundaries, with a note); the reading of answers:
 * comment ids from the corpus's real create answers, 4xx refused but
 * 408/409/429 retried, 5xx and no answer retried, Retry-After in seconds
 * and as an HTTP date, rate-limit headers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forge.h"
#include "testutil.h"
#include "xmalloc.h"

#define SHA	"a6e5e7d797edf751cbd839d6bd4aef86c941eec9"
#define TOKEN	"s3cr3t-t0ken"

static const char	*corpus;

static struct forge *
mk(const char *kind, const char *url, const char *project)
{
	struct forge	*f;
	char		*cause = NULL;

	if (forge_new(&f, kind, url, project, TOKEN, &cause) != 0)
		fail_msg("forge_new %s: %s", kind, cause);
	return (f);
}

static bool
has_header(const struct forge_request *r, const char *h)
{
	size_t	i;

	for (i = 0; i < r->nheaders; i++)
		if (strcmp(r->headers[i], h) == 0)
			return (true);
	return (false);
}

/* The body as JSON equals want (a JSON text). */
static void
body_is(const struct forge_request *r, const char *want)
{
	json_t	*a, *b;

	assert_non_null(r->body);
	a = json_loads(r->body, 0, NULL);
	b = json_loads(want, 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	if (!json_equal(a, b))
		fail_msg("body %s, want %s", r->body, want);
	json_decref(a);
	json_decref(b);
}

/* The request is method url, with a body equal to want. */
static void
request_is(const struct forge_request *r, const char *method,
    const char *url, const char *want)
{
	assert_string_equal(r->method, method);
	assert_string_equal(r->url, url);
	body_is(r, want);
}

static void
common_headers(const struct forge_request *r)
{
	assert_true(has_header(r, "Content-Type: application/json"));
	assert_true(has_header(r, "User-Agent: cloudsphered/" PACKAGE_VERSION));
}

static void
test_github(void **state)
{
	struct forge		*f = mk("github", NULL, "ops/infra");
	struct forge_request	 r;

	(void)state;
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", "https://cs.example/runs/3", &r), 0);
	request_is(&r, "POST",
	    "https://api.github.com/repos/ops/infra/statuses/" SHA,
	    "{\"state\":\"pending\",\"context\":\"cloudsphere/web\","
	    "\"description\":\"applying\","
	    "\"target_url\":\"https://cs.example/runs/3\"}");
	assert_true(has_header(&r, "Authorization: Bearer " TOKEN));
	assert_true(has_header(&r, "Accept: application/vnd.github+json"));
	common_headers(&r);
	assert_false(r.trimmed);
	forge_request_release(&r);

	/* No description, no URL: the fields are left out. */
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_ERROR, NULL, NULL, &r), 0);
	body_is(&r, "{\"state\":\"error\",\"context\":\"cloudsphere/web\"}");
	forge_request_release(&r);

	assert_int_equal(forge_comment_request(f, 42, NULL, "plan", &r), 0);
	request_is(&r, "POST",
	    "https://api.github.com/repos/ops/infra/issues/42/comments",
	    "{\"body\":\"plan\"}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 42, "1", "plan 2", &r), 0);
	request_is(&r, "PATCH",
	    "https://api.github.com/repos/ops/infra/issues/comments/1",
	    "{\"body\":\"plan 2\"}");
	assert_true(has_header(&r, "Authorization: Bearer " TOKEN));
	forge_request_release(&r);
	forge_free(f);

	/* GitHub Enterprise: its api_url, trailing slash dropped. */
	f = mk("github", "https://ghe.example/api/v3/", "ops/infra");
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, "ok", NULL, &r), 0);
	assert_string_equal(r.url,
	    "https://ghe.example/api/v3/repos/ops/infra/statuses/" SHA);
	forge_request_release(&r);
	forge_free(f);
}

static void
test_gitlab(void **state)
{
	struct forge		*f = mk("gitlab", "https://gl.example/api/v4",
	    "group/sub/infra");
	struct forge_request	 r;
	static const char *const words[] = { "running", "success", "failed",
	    "failed" };
	int			 i;
	char			*want;

	(void)state;
	for (i = 0; i < 4; i++) {
		assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
		    (enum outbox_state)i, "d", NULL, &r), 0);
		assert_string_equal(r.method, "POST");
		/* The project path is one URL-encoded segment. */
		assert_string_equal(r.url, "https://gl.example/api/v4/projects/"
		    "group%2Fsub%2Finfra/statuses/" SHA);
		assert_true(has_header(&r, "PRIVATE-TOKEN: " TOKEN));
		common_headers(&r);
		want = xasprintf("{\"state\":\"%s\",\"name\":\"cloudsphere/web\","
		    "\"description\":\"d\"}", words[i]);
		body_is(&r, want);
		free(want);
		forge_request_release(&r);
	}
	assert_int_equal(forge_comment_request(f, 7, NULL, "plan", &r), 0);
	request_is(&r, "POST",
	    "https://gl.example/api/v4/projects/"
	    "group%2Fsub%2Finfra/merge_requests/7/notes",
	    "{\"body\":\"plan\"}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 7, "301", "plan 2", &r), 0);
	request_is(&r, "PUT",
	    "https://gl.example/api/v4/projects/"
	    "group%2Fsub%2Finfra/merge_requests/7/notes/301",
	    "{\"body\":\"plan 2\"}");
	forge_request_release(&r);
	forge_free(f);

	/* A numeric project id; GitLab.com by default. */
	f = mk("gitlab", NULL, "1234");
	assert_int_equal(forge_status_request(f, SHA, "c", OUTBOX_SUCCESS,
	    NULL, NULL, &r), 0);
	assert_string_equal(r.url,
	    "https://gitlab.com/api/v4/projects/1234/statuses/" SHA);
	forge_request_release(&r);
	forge_free(f);
}

static void
test_gitea(void **state)
{
	const char		*kinds[] = { "gitea", "forgejo" };
	struct forge		*f;
	struct forge_request	 r;
	int			 i;

	(void)state;
	for (i = 0; i < 2; i++) {
		f = mk(kinds[i], "https://git.example/api/v1", "ops/infra");
		assert_int_equal(forge_kind(f), FORGE_GITEA);
		assert_int_equal(forge_status_request(f, SHA,
		    "cloudsphere/web", OUTBOX_FAILURE, "apply failed: exited 1",
		    "https://cs/runs/9", &r), 0);
		request_is(&r, "POST",
		    "https://git.example/api/v1/repos/"
		    "ops/infra/statuses/" SHA,
		    "{\"state\":\"failure\","
		    "\"context\":\"cloudsphere/web\","
		    "\"description\":\"apply failed: exited 1\","
		    "\"target_url\":\"https://cs/runs/9\"}");
		assert_true(has_header(&r, "Authorization: token " TOKEN));
		common_headers(&r);
		forge_request_release(&r);
		assert_int_equal(forge_comment_request(f, 3, NULL, "p", &r), 0);
		request_is(&r, "POST",
		    "https://git.example/api/v1/repos/"
		    "ops/infra/issues/3/comments",
		    "{\"body\":\"p\"}");
		forge_request_release(&r);
		assert_int_equal(forge_comment_request(f, 3, "74", "q", &r), 0);
		request_is(&r, "PATCH",
		    "https://git.example/api/v1/repos/"
		    "ops/infra/issues/comments/74",
		    "{\"body\":\"q\"}");
		forge_request_release(&r);
		forge_free(f);
	}
}

static void
test_bitbucket(void **state)
{
	struct forge		*f = mk("bitbucket", NULL, "team/infra");
	struct forge_request	 r;

	(void)state;
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_PENDING, "applying", "https://cs/runs/1", &r), 0);
	request_is(&r, "POST",
	    "https://api.bitbucket.org/2.0/repositories/"
	    "team/infra/commit/" SHA "/statuses/build",
	    "{\"key\":\"cloudsphere/web\",\"state\":\"INPROGRESS\","
	    "\"name\":\"cloudsphere/web\",\"url\":\"https://cs/runs/1\","
	    "\"description\":\"applying\"}");
	assert_true(has_header(&r, "Authorization: Bearer " TOKEN));
	common_headers(&r);
	forge_request_release(&r);
	/* Bitbucket needs a URL: the commit's page. */
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_ERROR, NULL, NULL, &r), 0);
	body_is(&r, "{\"key\":\"cloudsphere/web\",\"state\":\"STOPPED\","
	    "\"name\":\"cloudsphere/web\","
	    "\"url\":\"https://bitbucket.org/team/infra/commits/" SHA "\"}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 5, NULL, "p", &r), 0);
	request_is(&r, "POST",
	    "https://api.bitbucket.org/2.0/repositories/"
	    "team/infra/pullrequests/5/comments",
	    "{\"content\":{\"raw\":\"p\"}}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 5, "419169807", "q", &r), 0);
	request_is(&r, "PUT",
	    "https://api.bitbucket.org/2.0/repositories/"
	    "team/infra/pullrequests/5/comments/419169807",
	    "{\"content\":{\"raw\":\"q\"}}");
	forge_request_release(&r);
	forge_free(f);
}

static void
test_bitbucket_server(void **state)
{
	struct forge		*f = mk("bitbucket-server",
	    "https://bb.example/", "OPS/infra");
	struct forge_request	 r;

	(void)state;
	assert_int_equal(forge_status_request(f, SHA, "cloudsphere/web",
	    OUTBOX_SUCCESS, "applied", NULL, &r), 0);
	request_is(&r, "POST",
	    "https://bb.example/rest/build-status/1.0/commits/" SHA,
	    "{\"state\":\"SUCCESSFUL\",\"key\":\"cloudsphere/web\","
	    "\"name\":\"cloudsphere/web\",\"description\":\"applied\","
	    "\"url\":\"https://bb.example/projects/OPS/repos/infra/commits/"
	    SHA "\"}");
	assert_true(has_header(&r, "Authorization: Bearer " TOKEN));
	common_headers(&r);
	forge_request_release(&r);
	assert_int_equal(forge_status_request(f, SHA, "c", OUTBOX_ERROR, NULL,
	    "https://cs/1", &r), 0);
	body_is(&r, "{\"state\":\"FAILED\",\"key\":\"c\",\"name\":\"c\","
	    "\"url\":\"https://cs/1\"}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 9, NULL, "p", &r), 0);
	request_is(&r, "POST",
	    "https://bb.example/rest/api/1.0/projects/"
	    "OPS/repos/infra/pull-requests/9/comments",
	    "{\"text\":\"p\"}");
	forge_request_release(&r);
	/* Edits name the version they change. */
	assert_int_equal(forge_comment_request(f, 9, "1/3", "q", &r), 0);
	request_is(&r, "PUT",
	    "https://bb.example/rest/api/1.0/projects/"
	    "OPS/repos/infra/pull-requests/9/comments/1",
	    "{\"text\":\"q\",\"version\":3}");
	forge_request_release(&r);
	assert_int_equal(forge_comment_request(f, 9, "x/3", "q", &r), -EINVAL);
	forge_free(f);
}

static void
test_new_refused(void **state)
{
	struct forge	*f;
	char		*cause;

	(void)state;
	assert_int_equal(forge_new(&f, "generic", NULL, "a/b", TOKEN, &cause),
	    -ENOTSUP);
	free(cause);
	assert_int_equal(forge_new(&f, "gitea", NULL, "a/b", TOKEN, &cause),
	    -EINVAL);
	assert_non_null(strstr(cause, "api_url"));
	free(cause);
	assert_int_equal(forge_new(&f, "github", NULL, "a", TOKEN, &cause),
	    -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "github", NULL, "a/../b", TOKEN,
	    &cause), -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "github", NULL, "a/b?x", TOKEN, &cause),
	    -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "github", "ftp://x", "a/b", TOKEN,
	    &cause), -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "github", NULL, "a/b", "", &cause),
	    -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "github", NULL, "a/b", "t\nX-Evil: 1",
	    &cause), -EINVAL);
	free(cause);
	assert_int_equal(forge_new(&f, "svn", NULL, "a/b", TOKEN, &cause),
	    -EINVAL);
	free(cause);

	f = mk("github", NULL, "a/b");
	{
		struct forge_request	r;

		assert_int_equal(forge_status_request(f, "not-a-sha", "c",
		    OUTBOX_PENDING, NULL, NULL, &r), -EINVAL);
		assert_int_equal(forge_status_request(f, SHA, "",
		    OUTBOX_PENDING, NULL, NULL, &r), -EINVAL);
		assert_int_equal(forge_comment_request(f, 0, NULL, "b", &r),
		    -EINVAL);
		assert_int_equal(forge_comment_request(f, 1, "../1", "b", &r),
		    -EINVAL);
		/* Not UTF-8. */
		assert_int_equal(forge_comment_request(f, 1, NULL, "\xff\xfe",
		    &r), -EILSEQ);
	}
	forge_free(f);
}

static void
test_limits(void **state)
{
	struct forge		*f;
	struct forge_request	 r;
	json_t			*j;
	const char		*s;
	char			*big;
	size_t			 i, n;
	bool			 t;

	(void)state;
	assert_int_equal(forge_limits(FORGE_GITHUB)->description, 140);
	assert_int_equal(forge_limits(FORGE_GITHUB)->comment, 65536);
	assert_int_equal(forge_limits(FORGE_BITBUCKET_SERVER)->comment, 32768);

	/* GitHub: 200 characters of description become 140. */
	f = mk("github", NULL, "a/b");
	big = xmalloc(200 * 3 + 1);
	memset(big, 'x', 200);
	big[200] = '\0';
	assert_int_equal(forge_status_request(f, SHA, "c", OUTBOX_FAILURE,
	    big, NULL, &r), 0);
	assert_true(r.trimmed);
	j = json_loads(r.body, 0, NULL);
	s = json_string_value(json_object_get(j, "description"));
	assert_int_equal(strlen(s), 140);
	assert_string_equal(s + 137, "...");
	json_decref(j);
	forge_request_release(&r);
	/* Exactly 140 stays whole. */
	big[140] = '\0';
	assert_int_equal(forge_status_request(f, SHA, "c", OUTBOX_FAILURE,
	    big, NULL, &r), 0);
	assert_false(r.trimmed);
	forge_request_release(&r);
	/* Multibyte characters are never cut in half. */
	for (i = 0; i < 200; i++)
		memcpy(big + 3 * i, "\xe2\x82\xac", 3);	/* euro sign */
	big[600] = '\0';
	assert_int_equal(forge_status_request(f, SHA, "c", OUTBOX_FAILURE,
	    big, NULL, &r), 0);
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);	/* valid UTF-8, or jansson would refuse */
	s = json_string_value(json_object_get(j, "description"));
	assert_true(strlen(s) <= 140);
	assert_string_equal(s + strlen(s) - 3, "...");
	assert_int_equal((strlen(s) - 3) % 3, 0);
	json_decref(j);
	forge_request_release(&r);
	free(big);

	/* A 100000-byte comment: cut to 65536 with a note. */
	n = 100000;
	big = xmalloc(n + 1);
	memset(big, 'p', n);
	big[n] = '\0';
	assert_int_equal(forge_comment_request(f, 1, NULL, big, &r), 0);
	assert_true(r.trimmed);
	j = json_loads(r.body, 0, NULL);
	s = json_string_value(json_object_get(j, "body"));
	assert_int_equal(strlen(s), 65536);
	assert_non_null(strstr(s, "Trimmed to the forge's limit of 65536"));
	json_decref(j);
	forge_request_release(&r);
	forge_free(f);

	f = mk("bitbucket-server", "https://bb", "K/r");
	assert_int_equal(forge_comment_request(f, 1, NULL, big, &r), 0);
	j = json_loads(r.body, 0, NULL);
	assert_int_equal(strlen(json_string_value(json_object_get(j,
	    "text"))), 32768);
	json_decref(j);
	forge_request_release(&r);
	forge_free(f);
	free(big);

	/* forge_trim itself. */
	big = forge_trim("abcdef", 6, "!", &t);
	assert_string_equal(big, "abcdef");
	assert_false(t);
	free(big);
	big = forge_trim("abcdefg", 6, "!", &t);
	assert_string_equal(big, "abcde!");
	assert_true(t);
	free(big);
}

static char *
slurp(const char *rel, size_t *len)
{
	char	*path, *data;
	FILE	*fp;
	long	 n;

	path = xasprintf("%s/%s", corpus, rel);
	if ((fp = fopen(path, "rb")) == NULL)
		fail_msg("%s: cannot open", path);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	data = xmalloc((size_t)n + 1);
	if (fread(data, 1, (size_t)n, fp) != (size_t)n)
		fail_msg("%s: short read", path);
	data[n] = '\0';
	fclose(fp);
	free(path);
	*len = (size_t)n;
	return (data);
}

/* The corpus's real create answers carry the id later edits use. */
static void
test_answer_ids(void **state)
{
	static const struct {
		const char	*kind, *url, *project, *file, *id;
	} cases[] = {
		{ "github", NULL, "a/b", "go-scm/github/api/issue_comment.json",
		    "1" },
		{ "gitlab", NULL, "a/b", "go-scm/gitlab/api/merge_note.json",
		    "301" },
		{ "gitea", "http://g/api/v1", "a/b",
		    "go-scm/gitea/api/comment.json", "74" },
		{ "bitbucket", NULL, "a/b", "go-scm/bitbucket/api/prcomment.json",
		    "419169807" },
		{ "bitbucket-server", "http://b", "A/b",
		    "go-scm/stash/api/pr_comment.json", "1/0" },
	};
	struct forge		*f;
	struct forge_answer	 a;
	const char		*hdr[] = { "Content-Type: application/json" };
	char			*body;
	size_t			 i, len;

	(void)state;
	if (corpus == NULL)
		skip();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		f = mk(cases[i].kind, cases[i].url, cases[i].project);
		body = slurp(cases[i].file, &len);
		forge_answer_read(f, OUTBOX_COMMENT, true, 201, hdr, 1, body,
		    len, 1000, &a);
		assert_int_equal(a.verdict, FORGE_DELIVERED);
		assert_non_null(a.remote_id);
		assert_string_equal(a.remote_id, cases[i].id);
		forge_answer_release(&a);
		/* A status answer: delivered, no id kept. */
		forge_answer_read(f, OUTBOX_STATUS, false, 201, hdr, 1, body,
		    len, 1000, &a);
		assert_int_equal(a.verdict, FORGE_DELIVERED);
		assert_null(a.remote_id);
		forge_answer_release(&a);
		free(body);
		forge_free(f);
	}
	/* Bitbucket Server's 204 to a status has no body at all. */
	f = mk("bitbucket-server", "http://b", "A/b");
	forge_answer_read(f, OUTBOX_STATUS, false, 204, NULL, 0, NULL, 0, 1000,
	    &a);
	assert_int_equal(a.verdict, FORGE_DELIVERED);
	forge_answer_release(&a);
	forge_free(f);
}

static void
test_answer_errors(void **state)
{
	struct forge		*f = mk("github", NULL, "a/b");
	struct forge_answer	 a;
	const char		*too_long = "{\"message\":\"Validation Failed\","
	    "\"errors\":[{\"resource\":\"Status\",\"code\":\"custom\","
	    "\"field\":\"description\",\"message\":\"description is too long"
	    " (maximum is 140 characters)\"}],\"documentation_url\":"
	    "\"https://docs.github.com/rest\"}";
	const char		*h429[] = { "Retry-After: 30" };
	const char		*hdate[] = { "retry-after:  Wed, 21 Oct 2015 "
	    "07:28:00 GMT  " };
	const char		*hrate[] = { "X-RateLimit-Limit: 5000",
	    "X-RateLimit-Remaining: 0", "X-RateLimit-Reset: 1700000000" };
	const char		*hgl[] = { "RateLimit-Remaining: 0",
	    "RateLimit-Reset: 1700000100" };
	int64_t			 now = 1600000000000LL;
	long			 retried[] = { 500, 502, 503, 504, 408, 409, 429 };
	long			 refused[] = { 400, 401, 403, 404, 410, 422 };
	size_t			 i;

	(void)state;
	forge_answer_read(f, OUTBOX_STATUS, false, 422, NULL, 0, too_long,
	    strlen(too_long), now, &a);
	assert_int_equal(a.verdict, FORGE_REFUSED);
	assert_string_equal(a.message, "HTTP 422: Validation Failed: "
	    "description is too long (maximum is 140 characters)");
	forge_answer_release(&a);

	for (i = 0; i < sizeof retried / sizeof retried[0]; i++) {
		forge_answer_read(f, OUTBOX_STATUS, false, retried[i], NULL, 0,
		    "<html>", 6, now, &a);
		assert_int_equal(a.verdict, FORGE_RETRY);
		assert_int_equal(a.retry_at, 0);
		forge_answer_release(&a);
	}
	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		forge_answer_read(f, OUTBOX_STATUS, false, refused[i], NULL, 0,
		    NULL, 0, now, &a);
		assert_int_equal(a.verdict, FORGE_REFUSED);
		forge_answer_release(&a);
	}
	/* No answer at all (connection refused, reset, timed out). */
	forge_answer_read(f, OUTBOX_STATUS, false, 0, NULL, 0, NULL, 0, now,
	    &a);
	assert_int_equal(a.verdict, FORGE_RETRY);
	forge_answer_release(&a);

	/* Retry-After: seconds, and an HTTP date. */
	forge_answer_read(f, OUTBOX_STATUS, false, 429, h429, 1, NULL, 0, now,
	    &a);
	assert_int_equal(a.verdict, FORGE_RETRY);
	assert_int_equal(a.retry_at, now + 30000);
	forge_answer_release(&a);
	forge_answer_read(f, OUTBOX_STATUS, false, 503, hdate, 1, NULL, 0, now,
	    &a);
	assert_int_equal(a.retry_at, 1445412480000LL);
	forge_answer_release(&a);
	assert_int_equal(forge_retry_after("soon", now), 0);
	assert_int_equal(forge_retry_after("0", now), now);

	/* GitHub's spent rate limit: 403 with Remaining 0, until Reset. */
	forge_answer_read(f, OUTBOX_STATUS, false, 403, hrate, 3, NULL, 0, now,
	    &a);
	assert_int_equal(a.verdict, FORGE_RETRY);
	assert_int_equal(a.retry_at, 1700000000000LL);
	assert_int_equal(a.pause_until, 1700000000000LL);
	forge_answer_release(&a);
	/* Delivered, but the last one allowed: hold the rest. */
	forge_answer_read(f, OUTBOX_STATUS, false, 201, hrate, 3, "{}", 2, now,
	    &a);
	assert_int_equal(a.verdict, FORGE_DELIVERED);
	assert_int_equal(a.pause_until, 1700000000000LL);
	forge_answer_release(&a);
	forge_free(f);

	/* GitLab's 429 with RateLimit-Reset. */
	f = mk("gitlab", NULL, "a/b");
	forge_answer_read(f, OUTBOX_STATUS, false, 429, hgl, 2,
	    "{\"message\":\"Retry later\"}", 25, now, &a);
	assert_int_equal(a.verdict, FORGE_RETRY);
	assert_int_equal(a.retry_at, 1700000100000LL);
	assert_string_equal(a.message, "HTTP 429: Retry later");
	forge_answer_release(&a);
	/* A deleted note: the next delivery creates one. */
	forge_answer_read(f, OUTBOX_COMMENT, false, 404, NULL, 0,
	    "{\"message\":\"404 Not found\"}", 27, now, &a);
	assert_int_equal(a.verdict, FORGE_GONE);
	forge_answer_release(&a);
	forge_answer_read(f, OUTBOX_COMMENT, true, 404, NULL, 0, NULL, 0, now,
	    &a);
	assert_int_equal(a.verdict, FORGE_REFUSED);
	forge_answer_release(&a);
	/* GitLab's message as an object of fields. */
	forge_answer_read(f, OUTBOX_STATUS, false, 400, NULL, 0,
	    "{\"message\":{\"state\":[\"is invalid\"]}}", 37, now, &a);
	assert_string_equal(a.message, "HTTP 400: {\"state\":[\"is invalid\"]}");
	forge_answer_release(&a);
	forge_free(f);

	/* Bitbucket Server: a stale version (409) means post anew. */
	f = mk("bitbucket-server", "http://b", "A/b");
	forge_answer_read(f, OUTBOX_COMMENT, false, 409, NULL, 0,
	    "{\"errors\":[{\"message\":\"out-of-date\"}]}", 39, now, &a);
	assert_int_equal(a.verdict, FORGE_GONE);
	assert_string_equal(a.message, "HTTP 409: out-of-date");
	forge_answer_release(&a);
	/* An edit's answer has the new version. */
	forge_answer_read(f, OUTBOX_COMMENT, false, 200, NULL, 0,
	    "{\"id\":1,\"version\":4}", 20, now, &a);
	assert_string_equal(a.remote_id, "1/4");
	forge_answer_release(&a);
	forge_free(f);

	/* Bitbucket Cloud's error shape. */
	f = mk("bitbucket", NULL, "a/b");
	forge_answer_read(f, OUTBOX_STATUS, false, 400, NULL, 0,
	    "{\"type\":\"error\",\"error\":{\"message\":\"bad key\"}}", 47,
	    now, &a);
	assert_int_equal(a.verdict, FORGE_REFUSED);
	assert_string_equal(a.message, "HTTP 400: bad key");
	forge_answer_release(&a);
	forge_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github),
		cmocka_unit_test(test_gitlab),
		cmocka_unit_test(test_gitea),
		cmocka_unit_test(test_bitbucket),
		cmocka_unit_test(test_bitbucket_server),
		cmocka_unit_test(test_new_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_answer_ids),
		cmocka_unit_test(test_answer_errors),
	};
	char	*probe;
	FILE	*fp;

	corpus = getenv("CORPUS_DIR");
	if (corpus != NULL) {
		probe = xasprintf("%s/CONTRACTS.md", corpus);
		if ((fp = fopen(probe, "r")) == NULL) {
			printf("# corpus not found at %s: the answer tests are"
			    " skipped\n", corpus);
			corpus = NULL;
		} else
			fclose(fp);
		free(probe);
	}
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
