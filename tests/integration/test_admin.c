/*
 * Integration tests of dashboard authentication (/api/v1/admin) and of
 * the session lifetime and password rehash of sign-in, against the real
 * server and PostgreSQL started by tests/integration/run.sh (BASE_URL,
 * DATABASE_URL, KB_JWT_SECRET, KB_SETUP_TOKEN).
 *
 * The suite runs after the auth suite on the same database; it creates
 * the instance's first administrator itself.  `test_admin disabled` and
 * `test_admin devmode` are run by run.sh against a second server without
 * KB_SETUP_TOKEN (and with KB_DEV_MODE=1 for the second).
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <argon2.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "http.h"

#define PW		"correct horse battery"
#define NSETUP		6

/* The administrator the concurrent setup created. */
static char	admin_email[128];

/* ---- helpers ---- */

/* A unique address for this run. */
static void
email_new(const char *tag, char *out, size_t len)
{
	static int	n;

	snprintf(out, len, "%s-%ld-%d-%d@example.com", tag, (long)time(NULL),
	    (int)getpid(), n++);
}

static long
login(const char *path, const char *email, const char *pw, struct resp *r)
{
	char	body[1024];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, pw);
	return (http_post_as(path, NULL, body, r));
}

static void
admin_login_ok(const char *email, struct sess *s)
{
	struct resp	r;

	if (login("/api/v1/admin/login", email, PW, &r) != 200)
		fprintf(stderr, "admin login %s: %ld %s\n", email, r.status,
		    r.body);
	assert_int_equal(r.status, 200);
	sess_from(&r, s);
	resp_free(&r);
}

static long
refresh(const char *path, const char *token, struct resp *r)
{
	char	body[512];

	snprintf(body, sizeof(body), "{\"refresh_token\":\"%s\"}", token);
	return (http_post_as(path, NULL, body, r));
}

static long
setup(const char *email, const char *token, struct resp *r)
{
	char	body[1024];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\","
	    "\"name\":\"Ada Admin\",\"setup_token\":\"%s\"}", email, PW,
	    token);
	return (http_post_as("/api/v1/admin/setup", NULL, body, r));
}

static const char *
setup_token(void)
{
	const char	*t = getenv("KB_SETUP_TOKEN");

	assert_non_null(t);
	return (t);
}

/*
 * Run `sql` with psql (from a file, so `$` needs no quoting); the first
 * line of its unaligned output into buf.
 */
static char *
admin_sql(char *buf, size_t len, const char *fmt, ...)
{
	char	 path[] = "/tmp/kb_test_admin_XXXXXX", cmd[512];
	FILE	*f, *p;
	va_list	 ap;
	int	 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "psql \"$DATABASE_URL\" -qAt "
	    "-v ON_ERROR_STOP=1 -f %s", path);
	assert_non_null(p = popen(cmd, "r"));
	buf[0] = '\0';
	if (fgets(buf, (int)len, p) != NULL)
		buf[strcspn(buf, "\n")] = '\0';
	assert_int_equal(pclose(p), 0);
	unlink(path);
	return (buf);
}

#define sql_count	sql_long

static long
sql_long(const char *fmt, ...)
{
	char	sql[4096], buf[64];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return (strtol(admin_sql(buf, sizeof(buf), "%s", sql), NULL, 10));
}

static void
assert_role(const char *jwt, const char *role)
{
	json_t	*c = jwt_claims(jwt);

	assert_non_null(c);
	assert_string_equal(jstr(c, "role"), role);
	json_decref(c);
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

static int
needs_setup(void)
{
	struct resp	r;
	int		v;

	assert_int_equal(http_get_as("/api/v1/admin/setup/status", NULL, &r), 200);
	assert_true(json_is_boolean(json_object_get(r.json, "needs_setup")));
	v = json_is_true(json_object_get(r.json, "needs_setup"));
	assert_int_equal(json_object_size(r.json), 1);
	resp_free(&r);
	return (v);
}

/* ---- setup ---- */

static void
test_status_initial(void **state)
{
	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE role IN "
	    "('admin', 'instance_admin')"), 0);
	assert_true(needs_setup());
}

static void
test_setup_bad_input(void **state)
{
	struct resp	r;

	http_post_as("/api/v1/admin/setup", NULL, "{\"email\":", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	http_post_as("/api/v1/admin/setup", NULL, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/email"));
	assert_true(error_has_path(&r, "/body/password"));
	assert_true(error_has_path(&r, "/body/setup_token"));
	resp_free(&r);

	http_post_as("/api/v1/admin/setup", NULL, "{\"email\":\"nope\","
	    "\"password\":\"short\",\"setup_token\":\"\",\"role\":\"x\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/email"));
	assert_true(error_has_path(&r, "/body/password"));
	assert_true(error_has_path(&r, "/body/setup_token"));
	assert_true(error_has_path(&r, "/body/role"));
	resp_free(&r);

	http_post_as("/api/v1/admin/login", NULL, "{\"email\":\"a@example.com\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/password"));
	resp_free(&r);

	http_post_as("/api/v1/admin/login", NULL, "not json", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	http_post_as("/api/v1/admin/refresh", NULL, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/refresh_token"));
	resp_free(&r);

	http_post_as("/api/v1/admin/refresh", NULL, "[", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	assert_true(needs_setup());
}

static void
test_setup_wrong_token(void **state)
{
	struct resp	r;
	char		email[128], tok[512];

	email_new("wrongtok", email, sizeof(email));
	setup(email, "kbsetup_not-the-token", &r);
	assert_error(&r, 403, "INVALID_SETUP_TOKEN");
	resp_free(&r);

	/* The right token with a character more, or one less. */
	snprintf(tok, sizeof(tok), "%sx", setup_token());
	setup(email, tok, &r);
	assert_error(&r, 403, "INVALID_SETUP_TOKEN");
	resp_free(&r);
	snprintf(tok, sizeof(tok), "%.*s", (int)strlen(setup_token()) - 1,
	    setup_token());
	setup(email, tok, &r);
	assert_error(&r, 403, "INVALID_SETUP_TOKEN");
	resp_free(&r);

	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email ="
	    " '%s'", email), 0);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.setup.rejected' AND details->>'reason' = "
	    "'invalid_token'"), 3);
	assert_true(needs_setup());
}

static void
test_setup_email_exists(void **state)
{
	struct sess	u;
	struct resp	r;
	char		email[128];

	email_new("taken", email, sizeof(email));
	signup(email, PW, &u);
	setup(email, setup_token(), &r);
	assert_error(&r, 409, "EMAIL_EXISTS");
	resp_free(&r);
	/* Not promoted, and setup is still open. */
	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email ="
	    " '%s' AND role = 'authenticated'", email), 1);
	assert_true(needs_setup());
	assert_int_equal(sql_count("SELECT count(*) FROM admin_setup"), 0);
}

/*
 * NSETUP processes set up at once, each with its own address: exactly
 * one gets 201, the others 409 SETUP_DONE.
 */
static void
test_setup_concurrent(void **state)
{
	char		emails[NSETUP][128];
	pid_t		pids[NSETUP];
	int		i, st, created = 0, done = 0, winner = -1;
	struct resp	r;
	json_t		*user;

	for (i = 0; i < NSETUP; i++)
		email_new("admin", emails[i], sizeof(emails[i]));
	for (i = 0; i < NSETUP; i++) {
		if ((pids[i] = fork()) == 0) {
			long	s = setup(emails[i], setup_token(), &r);
			int	code = 3;

			if (s == 201)
				code = 0;
			else if (s == 409 && r.json != NULL &&
			    strcmp(jstr(r.json, "code"), "SETUP_DONE") == 0)
				code = 1;
			else
				fprintf(stderr, "setup: %ld %s\n", s, r.body);
			_exit(code);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < NSETUP; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 0) {
			created++;
			winner = i;
		} else if (WEXITSTATUS(st) == 1)
			done++;
	}
	assert_int_equal(created, 1);
	assert_int_equal(done, NSETUP - 1);
	snprintf(admin_email, sizeof(admin_email), "%s", emails[winner]);

	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE role IN "
	    "('admin', 'instance_admin')"), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email ="
	    " '%s' AND role = 'admin' AND user_metadata->>'name' = "
	    "'Ada Admin'", admin_email), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM admin_setup a JOIN "
	    "users u ON u.id = a.admin_id WHERE u.email = '%s'",
	    admin_email), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.setup'"), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.setup.rejected' AND details->>'reason' = "
	    "'setup_done'"), NSETUP - 1);
	assert_false(needs_setup());

	/* The winner's tokens work: setup signs the administrator in. */
	assert_int_equal(login("/api/v1/admin/login", admin_email, PW, &r),
	    200);
	user = json_object_get(r.json, "user");
	assert_string_equal(jstr(user, "role"), "admin");
	resp_free(&r);
}

static void
test_setup_again(void **state)
{
	struct resp	r;
	char		email[128];

	email_new("late", email, sizeof(email));
	setup(email, setup_token(), &r);
	assert_error(&r, 409, "SETUP_DONE");
	resp_free(&r);
	/* Even with the administrator's own address. */
	setup(admin_email, setup_token(), &r);
	assert_error(&r, 409, "SETUP_DONE");
	resp_free(&r);
	/* A wrong token is still refused first. */
	setup(email, "wrong", &r);
	assert_error(&r, 403, "INVALID_SETUP_TOKEN");
	resp_free(&r);
	assert_false(needs_setup());
}

/* ---- login ---- */

static void
test_login(void **state)
{
	struct sess	 a;
	struct resp	 r;
	json_t		*c;

	admin_login_ok(admin_email, &a);
	assert_role(a.access, "admin");
	c = jwt_claims(a.access);
	assert_string_equal(jstr(c, "sub"), a.user_id);
	assert_non_null(jstr(c, "sid"));
	json_decref(c);

	assert_int_equal(http_get_as("/api/v1/admin/me", a.access, &r), 200);
	assert_string_equal(jstr(r.json, "id"), a.user_id);
	assert_string_equal(jstr(r.json, "email"), admin_email);
	assert_string_equal(jstr(r.json, "role"), "admin");
	assert_string_equal(jstr(r.json, "name"), "Ada Admin");
	assert_non_null(jstr(r.json, "created_at"));
	assert_non_null(jstr(r.json, "last_sign_in_at"));
	assert_true(json_is_false(json_object_get(r.json, "totp_enabled")));
	resp_free(&r);

	/* Case-insensitive address, like sign-in. */
	{
		char	up[128];
		size_t	i;

		for (i = 0; admin_email[i] != '\0' && i < sizeof(up) - 1; i++)
			up[i] = (char)(admin_email[i] >= 'a' &&
			    admin_email[i] <= 'z' ? admin_email[i] - 32 :
			    admin_email[i]);
		up[i] = '\0';
		assert_int_equal(login("/api/v1/admin/login", up, PW, &r),
		    200);
		resp_free(&r);
	}
	assert_true(sql_count("SELECT count(*) FROM audit_log WHERE action ="
	    " 'admin.login' AND actor_id = '%s'", a.user_id) >= 2);
}

/*
 * A user who is not an administrator, with the right password, gets
 * exactly what a wrong password and an unknown address get; the attempts
 * count towards the lockout.
 */
static void
test_login_non_admin(void **state)
{
	struct sess	u;
	struct resp	ra, rb, rc;
	char		email[128], unknown[128];
	int		i;

	email_new("user", email, sizeof(email));
	email_new("nobody", unknown, sizeof(unknown));
	signup(email, PW, &u);

	login("/api/v1/admin/login", email, PW, &ra);
	assert_error(&ra, 401, "INVALID_CREDENTIALS");
	login("/api/v1/admin/login", admin_email, "wrong password!", &rb);
	login("/api/v1/admin/login", unknown, PW, &rc);
	assert_same_error(&ra, &rb);
	assert_same_error(&ra, &rc);
	resp_free(&ra);
	resp_free(&rb);
	resp_free(&rc);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.login.failed' AND details->>'email' = '%s'",
	    email), 1);

	/* Four more (five in a row) lock the account, at sign-in too. */
	for (i = 0; i < 4; i++) {
		login("/api/v1/admin/login", email, PW, &ra);
		assert_error(&ra, 401, "INVALID_CREDENTIALS");
		resp_free(&ra);
	}
	login("/api/v1/admin/login", email, PW, &ra);
	assert_error(&ra, 429, "SIGNIN_LOCKED");
	resp_free(&ra);
	login("/api/v1/auth/signin", email, PW, &ra);
	assert_error(&ra, 429, "SIGNIN_LOCKED");
	resp_free(&ra);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.login.locked' AND details->>'email' = '%s'",
	    email), 1);

	/* The admin's wrong password was counted on the admin: reset it. */
	admin_login_ok(admin_email, &u);
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

/*
 * The answers take the same argon2id work: a non-administrator's right
 * password, a wrong password and an unknown address alike.  Generous
 * bounds (the fastest of three of each), as in the auth suite.
 */
static void
test_login_timing(void **state)
{
	struct sess	 u, v;
	struct resp	 r[3];
	char		 user[128], other[128], unknown[128], h[3][128];
	const char	*email[3], *pw[3];
	double		 best[3] = { 1e9, 1e9, 1e9 }, t0, t;
	int		 i, k;

	email_new("timing", user, sizeof(user));
	email_new("timing", other, sizeof(other));
	email_new("timing-none", unknown, sizeof(unknown));
	signup(user, PW, &u);
	signup(other, PW, &v);
	email[0] = user;	pw[0] = PW;
	email[1] = other;	pw[1] = "wrong password!";
	email[2] = unknown;	pw[2] = PW;
	for (i = 0; i < 3; i++) {
		for (k = 0; k < 3; k++) {
			t0 = now_ms();
			login("/api/v1/admin/login", email[k], pw[k], &r[k]);
			t = now_ms() - t0;
			best[k] = t < best[k] ? t : best[k];
			assert_error(&r[k], 401, "INVALID_CREDENTIALS");
			assert_non_null(resp_header(&r[k], "www-authenticate",
			    h[k], sizeof(h[k])));
		}
		assert_same_error(&r[0], &r[1]);
		assert_same_error(&r[0], &r[2]);
		assert_string_equal(h[0], h[1]);
		assert_string_equal(h[0], h[2]);
		for (k = 0; k < 3; k++)
			resp_free(&r[k]);
	}
	fprintf(stderr, "admin login failure: not an admin %.1f ms, wrong "
	    "password %.1f ms, unknown address %.1f ms\n", best[0], best[1],
	    best[2]);
	for (k = 0; k < 3; k++) {
		assert_true(best[k] > 2.0);
		assert_true(best[k] >= best[(k + 1) % 3] * 0.5);
	}
}

static void
test_instance_admin(void **state)
{
	struct sess	 u, a;
	struct resp	 r;
	char		 email[128];

	email_new("iadmin", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(sql_count("WITH u AS (UPDATE users SET role = "
	    "'instance_admin' WHERE email = '%s' RETURNING 1) "
	    "SELECT count(*) FROM u", email), 1);
	admin_login_ok(email, &a);
	assert_role(a.access, "instance_admin");
	assert_int_equal(http_get_as("/api/v1/admin/me", a.access, &r), 200);
	assert_string_equal(jstr(r.json, "role"), "instance_admin");
	assert_true(json_is_null(json_object_get(r.json, "name")));
	resp_free(&r);
	/* An instance administrator does not reopen setup either. */
	assert_false(needs_setup());
}

/* ---- who may call ---- */

static void
test_roles(void **state)
{
	struct sess	u, a;
	struct resp	r;
	char		email[128];

	email_new("plain", email, sizeof(email));
	signup(email, PW, &u);
	assert_role(u.access, "authenticated");

	http_get_as("/api/v1/admin/me", u.access, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	http_post_as("/api/v1/admin/logout", u.access, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);

	http_get_as("/api/v1/admin/me", NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	http_post_as("/api/v1/admin/logout", NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	http_get_as("/api/v1/admin/me", "not.a.token", &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);

	/* A user's refresh token is no good at /admin/refresh. */
	refresh("/api/v1/admin/refresh", u.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	/* ... and was not used up by it. */
	assert_int_equal(refresh("/api/v1/auth/refresh", u.refresh, &r), 200);
	resp_free(&r);

	/* The public ones take an administrator's token too. */
	admin_login_ok(admin_email, &a);
	assert_int_equal(http_get_as("/api/v1/admin/setup/status", a.access, &r),
	    200);
	resp_free(&r);
}

/* ---- refresh and logout ---- */

static void
test_refresh(void **state)
{
	struct sess	a, b;
	struct resp	r;

	admin_login_ok(admin_email, &a);
	assert_int_equal(refresh("/api/v1/admin/refresh", a.refresh, &r),
	    200);
	sess_from(&r, &b);
	resp_free(&r);
	assert_role(b.access, "admin");
	assert_string_not_equal(a.refresh, b.refresh);
	assert_int_equal(http_get_as("/api/v1/admin/me", b.access, &r), 200);
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.refresh' AND actor_id = '%s'", a.user_id) >= 1,
	    1);

	/* Reuse of the rotated token revokes the session. */
	refresh("/api/v1/admin/refresh", a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	refresh("/api/v1/admin/refresh", b.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	http_get_as("/api/v1/admin/me", b.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);

	refresh("/api/v1/admin/refresh", "kbrt_unknown", &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
}

/* An administrator demoted after login can no longer refresh. */
static void
test_refresh_demoted(void **state)
{
	struct sess	u, a;
	struct resp	r;
	char		email[128];

	email_new("demoted", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(sql_count("WITH u AS (UPDATE users SET role = "
	    "'admin' WHERE id = '%s' RETURNING 1) SELECT count(*) FROM u",
	    u.user_id), 1);
	admin_login_ok(email, &a);
	assert_int_equal(http_get_as("/api/v1/admin/me", a.access, &r), 200);
	resp_free(&r);

	assert_int_equal(sql_count("WITH u AS (UPDATE users SET role = "
	    "'authenticated' WHERE id = '%s' RETURNING 1) SELECT count(*) "
	    "FROM u", u.user_id), 1);
	refresh("/api/v1/admin/refresh", a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.refresh.rejected' AND details->>'user_id' = "
	    "'%s'", u.user_id), 1);
	/* Its access token still says admin, but /admin/me checks. */
	http_get_as("/api/v1/admin/me", a.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	/* And the login is refused like a wrong password. */
	login("/api/v1/admin/login", email, PW, &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
}

static void
test_logout(void **state)
{
	struct sess	a, other;
	struct resp	r;

	admin_login_ok(admin_email, &a);
	admin_login_ok(admin_email, &other);
	assert_int_equal(http_post_as("/api/v1/admin/logout", a.access, NULL, &r),
	    204);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'admin.logout' AND actor_id = '%s'", a.user_id), 1);

	refresh("/api/v1/admin/refresh", a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	refresh("/api/v1/auth/refresh", a.refresh, &r);
	assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
	resp_free(&r);
	http_get_as("/api/v1/admin/me", a.access, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	http_post_as("/api/v1/admin/logout", a.access, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);

	/* The other session is untouched. */
	assert_int_equal(http_get_as("/api/v1/admin/me", other.access, &r), 200);
	resp_free(&r);
	assert_int_equal(refresh("/api/v1/admin/refresh", other.refresh, &r),
	    200);
	resp_free(&r);
}

/* ---- two-factor authentication ---- */

/* An administrator with 2FA on gets a challenge, then an admin session. */
static void
test_login_mfa(void **state)
{
	struct sess	 u, a, b;
	struct resp	 r;
	char		 email[128], secret[64], code[7], body[512], rc[16];
	json_t		*codes;

	email_new("mfaadmin", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(sql_count("WITH u AS (UPDATE users SET role = "
	    "'admin' WHERE id = '%s' RETURNING 1) SELECT count(*) FROM u",
	    u.user_id), 1);
	admin_login_ok(email, &a);

	/* An administrator's token may manage its own 2FA. */
	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", a.access, NULL, &r),
	    200);
	snprintf(secret, sizeof(secret), "%s", jstr(r.json, "secret"));
	resp_free(&r);
	totp_code(secret, (long long)time(NULL) / 30, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	assert_int_equal(http_post_as("/api/v1/auth/2fa/enable", a.access, body, &r),
	    200);
	codes = json_object_get(r.json, "recovery_codes");
	snprintf(rc, sizeof(rc), "%s",
	    json_string_value(json_array_get(codes, 0)));
	resp_free(&r);
	assert_int_equal(http_get_as("/api/v1/admin/me", a.access, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "totp_enabled")));
	resp_free(&r);

	assert_int_equal(login("/api/v1/admin/login", email, PW, &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
	assert_null(json_object_get(r.json, "access_token"));
	snprintf(body, sizeof(body), "{\"challenge_token\":\"%s\","
	    "\"code\":\"%s\"}", jstr(r.json, "challenge_token"), rc);
	resp_free(&r);
	assert_int_equal(http_post_as("/api/v1/auth/2fa/verify", NULL, body, &r), 200);
	sess_from(&r, &b);
	resp_free(&r);
	assert_role(b.access, "admin");
	assert_int_equal(http_get_as("/api/v1/admin/me", b.access, &r), 200);
	resp_free(&r);
	assert_int_equal(refresh("/api/v1/admin/refresh", b.refresh, &r),
	    200);
	resp_free(&r);
	/* A wrong password is still a plain 401, not a challenge. */
	login("/api/v1/admin/login", email, "wrong password!", &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
}

/* A user with 2FA on gets no challenge from /admin/login: a plain 401. */
static void
test_login_mfa_non_admin(void **state)
{
	struct sess	 u;
	struct resp	 r;
	char		 email[128], secret[64], code[7], body[128];

	email_new("mfauser", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(http_post_as("/api/v1/auth/2fa/setup", u.access, NULL, &r),
	    200);
	snprintf(secret, sizeof(secret), "%s", jstr(r.json, "secret"));
	resp_free(&r);
	totp_code(secret, (long long)time(NULL) / 30, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	assert_int_equal(http_post_as("/api/v1/auth/2fa/enable", u.access, body, &r),
	    200);
	resp_free(&r);
	login("/api/v1/admin/login", email, PW, &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
}

/* ---- password rehash ---- */

/* An argon2id hash of PW with weaker parameters than the server's. */
static void
weak_hash(char *out, size_t len)
{
	unsigned char	salt[16];

	assert_int_equal(RAND_bytes(salt, sizeof(salt)), 1);
	assert_int_equal(argon2id_hash_encoded(1, 8192, 1, PW, strlen(PW),
	    salt, sizeof(salt), 32, out, len), ARGON2_OK);
	assert_int_equal(strncmp(out, "$argon2id$v=19$m=8192,t=1,p=1$", 30),
	    0);
}

static void
plant_weak(const char *user_id)
{
	char	hash[256], buf[16];

	weak_hash(hash, sizeof(hash));
	admin_sql(buf, sizeof(buf), "WITH u AS (UPDATE users SET "
	    "password_hash = '%s' WHERE id = '%s' RETURNING 1) "
	    "SELECT count(*) FROM u", hash, user_id);
	assert_string_equal(buf, "1");
}

static long
upgraded(const char *user_id)
{
	return (sql_count("SELECT count(*) FROM users WHERE id = '%s' AND "
	    "starts_with(password_hash, '$argon2id$v=19$m=19456,t=2,p=1$')",
	    user_id));
}

static void
test_rehash(void **state)
{
	struct sess	u, a;
	struct resp	r;
	char		email[128], aemail[128];

	email_new("rehash", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(upgraded(u.user_id), 1);
	plant_weak(u.user_id);
	assert_int_equal(upgraded(u.user_id), 0);

	/* A wrong password changes nothing. */
	login("/api/v1/auth/signin", email, "wrong password!", &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
	assert_int_equal(upgraded(u.user_id), 0);
	/* Nor does a right one at /admin/login by a non-administrator. */
	login("/api/v1/admin/login", email, PW, &r);
	assert_error(&r, 401, "INVALID_CREDENTIALS");
	resp_free(&r);
	assert_int_equal(upgraded(u.user_id), 0);

	assert_int_equal(login("/api/v1/auth/signin", email, PW, &r), 200);
	resp_free(&r);
	assert_int_equal(upgraded(u.user_id), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.password.rehash' AND actor_id = '%s'",
	    u.user_id), 1);
	/* The new hash works, and is not rehashed again. */
	assert_int_equal(login("/api/v1/auth/signin", email, PW, &r), 200);
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'user.password.rehash' AND actor_id = '%s'",
	    u.user_id), 1);

	/* A hash with stronger parameters than today's is kept. */
	{
		unsigned char	salt[16];
		char		hash[256], buf[16];

		assert_int_equal(RAND_bytes(salt, sizeof(salt)), 1);
		assert_int_equal(argon2id_hash_encoded(3, 19456, 1, PW,
		    strlen(PW), salt, sizeof(salt), 32, hash, sizeof(hash)),
		    ARGON2_OK);
		admin_sql(buf, sizeof(buf), "WITH u AS (UPDATE users SET "
		    "password_hash = '%s' WHERE id = '%s' RETURNING 1) "
		    "SELECT count(*) FROM u", hash, u.user_id);
		assert_string_equal(buf, "1");
		assert_int_equal(login("/api/v1/auth/signin", email, PW, &r),
		    200);
		resp_free(&r);
		assert_int_equal(sql_count("SELECT count(*) FROM users WHERE "
		    "id = '%s' AND password_hash = '%s'", u.user_id, hash), 1);
	}

	/* The same at /admin/login. */
	email_new("rehashadmin", aemail, sizeof(aemail));
	signup(aemail, PW, &a);
	assert_int_equal(sql_count("WITH u AS (UPDATE users SET role = "
	    "'admin' WHERE id = '%s' RETURNING 1) SELECT count(*) FROM u",
	    a.user_id), 1);
	plant_weak(a.user_id);
	admin_login_ok(aemail, &a);
	assert_int_equal(upgraded(a.user_id), 1);
	admin_login_ok(aemail, &a);
}

/* ---- session lifetime ---- */

/* Make the session of refresh token `rt` `age` old. */
static void
backdate_session(const char *rt, const char *age)
{
	assert_int_equal(sql_count("WITH s AS (UPDATE sessions SET "
	    "created_at = now() - interval '%s' FROM refresh_tokens t "
	    "WHERE t.session_id = sessions.id AND t.token_hash = "
	    "encode(sha256(convert_to('%s', 'UTF8')), 'hex') RETURNING 1) "
	    "SELECT count(*) FROM s", age, rt), 1);
}

static void
test_session_expiry(void **state)
{
	struct sess	u, a;
	struct resp	r;
	char		email[128];

	/* A session older than KB_SESSION_TTL (30 days by default). */
	email_new("expired", email, sizeof(email));
	signup(email, PW, &u);
	assert_int_equal(sql_count("WITH s AS (UPDATE sessions SET "
	    "created_at = now() - interval '31 days' WHERE user_id = '%s' "
	    "RETURNING 1) SELECT count(*) FROM s", u.user_id), 1);
	refresh("/api/v1/auth/refresh", u.refresh, &r);
	assert_error(&r, 401, "SESSION_EXPIRED");
	resp_free(&r);
	/* Still expired: the token was not used up, nor the session revoked. */
	refresh("/api/v1/auth/refresh", u.refresh, &r);
	assert_error(&r, 401, "SESSION_EXPIRED");
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "action = 'token.refresh.expired' AND details->>'user_id' = '%s'",
	    u.user_id), 2);

	/* A refresh token older than KB_REFRESH_TTL, in a young session. */
	assert_int_equal(login("/api/v1/auth/signin", email, PW, &r), 200);
	sess_from(&r, &u);
	resp_free(&r);
	assert_int_equal(sql_count("WITH t AS (UPDATE refresh_tokens SET "
	    "created_at = now() - interval '31 days' FROM sessions s WHERE "
	    "s.id = refresh_tokens.session_id AND s.user_id = '%s' AND "
	    "s.created_at > now() - interval '1 day' RETURNING 1) "
	    "SELECT count(*) FROM t", u.user_id), 1);
	refresh("/api/v1/auth/refresh", u.refresh, &r);
	assert_error(&r, 401, "SESSION_EXPIRED");
	resp_free(&r);

	/* Just inside the lifetime still works. */
	assert_int_equal(login("/api/v1/auth/signin", email, PW, &r), 200);
	sess_from(&r, &u);
	resp_free(&r);
	backdate_session(u.refresh, "29 days");
	assert_int_equal(refresh("/api/v1/auth/refresh", u.refresh, &r), 200);
	sess_from(&r, &u);
	resp_free(&r);

	/*
	 * Expired sessions are not listed: signup's (31 days old) is not;
	 * the 29-day-old one and the one with an old refresh token are.
	 */
	assert_int_equal(http_get_as("/api/v1/auth/sessions", u.access, &r), 200);
	assert_int_equal(json_array_size(r.json), 2);
	resp_free(&r);

	/* An administrator's session expires the same way. */
	admin_login_ok(admin_email, &a);
	backdate_session(a.refresh, "31 days");
	refresh("/api/v1/admin/refresh", a.refresh, &r);
	assert_error(&r, 401, "SESSION_EXPIRED");
	resp_free(&r);
}

/* ---- a server without KB_SETUP_TOKEN (run.sh) ---- */

static void
test_setup_disabled(void **state)
{
	struct resp	r;
	char		email[128];

	email_new("disabled", email, sizeof(email));
	setup(email, "anything", &r);
	assert_error(&r, 403, "SETUP_DISABLED");
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM users WHERE email ="
	    " '%s'", email), 0);
	assert_true(sql_count("SELECT count(*) FROM audit_log WHERE action ="
	    " 'admin.setup.rejected' AND details->>'reason' = 'disabled'")
	    >= 1);
}

/* KB_DEV_MODE=1 without a token: any token passes the gate. */
static void
test_setup_devmode(void **state)
{
	struct resp	r;
	char		email[128];

	email_new("devmode", email, sizeof(email));
	setup(email, "anything", &r);
	assert_error(&r, 409, "SETUP_DONE");
	resp_free(&r);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_initial),
		cmocka_unit_test(test_setup_bad_input),
		cmocka_unit_test(test_setup_wrong_token),
		cmocka_unit_test(test_setup_email_exists),
		cmocka_unit_test(test_setup_concurrent),
		cmocka_unit_test(test_setup_again),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_login_non_admin),
		cmocka_unit_test(test_login_timing),
		cmocka_unit_test(test_instance_admin),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_refresh_demoted),
		cmocka_unit_test(test_logout),
		cmocka_unit_test(test_login_mfa),
		cmocka_unit_test(test_login_mfa_non_admin),
		cmocka_unit_test(test_rehash),
		cmocka_unit_test(test_session_expiry),
	};
	const struct CMUnitTest disabled[] = {
		cmocka_unit_test(test_setup_disabled),
	};
	const struct CMUnitTest devmode[] = {
		cmocka_unit_test(test_setup_devmode),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	if (argc > 1 && strcmp(argv[1], "disabled") == 0)
		failed = cmocka_run_group_tests_name("integration: admin "
		    "(no setup token)", disabled, NULL, NULL);
	else if (argc > 1 && strcmp(argv[1], "devmode") == 0)
		failed = cmocka_run_group_tests_name("integration: admin "
		    "(development mode)", devmode, NULL, NULL);
	else
		failed = cmocka_run_group_tests_name("integration: admin",
		    tests, NULL, NULL);
	curl_global_cleanup();
	return (failed != 0);
}
