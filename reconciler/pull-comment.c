/*
 * A pull request's comment, rendered and fitted to the forge's limit.
 *
 * The body is a table of the changed deployments, then one section per
 * deployment with its cause and its plan output in a code block.  When it
 * would not fit, what is left after everything but the outputs is shared
 * out between them (an output smaller than its share leaves the rest to
 * the others), and each trimmed output keeps its end, from a line start.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pull-comment.h"
#include "xmalloc.h"

#define PULL_COMMENT_MAX	(1024 * 1024)
#define PULL_MARKER		"<!-- cloudsphere pull request plans -->"

size_t
pull_comment_limit(const char *forge)
{
	if (forge == NULL)
		return (65536);
	if (strcmp(forge, "gitlab") == 0)
		return (1000000);
	/* Bitbucket Server refuses past 32768; Cloud: the same, to be safe. */
	if (strncmp(forge, "bitbucket", 9) == 0)
		return (32768);
	return (65536);		/* GitHub; Gitea and Forgejo, generic */
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t	len, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
	}
	/* Overlong forms, surrogates and past U+10FFFF. */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return (0);
	return (len);
}

/*
 * Text from a log or a cause, made safe to show: valid UTF-8 kept,
 * anything else, NUL and control characters (but newline and tab) become
 * '?', carriage returns go.
 */
static char *
clean(const char *s, size_t n, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*out = xmalloc(n + 1);
	size_t			 i = 0, o = 0, len;

	while (i < n) {
		if (p[i] == '\r') {
			i++;
			continue;
		}
		if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t') {
			out[o++] = '?';
			i++;
			continue;
		}
		if ((len = utf8_len(p + i, n - i)) == 0) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, p + i, len);
		o += len;
		i += len;
	}
	out[o] = '\0';
	*outlen = o;
	return (out);
}

/* A fence longer than any run of backticks in the text, at least 3. */
static size_t
fence_len(const char *s, size_t n)
{
	size_t	i, run = 0, longest = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '`') {
			if (++run > longest)
				longest = run;
		} else
			run = 0;
	}
	return (longest >= 3 ? longest + 1 : 3);
}

static void
add_fence(struct buf *b, size_t n)
{
	while (n-- > 0)
		buf_addch(b, '`');
}

/* The end of a text in at most max bytes, from a line start if it can. */
static size_t
tail_start(const char *s, size_t n, size_t max)
{
	size_t	start, nl;

	if (n <= max)
		return (0);
	start = n - max;
	for (nl = start; nl < n && nl < start + 512; nl++) {
		if (s[nl - 1] == '\n')
			return (nl);
	}
	/* No line start near: at least not inside a UTF-8 sequence. */
	while (start < n && ((unsigned char)s[start] & 0xc0) == 0x80)
		start++;
	return (start);
}

/* One cell of the table: no newline, no pipe. */
static void
add_cell(struct buf *b, const char *s)
{
	size_t	n = 0;

	for (; *s != '\0' && *s != '\n' && n < 200; s++, n++) {
		if (*s == '|')
			buf_addstr(b, "\\|");
		else
			buf_addch(b, *s);
	}
	if (*s != '\0' && *s != '\n')
		buf_addstr(b, "...");
}

static const char *
entry_result(const struct pull_comment_entry *e)
{
	if (strcmp(e->change, "removed") == 0)
		return ("would be destroyed when merged");
	if (strcmp(e->change, "invalid") == 0)
		return ("invalid: not planned");
	if (e->run == 0)
		return ("not planned");
	if (e->state == NULL || strcmp(e->state, "queued") == 0 ||
	    strcmp(e->state, "running") == 0)
		return ("planning...");
	if (strcmp(e->state, "succeeded") == 0)
		return (e->summary != NULL ? e->summary : e->cause != NULL ?
		    e->cause : "planned");
	return (NULL);
}

struct prepared {
	char	*cause;
	size_t	 causelen;
	char	*log;
	size_t	 loglen;
	size_t	 show;		/* bytes of the log shown */
};

/* Everything, with each log shown from byte (loglen - show). */
static void
render(struct buf *b, const char *head, const struct pull_comment_entry *v,
    const struct prepared *p, size_t n)
{
	const char	*r;
	size_t		 i, start, f;
	char		*line;
	bool		 ok;

	buf_reset(b);
	buf_addstr(b, PULL_MARKER "\n");
	buf_printf(b, "### Cloudsphere: plans at %.12s\n\n", head);
	if (n == 0) {
		buf_addstr(b, "This pull request changes no deployment.\n");
		return;
	}
	buf_addstr(b, "| deployment | change | plan |\n|---|---|---|\n");
	for (i = 0; i < n; i++) {
		buf_printf(b, "| `%s` | %s | ", v[i].deployment, v[i].change);
		if ((r = entry_result(&v[i])) != NULL)
			add_cell(b, r);
		else {
			line = xasprintf("%s%s%s", v[i].state,
			    p[i].cause != NULL ? ": " : "",
			    p[i].cause != NULL ? p[i].cause : "");
			add_cell(b, line);
			free(line);
		}
		buf_addstr(b, " |\n");
	}
	for (i = 0; i < n; i++) {
		/* A plan that went well says it all in its table row. */
		ok = v[i].state != NULL && strcmp(v[i].state, "succeeded") == 0;
		if ((p[i].cause == NULL || ok) && p[i].log == NULL)
			continue;
		buf_printf(b, "\n#### `%s`", v[i].deployment);
		if (v[i].run != 0)
			buf_printf(b, " (run %lld)", (long long)v[i].run);
		buf_addstr(b, "\n\n");
		if (p[i].cause != NULL && !ok) {
			f = fence_len(p[i].cause, p[i].causelen);
			add_fence(b, f);
			buf_addch(b, '\n');
			buf_add(b, p[i].cause, p[i].causelen);
			buf_addch(b, '\n');
			add_fence(b, f);
			buf_addch(b, '\n');
		}
		if (p[i].log == NULL)
			continue;
		start = tail_start(p[i].log, p[i].loglen, p[i].show);
		if (start > 0)
			buf_printf(b, "\n*Plan output trimmed to fit the comment: the last %zu of %zu bytes; the whole log: `cloudspherectl log %lld`.*\n",
			    p[i].loglen - start, p[i].loglen,
			    (long long)v[i].run);
		buf_addstr(b, "\n<details><summary>plan output</summary>\n\n");
		f = fence_len(p[i].log + start, p[i].loglen - start);
		add_fence(b, f);
		buf_addch(b, '\n');
		buf_add(b, p[i].log + start, p[i].loglen - start);
		if (p[i].loglen > start && p[i].log[p[i].loglen - 1] != '\n')
			buf_addch(b, '\n');
		add_fence(b, f);
		buf_addstr(b, "\n\n</details>\n");
	}
}

/* Share budget out between the logs: small ones keep all of theirs. */
static void
share(struct prepared *p, size_t n, size_t budget)
{
	size_t	i, left = 0, each, given;
	bool	*done = xcalloc(n + 1, sizeof *done);

	for (i = 0; i < n; i++) {
		p[i].show = 0;
		if (p[i].log != NULL)
			left++;
		else
			done[i] = true;
	}
	while (left > 0) {
		each = budget / left;
		given = 0;
		for (i = 0; i < n; i++) {
			if (!done[i] && p[i].loglen <= each) {
				p[i].show = p[i].loglen;
				budget -= p[i].loglen;
				done[i] = true;
				left--;
				given++;
			}
		}
		if (given == 0) {
			for (i = 0; i < n; i++) {
				if (!done[i])
					p[i].show = each;
			}
			break;
		}
	}
	free(done);
}

char *
pull_comment_render(const char *head, const struct pull_comment_entry *v,
    size_t n, size_t limit)
{
	struct prepared	*p = xcalloc(n + 1, sizeof *p);
	struct buf	 b;
	size_t		 i, fixed, budget, tries;
	char		*out;

	if (limit < PULL_COMMENT_MIN)
		limit = PULL_COMMENT_MIN;
	if (limit > PULL_COMMENT_MAX)
		limit = PULL_COMMENT_MAX;
	for (i = 0; i < n; i++) {
		if (v[i].cause != NULL)
			p[i].cause = clean(v[i].cause, strlen(v[i].cause),
			    &p[i].causelen);
		if (v[i].log != NULL && v[i].loglen > 0) {
			p[i].log = clean(v[i].log, v[i].loglen, &p[i].loglen);
			p[i].show = p[i].loglen;
		}
	}
	buf_init(&b, PULL_COMMENT_MAX * 4);
	render(&b, head, v, p, n);
	/*
	 * Too long: measure what is not log (with the trim notes, as if
	 * every log were cut to nothing), share what is left, render
	 * again; fences may grow a little, so shrink until it fits.
	 */
	for (tries = 0; b.len > limit && tries < 8; tries++) {
		for (i = 0; i < n; i++) {
			if (p[i].log != NULL)
				p[i].show = 0;
		}
		render(&b, head, v, p, n);
		fixed = b.len + 64 * n;
		budget = fixed < limit ? (limit - fixed) * (8 - tries) / 8 : 0;
		share(p, n, budget);
		render(&b, head, v, p, n);
	}
	if (b.len > limit) {
		/* Even without logs it is too long: cut, and say so. */
		static const char note[] =
		    "\n\n*(trimmed: too many deployments for one comment)*\n";
		size_t cut = limit - sizeof note;

		while (cut > 0 && ((unsigned char)b.data[cut] & 0xc0) == 0x80)
			cut--;
		b.len = cut;
		b.data[cut] = '\0';
		buf_addstr(&b, note);
	}
	out = buf_detach(&b);
	buf_release(&b);
	for (i = 0; i < n; i++) {
		free(p[i].cause);
		free(p[i].log);
	}
	free(p);
	return (out);
}
