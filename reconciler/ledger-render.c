/*
 * What the ledger writes, rendered from the store: a deployment's status
 * as YAML (through libyaml's emitter, so that any string an output holds
 * comes out as valid YAML that reads back as the same string), the last
 * finished run's log capped with its head and tail kept, and the commit
 * message of a batch.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

#include "ledger.h"
#include "redact.h"
#include "status.h"
#include "xmalloc.h"

#define LEDGER_STATUS_MAX	(1024 * 1024)
#define LEDGER_DEPTH_MAX	32	/* of outputs written as YAML */

struct yout {
	struct buf	*b;
	int		 error;
};

static int
yout_write(void *arg, unsigned char *data, size_t len)
{
	struct yout	*o = arg;

	if (buf_add(o->b, data, len) != 0) {
		o->error = -E2BIG;
		return (0);
	}
	return (1);
}

/*
 * May the string go out plain?  Only when no YAML reader could take it
 * for anything but a string (a number, a bool, null, a date): the emitter
 * checks the syntax, not what a plain scalar would resolve to.
 */
static bool
yaml_plain_ok(const char *s)
{
	static const char *const words[] = { "null", "true", "false", "yes",
	    "no", "on", "off", "y", "n" };
	size_t	i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	    s[0] == '/' || s[0] == '_'))
		return (false);
	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return (false);
	return (true);
}

static int
yemit(yaml_emitter_t *em, yaml_event_t *ev)
{
	/* The emitter takes the event, even on failure. */
	return (yaml_emitter_emit(em, ev) ? 0 : -EIO);
}

static int
yscalar(yaml_emitter_t *em, const char *s, bool string)
{
	yaml_event_t		ev;
	yaml_scalar_style_t	style = YAML_PLAIN_SCALAR_STYLE;

	if (string && !yaml_plain_ok(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL,
	    (yaml_char_t *)(uintptr_t)s, (int)strlen(s), 1, 1, style))
		return (-ENOMEM);
	return (yemit(em, &ev));
}

static int
yjson(yaml_emitter_t *em, json_t *v, int depth)
{
	yaml_event_t	 ev;
	const char	*k;
	json_t		*x;
	size_t		 i;
	char		 num[64];
	int		 error = 0;

	if (depth > LEDGER_DEPTH_MAX)
		return (yscalar(em, "(nested too deep)", true));
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		    json_object_size(v) == 0 ? YAML_FLOW_MAPPING_STYLE :
		    YAML_BLOCK_MAPPING_STYLE) || (error = yemit(em, &ev)) != 0)
			return (error != 0 ? error : -ENOMEM);
		json_object_foreach(v, k, x) {
			if ((error = yscalar(em, k, true)) != 0 ||
			    (error = yjson(em, x, depth + 1)) != 0)
				return (error);
		}
		if (!yaml_mapping_end_event_initialize(&ev))
			return (-ENOMEM);
		return (yemit(em, &ev));
	case JSON_ARRAY:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		    json_array_size(v) == 0 ? YAML_FLOW_SEQUENCE_STYLE :
		    YAML_BLOCK_SEQUENCE_STYLE) || (error = yemit(em, &ev)) != 0)
			return (error != 0 ? error : -ENOMEM);
		json_array_foreach(v, i, x) {
			if ((error = yjson(em, x, depth + 1)) != 0)
				return (error);
		}
		if (!yaml_sequence_end_event_initialize(&ev))
			return (-ENOMEM);
		return (yemit(em, &ev));
	case JSON_STRING:
		return (yscalar(em, json_string_value(v), true));
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return (yscalar(em, num, false));
	case JSON_REAL:
		snprintf(num, sizeof num, "%.17g", json_real_value(v));
		return (yscalar(em, num, strchr(num, 'n') != NULL ||
		    strchr(num, 'i') != NULL));	/* nan, inf: as strings */
	case JSON_TRUE:
		return (yscalar(em, "true", false));
	case JSON_FALSE:
		return (yscalar(em, "false", false));
	default:
		return (yscalar(em, "null", false));
	}
}

/* One YAML document of v (an object), after a comment line. */
static int
ledger_yaml(json_t *v, const char *comment, struct buf *out)
{
	yaml_emitter_t	 em;
	yaml_event_t	 ev;
	struct yout	 o = { out, 0 };
	int		 error = -ENOMEM;

	if (buf_printf(out, "# %s\n", comment) != 0)
		return (-E2BIG);
	if (!yaml_emitter_initialize(&em))
		return (-ENOMEM);
	yaml_emitter_set_output(&em, yout_write, &o);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    (error = yemit(&em, &ev)) != 0)
		goto out;
	if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    (error = yemit(&em, &ev)) != 0)
		goto out;
	if ((error = yjson(&em, v, 0)) != 0)
		goto out;
	if (!yaml_document_end_event_initialize(&ev, 1) ||
	    (error = yemit(&em, &ev)) != 0)
		goto out;
	if (!yaml_stream_end_event_initialize(&ev) ||
	    (error = yemit(&em, &ev)) != 0)
		goto out;
	if (!yaml_emitter_flush(&em))
		error = -EIO;
out:
	yaml_emitter_delete(&em);
	if (o.error != 0)
		error = o.error;
	return (error);
}

/*
 * The outputs as stored (secret values already "***"), without the
 * secret ones: the ledger carries non-secret outputs only.
 */
static json_t *
ledger_outputs(const char *stored)
{
	json_t		*all, *v;
	const char	*k;
	void		*tmp;

	if (stored == NULL || (all = json_loads(stored, 0, NULL)) == NULL ||
	    !json_is_object(all)) {
		if (stored != NULL && all != NULL)
			json_decref(all);
		return (json_object());
	}
	json_object_foreach_safe(all, tmp, k, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), REDACT_MARK) == 0)
			json_object_del(all, k);
	}
	return (all);
}

/* The deployment's newest finished run, or -ENOENT. */
static int
ledger_last_run(struct store *s, int64_t deployment_id, struct store_run *out)
{
	struct store_run	*v;
	size_t			 n, i;
	int			 error;

	/* At most one run is active: the newest two hold a finished one. */
	if ((error = store_run_list(s, deployment_id, 2, &v, &n)) != 0)
		return (error);
	error = -ENOENT;
	for (i = 0; i < n; i++) {
		if (error != 0 && store_run_state_final(v[i].state)) {
			*out = v[i];
			memset(&v[i], 0, sizeof v[i]);
			error = 0;
		}
		store_run_release(&v[i]);
	}
	free(v);
	return (error);
}

int
ledger_render_status(struct store *s, const struct store_deployment *d,
    struct buf *out, int64_t *run)
{
	struct store_run	 r;
	struct buf		 b;
	json_t			*v, *last = NULL;
	char			*comment;
	int			 error;

	*run = 0;
	if (ledger_last_run(s, d->id, &r) == 0) {
		*run = r.id;
		last = status_json_last_run(&r);
		store_run_release(&r);
	}
	v = status_json_deployment(s, d, last, ledger_outputs(d->outputs));
	if (v == NULL)
		return (-ENOMEM);
	comment = xasprintf("Status of deployment %s, written by cloudsphered"
	    " (cloudspherectl show %s --json has the same fields).", d->name,
	    d->name);
	buf_init(&b, LEDGER_STATUS_MAX);
	if ((error = ledger_yaml(v, comment, &b)) == -E2BIG) {
		/* Outputs too big for a status file: the rest still goes. */
		json_object_set_new(v, "outputs", json_pack("{ss}", "_",
		    "outputs left out: over 1 MiB"));
		buf_reset(&b);
		error = ledger_yaml(v, comment, &b);
	}
	if (error == 0)
		error = buf_add(out, b.data, b.len);
	buf_release(&b);
	free(comment);
	json_decref(v);
	return (error);
}

/* Where to cut: at a line end near the limit, else at the limit. */
static size_t
ledger_cut_head(const char *p, size_t len)
{
	size_t	i;

	for (i = len; i > 0 && len - i < 4096; i--)
		if (p[i - 1] == '\n')
			return (i);
	return (len);
}

static size_t
ledger_cut_tail(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len && i < 4096; i++)
		if (p[i] == '\n')
			return (i + 1);
	return (0);
}

int
ledger_render_log(struct store *s, int64_t run, size_t max, struct buf *out)
{
	struct buf	 head, tail, chunk;
	int64_t		 seq = 0, last;
	size_t		 total = 0, hmax, tmax, room, h, t, skipped;
	char		 marker[160];
	int		 error = 0, n;

	/*
	 * The first hmax bytes and the last tmax: all of the log when it
	 * fits in max, else head, marker and tail within max.
	 */
	hmax = max / 4 < LEDGER_LOG_HEAD ? max / 4 : LEDGER_LOG_HEAD;
	tmax = max - hmax;
	buf_init(&head, hmax + 1);
	buf_init(&tail, tmax + 1);
	buf_init(&chunk, STORE_LOG_CHUNK * 2 + 1);
	for (;;) {
		const char	*p;
		size_t		 len, take;

		buf_reset(&chunk);
		if ((error = store_log_read(s, run, seq, STORE_LOG_CHUNK,
		    &chunk, &last)) != 0 || last == seq)
			break;
		seq = last;
		p = chunk.data;
		len = chunk.len;
		total += len;
		take = len < hmax - head.len ? len : hmax - head.len;
		buf_add(&head, p, take);
		p += take;
		len -= take;
		if (len >= tmax) {
			buf_reset(&tail);
			buf_add(&tail, p + len - tmax, tmax);
		} else if (len > 0) {
			if (tail.len + len > tmax) {
				size_t drop = tail.len + len - tmax;

				memmove(tail.data, tail.data + drop,
				    tail.len - drop);
				tail.len -= drop;
			}
			buf_add(&tail, p, len);
		}
	}
	if (error == 0 && total <= max) {
		error = buf_add(out, head.data, head.len);
		if (error == 0)
			error = buf_add(out, tail.data, tail.len);
	} else if (error == 0) {
		/* Room for the marker comes out of the tail. */
		room = (size_t)snprintf(marker, sizeof marker, "\n[cloudsphere:"
		    " %zu bytes of this log left out here; cloudspherectl log"
		    " %lld has them all]\n", total, (long long)run);
		t = room < tail.len ? room : tail.len;
		/* Whole lines on both sides of the marker, when near. */
		h = ledger_cut_head(head.data, head.len);
		t += ledger_cut_tail(tail.data + t, tail.len - t);
		skipped = total - h - (tail.len - t);
		n = snprintf(marker, sizeof marker, "\n[cloudsphere: %zu bytes"
		    " of this log left out here; cloudspherectl log %lld has"
		    " them all]\n", skipped, (long long)run);
		if ((error = buf_add(out, head.data, h)) == 0 &&
		    (error = buf_add(out, marker, (size_t)n)) == 0)
			error = buf_add(out, tail.data + t, tail.len - t);
	}
	buf_release(&head);
	buf_release(&tail);
	buf_release(&chunk);
	return (error);
}

char *
ledger_message(char *const *lines, size_t n)
{
	struct buf	 b;
	size_t		 i, shown;
	char		*name, *colon;

	buf_init(&b, 64 * 1024 + 1024);
	if (n == 1) {
		buf_printf(&b, "%s\n", lines[0]);
		return (buf_detach(&b));
	}
	/* A summary that stays short, then one line per deployment. */
	buf_printf(&b, "%zu deployments:", n);
	for (shown = 0; shown < n; shown++) {
		name = xstrdup(lines[shown]);
		if ((colon = strchr(name, ':')) != NULL)
			*colon = '\0';
		if (b.len + strlen(name) + 2 > 60 && shown > 0) {
			free(name);
			break;
		}
		buf_printf(&b, "%s %s", shown > 0 ? "," : "", name);
		free(name);
	}
	if (shown < n)
		buf_printf(&b, " and %zu more", n - shown);
	buf_addstr(&b, "\n\n");
	for (i = 0; i < n; i++)
		if (buf_printf(&b, "%s\n", lines[i]) != 0)
			break;
	return (buf_detach(&b));
}
