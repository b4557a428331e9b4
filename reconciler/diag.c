/* Collected FILE:LINE diagnostics. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "xmalloc.h"

void
diags_init(struct diags *d)
{
	d->v = NULL;
	d->n = 0;
}

void
diags_release(struct diags *d)
{
	size_t	i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	diags_init(d);
}

void
diags_addv(struct diags *d, const char *file, int line, const char *fmt,
    va_list ap)
{
	struct diag	*g;

	d->v = xreallocarray(d->v, d->n + 1, sizeof *d->v);
	g = &d->v[d->n++];
	g->file = xstrdup(file);
	g->line = line > 0 ? line : 1;
	g->message = xvasprintf(fmt, ap);
}

void
diags_add(struct diags *d, const char *file, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diags_addv(d, file, line, fmt, ap);
	va_end(ap);
}

static int
diag_cmp(const void *a, const void *b)
{
	const struct diag	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->file, y->file)) != 0)
		return (c);
	if (x->line != y->line)
		return (x->line < y->line ? -1 : 1);
	return (strcmp(x->message, y->message));
}

void
diags_sort(struct diags *d)
{
	size_t	i, j;

	if (d->n == 0)
		return;
	qsort(d->v, d->n, sizeof *d->v, diag_cmp);
	for (i = 1, j = 1; i < d->n; i++) {
		if (diag_cmp(&d->v[i], &d->v[j - 1]) == 0) {
			free(d->v[i].file);
			free(d->v[i].message);
			continue;
		}
		d->v[j++] = d->v[i];
	}
	d->n = j;
}

char *
diag_format(const struct diag *g)
{
	return (xasprintf("%s:%d: %s", g->file, g->line, g->message));
}

void
diags_print(const struct diags *d, FILE *f)
{
	size_t	i;

	for (i = 0; i < d->n; i++)
		fprintf(f, "%s:%d: %s\n", d->v[i].file, d->v[i].line,
		    d->v[i].message);
}
