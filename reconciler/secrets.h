/*
 * Secrets held on the daemon host: one file per secret in secrets_dir, or
 * a systemd credential (LoadCredential=NAME:PATH in the unit; systemd
 * hands the service $CREDENTIALS_DIRECTORY).  A file that others may read
 * is refused, so is a name that could leave the folder.  Values never
 * leave this module except to the provider.
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

/*
 * Secret NAME from the first place that has a file of that name: DIR
 * (secrets_dir, either may be NULL), then CREDENTIALS ($CREDENTIALS_
 * DIRECTORY).  A file found but refused is an error, never a reason to
 * look further.  In CREDENTIALS, group bits are allowed: systemd grants
 * the service user a credential through an ACL when it cannot chown it,
 * and an ACL's mask shows as the group bits; others' bits are refused.
 * -ENOENT when neither has it (*cause NULL).
 */
int	secrets_lookup(const char *dir, const char *credentials,
	    const char *name, char **value, char **cause);

#endif
