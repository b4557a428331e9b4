/*
 * Reading terraform -json output line by line.  A line that is not JSON
 * (a provider printing to stdout, a crash) goes to the log as it is.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfjson.h"
#include "xmalloc.h"

void
tfjson_init(struct tfjson *t)
{
	memset(t, 0, sizeof *t);
	buf_init(&t->line, TFJSON_LINE_MAX);
}

void
tfjson_release(struct tfjson *t)
{
	size_t	i;

	buf_release(&t->line);
	for (i = 0; i < t->nchanges; i++) {
		free(t->changes[i].action);
		free(t->changes[i].address);
	}
	free(t->changes);
	for (i = 0; i < t->nerrors; i++)
		free(t->errors[i]);
	free(t->errors);
	free(t->version);
	free(t->operation);
	free(t->lock_id);
	free(t->lock_who);
	memset(t, 0, sizeof *t);
}

static const char *
jstr(const json_t *o, const char *key)
{
	const json_t	*v = json_object_get(o, key);

	return (json_is_string(v) ? json_string_value(v) : NULL);
}

/* "  Who:       root@vm" in a lock error's detail. */
static char *
lock_field(const char *detail, const char *name)
{
	const char	*p = detail, *end;
	size_t		 len = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == detail || p[-1] == ' ' || p[-1] == '\n') &&
		    p[len] == ':') {
			p += len + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			end = p + strcspn(p, "\r\n");
			return (end > p ? xstrndup(p, (size_t)(end - p)) : NULL);
		}
		p += len;
	}
	return (NULL);
}

static void
tfjson_diagnostic(struct tfjson *t, const json_t *d)
{
	const char	*sev = jstr(d, "severity"), *sum = jstr(d, "summary");
	const char	*detail = jstr(d, "detail");
	char		*first;

	if (sev == NULL || strcmp(sev, "error") != 0 || sum == NULL)
		return;
	if (strstr(sum, "state lock") != NULL && detail != NULL) {
		free(t->lock_id);
		free(t->lock_who);
		t->lock_id = lock_field(detail, "ID");
		t->lock_who = lock_field(detail, "Who");
	}
	if (t->nerrors == TFJSON_MAX_ERRORS)
		return;
	first = detail != NULL && *detail != '\0' ?
	    xstrndup(detail, strcspn(detail, "\n")) : NULL;
	t->errors = xreallocarray(t->errors, t->nerrors + 1,
	    sizeof *t->errors);
	t->errors[t->nerrors++] = first != NULL && *first != '\0' ?
	    xasprintf("%s: %s", sum, first) : xstrdup(sum);
	free(first);
}

static void
tfjson_line(struct tfjson *t, const char *line, size_t len,
    tfjson_emit_cb emit, void *arg)
{
	json_t		*j, *o;
	const char	*type, *msg;

	t->lines++;
	if (len == 0 || line[0] != '{' ||
	    (j = json_loadb(line, len, 0, NULL)) == NULL) {
		emit(line, len, arg);
		emit("\n", 1, arg);
		return;
	}
	if ((msg = jstr(j, "@message")) != NULL) {
		emit(msg, strlen(msg), arg);
		emit("\n", 1, arg);
	}
	type = jstr(j, "type");
	if (type == NULL)
		;
	else if (strcmp(type, "version") == 0) {
		free(t->version);
		t->version = jstr(j, "terraform") != NULL ?
		    xstrdup(jstr(j, "terraform")) : jstr(j, "tofu") != NULL ?
		    xstrdup(jstr(j, "tofu")) : NULL;
	} else if (strcmp(type, "planned_change") == 0 &&
	    (o = json_object_get(j, "change")) != NULL) {
		const char *action = jstr(o, "action");
		const char *addr = jstr(json_object_get(o, "resource"), "addr");

		if (action != NULL && addr != NULL) {
			if (t->nchanges == TFJSON_MAX_CHANGES)
				t->more_changes++;
			else {
				t->changes = xreallocarray(t->changes,
				    t->nchanges + 1, sizeof *t->changes);
				t->changes[t->nchanges].action =
				    xstrdup(action);
				t->changes[t->nchanges++].address =
				    xstrdup(addr);
			}
		}
	} else if (strcmp(type, "change_summary") == 0 &&
	    (o = json_object_get(j, "changes")) != NULL) {
		t->have_summary = true;
		t->add = (int)json_integer_value(json_object_get(o, "add"));
		t->change = (int)json_integer_value(json_object_get(o,
		    "change"));
		t->remove = (int)json_integer_value(json_object_get(o,
		    "remove"));
		t->import = (int)json_integer_value(json_object_get(o,
		    "import"));
		free(t->operation);
		t->operation = jstr(o, "operation") != NULL ?
		    xstrdup(jstr(o, "operation")) : NULL;
	} else if (strcmp(type, "diagnostic") == 0)
		tfjson_diagnostic(t, json_object_get(j, "diagnostic"));
	json_decref(j);
}

void
tfjson_feed(struct tfjson *t, const char *data, size_t len,
    tfjson_emit_cb emit, void *arg)
{
	const char	*nl;
	size_t		 n;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) : len;
		if (t->too_long)
			emit(data, n, arg);	/* the rest of a huge line */
		else if (buf_add(&t->line, data, n) != 0) {
			/* Longer than any JSON line we read: pass it on. */
			emit(t->line.data, t->line.len, arg);
			emit(data, n, arg);
			buf_reset(&t->line);
			t->too_long = true;
		}
		if (nl == NULL)
			return;
		if (t->too_long) {
			emit("\n", 1, arg);
			t->too_long = false;
		} else
			tfjson_line(t, t->line.data, t->line.len, emit, arg);
		buf_reset(&t->line);
		data += n + 1;
		len -= n + 1;
	}
}

void
tfjson_finish(struct tfjson *t, tfjson_emit_cb emit, void *arg)
{
	if (t->line.len > 0)
		tfjson_line(t, t->line.data, t->line.len, emit, arg);
	buf_reset(&t->line);
}

char *
tfjson_summary(const struct tfjson *t)
{
	if (!t->have_summary)
		return (NULL);
	if (t->import > 0)
		return (xasprintf("%d to import, %d to add, %d to change, %d to destroy",
		    t->import, t->add, t->change, t->remove));
	return (xasprintf("%d to add, %d to change, %d to destroy", t->add,
	    t->change, t->remove));
}

char *
tfjson_cause(const struct tfjson *t)
{
	if (t->lock_id != NULL || t->lock_who != NULL)
		return (xasprintf("the state is locked by %s (lock ID %s)",
		    t->lock_who != NULL ? t->lock_who : "someone",
		    t->lock_id != NULL ? t->lock_id : "unknown"));
	if (t->nerrors > 0)
		return (xstrdup(t->errors[0]));
	return (NULL);
}

json_t *
tfjson_json(const struct tfjson *t)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < t->nchanges; i++)
		json_array_append_new(a, json_pack("{ssss}", "action",
		    t->changes[i].action, "address", t->changes[i].address));
	return (json_pack("{sisisisisosI}", "add", t->add, "change",
	    t->change, "destroy", t->remove, "import", t->import,
	    "resources", a, "more", (json_int_t)t->more_changes));
}
