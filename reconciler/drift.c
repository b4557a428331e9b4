/*
 * The drift check schedule: interval, then a jitter that depends only on
 * the deployment and its last check.
 */
#include "config.h"

#include "drift.h"

/* splitmix64: a cheap, well-spread mix; nothing here needs secrecy. */
static uint64_t
drift_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

int64_t
drift_jitter(int64_t id, int64_t base, int64_t span)
{
	if (span <= 0)
		return (0);
	return ((int64_t)(drift_mix((uint64_t)id ^
	    drift_mix((uint64_t)base)) % (uint64_t)span));
}

static int64_t
drift_min(int64_t a, int64_t b)
{
	return (a < b ? a : b);
}

int64_t
drift_next(int64_t last, long interval, int64_t id, int64_t started)
{
	int64_t	ms, next;

	if (interval <= 0)
		return (DRIFT_NEVER);
	ms = (int64_t)interval * 1000;
	if (last > 0) {
		next = last + ms + drift_jitter(id, last,
		    drift_min(ms / 10, DRIFT_JITTER_MAX_MS));
		if (next >= started)
			return (next);
	}
	/* Due while the daemon was not running, or never checked. */
	return (started + drift_jitter(id, started,
	    drift_min(ms / 10, DRIFT_STARTUP_SPREAD_MS)));
}
