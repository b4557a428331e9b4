/*
 * The script provider: builds the command line and the environment of a
 * run, writes the inputs file only the run can read, and reads the
 * outputs back.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int
script_prepare(const struct run_spec *rs, struct proc_spec *out, char **cause)
{
	struct strv	 argv = { NULL, 0 }, env = { NULL, 0 };
	char		*inputs, *path, *program;
	size_t		 i;
	int		 error;

	memset(out, 0, sizeof *out);
	*cause = NULL;
	if (rs->ncommand > 0 && (rs->command[0][0] == '/' ||
	    strstr(rs->command[0], "..") != NULL)) {
		*cause = xstrdup("script.command must be a path inside the blueprint");
		return (-EINVAL);
	}
	inputs = json_dumps(rs->inputs, JSON_COMPACT | JSON_SORT_KEYS);
	if (inputs == NULL) {
		*cause = xstrdup("cannot write the inputs as JSON");
		return (-EINVAL);
	}
	path = xasprintf("%s/inputs.json", rs->rundir);
	error = write_private(path, inputs, strlen(inputs), cause);
	explicit_bzero(inputs, strlen(inputs));
	free(inputs);
	if (error != 0) {
		free(path);
		return (error);
	}

	/* Without a command (other providers), only the environment. */
	if (rs->ncommand > 0) {
		program = xasprintf("%s/%s", rs->workdir, rs->command[0]);
		strv_add(&argv, program);
		for (i = 1; i < rs->ncommand; i++)
			strv_add(&argv, xstrdup(rs->command[i]));
		strv_add(&argv, xstrdup(rs->action));
	}

	strv_add(&env, xstrdup("PATH=" SCRIPT_PATH));
	strv_add(&env, xasprintf("HOME=%s", rs->statedir));
	strv_add(&env, xstrdup("LANG=C.UTF-8"));
	strv_add(&env, xasprintf("TMPDIR=%s/tmp", rs->rundir));
	strv_add(&env, xasprintf("CLOUDSPHERE_ACTION=%s", rs->action));
	strv_add(&env, xasprintf("CLOUDSPHERE_DEPLOYMENT=%s", rs->deployment));
	strv_add(&env, xasprintf("CLOUDSPHERE_ENVIRONMENT=%s",
	    rs->environment));
	strv_add(&env, xasprintf("CLOUDSPHERE_COMMIT=%s", rs->commit));
	strv_add(&env, xasprintf("CLOUDSPHERE_INPUTS=%s", path));
	strv_add(&env, xasprintf("CLOUDSPHERE_OUTPUTS=%s/outputs.json",
	    rs->rundir));
	strv_add(&env, xasprintf("CLOUDSPHERE_STATE_DIR=%s", rs->statedir));
	for (i = 0; rs->runner_env != NULL && rs->runner_env[i] != NULL; i++)
		strv_add(&env, xstrdup(rs->runner_env[i]));
	free(path);

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
	char		*path;
	json_t		*j;
	int		 fd;

	*out = NULL;
	*cause = NULL;
	path = xasprintf("%s/outputs.json", rs->rundir);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		free(path);
		if (errno == ENOENT) {
			*out = json_object();
			return (0);
		}
		*cause = xasprintf("cannot read the outputs: %s",
		    strerror(errno));
		return (-EIO);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > SCRIPT_OUTPUTS_MAX) {
		close(fd);
		free(path);
		*cause = xasprintf("outputs: not a file of at most %d bytes",
		    SCRIPT_OUTPUTS_MAX);
		return (-EFBIG);
	}
	j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	close(fd);
	free(path);
	if (j == NULL) {
		*cause = xasprintf("outputs: invalid JSON at line %d: %s",
		    jerr.line, jerr.text);
		return (-EINVAL);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*cause = xstrdup("outputs: not a JSON object");
		return (-EINVAL);
	}
	*out = j;
	return (0);
}

int
script_plan_result(const struct proc_result *r, bool *changes, char **cause)
{
	*changes = false;
	*cause = NULL;
	if (r->exit_code == 0)
		return (0);
	if (r->exit_code == 2) {
		*changes = true;
		return (0);
	}
	*cause = xstrdup(r->cause);
	return (-EINVAL);
}
