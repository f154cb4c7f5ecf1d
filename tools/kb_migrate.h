/*
 * The migration runner's core, shared by build/kbmigrate (migrations/,
 * at deploy time) and the server's Migrations API (user migrations kept
 * in the database).  Blocking libpq: call it from a command-line tool or
 * a helper thread, never from a Kore event loop.
 *
 * Every migration runs in its own transaction together with the
 * statement that records it, under one cluster-wide advisory lock, so
 * concurrent runners (two servers, a server and kbmigrate) apply each
 * migration exactly once and never interleave.
 */

#ifndef KB_MIGRATE_H
#define KB_MIGRATE_H

#include <stddef.h>

#include <libpq-fe.h>

#define KB_MIGRATE_LOCK_KEY	"7262730414"
#define KB_MIGRATE_SUM_LEN	65		/* hex SHA-256 + NUL */

struct kb_migrate_err {
	char	message[1024];
	char	sqlstate[6];
};

/* Lower case hex SHA-256 of the SQL text, as recorded. */
int	kb_migrate_checksum(const char *sql, size_t len, char *out);

/* Take / release the runner's advisory lock (blocks until it is free). */
int	kb_migrate_lock(PGconn *, struct kb_migrate_err *);
int	kb_migrate_unlock(PGconn *);

/*
 * BEGIN; `sql` (any number of statements, simple protocol); `record` with
 * its parameters; COMMIT.  On any failure it rolls back, fills `err` and
 * returns -1: nothing of the migration stays.
 */
int	kb_migrate_step(PGconn *, const char *sql, const char *record,
	    int nparams, const char *const *values, struct kb_migrate_err *);

#endif /* !KB_MIGRATE_H */
