/*
 * The parts of the source interface common to every kind: normalising
 * paths and following symlinks without ever leaving the config root.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "source.h"
#include "xmalloc.h"

void
source_free(struct source *s)
{
	if (s != NULL)
		s->ops->free(s);
}

void
source_entry_release(struct source_entry *e)
{
	if (e == NULL)
		return;
	free(e->name);
	e->name = NULL;
}

void
source_list_release(struct source_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		source_entry_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

char *
source_join(const char *dir, const char *target)
{
	struct buf	 b;
	char		*copy, *p, *part, *save = NULL;
	size_t		*marks = NULL, nmarks = 0;

	if (target[0] == '/' || target[0] == '\0')
		return (NULL);
	buf_init(&b, 65536);
	copy = xasprintf("%s%s%s", dir, dir[0] != '\0' ? "/" : "", target);
	for (p = copy; (part = strtok_r(p, "/", &save)) != NULL; p = NULL) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			if (nmarks == 0)
				goto escape;
			b.len = marks[--nmarks];
			if (b.data != NULL)
				b.data[b.len] = '\0';
			continue;
		}
		marks = xreallocarray(marks, nmarks + 1, sizeof *marks);
		marks[nmarks++] = b.len;
		if ((b.len != 0 && buf_addch(&b, '/') != 0) ||
		    buf_addstr(&b, part) != 0)
			goto escape;
	}
	free(copy);
	free(marks);
	if (b.len == 0) {
		buf_release(&b);
		return (xstrdup(""));
	}
	return (buf_detach(&b));

escape:
	free(copy);
	free(marks);
	buf_release(&b);
	return (NULL);
}

int
source_resolve(struct source *s, const char *path, struct source_entry *out,
    char **resolved, char **cause)
{
	char	*cur = xstrdup(path), *target = NULL, *dir, *slash, *next;
	size_t	 len;
	int	 error, hops;

	*cause = NULL;
	for (hops = 0;; hops++) {
		error = s->ops->lookup(s, cur, out);
		if (error != 0)
			break;
		if (out->type != SOURCE_LINK)
			break;
		if (hops == SOURCE_MAX_LINKS) {
			*cause = xasprintf("too many levels of symlinks at '%s'",
			    path);
			error = -ELOOP;
			break;
		}
		error = s->ops->read(s, cur, &out->oid, 4096, &target, &len);
		if (error != 0)
			break;
		dir = xstrdup(cur);
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		else
			dir[0] = '\0';
		next = source_join(dir, target);
		free(dir);
		if (next == NULL) {
			*cause = xasprintf("symlink '%s' points outside the repository ('%s')",
			    cur, target);
			free(target);
			error = -ELOOP;
			break;
		}
		free(target);
		source_entry_release(out);
		free(cur);
		cur = next;
	}
	if (error != 0) {
		source_entry_release(out);
		free(cur);
		return (error);
	}
	if (resolved != NULL)
		*resolved = cur;
	else
		free(cur);
	return (0);
}
