/*
 * Inside the engine: shared by engine.c (passes, actions) and engine-run.c
 * (one run, from the queue to its end).
 */
#ifndef ENGINE_INT_H
#define ENGINE_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <git2.h>
#include <jansson.h>

#include "buf.h"
#include "engine.h"
#include "engine-memo.h"
#include "logcap.h"
#include "proc.h"
#include "provider.h"
#include "redact.h"
#include "recap.h"
#include "runner.h"
#include "tfjson.h"
#include "script.h"
#include "table.h"

/* A model and the commit it was read from, shared by the runs using it. */
struct emodel {
	struct model		*m;
	char			*commit;
	unsigned		 nref;
	bool			 complete;
	struct engine_repo	*repo;
};

struct engine_repo {
	TAILQ_ENTRY(engine_repo) entry;
	struct engine		*e;
	char			*name;
	int64_t			 store_id;
	char			*mirror_dir;
	git_repository		*git;		/* this thread's own handle */
	struct emodel		*cur;
	struct emodel		*prev;
	engine_release_cb	 release;
	void			*release_arg;
	char			*trigger;	/* of the last update */
	struct event		*retry_ev;
	int64_t			 next_retry;
	bool			 held;		/* until the first fetch */
	struct engine_memo	*memo;		/* fingerprints of the last pass */
};

enum erun_state {
	ERUN_QUEUED,
	ERUN_RUNNING,
};

struct erun {
	TAILQ_ENTRY(erun)	 entry;
	struct engine		*e;
	struct engine_repo	*repo;
	struct emodel		*em;		/* the deployment lives here */
	const struct deployment	*d;
	int64_t			 id;
	int64_t			 dep_id;
	char			*name;
	enum provider_action	 action;
	char			*trigger;
	char			*fingerprint;
	bool			 operator;	/* asked for, not superseded */
	enum erun_state		 state;

	struct proc		*proc;
	struct logcap		 cap;
	struct redact		*redact;
	struct buf		 pending;	/* log bytes not yet stored */
	struct event		*flush_ev;
	char			*rundir;
	char			*workdir;
	char			*statedir;
	json_t			*inputs;
	char			**env;
	size_t			 nenv;
	char			**secrets;
	size_t			 nsecrets;
	struct run_spec		 spec;
	struct runner		 runner;
	size_t			 step;		/* the one running */
	bool			 changes;	/* what the plan step said */
	int			 last_exit;
	struct buf		 captured;	/* a capture step's stdout */
	struct tfjson		 tf;		/* of the running step */
	struct recap		 recap;
	char			*summary;	/* of the plan (or apply) */
	char			*cancel_why;
	bool			 interrupted;
};

struct engine {
	struct event_base	*base;
	struct store		*store;
	struct engine_config	 cfg;
	char			*state_dir;
	char			*secrets_dir;
	unsigned char		*key;
	size_t			 keylen;
	TAILQ_HEAD(, engine_repo) repos;
	TAILQ_HEAD(, erun)	 runs;
	struct table		 busy;		/* dep_id -> runs queued or running */
	size_t			 running;
	struct event		*pass_ev;
	bool			 stopping;
	struct event		*stop_ev;
	void			(*stop_done)(void *);
	void			*stop_arg;
	engine_log_cb		 log_cb;
	void			*log_arg;
	engine_phase_cb		 phase_cb;
	void			*phase_arg;
	engine_run_cb		 run_cb;
	void			*run_arg;
};

int64_t	 engine_now_ms(void);
int64_t	 engine_backoff_ms(struct engine *, int failures);
void	 engine_kick(struct engine *);
void	 engine_phase(struct engine *, int64_t dep_id, const char *name,
	    const char *phase, int64_t run, const char *reason,
	    const char *cause);
bool	 engine_busy(struct engine *, int64_t dep_id);
int	 engine_secret(void *engine, const char *name, char **value);
struct emodel *emodel_ref(struct emodel *);
void	 engine_emodel_unref(struct emodel *);

int64_t	 erun_queue(struct engine_repo *, struct emodel *,
	    const struct deployment *, const struct store_deployment *,
	    enum provider_action, const char *trigger,
	    const char *fingerprint, const char *reason, bool operator);
void	 erun_start_queued(struct engine *);
void	 erun_abandon(struct erun *, const char *state, const char *cause);
void	 erun_free(struct erun *);
void	 erun_report(struct erun *, const char *state, const char *cause);

/* The runs of a deployment, indexed so that engine_busy is one lookup. */
void		 engine_busy_add(struct engine *, int64_t dep_id, int delta);

#endif
