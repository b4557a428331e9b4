/*
 * What ansible-playbook says: the PLAY RECAP of the default output, or the
 * stats of the json callback's document (indented or on one line) or of
 * the jsonl callback's v2_playbook_on_stats event; the first error line
 * ("ERROR! ...", "[ERROR]: ..." of ansible-core 2.19, or argparse's
 * "ansible-playbook: error: ..."); and a cause for each of its exit codes
 * (DESIGN.md section 4; the codes are those of ansible-core's CLI and
 * task queue manager: 0, 1, 2, 4, 5, 6, 8, 99, 250, 255).
 */
#ifndef RECAP_H
#define RECAP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define RECAP_DOC_MAX	(8 * 1024 * 1024)

struct recap {
	struct buf	 line;
	struct buf	 doc;		/* an indented json callback document */
	bool		 in_doc;
	bool		 in_recap;
	bool		 seen;		/* a recap was read */
	int		 hosts;
	int		 ok, changed, unreachable, failed, skipped, rescued,
			 ignored;
	char		*error;		/* the first "ERROR! ..." line */
	char		*where;		/* "site.yml: line 7, column 8" */
};

void	 recap_init(struct recap *);
void	 recap_release(struct recap *);
void	 recap_feed(struct recap *, const char *, size_t);
void	 recap_finish(struct recap *);
/* The stats of the json callback's document, into the same counters. */
int	 recap_json(struct recap *, const char *doc, size_t len);
/* "2 changed, 1 failed (4 ok) on 1 host" */
char	*recap_summary(const struct recap *);
/* One line for a non-zero exit status. */
char	*recap_cause(const struct recap *, int exit_code);

#endif
