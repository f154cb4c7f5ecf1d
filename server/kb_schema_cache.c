/*
 * The schema cache: what the Tables API may expose, read from the
 * catalog.
 *
 * Each worker loads the catalog with KB_SCHEMA_CATALOG_SQL through the
 * pool when it starts (asynchronously, retried every second while the
 * database is away), builds an immutable struct kb_catalog
 * (tables/kb_schema.c) and keeps it until DDL changes the catalog: the
 * event trigger of migration 0010 NOTIFYs kb_schema_changed, the pool
 * LISTENs on one connection, and every worker reloads 100 ms after the
 * last notification of a burst (and whenever its LISTEN is re-established,
 * since notifications may have been missed meanwhile) and swaps the
 * pointer.  A request holds the schema it first acquired until it ends;
 * an old schema is freed when its last request ends.
 *
 * Exposed: the schemas of KB_TABLES_SCHEMAS, minus the tables and
 * functions named in KB_TABLES_EXCLUDE (by default korebase's own).
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kb_catalog.h"

#define SCHEMA_CHANNEL		"kb_schema_changed"
#define SCHEMA_DEBOUNCE_MS	100
#define SCHEMA_RETRY_MS		1000
#define SCHEMA_WAIT_MS		2000	/* a request waits this long */
#define SCHEMA_TICK_MS		100

struct kb_schema_waiter {
	struct kb_ctx			*ctx;
	kb_schema_cb			 cb;
	void				*arg;
	u_int64_t			 deadline;
	TAILQ_ENTRY(kb_schema_waiter)	 list;
};

static void	schema_load(void);
static void	schema_loaded(struct kb_db_result *, void *);
static void	schema_later(u_int64_t);
static void	schema_timer(void *, u_int64_t);
static void	schema_tick(void *, u_int64_t);
static void	schema_notified(const char *, void *);
static void	schema_filter(json_t *, const char *);
static int	schema_excluded(const char *, const char *);
static void	schema_wake(void);

static struct kb_stmt		 catalog_stmt = KB_STMT_RO(KB_SCHEMA_CATALOG_SQL);
static struct kb_catalog		*current;
static u_int64_t		 version;
static u_int64_t		 load_start;
static int			 loading;
static int			 again;		/* DDL while loading */
static struct kore_timer	*timer;		/* a reload is due */
static u_int64_t		 timer_at;
static char			*schemas_param;	/* text[] literal */
static char			**excl;
static size_t			 nexcl;
static TAILQ_HEAD(, kb_schema_waiter) waiters =
    TAILQ_HEAD_INITIALIZER(waiters);

/* Split a comma-separated list, trimming blanks; empty items dropped. */
static char **
split_list(const char *list, size_t *n)
{
	char		**v, *copy, *p, *item;
	size_t		 len;

	copy = kore_strdup(list);
	v = kore_calloc(strlen(list) / 2 + 2, sizeof(char *));
	*n = 0;
	for (p = copy; (item = strsep(&p, ",")) != NULL;) {
		item += strspn(item, " \t");
		len = strlen(item);
		while (len > 0 && (item[len - 1] == ' ' || item[len - 1] == '\t'))
			item[--len] = '\0';
		if (len > 0)
			v[(*n)++] = kore_strdup(item);
	}
	kore_free(copy);
	return (v);
}

void
kb_schema_cache_init(void)
{
	struct kore_buf	 buf;
	char		**names;
	size_t		 i, n;
	const char	*c;

	/* KB_TABLES_SCHEMAS as a text[] literal: {"public","api"}. */
	names = split_list(kb_config.tables_schemas, &n);
	kore_buf_init(&buf, 64);
	kore_buf_append(&buf, "{", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			kore_buf_append(&buf, ",", 1);
		kore_buf_append(&buf, "\"", 1);
		for (c = names[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				kore_buf_append(&buf, "\\", 1);
			kore_buf_append(&buf, c, 1);
		}
		kore_buf_append(&buf, "\"", 1);
		kore_free(names[i]);
	}
	kore_buf_append(&buf, "}", 1);
	kore_free(names);
	schemas_param = kore_buf_stringify(&buf, NULL);
	schemas_param = kore_strdup(schemas_param);
	kore_buf_cleanup(&buf);

	excl = split_list(kb_config.tables_exclude, &nexcl);

	kb_db_listen(SCHEMA_CHANNEL, schema_notified, NULL);
	kore_timer_add(schema_tick, SCHEMA_TICK_MS, NULL, 0);
	schema_load();
}

const struct kb_catalog *
kb_schema_acquire(struct kb_ctx *ctx)
{
	if (ctx->schema == NULL && current != NULL) {
		ctx->schema = current;
		current->refs++;
	}
	return (ctx->schema);
}

void
kb_schema_wait(struct kb_ctx *ctx, kb_schema_cb cb, void *arg)
{
	struct kb_schema_waiter	*w;

	if (ctx->schema != NULL || current != NULL) {
		cb(ctx, kb_schema_acquire(ctx), arg);
		return;
	}
	if (ctx->schema_wait != NULL)
		fatal("kb_schema_wait: the request already waits");
	w = kore_calloc(1, sizeof(*w));
	w->ctx = ctx;
	w->cb = cb;
	w->arg = arg;
	w->deadline = kore_time_ms() + SCHEMA_WAIT_MS;
	ctx->schema_wait = w;
	TAILQ_INSERT_TAIL(&waiters, w, list);
}

int
kb_schema_pending(struct kb_ctx *ctx)
{
	return (ctx->schema_wait != NULL);
}

/* The request ends: stop waiting, give its schema back. */
void
kb_schema_release(struct kb_ctx *ctx)
{
	struct kb_catalog	*s;

	if (ctx->schema_wait != NULL) {
		TAILQ_REMOVE(&waiters, ctx->schema_wait, list);
		kore_free(ctx->schema_wait);
		ctx->schema_wait = NULL;
	}
	if ((s = ctx->schema) != NULL) {
		ctx->schema = NULL;
		if (--s->refs == 0 && s != current)
			kb_schema_free(s);
	}
}

uint64_t
kb_schema_version(void)
{
	return (current != NULL ? current->version : 0);
}

static void
schema_notified(const char *payload, void *arg)
{
	(void)arg;
	(void)payload;		/* NULL: the LISTEN is (back) up */
	schema_later(SCHEMA_DEBOUNCE_MS);
}

/* Reload in `ms`, or sooner if a reload is already due sooner. */
static void
schema_later(u_int64_t ms)
{
	u_int64_t	at;

	at = kore_time_ms() + ms;
	if (timer != NULL) {
		if (timer_at <= at)
			return;
		kore_timer_remove(timer);
	}
	timer_at = at;
	timer = kore_timer_add(schema_timer, ms, NULL, 1);
}

static void
schema_timer(void *arg, u_int64_t now)
{
	(void)arg;
	(void)now;
	timer = NULL;
	schema_load();
}

static void
schema_load(void)
{
	const char	*vals[1];

	if (loading) {
		again = 1;
		return;
	}
	loading = 1;
	again = 0;
	load_start = kore_time_ms();
	vals[0] = schemas_param;
	kb_db_query_internal(&catalog_stmt, 1, vals, schema_loaded, NULL);
}

static void
schema_loaded(struct kb_db_result *r, void *arg)
{
	struct kb_catalog	*s, *old;
	json_error_t		 jerr;
	json_t			*doc;
	char			 err[256];

	(void)arg;
	loading = 0;
	if (!r->ok || PQntuples(r->res) != 1) {
		if (!r->unavailable)
			kb_log("warning", "schema cache: the catalog query "
			    "failed: %s (%s)", r->message, r->sqlstate);
		schema_later(SCHEMA_RETRY_MS);
		return;
	}
	if ((doc = json_loads(PQgetvalue(r->res, 0, 0), 0, &jerr)) == NULL) {
		kb_log("error", "schema cache: the catalog is not JSON: %s",
		    jerr.text);
		schema_later(SCHEMA_RETRY_MS);
		return;
	}
	schema_filter(doc, "tables");
	schema_filter(doc, "functions");
	s = kb_schema_from_json(doc, err, sizeof(err));
	json_decref(doc);
	if (s == NULL) {
		kb_log("error", "schema cache: bad catalog: %s", err);
		schema_later(SCHEMA_RETRY_MS);
		return;
	}
	s->version = ++version;
	s->refs = 0;
	old = current;
	current = s;
	if (old != NULL && old->refs == 0)
		kb_schema_free(old);
	kb_log("info", "schema cache: version %llu, %zu tables, %zu "
	    "functions, loaded in %llu ms", (unsigned long long)s->version,
	    s->ntables, s->nfuncs,
	    (unsigned long long)(kore_time_ms() - load_start));
	schema_wake();
	if (again)
		schema_later(SCHEMA_DEBOUNCE_MS);
}

/* Drop the excluded entries of the catalog document's array `key`. */
static void
schema_filter(json_t *doc, const char *key)
{
	json_t		*arr, *item;
	size_t		 i;

	if (!json_is_array(arr = json_object_get(doc, key)))
		return;
	for (i = 0; i < json_array_size(arr);) {
		item = json_array_get(arr, i);
		if (schema_excluded(json_string_value(json_object_get(item,
		    "schema")), json_string_value(json_object_get(item,
		    "name"))))
			json_array_remove(arr, i);
		else
			i++;
	}
}

static int
schema_excluded(const char *schema, const char *name)
{
	size_t		 i, slen;
	const char	*e;

	if (schema == NULL || name == NULL)
		return (0);
	slen = strlen(schema);
	for (i = 0; i < nexcl; i++) {
		e = excl[i];
		if (strchr(e, '.') == NULL) {
			if (strcmp(e, name) == 0)
				return (1);
		} else if (strncmp(e, schema, slen) == 0 && e[slen] == '.' &&
		    strcmp(e + slen + 1, name) == 0) {
			return (1);
		}
	}
	return (0);
}

/* The first schema is in: every waiting request goes on. */
static void
schema_wake(void)
{
	struct kb_schema_waiter	*w;
	struct kb_ctx		*ctx;

	while ((w = TAILQ_FIRST(&waiters)) != NULL) {
		TAILQ_REMOVE(&waiters, w, list);
		ctx = w->ctx;
		ctx->schema_wait = NULL;
		w->cb(ctx, kb_schema_acquire(ctx), w->arg);
		kore_free(w);
		kb_ctx_settle(ctx);
	}
}

/* Requests that waited too long for the first schema get NULL. */
static void
schema_tick(void *arg, u_int64_t now)
{
	struct kb_schema_waiter	*w, *next;
	struct kb_ctx		*ctx;

	(void)arg;
	for (w = TAILQ_FIRST(&waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, list);
		if (now < w->deadline)
			continue;
		TAILQ_REMOVE(&waiters, w, list);
		ctx = w->ctx;
		ctx->schema_wait = NULL;
		w->cb(ctx, NULL, w->arg);
		kore_free(w);
		kb_ctx_settle(ctx);
	}
}

void
kb_schema_respond_unavailable(struct kb_ctx *ctx)
{
	kb_header_set(ctx, "Retry-After", "1");
	kb_respond_error(ctx, 503, "SERVICE_UNAVAILABLE",
	    "the schema cache is not loaded yet, try again shortly");
}
