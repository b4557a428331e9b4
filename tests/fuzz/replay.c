/*
 * Replays fuzz corpus files through a fuzz target without libFuzzer, so
 * that every input that once mattered runs under make check (and ASan).
 * Usage: replay FILE...; prints TAP.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
main(int argc, char **argv)
{
	FILE	*f;
	char	*data;
	long	 len;
	int	 i, failed = 0;

	printf("1..%d\n", argc - 1);
	for (i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "rb")) == NULL ||
		    fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) != 0) {
			printf("not ok %d - %s: cannot read\n", i, argv[i]);
			failed = 1;
			if (f != NULL)
				fclose(f);
			continue;
		}
		data = malloc((size_t)len + 1);
		if (data == NULL || fread(data, 1, (size_t)len, f) != (size_t)len) {
			printf("not ok %d - %s: cannot read\n", i, argv[i]);
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput((const uint8_t *)data, (size_t)len);
			printf("ok %d - %s\n", i, argv[i]);
		}
		free(data);
		fclose(f);
	}
	return (failed);
}
