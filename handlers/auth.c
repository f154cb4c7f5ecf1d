/*
 * Users and tokens (reference 000, "Authentication"; issue 3, first
 * slice): sign-up, sign-in, refresh, sign-out, the current user, the
 * public auth configuration, listing and revoking sessions,
 * reauthentication and the CSRF token.
 *
 * Shape of every handler:
 *  - Password hashing and verification (argon2id, ~20 ms) run on a helper
 *    thread through kb_work(); the event loop only continues with the next
 *    query when the work is done.
 *  - Each step is ONE prepared statement.  A change and its audit_log row
 *    are written by the same statement (data-modifying CTEs), so they
 *    commit or fail together; the pool has no multi-statement
 *    transactions.
 *  - The dispatcher's gate has already checked the operation's x-kb-roles
 *    and verified the access token; handlers read kb_ctx_caller() only.
 *    The /auth/user and /auth/signout operations also require the token's
 *    session (sid) to be active, so signing out ends the access token too.
 *
 * Sign-in and refresh also serve /admin/login and /admin/refresh
 * (handlers/admin.c) through auth_signin() and auth_refresh() with an
 * "administrators only" flag.  A successful sign-in rehashes a password
 * whose stored argon2id parameters are weaker than today's; refresh
 * refuses sessions past KB_SESSION_TTL and refresh tokens past
 * KB_REFRESH_TTL (401 SESSION_EXPIRED).
 *
 * No answer tells whether an e-mail address has an account, except
 * sign-up's 409 (inherent to sign-up): a wrong password and an unknown
 * address get the same 401 after the same argon2id work (a dummy hash is
 * verified for unknown addresses), and failed sign-ins are counted and
 * locked per address whether or not it has an account (users columns for
 * accounts, the signin_failures table otherwise).
 */

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "auth_int.h"

#define AUTH_MAX_FAILED		5
#define AUTH_LOCK_SECONDS	900

#define SIGNUP_ENABLED							\
	"coalesce((SELECT value <> 'false'::jsonb FROM settings"		\
	" WHERE key = 'auth.signup_enabled'), true)"

static struct kb_stmt	config_stmt = KB_STMT_RO(
	"SELECT " SIGNUP_ENABLED);

/*
 * $1 email, $2 password hash, $3 user_metadata, $4 refresh token hash,
 * $5 user agent, $6 client address, $7 request id, $8 e-mail
 * verification token hash, $9 its lifetime (s), $10 the mail's subject,
 * $11 its body (queued in mail_outbox, see email.c).
 */
static struct kb_stmt	signup_stmt = KB_STMT(
	"WITH cfg AS (SELECT " SIGNUP_ENABLED " AS enabled),"
	" u AS (INSERT INTO users (email, password_hash, user_metadata,"
	" last_sign_in_at) SELECT lower($1), $2, coalesce($3::jsonb, '{}'),"
	" now() FROM cfg WHERE cfg.enabled"
	" ON CONFLICT (email) DO NOTHING RETURNING *),"
	" s AS (INSERT INTO sessions (user_id, user_agent, ip)"
	" SELECT id, $5, $6 FROM u RETURNING id),"
	" t AS (INSERT INTO refresh_tokens (session_id, token_hash)"
	" SELECT id, $4 FROM s),"
	" vt AS (INSERT INTO email_tokens (user_id, email, kind, token_hash,"
	" expires_at, ip) SELECT id, email, 'verify', $8,"
	" now() + make_interval(secs => $9::int), $6 FROM u RETURNING id),"
	" vm AS (INSERT INTO mail_outbox (to_addr, subject, body, kind)"
	" SELECT u.email, $10, $11, 'verify' FROM u, vt),"
	" vl AS (INSERT INTO email_send_limits (email, kind)"
	" SELECT email, 'verify' FROM u ON CONFLICT (email, kind)"
	" DO UPDATE SET sent_at = now()),"
	" a AS (INSERT INTO " AUDIT_COLS
	" SELECT u.id, 'user.signup', u.id::text, $7, $6,"
	" jsonb_build_object('session_id', s.id) FROM u, s"
	" UNION ALL SELECT NULL, CASE WHEN cfg.enabled"
	" THEN 'user.signup.conflict' ELSE 'user.signup.disabled' END,"
	" NULL, $7, $6, jsonb_build_object('email', lower($1)) FROM cfg"
	" WHERE NOT EXISTS (SELECT 1 FROM u))"
	" SELECT cfg.enabled, u.id, u.role, s.id, CASE WHEN u.id IS NOT NULL"
	" THEN " USER_JSON " END FROM cfg LEFT JOIN u ON true"
	" LEFT JOIN s ON true");

/*
 * $1 email.  One row always: the account (or NULLs), the seconds left
 * of a lock on the address, whether or not it has an account, whether
 * the account has two-factor authentication on, and whether it is an
 * administrator.
 */
static struct kb_stmt	signin_lookup = KB_STMT_RO(
	"SELECT u.id, u.password_hash, coalesce(greatest(0, ceil(extract("
	" epoch FROM CASE WHEN u.id IS NOT NULL THEN u.locked_until"
	" ELSE f.locked_until END - now())))::int, 0),"
	" coalesce(m.enabled, false),"
	" coalesce(u.role IN " ADMIN_ROLES ", false)"
	" FROM (SELECT $1::citext AS email) e"
	" LEFT JOIN users u ON u.email = e.email"
	" LEFT JOIN signin_failures f ON f.email = e.email"
	" LEFT JOIN user_mfa m ON m.user_id = u.id");

/*
 * $1 user id or NULL, $2 email, $3 request id, $4 client address, $5
 * the audit action.
 */
static struct kb_stmt	signin_locked = KB_STMT(
	"INSERT INTO " AUDIT_COLS " VALUES (NULL, $5,"
	" $1, $3, $4, jsonb_build_object('email', lower($2)))");

/*
 * $1 user id, $2 refresh token hash, $3 user agent, $4 client address,
 * $5 request id, $6 the audit action.  No row when the account got
 * locked meanwhile.
 */
static struct kb_stmt	signin_ok = KB_STMT(
	"WITH u AS (UPDATE users SET failed_signins = 0, locked_until = NULL,"
	" last_sign_in_at = now() WHERE id = $1 AND (locked_until IS NULL"
	" OR locked_until <= now()) RETURNING *),"
	" s AS (INSERT INTO sessions (user_id, user_agent, ip)"
	" SELECT id, $3, $4 FROM u RETURNING id),"
	" t AS (INSERT INTO refresh_tokens (session_id, token_hash)"
	" SELECT id, $2 FROM s),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT u.id, $6,"
	" u.id::text, $5, $4, jsonb_build_object('session_id', s.id)"
	" FROM u, s)"
	" SELECT u.id, u.role, s.id, " USER_JSON " FROM u, s");

/*
 * $1 email, $2 request id, $3 client address, $4 the audit action.
 * Counts the failure on the account, or on the address when it has none;
 * the fifth in a row locks it for AUTH_LOCK_SECONDS and starts the count
 * again.
 */
#define FAIL_COUNT(t)							\
	"failed_signins = CASE WHEN " t ".failed_signins + 1 >= 5 THEN 0"	\
	" ELSE " t ".failed_signins + 1 END,"				\
	" locked_until = CASE WHEN " t ".failed_signins + 1 >= 5"		\
	" THEN now() + interval '900 seconds' ELSE " t ".locked_until END"

static struct kb_stmt	signin_fail = KB_STMT(
	"WITH u AS (UPDATE users AS x SET " FAIL_COUNT("x")
	" WHERE x.email = $1::citext RETURNING x.id, x.locked_until),"
	" f AS (INSERT INTO signin_failures AS x (email, failed_signins)"
	" SELECT lower($1), 1 WHERE NOT EXISTS (SELECT 1 FROM u)"
	" ON CONFLICT (email) DO UPDATE SET " FAIL_COUNT("x") ","
	" updated_at = now() RETURNING x.locked_until),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT NULL,"
	" $4, (SELECT id::text FROM u), $2, $3,"
	" jsonb_build_object('email', lower($1), 'locked',"
	" coalesce((SELECT locked_until FROM u), (SELECT locked_until"
	" FROM f), '-infinity') > now()))"
	" SELECT 1");

/*
 * $1 presented token hash, $2 new token hash, $3 request id, $4 client
 * address, $5 administrators only (boolean), $6 the session lifetime and
 * $7 the refresh-token lifetime (seconds).  Rotates an unused, unexpired
 * token of an active session (of an administrator when $5); a token that
 * was already rotated revokes its session and every token of it.  One
 * row on success; a row of NULLs when the token is unused but its
 * session or itself has expired; no row otherwise.
 */
static struct kb_stmt	refresh_stmt = KB_STMT(
	"WITH rot AS (UPDATE refresh_tokens rt SET rotated_at = now()"
	" FROM sessions s JOIN users su ON su.id = s.user_id"
	" WHERE rt.token_hash = $1 AND rt.rotated_at IS NULL"
	" AND NOT rt.revoked AND s.id = rt.session_id"
	" AND s.revoked_at IS NULL"
	" AND s.created_at > now() - $6::int * interval '1 second'"
	" AND rt.created_at > now() - $7::int * interval '1 second'"
	" AND (NOT $5::boolean OR su.role IN " ADMIN_ROLES ")"
	" RETURNING rt.session_id, s.user_id),"
	" nt AS (INSERT INTO refresh_tokens (session_id, token_hash)"
	" SELECT session_id, $2 FROM rot),"
	" lu AS (UPDATE sessions SET refreshed_at = now() WHERE id IN"
	" (SELECT session_id FROM rot)),"
	" old AS (SELECT rt.session_id, s.user_id, rt.rotated_at IS NOT NULL"
	" AND s.revoked_at IS NULL AS reuse, rt.rotated_at IS NULL"
	" AND NOT rt.revoked AND s.revoked_at IS NULL"
	" AND (s.created_at <= now() - $6::int * interval '1 second'"
	" OR rt.created_at <= now() - $7::int * interval '1 second')"
	" AS expired FROM refresh_tokens rt"
	" JOIN sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1"
	" AND NOT EXISTS (SELECT 1 FROM rot)),"
	" rs AS (UPDATE sessions SET revoked_at = now() WHERE id IN"
	" (SELECT session_id FROM old WHERE reuse) AND revoked_at IS NULL),"
	" rr AS (UPDATE refresh_tokens SET revoked = true WHERE session_id IN"
	" (SELECT session_id FROM old WHERE reuse) AND NOT revoked),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT user_id, CASE WHEN $5"
	" THEN 'admin.refresh' ELSE 'token.refresh' END,"
	" session_id::text, $3, $4, '{}' FROM rot UNION ALL"
	" SELECT NULL, CASE WHEN reuse THEN 'token.reuse_detected'"
	" WHEN expired THEN 'token.refresh.expired'"
	" WHEN $5 THEN 'admin.refresh.rejected'"
	" ELSE 'token.refresh.rejected' END, session_id::text, $3, $4,"
	" jsonb_build_object('user_id', user_id) FROM old)"
	" SELECT u.id, u.role, rot.session_id, " USER_JSON
	" FROM rot JOIN users u ON u.id = rot.user_id"
	" UNION ALL SELECT NULL, NULL, NULL, NULL FROM old WHERE expired");

/*
 * $1 user id, $2 the new password hash, $3 the hash it replaces, $4
 * request id, $5 client address.  A sign-in found the stored argon2id
 * parameters weaker than today's; nothing changes if the password was
 * changed meanwhile.
 */
static struct kb_stmt	rehash_stmt = KB_STMT(
	"WITH u AS (UPDATE users SET password_hash = $2 WHERE id = $1"
	" AND password_hash = $3 RETURNING id),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT id, 'user.password.rehash',"
	" id::text, $4, $5, '{}' FROM u)"
	" SELECT count(*) FROM u");

/*
 * $1 session id, $2 user id, $3 request id, $4 client address, $5 the
 * audit action ('user.signout', 'admin.logout').
 */
static struct kb_stmt	signout_stmt = KB_STMT(
	"WITH s AS (UPDATE sessions SET revoked_at = now() WHERE id = $1"
	" AND user_id = $2 AND revoked_at IS NULL RETURNING id, user_id),"
	" r AS (UPDATE refresh_tokens SET revoked = true WHERE session_id IN"
	" (SELECT id FROM s) AND NOT revoked),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT user_id, $5::text,"
	" id::text, $3, $4, '{}' FROM s)"
	" SELECT count(*) FROM s");

#define ACTIVE_SESSION							\
	"EXISTS (SELECT 1 FROM sessions s WHERE s.id = $2"		\
	" AND s.user_id = u.id AND s.revoked_at IS NULL)"

/* $1 user id, $2 session id. */
static struct kb_stmt	user_get = KB_STMT_RO(
	"SELECT " USER_JSON " FROM users u WHERE u.id = $1 AND "
	ACTIVE_SESSION);

/*
 * $1 user id, for a client key: the gate has checked the key (not
 * revoked, not expired, its user not locked); it has no session.
 */
static struct kb_stmt	user_get_by_key = KB_STMT_RO(
	"SELECT " USER_JSON " FROM users u WHERE u.id = $1");

/*
 * $1 user id, $2 session id, $3 email, $4 password hash, $5 metadata to
 * merge (a key set to null is removed), $6 request id, $7 client address,
 * $8 the names of the changed fields (JSON array).  NULL: unchanged.
 */
static struct kb_stmt	user_update = KB_STMT(
	"WITH u AS (UPDATE users u SET email = coalesce(lower($3), u.email),"
	" email_confirmed_at = CASE WHEN $3::text IS NULL"
	" OR lower($3) = u.email THEN u.email_confirmed_at END,"
	" password_hash = coalesce($4, u.password_hash),"
	" user_metadata = CASE WHEN $5::jsonb IS NULL THEN u.user_metadata"
	" ELSE (u.user_metadata || $5::jsonb) - ARRAY(SELECT e.k FROM"
	" jsonb_each($5::jsonb) AS e(k, v) WHERE e.v = 'null'::jsonb) END"
	" WHERE u.id = $1 AND " ACTIVE_SESSION " RETURNING u.*),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT id, 'user.update',"
	" id::text, $6, $7, jsonb_build_object('fields', $8::jsonb) FROM u)"
	" SELECT " USER_JSON " FROM u");

/* The caller's session ($2) is an active session of the caller ($1). */
#define CALLER_ACTIVE							\
	"EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND user_id = $1"	\
	" AND revoked_at IS NULL)"

/*
 * $1 user id, $2 session id, $3 limit, $4 offset, $5 the session
 * lifetime (seconds).  One row: whether the caller's session is active,
 * and the page of active, unexpired sessions (JSON).
 */
static struct kb_stmt	sessions_list = KB_STMT_RO(
	"SELECT " CALLER_ACTIVE ", coalesce((SELECT json_agg("
	"json_build_object('id', s.id, 'created_at', " TS("s.created_at") ","
	" 'refreshed_at', " TS("s.refreshed_at") ","
	" 'reauthenticated_at', " TS("s.reauthenticated_at") ","
	" 'user_agent', s.user_agent, 'ip', s.ip, 'current', s.id = $2)"
	" ORDER BY s.created_at DESC, s.id) FROM (SELECT * FROM sessions x"
	" WHERE x.user_id = $1 AND x.revoked_at IS NULL"
	" AND x.created_at > now() - $5::int * interval '1 second'"
	" ORDER BY x.created_at DESC, x.id LIMIT $3 OFFSET $4) s),"
	" '[]')::text");

/*
 * $1 user id, $2 caller's session id, $3 the session to revoke, $4
 * request id, $5 client address.  One row: whether the caller's session
 * is active, and how many sessions were revoked (0 or 1).
 */
static struct kb_stmt	session_revoke = KB_STMT(
	"WITH me AS (SELECT " CALLER_ACTIVE " AS ok),"
	" s AS (UPDATE sessions SET revoked_at = now() WHERE id = $3"
	" AND user_id = $1 AND revoked_at IS NULL AND (SELECT ok FROM me)"
	" RETURNING id),"
	" r AS (UPDATE refresh_tokens SET revoked = true WHERE session_id IN"
	" (SELECT id FROM s) AND NOT revoked),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT $1, 'session.revoke',"
	" id::text, $4, $5, jsonb_build_object('current', id = $2) FROM s)"
	" SELECT (SELECT ok FROM me), (SELECT count(*) FROM s)");

/*
 * $1 user id, $2 caller's session id, $3 scope ('others' or 'all'), $4
 * request id, $5 client address.  One row: whether the caller's session
 * is active (nothing changes when it is not).
 */
static struct kb_stmt	sessions_revoke = KB_STMT(
	"WITH me AS (SELECT " CALLER_ACTIVE " AS ok),"
	" s AS (UPDATE sessions SET revoked_at = now() WHERE user_id = $1"
	" AND revoked_at IS NULL AND ($3::text = 'all' OR id <> $2)"
	" AND (SELECT ok FROM me) RETURNING id),"
	" r AS (UPDATE refresh_tokens SET revoked = true WHERE session_id IN"
	" (SELECT id FROM s) AND NOT revoked),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT $1, 'session.revoke_all',"
	" $1::uuid::text, $4, $5, jsonb_build_object('scope', $3::text,"
	" 'sessions', coalesce((SELECT jsonb_agg(id) FROM s), '[]'::jsonb))"
	" WHERE (SELECT ok FROM me))"
	" SELECT (SELECT ok FROM me)");

/*
 * $1 user id, $2 session id.  A row only while the session is active:
 * the password hash and the seconds left of a lock on the account.
 */
static struct kb_stmt	reauth_lookup = KB_STMT_RO(
	"SELECT u.password_hash, coalesce(greatest(0, ceil(extract(epoch"
	" FROM u.locked_until - now())))::int, 0) FROM users u"
	" JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 AND s.id = $2"
	" AND s.revoked_at IS NULL");

/* $1 user id, $2 request id, $3 client address, $4 session id. */
static struct kb_stmt	reauth_locked = KB_STMT(
	"INSERT INTO " AUDIT_COLS " VALUES ($1::uuid,"
	" 'user.reauthenticate.locked', $1::uuid::text, $2, $3,"
	" jsonb_build_object('session_id', $4::uuid))");

/*
 * $1 user id, $2 session id, $3 request id, $4 client address.  Records
 * the time on the session and resets the failure count, like a sign-in.
 * No row when the session ended or the account got locked meanwhile.
 */
static struct kb_stmt	reauth_ok = KB_STMT(
	"WITH u AS (UPDATE users SET failed_signins = 0, locked_until = NULL"
	" WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now())"
	" AND " CALLER_ACTIVE " RETURNING id),"
	" s AS (UPDATE sessions SET reauthenticated_at = now() WHERE id = $2"
	" AND user_id IN (SELECT id FROM u)"
	" RETURNING id, user_id, reauthenticated_at),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT user_id,"
	" 'user.reauthenticate', user_id::text, $3, $4,"
	" jsonb_build_object('session_id', id) FROM s)"
	" SELECT " TS("reauthenticated_at") " FROM s");

/*
 * $1 user id, $2 request id, $3 client address, $4 session id.  A wrong
 * password counts as a failed sign-in of the account (FAIL_COUNT).
 */
static struct kb_stmt	reauth_fail = KB_STMT(
	"WITH u AS (UPDATE users AS x SET " FAIL_COUNT("x")
	" WHERE x.id = $1 RETURNING x.id, x.locked_until),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT id,"
	" 'user.reauthenticate.failed', id::text, $2, $3,"
	" jsonb_build_object('session_id', $4::uuid, 'locked',"
	" coalesce(locked_until > now(), false)) FROM u)"
	" SELECT 1");

/* Work handed to a helper thread: hash or verify one password. */
struct pw_work {
	char		*password;	/* malloc'd copy, wiped when done */
	size_t		 len;
	char		*stored;	/* verify: the stored hash, or NULL */
	int		 rc;		/* KB_PASSWORD_* */
	char		 hash[KB_PASSWORD_ENCODED_MAX];
	/* Event-loop state, valid while ctx is. */
	const void	*in;
	char		*user_id;	/* signin: the account, or NULL */
	int		 mfa;		/* signin: the account has 2FA on */
	int		 is_admin;	/* signin: the account is an admin */
	int		 want_rehash;	/* verify: rehash weak parameters */
	int		 rehashed;	/* verify: `hash` holds a new hash */
};

/* A sign-in at /auth/signin or /admin/login. */
struct signin_req {
	const char	*email;
	const char	*password;
	int		 admin;		/* administrators only */
};

/* What a successful sign-in still has to do after its statement. */
struct signin_cont {
	char		*token;		/* the new refresh token */
	char		*user_id;
	char		*new_hash;	/* NULL: no rehash */
	char		*old_hash;
	/* The session row, kept for the answer after the rehash. */
	char		*sub, *role, *sid, *user;
};

static void	pw_hash_fn(void *);
static void	pw_verify_fn(void *);
static void	pw_free(struct pw_work *);
static struct pw_work *pw_new(const void *, const char *);
static int	pw_start(struct kb_ctx *, struct pw_work *, kb_work_fn,
		    kb_work_done);

static void	config_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	signup_hashed(struct kb_ctx *, void *);
static void	signup_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	signin_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	signin_verified(struct kb_ctx *, void *);
static void	signin_ok_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	signin_fail_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	signin_locked_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	rehash_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	refresh_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	signout_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	user_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	update_hashed(struct kb_ctx *, void *);
static void	update_run(struct kb_ctx *, const struct kbg_updateUser_in *,
		    const char *);
static void	update_done(struct kb_ctx *, struct kb_db_result *, void *);

static void	sessions_list_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	session_revoke_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	sessions_revoke_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	reauth_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	reauth_verified(struct kb_ctx *, void *);
static void	reauth_ok_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	reauth_fail_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	respond_session_ended(struct kb_ctx *);
static void	respond_session(struct kb_ctx *, int, const char *,
		    const char *, const char *, const char *, const char *);

static char	*stored_hash(const char *);

/* ---- GET /auth/config ---- */

void
kbh_getAuthConfig(struct kb_ctx *ctx, const struct kbg_getAuthConfig_in *in)
{
	kb_db_query(ctx, &config_stmt, 0, NULL, config_done, NULL);
}

static void
config_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	kb_respond_json(ctx, 200, json_pack("{s:b, s:b, s:i, s:i, s:I, s:i,"
	    " s:i}",
	    "signup_enabled", PQgetvalue(r->res, 0, 0)[0] == 't',
	    "email_confirmation_required", 0,
	    "password_min_length", KB_PASSWORD_MIN_LEN,
	    "password_max_length", KB_PASSWORD_MAX_LEN,
	    "access_token_lifetime", (json_int_t)kb_jwt_config()->ttl,
	    "max_failed_signins", AUTH_MAX_FAILED,
	    "lockout_seconds", AUTH_LOCK_SECONDS));
}

/* ---- POST /auth/signup ---- */

void
kbh_signup(struct kb_ctx *ctx, const struct kbg_signup_in *in)
{
	struct pw_work	*w;

	if (!auth_password_bytes_ok(ctx, in->body->password))
		return;
	w = pw_new(in, in->body->password);
	(void)pw_start(ctx, w, pw_hash_fn, signup_hashed);
}

static void
signup_hashed(struct kb_ctx *ctx, void *arg)
{
	struct pw_work			*w = arg;
	const struct kbg_signup_in	*in;
	char				 token[KB_TOKEN_LEN(REFRESH_BYTES)];
	char				 thash[KB_TOKEN_HASH_LEN];
	char				 vhash[KB_TOKEN_HASH_LEN];
	char				 vttl[16];
	char				*meta = NULL, *vbody;
	const char			*params[11], *vsubject;

	if (ctx == NULL) {
		pw_free(w);
		return;
	}
	in = w->in;
	if (w->rc != KB_PASSWORD_OK) {
		kb_log("error", "signup: password hash failed: %s",
		    kb_password_strerror(w->rc));
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		pw_free(w);
		return;
	}
	if (auth_refresh_new(ctx, token, sizeof(token), thash, sizeof(thash))) {
		pw_free(w);
		return;
	}
	if ((vbody = email_verify_mail(ctx, in->body->email, vhash,
	    sizeof(vhash), &vsubject)) == NULL) {
		pw_free(w);
		return;
	}
	(void)snprintf(vttl, sizeof(vttl), "%d", kb_config.verify_ttl);
	if (in->body->has_data)
		meta = json_dumps(in->body->data, JSON_COMPACT);
	params[0] = in->body->email;
	params[1] = w->hash;
	params[2] = meta;
	params[3] = thash;
	params[4] = kb_ctx_header(ctx, "user-agent");
	params[5] = kb_ctx_client_addr(ctx);
	params[6] = kb_ctx_request_id(ctx);
	params[7] = vhash;
	params[8] = vttl;
	params[9] = vsubject;
	params[10] = vbody;
	kb_db_query(ctx, &signup_stmt, 11, params, signup_done,
	    kb_ctx_strdup(ctx, token));
	free(vbody);
	free(meta);
	pw_free(w);
}

static void
signup_done(struct kb_ctx *ctx, struct kb_db_result *r, void *token)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		kb_respond_error(ctx, 403, "SIGNUP_DISABLED",
		    "sign-up is disabled on this instance");
		return;
	}
	if (PQgetisnull(r->res, 0, 1)) {
		kb_respond_error(ctx, 409, "EMAIL_EXISTS",
		    "a user with this e-mail address already exists");
		return;
	}
	auth_respond_session(ctx, 201, r->res, token);
}

/* ---- POST /auth/signin (and /admin/login) ---- */

void
kbh_signin(struct kb_ctx *ctx, const struct kbg_signin_in *in)
{
	auth_signin(ctx, in->body->email, in->body->password, 0);
}

/*
 * Sign in with e-mail and password.  With `admin`, only administrators
 * get a session: anyone else is answered exactly like a wrong password,
 * after the same work, and the attempt counts towards the lockout.
 */
void
auth_signin(struct kb_ctx *ctx, const char *email, const char *password,
    int admin)
{
	struct signin_req	*sr;
	const char		*params[1];

	sr = kb_ctx_alloc(ctx, sizeof(*sr));
	sr->email = email;
	sr->password = password;
	sr->admin = admin;
	params[0] = email;
	kb_db_query(ctx, &signin_lookup, 1, params, signin_found, sr);
}

static void
signin_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct signin_req	*sr = arg;
	struct pw_work		*w;
	const char		*params[5];
	int			*retry;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	/*
	 * Locked (account or not): no password work, the same answer.  The
	 * attempt is audited first.
	 */
	retry = kb_ctx_alloc(ctx, sizeof(*retry));
	*retry = atoi(PQgetvalue(r->res, 0, 2));
	if (*retry > 0) {
		params[0] = PQgetisnull(r->res, 0, 0) ? NULL :
		    PQgetvalue(r->res, 0, 0);
		params[1] = sr->email;
		params[2] = kb_ctx_request_id(ctx);
		params[3] = kb_ctx_client_addr(ctx);
		params[4] = sr->admin ? "admin.login.locked" :
		    "user.signin.locked";
		kb_db_query(ctx, &signin_locked, 5, params,
		    signin_locked_done, retry);
		return;
	}

	w = pw_new(sr, sr->password);
	if (!PQgetisnull(r->res, 0, 0)) {
		w->user_id = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 0));
		w->mfa = PQgetvalue(r->res, 0, 3)[0] == 't';
		w->is_admin = PQgetvalue(r->res, 0, 4)[0] == 't';
		w->stored = stored_hash(PQgetvalue(r->res, 0, 1));
		/* Only a sign-in that will succeed upgrades the hash. */
		w->want_rehash = (!sr->admin || w->is_admin) && !w->mfa &&
		    w->stored != NULL;
	}
	(void)pw_start(ctx, w, pw_verify_fn, signin_verified);
}

static void
signin_locked_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	char	 buf[16];

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	(void)snprintf(buf, sizeof(buf), "%d", *(int *)arg);
	kb_header_set(ctx, "Retry-After", buf);
	kb_respond_error(ctx, 429, "SIGNIN_LOCKED", "too many failed sign-ins "
	    "for this e-mail address; try again in %s seconds", buf);
}

static void
signin_verified(struct kb_ctx *ctx, void *arg)
{
	struct pw_work			*w = arg;
	const struct signin_req		*sr;
	struct signin_cont		*sc;
	char				 token[KB_TOKEN_LEN(REFRESH_BYTES)];
	char				 thash[KB_TOKEN_HASH_LEN];
	const char			*params[6];
	int				 ok;

	if (ctx == NULL) {
		pw_free(w);
		return;
	}
	sr = w->in;
	/* At /admin/login, a user who is not an administrator fails. */
	ok = w->user_id != NULL && w->rc == KB_PASSWORD_OK &&
	    (!sr->admin || w->is_admin);
	if (ok && w->mfa) {
		/* Right password, 2FA on: a challenge instead of tokens. */
		mfa_signin_challenge(ctx, w->user_id);
	} else if (ok) {
		if (auth_refresh_new(ctx, token, sizeof(token), thash,
		    sizeof(thash))) {
			pw_free(w);
			return;
		}
		sc = kb_ctx_alloc(ctx, sizeof(*sc));
		memset(sc, 0, sizeof(*sc));
		sc->token = kb_ctx_strdup(ctx, token);
		sc->user_id = w->user_id;
		if (w->rehashed) {
			sc->new_hash = kb_ctx_strdup(ctx, w->hash);
			sc->old_hash = kb_ctx_strdup(ctx, w->stored);
		}
		params[0] = w->user_id;
		params[1] = thash;
		params[2] = kb_ctx_header(ctx, "user-agent");
		params[3] = kb_ctx_client_addr(ctx);
		params[4] = kb_ctx_request_id(ctx);
		params[5] = sr->admin ? "admin.login" : "user.signin";
		kb_db_query(ctx, &signin_ok, 6, params, signin_ok_done, sc);
		explicit_bzero(token, sizeof(token));
	} else {
		auth_log_pw_error("signin", w->rc);
		params[0] = sr->email;
		params[1] = kb_ctx_request_id(ctx);
		params[2] = kb_ctx_client_addr(ctx);
		params[3] = sr->admin ? "admin.login.failed" :
		    "user.signin.failed";
		kb_db_query(ctx, &signin_fail, 4, params, signin_fail_done,
		    NULL);
	}
	pw_free(w);
}

static void
signin_ok_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct signin_cont	*sc = arg;
	const char		*params[5];

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		/* Locked (or deleted) between the lookup and now. */
		auth_respond_invalid_credentials(ctx);
		return;
	}
	if (sc->new_hash == NULL) {
		auth_respond_session(ctx, 200, r->res, sc->token);
		return;
	}
	/*
	 * The stored hash has weaker parameters than today's: store the
	 * new one (made on the helper thread with the verification), then
	 * answer.
	 */
	sc->sub = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 0));
	sc->role = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 1));
	sc->sid = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 2));
	sc->user = kb_ctx_strdup(ctx, PQgetvalue(r->res, 0, 3));
	params[0] = sc->user_id;
	params[1] = sc->new_hash;
	params[2] = sc->old_hash;
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &rehash_stmt, 5, params, rehash_done, sc);
}

static void
rehash_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct signin_cont	*sc = arg;

	/* The sign-in itself succeeded: a failed upgrade is only logged. */
	if (!r->ok)
		kb_log("warning", "signin: storing the rehashed password "
		    "failed");
	respond_session(ctx, 200, sc->sub, sc->role, sc->sid, sc->user,
	    sc->token);
}

static void
signin_fail_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	auth_respond_invalid_credentials(ctx);
}

void
auth_respond_invalid_credentials(struct kb_ctx *ctx)
{
	kb_respond_error(ctx, 401, "INVALID_CREDENTIALS",
	    "invalid e-mail address or password");
}

/* ---- POST /auth/refresh (and /admin/refresh) ---- */

void
kbh_refreshToken(struct kb_ctx *ctx, const struct kbg_refreshToken_in *in)
{
	auth_refresh(ctx, in->body->refresh_token, 0);
}

/*
 * Rotate a refresh token.  With `admin`, only while its user is still an
 * administrator (otherwise 401, and the token stays unused).
 */
void
auth_refresh(struct kb_ctx *ctx, const char *tok, int admin)
{
	char		 token[KB_TOKEN_LEN(REFRESH_BYTES)];
	char		 thash[KB_TOKEN_HASH_LEN], ohash[KB_TOKEN_HASH_LEN];
	char		 sttl[16], rttl[16];
	const char	*params[7];

	if (kb_token_hash(tok, strlen(tok), ohash, sizeof(ohash)) != 0 ||
	    auth_refresh_new(ctx, token, sizeof(token), thash, sizeof(thash))) {
		if (!kb_responded(ctx))
			kb_respond_error(ctx, 500, "INTERNAL",
			    "internal error");
		return;
	}
	(void)snprintf(sttl, sizeof(sttl), "%d", kb_config.session_ttl);
	(void)snprintf(rttl, sizeof(rttl), "%d", kb_config.refresh_ttl);
	params[0] = ohash;
	params[1] = thash;
	params[2] = kb_ctx_request_id(ctx);
	params[3] = kb_ctx_client_addr(ctx);
	params[4] = admin ? "true" : "false";
	params[5] = sttl;
	params[6] = rttl;
	kb_db_query(ctx, &refresh_stmt, 7, params, refresh_done,
	    kb_ctx_strdup(ctx, token));
	explicit_bzero(token, sizeof(token));
}

static void
refresh_done(struct kb_ctx *ctx, struct kb_db_result *r, void *token)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) == 1 && PQgetisnull(r->res, 0, 0)) {
		kb_respond_error(ctx, 401, "SESSION_EXPIRED",
		    "the session has expired; sign in again");
		return;
	}
	if (PQntuples(r->res) != 1) {
		kb_respond_error(ctx, 401, "INVALID_REFRESH_TOKEN",
		    "the refresh token is not valid");
		return;
	}
	auth_respond_session(ctx, 200, r->res, token);
}

/* ---- POST /auth/signout ---- */

void
kbh_signout(struct kb_ctx *ctx, const struct kbg_signout_in *in)
{
	auth_signout(ctx, "user.signout");
}

/* End the caller's session (sign-out, admin logout), audited as `action`. */
void
auth_signout(struct kb_ctx *ctx, const char *action)
{
	const struct kb_caller	*c;
	const char		*params[5];

	if (!auth_caller_ok(ctx, &c))
		return;
	params[0] = c->sid;
	params[1] = c->sub;
	params[2] = kb_ctx_request_id(ctx);
	params[3] = kb_ctx_client_addr(ctx);
	params[4] = action;
	kb_db_query(ctx, &signout_stmt, 5, params, signout_done, NULL);
}

static void
signout_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
		return;
	}
	kb_respond_empty(ctx, 204);
}

/* ---- GET /auth/user ---- */

void
kbh_getUser(struct kb_ctx *ctx, const struct kbg_getUser_in *in)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);
	const char		*params[1];

	(void)in;
	if (c->cred == KB_CRED_CLIENT_KEY && auth_is_uuid(c->sub)) {
		params[0] = c->sub;
		kb_db_query(ctx, &user_get_by_key, 1, params, user_done, NULL);
		return;
	}
	auth_query_caller(ctx, &user_get, user_done, NULL);
}

static void
user_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!kb_db_respond_row(ctx, r, 200))
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
}

/* ---- PATCH /auth/user ---- */

void
kbh_updateUser(struct kb_ctx *ctx, const struct kbg_updateUser_in *in)
{
	const struct kb_caller	*c;
	struct pw_work		*w;

	if (!auth_caller_ok(ctx, &c))
		return;
	if (!in->body->has_password) {
		update_run(ctx, in, NULL);
		return;
	}
	if (!auth_password_bytes_ok(ctx, in->body->password))
		return;
	w = pw_new(in, in->body->password);
	(void)pw_start(ctx, w, pw_hash_fn, update_hashed);
}

static void
update_hashed(struct kb_ctx *ctx, void *arg)
{
	struct pw_work	*w = arg;

	if (ctx == NULL) {
		pw_free(w);
		return;
	}
	if (w->rc != KB_PASSWORD_OK) {
		kb_log("error", "update user: password hash failed: %s",
		    kb_password_strerror(w->rc));
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
	} else
		update_run(ctx, w->in, w->hash);
	pw_free(w);
}

static void
update_run(struct kb_ctx *ctx, const struct kbg_updateUser_in *in,
    const char *hash)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);
	const char		*params[8];
	char			*meta = NULL, *fields;
	json_t			*f;

	f = json_array();
	if (in->body->has_email)
		json_array_append_new(f, json_string("email"));
	if (hash != NULL)
		json_array_append_new(f, json_string("password"));
	if (in->body->has_data) {
		json_array_append_new(f, json_string("data"));
		meta = json_dumps(in->body->data, JSON_COMPACT);
	}
	fields = json_dumps(f, JSON_COMPACT);
	json_decref(f);

	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = in->body->has_email ? in->body->email : NULL;
	params[3] = hash;
	params[4] = meta;
	params[5] = kb_ctx_request_id(ctx);
	params[6] = kb_ctx_client_addr(ctx);
	params[7] = fields;
	kb_db_query(ctx, &user_update, 8, params, update_done, NULL);
	free(meta);
	free(fields);
}

static void
update_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		if (strcmp(r->sqlstate, "23505") == 0) {
			kb_respond_error(ctx, 409, "EMAIL_EXISTS",
			    "a user with this e-mail address already exists");
			return;
		}
		kb_db_respond_failure(ctx, r);
		return;
	}
	user_done(ctx, r, arg);
}

/* ---- GET /auth/sessions ---- */

void
kbh_listSessions(struct kb_ctx *ctx, const struct kbg_listSessions_in *in)
{
	const struct kb_caller	*c;
	char			 limit[24], offset[24], ttl[16];
	const char		*params[5];

	if (!auth_caller_ok(ctx, &c))
		return;
	(void)snprintf(ttl, sizeof(ttl), "%d", kb_config.session_ttl);
	(void)snprintf(limit, sizeof(limit), "%" PRId64,
	    in->has_limit ? in->limit : 100);
	(void)snprintf(offset, sizeof(offset), "%" PRId64,
	    in->has_offset ? in->offset : 0);
	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = limit;
	params[3] = offset;
	params[4] = ttl;
	kb_db_query(ctx, &sessions_list, 5, params, sessions_list_done, NULL);
}

static void
sessions_list_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		respond_session_ended(ctx);
		return;
	}
	kb_respond_text(ctx, 200, "application/json",
	    PQgetvalue(r->res, 0, 1), (size_t)PQgetlength(r->res, 0, 1));
}

/* ---- DELETE /auth/sessions/{id} ---- */

void
kbh_revokeSession(struct kb_ctx *ctx, const struct kbg_revokeSession_in *in)
{
	const struct kb_caller	*c;
	const char		*params[5];

	if (!auth_caller_ok(ctx, &c))
		return;
	if (!auth_is_uuid(in->id)) {
		/* The spec's format: uuid has already refused it. */
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such session");
		return;
	}
	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = in->id;
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &session_revoke, 5, params, session_revoke_done,
	    NULL);
}

static void
session_revoke_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		respond_session_ended(ctx);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 1), "1") != 0) {
		/* Unknown, already revoked, or another user's: all alike. */
		kb_respond_error(ctx, 404, "NOT_FOUND", "no such session");
		return;
	}
	kb_respond_empty(ctx, 204);
}

/* ---- DELETE /auth/sessions ---- */

void
kbh_revokeSessions(struct kb_ctx *ctx,
    const struct kbg_revokeSessions_in *in)
{
	const struct kb_caller	*c;
	const char		*params[5];

	if (!auth_caller_ok(ctx, &c))
		return;
	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = in->has_scope && in->scope != NULL &&
	    strcmp(in->scope, "all") == 0 ? "all" : "others";
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &sessions_revoke, 5, params, sessions_revoke_done,
	    NULL);
}

static void
sessions_revoke_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		respond_session_ended(ctx);
		return;
	}
	kb_respond_empty(ctx, 204);
}

/* ---- POST /auth/reauthenticate ---- */

void
kbh_reauthenticate(struct kb_ctx *ctx, const struct kbg_reauthenticate_in *in)
{
	auth_query_caller(ctx, &reauth_lookup, reauth_found,
	    (void *)(uintptr_t)in);
}

static void
reauth_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kbg_reauthenticate_in	*in = arg;
	const struct kb_caller			*c = kb_ctx_caller(ctx);
	struct pw_work				*w;
	const char				*params[4];
	int					*retry;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		respond_session_ended(ctx);
		return;
	}
	/* Locked by failed sign-ins or reauthentications: no hashing. */
	retry = kb_ctx_alloc(ctx, sizeof(*retry));
	*retry = atoi(PQgetvalue(r->res, 0, 1));
	if (*retry > 0) {
		params[0] = c->sub;
		params[1] = kb_ctx_request_id(ctx);
		params[2] = kb_ctx_client_addr(ctx);
		params[3] = c->sid;
		kb_db_query(ctx, &reauth_locked, 4, params,
		    signin_locked_done, retry);
		return;
	}
	w = pw_new(in, in->body->password);
	w->stored = stored_hash(PQgetvalue(r->res, 0, 0));
	(void)pw_start(ctx, w, pw_verify_fn, reauth_verified);
}

static void
reauth_verified(struct kb_ctx *ctx, void *arg)
{
	struct pw_work		*w = arg;
	const struct kb_caller	*c;
	const char		*params[4];

	if (ctx == NULL) {
		pw_free(w);
		return;
	}
	c = kb_ctx_caller(ctx);
	params[0] = c->sub;
	if (w->rc == KB_PASSWORD_OK) {
		params[1] = c->sid;
		params[2] = kb_ctx_request_id(ctx);
		params[3] = kb_ctx_client_addr(ctx);
		kb_db_query(ctx, &reauth_ok, 4, params, reauth_ok_done, NULL);
	} else {
		auth_log_pw_error("reauthenticate", w->rc);
		params[1] = kb_ctx_request_id(ctx);
		params[2] = kb_ctx_client_addr(ctx);
		params[3] = c->sid;
		kb_db_query(ctx, &reauth_fail, 4, params, reauth_fail_done,
		    NULL);
	}
	pw_free(w);
}

static void
reauth_ok_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		/* The session ended, or the account got locked, meanwhile. */
		respond_session_ended(ctx);
		return;
	}
	kb_respond_json(ctx, 200, json_pack("{s:s}", "reauthenticated_at",
	    PQgetvalue(r->res, 0, 0)));
}

static void
reauth_fail_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	auth_respond_invalid_credentials(ctx);
}

/* ---- GET /auth/csrf ---- */

#define CSRF_PREFIX	"kbcsrf_"
#define CSRF_BYTES	32

void
kbh_getCsrfToken(struct kb_ctx *ctx, const struct kbg_getCsrfToken_in *in)
{
	char	tok[KB_TOKEN_LEN(CSRF_BYTES)];
	char	cookie[sizeof(tok) + 64];

	if (kb_token_new(CSRF_PREFIX, CSRF_BYTES, tok, sizeof(tok)) != 0) {
		kb_log("error", "auth: cannot make a CSRF token");
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		return;
	}
	(void)snprintf(cookie, sizeof(cookie),
	    "kb_csrf=%s; Path=/; SameSite=Strict; HttpOnly", tok);
	kb_header_set(ctx, "Set-Cookie", cookie);
	kb_header_set(ctx, "Cache-Control", "no-store");
	kb_respond_json(ctx, 200, json_pack("{s:s}", "csrf_token", tok));
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(cookie, sizeof(cookie));
}

/* ---- helpers ---- */

static void
respond_session_ended(struct kb_ctx *ctx)
{
	kb_respond_error(ctx, 401, "UNAUTHORIZED",
	    "the session of this access token has ended");
}

/*
 * The spec bounds the password in characters; argon2id and our limit
 * count bytes.  At most KB_PASSWORD_MAX_LEN bytes of UTF-8.
 */
int
auth_password_bytes_ok(struct kb_ctx *ctx, const char *pw)
{
	struct kb_errors	errs;

	if (strlen(pw) <= KB_PASSWORD_MAX_LEN)
		return (1);
	kb_errors_init(&errs);
	kb_errors_add(&errs, "/body/password",
	    "must be at most %d bytes in UTF-8", KB_PASSWORD_MAX_LEN);
	kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
	    "the password is too long", &errs);
	kb_errors_clear(&errs);
	return (0);
}

/* A new refresh token and its hash; 1 when it answered 500. */
int
auth_refresh_new(struct kb_ctx *ctx, char *token, size_t tlen, char *hash,
    size_t hlen)
{
	if (kb_token_new(REFRESH_PREFIX, REFRESH_BYTES, token, tlen) != 0 ||
	    kb_token_hash(token, strlen(token), hash, hlen) != 0) {
		kb_log("error", "auth: cannot make a refresh token");
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		return (1);
	}
	return (0);
}

/*
 * Answer a session from a row (user id, role, session id, user JSON) and
 * the new refresh token: a fresh access token for it, GoTrue's shape.
 */
void
auth_respond_session(struct kb_ctx *ctx, int status, PGresult *res,
    const char *refresh)
{
	int	col;

	/* signup's row starts with the `enabled` flag. */
	col = PQnfields(res) == 5 ? 1 : 0;
	respond_session(ctx, status, PQgetvalue(res, 0, col),
	    PQgetvalue(res, 0, col + 1), PQgetvalue(res, 0, col + 2),
	    PQgetvalue(res, 0, col + 3), refresh);
}

/*
 * A session answer with a tenant-scoped access token: the tenant named by
 * X-FB-Tenant (slug or id), if the user is a member of it (instance
 * administrators: any live tenant).  $1 user, $2 the header.  No row:
 * not a member, or no such tenant.
 */
static struct kb_stmt	session_tenant = KB_STMT_RO(
	"SELECT t.id FROM tenants t WHERE (t.slug = $2::citext"
	" OR t.id::text = lower($2)) AND t.deleted_at IS NULL AND"
	" (EXISTS (SELECT 1 FROM tenant_members m WHERE m.tenant_id = t.id"
	" AND m.user_id = $1::uuid) OR EXISTS (SELECT 1 FROM users u"
	" WHERE u.id = $1::uuid AND u.role IN ('admin', 'instance_admin')))");

struct session_answer {
	int		 status;
	const char	*sub, *role, *sid, *user, *refresh;
};

static void	session_issue(struct kb_ctx *, const struct session_answer *,
		    const char *);
static void	session_tenant_done(struct kb_ctx *, struct kb_db_result *,
		    void *);

static void
respond_session(struct kb_ctx *ctx, int status, const char *sub,
    const char *role, const char *sid, const char *userjson,
    const char *refresh)
{
	struct session_answer	*a;
	const char		*tenant, *v[2];

	a = kb_ctx_alloc(ctx, sizeof(*a));
	a->status = status;
	a->sub = sub;
	a->role = role;
	a->sid = sid;
	a->user = userjson;
	a->refresh = refresh;
	if ((tenant = kb_ctx_header(ctx, "x-fb-tenant")) == NULL ||
	    *tenant == '\0') {
		session_issue(ctx, a, NULL);
		return;
	}
	/* The answer's strings outlive this callback's result. */
	a->sub = kb_ctx_strdup(ctx, sub);
	a->role = kb_ctx_strdup(ctx, role);
	a->sid = kb_ctx_strdup(ctx, sid);
	a->user = kb_ctx_strdup(ctx, userjson);
	a->refresh = kb_ctx_strdup(ctx, refresh);
	v[0] = a->sub;
	v[1] = strlen(tenant) <= 64 ? tenant : "";
	kb_db_query(ctx, &session_tenant, 2, v, session_tenant_done, a);
}

static void
session_tenant_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		/* The session exists; it simply gets no token for this. */
		kb_respond_error(ctx, 403, "TENANT_FORBIDDEN",
		    "no such tenant for this user");
		return;
	}
	session_issue(ctx, arg, PQgetvalue(r->res, 0, 0));
}

static void
session_issue(struct kb_ctx *ctx, const struct session_answer *a,
    const char *tenant)
{
	const struct kb_jwt_config	*cfg = kb_jwt_config();
	struct kb_jwt_claims		 claims;
	json_t				*user;
	json_error_t			 jerr;
	char				*access = NULL;
	time_t				 now = time(NULL);
	int				 rc;

	memset(&claims, 0, sizeof(claims));
	claims.sub = (char *)a->sub;
	claims.role = (char *)a->role;
	claims.sid = (char *)a->sid;
	claims.tenant = (char *)tenant;
	if ((rc = kb_jwt_issue(cfg, &claims, now, &access)) != KB_JWT_OK) {
		kb_log("error", "auth: cannot issue an access token: %s",
		    kb_jwt_strerror(rc));
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		return;
	}
	if ((user = json_loads(a->user, 0, &jerr)) == NULL) {
		free(access);
		kb_log("error", "auth: user JSON: %s", jerr.text);
		kb_respond_error(ctx, 500, "INTERNAL", "internal error");
		return;
	}
	kb_respond_json(ctx, a->status, json_pack("{s:s, s:s, s:I, s:I, s:s,"
	    " s:o}", "access_token", access, "token_type", "bearer",
	    "expires_in", (json_int_t)cfg->ttl,
	    "expires_at", (json_int_t)now + (json_int_t)cfg->ttl,
	    "refresh_token", a->refresh, "user", user));
	free(access);
}

/*
 * The gate has verified the token; its sub and sid are ours, so they are
 * UUIDs, but a token without a sid (or a forged-by-config one) must not
 * reach SQL as a bad uuid.  0 when it answered 401.
 */
int
auth_caller_ok(struct kb_ctx *ctx, const struct kb_caller **cp)
{
	const struct kb_caller	*c = kb_ctx_caller(ctx);

	*cp = c;
	if (c != NULL && auth_is_uuid(c->sub) && auth_is_uuid(c->sid))
		return (1);
	kb_respond_error(ctx, 401, "UNAUTHORIZED",
	    "this operation needs a user access token");
	return (0);
}

void
auth_query_caller(struct kb_ctx *ctx, struct kb_stmt *stmt, kb_db_cb cb,
    void *arg)
{
	const struct kb_caller	*c;
	const char		*params[2];

	if (!auth_caller_ok(ctx, &c))
		return;
	params[0] = c->sub;
	params[1] = c->sid;
	kb_db_query(ctx, stmt, 2, params, cb, arg);
}

void
auth_log_pw_error(const char *what, int rc)
{
	if (rc != KB_PASSWORD_ERR_MISMATCH && rc != KB_PASSWORD_ERR_TOO_LONG)
		kb_log("warning", "%s: password check: %s", what,
		    kb_password_strerror(rc));
}

int
auth_is_uuid(const char *s)
{
	size_t	i;

	if (s == NULL || strlen(s) != 36)
		return (0);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/*
 * A copy of a stored password hash for pw_verify_fn, or NULL for an
 * account without a password ("!", created by an e-mail sign-in, see
 * email.c): it is then checked against the dummy hash and never matches.
 */
static char *
stored_hash(const char *hash)
{
	char	*p;

	if (strcmp(hash, "!") == 0)
		return (NULL);
	if ((p = strdup(hash)) == NULL)
		abort();
	return (p);
}

static struct pw_work *
pw_new(const void *in, const char *password)
{
	struct pw_work	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->password = strdup(password)) == NULL)
		abort();
	w->len = strlen(password);
	w->in = in;
	return (w);
}

static void
pw_free(struct pw_work *w)
{
	explicit_bzero(w->password, w->len);
	free(w->password);
	free(w->stored);
	explicit_bzero(w->hash, sizeof(w->hash));
	free(w);
}

/* 0, or -1 when it answered 503 (the helper queue is full). */
static int
pw_start(struct kb_ctx *ctx, struct pw_work *w, kb_work_fn fn,
    kb_work_done done)
{
	if (kb_work(ctx, fn, done, w) == 0)
		return (0);
	pw_free(w);
	kb_header_set(ctx, "Retry-After", "1");
	kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
	    "the server is busy; retry shortly");
	return (-1);
}

/* Helper thread: hash w->password. */
static void
pw_hash_fn(void *arg)
{
	struct pw_work	*w = arg;

	w->rc = kb_password_hash(w->password, w->len, NULL, w->hash,
	    sizeof(w->hash));
}

/*
 * A hash of a random password made with the default parameters, verified
 * against for addresses without an account: the same argon2id work as a
 * real check, so the answer's timing does not tell them apart.
 */
static char		dummy_hash[KB_PASSWORD_ENCODED_MAX];
static pthread_once_t	dummy_once = PTHREAD_ONCE_INIT;

static void
dummy_init(void)
{
	char	pw[KB_TOKEN_LEN(32)];

	if (kb_token_new("", 32, pw, sizeof(pw)) != 0 ||
	    kb_password_hash(pw, strlen(pw), NULL, dummy_hash,
	    sizeof(dummy_hash)) != 0)
		abort();
	explicit_bzero(pw, sizeof(pw));
}

/* Helper thread: verify w->password against w->stored (or the dummy). */
static void
pw_verify_fn(void *arg)
{
	struct pw_work	*w = arg;

	(void)pthread_once(&dummy_once, dummy_init);
	w->rc = kb_password_verify(w->password, w->len,
	    w->stored != NULL ? w->stored : dummy_hash);
	if (w->stored == NULL)
		w->rc = KB_PASSWORD_ERR_MISMATCH;
	/*
	 * Right password, parameters weaker than today's: hash it again.
	 * (A hash made with stronger parameters is kept.)
	 */
	if (w->rc == KB_PASSWORD_OK && w->want_rehash &&
	    kb_password_below(w->stored, NULL) &&
	    kb_password_hash(w->password, w->len, NULL, w->hash,
	    sizeof(w->hash)) == KB_PASSWORD_OK)
		w->rehashed = 1;
}
