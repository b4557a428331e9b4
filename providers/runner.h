/*
 * What a provider runs for one action, as a list of steps (DESIGN.md
 * section 4): the script provider's command; terraform's init, plan,
 * apply of exactly that plan and output; ansible-playbook.  Each step is
 * one supervised process; the engine runs them in order and stops at the
 * first that fails.  The steps' files (inputs, plan, outputs) live in the
 * run's private folder.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "proc.h"
#include "provider.h"
#include "script.h"

#define RUNNER_MAX_STEPS	4
#define RUNNER_CAPTURE_MAX	(4 * 1024 * 1024)
#define RUNNER_SENSITIVE_FILE	"sensitive-outputs.json"
#define RUNNER_LOCKFILE_MAX	(1024 * 1024)
#define RUNNER_REDACTED		"***"	/* a sensitive output as stored */

enum runner_parser {
	RUNNER_RAW,		/* output to the log as it is */
	RUNNER_TFJSON,		/* terraform -json: tfjson.h */
	RUNNER_RECAP,		/* ansible-playbook: recap.h */
};

struct runner_step {
	const char		*name;		/* "init", "plan", "apply"... */
	enum runner_parser	 parser;
	struct proc_spec	 spec;
	bool			 capture;	/* stdout to a buffer, not the log */
	bool			 plan;		/* exit 2 means "changes" */
	bool			 if_changes;	/* skipped when the plan had none */
};

struct runner {
	enum provider_kind	 kind;
	struct runner_step	 steps[RUNNER_MAX_STEPS];
	size_t			 nsteps;
	char			*cache_shared;	/* tfcache.h */
	char			*cache_private;
	char			*lock_work;	/* .terraform.lock.hcl */
	char			*lock_state;	/* kept, or NULL: the blueprint's */
	char			*sensitive;	/* removed by a destroy */
};

/* A provider's settings for a run, next to the script's run_spec. */
struct runner_settings {
	const char	*playbook;		/* ansible */
	const char	*inventory;
	const char	*destroy_playbook;
	const char	*terraform_binary;	/* terraform, tofu or a path */
	const char	*plugin_cache;		/* shared terraform plugin cache */
	const char	*plan_file;		/* apply: this saved plan, no new one */
	bool		 no_lock;		/* terraform -lock=false (previews) */
};

/*
 * Terraform's plugin cache (tfcache.h): the shared cache is never given to
 * terraform; each deployment's init runs with statedir/plugin-cache,
 * seeded from the shared one by runner_prepare and published back by
 * runner_step_succeeded after a successful init.
 */

int	runner_prepare(struct runner *, const struct provider *,
	    const struct run_spec *, const struct runner_settings *,
	    char **cause);
void	runner_release(struct runner *);
/* Step N exited 0 (not cancelled, not timed out): after-step work. */
void	runner_step_succeeded(struct runner *, size_t n);
/*
 * The outputs of a successful apply: from $CLOUDSPHERE_OUTPUTS (script,
 * ansible) or from "terraform output -json" (captured).  A sensitive
 * Terraform output becomes a secret: "***" in *out, every string in its
 * value added to *secrets, the value itself kept in the deployment's
 * state folder (RUNNER_SENSITIVE_FILE, 0600) for the deployments that use
 * it (rs may be NULL: nothing kept).
 */
int	runner_outputs(const struct runner *, const struct run_spec *,
	    const char *captured, size_t len, json_t **out, char ***secrets,
	    size_t *nsecrets, char **cause);

/*
 * Output NAME of the deployment whose state folder is statedir, when it
 * was sensitive (a new reference, its strings added to *secrets), or NULL.
 */
json_t	*runner_sensitive_output(const char *statedir, const char *name,
	    char ***secrets, size_t *nsecrets);
/* Every string of the deployment's sensitive outputs, to redact. */
void	 runner_sensitive_secrets(const char *statedir, char ***secrets,
	    size_t *nsecrets);

#endif
