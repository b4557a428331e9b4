/*
 * A deployment's status as JSON (status.h): the shape the API answers
 * and the ledger writes.
 */
#include "config.h"

#include <stddef.h>

#include "status.h"

json_t *
status_json_time(int64_t ms)
{
	char	buf[32];

	if (ms <= 0)
		return (json_null());
	store_time_format(ms, buf);
	return (json_string(buf));
}

json_t *
status_json_str(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

json_t *
status_json_last_run(const struct store_run *r)
{
	return (json_pack("{sI ss* ss* so ss* so so}",
	    "id", (json_int_t)r->id, "action", r->action,
	    "result", r->state,
	    "exit_code", r->exit_code >= 0 ? json_integer(r->exit_code) :
	    json_null(),
	    "cause", r->cause,
	    "started_at", status_json_time(r->started_at),
	    "finished_at", status_json_time(r->finished_at)));
}

json_t *
status_json_plan(struct store *s, const struct store_deployment *d)
{
	struct store_run	 run;
	int64_t			 id;
	json_t			*o;

	if (store_plan_waiting(s, d->id, &id) != 0 ||
	    store_run_get(s, id, &run) != 0)
		return (json_null());
	o = json_pack("{sI ss* ss* ss* ss* so}", "id", (json_int_t)run.id,
	    "trigger", run.trigger, "commit", run.commit,
	    "fingerprint", run.fingerprint, "summary", run.summary,
	    "finished_at", status_json_time(run.finished_at));
	store_run_release(&run);
	return (o != NULL ? o : json_null());
}

json_t *
status_json_deployment(struct store *s, const struct store_deployment *d,
    json_t *last_run, json_t *outputs)
{
	return (json_pack("{ss ss* ss ss* ss* sb s{so so} s{so so so} ss* so so so}",
	    "name", d->name, "repository", d->repository, "phase", d->phase,
	    "blueprint", d->blueprint, "environment", d->environment,
	    "suspended", d->suspended || d->operator_suspended,
	    "desired", "commit", status_json_str(d->desired_commit),
	    "fingerprint", status_json_str(d->desired_fingerprint),
	    "applied", "commit", status_json_str(d->applied_commit),
	    "fingerprint", status_json_str(d->applied_fingerprint),
	    "at", status_json_time(d->applied_at),
	    "cause", d->cause,
	    "last_run", last_run != NULL ? last_run : json_null(),
	    "outputs", outputs != NULL ? outputs : json_object(),
	    "plan", status_json_plan(s, d)));
}
