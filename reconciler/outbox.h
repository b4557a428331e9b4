/*
 * The forge outbox: what the daemon wants the forge to show (a commit
 * status per commit and context, one comment per pull request), written
 * in the same store transaction as the state change it reports, and
 * delivered later by the daemon's reporter.  doc/store.md has the table.
 *
 * Invariants:
 * - Rows are keyed (repository, kind, key): key is "<sha>/<context>" for
 *   a status, "pull/<n>" for a comment.  outbox_status and outbox_comment
 *   write nothing when the wanted value equals the last one wanted for
 *   that key (only changes are sent), and mark every undelivered older
 *   row of the key superseded (a newer value replaces it unsent).
 * - A row is due until it is delivered, superseded or abandoned; what is
 *   due, and what was delivered, is in SQLite, so a row is delivered once
 *   across restarts (a crash during the request itself may send it
 *   again: the forge's answer was never recorded).
 * - A comment is created on its first delivery; its remote id, kept with
 *   the key, makes every later delivery an edit of the same comment.
 *
 * Errors are those of store.h; -EINVAL for a missing sha, context, body
 * or an unknown state.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum outbox_state { OUTBOX_PENDING, OUTBOX_SUCCESS, OUTBOX_FAILURE, OUTBOX_ERROR };

enum outbox_kind { OUTBOX_STATUS, OUTBOX_COMMENT };

/* The commit status wanted for (sha, context), e.g. context "cloudsphere/web". */
int	outbox_status(struct store *, int64_t repository_id, const char *sha,
	    const char *context, enum outbox_state, const char *description,
	    const char *target_url);
/* The pull request's one comment: created on first delivery, then edited in place. */
int	outbox_comment(struct store *, int64_t repository_id, int64_t pull,
	    const char *body);

/* "pending", "success", "failure", "error"; NULL if out of range. */
const char	*outbox_state_name(enum outbox_state);

/* A due row, for the reporter.  Strings belong to the item. */
struct outbox_item {
	int64_t			 id;
	int64_t			 repository_id;
	enum outbox_kind	 kind;
	char			*key;
	/* OUTBOX_STATUS */
	char			*sha;
	char			*context;
	enum outbox_state	 state;
	char			*description;	/* or NULL */
	char			*target_url;	/* or NULL */
	/* OUTBOX_COMMENT */
	int64_t			 pull;
	char			*body;
	char			*remote_id;	/* the comment to edit; NULL: create */
	int			 attempts;	/* failed so far */
	int64_t			 next_at;	/* ms; 0: at once */
	int64_t			 created_at;
};

/*
 * Rows due at now (ms) or before, oldest first, at most limit (0: no
 * limit); repository_id 0: every repository.
 */
int	outbox_due(struct store *, int64_t repository_id, int64_t now,
	    size_t limit, struct outbox_item **out, size_t *n);
/* When the next row falls due (ms, may be in the past), or -ENOENT. */
int	outbox_next_due(struct store *, int64_t repository_id, int64_t *at);
/*
 * Delivered: the row is done.  remote_id (a comment's id from the
 * forge's create answer) is kept for the key; NULL keeps the known one.
 * A row superseded while in flight is still marked delivered.
 */
int	outbox_delivered(struct store *, int64_t id, const char *remote_id);
/* A failed attempt: attempts is the new count, next_at (ms) the retry. */
int	outbox_failed(struct store *, int64_t id, int attempts,
	    int64_t next_at, const char *error);
/* Given up (the forge refused it for good): never retried. */
int	outbox_abandon(struct store *, int64_t id, const char *error);
/*
 * The remote comment is gone (404 on edit): the key's next delivery
 * creates a new one.
 */
int	outbox_forget_remote(struct store *, int64_t repository_id,
	    enum outbox_kind, const char *key);
void	outbox_item_release(struct outbox_item *);
void	outbox_item_array_free(struct outbox_item *, size_t);

/* What a row became, for tests and the API. */
struct outbox_row {
	int64_t		 id;
	char		*key;
	char		*status;	/* due, delivered, superseded, abandoned */
	int		 attempts;
	char		*last_error;
	char		*remote_id;
	int64_t		 delivered_at;
};
/* Every row of a key, oldest first. */
int	outbox_history(struct store *, int64_t repository_id,
	    enum outbox_kind, const char *key, struct outbox_row **out,
	    size_t *n);
void	outbox_row_array_free(struct outbox_row *, size_t);

/*
 * Deletes finished rows (delivered, superseded, abandoned) older than
 * before (ms), except the newest row of each key, which the next
 * outbox_status or outbox_comment compares with.
 */
int	outbox_prune(struct store *, int64_t before);

#endif
