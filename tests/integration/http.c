#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http.h"

struct buf {
	char	*p;
	size_t	 len;
};

static size_t
append(char *data, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;
	size_t		 len = size * n;

	b->p = realloc(b->p, b->len + len + 1);
	assert_non_null(b->p);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return (len);
}

void
http_burst(struct burst *b, size_t n, long parallel)
{
	struct buf		*bufs;
	struct curl_slist	**hl;
	CURLM			*m;
	CURL			*c;
	CURLMsg			*msg;
	char			 url[8192], auth[8300];
	const char		*base;
	size_t			 i;
	int			 running, left;

	base = getenv("BASE_URL");
	assert_non_null(base);
	bufs = calloc(n, sizeof(*bufs));
	hl = calloc(n, sizeof(*hl));
	assert_non_null(bufs);
	assert_non_null(hl);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, parallel);
	for (i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "%s%s", base, b[i].path);
		c = curl_easy_init();
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &bufs[i]);
		curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)&b[i]);
		if (b[i].bearer != NULL) {
			snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			    b[i].bearer);
			hl[i] = curl_slist_append(NULL, auth);
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl[i]);
		}
		curl_multi_add_handle(m, c);
	}
	do {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct burst	*one;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&one);
			one->status = -1;
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(msg->easy_handle,
				    CURLINFO_RESPONSE_CODE, &one->status);
			curl_multi_remove_handle(m, msg->easy_handle);
			curl_easy_cleanup(msg->easy_handle);
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	} while (running > 0);
	curl_multi_cleanup(m);
	for (i = 0; i < n; i++) {
		b[i].body = bufs[i].p != NULL ? bufs[i].p : strdup("");
		b[i].json = json_loads(b[i].body, 0, NULL);
		curl_slist_free_all(hl[i]);
	}
	free(bufs);
	free(hl);
}

void
burst_free(struct burst *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(b[i].body);
		json_decref(b[i].json);
		b[i].body = NULL;
		b[i].json = NULL;
	}
}

long
http(const char *method, const char *path, const char *const *headers,
    const char *body, size_t blen, struct resp *r)
{
	struct curl_slist	*hl = NULL;
	struct buf		 hb = { NULL, 0 }, bb = { NULL, 0 };
	char			 url[8192];
	const char		*base;
	CURL			*c;
	CURLcode		 rc;

	memset(r, 0, sizeof(*r));
	base = getenv("BASE_URL");
	assert_non_null(base);
	snprintf(url, sizeof(url), "%s%s", base, path);

	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, append);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
	for (; headers != NULL && *headers != NULL; headers++)
		hl = curl_slist_append(hl, *headers);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
		hl = curl_slist_append(hl, "Expect:");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -1;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);

	r->body = bb.p ? bb.p : strdup("");
	r->len = bb.len;
	r->headers = hb.p ? hb.p : strdup("");
	r->json = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
	return (r->status);
}

long
http_get(const char *path, struct resp *r)
{
	return (http("GET", path, NULL, NULL, 0, r));
}

long
http_post_json(const char *path, const char *json, struct resp *r)
{
	static const char *const h[] = {
		"Content-Type: application/json", NULL
	};

	return (http("POST", path, h, json, strlen(json), r));
}

/* "Authorization: Bearer <bearer>" into `buf`, or NULL without a bearer. */
static const char *
bearer_header(const char *bearer, char *buf, size_t len)
{
	if (bearer == NULL)
		return (NULL);
	snprintf(buf, len, "Authorization: Bearer %s", bearer);
	return (buf);
}

long
http_post_as(const char *path, const char *bearer, const char *body,
    struct resp *r)
{
	char		 auth[8300];
	const char	*h[3] = { "Content-Type: application/json", NULL, NULL };

	h[1] = bearer_header(bearer, auth, sizeof(auth));
	if (body == NULL)
		body = "";
	return (http("POST", path, h, body, strlen(body), r));
}

long
http_get_as(const char *path, const char *bearer, struct resp *r)
{
	char		 auth[8300];
	const char	*h[2] = { NULL, NULL };

	h[0] = bearer_header(bearer, auth, sizeof(auth));
	return (http("GET", path, h, NULL, 0, r));
}

const char *
jstr(json_t *o, const char *key)
{
	return (json_string_value(json_object_get(o, key)));
}

void
sess_from(struct resp *r, struct sess *s)
{
	json_t	*user;

	assert_non_null(r->json);
	assert_non_null(jstr(r->json, "access_token"));
	assert_non_null(jstr(r->json, "refresh_token"));
	snprintf(s->access, sizeof(s->access), "%s",
	    jstr(r->json, "access_token"));
	snprintf(s->refresh, sizeof(s->refresh), "%s",
	    jstr(r->json, "refresh_token"));
	user = json_object_get(r->json, "user");
	assert_non_null(jstr(user, "id"));
	snprintf(s->user_id, sizeof(s->user_id), "%s", jstr(user, "id"));
}

void
signup(const char *email, const char *pw, struct sess *s)
{
	struct resp	r;
	char		body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, pw);
	if (http_post_as("/api/v1/auth/signup", NULL, body, &r) != 201)
		fprintf(stderr, "signup %s: %ld %s\n", email, r.status, r.body);
	assert_int_equal(r.status, 201);
	sess_from(&r, s);
	resp_free(&r);
}

long
signin(const char *email, const char *pw, struct resp *r)
{
	char	body[2048];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, pw);
	return (http_post_as("/api/v1/auth/signin", NULL, body, r));
}

void
user_token(const char *email, const char *pw, char *out, size_t len,
    char *id, size_t idlen)
{
	struct resp	r;
	char		body[512];

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
	    email, pw);
	http_post_as("/api/v1/auth/signup", NULL, body, &r);	/* or 409 */
	resp_free(&r);
	assert_int_equal(signin(email, pw, &r), 200);
	snprintf(out, len, "%s", jstr(r.json, "access_token"));
	if (id != NULL)
		snprintf(id, idlen, "%s",
		    jstr(json_object_get(r.json, "user"), "id"));
	resp_free(&r);
}

/* base64url (unpadded) JSON, decoded and parsed. */
static json_t *
b64url_json(const char *in, size_t len)
{
	char		 b[4096];
	unsigned char	 d[4096];
	size_t		 i;
	int		 n;

	assert_true(len + 4 < sizeof(b));
	for (i = 0; i < len; i++)
		b[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	while (i % 4)
		b[i++] = '=';
	b[i] = '\0';
	n = EVP_DecodeBlock(d, (unsigned char *)b, (int)i);
	assert_true(n > 0);
	while (n > 0 && d[n - 1] == '\0')
		n--;
	return (json_loadb((char *)d, (size_t)n, 0, NULL));
}

json_t *
jwt_claims(const char *jwt)
{
	const char	*p = strchr(jwt, '.'), *q;

	assert_non_null(p);
	q = strchr(p + 1, '.');
	assert_non_null(q);
	return (b64url_json(p + 1, (size_t)(q - p - 1)));
}

void
resp_free(struct resp *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *
resp_header(struct resp *r, const char *name, char *buf, size_t len)
{
	const char	*line, *colon, *end;
	size_t		 nlen = strlen(name), vlen;

	for (line = r->headers; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		colon = strchr(line, ':');
		if (colon == NULL || (end && colon > end))
			continue;
		if ((size_t)(colon - line) != nlen ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		colon++;
		while (*colon == ' ')
			colon++;
		vlen = (end ? (size_t)(end - colon) : strlen(colon));
		while (vlen > 0 && (colon[vlen - 1] == '\r' ||
		    colon[vlen - 1] == ' '))
			vlen--;
		if (vlen >= len)
			vlen = len - 1;
		memcpy(buf, colon, vlen);
		buf[vlen] = '\0';
		return (buf);
	}
	return (NULL);
}

int
psql(const char *sql)
{
	char	cmd[8192];

	snprintf(cmd, sizeof(cmd),
	    "psql \"$DATABASE_URL\" -qAt -v ON_ERROR_STOP=1 -c \"%s\" "
	    ">/dev/null 2>&1", sql);
	return (system(cmd));
}

int
sql_value(const char *sql, char *out, size_t len)
{
	char	 cmd[8192];
	FILE	*f;

	(void)snprintf(cmd, sizeof(cmd), "psql \"$DATABASE_URL\" -qAt -v "
	    "ON_ERROR_STOP=1 -c \"%s\"", sql);
	out[0] = '\0';
	if ((f = popen(cmd, "r")) == NULL)
		return (-1);
	if (fgets(out, (int)len, f) != NULL)
		out[strcspn(out, "\n")] = '\0';
	return (pclose(f));
}

void
plant_service_key(const char *tenant_id, const char *scopes, char *key,
    size_t len)
{
	unsigned char	 md[SHA256_DIGEST_LENGTH], rnd[19];
	char		 hex[65], sql[1024], tenant[64];
	FILE		*f;
	int		 i;

	/* Random, not rand(): suites that run in the same second or never
	 * seed would plant the same key twice. */
	assert_non_null(f = fopen("/dev/urandom", "rb"));
	assert_int_equal(fread(rnd, 1, sizeof(rnd), f), sizeof(rnd));
	fclose(f);
	(void)snprintf(key, len, "kbsk_test");
	for (i = 0; i < (int)sizeof(rnd); i++)
		(void)snprintf(key + 9 + i * 2, len - 9 - (size_t)i * 2,
		    "%02x", rnd[i]);
	SHA256((const unsigned char *)key, strlen(key), md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		(void)snprintf(hex + i * 2, 3, "%02x", md[i]);
	(void)snprintf(tenant, sizeof(tenant), tenant_id ? "'%s'" : "NULL",
	    tenant_id);
	(void)snprintf(sql, sizeof(sql), "INSERT INTO service_keys (tenant_id,"
	    " name, key_prefix, key_hash, scopes) VALUES (%s, 'test', "
	    "'kbsk_test', '%s', '%s')", tenant, hex, scopes);
	assert_int_equal(psql(sql), 0);
}

void
assert_error(struct resp *r, long status, const char *code)
{
	json_t		*id;
	char		 hdr[128];

	if (r->status != status)
		fprintf(stderr, "expected %ld, got %ld: %s\n", status,
		    r->status, r->body);
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	assert_string_equal(json_string_value(
	    json_object_get(r->json, "code")), code);
	assert_true(json_is_string(json_object_get(r->json, "error")));
	assert_true(strlen(json_string_value(
	    json_object_get(r->json, "error"))) > 0);
	id = json_object_get(r->json, "request_id");
	assert_true(json_is_string(id));
	assert_non_null(resp_header(r, "x-request-id", hdr, sizeof(hdr)));
	assert_string_equal(json_string_value(id), hdr);
	assert_non_null(resp_header(r, "content-type", hdr, sizeof(hdr)));
	assert_string_equal(hdr, "application/json");
}

int
error_has_path(struct resp *r, const char *pointer)
{
	json_t		*d, *item;
	size_t		 i;

	d = json_object_get(r->json, "details");
	json_array_foreach(d, i, item) {
		if (strcmp(json_string_value(json_object_get(item, "path")),
		    pointer) == 0)
			return (1);
	}
	return (0);
}

static void
b64url(const unsigned char *in, size_t len, char *out)
{
	static const char	a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t			i, o = 0;
	unsigned int		v;

	for (i = 0; i + 2 < len; i += 3) {
		v = in[i] << 16 | in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		v = in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (len - i == 2) {
		v = in[i] << 16 | in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

char *
make_jwt(const char *header, const char *payload, const char *secret)
{
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen;
	char		*tok, *p;
	size_t		 hl = strlen(header), pl = strlen(payload);

	if (secret == NULL)
		secret = getenv("KB_JWT_SECRET");
	assert_non_null(secret);
	tok = malloc(hl * 2 + pl * 2 + 128);
	assert_non_null(tok);
	b64url((const unsigned char *)header, hl, tok);
	p = tok + strlen(tok);
	*p++ = '.';
	b64url((const unsigned char *)payload, pl, p);
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (unsigned char *)tok, strlen(tok), mac, &maclen);
	p = tok + strlen(tok);
	*p++ = '.';
	b64url(mac, maclen, p);
	return (tok);
}

/* RFC 4648 base32 (no padding) into out; the number of bytes. */
static size_t
b32_decode(const char *in, unsigned char *out)
{
	static const char	alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned int		buf = 0;
	int			bits = 0;
	size_t			n = 0;
	const char		*p;

	for (; *in != '\0'; in++) {
		assert_non_null(p = strchr(alpha, *in));
		buf = (buf << 5) | (unsigned int)(p - alpha);
		bits += 5;
		if (bits >= 8) {
			out[n++] = (unsigned char)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return (n);
}

void
totp_code(const char *secret_b32, long long step, char out[7])
{
	unsigned char	key[64], msg[8], mac[20];
	unsigned int	maclen = sizeof(mac);
	size_t		klen = b32_decode(secret_b32, key);
	unsigned long	v;
	int		i, off;

	for (i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(step & 0xff);
		step >>= 8;
	}
	assert_non_null(HMAC(EVP_sha1(), key, (int)klen, msg, sizeof(msg),
	    mac, &maclen));
	off = mac[19] & 0x0f;
	v = ((unsigned long)(mac[off] & 0x7f) << 24) |
	    ((unsigned long)mac[off + 1] << 16) |
	    ((unsigned long)mac[off + 2] << 8) | mac[off + 3];
	(void)snprintf(out, 7, "%06lu", v % 1000000);
}
