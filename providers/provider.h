/*
 * The provider contract: every tool (Terraform, OpenTofu, Ansible, any
 * script) is driven through plan / apply / destroy with outputs as JSON.
 * This table names the providers a blueprint may choose and the blueprint
 * section that holds each one's own settings.
 */
#ifndef PROVIDER_H
#define PROVIDER_H

enum provider_kind {
	PROVIDER_TERRAFORM,
	PROVIDER_TOFU,
	PROVIDER_ANSIBLE,
	PROVIDER_SCRIPT,
};

enum provider_action {
	PROVIDER_PLAN,
	PROVIDER_APPLY,
	PROVIDER_DESTROY,
	PROVIDER_NACTIONS,
};

struct provider {
	const char		*name;
	enum provider_kind	 kind;
	const char		*section;	/* blueprint key of its settings */
	long			 default_timeout[PROVIDER_NACTIONS];
};

const struct provider	*provider_find(const char *name);
const char		*provider_names(void);
const char		*provider_action_name(enum provider_action);
/* Whether a blueprint section belongs to some provider. */
const struct provider	*provider_by_section(const char *section);

#endif
