/*
 * The graph between deployments: the edges that a deployment's depends and
 * its references to other deployments' outputs make (each must name a
 * deployment, and an output, that exists), and the cycles among them.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model-int.h"
#include "compat.h"
#include "table.h"
#include "xmalloc.h"

/* A deployment of the model being loaded, by name. */
static struct deployment *
graph_find(struct model *m, const struct table *by_name, const char *name,
    size_t *idx)
{
	uintptr_t	i = (uintptr_t)table_gets(by_name, name);

	if (i == 0)
		return (NULL);
	if (idx != NULL)
		*idx = i - 1;
	return (m->deployments[i - 1]);
}

static void
needs_add(struct deployment *d, size_t up, int **lines, int line)
{
	size_t	i;

	for (i = 0; i < d->nneeds; i++) {
		if (d->needs[i] == up)
			return;
	}
	d->needs = xreallocarray(d->needs, d->nneeds + 1, sizeof *d->needs);
	*lines = xreallocarray(*lines, d->nneeds + 1, sizeof **lines);
	(*lines)[d->nneeds] = line;
	d->needs[d->nneeds++] = up;
}

static void
outputs_list(char *buf, size_t size, const struct blueprint *bp)
{
	size_t	i;

	buf[0] = '\0';
	for (i = 0; i < bp->noutputs; i++) {
		if (i > 0)
			strlcat(buf, ", ", size);
		strlcat(buf, bp->outputs[i], size);
	}
}

/* References and dependencies: they must name what exists. */
void
graph_edges(struct model *m, const struct table *by_name,
    struct deployment *d, int **lines)
{
	const struct deployment_doc	*dd = d->doc;
	size_t				 i, j;
	char				 list[512];

	*lines = NULL;
	if (dd == NULL || !dd->hdr.usable)
		return;
	for (i = 0; i < dd->ndepends; i++) {
		size_t			 upi = 0;
		struct deployment	*up = graph_find(m, by_name,
		    dd->depends[i], &upi);

		if (up == d) {
			diags_add(&m->diags, d->file, dd->depends_line[i],
			    "deployment '%s' depends on itself", d->name);
			deployment_invalidate(d, "%s:%d: depends on itself",
			    d->file, dd->depends_line[i]);
		} else if (up == NULL) {
			diags_add(&m->diags, d->file, dd->depends_line[i],
			    "depends on deployment '%s' that does not exist",
			    dd->depends[i]);
			deployment_invalidate(d, "%s:%d: depends on deployment '%s' that does not exist",
			    d->file, dd->depends_line[i], dd->depends[i]);
		} else
			needs_add(d, upi, lines, dd->depends_line[i]);
	}
	for (i = 0; i < d->nrefs; i++) {
		const struct output_ref	*r = &d->refs[i];
		size_t			 upi = 0;
		struct deployment	*up = graph_find(m, by_name,
		    r->deployment, &upi);

		if (up == d) {
			diags_add(&m->diags, r->file, r->line,
			    "deployment '%s' refers to its own output '%s'",
			    d->name, r->output);
			deployment_invalidate(d,
			    "%s:%d: refers to its own output", r->file,
			    r->line);
			continue;
		}
		if (up == NULL) {
			diags_add(&m->diags, r->file, r->line,
			    "refers to deployment '%s' that does not exist",
			    r->deployment);
			deployment_invalidate(d, "%s:%d: refers to deployment '%s' that does not exist",
			    r->file, r->line, r->deployment);
			continue;
		}
		if (up->blueprint != NULL && up->blueprint->doc->hdr.usable) {
			for (j = 0; j < up->blueprint->noutputs; j++) {
				if (strcmp(up->blueprint->outputs[j],
				    r->output) == 0)
					break;
			}
			if (j == up->blueprint->noutputs) {
				outputs_list(list, sizeof list, up->blueprint);
				diags_add(&m->diags, r->file, r->line,
				    "deployment '%s' has no output '%s' (blueprint '%s' declares %s%s)",
				    up->name, r->output, up->blueprint->name,
				    list[0] != '\0' ? "" : "no outputs",
				    list);
				deployment_invalidate(d, "%s:%d: deployment '%s' has no output '%s'",
				    r->file, r->line, up->name, r->output);
				continue;
			}
		}
		needs_add(d, upi, lines, strcmp(r->file, d->file) == 0 ?
		    r->line : 1);
	}
}

/*
 * Cycles: Tarjan's strongly connected components, iteratively.  Each
 * component of more than one deployment is reported once, at its first
 * member by name, as the path around the cycle.
 */
struct tarjan {
	size_t	*index;
	size_t	*low;
	bool	*on;
	size_t	*stack;
	size_t	 sp;
	size_t	 next;
};

/*
 * One cycle (a strongly connected component, or a deployment that needs
 * itself): reported once, at its first member by name, as the path around
 * it; every member is invalid.  memb maps a deployment's index to its
 * place in members, or SIZE_MAX.
 */
static void
graph_cycle(struct model *m, const size_t *members, size_t n, int **lines,
    size_t *memb)
{
	struct deployment	**dv = m->deployments, *first;
	size_t			  i, j, fi = 0, *parent, *queue, head = 0;
	size_t			  tail = 0, npath = 0, *path;
	char			 *s, *t;
	int			  line = 1;
	bool			  found = false;

	for (i = 1; i < n; i++) {
		if (strcmp(dv[members[i]]->name, dv[members[fi]]->name) < 0)
			fi = i;
	}
	first = dv[members[fi]];
	for (i = 0; i < n; i++)
		memb[members[i]] = i;
	/* Breadth-first from first to a member that needs first. */
	parent = xcalloc(n, sizeof *parent);
	queue = xcalloc(n, sizeof *queue);
	path = xcalloc(n + 1, sizeof *path);
	for (i = 0; i < n; i++)
		parent[i] = SIZE_MAX;
	parent[fi] = fi;
	queue[tail++] = fi;
	while (head < tail && !found) {
		size_t			 at = queue[head++];
		struct deployment	*cur = dv[members[at]];

		for (j = 0; j < cur->nneeds; j++) {
			size_t k = memb[cur->needs[j]];

			if (k == SIZE_MAX)
				continue;
			if (k == fi) {
				/* Walk back from cur to first. */
				for (;;) {
					path[npath++] = at;
					if (at == fi)
						break;
					at = parent[at];
				}
				found = true;
				break;
			}
			if (parent[k] == SIZE_MAX) {
				parent[k] = at;
				queue[tail++] = k;
			}
		}
	}
	/* path holds cur ... first; print first -> ... -> cur -> first. */
	s = xasprintf("dependency cycle: %s", first->name);
	for (i = npath; i > 1; i--) {
		t = xasprintf("%s -> %s", s, dv[members[path[i - 2]]]->name);
		free(s);
		s = t;
	}
	t = xasprintf("%s -> %s", s, first->name);
	free(s);
	s = t;
	/* The line of first's edge to the next member on the path. */
	for (j = 0; j < first->nneeds; j++) {
		if (first->needs[j] == members[npath > 1 ?
		    path[npath - 2] : fi]) {
			line = lines[members[fi]][j];
			break;
		}
	}
	diags_add(&m->diags, first->file, line, "%s", s);
	for (i = 0; i < n; i++) {
		deployment_invalidate(dv[members[i]], "%s", s);
		dv[members[i]]->in_cycle = true;
		memb[members[i]] = SIZE_MAX;
	}
	free(s);
	free(parent);
	free(queue);
	free(path);
}

void
graph_cycles(struct model *m, int **lines)
{
	struct tarjan		  t;
	size_t			  n = m->ndeployments, i, root;
	size_t			 *edge, *callstack, *memb, csp;

	if (n == 0)
		return;
	t.index = xcalloc(n, sizeof *t.index);
	t.low = xcalloc(n, sizeof *t.low);
	t.on = xcalloc(n, sizeof *t.on);
	t.stack = xcalloc(n, sizeof *t.stack);
	edge = xcalloc(n, sizeof *edge);
	callstack = xcalloc(n, sizeof *callstack);
	memb = xreallocarray(NULL, n, sizeof *memb);
	for (i = 0; i < n; i++)
		memb[i] = SIZE_MAX;
	t.sp = 0;
	t.next = 1;
	for (root = 0; root < n; root++) {
		if (t.index[root] != 0 || m->deployments[root]->nneeds == 0)
			continue;
		csp = 0;
		callstack[csp++] = root;
		t.index[root] = t.low[root] = t.next++;
		t.stack[t.sp++] = root;
		t.on[root] = true;
		while (csp > 0) {
			size_t			 v = callstack[csp - 1];
			struct deployment	*d = m->deployments[v];

			if (edge[v] < d->nneeds) {
				size_t w = d->needs[edge[v]++];

				if (t.index[w] == 0) {
					t.index[w] = t.low[w] = t.next++;
					t.stack[t.sp++] = w;
					t.on[w] = true;
					callstack[csp++] = w;
				} else if (t.on[w] && t.index[w] < t.low[v])
					t.low[v] = t.index[w];
				continue;
			}
			if (t.low[v] == t.index[v]) {
				size_t	*members, k = 0, w;
				bool	 self = false;

				for (w = 0; w < d->nneeds; w++)
					if (d->needs[w] == v)
						self = true;
				members = xcalloc(t.sp, sizeof *members);
				do {
					w = t.stack[--t.sp];
					t.on[w] = false;
					members[k++] = w;
				} while (w != v);
				if (k > 1 || self)
					graph_cycle(m, members, k, lines, memb);
				free(members);
			}
			csp--;
			if (csp > 0) {
				size_t u = callstack[csp - 1];

				if (t.low[v] < t.low[u])
					t.low[u] = t.low[v];
			}
		}
	}
	free(t.index);
	free(t.low);
	free(t.on);
	free(t.stack);
	free(edge);
	free(callstack);
	free(memb);
}
