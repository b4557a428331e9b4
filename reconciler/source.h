/*
 * Where a config repository is read from: a directory on disk or a commit's
 * objects in a Git repository, behind one interface so that both give the
 * same model and the same fingerprints.  Paths are relative to the config
 * root ("" is the root itself) and never contain "." or ".." components.
 *
 * Every entry carries its Git object id, computed the way Git would for the
 * directory source, so that the model can cache parsed files by object id
 * and the fingerprint can name a blueprint by its tree id.
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include <git2.h>

#define SOURCE_MAX_LINKS	8	/* symlink hops followed */

enum source_type {
	SOURCE_FILE,
	SOURCE_EXEC,		/* a file with the executable bit */
	SOURCE_LINK,
	SOURCE_TREE,
	SOURCE_OTHER,		/* submodule, socket, device */
};

struct source_entry {
	char			*name;
	enum source_type	 type;
	git_oid			 oid;	/* zero for SOURCE_TREE of a directory */
};

struct source_list {
	struct source_entry	*v;
	size_t			 n;
};

struct source;

struct source_ops {
	const char	*kind;
	/* Entries of a folder, sorted by name.  -ENOENT, -ENOTDIR. */
	int		(*list)(struct source *, const char *path,
			    struct source_list *out);
	/* One entry, not following a final symlink.  -ENOENT. */
	int		(*lookup)(struct source *, const char *path,
			    struct source_entry *out);
	/* Contents of a file or a symlink's target text.  -EFBIG past max. */
	int		(*read)(struct source *, const char *path,
			    const git_oid *, size_t max, char **data,
			    size_t *len);
	/*
	 * Call fn for each entry of a folder, in list order, without copying
	 * them; a non-zero return from fn stops the walk and is returned.
	 * NULL where it would cost as much as list (a directory).
	 */
	int		(*walk)(struct source *, const char *path,
			    int (*fn)(void *, const char *name,
			    enum source_type, const git_oid *), void *arg);
	/* Git tree id of a folder. */
	int		(*tree_id)(struct source *, const char *path,
			    git_oid *out);
	void		(*free)(struct source *);
};

struct source {
	const struct source_ops	*ops;
	char			*commit;	/* hex commit id, or NULL */
	char			*desc;		/* for messages */
};

int	source_dir_open(struct source **out, const char *dir, char **cause);
int	source_git_open(struct source **out, const char *repo,
	    const char *rev, const char *path, char **cause);
int	source_git_new(struct source **out, git_repository *repo,
	    const git_oid *commit, const char *path, char **cause);
void	source_free(struct source *);

void	source_list_release(struct source_list *);
void	source_entry_release(struct source_entry *);

/*
 * Look up a path, following symlinks that stay inside the config root.  On
 * a link that leaves it, or a loop, returns -ELOOP with *cause.
 */
int	source_resolve(struct source *, const char *path,
	    struct source_entry *out, char **resolved, char **cause);
/*
 * Normalise a symlink's target relative to the folder holding the link.
 * Returns NULL if the target is absolute or leaves the root.
 */
char	*source_join(const char *dir, const char *target);

#endif
