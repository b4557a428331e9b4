/*
 * The daemon configuration (DESIGN.md section 5, cloudsphered.conf(5)),
 * read with our YAML tree.  Every error of the file is reported as
 * FILE:LINE: message; a configuration with any error is refused whole.
 * Only paths of secrets are kept, never their values.
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

#define CONFIG_MAX_REPOS	1000
#define CONFIG_MAX_FILE		(1024 * 1024)

enum config_url_kind {
	CONFIG_URL_LOCAL,	/* /path */
	CONFIG_URL_FILE,	/* file:///path */
	CONFIG_URL_HTTPS,
	CONFIG_URL_HTTP,
	CONFIG_URL_SSH,		/* ssh://[user@]host[:port]/path */
	CONFIG_URL_SCP,		/* [user@]host:path */
};

struct config_repo {
	char			*name;
	char			*url;
	enum config_url_kind	 url_kind;
	char			*branch;
	char			*path;
	long			 poll_interval;	/* seconds; 0: off */
	char			*ssh_key;
	char			*token_file;
	char			*known_hosts;
	char			*webhook_forge;
	char			*webhook_secret_file;
	bool			 webhook_tags;	/* a tag push syncs too */
	char			*forge_kind;
	char			*forge_api_url;
	char			*forge_project;
	char			*forge_token_file;
	char			*ledger_branch;	/* "": off */
	bool			 pr_plan;
	bool			 pr_forks;
	int			 line;
};

struct config {
	char			*file;
	char			*state_dir;
	char			*listen;	/* NULL: off */
	char			*control_socket;
	char			*api_token_file;
	char			*secrets_dir;
	int			 max_parallel_runs;
	int			 prune_limit;
	long			 shutdown_grace;	/* seconds */
	long			 retry_min;		/* seconds */
	long			 retry_max;
	size_t			 log_max_bytes;
	struct config_repo	*repos;
	size_t			 nrepos;
};

/*
 * Read and check path: 0, or a negative errno with every error of the file
 * added to the diagnostics (-EINVAL when the file was read but is wrong).
 */
int	config_load(struct config **out, const char *path, struct diags *);
void	config_free(struct config *);
/* "30s", "5m", "1h30m", "2d", "45" (seconds): -EINVAL, or -ERANGE. */
int	config_parse_duration(const char *, long *seconds);
/* "65536", "512KiB", "16MiB", "1GiB" (also K, M, G, B). */
int	config_parse_size(const char *, size_t *bytes);
/*
 * "127.0.0.1:8480", "name:8480", "[::1]:8480" or ":8480"; *host is
 * allocated ("" for every address), the port 1 to 65535.
 */
int	config_parse_listen(const char *, char **host, int *port);

#endif
