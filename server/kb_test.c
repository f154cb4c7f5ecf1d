/*
 * Test-only routes, compiled only into the module the integration suite
 * runs (build/korebase-test.so, -DKB_TEST; see the Makefile).  The
 * shipped module (build/korebase.so) has none of this: kb_main.c calls
 * kb_test_handle for paths under /__test/ only when built with KB_TEST.
 *
 * They drive server plumbing that has no operation of its own yet, with
 * real requests on the real event loop:
 *
 *	GET  /__test/db/whoami		a read-only statement, batched like
 *					any other: the role and claims it saw
 *	GET  /__test/db/asrole?role=R	a group: set_config(role, claims),
 *					then the same statement
 *	GET  /__test/schema?table=T&function=F
 *					the worker's schema cache: version,
 *					counts, whether T and F are exposed
 *	GET  /__test/schema/hold?table=T
 *					acquire the schema, sleep 2 s in the
 *					database, then look T up in the schema
 *					held: it outlives a reload meanwhile
 *	GET  /__test/stream?fmt=F&n=N&role=R&src=S
 *					kb_stream_copy: F csv, ndjson, json or
 *					copy (a COPY statement), or rows
 *					(kb_stream_rows); S series (N
 *					rows), big (table kb_plumb_big), who
 *					(current_user), err (a division by 0),
 *					users (korebase's own table), sleep
 *					(N tenths of a second, then a row)
 *	GET  /__test/db/coalesced	this worker's coalesced reads by id
 *					(kb_db_coalesced): pid, statements,
 *					reads
 *	GET  /__test/db/caller?cred=C&role=R&sub=S&tenant=T
 *					kb_db_step_caller for a caller made up
 *					of these, then what SQL sees of it
 *	POST /__test/db/run		a group from a JSON body:
 *	    {"role": "anon", "claims": "{...}",
 *	     "steps": [{"sql": "...", "params": [...], "readonly": true}]}
 *
 * Answers: 200 {"ok":true,"step":n,"rows":[[...]]}, 400 {"ok":false,
 * "step","sqlstate","message","detail","hint"}, 503 when the database is
 * unavailable (kb_db_respond_failure).
 */

#if defined(KB_TEST)

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kb_catalog.h"

#define TEST_BODY_MAX	65536

static struct kb_stmt	test_whoami = KB_STMT_RO(
    "SELECT current_user::text, "
    "coalesce(current_setting('request.jwt.claims', true), ''), "
    "pg_backend_pid()");
static struct kb_stmt	test_setrole = KB_STMT_RO(
    "SELECT set_config('role', $1, true), "
    "set_config('request.jwt.claims', $2, true)");

static void	test_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	test_stream(struct kb_ctx *);
static void	test_caller(struct kb_ctx *);
static void	test_held(struct kb_ctx *, struct kb_db_result *, void *);

static struct kb_stmt	test_sleep = KB_STMT_RO("SELECT pg_sleep(2)");
static void	test_stream_error(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	test_schema(struct kb_ctx *, const struct kb_catalog *,
		    void *);
static void	test_run(struct kb_ctx *);
static char	*test_arg(struct kb_ctx *, const char *);

void
kb_test_handle(struct kb_ctx *ctx)
{
	struct http_request	*req = ctx->req;
	struct kb_db_step	 steps[2];
	const char		*vals[2];
	char			*role;

	if (strcmp(req->path, "/__test/db/whoami") == 0) {
		kb_db_query(ctx, &test_whoami, 0, NULL, test_done, NULL);
	} else if (strcmp(req->path, "/__test/db/asrole") == 0) {
		if ((role = test_arg(ctx, "role")) == NULL)
			role = "anon";
		vals[0] = role;
		vals[1] = "{\"role\":\"test\"}";
		memset(steps, 0, sizeof(steps));
		steps[0].stmt = &test_setrole;
		steps[0].nparams = 2;
		steps[0].values = vals;
		steps[1].stmt = &test_whoami;
		kb_db_run(ctx, steps, 2, test_done, NULL);
	} else if (strcmp(req->path, "/__test/db/coalesced") == 0) {
		u_int64_t	stmts, reads;

		kb_db_coalesced(&stmts, &reads);
		kb_respond_json(ctx, 200, json_pack("{sI sI sI}",
		    "pid", (json_int_t)getpid(),
		    "statements", (json_int_t)stmts,
		    "reads", (json_int_t)reads));
	} else if (strcmp(req->path, "/__test/db/caller") == 0) {
		test_caller(ctx);
	} else if (strcmp(req->path, "/__test/stream") == 0) {
		test_stream(ctx);
	} else if (strcmp(req->path, "/__test/schema/hold") == 0) {
		if (kb_schema_acquire(ctx) == NULL)
			kb_schema_respond_unavailable(ctx);
		else
			kb_db_query(ctx, &test_sleep, 0, NULL, test_held,
			    NULL);
	} else if (strcmp(req->path, "/__test/schema") == 0) {
		kb_schema_wait(ctx, test_schema, NULL);
	} else if (strcmp(req->path, "/__test/db/run") == 0 &&
	    req->method == HTTP_METHOD_POST) {
		test_run(ctx);
	} else {
		kb_respond_error(ctx, 404, "NOT_FOUND", "no test route %s",
		    req->path);
	}
}

/* The first value of query argument `name` (not decoded), or NULL. */
static char *
test_arg(struct kb_ctx *ctx, const char *name)
{
	const char	*qs, *p, *end;
	size_t		 n;
	char		*v;

	if ((qs = ctx->req->query_string) == NULL)
		return (NULL);
	n = strlen(name);
	for (p = qs; *p != '\0'; p = (*end == '&') ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			v = kb_ctx_alloc(ctx, end - p - n);
			memcpy(v, p + n + 1, end - p - n - 1);
			return (v);
		}
	}
	return (NULL);
}

static void
test_schema(struct kb_ctx *ctx, const struct kb_catalog *s, void *arg)
{
	const char	*t, *f;

	(void)arg;
	if (s == NULL) {
		kb_schema_respond_unavailable(ctx);
		return;
	}
	t = test_arg(ctx, "table");
	f = test_arg(ctx, "function");
	kb_respond_json(ctx, 200, json_pack("{sI sI sI sb sb ss}",
	    "version", (json_int_t)s->version,
	    "tables", (json_int_t)s->ntables,
	    "functions", (json_int_t)s->nfuncs,
	    "table", t != NULL && kb_schema_table(s, NULL, t) != NULL,
	    "function", f != NULL && kb_schema_function(s, NULL, f) != NULL,
	    "exclude", kb_config.tables_exclude));
}

static struct kb_stmt	test_claims = KB_STMT_RO(
    "SELECT current_user::text, auth.uid()::text, auth.role(), "
    "auth.tenant_id()::text, auth.jwt()::text, "
    "pg_catalog.pg_backend_pid()::text");

static void
test_caller(struct kb_ctx *ctx)
{
	struct kb_db_step	 steps[2];
	const char		*cred;

	cred = test_arg(ctx, "cred");
	ctx->caller.role = test_arg(ctx, "role");
	ctx->caller.sub = test_arg(ctx, "sub");
	ctx->caller.tenant = test_arg(ctx, "tenant");
	ctx->caller.cred = cred == NULL ? KB_CRED_NONE :
	    strcmp(cred, "jwt") == 0 ? KB_CRED_JWT :
	    strcmp(cred, "service") == 0 ? KB_CRED_SERVICE_KEY :
	    KB_CRED_CLIENT_KEY;
	memset(steps, 0, sizeof(steps));
	kb_db_step_caller(ctx, &steps[0]);
	steps[1].stmt = &test_claims;
	kb_db_run(ctx, steps, 2, test_done, NULL);
}

static void
test_stream(struct kb_ctx *ctx)
{
	const char	*fmt, *src, *role, *ctype, *sql, *vals[1];
	char		 copy[256];
	long		 n;

	fmt = test_arg(ctx, "fmt");
	src = test_arg(ctx, "src");
	role = test_arg(ctx, "role");
	n = test_arg(ctx, "n") ? strtol(test_arg(ctx, "n"), NULL, 10) : 10;
	if (fmt == NULL)
		fmt = "csv";
	if (src == NULL)
		src = "series";
	if (strcmp(src, "big") == 0)
		sql = "SELECT * FROM kb_plumb_big ORDER BY id";
	else if (strcmp(src, "who") == 0)
		sql = "SELECT current_user::text AS who, "
		    "current_setting('request.jwt.claims', true) AS claims, "
		    "$1::int AS n";
	else if (strcmp(src, "sleep") == 0)
		sql = "SELECT pg_sleep($1::int / 10.0) AS slept";
	else if (strcmp(src, "users") == 0)
		sql = "SELECT * FROM users WHERE $1::int > 0";
	else if (strcmp(src, "err") == 0)
		sql = "SELECT 1 / ($1::int - $1::int) AS boom";
	else
		sql = "SELECT g AS id, 'row ' || g AS label, CASE g % 3 "
		    "WHEN 0 THEN NULL WHEN 1 THEN 'a,\"b\"' ELSE '' END AS q "
		    "FROM generate_series(1, $1::int) g";
	(void)snprintf(copy, sizeof(copy), "%ld", n);
	vals[0] = copy;

	if (strcmp(fmt, "copy") == 0) {
		(void)snprintf(copy, sizeof(copy), "COPY (SELECT g AS id, "
		    "'row ' || g AS label FROM generate_series(1, %ld) g) "
		    "TO STDOUT WITH (FORMAT csv, HEADER)", n);
		if (strcmp(src, "big") == 0)
			(void)snprintf(copy, sizeof(copy), "COPY (SELECT * "
			    "FROM kb_plumb_big ORDER BY id) TO STDOUT WITH "
			    "(FORMAT csv, HEADER)");
		kb_stream_copy(ctx, 200, "text/csv; charset=utf-8", copy, 0,
		    NULL, role, role ? "{\"role\":\"test\"}" : NULL);
		return;
	}
	if (strcmp(fmt, "rows") == 0) {
		kb_stream_on_error(ctx, test_stream_error, NULL);
		kb_stream_rows(ctx, 200, "application/json; charset=utf-8",
		    "SELECT json_build_array(g, 'row ' || g)::text "
		    "FROM generate_series(1, $1::int) g", 1, vals, role,
		    role ? "{\"role\":\"test\"}" : NULL, "[", ",", "]");
		return;
	}
	if (strcmp(fmt, "csv") == 0)
		ctype = "text/csv; charset=utf-8";
	else if (strcmp(fmt, "json") == 0)
		ctype = "application/json";
	else
		ctype = "application/x-ndjson";
	kb_header_set(ctx, "Content-Disposition", "attachment");
	kb_stream_on_error(ctx, test_stream_error, NULL);
	kb_stream_copy(ctx, 200, ctype, sql, strcmp(src, "big") ? 1 : 0,
	    vals, role, role ? "{\"role\":\"test\"}" : NULL);
}

static void
test_stream_error(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	kb_respond_json(ctx, 400, json_pack("{sb ss ss}", "ok", 0,
	    "sqlstate", r->sqlstate, "message", r->message));
}

/* The schema acquired before the sleep, whatever happened meanwhile. */
static void
test_held(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kb_catalog	*s;
	const char		*t;

	(void)arg;
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	s = kb_schema_acquire(ctx);
	t = test_arg(ctx, "table");
	kb_respond_json(ctx, 200, json_pack("{sI sI sI sb}",
	    "held", (json_int_t)s->version,
	    "current", (json_int_t)kb_schema_version(),
	    "tables", (json_int_t)s->ntables,
	    "table", t != NULL && kb_schema_table(s, NULL, t) != NULL));
}

static void
test_run(struct kb_ctx *ctx)
{
	struct kb_db_step	*steps;
	json_t			*doc, *jsteps, *js, *params, *v;
	const char		**vals, *role, *claims;
	char			 buf[TEST_BODY_MAX];
	ssize_t			 n;
	size_t			 len, i, j, nsteps, first;

	len = 0;
	if (!http_body_rewind(ctx->req))
		fatal("test_run: cannot rewind the body");
	while (len < sizeof(buf) &&
	    (n = http_body_read(ctx->req, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	if ((doc = json_loadb(buf, len, 0, NULL)) == NULL ||
	    !json_is_array(jsteps = json_object_get(doc, "steps"))) {
		json_decref(doc);
		kb_respond_error(ctx, 400, "INVALID_JSON", "bad test body");
		return;
	}
	role = json_string_value(json_object_get(doc, "role"));
	claims = json_string_value(json_object_get(doc, "claims"));
	first = (role != NULL) ? 1 : 0;
	nsteps = json_array_size(jsteps) + first;
	steps = kb_ctx_alloc(ctx, nsteps * sizeof(*steps));
	if (role != NULL) {
		vals = kb_ctx_alloc(ctx, 2 * sizeof(*vals));
		vals[0] = kb_ctx_strdup(ctx, role);
		vals[1] = claims ? kb_ctx_strdup(ctx, claims) : "";
		steps[0].stmt = &test_setrole;
		steps[0].nparams = 2;
		steps[0].values = vals;
	}
	json_array_foreach(jsteps, i, js) {
		steps[first + i].sql = kb_ctx_strdup(ctx,
		    json_string_value(json_object_get(js, "sql")) ?
		    json_string_value(json_object_get(js, "sql")) : "");
		steps[first + i].readonly =
		    json_is_true(json_object_get(js, "readonly"));
		params = json_object_get(js, "params");
		steps[first + i].nparams = (int)json_array_size(params);
		vals = kb_ctx_alloc(ctx, (json_array_size(params) + 1) *
		    sizeof(*vals));
		json_array_foreach(params, j, v) {
			vals[j] = json_is_string(v) ?
			    kb_ctx_strdup(ctx, json_string_value(v)) : NULL;
		}
		steps[first + i].values = vals;
	}
	json_decref(doc);
	kb_db_run(ctx, steps, (int)nsteps, test_done, NULL);
}

static void
test_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	json_t		*rows, *row;
	int		 i, j;

	(void)arg;
	if (r->unavailable) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (!r->ok) {
		kb_respond_json(ctx, 400, json_pack("{sb si ss ss ss ss}",
		    "ok", 0, "step", r->step, "sqlstate", r->sqlstate,
		    "message", r->message, "detail", r->detail,
		    "hint", r->hint));
		return;
	}
	rows = json_array();
	for (i = 0; i < PQntuples(r->res); i++) {
		row = json_array();
		for (j = 0; j < PQnfields(r->res); j++) {
			json_array_append_new(row,
			    PQgetisnull(r->res, i, j) ? json_null() :
			    json_string(PQgetvalue(r->res, i, j)));
		}
		json_array_append_new(rows, row);
	}
	kb_respond_json(ctx, 200, json_pack("{sb si so}", "ok", 1,
	    "step", r->step, "rows", rows));
}

#endif /* KB_TEST */
