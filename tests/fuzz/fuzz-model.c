/*
 * Fuzz target for the model parser: the input is one YAML file, parsed as
 * each of the four kinds of file of a config repository.  Built with
 * libFuzzer under --enable-fuzzing; its corpus also replays as an ordinary
 * test through replay.c.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "model-int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum mdoc_kind kinds[] = { MDOC_BLUEPRINT,
	    MDOC_ENVIRONMENT, MDOC_TEMPLATE, MDOC_DEPLOYMENT };
	size_t	i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		mdoc_unref(mdoc_parse(kinds[i], (const char *)data, size));
	return (0);
}
