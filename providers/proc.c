/*
 * Child processes on the event loop.  A child is done when it was reaped
 * and its pipe reached end of file, whichever comes last; a grandchild
 * that escaped the process group and keeps the pipe open cannot hold the
 * run: one second after the reap, the pipe is closed anyway.
 *
 * The output is a pipe, not a file the loop would read behind the writer
 * (a memfd): a script's "echo x >/dev/stderr" opens the file anew, with
 * O_TRUNC and at offset 0, and truncated what was written before; a
 * writer could get ahead without bound; and measured, writing into shmem
 * cost the writer more than into a pipe (4 KiB writes: 0.35 against 0.13 s
 * of CPU per GiB), the reader too (0.27 against 0.11 s).
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "xmalloc.h"

#define PROC_READ_MAX	(64 * 1024)
#define PROC_READ_ROUNDS 16		/* reads per wakeup, at most */
#define PROC_PIPE_SIZE	(1024 * 1024)	/* asked; halved down when refused */
#define PROC_PIPE_MIN	(64 * 1024)	/* Linux's default */
#define PROC_DRAIN_MS	1000
#define PROC_BATCH_US	1000
#define PROC_POLL_MAX_US 50000		/* a slow writer is seen this late */

struct proc {
	LIST_ENTRY(proc)	 entry;
	pid_t			 pid;
	int			 fd;		/* read end, or -1 at EOF */
	struct event		*read_ev;
	struct event		*timer_ev;	/* timeout, then grace */
	struct event		*drain_ev;
	struct event		*batch_ev;	/* reading again, later */
	size_t			 pipe_size;
	struct timespec		 last_read;	/* the last wakeup that read */
	long			 poll_us;	/* until polled: the timer's period */
	bool			 polled;	/* ever in epoll */
	proc_output_cb		 output;
	proc_exit_cb		 exit;
	void			*arg;
	int			 timeout;
	int			 grace;
	bool			 reaped;
	bool			 killing;	/* SIGTERM sent */
	bool			 timed_out;
	bool			 cancelled;
	bool			 done;
	int			 status;
	char			*why;
	char			*cause;
	struct timespec		 start;
};

static LIST_HEAD(, proc)	 procs = LIST_HEAD_INITIALIZER(procs);
static struct event_base	*proc_base;
static struct event		*proc_sigchld;

void
proc_format_duration(long s, char *buf, size_t size)
{
	long	h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
	size_t	off = 0;

	buf[0] = '\0';
	if (s <= 0) {
		snprintf(buf, size, "0s");
		return;
	}
	/* Only the units that are not zero: "1h", "1h30m", "2m5s". */
	if (h > 0)
		off += (size_t)snprintf(buf + off, size - off, "%ldh", h);
	if (m > 0 && off < size)
		off += (size_t)snprintf(buf + off, size - off, "%ldm", m);
	if (sec > 0 && off < size)
		snprintf(buf + off, size - off, "%lds", sec);
}

static void
proc_finish(struct proc *p)
{
	struct proc_result	 r;
	struct timespec		 now;
	char			 dur[32];

	if (p->done || !p->reaped || p->fd != -1)
		return;
	p->done = true;
	if (p->drain_ev != NULL)
		evtimer_del(p->drain_ev);
	if (p->timer_ev != NULL)
		evtimer_del(p->timer_ev);
	memset(&r, 0, sizeof r);
	r.status = p->status;
	r.exit_code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
	r.signal = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
	r.timed_out = p->timed_out;
	r.cancelled = p->cancelled;
	if (p->timed_out) {
		proc_format_duration(p->timeout, dur, sizeof dur);
		p->cause = xasprintf("timed out after %s", dur);
	} else if (p->cancelled)
		p->cause = xasprintf("cancelled: %s", p->why != NULL ?
		    p->why : "on request");
	else if (WIFEXITED(p->status))
		p->cause = xasprintf("exited %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		p->cause = xasprintf("killed by signal %d (SIG%s)",
		    WTERMSIG(p->status), sigabbrev_np(WTERMSIG(p->status)) ?
		    sigabbrev_np(WTERMSIG(p->status)) : "?");
	else
		p->cause = xstrdup("ended");
	r.cause = p->cause;
	clock_gettime(CLOCK_MONOTONIC, &now);
	r.wall_ms = (double)(now.tv_sec - p->start.tv_sec) * 1000.0 +
	    (double)(now.tv_nsec - p->start.tv_nsec) / 1e6;
	p->exit(&r, p->arg);	/* may free p */
}

static void
proc_close_pipe(struct proc *p)
{
	if (p->batch_ev != NULL)
		evtimer_del(p->batch_ev);
	if (p->read_ev != NULL) {
		event_free(p->read_ev);
		p->read_ev = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
}

/*
 * Whether to let the pipe fill for a while before reading it again, rather
 * than be woken by the next write.  A provider writing through stdio
 * writes a few KiB at a time, and epoll wakes the loop at every write: a
 * wakeup, a context switch and a short read for each 4 KiB, paid on both
 * sides (the writer's write(2) does the wakeup).  Out of epoll for
 * PROC_BATCH_US the writer wakes no one and the next read takes a large
 * block.  Only when what arrived since the last read, at the same rate,
 * fills at most half the pipe in that time: a fast writer never finds it
 * full, and a slow one is seen late by PROC_BATCH_US at most.
 */
static bool
proc_batch(struct proc *p, size_t got, const struct timespec *now)
{
	double	us;

	us = (double)(now->tv_sec - p->last_read.tv_sec) * 1e6 +
	    (double)(now->tv_nsec - p->last_read.tv_nsec) / 1e3;
	if (us <= 0)
		return (false);
	return ((double)got * PROC_BATCH_US / us <= (double)p->pipe_size / 2);
}

/*
 * Until the pipe is first put in epoll, it is read on a timer.  Once a
 * pipe was polled, the kernel wakes its wait queue at every write(2), an
 * empty queue too (fs/pipe.c: pipe->poll_usage, which stays set); never
 * polled, only a write into an empty pipe does.  A writer of 100-byte
 * lines, unbuffered as Go's os.Stdout (Terraform), spent 1.99 s of CPU per
 * GiB into a pipe read on a timer, 2.33 s into one read as proc_batch
 * does, 1.20 s to /dev/null.  The period: the time the writer takes, at
 * the rate since the last read, to fill half the pipe, at most twice the
 * last period (the rate since the spawn includes the exec) and
 * PROC_POLL_MAX_US (doubling up to that while nothing comes).  A pipe
 * found full is read again after PROC_BATCH_US; 0 when it is found full
 * at that period, or the half would fill sooner: a writer that fast goes
 * to epoll, where proc_batch takes over, and stays there (the kernel's
 * flag does).
 */
static long
proc_poll_period(struct proc *p, size_t got, bool drained,
    const struct timespec *now)
{
	double	us, fill;
	long	most;

	if (!drained)
		return (p->poll_us > PROC_BATCH_US ? PROC_BATCH_US : 0);
	most = p->poll_us * 2 < PROC_POLL_MAX_US ? p->poll_us * 2 :
	    PROC_POLL_MAX_US;
	if (got == 0)
		return (most);
	us = (double)(now->tv_sec - p->last_read.tv_sec) * 1e6 +
	    (double)(now->tv_nsec - p->last_read.tv_nsec) / 1e3;
	fill = us * ((double)p->pipe_size / 2) / (double)got;
	if (fill < PROC_BATCH_US)
		return (0);
	return (fill < (double)most ? (long)fill : most);
}

/* From the timer to epoll, for good. */
static void
proc_poll_start(struct proc *p)
{
	p->polled = true;
	evtimer_del(p->batch_ev);
	if (!event_pending(p->read_ev, EV_READ, NULL))
		event_add(p->read_ev, NULL);
}

static void
proc_read(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;
	struct timeval	 tv = { 0, PROC_BATCH_US };
	struct timespec	 now;
	char		 buf[PROC_READ_MAX];
	size_t		 got = 0;
	ssize_t		 n;
	int		 rounds = 0;
	bool		 drained = false, batch;

	(void)events;
	/* A few reads per wakeup, so one chatty child cannot starve others. */
	while (!drained && rounds++ < PROC_READ_ROUNDS) {
		n = read(fd, buf, sizeof buf);
		if (n > 0) {
			got += (size_t)n;
			p->output(buf, (size_t)n, p->arg);
		} else if (n == -1 && errno == EAGAIN)
			drained = true;
		else if (n != -1 || errno != EINTR) {
			proc_close_pipe(p);
			proc_finish(p);
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!p->polled) {
		p->poll_us = proc_poll_period(p, got, drained, &now);
		if (p->poll_us == 0) {
			proc_poll_start(p);
			p->last_read = now;
			return;
		}
		if (got > 0)
			p->last_read = now;
		tv.tv_usec = p->poll_us;
		evtimer_add(p->batch_ev, &tv);
		return;
	}
	if (got == 0) {
		/* Nothing came since the last look: back to epoll. */
		if (!event_pending(p->read_ev, EV_READ, NULL))
			event_add(p->read_ev, NULL);
		return;
	}
	batch = drained && proc_batch(p, got, &now);
	p->last_read = now;
	if (batch) {
		if (event_pending(p->read_ev, EV_READ, NULL))
			event_del(p->read_ev);
		evtimer_add(p->batch_ev, &tv);
	} else if (!event_pending(p->read_ev, EV_READ, NULL))
		event_add(p->read_ev, NULL);
}

static void
proc_batch_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)events;
	if (p->fd != -1)
		proc_read(p->fd, EV_READ, p);
}

static void
proc_drain_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;

	(void)fd;
	(void)events;
	proc_close_pipe(p);
	proc_finish(p);
}

/*
 * The whole group: the child, and what it started and did not detach.
 * Before the child's setsid() there is no group yet, only the child.  Never
 * after the reap: the pid could be someone else's by then.
 */
static void
proc_kill_group(struct proc *p, int sig)
{
	if (p->reaped)
		return;
	if (kill(-p->pid, sig) != 0 && errno == ESRCH)
		kill(p->pid, sig);
}

static void
proc_timer(evutil_socket_t fd, short events, void *arg)
{
	struct proc	*p = arg;
	struct timeval	 tv = { p->grace, 0 };

	(void)fd;
	(void)events;
	if (p->reaped)
		return;
	if (!p->killing) {
		if (!p->cancelled)
			p->timed_out = true;
		p->killing = true;
		proc_kill_group(p, SIGTERM);
		evtimer_add(p->timer_ev, &tv);
		return;
	}
	proc_kill_group(p, SIGKILL);
}

static void
proc_reap(evutil_socket_t sig, short events, void *arg)
{
	struct proc	*p;
	struct timeval	 tv = { PROC_DRAIN_MS / 1000,
	    (PROC_DRAIN_MS % 1000) * 1000 };
	pid_t		 pid;
	int		 status;

	(void)sig;
	(void)events;
	(void)arg;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(p, &procs, entry) {
			if (p->pid == pid && !p->reaped)
				break;
		}
		if (p == NULL)
			continue;	/* an orphaned grandchild */
		/*
		 * Whatever is left of the group goes with it (the group
		 * keeps its id while it has members, so this cannot hit
		 * another process).
		 */
		kill(-p->pid, SIGKILL);
		p->reaped = true;
		p->status = status;
		evtimer_del(p->timer_ev);
		if (p->fd != -1) {
			evtimer_add(p->drain_ev, &tv);
			/* The end, seen as soon as it comes. */
			if (!p->polled)
				proc_poll_start(p);
		}
		proc_finish(p);
	}
}

int
proc_init(struct event_base *base)
{
	if (proc_base != NULL)
		return (-EBUSY);
	/* Orphaned grandchildren come back to us, to be reaped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		return (-errno);
	proc_sigchld = evsignal_new(base, SIGCHLD, proc_reap, NULL);
	if (proc_sigchld == NULL || evsignal_add(proc_sigchld, NULL) != 0) {
		if (proc_sigchld != NULL)
			event_free(proc_sigchld);
		proc_sigchld = NULL;
		return (-EIO);
	}
	proc_base = base;
	return (0);
}

void
proc_shutdown(void)
{
	struct proc	*p;
	pid_t		 pid;
	bool		 reaped;

	while ((p = LIST_FIRST(&procs)) != NULL) {
		pid = p->pid;
		reaped = p->reaped;
		proc_free(p);
		/* Killed just now: collect it rather than leave a zombie. */
		while (!reaped && waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
	}
	if (proc_sigchld != NULL) {
		event_free(proc_sigchld);
		proc_sigchld = NULL;
	}
	proc_base = NULL;
}

/*
 * Why a child could not start, sent to the parent over a close-on-exec
 * pipe: nothing arrives when execve() succeeded.
 */
struct proc_failure {
	int	stage;		/* PROC_STAGE_* */
	int	error;		/* errno */
};
#define PROC_STAGE_SETUP	1
#define PROC_STAGE_CHDIR	2
#define PROC_STAGE_EXEC		3

static void __attribute__((noreturn))
proc_child_fail(int errfd, int stage)
{
	struct proc_failure	f = { stage, errno };
	ssize_t			n;

	do
		n = write(errfd, &f, sizeof f);
	while (n == -1 && errno == EINTR);
	_exit(stage == PROC_STAGE_EXEC && f.error == ENOENT ? 127 : 126);
}

/*
 * In the child, between fork() and execve(): only async-signal-safe calls
 * (the daemon has threads).  Never returns.
 */
static void __attribute__((noreturn))
proc_child(const struct proc_spec *spec, int out, int errfd)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 fd, sig;

	/* Keep the report pipe clear of 0-3 while they are rearranged. */
	if ((errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 4)) == -1)
		_exit(126);
	if (setsid() == -1)
		proc_child_fail(errfd, PROC_STAGE_SETUP);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* fails for KILL, STOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if ((out = fcntl(out, F_DUPFD, 4)) == -1 ||
	    (fd = open("/dev/null", O_RDONLY)) == -1 ||
	    (fd != 0 && dup2(fd, 0) == -1) ||
	    dup2(out, 1) == -1 || dup2(out, 2) == -1 ||
	    dup3(errfd, 3, O_CLOEXEC) == -1)
		proc_child_fail(errfd, PROC_STAGE_SETUP);
	errfd = 3;
	closefrom(4);
	if (spec->cwd != NULL && chdir(spec->cwd) != 0)
		proc_child_fail(errfd, PROC_STAGE_CHDIR);
	execve(spec->argv[0], (char *const *)spec->argv,
	    (char *const *)spec->envp);
	proc_child_fail(errfd, PROC_STAGE_EXEC);
}

/*
 * Wait for the child to exec: its report pipe closes, or says why it
 * could not.  Returns 0 when the program runs.
 */
static int
proc_started(const struct proc_spec *spec, pid_t pid, int errfd,
    char **cause)
{
	struct proc_failure	f;
	ssize_t			n;
	int			status;

	do
		n = read(errfd, &f, sizeof f);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		return (0);
	/* It exits at once: reap it here, the loop never sees it. */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof f) {
		*cause = xasprintf("cannot run %s", spec->argv[0]);
		return (-EIO);
	}
	switch (f.stage) {
	case PROC_STAGE_CHDIR:
		*cause = xasprintf("cannot enter %s: %s", spec->cwd,
		    strerror(f.error));
		break;
	case PROC_STAGE_EXEC:
		*cause = xasprintf("cannot run %s: %s", spec->argv[0],
		    strerror(f.error));
		break;
	default:
		*cause = xasprintf("cannot start %s: %s", spec->argv[0],
		    strerror(f.error));
		break;
	}
	return (f.error > 0 ? -f.error : -EIO);
}

int
proc_spawn(struct proc **out, const struct proc_spec *spec,
    proc_output_cb output, proc_exit_cb exitcb, void *arg, char **cause)
{
	struct proc	*p;
	sigset_t	 all, old;
	struct timeval	 tv;
	int		 fds[2], errfds[2], error, psize;
	pid_t		 pid;

	*out = NULL;
	*cause = NULL;
	if (proc_base == NULL) {
		*cause = xstrdup("proc_init was not called");
		return (-EINVAL);
	}
	if (spec->argv == NULL || spec->argv[0] == NULL ||
	    spec->argv[0][0] != '/') {
		*cause = xasprintf("not an absolute program path: %s",
		    spec->argv != NULL && spec->argv[0] != NULL ?
		    spec->argv[0] : "(none)");
		return (-EINVAL);
	}
	if (spec->envp == NULL) {
		*cause = xstrdup("no environment given");
		return (-EINVAL);
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		error = -errno;
		*cause = xasprintf("pipe: %s", strerror(errno));
		return (error);
	}
	if (pipe2(errfds, O_CLOEXEC) != 0) {
		error = -errno;
		*cause = xasprintf("pipe: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return (error);
	}
	/*
	 * A provider writing fast should rarely find the pipe full.  Above
	 * /proc/sys/fs/pipe-max-size, or past the user's pipe-user-pages-soft,
	 * the kernel refuses: a smaller size, down to its default.
	 */
	for (psize = PROC_PIPE_SIZE; psize > PROC_PIPE_MIN; psize /= 2) {
		if (fcntl(fds[0], F_SETPIPE_SZ, psize) != -1)
			break;
	}
	if ((psize = fcntl(fds[0], F_GETPIPE_SZ)) <= 0)
		psize = PROC_PIPE_MIN;

	/*
	 * No handler of ours may run in the child before the reset.
	 *
	 * vfork, not fork: the child shares the daemon's memory until it
	 * execs (proc_child touches only its own stack and the spec, and
	 * never returns), so the daemon's pages are not marked copy-on-write.
	 * With fork, every page the daemon wrote after a spawn took a fault:
	 * with 10,000 deployments loaded, the model load that followed a
	 * run took 8.8-10.4 ms instead of 2.6-3.8 (model-scale -e 10000).
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = vfork();
	if (pid == 0)
		proc_child(spec, fds[1], errfds[1]);
	/* The child may have set errno (shared memory): read it only here. */
	error = pid == -1 ? -errno : 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	close(errfds[1]);
	if (pid == -1) {
		*cause = xasprintf("fork: %s", strerror(-error));
		close(fds[0]);
		close(errfds[0]);
		return (error);
	}
	error = proc_started(spec, pid, errfds[0], cause);
	close(errfds[0]);
	if (error != 0) {
		close(fds[0]);
		return (error);
	}

	p = xcalloc(1, sizeof *p);
	p->pid = pid;
	p->fd = fds[0];
	p->output = output;
	p->exit = exitcb;
	p->arg = arg;
	p->timeout = spec->timeout;
	p->grace = spec->grace > 0 ? spec->grace : 0;
	p->pipe_size = (size_t)psize;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last_read = p->start;
	p->poll_us = PROC_BATCH_US;
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	p->read_ev = event_new(proc_base, p->fd, EV_READ | EV_PERSIST,
	    proc_read, p);
	p->timer_ev = evtimer_new(proc_base, proc_timer, p);
	p->drain_ev = evtimer_new(proc_base, proc_drain_timeout, p);
	p->batch_ev = evtimer_new(proc_base, proc_batch_timeout, p);
	if (p->read_ev == NULL || p->timer_ev == NULL || p->drain_ev == NULL ||
	    p->batch_ev == NULL)
		abort();	/* libevent only fails here without memory */
	tv.tv_sec = 0;
	tv.tv_usec = p->poll_us;
	evtimer_add(p->batch_ev, &tv);	/* proc_poll_period */
	if (p->timeout > 0) {
		tv.tv_sec = p->timeout;
		tv.tv_usec = 0;
		evtimer_add(p->timer_ev, &tv);
	}
	LIST_INSERT_HEAD(&procs, p, entry);
	*out = p;
	return (0);
}

void
proc_cancel(struct proc *p, const char *why)
{
	struct timeval	tv = { 0, 0 };

	/* Once reaped, the child ended on its own: that is the result. */
	if (p == NULL || p->done || p->reaped || p->cancelled)
		return;
	p->cancelled = true;
	free(p->why);
	p->why = why != NULL ? xstrdup(why) : NULL;
	if (!p->killing) {
		evtimer_del(p->timer_ev);
		evtimer_add(p->timer_ev, &tv);
	}
}

pid_t
proc_pid(const struct proc *p)
{
	return (p->pid);
}

void
proc_free(struct proc *p)
{
	if (p == NULL)
		return;
	LIST_REMOVE(p, entry);
	/* Reaped later by the loop, as an unknown pid. */
	proc_kill_group(p, SIGKILL);
	proc_close_pipe(p);
	if (p->timer_ev != NULL)
		event_free(p->timer_ev);
	if (p->drain_ev != NULL)
		event_free(p->drain_ev);
	if (p->batch_ev != NULL)
		event_free(p->batch_ev);
	free(p->why);
	free(p->cause);
	free(p);
}

int
proc_find_program(const char *name, const char *path, char **out)
{
	char		*copy, *dir, *save = NULL, *cand;
	struct stat	 st;

	*out = NULL;
	if (strchr(name, '/') != NULL) {
		if (name[0] != '/')
			return (-EINVAL);
		*out = xstrdup(name);
		return (0);
	}
	copy = xstrdup(path != NULL ? path : "/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] != '/')
			continue;
		cand = xasprintf("%s/%s", dir, name);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(cand, X_OK) == 0) {
			*out = cand;
			free(copy);
			return (0);
		}
		free(cand);
	}
	free(copy);
	return (-ENOENT);
}
