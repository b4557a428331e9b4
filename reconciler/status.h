/*
 * A deployment's status as JSON, with the field names of DESIGN.md
 * section 7, for every place that shows it: the API, cloudspherectl
 * --json (through the API) and the ledger's status files.  One builder,
 * so that the names stay the same everywhere.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stdint.h>

#include <jansson.h>

#include "store.h"

/* RFC 3339 UTC, or null for 0 (never). */
json_t	*status_json_time(int64_t ms);
/* A string, or null. */
json_t	*status_json_str(const char *);
/* {id, action, result, exit_code, cause, started_at, finished_at} */
json_t	*status_json_last_run(const struct store_run *);
/* The deployment's plan waiting for approval, or null. */
json_t	*status_json_plan(struct store *, const struct store_deployment *);
/*
 * The whole deployment; last_run and outputs are stolen (NULL: null and
 * {}), the waiting plan is read from the store.
 */
json_t	*status_json_deployment(struct store *,
	    const struct store_deployment *, json_t *last_run,
	    json_t *outputs);

#endif
