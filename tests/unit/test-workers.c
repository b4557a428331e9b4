/*
 * Unit tests of the shared worker pool: the tasks of one lane never run
 * at the same time, however often they are kicked; kicks coalesce; wakes
 * reach the loop, on the loop's thread; tasks held for long do not keep
 * other lanes out (the pool adds a thread); a task freed before it ran
 * never runs; the pool's end joins its threads.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "testutil.h"
#include "workers.h"
#include "xmalloc.h"

#define NLANES	6
#define NTASKS	3	/* per lane */
#define NKICKS	200

struct lane_state {
	atomic_int	 active;
	atomic_int	 overlaps;
};

struct task_state {
	struct workers_task	*task;
	struct lane_state	*lane;
	atomic_int		 runs;
	int			 wakes;		/* loop side */
	bool			 wrong_thread;
};

static pthread_t	 loop_thread;

static void
serial_run(void *arg)
{
	struct task_state	*t = arg;

	if (atomic_fetch_add(&t->lane->active, 1) != 0)
		atomic_fetch_add(&t->lane->overlaps, 1);
	usleep(300);
	atomic_fetch_sub(&t->lane->active, 1);
	atomic_fetch_add(&t->runs, 1);
	workers_task_wake(t->task);
	workers_task_wake(t->task);
}

static void
serial_wake(void *arg)
{
	struct task_state	*t = arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		t->wrong_thread = true;
	t->wakes++;
}

struct kicker {
	struct event_base	*base;
	struct event		*ev;
	struct task_state	*tasks;
	int			 rounds;
};

static void
kick_round(evutil_socket_t fd, short events, void *arg)
{
	struct kicker	*k = arg;
	struct timeval	 tv = { 0, 500 };
	size_t		 i;

	(void)fd;
	(void)events;
	for (i = 0; i < NLANES * NTASKS; i++)
		workers_task_kick(k->tasks[i].task);
	if (++k->rounds < NKICKS)
		evtimer_add(k->ev, &tv);
	else {
		tv.tv_usec = 0;
		tv.tv_sec = 1;	/* the last runs and their wakes */
		event_base_loopexit(k->base, &tv);
	}
}

static void
test_lanes_are_serial(void **state)
{
	struct event_base	*base = event_base_new();
	struct workers		*pool;
	struct workers_lane	*lanes[NLANES];
	struct lane_state	 ls[NLANES];
	struct task_state	 ts[NLANES * NTASKS];
	struct kicker		 k;
	struct timeval		 now = { 0, 0 };
	char			*cause = NULL;
	size_t			 i;
	int			 runs, kicks = NKICKS;

	(void)state;
	loop_thread = pthread_self();
	assert_int_equal(workers_new(&pool, base, &cause), 0);
	assert_int_equal(workers_threads(pool), WORKERS_MIN);
	memset(ls, 0, sizeof ls);
	memset(ts, 0, sizeof ts);
	for (i = 0; i < NLANES; i++)
		lanes[i] = workers_lane_new(pool);
	for (i = 0; i < NLANES * NTASKS; i++) {
		ts[i].lane = &ls[i / NTASKS];
		ts[i].task = workers_task_new(lanes[i / NTASKS], serial_run,
		    serial_wake, &ts[i]);
	}
	k.base = base;
	k.tasks = ts;
	k.rounds = 0;
	k.ev = evtimer_new(base, kick_round, &k);
	evtimer_add(k.ev, &now);
	event_base_dispatch(base);

	for (i = 0; i < NLANES; i++)
		assert_int_equal(atomic_load(&ls[i].overlaps), 0);
	for (i = 0; i < NLANES * NTASKS; i++) {
		runs = atomic_load(&ts[i].runs);
		/* Each ran, and no more often than it was kicked. */
		assert_true(runs >= 1 && runs <= kicks);
		/*
		 * Two wakes a run: one call at least, never more than the
		 * wakes (the loop may take the first before the second).
		 */
		assert_true(ts[i].wakes >= 1 && ts[i].wakes <= 2 * runs);
		assert_false(ts[i].wrong_thread);
	}
	for (i = 0; i < NLANES * NTASKS; i++)
		workers_task_free(ts[i].task);
	for (i = 0; i < NLANES; i++)
		workers_lane_free(lanes[i]);
	event_free(k.ev);
	workers_free(pool);
	event_base_free(base);
}

/* Tasks that hold their thread until released. */
struct gate {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cond;
	bool			 open;
	atomic_int		 held;
};

struct slow_task {
	struct gate		*gate;
	struct workers_task	*task;
	atomic_int		 runs;
	atomic_int		 done_while_held;	/* fast: the gate shut */
	struct event_base	*base;
};

static void
slow_run(void *arg)
{
	struct slow_task	*t = arg;

	atomic_fetch_add(&t->gate->held, 1);
	pthread_mutex_lock(&t->gate->mu);
	while (!t->gate->open)
		pthread_cond_wait(&t->gate->cond, &t->gate->mu);
	pthread_mutex_unlock(&t->gate->mu);
	atomic_fetch_add(&t->runs, 1);
}

static void
fast_run(void *arg)
{
	struct slow_task	*t = arg;

	pthread_mutex_lock(&t->gate->mu);
	if (!t->gate->open)
		atomic_fetch_add(&t->done_while_held, 1);
	pthread_mutex_unlock(&t->gate->mu);
	atomic_fetch_add(&t->runs, 1);
	workers_task_wake(t->task);
}

static void
fast_wake(void *arg)
{
	struct slow_task	*t = arg;

	event_base_loopbreak(t->base);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->mu);
}

static void
wait_held(struct gate *g, int n)
{
	int	i;

	for (i = 0; i < 10000 && atomic_load(&g->held) < n; i++)
		usleep(1000);
	assert_true(atomic_load(&g->held) >= n);
}

static void
test_slow_tasks_do_not_starve_others(void **state)
{
	struct event_base	*base = event_base_new();
	struct workers		*pool;
	struct workers_lane	*lanes[WORKERS_MIN + 1];
	struct slow_task	 slow[WORKERS_MIN], fast, dropped;
	struct gate		 g;
	struct timeval		 limit = { 20, 0 };
	char			*cause = NULL;
	size_t			 i;

	(void)state;
	memset(&g, 0, sizeof g);
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cond, NULL);
	assert_int_equal(workers_new(&pool, base, &cause), 0);
	memset(slow, 0, sizeof slow);
	memset(&fast, 0, sizeof fast);
	memset(&dropped, 0, sizeof dropped);
	for (i = 0; i < WORKERS_MIN + 1; i++)
		lanes[i] = workers_lane_new(pool);
	/* Every thread held, in lanes of their own. */
	for (i = 0; i < WORKERS_MIN; i++) {
		slow[i].gate = &g;
		slow[i].task = workers_task_new(lanes[i], slow_run, NULL,
		    &slow[i]);
		workers_task_kick(slow[i].task);
	}
	wait_held(&g, WORKERS_MIN);
	/* Behind a held task of its lane: freed before it runs, it never does. */
	dropped.gate = &g;
	dropped.task = workers_task_new(lanes[0], fast_run, NULL, &dropped);
	workers_task_kick(dropped.task);
	/* Another lane waits: the pool adds a thread for it. */
	fast.gate = &g;
	fast.base = base;
	fast.task = workers_task_new(lanes[WORKERS_MIN], fast_run, fast_wake,
	    &fast);
	workers_task_kick(fast.task);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_int_equal(atomic_load(&fast.runs), 1);
	assert_int_equal(atomic_load(&fast.done_while_held), 1);
	assert_int_equal(workers_threads(pool), WORKERS_MIN + 1);

	workers_task_free(dropped.task);
	gate_open(&g);
	for (i = 0; i < WORKERS_MIN; i++) {
		/* Waits for the running task, then frees it. */
		workers_task_free(slow[i].task);
		assert_int_equal(atomic_load(&slow[i].runs), 1);
	}
	assert_int_equal(atomic_load(&dropped.runs), 0);
	workers_task_free(fast.task);
	for (i = 0; i < WORKERS_MIN + 1; i++)
		workers_lane_free(lanes[i]);
	workers_free(pool);
	event_base_free(base);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cond);
}

/* A task kicked while it runs runs once more after, not at the same time. */
static void
test_kick_while_running(void **state)
{
	struct event_base	*base = event_base_new();
	struct workers		*pool;
	struct workers_lane	*lane;
	struct slow_task	 t;
	struct gate		 g;
	char			*cause = NULL;
	int			 i;

	(void)state;
	memset(&g, 0, sizeof g);
	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cond, NULL);
	memset(&t, 0, sizeof t);
	t.gate = &g;
	assert_int_equal(workers_new(&pool, base, &cause), 0);
	lane = workers_lane_new(pool);
	t.task = workers_task_new(lane, slow_run, NULL, &t);
	workers_task_kick(t.task);
	wait_held(&g, 1);
	for (i = 0; i < 5; i++)
		workers_task_kick(t.task);
	gate_open(&g);
	wait_held(&g, 2);
	for (i = 0; i < 200 && atomic_load(&t.runs) < 2; i++)
		usleep(1000);
	usleep(20000);
	workers_task_free(t.task);
	assert_int_equal(atomic_load(&t.runs), 2);
	workers_lane_free(lane);
	workers_free(pool);
	event_base_free(base);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cond);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lanes_are_serial),
		cmocka_unit_test(test_slow_tasks_do_not_starve_others),
		cmocka_unit_test(test_kick_while_running),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
