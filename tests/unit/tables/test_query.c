/*
 * korebase tables tests: the query grammar, query string -> SQL and
 * parameters (golden), and malformed or hostile input -> a clean 4xx.
 * That the SQL runs and means what it should is live.cases' job.
 */

#include "kb_tables_test.h"
#include "kb_tables.h"
#include "kb_arena.h"

static struct kb_catalog	*sample;

static void	rejected(const char *, const char *, int, const char *);

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

static struct kb_tables_plan *
plan_get(const char *table, const char *query, struct kb_tables_error *err)
{
	struct kb_tables_request	req;

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_GET;
	req.table = table;
	req.query = query;
	return (kb_tables_plan(sample, &req, err));
}

/* The params joined by '|' (NULL as \N), in a static buffer. */
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

#define READ_HEAD	"WITH pgrst_source AS (SELECT \"t0\".\"id\" AS " \
			"\"id\" FROM \"public\".\"projects\" AS \"t0\" WHERE "
#define READ_TAIL	") SELECT NULL::bigint AS total_result_set, " \
			"pg_catalog.count(*) AS page_total, COALESCE(" \
			"pg_catalog.json_agg(_postgrest_t), '[]')::text AS " \
			"body, NULL::text AS location FROM (SELECT * FROM " \
			"pgrst_source) AS _postgrest_t"

/* `select=id&<filter>` on projects: its WHERE and params. */
static void
where_is(const char *filter, const char *where, const char *params)
{
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;
	char			 q[2048], want[4096];

	snprintf(q, sizeof(q), "select=id&%s", filter);
	if ((p = plan_get("projects", q, &err)) == NULL)
		fail_msg("%s: %d %s %s", filter, err.status, err.code,
		    err.message);
	snprintf(want, sizeof(want), "%s%s%s", READ_HEAD, where, READ_TAIL);
	if (strcmp(p->sql, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", filter, p->sql, want);
	if (strcmp(joined(p), params) != 0)
		fail_msg("%s: params %s, want %s", filter, joined(p), params);
	kb_tables_plan_free(p);
}

static void
comparison_operators(void **state)
{
	where_is("name=eq.x", "(\"t0\".\"name\" = $1::text)", "x");
	where_is("id=neq.1", "(\"t0\".\"id\" <> $1::integer)", "1");
	where_is("id=gt.1", "(\"t0\".\"id\" > $1::integer)", "1");
	where_is("id=gte.1", "(\"t0\".\"id\" >= $1::integer)", "1");
	where_is("id=lt.1", "(\"t0\".\"id\" < $1::integer)", "1");
	where_is("id=lte.1", "(\"t0\".\"id\" <= $1::integer)", "1");
	where_is("budget=eq.1.5", "(\"t0\".\"budget\" = $1::numeric(10,2))",
	    "1.5");
	where_is("created_at=lt.2024-01-01T00:00:00Z",
	    "(\"t0\".\"created_at\" < $1::timestamp with time zone)",
	    "2024-01-01T00:00:00Z");
	where_is("feeling=eq.happy", "(\"t0\".\"feeling\" = $1::mood)",
	    "happy");
	where_is("stars=eq.3", "(\"t0\".\"stars\" = $1::posint)", "3");
	/* A value is anything after the first dot, dots included. */
	where_is("name=eq.a.b.c", "(\"t0\".\"name\" = $1::text)", "a.b.c");
	where_is("name=eq.", "(\"t0\".\"name\" = $1::text)", "");
	where_is("id=isdistinct.1",
	    "(\"t0\".\"id\" IS DISTINCT FROM $1::integer)", "1");
	where_is("id=gt.1&id=lt.5", "(\"t0\".\"id\" > $1::integer) AND "
	    "(\"t0\".\"id\" < $2::integer)", "1|5");
}

static void
pattern_operators(void **state)
{
	where_is("name=like.*a*", "(\"t0\".\"name\" LIKE $1::text)", "%a%");
	where_is("name=ilike.A%25", "(\"t0\".\"name\" ILIKE $1::text)", "A%");
	where_is("name=match.^a.*", "(\"t0\".\"name\" ~ $1::text)", "^a.*");
	where_is("name=imatch.^A", "(\"t0\".\"name\" ~* $1::text)", "^A");
	/* '*' is a wildcard for like only. */
	where_is("name=eq.*", "(\"t0\".\"name\" = $1::text)", "*");
	where_is("name=like(any).{a*,b*}", "(\"t0\".\"name\" LIKE ANY "
	    "(ARRAY[$1::text, $2::text]))", "a%|b%");
	where_is("name=ilike(all).{*a*,\"*,*\"}", "(\"t0\".\"name\" ILIKE "
	    "ALL (ARRAY[$1::text, $2::text]))", "%a%|%,%");
	where_is("id=eq(any).{1,2}", "(\"t0\".\"id\" = ANY "
	    "(ARRAY[$1::integer, $2::integer]))", "1|2");
}

static void
in_and_is(void **state)
{
	where_is("id=in.(1,2,3)", "(\"t0\".\"id\" IN ($1::integer, "
	    "$2::integer, $3::integer))", "1|2|3");
	where_is("name=in.(\"a,b\",\"c\\\"d\",e,\"(x)\")",
	    "(\"t0\".\"name\" IN ($1::text, $2::text, $3::text, $4::text))",
	    "a,b|c\"d|e|(x)");
	where_is("name=in.(\"\")", "(\"t0\".\"name\" IN ($1::text))", "");
	where_is("id=in.()", "(false)", "");
	where_is("id=not.in.(1)", "NOT (\"t0\".\"id\" IN ($1::integer))",
	    "1");
	where_is("client_id=is.null", "(\"t0\".\"client_id\" IS NULL)", "");
	where_is("client_id=is.NULL", "(\"t0\".\"client_id\" IS NULL)", "");
	where_is("client_id=is.not_null",
	    "(\"t0\".\"client_id\" IS NOT NULL)", "");
	where_is("client_id=not.is.null",
	    "NOT (\"t0\".\"client_id\" IS NULL)", "");
	where_is("name=is.true", "(\"t0\".\"name\" IS TRUE)", "");
	where_is("name=is.false", "(\"t0\".\"name\" IS FALSE)", "");
	where_is("name=is.unknown", "(\"t0\".\"name\" IS UNKNOWN)", "");
}

static void
text_search(void **state)
{
	where_is("search=fts.moon",
	    "(\"t0\".\"search\" @@ pg_catalog.to_tsquery($1::text))", "moon");
	where_is("search=fts(english).moon", "(\"t0\".\"search\" @@ "
	    "pg_catalog.to_tsquery($1::pg_catalog.regconfig, $2::text))",
	    "english|moon");
	where_is("search=plfts.a+b", "(\"t0\".\"search\" @@ "
	    "pg_catalog.plainto_tsquery($1::text))", "a b");
	where_is("search=phfts(simple).a%20b", "(\"t0\".\"search\" @@ "
	    "pg_catalog.phraseto_tsquery($1::pg_catalog.regconfig, "
	    "$2::text))", "simple|a b");
	where_is("search=wfts.a+or+b", "(\"t0\".\"search\" @@ "
	    "pg_catalog.websearch_to_tsquery($1::text))", "a or b");
	where_is("search=not.fts.x", "NOT (\"t0\".\"search\" @@ "
	    "pg_catalog.to_tsquery($1::text))", "x");
	/* Text columns go through to_tsvector. */
	where_is("name=fts(english).x", "(pg_catalog.to_tsvector("
	    "$1::pg_catalog.regconfig, \"t0\".\"name\") @@ "
	    "pg_catalog.to_tsquery($2::pg_catalog.regconfig, $3::text))",
	    "english|english|x");
	where_is("name=fts.x", "(pg_catalog.to_tsvector(\"t0\".\"name\") @@ "
	    "pg_catalog.to_tsquery($1::text))", "x");
}

static void
array_range_json_operators(void **state)
{
	where_is("tags=cs.{a,b}", "(\"t0\".\"tags\" @> $1::text[])", "{a,b}");
	where_is("tags=cd.{a}", "(\"t0\".\"tags\" <@ $1::text[])", "{a}");
	where_is("tags=ov.{a,\"b c\"}", "(\"t0\".\"tags\" && $1::text[])",
	    "{a,\"b c\"}");
	where_is("meta=cs.{\"a\":1}", "(\"t0\".\"meta\" @> $1::jsonb)",
	    "{\"a\":1}");
	where_is("period=sl.[1,2)",
	    "(\"t0\".\"period\" << $1::tstzrange)", "[1,2)");
	where_is("period=sr.(1,2]",
	    "(\"t0\".\"period\" >> $1::tstzrange)", "(1,2]");
	where_is("period=nxr.[1,2]",
	    "(\"t0\".\"period\" &< $1::tstzrange)", "[1,2]");
	where_is("period=nxl.[1,2]",
	    "(\"t0\".\"period\" &> $1::tstzrange)", "[1,2]");
	where_is("period=adj.[1,2]",
	    "(\"t0\".\"period\" -|- $1::tstzrange)", "[1,2]");
	where_is("period=ov.[1,2]",
	    "(\"t0\".\"period\" && $1::tstzrange)", "[1,2]");
}

static void
json_paths(void **state)
{
	where_is("meta->a->>b=eq.1",
	    "(\"t0\".\"meta\"->$1::text->>$2::text = $3::text)", "a|b|1");
	where_is("meta->a->b=eq.2",
	    "(\"t0\".\"meta\"->$1::text->$2::text = $3::jsonb)", "a|b|2");
	where_is("meta->n->0=eq.1",
	    "(\"t0\".\"meta\"->$1::text->(0) = $2::jsonb)", "n|1");
	where_is("meta->n->>-1=eq.3",
	    "(\"t0\".\"meta\"->$1::text->>(-1) = $2::text)", "n|3");
	/* A key is a value: never SQL text. */
	where_is("meta->>a');drop table x;--=eq.1",
	    "(\"t0\".\"meta\"->>$1::text = $2::text)",
	    "a');drop table x;--|1");
	where_is("meta->>\"a.b\"=eq.1",
	    "(\"t0\".\"meta\"->>$1::text = $2::text)", "a.b|1");
}

static void
logic_trees(void **state)
{
	where_is("or=(id.eq.1,name.eq.x)", "((\"t0\".\"id\" = $1::integer) "
	    "OR (\"t0\".\"name\" = $2::text))", "1|x");
	where_is("and=(id.gt.1,id.lt.3)", "((\"t0\".\"id\" > $1::integer) "
	    "AND (\"t0\".\"id\" < $2::integer))", "1|3");
	where_is("not.or=(id.eq.1,id.eq.2)", "NOT ((\"t0\".\"id\" = "
	    "$1::integer) OR (\"t0\".\"id\" = $2::integer))", "1|2");
	where_is("not.and=(id.eq.1,id.eq.2)", "NOT ((\"t0\".\"id\" = "
	    "$1::integer) AND (\"t0\".\"id\" = $2::integer))", "1|2");
	where_is("or=(id.eq.1,and(id.gt.2,name.not.like.D*))",
	    "((\"t0\".\"id\" = $1::integer) OR ((\"t0\".\"id\" > "
	    "$2::integer) AND NOT (\"t0\".\"name\" LIKE $3::text)))",
	    "1|2|D%");
	where_is("or=(id.eq.1,not.and(id.gt.2,or(id.lt.0,id.is.null)))",
	    "((\"t0\".\"id\" = $1::integer) OR NOT ((\"t0\".\"id\" > "
	    "$2::integer) AND ((\"t0\".\"id\" < $3::integer) OR "
	    "(\"t0\".\"id\" IS NULL))))", "1|2|0");
	where_is("or=(name.eq.\"a,b)\",name.eq.c)", "((\"t0\".\"name\" = "
	    "$1::text) OR (\"t0\".\"name\" = $2::text))", "a,b)|c");
	where_is("or=(name.in.(a,\"b,c\"),tags.cs.{x,y})",
	    "((\"t0\".\"name\" IN ($1::text, $2::text)) OR "
	    "(\"t0\".\"tags\" @> $3::text[]))", "a|b,c|{x,y}");
	where_is("or=(meta.cs.{\"a\":{\"b\":1}},meta->>x.eq.1)",
	    "((\"t0\".\"meta\" @> $1::jsonb) OR (\"t0\".\"meta\"->>$2::text "
	    "= $3::text))", "{\"a\":{\"b\":1}}|x|1");
	where_is("or=(search.fts(english).a,name.like(any).{x*,y*})",
	    "((\"t0\".\"search\" @@ pg_catalog.to_tsquery("
	    "$1::pg_catalog.regconfig, $2::text)) OR (\"t0\".\"name\" LIKE "
	    "ANY (ARRAY[$3::text, $4::text])))", "english|a|x%|y%");
	where_is("or=(name.eq.,name.is.null)", "((\"t0\".\"name\" = "
	    "$1::text) OR (\"t0\".\"name\" IS NULL))", "");
	where_is("id=eq.1&or=(id.eq.2)", "(\"t0\".\"id\" = $1::integer) AND "
	    "((\"t0\".\"id\" = $2::integer))", "1|2");
}

/* The reference's form: col.op=value. */
static void
short_form(void **state)
{
	where_is("id.gte=18", "(\"t0\".\"id\" >= $1::integer)", "18");
	where_is("client_id.is=null", "(\"t0\".\"client_id\" IS NULL)", "");
	where_is("id.not.eq=1", "NOT (\"t0\".\"id\" = $1::integer)", "1");
	where_is("id.in=1,2", "(\"t0\".\"id\" IN ($1::integer, "
	    "$2::integer))", "1|2");
	where_is("id.in=(1,2)", "(\"t0\".\"id\" IN ($1::integer, "
	    "$2::integer))", "1|2");
	where_is("name.like=a*", "(\"t0\".\"name\" LIKE $1::text)", "a%");
	where_is("search.fts(english)=moon", "(\"t0\".\"search\" @@ "
	    "pg_catalog.to_tsquery($1::pg_catalog.regconfig, $2::text))",
	    "english|moon");
	/* The value is taken whole: "eq.x" is the text "eq.x". */
	where_is("name.eq=eq.x", "(\"t0\".\"name\" = $1::text)", "eq.x");
	where_is("id.gte=18&name=eq.x", "(\"t0\".\"id\" >= $1::integer) AND "
	    "(\"t0\".\"name\" = $2::text)", "18|x");
}

static void
percent_decoding(void **state)
{
	where_is("name=eq.a%20b+c", "(\"t0\".\"name\" = $1::text)", "a b c");
	where_is("name=eq.%2B%26%3D%25", "(\"t0\".\"name\" = $1::text)",
	    "+&=%");
	where_is("na%6De=eq.x", "(\"t0\".\"name\" = $1::text)", "x");
	where_is("name=eq.%C3%A9", "(\"t0\".\"name\" = $1::text)",
	    "\xc3\xa9");
	where_is("or=%28id.eq.1%2Cid.eq.2%29", "((\"t0\".\"id\" = "
	    "$1::integer) OR (\"t0\".\"id\" = $2::integer))", "1|2");
}

/* Whole statements: select lists, embedding, order, limit, counts. */
static void
sql_is(const char *table, const char *query, const char *sql,
    const char *params)
{
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;

	if ((p = plan_get(table, query, &err)) == NULL)
		fail_msg("%s: %d %s %s", query, err.status, err.code,
		    err.message);
	if (strcmp(p->sql, sql) != 0)
		fail_msg("%s:\n got  %s\n want %s", query, p->sql, sql);
	if (strcmp(joined(p), params) != 0)
		fail_msg("%s: params %s, want %s", query, joined(p), params);
	kb_tables_plan_free(p);
}

#define SRC(x)	"WITH pgrst_source AS (SELECT " x ") SELECT NULL::bigint " \
		"AS total_result_set, pg_catalog.count(*) AS page_total, " \
		"COALESCE(pg_catalog.json_agg(_postgrest_t), '[]')::text AS " \
		"body, NULL::text AS location FROM (SELECT * FROM " \
		"pgrst_source) AS _postgrest_t"

static void
select_lists(void **state)
{
	sql_is("clients", NULL, SRC("\"t0\".\"id\" AS \"id\", \"t0\".\"name\""
	    " AS \"name\", \"t0\".\"tenant_id\" AS \"tenant_id\" FROM "
	    "\"public\".\"clients\" AS \"t0\""), "");
	sql_is("clients", "select=*", SRC("\"t0\".\"id\" AS \"id\", "
	    "\"t0\".\"name\" AS \"name\", \"t0\".\"tenant_id\" AS "
	    "\"tenant_id\" FROM \"public\".\"clients\" AS \"t0\""), "");
	sql_is("projects", "select=n:name,budget::text,b:meta->a->>b,"
	    "meta->n->-1::int", SRC("\"t0\".\"name\" AS \"n\", "
	    "\"t0\".\"budget\"::text AS \"budget\", \"t0\".\"meta\"->$1::text"
	    "->>$2::text AS \"b\", (\"t0\".\"meta\"->$3::text->(-1))::integer"
	    " AS \"n\" FROM \"public\".\"projects\" AS \"t0\""), "a|b|n");
	/* Aliases are identifiers: quoted, quotes doubled. */
	sql_is("projects", "select=\"a\"\"b\":id,x%22y:name",
	    SRC("\"t0\".\"id\" AS \"a\"\"b\", \"t0\".\"name\" AS \"x\"\"y\" "
	    "FROM \"public\".\"projects\" AS \"t0\""), "");
	sql_is("weird \"name\"", "select=\"a b\",\"x\"\"y\"&\"a b\"=eq.1",
	    SRC("\"t0\".\"a b\" AS \"a b\", \"t0\".\"x\"\"y\" AS \"x\"\"y\" "
	    "FROM \"public\".\"weird \"\"name\"\"\" AS \"t0\" WHERE "
	    "(\"t0\".\"a b\" = $1::integer)"), "1");
}

/*
 * A JSON path is named after its last key, never an index: PostgREST
 * answers select=meta->tags->0 as {"tags": ..} and data->1 as {"data": ..}
 * (postgrest-js types rely on it).
 */
static void
json_path_names(void **state)
{
	sql_is("projects", "select=meta->tags->0,meta->>1,x:meta->a->>2",
	    SRC("\"t0\".\"meta\"->$1::text->(0) AS \"tags\", "
	    "\"t0\".\"meta\"->>(1) AS \"meta\", \"t0\".\"meta\"->$2::text->>(2)"
	    " AS \"x\" FROM \"public\".\"projects\" AS \"t0\""), "tags|a");
}

static void
embedding(void **state)
{
	sql_is("projects", "select=id,client:clients!client_id(name)",
	    SRC("\"t0\".\"id\" AS \"id\", (SELECT pg_catalog.row_to_json("
	    "\"t1_r\") FROM (SELECT \"t1\".\"name\" AS \"name\" FROM "
	    "\"public\".\"clients\" AS \"t1\" WHERE \"t1\".\"id\" = "
	    "\"t0\".\"client_id\") AS \"t1_r\") AS \"client\" FROM "
	    "\"public\".\"projects\" AS \"t0\""), "");
	sql_is("clients", "select=name,projects!client_id(name)"
	    "&projects.name=like.A*&projects.order=name.desc"
	    "&projects.limit=2&projects.offset=1",
	    SRC("\"t0\".\"name\" AS \"name\", (SELECT COALESCE("
	    "pg_catalog.json_agg(\"t1_r\"), '[]') FROM (SELECT \"t1\".\"name\""
	    " AS \"name\" FROM \"public\".\"projects\" AS \"t1\" WHERE "
	    "\"t1\".\"client_id\" = \"t0\".\"id\" AND (\"t1\".\"name\" LIKE "
	    "$1::text) ORDER BY \"t1\".\"name\" DESC LIMIT 2 OFFSET 1) AS "
	    "\"t1_r\") AS \"projects\" FROM \"public\".\"clients\" AS \"t0\""),
	    "A%");
	sql_is("clients", "select=name,p:projects!client_id!inner(id)"
	    "&p.id=eq.1", SRC("\"t0\".\"name\" AS \"name\", (SELECT COALESCE("
	    "pg_catalog.json_agg(\"t1_r\"), '[]') FROM (SELECT \"t1\".\"id\" "
	    "AS \"id\" FROM \"public\".\"projects\" AS \"t1\" WHERE "
	    "\"t1\".\"client_id\" = \"t0\".\"id\" AND (\"t1\".\"id\" = "
	    "$1::integer)) AS \"t1_r\") AS \"p\" FROM \"public\".\"clients\" "
	    "AS \"t0\" WHERE EXISTS (SELECT 1 FROM \"public\".\"projects\" AS "
	    "\"t1\" WHERE \"t1\".\"client_id\" = \"t0\".\"id\" AND "
	    "(\"t1\".\"id\" = $1::integer))"), "1");
	/* rel!inner(): a filter, no key in the output. */
	sql_is("clients", "select=name,projects!client_id!inner()",
	    SRC("\"t0\".\"name\" AS \"name\" FROM \"public\".\"clients\" AS "
	    "\"t0\" WHERE EXISTS (SELECT 1 FROM \"public\".\"projects\" AS "
	    "\"t1\" WHERE \"t1\".\"client_id\" = \"t0\".\"id\")"), "");
	/* rel=is.null / rel=not.is.null: an anti-join / a semi-join. */
	sql_is("clients", "select=name,projects!client_id(id)"
	    "&projects=is.null", SRC("\"t0\".\"name\" AS \"name\", (SELECT "
	    "COALESCE(pg_catalog.json_agg(\"t1_r\"), '[]') FROM (SELECT "
	    "\"t1\".\"id\" AS \"id\" FROM \"public\".\"projects\" AS \"t1\" "
	    "WHERE \"t1\".\"client_id\" = \"t0\".\"id\") AS \"t1_r\") AS "
	    "\"projects\" FROM \"public\".\"clients\" AS \"t0\" WHERE NOT "
	    "EXISTS (SELECT 1 FROM \"public\".\"projects\" AS \"t1\" WHERE "
	    "\"t1\".\"client_id\" = \"t0\".\"id\")"), "");
	/* ... and inside a logic tree, or=(rel.is.null,...). */
	sql_is("clients", "select=name,projects!client_id(id)"
	    "&or=(projects.is.null,name.eq.x)", SRC("\"t0\".\"name\" AS "
	    "\"name\", (SELECT COALESCE(pg_catalog.json_agg(\"t1_r\"), '[]')"
	    " FROM (SELECT \"t1\".\"id\" AS \"id\" FROM "
	    "\"public\".\"projects\" AS \"t1\" WHERE \"t1\".\"client_id\" = "
	    "\"t0\".\"id\") AS \"t1_r\") AS \"projects\" FROM "
	    "\"public\".\"clients\" AS \"t0\" WHERE (NOT EXISTS (SELECT 1 "
	    "FROM \"public\".\"projects\" AS \"t1\" WHERE "
	    "\"t1\".\"client_id\" = \"t0\".\"id\") OR (\"t0\".\"name\" = "
	    "$1::text))"), "x");
	rejected("clients", "select=name,projects!client_id(id)"
	    "&or=(projects.eq.1,name.eq.x)", 400, "PGRST100");
	/* Composite foreign keys join on every column. */
	sql_is("shipments", "select=id,line_items(qty)",
	    SRC("\"t0\".\"id\" AS \"id\", (SELECT pg_catalog.row_to_json("
	    "\"t1_r\") FROM (SELECT \"t1\".\"qty\" AS \"qty\" FROM "
	    "\"public\".\"line_items\" AS \"t1\" WHERE \"t1\".\"order_id\" = "
	    "\"t0\".\"order_id\" AND \"t1\".\"line\" = \"t0\".\"line\") AS "
	    "\"t1_r\") AS \"line_items\" FROM \"public\".\"shipments\" AS "
	    "\"t0\""), "");
	/* A spread: the to-one's columns inline. */
	sql_is("projects", "select=id,...clients!client_id(client:name,id)",
	    SRC("\"t0\".\"id\" AS \"id\", (SELECT \"t1\".\"name\" FROM "
	    "\"public\".\"clients\" AS \"t1\" WHERE \"t1\".\"id\" = "
	    "\"t0\".\"client_id\") AS \"client\", (SELECT \"t1\".\"id\" FROM "
	    "\"public\".\"clients\" AS \"t1\" WHERE \"t1\".\"id\" = "
	    "\"t0\".\"client_id\") AS \"id\" FROM \"public\".\"projects\" AS "
	    "\"t0\""), "");
	/* One-to-one from the referenced side: an object. */
	sql_is("clients", "select=name,passports(number)",
	    SRC("\"t0\".\"name\" AS \"name\", (SELECT pg_catalog.row_to_json("
	    "\"t1_r\") FROM (SELECT \"t1\".\"number\" AS \"number\" FROM "
	    "\"public\".\"passports\" AS \"t1\" WHERE \"t1\".\"client_id\" = "
	    "\"t0\".\"id\") AS \"t1_r\") AS \"passports\" FROM "
	    "\"public\".\"clients\" AS \"t0\""), "");
	/* Many-to-many: a junction row ties them, no duplicates (the
	 * tenant scoping of junction rows is in test_respond). */
	sql_is("actors", "select=name,films(title)",
	    SRC("\"t0\".\"name\" AS \"name\", (SELECT COALESCE("
	    "pg_catalog.json_agg(\"t1_r\"), '[]') FROM (SELECT \"t1\".\"title\""
	    " AS \"title\" FROM \"public\".\"films\" AS \"t1\" WHERE EXISTS "
	    "(SELECT 1 FROM \"public\".\"roles\" AS \"t1_j\" WHERE "
	    "\"t1_j\".\"film_id\" = \"t1\".\"id\" AND \"t1_j\".\"actor_id\" = "
	    "\"t0\".\"id\")) AS \"t1_r\") AS \"films\" FROM "
	    "\"public\".\"actors\" AS \"t0\""), "");
	/* Nested, with or= on the inner level. */
	sql_is("clients", "select=id,projects!client_id(id,tasks(id))"
	    "&projects.tasks.or=(id.eq.1,id.eq.2)",
	    SRC("\"t0\".\"id\" AS \"id\", (SELECT COALESCE(pg_catalog."
	    "json_agg(\"t1_r\"), '[]') FROM (SELECT \"t1\".\"id\" AS \"id\", "
	    "(SELECT COALESCE(pg_catalog.json_agg(\"t2_r\"), '[]') FROM "
	    "(SELECT \"t2\".\"id\" AS \"id\" FROM \"public\".\"tasks\" AS "
	    "\"t2\" WHERE \"t2\".\"project_id\" = \"t1\".\"id\" AND "
	    "((\"t2\".\"id\" = $1::integer) OR (\"t2\".\"id\" = "
	    "$2::integer))) AS \"t2_r\") AS \"tasks\" FROM "
	    "\"public\".\"projects\" AS \"t1\" WHERE \"t1\".\"client_id\" = "
	    "\"t0\".\"id\") AS \"t1_r\") AS \"projects\" FROM "
	    "\"public\".\"clients\" AS \"t0\""), "1|2");
}

static void
order_limit_offset(void **state)
{
	sql_is("projects", "select=id&order=name.desc.nullslast,id,"
	    "meta->>a.asc.nullsfirst&limit=10&offset=20",
	    SRC("\"t0\".\"id\" AS \"id\" FROM \"public\".\"projects\" AS "
	    "\"t0\" ORDER BY \"t0\".\"name\" DESC NULLS LAST, \"t0\".\"id\", "
	    "\"t0\".\"meta\"->>$1::text NULLS FIRST LIMIT 10 OFFSET 20"), "a");
	/* By a to-one embed's column, through its join. */
	sql_is("projects", "select=id,c:clients!client_id(name)"
	    "&order=c(name).desc", SRC("\"t0\".\"id\" AS \"id\", (SELECT "
	    "pg_catalog.row_to_json(\"t1_r\") FROM (SELECT \"t1\".\"name\" AS "
	    "\"name\" FROM \"public\".\"clients\" AS \"t1\" WHERE \"t1\".\"id\" "
	    "= \"t0\".\"client_id\") AS \"t1_r\") AS \"c\" FROM "
	    "\"public\".\"projects\" AS \"t0\" ORDER BY (SELECT "
	    "\"t1\".\"name\" FROM \"public\".\"clients\" AS \"t1\" WHERE "
	    "\"t1\".\"id\" = \"t0\".\"client_id\") DESC"), "");
	rejected("projects", "order=c(name)", 400, "PGRST100");
	rejected("clients", "select=id,projects!client_id(id)"
	    "&order=projects(id)", 400, "PGRST100");
	rejected("projects", "select=id,c:clients!client_id(name)"
	    "&order=c(nope)", 400, "42703");
	rejected("projects", "select=id,c:clients!client_id(name)"
	    "&order=c(name", 400, "PGRST100");
	sql_is("projects", "select=id&limit=0", SRC("\"t0\".\"id\" AS \"id\" "
	    "FROM \"public\".\"projects\" AS \"t0\" LIMIT 0"), "");
}

static void
counts_and_tenant(void **state)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*p;
	struct kb_tables_error		 err;

	memset(&req, 0, sizeof(req));
	req.method = KB_TABLES_GET;
	req.table = "tasks";
	req.query = "select=id&id=gt.1";
	req.prefer = "count=exact";
	req.tenant_id = "11111111-1111-1111-1111-111111111111";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_string_equal(p->sql, "WITH pgrst_source AS (SELECT \"t0\"."
	    "\"id\" AS \"id\" FROM \"public\".\"tasks\" AS \"t0\" WHERE "
	    "\"t0\".\"tenant_id\" = $1::uuid AND (\"t0\".\"id\" > "
	    "$2::integer)) SELECT (SELECT pg_catalog.count(*) FROM "
	    "\"public\".\"tasks\" AS \"t0\" WHERE \"t0\".\"tenant_id\" = "
	    "$1::uuid AND (\"t0\".\"id\" > $2::integer)) AS "
	    "total_result_set, pg_catalog.count(*) AS page_total, COALESCE("
	    "pg_catalog.json_agg(_postgrest_t), '[]')::text AS body, "
	    "NULL::text AS location FROM (SELECT * FROM pgrst_source) AS "
	    "_postgrest_t");
	assert_string_equal(joined(p),
	    "11111111-1111-1111-1111-111111111111|1");
	assert_null(p->count_sql);
	assert_string_equal(p->applied, "count=exact");
	kb_tables_plan_free(p);

	/* A table without tenant_id gets no tenant parameter at all. */
	req.table = "projects";
	req.prefer = "count=planned";
	req.query = "select=id,meta->>a&id=gt.1";
	p = kb_tables_plan(sample, &req, &err);
	assert_non_null(p);
	assert_string_equal(joined(p), "1|a");
	assert_string_equal(p->count_sql, "EXPLAIN (FORMAT JSON) SELECT 1 "
	    "FROM \"public\".\"projects\" AS \"t0\" WHERE (\"t0\".\"id\" > "
	    "$1::integer)");
	assert_int_equal(p->count_nparams, 1);
	kb_tables_plan_free(p);
}

/* Malformed input: a clean 4xx with a code, never a crash. */
static void
rejected(const char *table, const char *query, int status, const char *code)
{
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;

	if ((p = plan_get(table, query, &err)) != NULL) {
		fail_msg("accepted %s: %s", query, p->sql);
	}
	if (err.status != status || strcmp(err.code, code) != 0)
		fail_msg("%s: %d %s (%s), want %d %s", query, err.status,
		    err.code, err.message, status, code);
	assert_true(err.message[0] != '\0');
}

static void
malformed(void **state)
{
	rejected("projects", "select=id,(", 400, "PGRST100");
	rejected("projects", "select=id)", 400, "PGRST100");
	rejected("projects", "select=clients!client_id(name", 400,
	    "PGRST100");
	rejected("projects", "select=clients!client_id(name))", 400,
	    "PGRST100");
	rejected("projects", "select=,id", 400, "PGRST100");
	rejected("projects", "select=id,,name", 400, "PGRST100");
	rejected("projects", "select=id,", 400, "PGRST100");
	rejected("projects", "select=\"id", 400, "PGRST100");
	rejected("projects", "select=a:id:c", 400, "PGRST100");
	rejected("projects", "select=id&select=name", 400, "PGRST100");
	rejected("clients", "select=...projects!client_id(name)", 400,
	    "PGRST119");
	rejected("projects", "select=...clients!client_id(...x(a))", 400,
	    "PGRST100");
	rejected("projects", "select=...name", 400, "PGRST100");
	rejected("projects", "select=...c:clients!client_id(name)", 400,
	    "PGRST100");
	rejected("projects", "select=clients!a!b!c!d!e(name)", 400,
	    "PGRST100");
	rejected("projects", "select=clients!a!b(name)", 400, "PGRST100");
	rejected("projects", "select=meta->", 400, "PGRST100");
	rejected("projects", "select=meta->>", 400, "PGRST100");
	rejected("projects", "or=(id.eq.1", 400, "PGRST100");
	rejected("projects", "or=id.eq.1)", 400, "PGRST100");
	rejected("projects", "or=(id.eq.1))", 400, "PGRST100");
	rejected("projects", "or=()", 400, "PGRST100");
	rejected("projects", "or=(id)", 400, "PGRST100");
	rejected("projects", "or=(id.eq)", 400, "PGRST100");
	rejected("projects", "or=(id.eq.\"x)", 400, "PGRST100");
	rejected("projects", "or=(tags.cs.{a)", 400, "PGRST100");
	rejected("projects", "or=(id.in.(1,2)", 400, "PGRST100");
	rejected("projects", "and=(id.eq.1,)", 400, "PGRST100");
	rejected("projects", "id=eq", 400, "PGRST100");
	rejected("projects", "id=", 400, "PGRST100");
	rejected("projects", "id=foo.1", 400, "PGRST100");
	rejected("projects", "id=not.foo.1", 400, "PGRST100");
	rejected("projects", "id=EQ.1", 400, "PGRST100");
	rejected("projects", "id=eq(any).1", 400, "PGRST100");
	rejected("projects", "id=eq(any).{}", 400, "PGRST100");
	rejected("projects", "name=like(some).{a}", 400, "PGRST100");
	rejected("projects", "id=in(any).{1}", 400, "PGRST100");
	rejected("projects", "id=in.1,2", 400, "PGRST100");
	rejected("projects", "id=in.(1,2", 400, "PGRST100");
	rejected("projects", "id=in.(\"1)", 400, "PGRST100");
	rejected("projects", "id=in.(\"1\"x)", 400, "PGRST100");
	rejected("projects", "id=is.maybe", 400, "PGRST100");
	rejected("projects", "id=is.", 400, "PGRST100");
	rejected("projects", "search=fts().x", 400, "PGRST100");
	rejected("projects", "order=id.sideways", 400, "PGRST100");
	rejected("projects", "order=id.desc.nullsmiddle", 400, "PGRST100");
	rejected("projects", "order=", 400, "PGRST100");
	rejected("projects", "order=id,", 400, "PGRST100");
	rejected("projects", "limit=-1", 400, "PGRST100");
	rejected("projects", "limit=abc", 400, "PGRST100");
	rejected("projects", "limit=", 400, "PGRST100");
	rejected("projects", "offset=1e3", 400, "PGRST100");
	rejected("projects", "limit=99999999999999999999", 400, "PGRST100");
	rejected("projects", "limit=1%00", 400, "PGRST100");
	rejected("projects", "name=eq.%ZZ", 400, "PGRST100");
	rejected("projects", "name=eq.%4", 400, "PGRST100");
	rejected("projects", "name=eq.%", 400, "PGRST100");
	rejected("projects", "name=eq.%00", 400, "PGRST100");
	rejected("projects", "=x", 400, "PGRST100");
	rejected("projects", "select=id::nosuchtype", 400, "PGRST100");
	rejected("projects", "select=id::", 400, "PGRST100");
	rejected("projects", "columns=", 400, "PGRST100");
}

/*
 * Aggregates (postgrest-js select('count()'), 'col.sum()'): 400 PGRST123,
 * as PostgREST with db-aggregates-enabled off (its default), not a
 * confusing "no relationship 'count'".
 */
static void
aggregates_refused(void **state)
{
	rejected("projects", "select=count()", 400, "PGRST123");
	rejected("projects", "select=c:count()", 400, "PGRST123");
	rejected("projects", "select=id,budget.sum()", 400, "PGRST123");
	rejected("projects", "select=budget::int.avg()", 400, "PGRST123");
	rejected("projects", "select=id.max()::text", 400, "PGRST123");
	rejected("clients", "select=id,projects!client_id(id.count())", 400,
	    "PGRST123");
	/* Not aggregates: a JSON key, an unknown function, a relation. */
	sql_is("projects", "select=meta->count", SRC("\"t0\".\"meta\"->"
	    "$1::text AS \"count\" FROM \"public\".\"projects\" AS \"t0\""),
	    "count");
	rejected("projects", "select=id.nope()", 400, "PGRST100");
}

static void
unknown_names(void **state)
{
	/* Read names: 42703 as PostgreSQL (and so PostgREST) says it. */
	rejected("projects", "select=nope", 400, "42703");
	rejected("projects", "select=ID", 400, "42703");
	rejected("projects", "nope=eq.1", 400, "42703");
	rejected("projects", "nope.eq=1", 400, "42703");
	rejected("projects", "order=nope", 400, "42703");
	rejected("projects", "or=(nope.eq.1)", 400, "42703");
	rejected("projects", "select=id,clients!client_id(nope)", 400,
	    "42703");
	{
		struct kb_tables_error	err;

		assert_null(plan_get("projects", "select=id,nope", &err));
		assert_string_equal(err.message,
		    "column projects.nope does not exist");
	}
	/* Write names: PGRST204, PostgREST's own check. */
	rejected("projects", "columns=id,nope", 400, "PGRST204");
	rejected("projects", "on_conflict=nope", 400, "PGRST204");
	rejected("projects", "select=id,nope(*)", 400, "PGRST200");
	rejected("projects", "select=id,clients!nope(*)", 400, "PGRST200");
	rejected("projects", "select=id,clients(*)", 300, "PGRST201");
	rejected("actors", "select=id,films!nope(*)", 400, "PGRST200");
	rejected("projects", "nope.name=eq.1", 400, "PGRST200");
	rejected("projects", "nope.order=id", 400, "PGRST200");
	rejected("clients", "select=id,projects!client_id(id)"
	    "&projects=eq.1", 400, "PGRST100");
	rejected("nope", NULL, 404, "PGRST205");
	rejected("pg_class", NULL, 404, "PGRST205");
	{
		/* Named with its schema, as PostgREST 12.2+ names it. */
		struct kb_tables_error	err;

		assert_null(plan_get("nope", NULL, &err));
		assert_string_equal(err.message, "Could not find the table "
		    "'public.nope' in the schema cache");
	}
}

static void
limits(void **state)
{
	char	*q;
	size_t	 i, len;

	/* Logic nested past KB_QUERY_MAX_LOGIC. */
	q = calloc(1, 4096);
	strcpy(q, "or=(");
	for (i = 0; i < 20; i++)
		strcat(q, "and(");
	strcat(q, "id.eq.1");
	for (i = 0; i < 21; i++)
		strcat(q, ")");
	rejected("projects", q, 400, "PGRST100");
	/* Embedding past KB_QUERY_MAX_EMBED. */
	strcpy(q, "select=id");
	for (i = 0; i < 10; i++)
		strcat(q, i % 2 ? ",projects!client_id(id" :
		    ",clients!client_id(id");
	for (i = 0; i < 10; i++)
		strcat(q, ")");
	rejected("projects", q, 400, "PGRST100");
	/* A name longer than PostgreSQL's. */
	strcpy(q, "select=");
	for (i = 0; i < 64; i++)
		strcat(q, "a");
	strcat(q, ":id");
	rejected("projects", q, 400, "PGRST100");
	/* A JSON path of 17 steps. */
	strcpy(q, "select=meta");
	for (i = 0; i < 17; i++)
		strcat(q, "->a");
	rejected("projects", q, 400, "PGRST100");
	free(q);
	/*
	 * A spread repeats its WHERE per column: 200 columns over a
	 * 1000-value filter would be megabytes of SQL.
	 */
	q = calloc(1, KB_QUERY_MAX_LEN);
	strcpy(q, "select=id,...clients!client_id(id");
	for (i = 0; i < 199; i++)
		strcat(q, ",id");
	strcat(q, ")&clients.id=in.(1");
	for (i = 0; i < 999; i++)
		strcat(q, ",1");
	strcat(q, ")");
	rejected("projects", q, 400, "PGRST100");
	free(q);
	/* 1001 values in a list. */
	q = calloc(1, 8192);
	strcpy(q, "id=in.(");
	for (i = 0; i < 1001; i++)
		strcat(q, i ? ",1" : "1");
	strcat(q, ")");
	rejected("projects", q, 400, "PGRST100");
	free(q);
	/* 201 select items, 257 parameters, 16 KiB + 1. */
	q = calloc(1, 20000);
	strcpy(q, "select=id");
	for (i = 0; i < 200; i++)
		strcat(q, ",id");
	rejected("projects", q, 400, "PGRST100");
	q[0] = '\0';
	for (i = 0; i < 257; i++)
		strcat(q, "id=eq.1&");
	rejected("projects", q, 400, "PGRST100");
	len = KB_QUERY_MAX_LEN + 1;
	memset(q, 'a', len);
	q[len] = '\0';
	memcpy(q, "name=eq.", 8);
	rejected("projects", q, 414, "PGRST100");
	free(q);
}

/* SQL with its "quoted identifiers" cut out (quotes doubled inside). */
static char *
unquoted(const char *sql)
{
	char	*out, *o;
	int	 inq = 0;

	out = o = malloc(strlen(sql) + 1);
	assert_non_null(out);
	for (; *sql != '\0'; sql++) {
		if (*sql == '"') {
			if (inq && sql[1] == '"')
				sql++;
			else
				inq = !inq;
			continue;
		}
		if (!inq)
			*o++ = *sql;
	}
	*o = '\0';
	return (out);
}

/*
 * Injection attempts in every position: each is refused, or reaches SQL
 * only as a parameter or a quoted identifier.
 */
static void
injection(void **state)
{
	static const char *const payloads[] = {
		"x\";drop table projects;--", "x');drop table projects;--",
		"1 or 1=1", "x/*", "$1", "x\\", "id\"", "\"", "'",
		"x%27%3B%20drop%20table%20projects", "a::text",
	};
	static const char *const forms[] = {
		"select=%s", "select=%s:id", "select=id::%s",
		"select=meta->%s", "select=id,%s(id)",
		"select=id,clients!%s(id)", "%s=eq.1", "%s.eq=1",
		"name=eq.%s", "name=in.(%s)", "name=like.%s", "or=(%s)",
		"or=(name.eq.%s)", "or=(%s.eq.1)", "order=%s",
		"order=id.%s", "limit=%s", "offset=%s", "columns=%s",
		"on_conflict=%s", "meta->>%s=eq.1", "search=fts(%s).x",
		"name=eq(any).{%s}",
	};
	struct kb_tables_plan	*p;
	struct kb_tables_error	 err;
	char			*bare, q[512];
	size_t			 i, j;
	int			 k;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		for (j = 0; j < sizeof(payloads) / sizeof(payloads[0]); j++) {
			snprintf(q, sizeof(q), forms[i], payloads[j]);
			if ((p = plan_get("projects", q, &err)) == NULL) {
				assert_true(err.status >= 400 &&
				    err.status < 500);
				continue;
			}
			/* Outside quoted identifiers, no trace of it. */
			bare = unquoted(p->sql);
			if (strstr(bare, "drop") != NULL ||
			    strstr(bare, "1=1") != NULL ||
			    strstr(bare, "/*") != NULL ||
			    strstr(bare, "a::text") != NULL ||
			    strstr(bare, "');") != NULL)
				fail_msg("%s: payload in SQL: %s", q, p->sql);
			free(bare);
			for (k = 0; k < p->nparams; k++)
				assert_non_null(p->params[k]);
			kb_tables_plan_free(p);
		}
	}
	/* An alias with a quote is an identifier with the quote doubled. */
	sql_is("projects", "select=x%22;drop table projects;--:id",
	    SRC("\"t0\".\"id\" AS \"x\"\";drop table projects;--\" FROM "
	    "\"public\".\"projects\" AS \"t0\""), "");
}

/* The quoting of identifiers, literals and array elements. */
static void
quoting(void **state)
{
	struct kb_arena	*a = kb_arena_new();
	struct kb_sbuf	 sb;

	(void)state;
	kb_sbuf_init(&sb, a);
	kb_sql_ident(&sb, "we\"ird");
	kb_sbuf_putc(&sb, ' ');
	kb_sql_literal(&sb, "it's a \\ path");
	kb_sbuf_putc(&sb, ' ');
	kb_sql_array_elem(&sb, "a\"b\\c,{d} e");
	kb_sbuf_putc(&sb, ' ');
	kb_sql_array_elem(&sb, "");
	assert_string_equal(kb_sbuf_str(&sb), "\"we\"\"ird\" "
	    "E'it''s a \\\\ path' \"a\\\"b\\\\c,{d} e\" \"\"");
	kb_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(quoting),
		cmocka_unit_test(comparison_operators),
		cmocka_unit_test(pattern_operators),
		cmocka_unit_test(in_and_is),
		cmocka_unit_test(text_search),
		cmocka_unit_test(array_range_json_operators),
		cmocka_unit_test(json_paths),
		cmocka_unit_test(logic_trees),
		cmocka_unit_test(short_form),
		cmocka_unit_test(percent_decoding),
		cmocka_unit_test(select_lists),
		cmocka_unit_test(json_path_names),
		cmocka_unit_test(embedding),
		cmocka_unit_test(order_limit_offset),
		cmocka_unit_test(counts_and_tenant),
		cmocka_unit_test(malformed),
		cmocka_unit_test(unknown_names),
		cmocka_unit_test(aggregates_refused),
		cmocka_unit_test(limits),
		cmocka_unit_test(injection),
	};

	return (cmocka_run_group_tests_name("tables/query", tests, setup,
	    teardown));
}
