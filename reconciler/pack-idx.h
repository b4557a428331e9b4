/*
 * Git's pack indexes (.idx, gitformat-pack(5)), read straight from the
 * file: version 2, and version 1 (no header, an offset before each id).
 * The tree cache looks an object up in them; the mirror's roll-up lists
 * the objects of the packs it rolls.
 */
#ifndef PACK_IDX_H
#define PACK_IDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

struct pack_idx {
	const unsigned char	*map;
	size_t			 len;
	uint32_t		 n;	/* objects */
	bool			 v2;
};

/*
 * Map path and check what is read later: the header, a fanout that never
 * goes down, room for every entry.  -errno, or -EINVAL when it is not an
 * index; *x is then empty (and pack_idx_close harmless).
 */
int	pack_idx_open(struct pack_idx *x, const char *path);
void	pack_idx_close(struct pack_idx *);
/* The id of the i-th object (i < n), in id order. */
void	pack_idx_id(const struct pack_idx *, uint32_t i, git_oid *out);
/* Where id starts in the .pack; -ENOENT, or -EINVAL on a bad offset. */
int	pack_idx_find(const struct pack_idx *, const git_oid *id,
	    uint64_t *offset);

#endif
