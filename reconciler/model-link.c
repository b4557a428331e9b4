/*
 * Linking one deployment: its blueprint, environment and template put
 * together under the input precedence (blueprint default < environment <
 * template < deployment), with types, required and secret inputs checked
 * and the expressions' references collected.  The result depends only on
 * the four documents, so it is kept in a dlink that later loads reuse while
 * none of them changed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model-int.h"
#include "model-link.h"
#include "xmalloc.h"

static void
link_err(struct dlink *l, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
link_err(struct dlink *l, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diags_addv(&l->diags, file, line, fmt, ap);
	va_end(ap);
}

struct dlink *
dlink_ref(struct dlink *l)
{
	l->nref++;
	return (l);
}

void
dlink_unref(struct dlink *l)
{
	size_t	i;

	if (l == NULL || --l->nref > 0)
		return;
	for (i = 0; i < l->ninputs; i++)
		json_decref(l->inputs[i].value);
	for (i = 0; i < l->nenv; i++)
		json_decref(l->env[i].value);
	for (i = 0; i < l->nrefs; i++) {
		free(l->refs[i].deployment);
		free(l->refs[i].output);
	}
	free(l->inputs);
	free(l->env);
	free(l->refs);
	free(l->dep_file);
	free(l->env_file);
	free(l->tmpl_file);
	free(l->bp_name);
	diags_release(&l->diags);
	mdoc_unref((struct mdoc *)&l->key.dep->hdr);
	mdoc_unref((struct mdoc *)&l->key.bp->hdr);
	if (l->key.env != NULL)
		mdoc_unref((struct mdoc *)&l->key.env->hdr);
	if (l->key.tmpl != NULL)
		mdoc_unref((struct mdoc *)&l->key.tmpl->hdr);
	free(l);
}

/* Scan a value's strings: flags and output references. */
static int
link_scan(struct dlink *l, const json_t *v, const char *file, int line,
    const struct mvalue *mv)
{
	struct expr_list	 el;
	const char		*key;
	json_t			*item;
	size_t			 i;
	int			 flags = 0;
	char			*cause;

	switch (json_typeof(v)) {
	case JSON_STRING:
		if (!expr_maybe(json_string_value(v)))
			return (0);
		if (expr_scan(json_string_value(v), &el, &cause) != 0) {
			free(cause);	/* reported when the file was parsed */
			return (RINPUT_BROKEN);
		}
		for (i = 0; i < el.n; i++) {
			struct output_ref *r;

			switch (el.v[i].kind) {
			case EXPR_SECRET:
				flags |= RINPUT_SECRET;
				break;
			case EXPR_GIT_COMMIT:
				flags |= RINPUT_COMMIT;
				break;
			case EXPR_OUTPUT:
				flags |= RINPUT_OUTPUTS;
				l->refs = xreallocarray(l->refs, l->nrefs + 1,
				    sizeof *l->refs);
				r = &l->refs[l->nrefs++];
				r->deployment = xstrdup(el.v[i].a);
				r->output = xstrdup(el.v[i].b);
				r->file = file;
				r->line = mvalue_line(mv,
				    json_string_value(v), line);
				break;
			default:
				break;
			}
		}
		expr_list_release(&el);
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, item)
			flags |= link_scan(l, item, file, line, mv);
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, item)
			flags |= link_scan(l, item, file, line, mv);
		break;
	default:
		break;
	}
	return (flags);
}

/*
 * The type a value will have: a string that is exactly one output
 * reference has the output's type, unknown until it is applied.
 */
static bool
link_type_known(const json_t *v, bool *is_string)
{
	struct expr_list	 el;
	char			*cause;
	bool			 known = true;

	*is_string = json_is_string(v);
	if (!json_is_string(v) || !expr_maybe(json_string_value(v)))
		return (true);
	if (expr_scan(json_string_value(v), &el, &cause) != 0) {
		free(cause);
		return (true);
	}
	if (expr_whole(&el) && el.v[0].kind == EXPR_OUTPUT)
		known = false;
	expr_list_release(&el);
	return (known);
}

static bool
type_matches(const json_t *v, enum input_type t)
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

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return ("a string");
	case JSON_INTEGER:
	case JSON_REAL:
		return ("a number");
	case JSON_TRUE:
	case JSON_FALSE:
		return ("a boolean");
	case JSON_ARRAY:
		return ("a list");
	case JSON_OBJECT:
		return ("a mapping");
	default:
		return ("null");
	}
}

static const struct input_decl *
decl_find(const struct blueprint_doc *bp, const char *name)
{
	size_t	i;

	for (i = 0; i < bp->ninputs; i++) {
		if (bp->inputs[i].name != NULL &&
		    strcmp(bp->inputs[i].name, name) == 0)
			return (&bp->inputs[i]);
	}
	return (NULL);
}

static const struct mvalue *
values_find(const struct mvalues *m, const char *name)
{
	size_t	i;

	for (i = 0; m != NULL && i < m->n; i++) {
		if (strcmp(m->v[i].name, name) == 0)
			return (&m->v[i]);
	}
	return (NULL);
}

/*
 * Suggest a declared input close to a misspelt one: the nearest by edit
 * distance, at most 2 and less than half the name.
 */
static const char *
decl_suggest(const struct blueprint_doc *bp, const char *name)
{
	const char	*best = NULL;
	size_t		 i, dist, bestdist = SIZE_MAX;

	for (i = 0; i < bp->ninputs; i++) {
		const char *d = bp->inputs[i].name;

		if (d == NULL)
			continue;
		dist = strcasecmp(d, name) == 0 ? 0 :
		    model_edit_distance(d, name);
		if (dist <= 2 && dist * 2 < strlen(name) && dist < bestdist) {
			best = d;
			bestdist = dist;
		}
	}
	return (best);
}

void
dlink_check_template_inputs(struct diags *out, const char *file,
    const struct template_doc *t, const char *bpname,
    const struct blueprint_doc *bp)
{
	size_t	i;

	for (i = 0; i < t->inputs.n; i++) {
		const struct mvalue	*v = &t->inputs.v[i];
		const struct input_decl	*d = decl_find(bp, v->name);
		bool			 is_string;

		if (d == NULL) {
			diags_add(out, file, v->line,
			    "input '%s' is not declared by blueprint '%s'",
			    v->name, bpname);
			continue;
		}
		if (link_type_known(v->value, &is_string) &&
		    !type_matches(v->value, d->type) &&
		    !(is_string && d->type == INPUT_STRING))
			diags_add(out, file, v->line,
			    "input '%s' must be %s, got %s", v->name,
			    input_type_name(d->type), json_kind(v->value));
	}
}

struct dlink *
dlink_build(const struct dlink_key *k, const char *dep_file,
    const char *env_file, const char *tmpl_file, const char *bp_name)
{
	const struct deployment_doc	*dd = k->dep;
	const struct blueprint_doc	*bd = k->bp;
	const struct environment_doc	*ed = k->env;
	const struct template_doc	*td = k->tmpl;
	struct dlink			*l = xcalloc(1, sizeof *l);
	size_t				 i;

	l->nref = 1;
	l->key = *k;
	/* The documents stay alive as long as results point into them. */
	mdoc_ref((struct mdoc *)&dd->hdr);
	mdoc_ref((struct mdoc *)&bd->hdr);
	if (ed != NULL)
		mdoc_ref((struct mdoc *)&ed->hdr);
	if (td != NULL)
		mdoc_ref((struct mdoc *)&td->hdr);
	l->dep_file = xstrdup(dep_file);
	l->env_file = env_file != NULL ? xstrdup(env_file) : NULL;
	l->tmpl_file = tmpl_file != NULL ? xstrdup(tmpl_file) : NULL;
	l->bp_name = xstrdup(bp_name);
	diags_init(&l->diags);

	/* Template and deployment inputs must be declared. */
	if (td != NULL && td->blueprint == NULL) {
		for (i = 0; i < td->inputs.n; i++) {
			if (decl_find(bd, td->inputs.v[i].name) == NULL)
				link_err(l, l->dep_file, dd->template_line,
				    "template '%s' sets input '%s' that blueprint '%s' does not declare",
				    dd->template, td->inputs.v[i].name, bp_name);
		}
	}
	for (i = 0; i < dd->inputs.n; i++) {
		const char *name = dd->inputs.v[i].name, *hint;

		if (decl_find(bd, name) != NULL)
			continue;
		if ((hint = decl_suggest(bd, name)) != NULL)
			link_err(l, l->dep_file, dd->inputs.v[i].line,
			    "input '%s' is not declared by blueprint '%s' (did you mean '%s'?)",
			    name, bp_name, hint);
		else
			link_err(l, l->dep_file, dd->inputs.v[i].line,
			    "input '%s' is not declared by blueprint '%s'",
			    name, bp_name);
	}

	l->inputs = xcalloc(bd->ninputs, sizeof *l->inputs);
	for (i = 0; i < bd->ninputs; i++) {
		const struct input_decl	*decl = &bd->inputs[i];
		const struct mvalue	*v;
		const json_t		*value = NULL;
		const struct mvalue	*src = NULL;
		const char		*file = NULL;
		int			 line = decl->line;
		struct rinput		*r;
		bool			 is_string;
		int			 scanned;

		if (decl->name == NULL)
			continue;
		if (decl->def != NULL)
			value = decl->def;
		if (ed != NULL && (v = values_find(&ed->inputs, decl->name))) {
			value = v->value;
			file = l->env_file;
			line = v->line;
			src = v;
		}
		if (td != NULL && (v = values_find(&td->inputs, decl->name))) {
			value = v->value;
			file = l->tmpl_file;
			line = v->line;
			src = v;
		}
		if ((v = values_find(&dd->inputs, decl->name)) != NULL) {
			value = v->value;
			file = l->dep_file;
			line = v->line;
			src = v;
		}
		if (value == NULL) {
			if (decl->required)
				link_err(l, l->dep_file, dd->inputs_line,
				    "missing required input '%s' (blueprint '%s')",
				    decl->name, bp_name);
			else if (decl->secret)
				link_err(l, l->dep_file, dd->inputs_line,
				    "missing secret input '%s' (blueprint '%s'): set it with ${{ secrets.NAME }}",
				    decl->name, bp_name);
			continue;
		}
		r = &l->inputs[l->ninputs++];
		r->decl = decl;
		r->name = decl->name;
		r->value = json_incref((json_t *)value);
		r->file = file;
		r->line = line;
		scanned = link_scan(l, value, file != NULL ? file : l->dep_file,
		    line, src);
		r->flags = scanned | (decl->secret ? RINPUT_SECRET : 0);
		if (file == NULL)
			continue;	/* a default, checked with the blueprint */
		/* A template naming its blueprint was checked on its own. */
		if (file == l->tmpl_file && td != NULL && td->blueprint != NULL)
			;
		else if (link_type_known(value, &is_string) &&
		    !type_matches(value, decl->type))
			link_err(l, file, line, "input '%s' must be %s, got %s%s%s%s",
			    decl->name, input_type_name(decl->type),
			    json_kind(value),
			    file != l->dep_file ? " (blueprint '" : "",
			    file != l->dep_file ? bp_name : "",
			    file != l->dep_file ? "')" : "");
		if (decl->secret &&
		    !(scanned & (RINPUT_SECRET | RINPUT_OUTPUTS | RINPUT_BROKEN)))
			link_err(l, file, line,
			    "secret input '%s' must be set with ${{ secrets.NAME }}, not a literal value",
			    decl->name);
	}

	/* The runner's environment variables. */
	if (ed != NULL && ed->env.n > 0) {
		l->env = xcalloc(ed->env.n, sizeof *l->env);
		for (i = 0; i < ed->env.n; i++) {
			struct rinput *r = &l->env[l->nenv++];

			r->name = ed->env.v[i].name;
			r->value = json_incref(ed->env.v[i].value);
			r->file = l->env_file;
			r->line = ed->env.v[i].line;
			r->flags = link_scan(l, r->value, l->env_file, r->line,
			    &ed->env.v[i]);
		}
	}
	return (l);
}
