/*
 * systemd's notify protocol (see notify.h), written from sd_notify(3) and
 * sd_watchdog_enabled(3) so that the daemon need not map libsystemd and
 * the dozen libraries it brings for three calls.  Each message is one
 * datagram from a fresh socket: systemd reads the sender's credentials
 * from the kernel, and nothing has to stay open between messages.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"
#include "xmalloc.h"

/* The longest state string sent; STATUS= lines are far shorter. */
#define NOTIFY_STATE_MAX	4096

int
notify_address(const char *value, struct sockaddr_un *out, socklen_t *len)
{
	size_t	n;

	if (value == NULL)
		return (0);
	memset(out, 0, sizeof *out);
	out->sun_family = AF_UNIX;
	n = strlen(value);
	if (n == 0)
		return (-EINVAL);
	if (value[0] != '/' && value[0] != '@')
		return (-EAFNOSUPPORT);
	if (value[0] == '@') {
		/* Abstract: a NUL, then the name, its length in the size. */
		if (n == 1 || n > sizeof out->sun_path)
			return (-EINVAL);
		memcpy(out->sun_path + 1, value + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return (1);
	}
	/* A path and its terminating NUL must fit. */
	if (n >= sizeof out->sun_path)
		return (-EINVAL);
	memcpy(out->sun_path, value, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return (1);
}

/* A decimal number, digits only (no sign, no blanks), that fits. */
static int
notify_number(const char *s, unsigned long long *out)
{
	char	*end;

	if (s[0] < '0' || s[0] > '9')
		return (-EINVAL);
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-EINVAL);
	return (0);
}

int
notify_watchdog_parse(const char *usec_value, const char *pid_value,
    pid_t self, uint64_t *usec)
{
	unsigned long long	u, p;

	*usec = 0;
	if (usec_value == NULL)
		return (0);
	/* 0 and infinity (UINT64_MAX) are no interval. */
	if (notify_number(usec_value, &u) != 0 || u == 0 || u >= UINT64_MAX)
		return (-EINVAL);
	if (pid_value != NULL) {
		if (notify_number(pid_value, &p) != 0 || p == 0 ||
		    p > (unsigned long long)INT32_MAX)
			return (-EINVAL);
		/* Set for another process (an inherited environment). */
		if ((pid_t)p != self)
			return (0);
	}
	*usec = (uint64_t)u;
	return (1);
}

int
notify_watchdog(uint64_t *usec)
{
	return (notify_watchdog_parse(getenv("WATCHDOG_USEC"),
	    getenv("WATCHDOG_PID"), getpid(), usec));
}

int
notify_send(const char *state)
{
	struct sockaddr_un	sun;
	socklen_t		len;
	ssize_t			n;
	size_t			size = strlen(state);
	int			fd, error;

	if ((error = notify_address(getenv("NOTIFY_SOCKET"), &sun, &len)) <= 0)
		return (error);
	if (size == 0 || size > NOTIFY_STATE_MAX)
		return (-EINVAL);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-errno);
	n = sendto(fd, state, size, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len);
	error = n == -1 ? -errno : (size_t)n != size ? -EMSGSIZE : 1;
	close(fd);
	return (error);
}

int
notify_sendf(const char *fmt, ...)
{
	va_list	 ap;
	char	*state;
	int	 error;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return (0);
	va_start(ap, fmt);
	state = xvasprintf(fmt, ap);
	va_end(ap);
	error = notify_send(state);
	free(state);
	return (error);
}
