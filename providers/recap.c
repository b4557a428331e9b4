/*
 * Reading ansible-playbook's output for its recap and errors.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recap.h"
#include "xmalloc.h"

#define RECAP_LINE_MAX	(64 * 1024)

void
recap_init(struct recap *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->line, RECAP_LINE_MAX);
	buf_init(&r->doc, RECAP_DOC_MAX);
}

void
recap_release(struct recap *r)
{
	buf_release(&r->line);
	buf_release(&r->doc);
	free(r->error);
	free(r->where);
	memset(r, 0, sizeof *r);
}

static int
field(const char *line, const char *name)
{
	char		 key[32];
	const char	*p;
	long		 v;

	snprintf(key, sizeof key, " %s=", name);
	if ((p = strstr(line, key)) == NULL)
		return (0);
	/* A count from the tool's output: clamped, never undefined. */
	v = strtol(p + strlen(key), NULL, 10);
	if (v < INT_MIN)
		return (INT_MIN);
	return (v > INT_MAX ? INT_MAX : (int)v);
}

static void
recap_error(struct recap *r, const char *msg)
{
	while (*msg == ' ')
		msg++;
	if (r->error == NULL && *msg != '\0')
		r->error = xstrdup(msg);
}

static void
recap_line(struct recap *r, const char *line, size_t len)
{
	/* The json callback's document, indented: from "{" to "}". */
	if (r->in_doc) {
		if (buf_add(&r->doc, line, len) != 0 ||
		    buf_addch(&r->doc, '\n') != 0) {
			r->in_doc = false;	/* too big: not read */
			buf_reset(&r->doc);
		} else if (strcmp(line, "}") == 0) {
			r->in_doc = false;
			recap_json(r, r->doc.data, r->doc.len);
			buf_reset(&r->doc);
		}
		return;
	}
	if (strcmp(line, "{") == 0) {
		r->in_doc = true;
		buf_reset(&r->doc);
		buf_add(&r->doc, "{\n", 2);
		return;
	}
	/* On one line (ANSIBLE_JSON_INDENT=0), or jsonl's stats event. */
	if (line[0] == '{' && strstr(line, "\"stats\"") != NULL) {
		recap_json(r, line, len);
		return;
	}
	/*
	 * "The error appears to be in '/state/runs/7/work/site.yml': line 7,
	 * column 8, but may" (the path made relative to the blueprint).
	 */
	if (strncmp(line, "The error appears to be in '", 28) == 0 &&
	    r->where == NULL) {
		const char	*path = line + 28, *end, *at, *p;
		size_t		 n;

		if ((end = strstr(path, "': ")) != NULL) {
			for (p = path; (at = strstr(p, "/work/")) != NULL &&
			    at < end; p = at + 6)
				path = at + 6;
			n = strcspn(end + 3, ",");
			if (end[3 + n] == ',' && strncmp(end + 4 + n, " column ",
			    8) == 0)
				n += 8 + strspn(end + 12 + n, "0123456789") + 1;
			r->where = xasprintf("%.*s: %.*s", (int)(end - path),
			    path, (int)n, end + 3);
		}
		return;
	}
	if (strncmp(line, "ERROR! ", 7) == 0) {
		recap_error(r, line + 7);
		return;
	}
	if (strncmp(line, "[ERROR]: ", 9) == 0) {
		recap_error(r, line + 9);
		return;
	}
	if (strncmp(line, "ansible-playbook: error: ", 25) == 0) {
		recap_error(r, line + 25);
		return;
	}
	if (strncmp(line, "PLAY RECAP", 10) == 0) {
		r->in_recap = true;
		r->seen = true;
		return;
	}
	if (!r->in_recap)
		return;
	/* "host : ok=3 changed=2 unreachable=0 failed=0 ..." */
	if (strstr(line, " : ok=") == NULL && strstr(line, ": ok=") == NULL) {
		if (line[0] != '\0')
			r->in_recap = false;
		return;
	}
	r->hosts++;
	r->ok += field(line, "ok");
	r->changed += field(line, "changed");
	r->unreachable += field(line, "unreachable");
	r->failed += field(line, "failed");
	r->skipped += field(line, "skipped");
	r->rescued += field(line, "rescued");
	r->ignored += field(line, "ignored");
}

void
recap_feed(struct recap *r, const char *data, size_t len)
{
	const char	*nl;
	size_t		 n;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) : len;
		if (buf_add(&r->line, data, n) != 0)
			buf_reset(&r->line);	/* a huge line: not ours */
		if (nl == NULL)
			return;
		recap_line(r, r->line.data != NULL ? r->line.data : "",
		    r->line.len);
		buf_reset(&r->line);
		data += n + 1;
		len -= n + 1;
	}
}

void
recap_finish(struct recap *r)
{
	if (r->line.len > 0)
		recap_line(r, r->line.data, r->line.len);
	buf_reset(&r->line);
}

int
recap_json(struct recap *r, const char *doc, size_t len)
{
	json_t		*j, *stats, *h;
	const char	*host;

	if ((j = json_loadb(doc, len, 0, NULL)) == NULL)
		return (-1);
	if (!json_is_object(stats = json_object_get(j, "stats"))) {
		json_decref(j);
		return (-1);
	}
	r->seen = true;
	json_object_foreach(stats, host, h) {
		r->hosts++;
		r->ok += (int)json_integer_value(json_object_get(h, "ok"));
		r->changed += (int)json_integer_value(json_object_get(h,
		    "changed"));
		r->unreachable += (int)json_integer_value(json_object_get(h,
		    "unreachable"));
		r->failed += (int)json_integer_value(json_object_get(h,
		    "failures"));
		r->skipped += (int)json_integer_value(json_object_get(h,
		    "skipped"));
		r->rescued += (int)json_integer_value(json_object_get(h,
		    "rescued"));
		r->ignored += (int)json_integer_value(json_object_get(h,
		    "ignored"));
	}
	json_decref(j);
	return (0);
}

char *
recap_summary(const struct recap *r)
{
	if (!r->seen)
		return (NULL);
	return (xasprintf("%d changed, %d failed, %d unreachable (%d ok, %d skipped) on %d host%s",
	    r->changed, r->failed, r->unreachable, r->ok, r->skipped,
	    r->hosts, r->hosts == 1 ? "" : "s"));
}

char *
recap_cause(const struct recap *r, int code)
{
	const char	*what;

	switch (code) {
	case 0:
		return (xstrdup("exited 0"));
	case 1:
		what = "error";
		break;
	case 2:
		if (r->seen)
			return (xasprintf("exited 2: %d host%s failed",
			    r->failed, r->failed == 1 ? "" : "s"));
		what = "failed, or bad command line";
		break;
	case 4:
		if (r->seen && r->unreachable > 0)
			return (xasprintf("exited 4: %d host%s unreachable%s",
			    r->unreachable, r->unreachable == 1 ? "" : "s",
			    r->failed > 0 ? ", some failed" : ""));
		what = "the playbook could not be parsed";
		break;
	case 5:
		what = "bad options";
		break;
	case 6:
		what = "arguments are not UTF-8";
		break;
	case 8:
		if (r->seen)
			return (xasprintf("exited 8: %d host%s failed and the play was stopped",
			    r->failed, r->failed == 1 ? "" : "s"));
		what = "a host failed and the play was stopped";
		break;
	case 99:
		what = "interrupted";
		break;
	case 250:
		what = "unexpected error in ansible-playbook";
		break;
	case 255:
		what = "unknown error";
		break;
	default:
		what = "error";
		break;
	}
	if (r->error != NULL && r->where != NULL)
		return (xasprintf("exited %d: %s: %s (%s)", code, what,
		    r->error, r->where));
	if (r->error != NULL)
		return (xasprintf("exited %d: %s: %s", code, what, r->error));
	return (xasprintf("exited %d: %s", code, what));
}
