/* Seeded open-addressing hash tables. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "table.h"
#include "xmalloc.h"

static unsigned long long	table_seed;
static bool			table_seeded;

static unsigned long long
table_hash(const void *key, size_t len)
{
	const unsigned char	*p = key;
	unsigned long long	 h;
	size_t			 i;

	if (!table_seeded) {
		if (getrandom(&table_seed, sizeof table_seed, GRND_NONBLOCK) !=
		    sizeof table_seed)
			table_seed = (unsigned long long)(uintptr_t)&table_seed;
		table_seeded = true;
	}
	/* FNV-1a over the seed then the key, with a final avalanche. */
	h = 0xcbf29ce484222325ULL ^ table_seed;
	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (h);
}

void
table_init(struct table *t)
{
	t->slots = NULL;
	t->size = 0;
	t->count = 0;
}

void
table_release(struct table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->size; i++)
		free(t->slots[i].key);
	free(t->slots);
	table_init(t);
}

void
table_clear(struct table *t, void (*free_value)(void *))
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->size; i++)
		if (t->slots[i].key != NULL && free_value != NULL)
			free_value(t->slots[i].value);
	table_release(t);
}

static struct table_slot *
table_find(const struct table *t, const void *key, size_t len,
    unsigned long long h)
{
	size_t	i, mask = t->size - 1;

	for (i = h & mask;; i = (i + 1) & mask) {
		struct table_slot *s = &t->slots[i];

		if (s->key == NULL)
			return (s);
		if (s->hash == h && s->keylen == len &&
		    memcmp(s->key, key, len) == 0)
			return (s);
	}
}

static void
table_grow(struct table *t)
{
	struct table_slot	*old = t->slots;
	size_t			 oldsize = t->size, i;

	t->size = oldsize == 0 ? 16 : oldsize * 2;
	t->slots = xcalloc(t->size, sizeof *t->slots);
	for (i = 0; i < oldsize; i++) {
		if (old[i].key != NULL)
			*table_find(t, old[i].key, old[i].keylen, old[i].hash) =
			    old[i];
	}
	free(old);
}

void *
table_get(const struct table *t, const void *key, size_t len)
{
	struct table_slot	*s;

	if (t->size == 0)
		return (NULL);
	s = table_find(t, key, len, table_hash(key, len));
	return (s->key != NULL ? s->value : NULL);
}

void *
table_gets(const struct table *t, const char *key)
{
	return (table_get(t, key, strlen(key)));
}

void *
table_put(struct table *t, const void *key, size_t len, void *value)
{
	struct table_slot	*s;
	unsigned long long	 h = table_hash(key, len);
	void			*prev;

	if (t->size == 0 || (t->count + 1) * 4 > t->size * 3)
		table_grow(t);
	s = table_find(t, key, len, h);
	if (s->key != NULL) {
		prev = s->value;
		s->value = value;
		return (prev);
	}
	s->key = xmalloc(len + 1);
	memcpy(s->key, key, len);
	s->key[len] = '\0';
	s->keylen = len;
	s->hash = h;
	s->value = value;
	t->count++;
	return (NULL);
}

void *
table_puts(struct table *t, const char *key, void *value)
{
	return (table_put(t, key, strlen(key), value));
}

bool
table_next(const struct table *t, size_t *i, const char **key, void **value)
{
	for (; *i < t->size; (*i)++) {
		if (t->slots[*i].key != NULL) {
			if (key != NULL)
				*key = t->slots[*i].key;
			if (value != NULL)
				*value = t->slots[*i].value;
			(*i)++;
			return (true);
		}
	}
	return (false);
}
