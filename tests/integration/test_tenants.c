/*
 * Integration tests of tenants, members, tenant settings, invitations and
 * tenant selection (X-FB-Tenant, tenant path parameters, tenant-scoped
 * service keys), against the real server and PostgreSQL started by
 * tests/integration/run.sh.  The cross-tenant suite tries every
 * tenant-scoped endpoint against another tenant's data and checks that
 * each attempt is refused and changes nothing.
 *
 * Cast: root (instance admin), alice (admin of tenant A), bob (admin of
 * B), carol (plain member of A), dave (in no tenant).
 */

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

#include "http.h"

#define PW	"correct horse battery"

struct who {
	char	token[4096];
	char	id[64];
	char	email[128];
};

static struct who	root, alice, bob, carol, dave;
static char		ta_id[64], tb_id[64], ta_slug[64], tb_slug[64];

/* ---- helpers ---- */

/*
 * `method` `path` as `as` (NULL: anon), with an optional extra header
 * ("X-FB-Tenant: b") and JSON body.  `as` may also be a raw key.
 */
static long
call(const char *method, const char *path, const char *as, const char *hdr,
    const char *body, struct resp *r)
{
	char		 auth[8300];
	const char	*h[4] = { "Content-Type: application/json", NULL, NULL,
			    NULL };
	int		 n = 1;

	if (as != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", as);
		h[n++] = auth;
	}
	if (hdr != NULL)
		h[n++] = hdr;
	/* Kore answers a POST without Content-Length 411: send an empty one. */
	if (body == NULL && strcmp(method, "POST") == 0)
		body = "";
	return (http(method, path, h, body, body ? strlen(body) : 0, r));
}

/* Like call() but asserts the status and frees the response. */
static void
expect(long status, const char *method, const char *path, const char *as,
    const char *hdr, const char *body)
{
	struct resp	r;

	call(method, path, as, hdr, body, &r);
	if (r.status != status)
		fprintf(stderr, "%s %s: expected %ld, got %ld: %s\n", method,
		    path, status, r.status, r.body);
	assert_int_equal(r.status, status);
	resp_free(&r);
}

/* One value from SQL, asserted to succeed. */
static void
sql_ok(const char *sql, char *out, size_t len)
{
	assert_int_equal(sql_value(sql, out, len), 0);
}

/* 1 once a mail holding `needle` reached the SMTP sink ($KB_MAIL_DIR). */
static int
mail_with(const char *needle)
{
	char	 cmd[512], out[512];
	FILE	*f;
	int	 i, found = 0;

	snprintf(cmd, sizeof(cmd), "grep -rlF -- '%s' \"$KB_MAIL_DIR\" "
	    "2>/dev/null", needle);
	for (i = 0; i < 150 && !found; i++) {
		if ((f = popen(cmd, "r")) == NULL)
			return (0);
		found = fgets(out, sizeof(out), f) != NULL;
		pclose(f);
		if (!found)
			usleep(100000);
	}
	return (found);
}

static void
user(struct who *w, const char *name)
{
	struct resp	r;
	char		body[512];

	snprintf(w->email, sizeof(w->email), "%s@tenants.test", name);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    w->email, PW);
	call("POST", "/api/v1/auth/signup", NULL, NULL, body, &r);
	assert_int_equal(r.status, 201);
	snprintf(w->id, sizeof(w->id), "%s",
	    jstr(json_object_get(r.json, "user"), "id"));
	snprintf(w->token, sizeof(w->token), "%s",
	    jstr(r.json, "access_token"));
	resp_free(&r);
}

static void
signin_who(struct who *w)
{
	struct resp	r;
	char		body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    w->email, PW);
	call("POST", "/api/v1/auth/signin", NULL, NULL, body, &r);
	assert_int_equal(r.status, 200);
	snprintf(w->token, sizeof(w->token), "%s",
	    jstr(r.json, "access_token"));
	resp_free(&r);
}

static void
tenant(const char *slug, const char *admin, char *id, size_t len)
{
	struct resp	r;
	char		body[512];

	snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"Tenant %s\","
	    "\"admin_user_id\":\"%s\"}", slug, slug, admin);
	call("POST", "/api/v1/admin/tenants", root.token, NULL, body, &r);
	if (r.status != 201)
		fprintf(stderr, "create tenant: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 201);
	snprintf(id, len, "%s", jstr(r.json, "id"));
	resp_free(&r);
}

static void
path(char *out, size_t len, const char *fmt, const char *t)
{
	snprintf(out, len, fmt, t);
}

static int
setup(void **state)
{
	char	sql[512];

	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	user(&root, "root");
	user(&alice, "alice");
	user(&bob, "bob");
	user(&carol, "carol");
	user(&dave, "dave");
	snprintf(sql, sizeof(sql), "UPDATE users SET role = 'admin' WHERE "
	    "id = '%s'", root.id);
	if (psql(sql) != 0)
		return (-1);
	signin_who(&root);
	snprintf(ta_slug, sizeof(ta_slug), "acme-%d", rand() % 100000);
	snprintf(tb_slug, sizeof(tb_slug), "globex-%d", rand() % 100000);
	tenant(ta_slug, alice.id, ta_id, sizeof(ta_id));
	tenant(tb_slug, bob.id, tb_id, sizeof(tb_id));
	snprintf(sql, sizeof(sql), "INSERT INTO tenant_members (tenant_id, "
	    "user_id) VALUES ('%s', '%s')", ta_id, carol.id);
	if (psql(sql) != 0)
		return (-1);
	return (0);
}

/* ---- tenants ---- */

static void
test_create(void **state)
{
	struct resp	r;
	char		body[256], slug[64];

	(void)state;
	snprintf(slug, sizeof(slug), "new-%d", rand() % 100000);
	snprintf(body, sizeof(body), "{\"slug\":\"%s\",\"name\":\"New\","
	    "\"metadata\":{\"plan\":\"pro\"}}", slug);
	call("POST", "/api/v1/admin/tenants", root.token, NULL, body, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(jstr(r.json, "slug"), slug);
	assert_string_equal(jstr(json_object_get(r.json, "metadata"), "plan"),
	    "pro");
	assert_true(json_is_null(json_object_get(r.json, "deleted_at")));
	resp_free(&r);

	call("POST", "/api/v1/admin/tenants", root.token, NULL, body, &r);
	assert_error(&r, 409, "TENANT_EXISTS");
	resp_free(&r);

	call("POST", "/api/v1/admin/tenants", root.token, NULL,
	    "{\"slug\":\"Bad Slug!\",\"name\":\"\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/slug"));
	assert_true(error_has_path(&r, "/body/name"));
	resp_free(&r);

	call("POST", "/api/v1/admin/tenants", root.token, NULL,
	    "{\"slug\":\"ghost-admin\",\"name\":\"x\",\"admin_user_id\":"
	    "\"00000000-0000-4000-8000-000000000000\"}", &r);
	assert_error(&r, 400, "USER_NOT_FOUND");
	resp_free(&r);

	/* Only instance administrators create tenants. */
	call("POST", "/api/v1/admin/tenants", alice.token, NULL, body, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	call("POST", "/api/v1/admin/tenants", NULL, NULL, body, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
}

static void
test_get_update(void **state)
{
	struct resp	r;
	char		p[256];

	(void)state;
	/* By slug and by id. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_slug);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "id"), ta_id);
	resp_free(&r);
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "slug"), ta_slug);
	resp_free(&r);

	/* A plain member is not a tenant admin. */
	call("GET", p, carol.token, NULL, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	/* Someone else's tenant, and one that does not exist, look alike. */
	call("GET", p, bob.token, NULL, NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/no-such-tenant", bob.token, NULL,
	    NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	/* An instance admin learns it does not exist. */
	call("GET", "/api/v1/admin/tenants/no-such-tenant", root.token, NULL,
	    NULL, &r);
	assert_error(&r, 404, "TENANT_NOT_FOUND");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/bad%20slug", root.token, NULL,
	    NULL, &r);
	assert_error(&r, 404, "TENANT_NOT_FOUND");
	resp_free(&r);

	call("PATCH", p, alice.token, NULL, "{\"name\":\"Acme Renamed\","
	    "\"metadata\":{\"tier\":2}}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "name"), "Acme Renamed");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(r.json, "metadata"), "tier")), 2);
	resp_free(&r);

	call("PATCH", p, alice.token, NULL, "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	call("PATCH", p, alice.token, NULL, "{\"owner\":\"me\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	{
		char body[128];

		snprintf(body, sizeof(body), "{\"slug\":\"%s\"}", tb_slug);
		call("PATCH", p, alice.token, NULL, body, &r);
		assert_error(&r, 409, "TENANT_EXISTS");
		resp_free(&r);
	}
}

static void
test_lists(void **state)
{
	struct resp	r;
	char		range[64];
	size_t		i;
	int		seen_a = 0, seen_b = 0;
	json_t		*t;

	(void)state;
	call("GET", "/api/v1/admin/tenants?limit=1000", root.token,
	    "Prefer: count=exact", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(r.json));
	json_array_foreach(r.json, i, t) {
		seen_a |= strcmp(jstr(t, "id"), ta_id) == 0;
		seen_b |= strcmp(jstr(t, "id"), tb_id) == 0;
	}
	assert_true(seen_a && seen_b);
	assert_non_null(resp_header(&r, "Content-Range", range,
	    sizeof(range)));
	assert_non_null(strchr(range, '/'));
	assert_true(range[strlen(range) - 1] != '*');
	resp_free(&r);

	call("GET", "/api/v1/admin/tenants", alice.token, NULL, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/deleted", alice.token, NULL, NULL,
	    &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants?limit=0", root.token, NULL, NULL,
	    &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	call("GET", "/api/v1/admin/tenants/mine", alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(jstr(json_array_get(r.json, 0), "id"), ta_id);
	assert_string_equal(jstr(json_array_get(r.json, 0), "role"), "admin");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/mine", carol.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(json_array_get(r.json, 0), "role"), "member");
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/mine", dave.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 0);
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/mine", NULL, NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
}

/* ---- members and admins ---- */

static void
test_members(void **state)
{
	struct resp	r;
	char		p[256], body[256];

	(void)state;
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/members", ta_id);
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", dave.email);
	call("POST", p, alice.token, NULL, body, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "user_id"), dave.id);
	assert_string_equal(jstr(r.json, "role"), "member");
	assert_string_equal(jstr(r.json, "tenant_id"), ta_id);
	resp_free(&r);

	call("GET", p, alice.token, "Prefer: count=exact", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 3);	/* alice carol dave */
	resp_free(&r);

	/* Exactly one of user_id and email; unknown users. */
	call("POST", p, alice.token, NULL, "{\"role\":\"member\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"user_id\":\"%s\"}",
	    dave.email, dave.id);
	call("POST", p, alice.token, NULL, body, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	call("POST", p, alice.token, NULL, "{\"email\":\"nobody@x.test\"}",
	    &r);
	assert_error(&r, 404, "USER_NOT_FOUND");
	resp_free(&r);
	call("POST", p, alice.token, NULL, "{\"email\":\"a@b.c\","
	    "\"role\":\"owner\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Admins: promote dave, list, demote. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/admins", ta_id);
	snprintf(body, sizeof(body), "{\"user_id\":\"%s\"}", dave.id);
	call("POST", p, alice.token, NULL, body, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "role"), "admin");
	resp_free(&r);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 2);
	resp_free(&r);
	/* dave can now administer A. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
	expect(200, "GET", p, dave.token, NULL, NULL);

	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/admins/%s", ta_id,
	    dave.id);
	expect(204, "DELETE", p, alice.token, NULL, NULL);
	expect(404, "DELETE", p, alice.token, NULL, NULL);  /* not an admin */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
	expect(403, "GET", p, dave.token, NULL, NULL);

	/* The last admin stays. */
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/admins/%s", ta_id,
	    alice.id);
	call("DELETE", p, alice.token, NULL, NULL, &r);
	assert_error(&r, 409, "LAST_TENANT_ADMIN");
	resp_free(&r);
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/members/%s", ta_id,
	    alice.id);
	call("DELETE", p, alice.token, NULL, NULL, &r);
	assert_error(&r, 409, "LAST_TENANT_ADMIN");
	resp_free(&r);

	/* Remove dave; again is 404; a malformed user id is 400. */
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/members/%s", ta_id,
	    dave.id);
	expect(204, "DELETE", p, alice.token, NULL, NULL);
	expect(404, "DELETE", p, alice.token, NULL, NULL);
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/members/not-a-uuid",
	    ta_id);
	expect(400, "DELETE", p, alice.token, NULL, NULL);
}

/* ---- settings ---- */

static void
test_settings(void **state)
{
	struct resp	r;
	char		p[256];

	(void)state;
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/settings", ta_id);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_size(r.json), 0);
	resp_free(&r);

	call("PATCH", p, alice.token, NULL, "{\"billing.plan\":\"pro\","
	    "\"features\":{\"beta\":true},\"limit\":5}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "billing.plan"), "pro");
	assert_int_equal(json_object_size(r.json), 3);
	resp_free(&r);

	/* null deletes; others are kept; the answer is every setting. */
	call("PATCH", p, alice.token, NULL, "{\"limit\":null,"
	    "\"billing.plan\":\"team\"}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_size(r.json), 2);
	assert_string_equal(jstr(r.json, "billing.plan"), "team");
	assert_true(json_is_true(json_object_get(json_object_get(r.json,
	    "features"), "beta")));
	resp_free(&r);

	/* Every bad key is reported. */
	call("PATCH", p, alice.token, NULL, "{\"bad key\":1,\"\":2,"
	    "\"ok\":3}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/bad key"));
	resp_free(&r);
	call("PATCH", p, alice.token, NULL, "[1,2]", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	call("PATCH", p, alice.token, NULL, "{\"a\":", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	path(p, sizeof(p), "/api/v1/admin/tenants/%s/settings/billing.plan",
	    ta_id);
	call("GET", p, carol.token, NULL, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "key"), "billing.plan");
	assert_string_equal(jstr(r.json, "value"), "team");
	resp_free(&r);
	expect(204, "DELETE", p, alice.token, NULL, NULL);
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	expect(404, "DELETE", p, alice.token, NULL, NULL);
}

/* ---- invitations ---- */

static void
test_invitations(void **state)
{
	struct resp	r;
	struct who	eve;
	char		p[512], token[128], inv_id[64], body[256];

	(void)state;
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/invitations", ta_id);
	call("POST", p, alice.token, NULL, "{\"email\":\"eve@tenants.test\","
	    "\"role\":\"admin\"}", &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(jstr(r.json, "status"), "pending");
	assert_int_equal(strncmp(jstr(r.json, "token"), "kbiv_", 5), 0);
	snprintf(token, sizeof(token), "%s", jstr(r.json, "token"));
	snprintf(inv_id, sizeof(inv_id), "%s", jstr(r.json, "id"));
	resp_free(&r);

	/* The invitee gets it by mail, through the outbox and SMTP. */
	if (getenv("KB_MAIL_DIR") != NULL)
		assert_true(mail_with(token));

	/* Only the hash is stored. */
	snprintf(body, sizeof(body), "SELECT count(*) FROM invitations WHERE "
	    "token_hash = '%s'", token);
	sql_ok(body, p, sizeof(p));
	assert_string_equal(p, "0");

	/* Validate: public. */
	snprintf(p, sizeof(p), "/api/v1/invitations/%s/validate", token);
	call("GET", p, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "email"), "eve@tenants.test");
	assert_string_equal(jstr(json_object_get(r.json, "tenant"), "slug"),
	    ta_slug);
	resp_free(&r);
	call("GET", "/api/v1/invitations/kbiv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAA/validate", NULL, NULL, NULL, &r);
	assert_error(&r, 404, "INVITATION_INVALID");
	resp_free(&r);
	call("GET", "/api/v1/invitations/not-a-token/validate", NULL, NULL,
	    NULL, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Accept: signed in, as the invited address. */
	snprintf(p, sizeof(p), "/api/v1/invitations/%s/accept", token);
	call("POST", p, NULL, NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	call("POST", p, dave.token, NULL, NULL, &r);
	assert_error(&r, 403, "INVITATION_EMAIL_MISMATCH");
	resp_free(&r);
	user(&eve, "eve");
	call("POST", p, eve.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "tenant_id"), ta_id);
	assert_string_equal(jstr(r.json, "role"), "admin");
	resp_free(&r);
	/* Single use. */
	call("POST", p, eve.token, NULL, NULL, &r);
	assert_error(&r, 404, "INVITATION_INVALID");
	resp_free(&r);
	snprintf(p, sizeof(p), "/api/v1/invitations/%s/validate", token);
	expect(404, "GET", p, NULL, NULL, NULL);
	/* eve is a tenant admin of A now. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
	expect(200, "GET", p, eve.token, NULL, NULL);

	/* Revoke: the token stops working; revoking twice is 404. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/invitations", ta_id);
	call("POST", p, alice.token, NULL, "{\"email\":\"frank@tenants.test\","
	    "\"expires_in\":3600}", &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(jstr(r.json, "role"), "member");
	snprintf(token, sizeof(token), "%s", jstr(r.json, "token"));
	snprintf(inv_id, sizeof(inv_id), "%s", jstr(r.json, "id"));
	resp_free(&r);
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/invitations/%s",
	    ta_id, inv_id);
	expect(204, "DELETE", p, alice.token, NULL, NULL);
	expect(404, "DELETE", p, alice.token, NULL, NULL);
	snprintf(p, sizeof(p), "/api/v1/invitations/%s/validate", token);
	expect(404, "GET", p, NULL, NULL, NULL);

	/* Bad input. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/invitations", ta_id);
	call("POST", p, alice.token, NULL, "{\"email\":\"not-an-address\","
	    "\"expires_in\":5}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/email"));
	assert_true(error_has_path(&r, "/body/expires_in"));
	resp_free(&r);

	/* The list shows each invitation's state. */
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 2);
	assert_string_equal(jstr(json_array_get(r.json, 0), "status"),
	    "revoked");
	assert_string_equal(jstr(json_array_get(r.json, 1), "status"),
	    "accepted");
	assert_null(json_object_get(json_array_get(r.json, 0), "token"));
	resp_free(&r);
}

/* ---- soft delete, recover, hard delete ---- */

static void
test_delete_recover(void **state)
{
	struct resp	r;
	char		id[64], slug[64], p[256], np[256];

	(void)state;
	snprintf(slug, sizeof(slug), "doomed-%d", rand() % 100000);
	tenant(slug, alice.id, id, sizeof(id));
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", id);
	path(np, sizeof(np), "/api/v1/admin/tenants/%s/recover", id);

	/* A tenant admin may soft-delete, not hard-delete. */
	{
		char hp[300];

		snprintf(hp, sizeof(hp), "%s?hard=yes", p);
		call("DELETE", hp, alice.token, NULL, NULL, &r);
		assert_error(&r, 400, "VALIDATION_FAILED");
		assert_true(error_has_path(&r, "/query/hard"));
		resp_free(&r);

		snprintf(hp, sizeof(hp), "%s?hard=true", p);
		call("DELETE", hp, alice.token, NULL, NULL, &r);
		assert_error(&r, 403, "FORBIDDEN");
		resp_free(&r);
	}
	expect(204, "DELETE", p, alice.token, NULL, NULL);
	/* Gone for its admin; listed as deleted for the instance admin. */
	call("GET", p, alice.token, NULL, NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	call("GET", p, root.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_string(json_object_get(r.json, "deleted_at")));
	resp_free(&r);
	call("GET", "/api/v1/admin/tenants/deleted", root.token, NULL, NULL,
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(json_array_get(r.json, 0), "id"), id);
	resp_free(&r);
	call("DELETE", p, root.token, NULL, NULL, &r);
	assert_error(&r, 409, "TENANT_DELETED");
	resp_free(&r);

	/* Recover: instance admins only; twice is 409. */
	expect(403, "POST", np, alice.token, NULL, NULL);
	call("POST", np, root.token, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_null(json_object_get(r.json, "deleted_at")));
	resp_free(&r);
	call("POST", np, root.token, NULL, NULL, &r);
	assert_error(&r, 409, "TENANT_NOT_DELETED");
	resp_free(&r);
	expect(200, "GET", p, alice.token, NULL, NULL);

	/* Hard delete: the tenant and its rows are gone. */
	{
		char hp[300], sql[256], n[32];

		snprintf(hp, sizeof(hp), "%s?hard=true", p);
		expect(204, "DELETE", hp, root.token, NULL, NULL);
		call("GET", p, root.token, NULL, NULL, &r);
		assert_error(&r, 404, "TENANT_NOT_FOUND");
		resp_free(&r);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
		    "tenant_members WHERE tenant_id = '%s'", id);
		sql_ok(sql, n, sizeof(n));
		assert_string_equal(n, "0");
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log "
		    "WHERE tenant_id = '%s' AND action IN ('tenant.create', "
		    "'tenant.delete', 'tenant.recover', 'tenant.hard_delete')",
		    id);
		sql_ok(sql, n, sizeof(n));
		assert_string_equal(n, "4");
	}
}

/* ---- X-FB-Tenant and keys ---- */

static void
test_tenant_header(void **state)
{
	struct resp	r;
	char		h[128];

	(void)state;
	snprintf(h, sizeof(h), "X-FB-Tenant: %s", ta_slug);
	expect(200, "GET", "/api/v1/auth/user", carol.token, h, NULL);
	/* An administrator is a user too, and may act in any tenant. */
	expect(200, "GET", "/api/v1/auth/user", root.token, h, NULL);
	expect(200, "GET", "/api/v1/auth/sessions", root.token, NULL, NULL);
	snprintf(h, sizeof(h), "X-FB-Tenant: %s", tb_slug);
	call("GET", "/api/v1/auth/user", carol.token, h, NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	call("GET", "/api/v1/auth/user", carol.token, "X-FB-Tenant: nope",
	    NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	/* Past 64 characters a tenant is refused before any lookup. */
	{
		char	 big[128];

		snprintf(big, sizeof(big), "X-FB-Tenant: %070d", 7);
		call("GET", "/api/v1/auth/user", carol.token, big, NULL, &r);
		assert_error(&r, 403, "TENANT_FORBIDDEN");
		resp_free(&r);
	}
	/* Quotes and other junk never reach SQL as anything but a value. */
	call("GET", "/api/v1/auth/user", carol.token,
	    "X-FB-Tenant: a' OR '1'='1", NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	/* The path's tenant wins over the header. */
	{
		char p[256];

		path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
		call("GET", p, alice.token, h, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(jstr(r.json, "id"), ta_id);
		resp_free(&r);
	}
}

static void
test_service_key(void **state)
{
	struct resp	r;
	char		key[128], wkey[128], p[256], sql[512];

	(void)state;
	plant_service_key(ta_id, "{tenants:read}", key, sizeof(key));
	plant_service_key(ta_id, "{tenants:*}", wkey, sizeof(wkey));

	path(p, sizeof(p), "/api/v1/admin/tenants/%s/members", ta_id);
	expect(200, "GET", p, key, NULL, NULL);
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/members", ta_slug);
	expect(200, "GET", p, key, NULL, NULL);
	/* Another tenant's data: refused, whatever the header says. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/members", tb_id);
	call("GET", p, key, NULL, NULL, &r);
	assert_error(&r, 403, "TENANT_FORBIDDEN");
	resp_free(&r);
	/* Scopes. */
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/settings", ta_id);
	call("PATCH", p, key, NULL, "{\"k\":1}", &r);
	assert_error(&r, 403, "INSUFFICIENT_SCOPE");
	resp_free(&r);
	expect(200, "PATCH", p, wkey, NULL, "{\"from.key\":1}");
	/* Roles: a service key is not an instance or tenant admin. */
	call("GET", "/api/v1/admin/tenants", wkey, NULL, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	path(p, sizeof(p), "/api/v1/admin/tenants/%s", ta_id);
	expect(403, "GET", p, wkey, NULL, NULL);
	/* A user-only operation refuses keys; a public one takes them. */
	expect(403, "GET", "/api/v1/admin/tenants/mine", wkey, NULL, NULL);
	expect(403, "GET", "/api/v1/auth/user", wkey, NULL, NULL);
	expect(200, "GET", "/api/v1/auth/config", wkey, NULL, NULL);

	/* Unknown, disabled, revoked, expired keys. */
	call("GET", "/api/v1/admin/tenants/x/members", "kbsk_nope", NULL,
	    NULL, &r);
	assert_error(&r, 401, "INVALID_KEY");
	resp_free(&r);
	{
		char	 big[200];

		/* Past 128 characters a key is refused before any lookup. */
		snprintf(big, sizeof(big), "kbsk_%0150d", 7);
		call("GET", "/api/v1/admin/tenants/x/members", big, NULL,
		    NULL, &r);
		assert_error(&r, 401, "INVALID_KEY");
		resp_free(&r);
		call("GET", "/api/v1/auth/user", NULL, "X-Client-Key: nope",
		    NULL, &r);
		assert_error(&r, 401, "INVALID_KEY");
		resp_free(&r);
	}
	snprintf(sql, sizeof(sql), "UPDATE service_keys SET status = "
	    "'disabled' WHERE key_prefix = 'kbsk_test' AND scopes = "
	    "'{tenants:read}'");
	assert_int_equal(psql(sql), 0);
	path(p, sizeof(p), "/api/v1/admin/tenants/%s/members", ta_id);
	call("GET", p, key, NULL, NULL, &r);
	assert_error(&r, 401, "KEY_INACTIVE");
	resp_free(&r);
	snprintf(sql, sizeof(sql), "UPDATE service_keys SET expires_at = "
	    "now() - interval '1 second' WHERE key_prefix = 'kbsk_test'");
	assert_int_equal(psql(sql), 0);
	call("GET", p, wkey, NULL, NULL, &r);
	assert_error(&r, 401, "KEY_INACTIVE");
	resp_free(&r);
	/* Both kinds of credential at once is ambiguous. */
	{
		const char *h[] = { "Authorization: Bearer x",
		    "X-Client-Key: kbck_x", NULL };

		http("GET", "/api/v1/auth/user", h, NULL, 0, &r);
		assert_error(&r, 401, "UNAUTHORIZED");
		resp_free(&r);
	}
}

/*
 * The cross-tenant suite: bob (admin of B) and a service key of B try
 * every tenant-scoped operation on A, by id and by slug, and with
 * X-FB-Tenant naming A.  Each must be refused, and A must be unchanged.
 */
static void
test_cross_tenant(void **state)
{
	static const struct {
		const char	*method;
		const char	*path;		/* %s: tenant */
		const char	*body;
	} ops[] = {
		{ "GET", "/api/v1/admin/tenants/%s", NULL },
		{ "PATCH", "/api/v1/admin/tenants/%s", "{\"name\":\"pwned\"}" },
		{ "DELETE", "/api/v1/admin/tenants/%s", NULL },
		{ "DELETE", "/api/v1/admin/tenants/%s?hard=true", NULL },
		{ "POST", "/api/v1/admin/tenants/%s/recover", NULL },
		{ "GET", "/api/v1/admin/tenants/%s/members", NULL },
		{ "POST", "/api/v1/admin/tenants/%s/members",
		    "{\"email\":\"bob@tenants.test\",\"role\":\"admin\"}" },
		{ "DELETE", "/api/v1/admin/tenants/%s/members/"
		    "00000000-0000-4000-8000-000000000001", NULL },
		{ "GET", "/api/v1/admin/tenants/%s/admins", NULL },
		{ "POST", "/api/v1/admin/tenants/%s/admins",
		    "{\"email\":\"bob@tenants.test\"}" },
		{ "DELETE", "/api/v1/admin/tenants/%s/admins/"
		    "00000000-0000-4000-8000-000000000001", NULL },
		{ "GET", "/api/v1/admin/tenants/%s/settings", NULL },
		{ "PATCH", "/api/v1/admin/tenants/%s/settings",
		    "{\"pwned\":true}" },
		{ "GET", "/api/v1/admin/tenants/%s/settings/features", NULL },
		{ "DELETE", "/api/v1/admin/tenants/%s/settings/features", NULL },
		{ "GET", "/api/v1/admin/tenants/%s/invitations", NULL },
		{ "POST", "/api/v1/admin/tenants/%s/invitations",
		    "{\"email\":\"mallory@tenants.test\",\"role\":\"admin\"}" },
		{ "DELETE", "/api/v1/admin/tenants/%s/invitations/"
		    "00000000-0000-4000-8000-000000000001", NULL },
	};
	struct resp	r;
	char		bkey[128], before[4096], after[4096], p[256], sql[1024];
	char		hdr[128];
	const char	*refs[2] = { ta_id, ta_slug };
	const char	*who[2];
	size_t		i, j, k;

	(void)state;
	plant_service_key(tb_id, "{*}", bkey, sizeof(bkey));
	who[0] = bob.token;
	who[1] = bkey;
	snprintf(sql, sizeof(sql), "SELECT md5(concat_ws('|', (SELECT "
	    "row(t.*)::text FROM tenants t WHERE id = '%s'), (SELECT "
	    "string_agg(row(m.*)::text, ',' ORDER BY user_id) FROM "
	    "tenant_members m WHERE tenant_id = '%s'), (SELECT "
	    "string_agg(row(s.*)::text, ',' ORDER BY key) FROM tenant_settings"
	    " s WHERE tenant_id = '%s'), (SELECT string_agg(row(i.*)::text, "
	    "',' ORDER BY id) FROM invitations i WHERE tenant_id = '%s')))",
	    ta_id, ta_id, ta_id, ta_id);
	sql_ok(sql, before, sizeof(before));

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		for (j = 0; j < 2; j++) {
			for (k = 0; k < 2; k++) {
				snprintf(p, sizeof(p), ops[i].path, refs[j]);
				call(ops[i].method, p, who[k], NULL,
				    ops[i].body, &r);
				if (r.status != 403)
					fprintf(stderr, "cross-tenant %s %s "
					    "as %s: %ld %s\n", ops[i].method,
					    p, k ? "B's key" : "bob", r.status,
					    r.body);
				assert_int_equal(r.status, 403);
				resp_free(&r);
			}
		}
		/* The header cannot widen what the path allows. */
		snprintf(p, sizeof(p), ops[i].path, tb_id);
		snprintf(hdr, sizeof(hdr), "X-FB-Tenant: %s", ta_slug);
		call(ops[i].method, p, bkey, hdr, ops[i].body, &r);
		assert_int_not_equal(r.status, 500);
		resp_free(&r);
	}
	/* A member of A (not an admin) is refused as well. */
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(p, sizeof(p), ops[i].path, ta_id);
		call(ops[i].method, p, carol.token, NULL, ops[i].body, &r);
		if (r.status != 403)
			fprintf(stderr, "member %s %s: %ld %s\n",
			    ops[i].method, p, r.status, r.body);
		assert_int_equal(r.status, 403);
		resp_free(&r);
	}
	sql_ok(sql, after, sizeof(after));
	assert_string_equal(before, after);

	/* B's own key still works on B (the suite is not vacuous). */
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s/settings", tb_id);
	expect(200, "GET", p, bkey, NULL, NULL);
	snprintf(p, sizeof(p), "/api/v1/admin/tenants/%s", tb_id);
	expect(200, "GET", p, bob.token, NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_get_update),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_invitations),
		cmocka_unit_test(test_delete_recover),
		cmocka_unit_test(test_tenant_header),
		cmocka_unit_test(test_cross_tenant),
		cmocka_unit_test(test_service_key),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: tenants", tests,
	    setup, NULL);
	curl_global_cleanup();
	return (failed ? 1 : 0);
}
