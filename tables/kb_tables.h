/*
 * korebase tables: the Tables API core (issue 4).  A request goes in, a
 * plan (one SQL statement and its parameters) comes out; the statement's
 * one result row goes in, the HTTP response comes out.  Pure C over
 * jansson: no Kore, no libpq, no I/O.
 *
 * Usage, in a handler (errors elided to the one place that writes them):
 *
 *	struct kb_tables_request	 req = { 0 };
 *	struct kb_tables_plan		*plan;
 *	struct kb_tables_result		 res = { 0 };
 *	struct kb_tables_response	 resp;
 *	struct kb_tables_error		 err;
 *
 *	req.method = KB_TABLES_GET;
 *	req.table = "projects";			// path segment, decoded
 *	req.query = "select=id,name,client:clients!client_id(name)"
 *	    "&id=gt.10";			// raw, still %-encoded
 *	req.prefer = http_header("prefer");	// NULL when absent
 *	req.range = http_header("range");
 *	req.accept = http_header("accept");
 *	req.role = "authenticated";
 *	req.tenant_id = caller->tenant_id;	// NULL: no tenant scoping
 *	if ((plan = kb_tables_plan(schema, &req, &err)) == NULL)
 *		return (respond_error(&err));	// 4xx, see kb_tables_error_json
 *	// Run plan->sql with plan->params (text, NULL = SQL NULL) as one
 *	// statement.  If plan->count_sql is set, run it too (with the
 *	// first plan->count_nparams params) and pass its one text value
 *	// as res.plan.
 *	res.total = PQgetvalue(r, 0, 0) or NULL if PQgetisnull;
 *	res.page_total = ...(r, 0, 1); res.body = ...(r, 0, 2);
 *	res.location = ...(r, 0, 3);
 *	kb_tables_respond(plan, &res, &resp);	// status, headers, body
 *	... write resp.status, resp.headers[], resp.body/resp.body_len ...
 *	kb_tables_plan_free(plan);		// resp points into the plan
 *
 * A database error instead of a row: kb_tables_pg_error() makes the
 * error for the client (status as PostgREST maps the SQLSTATE).  Writes
 * with plan->needs_one_row run in a transaction that is rolled back
 * unless page_total is 1.  Running as the caller's PostgreSQL role with
 * request.jwt.claims (row-level security) is the caller's job: the plan
 * is the same SQL for every role.
 *
 * The statement always returns exactly one row of four text columns:
 *	total_result_set	the count asked for with Prefer: count=, or NULL
 *	page_total		rows in this response
 *	body			the JSON (array or object) or CSV, built by
 *				PostgreSQL, or NULL when none is needed
 *	location		JSON array of the primary key of the inserted
 *				row (return=headers-only), or NULL
 * Except for streamed exports (plan->stream): one row per result row,
 * one text column each; see kb_tables_plan.stream_*.
 *
 * Query grammar: see kb_query.h and docs/tables.md.  Choices beyond
 * PostgREST, all documented there:
 *  - PATCH and DELETE on /tables/{t} need at least one filter on the
 *    table itself, or `all=true` in the query string to mean every row
 *    (400 KB_NO_FILTER otherwise).
 *  - /tables/{t}/{id} addresses a row by its one-column primary key
 *    (400 KB_COMPOSITE_PK for composite keys); GET, PATCH and PUT answer
 *    the row as an object (404 KB_NOT_FOUND when there is none), DELETE
 *    204 unless Prefer: return=representation.
 *  - /tables/{t}/bulk: POST inserts an array of rows (as POST /tables/{t});
 *    PATCH takes an array of objects that each carry the whole primary
 *    key and the columns to change (absent columns keep their value);
 *    DELETE takes an array of primary key values (one-column key) or of
 *    objects carrying the key.
 *  - Tenant isolation: when the table has a uuid `tenant_id` column and
 *    req.tenant_id is set, every read, update and delete (embedded
 *    resources too) adds tenant_id = $n, inserts and upserts set it, and
 *    a body naming another tenant is refused (403 KB_TENANT).
 */

#ifndef KB_TABLES_H
#define KB_TABLES_H

#include <stddef.h>

#include <jansson.h>

#include "kb_query.h"
#include "kb_schema.h"

/* Prefer: count=estimated counts exactly up to this many rows. */
#define KB_TABLES_ESTIMATE_LIMIT	1000
/* Most parameters a statement gets (PostgreSQL's limit is 65535). */
#define KB_TABLES_MAX_PARAMS		10000
/*
 * Longest statement: nested !inner embeds repeat their WHERE in the
 * parent's EXISTS, so text can grow faster than the query string.
 */
#define KB_TABLES_MAX_SQL		(1024 * 1024)

enum kb_tables_method {
	KB_TABLES_GET, KB_TABLES_HEAD, KB_TABLES_POST, KB_TABLES_PATCH,
	KB_TABLES_PUT, KB_TABLES_DELETE
};

struct kb_tables_request {
	enum kb_tables_method	 method;
	const char		*schema;	/* NULL: first exposed match */
	const char		*table;		/* decoded path segment */
	const char		*id;		/* /tables/{t}/{id}, or NULL */
	int			 bulk;		/* /tables/{t}/bulk */
	int			 export;	/* /tables/{t}/export (GET) */
	const char		*export_format;	/* "csv", "json"; NULL: ?format= */
	const char		*query;		/* raw, without '?', or NULL */
	const char		*prefer;	/* Prefer header(s), ", "-joined */
	const char		*range;		/* Range header, or NULL */
	const char		*accept;	/* Accept header, or NULL */
	const char		*content_type;	/* of the body, or NULL */
	json_t			*body;		/* parsed body (borrowed) */
	const char		*role;		/* "anon", "authenticated", ... */
	const char		*tenant_id;	/* resolved tenant uuid, or NULL */
	/* Location of an inserted row: <base><table>?pk=eq.v (default
	 * "/api/v1/tables/"). */
	const char		*location_base;
};

enum kb_tables_format {
	KB_TABLES_JSON,		/* application/json: an array */
	KB_TABLES_OBJECT,	/* vnd.pgrst.object+json: exactly one row */
	KB_TABLES_CSV		/* text/csv */
};

enum kb_tables_return {
	KB_RETURN_DEFAULT, KB_RETURN_MINIMAL, KB_RETURN_HEADERS,
	KB_RETURN_REPRESENTATION
};

enum kb_tables_count {
	KB_COUNT_NONE, KB_COUNT_EXACT, KB_COUNT_PLANNED, KB_COUNT_ESTIMATED
};

struct kb_tables_plan {
	struct kb_arena		*arena;		/* owns everything here */
	const char		*sql;
	const char		**params;	/* nparams; NULL = SQL NULL */
	int			 nparams;
	/*
	 * EXPLAIN (FORMAT JSON) of the counted rows for count=planned
	 * (always) and count=estimated (its result is used only past
	 * KB_TABLES_ESTIMATE_LIMIT); else NULL.  Its parameters are the
	 * first count_nparams of params.
	 */
	const char		*count_sql;
	int			 count_nparams;
	/*
	 * A read by id: the same statement for many keys, or NULL.  $1 is
	 * an array of keys (params[0] of each such plan), the other
	 * parameters are this plan's; it answers one row per key, in their
	 * order, each the row `sql` answers for that key.
	 */
	const char		*batch_sql;
	int			 read_only;	/* no writes: GET, HEAD, export */
	/*
	 * A write answered as one object (Accept: vnd.pgrst.object+json,
	 * or a by-id PATCH/PUT/DELETE): run it in a transaction and roll
	 * back when page_total is not 1, as PostgREST does;
	 * kb_tables_respond() then gives the 406 (or 404).  The statement
	 * itself fails unless it touched one row, which rolls the write
	 * back; kb_tables_not_one_row() recognizes that failure and says
	 * how many rows it touched.
	 */
	int			 needs_one_row;
/*
 * Such a write fails casting KB_TABLES_NOT_ONE_ROW_MARK "<rows>" to an
 * integer (SQLSTATE 22P02), so the error carries the row count.
 */
#define KB_TABLES_NOT_ONE_ROW_MARK	"kb_not_one_row:"
	/*
	 * Prefer: handling=strict, max-affected=N on PATCH and DELETE
	 * (postgrest-js maxAffected(N)), else -1: the statement fails the
	 * same way (KB_TABLES_MAX_AFFECTED_MARK) when it touched more than
	 * N rows, which rolls it back; see kb_tables_max_affected().
	 */
	long long		 max_affected;
#define KB_TABLES_MAX_AFFECTED_MARK	"kb_max_affected:"
	/*
	 * Exports: sql yields one text column per row; the response body is
	 * stream_head, then each row followed by stream_sep except the
	 * last, then stream_tail.  Content-Type in stream_type.
	 */
	int			 stream;
	const char		*stream_head;
	const char		*stream_sep;
	const char		*stream_tail;
	const char		*stream_type;

	/* What kb_tables_respond needs (read-only for callers). */
	enum kb_tables_method	 method;
	enum kb_tables_format	 format;
	int			 strip_nulls;	/* Accept: ...;nulls=stripped */
	/*
	 * POST with resolution=merge-duplicates: the statement's fifth
	 * column, `inserted`, counts the rows inserted (not merged); none
	 * is 200 instead of 201, as PostgREST.
	 */
	int			 merge_upsert;
	enum kb_tables_return	 ret;
	enum kb_tables_count	 count;
	int			 by_id;
	int			 range_given;
	long long		 offset;	/* first row of the page */
	const char		*applied;	/* Preference-Applied, or NULL */
	const char		*location_prefix;	/* location_base */
	const struct kb_table	*table;
	struct kb_query		 query;
};

/* The statement's one result row, text values, NULL for SQL NULL. */
struct kb_tables_result {
	const char	*total;
	const char	*page_total;
	const char	*body;
	const char	*location;
	const char	*plan;		/* count_sql's result, or NULL */
	const char	*inserted;	/* 5th column (merge_upsert), or NULL */
};

struct kb_tables_header {
	const char	*name;
	const char	*value;
};

#define KB_TABLES_MAX_HEADERS	6

struct kb_tables_response {
	int			 status;
	struct kb_tables_header	 headers[KB_TABLES_MAX_HEADERS];
	size_t			 nheaders;
	const char		*body;		/* NULL: no body (204, HEAD) */
	size_t			 body_len;
	int			 is_error;	/* status >= 400: see error */
	struct kb_tables_error	 error;
};

/*
 * Plan a request.  The plan (and everything it points to) lives until
 * kb_tables_plan_free().  NULL with `err` filled (4xx) on a bad request;
 * nothing to free then.  The schema must outlive the plan.
 */
struct kb_tables_plan	*kb_tables_plan(const struct kb_catalog *,
			    const struct kb_tables_request *,
			    struct kb_tables_error *err);
void			 kb_tables_plan_free(struct kb_tables_plan *);

/*
 * The response to a plan's result.  Pointers in `resp` point into the
 * plan or into `res` (borrowed): keep both until the response is sent.
 * On a 4xx (406 not one row, 416 range, 404 by id) resp->is_error is set
 * and resp->error filled; write it as any other error.
 */
void	kb_tables_respond(struct kb_tables_plan *,
	    const struct kb_tables_result *, struct kb_tables_response *);

/*
 * PostgreSQL errors.  kb_tables_error_status maps a SQLSTATE as PostgREST
 * does (23505/23503 409, 42501 401 for anon else 403, 42P01 and 42883
 * 404, P0001 400, 08/53 503, PTnnn nnn, other classes 500, the rest
 * 400).  kb_tables_pg_error fills `err` with it, code = the SQLSTATE and
 * the server's message, detail and hint (any may be NULL).
 */
int	kb_tables_error_status(const char *sqlstate, int is_anon);
/*
 * The rows a needs_one_row write touched when its statement failed for
 * not touching exactly one (0, or 2 and more), from the error's SQLSTATE
 * and primary message; -1 when the error is anything else.
 */
long long	kb_tables_not_one_row(const char *sqlstate, const char *message);
/*
 * The rows a max_affected write touched when it failed for touching more
 * than plan->max_affected, or -1; kb_tables_max_affected_error() makes
 * PostgREST's 400 PGRST124 for it.
 */
long long	kb_tables_max_affected(const char *sqlstate, const char *message);
void		kb_tables_max_affected_error(struct kb_tables_error *,
		    long long rows);
void	kb_tables_pg_error(struct kb_tables_error *err, const char *sqlstate,
	    const char *message, const char *detail, const char *hint,
	    int is_anon);

/*
 * The error body PostgREST clients read, {"code", "message", "details",
 * "hint"} (empty strings as null), plus "error" (the message) for
 * korebase's own shape; the caller adds "request_id".  A new reference.
 */
json_t	*kb_tables_error_json(const struct kb_tables_error *);

#endif /* !KB_TABLES_H */
