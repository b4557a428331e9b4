/*
 * Logging for the daemon, OpenBSD style: log_warn appends strerror(errno),
 * log_warnx does not; fatal and fatalx exit.  Lines go to stderr, which
 * systemd sends to the journal; under systemd (JOURNAL_STREAM set) each
 * line starts with its syslog priority ("<4>") so the journal keeps it.
 * Only daemon/ logs: the libraries return causes.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void	log_init(enum log_level, const char *progname);
void	log_setlevel(enum log_level);
enum log_level log_getlevel(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
