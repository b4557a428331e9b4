/*
 * The store fixture of the unit tests that run on a real SQLite file (the
 * store, the ledger, the outbox, approvals): a fresh file in a temporary
 * folder with the repository "infra", a few helpers to seed it, and SQL
 * on the file itself for what the API does not show.
 */
#ifndef TESTUTIL_STORE_H
#define TESTUTIL_STORE_H

#include <stdint.h>

#include <sqlite3.h>

#include "store.h"
#include "testutil.h"

struct tu_store {
	char		*dir;
	char		*path;		/* dir/cloudsphere.db */
	struct store	*s;
	int64_t		 repo;		/* "infra" */
	int64_t		 dep;		/* "web", after tu_store_setup_web */
};

/* cmocka setup and teardown; *state is a struct tu_store. */
int	 tu_store_setup(void **state);
/* The same, with the deployment "web" of the repository in ->dep. */
int	 tu_store_setup_web(void **state);
int	 tu_store_teardown(void **state);
/* Close the store and open its file again. */
void	 tu_store_reopen(struct tu_store *);
/* The id of a deployment of the repository, created if new. */
int64_t	 tu_store_deployment(struct tu_store *, const char *name);

/* An entry of a cmocka test table with this fixture. */
#define TU_STORE_TEST(t)						\
	cmocka_unit_test_setup_teardown(t, tu_store_setup, tu_store_teardown)
#define TU_STORE_TEST_WEB(t)						\
	cmocka_unit_test_setup_teardown(t, tu_store_setup_web,		\
	    tu_store_teardown)

/* Direct access to a file; an SQLite error fails the test. */
sqlite3	*tu_db_open(const char *path);
void	 tu_db_exec(sqlite3 *, const char *sql);
/* Open the file, run the statements, close it. */
void	 tu_db_exec_file(const char *path, const char *sql);
/* The first column of the first row: -1 or NULL without a row. */
int64_t	 tu_db_int(sqlite3 *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
char	*tu_db_text(sqlite3 *, const char *sql);

#endif
