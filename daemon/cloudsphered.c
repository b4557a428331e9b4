/*
 * cloudsphered: the GitOps reconciliation daemon.  One libevent loop runs
 * the triggers, the engine, the providers' processes and the HTTP API;
 * a small pool of worker threads (workers.h) fetches, loads and pushes
 * the ledgers, each repository's jobs in its own lane, one at a time.
 *
 * Usage: cloudsphered [-dnv] [-c file]
 */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <git2.h>
#include <jansson.h>

#include "api.h"
#include "conf.h"
#include "engine.h"
#include "hooks.h"
#include "ledger.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "proc.h"
#include "pulls.h"
#include "reporter.h"
#include "store.h"
#include "watch.h"
#include "workers.h"
#include "xmalloc.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/cloudsphere/cloudsphered.yaml"
#define KEY_LEN		32

struct daemon_repo {
	struct daemon		*d;
	char			*name;
	int64_t			 store_id;
	struct workers_lane	*lane;		/* its fetches and pushes */
	struct watch		*watch;
	struct engine_repo	*er;
	struct ledger		*ledger;	/* NULL: ledger_branch "" */
	char			*commit;	/* last loaded */
	bool			 unclean;	/* the store may hold an error */
};

struct daemon {
	struct event_base	*base;
	struct config		*conf;
	char			*conf_path;
	struct store		*store;
	struct engine		*engine;
	struct api		*api;
	struct pulls		*pulls;
	struct hooks		*hooks;
	struct reporter		*reporter;
	struct workers		*pool;
	struct watch_hub	*hub;
	struct daemon_repo	*repos;
	size_t			 nrepos;
	struct event		*sighup, *sigterm, *sigint, *watchdog;
	struct event		*prune;
	bool			 stopping;
	size_t			 flushing;	/* ledgers still pushing */
	int64_t			 started;
};

static void
usage(void)
{
	fprintf(stderr, "usage: cloudsphered [-dnv] [-c file]\n");
	exit(2);
}

/* systemd is told, when it asks to be (notify.h); a failure is no error. */
static void
notify(const char *state)
{
	(void)notify_send(state);
}

static void
notify_status(struct daemon *d)
{
	size_t	running, queued;

	engine_counts(d->engine, &running, &queued);
	(void)notify_sendf("STATUS=%zu repositories, %zu runs running, %zu queued",
	    d->nrepos, running, queued);
}

/* The key that hashes secrets into fingerprints: random, kept 0600. */
static int
load_key(const char *state_dir, unsigned char key[KEY_LEN], char **cause)
{
	char	*path = xasprintf("%s/fingerprint.key", state_dir);
	int	 fd, error = 0;
	ssize_t	 n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1) {
		n = read(fd, key, KEY_LEN);
		close(fd);
		if (n != KEY_LEN) {
			*cause = xasprintf("%s: not a key of %d bytes", path,
			    KEY_LEN);
			error = -EINVAL;
		}
		free(path);
		return (error);
	}
	if (errno != ENOENT) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return (-errno);
	}
	if (getrandom(key, KEY_LEN, 0) != KEY_LEN ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1 || write(fd, key, KEY_LEN) != KEY_LEN ||
	    fsync(fd) != 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		error = -errno;
	}
	if (fd != -1)
		close(fd);
	free(path);
	return (error);
}

static void
engine_config_from(const struct config *c, struct engine_config *ec)
{
	memset(ec, 0, sizeof *ec);
	ec->state_dir = c->state_dir;
	ec->secrets_dir = c->secrets_dir;
	/* systemd's LoadCredential=: looked up after secrets_dir. */
	ec->credentials_dir = getenv("CREDENTIALS_DIRECTORY");
	ec->max_parallel_runs = c->max_parallel_runs;
	ec->prune_limit = c->prune_limit;
	ec->retry_min = c->retry_min;
	ec->retry_max = c->retry_max;
	ec->log_max_bytes = c->log_max_bytes;
	ec->grace = 10;
}

static void
on_result(struct watch *w, struct model *m, const char *commit,
    const char *trigger, const char *error, void *arg)
{
	struct daemon_repo	*r = arg;

	if (error != NULL) {
		log_warnx("%s: %s", watch_name(w), error);
		store_repository_set_commit(r->d->store, r->store_id,
		    r->commit, error);
		r->unclean = true;
		engine_repo_release_hold(r->er);
		return;
	}
	/* The remote answers: a ledger push waiting to retry goes now. */
	ledger_kick(r->ledger);
	if (m == NULL) {
		/*
		 * Fetched, nothing new: only an error to clear is written, so
		 * that an idle poll costs no write to the database.
		 */
		if (r->unclean)
			store_repository_set_commit(r->d->store, r->store_id,
			    r->commit, NULL);
		r->unclean = false;
		engine_repo_release_hold(r->er);
		return;
	}
	r->unclean = false;	/* engine_update records the commit */
	log_info("%s: commit %.12s (%s): %zu deployments, %zu invalid, %zu errors",
	    r->name, commit, trigger, m->ndeployments,
	    model_invalid_count(m), m->diags.n);
	free(r->commit);
	r->commit = xstrdup(commit);
	engine_update(r->er, m, commit, trigger);
	if (strcmp(trigger, "last") != 0)
		engine_repo_release_hold(r->er);
	notify_status(r->d);
}

static void
on_phase(const char *name, const char *phase, const char *reason,
    const char *cause, void *arg)
{
	struct daemon	*d = arg;
	size_t		 i;

	log_info("%s: %s (%s%s%s)", name, phase, reason != NULL ? reason : "",
	    cause != NULL ? ": " : "", cause != NULL ? cause : "");
	for (i = 0; i < d->nrepos; i++)
		ledger_phase(d->repos[i].ledger, name, phase);
}

/* Inside the store transaction of a run's change: ledger marks, statuses. */
static void
on_run(const struct engine_run_event *ev, void *arg)
{
	struct daemon	*d = arg;
	size_t		 i;

	/* A pull request's plan changes nothing the ledger holds. */
	for (i = 0; i < d->nrepos && ev->pull == 0; i++)
		ledger_run(d->repos[i].ledger, ev);
	reporter_on_run(ev, d->reporter);
}

static void
on_ledger_log(enum ledger_level level, const char *repo, const char *msg,
    void *arg)
{
	(void)arg;
	if (level == LEDGER_WARN)
		log_warnx("%s: %s", repo, msg);
	else if (level == LEDGER_INFO)
		log_info("%s: %s", repo, msg);
	else
		log_debug("%s: %s", repo, msg);
}

static void
daemon_metrics(struct buf *b, void *arg)
{
	struct daemon	*d = arg;
	struct ledger	**v = xcalloc(d->nrepos + 1, sizeof *v);
	size_t		 i, n = 0;

	for (i = 0; i < d->nrepos; i++)
		if (d->repos[i].ledger != NULL)
			v[n++] = d->repos[i].ledger;
	ledger_metrics(v, n, b);
	free(v);
}

static int
daemon_sync(const char *name, void *arg)
{
	struct daemon	*d = arg;
	size_t		 i;
	int		 found = -ENOENT;

	for (i = 0; i < d->nrepos; i++) {
		if (name == NULL || strcmp(d->repos[i].name, name) == 0) {
			watch_sync(d->repos[i].watch, "cli");
			found = 0;
		}
	}
	return (found);
}

/* A webhook's push to the watched branch: the same sync as a poll. */
static void
daemon_hook_sync(const char *name, void *arg)
{
	struct daemon	*d = arg;
	size_t		 i;

	for (i = 0; i < d->nrepos; i++)
		if (strcmp(d->repos[i].name, name) == 0)
			watch_sync(d->repos[i].watch, "webhook");
}

/* Pull-request statuses and comments were written: deliver them. */
static void
kick_reporter(void *arg)
{
	reporter_kick(arg);
}

/* Pull-request events: logged, then planned or discarded (pulls.c). */
static void
daemon_hook_pull(const char *name, const struct webhook_event *ev, void *arg)
{
	struct daemon	*d = arg;

	log_info("%s: pull request %lld %s: head %.12s (%s) into %s%s",
	    name, (long long)ev->pull,
	    webhook_pull_action_name(ev->pull_action), ev->head_sha,
	    ev->head_ref, ev->base_ref, ev->fork ? ", from a fork" : "");
	pulls_hook(name, ev, d->pulls);
}

static json_t *
daemon_status(void *arg)
{
	struct daemon	*d = arg;
	json_t		*repos = json_array();
	size_t		 i, running, queued;

	for (i = 0; i < d->nrepos; i++) {
		const char	*err = watch_error(d->repos[i].watch);
		json_t		*ledger = json_null();

		if (d->repos[i].ledger != NULL) {
			struct ledger_stats	 st;
			char			*lerr;

			ledger_stats(d->repos[i].ledger, &st);
			lerr = ledger_error(d->repos[i].ledger);
			ledger = json_pack("{ss sI ss*}", "branch",
			    ledger_branch(d->repos[i].ledger), "pending",
			    (json_int_t)st.pending, "error", lerr);
			free(lerr);
		}
		json_array_append_new(repos, json_pack("{ss ss* ss* so}",
		    "name", d->repos[i].name, "commit", d->repos[i].commit,
		    "error", err, "ledger", ledger));
	}
	engine_counts(d->engine, &running, &queued);
	return (json_pack("{ss sI so s{sI sI}}", "version", PACKAGE_VERSION,
	    "pid", (json_int_t)getpid(), "repositories", repos, "runs",
	    "running", (json_int_t)running, "queued", (json_int_t)queued));
}

/* Seconds a stop waits for the ledgers to push what the last runs left. */
#define LEDGER_STOP_WAIT	5

static void
flushed(void *arg)
{
	struct daemon	*d = arg;

	if (d->flushing > 0 && --d->flushing == 0)
		event_base_loopexit(d->base, NULL);
}

static void
stopped(void *arg)
{
	struct daemon	*d = arg;
	struct timeval	 tv = { LEDGER_STOP_WAIT, 0 };
	size_t		 i;

	/* One more for this function, so no flush ends the loop early. */
	d->flushing = 1;
	for (i = 0; i < d->nrepos; i++) {
		if (d->repos[i].ledger != NULL) {
			d->flushing++;
			ledger_flush(d->repos[i].ledger, flushed, d);
		}
	}
	if (d->flushing > 1)
		event_base_loopexit(d->base, &tv);	/* at the latest */
	flushed(d);
}

static void
on_stop(evutil_socket_t sig, short events, void *arg)
{
	struct daemon	*d = arg;

	(void)events;
	if (d->stopping) {
		log_info("signal %d again: stopping now", (int)sig);
		event_base_loopexit(d->base, NULL);
		return;
	}
	d->stopping = true;
	log_info("stopping (signal %d): running providers get %lds",
	    (int)sig, d->conf->shutdown_grace);
	notify("STOPPING=1");
	engine_stop(d->engine, (int)d->conf->shutdown_grace, stopped, d);
}

static void
on_reload(evutil_socket_t sig, short events, void *arg)
{
	struct daemon		*d = arg;
	struct config		*c;
	struct diags		 errs;
	struct engine_config	 ec;
	char			*cause = NULL;
	size_t			 i;

	(void)sig;
	(void)events;
	notify("RELOADING=1");
	diags_init(&errs);
	if (config_load(&c, d->conf_path, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s:%d: %s", errs.v[i].file, errs.v[i].line,
			    errs.v[i].message);
		log_warnx("%s: not reloaded, the running configuration stays",
		    d->conf_path);
		diags_release(&errs);
		notify("READY=1");
		return;
	}
	diags_release(&errs);
	if (hooks_reload(d->hooks, c, &cause) != 0) {
		log_warnx("%s", cause);
		log_warnx("%s: not reloaded, the running configuration stays",
		    d->conf_path);
		free(cause);
		config_free(c);
		notify("READY=1");
		return;
	}
	/* Settings that take effect now; repositories change at restart. */
	if (c->nrepos != d->nrepos)
		log_warnx("%s: repositories added or removed take effect at the next restart",
		    d->conf_path);
	config_free(d->conf);
	d->conf = c;
	engine_config_from(d->conf, &ec);
	engine_set_config(d->engine, &ec);
	pulls_set_config(d->pulls, d->conf);
	log_info("%s: reloaded", d->conf_path);
	notify("READY=1");
}

static void
on_watchdog(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	notify("WATCHDOG=1");
}

/* Logs of all but the last runs of each deployment go, every hour. */
#define KEEP_RUN_LOGS	50

static void
on_prune(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;

	(void)fd;
	(void)events;
	if (store_prune_logs(d->store, KEEP_RUN_LOGS) != 0)
		log_warnx("cannot prune old run logs");
	/* Forge deliveries finished a month ago (the last of each key stays). */
	if (outbox_prune(d->store, store_now() - 30LL * 86400 * 1000) != 0)
		log_warnx("cannot prune the forge outbox");
}

static void
watchdog_start(struct daemon *d)
{
	uint64_t	usec;
	struct timeval	tv;
	int		error;

	if ((error = notify_watchdog(&usec)) < 0)
		log_warnx("WATCHDOG_USEC or WATCHDOG_PID malformed: no watchdog");
	if (error <= 0)
		return;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	d->watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
	event_add(d->watchdog, &tv);
}

static int
mkdir_state(const char *dir)
{
	struct stat	st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return (-errno);
	if (stat(dir, &st) != 0)
		return (-errno);
	if (!S_ISDIR(st.st_mode))
		return (-ENOTDIR);
	return (0);
}

int
main(int argc, char **argv)
{
	struct daemon		 d;
	struct diags		 errs;
	struct engine_config	 ec;
	struct api_config	 ac;
	struct store_repository	 sr;
	unsigned char		 key[KEY_LEN];
	const char		*conf_path = DEFAULT_CONFIG;
	char			*cause = NULL, *db;
	bool			 check = false, foreground = false;
	int			 ch, verbose = 0, error;
	size_t			 i, interrupted = 0;
	int64_t			 recovered;

	while ((ch = getopt(argc, argv, "c:dnv")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'd':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	(void)foreground;	/* always in the foreground: systemd runs us */
	log_init(verbose > 0 ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
	    "cloudsphered");

	memset(&d, 0, sizeof d);
	diags_init(&errs);
	if (config_load(&d.conf, conf_path, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s:%d: %s\n", errs.v[i].file,
			    errs.v[i].line, errs.v[i].message);
		if (errs.n == 0)
			fprintf(stderr, "%s: cannot load\n", conf_path);
		diags_release(&errs);
		return (1);
	}
	diags_release(&errs);
	if (check) {
		printf("%s: configuration OK (%zu repositories)\n", conf_path,
		    d.conf->nrepos);
		config_free(d.conf);
		return (0);
	}
	d.conf_path = xstrdup(conf_path);

	signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
	/*
	 * One malloc arena for the loop and the few workers: allocations
	 * are rare past the startup, and each arena keeps its own free
	 * pages resident (RssAnon of the idle daemon, 100 repositories:
	 * 8.5 -> 8.1 MiB).
	 */
	mallopt(M_ARENA_MAX, 1);
#endif
	if ((error = mkdir_state(d.conf->state_dir)) != 0)
		fatalx("%s: %s", d.conf->state_dir, strerror(-error));
	if (load_key(d.conf->state_dir, key, &cause) != 0)
		fatalx("%s", cause);
	db = xasprintf("%s/cloudsphere.db", d.conf->state_dir);
	if (store_open(&d.store, db, &cause) != 0)
		fatalx("%s", cause);
	free(db);
	recovered = store_now();
	if (store_recover(d.store, &interrupted) != 0)
		fatalx("cannot recover the store");
	if (interrupted > 0)
		log_warnx("%zu runs were interrupted when the daemon stopped; their deployments are reconciled again",
		    interrupted);

	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if (proc_init(d.base) != 0)
		fatalx("cannot watch child processes");
	engine_config_from(d.conf, &ec);
	d.engine = engine_new(d.base, d.store, &ec, key, sizeof key);
	explicit_bzero(key, sizeof key);

	/*
	 * libgit2 stays initialised until the workers are joined: its state
	 * of each thread is freed when the thread ends, if libgit2 is still
	 * there (the last mirror_free would shut it down first).
	 */
	git_libgit2_init();
	if (workers_new(&d.pool, d.base, &cause) != 0)
		fatalx("%s", cause);
	watch_hub_new(&d.hub, d.base, d.pool);
	d.pulls = pulls_new(d.base, d.store);
	d.repos = xcalloc(d.conf->nrepos + 1, sizeof *d.repos);
	for (i = 0; i < d.conf->nrepos; i++) {
		const struct config_repo	*cr = &d.conf->repos[i];
		struct daemon_repo		*r = &d.repos[d.nrepos];

		r->d = &d;
		r->name = xstrdup(cr->name);
		r->unclean = true;	/* an error from before a restart */
		if (store_repository_upsert(d.store, cr->name, cr->url,
		    cr->branch, &r->store_id) != 0)
			fatalx("%s: cannot record the repository", cr->name);
		r->lane = workers_lane_new(d.pool);
		if (watch_new(&r->watch, d.hub, r->lane, cr, d.conf->state_dir,
		    on_result, r, &cause) != 0)
			fatalx("%s: %s", cr->name, cause);
		r->er = engine_repo_add(d.engine, cr->name, r->store_id,
		    watch_mirror_dir(r->watch), watch_release_model, r->watch);
		if (cr->ledger_branch[0] != '\0') {
			struct ledger_config lc = {
				.repository = cr->name,
				.repository_id = r->store_id,
				.url = cr->url,
				.branch = cr->ledger_branch,
				.mirror_dir = watch_mirror_dir(r->watch),
				.auth = { cr->ssh_key, cr->token_file,
				    cr->known_hosts },
				.lane = r->lane,
			};

			if (ledger_new(&r->ledger, d.base, d.store, &lc,
			    on_ledger_log, &d, &cause) != 0)
				fatalx("%s: %s", cr->name, cause);
		}
		pulls_add_repo(d.pulls, cr, r->store_id, r->watch, r->er);
		if (store_repository_get(d.store, cr->name, &sr) == 0) {
			if (sr.last_commit != NULL)
				r->commit = xstrdup(sr.last_commit);
			store_repository_release(&sr);
		}
		d.nrepos++;
	}
	pulls_recovered(d.pulls, recovered);

	if (hooks_new(&d.hooks, d.base, d.conf, &cause) != 0)
		fatalx("%s", cause);
	hooks_set_sync(d.hooks, daemon_hook_sync, &d);
	hooks_set_pull(d.hooks, daemon_hook_pull, &d);

	memset(&ac, 0, sizeof ac);
	ac.control_socket = d.conf->control_socket;
	ac.listen = d.conf->listen;
	ac.api_token_file = d.conf->api_token_file;
	ac.sync = daemon_sync;
	ac.status = daemon_status;
	ac.arg = &d;
	ac.hooks = d.hooks;
	if (api_new(&d.api, d.base, d.store, d.engine, &ac, &cause) != 0)
		fatalx("%s", cause);
	engine_set_log_hook(d.engine, api_run_changed, d.api);
	engine_set_phase_hook(d.engine, on_phase, &d);
	api_add_metrics(d.api, daemon_metrics, &d);
	if (reporter_new(&d.reporter, d.base, d.store, NULL, &cause) != 0)
		fatalx("%s", cause);
	for (i = 0; i < d.nrepos; i++) {
		const struct config_repo	*cr = &d.conf->repos[i];

		if (reporter_add(d.reporter, d.repos[i].store_id, cr->name,
		    cr->forge_kind, cr->forge_api_url, cr->forge_project,
		    cr->forge_token_file, &cause) != 0) {
			log_warnx("%s: forge: %s: nothing is reported to it",
			    cr->name, cause);
			free(cause);
		}
	}
	engine_set_run_hook(d.engine, on_run, &d);
	pulls_set_kick(d.pulls, kick_reporter, d.reporter);

	d.sighup = evsignal_new(d.base, SIGHUP, on_reload, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, on_stop, &d);
	d.sigint = evsignal_new(d.base, SIGINT, on_stop, &d);
	evsignal_add(d.sighup, NULL);
	evsignal_add(d.sigterm, NULL);
	evsignal_add(d.sigint, NULL);

	for (i = 0; i < d.nrepos; i++) {
		watch_start(d.repos[i].watch, d.repos[i].commit);
		if (d.repos[i].ledger != NULL)
			ledger_start(d.repos[i].ledger);
	}
	log_info("started: %zu repositories, state in %s%s%s",
	    d.nrepos, d.conf->state_dir,
	    d.conf->control_socket != NULL ? ", control socket " : "",
	    d.conf->control_socket != NULL ? d.conf->control_socket : "");
	notify("READY=1");
	notify_status(&d);
	watchdog_start(&d);
	{
		struct timeval hour = { 3600, 0 };

		on_prune(-1, 0, &d);
		d.prune = event_new(d.base, -1, EV_PERSIST, on_prune, &d);
		event_add(d.prune, &hour);
	}

	event_base_dispatch(d.base);

	log_info("stopped");
	api_free(d.api);
	hooks_free(d.hooks);
	engine_free(d.engine);
	pulls_free(d.pulls);
	reporter_free(d.reporter);
	for (i = 0; i < d.nrepos; i++) {
		ledger_free(d.repos[i].ledger);
		watch_free(d.repos[i].watch);
		workers_lane_free(d.repos[i].lane);
		free(d.repos[i].name);
		free(d.repos[i].commit);
	}
	free(d.repos);
	watch_hub_free(d.hub);
	workers_free(d.pool);
	git_libgit2_shutdown();
	store_close(d.store);
	proc_shutdown();
	event_free(d.sighup);
	event_free(d.sigterm);
	event_free(d.sigint);
	if (d.watchdog != NULL)
		event_free(d.watchdog);
	if (d.prune != NULL)
		event_free(d.prune);
	event_base_free(d.base);
	config_free(d.conf);
	free(d.conf_path);
	return (0);
}
