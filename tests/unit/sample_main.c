/*
 * Links the code kbgen generated for tests/fixtures/petstore with the
 * runtime and drives one request the way the server glue does: route,
 * coerce and validate parameters, validate the body, invoke the typed
 * handler.  One handler is linked in, the others are not (501).
 */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kbg_api.h"
#include "kbg_handlers.h"

struct kb_ctx {
	void	*blocks[64];
	int	n;
};

static int	created;

void *
kb_ctx_alloc(struct kb_ctx *ctx, size_t len)
{
	void	*p;

	assert(ctx->n < 64);
	p = calloc(1, len);
	ctx->blocks[ctx->n++] = p;
	return (p);
}

/* The one handler linked in: the typed body arrives decoded. */
void
kbh_create_pet(struct kb_ctx *ctx, const struct kbg_create_pet_in *in)
{
	json_t	*out;
	char	*s;

	(void)ctx;
	assert(in->body != NULL);
	assert(strcmp(in->body->name, "Rex") == 0);
	assert(in->body->has_owner && in->body->owner->has_name);
	assert(strcmp(in->body->owner->name, "Ann") == 0);
	assert(in->body->n_children == 1);
	assert(strcmp(in->body->children[0].name, "Pup") == 0);
	assert(!in->body->has_tag);

	out = kbg_Pet_encode(in->body);
	s = json_dumps(out, JSON_COMPACT);
	printf("encoded: %s\n", s);
	assert(strcmp(s, "{\"name\": \"Rex\", \"owner\": {\"name\": \"Ann\"}, "
	    "\"children\": [{\"name\": \"Pup\"}]}") == 0 ||
	    strstr(s, "\"name\":\"Rex\"") != NULL);
	free(s);
	json_decref(out);
	created = 1;
}

static void
ctx_free(struct kb_ctx *ctx)
{
	while (ctx->n > 0)
		free(ctx->blocks[--ctx->n]);
}

int
main(void)
{
	struct kb_route_match	m;
	struct kb_errors	errs;
	struct kb_ctx		ctx;
	const struct kb_op	*op;
	json_t			*params, *body, *v;
	const char		*p;
	char			*s;
	size_t			i;

	memset(&ctx, 0, sizeof(ctx));
	kb_errors_init(&errs);

	/* Static beats parameter; templates; 404. */
	p = "/pets/mine";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 1);
	assert(strcmp(m.item->path, "/pets/mine") == 0);
	p = "/pets/42.json";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 1);
	assert(strcmp(m.item->path, "/pets/{petId}.json") == 0);
	assert(m.ncaptures == 1 && m.captures[0].len == 2);
	p = "/pets/42";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 1);
	assert(strcmp(m.item->path, "/pets/{petId}") == 0);
	assert(strcmp(m.item->allow, "DELETE, GET, HEAD") == 0);
	p = "/pets/42/";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 0);
	p = "/cats";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 0);

	/* Parameter coercion + validation: /pets/abc -> petId integer. */
	p = "/pets/abc";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 1);
	op = m.item->ops[KB_M_GET];
	assert(op->nparams == 1);
	v = kb_param_coerce(&op->params[0], m.captures[0].ptr,
	    m.captures[0].len, NULL, "/path/petId", &errs);
	assert(v == NULL && errs.count == 1);
	assert(strcmp(errs.items[0].message, "must be an integer") == 0);
	kb_errors_clear(&errs);
	assert(op->invoke(&ctx, NULL, NULL) == KB_INVOKE_MISSING);
	assert(!op->implemented());

	/* Query: limit out of range. */
	p = "/pets";
	assert(kb_route_match(&kbg_api, p, strlen(p), &m) == 1);
	op = m.item->ops[KB_M_GET];
	assert(op->secured == 0);
	v = kb_param_coerce(&op->params[0], "0", 1, NULL, "/query/limit",
	    &errs);
	assert(v != NULL);
	assert(kb_validate(op->params[0].schema, v, "/query/limit", &errs) ==
	    1);
	assert(strcmp(errs.items[0].message, "must be >= 1") == 0);
	json_decref(v);
	kb_errors_clear(&errs);

	/* Body: every failure at once, with pointers. */
	op = m.item->ops[KB_M_POST];
	assert(op->secured == 1);
	assert(strcmp(op->roles[0], "admin") == 0 && op->roles[2] == NULL);
	assert(strcmp(op->scopes[0], "pets:write") == 0);
	body = json_loads("{\"name\": \"\", \"email\": \"nope\", "
	    "\"kind\": \"cow\"}", 0, NULL);
	assert(kb_validate(op->body->schema, body, "/body", &errs) == 3);
	for (i = 0; i < errs.count; i++)
		printf("%s: %s\n", errs.items[i].path, errs.items[i].message);
	assert(strcmp(errs.items[0].path, "/body/name") == 0);
	assert(strcmp(errs.items[1].path, "/body/email") == 0);
	assert(strcmp(errs.items[2].message, "must be one of: cat, dog") == 0);
	kb_errors_clear(&errs);
	json_decref(body);

	/* A valid body (readOnly id not required) reaches the handler. */
	body = json_loads("{\"name\": \"Rex\", \"owner\": {\"name\": \"Ann\"},"
	    " \"children\": [{\"name\": \"Pup\"}]}", 0, NULL);
	assert(kb_validate(op->body->schema, body, "/body", &errs) == 0);
	params = json_object();
	assert(op->implemented());
	assert(op->invoke(&ctx, params, body) == KB_INVOKE_OK);
	assert(created);
	json_decref(params);
	json_decref(body);
	ctx_free(&ctx);

	/* The bundled spec is embedded and parses. */
	v = json_loadb(kbg_api.spec_json, kbg_api.spec_json_len, 0, NULL);
	assert(v != NULL);
	s = json_dumps(json_object_get(json_object_get(json_object_get(v,
	    "components"), "schemas"), "kind"), JSON_COMPACT);
	assert(strstr(s, "cat") != NULL);
	free(s);
	json_decref(v);

	printf("sample: generated petstore routes, validates and invokes\n");
	return (0);
}
