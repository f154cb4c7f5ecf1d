/*
 * The Kore module: start-up hooks and the one dispatch entry.
 *
 * kore.conf routes every path to kb_dispatch.  From there the generated
 * router (runtime/kb_router.c over generated tables) finds the path item
 * and operation in time proportional to the path length, the runtime
 * coerces and validates parameters and the body against the compiled
 * schemas, and the generated invoker calls the typed handler.  Every
 * error on the way is the standard JSON error body.
 */

#include <sys/types.h>
#include <sys/random.h>

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/http.h>
#include <kore/seccomp.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kbg_api.h"

int	kb_dispatch(struct http_request *);
void	kore_parent_configure(int, char **);
void	kore_worker_configure(void);
void	kore_worker_teardown(void);

static void	ctx_onfree(struct http_request *);
static void	ctx_request_id(struct kb_ctx *);
static void	ctx_handle(struct kb_ctx *);
static int	ctx_params(struct kb_ctx *, struct kb_errors *);
static int	ctx_body(struct kb_ctx *, struct kb_errors *);
static void	ctx_write(struct kb_ctx *);
static void	ctx_access_log(struct kb_ctx *);
static int	method_of(int);
static int	query_next(const char **, const char *, char **, char **);
static int	percent_decode(char *, int);

/*
 * libpq in a worker connects, reads its service files and polls; tasks
 * are not used.  Everything else stays under Kore's default filter.
 */
KORE_SECCOMP_FILTER("korebase",
	KORE_SYSCALL_ALLOW(socket),
	KORE_SYSCALL_ALLOW(connect),
	KORE_SYSCALL_ALLOW(getsockopt),
	KORE_SYSCALL_ALLOW(setsockopt),
	KORE_SYSCALL_ALLOW(getsockname),
	KORE_SYSCALL_ALLOW(getpeername),
	KORE_SYSCALL_ALLOW(sendto),
	KORE_SYSCALL_ALLOW(recvfrom),
	KORE_SYSCALL_ALLOW(poll),
	KORE_SYSCALL_ALLOW(newfstatat),
	KORE_SYSCALL_ALLOW(openat),
	KORE_SYSCALL_ALLOW(uname),
	KORE_SYSCALL_ALLOW(getuid),
	KORE_SYSCALL_ALLOW(geteuid),
	KORE_SYSCALL_ALLOW(getrandom),
	KORE_SYSCALL_ALLOW(rt_sigaction),
	KORE_SYSCALL_ALLOW(rt_sigprocmask),
	KORE_SYSCALL_ALLOW(lseek),
	KORE_SYSCALL_ALLOW(ioctl),
	KORE_SYSCALL_ALLOW(sysinfo),
	/* Helper threads (kb_work.c); glibc falls back from clone3. */
	KORE_SYSCALL_DENY(clone3, ENOSYS),
	KORE_SYSCALL_ALLOW(clone),
	KORE_SYSCALL_ALLOW(futex),
	KORE_SYSCALL_ALLOW(set_robust_list),
	KORE_SYSCALL_ALLOW(rseq),
	KORE_SYSCALL_ALLOW(mprotect),
	KORE_SYSCALL_ALLOW(madvise),
	KORE_SYSCALL_ALLOW(eventfd2),
	KORE_SYSCALL_ALLOW(sched_yield),
	KORE_SYSCALL_ALLOW(setpriority),
	/* What AddressSanitizer's thread start-up asks for (make test-asan). */
	KORE_SYSCALL_ALLOW(gettid),
	KORE_SYSCALL_ALLOW(sched_getaffinity),
	KORE_SYSCALL_ALLOW(sigaltstack),
	/*
	 * The mail sender thread (kb_mail.c): libcurl 7.88 can make a
	 * wake-up socketpair for a multi handle (the curl command does,
	 * under strace; our easy-handle sends passed without it).  Allowed
	 * so such a path cannot kill a worker.  Everything else it and the
	 * sender's blocking libpq connection use is allowed above.
	 */
	KORE_SYSCALL_ALLOW(socketpair),
);

static const struct kb_api	*api = &kbg_api;

void
kore_parent_configure(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kb_config_load();
	kb_auth_init();
}

static void
log_tick(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;
	kb_log_flush();
}

void
kore_worker_configure(void)
{
	kb_config_load();
	kb_auth_init();
	kb_static_init();
	kb_db_init();
	kb_schema_cache_init();
	kb_work_init();
	kb_mail_init();
	kb_janitor_init();
	kore_timer_add(log_tick, KB_LOG_FLUSH_MS, NULL, 0);
}

#define KB_TEARDOWN_MAX		8

static void	(*teardown_fns[KB_TEARDOWN_MAX])(void);
static int	  teardown_n;

void
kb_on_teardown(void (*fn)(void))
{
	int	i;

	for (i = 0; i < teardown_n; i++) {
		if (teardown_fns[i] == fn)
			return;
	}
	if (teardown_n == KB_TEARDOWN_MAX)
		fatal("kb_on_teardown: more than %d", KB_TEARDOWN_MAX);
	teardown_fns[teardown_n++] = fn;
}

void
kore_worker_teardown(void)
{
	int	i;

	for (i = 0; i < teardown_n; i++)
		teardown_fns[i]();
	kb_mail_shutdown();
	kb_db_shutdown();
	kb_work_shutdown();
	kb_log_flush();
}

/*
 * The single route.  First call: build the context and run the handler.
 * The handler may answer at once or start database work; while that is
 * in flight the request sleeps and Kore calls us again once it is woken.
 */
int
kb_dispatch(struct http_request *req)
{
	struct kb_ctx	*ctx;

	if ((ctx = req->hdlr_extra) == NULL) {
		ctx = kore_malloc(sizeof(*ctx));
		memset(ctx, 0, offsetof(struct kb_ctx, inline_arena));
		ctx->req = req;
		ctx->start_us = kb_now_us();
		TAILQ_INIT(&ctx->queries);
		TAILQ_INIT(&ctx->jobs);
		req->hdlr_extra = ctx;
		req->onfree = ctx_onfree;
		ctx_request_id(ctx);
		ctx_handle(ctx);
	}

	if (kb_stream_pending(ctx)) {
		/* A streamed response: it wakes the request when it is over. */
		ctx->sleeping = 1;
		http_request_sleep(req);
		return (KORE_RESULT_RETRY);
	}
	if (!ctx->responded) {
		if (kb_db_pending(ctx) || kb_work_pending(ctx) ||
		    kb_schema_pending(ctx)) {
			ctx->sleeping = 1;
			http_request_sleep(req);
			return (KORE_RESULT_RETRY);
		}
		kb_log("error", "%s %s: the handler did not respond",
		    ctx->op ? ctx->op->operation_id : "-", req->path);
		kb_respond_error(ctx, 500, "INTERNAL",
		    "the server failed to answer this request");
	}

	if (!kb_stream_end(ctx))
		ctx_write(ctx);
	ctx_access_log(ctx);
	return (KORE_RESULT_OK);
}

/*
 * Something this request waited for finished: run it again if it has
 * answered or has nothing left in flight (kb_dispatch then answers 500 if
 * the handler forgot to respond).
 */
void
kb_ctx_settle(struct kb_ctx *ctx)
{
	if (ctx->sleeping && !kb_stream_pending(ctx) && (ctx->responded ||
	    (!kb_db_pending(ctx) && !kb_work_pending(ctx) &&
	    !kb_schema_pending(ctx))))
		kb_ctx_wakeup(ctx);
}

void
kb_ctx_wakeup(struct kb_ctx *ctx)
{
	if (ctx->sleeping) {
		ctx->sleeping = 0;
		http_request_wakeup(ctx->req);
	}
}

static void
ctx_onfree(struct http_request *req)
{
	struct kb_ctx	*ctx;

	if ((ctx = req->hdlr_extra) != NULL) {
		req->hdlr_extra = NULL;
		kb_ctx_free(ctx);
	}
}

/*
 * Echo a sane client X-Request-Id, else make one: req_ + 24 hex digits,
 * a per-worker random prefix and a counter, unique without a syscall.
 */
static void
ctx_request_id(struct kb_ctx *ctx)
{
	static const char	 hex[] = "0123456789abcdef";
	static u_int64_t	 prefix, counter;
	const char		*v;
	size_t			 i, len;

	if (http_request_header(ctx->req, "x-request-id", &v)) {
		len = strlen(v);
		for (i = 0; i < len; i++) {
			if (!isalnum((unsigned char)v[i]) && v[i] != '-' &&
			    v[i] != '_' && v[i] != '.' && v[i] != ':')
				break;
		}
		if (len > 0 && len <= KB_REQUEST_ID_MAX && i == len) {
			memcpy(ctx->request_id, v, len + 1);
			return;
		}
	}
	if (prefix == 0) {
		arc4random_buf(&prefix, sizeof(prefix));
		arc4random_buf(&counter, sizeof(counter));
		prefix |= 1;
	}
	counter++;
	memcpy(ctx->request_id, "req_", 4);
	for (i = 0; i < 8; i++)
		ctx->request_id[4 + i] = hex[(prefix >> (60 - i * 4)) & 0xf];
	for (i = 0; i < 16; i++)
		ctx->request_id[12 + i] = hex[(counter >> (60 - i * 4)) & 0xf];
	ctx->request_id[28] = '\0';
}

static int
method_of(int kore_method)
{
	switch (kore_method) {
	case HTTP_METHOD_GET:
		return (KB_M_GET);
	case HTTP_METHOD_POST:
		return (KB_M_POST);
	case HTTP_METHOD_PUT:
		return (KB_M_PUT);
	case HTTP_METHOD_DELETE:
		return (KB_M_DELETE);
	case HTTP_METHOD_HEAD:
		return (KB_M_HEAD);
	case HTTP_METHOD_OPTIONS:
		return (KB_M_OPTIONS);
	case HTTP_METHOD_PATCH:
		return (KB_M_PATCH);
	default:
		return (-1);
	}
}

/* Route, validate, invoke. */
static void
ctx_handle(struct kb_ctx *ctx)
{
	struct http_request	*req = ctx->req;
	const struct kb_op	*op;
	int			 m;

#if defined(KB_TEST)
	/* Test-only routes (server/kb_test.c), never in the shipped module. */
	if (strncmp(req->path, "/__test/", 8) == 0) {
		kb_test_handle(ctx);
		return;
	}
#endif
	if (!kb_route_match(api, req->path, strlen(req->path), &ctx->match)) {
		kb_respond_error(ctx, 404, "NOT_FOUND",
		    "no route for %s", req->path);
		return;
	}

	op = NULL;
	if ((m = method_of(req->method)) != -1) {
		op = ctx->match.item->ops[m];
		if (op == NULL && m == KB_M_HEAD)
			op = ctx->match.item->ops[KB_M_GET];
	}
	if (op == NULL) {
		if (m == KB_M_OPTIONS) {
			kb_header_set(ctx, "Allow", ctx->match.item->allow);
			kb_respond_empty(ctx, 204);
			return;
		}
		kb_header_set(ctx, "Allow", ctx->match.item->allow);
		kb_respond_error(ctx, 405, "METHOD_NOT_ALLOWED",
		    "%s is not allowed on %s; allowed: %s",
		    http_method_text(req->method), ctx->match.item->path,
		    ctx->match.item->allow);
		return;
	}
	ctx->op = op;
	switch (kb_auth_gate(ctx)) {
	case KB_GATE_GO:
		kb_ctx_proceed(ctx);
		break;
	case KB_GATE_WAIT:		/* a key or tenant lookup in flight */
	case KB_GATE_DONE:		/* 401, 403 or 503 */
	default:
		break;
	}
}

/* Validate and invoke, once the gate has let the request through. */
void
kb_ctx_proceed(struct kb_ctx *ctx)
{
	const struct kb_op	*op = ctx->op;
	struct kb_errors	 errs;
	int			 rc;

	kb_errors_init(&errs);
	if (op->nparams > 0)
		ctx->params = json_object();
	if (!ctx_params(ctx, &errs) || !ctx_body(ctx, &errs)) {
		kb_errors_clear(&errs);
		return;			/* already answered (400/413/415) */
	}
	if (errs.count > 0) {
		kb_respond_errors(ctx, 400, "VALIDATION_FAILED",
		    errs.count == 1 ? errs.items[0].message :
		    "the request is invalid", &errs);
		kb_errors_clear(&errs);
		return;
	}
	kb_errors_clear(&errs);

	rc = op->invoke(ctx, ctx->params, ctx->body);
	switch (rc) {
	case KB_INVOKE_OK:
		break;
	case KB_INVOKE_MISSING:
		kb_respond_error(ctx, 501, "NOT_IMPLEMENTED",
		    "%s is not implemented yet", op->operation_id);
		break;
	default:
		kb_log("error", "%s: validated input failed to decode",
		    op->operation_id);
		kb_respond_error(ctx, 500, "INTERNAL",
		    "the request could not be processed");
		break;
	}
}

/* "/<in>/<name>", the JSON pointer errors name: per parameter, no printf. */
static void
param_pointer(char *buf, size_t len, const char *in, const char *name)
{
	size_t	n;

	(void)kore_strlcpy(buf, in, len);
	n = strlen(buf);
	(void)kore_strlcpy(buf + n, name, len - n);
}

/*
 * Collect, decode, coerce and validate every declared parameter.  All
 * failures go to `errs`.  Returns 0 only when it already answered.
 */
static int
ctx_params(struct kb_ctx *ctx, struct kb_errors *errs)
{
	const struct kb_param	*p;
	const struct kb_path_item *item = ctx->match.item;
	const char		*qs, *hv;
	char			 ptr[300], *key, *val, *raw;
	json_t			*v;
	size_t			 i, j, len;

	for (i = 0; i < ctx->op->nparams; i++) {
		p = &ctx->op->params[i];
		v = NULL;
		switch (p->in) {
		case KB_IN_PATH:
			param_pointer(ptr, sizeof(ptr), "/path/", p->name);
			for (j = 0; j < item->nparam_names; j++) {
				if (strcmp(item->param_names[j], p->name) == 0)
					break;
			}
			if (j == item->nparam_names || j >= ctx->match.ncaptures)
				break;
			len = ctx->match.captures[j].len;
			raw = kb_ctx_alloc(ctx, len + 1);
			memcpy(raw, ctx->match.captures[j].ptr, len);
			if (!percent_decode(raw, 0)) {
				kb_errors_add(errs, ptr,
				    "is not valid percent-encoding");
				continue;
			}
			v = kb_param_coerce(p, raw, strlen(raw), NULL, ptr,
			    errs);
			if (v == NULL)
				continue;
			break;
		case KB_IN_QUERY:
			param_pointer(ptr, sizeof(ptr), "/query/", p->name);
			qs = ctx->req->query_string;
			while (qs != NULL && query_next(&qs,
			    p->name, &key, &val)) {
				if (val == NULL) {
					kb_errors_add(errs, ptr,
					    "is not valid percent-encoding");
					free(key);
					break;
				}
				v = kb_param_coerce(p, val, strlen(val), v,
				    ptr, errs);
				free(key);
				free(val);
				if (v == NULL)
					break;
				if (!p->explode || !json_is_array(v))
					break;
				json_decref(v);	/* coerce added a ref */
			}
			break;
		case KB_IN_HEADER:
			param_pointer(ptr, sizeof(ptr), "/header/", p->name);
			if (http_request_header(ctx->req, p->name, &hv))
				v = kb_param_coerce(p, hv, strlen(hv), NULL,
				    ptr, errs);
			break;
		case KB_IN_COOKIE:
			(void)snprintf(ptr, sizeof(ptr), "/cookie/%s", p->name);
			break;
		}
		if (v == NULL) {
			if (p->required && !json_object_get(ctx->params,
			    p->name))
				kb_errors_add(errs, ptr, "is required");
			continue;
		}
		if (p->schema != NULL)
			kb_validate(p->schema, v, ptr, errs);
		json_object_set_new(ctx->params, p->name, v);
	}
	return (1);
}

/*
 * Find the next query argument named `name` in *qs, advancing *qs.  On a
 * match sets *key and *val to decoded copies (free them) and returns 1;
 * *val is NULL if it was badly encoded.  Returns 0 at the end.
 */
static int
query_next(const char **qs, const char *name, char **key, char **val)
{
	const char	*p, *end, *eq;

	for (p = *qs; *p != '\0'; p = (*end == '&') ? end + 1 : end) {
		end = p + strcspn(p, "&");
		eq = memchr(p, '=', end - p);
		*key = strndup(p, (eq ? eq : end) - p);
		if (*key == NULL)
			fatal("query_next: out of memory");
		if (!percent_decode(*key, 1) || strcmp(*key, name) != 0) {
			free(*key);
			continue;
		}
		*val = eq ? strndup(eq + 1, end - eq - 1) : strdup("");
		if (*val == NULL)
			fatal("query_next: out of memory");
		if (!percent_decode(*val, 1)) {
			free(*val);
			*val = NULL;
		}
		*qs = (*end == '&') ? end + 1 : end;
		return (1);
	}
	*qs = p;
	return (0);
}

int
kb_ctx_query_each(struct kb_ctx *ctx,
    int (*fn)(const char *, const char *, void *), void *arg)
{
	const char	*p, *end, *eq;
	char		*key, *val;
	int		 rc;

	if ((p = ctx->req->query_string) == NULL)
		return (0);
	for (; *p != '\0'; p = (*end == '&') ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if (end == p)
			continue;
		eq = memchr(p, '=', end - p);
		key = kb_ctx_alloc(ctx, (size_t)(end - p) + 2);
		memcpy(key, p, (size_t)((eq ? eq : end) - p));
		val = key + ((eq ? eq : end) - p) + 1;
		if (eq != NULL)
			memcpy(val, eq + 1, (size_t)(end - eq - 1));
		if (!percent_decode(key, 1) || !percent_decode(val, 1))
			return (-1);
		if ((rc = fn(key, val, arg)) != 0)
			return (rc);
	}
	return (0);
}

/* Decode %XX (and '+' as space when `plus`) in place; 0 if malformed. */
static int
percent_decode(char *s, int plus)
{
	char		*w;
	int		 hi, lo;

	for (w = s; *s != '\0'; s++) {
		if (*s == '%') {
			if (!isxdigit((unsigned char)s[1]) ||
			    !isxdigit((unsigned char)s[2]))
				return (0);
			hi = isdigit((unsigned char)s[1]) ? s[1] - '0' :
			    (tolower((unsigned char)s[1]) - 'a' + 10);
			lo = isdigit((unsigned char)s[2]) ? s[2] - '0' :
			    (tolower((unsigned char)s[2]) - 'a' + 10);
			if (hi == 0 && lo == 0)
				return (0);	/* no NULs inside strings */
			*w++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (*s == '+' && plus) {
			*w++ = ' ';
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
	return (1);
}

static int
media_matches(const char *declared, const char *ctype, size_t len)
{
	return (strlen(declared) == len &&
	    strncasecmp(declared, ctype, len) == 0);
}

static int
media_is_json(const char *ctype, size_t len)
{
	return ((len == 16 && strncasecmp(ctype, "application/json", 16) == 0) ||
	    (len > 5 && strncasecmp(ctype + len - 5, "+json", 5) == 0));
}

/*
 * Check the body's media type and size, parse JSON bodies and validate
 * them.  Returns 0 when it answered (413, 415, malformed JSON).
 */
static int
ctx_body(struct kb_ctx *ctx, struct kb_errors *errs)
{
	const struct kb_body	*b = ctx->op->body;
	struct http_request	*req = ctx->req;
	json_error_t		 jerr;
	const char		*ctype;
	size_t			 i, len;
	ssize_t			 n;
	int			 ok;

	if (b == NULL)
		return (1);

	if (req->content_length == 0) {
		if (b->required)
			kb_errors_add(errs, "/body", "a request body is required");
		return (1);
	}

	if (!http_request_header(req, "content-type", &ctype))
		ctype = "";
	len = strcspn(ctype, ";");
	while (len > 0 && ctype[len - 1] == ' ')
		len--;
	ok = 0;
	for (i = 0; i < b->nmedia_types && !ok; i++)
		ok = media_matches(b->media_types[i], ctype, len);
	if (!ok) {
		kb_respond_error(ctx, 415, "UNSUPPORTED_MEDIA_TYPE",
		    "Content-Type %.*s is not accepted here; send %s",
		    (int)len, len ? ctype : "(none)", b->media_types[0]);
		return (0);
	}

	if (!media_is_json(ctype, len) || b->schema == NULL)
		return (1);

	if (req->content_length > kb_config.body_max) {
		kb_respond_error(ctx, 413, "PAYLOAD_TOO_LARGE",
		    "the request body is %zu bytes; the limit is %zu",
		    req->content_length, kb_config.body_max);
		return (0);
	}

	ctx->body_buf = malloc(req->content_length + 1);
	if (ctx->body_buf == NULL)
		fatal("ctx_body: out of memory");
	len = 0;
	if (!http_body_rewind(req))
		fatal("ctx_body: cannot rewind the body");
	while (len < req->content_length) {
		n = http_body_read(req, ctx->body_buf + len,
		    req->content_length - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}

	ctx->body = json_loadb(ctx->body_buf, len,
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (ctx->body == NULL) {
		struct kb_errors	one;

		kb_errors_init(&one);
		kb_errors_add(&one, "/body", "line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		kb_respond_errors(ctx, 400, "INVALID_JSON",
		    "the request body is not valid JSON", &one);
		kb_errors_clear(&one);
		return (0);
	}
	kb_validate(b->schema, ctx->body, "/body", errs);
	return (1);
}

/* The response headers: the request id, the handler's, Content-Type. */
void
kb_ctx_write_headers(struct kb_ctx *ctx, const char *ctype)
{
	struct http_request	*req = ctx->req;
	size_t			 i;

	http_response_header(req, "x-request-id", ctx->request_id);
	for (i = 0; i < ctx->nheaders; i++)
		http_response_header(req, ctx->headers[i].name,
		    ctx->headers[i].value);
	if (ctype != NULL)
		http_response_header(req, "content-type", ctype);
}

static void
ctx_write(struct kb_ctx *ctx)
{
	kb_ctx_write_headers(ctx, ctx->resp_ctype);
	http_response(ctx->req, ctx->status, ctx->resp_body, ctx->resp_len);
}

/* A bounded string builder for the access log line: no printf. */
struct line {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
line_add(struct line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len)
		n = l->cap - l->len;
	memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void
line_str(struct line *l, const char *s)
{
	line_add(l, s, strlen(s));
}

/* Decimal `v`. */
static void
line_num(struct line *l, u_int64_t v)
{
	char	d[24];
	int	i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	line_add(l, d + i, sizeof(d) - (size_t)i);
}

/* Microseconds as milliseconds with three decimals: 1234 -> "1.234". */
static void
line_ms(struct line *l, u_int64_t us)
{
	char	frac[4];

	line_num(l, us / 1000);
	frac[0] = '.';
	frac[1] = (char)('0' + us / 100 % 10);
	frac[2] = (char)('0' + us / 10 % 10);
	frac[3] = (char)('0' + us % 10);
	line_add(l, frac, sizeof(frac));
}

static void
ctx_access_log(struct kb_ctx *ctx)
{
	char		 buf[1024], path[512];
	struct line	 l = { buf, 0, sizeof(buf) - 1 };
	struct timespec	 now;
	u_int64_t	 now_us;

	if (!kb_config.access_log)
		return;
	/* One clock read for both the timestamp and the duration. */
	(void)clock_gettime(CLOCK_REALTIME, &now);
	now_us = (u_int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	kb_json_escape(ctx->req->path, path, sizeof(path));
	line_str(&l, "{\"ts\":\"");
	line_str(&l, kb_log_time_at(&now));
	line_str(&l, "\",\"level\":\"info\",\"msg\":\"access\",\"request_id\":\"");
	line_str(&l, ctx->request_id);
	line_str(&l, "\",\"method\":\"");
	line_str(&l, http_method_text(ctx->req->method));
	line_str(&l, "\",\"path\":\"");
	line_str(&l, path);
	line_str(&l, "\",\"operation\":\"");
	line_str(&l, ctx->op ? ctx->op->operation_id : "");
	line_str(&l, "\",\"status\":");
	line_num(&l, (u_int64_t)ctx->status);
	line_str(&l, ",\"bytes\":");
	line_num(&l, ctx->resp_len);
	line_str(&l, ",\"duration_ms\":");
	line_ms(&l, now_us - ctx->start_us);
	line_str(&l, "}\n");
	kb_log_buffered(buf, l.len);
}
