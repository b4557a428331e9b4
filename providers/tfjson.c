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

static void	tfjson_add_error(struct tfjson *, char *);

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
	first = detail != NULL && *detail != '\0' ?
	    xstrndup(detail, strcspn(detail, "\n")) : NULL;
	tfjson_add_error(t, first != NULL && *first != '\0' ?
	    xasprintf("%s: %s", sum, first) : xstrdup(sum));
	free(first);
}

static void
tfjson_add_error(struct tfjson *t, char *error)
{
	if (t->nerrors == TFJSON_MAX_ERRORS) {
		free(error);
		return;
	}
	t->errors = xreallocarray(t->errors, t->nerrors + 1,
	    sizeof *t->errors);
	t->errors[t->nerrors++] = error;
}

/*
 * Human output (init, or a tool run without -json): "Error: SUMMARY" lines,
 * maybe in a box ("│ Error: ..."), and the "Lock Info:" block of a lock
 * error ("  ID:        ...", "  Who:       ...").
 */
static void
tfjson_human(struct tfjson *t, const char *line, size_t len)
{
	char	*s = xstrndup(line, len), *p = s;

	if (strncmp(p, "\xe2\x94\x82 ", 4) == 0)	/* "│ " */
		p += 4;
	if (strncmp(p, "Error: ", 7) == 0 && p[7] != '\0') {
		t->human_lock = strstr(p, "state lock") != NULL;
		tfjson_add_error(t, xstrdup(p + 7));
	} else if (t->human_lock && strncmp(p, "  ID:", 5) == 0) {
		free(t->lock_id);
		t->lock_id = lock_field(p, "ID");
	} else if (t->human_lock && strncmp(p, "  Who:", 6) == 0) {
		free(t->lock_who);
		t->lock_who = lock_field(p, "Who");
	}
	free(s);
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
		tfjson_human(t, line, len);
		emit(line, len, arg);
		emit("\n", 1, arg);
		return;
	}
	type = jstr(j, "type");
	if ((msg = jstr(j, "@message")) != NULL) {
		emit(msg, strlen(msg), arg);
		emit("\n", 1, arg);
	} else if (type == NULL) {
		/* Not a UI message (a provider's JSON): as it is. */
		emit(line, len, arg);
		emit("\n", 1, arg);
	}
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

static const char *
tfjson_symbol(const char *action)
{
	static const struct {
		const char	*action;
		const char	*symbol;
	} symbols[] = {
		{ "create", "+" }, { "update", "~" }, { "delete", "-" },
		{ "replace", "-/+" }, { "read", "<=" },
	};
	size_t	i;

	for (i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
		if (strcmp(action, symbols[i].action) == 0)
			return (symbols[i].symbol);
	}
	return (NULL);
}

static int
tfjson_change_cmp(const void *a, const void *b)
{
	const struct tfjson_change	*x = a, *y = b;

	return (strcmp(x->address, y->address));
}

char *
tfjson_summary(const struct tfjson *t)
{
	struct tfjson_change	*sorted;
	struct buf		 b;
	const char		*sym;
	size_t			 i, shown = 0, omitted = 0;

	if (!t->have_summary)
		return (NULL);
	buf_init(&b, TFJSON_SUMMARY_MAX + 64);
	if (t->import > 0)
		buf_printf(&b, "%d to import, ", t->import);
	buf_printf(&b, "%d to add, %d to change, %d to destroy", t->add,
	    t->change, t->remove);
	/* The addresses, sorted: the plan lists them in walk order. */
	sorted = xreallocarray(NULL, t->nchanges + 1, sizeof *sorted);
	if (t->nchanges > 0) {
		memcpy(sorted, t->changes, t->nchanges * sizeof *sorted);
		qsort(sorted, t->nchanges, sizeof *sorted, tfjson_change_cmp);
	}
	for (i = 0; i < t->nchanges; i++) {
		if (strcmp(sorted[i].action, "noop") == 0)
			continue;
		if (b.len + strlen(sorted[i].address) + 8 >
		    TFJSON_SUMMARY_MAX)
			break;
		sym = tfjson_symbol(sorted[i].action);
		buf_printf(&b, "%s%s%s%s", shown == 0 ? ": " : " ",
		    sym != NULL ? sym : sorted[i].action,
		    sym != NULL ? "" : " ", sorted[i].address);
		shown++;
	}
	for (; i < t->nchanges; i++) {
		if (strcmp(sorted[i].action, "noop") != 0)
			omitted++;
	}
	omitted += t->more_changes;
	if (omitted > 0)
		buf_printf(&b, " (and %zu more)", omitted);
	free(sorted);
	return (buf_detach(&b));
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
