/*
 * Terraform's plugin cache, shared by every deployment and safe with
 * parallel runs.  Terraform's own cache is not safe for concurrent
 * writers: two "init"s installing the same provider write the same files
 * at once.  So no terraform process ever writes the shared cache: each
 * deployment has a private cache folder (never two runs at once on one
 * deployment, so it has one writer at a time), seeded before "init" with
 * copies of the shared packages it lacks, and what "init" added is
 * published back the same way once it succeeded.  A package folder is
 * copied under a temporary dot name and renamed into place, so whoever
 * reads a cache sees a whole package or none.  Copies, not hard links:
 * terraform rewrites a file it reinstalls in place, which would reach
 * through a link into every cache; a copy is a reflink where the file
 * system has them.  Disk use is what each deployment's own download would
 * take; the network is spared.  The cache is a convenience: anything that
 * fails (a full disk) only means terraform downloads again.  A package
 * terraform took from an unpacked filesystem mirror is a symbolic link to
 * the mirror: not shared (nothing was downloaded).
 */
#ifndef TFCACHE_H
#define TFCACHE_H

/*
 * Copy every package folder of the cache FROM (the unpacked layout
 * HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/, or packed archives at any depth
 * above) that TO lacks into TO.  Best effort: returns the number of
 * packages added, or -errno when FROM cannot be read at all.
 */
int	tfcache_sync(const char *from, const char *to);

#endif
