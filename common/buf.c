/* Bounded growable buffers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	size_t	need;

	if (n > b->max || b->len > b->max - n)
		return (-E2BIG);
	need = b->len + n + 1;
	if (need > b->size) {
		size_t	size = b->size == 0 ? 64 : b->size;

		while (size < need)
			size *= 2;
		b->data = xreallocarray(b->data, 1, size);
		b->size = size;
	}
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return (0);
}

int
buf_addstr(struct buf *b, const char *s)
{
	return (buf_add(b, s, strlen(s)));
}

int
buf_addch(struct buf *b, char c)
{
	return (buf_add(b, &c, 1));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 error;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	error = buf_addstr(b, s);
	free(s);
	return (error);
}

/* Hand the contents to the caller (never NULL) and empty the buffer. */
char *
buf_detach(struct buf *b)
{
	char	*s;

	if (b->data == NULL)
		return (xstrdup(""));
	s = b->data;
	b->data = NULL;
	b->len = b->size = 0;
	return (s);
}
