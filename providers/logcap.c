/*
 * Head and tail capture.  The tail is a ring buffer; what falls out of it
 * is counted as dropped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logcap.h"
#include "xmalloc.h"

void
logcap_init(struct logcap *c, size_t head_max, size_t tail_max)
{
	memset(c, 0, sizeof *c);
	c->head_max = head_max;
	c->tail_max = tail_max;
}

void
logcap_release(struct logcap *c)
{
	if (c == NULL)
		return;
	free(c->ring);
	c->ring = NULL;
}

static void
ring_add(struct logcap *c, const char *data, size_t len)
{
	size_t	over, at, n;

	if (c->tail_max == 0) {
		c->dropped += len;
		return;
	}
	if (c->ring == NULL)
		c->ring = xmalloc(c->tail_max);
	if (len >= c->tail_max) {
		/* Only the end of this chunk can stay. */
		c->dropped += c->ring_len + (len - c->tail_max);
		memcpy(c->ring, data + len - c->tail_max, c->tail_max);
		c->ring_start = 0;
		c->ring_len = c->tail_max;
		return;
	}
	if (c->ring_len + len > c->tail_max) {
		over = c->ring_len + len - c->tail_max;
		c->ring_start = (c->ring_start + over) % c->tail_max;
		c->ring_len -= over;
		c->dropped += over;
	}
	at = (c->ring_start + c->ring_len) % c->tail_max;
	n = len < c->tail_max - at ? len : c->tail_max - at;
	memcpy(c->ring + at, data, n);
	memcpy(c->ring, data + n, len - n);
	c->ring_len += len;
}

void
logcap_add(struct logcap *c, const char *data, size_t len,
    logcap_emit_cb emit, void *arg)
{
	size_t	n;

	c->total += len;
	if (c->head < c->head_max) {
		n = len < c->head_max - c->head ? len : c->head_max - c->head;
		emit(data, n, arg);
		c->head += n;
		data += n;
		len -= n;
	}
	if (len > 0)
		ring_add(c, data, len);
}

void
logcap_finish(struct logcap *c, logcap_emit_cb emit, void *arg)
{
	char	mark[96];
	size_t	first;

	if (c->dropped > 0) {
		snprintf(mark, sizeof mark,
		    "\n[cloudsphere: %llu bytes omitted]\n",
		    (unsigned long long)c->dropped);
		emit(mark, strlen(mark), arg);
	}
	if (c->ring_len > 0) {
		first = c->tail_max - c->ring_start;
		if (first > c->ring_len)
			first = c->ring_len;
		emit(c->ring + c->ring_start, first, arg);
		if (c->ring_len > first)
			emit(c->ring, c->ring_len - first, arg);
	}
	c->ring_len = 0;
	c->ring_start = 0;
	c->dropped = 0;
}
