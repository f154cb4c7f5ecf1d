/*
 * Integration tests of the server plumbing under the Tables API: the
 * pool's transaction groups (kb_db_run), the roles of migration 0009, the
 * schema cache and streamed exports.  They drive the test-only routes
 * under /__test/ (server/kb_test.c), which only the test module
 * (build/korebase-test.so) has.  Run by tests/integration/run.sh.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

static int
sh(const char *fmt, ...)
{
	va_list		ap;
	char		cmd[8192];
	int		st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* One line of psql output for `sql` into buf ("" on failure). */
static char *
psql_value(const char *sql, char *buf, size_t len)
{
	(void)sql_value(sql, buf, len);
	return (buf);
}

static void
pg_ctl(const char *what)
{
	assert_int_equal(sh("scripts/pg.sh %s \"$KB_PG_DIR\" \"$KB_PG_PORT\"",
	    what), 0);
}

/* Wait until the server answers queries again after a restart. */
static void
wait_db(void)
{
	struct resp	r;
	int		i, ok;

	for (ok = 0, i = 0; i < 100 && !ok; i++) {
		http_get("/__test/db/whoami", &r);
		ok = (r.status == 200);
		resp_free(&r);
		if (!ok)
			usleep(100 * 1000);
	}
	assert_true(ok);
}

/* POST /__test/db/run with `body`; fills r. */
static long
run(const char *body, struct resp *r)
{
	return (http_post_json("/__test/db/run", body, r));
}

static const char *
row_value(struct resp *r, size_t row, size_t col)
{
	return (json_string_value(json_array_get(json_array_get(
	    json_object_get(r->json, "rows"), row), col)));
}

/* ---- transaction groups ---- */

/*
 * The pool's sessions: JIT off (it compiled at every execution of a
 * prepared statement priced past jit_above_cost), and the statement
 * timeout of KB_DB_TIMEOUT_MS.
 */
static void
test_pool_session_settings(void **state)
{
	struct resp	r;

	assert_int_equal(run("{\"steps\": [{\"sql\": \"SELECT "
	    "current_setting('jit'), current_setting('statement_timeout') "
	    "<> '0'\", \"readonly\": true}]}", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "off");
	assert_string_equal(row_value(&r, 0, 1), "t");
	resp_free(&r);
}

static void
test_group_role_applies(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/__test/db/asrole?role=anon", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "anon");
	assert_string_equal(row_value(&r, 0, 1), "{\"role\":\"test\"}");
	resp_free(&r);

	/* The claims are visible to SQL, and so are the auth helpers. */
	assert_int_equal(run("{\"role\": \"authenticated\", \"claims\": "
	    "\"{\\\"sub\\\": \\\"5f0c3e1a-1111-4222-8333-444455556666\\\", "
	    "\\\"role\\\": \\\"authenticated\\\", \\\"tenant_id\\\": "
	    "\\\"7a0c3e1a-1111-4222-8333-444455556666\\\"}\", "
	    "\"steps\": [{\"sql\": \"SELECT current_user::text, "
	    "auth.uid()::text, auth.role(), auth.tenant_id()::text, "
	    "auth.jwt() ->> 'sub', $1::text\", \"params\": [\"x\"]}]}", &r),
	    200);
	assert_string_equal(row_value(&r, 0, 0), "authenticated");
	assert_string_equal(row_value(&r, 0, 1),
	    "5f0c3e1a-1111-4222-8333-444455556666");
	assert_string_equal(row_value(&r, 0, 2), "authenticated");
	assert_string_equal(row_value(&r, 0, 3),
	    "7a0c3e1a-1111-4222-8333-444455556666");
	assert_string_equal(row_value(&r, 0, 5), "x");
	assert_int_equal(json_integer_value(json_object_get(r.json, "step")),
	    1);
	resp_free(&r);

	/* Outside a group nothing is set. */
	assert_int_equal(http_get("/__test/db/whoami", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "postgres");
	assert_string_equal(row_value(&r, 0, 1), "");
	resp_free(&r);
}

/* kb_db_step_caller: the role and claims of the request's caller. */
static void
test_group_caller(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/__test/db/caller?cred=jwt&"
	    "role=authenticated&sub=5f0c3e1a-1111-4222-8333-444455556666&"
	    "tenant=7a0c3e1a-1111-4222-8333-444455556666", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "authenticated");
	assert_string_equal(row_value(&r, 0, 1),
	    "5f0c3e1a-1111-4222-8333-444455556666");
	assert_string_equal(row_value(&r, 0, 2), "authenticated");
	assert_string_equal(row_value(&r, 0, 3),
	    "7a0c3e1a-1111-4222-8333-444455556666");
	resp_free(&r);

	/*
	 * An instance administrator runs as service_role (bypassing
	 * row-level security, as Supabase's dashboard does); the claims
	 * keep the API role.
	 */
	assert_int_equal(http_get("/__test/db/caller?cred=jwt&role=admin&"
	    "sub=5f0c3e1a-1111-4222-8333-444455556666", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "service_role");
	assert_string_equal(row_value(&r, 0, 2), "admin");
	resp_free(&r);

	assert_int_equal(http_get("/__test/db/caller?cred=service&"
	    "role=service_role", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "service_role");
	assert_null(row_value(&r, 0, 1));
	resp_free(&r);

	assert_int_equal(http_get("/__test/db/caller", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "anon");
	assert_string_equal(row_value(&r, 0, 2), "anon");
	assert_string_equal(row_value(&r, 0, 4), "{\"role\": \"anon\"}");
	resp_free(&r);
}

/*
 * Hammer one worker's two connections with groups running as anon and
 * with plain read-only statements (which the pool batches under one
 * Sync): no plain statement may ever see the group's role or claims,
 * though they ran on the same backends.
 */
static void
test_group_no_leak(void **state)
{
	char	pids[64];

	assert_int_equal(sh("rm -f build/plumb-ro.out build/plumb-grp.out; "
	    "urls() { i=0; while [ $i -lt 600 ]; do echo \"url = "
	    "\\\"$BASE_URL$1\\\"\"; "
	    "i=$((i+1)); done; }; "
	    "urls /__test/db/whoami > build/plumb-ro.cfg; "
	    "urls '/__test/db/asrole?role=anon' > build/plumb-grp.cfg; "
	    "curl -s -Z --parallel-max 24 -K build/plumb-ro.cfg "
	    "> build/plumb-ro.out 2>/dev/null & "
	    "curl -s -Z --parallel-max 24 -K build/plumb-grp.cfg "
	    "> build/plumb-grp.out 2>/dev/null; wait"), 0);
	/* Every answer came, each from the role it should. */
	assert_int_equal(sh("test $(grep -o '\\[\"postgres\",\"\",' "
	    "build/plumb-ro.out | wc -l) -eq 600"), 0);
	assert_int_equal(sh("test $(grep -o -F '[\"anon\",\"{\\\"role"
	    "\\\":\\\"test\\\"}\",' build/plumb-grp.out | wc -l) -eq 600"),
	    0);
	assert_int_equal(sh("! grep -q anon build/plumb-ro.out"), 0);
	/* And they shared backends. */
	assert_int_equal(sh("grep -o '\"[0-9]*\"\\]' build/plumb-ro.out | "
	    "sort -u > build/plumb-ro.pids; grep -o '\"[0-9]*\"\\]' "
	    "build/plumb-grp.out | sort -u > build/plumb-grp.pids; "
	    "comm -12 build/plumb-ro.pids build/plumb-grp.pids | "
	    "wc -l > build/plumb-common"), 0);
	assert_int_equal(sh("test $(cat build/plumb-common) -ge 1"), 0);
	(void)pids;
}

/*
 * Groups of one batch share their caller step only when it is the same
 * principal's (kb_db.c): hammer two users' groups and a service key's
 * through the same backends at once; every answer must carry its own
 * caller's role and claims.
 */
static void
test_group_callers_apart(void **state)
{
	(void)state;
	assert_int_equal(sh("rm -f build/plumb-c*.out; "
	    "urls() { i=0; while [ $i -lt 400 ]; do echo \"url = "
	    "\\\"$BASE_URL$1\\\"\"; i=$((i+1)); done; }; "
	    "urls '/__test/db/caller?cred=jwt&role=authenticated&"
	    "sub=5f0c3e1a-1111-4222-8333-444455556666' > build/plumb-c1.cfg; "
	    "urls '/__test/db/caller?cred=jwt&role=authenticated&"
	    "sub=6a1d4f2b-2222-4333-8444-555566667777' > build/plumb-c2.cfg; "
	    "urls '/__test/db/caller?cred=service&role=service_role' "
	    "> build/plumb-c3.cfg; "
	    "for n in 1 2 3; do curl -s -Z --parallel-max 16 "
	    "-K build/plumb-c$n.cfg > build/plumb-c$n.out 2>/dev/null & "
	    "done; wait"), 0);
	assert_int_equal(sh("test $(grep -o '5f0c3e1a-1111-4222-8333-"
	    "444455556666\",\"authenticated\"' build/plumb-c1.out | wc -l) "
	    "-eq 400"), 0);
	assert_int_equal(sh("! grep -q -e 6a1d4f2b -e service_role "
	    "build/plumb-c1.out"), 0);
	assert_int_equal(sh("test $(grep -o '6a1d4f2b-2222-4333-8444-"
	    "555566667777\",\"authenticated\"' build/plumb-c2.out | wc -l) "
	    "-eq 400"), 0);
	assert_int_equal(sh("! grep -q -e 5f0c3e1a -e service_role "
	    "build/plumb-c2.out"), 0);
	assert_int_equal(sh("test $(grep -o '\\[\"service_role\",null,' "
	    "build/plumb-c3.out | wc -l) -eq 400"), 0);
	assert_int_equal(sh("! grep -q -e 5f0c3e1a -e 6a1d4f2b "
	    "build/plumb-c3.out"), 0);
	/* And the two users' groups ran on the same backends. */
	assert_int_equal(sh("for n in 1 2; do grep -o '\"[0-9]*\"\\]' "
	    "build/plumb-c$n.out | sort -u > build/plumb-c$n.pids; done; "
	    "test $(comm -12 build/plumb-c1.pids build/plumb-c2.pids | "
	    "wc -l) -ge 1"), 0);
}

static void
test_group_error_aborts(void **state)
{
	struct resp	r;
	char		v[64];

	assert_int_equal(psql("DROP TABLE IF EXISTS kb_plumb_t; "
	    "CREATE TABLE kb_plumb_t (id int PRIMARY KEY)"), 0);

	/* A write, then a failure: the write is rolled back. */
	assert_int_equal(run("{\"steps\": ["
	    "{\"sql\": \"INSERT INTO kb_plumb_t VALUES ($1)\", "
	    "\"params\": [\"1\"]}, "
	    "{\"sql\": \"DO $$BEGIN RAISE EXCEPTION 'boom' USING "
	    "DETAIL = 'the detail', HINT = 'the hint', ERRCODE = 'P0099'; "
	    "END$$\"}, "
	    "{\"sql\": \"SELECT 1\"}]}", &r), 400);
	assert_false(json_is_true(json_object_get(r.json, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r.json, "step")),
	    1);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "P0099");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "message")), "boom");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "detail")), "the detail");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "hint")), "the hint");
	resp_free(&r);
	assert_string_equal(psql_value("SELECT count(*) FROM kb_plumb_t", v,
	    sizeof(v)), "0");

	/* A unique violation carries PostgreSQL's detail. */
	assert_int_equal(run("{\"steps\": ["
	    "{\"sql\": \"INSERT INTO kb_plumb_t VALUES (7), (7)\"}]}", &r),
	    400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "23505");
	assert_non_null(strstr(json_string_value(json_object_get(r.json,
	    "detail")), "(id)=(7) already exists"));
	resp_free(&r);

	/* A group that succeeds commits. */
	assert_int_equal(run("{\"steps\": ["
	    "{\"sql\": \"INSERT INTO kb_plumb_t VALUES (1)\"}, "
	    "{\"sql\": \"INSERT INTO kb_plumb_t VALUES (2) RETURNING id\"}]}",
	    &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "2");
	resp_free(&r);
	assert_string_equal(psql_value("SELECT count(*) FROM kb_plumb_t", v,
	    sizeof(v)), "2");

	/* A syntax error in dynamic SQL, and an unknown role in step 0. */
	assert_int_equal(run("{\"steps\": [{\"sql\": \"SELEC 1\"}]}", &r),
	    400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "42601");
	resp_free(&r);
	assert_int_equal(run("{\"role\": \"no_such_role\", \"steps\": "
	    "[{\"sql\": \"SELECT 1\"}]}", &r), 400);
	assert_int_equal(json_integer_value(json_object_get(r.json, "step")),
	    0);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "22023");
	resp_free(&r);

	/* The pool is fine afterwards. */
	assert_int_equal(http_get("/__test/db/whoami", &r), 200);
	resp_free(&r);
	assert_int_equal(psql("DROP TABLE kb_plumb_t"), 0);
}

/* The roles of 0009 see none of korebase's own tables. */
static void
test_roles_privileges(void **state)
{
	struct resp	r;

	assert_int_equal(run("{\"role\": \"anon\", \"steps\": [{\"sql\": "
	    "\"SELECT count(*) FROM users\"}]}", &r), 400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "42501");
	resp_free(&r);
	assert_int_equal(run("{\"role\": \"authenticated\", \"steps\": "
	    "[{\"sql\": \"SELECT * FROM kb_resolve_caller('user', NULL, "
	    "NULL, 'x', NULL)\"}]}", &r), 400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "42501");
	resp_free(&r);
	/* service_role bypasses RLS; the roles exist with their attributes. */
	assert_int_equal(run("{\"steps\": [{\"sql\": \"SELECT "
	    "string_agg(rolname || ':' || rolcanlogin || rolbypassrls, ',' "
	    "ORDER BY rolname) FROM pg_roles WHERE rolname IN ('anon', "
	    "'authenticated', 'service_role')\"}]}", &r), 200);
	assert_string_equal(row_value(&r, 0, 0),
	    "anon:falsefalse,authenticated:falsefalse,"
	    "service_role:falsetrue");
	resp_free(&r);
}

/* Row-level security through a group, with the auth helpers. */
static void
test_roles_rls(void **state)
{
	struct resp	r;

	assert_int_equal(psql("DROP TABLE IF EXISTS kb_plumb_notes; "
	    "CREATE TABLE kb_plumb_notes (id serial PRIMARY KEY, "
	    "owner uuid NOT NULL, body text); "
	    "ALTER TABLE kb_plumb_notes ENABLE ROW LEVEL SECURITY; "
	    "CREATE POLICY own ON kb_plumb_notes USING (owner = auth.uid()); "
	    "GRANT SELECT ON kb_plumb_notes TO anon, authenticated, "
	    "service_role; "
	    "INSERT INTO kb_plumb_notes (owner, body) VALUES "
	    "('00000000-0000-4000-8000-000000000001', 'a'), "
	    "('00000000-0000-4000-8000-000000000002', 'b')"), 0);
	assert_int_equal(run("{\"role\": \"authenticated\", \"claims\": "
	    "\"{\\\"sub\\\": \\\"00000000-0000-4000-8000-000000000001\\\"}\", "
	    "\"steps\": [{\"sql\": \"SELECT string_agg(body, ',') FROM "
	    "kb_plumb_notes\"}]}", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "a");
	resp_free(&r);
	assert_int_equal(run("{\"role\": \"anon\", \"steps\": [{\"sql\": "
	    "\"SELECT count(*) FROM kb_plumb_notes\"}]}", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "0");
	resp_free(&r);
	assert_int_equal(run("{\"role\": \"service_role\", \"steps\": "
	    "[{\"sql\": \"SELECT count(*) FROM kb_plumb_notes\"}]}", &r), 200);
	assert_string_equal(row_value(&r, 0, 0), "2");
	resp_free(&r);
	assert_int_equal(psql("DROP TABLE kb_plumb_notes"), 0);
}

/* The migration runs again, in another database of the cluster too. */
static void
test_roles_idempotent(void **state)
{
	assert_int_equal(sh("psql \"$DATABASE_URL\" -qAt -v ON_ERROR_STOP=1 "
	    "-f migrations/0009_roles.sql >/dev/null 2>&1"), 0);
	assert_int_equal(sh("psql \"$DATABASE_URL\" -qAt -c 'DROP DATABASE "
	    "IF EXISTS kb_plumb_other' -c 'CREATE DATABASE kb_plumb_other' "
	    ">/dev/null 2>&1 && build/kbmigrate -d \"$(echo \"$DATABASE_URL\" | "
	    "sed 's|/korebase_test?|/kb_plumb_other?|')\" migrations "
	    ">/dev/null"), 0);
	assert_int_equal(sh("psql \"$DATABASE_URL\" -qAt -c 'DROP DATABASE "
	    "kb_plumb_other' >/dev/null"), 0);
}

/* ---- the schema cache ---- */

/*
 * Poll the schema cache until `n` answers in a row (from whichever worker
 * took them) say `path`'s flag `key` is `want`; give up after 5 s.
 */
static int
schema_until(const char *path, const char *key, int want, int n)
{
	struct resp	r;
	int		i, run_len;

	for (run_len = 0, i = 0; i < 250 && run_len < n; i++) {
		if (http_get(path, &r) == 200 &&
		    json_is_true(json_object_get(r.json, key)) == want)
			run_len++;
		else
			run_len = 0;
		resp_free(&r);
		if (run_len == 0)
			usleep(20 * 1000);
	}
	return (run_len >= n);
}

static void
test_schema_loaded(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/__test/schema?table=users&"
	    "function=kb_resolve_caller", &r), 200);
	assert_true(json_integer_value(json_object_get(r.json, "version")) >=
	    1);
	/* korebase's own tables and functions are never exposed. */
	assert_false(json_is_true(json_object_get(r.json, "table")));
	assert_false(json_is_true(json_object_get(r.json, "function")));
	resp_free(&r);
	assert_true(schema_until("/__test/schema?table=settings", "table",
	    0, 10));
	assert_true(schema_until("/__test/schema?table=kb_schema_migrations",
	    "table", 0, 10));
}

/*
 * Every table, view and function korebase's migrations create is in the
 * default KB_TABLES_EXCLUDE (a new migration must add its own there).
 */
static void
test_schema_exclude_covers_migrations(void **state)
{
	struct resp	 r;
	FILE		*f;

	assert_int_equal(http_get("/__test/schema", &r), 200);
	assert_non_null(f = fopen("build/plumb-exclude", "w"));
	fprintf(f, "%s\n", json_string_value(json_object_get(r.json,
	    "exclude")));
	fclose(f);
	resp_free(&r);
	assert_int_equal(sh("grep -hoiE '^CREATE (OR REPLACE )?"
	    "(TABLE|FUNCTION|VIEW|MATERIALIZED VIEW)( IF NOT EXISTS)? "
	    "[a-z0-9_.]+' migrations/*.sql | awk '{ print $NF }' | "
	    "grep -v '^auth[.]' | sort -u > build/plumb-created; "
	    "test -s build/plumb-created"), 0);
	assert_int_equal(sh("tr ',' '\\n' < build/plumb-exclude | sort -u > "
	    "build/plumb-excluded; missing=$(comm -23 build/plumb-created "
	    "build/plumb-excluded); if [ -n \"$missing\" ]; then echo "
	    "\"not in KB_TABLES_EXCLUDE_DEFAULT: $missing\" >&2; exit 1; fi"),
	    0);
}

/* DDL while the server runs: every worker picks it up, no restart. */
static void
test_schema_ddl_refresh(void **state)
{
	struct resp	r;
	long		v0;

	assert_int_equal(http_get("/__test/schema", &r), 200);
	v0 = (long)json_integer_value(json_object_get(r.json, "version"));
	resp_free(&r);

	assert_int_equal(psql("CREATE TABLE kb_plumb_live (id int PRIMARY "
	    "KEY, note text)"), 0);
	assert_true(schema_until("/__test/schema?table=kb_plumb_live",
	    "table", 1, 20));
	assert_int_equal(http_get("/__test/schema", &r), 200);
	assert_true(json_integer_value(json_object_get(r.json, "version")) >
	    v0 || v0 == 0);
	resp_free(&r);

	assert_int_equal(psql("CREATE FUNCTION kb_plumb_fn(a int) RETURNS "
	    "int LANGUAGE sql AS 'SELECT a + 1'"), 0);
	assert_true(schema_until("/__test/schema?function=kb_plumb_fn",
	    "function", 1, 20));

	assert_int_equal(psql("DROP TABLE kb_plumb_live; "
	    "DROP FUNCTION kb_plumb_fn(int)"), 0);
	assert_true(schema_until("/__test/schema?table=kb_plumb_live",
	    "table", 0, 20));
	assert_true(schema_until("/__test/schema?function=kb_plumb_fn",
	    "function", 0, 20));
}

/* ---- streamed exports ---- */

static void
test_stream_formats(void **state)
{
	struct resp	r;
	char		h[128];
	json_t		*j;

	assert_int_equal(http_get("/__test/stream?fmt=csv&n=5", &r), 200);
	assert_string_equal(r.body, "id,label,q\n"
	    "1,row 1,\"a,\"\"b\"\"\"\n"
	    "2,row 2,\"\"\n"
	    "3,row 3,\n"
	    "4,row 4,\"a,\"\"b\"\"\"\n"
	    "5,row 5,\"\"\n");
	assert_string_equal(resp_header(&r, "transfer-encoding", h,
	    sizeof(h)), "chunked");
	assert_null(resp_header(&r, "content-length", h, sizeof(h)));
	assert_string_equal(resp_header(&r, "content-type", h, sizeof(h)),
	    "text/csv; charset=utf-8");
	assert_string_equal(resp_header(&r, "content-disposition", h,
	    sizeof(h)), "attachment");
	assert_non_null(resp_header(&r, "x-request-id", h, sizeof(h)));
	resp_free(&r);

	/* The same rows as COPY writes them, with a header. */
	assert_int_equal(sh("psql \"$DATABASE_URL\" -qAt -c \"COPY (SELECT g "
	    "AS id, 'row ' || g AS label, CASE g %% 3 WHEN 0 THEN NULL WHEN 1 "
	    "THEN 'a,\\\"b\\\"' ELSE '' END AS q FROM generate_series(1, 5) g) "
	    "TO STDOUT WITH (FORMAT csv, HEADER)\" > build/plumb-copy.csv && "
	    "curl -s \"$BASE_URL/__test/stream?fmt=csv&n=5\" | "
	    "cmp -s - build/plumb-copy.csv"), 0);

	assert_int_equal(http_get("/__test/stream?fmt=json&n=3", &r), 200);
	assert_true(json_is_array(r.json));
	assert_int_equal(json_array_size(r.json), 3);
	j = json_array_get(r.json, 0);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
	assert_string_equal(json_string_value(json_object_get(j, "q")),
	    "a,\"b\"");
	assert_true(json_is_null(json_object_get(json_array_get(r.json, 2),
	    "q")));
	resp_free(&r);

	assert_int_equal(http_get("/__test/stream?fmt=json&n=0", &r), 200);
	assert_string_equal(r.body, "[]");
	resp_free(&r);

	assert_int_equal(http_get("/__test/stream?fmt=ndjson&n=2", &r), 200);
	assert_string_equal(r.body,
	    "{\"id\":1,\"label\":\"row 1\",\"q\":\"a,\\\"b\\\"\"}\n"
	    "{\"id\":2,\"label\":\"row 2\",\"q\":\"\"}\n");
	resp_free(&r);

	/* Rows formatted by the query, between a head, separators, a tail. */
	assert_int_equal(http_get("/__test/stream?fmt=rows&n=3", &r), 200);
	assert_string_equal(r.body,
	    "[[1, \"row 1\"],[2, \"row 2\"],[3, \"row 3\"]]");
	resp_free(&r);
	assert_int_equal(http_get("/__test/stream?fmt=rows&n=0", &r), 200);
	assert_string_equal(r.body, "[]");
	resp_free(&r);

	assert_int_equal(http_get("/__test/stream?fmt=copy&n=3", &r), 200);
	assert_string_equal(r.body, "id,label\n1,row 1\n2,row 2\n3,row 3\n");
	resp_free(&r);

	/* HEAD: the headers, no query. */
	assert_int_equal(http("HEAD", "/__test/stream?fmt=csv&n=3", NULL,
	    NULL, 0, &r), 200);
	assert_int_equal(r.len, 0);
	resp_free(&r);
}

static void
test_stream_role_and_errors(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/__test/stream?fmt=ndjson&src=who&"
	    "role=anon&n=1", &r), 200);
	assert_string_equal(r.body, "{\"who\":\"anon\",\"claims\":"
	    "\"{\\\"role\\\":\\\"test\\\"}\",\"n\":1}\n");
	resp_free(&r);
	assert_int_equal(http_get("/__test/stream?fmt=ndjson&src=who&n=1",
	    &r), 200);
	assert_non_null(strstr(r.body, "\"who\":\"postgres\""));
	resp_free(&r);

	/* A failure before the first byte goes to the error callback. */
	assert_int_equal(http_get("/__test/stream?fmt=csv&src=err", &r), 400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "22012");
	resp_free(&r);
	/* An unknown role fails the prologue the same way. */
	assert_int_equal(http_get("/__test/stream?fmt=csv&role=nobody_here",
	    &r), 400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "22023");
	resp_free(&r);
	/* The roles see none of korebase's tables. */
	assert_int_equal(http_get("/__test/stream?fmt=csv&src=users&"
	    "role=anon", &r), 400);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "sqlstate")), "42501");
	resp_free(&r);
}

/* After a stream the connection serves the next request; 1.0 closes. */
static void
test_stream_connection(void **state)
{
	assert_int_equal(sh("curl -sv \"$BASE_URL/__test/stream?fmt=csv&"
	    "n=20000\" \"$BASE_URL/__test/db/whoami\" > build/plumb-ka.out "
	    "2> build/plumb-ka.err"), 0);
	assert_int_equal(sh("grep -q 'Re-using existing connection' "
	    "build/plumb-ka.err && grep -q '^20000,row 20000,' "
	    "build/plumb-ka.out && grep -q '\"postgres\"' build/plumb-ka.out"),
	    0);
	assert_int_equal(sh("curl -s --http1.0 -D build/plumb-10.h "
	    "\"$BASE_URL/__test/stream?fmt=ndjson&n=50000\" | wc -l | "
	    "grep -qx 50000 && grep -qi '^connection: close' build/plumb-10.h "
	    "&& ! grep -qi transfer-encoding build/plumb-10.h"), 0);
	assert_int_equal(sh("curl -s -H 'Connection: close' "
	    "\"$BASE_URL/__test/stream?fmt=json&n=30000\" | "
	    "jq length | grep -qx 30000"), 0);
}

/*
 * Under AddressSanitizer (make test-asan preloads libasan) freed memory
 * sits in ASan's quarantine, so resident memory says nothing there.
 */
static int
rss_meaningful(void)
{
	const char	*p = getenv("KB_PRELOAD");

	return (p == NULL || *p == '\0');
}

/* The resident memory of the server's workers, in kB. */
static long
workers_rss(void)
{
	char	 cmd[256], line[256];
	FILE	*f;
	long	 total, kb;

	snprintf(cmd, sizeof(cmd), "for w in $(pgrep -P \"$KB_SERVER_PID\"); "
	    "do awk '/^VmRSS/ { print $2 }' /proc/$w/status; done");
	total = 0;
	if ((f = popen(cmd, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL) {
		kb = strtol(line, NULL, 10);
		total += kb;
	}
	pclose(f);
	return (total);
}

static pid_t
pid_from(const char *file)
{
	FILE	*f;
	long	 pid = 0;

	if ((f = fopen(file, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return ((pid_t)pid);
}

/* Run `curl_args` in the background; sample the workers' RSS until done. */
static long
export_peak_rss(const char *curl_args)
{
	pid_t	pid;
	long	peak, rss;

	assert_int_equal(sh("curl -s %s & echo $! > build/plumb-curl.pid",
	    curl_args), 0);
	pid = pid_from("build/plumb-curl.pid");
	assert_true(pid > 0);
	peak = 0;
	while (kill(pid, 0) == 0) {
		if ((rss = workers_rss()) > peak)
			peak = rss;
		usleep(50 * 1000);
	}
	return (peak);
}

static void
test_stream_million_rows(void **state)
{
	long	base, peak;

	assert_int_equal(psql("DROP TABLE IF EXISTS kb_plumb_big; "
	    "CREATE TABLE kb_plumb_big AS SELECT g AS id, md5(g::text) AS "
	    "hash, now() AS at FROM generate_series(1, 1000000) g; "
	    "ALTER TABLE kb_plumb_big ADD PRIMARY KEY (id)"), 0);
	/* Warm up: the workers' first export allocates what they keep. */
	assert_int_equal(sh("curl -s \"$BASE_URL/__test/stream?fmt=csv&"
	    "n=100000\" >/dev/null"), 0);
	base = workers_rss();
	assert_true(base > 0);

	peak = export_peak_rss("-o build/plumb-big.csv "
	    "\"$BASE_URL/__test/stream?fmt=csv&src=big\"");
	assert_int_equal(sh("test $(wc -l < build/plumb-big.csv) -eq 1000001 "
	    "&& tail -1 build/plumb-big.csv | grep -q '^1000000,'"), 0);
	fprintf(stderr, "csv export: workers' RSS %ld kB before, %ld kB "
	    "at most during\n", base, peak);
	assert_true(peak - base < 16 * 1024 || !rss_meaningful());

	peak = export_peak_rss("-o build/plumb-big.ndjson "
	    "\"$BASE_URL/__test/stream?fmt=ndjson&src=big\"");
	assert_int_equal(sh("test $(wc -l < build/plumb-big.ndjson) -eq "
	    "1000000"), 0);
	assert_true(peak - base < 16 * 1024 || !rss_meaningful());

	peak = export_peak_rss("-o build/plumb-big.copy "
	    "\"$BASE_URL/__test/stream?fmt=copy&src=big\"");
	assert_int_equal(sh("test $(wc -l < build/plumb-big.copy) -eq "
	    "1000001"), 0);
	assert_true(peak - base < 16 * 1024 || !rss_meaningful());
	assert_int_equal(sh("rm -f build/plumb-big.*"), 0);
}

/*
 * A slow client holds PostgreSQL back (its backend waits on ClientWrite,
 * the worker's memory stays flat); one that disconnects midway frees
 * everything, the export's backend included.
 */
static void
test_stream_slow_client_disconnects(void **state)
{
	struct resp	r;
	char	v[128];
	long	base, rss;
	pid_t	pid;
	int	i;

	base = workers_rss();
	assert_int_equal(sh("curl -s --limit-rate 200k -o /dev/null "
	    "\"$BASE_URL/__test/stream?fmt=csv&src=big\" & "
	    "echo $! > build/plumb-curl.pid"), 0);
	pid = pid_from("build/plumb-curl.pid");
	assert_true(pid > 0);
	sleep(2);
	assert_string_equal(psql_value("SELECT wait_event FROM "
	    "pg_stat_activity WHERE application_name = 'korebase-export'",
	    v, sizeof(v)), "ClientWrite");
	rss = workers_rss();
	assert_true(rss - base < 8 * 1024 || !rss_meaningful());
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (i = 0; i < 50; i++) {
		if (strcmp(psql_value("SELECT count(*) FROM pg_stat_activity "
		    "WHERE application_name = 'korebase-export'", v,
		    sizeof(v)), "0") == 0)
			break;
		usleep(100 * 1000);
	}
	assert_string_equal(v, "0");
	usleep(200 * 1000);
	assert_int_equal(sh("grep -q 'the client went away after' "
	    "\"$KB_SERVER_LOG\""), 0);
	assert_int_equal(psql("DROP TABLE kb_plumb_big"), 0);

	/* Gone before the first byte, while the query runs. */
	assert_int_not_equal(sh("curl -s --max-time 0.5 -o /dev/null "
	    "\"$BASE_URL/__test/stream?fmt=csv&src=sleep&n=15\""), 0);
	for (i = 0; i < 50; i++) {
		if (strcmp(psql_value("SELECT count(*) FROM pg_stat_activity "
		    "WHERE application_name = 'korebase-export'", v,
		    sizeof(v)), "0") == 0)
			break;
		usleep(100 * 1000);
	}
	assert_string_equal(v, "0");
	assert_int_equal(http_get("/__test/db/whoami", &r), 200);
	resp_free(&r);
}

/*
 * A request keeps the schema it acquired while a reload swaps in a new
 * one (it sees one catalog throughout); the old one goes when it ends.
 */
static void
test_schema_held_across_reload(void **state)
{
	json_t	*j;
	int	 attempt, ok;

	/*
	 * The DDL must land after the request acquired its schema: on a
	 * busy machine the request may come late, so try a few times.
	 */
	for (ok = 0, attempt = 0; attempt < 4 && !ok; attempt++) {
		assert_int_equal(sh("curl -s \"$BASE_URL/__test/schema/hold?"
		    "table=kb_plumb_held%d\" > build/plumb-held.json & "
		    "sleep 0.7; psql \"$DATABASE_URL\" -qc 'CREATE TABLE "
		    "kb_plumb_held%d (id int)' >/dev/null; wait", attempt,
		    attempt), 0);
		assert_non_null(j = json_load_file("build/plumb-held.json", 0,
		    NULL));
		ok = json_integer_value(json_object_get(j, "current")) >
		    json_integer_value(json_object_get(j, "held")) &&
		    !json_is_true(json_object_get(j, "table"));
		json_decref(j);
	}
	assert_true(ok);
	assert_true(schema_until("/__test/schema?table=kb_plumb_held0",
	    "table", 1, 20));
	assert_int_equal(psql("DROP TABLE IF EXISTS kb_plumb_held0, "
	    "kb_plumb_held1, kb_plumb_held2, kb_plumb_held3"), 0);
}

/*
 * PostgreSQL stops while a group is in flight: the answer is 503 (the
 * query was cut off by the shutdown, or the connection was lost), never
 * a 500.
 */
static void
test_group_restart(void **state)
{
	char	status[16];
	FILE	*f;

	wait_db();
	assert_int_equal(sh("curl -s -o build/plumb-restart.json -w "
	    "'%%{http_code}' -X POST -H 'Content-Type: application/json' "
	    "--data '{\"role\": \"anon\", \"steps\": [{\"sql\": \"SELECT "
	    "pg_sleep(5)\"}, {\"sql\": \"SELECT 1\"}]}' "
	    "\"$BASE_URL/__test/db/run\" > build/plumb-restart.status &"), 0);
	usleep(700 * 1000);
	pg_ctl("stop");
	usleep(1500 * 1000);
	assert_non_null(f = fopen("build/plumb-restart.status", "r"));
	memset(status, 0, sizeof(status));
	(void)fread(status, 1, sizeof(status) - 1, f);
	fclose(f);
	assert_string_equal(status, "503");
	assert_int_equal(sh("grep -q SERVICE_UNAVAILABLE "
	    "build/plumb-restart.json"), 0);

	/* An export while the database is down: 503 too. */
	{
		struct resp	r;

		http_get("/__test/stream?fmt=csv&n=3", &r);
		assert_error(&r, 503, "SERVICE_UNAVAILABLE");
		resp_free(&r);
	}
	pg_ctl("start");
	wait_db();

	/* The LISTEN came back with the connections: DDL is seen again. */
	assert_int_equal(psql("CREATE TABLE kb_plumb_after (id int)"), 0);
	assert_true(schema_until("/__test/schema?table=kb_plumb_after",
	    "table", 1, 20));
	assert_int_equal(psql("DROP TABLE kb_plumb_after"), 0);
}

int
main(void)
{
	const struct CMUnitTest group_tests[] = {
		cmocka_unit_test(test_group_role_applies),
		cmocka_unit_test(test_group_caller),
		cmocka_unit_test(test_pool_session_settings),
		cmocka_unit_test(test_group_no_leak),
		cmocka_unit_test(test_group_callers_apart),
		cmocka_unit_test(test_group_error_aborts),
		cmocka_unit_test(test_roles_privileges),
		cmocka_unit_test(test_roles_rls),
		cmocka_unit_test(test_roles_idempotent),
		cmocka_unit_test(test_schema_loaded),
		cmocka_unit_test(test_schema_exclude_covers_migrations),
		cmocka_unit_test(test_schema_ddl_refresh),
		cmocka_unit_test(test_schema_held_across_reload),
		cmocka_unit_test(test_stream_formats),
		cmocka_unit_test(test_stream_role_and_errors),
		cmocka_unit_test(test_stream_connection),
		cmocka_unit_test(test_stream_million_rows),
		cmocka_unit_test(test_stream_slow_client_disconnects),
		cmocka_unit_test(test_group_restart),
	};
	int	failed = 0;

	curl_global_init(CURL_GLOBAL_ALL);
	failed += cmocka_run_group_tests_name("groups", group_tests, NULL,
	    NULL);
	curl_global_cleanup();
	return (failed ? 1 : 0);
}
