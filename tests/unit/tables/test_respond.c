/*
 * korebase tables tests: write statements (golden), request checks
 * (methods, paths, Prefer, Accept, Range), responses to results and the
 * mapping of database errors.
 */

#include "kb_tables_test.h"
#include "kb_tables.h"

static struct kb_catalog	*sample;

static int
setup(void **state)
{
	sample = kbt_sample_schema();
	return (0);
}

static int
teardown(void **state)
{
	kb_schema_free(sample);
	return (0);
}

struct rq {
	enum kb_tables_method	 method;
	const char		*table;
	const char		*id;
	int			 bulk;
	const char		*query;
	const char		*body;
	const char		*prefer;
	const char		*accept;
	const char		*range;
	const char		*tenant;
};

static struct kb_tables_plan *
plan(const struct rq *r, struct kb_tables_error *err)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*p;

	memset(&req, 0, sizeof(req));
	req.method = r->method;
	req.table = r->table;
	req.id = r->id;
	req.bulk = r->bulk;
	req.query = r->query;
	req.prefer = r->prefer;
	req.accept = r->accept;
	req.range = r->range;
	req.tenant_id = r->tenant;
	req.role = "authenticated";
	if (r->body != NULL)
		req.body = json_loads(r->body, JSON_DECODE_ANY, NULL);
	p = kb_tables_plan(sample, &req, err);
	json_decref(req.body);
	return (p);
}

static struct kb_tables_plan *
must_plan(const struct rq *r)
{
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;

	if ((p = plan(r, &err)) == NULL)
		fail_msg("%s %s: %d %s %s", r->table, r->query ? r->query : "",
		    err.status, err.code, err.message);
	return (p);
}

static void
refused(const struct rq *r, int status, const char *code)
{
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;

	if ((p = plan(r, &err)) != NULL)
		fail_msg("accepted: %s", p->sql);
	if (err.status != status || strcmp(err.code, code) != 0)
		fail_msg("%d %s (%s), want %d %s", err.status, err.code,
		    err.message, status, code);
}

static const char *
joined(const struct kb_tables_plan *p)
{
	static char	buf[4096];
	size_t		len = 0;
	int		i;

	buf[0] = '\0';
	for (i = 0; i < p->nparams; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
		    i ? "|" : "", p->params[i] ? p->params[i] : "\\N");
	return (buf);
}

#define MINIMAL_TAIL(total, loc) ") SELECT " total " AS total_result_set, " \
	"pg_catalog.count(*) AS page_total, NULL::text AS body, " loc \
	" AS location FROM pgrst_source AS _postgrest_t"

static void
insert_statements(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_POST, "clients", NULL, 0,
				    NULL, "{\"name\":\"a\"}", NULL, NULL,
				    NULL, NULL };

	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (INSERT INTO "
	    "\"public\".\"clients\" AS \"t0\" (\"name\") SELECT _r.\"name\" "
	    "FROM pg_catalog.jsonb_array_elements($1::jsonb) AS _j(v), "
	    "LATERAL pg_catalog.jsonb_populate_record(NULL::\"public\"."
	    "\"clients\", _j.v) AS _r RETURNING 1" MINIMAL_TAIL(
	    "NULL::bigint", "NULL::text"));
	/* The body is one parameter, an array even for one object. */
	assert_string_equal(joined(p), "[{\"name\":\"a\"}]");
	assert_false(p->read_only);
	assert_null(p->applied);
	kb_tables_plan_free(p);
	/* headers-only: the key, for Location. */
	r.prefer = "return=headers-only";
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "AS _r RETURNING \"t0\".\"id\"" 
	    MINIMAL_TAIL("NULL::bigint", "(SELECT pg_catalog."
	    "json_build_array(\"t0\".\"id\")::text FROM pgrst_source AS "
	    "\"t0\" LIMIT 1)")));
	kb_tables_plan_free(p);
	r.prefer = NULL;

	/* Upsert with missing=default, tenant forced, representation. */
	r.table = "tasks";
	r.query = "select=id";
	r.body = "[{\"project_id\":1,\"title\":\"x\"}]";
	r.prefer = "return=representation, resolution=merge-duplicates,"
	    "missing=default";
	r.tenant = "11111111-1111-1111-1111-111111111111";
	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (INSERT INTO "
	    "\"public\".\"tasks\" AS \"t0\" (\"project_id\", \"title\", "
	    "\"tenant_id\") SELECT CASE WHEN _j.v ? E'project_id' THEN "
	    "_r.\"project_id\" ELSE NULL END, CASE WHEN _j.v ? E'title' THEN "
	    "_r.\"title\" ELSE NULL END, $2::uuid FROM "
	    "pg_catalog.jsonb_array_elements($1::jsonb) AS _j(v), LATERAL "
	    "pg_catalog.jsonb_populate_record(NULL::\"public\".\"tasks\", "
	    "_j.v) AS _r ON CONFLICT (\"id\") DO UPDATE SET \"project_id\" = "
	    "EXCLUDED.\"project_id\", \"title\" = EXCLUDED.\"title\" WHERE "
	    "\"t0\".\"tenant_id\" = $2::uuid RETURNING \"t0\".*, "
	    "(\"t0\".xmax = 0) AS pgrst_inserted) SELECT "
	    "NULL::bigint AS total_result_set, pg_catalog.count(*) AS "
	    "page_total, COALESCE(pg_catalog.json_agg(_postgrest_t), "
	    "'[]')::text AS body, NULL::text AS location, (SELECT "
	    "pg_catalog.count(*) FROM pgrst_source WHERE pgrst_inserted) AS "
	    "inserted FROM (SELECT "
	    "\"t0\".\"id\" AS \"id\" FROM pgrst_source AS \"t0\") AS "
	    "_postgrest_t");
	assert_string_equal(joined(p), "[{\"project_id\":1,\"title\":\"x\"}]|"
	    "11111111-1111-1111-1111-111111111111");
	assert_string_equal(p->applied, "resolution=merge-duplicates, "
	    "missing=default, return=representation");
	kb_tables_plan_free(p);

	/* ignore-duplicates on the composite key, with a default left out. */
	r.table = "line_items";
	r.query = NULL;
	r.body = "{\"qty\":1}";
	r.prefer = "resolution=ignore-duplicates";
	r.tenant = NULL;
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, " ON CONFLICT (\"order_id\", "
	    "\"line\") DO NOTHING RETURNING 1)"));
	kb_tables_plan_free(p);
	/* on_conflict= picks the target. */
	r.table = "clients";
	r.query = "on_conflict=name";
	r.body = "{\"name\":\"a\"}";
	r.prefer = "resolution=merge-duplicates";
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, " ON CONFLICT (\"name\") DO UPDATE "
	    "SET \"name\" = EXCLUDED.\"name\" RETURNING"));
	kb_tables_plan_free(p);
	/* columns= restricts and quotes as postgrest-js sends it. */
	r.query = "columns=%22name%22";
	r.body = "[{\"name\":\"a\",\"ignored\":1},{}]";
	r.prefer = NULL;
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "(\"name\") SELECT _r.\"name\" FROM"));
	kb_tables_plan_free(p);
}

/*
 * A write that must touch one row fails otherwise with the row count in
 * the error (a cast of 'kb_not_one_row:<n>', 22P02), so the 406 says
 * "The result contains N rows" as PostgREST's does; other errors,
 * 22P02 from bad values included, are not mistaken for it.
 */
static void
not_one_row(void **state)
{
	struct kb_tables_plan		*p;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct rq			 r = { KB_TABLES_PATCH, "clients", NULL,
					    0, "id=gt.1", "{\"name\":\"a\"}",
					    "return=representation",
					    "application/vnd.pgrst.object+json",
					    NULL, NULL };

	p = must_plan(&r);
	assert_true(p->needs_one_row);
	assert_non_null(strstr(p->sql, " HAVING CASE WHEN pg_catalog.count(*)"
	    " <> 1 THEN ('kb_not_one_row:' || pg_catalog.count(*))::integer "
	    "= 1 ELSE true END"));
	assert_int_equal(kb_tables_not_one_row("22P02", "invalid input "
	    "syntax for type integer: \"kb_not_one_row:0\""), 0);
	assert_int_equal(kb_tables_not_one_row("22P02", "ungültige Eingabe"
	    ": »kb_not_one_row:17«"), 17);
	assert_int_equal(kb_tables_not_one_row("22P02", "invalid input "
	    "syntax for type integer: \"many\""), -1);
	assert_int_equal(kb_tables_not_one_row("22012", "division by zero"),
	    -1);
	assert_int_equal(kb_tables_not_one_row("22P02", "\"kb_not_one_row:"
	    "x\""), -1);
	assert_int_equal(kb_tables_not_one_row(NULL, NULL), -1);

	memset(&res, 0, sizeof(res));
	res.page_total = "0";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 406);
	assert_string_equal(resp.error.details, "The result contains 0 rows");
	res.page_total = "5";
	kb_tables_respond(p, &res, &resp);
	assert_string_equal(resp.error.details, "The result contains 5 rows");
	kb_tables_plan_free(p);
}

/*
 * Prefer: handling=strict, max-affected=N (postgrest-js maxAffected(N))
 * on PATCH and DELETE, as PostgREST 13: more rows than N fail (rolled
 * back) as 400 PGRST124 "The query affects M rows"; lenient, or without
 * handling=strict, nothing is checked.
 */
static void
max_affected(void **state)
{
	struct kb_tables_plan		*p;
	struct kb_tables_error		 err;
	struct rq			 r = { KB_TABLES_DELETE, "clients", NULL,
					    0, "id=gt.1", NULL,
					    "handling=strict, max-affected=10",
					    NULL, NULL, NULL };

	p = must_plan(&r);
	assert_int_equal(p->max_affected, 10);
	assert_non_null(strstr(p->sql, " HAVING CASE WHEN pg_catalog.count(*)"
	    " > 10 THEN ('kb_max_affected:' || pg_catalog.count(*))::integer "
	    "= 1 ELSE true END"));
	assert_string_equal(p->applied, "handling=strict, max-affected=10");
	kb_tables_plan_free(p);

	/* With single(): both checks, max-affected first. */
	r.method = KB_TABLES_PATCH;
	r.body = "{\"name\":\"a\"}";
	r.prefer = "return=representation,handling=strict,max-affected=1";
	r.accept = "application/vnd.pgrst.object+json";
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, " HAVING CASE WHEN pg_catalog.count(*)"
	    " > 1 THEN ('kb_max_affected:' || pg_catalog.count(*))::integer = "
	    "1 WHEN pg_catalog.count(*) <> 1 THEN ('kb_not_one_row:' || "
	    "pg_catalog.count(*))::integer = 1 ELSE true END"));
	kb_tables_plan_free(p);

	r.accept = NULL;
	r.prefer = "handling=lenient, max-affected=0";
	p = must_plan(&r);
	assert_int_equal(p->max_affected, -1);
	assert_null(strstr(p->sql, "HAVING"));
	assert_string_equal(p->applied, "handling=lenient");
	kb_tables_plan_free(p);
	r.prefer = "max-affected=0";
	p = must_plan(&r);
	assert_int_equal(p->max_affected, -1);
	kb_tables_plan_free(p);
	/* Reads and inserts: not applied. */
	r.method = KB_TABLES_POST;
	r.prefer = "handling=strict, max-affected=0";
	p = must_plan(&r);
	assert_int_equal(p->max_affected, -1);
	kb_tables_plan_free(p);

	assert_int_equal(kb_tables_max_affected("22P02", "invalid input "
	    "syntax for type integer: \"kb_max_affected:14\""), 14);
	assert_int_equal(kb_tables_max_affected("22P02", "\"kb_not_one_row:"
	    "2\""), -1);
	assert_int_equal(kb_tables_not_one_row("22P02", "\"kb_max_affected:"
	    "2\""), -1);
	kb_tables_max_affected_error(&err, 14);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "PGRST124");
	assert_string_equal(err.details, "The query affects 14 rows");
	assert_string_equal(err.message,
	    "Query result exceeds max-affected preference constraint");
}

/*
 * postgrest-js schema('x') sends Accept-Profile (reads) or
 * Content-Profile (writes), which the handler passes as req.schema: an
 * exposed schema is looked in, another is 406 PGRST106, as PostgREST.
 */
static void
profiles(void **state)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*p;
	struct kb_tables_error		 err;

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_GET;
	req.table = "clients";
	req.schema = "public";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	kb_tables_plan_free(p);
	req.schema = "pg_catalog";
	assert_null(kb_tables_plan(sample, &req, &err));
	assert_int_equal(err.status, 406);
	assert_string_equal(err.code, "PGRST106");
	assert_non_null(strstr(err.message, "The schema must be one of the "
	    "following: public"));
}

/*
 * A merge-duplicates upsert that inserted nothing (every row merged, or
 * an empty array) answers 200, one that inserted a row 201, as PostgREST
 * (postgrest-js .upsert()); the count comes from xmax = 0 of the
 * returned rows.  ignore-duplicates and plain inserts stay 201.
 */
static void
upsert_status(void **state)
{
	struct kb_tables_plan		*p;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct rq			 r = { KB_TABLES_POST, "clients", NULL,
					    0, NULL, "{\"id\":1,\"name\":\"a\"}",
					    "resolution=merge-duplicates", NULL,
					    NULL, NULL };

	p = must_plan(&r);
	assert_true(p->merge_upsert);
	assert_non_null(strstr(p->sql, "RETURNING 1, (\"t0\".xmax = 0) AS "
	    "pgrst_inserted) SELECT "));
	memset(&res, 0, sizeof(res));
	res.page_total = "1";
	res.inserted = "0";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 200);
	res.inserted = "1";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 201);
	kb_tables_plan_free(p);

	r.prefer = "resolution=ignore-duplicates";
	p = must_plan(&r);
	assert_false(p->merge_upsert);
	assert_null(strstr(p->sql, "pgrst_inserted"));
	res.inserted = NULL;
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 201);
	kb_tables_plan_free(p);
}

/*
 * The representation of a write comes in the order the query asks for
 * (postgrest-js: .insert(rows).select().order('id')), as PostgREST, which
 * reads the returned rows with the request's read plan.
 */
static void
ordered_representation(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_POST, "clients", NULL, 0,
				    "select=id,name&order=name.desc.nullslast,id",
				    "[{\"name\":\"a\"},{\"name\":\"b\"}]",
				    "return=representation", NULL, NULL, NULL };

	p = must_plan(&r);
	assert_non_null(strstr(p->sql, " FROM (SELECT \"t0\".\"id\" AS "
	    "\"id\", \"t0\".\"name\" AS \"name\" FROM pgrst_source AS "
	    "\"t0\" ORDER BY \"t0\".\"name\" DESC NULLS LAST, \"t0\".\"id\")"
	    " AS _postgrest_t"));
	kb_tables_plan_free(p);

	r.method = KB_TABLES_PATCH;
	r.query = "id=gt.1&select=id&order=id.desc";
	r.body = "{\"name\":\"x\"}";
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "FROM pgrst_source AS \"t0\" ORDER BY "
	    "\"t0\".\"id\" DESC) AS _postgrest_t"));
	kb_tables_plan_free(p);

	/* Without a body nothing is ordered. */
	r.prefer = "return=minimal";
	p = must_plan(&r);
	assert_null(strstr(p->sql, "ORDER BY"));
	kb_tables_plan_free(p);
}

static void
put_by_id(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_PUT, "projects", "4", 0, NULL,
				    "{\"name\":\"a\"}", NULL, NULL, NULL,
				    NULL };

	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "INSERT INTO \"public\".\"projects\" "
	    "AS \"t0\" (\"name\", \"id\") SELECT _r.\"name\", $2::integer "
	    "FROM "));
	assert_non_null(strstr(p->sql, " ON CONFLICT (\"id\") DO UPDATE SET "
	    "\"name\" = EXCLUDED.\"name\" RETURNING \"t0\".*)"));
	assert_string_equal(joined(p), "[{\"name\":\"a\"}]|4");
	/* Answered as the object; rolled back unless exactly one row. */
	assert_int_equal(p->format, KB_TABLES_OBJECT);
	assert_true(p->needs_one_row);
	kb_tables_plan_free(p);
	r.body = "{\"id\":5}";
	refused(&r, 400, "KB_PK_MISMATCH");
	r.body = "{\"id\":4,\"name\":\"b\"}";
	p = must_plan(&r);
	kb_tables_plan_free(p);
}

static void
update_and_delete_statements(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_PATCH, "projects", NULL, 0,
				    "id=eq.1", "{\"name\":\"a\"}",
				    "return=minimal", NULL, NULL, NULL };

	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (UPDATE "
	    "\"public\".\"projects\" AS \"t0\" SET \"name\" = _r.\"name\" "
	    "FROM pg_catalog.jsonb_populate_record(NULL::\"public\"."
	    "\"projects\", $1::jsonb) AS _r WHERE (\"t0\".\"id\" = "
	    "$2::integer) RETURNING 1" MINIMAL_TAIL(
	    "NULL::bigint", "NULL::text"));
	assert_string_equal(joined(p), "{\"name\":\"a\"}|1");
	kb_tables_plan_free(p);

	r.method = KB_TABLES_DELETE;
	r.table = "tasks";
	r.body = NULL;
	r.prefer = "count=exact";
	r.tenant = "11111111-1111-1111-1111-111111111111";
	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (DELETE FROM "
	    "\"public\".\"tasks\" AS \"t0\" WHERE \"t0\".\"tenant_id\" = "
	    "$1::uuid AND (\"t0\".\"id\" = $2::integer) RETURNING 1"
	    MINIMAL_TAIL("pg_catalog.count(*)", "NULL::text"));
	kb_tables_plan_free(p);

	/* Bulk: keys pick the rows, absent columns keep their value. */
	r.method = KB_TABLES_PATCH;
	r.table = "line_items";
	r.bulk = 1;
	r.query = NULL;
	r.body = "[{\"order_id\":1,\"line\":2,\"qty\":3}]";
	r.prefer = NULL;
	r.tenant = NULL;
	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (UPDATE "
	    "\"public\".\"line_items\" AS \"t0\" SET \"qty\" = CASE WHEN "
	    "_j.v ? E'qty' THEN _r.\"qty\" ELSE \"t0\".\"qty\" END FROM "
	    "pg_catalog.jsonb_array_elements($1::jsonb) AS _j(v), LATERAL "
	    "pg_catalog.jsonb_populate_record(NULL::\"public\".\"line_items\""
	    ", _j.v) AS _r WHERE \"t0\".\"order_id\" = _r.\"order_id\" AND "
	    "\"t0\".\"line\" = _r.\"line\" RETURNING 1"
	    MINIMAL_TAIL("NULL::bigint", "NULL::text"));
	kb_tables_plan_free(p);

	r.method = KB_TABLES_DELETE;
	r.table = "tasks";
	r.body = "[1,{\"id\":2},\"3\"]";
	p = must_plan(&r);
	assert_string_equal(p->sql, "WITH pgrst_source AS (DELETE FROM "
	    "\"public\".\"tasks\" AS \"t0\" USING "
	    "pg_catalog.jsonb_populate_recordset(NULL::\"public\".\"tasks\", "
	    "$1::jsonb) AS _r WHERE \"t0\".\"id\" = _r.\"id\" RETURNING 1"
	    MINIMAL_TAIL("NULL::bigint", "NULL::text"));
	assert_string_equal(joined(p),
	    "[{\"id\":1},{\"id\":2},{\"id\":\"3\"}]");
	kb_tables_plan_free(p);
}

/* A tenant reaches every table it touches: embeds and junctions. */
static void
tenant_everywhere(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_GET, "actors", NULL, 0,
				    "select=name,films(title)", NULL, NULL,
				    NULL, NULL,
				    "11111111-1111-1111-1111-111111111111" };

	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "WHERE EXISTS (SELECT 1 FROM "
	    "\"public\".\"roles\" AS \"t1_j\" WHERE \"t1_j\".\"film_id\" = "
	    "\"t1\".\"id\" AND \"t1_j\".\"actor_id\" = \"t0\".\"id\" AND "
	    "\"t1_j\".\"tenant_id\" = $1::uuid)"));
	assert_string_equal(joined(p),
	    "11111111-1111-1111-1111-111111111111");
	kb_tables_plan_free(p);
	/* Embedded tables with tenant_id, at every level. */
	r.table = "clients";
	r.query = "select=id,projects!client_id(id,tasks(id))";
	p = must_plan(&r);
	assert_non_null(strstr(p->sql, "WHERE \"t2\".\"project_id\" = "
	    "\"t1\".\"id\" AND \"t2\".\"tenant_id\" = $1::uuid"));
	assert_non_null(strstr(p->sql, "FROM \"public\".\"clients\" AS "
	    "\"t0\" WHERE \"t0\".\"tenant_id\" = $1::uuid"));
	kb_tables_plan_free(p);
}

static void
refused_requests(void **state)
{
	struct rq	r;

#define RQ(m_, t_, id_, bulk_, q_, body_)	\
	memset(&r, 0, sizeof(r)); r.method = (m_); r.table = (t_); \
	r.id = (id_); r.bulk = (bulk_); r.query = (q_); r.body = (body_)

	RQ(KB_TABLES_PATCH, "projects", NULL, 0, NULL, "{\"name\":\"a\"}");
	refused(&r, 400, "KB_NO_FILTER");
	RQ(KB_TABLES_DELETE, "projects", NULL, 0, "select=id", NULL);
	refused(&r, 400, "KB_NO_FILTER");
	/* A filter on an embed is not a filter on the table. */
	RQ(KB_TABLES_DELETE, "clients", NULL, 0,
	    "select=id,projects!client_id(id)&projects.id=eq.1", NULL);
	refused(&r, 400, "KB_NO_FILTER");
	RQ(KB_TABLES_DELETE, "projects", NULL, 0, "all=true", NULL);
	kb_tables_plan_free(must_plan(&r));
	RQ(KB_TABLES_GET, "tasks", NULL, 1, NULL, NULL);
	refused(&r, 405, "KB_METHOD");
	RQ(KB_TABLES_PUT, "tasks", NULL, 0, NULL, "{}");
	refused(&r, 405, "KB_METHOD");
	RQ(KB_TABLES_POST, "tasks", "1", 0, NULL, "{}");
	refused(&r, 405, "KB_METHOD");
	RQ(KB_TABLES_GET, "line_items", "1", 0, NULL, NULL);
	refused(&r, 400, "KB_COMPOSITE_PK");
	RQ(KB_TABLES_GET, "project_counts", "1", 0, NULL, NULL);
	refused(&r, 400, "KB_NO_PK");
	RQ(KB_TABLES_POST, "project_counts", NULL, 0, NULL, "{\"n\":1}");
	refused(&r, 405, "KB_READ_ONLY");
	RQ(KB_TABLES_POST, "clients", NULL, 0, NULL, NULL);
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_POST, "clients", NULL, 0, NULL, "[1]");
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_POST, "clients", NULL, 0, NULL,
	    "[{\"name\":\"a\"},{\"id\":1}]");
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_POST, "clients", NULL, 0, NULL, "{\"nope\":1}");
	refused(&r, 400, "PGRST204");
	RQ(KB_TABLES_POST, "shipments", NULL, 0, NULL, "{\"id\":1}");
	r.prefer = "resolution=merge-duplicates";
	kb_tables_plan_free(must_plan(&r));
	RQ(KB_TABLES_PATCH, "projects", NULL, 0, "id=eq.1", "[]");
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_PATCH, "projects", NULL, 0, "id=eq.1", "{}");
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_PATCH, "tasks", NULL, 1, NULL, "[{\"title\":\"x\"}]");
	refused(&r, 400, "KB_NO_PK");
	RQ(KB_TABLES_DELETE, "line_items", NULL, 1, NULL, "[1]");
	refused(&r, 400, "PGRST102");
	RQ(KB_TABLES_DELETE, "tasks", NULL, 1, NULL, "{\"id\":1}");
	refused(&r, 400, "PGRST102");
	/* The tenant's rows only. */
	RQ(KB_TABLES_POST, "tasks", NULL, 0, NULL,
	    "{\"project_id\":1,\"tenant_id\":\"22222222-2222-2222-2222-"
	    "222222222222\"}");
	r.tenant = "11111111-1111-1111-1111-111111111111";
	refused(&r, 403, "KB_TENANT");
	RQ(KB_TABLES_POST, "tasks", NULL, 0, NULL,
	    "{\"project_id\":1,\"tenant_id\":7}");
	r.tenant = "11111111-1111-1111-1111-111111111111";
	refused(&r, 403, "KB_TENANT");
	RQ(KB_TABLES_POST, "tasks", NULL, 0, NULL,
	    "{\"project_id\":1,\"tenant_id\":\"11111111-1111-1111-1111-"
	    "111111111111\"}");
	r.tenant = "11111111-1111-1111-1111-111111111111";
	kb_tables_plan_free(must_plan(&r));
	/* Media types. */
	RQ(KB_TABLES_GET, "tasks", NULL, 0, NULL, NULL);
	r.accept = "application/xml, text/html";
	refused(&r, 406, "PGRST107");
	RQ(KB_TABLES_POST, "clients", NULL, 0, NULL, "{\"name\":\"a\"}");
	r.accept = "text/csv";
	refused(&r, 406, "PGRST107");
	RQ(KB_TABLES_GET, "tasks", NULL, 0, NULL, NULL);
	r.range = "5-2";
	refused(&r, 416, "PGRST103");
#undef RQ
}

/* Content-Type of a response to `p` with a one-row result. */
static const char *
ctype_of(struct kb_tables_plan *p)
{
	static struct kb_tables_response	resp;
	struct kb_tables_result			res;
	size_t					i;

	memset(&res, 0, sizeof(res));
	res.page_total = "1";
	res.body = p->format == KB_TABLES_OBJECT ? "{}" : "[{}]";
	kb_tables_respond(p, &res, &resp);
	for (i = 0; i < resp.nheaders; i++)
		if (strcmp(resp.headers[i].name, "Content-Type") == 0)
			return (resp.headers[i].value);
	return ("");
}

/*
 * postgrest-js stripNulls(): Accept vnd.pgrst.array+json (or
 * object+json) with nulls=stripped, as PostgREST 11.2+: the body goes
 * through json_strip_nulls and says so in its Content-Type.
 */
static void
strip_nulls(void **state)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*p;
	struct kb_tables_error		 err;

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_GET;
	req.table = "clients";
	req.accept = "application/vnd.pgrst.array+json;nulls=stripped";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_int_equal(p->format, KB_TABLES_JSON);
	assert_true(p->strip_nulls);
	assert_non_null(strstr(p->sql, "pg_catalog.json_strip_nulls(COALESCE("
	    "pg_catalog.json_agg(_postgrest_t), '[]'))::text AS body"));
	assert_string_equal(ctype_of(p), "application/vnd.pgrst.array+json; "
	    "nulls=stripped; charset=utf-8");
	kb_tables_plan_free(p);

	req.accept = "application/vnd.pgrst.object+json; nulls=stripped";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_int_equal(p->format, KB_TABLES_OBJECT);
	assert_true(p->strip_nulls);
	assert_non_null(strstr(p->sql, "pg_catalog.min(pg_catalog."
	    "json_strip_nulls(pg_catalog.row_to_json(_postgrest_t))::text "
	    "COLLATE \"C\") AS body"));
	assert_string_equal(ctype_of(p), "application/vnd.pgrst.object+json; "
	    "nulls=stripped; charset=utf-8");
	kb_tables_plan_free(p);

	/* Without the parameter: plain JSON; the parameter elsewhere: no. */
	req.accept = "application/vnd.pgrst.array+json";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_false(p->strip_nulls);
	assert_null(strstr(p->sql, "json_strip_nulls"));
	kb_tables_plan_free(p);
	req.accept = "application/json, text/csv;nulls=stripped";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_int_equal(p->format, KB_TABLES_JSON);
	assert_false(p->strip_nulls);
	kb_tables_plan_free(p);
	req.accept = "application/xml;nulls=stripped";
	assert_null(kb_tables_plan(sample, &req, &err));
	assert_int_equal(err.status, 406);
}

static void
content_type_and_formats(void **state)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*p;
	struct kb_tables_error		 err;

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_POST;
	req.table = "clients";
	req.body = json_pack("{s:s}", "name", "a");
	req.content_type = "text/plain";
	assert_null(kb_tables_plan(sample, &req, &err));
	assert_int_equal(err.status, 415);
	req.content_type = "application/json; charset=utf-8";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	kb_tables_plan_free(p);
	json_decref(req.body);

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_GET;
	req.table = "clients";
	req.accept = "application/json;q=0.9, */*;q=0.1";
	p = kb_tables_plan(sample, &req, &err);
	assert_int_equal(p->format, KB_TABLES_JSON);
	kb_tables_plan_free(p);
	req.accept = "text/csv";
	req.query = "select=name,n:id";
	p = kb_tables_plan(sample, &req, &err);
	assert_int_equal(p->format, KB_TABLES_CSV);
	/* The header line is a parameter. */
	assert_string_equal(joined(p), "name,n");
	kb_tables_plan_free(p);
	req.accept = "application/vnd.pgrst.object+json";
	p = kb_tables_plan(sample, &req, &err);
	assert_int_equal(p->format, KB_TABLES_OBJECT);
	assert_non_null(strstr(p->sql, "pg_catalog.min(pg_catalog."
	    "row_to_json(_postgrest_t)::text COLLATE \"C\") AS body"));
	kb_tables_plan_free(p);

	/* Exports stream: one row per row. */
	req.accept = NULL;
	req.export = 1;
	req.export_format = "csv";
	req.query = "select=id,name&order=id";
	p = kb_tables_plan(sample, &req, &err);
	assert_true(p->stream);
	assert_string_equal(p->stream_head, "id,name\n");
	assert_string_equal(p->stream_sep, "\n");
	assert_string_equal(p->sql, "SELECT COALESCE(CASE WHEN "
	    "(_postgrest_t.\"id\")::text ~ '[\",\\r\\n]' THEN '\"' || "
	    "pg_catalog.replace((_postgrest_t.\"id\")::text, '\"', '\"\"') || "
	    "'\"' ELSE (_postgrest_t.\"id\")::text END, '') || ',' || "
	    "COALESCE(CASE WHEN (_postgrest_t.\"name\")::text ~ '[\",\\r\\n]' "
	    "THEN '\"' || pg_catalog.replace((_postgrest_t.\"name\")::text, "
	    "'\"', '\"\"') || '\"' ELSE (_postgrest_t.\"name\")::text END, '') "
	    "FROM (SELECT \"t0\".\"id\" AS \"id\", \"t0\".\"name\" AS "
	    "\"name\" FROM \"public\".\"clients\" AS \"t0\" ORDER BY "
	    "\"t0\".\"id\") AS _postgrest_t");
	kb_tables_plan_free(p);
	/* Without a format from the handler: ?format=, default JSON. */
	req.export_format = NULL;
	req.query = "select=id&format=csv";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_int_equal(p->format, KB_TABLES_CSV);
	kb_tables_plan_free(p);
	req.query = "select=id&format=xml";
	assert_null(kb_tables_plan(sample, &req, &err));
	assert_int_equal(err.status, 400);
	req.query = "select=id,name&order=id";
	req.export_format = "json";
	p = kb_tables_plan(sample, &req, &err);
	assert_string_equal(p->stream_head, "[");
	assert_string_equal(p->stream_tail, "]");
	assert_string_equal(p->sql, "SELECT pg_catalog.row_to_json("
	    "_postgrest_t)::text FROM (SELECT \"t0\".\"id\" AS \"id\", "
	    "\"t0\".\"name\" AS \"name\" FROM \"public\".\"clients\" AS "
	    "\"t0\" ORDER BY \"t0\".\"id\") AS _postgrest_t");
	kb_tables_plan_free(p);
}

/* The response to a GET of projects with a Range/limit and a count. */
static void
read_response(const char *query, const char *prefer, const char *range,
    const char *page_total, const char *total, int status,
    const char *content_range)
{
	struct kb_tables_plan		*p;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct rq			 r = { KB_TABLES_GET, "projects", NULL,
					    0, query, NULL, prefer, NULL,
					    range, NULL };
	const char			*cr = NULL;
	size_t				 i;

	p = must_plan(&r);
	memset(&res, 0, sizeof(res));
	res.page_total = page_total;
	res.total = total;
	res.body = "[]";
	res.plan = "[{\"Plan\": {\"Node Type\": \"Seq Scan\", "
	    "\"Plan Rows\": 5000}}]";
	kb_tables_respond(p, &res, &resp);
	for (i = 0; i < resp.nheaders; i++) {
		if (strcmp(resp.headers[i].name, "Content-Range") == 0)
			cr = resp.headers[i].value;
	}
	if (resp.status != status || cr == NULL ||
	    strcmp(cr, content_range) != 0)
		fail_msg("%s %s %s: %d %s, want %d %s", query,
		    prefer ? prefer : "", range ? range : "", resp.status,
		    cr ? cr : "(none)", status, content_range);
	assert_int_equal(resp.is_error, status >= 400);
	if (status == 416)
		assert_string_equal(resp.error.code, "PGRST103");
	else
		assert_string_equal(resp.body, "[]");
	kb_tables_plan_free(p);
}

static void
ranges_and_counts(void **state)
{
	read_response(NULL, NULL, NULL, "4", NULL, 200, "0-3/*");
	read_response(NULL, NULL, NULL, "0", NULL, 200, "*/*");
	read_response("limit=2", "count=exact", NULL, "2", "4", 206, "0-1/4");
	/* Any page short of the whole is partial, the last one too. */
	read_response("limit=2&offset=2", "count=exact", NULL, "2", "4", 206,
	    "2-3/4");
	read_response("limit=2&offset=1", "count=exact", NULL, "2", "4", 206,
	    "1-2/4");
	read_response(NULL, "count=exact", "0-1", "2", "4", 206, "0-1/4");
	read_response(NULL, "count=exact", "items=2-", "2", "4", 206, "2-3/4");
	read_response("offset=1", "count=exact", "0-1", "1", "4", 206,
	    "1-1/4");
	read_response(NULL, "count=exact", "10-20", "0", "4", 416, "*/4");
	read_response("offset=4", "count=exact", NULL, "0", "4", 206, "*/4");
	read_response(NULL, "count=exact", NULL, "0", "0", 200, "*/0");
	read_response(NULL, "count=planned", NULL, "4", NULL, 206,
	    "0-3/5000");
	read_response(NULL, "count=estimated", NULL, "4", "4", 200, "0-3/4");
	read_response(NULL, "count=estimated", NULL, "4", "1001", 206,
	    "0-3/5000");
	/* A Range that is not one is ignored, as PostgREST does. */
	read_response(NULL, NULL, "bytes=0-1", "4", NULL, 200, "0-3/*");
	read_response(NULL, NULL, "0-9223372036854775807", "4", NULL, 200,
	    "0-3/*");
	read_response(NULL, NULL, "9223372036854775807-", "4", NULL, 200,
	    "0-3/*");
	read_response(NULL, NULL, "99999999999999999999-1", "4", NULL, 200,
	    "0-3/*");
	read_response("offset=1000000000000", "count=exact", "0-", "0", "4",
	    416, "*/4");
}

static void
object_and_by_id_responses(void **state)
{
	struct kb_tables_plan		*p;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct rq			 r = { KB_TABLES_GET, "projects", NULL,
					    0, NULL, NULL, NULL,
					    "application/vnd.pgrst.object+json",
					    NULL, NULL };

	p = must_plan(&r);
	memset(&res, 0, sizeof(res));
	res.page_total = "2";
	res.body = "{}";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 406);
	assert_string_equal(resp.error.code, "PGRST116");
	assert_string_equal(resp.error.details, "The result contains 2 rows");
	assert_null(resp.body);
	res.page_total = "1";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "{}");
	assert_int_equal(resp.body_len, 2);
	assert_string_equal(resp.headers[resp.nheaders - 1].value,
	    "application/vnd.pgrst.object+json; charset=utf-8");
	kb_tables_plan_free(p);

	r.id = "7";
	r.accept = NULL;
	p = must_plan(&r);
	res.page_total = "0";
	res.body = NULL;
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 404);
	assert_string_equal(resp.error.code, "KB_NOT_FOUND");
	kb_tables_plan_free(p);

	r.method = KB_TABLES_HEAD;
	r.id = NULL;
	p = must_plan(&r);
	res.page_total = "1";
	res.body = NULL;
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 200);
	assert_null(resp.body);
	assert_null(strstr(p->sql, "json_agg"));
	kb_tables_plan_free(p);
}

/* Whether `r`'s plan has a batch form. */
static int
batched(const struct rq *r)
{
	struct kb_tables_plan	*p;
	int			 yes;

	p = must_plan(r);
	yes = p->batch_sql != NULL;
	kb_tables_plan_free(p);
	return (yes);
}

/* Which plans others can join (kb_db.c coalesces reads by id). */
static void
batch_forms(void **state)
{
	struct kb_tables_plan	*p;
	struct rq		 r = { KB_TABLES_GET, "projects", "7", 0,
				    "select=id,name", NULL, NULL, NULL, NULL,
				    NULL };

	(void)state;
	p = must_plan(&r);
	assert_non_null(p->batch_sql);
	assert_string_equal(p->params[0], "7");
	assert_non_null(strstr(p->batch_sql,
	    "pg_catalog.unnest($1::integer[]) WITH ORDINALITY AS kb_k(k, n)"));
	assert_non_null(strstr(p->batch_sql, "\"t0\".\"id\" = kb_k.k"));
	assert_null(strstr(p->batch_sql, "$1::integer)"));
	assert_non_null(strstr(p->batch_sql, "ORDER BY kb_k.n"));
	kb_tables_plan_free(p);

	/* A tenant's read by id: its other values stay parameters. */
	r.tenant = "11111111-1111-1111-1111-111111111111";
	r.table = "tasks";
	r.query = NULL;
	p = must_plan(&r);
	assert_non_null(p->batch_sql);
	assert_true(p->nparams >= 2);
	kb_tables_plan_free(p);
	r.tenant = NULL;
	r.table = "projects";

	/* Not a read by id, or not a plain one: no batch form. */
	r.id = NULL;
	assert_false(batched(&r));
	r.id = "7";
	r.prefer = "count=planned";
	assert_false(batched(&r));
	r.prefer = NULL;
	r.method = KB_TABLES_PATCH;
	r.query = NULL;
	r.body = "{\"name\":\"x\"}";
	assert_false(batched(&r));
	r.method = KB_TABLES_DELETE;
	r.body = NULL;
	assert_false(batched(&r));
}

static const char *
header(const struct kb_tables_response *resp, const char *name)
{
	size_t	i;

	for (i = 0; i < resp->nheaders; i++) {
		if (strcmp(resp->headers[i].name, name) == 0)
			return (resp->headers[i].value);
	}
	return (NULL);
}

static void
write_responses(void **state)
{
	struct kb_tables_plan		*p;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct rq			 r = { KB_TABLES_POST, "line_items",
					    NULL, 0, NULL,
					    "{\"order_id\":1,\"line\":2}",
					    "return=headers-only", NULL, NULL,
					    NULL };

	p = must_plan(&r);
	memset(&res, 0, sizeof(res));
	res.page_total = "1";
	res.location = "[1, \"a b&c=d\"]";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 201);
	assert_null(resp.body);
	assert_non_null(header(&resp, "Location"));
	assert_string_equal(header(&resp, "Location"), "/api/v1/tables/"
	    "line_items?order_id=eq.1&line=eq.a%20b%26c%3Dd");
	/* The table name is encoded too. */
	p->table = kb_schema_table(sample, NULL, "weird \"name\"");
	res.location = "[1]";
	kb_tables_respond(p, &res, &resp);
	assert_string_equal(header(&resp, "Location"), "/api/v1/tables/"
	    "weird%20%22name%22?a%20b=eq.1");
	p->table = kb_schema_table(sample, NULL, "line_items");
	/* Two rows: no Location. */
	res.page_total = "2";
	kb_tables_respond(p, &res, &resp);
	assert_null(header(&resp, "Location"));
	kb_tables_plan_free(p);
	res.page_total = "1";

	r.prefer = "return=representation,count=exact";
	p = must_plan(&r);
	res.page_total = "2";
	res.total = "2";
	res.body = "[{},{}]";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 201);
	assert_string_equal(resp.body, "[{},{}]");
	assert_null(header(&resp, "Location"));
	assert_non_null(header(&resp, "Content-Range"));
	assert_string_equal(header(&resp, "Content-Range"), "0-1/2");
	assert_string_equal(header(&resp, "Preference-Applied"),
	    "return=representation, count=exact");
	kb_tables_plan_free(p);

	r.method = KB_TABLES_PATCH;
	r.query = "qty=gt.1";
	r.body = "{\"qty\":1}";
	r.prefer = NULL;
	p = must_plan(&r);
	res.body = NULL;
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 204);
	assert_null(resp.body);
	kb_tables_plan_free(p);
	r.prefer = "return=representation";
	p = must_plan(&r);
	res.body = "[]";
	res.page_total = "0";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "[]");
	kb_tables_plan_free(p);

	r.method = KB_TABLES_DELETE;
	r.table = "tasks";
	r.id = "3";
	r.query = NULL;
	r.body = NULL;
	r.prefer = "count=exact";
	p = must_plan(&r);
	res.page_total = "1";
	res.body = NULL;
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 204);
	assert_string_equal(header(&resp, "Content-Range"), "*/1");
	res.page_total = "0";
	kb_tables_respond(p, &res, &resp);
	assert_int_equal(resp.status, 404);
	kb_tables_plan_free(p);
}

static void
error_status(void **state)
{
	static const struct {
		const char	*state;
		int		 anon, status;
	} cases[] = {
		{ "23505", 0, 409 }, { "23503", 0, 409 }, { "23502", 0, 400 },
		{ "23514", 0, 400 }, { "22P02", 0, 400 }, { "22001", 0, 400 },
		{ "42501", 1, 401 }, { "42501", 0, 403 }, { "42P01", 0, 404 },
		{ "42883", 0, 404 }, { "42703", 0, 400 }, { "42P17", 0, 500 },
		{ "P0001", 0, 400 }, { "P0002", 0, 400 }, { "08006", 0, 503 },
		{ "53300", 0, 503 }, { "57014", 0, 408 }, { "40001", 0, 409 },
		{ "40P01", 0, 409 }, { "55P03", 0, 409 }, { "54001", 0, 400 },
		{ "57P01", 0, 503 },
		{ "25006", 0, 405 }, { "28000", 0, 403 }, { "0L000", 0, 403 },
		{ "XX000", 0, 500 }, { "PT404", 0, 404 }, { "PT999", 0, 500 },
		{ "PTabc", 0, 400 }, { "", 0, 500 }, { "123456", 0, 500 },
	};
	struct kb_tables_error	 err;
	json_t			*j;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (kb_tables_error_status(cases[i].state, cases[i].anon) !=
		    cases[i].status)
			fail_msg("%s: %d, want %d", cases[i].state,
			    kb_tables_error_status(cases[i].state,
			    cases[i].anon), cases[i].status);
	}
	assert_int_equal(kb_tables_error_status(NULL, 0), 500);

	kb_tables_pg_error(&err, "23505", "duplicate key", "Key (id)=(1)",
	    NULL, 0);
	assert_int_equal(err.status, 409);
	assert_string_equal(err.code, "23505");
	j = kb_tables_error_json(&err);
	assert_string_equal(json_string_value(json_object_get(j, "message")),
	    "duplicate key");
	assert_string_equal(json_string_value(json_object_get(j, "details")),
	    "Key (id)=(1)");
	assert_true(json_is_null(json_object_get(j, "hint")));
	assert_string_equal(json_string_value(json_object_get(j, "error")),
	    "duplicate key");
	json_decref(j);
	/* A message cut inside a UTF-8 sequence still makes valid JSON. */
	kb_tables_pg_error(&err, "22P02", "bad \xc3", NULL, "h", 0);
	j = kb_tables_error_json(&err);
	assert_string_equal(json_string_value(json_object_get(j, "message")),
	    "bad ?");
	assert_string_equal(json_string_value(json_object_get(j, "hint")),
	    "h");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(insert_statements),
		cmocka_unit_test(ordered_representation),
		cmocka_unit_test(upsert_status),
		cmocka_unit_test(not_one_row),
		cmocka_unit_test(max_affected),
		cmocka_unit_test(profiles),
		cmocka_unit_test(put_by_id),
		cmocka_unit_test(update_and_delete_statements),
		cmocka_unit_test(tenant_everywhere),
		cmocka_unit_test(refused_requests),
		cmocka_unit_test(content_type_and_formats),
		cmocka_unit_test(strip_nulls),
		cmocka_unit_test(ranges_and_counts),
		cmocka_unit_test(object_and_by_id_responses),
		cmocka_unit_test(batch_forms),
		cmocka_unit_test(write_responses),
		cmocka_unit_test(error_status),
	};

	return (cmocka_run_group_tests_name("tables/respond", tests, setup,
	    teardown));
}
