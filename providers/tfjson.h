/*
 * Terraform's and OpenTofu's machine-readable output (-json): one JSON
 * object per line.  The reader is fed the bytes as they come, hands the
 * human "@message" of each line on for the run's log, and keeps what the
 * daemon needs: the plan's counts and resource addresses, the errors, and
 * the holder of a state lock that stopped the run.  Lines that are not
 * JSON (init, which has no -json here, stderr, a crash) go to the log as
 * they are, read for their "Error: " lines and a lock's holder.
 */
#ifndef TFJSON_H
#define TFJSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define TFJSON_LINE_MAX		(1024 * 1024)
#define TFJSON_MAX_CHANGES	1000
#define TFJSON_MAX_ERRORS	20
#define TFJSON_SUMMARY_MAX	1024	/* bytes of a summary line */

struct tfjson_change {
	char	*action;	/* create, update, delete, replace, read... */
	char	*address;
};

struct tfjson {
	struct buf		 line;
	bool			 too_long;
	char			*version;	/* terraform (or tofu) version */
	bool			 have_summary;
	int			 add, change, remove, import;
	char			*operation;	/* plan, apply, destroy */
	struct tfjson_change	*changes;
	size_t			 nchanges;
	size_t			 more_changes;	/* past TFJSON_MAX_CHANGES */
	char			**errors;	/* "summary: detail" */
	size_t			 nerrors;
	char			*lock_id;
	char			*lock_who;
	bool			 human_lock;	/* in a human lock error */
	size_t			 lines;
};

typedef void (*tfjson_emit_cb)(const char *, size_t, void *);

void	 tfjson_init(struct tfjson *);
void	 tfjson_release(struct tfjson *);
void	 tfjson_feed(struct tfjson *, const char *, size_t, tfjson_emit_cb,
	    void *);
void	 tfjson_finish(struct tfjson *, tfjson_emit_cb, void *);
/*
 * "2 to add, 1 to change, 0 to destroy: +a.b ~c.d -/+e.f", the addresses
 * sorted (+ create, ~ update, - delete, -/+ replace, <= read, other
 * actions by name), at most TFJSON_SUMMARY_MAX bytes then "(and N more)";
 * NULL without a change summary.
 */
char	*tfjson_summary(const struct tfjson *);
/* One line on why it failed, or NULL: the lock's holder when locked. */
char	*tfjson_cause(const struct tfjson *);
/* {add, change, destroy, import, resources: [{action, address}]} */
json_t	*tfjson_json(const struct tfjson *);

#endif
