/*
 * The SQL endpoint, POST /api/v1/sql (in the spirit of reference 003's
 * POST /v1/api/sql and reference 001's POST /v1/sql): one statement with
 * bound parameters, answered as {columns, rows, row_count, duration_ms}.
 *
 * The spec lets only service keys (scope sql:execute) and instance
 * administrators call it; the statement runs as the caller's database
 * role (service_role) in a transaction group of its own, under a
 * statement timeout (KB_SQL_TIMEOUT_MS), with request.jwt.claims set.
 * The extended protocol carries exactly one statement, so a batch
 * ("SELECT 1; DROP ...") is refused by PostgreSQL itself (42601).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"

#define SQL_MAX_PARAMS		100

/* Built-in type OIDs (pg_type.h) the answer renders natively. */
#define OID_BOOL	16
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_OID		26
#define OID_JSON	114
#define OID_FLOAT4	700
#define OID_FLOAT8	701
#define OID_NUMERIC	1700
#define OID_JSONB	3802

struct sql_run {
	uint64_t	 start_us;
	char		*answer;	/* JSON text, waiting for type names */
	Oid		*oids;		/* of each column */
};

static void	sql_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	sql_types_done(struct kb_ctx *, struct kb_db_result *, void *);
static json_t	*sql_answer(struct kb_ctx *, struct sql_run *, PGresult *);

static struct kb_stmt type_names = KB_STMT_RO(
	"SELECT coalesce(json_object_agg(t.oid::text,"
	" format_type(t.oid, NULL)), '{}')::text FROM pg_type t"
	" WHERE t.oid = ANY ($1::oid[])");

/* A JSON parameter as the text PostgreSQL gets (NULL for null). */
static const char *
param_text(struct kb_ctx *ctx, json_t *v)
{
	char	*s, *copy;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return (NULL);
	case JSON_STRING:
		return (json_string_value(v));
	case JSON_TRUE:
		return ("true");
	case JSON_FALSE:
		return ("false");
	default:
		if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) ==
		    NULL)
			return (NULL);
		copy = kb_ctx_strdup(ctx, s);
		free(s);
		return (copy);
	}
}

void
kbh_runSql(struct kb_ctx *ctx, const struct kbg_runSql_in *in)
{
	struct kb_db_step	 steps[2];
	struct sql_run		*run;
	const char		**v;
	size_t			 i, n;

	n = in->body->has_params ? json_array_size(in->body->params) : 0;
	if (n > SQL_MAX_PARAMS) {	/* the schema says so too */
		kb_respond_error(ctx, 400, "VALIDATION_FAILED",
		    "at most %d parameters", SQL_MAX_PARAMS);
		return;
	}
	v = kb_ctx_alloc(ctx, (n + 1) * sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = param_text(ctx, json_array_get(in->body->params, i));

	kb_db_step_caller_timeout(ctx, kb_config.sql_timeout_ms, &steps[0]);
	memset(&steps[1], 0, sizeof(steps[1]));
	steps[1].sql = in->body->sql;
	steps[1].nparams = (int)n;
	steps[1].values = v;

	run = kb_ctx_alloc(ctx, sizeof(*run));
	run->start_us = kb_now_us();
	kb_db_run(ctx, steps, 2, sql_done, run);
}

/* An error of the caller's statement: always 4xx, never 500. */
static void
sql_error(struct kb_ctx *ctx, struct kb_db_result *r)
{
	const char	*code;
	int		 status;

	/* Only administrators and service keys get here: 403, not 401. */
	status = kb_db_error_status(r->sqlstate, 1, &code);
	kb_respond_db_error(ctx, r, status, code);
}

static const char *
builtin_type(Oid oid)
{
	switch (oid) {
	case OID_BOOL:
		return ("boolean");
	case OID_INT8:
		return ("bigint");
	case OID_INT2:
		return ("smallint");
	case OID_INT4:
		return ("integer");
	case OID_OID:
		return ("oid");
	case OID_JSON:
		return ("json");
	case OID_FLOAT4:
		return ("real");
	case OID_FLOAT8:
		return ("double precision");
	case OID_NUMERIC:
		return ("numeric");
	case OID_JSONB:
		return ("jsonb");
	case 25:
		return ("text");
	case 1043:
		return ("character varying");
	case 2950:
		return ("uuid");
	case 1184:
		return ("timestamp with time zone");
	case 1114:
		return ("timestamp without time zone");
	case 1082:
		return ("date");
	default:
		return (NULL);
	}
}

static void
sql_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct sql_run	*run = arg;
	char		 oids[1024], *text;
	const char	*v[1] = { oids };
	json_t		*answer;
	size_t		 off;
	int		 i, nf;

	if (!r->ok) {
		if (r->unavailable || r->step == 0)
			kb_db_respond_failure(ctx, r);
		else
			sql_error(ctx, r);
		return;
	}
	answer = sql_answer(ctx, run, r->res);
	/* Names of the types the table above does not know: one query. */
	nf = PQnfields(r->res);
	off = (size_t)snprintf(oids, sizeof(oids), "{");
	for (i = 0; i < nf && off < sizeof(oids) - 16; i++) {
		if (builtin_type(run->oids[i]) == NULL)
			off += (size_t)snprintf(oids + off, sizeof(oids) - off,
			    "%s%u", off > 1 ? "," : "", run->oids[i]);
	}
	if (off == 1) {
		kb_respond_json(ctx, 200, answer);
		return;
	}
	(void)snprintf(oids + off, sizeof(oids) - off, "}");
	/* Parked as text in the request's memory: nothing to free later. */
	text = json_dumps(answer, JSON_COMPACT);
	json_decref(answer);
	if (text == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	run->answer = kb_ctx_strdup(ctx, text);
	free(text);
	kb_db_query(ctx, &type_names, 1, v, sql_types_done, run);
}

static void
sql_types_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct sql_run	*run = arg;
	json_t		*answer, *names, *col;
	const char	*name;
	char		 key[16];
	size_t		 i;

	if ((answer = json_loads(run->answer, 0, NULL)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "bad answer");
		return;
	}
	names = r->ok && PQntuples(r->res) == 1 ?
	    json_loads(PQgetvalue(r->res, 0, 0), 0, NULL) : NULL;
	json_array_foreach(json_object_get(answer, "columns"), i, col) {
		if (builtin_type(run->oids[i]) != NULL)
			continue;
		(void)snprintf(key, sizeof(key), "%u", run->oids[i]);
		name = json_string_value(json_object_get(names, key));
		json_object_set_new(col, "type", json_string(name != NULL ?
		    name : "unknown"));
	}
	json_decref(names);
	kb_respond_json(ctx, 200, answer);
}

/* One value as JSON, by its type. */
static json_t *
sql_value(PGresult *res, int row, int col)
{
	const char	*s;
	char		*end;
	double		 d;
	json_t		*j;

	if (PQgetisnull(res, row, col))
		return (json_null());
	s = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case OID_BOOL:
		return (json_boolean(s[0] == 't'));
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return (json_integer(strtoll(s, NULL, 10)));
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		d = strtod(s, &end);
		/* NaN, Infinity and numerics a double would round: text. */
		if (*end != '\0' || !isfinite(d))
			return (json_string(s));
		if (PQftype(res, col) == OID_NUMERIC) {
			char	back[64];

			(void)snprintf(back, sizeof(back), "%.17g", d);
			if (strtod(back, NULL) != d || strlen(s) > 17)
				return (json_string(s));
		}
		return (json_real(d));
	case OID_JSON:
	case OID_JSONB:
		if ((j = json_loads(s, JSON_DECODE_ANY, NULL)) != NULL)
			return (j);
		return (json_string(s));
	default:
		return (json_string(s));
	}
}

static json_t *
sql_answer(struct kb_ctx *ctx, struct sql_run *run, PGresult *res)
{
	json_t		*o, *cols, *rows, *row, *c;
	const char	*tname, *tuples;
	int		 i, j, nf, nt;

	nf = PQnfields(res);
	nt = PQntuples(res);
	run->oids = kb_ctx_alloc(ctx, ((size_t)nf + 1) * sizeof(*run->oids));
	cols = json_array();
	for (i = 0; i < nf; i++) {
		run->oids[i] = PQftype(res, i);
		tname = builtin_type(PQftype(res, i));
		c = json_object();
		json_object_set_new(c, "name", json_string(PQfname(res, i)));
		json_object_set_new(c, "type", json_string(tname != NULL ?
		    tname : "unknown"));
		json_array_append_new(cols, c);
	}
	rows = json_array();
	for (j = 0; j < nt; j++) {
		row = json_array();
		for (i = 0; i < nf; i++)
			json_array_append_new(row, sql_value(res, j, i));
		json_array_append_new(rows, row);
	}
	o = json_object();
	json_object_set_new(o, "columns", cols);
	json_object_set_new(o, "rows", rows);
	/* A write reports the rows it affected. */
	tuples = PQcmdTuples(res);
	json_object_set_new(o, "row_count", json_integer(nf > 0 ? nt :
	    (tuples != NULL && *tuples ? strtoll(tuples, NULL, 10) : 0)));
	json_object_set_new(o, "duration_ms", json_real((double)(kb_now_us() -
	    run->start_us) / 1000.0));
	return (o);
}
