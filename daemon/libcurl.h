/*
 * libcurl, loaded when the forge reporter first needs it: cloudsphered
 * does not link libcurl, whose two dozen dependent libraries (GnuTLS,
 * Kerberos, LDAP, SASL, RTMP, PSL...) cost every daemon megabytes of
 * mapped pages, also the many that report to no forge.  The first call
 * dlopens libcurl.so.4 and looks up the functions the reporter uses; the
 * library then stays loaded until the process exits.  The daemon's loop
 * thread is the only caller.  cloudspherectl links libcurl as usual.
 */
#ifndef LIBCURL_H
#define LIBCURL_H

#include <stdbool.h>

#include <curl/curl.h>

/* The soname loaded (a library of the ABI of the headers built against). */
#define LIBCURL_SONAME	"libcurl.so.4"

/* The functions, each with the type of its declaration in <curl/curl.h>. */
struct libcurl {
	typeof(curl_version)			*version;
	typeof(curl_global_init)		*global_init;
	typeof(curl_global_cleanup)		*global_cleanup;
	typeof(curl_easy_init)			*easy_init;
	typeof(curl_easy_cleanup)		*easy_cleanup;
	typeof(curl_easy_setopt)		*easy_setopt;
	typeof(curl_easy_getinfo)		*easy_getinfo;
	typeof(curl_easy_strerror)		*easy_strerror;
	typeof(curl_multi_init)			*multi_init;
	typeof(curl_multi_cleanup)		*multi_cleanup;
	typeof(curl_multi_setopt)		*multi_setopt;
	typeof(curl_multi_add_handle)		*multi_add_handle;
	typeof(curl_multi_remove_handle)	*multi_remove_handle;
	typeof(curl_multi_assign)		*multi_assign;
	typeof(curl_multi_socket_action)	*multi_socket_action;
	typeof(curl_multi_info_read)		*multi_info_read;
	typeof(curl_slist_append)		*slist_append;
	typeof(curl_slist_free_all)		*slist_free_all;
};

/*
 * The loaded library's functions, loading it on the first call; NULL and
 * *cause (naming the library and why) when it cannot be loaded.  A failure
 * is remembered: later calls fail at once with the same cause.
 */
const struct libcurl	*libcurl_load(char **cause);
/* Whether it is loaded (for the tests and the log). */
bool			 libcurl_loaded(void);

#endif
