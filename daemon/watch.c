/*
 * One config repository's triggers and its loader task.
 *
 * The loop side owns the triggers; the task, run on the shared worker
 * pool, owns the mirror, the model cache and every model it loaded (it
 * frees the ones handed back).  They share only the few fields under the
 * mutex.  The hub holds what all repositories share: one poll timer over
 * a heap of due times, and one inotify instance (the kernel allows 128
 * per user by default) whose watch descriptors map back to repositories.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/param.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "mirror.h"
#include "source.h"
#include "watch.h"
#include "workers.h"
#include "xmalloc.h"

#define WATCH_FETCH_DEADLINE	300	/* seconds for one fetch */
/*
 * Polls due this close together share one wake-up of the loop and of a
 * worker (at most a twentieth of the interval early: the jitter is a
 * tenth either way).
 */
#define WATCH_POLL_SLACK_MS	100

/* One folder watched for one repository. */
struct watch_wd {
	int		 wd;
	struct watch	*w;
	bool		 heads;		/* refs/heads/ or below; else the git dir */
};

struct watch_hub {
	struct event_base	*base;
	struct workers		*pool;
	int			 inotify_fd;
	struct event		*inotify_ev;
	struct watch_wd		*wds;
	size_t			 nwds;
	size_t			 capwds;
	struct event		*poll_ev;
	struct watch		**heap;		/* by next_poll */
	size_t			 nheap;
	size_t			 capheap;
	uint64_t		 jitter;	/* the polls' PRNG state */
};

struct watch_result {
	TAILQ_ENTRY(watch_result) entry;
	struct model	*m;
	char		*commit;
	char		*trigger;
	char		*error;
	int64_t		 pull;		/* a pull request's head; 0: not */
	char		*head;		/* as the forge announced it */
};

/* A pull request's head to fetch and load, or its ref to drop. */
struct watch_pull_job {
	TAILQ_ENTRY(watch_pull_job) entry;
	int64_t		 pull;
	char		*url;		/* NULL: the repository's */
	char		*src;		/* NULL: drop the private ref */
	char		*head;
};

struct watch_retired {
	TAILQ_ENTRY(watch_retired) entry;
	struct model	*m;
};

struct watch {
	/* Loop side. */
	struct watch_hub	*hub;
	char			*name;
	char			*url;
	char			*branch;
	char			*path;
	char			*ssh_key;
	char			*token_file;
	char			*known_hosts;
	char			*mirror_dir;
	long			 poll_interval;
	int64_t			 next_poll;	/* monotonic ms */
	size_t			 heap_idx;	/* SIZE_MAX: not in the heap */
	const char		*branch_leaf;	/* in branch */
	bool			 inotify_hit;
	struct workers_task	*task;
	watch_result_cb		 cb;
	void			*arg;
	char			*error;

	/* Shared, under mu. */
	pthread_mutex_t		 mu;
	bool			 requested;
	char			*req_trigger;
	char			*last_commit;	/* to load first */
	bool			 stop;
	TAILQ_HEAD(, watch_result) results;
	TAILQ_HEAD(, watch_retired) retired;
	TAILQ_HEAD(, watch_pull_job) pulls;
	watch_pull_cb		 pull_cb;	/* loop side */
	void			*pull_arg;

	/* Worker side. */
	bool			 started;	/* loop side */
	bool			 opened;	/* the mirror, once */
	bool			 broken;	/* it could not be opened */
	struct mirror		*mirror;
	struct model_cache	*cache;
	struct model		*prev;
	git_oid			 loaded;
	bool			 have_loaded;
	bool			 quiet_ok;	/* the loop knows all is well */
};

static void
watch_post(struct watch *w, struct model *m, const char *commit,
    const char *trigger, const char *error)
{
	struct watch_result	*res = xcalloc(1, sizeof *res);

	res->m = m;
	res->commit = commit != NULL ? xstrdup(commit) : NULL;
	res->trigger = xstrdup(trigger);
	res->error = error != NULL ? xstrdup(error) : NULL;
	/* After this, "nothing new" tells the loop nothing (but after "last"). */
	w->quiet_ok = error == NULL && strcmp(trigger, "last") != 0;
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->results, res, entry);
	pthread_mutex_unlock(&w->mu);
	workers_task_wake(w->task);
}

static void
watch_pull_job_free(struct watch_pull_job *j)
{
	if (j == NULL)
		return;
	free(j->url);
	free(j->src);
	free(j->head);
	free(j);
}

static void
watch_post_pull(struct watch *w, int64_t pull, struct model *m,
    const char *head, const char *commit, const char *error)
{
	struct watch_result	*res = xcalloc(1, sizeof *res);

	res->m = m;
	res->head = xstrdup(head);
	res->commit = commit != NULL ? xstrdup(commit) : NULL;
	res->trigger = xstrdup("pull-request");
	res->error = error != NULL ? xstrdup(error) : NULL;
	res->pull = pull;
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->results, res, entry);
	pthread_mutex_unlock(&w->mu);
	workers_task_wake(w->task);
}

/* Worker: a pull request's head, fetched, checked and loaded. */
static void
watch_pull_run(struct watch *w, struct watch_pull_job *j)
{
	struct source	*src;
	struct model	*m;
	git_oid		 got, want;
	size_t		 len;
	char		*ref, *cause = NULL, hex[GIT_OID_HEXSZ + 1];

	ref = xasprintf("refs/cloudsphere/pulls/%lld", (long long)j->pull);
	if (j->src == NULL) {
		if (mirror_drop_ref(w->mirror, ref) != 0)
			log_debug("%s: cannot delete %s", w->name, ref);
		free(ref);
		return;
	}
	len = strlen(j->head);
	if (len < 7 || len > GIT_OID_HEXSZ ||
	    git_oid_fromstrn(&want, j->head, len) != 0) {
		watch_post_pull(w, j->pull, NULL, j->head, NULL,
		    "not a commit id");
		free(ref);
		return;
	}
	if (mirror_fetch_ref(w->mirror, j->url, j->src, ref,
	    WATCH_FETCH_DEADLINE, &got, &cause) != 0) {
		watch_post_pull(w, j->pull, NULL, j->head, NULL, cause);
		goto out;
	}
	git_oid_tostr(hex, sizeof hex, &got);
	if (git_oid_ncmp(&got, &want, len) != 0) {
		cause = xasprintf("%s is at %.12s, not at the head %.12s the forge announced",
		    j->src, hex, j->head);
		watch_post_pull(w, j->pull, NULL, j->head, NULL, cause);
		goto out;
	}
	if (source_git_new(&src, mirror_repository(w->mirror), &got,
	    strcmp(w->path, ".") == 0 ? NULL : w->path, &cause) != 0) {
		watch_post_pull(w, j->pull, NULL, j->head, hex, cause);
		goto out;
	}
	if (model_load(&m, src, w->cache, w->prev, &cause) != 0) {
		source_free(src);
		watch_post_pull(w, j->pull, NULL, j->head, hex, cause);
		goto out;
	}
	source_free(src);
	watch_post_pull(w, j->pull, m, j->head, hex, NULL);
out:
	free(cause);
	free(ref);
}

/* Worker: load the model of a commit, from the previous one. */
static void
watch_load(struct watch *w, const git_oid *commit, const char *trigger)
{
	struct source	*src;
	struct model	*m;
	char		*cause = NULL, hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof hex, commit);
	if (source_git_new(&src, mirror_repository(w->mirror), commit,
	    strcmp(w->path, ".") == 0 ? NULL : w->path, &cause) != 0) {
		watch_post(w, NULL, hex, trigger, cause);
		free(cause);
		return;
	}
	if (model_load(&m, src, w->cache, w->prev, &cause) != 0) {
		source_free(src);
		watch_post(w, NULL, hex, trigger, cause);
		free(cause);
		return;
	}
	source_free(src);
	w->prev = m;
	w->loaded = *commit;
	w->have_loaded = true;
	watch_post(w, m, hex, trigger, NULL);
}

static void
watch_free_retired(struct watch *w)
{
	struct watch_retired	*r;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		r = TAILQ_FIRST(&w->retired);
		if (r != NULL)
			TAILQ_REMOVE(&w->retired, r, entry);
		pthread_mutex_unlock(&w->mu);
		if (r == NULL)
			break;
		if (r->m == w->prev)
			w->prev = NULL;
		model_free(r->m);
		free(r);
	}
}

/* Worker: open the mirror, and load the commit last reconciled. */
static void
watch_open(struct watch *w)
{
	struct mirror_auth	 auth = { w->ssh_key, w->token_file,
	    w->known_hosts };
	git_oid			 tip;
	char			*cause = NULL, *last;

	w->opened = true;
	if (mirror_open(&w->mirror, w->mirror_dir, w->url, w->branch, &auth,
	    &cause) != 0) {
		w->broken = true;
		watch_post(w, NULL, NULL, "startup", cause);
		free(cause);
		return;
	}
	w->cache = model_cache_new();

	pthread_mutex_lock(&w->mu);
	last = w->last_commit;
	w->last_commit = NULL;
	pthread_mutex_unlock(&w->mu);
	if (last != NULL) {
		if (git_oid_fromstr(&tip, last) == 0) {
			git_commit *c;

			if (git_commit_lookup(&c, mirror_repository(w->mirror),
			    &tip) == 0) {
				git_commit_free(c);
				watch_load(w, &tip, "last");
			}
		}
		free(last);
	}
}

/*
 * Worker: what was asked, until nothing is left (triggers that come
 * meanwhile coalesce into the one fetch to come).
 */
static void
watch_run(void *arg)
{
	struct watch		*w = arg;
	struct watch_pull_job	*job;
	git_oid			 tip;
	char			*cause = NULL, *trigger;
	bool			 loaded = false;

	if (!w->opened) {
		watch_open(w);
		loaded = true;
	}
	for (;;) {
		pthread_mutex_lock(&w->mu);
		if (w->stop || (!w->requested && TAILQ_EMPTY(&w->retired) &&
		    TAILQ_EMPTY(&w->pulls))) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		loaded = loaded || !TAILQ_EMPTY(&w->retired) ||
		    !TAILQ_EMPTY(&w->pulls);
		trigger = NULL;
		if (w->requested) {
			w->requested = false;
			trigger = w->req_trigger;
			w->req_trigger = NULL;
		}
		/* The branch first: a pull request is loaded from it. */
		job = NULL;
		if (trigger == NULL && (job = TAILQ_FIRST(&w->pulls)) != NULL)
			TAILQ_REMOVE(&w->pulls, job, entry);
		pthread_mutex_unlock(&w->mu);
		watch_free_retired(w);
		if (w->broken) {
			/* A mirror that could not be opened does nothing. */
			watch_pull_job_free(job);
			free(trigger);
			continue;
		}
		if (job != NULL) {
			watch_pull_run(w, job);
			watch_pull_job_free(job);
		}
		if (trigger == NULL)
			continue;

		if (mirror_fetch(w->mirror, WATCH_FETCH_DEADLINE, &tip,
		    &cause) != 0) {
			watch_post(w, NULL, NULL, trigger, cause);
			free(cause);
			cause = NULL;
		} else if (!w->have_loaded || !git_oid_equal(&tip, &w->loaded)) {
			watch_load(w, &tip, trigger);
			loaded = true;
		} else if (!w->quiet_ok)
			watch_post(w, NULL, NULL, trigger, NULL);
		/* else an idle poll: no wake-up of the loop for nothing */
		free(trigger);
	}
#ifdef __GLIBC__
	/*
	 * A load (or models freed) leaves freed pages in the arena, which
	 * glibc keeps resident: give them back (an idle poll has none).
	 */
	if (loaded)
		malloc_trim(0);
#endif
}

/* Loop: results from the worker. */
static void
watch_wake(void *arg)
{
	struct watch		*w = arg;
	struct watch_result	*res;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		res = TAILQ_FIRST(&w->results);
		if (res != NULL)
			TAILQ_REMOVE(&w->results, res, entry);
		pthread_mutex_unlock(&w->mu);
		if (res == NULL)
			break;
		if (res->pull != 0) {
			if (w->pull_cb != NULL)
				w->pull_cb(w, res->pull, res->m, res->head,
				    res->commit, res->error, w->pull_arg);
			else if (res->m != NULL)
				watch_release_model(res->m, w);
		} else {
			free(w->error);
			w->error = res->error != NULL ?
			    xstrdup(res->error) : NULL;
			w->cb(w, res->m, res->commit, res->trigger,
			    res->error, w->arg);
		}
		free(res->commit);
		free(res->head);
		free(res->trigger);
		free(res->error);
		free(res);
	}
}

void
watch_sync(struct watch *w, const char *trigger)
{
	log_debug("%s: sync (%s)", w->name, trigger);
	pthread_mutex_lock(&w->mu);
	if (!w->requested) {
		w->requested = true;
		free(w->req_trigger);
		w->req_trigger = xstrdup(trigger);
	}
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		workers_task_kick(w->task);
}

void
watch_set_pull_hook(struct watch *w, watch_pull_cb cb, void *arg)
{
	w->pull_cb = cb;
	w->pull_arg = arg;
}

static void
watch_pull_queue(struct watch *w, int64_t pull, const char *url,
    const char *src, const char *head)
{
	struct watch_pull_job	*j = xcalloc(1, sizeof *j), *old, *next;

	j->pull = pull;
	j->url = url != NULL ? xstrdup(url) : NULL;
	j->src = src != NULL ? xstrdup(src) : NULL;
	j->head = head != NULL ? xstrdup(head) : NULL;
	pthread_mutex_lock(&w->mu);
	TAILQ_FOREACH_SAFE(old, &w->pulls, entry, next) {
		if (old->pull == pull) {
			TAILQ_REMOVE(&w->pulls, old, entry);
			watch_pull_job_free(old);
		}
	}
	TAILQ_INSERT_TAIL(&w->pulls, j, entry);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		workers_task_kick(w->task);
}

void
watch_pull(struct watch *w, int64_t pull, const char *url, const char *src,
    const char *head)
{
	watch_pull_queue(w, pull, url, src, head);
}

void
watch_pull_drop(struct watch *w, int64_t pull)
{
	watch_pull_queue(w, pull, NULL, NULL, NULL);
}

void
watch_release_model(struct model *m, void *arg)
{
	struct watch		*w = arg;
	struct watch_retired	*r = xcalloc(1, sizeof *r);

	r->m = m;
	pthread_mutex_lock(&w->mu);
	TAILQ_INSERT_TAIL(&w->retired, r, entry);
	pthread_mutex_unlock(&w->mu);
	workers_task_kick(w->task);
}

static int64_t
watch_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The hub's heap of polls, the first due on top. */
static bool
watch_heap_less(struct watch_hub *h, size_t a, size_t b)
{
	return (h->heap[a]->next_poll < h->heap[b]->next_poll);
}

static void
watch_heap_swap(struct watch_hub *h, size_t a, size_t b)
{
	struct watch	*t = h->heap[a];

	h->heap[a] = h->heap[b];
	h->heap[b] = t;
	h->heap[a]->heap_idx = a;
	h->heap[b]->heap_idx = b;
}

static void
watch_heap_up(struct watch_hub *h, size_t i)
{
	while (i > 0 && watch_heap_less(h, i, (i - 1) / 2)) {
		watch_heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
watch_heap_down(struct watch_hub *h, size_t i)
{
	size_t	c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->nheap)
			break;
		if (c + 1 < h->nheap && watch_heap_less(h, c + 1, c))
			c++;
		if (!watch_heap_less(h, c, i))
			break;
		watch_heap_swap(h, i, c);
		i = c;
	}
}

static void
watch_heap_remove(struct watch_hub *h, struct watch *w)
{
	size_t	i = w->heap_idx;

	if (i == SIZE_MAX)
		return;
	w->heap_idx = SIZE_MAX;
	if (i != --h->nheap) {
		h->heap[i] = h->heap[h->nheap];
		h->heap[i]->heap_idx = i;
		watch_heap_down(h, i);
		watch_heap_up(h, i);
	}
}

static void
watch_heap_insert(struct watch_hub *h, struct watch *w)
{
	if (h->nheap == h->capheap) {
		h->capheap = h->capheap == 0 ? 16 : h->capheap * 2;
		h->heap = xreallocarray(h->heap, h->capheap, sizeof *h->heap);
	}
	h->heap[h->nheap] = w;
	w->heap_idx = h->nheap++;
	watch_heap_up(h, w->heap_idx);
}

/* The one timer, for the first poll due. */
static void
watch_hub_arm(struct watch_hub *h)
{
	struct timeval	tv;
	int64_t		ms;

	if (h->nheap == 0) {
		evtimer_del(h->poll_ev);
		return;
	}
	ms = h->heap[0]->next_poll - watch_now_ms();
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(h->poll_ev, &tv);
}

/*
 * The polls' jitter needs no secret, only spread: xorshift64* seeded once,
 * since glibc's arc4random made a getrandom(2) call for each poll.
 */
static uint64_t
watch_jitter(struct watch_hub *h, uint64_t bound)
{
	uint64_t	x = h->jitter;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	h->jitter = x;
	return ((x * 0x2545F4914F6CDD1DULL) % bound);
}

static void
watch_poll_schedule(struct watch *w, int64_t now)
{
	long	ms = w->poll_interval * 1000;

	if (w->poll_interval <= 0)
		return;
	/* Up to a tenth of jitter either way. */
	ms += (long)watch_jitter(w->hub, (uint64_t)(ms / 5 + 1)) - ms / 10;
	w->next_poll = now + ms;
	watch_heap_insert(w->hub, w);
}

static void
watch_poll(evutil_socket_t fd, short events, void *arg)
{
	struct watch_hub	*h = arg;
	struct watch		*w;
	int64_t			 now = watch_now_ms();

	(void)fd;
	(void)events;
	while (h->nheap > 0 && h->heap[0]->next_poll <= now +
	    MIN(WATCH_POLL_SLACK_MS, h->heap[0]->poll_interval * 1000 / 20)) {
		w = h->heap[0];
		watch_heap_remove(h, w);
		watch_sync(w, "poll");
		watch_poll_schedule(w, now);
	}
	watch_hub_arm(h);
}

/* Forget the folders of w; a folder no other repository needs is let go. */
static void
watch_inotify_drop(struct watch_hub *h, struct watch *w, int gone_wd)
{
	size_t	i, j;
	bool	shared;

	for (i = 0; i < h->nwds; ) {
		struct watch_wd x = h->wds[i];

		if (w != NULL ? x.w != w : x.wd != gone_wd) {
			i++;
			continue;
		}
		h->wds[i] = h->wds[--h->nwds];
		if (gone_wd != -1)
			continue;	/* the kernel dropped it already */
		shared = false;
		for (j = 0; j < h->nwds && !shared; j++)
			shared = h->wds[j].wd == x.wd;
		if (!shared)
			(void)inotify_rm_watch(h->inotify_fd, x.wd);
	}
}

/*
 * inotify: the watched branch's ref (or packed-refs) changed.  Anything
 * else in those folders is not ours to act on: above all the ledger
 * branch, which the daemon itself pushes, often to this very repository
 * (refs/heads/cloudsphere/ created, or another branch's ref renamed into
 * place), and which must never cause a fetch-and-reconcile of its own.
 */
static void
watch_inotify(evutil_socket_t fd, short events, void *arg)
{
	struct watch_hub		*h = arg;
	char				 buf[16 * (sizeof(struct inotify_event) +
					    NAME_MAX + 1)];
	const struct inotify_event	*ev;
	ssize_t				 n;
	size_t				 i;
	char				*p;

	(void)events;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n;
		    p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: every repository looks. */
				for (i = 0; i < h->nwds; i++)
					h->wds[i].w->inotify_hit = true;
				continue;
			}
			if (ev->mask & IN_IGNORED) {
				watch_inotify_drop(h, NULL, ev->wd);
				continue;
			}
			if (ev->len == 0)
				continue;
			if (strstr(ev->name, ".lock") != NULL)
				continue;
			for (i = 0; i < h->nwds; i++) {
				struct watch_wd *x = &h->wds[i];

				if (x->wd != ev->wd)
					continue;
				if (x->heads ?
				    strcmp(ev->name, x->w->branch_leaf) != 0 :
				    strcmp(ev->name, "packed-refs") != 0)
					continue;
				x->w->inotify_hit = true;
			}
		}
	}
	for (i = 0; i < h->nwds; i++) {
		if (h->wds[i].w->inotify_hit) {
			h->wds[i].w->inotify_hit = false;
			watch_sync(h->wds[i].w, "inotify");
		}
	}
}

static void
watch_inotify_add(struct watch_hub *h, struct watch *w, const char *path,
    uint32_t mask, bool heads)
{
	int	wd;

	if (h->inotify_fd == -1) {
		if ((h->inotify_fd = inotify_init1(IN_NONBLOCK |
		    IN_CLOEXEC)) == -1) {
			log_warn("%s: inotify", w->name);
			return;
		}
		h->inotify_ev = event_new(h->base, h->inotify_fd,
		    EV_READ | EV_PERSIST, watch_inotify, h);
		event_add(h->inotify_ev, NULL);
	}
	/* Another repository may watch this folder too: masks add up. */
	if ((wd = inotify_add_watch(h->inotify_fd, path,
	    mask | IN_MASK_ADD)) == -1) {
		log_warn("%s: cannot watch %s", w->name, path);
		return;
	}
	if (h->nwds == h->capwds) {
		h->capwds = h->capwds == 0 ? 16 : h->capwds * 2;
		h->wds = xreallocarray(h->wds, h->capwds, sizeof *h->wds);
	}
	h->wds[h->nwds].wd = wd;
	h->wds[h->nwds].w = w;
	h->wds[h->nwds].heads = heads;
	h->nwds++;
}

/* The folders of a local repository where a push changes refs. */
static void
watch_inotify_setup(struct watch *w, const char *local)
{
	struct stat	 st;
	char		*gitdir, *heads, *sub, *slash;

	gitdir = xasprintf("%s/.git", local);
	if (stat(gitdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(gitdir);
		gitdir = xstrdup(local);
	}
	heads = xasprintf("%s/refs/heads", gitdir);
	sub = xstrdup(w->branch);
	slash = strrchr(w->branch, '/');
	w->branch_leaf = slash != NULL ? slash + 1 : w->branch;
	if ((slash = strrchr(sub, '/')) != NULL) {
		*slash = '\0';
		free(heads);
		heads = xasprintf("%s/refs/heads/%s", gitdir, sub);
	}
	free(sub);
	watch_inotify_add(w->hub, w, heads, IN_MOVED_TO | IN_CLOSE_WRITE |
	    IN_CREATE | IN_DELETE, true);
	/* packed-refs is replaced by rename in the git folder. */
	watch_inotify_add(w->hub, w, gitdir, IN_MOVED_TO | IN_CLOSE_WRITE,
	    false);
	log_debug("%s: watching %s with inotify", w->name, heads);
	free(heads);
	free(gitdir);
}

int
watch_hub_new(struct watch_hub **out, struct event_base *base,
    struct workers *pool)
{
	struct watch_hub	*h = xcalloc(1, sizeof *h);

	h->base = base;
	h->pool = pool;
	h->inotify_fd = -1;
	h->poll_ev = evtimer_new(base, watch_poll, h);
	/* xorshift's state must not be 0. */
	h->jitter = ((uint64_t)arc4random() << 32 | arc4random()) | 1;
	*out = h;
	return (0);
}

void
watch_hub_free(struct watch_hub *h)
{
	if (h == NULL)
		return;
	if (h->poll_ev != NULL)
		event_free(h->poll_ev);
	if (h->inotify_ev != NULL)
		event_free(h->inotify_ev);
	if (h->inotify_fd != -1)
		close(h->inotify_fd);
	free(h->wds);
	free(h->heap);
	free(h);
}

int
watch_new(struct watch **out, struct watch_hub *hub,
    struct workers_lane *lane, const struct config_repo *cr,
    const char *state_dir, watch_result_cb cb, void *arg, char **cause)
{
	struct watch	*w;
	char		*repos;

	*out = NULL;
	*cause = NULL;
	w = xcalloc(1, sizeof *w);
	w->hub = hub;
	w->heap_idx = SIZE_MAX;
	w->name = xstrdup(cr->name);
	w->url = xstrdup(cr->url);
	w->branch = xstrdup(cr->branch);
	w->path = xstrdup(cr->path);
	w->ssh_key = cr->ssh_key != NULL ? xstrdup(cr->ssh_key) : NULL;
	w->token_file = cr->token_file != NULL ? xstrdup(cr->token_file) :
	    NULL;
	w->known_hosts = cr->known_hosts != NULL ?
	    xstrdup(cr->known_hosts) : NULL;
	w->poll_interval = cr->poll_interval;
	w->cb = cb;
	w->arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	TAILQ_INIT(&w->results);
	TAILQ_INIT(&w->retired);
	TAILQ_INIT(&w->pulls);
	w->task = workers_task_new(lane, watch_run, watch_wake, w);
	repos = xasprintf("%s/repos", state_dir);
	if (mkdir(repos, 0700) != 0 && errno != EEXIST) {
		*cause = xasprintf("cannot create %s: %s", repos,
		    strerror(errno));
		free(repos);
		watch_free(w);
		return (-errno);
	}
	w->mirror_dir = xasprintf("%s/%s.git", repos, cr->name);
	free(repos);
	*out = w;
	return (0);
}

void
watch_start(struct watch *w, const char *last_commit)
{
	char	*local;

	pthread_mutex_lock(&w->mu);
	w->last_commit = last_commit != NULL ? xstrdup(last_commit) : NULL;
	pthread_mutex_unlock(&w->mu);
	w->started = true;
	if ((local = mirror_local_path(w->url)) != NULL) {
		watch_inotify_setup(w, local);
		free(local);
	}
	watch_sync(w, "startup");
	watch_poll_schedule(w, watch_now_ms());
	watch_hub_arm(w->hub);
}

const char *
watch_mirror_dir(const struct watch *w)
{
	return (w->mirror_dir);
}

const char *
watch_name(const struct watch *w)
{
	return (w->name);
}

const char *
watch_error(const struct watch *w)
{
	return (w->error);
}

void
watch_free(struct watch *w)
{
	struct watch_result	*res;
	struct watch_pull_job	*job;

	if (w == NULL)
		return;
	/* A fetch under way ends first (at its deadline at the latest). */
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
	workers_task_free(w->task);
	watch_heap_remove(w->hub, w);
	watch_inotify_drop(w->hub, w, -1);
	watch_free_retired(w);
	while ((job = TAILQ_FIRST(&w->pulls)) != NULL) {
		TAILQ_REMOVE(&w->pulls, job, entry);
		watch_pull_job_free(job);
	}
	while ((res = TAILQ_FIRST(&w->results)) != NULL) {
		TAILQ_REMOVE(&w->results, res, entry);
		if (res->m != NULL && res->m != w->prev)
			model_free(res->m);
		free(res->commit);
		free(res->head);
		free(res->trigger);
		free(res->error);
		free(res);
	}
	model_free(w->prev);
	model_cache_free(w->cache);
	mirror_free(w->mirror);
	pthread_mutex_destroy(&w->mu);
	free(w->name);
	free(w->url);
	free(w->branch);
	free(w->path);
	free(w->ssh_key);
	free(w->token_file);
	free(w->known_hosts);
	free(w->mirror_dir);
	free(w->req_trigger);
	free(w->last_commit);
	free(w->error);
	free(w);
}
