/*
 * The served /openapi.json: the bundled spec plus, for every table and
 * view the schema cache exposes, a path /api/v1/tables/<name> (and
 * /api/v1/tables/<name>/{id} when it has a one-column primary key) and
 * a schema Table_<name>, so SDK generators produce typed table clients.
 *
 * The per-table operations are copies of the generic ones under
 * /api/v1/tables/{table} (listRows, insertRows, ...: same parameters,
 * security, x-kb-roles, x-kb-scopes and responses), without the {table}
 * parameter, with one optional filter parameter per column, their rows
 * typed by Table_<name> (TablePatch_<name> for PATCH bodies: the same
 * properties, none required) and operationIds suffixed with the table
 * (listRows_todos).  They document requests the router already sends to
 * the generic operations: /api/v1/tables/todos matches {table}.
 *
 * Built once per schema version per worker, on the first request that
 * sees that version, and kept serialized with its ETag (a hash of the
 * bytes, so every worker gives the same ETag for the same catalog).
 * A request holds the document it was given until it ends.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kb_server.h"
#include "kb_server_int.h"
#include "kb_catalog.h"
#include "kbg_api.h"

#define OAS_TABLES	"/api/v1/tables/"
#define OAS_ROW_REF	"#/components/schemas/Row"
#define OAS_ROWS_REF	"#/components/schemas/RowsBody"
#define OAS_MAX_ROWS	10000		/* RowsBody's maxItems */

struct kb_oas {
	uint64_t	 version;	/* of the schema it describes */
	char		*json;
	size_t		 len;
	char		 etag[40];
	int		 refs;		/* requests holding it */
};

/* What building a document works with. */
struct oas_bld {
	json_t		*paths;		/* the document's */
	json_t		*comp;		/* its components */
	json_t		*schemas;	/* components.schemas */
	json_t		*coll;		/* the generic /tables/{table} */
	json_t		*row;		/* the generic /tables/{table}/{id} */
	json_t		*used;		/* the table idents taken */
};

static struct kb_oas	*oas_current;
static uint64_t		 oas_failed;	/* a version that did not build */

static struct kb_oas	*oas_build(const struct kb_catalog *);
static void		 oas_free(struct kb_oas *);
static void		 oas_release(void *);
static int		 oas_table(struct oas_bld *, const struct kb_table *);
static json_t		*oas_op(struct oas_bld *, json_t *, const char *,
			    const struct kb_table *, const char *, int);
static json_t		*oas_schema(const struct kb_table *, int);
static json_t		*oas_column(const struct kb_table *,
			    const struct kb_column *);
static json_t		*oas_type(const struct kb_column *);
static json_t		*oas_scalar(const char *, char);
static void		 oas_enum(json_t *, const struct kb_column *, int);
static int		 oas_retarget(json_t *, const char *, const char *);
static json_t		*oas_share(json_t *, const char *, json_t *,
			    const char *);
static void		 oas_components(json_t *, json_t *);
static char		*oas_ident(json_t *, const char *);
static char		*oas_path_escape(const char *);

/*
 * The document for the request's schema `cat` (NULL: none loaded, the
 * bundled spec as it is), valid until the request ends.
 */
void
kb_oas_document(struct kb_ctx *ctx, const struct kb_catalog *cat,
    const char **json, size_t *len, const char **etag)
{
	struct kb_oas	*o;

	if (cat != NULL && cat->version != oas_failed &&
	    (oas_current == NULL || oas_current->version != cat->version)) {
		if ((o = oas_build(cat)) != NULL) {
			if (oas_current != NULL && oas_current->refs == 0)
				oas_free(oas_current);
			oas_current = o;
		} else
			oas_failed = cat->version;
	}
	if (cat == NULL || oas_current == NULL ||
	    oas_current->version != cat->version) {
		*json = kbg_api.spec_json;
		*len = kbg_api.spec_json_len;
		*etag = kb_spec_etag();
		return;
	}
	o = oas_current;
	o->refs++;
	kb_ctx_defer(ctx, oas_release, o);
	*json = o->json;
	*len = o->len;
	*etag = o->etag;
}

static void
oas_release(void *arg)
{
	struct kb_oas	*o = arg;

	if (--o->refs == 0 && o != oas_current)
		oas_free(o);
}

static void
oas_free(struct kb_oas *o)
{
	free(o->json);
	kore_free(o);
}

static struct kb_oas *
oas_build(const struct kb_catalog *cat)
{
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	static const char	*sect[] = { "parameters", "responses",
				    "headers" };
	json_error_t		 jerr;
	json_t			*doc;
	struct oas_bld		 b;
	struct kb_oas		*o;
	const struct kb_table	*t;
	size_t			 k, n;
	u_int64_t		 start;
	char			*s;

	start = kore_time_ms();
	doc = json_loadb(kbg_api.spec_json, kbg_api.spec_json_len, 0, &jerr);
	if (doc == NULL) {
		kb_log("error", "openapi: the bundled spec does not parse: %s",
		    jerr.text);
		return (NULL);
	}
	memset(&b, 0, sizeof(b));
	b.paths = json_object_get(doc, "paths");
	b.comp = json_object_get(doc, "components");
	b.schemas = json_object_get(b.comp, "schemas");
	b.coll = json_object_get(b.paths, OAS_TABLES "{table}");
	b.row = json_object_get(b.paths, OAS_TABLES "{table}/{id}");
	if (!json_is_object(b.schemas) || !json_is_object(b.coll) ||
	    !json_is_object(b.row)) {
		kb_log("error", "openapi: the bundled spec has no generic "
		    "Tables operations");
		json_decref(doc);
		return (NULL);
	}
	for (k = 0; k < 3; k++) {
		if (json_object_get(b.comp, sect[k]) == NULL)
			json_object_set_new(b.comp, sect[k], json_object());
	}
	/* The generic items are templates: keep them while paths grows. */
	json_incref(b.coll);
	json_incref(b.row);
	b.used = json_object();
	n = 0;
	for (k = 0; k < cat->ntables; k++) {
		t = &cat->tables[k];
		/* Shadowed by a namesake in an earlier schema: unreachable. */
		if (kb_schema_table(cat, NULL, t->name) != t)
			continue;
		if (oas_table(&b, t) == 0)
			n++;
	}
	json_decref(b.used);
	json_decref(b.coll);
	json_decref(b.row);

	s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (s == NULL) {
		kb_log("error", "openapi: serializing the document failed");
		return (NULL);
	}
	o = kore_calloc(1, sizeof(*o));
	o->version = cat->version;
	o->json = s;
	o->len = strlen(s);
	if (!EVP_Digest(o->json, o->len, md, &mdlen, EVP_sha256(), NULL))
		fatal("openapi: sha256 failed");
	o->etag[0] = '"';
	for (i = 0; i < 16; i++)
		(void)snprintf(o->etag + 1 + i * 2, 3, "%02x", md[i]);
	o->etag[33] = '"';
	o->etag[34] = '\0';
	kb_log("info", "openapi: schema version %llu, %zu tables, %zu bytes, "
	    "built in %llu ms", (unsigned long long)o->version, n, o->len,
	    (unsigned long long)(kore_time_ms() - start));
	return (o);
}

/* Add the paths and schemas of table `t`; -1 if it gets none. */
static int
oas_table(struct oas_bld *b, const struct kb_table *t)
{
	json_t		*item, *op;
	char		*id, *enc, key[512];
	int		 ok;

	if ((id = oas_ident(b->used, t->name)) == NULL)
		return (-1);
	enc = oas_path_escape(t->name);

	(void)snprintf(key, sizeof(key), "Table_%s", id);
	json_object_set_new(b->schemas, key, oas_schema(t, 0));
	if (t->updatable) {
		(void)snprintf(key, sizeof(key), "TablePatch_%s", id);
		json_object_set_new(b->schemas, key, oas_schema(t, 1));
	}

	item = json_object();
	if ((op = oas_op(b, b->coll, "get", t, id, 0)) != NULL)
		json_object_set_new(item, "get", op);
	if (t->insertable && (op = oas_op(b, b->coll, "post", t, id, 0)) != NULL)
		json_object_set_new(item, "post", op);
	if (t->updatable && (op = oas_op(b, b->coll, "patch", t, id, 1)) != NULL)
		json_object_set_new(item, "patch", op);
	if (t->deletable && (op = oas_op(b, b->coll, "delete", t, id, 0)) != NULL)
		json_object_set_new(item, "delete", op);
	(void)snprintf(key, sizeof(key), OAS_TABLES "%s", enc);
	ok = json_object_size(item) > 0;
	json_object_set_new(b->paths, key, item);

	if (ok && t->npk == 1) {
		item = json_object();
		if ((op = oas_op(b, b->row, "get", t, id, 0)) != NULL)
			json_object_set_new(item, "get", op);
		if (t->insertable && t->updatable &&
		    (op = oas_op(b, b->row, "put", t, id, 0)) != NULL)
			json_object_set_new(item, "put", op);
		if (t->updatable && (op = oas_op(b, b->row, "patch", t, id, 1)) != NULL)
			json_object_set_new(item, "patch", op);
		if (t->deletable &&
		    (op = oas_op(b, b->row, "delete", t, id, 0)) != NULL)
			json_object_set_new(item, "delete", op);
		(void)snprintf(key, sizeof(key), OAS_TABLES "%s/{id}", enc);
		json_object_set_new(b->paths, key, item);
	}
	kore_free(enc);
	kore_free(id);
	return (ok ? 0 : -1);
}

/*
 * A copy of the generic operation `method` of `tmpl` for table `t`:
 * operationId <generic>_<id>, no {table} parameter, {id} typed as the
 * primary key, a filter parameter per column where the generic one takes
 * filters, rows typed by Table_<id> (`patch`: bodies by TablePatch_<id>).
 */
static json_t *
oas_op(struct oas_bld *b, json_t *tmpl, const char *method,
    const struct kb_table *t, const char *id, int patch)
{
	json_t			*src, *op, *params, *p, *s, *body, *qnames;
	const char		*name, *in, *opid, *summary, *desc;
	const struct kb_column	*c;
	char			 ref[512], bref[512];
	size_t			 i, k;
	int			 filters;

	if ((src = json_object_get(tmpl, method)) == NULL)
		return (NULL);
	op = json_deep_copy(src);
	opid = json_string_value(json_object_get(src, "operationId"));
	summary = json_string_value(json_object_get(src, "summary"));
	json_object_set_new(op, "operationId",
	    json_sprintf("%s_%s", opid ? opid : method, id));
	json_object_set_new(op, "summary", json_sprintf("%s: %s",
	    summary ? summary : method, t->name));
	desc = json_string_value(json_object_get(src, "description"));
	if (t->description != NULL && *t->description != '\0')
		json_object_set_new(op, "description", json_sprintf("%s\n\n%s",
		    t->description, desc ? desc : ""));

	filters = 0;
	qnames = json_object();
	params = json_object_get(op, "parameters");
	for (i = 0; i < json_array_size(params);) {
		p = json_array_get(params, i);
		name = json_string_value(json_object_get(p, "name"));
		in = json_string_value(json_object_get(p, "in"));
		if (name == NULL || in == NULL) {
			i++;
			continue;
		}
		if (strcmp(in, "path") == 0 && strcmp(name, "table") == 0) {
			json_array_remove(params, i);
			continue;
		}
		if (strcmp(in, "path") == 0 && strcmp(name, "id") == 0 &&
		    t->npk == 1) {
			c = t->pk[0];
			s = c->is_array ? json_object() :
			    oas_scalar(c->base_type, c->category);
			if (json_object_get(s, "type") == NULL)
				json_object_set_new(s, "type",
				    json_string("string"));
			json_object_set_new(p, "schema", s);
			json_object_set_new(p, "description", json_sprintf(
			    "The row's primary key, `%s` (%s).", c->name,
			    c->type));
			json_object_del(p, "example");
		}
		if (strcmp(in, "query") == 0) {
			/*
			 * The generic examples name the generic todos'
			 * columns (select=id,title, done=eq.false), which
			 * this table may not have: Swagger UI's "Try it
			 * out" would send them.
			 */
			json_object_del(p, "example");
			json_object_del(p, "examples");
			json_object_set_new(qnames, name, json_true());
			/* Else it would make up additionalProp1=string. */
			if (strcmp(name, "filters") == 0) {
				json_object_set_new(p, "example", json_object());
				filters = 1;
			}
		}
		i++;
	}

	(void)snprintf(ref, sizeof(ref), "#/components/schemas/Table_%s", id);
	(void)snprintf(bref, sizeof(bref), "#/components/schemas/%s_%s",
	    patch ? "TablePatch" : "Table", id);
	if ((body = json_object_get(op, "requestBody")) != NULL)
		(void)oas_retarget(body, bref, bref);
	(void)oas_retarget(json_object_get(op, "responses"), ref, ref);
	oas_components(b->comp, op);

	/* One filter per column, unless a query parameter has its name. */
	for (k = 0; filters && k < t->ncols; k++) {
		c = &t->cols[k];
		if (json_object_get(qnames, c->name) != NULL)
			continue;
		json_array_append_new(params, json_pack(
		    "{s:s, s:s, s:b, s:o, s:{s:s}}",
		    "name", c->name, "in", "query", "required", 0,
		    "description", json_sprintf("Filter on `%s` (%s), "
		    "PostgREST style: `eq.value`, `neq.`, `gt.`, `gte.`, "
		    "`lt.`, `lte.`, `like.`, `ilike.`, `in.(a,b)`, "
		    "`is.null`, `not.eq.value`, ...", c->name, c->type),
		    "schema", "type", "string"));
	}
	json_decref(qnames);
	return (op);
}

/*
 * Point the generic row schemas at the table's: Row becomes `ref`,
 * RowsBody one `rows_ref` or an array of them.  The examples next to a
 * schema so changed go: they show the generic todos, not this table.
 * Returns how many references changed.
 */
static int
oas_retarget(json_t *v, const char *ref, const char *rows_ref)
{
	const char	*key, *r;
	json_t		*x;
	size_t		 i;
	int		 n;

	n = 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			n += oas_retarget(x, ref, rows_ref);
		return (n);
	}
	if (!json_is_object(v))
		return (0);
	if ((r = json_string_value(json_object_get(v, "$ref"))) != NULL) {
		if (strcmp(r, OAS_ROW_REF) == 0) {
			json_object_set_new(v, "$ref", json_string(ref));
			return (1);
		}
		if (strcmp(r, OAS_ROWS_REF) == 0) {
			json_object_del(v, "$ref");
			json_object_set_new(v, "oneOf", json_pack(
			    "[{s:s}, {s:s, s:i, s:{s:s}}]",
			    "$ref", rows_ref, "type", "array",
			    "maxItems", OAS_MAX_ROWS, "items", "$ref",
			    rows_ref));
			return (1);
		}
		return (0);
	}
	json_object_foreach(v, key, x)
		n += oas_retarget(x, ref, rows_ref);
	if (n > 0 && json_object_get(v, "schema") != NULL) {
		json_object_del(v, "example");
		json_object_del(v, "examples");
	}
	return (n);
}

/*
 * `v` as a $ref to the component of `set` (components.<kind>) equal to
 * it; with `name`, a new component <name>, <name>_2, ... if none is.
 * NULL if none is and no name was given.
 */
static json_t *
oas_share(json_t *set, const char *kind, json_t *v, const char *name)
{
	const char	*k;
	json_t		*x;
	char		 key[256];
	int		 n;

	json_object_foreach(set, k, x) {
		if (json_equal(x, v))
			return (json_pack("{s:o}", "$ref", json_sprintf(
			    "#/components/%s/%s", kind, k)));
	}
	if (name == NULL)
		return (NULL);
	(void)snprintf(key, sizeof(key), "%s", name);
	for (n = 2; json_object_get(set, key) != NULL; n++)
		(void)snprintf(key, sizeof(key), "%s_%d", name, n);
	json_object_set(set, key, v);
	return (json_pack("{s:o}", "$ref", json_sprintf("#/components/%s/%s",
	    kind, key)));
}

/*
 * Replace what the per-table copies of `op` share with references to
 * components: query and header parameters, the responses that do not
 * name the table's rows, the headers of those that do.
 */
static void
oas_components(json_t *comp, json_t *op)
{
	json_t		*params, *responses, *p, *ref, *set, *hdrs, *h;
	const char	*in, *name, *code, *hn;
	char		 cname[256];
	size_t		 i, k;

	params = json_object_get(op, "parameters");
	set = json_object_get(comp, "parameters");
	json_array_foreach(params, i, p) {
		in = json_string_value(json_object_get(p, "in"));
		name = json_string_value(json_object_get(p, "name"));
		if (in == NULL || name == NULL || strcmp(in, "path") == 0)
			continue;
		(void)snprintf(cname, sizeof(cname), "Tables_%s", name);
		for (k = 0; cname[k] != '\0'; k++) {
			if (!isalnum((unsigned char)cname[k]))
				cname[k] = '_';
		}
		if ((ref = oas_share(set, "parameters", p, cname)) != NULL)
			json_array_set_new(params, i, ref);
	}
	responses = json_object_get(op, "responses");
	json_object_foreach(responses, code, p) {
		if (json_object_get(p, "$ref") != NULL)
			continue;
		if (*code != '2' && (ref = oas_share(json_object_get(comp,
		    "responses"), "responses", p, NULL)) != NULL) {
			json_object_set_new(responses, code, ref);
			continue;
		}
		hdrs = json_object_get(p, "headers");
		json_object_foreach(hdrs, hn, h) {
			if ((ref = oas_share(json_object_get(comp, "headers"),
			    "headers", h, NULL)) != NULL)
				json_object_set_new(hdrs, hn, ref);
		}
	}
}

/* Table_<id> (`patch`: TablePatch_<id>, nothing required). */
static json_t *
oas_schema(const struct kb_table *t, int patch)
{
	json_t			*o, *props, *req;
	const struct kb_column	*c;
	const char		*rel;
	size_t			 k;

	o = json_object();
	json_object_set_new(o, "type", json_string("object"));
	if (t->description != NULL && *t->description != '\0')
		json_object_set_new(o, "description",
		    json_string(t->description));
	else
		json_object_set_new(o, "description", json_sprintf(
		    "A row of %s `%s.%s`%s.", t->is_view ? "the view" :
		    "the table", t->schema, t->name, patch ?
		    ": the columns to set" : ""));
	props = json_object();
	req = json_array();
	for (k = 0; k < t->ncols; k++) {
		c = &t->cols[k];
		json_object_set_new(props, c->name, oas_column(t, c));
		if (!patch && !c->nullable && !c->has_default && !c->generated)
			json_array_append_new(req, json_string(c->name));
	}
	json_object_set_new(o, "properties", props);
	if (json_array_size(req) > 0)
		json_object_set_new(o, "required", req);
	else
		json_decref(req);
	switch (t->kind) {
	case 'm':
		rel = "materialized_view";
		break;
	case 'f':
		rel = "foreign_table";
		break;
	default:
		rel = t->is_view ? "view" : "table";
		break;
	}
	json_object_set_new(o, "x-kb-relation", json_string(rel));
	return (o);
}

static json_t *
oas_column(const struct kb_table *t, const struct kb_column *c)
{
	json_t			*p;
	const struct kb_fkey	*fk;
	size_t			 i, k;

	p = oas_type(c);
	/* {} (json, jsonb) takes null already, and OAS 3.0 wants a type. */
	if (c->nullable && json_object_get(p, "type") != NULL)
		json_object_set_new(p, "nullable", json_true());
	if (c->generated || c->identity != 0)
		json_object_set_new(p, "readOnly", json_true());
	if (c->description != NULL && *c->description != '\0')
		json_object_set_new(p, "description",
		    json_string(c->description));
	json_object_set_new(p, "x-kb-type", json_string(c->type));
	for (k = 0; k < t->npk; k++) {
		if (t->pk[k] == c)
			json_object_set_new(p, "x-primary-key", json_true());
	}
	for (k = 0; k < t->nfkeys; k++) {
		fk = &t->fkeys[k];
		for (i = 0; i < fk->ncols; i++) {
			if (fk->cols[i] != c)
				continue;
			json_object_set_new(p, "x-foreign-key", json_pack(
			    "{s:s, s:s, s:s, s:s}", "schema", fk->ref->schema,
			    "table", fk->ref->name, "column",
			    fk->ref_cols[i]->name, "constraint", fk->name));
			return (p);
		}
	}
	return (p);
}

/*
 * An enum's labels as the schema's "enum", so typed clients get the
 * values; a nullable column's list also holds null (OpenAPI 3.0.3: with
 * "nullable", null is valid only if the enum lists it).
 */
static void
oas_enum(json_t *s, const struct kb_column *c, int nullable)
{
	json_t	*e;
	size_t	 i;

	if (c->nenum == 0)
		return;
	e = json_array();
	for (i = 0; i < c->nenum; i++)
		json_array_append_new(e, json_string(c->enum_labels[i]));
	if (nullable)
		json_array_append_new(e, json_null());
	json_object_set_new(s, "enum", e);
}

/* The JSON Schema of a column's values, as to_json() writes them. */
static json_t *
oas_type(const struct kb_column *c)
{
	json_t		*s;
	const char	*ty;
	int		 n;

	if (c->is_array) {
		/* The element's category is not in the model: by name. */
		s = oas_scalar(c->base_type, 0);
		oas_enum(s, c, 0);
		return (json_pack("{s:s, s:o}", "type", "array", "items", s));
	}
	s = oas_scalar(c->base_type, c->category);
	oas_enum(s, c, c->nullable);
	ty = c->type;
	n = 0;
	if (strncmp(ty, "character varying(", 18) == 0)
		n = atoi(ty + 18);
	else if (strncmp(ty, "character(", 10) == 0)
		n = atoi(ty + 10);
	if (n > 0 && json_is_string(json_object_get(s, "type")))
		json_object_set_new(s, "maxLength", json_integer(n));
	return (s);
}

/*
 * A scalar by its type name (pg_type.typname) and category: integers,
 * numbers, booleans, strings with a format for uuid, dates and
 * timestamps, anything for json/jsonb ({}), a string otherwise (text,
 * enums, intervals, network types, money: to_json writes them as
 * strings).
 */
static json_t *
oas_scalar(const char *base, char category)
{
	static const struct {
		const char	*name;
		const char	*type;
		const char	*format;
	} map[] = {
		{ "int2", "integer", "int32" },
		{ "int4", "integer", "int32" },
		{ "int8", "integer", "int64" },
		{ "oid", "integer", "int64" },
		{ "float4", "number", "float" },
		{ "float8", "number", "double" },
		{ "numeric", "number", NULL },
		{ "bool", "boolean", NULL },
		{ "uuid", "string", "uuid" },
		{ "timestamptz", "string", "date-time" },
		{ "timestamp", "string", "date-time" },
		{ "date", "string", "date" },
		{ "json", NULL, NULL },
		{ "jsonb", NULL, NULL },
	};
	size_t		 i;

	if (base == NULL)
		base = "";
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(base, map[i].name) != 0)
			continue;
		if (map[i].type == NULL)
			return (json_object());
		if (map[i].format == NULL)
			return (json_pack("{s:s}", "type", map[i].type));
		return (json_pack("{s:s, s:s}", "type", map[i].type,
		    "format", map[i].format));
	}
	if (category == 'B')
		return (json_pack("{s:s}", "type", "boolean"));
	return (json_pack("{s:s}", "type", "string"));
}

/*
 * The table's name as it goes into operationIds and component names:
 * [A-Za-z0-9_], anything else '_', and _2, _3, ... after a name already
 * taken (tables are visited in (schema, name) order, so the same catalog
 * always gives the same names).  NULL if no free name was found.
 */
static char *
oas_ident(json_t *used, const char *name)
{
	char		*id, *try;
	size_t		 i, len, n;

	len = strlen(name);
	if (len > 200)
		len = 200;
	id = kore_malloc(len + 1);
	for (i = 0; i < len; i++) {
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_')
			id[i] = name[i];
		else
			id[i] = '_';
	}
	id[len] = '\0';
	try = kore_malloc(len + 16);
	(void)snprintf(try, len + 16, "%s", id);
	for (n = 2; json_object_get(used, try) != NULL; n++) {
		if (n > 1000) {
			kore_free(try);
			kore_free(id);
			return (NULL);
		}
		(void)snprintf(try, len + 16, "%s_%zu", id, n);
	}
	kore_free(id);
	json_object_set_new(used, try, json_true());
	return (try);
}

/*
 * The name as a path segment: '%', '/', '?', '#', '{', '}' and control
 * characters percent-encoded, the rest as it is (a client's URL parser
 * encodes spaces and non-ASCII itself; and Spectral, for one, reads
 * "%20" in a path key as a space).
 */
static char *
oas_path_escape(const char *name)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*out, *o;

	out = kore_malloc(strlen(name) * 3 + 1);
	o = out;
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || strchr("%/?#{}", *p) != NULL) {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return (out);
}
