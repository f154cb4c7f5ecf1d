/*
 * The Tables API (reference 000: Database Tables), PostgREST-compatible:
 * the glue between the generated operations, the schema cache, the pure-C
 * planner in tables/ (kb_tables.h: request -> one SQL statement, result
 * row -> response) and the pool.
 *
 * Every request runs as the caller's PostgreSQL role with the caller's
 * claims (kb_db_step_caller: step 0 of a transaction group of its own),
 * so row-level security policies decide what it sees and changes.  The
 * planner quotes every identifier it takes from the catalog and passes
 * every value as a parameter; a table with a tenant_id column is scoped
 * to the tenant the gate resolved.
 *
 * Writes that must touch exactly one row (by id, or answered as one
 * object) fail otherwise (kb_tables_not_one_row() tells, with the row
 * count), which rolls them back; the handler answers that as PostgREST
 * does (404 or 406 "The result contains N rows").
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_server.h"
#include "kb_catalog.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "kb_tables.h"

struct tables_call {
	struct kb_tables_request	 req;
	struct kb_tables_plan		*plan;
	char				*count_plan;	/* count_sql's answer */
	char				 table[128];
};

static void	tables_begin(struct kb_ctx *, enum kb_tables_method,
		    const char *, const char *, int, int, const char *,
		    json_t *);
static void	tables_planned(struct kb_ctx *, const struct kb_catalog *,
		    void *);
static void	tables_run(struct kb_ctx *, struct tables_call *);
static void	tables_counted(struct kb_ctx *, struct kb_db_result *, void *);
static void	tables_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	tables_stream_error(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	tables_error(struct kb_ctx *, const struct kb_tables_error *);
static void	tables_free(void *);

static enum kb_tables_method
method_of(struct kb_ctx *ctx, enum kb_tables_method m)
{
	/* HEAD runs the GET operation. */
	if (m == KB_TABLES_GET && strcmp(kb_ctx_method(ctx), "HEAD") == 0)
		return (KB_TABLES_HEAD);
	return (m);
}

/* ---- the operations ---- */

void
kbh_listRows(struct kb_ctx *ctx, const struct kbg_listRows_in *in)
{
	tables_begin(ctx, KB_TABLES_GET, in->table, NULL, 0, 0, NULL, NULL);
}

void
kbh_insertRows(struct kb_ctx *ctx, const struct kbg_insertRows_in *in)
{
	tables_begin(ctx, KB_TABLES_POST, in->table, NULL, 0, 0, NULL,
	    in->body_json);
}

void
kbh_updateRows(struct kb_ctx *ctx, const struct kbg_updateRows_in *in)
{
	tables_begin(ctx, KB_TABLES_PATCH, in->table, NULL, 0, 0, NULL,
	    in->body_json);
}

void
kbh_deleteRows(struct kb_ctx *ctx, const struct kbg_deleteRows_in *in)
{
	tables_begin(ctx, KB_TABLES_DELETE, in->table, NULL, 0, 0, NULL,
	    NULL);
}

void
kbh_bulkInsertRows(struct kb_ctx *ctx, const struct kbg_bulkInsertRows_in *in)
{
	tables_begin(ctx, KB_TABLES_POST, in->table, NULL, 1, 0, NULL,
	    in->body_json);
}

void
kbh_bulkUpdateRows(struct kb_ctx *ctx, const struct kbg_bulkUpdateRows_in *in)
{
	tables_begin(ctx, KB_TABLES_PATCH, in->table, NULL, 1, 0, NULL,
	    in->body_json);
}

void
kbh_bulkDeleteRows(struct kb_ctx *ctx, const struct kbg_bulkDeleteRows_in *in)
{
	tables_begin(ctx, KB_TABLES_DELETE, in->table, NULL, 1, 0, NULL,
	    in->body_json);
}

void
kbh_exportRows(struct kb_ctx *ctx, const struct kbg_exportRows_in *in)
{
	tables_begin(ctx, KB_TABLES_GET, in->table, NULL, 0, 1,
	    in->has_format ? in->format : "csv", NULL);
}

void
kbh_getRow(struct kb_ctx *ctx, const struct kbg_getRow_in *in)
{
	tables_begin(ctx, KB_TABLES_GET, in->table, in->id, 0, 0, NULL, NULL);
}

void
kbh_replaceRow(struct kb_ctx *ctx, const struct kbg_replaceRow_in *in)
{
	tables_begin(ctx, KB_TABLES_PUT, in->table, in->id, 0, 0, NULL,
	    in->body_json);
}

void
kbh_updateRow(struct kb_ctx *ctx, const struct kbg_updateRow_in *in)
{
	tables_begin(ctx, KB_TABLES_PATCH, in->table, in->id, 0, 0, NULL,
	    in->body_json);
}

void
kbh_deleteRow(struct kb_ctx *ctx, const struct kbg_deleteRow_in *in)
{
	tables_begin(ctx, KB_TABLES_DELETE, in->table, in->id, 0, 0, NULL,
	    NULL);
}

/* ---- planning and running ---- */

static void
tables_begin(struct kb_ctx *ctx, enum kb_tables_method m, const char *table,
    const char *id, int bulk, int export, const char *format, json_t *body)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);
	struct tables_call	*t;
	const struct kb_catalog	*cat;

	t = kb_ctx_alloc(ctx, sizeof(*t));
	t->req.method = method_of(ctx, m);
	t->req.table = kb_ctx_strdup(ctx, table);
	t->req.id = id != NULL ? kb_ctx_strdup(ctx, id) : NULL;
	t->req.bulk = bulk;
	t->req.export = export;
	t->req.export_format = format;
	t->req.query = kb_ctx_query(ctx);
	t->req.prefer = kb_ctx_header(ctx, "prefer");
	t->req.range = kb_ctx_header(ctx, "range");
	t->req.accept = kb_ctx_header(ctx, "accept");
	t->req.content_type = kb_ctx_header(ctx, "content-type");
	t->req.body = body;
	/* postgrest-js schema(): the profile headers pick the schema. */
	t->req.schema = kb_ctx_header(ctx, t->req.method == KB_TABLES_GET ||
	    t->req.method == KB_TABLES_HEAD ? "accept-profile" :
	    "content-profile");
	if (t->req.schema != NULL && t->req.schema[0] == '\0')
		t->req.schema = NULL;
	t->req.role = kb_caller_pg_role(c);
	t->req.tenant_id = c->tenant;
	kb_ctx_defer(ctx, tables_free, t);

	if ((cat = kb_schema_acquire(ctx)) != NULL)
		tables_planned(ctx, cat, t);
	else
		kb_schema_wait(ctx, tables_planned, t);
}

static void
tables_free(void *arg)
{
	struct tables_call	*t = arg;

	if (t->plan != NULL) {
		kb_tables_plan_free(t->plan);
		t->plan = NULL;
	}
}

static void
tables_planned(struct kb_ctx *ctx, const struct kb_catalog *cat, void *arg)
{
	struct tables_call	*t = arg;
	struct kb_tables_error	 err;
	struct kb_db_step	 steps[2];

	if (cat == NULL) {
		kb_schema_respond_unavailable(ctx);
		return;
	}
	memset(&err, 0, sizeof(err));
	if ((t->plan = kb_tables_plan(cat, &t->req, &err)) == NULL) {
		tables_error(ctx, &err);
		return;
	}
	if (t->plan->stream) {
		kb_stream_on_error(ctx, tables_stream_error, t);
		kb_stream_rows(ctx, 200, t->plan->stream_type, t->plan->sql,
		    t->plan->nparams, t->plan->params,
		    kb_caller_pg_role(kb_ctx_caller(ctx)), kb_caller_claims(ctx),
		    t->plan->stream_head, t->plan->stream_sep,
		    t->plan->stream_tail);
		return;
	}
	if (t->plan->count_sql != NULL) {
		/* count=planned|estimated: the planner's estimate first. */
		kb_db_step_caller(ctx, &steps[0]);
		memset(&steps[1], 0, sizeof(steps[1]));
		steps[1].sql = t->plan->count_sql;
		steps[1].nparams = t->plan->count_nparams;
		steps[1].values = t->plan->params;
		steps[1].readonly = 1;
		kb_db_run(ctx, steps, 2, tables_counted, t);
		return;
	}
	tables_run(ctx, t);
}

static void
tables_counted(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct tables_call	*t = arg;

	if (!r->ok) {
		tables_done(ctx, r, arg);
		return;
	}
	if (PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0))
		t->count_plan = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 0));
	tables_run(ctx, t);
}

static void
tables_run(struct kb_ctx *ctx, struct tables_call *t)
{
	struct kb_db_step	 steps[2];

	if (t->plan->read_only)
		kb_db_step_caller_ro(ctx, &steps[0]);
	else
		kb_db_step_caller(ctx, &steps[0]);
	memset(&steps[1], 0, sizeof(steps[1]));
	steps[1].sql = t->plan->sql;
	steps[1].nparams = t->plan->nparams;
	steps[1].values = t->plan->params;
	steps[1].readonly = t->plan->read_only;
	/* Always four text columns: safe to keep prepared. */
	steps[1].cache = 1;
	/* A read by id: answered together with others like it. */
	steps[1].batch_sql = t->plan->batch_sql;
	kb_db_run(ctx, steps, 2, tables_done, t);
}

static const char *
value_of(PGresult *res, int col)
{
	if (col >= PQnfields(res) || PQgetisnull(res, 0, col))
		return (NULL);
	return (PQgetvalue(res, 0, col));
}

static void
tables_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct tables_call		*t = arg;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct kb_tables_error		 err;
	PGresult			*row;
	const char			*ctype;
	size_t				 i;
	long long			 rows;
	char				 nrows[24];

	memset(&res, 0, sizeof(res));
	if (!r->ok) {
		if (r->unavailable || r->res == NULL) {
			kb_db_respond_failure(ctx, r);
			return;
		}
		if (t->plan->needs_one_row && r->step == 1 &&
		    (rows = kb_tables_not_one_row(r->sqlstate,
		    r->message)) >= 0) {
			/* Not exactly one row: the write rolled back. */
			snprintf(nrows, sizeof(nrows), "%lld", rows);
			res.page_total = nrows;
			kb_tables_respond(t->plan, &res, &resp);
			if (resp.is_error)
				tables_error(ctx, &resp.error);
			else
				kb_respond_error(ctx, 406, "PGRST116",
				    "not exactly one row");
			return;
		}
		memset(&err, 0, sizeof(err));
		if (t->plan->max_affected >= 0 && r->step == 1 &&
		    (rows = kb_tables_max_affected(r->sqlstate,
		    r->message)) >= 0) {
			/* More rows than max-affected: rolled back. */
			kb_tables_max_affected_error(&err, rows);
			tables_error(ctx, &err);
			return;
		}
		kb_tables_pg_error(&err, r->sqlstate, r->message, r->detail,
		    r->hint, strcmp(t->req.role, "anon") == 0);
		tables_error(ctx, &err);
		return;
	}

	row = r->res;
	if (PQntuples(row) != 1 || PQnfields(row) < 4) {
		kb_log("error", "tables: %s: the statement answered %d rows",
		    t->req.table, PQntuples(row));
		kb_respond_error(ctx, 500, "INTERNAL", "unexpected result");
		return;
	}
	res.total = value_of(row, 0);
	res.page_total = value_of(row, 1);
	res.body = value_of(row, 2);
	res.location = value_of(row, 3);
	res.inserted = value_of(row, 4);	/* merge upserts only */
	res.plan = t->count_plan;
	kb_tables_respond(t->plan, &res, &resp);
	if (resp.is_error) {
		tables_error(ctx, &resp.error);
		return;
	}
	ctype = "application/json";
	for (i = 0; i < resp.nheaders; i++) {
		if (strcasecmp(resp.headers[i].name, "Content-Type") == 0)
			ctype = kb_ctx_strdup(ctx, resp.headers[i].value);
		else
			kb_header_set(ctx, resp.headers[i].name,
			    resp.headers[i].value);
	}
	if (resp.body == NULL) {
		if (strcmp(kb_ctx_method(ctx), "HEAD") == 0)
			kb_header_set(ctx, "Content-Type", ctype);
		kb_respond_empty(ctx, resp.status);
		return;
	}
	kb_respond_text(ctx, resp.status, ctype, resp.body, resp.body_len);
}

/* A streamed export failed before its first byte. */
static void
tables_stream_error(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct tables_call	*t = arg;
	struct kb_tables_error	 err;

	memset(&err, 0, sizeof(err));
	kb_tables_pg_error(&err, r->sqlstate, r->message, r->detail, r->hint,
	    strcmp(t->req.role, "anon") == 0);
	tables_error(ctx, &err);
}

/*
 * A planner or database error, in the body PostgREST clients read
 * ({code, message, details, hint}) plus korebase's error and request_id.
 */
static void
tables_error(struct kb_ctx *ctx, const struct kb_tables_error *err)
{
	json_t	*o;

	o = kb_tables_error_json(err);
	json_object_set_new(o, "request_id",
	    json_string(kb_ctx_request_id(ctx)));
	if (err->status == 503)
		kb_header_set(ctx, "Retry-After", "1");
	kb_respond_json(ctx, err->status, o);
}
