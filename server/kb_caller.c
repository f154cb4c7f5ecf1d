/*
 * The caller as PostgreSQL sees it: the role a request runs as under
 * row-level security and the claims auth.uid(), auth.role(), auth.jwt()
 * and auth.tenant_id() read (migration 0009).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"

/*
 * The caller step: the role and claims ($1, $2), for a read-only group
 * also transaction_read_only, or a statement timeout ($3).
 */
#define SET_CALLER							\
    "pg_catalog.set_config('role', $1, true), "				\
    "pg_catalog.set_config('request.jwt.claims', $2, true)"
#define SET_RO	", pg_catalog.set_config('transaction_read_only', 'on', true)"
#define SET_TMO	", pg_catalog.set_config('statement_timeout', $3, true)"

static struct kb_stmt	set_caller = KB_STMT_RO("SELECT " SET_CALLER);
static struct kb_stmt	set_caller_ro = KB_STMT_RO("SELECT " SET_CALLER SET_RO);
static struct kb_stmt	set_caller_timeout = KB_STMT_RO(
    "SELECT " SET_CALLER SET_TMO);

/*
 * The same for a caller from the gate's credential cache, checked first:
 * the statement fails unless the credential epoch (migration 0013) is
 * still the one the cache read and the key's expiry (or NULL) has not
 * passed.  Plain SQL, one index probe, no function call: it fails by
 * asking for an impossible statement timeout, with a message that names
 * KB_CHECK_MARK, which is how kb_db.c tells it apart.  The epoch and the
 * expiry are the last two parameters.
 */
#define CHECK(e, v)							\
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM kb_credential_epoch kb_e "	\
    "WHERE kb_e.epoch = " e "::bigint) AND (" v "::timestamptz IS NULL "	\
    "OR " v "::timestamptz > pg_catalog.now()) THEN '' ELSE "		\
    "pg_catalog.set_config('statement_timeout', '" KB_CHECK_MARK		\
    ": the credentials changed', true) END"
static struct kb_stmt	check_caller = KB_STMT_RO(CHECK("$1", "$2"));
static struct kb_stmt	set_caller_chk = KB_STMT_RO(
    CHECK("$3", "$4") ", " SET_CALLER);
static struct kb_stmt	set_caller_ro_chk = KB_STMT_RO(
    CHECK("$3", "$4") ", " SET_CALLER SET_RO);
static struct kb_stmt	set_caller_timeout_chk = KB_STMT_RO(
    CHECK("$4", "$5") ", " SET_CALLER SET_TMO);

const char *
kb_caller_pg_role(const struct kb_caller *c)
{
	if (c->cred == KB_CRED_SERVICE_KEY ||
	    (c->role != NULL && strcmp(c->role, "service_role") == 0) ||
	    kb_caller_is_instance_admin(c))
		return ("service_role");
	if (c->cred == KB_CRED_NONE || c->role == NULL ||
	    strcmp(c->role, "anon") == 0)
		return ("anon");
	return ("authenticated");
}

const char *
kb_caller_claims(struct kb_ctx *ctx)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);
	json_t			*o;
	char			*s;

	if (ctx->claims != NULL)
		return (ctx->claims);
	o = json_object();
	json_object_set_new(o, "role", json_string(c->role != NULL ?
	    c->role : kb_caller_pg_role(c)));
	if (c->sub != NULL)
		json_object_set_new(o, "sub", json_string(c->sub));
	if (c->sid != NULL)
		json_object_set_new(o, "sid", json_string(c->sid));
	if (c->tenant != NULL)
		json_object_set_new(o, "tenant_id", json_string(c->tenant));
	if (c->tenant_role != NULL)
		json_object_set_new(o, "tenant_role",
		    json_string(c->tenant_role));
	if (c->key_id != NULL)
		json_object_set_new(o, "key_id", json_string(c->key_id));
	if (c->exp != 0)
		json_object_set_new(o, "exp", json_integer(c->exp));
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatal("kb_caller_claims: out of memory");
	json_decref(o);
	ctx->claims = kb_ctx_strdup(ctx, s);
	free(s);
	return (ctx->claims);
}

void
kb_db_step_caller(struct kb_ctx *ctx, struct kb_db_step *step)
{
	kb_db_step_caller_timeout(ctx, 0, step);
}

void
kb_db_step_caller_ro(struct kb_ctx *ctx, struct kb_db_step *step)
{
	kb_db_step_caller(ctx, step);
	step->stmt = step->check ? &set_caller_ro_chk : &set_caller_ro;
	step->unchecked = step->check ? &set_caller_ro : NULL;
}

void
kb_db_step_caller_timeout(struct kb_ctx *ctx, int timeout_ms,
    struct kb_db_step *step)
{
	const char	**vals;
	char		  tmo[16];
	int		  n;

	vals = kb_ctx_alloc(ctx, 5 * sizeof(*vals));
	vals[0] = kb_caller_pg_role(kb_ctx_caller(ctx));
	vals[1] = kb_caller_claims(ctx);
	n = 2;
	if (timeout_ms > 0) {
		(void)snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
		vals[n++] = kb_ctx_strdup(ctx, tmo);
	}
	memset(step, 0, sizeof(*step));
	step->stmt = timeout_ms > 0 ? &set_caller_timeout : &set_caller;
	step->caller = timeout_ms > 0 ? KB_STEP_CALLER_TIMEOUT :
	    KB_STEP_CALLER;
	if (ctx->cred_unverified) {
		vals[n++] = ctx->cred_epoch;
		vals[n++] = ctx->cred_valid_until;
		step->unchecked = step->stmt;
		step->stmt = timeout_ms > 0 ? &set_caller_timeout_chk :
		    &set_caller_chk;
		step->check = 1;
	}
	step->nparams = n;
	step->values = vals;
}

void
kb_db_step_check(struct kb_ctx *ctx, struct kb_db_step *step)
{
	const char	**vals;

	vals = kb_ctx_alloc(ctx, 2 * sizeof(*vals));
	vals[0] = ctx->cred_epoch;
	vals[1] = ctx->cred_valid_until;
	memset(step, 0, sizeof(*step));
	step->stmt = &check_caller;
	step->nparams = 2;
	step->values = vals;
	step->check = 1;
}
