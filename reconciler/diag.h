/*
 * Diagnostics of a config repository: "FILE:LINE: message" lines, collected
 * in one pass over the whole repository, then sorted and de-duplicated so
 * that the output is the same whatever order the files were read in.
 */
#ifndef DIAG_H
#define DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
	char	*file;		/* relative to the config root */
	int	 line;
	char	*message;	/* lowercase, no full stop */
};

struct diags {
	struct diag	*v;
	size_t		 n;
};

void	 diags_init(struct diags *);
void	 diags_release(struct diags *);
void	 diags_add(struct diags *, const char *file, int line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 diags_addv(struct diags *, const char *file, int line,
	    const char *fmt, va_list) __attribute__((format(printf, 4, 0)));
void	 diags_sort(struct diags *);
char	*diag_format(const struct diag *);
void	 diags_print(const struct diags *, FILE *);

#endif
