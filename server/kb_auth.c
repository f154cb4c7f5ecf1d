/*
 * Who is calling, and may they: the gate every request passes after
 * routing and before validation.
 *
 * Credentials, one per request:
 *  - `Authorization: Bearer <access token>`: an HS256 JWT issued by this
 *    server (auth/kb_jwt.c pins the algorithm and checks signature, exp,
 *    nbf, iss and aud).  Costs no query.
 *  - `Authorization: Bearer kbsk_...`: a service key (role service_role).
 *  - `X-Client-Key: kbck_...`: a client key, acting as its user.
 *  - nothing: the anon role.
 * Keys are looked up by their SHA-256 (no timing oracle) with one
 * read-only statement, kb_resolve_caller(), which also resolves the tenant
 * the request acts in: X-FB-Tenant, or the operation's tenant path
 * parameter (x-kb-tenant-param), or the key's own, and checks that the
 * caller may act there.  A JWT caller that selects no tenant costs no query.
 *
 * The credential cache: each worker remembers the last 1024 resolutions
 * that succeeded (CRED_SLOTS), each for at most CRED_TTL_MS, with the
 * credential epoch it was read with (migration 0013).  A request to a
 * public operation (anon in x-kb-roles: the Tables API, RPC) whose
 * credentials are remembered skips the lookup; its first statement then
 * carries a check of the epoch (kb_caller.c), which fails if any key,
 * tenant or membership changed since, and kb_auth_recheck resolves the
 * caller again before anything of the request ran (kb_db.c).  Only public
 * operations: one that runs no SQL at all answers no differently to a key
 * than to anon.  A revoked key is refused by the first statement that
 * starts after the revocation committed, as without the cache.
 *
 * Which roles and key scopes may call an operation is declared in the spec
 * (x-kb-roles, x-kb-scopes) and compiled by kbgen into kb_op; a tenant
 * admin of the resolved tenant also holds the role tenant_admin.  Handlers
 * never re-implement this check.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <openssl/crypto.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kb_server_int.h"

static struct kb_jwt_config	jwt;

static int	auth_bearer(struct kb_ctx *, const char *);
static int	auth_check(struct kb_ctx *);
static int	auth_allowed(struct kb_ctx *, int);
static int	auth_status(struct kb_ctx *, struct kb_db_result *);
static void	auth_fill(struct kb_ctx *, PGresult *);
static void	auth_resolved(struct kb_ctx *, struct kb_db_result *, void *);
static void	auth_rechecked(struct kb_ctx *, struct kb_db_result *,
		    void *);
static int	auth_tenant_arg(struct kb_ctx *, const char **);
static int	role_listed(const char *const *, const char *);
static const char *const *scopes_parse(struct kb_ctx *, const char *);

#define SERVICE_KEY_PREFIX	"kbsk_"
#define CLIENT_KEY_PREFIX	"kbck_"

/*
 * Keys and tenant selections: one read-only statement (0005_tenancy.sql),
 * with the credential epoch and the key's expiry, for the cache (0013).
 */
static struct kb_stmt resolve_caller = KB_STMT_RO(
	"SELECT r.status, r.sub, r.role, r.tenant_id, r.tenant_role,"
	" r.scopes, r.key_id, (SELECT e.epoch FROM kb_credential_epoch e),"
	" CASE $1 WHEN 'service' THEN (SELECT least(k.expires_at,"
	" k.grace_until) FROM service_keys k WHERE k.id = r.key_id)"
	" WHEN 'client' THEN (SELECT k.expires_at FROM client_keys k"
	" WHERE k.id = r.key_id) END"
	" FROM kb_resolve_caller($1, $2, $3, $4, $5) r");

#define CRED_SLOTS	1024
#define CRED_TTL_MS	60000
#define CRED_NARGS	5
#define CRED_NVALS	9	/* the resolver's columns, claims last */

/*
 * A remembered resolution: the resolver's arguments (kind, key hash,
 * user, role, tenant) and its answer (sub, role, tenant_id, tenant_role,
 * scopes, key_id, epoch, valid_until), plus the claims for a key.
 */
struct cred_entry {
	u_int64_t	 expires;
	u_int32_t	 hash;
	char		*args[CRED_NARGS];
	char		*vals[CRED_NVALS];
};

static struct cred_entry	cred_cache[CRED_SLOTS];

static u_int32_t
cred_hash(const char *const *args)
{
	u_int32_t	 h = 2166136261u;
	const char	*p;
	int		 i;

	for (i = 0; i < CRED_NARGS; i++) {
		for (p = args[i] != NULL ? args[i] : ""; *p != '\0'; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		h = (h ^ (args[i] != NULL ? 0xff : 0xfe)) * 16777619u;
	}
	return (h);
}

/* Equal strings, or both NULL. */
static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* The slot for `args`, whether it holds them (*hit), and their hash. */
static struct cred_entry *
cred_slot(const char *const *args, int *hit, u_int32_t *hash)
{
	struct cred_entry	*e;
	int			 i;

	*hash = cred_hash(args);
	e = &cred_cache[*hash % CRED_SLOTS];
	*hit = e->expires > kore_time_ms() && e->hash == *hash;
	for (i = 0; i < CRED_NARGS && *hit; i++)
		*hit = same_str(e->args[i], args[i]);
	return (e);
}

static void
cred_clear(struct cred_entry *e)
{
	int		i;

	for (i = 0; i < CRED_NARGS; i++) {
		kore_free(e->args[i]);
		e->args[i] = NULL;
	}
	for (i = 0; i < CRED_NVALS; i++) {
		kore_free(e->vals[i]);
		e->vals[i] = NULL;
	}
	e->expires = 0;
}

static char *
cred_dup(const char *s)
{
	return (s != NULL ? kore_strdup(s) : NULL);
}

/* Remember an 'ok' resolution (row 0 of the resolver's answer). */
static void
cred_store(struct kb_ctx *ctx, PGresult *res)
{
	struct cred_entry	*e;
	u_int32_t		 h;
	int			 i, hit;

	e = cred_slot(ctx->cred_args, &hit, &h);
	cred_clear(e);
	e->hash = h;
	for (i = 0; i < CRED_NARGS; i++)
		e->args[i] = cred_dup(ctx->cred_args[i]);
	for (i = 0; i < CRED_NVALS - 1; i++) {
		e->vals[i] = PQgetisnull(res, 0, i + 1) ? NULL :
		    kore_strdup(PQgetvalue(res, 0, i + 1));
	}
	/* A JWT's claims carry its session and expiry: not a key's. */
	if (ctx->caller.cred != KB_CRED_JWT)
		e->vals[CRED_NVALS - 1] = kore_strdup(kb_caller_claims(ctx));
	e->expires = kore_time_ms() + CRED_TTL_MS;
}

static void
cred_forget(const char *const *args)
{
	struct cred_entry	*e;
	u_int32_t		 h;
	int			 hit;

	e = cred_slot(args, &hit, &h);
	if (hit)
		cred_clear(e);
}

/* The caller from a remembered resolution; 0 if there is none. */
static int
cred_recall(struct kb_ctx *ctx)
{
	struct cred_entry	*e;
	u_int32_t		 h;
	int			 hit;
	char		       **v;

	e = cred_slot(ctx->cred_args, &hit, &h);
	if (!hit)
		return (0);
	v = e->vals;
	if (ctx->caller.cred != KB_CRED_JWT) {
		ctx->caller.sub = v[0] ? kb_ctx_strdup(ctx, v[0]) : NULL;
		ctx->caller.role = kb_ctx_strdup(ctx, v[1]);
		ctx->caller.scopes = scopes_parse(ctx, v[4]);
		ctx->caller.key_id = v[5] ? kb_ctx_strdup(ctx, v[5]) : NULL;
		ctx->claims = v[8] ? kb_ctx_strdup(ctx, v[8]) : NULL;
	}
	ctx->caller.tenant = v[2] ? kb_ctx_strdup(ctx, v[2]) : NULL;
	ctx->caller.tenant_role = v[3] ? kb_ctx_strdup(ctx, v[3]) : NULL;
	ctx->cred_epoch = kb_ctx_strdup(ctx, v[6]);
	ctx->cred_valid_until = v[7] ? kb_ctx_strdup(ctx, v[7]) : NULL;
	ctx->cred_unverified = 1;
	return (1);
}

/*
 * Called in the parent and in every worker.  Without KB_JWT_SECRET the
 * server refuses to start, unless KB_DEV_MODE=1: then the parent makes a
 * random secret (tokens do not survive a restart) and puts it in the
 * environment, so every worker it forks signs with the same one.
 */
void
kb_auth_init(void)
{
	char		 hex[65];

	if (kb_config.jwt_secret == NULL) {
		if (!kb_config.dev_mode)
			fatal("KB_JWT_SECRET is not set: set it to a random "
			    "string of at least 32 bytes (or KB_DEV_MODE=1 "
			    "for a throwaway secret in development)");
		if (kb_token_new("", 32, hex, sizeof(hex)) != 0)
			fatal("kb_auth_init: no randomness");
		if (setenv("KB_JWT_SECRET", hex, 1) == -1)
			fatal("kb_auth_init: setenv failed");
		kb_config.jwt_secret = getenv("KB_JWT_SECRET");
		kb_log("warning", "DEVELOPMENT MODE: KB_JWT_SECRET is not set; "
		    "using a random secret, tokens end with this process");
	}
	if (!kb_jwt_secret_ok((const uint8_t *)kb_config.jwt_secret,
	    strlen(kb_config.jwt_secret)))
		fatal("KB_JWT_SECRET must be at least 32 bytes");

	jwt.secret = (const uint8_t *)kb_config.jwt_secret;
	jwt.secret_len = strlen(kb_config.jwt_secret);
	jwt.issuer = kb_config.jwt_issuer;
	jwt.audience = kb_config.jwt_audience;
	jwt.ttl = kb_config.jwt_ttl;
}

const struct kb_jwt_config *
kb_jwt_config(void)
{
	return (&jwt);
}

const struct kb_caller *
kb_ctx_caller(struct kb_ctx *ctx)
{
	return (&ctx->caller);
}

const char *
kb_ctx_client_addr(struct kb_ctx *ctx)
{
	struct connection	*c = ctx->req->owner;

	if (ctx->client_addr[0] != '\0')
		return (ctx->client_addr);
	switch (c->family) {
	case AF_INET:
		(void)inet_ntop(AF_INET, &c->addr.ipv4.sin_addr,
		    ctx->client_addr, sizeof(ctx->client_addr));
		break;
	case AF_INET6:
		(void)inet_ntop(AF_INET6, &c->addr.ipv6.sin6_addr,
		    ctx->client_addr, sizeof(ctx->client_addr));
		break;
	default:
		(void)snprintf(ctx->client_addr, sizeof(ctx->client_addr),
		    "unix");
		break;
	}
	return (ctx->client_addr);
}

int
kb_caller_is_instance_admin(const struct kb_caller *c)
{
	return (c->role != NULL && (strcmp(c->role, "admin") == 0 ||
	    strcmp(c->role, "instance_admin") == 0));
}

int
kb_caller_is_tenant_admin(const struct kb_caller *c)
{
	if (kb_caller_is_instance_admin(c))
		return (1);
	return (c->tenant != NULL && c->tenant_role != NULL &&
	    strcmp(c->tenant_role, "admin") == 0);
}

static int
role_listed(const char *const *roles, const char *role)
{
	for (; roles != NULL && *roles != NULL; roles++) {
		if (strcmp(*roles, role) == 0)
			return (1);
	}
	return (0);
}

/* A PostgreSQL text[] literal of plain scope names ("{a,b:c}"). */
static const char *const *
scopes_parse(struct kb_ctx *ctx, const char *lit)
{
	const char	**list;
	char		*copy, *p, *tok;
	size_t		 n, i;

	if (lit == NULL || *lit != '{')
		return (NULL);
	copy = kb_ctx_strdup(ctx, lit + 1);
	for (n = 1, p = copy; *p != '\0'; p++)
		n += (*p == ',');
	list = kb_ctx_alloc(ctx, (n + 1) * sizeof(*list));
	i = 0;
	for (p = copy; (tok = strsep(&p, ",}")) != NULL && i < n;) {
		if (*tok == '"')	/* scopes never need quoting */
			continue;
		if (*tok != '\0')
			list[i++] = tok;
	}
	list[i] = NULL;
	return (list);
}

/*
 * Which tenant the request names: the operation's tenant path parameter,
 * else X-FB-Tenant, else a JWT's tenant claim.  0 when it answered 403
 * (a JWT scoped to one tenant naming another).
 */
static int
auth_tenant_arg(struct kb_ctx *ctx, const char **tenant)
{
	const struct kb_op		*op = ctx->op;
	const struct kb_capture		*cap;
	const char			*hdr;

	*tenant = NULL;
	if (op->tenant_param >= 0 &&
	    (size_t)op->tenant_param < ctx->match.ncaptures) {
		cap = &ctx->match.captures[op->tenant_param];
		*tenant = kb_ctx_alloc(ctx, cap->len + 1);
		memcpy((char *)*tenant, cap->ptr, cap->len);
	} else if (http_request_header(ctx->req, "x-fb-tenant", &hdr) &&
	    *hdr != '\0') {
		*tenant = hdr;
	}
	if (ctx->caller.tenant != NULL) {	/* a tenant-scoped JWT */
		if (*tenant != NULL && strcasecmp(*tenant,
		    ctx->caller.tenant) != 0) {
			kb_respond_error(ctx, 403, "TENANT_FORBIDDEN",
			    "this access token is scoped to another tenant");
			return (0);
		}
		*tenant = ctx->caller.tenant;
		ctx->caller.tenant = NULL;	/* set once resolved */
	}
	return (1);
}

/*
 * Establish the caller and check the operation's roles and scopes.
 * Returns KB_GATE_GO, KB_GATE_DONE when it answered (401, 403, 503), or
 * KB_GATE_WAIT when a lookup is in flight: kb_ctx_proceed() follows.
 */
int
kb_auth_gate(struct kb_ctx *ctx)
{
	const char	*authz, *ckey, *tenant, *kind, *vals[5];
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*key;

	ctx->caller.role = "anon";
	key = NULL;
	kind = "user";
	if (!http_request_header(ctx->req, "authorization", &authz))
		authz = NULL;
	if (!http_request_header(ctx->req, "x-client-key", &ckey))
		ckey = NULL;

	if (authz != NULL && ckey != NULL) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED", "send one "
		    "credential: Authorization or X-Client-Key, not both");
		return (KB_GATE_DONE);
	}
	if (ckey != NULL) {
		if (strncmp(ckey, CLIENT_KEY_PREFIX,
		    sizeof(CLIENT_KEY_PREFIX) - 1) != 0) {
			kb_respond_error(ctx, 401, "INVALID_KEY",
			    "X-Client-Key must carry a client key (kbck_...)");
			return (KB_GATE_DONE);
		}
		key = ckey;
		kind = "client";
		ctx->caller.cred = KB_CRED_CLIENT_KEY;
	} else if (authz != NULL) {
		if (strncasecmp(authz, "Bearer ", 7) == 0) {
			key = authz + 7;
			while (*key == ' ')
				key++;
			if (strncmp(key, SERVICE_KEY_PREFIX,
			    sizeof(SERVICE_KEY_PREFIX) - 1) == 0) {
				kind = "service";
				ctx->caller.cred = KB_CRED_SERVICE_KEY;
			} else
				key = NULL;
		}
		if (key == NULL) {
			if (!auth_bearer(ctx, authz))
				return (KB_GATE_DONE);
			ctx->caller.cred = KB_CRED_JWT;
		}
	}

	if (!auth_tenant_arg(ctx, &tenant))
		return (KB_GATE_DONE);
	if (key == NULL && tenant == NULL)
		return (auth_check(ctx));
	if (key == NULL && ctx->caller.sub == NULL) {
		/* anon naming a tenant: nothing to resolve it for. */
		return (auth_check(ctx));
	}

	if (key != NULL && (strlen(key) > 128 ||
	    kb_token_hash(key, strlen(key), hash, sizeof(hash)) != 0)) {
		kb_respond_error(ctx, 401, "INVALID_KEY", "the key is not valid");
		return (KB_GATE_DONE);
	}
	if (tenant != NULL && strlen(tenant) > 64) {
		kb_respond_error(ctx, 403, "TENANT_FORBIDDEN",
		    "no such tenant for this caller");
		return (KB_GATE_DONE);
	}
	vals[0] = kind;
	vals[1] = key != NULL ? kb_ctx_strdup(ctx, hash) : NULL;
	vals[2] = key == NULL ? ctx->caller.sub : NULL;
	vals[3] = key == NULL ? ctx->caller.role : NULL;
	vals[4] = tenant;
	memcpy(ctx->cred_args, vals, sizeof(ctx->cred_args));
	if (role_listed(ctx->op->roles, "anon") && cred_recall(ctx)) {
		if (auth_allowed(ctx, 0) == KB_GATE_GO)
			return (KB_GATE_GO);
		/* Refused from memory: the database may know better. */
		cred_forget(ctx->cred_args);
		ctx->cred_unverified = 0;
	}
	kb_db_query(ctx, &resolve_caller, 5, vals, auth_resolved, NULL);
	return (KB_GATE_WAIT);
}

/*
 * The resolver's status: 1 for 'ok', else 0 once the request was answered
 * (401 for a key that is not valid or no longer active, 403 or 404 for
 * a tenant the caller may not act in).
 */
static int
auth_status(struct kb_ctx *ctx, struct kb_db_result *r)
{
	const char	*status;

	if (!r->ok || PQntuples(r->res) != 1) {
		kb_db_respond_failure(ctx, r);
		return (0);
	}
	status = PQgetvalue(r->res, 0, 0);
	if (strcmp(status, "ok") == 0)
		return (1);
	if (strcmp(status, "not_member") == 0 ||
	    strcmp(status, "tenant_mismatch") == 0) {
		kb_respond_error(ctx, 403, "TENANT_FORBIDDEN",
		    strcmp(status, "not_member") == 0 ?
		    "no such tenant for this caller" :
		    "this key belongs to another tenant");
	} else if (strcmp(status, "tenant_unknown") == 0) {
		kb_respond_error(ctx, 404, "TENANT_NOT_FOUND",
		    "no such tenant");
	} else if (strcmp(status, "invalid") == 0) {
		kb_respond_error(ctx, 401, "INVALID_KEY",
		    "the key is not valid");
	} else
		kb_respond_error(ctx, 401, "KEY_INACTIVE",
		    "the key is %s", status);
	return (0);
}

/* The caller from the resolver's 'ok' answer. */
static void
auth_fill(struct kb_ctx *ctx, PGresult *res)
{
	if (ctx->caller.cred != KB_CRED_JWT) {
		ctx->caller.sub = PQgetisnull(res, 0, 1) ? NULL :
		    kb_ctx_strdup(ctx, PQgetvalue(res, 0, 1));
		ctx->caller.role = kb_ctx_strdup(ctx, PQgetvalue(res, 0, 2));
		ctx->caller.scopes = scopes_parse(ctx, PQgetvalue(res, 0, 5));
		ctx->caller.key_id = kb_ctx_strdup(ctx, PQgetvalue(res, 0, 6));
	}
	ctx->caller.tenant = PQgetisnull(res, 0, 3) ? NULL :
	    kb_ctx_strdup(ctx, PQgetvalue(res, 0, 3));
	ctx->caller.tenant_role = PQgetisnull(res, 0, 4) ? NULL :
	    kb_ctx_strdup(ctx, PQgetvalue(res, 0, 4));
	ctx->cred_epoch = kb_ctx_strdup(ctx, PQgetvalue(res, 0, 7));
	ctx->cred_valid_until = PQgetisnull(res, 0, 8) ? NULL :
	    kb_ctx_strdup(ctx, PQgetvalue(res, 0, 8));
	ctx->claims = NULL;
}

static void
auth_resolved(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	(void)arg;
	if (!auth_status(ctx, r))
		return;
	auth_fill(ctx, r->res);
	cred_store(ctx, r->res);
	if (auth_check(ctx) == KB_GATE_GO)
		kb_ctx_proceed(ctx);
}

void
kb_ctx_verify(struct kb_ctx *ctx, void (*fn)(struct kb_ctx *, int, void *),
    void *arg)
{
	if (ctx->cred_unverified)
		kb_auth_recheck(ctx, fn, arg);
	else
		fn(ctx, 1, arg);
}

struct recheck {
	void		(*fn)(struct kb_ctx *, int, void *);
	void		 *arg;
	/* Who the request's statements were built for. */
	const char	 *sub;
	const char	 *tenant;
	const char	 *key_id;
	const char	 *pg_role;
};

void
kb_auth_recheck(struct kb_ctx *ctx, void (*fn)(struct kb_ctx *, int, void *),
    void *arg)
{
	struct recheck	*rc;

	rc = kb_ctx_alloc(ctx, sizeof(*rc));
	rc->fn = fn;
	rc->arg = arg;
	rc->sub = ctx->caller.sub;
	rc->tenant = ctx->caller.tenant;
	rc->key_id = ctx->caller.key_id;
	rc->pg_role = kb_caller_pg_role(&ctx->caller);
	cred_forget(ctx->cred_args);
	ctx->cred_unverified = 0;
	kb_db_query(ctx, &resolve_caller, 5, ctx->cred_args, auth_rechecked,
	    rc);
}

/*
 * The caller resolved again.  The request goes on if it still may call
 * the operation as the same user or key in the same tenant and role (the
 * statements it built are still right; the caller step's role and claims
 * are rebuilt, kb_db.c); if that changed, it is answered 409, to be sent
 * again.
 */
static void
auth_rechecked(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct recheck	*rc = arg;

	if (!auth_status(ctx, r)) {
		rc->fn(ctx, 0, rc->arg);
		return;
	}
	auth_fill(ctx, r->res);
	cred_store(ctx, r->res);
	if (auth_check(ctx) != KB_GATE_GO) {
		rc->fn(ctx, 0, rc->arg);
		return;
	}
	if (!same_str(rc->sub, ctx->caller.sub) ||
	    !same_str(rc->tenant, ctx->caller.tenant) ||
	    !same_str(rc->key_id, ctx->caller.key_id) ||
	    strcmp(rc->pg_role, kb_caller_pg_role(&ctx->caller)) != 0) {
		kb_respond_error(ctx, 409, "CREDENTIALS_CHANGED", "the key, "
		    "tenant or membership of this request changed while it "
		    "ran; nothing was done, send it again");
		rc->fn(ctx, 0, rc->arg);
		return;
	}
	rc->fn(ctx, 1, rc->arg);
}

/* The operation's roles and scopes against the established caller. */
static int
auth_check(struct kb_ctx *ctx)
{
	return (auth_allowed(ctx, 1));
}

/* KB_GATE_GO, or KB_GATE_DONE (answered 401 or 403 when `respond`). */
static int
auth_allowed(struct kb_ctx *ctx, int respond)
{
	const struct kb_op	*op = ctx->op;
	const struct kb_caller	*c = &ctx->caller;
	const char *const	*have, *const *want;
	int			 ok;

	/*
	 * "anon" in the list makes an operation public: every caller may
	 * call it.  "authenticated" admits every signed-in user, whatever
	 * their instance role (an administrator is a user too); service
	 * keys are not users.  "tenant_admin" admits an administrator of
	 * the resolved tenant.  Other roles must match exactly.
	 */
	if (op->roles != NULL)
		ok = role_listed(op->roles, c->role) ||
		    role_listed(op->roles, "anon") ||
		    (c->sub != NULL && (kb_caller_is_instance_admin(c) ||
		    strcmp(c->role, "authenticated") == 0) &&
		    role_listed(op->roles, "authenticated")) ||
		    (kb_caller_is_tenant_admin(c) && c->tenant != NULL &&
		    role_listed(op->roles, "tenant_admin"));
	else
		ok = !op->secured || c->cred != KB_CRED_NONE;

	/*
	 * A key needs a scope the operation names, also where the operation
	 * is open to anon (Tables, RPC): a key is limited by its scopes, it
	 * does not fall back to what anon may do.
	 */
	if (ok && (op->secured || op->scopes != NULL) &&
	    (c->cred == KB_CRED_SERVICE_KEY || c->cred == KB_CRED_CLIENT_KEY)) {
		ok = 0;
		for (want = op->scopes; want != NULL && *want != NULL && !ok;
		    want++) {
			for (have = c->scopes; have != NULL && *have != NULL;
			    have++) {
				if (kb_scope_covers(*have, *want)) {
					ok = 1;
					break;
				}
			}
		}
		if (!ok && !respond)
			return (KB_GATE_DONE);
		if (!ok) {
			kb_respond_error(ctx, 403, "INSUFFICIENT_SCOPE",
			    op->scopes == NULL ? "%s cannot be called with "
			    "a key" : "the key lacks a scope %s needs",
			    op->operation_id);
			return (KB_GATE_DONE);
		}
	}
	if (ok)
		return (KB_GATE_GO);
	if (!respond)
		return (KB_GATE_DONE);

	if (c->cred == KB_CRED_NONE)
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "%s needs credentials: send Authorization: Bearer "
		    "<access token>", op->operation_id);
	else if (c->tenant == NULL && role_listed(op->roles, "tenant_admin"))
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "the %s role may not call %s; a tenant admin must select "
		    "the tenant with X-FB-Tenant", c->role, op->operation_id);
	else
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "the %s role may not call %s", c->role, op->operation_id);
	return (KB_GATE_DONE);
}

/*
 * Verified access tokens, per worker: the claims of the last tokens that
 * passed kb_jwt_verify, by the SHA-256 of the token, until they expire.
 * A token's signature, issuer, audience, iat and nbf do not change with
 * time once they passed; only exp does, and it is checked on every hit.
 * Only tokens that verified are kept, so no request can fill this with
 * junk, and a slot is compared in constant time.
 */
#define JWT_CACHE_SLOTS		1024

struct jwt_entry {
	char		 digest[KB_TOKEN_HASH_LEN];
	int		 used;
	int64_t		 exp;
	char		*sub;
	char		*role;
	char		*sid;
	char		*tenant;
};

static struct jwt_entry	jwt_cache[JWT_CACHE_SLOTS];

static struct jwt_entry *
jwt_slot(const char *digest)
{
	u_int32_t	h = 0;
	int		i;

	/* The digest is lower-case hex: its first 8 digits will do. */
	for (i = 0; i < 8; i++)
		h = h << 4 | (u_int32_t)(digest[i] <= '9' ? digest[i] - '0' :
		    digest[i] - 'a' + 10);
	return (&jwt_cache[h % JWT_CACHE_SLOTS]);
}

static void
jwt_remember(struct jwt_entry *e, const char *digest,
    const struct kb_jwt_claims *claims)
{
	kore_free(e->sub);
	kore_free(e->role);
	kore_free(e->sid);
	kore_free(e->tenant);
	memcpy(e->digest, digest, sizeof(e->digest));
	e->used = 1;
	e->exp = claims->exp;
	e->sub = kore_strdup(claims->sub);
	e->role = kore_strdup(claims->role);
	e->sid = claims->sid ? kore_strdup(claims->sid) : NULL;
	e->tenant = claims->tenant ? kore_strdup(claims->tenant) : NULL;
}

/* Verify a Bearer access token into ctx->caller; 0 when it answered 401. */
static int
auth_bearer(struct kb_ctx *ctx, const char *authz)
{
	struct kb_jwt_claims	 claims;
	struct jwt_entry	*e;
	const char		*token;
	char			 digest[KB_TOKEN_HASH_LEN];
	time_t			 now;
	int			 rc;

	if (strncasecmp(authz, "Bearer ", 7) != 0) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the Authorization header must be: Bearer <access token>");
		return (0);
	}
	token = authz + 7;
	while (*token == ' ')
		token++;

	now = time(NULL);
	e = NULL;
	if (kb_token_hash(token, strlen(token), digest, sizeof(digest)) ==
	    KB_TOKEN_OK) {
		e = jwt_slot(digest);
		if (e->used && CRYPTO_memcmp(e->digest, digest,
		    sizeof(e->digest)) == 0) {
			if ((int64_t)now >= e->exp) {
				kb_respond_error(ctx, 401, "TOKEN_EXPIRED",
				    "the access token has expired; refresh it");
				return (0);
			}
			ctx->caller.sub = kb_ctx_strdup(ctx, e->sub);
			ctx->caller.role = kb_ctx_strdup(ctx, e->role);
			ctx->caller.sid = e->sid ?
			    kb_ctx_strdup(ctx, e->sid) : NULL;
			ctx->caller.tenant = e->tenant ?
			    kb_ctx_strdup(ctx, e->tenant) : NULL;
			ctx->caller.exp = e->exp;
			return (1);
		}
	}
	memset(&claims, 0, sizeof(claims));
	rc = kb_jwt_verify(&jwt, token, now, &claims);
	if (rc != KB_JWT_OK) {
		kb_jwt_claims_free(&claims);
		if (rc == KB_JWT_EXPIRED)
			kb_respond_error(ctx, 401, "TOKEN_EXPIRED",
			    "the access token has expired; refresh it");
		else
			kb_respond_error(ctx, 401, "INVALID_TOKEN",
			    "the access token is not valid");
		return (0);
	}
	ctx->caller.sub = kb_ctx_strdup(ctx, claims.sub);
	ctx->caller.role = kb_ctx_strdup(ctx, claims.role);
	ctx->caller.sid = claims.sid ? kb_ctx_strdup(ctx, claims.sid) : NULL;
	ctx->caller.tenant = claims.tenant ?
	    kb_ctx_strdup(ctx, claims.tenant) : NULL;
	ctx->caller.exp = claims.exp;
	if (e != NULL)
		jwt_remember(e, digest, &claims);
	kb_jwt_claims_free(&claims);
	return (1);
}
