/*
 * The script provider: builds the command line and the environment of a
 * run, writes the inputs file only the run can read, and reads the
 * outputs back.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "script.h"
#include "xmalloc.h"

struct strv {
	char	**v;
	size_t	  n;
};

static void
strv_add(struct strv *s, char *item)
{
	s->v = xreallocarray(s->v, s->n + 2, sizeof *s->v);
	s->v[s->n++] = item;
	s->v[s->n] = NULL;
}

static int
write_private(const char *path, const char *data, size_t len, char **cause)
{
	int	fd;
	ssize_t	n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		*cause = xasprintf("cannot write %s: %s", path,
		    strerror(errno));
		return (-errno);
	}
	fchmod(fd, 0600);
	while (len > 0) {
		if ((n = write(fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			*cause = xasprintf("cannot write %s: %s", path,
			    strerror(errno));
			close(fd);
			return (-EIO);
		}
		data += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0) {
		*cause = xasprintf("cannot write %s: %s", path,
		    strerror(errno));
		return (-EIO);
	}
	return (0);
}

/* Set NAME=value, replacing an earlier value of NAME. */
static void
env_set(struct strv *env, char *item)
{
	size_t	i, len = strcspn(item, "=");

	for (i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], item, len) == 0 &&
		    env->v[i][len] == '=') {
			explicit_bzero(env->v[i], strlen(env->v[i]));
			free(env->v[i]);
			env->v[i] = item;
			return;
		}
	}
	strv_add(env, item);
}

static bool
env_valid(const char *item)
{
	size_t	len = strcspn(item, "=");

	return (len > 0 && item[len] == '=' &&
	    strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") == len && !(item[0] >= '0' && item[0] <= '9'));
}

/* A path inside the blueprint: relative, no "..", not empty. */
static bool
command_valid(const char *path)
{
	const char	*p, *s;

	if (path[0] == '\0' || path[0] == '/')
		return (false);
	for (p = path; ; p = s + 1) {
		s = strchrnul(p, '/');
		if (s - p == 2 && p[0] == '.' && p[1] == '.')
			return (false);
		if (*s == '\0')
			break;
	}
	return (path[strlen(path) - 1] != '/');
}

int
script_prepare(const struct run_spec *rs, struct proc_spec *out, char **cause)
{
	struct strv	 argv = { NULL, 0 }, env = { NULL, 0 };
	char		*inputs, *path, *tmp;
	size_t		 i;
	int		 error;

	memset(out, 0, sizeof *out);
	*cause = NULL;
	if (rs->ncommand > 0 && !command_valid(rs->command[0])) {
		*cause = xasprintf("script.command must be a path inside the "
		    "blueprint: %s", rs->command[0]);
		return (-EINVAL);
	}
	for (i = 0; rs->runner_env != NULL && rs->runner_env[i] != NULL; i++) {
		if (!env_valid(rs->runner_env[i])) {
			*cause = xasprintf("runner environment: not NAME=value:"
			    " %.*s", (int)strcspn(rs->runner_env[i], "="),
			    rs->runner_env[i]);
			return (-EINVAL);
		}
		if (strncmp(rs->runner_env[i], "CLOUDSPHERE_", 12) == 0) {
			*cause = xasprintf("runner environment: %.*s is set by "
			    "cloudsphere", (int)strcspn(rs->runner_env[i], "="),
			    rs->runner_env[i]);
			return (-EINVAL);
		}
	}

	/* The private folder for temporary files. */
	tmp = xasprintf("%s/tmp", rs->rundir);
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
		error = -errno;
		*cause = xasprintf("cannot create %s: %s", tmp,
		    strerror(errno));
		free(tmp);
		return (error);
	}

	/* Inputs hold secrets in clear: the run alone may read them. */
	if (rs->inputs != NULL)
		inputs = json_dumps(rs->inputs, JSON_COMPACT | JSON_SORT_KEYS);
	else
		inputs = xstrdup("{}");
	if (inputs == NULL) {
		*cause = xstrdup("cannot write the inputs as JSON");
		free(tmp);
		return (-EINVAL);
	}
	path = xasprintf("%s/inputs.json", rs->rundir);
	error = write_private(path, inputs, strlen(inputs), cause);
	explicit_bzero(inputs, strlen(inputs));
	free(inputs);
	if (error != 0) {
		free(path);
		free(tmp);
		return (error);
	}

	/* Without a command (other providers), only the environment. */
	if (rs->ncommand > 0) {
		strv_add(&argv, xasprintf("%s/%s", rs->workdir,
		    rs->command[0]));
		for (i = 1; i < rs->ncommand; i++)
			strv_add(&argv, xstrdup(rs->command[i]));
		strv_add(&argv, xstrdup(rs->action));
	}

	strv_add(&env, xstrdup("PATH=" SCRIPT_PATH));
	strv_add(&env, xasprintf("HOME=%s", rs->statedir));
	strv_add(&env, xstrdup("LANG=C.UTF-8"));
	strv_add(&env, xasprintf("TMPDIR=%s", tmp));
	strv_add(&env, xasprintf("CLOUDSPHERE_ACTION=%s", rs->action));
	strv_add(&env, xasprintf("CLOUDSPHERE_DEPLOYMENT=%s", rs->deployment));
	strv_add(&env, xasprintf("CLOUDSPHERE_ENVIRONMENT=%s",
	    rs->environment));
	strv_add(&env, xasprintf("CLOUDSPHERE_COMMIT=%s", rs->commit));
	strv_add(&env, xasprintf("CLOUDSPHERE_INPUTS=%s", path));
	strv_add(&env, xasprintf("CLOUDSPHERE_OUTPUTS=%s/outputs.json",
	    rs->rundir));
	strv_add(&env, xasprintf("CLOUDSPHERE_STATE_DIR=%s", rs->statedir));
	/* The runner's own variables win over PATH, HOME, LANG, TMPDIR. */
	for (i = 0; rs->runner_env != NULL && rs->runner_env[i] != NULL; i++)
		env_set(&env, xstrdup(rs->runner_env[i]));
	free(path);
	free(tmp);

	out->argv = (const char *const *)argv.v;
	out->envp = (const char *const *)env.v;
	out->cwd = xstrdup(rs->workdir);
	out->timeout = rs->timeout;
	out->grace = rs->grace;
	return (0);
}

void
script_spec_release(struct proc_spec *ps)
{
	size_t	i;

	if (ps == NULL)
		return;
	for (i = 0; ps->argv != NULL && ps->argv[i] != NULL; i++)
		free((char *)ps->argv[i]);
	for (i = 0; ps->envp != NULL && ps->envp[i] != NULL; i++) {
		explicit_bzero((char *)ps->envp[i], strlen(ps->envp[i]));
		free((char *)ps->envp[i]);
	}
	free((void *)ps->argv);
	free((void *)ps->envp);
	free((char *)ps->cwd);
	memset(ps, 0, sizeof *ps);
}

int
script_outputs(const struct run_spec *rs, json_t **out, char **cause)
{
	json_error_t	 jerr;
	struct stat	 st;
	struct buf	 b;
	char		*path, chunk[8192];
	json_t		*j = NULL;
	ssize_t		 n;
	int		 fd, error = 0;

	*out = NULL;
	*cause = NULL;
	path = xasprintf("%s/outputs.json", rs->rundir);
	/* Not blocked by a FIFO, not led elsewhere by a symlink. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	free(path);
	if (fd == -1) {
		if (errno == ENOENT) {
			*out = json_object();
			return (0);
		}
		error = -errno;
		*cause = xasprintf("cannot read outputs.json: %s",
		    strerror(errno));
		return (error);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*cause = xstrdup("outputs.json is not a regular file");
		return (-EINVAL);
	}
	/* Read at most the limit, however the file grows meanwhile. */
	buf_init(&b, SCRIPT_OUTPUTS_MAX);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			error = -errno;
			*cause = xasprintf("cannot read outputs.json: %s",
			    strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, (size_t)n) != 0) {
			error = -EFBIG;
			*cause = xasprintf("outputs.json is larger than %d KiB",
			    SCRIPT_OUTPUTS_MAX / 1024);
			break;
		}
	}
	close(fd);
	if (error == 0) {
		j = json_loadb(b.data != NULL ? b.data : "", b.len,
		    JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL) {
			error = -EINVAL;
			*cause = xasprintf("outputs.json: invalid JSON at line "
			    "%d: %s", jerr.line, jerr.text);
		} else if (!json_is_object(j)) {
			error = -EINVAL;
			*cause = xstrdup("outputs.json: not a JSON object");
			json_decref(j);
			j = NULL;
		}
	}
	/* Outputs may be secrets. */
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_release(&b);
	*out = j;
	return (error);
}

int
script_plan_result(const struct proc_result *r, bool *changes, char **cause)
{
	*changes = false;
	*cause = NULL;
	/* A plan stopped early proves nothing, whatever its exit code. */
	if (r->timed_out || r->cancelled || r->signal != 0) {
		*cause = xstrdup(r->cause);
		return (r->timed_out ? -ETIMEDOUT : r->cancelled ?
		    -ECANCELED : -EINTR);
	}
	if (r->exit_code == 0)
		return (0);
	if (r->exit_code == 2) {
		*changes = true;
		return (0);
	}
	*cause = xstrdup(r->cause);
	return (-EINVAL);
}
