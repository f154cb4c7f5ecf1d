/*
 * Dashboard authentication (reference 000, "Dashboard Auth"; issue 3):
 * the first administrator's setup, and sign-in, refresh, sign-out and
 * identity of administrators (users whose role is admin or
 * instance_admin).
 *
 *  - Setup is guarded by the setup token (KB_SETUP_TOKEN, compared in
 *    constant time as SHA-256 digests); without one it is refused unless
 *    KB_DEV_MODE=1.  It is race-safe: the statement inserts the single
 *    admin_setup row (primary key `true`) with ON CONFLICT DO NOTHING
 *    and creates the user only from that row, so of two concurrent
 *    setups exactly one creates an administrator.  An address that has
 *    an account is refused (409 EMAIL_EXISTS): setup never promotes an
 *    existing user.
 *  - Login and refresh are auth.c's sign-in and refresh with an
 *    "administrators only" flag (same lockout, dummy hash, 2FA
 *    challenge and answers); logout and /admin/me are here.
 *  - As in auth.c, each change and its audit_log row are one statement.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "auth_int.h"

#define ADMIN_EXISTS							\
	"EXISTS (SELECT 1 FROM users WHERE role IN " ADMIN_ROLES ")"

#define SETUP_DONE							\
	"(EXISTS (SELECT 1 FROM admin_setup) OR " ADMIN_EXISTS ")"

static struct kb_stmt	status_stmt = KB_STMT_RO(
	"SELECT NOT " SETUP_DONE);

/*
 * $1 email, $2 password hash, $3 user_metadata, $4 refresh token hash,
 * $5 user agent, $6 client address, $7 request id.  One row: 'ok',
 * 'setup_done' or 'email_exists', then the session row (NULLs unless
 * ok).  The loser of a race inserts nothing into admin_setup and sees no
 * administrator in its snapshot: 'setup_done' is its answer too.
 */
static struct kb_stmt	setup_stmt = KB_STMT(
	"WITH pre AS (SELECT " SETUP_DONE " AS done, EXISTS (SELECT 1"
	" FROM users WHERE email = $1::citext) AS taken),"
	" st AS (INSERT INTO admin_setup (admin_id) SELECT gen_random_uuid()"
	" FROM pre WHERE NOT pre.done AND NOT pre.taken"
	" ON CONFLICT DO NOTHING RETURNING admin_id),"
	" u AS (INSERT INTO users (id, email, password_hash, user_metadata,"
	" role, last_sign_in_at) SELECT st.admin_id, lower($1), $2,"
	" coalesce($3::jsonb, '{}'), 'admin', now() FROM st RETURNING *),"
	" s AS (INSERT INTO sessions (user_id, user_agent, ip)"
	" SELECT id, $5, $6 FROM u RETURNING id),"
	" t AS (INSERT INTO refresh_tokens (session_id, token_hash)"
	" SELECT id, $4 FROM s),"
	" r AS (SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'ok'"
	" WHEN pre.done THEN 'setup_done' WHEN pre.taken THEN 'email_exists'"
	" ELSE 'setup_done' END AS result FROM pre),"
	" a AS (INSERT INTO " AUDIT_COLS
	" SELECT u.id, 'admin.setup', u.id::text, $7, $6,"
	" jsonb_build_object('session_id', s.id, 'email', u.email)"
	" FROM u, s UNION ALL SELECT NULL, 'admin.setup.rejected', NULL,"
	" $7, $6, jsonb_build_object('email', lower($1), 'reason', r.result)"
	" FROM r WHERE r.result <> 'ok')"
	" SELECT r.result, u.id, u.role, s.id, CASE WHEN u.id IS NOT NULL"
	" THEN " USER_JSON " END FROM r LEFT JOIN u ON true"
	" LEFT JOIN s ON true");

/* $1 request id, $2 client address, $3 reason. */
static struct kb_stmt	setup_refused = KB_STMT(
	"INSERT INTO " AUDIT_COLS " VALUES (NULL, 'admin.setup.rejected',"
	" NULL, $1, $2, jsonb_build_object('reason', $3::text))");

/*
 * $1 user id, $2 session id.  A row while the session is active and the
 * user is still an administrator.
 */
static struct kb_stmt	me_stmt = KB_STMT_RO(
	"SELECT json_build_object('id', u.id, 'email', u.email,"
	" 'name', u.user_metadata->>'name', 'role', u.role,"
	" 'created_at', " TS("u.created_at") ","
	" 'last_sign_in_at', " TS("u.last_sign_in_at") ","
	" 'totp_enabled', coalesce(m.enabled, false))::text"
	" FROM users u LEFT JOIN user_mfa m ON m.user_id = u.id"
	" WHERE u.id = $1 AND u.role IN " ADMIN_ROLES
	" AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = $2"
	" AND s.user_id = u.id AND s.revoked_at IS NULL)");

/* Work for a helper thread: hash the new administrator's password. */
struct setup_work {
	char				*password;
	size_t				 len;
	int				 rc;
	char				 hash[KB_PASSWORD_ENCODED_MAX];
	const struct kbg_adminSetup_in	*in;
};

static void	status_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	setup_refuse(struct kb_ctx *, const char *, const char *);
static void	setup_refused_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	setup_hash_fn(void *);
static void	setup_hashed(struct kb_ctx *, void *);
static void	setup_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	setup_work_free(struct setup_work *);
static int	setup_token_ok(const char *);
static void	me_done(struct kb_ctx *, struct kb_db_result *, void *);

/* ---- GET /admin/setup/status ---- */

void
kbh_getAdminSetupStatus(struct kb_ctx *ctx,
    const struct kbg_getAdminSetupStatus_in *in)
{
	kb_db_query(ctx, &status_stmt, 0, NULL, status_done, NULL);
}

static void
status_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	kb_respond_json(ctx, 200, json_pack("{s:b}", "needs_setup",
	    PQgetvalue(r->res, 0, 0)[0] == 't'));
}

/* ---- POST /admin/setup ---- */

void
kbh_adminSetup(struct kb_ctx *ctx, const struct kbg_adminSetup_in *in)
{
	struct setup_work	*w;

	if (kb_config.setup_token == NULL && !kb_config.dev_mode) {
		setup_refuse(ctx, "SETUP_DISABLED", "disabled");
		return;
	}
	if (kb_config.setup_token != NULL &&
	    !setup_token_ok(in->body->setup_token)) {
		setup_refuse(ctx, "INVALID_SETUP_TOKEN", "invalid_token");
		return;
	}
	if (kb_config.setup_token == NULL)
		kb_log("warning", "DEVELOPMENT MODE: admin setup without "
		    "KB_SETUP_TOKEN, any setup token is accepted");
	if (!auth_password_bytes_ok(ctx, in->body->password))
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->password = strdup(in->body->password)) == NULL)
		abort();
	w->len = strlen(w->password);
	w->in = in;
	if (kb_work(ctx, setup_hash_fn, setup_hashed, w) != 0) {
		setup_work_free(w);
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "the server is busy; retry shortly");
	}
}

/*
 * The presented token against KB_SETUP_TOKEN: both are hashed first, so
 * the comparison takes the same time whatever their lengths.
 */
static int
setup_token_ok(const char *tok)
{
	char	a[KB_TOKEN_HASH_LEN], b[KB_TOKEN_HASH_LEN];
	int	ok;

	if (tok == NULL ||
	    kb_token_hash(tok, strlen(tok), a, sizeof(a)) != 0 ||
	    kb_token_hash(kb_config.setup_token,
	    strlen(kb_config.setup_token), b, sizeof(b)) != 0)
		return (0);
	ok = kb_ct_equal(a, sizeof(a) - 1, b, sizeof(b) - 1);
	explicit_bzero(b, sizeof(b));
	return (ok);
}

/* Audit a refused setup, then answer 403 `code` (a static string). */
static void
setup_refuse(struct kb_ctx *ctx, const char *code, const char *reason)
{
	const char	*params[3];

	params[0] = kb_ctx_request_id(ctx);
	params[1] = kb_ctx_client_addr(ctx);
	params[2] = reason;
	kb_db_query(ctx, &setup_refused, 3, params, setup_refused_done,
	    (void *)(uintptr_t)code);
}

static void
setup_refused_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const char	*code = arg;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(code, "SETUP_DISABLED") == 0)
		kb_respond_error(ctx, 403, code, "setup is disabled: set "
		    "KB_SETUP_TOKEN on the server (make run writes one to "
		    "var/setup_token)");
	else
		kb_respond_error(ctx, 403, code,
		    "the setup token is not valid");
}

/* Helper thread. */
static void
setup_hash_fn(void *arg)
{
	struct setup_work	*w = arg;

	w->rc = kb_password_hash(w->password, w->len, NULL, w->hash,
	    sizeof(w->hash));
}

static void
setup_hashed(struct kb_ctx *ctx, void *arg)
{
	struct setup_work		*w = arg;
	const struct kbg_adminSetup_in	*in;
	char				 token[KB_TOKEN_LEN(REFRESH_BYTES)];
	char				 thash[KB_TOKEN_HASH_LEN];
	char				*meta = NULL;
	const char			*params[7];

	if (ctx == NULL) {
		setup_work_free(w);
		return;
	}
	in = w->in;
	if (w->rc != KB_PASSWORD_OK) {
		kb_log("error", "admin setup: password hash failed: %s",
		    kb_password_strerror(w->rc));
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		setup_work_free(w);
		return;
	}
	if (auth_refresh_new(ctx, token, sizeof(token), thash,
	    sizeof(thash))) {
		setup_work_free(w);
		return;
	}
	if (in->body->has_name) {
		json_t	*o = json_pack("{s:s}", "name", in->body->name);

		meta = json_dumps(o, JSON_COMPACT);
		json_decref(o);
	}
	params[0] = in->body->email;
	params[1] = w->hash;
	params[2] = meta;
	params[3] = thash;
	params[4] = kb_ctx_header(ctx, "user-agent");
	params[5] = kb_ctx_client_addr(ctx);
	params[6] = kb_ctx_request_id(ctx);
	kb_db_query(ctx, &setup_stmt, 7, params, setup_done,
	    kb_ctx_strdup(ctx, token));
	explicit_bzero(token, sizeof(token));
	free(meta);
	setup_work_free(w);
}

static void
setup_done(struct kb_ctx *ctx, struct kb_db_result *r, void *token)
{
	const char	*result;

	if (!r->ok) {
		if (strcmp(r->sqlstate, "23505") == 0) {
			/* A sign-up took the address meanwhile. */
			kb_respond_error(ctx, 409, "EMAIL_EXISTS",
			    "a user with this e-mail address already exists");
			return;
		}
		kb_db_respond_failure(ctx, r);
		return;
	}
	result = PQgetvalue(r->res, 0, 0);
	if (strcmp(result, "email_exists") == 0) {
		kb_respond_error(ctx, 409, "EMAIL_EXISTS",
		    "a user with this e-mail address already exists; setup "
		    "does not promote existing users");
		return;
	}
	if (strcmp(result, "ok") != 0) {
		kb_respond_error(ctx, 409, "SETUP_DONE",
		    "this instance already has an administrator");
		return;
	}
	auth_respond_session(ctx, 201, r->res, token);
}

static void
setup_work_free(struct setup_work *w)
{
	explicit_bzero(w->password, w->len);
	free(w->password);
	explicit_bzero(w->hash, sizeof(w->hash));
	free(w);
}

/* ---- POST /admin/login ---- */

void
kbh_adminLogin(struct kb_ctx *ctx, const struct kbg_adminLogin_in *in)
{
	auth_signin(ctx, in->body->email, in->body->password, 1);
}

/* ---- POST /admin/refresh ---- */

void
kbh_adminRefresh(struct kb_ctx *ctx, const struct kbg_adminRefresh_in *in)
{
	auth_refresh(ctx, in->body->refresh_token, 1);
}

/* ---- POST /admin/logout ---- */

void
kbh_adminLogout(struct kb_ctx *ctx, const struct kbg_adminLogout_in *in)
{
	auth_signout(ctx, "admin.logout");
}

/* ---- GET /admin/me ---- */

void
kbh_getAdminMe(struct kb_ctx *ctx, const struct kbg_getAdminMe_in *in)
{
	auth_query_caller(ctx, &me_stmt, me_done, NULL);
}

static void
me_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended, or its user "
		    "is no longer an administrator");
}
