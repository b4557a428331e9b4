/*
 * The desired-state model of a config repository (DESIGN.md section 2):
 * blueprints, environments, templates and deployments, validated, linked
 * and ready to resolve.
 *
 * A model is loaded from a source (a directory or a Git commit).  Parsed
 * files live in a model_cache keyed by Git object id, and the link results
 * of each deployment are reused when none of the files it was built from
 * changed, so loading the next commit costs in proportion to what the commit
 * changed.  Every error of the repository is collected as FILE:LINE in one
 * pass; a deployment with an error is invalid and the others are not
 * affected.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>
#include <jansson.h>

#include "diag.h"
#include "provider.h"
#include "source.h"

#define MODEL_NAME_MAX		63
#define MODEL_MAX_DEPLOYMENTS	250000
#define MODEL_MAX_BLUEPRINTS	10000
#define MODEL_MAX_ENVIRONMENTS	10000
#define MODEL_MAX_TEMPLATES	10000
#define MODEL_MAX_INPUTS	1000
#define MODEL_MAX_DEPENDS	1000
#define MODEL_MAX_TREE_ENTRIES	100000	/* files in a blueprint folder */
#define MODEL_FINGERPRINT_LEN	64	/* hex SHA-256 */

enum input_type {
	INPUT_STRING,
	INPUT_NUMBER,
	INPUT_BOOL,
	INPUT_LIST,
	INPUT_MAP,
};

#define POLICY_UNSET	(-1)

enum policy_approval {
	APPROVAL_AUTO,
	APPROVAL_MANUAL,
};

enum policy_drift {
	DRIFT_DETECT,
	DRIFT_CORRECT,
};

struct policy {
	int	approval;	/* enum policy_approval or POLICY_UNSET */
	int	prune;		/* bool or POLICY_UNSET */
	long	drift_check;	/* seconds, 0 off, or POLICY_UNSET */
	int	drift;		/* enum policy_drift or POLICY_UNSET */
};

/* Where a string holding an expression sits inside a nested value. */
struct mvalue_line {
	char	*text;
	int	 line;
};

/*
 * A value set in a file, with the line that set it and, for a list or a
 * map, the lines of the strings in it that hold expressions.
 */
struct mvalue {
	char			*name;
	json_t			*value;
	int			 line;
	struct mvalue_line	*lines;
	size_t			 nlines;
};

int	mvalue_line(const struct mvalue *, const char *text, int fallback);

struct mvalues {
	struct mvalue	*v;
	size_t		 n;
};

struct input_decl {
	char		*name;
	enum input_type	 type;
	bool		 required;
	bool		 secret;
	json_t		*def;		/* NULL: none */
	char		*description;
	int		 line;
};

struct mdoc;			/* a parsed file, shared through the cache */

struct blueprint_doc;
struct environment_doc;
struct template_doc;
struct deployment_doc;

struct blueprint {
	char				*name;
	char				*dir;	/* blueprints/NAME */
	char				*file;	/* blueprints/NAME/blueprint.yaml */
	git_oid				 tree;
	bool				 valid;
	const struct blueprint_doc	*doc;

	/* Copied out of the document for the caller's convenience. */
	const char			*description;
	const struct provider		*provider;
	const struct input_decl		*inputs;
	size_t				 ninputs;
	char *const			*outputs;
	size_t				 noutputs;
	long				 timeout[PROVIDER_NACTIONS];
	const char			*playbook;
	const char			*inventory;
	const char			*destroy_playbook;
	char *const			*command;	/* script argv */
	size_t				 ncommand;
};

struct environment {
	char				*name;
	char				*file;
	bool				 valid;
	const struct environment_doc	*doc;
	const char			*terraform_binary;
};

struct template {
	char				*name;
	char				*file;
	bool				 valid;
	const struct template_doc	*doc;
};

/* An input after precedence: where it came from and what it holds. */
#define RINPUT_SECRET		0x1	/* declared secret or uses a secret */
#define RINPUT_OUTPUTS		0x2	/* uses an upstream output */
#define RINPUT_COMMIT		0x4	/* uses git.commit */
#define RINPUT_BROKEN		0x8	/* has an invalid expression (reported) */

struct rinput {
	const struct input_decl	*decl;	/* NULL for runner env entries */
	const char		*name;
	json_t			*value;	/* with expressions unevaluated */
	int			 flags;
	const char		*file;	/* file that set it */
	int			 line;
};

struct output_ref {
	char	*deployment;
	char	*output;
	const char *file;
	int	 line;
};

struct dlink;			/* link results, reused across loads */

struct deployment {
	char			*name;
	char			*file;		/* deployments/NAME.yaml */
	const struct deployment_doc *doc;	/* NULL if it did not parse */
	bool			 valid;
	char			*cause;		/* why invalid, one line */

	struct blueprint	*blueprint;
	struct environment	*environment;
	struct template		*template;
	const char		*description;
	bool			 suspended;
	struct policy		 policy;	/* effective, defaults applied */

	/* Set by linking (shared with later loads through dlink). */
	struct dlink		*link;
	const struct rinput	*inputs;	/* blueprint declaration order */
	size_t			 ninputs;
	const struct rinput	*env;		/* runner env */
	size_t			 nenv;
	const struct output_ref	*refs;
	size_t			 nrefs;

	/*
	 * Upstream deployments, from depends_on and output references: their
	 * indices in the model's deployments array.
	 */
	size_t			*needs;
	size_t			 nneeds;

	/*
	 * Private to the loader.  A deployment whose file did not change is
	 * shared by the models of successive commits.
	 */
	unsigned		 nref;
	git_oid			 oid;		/* of its file */
	bool			 in_cycle;
	bool			 diags_elsewhere; /* errors in other files */
};

struct model {
	struct blueprint	**blueprints;
	size_t			  nblueprints;
	struct environment	**environments;
	size_t			  nenvironments;
	struct template		**templates;
	size_t			  ntemplates;
	struct deployment	**deployments;	/* source order */
	size_t			  ndeployments;
	struct diags		  diags;	/* sorted */
	char			 *commit;	/* hex, or NULL */
	void			 *priv;
};

struct model_cache;

struct model_cache	*model_cache_new(void);
void			 model_cache_free(struct model_cache *);
/* Statistics of the last load: files parsed and files reused. */
void			 model_cache_stats(const struct model_cache *,
			    size_t *parsed, size_t *reused, size_t *relinked);

/*
 * Load the model of a source.  "cache" may be NULL.  "prev", the model of
 * the previous commit, may be NULL; its link results are reused.  Only a
 * source that cannot be read at all fails (-errno with *cause); errors in
 * the repository are in model->diags.
 */
int			 model_load(struct model **out, struct source *,
			    struct model_cache *, const struct model *prev,
			    char **cause);
void			 model_free(struct model *);

struct deployment	*model_deployment(const struct model *, const char *);
/* Its index in the model's deployments array; false if not declared. */
bool			 model_deployment_index(const struct model *,
			    const char *, size_t *);
struct blueprint	*model_blueprint(const struct model *, const char *);
size_t			 model_invalid_count(const struct model *);

/*
 * Resolution of a deployment's inputs and runner environment: expressions
 * evaluated with what the daemon knows.
 */
enum resolve_mode {
	RESOLVE_REAL,		/* real values: every reference must resolve */
	RESOLVE_REDACTED,	/* secrets as "***", unknown outputs left as expressions */
	RESOLVE_FINGERPRINT,	/* secrets as keyed hashes, unknowns as markers */
};

struct resolver {
	const char	*commit;	/* NULL: unknown */
	void		*arg;
	/*
	 * A secret's value (allocated); -ENOENT when it is not set, another
	 * -errno with an allocated *cause when it cannot be used (a file
	 * others may read).
	 */
	int		(*secret)(void *arg, const char *name, char **value,
			    char **cause);
	/* A new reference to an upstream output, or NULL if unknown. */
	json_t		*(*output)(void *arg, const char *deployment,
			    const char *output);
	const unsigned char *key;	/* HMAC key for secrets */
	size_t		 keylen;
};

int	model_resolve(json_t **inputs, json_t **env, const struct deployment *,
	    const struct resolver *, enum resolve_mode, char **cause);
int	model_fingerprint(char out[MODEL_FINGERPRINT_LEN + 1],
	    const struct deployment *, const struct resolver *, char **cause);

/*
 * The names of the secrets a deployment's inputs and runner environment
 * refer to, sorted and unique; the caller frees the vector and its strings.
 */
size_t	model_secrets_used(const struct deployment *, char ***names);

const char	*input_type_name(enum input_type);
bool		 model_name_valid(const char *);
/* Durations such as 30s, 10m, 1h30m, 2d; -1 if malformed. */
long		 model_duration(const char *);

#endif
