/*
 * Reading secrets from files, refusing what others could read: from
 * secrets_dir, then from systemd's credentials.  A cause names the file,
 * never its content.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "model-int.h"
#include "secrets.h"
#include "xmalloc.h"

static int
secrets_read_file(const char *dir, const char *name, bool credential,
    char **value, char **cause)
{
	struct stat	 st;
	struct buf	 b;
	char		*path, tmp[4096];
	ssize_t		 n;
	int		 fd, error = 0;

	*value = NULL;
	*cause = NULL;
	if (!model_secret_name_valid(name)) {
		*cause = xasprintf("invalid secret name '%s'", name);
		return (-EINVAL);
	}
	path = xasprintf("%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		error = -errno;
		if (error != -ENOENT)
			*cause = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return (error);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*cause = xasprintf("%s: not a regular file", path);
		error = -EINVAL;
	} else if (st.st_mode & (credential ? S_IRWXO : S_IRWXG | S_IRWXO)) {
		*cause = xasprintf("%s: readable by others (mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
		error = -EACCES;
	}
	buf_init(&b, SECRETS_MAX_BYTES);
	while (error == 0) {
		n = read(fd, tmp, sizeof tmp);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*cause = xasprintf("%s: %s", path, strerror(errno));
			error = -errno;
		} else if (buf_add(&b, tmp, (size_t)n) != 0) {
			*cause = xasprintf("%s: larger than %d bytes", path,
			    SECRETS_MAX_BYTES);
			error = -EFBIG;
		}
	}
	explicit_bzero(tmp, sizeof tmp);
	close(fd);
	free(path);
	if (error != 0) {
		if (b.data != NULL)
			explicit_bzero(b.data, b.len);
		buf_release(&b);
		return (error);
	}
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	*value = buf_detach(&b);
	return (0);
}

int
secrets_read(const char *dir, const char *name, char **value, char **cause)
{
	return (secrets_read_file(dir, name, false, value, cause));
}

int
secrets_lookup(const char *dir, const char *credentials, const char *name,
    char **value, char **cause)
{
	int	error = -ENOENT;

	*value = NULL;
	*cause = NULL;
	if (dir != NULL && (error = secrets_read_file(dir, name, false, value,
	    cause)) != -ENOENT)
		return (error);
	if (credentials != NULL && *credentials != '\0' &&
	    (error = secrets_read_file(credentials, name, true, value,
	    cause)) != -ENOENT)
		return (error);
	if (error == -ENOENT && *cause == NULL && !model_secret_name_valid(name))
		*cause = xasprintf("invalid secret name '%s'", name);
	return (error);
}
