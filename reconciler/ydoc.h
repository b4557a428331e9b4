/*
 * A small YAML document tree built from libyaml's event parser, for the
 * config repository's files.  Every node keeps its line so that errors can
 * be reported as FILE:LINE.  Parsing enforces the limits of an untrusted
 * input: file size, nesting depth and the number of nodes a document expands
 * to (aliases count as often as they are used, so "billion laughs" documents
 * are refused).  Duplicate keys are errors; merge keys ("<<") are honoured.
 *
 * Scalars are kept as text with their style: the consumer decides whether
 * "5" means a number (plain scalar) or a string (quoted).
 */
#ifndef YDOC_H
#define YDOC_H

#include <stdbool.h>
#include <stddef.h>

#define YDOC_MAX_BYTES		(1024 * 1024)
#define YDOC_MAX_DEPTH		32
#define YDOC_MAX_NODES		100000

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_kind	  kind;
	int		  line;		/* 1-based */
	int		  refs;		/* aliases share nodes */
	size_t		  weight;	/* nodes in this subtree, aliases expanded */

	/* YNODE_SCALAR */
	char		 *text;
	size_t		  len;
	bool		  plain;	/* unquoted, untagged: may be a number */

	/*
	 * YNODE_SEQ: items[0..n); YNODE_MAP: keys[0..n) and items[0..n),
	 * keys are scalars, unique.
	 */
	struct ynode	**keys;
	struct ynode	**items;
	size_t		  n;
};

/*
 * Parse one YAML document.  On success *out is its root, or NULL for an
 * empty file.  On failure returns -EINVAL with *cause (allocated) and *line.
 */
int		 ydoc_parse(struct ynode **out, const char *data, size_t len,
		    char **cause, int *line);
void		 ynode_free(struct ynode *);

/* Lookup of a key in a mapping; NULL if absent. */
struct ynode	*ynode_get(const struct ynode *map, const char *key);
const char	*ynode_kind_name(const struct ynode *);

#endif
