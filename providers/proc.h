/*
 * Child processes inside a libevent loop (tmux's job.c, OpenSMTPD's
 * forkmda()): each child has its own session and process group, stdin on
 * /dev/null, stdout and stderr on one pipe (so their order is kept), an
 * explicit environment, and a timeout that kills the whole group: SIGTERM,
 * then SIGKILL after a grace period.  The output is read on a timer while
 * it comes slowly (at most 50 ms late), as it arrives once it comes fast,
 * so a provider never blocks on a full pipe while the loop runs.
 *
 * proc_init makes the process a child subreaper: grandchildren orphaned by
 * a provider come back to us and are reaped with the rest.
 */
#ifndef PROC_H
#define PROC_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct proc_spec {
	const char *const *argv;	/* argv[0]: an absolute path */
	const char *const *envp;	/* the complete environment */
	const char	*cwd;
	int		 timeout;	/* seconds; 0: none */
	int		 grace;		/* seconds between SIGTERM and SIGKILL */
};

struct proc_result {
	int		 status;	/* raw wait status */
	int		 exit_code;	/* -1 when killed by a signal */
	int		 signal;	/* 0 unless killed by a signal */
	bool		 timed_out;
	bool		 cancelled;
	const char	*cause;		/* "exited 1", "timed out after 30m"... */
	double		 wall_ms;
};

typedef void (*proc_output_cb)(const char *, size_t, void *);
typedef void (*proc_exit_cb)(const struct proc_result *, void *);

struct proc;

/*
 * Once per process: SIGCHLD through the loop (a reap loop that also
 * collects orphans) and PR_SET_CHILD_SUBREAPER.  proc_shutdown kills and
 * collects what still runs.
 */
int	 proc_init(struct event_base *);
void	 proc_shutdown(void);
/*
 * Start a child; returns when it has exec'd.  A program that cannot start
 * (missing, not executable, bad cwd) fails here with a cause ("cannot run
 * /x: Permission denied"), and no callback ever fires.  Otherwise output
 * is passed on as it arrives, and exit fires exactly once, after the reap
 * and the end of the output (at most a second after the reap, should an
 * escaped grandchild hold the pipe); it may call proc_free.  The result's
 * cause is borrowed for the callback's duration.
 */
int	 proc_spawn(struct proc **out, const struct proc_spec *,
	    proc_output_cb, proc_exit_cb, void *arg, char **cause);
/* SIGTERM to the group, SIGKILL after grace; no-op once it has ended. */
void	 proc_cancel(struct proc *, const char *why);
pid_t	 proc_pid(const struct proc *);
/* NULL-safe; kills the group if it still runs, never fires exit. */
void	 proc_free(struct proc *);

/* name resolved against a PATH string, when it has no '/'. */
int	 proc_find_program(const char *name, const char *path, char **out);
/* "45s", "30m", "1h30m". */
void	 proc_format_duration(long seconds, char *buf, size_t size);

#endif
