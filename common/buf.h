/*
 * A growable byte buffer with a mandatory maximum size, after curl's dynbuf.
 * The contents are always NUL-terminated.  Appending past the maximum fails
 * with -E2BIG and leaves the buffer as it was; nothing grows without a bound.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 size;
	size_t	 max;
};

void	 buf_init(struct buf *, size_t max);
void	 buf_release(struct buf *);
void	 buf_reset(struct buf *);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_addstr(struct buf *, const char *);
int	 buf_addch(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*buf_detach(struct buf *);

#endif
