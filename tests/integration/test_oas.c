/*
 * Integration tests of the live /openapi.json: a path and a schema per
 * exposed table next to the static API, built from the schema cache,
 * refreshed after DDL (new ETag), 304 on If-None-Match, HEAD, korebase's
 * own and unexposed tables absent, and the per-table paths routed to the
 * generic Tables operations.  With KB_OAS_OUT set, the last test writes
 * the document there for run.sh to lint (redocly, spectral).
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

#define T	"/api/v1/tables/"
#define S	"#/components/schemas/"

static char	skey[128];

/* The document, as some worker serves it now. */
static json_t *
doc(char *etag, size_t len)
{
	struct resp	r;
	json_t		*d;

	assert_int_equal(http_get("/openapi.json", &r), 200);
	assert_non_null(r.json);
	if (etag != NULL)
		assert_non_null(resp_header(&r, "etag", etag, len));
	d = json_incref(r.json);
	resp_free(&r);
	return (d);
}

static json_t *
path(json_t *d, const char *p)
{
	return (json_object_get(json_object_get(d, "paths"), p));
}

static json_t *
schema(json_t *d, const char *name)
{
	return (json_object_get(json_object_get(json_object_get(d,
	    "components"), "schemas"), name));
}

static json_t *
prop(json_t *d, const char *table, const char *col)
{
	char	name[128];

	snprintf(name, sizeof(name), "Table_%s", table);
	return (json_object_get(json_object_get(schema(d, name),
	    "properties"), col));
}

/* `v`, or the component its "#/components/<kind>/<name>" $ref names. */
static json_t *
deref(json_t *d, json_t *v)
{
	const char	*r;
	char		 kind[64], name[128];

	r = json_string_value(json_object_get(v, "$ref"));
	if (r == NULL)
		return (v);
	assert_int_equal(sscanf(r, "#/components/%63[^/]/%127s", kind, name),
	    2);
	v = json_object_get(json_object_get(json_object_get(d, "components"),
	    kind), name);
	assert_non_null(v);
	return (v);
}

static const char *
str(json_t *o, const char *k)
{
	return (json_string_value(json_object_get(o, k)));
}

/* Until every worker (each request may hit either) lists `p`. */
static json_t *
wait_path(const char *p)
{
	json_t	*d;
	int	 i, seen;

	for (i = 0, seen = 0; i < 100; i++) {
		d = doc(NULL, 0);
		if (path(d, p) != NULL) {
			if (++seen == 6)
				return (d);
		} else
			seen = 0;
		json_decref(d);
		usleep(50000);
	}
	fail_msg("%s never appeared in /openapi.json", p);
	return (NULL);
}

static int
setup(void **state)
{
	(void)state;
	/* plant_service_key's key comes from rand(): not the other suites'. */
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	plant_service_key(NULL, "{tables:*}", skey, sizeof(skey));
	if (psql("CREATE TYPE oas_mood AS ENUM ('happy', 'sad');"
	    " CREATE TABLE oas_authors (id bigint GENERATED ALWAYS AS IDENTITY"
	    " PRIMARY KEY, name text NOT NULL, email varchar(80), born date);"
	    " COMMENT ON TABLE oas_authors IS 'People who write books';"
	    " COMMENT ON COLUMN oas_authors.name IS 'The display name';"
	    " CREATE TABLE oas_books (id int PRIMARY KEY, author_id bigint NOT"
	    " NULL REFERENCES oas_authors (id), title text NOT NULL,"
	    " price numeric(10,2), in_stock bool NOT NULL DEFAULT true,"
	    " isbn uuid, published timestamptz DEFAULT now(), meta jsonb,"
	    " tags text[], ratings int[], mood oas_mood, weight real,"
	    " moods oas_mood[] NOT NULL DEFAULT '{}',"
	    " twice numeric GENERATED ALWAYS AS (price * 2) STORED);"
	    " CREATE TABLE oas_pairs (a int, b text, note text,"
	    " PRIMARY KEY (a, b));"
	    " CREATE VIEW oas_titles AS SELECT id, title FROM oas_books;"
	    " CREATE VIEW oas_stats AS SELECT author_id, count(*) AS n"
	    " FROM oas_books GROUP BY author_id;"
	    " CREATE MATERIALIZED VIEW oas_mat AS SELECT id FROM oas_books;"
	    " CREATE TABLE oas_weird (id serial PRIMARY KEY, \\\"order\\\" int,"
	    " \\\"my col\\\" text);"
	    " CREATE TABLE \\\"oas odd-name\\\" (id int PRIMARY KEY);"
	    " CREATE TABLE oas_odd_name (id int PRIMARY KEY);"
	    " CREATE SCHEMA oas_hidden;"
	    " CREATE TABLE oas_hidden.oas_secret (id int PRIMARY KEY);"
	    " GRANT SELECT ON oas_authors, oas_books, oas_pairs, oas_titles,"
	    " oas_mat, oas_stats, oas_weird, \\\"oas odd-name\\\" TO anon;"
	    " GRANT ALL ON oas_authors, oas_books, oas_pairs, oas_titles,"
	    " oas_mat, oas_stats, oas_weird, oas_odd_name, \\\"oas odd-name\\\""
	    " TO service_role;"
	    " INSERT INTO oas_authors (name) VALUES ('Le Guin');"
	    " INSERT INTO oas_books (id, author_id, title) VALUES (1, 1,"
	    " 'The Dispossessed')") != 0)
		return (-1);
	json_decref(wait_path(T "oas_weird"));
	return (0);
}

/* Paths and operations per table, as the relation allows them. */
static void
test_paths(void **state)
{
	json_t		*d, *p, *op, *gen, *prm;
	const char	*name;
	size_t		 i;
	int		 has_select, has_title, has_table, n;

	d = doc(NULL, 0);
	/* The generic paths stay: the router's own. */
	assert_non_null(path(d, T "{table}"));
	assert_non_null(path(d, T "{table}/{id}"));
	assert_non_null(path(d, T "{table}/bulk"));

	p = path(d, T "oas_books");
	assert_non_null(p);
	assert_string_equal(str(json_object_get(p, "get"), "operationId"),
	    "listRows_oas_books");
	assert_string_equal(str(json_object_get(p, "post"), "operationId"),
	    "insertRows_oas_books");
	assert_string_equal(str(json_object_get(p, "patch"), "operationId"),
	    "updateRows_oas_books");
	assert_string_equal(str(json_object_get(p, "delete"), "operationId"),
	    "deleteRows_oas_books");
	p = path(d, T "oas_books/{id}");
	assert_non_null(p);
	assert_string_equal(str(json_object_get(p, "get"), "operationId"),
	    "getRow_oas_books");
	assert_string_equal(str(json_object_get(p, "put"), "operationId"),
	    "replaceRow_oas_books");
	assert_string_equal(str(json_object_get(p, "patch"), "operationId"),
	    "updateRow_oas_books");
	assert_string_equal(str(json_object_get(p, "delete"), "operationId"),
	    "deleteRow_oas_books");
	/* {id} typed as the key. */
	prm = json_array_get(json_object_get(json_object_get(p, "get"),
	    "parameters"), 0);
	assert_string_equal(str(prm, "name"), "id");
	assert_string_equal(str(json_object_get(prm, "schema"), "type"),
	    "integer");

	/* The same security, roles, scopes and responses as the generic. */
	op = json_object_get(path(d, T "oas_books"), "get");
	gen = json_object_get(path(d, T "{table}"), "get");
	assert_true(json_equal(json_object_get(op, "security"),
	    json_object_get(gen, "security")));
	assert_true(json_equal(json_object_get(op, "x-kb-roles"),
	    json_object_get(gen, "x-kb-roles")));
	assert_true(json_equal(json_object_get(op, "x-kb-scopes"),
	    json_object_get(gen, "x-kb-scopes")));
	assert_true(json_equal(deref(d, json_object_get(json_object_get(op,
	    "responses"), "404")), deref(d, json_object_get(json_object_get(
	    gen, "responses"), "404"))));
	assert_true(json_equal(deref(d, json_object_get(json_object_get(op,
	    "responses"), "default")), deref(d, json_object_get(
	    json_object_get(gen, "responses"), "default"))));
	assert_string_equal(str(json_object_get(json_object_get(
	    json_object_get(json_object_get(json_object_get(json_object_get(
	    op, "responses"), "200"), "content"), "application/json"),
	    "schema"), "items"), "$ref"), S "Table_oas_books");
	/* listRows' parameters, no {table}, a filter per column. */
	has_select = has_title = has_table = 0;
	json_array_foreach(json_object_get(op, "parameters"), i, prm) {
		prm = deref(d, prm);
		name = str(prm, "name");
		if (strcmp(name, "select") == 0)
			has_select = 1;
		if (strcmp(name, "title") == 0 &&
		    strcmp(str(prm, "in"), "query") == 0)
			has_title = 1;
		if (strcmp(name, "table") == 0)
			has_table = 1;
	}
	assert_true(has_select && has_title && !has_table);
	/* Bodies: rows to insert, columns to set. */
	op = json_object_get(path(d, T "oas_books"), "patch");
	assert_string_equal(str(json_object_get(json_object_get(
	    json_object_get(json_object_get(op, "requestBody"), "content"),
	    "application/json"), "schema"), "$ref"), S "TablePatch_oas_books");
	assert_null(json_object_get(schema(d, "TablePatch_oas_books"),
	    "required"));

	/* A composite key: no /{id}. */
	assert_non_null(path(d, T "oas_pairs"));
	assert_null(path(d, T "oas_pairs/{id}"));
	/* An auto-updatable view: writes, no /{id}. */
	p = path(d, T "oas_titles");
	assert_non_null(json_object_get(p, "get"));
	assert_non_null(json_object_get(p, "post"));
	assert_non_null(json_object_get(p, "patch"));
	assert_non_null(json_object_get(p, "delete"));
	assert_null(path(d, T "oas_titles/{id}"));
	assert_string_equal(str(schema(d, "Table_oas_titles"),
	    "x-kb-relation"), "view");
	/* A view that is not: read only. */
	p = path(d, T "oas_stats");
	assert_non_null(json_object_get(p, "get"));
	assert_null(json_object_get(p, "post"));
	assert_null(json_object_get(p, "patch"));
	assert_null(json_object_get(p, "delete"));
	assert_null(schema(d, "TablePatch_oas_stats"));
	/* A materialized view: read only. */
	p = path(d, T "oas_mat");
	assert_non_null(json_object_get(p, "get"));
	assert_null(json_object_get(p, "post"));
	assert_string_equal(str(schema(d, "Table_oas_mat"), "x-kb-relation"),
	    "materialized_view");
	/* A column named like a parameter is no filter of its own; odd names. */
	op = json_object_get(path(d, T "oas_weird"), "get");
	n = 0;
	json_array_foreach(json_object_get(op, "parameters"), i, prm) {
		if (strcmp(str(deref(d, prm), "name"), "order") == 0)
			n++;
	}
	assert_int_equal(n, 1);
	assert_non_null(prop(d, "oas_weird", "my col"));
	/*
	 * A name that is no identifier: as it is in the path, '_' in
	 * operationIds and component names, _2 after a name already taken
	 * ("oas odd-name" sorts before oas_odd_name).
	 */
	p = path(d, T "oas odd-name");
	assert_non_null(p);
	assert_string_equal(str(json_object_get(p, "get"), "operationId"),
	    "listRows_oas_odd_name");
	assert_non_null(path(d, T "oas odd-name/{id}"));
	assert_non_null(schema(d, "Table_oas_odd_name"));
	assert_string_equal(str(json_object_get(path(d, T "oas_odd_name"),
	    "get"), "operationId"), "listRows_oas_odd_name_2");
	assert_non_null(schema(d, "Table_oas_odd_name_2"));
	json_decref(d);
}

/* Types, nullability, required, keys, comments. */
static void
test_schemas(void **state)
{
	json_t	*d, *s, *p, *req, *fk, *e;
	size_t	 i;
	int	 id, author, title, other;

	d = doc(NULL, 0);
	s = schema(d, "Table_oas_books");
	assert_non_null(s);
	assert_string_equal(str(s, "type"), "object");

	p = prop(d, "oas_books", "id");
	assert_string_equal(str(p, "type"), "integer");
	assert_string_equal(str(p, "format"), "int32");
	assert_true(json_is_true(json_object_get(p, "x-primary-key")));
	assert_null(json_object_get(p, "nullable"));
	p = prop(d, "oas_books", "author_id");
	assert_string_equal(str(p, "format"), "int64");
	fk = json_object_get(p, "x-foreign-key");
	assert_string_equal(str(fk, "table"), "oas_authors");
	assert_string_equal(str(fk, "column"), "id");
	assert_string_equal(str(fk, "schema"), "public");
	p = prop(d, "oas_books", "price");
	assert_string_equal(str(p, "type"), "number");
	assert_true(json_is_true(json_object_get(p, "nullable")));
	assert_string_equal(str(p, "x-kb-type"), "numeric(10,2)");
	assert_string_equal(str(prop(d, "oas_books", "weight"), "type"),
	    "number");
	assert_string_equal(str(prop(d, "oas_books", "title"), "type"),
	    "string");
	assert_string_equal(str(prop(d, "oas_books", "in_stock"), "type"),
	    "boolean");
	p = prop(d, "oas_books", "isbn");
	assert_string_equal(str(p, "type"), "string");
	assert_string_equal(str(p, "format"), "uuid");
	assert_string_equal(str(prop(d, "oas_books", "published"), "format"),
	    "date-time");
	/* json/jsonb: any value, null too (nullable wants a type in 3.0). */
	p = prop(d, "oas_books", "meta");
	assert_null(json_object_get(p, "type"));
	assert_null(json_object_get(p, "nullable"));
	assert_string_equal(str(p, "x-kb-type"), "jsonb");
	p = prop(d, "oas_books", "tags");
	assert_string_equal(str(p, "type"), "array");
	assert_string_equal(str(json_object_get(p, "items"), "type"),
	    "string");
	p = prop(d, "oas_books", "ratings");
	assert_string_equal(str(p, "type"), "array");
	assert_string_equal(str(json_object_get(p, "items"), "type"),
	    "integer");
	p = prop(d, "oas_books", "mood");
	assert_string_equal(str(p, "type"), "string");
	assert_string_equal(str(p, "x-kb-type"), "oas_mood");
	/* The enum's labels, in order; null too, the column is nullable. */
	e = json_object_get(p, "enum");
	assert_int_equal(json_array_size(e), 3);
	assert_string_equal(json_string_value(json_array_get(e, 0)), "happy");
	assert_string_equal(json_string_value(json_array_get(e, 1)), "sad");
	assert_true(json_is_null(json_array_get(e, 2)));
	p = prop(d, "oas_books", "moods");
	assert_string_equal(str(p, "type"), "array");
	e = json_object_get(json_object_get(p, "items"), "enum");
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(json_string_value(json_array_get(e, 1)), "sad");
	assert_null(json_object_get(prop(d, "oas_books", "title"), "enum"));
	assert_true(json_is_true(json_object_get(prop(d, "oas_books",
	    "twice"), "readOnly")));

	/* Required: NOT NULL without a default. */
	req = json_object_get(s, "required");
	id = author = title = other = 0;
	json_array_foreach(req, i, p) {
		if (strcmp(json_string_value(p), "id") == 0)
			id = 1;
		else if (strcmp(json_string_value(p), "author_id") == 0)
			author = 1;
		else if (strcmp(json_string_value(p), "title") == 0)
			title = 1;
		else
			other = 1;
	}
	assert_true(id && author && title && !other);

	/* Identity, varchar(n), date, comments. */
	s = schema(d, "Table_oas_authors");
	assert_string_equal(str(s, "description"), "People who write books");
	p = prop(d, "oas_authors", "id");
	assert_true(json_is_true(json_object_get(p, "readOnly")));
	assert_string_equal(str(p, "format"), "int64");
	assert_string_equal(str(prop(d, "oas_authors", "name"), "description"),
	    "The display name");
	assert_int_equal(json_integer_value(json_object_get(prop(d,
	    "oas_authors", "email"), "maxLength")), 80);
	assert_string_equal(str(prop(d, "oas_authors", "born"), "format"),
	    "date");
	req = json_object_get(s, "required");
	assert_int_equal(json_array_size(req), 1);
	assert_string_equal(json_string_value(json_array_get(req, 0)), "name");
	/* The composite key: both columns. */
	assert_true(json_is_true(json_object_get(prop(d, "oas_pairs", "a"),
	    "x-primary-key")));
	assert_true(json_is_true(json_object_get(prop(d, "oas_pairs", "b"),
	    "x-primary-key")));
	assert_null(json_object_get(prop(d, "oas_pairs", "note"),
	    "x-primary-key"));
	json_decref(d);
}

/* Only what the schema cache exposes. */
static void
test_excluded(void **state)
{
	static const char *const own[] = { "users", "sessions",
	    "refresh_tokens", "service_keys", "mail_outbox", "tenants",
	    "kb_schema_migrations", "settings" };
	struct resp	 r;
	char		 auth[256];
	const char	*h[2] = { auth, NULL };
	json_t		*d, *v;
	const char	*k;
	char		 p[128], s[128], url[512], *u;
	size_t		 i;

	d = doc(NULL, 0);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		snprintf(p, sizeof(p), T "%s", own[i]);
		snprintf(s, sizeof(s), "Table_%s", own[i]);
		assert_null(path(d, p));
		assert_null(schema(d, s));
	}
	assert_null(path(d, T "oas_secret"));
	assert_null(schema(d, "Table_oas_secret"));
	/* Every per-table path is a table the API answers for. */
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", skey);
	json_object_foreach(json_object_get(d, "paths"), k, v) {
		if (strncmp(k, T, strlen(T)) != 0 || strchr(k, '{') != NULL)
			continue;
		/* As a client's URL parser sends it. */
		for (i = 0, u = url; k[i] != '\0' && u < url + sizeof(url) - 4;
		    i++) {
			if ((unsigned char)k[i] <= ' ' ||
			    (unsigned char)k[i] >= 0x7f)
				u += sprintf(u, "%%%02X", (unsigned char)k[i]);
			else
				*u++ = k[i];
		}
		*u = '\0';
		assert_int_not_equal(http("GET", url, h, NULL, 0, &r), 404);
		resp_free(&r);
	}
	json_decref(d);
}

/*
 * The per-table paths need no route of their own: /api/v1/tables/<name>
 * and /api/v1/tables/<name>/{id} are the generic operations.
 */
static void
test_routed(void **state)
{
	struct resp	 r;
	char		 auth[256];
	const char	*h[3] = { auth, "Content-Type: application/json", NULL };
	json_t		*d, *v;
	const char	*k;
	int		 n;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", skey);
	d = doc(NULL, 0);
	n = 0;
	json_object_foreach(json_object_get(d, "paths"), k, v) {
		if (strncmp(k, T "oas_", strlen(T "oas_")) != 0 ||
		    strchr(k, '{') != NULL || strchr(k, ' ') != NULL)
			continue;
		assert_int_equal(http("GET", k, h, NULL, 0, &r), 200);
		assert_true(json_is_array(r.json));
		resp_free(&r);
		n++;
	}
	assert_true(n >= 7);
	assert_int_equal(http("GET", T "oas%20odd-name", h, NULL, 0, &r), 200);
	resp_free(&r);
	assert_int_equal(http("GET", T "oas_books/1", h, NULL, 0, &r), 200);
	assert_string_equal(str(r.json, "title"), "The Dispossessed");
	resp_free(&r);
	assert_int_equal(http("GET", T "oas_books?title=eq.The%20Dispossessed"
	    "&select=id", h, NULL, 0, &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
	json_decref(d);
}

/* 304, HEAD, and a new ETag after DDL, without a restart. */
static void
test_etag_ddl(void **state)
{
	struct resp	 r;
	char		 e1[128], e2[128], e3[128], hdr[200];
	const char	*h[2] = { hdr, NULL };
	json_t		*d;
	FILE		*f;
	const char	*out;
	int		 i;

	json_decref(doc(e1, sizeof(e1)));
	assert_true(e1[0] == '"');
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s", e1);
	/* Every worker gives the same ETag for the same catalog. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r),
		    304);
		assert_int_equal(r.len, 0);
		resp_free(&r);
	}
	assert_int_equal(http("HEAD", "/openapi.json", NULL, NULL, 0, &r), 200);
	assert_int_equal(r.len, 0);
	assert_non_null(resp_header(&r, "etag", e2, sizeof(e2)));
	assert_string_equal(e1, e2);
	resp_free(&r);

	assert_int_equal(psql("CREATE TABLE oas_later (id uuid PRIMARY KEY"
	    " DEFAULT gen_random_uuid(), at date NOT NULL)"), 0);
	d = wait_path(T "oas_later/{id}");
	assert_string_equal(str(prop(d, "oas_later", "id"), "format"), "uuid");
	json_decref(d);
	json_decref(doc(e3, sizeof(e3)));
	assert_string_not_equal(e1, e3);
	assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r), 200);
	resp_free(&r);
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s", e3);
	for (i = 0; i < 8; i++) {
		assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r),
		    304);
		resp_free(&r);
	}

	/* Dropped: gone again. */
	assert_int_equal(psql("DROP TABLE oas_later"), 0);
	for (i = 0; i < 100; i++) {
		d = doc(NULL, 0);
		if (path(d, T "oas_later") == NULL)
			break;
		json_decref(d);
		d = NULL;
		usleep(50000);
	}
	assert_non_null(d);
	assert_null(schema(d, "Table_oas_later"));
	json_decref(d);

	/* The document for run.sh to lint. */
	if ((out = getenv("KB_OAS_OUT")) != NULL) {
		assert_int_equal(http_get("/openapi.json", &r), 200);
		assert_non_null(f = fopen(out, "w"));
		assert_int_equal(fwrite(r.body, 1, r.len, f), r.len);
		assert_int_equal(fclose(f), 0);
		resp_free(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_schemas),
		cmocka_unit_test(test_excluded),
		cmocka_unit_test(test_routed),
		cmocka_unit_test(test_etag_ddl),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return (cmocka_run_group_tests_name("oas", tests, setup, NULL));
}
