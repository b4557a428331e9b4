/*
 * A mirror's packs, kept few.  libgit2 writes every fetched pack as it
 * came and has no gc: a repository pushed to once an hour would hold 8,760
 * packs after a year, each opened (an fd, two mmaps) as lookups touch it
 * and kept open until the repository is freed, every lookup of an old
 * object scanning pack after pack.
 *
 * When a mirror holds more than a limit of packs, the small recent ones
 * are rolled into one, geometrically as git repack --geometric=2 does: a
 * pack is left alone while it holds more than twice the objects of all
 * smaller packs together, so the big old pack of the first fetch is
 * rewritten only once the others add up to half of it, and the cost of a
 * roll-up is that of the objects it rolls, not of the whole repository.  The objects
 * are read from the rolled packs' .idx files (gitformat-pack(5)), all of
 * them: nothing is dropped, so every ref (the branch, the ledger's, the
 * pull requests', the push refs) keeps what it reaches.  The packbuilder
 * computes deltas among them, so successive versions of a tree stay
 * deltas of each other.
 *
 * Crash safety: the new pack and its .idx are written (the .idx last) and
 * synced before any old file goes; then each old .idx goes before its
 * .pack.  A crash leaves at worst objects in two packs (the next roll-up
 * folds them) or a .pack without its .idx (invisible to Git and libgit2,
 * removed by the next roll-up).  The mirror's lane runs its tasks one at
 * a time (workers.h), so no fetch of the daemon writes the folder
 * meanwhile; another git_repository open on it (the engine's) keeps
 * reading the old files through its open fds and finds the new pack on
 * its first miss.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/repository.h>

#include "mirror.h"
#include "pack-idx.h"
#include "xmalloc.h"

/* An .idx bigger than this is not read (2^24 objects, as git's limit). */
#define MIRROR_PACK_IDX_MAX	(1u << 24)

struct mirror_pack {
	char		*base;		/* objects/pack/pack-HASH, no suffix */
	uint32_t	 objects;	/* in its .idx */
	bool		 keep;		/* a .keep: never rolled */
};

struct mirror_pack_list {
	struct mirror_pack	*packs;
	size_t			 n;
	char			**orphans;	/* .pack files with no .idx */
	size_t			 norphans;
};

static char *
mirror_pack_cause(const char *what)
{
	const git_error	*e = git_error_last();

	return (xasprintf("%s: %s", what, e != NULL && e->message != NULL ?
	    e->message : "unknown error"));
}

static char *
mirror_pack_dir(git_repository *repo)
{
	/* git_repository_path ends with a slash. */
	return (xasprintf("%sobjects/pack", git_repository_path(repo)));
}

static void
mirror_pack_list_release(struct mirror_pack_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->packs[i].base);
	for (i = 0; i < l->norphans; i++)
		free(l->orphans[i]);
	free(l->packs);
	free(l->orphans);
	memset(l, 0, sizeof *l);
}

static bool
mirror_pack_exists(const char *base, const char *suffix)
{
	struct stat	 st;
	char		*path = xasprintf("%s%s", base, suffix);
	bool		 found;

	found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return (found);
}

/* The objects in base's .idx; 0 when it cannot be read. */
static uint32_t
mirror_pack_objects(const char *base)
{
	struct pack_idx	 x;
	char		*path = xasprintf("%s.idx", base);
	uint32_t	 n = 0;

	if (pack_idx_open(&x, path) == 0) {
		if (x.n <= MIRROR_PACK_IDX_MAX)
			n = x.n;
		pack_idx_close(&x);
	}
	free(path);
	return (n);
}

/* The packs (pack-*.idx with their .pack) and the orphaned .pack files. */
static int
mirror_pack_list(const char *dir, struct mirror_pack_list *l)
{
	DIR		*d;
	struct dirent	*e;
	char		*base;
	size_t		 len;

	memset(l, 0, sizeof *l);
	if ((d = opendir(dir)) == NULL)
		return (errno == ENOENT ? 0 : -errno);
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (strncmp(e->d_name, "pack-", 5) != 0 || len < 10)
			continue;
		if (strcmp(e->d_name + len - 4, ".idx") == 0) {
			base = xasprintf("%s/%.*s", dir, (int)(len - 4),
			    e->d_name);
			if (!mirror_pack_exists(base, ".pack")) {
				free(base);
				continue;
			}
			l->packs = xreallocarray(l->packs, l->n + 1,
			    sizeof *l->packs);
			l->packs[l->n].base = base;
			l->packs[l->n].objects = mirror_pack_objects(base);
			l->packs[l->n].keep = mirror_pack_exists(base, ".keep");
			l->n++;
		} else if (strcmp(e->d_name + len - 5, ".pack") == 0) {
			base = xasprintf("%s/%.*s", dir, (int)(len - 5),
			    e->d_name);
			if (mirror_pack_exists(base, ".idx") ||
			    mirror_pack_exists(base, ".keep")) {
				free(base);
				continue;
			}
			l->orphans = xreallocarray(l->orphans, l->norphans + 1,
			    sizeof *l->orphans);
			l->orphans[l->norphans++] = base;
		}
	}
	closedir(d);
	return (0);
}

static int
mirror_pack_by_objects(const void *a, const void *b)
{
	const struct mirror_pack	*pa = a, *pb = b;

	if (pa->objects != pb->objects)
		return (pa->objects > pb->objects ? -1 : 1);
	return (strcmp(pa->base, pb->base));
}

/* Insert every object of one pack, read from its .idx (v1 or v2). */
static int
mirror_pack_insert_idx(git_packbuilder *pb, const char *base, char **cause)
{
	struct pack_idx	 x;
	char		*path = xasprintf("%s.idx", base);
	git_oid		 oid;
	uint32_t	 i;
	int		 error;

	if ((error = pack_idx_open(&x, path)) != 0 ||
	    x.n > MIRROR_PACK_IDX_MAX) {
		*cause = error == -EINVAL || error == 0 ?
		    xasprintf("%s: not a pack index", path) :
		    xasprintf("%s: %s", path, strerror(-error));
		pack_idx_close(&x);
		free(path);
		return (error != 0 && error != -EINVAL ? error : -EIO);
	}
	for (i = 0; i < x.n && error == 0; i++) {
		pack_idx_id(&x, i, &oid);
		if (git_packbuilder_insert(pb, &oid, NULL) != 0) {
			*cause = mirror_pack_cause(path);
			error = -EIO;
		}
	}
	pack_idx_close(&x);
	free(path);
	return (error);
}

static void
mirror_pack_unlink(const char *base)
{
	static const char *const suffixes[] = { ".idx", ".rev", ".bitmap",
	    ".pack" };
	char	*path;
	size_t	 i;

	/* The .idx first: without it the pack is no longer seen. */
	for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		path = xasprintf("%s%s", base, suffixes[i]);
		(void)unlink(path);
		free(path);
	}
}

static int
mirror_pack_fsync(const char *path, int flags)
{
	int	fd, error = 0;

	if ((fd = open(path, flags | O_CLOEXEC)) == -1)
		return (-errno);
	if (fsync(fd) != 0)
		error = -errno;
	close(fd);
	return (error);
}

int
mirror_pack_reopen(git_repository *repo, char **cause)
{
	git_odb	*odb;
	char	*dir;
	int	 rc;

	/*
	 * git_odb_refresh only adds packs: the removed ones stay open (an
	 * fd, their mmaps) as long as the odb lives.  A new odb on the
	 * same folder, for the same git_repository (whose pointer callers
	 * hold): the old one, and its handles, go when the last object read
	 * from it is freed.
	 */
	dir = xasprintf("%sobjects", git_repository_path(repo));
	rc = git_odb_open(&odb, dir);
	free(dir);
	if (rc != 0) {
		*cause = mirror_pack_cause("cannot reopen the objects");
		return (-EIO);
	}
	rc = git_repository_set_odb(repo, odb);
	git_odb_free(odb);
	if (rc != 0) {
		*cause = mirror_pack_cause("cannot reopen the objects");
		return (-EIO);
	}
	return (0);
}

size_t
mirror_pack_count(git_repository *repo)
{
	struct mirror_pack_list	 l;
	char			*dir = mirror_pack_dir(repo);
	size_t			 n;

	n = mirror_pack_list(dir, &l) == 0 ? l.n : 0;
	mirror_pack_list_release(&l);
	free(dir);
	return (n);
}

/*
 * Which packs to roll: the list sorted biggest first, the first index
 * rolled (packs from it on).  A pack stays while it holds more than twice
 * the objects of all smaller ones together; kept packs (.keep) stay.
 * Objects, not bytes: a fetched pack carries whole the objects its deltas
 * were made against (libgit2's indexer completes thin packs), the 4.3 MB
 * deployments/ tree of 100,000 deployments in each, so 16 fetches weigh
 * more bytes than the first pack but roll into one tree and 15 deltas.
 */
static size_t
mirror_pack_split(struct mirror_pack_list *l, size_t limit)
{
	uint64_t *below;
	size_t	 i, split;

	qsort(l->packs, l->n, sizeof *l->packs, mirror_pack_by_objects);
	below = xcalloc(l->n + 1, sizeof *below);
	for (i = l->n; i > 0; i--)
		below[i - 1] = below[i] +
		    (l->packs[i - 1].keep ? 0 : l->packs[i - 1].objects);
	for (split = 0; split < l->n; split++) {
		if (l->packs[split].keep)
			continue;
		if (l->packs[split].objects <= 2 * below[split + 1])
			break;
	}
	free(below);
	/* So many kept that the limit would be reached again at once. */
	if (split > limit / 2)
		split = 0;
	return (split);
}

int
mirror_pack_consolidate(git_repository *repo, size_t limit, size_t *seen,
    char **cause)
{
	struct mirror_pack_list	 l;
	git_packbuilder		*pb = NULL;
	char			*dir, *fresh = NULL;
	size_t			 i, split, rolled = 0;
	int			 error;

	*cause = NULL;
	dir = mirror_pack_dir(repo);
	if ((error = mirror_pack_list(dir, &l)) != 0) {
		*cause = xasprintf("%s: %s", dir, strerror(-error));
		goto out;
	}
	/* Another handle on the folder rolled packs this one has open. */
	if (l.n < *seen && (error = mirror_pack_reopen(repo, cause)) != 0)
		goto out;
	*seen = l.n;
	if (l.n <= limit)
		goto out;

	split = mirror_pack_split(&l, limit);
	error = -EIO;
	if (git_packbuilder_new(&pb, repo) != 0) {
		*cause = mirror_pack_cause("cannot pack");
		goto out;
	}
	/* One thread: the daemon's pool shares the machine's cores. */
	git_packbuilder_set_threads(pb, 1);
	for (i = split; i < l.n; i++) {
		if (l.packs[i].keep)
			continue;
		if ((error = mirror_pack_insert_idx(pb, l.packs[i].base,
		    cause)) != 0)
			goto out;
		rolled++;
	}
	error = 0;
	if (rolled < 2)		/* only .keep packs: nothing to fold */
		goto out;
	error = -EIO;
	if (git_packbuilder_write(pb, dir, 0, NULL, NULL) != 0) {
		*cause = mirror_pack_cause("cannot write the pack");
		goto out;
	}
	fresh = xasprintf("%s/pack-%s", dir, git_packbuilder_name(pb));
	{
		char	*p = xasprintf("%s.pack", fresh);
		char	*x = xasprintf("%s.idx", fresh);

		/* On disk before anything it replaces is gone. */
		error = mirror_pack_fsync(p, O_RDONLY);
		if (error == 0)
			error = mirror_pack_fsync(x, O_RDONLY);
		if (error == 0)
			error = mirror_pack_fsync(dir, O_RDONLY | O_DIRECTORY);
		free(p);
		free(x);
		if (error != 0) {
			*cause = xasprintf("%s: %s", fresh, strerror(-error));
			goto out;
		}
	}
	for (i = split; i < l.n; i++) {
		/* The same objects may give the same pack again. */
		if (!l.packs[i].keep && strcmp(l.packs[i].base, fresh) != 0)
			mirror_pack_unlink(l.packs[i].base);
	}
	for (i = 0; i < l.norphans; i++) {
		if (strcmp(l.orphans[i], fresh) != 0)
			mirror_pack_unlink(l.orphans[i]);
	}
	if ((error = mirror_pack_reopen(repo, cause)) != 0)
		goto out;
	*seen = mirror_pack_count(repo);
out:
	git_packbuilder_free(pb);
	mirror_pack_list_release(&l);
	free(fresh);
	free(dir);
	return (error);
}
