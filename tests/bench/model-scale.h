/*
 * What the files of model-scale share (the program is described in
 * model-scale.c): the generated repository, the figures each measuring
 * child sends back, and the helpers all of them use.
 *
 *	model-scale.c		options, one child per measurement, the tables
 *	model-scale-repo.c	the generated repository (git fast-import)
 *	model-scale-load.c	the model loads, Git source and cache
 *	model-scale-engine.c	the reconcile decision through the engine (-e)
 */
#ifndef MODEL_SCALE_H
#define MODEL_SCALE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include <git2.h>

#define MAX_REPEATS	101
/* The input of one deployment that the second commit changes. */
#define CHANGED_INPUT	"size"
#define CHANGED_VALUE	4242

struct model;

/* A generated repository: two commits, n deployments. */
struct repo {
	char	 dir[PATH_MAX - 64];	/* temp dir */
	char	 git[PATH_MAX];		/* bare repository */
	char	 c1[GIT_OID_HEXSZ + 1];
	char	 c2[GIT_OID_HEXSZ + 1];
	char	 changed[32];		/* deployment changed by c2 */
	size_t	 n;
	double	 gen_ms;
	unsigned long long bytes;
};

/* The model loads of one size (model-scale-load.c). */
enum { ST_FULL, ST_FIRST, ST_CHANGE, ST_NOCHANGE, ST_N };

struct result {
	int	ok;
	size_t	repeats;
	double	full_ms;
	double	change_ms;		/* median: new tree a pack delta */
	double	change_min, change_max;
	double	change_whole_ms;	/* median: new tree stored whole */
	unsigned long tree_deltas;	/* trees the tree cache rebuilt */
	double	nochange_ms;		/* median */
	double	tree_ms;		/* median: read deployments/ alone */
	double	free_ms;		/* model_free of a whole model */
	long	base_rss_kb;		/* at the start of the child */
	long	rss_after_full_kb;
	size_t	stats[ST_N][3];		/* parsed, reused, relinked */
	bool	stats_stable[ST_N];	/* same figures at every load */
};

/* The reconcile decision of one size (model-scale-engine.c). */
struct eresult {
	int	ok;
	double	first_ms;		/* load + pass until the N-th queued */
	double	first_load_ms;		/* the model load alone in it */
	double	first_pass_ms;		/* the whole first pass */
	size_t	first_queued;
	double	populate_ms;
	double	nochange_ms;		/* a pass over commit 1 again */
	size_t	nochange_queued;
	double	decision_ms;		/* median: load + pass to the queued run */
	double	decision_min, decision_max;
	double	load_ms;		/* median: the model load alone */
	double	pass_ms;		/* median: the whole pass */
	double	decision_whole_ms;	/* the same, new tree stored whole */
	double	load_whole_ms;
	size_t	queued_min, queued_max;	/* per change */
	size_t	failed;			/* runs that did not succeed */
	size_t	repeats;
};

/* model-scale.c */
extern bool	 quiet;		/* -q: only the tables */
void		 die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
double		 now_ms(void);
double		 median(const double *, size_t);
/* The smallest and the largest of n > 0 figures. */
void		 minmax(const double *, size_t n, double *min, double *max);
/*
 * Fork and call fn(arg, out) in the child; the size bytes it leaves in
 * out come back through a pipe into res.  True if the child exited 0 and
 * sent them all; *status is its wait status, *maxrss_kb its peak RSS.
 */
bool		 child_measure(void (*fn)(const void *arg, void *out),
		    const void *arg, void *res, size_t size, int *status,
		    long *maxrss_kb);

/* model-scale-repo.c */
void		 repo_generate(struct repo *, size_t n);
/* cloudspherectl validate on both commits; dies unless they are valid. */
void		 repo_validate(const struct repo *, const char *ctl);
void		 repo_remove(const struct repo *);
/* Where cloudspherectl is: $CLOUDSPHERECTL, the build tree, or $PATH. */
char		*ctl_find(const char *argv0);

/* model-scale-load.c */
/* Trees load_model's timed loads rebuilt from a pack delta. */
extern unsigned long g_tree_deltas;
/*
 * Before a timed load: leave in the tree cache only the deployments/ tree
 * of the commit load_model loaded last, as the daemon's holds it.
 */
void		 load_hold(void);
/* Open the repository and a new model cache for load_model. */
void		 load_open(const struct repo *);
/* One load: source_git_new + model_load, timed. */
struct model	*load_model(const char *hex, const struct model *prev,
		    double *ms);
/* The model loads of r, in a child; dies if they fail. */
void		 load_measure_child(const struct repo *, size_t repeats,
		    struct result *, long *maxrss_kb);

/* model-scale-engine.c */
/* which 0: the first load; 1: the one-change decisions; in a child. */
void		 ebench_measure_child(const struct repo *, size_t repeats,
		    int which, struct eresult *, long *maxrss_kb);

#endif
