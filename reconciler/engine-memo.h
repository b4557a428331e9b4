/*
 * Fingerprints remembered from one reconcile pass to the next, so that the
 * pass after a commit that changed one deployment does not resolve and
 * hash every deployment of the repository again (engine-memo.c says when
 * a fingerprint may be reused).
 */
#ifndef ENGINE_MEMO_H
#define ENGINE_MEMO_H

#include <stdbool.h>

#include "model.h"

struct engine_memo;

struct engine_memo *engine_memo_new(void);
void		 engine_memo_free(struct engine_memo *);

/*
 * A new model replaces cur, which stays alive as the previous one: what
 * was remembered over any other model is forgotten.
 */
void		 engine_memo_rotate(struct engine_memo *,
		    const struct model *cur);

/*
 * Around a pass over model m; begin reads the secrets folder once.  A pass
 * over every deployment ("whole") forgets what it did not look at; one
 * over some of them keeps the others' fingerprints.
 */
void		 engine_memo_begin(struct engine_memo *,
		    const char *secrets_dir);
void		 engine_memo_end(struct engine_memo *, const struct model *m,
		    bool whole);

/*
 * After begin: whether the secrets folder may look different from the
 * last pass (true when either could not be read), so that every
 * deployment using a secret must be looked at again.
 */
bool		 engine_memo_secrets_changed(const struct engine_memo *);

/*
 * Forget the fingerprint of deployment name: its declaration changed or
 * it left the model (so no entry outlives the deployment it was for).
 */
void		 engine_memo_forget(struct engine_memo *, const char *name);

/* Whether d's fingerprint uses git.commit: it changes with every commit. */
bool		 engine_memo_every_commit(const struct deployment *);

/* model_fingerprint, or the fingerprint of the last pass when valid. */
int		 engine_memo_fingerprint(struct engine_memo *,
		    char out[MODEL_FINGERPRINT_LEN + 1],
		    const struct deployment *, const struct resolver *,
		    char **cause);

/* Fingerprints reused and computed since engine_memo_new (for tests). */
void		 engine_memo_stats(const struct engine_memo *,
		    size_t *reused, size_t *computed);

#endif
