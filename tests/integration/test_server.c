/*
 * Integration tests: the real server (Kore + the module) against a real
 * PostgreSQL, started by tests/integration/run.sh, which passes BASE_URL,
 * DATABASE_URL, KB_PG_DIR, KB_PG_PORT and KB_SERVER_LOG.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http.h"

/* ---- system ---- */

static void
test_root(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/", &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "name")), "korebase");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "openapi")), "/openapi.json");
	resp_free(&r);
}

static void
test_health_up(void **state)
{
	struct resp	r;
	char		h[128];

	assert_int_equal(http_get("/health", &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "status")), "ok");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "database")), "up");
	assert_true(json_is_string(json_object_get(r.json, "version")));
	assert_non_null(resp_header(&r, "x-request-id", h, sizeof(h)));
	assert_int_equal(strncmp(h, "req_", 4), 0);
	assert_int_equal(strlen(h), 28);
	resp_free(&r);
}

static void
test_request_id_echo(void **state)
{
	static const char *const good[] = { "X-Request-Id: abc-123.x_y", NULL };
	static const char *const bad[] = {
		"X-Request-Id: has spaces \"and quotes\"", NULL
	};
	struct resp	r;
	char		h[128];

	http("GET", "/health", good, NULL, 0, &r);
	assert_string_equal(resp_header(&r, "x-request-id", h, sizeof(h)),
	    "abc-123.x_y");
	resp_free(&r);

	http("GET", "/health", bad, NULL, 0, &r);
	assert_int_equal(strncmp(resp_header(&r, "x-request-id", h,
	    sizeof(h)), "req_", 4), 0);
	resp_free(&r);

	/* 65 characters: one too many, replaced too. */
	{
		char		 longid[128];
		const char	*hs[2] = { longid, NULL };

		snprintf(longid, sizeof(longid), "X-Request-Id: %065d", 7);
		http("GET", "/health", hs, NULL, 0, &r);
		assert_int_equal(strncmp(resp_header(&r, "x-request-id", h,
		    sizeof(h)), "req_", 4), 0);
		resp_free(&r);
	}
}

static void
test_access_log(void **state)
{
	static const char *const h[] = { "X-Request-Id: access-log-probe", NULL };
	struct resp	r;
	char		cmd[1024];
	const char	*log = getenv("KB_SERVER_LOG");

	assert_non_null(log);
	http("GET", "/health", h, NULL, 0, &r);
	resp_free(&r);
	usleep(200 * 1000);
	snprintf(cmd, sizeof(cmd), "grep -q '\"msg\":\"access\",\"request_id\":"
	    "\"access-log-probe\",\"method\":\"GET\",\"path\":\"/health\"' %s",
	    log);
	assert_int_equal(system(cmd), 0);

	/* Every line is one JSON object, whatever bytes the paths held. */
	http_get("/no%22such%0a\\path\x7f\xc3\xa9", &r);
	resp_free(&r);
	usleep(200 * 1000);
	{
		FILE	*f;
		char	 line[4096];
		json_t	*j;
		int	 n = 0;

		assert_non_null(f = fopen(log, "r"));
		while (fgets(line, sizeof(line), f) != NULL) {
			if (line[0] != '{')
				continue;	/* Kore's own start-up lines */
			j = json_loads(line, 0, NULL);
			if (j == NULL)
				fprintf(stderr, "not JSON: %s", line);
			assert_non_null(j);
			json_decref(j);
			n++;
		}
		fclose(f);
		assert_true(n > 3);
	}
}

/* ---- routing and errors ---- */

static void
test_not_found(void **state)
{
	struct resp	r;

	http_get("/no/such/path", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	/* A trailing slash is another path. */
	http_get("/health/", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	http_get("/api/v1/settings/a/b", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
}

static void
test_method_not_allowed(void **state)
{
	struct resp	r;
	char		h[128];

	http("DELETE", "/health", NULL, NULL, 0, &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	assert_non_null(resp_header(&r, "allow", h, sizeof(h)));
	assert_string_equal(h, "GET, HEAD");
	resp_free(&r);

	http("PUT", "/api/v1/settings/batch", NULL, "{}", 2, &r);
	assert_error(&r, 405, "METHOD_NOT_ALLOWED");
	assert_string_equal(resp_header(&r, "allow", h, sizeof(h)), "POST");
	resp_free(&r);
}

static void
test_head_and_options(void **state)
{
	struct resp	r;
	char		h[128];

	assert_int_equal(http("HEAD", "/health", NULL, NULL, 0, &r), 200);
	assert_int_equal(r.len, 0);
	assert_non_null(resp_header(&r, "x-request-id", h, sizeof(h)));
	resp_free(&r);

	assert_int_equal(http("OPTIONS", "/api/v1/settings", NULL, NULL, 0,
	    &r), 204);
	assert_string_equal(resp_header(&r, "allow", h, sizeof(h)),
	    "GET, HEAD");
	resp_free(&r);
}

/* ---- the spec and Swagger UI ---- */

static void
test_openapi_etag(void **state)
{
	struct resp	r;
	char		etag[128], hdr[200];
	const char	*h[2] = { hdr, NULL };

	assert_int_equal(http_get("/openapi.json", &r), 200);
	assert_non_null(r.json);
	assert_non_null(json_object_get(r.json, "openapi"));
	assert_non_null(json_object_get(json_object_get(r.json, "paths"),
	    "/api/v1/settings/{key}"));
	assert_non_null(resp_header(&r, "etag", etag, sizeof(etag)));
	assert_true(etag[0] == '"');
	resp_free(&r);

	snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
	assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r), 304);
	assert_int_equal(r.len, 0);
	resp_free(&r);

	snprintf(hdr, sizeof(hdr), "If-None-Match: \"other\", W/%s", etag);
	assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r), 304);
	resp_free(&r);

	snprintf(hdr, sizeof(hdr), "If-None-Match: \"stale\"");
	assert_int_equal(http("GET", "/openapi.json", h, NULL, 0, &r), 200);
	resp_free(&r);
}

static void
test_docs(void **state)
{
	struct resp	r;
	char		h[128];

	assert_int_equal(http_get("/docs", &r), 200);
	assert_non_null(strstr(r.body, "SwaggerUIBundle"));
	assert_non_null(strstr(r.body, "/openapi.json"));
	assert_null(strstr(r.body, "https://"));	/* no CDN */
	resp_free(&r);

	assert_int_equal(http_get("/docs/swagger-ui-bundle.js", &r), 200);
	assert_true(r.len > 100000);
	assert_non_null(resp_header(&r, "content-type", h, sizeof(h)));
	assert_non_null(strstr(h, "javascript"));
	resp_free(&r);

	assert_int_equal(http_get("/docs/swagger-ui.css", &r), 200);
	resp_free(&r);

	http_get("/docs/nope.js", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	/* Traversal never reaches the disk: the pattern refuses it. */
	http_get("/docs/..%2f..%2fetc%2fpasswd", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/path/asset"));
	resp_free(&r);
}

/* ---- settings ---- */

static void
test_settings_list(void **state)
{
	static const char *const count[] = { "Prefer: count=exact", NULL };
	struct resp	r;
	char		h[128];
	size_t		n;

	assert_int_equal(http_get("/api/v1/settings", &r), 200);
	assert_true(json_is_array(r.json));
	n = json_array_size(r.json);
	assert_true(n >= 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(r.json, 0), "key")), "app.name");
	/* Private settings never show. */
	assert_null(strstr(r.body, "secret.internal"));
	snprintf(h, sizeof(h), "0-%zu/*", n - 1);
	{
		char	got[128];

		assert_string_equal(resp_header(&r, "content-range", got,
		    sizeof(got)), h);
	}
	resp_free(&r);

	http("GET", "/api/v1/settings?limit=1&offset=1", count, NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 1);
	snprintf(h, sizeof(h), "1-1/%zu", n);
	{
		char	got[128];

		assert_string_equal(resp_header(&r, "content-range", got,
		    sizeof(got)), h);
	}
	resp_free(&r);

	http_get("/api/v1/settings?offset=100000", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 0);
	resp_free(&r);
}

static void
test_settings_list_bad_query(void **state)
{
	struct resp	r;

	http_get("/api/v1/settings?limit=0", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/limit"));
	resp_free(&r);

	/* Every failure at once. */
	http_get("/api/v1/settings?limit=abc&offset=-1", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/limit"));
	assert_true(error_has_path(&r, "/query/offset"));
	assert_int_equal(json_array_size(json_object_get(r.json, "details")),
	    2);
	resp_free(&r);

	http_get("/api/v1/settings?limit=1001", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	http_get("/api/v1/settings?limit=%zz", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Names are percent-decoded too: lim%69t is limit. */
	http_get("/api/v1/settings?lim%69t=0", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/query/limit"));
	resp_free(&r);

	/* Unknown query arguments are ignored, as OpenAPI allows. */
	assert_int_equal(http_get("/api/v1/settings?nope=1&limit=1", &r), 200);
	assert_int_equal(json_array_size(r.json), 1);
	resp_free(&r);
}

static void
test_settings_get(void **state)
{
	struct resp	r;

	assert_int_equal(http_get("/api/v1/settings/app.name", &r), 200);
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "key")), "app.name");
	assert_string_equal(json_string_value(json_object_get(r.json,
	    "value")), "korebase");
	assert_non_null(strstr(json_string_value(json_object_get(r.json,
	    "updated_at")), "Z"));
	resp_free(&r);

	assert_int_equal(http_get("/api/v1/settings/auth.signup_enabled",
	    &r), 200);
	assert_true(json_is_true(json_object_get(r.json, "value")));
	resp_free(&r);
}

static void
test_settings_get_missing_and_private(void **state)
{
	struct resp	r;

	http_get("/api/v1/settings/no.such.key", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);

	http_get("/api/v1/settings/secret.internal", &r);
	assert_error(&r, 404, "NOT_FOUND");
	resp_free(&r);
}

static void
test_settings_get_bad_key(void **state)
{
	struct resp	r;
	char		path[600];

	http_get("/api/v1/settings/a%20b", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/path/key"));
	resp_free(&r);

	/* An injection attempt is just a key that does not match. */
	http_get("/api/v1/settings/x'%20OR%20'1'='1", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	memset(path, 0, sizeof(path));
	strcpy(path, "/api/v1/settings/");
	memset(path + strlen(path), 'k', 300);
	http_get(path, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	http_get("/api/v1/settings/%ff%fe", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* A NUL byte never reaches a handler or a query. */
	http_get("/api/v1/settings/app.name%00x", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/path/key"));
	resp_free(&r);

	/* A truncated escape. */
	http_get("/api/v1/settings/app.name%4", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
}

static void
test_settings_batch(void **state)
{
	struct resp	r;

	http_post_json("/api/v1/settings/batch",
	    "{\"keys\":[\"storage.max_upload_bytes\",\"nope\",\"app.name\","
	    "\"secret.internal\"]}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 2);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(r.json, 0), "key")), "storage.max_upload_bytes");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(r.json, 1), "key")), "app.name");
	resp_free(&r);

	http_post_json("/api/v1/settings/batch", "{\"keys\":[\"nope\"]}", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(r.json), 0);
	resp_free(&r);
}

static void
test_settings_batch_invalid(void **state)
{
	struct resp	r;

	http_post_json("/api/v1/settings/batch", "{\"keys\":[]}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/keys"));
	resp_free(&r);

	http_post_json("/api/v1/settings/batch",
	    "{\"keys\":[\"a\",\"a\"]}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);

	/* Every failure at once, each with its pointer. */
	http_post_json("/api/v1/settings/batch",
	    "{\"keys\":[\"ok\",\"bad key\",7],\"extra\":1}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/keys/1"));
	assert_true(error_has_path(&r, "/body/keys/2"));
	assert_true(error_has_path(&r, "/body/extra"));
	resp_free(&r);

	http_post_json("/api/v1/settings/batch", "{}", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body/keys"));
	resp_free(&r);

	http_post_json("/api/v1/settings/batch", "[1,2]", &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	resp_free(&r);
}

static void
test_settings_batch_bad_bodies(void **state)
{
	static const char *const text[] = { "Content-Type: text/plain", NULL };
	static const char *const json[] = {
		"Content-Type: application/json; charset=utf-8", NULL
	};
	struct resp	r;
	char		*big;
	size_t		 len;

	http_post_json("/api/v1/settings/batch", "{\"keys\":[", &r);
	assert_error(&r, 400, "INVALID_JSON");
	assert_true(error_has_path(&r, "/body"));
	resp_free(&r);

	http_post_json("/api/v1/settings/batch", "\xff\xfe", &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);

	http("POST", "/api/v1/settings/batch", text, "{\"keys\":[\"a\"]}", 14,
	    &r);
	assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	resp_free(&r);

	http("POST", "/api/v1/settings/batch", json, "{\"keys\":[\"a\"]}", 14,
	    &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);

	http("POST", "/api/v1/settings/batch", json, "", 0, &r);
	assert_error(&r, 400, "VALIDATION_FAILED");
	assert_true(error_has_path(&r, "/body"));
	resp_free(&r);

	len = 2 * 1024 * 1024;
	big = malloc(len);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	http("POST", "/api/v1/settings/batch", json, big, len, &r);
	assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
	resp_free(&r);
	free(big);

	/* Deeply nested JSON is an error, not a crash. */
	len = 100000;
	big = malloc(len + 1);
	memset(big, '[', len);
	big[len] = '\0';
	http("POST", "/api/v1/settings/batch", json, big, len, &r);
	assert_error(&r, 400, "INVALID_JSON");
	resp_free(&r);
	free(big);

	/* The server is still fine. */
	assert_int_equal(http_get("/health", &r), 200);
	resp_free(&r);
}

/* ---- the credentials gate ---- */

static char *
token_for(const char *sub, const char *role, long exp_in, const char *aud)
{
	char	payload[512];
	long	now = (long)time(NULL);

	snprintf(payload, sizeof(payload),
	    "{\"sub\":\"%s\",\"role\":\"%s\",\"sid\":\"s1\","
	    "\"jti\":\"j1\",\"iat\":%ld,\"exp\":%ld,"
	    "\"iss\":\"korebase\",\"aud\":\"%s\"}",
	    sub, role, now - 10, now + exp_in, aud);
	return (make_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload,
	    NULL));
}

static long
get_with_token(const char *path, const char *tok, struct resp *r)
{
	char		 h[4096];
	const char	*hs[2] = { h, NULL };

	snprintf(h, sizeof(h), "Authorization: Bearer %s", tok);
	return (http("GET", path, hs, NULL, 0, r));
}

static void
test_gate_valid_token(void **state)
{
	struct resp	 r;
	char		*tok;

	tok = token_for("11111111-1111-1111-1111-111111111111",
	    "authenticated", 3600, "authenticated");
	assert_int_equal(get_with_token("/api/v1/settings/app.name", tok,
	    &r), 200);
	resp_free(&r);
	free(tok);
}

static void
test_gate_bad_tokens(void **state)
{
	static const char *const basic[] = {
		"Authorization: Basic dXNlcjpwYXNz", NULL
	};
	struct resp	 r;
	char		*tok, h[128];

	/* Expired. */
	tok = token_for("u", "authenticated", -60, "authenticated");
	get_with_token("/health", tok, &r);
	assert_error(&r, 401, "TOKEN_EXPIRED");
	assert_string_equal(resp_header(&r, "www-authenticate", h,
	    sizeof(h)), "Bearer");
	resp_free(&r);
	free(tok);

	/* Wrong audience. */
	tok = token_for("u", "authenticated", 3600, "someone-else");
	get_with_token("/health", tok, &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);
	free(tok);

	/* Signed with another key. */
	tok = make_jwt("{\"alg\":\"HS256\"}", "{\"sub\":\"u\"}",
	    "not-the-server-secret-not-the-server-secret");
	get_with_token("/health", tok, &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);
	free(tok);

	/* alg none, no signature. */
	get_with_token("/health", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1Iiwicm9s"
	    "ZSI6InNlcnZpY2Vfcm9sZSJ9.", &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);

	/* Garbage, and another scheme. */
	get_with_token("/health", "garbage", &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);
	http("GET", "/health", basic, NULL, 0, &r);
	assert_error(&r, 401, "UNAUTHORIZED");
	resp_free(&r);

	/* The scheme with no token. */
	get_with_token("/health", "", &r);
	assert_error(&r, 401, "INVALID_TOKEN");
	resp_free(&r);
}

/*
 * Verified tokens are remembered per worker (kb_auth.c): a remembered
 * token still expires on time, and a token that differs in its signature
 * only is verified, not taken for the remembered one.
 */
static void
test_gate_token_cache(void **state)
{
	struct resp	 r;
	char		*tok, *forged;
	size_t		 n;
	int		 i;

	tok = token_for("22222222-2222-2222-2222-222222222222",
	    "authenticated", 3, "authenticated");
	/* Many requests: each worker verifies it once, then remembers. */
	for (i = 0; i < 20; i++) {
		assert_int_equal(get_with_token("/api/v1/settings/app.name",
		    tok, &r), 200);
		resp_free(&r);
	}
	forged = strdup(tok);
	assert_non_null(forged);
	n = strlen(forged);
	forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
	for (i = 0; i < 4; i++) {
		get_with_token("/api/v1/settings/app.name", forged, &r);
		assert_error(&r, 401, "INVALID_TOKEN");
		resp_free(&r);
	}
	free(forged);
	/* Past its exp: refused by every worker that remembered it. */
	sleep(4);
	for (i = 0; i < 20; i++) {
		get_with_token("/api/v1/settings/app.name", tok, &r);
		assert_error(&r, 401, "TOKEN_EXPIRED");
		resp_free(&r);
	}
	free(tok);
}

/* ---- migrations ---- */

static int
sh(const char *fmt, ...)
{
	va_list		ap;
	char		cmd[4096];
	int		st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void
test_migrations_idempotent(void **state)
{
	assert_int_equal(sh("build/kbmigrate migrations | "
	    "grep -q '0 applied'"), 0);
	assert_int_equal(psql("SELECT 1/(count(*) = 1)::int FROM "
	    "kb_schema_migrations WHERE version = 1 AND length(checksum) = 64"),
	    0);
}

static void
test_migrations_changed_file_refused(void **state)
{
	const char	*d = "build/test-migrations";

	assert_int_equal(sh("rm -rf %s && cp -r migrations %s && "
	    "echo '-- edited' >> %s/0001_settings.sql", d, d, d), 0);
	assert_int_equal(sh("build/kbmigrate %s 2>build/test-mig.err", d), 2);
	assert_int_equal(sh("grep -q 'was changed after it was applied' "
	    "build/test-mig.err"), 0);

	assert_int_equal(sh("rm -rf %s && cp -r migrations %s && "
	    "touch %s/9_bad.sql", d, d, d), 0);
	assert_int_equal(sh("build/kbmigrate %s 2>/dev/null", d), 2);
}

static void
test_migrations_apply_new(void **state)
{
	const char	*d = "build/test-migrations";

	assert_int_equal(sh("rm -rf %s && cp -r migrations %s && "
	    "printf 'CREATE TABLE kb_test_mig (id int);\\n' > "
	    "%s/9000_test_table.sql", d, d, d), 0);
	assert_int_equal(sh("build/kbmigrate %s | grep -q 'applied "
	    "9000_test_table.sql'", d), 0);
	assert_int_equal(psql("SELECT * FROM kb_test_mig"), 0);
	/* A failing migration applies nothing of itself. */
	assert_int_equal(sh("printf 'CREATE TABLE kb_test_mig2 (id int);\\n"
	    "SELECT 1/0;\\n' > %s/9001_fails.sql", d), 0);
	assert_int_equal(sh("build/kbmigrate %s >/dev/null 2>&1", d), 1);
	assert_int_not_equal(psql("SELECT * FROM kb_test_mig2"), 0);
	assert_int_equal(psql("DROP TABLE kb_test_mig; DELETE FROM "
	    "kb_schema_migrations WHERE version >= 9000"), 0);
}

/* ---- PostgreSQL restarts under a running server ---- */

static void
pg_ctl(const char *what)
{
	assert_int_equal(sh("scripts/pg.sh %s \"$KB_PG_DIR\" \"$KB_PG_PORT\"",
	    what), 0);
}

static void
test_database_restart(void **state)
{
	struct resp	r;
	int		i, ok;

	assert_int_equal(http_get("/api/v1/settings/app.name", &r), 200);
	resp_free(&r);

	pg_ctl("stop");
	for (i = 0; i < 3; i++) {
		http_get("/health", &r);
		assert_int_equal(r.status, 503);
		assert_string_equal(json_string_value(json_object_get(r.json,
		    "database")), "down");
		resp_free(&r);

		http_get("/api/v1/settings/app.name", &r);
		assert_error(&r, 503, "SERVICE_UNAVAILABLE");
		resp_free(&r);
	}

	pg_ctl("start");
	for (ok = 0, i = 0; i < 100 && !ok; i++) {
		http_get("/api/v1/settings/app.name", &r);
		ok = (r.status == 200);
		resp_free(&r);
		if (!ok)
			usleep(100 * 1000);
	}
	assert_true(ok);
	/* Every worker and connection recovered, not just one. */
	for (i = 0; i < 20; i++) {
		assert_int_equal(http_get("/health", &r), 200);
		resp_free(&r);
	}
}

/* A restart under load: every answer is 200 or 503, never a 500. */
static void
test_database_restart_under_load(void **state)
{
	struct resp	r;
	int		i, ok;

	assert_int_equal(sh("wrk -t1 -c16 -d4s "
	    "\"$BASE_URL/api/v1/settings/app.name\" >build/test-wrk.txt 2>&1 &"),
	    0);
	usleep(1000 * 1000);
	pg_ctl("stop");
	usleep(1000 * 1000);
	pg_ctl("start");
	usleep(3000 * 1000);
	assert_int_equal(sh("grep -q 'Requests/sec' build/test-wrk.txt"), 0);
	assert_int_not_equal(sh("grep -q '\"status\":500' \"$KB_SERVER_LOG\""),
	    0);
	for (ok = 0, i = 0; i < 100 && !ok; i++) {
		http_get("/api/v1/settings/app.name", &r);
		ok = (r.status == 200);
		resp_free(&r);
		if (!ok)
			usleep(100 * 1000);
	}
	assert_true(ok);
}

/*
 * The janitor (run.sh sets KB_JANITOR_INTERVAL_MS=2000): a session
 * revoked long ago and an idle sign-in failure counter go, a fresh
 * revoked session and a locked counter stay.
 */
static void
test_janitor(void **state)
{
	char	out[64], sql[512];
	int	i;

	(void)state;
	assert_int_equal(sql_value("INSERT INTO users (email, password_hash)"
	    " VALUES ('janitor@server.test', '!') RETURNING id", out,
	    sizeof(out)), 0);
	snprintf(sql, sizeof(sql), "INSERT INTO sessions (user_id, created_at,"
	    " revoked_at) VALUES ('%s', now() - interval '20 days', now() -"
	    " interval '8 days'), ('%s', now(), now());"
	    " INSERT INTO signin_failures (email, failed_signins, updated_at,"
	    " locked_until) VALUES ('idle@server.test', 2, now() - interval"
	    " '2 days', NULL), ('locked@server.test', 5, now() - interval"
	    " '2 days', now() + interval '1 hour')", out, out);
	assert_int_equal(psql(sql), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM sessions s JOIN users"
	    " u ON u.id = s.user_id WHERE u.email = 'janitor@server.test'");
	for (i = 0; i < 100; i++) {
		assert_int_equal(sql_value(sql, out, sizeof(out)), 0);
		if (strcmp(out, "1") == 0)
			break;
		usleep(100000);
	}
	assert_string_equal(out, "1");
	assert_int_equal(sql_value("SELECT string_agg(email::text, ',')"
	    " FROM signin_failures WHERE email IN ('idle@server.test',"
	    " 'locked@server.test')", out, sizeof(out)), 0);
	assert_string_equal(out, "locked@server.test");
}

int
main(void)
{
	const struct CMUnitTest system_tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_health_up),
		cmocka_unit_test(test_request_id_echo),
		cmocka_unit_test(test_access_log),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_head_and_options),
		cmocka_unit_test(test_openapi_etag),
		cmocka_unit_test(test_docs),
	};
	const struct CMUnitTest settings_tests[] = {
		cmocka_unit_test(test_settings_list),
		cmocka_unit_test(test_settings_list_bad_query),
		cmocka_unit_test(test_settings_get),
		cmocka_unit_test(test_settings_get_missing_and_private),
		cmocka_unit_test(test_settings_get_bad_key),
		cmocka_unit_test(test_settings_batch),
		cmocka_unit_test(test_settings_batch_invalid),
		cmocka_unit_test(test_settings_batch_bad_bodies),
	};
	const struct CMUnitTest gate_tests[] = {
		cmocka_unit_test(test_gate_valid_token),
		cmocka_unit_test(test_gate_bad_tokens),
		cmocka_unit_test(test_gate_token_cache),
	};
	const struct CMUnitTest migration_tests[] = {
		cmocka_unit_test(test_migrations_idempotent),
		cmocka_unit_test(test_migrations_changed_file_refused),
		cmocka_unit_test(test_migrations_apply_new),
		cmocka_unit_test(test_janitor),
	};
	const struct CMUnitTest restart_tests[] = {
		cmocka_unit_test(test_database_restart),
		cmocka_unit_test(test_database_restart_under_load),
	};
	int	failed = 0;

	curl_global_init(CURL_GLOBAL_ALL);
	if (psql("INSERT INTO settings (key, value, is_public) VALUES "
	    "('secret.internal', '\\\"hidden\\\"', false) "
	    "ON CONFLICT (key) DO NOTHING") != 0) {
		fprintf(stderr, "cannot seed the test database\n");
		return (1);
	}
	failed += cmocka_run_group_tests_name("integration: system",
	    system_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("integration: settings",
	    settings_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("integration: credentials gate",
	    gate_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("integration: migrations",
	    migration_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("integration: database restart",
	    restart_tests, NULL, NULL);
	curl_global_cleanup();
	return (failed != 0);
}
