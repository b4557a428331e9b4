/*
 * libcurl through dlopen (see libcurl.h), the way systemd loads its
 * optional libraries (dlopen_many_sym_or_warn): one table names each
 * symbol and the slot its address goes to; a missing symbol fails the
 * whole load, so that no caller ever meets a NULL function.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "libcurl.h"
#include "xmalloc.h"

#define LIBCURL_SYM(name) \
	{ "curl_" #name, offsetof(struct libcurl, name) }

static const struct {
	const char	*symbol;
	size_t		 offset;
} libcurl_syms[] = {
	LIBCURL_SYM(version),
	LIBCURL_SYM(global_init),
	LIBCURL_SYM(global_cleanup),
	LIBCURL_SYM(easy_init),
	LIBCURL_SYM(easy_cleanup),
	LIBCURL_SYM(easy_setopt),
	LIBCURL_SYM(easy_getinfo),
	LIBCURL_SYM(easy_strerror),
	LIBCURL_SYM(multi_init),
	LIBCURL_SYM(multi_cleanup),
	LIBCURL_SYM(multi_setopt),
	LIBCURL_SYM(multi_add_handle),
	LIBCURL_SYM(multi_remove_handle),
	LIBCURL_SYM(multi_assign),
	LIBCURL_SYM(multi_socket_action),
	LIBCURL_SYM(multi_info_read),
	LIBCURL_SYM(slist_append),
	LIBCURL_SYM(slist_free_all),
};

static struct libcurl	 libcurl_fns;
static bool		 libcurl_ok;
static char		*libcurl_error;	/* why it could not be loaded */

static char *
libcurl_dlerror(const char *what)
{
	const char	*e = dlerror();

	return (xasprintf("cannot load %s: %s", LIBCURL_SONAME,
	    e != NULL ? e : what));
}

static int
libcurl_open(void)
{
	struct libcurl	 t;
	void		*dl, *p;
	size_t		 i;

	(void)dlerror();
	if ((dl = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		libcurl_error = libcurl_dlerror("not found");
		return (-1);
	}
	memset(&t, 0, sizeof t);
	for (i = 0; i < sizeof libcurl_syms / sizeof libcurl_syms[0]; i++) {
		(void)dlerror();
		if ((p = dlsym(dl, libcurl_syms[i].symbol)) == NULL) {
			libcurl_error = libcurl_dlerror(libcurl_syms[i].symbol);
			dlclose(dl);
			return (-1);
		}
		/* A function's address in its slot (POSIX: same size). */
		memcpy((char *)&t + libcurl_syms[i].offset, &p, sizeof p);
	}
	libcurl_fns = t;
	libcurl_ok = true;
	return (0);
}

const struct libcurl *
libcurl_load(char **cause)
{
	if (!libcurl_ok && libcurl_error == NULL)
		(void)libcurl_open();
	if (libcurl_ok)
		return (&libcurl_fns);
	*cause = xstrdup(libcurl_error);
	return (NULL);
}

bool
libcurl_loaded(void)
{
	return (libcurl_ok);
}
