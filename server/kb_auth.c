/*
 * Who is calling, and may they: the gate every request passes after
 * routing and before validation.
 *
 * Credentials: `Authorization: Bearer <access token>`, an HS256 JWT issued
 * by this server (auth/kb_jwt.c pins the algorithm and checks signature,
 * exp, nbf, iss and aud).  No header means the anon role.  Which roles may
 * call an operation is declared in the spec (x-kb-roles) and compiled by
 * kbgen into kb_op.roles; handlers never re-implement this check.
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

#include "kb_auth.h"
#include "kb_server.h"
#include "kb_server_int.h"

static struct kb_jwt_config	jwt;

static int	auth_bearer(struct kb_ctx *, const char *);
static int	role_listed(const char *const *, const char *);

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

static int
role_listed(const char *const *roles, const char *role)
{
	for (; roles != NULL && *roles != NULL; roles++) {
		if (strcmp(*roles, role) == 0)
			return (1);
	}
	return (0);
}

/*
 * Establish the caller and check the operation's roles.  Returns 1 to go
 * on, 0 when it answered (401 or 403).
 */
int
kb_auth_gate(struct kb_ctx *ctx)
{
	const struct kb_op	*op = ctx->op;
	const char		*authz;

	ctx->caller.role = "anon";
	if (http_request_header(ctx->req, "authorization", &authz) &&
	    !auth_bearer(ctx, authz))
		return (0);

	if (op->roles != NULL) {
		if (role_listed(op->roles, ctx->caller.role))
			return (1);
	} else if (!op->secured || ctx->caller.sub != NULL) {
		return (1);
	}

	if (ctx->caller.sub == NULL) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "%s needs credentials: send Authorization: Bearer "
		    "<access token>", op->operation_id);
	} else {
		kb_respond_error(ctx, 403, "FORBIDDEN",
		    "the %s role may not call %s", ctx->caller.role,
		    op->operation_id);
	}
	return (0);
}

/* Verify a Bearer access token into ctx->caller; 0 when it answered 401. */
static int
auth_bearer(struct kb_ctx *ctx, const char *authz)
{
	struct kb_jwt_claims	 claims;
	const char		*token;
	int			 rc;

	if (strncasecmp(authz, "Bearer ", 7) != 0) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the Authorization header must be: Bearer <access token>");
		return (0);
	}
	token = authz + 7;
	while (*token == ' ')
		token++;

	memset(&claims, 0, sizeof(claims));
	rc = kb_jwt_verify(&jwt, token, time(NULL), &claims);
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
	kb_jwt_claims_free(&claims);
	return (1);
}
