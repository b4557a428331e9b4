/*
 * The daemon's log: one line per event on stderr, with the syslog priority
 * prefix the journal understands when stderr is a journal stream.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level	 log_level = LOG_LEVEL_INFO;
static const char	*log_name = "cloudsphered";
static int		 log_journal;

void
log_init(enum log_level level, const char *progname)
{
	log_level = level;
	if (progname != NULL)
		log_name = progname;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return (log_level);
}

/* prio: syslog priority (3 err, 4 warning, 6 info, 7 debug). */
static void
log_vwrite(int prio, const char *fmt, va_list ap, const char *err)
{
	char		 msg[4096], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", prio, msg, err != NULL ?
		    ": " : "", err != NULL ? err : "");
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s: %s%s%s\n", stamp,
		    ts.tv_nsec / 1000000, log_name, msg,
		    err != NULL ? ": " : "", err != NULL ? err : "");
	}
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	 err[256];
	int	 saved = errno;

	snprintf(err, sizeof err, "%s", strerror(saved));
	va_start(ap, fmt);
	log_vwrite(4, fmt, ap, err);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(4, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_vwrite(6, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vwrite(7, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 err[256];

	snprintf(err, sizeof err, "%s", strerror(errno));
	va_start(ap, fmt);
	log_vwrite(3, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(3, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
