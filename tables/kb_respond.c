/*
 * korebase tables: the HTTP response to a plan's result, and database
 * errors as PostgREST maps them.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_arena.h"
#include "kb_tables.h"

static void
add_header(struct kb_tables_response *r, const char *name, const char *v)
{
	if (v == NULL || r->nheaders == KB_TABLES_MAX_HEADERS)
		return;
	r->headers[r->nheaders].name = name;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
}

static long long
to_ll(const char *s, long long dflt)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return (dflt);
	errno = 0;
	v = strtoll(s, &end, 10);
	/* Past 10^15 it is not a row count (and could overflow below). */
	if (errno != 0 || *end != '\0' || v < 0 || v > 1000000000000000LL)
		return (dflt);
	return (v);
}

/* "Plan Rows" of EXPLAIN (FORMAT JSON), -1 if it is not there. */
static long long
plan_rows(const char *plan)
{
	json_t		*doc, *v;
	long long	 n = -1;

	if (plan == NULL || (doc = json_loads(plan, 0, NULL)) == NULL)
		return (-1);
	v = json_object_get(json_object_get(json_array_get(doc, 0), "Plan"),
	    "Plan Rows");
	if (json_is_number(v) && json_number_value(v) >= 0 &&
	    json_number_value(v) < 1e15)
		n = (long long)json_number_value(v);
	json_decref(doc);
	return (n);
}

static void
fail(struct kb_tables_response *r, int status, const char *code,
    const char *details, const char *msg)
{
	r->status = status;
	r->is_error = 1;
	r->body = NULL;
	r->body_len = 0;
	kb_tables_fail(&r->error, status, code, details, "%s", msg);
}

static const char *
content_type(enum kb_tables_format f)
{
	switch (f) {
	case KB_TABLES_OBJECT:
		return ("application/vnd.pgrst.object+json; charset=utf-8");
	case KB_TABLES_CSV:
		return ("text/csv; charset=utf-8");
	default:
		return ("application/json; charset=utf-8");
	}
}

/* Percent-encode a query value (unreserved characters stay). */
static void
url_encode(struct kb_sbuf *sb, const char *s)
{
	for (; *s != '\0'; s++) {
		if (isalnum((unsigned char)*s) || strchr("-._~", *s) != NULL)
			kb_sbuf_putc(sb, *s);
		else
			kb_sbuf_printf(sb, "%%%02X", (unsigned char)*s);
	}
}

/* <prefix>?pk=eq.v&... from the location column, or NULL. */
static const char *
location(struct kb_tables_plan *p, const char *loc)
{
	struct kb_sbuf	 sb;
	json_t		*doc, *v;
	char		*s;
	size_t		 i;

	if (loc == NULL || (doc = json_loads(loc, 0, NULL)) == NULL)
		return (NULL);
	if (!json_is_array(doc) || json_array_size(doc) != p->table->npk) {
		json_decref(doc);
		return (NULL);
	}
	kb_sbuf_init(&sb, p->arena);
	kb_sbuf_puts(&sb, p->location_prefix);
	/* A table name may hold any character, CR and LF included. */
	url_encode(&sb, p->table->name);
	json_array_foreach(doc, i, v) {
		kb_sbuf_putc(&sb, i ? '&' : '?');
		url_encode(&sb, p->table->pk[i]->name);
		kb_sbuf_puts(&sb, "=eq.");
		if (json_is_string(v)) {
			url_encode(&sb, json_string_value(v));
		} else {
			s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			url_encode(&sb, s ? s : "null");
			free(s);
		}
	}
	json_decref(doc);
	return (kb_sbuf_str(&sb));
}

/* lower-upper/total as PostgREST writes it. */
static const char *
content_range(struct kb_tables_plan *p, long long lower, long long n,
    long long total)
{
	struct kb_sbuf	sb;

	kb_sbuf_init(&sb, p->arena);
	if (total != 0 && n > 0)
		kb_sbuf_printf(&sb, "%lld-%lld", lower, lower + n - 1);
	else
		kb_sbuf_putc(&sb, '*');
	if (total >= 0)
		kb_sbuf_printf(&sb, "/%lld", total);
	else
		kb_sbuf_puts(&sb, "/*");
	return (kb_sbuf_str(&sb));
}

void
kb_tables_respond(struct kb_tables_plan *p,
    const struct kb_tables_result *res, struct kb_tables_response *r)
{
	long long	 n, total = -1, planned;
	const char	*body = res->body;
	char		 details[128];

	memset(r, 0, sizeof(*r));
	n = to_ll(res->page_total, 0);
	if (p->count != KB_COUNT_NONE)
		total = to_ll(res->total, -1);
	if (p->count == KB_COUNT_PLANNED ||
	    (p->count == KB_COUNT_ESTIMATED &&
	    total > KB_TABLES_ESTIMATE_LIMIT)) {
		planned = plan_rows(res->plan);
		if (planned >= 0)
			total = planned > total ? planned : total;
	}
	add_header(r, "Preference-Applied", p->applied);

	if (p->by_id && n == 0) {
		fail(r, 404, "KB_NOT_FOUND", NULL, "no row with this id");
		return;
	}
	if (p->format == KB_TABLES_OBJECT && n != 1) {
		snprintf(details, sizeof(details), "The result contains %lld "
		    "rows", n);
		fail(r, 406, "PGRST116", details, "JSON object requested, "
		    "multiple (or no) rows returned");
		return;
	}

	if (p->method == KB_TABLES_GET || p->method == KB_TABLES_HEAD) {
		r->status = 200;
		if (!p->by_id) {
			if (total >= 0 && p->offset > total) {
				snprintf(details, sizeof(details), "An offset "
				    "of %lld was requested, but there are only "
				    "%lld rows.", p->offset, total);
				fail(r, 416, "PGRST103", details,
				    "Requested range not satisfiable");
				add_header(r, "Content-Range",
				    content_range(p, p->offset, 0, total));
				return;
			}
			if (total >= 0 && n < total)
				r->status = 206;
			add_header(r, "Content-Range",
			    content_range(p, p->offset, n, total));
		}
		add_header(r, "Content-Type", content_type(p->format));
		if (p->method == KB_TABLES_GET && body != NULL) {
			r->body = body;
			r->body_len = strlen(body);
		}
		return;
	}

	/* Writes. */
	if (p->method == KB_TABLES_POST)
		r->status = 201;
	else if (p->ret == KB_RETURN_REPRESENTATION)
		r->status = 200;
	else
		r->status = 204;
	if (p->method == KB_TABLES_POST && n == 1 &&
	    p->ret == KB_RETURN_HEADERS)
		add_header(r, "Location", location(p, res->location));
	if (p->count != KB_COUNT_NONE)
		add_header(r, "Content-Range", content_range(p, 0,
		    p->ret == KB_RETURN_REPRESENTATION ? n : 0, n));
	if (p->ret == KB_RETURN_REPRESENTATION && body != NULL) {
		add_header(r, "Content-Type", content_type(p->format));
		r->body = body;
		r->body_len = strlen(body);
	}
}

int
kb_tables_error_status(const char *s, int is_anon)
{
	if (s == NULL || strlen(s) != 5)
		return (500);
	if (strncmp(s, "PT", 2) == 0 && isdigit((unsigned char)s[2]) &&
	    isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4])) {
		int st = atoi(s + 2);

		return (st >= 100 && st <= 599 ? st : 500);
	}
	if (strcmp(s, "23503") == 0 || strcmp(s, "23505") == 0)
		return (409);
	if (strcmp(s, "25006") == 0)
		return (405);
	if (strcmp(s, "42501") == 0)
		return (is_anon ? 401 : 403);
	if (strcmp(s, "42883") == 0 || strcmp(s, "42P01") == 0)
		return (404);
	if (strcmp(s, "42P17") == 0)
		return (500);
	if (strcmp(s, "P0001") == 0)
		return (400);
	if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 ||
	    strncmp(s, "57P", 3) == 0)
		return (503);
	/*
	 * Where PostgREST answers 500 for what a client's request can
	 * cause, korebase answers 4xx (no input may cause a 500): a
	 * statement timeout 408, serialization failures, deadlocks and
	 * locks not available 409 (retry), program limits (too many
	 * columns, too complex) 400, PL/pgSQL errors a function raises
	 * (no data, too many rows, assert) 400.
	 */
	if (strcmp(s, "57014") == 0)
		return (408);
	if (strncmp(s, "40", 2) == 0 || strncmp(s, "55", 2) == 0)
		return (409);
	if (strncmp(s, "54", 2) == 0 || strncmp(s, "P0", 2) == 0)
		return (400);
	if (strncmp(s, "0L", 2) == 0 || strncmp(s, "0P", 2) == 0 ||
	    strncmp(s, "28", 2) == 0)
		return (403);
	if (strncmp(s, "09", 2) == 0 || strncmp(s, "25", 2) == 0 ||
	    strncmp(s, "2D", 2) == 0 || strncmp(s, "38", 2) == 0 ||
	    strncmp(s, "39", 2) == 0 || strncmp(s, "3B", 2) == 0 ||
	    strncmp(s, "40", 2) == 0 || strncmp(s, "54", 2) == 0 ||
	    strncmp(s, "55", 2) == 0 || strncmp(s, "57", 2) == 0 ||
	    strncmp(s, "58", 2) == 0 || strncmp(s, "F0", 2) == 0 ||
	    strncmp(s, "HV", 2) == 0 || strncmp(s, "P0", 2) == 0 ||
	    strncmp(s, "XX", 2) == 0)
		return (500);
	return (400);
}

void
kb_tables_pg_error(struct kb_tables_error *err, const char *sqlstate,
    const char *message, const char *detail, const char *hint, int is_anon)
{
	kb_tables_fail(err, kb_tables_error_status(sqlstate, is_anon),
	    sqlstate ? sqlstate : "XX000", detail, "%s",
	    message ? message : "database error");
	if (hint != NULL)
		snprintf(err->hint, sizeof(err->hint), "%s", hint);
}

/*
 * A JSON string of s, null when empty.  Messages quote input cut at a
 * byte count, which may split a UTF-8 sequence: bytes that do not make
 * valid UTF-8 become '?'.
 */
static json_t *
jstr(const char *s)
{
	json_t	*j;
	char	*copy, *p;

	if (s[0] == '\0')
		return (json_null());
	if ((j = json_string(s)) != NULL)
		return (j);
	if ((copy = strdup(s)) == NULL)
		abort();
	for (p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	j = json_string(copy);
	free(copy);
	return (j != NULL ? j : json_null());
}

json_t *
kb_tables_error_json(const struct kb_tables_error *err)
{
	json_t	*o;

	o = json_object();
	json_object_set_new(o, "code", jstr(err->code));
	json_object_set_new(o, "message", jstr(err->message));
	json_object_set_new(o, "details", jstr(err->details));
	json_object_set_new(o, "hint", jstr(err->hint));
	json_object_set_new(o, "error", jstr(err->message));
	return (o);
}
