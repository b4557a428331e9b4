/*
 * Reading cloudsphered.yaml: key by key, with "did you mean" for unknown
 * keys, every error collected as FILE:LINE: message.  Relative paths are
 * taken from the configuration file's folder.  Files holding secrets must
 * be private to the daemon's user; their contents are not read here.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "conf.h"
#include "model.h"
#include "model-int.h"
#include "xmalloc.h"
#include "ydoc.h"

#define DEFAULT_STATE_DIR	LOCALSTATEDIR "/lib/cloudsphere"
#define DEFAULT_SOCKET		RUNSTATEDIR "/cloudsphere/control.sock"

struct cparse {
	struct config	*c;
	struct diags	*errs;
	const char	*file;
	char		*dir;		/* of the file, for relative paths */
	size_t		 before;
};

static void cerr(struct cparse *, int, const char *, ...)
	__attribute__((format(printf, 3, 4)));

static void
cerr(struct cparse *p, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	diags_addv(p->errs, p->file, line, fmt, ap);
	va_end(ap);
}

static bool
is_null(const struct ynode *n)
{
	return (n == NULL || (n->kind == YNODE_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->text, "~") == 0 ||
	    strcmp(n->text, "null") == 0)));
}

static void
check_keys(struct cparse *p, const struct ynode *map, const char *what,
    const char *const *known)
{
	size_t	i, j, best, dist, bestdist;

	for (i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->text;

		for (j = 0; known[j] != NULL; j++)
			if (strcmp(k, known[j]) == 0)
				break;
		if (known[j] != NULL)
			continue;
		best = SIZE_MAX;
		bestdist = 3;
		for (j = 0; known[j] != NULL; j++) {
			dist = model_edit_distance(k, known[j]);
			if (dist < bestdist) {
				best = j;
				bestdist = dist;
			}
		}
		if (best != SIZE_MAX)
			cerr(p, map->keys[i]->line,
			    "unknown key '%s' in %s (did you mean '%s'?)", k,
			    what, known[best]);
		else
			cerr(p, map->keys[i]->line, "unknown key '%s' in %s",
			    k, what);
	}
}

static const struct ynode *
get_map(struct cparse *p, const struct ynode *map, const char *key)
{
	const struct ynode	*n = ynode_get(map, key);

	if (is_null(n))
		return (NULL);
	if (n->kind != YNODE_MAP) {
		cerr(p, n->line, "'%s' must be a mapping", key);
		return (NULL);
	}
	return (n);
}

static char *
get_string(struct cparse *p, const struct ynode *map, const char *key,
    int *line)
{
	const struct ynode	*n = ynode_get(map, key);

	if (line != NULL)
		*line = n != NULL ? n->line : map->line;
	if (is_null(n))
		return (NULL);
	if (n->kind != YNODE_SCALAR) {
		cerr(p, n->line, "'%s' must be a string", key);
		return (NULL);
	}
	return (xstrdup(n->text));
}

/* A path: relative ones are taken from the configuration's folder. */
static char *
get_path(struct cparse *p, const struct ynode *map, const char *key,
    int *line)
{
	char	*s = get_string(p, map, key, line), *abs;

	if (s != NULL && s[0] == '\0') {
		cerr(p, *line, "'%s' must not be an empty path", key);
		free(s);
		return (NULL);
	}
	if (s == NULL || s[0] == '/')
		return (s);
	abs = xasprintf("%s/%s", p->dir, s);
	free(s);
	return (abs);
}

int
config_parse_duration(const char *s, long *out)
{
	long		 total = 0, v, unit;
	const char	*p = s;
	char		*end;
	bool		 any = false;

	if (*s == '\0')
		return (-EINVAL);
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return (-EINVAL);
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || v < 0)
			return (-ERANGE);
		switch (*end) {
		case 'd':
			unit = 86400;
			end++;
			break;
		case 'h':
			unit = 3600;
			end++;
			break;
		case 'm':
			unit = 60;
			end++;
			break;
		case 's':
			unit = 1;
			end++;
			break;
		case '\0':
			if (any)
				return (-EINVAL);	/* "1h30" */
			unit = 1;
			break;
		default:
			return (-EINVAL);
		}
		if (v > LONG_MAX / 2 / unit)
			return (-ERANGE);
		v *= unit;
		if (total > LONG_MAX / 2 - v)
			return (-ERANGE);
		total += v;
		any = true;
		p = end;
	}
	*out = total;
	return (0);
}

int
config_parse_size(const char *s, size_t *out)
{
	unsigned long long	 v, unit;
	char			*end;

	if (!isdigit((unsigned char)*s))
		return (-EINVAL);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return (-ERANGE);
	if (strcmp(end, "KiB") == 0 || strcmp(end, "K") == 0)
		unit = 1024ULL;
	else if (strcmp(end, "MiB") == 0 || strcmp(end, "M") == 0)
		unit = 1024ULL * 1024;
	else if (strcmp(end, "GiB") == 0 || strcmp(end, "G") == 0)
		unit = 1024ULL * 1024 * 1024;
	else if (*end == '\0' || strcmp(end, "B") == 0)
		unit = 1;
	else
		return (-EINVAL);
	if (v > SIZE_MAX / unit)
		return (-ERANGE);
	*out = (size_t)(v * unit);
	return (0);
}

/*
 * HOST:PORT, [IPV6]:PORT or :PORT (every address).  The host is a name or
 * an IPv4 address, or an IPv6 address in brackets; *host is "" for :PORT.
 */
int
config_parse_listen(const char *s, char **host, int *port)
{
	const char	*h, *hend, *colon, *q;
	long		 v = 0;
	bool		 v6;

	*host = NULL;
	*port = 0;
	if ((v6 = s[0] == '[')) {
		h = s + 1;
		if ((hend = strchr(h, ']')) == NULL || hend == h)
			return (-EINVAL);
		colon = hend + 1;
	} else {
		h = s;
		if ((hend = colon = strrchr(s, ':')) == NULL)
			return (-EINVAL);
	}
	if (*colon != ':')
		return (-EINVAL);
	for (q = h; q < hend; q++) {
		if (v6 ? isxdigit((unsigned char)*q) || *q == ':' || *q == '.' :
		    isalnum((unsigned char)*q) || *q == '-' || *q == '.')
			continue;
		return (-EINVAL);	/* also "::1:80": IPv6 needs [] */
	}
	if (v6 && memchr(h, ':', (size_t)(hend - h)) == NULL)
		return (-EINVAL);
	if (colon[1] == '\0' || strlen(colon + 1) > 5)
		return (-EINVAL);
	for (q = colon + 1; *q != '\0'; q++) {
		if (!isdigit((unsigned char)*q))
			return (-EINVAL);
		v = v * 10 + (*q - '0');
	}
	if (v < 1 || v > 65535)
		return (-ERANGE);
	*host = xstrndup(h, (size_t)(hend - h));
	*port = (int)v;
	return (0);
}

static long
get_duration(struct cparse *p, const struct ynode *map, const char *key,
    long def, long min, long max)
{
	int	 line;
	char	*s = get_string(p, map, key, &line);
	long	 v;

	if (s == NULL)
		return (def);
	if (config_parse_duration(s, &v) != 0) {
		cerr(p, line, "%s: invalid duration '%s' (like 30s, 5m, 1h30m)",
		    key, s);
		v = def;
	} else if (v < min || v > max) {
		cerr(p, line, "%s: %s is out of range", key, s);
		v = def;
	}
	free(s);
	return (v);
}

static long
get_int(struct cparse *p, const struct ynode *map, const char *key, long def,
    long min, long max)
{
	int	 line;
	char	*s = get_string(p, map, key, &line), *end;
	long	 v;

	if (s == NULL)
		return (def);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0) {
		cerr(p, line, "%s: '%s' is not a number", key, s);
		v = def;
	} else if (v < min || v > max) {
		cerr(p, line, "%s: %ld is out of range (%ld to %ld)", key, v,
		    min, max);
		v = def;
	}
	free(s);
	return (v);
}

static bool
get_bool(struct cparse *p, const struct ynode *map, const char *key,
    bool def)
{
	int	 line;
	char	*s = get_string(p, map, key, &line);
	bool	 v = def;

	if (s == NULL)
		return (def);
	if (strcmp(s, "true") == 0)
		v = true;
	else if (strcmp(s, "false") == 0)
		v = false;
	else
		cerr(p, line, "%s: expected true or false, got '%s'", key, s);
	free(s);
	return (v);
}

/*
 * Whether a secret's first line, the part the daemon uses, is empty.  The
 * value is read only to be checked, then wiped.
 */
static bool
secret_empty(const char *path)
{
	char	buf[4096];
	ssize_t	n;
	int	fd;
	bool	empty;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return (false);		/* the daemon will say why */
	n = read(fd, buf, sizeof buf);
	close(fd);
	empty = n <= 0 || buf[0] == '\n' || buf[0] == '\r';
	explicit_bzero(buf, sizeof buf);
	return (empty);
}

/*
 * A file holding a secret: a regular file that neither its group nor others
 * can read or write.  When empty is set, the secret must not be empty and
 * empty says why.
 */
static void
check_secret_file(struct cparse *p, const char *path, int line,
    const char *what, const char *empty)
{
	struct stat	st;

	if (path == NULL)
		return;
	if (stat(path, &st) != 0) {
		cerr(p, line, "%s %s: %s", what, path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		cerr(p, line, "%s %s: not a regular file", what, path);
		return;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		cerr(p, line, "%s %s: readable or writable by others (mode %03o); chmod 600 it",
		    what, path, (unsigned)(st.st_mode & 0777));
		return;
	}
	if (empty != NULL && secret_empty(path))
		cerr(p, line, "%s %s: empty; %s", what, path, empty);
}

static bool
name_valid(const char *s)
{
	size_t	i, len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '-')
		return (false);
	for (i = 0; i < len; i++) {
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-')
			return (false);
	}
	return (true);
}

/* Whether a relative path has a ".." component. */
static bool
has_dotdot(const char *s)
{
	size_t	len;

	for (;;) {
		len = strcspn(s, "/");
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return (true);
		if (s[len] == '\0')
			return (false);
		s += len + 1;
	}
}

static int
url_kind(const char *url, enum config_url_kind *kind)
{
	const char	*colon, *slash;

	if (url[0] == '/') {
		*kind = CONFIG_URL_LOCAL;
		return (0);
	}
	if (strncmp(url, "file:///", 8) == 0) {
		*kind = CONFIG_URL_FILE;
		return (0);
	}
	if (strncmp(url, "https://", 8) == 0 && url[8] != '\0') {
		*kind = CONFIG_URL_HTTPS;
		return (0);
	}
	if (strncmp(url, "http://", 7) == 0 && url[7] != '\0') {
		*kind = CONFIG_URL_HTTP;
		return (0);
	}
	if (strncmp(url, "ssh://", 6) == 0 && url[6] != '\0') {
		*kind = CONFIG_URL_SSH;
		return (0);
	}
	/* scp-like: [user@]host:path, host without '/' before the ':'. */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon != NULL && colon != url && colon[1] != '\0' &&
	    (slash == NULL || slash > colon) && strstr(url, "://") == NULL) {
		*kind = CONFIG_URL_SCP;
		return (0);
	}
	return (-EINVAL);
}

static const char *const forge_kinds[] = { "github", "gitlab", "gitea",
    "forgejo", "bitbucket", "bitbucket-server", "generic", NULL };

static bool
forge_valid(const char *s)
{
	size_t	i;

	for (i = 0; forge_kinds[i] != NULL; i++)
		if (strcmp(s, forge_kinds[i]) == 0)
			return (true);
	return (false);
}

static void
parse_repo(struct cparse *p, const struct ynode *n, struct config_repo *r)
{
	static const char *const keys[] = { "name", "url", "branch", "path",
	    "poll_interval", "auth", "webhook", "forge", "ledger_branch",
	    "pull_requests", NULL };
	static const char *const akeys[] = { "ssh_key", "token_file",
	    "known_hosts", NULL };
	static const char *const wkeys[] = { "forge", "secret_file", "tags",
	    NULL };
	static const char *const fkeys[] = { "kind", "api_url", "project",
	    "token_file", NULL };
	static const char *const pkeys[] = { "plan", "forks", NULL };
	const struct ynode	*m;
	char			*ref;
	int			 line;

	r->line = n->line;
	if (n->kind != YNODE_MAP) {
		cerr(p, n->line, "a repository must be a mapping");
		return;
	}
	check_keys(p, n, "a repository", keys);
	if ((r->name = get_string(p, n, "name", &line)) == NULL)
		cerr(p, n->line, "a repository needs a name");
	else if (!name_valid(r->name))
		cerr(p, line, "invalid repository name '%s' (lowercase letters, digits and '-', at most 63)",
		    r->name);
	if ((r->url = get_string(p, n, "url", &line)) == NULL)
		cerr(p, n->line, "repository '%s' needs a url",
		    r->name != NULL ? r->name : "?");
	else if (url_kind(r->url, &r->url_kind) != 0)
		cerr(p, line, "url '%s': not a local path, file://, https://, http://, ssh:// or user@host:path URL",
		    r->url);
	if ((r->branch = get_string(p, n, "branch", &line)) == NULL)
		r->branch = xstrdup("main");
	ref = xasprintf("refs/heads/%s", r->branch);
	if (!git_reference_is_valid_name(ref))
		cerr(p, line, "invalid branch name '%s'", r->branch);
	free(ref);
	if ((r->path = get_string(p, n, "path", &line)) == NULL)
		r->path = xstrdup(".");
	else if (r->path[0] == '/' || has_dotdot(r->path))
		cerr(p, line, "path '%s' must be relative, inside the repository",
		    r->path);
	r->poll_interval = get_duration(p, n, "poll_interval", 60, 0,
	    7 * 86400);
	if ((m = get_map(p, n, "auth")) != NULL) {
		check_keys(p, m, "auth", akeys);
		r->ssh_key = get_path(p, m, "ssh_key", &line);
		check_secret_file(p, r->ssh_key, line, "auth.ssh_key", NULL);
		r->token_file = get_path(p, m, "token_file", &line);
		check_secret_file(p, r->token_file, line, "auth.token_file",
		    "a token must not be empty");
		r->known_hosts = get_path(p, m, "known_hosts", &line);
		if (r->known_hosts != NULL && access(r->known_hosts, R_OK) != 0)
			cerr(p, line, "auth.known_hosts %s: %s", r->known_hosts,
			    strerror(errno));
	}
	if ((m = get_map(p, n, "webhook")) != NULL) {
		check_keys(p, m, "webhook", wkeys);
		r->webhook_forge = get_string(p, m, "forge", &line);
		if (r->webhook_forge == NULL || !forge_valid(r->webhook_forge))
			cerr(p, line, "webhook.forge must be one of github, gitlab, gitea, forgejo, bitbucket, bitbucket-server, generic");
		r->webhook_secret_file = get_path(p, m, "secret_file", &line);
		if (r->webhook_secret_file == NULL)
			cerr(p, m->line, "webhook needs a secret_file");
		check_secret_file(p, r->webhook_secret_file, line,
		    "webhook.secret_file", "a webhook secret must not be empty");
		r->webhook_tags = get_bool(p, m, "tags", false);
	}
	if ((m = get_map(p, n, "forge")) != NULL) {
		check_keys(p, m, "forge", fkeys);
		r->forge_kind = get_string(p, m, "kind", &line);
		if (r->forge_kind == NULL || !forge_valid(r->forge_kind))
			cerr(p, line, "forge.kind must be one of github, gitlab, gitea, forgejo, bitbucket, bitbucket-server, generic");
		r->forge_api_url = get_string(p, m, "api_url", &line);
		if (r->forge_api_url != NULL &&
		    !((strncmp(r->forge_api_url, "https://", 8) == 0 &&
		    r->forge_api_url[8] != '\0') ||
		    (strncmp(r->forge_api_url, "http://", 7) == 0 &&
		    r->forge_api_url[7] != '\0')))
			cerr(p, line, "forge.api_url '%s': not an https:// or http:// URL",
			    r->forge_api_url);
		r->forge_project = get_string(p, m, "project", NULL);
		r->forge_token_file = get_path(p, m, "token_file", &line);
		check_secret_file(p, r->forge_token_file, line,
		    "forge.token_file", "a token must not be empty");
	}
	if ((r->ledger_branch = get_string(p, n, "ledger_branch",
	    &line)) == NULL)
		r->ledger_branch = xstrdup("cloudsphere/status");
	else if (r->ledger_branch[0] != '\0') {
		ref = xasprintf("refs/heads/%s", r->ledger_branch);
		if (!git_reference_is_valid_name(ref))
			cerr(p, line, "invalid ledger_branch '%s'",
			    r->ledger_branch);
		free(ref);
	}
	r->pr_plan = true;
	if ((m = get_map(p, n, "pull_requests")) != NULL) {
		check_keys(p, m, "pull_requests", pkeys);
		r->pr_plan = get_bool(p, m, "plan", true);
		r->pr_forks = get_bool(p, m, "forks", false);
	}
}

static void
parse_top(struct cparse *p, const struct ynode *root)
{
	static const char *const keys[] = { "state_dir", "listen",
	    "control_socket", "api_token_file", "secrets_dir",
	    "max_parallel_runs", "prune_limit", "shutdown_grace", "retry_min",
	    "retry_max", "log_max_bytes", "repositories", NULL };
	struct config		*c = p->c;
	const struct ynode	*repos;
	struct sockaddr_un	 sun;
	struct stat		 st;
	size_t			 i, j;
	int			 line;
	char			*s;

	check_keys(p, root, "the configuration", keys);
	if ((c->state_dir = get_path(p, root, "state_dir", &line)) == NULL)
		c->state_dir = xstrdup(DEFAULT_STATE_DIR);
	c->listen = get_string(p, root, "listen", &line);
	if (c->listen != NULL && c->listen[0] != '\0') {
		char	*host;
		int	 port;

		if (config_parse_listen(c->listen, &host, &port) != 0)
			cerr(p, line, "listen '%s': expected HOST:PORT, [IPV6]:PORT or :PORT",
			    c->listen);
		free(host);
	} else if (c->listen != NULL) {
		free(c->listen);
		c->listen = NULL;
	}
	if ((c->control_socket = get_path(p, root, "control_socket",
	    &line)) == NULL)
		c->control_socket = xstrdup(DEFAULT_SOCKET);
	else if (strlen(c->control_socket) >= sizeof sun.sun_path)
		cerr(p, line, "control_socket %s: longer than %zu bytes, too long for a socket",
		    c->control_socket, sizeof sun.sun_path - 1);
	c->api_token_file = get_path(p, root, "api_token_file", &line);
	check_secret_file(p, c->api_token_file, line, "api_token_file",
	    "the API token must not be empty");
	if (c->listen != NULL && c->api_token_file == NULL)
		cerr(p, root->line, "listen needs api_token_file: the TCP API is only for bearers of the token");
	c->secrets_dir = get_path(p, root, "secrets_dir", &line);
	if (c->secrets_dir != NULL) {
		if (stat(c->secrets_dir, &st) != 0)
			cerr(p, line, "secrets_dir %s: %s", c->secrets_dir,
			    strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			cerr(p, line, "secrets_dir %s: not a folder",
			    c->secrets_dir);
		else if (st.st_mode & (S_IRWXG | S_IRWXO))
			cerr(p, line, "secrets_dir %s: open to others (mode %03o); chmod 700 it",
			    c->secrets_dir, (unsigned)(st.st_mode & 0777));
	}
	c->max_parallel_runs = (int)get_int(p, root, "max_parallel_runs", 4,
	    1, 256);
	c->prune_limit = (int)get_int(p, root, "prune_limit", 5, 0, 1000000);
	c->shutdown_grace = get_duration(p, root, "shutdown_grace", 30, 0,
	    3600);
	c->retry_min = get_duration(p, root, "retry_min", 30, 1, 86400);
	c->retry_max = get_duration(p, root, "retry_max", 3600, 1, 7 * 86400);
	if (c->retry_max < c->retry_min)
		c->retry_max = c->retry_min;
	c->log_max_bytes = 16 * 1024 * 1024;
	if ((s = get_string(p, root, "log_max_bytes", &line)) != NULL) {
		if (config_parse_size(s, &c->log_max_bytes) != 0 ||
		    c->log_max_bytes < 64 * 1024 ||
		    c->log_max_bytes > (size_t)1024 * 1024 * 1024)
			cerr(p, line, "log_max_bytes: '%s' is not a size from 64KiB to 1GiB",
			    s);
		free(s);
	}

	repos = ynode_get(root, "repositories");
	if (is_null(repos)) {
		cerr(p, root->line, "no repositories to watch");
		return;
	}
	if (repos->kind != YNODE_SEQ) {
		cerr(p, repos->line, "'repositories' must be a list");
		return;
	}
	if (repos->n > CONFIG_MAX_REPOS) {
		cerr(p, repos->line, "more than %d repositories",
		    CONFIG_MAX_REPOS);
		return;
	}
	c->repos = xcalloc(repos->n + 1, sizeof *c->repos);
	for (i = 0; i < repos->n; i++) {
		parse_repo(p, repos->items[i], &c->repos[i]);
		c->nrepos++;
		for (j = 0; j < i; j++) {
			if (c->repos[i].name != NULL &&
			    c->repos[j].name != NULL &&
			    strcmp(c->repos[i].name, c->repos[j].name) == 0)
				cerr(p, c->repos[i].line,
				    "repository '%s' is already defined at line %d",
				    c->repos[i].name, c->repos[j].line);
		}
	}
}

int
config_load(struct config **out, const char *path, struct diags *errs)
{
	struct cparse	 p;
	struct ynode	*root = NULL;
	char		*data = NULL, *cause = NULL, *slash, *abs;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, line = 1, error;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.errs = errs;
	p.file = path;
	p.before = errs->n;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		error = -errno;
		diags_add(errs, path, 1, "%s", strerror(-error));
		return (error);
	}
	data = xmalloc(CONFIG_MAX_FILE + 1);
	while ((n = read(fd, data + len, CONFIG_MAX_FILE + 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error = -errno;		/* EISDIR, EIO */
			close(fd);
			free(data);
			diags_add(errs, path, 1, "%s", strerror(-error));
			return (error);
		}
		len += (size_t)n;
		if (len > CONFIG_MAX_FILE)
			break;
	}
	close(fd);
	if (len > CONFIG_MAX_FILE) {
		diags_add(errs, path, 1, "larger than %d bytes",
		    CONFIG_MAX_FILE);
		free(data);
		return (-EFBIG);
	}
	if (ydoc_parse(&root, data, len, &cause, &line) != 0) {
		diags_add(errs, path, line, "%s", cause);
		free(cause);
		free(data);
		return (-EINVAL);
	}
	free(data);
	if (root == NULL || root->kind != YNODE_MAP) {
		diags_add(errs, path, root != NULL ? root->line : 1,
		    "the configuration must be a mapping of keys");
		ynode_free(root);
		return (-EINVAL);
	}
	abs = path[0] == '/' ? xstrdup(path) : NULL;
	if (abs == NULL) {
		char cwd[PATH_MAX];

		abs = xasprintf("%s/%s", getcwd(cwd, sizeof cwd) != NULL ?
		    cwd : ".", path);
	}
	slash = strrchr(abs, '/');
	p.dir = xstrndup(abs, (size_t)(slash - abs));
	if (p.dir[0] == '\0') {
		free(p.dir);
		p.dir = xstrdup("/");
	}
	p.c = xcalloc(1, sizeof *p.c);
	p.c->file = abs;
	/* Branch names are checked by libgit2, whose errors need it set up. */
	git_libgit2_init();
	parse_top(&p, root);
	git_libgit2_shutdown();
	ynode_free(root);
	free(p.dir);
	if (errs->n > p.before) {
		diags_sort(errs);
		config_free(p.c);
		return (-EINVAL);
	}
	*out = p.c;
	return (0);
}

void
config_free(struct config *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nrepos; i++) {
		struct config_repo *r = &c->repos[i];

		free(r->name);
		free(r->url);
		free(r->branch);
		free(r->path);
		free(r->ssh_key);
		free(r->token_file);
		free(r->known_hosts);
		free(r->webhook_forge);
		free(r->webhook_secret_file);
		free(r->forge_kind);
		free(r->forge_api_url);
		free(r->forge_project);
		free(r->forge_token_file);
		free(r->ledger_branch);
	}
	free(c->repos);
	free(c->file);
	free(c->state_dir);
	free(c->listen);
	free(c->control_socket);
	free(c->api_token_file);
	free(c->secrets_dir);
	free(c);
}
