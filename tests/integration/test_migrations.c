/*
 * Integration tests of the Migrations API (/api/v1/admin/migrations)
 * against the real server and PostgreSQL started by run.sh: storing,
 * applying (really running the SQL), failing cleanly, syncing, rolling
 * back, the runner's lock under concurrent calls, roles and scopes.
 */

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

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

#define PW	"correct horse battery"
#define M	"/api/v1/admin/migrations"

static char	admin[4096], user[4096], rkey[128], wkey[128];
static char	pfx[32];	/* per run, so names never collide */

static long
call(const char *method, const char *path, const char *as, const char *body,
    struct resp *r)
{
	char		 auth[8300];
	const char	*h[3] = { "Content-Type: application/json", NULL, NULL };

	if (as != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", as);
		h[1] = auth;
	}
	if (body == NULL && strcmp(method, "POST") == 0)
		body = "";
	return (http(method, path, h, body, body ? strlen(body) : 0, r));
}

/* 1 if the table exists. */
static int
table_exists(const char *name)
{
	char	sql[256], out[16];

	snprintf(sql, sizeof(sql), "SELECT to_regclass('%s') IS NOT NULL",
	    name);
	assert_int_equal(sql_value(sql, out, sizeof(out)), 0);
	return (strcmp(out, "t") == 0);
}

static void
create(const char *name, const char *up, const char *down, long status)
{
	struct resp	r;
	char		body[2048], full[128];

	snprintf(full, sizeof(full), "%s_%s", pfx, name);
	if (down != NULL)
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"up_sql\":\"%s\","
		    "\"down_sql\":\"%s\"}", full, up, down);
	else
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"up_sql\":\"%s\"}",
		    full, up);
	call("POST", M, admin, body, &r);
	if (r.status != status)
		fprintf(stderr, "create %s: %ld %s\n", full, r.status, r.body);
	assert_int_equal(r.status, status);
	resp_free(&r);
}

/* POST .../<name>/<action> and assert the status. */
static void
act(const char *name, const char *action, long status, struct resp *r)
{
	char	path[256];

	snprintf(path, sizeof(path), M "/%s_%s/%s", pfx, name, action);
	call("POST", path, admin, NULL, r);
	if (r->status != status)
		fprintf(stderr, "%s %s: %ld %s\n", action, name, r->status,
		    r->body);
	assert_int_equal(r->status, status);
}

static int
setup(void **state)
{
	char	sql[256], email[64];

	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(pfx, sizeof(pfx), "t%d", rand() % 1000000);
	snprintf(email, sizeof(email), "%s-admin@mig.test", pfx);
	user_token(email, PW, admin, sizeof(admin), NULL, 0);
	snprintf(sql, sizeof(sql), "UPDATE users SET role = 'admin' WHERE "
	    "email = '%s'", email);
	if (psql(sql) != 0)
		return (-1);
	user_token(email, PW, admin, sizeof(admin), NULL, 0);
	snprintf(email, sizeof(email), "%s-user@mig.test", pfx);
	user_token(email, PW, user, sizeof(user), NULL, 0);
	plant_service_key(NULL, "{migrations:read}", rkey, sizeof(rkey));
	plant_service_key(NULL, "{migrations:*}", wkey, sizeof(wkey));
	return (0);
}

static void
test_create_get_list(void **state)
{
	struct resp	r;
	char		path[256], sum[80], sql[256];

	(void)state;
	create("a", "CREATE TABLE mig_a (id int PRIMARY KEY);",
	    "DROP TABLE mig_a;", 201);
	create("a", "SELECT 1;", NULL, 409);

	snprintf(path, sizeof(path), M "/%s_a", pfx);
	call("GET", path, admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "pending");
	/* The checksum is the runner's: SHA-256 of up_sql. */
	snprintf(sql, sizeof(sql), "SELECT encode(sha256(convert_to("
	    "'CREATE TABLE mig_a (id int PRIMARY KEY);', 'UTF8')), 'hex')");
	assert_int_equal(sql_value(sql, sum, sizeof(sum)), 0);
	assert_string_equal(jstr(r.json, "checksum"), sum);
	assert_true(json_is_null(json_object_get(r.json, "applied_at")));
	resp_free(&r);

	call("GET", M "?limit=1000", admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_array_size(r.json) >= 1);
	resp_free(&r);

	/* Bad input, unknown names, roles and scopes. */
	call("POST", M, admin, "{\"name\":\"bad name!\",\"up_sql\":\"\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/name"));
	assert_true(error_has_path(&r, "/body/up_sql"));
	resp_free(&r);
	call("POST", M, admin, "{\"name\":\"x\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	call("GET", M "/no_such_migration", admin, NULL, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	call("GET", M, user, NULL, &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	call("GET", M, NULL, NULL, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	call("GET", M, rkey, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	call("POST", M, rkey, "{\"name\":\"k\",\"up_sql\":\"SELECT 1\"}", &r);
	assert_error(&r, 403, "INSUFFICIENT_SCOPE");
	resp_free(&r);
}

static void
test_apply_and_fail(void **state)
{
	struct resp	r;
	char		path[256], n[16];

	(void)state;
	assert_false(table_exists("mig_a"));
	act("a", "apply", 200, &r);
	assert_string_equal(jstr(r.json, "status"), "applied");
	assert_true(json_is_string(json_object_get(r.json, "applied_at")));
	resp_free(&r);
	assert_true(table_exists("mig_a"));
	act("a", "apply", 409, &r);
	assert_error(&r, 409, "MIGRATION_APPLIED");
	resp_free(&r);
	act("nope", "apply", 404, &r);
	resp_free(&r);

	/* A failing migration leaves nothing behind and records why. */
	create("b", "CREATE TABLE mig_b (id int); CRATE TABLE x;", NULL, 201);
	act("b", "apply", 400, &r);
	assert_error(&r, 400, "MIGRATION_FAILED");
	resp_free(&r);
	assert_false(table_exists("mig_b"));
	snprintf(path, sizeof(path), M "/%s_b", pfx);
	call("GET", path, admin, NULL, &r);
	assert_string_equal(jstr(r.json, "status"), "failed");
	assert_non_null(strstr(jstr(r.json, "error"), "CRATE"));
	resp_free(&r);

	/* Audit rows for what was applied. */
	snprintf(path, sizeof(path), "SELECT count(*) FROM audit_log WHERE "
	    "action = 'migration.apply' AND target = '%s_a'", pfx);
	assert_int_equal(sql_value(path, n, sizeof(n)), 0);
	assert_string_equal(n, "1");
}

static void
test_sync_and_rollback(void **state)
{
	struct resp	r;
	char		body[2048];

	(void)state;
	/* Fix b, add c, apply both. */
	snprintf(body, sizeof(body), "{\"migrations\":["
	    "{\"name\":\"%s_b\",\"up_sql\":\"CREATE TABLE mig_b (id int);\"},"
	    "{\"name\":\"%s_c\",\"up_sql\":\"CREATE TABLE mig_c (id int);\","
	    "\"down_sql\":\"DROP TABLE mig_c;\"}],\"apply\":true}", pfx, pfx);
	call("POST", M "/sync", admin, body, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "stored")), 2);
	assert_true(json_is_null(json_object_get(r.json, "failed")));
	resp_free(&r);
	assert_true(table_exists("mig_b"));
	assert_true(table_exists("mig_c"));

	/* Syncing the same again stores nothing. */
	call("POST", M "/sync", admin, body, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "stored")), 0);
	assert_int_equal(json_array_size(json_object_get(r.json, "applied")),
	    0);
	resp_free(&r);

	/* Changing an applied migration refuses the whole batch. */
	snprintf(body, sizeof(body), "{\"migrations\":["
	    "{\"name\":\"%s_d\",\"up_sql\":\"CREATE TABLE mig_d (id int);\"},"
	    "{\"name\":\"%s_a\",\"up_sql\":\"DROP TABLE users;\"}]}", pfx, pfx);
	call("POST", M "/sync", admin, body, &r);
	assert_error(&r, 409, "MIGRATION_CHANGED");
	resp_free(&r);
	snprintf(body, sizeof(body), M "/%s_d", pfx);
	call("GET", body, admin, NULL, &r);
	assert_int_equal(r.status, 404);
	resp_free(&r);
	snprintf(body, sizeof(body), "{\"migrations\":["
	    "{\"name\":\"dup\",\"up_sql\":\"SELECT 1\"},"
	    "{\"name\":\"dup\",\"up_sql\":\"SELECT 2\"}]}");
	call("POST", M "/sync", admin, body, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Roll back: only the latest; then it is pending again. */
	act("a", "rollback", 409, &r);
	assert_error(&r, 409, "MIGRATION_NOT_LATEST");
	resp_free(&r);
	act("c", "rollback", 200, &r);
	assert_string_equal(jstr(r.json, "status"), "rolled_back");
	resp_free(&r);
	assert_false(table_exists("mig_c"));
	act("c", "rollback", 409, &r);
	assert_error(&r, 409, "MIGRATION_NOT_APPLIED");
	resp_free(&r);
	act("b", "rollback", 409, &r);		/* latest now, no down_sql */
	assert_error(&r, 409, "MIGRATION_NO_DOWN");
	resp_free(&r);

	call("POST", M "/apply-pending", wkey, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_array_size(json_object_get(r.json, "applied")) >= 1);
	resp_free(&r);
	assert_true(table_exists("mig_c"));
}

/*
 * Two runners at once apply each migration exactly once: the migration
 * counts its own runs.
 */
static void
test_concurrent_apply(void **state)
{
	struct resp	r;
	char		n[16];
	pid_t		pid[4];
	int		i, st;

	(void)state;
	assert_int_equal(psql("CREATE TABLE IF NOT EXISTS mig_runs (n int)"),
	    0);
	create("e", "SELECT pg_sleep(0.3); INSERT INTO mig_runs VALUES (1);",
	    NULL, 201);
	for (i = 0; i < 4; i++) {
		if ((pid[i] = fork()) == 0) {
			call("POST", M "/apply-pending", admin, NULL, &r);
			_exit(r.status == 200 ? 0 : 1);
		}
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(sql_value("SELECT count(*) FROM mig_runs", n,
	    sizeof(n)), 0);
	assert_string_equal(n, "1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_list),
		cmocka_unit_test(test_apply_and_fail),
		cmocka_unit_test(test_sync_and_rollback),
		cmocka_unit_test(test_concurrent_apply),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: migrations", tests,
	    setup, NULL);
	curl_global_cleanup();
	return (failed ? 1 : 0);
}
