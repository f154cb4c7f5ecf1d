/*
 * A small libcurl client for the integration tests: one call, one
 * response with its status, headers and body (JSON parsed if it is JSON).
 */

#ifndef KB_TEST_HTTP_H
#define KB_TEST_HTTP_H

#include <stddef.h>

#include <jansson.h>

struct resp {
	long		 status;
	char		*body;
	size_t		 len;
	char		*headers;	/* raw header block */
	json_t		*json;		/* NULL unless the body parsed */
};

/*
 * Send `method` `path` to $BASE_URL with optional extra headers
 * (NULL-terminated "Name: value" strings) and body.  Fills `r`; free it
 * with resp_free.  Returns the status, or -1 when the request failed.
 */
long		http(const char *method, const char *path,
		    const char *const *headers, const char *body, size_t blen,
		    struct resp *r);
long		http_get(const char *path, struct resp *r);

/*
 * GETs sent at once, up to `parallel` at a time on as many connections:
 * each of `n` gets its own status, body (NUL-terminated) and, if the
 * body is JSON, json.  Free with burst_free.
 */
struct burst {
	const char	*path;
	const char	*bearer;	/* NULL: none */
	long		 status;
	char		*body;
	json_t		*json;
};
void		http_burst(struct burst *, size_t n, long parallel);
void		burst_free(struct burst *, size_t n);
long		http_post_json(const char *path, const char *json,
		    struct resp *r);
void		resp_free(struct resp *);

/*
 * POST a JSON body (NULL: an empty one) or GET, with `bearer` as
 * "Authorization: Bearer <bearer>" when it is not NULL.
 */
long		http_post_as(const char *path, const char *bearer,
		    const char *body, struct resp *r);
long		http_get_as(const char *path, const char *bearer,
		    struct resp *r);

/* A string member of a JSON object, or NULL. */
const char	*jstr(json_t *o, const char *key);

/* A session answered by sign-up, sign-in or refresh. */
struct sess {
	char	access[4096];
	char	refresh[128];
	char	user_id[64];
};

/* The session in `r` (asserts it is there). */
void		sess_from(struct resp *r, struct sess *s);
/* Sign up `email` with `pw` (asserts 201) into `s`. */
void		signup(const char *email, const char *pw, struct sess *s);
/* POST /api/v1/auth/signin with `email` and `pw`. */
long		signin(const char *email, const char *pw, struct resp *r);

/*
 * An access token for `email` (signed up first if it is new) into `out`,
 * and its user id into `id` unless that is NULL.
 */
void		user_token(const char *email, const char *pw, char *out,
		    size_t len, char *id, size_t idlen);

/* The claims of a JWT (not verified), parsed; json_decref them. */
json_t		*jwt_claims(const char *jwt);

/* The value of response header `name` (case-insensitive), or NULL. */
const char	*resp_header(struct resp *, const char *name, char *buf,
		    size_t len);

/* Shell out to psql on $DATABASE_URL; returns the exit status. */
int		psql(const char *sql);

/*
 * One value (first column of the first row) from SQL on $DATABASE_URL
 * into `out`; `sql` must not contain '$' or '"'.  Returns psql's status.
 */
int		sql_value(const char *sql, char *out, size_t len);

/*
 * Plant a service key with SQL: tenant (NULL: instance-wide) and a text[]
 * literal of scopes ("{tenants:read}").  The key is written to `key`.
 */
void		plant_service_key(const char *tenant_id, const char *scopes,
		    char *key, size_t len);

/* RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of `secret_b32` at time step `step`. */
void		totp_code(const char *secret_b32, long long step, char out[7]);

/* Assert the standard error body: status, code, request_id present. */
void		assert_error(struct resp *, long status, const char *code);

/* True if the error's details name `pointer`. */
int		error_has_path(struct resp *, const char *pointer);

/*
 * A JWT signed with HMAC-SHA256 under $KB_JWT_SECRET (or `secret`), with
 * the given header and payload JSON, for tests that forge tokens.
 * Returns a malloc'd string.
 */
char		*make_jwt(const char *header, const char *payload,
		    const char *secret);

#endif
