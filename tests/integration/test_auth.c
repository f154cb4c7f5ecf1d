/*
 * Integration tests of users and tokens (/api/v1/auth), against the real
 * server and PostgreSQL started by tests/integration/run.sh (BASE_URL,
 * DATABASE_URL, KB_JWT_SECRET).  Tokens the server would never issue
 * (expired, tampered, alg none, other roles) are built here with OpenSSL.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "http.h"

#define PW	"correct horse battery"

/* ---- helpers ---- */

static long
req(const char *method, const char *path, const char *bearer,
    const char *body, struct resp *r)
{
	char		 auth[8300];
	const char	*h[3] = { "Content-Type: application/json", NULL, NULL };

	if (bearer != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    bearer);
		h[1] = auth;
	}
	return (http(method, path, h, body, body ? strlen(body) : 0, r));
}

/* A session object: copies of its tokens and user id. */
static void
signin_ok(const char *email, const char *pw, struct sess *s)
{
	struct resp	r;

	if (signin(email, pw, &r) != 200)
		fprintf(stderr, "signin %s: %ld %s\n", email, r.status, r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, s);
	resp_free(&r);
}

static long
refresh(const char *token, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
	return (http_post_as("/api/v1/auth/refresh", NULL, body, r));
}

static long
get_user(const char *bearer, struct resp *r)
{
	return (req("GET", "/api/v1/auth/user", bearer, NULL, r));
}

/* The first line of psql's unaligned output for `sql`, into buf. */
static char *
psql_value(const char *sql, char *buf, size_t len)
{
	assert_int_equal(sql_value(sql, buf, len), 0);
	return (buf);
}

static long
psql_count(const char *fmt, ...)
{
	char	sql[2048], buf[64];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return (strtol(psql_value(sql, buf, sizeof(buf)), NULL, 10));
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

/* base64url without padding. */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	size_t	i, j;
	int	n;

	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (i = 0, j = 0; i < (size_t)n; i++) {
		if (out[i] == '=')
			break;
		out[j++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	}
	out[j] = '\0';
}

/*
 * A token with `header` and `claims` (JSON), signed with HS256 and
 * KB_JWT_SECRET (or unsigned when `sign` is 0: "header.claims.").
 */
static void
forge(const char *header, json_t *claims, int sign, char *out, size_t len)
{
	char		 h[512], c[4096], sig[128];
	char		*cj;
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	const char	*secret = getenv("KB_JWT_SECRET");

	assert_non_null(secret);
	b64url((const unsigned char *)header, strlen(header), h);
	cj = json_dumps(claims, JSON_COMPACT);
	b64url((const unsigned char *)cj, strlen(cj), c);
	free(cj);
	snprintf(out, len, "%s.%s", h, c);
	sig[0] = '\0';
	if (sign) {
		HMAC(EVP_sha256(), secret, (int)strlen(secret),
		    (unsigned char *)out, strlen(out), mac, &maclen);
		b64url(mac, maclen, sig);
	}
	snprintf(out + strlen(out), len - strlen(out), ".%s", sig);
}

static void
assert_unauthorized(struct resp *r)
{
	char	h[128];

	assert_int_equal(r->status, 401);
	assert_non_null(resp_header(r, "www-authenticate", h, sizeof(h)));
	assert_int_equal(strncmp(h, "Bearer", 6), 0);
}

/* Two error bodies say the same except for the request id. */
static void
assert_same_error(struct resp *a, struct resp *b)
{
	assert_int_equal(a->status, b->status);
	assert_string_equal(jstr(a->json, "error"), jstr(b->json, "error"));
	assert_string_equal(jstr(a->json, "code"), jstr(b->json, "code"));
	assert_int_equal(json_object_size(a->json),
	    json_object_size(b->json));
}

/* ---- config ---- */

static void
test_config(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/api/v1/auth/config", &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "signup_enabled")));
	assert_true(json_is_false(json_object_get(r.json,
	    "email_confirmation_required")));
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "password_min_length")), 8);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "password_max_length")), 1024);
	assert_true(json_integer_value(json_object_get(r.json,
	    "access_token_lifetime")) > 0);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "max_failed_signins")), 5);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "lockout_seconds")), 900);
	resp_free(&r);
}

/* ---- signup ---- */

static void
test_signup(void **state)
{
	struct resp	 r;
	json_t		*user, *claims;
	time_t		 now = time(NULL);
	char		 buf[256];

	assert_int_equal(http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"Ada.Signup@Example.COM\",\"password\":\"" PW "\","
	    "\"data\":{\"full_name\":\"Ada\"}}", &r), 201);
	assert_string_equal(jstr(r.json, "token_type"), "bearer");
	assert_true(json_integer_value(json_object_get(r.json,
	    "expires_in")) > 0);
	assert_true(json_integer_value(json_object_get(r.json,
	    "expires_at")) >= now);
	assert_int_equal(strncmp(jstr(r.json, "refresh_token"), "kbrt_", 5), 0);
	user = json_object_get(r.json, "user");
	assert_string_equal(jstr(user, "email"), "ada.signup@example.com");
	assert_string_equal(jstr(user, "role"), "authenticated");
	assert_string_equal(jstr(user, "aud"), "authenticated");
	assert_true(json_is_null(json_object_get(user, "email_confirmed_at")));
	assert_string_equal(jstr(json_object_get(user, "user_metadata"),
	    "full_name"), "Ada");
	assert_null(json_object_get(user, "password"));
	assert_null(json_object_get(user, "password_hash"));

	claims = jwt_claims(jstr(r.json, "access_token"));
	assert_string_equal(jstr(claims, "sub"), jstr(user, "id"));
	assert_string_equal(jstr(claims, "role"), "authenticated");
	assert_non_null(jstr(claims, "sid"));
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")),
	    json_integer_value(json_object_get(r.json, "expires_at")));
	json_decref(claims);

	/* The password is stored as argon2id only. */
	psql_value("SELECT password_hash FROM users WHERE email = "
	    "'ada.signup@example.com'", buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "$argon2id$v=19$", 15), 0);
	assert_null(strstr(buf, PW));
	resp_free(&r);
}

static void
test_signup_duplicate(void **state)
{
	struct sess	s;
	struct resp	r;

	signup("dup@example.com", PW, &s);
	/* The same address in other case is the same address. */
	http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"DUP@example.com\",\"password\":\"other password\"}",
	    &r);
	assert_error(&r, 409, "EMAIL_EXISTS");
	resp_free(&r);
	/* The first account is untouched. */
	signin_ok("dup@example.com", PW, &s);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signup.conflict' AND details->>'email' = "
	    "'dup@example.com'"), 1);
}

static void
test_signup_bad_input(void **state)
{
	struct resp	 r;
	char		*body, *big;
	size_t		 i;

	http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"short@example.com\",\"password\":\"1234567\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);

	http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"not-an-address\",\"password\":\"" PW "\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/email"));
	resp_free(&r);

	/* Both problems at once; and an unknown field. */
	http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"x\",\"password\":\"short\",\"admin\":true}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/email"));
	assert_true(error_has_path(&r, "/body/password"));
	assert_true(error_has_path(&r, "/body/admin"));
	resp_free(&r);

	http_post_as("/api/v1/auth/signup", NULL, "{\"email\":\"a@example.com\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);

	/* 1025 characters. */
	big = malloc(4000);
	body = malloc(8000);
	memset(big, 'a', 1025);
	big[1025] = '\0';
	snprintf(body, 8000, "{\"email\":\"long@example.com\","
	    "\"password\":\"%s\"}", big);
	http_post_as("/api/v1/auth/signup", NULL, body, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);

	/* 600 characters, but 1200 bytes of UTF-8. */
	for (i = 0; i < 600; i++)
		memcpy(big + i * 2, "\xc3\xa9", 2);
	big[1200] = '\0';
	snprintf(body, 8000, "{\"email\":\"long@example.com\","
	    "\"password\":\"%s\"}", big);
	http_post_as("/api/v1/auth/signup", NULL, body, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);

	/* Exactly 1024 bytes is fine. */
	memset(big, 'b', 1024);
	big[1024] = '\0';
	snprintf(body, 8000, "{\"email\":\"long@example.com\","
	    "\"password\":\"%s\"}", big);
	assert_int_equal(http_post_as("/api/v1/auth/signup", NULL, body, &r), 201);
	resp_free(&r);
	assert_int_equal(signin("long@example.com", big, &r), 200);
	resp_free(&r);
	free(big);
	free(body);

	http_post_as("/api/v1/auth/signup", NULL, "{\"email\":", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE email "
	    "IN ('short@example.com', 'not-an-address', 'x', "
	    "'a@example.com')"), 0);
}

static void
test_signup_disabled(void **state)
{
	struct resp	r;

	assert_int_equal(psql("UPDATE settings SET value = 'false' WHERE key"
	    " = 'auth.signup_enabled'"), 0);
	http_get("/api/v1/auth/config", &r);
	assert_true(json_is_false(json_object_get(r.json, "signup_enabled")));
	resp_free(&r);
	http_post_as("/api/v1/auth/signup", NULL,
	    "{\"email\":\"closed@example.com\",\"password\":\"" PW "\"}", &r);
	assert_error(&r, 403, "SIGNUP_DISABLED");
	resp_free(&r);
	assert_int_equal(psql("UPDATE settings SET value = 'true' WHERE key"
	    " = 'auth.signup_enabled'"), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE "
	    "email = 'closed@example.com'"), 0);
}

/* ---- signin ---- */

static void
test_signin(void **state)
{
	struct sess	 a, b;
	struct resp	 r;
	json_t		*user;
	char		 buf[64];

	signup("signin@example.com", PW, &a);
	assert_int_equal(signin("SignIn@Example.com", PW, &r), 200);
	assert_string_equal(jstr(r.json, "token_type"), "bearer");
	user = json_object_get(r.json, "user");
	assert_string_equal(jstr(user, "id"), a.user_id);
	assert_non_null(jstr(user, "last_sign_in_at"));
	sess_from(&r, &b);
	resp_free(&r);
	/* A new session each time. */
	assert_string_not_equal(a.refresh, b.refresh);
	{
		json_t	*ca = jwt_claims(a.access), *cb = jwt_claims(b.access);

		assert_string_not_equal(jstr(ca, "sid"), jstr(cb, "sid"));
		json_decref(ca);
		json_decref(cb);
	}
	snprintf(buf, sizeof(buf), "%ld", psql_count("SELECT count(*) FROM "
	    "sessions s JOIN users u ON u.id = s.user_id WHERE u.email = "
	    "'signin@example.com' AND s.revoked_at IS NULL"));
	assert_string_equal(buf, "2");
}

static void
test_signin_wrong_and_unknown(void **state)
{
	struct sess	s;
	struct resp	wrong, unknown, r;
	double		t0, tw = 1e9, tu = 1e9, t;
	int		i;

	signup("victim@example.com", PW, &s);
	for (i = 0; i < 3; i++) {
		t0 = now_ms();
		signin("victim@example.com", "wrong password", &wrong);
		t = now_ms() - t0;
		tw = t < tw ? t : tw;
		t0 = now_ms();
		signin("nobody-at-all@example.com", "wrong password", &unknown);
		t = now_ms() - t0;
		tu = t < tu ? t : tu;
		assert_error(&wrong, 401, "INVALID_CREDENTIALS");
		assert_error(&unknown, 401, "INVALID_CREDENTIALS");
		assert_same_error(&wrong, &unknown);
		if (i < 2) {
			resp_free(&wrong);
			resp_free(&unknown);
		}
	}
	/* Same headers apart from the request id and date. */
	{
		char	h1[128], h2[128];

		assert_non_null(resp_header(&wrong, "www-authenticate", h1,
		    sizeof(h1)));
		assert_non_null(resp_header(&unknown, "www-authenticate", h2,
		    sizeof(h2)));
		assert_string_equal(h1, h2);
	}
	resp_free(&wrong);
	resp_free(&unknown);
	/*
	 * Both ran argon2id: an unknown address is not answered sooner.  A
	 * generous bound: the fastest unknown attempt takes at least half
	 * the fastest wrong-password one.
	 */
	fprintf(stderr, "signin failure: wrong password %.1f ms, unknown "
	    "address %.1f ms\n", tw, tu);
	assert_true(tu >= tw * 0.5);
	assert_true(tu > 2.0);

	/* An empty password is a failure like any other. */
	signin("victim@example.com", "", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin.failed' AND target = '%s'", s.user_id), 3);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin.failed' AND target IS NULL AND "
	    "details->>'email' = 'nobody-at-all@example.com'"), 3);
}

static void
lock_out(const char *email, struct resp *locked)
{
	struct resp	r;
	int		i;

	for (i = 0; i < 5; i++) {
		signin(email, "not the password", &r);
		assert_error(&r, 401, "INVALID_CREDENTIALS");
		resp_free(&r);
	}
	/* Now even the right password is refused. */
	signin(email, PW, locked);
}

static void
test_lockout(void **state)
{
	struct sess	s;
	struct resp	known, unknown, r;
	char		h1[32], h2[32];

	signup("locked@example.com", PW, &s);
	lock_out("locked@example.com", &known);
	assert_error(&known, 429, "SIGNIN_LOCKED");
	assert_non_null(resp_header(&known, "retry-after", h1, sizeof(h1)));
	assert_true(atoi(h1) > 890 && atoi(h1) <= 900);

	/* An address without an account locks the same way. */
	lock_out("ghost-locked@example.com", &unknown);
	assert_error(&unknown, 429, "SIGNIN_LOCKED");
	assert_non_null(resp_header(&unknown, "retry-after", h2, sizeof(h2)));
	assert_true(atoi(h2) > 890 && atoi(h2) <= 900);
	assert_same_error(&known, &unknown);
	resp_free(&known);
	resp_free(&unknown);

	/* Four failures do not lock. */
	signup("four@example.com", PW, &s);
	{
		int	i;

		for (i = 0; i < 4; i++) {
			signin("four@example.com", "nope nope", &r);
			resp_free(&r);
		}
	}
	signin_ok("four@example.com", PW, &s);
	/* ... and a success starts the count again. */
	assert_int_equal(psql_count("SELECT failed_signins FROM users WHERE "
	    "email = 'four@example.com'"), 0);

	/* When the lock has passed, the right password works again. */
	assert_int_equal(psql("UPDATE users SET locked_until = now() - "
	    "interval '1 second' WHERE email = 'locked@example.com'"), 0);
	signin_ok("locked@example.com", PW, &s);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE email ="
	    " 'locked@example.com' AND locked_until IS NULL AND "
	    "failed_signins = 0"), 1);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin.locked' AND details->>'email' IN "
	    "('locked@example.com', 'ghost-locked@example.com')"), 2);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin.failed' AND details->>'locked' = 'true' "
	    "AND details->>'email' IN ('locked@example.com', "
	    "'ghost-locked@example.com')"), 2);
}

/* ---- refresh ---- */

static void
test_refresh_rotation(void **state)
{
	struct sess	 a, b, c;
	struct resp	 r;
	unsigned char	 d[SHA256_DIGEST_LENGTH];
	char		 hex[65];
	json_t		*ca, *cb;
	int		 i;

	signup("rotate@example.com", PW, &a);
	assert_int_equal(refresh(a.refresh, &r), 200);
	sess_from(&r, &b);
	assert_string_equal(jstr(json_object_get(r.json, "user"), "email"),
	    "rotate@example.com");
	resp_free(&r);
	assert_string_not_equal(a.refresh, b.refresh);
	assert_string_equal(a.user_id, b.user_id);
	/* Same session, new access token. */
	ca = jwt_claims(a.access);
	cb = jwt_claims(b.access);
	assert_string_equal(jstr(ca, "sid"), jstr(cb, "sid"));
	assert_string_not_equal(jstr(ca, "jti"), jstr(cb, "jti"));
	json_decref(ca);
	json_decref(cb);
	assert_int_equal(get_user(b.access, &r), 200);
	resp_free(&r);

	/* Only the SHA-256 of a refresh token is stored. */
	assert_int_equal(psql_count("SELECT count(*) FROM refresh_tokens "
	    "WHERE token_hash = '%s'", b.refresh), 0);
	SHA256((const unsigned char *)b.refresh, strlen(b.refresh), d);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + i * 2, "%02x", d[i]);
	assert_int_equal(psql_count("SELECT count(*) FROM refresh_tokens "
	    "WHERE token_hash = '%s' AND rotated_at IS NULL", hex), 1);

	/* And again. */
	assert_int_equal(refresh(b.refresh, &r), 200);
	sess_from(&r, &c);
	resp_free(&r);
	assert_int_equal(refresh(c.refresh, &r), 200);
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'token.refresh' AND actor_id = '%s'", a.user_id), 3);

	/* Unknown and malformed tokens. */
	refresh("kbrt_no-such-token-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	assert_unauthorized(&r);
	resp_free(&r);
	http_post_as("/api/v1/auth/refresh", NULL, "{\"refresh_token\":\"\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/refresh_token"));
	resp_free(&r);
	http_post_as("/api/v1/auth/refresh", NULL, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
}

static void
test_refresh_reuse(void **state)
{
	struct sess	a, b, other;
	struct resp	r;

	signup("reuse@example.com", PW, &a);
	signin_ok("reuse@example.com", PW, &other);
	assert_int_equal(refresh(a.refresh, &r), 200);
	sess_from(&r, &b);
	resp_free(&r);

	/* The old token again: refused, and the session is revoked. */
	refresh(a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	/* So the newest refresh token of that session fails too ... */
	refresh(b.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	/* ... and its access tokens. */
	get_user(b.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);
	/* The user's other session is not affected. */
	assert_int_equal(get_user(other.access, &r), 200);
	resp_free(&r);
	assert_int_equal(refresh(other.refresh, &r), 200);
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'token.reuse_detected' AND details->>'user_id' = '%s'",
	    a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM refresh_tokens t "
	    "JOIN sessions s ON s.id = t.session_id WHERE s.user_id = '%s' "
	    "AND s.revoked_at IS NOT NULL AND NOT t.revoked", a.user_id), 0);
}

/* ---- signout ---- */

static void
test_signout(void **state)
{
	struct sess	a, other;
	struct resp	r;

	signup("signout@example.com", PW, &a);
	signin_ok("signout@example.com", PW, &other);
	assert_int_equal(http_post_as("/api/v1/auth/signout", a.access, NULL, &r),
	    204);
	assert_int_equal(r.len, 0);
	resp_free(&r);

	refresh(a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	get_user(a.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	http_post_as("/api/v1/auth/signout", a.access, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);

	/* Only that session ended. */
	assert_int_equal(get_user(other.access, &r), 200);
	resp_free(&r);

	/* Without a token. */
	http_post_as("/api/v1/auth/signout", NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signout' AND actor_id = '%s'", a.user_id), 1);
}

/* ---- current user ---- */

static void
test_user_get(void **state)
{
	struct sess	 a;
	struct resp	 r;

	signup("me@example.com", PW, &a);
	assert_int_equal(get_user(a.access, &r), 200);
	assert_string_equal(jstr(r.json, "id"), a.user_id);
	assert_string_equal(jstr(r.json, "email"), "me@example.com");
	assert_true(json_is_object(json_object_get(r.json, "user_metadata")));
	assert_string_equal(jstr(json_object_get(r.json, "app_metadata"),
	    "provider"), "email");
	resp_free(&r);
}

static void
test_user_update(void **state)
{
	struct sess	 a, b;
	struct resp	 r;
	json_t		*meta;
	char		 before[64];

	signup("update@example.com", PW, &a);
	signup("taken@example.com", PW, &b);
	get_user(a.access, &r);
	snprintf(before, sizeof(before), "%s", jstr(r.json, "updated_at"));
	resp_free(&r);
	usleep(5000);

	/* Metadata merges; null removes a key. */
	assert_int_equal(req("PATCH", "/api/v1/auth/user", a.access,
	    "{\"data\":{\"a\":1,\"b\":2}}", &r), 200);
	resp_free(&r);
	assert_int_equal(req("PATCH", "/api/v1/auth/user", a.access,
	    "{\"data\":{\"b\":null,\"c\":{\"d\":true}}}", &r), 200);
	meta = json_object_get(r.json, "user_metadata");
	assert_int_equal(json_integer_value(json_object_get(meta, "a")), 1);
	assert_null(json_object_get(meta, "b"));
	assert_true(json_is_object(json_object_get(meta, "c")));
	assert_string_not_equal(jstr(r.json, "updated_at"), before);
	resp_free(&r);

	/* Another account's address: 409, nothing changes. */
	req("PATCH", "/api/v1/auth/user", a.access,
	    "{\"email\":\"Taken@example.com\"}", &r);
	assert_error(&r, 409, "EMAIL_EXISTS");
	resp_free(&r);

	/* New address and password. */
	assert_int_equal(req("PATCH", "/api/v1/auth/user", a.access,
	    "{\"email\":\"Renamed@example.com\","
	    "\"password\":\"a brand new password\"}", &r), 200);
	assert_string_equal(jstr(r.json, "email"), "renamed@example.com");
	resp_free(&r);
	signin("renamed@example.com", PW, &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
	signin("update@example.com", "a brand new password", &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
	signin_ok("renamed@example.com", "a brand new password", &a);

	/* Bad input. */
	req("PATCH", "/api/v1/auth/user", a.access, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	req("PATCH", "/api/v1/auth/user", a.access,
	    "{\"password\":\"short\",\"email\":\"nope\",\"data\":[]}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	assert_true(error_has_path(&r, "/body/email"));
	assert_true(error_has_path(&r, "/body/data"));
	resp_free(&r);
	req("PATCH", "/api/v1/auth/user", NULL, "{\"data\":{}}", &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.update' AND actor_id = '%s'", a.user_id), 3);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.update' AND actor_id = '%s' AND details->'fields'"
	    " = '[\\\"email\\\", \\\"password\\\"]'", a.user_id), 1);
}

/* ---- access tokens the gate must refuse ---- */

static void
test_bad_tokens(void **state)
{
	struct sess	 a;
	struct resp	 r;
	json_t		*c;
	char		 tok[8192], *p;
	const char	*hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	signup("tokens@example.com", PW, &a);

	/* None at all. */
	get_user(NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);

	/* Our own forgery with the right key works: the forge is sound. */
	c = jwt_claims(a.access);
	forge(hs, c, 1, tok, sizeof(tok));
	assert_int_equal(get_user(tok, &r), 200);
	resp_free(&r);

	/* Expired. */
	json_object_set_new(c, "iat", json_integer(time(NULL) - 7200));
	json_object_set_new(c, "exp", json_integer(time(NULL) - 3600));
	forge(hs, c, 1, tok, sizeof(tok));
	get_user(tok, &r);
	assert_unauthorized(&r);
	resp_free(&r);
	json_decref(c);

	/* Tampered: another role under the original signature. */
	c = jwt_claims(a.access);
	json_object_set_new(c, "role", json_string("service_role"));
	forge(hs, c, 1, tok, sizeof(tok));
	p = strrchr(tok, '.');
	snprintf(p, sizeof(tok) - (size_t)(p - tok), "%s",
	    strrchr(a.access, '.'));
	get_user(tok, &r);
	assert_unauthorized(&r);
	resp_free(&r);

	/* alg none, unsigned. */
	forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, 0, tok, sizeof(tok));
	get_user(tok, &r);
	assert_unauthorized(&r);
	resp_free(&r);
	json_decref(c);

	/* A valid signature over a role that may not call the operation. */
	c = jwt_claims(a.access);
	json_object_set_new(c, "role", json_string("anon"));
	forge(hs, c, 1, tok, sizeof(tok));
	get_user(tok, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	json_decref(c);

	/* A valid token whose session does not exist. */
	c = jwt_claims(a.access);
	json_object_set_new(c, "sid",
	    json_string("00000000-0000-4000-8000-000000000000"));
	forge(hs, c, 1, tok, sizeof(tok));
	get_user(tok, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	/* ... or whose sid is not even a UUID: no SQL error. */
	json_object_set_new(c, "sid", json_string("not-a-uuid"));
	forge(hs, c, 1, tok, sizeof(tok));
	get_user(tok, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	http_post_as("/api/v1/auth/signout", tok, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	json_decref(c);

	/* Garbage. */
	get_user("not.a.jwt", &r);
	assert_unauthorized(&r);
	resp_free(&r);
}

/* ---- sessions ---- */

static const char *
sid_of(const char *access, char *buf, size_t len)
{
	json_t	*c = jwt_claims(access);

	snprintf(buf, len, "%s", jstr(c, "sid"));
	json_decref(c);
	return (buf);
}

static long
list_sessions(const char *bearer, struct resp *r)
{
	return (req("GET", "/api/v1/auth/sessions", bearer, NULL, r));
}

static long
revoke_session(const char *bearer, const char *id, struct resp *r)
{
	char	path[256];

	snprintf(path, sizeof(path), "/api/v1/auth/sessions/%s", id);
	return (req("DELETE", path, bearer, NULL, r));
}

static void
test_sessions_list(void **state)
{
	struct sess	 a, b, other;
	struct resp	 r;
	json_t		*e;
	char		 sa[64], sb[64];

	signup("sessions@example.com", PW, &a);
	usleep(2000);
	signin_ok("sessions@example.com", PW, &b);
	signup("sessions-other@example.com", PW, &other);
	sid_of(a.access, sa, sizeof(sa));
	sid_of(b.access, sb, sizeof(sb));

	assert_int_equal(list_sessions(b.access, &r), 200);
	assert_true(json_is_array(r.json));
	assert_int_equal(json_array_size(r.json), 2);
	/* Newest first; the caller's own is marked current. */
	e = json_array_get(r.json, 0);
	assert_string_equal(jstr(e, "id"), sb);
	assert_true(json_is_true(json_object_get(e, "current")));
	assert_non_null(jstr(e, "created_at"));
	assert_string_equal(jstr(e, "ip"), "127.0.0.1");
	assert_non_null(json_object_get(e, "user_agent"));
	assert_true(json_is_null(json_object_get(e, "refreshed_at")));
	assert_true(json_is_null(json_object_get(e, "reauthenticated_at")));
	e = json_array_get(r.json, 1);
	assert_string_equal(jstr(e, "id"), sa);
	assert_true(json_is_false(json_object_get(e, "current")));
	resp_free(&r);

	/* Paging. */
	assert_int_equal(req("GET", "/api/v1/auth/sessions?limit=1&offset=1",
	    a.access, NULL, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(jstr(json_array_get(r.json, 0), "id"), sa);
	assert_true(json_is_true(json_object_get(json_array_get(r.json, 0),
	    "current")));
	resp_free(&r);
	req("GET", "/api/v1/auth/sessions?limit=0", a.access, NULL, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/limit"));
	resp_free(&r);

	/* A refresh is recorded; a signed-out session is not listed. */
	assert_int_equal(refresh(a.refresh, &r), 200);
	sess_from(&r, &a);
	resp_free(&r);
	assert_int_equal(http_post_as("/api/v1/auth/signout", b.access, NULL, &r),
	    204);
	resp_free(&r);
	assert_int_equal(list_sessions(a.access, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	e = json_array_get(r.json, 0);
	assert_string_equal(jstr(e, "id"), sa);
	assert_non_null(jstr(e, "refreshed_at"));
	resp_free(&r);

	/* The signed-out session's token cannot list any more. */
	list_sessions(b.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	/* No token. */
	list_sessions(NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);
	/* Other users see only theirs. */
	assert_int_equal(list_sessions(other.access, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_not_equal(jstr(json_array_get(r.json, 0), "id"), sa);
	resp_free(&r);
}

static void
test_session_revoke(void **state)
{
	struct sess	 a, b, other;
	struct resp	 r;
	char		 sa[64], sb[64], so[64];

	signup("revoke@example.com", PW, &a);
	signin_ok("revoke@example.com", PW, &b);
	signup("revoke-other@example.com", PW, &other);
	sid_of(a.access, sa, sizeof(sa));
	sid_of(b.access, sb, sizeof(sb));
	sid_of(other.access, so, sizeof(so));

	/* Another user's session: 404, and it is untouched. */
	revoke_session(a.access, so, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	assert_int_equal(refresh(other.refresh, &r), 200);
	sess_from(&r, &other);
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM sessions WHERE "
	    "id = '%s' AND revoked_at IS NULL", so), 1);
	/* Unknown id, bad uuid, no token. */
	revoke_session(a.access, "00000000-0000-4000-8000-000000000000", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	revoke_session(a.access, "not-a-uuid", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/path/id"));
	resp_free(&r);
	revoke_session(NULL, sb, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);

	/* Revoke b from a: b's refresh and access tokens stop working. */
	assert_int_equal(revoke_session(a.access, sb, &r), 204);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	refresh(b.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	get_user(b.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	/* Twice: 404. */
	revoke_session(a.access, sb, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	/* A revoked session cannot revoke others. */
	revoke_session(b.access, sa, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	assert_int_equal(get_user(a.access, &r), 200);
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'session.revoke' AND actor_id = '%s' AND target = '%s'",
	    a.user_id, sb), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM refresh_tokens "
	    "WHERE session_id = '%s' AND NOT revoked", sb), 0);

	/* The current session itself. */
	assert_int_equal(revoke_session(a.access, sa, &r), 204);
	resp_free(&r);
	get_user(a.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	assert_int_equal(get_user(other.access, &r), 200);
	resp_free(&r);
}

static void
test_sessions_revoke_all(void **state)
{
	struct sess	 a, b, c, other;
	struct resp	 r;

	signup("revoke-all@example.com", PW, &a);
	signin_ok("revoke-all@example.com", PW, &b);
	signin_ok("revoke-all@example.com", PW, &c);
	signup("revoke-all-other@example.com", PW, &other);

	/* Default scope: the others. */
	assert_int_equal(req("DELETE", "/api/v1/auth/sessions", a.access,
	    NULL, &r), 204);
	resp_free(&r);
	refresh(b.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	refresh(c.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	assert_int_equal(list_sessions(a.access, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
	/* Another user's sessions are untouched. */
	assert_int_equal(get_user(other.access, &r), 200);
	resp_free(&r);

	/* Bad scope, no token. */
	req("DELETE", "/api/v1/auth/sessions?scope=everyone", a.access, NULL,
	    &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/scope"));
	resp_free(&r);
	req("DELETE", "/api/v1/auth/sessions", NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);
	/* A revoked session cannot do it. */
	req("DELETE", "/api/v1/auth/sessions?scope=all", b.access, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);

	/* scope=others explicitly, then scope=all ends the current one. */
	signin_ok("revoke-all@example.com", PW, &b);
	assert_int_equal(req("DELETE", "/api/v1/auth/sessions?scope=others",
	    b.access, NULL, &r), 204);
	resp_free(&r);
	get_user(a.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	assert_int_equal(req("DELETE", "/api/v1/auth/sessions?scope=all",
	    b.access, NULL, &r), 204);
	resp_free(&r);
	get_user(b.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	refresh(b.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM sessions WHERE "
	    "user_id = '%s' AND revoked_at IS NULL", a.user_id), 0);
	assert_int_equal(get_user(other.access, &r), 200);
	resp_free(&r);

	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'session.revoke_all' AND actor_id = '%s'", a.user_id),
	    3);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'session.revoke_all' AND actor_id = '%s' AND "
	    "details->>'scope' = 'all' AND jsonb_array_length("
	    "details->'sessions') = 1", a.user_id), 1);
}

/* ---- reauthenticate ---- */

static long
reauth(const char *bearer, const char *pw, struct resp *r)
{
	char	body[2048];

	snprintf(body, sizeof(body), "{\"password\":\"%s\"}", pw);
	return (http_post_as("/api/v1/auth/reauthenticate", bearer, body, r));
}

static void
test_reauthenticate(void **state)
{
	struct sess	 a, b;
	struct resp	 r;
	char		 sa[64], at[64];
	int		 i;

	signup("reauth@example.com", PW, &a);
	signin_ok("reauth@example.com", PW, &b);
	sid_of(a.access, sa, sizeof(sa));

	assert_int_equal(reauth(a.access, PW, &r), 200);
	assert_non_null(jstr(r.json, "reauthenticated_at"));
	snprintf(at, sizeof(at), "%s", jstr(r.json, "reauthenticated_at"));
	resp_free(&r);
	/* Recorded on this session only, and listed. */
	assert_int_equal(psql_count("SELECT count(*) FROM sessions WHERE "
	    "user_id = '%s' AND reauthenticated_at IS NOT NULL", a.user_id),
	    1);
	assert_int_equal(list_sessions(a.access, &r), 200);
	{
		size_t	 i2;
		json_t	*e;

		json_array_foreach(r.json, i2, e) {
			if (strcmp(jstr(e, "id"), sa) == 0)
				assert_string_equal(jstr(e,
				    "reauthenticated_at"), at);
			else
				assert_true(json_is_null(json_object_get(e,
				    "reauthenticated_at")));
		}
	}
	resp_free(&r);

	/* Wrong password: 401, counted like a failed sign-in. */
	reauth(a.access, "wrong password", &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
	assert_int_equal(psql_count("SELECT failed_signins FROM users WHERE "
	    "id = '%s'", a.user_id), 1);
	/* A success resets the count. */
	assert_int_equal(reauth(a.access, PW, &r), 200);
	resp_free(&r);
	assert_int_equal(psql_count("SELECT failed_signins FROM users WHERE "
	    "id = '%s'", a.user_id), 0);

	/* Bad input, no token. */
	http_post_as("/api/v1/auth/reauthenticate", a.access, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);
	reauth(NULL, PW, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	assert_unauthorized(&r);
	resp_free(&r);

	/* Five wrong ones lock the account, for sign-in too. */
	for (i = 0; i < 5; i++) {
		reauth(b.access, "wrong password", &r);
		assert_error(&r, 401, "INVALID_CREDENTIALS");
		resp_free(&r);
	}
	reauth(b.access, PW, &r);
	assert_error(&r, 429, "SIGNIN_LOCKED");
	resp_free(&r);
	signin("reauth@example.com", PW, &r);
	assert_error(&r, 429, "SIGNIN_LOCKED");
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.reauthenticate.failed' AND actor_id = '%s'",
	    a.user_id), 6);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.reauthenticate.failed' AND actor_id = '%s' AND "
	    "details->>'locked' = 'true'", a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.reauthenticate.locked' AND actor_id = '%s'",
	    a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.reauthenticate' AND actor_id = '%s'",
	    a.user_id), 2);
	assert_int_equal(psql("UPDATE users SET locked_until = NULL, "
	    "failed_signins = 0 WHERE email = 'reauth@example.com'"), 0);

	/* A signed-out session cannot reauthenticate. */
	assert_int_equal(http_post_as("/api/v1/auth/signout", b.access, NULL, &r),
	    204);
	resp_free(&r);
	reauth(b.access, PW, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
}

/* ---- CSRF ---- */

static void
test_csrf(void **state)
{
	struct resp	 r, r2;
	struct sess	 a;
	char		 h[512], want[512];

	assert_int_equal(http_get("/api/v1/auth/csrf", &r), 200);
	assert_non_null(jstr(r.json, "csrf_token"));
	assert_int_equal(strncmp(jstr(r.json, "csrf_token"), "kbcsrf_", 7),
	    0);
	assert_true(strlen(jstr(r.json, "csrf_token")) >= 7 + 43);
	assert_non_null(resp_header(&r, "set-cookie", h, sizeof(h)));
	snprintf(want, sizeof(want),
	    "kb_csrf=%s; Path=/; SameSite=Strict; HttpOnly",
	    jstr(r.json, "csrf_token"));
	assert_string_equal(h, want);
	assert_non_null(resp_header(&r, "cache-control", h, sizeof(h)));
	assert_string_equal(h, "no-store");
	/* Fresh each time; signed-in callers may ask too. */
	signup("csrf@example.com", PW, &a);
	assert_int_equal(req("GET", "/api/v1/auth/csrf", a.access, NULL, &r2),
	    200);
	assert_string_not_equal(jstr(r.json, "csrf_token"),
	    jstr(r2.json, "csrf_token"));
	resp_free(&r);
	resp_free(&r2);
}

/* ---- audit ---- */

static void
test_audit_rows(void **state)
{
	struct sess	a;
	struct resp	r;
	char		buf[256], want[256];

	signup("audit@example.com", PW, &a);
	signin_ok("audit@example.com", PW, &a);
	/* Every row of this user carries the request id and address. */
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action IN ('user.signup', 'user.signin') "
	    "AND request_id LIKE 'req_%%' AND client_addr = '127.0.0.1'",
	    a.user_id), 2);
	{
		static const char *const h[] = {
			"Content-Type: application/json",
			"X-Request-Id: audit-probe-1", NULL
		};
		const char	*body = "{\"email\":\"audit@example.com\","
		    "\"password\":\"" PW "\"}";

		assert_int_equal(http("POST", "/api/v1/auth/signin", h, body,
		    strlen(body), &r), 200);
		resp_free(&r);
	}
	psql_value("SELECT action || ' ' || target FROM audit_log WHERE "
	    "request_id = 'audit-probe-1'", buf, sizeof(buf));
	snprintf(want, sizeof(want), "user.signin %s", a.user_id);
	assert_string_equal(buf, want);
}

/* ---- two-factor authentication (/api/v1/auth/2fa) ---- */

static long long
step_now(void)
{
	return ((long long)time(NULL) / 30);
}

/* A code that matches no step of the window. */
static void
wrong_code(const char *secret, char out[7])
{
	char		c[3][7];
	long long	s = step_now();
	int		i, k;

	totp_code(secret, s - 1, c[0]);
	totp_code(secret, s, c[1]);
	totp_code(secret, s + 1, c[2]);
	for (k = 0; ; k++) {
		snprintf(out, 7, "%06d", (123457 + k * 7919) % 1000000);
		for (i = 0; i < 3; i++)
			if (strcmp(out, c[i]) == 0)
				break;
		if (i == 3)
			return;
	}
}

static long
mfa_code(const char *path, const char *bearer, const char *code,
    struct resp *r)
{
	char	body[128];

	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	return (http_post_as(path, bearer, body, r));
}

static long
mfa_verify(const char *challenge, const char *code, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body),
	    "{\"challenge_token\":\"%s\",\"code\":\"%s\"}", challenge, code);
	return (http_post_as("/api/v1/auth/2fa/verify", NULL, body, r));
}

static void
mfa_status(const char *bearer, int enabled, long left)
{
	struct resp	r;

	assert_int_equal(req("GET", "/api/v1/auth/2fa/status", bearer, NULL,
	    &r), 200);
	assert_int_equal(json_is_true(json_object_get(r.json, "enabled")),
	    enabled);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "recovery_codes_left")), left);
	resp_free(&r);
}

/* Sign in with 2FA on: the challenge, and no tokens. */
static void
mfa_challenge(const char *email, char *out, size_t len)
{
	struct resp	r;

	assert_int_equal(signin(email, PW, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
	assert_null(json_object_get(r.json, "access_token"));
	assert_null(json_object_get(r.json, "refresh_token"));
	assert_non_null(jstr(r.json, "challenge_token"));
	assert_int_equal(strncmp(jstr(r.json, "challenge_token"), "kbmfa_",
	    6), 0);
	snprintf(out, len, "%s", jstr(r.json, "challenge_token"));
	resp_free(&r);
}

/* Setup and enable for `s`; the secret, the step used and the codes. */
static long long
mfa_on(struct sess *s, char *secret, size_t slen, char codes[10][16])
{
	struct resp	r;
	char		code[7];
	long long	st;
	size_t		i;
	json_t		*list;

	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", s->access, NULL, &r),
	    200);
	snprintf(secret, slen, "%s", jstr(r.json, "secret"));
	assert_int_equal(strlen(secret), 32);
	assert_non_null(jstr(r.json, "otpauth_uri"));
	assert_int_equal(strncmp(jstr(r.json, "otpauth_uri"),
	    "otpauth://totp/korebase:", 24), 0);
	assert_non_null(strstr(jstr(r.json, "otpauth_uri"), secret));
	resp_free(&r);
	/* Not on yet, and the secret is not stored in plain text. */
	mfa_status(s->access, 0, 0);
	assert_int_equal(psql_count("SELECT count(*) FROM user_mfa WHERE "
	    "user_id = '%s' AND NOT enabled AND secret_enc NOT ILIKE '%%%s%%'",
	    s->user_id, secret), 1);

	wrong_code(secret, code);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/enable", s->access, code,
	    &r), 400);
	assert_error(&r, 400, "INVALID_MFA_CODE");
	resp_free(&r);

	st = step_now();
	totp_code(secret, st, code);
	if (mfa_code("/api/v1/auth/2fa/enable", s->access, code, &r) != 200)
		fprintf(stderr, "enable: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "enabled")));
	list = json_object_get(r.json, "recovery_codes");
	assert_int_equal(json_array_size(list), 10);
	for (i = 0; i < 10; i++) {
		snprintf(codes[i], 16, "%s",
		    json_string_value(json_array_get(list, i)));
		assert_int_equal(strlen(codes[i]), 9);
	}
	resp_free(&r);
	/* Only keyed hashes are stored. */
	assert_int_equal(psql_count("SELECT count(*) FROM mfa_recovery_codes "
	    "WHERE user_id = '%s' AND used_at IS NULL AND code_hash <> '%s'",
	    s->user_id, codes[0]), 10);
	mfa_status(s->access, 1, 10);
	return (st);
}

static void
test_mfa_flow(void **state)
{
	struct sess	a, b;
	struct resp	r;
	char		secret[64], codes[10][16], ch[256], code[7], up[16];
	long long	st;
	size_t		i;

	signup("mfa1@example.com", PW, &a);

	/* No token: 401 everywhere but verify. */
	assert_int_equal(req("GET", "/api/v1/auth/2fa/status", NULL, NULL,
	    &r), 401);
	resp_free(&r);
	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", NULL, NULL, &r), 401);
	resp_free(&r);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/enable", NULL, "123456",
	    &r), 401);
	resp_free(&r);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", NULL, "123456",
	    &r), 401);
	resp_free(&r);

	mfa_status(a.access, 0, 0);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/enable", a.access,
	    "123456", &r), 400);
	assert_error(&r, 400, "MFA_NOT_SET_UP");
	resp_free(&r);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access,
	    "123456", &r), 400);
	assert_error(&r, 400, "MFA_NOT_ENABLED");
	resp_free(&r);
	/* A short code fails validation. */
	assert_int_equal(mfa_code("/api/v1/auth/2fa/enable", a.access,
	    "123", &r), 400);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	st = mfa_on(&a, secret, sizeof(secret), codes);

	/* Already on: setup and enable are refused. */
	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", a.access, NULL, &r),
	    409);
	assert_error(&r, 409, "MFA_ALREADY_ENABLED");
	resp_free(&r);
	totp_code(secret, st + 1, code);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/enable", a.access, code,
	    &r), 409);
	resp_free(&r);

	/* Unknown challenge. */
	assert_int_equal(mfa_verify("kbmfa_nope", "123456", &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CHALLENGE");
	resp_free(&r);

	/* The step used by enable is refused; the attempt uses it up. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	totp_code(secret, st, code);
	assert_int_equal(mfa_verify(ch, code, &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CODE");
	resp_free(&r);
	totp_code(secret, st + 1, code);
	assert_int_equal(mfa_verify(ch, code, &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CHALLENGE");
	resp_free(&r);

	/* A wrong code. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	wrong_code(secret, code);
	assert_int_equal(mfa_verify(ch, code, &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CODE");
	resp_free(&r);

	/* The next step signs in. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	totp_code(secret, st + 1, code);
	if (mfa_verify(ch, code, &r) != 200)
		fprintf(stderr, "verify: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, &b);
	resp_free(&r);
	assert_string_equal(b.user_id, a.user_id);
	assert_int_equal(get_user(b.access, &r), 200);
	resp_free(&r);
	/* The challenge is single use. */
	assert_int_equal(mfa_verify(ch, codes[5], &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CHALLENGE");
	resp_free(&r);

	/* The same code again, on a new challenge: replay refused. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	assert_int_equal(mfa_verify(ch, code, &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CODE");
	resp_free(&r);

	/* A recovery code works once, typed in upper case too. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	for (i = 0; codes[0][i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)codes[0][i]);
	up[i] = '\0';
	if (mfa_verify(ch, up, &r) != 200)
		fprintf(stderr, "verify recovery: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, &b);
	resp_free(&r);
	mfa_status(b.access, 1, 9);
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	assert_int_equal(mfa_verify(ch, codes[0], &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CODE");
	resp_free(&r);

	/* An expired challenge: 401, and the code is not used up. */
	mfa_challenge("mfa1@example.com", ch, sizeof(ch));
	assert_int_equal(psql("UPDATE mfa_challenges SET expires_at = now() - "
	    "interval '1 second' WHERE used_at IS NULL"), 0);
	assert_int_equal(mfa_verify(ch, codes[1], &r), 401);
	assert_error(&r, 401, "INVALID_MFA_CHALLENGE");
	resp_free(&r);
	mfa_status(a.access, 1, 9);

	/* Disable: a wrong code, then a recovery code. */
	wrong_code(secret, code);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access, code,
	    &r), 400);
	assert_error(&r, 400, "INVALID_MFA_CODE");
	resp_free(&r);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access,
	    "zzzz-zzzz", &r), 400);
	assert_error(&r, 400, "INVALID_MFA_CODE");
	resp_free(&r);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access,
	    codes[1], &r), 200);
	assert_false(json_is_true(json_object_get(r.json, "enabled")));
	resp_free(&r);
	mfa_status(a.access, 0, 0);
	/* Sign-in gives tokens again. */
	signin_ok("mfa1@example.com", PW, &b);

	/* Every change was audited. */
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'mfa.setup'", a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'mfa.enable'", a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'mfa.enable.failed'", a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'mfa.disable' AND "
	    "details->>'method' = 'recovery_code'", a.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'mfa.disable.failed'", a.user_id),
	    2);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'user.signin.mfa_challenge'",
	    a.user_id), 7);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'user.signin' AND "
	    "details ? 'mfa'", a.user_id), 2);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "actor_id = '%s' AND action = 'user.signin.mfa_failed'",
	    a.user_id), 4);
}

static void
test_mfa_disable_totp(void **state)
{
	struct sess	a;
	struct resp	r;
	char		secret[64], codes[10][16], code[7];
	long long	st;

	signup("mfa2@example.com", PW, &a);
	/* A second setup before enabling replaces the pending secret. */
	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", a.access, NULL, &r),
	    200);
	resp_free(&r);
	st = mfa_on(&a, secret, sizeof(secret), codes);
	/* The step enable used is refused. */
	totp_code(secret, st, code);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access, code,
	    &r), 400);
	assert_error(&r, 400, "INVALID_MFA_CODE");
	resp_free(&r);
	totp_code(secret, st + 1, code);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access, code,
	    &r), 200);
	resp_free(&r);
	mfa_status(a.access, 0, 0);
	assert_int_equal(psql_count("SELECT count(*) FROM mfa_recovery_codes "
	    "WHERE user_id = '%s'", a.user_id), 0);
	assert_int_equal(mfa_code("/api/v1/auth/2fa/disable", a.access, code,
	    &r), 400);
	assert_error(&r, 400, "MFA_NOT_ENABLED");
	resp_free(&r);
}

/* POST a JSON body with an X-FB-Tenant header. */
static long
post_tenant(const char *path, const char *tenant, const char *body,
    struct resp *r)
{
	char		 hdr[128];
	const char	*h[3] = { "Content-Type: application/json", hdr, NULL };

	snprintf(hdr, sizeof(hdr), "X-FB-Tenant: %s", tenant);
	return (http("POST", path, h, body, strlen(body), r));
}

/*
 * X-FB-Tenant at sign-in or refresh scopes the access token to that
 * tenant (its "tenant" claim), for a member; others get 403.  A scoped
 * token acts in its tenant only.
 */
static void
test_tenant_scoped_token(void **state)
{
	struct sess	 s;
	struct resp	 r;
	json_t		*c;
	char		 sql[512], ta[64], body[512], hdr[128];
	const char	*h[3] = { NULL, hdr, NULL };
	char		 auth[8300];

	(void)state;
	signup("scoped@example.com", PW, &s);
	snprintf(sql, sizeof(sql), "INSERT INTO tenants (slug, name) VALUES"
	    " ('scope-a', 'A'), ('scope-b', 'B'); INSERT INTO tenant_members"
	    " (tenant_id, user_id) SELECT id, '%s' FROM tenants WHERE slug ="
	    " 'scope-a'", s.user_id);
	assert_int_equal(psql(sql), 0);
	psql_value("SELECT id FROM tenants WHERE slug = 'scope-a'", ta,
	    sizeof(ta));

	snprintf(body, sizeof(body), "{\"email\":\"scoped@example.com\","
	    "\"password\":\"%s\"}", PW);
	post_tenant("/api/v1/auth/signin", "scope-a", body, &r);
	assert_int_equal(r.status, 200);
	c = jwt_claims(jstr(r.json, "access_token"));
	assert_string_equal(json_string_value(json_object_get(c, "tenant")),
	    ta);
	json_decref(c);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    jstr(r.json, "access_token"));
	resp_free(&r);

	/* It acts in its tenant; naming another is refused. */
	h[0] = auth;
	h[1] = NULL;
	http("GET", "/api/v1/auth/user", h, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	snprintf(hdr, sizeof(hdr), "X-FB-Tenant: scope-b");
	h[1] = hdr;
	http("GET", "/api/v1/auth/user", h, NULL, 0, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);

	/* Not a member: no scoped token. */
	post_tenant("/api/v1/auth/signin", "scope-b", body, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);

	/* Refresh scopes the new token (or not) the same way. */
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}",
	    s.refresh);
	post_tenant("/api/v1/auth/refresh", ta, body, &r);
	assert_int_equal(r.status, 200);
	c = jwt_claims(jstr(r.json, "access_token"));
	assert_string_equal(json_string_value(json_object_get(c, "tenant")),
	    ta);
	json_decref(c);
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}",
	    jstr(r.json, "refresh_token"));
	resp_free(&r);
	{
		http_post_as("/api/v1/auth/refresh", NULL, body, &r);
		assert_int_equal(r.status, 200);
		c = jwt_claims(jstr(r.json, "access_token"));
		assert_null(json_object_get(c, "tenant"));
		json_decref(c);
		resp_free(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_signup),
		cmocka_unit_test(test_signup_duplicate),
		cmocka_unit_test(test_signup_bad_input),
		cmocka_unit_test(test_signup_disabled),
		cmocka_unit_test(test_signin),
		cmocka_unit_test(test_signin_wrong_and_unknown),
		cmocka_unit_test(test_lockout),
		cmocka_unit_test(test_refresh_rotation),
		cmocka_unit_test(test_refresh_reuse),
		cmocka_unit_test(test_signout),
		cmocka_unit_test(test_user_get),
		cmocka_unit_test(test_user_update),
		cmocka_unit_test(test_bad_tokens),
		cmocka_unit_test(test_sessions_list),
		cmocka_unit_test(test_session_revoke),
		cmocka_unit_test(test_sessions_revoke_all),
		cmocka_unit_test(test_reauthenticate),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_audit_rows),
		cmocka_unit_test(test_mfa_flow),
		cmocka_unit_test(test_mfa_disable_totp),
		cmocka_unit_test(test_tenant_scoped_token),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: auth", tests,
	    NULL, NULL);
	curl_global_cleanup();
	return (failed != 0);
}
