/*
 * Request contexts: per-request memory, buffered responses and the
 * standard error body of API-CONVENTIONS.md.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"

#define ARENA_CHUNK	4096

struct arena_chunk {
	struct arena_chunk	*next;
	size_t			used;
	size_t			size;
	/* Aligned storage follows. */
	max_align_t		data[];
};

static void	ctx_respond_buf(struct kb_ctx *, int, const char *, char *,
		    size_t, int);

void *
kb_ctx_alloc(struct kb_ctx *ctx, size_t len)
{
	struct arena_chunk	*c;
	size_t			 need, size;

	need = (len + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (need <= sizeof(ctx->inline_arena) - ctx->inline_used) {
		ctx->inline_used += need;
		return (memset((char *)ctx->inline_arena + ctx->inline_used -
		    need, 0, need));
	}
	c = ctx->arena;
	if (c == NULL || c->size - c->used < need) {
		size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
		c = kore_calloc(1, sizeof(*c) + size);
		c->size = size;
		c->next = ctx->arena;
		ctx->arena = c;
	}
	c->used += need;
	return (memset((char *)c->data + c->used - need, 0, need));
}

char *
kb_ctx_strdup(struct kb_ctx *ctx, const char *s)
{
	size_t		len;
	char		*p;

	len = strlen(s) + 1;
	p = kb_ctx_alloc(ctx, len);
	memcpy(p, s, len);
	return (p);
}

struct kb_defer {
	void		(*fn)(void *);
	void		*arg;
	struct kb_defer	*next;
};

/*
 * Free everything the context owns.  Called once, from the request's
 * onfree hook, whether the request completed or the client went away.
 */
void
kb_ctx_free(struct kb_ctx *ctx)
{
	struct arena_chunk	*c, *next;
	struct kb_defer		*d;
	size_t			 i;

	kb_db_detach(ctx);
	kb_work_detach(ctx);
	kb_schema_release(ctx);
	kb_stream_detach(ctx);
	for (d = ctx->defers; d != NULL; d = d->next)
		d->fn(d->arg);
	for (c = ctx->arena; c != NULL; c = next) {
		next = c->next;
		kore_free(c);
	}
	for (i = 0; i < ctx->nheaders; i++) {
		kore_free(ctx->headers[i].name);
		kore_free(ctx->headers[i].value);
	}
	if (ctx->resp_owned)
		free(ctx->resp_body);
	json_decref(ctx->params);
	json_decref(ctx->body);
	free(ctx->body_buf);
	kore_free(ctx);
}

void
kb_ctx_defer(struct kb_ctx *ctx, void (*fn)(void *), void *arg)
{
	struct kb_defer	*d;

	d = kb_ctx_alloc(ctx, sizeof(*d));
	d->fn = fn;
	d->arg = arg;
	d->next = ctx->defers;
	ctx->defers = d;
}

const char *
kb_ctx_query(struct kb_ctx *ctx)
{
	return (ctx->req->query_string);
}

const char *
kb_ctx_request_id(struct kb_ctx *ctx)
{
	return (ctx->request_id);
}

const char *
kb_ctx_header(struct kb_ctx *ctx, const char *name)
{
	const char	*v;

	if (!http_request_header(ctx->req, name, &v))
		return (NULL);
	return (v);
}

const char *
kb_ctx_method(struct kb_ctx *ctx)
{
	return (http_method_text(ctx->req->method));
}

int
kb_responded(struct kb_ctx *ctx)
{
	return (ctx->responded);
}

void
kb_header_set(struct kb_ctx *ctx, const char *name, const char *value)
{
	size_t		i;

	for (i = 0; i < ctx->nheaders; i++) {
		if (strcasecmp(ctx->headers[i].name, name) == 0) {
			kore_free(ctx->headers[i].value);
			ctx->headers[i].value = kore_strdup(value);
			return;
		}
	}
	if (ctx->nheaders == KB_CTX_MAX_HEADERS) {
		kb_log("error", "too many response headers, dropped %s", name);
		return;
	}
	ctx->headers[ctx->nheaders].name = kore_strdup(name);
	ctx->headers[ctx->nheaders].value = kore_strdup(value);
	ctx->nheaders++;
}

/*
 * Record the response.  `owned` says whether `body` is ours to free (a
 * malloc'd buffer) or static data that outlives the request.
 */
static void
ctx_respond_buf(struct kb_ctx *ctx, int status, const char *ctype, char *body,
    size_t len, int owned)
{
	if (ctx->responded) {
		kb_log("error", "request %s answered twice (%d after %d)",
		    ctx->request_id, status, ctx->status);
		if (owned)
			free(body);
		return;
	}
	ctx->responded = 1;
	ctx->status = status;
	ctx->resp_ctype = ctype;
	ctx->resp_body = body;
	ctx->resp_len = len;
	ctx->resp_owned = owned;
	if (ctx->sleeping)
		kb_ctx_wakeup(ctx);
}

void
kb_respond_json(struct kb_ctx *ctx, int status, json_t *body)
{
	char		*s;

	s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(body);
	if (s == NULL) {
		kb_respond_error(ctx, 500, "INTERNAL",
		    "the response could not be encoded");
		return;
	}
	ctx_respond_buf(ctx, status, "application/json", s, strlen(s), 1);
}

void
kb_respond_text(struct kb_ctx *ctx, int status, const char *ctype,
    const char *data, size_t len)
{
	char		*copy;

	copy = malloc(len + 1);
	if (copy == NULL)
		fatal("kb_respond_text: out of memory");
	memcpy(copy, data, len);
	copy[len] = '\0';
	ctx_respond_buf(ctx, status, ctype, copy, len, 1);
}

void
kb_respond_static(struct kb_ctx *ctx, int status, const char *ctype,
    const void *data, size_t len)
{
	ctx_respond_buf(ctx, status, ctype, (char *)data, len, 0);
}

void
kb_respond_empty(struct kb_ctx *ctx, int status)
{
	ctx_respond_buf(ctx, status, NULL, NULL, 0, 0);
}

void
kb_respond_errors(struct kb_ctx *ctx, int status, const char *code,
    const char *message, const struct kb_errors *errs)
{
	json_t		*o;

	o = json_object();
	json_object_set_new(o, "error", json_string(message));
	json_object_set_new(o, "code", json_string(code));
	json_object_set_new(o, "request_id", json_string(ctx->request_id));
	if (errs != NULL && errs->count > 0)
		json_object_set_new(o, "details", kb_errors_json(errs));
	if (status == 401)
		kb_header_set(ctx, "WWW-Authenticate", "Bearer");
	kb_respond_json(ctx, status, o);
}

void
kb_respond_error(struct kb_ctx *ctx, int status, const char *code,
    const char *fmt, ...)
{
	va_list		ap;
	char		msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kb_respond_errors(ctx, status, code, msg, NULL);
}

int
kb_prefer_has(const char *prefer, const char *pref)
{
	const char	*p;
	size_t		 len;

	len = strlen(pref);
	for (p = prefer; p != NULL && (p = strstr(p, pref)) != NULL; p++) {
		if ((p == prefer || p[-1] == ' ' || p[-1] == ',' ||
		    p[-1] == ';') && strchr(",; ", p[len]) != NULL)
			return (1);
	}
	return (0);
}

void
kb_respond_page(struct kb_ctx *ctx, PGresult *res, int64_t offset,
    int count_exact)
{
	char		 range[64], total[24];
	int64_t		 n;

	n = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	(void)snprintf(total, sizeof(total), "%s",
	    count_exact ? PQgetvalue(res, 0, 0) : "*");
	if (n == 0)
		(void)snprintf(range, sizeof(range), "*/%s", total);
	else
		(void)snprintf(range, sizeof(range), "%" PRId64 "-%" PRId64
		    "/%s", offset, offset + n - 1, total);
	kb_header_set(ctx, "Content-Range", range);
	kb_respond_text(ctx, 200, "application/json", PQgetvalue(res, 0, 2),
	    (size_t)PQgetlength(res, 0, 2));
}

struct page_arg {
	int64_t		offset;
	int		count_exact;
};

static void
page_done(struct kb_ctx *ctx, struct kb_db_result *r, void *arg)
{
	struct page_arg	*pg = arg;

	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return;
	}
	kb_respond_page(ctx, r->res, pg->offset, pg->count_exact);
}

void
kb_db_query_page(struct kb_ctx *ctx, struct kb_stmt *stmt, int nparams,
    const char *const *values, int64_t offset, const char *prefer)
{
	struct page_arg	*pg;

	pg = kb_ctx_alloc(ctx, sizeof(*pg));
	pg->offset = offset;
	pg->count_exact = prefer != NULL && kb_prefer_has(prefer, "count=exact");
	kb_db_query(ctx, stmt, nparams, values, page_done, pg);
}

int
kb_db_respond_row(struct kb_ctx *ctx, struct kb_db_result *r, int status)
{
	if (!r->ok) {
		kb_db_respond_failure(ctx, r);
		return (1);
	}
	if (PQntuples(r->res) != 1 || PQgetisnull(r->res, 0, 0))
		return (0);
	kb_respond_text(ctx, status, "application/json",
	    PQgetvalue(r->res, 0, 0), (size_t)PQgetlength(r->res, 0, 0));
	return (1);
}

int
kb_db_error_status(const char *st, int has_credentials, const char **code)
{
	*code = "SQL_ERROR";
	if (strcmp(st, "57014") == 0) {
		*code = "STATEMENT_TIMEOUT";
		return (408);
	}
	if (strcmp(st, "42501") == 0) {
		*code = "INSUFFICIENT_PRIVILEGE";
		/* Without credentials, credentials may help. */
		return (has_credentials ? 403 : 401);
	}
	if (strcmp(st, "23505") == 0 || strcmp(st, "23503") == 0 ||
	    strncmp(st, "40", 2) == 0) {
		*code = "SQL_CONFLICT";
		return (409);
	}
	if (strncmp(st, "53", 2) == 0) {
		*code = "SERVICE_UNAVAILABLE";
		return (503);
	}
	return (400);
}

void
kb_respond_db_error(struct kb_ctx *ctx, const struct kb_db_result *r,
    int status, const char *code)
{
	json_t	*o;

	o = json_object();
	json_object_set_new(o, "error", json_string(r->message));
	json_object_set_new(o, "code", json_string(code));
	json_object_set_new(o, "request_id",
	    json_string(kb_ctx_request_id(ctx)));
	json_object_set_new(o, "message", json_string(r->message));
	json_object_set_new(o, "sqlstate", json_string(r->sqlstate));
	if (*r->detail != '\0')
		json_object_set_new(o, "details", json_string(r->detail));
	json_object_set_new(o, "hint", *r->hint ? json_string(r->hint) :
	    json_null());
	if (status == 503)
		kb_header_set(ctx, "Retry-After", "1");
	if (status == 401)
		kb_header_set(ctx, "WWW-Authenticate", "Bearer");
	kb_respond_json(ctx, status, o);
}
