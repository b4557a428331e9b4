/*
 * systemd's notify protocol, the part cloudsphered speaks (sd_notify(3),
 * sd_watchdog_enabled(3)), without libsystemd: a state string is one
 * datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or
 * "@name" for Linux's abstract namespace), and the watchdog is on when
 * $WATCHDOG_USEC is set and $WATCHDOG_PID is unset or names this process.
 * Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdint.h>

/*
 * Send STATE ("READY=1", "STATUS=...", newline-separated assignments):
 * 1 sent, 0 no $NOTIFY_SOCKET, else a negative errno.
 */
int	notify_send(const char *state);
int	notify_sendf(const char *fmt, ...)
	    __attribute__((__format__(__printf__, 1, 2)));
/*
 * Whether systemd expects WATCHDOG=1 from this process, and within how
 * many microseconds (*usec): 1 yes, 0 no, -EINVAL a malformed variable.
 */
int	notify_watchdog(uint64_t *usec);

/* The parsers behind them, apart for the tests. */
/*
 * $NOTIFY_SOCKET's value as an address: 1 and *out, *len; 0 for NULL
 * (no socket); -EINVAL empty or too long; -EAFNOSUPPORT neither a path
 * nor "@".
 */
int	notify_address(const char *value, struct sockaddr_un *out,
	    socklen_t *len);
/* $WATCHDOG_USEC and $WATCHDOG_PID (either NULL if unset) for pid SELF. */
int	notify_watchdog_parse(const char *usec_value, const char *pid_value,
	    pid_t self, uint64_t *usec);

#endif
