/*
 * A mirror: the daemon's own bare repository for one config repository,
 * under the state directory, that fetches one branch from its URL (a local
 * path, file://, https://, http://, ssh:// or scp-like user@host:path).
 *
 * mirror_fetch blocks on the network: the daemon calls it from a worker
 * thread, never from the event loop.  One struct mirror is used by one
 * thread at a time; another thread opens the same folder for itself.
 */
#ifndef MIRROR_H
#define MIRROR_H

#include <stdbool.h>

#include <git2.h>

struct mirror_auth {
	const char	*ssh_key;	/* private key file, or NULL */
	const char	*token_file;	/* HTTPS token file, or NULL */
	/*
	 * SSH host keys are checked against this known_hosts file, or else
	 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts; a host that is
	 * not there, or whose key differs, is refused.
	 */
	const char	*known_hosts;
};

/* Is the key (raw, from the SSH handshake) the one known for host:port? */
int	mirror_known_host(const char *file, const char *host, int port,
	    const unsigned char *key, size_t keylen, char **cause);

struct mirror;

/*
 * libgit2's process-wide options for reading mirrors: objects are not
 * hashed again on every read (the indexer hashed each as it arrived), and
 * its object cache holds 4 MiB at most.
 * mirror_open sets them; a program reading a mirror's objects otherwise
 * calls it after git_libgit2_init.
 */
void	 mirror_read_options(void);
int	 mirror_open(struct mirror **out, const char *dir, const char *url,
	    const char *branch, const struct mirror_auth *, char **cause);
/*
 * Fetch the branch (and only it); *tip receives its commit.  A deadline in
 * seconds bounds the whole transfer (0: none).  -ENOENT when the remote
 * has no such branch (the tracking ref is then removed too).
 */
int	 mirror_fetch(struct mirror *, int deadline, git_oid *tip,
	    char **cause);
/*
 * Push a commit of the mirror to refs/heads/BRANCH of the remote, only if
 * that branch is still at expect (NULL: it must not exist yet): a
 * compare-and-swap, never a forced update.  Same credentials, host key
 * checks and deadline as mirror_fetch.  -EAGAIN when the branch moved
 * (someone else pushed: fetch, rebuild on the new tip, push again); -EIO
 * when the remote could not be reached or refused (a hook, a protected
 * branch, no right to push), with *cause.
 */
int	 mirror_push(struct mirror *, const char *branch,
	    const git_oid *commit, const git_oid *expect, int deadline,
	    char **cause);
/* The last fetched tip without fetching; -ENOENT before any fetch. */
int	 mirror_tip(struct mirror *, git_oid *tip);
git_repository *mirror_repository(struct mirror *);
const char *mirror_path(const struct mirror *);
void	 mirror_free(struct mirror *);

/*
 * The port of an ssh:// URL: 22 for scp-like ones and when it names none;
 * -EINVAL when it is not a number from 1 to 65535.
 */
int	 mirror_ssh_port(const char *url);

/* A URL that names a folder on this machine: its path, else NULL. */
char	*mirror_local_path(const char *url);

/*
 * Fetch one ref src (a pull request's head) into dst, a ref of the
 * mirror's own (refs/cloudsphere/...); *out receives its commit.  url
 * NULL fetches from the mirror's URL with its credentials; another url (a
 * fork) is fetched without them.  -ENOENT when the remote has no src.
 */
int	 mirror_fetch_ref(struct mirror *, const char *url, const char *src,
	    const char *dst, int deadline, git_oid *out, char **cause);
/* Delete one of the mirror's refs; 0 if it is gone or never was. */
int	 mirror_drop_ref(struct mirror *, const char *ref);

/*
 * mirror-pack.c: the mirror's packs kept few.  Each fetch adds a pack;
 * mirror_fetch and mirror_fetch_ref roll the small ones into one when
 * there are more than MIRROR_PACK_LIMIT.  16: below it a lookup that
 * misses scans few enough indexes and a mirror holds 16 to 32 fds and
 * mmaps at most, and a roll-up comes once per 16 fetches, each rewriting
 * only the objects of the small packs (git's gc.autoPackLimit is 50 but
 * git keeps no repository open for days).
 */
#define MIRROR_PACK_LIMIT	16

/* Packs (pack-*.idx with their .pack) in the repository's objects/pack. */
size_t	 mirror_pack_count(git_repository *);
/*
 * Roll the small packs into one when there are more than limit, write it
 * and sync it, then remove the packs it replaces and reopen the
 * repository's objects so that none of their handles stay open.  *seen is
 * the count this handle saw last (0 at first): fewer packs now means
 * another handle rolled them, and the objects are reopened too; it
 * receives the count after.  Every object stays (nothing unreachable is
 * dropped).
 */
int	 mirror_pack_consolidate(git_repository *, size_t limit,
	    size_t *seen, char **cause);
/* Why the last fetch's roll-up failed (borrowed), or NULL. */
const char *mirror_pack_error(const struct mirror *);
/* A new odb for the repository: the old one's pack handles go with it. */
int	 mirror_pack_reopen(git_repository *, char **cause);

#endif
