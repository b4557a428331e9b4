/*
 * Big Git trees kept in memory, and a new version read from the delta it
 * is stored as in a pack.
 *
 * Git rewrites a folder's whole tree object when one of its entries
 * changes: the deployments/ tree of 100,000 deployments is 4.3 MB, and
 * libgit2 inflates all of it (2.4 MB of zlib) to read it again.  A fetch
 * stores the new version as a delta against the old one, a few hundred
 * bytes; when the old version is in this cache, the new one costs the
 * delta's inflation and a copy, not the tree's.
 */
#ifndef TREE_CACHE_H
#define TREE_CACHE_H

#include <stddef.h>

#include <git2.h>

/* Trees smaller than this are read by libgit2 as before. */
#define TREE_CACHE_MIN		(64 * 1024)
/* Trees kept of one repository: the last version, and the one before. */
#define TREE_CACHE_PER_REPO	2
/* Total size of the trees kept, across repositories. */
#define TREE_CACHE_MAX		(64 * 1024 * 1024)
/* A delta bigger than this is not worth applying here. */
#define TREE_CACHE_DELTA_MAX	(4 * 1024 * 1024)

struct tree_buf;

/*
 * The raw content of tree id, from the cache, from a pack delta against a
 * cached tree, or read whole by libgit2 (and then kept).  NULL when the
 * tree is smaller than TREE_CACHE_MIN, or cannot be read: the caller reads
 * it with libgit2 then.  Thread-safe; release with tree_buf_unref.
 */
struct tree_buf	*tree_cache_get(git_repository *, const git_oid *id);
const unsigned char *tree_buf_data(const struct tree_buf *, size_t *len);
void		 tree_buf_unref(struct tree_buf *);

/*
 * Call fn for each entry of a raw tree, with the name NUL-terminated in
 * place and the mode as Git wrote it; a non-zero return stops the walk
 * and is returned.  -EINVAL when the content is not a valid tree.
 */
int		 tree_raw_walk(const unsigned char *, size_t,
		    int (*fn)(void *, const char *name, unsigned mode,
		    const git_oid *), void *arg);

/*
 * Apply a Git delta to base; *out (malloc'd) receives the result.
 * -EINVAL on a malformed delta, one made against another base, or one
 * whose result would be longer than maxlen.
 */
int		 tree_delta_apply(const unsigned char *base, size_t baselen,
		    const unsigned char *delta, size_t deltalen, size_t maxlen,
		    unsigned char **out, size_t *outlen);

/* How the trees asked for were read, for tests and benchmarks. */
struct tree_cache_stats {
	unsigned long	hits;		/* already cached */
	unsigned long	deltas;		/* applied to a cached base */
	unsigned long	whole;		/* read whole by libgit2, kept */
	unsigned long	small;		/* under TREE_CACHE_MIN: not kept */
	size_t		bytes;		/* kept now */
};
void		 tree_cache_stats(struct tree_cache_stats *);
/* Forget every tree (tests). */
void		 tree_cache_clear(void);

#endif
