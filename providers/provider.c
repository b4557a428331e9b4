/* The table of providers. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "provider.h"

static const struct provider providers[] = {
	{ .name = "terraform", .kind = PROVIDER_TERRAFORM, .section = "terraform",
	  .default_timeout = { 600, 1800, 1800 } },
	{ .name = "tofu", .kind = PROVIDER_TOFU, .section = "terraform",
	  .default_timeout = { 600, 1800, 1800 } },
	{ .name = "ansible", .kind = PROVIDER_ANSIBLE, .section = "ansible",
	  .default_timeout = { 600, 1800, 1800 } },
	{ .name = "script", .kind = PROVIDER_SCRIPT, .section = "script",
	  .default_timeout = { 600, 1800, 1800 } },
};

const struct provider *
provider_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof providers / sizeof providers[0]; i++) {
		if (strcmp(providers[i].name, name) == 0)
			return (&providers[i]);
	}
	return (NULL);
}

const struct provider *
provider_by_section(const char *section)
{
	size_t	i;

	for (i = 0; i < sizeof providers / sizeof providers[0]; i++) {
		if (strcmp(providers[i].section, section) == 0)
			return (&providers[i]);
	}
	return (NULL);
}

const char *
provider_names(void)
{
	return ("terraform, tofu, ansible or script");
}

const char *
provider_action_name(enum provider_action a)
{
	switch (a) {
	case PROVIDER_PLAN:
		return ("plan");
	case PROVIDER_APPLY:
		return ("apply");
	case PROVIDER_DESTROY:
		return ("destroy");
	default:
		return ("?");
	}
}
