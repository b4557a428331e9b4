/*
 * Forge webhooks: verification (HMAC-SHA256 or a shared token, compared in
 * constant time) and then parsing of the JSON body into one event.  The
 * facts per forge are those of ../shared/corpus/CONTRACTS.md sections 1
 * and 2; webhook.h lists the headers.  Nothing here is trusted before
 * webhook_verify said yes, and nothing from the body is ever evaluated:
 * strings are only checked and copied.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "compat.h"
#include "webhook.h"
#include "xmalloc.h"

#define WEBHOOK_STRING_MAX	4096	/* a ref, a URL, a branch name */

/* Hex to bytes; false unless exactly n bytes of hex digits. */
static bool
hex_decode(const char *s, unsigned char *out, size_t n)
{
	size_t	i;
	int	hi, lo;

	if (strlen(s) != 2 * n)
		return (false);
	for (i = 0; i < n; i++) {
		hi = isxdigit((unsigned char)s[2 * i]) ? s[2 * i] : -1;
		lo = isxdigit((unsigned char)s[2 * i + 1]) ? s[2 * i + 1] : -1;
		if (hi < 0 || lo < 0)
			return (false);
		hi = isdigit(hi) ? hi - '0' : tolower(hi) - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : tolower(lo) - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (true);
}

/*
 * Whether value ("sha256=HEX" when prefix is "sha256=", else "HEX") is the
 * HMAC-SHA256 of body under secret.  The comparison is constant time; a
 * malformed value fails before the HMAC is computed, which tells an
 * attacker nothing about the secret.
 */
static bool
hmac_matches(const char *value, const char *prefix, const void *body,
    size_t len, const char *secret)
{
	unsigned char	want[SHA256_DIGEST_LENGTH];
	unsigned char	got[EVP_MAX_MD_SIZE];
	unsigned int	glen = 0;
	size_t		plen = strlen(prefix);
	bool		ok;

	if (strncasecmp(value, prefix, plen) != 0 ||
	    !hex_decode(value + plen, want, sizeof want))
		return (false);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, got,
	    &glen) == NULL || glen != sizeof want)
		return (false);
	ok = CRYPTO_memcmp(want, got, sizeof want) == 0;
	OPENSSL_cleanse(got, sizeof got);
	return (ok);
}

/*
 * A token equal to the secret (GitLab).  Both sides are hashed first so
 * that the comparison takes the same time whatever their lengths.
 */
static bool
token_matches(const char *value, const char *secret)
{
	unsigned char	a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
	bool		ok;

	SHA256((const unsigned char *)value, strlen(value), a);
	SHA256((const unsigned char *)secret, strlen(secret), b);
	ok = CRYPTO_memcmp(a, b, sizeof a) == 0;
	OPENSSL_cleanse(b, sizeof b);
	return (ok);
}

int
webhook_forge_parse(const char *s, enum webhook_forge *out)
{
	if (strcmp(s, "github") == 0)
		*out = WEBHOOK_GITHUB;
	else if (strcmp(s, "gitlab") == 0)
		*out = WEBHOOK_GITLAB;
	else if (strcmp(s, "gitea") == 0 || strcmp(s, "forgejo") == 0)
		*out = WEBHOOK_GITEA;
	else if (strcmp(s, "bitbucket") == 0 ||
	    strcmp(s, "bitbucket-server") == 0)
		*out = WEBHOOK_BITBUCKET;
	else if (strcmp(s, "generic") == 0)
		*out = WEBHOOK_GENERIC;
	else
		return (-EINVAL);
	return (0);
}

int
webhook_verify(enum webhook_forge forge, webhook_header_fn header, void *arg,
    const void *body, size_t len, const char *secret, char **cause)
{
	const char	*v, *name = NULL, *v2;
	bool		 ok = false;

	*cause = NULL;
	if (secret == NULL || secret[0] == '\0') {
		/* Never reached: the daemon refuses an empty secret. */
		*cause = xstrdup("no secret configured");
		return (-EACCES);
	}
	switch (forge) {
	case WEBHOOK_GITHUB:
		name = "X-Hub-Signature-256";
		if ((v = header(name, arg)) != NULL)
			ok = hmac_matches(v, "sha256=", body, len, secret);
		else if (header("X-Hub-Signature", arg) != NULL) {
			*cause = xstrdup("only the legacy X-Hub-Signature (SHA-1), refused: X-Hub-Signature-256 is needed");
			return (-EACCES);
		}
		break;
	case WEBHOOK_GITLAB:
		name = "X-Gitlab-Token";
		if ((v = header(name, arg)) != NULL)
			ok = token_matches(v, secret);
		break;
	case WEBHOOK_GITEA:
		/* Forgejo sends both with the same value: each present must match. */
		v = header("X-Gitea-Signature", arg);
		v2 = header("X-Forgejo-Signature", arg);
		name = v != NULL || v2 == NULL ? "X-Gitea-Signature" :
		    "X-Forgejo-Signature";
		if (v != NULL || v2 != NULL)
			ok = (v == NULL || hmac_matches(v, "", body, len,
			    secret)) && (v2 == NULL || hmac_matches(v2, "",
			    body, len, secret));
		if (v == NULL)
			v = v2;
		break;
	case WEBHOOK_BITBUCKET:
		name = "X-Hub-Signature";
		if ((v = header(name, arg)) != NULL)
			ok = hmac_matches(v, "sha256=", body, len, secret);
		break;
	case WEBHOOK_GENERIC:
		name = "X-Cloudsphere-Signature";
		if ((v = header(name, arg)) != NULL)
			ok = hmac_matches(v, "sha256=", body, len, secret);
		break;
	default:
		*cause = xstrdup("unknown forge");
		return (-EACCES);
	}
	if (v == NULL) {
		*cause = xasprintf("no %s header", name);
		return (-EACCES);
	}
	if (!ok) {
		*cause = xasprintf("wrong %s", name);
		return (-EACCES);
	}
	return (0);
}

/* Parsing ---------------------------------------------------------------- */

struct wparse {
	struct webhook_event	*ev;
	json_t			*root;
	char			*cause;
};

static int
wp_fail(struct wparse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
wp_fail(struct wparse *p, const char *fmt, ...)
{
	va_list	ap;

	if (p->cause == NULL) {
		va_start(ap, fmt);
		p->cause = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return (-EINVAL);
}

/*
 * The nesting depth of a JSON text, scanned before jansson recurses into
 * it: jansson's own limit (2048) is far above anything a forge sends.
 */
static size_t
json_depth(const char *s, size_t len)
{
	size_t	i, depth = 0, max = 0;
	bool	instr = false;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = false;
			continue;
		}
		switch (s[i]) {
		case '"':
			instr = true;
			break;
		case '{':
		case '[':
			if (++depth > max)
				max = depth;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return (max);
}

/* The value at a path of object keys ("a.b.c"), or NULL. */
static json_t *
jget(json_t *o, const char *path)
{
	char		 key[64];
	const char	*dot;
	size_t		 n;

	while (o != NULL && *path != '\0') {
		if (!json_is_object(o))
			return (NULL);
		dot = strchr(path, '.');
		n = dot != NULL ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof key)
			return (NULL);
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		path += n + (dot != NULL);
	}
	return (o);
}

/* A printable string without control characters or spaces, bounded. */
static bool
text_valid(const char *s)
{
	size_t	i, n = strlen(s);

	if (n == 0 || n > WEBHOOK_STRING_MAX)
		return (false);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return (false);
	return (true);
}

/* A string field, or NULL (absent, null, or not a string). */
static const char *
jstr(json_t *o, const char *path)
{
	json_t	*v = jget(o, path);

	return (json_is_string(v) ? json_string_value(v) : NULL);
}

/* A copy of a string field that must be a valid text, or NULL. */
static char *
jtext(json_t *o, const char *path)
{
	const char	*s = jstr(o, path);

	return (s != NULL && text_valid(s) ? xstrdup(s) : NULL);
}

static bool
oid_zero(const char *s)
{
	return (strspn(s, "0") == strlen(s));
}

/* A commit id of min to 64 hex digits. */
static bool
oid_valid(const char *s, size_t min)
{
	size_t	n = strlen(s);

	return (n >= min && n <= 64 && strspn(s, "0123456789abcdefABCDEF") == n);
}

/*
 * A full commit id, or NULL for none (JSON null, absent, all zeros);
 * -EINVAL for anything else.
 */
static int
jsha(struct wparse *p, json_t *o, const char *path, char **out)
{
	json_t		*v = jget(o, path);
	const char	*s;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_string(v) || !oid_valid((s = json_string_value(v)), 40) ||
	    (strlen(s) != 40 && strlen(s) != 64))
		return (wp_fail(p, "%s: not a commit id", path));
	if (!oid_zero(s))
		*out = xstrdup(s);
	return (0);
}

static int
jint(struct wparse *p, json_t *o, const char *path, int64_t *out)
{
	json_t	*v = jget(o, path);

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return (wp_fail(p, "%s: not a positive number", path));
	*out = (int64_t)json_integer_value(v);
	return (0);
}

static bool
jtrue(json_t *o, const char *path)
{
	return (json_is_true(jget(o, path)));
}

/* Two JSON values that name the same repository (ids or names). */
static bool
jsame(json_t *a, json_t *b)
{
	return (a != NULL && b != NULL && json_equal(a, b));
}

static void
change_add(struct webhook_event *ev, enum webhook_kind kind, char *ref,
    char *before, char *after)
{
	struct webhook_change	*c;

	ev->changes = xreallocarray(ev->changes, ev->nchanges + 1,
	    sizeof *ev->changes);
	c = &ev->changes[ev->nchanges++];
	c->kind = kind;
	c->ref = ref;
	c->before = before;
	c->after = after;
	if (ev->nchanges == 1) {
		ev->kind = kind;
		ev->ref = xstrdup(ref);
		ev->before = before != NULL ? xstrdup(before) : NULL;
		ev->after = after != NULL ? xstrdup(after) : NULL;
	}
}

/*
 * A push of ref from before to after (NULL: created / deleted).  Refs that
 * are neither branches nor tags (refs/notes/...) are not changes we track.
 */
static int
push_add(struct wparse *p, const char *ref, char *before, char *after)
{
	enum webhook_kind	kind;

	if (ref == NULL || !text_valid(ref)) {
		free(before);
		free(after);
		return (wp_fail(p, "a push without a valid ref"));
	}
	if (strncmp(ref, "refs/tags/", 10) == 0)
		kind = WEBHOOK_TAG;
	else if (strncmp(ref, "refs/heads/", 11) == 0)
		kind = after == NULL ? WEBHOOK_PUSH_DELETE : WEBHOOK_PUSH;
	else {
		free(before);
		free(after);
		return (0);
	}
	if (p->ev->nchanges >= WEBHOOK_CHANGES_MAX) {
		free(before);
		free(after);
		return (wp_fail(p, "more than %d refs in one push",
		    WEBHOOK_CHANGES_MAX));
	}
	change_add(p->ev, kind, xstrdup(ref), before, after);
	return (0);
}

/* A push with ref, before and after at the top (GitHub, GitLab, Gitea). */
static int
push_plain(struct wparse *p)
{
	char	*before, *after;

	if (jsha(p, p->root, "before", &before) != 0)
		return (-EINVAL);
	if (jsha(p, p->root, "after", &after) != 0) {
		free(before);
		return (-EINVAL);
	}
	if (jtrue(p->root, "deleted") && after != NULL) {
		free(after);
		after = NULL;
	}
	if (push_add(p, jstr(p->root, "ref"), before, after) != 0)
		return (-EINVAL);
	if (p->ev->nchanges == 0)
		p->ev->kind = WEBHOOK_OTHER;
	return (0);
}

/* The fields of a pull request common to every forge. */
static int
pull_fields(struct wparse *p, json_t *pr, const char *number,
    const char *sha, const char *head, const char *base, const char *clone,
    const char *url, size_t shamin)
{
	struct webhook_event	*ev = p->ev;
	const char		*s;

	if (jint(p, pr, number, &ev->pull) != 0)
		return (-EINVAL);
	s = jstr(pr, sha);
	if (s == NULL || !oid_valid(s, shamin))
		return (wp_fail(p, "%s: not a commit id", sha));
	ev->head_sha = xstrdup(s);
	ev->head_ref = jtext(pr, head);
	ev->base_ref = jtext(pr, base);
	if (ev->head_ref == NULL || ev->base_ref == NULL)
		return (wp_fail(p, "a pull request without its branches"));
	if (clone != NULL)
		ev->head_clone_url = jtext(pr, clone);
	if (url != NULL)
		ev->url = jtext(pr, url);
	ev->kind = WEBHOOK_PULL;
	return (0);
}

/* GitHub and Gitea: the same shapes, a few words apart. */
static int
parse_github(struct wparse *p, const char *event, bool gitea)
{
	struct webhook_event	*ev = p->ev;
	json_t			*pr;
	const char		*action;

	if (strcmp(event, "ping") == 0) {
		ev->kind = WEBHOOK_PING;
		return (0);
	}
	if (strcmp(event, "push") == 0)
		return (push_plain(p));
	if (gitea && strcmp(event, "delete") == 0) {
		/* Gitea says a branch went with "delete", not with a push. */
		const char	*type = jstr(p->root, "ref_type");
		const char	*ref = jstr(p->root, "ref");
		char		*full;
		int		 error;

		if (type == NULL || ref == NULL || !text_valid(ref))
			return (wp_fail(p, "a delete without ref or ref_type"));
		if (strcmp(type, "branch") != 0 && strcmp(type, "tag") != 0) {
			ev->kind = WEBHOOK_OTHER;
			return (0);
		}
		full = strncmp(ref, "refs/", 5) == 0 ? xstrdup(ref) :
		    xasprintf("refs/%s/%s", strcmp(type, "tag") == 0 ?
		    "tags" : "heads", ref);
		error = push_add(p, full, NULL, NULL);
		free(full);
		return (error);
	}
	if (strcmp(event, "pull_request") != 0) {
		ev->kind = WEBHOOK_OTHER;
		return (0);
	}
	pr = jget(p->root, "pull_request");
	if (!json_is_object(pr) || (action = jstr(p->root, "action")) == NULL)
		return (wp_fail(p, "a pull_request event without pull_request or action"));
	if (pull_fields(p, pr, "number", "head.sha", "head.ref", "base.ref",
	    "head.repo.clone_url", "html_url", 40) != 0)
		return (-EINVAL);
	/* No head repository: the fork is gone. */
	ev->fork = !jsame(jget(pr, "head.repo.id"), jget(pr, "base.repo.id"));
	if (strcmp(action, "opened") == 0)
		ev->pull_action = WEBHOOK_PULL_OPENED;
	else if (strcmp(action, gitea ? "synchronized" : "synchronize") == 0)
		ev->pull_action = WEBHOOK_PULL_SYNCHRONIZED;
	else if (strcmp(action, "reopened") == 0)
		ev->pull_action = WEBHOOK_PULL_REOPENED;
	else if (strcmp(action, "closed") == 0)
		ev->pull_action = jtrue(pr, "merged") ? WEBHOOK_PULL_MERGED :
		    WEBHOOK_PULL_CLOSED;
	else
		ev->pull_action = WEBHOOK_PULL_OTHER;
	return (0);
}

static int
parse_gitlab(struct wparse *p)
{
	struct webhook_event	*ev = p->ev;
	const char		*kind = jstr(p->root, "object_kind");
	const char		*action;
	json_t			*oa;

	if (kind == NULL)
		return (wp_fail(p, "no object_kind"));
	if (strcmp(kind, "push") == 0 || strcmp(kind, "tag_push") == 0)
		return (push_plain(p));
	if (strcmp(kind, "merge_request") != 0) {
		ev->kind = WEBHOOK_OTHER;
		return (0);
	}
	oa = jget(p->root, "object_attributes");
	if (!json_is_object(oa))
		return (wp_fail(p, "a merge request without object_attributes"));
	if (pull_fields(p, oa, "iid", "last_commit.id", "source_branch",
	    "target_branch", "source.git_http_url", "url", 40) != 0)
		return (-EINVAL);
	ev->fork = !jsame(jget(oa, "source_project_id"),
	    jget(oa, "target_project_id"));
	action = jstr(oa, "action");
	if (action == NULL)
		ev->pull_action = WEBHOOK_PULL_OTHER;
	else if (strcmp(action, "open") == 0)
		ev->pull_action = WEBHOOK_PULL_OPENED;
	else if (strcmp(action, "update") == 0)
		/* oldrev is there only when the update brought commits. */
		ev->pull_action = jstr(oa, "oldrev") != NULL ?
		    WEBHOOK_PULL_SYNCHRONIZED : WEBHOOK_PULL_OTHER;
	else if (strcmp(action, "reopen") == 0)
		ev->pull_action = WEBHOOK_PULL_REOPENED;
	else if (strcmp(action, "close") == 0)
		ev->pull_action = WEBHOOK_PULL_CLOSED;
	else if (strcmp(action, "merge") == 0)
		ev->pull_action = WEBHOOK_PULL_MERGED;
	else
		ev->pull_action = WEBHOOK_PULL_OTHER;
	return (0);
}

/* Bitbucket Cloud: push.changes[].{old,new}.{type,name,target.hash}. */
static int
parse_bitbucket_cloud_push(struct wparse *p)
{
	json_t		*changes = jget(p->root, "push.changes"), *c;
	const char	*type, *name;
	char		*ref, *before, *after;
	size_t		 i;
	int		 error;

	if (!json_is_array(changes))
		return (wp_fail(p, "a push without push.changes"));
	json_array_foreach(changes, i, c) {
		json_t	*side = json_is_object(jget(c, "new")) ?
		    jget(c, "new") : jget(c, "old");

		if (!json_is_object(side))
			return (wp_fail(p, "a change without old or new"));
		type = jstr(side, "type");
		name = jstr(side, "name");
		if (type == NULL || name == NULL)
			return (wp_fail(p, "a change without type or name"));
		if (jsha(p, c, "old.target.hash", &before) != 0)
			return (-EINVAL);
		if (jsha(p, c, "new.target.hash", &after) != 0) {
			free(before);
			return (-EINVAL);
		}
		if (strcmp(type, "branch") == 0)
			ref = xasprintf("refs/heads/%s", name);
		else if (strcmp(type, "tag") == 0 ||
		    strcmp(type, "annotated_tag") == 0)
			ref = xasprintf("refs/tags/%s", name);
		else {
			free(before);
			free(after);
			continue;
		}
		error = push_add(p, ref, before, after);
		free(ref);
		if (error != 0)
			return (error);
	}
	if (p->ev->nchanges == 0)
		p->ev->kind = WEBHOOK_OTHER;
	return (0);
}

/* Bitbucket Server: changes[].{ref.id, fromHash, toHash, type}. */
static int
parse_bitbucket_server_push(struct wparse *p)
{
	json_t		*changes = jget(p->root, "changes"), *c;
	char		*before, *after;
	size_t		 i;

	if (!json_is_array(changes))
		return (wp_fail(p, "a push without changes"));
	json_array_foreach(changes, i, c) {
		if (jsha(p, c, "fromHash", &before) != 0)
			return (-EINVAL);
		if (jsha(p, c, "toHash", &after) != 0) {
			free(before);
			return (-EINVAL);
		}
		if (push_add(p, jstr(c, "ref.id"), before, after) != 0)
			return (-EINVAL);
	}
	if (p->ev->nchanges == 0)
		p->ev->kind = WEBHOOK_OTHER;
	return (0);
}

static int
parse_bitbucket(struct wparse *p, const char *key)
{
	struct webhook_event	*ev = p->ev;
	json_t			*pr;
	const char		*s;

	/* Server's bodies name their event; Cloud's do not. */
	s = jstr(p->root, "eventKey");
	ev->forge = s != NULL || strncmp(key, "pr:", 3) == 0 ||
	    strcmp(key, "repo:refs_changed") == 0 ||
	    strncmp(key, "diagnostics:", 12) == 0 ? "bitbucket-server" :
	    "bitbucket";
	if (s != NULL && strcmp(s, key) != 0)
		return (wp_fail(p, "X-Event-Key and the body's eventKey differ"));

	if (strcmp(key, "diagnostics:ping") == 0) {
		ev->kind = WEBHOOK_PING;
		return (0);
	}
	if (strcmp(key, "repo:push") == 0)
		return (parse_bitbucket_cloud_push(p));
	if (strcmp(key, "repo:refs_changed") == 0)
		return (parse_bitbucket_server_push(p));

	if (strncmp(key, "pullrequest:", 12) == 0 &&
	    strncmp(key, "pullrequest:comment_", 20) != 0) {
		pr = jget(p->root, "pullrequest");
		if (!json_is_object(pr))
			return (wp_fail(p, "%s without pullrequest", key));
		/* Cloud's webhooks carry 12-digit abbreviated commit ids. */
		if (pull_fields(p, pr, "id", "source.commit.hash",
		    "source.branch.name", "destination.branch.name", NULL,
		    "links.html.href", 7) != 0)
			return (-EINVAL);
		if ((s = jstr(pr, "source.repository.links.html.href")) != NULL &&
		    text_valid(s))
			ev->head_clone_url = xasprintf("%s.git", s);
		ev->fork = !jsame(jget(pr, "source.repository.uuid"),
		    jget(pr, "destination.repository.uuid"));
		key += 12;
		if (strcmp(key, "created") == 0)
			ev->pull_action = WEBHOOK_PULL_OPENED;
		else if (strcmp(key, "updated") == 0)
			/* Any update, commits or not: the head tells. */
			ev->pull_action = WEBHOOK_PULL_SYNCHRONIZED;
		else if (strcmp(key, "fulfilled") == 0)
			ev->pull_action = WEBHOOK_PULL_MERGED;
		else if (strcmp(key, "rejected") == 0)
			ev->pull_action = WEBHOOK_PULL_CLOSED;
		else
			ev->pull_action = WEBHOOK_PULL_OTHER;
		return (0);
	}
	if (strncmp(key, "pr:", 3) == 0 && strncmp(key, "pr:comment:", 11) != 0) {
		pr = jget(p->root, "pullRequest");
		if (!json_is_object(pr))
			return (wp_fail(p, "%s without pullRequest", key));
		if (pull_fields(p, pr, "id", "fromRef.latestCommit",
		    "fromRef.displayId", "toRef.displayId", NULL, NULL,
		    40) != 0)
			return (-EINVAL);
		{
			json_t	*clone = jget(pr, "fromRef.repository.links.clone"), *c;
			size_t	 i;

			json_array_foreach(clone, i, c) {
				s = jstr(c, "name");
				if (s != NULL && strcmp(s, "http") == 0 &&
				    ev->head_clone_url == NULL)
					ev->head_clone_url = jtext(c, "href");
			}
			c = json_array_get(jget(pr, "links.self"), 0);
			ev->url = jtext(c, "href");
		}
		ev->fork = !jsame(jget(pr, "fromRef.repository.id"),
		    jget(pr, "toRef.repository.id"));
		key += 3;
		if (strcmp(key, "opened") == 0)
			ev->pull_action = WEBHOOK_PULL_OPENED;
		else if (strcmp(key, "from_ref_updated") == 0)
			ev->pull_action = WEBHOOK_PULL_SYNCHRONIZED;
		else if (strcmp(key, "reopened") == 0)
			ev->pull_action = WEBHOOK_PULL_REOPENED;
		else if (strcmp(key, "merged") == 0)
			ev->pull_action = WEBHOOK_PULL_MERGED;
		else if (strcmp(key, "declined") == 0 ||
		    strcmp(key, "deleted") == 0)
			ev->pull_action = WEBHOOK_PULL_CLOSED;
		else
			ev->pull_action = WEBHOOK_PULL_OTHER;
		return (0);
	}
	ev->kind = WEBHOOK_OTHER;
	return (0);
}

/* {"ref": "refs/heads/main", "after": "<id>"} and an optional "before". */
static int
parse_generic(struct wparse *p, const char *event)
{
	char	*before, *after;

	if (strcmp(event, "ping") == 0) {
		p->ev->kind = WEBHOOK_PING;
		return (0);
	}
	if (strcmp(event, "push") != 0) {
		p->ev->kind = WEBHOOK_OTHER;
		return (0);
	}
	if (!json_is_string(jget(p->root, "ref")))
		return (wp_fail(p, "ref: expected a string"));
	if (jget(p->root, "after") == NULL)
		return (wp_fail(p, "after: expected a commit id or null"));
	if (jsha(p, p->root, "before", &before) != 0)
		return (-EINVAL);
	if (jsha(p, p->root, "after", &after) != 0) {
		free(before);
		return (-EINVAL);
	}
	if (push_add(p, jstr(p->root, "ref"), before, after) != 0)
		return (-EINVAL);
	if (p->ev->nchanges == 0)
		p->ev->kind = WEBHOOK_OTHER;
	return (0);
}

/* A header value safe to log: bounded, printable ASCII. */
static char *
header_clean(const char *v, size_t max)
{
	size_t	i, n;

	if (v == NULL || (n = strlen(v)) == 0 || n > max)
		return (NULL);
	for (i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return (NULL);
	return (xstrdup(v));
}

int
webhook_parse(struct webhook_event **out, enum webhook_forge forge,
    webhook_header_fn header, void *arg, const void *body, size_t len,
    char **cause)
{
	static const char *const events[] = {
		[WEBHOOK_GITHUB] = "X-GitHub-Event",
		[WEBHOOK_GITLAB] = "X-Gitlab-Event",
		[WEBHOOK_GITEA] = "X-Gitea-Event",
		[WEBHOOK_BITBUCKET] = "X-Event-Key",
		[WEBHOOK_GENERIC] = "X-Cloudsphere-Event",
	};
	static const char *const names[] = {
		[WEBHOOK_GITHUB] = "github", [WEBHOOK_GITLAB] = "gitlab",
		[WEBHOOK_GITEA] = "gitea", [WEBHOOK_BITBUCKET] = "bitbucket",
		[WEBHOOK_GENERIC] = "generic",
	};
	struct wparse	 p;
	json_error_t	 jerr;
	const char	*event, *delivery = NULL;
	int		 error;

	*out = NULL;
	*cause = NULL;
	if ((unsigned)forge >= sizeof events / sizeof events[0]) {
		*cause = xstrdup("unknown forge");
		return (-EINVAL);
	}
	if (len > WEBHOOK_BODY_MAX) {
		*cause = xasprintf("body over %d bytes", WEBHOOK_BODY_MAX);
		return (-E2BIG);
	}
	if (json_depth(body, len) > WEBHOOK_DEPTH_MAX) {
		*cause = xasprintf("JSON nested deeper than %d",
		    WEBHOOK_DEPTH_MAX);
		return (-E2BIG);
	}

	event = header(events[forge], arg);
	if (event == NULL && forge == WEBHOOK_GITEA)
		event = header("X-Forgejo-Event", arg);
	if (event == NULL && forge == WEBHOOK_GENERIC)
		event = "push";
	if (event == NULL) {
		*cause = xasprintf("no %s header", events[forge]);
		return (-EINVAL);
	}

	memset(&p, 0, sizeof p);
	/* Duplicate keys pass (the last wins): GitLab sends some. */
	p.root = json_loadb(body, len, 0, &jerr);
	if (p.root == NULL) {
		/* Not jerr.text: it quotes the body, which may hold secrets. */
		*cause = xasprintf("malformed JSON (line %d, column %d)",
		    jerr.line, jerr.column);
		return (-EINVAL);
	}
	if (!json_is_object(p.root)) {
		json_decref(p.root);
		*cause = xstrdup("the body is not a JSON object");
		return (-EINVAL);
	}
	p.ev = xcalloc(1, sizeof *p.ev);
	p.ev->forge = names[forge];
	p.ev->kind = WEBHOOK_OTHER;
	p.ev->pull_action = WEBHOOK_PULL_OTHER;
	p.ev->event = header_clean(event, 64);
	if (p.ev->event == NULL) {
		error = wp_fail(&p, "%s: not a plain event name",
		    events[forge]);
		goto out;
	}

	switch (forge) {
	case WEBHOOK_GITHUB:
		delivery = header("X-GitHub-Delivery", arg);
		error = parse_github(&p, event, false);
		break;
	case WEBHOOK_GITLAB:
		/* Idempotency-Key stays the same across GitLab's retries. */
		if ((delivery = header("Idempotency-Key", arg)) == NULL)
			delivery = header("X-Gitlab-Event-UUID", arg);
		error = parse_gitlab(&p);
		break;
	case WEBHOOK_GITEA:
		if ((delivery = header("X-Gitea-Delivery", arg)) == NULL)
			delivery = header("X-Forgejo-Delivery", arg);
		if (p.ev->event != NULL && header("X-Forgejo-Event", arg) !=
		    NULL && header("X-Gitea-Event", arg) == NULL)
			p.ev->forge = "forgejo";
		error = parse_github(&p, event, true);
		break;
	case WEBHOOK_BITBUCKET:
		if ((delivery = header("X-Request-UUID", arg)) == NULL)
			delivery = header("X-Request-Id", arg);
		error = parse_bitbucket(&p, event);
		break;
	case WEBHOOK_GENERIC:
		delivery = header("X-Cloudsphere-Delivery", arg);
		error = parse_generic(&p, event);
		break;
	default:
		error = -EINVAL;
	}
	if (error == 0 && delivery != NULL &&
	    (p.ev->delivery = header_clean(delivery,
	    WEBHOOK_DELIVERY_MAX)) == NULL)
		error = wp_fail(&p, "the delivery id is not a plain string of at most %d bytes",
		    WEBHOOK_DELIVERY_MAX);
out:
	json_decref(p.root);
	if (error != 0) {
		webhook_event_free(p.ev);
		*cause = p.cause != NULL ? p.cause : xstrdup("malformed");
		return (error);
	}
	free(p.cause);
	*out = p.ev;
	return (0);
}

const char *
webhook_kind_name(enum webhook_kind k)
{
	switch (k) {
	case WEBHOOK_PING:
		return ("ping");
	case WEBHOOK_PUSH:
		return ("push");
	case WEBHOOK_PUSH_DELETE:
		return ("push-delete");
	case WEBHOOK_TAG:
		return ("tag");
	case WEBHOOK_PULL:
		return ("pull");
	case WEBHOOK_OTHER:
		break;
	}
	return ("other");
}

const char *
webhook_pull_action_name(enum webhook_pull_action a)
{
	switch (a) {
	case WEBHOOK_PULL_OPENED:
		return ("opened");
	case WEBHOOK_PULL_SYNCHRONIZED:
		return ("synchronized");
	case WEBHOOK_PULL_REOPENED:
		return ("reopened");
	case WEBHOOK_PULL_CLOSED:
		return ("closed");
	case WEBHOOK_PULL_MERGED:
		return ("merged");
	case WEBHOOK_PULL_OTHER:
		break;
	}
	return ("other");
}

char *
webhook_event_describe(const struct webhook_event *ev)
{
	switch (ev->kind) {
	case WEBHOOK_PUSH:
	case WEBHOOK_PUSH_DELETE:
	case WEBHOOK_TAG:
		return (xasprintf("%s %s %s%s", webhook_kind_name(ev->kind),
		    ev->ref, ev->after != NULL ? ev->after : "-",
		    ev->nchanges > 1 ? " (and more refs)" : ""));
	case WEBHOOK_PULL:
		return (xasprintf("pull %lld %s %s %s->%s%s",
		    (long long)ev->pull,
		    webhook_pull_action_name(ev->pull_action), ev->head_sha,
		    ev->head_ref, ev->base_ref, ev->fork ? " fork" : ""));
	default:
		return (xstrdup(webhook_kind_name(ev->kind)));
	}
}

void
webhook_event_free(struct webhook_event *ev)
{
	size_t	i;

	if (ev == NULL)
		return;
	for (i = 0; i < ev->nchanges; i++) {
		free(ev->changes[i].ref);
		free(ev->changes[i].before);
		free(ev->changes[i].after);
	}
	free(ev->changes);
	free(ev->delivery);
	free(ev->ref);
	free(ev->before);
	free(ev->after);
	free(ev->head_sha);
	free(ev->head_ref);
	free(ev->base_ref);
	free(ev->head_clone_url);
	free(ev->url);
	free(ev->event);
	free(ev);
}
