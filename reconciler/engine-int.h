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
	size_t			*rdep_off;	/* engine-touch.c: who needs */
	size_t			*rdep;		/* each deployment, lazily */
};

struct engine_repo {
	TAILQ_ENTRY(engine_repo) entry;
	struct engine		*e;
	char			*name;
	int64_t			 store_id;
	char			*mirror_dir;
	struct emodel		*cur;
	struct emodel		*prev;
	engine_release_cb	 release;
	void			*release_arg;
	char			*trigger;	/* of the last update */
	struct event		*retry_ev;
	int64_t			 next_retry;
	bool			 held;		/* until the first fetch */
	struct engine_memo	*memo;		/* fingerprints of the last pass */

	/* engine-touch.c: what the next pass visits. */
	bool			 whole;		/* every deployment and row */
	bool			 removals;	/* removed rows to settle */
	struct table		 touched;	/* names */
	struct table		 wake;		/* name -> int64_t, due (ms) */
	int64_t			 wake_next;	/* earliest of wake; 0: none */
	struct event		*wake_ev;
	int64_t			 wake_armed;	/* when wake_ev fires */
	struct table		 every_commit;	/* fingerprints with git.commit */
};

enum erun_state {
	ERUN_QUEUED,
	ERUN_RUNNING,
};

/* Why a plan runs (engine-plan.c). */
enum erun_purpose {
	ERUN_PLAIN,		/* as asked: an operator's plan, an apply */
	ERUN_GATE,		/* approval: manual, before an apply */
	ERUN_DRIFT,		/* a drift check */
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

	/* engine-plan.c */
	enum erun_purpose	 purpose;
	int64_t			 plan_run;	/* an apply of this stored plan */
	char			*plan_file;	/* its terraform plan file */
	/* A pull request's preview (engine-pull.c); 0: a run of the branch. */
	int64_t			 pull;
	engine_run_cb		 pull_cb;
	void			*pull_arg;
};

struct engine {
	struct event_base	*base;
	struct store		*store;
	struct engine_config	 cfg;
	char			*state_dir;
	char			*secrets_dir;
	char			*credentials_dir;
	unsigned char		*key;
	size_t			 keylen;
	TAILQ_HEAD(, engine_repo) repos;
	TAILQ_HEAD(erun_list, erun) runs;
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

	/* engine-drift.c */
	struct event		*drift_ev;
	int64_t			 drift_at;	/* when it fires; 0: not armed */
	int64_t			 started;	/* spreads checks overdue at start */
};

int64_t	 engine_now_ms(void);
int64_t	 engine_backoff_ms(struct engine *, int failures);
void	 engine_kick(struct engine *);
void	 engine_phase(struct engine *, int64_t dep_id, const char *name,
	    const char *phase, int64_t run, const char *reason,
	    const char *cause);
bool	 engine_busy(struct engine *, int64_t dep_id);
json_t	*engine_output(struct engine *, const struct store_deployment *,
	    const char *output);
int	 engine_secret(void *engine, const char *name, char **value,
	    char **cause);
struct emodel *emodel_ref(struct emodel *);
void	 engine_emodel_unref(struct emodel *);

struct erun *erun_new(struct engine_repo *, struct emodel *,
	    const struct deployment *, int64_t dep_id, int64_t id,
	    enum provider_action, const char *trigger,
	    const char *fingerprint, bool operator);
/* A preview's scratch state folder: a copy of the deployment's own. */
int	 erun_pull_state(const char *from, const char *to, char **cause);
int64_t	 erun_queue(struct engine_repo *, struct emodel *,
	    const struct deployment *, const struct store_deployment *,
	    enum provider_action, const char *trigger,
	    const char *fingerprint, const char *reason, bool operator);
void	 erun_start_queued(struct engine *);
void	 erun_abandon(struct erun *, const char *state, const char *cause);
void	 erun_free(struct erun *);
void	 erun_report(struct erun *, const char *state, const char *cause);
struct erun *erun_find(struct engine *, int64_t id);
int	 engine_fingerprint(struct engine_repo *, struct emodel *,
	    const struct deployment *, char fp[MODEL_FINGERPRINT_LEN + 1],
	    char **cause);

/* engine-plan.c: plans that wait for approval, applies of stored plans. */
void	 eplan_gate(struct engine_repo *, struct emodel *,
	    const struct deployment *, const struct store_deployment *,
	    const char *fingerprint, const char *trigger, const char *reason);
void	 eplan_settled(struct engine *, const struct store_deployment *);
int	 eplan_prepare(struct erun *, struct runner_settings *, char **cause);
bool	 eplan_finish(struct erun *, const struct store_deployment *,
	    const char *state, const char *cause);
int	 eplan_approve_prune(struct engine *, const struct store_deployment *,
	    char **cause);

/* engine-touch.c: what the next pass must look at. */
void	 etouch_init(struct engine_repo *);
void	 etouch_release(struct engine_repo *);
void	 etouch_emodel_free(struct emodel *);
void	 etouch_update(struct engine_repo *, const struct emodel *old,
	    const struct model *);
void	 etouch_run_ended(struct engine_repo *, const char *name);
void	 etouch_phase(struct engine *, const char *name, const char *phase);
void	 etouch_name(struct engine *, const char *name);
void	 etouch_whole(struct engine *);
void	 etouch_every_commit(struct engine_repo *, const struct deployment *);
void	 etouch_wake(struct engine_repo *, const char *name, int64_t at);
bool	 etouch_take(struct engine_repo *, int64_t now, size_t **, size_t *);

/* engine-drift.c: the drift check schedule. */
void	 edrift_init(struct engine *);
void	 edrift_free(struct engine *);
void	 edrift_pass(struct engine_repo *, struct emodel *,
	    const struct deployment *, const struct store_deployment *,
	    const char *fingerprint);

/* The runs of a deployment, indexed so that engine_busy is one lookup. */
void		 engine_busy_add(struct engine *, int64_t dep_id, int delta);

#endif
