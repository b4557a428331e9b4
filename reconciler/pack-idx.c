/*
 * Git's pack indexes, read from a read-only mapping (pack-idx.h).
 *
 *	version 2: "\377tOc", 2, fanout[256], ids[n] (20 bytes each),
 *		   crc32[n], offsets[n] (MSB set: an index into the 64-bit
 *		   offsets that follow), then the two checksums
 *	version 1: fanout[256], then n entries of a 4-byte offset and the
 *		   20-byte id, then the two checksums
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pack-idx.h"

#define IDX_V2_HEAD	8
#define IDX_FANOUT	(256 * 4)
#define IDX_TRAILER	40		/* the pack's and the index's SHA-1 */

static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

static const unsigned char *
idx_fanout(const struct pack_idx *x)
{
	return (x->map + (x->v2 ? IDX_V2_HEAD : 0));
}

/* The i-th id. */
static const unsigned char *
idx_id(const struct pack_idx *x, uint32_t i)
{
	const unsigned char *p = idx_fanout(x) + IDX_FANOUT;

	return (x->v2 ? p + (size_t)i * 20 : p + (size_t)i * 24 + 4);
}

int
pack_idx_open(struct pack_idx *x, const char *path)
{
	const unsigned char	*fanout;
	struct stat		 st;
	uint32_t		 prev = 0, i, f;
	size_t			 room, entry;
	void			*map;
	int			 fd, error;

	memset(x, 0, sizeof *x);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-errno);
	if (fstat(fd, &st) == -1) {
		error = -errno;
		close(fd);
		return (error);
	}
	if (st.st_size < IDX_FANOUT + IDX_TRAILER) {
		close(fd);
		return (-EINVAL);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	error = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return (error);
	x->map = map;
	x->len = (size_t)st.st_size;
	x->v2 = memcmp(x->map, "\377tOc", 4) == 0;
	if (x->v2 && (x->len < IDX_V2_HEAD + IDX_FANOUT + IDX_TRAILER ||
	    be32(x->map + 4) != 2))
		goto bad;
	fanout = idx_fanout(x);
	for (i = 0; i < 256; i++) {
		if ((f = be32(fanout + 4 * i)) < prev)
			goto bad;
		prev = f;
	}
	x->n = prev;
	room = x->len - (size_t)(fanout + IDX_FANOUT - x->map) - IDX_TRAILER;
	entry = x->v2 ? 20 + 4 + 4 : 24;
	if (room / entry < x->n)
		goto bad;
	return (0);
bad:
	pack_idx_close(x);
	return (-EINVAL);
}

void
pack_idx_close(struct pack_idx *x)
{
	if (x->map != NULL)
		munmap((void *)x->map, x->len);
	memset(x, 0, sizeof *x);
}

void
pack_idx_id(const struct pack_idx *x, uint32_t i, git_oid *out)
{
	git_oid_fromraw(out, idx_id(x, i));
}

/* The offset of the i-th object. */
static int
idx_offset(const struct pack_idx *x, uint32_t i, uint64_t *offset)
{
	const unsigned char	*offs, *big;
	uint32_t		 o;

	if (!x->v2) {
		*offset = be32(idx_id(x, i) - 4);
		return (0);
	}
	offs = idx_id(x, x->n) + (size_t)x->n * 4;	/* after the crc32s */
	o = be32(offs + (size_t)i * 4);
	if (!(o & 0x80000000u)) {
		*offset = o;
		return (0);
	}
	big = offs + (size_t)x->n * 4 + (size_t)(o & 0x7fffffff) * 8;
	if (big + 8 > x->map + x->len - IDX_TRAILER)
		return (-EINVAL);
	*offset = (uint64_t)be32(big) << 32 | be32(big + 4);
	return (0);
}

int
pack_idx_find(const struct pack_idx *x, const git_oid *id, uint64_t *offset)
{
	const unsigned char	*fanout = idx_fanout(x);
	uint32_t		 lo, hi, mid;
	unsigned		 first = id->id[0];
	int			 c;

	if (x->map == NULL)
		return (-ENOENT);
	lo = first == 0 ? 0 : be32(fanout + 4 * (first - 1));
	hi = be32(fanout + 4 * first);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(idx_id(x, mid), id->id, 20);
		if (c == 0)
			return (idx_offset(x, mid, offset));
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (-ENOENT);
}
