/*
 * The text of a pull request's one comment: every deployment the pull
 * request changes, what its plan found, and the plan's output, in
 * Markdown that every forge renders.  The whole body stays within the
 * forge's size limit: plan outputs are trimmed (their ends kept, where a
 * plan sums up) with a note saying so and how to read the whole log.
 *
 * What goes in must already be redacted (logs and causes come from the
 * store, where the engine wrote them redacted).  What comes out is valid
 * UTF-8 without NUL or control characters other than newline and tab.
 */
#ifndef PULL_COMMENT_H
#define PULL_COMMENT_H

#include <stddef.h>
#include <stdint.h>

#define PULL_COMMENT_MIN	2048	/* no forge allows less */

struct pull_comment_entry {
	const char	*deployment;
	const char	*change;	/* changed, added, removed, invalid */
	int64_t		 run;		/* its preview run, 0: none */
	const char	*state;		/* the run's: succeeded, failed...; NULL: none yet */
	const char	*summary;	/* "1 to add, 0 to change, 0 to destroy" or NULL */
	const char	*cause;		/* why it failed or is not planned, or NULL */
	const char	*log;		/* the plan's output, or NULL */
	size_t		 loglen;
};

/* The largest comment body a forge takes, in bytes. */
size_t	pull_comment_limit(const char *forge);

/*
 * The comment for head (40 hex) of a pull request, at most limit bytes
 * (at least PULL_COMMENT_MIN); allocated.
 */
char	*pull_comment_render(const char *head,
	    const struct pull_comment_entry *, size_t n, size_t limit);

#endif
