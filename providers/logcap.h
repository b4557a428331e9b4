/*
 * Bounded capture of a run's output that keeps its head and its tail:
 * bytes that fit in the head are passed on at once (so a log can be
 * followed live); after that only the last tail_max bytes are kept, and
 * logcap_finish passes on a marker with the count of bytes dropped, then
 * the tail.  Memory is bounded whatever the provider writes.
 */
#ifndef LOGCAP_H
#define LOGCAP_H

#include <stddef.h>
#include <stdint.h>

typedef void (*logcap_emit_cb)(const char *, size_t, void *);

struct logcap {
	size_t		 head_max;
	size_t		 head;		/* bytes passed on so far */
	char		*ring;
	size_t		 tail_max;
	size_t		 ring_start;
	size_t		 ring_len;
	uint64_t	 total;		/* bytes seen */
	uint64_t	 dropped;
};

void	logcap_init(struct logcap *, size_t head_max, size_t tail_max);
void	logcap_add(struct logcap *, const char *, size_t, logcap_emit_cb,
	    void *);
void	logcap_finish(struct logcap *, logcap_emit_cb, void *);
void	logcap_release(struct logcap *);

#endif
