/*
 * Integration tests of the e-mail flows (/api/v1/auth: verify-email,
 * magiclink, password/reset, otp), against the real server, PostgreSQL
 * and a real SMTP server started by tests/integration/run.sh:
 * tests/integration/smtp_sink.py writes every mail it accepts to
 * $KB_MAIL_DIR, and refuses mail (451) while $KB_MAIL_DIR/.fail exists.
 * The tests read the mails, take the link or code out of them and
 * follow it.
 */

#include <ctype.h>
#include <dirent.h>
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

#include "http.h"

#define PW		"correct horse battery"
#define PW2		"a new password, long enough"
#define MAIL_WAIT_MS	15000
#define SENT_MESSAGE	"If the address can receive it, a mail is on its way."

/* ---- helpers ---- */

/* A fresh address per call: the rate limit is per address. */
static const char *
new_email(const char *tag, char *buf, size_t len)
{
	static int	n;

	snprintf(buf, len, "%s-%d-%d@example.com", tag, (int)getpid(), ++n);
	return (buf);
}

static long
post_email(const char *path, const char *email, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
	return (http_post_as(path, NULL, body, r));
}

static long
post_token(const char *path, const char *token, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	return (http_post_as(path, NULL, body, r));
}

/* A request endpoint: always 202 with the same body. */
static void
request_ok(const char *path, const char *email)
{
	struct resp	r;

	if (post_email(path, email, &r) != 202)
		fprintf(stderr, "%s %s: %ld %s\n", path, email, r.status,
		    r.body);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "message"), SENT_MESSAGE);
	resp_free(&r);
}

static char *
psql_value(const char *sql, char *buf, size_t len)
{
	char	 cmd[4096];
	FILE	*p;

	snprintf(cmd, sizeof(cmd), "psql \"$DATABASE_URL\" -qAt "
	    "-v ON_ERROR_STOP=1 -c \"%s\"", sql);
	assert_non_null(p = popen(cmd, "r"));
	buf[0] = '\0';
	if (fgets(buf, (int)len, p) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	assert_int_equal(pclose(p), 0);
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

static void
psql_ok(const char *fmt, ...)
{
	char	sql[2048];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	assert_int_equal(psql(sql), 0);
}

static void
sleep_ms(int ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the mailbox ($KB_MAIL_DIR) ---- */

static char	**seen;
static size_t	  nseen;

static int
was_seen(const char *name)
{
	size_t	i;

	for (i = 0; i < nseen; i++)
		if (strcmp(seen[i], name) == 0)
			return (1);
	return (0);
}

static char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return (NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (buf);
}

static int
names_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/*
 * The mails for `to`, oldest first: calls fn(name, text) for each; the
 * count.  `text` is freed after the call.
 */
static int
mail_scan(const char *to, void (*fn)(const char *, char *, void *),
    void *arg)
{
	const char	*dir = getenv("KB_MAIL_DIR");
	DIR		*d;
	struct dirent	*e;
	char		**names = NULL, path[1024], want[512], *text;
	size_t		 n = 0, i;
	int		 count = 0;

	assert_non_null(dir);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		if (strstr(e->d_name, ".eml") == NULL || e->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), names_cmp);
	snprintf(want, sizeof(want), "X-Rcpt-To: <%s>\r\n", to);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((text = read_file(path)) != NULL) {
			/* aiosmtpd keeps or drops the <>: accept both. */
			if (strstr(text, want) != NULL ||
			    (strncmp(text, want, 11) == 0 &&
			    strncmp(text + 11, to, strlen(to)) == 0)) {
				count++;
				if (fn != NULL)
					fn(names[i], text, arg);
			}
			free(text);
		}
		free(names[i]);
	}
	free(names);
	return (count);
}

struct take {
	char	*text;
};

static void
take_first_unseen(const char *name, char *text, void *arg)
{
	struct take	*t = arg;

	if (t->text != NULL || was_seen(name))
		return;
	seen = realloc(seen, (nseen + 1) * sizeof(*seen));
	seen[nseen++] = strdup(name);
	t->text = strdup(text);
}

/* The next mail for `to` not returned before; waits for it. */
static char *
mail_next(const char *to)
{
	struct take	t;
	int		waited;

	for (waited = 0; waited < MAIL_WAIT_MS; waited += 100) {
		t.text = NULL;
		(void)mail_scan(to, take_first_unseen, &t);
		if (t.text != NULL)
			return (t.text);
		sleep_ms(100);
	}
	fprintf(stderr, "no mail for %s within %d ms\n", to, MAIL_WAIT_MS);
	fail();
	return (NULL);
}

static int
mail_count(const char *to)
{
	return (mail_scan(to, NULL, NULL));
}

/* Skip `to`'s mails that are there or still coming (e.g. sign-up's). */
static void
mail_skip(const char *to, int n)
{
	while (n-- > 0)
		free(mail_next(to));
}

/* The token from the link in a mail; checks the link's form. */
static void
mail_link(const char *text, const char *path, const char *prefix,
    char *tok, size_t len)
{
	char		 want[1024];
	const char	*p;
	size_t		 n;

	snprintf(want, sizeof(want), "%s%s?token=%s", getenv("BASE_URL"),
	    path, prefix);
	if ((p = strstr(text, want)) == NULL)
		fprintf(stderr, "no link %s in:\n%s\n", want, text);
	assert_non_null(p);
	p = strstr(p, "token=") + 6;
	for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_' ||
	    p[n] == '-'; n++)
		;
	assert_true(n < len);
	memcpy(tok, p, n);
	tok[n] = '\0';
	assert_int_equal(strlen(tok), strlen(prefix) + 43);
}

static void
mail_code(const char *text, char code[7])
{
	const char	*p = strstr(text, "Your sign-in code is: ");
	int		 i;

	assert_non_null(p);
	p += strlen("Your sign-in code is: ");
	for (i = 0; i < 6; i++) {
		assert_true(isdigit((unsigned char)p[i]));
		code[i] = p[i];
	}
	code[6] = '\0';
	assert_false(isdigit((unsigned char)p[6]));
}

static void
assert_header(const char *text, const char *header)
{
	if (strstr(text, header) == NULL)
		fprintf(stderr, "no '%s' in:\n%s\n", header, text);
	assert_non_null(strstr(text, header));
}

/* Let the sender catch up, so "no mail" means no mail. */
static void
mail_settle(void)
{
	int	i;

	for (i = 0; i < 100; i++) {
		if (psql_count("SELECT count(*) FROM mail_outbox WHERE "
		    "status IN ('pending', 'sending')") == 0)
			break;
		sleep_ms(100);
	}
	sleep_ms(300);
}

static long
get_user(const char *bearer, struct resp *r)
{
	char		 auth[8300];
	const char	*h[2] = { auth, NULL };

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	return (http("GET", "/api/v1/auth/user", h, NULL, 0, r));
}

static long
otp_verify(const char *email, const char *code, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"code\":\"%s\"}",
	    email, code);
	return (http_post_as("/api/v1/auth/otp/verify", NULL, body, r));
}

/* Forget the rate limit of `email` so the next request sends again. */
static void
rate_reset(const char *email)
{
	psql_ok("UPDATE email_send_limits SET sent_at = now() - "
	    "interval '1 day' WHERE email = '%s'", email);
}

static void
expect_error(long got, struct resp *r, long status, const char *code)
{
	if (got != status)
		fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code,
		    got, r->body);
	assert_error(r, status, code);
	resp_free(r);
}

/* ---- verification ---- */

static void
test_signup_verification(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], tok[128], *m;

	signup(new_email("verify", email, sizeof(email)), PW, &s);
	m = mail_next(email);
	assert_header(m, "Subject: Confirm your e-mail address\r\n");
	assert_header(m, "From: korebase@test.invalid\r\n");
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok, sizeof(tok));
	free(m);

	/* Not confirmed yet. */
	assert_int_equal(get_user(s.access, &r), 200);
	assert_true(json_is_null(json_object_get(r.json,
	    "email_confirmed_at")));
	resp_free(&r);

	/* Only the hash is stored, and the sent mail lost its body. */
	assert_int_equal(psql_count("SELECT count(*) FROM email_tokens WHERE "
	    "token_hash = '%s'", tok), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM email_tokens WHERE "
	    "user_id = '%s' AND kind = 'verify' AND token_hash = "
	    "encode(sha256(convert_to('%s', 'UTF8')), 'hex')", s.user_id,
	    tok), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE "
	    "to_addr = '%s' AND status = 'sent' AND body = '' AND "
	    "attempts = 1 AND sent_at IS NOT NULL", email), 1);

	/* Follow the link. */
	assert_int_equal(post_token("/api/v1/auth/verify-email", tok, &r),
	    200);
	assert_string_equal(jstr(r.json, "id"), s.user_id);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);
	assert_int_equal(get_user(s.access, &r), 200);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'email.verify' AND actor_id = '%s'", s.user_id), 1);

	/* Single use. */
	expect_error(post_token("/api/v1/auth/verify-email", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");

	/* Confirmed: a resend sends nothing, with the same answer. */
	rate_reset(email);
	request_ok("/api/v1/auth/verify-email/resend", email);
	mail_settle();
	assert_int_equal(mail_count(email), 1);
}

static void
test_verify_bad_tokens(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], tok[128], *m;
	const char	*bad[] = {
		"", "kbev_", "kbev_short",
		"kbml_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",		/* another kind's prefix */
		"kbev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",		/* one character short */
		"kbev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",		/* one too many */
		"kbev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",		/* not base64url */
		"kbev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	};
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_token("/api/v1/auth/verify-email", bad[i], &r);
		expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	}
	assert_int_equal(http_post_as("/api/v1/auth/verify-email", NULL, "{}", &r),
	    400);
	assert_true(error_has_path(&r, "/body/token"));
	resp_free(&r);
	expect_error(http_post_as("/api/v1/auth/verify-email", NULL, "{\"token\":",
	    &r), &r, 400, "INVALID_JSON");
	expect_error(http_post_as("/api/v1/auth/verify-email", NULL,
	    "{\"token\":42}", &r), &r, 400, "VALIDATION_FAILED");

	/* Well formed, unknown. */
	expect_error(post_token("/api/v1/auth/verify-email",
	    "kbev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &r), &r, 400,
	    "INVALID_EMAIL_TOKEN");

	/* Expired. */
	signup(new_email("vexp", email, sizeof(email)), PW, &s);
	m = mail_next(email);
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok, sizeof(tok));
	free(m);
	psql_ok("UPDATE email_tokens SET expires_at = now() - interval '1 s' "
	    "WHERE user_id = '%s'", s.user_id);
	expect_error(post_token("/api/v1/auth/verify-email", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");
	assert_int_equal(get_user(s.access, &r), 200);
	assert_true(json_is_null(json_object_get(r.json,
	    "email_confirmed_at")));
	resp_free(&r);

	/* A verification token is not a reset token or a magic link. */
	tok[2] = 'p';
	tok[3] = 'r';
	expect_error(post_token("/api/v1/auth/password/reset/verify", tok,
	    &r), &r, 400, "INVALID_EMAIL_TOKEN");
}

static void
test_verify_resend(void **state)
{
	struct sess	 s;
	struct resp	 r, r2;
	char		 email[128], unknown[128], tok1[128], tok2[128], *m;

	signup(new_email("resend", email, sizeof(email)), PW, &s);
	m = mail_next(email);
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok1, sizeof(tok1));
	free(m);

	/* Within the rate limit: the same answer, no mail. */
	request_ok("/api/v1/auth/verify-email/resend", email);
	mail_settle();
	assert_int_equal(mail_count(email), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'email.verify.request' AND actor_id = '%s' AND "
	    "(details->>'rate_limited')::boolean", s.user_id), 1);

	/* After it: a new link, and the old one stops working. */
	rate_reset(email);
	request_ok("/api/v1/auth/verify-email/resend", email);
	m = mail_next(email);
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok2, sizeof(tok2));
	free(m);
	assert_string_not_equal(tok1, tok2);
	expect_error(post_token("/api/v1/auth/verify-email", tok1, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");
	assert_int_equal(post_token("/api/v1/auth/verify-email", tok2, &r),
	    200);
	resp_free(&r);

	/* An unknown address: byte-for-byte the same answer, no mail. */
	new_email("nobody", unknown, sizeof(unknown));
	assert_int_equal(post_email("/api/v1/auth/verify-email/resend",
	    unknown, &r), 202);
	rate_reset(email);
	assert_int_equal(post_email("/api/v1/auth/verify-email/resend",
	    email, &r2), 202);
	assert_string_equal(r.body, r2.body);
	resp_free(&r);
	resp_free(&r2);
	mail_settle();
	assert_int_equal(mail_count(unknown), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE "
	    "to_addr = '%s'", unknown), 0);

	/* Bad input. */
	post_email("/api/v1/auth/verify-email/resend", "not-an-address", &r);
	assert_true(error_has_path(&r, "/body/email"));
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
}

/* Changing the address un-confirms it, and old links stop working. */
static void
test_email_change(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], email2[128], tok[128], tok2[128];
	char		 body[256], auth[4200], *m;
	const char	*h[3] = { "Content-Type: application/json", auth, NULL };

	signup(new_email("change", email, sizeof(email)), PW, &s);
	m = mail_next(email);
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok, sizeof(tok));
	free(m);

	new_email("changed", email2, sizeof(email2));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s.access);
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email2);
	assert_int_equal(http("PATCH", "/api/v1/auth/user", h, body,
	    strlen(body), &r), 200);
	assert_string_equal(jstr(r.json, "email"), email2);
	assert_true(json_is_null(json_object_get(r.json,
	    "email_confirmed_at")));
	resp_free(&r);

	/* The link was for the old address. */
	expect_error(post_token("/api/v1/auth/verify-email", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");

	/* Verify the new one; then a change clears it again. */
	request_ok("/api/v1/auth/verify-email/resend", email2);
	m = mail_next(email2);
	mail_link(m, "/api/v1/auth/verify-email", "kbev_", tok2,
	    sizeof(tok2));
	free(m);
	assert_int_equal(post_token("/api/v1/auth/verify-email", tok2, &r),
	    200);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);
	/* Other changes, or the same address in upper case, keep it. */
	snprintf(body, sizeof(body), "{\"data\":{\"x\":1}}");
	assert_int_equal(http("PATCH", "/api/v1/auth/user", h, body,
	    strlen(body), &r), 200);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);
	for (m = email2; *m != '\0'; m++)
		*m = (char)toupper((unsigned char)*m);
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email2);
	assert_int_equal(http("PATCH", "/api/v1/auth/user", h, body,
	    strlen(body), &r), 200);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
	assert_int_equal(http("PATCH", "/api/v1/auth/user", h, body,
	    strlen(body), &r), 200);
	assert_true(json_is_null(json_object_get(r.json,
	    "email_confirmed_at")));
	resp_free(&r);
}

/* ---- magic links ---- */

static void
magic_token(const char *email, char *tok, size_t len)
{
	char	*m;

	request_ok("/api/v1/auth/magiclink", email);
	m = mail_next(email);
	assert_header(m, "Subject: Your sign-in link\r\n");
	mail_link(m, "/api/v1/auth/magiclink/verify", "kbml_", tok, len);
	free(m);
}

static void
test_magiclink(void **state)
{
	struct sess	 s, s2;
	struct resp	 r, r2;
	char		 email[128], unknown[128], tok[128];

	signup(new_email("magic", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	magic_token(email, tok, sizeof(tok));

	assert_int_equal(post_token("/api/v1/auth/magiclink/verify", tok, &r),
	    200);
	sess_from(&r, &s2);
	assert_string_equal(s2.user_id, s.user_id);
	assert_non_null(jstr(json_object_get(r.json, "user"),
	    "email_confirmed_at"));
	assert_string_equal(jstr(r.json, "token_type"), "bearer");
	resp_free(&r);
	assert_int_equal(get_user(s2.access, &r), 200);
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin' AND actor_id = '%s' AND "
	    "details->>'method' = 'magiclink'", s.user_id), 1);

	/* Used up. */
	expect_error(post_token("/api/v1/auth/magiclink/verify", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");
	/* Malformed, unknown. */
	post_token("/api/v1/auth/magiclink/verify", "kbml_x", &r);
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	expect_error(post_token("/api/v1/auth/magiclink/verify",
	    "kbml_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", &r), &r, 400,
	    "INVALID_EMAIL_TOKEN");

	/* Expired. */
	rate_reset(email);
	magic_token(email, tok, sizeof(tok));
	psql_ok("UPDATE email_tokens SET expires_at = now() - interval '1 s' "
	    "WHERE user_id = '%s' AND kind = 'magiclink'", s.user_id);
	expect_error(post_token("/api/v1/auth/magiclink/verify", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");

	/*
	 * An unknown address: the same answer, no mail, no account
	 * (KB_AUTH_OTP_CREATE_USER is off).
	 */
	new_email("nomagic", unknown, sizeof(unknown));
	assert_int_equal(post_email("/api/v1/auth/magiclink", unknown, &r),
	    202);
	rate_reset(email);
	assert_int_equal(post_email("/api/v1/auth/magiclink", email, &r2),
	    202);
	assert_string_equal(r.body, r2.body);
	resp_free(&r);
	resp_free(&r2);
	mail_skip(email, 1);
	mail_settle();
	assert_int_equal(mail_count(unknown), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE "
	    "email = '%s'", unknown), 0);
}

/* Turn 2FA on for s; one recovery code into rc. */
static void
mfa_on(struct sess *s, char *rc, size_t len)
{
	struct resp	r;
	char		secret[64], code[7], body[64];

	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", s->access, NULL, &r),
	    200);
	snprintf(secret, sizeof(secret), "%s", jstr(r.json, "secret"));
	resp_free(&r);
	totp_code(secret, (long long)time(NULL) / 30, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	if (http_post_as("/api/v1/auth/2fa/enable", s->access, body, &r) != 200)
		fprintf(stderr, "2fa enable: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	snprintf(rc, len, "%s", json_string_value(json_array_get(
	    json_object_get(r.json, "recovery_codes"), 0)));
	resp_free(&r);
}

static void
mfa_finish(const char *challenge, const char *rc, const char *user_id)
{
	struct resp	r;
	struct sess	s;
	char		body[512];

	snprintf(body, sizeof(body),
	    "{\"challenge_token\":\"%s\",\"code\":\"%s\"}", challenge, rc);
	if (http_post_as("/api/v1/auth/2fa/verify", NULL, body, &r) != 200)
		fprintf(stderr, "2fa verify: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, &s);
	assert_string_equal(s.user_id, user_id);
	resp_free(&r);
}

static void
test_magiclink_mfa(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], tok[128], rc[32], challenge[256];

	signup(new_email("magicmfa", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	mfa_on(&s, rc, sizeof(rc));
	magic_token(email, tok, sizeof(tok));

	/* 2FA on: a challenge, not tokens. */
	assert_int_equal(post_token("/api/v1/auth/magiclink/verify", tok, &r),
	    200);
	assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
	assert_null(json_object_get(r.json, "access_token"));
	assert_null(json_object_get(r.json, "refresh_token"));
	snprintf(challenge, sizeof(challenge), "%s",
	    jstr(r.json, "challenge_token"));
	resp_free(&r);
	/* The link is used up all the same. */
	expect_error(post_token("/api/v1/auth/magiclink/verify", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");
	mfa_finish(challenge, rc, s.user_id);
}

/* ---- password reset ---- */

static void
reset_token(const char *email, char *tok, size_t len)
{
	char	*m;

	request_ok("/api/v1/auth/password/reset", email);
	m = mail_next(email);
	assert_header(m, "Subject: Reset your password\r\n");
	mail_link(m, "/api/v1/auth/password/reset", "kbpr_", tok, len);
	free(m);
}

static long
reset_confirm(const char *tok, const char *pw, struct resp *r)
{
	char	body[2048];

	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"%s\"}",
	    tok, pw);
	return (http_post_as("/api/v1/auth/password/reset/confirm", NULL, body, r));
}

static void
test_password_reset(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], unknown[128], tok[128], body[256];
	int		 i;

	signup(new_email("reset", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	reset_token(email, tok, sizeof(tok));

	/* Verify does not use it up. */
	for (i = 0; i < 2; i++) {
		assert_int_equal(post_token(
		    "/api/v1/auth/password/reset/verify", tok, &r), 200);
		assert_true(json_is_true(json_object_get(r.json, "valid")));
		assert_non_null(jstr(r.json, "expires_at"));
		resp_free(&r);
	}

	/* Bad new passwords and tokens. */
	reset_confirm(tok, "short", &r);
	assert_true(error_has_path(&r, "/body/password"));
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	http_post_as("/api/v1/auth/password/reset/confirm", NULL, body, &r);
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	expect_error(reset_confirm(
	    "kbpr_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", PW2, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");
	reset_confirm("kbpr_", PW2, &r);
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");

	/* Confirm. */
	if (reset_confirm(tok, PW2, &r) != 204)
		fprintf(stderr, "confirm: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 204);
	resp_free(&r);

	/* Every session ended; only the new password works. */
	expect_error(get_user(s.access, &r), &r, 401, "UNAUTHORIZED");
	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", s.refresh);
	expect_error(http_post_as("/api/v1/auth/refresh", NULL, body, &r), &r, 401,
	    "INVALID_REFRESH_TOKEN");
	expect_error(signin(email, PW, &r), &r, 401, "INVALID_CREDENTIALS");
	assert_int_equal(signin(email, PW2, &r), 200);
	assert_non_null(jstr(json_object_get(r.json, "user"),
	    "email_confirmed_at"));
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.password_reset' AND actor_id = '%s' AND "
	    "(details->>'sessions_revoked')::int = 1", s.user_id), 1);

	/* Used up. */
	expect_error(reset_confirm(tok, PW2, &r), &r, 400, "INVALID_EMAIL_TOKEN");
	expect_error(post_token("/api/v1/auth/password/reset/verify", tok,
	    &r), &r, 400, "INVALID_EMAIL_TOKEN");

	/* Expired. */
	rate_reset(email);
	reset_token(email, tok, sizeof(tok));
	psql_ok("UPDATE email_tokens SET expires_at = now() - interval '1 s' "
	    "WHERE user_id = '%s' AND kind = 'reset'", s.user_id);
	expect_error(post_token("/api/v1/auth/password/reset/verify", tok,
	    &r), &r, 400, "INVALID_EMAIL_TOKEN");
	expect_error(reset_confirm(tok, PW, &r), &r, 400, "INVALID_EMAIL_TOKEN");
	assert_int_equal(signin(email, PW2, &r), 200);
	resp_free(&r);

	/* An unknown address: same answer, no mail. */
	request_ok("/api/v1/auth/password/reset",
	    new_email("noreset", unknown, sizeof(unknown)));
	mail_settle();
	assert_int_equal(mail_count(unknown), 0);
}

/* ---- one-time codes ---- */

static void
otp_code(const char *path, const char *email, char code[7])
{
	char	*m;

	request_ok(path, email);
	m = mail_next(email);
	assert_header(m, "Subject: Your sign-in code\r\n");
	mail_code(m, code);
	free(m);
}

static void
other_code(const char *code, char out[7])
{
	unsigned int	v = ((unsigned int)atoi(code) + 1) % 1000000;

	snprintf(out, 7, "%06u", v % 1000000);
}

static void
test_otp(void **state)
{
	struct sess	 s, s2;
	struct resp	 r;
	char		 email[128], upper[128], code[7], wrong[7];
	size_t		 i;

	signup(new_email("otp", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	otp_code("/api/v1/auth/otp/signin", email, code);

	other_code(code, wrong);
	expect_error(otp_verify(email, wrong, &r), &r, 400, "INVALID_OTP");
	/* The address is case-insensitive. */
	for (i = 0; email[i] != '\0'; i++)
		upper[i] = (char)toupper((unsigned char)email[i]);
	upper[i] = '\0';
	if (otp_verify(upper, code, &r) != 200)
		fprintf(stderr, "otp verify: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, &s2);
	assert_string_equal(s2.user_id, s.user_id);
	resp_free(&r);
	assert_int_equal(get_user(s2.access, &r), 200);
	assert_non_null(jstr(r.json, "email_confirmed_at"));
	resp_free(&r);

	/* Used up. */
	expect_error(otp_verify(email, code, &r), &r, 400, "INVALID_OTP");

	/* Malformed. */
	otp_verify(email, "12345", &r);
	assert_true(error_has_path(&r, "/body/code"));
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	otp_verify(email, "abcdef", &r);
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
	otp_verify("nope", "123456", &r);
	expect_error(r.status, &r, 400, "VALIDATION_FAILED");
}

static void
test_otp_attempts(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], code[7], code2[7], wrong[7];
	int		 i;

	signup(new_email("otpmax", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	otp_code("/api/v1/auth/otp/signin", email, code);

	/* Resend within the rate limit: nothing new, the code still works. */
	request_ok("/api/v1/auth/otp/resend", email);
	mail_settle();
	assert_int_equal(mail_count(email), 2);

	/*
	 * A resend after it replaces the code: the old one is now a wrong
	 * try at the new one.
	 */
	rate_reset(email);
	otp_code("/api/v1/auth/otp/resend", email, code2);
	other_code(code2, wrong);
	if (strcmp(code, code2) == 0)
		snprintf(code, sizeof(code), "%s", wrong);
	expect_error(otp_verify(email, code, &r), &r, 400, "INVALID_OTP");

	/* Four more wrong codes kill it; then even the right one fails. */
	for (i = 0; i < 4; i++)
		expect_error(otp_verify(email, wrong, &r), &r, 400,
		    "INVALID_OTP");
	expect_error(otp_verify(email, code2, &r), &r, 400, "INVALID_OTP");
	assert_int_equal(psql_count("SELECT count(*) FROM email_tokens WHERE "
	    "user_id = '%s' AND kind = 'otp' AND attempts = 5 AND "
	    "used_at IS NOT NULL", s.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'email.otp.failed' AND actor_id = '%s'", s.user_id),
	    5);

	/* Expired. */
	rate_reset(email);
	otp_code("/api/v1/auth/otp/signin", email, code);
	psql_ok("UPDATE email_tokens SET expires_at = now() - interval '1 s' "
	    "WHERE user_id = '%s' AND kind = 'otp'", s.user_id);
	expect_error(otp_verify(email, code, &r), &r, 400, "INVALID_OTP");

	/* No code ever sent / unknown address. */
	expect_error(otp_verify("never-sent@example.com", "123456", &r), &r,
	    400, "INVALID_OTP");
}

static void
test_otp_unknown_and_mfa(void **state)
{
	struct sess	 s;
	struct resp	 r, r2;
	char		 email[128], unknown[128], code[7], rc[32];

	/* Unknown: the same answer as a known address; no mail, no user. */
	new_email("nootp", unknown, sizeof(unknown));
	signup(new_email("otpmfa", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);
	assert_int_equal(post_email("/api/v1/auth/otp/signin", unknown, &r),
	    202);
	assert_int_equal(post_email("/api/v1/auth/otp/signin", email, &r2),
	    202);
	assert_string_equal(r.body, r2.body);
	resp_free(&r);
	resp_free(&r2);
	{
		char *m = mail_next(email);

		mail_code(m, code);
		free(m);
	}
	mail_settle();
	assert_int_equal(mail_count(unknown), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE "
	    "email = '%s'", unknown), 0);
	expect_error(otp_verify(unknown, "123456", &r), &r, 400,
	    "INVALID_OTP");

	/* 2FA on: the right code gives a challenge, not a session. */
	mfa_on(&s, rc, sizeof(rc));
	assert_int_equal(otp_verify(email, code, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
	assert_null(json_object_get(r.json, "access_token"));
	mfa_finish(jstr(r.json, "challenge_token"), rc, s.user_id);
	resp_free(&r);
}

/* ---- delivery ---- */

static char *
fail_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/.fail", getenv("KB_MAIL_DIR"));
	return (buf);
}

/* Wait until `sql` counts 1. */
static void
wait_for(const char *what, const char *fmt, const char *arg)
{
	int	i;

	for (i = 0; i < 200; i++) {
		if (psql_count(fmt, arg) == 1)
			return;
		sleep_ms(100);
	}
	fprintf(stderr, "timed out waiting for %s\n", what);
	fail();
}

static void
test_retry(void **state)
{
	struct sess	 s;
	struct resp	 r;
	char		 email[128], email2[128], path[1024], code[7], *m;
	FILE		*f;

	signup(new_email("retry", email, sizeof(email)), PW, &s);
	mail_skip(email, 1);

	/* The SMTP server refuses (451): attempts grow, the error is kept. */
	assert_non_null(f = fopen(fail_path(path, sizeof(path)), "w"));
	fclose(f);
	request_ok("/api/v1/auth/otp/signin", email);
	wait_for("a second failed attempt", "SELECT count(*) FROM mail_outbox"
	    " WHERE to_addr = '%s' AND kind = 'otp' AND status = 'pending'"
	    " AND attempts >= 2 AND last_error LIKE '%%451%%'", email);
	assert_int_equal(mail_count(email), 1);
	/* Waiting, the body is sealed: no code in the table. */
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE"
	    " to_addr = '%s' AND kind = 'otp' AND body LIKE 'kbs1.%%'"
	    " AND body NOT LIKE '%%code%%'", email), 1);

	/* It accepts again: the retry delivers, once. */
	assert_int_equal(unlink(path), 0);
	m = mail_next(email);
	mail_code(m, code);
	free(m);
	wait_for("the mail sent", "SELECT count(*) FROM mail_outbox WHERE"
	    " to_addr = '%s' AND kind = 'otp' AND status = 'sent'"
	    " AND attempts >= 3 AND body = ''", email);
	assert_int_equal(otp_verify(email, code, &r), 200);
	resp_free(&r);

	/* Refused every time: failed after KB_MAIL_MAX_ATTEMPTS (4). */
	signup(new_email("failed", email2, sizeof(email2)), PW, &s);
	mail_skip(email2, 1);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	request_ok("/api/v1/auth/magiclink", email2);
	wait_for("the mail failed", "SELECT count(*) FROM mail_outbox WHERE"
	    " to_addr = '%s' AND kind = 'magiclink' AND status = 'failed'"
	    " AND attempts = 4 AND body = '' AND last_error LIKE '%%451%%'",
	    email2);
	assert_int_equal(unlink(path), 0);
	mail_settle();
	assert_int_equal(mail_count(email2), 1);
}

/* Two workers, two senders: every mail goes out exactly once. */
static void
test_no_duplicates(void **state)
{
	struct sess	 s[12];
	char		 email[12][128];
	int		 i;

	for (i = 0; i < 12; i++) {
		signup(new_email("burst", email[i], sizeof(email[i])), PW, &s[i]);
		request_ok("/api/v1/auth/magiclink", email[i]);
	}
	mail_settle();
	for (i = 0; i < 12; i++) {
		mail_skip(email[i], 2);
		assert_int_equal(mail_count(email[i]), 2);
	}
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE "
	    "to_addr LIKE 'burst-%%' AND (status <> 'sent' OR attempts <> 1)"),
	    0);
}

/* ---- development server: mail in the log, KB_AUTH_OTP_CREATE_USER=1 ---- */

/*
 * The text after `marker` in the dev server's log line of the mail to
 * `to` (the line is JSON: line breaks are escaped), up to `n` bytes of
 * [A-Za-z0-9_-]; waits for it.
 */
static void
dev_log_find(const char *to, const char *marker, char *out, size_t n)
{
	char		 want[256], *log, *line, *end, *p;
	size_t		 i;
	int		 waited;

	snprintf(want, sizeof(want), "To: %s\\n", to);
	for (waited = 0; waited < MAIL_WAIT_MS; waited += 100) {
		assert_non_null(log = read_file(getenv("KB_DEV_LOG")));
		if ((line = strstr(log, want)) != NULL) {
			if ((end = strchr(line, '\n')) != NULL)
				*end = '\0';
			p = strstr(line, marker);
			if (p == NULL)
				fprintf(stderr, "no '%s' in %s\n", marker, line);
			assert_non_null(p);
			p += strlen(marker);
			for (i = 0; i + 1 < n && (isalnum((unsigned char)p[i]) ||
			    p[i] == '_' || p[i] == '-'); i++)
				out[i] = p[i];
			out[i] = '\0';
			free(log);
			return;
		}
		free(log);
		sleep_ms(100);
	}
	fprintf(stderr, "no mail to %s in the dev server's log\n", to);
	fail();
}

static void
test_dev_log_create_user(void **state)
{
	const char	*dev = getenv("KB_DEV_URL");
	struct resp	 r;
	struct sess	 s;
	char		 base[256], db[512], email[128], email2[128];
	char		 email3[128], code[16], tok[128], marker[512];

	if (dev == NULL || getenv("KB_DEV_DATABASE_URL") == NULL)
		skip();
	snprintf(base, sizeof(base), "%s", getenv("BASE_URL"));
	snprintf(db, sizeof(db), "%s", getenv("DATABASE_URL"));
	setenv("BASE_URL", dev, 1);
	setenv("DATABASE_URL", getenv("KB_DEV_DATABASE_URL"), 1);

	/* OTP to an address without an account: mailed (to the log). */
	new_email("devotp", email, sizeof(email));
	request_ok("/api/v1/auth/otp/signin", email);
	dev_log_find(email, "Your sign-in code is: ", code, sizeof(code));
	assert_int_equal(strlen(code), 6);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE "
	    "email = '%s'", email), 0);
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE "
	    "to_addr = '%s' AND status = 'sent' AND body = ''", email), 1);
	/* Using it creates the account, confirmed, without a password. */
	assert_int_equal(otp_verify(email, code, &r), 200);
	sess_from(&r, &s);
	assert_non_null(jstr(json_object_get(r.json, "user"),
	    "email_confirmed_at"));
	resp_free(&r);
	assert_int_equal(psql_count("SELECT count(*) FROM users WHERE "
	    "email = '%s' AND id = '%s'", email, s.user_id), 1);
	assert_int_equal(psql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.signin' AND actor_id = '%s' AND "
	    "(details->>'created')::boolean", s.user_id), 1);
	expect_error(signin(email, PW, &r), &r, 401, "INVALID_CREDENTIALS");

	/* The same for a magic link, whose link uses KB_PUBLIC_URL. */
	new_email("devmagic", email2, sizeof(email2));
	request_ok("/api/v1/auth/magiclink", email2);
	snprintf(marker, sizeof(marker), "%s/api/v1/auth/magiclink/verify"
	    "?token=", dev);
	dev_log_find(email2, marker, tok, sizeof(tok));
	assert_int_equal(strncmp(tok, "kbml_", 5), 0);
	assert_int_equal(post_token("/api/v1/auth/magiclink/verify", tok, &r),
	    200);
	sess_from(&r, &s);
	resp_free(&r);
	expect_error(post_token("/api/v1/auth/magiclink/verify", tok, &r), &r,
	    400, "INVALID_EMAIL_TOKEN");

	/* Password reset never mails an address without an account. */
	new_email("devreset", email3, sizeof(email3));
	request_ok("/api/v1/auth/password/reset", email3);
	sleep_ms(1000);
	assert_int_equal(psql_count("SELECT count(*) FROM mail_outbox WHERE "
	    "to_addr = '%s'", email3), 0);

	setenv("BASE_URL", base, 1);
	setenv("DATABASE_URL", db, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signup_verification),
		cmocka_unit_test(test_verify_bad_tokens),
		cmocka_unit_test(test_verify_resend),
		cmocka_unit_test(test_email_change),
		cmocka_unit_test(test_magiclink),
		cmocka_unit_test(test_magiclink_mfa),
		cmocka_unit_test(test_password_reset),
		cmocka_unit_test(test_otp),
		cmocka_unit_test(test_otp_attempts),
		cmocka_unit_test(test_otp_unknown_and_mfa),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_no_duplicates),
		cmocka_unit_test(test_dev_log_create_user),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: e-mail", tests,
	    NULL, NULL);
	curl_global_cleanup();
	return (failed != 0);
}
