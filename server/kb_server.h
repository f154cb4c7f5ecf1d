/*
 * korebase server runtime: the per-request context, responses, the
 * asynchronous PostgreSQL pool, configuration and logging.
 *
 * Handlers include this header.  Everything here runs on a Kore worker's
 * event loop: nothing may block.  Responses are buffered in the context
 * and written by the dispatcher, so a handler (or a database callback)
 * may respond at any time before the request ends, exactly once.
 */

#ifndef KB_SERVER_H
#define KB_SERVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "kb_rt.h"

#define KB_VERSION		"0.1.0"
#define KB_REQUEST_ID_MAX	64

/* Configuration, read once from the environment at start-up. */
struct kb_config {
	const char	*database_url;	/* DATABASE_URL */
	int		db_pool;	/* KB_DB_POOL: connections per worker */
	int		db_timeout_ms;	/* KB_DB_TIMEOUT_MS: statement timeout */
	size_t		body_max;	/* KB_BODY_MAX: JSON request bodies */
	const char	*swagger_dir;	/* KB_SWAGGER_DIR */
	int		access_log;	/* KB_ACCESS_LOG: 1 or 0 */
	int		work_threads;	/* KB_WORK_THREADS: helper threads */
	const char	*jwt_secret;	/* KB_JWT_SECRET, >= 32 bytes */
	const char	*jwt_issuer;	/* KB_JWT_ISSUER */
	const char	*jwt_audience;	/* KB_JWT_AUDIENCE */
	int		jwt_ttl;	/* KB_JWT_TTL: access-token seconds */
	int		dev_mode;	/* KB_DEV_MODE: 1 allows no secret */
	const char	*setup_token;	/* KB_SETUP_TOKEN: first admin setup */
	int		session_ttl;	/* KB_SESSION_TTL: session seconds */
	int		refresh_ttl;	/* KB_REFRESH_TTL: refresh-token seconds */
	int		sql_timeout_ms;	/* KB_SQL_TIMEOUT_MS: POST /sql */
	int		janitor_ms;	/* KB_JANITOR_INTERVAL_MS, 0: off */
	int		rpc_retention_days; /* KB_RPC_RETENTION_DAYS */
	int		rpc_lease_s;	/* KB_RPC_LEASE_S */
	const char	*tables_schemas; /* KB_TABLES_SCHEMAS: exposed */
	const char	*tables_exclude; /* KB_TABLES_EXCLUDE: never exposed */
	/* E-mail flows (handlers/email.c) and the sender (kb_mail.c). */
	const char	*public_url;	/* KB_PUBLIC_URL: links in mails */
	const char	*smtp_url;	/* KB_SMTP_URL, NULL: log mail */
	const char	*smtp_from;	/* KB_SMTP_FROM */
	const char	*smtp_user;	/* KB_SMTP_USER, or NULL */
	const char	*smtp_password;	/* KB_SMTP_PASSWORD, or NULL */
	int		mail_sender;	/* KB_MAIL_SENDER: 1 runs it */
	int		mail_poll_ms;	/* KB_MAIL_POLL_MS */
	int		mail_retry_ms;	/* KB_MAIL_RETRY_BASE_MS */
	int		mail_max_attempts; /* KB_MAIL_MAX_ATTEMPTS */
	int		mail_rate_s;	/* KB_MAIL_RATE_SECONDS */
	int		verify_ttl;	/* KB_VERIFY_TTL (seconds) */
	int		magiclink_ttl;	/* KB_MAGICLINK_TTL */
	int		reset_ttl;	/* KB_RESET_TTL */
	int		otp_ttl;	/* KB_OTP_TTL */
	int		otp_max_attempts; /* KB_OTP_MAX_ATTEMPTS */
	int		otp_create_user; /* KB_AUTH_OTP_CREATE_USER */
	int		rpc_async_timeout_ms; /* KB_RPC_ASYNC_TIMEOUT_MS */
};

/*
 * What the Tables API never exposes unless KB_TABLES_EXCLUDE says
 * otherwise: every table and function korebase's own migrations create
 * (tests/integration/test_plumb.c checks the list against migrations/).
 * A name matches in every exposed schema, "schema.name" in that one.
 */
#define KB_TABLES_EXCLUDE_DEFAULT					\
	"kb_schema_migrations,settings,settings_touch,"			\
	"users,users_touch,sessions,refresh_tokens,signin_failures,"	\
	"audit_log,user_mfa,mfa_recovery_codes,mfa_challenges,"		\
	"tenants,tenant_members,tenant_settings,invitations,"		\
	"service_keys,service_key_events,client_keys,admin_setup,"	\
	"email_tokens,email_send_limits,mail_outbox,mail_outbox_notify,"	\
	"kb_migrations,kb_resolve_caller,kb_schema_notify,"		\
	"kb_credential_epoch,kb_credential_epoch_bump,"				\
	"rpc_executions,rpc_execution_logs"

extern struct kb_config	kb_config;

void	kb_config_load(void);

/* A monotonic clock in microseconds. */
uint64_t	kb_now_us(void);

/*
 * Request context.  Created by the dispatcher for every request, freed
 * with everything allocated by kb_ctx_alloc when the request ends.
 */
struct kb_ctx;

const char	*kb_ctx_request_id(struct kb_ctx *);
const char	*kb_ctx_header(struct kb_ctx *, const char *name);
const char	*kb_ctx_method(struct kb_ctx *);
char		*kb_ctx_strdup(struct kb_ctx *, const char *);
/* The raw query string (still percent-encoded, without '?'), or NULL. */
const char	*kb_ctx_query(struct kb_ctx *);
/*
 * Run fn(arg) when the request ends, however it ends (answered, client
 * gone): for memory a handler's callbacks may never get to free.
 */
void		 kb_ctx_defer(struct kb_ctx *, void (*fn)(void *), void *arg);

/*
 * Every argument of the raw query string, in order, percent-decoded
 * ('+' as a space): fn(name, value, arg) for each ("" for `?a` or
 * `?a=`; empty segments such as `&&` are skipped).  Returns 0 once every
 * argument was seen, the first non-zero value fn returned (which stops
 * the walk), or -1 when an argument is not valid percent-encoding (or
 * decodes to a NUL) before fn saw it.
 */
int		kb_ctx_query_each(struct kb_ctx *,
		    int (*fn)(const char *name, const char *value, void *),
		    void *arg);

/*
 * The caller, as established by the gate before the handler runs: from a
 * verified `Authorization: Bearer <JWT>` access token, a service key
 * (`Authorization: Bearer kbsk_...`), a client key (`X-Client-Key:
 * kbck_...`), or else anon.  The gate has already checked the operation's
 * x-kb-roles and x-kb-scopes and resolved the tenant (X-FB-Tenant, the
 * operation's x-kb-tenant-param, or the key's own tenant) including the
 * caller's membership, so handlers only read this: `sub` to know whose
 * data to touch, `tenant` to filter every tenant-scoped statement by.
 * Strings live until the request ends.
 */
enum kb_cred {
	KB_CRED_NONE = 0,	/* anon */
	KB_CRED_JWT,		/* a user's access token */
	KB_CRED_SERVICE_KEY,	/* kbsk_...: role service_role */
	KB_CRED_CLIENT_KEY	/* kbck_...: acts as its user */
};

struct kb_caller {
	const char	*role;		/* "anon", "authenticated", ... */
	const char	*sub;		/* user id, NULL for anon/service */
	const char	*sid;		/* session id (JWT only), or NULL */
	const char	*tenant;	/* resolved tenant id, or NULL */
	const char	*tenant_role;	/* "admin", "member" or NULL */
	const char	*key_id;	/* the key's id, or NULL */
	const char *const *scopes;	/* a key's scopes, or NULL */
	enum kb_cred	 cred;
	int64_t		 exp;		/* token expiry (unix s), 0 for anon */
};

/* 1 if the caller is an instance administrator (admin, instance_admin). */
int	kb_caller_is_instance_admin(const struct kb_caller *);
/* 1 if the caller administers the resolved tenant (or the instance). */
int	kb_caller_is_tenant_admin(const struct kb_caller *);

const struct kb_caller	*kb_ctx_caller(struct kb_ctx *);
/*
 * Run fn(ctx, 1, arg) once the caller is verified: at once, unless the
 * gate took it from its credential cache (kb_auth.c) and no statement of
 * the request has checked it yet.  Work that runs SQL outside kb_db (a
 * connection or thread of its own) calls this first.  If the caller no
 * longer holds, the request was answered: fn(ctx, 0, arg), to clean up.
 */
void	kb_ctx_verify(struct kb_ctx *,
	    void (*)(struct kb_ctx *, int, void *), void *);
const char		*kb_ctx_client_addr(struct kb_ctx *);

/*
 * JWT settings (HS256 secret, issuer, audience, access-token lifetime) for
 * handlers that issue tokens.  Defined by auth/kb_auth.h.
 */
struct kb_jwt_config;
const struct kb_jwt_config	*kb_jwt_config(void);

/*
 * Work off the event loop: `fn(arg)` runs on one of the worker's helper
 * threads (password hashing and other CPU-heavy or blocking work; it must
 * not touch Kore, the request or the database pool), then `done(ctx, arg)`
 * runs back on the event loop.  If the client went away meanwhile, `done`
 * gets ctx == NULL and must only release `arg`.  With ctx NULL the work
 * belongs to no request (background work that outlives the one that
 * started it): `done` always gets NULL.  `arg` is owned by the
 * work from this call on (allocate it with malloc, not kb_ctx_alloc).
 * Returns 0, or -1 when the queue is full (answer 503 and free `arg`).
 */
typedef void	(*kb_work_fn)(void *);
typedef void	(*kb_work_done)(struct kb_ctx *, void *);

int	kb_work(struct kb_ctx *, kb_work_fn fn, kb_work_done done, void *arg);

/*
 * Run `fn` on the loop thread when the worker stops, before the database
 * pool closes and the helper threads are joined (so it may stop long
 * work of its own on them).  Registering the same function again does
 * nothing; at most 8.
 */
void	kb_on_teardown(void (*fn)(void));

/*
 * Responses.  Exactly one kb_respond_* per request; later calls are
 * ignored (and logged).  Headers set with kb_header_set are sent with it.
 */
void	kb_header_set(struct kb_ctx *, const char *name, const char *value);
void	kb_respond_json(struct kb_ctx *, int status, json_t *body); /* steals */
void	kb_respond_text(struct kb_ctx *, int status, const char *ctype,
	    const char *data, size_t len);		/* copies data */
void	kb_respond_static(struct kb_ctx *, int status, const char *ctype,
	    const void *data, size_t len);		/* data outlives ctx */
void	kb_respond_empty(struct kb_ctx *, int status);
void	kb_respond_error(struct kb_ctx *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	kb_respond_errors(struct kb_ctx *, int status, const char *code,
	    const char *message, const struct kb_errors *);
int	kb_responded(struct kb_ctx *);

/*
 * Lists.  kb_prefer_has: does a Prefer header (RFC 7240) carry `pref`
 * ("count=exact")?  kb_respond_page answers 200 with a page from a row of
 * (total, items on this page, JSON array text) and a PostgREST-style
 * Content-Range: "0-9/42", "0-9/\*" without count=exact, "*\/42" when
 * the page is empty.
 */
int	kb_prefer_has(const char *prefer, const char *pref);
void	kb_respond_page(struct kb_ctx *, PGresult *, int64_t offset,
	    int count_exact);
/*
 * Run a list statement (one row: total, rows on the page, JSON array)
 * and answer it with kb_respond_page; `prefer` is the Prefer header or
 * NULL (count=exact fills the total in Content-Range).
 */
struct kb_stmt;
struct kb_db_result;
void	kb_db_query_page(struct kb_ctx *, struct kb_stmt *, int nparams,
	    const char *const *values, int64_t offset, const char *prefer);

/*
 * A failed statement the caller wrote (SQL endpoint, RPC) as a 4xx:
 * kb_db_error_status maps the SQLSTATE (statement timeout 408
 * STATEMENT_TIMEOUT, missing privileges 401 without credentials else 403
 * INSUFFICIENT_PRIVILEGE, unique/foreign-key violations and
 * serialization failures 409 SQL_CONFLICT, out of resources 503, the
 * rest 400 SQL_ERROR); kb_respond_db_error answers the standard error
 * body with PostgreSQL's message, sqlstate, details and hint.
 */
/*
 * The usual end of a statement that answers one JSON row: on failure
 * kb_db_respond_failure (returns 1); with no row, or NULL in column 0,
 * nothing (returns 0: the caller says why); else `status` with column 0
 * as the application/json body (returns 1).
 */
int	kb_db_respond_row(struct kb_ctx *, struct kb_db_result *, int status);

int	kb_db_error_status(const char *sqlstate, int has_credentials,
	    const char **code);
void	kb_respond_db_error(struct kb_ctx *, const struct kb_db_result *,
	    int status, const char *code);

/*
 * Prepared statements.  Declare one static struct per statement; the pool
 * prepares it lazily on each connection the first time it is used there.
 *
 *	static struct kb_stmt get_setting = KB_STMT("SELECT ... $1");
 */
struct kb_stmt {
	const char	*sql;
	int		readonly;	/* safe to retry on another connection */
	int		id;		/* assigned on first use, 0 = unset */
};

#define KB_STMT(sql)		{ (sql), 0, 0 }
#define KB_STMT_RO(sql)		{ (sql), 1, 0 }

/*
 * What a database callback gets.  `res` is freed after the callback, and
 * so are the strings.  On failure `res` is the failing result (or NULL
 * when the query never ran) and sqlstate, message, detail and hint are
 * PostgreSQL's (PG_DIAG_SQLSTATE, _MESSAGE_PRIMARY, _DETAIL, _HINT), ""
 * when it gave none, so they can be passed on as PostgREST does.
 */
struct kb_db_result {
	PGresult	*res;		/* NULL when the query never ran */
	int		ok;		/* TUPLES_OK or COMMAND_OK */
	int		unavailable;	/* database down or connection lost */
	int		step;		/* kb_db_run: the step `res` is of */
	const char	*sqlstate;	/* "23505", or "" */
	const char	*message;	/* PostgreSQL's message, or ours */
	const char	*detail;	/* PostgreSQL's DETAIL, or "" */
	const char	*hint;		/* PostgreSQL's HINT, or "" */
};

typedef void	(*kb_db_cb)(struct kb_ctx *, struct kb_db_result *, void *);
typedef void	(*kb_db_icb)(struct kb_db_result *, void *);
/*
 * A statement of the server's own, outside any request (the schema
 * cache's catalog query, the janitor, the RPC lease): `icb` always runs,
 * with `unavailable` set if the database could not be reached within 1 s.
 */
void	kb_db_query_internal(struct kb_stmt *, int, const char *const *,
	    kb_db_icb, void *);

/*
 * Run `stmt` with text parameters (NULL for SQL NULL; values are copied)
 * and call `cb` from the event loop with the result.  If the database is
 * unavailable the callback still runs, with `unavailable` set.  If the
 * client goes away first, the callback is not called.
 */
void	kb_db_query(struct kb_ctx *, struct kb_stmt *, int nparams,
	    const char *const *values, kb_db_cb cb, void *arg);

/*
 * A transaction group: run `steps` in order, in ONE implicit transaction
 * on one connection.  A group with a write gets a Sync of its own: no
 * other request's statement shares its transaction.  A read-only group
 * joins the connection's batch of reads like a read-only kb_db_query,
 * and the pool appends a step that puts the role and claims back, so
 * what follows it in that shared transaction runs as before.  So a first step
 *
 *	SELECT set_config('role', $1, true),
 *	    set_config('request.jwt.claims', $2, true)
 *
 * governs the steps after it and ends with the group.  A step is a
 * prepared statement (`stmt`) or, with `stmt` NULL, dynamic SQL (`sql`,
 * sent unnamed with PQsendQueryParams: parsed every time, so build it
 * only from trusted text and pass every value as a parameter).  Values
 * are copied.  `cb` gets the last step's result, or the first failing
 * step's error (r->step says which; PostgreSQL skips the steps after it
 * and rolls the group back).  At most 32 steps.
 *
 * A group is retried once on another connection after a lost connection
 * only if every step is read-only: a stmt declared KB_STMT_RO, or dynamic
 * SQL marked `readonly` (the caller vouches it writes nothing).
 */
struct kb_db_step {
	struct kb_stmt		*stmt;		/* or NULL, then */
	const char		*sql;
	int			 nparams;
	const char *const	*values;	/* NULL for SQL NULL */
	int			 readonly;	/* dynamic SQL: writes nothing */
	/*
	 * Dynamic SQL whose text repeats (its values are parameters): keep
	 * it prepared on each connection (a bounded per-worker cache).
	 * Only for statements whose result columns cannot change with DDL.
	 */
	int			 cache;
	/*
	 * Set by kb_db_step_caller*: this step sets the role and claims
	 * (KB_STEP_CALLER), and also a statement timeout
	 * (KB_STEP_CALLER_TIMEOUT).  kb_db.c relies on it to share a batch.
	 */
	int			 caller;
	/*
	 * Set by kb_db_step_caller* and kb_db_step_check: this step checks
	 * a cached caller (kb_auth.c); its last two values are the epoch and
	 * the expiry it checks.  `unchecked` is the same step without the
	 * check (its first nparams - 2 values), which kb_db.c sends when an
	 * earlier statement of the same batch checked the same epoch.
	 */
	int			 check;
	struct kb_stmt		*unchecked;
	/*
	 * A read that others like it can join (kb_db.c coalesces them): the
	 * same statement for an array of keys as $1, where this step's key
	 * is values[0] and its other values are the same; it answers one
	 * row per key, in their order, each the row this step answers.  For
	 * the last step, dynamic SQL with `cache` set, of a group of two
	 * that starts with the caller's step (kb_db_step_caller_ro); NULL
	 * otherwise.
	 */
	const char		*batch_sql;
};

#define KB_STEP_CALLER		1
#define KB_STEP_CALLER_TIMEOUT	2

void	kb_db_run(struct kb_ctx *, const struct kb_db_step *steps, int nsteps,
	    kb_db_cb cb, void *arg);

/*
 * The caller as PostgreSQL sees it (server/kb_caller.c), for kb_db_run
 * and kb_stream_copy.  kb_caller_pg_role: "service_role" for service
 * keys and instance administrators (who bypass row-level security, as
 * Supabase's dashboard does), "anon" without credentials, else
 * "authenticated" (tenant administrators too: what they may do beyond a
 * user is the API's business).  kb_caller_claims: the claims as JSON text
 * ({"role","sub","sid","tenant_id","tenant_role","key_id","exp"}, absent
 * ones left out; "role" is the API role, e.g. "admin"), made once per
 * request.  kb_db_step_caller fills `step` with the step 0 that sets both
 * (and, with kb_db_step_caller_timeout, a statement timeout in ms):
 *
 *	struct kb_db_step steps[2] = { 0 };
 *	kb_db_step_caller(ctx, &steps[0]);
 *	steps[1].sql = "SELECT ...";
 *	kb_db_run(ctx, steps, 2, done, NULL);
 */
const char	*kb_caller_pg_role(const struct kb_caller *);
const char	*kb_caller_claims(struct kb_ctx *);
void		 kb_db_step_caller(struct kb_ctx *, struct kb_db_step *);
void		 kb_db_step_caller_timeout(struct kb_ctx *, int timeout_ms,
		    struct kb_db_step *);
/*
 * The same for a read: the transaction is also made READ ONLY, as
 * PostgREST runs GETs, so a policy or function that writes fails rather
 * than writing in a transaction that other reads share.
 */
void		 kb_db_step_caller_ro(struct kb_ctx *, struct kb_db_step *);

/*
 * The usual way to end a failed query: 503 when the database is down,
 * else 500 (the details are logged, not sent).
 */
void	kb_db_respond_failure(struct kb_ctx *, struct kb_db_result *);

/* 1 if at least one pooled connection in this worker is usable. */
int	kb_db_available(void);

/*
 * 1 while this worker's pool has a connection up that is not sitting on
 * an unanswered ping (the pool pings an idle database once a second and
 * drops a connection whose ping goes unanswered past the statement
 * timeout + 1 s).  Costs no query per caller.
 */
int	kb_db_healthy(void);
/*
 * This worker's coalesced reads by id so far: the statements sent for
 * several keys, and the reads they answered.
 */
void	kb_db_coalesced(u_int64_t *stmts, u_int64_t *reads);

/*
 * The mail sender (kb_mail.c): a helper thread per worker that delivers
 * mail_outbox rows.  Handlers only insert rows (a trigger NOTIFYs
 * kb_mail), their bodies sealed with kb_seal() under
 * HMAC-SHA256(KB_JWT_SECRET, KB_MAIL_KEY_LABEL), the recipient as
 * associated data.
 */
#define KB_MAIL_KEY_LABEL	"kb-mail-body-key"

void	kb_mail_init(void);		/* per worker */
void	kb_rpc_lease(void);		/* handlers/rpc.c: renew, sweep */
void	kb_mail_shutdown(void);

void	kb_db_init(void);		/* per worker */
void	kb_db_shutdown(void);

/*
 * Streamed responses (server/kb_stream.c): a large export in constant
 * memory.  Runs `sql` on a dedicated connection (not the pool's), in a
 * READ ONLY transaction that first sets the caller's role and claims when
 * `role` is not NULL (as kb_db_run's step 0 does), and writes the rows to
 * the client as PostgreSQL sends them, as a chunked response (HTTP/1.0:
 * delimited by closing the connection), `status` and `content_type`, with
 * the headers set by kb_header_set.  The client's pace governs: while it
 * does not read, the stream does not read from PostgreSQL either.
 *
 *   - `sql` a COPY ... TO STDOUT statement (no parameters: PostgreSQL
 *     takes none there): its output goes out as it is, whatever format
 *     the COPY chose (CSV with HEADER, text, ...);
 *   - else a query with $1.. parameters, fetched row by row (single-row
 *     mode), written according to content_type: text/csv as COPY's CSV
 *     with a header line; application/json as one JSON array of objects;
 *     anything else (application/x-ndjson) one JSON object per line.  The
 *     JSON objects are made by PostgreSQL (to_json of each row).
 *
 * This is the request's response: do not respond otherwise.  Before the
 * first byte a failure answers 503 when the database is unavailable, or
 * else calls the callback set with kb_stream_on_error (which responds as
 * it sees fit, e.g. mapping the SQLSTATE), or else answers 500.  After
 * it, the client connection is closed without the last chunk, so the
 * client sees a truncated transfer.  A HEAD request gets the headers
 * only and runs no query.
 */
void	kb_stream_on_error(struct kb_ctx *, kb_db_cb cb, void *arg);
void	kb_stream_copy(struct kb_ctx *, int status, const char *content_type,
	    const char *sql, int nparams, const char *const *values,
	    const char *role, const char *claims_json);
/*
 * The same, for rows the query formats itself (the Tables planner's
 * export plans): each row's first column goes out as it is, `head`
 * first, `sep` between two rows, `tail` last:
 *
 *	kb_stream_rows(ctx, 200, plan->stream_type, plan->sql,
 *	    plan->nparams, plan->params, kb_caller_pg_role(caller),
 *	    kb_caller_claims(ctx), plan->stream_head, plan->stream_sep,
 *	    plan->stream_tail);
 */
void	kb_stream_rows(struct kb_ctx *, int status, const char *content_type,
	    const char *sql, int nparams, const char *const *values,
	    const char *role, const char *claims_json, const char *head,
	    const char *sep, const char *tail);

/*
 * The schema cache (server/kb_schema_cache.c): the tables and functions
 * the Tables API exposes, as the model of tables/kb_schema.h (included
 * through server/kb_catalog.h, which calls it struct kb_catalog: the
 * name kb_schema is taken by the compiled JSON Schemas of kb_rt.h),
 * reloaded by every worker shortly after DDL changes the catalog.
 *
 * kb_schema_acquire: the current schema, held for the request until it
 * ends (every later call in the same request returns the same one, so a
 * request sees one consistent catalog), or NULL while the worker has not
 * loaded one yet (just started, database away): answer 503 then, or
 * wait with kb_schema_wait, whose callback runs once the first schema is
 * in (at once if it is), or with NULL after 2 s.
 */
struct kb_catalog;
typedef void	(*kb_schema_cb)(struct kb_ctx *, const struct kb_catalog *,
		    void *);

const struct kb_catalog	*kb_schema_acquire(struct kb_ctx *);
void			 kb_schema_wait(struct kb_ctx *, kb_schema_cb, void *);
/* 503 SERVICE_UNAVAILABLE with Retry-After: no schema loaded yet. */
void			 kb_schema_respond_unavailable(struct kb_ctx *);
/* The worker's current schema version (0: none yet). */
uint64_t		 kb_schema_version(void);

/* Logging: one JSON object per line on stderr. */
void	kb_log(const char *level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The embedded Swagger UI assets and the served spec. */
void	kb_static_init(void);
int	kb_static_asset(const char *name, const void **data, size_t *len,
	    const char **ctype);
const char *kb_static_docs_html(size_t *len);
const char *kb_spec_etag(void);

/*
 * The served /openapi.json (server/kb_oas.c): the bundled spec plus a
 * path and a schema per table and view of the schema `cat`, built once
 * per schema version per worker and cached with its ETag (a hash of the
 * bytes).  `cat` NULL (no schema loaded): the bundled spec as it is.
 * The text and ETag stay valid until the request ends.
 */
void	kb_oas_document(struct kb_ctx *, const struct kb_catalog *cat,
	    const char **json, size_t *len, const char **etag);

#endif /* KB_SERVER_H */
