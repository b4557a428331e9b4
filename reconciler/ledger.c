/*
 * The ledger of one repository: marks in the store, batches rendered on
 * the loop, and the task that commits and pushes them, run on the shared
 * worker pool in the repository's lane (so never at the same time as its
 * fetch, which shares the mirror folder).
 *
 * The loop side owns the store, the batch and retry timers and the table
 * of marks already handed to the task; the task owns its mirror (the
 * daemon's bare repository of this config repository, opened for itself)
 * and the batch it is pushing.  They share only the fields under the
 * mutex: the batch waiting for the task, the results waiting for the
 * loop, the counters.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>

#include "compat.h"
#include "ledger.h"
#include "table.h"
#include "workers.h"
#include "xmalloc.h"

/* One deployment's files and line in a batch. */
struct ledger_entry {
	char		*name;
	int64_t		 deployment_id;
	int64_t		 seq;		/* of the mark it carries */
	char		*line;
	char		*status;
	size_t		 status_len;
	char		*log;		/* NULL: no finished run */
	size_t		 log_len;
};

/* Entries by deployment name; a newer entry replaces an older one. */
struct ledger_batch {
	struct table		 index;
	struct ledger_entry	**v;
	size_t			 n;
	size_t			 cap;
};

/* What the task tells the loop. */
struct ledger_result {
	TAILQ_ENTRY(ledger_result) entry;
	enum ledger_level	 level;
	char			*message;	/* or NULL */
	int64_t			*done;		/* deployment id, seq pairs */
	size_t			 ndone;
	int64_t			 retry_ms;	/* try again then; -1: not */
};

struct ledger {
	/* Loop side. */
	struct event_base	*base;
	struct store		*store;
	char			*repository;
	int64_t			 repository_id;
	char			*url;
	char			*branch;
	char			*mirror_dir;
	char			*ssh_key;
	char			*token_file;
	char			*known_hosts;
	ledger_log_cb		 log_cb;
	void			*log_arg;
	struct event		*batch_ev;
	bool			 batch_armed;
	int64_t			 batch_first;	/* its first mark, monotonic ms */
	struct event		*retry_ev;
	bool			 retrying;	/* retry_ev is set */
	bool			 started;
	struct workers_task	*task;
	struct table		 handed;	/* deployment id -> int64_t seq */
	void			(*flush_cb)(void *);
	void			*flush_arg;

	/* Shared, under mu. */
	pthread_mutex_t		 mu;
	struct ledger_batch	*next;		/* for the task */
	size_t			 inflight;	/* entries in the task's batch */
	bool			 kicked;
	bool			 stop;
	TAILQ_HEAD(, ledger_result) results;
	struct ledger_stats	 stats;
	char			*error;		/* of the last attempt, or NULL */

	/* Task side. */
	struct ledger_batch	*cur;		/* being pushed, or to retry */
	int			 moved;		/* rebuilds on a new tip in a row */
	struct mirror		*mirror;
	git_oid			 tip;		/* of the remote ledger branch */
	bool			 have_tip;	/* tip known (zero: no branch) */
	bool			 no_branch;
	int			 failures;	/* in a row */
	char			*last_error;
};

/* Batches. */

static void
ledger_entry_free(struct ledger_entry *e)
{
	if (e == NULL)
		return;
	free(e->name);
	free(e->line);
	free(e->status);
	free(e->log);
	free(e);
}

static struct ledger_batch *
ledger_batch_new(void)
{
	struct ledger_batch	*b = xcalloc(1, sizeof *b);

	table_init(&b->index);
	return (b);
}

static void
ledger_batch_free(struct ledger_batch *b)
{
	size_t	i;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++)
		ledger_entry_free(b->v[i]);
	free(b->v);
	table_release(&b->index);
	free(b);
}

/* Adds e (taken), replacing the entry of the same deployment. */
static void
ledger_batch_put(struct ledger_batch *b, struct ledger_entry *e)
{
	uintptr_t	slot;

	slot = (uintptr_t)table_gets(&b->index, e->name);
	if (slot != 0) {
		ledger_entry_free(b->v[slot - 1]);
		b->v[slot - 1] = e;
		return;
	}
	if (b->n == b->cap) {
		b->cap = b->cap == 0 ? 16 : b->cap * 2;
		b->v = xreallocarray(b->v, b->cap, sizeof *b->v);
	}
	b->v[b->n++] = e;
	table_puts(&b->index, e->name, (void *)(uintptr_t)b->n);
}

/* Moves every entry of from (freed) into to. */
static void
ledger_batch_merge(struct ledger_batch *to, struct ledger_batch *from)
{
	size_t	i;

	if (from == NULL)
		return;
	for (i = 0; i < from->n; i++) {
		ledger_batch_put(to, from->v[i]);
		from->v[i] = NULL;
	}
	from->n = 0;
	ledger_batch_free(from);
}

/* Task side. */

static void
ledger_post(struct ledger *l, enum ledger_level level, char *message,
    const struct ledger_batch *done)
{
	struct ledger_result	*res = xcalloc(1, sizeof *res);
	size_t			 i;

	res->level = level;
	res->message = message;
	res->retry_ms = -1;
	if (done != NULL && done->n > 0) {
		res->done = xreallocarray(NULL, done->n, 2 * sizeof *res->done);
		for (i = 0; i < done->n; i++) {
			res->done[2 * i] = done->v[i]->deployment_id;
			res->done[2 * i + 1] = done->v[i]->seq;
		}
		res->ndone = done->n;
	}
	pthread_mutex_lock(&l->mu);
	TAILQ_INSERT_TAIL(&l->results, res, entry);
	pthread_mutex_unlock(&l->mu);
	workers_task_wake(l->task);
}

static char *
ledger_git_cause(const char *what)
{
	const git_error	*e = git_error_last();

	return (xasprintf("%s: %s", what, e != NULL && e->message != NULL ?
	    e->message : "unknown error"));
}

/* The folder of the tree below root named name, as a builder. */
static int
ledger_subtree(git_treebuilder **out, git_repository *repo,
    const git_tree *root, const char *name)
{
	const git_tree_entry	*te;
	git_tree		*sub = NULL;
	int			 error;

	te = root != NULL ? git_tree_entry_byname(root, name) : NULL;
	if (te != NULL && git_tree_entry_type(te) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&sub, repo, git_tree_entry_id(te)) != 0)
		return (-1);
	error = git_treebuilder_new(out, repo, sub);
	git_tree_free(sub);
	return (error);
}

static int
ledger_cmp_entry(const void *a, const void *b)
{
	const struct ledger_entry	*x = *(struct ledger_entry *const *)a;
	const struct ledger_entry	*y = *(struct ledger_entry *const *)b;

	return (strcmp(x->name, y->name));
}

/*
 * The commit of the batch on the tip (or on nothing): its tree is the
 * tip's with our files put in.  *out is zero when nothing changes.
 */
static int
ledger_build(struct ledger *l, struct ledger_batch *b, git_oid *out,
    char **cause)
{
	git_repository		*repo = mirror_repository(l->mirror);
	git_commit		*parent = NULL;
	git_tree		*base = NULL, *tree = NULL;
	git_treebuilder		*root = NULL, *deps = NULL, *logs = NULL;
	git_signature		*sig = NULL;
	git_oid			 blob, id, tid;
	char			*path, *message = NULL, **lines = NULL;
	size_t			 i;
	int			 error = -EIO;

	memset(out, 0, sizeof *out);
	if (l->have_tip && !l->no_branch) {
		if (git_commit_lookup(&parent, repo, &l->tip) != 0 ||
		    git_commit_tree(&base, parent) != 0) {
			*cause = ledger_git_cause("ledger tip");
			goto out;
		}
	}
	if (git_treebuilder_new(&root, repo, base) != 0 ||
	    ledger_subtree(&deps, repo, base, "deployments") != 0 ||
	    ledger_subtree(&logs, repo, base, "logs") != 0) {
		*cause = ledger_git_cause("ledger tree");
		goto out;
	}
	qsort(b->v, b->n, sizeof *b->v, ledger_cmp_entry);
	for (i = 0; i < b->n; i++)
		table_puts(&b->index, b->v[i]->name, (void *)(uintptr_t)(i + 1));
	for (i = 0; i < b->n; i++) {
		struct ledger_entry *e = b->v[i];

		path = xasprintf("%s.yaml", e->name);
		if (git_blob_create_from_buffer(&blob, repo, e->status,
		    e->status_len) != 0 || git_treebuilder_insert(NULL, deps,
		    path, &blob, GIT_FILEMODE_BLOB) != 0) {
			free(path);
			*cause = ledger_git_cause("ledger status file");
			goto out;
		}
		free(path);
		if (e->log == NULL)
			continue;
		path = xasprintf("%s.log", e->name);
		if (git_blob_create_from_buffer(&blob, repo, e->log,
		    e->log_len) != 0 || git_treebuilder_insert(NULL, logs,
		    path, &blob, GIT_FILEMODE_BLOB) != 0) {
			free(path);
			*cause = ledger_git_cause("ledger log file");
			goto out;
		}
		free(path);
	}
	if (git_treebuilder_write(&id, deps) != 0 ||
	    git_treebuilder_insert(NULL, root, "deployments", &id,
	    GIT_FILEMODE_TREE) != 0 ||
	    (git_treebuilder_entrycount(logs) > 0 &&
	    (git_treebuilder_write(&id, logs) != 0 ||
	    git_treebuilder_insert(NULL, root, "logs", &id,
	    GIT_FILEMODE_TREE) != 0)) ||
	    git_treebuilder_write(&tid, root) != 0) {
		*cause = ledger_git_cause("ledger tree");
		goto out;
	}
	if (base != NULL && git_oid_equal(&tid, git_tree_id(base))) {
		error = 0;	/* all already there */
		goto out;
	}
	if (git_tree_lookup(&tree, repo, &tid) != 0 ||
	    git_signature_now(&sig, "cloudsphered",
	    "cloudsphered@localhost") != 0) {
		*cause = ledger_git_cause("ledger commit");
		goto out;
	}
	lines = xreallocarray(NULL, b->n, sizeof *lines);
	for (i = 0; i < b->n; i++)
		lines[i] = b->v[i]->line;
	message = ledger_message(lines, b->n);
	if (git_commit_create(out, repo, NULL, sig, sig, NULL, message, tree,
	    parent != NULL ? 1 : 0, (const git_commit **)&parent) != 0) {
		*cause = ledger_git_cause("ledger commit");
		memset(out, 0, sizeof *out);
		goto out;
	}
	error = 0;
out:
	free(lines);
	free(message);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	git_treebuilder_free(root);
	git_treebuilder_free(deps);
	git_treebuilder_free(logs);
	return (error);
}

/* Where the remote ledger branch is now. */
static int
ledger_fetch(struct ledger *l, char **cause)
{
	int	error;

	error = mirror_fetch(l->mirror, LEDGER_DEADLINE, &l->tip, cause);
	if (error == -ENOENT) {
		/* No ledger yet: the first push creates it. */
		free(*cause);
		*cause = NULL;
		l->have_tip = l->no_branch = true;
		return (0);
	}
	if (error != 0)
		return (error);
	l->have_tip = true;
	l->no_branch = false;
	return (0);
}

/*
 * One attempt: fetch (unless the tip is known), build on the tip, push.
 * -EAGAIN: someone else pushed meanwhile; -EIO: the remote failed.
 */
static int
ledger_attempt(struct ledger *l, struct ledger_batch *b, git_oid *pushed,
    char **cause)
{
	struct mirror_auth	 auth = { l->ssh_key, l->token_file,
	    l->known_hosts };
	git_oid			 commit;
	int			 error;

	*cause = NULL;
	memset(pushed, 0, sizeof *pushed);
	if (l->mirror == NULL && (error = mirror_open(&l->mirror,
	    l->mirror_dir, l->url, l->branch, &auth, cause)) != 0)
		return (error);
	if (!l->have_tip && (error = ledger_fetch(l, cause)) != 0)
		return (error);
	if ((error = ledger_build(l, b, &commit, cause)) != 0)
		return (error);
	if (git_oid_is_zero(&commit))
		return (0);
	error = mirror_push(l->mirror, l->branch, &commit,
	    l->no_branch ? NULL : &l->tip, LEDGER_DEADLINE, cause);
	if (error != 0) {
		l->have_tip = false;	/* fetch before the next try */
		return (error);
	}
	l->tip = commit;
	l->no_branch = false;
	*pushed = commit;
	return (0);
}

static int64_t
ledger_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Capped exponential backoff, jittered over its upper half. */
static int64_t
ledger_backoff_ms(int failures)
{
	int64_t	ms = (int64_t)LEDGER_RETRY_MIN * 1000;

	while (--failures > 0 && ms < (int64_t)LEDGER_RETRY_MAX * 1000)
		ms *= 2;
	if (ms > (int64_t)LEDGER_RETRY_MAX * 1000)
		ms = (int64_t)LEDGER_RETRY_MAX * 1000;
	return (ms / 2 + arc4random_uniform((uint32_t)(ms / 2 + 1)));
}

static void
ledger_done(struct ledger *l, struct ledger_batch *cur, const git_oid *c)
{
	char	 hex[GIT_OID_HEXSZ + 1];
	char	*msg;

	pthread_mutex_lock(&l->mu);
	if (!git_oid_is_zero(c)) {
		l->stats.commits++;
		l->stats.pushes++;
	}
	pthread_mutex_unlock(&l->mu);
	if (git_oid_is_zero(c))
		msg = xasprintf("ledger %s: nothing new for %zu deployment%s",
		    l->branch, cur->n, cur->n == 1 ? "" : "s");
	else {
		git_oid_tostr(hex, sizeof hex, c);
		msg = xasprintf("ledger %s: pushed %.12s (%zu deployment%s)%s",
		    l->branch, hex, cur->n, cur->n == 1 ? "" : "s",
		    l->failures > 0 ? ", the remote is back" : "");
	}
	ledger_post(l, git_oid_is_zero(c) ? LEDGER_DEBUG : l->failures > 0 ?
	    LEDGER_INFO : LEDGER_DEBUG, msg, cur);
	l->failures = 0;
	free(l->last_error);
	l->last_error = NULL;
	pthread_mutex_lock(&l->mu);
	free(l->error);
	l->error = NULL;
	pthread_mutex_unlock(&l->mu);
}

/* wait: when the loop kicks the task again; -1: it runs again now. */
static void
ledger_failed(struct ledger *l, char *cause, int64_t wait, int64_t retry)
{
	struct ledger_result	*res = xcalloc(1, sizeof *res);
	bool			 same = l->last_error != NULL &&
				    strcmp(l->last_error, cause) == 0;

	res->level = same ? LEDGER_DEBUG : LEDGER_WARN;
	res->message = xasprintf("ledger %s: %s (retry in %llds)", l->branch,
	    cause, (long long)((wait + 999) / 1000));
	res->retry_ms = retry;
	pthread_mutex_lock(&l->mu);
	TAILQ_INSERT_TAIL(&l->results, res, entry);
	pthread_mutex_unlock(&l->mu);
	workers_task_wake(l->task);
	free(l->last_error);
	l->last_error = cause;
	pthread_mutex_lock(&l->mu);
	free(l->error);
	l->error = xstrdup(cause);
	pthread_mutex_unlock(&l->mu);
}

/*
 * The task: push what is handed (with what waited to be retried), until
 * nothing is left or an attempt fails; then the loop kicks it again after
 * the backoff, or at once when ledger_kick says the remote answers.
 */
static void
ledger_work(void *arg)
{
	struct ledger		*l = arg;
	git_oid			 pushed;
	int64_t			 wait;
	char			*cause;
	int			 error;
	bool			 kicked;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		if (l->stop || (l->cur == NULL && l->next == NULL)) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		l->kicked = false;
		if (l->cur == NULL)
			l->cur = l->next;
		else
			ledger_batch_merge(l->cur, l->next);
		l->next = NULL;
		l->inflight = l->cur->n;
		pthread_mutex_unlock(&l->mu);

		error = ledger_attempt(l, l->cur, &pushed, &cause);
		if (error == 0) {
			pthread_mutex_lock(&l->mu);
			l->inflight = 0;
			pthread_mutex_unlock(&l->mu);
			ledger_done(l, l->cur, &pushed);
			ledger_batch_free(l->cur);
			l->cur = NULL;
			l->moved = 0;
			continue;
		}
		pthread_mutex_lock(&l->mu);
		l->stats.push_failures++;
		kicked = l->kicked;
		pthread_mutex_unlock(&l->mu);
		if (error == -EAGAIN && ++l->moved <= 5) {
			/* Someone else pushed: on their tip, at once. */
			ledger_post(l, LEDGER_INFO, xasprintf("ledger %s: %s;"
			    " rebuilding on the new tip", l->branch, cause),
			    NULL);
			free(cause);
			continue;
		}
		l->moved = 0;
		l->failures++;
		wait = ledger_backoff_ms(l->failures);
		/* The remote answered meanwhile: again at once. */
		ledger_failed(l, cause, wait, kicked ? -1 : wait);
		if (!kicked)
			return;
	}
	/*
	 * All pushed: the mirror's handle (its caches, its remote) goes
	 * until the next push, which may be days away; the tip stays known.
	 */
	mirror_free(l->mirror);
	l->mirror = NULL;
}

/* Loop side. */

static void	ledger_arm(struct ledger *, long);

/* The backoff is over: the batch that failed goes again. */
static void
ledger_retry(evutil_socket_t fd, short events, void *arg)
{
	struct ledger	*l = arg;

	(void)fd;
	(void)events;
	l->retrying = false;
	workers_task_kick(l->task);
}

/* A flush asked for is over once no mark is left. */
static void
ledger_flush_check(struct ledger *l)
{
	void	(*cb)(void *) = l->flush_cb;
	size_t	  n;

	if (cb == NULL ||
	    store_ledger_count(l->store, l->repository_id, &n) != 0 || n > 0)
		return;
	l->flush_cb = NULL;
	cb(l->flush_arg);
}

static void
ledger_wake(void *arg)
{
	struct ledger		*l = arg;
	struct ledger_result	*res;
	char			 key[32];
	size_t			 i;

	for (;;) {
		pthread_mutex_lock(&l->mu);
		res = TAILQ_FIRST(&l->results);
		if (res != NULL)
			TAILQ_REMOVE(&l->results, res, entry);
		pthread_mutex_unlock(&l->mu);
		if (res == NULL)
			break;
		if (res->ndone > 0) {
			store_begin(l->store);
			for (i = 0; i < res->ndone; i++) {
				int64_t	*seq;

				store_ledger_clear(l->store, res->done[2 * i],
				    res->done[2 * i + 1]);
				snprintf(key, sizeof key, "%lld",
				    (long long)res->done[2 * i]);
				seq = table_gets(&l->handed, key);
				if (seq != NULL && *seq <= res->done[2 * i + 1])
					free(table_puts(&l->handed, key, NULL));
			}
			if (store_commit(l->store) != 0 && l->log_cb != NULL)
				l->log_cb(LEDGER_WARN, l->repository,
				    "ledger: cannot clear the marks of a push;"
				    " it is made again", l->log_arg);
		}
		if (res->ndone > 0)
			ledger_arm(l, 0);	/* what waited for room */
		if (res->retry_ms >= 0) {
			struct timeval tv = { (time_t)(res->retry_ms / 1000),
			    (suseconds_t)(res->retry_ms % 1000) * 1000 };

			l->retrying = true;
			evtimer_add(l->retry_ev, &tv);
		}
		if (res->message != NULL && l->log_cb != NULL)
			l->log_cb(res->level, l->repository, res->message,
			    l->log_arg);
		free(res->message);
		free(res->done);
		free(res);
	}
	ledger_flush_check(l);
}

/*
 * The batch goes once no mark came for LEDGER_BATCH_MS, or at the latest
 * LEDGER_BATCH_WAIT_MS after its first mark; ms 0: at once.
 */
static void
ledger_arm(struct ledger *l, long ms)
{
	struct timeval	tv;
	int64_t		now = ledger_now_ms(), due;

	if (!l->batch_armed)
		l->batch_first = now;
	due = now + ms;
	if (due > l->batch_first + LEDGER_BATCH_WAIT_MS)
		due = l->batch_first + LEDGER_BATCH_WAIT_MS;
	if (due < now)
		due = now;
	tv.tv_sec = (time_t)((due - now) / 1000);
	tv.tv_usec = (suseconds_t)((due - now) % 1000) * 1000;
	l->batch_armed = true;
	evtimer_add(l->batch_ev, &tv);
}

/* One marked deployment, rendered; NULL when it is gone. */
static struct ledger_entry *
ledger_render(struct ledger *l, const struct store_ledger_mark *mk,
    char **cause)
{
	struct store_deployment	 d;
	struct ledger_entry	*e;
	struct buf		 b;
	int64_t			 run;
	int			 error;

	*cause = NULL;
	if (store_deployment_get_by_id(l->store, mk->deployment_id, &d) != 0)
		return (NULL);
	e = xcalloc(1, sizeof *e);
	e->name = xstrdup(d.name);
	e->deployment_id = d.id;
	e->seq = mk->seq;
	e->line = xstrdup(mk->line);
	buf_init(&b, SIZE_MAX);
	if ((error = ledger_render_status(l->store, &d, &b, &run)) != 0) {
		*cause = xasprintf("%s: cannot render its status: %s", d.name,
		    strerror(-error));
		buf_release(&b);
		store_deployment_release(&d);
		ledger_entry_free(e);
		return (NULL);
	}
	e->status_len = b.len;
	e->status = buf_detach(&b);
	if (run > 0) {
		buf_init(&b, SIZE_MAX);
		if (ledger_render_log(l->store, run, LEDGER_LOG_MAX, &b) == 0) {
			e->log_len = b.len;
			e->log = buf_detach(&b);
		} else
			buf_release(&b);
	}
	store_deployment_release(&d);
	return (e);
}

/* The batch timer: render what is marked and not handed yet. */
static void
ledger_batch(evutil_socket_t fd, short events, void *arg)
{
	struct ledger			*l = arg;
	struct store_ledger_mark	*marks;
	struct ledger_batch		*b;
	struct ledger_entry		*e;
	size_t				 n, i, room;
	char				 key[32], *cause;
	int64_t				*seq;
	bool				 more = false;

	(void)fd;
	(void)events;
	l->batch_armed = false;
	if (store_ledger_marks(l->store, l->repository_id, &marks, &n) != 0) {
		if (l->log_cb != NULL)
			l->log_cb(LEDGER_WARN, l->repository,
			    "ledger: cannot read the marks", l->log_arg);
		ledger_arm(l, 5000);
		return;
	}
	/*
	 * At most LEDGER_BATCH_MAX deployments' files in memory: the rest
	 * stay marked until a push makes room.
	 */
	pthread_mutex_lock(&l->mu);
	room = l->inflight + (l->next != NULL ? l->next->n : 0);
	room = room < LEDGER_BATCH_MAX ? LEDGER_BATCH_MAX - room : 0;
	pthread_mutex_unlock(&l->mu);
	b = ledger_batch_new();
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof key, "%lld",
		    (long long)marks[i].deployment_id);
		seq = table_gets(&l->handed, key);
		if (seq != NULL && *seq == marks[i].seq)
			continue;	/* with the task already */
		if (b->n >= room) {
			more = room == LEDGER_BATCH_MAX;
			break;
		}
		if ((e = ledger_render(l, &marks[i], &cause)) == NULL) {
			if (cause != NULL && l->log_cb != NULL)
				l->log_cb(LEDGER_WARN, l->repository, cause,
				    l->log_arg);
			free(cause);
			store_ledger_clear(l->store, marks[i].deployment_id,
			    marks[i].seq);
			continue;
		}
		seq = xmalloc(sizeof *seq);
		*seq = marks[i].seq;
		free(table_puts(&l->handed, key, seq));
		ledger_batch_put(b, e);
	}
	store_ledger_marks_free(marks, n);
	if (b->n == 0) {
		ledger_batch_free(b);
		ledger_flush_check(l);
		return;
	}
	pthread_mutex_lock(&l->mu);
	if (l->next == NULL)
		l->next = b;
	else
		ledger_batch_merge(l->next, b);
	pthread_mutex_unlock(&l->mu);
	/* A batch waiting for its retry takes this one along then. */
	if (l->started && !l->retrying)
		workers_task_kick(l->task);
	if (more)
		ledger_arm(l, LEDGER_BATCH_MS);
}

int
ledger_new(struct ledger **out, struct event_base *base, struct store *store,
    const struct ledger_config *lc, ledger_log_cb cb, void *arg,
    char **cause)
{
	struct ledger	*l;

	*out = NULL;
	*cause = NULL;
	l = xcalloc(1, sizeof *l);
	l->base = base;
	l->store = store;
	l->repository = xstrdup(lc->repository);
	l->repository_id = lc->repository_id;
	l->url = xstrdup(lc->url);
	l->branch = xstrdup(lc->branch);
	l->mirror_dir = xstrdup(lc->mirror_dir);
	if (lc->auth.ssh_key != NULL)
		l->ssh_key = xstrdup(lc->auth.ssh_key);
	if (lc->auth.token_file != NULL)
		l->token_file = xstrdup(lc->auth.token_file);
	if (lc->auth.known_hosts != NULL)
		l->known_hosts = xstrdup(lc->auth.known_hosts);
	l->log_cb = cb;
	l->log_arg = arg;
	table_init(&l->handed);
	TAILQ_INIT(&l->results);
	pthread_mutex_init(&l->mu, NULL);
	l->task = workers_task_new(lc->lane, ledger_work, ledger_wake, l);
	l->batch_ev = evtimer_new(base, ledger_batch, l);
	l->retry_ev = evtimer_new(base, ledger_retry, l);
	*out = l;
	return (0);
}

void
ledger_start(struct ledger *l)
{
	size_t	n = 0;

	l->started = true;
	/* Marks from before a restart: what was not pushed then. */
	if (store_ledger_count(l->store, l->repository_id, &n) == 0 && n > 0)
		ledger_arm(l, 0);
}

static void
ledger_mark(struct ledger *l, int64_t deployment_id, const char *line)
{
	if (store_ledger_mark(l->store, deployment_id, line) == 0)
		ledger_arm(l, LEDGER_BATCH_MS);
}

void
ledger_run(struct ledger *l, const struct engine_run_event *ev)
{
	char	*line;

	if (l == NULL || ev->repository_id != l->repository_id ||
	    !store_run_state_final(ev->state))
		return;
	line = xasprintf("%s: %s %s (%.7s)", ev->deployment, ev->action,
	    ev->state, ev->commit != NULL ? ev->commit : "none");
	ledger_mark(l, ev->deployment_id, line);
	free(line);
}

void
ledger_phase(struct ledger *l, const char *name, const char *phase)
{
	struct store_deployment	 d;
	char			*line;

	if (l == NULL || strcmp(phase, "applying") == 0 ||
	    strcmp(phase, "destroying") == 0)
		return;		/* a run's end tells how it went */
	if (store_deployment_get(l->store, l->repository_id, name, &d) != 0)
		return;
	if (d.desired_commit != NULL)
		line = xasprintf("%s: %s (%.7s)", name, phase,
		    d.desired_commit);
	else
		line = xasprintf("%s: %s", name, phase);
	ledger_mark(l, d.id, line);
	free(line);
	store_deployment_release(&d);
}

void
ledger_flush(struct ledger *l, void (*done)(void *), void *arg)
{
	l->flush_cb = done;
	l->flush_arg = arg;
	if (!l->started) {
		l->flush_cb = NULL;
		done(arg);
		return;
	}
	ledger_kick(l);
	ledger_arm(l, 0);
	ledger_flush_check(l);
}

void
ledger_kick(struct ledger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->kicked = true;
	pthread_mutex_unlock(&l->mu);
	if (l->retrying) {
		evtimer_del(l->retry_ev);
		l->retrying = false;
		if (l->started)
			workers_task_kick(l->task);
	}
}

void
ledger_stats(struct ledger *l, struct ledger_stats *st)
{
	pthread_mutex_lock(&l->mu);
	*st = l->stats;
	pthread_mutex_unlock(&l->mu);
	if (store_ledger_count(l->store, l->repository_id, &st->pending) != 0)
		st->pending = 0;
}

char *
ledger_error(struct ledger *l)
{
	char	*e;

	pthread_mutex_lock(&l->mu);
	e = l->error != NULL ? xstrdup(l->error) : NULL;
	pthread_mutex_unlock(&l->mu);
	return (e);
}

const char *
ledger_branch(const struct ledger *l)
{
	return (l->branch);
}

void
ledger_metrics(struct ledger *const *v, size_t n, struct buf *b)
{
	static const struct {
		const char	*name, *type, *help;
	} m[] = {
		{ "cloudsphere_ledger_commits_total", "counter",
		  "Ledger commits pushed." },
		{ "cloudsphere_ledger_pushes_total", "counter",
		  "Ledger pushes that succeeded." },
		{ "cloudsphere_ledger_push_failures_total", "counter",
		  "Ledger push attempts that failed or were rejected." },
		{ "cloudsphere_ledger_pending", "gauge",
		  "Deployments whose ledger files are not pushed yet." },
	};
	struct ledger_stats	*st;
	size_t			 i, k;

	if (n == 0)
		return;
	st = xreallocarray(NULL, n, sizeof *st);
	for (i = 0; i < n; i++)
		ledger_stats(v[i], &st[i]);
	for (k = 0; k < sizeof m / sizeof m[0]; k++) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", m[k].name,
		    m[k].help, m[k].name, m[k].type);
		for (i = 0; i < n; i++) {
			unsigned long long x = k == 0 ? st[i].commits :
			    k == 1 ? st[i].pushes : k == 2 ?
			    st[i].push_failures : st[i].pending;

			buf_printf(b, "%s{repository=\"%s\"} %llu\n",
			    m[k].name, v[i]->repository, x);
		}
	}
	free(st);
}

void
ledger_free(struct ledger *l)
{
	struct ledger_result	*res;
	size_t			 i;
	const char		*key;
	void			*value;

	if (l == NULL)
		return;
	/* A push under way ends first (at its deadline at the latest). */
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_mutex_unlock(&l->mu);
	workers_task_free(l->task);
	while ((res = TAILQ_FIRST(&l->results)) != NULL) {
		TAILQ_REMOVE(&l->results, res, entry);
		free(res->message);
		free(res->done);
		free(res);
	}
	ledger_batch_free(l->next);
	ledger_batch_free(l->cur);
	mirror_free(l->mirror);
	if (l->batch_ev != NULL)
		event_free(l->batch_ev);
	if (l->retry_ev != NULL)
		event_free(l->retry_ev);
	pthread_mutex_destroy(&l->mu);
	for (i = 0; table_next(&l->handed, &i, &key, &value); )
		free(value);
	table_release(&l->handed);
	free(l->repository);
	free(l->url);
	free(l->branch);
	free(l->mirror_dir);
	free(l->ssh_key);
	free(l->token_file);
	free(l->known_hosts);
	free(l->last_error);
	free(l->error);
	free(l);
}
