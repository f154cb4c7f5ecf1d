/*
 * Service keys and client keys (reference 000, "Service Keys" and "Client
 * Keys"; issue 3).  The credentials gate (server/kb_auth.c) verifies keys
 * on use; this file manages them.
 *
 * Tenancy, the part that matters most:
 *  - Every service-key statement takes the tenant the gate resolved
 *    (kb_caller.tenant: X-FB-Tenant of a tenant or instance admin, or a
 *    tenant-scoped key's own) as $1 and filters `k.tenant_id = $1`.  $1 is
 *    NULL only for an instance admin (or an instance-wide service key) who
 *    selected no tenant: then the statement reaches every key.  sk_scope()
 *    is the one place that decides this.  No tenant is ever taken from a
 *    body.
 *  - A key outside the caller's reach answers 404 exactly like a missing
 *    one: the statements cannot tell them apart either.
 *  - Client keys belong to their user: every statement filters
 *    `k.user_id = $1` (kb_caller.sub) and, when a tenant was selected,
 *    `k.tenant_id = $2`.
 *
 * A key is "kbsk_" / "kbck_" + 43 base64url characters (256 random bits),
 * returned once by create (and rotate); only its SHA-256 and its first 13
 * characters are stored.  As in auth.c, each change and its audit_log row
 * (and service_key_events row) are written by one statement.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "auth_int.h"

#define SERVICE_KEY_PREFIX	"kbsk_"
#define CLIENT_KEY_PREFIX	"kbck_"
#define KEY_PREFIX_SHOWN	13	/* "kbsk_" + 8 */
#define KEY_BYTES		32
#define ROTATE_GRACE_DEFAULT	86400

#define KEY_AUDIT	"audit_log (actor_id, tenant_id, key_id, action, target," \
			" request_id, client_addr, details)"

/* The caller's reach over service keys: $1 NULL means every key. */
#define SK_SCOPE(k)	"($1::uuid IS NULL OR " k ".tenant_id = $1::uuid)"

#define SK_STATUS(k)							\
	"CASE WHEN " k ".status <> 'active' THEN " k ".status"		\
	" WHEN " k ".expires_at <= now() THEN 'expired'"		\
	" WHEN " k ".deprecated_at IS NOT NULL THEN 'deprecated'"	\
	" ELSE 'active' END"

/* What kb_resolve_caller() accepts. */
#define SK_ACTIVE(k)							\
	"(" k ".status = 'active' AND coalesce(" k ".expires_at > now(),"	\
	" true) AND coalesce(" k ".grace_until > now(), true))"

#define SK_JSON(k)							\
	"json_build_object('id', " k ".id, 'name', " k ".name,"		\
	" 'description', " k ".description, 'key_prefix', " k ".key_prefix,"	\
	" 'scopes', to_json(" k ".scopes), 'tenant_id', " k ".tenant_id,"	\
	" 'status', " SK_STATUS(k) ", 'active', " SK_ACTIVE(k) ","	\
	" 'expires_at', " TS(k ".expires_at") ","			\
	" 'deprecated_at', " TS(k ".deprecated_at") ","			\
	" 'grace_until', " TS(k ".grace_until") ","			\
	" 'replaced_by', " k ".replaced_by, 'created_by', " k ".created_by,"	\
	" 'created_at', " TS(k ".created_at") ","			\
	" 'updated_at', " TS(k ".updated_at") ","			\
	" 'revoked_at', " TS(k ".revoked_at") ","			\
	" 'revoke_reason', " k ".revoke_reason)"

/* A JSON array of scope strings as text[]. */
#define SCOPES_OF(j)	"ARRAY(SELECT jsonb_array_elements_text(" j "))"

/* $1 tenant, $2 limit, $3 offset, $4 status, $5 tenant filter. */
static struct kb_stmt	sk_list = KB_STMT_RO(
	"WITH f AS (SELECT k.*, " SK_STATUS("k") " AS st FROM service_keys k"
	" WHERE " SK_SCOPE("k") " AND ($5::uuid IS NULL"
	" OR k.tenant_id = $5::uuid) AND ($4::text IS NULL OR "
	SK_STATUS("k") " = $4::text))"
	" SELECT (SELECT count(*) FROM f), count(*),"
	" coalesce(json_agg(j ORDER BY c DESC, i DESC), '[]')::text"
	" FROM (SELECT k.created_at AS c, k.id AS i, " SK_JSON("k") " AS j"
	" FROM f k ORDER BY k.created_at DESC, k.id DESC"
	" LIMIT $2::bigint OFFSET $3::bigint) page");

/* $1 tenant, $2 id. */
static struct kb_stmt	sk_get = KB_STMT_RO(
	"SELECT " SK_JSON("k") "::text FROM service_keys k"
	" WHERE k.id = $2::uuid AND " SK_SCOPE("k"));

/*
 * $1 tenant (NULL: instance-wide), $2 body, $3 actor, $4 request id,
 * $5 client address, $6 key prefix, $7 key hash.  One row: the outcome
 * ("ok", "past") and the key.
 */
static struct kb_stmt	sk_create = KB_STMT(
	"WITH b AS (SELECT $2::jsonb AS v),"
	" chk AS (SELECT CASE WHEN (b.v->>'expires_at')::timestamptz <= now()"
	" THEN 'past' ELSE 'ok' END AS outcome FROM b),"
	" k AS (INSERT INTO service_keys (tenant_id, name, description,"
	" key_prefix, key_hash, scopes, expires_at, created_by)"
	" SELECT $1::uuid, b.v->>'name', b.v->>'description', $6, $7, "
	SCOPES_OF("b.v->'scopes'") ", (b.v->>'expires_at')::timestamptz,"
	" $3::uuid FROM b, chk WHERE chk.outcome = 'ok' RETURNING *),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $3::uuid, k.tenant_id, k.id,"
	" 'service_key.create', k.id::text, $4, $5, jsonb_build_object('name',"
	" k.name, 'scopes', to_jsonb(k.scopes), 'expires_at', k.expires_at)"
	" FROM k)"
	" SELECT chk.outcome, (SELECT " SK_JSON("k") "::text FROM k) FROM chk");

/*
 * The by-id changes share $1 tenant, $2 id, $3 actor, $4 request id,
 * $5 client address.  One row: the outcome ("ok", "not_found", "revoked",
 * "past", "not_rotatable") and the key.
 */
#define SK_FIND								\
	"WITH o AS (SELECT k.* FROM service_keys k WHERE k.id = $2::uuid"	\
	" AND " SK_SCOPE("k") " FOR UPDATE),"

#define SK_CHECK(extra)							\
	" chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM o)"	\
	" THEN 'not_found' WHEN (SELECT o.status FROM o) = 'revoked'"	\
	" THEN 'revoked' " extra " ELSE 'ok' END AS outcome),"

#define SK_UPDATE(set)							\
	" k AS (UPDATE service_keys k SET " set ", updated_at = now()"	\
	" FROM chk WHERE chk.outcome = 'ok' AND k.id = $2::uuid"	\
	" AND k.status <> 'revoked' AND " SK_SCOPE("k") " RETURNING k.*),"

#define SK_EVENT(action, reason, details)				\
	" e AS (INSERT INTO service_key_events (key_id, tenant_id, action,"	\
	" reason, actor_id) SELECT k.id, k.tenant_id, '" action "', "	\
	reason ", $3::uuid FROM k),"					\
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $3::uuid, k.tenant_id,"	\
	" k.id, 'service_key." action "', k.id::text, $4, $5, " details	\
	" FROM k)"

#define SK_RESULT							\
	" SELECT chk.outcome, (SELECT " SK_JSON("k") "::text FROM k) FROM chk"

/* $6 body (the fields to change). */
static struct kb_stmt	sk_update = KB_STMT(
	SK_FIND
	" b AS (SELECT $6::jsonb AS v),"
	SK_CHECK("WHEN (SELECT (b.v->>'expires_at')::timestamptz <= now()"
	" FROM b) THEN 'past'")
	" k AS (UPDATE service_keys k SET"
	" name = CASE WHEN b.v ? 'name' THEN b.v->>'name' ELSE k.name END,"
	" description = CASE WHEN b.v ? 'description'"
	" THEN b.v->>'description' ELSE k.description END,"
	" scopes = CASE WHEN b.v ? 'scopes' THEN " SCOPES_OF("b.v->'scopes'")
	" ELSE k.scopes END,"
	" expires_at = CASE WHEN b.v ? 'expires_at'"
	" THEN (b.v->>'expires_at')::timestamptz ELSE k.expires_at END,"
	" updated_at = now() FROM b, chk WHERE chk.outcome = 'ok'"
	" AND k.id = $2::uuid AND k.status <> 'revoked' AND " SK_SCOPE("k")
	" RETURNING k.*),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $3::uuid, k.tenant_id, k.id,"
	" 'service_key.update', k.id::text, $4, $5, b.v FROM k, b)"
	SK_RESULT);

static struct kb_stmt	sk_delete = KB_STMT(
	"WITH k AS (DELETE FROM service_keys k WHERE k.id = $2::uuid AND "
	SK_SCOPE("k") " RETURNING k.id, k.tenant_id, k.name),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $3::uuid, k.tenant_id, k.id,"
	" 'service_key.delete', k.id::text, $4, $5,"
	" jsonb_build_object('name', k.name) FROM k)"
	" SELECT count(*) FROM k");

static struct kb_stmt	sk_disable = KB_STMT(
	SK_FIND SK_CHECK("")
	SK_UPDATE("status = 'disabled'")
	SK_EVENT("disable", "NULL", "'{}'::jsonb")
	SK_RESULT);

static struct kb_stmt	sk_enable = KB_STMT(
	SK_FIND SK_CHECK("")
	SK_UPDATE("status = 'active'")
	SK_EVENT("enable", "NULL", "'{}'::jsonb")
	SK_RESULT);

/* $6 reason. */
static struct kb_stmt	sk_revoke = KB_STMT(
	SK_FIND SK_CHECK("")
	SK_UPDATE("status = 'revoked', revoked_at = now(),"
	" revoked_by = $3::uuid, revoke_reason = $6::text")
	SK_EVENT("revoke", "$6::text",
	    "jsonb_build_object('reason', $6::text)")
	SK_RESULT);

/* $6 grace_until or NULL, $7 grace seconds or NULL, $8 reason. */
static struct kb_stmt	sk_deprecate = KB_STMT(
	SK_FIND
	SK_CHECK("WHEN $6::timestamptz <= now() THEN 'past'")
	SK_UPDATE("deprecated_at = coalesce(k.deprecated_at, now()),"
	" grace_until = coalesce($6::timestamptz,"
	" now() + make_interval(secs => $7::int))")
	SK_EVENT("deprecate", "$8::text",
	    "jsonb_build_object('grace_until', k.grace_until,"
	    " 'reason', $8::text)")
	SK_RESULT);

/*
 * $6 grace seconds, $7 reason, $8 new key prefix, $9 new key hash.  The
 * answer is the new key; the old one keeps working for the grace period.
 */
static struct kb_stmt	sk_rotate = KB_STMT(
	SK_FIND
	SK_CHECK("WHEN (SELECT o.status <> 'active' OR o.replaced_by IS NOT"
	" NULL OR coalesce(o.expires_at <= now(), false) OR"
	" coalesce(o.grace_until <= now(), false) FROM o)"
	" THEN 'not_rotatable'")
	" n AS (INSERT INTO service_keys (tenant_id, name, description,"
	" key_prefix, key_hash, scopes, expires_at, created_by)"
	" SELECT o.tenant_id, o.name, o.description, $8, $9, o.scopes,"
	" o.expires_at, $3::uuid FROM o, chk WHERE chk.outcome = 'ok'"
	" RETURNING *),"
	" k AS (UPDATE service_keys k SET deprecated_at ="
	" coalesce(k.deprecated_at, now()), grace_until = now() +"
	" make_interval(secs => $6::int), replaced_by = n.id,"
	" updated_at = now() FROM n WHERE k.id = $2::uuid RETURNING k.*),"
	" e AS (INSERT INTO service_key_events (key_id, tenant_id, action,"
	" reason, actor_id) SELECT k.id, k.tenant_id, 'rotate', $7::text,"
	" $3::uuid FROM k),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $3::uuid, k.tenant_id, k.id,"
	" 'service_key.rotate', k.id::text, $4, $5, jsonb_build_object("
	" 'replaced_by', n.id, 'grace_until', k.grace_until, 'reason',"
	" $7::text) FROM k, n UNION ALL SELECT $3::uuid, n.tenant_id, n.id,"
	" 'service_key.create', n.id::text, $4, $5, jsonb_build_object("
	" 'rotated_from', k.id, 'name', n.name) FROM k, n)"
	" SELECT chk.outcome, (SELECT " SK_JSON("n") "::text FROM n)"
	" FROM chk");

/* $1 tenant, $2 id.  Whether the key is in reach, and its history. */
static struct kb_stmt	sk_events = KB_STMT_RO(
	"SELECT EXISTS (SELECT 1 FROM service_keys k WHERE k.id = $2::uuid"
	" AND " SK_SCOPE("k") "), (SELECT coalesce(json_agg("
	" json_build_object('id', e.id, 'key_id', e.key_id, 'action',"
	" e.action, 'reason', e.reason, 'actor_id', e.actor_id,"
	" 'created_at', " TS("e.created_at") ") ORDER BY e.id), '[]')"
	" FROM service_key_events e JOIN service_keys k ON k.id = e.key_id"
	" WHERE e.key_id = $2::uuid AND " SK_SCOPE("k") ")::text");

/* ---- client keys: $1 user, $2 tenant or NULL ---- */

#define CK_SCOPE(k)							\
	"(" k ".user_id = $1::uuid AND ($2::uuid IS NULL"		\
	" OR " k ".tenant_id = $2::uuid))"

#define CK_STATUS(k)							\
	"CASE WHEN " k ".revoked_at IS NOT NULL THEN 'revoked'"		\
	" WHEN " k ".expires_at <= now() THEN 'expired' ELSE 'active' END"

#define CK_JSON(k)							\
	"json_build_object('id', " k ".id, 'user_id', " k ".user_id,"	\
	" 'tenant_id', " k ".tenant_id, 'name', " k ".name,"		\
	" 'description', " k ".description, 'key_prefix', " k ".key_prefix,"	\
	" 'scopes', to_json(" k ".scopes), 'status', " CK_STATUS(k) ","	\
	" 'active', " CK_STATUS(k) " = 'active',"			\
	" 'expires_at', " TS(k ".expires_at") ","			\
	" 'created_at', " TS(k ".created_at") ","			\
	" 'updated_at', " TS(k ".updated_at") ","			\
	" 'revoked_at', " TS(k ".revoked_at") ","			\
	" 'revoke_reason', " k ".revoke_reason)"

/* $3 limit, $4 offset. */
static struct kb_stmt	ck_list = KB_STMT_RO(
	"WITH f AS (SELECT k.* FROM client_keys k WHERE " CK_SCOPE("k") ")"
	" SELECT (SELECT count(*) FROM f), count(*),"
	" coalesce(json_agg(j ORDER BY c DESC, i DESC), '[]')::text"
	" FROM (SELECT k.created_at AS c, k.id AS i, " CK_JSON("k") " AS j"
	" FROM f k ORDER BY k.created_at DESC, k.id DESC"
	" LIMIT $3::bigint OFFSET $4::bigint) page");

/* $3 id. */
static struct kb_stmt	ck_get = KB_STMT_RO(
	"SELECT " CK_JSON("k") "::text FROM client_keys k"
	" WHERE k.id = $3::uuid AND " CK_SCOPE("k"));

/* $3 body, $4 request id, $5 client address, $6 prefix, $7 hash. */
static struct kb_stmt	ck_create = KB_STMT(
	"WITH b AS (SELECT $3::jsonb AS v),"
	" chk AS (SELECT CASE WHEN (b.v->>'expires_at')::timestamptz <= now()"
	" THEN 'past' ELSE 'ok' END AS outcome FROM b),"
	" k AS (INSERT INTO client_keys (user_id, tenant_id, name,"
	" description, key_prefix, key_hash, scopes, expires_at)"
	" SELECT $1::uuid, $2::uuid, b.v->>'name', b.v->>'description', $6,"
	" $7, " SCOPES_OF("b.v->'scopes'") ","
	" (b.v->>'expires_at')::timestamptz FROM b, chk"
	" WHERE chk.outcome = 'ok' RETURNING *),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $1::uuid, k.tenant_id, k.id,"
	" 'client_key.create', k.id::text, $4, $5, jsonb_build_object('name',"
	" k.name, 'scopes', to_jsonb(k.scopes), 'expires_at', k.expires_at)"
	" FROM k)"
	" SELECT chk.outcome, (SELECT " CK_JSON("k") "::text FROM k) FROM chk");

/* By id: $3 id, $4 request id, $5 client address. */
#define CK_FIND								\
	"WITH o AS (SELECT k.* FROM client_keys k WHERE k.id = $3::uuid"	\
	" AND " CK_SCOPE("k") " FOR UPDATE),"

#define CK_CHECK(extra)							\
	" chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM o)"	\
	" THEN 'not_found' WHEN (SELECT o.revoked_at IS NOT NULL FROM o)"	\
	" THEN 'revoked' " extra " ELSE 'ok' END AS outcome),"

#define CK_RESULT							\
	" SELECT chk.outcome, (SELECT " CK_JSON("k") "::text FROM k) FROM chk"

/* $6 body. */
static struct kb_stmt	ck_update = KB_STMT(
	CK_FIND
	" b AS (SELECT $6::jsonb AS v),"
	CK_CHECK("WHEN (SELECT (b.v->>'expires_at')::timestamptz <= now()"
	" FROM b) THEN 'past'")
	" k AS (UPDATE client_keys k SET"
	" name = CASE WHEN b.v ? 'name' THEN b.v->>'name' ELSE k.name END,"
	" description = CASE WHEN b.v ? 'description'"
	" THEN b.v->>'description' ELSE k.description END,"
	" scopes = CASE WHEN b.v ? 'scopes' THEN " SCOPES_OF("b.v->'scopes'")
	" ELSE k.scopes END,"
	" expires_at = CASE WHEN b.v ? 'expires_at'"
	" THEN (b.v->>'expires_at')::timestamptz ELSE k.expires_at END,"
	" updated_at = now() FROM b, chk WHERE chk.outcome = 'ok'"
	" AND k.id = $3::uuid AND k.revoked_at IS NULL AND " CK_SCOPE("k")
	" RETURNING k.*),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $1::uuid, k.tenant_id, k.id,"
	" 'client_key.update', k.id::text, $4, $5, b.v FROM k, b)"
	CK_RESULT);

/* $6 reason. */
static struct kb_stmt	ck_revoke = KB_STMT(
	CK_FIND CK_CHECK("")
	" k AS (UPDATE client_keys k SET revoked_at = now(),"
	" revoke_reason = $6::text, updated_at = now() FROM chk"
	" WHERE chk.outcome = 'ok' AND k.id = $3::uuid"
	" AND k.revoked_at IS NULL AND " CK_SCOPE("k") " RETURNING k.*),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $1::uuid, k.tenant_id, k.id,"
	" 'client_key.revoke', k.id::text, $4, $5,"
	" jsonb_build_object('reason', $6::text) FROM k)"
	CK_RESULT);

static struct kb_stmt	ck_delete = KB_STMT(
	"WITH k AS (DELETE FROM client_keys k WHERE k.id = $3::uuid AND "
	CK_SCOPE("k") " RETURNING k.id, k.tenant_id, k.name),"
	" a AS (INSERT INTO " KEY_AUDIT " SELECT $1::uuid, k.tenant_id, k.id,"
	" 'client_key.delete', k.id::text, $4, $5,"
	" jsonb_build_object('name', k.name) FROM k)"
	" SELECT count(*) FROM k");

/* What a callback needs to answer. */
struct key_arg {
	const char	*what;		/* "service key", "client key" */
	const char	*key;		/* the new key, shown once, or NULL */
	const char	*past_path;	/* the field a 'past' outcome names */
	int		 status;	/* on success */
};

static int	sk_scope(struct kb_ctx *, const char **);
static int	ck_caller(struct kb_ctx *, const char **, const char **);
static const char *actor_of(struct kb_ctx *);
static int	key_new(struct kb_ctx *, const char *, const char **,
		    const char **, const char **);
static struct key_arg *key_arg(struct kb_ctx *, const char *, int);
static const char *body_text(struct kb_ctx *, json_t *);
static const char *body_string(struct kb_ctx *, json_t *, const char *);
static void	list_start(struct kb_ctx *, struct kb_stmt *, int,
		    const char **, int, int64_t, int64_t, const char *);
static void	sk_change(struct kb_ctx *, struct kb_stmt *, const char *,
		    const char *const *, int, struct key_arg *);
static void	ck_change(struct kb_ctx *, struct kb_stmt *, const char *,
		    const char *, int, struct key_arg *);
static void	one_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	outcome_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	deleted_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	events_done(struct kb_ctx *, struct kb_db_result *, void *);
static int	db_bad_value(struct kb_ctx *, struct kb_db_result *);

/*
 * The tenant a service-key statement is limited to, into *tenant (NULL:
 * every key).  The gate has checked the roles: a tenant admin only passes
 * it with a resolved tenant.  NULL is allowed only to an instance admin's
 * access token or an instance-wide service key.  0 when it answered.
 */
static int
sk_scope(struct kb_ctx *ctx, const char **tenant)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	*tenant = NULL;
	if (c->tenant != NULL) {
		if (!auth_is_uuid(c->tenant)) {
			kb_respond_error(ctx, 500, "INTERNAL",
			    "unexpected tenant id");
			return (0);
		}
		*tenant = c->tenant;
		return (1);
	}
	if ((c->cred == KB_CRED_JWT && kb_caller_is_instance_admin(c)) ||
	    c->cred == KB_CRED_SERVICE_KEY)
		return (1);
	kb_respond_error(ctx, 403, "TENANT_REQUIRED", "select the tenant to "
	    "act in with X-FB-Tenant: only an instance administrator "
	    "manages instance-wide keys");
	return (0);
}

/* The user whose client keys these are, and the tenant; 0 when it answered. */
static int
ck_caller(struct kb_ctx *ctx, const char **user, const char **tenant)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	if (c->cred != KB_CRED_JWT || !auth_is_uuid(c->sub)) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "client keys are managed with a user access token");
		return (0);
	}
	if (c->tenant != NULL && !auth_is_uuid(c->tenant)) {
		kb_respond_error(ctx, 500, "INTERNAL", "unexpected tenant id");
		return (0);
	}
	*user = c->sub;
	*tenant = c->tenant;
	return (1);
}

static const char *
actor_of(struct kb_ctx *ctx)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	return (auth_is_uuid(c->sub) ? c->sub : NULL);
}

/* A new key with its shown prefix and hash; 0 when it answered 500. */
static int
key_new(struct kb_ctx *ctx, const char *prefix, const char **key,
    const char **shown, const char **hash)
{
	char	 buf[KB_TOKEN_LEN(KEY_BYTES)], h[KB_TOKEN_HASH_LEN];
	char	*p;

	if (kb_token_new(prefix, KEY_BYTES, buf, sizeof(buf)) != 0 ||
	    kb_token_hash(buf, strlen(buf), h, sizeof(h)) != 0) {
		explicit_bzero(buf, sizeof(buf));
		kb_respond_error(ctx, 500, "INTERNAL", "could not make a key");
		return (0);
	}
	*key = kb_ctx_strdup(ctx, buf);
	*hash = kb_ctx_strdup(ctx, h);
	p = kb_ctx_alloc(ctx, KEY_PREFIX_SHOWN + 1);
	memcpy(p, buf, KEY_PREFIX_SHOWN);
	p[KEY_PREFIX_SHOWN] = '\0';
	*shown = p;
	explicit_bzero(buf, sizeof(buf));
	return (1);
}

static struct key_arg *
key_arg(struct kb_ctx *ctx, const char *what, int status)
{
	struct key_arg	*a;

	a = kb_ctx_alloc(ctx, sizeof(*a));
	memset(a, 0, sizeof(*a));
	a->what = what;
	a->status = status;
	a->past_path = "/body/expires_at";
	return (a);
}

/* The validated body as JSON text ("{}" when there is none). */
static const char *
body_text(struct kb_ctx *ctx, json_t *body)
{
	char		*s;
	const char	*copy;

	if (body == NULL)
		return ("{}");
	if ((s = json_dumps(body, JSON_COMPACT)) == NULL)
		return (NULL);
	copy = kb_ctx_strdup(ctx, s);
	free(s);
	return (copy);
}

static const char *
body_string(struct kb_ctx *ctx, json_t *body, const char *name)
{
	const char	*s;

	s = json_string_value(json_object_get(body, name));
	return (s != NULL ? kb_ctx_strdup(ctx, s) : NULL);
}

/* Run a list statement whose limit and offset are params[at], [at + 1]. */
static void
list_start(struct kb_ctx *ctx, struct kb_stmt *stmt, int n,
    const char **params, int at, int64_t limit, int64_t offset,
    const char *prefer)
{
	char		*lim, *off;

	lim = kb_ctx_alloc(ctx, 24);
	off = kb_ctx_alloc(ctx, 24);
	(void)snprintf(lim, 24, "%" PRId64, limit);
	(void)snprintf(off, 24, "%" PRId64, offset);
	params[at] = lim;
	params[at + 1] = off;
	kb_db_query_page(ctx, stmt, n, params, offset, prefer);
}

static void
one_done(struct kb_ctx *ctx, struct kb_db_result *r, void *varg)
{
	struct key_arg	*a = varg;

	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such %s", a->what);
}

/*
 * A value the schema accepts but PostgreSQL does not (a date-time out of
 * its range): 400, not 500.  1 when it answered.
 */
static int
db_bad_value(struct kb_ctx *ctx, struct kb_db_result *r)
{
	if (r->unavailable || r->sqlstate == NULL ||
	    strncmp(r->sqlstate, "22", 2) != 0)
		return (0);
	kb_respond_error(ctx, 400, "VALIDATION_FAILED",
	    "a value is out of range");
	return (1);
}

/* Outcome and key of a change (the statements above). */
static void
outcome_done(struct kb_ctx *ctx, struct kb_db_result *r, void *varg)
{
	struct key_arg	*a = varg;
	struct kb_errors errs;
	const char	*outcome;
	json_t		*key;

	if (!r->ok) {
		if (!db_bad_value(ctx, r))
			kb_db_respond_failure(ctx, r);
		return;
	}
	outcome = PQgetvalue(r->res, 0, 0);
	if (strcmp(outcome, "not_found") == 0) {
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such %s", a->what);
	} else if (strcmp(outcome, "revoked") == 0) {
		kb_respond_error(ctx, 409, "KEY_REVOKED",
		    "the %s is revoked; revocation is final", a->what);
	} else if (strcmp(outcome, "not_rotatable") == 0) {
		kb_respond_error(ctx, 409, "KEY_NOT_ROTATABLE", "only an active "
		    "%s that was not rotated before can be rotated", a->what);
	} else if (strcmp(outcome, "past") == 0) {
		kb_errors_init(&errs);
		kb_errors_add(&errs, a->past_path, "must be in the future");
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
		    "the time must be in the future", &errs);
		kb_errors_clear(&errs);
	} else if (strcmp(outcome, "ok") != 0 || PQgetisnull(r->res, 0, 1)) {
		kb_log("error", "keys: unexpected outcome %s", outcome);
		kb_respond_error(ctx, 500, "INTERNAL", "unexpected outcome");
	} else if (a->key == NULL) {
		kb_respond_text(ctx, a->status, "application/json",
		    PQgetvalue(r->res, 0, 1),
		    (size_t)PQgetlength(r->res, 0, 1));
	} else {
		key = json_loads(PQgetvalue(r->res, 0, 1), 0, NULL);
		if (key == NULL || json_object_set_new(key, "key",
		    json_string(a->key)) != 0) {
			json_decref(key);
			kb_respond_error(ctx, 500, "INTERNAL",
			    "could not render the key");
			return;
		}
		kb_respond_json(ctx, a->status, key);
	}
}

static void
deleted_done(struct kb_ctx *ctx, struct kb_db_result *r, void *varg)
{
	struct key_arg	*a = varg;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such %s", a->what);
		return;
	}
	kb_respond_empty(ctx, 204);
}

static void
events_done(struct kb_ctx *ctx, struct kb_db_result *r, void *varg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "t") != 0) {
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such service key");
		return;
	}
	kb_respond_text(ctx, 200, "application/json",
	    PQgetvalue(r->res, 0, 1), (size_t)PQgetlength(r->res, 0, 1));
}

/* ---- service keys ---- */

void
kbh_listServiceKeys(struct kb_ctx *ctx,
    const struct kbg_listServiceKeys_in *in)
{
	const char	*params[5];

	if (!sk_scope(ctx, &params[0]))
		return;
	params[3] = in->has_status ? in->status : NULL;
	params[4] = in->has_tenant_id ? in->tenant_id : NULL;
	list_start(ctx, &sk_list, 5, params, 1,
	    in->has_limit ? in->limit : 100, in->has_offset ? in->offset : 0,
	    in->has_Prefer ? in->Prefer : NULL);
}

void
kbh_createServiceKey(struct kb_ctx *ctx,
    const struct kbg_createServiceKey_in *in)
{
	struct key_arg	*a;
	const char	*params[7];

	if (!sk_scope(ctx, &params[0]))
		return;
	if (kb_ctx_caller(ctx)->cred != KB_CRED_JWT) {
		/* The roles keep keys out; this keeps it so. */
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "keys cannot create keys");
		return;
	}
	a = key_arg(ctx, "service key", 201);
	if ((params[1] = body_text(ctx, in->body_json)) == NULL ||
	    !key_new(ctx, SERVICE_KEY_PREFIX, &a->key, &params[5],
	    &params[6])) {
		if (!kb_responded(ctx))
			kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	params[2] = actor_of(ctx);
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &sk_create, 7, params, outcome_done, a);
}

void
kbh_getServiceKey(struct kb_ctx *ctx, const struct kbg_getServiceKey_in *in)
{
	const char	*params[2];

	if (!sk_scope(ctx, &params[0]))
		return;
	params[1] = in->id;
	kb_db_query(ctx, &sk_get, 2, params, one_done,
	    key_arg(ctx, "service key", 200));
}

/*
 * The by-id changes: $1 tenant, $2 id, $3 actor, $4 request id, $5 client
 * address, then `extra` as $6...  `a` NULL: a delete.
 */
static void
sk_change(struct kb_ctx *ctx, struct kb_stmt *stmt, const char *id,
    const char *const *extra, int nextra, struct key_arg *a)
{
	const char	*params[9];
	int		 i;

	if (!sk_scope(ctx, &params[0]))
		return;
	params[1] = id;
	params[2] = actor_of(ctx);
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	for (i = 0; i < nextra && i < 4; i++)
		params[5 + i] = extra[i];
	kb_db_query(ctx, stmt, 5 + i, params, a == NULL ? deleted_done :
	    outcome_done, a != NULL ? a : key_arg(ctx, "service key", 204));
}

void
kbh_updateServiceKey(struct kb_ctx *ctx,
    const struct kbg_updateServiceKey_in *in)
{
	const char	*extra[1];

	if ((extra[0] = body_text(ctx, in->body_json)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	sk_change(ctx, &sk_update, in->id, extra, 1,
	    key_arg(ctx, "service key", 200));
}

void
kbh_deleteServiceKey(struct kb_ctx *ctx,
    const struct kbg_deleteServiceKey_in *in)
{
	sk_change(ctx, &sk_delete, in->id, NULL, 0, NULL);
}

void
kbh_disableServiceKey(struct kb_ctx *ctx,
    const struct kbg_disableServiceKey_in *in)
{
	sk_change(ctx, &sk_disable, in->id, NULL, 0,
	    key_arg(ctx, "service key", 200));
}

void
kbh_enableServiceKey(struct kb_ctx *ctx,
    const struct kbg_enableServiceKey_in *in)
{
	sk_change(ctx, &sk_enable, in->id, NULL, 0,
	    key_arg(ctx, "service key", 200));
}

void
kbh_revokeServiceKey(struct kb_ctx *ctx,
    const struct kbg_revokeServiceKey_in *in)
{
	const char	*extra[1];

	extra[0] = body_string(ctx, in->body_json, "reason");
	sk_change(ctx, &sk_revoke, in->id, extra, 1,
	    key_arg(ctx, "service key", 200));
}

void
kbh_deprecateServiceKey(struct kb_ctx *ctx,
    const struct kbg_deprecateServiceKey_in *in)
{
	struct kb_errors errs;
	struct key_arg	*a;
	json_t		*secs;
	const char	*extra[3];
	char		*n;

	extra[0] = body_string(ctx, in->body_json, "grace_until");
	secs = json_object_get(in->body_json, "grace_period_seconds");
	if ((extra[0] == NULL) == (secs == NULL)) {
		kb_errors_init(&errs);
		kb_errors_add(&errs, "/body", "must have exactly one of "
		    "grace_period_seconds and grace_until");
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED", "give "
		    "grace_period_seconds or grace_until, not both", &errs);
		kb_errors_clear(&errs);
		return;
	}
	n = NULL;
	if (secs != NULL) {
		n = kb_ctx_alloc(ctx, 24);
		(void)snprintf(n, 24, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(secs));
	}
	extra[1] = n;
	extra[2] = body_string(ctx, in->body_json, "reason");
	a = key_arg(ctx, "service key", 200);
	a->past_path = "/body/grace_until";
	sk_change(ctx, &sk_deprecate, in->id, extra, 3, a);
}

void
kbh_rotateServiceKey(struct kb_ctx *ctx,
    const struct kbg_rotateServiceKey_in *in)
{
	struct key_arg	*a;
	json_t		*secs;
	const char	*extra[4];
	char		*n;

	a = key_arg(ctx, "service key", 201);
	if (!key_new(ctx, SERVICE_KEY_PREFIX, &a->key, &extra[2], &extra[3]))
		return;
	secs = json_object_get(in->body_json, "grace_period_seconds");
	n = kb_ctx_alloc(ctx, 24);
	(void)snprintf(n, 24, "%" JSON_INTEGER_FORMAT, secs != NULL ?
	    json_integer_value(secs) : (json_int_t)ROTATE_GRACE_DEFAULT);
	extra[0] = n;
	extra[1] = body_string(ctx, in->body_json, "reason");
	sk_change(ctx, &sk_rotate, in->id, extra, 4, a);
}

void
kbh_listServiceKeyRevocations(struct kb_ctx *ctx,
    const struct kbg_listServiceKeyRevocations_in *in)
{
	const char	*params[2];

	if (!sk_scope(ctx, &params[0]))
		return;
	params[1] = in->id;
	kb_db_query(ctx, &sk_events, 2, params, events_done, NULL);
}

/* ---- client keys ---- */

void
kbh_listClientKeys(struct kb_ctx *ctx, const struct kbg_listClientKeys_in *in)
{
	const char	*params[4];

	if (!ck_caller(ctx, &params[0], &params[1]))
		return;
	list_start(ctx, &ck_list, 4, params, 2,
	    in->has_limit ? in->limit : 100, in->has_offset ? in->offset : 0,
	    in->has_Prefer ? in->Prefer : NULL);
}

void
kbh_createClientKey(struct kb_ctx *ctx,
    const struct kbg_createClientKey_in *in)
{
	struct key_arg	*a;
	const char	*params[7];

	if (!ck_caller(ctx, &params[0], &params[1]))
		return;
	if (params[1] != NULL && kb_ctx_caller(ctx)->tenant_role == NULL) {
		/* An instance admin reaches every tenant; its keys do not. */
		kb_respond_error(ctx, 403, "TENANT_FORBIDDEN", "a client key "
		    "is limited to a tenant its user is a member of");
		return;
	}
	a = key_arg(ctx, "client key", 201);
	if ((params[2] = body_text(ctx, in->body_json)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	if (!key_new(ctx, CLIENT_KEY_PREFIX, &a->key, &params[5], &params[6]))
		return;
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &ck_create, 7, params, outcome_done, a);
}

void
kbh_getClientKey(struct kb_ctx *ctx, const struct kbg_getClientKey_in *in)
{
	const char	*params[3];

	if (!ck_caller(ctx, &params[0], &params[1]))
		return;
	params[2] = in->id;
	kb_db_query(ctx, &ck_get, 3, params, one_done,
	    key_arg(ctx, "client key", 200));
}

/* $1 user, $2 tenant, $3 id, $4 request id, $5 client address, $6 extra. */
static void
ck_change(struct kb_ctx *ctx, struct kb_stmt *stmt, const char *id,
    const char *extra, int nextra, struct key_arg *a)
{
	const char	*params[6];

	if (!ck_caller(ctx, &params[0], &params[1]))
		return;
	params[2] = id;
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	params[5] = extra;
	kb_db_query(ctx, stmt, 5 + (nextra > 0), params, a == NULL ?
	    deleted_done : outcome_done, a != NULL ? a :
	    key_arg(ctx, "client key", 204));
}

void
kbh_updateClientKey(struct kb_ctx *ctx,
    const struct kbg_updateClientKey_in *in)
{
	const char	*body;

	if ((body = body_text(ctx, in->body_json)) == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	ck_change(ctx, &ck_update, in->id, body, 1,
	    key_arg(ctx, "client key", 200));
}

void
kbh_deleteClientKey(struct kb_ctx *ctx,
    const struct kbg_deleteClientKey_in *in)
{
	ck_change(ctx, &ck_delete, in->id, NULL, 0, NULL);
}

void
kbh_revokeClientKey(struct kb_ctx *ctx,
    const struct kbg_revokeClientKey_in *in)
{
	ck_change(ctx, &ck_revoke, in->id,
	    body_string(ctx, in->body_json, "reason"), 1,
	    key_arg(ctx, "client key", 200));
}
