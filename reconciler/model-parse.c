/*
 * Decoding the four kinds of file of a config repository from YAML trees.
 * Everything checked here depends on the file's bytes alone (keys, types,
 * names, durations, expressions), so a parsed document can be cached by its
 * Git object id and shared by every file with the same contents.  Checks
 * that need other files are in model-link.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model-int.h"
#include "xmalloc.h"
#include "ydoc.h"

static void
doc_err(struct mdoc *d, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
doc_err(struct mdoc *d, int line, const char *fmt, ...)
{
	va_list	ap;

	d->diags = xreallocarray(d->diags, d->ndiags + 1, sizeof *d->diags);
	d->diags[d->ndiags].line = line > 0 ? line : 1;
	va_start(ap, fmt);
	d->diags[d->ndiags].message = xvasprintf(fmt, ap);
	va_end(ap);
	d->ndiags++;
}

static void	strv_free(char **, size_t);

/*
 * Edit distance with adjacent transpositions (optimal string alignment),
 * for "did you mean": "regoin" is one step from "region".
 */
size_t
model_edit_distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, best, *d;

	if (la > 64 || lb > 64)
		return (SIZE_MAX);
#define D(i, j) d[(i) * (lb + 1) + (j)]
	d = xcalloc((la + 1) * (lb + 1), sizeof *d);
	for (i = 0; i <= la; i++)
		D(i, 0) = i;
	for (j = 0; j <= lb; j++)
		D(0, j) = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			best = D(i - 1, j - 1) + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (D(i - 1, j) + 1 < best)
				best = D(i - 1, j) + 1;
			if (D(i, j - 1) + 1 < best)
				best = D(i, j - 1) + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && D(i - 2, j - 2) + 1 < best)
				best = D(i - 2, j - 2) + 1;
			D(i, j) = best;
		}
	}
	best = D(la, lb);
#undef D
	free(d);
	return (best);
}

/* Report keys of a mapping that are not in the NULL-terminated list. */
static void
doc_keys(struct mdoc *d, const struct ynode *map, const char *what,
    const char *const *known)
{
	size_t	i, j, best, dist;

	for (i = 0; i < map->n; i++) {
		const char *key = map->keys[i]->text;

		for (j = 0; known[j] != NULL; j++) {
			if (strcmp(key, known[j]) == 0)
				break;
		}
		if (known[j] != NULL)
			continue;
		best = SIZE_MAX;
		for (j = 0; known[j] != NULL; j++) {
			dist = model_edit_distance(key, known[j]);
			if (dist <= 2 && (best == SIZE_MAX ||
			    dist < model_edit_distance(key, known[best])))
				best = j;
		}
		if (best != SIZE_MAX)
			doc_err(d, map->keys[i]->line,
			    "unknown key '%s' in %s (did you mean '%s'?)", key,
			    what, known[best]);
		else
			doc_err(d, map->keys[i]->line, "unknown key '%s' in %s",
			    key, what);
	}
}

static int
key_line(const struct ynode *map, const char *key)
{
	size_t	i;

	for (i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i]->text, key) == 0)
			return (map->keys[i]->line);
	}
	return (map->line);
}

static bool
is_null(const struct ynode *n)
{
	return (n == NULL || (n->kind == YNODE_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->text, "null") == 0 ||
	    strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0 ||
	    strcmp(n->text, "~") == 0)));
}

/* YAML 1.2 core schema booleans. */
static int
scalar_bool(const struct ynode *n)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };
	size_t	i;

	if (n->kind != YNODE_SCALAR || !n->plain)
		return (-1);
	for (i = 0; i < 3; i++) {
		if (strcmp(n->text, t[i]) == 0)
			return (1);
		if (strcmp(n->text, f[i]) == 0)
			return (0);
	}
	return (-1);
}

/* A plain scalar as a JSON number, or NULL if it is not one. */
static json_t *
scalar_number(const struct ynode *n, bool *range)
{
	const char	*s = n->text;
	char		*end;
	long long	 ll;
	double		 d;
	int		 base = 10;

	*range = false;
	if (n->kind != YNODE_SCALAR || !n->plain || n->len == 0)
		return (NULL);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && s[2] != '\0') {
		base = s[1] == 'x' ? 16 : 8;
		s += 2;
		for (end = (char *)s; *end != '\0'; end++) {
			if (base == 16 ? !isxdigit((unsigned char)*end) :
			    (*end < '0' || *end > '7'))
				return (NULL);
		}
	} else {
		const char *p = s;

		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p) && !(*p == '.' &&
		    isdigit((unsigned char)p[1])))
			return (NULL);
		for (; *p != '\0'; p++) {
			if (!isdigit((unsigned char)*p) && *p != '.' &&
			    *p != 'e' && *p != 'E' && *p != '-' && *p != '+')
				return (NULL);
		}
	}
	errno = 0;
	ll = strtoll(s, &end, base);
	if (*end == '\0') {
		if (errno == ERANGE) {
			*range = true;
			return (NULL);
		}
		return (json_integer(ll));
	}
	if (base != 10)
		return (NULL);
	errno = 0;
	d = strtod(s, &end);
	if (*end != '\0')
		return (NULL);
	if (errno == ERANGE) {
		*range = true;
		return (NULL);
	}
	return (json_real(d));
}

/* Check the expressions of every string in a value. */
static void
doc_check_exprs(struct mdoc *d, const struct ynode *n, struct mvalue *mv)
{
	struct expr_list	 l;
	size_t			 i;
	char			*cause;

	switch (n->kind) {
	case YNODE_SCALAR:
		if (!expr_maybe(n->text))
			return;
		if (expr_scan(n->text, &l, &cause) != 0) {
			doc_err(d, n->line, "%s", cause);
			free(cause);
		} else
			expr_list_release(&l);
		if (mv != NULL && n->line != mv->line) {
			mv->lines = xreallocarray(mv->lines, mv->nlines + 1,
			    sizeof *mv->lines);
			mv->lines[mv->nlines].text = xstrdup(n->text);
			mv->lines[mv->nlines++].line = n->line;
		}
		break;
	case YNODE_SEQ:
	case YNODE_MAP:
		for (i = 0; i < n->n; i++)
			doc_check_exprs(d, n->items[i], mv);
		break;
	}
}

/* The line of a string holding an expression in a value. */
int
mvalue_line(const struct mvalue *mv, const char *text, int fallback)
{
	size_t	i;

	if (mv == NULL)
		return (fallback);
	for (i = 0; i < mv->nlines; i++) {
		if (strcmp(mv->lines[i].text, text) == 0)
			return (mv->lines[i].line);
	}
	return (fallback);
}

/* A YAML value as JSON with the core schema; NULL after an error. */
static json_t *
doc_value(struct mdoc *d, const struct ynode *n)
{
	json_t	*v, *item;
	size_t	 i;
	int	 b;
	bool	 range;

	switch (n->kind) {
	case YNODE_SCALAR:
		if (is_null(n))
			return (json_null());
		if ((b = scalar_bool(n)) != -1)
			return (json_boolean(b));
		if ((v = scalar_number(n, &range)) != NULL)
			return (v);
		if (range) {
			doc_err(d, n->line, "number '%s' is out of range",
			    n->text);
			return (NULL);
		}
		if ((v = json_stringn(n->text, n->len)) == NULL)
			doc_err(d, n->line, "string is not valid UTF-8");
		return (v);
	case YNODE_SEQ:
		v = json_array();
		for (i = 0; i < n->n; i++) {
			if ((item = doc_value(d, n->items[i])) == NULL) {
				json_decref(v);
				return (NULL);
			}
			json_array_append_new(v, item);
		}
		return (v);
	case YNODE_MAP:
		v = json_object();
		for (i = 0; i < n->n; i++) {
			if ((item = doc_value(d, n->items[i])) == NULL) {
				json_decref(v);
				return (NULL);
			}
			json_object_set_new(v, n->keys[i]->text, item);
		}
		return (v);
	}
	return (NULL);
}

static const char *
value_kind(const struct ynode *n)
{
	if (is_null(n))
		return ("null");
	if (n->kind != YNODE_SCALAR)
		return (n->kind == YNODE_SEQ ? "a list" : "a mapping");
	if (scalar_bool(n) != -1)
		return ("a boolean");
	if (n->plain) {
		bool	 range;
		json_t	*num = scalar_number(n, &range);

		if (num != NULL || range) {
			json_decref(num);
			return ("a number");
		}
	}
	return ("a string");
}

/* A string-valued key; NULL if absent, null or wrong (reported). */
static char *
doc_string(struct mdoc *d, const struct ynode *map, const char *key,
    int *line)
{
	const struct ynode	*n = ynode_get(map, key);

	if (line != NULL)
		*line = key_line(map, key);
	if (is_null(n))
		return (NULL);
	if (n->kind != YNODE_SCALAR || scalar_bool(n) != -1 ||
	    (n->plain && strcmp(value_kind(n), "a number") == 0)) {
		doc_err(d, n->line, "'%s' must be a string, got %s", key,
		    value_kind(n));
		return (NULL);
	}
	if (expr_maybe(n->text))
		doc_err(d, n->line,
		    "expressions are only evaluated in inputs and runner.env, not in '%s'",
		    key);
	return (xstrdup(n->text));
}

static char *
doc_name(struct mdoc *d, const struct ynode *map, const char *key, int *line,
    const char *what)
{
	char	*s = doc_string(d, map, key, line);

	if (s != NULL && !model_name_valid(s)) {
		doc_err(d, *line,
		    "invalid %s name '%s' (lowercase letters, digits and '-', at most %d, starting with a letter or digit)",
		    what, s, MODEL_NAME_MAX);
		free(s);
		return (NULL);
	}
	return (s);
}

static int
doc_bool(struct mdoc *d, const struct ynode *map, const char *key)
{
	const struct ynode	*n = ynode_get(map, key);
	int			 b;

	if (is_null(n))
		return (POLICY_UNSET);
	if ((b = scalar_bool(n)) == -1) {
		doc_err(d, n->line, "'%s' must be true or false, got %s%s%s%s",
		    key, value_kind(n), n->kind == YNODE_SCALAR ? " '" : "",
		    n->kind == YNODE_SCALAR ? n->text : "",
		    n->kind == YNODE_SCALAR ? "'" : "");
		return (POLICY_UNSET);
	}
	return (b);
}

static const struct ynode *
doc_map(struct mdoc *d, const struct ynode *map, const char *key)
{
	const struct ynode	*n = ynode_get(map, key);

	if (is_null(n))
		return (NULL);
	if (n->kind != YNODE_MAP) {
		doc_err(d, n->line, "'%s' must be a mapping, got %s", key,
		    value_kind(n));
		return (NULL);
	}
	return (n);
}

static const struct ynode *
doc_seq(struct mdoc *d, const struct ynode *map, const char *key)
{
	const struct ynode	*n = ynode_get(map, key);

	if (is_null(n))
		return (NULL);
	if (n->kind != YNODE_SEQ) {
		doc_err(d, n->line, "'%s' must be a list, got %s", key,
		    value_kind(n));
		return (NULL);
	}
	return (n);
}

/* A duration key in seconds; POLICY_UNSET if absent or wrong. */
static long
doc_duration(struct mdoc *d, const struct ynode *map, const char *key,
    long min, long max, bool allow_off)
{
	const struct ynode	*n = ynode_get(map, key);
	long			 secs;

	if (is_null(n))
		return (POLICY_UNSET);
	if (n->kind != YNODE_SCALAR) {
		doc_err(d, n->line, "'%s' must be a duration such as 30s, 10m or 1h30m, got %s",
		    key, value_kind(n));
		return (POLICY_UNSET);
	}
	if (allow_off && (strcmp(n->text, "0") == 0 ||
	    strcmp(n->text, "off") == 0))
		return (0);
	secs = model_duration(n->text);
	if (secs < 0) {
		doc_err(d, n->line,
		    "invalid duration '%s' for '%s' (expected e.g. 30s, 10m, 1h30m, 2d)",
		    n->text, key);
		return (POLICY_UNSET);
	}
	if (secs < min || secs > max) {
		doc_err(d, n->line, "'%s' must be between %lds and %ldd%s, got '%s'",
		    key, min, max / 86400, allow_off ? " (or 0 for off)" : "",
		    n->text);
		return (POLICY_UNSET);
	}
	return (secs);
}

static void
doc_policy(struct mdoc *d, const struct ynode *root, struct policy *p)
{
	static const char *const keys[] = { "approval", "prune",
	    "drift_check", "drift", NULL };
	const struct ynode	*map = doc_map(d, root, "policy");
	char			*s;
	int			 line;

	p->approval = p->prune = p->drift = POLICY_UNSET;
	p->drift_check = POLICY_UNSET;
	if (map == NULL)
		return;
	doc_keys(d, map, "policy", keys);
	if ((s = doc_string(d, map, "approval", &line)) != NULL) {
		if (strcmp(s, "auto") == 0)
			p->approval = APPROVAL_AUTO;
		else if (strcmp(s, "manual") == 0)
			p->approval = APPROVAL_MANUAL;
		else
			doc_err(d, line,
			    "invalid approval '%s' (expected auto or manual)", s);
		free(s);
	}
	p->prune = doc_bool(d, map, "prune");
	p->drift_check = doc_duration(d, map, "drift_check", 1, 7 * 86400,
	    true);
	if ((s = doc_string(d, map, "drift", &line)) != NULL) {
		if (strcmp(s, "detect") == 0)
			p->drift = DRIFT_DETECT;
		else if (strcmp(s, "correct") == 0)
			p->drift = DRIFT_CORRECT;
		else
			doc_err(d, line,
			    "invalid drift '%s' (expected detect or correct)", s);
		free(s);
	}
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most 255. */
static bool
env_name_valid(const char *name)
{
	const char	*p;

	if (name[0] == '\0' || isdigit((unsigned char)name[0]) ||
	    strlen(name) > 255)
		return (false);
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_')
			return (false);
	}
	return (true);
}

/*
 * A map of input values (environment, template, deployment) or, with env,
 * of environment variables (runner.env: names are variable names and every
 * value is a string).
 */
static void
doc_values(struct mdoc *d, const struct ynode *root, const char *key,
    struct mvalues *out, int *line, bool env)
{
	const struct ynode	*map = doc_map(d, root, key);
	size_t			 i;

	out->v = NULL;
	out->n = 0;
	if (line != NULL)
		*line = key_line(root, key);
	if (map == NULL)
		return;
	if (map->n > MODEL_MAX_INPUTS) {
		doc_err(d, map->line, "more than %d entries in '%s'",
		    MODEL_MAX_INPUTS, key);
		return;
	}
	out->v = xcalloc(map->n, sizeof *out->v);
	for (i = 0; i < map->n; i++) {
		const char	*name = map->keys[i]->text;
		json_t		*v;

		if (env && !env_name_valid(name)) {
			doc_err(d, map->keys[i]->line,
			    "invalid environment variable name '%s'", name);
			continue;
		}
		if (env && strncmp(name, "CLOUDSPHERE_", 12) == 0) {
			doc_err(d, map->keys[i]->line,
			    "environment variable '%s' is reserved for Cloudsphere",
			    name);
			continue;
		}
		if (!env && !model_input_name_valid(name)) {
			doc_err(d, map->keys[i]->line,
			    "invalid input name '%s' (letters, digits, '_' and '-', starting with a letter or '_')",
			    name);
			continue;
		}
		if ((v = doc_value(d, map->items[i])) == NULL)
			continue;
		if (env && !json_is_string(v)) {
			doc_err(d, map->items[i]->line,
			    "runner.env '%s' must be a string (quote numbers and booleans)",
			    name);
			json_decref(v);
			continue;
		}
		if (json_is_null(v)) {
			doc_err(d, map->items[i]->line,
			    "input '%s' has no value (null)", name);
			json_decref(v);
			continue;
		}
		out->v[out->n].name = xstrdup(name);
		out->v[out->n].value = v;
		out->v[out->n].line = map->keys[i]->line;
		doc_check_exprs(d, map->items[i], &out->v[out->n]);
		out->n++;
	}
}

static void
mvalues_release(struct mvalues *m)
{
	size_t	i, j;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].name);
		json_decref(m->v[i].value);
		for (j = 0; j < m->v[i].nlines; j++)
			free(m->v[i].lines[j].text);
		free(m->v[i].lines);
	}
	free(m->v);
}

static bool
input_type_parse(const char *s, enum input_type *out)
{
	static const struct {
		const char	*name;
		enum input_type	 type;
	} types[] = {
		{ "string", INPUT_STRING }, { "number", INPUT_NUMBER },
		{ "bool", INPUT_BOOL }, { "list", INPUT_LIST },
		{ "map", INPUT_MAP },
	};
	size_t	i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (strcmp(s, types[i].name) == 0) {
			*out = types[i].type;
			return (true);
		}
	}
	return (false);
}

static bool
json_has_type(const json_t *v, enum input_type t)
{
	switch (t) {
	case INPUT_STRING:
		return (json_is_string(v));
	case INPUT_NUMBER:
		return (json_is_number(v));
	case INPUT_BOOL:
		return (json_is_boolean(v));
	case INPUT_LIST:
		return (json_is_array(v));
	case INPUT_MAP:
		return (json_is_object(v));
	}
	return (false);
}

static void
blueprint_input(struct blueprint_doc *bp, const char *name,
    const struct ynode *key, const struct ynode *n)
{
	static const char *const keys[] = { "type", "default", "required",
	    "secret", "description", NULL };
	struct mdoc		*d = &bp->hdr;
	struct input_decl	*in = &bp->inputs[bp->ninputs];
	char			*type;
	int			 line, b;

	memset(in, 0, sizeof *in);
	in->line = key->line;
	in->type = INPUT_STRING;
	if (!model_input_name_valid(name)) {
		doc_err(d, key->line,
		    "invalid input name '%s' (letters, digits, '_' and '-', starting with a letter or '_')",
		    name);
		return;
	}
	if (n->kind == YNODE_SCALAR && !is_null(n)) {
		/* Shorthand: "name: TYPE". */
		if (!input_type_parse(n->text, &in->type)) {
			doc_err(d, n->line,
			    "input '%s': unknown type '%s' (expected string, number, bool, list or map)",
			    name, n->text);
			return;
		}
		in->name = xstrdup(name);
		bp->ninputs++;
		return;
	}
	if (!is_null(n) && n->kind != YNODE_MAP) {
		doc_err(d, n->line,
		    "input '%s' must be a mapping (type, default, required, secret, description) or a type name",
		    name);
		return;
	}
	if (is_null(n)) {
		in->name = xstrdup(name);
		bp->ninputs++;
		return;
	}
	doc_keys(d, n, "an input declaration", keys);
	if ((type = doc_string(d, n, "type", &line)) != NULL) {
		if (!input_type_parse(type, &in->type))
			doc_err(d, line,
			    "input '%s': unknown type '%s' (expected string, number, bool, list or map)",
			    name, type);
		free(type);
	}
	in->required = (b = doc_bool(d, n, "required")) == 1;
	in->secret = (b = doc_bool(d, n, "secret")) == 1;
	in->description = doc_string(d, n, "description", NULL);
	if (ynode_get(n, "default") != NULL) {
		const struct ynode *dn = ynode_get(n, "default");

		in->def = doc_value(d, dn);
		if (in->def != NULL && json_is_null(in->def)) {
			json_decref(in->def);
			in->def = NULL;
		}
		if (in->def != NULL) {
			if (in->required)
				doc_err(d, dn->line,
				    "input '%s': a required input cannot have a default",
				    name);
			else if (in->secret)
				doc_err(d, dn->line,
				    "input '%s': a secret input cannot have a default (secrets never come from Git)",
				    name);
			else if (!json_has_type(in->def, in->type))
				doc_err(d, dn->line,
				    "input '%s': default must be %s, got %s",
				    name, input_type_name(in->type),
				    value_kind(dn));
			doc_check_exprs(d, dn, NULL);
		}
	}
	in->name = xstrdup(name);
	bp->ninputs++;
}

static char *
doc_relpath(struct mdoc *d, const struct ynode *map, const char *key,
    int *line, const char *what)
{
	char	*s = doc_string(d, map, key, line);

	if (s == NULL)
		return (NULL);
	if (s[0] == '\0' || s[0] == '/') {
		doc_err(d, *line, "%s '%s' must be a path relative to the blueprint folder",
		    what, s);
		free(s);
		return (NULL);
	}
	return (s);
}

static void
blueprint_parse(struct blueprint_doc *bp, const struct ynode *root)
{
	static const char *const keys[] = { "description", "provider",
	    "inputs", "outputs", "timeouts", "ansible", "script", "terraform",
	    NULL };
	static const char *const tkeys[] = { "plan", "apply", "destroy", NULL };
	static const char *const akeys[] = { "playbook", "inventory",
	    "destroy_playbook", NULL };
	static const char *const skeys[] = { "command", NULL };
	static const char *const nokeys[] = { NULL };
	struct mdoc		*d = &bp->hdr;
	const struct ynode	*n, *sect;
	char			*s;
	size_t			 i;
	int			 line, a;
	bool			 reported;

	doc_keys(d, root, "a blueprint", keys);
	bp->description = doc_string(d, root, "description", NULL);
	if ((s = doc_string(d, root, "provider", &line)) == NULL) {
		if ((n = ynode_get(root, "provider")) == NULL || is_null(n))
			doc_err(d, n != NULL ? n->line : 1,
			    "missing required key 'provider' (%s)",
			    provider_names());
		d->usable = false;
	} else if ((bp->provider = provider_find(s)) == NULL) {
		doc_err(d, line, "unknown provider '%s' (expected %s)", s,
		    provider_names());
		d->usable = false;
	}
	free(s);

	if ((n = doc_map(d, root, "inputs")) != NULL) {
		if (n->n > MODEL_MAX_INPUTS)
			doc_err(d, n->line, "more than %d inputs",
			    MODEL_MAX_INPUTS);
		else {
			bp->inputs = xcalloc(n->n, sizeof *bp->inputs);
			for (i = 0; i < n->n; i++)
				blueprint_input(bp, n->keys[i]->text,
				    n->keys[i], n->items[i]);
		}
	}
	if ((n = doc_seq(d, root, "outputs")) != NULL) {
		bp->outputs = xcalloc(n->n, sizeof *bp->outputs);
		for (i = 0; i < n->n; i++) {
			const struct ynode *o = n->items[i];
			size_t j;

			if (o->kind != YNODE_SCALAR ||
			    !model_input_name_valid(o->text)) {
				doc_err(d, o->line, "invalid output name%s%s%s",
				    o->kind == YNODE_SCALAR ? " '" : "",
				    o->kind == YNODE_SCALAR ? o->text : "",
				    o->kind == YNODE_SCALAR ? "'" : "");
				continue;
			}
			for (j = 0; j < bp->noutputs; j++) {
				if (strcmp(bp->outputs[j], o->text) == 0)
					break;
			}
			if (j < bp->noutputs) {
				doc_err(d, o->line, "output '%s' is listed twice",
				    o->text);
				continue;
			}
			bp->outputs[bp->noutputs++] = xstrdup(o->text);
		}
	}

	for (a = 0; a < PROVIDER_NACTIONS; a++)
		bp->timeout[a] = bp->provider != NULL ?
		    bp->provider->default_timeout[a] : 1800;
	if ((n = doc_map(d, root, "timeouts")) != NULL) {
		doc_keys(d, n, "timeouts", tkeys);
		for (a = 0; a < PROVIDER_NACTIONS; a++) {
			long t = doc_duration(d, n, tkeys[a], 1, 7 * 86400,
			    false);

			if (t != POLICY_UNSET)
				bp->timeout[a] = t;
		}
	}

	/* Provider sections: only the blueprint's own provider's. */
	for (i = 0; i < root->n; i++) {
		const char		*key = root->keys[i]->text;
		const struct provider	*p = provider_by_section(key);

		if (p == NULL || bp->provider == NULL)
			continue;
		if (strcmp(bp->provider->section, key) != 0)
			doc_err(d, root->keys[i]->line,
			    "'%s' settings apply to provider %s only, this blueprint uses %s",
			    key, p->kind == PROVIDER_TERRAFORM ? "terraform or tofu" :
			    p->name, bp->provider->name);
	}
	if ((sect = doc_map(d, root, "terraform")) != NULL)
		doc_keys(d, sect, "terraform settings", nokeys);
	if ((sect = doc_map(d, root, "ansible")) != NULL) {
		doc_keys(d, sect, "ansible settings", akeys);
		bp->playbook = doc_relpath(d, sect, "playbook",
		    &bp->playbook_line, "ansible.playbook");
		bp->inventory = doc_relpath(d, sect, "inventory",
		    &bp->inventory_line, "ansible.inventory");
		bp->destroy_playbook = doc_relpath(d, sect, "destroy_playbook",
		    &bp->destroy_line, "ansible.destroy_playbook");
	}
	if (bp->provider != NULL && bp->provider->kind == PROVIDER_ANSIBLE &&
	    bp->playbook == NULL && (sect == NULL ||
	    ynode_get(sect, "playbook") == NULL))
		doc_err(d, sect != NULL ? sect->line : key_line(root, "provider"),
		    "provider ansible needs 'ansible: { playbook: FILE }'");

	sect = doc_map(d, root, "script");
	reported = false;
	if (sect != NULL) {
		doc_keys(d, sect, "script settings", skeys);
		n = ynode_get(sect, "command");
		bp->command_line = key_line(sect, "command");
		if (n != NULL && n->kind == YNODE_SEQ) {
			bp->command = xcalloc(n->n, sizeof *bp->command);
			for (i = 0; i < n->n; i++) {
				if (n->items[i]->kind != YNODE_SCALAR ||
				    is_null(n->items[i])) {
					doc_err(d, n->items[i]->line,
					    "script.command must be a list of strings");
					reported = true;
					strv_free(bp->command, bp->ncommand);
					bp->command = NULL;
					bp->ncommand = 0;
					break;
				}
				bp->command[bp->ncommand++] =
				    xstrdup(n->items[i]->text);
			}
		} else if ((s = doc_string(d, sect, "command", NULL)) != NULL) {
			bp->command = xcalloc(1, sizeof *bp->command);
			bp->command[bp->ncommand++] = s;
		} else if (n != NULL && !is_null(n))
			reported = true;	/* not a string: reported */
		if (bp->ncommand > 0 && (bp->command[0][0] == '/' ||
		    bp->command[0][0] == '\0')) {
			doc_err(d, bp->command_line,
			    "script.command '%s' must be a path relative to the blueprint folder",
			    bp->command[0]);
			strv_free(bp->command, bp->ncommand);
			bp->command = NULL;
			bp->ncommand = 0;
			reported = true;
		}
	}
	if (bp->provider != NULL && bp->provider->kind == PROVIDER_SCRIPT &&
	    bp->ncommand == 0 && !reported)
		doc_err(d, sect == NULL ? key_line(root, "provider") :
		    bp->command_line > 0 ? bp->command_line : sect->line,
		    "provider script needs 'script: { command: PATH }'");
}

static void
environment_parse(struct environment_doc *env, const struct ynode *root)
{
	static const char *const keys[] = { "description", "runner", "inputs",
	    "policy", NULL };
	static const char *const rkeys[] = { "terraform_binary", "env", NULL };
	struct mdoc		*d = &env->hdr;
	const struct ynode	*runner;
	int			 line;

	doc_keys(d, root, "an environment", keys);
	env->description = doc_string(d, root, "description", NULL);
	if ((runner = doc_map(d, root, "runner")) != NULL) {
		doc_keys(d, runner, "runner", rkeys);
		env->terraform_binary = doc_string(d, runner,
		    "terraform_binary", &line);
		if (env->terraform_binary != NULL &&
		    (env->terraform_binary[0] == '\0' ||
		    (env->terraform_binary[0] != '/' &&
		    strchr(env->terraform_binary, '/') != NULL))) {
			doc_err(d, line,
			    "runner.terraform_binary must be a command name or an absolute path, got '%s'",
			    env->terraform_binary);
		}
		doc_values(d, runner, "env", &env->env, NULL, true);
	}
	doc_values(d, root, "inputs", &env->inputs, NULL, false);
	doc_policy(d, root, &env->policy);
}

static void
template_parse(struct template_doc *t, const struct ynode *root)
{
	static const char *const keys[] = { "description", "blueprint",
	    "inputs", NULL };
	struct mdoc	*d = &t->hdr;

	doc_keys(d, root, "a template", keys);
	t->description = doc_string(d, root, "description", NULL);
	t->blueprint = doc_name(d, root, "blueprint", &t->blueprint_line,
	    "blueprint");
	doc_values(d, root, "inputs", &t->inputs, NULL, false);
}

static void
deployment_parse(struct deployment_doc *dep, const struct ynode *root)
{
	static const char *const keys[] = { "description", "blueprint",
	    "environment", "template", "inputs", "depends_on", "policy",
	    "suspended", NULL };
	struct mdoc		*d = &dep->hdr;
	const struct ynode	*n;
	size_t			 i;
	int			 b;

	doc_keys(d, root, "a deployment", keys);
	dep->description = doc_string(d, root, "description", NULL);
	dep->blueprint = doc_name(d, root, "blueprint", &dep->blueprint_line,
	    "blueprint");
	if (dep->blueprint == NULL) {
		if ((n = ynode_get(root, "blueprint")) == NULL || is_null(n))
			doc_err(d, n != NULL ? n->line : 1,
			    "missing required key 'blueprint'");
		d->usable = false;
	}
	dep->environment = doc_name(d, root, "environment",
	    &dep->environment_line, "environment");
	if (dep->environment == NULL) {
		if ((n = ynode_get(root, "environment")) == NULL || is_null(n))
			doc_err(d, n != NULL ? n->line : 1,
			    "missing required key 'environment'");
		d->usable = false;
	}
	dep->template = doc_name(d, root, "template", &dep->template_line,
	    "template");
	doc_values(d, root, "inputs", &dep->inputs, &dep->inputs_line, false);
	if ((n = doc_seq(d, root, "depends_on")) != NULL) {
		if (n->n > MODEL_MAX_DEPENDS) {
			doc_err(d, n->line, "more than %d entries in depends_on",
			    MODEL_MAX_DEPENDS);
		} else {
			dep->depends = xcalloc(n->n, sizeof *dep->depends);
			dep->depends_line = xcalloc(n->n,
			    sizeof *dep->depends_line);
			for (i = 0; i < n->n; i++) {
				const struct ynode *e = n->items[i];

				if (e->kind != YNODE_SCALAR ||
				    !model_name_valid(e->text)) {
					doc_err(d, e->line,
					    "depends_on: invalid deployment name%s%s%s",
					    e->kind == YNODE_SCALAR ? " '" : "",
					    e->kind == YNODE_SCALAR ? e->text : "",
					    e->kind == YNODE_SCALAR ? "'" : "");
					continue;
				}
				dep->depends[dep->ndepends] = xstrdup(e->text);
				dep->depends_line[dep->ndepends++] = e->line;
			}
		}
	}
	doc_policy(d, root, &dep->policy);
	b = doc_bool(d, root, "suspended");
	dep->suspended = b == 1;
}

struct mdoc *
mdoc_parse(enum mdoc_kind kind, const char *data, size_t len)
{
	struct mdoc	*d;
	struct ynode	*root = NULL;
	char		*cause;
	int		 line;
	size_t		 size;

	switch (kind) {
	case MDOC_BLUEPRINT:
		size = sizeof(struct blueprint_doc);
		break;
	case MDOC_ENVIRONMENT:
		size = sizeof(struct environment_doc);
		break;
	case MDOC_TEMPLATE:
		size = sizeof(struct template_doc);
		break;
	default:
		size = sizeof(struct deployment_doc);
		break;
	}
	d = xcalloc(1, size);
	d->kind = kind;
	d->refs = 1;
	d->usable = true;
	if (kind == MDOC_DEPLOYMENT || kind == MDOC_ENVIRONMENT) {
		struct policy *p = kind == MDOC_DEPLOYMENT ?
		    &((struct deployment_doc *)d)->policy :
		    &((struct environment_doc *)d)->policy;

		p->approval = p->prune = p->drift = POLICY_UNSET;
		p->drift_check = POLICY_UNSET;
	}

	if (ydoc_parse(&root, data, len, &cause, &line) != 0) {
		doc_err(d, line, "%s", cause);
		free(cause);
		d->usable = false;
		return (d);
	}
	if (root == NULL || is_null(root)) {
		doc_err(d, 1, "file is empty");
		d->usable = false;
		ynode_free(root);
		return (d);
	}
	if (root->kind != YNODE_MAP) {
		doc_err(d, root->line, "expected a mapping of keys, got %s",
		    value_kind(root));
		d->usable = false;
		ynode_free(root);
		return (d);
	}
	switch (kind) {
	case MDOC_BLUEPRINT:
		blueprint_parse((struct blueprint_doc *)d, root);
		break;
	case MDOC_ENVIRONMENT:
		environment_parse((struct environment_doc *)d, root);
		break;
	case MDOC_TEMPLATE:
		template_parse((struct template_doc *)d, root);
		break;
	case MDOC_DEPLOYMENT:
		deployment_parse((struct deployment_doc *)d, root);
		break;
	}
	ynode_free(root);
	return (d);
}

struct mdoc *
mdoc_ref(struct mdoc *d)
{
	d->refs++;
	return (d);
}

static void
strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
mdoc_unref(struct mdoc *d)
{
	size_t	i;

	if (d == NULL || --d->refs > 0)
		return;
	for (i = 0; i < d->ndiags; i++)
		free(d->diags[i].message);
	free(d->diags);
	switch (d->kind) {
	case MDOC_BLUEPRINT: {
		struct blueprint_doc *bp = (struct blueprint_doc *)d;

		free(bp->description);
		for (i = 0; i < bp->ninputs; i++) {
			free(bp->inputs[i].name);
			free(bp->inputs[i].description);
			json_decref(bp->inputs[i].def);
		}
		free(bp->inputs);
		strv_free(bp->outputs, bp->noutputs);
		free(bp->playbook);
		free(bp->inventory);
		free(bp->destroy_playbook);
		strv_free(bp->command, bp->ncommand);
		break;
	}
	case MDOC_ENVIRONMENT: {
		struct environment_doc *env = (struct environment_doc *)d;

		free(env->description);
		free(env->terraform_binary);
		mvalues_release(&env->env);
		mvalues_release(&env->inputs);
		break;
	}
	case MDOC_TEMPLATE: {
		struct template_doc *t = (struct template_doc *)d;

		free(t->description);
		free(t->blueprint);
		mvalues_release(&t->inputs);
		break;
	}
	case MDOC_DEPLOYMENT: {
		struct deployment_doc *dep = (struct deployment_doc *)d;

		free(dep->description);
		free(dep->blueprint);
		free(dep->environment);
		free(dep->template);
		mvalues_release(&dep->inputs);
		strv_free(dep->depends, dep->ndepends);
		free(dep->depends_line);
		break;
	}
	}
	free(d);
}

bool
model_name_valid(const char *s)
{
	size_t	i;

	if (s[0] == '\0' || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		return (false);
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= MODEL_NAME_MAX)
			return (false);
		if (!(s[i] >= 'a' && s[i] <= 'z') && !isdigit((unsigned char)s[i]) &&
		    s[i] != '-')
			return (false);
	}
	return (true);
}

bool
model_input_name_valid(const char *s)
{
	size_t	i;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return (false);
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 64 || !(isalnum((unsigned char)s[i]) || s[i] == '_' ||
		    s[i] == '-'))
			return (false);
	}
	return (true);
}

bool
model_secret_name_valid(const char *s)
{
	size_t	i;

	if (!(isalnum((unsigned char)s[0]) || s[0] == '_'))
		return (false);
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 128 || !(isalnum((unsigned char)s[i]) || s[i] == '_' ||
		    s[i] == '-'))
			return (false);
	}
	return (true);
}

long
model_duration(const char *s)
{
	long	 total = 0, n, unit;
	char	*end;

	if (*s == '\0')
		return (-1);
	while (*s != '\0') {
		if (!isdigit((unsigned char)*s))
			return (-1);
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno != 0 || n > 1000000)
			return (-1);
		switch (*end) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			return (-1);
		}
		total += n * unit;
		if (total > 365L * 86400)
			return (-1);
		s = end + 1;
	}
	return (total);
}

const char *
input_type_name(enum input_type t)
{
	switch (t) {
	case INPUT_STRING:
		return ("a string");
	case INPUT_NUMBER:
		return ("a number");
	case INPUT_BOOL:
		return ("a boolean");
	case INPUT_LIST:
		return ("a list");
	case INPUT_MAP:
		return ("a mapping");
	}
	return ("?");
}
