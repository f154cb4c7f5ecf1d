/*
 * Integration tests of the SQL endpoint (POST /api/v1/sql) against the
 * real server and PostgreSQL started by run.sh (which sets
 * KB_SQL_TIMEOUT_MS=1500).
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
#define SQL	"/api/v1/sql"

static char	admin[4096], admin_id[64], user[4096], key[128], nokey[128];

static long
run(const char *as, const char *body, struct resp *r)
{
	char		 auth[8300];
	const char	*h[3] = { "Content-Type: application/json", NULL, NULL };

	if (as != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", as);
		h[1] = auth;
	}
	return (http("POST", SQL, h, body, strlen(body), r));
}

static int
setup(void **state)
{
	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	user_token("sql-admin@sql.test", PW, admin, sizeof(admin), admin_id,
	    sizeof(admin_id));
	if (psql("UPDATE users SET role = 'admin' WHERE email = "
	    "'sql-admin@sql.test'") != 0)
		return (-1);
	user_token("sql-admin@sql.test", PW, admin, sizeof(admin), NULL, 0);
	user_token("sql-user@sql.test", PW, user, sizeof(user), NULL, 0);
	plant_service_key(NULL, "{sql:execute}", key, sizeof(key));
	plant_service_key(NULL, "{tables:*}", nokey, sizeof(nokey));
	if (psql("CREATE TABLE sql_t (id int PRIMARY KEY, note text); "
	    "GRANT ALL ON sql_t TO service_role") != 0)
		return (-1);
	return (0);
}

static json_t *
cell(json_t *o, size_t row, size_t col)
{
	return (json_array_get(json_array_get(json_object_get(o, "rows"), row),
	    col));
}

static void
test_select(void **state)
{
	struct resp	r;
	json_t		*cols;

	(void)state;
	run(admin, "{\"sql\":\"SELECT $1::int + 1 AS n\",\"params\":[41]}",
	    &r);
	assert_int_equal(r.status, 200);
	cols = json_object_get(r.json, "columns");
	assert_int_equal(json_array_size(cols), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(cols, 0), "name")), "n");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(cols, 0), "type")), "integer");
	assert_int_equal(json_integer_value(cell(r.json, 0, 0)), 42);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "row_count")), 1);
	assert_true(json_is_number(json_object_get(r.json, "duration_ms")));
	resp_free(&r);

	/* Types: native JSON where it is exact, text otherwise. */
	run(admin, "{\"sql\":\"SELECT true AS b, 1.5::float8 AS f, "
	    "123456789012345678901234567890::numeric AS big, 2.25::numeric AS "
	    "small, '{\\\"a\\\":[1]}'::jsonb AS j, NULL::text AS z, "
	    "'1 day'::interval AS i, $1::text AS s, $2::jsonb AS o\","
	    "\"params\":[\"x'y\",{\"k\":true}]}", &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(cell(r.json, 0, 0)));
	assert_true(json_real_value(cell(r.json, 0, 1)) == 1.5);
	assert_string_equal(json_string_value(cell(r.json, 0, 2)),
	    "123456789012345678901234567890");
	assert_true(json_real_value(cell(r.json, 0, 3)) == 2.25);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(
	    cell(r.json, 0, 4), "a"), 0)), 1);
	assert_true(json_is_null(cell(r.json, 0, 5)));
	assert_string_equal(json_string_value(cell(r.json, 0, 6)), "1 day");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(r.json, "columns"), 6), "type")),
	    "interval");
	assert_string_equal(json_string_value(cell(r.json, 0, 7)), "x'y");
	assert_true(json_is_true(json_object_get(cell(r.json, 0, 8), "k")));
	resp_free(&r);

	/* The caller's role and claims. */
	run(admin, "{\"sql\":\"SELECT current_user::text, auth.uid()::text\"}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(cell(r.json, 0, 0)),
	    "service_role");
	assert_string_equal(json_string_value(cell(r.json, 0, 1)), admin_id);
	resp_free(&r);
}

static void
test_writes(void **state)
{
	struct resp	r;

	(void)state;
	run(key, "{\"sql\":\"INSERT INTO sql_t VALUES ($1, $2), ($3, NULL)\","
	    "\"params\":[1,\"one\",2]}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "row_count")), 2);
	assert_int_equal(json_array_size(json_object_get(r.json, "columns")),
	    0);
	resp_free(&r);

	run(key, "{\"sql\":\"INSERT INTO sql_t VALUES (1, 'again')\"}", &r);
	assert_error(&r, 409, "SQL_CONFLICT");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "23505");
	assert_non_null(json_string_value(json_object_get(r.json, "details")));
	resp_free(&r);

	run(key, "{\"sql\":\"SELECT id, note FROM sql_t ORDER BY id\"}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "row_count")), 2);
	assert_true(json_is_null(cell(r.json, 1, 1)));
	resp_free(&r);
}

static void
test_errors(void **state)
{
	struct resp	r;
	char		*big;
	size_t		 i;

	(void)state;
	run(admin, "{\"sql\":\"SELEC 1\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "42601");
	resp_free(&r);
	/* One statement only: no batches. */
	run(admin, "{\"sql\":\"SELECT 1; DELETE FROM sql_t\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	run(admin, "{\"sql\":\"SELECT count(*) FROM sql_t\"}", &r);
	assert_int_equal(json_integer_value(cell(r.json, 0, 0)), 2);
	resp_free(&r);
	run(admin, "{\"sql\":\"SELECT * FROM no_such_table\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	/* korebase's own tables are out of reach of the role. */
	run(admin, "{\"sql\":\"SELECT password_hash FROM users\"}", &r);
	assert_error(&r, 403, "INSUFFICIENT_PRIVILEGE");
	resp_free(&r);
	run(admin, "{\"sql\":\"SELECT $1::int\",\"params\":[\"x\"]}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	run(admin, "{\"sql\":\"SELECT $1::int\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	/* The statement timeout. */
	run(admin, "{\"sql\":\"SELECT pg_sleep(10)\"}", &r);
	assert_error(&r, 408, "STATEMENT_TIMEOUT");
	resp_free(&r);
	/* The server is fine afterwards. */
	run(admin, "{\"sql\":\"SELECT 1\"}", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	/* Input limits. */
	big = malloc(10100);
	strcpy(big, "{\"sql\":\"SELECT '");
	for (i = strlen(big); i < 10050; i++)
		big[i] = 'x';
	strcpy(big + i, "'\"}");
	run(admin, big, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/sql"));
	resp_free(&r);
	free(big);
	run(admin, "{\"sql\":\"\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	run(admin, "{\"query\":\"SELECT 1\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	run(admin, "{\"sql\":\"SELECT 1\",\"params\":{}}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
}

static void
test_who(void **state)
{
	struct resp	r;

	(void)state;
	run(user, "{\"sql\":\"SELECT 1\"}", &r);
	assert_error(&r, 403, "FORBIDDEN");
	resp_free(&r);
	run(NULL, "{\"sql\":\"SELECT 1\"}", &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	run(nokey, "{\"sql\":\"SELECT 1\"}", &r);
	assert_error(&r, 403, "INSUFFICIENT_SCOPE");
	resp_free(&r);
	run(key, "{\"sql\":\"SELECT current_user::text\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(cell(r.json, 0, 0)),
	    "service_role");
	resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_writes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_who),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: sql", tests,
	    setup, NULL);
	curl_global_cleanup();
	return (failed ? 1 : 0);
}
