/*
 * Fuzz target for webhook verification and parsing.  The input is a first
 * line "FORGE EVENT [SIGNATURE]" (the /hooks/ forge name, the event
 * header's value with '+' for a space, and what the signature header
 * says), then the body.  The body is verified against a fixed secret, then
 * parsed whatever the verdict, as a delivery would be after a valid
 * signature.  Built with libFuzzer under --enable-fuzzing; its corpus
 * (tests/fuzz/corpus/webhook/, seeded from the corpus's deliveries) also
 * replays as an ordinary test through replay.c.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "webhook.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz_headers {
	const char	*event;
	const char	*signature;
};

static const char *
fuzz_header(const char *name, void *arg)
{
	struct fuzz_headers	*h = arg;

	if (strcasecmp(name, "X-GitHub-Event") == 0 ||
	    strcasecmp(name, "X-Gitlab-Event") == 0 ||
	    strcasecmp(name, "X-Gitea-Event") == 0 ||
	    strcasecmp(name, "X-Event-Key") == 0 ||
	    strcasecmp(name, "X-Cloudsphere-Event") == 0)
		return (h->event);
	if (strcasecmp(name, "X-Hub-Signature-256") == 0 ||
	    strcasecmp(name, "X-Hub-Signature") == 0 ||
	    strcasecmp(name, "X-Gitlab-Token") == 0 ||
	    strcasecmp(name, "X-Gitea-Signature") == 0 ||
	    strcasecmp(name, "X-Cloudsphere-Signature") == 0)
		return (h->signature);
	if (strcasecmp(name, "X-GitHub-Delivery") == 0 ||
	    strcasecmp(name, "X-Request-UUID") == 0)
		return ("fuzz-delivery");
	return (NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_headers	 h;
	struct webhook_event	*ev = NULL;
	enum webhook_forge	 forge;
	const uint8_t		*nl;
	char			 line[256], *word[3], *p, *cause = NULL;
	size_t			 n, k = 0;

	if ((nl = memchr(data, '\n', size < sizeof line ? size :
	    sizeof line)) == NULL)
		return (0);
	n = (size_t)(nl - data);
	memcpy(line, data, n);
	line[n] = '\0';
	for (p = line; k < 3 && (word[k] = strsep(&p, " ")) != NULL; k++)
		;
	if (k < 2 || webhook_forge_parse(word[0], &forge) != 0)
		return (0);
	for (p = word[1]; *p != '\0'; p++)
		if (*p == '+')
			*p = ' ';
	h.event = word[1];
	h.signature = k == 3 ? word[2] : NULL;
	data += n + 1;
	size -= n + 1;

	(void)webhook_verify(forge, fuzz_header, &h, data, size, "secret",
	    &cause);
	free(cause);
	cause = NULL;
	if (webhook_parse(&ev, forge, fuzz_header, &h, data, size,
	    &cause) == 0) {
		p = webhook_event_describe(ev);
		free(p);
		webhook_event_free(ev);
	}
	free(cause);
	return (0);
}
