/*
 * korebase tables: libFuzzer target over the query grammar, the SQL
 * builder and response shaping, with the sample schema of the unit
 * tests (tests/unit/tables/catalog.json, or $KB_FUZZ_CATALOG).
 *
 * Input: a method byte, a flags byte, then newline-separated fields:
 * query string, JSON body, Prefer, Range, Accept.  An input starting
 * with '{' is a catalog document for kb_schema_from_json instead.
 *
 *	make fuzz [FUZZ_SECONDS=60]
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kb_arena.h"
#include "kb_tables.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct kb_catalog	*schema;

static const char *const tables[] = {
	"projects", "clients", "tasks", "line_items", "weird \"name\"",
	"shipments", "active_projects", "project_counts"
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_t		*doc;
	const char	*path;
	char		 err[256];

	if ((path = getenv("KB_FUZZ_CATALOG")) == NULL)
		path = "tests/unit/tables/catalog.json";
	if ((doc = json_load_file(path, 0, NULL)) == NULL ||
	    (schema = kb_schema_from_json(doc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_query: cannot load %s\n", path);
		abort();
	}
	json_decref(doc);
	return (0);
}

/* The next newline-terminated field of [*p, end), NULL when empty. */
static char *
next_field(struct kb_arena *a, const char **p, const char *end)
{
	const char	*s = *p, *nl;

	if (s >= end)
		return (NULL);
	if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
		nl = end;
	*p = nl < end ? nl + 1 : end;
	if (nl == s || memchr(s, '\0', (size_t)(nl - s)) != NULL)
		return (NULL);
	return (kb_arena_strndup(a, s, (size_t)(nl - s)));
}

static void
fuzz_catalog(const uint8_t *data, size_t size)
{
	struct kb_catalog	*s;
	json_t			*doc;
	char			 err[128];

	if ((doc = json_loadb((const char *)data, size, 0, NULL)) == NULL)
		return;
	if ((s = kb_schema_from_json(doc, err, sizeof(err))) != NULL) {
		(void)kb_schema_table(s, NULL, "t");
		kb_schema_free(s);
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_tables_request	 req;
	struct kb_tables_plan		*plan;
	struct kb_tables_error		 err;
	struct kb_tables_result		 res;
	struct kb_tables_response	 resp;
	struct kb_arena			*a;
	const char			*p, *end, *body;
	json_t				*j;
	uint8_t				 m, f;
	int				 i;

	if (size > 0 && data[0] == '{') {
		fuzz_catalog(data, size);
		return (0);
	}
	if (size < 2)
		return (0);
	m = data[0];
	f = data[1];
	p = (const char *)data + 2;
	end = (const char *)data + size;
	a = kb_arena_new();
	memset(&req, 0, sizeof(req));
	req.method = (enum kb_tables_method)(m % 6);
	req.table = tables[(m / 6) % (sizeof(tables) / sizeof(tables[0]))];
	req.id = (f & 1) ? "1" : NULL;
	req.bulk = (f & 2) != 0;
	req.export = (f & 4) != 0;
	req.export_format = (f & 8) ? "csv" : NULL;
	req.tenant_id = (f & 16) ? "11111111-1111-1111-1111-111111111111" :
	    NULL;
	req.role = (f & 32) ? "anon" : "authenticated";
	req.query = next_field(a, &p, end);
	body = next_field(a, &p, end);
	req.prefer = next_field(a, &p, end);
	req.range = next_field(a, &p, end);
	req.accept = next_field(a, &p, end);
	req.body = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;

	plan = kb_tables_plan(schema, &req, &err);
	if (plan == NULL) {
		/* An error is always a 3xx/4xx with a code and a message. */
		if (err.status < 300 || err.status > 499 ||
		    err.code[0] == '\0' || err.message[0] == '\0')
			abort();
		j = kb_tables_error_json(&err);
		json_decref(j);
	} else {
		if (plan->sql == NULL || plan->nparams < 0 ||
		    plan->nparams > KB_TABLES_MAX_PARAMS)
			abort();
		for (i = 0; i < plan->nparams; i++) {
			/* Parameters are the only way values go in. */
			if (plan->params[i] == NULL)
				abort();
		}
		memset(&res, 0, sizeof(res));
		res.page_total = (f & 64) ? "1" : "3";
		res.total = (f & 128) ? "2000" : NULL;
		res.body = "[]";
		res.location = "[1]";
		res.plan = "[{\"Plan\":{\"Plan Rows\":5000}}]";
		kb_tables_respond(plan, &res, &resp);
		if (resp.status < 200 || resp.status > 599 ||
		    resp.nheaders > KB_TABLES_MAX_HEADERS)
			abort();
		kb_tables_plan_free(plan);
	}
	json_decref(req.body);
	kb_arena_free(a);
	return (0);
}
