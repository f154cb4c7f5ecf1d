/*
 * Integration tests of the RPC group (/api/v1/rpc) against the real
 * server and PostgreSQL started by run.sh: listing, calls by POST and
 * GET, overloads, argument errors, types, injection attempts, roles and
 * row-level security, and background calls with their logs.
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
#define RPC	"/api/v1/rpc/"

static char	admin[4096], user_a[4096], user_b[4096], a_id[64];
static char	key[128], key2[128], nokey[128];

/*
 * The functions under test.  Written to a file and run with psql -f:
 * dollar quotes would not survive psql() (a shell command line).
 */
static const char setup_sql[] =
"CREATE TABLE rpc_notes (id serial PRIMARY KEY,"
"  owner uuid NOT NULL DEFAULT auth.uid(), body text);\n"
"ALTER TABLE rpc_notes ENABLE ROW LEVEL SECURITY;\n"
"CREATE POLICY own ON rpc_notes USING (owner = auth.uid())"
"  WITH CHECK (owner = auth.uid());\n"
"GRANT SELECT, INSERT ON rpc_notes TO authenticated;\n"
"GRANT USAGE ON SEQUENCE rpc_notes_id_seq TO authenticated;\n"
"CREATE FUNCTION rpc_add(a integer, b integer DEFAULT 10) RETURNS integer\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;\n"
"COMMENT ON FUNCTION rpc_add(integer, integer) IS 'Adds two numbers.';\n"
"CREATE FUNCTION rpc_hello(name text) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'hello ' || name $$;\n"
"CREATE TYPE rpc_pair_t AS (x integer, y text);\n"
"CREATE FUNCTION rpc_pair(x integer, y text) RETURNS rpc_pair_t\n"
"  LANGUAGE sql STABLE AS $$ SELECT ROW(x, y)::rpc_pair_t $$;\n"
"CREATE FUNCTION rpc_out(n integer, OUT doubled integer, OUT label text)\n"
"  LANGUAGE sql STABLE AS $$ SELECT n * 2, 'n=' || n $$;\n"
"CREATE FUNCTION rpc_series(n integer) RETURNS SETOF integer\n"
"  LANGUAGE sql STABLE AS $$ SELECT generate_series(1, n) $$;\n"
"CREATE FUNCTION rpc_rows(n integer) RETURNS TABLE (i integer, sq integer)\n"
"  LANGUAGE sql STABLE AS $$ SELECT g, g * g FROM generate_series(1, n) g $$;\n"
"CREATE FUNCTION rpc_noop(note text DEFAULT NULL) RETURNS void\n"
"  LANGUAGE plpgsql AS $$ BEGIN END $$;\n"
"CREATE FUNCTION rpc_over(a integer) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'int' $$;\n"
"CREATE FUNCTION rpc_over(a integer, b text) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'int text' $$;\n"
"CREATE FUNCTION rpc_over(s text) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'text' $$;\n"
"CREATE FUNCTION rpc_amb(a integer) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'int' $$;\n"
"CREATE FUNCTION rpc_amb(a text) RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'text' $$;\n"
"CREATE FUNCTION rpc_sum(xs integer[]) RETURNS integer\n"
"  LANGUAGE sql STABLE AS $$ SELECT sum(x)::integer FROM unnest(xs) x $$;\n"
"CREATE FUNCTION rpc_tags(tags text[]) RETURNS text[]\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT tags $$;\n"
"CREATE FUNCTION rpc_json(doc jsonb) RETURNS jsonb\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT doc $$;\n"
"CREATE FUNCTION rpc_body(jsonb) RETURNS jsonb\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT $1 || '{\"seen\":true}' $$;\n"
"CREATE FUNCTION rpc_var(sep text, VARIADIC xs integer[]) RETURNS text\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT array_to_string(xs, sep) $$;\n"
"CREATE TYPE rpc_mood AS ENUM ('sad', 'happy');\n"
"CREATE FUNCTION rpc_words(\"select\" text, \"Mixed Case\" rpc_mood,\n"
"  \"from\" numeric(10,2) DEFAULT 1.5) RETURNS text\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT \"select\" || ':' ||"
" \"Mixed Case\" || ':' || \"from\" $$;\n"
"CREATE FUNCTION rpc_tenant() RETURNS json\n"
"  LANGUAGE sql STABLE AS $$ SELECT json_build_object('tenant',"
" auth.tenant_id(), 'tenant_role', auth.jwt() ->> 'tenant_role') $$;\n"
"CREATE FUNCTION rpc_code(c character, v character varying) RETURNS text\n"
"  LANGUAGE sql IMMUTABLE AS $$ SELECT c || '/' || v $$;\n"
"CREATE FUNCTION rpc_add_note(body text) RETURNS integer\n"
"  LANGUAGE sql AS $$ INSERT INTO rpc_notes (body) VALUES (body)"
" RETURNING id $$;\n"
"CREATE FUNCTION rpc_my_notes() RETURNS SETOF rpc_notes\n"
"  LANGUAGE sql STABLE AS $$ SELECT * FROM rpc_notes ORDER BY id $$;\n"
"REVOKE EXECUTE ON FUNCTION rpc_add_note(text), rpc_my_notes() FROM PUBLIC;\n"
"GRANT EXECUTE ON FUNCTION rpc_add_note(text), rpc_my_notes()"
"  TO authenticated;\n"
"CREATE FUNCTION rpc_sneaky() RETURNS integer\n"
"  LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN rpc_add_note('sneaky'); END"
" $$;\n"
"CREATE FUNCTION rpc_whoami() RETURNS json\n"
"  LANGUAGE sql STABLE AS $$ SELECT json_build_object('role',"
" current_user, 'uid', auth.uid()) $$;\n"
"CREATE FUNCTION rpc_secret() RETURNS text\n"
"  LANGUAGE sql STABLE AS $$ SELECT 'secret' $$;\n"
"REVOKE EXECUTE ON FUNCTION rpc_secret() FROM PUBLIC;\n"
"CREATE FUNCTION rpc_fail(msg text) RETURNS integer\n"
"  LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'about to fail';"
" RAISE EXCEPTION 'boom: %', msg USING HINT = 'try again'; END $$;\n"
"CREATE FUNCTION rpc_slow(n integer) RETURNS integer\n"
"  LANGUAGE plpgsql AS $$ BEGIN\n"
"    RAISE NOTICE 'start %', n;\n"
"    PERFORM pg_sleep(0.4);\n"
"    RAISE WARNING 'half way';\n"
"    RAISE INFO 'an info line';\n"
"    PERFORM pg_sleep(0.4);\n"
"    RAISE NOTICE 'done';\n"
"    RETURN n * 2;\n"
"  END $$;\n"
"CREATE FUNCTION rpc_sleep(s float8) RETURNS integer\n"
"  LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(s); RETURN 1; END $$;\n"
"CREATE FUNCTION rpc_slow_note(body text) RETURNS integer\n"
"  LANGUAGE plpgsql AS $$ DECLARE id integer; BEGIN\n"
"    PERFORM pg_sleep(0.2);\n"
"    INSERT INTO rpc_notes (body) VALUES (body) RETURNING rpc_notes.id"
" INTO id;\n"
"    RAISE NOTICE 'note % for %', id, auth.uid();\n"
"    RETURN id;\n"
"  END $$;\n"
"REVOKE EXECUTE ON FUNCTION rpc_slow_note(text) FROM PUBLIC;\n"
"GRANT EXECUTE ON FUNCTION rpc_slow_note(text) TO authenticated;\n"
"CREATE SCHEMA rpc_hidden;\n"
"CREATE FUNCTION rpc_hidden.f() RETURNS integer\n"
"  LANGUAGE sql AS $$ SELECT 1 $$;\n";

/* One call: `as` a token or key (NULL: anon), optional body and Prefer. */
static long
call(const char *as, const char *method, const char *path, const char *body,
    const char *prefer, struct resp *r)
{
	char		 auth[8300], pref[256], url[4096];
	const char	*h[4] = { NULL, NULL, NULL, NULL };
	int		 n = 0;

	if (body != NULL)
		h[n++] = "Content-Type: application/json";
	if (as != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", as);
		h[n++] = auth;
	}
	if (prefer != NULL) {
		snprintf(pref, sizeof(pref), "Prefer: %s", prefer);
		h[n++] = pref;
	}
	if (path[0] == '/')
		snprintf(url, sizeof(url), "%s", path);
	else
		snprintf(url, sizeof(url), RPC "%s", path);
	return (http(method, url, h, body, body ? strlen(body) : 0, r));
}

static long
post(const char *as, const char *path, const char *body, struct resp *r)
{
	return (call(as, "POST", path, body, NULL, r));
}

static long
get(const char *as, const char *path, struct resp *r)
{
	return (call(as, "GET", path, NULL, NULL, r));
}

static int
setup(void **state)
{
	struct resp	r;
	FILE		*f;
	int		 i;

	(void)state;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	user_token("rpc-admin@rpc.test", PW, admin, sizeof(admin), NULL, 0);
	if (psql("UPDATE users SET role = 'admin' WHERE email = "
	    "'rpc-admin@rpc.test'") != 0)
		return (-1);
	user_token("rpc-admin@rpc.test", PW, admin, sizeof(admin), NULL, 0);
	user_token("rpc-a@rpc.test", PW, user_a, sizeof(user_a), a_id,
	    sizeof(a_id));
	user_token("rpc-b@rpc.test", PW, user_b, sizeof(user_b), NULL, 0);
	plant_service_key(NULL, "{rpc:call,rpc:read}", key, sizeof(key));
	plant_service_key(NULL, "{rpc:call,rpc:read}", key2, sizeof(key2));
	plant_service_key(NULL, "{tables:*}", nokey, sizeof(nokey));

	if ((f = fopen("build/rpc-setup.sql", "w")) == NULL)
		return (-1);
	fputs(setup_sql, f);
	fclose(f);
	if (system("psql \"$DATABASE_URL\" -qAt -v ON_ERROR_STOP=1 "
	    "-f build/rpc-setup.sql >/dev/null") != 0)
		return (-1);
	/* Every worker's schema cache picks the functions up. */
	for (i = 0; i < 100; i++) {
		post(NULL, "public/rpc_sneaky", "{}", &r);
		resp_free(&r);
		post(NULL, "public/rpc_slow_note", "{}", &r);
		if (r.status != 404) {
			resp_free(&r);
			break;
		}
		resp_free(&r);
		usleep(100000);
	}
	usleep(300000);
	return (0);
}

static const char *
str(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

static const char *
sqlstate(struct resp *r)
{
	return (str(r->json, "sqlstate"));
}

/* The Procedure object of ns.name in a listing, or NULL. */
static json_t *
find_proc(json_t *list, const char *ns, const char *name)
{
	json_t	*p;
	size_t	 i;

	json_array_foreach(list, i, p) {
		if (strcmp(str(p, "namespace"), ns) == 0 &&
		    strcmp(str(p, "name"), name) == 0)
			return (p);
	}
	return (NULL);
}

static void
test_list(void **state)
{
	struct resp	 r;
	json_t		*p, *a;

	(void)state;
	assert_int_equal(get(user_a, "procedures", &r), 200);
	assert_true(json_is_array(r.json));
	assert_non_null(p = find_proc(r.json, "public", "rpc_add"));
	assert_string_equal(str(p, "returns"), "integer");
	assert_true(json_is_false(json_object_get(p, "returns_set")));
	assert_string_equal(str(p, "volatility"), "immutable");
	assert_string_equal(str(p, "description"), "Adds two numbers.");
	a = json_object_get(p, "args");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(str(json_array_get(a, 0), "name"), "a");
	assert_string_equal(str(json_array_get(a, 0), "type"), "integer");
	assert_true(json_is_false(json_object_get(json_array_get(a, 0),
	    "has_default")));
	assert_true(json_is_true(json_object_get(json_array_get(a, 1),
	    "has_default")));
	/* OUT arguments are not arguments. */
	assert_non_null(p = find_proc(r.json, "public", "rpc_out"));
	assert_int_equal(json_array_size(json_object_get(p, "args")), 1);
	assert_non_null(p = find_proc(r.json, "public", "rpc_rows"));
	assert_true(json_is_true(json_object_get(p, "returns_set")));
	assert_non_null(strstr(str(p, "returns"), "TABLE("));
	/* Granted to authenticated. */
	assert_non_null(find_proc(r.json, "public", "rpc_add_note"));
	/* Not executable, korebase's own, not exposed: absent. */
	assert_null(find_proc(r.json, "public", "rpc_secret"));
	assert_null(find_proc(r.json, "public", "kb_resolve_caller"));
	assert_null(find_proc(r.json, "public", "users_touch"));
	assert_null(find_proc(r.json, "rpc_hidden", "f"));
	assert_null(find_proc(r.json, "auth", "uid"));
	resp_free(&r);

	/* A service key sees what service_role may execute. */
	assert_int_equal(get(key, "procedures", &r), 200);
	assert_non_null(find_proc(r.json, "public", "rpc_add"));
	assert_null(find_proc(r.json, "public", "rpc_add_note"));
	resp_free(&r);

	get(NULL, "procedures", &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	get(nokey, "procedures", &r);
	assert_error(&r, 403, "INSUFFICIENT_SCOPE");
	resp_free(&r);
}

static void
test_shapes(void **state)
{
	struct resp	r;

	(void)state;
	/* Scalar, with and without the default. */
	assert_int_equal(post(NULL, "public/rpc_add", "{\"a\":1,\"b\":2}", &r),
	    200);
	assert_int_equal(json_integer_value(r.json), 3);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_add", "{\"a\":5}", &r), 200);
	assert_int_equal(json_integer_value(r.json), 15);
	resp_free(&r);
	/* Numbers as strings are fine where PostgreSQL parses them. */
	assert_int_equal(post(NULL, "public/rpc_add", "{\"a\":\"7\",\"b\":1}",
	    &r), 200);
	assert_int_equal(json_integer_value(r.json), 8);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_hello", "{\"name\":\"x\"}", &r),
	    200);
	assert_string_equal(json_string_value(r.json), "hello x");
	resp_free(&r);
	/* null is SQL NULL. */
	assert_int_equal(post(NULL, "public/rpc_hello", "{\"name\":null}", &r),
	    200);
	assert_true(json_is_null(r.json));
	resp_free(&r);

	/* Composite, OUT parameters. */
	assert_int_equal(post(NULL, "public/rpc_pair", "{\"x\":1,\"y\":\"a\"}",
	    &r), 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "x")), 1);
	assert_string_equal(str(r.json, "y"), "a");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_out", "{\"n\":4}", &r), 200);
	assert_int_equal(json_integer_value(json_object_get(r.json,
	    "doubled")), 8);
	assert_string_equal(str(r.json, "label"), "n=4");
	resp_free(&r);

	/* Sets. */
	assert_int_equal(post(NULL, "public/rpc_series", "{\"n\":3}", &r), 200);
	assert_int_equal(json_array_size(r.json), 3);
	assert_int_equal(json_integer_value(json_array_get(r.json, 2)), 3);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_series", "{\"n\":0}", &r), 200);
	assert_true(json_is_array(r.json));
	assert_int_equal(json_array_size(r.json), 0);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_rows", "{\"n\":2}", &r), 200);
	assert_int_equal(json_array_size(r.json), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    r.json, 1), "sq")), 4);
	resp_free(&r);

	/* void: 204, with or without a body. */
	assert_int_equal(post(NULL, "public/rpc_noop", "{}", &r), 204);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	assert_int_equal(http("POST", RPC "public/rpc_noop", NULL, "", 0, &r),
	    204);
	resp_free(&r);

	/* Arrays and JSON. */
	assert_int_equal(post(NULL, "public/rpc_sum", "{\"xs\":[1,2,3]}", &r),
	    200);
	assert_int_equal(json_integer_value(r.json), 6);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_sum", "{\"xs\":[[1,2],[3,4]]}",
	    &r), 200);
	assert_int_equal(json_integer_value(r.json), 10);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_sum", "{\"xs\":[]}", &r), 200);
	assert_true(json_is_null(r.json));
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_tags",
	    "{\"tags\":[\"a\\\"b\",\"c,d\",\"{e}\",\"back\\\\slash\",null,"
	    "\"NULL\",\" sp \"]}", &r), 200);
	assert_int_equal(json_array_size(r.json), 7);
	assert_string_equal(json_string_value(json_array_get(r.json, 0)),
	    "a\"b");
	assert_string_equal(json_string_value(json_array_get(r.json, 1)),
	    "c,d");
	assert_string_equal(json_string_value(json_array_get(r.json, 2)),
	    "{e}");
	assert_string_equal(json_string_value(json_array_get(r.json, 3)),
	    "back\\slash");
	assert_true(json_is_null(json_array_get(r.json, 4)));
	assert_string_equal(json_string_value(json_array_get(r.json, 5)),
	    "NULL");
	assert_string_equal(json_string_value(json_array_get(r.json, 6)),
	    " sp ");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_json",
	    "{\"doc\":{\"k\":[1,\"x\",null]}}", &r), 200);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(
	    r.json, "k"), 0)), 1);
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_json", "{\"doc\":\"str\"}", &r),
	    200);
	assert_string_equal(json_string_value(r.json), "str");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_json", "{\"doc\":[1,2]}", &r),
	    200);
	assert_int_equal(json_array_size(r.json), 2);
	resp_free(&r);
	/* One unnamed jsonb argument: the whole body. */
	assert_int_equal(post(NULL, "public/rpc_body",
	    "{\"x\":1,\"y\":[\"a'b\"]}", &r), 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "x")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    r.json, "y"), 0)), "a'b");
	assert_true(json_is_true(json_object_get(r.json, "seen")));
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_body", "{}", &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "seen")));
	resp_free(&r);
	/* VARIADIC, reserved and mixed-case names, enums, typmods. */
	assert_int_equal(post(NULL, "public/rpc_var",
	    "{\"sep\":\"-\",\"xs\":[1,2,3]}", &r), 200);
	assert_string_equal(json_string_value(r.json), "1-2-3");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_words",
	    "{\"select\":\"s\",\"Mixed Case\":\"happy\",\"from\":2.25}",
	    &r), 200);
	assert_string_equal(json_string_value(r.json), "s:happy:2.25");
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_words?select=s&Mixed+Case=sad",
	    &r), 200);
	assert_string_equal(json_string_value(r.json), "s:sad:1.5");
	resp_free(&r);
	post(NULL, "public/rpc_words",
	    "{\"select\":\"s\",\"Mixed Case\":\"angry\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	assert_string_equal(sqlstate(&r), "22P02");
	resp_free(&r);
	/* HEAD runs the GET call and sends no body. */
	assert_int_equal(call(NULL, "HEAD", "public/rpc_add?a=1", NULL, NULL,
	    &r), 200);
	assert_int_equal(r.len, 0);
	resp_free(&r);
	/* character is not character(1). */
	assert_int_equal(post(NULL, "public/rpc_code",
	    "{\"c\":\"abc\",\"v\":\"de\"}", &r), 200);
	assert_string_equal(json_string_value(r.json), "abc/de");
	resp_free(&r);
}

static void
test_overloads(void **state)
{
	struct resp	r;

	(void)state;
	assert_int_equal(post(NULL, "public/rpc_over", "{\"a\":1}", &r), 200);
	assert_string_equal(json_string_value(r.json), "int");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_over", "{\"a\":1,\"b\":\"x\"}",
	    &r), 200);
	assert_string_equal(json_string_value(r.json), "int text");
	resp_free(&r);
	assert_int_equal(post(NULL, "public/rpc_over", "{\"s\":\"q\"}", &r),
	    200);
	assert_string_equal(json_string_value(r.json), "text");
	resp_free(&r);
	post(NULL, "public/rpc_over", "{\"a\":1,\"s\":\"q\"}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_non_null(strstr(str(r.json, "error"), "no overload"));
	assert_non_null(strstr(str(r.json, "error"), "rpc_over(s text)"));
	resp_free(&r);
	post(NULL, "public/rpc_amb", "{\"a\":1}", &r);
	assert_error(&r, 300, "AMBIGUOUS_FUNCTION");
	assert_int_equal(json_array_size(json_object_get(r.json, "details")),
	    2);
	resp_free(&r);
}

static void
test_arg_errors(void **state)
{
	struct resp	r;

	(void)state;
	post(NULL, "public/rpc_add", "{\"b\":1}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/a"));
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":1,\"zzz\":2,\"x/y\":3}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/zzz"));
	assert_true(error_has_path(&r, "/body/x~1y"));
	resp_free(&r);
	post(NULL, "public/rpc_add", "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/a"));
	resp_free(&r);
	post(NULL, "public/rpc_add", "[1,2]", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	/* Wrong types: 400 with PostgreSQL's words, never 500. */
	post(NULL, "public/rpc_add", "{\"a\":\"abc\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	assert_string_equal(sqlstate(&r), "22P02");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":1.5}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":true}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":{\"x\":1}}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":[1,2]}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":99999999999}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	assert_string_equal(sqlstate(&r), "22003");
	resp_free(&r);
	post(NULL, "public/rpc_sum", "{\"xs\":[[1,2],[3]]}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_sum", "{\"xs\":[\"x\"]}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_sum", "{\"xs\":\"not an array\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_hello", "{\"name\":\"a\\u0000b\"}", &r);
	assert_true(r.status == 400);
	resp_free(&r);

	/* The function's own exception: 400 with its message and hint. */
	post(NULL, "public/rpc_fail", "{\"msg\":\"x\"}", &r);
	assert_error(&r, 400, "SQL_ERROR");
	assert_string_equal(sqlstate(&r), "P0001");
	assert_string_equal(str(r.json, "message"), "boom: x");
	assert_string_equal(str(r.json, "hint"), "try again");
	resp_free(&r);

	/* Unknown functions and schemas. */
	post(NULL, "public/no_such_fn", "{}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	post(NULL, "rpc_hidden/f", "{}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	post(NULL, "auth/uid", "{}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	post(NULL, "pg_catalog/pg_sleep", "{\"x\":1}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	/* korebase's own, although PUBLIC could execute some of them. */
	post(key, "public/kb_resolve_caller", "{}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	post(key, "public/users_touch", "{}", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
}

static void
test_injection(void **state)
{
	static const char *const paths[] = {
		"public%22%3B%20DROP%20TABLE%20rpc_notes%3B--/rpc_add",
		"public/rpc_add%22(1)%3B%20DROP%20TABLE%20rpc_notes%3B--",
		"public/rpc_add%27",
		"public/rpc_add()",
		"public.rpc_add/x",
		"%22public%22/%22rpc_add%22",
		"public/RPC_ADD",
		"public/rpc_add%00",
		"public/rpc_add%20",
		"public/..%2Frpc_add",
	};
	struct resp	 r;
	char		 n[64];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		post(NULL, paths[i], "{\"a\":1}", &r);
		if (r.status != 400 && r.status != 404)
			fail_msg("%s: %ld", paths[i], r.status);
		resp_free(&r);
	}
	/* Argument names. */
	post(NULL, "public/rpc_add", "{\"a\\\" => 1); DROP TABLE rpc_notes; "
	    "--\":1}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":1,\"b) FROM pg_sleep(5); --\":1}",
	    &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	/* Values are parameters. */
	post(NULL, "public/rpc_hello", "{\"name\":\"x'); DROP TABLE rpc_notes;"
	    " --\"}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(r.json),
	    "hello x'); DROP TABLE rpc_notes; --");
	resp_free(&r);
	post(NULL, "public/rpc_add", "{\"a\":\"1); DROP TABLE rpc_notes; --\"}",
	    &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);
	post(NULL, "public/rpc_tags", "{\"tags\":[\"}\\\", DROP\",\"\\\\\"]}",
	    &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_array_get(r.json, 0)),
	    "}\", DROP");
	resp_free(&r);
	get(NULL, "public/rpc_hello?name=x%27%29%3B%20DROP%20TABLE%20"
	    "rpc_notes%3B--", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	get(NULL, "public/rpc_hello?name%27%29%3B--=1", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	assert_int_equal(sql_value("SELECT count(*) FROM pg_class WHERE "
	    "relname = 'rpc_notes'", n, sizeof(n)), 0);
	assert_string_equal(n, "1");
}

static void
test_get(void **state)
{
	struct resp	r;
	char		hdr[64];

	(void)state;
	assert_int_equal(get(NULL, "public/rpc_add?a=1&b=2", &r), 200);
	assert_int_equal(json_integer_value(r.json), 3);
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_add?a=4", &r), 200);
	assert_int_equal(json_integer_value(r.json), 14);
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_hello?name=a+b%20c%2B", &r),
	    200);
	assert_string_equal(json_string_value(r.json), "hello a b c+");
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_hello?name=", &r), 200);
	assert_string_equal(json_string_value(r.json), "hello ");
	resp_free(&r);
	/* Arrays: repeated, or PostgreSQL's literal. */
	assert_int_equal(get(NULL, "public/rpc_sum?xs=1&xs=2&xs=3", &r), 200);
	assert_int_equal(json_integer_value(r.json), 6);
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_sum?xs=%7B4,5%7D", &r), 200);
	assert_int_equal(json_integer_value(r.json), 9);
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_json?doc=%7B%22k%22:1%7D", &r),
	    200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "k")), 1);
	resp_free(&r);
	assert_int_equal(get(NULL, "public/rpc_rows?n=1", &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);

	get(NULL, "public/rpc_add?a=1&a=2", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/a"));
	resp_free(&r);
	get(NULL, "public/rpc_add?a=%zz", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
	get(NULL, "public/rpc_add?b=1", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/a"));
	resp_free(&r);
	get(NULL, "public/rpc_add?a=x", &r);
	assert_error(&r, 400, "SQL_ERROR");
	resp_free(&r);

	/* VOLATILE: POST only. */
	get(NULL, "public/rpc_noop", &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	assert_non_null(resp_header(&r, "Allow", hdr, sizeof(hdr)));
	assert_string_equal(hdr, "POST");
	resp_free(&r);
	get(user_a, "public/rpc_add_note?body=x", &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	resp_free(&r);
	/* STABLE in name only: the read-only transaction stops the write. */
	get(user_a, "public/rpc_sneaky", &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	assert_string_equal(sqlstate(&r), "25006");
	resp_free(&r);
}

static void
test_roles(void **state)
{
	struct resp	 r;
	json_int_t	 id;

	(void)state;
	/* Who the function runs as. */
	assert_int_equal(post(NULL, "public/rpc_whoami", "{}", &r), 200);
	assert_string_equal(str(r.json, "role"), "anon");
	assert_true(json_is_null(json_object_get(r.json, "uid")));
	resp_free(&r);
	assert_int_equal(post(user_a, "public/rpc_whoami", "{}", &r), 200);
	assert_string_equal(str(r.json, "role"), "authenticated");
	assert_string_equal(str(r.json, "uid"), a_id);
	resp_free(&r);
	assert_int_equal(post(key, "public/rpc_whoami", "{}", &r), 200);
	assert_string_equal(str(r.json, "role"), "service_role");
	resp_free(&r);
	assert_int_equal(post(admin, "public/rpc_whoami", "{}", &r), 200);
	assert_string_equal(str(r.json, "role"), "service_role");
	resp_free(&r);

	/* EXECUTE privileges. */
	post(NULL, "public/rpc_add_note", "{\"body\":\"x\"}", &r);
	assert_error(&r, 401, "INSUFFICIENT_PRIVILEGE");
	resp_free(&r);
	post(user_a, "public/rpc_secret", "{}", &r);
	assert_error(&r, 403, "INSUFFICIENT_PRIVILEGE");
	resp_free(&r);
	post(key, "public/rpc_add_note", "{\"body\":\"x\"}", &r);
	assert_error(&r, 403, "INSUFFICIENT_PRIVILEGE");
	resp_free(&r);

	/* Scopes. */
	post(nokey, "public/rpc_add", "{\"a\":1}", &r);
	assert_error(&r, 403, "INSUFFICIENT_SCOPE");
	resp_free(&r);

	/* Row-level security through the function. */
	assert_int_equal(post(user_a, "public/rpc_add_note",
	    "{\"body\":\"a's note\"}", &r), 200);
	id = json_integer_value(r.json);
	assert_true(id > 0);
	resp_free(&r);
	assert_int_equal(post(user_b, "public/rpc_add_note",
	    "{\"body\":\"b's note\"}", &r), 200);
	resp_free(&r);
	assert_int_equal(get(user_a, "public/rpc_my_notes", &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(str(json_array_get(r.json, 0), "body"),
	    "a's note");
	assert_string_equal(str(json_array_get(r.json, 0), "owner"), a_id);
	resp_free(&r);
	assert_int_equal(get(user_b, "public/rpc_my_notes", &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(str(json_array_get(r.json, 0), "body"),
	    "b's note");
	resp_free(&r);
}

/* The tenant the gate resolved is the function's auth.tenant_id(). */
static void
test_tenant(void **state)
{
	struct resp	 r;
	char		 tid[64], tkey[128], auth[8300];
	const char	*h[4];

	(void)state;
	assert_int_equal(sql_value("INSERT INTO tenants (slug, name) VALUES "
	    "('rpc-t', 'RPC') RETURNING id", tid, sizeof(tid)), 0);
	snprintf(auth, sizeof(auth), "INSERT INTO tenant_members (tenant_id, "
	    "user_id) VALUES ('%s', '%s')", tid, a_id);
	assert_int_equal(psql(auth), 0);
	plant_service_key(tid, "{rpc:call}", tkey, sizeof(tkey));

	h[0] = "Content-Type: application/json";
	h[1] = auth;
	h[2] = "X-FB-Tenant: rpc-t";
	h[3] = NULL;
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", user_a);
	assert_int_equal(http("POST", RPC "public/rpc_tenant", h, "{}", 2, &r),
	    200);
	assert_string_equal(str(r.json, "tenant"), tid);
	assert_string_equal(str(r.json, "tenant_role"), "member");
	resp_free(&r);
	/* Not a member: the gate says no before any SQL. */
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", user_b);
	http("POST", RPC "public/rpc_tenant", h, "{}", 2, &r);
	assert_int_equal(r.status, 403);
	resp_free(&r);
	/* Without a tenant: none. */
	assert_int_equal(post(user_a, "public/rpc_tenant", "{}", &r), 200);
	assert_true(json_is_null(json_object_get(r.json, "tenant")));
	resp_free(&r);
	/* A tenant's key acts in its tenant. */
	assert_int_equal(post(tkey, "public/rpc_tenant", "{}", &r), 200);
	assert_string_equal(str(r.json, "tenant"), tid);
	resp_free(&r);
}

/* Random bodies and query strings on every kind of function: never 5xx. */
static void
test_fuzz(void **state)
{
	static const char *const fns[] = {
		"rpc_add", "rpc_hello", "rpc_pair", "rpc_series", "rpc_rows",
		"rpc_sum", "rpc_tags", "rpc_json", "rpc_over", "rpc_amb",
		"rpc_var", "rpc_words", "rpc_body", "rpc_code", "rpc_noop",
		"rpc_fail", "rpc_out",
	};
	static const char *const keys[] = {
		"a", "b", "s", "n", "x", "y", "xs", "tags", "doc", "name", "sep",
		"select", "Mixed Case", "from", "c", "v", "msg", "note", "",
		"a\\\"", "'", "$1", "a b", "\\u00e9",
	};
	static const char *const vals[] = {
		"1", "-1", "0", "1.5", "1e308", "-0", "true", "false", "null",
		"\"\"", "\"x\"", "\"'\"", "\"\\\\\"", "\"{1,2}\"", "\"{\"",
		"\"happy\"", "[]", "[1,2]", "[[1],[2,3]]", "[null]", "[\"a\",1]",
		"[{\"k\":1}]", "{}", "{\"k\":[1]}", "\"9999999999999999999\"",
		"\"NaN\"", "\"infinity\"", "\"1 day\"", "\"\\u00e9\"",
	};
	static const char *const qs[] = {
		"a=1", "a=x", "a=", "a", "a=1&a=2", "xs=1&xs=x", "xs=%7B", "n=-1",
		"name=%C3%A9", "name=%FF", "%3D=1", "doc=%7B", "doc=null", "s=%00",
		"&&", "a=1&b=%2B1", "x=1&y=", "select=1&Mixed+Case=happy",
	};
	struct resp	 r;
	char		 body[1024], path[512];
	size_t		 i, k, nk, off;
	unsigned	 seed = 42;

	(void)state;
	for (i = 0; i < 400; i++) {
		seed = seed * 1103515245 + 12345;
		nk = (seed >> 16) % 4;
		off = (size_t)snprintf(body, sizeof(body), "{");
		for (k = 0; k < nk; k++) {
			seed = seed * 1103515245 + 12345;
			off += (size_t)snprintf(body + off, sizeof(body) - off,
			    "%s\"%s\":%s", k ? "," : "",
			    keys[(seed >> 8) % (sizeof(keys) / sizeof(keys[0]))],
			    vals[(seed >> 20) % (sizeof(vals) / sizeof(vals[0]))]);
		}
		snprintf(body + off, sizeof(body) - off, "}");
		seed = seed * 1103515245 + 12345;
		snprintf(path, sizeof(path), "public/%s",
		    fns[(seed >> 16) % (sizeof(fns) / sizeof(fns[0]))]);
		post(i % 3 ? NULL : user_a, path, body, &r);
		if (r.status < 200 || r.status >= 500)
			fail_msg("POST %s %s: %ld %s", path, body, r.status,
			    r.body);
		resp_free(&r);

		seed = seed * 1103515245 + 12345;
		snprintf(path, sizeof(path), "public/%s?%s",
		    fns[(seed >> 16) % (sizeof(fns) / sizeof(fns[0]))],
		    qs[(seed >> 8) % (sizeof(qs) / sizeof(qs[0]))]);
		get(NULL, path, &r);
		if (r.status < 200 || r.status >= 500)
			fail_msg("GET %s: %ld %s", path, r.status, r.body);
		resp_free(&r);
	}
}

/* Poll an execution until it is no longer running (at most ~10 s). */
static json_t *
wait_execution(const char *as, const char *id)
{
	struct resp	 r;
	char		 path[128];
	json_t		*o;
	int		 i;

	snprintf(path, sizeof(path), "executions/%s", id);
	for (i = 0; i < 200; i++) {
		assert_int_equal(get(as, path, &r), 200);
		if (strcmp(str(r.json, "status"), "running") != 0) {
			o = json_incref(r.json);
			resp_free(&r);
			return (o);
		}
		resp_free(&r);
		usleep(50000);
	}
	fail_msg("execution %s still running", id);
	return (NULL);
}

/*
 * The lease (run.sh: KB_RPC_LEASE_S=3, renewed every second): a row left
 * `running` by a worker that died is marked failed; a call that runs
 * longer than the lease is renewed and finishes.
 */
static void
test_async_lease(void **state)
{
	struct resp	 r;
	json_t		*e;
	char		 sql[512], id[64], path[128], v[16];
	int		 i, seen_running = 0;

	(void)state;
	/* What a dead worker leaves: running, not renewed for an hour. */
	snprintf(sql, sizeof(sql), "INSERT INTO rpc_executions (namespace,"
	    " name, caller_sub, caller_role, heartbeat_at) VALUES ('public',"
	    " 'rpc_slow', '%s', 'authenticated', now() - interval '1 hour')"
	    " RETURNING id", a_id);
	assert_int_equal(sql_value(sql, id, sizeof(id)), 0);
	e = wait_execution(user_a, id);
	assert_string_equal(str(e, "status"), "failed");
	assert_non_null(strstr(str(e, "error"), "lease ran out"));
	assert_non_null(str(e, "finished_at"));
	json_decref(e);

	/* A call that outlives the lease stays running and succeeds. */
	assert_int_equal(call(user_a, "POST", "public/rpc_sleep",
	    "{\"s\":4.5}", "respond-async", &r), 202);
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	resp_free(&r);
	snprintf(path, sizeof(path), "executions/%s", id);
	for (i = 0; i < 100; i++) {
		assert_int_equal(get(user_a, path, &r), 200);
		if (strcmp(str(r.json, "status"), "running") != 0) {
			resp_free(&r);
			break;
		}
		seen_running++;
		resp_free(&r);
		usleep(100000);
	}
	assert_true(seen_running >= 30);
	e = wait_execution(user_a, id);
	assert_string_equal(str(e, "status"), "succeeded");
	json_decref(e);
	/* Renewed while it ran, well after it started. */
	snprintf(sql, sizeof(sql), "SELECT heartbeat_at > created_at +"
	    " interval '2 seconds' FROM rpc_executions WHERE id = '%s'", id);
	assert_int_equal(sql_value(sql, v, sizeof(v)), 0);
	assert_string_equal(v, "t");
}

static void
test_async(void **state)
{
	struct resp	 r;
	json_t		*e, *l;
	char		 id[64], path[128], hdr[256];
	const char	*want[4][2] = {
		{ "NOTICE", "start 21" },
		{ "WARNING", "half way" },
		{ "INFO", "an info line" },
		{ "NOTICE", "done" },
	};
	size_t		 i;

	(void)state;
	assert_int_equal(call(user_a, "POST", "public/rpc_slow", "{\"n\":21}",
	    "respond-async", &r), 202);
	assert_string_equal(str(r.json, "status"), "running");
	assert_string_equal(str(r.json, "namespace"), "public");
	assert_string_equal(str(r.json, "name"), "rpc_slow");
	assert_non_null(str(r.json, "created_at"));
	assert_true(json_is_null(json_object_get(r.json, "finished_at")));
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	assert_non_null(resp_header(&r, "Location", hdr, sizeof(hdr)));
	snprintf(path, sizeof(path), "/api/v1/rpc/executions/%s", id);
	assert_string_equal(hdr, path);
	resp_free(&r);

	/* Someone else's is not found; an admin's view is. */
	snprintf(path, sizeof(path), "executions/%s", id);
	get(user_b, path, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	get(key, path, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	snprintf(path, sizeof(path), "executions/%s/logs", id);
	get(user_b, path, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	/* Logs arrive while it runs. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(get(user_a, path, &r), 200);
		if (json_array_size(r.json) > 0)
			break;
		resp_free(&r);
		usleep(20000);
	}
	assert_true(json_array_size(r.json) > 0);
	assert_string_equal(str(json_array_get(r.json, 0), "message"),
	    "start 21");
	resp_free(&r);

	e = wait_execution(user_a, id);
	assert_string_equal(str(e, "status"), "succeeded");
	assert_int_equal(json_integer_value(json_object_get(e, "result")), 42);
	assert_true(json_number_value(json_object_get(e, "duration_ms")) >=
	    700.0);
	assert_non_null(str(e, "finished_at"));
	assert_true(json_is_null(json_object_get(e, "error")));
	json_decref(e);

	assert_int_equal(get(user_a, path, &r), 200);
	l = r.json;
	assert_int_equal(json_array_size(l), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(l, i), "seq")), (json_int_t)i + 1);
		assert_string_equal(str(json_array_get(l, i), "level"),
		    want[i][0]);
		assert_string_equal(str(json_array_get(l, i), "message"),
		    want[i][1]);
		assert_non_null(str(json_array_get(l, i), "created_at"));
	}
	resp_free(&r);

	snprintf(path, sizeof(path), "executions/%s", id);
	assert_int_equal(get(admin, path, &r), 200);
	assert_string_equal(str(r.json, "status"), "succeeded");
	resp_free(&r);
}

static void
test_async_failed(void **state)
{
	struct resp	 r;
	json_t		*e;
	char		 id[64], path[128], n[64];

	(void)state;
	/* The function's exception. */
	assert_int_equal(call(user_a, "POST", "public/rpc_fail",
	    "{\"msg\":\"late\"}", "respond-async", &r), 202);
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	resp_free(&r);
	e = wait_execution(user_a, id);
	assert_string_equal(str(e, "status"), "failed");
	assert_string_equal(str(e, "error"), "boom: late");
	assert_string_equal(str(e, "sqlstate"), "P0001");
	assert_true(json_is_null(json_object_get(e, "result")));
	json_decref(e);
	snprintf(path, sizeof(path), "executions/%s/logs", id);
	assert_int_equal(get(user_a, path, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	assert_string_equal(str(json_array_get(r.json, 0), "message"),
	    "about to fail");
	resp_free(&r);

	/* A bad value fails in the background, not at the door. */
	assert_int_equal(call(key, "POST", "public/rpc_add", "{\"a\":\"x\"}",
	    "respond-async", &r), 202);
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	resp_free(&r);
	e = wait_execution(key, id);
	assert_string_equal(str(e, "status"), "failed");
	assert_string_equal(str(e, "sqlstate"), "22P02");
	json_decref(e);
	/* Another key's: not found. */
	snprintf(path, sizeof(path), "executions/%s", id);
	get(key2, path, &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	/* As the caller, under RLS, and committed. */
	assert_int_equal(call(user_b, "POST", "public/rpc_slow_note",
	    "{\"body\":\"bg\"}", "respond-async", &r), 202);
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	resp_free(&r);
	e = wait_execution(user_b, id);
	assert_string_equal(str(e, "status"), "succeeded");
	json_decref(e);
	assert_int_equal(sql_value("SELECT count(*) FROM rpc_notes WHERE "
	    "body = 'bg' AND owner = (SELECT id FROM users WHERE email = "
	    "'rpc-b@rpc.test')", n, sizeof(n)), 0);
	assert_string_equal(n, "1");
	/* Without the privilege: failed with 42501. */
	assert_int_equal(call(key, "POST", "public/rpc_slow_note",
	    "{\"body\":\"bg\"}", "respond-async", &r), 202);
	snprintf(id, sizeof(id), "%s", str(r.json, "id"));
	resp_free(&r);
	e = wait_execution(key, id);
	assert_string_equal(str(e, "status"), "failed");
	assert_string_equal(str(e, "sqlstate"), "42501");
	json_decref(e);

	/* Refused at the door: unknown, anonymous, bad arguments. */
	call(user_a, "POST", "public/no_such_fn", "{}", "respond-async", &r);
	assert_error(&r, 404, "FUNCTION_NOT_FOUND");
	resp_free(&r);
	call(NULL, "POST", "public/rpc_add", "{\"a\":1}", "respond-async", &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
	call(user_a, "POST", "public/rpc_add", "{\"q\":1}", "respond-async",
	    &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Unknown and malformed ids. */
	get(user_a, "executions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	get(user_a, "executions/not-a-uuid", &r);
	assert_true(r.status == 400 || r.status == 404);
	resp_free(&r);
	get(user_a, "executions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/logs",
	    &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
	get(NULL, "executions/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);
}

/* Several background calls at once: they queue and all finish. */
static void
test_async_many(void **state)
{
	struct resp	 r;
	json_t		*e;
	char		 ids[6][64], body[32];
	int		 i;

	(void)state;
	for (i = 0; i < 6; i++) {
		snprintf(body, sizeof(body), "{\"a\":%d}", i);
		assert_int_equal(call(key, "POST", "public/rpc_add", body,
		    "respond-async", &r), 202);
		snprintf(ids[i], sizeof(ids[i]), "%s", str(r.json, "id"));
		resp_free(&r);
	}
	for (i = 0; i < 6; i++) {
		e = wait_execution(key, ids[i]);
		assert_string_equal(str(e, "status"), "succeeded");
		assert_int_equal(json_integer_value(json_object_get(e,
		    "result")), i + 10);
		json_decref(e);
	}
	/* The server answers other calls meanwhile and afterwards. */
	assert_int_equal(post(NULL, "public/rpc_add", "{\"a\":1}", &r), 200);
	resp_free(&r);
	/* Notices of calls on the pool stay out of the server's log. */
	assert_int_equal(system("! grep -q '^NOTICE\\|^WARNING' "
	    "\"$KB_SERVER_LOG\""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_overloads),
		cmocka_unit_test(test_arg_errors),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_tenant),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_async_failed),
		cmocka_unit_test(test_async_many),
		cmocka_unit_test(test_async_lease),
	};
	int	failed;

	curl_global_init(CURL_GLOBAL_ALL);
	failed = cmocka_run_group_tests_name("integration: rpc", tests,
	    setup, NULL);
	curl_global_cleanup();
	return (failed ? 1 : 0);
}
