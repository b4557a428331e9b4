/*
 * Link results of one deployment, shared between the models of successive
 * commits while the four documents they come from stay the same.
 */
#ifndef MODEL_LINK_H
#define MODEL_LINK_H

#include "model-int.h"

struct dlink_key {
	const struct deployment_doc	*dep;
	const struct blueprint_doc	*bp;
	const struct environment_doc	*env;
	const struct template_doc	*tmpl;
};

struct dlink {
	int			 nref;		/* reference count */
	struct dlink_key	 key;
	char			*dep_file;
	char			*env_file;
	char			*tmpl_file;
	char			*bp_name;
	struct rinput		*inputs;
	size_t			 ninputs;
	struct rinput		*env;
	size_t			 nenv;
	struct output_ref	*refs;
	size_t			 nrefs;
	struct diags		 diags;
};

struct dlink	*dlink_build(const struct dlink_key *, const char *dep_file,
		    const char *env_file, const char *tmpl_file,
		    const char *bp_name);
struct dlink	*dlink_ref(struct dlink *);
void		 dlink_unref(struct dlink *);
void		 dlink_check_template_inputs(struct diags *, const char *file,
		    const struct template_doc *, const char *bpname,
		    const struct blueprint_doc *);

#endif
