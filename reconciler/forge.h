/*
 * The forges' commit-status and comment APIs, as data: for each forge
 * (GitHub, GitLab, Gitea/Forgejo, Bitbucket Cloud, Bitbucket Server) the
 * request that sets a commit status, creates a pull-request comment or
 * edits it (method, URL, headers, JSON body, texts cut to the forge's
 * limits), and what an answer means (delivered, retry when, give up).
 * No I/O: the daemon's reporter sends the requests with libcurl.
 *
 * Endpoints, fields, states and limits are those of
 * ../shared/corpus/CONTRACTS.md section 3; cloudsphered.conf(5) lists them.
 * api_url is the API's root: https://api.github.com (or
 * https://HOST/api/v3), https://HOST/api/v4 (GitLab), https://HOST/api/v1
 * (Gitea, Forgejo), https://api.bitbucket.org/2.0, and the server's base
 * URL for Bitbucket Server (its two REST APIs hang below it).
 */
#ifndef FORGE_H
#define FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox.h"

enum forge_kind {
	FORGE_GITHUB,
	FORGE_GITLAB,
	FORGE_GITEA,		/* and Forgejo: the same API */
	FORGE_BITBUCKET,	/* Bitbucket Cloud */
	FORGE_BITBUCKET_SERVER,	/* Bitbucket Server / Data Center */
};

/* Texts are cut to these many bytes (never more characters than that). */
struct forge_limits {
	size_t	description;
	size_t	comment;
};

struct forge;

/*
 * kind is a forge.kind of the configuration: github, gitlab, gitea,
 * forgejo, bitbucket, bitbucket-server ("generic" has no API: -ENOTSUP).
 * api_url NULL takes the public service's (GitHub, GitLab.com, Bitbucket
 * Cloud) or fails; project is owner/repo (GitHub, Gitea), a GitLab path
 * (group/subgroup/project) or numeric id, workspace/slug (Bitbucket
 * Cloud), PROJECT_KEY/slug (Bitbucket Server).  The token is copied; it
 * is only ever put in an auth header.
 */
int	forge_new(struct forge **out, const char *kind, const char *api_url,
	    const char *project, const char *token, char **cause);
void	forge_free(struct forge *);
enum forge_kind	 forge_kind(const struct forge *);
const char	*forge_name(const struct forge *);
const struct forge_limits *forge_limits(enum forge_kind);

#define FORGE_HEADERS_MAX	6

struct forge_request {
	const char	*method;	/* static */
	char		*url;
	char		*headers[FORGE_HEADERS_MAX];	/* "Name: value" */
	size_t		 nheaders;
	char		*body;		/* JSON, or NULL */
	bool		 trimmed;	/* a text was cut to the limit */
};

/*
 * The status of sha for context.  A Bitbucket status needs a URL: without
 * target_url it links to the commit's page.
 */
int	forge_status_request(const struct forge *, const char *sha,
	    const char *context, enum outbox_state, const char *description,
	    const char *target_url, struct forge_request *out);
/*
 * The pull request's comment: created when remote_id is NULL, else that
 * comment edited.  A body over the forge's limit is cut, with a note.
 */
int	forge_comment_request(const struct forge *, int64_t pull,
	    const char *remote_id, const char *body,
	    struct forge_request *out);
void	forge_request_release(struct forge_request *);

/* The state word the forge's API takes. */
const char	*forge_state_word(enum forge_kind, enum outbox_state);

/*
 * text cut to at most max bytes, on a UTF-8 boundary, ending with note
 * (which must fit) when it was cut; *trimmed says whether it was.
 */
char	*forge_trim(const char *text, size_t max, const char *note,
	    bool *trimmed);

enum forge_verdict {
	FORGE_DELIVERED,
	FORGE_RETRY,		/* at retry_at if set, else after a backoff */
	FORGE_REFUSED,		/* for good: do not send it again */
	FORGE_GONE,		/* the comment to edit is gone: create anew */
};

struct forge_answer {
	enum forge_verdict	 verdict;
	char			*remote_id;	/* a comment's id to keep, or NULL */
	int64_t			 retry_at;	/* ms since the epoch; 0: none */
	int64_t			 pause_until;	/* rate limit spent: hold all */
	char			*message;	/* a line for the log, or NULL */
};

/*
 * Reads the answer to a request: status is the HTTP status (0: no answer,
 * the connection failed), headers its "Name: value" lines, body its body.
 * create: the request created a comment.  now in ms.
 */
void	forge_answer_read(const struct forge *, enum outbox_kind, bool create,
	    long status, const char *const *headers, size_t nheaders,
	    const char *body, size_t len, int64_t now, struct forge_answer *out);
void	forge_answer_release(struct forge_answer *);

/* A Retry-After value (seconds or an HTTP date) as ms since the epoch. */
int64_t	forge_retry_after(const char *value, int64_t now);

#endif
