/*
 * Secrets held on the daemon host: one file per secret in secrets_dir.
 * A file that others may read is refused, so is a name that could leave the
 * folder.  Values never leave this module except to the provider.
 */
#ifndef SECRETS_H
#define SECRETS_H

#include <stddef.h>

#define SECRETS_MAX_BYTES	65536

/*
 * Read secret NAME from DIR into *value (allocated, one trailing newline
 * removed).  -ENOENT if absent; -EACCES if readable by others, with *cause.
 */
int	secrets_read(const char *dir, const char *name, char **value,
	    char **cause);

#endif
