/*
 * The shared worker pool: the lanes waiting for a thread, the threads,
 * and the eventfd through which tasks wake the loop.
 *
 * Everything shared is under one mutex.  A lane is in the ready queue
 * exactly when it has a kicked task and none of its tasks runs; a worker
 * takes the first lane, runs its first task, and puts the lane back at
 * the tail if more of its tasks wait.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workers.h"
#include "xmalloc.h"

struct workers_task {
	TAILQ_ENTRY(workers_task) entry;	/* in its lane's queue */
	TAILQ_ENTRY(workers_task) woken_entry;
	struct workers_lane	*lane;
	workers_fn		 run;
	workers_fn		 wake;
	void			*arg;
	bool			 queued;
	bool			 running;
	bool			 again;		/* kicked while running */
	bool			 woken;
	bool			 dead;		/* being freed */
};

struct workers_lane {
	TAILQ_ENTRY(workers_lane) entry;	/* in the ready queue */
	struct workers		*pool;
	TAILQ_HEAD(, workers_task) tasks;	/* kicked, not started */
	size_t			 ntasks;	/* that exist */
	bool			 ready;
	bool			 busy;
};

struct workers_slot {
	struct workers		*pool;
	pthread_t		 thread;
	bool			 started;
	bool			 exited;	/* an extra one, idle too long */
	int64_t			 since;		/* running a task since; 0: not */
};

struct workers {
	struct event_base	*base;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work;		/* for the threads */
	pthread_cond_t		 done;		/* a task ended */
	TAILQ_HEAD(, workers_lane) ready;
	TAILQ_HEAD(, workers_task) woken;
	struct workers_slot	 slots[WORKERS_MAX];
	size_t			 nthreads;
	size_t			 nidle;
	size_t			 nsignalled;	/* woken, not running yet */
	bool			 stop;
	int			 efd;
	struct event		*wake_ev;
	struct event		*grow_ev;
};

static int64_t
workers_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Under mu: work is ready.  One thread is woken at a time, and it wakes
 * the next if work is left when it takes its own: polls come in bursts
 * of small tasks, which one thread then runs in a row instead of every
 * thread waking for each.
 */
static void
workers_signal(struct workers *pool)
{
	if (pool->nidle > pool->nsignalled && pool->nsignalled == 0) {
		pool->nsignalled++;
		pthread_cond_signal(&pool->work);
	}
}

/* Under mu: the task waits for a thread. */
static void
workers_enqueue(struct workers_task *t)
{
	struct workers_lane	*lane = t->lane;
	struct workers		*pool = lane->pool;

	TAILQ_INSERT_TAIL(&lane->tasks, t, entry);
	t->queued = true;
	if (!lane->busy && !lane->ready) {
		TAILQ_INSERT_TAIL(&pool->ready, lane, entry);
		lane->ready = true;
		workers_signal(pool);
	}
}

static void *
workers_main(void *arg)
{
	struct workers_slot	*slot = arg;
	struct workers		*pool = slot->pool;
	struct workers_lane	*lane;
	struct workers_task	*t;
	struct timespec		 ts;
	bool			 extra = slot - pool->slots >= WORKERS_MIN;

	pthread_mutex_lock(&pool->mu);
	for (;;) {
		while (!pool->stop && TAILQ_EMPTY(&pool->ready)) {
			pool->nidle++;
			if (!extra)
				pthread_cond_wait(&pool->work, &pool->mu);
			else {
				clock_gettime(CLOCK_MONOTONIC, &ts);
				ts.tv_sec += WORKERS_IDLE_MS / 1000;
				if (pthread_cond_timedwait(&pool->work,
				    &pool->mu, &ts) == ETIMEDOUT &&
				    TAILQ_EMPTY(&pool->ready)) {
					pool->nidle--;
					if (pool->nsignalled > 0)
						pool->nsignalled--;
					goto out;
				}
			}
			pool->nidle--;
			if (pool->nsignalled > 0)
				pool->nsignalled--;
		}
		if (pool->stop)
			break;
		lane = TAILQ_FIRST(&pool->ready);
		TAILQ_REMOVE(&pool->ready, lane, entry);
		lane->ready = false;
		lane->busy = true;
		t = TAILQ_FIRST(&lane->tasks);
		TAILQ_REMOVE(&lane->tasks, t, entry);
		t->queued = false;
		t->running = true;
		slot->since = workers_now_ms();
		if (!TAILQ_EMPTY(&pool->ready))
			workers_signal(pool);
		pthread_mutex_unlock(&pool->mu);

		t->run(t->arg);

		pthread_mutex_lock(&pool->mu);
		slot->since = 0;
		t->running = false;
		lane->busy = false;
		if (t->again && !t->dead) {
			t->again = false;
			TAILQ_INSERT_TAIL(&lane->tasks, t, entry);
			t->queued = true;
		}
		if (!TAILQ_EMPTY(&lane->tasks)) {
			TAILQ_INSERT_TAIL(&pool->ready, lane, entry);
			lane->ready = true;
		}
		pthread_cond_broadcast(&pool->done);
	}
out:
	slot->exited = true;
	pool->nthreads--;
	pthread_mutex_unlock(&pool->mu);
	return (NULL);
}

/* Under mu. */
static int
workers_spawn(struct workers *pool)
{
	struct workers_slot	*slot = NULL;
	size_t			 i;

	for (i = 0; i < WORKERS_MAX; i++) {
		if (pool->slots[i].started && pool->slots[i].exited) {
			pthread_join(pool->slots[i].thread, NULL);
			pool->slots[i].started = false;
		}
		if (!pool->slots[i].started && slot == NULL)
			slot = &pool->slots[i];
	}
	if (slot == NULL)
		return (-EAGAIN);
	slot->pool = pool;
	slot->exited = false;
	slot->since = 0;
	if (pthread_create(&slot->thread, NULL, workers_main, slot) != 0)
		return (-EAGAIN);
	slot->started = true;
	pool->nthreads++;
	return (0);
}

/* Under mu: every thread is held by a slow task and lanes wait. */
static bool
workers_stuck(struct workers *pool)
{
	int64_t	now = workers_now_ms();
	size_t	i;

	if (TAILQ_EMPTY(&pool->ready) || pool->nidle > 0)
		return (false);
	for (i = 0; i < WORKERS_MAX; i++) {
		const struct workers_slot *s = &pool->slots[i];

		if (s->started && !s->exited &&
		    (s->since == 0 || now - s->since < WORKERS_SLOW_MS))
			return (false);
	}
	return (true);
}

static void
workers_grow_arm(struct workers *pool)
{
	struct timeval	tv = { WORKERS_SLOW_MS / 1000,
	    (WORKERS_SLOW_MS % 1000) * 1000 };

	if (!evtimer_pending(pool->grow_ev, NULL))
		evtimer_add(pool->grow_ev, &tv);
}

/* Loop: lanes still wait behind slow tasks? One more thread. */
static void
workers_grow(evutil_socket_t fd, short events, void *arg)
{
	struct workers	*pool = arg;
	bool		 again;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&pool->mu);
	if (workers_stuck(pool) && pool->nthreads < WORKERS_MAX)
		(void)workers_spawn(pool);
	again = !TAILQ_EMPTY(&pool->ready) && pool->nthreads < WORKERS_MAX;
	pthread_mutex_unlock(&pool->mu);
	if (again)
		workers_grow_arm(pool);
}

/* Loop: the tasks that have something for it. */
static void
workers_wake(evutil_socket_t fd, short events, void *arg)
{
	struct workers		*pool = arg;
	struct workers_task	*t;
	uint64_t		 n;
	workers_fn		 fn;
	void			*fnarg;

	(void)events;
	while (read(fd, &n, sizeof n) == -1 && errno == EINTR)
		;
	for (;;) {
		pthread_mutex_lock(&pool->mu);
		if ((t = TAILQ_FIRST(&pool->woken)) != NULL) {
			TAILQ_REMOVE(&pool->woken, t, woken_entry);
			t->woken = false;
		}
		pthread_mutex_unlock(&pool->mu);
		if (t == NULL)
			break;
		/* Only the loop frees a task: it is still there. */
		fn = t->wake;
		fnarg = t->arg;
		if (fn != NULL)
			fn(fnarg);
	}
}

int
workers_new(struct workers **out, struct event_base *base, char **cause)
{
	struct workers	*pool;
	size_t		 i;

	*out = NULL;
	pool = xcalloc(1, sizeof *pool);
	pool->base = base;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->done, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&pool->work, &ca);
		pthread_condattr_destroy(&ca);
	}
	TAILQ_INIT(&pool->ready);
	TAILQ_INIT(&pool->woken);
	if ((pool->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		*cause = xasprintf("eventfd: %s", strerror(errno));
		workers_free(pool);
		return (-EMFILE);
	}
	pool->wake_ev = event_new(base, pool->efd, EV_READ | EV_PERSIST,
	    workers_wake, pool);
	event_add(pool->wake_ev, NULL);
	pool->grow_ev = evtimer_new(base, workers_grow, pool);
	pthread_mutex_lock(&pool->mu);
	for (i = 0; i < WORKERS_MIN; i++) {
		if (workers_spawn(pool) != 0) {
			pthread_mutex_unlock(&pool->mu);
			*cause = xstrdup("cannot start the worker threads");
			workers_free(pool);
			return (-EAGAIN);
		}
	}
	pthread_mutex_unlock(&pool->mu);
	*out = pool;
	return (0);
}

size_t
workers_threads(struct workers *pool)
{
	size_t	n;

	pthread_mutex_lock(&pool->mu);
	n = pool->nthreads;
	pthread_mutex_unlock(&pool->mu);
	return (n);
}

void
workers_free(struct workers *pool)
{
	size_t	i;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mu);
	assert(TAILQ_EMPTY(&pool->ready));
	pool->stop = true;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->mu);
	for (i = 0; i < WORKERS_MAX; i++)
		if (pool->slots[i].started)
			pthread_join(pool->slots[i].thread, NULL);
	if (pool->wake_ev != NULL)
		event_free(pool->wake_ev);
	if (pool->grow_ev != NULL)
		event_free(pool->grow_ev);
	if (pool->efd != -1)
		close(pool->efd);
	pthread_mutex_destroy(&pool->mu);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->done);
	free(pool);
}

struct workers_lane *
workers_lane_new(struct workers *pool)
{
	struct workers_lane	*lane = xcalloc(1, sizeof *lane);

	lane->pool = pool;
	TAILQ_INIT(&lane->tasks);
	return (lane);
}

void
workers_lane_free(struct workers_lane *lane)
{
	if (lane == NULL)
		return;
	assert(lane->ntasks == 0 && !lane->ready && !lane->busy);
	free(lane);
}

struct workers_task *
workers_task_new(struct workers_lane *lane, workers_fn run, workers_fn wake,
    void *arg)
{
	struct workers_task	*t = xcalloc(1, sizeof *t);

	t->lane = lane;
	t->run = run;
	t->wake = wake;
	t->arg = arg;
	pthread_mutex_lock(&lane->pool->mu);
	lane->ntasks++;
	pthread_mutex_unlock(&lane->pool->mu);
	return (t);
}

void
workers_task_kick(struct workers_task *t)
{
	struct workers	*pool = t->lane->pool;
	bool		 wait;

	pthread_mutex_lock(&pool->mu);
	if (t->running)
		t->again = true;
	else if (!t->queued && !t->dead)
		workers_enqueue(t);
	/*
	 * Whatever nidle says: a thread woken for an earlier kick may not
	 * have taken its task yet, and still counts as idle.  The timer
	 * only looks (workers_stuck), and stops once nothing waits.
	 */
	wait = !TAILQ_EMPTY(&pool->ready) && pool->nthreads < WORKERS_MAX;
	pthread_mutex_unlock(&pool->mu);
	if (wait)
		workers_grow_arm(pool);
}

void
workers_task_wake(struct workers_task *t)
{
	struct workers	*pool = t->lane->pool;
	uint64_t	 one = 1;
	bool		 first;

	pthread_mutex_lock(&pool->mu);
	if (t->woken || t->dead) {
		pthread_mutex_unlock(&pool->mu);
		return;
	}
	first = TAILQ_EMPTY(&pool->woken);
	TAILQ_INSERT_TAIL(&pool->woken, t, woken_entry);
	t->woken = true;
	pthread_mutex_unlock(&pool->mu);
	if (first)
		while (write(pool->efd, &one, sizeof one) == -1 &&
		    errno == EINTR)
			;
}

void
workers_task_free(struct workers_task *t)
{
	struct workers_lane	*lane;
	struct workers		*pool;

	if (t == NULL)
		return;
	lane = t->lane;
	pool = lane->pool;
	pthread_mutex_lock(&pool->mu);
	t->dead = true;
	while (t->running)
		pthread_cond_wait(&pool->done, &pool->mu);
	if (t->queued) {
		TAILQ_REMOVE(&lane->tasks, t, entry);
		t->queued = false;
		if (TAILQ_EMPTY(&lane->tasks) && lane->ready) {
			TAILQ_REMOVE(&pool->ready, lane, entry);
			lane->ready = false;
		}
	}
	if (t->woken) {
		TAILQ_REMOVE(&pool->woken, t, woken_entry);
		t->woken = false;
	}
	lane->ntasks--;
	pthread_mutex_unlock(&pool->mu);
	free(t);
}
