/*
 * YAML document trees with lines and limits, built from libyaml events.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "compat.h"
#include "xmalloc.h"
#include "ydoc.h"

struct anchor {
	char		*name;
	struct ynode	*node;
};

struct builder {
	yaml_parser_t	  parser;
	struct ynode	**stack;	/* open collections */
	struct ynode	**pending_key;	/* per open map: key awaiting value */
	size_t		  depth;
	struct anchor	 *anchors;
	size_t		  nanchors;
	size_t		  nodes;	/* expanded count so far */
	struct ynode	 *root;
	char		 *cause;
	int		  line;
};

static struct ynode *
ynode_new(enum ynode_kind kind, int line)
{
	struct ynode	*n = xcalloc(1, sizeof *n);

	n->kind = kind;
	n->line = line;
	n->refs = 1;
	n->weight = 1;
	return (n);
}

void
ynode_free(struct ynode *n)
{
	size_t	i;

	if (n == NULL || --n->refs > 0)
		return;
	for (i = 0; i < n->n; i++) {
		if (n->keys != NULL)
			ynode_free(n->keys[i]);
		ynode_free(n->items[i]);
	}
	free(n->keys);
	free(n->items);
	free(n->text);
	free(n);
}

struct ynode *
ynode_get(const struct ynode *map, const char *key)
{
	size_t	i;

	if (map == NULL || map->kind != YNODE_MAP)
		return (NULL);
	for (i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i]->text, key) == 0)
			return (map->items[i]);
	}
	return (NULL);
}

const char *
ynode_kind_name(const struct ynode *n)
{
	if (n == NULL)
		return ("nothing");
	switch (n->kind) {
	case YNODE_SCALAR:
		return ("a scalar");
	case YNODE_SEQ:
		return ("a list");
	case YNODE_MAP:
		return ("a mapping");
	}
	return ("?");
}

static int
builder_fail(struct builder *b, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
builder_fail(struct builder *b, int line, const char *fmt, ...)
{
	va_list	ap;

	if (b->cause == NULL) {
		va_start(ap, fmt);
		b->cause = xvasprintf(fmt, ap);
		va_end(ap);
		b->line = line;
	}
	return (-EINVAL);
}

static void
ynode_append(struct ynode *coll, struct ynode *key, struct ynode *item)
{
	coll->items = xreallocarray(coll->items, coll->n + 1, sizeof *coll->items);
	if (coll->kind == YNODE_MAP) {
		coll->keys = xreallocarray(coll->keys, coll->n + 1,
		    sizeof *coll->keys);
		coll->keys[coll->n] = key;
	}
	coll->items[coll->n++] = item;
}

static ssize_t
ynode_index(const struct ynode *map, const char *key)
{
	size_t	i;

	for (i = 0; i < map->n; i++) {
		if (strcmp(map->keys[i]->text, key) == 0)
			return ((ssize_t)i);
	}
	return (-1);
}

static bool
is_merge_key(const struct ynode *key)
{
	return (key->plain && strcmp(key->text, "<<") == 0);
}

/*
 * Apply the merge keys of a finished mapping: keys from the merged mappings
 * are added where the mapping does not set them itself.
 */
static int
builder_merge(struct builder *b, struct ynode *map)
{
	struct ynode	**keys = map->keys, **items = map->items, *src;
	size_t		  n = map->n, i, j, k, nsrc;

	for (i = 0; i < n; i++) {
		if (is_merge_key(keys[i]))
			break;
	}
	if (i == n)
		return (0);

	/* Rebuild the mapping: own keys first, then merged ones in order. */
	map->keys = NULL;
	map->items = NULL;
	map->n = 0;
	for (i = 0; i < n; i++) {
		if (!is_merge_key(keys[i]))
			ynode_append(map, keys[i], items[i]);
	}
	for (i = 0; i < n; i++) {
		if (!is_merge_key(keys[i]))
			continue;
		src = items[i];
		if (src->kind == YNODE_MAP)
			nsrc = 1;
		else if (src->kind == YNODE_SEQ)
			nsrc = src->n;
		else
			nsrc = 0;
		for (j = 0; j < nsrc; j++) {
			struct ynode *m = src->kind == YNODE_MAP ? src : src->items[j];

			if (m->kind != YNODE_MAP) {
				builder_fail(b, keys[i]->line,
				    "merge key '<<' needs a mapping or a list of mappings");
				break;
			}
			for (k = 0; k < m->n; k++) {
				if (ynode_index(map, m->keys[k]->text) != -1)
					continue;
				m->keys[k]->refs++;
				m->items[k]->refs++;
				ynode_append(map, m->keys[k], m->items[k]);
			}
		}
		if (nsrc == 0 && b->cause == NULL)
			builder_fail(b, keys[i]->line,
			    "merge key '<<' needs a mapping or a list of mappings");
		ynode_free(keys[i]);
		ynode_free(items[i]);
	}
	free(keys);
	free(items);
	return (b->cause == NULL ? 0 : -EINVAL);
}

/*
 * Attach a finished node to its parent, or make it the root.  "cost" is what
 * the node adds to the expanded size of the document: 1 for a scalar, the
 * whole subtree for an alias, 0 for a collection (counted when it opened).
 * "line" is where it stands (for an alias, not where its anchor is).
 */
static int
builder_add(struct builder *b, struct ynode *node, const char *anchor,
    size_t cost, int line)
{
	struct ynode	*parent, *key;

	if (b->nodes + cost > YDOC_MAX_NODES) {
		ynode_free(node);
		return (builder_fail(b, line,
		    "document expands to more than %d nodes (an alias counts each time it is used)",
		    YDOC_MAX_NODES));
	}
	b->nodes += cost;

	if (anchor != NULL) {
		b->anchors = xreallocarray(b->anchors, b->nanchors + 1,
		    sizeof *b->anchors);
		b->anchors[b->nanchors].name = xstrdup(anchor);
		b->anchors[b->nanchors].node = node;
		node->refs++;
		b->nanchors++;
	}

	if (b->depth == 0) {
		b->root = node;
		return (0);
	}
	parent = b->stack[b->depth - 1];
	parent->weight += node->weight;
	if (parent->kind == YNODE_SEQ) {
		ynode_append(parent, NULL, node);
		return (0);
	}
	key = b->pending_key[b->depth - 1];
	if (key != NULL) {
		ynode_append(parent, key, node);
		b->pending_key[b->depth - 1] = NULL;
		return (0);
	}
	if (node->kind != YNODE_SCALAR) {
		ynode_free(node);
		return (builder_fail(b, line, "mapping keys must be plain strings"));
	}
	if (!is_merge_key(node)) {
		ssize_t	 i = ynode_index(parent, node->text);

		if (i != -1) {
			builder_fail(b, line,
			    "duplicate key '%s' (first set at line %d)",
			    node->text, parent->keys[i]->line);
			ynode_free(node);
			return (-EINVAL);
		}
	}
	b->pending_key[b->depth - 1] = node;
	return (0);
}

static int
builder_open(struct builder *b, enum ynode_kind kind, int line)
{
	if (b->depth >= YDOC_MAX_DEPTH)
		return (builder_fail(b, line, "nesting deeper than %d levels",
		    YDOC_MAX_DEPTH));
	if (b->nodes + 1 > YDOC_MAX_NODES)
		return (builder_fail(b, line,
		    "document expands to more than %d nodes", YDOC_MAX_NODES));
	b->nodes++;
	b->stack = xreallocarray(b->stack, b->depth + 1, sizeof *b->stack);
	b->pending_key = xreallocarray(b->pending_key, b->depth + 1,
	    sizeof *b->pending_key);
	b->stack[b->depth] = ynode_new(kind, line);
	b->pending_key[b->depth] = NULL;
	b->depth++;
	return (0);
}

static int
builder_close(struct builder *b, const char *anchor)
{
	struct ynode	*n = b->stack[--b->depth];

	if (b->pending_key[b->depth] != NULL) {
		/* A key with no value: cannot come from libyaml. */
		ynode_free(b->pending_key[b->depth]);
		b->pending_key[b->depth] = NULL;
	}
	if (n->kind == YNODE_MAP && builder_merge(b, n) != 0) {
		ynode_free(n);
		return (-EINVAL);
	}
	return (builder_add(b, n, anchor, 0, n->line));
}

static const char *
tag_anchor(const yaml_char_t *a)
{
	return ((const char *)a);
}

/*
 * The tags of the YAML 1.2 core schema; the others of the tag:yaml.org
 * namespace (binary, set, omap, timestamp...) and local ones are refused.
 */
static bool
core_scalar_tag(const char *tag)
{
	static const char *tags[] = { "int", "float", "bool", "null" };
	size_t	 i;

	if (strncmp(tag, "tag:yaml.org,2002:", 18) != 0)
		return (false);
	for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		if (strcmp(tag + 18, tags[i]) == 0)
			return (true);
	}
	return (false);
}

static int
builder_scalar(struct builder *b, yaml_event_t *ev)
{
	struct ynode	*n;
	const char	*tag = (const char *)ev->data.scalar.tag;
	int		 line = (int)ev->start_mark.line + 1;

	if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length) != NULL)
		return (builder_fail(b, line, "string contains a NUL character"));
	n = ynode_new(YNODE_SCALAR, line);
	n->text = xstrndup((const char *)ev->data.scalar.value,
	    ev->data.scalar.length);
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.plain_implicit &&
	    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (tag != NULL) {
		if (strcmp(tag, "tag:yaml.org,2002:str") == 0)
			n->plain = false;
		else if (core_scalar_tag(tag))
			n->plain = true;
		else {
			ynode_free(n);
			return (builder_fail(b, line, "unsupported tag '%s'", tag));
		}
	}
	return (builder_add(b, n, tag_anchor(ev->data.scalar.anchor), 1,
	    line));
}

static int
builder_alias(struct builder *b, yaml_event_t *ev)
{
	const char	*name = (const char *)ev->data.alias.anchor;
	int		 line = (int)ev->start_mark.line + 1;
	size_t		 i;

	for (i = b->nanchors; i > 0; i--) {
		if (strcmp(b->anchors[i - 1].name, name) == 0) {
			struct ynode *n = b->anchors[i - 1].node;

			n->refs++;
			return (builder_add(b, n, NULL, n->weight, line));
		}
	}
	return (builder_fail(b, line, "unknown alias '*%s'", name));
}

static void
builder_release(struct builder *b)
{
	size_t	i;

	for (i = 0; i < b->depth; i++) {
		ynode_free(b->pending_key[i]);
		ynode_free(b->stack[i]);
	}
	for (i = 0; i < b->nanchors; i++) {
		free(b->anchors[i].name);
		ynode_free(b->anchors[i].node);
	}
	free(b->anchors);
	free(b->stack);
	free(b->pending_key);
	yaml_parser_delete(&b->parser);
}

int
ydoc_parse(struct ynode **out, const char *data, size_t len, char **cause,
    int *line)
{
	struct builder	 b;
	yaml_event_t	 ev;
	int		 error = 0, docs = 0;
	bool		 done = false;
	char		*anchor;

	*out = NULL;
	*cause = NULL;
	*line = 0;
	if (len > YDOC_MAX_BYTES) {
		*cause = xasprintf("file is larger than %d bytes", YDOC_MAX_BYTES);
		*line = 1;
		return (-EFBIG);
	}
	memset(&b, 0, sizeof b);
	if (!yaml_parser_initialize(&b.parser)) {
		*cause = xstrdup("cannot initialise the YAML parser");
		*line = 1;
		return (-ENOMEM);
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)data, len);

	while (!done && error == 0) {
		if (!yaml_parser_parse(&b.parser, &ev)) {
			/*
			 * An unclosed quote is found at the end of the file;
			 * the line where it opened is the one to show.
			 */
			int where = (int)b.parser.problem_mark.line + 1;

			if (b.parser.context != NULL && strcmp(b.parser.context,
			    "while scanning a quoted scalar") == 0)
				where = (int)b.parser.context_mark.line + 1;
			error = builder_fail(&b, where, "%s%s%s",
			    b.parser.problem != NULL ? b.parser.problem :
			    "invalid YAML",
			    b.parser.context != NULL ? " " : "",
			    b.parser.context != NULL ? b.parser.context : "");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				error = builder_fail(&b,
				    (int)ev.start_mark.line + 1,
				    "more than one YAML document in the file");
			break;
		case YAML_SCALAR_EVENT:
			error = builder_scalar(&b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			error = builder_alias(&b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			error = builder_open(&b, ev.type == YAML_SEQUENCE_START_EVENT ?
			    YNODE_SEQ : YNODE_MAP, (int)ev.start_mark.line + 1);
			if (error == 0) {
				/* Remember the anchor until the collection ends. */
				const yaml_char_t *a = ev.type == YAML_SEQUENCE_START_EVENT ?
				    ev.data.sequence_start.anchor :
				    ev.data.mapping_start.anchor;
				const yaml_char_t *t = ev.type == YAML_SEQUENCE_START_EVENT ?
				    ev.data.sequence_start.tag :
				    ev.data.mapping_start.tag;

				if (t != NULL && strcmp((const char *)t,
				    ev.type == YAML_SEQUENCE_START_EVENT ?
				    "tag:yaml.org,2002:seq" :
				    "tag:yaml.org,2002:map") != 0)
					error = builder_fail(&b,
					    (int)ev.start_mark.line + 1,
					    "unsupported tag '%s'", (const char *)t);
				b.stack[b.depth - 1]->text = a != NULL ?
				    xstrdup((const char *)a) : NULL;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			anchor = b.stack[b.depth - 1]->text;
			b.stack[b.depth - 1]->text = NULL;
			error = builder_close(&b, anchor);
			free(anchor);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}

	if (error != 0) {
		builder_release(&b);
		ynode_free(b.root);
		*cause = b.cause;
		*line = b.line > 0 ? b.line : 1;
		return (error);
	}
	builder_release(&b);
	*out = b.root;
	return (0);
}
