/*
 * The daemon's bare mirror of a config repository: fetches one branch into
 * refs/remotes/origin/BRANCH with libgit2, with the configured credentials
 * and a deadline on the whole transfer.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>
#include <git2/sys/repository.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "compat.h"
#include "mirror.h"
#include "xmalloc.h"

#define MIRROR_TOKEN_MAX	4096

struct mirror {
	char			*dir;
	char			*url;
	char			*branch;
	char			*ref;		/* refs/remotes/origin/BRANCH */
	char			*ssh_key;
	char			*token_file;
	char			*known_hosts;
	char			*host_error;	/* why a host key was refused */
	char			*push_error;	/* the remote's word on a push */
	bool			 push_moved;	/* the branch moved meanwhile */
	const git_oid		*push_expect;	/* where it must still be */
	git_repository		*repo;
	git_remote		*remote;	/* anonymous, made once */
	git_repository		*local;		/* the remote, if a local path */
	time_t			 deadline;	/* of the fetch under way */
	int			 tries;		/* credential attempts */
	size_t			 packs;		/* seen after the last fetch */
	char			*pack_error;	/* the last roll-up's failure */
};

static char *
mirror_cause(const char *what)
{
	const git_error	*e = git_error_last();

	return (xasprintf("%s: %s", what, e != NULL && e->message != NULL ?
	    e->message : "unknown error"));
}

char *
mirror_local_path(const char *url)
{
	if (strncmp(url, "file://", 7) == 0)
		return (xstrdup(url + 7));
	if (url[0] == '/')
		return (xstrdup(url));
	return (NULL);
}

void
mirror_read_options(void)
{
	/*
	 * A fetch writes a pack through libgit2's indexer, which computes
	 * every object's id from its content, and a mirror is written by
	 * nothing else.  Hashing an object again each time it is read is
	 * what a one-change load spent most on: the deployments/ tree of
	 * 100,000 deployments is a 4.3 MB object, re-read whole when one of
	 * its entries changes, and SHA-1 with collision detection cost as
	 * much as inflating it.  Git itself does not hash on read either;
	 * zlib's checksum still catches a damaged object.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/*
	 * libgit2 caches the small commits and trees it parsed, up to 256
	 * MiB by default across the process: a daemon reading a new commit
	 * every few seconds for months would grow to that.  What a load reads
	 * twice is within one commit's few objects.
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE, (ssize_t)(4 * 1024 * 1024));
}

int
mirror_open(struct mirror **out, const char *dir, const char *url,
    const char *branch, const struct mirror_auth *auth, char **cause)
{
	struct mirror	*m;

	*out = NULL;
	*cause = NULL;
	git_libgit2_init();
	mirror_read_options();
	m = xcalloc(1, sizeof *m);
	m->dir = xstrdup(dir);
	m->url = xstrdup(url);
	m->branch = xstrdup(branch);
	m->ref = xasprintf("refs/remotes/origin/%s", branch);
	if (auth != NULL && auth->ssh_key != NULL)
		m->ssh_key = xstrdup(auth->ssh_key);
	if (auth != NULL && auth->token_file != NULL)
		m->token_file = xstrdup(auth->token_file);
	if (auth != NULL && auth->known_hosts != NULL)
		m->known_hosts = xstrdup(auth->known_hosts);

	if (git_repository_open_bare(&m->repo, dir) != 0 &&
	    git_repository_init(&m->repo, dir, 1) != 0) {
		*cause = mirror_cause(dir);
		goto fail;
	}
	m->packs = mirror_pack_count(m->repo);
	*out = m;
	return (0);

fail:
	mirror_free(m);
	return (-EIO);
}

static int
mirror_read_token(const char *path, char **out)
{
	FILE	*f;
	char	 buf[MIRROR_TOKEN_MAX];
	size_t	 n;

	*out = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return (-errno);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0')
		return (-EINVAL);
	*out = xstrdup(buf);
	explicit_bzero(buf, sizeof buf);
	return (0);
}

static int
mirror_credentials(git_credential **out, const char *url,
    const char *username, unsigned int allowed, void *arg)
{
	struct mirror	*m = arg;
	char		*token;
	int		 error;

	(void)url;
	if (++m->tries > 3)
		return (GIT_EAUTH);	/* refused: do not loop */
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && m->ssh_key != NULL)
		return (git_credential_ssh_key_new(out, username != NULL ?
		    username : "git", NULL, m->ssh_key, NULL));
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) &&
	    m->token_file != NULL) {
		if (mirror_read_token(m->token_file, &token) != 0)
			return (GIT_EAUTH);
		error = git_credential_userpass_plaintext_new(out,
		    username != NULL ? username : "x-access-token", token);
		explicit_bzero(token, strlen(token));
		free(token);
		return (error);
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return (git_credential_username_new(out, username != NULL ?
		    username : "git"));
	return (GIT_PASSTHROUGH);
}

/* Abort the transfer once its deadline has passed. */
static int
mirror_progress(const git_indexer_progress *stats, void *arg)
{
	struct mirror	*m = arg;

	(void)stats;
	if (m->deadline != 0 && time(NULL) > m->deadline) {
		git_error_set_str(GIT_ERROR_NET, "fetch took too long");
		return (-1);
	}
	return (0);
}

static int
mirror_sideband(const char *str, int len, void *arg)
{
	(void)str;
	(void)len;
	return (mirror_progress(NULL, arg));
}


/* Does a known_hosts host field (comma list, maybe hashed) name host? */
static bool
known_host_matches(const char *field, const char *name)
{
	char		*copy = xstrdup(field), *p, *save = NULL;
	unsigned char	 salt[64], hash[64], mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen;
	int		 n1, n2;
	bool		 found = false;

	for (p = strtok_r(copy, ",", &save); p != NULL && !found;
	    p = strtok_r(NULL, ",", &save)) {
		if (strncmp(p, "|1|", 3) == 0) {
			char *bar = strchr(p + 3, '|');

			if (bar == NULL)
				continue;
			*bar = '\0';
			n1 = EVP_DecodeBlock(salt, (const unsigned char *)p + 3,
			    (int)strlen(p + 3));
			n2 = EVP_DecodeBlock(hash,
			    (const unsigned char *)bar + 1,
			    (int)strlen(bar + 1));
			if (n1 < 20 || n2 < 20)
				continue;
			HMAC(EVP_sha1(), salt, 20, (const unsigned char *)name,
			    strlen(name), mac, &maclen);
			found = maclen == 20 && memcmp(mac, hash, 20) == 0;
		} else
			found = strcmp(p, name) == 0;
	}
	free(copy);
	return (found);
}

int
mirror_known_host(const char *file, const char *host, int port,
    const unsigned char *key, size_t keylen, char **cause)
{
	FILE		*f;
	char		*line = NULL, *name, *b64;
	size_t		 size = 0;
	bool		 seen = false;
	int		 error = -ENOENT;

	*cause = NULL;
	if ((f = fopen(file, "re")) == NULL)
		return (-ENOENT);
	name = port == 22 || port <= 0 ? xstrdup(host) :
	    xasprintf("[%s]:%d", host, port);
	b64 = xcalloc(1, 4 * ((keylen + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, key, (int)keylen);
	while (getline(&line, &size, f) != -1) {
		char	*fields[4], *p = line, *save = NULL;
		int	 n = 0;
		bool	 revoked = false;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (p = strtok_r(line, " \t", &save); p != NULL && n < 4;
		    p = strtok_r(NULL, " \t", &save))
			fields[n++] = p;
		if (n >= 1 && fields[0][0] == '@') {
			if (strcmp(fields[0], "@revoked") != 0)
				continue;	/* @cert-authority: not here */
			revoked = true;
			memmove(fields, fields + 1, sizeof fields[0] * 3);
			n--;
		}
		if (n < 3 || !known_host_matches(fields[0], name))
			continue;
		if (strcmp(fields[2], b64) == 0) {
			if (revoked) {
				*cause = xasprintf("the host key of %s is revoked in %s",
				    name, file);
				error = -EPERM;
				break;
			}
			error = 0;
			break;
		}
		seen = true;
	}
	if (error == -ENOENT && seen) {
		*cause = xasprintf("the host key of %s does not match %s",
		    name, file);
		error = -EPERM;
	}
	free(line);
	free(b64);
	free(name);
	fclose(f);
	return (error);
}

/*
 * The port of an ssh:// URL (22 for scp-like ones, and when the URL names
 * none); -EINVAL when it is not a number from 1 to 65535.
 */
int
mirror_ssh_port(const char *url)
{
	const char	*p, *colon, *slash;
	char		*end;
	long		 port;

	if (strncmp(url, "ssh://", 6) != 0)
		return (22);
	p = url + 6;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	if ((colon = memchr(p, ':', (size_t)(slash - p))) == NULL ||
	    colon + 1 == slash)
		return (22);
	if (colon[1] < '0' || colon[1] > '9')
		return (-EINVAL);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end != slash || port < 1 || port > 65535)
		return (-EINVAL);
	return ((int)port);
}

/* libgit2's certificate check: SSH host keys against known_hosts. */
static int
mirror_certificate(git_cert *cert, int valid, const char *host, void *arg)
{
	struct mirror		*m = arg;
	git_cert_hostkey	*hk = (git_cert_hostkey *)cert;
	const char		*files[3];
	char			*home = NULL, *cause = NULL;
	int			 port, error = -ENOENT;
	size_t			 i, n = 0;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return (valid ? 0 : GIT_ECERTIFICATE);	/* TLS: as verified */
	if (!(hk->type & GIT_CERT_SSH_RAW) || hk->hostkey_len == 0) {
		free(m->host_error);
		m->host_error = xasprintf("no host key from %s", host);
		return (GIT_ECERTIFICATE);
	}
	if ((port = mirror_ssh_port(m->url)) < 0) {
		free(m->host_error);
		m->host_error = xasprintf("no valid port in %s", m->url);
		return (GIT_ECERTIFICATE);
	}
	if (m->known_hosts != NULL)
		files[n++] = m->known_hosts;
	else {
		if (getenv("HOME") != NULL)
			files[n++] = home = xasprintf("%s/.ssh/known_hosts",
			    getenv("HOME"));
		files[n++] = "/etc/ssh/ssh_known_hosts";
	}
	for (i = 0; i < n && error == -ENOENT; i++) {
		free(cause);
		cause = NULL;
		error = mirror_known_host(files[i], host, port,
		    (const unsigned char *)hk->hostkey, hk->hostkey_len,
		    &cause);
	}
	free(m->host_error);
	m->host_error = NULL;
	if (error == -ENOENT)
		m->host_error = xasprintf("host %s is not in %s: add its key (ssh-keyscan)",
		    host, m->known_hosts != NULL ? m->known_hosts :
		    "~/.ssh/known_hosts or /etc/ssh/ssh_known_hosts");
	else if (error != 0)
		m->host_error = cause;
	else
		free(cause);
	free(home);
	return (error == 0 ? 0 : GIT_ECERTIFICATE);
}

int
mirror_tip(struct mirror *m, git_oid *tip)
{
	return (git_reference_name_to_id(tip, m->repo, m->ref) == 0 ? 0 :
	    -ENOENT);
}

/*
 * The callbacks of every transfer with the remote (fetch and push): the
 * configured credentials, SSH host keys against known_hosts, the deadline.
 */
static void
mirror_callbacks(struct mirror *m, git_remote_callbacks *cb, int deadline)
{
	cb->credentials = mirror_credentials;
	cb->certificate_check = mirror_certificate;
	cb->transfer_progress = mirror_progress;
	cb->sideband_progress = mirror_sideband;
	cb->payload = m;
	m->tries = 0;
	m->deadline = deadline > 0 ? time(NULL) + deadline : 0;
	free(m->host_error);
	m->host_error = NULL;
	free(m->push_error);
	m->push_error = NULL;
	m->push_moved = false;
}

/* The mirror's remote: anonymous, made once. */
static int
mirror_remote(struct mirror *m, char **cause)
{
	git_remote_create_options ropts;

	if (m->remote != NULL)
		return (0);
	/*
	 * Nothing in the mirror's configuration to keep in step with ours
	 * (and libgit2 1.5 leaks in the config lookups of named remotes).
	 */
	git_remote_create_options_init(&ropts,
	    GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ropts.repository = m->repo;
	ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&m->remote, m->url, &ropts) != 0) {
		*cause = mirror_cause("bad remote URL");
		return (-EIO);
	}
	return (0);
}

/*
 * After a fetch: the small packs rolled into one past the limit.  A
 * failure leaves the packs as they are (every object still there), and
 * does not fail the fetch; the next one tries again.
 */
static void
mirror_packs(struct mirror *m)
{
	char	*cause = NULL;

	free(m->pack_error);
	m->pack_error = NULL;
	if (mirror_pack_consolidate(m->repo, MIRROR_PACK_LIMIT, &m->packs,
	    &cause) != 0)
		m->pack_error = cause;
	else
		free(cause);
	git_error_clear();
}

const char *
mirror_pack_error(const struct mirror *m)
{
	return (m->pack_error);
}

/* Did the last connection list this ref ("refs/heads/B:..." works too)? */
static bool
mirror_advertised(struct mirror *m, const char *spec)
{
	const git_remote_head	**heads;
	size_t			  n, i, len = strcspn(spec, ":");

	/* The list stays readable after the connection closes. */
	if (git_remote_ls(&heads, &n, m->remote) != 0)
		return (true);	/* cannot tell: trust the fetched ref */
	for (i = 0; i < n; i++) {
		if (strlen(heads[i]->name) == len &&
		    strncmp(heads[i]->name, spec, len) == 0)
			return (true);
	}
	return (false);
}

/*
 * A local remote (a path or file://) is read directly first: when its
 * branch is where the mirror already is, there is nothing to fetch, and a
 * poll costs one ref read instead of a fetch (the remote opened again, its
 * refs listed, a negotiation).  Anything else (the branch missing, the
 * remote unreadable) falls through to the fetch, which says why.
 */
static bool
mirror_unchanged(struct mirror *m, git_oid *tip)
{
	git_config	*empty;
	git_oid		 theirs, ours;
	char		*path, *ref;
	bool		 same;

	if (m->local == NULL) {
		if ((path = mirror_local_path(m->url)) == NULL)
			return (false);
		if (git_repository_open_ext(&m->local, path,
		    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
			m->local = NULL;
			free(path);
			git_error_clear();
			return (false);
		}
		free(path);
		/*
		 * Only a ref is read here: the remote's configuration (its
		 * file, the user's and the system's, kept parsed by every
		 * open repository, a few KiB each) is not needed.
		 */
		if (git_config_new(&empty) == 0) {
			(void)git_repository_set_config(m->local, empty);
			git_config_free(empty);
		}
		git_error_clear();
	}
	ref = xasprintf("refs/heads/%s", m->branch);
	same = git_reference_name_to_id(&theirs, m->local, ref) == 0 &&
	    mirror_tip(m, &ours) == 0 && git_oid_equal(&theirs, &ours);
	free(ref);
	git_error_clear();
	if (same)
		*tip = ours;
	return (same);
}

int
mirror_fetch(struct mirror *m, int deadline, git_oid *tip, char **cause)
{
	git_fetch_options	 opts;
	git_remote		*remote = NULL;
	git_strarray		 specs;
	char			*spec;
	int			 error = -EIO;

	*cause = NULL;
	if (mirror_unchanged(m, tip)) {
		/* Another handle (the ledger's) may have rolled packs up. */
		mirror_packs(m);
		return (0);
	}
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	if ((error = mirror_remote(m, cause)) != 0)
		return (error);
	error = -EIO;
	remote = m->remote;
	/* Only the one branch: the refspec never names anything else. */
	spec = xasprintf("+refs/heads/%s:%s", m->branch, m->ref);
	specs.strings = &spec;
	specs.count = 1;
	mirror_callbacks(m, &opts.callbacks, deadline);
	opts.prune = GIT_FETCH_NO_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts.update_fetchhead = 0;
	if (git_remote_fetch(remote, &specs, &opts, "cloudsphere fetch") != 0) {
		*cause = m->host_error != NULL ?
		    xasprintf("fetch refused: %s", m->host_error) :
		    mirror_cause("fetch failed");
		goto out;
	}
	if (!mirror_advertised(m, spec + 1) || mirror_tip(m, tip) != 0) {
		/* Gone from the remote: not the last tip we saw either. */
		git_reference_remove(m->repo, m->ref);
		*cause = xasprintf("branch '%s' not found in %s", m->branch,
		    m->url);
		error = -ENOENT;
		goto out;
	}
	error = 0;
	mirror_packs(m);
out:
	free(spec);
	git_remote_disconnect(remote);
#ifdef __GLIBC__
	/*
	 * A fetch allocates megabytes (a local remote packs with zlib) and
	 * frees them; glibc keeps freed pages of a thread's arena resident.
	 * Give them back, or an idle daemon of many repositories stays as
	 * big as all its fetches at once were.
	 */
	malloc_trim(0);
#endif
	return (error);
}

/* The remote's answer for each ref; msg NULL: updated. */
static int
mirror_push_status(const char *ref, const char *msg, void *arg)
{
	struct mirror	*m = arg;

	(void)ref;
	if (msg != NULL && m->push_error == NULL)
		m->push_error = xstrdup(msg);
	return (0);
}

/*
 * Before anything is sent: the branch must still be where the caller
 * built on, else someone else pushed since.
 */
static int
mirror_push_negotiation(const git_push_update **updates, size_t n,
    void *arg)
{
	struct mirror	*m = arg;
	git_oid		 zero;
	size_t		 i;

	memset(&zero, 0, sizeof zero);
	for (i = 0; i < n; i++) {
		if (!git_oid_equal(&updates[i]->src, m->push_expect != NULL ?
		    m->push_expect : &zero)) {
			m->push_moved = true;
			git_error_set_str(GIT_ERROR_REFERENCE,
			    "the branch moved");
			return (-1);
		}
	}
	return (0);
}

/*
 * A remote on this machine: objects written into it, then the branch
 * moved under its lock only if it is still at expect.  (libgit2's local
 * transport would overwrite it without looking at its old value, losing a
 * concurrent writer's commit.)
 */
static int
mirror_push_local(struct mirror *m, const char *path, const char *ref,
    const git_oid *commit, const git_oid *expect, char **cause)
{
	git_repository	*r = NULL;
	git_packbuilder	*pb = NULL;
	git_revwalk	*walk = NULL;
	git_reference	*out = NULL;
	char		*pack = NULL;
	int		 error = -EIO, rc;

	if (git_repository_open_ext(&r, path, GIT_REPOSITORY_OPEN_NO_SEARCH,
	    NULL) != 0) {
		*cause = mirror_cause("push failed");
		return (-EIO);
	}
	if (git_revwalk_new(&walk, m->repo) != 0 ||
	    git_revwalk_push(walk, commit) != 0 ||
	    (expect != NULL && git_revwalk_hide(walk, expect) != 0) ||
	    git_packbuilder_new(&pb, m->repo) != 0 ||
	    git_packbuilder_insert_walk(pb, walk) != 0) {
		*cause = mirror_cause("push failed");
		goto out;
	}
	/* git_repository_path ends with a slash. */
	pack = xasprintf("%sobjects/pack", git_repository_path(r));
	if (git_packbuilder_write(pb, pack, 0, NULL, NULL) != 0) {
		*cause = mirror_cause("push failed");
		goto out;
	}
	if (expect != NULL)
		rc = git_reference_create_matching(&out, r, ref, commit, 1,
		    expect, "cloudsphere push");
	else
		rc = git_reference_create(&out, r, ref, commit, 0,
		    "cloudsphere push");
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ENOTFOUND ||
	    rc == GIT_ELOCKED) {
		*cause = xasprintf("%s moved in %s", ref, path);
		error = -EAGAIN;
		goto out;
	}
	if (rc != 0) {
		*cause = mirror_cause("push failed");
		goto out;
	}
	error = 0;
out:
	git_reference_free(out);
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_repository_free(r);
	free(pack);
	return (error);
}

int
mirror_push(struct mirror *m, const char *branch, const git_oid *commit,
    const git_oid *expect, int deadline, char **cause)
{
	git_push_options	 opts;
	git_strarray		 specs;
	git_reference		*srcref;
	char			*spec, *ref, *src, *local;
	int			 error = -EIO, rc;

	*cause = NULL;
	mirror_packs(m);	/* handles on packs another one removed */
	ref = xasprintf("refs/heads/%s", branch);
	if ((local = mirror_local_path(m->url)) != NULL) {
		error = mirror_push_local(m, local, ref, commit, expect, cause);
		free(local);
		free(ref);
		return (error);
	}
	if ((error = mirror_remote(m, cause)) != 0) {
		free(ref);
		return (error);
	}
	error = -EIO;
	/* libgit2 pushes from a ref, not from an object id. */
	src = xasprintf("refs/cloudsphere/push/%s", branch);
	if (git_reference_create(&srcref, m->repo, src, commit, 1,
	    "cloudsphere push") != 0) {
		*cause = mirror_cause("push failed");
		free(src);
		free(ref);
		return (-EIO);
	}
	git_reference_free(srcref);
	git_push_options_init(&opts, GIT_PUSH_OPTIONS_VERSION);
	mirror_callbacks(m, &opts.callbacks, deadline);
	opts.callbacks.push_update_reference = mirror_push_status;
	opts.callbacks.push_negotiation = mirror_push_negotiation;
	m->push_expect = expect;
	spec = xasprintf("%s:%s", src, ref);
	specs.strings = &spec;
	specs.count = 1;
	if ((rc = git_remote_push(m->remote, &specs, &opts)) != 0) {
		if (m->push_moved || rc == GIT_ENONFASTFORWARD) {
			*cause = mirror_cause("push rejected");
			error = -EAGAIN;
		} else if (m->host_error != NULL)
			*cause = xasprintf("push refused: %s", m->host_error);
		else
			*cause = mirror_cause("push failed");
	} else if (m->push_error != NULL) {
		/*
		 * The remote took the objects but not the ref: because it
		 * moved meanwhile (receive-pack's "failed to lock", a stale
		 * old value), or because it refuses (a hook, a protected
		 * branch), which no rebuild will change.
		 */
		*cause = xasprintf("push rejected: %s", m->push_error);
		error = strstr(m->push_error, "lock") != NULL ||
		    strstr(m->push_error, "stale") != NULL ||
		    strstr(m->push_error, "fast-forward") != NULL ||
		    strstr(m->push_error, "fetch first") != NULL ? -EAGAIN :
		    -EIO;
	} else
		error = 0;
	m->push_expect = NULL;
	free(spec);
	free(src);
	free(ref);
	git_remote_disconnect(m->remote);
	return (error);
}

git_repository *
mirror_repository(struct mirror *m)
{
	return (m->repo);
}

const char *
mirror_path(const struct mirror *m)
{
	return (m->dir);
}

void
mirror_free(struct mirror *m)
{
	if (m == NULL)
		return;
	git_remote_free(m->remote);
	git_repository_free(m->local);
	git_repository_free(m->repo);
	free(m->dir);
	free(m->url);
	free(m->branch);
	free(m->ref);
	free(m->ssh_key);
	free(m->token_file);
	free(m->known_hosts);
	free(m->host_error);
	free(m->push_error);
	free(m->pack_error);
	free(m);
	git_libgit2_shutdown();
}

int
mirror_fetch_ref(struct mirror *m, const char *url, const char *src,
    const char *dst, int deadline, git_oid *out, char **cause)
{
	git_fetch_options	 opts;
	git_remote_create_options ropts;
	git_remote		*remote = NULL;
	git_strarray		 specs;
	char			*spec;
	int			 error;

	*cause = NULL;
	/* A remote of its own, anonymous as the branch's (see mirror_fetch). */
	git_remote_create_options_init(&ropts,
	    GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ropts.repository = m->repo;
	ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
	    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url != NULL ? url : m->url,
	    &ropts) != 0) {
		*cause = mirror_cause("bad remote URL");
		return (-EIO);
	}
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	spec = xasprintf("+%s:%s", src, dst);
	specs.strings = &spec;
	specs.count = 1;
	m->tries = 0;
	m->deadline = deadline > 0 ? time(NULL) + deadline : 0;
	/* Our credentials go to our own remote only. */
	if (url == NULL)
		opts.callbacks.credentials = mirror_credentials;
	opts.callbacks.certificate_check = mirror_certificate;
	opts.callbacks.transfer_progress = mirror_progress;
	opts.callbacks.sideband_progress = mirror_sideband;
	opts.callbacks.payload = m;
	opts.prune = GIT_FETCH_NO_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts.update_fetchhead = 0;
	free(m->host_error);
	m->host_error = NULL;
	error = -EIO;
	if (git_remote_fetch(remote, &specs, &opts, "cloudsphere fetch") != 0) {
		*cause = m->host_error != NULL ?
		    xasprintf("fetch refused: %s", m->host_error) :
		    mirror_cause("fetch failed");
		goto out;
	}
	if (git_reference_name_to_id(out, m->repo, dst) != 0) {
		*cause = xasprintf("%s not found in %s", src,
		    url != NULL ? url : m->url);
		error = -ENOENT;
		goto out;
	}
	error = 0;
	mirror_packs(m);
out:
	free(spec);
	git_remote_disconnect(remote);
	git_remote_free(remote);
	return (error);
}

int
mirror_drop_ref(struct mirror *m, const char *ref)
{
	int	rc = git_reference_remove(m->repo, ref);

	return (rc == 0 || rc == GIT_ENOTFOUND ? 0 : -EIO);
}
