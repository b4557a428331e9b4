/*
 * Streaming redaction: every occurrence of a secret value in a byte stream
 * becomes "***", even when a value is split across chunks.  The last
 * (longest secret - 1) bytes are held back until more data or the end.
 */
#ifndef REDACT_H
#define REDACT_H

#include <stddef.h>

#define REDACT_MARK	"***"
#define REDACT_MIN	4	/* shorter values are not redacted */

struct redact;

typedef void (*redact_emit_cb)(const char *, size_t, void *);

struct redact	*redact_new(char *const *values, size_t n);
void		 redact_add(struct redact *, const char *, size_t,
		    redact_emit_cb, void *);
void		 redact_finish(struct redact *, redact_emit_cb, void *);
void		 redact_free(struct redact *);
/* One string at once; the result is allocated. */
char		*redact_string(char *const *values, size_t n, const char *);

#endif
