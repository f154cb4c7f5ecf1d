/*
 * Integration tests of service keys (/api/v1/admin/service-keys) and
 * client keys (/api/v1/client-keys), against the real server and
 * PostgreSQL started by tests/integration/run.sh (BASE_URL, DATABASE_URL).
 *
 * Users are made through the API; promoting one to admin and making
 * tenants and memberships is done with SQL (libpq), since those are not
 * what is tested here.  The cast:
 *   adm  instance admin (role admin)
 *   ta   tenant admin of tenant A      tb  tenant admin of tenant B
 *   ma   plain member of tenant A      u1, u2  users of no tenant
 */

#include <regex.h>
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
#include <libpq-fe.h>
#include <openssl/sha.h>

#include "http.h"

#define PW	"correct horse battery"
#define SK	"/api/v1/admin/service-keys"
#define CK	"/api/v1/client-keys"
#define NOKEY	"0b9e6f8a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"

struct user {
	char	id[64];
	char	auth[4200];	/* "Authorization: Bearer <token>" */
};

static PGconn		*db;
static struct user	 adm, ta, tb, ma, u1, u2;
static char		 tenant_a[64], tenant_b[64];	/* ids */
static char		 slug_a[64], slug_b[64];

/* ---- helpers ---- */

/*
 * One request with a credential header line (or NULL), a tenant to send
 * in X-FB-Tenant (or NULL) and a JSON body (or NULL).
 */
static long
call(const char *method, const char *path, const char *cred,
    const char *tenant, const char *body, struct resp *r)
{
	char		 th[128];
	const char	*h[4];
	int		 n = 0;

	h[n++] = "Content-Type: application/json";
	if (cred != NULL)
		h[n++] = cred;
	if (tenant != NULL) {
		snprintf(th, sizeof(th), "X-FB-Tenant: %s", tenant);
		h[n++] = th;
	}
	h[n] = NULL;
	/* A POST without a body still says Content-Length: 0 (else 411). */
	if (body == NULL && strcmp(method, "POST") == 0)
		body = "";
	return (http(method, path, h, body, body ? strlen(body) : 0, r));
}

/* Expect an error answer and free it. */
static void
expect_error(const char *method, const char *path, const char *cred,
    const char *tenant, const char *body, long status, const char *code)
{
	struct resp	r;

	call(method, path, cred, tenant, body, &r);
	if (r.status != status)
		fprintf(stderr, "%s %s: ", method, path);
	assert_error(&r, status, code);
	resp_free(&r);
}

/* Expect a 400 whose details name `pointer`. */
static void
expect_invalid(const char *method, const char *path, const char *cred,
    const char *tenant, const char *body, const char *pointer)
{
	struct resp	r;

	call(method, path, cred, tenant, body, &r);
	if (r.status != 400 || !error_has_path(&r, pointer))
		fprintf(stderr, "%s %s %s: %ld %s\n", method, path,
		    body ? body : "", r.status, r.body);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, pointer));
	resp_free(&r);
}

static long
expect_status(const char *method, const char *path, const char *cred,
    const char *tenant, const char *body, long status)
{
	struct resp	r;

	call(method, path, cred, tenant, body, &r);
	if (r.status != status)
		fprintf(stderr, "%s %s: expected %ld, got %ld: %s\n", method,
		    path, status, r.status, r.body);
	assert_int_equal(r.status, status);
	resp_free(&r);
	return (status);
}

static PGresult *
sql(const char *q, int n, const char *const *params)
{
	PGresult	*res;

	res = PQexecParams(db, q, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		fprintf(stderr, "sql: %s: %s", q, PQerrorMessage(db));
	assert_true(PQresultStatus(res) == PGRES_TUPLES_OK ||
	    PQresultStatus(res) == PGRES_COMMAND_OK);
	return (res);
}

static void
sql_exec(const char *q, const char *p1, const char *p2)
{
	const char	*params[2] = { p1, p2 };

	PQclear(sql(q, (p1 != NULL) + (p2 != NULL), params));
}

static long
sql_count(const char *q, const char *p1, const char *p2)
{
	const char	*params[2] = { p1, p2 };
	PGresult	*res;
	long		 n;

	res = sql(q, (p1 != NULL) + (p2 != NULL), params);
	assert_int_equal(PQntuples(res), 1);
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return (n);
}

static void
signin_as(const char *email, struct user *u)
{
	struct resp	r;
	char		body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, PW);
	assert_int_equal(call("POST", "/api/v1/auth/signin", NULL, NULL, body,
	    &r), 200);
	snprintf(u->auth, sizeof(u->auth), "Authorization: Bearer %s",
	    jstr(r.json, "access_token"));
	snprintf(u->id, sizeof(u->id), "%s",
	    jstr(json_object_get(r.json, "user"), "id"));
	resp_free(&r);
}

static void
make_user(const char *name, const char *role, struct user *u)
{
	struct resp	r;
	char		email[128], body[512];

	snprintf(email, sizeof(email), "keys-%s-%ld@example.com", name,
	    (long)getpid());
	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, PW);
	if (call("POST", "/api/v1/auth/signup", NULL, NULL, body, &r) != 201)
		fprintf(stderr, "signup %s: %ld %s\n", email, r.status, r.body);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	if (role != NULL)
		sql_exec("UPDATE users SET role = $2 WHERE email = $1",
		    email, role);
	signin_as(email, u);
}

static void
make_tenant(const char *slug, char *id, size_t len)
{
	const char	*params[1] = { slug };
	PGresult	*res;

	res = sql("INSERT INTO tenants (slug, name) VALUES ($1::text, $1::text)"
	    " RETURNING id", 1, params);
	snprintf(id, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
}

static void
add_member(const char *tenant, const struct user *u, const char *role)
{
	const char	*params[3] = { tenant, u->id, role };

	PQclear(sql("INSERT INTO tenant_members (tenant_id, user_id, role)"
	    " VALUES ($1, $2, $3)", 3, params));
}

/* A created key: its id and the key itself, shown once. */
struct key {
	char	id[64];
	char	key[128];
	char	auth[200];	/* the credential header line */
};

/* Create a key as `cred` in `tenant`; asserts 201 and the key's shape. */
static void
create_key(const char *base, const char *cred, const char *tenant,
    const char *body, struct key *k)
{
	struct resp	 r;
	const char	*key, *prefix;
	int		 service = strcmp(base, SK) == 0;
	regex_t		 re;

	if (call("POST", base, cred, tenant, body, &r) != 201)
		fprintf(stderr, "create %s: %ld %s\n", body, r.status, r.body);
	assert_int_equal(r.status, 201);
	key = jstr(r.json, "key");
	prefix = jstr(r.json, "key_prefix");
	assert_non_null(key);
	assert_non_null(prefix);
	assert_int_equal(regcomp(&re, service ? "^kbsk_[A-Za-z0-9_-]{43}$" :
	    "^kbck_[A-Za-z0-9_-]{43}$", REG_EXTENDED | REG_NOSUB), 0);
	assert_int_equal(regexec(&re, key, 0, NULL, 0), 0);
	regfree(&re);
	assert_int_equal(strlen(prefix), 13);
	assert_memory_equal(prefix, key, 13);
	assert_string_equal(jstr(r.json, "status"), "active");
	assert_true(json_is_true(json_object_get(r.json, "active")));
	snprintf(k->id, sizeof(k->id), "%s", jstr(r.json, "id"));
	snprintf(k->key, sizeof(k->key), "%s", key);
	if (service)
		snprintf(k->auth, sizeof(k->auth), "Authorization: Bearer %s",
		    key);
	else
		snprintf(k->auth, sizeof(k->auth), "X-Client-Key: %s", key);
	resp_free(&r);
}

static const char *
path_of(const char *base, const char *id, const char *action)
{
	static char	buf[4][256];
	static int	n;
	char		*p = buf[n++ % 4];

	snprintf(p, 256, "%s/%s%s%s", base, id, action ? "/" : "",
	    action ? action : "");
	return (p);
}

/* The key of `k` as the server stores it: its SHA-256 in hex. */
static void
sha256_hex(const char *s, char *out)
{
	unsigned char	d[SHA256_DIGEST_LENGTH];
	int		i;

	SHA256((const unsigned char *)s, strlen(s), d);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* 1 if the JSON array `a` has an object whose id is `id`. */
static int
has_id(json_t *a, const char *id)
{
	json_t	*item;
	size_t	 i;

	json_array_foreach(a, i, item) {
		if (strcmp(jstr(item, "id"), id) == 0)
			return (1);
	}
	return (0);
}

/* Every object of a list or a single object must not carry the key. */
static void
assert_no_secret(json_t *v)
{
	json_t	*item;
	size_t	 i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
			assert_null(json_object_get(item, "key"));
	} else {
		assert_non_null(jstr(v, "key_prefix"));
		assert_null(json_object_get(v, "key"));
	}
	assert_null(json_object_get(v, "key_hash"));
}

/* ---- set-up ---- */

static int
setup(void **state)
{
	char	sfx[32];

	(void)state;
	db = PQconnectdb(getenv("DATABASE_URL"));
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "keys: %s", PQerrorMessage(db));
		return (-1);
	}
	snprintf(sfx, sizeof(sfx), "%ld", (long)getpid());
	make_user("adm", "admin", &adm);
	make_user("ta", NULL, &ta);
	make_user("tb", NULL, &tb);
	make_user("ma", NULL, &ma);
	make_user("u1", NULL, &u1);
	make_user("u2", NULL, &u2);
	snprintf(slug_a, sizeof(slug_a), "keys-a-%s", sfx);
	snprintf(slug_b, sizeof(slug_b), "keys-b-%s", sfx);
	make_tenant(slug_a, tenant_a, sizeof(tenant_a));
	make_tenant(slug_b, tenant_b, sizeof(tenant_b));
	add_member(tenant_a, &ta, "admin");
	add_member(tenant_b, &tb, "admin");
	add_member(tenant_a, &ma, "member");
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	PQfinish(db);
	return (0);
}

/* ---- service keys: create ---- */

static void
test_sk_create_instance(void **state)
{
	struct key	 k;
	struct resp	 r;
	char		 hash[65];

	(void)state;
	create_key(SK, adm.auth, NULL, "{\"name\":\"instance key\","
	    "\"description\":\"d\",\"scopes\":[\"keys:read\",\"storage:*\","
	    "\"*\"],\"expires_at\":\"2099-01-01T00:00:00Z\"}", &k);

	/* Shown once: GET and list give only the prefix. */
	assert_int_equal(call("GET", path_of(SK, k.id, NULL), adm.auth, NULL,
	    NULL, &r), 200);
	assert_no_secret(r.json);
	assert_null(json_string_value(json_object_get(r.json, "tenant_id")));
	assert_string_equal(jstr(r.json, "name"), "instance key");
	assert_string_equal(jstr(r.json, "description"), "d");
	assert_int_equal(json_array_size(json_object_get(r.json, "scopes")), 3);
	assert_non_null(strstr(jstr(r.json, "expires_at"), "2099-01-01T00:00:00"));
	assert_string_equal(jstr(r.json, "created_by"), adm.id);
	assert_null(strstr(r.body, k.key));
	resp_free(&r);
	assert_int_equal(call("GET", SK, adm.auth, NULL, NULL, &r), 200);
	assert_true(has_id(r.json, k.id));
	assert_no_secret(r.json);
	assert_null(strstr(r.body, k.key));
	resp_free(&r);

	/* Stored as its SHA-256 only, instance-wide. */
	sha256_hex(k.key, hash);
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "id = $1 AND key_hash = $2 AND tenant_id IS NULL", k.id, hash), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND action = 'service_key.create' AND actor_id = $2",
	    k.id, adm.id), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "details::text LIKE '%' || $1 || '%'", k.key, NULL), 0);
}

static void
test_sk_create_bad_input(void **state)
{
	struct resp	r;
	char		body[4096], *p;
	int		i;

	(void)state;
	expect_invalid("POST", SK, adm.auth, NULL, "{\"scopes\":[]}",
	    "/body/name");
	expect_invalid("POST", SK, adm.auth, NULL, "{\"name\":\"x\"}",
	    "/body/scopes");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"\",\"scopes\":[]}", "/body/name");
	memset(body, 0, sizeof(body));
	p = body + sprintf(body, "{\"scopes\":[],\"name\":\"");
	memset(p, 'n', 201);
	strcat(body, "\"}");
	expect_invalid("POST", SK, adm.auth, NULL, body, "/body/name");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"Tables:read\"]}", "/body/scopes/0");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"keys:read\",\"keys\"]}",
	    "/body/scopes/1");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"a:b:c\"]}", "/body/scopes/0");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[7]}", "/body/scopes/0");
	expect_invalid("POST", SK, adm.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":\"keys:read\"}", "/body/scopes");
	/* 33 distinct scopes: one too many. */
	p = body + sprintf(body, "{\"name\":\"x\",\"scopes\":[");
	for (i = 0; i < 33; i++)
		p += sprintf(p, "%s\"s:%c%c\"", i ? "," : "", 'a' + i / 26,
		    'a' + i % 26);
	strcpy(p, "]}");
	expect_invalid("POST", SK, adm.auth, NULL, body, "/body/scopes");
	expect_invalid("POST", SK, adm.auth, NULL, "{\"name\":\"x\","
	    "\"scopes\":[],\"expires_at\":\"2001-01-01T00:00:00Z\"}",
	    "/body/expires_at");
	expect_invalid("POST", SK, adm.auth, NULL, "{\"name\":\"x\","
	    "\"scopes\":[],\"expires_at\":\"tomorrow\"}", "/body/expires_at");
	expect_invalid("POST", SK, adm.auth, NULL, "{\"name\":\"x\","
	    "\"scopes\":[],\"tenant_id\":\"" NOKEY "\"}", "/body/tenant_id");
	/* Every failure at once. */
	call("POST", SK, adm.auth, NULL, "{\"name\":\"\",\"scopes\":[\"?\"],"
	    "\"expires_at\":1}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/name"));
	assert_true(error_has_path(&r, "/body/scopes/0"));
	assert_true(error_has_path(&r, "/body/expires_at"));
	resp_free(&r);
	expect_error("POST", SK, adm.auth, NULL, "{\"name\":", 400,
	    "INVALID_JSON");
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "name = 'x'", NULL, NULL), 0);
}

static void
test_sk_who_may(void **state)
{
	(void)state;
	/* No credentials, a user, a member, a tenant admin elsewhere. */
	expect_error("GET", SK, NULL, NULL, NULL, 401, "UNAUTHORIZED");
	expect_error("POST", SK, NULL, NULL, "{\"name\":\"x\",\"scopes\":[]}",
	    401, "UNAUTHORIZED");
	expect_error("GET", SK, u1.auth, NULL, NULL, 403, "FORBIDDEN");
	expect_error("POST", SK, u1.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "FORBIDDEN");
	expect_error("GET", SK, ma.auth, slug_a, NULL, 403, "FORBIDDEN");
	expect_error("POST", SK, ma.auth, slug_a,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "FORBIDDEN");
	/* A tenant admin must name the tenant, and only their own. */
	expect_error("GET", SK, ta.auth, NULL, NULL, 403, "FORBIDDEN");
	expect_error("POST", SK, ta.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "FORBIDDEN");
	expect_error("GET", SK, ta.auth, slug_b, NULL, 403,
	    "TENANT_FORBIDDEN");
	expect_error("POST", SK, ta.auth, tenant_b,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "TENANT_FORBIDDEN");
	expect_error("GET", SK, ta.auth, "no-such-tenant", NULL, 403,
	    "TENANT_FORBIDDEN");
	expect_error("GET", SK, adm.auth, "no-such-tenant", NULL, 404,
	    "TENANT_NOT_FOUND");
}

static void
test_sk_tenant_isolation(void **state)
{
	struct key	 ka, kb, ki;
	struct resp	 r;
	const char	*actions[] = { "disable", "enable", "revoke",
			    "deprecate", "rotate", NULL };
	const char	**a;
	char		 q[256];

	(void)state;
	create_key(SK, ta.auth, slug_a, "{\"name\":\"a\",\"scopes\":[]}",
	    &ka);
	create_key(SK, tb.auth, tenant_b, "{\"name\":\"b\",\"scopes\":[]}",
	    &kb);
	create_key(SK, adm.auth, NULL, "{\"name\":\"i\",\"scopes\":[]}", &ki);
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "id = $1 AND tenant_id = $2", ka.id, tenant_a), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND tenant_id = $2", ka.id, tenant_a), 1);

	/* Each tenant admin lists their own tenant's keys only. */
	assert_int_equal(call("GET", SK, ta.auth, slug_a, NULL, &r), 200);
	assert_true(has_id(r.json, ka.id));
	assert_false(has_id(r.json, kb.id));
	assert_false(has_id(r.json, ki.id));
	resp_free(&r);
	/* A tenant_id filter cannot widen a tenant admin's reach. */
	snprintf(q, sizeof(q), SK "?tenant_id=%s", tenant_b);
	assert_int_equal(call("GET", q, ta.auth, slug_a, NULL, &r), 200);
	assert_int_equal(json_array_size(r.json), 0);
	resp_free(&r);

	/* Another tenant's key is not found, whatever is done with it. */
	expect_error("GET", path_of(SK, kb.id, NULL), ta.auth, slug_a, NULL,
	    404, "NOT_FOUND");
	expect_error("PUT", path_of(SK, kb.id, NULL), ta.auth, slug_a,
	    "{\"name\":\"mine\"}", 404, "NOT_FOUND");
	expect_error("DELETE", path_of(SK, kb.id, NULL), ta.auth, slug_a,
	    NULL, 404, "NOT_FOUND");
	expect_error("GET", path_of(SK, kb.id, "revocations"), ta.auth,
	    slug_a, NULL, 404, "NOT_FOUND");
	for (a = actions; *a != NULL; a++) {
		expect_error("POST", path_of(SK, kb.id, *a), ta.auth, slug_a,
		    strcmp(*a, "deprecate") == 0 ?
		    "{\"grace_period_seconds\":0}" : "{}", 404, "NOT_FOUND");
		/* Nor is an instance-wide key. */
		expect_error("POST", path_of(SK, ki.id, *a), ta.auth, slug_a,
		    strcmp(*a, "deprecate") == 0 ?
		    "{\"grace_period_seconds\":0}" : "{}", 404, "NOT_FOUND");
	}
	expect_error("GET", path_of(SK, ki.id, NULL), ta.auth, slug_a, NULL,
	    404, "NOT_FOUND");
	/* Untouched. */
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "id = $1 AND status = 'active' AND name = 'b' AND deprecated_at "
	    "IS NULL", kb.id, NULL), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "tenant_id = $1", tenant_b, NULL), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM service_key_events "
	    "WHERE key_id = $1 OR key_id = $2", kb.id, ki.id), 0);

	/* The instance admin acting in tenant A sees A's keys only. */
	assert_int_equal(call("GET", SK, adm.auth, slug_a, NULL, &r), 200);
	assert_true(has_id(r.json, ka.id));
	assert_false(has_id(r.json, kb.id));
	assert_false(has_id(r.json, ki.id));
	resp_free(&r);
	expect_error("GET", path_of(SK, kb.id, NULL), adm.auth, slug_a, NULL,
	    404, "NOT_FOUND");
	/* ... and creates keys there. */
	assert_int_equal(call("POST", SK, adm.auth, slug_a,
	    "{\"name\":\"by adm\",\"scopes\":[]}", &r), 201);
	assert_string_equal(jstr(r.json, "tenant_id"), tenant_a);
	resp_free(&r);
	/* Without a tenant it sees every key; tenant_id narrows it. */
	assert_int_equal(call("GET", SK "?limit=1000", adm.auth, NULL, NULL,
	    &r), 200);
	assert_true(has_id(r.json, ka.id));
	assert_true(has_id(r.json, kb.id));
	assert_true(has_id(r.json, ki.id));
	resp_free(&r);
	assert_int_equal(call("GET", q, adm.auth, NULL, NULL, &r), 200);
	assert_false(has_id(r.json, ka.id));
	assert_true(has_id(r.json, kb.id));
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
	expect_status("GET", path_of(SK, kb.id, NULL), adm.auth, NULL, NULL,
	    200);
}

static void
test_sk_unknown_ids(void **state)
{
	const char	*actions[] = { "disable", "enable", "revoke",
			    "deprecate", "rotate", NULL };
	const char	**a;

	(void)state;
	expect_error("GET", path_of(SK, NOKEY, NULL), adm.auth, NULL, NULL,
	    404, "NOT_FOUND");
	expect_error("PUT", path_of(SK, NOKEY, NULL), adm.auth, NULL,
	    "{\"name\":\"x\"}", 404, "NOT_FOUND");
	expect_error("DELETE", path_of(SK, NOKEY, NULL), adm.auth, NULL, NULL,
	    404, "NOT_FOUND");
	expect_error("GET", path_of(SK, NOKEY, "revocations"), adm.auth, NULL,
	    NULL, 404, "NOT_FOUND");
	for (a = actions; *a != NULL; a++)
		expect_error("POST", path_of(SK, NOKEY, *a), adm.auth, NULL,
		    strcmp(*a, "deprecate") == 0 ?
		    "{\"grace_period_seconds\":1}" : NULL, 404, "NOT_FOUND");
	expect_invalid("GET", path_of(SK, "not-a-uuid", NULL), adm.auth, NULL,
	    NULL, "/path/id");
	expect_invalid("PUT", path_of(SK, "1", NULL), adm.auth, NULL,
	    "{\"name\":\"x\"}", "/path/id");
	expect_invalid("DELETE", path_of(SK, "1", NULL), adm.auth, NULL, NULL,
	    "/path/id");
	for (a = actions; *a != NULL; a++)
		expect_invalid("POST", path_of(SK, "x", *a), adm.auth, NULL,
		    NULL, "/path/id");
	expect_invalid("GET", path_of(SK, "x", "revocations"), adm.auth, NULL,
	    NULL, "/path/id");
}

/* ---- service keys: using them ---- */

static void
test_sk_use_scopes(void **state)
{
	struct key	 read, none, all, area, inst, other;
	struct resp	 r;
	json_t		*item;
	size_t		 i;

	(void)state;
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"reader\",\"scopes\":[\"keys:read\"]}", &read);
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"none\",\"scopes\":[\"storage:read\"]}", &none);
	create_key(SK, ta.auth, slug_a, "{\"name\":\"all\",\"scopes\":[\"*\"]}",
	    &all);
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"area\",\"scopes\":[\"keys:*\"]}", &area);
	create_key(SK, tb.auth, slug_b,
	    "{\"name\":\"other\",\"scopes\":[\"keys:read\"]}", &other);
	create_key(SK, adm.auth, NULL,
	    "{\"name\":\"inst\",\"scopes\":[\"keys:read\"]}", &inst);

	/* A tenant key with keys:read lists its own tenant's keys only. */
	assert_int_equal(call("GET", SK "?limit=1000", read.auth, NULL, NULL,
	    &r), 200);
	assert_true(has_id(r.json, read.id));
	assert_false(has_id(r.json, other.id));
	assert_false(has_id(r.json, inst.id));
	json_array_foreach(r.json, i, item)
		assert_string_equal(jstr(item, "tenant_id"), tenant_a);
	assert_no_secret(r.json);
	resp_free(&r);
	expect_status("GET", path_of(SK, none.id, NULL), read.auth, NULL,
	    NULL, 200);
	expect_status("GET", path_of(SK, none.id, "revocations"), read.auth,
	    NULL, NULL, 200);
	expect_error("GET", path_of(SK, other.id, NULL), read.auth, NULL,
	    NULL, 404, "NOT_FOUND");
	expect_error("GET", path_of(SK, inst.id, NULL), read.auth, NULL,
	    NULL, 404, "NOT_FOUND");
	/* Its own tenant named explicitly is fine, another is not. */
	expect_status("GET", SK, read.auth, slug_a, NULL, 200);
	expect_error("GET", SK, read.auth, slug_b, NULL, 403,
	    "TENANT_FORBIDDEN");
	expect_error("GET", SK, read.auth, tenant_b, NULL, 403,
	    "TENANT_FORBIDDEN");
	/* Scopes: "*" and "keys:*" cover keys:read; storage:read does not. */
	expect_status("GET", SK, all.auth, NULL, NULL, 200);
	expect_status("GET", SK, area.auth, NULL, NULL, 200);
	expect_error("GET", SK, none.auth, NULL, NULL, 403,
	    "INSUFFICIENT_SCOPE");
	/* Keys cannot manage keys, whatever their scopes. */
	expect_error("POST", SK, all.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"*\"]}", 403, "FORBIDDEN");
	expect_error("POST", path_of(SK, none.id, "revoke"), all.auth, NULL,
	    "{}", 403, "FORBIDDEN");
	expect_error("PUT", path_of(SK, read.id, NULL), all.auth, NULL,
	    "{\"scopes\":[\"*\"]}", 403, "FORBIDDEN");
	expect_error("DELETE", path_of(SK, other.id, NULL), all.auth, NULL,
	    NULL, 403, "FORBIDDEN");
	expect_error("GET", CK, all.auth, NULL, NULL, 403, "FORBIDDEN");
	/* A service key is not a user. */
	expect_error("GET", "/api/v1/auth/user", all.auth, NULL, NULL, 403,
	    "FORBIDDEN");
	/* An instance-wide key reaches every key, or one tenant's. */
	assert_int_equal(call("GET", SK "?limit=1000", inst.auth, NULL, NULL,
	    &r), 200);
	assert_true(has_id(r.json, other.id));
	assert_true(has_id(r.json, read.id));
	resp_free(&r);
	assert_int_equal(call("GET", SK "?limit=1000", inst.auth, slug_b, NULL,
	    &r), 200);
	assert_true(has_id(r.json, other.id));
	assert_false(has_id(r.json, read.id));
	resp_free(&r);

	/* Keys that do not exist. */
	expect_error("GET", SK, "Authorization: Bearer kbsk_"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL, 401,
	    "INVALID_KEY");
	expect_error("GET", SK, "Authorization: Bearer kbsk_", NULL, NULL, 401,
	    "INVALID_KEY");
	expect_error("GET", SK, "Authorization: Bearer kbsk_x", NULL, NULL,
	    401, "INVALID_KEY");
	/* The hash is what is looked up, not the prefix. */
	{
		char	h[200];

		snprintf(h, sizeof(h), "Authorization: Bearer %.13sAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", read.key);
		expect_error("GET", SK, h, NULL, NULL, 401, "INVALID_KEY");
	}
}

static void
test_sk_lifecycle(void **state)
{
	struct key	 k;
	struct resp	 r;
	json_t		*e;

	(void)state;
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"life\",\"scopes\":[\"keys:read\"]}", &k);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);

	/* Disable, enable. */
	assert_int_equal(call("POST", path_of(SK, k.id, "disable"), ta.auth,
	    slug_a, NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "disabled");
	assert_true(json_is_false(json_object_get(r.json, "active")));
	assert_no_secret(r.json);
	resp_free(&r);
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	assert_int_equal(call("POST", path_of(SK, k.id, "enable"), ta.auth,
	    slug_a, NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "active");
	resp_free(&r);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);

	/* Revoke: final. */
	assert_int_equal(call("POST", path_of(SK, k.id, "revoke"), ta.auth,
	    slug_a, "{\"reason\":\"leaked\"}", &r), 200);
	assert_string_equal(jstr(r.json, "status"), "revoked");
	assert_string_equal(jstr(r.json, "revoke_reason"), "leaked");
	assert_non_null(jstr(r.json, "revoked_at"));
	resp_free(&r);
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	expect_error("POST", path_of(SK, k.id, "enable"), ta.auth, slug_a,
	    NULL, 409, "KEY_REVOKED");
	expect_error("POST", path_of(SK, k.id, "disable"), ta.auth, slug_a,
	    NULL, 409, "KEY_REVOKED");
	expect_error("POST", path_of(SK, k.id, "revoke"), ta.auth, slug_a,
	    NULL, 409, "KEY_REVOKED");
	expect_error("POST", path_of(SK, k.id, "deprecate"), ta.auth, slug_a,
	    "{\"grace_period_seconds\":5}", 409, "KEY_REVOKED");
	expect_error("POST", path_of(SK, k.id, "rotate"), ta.auth, slug_a,
	    NULL, 409, "KEY_REVOKED");
	expect_error("PUT", path_of(SK, k.id, NULL), ta.auth, slug_a,
	    "{\"name\":\"again\"}", 409, "KEY_REVOKED");
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	expect_invalid("POST", path_of(SK, k.id, "revoke"), ta.auth, slug_a,
	    "{\"why\":\"x\"}", "/body/why");

	/* The history. */
	assert_int_equal(call("GET", path_of(SK, k.id, "revocations"),
	    ta.auth, slug_a, NULL, &r), 200);
	assert_int_equal(json_array_size(r.json), 3);
	e = json_array_get(r.json, 0);
	assert_string_equal(jstr(e, "action"), "disable");
	assert_string_equal(jstr(e, "actor_id"), ta.id);
	assert_string_equal(jstr(e, "key_id"), k.id);
	assert_string_equal(jstr(json_array_get(r.json, 1), "action"),
	    "enable");
	e = json_array_get(r.json, 2);
	assert_string_equal(jstr(e, "action"), "revoke");
	assert_string_equal(jstr(e, "reason"), "leaked");
	resp_free(&r);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND tenant_id = $2 AND action IN ("
	    "'service_key.disable', 'service_key.enable', "
	    "'service_key.revoke')", k.id, tenant_a), 3);

	/* Expired. */
	create_key(SK, ta.auth, slug_a, "{\"name\":\"exp\",\"scopes\":"
	    "[\"keys:read\"],\"expires_at\":\"2099-01-01T00:00:00Z\"}", &k);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);
	sql_exec("UPDATE service_keys SET expires_at = now() - interval '1s'"
	    " WHERE id = $1", k.id, NULL);
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	assert_int_equal(call("GET", path_of(SK, k.id, NULL), ta.auth, slug_a,
	    NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "expired");
	resp_free(&r);
	expect_error("POST", path_of(SK, k.id, "rotate"), ta.auth, slug_a,
	    NULL, 409, "KEY_NOT_ROTATABLE");

	/* Delete: gone, and the key with it. */
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"del\",\"scopes\":[\"keys:read\"]}", &k);
	assert_int_equal(call("DELETE", path_of(SK, k.id, NULL), ta.auth,
	    slug_a, NULL, &r), 204);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	expect_error("GET", path_of(SK, k.id, NULL), ta.auth, slug_a, NULL,
	    404, "NOT_FOUND");
	expect_error("DELETE", path_of(SK, k.id, NULL), ta.auth, slug_a, NULL,
	    404, "NOT_FOUND");
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "INVALID_KEY");
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND action = 'service_key.delete' AND actor_id = $2",
	    k.id, ta.id), 1);
}

static void
test_sk_deprecate(void **state)
{
	struct key	 k;
	struct resp	 r;
	const char	*p;

	(void)state;
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"dep\",\"scopes\":[\"keys:read\"]}", &k);
	p = path_of(SK, k.id, "deprecate");
	expect_invalid("POST", p, ta.auth, slug_a, "{}", "/body");
	expect_invalid("POST", p, ta.auth, slug_a, NULL, "/body");
	expect_invalid("POST", p, ta.auth, slug_a, "{\"grace_period_seconds\":"
	    "5,\"grace_until\":\"2099-01-01T00:00:00Z\"}", "/body");
	expect_invalid("POST", p, ta.auth, slug_a,
	    "{\"grace_period_seconds\":-1}", "/body/grace_period_seconds");
	expect_invalid("POST", p, ta.auth, slug_a,
	    "{\"grace_period_seconds\":31536001}",
	    "/body/grace_period_seconds");
	expect_invalid("POST", p, ta.auth, slug_a,
	    "{\"grace_period_seconds\":\"5\"}", "/body/grace_period_seconds");
	expect_invalid("POST", p, ta.auth, slug_a,
	    "{\"grace_until\":\"2001-01-01T00:00:00Z\"}", "/body/grace_until");
	expect_invalid("POST", p, ta.auth, slug_a,
	    "{\"grace_until\":\"soon\"}", "/body/grace_until");
	expect_status("GET", SK, k.auth, NULL, NULL, 200);

	/* In grace: deprecated, still working. */
	assert_int_equal(call("POST", p, ta.auth, slug_a,
	    "{\"grace_period_seconds\":3600,\"reason\":\"moving\"}", &r), 200);
	assert_string_equal(jstr(r.json, "status"), "deprecated");
	assert_true(json_is_true(json_object_get(r.json, "active")));
	assert_non_null(jstr(r.json, "grace_until"));
	assert_non_null(jstr(r.json, "deprecated_at"));
	resp_free(&r);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);
	assert_int_equal(call("POST", p, ta.auth, slug_a,
	    "{\"grace_until\":\"2099-06-01T00:00:00Z\"}", &r), 200);
	assert_non_null(strstr(jstr(r.json, "grace_until"), "2099-06-01"));
	resp_free(&r);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);

	/* Past its grace: stops, still shown as deprecated. */
	sql_exec("UPDATE service_keys SET grace_until = now() - interval '1s'"
	    " WHERE id = $1", k.id, NULL);
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	assert_int_equal(call("GET", path_of(SK, k.id, NULL), ta.auth, slug_a,
	    NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "deprecated");
	assert_true(json_is_false(json_object_get(r.json, "active")));
	resp_free(&r);
	/* A zero grace stops a key at once. */
	create_key(SK, ta.auth, slug_a,
	    "{\"name\":\"dep0\",\"scopes\":[\"keys:read\"]}", &k);
	expect_status("POST", path_of(SK, k.id, "deprecate"), ta.auth, slug_a,
	    "{\"grace_period_seconds\":0}", 200);
	expect_error("GET", SK, k.auth, NULL, NULL, 401, "KEY_INACTIVE");
	assert_int_equal(call("GET", path_of(SK, k.id, "revocations"), ta.auth,
	    slug_a, NULL, &r), 200);
	assert_string_equal(jstr(json_array_get(r.json, 0), "action"),
	    "deprecate");
	resp_free(&r);
}

static void
test_sk_rotate(void **state)
{
	struct key	 old, nk;
	struct resp	 r;
	char		 hash[65];

	(void)state;
	create_key(SK, ta.auth, slug_a, "{\"name\":\"rot\",\"description\":"
	    "\"r\",\"scopes\":[\"keys:read\",\"storage:*\"]}", &old);
	expect_invalid("POST", path_of(SK, old.id, "rotate"), ta.auth, slug_a,
	    "{\"grace_period_seconds\":-5}", "/body/grace_period_seconds");
	expect_invalid("POST", path_of(SK, old.id, "rotate"), ta.auth, slug_a,
	    "{\"grace\":5}", "/body/grace");
	assert_int_equal(call("POST", path_of(SK, old.id, "rotate"), ta.auth,
	    slug_a, "{\"grace_period_seconds\":600,\"reason\":\"schedule\"}",
	    &r), 201);
	snprintf(nk.id, sizeof(nk.id), "%s", jstr(r.json, "id"));
	snprintf(nk.key, sizeof(nk.key), "%s", jstr(r.json, "key"));
	snprintf(nk.auth, sizeof(nk.auth), "Authorization: Bearer %s", nk.key);
	assert_string_not_equal(nk.id, old.id);
	assert_string_not_equal(nk.key, old.key);
	assert_string_equal(jstr(r.json, "name"), "rot");
	assert_string_equal(jstr(r.json, "description"), "r");
	assert_string_equal(jstr(r.json, "tenant_id"), tenant_a);
	assert_int_equal(json_array_size(json_object_get(r.json, "scopes")), 2);
	assert_string_equal(jstr(r.json, "status"), "active");
	resp_free(&r);
	sha256_hex(nk.key, hash);
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "id = $1 AND key_hash = $2", nk.id, hash), 1);

	/* Both work during the grace period. */
	expect_status("GET", SK, old.auth, NULL, NULL, 200);
	expect_status("GET", SK, nk.auth, NULL, NULL, 200);
	assert_int_equal(call("GET", path_of(SK, old.id, NULL), ta.auth,
	    slug_a, NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "deprecated");
	assert_string_equal(jstr(r.json, "replaced_by"), nk.id);
	assert_no_secret(r.json);
	resp_free(&r);
	assert_int_equal(call("GET", path_of(SK, nk.id, NULL), ta.auth,
	    slug_a, NULL, &r), 200);
	assert_no_secret(r.json);
	resp_free(&r);
	/* A rotated key is not rotated twice. */
	expect_error("POST", path_of(SK, old.id, "rotate"), ta.auth, slug_a,
	    NULL, 409, "KEY_NOT_ROTATABLE");
	/* After the grace period only the new one works. */
	sql_exec("UPDATE service_keys SET grace_until = now() - interval '1s'"
	    " WHERE id = $1", old.id, NULL);
	expect_error("GET", SK, old.auth, NULL, NULL, 401, "KEY_INACTIVE");
	expect_status("GET", SK, nk.auth, NULL, NULL, 200);
	/* Rotating with no grace stops the old one at once. */
	assert_int_equal(call("POST", path_of(SK, nk.id, "rotate"), ta.auth,
	    slug_a, "{\"grace_period_seconds\":0}", &r), 201);
	resp_free(&r);
	expect_error("GET", SK, nk.auth, NULL, NULL, 401, "KEY_INACTIVE");
	/* A disabled key is not rotated. */
	expect_status("POST", path_of(SK, old.id, "disable"), ta.auth, slug_a,
	    NULL, 200);
	expect_error("POST", path_of(SK, old.id, "rotate"), ta.auth, slug_a,
	    NULL, 409, "KEY_NOT_ROTATABLE");
	/* Default grace: one day. */
	create_key(SK, ta.auth, slug_a, "{\"name\":\"rot2\",\"scopes\":[]}",
	    &old);
	expect_status("POST", path_of(SK, old.id, "rotate"), ta.auth, slug_a,
	    NULL, 201);
	assert_int_equal(sql_count("SELECT count(*) FROM service_keys WHERE "
	    "id = $1 AND grace_until BETWEEN now() + interval '23 hours' AND "
	    "now() + interval '25 hours'", old.id, NULL), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND action = 'service_key.rotate' AND tenant_id = $2",
	    old.id, tenant_a), 1);
	assert_int_equal(sql_count("SELECT count(*) FROM service_key_events "
	    "WHERE key_id = $1 AND action = 'rotate'", old.id, NULL), 1);
}

static void
test_sk_update(void **state)
{
	struct key	 k;
	struct resp	 r;
	const char	*p;

	(void)state;
	create_key(SK, ta.auth, slug_a, "{\"name\":\"upd\",\"description\":"
	    "\"before\",\"scopes\":[\"keys:read\"]}", &k);
	p = path_of(SK, k.id, NULL);
	expect_invalid("PUT", p, ta.auth, slug_a, "{}", "/body");
	expect_invalid("PUT", p, ta.auth, slug_a, "{\"name\":\"\"}",
	    "/body/name");
	expect_invalid("PUT", p, ta.auth, slug_a, "{\"scopes\":[\"BAD\"]}",
	    "/body/scopes/0");
	expect_invalid("PUT", p, ta.auth, slug_a,
	    "{\"expires_at\":\"2000-01-01T00:00:00Z\"}", "/body/expires_at");
	expect_invalid("PUT", p, ta.auth, slug_a,
	    "{\"tenant_id\":\"" NOKEY "\"}", "/body/tenant_id");
	expect_invalid("PUT", p, ta.auth, slug_a, "{\"status\":\"active\"}",
	    "/body/status");

	assert_int_equal(call("PUT", p, ta.auth, slug_a, "{\"name\":\"after\","
	    "\"expires_at\":\"2098-01-01T00:00:00Z\"}", &r), 200);
	assert_string_equal(jstr(r.json, "name"), "after");
	assert_string_equal(jstr(r.json, "description"), "before");
	assert_non_null(strstr(jstr(r.json, "expires_at"), "2098-01-01"));
	assert_no_secret(r.json);
	resp_free(&r);
	assert_int_equal(call("PUT", p, ta.auth, slug_a,
	    "{\"description\":null,\"expires_at\":null}", &r), 200);
	assert_true(json_is_null(json_object_get(r.json, "description")));
	assert_true(json_is_null(json_object_get(r.json, "expires_at")));
	assert_string_equal(jstr(r.json, "name"), "after");
	resp_free(&r);
	expect_status("GET", SK, k.auth, NULL, NULL, 200);
	/* Taking the scope away takes the access away. */
	assert_int_equal(call("PUT", p, ta.auth, slug_a,
	    "{\"scopes\":[\"storage:read\"]}", &r), 200);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(r.json, "scopes"), 0)), "storage:read");
	resp_free(&r);
	expect_error("GET", SK, k.auth, NULL, NULL, 403, "INSUFFICIENT_SCOPE");
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND action = 'service_key.update'", k.id, NULL), 3);
}

static void
test_sk_list_paging(void **state)
{
	struct resp	r;
	char		hdr[64], q[256];
	struct key	k;
	long		total;
	int		i;

	(void)state;
	/* Tenant B: a known number of keys. */
	total = sql_count("SELECT count(*) FROM service_keys WHERE "
	    "tenant_id = $1", tenant_b, NULL);
	for (i = 0; i < 3; i++)
		create_key(SK, tb.auth, slug_b, "{\"name\":\"page\","
		    "\"scopes\":[]}", &k);
	total += 3;
	assert_int_equal(call("GET", SK "?limit=2", tb.auth, slug_b, NULL, &r),
	    200);
	assert_int_equal(json_array_size(r.json), 2);
	assert_non_null(resp_header(&r, "content-range", hdr, sizeof(hdr)));
	assert_string_equal(hdr, "0-1/*");
	/* Newest first. */
	assert_string_equal(jstr(json_array_get(r.json, 0), "id"), k.id);
	resp_free(&r);
	{
		const char	*h[] = { tb.auth, "X-FB-Tenant: placeholder",
				    "Prefer: count=exact", NULL };
		char		 th[128];

		snprintf(th, sizeof(th), "X-FB-Tenant: %s", slug_b);
		h[1] = th;
		assert_int_equal(http("GET", SK "?limit=2&offset=1", h, NULL, 0,
		    &r), 200);
		assert_non_null(resp_header(&r, "content-range", hdr,
		    sizeof(hdr)));
		snprintf(q, sizeof(q), "1-2/%ld", total);
		assert_string_equal(hdr, q);
		resp_free(&r);
		assert_int_equal(http("GET", SK "?offset=1000", h, NULL, 0,
		    &r), 200);
		assert_int_equal(json_array_size(r.json), 0);
		assert_non_null(resp_header(&r, "content-range", hdr,
		    sizeof(hdr)));
		snprintf(q, sizeof(q), "*/%ld", total);
		assert_string_equal(hdr, q);
		resp_free(&r);
	}
	/* The status filter. */
	expect_status("POST", path_of(SK, k.id, "disable"), tb.auth, slug_b,
	    NULL, 200);
	assert_int_equal(call("GET", SK "?status=disabled", tb.auth, slug_b,
	    NULL, &r), 200);
	assert_true(has_id(r.json, k.id));
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
	assert_int_equal(call("GET", SK "?status=active&limit=1000", tb.auth,
	    slug_b, NULL, &r), 200);
	assert_false(has_id(r.json, k.id));
	resp_free(&r);
	expect_invalid("GET", SK "?status=gone", tb.auth, slug_b, NULL,
	    "/query/status");
	expect_invalid("GET", SK "?limit=0", tb.auth, slug_b, NULL,
	    "/query/limit");
	expect_invalid("GET", SK "?limit=1001", tb.auth, slug_b, NULL,
	    "/query/limit");
	expect_invalid("GET", SK "?offset=-1", tb.auth, slug_b, NULL,
	    "/query/offset");
	expect_invalid("GET", SK "?tenant_id=nope", adm.auth, NULL, NULL,
	    "/query/tenant_id");
}

/* ---- client keys ---- */

static void
test_ck_crud(void **state)
{
	struct key	 k;
	struct resp	 r;
	char		 hash[65];
	const char	*p;

	(void)state;
	create_key(CK, u1.auth, NULL, "{\"name\":\"app\",\"scopes\":"
	    "[\"profile:read\"],\"description\":\"my app\"}", &k);
	sha256_hex(k.key, hash);
	assert_int_equal(sql_count("SELECT count(*) FROM client_keys WHERE "
	    "id = $1 AND key_hash = $2", k.id, hash), 1);
	p = path_of(CK, k.id, NULL);
	assert_int_equal(call("GET", p, u1.auth, NULL, NULL, &r), 200);
	assert_string_equal(jstr(r.json, "user_id"), u1.id);
	assert_string_equal(jstr(r.json, "description"), "my app");
	assert_true(json_is_null(json_object_get(r.json, "tenant_id")));
	assert_no_secret(r.json);
	assert_null(strstr(r.body, k.key));
	resp_free(&r);
	assert_int_equal(call("GET", CK, u1.auth, NULL, NULL, &r), 200);
	assert_true(has_id(r.json, k.id));
	assert_no_secret(r.json);
	resp_free(&r);

	/* The key acts as its user. */
	assert_int_equal(call("GET", "/api/v1/auth/user", k.auth, NULL, NULL,
	    &r), 200);
	assert_string_equal(jstr(r.json, "id"), u1.id);
	resp_free(&r);

	/* Update. */
	expect_invalid("PATCH", p, u1.auth, NULL, "{}", "/body");
	expect_invalid("PATCH", p, u1.auth, NULL, "{\"name\":\"\"}",
	    "/body/name");
	expect_invalid("PATCH", p, u1.auth, NULL,
	    "{\"expires_at\":\"1999-01-01T00:00:00Z\"}", "/body/expires_at");
	expect_invalid("PATCH", p, u1.auth, NULL, "{\"user_id\":\"" NOKEY
	    "\"}", "/body/user_id");
	assert_int_equal(call("PATCH", p, u1.auth, NULL,
	    "{\"name\":\"app 2\",\"scopes\":[\"storage:read\"]}", &r), 200);
	assert_string_equal(jstr(r.json, "name"), "app 2");
	assert_string_equal(jstr(r.json, "description"), "my app");
	resp_free(&r);
	expect_error("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 403,
	    "INSUFFICIENT_SCOPE");
	expect_status("PATCH", p, u1.auth, NULL,
	    "{\"scopes\":[\"profile:*\"]}", 200);
	expect_status("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 200);

	/* Revoke: final. */
	expect_invalid("POST", path_of(CK, k.id, "revoke"), u1.auth, NULL,
	    "{\"reason\":7}", "/body/reason");
	assert_int_equal(call("POST", path_of(CK, k.id, "revoke"), u1.auth,
	    NULL, "{\"reason\":\"lost laptop\"}", &r), 200);
	assert_string_equal(jstr(r.json, "status"), "revoked");
	assert_string_equal(jstr(r.json, "revoke_reason"), "lost laptop");
	assert_true(json_is_false(json_object_get(r.json, "active")));
	resp_free(&r);
	expect_error("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 401,
	    "KEY_INACTIVE");
	expect_error("POST", path_of(CK, k.id, "revoke"), u1.auth, NULL, NULL,
	    409, "KEY_REVOKED");
	expect_error("PATCH", p, u1.auth, NULL, "{\"name\":\"x\"}", 409,
	    "KEY_REVOKED");

	/* Delete. */
	expect_status("DELETE", p, u1.auth, NULL, NULL, 204);
	expect_error("GET", p, u1.auth, NULL, NULL, 404, "NOT_FOUND");
	expect_error("DELETE", p, u1.auth, NULL, NULL, 404, "NOT_FOUND");
	expect_error("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 401,
	    "INVALID_KEY");
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND actor_id = $2 AND action IN ('client_key.create',"
	    " 'client_key.update', 'client_key.revoke', 'client_key.delete')",
	    k.id, u1.id), 5);

	/* Expired. */
	create_key(CK, u1.auth, NULL, "{\"name\":\"exp\",\"scopes\":"
	    "[\"profile:read\"],\"expires_at\":\"2099-01-01T00:00:00Z\"}", &k);
	expect_status("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 200);
	sql_exec("UPDATE client_keys SET expires_at = now() - interval '1s'"
	    " WHERE id = $1", k.id, NULL);
	expect_error("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 401,
	    "KEY_INACTIVE");
	assert_int_equal(call("GET", path_of(CK, k.id, NULL), u1.auth, NULL,
	    NULL, &r), 200);
	assert_string_equal(jstr(r.json, "status"), "expired");
	resp_free(&r);
}

static void
test_ck_isolation(void **state)
{
	struct key	 k, ka;
	struct resp	 r;

	(void)state;
	create_key(CK, u1.auth, NULL,
	    "{\"name\":\"mine\",\"scopes\":[\"profile:read\"]}", &k);
	/* Another user: not found, whatever is done. */
	assert_int_equal(call("GET", CK, u2.auth, NULL, NULL, &r), 200);
	assert_false(has_id(r.json, k.id));
	resp_free(&r);
	expect_error("GET", path_of(CK, k.id, NULL), u2.auth, NULL, NULL, 404,
	    "NOT_FOUND");
	expect_error("PATCH", path_of(CK, k.id, NULL), u2.auth, NULL,
	    "{\"name\":\"theirs\"}", 404, "NOT_FOUND");
	expect_error("POST", path_of(CK, k.id, "revoke"), u2.auth, NULL, NULL,
	    404, "NOT_FOUND");
	expect_error("DELETE", path_of(CK, k.id, NULL), u2.auth, NULL, NULL,
	    404, "NOT_FOUND");
	/* Nor does an instance admin manage other users' client keys. */
	expect_error("GET", path_of(CK, k.id, NULL), adm.auth, NULL, NULL, 404,
	    "NOT_FOUND");
	expect_status("GET", "/api/v1/auth/user", k.auth, NULL, NULL, 200);
	assert_int_equal(sql_count("SELECT count(*) FROM client_keys WHERE "
	    "id = $1 AND name = 'mine' AND revoked_at IS NULL", k.id, NULL), 1);

	/* Unknown and malformed ids. */
	expect_error("GET", path_of(CK, NOKEY, NULL), u1.auth, NULL, NULL, 404,
	    "NOT_FOUND");
	expect_error("PATCH", path_of(CK, NOKEY, NULL), u1.auth, NULL,
	    "{\"name\":\"x\"}", 404, "NOT_FOUND");
	expect_error("POST", path_of(CK, NOKEY, "revoke"), u1.auth, NULL, NULL,
	    404, "NOT_FOUND");
	expect_error("DELETE", path_of(CK, NOKEY, NULL), u1.auth, NULL, NULL,
	    404, "NOT_FOUND");
	expect_invalid("GET", path_of(CK, "zz", NULL), u1.auth, NULL, NULL,
	    "/path/id");
	expect_invalid("DELETE", path_of(CK, "zz", NULL), u1.auth, NULL, NULL,
	    "/path/id");

	/* Who may: users and admins with a token; not anon, not keys. */
	expect_error("GET", CK, NULL, NULL, NULL, 401, "UNAUTHORIZED");
	expect_error("POST", CK, NULL, NULL, "{\"name\":\"x\",\"scopes\":[]}",
	    401, "UNAUTHORIZED");
	expect_error("GET", CK, k.auth, NULL, NULL, 403, "INSUFFICIENT_SCOPE");
	expect_error("POST", CK, k.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"*\"]}", 403, "INSUFFICIENT_SCOPE");
	expect_error("DELETE", path_of(CK, k.id, NULL), k.auth, NULL, NULL,
	    403, "INSUFFICIENT_SCOPE");
	expect_error("GET", SK, k.auth, NULL, NULL, 403, "FORBIDDEN");
	expect_error("POST", SK, k.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"*\"]}", 403, "FORBIDDEN");
	expect_status("GET", CK, adm.auth, NULL, NULL, 200);

	/* Bad keys and two credentials at once. */
	expect_error("GET", "/api/v1/auth/user", "X-Client-Key: kbck_"
	    "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", NULL, NULL, 401,
	    "INVALID_KEY");
	expect_error("GET", "/api/v1/auth/user", "X-Client-Key: kbsk_abc",
	    NULL, NULL, 401, "INVALID_KEY");
	{
		const char	*h[] = { u1.auth, k.auth, NULL };

		assert_int_equal(http("GET", "/api/v1/auth/user", h, NULL, 0,
		    &r), 401);
		assert_error(&r, 401, "UNAUTHORIZED");
		resp_free(&r);
	}

	/* Bad input. */
	expect_invalid("POST", CK, u1.auth, NULL, "{\"scopes\":[]}",
	    "/body/name");
	expect_invalid("POST", CK, u1.auth, NULL, "{\"name\":\"x\"}",
	    "/body/scopes");
	expect_invalid("POST", CK, u1.auth, NULL,
	    "{\"name\":\"x\",\"scopes\":[\"x y\"]}", "/body/scopes/0");
	expect_invalid("POST", CK, u1.auth, NULL, "{\"name\":\"x\","
	    "\"scopes\":[],\"expires_at\":\"2000-01-01T00:00:00Z\"}",
	    "/body/expires_at");
	expect_invalid("POST", CK, u1.auth, NULL, "{\"name\":\"x\","
	    "\"scopes\":[],\"user_id\":\"" NOKEY "\"}", "/body/user_id");

	/* A tenant-limited client key. */
	expect_error("POST", CK, u1.auth, slug_a,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "TENANT_FORBIDDEN");
	create_key(CK, ma.auth, slug_a,
	    "{\"name\":\"in a\",\"scopes\":[\"profile:read\"]}", &ka);
	assert_int_equal(call("GET", path_of(CK, ka.id, NULL), ma.auth, slug_a,
	    NULL, &r), 200);
	assert_string_equal(jstr(r.json, "tenant_id"), tenant_a);
	resp_free(&r);
	expect_status("GET", "/api/v1/auth/user", ka.auth, NULL, NULL, 200);
	expect_status("GET", "/api/v1/auth/user", ka.auth, slug_a, NULL, 200);
	expect_error("GET", "/api/v1/auth/user", ka.auth, slug_b, NULL, 403,
	    "TENANT_FORBIDDEN");
	/* An instance admin is no member: no client key limited to A. */
	expect_error("POST", CK, adm.auth, slug_a,
	    "{\"name\":\"x\",\"scopes\":[]}", 403, "TENANT_FORBIDDEN");
	/* A member's client key is not a tenant admin. */
	expect_error("GET", SK, ka.auth, NULL, NULL, 403, "FORBIDDEN");
	expect_status("GET", path_of(CK, ka.id, NULL), ma.auth, NULL, NULL,
	    200);
	assert_int_equal(sql_count("SELECT count(*) FROM audit_log WHERE "
	    "key_id = $1 AND tenant_id = $2 AND action = 'client_key.create'",
	    ka.id, tenant_a), 1);
}

/* ---- the gate's credential cache (server/kb_auth.c) ---- */

#define PROBE		"/api/v1/tables/kb_cache_probe"

/*
 * A table for the Tables API (a public operation, where the gate serves
 * keys from its cache): one row every caller sees, one only a tenant
 * admin's claims see (RLS on auth.jwt()).
 */
static void
probe_table(void)
{
	struct resp	r;
	int		i;

	sql_exec("CREATE TABLE IF NOT EXISTS kb_cache_probe (id int PRIMARY "
	    "KEY, who text NOT NULL)", NULL, NULL);
	sql_exec("INSERT INTO kb_cache_probe VALUES (1, 'all'), (2, 'admins')"
	    " ON CONFLICT DO NOTHING", NULL, NULL);
	sql_exec("ALTER TABLE kb_cache_probe ENABLE ROW LEVEL SECURITY",
	    NULL, NULL);
	sql_exec("DROP POLICY IF EXISTS probe_read ON kb_cache_probe", NULL,
	    NULL);
	sql_exec("CREATE POLICY probe_read ON kb_cache_probe FOR SELECT USING "
	    "(who = 'all' OR auth.jwt() ->> 'tenant_role' = 'admin')", NULL,
	    NULL);
	sql_exec("GRANT SELECT ON kb_cache_probe TO anon, authenticated, "
	    "service_role", NULL, NULL);
	sql_exec("CREATE OR REPLACE FUNCTION kb_cache_fn() RETURNS int "
	    "LANGUAGE sql AS 'SELECT 1'", NULL, NULL);
	/* The schema cache reloads after the DDL. */
	for (i = 0; i < 100; i++) {
		call("GET", PROBE "/1", adm.auth, NULL, NULL, &r);
		if (r.status == 200 || i == 99)
			break;
		resp_free(&r);
		usleep(50000);
	}
	if (r.status != 200)
		fprintf(stderr, "probe: %ld %s\n", r.status, r.body);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* Several times, so both workers answer from what they remember. */
static void
expect_n(int n, const char *path, const char *cred, const char *tenant,
    long status, const char *code)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (code != NULL)
			expect_error("GET", path, cred, tenant, NULL, status,
			    code);
		else
			expect_status("GET", path, cred, tenant, NULL, status);
	}
}

/*
 * A key the gate remembers is refused by the very next request once it
 * is revoked, disabled, narrowed or expired, and served again at once
 * when it is widened or enabled: the request's first statement checks
 * the credential epoch, and a stale answer is resolved again.
 */
static void
test_cache_key_changes(void **state)
{
	struct key	 k;
	struct resp	 r;
	char		 before[32], after[32];
	const char	*h[4];

	(void)state;
	probe_table();
	create_key(SK, adm.auth, NULL,
	    "{\"name\":\"cached\",\"scopes\":[\"tables:*\",\"rpc:call\"]}", &k);
	expect_n(8, PROBE "/1", k.auth, NULL, 200, NULL);
	expect_status("GET", PROBE "/export", k.auth, NULL, NULL, 200);
	h[0] = "Content-Type: application/json";
	h[1] = "Prefer: respond-async";
	h[2] = k.auth;
	h[3] = NULL;
	assert_int_equal(http("POST", "/api/v1/rpc/public/kb_cache_fn", h,
	    "{}", 2, &r), 202);
	resp_free(&r);

	/* Narrowed, then widened: each takes effect at once. */
	assert_int_equal(sql_value("SELECT epoch FROM kb_credential_epoch",
	    before, sizeof(before)), 0);
	sql_exec("UPDATE service_keys SET scopes = '{keys:read}' WHERE id = $1",
	    k.id, NULL);
	assert_int_equal(sql_value("SELECT epoch FROM kb_credential_epoch",
	    after, sizeof(after)), 0);
	assert_true(strtoll(after, NULL, 10) > strtoll(before, NULL, 10));
	expect_n(6, PROBE "/1", k.auth, NULL, 403, "INSUFFICIENT_SCOPE");
	sql_exec("UPDATE service_keys SET scopes = '{tables:read,rpc:call}' "
	    "WHERE id = $1", k.id, NULL);
	expect_n(6, PROBE "/1", k.auth, NULL, 200, NULL);

	/* Disabled and enabled through the API. */
	assert_int_equal(call("POST", path_of(SK, k.id, "disable"), adm.auth,
	    NULL, NULL, &r), 200);
	resp_free(&r);
	expect_n(6, PROBE "/1", k.auth, NULL, 401, "KEY_INACTIVE");
	assert_int_equal(call("POST", path_of(SK, k.id, "enable"), adm.auth,
	    NULL, NULL, &r), 200);
	resp_free(&r);
	expect_n(6, PROBE "/1", k.auth, NULL, 200, NULL);

	/* Revoked: refused, streamed exports and background calls too. */
	assert_int_equal(call("POST", path_of(SK, k.id, "revoke"), adm.auth,
	    NULL, "{\"reason\":\"cache test\"}", &r), 200);
	resp_free(&r);
	expect_error("GET", PROBE "/export", k.auth, NULL, NULL, 401,
	    "KEY_INACTIVE");
	h[0] = "Content-Type: application/json";
	h[1] = "Prefer: respond-async";
	h[2] = k.auth;
	h[3] = NULL;
	http("POST", "/api/v1/rpc/public/kb_cache_fn", h, "{}", 2, &r);
	assert_error(&r, 401, "KEY_INACTIVE");
	resp_free(&r);
	expect_n(6, PROBE "/1", k.auth, NULL, 401, "KEY_INACTIVE");
	expect_n(2, PROBE "/export", k.auth, NULL, 401, "KEY_INACTIVE");
}

/* An expiry passes with no change to any row: the check sees the time. */
static void
test_cache_key_expiry(void **state)
{
	struct key	 k;

	(void)state;
	probe_table();
	create_key(SK, adm.auth, NULL,
	    "{\"name\":\"expiring\",\"scopes\":[\"tables:read\"]}", &k);
	sql_exec("UPDATE service_keys SET expires_at = now() + interval "
	    "'2 seconds' WHERE id = $1", k.id, NULL);
	expect_n(6, PROBE "/1", k.auth, NULL, 200, NULL);
	sleep(3);
	expect_n(6, PROBE "/1", k.auth, NULL, 401, "KEY_INACTIVE");
}

/*
 * A user selecting a tenant is remembered with the tenant role; when it
 * changes, the request goes on with the new claims (RLS sees them), and
 * a membership that ends refuses the next request.
 */
static void
test_cache_tenant_role(void **state)
{
	struct resp	r;

	(void)state;
	probe_table();
	assert_int_equal(call("GET", PROBE "?order=id", ma.auth, slug_a,
	    NULL, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
	expect_n(4, PROBE "/1", ma.auth, slug_a, 200, NULL);
	sql_exec("UPDATE tenant_members SET role = 'admin' WHERE tenant_id = $1"
	    " AND user_id = $2", tenant_a, ma.id);
	assert_int_equal(call("GET", PROBE "?order=id", ma.auth, slug_a,
	    NULL, &r), 200);
	assert_int_equal(json_array_size(r.json), 2);
	resp_free(&r);
	expect_n(4, PROBE "/2", ma.auth, slug_a, 200, NULL);
	sql_exec("UPDATE tenant_members SET role = 'member' WHERE "
	    "tenant_id = $1 AND user_id = $2", tenant_a, ma.id);
	expect_n(4, PROBE "/2", ma.auth, slug_a, 404, NULL);
	sql_exec("DELETE FROM tenant_members WHERE tenant_id = $1 AND "
	    "user_id = $2", tenant_a, ma.id);
	expect_n(4, PROBE "/1", ma.auth, slug_a, 403, "TENANT_FORBIDDEN");
	add_member(tenant_a, &ma, "member");
	expect_n(4, PROBE "/1", ma.auth, slug_a, 200, NULL);
}

/*
 * A remembered tenant selection whose slug now names another tenant
 * (the first renamed, a new one given its slug): the statements the
 * request built were for the old tenant, so it is answered 409
 * CREDENTIALS_CHANGED once per worker that remembered it, and the next
 * request acts in the new tenant.
 */
static void
test_cache_identity_changed(void **state)
{
	struct resp	r;
	char		slug[64], old_id[64], new_id[64];
	int		i, n409;

	(void)state;
	probe_table();
	snprintf(slug, sizeof(slug), "swap-%ld", (long)getpid());
	make_tenant(slug, old_id, sizeof(old_id));
	add_member(old_id, &ma, "member");
	expect_n(12, PROBE "/1", ma.auth, slug, 200, NULL);

	sql_exec("UPDATE tenants SET slug = slug || '-old' WHERE id = $1",
	    old_id, NULL);
	make_tenant(slug, new_id, sizeof(new_id));
	add_member(new_id, &ma, "member");
	for (n409 = 0, i = 0; i < 12; i++) {
		call("GET", PROBE "/1", ma.auth, slug, NULL, &r);
		if (r.status == 409) {
			assert_error(&r, 409, "CREDENTIALS_CHANGED");
			n409++;
		} else
			assert_int_equal(r.status, 200);
		resp_free(&r);
	}
	assert_in_range(n409, 1, 2);	/* one per worker that remembered */
	expect_n(4, PROBE "/1", ma.auth, slug, 200, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sk_create_instance),
		cmocka_unit_test(test_sk_create_bad_input),
		cmocka_unit_test(test_sk_who_may),
		cmocka_unit_test(test_sk_tenant_isolation),
		cmocka_unit_test(test_sk_unknown_ids),
		cmocka_unit_test(test_sk_use_scopes),
		cmocka_unit_test(test_sk_lifecycle),
		cmocka_unit_test(test_sk_deprecate),
		cmocka_unit_test(test_sk_rotate),
		cmocka_unit_test(test_sk_update),
		cmocka_unit_test(test_sk_list_paging),
		cmocka_unit_test(test_ck_crud),
		cmocka_unit_test(test_ck_isolation),
		cmocka_unit_test(test_cache_key_changes),
		cmocka_unit_test(test_cache_key_expiry),
		cmocka_unit_test(test_cache_tenant_role),
		cmocka_unit_test(test_cache_identity_changed),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: keys", tests,
	    setup, teardown);
	curl_global_cleanup();
	return (failed != 0);
}
