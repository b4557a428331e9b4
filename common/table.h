/*
 * A hash table from byte-string keys to pointers, with open addressing.
 * Keys are copied; values are borrowed (the table never frees them).  The
 * hash is seeded per process so that names taken from a Git repository
 * cannot be chosen to collide.
 */
#ifndef TABLE_H
#define TABLE_H

#include <stdbool.h>
#include <stddef.h>

struct table_slot {
	char	*key;
	size_t	 keylen;
	unsigned long long hash;
	void	*value;
};

struct table {
	struct table_slot	*slots;
	size_t			 size;	/* power of two, or 0 */
	size_t			 count;
};

void	 table_init(struct table *);
void	 table_release(struct table *);
/* Release, after passing every value to free_value (which takes NULL). */
void	 table_clear(struct table *, void (*free_value)(void *));
void	*table_get(const struct table *, const void *key, size_t keylen);
void	*table_gets(const struct table *, const char *key);
/* Sets key to value; returns the previous value or NULL. */
void	*table_put(struct table *, const void *key, size_t keylen, void *value);
void	*table_puts(struct table *, const char *key, void *value);

/* Iteration: for (i = 0; table_next(t, &i, &key, &value); ) */
bool	 table_next(const struct table *, size_t *, const char **, void **);

#endif
