/*
 * Two-factor authentication (issue 3): TOTP (RFC 6238, kb_totp_*) set up,
 * enabled, disabled and checked at sign-in, with recovery codes.
 *
 *  - The TOTP secret is stored encrypted: AES-256-GCM (OpenSSL EVP) under
 *    a key derived from the server's KB_JWT_SECRET,
 *	HMAC-SHA256(KB_JWT_SECRET, "kb-mfa-secret-key"),
 *    with a random 96-bit nonce and the user id as associated data (a
 *    row copied to another user does not decrypt).  Stored as hex of
 *    nonce | ciphertext | tag.
 *  - Recovery codes are stored as kb_recovery_code_hash() under the pepper
 *	HMAC-SHA256(KB_JWT_SECRET, "kb-recovery-pepper"),
 *    kept out of the database.  Changing KB_JWT_SECRET therefore voids
 *    every TOTP secret and recovery code (users set 2FA up again).
 *  - Each accepted TOTP code's time step is stored (user_mfa.last_step);
 *    kb_totp_verify() never accepts a step <= it, and the statements
 *    repeat the check, so a code works once even under concurrency.
 *  - Sign-in with 2FA on answers a challenge (opaque "kbmfa_...", SHA-256
 *    stored, 5 minutes).  The first /2fa/verify attempt uses it up, right
 *    or wrong: guessing codes costs a password sign-in (with its lockout)
 *    per guess.
 *  - As in auth.c, each change and its audit_log row are one statement.
 *    TOTP and HMAC work is a few microseconds: it runs on the event loop.
 */

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "auth_int.h"

#define MFA_ISSUER		"korebase"
#define CHALLENGE_PREFIX	"kbmfa_"
#define CHALLENGE_BYTES		32
#define CHALLENGE_SECONDS	"300"

#define GCM_NONCE		12
#define GCM_TAG			16
#define SECRET_ENC_LEN		(GCM_NONCE + KB_TOTP_SECRET_LEN + GCM_TAG)
#define SECRET_ENC_HEXLEN	KB_HEX_ENCLEN(SECRET_ENC_LEN)

#define CALLER_ACTIVE							\
	"EXISTS (SELECT 1 FROM sessions WHERE id = $2 AND user_id = $1"	\
	" AND revoked_at IS NULL)"

/*
 * $1 user id, $2 session id, $3 encrypted secret, $4 request id, $5
 * client address.  Stores a new pending secret unless 2FA is on.  One
 * row: session active, secret stored, the e-mail address.
 */
static struct kb_stmt	setup_stmt = KB_STMT(
	"WITH me AS (SELECT " CALLER_ACTIVE " AS ok),"
	" m AS (INSERT INTO user_mfa (user_id, secret_enc) SELECT $1, $3"
	" WHERE (SELECT ok FROM me) ON CONFLICT (user_id) DO UPDATE"
	" SET secret_enc = EXCLUDED.secret_enc, last_step = -1,"
	" created_at = now() WHERE NOT user_mfa.enabled RETURNING user_id),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT user_id, 'mfa.setup',"
	" user_id::text, $4, $5, '{}' FROM m)"
	" SELECT (SELECT ok FROM me), EXISTS (SELECT 1 FROM m),"
	" (SELECT email::text FROM users WHERE id = $1)");

/*
 * $1 user id, $2 session id.  One row: session active, encrypted secret,
 * enabled, last step, unused recovery codes (NULLs without a secret).
 */
static struct kb_stmt	lookup_stmt = KB_STMT_RO(
	"SELECT " CALLER_ACTIVE ", m.secret_enc, m.enabled, m.last_step,"
	" (SELECT count(*) FROM mfa_recovery_codes r WHERE r.user_id = $1"
	" AND r.used_at IS NULL) FROM (SELECT 1) x"
	" LEFT JOIN user_mfa m ON m.user_id = $1");

/*
 * $1 user id, $2 session id, $3 accepted step (NULL: wrong code), $4
 * recovery code hashes (text[]), $5 request id, $6 client address, $7 the
 * encrypted secret the code was checked against.  One row: 1 if enabled.
 */
static struct kb_stmt	enable_stmt = KB_STMT(
	"WITH m AS (UPDATE user_mfa SET enabled = true, enabled_at = now(),"
	" last_step = $3::bigint WHERE user_id = $1 AND NOT enabled"
	" AND secret_enc = $7 AND last_step < $3::bigint AND " CALLER_ACTIVE
	" RETURNING user_id),"
	" d AS (DELETE FROM mfa_recovery_codes WHERE user_id IN"
	" (SELECT user_id FROM m)),"
	" c AS (INSERT INTO mfa_recovery_codes (user_id, code_hash)"
	" SELECT m.user_id, h FROM m, unnest($4::text[]) AS h),"
	" a AS (INSERT INTO " AUDIT_COLS " VALUES ($1::uuid, CASE WHEN"
	" EXISTS (SELECT 1 FROM m) THEN 'mfa.enable' ELSE"
	" 'mfa.enable.failed' END, $1::uuid::text, $5, $6, '{}'))"
	" SELECT count(*) FROM m");

/*
 * $1 user id, $2 session id, $3 accepted TOTP step or NULL, $4 recovery
 * code hash or NULL, $5 request id, $6 client address.  One row: 1 if
 * 2FA was turned off.  A recovery code is used up.
 */
static struct kb_stmt	disable_stmt = KB_STMT(
	"WITH me AS (SELECT EXISTS (SELECT 1 FROM user_mfa WHERE"
	" user_id = $1 AND enabled) AND " CALLER_ACTIVE " AS ok),"
	" rc AS (UPDATE mfa_recovery_codes SET used_at = now()"
	" WHERE user_id = $1 AND code_hash = $4 AND used_at IS NULL"
	" AND (SELECT ok FROM me) RETURNING id),"
	" m AS (DELETE FROM user_mfa WHERE user_id = $1 AND enabled"
	" AND (SELECT ok FROM me) AND (last_step < $3::bigint"
	" OR EXISTS (SELECT 1 FROM rc)) RETURNING user_id),"
	" d AS (DELETE FROM mfa_recovery_codes WHERE user_id IN"
	" (SELECT user_id FROM m) AND id NOT IN (SELECT id FROM rc)),"
	" ch AS (DELETE FROM mfa_challenges WHERE user_id IN"
	" (SELECT user_id FROM m)),"
	" a AS (INSERT INTO " AUDIT_COLS " VALUES ($1::uuid, CASE WHEN"
	" EXISTS (SELECT 1 FROM m) THEN 'mfa.disable' ELSE"
	" 'mfa.disable.failed' END, $1::uuid::text, $5, $6,"
	" jsonb_build_object('method', CASE WHEN $3::bigint IS NOT NULL"
	" THEN 'totp' WHEN $4::text IS NOT NULL THEN 'recovery_code'"
	" END)))"
	" SELECT count(*) FROM m");

/*
 * $1 user id, $2 challenge hash, $3 user agent, $4 client address, $5
 * request id.  The password was right: resets the failure count like a
 * sign-in and stores a challenge.  One row: 1, or 0 when the account got
 * locked meanwhile.
 */
static struct kb_stmt	challenge_stmt = KB_STMT(
	"WITH u AS (UPDATE users SET failed_signins = 0, locked_until = NULL"
	" WHERE id = $1 AND (locked_until IS NULL OR locked_until <= now())"
	" RETURNING id),"
	" c AS (INSERT INTO mfa_challenges (user_id, token_hash, expires_at,"
	" user_agent, ip) SELECT id, $2, now() + interval '"
	CHALLENGE_SECONDS " seconds', $3, $4 FROM u RETURNING id),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT u.id,"
	" 'user.signin.mfa_challenge', u.id::text, $5, $4,"
	" jsonb_build_object('challenge_id', c.id) FROM u, c)"
	" SELECT count(*) FROM c");

/* $1 challenge hash: the live challenge's user, secret and last step. */
static struct kb_stmt	verify_lookup = KB_STMT_RO(
	"SELECT c.user_id, m.secret_enc, m.last_step FROM mfa_challenges c"
	" JOIN user_mfa m ON m.user_id = c.user_id AND m.enabled"
	" WHERE c.token_hash = $1 AND c.used_at IS NULL"
	" AND c.expires_at > now()");

/*
 * $1 challenge hash, $2 accepted TOTP step or NULL, $3 recovery code
 * hash or NULL, $4 new refresh token hash, $5 user agent, $6 client
 * address, $7 request id.  Uses the challenge up whatever the code; a
 * session row (user id, role, session id, user JSON) only on success.
 */
static struct kb_stmt	verify_stmt = KB_STMT(
	"WITH ch AS (UPDATE mfa_challenges SET used_at = now()"
	" WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()"
	" RETURNING id, user_id),"
	" rc AS (UPDATE mfa_recovery_codes r SET used_at = now() FROM ch"
	" WHERE r.user_id = ch.user_id AND r.code_hash = $3"
	" AND r.used_at IS NULL RETURNING r.id),"
	" m AS (UPDATE user_mfa x SET last_step = coalesce($2::bigint,"
	" x.last_step) FROM ch WHERE x.user_id = ch.user_id AND x.enabled"
	" AND (x.last_step < $2::bigint OR EXISTS (SELECT 1 FROM rc))"
	" RETURNING x.user_id),"
	" u AS (UPDATE users SET last_sign_in_at = now() WHERE id IN"
	" (SELECT user_id FROM m) AND (locked_until IS NULL"
	" OR locked_until <= now()) RETURNING *),"
	" s AS (INSERT INTO sessions (user_id, user_agent, ip)"
	" SELECT id, $5, $6 FROM u RETURNING id),"
	" t AS (INSERT INTO refresh_tokens (session_id, token_hash)"
	" SELECT id, $4 FROM s),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT u.id, 'user.signin',"
	" u.id::text, $7, $6, jsonb_build_object('session_id', s.id, 'mfa',"
	" CASE WHEN $2::bigint IS NOT NULL THEN 'totp' ELSE 'recovery_code'"
	" END) FROM u, s UNION ALL SELECT ch.user_id,"
	" 'user.signin.mfa_failed', ch.user_id::text, $7, $6,"
	" jsonb_build_object('challenge_id', ch.id) FROM ch"
	" WHERE NOT EXISTS (SELECT 1 FROM u))"
	" SELECT u.id, u.role, s.id, " USER_JSON " FROM u, s");

static void	setup_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	enable_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	enable_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	disable_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	disable_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	status_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	challenge_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	verify_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	verify_done(struct kb_ctx *, struct kb_db_result *, void *);

static int	derive_key(const char *, uint8_t *);
static int	secret_seal(const char *, const uint8_t *, char *, size_t);
static int	secret_open(const char *, const char *, uint8_t *);
static int	check_code(struct kb_ctx *, const char *, const char *,
		    const char *, int64_t, char *, size_t, char *, size_t);
static void	respond_internal(struct kb_ctx *, const char *);

/* ---- POST /auth/2fa/setup ---- */

void
kbh_mfaSetup(struct kb_ctx *ctx, const struct kbg_mfaSetup_in *in)
{
	const struct kb_caller	*c;
	char			 b32[KB_TOTP_SECRET_B32LEN];
	uint8_t			 key[KB_TOTP_SECRET_LEN];
	char			 enc[SECRET_ENC_HEXLEN];
	const char		*params[5];

	if (!auth_caller_ok(ctx, &c))
		return;
	if (kb_totp_secret_new(b32, sizeof(b32)) != KB_TOTP_OK ||
	    kb_base32_decode(b32, strlen(b32), key, sizeof(key)) !=
	    (int)sizeof(key) ||
	    secret_seal(c->sub, key, enc, sizeof(enc)) != 0) {
		explicit_bzero(key, sizeof(key));
		respond_internal(ctx, "cannot make a TOTP secret");
		return;
	}
	explicit_bzero(key, sizeof(key));
	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = enc;
	params[3] = kb_ctx_request_id(ctx);
	params[4] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &setup_stmt, 5, params, setup_done,
	    kb_ctx_strdup(ctx, b32));
	explicit_bzero(b32, sizeof(b32));
}

static void
setup_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const char	*b32 = arg;
	char		 uri[1024];

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't' || PQgetisnull(r->res, 0, 2)) {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
		return;
	}
	if (PQgetvalue(r->res, 0, 1)[0] != 't') {
		kb_respond_error(ctx, 409, "MFA_ALREADY_ENABLED",
		    "two-factor authentication is already on; disable it "
		    "first");
		return;
	}
	if (kb_totp_uri(MFA_ISSUER, PQgetvalue(r->res, 0, 2), b32, NULL, uri,
	    sizeof(uri)) != KB_TOTP_OK) {
		respond_internal(ctx, "cannot make an otpauth URI");
		return;
	}
	kb_header_set(ctx, "Cache-Control", "no-store");
	kb_respond_json(ctx, 200, json_pack("{s:s, s:s}", "secret", b32,
	    "otpauth_uri", uri));
}

/* ---- POST /auth/2fa/enable ---- */

void
kbh_mfaEnable(struct kb_ctx *ctx, const struct kbg_mfaEnable_in *in)
{
	auth_query_caller(ctx, &lookup_stmt, enable_found,
	    (void *)(uintptr_t)in);
}

static void
enable_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kbg_mfaEnable_in	*in = arg;
	const struct kb_caller		*c = kb_ctx_caller(ctx);
	char				 codes[KB_RECOVERY_CODES]
					    [KB_RECOVERY_CODE_LEN];
	char				 hash[KB_TOKEN_HASH_LEN];
	char				 step[24], *arr, *p;
	uint8_t				 pepper[32];
	const char			*params[7];
	int64_t				 st;
	size_t				 i;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
		return;
	}
	if (PQgetisnull(r->res, 0, 1)) {
		kb_respond_error(ctx, 400, "MFA_NOT_SET_UP",
		    "call /api/v1/auth/2fa/setup first");
		return;
	}
	if (PQgetvalue(r->res, 0, 2)[0] == 't') {
		kb_respond_error(ctx, 409, "MFA_ALREADY_ENABLED",
		    "two-factor authentication is already on");
		return;
	}
	st = strtoll(PQgetvalue(r->res, 0, 3), NULL, 10);
	if (check_code(ctx, c->sub, PQgetvalue(r->res, 0, 1), in->body->code,
	    st, step, sizeof(step), NULL, 0) != 0)
		return;

	/* "{h1,h2,...}": hex only, no quoting needed. */
	arr = kb_ctx_alloc(ctx, KB_RECOVERY_CODES * KB_TOKEN_HASH_LEN + 3);
	p = arr;
	*p++ = '{';
	if (step[0] != '\0') {
		if (kb_recovery_codes_new(codes, KB_RECOVERY_CODES) != 0 ||
		    derive_key("kb-recovery-pepper", pepper) != 0) {
			respond_internal(ctx, "cannot make recovery codes");
			return;
		}
		for (i = 0; i < KB_RECOVERY_CODES; i++) {
			if (kb_recovery_code_hash(codes[i], pepper,
			    sizeof(pepper), hash, sizeof(hash)) != 0) {
				explicit_bzero(pepper, sizeof(pepper));
				respond_internal(ctx, "recovery code hash");
				return;
			}
			if (i > 0)
				*p++ = ',';
			memcpy(p, hash, KB_TOKEN_HASH_LEN - 1);
			p += KB_TOKEN_HASH_LEN - 1;
		}
		explicit_bzero(pepper, sizeof(pepper));
	}
	*p++ = '}';
	*p = '\0';

	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = step[0] != '\0' ? step : NULL;
	params[3] = arr;
	params[4] = kb_ctx_request_id(ctx);
	params[5] = kb_ctx_client_addr(ctx);
	params[6] = PQgetvalue(r->res, 0, 1);
	if (step[0] != '\0') {
		p = kb_ctx_alloc(ctx, sizeof(codes));
		memcpy(p, codes, sizeof(codes));
		explicit_bzero(codes, sizeof(codes));
	} else
		p = NULL;
	kb_db_query(ctx, &enable_stmt, 7, params, enable_done, p);
}

static void
enable_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	char	(*codes)[KB_RECOVERY_CODE_LEN] = arg;
	json_t	*list;
	size_t	 i;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (codes == NULL || strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		kb_respond_error(ctx, 400, "INVALID_MFA_CODE",
		    "the code is not valid");
		return;
	}
	list = json_array();
	for (i = 0; i < KB_RECOVERY_CODES; i++)
		json_array_append_new(list, json_string(codes[i]));
	explicit_bzero(codes, KB_RECOVERY_CODES * KB_RECOVERY_CODE_LEN);
	kb_header_set(ctx, "Cache-Control", "no-store");
	kb_respond_json(ctx, 200, json_pack("{s:b, s:o}", "enabled", 1,
	    "recovery_codes", list));
}

/* ---- POST /auth/2fa/disable ---- */

void
kbh_mfaDisable(struct kb_ctx *ctx, const struct kbg_mfaDisable_in *in)
{
	auth_query_caller(ctx, &lookup_stmt, disable_found,
	    (void *)(uintptr_t)in);
}

static void
disable_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kbg_mfaDisable_in	*in = arg;
	const struct kb_caller		*c = kb_ctx_caller(ctx);
	char				 step[24], hash[KB_TOKEN_HASH_LEN];
	const char			*params[6];

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
		return;
	}
	if (PQgetisnull(r->res, 0, 1) || PQgetvalue(r->res, 0, 2)[0] != 't') {
		kb_respond_error(ctx, 400, "MFA_NOT_ENABLED",
		    "two-factor authentication is not on");
		return;
	}
	if (check_code(ctx, c->sub, PQgetvalue(r->res, 0, 1), in->body->code,
	    strtoll(PQgetvalue(r->res, 0, 3), NULL, 10), step, sizeof(step),
	    hash, sizeof(hash)) != 0)
		return;
	params[0] = c->sub;
	params[1] = c->sid;
	params[2] = step[0] != '\0' ? step : NULL;
	params[3] = hash[0] != '\0' ? hash : NULL;
	params[4] = kb_ctx_request_id(ctx);
	params[5] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &disable_stmt, 6, params, disable_done, NULL);
}

static void
disable_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		kb_respond_error(ctx, 400, "INVALID_MFA_CODE",
		    "the code is not valid");
		return;
	}
	kb_respond_json(ctx, 200, json_pack("{s:b, s:i}", "enabled", 0,
	    "recovery_codes_left", 0));
}

/* ---- GET /auth/2fa/status ---- */

void
kbh_mfaStatus(struct kb_ctx *ctx, const struct kbg_mfaStatus_in *in)
{
	(void)in;
	auth_query_caller(ctx, &lookup_stmt, status_done, NULL);
}

static void
status_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	int	on;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQgetvalue(r->res, 0, 0)[0] != 't') {
		kb_respond_error(ctx, 401, "UNAUTHORIZED",
		    "the session of this access token has ended");
		return;
	}
	on = !PQgetisnull(r->res, 0, 2) && PQgetvalue(r->res, 0, 2)[0] == 't';
	kb_respond_json(ctx, 200, json_pack("{s:b, s:I}", "enabled", on,
	    "recovery_codes_left", on ?
	    (json_int_t)strtoll(PQgetvalue(r->res, 0, 4), NULL, 10) : 0));
}

/* ---- sign-in with 2FA on (called by auth.c) ---- */

void
mfa_signin_challenge(struct kb_ctx *ctx, const char *user_id)
{
	char		 tok[KB_TOKEN_LEN(CHALLENGE_BYTES)];
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*params[5];

	if (kb_token_new(CHALLENGE_PREFIX, CHALLENGE_BYTES, tok,
	    sizeof(tok)) != 0 ||
	    kb_token_hash(tok, strlen(tok), hash, sizeof(hash)) != 0) {
		respond_internal(ctx, "cannot make an MFA challenge");
		return;
	}
	params[0] = user_id;
	params[1] = hash;
	params[2] = kb_ctx_header(ctx, "user-agent");
	params[3] = kb_ctx_client_addr(ctx);
	params[4] = kb_ctx_request_id(ctx);
	kb_db_query(ctx, &challenge_stmt, 5, params, challenge_done,
	    kb_ctx_strdup(ctx, tok));
	explicit_bzero(tok, sizeof(tok));
}

static void
challenge_done(struct kb_ctx *ctx, struct kb_db_result *r, void *tok)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		/* Locked (or deleted) between the lookup and now. */
		auth_respond_invalid_credentials(ctx);
		return;
	}
	kb_header_set(ctx, "Cache-Control", "no-store");
	kb_respond_json(ctx, 200, json_pack("{s:b, s:s}", "mfa_required", 1,
	    "challenge_token", (const char *)tok));
}

/* ---- POST /auth/2fa/verify ---- */

struct verify_state {
	const struct kbg_mfaVerify_in	*in;
	char				 hash[KB_TOKEN_HASH_LEN];
};

void
kbh_mfaVerify(struct kb_ctx *ctx, const struct kbg_mfaVerify_in *in)
{
	const char		*tok = in->body->challenge_token;
	struct verify_state	*v;
	const char		*params[1];

	v = kb_ctx_alloc(ctx, sizeof(*v));
	v->in = in;
	if (kb_token_hash(tok, strlen(tok), v->hash, sizeof(v->hash)) != 0) {
		respond_internal(ctx, "challenge hash");
		return;
	}
	params[0] = v->hash;
	kb_db_query(ctx, &verify_lookup, 1, params, verify_found, v);
}

static void
verify_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct verify_state		*v = arg;
	const struct kbg_mfaVerify_in	*in = v->in;
	const char			*chash = v->hash;
	char				 step[24], hash[KB_TOKEN_HASH_LEN];
	char				 token[KB_TOKEN_LEN(REFRESH_BYTES)];
	char				 thash[KB_TOKEN_HASH_LEN];
	const char			*params[7];

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		kb_respond_error(ctx, 401, "INVALID_MFA_CHALLENGE",
		    "the challenge is unknown, used or expired; sign in "
		    "again");
		return;
	}
	if (check_code(ctx, PQgetvalue(r->res, 0, 0), PQgetvalue(r->res, 0, 1),
	    in->body->code, strtoll(PQgetvalue(r->res, 0, 2), NULL, 10),
	    step, sizeof(step), hash, sizeof(hash)) != 0)
		return;
	if (auth_refresh_new(ctx, token, sizeof(token), thash, sizeof(thash)))
		return;
	params[0] = chash;
	params[1] = step[0] != '\0' ? step : NULL;
	params[2] = hash[0] != '\0' ? hash : NULL;
	params[3] = thash;
	params[4] = kb_ctx_header(ctx, "user-agent");
	params[5] = kb_ctx_client_addr(ctx);
	params[6] = kb_ctx_request_id(ctx);
	kb_db_query(ctx, &verify_stmt, 7, params, verify_done,
	    kb_ctx_strdup(ctx, token));
	explicit_bzero(token, sizeof(token));
}

static void
verify_done(struct kb_ctx *ctx, struct kb_db_result *r, void *token)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		kb_respond_error(ctx, 401, "INVALID_MFA_CODE",
		    "the code is not valid; sign in again");
		return;
	}
	auth_respond_session(ctx, 200, r->res, token);
}

/* ---- helpers ---- */

static void
respond_internal(struct kb_ctx *ctx, const char *what)
{
	kb_log("error", "mfa: %s", what);
	kb_respond_error(ctx, 500, "INTERNAL", "internal error");
}

/*
 * Checks `code` against the user's encrypted secret: a 6-digit code as
 * TOTP (the accepted step into `step`), anything else as a recovery code
 * (its hash into `hash`, when hash is not NULL).  A wrong code leaves
 * both empty: the statement then fails and audits the attempt.  0, or -1
 * when it answered 500.
 */
static int
check_code(struct kb_ctx *ctx, const char *user_id, const char *enc,
    const char *code, int64_t last_step, char *step, size_t steplen,
    char *hash, size_t hashlen)
{
	uint8_t	key[KB_TOTP_SECRET_LEN], pepper[32];
	int64_t	st;
	size_t	i, n = strlen(code);
	int	digits = n == 6;

	step[0] = '\0';
	if (hash != NULL)
		hash[0] = '\0';
	for (i = 0; i < n && digits; i++)
		digits = isdigit((unsigned char)code[i]) != 0;
	if (digits) {
		if (secret_open(user_id, enc, key) != 0) {
			respond_internal(ctx, "cannot decrypt a TOTP secret "
			    "(KB_JWT_SECRET changed?)");
			return (-1);
		}
		if (kb_totp_verify(key, sizeof(key), NULL, code, time(NULL),
		    last_step, &st) == KB_TOTP_OK)
			(void)snprintf(step, steplen, "%" PRId64, st);
		explicit_bzero(key, sizeof(key));
		return (0);
	}
	if (hash == NULL)
		return (0);
	if (derive_key("kb-recovery-pepper", pepper) != 0) {
		respond_internal(ctx, "cannot derive the recovery pepper");
		return (-1);
	}
	if (kb_recovery_code_hash(code, pepper, sizeof(pepper), hash,
	    hashlen) != KB_TOKEN_OK)
		hash[0] = '\0';
	explicit_bzero(pepper, sizeof(pepper));
	return (0);
}

/* HMAC-SHA256(KB_JWT_SECRET, label) into out[32]. */
static int
derive_key(const char *label, uint8_t *out)
{
	const struct kb_jwt_config	*cfg = kb_jwt_config();
	unsigned int			 len = 32;

	if (cfg == NULL || cfg->secret == NULL ||
	    HMAC(EVP_sha256(), cfg->secret, (int)cfg->secret_len,
	    (const unsigned char *)label, strlen(label), out, &len) == NULL ||
	    len != 32)
		return (-1);
	return (0);
}

/* AES-256-GCM of the raw secret, AAD the user id; hex into `out`. */
static int
secret_seal(const char *user_id, const uint8_t *secret, char *out,
    size_t outlen)
{
	EVP_CIPHER_CTX	*c;
	uint8_t		 key[32], buf[SECRET_ENC_LEN];
	int		 n, ok = 0;

	if (derive_key("kb-mfa-secret-key", key) != 0 ||
	    RAND_bytes(buf, GCM_NONCE) != 1)
		return (-1);
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		explicit_bzero(key, sizeof(key));
		return (-1);
	}
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
	    EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)user_id,
	    (int)strlen(user_id)) == 1 &&
	    EVP_EncryptUpdate(c, buf + GCM_NONCE, &n, secret,
	    KB_TOTP_SECRET_LEN) == 1 && n == KB_TOTP_SECRET_LEN &&
	    EVP_EncryptFinal_ex(c, buf + GCM_NONCE + n, &n) == 1 && n == 0 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG,
	    buf + GCM_NONCE + KB_TOTP_SECRET_LEN) == 1)
		ok = kb_hex_encode(buf, sizeof(buf), out, outlen) ==
		    2 * SECRET_ENC_LEN;
	EVP_CIPHER_CTX_free(c);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(buf, sizeof(buf));
	return (ok ? 0 : -1);
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	return (-1);
}

/* Decrypts secret_seal()'s output into secret[KB_TOTP_SECRET_LEN]. */
static int
secret_open(const char *user_id, const char *hex, uint8_t *secret)
{
	EVP_CIPHER_CTX	*c;
	uint8_t		 key[32], buf[SECRET_ENC_LEN];
	size_t		 i;
	int		 n, hi, lo, ok = 0;

	if (strlen(hex) != 2 * SECRET_ENC_LEN)
		return (-1);
	for (i = 0; i < SECRET_ENC_LEN; i++) {
		if ((hi = hexval(hex[2 * i])) < 0 ||
		    (lo = hexval(hex[2 * i + 1])) < 0)
			return (-1);
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	if (derive_key("kb-mfa-secret-key", key) != 0)
		return (-1);
	if ((c = EVP_CIPHER_CTX_new()) == NULL) {
		explicit_bzero(key, sizeof(key));
		return (-1);
	}
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, buf) == 1 &&
	    EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)user_id,
	    (int)strlen(user_id)) == 1 &&
	    EVP_DecryptUpdate(c, secret, &n, buf + GCM_NONCE,
	    KB_TOTP_SECRET_LEN) == 1 && n == KB_TOTP_SECRET_LEN &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG,
	    buf + GCM_NONCE + KB_TOTP_SECRET_LEN) == 1 &&
	    EVP_DecryptFinal_ex(c, secret + n, &n) == 1)
		ok = 1;
	EVP_CIPHER_CTX_free(c);
	explicit_bzero(key, sizeof(key));
	if (!ok)
		explicit_bzero(secret, KB_TOTP_SECRET_LEN);
	return (ok ? 0 : -1);
}
