/*
 * The RPC group (reference 000: RPC (Remote Procedures)): PostgreSQL
 * functions of the exposed schemas, called over HTTP with named
 * arguments, as PostgREST does.
 *
 *	GET  /api/v1/rpc/procedures		what the caller may call
 *	POST /api/v1/rpc/{namespace}/{name}	call, arguments from the body
 *	GET  /api/v1/rpc/{namespace}/{name}	call a STABLE or IMMUTABLE one,
 *						arguments from the query string
 *	GET  /api/v1/rpc/executions/{id}[/logs]	a background call
 *
 * The function is looked up in the schema cache (so korebase's own and
 * non-exposed ones do not exist here), the overload is chosen by the
 * argument names, and the statement is built from catalog names only,
 * quoted by kb_sql_ident, with every value a bound parameter cast to the
 * argument's catalog type:
 *
 *	SELECT to_json("public"."add"("a" => $1::integer, "b" => $2::integer))
 *
 * It runs in a transaction group after kb_db_step_caller, so as the caller's
 * database role with request.jwt.claims set: EXECUTE privileges and RLS
 * decide.  A GET call's transaction is also READ ONLY.
 *
 * With `Prefer: respond-async` a POST call runs in the background: a
 * helper thread inserts an rpc_executions row (migrations/0012_rpc.sql)
 * as running and the request answers 202 with it; then, when one of the
 * worker's background slots is free, a helper thread (kb_work, tied to
 * no request) runs the call on a connection of its own as the caller,
 * writing the function's NOTICEs, WARNINGs and INFOs to
 * rpc_execution_logs as they arrive and the outcome to the row.  When
 * the worker stops, running calls are canceled and waiting ones marked
 * failed (rpc_teardown).  A worker that dies cannot do that: every row
 * is under a lease (migrations/0014_rpc_lease.sql) that the worker
 * holding the call renews, and a `running` row whose lease ran out is
 * marked failed by any worker (kb_rpc_lease).
 */

#include <sys/queue.h>

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "kb_server.h"
#include "kb_catalog.h"
#include "kb_arena.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "common.h"

#define RPC_MAX_ARGS		100	/* a function has at most 100 */
#define RPC_PENDING_MAX		256	/* background calls waiting, per worker */
#define RPC_LOG_MAX		1000	/* log lines kept per execution */
#define RPC_LOG_MSG_MAX		8192	/* bytes kept of one message */

#define EXECUTION_JSON(e)						\
	"json_build_object('id', " e ".id, 'namespace', " e ".namespace,"	\
	" 'name', " e ".name, 'status', " e ".status, 'created_at', "	\
	TS(e ".created_at") ", 'finished_at', " TS(e ".finished_at")	\
	", 'duration_ms', " e ".duration_ms, 'result', " e ".result,"	\
	" 'error', " e ".error, 'sqlstate', " e ".sqlstate)"

/*
 * The callable functions: those in the exposed schemas ($2, a JSON array
 * in lookup order) that role $1 may execute (and whose schema it may
 * use), extension members aside as in the schema cache.  The handler
 * keeps only those the schema cache has (KB_TABLES_EXCLUDE).
 */
static struct kb_stmt list_procedures = KB_STMT_RO(
	"WITH sch AS (SELECT s.nspname, n.oid, s.ord"
	"  FROM json_array_elements_text($2::json) WITH ORDINALITY"
	"  s(nspname, ord) JOIN pg_namespace n ON n.nspname = s.nspname),"
	" f AS (SELECT p.*, sch.nspname, sch.ord FROM pg_proc p"
	"  JOIN sch ON sch.oid = p.pronamespace WHERE p.prokind = 'f'"
	"  AND p.prorettype NOT IN ('trigger'::regtype,"
	"  'event_trigger'::regtype)"
	"  AND has_schema_privilege($1, p.pronamespace, 'USAGE')"
	"  AND has_function_privilege($1, p.oid, 'EXECUTE')"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid ="
	"  'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'))"
	" SELECT coalesce(json_agg(json_build_object("
	"  'namespace', f.nspname, 'name', f.proname,"
	"  'args', (SELECT coalesce(json_agg(json_build_object("
	"   'name', a.name, 'type', format_type(a.t, NULL),"
	"   'has_default', a.inpos > f.pronargs - f.pronargdefaults)"
	"   ORDER BY a.ord), '[]') FROM (SELECT k.ord, k.t,"
	"   coalesce(f.proargnames[k.ord], '') AS name,"
	"   coalesce(f.proargmodes[k.ord], 'i') AS mode,"
	"   sum(CASE WHEN coalesce(f.proargmodes[k.ord], 'i') IN ('i', 'b',"
	"   'v') THEN 1 ELSE 0 END) OVER (ORDER BY k.ord) AS inpos"
	"   FROM unnest(coalesce(f.proallargtypes, f.proargtypes::oid[]))"
	"   WITH ORDINALITY k(t, ord)) a WHERE a.mode IN ('i', 'b', 'v')),"
	"  'returns', CASE WHEN 't' = ANY (f.proargmodes) THEN"
	"   pg_get_function_result(f.oid) ELSE format_type(f.prorettype, NULL)"
	"   END,"
	"  'returns_set', f.proretset,"
	"  'volatility', CASE f.provolatile WHEN 'i' THEN 'immutable'"
	"   WHEN 's' THEN 'stable' ELSE 'volatile' END,"
	"  'description', obj_description(f.oid, 'pg_proc'))"
	"  ORDER BY f.ord, f.proname, f.oid), '[]')::text FROM f");

/*
 * Run on the helper thread's own connection: $1 namespace, $2 name,
 * $3 args, $4 sub, $5 key id, $6 tenant, $7 role.
 */
#define INSERT_EXECUTION						\
	"INSERT INTO rpc_executions AS e (namespace, name, args,"	\
	" caller_sub, caller_key_id, tenant_id, caller_role) VALUES"	\
	" ($1, $2, $3::jsonb, $4::uuid, $5::uuid, $6::uuid, $7)"	\
	" RETURNING e.id::text, " EXECUTION_JSON("e") "::text"

/* Who may read an execution: $2 't' for an instance admin, $3 sub, $4 key. */
#define EXECUTION_VISIBLE						\
	" e.id = $1::uuid AND ($2 = 't' OR e.caller_sub = $3::uuid"	\
	" OR e.caller_key_id = $4::uuid)"

static struct kb_stmt get_execution = KB_STMT_RO(
	"SELECT " EXECUTION_JSON("e") "::text FROM rpc_executions e"
	" WHERE" EXECUTION_VISIBLE);

static struct kb_stmt get_execution_logs = KB_STMT_RO(
	"SELECT (SELECT coalesce(json_agg(json_build_object('seq', l.seq,"
	" 'level', l.level, 'message', l.message, 'created_at', "
	TS("l.created_at") ") ORDER BY l.seq), '[]')"
	" FROM rpc_execution_logs l WHERE l.execution_id = e.id)::text"
	" FROM rpc_executions e WHERE" EXECUTION_VISIBLE);

static struct kb_stmt read_only = KB_STMT_RO(
	"SELECT set_config('transaction_read_only', 'on', true)");

/* A call, resolved and built. */
struct rpc_call {
	const struct kb_function	*f;
	const char			*ns;
	const char			*name;
	int				 get;	/* GET: query-string arguments */
	/* name -> value: the body (borrowed), or GET's own (call_release) */
	json_t				*args;
	const char			*sql;	/* in the request's memory */
	const char			**values;
	int				 nvalues;
	int				 is_void;
	int				 async;
	char				*args_text; /* async: for the row */
	int				 whole_body; /* one unnamed json arg */
};

/*
 * A background call: everything it needs, owned by itself (malloc).  It
 * runs in two helper-thread phases: the row is inserted (job_insert; the
 * request answers 202 from job_inserted, or is gone), then the call runs
 * (job_run) when a slot is free.  A row once inserted always gets its
 * run, whether or not the client stayed for the 202.
 */
struct rpc_job {
	TAILQ_ENTRY(rpc_job)	 list;
	char			*row[7];	/* INSERT_EXECUTION's values */
	char			*id;		/* the row's, once inserted */
	char			*answer;	/* the row as JSON, for the 202 */
	char			*sql;
	char			**values;
	int			 nvalues;
	char			*claims;
	int			 timeout_ms;
	/* Shared with rpc_teardown, under job_lock. */
	TAILQ_ENTRY(rpc_job)	 alist;		/* bg.active */
	PGcancel		*cancel;	/* while the call runs */
	int			 started;
	int			 stopping;	/* the worker stops */
	/* The thread's. */
	PGconn			*logs;		/* opened at the first notice */
	int			 nlogs;
	int			 capturing;
	char			 warn[512];	/* logged back on the loop */
};

TAILQ_HEAD(rpc_job_list, rpc_job);

static pthread_mutex_t	job_lock = PTHREAD_MUTEX_INITIALIZER;

/* Background calls of this worker (event loop thread only). */
static struct {
	struct rpc_job_list	pending;
	struct rpc_job_list	active;		/* handed to kb_work */
	int			init;
	int			running;	/* calls handed to kb_work */
	int			npending;	/* queued behind them */
	int			inserting;	/* rows being inserted */
} bg;

static void	procedures_schema(struct kb_ctx *, const struct kb_catalog *,
		    void *);
static void	procedures_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	call_schema(struct kb_ctx *, const struct kb_catalog *,
		    void *);
static void	call_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	async_start(struct kb_ctx *, struct rpc_call *);
static void	async_verified(struct kb_ctx *, int, void *);
static void	job_insert(void *);
static void	job_inserted(struct kb_ctx *, void *);
static void	execution_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	job_submit(struct rpc_job *);
static void	job_run(void *);
static void	job_done(struct kb_ctx *, void *);
static void	job_free(struct rpc_job *);
static void	rpc_teardown(void);
static void	lease_done(struct kb_db_result *, void *);

/* ---- listing ---- */

void
kbh_listProcedures(struct kb_ctx *ctx,
    const struct kbg_listProcedures_in *in)
{
	(void)in;
	kb_schema_wait(ctx, procedures_schema, NULL);
}

static void
procedures_schema(struct kb_ctx *ctx, const struct kb_catalog *s, void *arg)
{
	const char	*v[2];
	json_t		*a;
	char		*text;
	size_t		 i;

	(void)arg;
	if (s == NULL) {
		kb_schema_respond_unavailable(ctx);
		return;
	}
	a = json_array();
	for (i = 0; i < s->nschemas; i++)
		json_array_append_new(a, json_string(s->schemas[i]));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (text == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	v[0] = kb_caller_pg_role(kb_ctx_caller(ctx));
	v[1] = text;
	kb_db_query(ctx, &list_procedures, 2, v, procedures_done, NULL);
	free(text);
}

static void
procedures_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kb_catalog	*s;
	json_t			*all, *out, *p;
	size_t			 i;

	(void)arg;
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	s = kb_schema_acquire(ctx);
	all = json_loads(PQgetvalue(r->res, 0, 0), 0, NULL);
	if (s == NULL || !json_is_array(all)) {
		json_decref(all);
		kb_respond_error(ctx, 500, "INTERNAL", "bad procedure list");
		return;
	}
	/* Only what the schema cache exposes (KB_TABLES_EXCLUDE). */
	out = json_array();
	json_array_foreach(all, i, p) {
		if (kb_schema_function(s, json_string_value(json_object_get(p,
		    "namespace")), json_string_value(json_object_get(p,
		    "name"))) != NULL)
			json_array_append(out, p);
	}
	json_decref(all);
	kb_respond_json(ctx, 200, out);
}

/* ---- calls: resolving the function ---- */

/* An input argument (IN, INOUT, VARIADIC); OUT and TABLE ones are not. */
static int
arg_is_input(const struct kb_func_arg *a)
{
	return (a->mode == 'i' || a->mode == 'b' || a->mode == 'v');
}

static const struct kb_func_arg *
arg_named(const struct kb_function *f, const char *name)
{
	size_t	i;

	for (i = 0; i < f->nargs; i++) {
		if (arg_is_input(&f->args[i]) && f->args[i].name[0] != '\0' &&
		    strcmp(f->args[i].name, name) == 0)
			return (&f->args[i]);
	}
	return (NULL);
}

/* Do the keys of `args` name exactly what `f` takes? */
static int
overload_matches(const struct kb_function *f, json_t *args)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(args, key, v) {
		if (arg_named(f, key) == NULL)
			return (0);
	}
	for (i = 0; i < f->nargs; i++) {
		if (!arg_is_input(&f->args[i]) || f->args[i].has_default)
			continue;
		if (f->args[i].name[0] == '\0' ||
		    json_object_get(args, f->args[i].name) == NULL)
			return (0);
	}
	return (1);
}

/* The one input argument of `f` if it is unnamed json or jsonb, or NULL. */
static const struct kb_func_arg *
single_json_arg(const struct kb_function *f)
{
	const struct kb_func_arg	*a = NULL;
	size_t				 i;

	for (i = 0; i < f->nargs; i++) {
		if (!arg_is_input(&f->args[i]))
			continue;
		if (a != NULL)
			return (NULL);
		a = &f->args[i];
	}
	if (a == NULL || a->name[0] != '\0' || a->mode == 'v' ||
	    (strcmp(a->type, "json") != 0 && strcmp(a->type, "jsonb") != 0))
		return (NULL);
	return (a);
}

/* "public.add(a integer, b integer DEFAULT)" for messages. */
static void
signature(struct kb_sbuf *b, const struct kb_function *f)
{
	size_t	i;
	int	n = 0;

	kb_sbuf_printf(b, "%s.%s(", f->schema, f->name);
	for (i = 0; i < f->nargs; i++) {
		if (!arg_is_input(&f->args[i]))
			continue;
		kb_sbuf_printf(b, "%s%s%s%s%s", n++ ? ", " : "",
		    f->args[i].name, f->args[i].name[0] ? " " : "",
		    f->args[i].type, f->args[i].has_default ? " DEFAULT" : "");
	}
	kb_sbuf_putc(b, ')');
}

/* RFC 6901: "~" as "~0", "/" as "~1". */
static void
pointer(char *buf, size_t len, const char *where, const char *name)
{
	size_t	off;

	off = (size_t)snprintf(buf, len, "/%s/", where);
	for (; *name != '\0' && off + 3 < len; name++) {
		if (*name == '~' || *name == '/') {
			buf[off++] = '~';
			buf[off++] = *name == '~' ? '0' : '1';
		} else
			buf[off++] = *name;
	}
	buf[off < len ? off : len - 1] = '\0';
}

/*
 * The one overload of ns.name that takes exactly the arguments given, or
 * NULL with the request answered: 404 no such function, 300 several
 * overloads fit, 400 with every unknown and missing argument.
 */
static const struct kb_function *
resolve(struct kb_ctx *ctx, const struct kb_catalog *s, struct rpc_call *c,
    struct kb_arena *arena)
{
	const struct kb_function	*first, *f, *end, *match;
	struct kb_errors		 errs;
	struct kb_sbuf			 b;
	const char			*key, *where;
	json_t				*v;
	size_t				 i, nover, nmatch;
	char				 ptr[300];

	where = c->get ? "query" : "body";
	for (i = 0; i < s->nschemas; i++) {
		if (strcmp(s->schemas[i], c->ns) == 0)
			break;
	}
	if (i == s->nschemas) {
		kb_respond_error(ctx, 404, "FUNCTION_NOT_FOUND",
		    "schema %s is not exposed", c->ns);
		return (NULL);
	}
	if ((first = kb_schema_function(s, c->ns, c->name)) == NULL) {
		kb_respond_error(ctx, 404, "FUNCTION_NOT_FOUND",
		    "no function %s.%s", c->ns, c->name);
		return (NULL);
	}
	end = s->funcs + s->nfuncs;
	match = NULL;
	nmatch = nover = 0;
	for (f = first; f < end && strcmp(f->schema, c->ns) == 0 &&
	    strcmp(f->name, c->name) == 0; f++) {
		nover++;
		if (overload_matches(f, c->args)) {
			match = f;
			nmatch++;
		}
	}
	if (nmatch == 1)
		return (match);
	/*
	 * As PostgREST: a function whose one argument is an unnamed json or
	 * jsonb gets the whole body, whatever its keys.
	 */
	if (nmatch == 0 && !c->get) {
		for (f = first; f < first + nover; f++) {
			if (single_json_arg(f) != NULL) {
				c->whole_body = 1;
				return (f);
			}
		}
	}

	kb_sbuf_init(&b, arena);
	if (nmatch > 1) {
		/* As PostgREST: 300 Multiple Choices, the candidates listed. */
		kb_errors_init(&errs);
		(void)snprintf(ptr, sizeof(ptr), "/%s", where);
		for (f = first; f < first + nover; f++) {
			if (!overload_matches(f, c->args))
				continue;
			kb_sbuf_init(&b, arena);
			signature(&b, f);
			kb_errors_add(&errs, ptr, "fits %s", kb_sbuf_str(&b));
		}
		kb_sbuf_init(&b, arena);
		kb_sbuf_printf(&b, "%zu overloads of %s.%s take these "
		    "arguments: the call is ambiguous (rename or drop "
		    "overloads so that one fits)", nmatch, c->ns, c->name);
		kb_respond_errors(ctx, 300, "AMBIGUOUS_FUNCTION",
		    kb_sbuf_str(&b), &errs);
		kb_errors_clear(&errs);
		return (NULL);
	}

	kb_errors_init(&errs);
	if (nover == 1) {
		json_object_foreach(c->args, key, v) {
			if (arg_named(first, key) == NULL) {
				pointer(ptr, sizeof(ptr), where, key);
				kb_errors_add(&errs, ptr, "is not an argument "
				    "of %s.%s", c->ns, c->name);
			}
		}
		for (i = 0; i < first->nargs; i++) {
			if (!arg_is_input(&first->args[i]) ||
			    first->args[i].has_default)
				continue;
			if (first->args[i].name[0] == '\0') {
				(void)snprintf(ptr, sizeof(ptr), "/%s", where);
				kb_errors_add(&errs, ptr, "%s.%s has an unnamed "
				    "argument without a default: it cannot be "
				    "called with named arguments", c->ns,
				    c->name);
			} else if (json_object_get(c->args,
			    first->args[i].name) == NULL) {
				pointer(ptr, sizeof(ptr), where,
				    first->args[i].name);
				kb_errors_add(&errs, ptr, "is required (%s)",
				    first->args[i].type);
			}
		}
		kb_sbuf_puts(&b, "the arguments do not fit ");
		signature(&b, first);
	} else {
		kb_sbuf_printf(&b, "no overload of %s.%s takes the arguments (",
		    c->ns, c->name);
		i = 0;
		json_object_foreach(c->args, key, v)
			kb_sbuf_printf(&b, "%s%s", i++ ? ", " : "", key);
		kb_sbuf_puts(&b, "); there are:");
		for (f = first; f < first + nover; f++) {
			kb_sbuf_puts(&b, f == first ? " " : "; ");
			signature(&b, f);
		}
		(void)snprintf(ptr, sizeof(ptr), "/%s", where);
		kb_errors_add(&errs, ptr, "matches no overload of %s.%s",
		    c->ns, c->name);
	}
	kb_respond_errors(ctx, 400, "VALIDATION_FAILED", kb_sbuf_str(&b),
	    &errs);
	kb_errors_clear(&errs);
	return (NULL);
}

/* ---- calls: building the statement ---- */

static int
type_is_array(const char *type)
{
	size_t	len = strlen(type);

	return (len > 2 && strcmp(type + len - 2, "[]") == 0);
}

static int
type_is_json(const char *type)
{
	return (strcmp(type, "json") == 0 || strcmp(type, "jsonb") == 0);
}

/* Pseudo-types take no cast: PostgreSQL resolves them from the call. */
static int
type_is_pseudo(const char *type)
{
	return (strncmp(type, "any", 3) == 0 || strcmp(type, "\"any\"") == 0 ||
	    strcmp(type, "record") == 0 || strcmp(type, "record[]") == 0);
}

/* One element of an array literal, quoted ("...", backslash escapes). */
static int
array_elem(struct kb_sbuf *b, json_t *v)
{
	const char	*s;
	char		*dump;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_NULL:
		kb_sbuf_puts(b, "NULL");
		return (0);
	case JSON_ARRAY:
		kb_sbuf_putc(b, '{');
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				kb_sbuf_putc(b, ',');
			if (array_elem(b, json_array_get(v, i)) == -1)
				return (-1);
		}
		kb_sbuf_putc(b, '}');
		return (0);
	case JSON_STRING:
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v))
			return (-1);
		dump = NULL;
		break;
	default:
		if ((dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) ==
		    NULL)
			return (-1);
		s = dump;
		break;
	}
	kb_sql_array_elem(b, s);
	free(dump);
	return (0);
}

/*
 * A JSON value as the text PostgreSQL parses as `type`; *isnull for SQL
 * NULL.  Returns NULL (and fills `why`) when it cannot be one.
 */
static const char *
value_text(struct kb_ctx *ctx, struct kb_arena *arena, const char *type,
    json_t *v, int get, int *isnull, const char **why)
{
	struct kb_sbuf	 b;
	char		*s;
	const char	*out;

	*isnull = 0;
	if (json_is_null(v)) {
		*isnull = 1;
		return (NULL);
	}
	/* json/jsonb from a body: the JSON value itself, strings too. */
	if (!get && type_is_json(type)) {
		if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			return (NULL);
		out = kb_ctx_strdup(ctx, s);
		free(s);
		return (out);
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			*why = "must not contain a NUL character";
			return (NULL);
		}
		return (kb_ctx_strdup(ctx, json_string_value(v)));
	case JSON_TRUE:
		return ("true");
	case JSON_FALSE:
		return ("false");
	case JSON_ARRAY:
		if (type_is_array(type)) {
			kb_sbuf_init(&b, arena);
			if (array_elem(&b, v) == -1) {
				*why = "must not contain a NUL character";
				return (NULL);
			}
			return (kb_ctx_strdup(ctx, kb_sbuf_str(&b)));
		}
		if (get) {
			*why = "is given more than once";
			return (NULL);
		}
		/* FALLTHROUGH */
	default:
		if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
			return (NULL);
		out = kb_ctx_strdup(ctx, s);
		free(s);
		return (out);
	}
}

/* The cast of an argument: its catalog type, bpchar for character. */
static void
cast(struct kb_sbuf *b, const char *type)
{
	if (type_is_pseudo(type))
		return;
	if (strcmp(type, "character") == 0)
		type = "bpchar";
	else if (strcmp(type, "character[]") == 0)
		type = "bpchar[]";
	kb_sbuf_printf(b, "::%s", type);
}

/* 0, or -1 with the request answered (400). */
static int
build(struct kb_ctx *ctx, struct rpc_call *c, struct kb_arena *arena)
{
	const struct kb_function	*f = c->f;
	const struct kb_func_arg	*a;
	struct kb_errors		 errs;
	struct kb_sbuf			 call, sql;
	const char			*why;
	json_t				*v;
	size_t				 i;
	int				 n, isnull;
	char				 ptr[300];

	kb_errors_init(&errs);
	c->values = kb_ctx_alloc(ctx, (f->nargs + 1) * sizeof(*c->values));
	kb_sbuf_init(&call, arena);
	kb_sql_ident(&call, f->schema);
	kb_sbuf_putc(&call, '.');
	kb_sql_ident(&call, f->name);
	kb_sbuf_putc(&call, '(');
	n = 0;
	for (i = 0; i < f->nargs && c->whole_body; i++) {
		a = &f->args[i];
		if (!arg_is_input(a))
			continue;
		isnull = 0;
		c->values[n] = value_text(ctx, arena, a->type, c->args, 0,
		    &isnull, &why);
		if (c->values[n] == NULL) {
			kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
			return (-1);
		}
		kb_sbuf_printf(&call, "$%d", ++n);
		cast(&call, a->type);
	}
	for (i = 0; i < f->nargs && !c->whole_body; i++) {
		a = &f->args[i];
		if (!arg_is_input(a) || a->name[0] == '\0' ||
		    (v = json_object_get(c->args, a->name)) == NULL)
			continue;
		why = "cannot be passed";
		c->values[n] = value_text(ctx, arena, a->type, v, c->get,
		    &isnull, &why);
		if (c->values[n] == NULL && !isnull) {
			pointer(ptr, sizeof(ptr), c->get ? "query" : "body",
			    a->name);
			kb_errors_add(&errs, ptr, "%s", why);
			continue;
		}
		if (n > 0)
			kb_sbuf_puts(&call, ", ");
		if (a->mode == 'v')
			kb_sbuf_puts(&call, "VARIADIC ");
		kb_sql_ident(&call, a->name);
		kb_sbuf_printf(&call, " => $%d", n + 1);
		cast(&call, a->type);
		n++;
	}
	kb_sbuf_putc(&call, ')');
	if (errs.count > 0) {
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
		    errs.count == 1 ? errs.items[0].message :
		    "the arguments are invalid", &errs);
		kb_errors_clear(&errs);
		return (-1);
	}
	kb_errors_clear(&errs);
	c->nvalues = n;

	kb_sbuf_init(&sql, arena);
	c->is_void = !f->returns_set && strcmp(f->ret_type, "void") == 0;
	if (c->is_void) {
		kb_sbuf_printf(&sql, "SELECT NULL::text FROM %s",
		    kb_sbuf_str(&call));
	} else if (f->returns_set && f->ret_table) {
		kb_sbuf_printf(&sql, "SELECT coalesce(json_agg(kb_rpc_row),"
		    " '[]')::text FROM %s kb_rpc_row", kb_sbuf_str(&call));
	} else if (f->returns_set) {
		kb_sbuf_printf(&sql, "SELECT coalesce(json_agg(kb_rpc_row.v),"
		    " '[]')::text FROM %s kb_rpc_row(v)", kb_sbuf_str(&call));
	} else {
		/* Scalars, composites and OUT parameters alike. */
		kb_sbuf_printf(&sql, "SELECT to_json(%s)::text",
		    kb_sbuf_str(&call));
	}
	c->sql = kb_ctx_strdup(ctx, kb_sbuf_str(&sql));
	return (0);
}

/* ---- calls: the handlers ---- */

static void
call_start(struct kb_ctx *ctx, struct rpc_call *c)
{
	kb_schema_wait(ctx, call_schema, c);
}

void
kbh_callProcedure(struct kb_ctx *ctx, const struct kbg_callProcedure_in *in)
{
	static json_t	*none;
	struct rpc_call	*c;

	c = kb_ctx_alloc(ctx, sizeof(*c));
	c->ns = in->namespace;
	c->name = in->name;
	/* The body lives as long as the request; no body, no arguments. */
	if (in->body_json != NULL && !json_is_null(in->body_json)) {
		c->args = in->body_json;
	} else {
		if (none == NULL)
			none = json_object();
		c->args = none;
	}
	if (!json_is_object(c->args)) {		/* the schema says so too */
		kb_respond_error(ctx, 400, "VALIDATION_FAILED",
		    "the body must be a JSON object of named arguments");
		return;
	}
	c->async = in->has_Prefer &&
	    kb_prefer_has(in->Prefer, "respond-async");
	call_start(ctx, c);
}

struct query_args {
	json_t	*args;
	int	 n;
};

static int
query_arg(const char *name, const char *value, void *arg)
{
	struct query_args	*q = arg;
	json_t			*old, *a;

	if (++q->n > RPC_MAX_ARGS * 10)
		return (1);
	if ((old = json_object_get(q->args, name)) == NULL) {
		json_object_set_new(q->args, name, json_string(value));
	} else if (json_is_array(old)) {
		json_array_append_new(old, json_string(value));
	} else {
		/* Repeated: an array (?id=1&id=2 for an array argument). */
		a = json_array();
		json_array_append(a, old);
		json_array_append_new(a, json_string(value));
		json_object_set_new(q->args, name, a);
	}
	return (0);
}

void
kbh_callProcedureGet(struct kb_ctx *ctx,
    const struct kbg_callProcedureGet_in *in)
{
	struct rpc_call		*c;

	c = kb_ctx_alloc(ctx, sizeof(*c));
	c->ns = in->namespace;
	c->name = in->name;
	c->get = 1;
	call_start(ctx, c);
}

/*
 * The arguments of a GET call, from the query string: a JSON object the
 * call owns until call_release (collected only once the schema is in,
 * so nothing is held while the request waits).  0, or -1 answered.
 */
static int
query_args(struct kb_ctx *ctx, struct rpc_call *c)
{
	struct query_args	q;
	int			rc;

	q.args = json_object();
	q.n = 0;
	if ((rc = kb_ctx_query_each(ctx, query_arg, &q)) != 0) {
		json_decref(q.args);
		kb_respond_error(ctx, 400, "VALIDATION_FAILED", rc == -1 ?
		    "the query string is not valid percent-encoding" :
		    "too many query arguments");
		return (-1);
	}
	c->args = q.args;
	return (0);
}

/* Release the query-string arguments of a GET call (owned by the call). */
static void
call_release(struct rpc_call *c)
{
	if (c->get && c->args != NULL) {
		json_decref(c->args);
		c->args = NULL;
	}
}

static void
call_schema(struct kb_ctx *ctx, const struct kb_catalog *s, void *arg)
{
	struct rpc_call		*c = arg;
	const struct kb_caller	*who = kb_ctx_caller(ctx);
	struct kb_db_step	 steps[3];
	struct kb_arena		*arena;
	char			*text;
	int			 n;

	if (s == NULL) {
		kb_schema_respond_unavailable(ctx);
		return;
	}
	if (c->get && query_args(ctx, c) == -1)
		return;
	if (c->async) {
		if ((text = json_dumps(c->args, JSON_COMPACT)) == NULL) {
			call_release(c);
			kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
			return;
		}
		c->args_text = kb_ctx_strdup(ctx, text);
		free(text);
	}
	arena = kb_arena_new();
	if ((c->f = resolve(ctx, s, c, arena)) == NULL ||
	    build(ctx, c, arena) == -1) {
		kb_arena_free(arena);
		call_release(c);
		return;
	}
	kb_arena_free(arena);
	call_release(c);	/* every value is a copy by now */

	if (c->get && c->f->volatility == 'v') {
		kb_header_set(ctx, "Allow", "POST");
		kb_respond_error(ctx, 405, "METHOD_NOT_ALLOWED",
		    "%s.%s is VOLATILE (it may write): call it with POST; "
		    "only STABLE and IMMUTABLE functions can be called with "
		    "GET", c->ns, c->name);
		return;
	}

	if (c->async) {
		if (who->sub == NULL && who->key_id == NULL) {
			kb_respond_error(ctx, 401, "UNAUTHORIZED",
			    "Prefer: respond-async needs a signed-in caller or "
			    "a key: an anonymous execution could not be read "
			    "back");
			return;
		}
		/* The helper thread's connection checks no cached caller. */
		kb_ctx_verify(ctx, async_verified, c);
		return;
	}

	n = 0;
	kb_db_step_caller(ctx, &steps[n++]);
	if (c->get) {
		memset(&steps[n], 0, sizeof(steps[n]));
		steps[n++].stmt = &read_only;
	}
	memset(&steps[n], 0, sizeof(steps[n]));
	steps[n].sql = c->sql;
	steps[n].nparams = c->nvalues;
	steps[n].values = c->values;
	steps[n].readonly = c->get;
	n++;
	kb_db_run(ctx, steps, n, call_done, c);
}

/*
 * A PostgreSQL error of the call, as PostgREST maps them: always 4xx
 * (or 503 when the database lacks resources), never 500.
 */
static void
call_error(struct kb_ctx *ctx, struct kb_db_result *r)
{
	const struct kb_caller	*who = kb_ctx_caller(ctx);
	const char		*st = r->sqlstate, *code;
	int			 status;

	if (strcmp(st, "42883") == 0 || strcmp(st, "42P01") == 0) {
		status = 404;
		code = strcmp(st, "42883") == 0 ? "FUNCTION_NOT_FOUND" :
		    "SQL_ERROR";
	} else if (strcmp(st, "25006") == 0) {
		status = 405;
		code = "METHOD_NOT_ALLOWED";
		kb_header_set(ctx, "Allow", "POST");
	} else
		status = kb_db_error_status(st, who->sub != NULL ||
		    who->key_id != NULL, &code);
	kb_respond_db_error(ctx, r, status, code);
}

static void
call_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct rpc_call	*c = arg;

	if (!r->ok) {
		if (r->unavailable || r->step == 0)
			kb_db_respond_failure(ctx, r);
		else
			call_error(ctx, r);
		return;
	}
	if (c->is_void) {
		kb_respond_empty(ctx, 204);
		return;
	}
	if (PQntuples(r->res) != 1 || PQgetisnull(r->res, 0, 0)) {
		kb_respond_text(ctx, 200, "application/json", "null", 4);
		return;
	}
	kb_respond_text(ctx, 200, "application/json", PQgetvalue(r->res, 0, 0),
	    (size_t)PQgetlength(r->res, 0, 0));
}

/* ---- background calls ---- */

static char *
xstrdup(const char *s)
{
	char	*p;

	if (s == NULL)
		return (NULL);
	if ((p = strdup(s)) == NULL)
		abort();
	return (p);
}

static void
job_free(struct rpc_job *j)
{
	int	i;

	for (i = 0; i < 7; i++)
		free(j->row[i]);
	free(j->id);
	free(j->answer);
	free(j->sql);
	for (i = 0; i < j->nvalues; i++)
		free(j->values[i]);
	free(j->values);
	free(j->claims);
	free(j);
}

static void
async_verified(struct kb_ctx *ctx, int ok, void *arg)
{
	if (ok)
		async_start(ctx, arg);
}

static void
async_start(struct kb_ctx *ctx, struct rpc_call *c)
{
	const struct kb_caller	*who = kb_ctx_caller(ctx);
	struct kb_db_step	 step;
	struct rpc_job		*j;
	int			 i;

	if (bg.npending + bg.inserting >= RPC_PENDING_MAX) {
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "too many background calls are waiting; try again "
		    "shortly");
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->values = calloc((size_t)c->nvalues + 1,
	    sizeof(*j->values))) == NULL) {
		free(j);
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	/* The role and claims exactly as kb_db_step_caller sets them. */
	kb_db_step_caller(ctx, &step);
	j->row[0] = xstrdup(c->f->schema);
	j->row[1] = xstrdup(c->f->name);
	j->row[2] = xstrdup(c->args_text);
	j->row[3] = xstrdup(who->sub);
	j->row[4] = xstrdup(who->key_id);
	j->row[5] = xstrdup(who->tenant);
	j->row[6] = xstrdup(step.values[0]);
	j->claims = xstrdup(step.values[1]);
	j->sql = xstrdup(c->sql);
	j->nvalues = c->nvalues;
	for (i = 0; i < c->nvalues; i++)
		j->values[i] = xstrdup(c->values[i]);
	j->timeout_ms = kb_config.rpc_async_timeout_ms;
	if (kb_work(ctx, job_insert, job_inserted, j) == -1) {
		job_free(j);
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "the server is busy, try again shortly");
		return;
	}
	bg.inserting++;
}

/*
 * The row is in (or not): answer the request if it is still there, and
 * queue the call in any case once the row exists.
 */
static void
job_inserted(struct kb_ctx *ctx, void *arg)
{
	struct rpc_job	*j = arg;
	char		 loc[128];

	bg.inserting--;
	if (j->id == NULL) {
		if (j->warn[0] != '\0')
			kb_log("warning", "%s", j->warn);
		if (ctx != NULL) {
			kb_header_set(ctx, "Retry-After", "1");
			kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
			    "the database is unavailable");
		}
		job_free(j);
		return;
	}
	if (ctx != NULL) {
		(void)snprintf(loc, sizeof(loc), "/api/v1/rpc/executions/%s",
		    j->id);
		kb_header_set(ctx, "Location", loc);
		kb_header_set(ctx, "Preference-Applied", "respond-async");
		kb_respond_text(ctx, 202, "application/json", j->answer,
		    strlen(j->answer));
	}
	free(j->answer);
	j->answer = NULL;
	job_submit(j);
}

/*
 * Background calls share the worker's helper threads with password
 * hashing: at most KB_WORK_THREADS - 1 (at least 1) run at a time, so
 * one thread stays free for sign-ins; the rest wait here, in order.
 */
static int
job_slots(void)
{
	return (kb_config.work_threads > 1 ? kb_config.work_threads - 1 : 1);
}

static void
job_submit(struct rpc_job *j)
{
	if (!bg.init) {
		TAILQ_INIT(&bg.pending);
		TAILQ_INIT(&bg.active);
		kb_on_teardown(rpc_teardown);
		bg.init = 1;
	}
	if (j != NULL) {
		TAILQ_INSERT_TAIL(&bg.pending, j, list);
		bg.npending++;
	}
	while (bg.running < job_slots() &&
	    (j = TAILQ_FIRST(&bg.pending)) != NULL) {
		TAILQ_REMOVE(&bg.pending, j, list);
		bg.npending--;
		if (kb_work(NULL, job_run, job_done, j) == -1) {
			/* The helper queue is full: wait for a slot. */
			TAILQ_INSERT_HEAD(&bg.pending, j, list);
			bg.npending++;
			break;
		}
		TAILQ_INSERT_TAIL(&bg.active, j, alist);
		bg.running++;
	}
}

static void
job_done(struct kb_ctx *ctx, void *arg)
{
	struct rpc_job	*j = arg;

	(void)ctx;
	if (j->warn[0] != '\0')
		kb_log("warning", "%s", j->warn);
	TAILQ_REMOVE(&bg.active, j, alist);
	job_free(j);
	bg.running--;
	job_submit(NULL);
}

/* ---- on the helper thread ---- */

/* kb_log is the loop's: keep the first problem for job_done. */
static void
job_warn(struct rpc_job *j, const char *what, const char *msg)
{
	if (j->warn[0] != '\0')
		return;
	(void)snprintf(j->warn, sizeof(j->warn), "rpc execution %s: %s: %s",
	    j->id != NULL ? j->id : "-", what, msg);
	j->warn[strcspn(j->warn, "\n")] = '\0';
}

/*
 * Every NOTICE, WARNING, INFO (LOG, DEBUG) the function raises, written
 * as it arrives on a second connection, so a long call's logs can be
 * read while it runs.
 */
static void
job_notice(void *arg, const PGresult *res)
{
	struct rpc_job	*j = arg;
	const char	*level, *msg, *v[4];
	char		 seq[16], *cut;
	PGresult	*r;

	if (!j->capturing || j->nlogs > RPC_LOG_MAX)
		return;
	if (j->logs == NULL) {
		j->logs = PQconnectdb(kb_config.database_url);
		if (PQstatus(j->logs) != CONNECTION_OK) {
			job_warn(j, "logs", PQerrorMessage(j->logs));
			j->capturing = 0;
			return;
		}
	}
	level = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (level == NULL)
		level = PQresultErrorField(res, PG_DIAG_SEVERITY);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	cut = NULL;
	if (++j->nlogs > RPC_LOG_MAX) {
		level = "WARNING";
		msg = "more messages were raised; only the first "
		    "1000 are kept";
	} else if (msg != NULL && strlen(msg) > RPC_LOG_MSG_MAX) {
		if ((cut = strndup(msg, RPC_LOG_MSG_MAX)) != NULL)
			msg = cut;
	}
	(void)snprintf(seq, sizeof(seq), "%d", j->nlogs);
	v[0] = j->id;
	v[1] = seq;
	v[2] = level != NULL ? level : "NOTICE";
	v[3] = msg != NULL ? msg : "";
	r = PQexecParams(j->logs, "INSERT INTO rpc_execution_logs"
	    " (execution_id, seq, level, message) VALUES ($1::uuid, $2::int,"
	    " $3, $4)", 4, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		job_warn(j, "a log line", PQresultErrorMessage(r));
	PQclear(r);
	free(cut);
}

static int
job_ok(PGresult *r)
{
	return (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);
}

static void
job_insert(void *arg)
{
	struct rpc_job	*j = arg;
	PGconn		*pg;
	PGresult	*r;

	pg = PQconnectdb(kb_config.database_url);
	if (PQstatus(pg) != CONNECTION_OK) {
		job_warn(j, "connecting", PQerrorMessage(pg));
		PQfinish(pg);
		return;
	}
	r = PQexecParams(pg, INSERT_EXECUTION, 7, NULL,
	    (const char *const *)j->row, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		j->id = xstrdup(PQgetvalue(r, 0, 0));
		j->answer = xstrdup(PQgetvalue(r, 0, 1));
	} else
		job_warn(j, "inserting", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(pg);
}

static void
job_run(void *arg)
{
	struct rpc_job	*j = arg;
	struct timespec	 t0, t1;
	PGconn		*pg;
	PGresult	*r, *call;
	const char	*v[6], *st;
	char		 tmo[16], ms[32], err[2048];
	int		 ok, stopping;

	pg = PQconnectdb(kb_config.database_url);
	if (PQstatus(pg) != CONNECTION_OK) {
		/* Nowhere to record it: the database is away. */
		job_warn(j, "connecting", PQerrorMessage(pg));
		PQfinish(pg);
		return;
	}
	PQsetNoticeReceiver(pg, job_notice, j);
	pthread_mutex_lock(&job_lock);
	j->started = 1;
	stopping = j->stopping;
	if (!stopping)
		j->cancel = PQgetCancel(pg);
	pthread_mutex_unlock(&job_lock);
	(void)snprintf(tmo, sizeof(tmo), "%d", j->timeout_ms);
	v[0] = j->row[6];
	v[1] = j->claims;
	v[2] = tmo;
	r = PQexec(pg, "BEGIN");
	PQclear(r);
	r = PQexecParams(pg, "SELECT set_config('role', $1, true),"
	    " set_config('request.jwt.claims', $2, true),"
	    " set_config('statement_timeout', $3, true)", 3, NULL, v, NULL,
	    NULL, 0);
	ok = job_ok(r) && !stopping;
	PQclear(r);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	call = NULL;
	if (ok) {
		j->capturing = 1;
		call = PQexecParams(pg, j->sql, j->nvalues, NULL,
		    (const char *const *)j->values, NULL, NULL, 0);
		ok = job_ok(call);
		if (ok) {
			r = PQexec(pg, "COMMIT");	/* deferred checks */
			ok = job_ok(r);
			if (!ok) {
				PQclear(call);
				call = r;
			} else
				PQclear(r);
		}
		j->capturing = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_lock(&job_lock);
	stopping = j->stopping;
	PQfreeCancel(j->cancel);
	j->cancel = NULL;
	pthread_mutex_unlock(&job_lock);
	if (!ok) {
		r = PQexec(pg, "ROLLBACK");
		PQclear(r);
	}

	(void)snprintf(ms, sizeof(ms), "%.3f",
	    (double)(t1.tv_sec - t0.tv_sec) * 1000.0 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	v[0] = j->id;
	v[1] = ok ? "succeeded" : "failed";
	v[2] = ms;
	v[3] = NULL;
	v[4] = NULL;
	v[5] = NULL;
	if (ok && call != NULL && PQntuples(call) == 1 &&
	    !PQgetisnull(call, 0, 0))
		v[3] = PQgetvalue(call, 0, 0);
	if (!ok) {
		st = call != NULL ? PQresultErrorField(call,
		    PG_DIAG_SQLSTATE) : NULL;
		(void)snprintf(err, sizeof(err), "%s", call != NULL &&
		    PQresultErrorField(call, PG_DIAG_MESSAGE_PRIMARY) != NULL ?
		    PQresultErrorField(call, PG_DIAG_MESSAGE_PRIMARY) :
		    PQerrorMessage(pg));
		err[strcspn(err, "\n")] = '\0';
		if (stopping) {
			(void)snprintf(err, sizeof(err), "the server stopped "
			    "%s", call == NULL ? "before the call ran" :
			    "while the call ran; it was canceled");
			st = call == NULL ? "57P01" : "57014";
		}
		v[4] = err;
		v[5] = st;
	}
	r = PQexecParams(pg, "UPDATE rpc_executions SET status = $2,"
	    " finished_at = now(), duration_ms = $3::float8,"
	    " result = $4::jsonb, error = $5, sqlstate = $6"
	    " WHERE id = $1::uuid", 6, NULL, v, NULL, NULL, 0);
	if (!job_ok(r))
		job_warn(j, "recording the outcome", PQresultErrorMessage(r));
	PQclear(r);
	PQclear(call);
	PQfinish(pg);
	if (j->logs != NULL) {
		PQfinish(j->logs);
		j->logs = NULL;
	}
}

/*
 * The worker stops: cancel the calls that run (their threads record them
 * as failed, and kb_work_shutdown joins them at once instead of after
 * the call), and record as failed those that never started.
 */
/*
 * The lease.  Every third of KB_RPC_LEASE_S each worker renews the rows
 * of the calls it holds, running or waiting ($1), and marks failed the
 * `running` rows nobody renewed for a whole lease ($2 s): their worker
 * died.  One statement, on the pool; the rows of the calls it holds are
 * never the lost ones.
 */
static struct kb_stmt lease_stmt = KB_STMT(
	"WITH beat AS (UPDATE rpc_executions SET heartbeat_at = now()"
	" WHERE id = ANY ($1::uuid[]) AND status = 'running' RETURNING 1),"
	" lost AS (UPDATE rpc_executions SET status = 'failed',"
	" finished_at = now(), error = 'the server process that held the"
	" call stopped (its lease ran out)' WHERE status = 'running'"
	" AND heartbeat_at < now() - make_interval(secs => $2::int)"
	" AND NOT (id = ANY ($1::uuid[])) RETURNING id)"
	" SELECT (SELECT count(*) FROM beat), (SELECT count(*) FROM lost)");

static int	lease_busy;

/* Every third of KB_RPC_LEASE_S, from kb_janitor.c's timer. */
void
kb_rpc_lease(void)
{
	struct rpc_job	*j;
	struct kb_sbuf	 ids;
	struct kb_arena	*arena;
	const char	*v[2];
	char		 secs[16];
	int		 n = 0;

	if (lease_busy)
		return;
	arena = kb_arena_new();
	kb_sbuf_init(&ids, arena);
	kb_sbuf_putc(&ids, '{');
	if (bg.init) {
		TAILQ_FOREACH(j, &bg.active, alist)
			kb_sbuf_printf(&ids, "%s%s", n++ ? "," : "", j->id);
		TAILQ_FOREACH(j, &bg.pending, list)
			kb_sbuf_printf(&ids, "%s%s", n++ ? "," : "", j->id);
	}
	kb_sbuf_putc(&ids, '}');
	(void)snprintf(secs, sizeof(secs), "%d", kb_config.rpc_lease_s);
	v[0] = kb_sbuf_str(&ids);
	v[1] = secs;
	lease_busy = 1;
	kb_db_query_internal(&lease_stmt, 2, v, lease_done, NULL);
	kb_arena_free(arena);
}

static void
lease_done(struct kb_db_result *r, void *arg)
{
	(void)arg;
	lease_busy = 0;
	if (!r->ok) {
		if (!r->unavailable)
			kb_log("warning", "rpc lease: %s (%s)", r->message,
			    r->sqlstate);
	} else if (PQntuples(r->res) == 1 &&
	    strcmp(PQgetvalue(r->res, 0, 1), "0") != 0) {
		kb_log("warning", "rpc: %s executions marked failed: the "
		    "server process that held them stopped",
		    PQgetvalue(r->res, 0, 1));
	}
}

static void
rpc_teardown(void)
{
	struct rpc_job	*j;
	struct kb_sbuf	 ids;
	struct kb_arena	*arena;
	PGconn		*pg;
	PGresult	*r;
	const char	*v[1];
	char		 errbuf[256];
	int		 n = 0;

	arena = kb_arena_new();
	kb_sbuf_init(&ids, arena);
	kb_sbuf_putc(&ids, '{');
	TAILQ_FOREACH(j, &bg.active, alist) {
		pthread_mutex_lock(&job_lock);
		j->stopping = 1;
		if (j->cancel != NULL)
			(void)PQcancel(j->cancel, errbuf, sizeof(errbuf));
		if (!j->started)
			kb_sbuf_printf(&ids, "%s%s", n++ ? "," : "", j->id);
		pthread_mutex_unlock(&job_lock);
	}
	TAILQ_FOREACH(j, &bg.pending, list)
		kb_sbuf_printf(&ids, "%s%s", n++ ? "," : "", j->id);
	kb_sbuf_putc(&ids, '}');
	if (n > 0) {
		pg = PQconnectdb(kb_config.database_url);
		v[0] = kb_sbuf_str(&ids);
		r = PQexecParams(pg, "UPDATE rpc_executions SET status ="
		    " 'failed', finished_at = now(), error = 'the server stopped"
		    " before the call ran', sqlstate = '57P01' WHERE id ="
		    " ANY ($1::uuid[]) AND status = 'running'", 1, NULL, v, NULL,
		    NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			kb_log("warning", "rpc: recording %d calls that never "
			    "ran: %s", n, PQerrorMessage(pg));
		PQclear(r);
		PQfinish(pg);
	}
	kb_arena_free(arena);
}

/* ---- executions ---- */

static int
is_uuid(const char *s)
{
	int	i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i]))
			return (0);
	}
	return (s[36] == '\0');
}

static void
execution_query(struct kb_ctx *ctx, struct kb_stmt *stmt, const char *id)
{
	const struct kb_caller	*who = kb_ctx_caller(ctx);
	const char		*v[4];

	if (!is_uuid(id)) {
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such execution");
		return;
	}
	v[0] = id;
	v[1] = kb_caller_is_instance_admin(who) ? "t" : "f";
	v[2] = who->sub;
	v[3] = who->key_id;
	kb_db_query(ctx, stmt, 4, v, execution_done, NULL);
}

void
kbh_getRpcExecution(struct kb_ctx *ctx, const struct kbg_getRpcExecution_in *in)
{
	execution_query(ctx, &get_execution, in->id);
}

void
kbh_getRpcExecutionLogs(struct kb_ctx *ctx,
    const struct kbg_getRpcExecutionLogs_in *in)
{
	execution_query(ctx, &get_execution_logs, in->id);
}

static void
execution_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	/* Someone else's is as absent as one that never was. */
	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such execution");
}
