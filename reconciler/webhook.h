/*
 * Forge webhooks: checking a delivery's signature or token, then reading
 * what happened from its JSON body.  Pure functions, no I/O: the HTTP side
 * (daemon/hooks.c) hands over the headers through a lookup function and
 * the raw body bytes, exactly as received.
 *
 * A delivery is verified first (webhook_verify), in constant time, and only
 * a verified body is parsed (webhook_parse).  The receivers:
 *
 *	forge		event header		signature header
 *	github		X-GitHub-Event		X-Hub-Signature-256: sha256=HEX
 *	gitlab		X-Gitlab-Event		X-Gitlab-Token: the secret itself
 *	gitea, forgejo	X-Gitea-Event or	X-Gitea-Signature or
 *			X-Forgejo-Event		X-Forgejo-Signature: HEX
 *	bitbucket,	X-Event-Key		X-Hub-Signature: sha256=HEX
 *	bitbucket-server
 *	generic		X-Cloudsphere-Event	X-Cloudsphere-Signature: sha256=HEX
 *
 * HEX is the HMAC-SHA256 of the raw body keyed with the secret.  GitHub's
 * legacy X-Hub-Signature (HMAC-SHA1) alone is refused: github.com and every
 * supported GitHub Enterprise Server send X-Hub-Signature-256 too, and a
 * second, weaker way in would only serve a downgrade.  Gitea and Forgejo
 * are one receiver, as are Bitbucket Cloud and Bitbucket Server (told apart
 * by X-Event-Key and the payload's shape: Server's bodies carry eventKey).
 *
 * The generic hook, for anything else that can sign its requests: POST a
 * JSON body {"ref": "refs/heads/main", "after": "<commit id>"} ("before"
 * optional; "after" null or all zeros for a deletion), with
 * X-Cloudsphere-Signature: sha256=HEX, optionally X-Cloudsphere-Event:
 * push (the default) or ping, and X-Cloudsphere-Delivery: a unique id.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_BODY_MAX	(4 * 1024 * 1024)	/* bytes */
#define WEBHOOK_DEPTH_MAX	64	/* JSON nesting */
#define WEBHOOK_CHANGES_MAX	256	/* refs in one Bitbucket push */
#define WEBHOOK_DELIVERY_MAX	128	/* bytes of a delivery id */

enum webhook_forge {
	WEBHOOK_GITHUB,
	WEBHOOK_GITLAB,
	WEBHOOK_GITEA,		/* also Forgejo */
	WEBHOOK_BITBUCKET,	/* Cloud and Server */
	WEBHOOK_GENERIC,
};

enum webhook_kind {
	WEBHOOK_PING,
	WEBHOOK_PUSH,		/* a branch moved or was created */
	WEBHOOK_PUSH_DELETE,	/* a branch was deleted */
	WEBHOOK_TAG,		/* a tag was pushed or deleted */
	WEBHOOK_PULL,		/* a pull or merge request changed */
	WEBHOOK_OTHER,		/* understood, not acted upon (comments...) */
};

enum webhook_pull_action {
	WEBHOOK_PULL_OPENED,
	WEBHOOK_PULL_SYNCHRONIZED,	/* new commits on its head */
	WEBHOOK_PULL_REOPENED,
	WEBHOOK_PULL_CLOSED,		/* closed without merging */
	WEBHOOK_PULL_MERGED,
	WEBHOOK_PULL_OTHER,		/* edited, labelled, approved... */
};

/* One ref of a push: Bitbucket pushes may move several at once. */
struct webhook_change {
	enum webhook_kind	 kind;		/* PUSH, PUSH_DELETE or TAG */
	char			*ref;		/* full ref name */
	char			*before;	/* NULL when created */
	char			*after;		/* NULL when deleted */
};

struct webhook_event {
	enum webhook_kind		 kind;
	const char			*forge;		/* github, gitlab, gitea, bitbucket, bitbucket-server, generic */
	char				*delivery;	/* delivery id, or NULL */
	char				*ref;		/* push, tag: full ref name */
	char				*before;	/* 40 hex, or NULL */
	char				*after;		/* 40 hex, or NULL when deleted */
	int64_t				 pull;		/* number / iid / id */
	enum webhook_pull_action	 pull_action;
	char				*head_sha;	/* 40 hex (Bitbucket Cloud: 12) */
	char				*head_ref;	/* source branch name */
	char				*base_ref;	/* target branch name */
	char				*head_clone_url;/* where the head lives */
	bool				 fork;		/* head in another repository */
	char				*url;		/* the pull request's web page */
	/*
	 * Every ref of a push or tag event (kind, ref, before and after above
	 * are those of the first); empty for other kinds.
	 */
	struct webhook_change		*changes;
	size_t				 nchanges;
	char				*event;		/* the event header, sanitised */
};

/*
 * Finds a header by name (case-insensitive); NULL when absent.  The value
 * must stay valid until the call that asked returns.
 */
typedef const char *(*webhook_header_fn)(const char *name, void *arg);

/* "github", "gitea", "forgejo", "bitbucket-server"...: -EINVAL if none. */
int	 webhook_forge_parse(const char *, enum webhook_forge *);

/*
 * 0 when the delivery carries the right signature or token for secret;
 * -EACCES when it is missing or wrong, with *cause saying which header
 * (never a value).  Constant time in the secret and the signature.
 */
int	 webhook_verify(enum webhook_forge, webhook_header_fn, void *arg,
	    const void *body, size_t len, const char *secret, char **cause);

/*
 * What a verified delivery says.  0 and *out, or -EINVAL (malformed JSON,
 * a missing or wrong field, a missing event header) or -E2BIG (over
 * WEBHOOK_BODY_MAX or WEBHOOK_DEPTH_MAX), with *cause.  Events the
 * receiver does not act upon are WEBHOOK_OTHER, not errors.
 */
int	 webhook_parse(struct webhook_event **out, enum webhook_forge,
	    webhook_header_fn, void *arg, const void *body, size_t len,
	    char **cause);

/* One line for logs and tests: "push refs/heads/main 0123...". */
char	*webhook_event_describe(const struct webhook_event *);
const char *webhook_kind_name(enum webhook_kind);
const char *webhook_pull_action_name(enum webhook_pull_action);
void	 webhook_event_free(struct webhook_event *);

#endif
