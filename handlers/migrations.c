/*
 * The Migrations API (reference 000: Migrations): user migrations stored
 * in kb_migrations (migrations/0011_user_migrations.sql) and applied by
 * the same runner as migrations/ (tools/kb_migrate.c).
 *
 * Storing, listing and reading are ordinary statements on the pool.
 * Applying and rolling back run arbitrary, possibly long, multi-statement
 * SQL, which the pool's pipelined connections cannot carry (the simple
 * query protocol is not allowed in a pipeline) and which must not hold a
 * pooled connection: they run on a helper thread (kb_work) with a
 * connection of their own, under the runner's advisory lock, so they
 * never block the event loop and never interleave with each other or
 * with build/kbmigrate.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "kb_migrate.h"
#include "common.h"

#define MIGRATION_JSON(m)						\
	"json_build_object('name', " m ".name, 'description', "		\
	m ".description, 'up_sql', " m ".up_sql, 'down_sql', "		\
	m ".down_sql, 'status', " m ".status, 'checksum', " m ".checksum,"	\
	" 'created_at', " TS(m ".created_at") ", 'applied_at', "	\
	TS(m ".applied_at") ", 'error', " m ".error)"

#define CHECKSUM(sql)							\
	"encode(sha256(convert_to(" sql ", 'UTF8')), 'hex')"

/* $1 actor, $2 request id, $3 client address, $4 key id. */
#define AUDIT(action, src)						\
	"INSERT INTO audit_log (actor_id, action, target, request_id,"	\
	" client_addr, key_id) SELECT $1::uuid, '" action "', name, $2, $3,"	\
	" $4::uuid FROM " src

static struct kb_stmt list_migrations = KB_STMT_RO(
	PAGE("SELECT count(*) FROM kb_migrations", MIGRATION_JSON("m"),
	"FROM kb_migrations m ORDER BY m.name", "$1", "$2"));

static struct kb_stmt get_migration = KB_STMT_RO(
	"SELECT " MIGRATION_JSON("m") "::text FROM kb_migrations m"
	" WHERE m.name = $1");

/* $5 name, $6 up, $7 down, $8 description. */
static struct kb_stmt create_migration = KB_STMT(
	"WITH m AS (INSERT INTO kb_migrations (name, up_sql, down_sql,"
	"  description, checksum, created_by) VALUES ($5, $6, $7, $8, "
	CHECKSUM("$6::text") ", $1::uuid) ON CONFLICT (name) DO NOTHING"
	"  RETURNING *),"
	" a AS (" AUDIT("migration.create", "m") ")"
	" SELECT " MIGRATION_JSON("m") "::text FROM m");

/*
 * $5 the migrations (JSON array).  Stores new ones, replaces pending ones
 * whose SQL changed, leaves identical ones alone; refuses the whole batch
 * (stores nothing) if it changes an applied one or names one twice.  One
 * row: changed-but-applied names, duplicate names, names stored.
 */
static struct kb_stmt sync_migrations = KB_STMT(
	"WITH input AS (SELECT x.name, x.up_sql, x.down_sql, x.description, "
	CHECKSUM("x.up_sql") " AS checksum FROM jsonb_to_recordset($5::jsonb)"
	"  AS x(name text, up_sql text, down_sql text, description text)),"
	" changed AS (SELECT i.name FROM input i JOIN kb_migrations m"
	"  USING (name) WHERE m.status = 'applied'"
	"  AND m.checksum <> i.checksum),"
	" dup AS (SELECT name FROM input GROUP BY name HAVING count(*) > 1),"
	" s AS (INSERT INTO kb_migrations (name, up_sql, down_sql,"
	"  description, checksum, created_by) SELECT name, up_sql, down_sql,"
	"  description, checksum, $1::uuid FROM input WHERE NOT EXISTS"
	"  (SELECT 1 FROM changed) AND NOT EXISTS (SELECT 1 FROM dup)"
	"  ON CONFLICT (name) DO UPDATE SET up_sql = EXCLUDED.up_sql,"
	"  down_sql = EXCLUDED.down_sql, description = EXCLUDED.description,"
	"  checksum = EXCLUDED.checksum, status = 'pending', error = NULL"
	"  WHERE kb_migrations.status <> 'applied'"
	"  AND kb_migrations.checksum <> EXCLUDED.checksum RETURNING name),"
	" a AS (" AUDIT("migration.sync", "s") ")"
	" SELECT (SELECT coalesce(json_agg(name ORDER BY name), '[]')"
	"  FROM changed)::text, (SELECT coalesce(json_agg(name ORDER BY name),"
	"  '[]') FROM dup)::text, (SELECT coalesce(json_agg(name ORDER BY"
	"  name), '[]') FROM s)::text");

/* Work for the helper thread. */
enum mjob_kind {
	MJOB_APPLY,
	MJOB_APPLY_PENDING,
	MJOB_ROLLBACK
};

struct mjob {
	enum mjob_kind	 kind;
	char		*name;		/* MJOB_APPLY, MJOB_ROLLBACK */
	char		*audit[4];	/* actor, request id, address, key */
	json_t		*stored;	/* sync: names stored, or NULL */
	/* The answer, made on the thread. */
	int		 status;
	const char	*code;
	char		 message[1100];
	char		 log[1100];	/* logged back on the event loop */
	json_t		*body;
};

static void	one_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	create_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	sync_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	mjob_start(struct kb_ctx *, enum mjob_kind, const char *,
		    json_t *);
static void	mjob_run(void *);
static void	mjob_done(struct kb_ctx *, void *);

/* The audit parameters: actor, request id, client address, key id. */
static void
audit_params(struct kb_ctx *ctx, const char **v)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	v[0] = c->sub;
	v[1] = kb_ctx_request_id(ctx);
	v[2] = kb_ctx_client_addr(ctx);
	v[3] = c->key_id;
}

void
kbh_listMigrations(struct kb_ctx *ctx, const struct kbg_listMigrations_in *in)
{
	char		 lim[24], off[24];
	const char	*v[2] = { lim, off };
	int64_t		 offset = in->has_offset ? in->offset : 0;

	(void)snprintf(lim, sizeof(lim), "%" PRId64,
	    in->has_limit ? in->limit : 100);
	(void)snprintf(off, sizeof(off), "%" PRId64, offset);
	kb_db_query_page(ctx, &list_migrations, 2, v, offset,
	    in->has_Prefer ? in->Prefer : NULL);
}

void
kbh_getMigration(struct kb_ctx *ctx, const struct kbg_getMigration_in *in)
{
	const char	*v[1] = { in->name };

	kb_db_query(ctx, &get_migration, 1, v, one_done, NULL);
}

static void
one_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such migration");
}

void
kbh_createMigration(struct kb_ctx *ctx, const struct kbg_createMigration_in *in)
{
	const struct kbg_MigrationCreateRequest	*b = in->body;
	const char	*v[8];

	audit_params(ctx, v);
	v[4] = b->name;
	v[5] = b->up_sql;
	v[6] = b->has_down_sql ? b->down_sql : NULL;
	v[7] = b->has_description ? b->description : NULL;
	kb_db_query(ctx, &create_migration, 8, v, create_done, NULL);
}

static void
create_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!kb_db_respond_row(ctx, r, 201))
		kb_respond_error(ctx, 409, "MIGRATION_EXISTS",
		    "a migration with this name already exists; sync changes "
		    "a pending one");
}

void
kbh_syncMigrations(struct kb_ctx *ctx, const struct kbg_syncMigrations_in *in)
{
	const char	*v[5];
	char		*list;
	int		*apply;

	list = json_dumps(json_object_get(in->body_json, "migrations"),
	    JSON_COMPACT);
	if (list == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	apply = kb_ctx_alloc(ctx, sizeof(*apply));
	*apply = in->body->has_apply && in->body->apply;
	audit_params(ctx, v);
	v[4] = list;
	kb_db_query(ctx, &sync_migrations, 5, v, sync_done, apply);
	free(list);
}

static void
sync_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	json_t		*changed, *dup, *stored, *o;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	changed = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
	dup = json_loads(PQgetvalue(r->res, 0, 1), 0, NULL);
	stored = json_loads(PQgetvalue(r->res, 0, 2), 0, NULL);
	if (changed == NULL || dup == NULL || stored == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "bad sync result");
	} else if (json_array_size(dup) > 0) {
		kb_respond_error(ctx, 400, "VALIDATION_FAILED", "the batch names "
		    "%s more than once", json_string_value(json_array_get(dup,
		    0)));
	} else if (json_array_size(changed) > 0) {
		kb_respond_error(ctx, 409, "MIGRATION_CHANGED", "%s was already "
		    "applied and its up_sql differs; add a new migration "
		    "instead (nothing of this batch was stored)",
		    json_string_value(json_array_get(changed, 0)));
	} else if (*(int *)arg) {
		mjob_start(ctx, MJOB_APPLY_PENDING, NULL, json_incref(stored));
	} else {
		o = json_object();
		json_object_set(o, "stored", stored);
		json_object_set_new(o, "applied", json_array());
		json_object_set_new(o, "failed", json_null());
		kb_respond_json(ctx, 200, o);
	}
	json_decref(changed);
	json_decref(dup);
	json_decref(stored);
}

void
kbh_applyMigration(struct kb_ctx *ctx, const struct kbg_applyMigration_in *in)
{
	mjob_start(ctx, MJOB_APPLY, in->name, NULL);
}

void
kbh_applyPendingMigrations(struct kb_ctx *ctx,
    const struct kbg_applyPendingMigrations_in *in)
{
	mjob_start(ctx, MJOB_APPLY_PENDING, NULL, NULL);
}

void
kbh_rollbackMigration(struct kb_ctx *ctx,
    const struct kbg_rollbackMigration_in *in)
{
	mjob_start(ctx, MJOB_ROLLBACK, in->name, NULL);
}

/* ---- the helper thread ---- */

static char *
xstrdup(const char *s)
{
	return (s != NULL ? strdup(s) : NULL);
}

static void
mjob_free(struct mjob *j)
{
	size_t	i;

	free(j->name);
	for (i = 0; i < 4; i++)
		free(j->audit[i]);
	json_decref(j->stored);
	json_decref(j->body);
	free(j);
}

static void
mjob_start(struct kb_ctx *ctx, enum mjob_kind kind, const char *name,
    json_t *stored)
{
	struct mjob	*j;
	const char	*v[4];
	size_t		 i;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		json_decref(stored);
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	j->kind = kind;
	j->name = xstrdup(name);
	j->stored = stored;
	audit_params(ctx, v);
	for (i = 0; i < 4; i++)
		j->audit[i] = xstrdup(v[i]);
	if (kb_work(ctx, mjob_run, mjob_done, j) == -1) {
		mjob_free(j);
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "the server is busy, try again shortly");
	}
}

static void
mjob_fail(struct mjob *j, int status, const char *code, const char *fmt,
    const char *arg)
{
	j->status = status;
	j->code = code;
	(void)snprintf(j->message, sizeof(j->message), fmt, arg);
}

/* Run a query on the thread's connection; NULL (and j answered) on error. */
static PGresult *
mjob_query(struct mjob *j, PGconn *pg, const char *sql, int n,
    const char *const *v)
{
	PGresult	*r;

	r = PQexecParams(pg, sql, n, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK &&
	    PQresultStatus(r) != PGRES_COMMAND_OK) {
		(void)snprintf(j->log, sizeof(j->log), "%s",
		    PQresultErrorMessage(r));
		mjob_fail(j, 503, "SERVICE_UNAVAILABLE",
		    "the database is unavailable%s", "");
		PQclear(r);
		return (NULL);
	}
	return (r);
}

#define RECORD(status_sql, action)					\
	"WITH u AS (UPDATE kb_migrations SET " status_sql		\
	" WHERE name = $1 RETURNING name),"				\
	" a AS (INSERT INTO audit_log (actor_id, action, target,"	\
	" request_id, client_addr, key_id) SELECT $2::uuid, '" action	\
	"', name, $3, $4, $5::uuid FROM u) SELECT 1"

/*
 * Apply (or roll back) one migration with the runner.  Returns 0, or -1
 * with the failure recorded in kb_migrations and in `err`.
 */
static int
mjob_step(struct mjob *j, PGconn *pg, const char *name, const char *sql,
    int rollback, struct kb_migrate_err *err)
{
	const char	*v[5] = { name, j->audit[0], j->audit[1], j->audit[2],
			    j->audit[3] };
	const char	*f[3];
	PGresult	*r;

	if (kb_migrate_step(pg, sql, rollback ?
	    RECORD("status = 'rolled_back', rolled_back_at = now(),"
	    " error = NULL, sqlstate = NULL", "migration.rollback") :
	    RECORD("status = 'applied', applied_at = now(), error = NULL,"
	    " sqlstate = NULL", "migration.apply"), 5, v, err) == 0)
		return (0);
	f[0] = name;
	f[1] = err->message;
	f[2] = err->sqlstate;
	r = PQexecParams(pg, "UPDATE kb_migrations SET status = CASE WHEN"
	    " status = 'applied' THEN status ELSE 'failed' END, error = $2,"
	    " sqlstate = $3 WHERE name = $1", 3, NULL, f, NULL, NULL, 0);
	PQclear(r);
	return (-1);
}

/* The migration's row as JSON, for the answer. */
static void
mjob_answer_row(struct mjob *j, PGconn *pg, const char *name)
{
	const char	*v[1] = { name };
	PGresult	*r;

	if ((r = mjob_query(j, pg, "SELECT " MIGRATION_JSON("m") "::text"
	    " FROM kb_migrations m WHERE m.name = $1", 1, v)) == NULL)
		return;
	if (PQntuples(r) == 1) {
		j->status = 200;
		j->body = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
	}
	PQclear(r);
}

static void
mjob_one(struct mjob *j, PGconn *pg)
{
	struct kb_migrate_err	 err;
	const char		*v[1] = { j->name }, *st;
	PGresult		*r;
	int			 rollback = j->kind == MJOB_ROLLBACK;

	if ((r = mjob_query(j, pg, "SELECT m.status, m.up_sql, m.down_sql,"
	    " m.name = (SELECT name FROM kb_migrations WHERE status ="
	    " 'applied' ORDER BY applied_at DESC, name DESC LIMIT 1)"
	    " FROM kb_migrations m WHERE m.name = $1", 1, v)) == NULL)
		return;
	if (PQntuples(r) != 1) {
		mjob_fail(j, 404, "NOT_FOUND", "no migration named %s",
		    j->name);
		goto out;
	}
	st = PQgetvalue(r, 0, 0);
	if (!rollback && strcmp(st, "applied") == 0) {
		mjob_fail(j, 409, "MIGRATION_APPLIED", "%s is already applied",
		    j->name);
		goto out;
	}
	if (rollback && strcmp(st, "applied") != 0) {
		mjob_fail(j, 409, "MIGRATION_NOT_APPLIED", "%s is not applied",
		    j->name);
		goto out;
	}
	if (rollback && strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
		mjob_fail(j, 409, "MIGRATION_NOT_LATEST", "only the most "
		    "recently applied migration can be rolled back, not %s",
		    j->name);
		goto out;
	}
	if (rollback && PQgetisnull(r, 0, 2)) {
		mjob_fail(j, 409, "MIGRATION_NO_DOWN", "%s has no down_sql",
		    j->name);
		goto out;
	}
	if (mjob_step(j, pg, j->name, PQgetvalue(r, 0, rollback ? 2 : 1),
	    rollback, &err) == -1) {
		j->status = 400;
		j->code = "MIGRATION_FAILED";
		(void)snprintf(j->message, sizeof(j->message),
		    "%s failed and was rolled back: %s (SQLSTATE %s)",
		    j->name, err.message, err.sqlstate);
		goto out;
	}
	mjob_answer_row(j, pg, j->name);
out:
	PQclear(r);
}

static void
mjob_pending(struct mjob *j, PGconn *pg)
{
	struct kb_migrate_err	 err;
	PGresult		*r;
	json_t			*applied, *failed;
	int			 i;

	if ((r = mjob_query(j, pg, "SELECT name, up_sql FROM kb_migrations"
	    " WHERE status <> 'applied' ORDER BY name", 0, NULL)) == NULL)
		return;
	applied = json_array();
	failed = json_null();
	for (i = 0; i < PQntuples(r); i++) {
		if (mjob_step(j, pg, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    0, &err) == -1) {
			json_decref(failed);
			failed = json_pack("{s:s, s:s, s:s}", "name",
			    PQgetvalue(r, i, 0), "error", err.message,
			    "sqlstate", err.sqlstate);
			break;
		}
		json_array_append_new(applied,
		    json_string(PQgetvalue(r, i, 0)));
	}
	PQclear(r);
	j->status = 200;
	j->body = json_pack("{s:O, s:o, s:o}", "stored",
	    j->stored != NULL ? j->stored : json_array(), "applied", applied,
	    "failed", failed);
}

static void
mjob_run(void *arg)
{
	struct mjob		*j = arg;
	struct kb_migrate_err	 err;
	PGconn			*pg;

	pg = PQconnectdb(kb_config.database_url);
	if (PQstatus(pg) != CONNECTION_OK) {
		(void)snprintf(j->log, sizeof(j->log), "%s",
		    PQerrorMessage(pg));
		mjob_fail(j, 503, "SERVICE_UNAVAILABLE",
		    "the database is unavailable%s", "");
		PQfinish(pg);
		return;
	}
	if (kb_migrate_lock(pg, &err) == -1) {
		mjob_fail(j, 503, "SERVICE_UNAVAILABLE",
		    "the database is unavailable%s", "");
		PQfinish(pg);
		return;
	}
	if (j->kind == MJOB_APPLY_PENDING)
		mjob_pending(j, pg);
	else
		mjob_one(j, pg);
	(void)kb_migrate_unlock(pg);
	PQfinish(pg);
}

static void
mjob_done(struct kb_ctx *ctx, void *arg)
{
	struct mjob	*j = arg;

	if (j->log[0] != '\0') {
		j->log[strcspn(j->log, "\n")] = '\0';
		kb_log("warning", "migrations: %s", j->log);
	}
	if (ctx != NULL) {
		if (j->status == 200 && j->body != NULL) {
			kb_respond_json(ctx, 200, j->body);
			j->body = NULL;
		} else if (j->status != 0 && j->status != 200) {
			if (j->status == 503)
				kb_header_set(ctx, "Retry-After", "1");
			kb_respond_error(ctx, j->status, j->code, "%s",
			    j->message);
		} else {
			kb_respond_error(ctx, 500, "INTERNAL",
			    "the migration runner failed");
		}
	}
	mjob_free(j);
}
