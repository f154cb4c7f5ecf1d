/*
 * The migration runner's core (see kb_migrate.h).
 */

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/evp.h>

#include "kb_migrate.h"

static int	exec_ok(PGconn *, const char *, int, const char *const *,
		    struct kb_migrate_err *);

int
kb_migrate_checksum(const char *sql, size_t len, char *out)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen, i;

	if (!EVP_Digest(sql, len, md, &mdlen, EVP_sha256(), NULL))
		return (-1);
	for (i = 0; i < mdlen; i++)
		(void)snprintf(out + i * 2, 3, "%02x", md[i]);
	return (0);
}

static int
exec_ok(PGconn *pg, const char *sql, int n, const char *const *vals,
    struct kb_migrate_err *err)
{
	PGresult	*r;
	const char	*state;
	int		 ok;

	r = n ? PQexecParams(pg, sql, n, NULL, vals, NULL, NULL, 0) :
	    PQexec(pg, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok && err != NULL) {
		(void)snprintf(err->message, sizeof(err->message), "%s",
		    r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
		    PQresultErrorMessage(r) : PQerrorMessage(pg));
		err->message[strcspn(err->message, "\n")] = '\0';
		state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) :
		    NULL;
		(void)snprintf(err->sqlstate, sizeof(err->sqlstate), "%s",
		    state != NULL ? state : "");
	}
	PQclear(r);
	return (ok ? 0 : -1);
}

int
kb_migrate_lock(PGconn *pg, struct kb_migrate_err *err)
{
	return (exec_ok(pg, "SELECT pg_advisory_lock(" KB_MIGRATE_LOCK_KEY ")",
	    0, NULL, err));
}

int
kb_migrate_unlock(PGconn *pg)
{
	return (exec_ok(pg, "SELECT pg_advisory_unlock("
	    KB_MIGRATE_LOCK_KEY ")", 0, NULL, NULL));
}

int
kb_migrate_step(PGconn *pg, const char *sql, const char *record,
    int nparams, const char *const *values, struct kb_migrate_err *err)
{
	if (exec_ok(pg, "BEGIN", 0, NULL, err) == -1)
		return (-1);
	if (exec_ok(pg, sql, 0, NULL, err) == -1 ||
	    (record != NULL && exec_ok(pg, record, nparams, values,
	    err) == -1) ||
	    exec_ok(pg, "COMMIT", 0, NULL, err) == -1) {
		(void)exec_ok(pg, "ROLLBACK", 0, NULL, NULL);
		return (-1);
	}
	return (0);
}
