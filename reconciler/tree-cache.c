/*
 * Big Git trees kept in memory, and a new version read from its pack
 * delta against a kept one (tree-cache.h says why).
 *
 * The pack formats are Git's (gitformat-pack(5)): an .idx (pack-idx.c)
 * maps an object id to its offset in the .pack; there an object starts
 * with its type and size, and a delta with its base (an offset back in the
 * same pack, or an object id), then zlib data.  Anything here that is not
 * as expected makes tree_cache_get read the tree through libgit2 instead:
 * this file only ever saves time, it never decides what a tree holds.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <zlib.h>

#include "pack-idx.h"
#include "tree-cache.h"
#include "xmalloc.h"

#define OBJ_OFS_DELTA	6
#define OBJ_REF_DELTA	7

struct tree_buf {
	struct tree_buf	*next;		/* most recently used first */
	git_oid		 id;
	char		*objects;	/* the repository's objects folder */
	unsigned char	*data;
	size_t		 len;
	unsigned	 refs;		/* one is the cache's while listed */
	bool		 listed;
};

static pthread_mutex_t		 cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tree_buf		*cache_head;
static struct tree_cache_stats	 cache_counts;

static void
buf_free(struct tree_buf *b)
{
	free(b->objects);
	free(b->data);
	free(b);
}

void
tree_buf_unref(struct tree_buf *b)
{
	bool	last;

	if (b == NULL)
		return;
	pthread_mutex_lock(&cache_lock);
	last = --b->refs == 0;
	pthread_mutex_unlock(&cache_lock);
	if (last)
		buf_free(b);
}

const unsigned char *
tree_buf_data(const struct tree_buf *b, size_t *len)
{
	*len = b->len;
	return (b->data);
}

/* Under cache_lock: the listed tree id, with a reference taken. */
static struct tree_buf *
cache_find(const git_oid *id)
{
	struct tree_buf	**bp, *b;

	for (bp = &cache_head; (b = *bp) != NULL; bp = &b->next) {
		if (!git_oid_equal(&b->id, id))
			continue;
		*bp = b->next;		/* to the front */
		b->next = cache_head;
		cache_head = b;
		b->refs++;
		return (b);
	}
	return (NULL);
}

/*
 * Keep b (the caller's reference stays the caller's), unless the same id
 * was kept meanwhile by another thread, which is then returned instead.
 * The least recently used trees go beyond TREE_CACHE_PER_REPO of b's
 * repository, or beyond TREE_CACHE_MAX in all.
 */
static struct tree_buf *
cache_insert(struct tree_buf *b)
{
	struct tree_buf	**bp, *o, *dead = NULL;
	size_t		  total = b->len;
	unsigned	  same = 1;

	pthread_mutex_lock(&cache_lock);
	if ((o = cache_find(&b->id)) != NULL) {
		pthread_mutex_unlock(&cache_lock);
		buf_free(b);
		return (o);
	}
	b->refs = 2;
	b->listed = true;
	b->next = cache_head;
	cache_head = b;
	for (bp = &b->next; (o = *bp) != NULL; ) {
		bool mine = strcmp(o->objects, b->objects) == 0;

		if (total + o->len <= TREE_CACHE_MAX &&
		    (!mine || same < TREE_CACHE_PER_REPO)) {
			total += o->len;
			same += mine;
			bp = &o->next;
			continue;
		}
		*bp = o->next;
		o->listed = false;
		if (--o->refs == 0) {
			o->next = dead;
			dead = o;
		}
	}
	cache_counts.bytes = total;
	pthread_mutex_unlock(&cache_lock);
	while ((o = dead) != NULL) {
		dead = o->next;
		buf_free(o);
	}
	return (b);
}

void
tree_cache_clear(void)
{
	struct tree_buf	*b, *dead = NULL;

	pthread_mutex_lock(&cache_lock);
	while ((b = cache_head) != NULL) {
		cache_head = b->next;
		b->listed = false;
		if (--b->refs == 0) {
			b->next = dead;
			dead = b;
		}
	}
	memset(&cache_counts, 0, sizeof cache_counts);
	pthread_mutex_unlock(&cache_lock);
	while ((b = dead) != NULL) {
		dead = b->next;
		buf_free(b);
	}
}

void
tree_cache_stats(struct tree_cache_stats *out)
{
	pthread_mutex_lock(&cache_lock);
	*out = cache_counts;
	pthread_mutex_unlock(&cache_lock);
}

static void
count(unsigned long *c)
{
	pthread_mutex_lock(&cache_lock);
	(*c)++;
	pthread_mutex_unlock(&cache_lock);
}

/* Deltas. */

static bool
delta_varint(const unsigned char **p, const unsigned char *end, size_t *out)
{
	size_t		v = 0;
	unsigned	shift = 0;
	unsigned char	c;

	do {
		if (*p == end || shift > 56)
			return (false);
		c = *(*p)++;
		v |= (size_t)(c & 0x7f) << shift;
		shift += 7;
	} while (c & 0x80);
	*out = v;
	return (true);
}

int
tree_delta_apply(const unsigned char *base, size_t baselen,
    const unsigned char *delta, size_t deltalen, size_t maxlen,
    unsigned char **out, size_t *outlen)
{
	const unsigned char	*p = delta, *end = delta + deltalen;
	unsigned char		*dst, *q;
	size_t			 srclen, dstlen, left;

	*out = NULL;
	*outlen = 0;
	if (!delta_varint(&p, end, &srclen) || srclen != baselen ||
	    !delta_varint(&p, end, &dstlen) || dstlen > maxlen)
		return (-EINVAL);
	dst = q = xmalloc(dstlen > 0 ? dstlen : 1);
	left = dstlen;
	while (p < end) {
		unsigned char	cmd = *p++;
		size_t		off = 0, n = 0;
		unsigned	i;

		if (cmd & 0x80) {		/* copy from the base */
			for (i = 0; i < 4; i++) {
				if (!(cmd & (1u << i)))
					continue;
				if (p == end)
					goto bad;
				off |= (size_t)*p++ << (8 * i);
			}
			for (i = 0; i < 3; i++) {
				if (!(cmd & (0x10u << i)))
					continue;
				if (p == end)
					goto bad;
				n |= (size_t)*p++ << (8 * i);
			}
			if (n == 0)
				n = 0x10000;
			if (off > baselen || n > baselen - off || n > left)
				goto bad;
			memcpy(q, base + off, n);
		} else if (cmd != 0) {		/* insert */
			n = cmd;
			if (n > (size_t)(end - p) || n > left)
				goto bad;
			memcpy(q, p, n);
			p += n;
		} else
			goto bad;		/* reserved */
		q += n;
		left -= n;
	}
	if (left != 0)
		goto bad;
	*out = dst;
	*outlen = dstlen;
	return (0);
bad:
	free(dst);
	return (-EINVAL);
}

/*
 * The pack holding id: its index (open, for more lookups), its .pack
 * opened, and the object's offset there.
 */
static int
pack_find(const char *objects, const git_oid *id, struct pack_idx *x,
    int *packfd, uint64_t *offset)
{
	char		 path[PATH_MAX];
	struct dirent	*de;
	DIR		*d;
	size_t		 len;
	int		 found = -ENOENT;

	if (snprintf(path, sizeof path, "%spack", objects) >= (int)sizeof path ||
	    (d = opendir(path)) == NULL)
		return (-ENOENT);
	while (found != 0 && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".idx") != 0 ||
		    de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof path, "%spack/%s", objects,
		    de->d_name) >= (int)sizeof path || pack_idx_open(x, path) != 0)
			continue;
		if (pack_idx_find(x, id, offset) != 0) {
			pack_idx_close(x);
			continue;
		}
		if (strlen(path) + 2 > sizeof path) {
			pack_idx_close(x);
			continue;
		}
		memcpy(path + strlen(path) - 4, ".pack", 6);
		if ((*packfd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			pack_idx_close(x);
			continue;
		}
		found = 0;
	}
	closedir(d);
	return (found);
}

/*
 * The object header at offset: its type, size, and for a delta its base
 * (*base_off for an offset delta, *base_id for a reference delta); *data
 * receives the offset of its zlib data.
 */
static int
pack_header(int fd, uint64_t offset, unsigned *type, size_t *size,
    uint64_t *base_off, git_oid *base_id, uint64_t *data)
{
	unsigned char	 h[64];
	const unsigned char *p = h, *end;
	ssize_t		 n;
	unsigned	 shift = 4;
	unsigned char	 c;

	if (offset > INT64_MAX ||
	    (n = pread(fd, h, sizeof h, (off_t)offset)) < 2)
		return (-EIO);
	end = h + n;
	c = *p++;
	*type = (c >> 4) & 7;
	*size = c & 15;
	while (c & 0x80) {
		if (p == end || shift > 56)
			return (-EINVAL);
		c = *p++;
		*size |= (size_t)(c & 0x7f) << shift;
		shift += 7;
	}
	if (*type == OBJ_OFS_DELTA) {
		uint64_t back;

		if (p == end)
			return (-EINVAL);
		c = *p++;
		back = c & 0x7f;
		while (c & 0x80) {
			if (p == end || back >= (UINT64_C(1) << 56))
				return (-EINVAL);
			c = *p++;
			back = ((back + 1) << 7) | (c & 0x7f);
		}
		if (back == 0 || back > offset)
			return (-EINVAL);
		*base_off = offset - back;
	} else if (*type == OBJ_REF_DELTA) {
		if (end - p < 20)
			return (-EINVAL);
		memcpy(base_id->id, p, 20);
		p += 20;
	}
	*data = offset + (uint64_t)(p - h);
	return (0);
}

/* Inflate exactly size bytes of zlib data at offset. */
static int
pack_inflate(int fd, uint64_t offset, size_t size, unsigned char **out)
{
	unsigned char	 in[16384];
	unsigned char	*dst;
	z_stream	 z;
	ssize_t		 n;
	int		 rc = Z_OK;

	*out = NULL;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return (-ENOMEM);
	dst = xmalloc(size > 0 ? size : 1);
	z.next_out = dst;
	z.avail_out = (uInt)size;
	while (rc == Z_OK) {
		if (z.avail_in == 0) {
			if ((n = pread(fd, in, sizeof in, (off_t)offset)) <= 0)
				break;
			offset += (uint64_t)n;
			z.next_in = in;
			z.avail_in = (uInt)n;
		}
		rc = inflate(&z, Z_NO_FLUSH);
		if (rc == Z_BUF_ERROR && z.avail_out == 0)
			break;		/* more data than the header said */
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END || z.total_out != size) {
		free(dst);
		return (-EINVAL);
	}
	*out = dst;
	return (0);
}

/*
 * id rebuilt from its pack delta against a listed tree, or NULL: not
 * packed, not a delta, a base not kept here, or anything unexpected.
 */
static struct tree_buf *
tree_from_delta(const char *objects, const git_oid *id, size_t size)
{
	struct pack_idx	 x;
	struct tree_buf	*base = NULL, *b, *t = NULL;
	git_oid		 base_id;
	uint64_t	 offset, base_off = 0, data, o;
	unsigned char	*delta = NULL, *out;
	unsigned	 type;
	size_t		 dsize, outlen;
	int		 fd = -1;

	memset(&x, 0, sizeof x);
	if (pack_find(objects, id, &x, &fd, &offset) != 0)
		goto out;
	if (pack_header(fd, offset, &type, &dsize, &base_off, &base_id,
	    &data) != 0 || (type != OBJ_OFS_DELTA && type != OBJ_REF_DELTA) ||
	    dsize > TREE_CACHE_DELTA_MAX)
		goto out;

	pthread_mutex_lock(&cache_lock);
	if (type == OBJ_REF_DELTA)
		base = cache_find(&base_id);
	else {
		for (b = cache_head; b != NULL && base == NULL; b = b->next) {
			if (pack_idx_find(&x, &b->id, &o) == 0 && o == base_off)
				base = cache_find(&b->id);
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (base == NULL || pack_inflate(fd, data, dsize, &delta) != 0 ||
	    tree_delta_apply(base->data, base->len, delta, dsize, size, &out,
	    &outlen) != 0)
		goto out;
	if (outlen != size) {
		free(out);
		goto out;
	}
	t = xcalloc(1, sizeof *t);
	t->id = *id;
	t->objects = xstrdup(objects);
	t->data = out;
	t->len = outlen;
out:
	tree_buf_unref(base);
	free(delta);
	if (fd != -1)
		close(fd);
	pack_idx_close(&x);
	return (t);
}

struct tree_buf *
tree_cache_get(git_repository *repo, const git_oid *id)
{
	struct tree_buf	*b = NULL;
	git_buf		 objects = { 0 };
	git_odb		*odb = NULL;
	git_odb_object	*obj = NULL;
	git_object_t	 type;
	size_t		 size;

	pthread_mutex_lock(&cache_lock);
	b = cache_find(id);
	if (b != NULL)
		cache_counts.hits++;
	pthread_mutex_unlock(&cache_lock);
	if (b != NULL)
		return (b);

	if (git_repository_odb(&odb, repo) != 0 ||
	    git_odb_read_header(&size, &type, odb, id) != 0 ||
	    type != GIT_OBJECT_TREE)
		goto out;
	if (size < TREE_CACHE_MIN) {
		count(&cache_counts.small);
		goto out;
	}
	if (git_repository_item_path(&objects, repo,
	    GIT_REPOSITORY_ITEM_OBJECTS) != 0)
		goto out;
	if ((b = tree_from_delta(objects.ptr, id, size)) != NULL) {
		count(&cache_counts.deltas);
		b = cache_insert(b);
		goto out;
	}
	if (git_odb_read(&obj, odb, id) != 0 ||
	    git_odb_object_type(obj) != GIT_OBJECT_TREE)
		goto out;
	b = xcalloc(1, sizeof *b);
	b->id = *id;
	b->objects = xstrdup(objects.ptr);
	b->len = git_odb_object_size(obj);
	b->data = xmalloc(b->len);
	memcpy(b->data, git_odb_object_data(obj), b->len);
	count(&cache_counts.whole);
	b = cache_insert(b);
out:
	git_odb_object_free(obj);
	git_odb_free(odb);
	git_buf_dispose(&objects);
	return (b);
}

/* Raw trees: "<octal mode> <name>\0<20-byte id>", over and over. */
int
tree_raw_walk(const unsigned char *p, size_t len,
    int (*fn)(void *, const char *, unsigned, const git_oid *), void *arg)
{
	const unsigned char	*end = p + len, *nul;
	git_oid			 id;
	unsigned		 mode;
	int			 error;

	while (p < end) {
		mode = 0;
		if (*p == ' ')
			return (-EINVAL);
		while (p < end && *p != ' ') {
			if (*p < '0' || *p > '7' || mode > 0177777)
				return (-EINVAL);
			mode = mode * 8 + (unsigned)(*p++ - '0');
		}
		if (p == end || ++p == end ||
		    (nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    nul == p || (size_t)(end - nul - 1) < 20)
			return (-EINVAL);
		memcpy(id.id, nul + 1, 20);
		if ((error = fn(arg, (const char *)p, mode, &id)) != 0)
			return (error);
		p = nul + 21;
	}
	return (0);
}
