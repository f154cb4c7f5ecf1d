/*
 * korebase auth: the pure-C security core of identity and access.
 *
 * Password hashing (argon2id, PHC strings), HS256 access tokens (libjwt),
 * TOTP second factors (RFC 6238), opaque tokens, recovery codes and the
 * codecs they need.  Nothing here includes a Kore or libpq header and
 * nothing keeps state between calls: every function is reentrant and safe
 * to call from any thread (Kore tasks), given that OpenSSL 3 is.
 *
 * Conventions:
 *  - Functions that can fail return 0 (a *_OK constant) on success and a
 *    positive module error code otherwise; a caller maps codes to HTTP
 *    statuses in one place.
 *  - Fixed-size outputs are written into caller buffers whose size is
 *    passed in; a buffer that is too small is an error, never a truncation.
 *  - Heap results say so in their comment, with the function that frees
 *    them.  Allocation failure aborts, as Kore's wrappers do.
 *  - `now` is always a parameter, so tests control the clock.
 */

#ifndef KB_AUTH_H
#define KB_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Constant time helpers and codecs (kb_codec.c).
 */

/*
 * 1 when a[0..alen) equals b[0..blen), else 0.  The time taken depends on
 * the lengths only, never on the contents: lengths must not be secret
 * (they are fixed for every caller here: digests, codes, signatures).
 */
int	kb_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Output sizes, including the terminating NUL. */
#define KB_BASE32_ENCLEN(n)	((((n) * 8) + 4) / 5 + 1)
#define KB_BASE64_ENCLEN(n)	((((n) * 4) + 2) / 3 + 1)
#define KB_HEX_ENCLEN(n)	((n) * 2 + 1)

/*
 * RFC 4648 base32, upper case, no padding.  Encode writes a NUL-terminated
 * string and returns its length, or -1 when `outlen` is too small.
 */
int	kb_base32_encode(const uint8_t *in, size_t len, char *out,
	    size_t outlen);

/*
 * Decode RFC 4648 base32.  Accepts either case and no padding; rejects any
 * other character, '=' included, an impossible length and non-zero
 * trailing bits (so one secret has exactly one spelling).  Returns the
 * number of bytes written or -1.
 */
int	kb_base32_decode(const char *in, size_t len, uint8_t *out,
	    size_t outlen);

/*
 * RFC 4648 base64 without padding; `url` selects the URL-safe alphabet
 * (section 5) instead of the standard one (section 4).  Same return
 * convention and strictness as the base32 pair.
 */
int	kb_base64_encode(const uint8_t *in, size_t len, int url, char *out,
	    size_t outlen);
int	kb_base64_decode(const char *in, size_t len, int url, uint8_t *out,
	    size_t outlen);

/* Lower case hex; same return convention. */
int	kb_hex_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/*
 * Passwords (kb_password.c): argon2id in the PHC string format
 *	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
 * so each hash carries its own parameters and they can be raised later.
 */

#define KB_PASSWORD_MIN_LEN		8
#define KB_PASSWORD_MAX_LEN		1024
#define KB_PASSWORD_SALT_LEN		16
#define KB_PASSWORD_HASH_LEN		32
/* Enough for the largest parameters kb_password_hash() accepts. */
#define KB_PASSWORD_ENCODED_MAX		160

struct kb_password_params {
	uint32_t	m_kib;		/* memory, KiB */
	uint32_t	t;		/* passes */
	uint32_t	p;		/* lanes */
};

/* OWASP's argon2id baseline (2023): 19 MiB, 2 passes, 1 lane. */
#define KB_PASSWORD_PARAMS_DEFAULT	{ 19456, 2, 1 }

/* Accepted parameter ranges, for hashing and for stored hashes. */
#define KB_PASSWORD_M_MIN		8192		/* 8 MiB */
#define KB_PASSWORD_M_MAX		(1024 * 1024)	/* 1 GiB */
#define KB_PASSWORD_T_MAX		64
#define KB_PASSWORD_P_MAX		16

enum {
	KB_PASSWORD_OK = 0,
	KB_PASSWORD_ERR_TOO_SHORT,	/* shorter than KB_PASSWORD_MIN_LEN */
	KB_PASSWORD_ERR_TOO_LONG,	/* longer than KB_PASSWORD_MAX_LEN */
	KB_PASSWORD_ERR_MISMATCH,	/* verify: wrong password */
	KB_PASSWORD_ERR_FORMAT,		/* stored string is not ours */
	KB_PASSWORD_ERR_PARAMS,		/* parameters out of range */
	KB_PASSWORD_ERR_BUFFER,		/* output buffer too small */
	KB_PASSWORD_ERR_INTERNAL	/* RNG or argon2 failure */
};

/*
 * Hash `pw` (len bytes, any content) with a fresh random salt and write the
 * NUL-terminated PHC string into `out` (KB_PASSWORD_ENCODED_MAX is always
 * enough).  `params` NULL means the defaults.  Costs one full argon2id run:
 * call it off the event loop.
 */
int	kb_password_hash(const char *pw, size_t len,
	    const struct kb_password_params *params, char *out, size_t outlen);

/*
 * Check `pw` against a PHC string from kb_password_hash().  Returns
 * KB_PASSWORD_OK or KB_PASSWORD_ERR_MISMATCH; the digests are compared in
 * constant time.  Only the upper length limit applies here (a DoS bound),
 * so raising the minimum later does not lock anybody out; an empty
 * password is TOO_SHORT.  A stored string that is not argon2id v=19, or
 * whose parameters exceed the KB_PASSWORD_*_MAX bounds, is ERR_FORMAT:
 * a row never makes us allocate unbounded memory.  Weaker stored
 * parameters still verify (then needs_rehash says 1).
 */
int	kb_password_verify(const char *pw, size_t len, const char *encoded);

/*
 * 1 when `encoded` was not made with exactly `params` (NULL: defaults) and
 * our salt and digest sizes, or cannot be parsed: the caller should hash
 * the password again after a successful verify.  0 otherwise.
 */
int	kb_password_needs_rehash(const char *encoded,
	    const struct kb_password_params *params);

/*
 * 1 when `encoded` is weaker than `params` (NULL: defaults): less memory
 * or fewer passes, or a shorter salt or digest than ours, or it cannot be
 * parsed.  Sign-in rehashes these; a hash made with stronger parameters
 * (0 here, 1 from needs_rehash) is kept.
 */
int	kb_password_below(const char *encoded,
	    const struct kb_password_params *params);

/* A short, static English description of a KB_PASSWORD_* code. */
const char	*kb_password_strerror(int);

/*
 * Access tokens (kb_jwt.c): HS256 JWTs, issued and verified with libjwt.
 */

#define KB_JWT_SECRET_MIN	32		/* bytes: 256 bits for HS256 */
#define KB_JWT_MAX_LEN		8192		/* longer tokens are refused */
#define KB_JWT_LEEWAY		30		/* seconds of clock skew */

struct kb_jwt_config {
	const uint8_t	*secret;
	size_t		secret_len;
	const char	*issuer;	/* iss, required, compared exactly */
	const char	*audience;	/* aud, required, compared exactly */
	int64_t		ttl;		/* issue: lifetime in seconds, > 0 */
};

/*
 * Claims.  For kb_jwt_issue() the strings are borrowed from the caller;
 * kb_jwt_verify() fills one with heap copies that the caller releases
 * with kb_jwt_claims_free().
 */
struct kb_jwt_claims {
	char		*sub;		/* subject: user id */
	char		*role;
	char		*sid;		/* session id */
	char		*tenant;	/* NULL when absent */
	char		*jti;		/* issue: NULL makes a random one */
	int64_t		iat;
	int64_t		exp;
};

enum {
	KB_JWT_OK = 0,
	KB_JWT_EXPIRED,			/* valid but exp has passed */
	KB_JWT_ERR_MALFORMED,		/* not three base64url JSON parts */
	KB_JWT_ERR_OVERSIZE,		/* longer than KB_JWT_MAX_LEN */
	KB_JWT_ERR_ALG,			/* header alg is not HS256 */
	KB_JWT_ERR_SIGNATURE,		/* HMAC does not match */
	KB_JWT_ERR_NOT_YET_VALID,	/* nbf or iat beyond the leeway */
	KB_JWT_ERR_ISSUER,		/* iss missing or different */
	KB_JWT_ERR_AUDIENCE,		/* aud missing or different */
	KB_JWT_ERR_CLAIMS,		/* required claim missing or mistyped */
	KB_JWT_ERR_SECRET,		/* secret shorter than the minimum */
	KB_JWT_ERR_ARGS,		/* issue: bad config or claims */
	KB_JWT_ERR_INTERNAL		/* libjwt or RNG failure */
};

/* 1 when a secret of `len` bytes is acceptable for HS256, else 0. */
int	kb_jwt_secret_ok(const uint8_t *secret, size_t len);

/*
 * Issue a token for `claims` (sub, role and sid required, tenant and jti
 * optional; iat and exp are ignored and set from `now` and cfg->ttl).
 * On success *out is a NUL-terminated heap string the caller frees with
 * free(); on failure *out is NULL.
 */
int	kb_jwt_issue(const struct kb_jwt_config *cfg,
	    const struct kb_jwt_claims *claims, time_t now, char **out);

/*
 * Verify `token` (NUL-terminated) at time `now`: alg pinned to HS256,
 * signature, iss, aud, exp, nbf/iat (KB_JWT_LEEWAY), and the presence and
 * type of sub, role, sid, jti, iat and exp.  On KB_JWT_OK `claims` holds
 * heap copies (free with kb_jwt_claims_free()); on any other result it is
 * zeroed and owns nothing.  KB_JWT_EXPIRED is only returned for a token
 * that is otherwise entirely valid.
 */
int	kb_jwt_verify(const struct kb_jwt_config *cfg, const char *token,
	    time_t now, struct kb_jwt_claims *claims);

/* Frees what kb_jwt_verify() put in `claims` and zeroes it.  NULL is ok. */
void	kb_jwt_claims_free(struct kb_jwt_claims *claims);

const char	*kb_jwt_strerror(int);

/*
 * One-time passwords (kb_totp.c): HOTP (RFC 4226) and TOTP (RFC 6238).
 */

enum kb_totp_alg {
	KB_TOTP_SHA1 = 0,
	KB_TOTP_SHA256,
	KB_TOTP_SHA512
};

struct kb_totp_params {
	enum kb_totp_alg	alg;
	int			digits;		/* 6..8 */
	int			period;		/* seconds, > 0 */
	int			window;		/* steps either side, 0..10 */
};

/* What every authenticator app supports: SHA1, 6 digits, 30 s, +-1. */
#define KB_TOTP_PARAMS_DEFAULT	{ KB_TOTP_SHA1, 6, 30, 1 }

#define KB_TOTP_SECRET_LEN	20		/* bytes, RFC 4226 advice */
#define KB_TOTP_SECRET_B32LEN	KB_BASE32_ENCLEN(KB_TOTP_SECRET_LEN)

enum {
	KB_TOTP_OK = 0,
	KB_TOTP_ERR_MISMATCH,		/* no step in the window matches */
	KB_TOTP_ERR_REPLAY,		/* only an already used step matches */
	KB_TOTP_ERR_FORMAT,		/* code is not `digits` digits */
	KB_TOTP_ERR_ARGS,		/* bad key, parameters or buffer */
	KB_TOTP_ERR_INTERNAL		/* HMAC or RNG failure */
};

/*
 * HOTP value of `counter` under `key`, truncated to `digits` (6..8) into
 * *code.  Returns KB_TOTP_OK or KB_TOTP_ERR_ARGS / ERR_INTERNAL.
 */
int	kb_hotp(const uint8_t *key, size_t keylen, uint64_t counter,
	    enum kb_totp_alg alg, int digits, uint32_t *code);

/*
 * TOTP time step of `t` (T0 = 0): floor(t / period).  -1 for t < 0 or a
 * bad period.
 */
int64_t	kb_totp_step(time_t t, int period);

/*
 * Writes the zero-padded TOTP code for time `t` into `out` (at least
 * digits + 1 bytes).  For tests and enrolment screens.
 */
int	kb_totp_code(const uint8_t *key, size_t keylen,
	    const struct kb_totp_params *params, time_t t, char *out,
	    size_t outlen);

/*
 * Check a user-supplied `code` at time `now` against every step within
 * params->window of the current one (NULL params: defaults).  Every
 * candidate is computed and compared in constant time; no early exit.
 * Steps <= `last_step` (the step of the last accepted code, -1 if none)
 * never match, so a code cannot be replayed: on KB_TOTP_OK *step is the
 * matched step, which the caller stores as the new `last_step`.
 */
int	kb_totp_verify(const uint8_t *key, size_t keylen,
	    const struct kb_totp_params *params, const char *code, time_t now,
	    int64_t last_step, int64_t *step);

/*
 * A fresh random secret of KB_TOTP_SECRET_LEN bytes, written base32
 * encoded into `out` (KB_TOTP_SECRET_B32LEN bytes).
 */
int	kb_totp_secret_new(char *out, size_t outlen);

/*
 * The provisioning URI for authenticator apps:
 *   otpauth://totp/Issuer:account?secret=...&issuer=...&algorithm=SHA1
 *   &digits=6&period=30
 * `issuer` and `account` are percent-encoded (RFC 3986 unreserved set
 * kept); neither may be empty or contain ':'.  `secret_b32` must be valid
 * base32.  Writes a NUL-terminated string into `out`.
 */
int	kb_totp_uri(const char *issuer, const char *account,
	    const char *secret_b32, const struct kb_totp_params *params,
	    char *out, size_t outlen);

const char	*kb_totp_strerror(int);

/*
 * Opaque tokens and recovery codes (kb_token.c).
 */

#define KB_TOKEN_MIN_BYTES	32
#define KB_TOKEN_PREFIX_MAX	16
/* Buffer size for kb_token_new() with `bytes` random bytes. */
#define KB_TOKEN_LEN(bytes)	(KB_TOKEN_PREFIX_MAX + \
				    KB_BASE64_ENCLEN(bytes))
#define KB_TOKEN_HASH_LEN	65		/* hex SHA-256 + NUL */

#define KB_RECOVERY_CODE_LEN	10		/* "xxxx-xxxx" + NUL */
#define KB_RECOVERY_CODES	10
#define KB_RECOVERY_PEPPER_MIN	32		/* bytes */

enum {
	KB_TOKEN_OK = 0,
	KB_TOKEN_ERR_ARGS,		/* bad prefix, size or buffer */
	KB_TOKEN_ERR_FORMAT,		/* recovery code not well formed */
	KB_TOKEN_ERR_INTERNAL		/* RNG or digest failure */
};

/*
 * A new token: `prefix` ([a-z0-9_], at most KB_TOKEN_PREFIX_MAX bytes,
 * may be empty) followed by base64url of `bytes` (>= KB_TOKEN_MIN_BYTES)
 * random bytes, e.g. "kbsk_" + 43 characters.  Written NUL-terminated into
 * `out`.  Only the kb_token_hash() of it should be stored.
 */
int	kb_token_new(const char *prefix, size_t bytes, char *out,
	    size_t outlen);

/*
 * Lower case hex SHA-256 of token[0..len) into `out` (KB_TOKEN_HASH_LEN).
 * Looking tokens up by this hash is timing safe: an attacker controls the
 * token, not the hash the database index compares.
 */
int	kb_token_hash(const char *token, size_t len, char *out,
	    size_t outlen);

/*
 * `n` recovery codes "xxxx-xxxx" from the Crockford base32 alphabet
 * (digits and lower case letters without i, l, o, u; 40 bits each) into
 * codes[0..n), each KB_RECOVERY_CODE_LEN bytes.
 */
int	kb_recovery_codes_new(char (*codes)[KB_RECOVERY_CODE_LEN], size_t n);

/*
 * HMAC-SHA256 of a normalized recovery code under `pepper`, a server
 * secret of at least KB_RECOVERY_PEPPER_MIN bytes kept out of the
 * database (40-bit codes are too short for a plain digest to resist an
 * offline search), as hex into `out`
 * (KB_TOKEN_HASH_LEN).  Normalization makes what a user types match:
 * case, spaces and '-' are ignored and o->0, i/l->1.  KB_TOKEN_ERR_FORMAT
 * unless exactly 8 alphabet characters remain.
 */
int	kb_recovery_code_hash(const char *code, const uint8_t *pepper,
	    size_t pepperlen, char *out, size_t outlen);

/*
 * Key scopes (kb_scope.c).  A scope is "*", or "area:action" where area
 * and action are [a-z_]{1,32} and action may be "*" ("tables:read",
 * "storage:*").  A key's scope covers an operation's when they are equal,
 * when the key's is "*", or when the key's is "area:*" and the
 * operation's is in that area.
 */
int	kb_scope_valid(const char *scope);
int	kb_scope_covers(const char *have, const char *want);

/*
 * Small secrets at rest (kb_seal.c): AES-256-GCM, a random 96-bit nonce,
 * associated data bound in.  Sealed form: "kbs1." base64url(nonce |
 * ciphertext | tag).
 */

#define KB_SEAL_KEY_LEN		32

enum {
	KB_SEAL_OK = 0,
	KB_SEAL_ERR_ARGS,		/* bad sizes or NULLs */
	KB_SEAL_ERR_FORMAT,		/* not a sealed string */
	KB_SEAL_ERR_AUTH,		/* wrong key, data or associated data */
	KB_SEAL_ERR_INTERNAL		/* RNG or cipher failure */
};

/* key = HMAC-SHA256(secret, label). */
int	kb_seal_key(const uint8_t *secret, size_t len, const char *label,
	    uint8_t key[KB_SEAL_KEY_LEN]);

/* Seal in[0..len) (at most 1 MiB); *out is a heap string (free()). */
int	kb_seal(const uint8_t key[KB_SEAL_KEY_LEN], const void *ad,
	    size_t adlen, const void *in, size_t len, char **out);

/*
 * Open a sealed string; on KB_SEAL_OK *out is a heap buffer of *outlen
 * bytes plus a NUL (free()), else NULL.
 */
int	kb_open(const uint8_t key[KB_SEAL_KEY_LEN], const void *ad,
	    size_t adlen, const char *sealed, char **out, size_t *outlen);

#endif /* !KB_AUTH_H */
