/*
 * Terraform's plugin cache, shared by every deployment and safe with
 * parallel runs.  Terraform's own cache is not safe for concurrent
 * writers: two "init"s installing the same provider write the same files
 * at once.  So no terraform process ever writes the shared cache: each
 * deployment has a private cache folder (never two runs at once on one
 * deployment, so it has one writer at a time), seeded before "init" with
 * hard links to the shared packages it lacks, and what "init" added is
 * published back the same way once it succeeded.  A package folder is
 * linked under a temporary dot name and renamed into place, so whoever
 * reads a cache sees a whole package or none.  Hard links cost no space
 * and no copy; the cache is a convenience: anything that fails (another
 * file system, a full disk) only means terraform downloads again.
 */
#ifndef TFCACHE_H
#define TFCACHE_H

/*
 * Link every package folder of the cache FROM (the unpacked layout
 * HOST/NAMESPACE/TYPE/VERSION/OS_ARCH/, or packed archives at any depth
 * above) that TO lacks into TO.  Best effort: returns the number of
 * packages added, or -errno when FROM cannot be read at all.
 */
int	tfcache_sync(const char *from, const char *to);

#endif
