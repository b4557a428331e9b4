/*
 * The script provider (DESIGN.md section 4): "COMMAND plan|apply|destroy"
 * in the run's copy of the blueprint, with the inputs in a private JSON
 * file, CLOUDSPHERE_* variables and the runner's environment, nothing
 * else.  Outputs come back as a JSON object the command writes to
 * $CLOUDSPHERE_OUTPUTS.
 */
#ifndef SCRIPT_H
#define SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "proc.h"

#define SCRIPT_OUTPUTS_MAX	(1024 * 1024)
#define SCRIPT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_spec {
	const char		*action;	/* plan, apply, destroy */
	const char		*deployment;
	const char		*environment;
	const char		*commit;	/* 40 hex */
	const char		*workdir;	/* the blueprint's fresh copy */
	const char		*statedir;	/* kept between runs */
	const char		*rundir;	/* private to this run, 0700 */
	const json_t		*inputs;	/* resolved, secrets in clear */
	const char *const	*runner_env;	/* NAME=value, NULL-terminated */
	const char *const	*command;	/* relative path, then arguments */
	size_t			 ncommand;
	int			 timeout;
	int			 plan_timeout;	/* init and plan steps; 0: timeout */
	int			 grace;
};

/*
 * Write rundir/inputs.json (0600) and create rundir/tmp, then fill out:
 * argv [workdir/command[0], command[1..], action] (none without a
 * command), the environment (PATH, HOME=statedir, LANG, TMPDIR, the
 * CLOUDSPHERE_* variables, then runner_env, whose values replace earlier
 * ones of the same name; runner_env may not set CLOUDSPHERE_*), cwd =
 * workdir, timeout and grace.  Release out with script_spec_release.
 */
int	script_prepare(const struct run_spec *, struct proc_spec *out,
	    char **cause);
void	script_spec_release(struct proc_spec *);
/*
 * rundir/outputs.json as a JSON object (at most SCRIPT_OUTPUTS_MAX bytes,
 * a regular file); no file gives an empty object.
 */
int	script_outputs(const struct run_spec *, json_t **out, char **cause);
/*
 * A plan's exit: 0 no changes, 2 changes; anything else (including a
 * timeout, a cancel or a signal, whatever the exit code) fails with the
 * result's cause.
 */
int	script_plan_result(const struct proc_result *, bool *changes,
	    char **cause);

#endif
