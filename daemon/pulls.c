/*
 * Pull requests: from the forge's event to the statuses and the comment.
 *
 * Each open pull request the daemon plans is a struct pull with the head
 * it is planning.  The fetch and the load happen in the repository's
 * worker (watch_pull); the plans in the engine, whose events for them come
 * back to pulls_run_event inside the store transaction that records them,
 * where the statuses and the comment are written to the outbox.  Events
 * of an old head (cancelled when a new one came) only settle that head's
 * statuses.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "buf.h"
#include "log.h"
#include "outbox.h"
#include "pull-comment.h"
#include "pulls.h"
#include "webhook.h"
#include "xmalloc.h"

#define PULLS_MAX		1000	/* open pull requests per repository */
#define PULLS_LOG_MAX		(4 * 1024 * 1024)	/* read per plan */
#define PULLS_DESCRIPTION_MAX	140	/* GitHub's limit, the smallest */
#define PULLS_RECOVER_RUNS	1000	/* newest runs looked at after a restart */

struct pull_entry {
	int64_t		 run;
	char		*state;		/* final state, NULL until then */
};

struct pull {
	TAILQ_ENTRY(pull)	 entry;
	int64_t			 number;
	char			*head;		/* being planned */
	bool			 loaded;	/* its plans are queued */
	bool			 failed;	/* its head could not be loaded */
	struct engine_pull_item	*items;
	size_t			 nitems;
	size_t			 left;		/* plans not over */
	bool			 commented;
};

struct pulls_repo {
	TAILQ_ENTRY(pulls_repo)	 entry;
	struct pulls		*p;
	char			*name;
	int64_t			 store_id;
	char			*branch;
	char			*forge;		/* forge.kind, else webhook.forge */
	bool			 plan;
	bool			 forks;
	bool			 report;	/* a forge to report to */
	struct watch		*watch;
	struct engine_repo	*er;
	TAILQ_HEAD(, pull)	 pulls;
	size_t			 npulls;
};

struct pulls {
	struct event_base	*base;
	struct store		*store;
	struct event		*kick_ev;
	void			(*kick)(void *);
	void			*kick_arg;
	TAILQ_HEAD(, pulls_repo) repos;
};

static void	pulls_loaded(struct watch *, int64_t, struct model *,
		    const char *, const char *, const char *, void *);

/* The same commit, when one of them is abbreviated (Bitbucket Cloud). */
static bool
same_head(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b);

	return (strncmp(a, b, la < lb ? la : lb) == 0);
}

static void
pulls_kick_fire(evutil_socket_t fd, short events, void *arg)
{
	struct pulls	*p = arg;

	(void)fd;
	(void)events;
	if (p->kick != NULL)
		p->kick(p->kick_arg);
}

/* After the transaction in progress: deliver what it wrote. */
static void
pulls_kick(struct pulls *p)
{
	event_active(p->kick_ev, 0, 0);
}

struct pulls *
pulls_new(struct event_base *base, struct store *store)
{
	struct pulls	*p = xcalloc(1, sizeof *p);

	p->base = base;
	p->store = store;
	p->kick_ev = event_new(base, -1, 0, pulls_kick_fire, p);
	TAILQ_INIT(&p->repos);
	return (p);
}

static void
pull_free(struct pull *pl)
{
	if (pl == NULL)
		return;
	engine_pull_items_free(pl->items, pl->nitems);
	free(pl->head);
	free(pl);
}

void
pulls_free(struct pulls *p)
{
	struct pulls_repo	*r;
	struct pull		*pl;

	if (p == NULL)
		return;
	while ((r = TAILQ_FIRST(&p->repos)) != NULL) {
		TAILQ_REMOVE(&p->repos, r, entry);
		while ((pl = TAILQ_FIRST(&r->pulls)) != NULL) {
			TAILQ_REMOVE(&r->pulls, pl, entry);
			pull_free(pl);
		}
		free(r->name);
		free(r->branch);
		free(r->forge);
		free(r);
	}
	if (p->kick_ev != NULL)
		event_free(p->kick_ev);
	free(p);
}

void
pulls_set_kick(struct pulls *p, void (*kick)(void *), void *arg)
{
	p->kick = kick;
	p->kick_arg = arg;
}

static void
repo_settings(struct pulls_repo *r, const struct config_repo *cr)
{
	free(r->forge);
	r->forge = cr->forge_kind != NULL ? xstrdup(cr->forge_kind) :
	    cr->webhook_forge != NULL ? xstrdup(cr->webhook_forge) : NULL;
	r->plan = cr->pr_plan;
	r->forks = cr->pr_forks;
	/* Without a forge API the plans are only in the runs and the log. */
	r->report = cr->forge_kind != NULL &&
	    strcmp(cr->forge_kind, "generic") != 0;
}

void
pulls_add_repo(struct pulls *p, const struct config_repo *cr,
    int64_t store_id, struct watch *w, struct engine_repo *er)
{
	struct pulls_repo	*r = xcalloc(1, sizeof *r);

	r->p = p;
	r->name = xstrdup(cr->name);
	r->store_id = store_id;
	r->branch = xstrdup(cr->branch);
	r->watch = w;
	r->er = er;
	repo_settings(r, cr);
	TAILQ_INIT(&r->pulls);
	TAILQ_INSERT_TAIL(&p->repos, r, entry);
	watch_set_pull_hook(w, pulls_loaded, r);
}

void
pulls_set_config(struct pulls *p, const struct config *c)
{
	struct pulls_repo	*r;
	size_t			 i;

	TAILQ_FOREACH(r, &p->repos, entry) {
		for (i = 0; i < c->nrepos; i++) {
			if (strcmp(c->repos[i].name, r->name) == 0)
				repo_settings(r, &c->repos[i]);
		}
	}
}

static struct pull *
pull_find(struct pulls_repo *r, int64_t number)
{
	struct pull	*pl;

	TAILQ_FOREACH(pl, &r->pulls, entry) {
		if (pl->number == number)
			return (pl);
	}
	return (NULL);
}

static void
pull_remove(struct pulls_repo *r, struct pull *pl)
{
	TAILQ_REMOVE(&r->pulls, pl, entry);
	r->npulls--;
	pull_free(pl);
}

/* At most PULLS_DESCRIPTION_MAX characters, cut on a character. */
static char *
short_text(const char *s)
{
	size_t	i = 0, chars = 0, cut = 0;

	for (i = 0; s[i] != '\0' && s[i] != '\n'; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (chars == PULLS_DESCRIPTION_MAX - 3)
				cut = i;
			chars++;
		}
	}
	if (chars <= PULLS_DESCRIPTION_MAX)
		return (xstrndup(s, i));
	return (xasprintf("%.*s...", (int)cut, s));
}

static void
pull_status(struct pulls_repo *r, const char *sha, const char *deployment,
    enum outbox_state state, const char *description)
{
	char	*context, *desc;

	if (!r->report)
		return;
	context = xasprintf("cloudsphere/%s", deployment);
	desc = short_text(description);

	if (outbox_status(r->p->store, r->store_id, sha, context, state, desc,
	    NULL) != 0)
		log_warnx("%s: cannot record the status of %s on %.12s",
		    r->name, deployment, sha);
	free(desc);
	free(context);
}

/* A run's stored (redacted) log, up to PULLS_LOG_MAX bytes. */
static void
run_log(struct store *s, int64_t run, struct buf *b)
{
	int64_t	after = 0, last;

	buf_init(b, PULLS_LOG_MAX);
	while (store_log_read(s, run, after, STORE_LOG_CHUNK * 4, b,
	    &last) == 0 && last != after)
		after = last;
}

/* Every plan of the head is over: the comment, in the same transaction. */
static void
pull_comment(struct pulls_repo *r, struct pull *pl)
{
	struct store			*s = r->p->store;
	struct pull_comment_entry	*v;
	struct store_run		*runs;
	struct buf			*logs;
	char				*body;
	size_t				 i;

	if (!r->report || (pl->nitems == 0 && !pl->commented))
		return;		/* nothing to say, nothing said before */
	v = xcalloc(pl->nitems + 1, sizeof *v);
	runs = xcalloc(pl->nitems + 1, sizeof *runs);
	logs = xcalloc(pl->nitems + 1, sizeof *logs);
	for (i = 0; i < pl->nitems; i++) {
		const struct engine_pull_item *it = &pl->items[i];

		v[i].deployment = it->deployment;
		v[i].change = engine_pull_change_name(it->change);
		v[i].run = it->run;
		v[i].cause = it->cause;
		buf_init(&logs[i], 1);
		if (it->run == 0 ||
		    store_run_get(s, it->run, &runs[i]) != 0)
			continue;
		v[i].state = runs[i].state;
		v[i].summary = runs[i].summary;
		v[i].cause = runs[i].cause;
		buf_release(&logs[i]);
		run_log(s, it->run, &logs[i]);
		v[i].log = logs[i].data;
		v[i].loglen = logs[i].len;
	}
	body = pull_comment_render(pl->head, v, pl->nitems,
	    pull_comment_limit(r->forge));
	if (outbox_comment(s, r->store_id, pl->number, body) != 0)
		log_warnx("%s: cannot record the comment of pull request #%lld",
		    r->name, (long long)pl->number);
	else
		pl->commented = true;
	free(body);
	for (i = 0; i < pl->nitems; i++) {
		store_run_release(&runs[i]);
		buf_release(&logs[i]);
	}
	free(runs);
	free(logs);
	free(v);
}

/* The engine's events for preview runs, inside its store transaction. */
static void
pulls_run_event(const struct engine_run_event *ev, void *arg)
{
	struct pulls_repo	*r = arg;
	struct pull		*pl;
	char			*desc;
	enum outbox_state	 state;
	size_t			 i;

	if (strcmp(ev->state, "queued") == 0) {
		pull_status(r, ev->commit, ev->deployment, OUTBOX_PENDING,
		    "planning the pull request's changes");
		pulls_kick(r->p);
		return;
	}
	if (!store_run_state_final(ev->state))
		return;
	if (strcmp(ev->state, "succeeded") == 0) {
		state = OUTBOX_SUCCESS;
		desc = xasprintf("plan: %s", ev->summary != NULL ?
		    ev->summary : ev->cause != NULL ? ev->cause : "done");
	} else if (strcmp(ev->state, "failed") == 0 ||
	    strcmp(ev->state, "timed-out") == 0) {
		state = OUTBOX_FAILURE;
		desc = xasprintf("plan %s: %s", ev->state, ev->cause != NULL ?
		    ev->cause : "no cause");
	} else {
		/* cancelled or interrupted: the cause starts with the word */
		state = OUTBOX_ERROR;
		desc = xasprintf("plan %s", ev->cause != NULL ? ev->cause :
		    ev->state);
	}
	pull_status(r, ev->commit, ev->deployment, state, desc);
	log_info("%s: pull request #%lld: %s plan %s at %.12s: %s", r->name,
	    (long long)ev->pull, ev->deployment, ev->state, ev->commit, desc);
	free(desc);
	pulls_kick(r->p);

	pl = pull_find(r, ev->pull);
	if (pl == NULL || !pl->loaded || strcmp(pl->head, ev->commit) != 0)
		return;		/* an old head's, or a discarded one's */
	for (i = 0; i < pl->nitems; i++) {
		if (pl->items[i].run == ev->run && pl->left > 0) {
			if (--pl->left == 0)
				pull_comment(r, pl);
			break;
		}
	}
}

/* The head is loaded (or could not be): plan it. */
static void
pulls_loaded(struct watch *w, int64_t number, struct model *m,
    const char *asked, const char *head, const char *error, void *arg)
{
	struct pulls_repo	*r = arg;
	struct store		*s = r->p->store;
	struct pull		*pl = pull_find(r, number);
	size_t			 i, nruns = 0;

	if (pl == NULL || pl->loaded || strcmp(pl->head, asked) != 0) {
		if (m != NULL)
			watch_release_model(m, w);
		return;		/* closed or superseded meanwhile */
	}
	if (error != NULL) {
		log_warnx("%s: pull request #%lld at %.12s: %s", r->name,
		    (long long)number, asked, error);
		pl->failed = true;
		return;
	}
	pl->loaded = true;
	free(pl->head);
	pl->head = xstrdup(head);
	store_begin(s);
	engine_pull_plan(r->er, number, m, head, pulls_run_event, r,
	    &pl->items, &pl->nitems);
	for (i = 0; i < pl->nitems; i++) {
		const struct engine_pull_item *it = &pl->items[i];

		if (it->run != 0)
			nruns++;
		else if (it->error)
			pull_status(r, head, it->deployment, OUTBOX_FAILURE,
			    it->change == ENGINE_PULL_INVALID ?
			    "invalid: see the pull request's comment" :
			    it->cause);
	}
	pl->left = nruns;
	log_info("%s: pull request #%lld at %.12s: %zu deployments changed, %zu planned",
	    r->name, (long long)number, head, pl->nitems, nruns);
	if (nruns == 0)
		pull_comment(r, pl);
	if (store_commit(s) != 0)
		log_warnx("%s: pull request #%lld: cannot record its plans",
		    r->name, (long long)number);
	pulls_kick(r->p);
}

/* The forge's ref that holds the head, and where to fetch it from. */
static int
pull_source(struct pulls_repo *r, const struct pulls_request *q,
    char **src, const char **url)
{
	/* The event tells Bitbucket Cloud from Server; the settings may not. */
	const char	*forge = q->forge != NULL ? q->forge : r->forge;
	char		*ref;

	*src = NULL;
	*url = NULL;
	if (forge == NULL)
		forge = "github";
	if (strcmp(forge, "gitlab") == 0)
		*src = xasprintf("refs/merge-requests/%lld/head",
		    (long long)q->pull);
	else if (strcmp(forge, "bitbucket-server") == 0)
		*src = xasprintf("refs/pull-requests/%lld/from",
		    (long long)q->pull);
	else if (strcmp(forge, "bitbucket") == 0) {
		/* Bitbucket Cloud has no pull refs: the head branch. */
		if (q->head_ref == NULL)
			return (-EINVAL);
		ref = xasprintf("refs/heads/%s", q->head_ref);
		if (!git_reference_is_valid_name(ref)) {
			free(ref);
			return (-EINVAL);
		}
		*src = ref;
		if (q->fork) {
			if (q->head_clone_url == NULL ||
			    strncmp(q->head_clone_url, "https://", 8) != 0)
				return (-EINVAL);
			*url = q->head_clone_url;
		}
	} else		/* github, gitea, forgejo, generic */
		*src = xasprintf("refs/pull/%lld/head", (long long)q->pull);
	return (0);
}

static bool
is_sha(const char *s)
{
	size_t	i;

	if (s == NULL || strlen(s) < 7 || strlen(s) > GIT_OID_HEXSZ)
		return (false);
	for (i = 0; s[i] != '\0'; i++) {
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return (false);
	}
	return (true);
}

/*
 * Cancel a pull request's plans; the statuses of its head say why, its
 * comment is not written for them.
 */
static void
pull_cancel(struct pulls_repo *r, struct pull *pl, const char *why)
{
	size_t	n;

	pl->loaded = false;
	engine_pull_cancel(r->er, pl->number, why, &n);
	if (n > 0)
		log_info("%s: pull request #%lld: %zu plans cancelled (%s)",
		    r->name, (long long)pl->number, n, why);
}

static void
pull_update(struct pulls_repo *r, const struct pulls_request *q)
{
	struct pull	*pl = pull_find(r, q->pull);
	const char	*url;
	char		*src, *why;

	if (q->fork && !r->forks) {
		log_info("%s: pull request #%lld is from a fork: not planned (pull_requests.forks is false)",
		    r->name, (long long)q->pull);
		return;
	}
	if (!is_sha(q->head_sha)) {
		log_warnx("%s: pull request #%lld: no head commit in the event",
		    r->name, (long long)q->pull);
		return;
	}
	if (pull_source(r, q, &src, &url) != 0) {
		log_warnx("%s: pull request #%lld: cannot tell where its head is",
		    r->name, (long long)q->pull);
		free(src);
		return;
	}
	if (pl != NULL && same_head(pl->head, q->head_sha) && !pl->failed) {
		log_debug("%s: pull request #%lld at %.12s: already planned",
		    r->name, (long long)q->pull, q->head_sha);
		free(src);
		return;
	}
	if (pl == NULL) {
		if (r->npulls >= PULLS_MAX) {
			log_warnx("%s: pull request #%lld: more than %d open pull requests, not planned",
			    r->name, (long long)q->pull, PULLS_MAX);
			free(src);
			return;
		}
		pl = xcalloc(1, sizeof *pl);
		pl->number = q->pull;
		TAILQ_INSERT_TAIL(&r->pulls, pl, entry);
		r->npulls++;
	} else {
		why = xasprintf("superseded by %.12s", q->head_sha);
		pull_cancel(r, pl, why);
		free(why);
		engine_pull_items_free(pl->items, pl->nitems);
		pl->items = NULL;
		pl->nitems = 0;
		pl->left = 0;
		free(pl->head);
	}
	pl->head = xstrdup(q->head_sha);
	pl->loaded = false;
	pl->failed = false;
	log_info("%s: pull request #%lld at %.12s: fetching %s", r->name,
	    (long long)q->pull, q->head_sha, src);
	watch_pull(r->watch, q->pull, url, src, q->head_sha);
	free(src);
}

void
pulls_recovered(struct pulls *p, int64_t since)
{
	struct pulls_repo	*r;
	struct store_run	*v;
	size_t			 n, i, settled = 0;

	if (store_run_list(p->store, 0, PULLS_RECOVER_RUNS, &v, &n) != 0)
		return;
	store_begin(p->store);
	for (i = 0; i < n; i++) {
		if (v[i].pull == 0 || v[i].commit == NULL ||
		    strcmp(v[i].state, "interrupted") != 0 ||
		    v[i].finished_at < since)
			continue;
		TAILQ_FOREACH(r, &p->repos, entry) {
			if (strcmp(r->name, v[i].repository) == 0)
				break;
		}
		if (r == NULL)
			continue;
		pull_status(r, v[i].commit, v[i].deployment, OUTBOX_ERROR,
		    "plan interrupted: the daemon restarted; push again to plan");
		settled++;
	}
	if (store_commit(p->store) != 0)
		log_warnx("cannot record the statuses of interrupted plans");
	else if (settled > 0) {
		log_info("%zu plans of pull requests were interrupted by the restart",
		    settled);
		pulls_kick(p);
	}
	store_run_array_free(v, n);
}

void
pulls_request(struct pulls *p, const char *repository,
    const struct pulls_request *q)
{
	struct pulls_repo	*r;
	struct pull		*pl;

	TAILQ_FOREACH(r, &p->repos, entry) {
		if (strcmp(r->name, repository) == 0)
			break;
	}
	if (r == NULL || q->pull <= 0)
		return;
	if (q->base_ref != NULL && strcmp(q->base_ref, r->branch) != 0) {
		log_debug("%s: pull request #%lld is against %s, not %s",
		    r->name, (long long)q->pull, q->base_ref, r->branch);
		return;
	}
	switch (q->action) {
	case PULLS_OPENED:
	case PULLS_SYNCHRONIZED:
	case PULLS_REOPENED:
		if (!r->plan) {
			log_debug("%s: pull request #%lld: pull_requests.plan is off",
			    r->name, (long long)q->pull);
			return;
		}
		pull_update(r, q);
		break;
	case PULLS_CLOSED:
	case PULLS_MERGED:
		if ((pl = pull_find(r, q->pull)) == NULL)
			return;
		pull_cancel(r, pl, q->action == PULLS_MERGED ?
		    "the pull request was merged" :
		    "the pull request was closed");
		watch_pull_drop(r->watch, q->pull);
		log_info("%s: pull request #%lld %s: its plans are discarded",
		    r->name, (long long)q->pull,
		    q->action == PULLS_MERGED ? "merged" : "closed");
		pull_remove(r, pl);
		pulls_kick(p);
		break;
	case PULLS_OTHER:
		break;
	}
}

void
pulls_hook(const char *repository, const struct webhook_event *ev, void *arg)
{
	struct pulls		*p = arg;
	struct pulls_request	 q;

	if (ev->kind != WEBHOOK_PULL)
		return;
	memset(&q, 0, sizeof q);
	q.pull = ev->pull;
	switch (ev->pull_action) {
	case WEBHOOK_PULL_OPENED:
		q.action = PULLS_OPENED;
		break;
	case WEBHOOK_PULL_SYNCHRONIZED:
		q.action = PULLS_SYNCHRONIZED;
		break;
	case WEBHOOK_PULL_REOPENED:
		q.action = PULLS_REOPENED;
		break;
	case WEBHOOK_PULL_CLOSED:
		q.action = PULLS_CLOSED;
		break;
	case WEBHOOK_PULL_MERGED:
		q.action = PULLS_MERGED;
		break;
	default:
		q.action = PULLS_OTHER;
		break;
	}
	q.forge = ev->forge;
	q.head_sha = ev->head_sha;
	q.head_ref = ev->head_ref;
	q.base_ref = ev->base_ref;
	q.head_clone_url = ev->head_clone_url;
	q.fork = ev->fork;
	pulls_request(p, repository, &q);
}
