/*
 * E-mail flows (issue 3): address verification, magic links, password
 * reset and one-time sign-in codes (OTP).
 *
 *  - A link token is kb_token_new() output ("kbev_", "kbml_", "kbpr_" and
 *    256 random bits); only its SHA-256 is stored (email_tokens), looked
 *    up by hash, so there is no timing oracle.  An OTP is 6 random digits;
 *    stored as HMAC-SHA256("<email>:<code>") under a pepper derived from
 *    KB_JWT_SECRET, compared in SQL against the address's newest live
 *    code.  Every token is single use, expires (KB_*_TTL) and a new one of
 *    a kind for an address ends the older ones.  An OTP dies after
 *    KB_OTP_MAX_ATTEMPTS wrong codes.
 *  - A request endpoint never tells whether the address has an account:
 *    one statement looks the account up, applies the per-address rate
 *    limit (KB_MAIL_RATE_SECONDS), stores the token and queues the mail
 *    in mail_outbox, and the answer is the same 202 whatever happened.
 *    The mail is composed here (the token exists only in this request),
 *    sealed (seal_body) and delivered by the sender thread
 *    (server/kb_mail.c).
 *  - Magic links and OTPs sign in like a password does: a locked account
 *    is refused, and an account with 2FA on gets the TOTP challenge of
 *    mfa_signin_challenge() instead of tokens, exactly as sign-in.
 *  - KB_AUTH_OTP_CREATE_USER=1 lets OTP and magic-link requests mail any
 *    address; the account is created only when the code or link is used
 *    (which proves the address), with no usable password (set one with a
 *    password reset).  Default 0: unknown addresses get no mail.
 *  - As in auth.c, each change and its audit_log row are one statement.
 */

#define _GNU_SOURCE		/* asprintf */

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"
#include "kb_server.h"
#include "kbg_api.h"
#include "kbg_handlers.h"
#include "auth_int.h"

#define EMAIL_TOKEN_BYTES	32
#define OTP_DIGITS		6
#define SENT_MESSAGE							\
	"If the address can receive it, a mail is on its way."

/* A kind of mail: what it says and how long its token lives. */
struct mail_kind {
	const char	*kind;		/* email_tokens.kind */
	const char	*prefix;	/* link token prefix, NULL: OTP */
	const char	*path;		/* the link's path */
	const char	*subject;
	const char	*intro;
	const char	*outro;
	const int	*ttl;		/* seconds, in kb_config */
	int		 any_address;	/* KB_AUTH_OTP_CREATE_USER applies */
};

static const struct mail_kind	kind_verify = {
	"verify", "kbev_", "/api/v1/auth/verify-email",
	"Confirm your e-mail address",
	"Confirm your e-mail address by opening this link:",
	"If you did not create an account, ignore this mail.",
	&kb_config.verify_ttl, 0
};

static const struct mail_kind	kind_magiclink = {
	"magiclink", "kbml_", "/api/v1/auth/magiclink/verify",
	"Your sign-in link",
	"Sign in by opening this link:",
	"If you did not ask to sign in, ignore this mail.",
	&kb_config.magiclink_ttl, 1
};

static const struct mail_kind	kind_reset = {
	"reset", "kbpr_", "/api/v1/auth/password/reset",
	"Reset your password",
	"Choose a new password by opening this link:",
	"If you did not ask for a new password, ignore this mail; your"
	" password stays as it is.",
	&kb_config.reset_ttl, 0
};

static const struct mail_kind	kind_otp = {
	"otp", NULL, NULL,
	"Your sign-in code",
	"Your sign-in code is:",
	"If you did not ask to sign in, ignore this mail.",
	&kb_config.otp_ttl, 1
};

/*
 * $1 email, $2 kind, $3 token hash, $4 lifetime (s), $5 subject, $6 body,
 * $7 rate limit (s), $8 request id, $9 client address, $10 whether an
 * address without an account gets mail.  One row: mails queued (0 or 1).
 */
static struct kb_stmt	issue_stmt = KB_STMT(
	"WITH u AS (SELECT x.id, x.email FROM users x"
	" WHERE x.email = $1::citext AND ($2::text <> 'verify'"
	" OR x.email_confirmed_at IS NULL)),"
	" who AS (SELECT id, email FROM u UNION ALL"
	" SELECT NULL::uuid, lower($1)::citext WHERE $10::boolean"
	" AND NOT EXISTS (SELECT 1 FROM users x WHERE x.email = $1::citext)),"
	" r AS (INSERT INTO email_send_limits AS l (email, kind)"
	" SELECT email, $2 FROM who ON CONFLICT (email, kind) DO UPDATE"
	" SET sent_at = now() WHERE l.sent_at <= now()"
	" - make_interval(secs => $7::int) RETURNING l.email),"
	" old AS (UPDATE email_tokens SET used_at = now()"
	" WHERE email = $1::citext AND kind = $2 AND used_at IS NULL"
	" AND EXISTS (SELECT 1 FROM r)),"
	" t AS (INSERT INTO email_tokens (user_id, email, kind, token_hash,"
	" expires_at, ip) SELECT who.id, who.email, $2, $3,"
	" now() + make_interval(secs => $4::int), $9 FROM who, r"
	" RETURNING id),"
	" m AS (INSERT INTO mail_outbox (to_addr, subject, body, kind)"
	" SELECT who.email, $5, $6, $2 FROM who, t RETURNING id),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT (SELECT id FROM who),"
	" 'email.' || $2 || '.request', (SELECT id::text FROM who), $8, $9,"
	" jsonb_build_object('email', lower($1), 'sent', EXISTS (SELECT 1"
	" FROM m), 'rate_limited', EXISTS (SELECT 1 FROM who)"
	" AND NOT EXISTS (SELECT 1 FROM r)))"
	" SELECT count(*) FROM m");

/* $1 token hash, $2 request id, $3 client address.  The user JSON. */
static struct kb_stmt	verify_stmt = KB_STMT(
	"WITH t AS (UPDATE email_tokens SET used_at = now()"
	" WHERE token_hash = $1 AND kind = 'verify' AND used_at IS NULL"
	" AND expires_at > now() RETURNING id, user_id, email),"
	" u AS (UPDATE users x SET email_confirmed_at ="
	" coalesce(x.email_confirmed_at, now()) FROM t"
	" WHERE x.id = t.user_id AND x.email = t.email RETURNING x.*),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT t.user_id, CASE WHEN"
	" EXISTS (SELECT 1 FROM u) THEN 'email.verify' ELSE"
	" 'email.verify.stale' END, t.user_id::text, $2, $3,"
	" jsonb_build_object('token_id', t.id) FROM t)"
	" SELECT " USER_JSON " FROM u");

/*
 * The end of a sign-in by e-mail, after a CTE t(id, user_id, email) that
 * used a token up.  Parameters named by the caller: rt refresh token
 * hash, ua user agent, ip client address, rid request id, cr create an
 * account for a token without one.  One row: state ('invalid', 'mfa',
 * 'locked' or 'ok'), user id, role, session id, user JSON.
 */
#define SIGNIN_TAIL(rt, ua, ip, rid, cr, method)			\
	" nu AS (INSERT INTO users (email, password_hash,"		\
	" email_confirmed_at, last_sign_in_at) SELECT t.email, '!', now(),"	\
	" now() FROM t WHERE t.user_id IS NULL AND " cr "::boolean"	\
	" ON CONFLICT (email) DO NOTHING RETURNING *),"			\
	" x AS (SELECT y.id, coalesce(m.enabled, false) AS mfa FROM t"	\
	" JOIN users y ON y.id = t.user_id AND y.email = t.email"		\
	" LEFT JOIN user_mfa m ON m.user_id = y.id),"			\
	" up AS (UPDATE users y SET last_sign_in_at = now(),"		\
	" failed_signins = 0, email_confirmed_at ="			\
	" coalesce(y.email_confirmed_at, now()) FROM x WHERE y.id = x.id"	\
	" AND NOT x.mfa AND (y.locked_until IS NULL"			\
	" OR y.locked_until <= now()) RETURNING y.*),"			\
	" u AS (SELECT * FROM up UNION ALL SELECT * FROM nu),"		\
	" s AS (INSERT INTO sessions (user_id, user_agent, ip)"		\
	" SELECT id, " ua ", " ip " FROM u RETURNING id),"		\
	" rt AS (INSERT INTO refresh_tokens (session_id, token_hash)"	\
	" SELECT id, " rt " FROM s),"					\
	" a AS (INSERT INTO " AUDIT_COLS " SELECT u.id, 'user.signin',"	\
	" u.id::text, " rid ", " ip ", jsonb_build_object('session_id',"	\
	" s.id, 'method', '" method "', 'created', EXISTS (SELECT 1"	\
	" FROM nu)) FROM u, s UNION ALL SELECT t.user_id,"		\
	" 'email." method ".used', t.user_id::text, " rid ", " ip ","	\
	" jsonb_build_object('token_id', t.id, 'outcome', CASE WHEN"	\
	" EXISTS (SELECT 1 FROM u) THEN 'session' WHEN EXISTS (SELECT 1"	\
	" FROM x WHERE mfa) THEN 'mfa' WHEN EXISTS (SELECT 1 FROM x)"	\
	" THEN 'locked' ELSE 'stale' END) FROM t)"			\
	" SELECT CASE WHEN u.id IS NOT NULL THEN 'ok' WHEN x.id IS NULL"	\
	" THEN 'invalid' WHEN x.mfa THEN 'mfa' ELSE 'locked' END,"	\
	" coalesce(u.id, x.id), u.role, s.id, " USER_JSON		\
	" FROM (SELECT 1) one LEFT JOIN x ON true LEFT JOIN u ON true"	\
	" LEFT JOIN s ON true"

/*
 * $1 token hash, $2 refresh token hash, $3 user agent, $4 client
 * address, $5 request id, $6 create an account (KB_AUTH_OTP_CREATE_USER).
 */
static struct kb_stmt	magic_stmt = KB_STMT(
	"WITH t AS (UPDATE email_tokens SET used_at = now()"
	" WHERE token_hash = $1 AND kind = 'magiclink' AND used_at IS NULL"
	" AND expires_at > now() RETURNING id, user_id, email),"
	SIGNIN_TAIL("$2", "$3", "$4", "$5", "$6", "magiclink"));

/*
 * $1 email, $2 code hash, $3 max attempts, $4 refresh token hash, $5
 * user agent, $6 client address, $7 request id, $8 create an account.
 * The address's newest live code is used up when $2 matches; otherwise
 * its attempts grow and the last allowed one kills it.
 */
static struct kb_stmt	otp_stmt = KB_STMT(
	"WITH c AS (SELECT id FROM email_tokens WHERE email = $1::citext"
	" AND kind = 'otp' AND used_at IS NULL AND expires_at > now()"
	" ORDER BY id DESC LIMIT 1),"
	" t AS (UPDATE email_tokens e SET used_at = now() FROM c"
	" WHERE e.id = c.id AND e.token_hash = $2 AND e.used_at IS NULL"
	" AND e.attempts < $3::int RETURNING e.id, e.user_id, e.email),"
	" bad AS (UPDATE email_tokens e SET attempts = e.attempts + 1,"
	" used_at = CASE WHEN e.attempts + 1 >= $3::int THEN now() END"
	" FROM c WHERE e.id = c.id AND e.token_hash <> $2"
	" AND e.used_at IS NULL RETURNING e.id, e.user_id, e.attempts,"
	" e.used_at),"
	" ab AS (INSERT INTO " AUDIT_COLS " SELECT user_id,"
	" 'email.otp.failed', user_id::text, $7, $6, jsonb_build_object("
	" 'token_id', id, 'attempts', attempts, 'dead', used_at IS NOT NULL)"
	" FROM bad),"
	SIGNIN_TAIL("$4", "$5", "$6", "$7", "$8", "otp"));

/* $1 token hash.  A row while the reset token can be used. */
static struct kb_stmt	reset_lookup = KB_STMT_RO(
	"SELECT " TS("t.expires_at") " FROM email_tokens t JOIN users u"
	" ON u.id = t.user_id AND u.email = t.email WHERE t.token_hash = $1"
	" AND t.kind = 'reset' AND t.used_at IS NULL"
	" AND t.expires_at > now()");

/*
 * $1 token hash, $2 new password hash, $3 request id, $4 client address.
 * Uses the token up, sets the password, confirms the address, clears a
 * lock and revokes every session.  One row: 1 if the password changed.
 */
static struct kb_stmt	reset_confirm = KB_STMT(
	"WITH t AS (UPDATE email_tokens SET used_at = now()"
	" WHERE token_hash = $1 AND kind = 'reset' AND used_at IS NULL"
	" AND expires_at > now() RETURNING id, user_id, email),"
	" u AS (UPDATE users x SET password_hash = $2, failed_signins = 0,"
	" locked_until = NULL, email_confirmed_at ="
	" coalesce(x.email_confirmed_at, now()) FROM t"
	" WHERE x.id = t.user_id AND x.email = t.email RETURNING x.id),"
	" s AS (UPDATE sessions SET revoked_at = now() WHERE user_id IN"
	" (SELECT id FROM u) AND revoked_at IS NULL RETURNING id),"
	" r AS (UPDATE refresh_tokens SET revoked = true WHERE session_id IN"
	" (SELECT id FROM sessions WHERE user_id IN (SELECT id FROM u))"
	" AND NOT revoked),"
	" a AS (INSERT INTO " AUDIT_COLS " SELECT t.user_id, CASE WHEN"
	" EXISTS (SELECT 1 FROM u) THEN 'user.password_reset' ELSE"
	" 'user.password_reset.stale' END, t.user_id::text, $3, $4,"
	" jsonb_build_object('token_id', t.id, 'sessions_revoked',"
	" (SELECT count(*) FROM s)) FROM t)"
	" SELECT count(*) FROM u");

/* What a sign-in by e-mail keeps between the query and the answer. */
struct signin_state {
	char		 refresh[KB_TOKEN_LEN(REFRESH_BYTES)];
	const char	*code;		/* error code for 'invalid' */
	const char	*message;
};

/* Password reset confirmation: the new password, hashed off the loop. */
struct reset_work {
	char		*password;
	size_t		 len;
	int		 rc;
	char		 hash[KB_PASSWORD_ENCODED_MAX];
	char		 thash[KB_TOKEN_HASH_LEN];
};

static void	email_request(struct kb_ctx *, const char *,
		    const struct mail_kind *);
static void	issue_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	verify_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	signin_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	reset_verify_done(struct kb_ctx *, struct kb_db_result *,
		    void *);
static void	reset_found(struct kb_ctx *, struct kb_db_result *, void *);
static void	reset_hash_fn(void *);
static void	reset_hashed(struct kb_ctx *, void *);
static void	reset_done(struct kb_ctx *, struct kb_db_result *, void *);
static void	reset_work_free(struct reset_work *);

static void	respond_invalid_token(struct kb_ctx *);
static void	respond_internal(struct kb_ctx *, const char *);
static int	otp_new(char *, size_t);
static int	otp_hash(const char *, const char *, char *, size_t);
static void	ttl_text(int, char *, size_t);
static char	*compose(const struct mail_kind *, const char *);
static char	*seal_body(const char *, char *);

/* ---- mail ---- */

static void
ttl_text(int s, char *buf, size_t len)
{
	if (s % 3600 == 0)
		(void)snprintf(buf, len, "%d hour%s", s / 3600,
		    s == 3600 ? "" : "s");
	else if (s % 60 == 0)
		(void)snprintf(buf, len, "%d minute%s", s / 60,
		    s == 60 ? "" : "s");
	else
		(void)snprintf(buf, len, "%d seconds", s);
}

/*
 * The text of a mail carrying `secret` (a link token or an OTP code).
 * Plain text, CRLF line ends as SMTP wants them.  malloc'd.
 */
static char *
compose(const struct mail_kind *k, const char *secret)
{
	char	*body, ttl[32];
	int	 n;

	ttl_text(*k->ttl, ttl, sizeof(ttl));
	if (k->prefix != NULL)
		n = asprintf(&body, "Hello,\r\n\r\n%s\r\n\r\n%s%s?token=%s\r\n"
		    "\r\nThe link works once and expires in %s.\r\n%s\r\n",
		    k->intro, kb_config.public_url, k->path, secret, ttl,
		    k->outro);
	else
		n = asprintf(&body, "Hello,\r\n\r\n%s %s\r\n\r\nThe code works"
		    " once and expires in %s.\r\n%s\r\n", k->intro, secret,
		    ttl, k->outro);
	if (n == -1)
		abort();
	return (body);
}

/*
 * The body as stored in mail_outbox: sealed (AES-256-GCM, kb_seal) under
 * HMAC-SHA256(KB_JWT_SECRET, "kb-mail-body-key") with the recipient in
 * ASCII lower case (as the row's to_addr will be) as associated data, so
 * the live link or code it carries is not readable from the table.
 * Frees and wipes `body`; the sealed copy is malloc'd, NULL on failure.
 */
static char *
seal_body(const char *email, char *body)
{
	const struct kb_jwt_config	*cfg = kb_jwt_config();
	uint8_t				 key[KB_SEAL_KEY_LEN];
	char				*ad, *out = NULL;
	size_t				 i;

	if ((ad = strdup(email)) == NULL)
		abort();
	for (i = 0; ad[i] != '\0'; i++)
		ad[i] = (char)tolower((unsigned char)ad[i]);
	if (kb_seal_key(cfg->secret, cfg->secret_len, KB_MAIL_KEY_LABEL,
	    key) != KB_SEAL_OK ||
	    kb_seal(key, ad, strlen(ad), body, strlen(body), &out) !=
	    KB_SEAL_OK)
		out = NULL;
	explicit_bzero(key, sizeof(key));
	explicit_bzero(body, strlen(body));
	free(body);
	free(ad);
	return (out);
}

/*
 * For other handlers (tenants.c: invitations): `body` sealed for `to` as
 * mail_outbox stores it.  Frees `body`; NULL on failure.
 */
char *
email_seal(const char *to, char *body)
{
	return (seal_body(to, body));
}

/*
 * For sign-up (auth.c): a new verification token, its hash and the mail
 * text.  Returns the body (malloc'd), or NULL when it answered 500.
 */
char *
email_verify_mail(struct kb_ctx *ctx, const char *email, char *hash,
    size_t hlen, const char **subject)
{
	char	 tok[KB_TOKEN_LEN(EMAIL_TOKEN_BYTES)];
	char	*body;

	if (kb_token_new(kind_verify.prefix, EMAIL_TOKEN_BYTES, tok,
	    sizeof(tok)) != 0 ||
	    kb_token_hash(tok, strlen(tok), hash, hlen) != 0) {
		respond_internal(ctx, "cannot make a verification token");
		return (NULL);
	}
	body = seal_body(email, compose(&kind_verify, tok));
	*subject = kind_verify.subject;
	explicit_bzero(tok, sizeof(tok));
	if (body == NULL)
		respond_internal(ctx, "cannot seal a mail");
	return (body);
}

/* ---- request endpoints: the same 202 whatever happens ---- */

static void
email_request(struct kb_ctx *ctx, const char *email,
    const struct mail_kind *k)
{
	char		 tok[KB_TOKEN_LEN(EMAIL_TOKEN_BYTES)];
	char		 hash[KB_TOKEN_HASH_LEN];
	char		 ttl[16], rate[16];
	char		*body;
	const char	*params[10];
	int		 rc;

	if (k->prefix != NULL)
		rc = kb_token_new(k->prefix, EMAIL_TOKEN_BYTES, tok,
		    sizeof(tok)) != 0 ||
		    kb_token_hash(tok, strlen(tok), hash, sizeof(hash)) != 0;
	else
		rc = otp_new(tok, sizeof(tok)) != 0 ||
		    otp_hash(email, tok, hash, sizeof(hash)) != 0;
	if (rc) {
		respond_internal(ctx, "cannot make an e-mail token");
		return;
	}
	body = seal_body(email, compose(k, tok));
	explicit_bzero(tok, sizeof(tok));
	if (body == NULL) {
		respond_internal(ctx, "cannot seal a mail");
		return;
	}
	(void)snprintf(ttl, sizeof(ttl), "%d", *k->ttl);
	(void)snprintf(rate, sizeof(rate), "%d", kb_config.mail_rate_s);

	params[0] = email;
	params[1] = k->kind;
	params[2] = hash;
	params[3] = ttl;
	params[4] = k->subject;
	params[5] = body;
	params[6] = rate;
	params[7] = kb_ctx_request_id(ctx);
	params[8] = kb_ctx_client_addr(ctx);
	params[9] = k->any_address && kb_config.otp_create_user ? "t" : "f";
	kb_db_query(ctx, &issue_stmt, 10, params, issue_done, NULL);
	free(body);
}

static void
issue_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	kb_respond_json(ctx, 202, json_pack("{s:s}", "message", SENT_MESSAGE));
}

void
kbh_resendVerifyEmail(struct kb_ctx *ctx,
    const struct kbg_resendVerifyEmail_in *in)
{
	email_request(ctx, in->body->email, &kind_verify);
}

void
kbh_requestMagicLink(struct kb_ctx *ctx,
    const struct kbg_requestMagicLink_in *in)
{
	email_request(ctx, in->body->email, &kind_magiclink);
}

void
kbh_requestPasswordReset(struct kb_ctx *ctx,
    const struct kbg_requestPasswordReset_in *in)
{
	email_request(ctx, in->body->email, &kind_reset);
}

void
kbh_otpSignin(struct kb_ctx *ctx, const struct kbg_otpSignin_in *in)
{
	email_request(ctx, in->body->email, &kind_otp);
}

void
kbh_otpResend(struct kb_ctx *ctx, const struct kbg_otpResend_in *in)
{
	email_request(ctx, in->body->email, &kind_otp);
}

/* ---- POST /auth/verify-email ---- */

void
kbh_verifyEmail(struct kb_ctx *ctx, const struct kbg_verifyEmail_in *in)
{
	const char	*tok = in->body->token;
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*params[3];

	if (kb_token_hash(tok, strlen(tok), hash, sizeof(hash)) != 0) {
		respond_internal(ctx, "token hash");
		return;
	}
	params[0] = hash;
	params[1] = kb_ctx_request_id(ctx);
	params[2] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &verify_stmt, 3, params, verify_done, NULL);
}

static void
verify_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!kb_db_respond_row(ctx, r, 200))
		respond_invalid_token(ctx);
}

/* ---- sign-in by magic link or OTP ---- */

static struct signin_state *
signin_state(struct kb_ctx *ctx, char *thash, size_t hlen)
{
	struct signin_state	*st;

	st = kb_ctx_alloc(ctx, sizeof(*st));
	if (auth_refresh_new(ctx, st->refresh, sizeof(st->refresh), thash,
	    hlen))
		return (NULL);
	return (st);
}

void
kbh_verifyMagicLink(struct kb_ctx *ctx,
    const struct kbg_verifyMagicLink_in *in)
{
	const char		*tok = in->body->token;
	struct signin_state	*st;
	char			 hash[KB_TOKEN_HASH_LEN];
	char			 thash[KB_TOKEN_HASH_LEN];
	const char		*params[6];

	if ((st = signin_state(ctx, thash, sizeof(thash))) == NULL)
		return;
	if (kb_token_hash(tok, strlen(tok), hash, sizeof(hash)) != 0) {
		respond_internal(ctx, "token hash");
		return;
	}
	st->code = "INVALID_EMAIL_TOKEN";
	st->message = "the link is invalid, expired or already used";
	params[0] = hash;
	params[1] = thash;
	params[2] = kb_ctx_header(ctx, "user-agent");
	params[3] = kb_ctx_client_addr(ctx);
	params[4] = kb_ctx_request_id(ctx);
	params[5] = kb_config.otp_create_user ? "t" : "f";
	kb_db_query(ctx, &magic_stmt, 6, params, signin_done, st);
}

void
kbh_otpVerify(struct kb_ctx *ctx, const struct kbg_otpVerify_in *in)
{
	struct signin_state	*st;
	char			 hash[KB_TOKEN_HASH_LEN];
	char			 thash[KB_TOKEN_HASH_LEN];
	char			 max[16];
	const char		*params[8];

	if ((st = signin_state(ctx, thash, sizeof(thash))) == NULL)
		return;
	if (otp_hash(in->body->email, in->body->code, hash,
	    sizeof(hash)) != 0) {
		respond_internal(ctx, "code hash");
		return;
	}
	st->code = "INVALID_OTP";
	st->message = "the code is wrong, expired or already used";
	(void)snprintf(max, sizeof(max), "%d", kb_config.otp_max_attempts);
	params[0] = in->body->email;
	params[1] = hash;
	params[2] = max;
	params[3] = thash;
	params[4] = kb_ctx_header(ctx, "user-agent");
	params[5] = kb_ctx_client_addr(ctx);
	params[6] = kb_ctx_request_id(ctx);
	params[7] = kb_config.otp_create_user ? "t" : "f";
	kb_db_query(ctx, &otp_stmt, 8, params, signin_done, st);
}

static void
signin_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct signin_state	*st = arg;
	const char		*state;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	state = PQgetvalue(r->res, 0, 0);
	if (strcmp(state, "ok") == 0) {
		auth_respond_session(ctx, 200, r->res, st->refresh);
	} else if (strcmp(state, "mfa") == 0) {
		/* 2FA on: the same challenge a password sign-in gets. */
		mfa_signin_challenge(ctx, PQgetvalue(r->res, 0, 1));
	} else if (strcmp(state, "locked") == 0) {
		auth_respond_invalid_credentials(ctx);
	} else {
		kb_respond_error(ctx, 400, st->code, "%s", st->message);
	}
	explicit_bzero(st->refresh, sizeof(st->refresh));
}

/* ---- POST /auth/password/reset/verify ---- */

void
kbh_verifyPasswordReset(struct kb_ctx *ctx,
    const struct kbg_verifyPasswordReset_in *in)
{
	const char	*tok = in->body->token;
	char		 hash[KB_TOKEN_HASH_LEN];
	const char	*params[1];

	if (kb_token_hash(tok, strlen(tok), hash, sizeof(hash)) != 0) {
		respond_internal(ctx, "token hash");
		return;
	}
	params[0] = hash;
	kb_db_query(ctx, &reset_lookup, 1, params, reset_verify_done, NULL);
}

static void
reset_verify_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		respond_invalid_token(ctx);
		return;
	}
	kb_header_set(ctx, "Cache-Control", "no-store");
	kb_respond_json(ctx, 200, json_pack("{s:b, s:s}", "valid", 1,
	    "expires_at", PQgetvalue(r->res, 0, 0)));
}

/* ---- POST /auth/password/reset/confirm ---- */

void
kbh_confirmPasswordReset(struct kb_ctx *ctx,
    const struct kbg_confirmPasswordReset_in *in)
{
	const char		*tok = in->body->token;
	struct kb_errors	 errs;
	char			*thash;
	const char		*params[1];

	if (strlen(in->body->password) > KB_PASSWORD_MAX_LEN) {
		kb_errors_init(&errs);
		kb_errors_add(&errs, "/body/password",
		    "must be at most %d bytes in UTF-8", KB_PASSWORD_MAX_LEN);
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
		    "the password is too long", &errs);
		kb_errors_clear(&errs);
		return;
	}
	thash = kb_ctx_alloc(ctx, KB_TOKEN_HASH_LEN);
	if (kb_token_hash(tok, strlen(tok), thash, KB_TOKEN_HASH_LEN) != 0) {
		respond_internal(ctx, "token hash");
		return;
	}
	/*
	 * Check the token first: no argon2id work for a bad one.  The
	 * confirming statement checks it again, atomically.
	 */
	params[0] = thash;
	kb_db_query(ctx, &reset_lookup, 1, params, reset_found,
	    (void *)(uintptr_t)in);
}

static void
reset_found(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	const struct kbg_confirmPasswordReset_in	*in = arg;
	struct reset_work				*w;
	const char					*tok;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		respond_invalid_token(ctx);
		return;
	}
	/* From here on the work owns w (malloc'd, freed by reset_hashed). */
	tok = in->body->token;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->password = strdup(in->body->password)) == NULL)
		abort();
	w->len = strlen(w->password);
	if (kb_token_hash(tok, strlen(tok), w->thash, sizeof(w->thash)) != 0) {
		reset_work_free(w);
		respond_internal(ctx, "token hash");
		return;
	}
	if (kb_work(ctx, reset_hash_fn, reset_hashed, w) != 0) {
		reset_work_free(w);
		kb_header_set(ctx, "Retry-After", "1");
		kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
		    "the server is busy; retry shortly");
	}
}

/* Helper thread. */
static void
reset_hash_fn(void *arg)
{
	struct reset_work	*w = arg;

	w->rc = kb_password_hash(w->password, w->len, NULL, w->hash,
	    sizeof(w->hash));
}

static void
reset_hashed(struct kb_ctx *ctx, void *arg)
{
	struct reset_work	*w = arg;
	const char		*params[4];

	if (ctx == NULL) {
		reset_work_free(w);
		return;
	}
	if (w->rc != KB_PASSWORD_OK) {
		kb_log("error", "password reset: hash failed: %s",
		    kb_password_strerror(w->rc));
		respond_internal(ctx, "password hash");
		reset_work_free(w);
		return;
	}
	params[0] = w->thash;
	params[1] = w->hash;
	params[2] = kb_ctx_request_id(ctx);
	params[3] = kb_ctx_client_addr(ctx);
	kb_db_query(ctx, &reset_confirm, 4, params, reset_done, NULL);
	reset_work_free(w);
}

static void
reset_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "1") != 0) {
		/* Used by a concurrent confirmation meanwhile. */
		respond_invalid_token(ctx);
		return;
	}
	kb_respond_empty(ctx, 204);
}

static void
reset_work_free(struct reset_work *w)
{
	if (w->password != NULL) {
		explicit_bzero(w->password, w->len);
		free(w->password);
	}
	explicit_bzero(w->hash, sizeof(w->hash));
	free(w);
}

/* ---- helpers ---- */

static void
respond_invalid_token(struct kb_ctx *ctx)
{
	kb_respond_error(ctx, 400, "INVALID_EMAIL_TOKEN",
	    "the token is invalid, expired or already used");
}

static void
respond_internal(struct kb_ctx *ctx, const char *what)
{
	kb_log("error", "email: %s failed", what);
	kb_respond_error(ctx, 500, "INTERNAL", "internal error");
}

/* OTP_DIGITS uniformly random decimal digits. */
static int
otp_new(char *out, size_t len)
{
	uint32_t	v;

	do {
		if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
			return (-1);
	} while (v >= 4294000000U);	/* a multiple of 10^6: no bias */
	if (snprintf(out, len, "%06u", (unsigned)(v % 1000000)) !=
	    OTP_DIGITS)
		return (-1);
	return (0);
}

/*
 * HMAC-SHA256 of "<email in ASCII lower case>:<code>" under a pepper
 * derived from the JWT secret (HMAC-SHA256(secret, "kb-otp-pepper")),
 * as lower case hex.
 */
static int
otp_hash(const char *email, const char *code, char *out, size_t len)
{
	const struct kb_jwt_config	*cfg = kb_jwt_config();
	uint8_t				 pepper[32], mac[32];
	unsigned int			 plen = sizeof(pepper);
	unsigned int			 mlen = sizeof(mac);
	char				*msg;
	size_t				 i, n;
	int				 rc = -1;

	if (HMAC(EVP_sha256(), cfg->secret, (int)cfg->secret_len,
	    (const unsigned char *)"kb-otp-pepper", 13, pepper, &plen) == NULL)
		return (-1);
	n = strlen(email) + 1 + strlen(code);
	if ((msg = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; email[i] != '\0'; i++)
		msg[i] = (char)tolower((unsigned char)email[i]);
	msg[i++] = ':';
	memcpy(msg + i, code, strlen(code) + 1);
	if (HMAC(EVP_sha256(), pepper, (int)plen, (unsigned char *)msg, n,
	    mac, &mlen) != NULL && kb_hex_encode(mac, mlen, out, len) > 0)
		rc = 0;
	explicit_bzero(msg, n);
	free(msg);
	explicit_bzero(pepper, sizeof(pepper));
	return (rc);
}
