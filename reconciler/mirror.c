/*
 * The daemon's bare mirror of a config repository: fetches one branch into
 * refs/remotes/origin/BRANCH with libgit2, with the configured credentials
 * and a deadline on the whole transfer.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <git2.h>

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
	git_repository		*repo;
	git_remote		*remote;	/* anonymous, made once */
	time_t			 deadline;	/* of the fetch under way */
	int			 tries;		/* credential attempts */
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

int
mirror_open(struct mirror **out, const char *dir, const char *url,
    const char *branch, const struct mirror_auth *auth, char **cause)
{
	struct mirror	*m;

	*out = NULL;
	*cause = NULL;
	git_libgit2_init();
	m = xcalloc(1, sizeof *m);
	m->dir = xstrdup(dir);
	m->url = xstrdup(url);
	m->branch = xstrdup(branch);
	m->ref = xasprintf("refs/remotes/origin/%s", branch);
	if (auth != NULL && auth->ssh_key != NULL)
		m->ssh_key = xstrdup(auth->ssh_key);
	if (auth != NULL && auth->token_file != NULL)
		m->token_file = xstrdup(auth->token_file);

	if (git_repository_open_bare(&m->repo, dir) != 0 &&
	    git_repository_init(&m->repo, dir, 1) != 0) {
		*cause = mirror_cause(dir);
		goto fail;
	}
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

int
mirror_tip(struct mirror *m, git_oid *tip)
{
	return (git_reference_name_to_id(tip, m->repo, m->ref) == 0 ? 0 :
	    -ENOENT);
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
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	/*
	 * An anonymous remote: nothing in the mirror's configuration to
	 * keep in step with ours (and libgit2 1.5 leaks in the config
	 * lookups of named remotes).
	 */
	if (m->remote == NULL) {
		git_remote_create_options ropts;

		git_remote_create_options_init(&ropts,
		    GIT_REMOTE_CREATE_OPTIONS_VERSION);
		ropts.repository = m->repo;
		ropts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		    GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
		if (git_remote_create_with_opts(&m->remote, m->url,
		    &ropts) != 0) {
			*cause = mirror_cause("bad remote URL");
			return (-EIO);
		}
	}
	remote = m->remote;
	spec = xasprintf("+refs/heads/%s:%s", m->branch, m->ref);
	specs.strings = &spec;
	specs.count = 1;
	m->tries = 0;
	m->deadline = deadline > 0 ? time(NULL) + deadline : 0;
	opts.callbacks.credentials = mirror_credentials;
	opts.callbacks.transfer_progress = mirror_progress;
	opts.callbacks.sideband_progress = mirror_sideband;
	opts.callbacks.payload = m;
	opts.prune = GIT_FETCH_NO_PRUNE;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts.update_fetchhead = 0;
	if (git_remote_fetch(remote, &specs, &opts, "cloudsphere fetch") != 0) {
		*cause = mirror_cause("fetch failed");
		goto out;
	}
	if (mirror_tip(m, tip) != 0) {
		*cause = xasprintf("branch '%s' not found in %s", m->branch,
		    m->url);
		error = -ENOENT;
		goto out;
	}
	error = 0;
out:
	free(spec);
	git_remote_disconnect(remote);
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
	git_repository_free(m->repo);
	free(m->dir);
	free(m->url);
	free(m->branch);
	free(m->ref);
	free(m->ssh_key);
	free(m->token_file);
	free(m);
	git_libgit2_shutdown();
}
