/*
 * Streaming redaction of secret values.  The held-back tail is what could
 * still start a value, at most the longest value minus one byte, so a
 * value split between two chunks is still found; memory is bounded by the secrets, not by the stream.  A
 * value is also looked for as JSON spells it (escaped quotes, backslashes,
 * control characters, and \uXXXX for non-ASCII as Python's json prints
 * it), since tools print values inside JSON (ansible's debug, terraform
 * -json, the json callback).
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "redact.h"
#include "xmalloc.h"

struct redact {
	char	**v;
	size_t	 *len;
	size_t	  n;
	size_t	  longest;
	char	 *held;
	size_t	  nheld;
};

/* V's JSON spelling without the quotes, or NULL when it is the same. */
static char *
redact_json(const char *v, size_t flags, bool lower)
{
	json_t	*j;
	char	*dump, *s = NULL, *p;
	size_t	 len, k;

	if ((j = json_string(v)) == NULL)
		return (NULL);		/* not UTF-8: no JSON spelling */
	dump = json_dumps(j, JSON_ENCODE_ANY | flags);
	json_decref(j);
	if (dump == NULL)
		return (NULL);
	len = strlen(dump);
	for (p = dump; lower && (p = strstr(p, "\\u")) != NULL; p += 2) {
		if (p > dump && p[-1] == '\\')
			continue;	/* an escaped backslash before a u */
		for (k = 2; k < 6 && p[k] != '\0'; k++)
			p[k] = (char)tolower((unsigned char)p[k]);
	}
	if (len >= 2 && (len - 2 != strlen(v) || memcmp(dump + 1, v,
	    len - 2) != 0))
		s = xstrndup(dump + 1, len - 2);
	explicit_bzero(dump, len);
	free(dump);
	return (s);
}

/* Keep value (allocated) unless it is short or already there. */
static void
redact_push(struct redact *r, char *value)
{
	size_t	i, len;

	if (value == NULL)
		return;
	len = strlen(value);
	for (i = 0; i < r->n; i++) {
		if (r->len[i] == len && memcmp(r->v[i], value, len) == 0)
			break;
	}
	if (len < REDACT_MIN || i < r->n) {
		explicit_bzero(value, len);
		free(value);
		return;
	}
	r->v[r->n] = value;
	r->len[r->n++] = len;
	if (len > r->longest)
		r->longest = len;
}

struct redact *
redact_new(char *const *values, size_t n)
{
	struct redact	*r = xcalloc(1, sizeof *r);
	size_t		 i;

	/* Each value as it is, and as JSON spells it (\", \n, \u00e9). */
	r->v = xcalloc(4 * n + 1, sizeof *r->v);
	r->len = xcalloc(4 * n + 1, sizeof *r->len);
	for (i = 0; i < n; i++) {
		redact_push(r, xstrdup(values[i]));
		redact_push(r, redact_json(values[i], 0, false));
		/* jansson writes \u00E9, Python \u00e9. */
		redact_push(r, redact_json(values[i], JSON_ENSURE_ASCII, false));
		redact_push(r, redact_json(values[i], JSON_ENSURE_ASCII, true));
	}
	r->held = xmalloc(r->longest + 1);
	return (r);
}

void
redact_free(struct redact *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		explicit_bzero(r->v[i], r->len[i]);
		free(r->v[i]);
	}
	free(r->v);
	free(r->len);
	free(r->held);
	free(r);
}

/* The first secret starting at p (within len), longest first on ties. */
static size_t
redact_match(const struct redact *r, const char *p, size_t len)
{
	size_t	i, best = 0;

	for (i = 0; i < r->n; i++) {
		if (r->len[i] <= len && r->len[i] > best &&
		    memcmp(p, r->v[i], r->len[i]) == 0)
			best = r->len[i];
	}
	return (best);
}

/* Could the n bytes at p, the end of what came so far, start a secret? */
static bool
redact_could_start(const struct redact *r, const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < r->n; i++) {
		if (r->len[i] > n && memcmp(p, r->v[i], n) == 0)
			return (true);
	}
	return (false);
}

/*
 * Redact data (already joined with the held bytes), emitting everything
 * but a tail that could still start a secret: only such a tail, so that
 * a provider's last line is not kept from a follower while it is silent.
 */
static void
redact_run(struct redact *r, const char *data, size_t len, int final,
    redact_emit_cb emit, void *arg)
{
	size_t	 i = 0, start = 0, m, keep;

	keep = final || r->longest == 0 ? 0 :
	    (len < r->longest - 1 ? len : r->longest - 1);
	while (i < len) {
		if (!final && len - i <= keep &&
		    redact_could_start(r, data + i, len - i))
			break;
		if ((m = redact_match(r, data + i, len - i)) != 0) {
			if (i > start)
				emit(data + start, i - start, arg);
			emit(REDACT_MARK, sizeof REDACT_MARK - 1, arg);
			i += m;
			start = i;
			continue;
		}
		i++;
	}
	if (i > start)
		emit(data + start, i - start, arg);
	r->nheld = len - i;
	memmove(r->held, data + i, r->nheld);
}

void
redact_add(struct redact *r, const char *data, size_t len,
    redact_emit_cb emit, void *arg)
{
	char	*joined;

	if (r->n == 0) {
		if (len > 0)
			emit(data, len, arg);
		return;
	}
	joined = xmalloc(r->nheld + len);
	memcpy(joined, r->held, r->nheld);
	memcpy(joined + r->nheld, data, len);
	redact_run(r, joined, r->nheld + len, 0, emit, arg);
	free(joined);
}

void
redact_finish(struct redact *r, redact_emit_cb emit, void *arg)
{
	char	*joined;
	size_t	 n = r->nheld;

	if (n == 0)
		return;
	joined = xmalloc(n);
	memcpy(joined, r->held, n);
	redact_run(r, joined, n, 1, emit, arg);
	free(joined);
}

struct redact_sink {
	char	*s;
	size_t	 len;
};

static void
redact_sink_add(const char *data, size_t len, void *arg)
{
	struct redact_sink	*k = arg;

	k->s = xreallocarray(k->s, k->len + len + 1, 1);
	memcpy(k->s + k->len, data, len);
	k->len += len;
	k->s[k->len] = '\0';
}

char *
redact_string(char *const *values, size_t n, const char *s)
{
	struct redact		*r = redact_new(values, n);
	struct redact_sink	 k = { xstrdup(""), 0 };

	redact_add(r, s, strlen(s), redact_sink_add, &k);
	redact_finish(r, redact_sink_add, &k);
	redact_free(r);
	return (k.s);
}
