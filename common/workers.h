/*
 * A small pool of worker threads shared by every repository, so that the
 * daemon's threads (and glibc's per-thread malloc arenas) do not grow with
 * the number of repositories, and so that nothing blocking (a network
 * fetch, a push, a big model load) ever runs on the event loop.
 *
 * A task is a function that runs on a worker when kicked; a lane is a
 * group of tasks that never run at the same time (the tasks of one
 * repository: its fetch and load, its ledger push, which share the mirror
 * and its libgit2 handles).  Lanes with work take turns in arrival order,
 * one task each, so that a busy repository cannot keep the others out.
 *
 * The pool has WORKERS_MIN threads.  While every thread is held by a task
 * running for longer than WORKERS_SLOW_MS (a fetch from a remote that
 * does not answer runs up to its deadline) and other lanes wait, it adds
 * threads, up to WORKERS_MAX; those extra threads end after
 * WORKERS_IDLE_MS without work.
 *
 * A task tells the loop it has something for it with workers_task_wake:
 * its wake function runs on the loop, once for any number of wakes since
 * the last one, all tasks sharing the pool's one eventfd.
 *
 * Everything but workers_task_wake is called on the loop.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <event2/event.h>

#define WORKERS_MIN		2
#define WORKERS_MAX		8
#define WORKERS_SLOW_MS		2000
#define WORKERS_IDLE_MS		30000

typedef void (*workers_fn)(void *arg);

struct workers;
struct workers_lane;
struct workers_task;

int	 workers_new(struct workers **out, struct event_base *, char **cause);
/* Stops and joins the threads: every lane must be freed first. */
void	 workers_free(struct workers *);
/* Threads now (for tests and metrics). */
size_t	 workers_threads(struct workers *);

struct workers_lane *workers_lane_new(struct workers *);
/* Its tasks must be freed first. */
void	 workers_lane_free(struct workers_lane *);

/* run on a worker; wake (may be NULL) on the loop. */
struct workers_task *workers_task_new(struct workers_lane *, workers_fn run,
	    workers_fn wake, void *arg);
/*
 * Run the task (once for any number of kicks before it starts; once more
 * after it when kicked while it runs).
 */
void	 workers_task_kick(struct workers_task *);
/* From the task's run: call its wake function on the loop. */
void	 workers_task_wake(struct workers_task *);
/*
 * Waits for the task if it is running (its run should see it is asked to
 * stop), drops a kick or a wake not acted on yet, and frees it.
 */
void	 workers_task_free(struct workers_task *);

#endif
