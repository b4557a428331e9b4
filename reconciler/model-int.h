/*
 * Internals of the model shared by its files: parsed documents (kept in
 * the cache by object id, so they hold nothing that depends on the file's
 * name or place) and expressions.
 */
#ifndef MODEL_INT_H
#define MODEL_INT_H

#include "model.h"

enum mdoc_kind {
	MDOC_BLUEPRINT,
	MDOC_ENVIRONMENT,
	MDOC_TEMPLATE,
	MDOC_DEPLOYMENT,
};

struct ldiag {
	int	 line;
	char	*message;
};

struct mdoc {
	enum mdoc_kind	 kind;
	int		 refs;
	struct ldiag	*diags;		/* errors local to the file */
	size_t		 ndiags;
	bool		 usable;	/* parsed well enough to link */
};

struct blueprint_doc {
	struct mdoc		 hdr;
	char			*description;
	const struct provider	*provider;
	struct input_decl	*inputs;
	size_t			 ninputs;
	char			**outputs;
	size_t			 noutputs;
	long			 timeout[PROVIDER_NACTIONS];
	char			*playbook;
	int			 playbook_line;
	char			*inventory;
	int			 inventory_line;
	char			*destroy_playbook;
	int			 destroy_line;
	char			**command;
	size_t			 ncommand;
	int			 command_line;
};

struct environment_doc {
	struct mdoc	 hdr;
	char		*description;
	char		*terraform_binary;
	struct mvalues	 env;
	struct mvalues	 inputs;
	struct policy	 policy;
};

struct template_doc {
	struct mdoc	 hdr;
	char		*description;
	char		*blueprint;
	int		 blueprint_line;
	struct mvalues	 inputs;
};

struct deployment_doc {
	struct mdoc	 hdr;
	char		*description;
	char		*blueprint;
	int		 blueprint_line;
	char		*environment;
	int		 environment_line;
	char		*template;
	int		 template_line;
	struct mvalues	 inputs;
	int		 inputs_line;
	char		**depends;
	int		*depends_line;
	size_t		 ndepends;
	struct policy	 policy;
	bool		 suspended;
};

/* Parse a file of the given kind; never NULL (errors are in ->diags). */
struct mdoc	*mdoc_parse(enum mdoc_kind, const char *data, size_t len);
void		 mdoc_unref(struct mdoc *);
struct mdoc	*mdoc_ref(struct mdoc *);

enum expr_kind {
	EXPR_TEXT,
	EXPR_OUTPUT,
	EXPR_SECRET,
	EXPR_DEPLOYMENT_NAME,
	EXPR_ENVIRONMENT_NAME,
	EXPR_GIT_COMMIT,
};

struct expr_seg {
	enum expr_kind	 kind;
	char		*a;	/* text; deployment; secret name */
	char		*b;	/* output name */
};

struct expr_list {
	struct expr_seg	*v;
	size_t		 n;
};

/* Whether a string may hold an expression (fast path). */
bool	expr_maybe(const char *);
/* Split a string into text and expressions; -EINVAL with *cause. */
int	expr_scan(const char *, struct expr_list *, char **cause);
size_t	model_edit_distance(const char *, const char *);
void	expr_list_release(struct expr_list *);
/* Whether the string is exactly one expression. */
bool	expr_whole(const struct expr_list *);

bool	model_input_name_valid(const char *);
bool	model_secret_name_valid(const char *);

/* Mark d invalid; the first cause given stays (model.c). */
void	deployment_invalidate(struct deployment *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * The graph between deployments (model-graph.c).  graph_edges fills
 * d->needs from its depends and output references, checking that they
 * name what exists; by_name maps a deployment's name to its index + 1 in
 * m->deployments, and *lines receives the line of each need.  graph_cycles
 * then reports and invalidates every cycle, given those lines.
 */
struct table;
void	graph_edges(struct model *, const struct table *by_name,
	    struct deployment *, int **lines);
void	graph_cycles(struct model *, int **lines);

#endif
