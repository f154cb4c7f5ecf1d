/*
 * kbgen: bundling a multi-file description into one document.
 *
 * Every $ref that leaves the root file is rewritten to a local one:
 *  - a target under another file's /components/<kind>/<name> moves to the
 *    root's components/<kind>/<name> (renamed <name>_2 ... on a clash);
 *  - any other target in a schema position (a whole-file schema, a deep
 *    pointer) moves to components/schemas, named after the file or the
 *    last pointer token;
 *  - any other target (path item, parameter, response ...) is inlined in
 *    place of the $ref object.
 * Refs local to the root file stay as they are.  Literal values (example,
 * default, enum, const, x-*) are never searched for $ref.  Moved nodes are
 * shared, not copied, so they keep their source positions for messages.
 */

#include <string.h>

#include "kbc.h"

enum kbc_bctx {
	KBC_CTX_OTHER = 0,
	KBC_CTX_SCHEMA,
	KBC_CTX_SCHEMA_MAP,
	KBC_CTX_SCHEMA_LIST,
	KBC_CTX_EXAMPLES
};

struct kbc_bundler {
	struct kbc	*kbc;
	struct kbc_pmap	visited;	/* node -> replacement or node */
	struct kbc_pmap	inlining;	/* nodes being inlined now */
	json_t		*memo;		/* "file#ptr" -> local ref */
	json_t		*root;
	int		failed;
};

static json_t	*kbc_bundle_walk(struct kbc_bundler *, json_t *, int,
		    enum kbc_bctx);
static void	kbc_bundle_children(struct kbc_bundler *, json_t *, int,
		    enum kbc_bctx);
static const char *kbc_bundle_ref(struct kbc_bundler *, int, const char *,
		    json_t *, enum kbc_bctx, json_t **);
static enum kbc_bctx kbc_bundle_child_ctx(enum kbc_bctx, const char *,
		    json_t *);
static int	kbc_bundle_literal(const char *);
static char	*kbc_bundle_name(struct kbc *, int, const char *);
static int	kbc_bundle_names(struct kbc_bundler *, json_t *, int,
		    const char *);

int
kbc_bundle(struct kbc *kbc)
{
	struct kbc_bundler	b;
	json_t			*root;
	size_t			 i;

	if (kbc->nfiles == 0 || kbc->files[0].root == NULL)
		return (-1);
	root = kbc->files[0].root;
	if (!json_is_object(root)) {
		kbc_error(kbc, root, NULL, "an OpenAPI document must be a "
		    "mapping");
		return (-1);
	}

	memset(&b, 0, sizeof(b));
	b.kbc = kbc;
	b.memo = json_object();
	b.root = root;

	(void)kbc_bundle_walk(&b, root, 0, KBC_CTX_OTHER);

	/*
	 * Visited nodes were kept alive (see kbc_bundle_walk): a $ref node
	 * replaced in its parent would otherwise be freed mid-walk and its
	 * address reused by a new node, which `visited` would then mistake
	 * for the old one.
	 */
	for (i = 0; i < b.visited.cap; i++) {
		if (b.visited.keys[i] != NULL)
			json_decref((json_t *)b.visited.keys[i]);
	}
	kbc_pmap_free(&b.visited);
	kbc_pmap_free(&b.inlining);
	json_decref(b.memo);

	if (b.failed)
		return (-1);
	kbc->bundle = root;
	return (0);
}

static int
kbc_bundle_literal(const char *key)
{
	return (strcmp(key, "example") == 0 || strcmp(key, "default") == 0 ||
	    strcmp(key, "enum") == 0 || strcmp(key, "const") == 0 ||
	    strncmp(key, "x-", 2) == 0);
}

static enum kbc_bctx
kbc_bundle_child_ctx(enum kbc_bctx ctx, const char *key, json_t *val)
{
	static const char	*schema_maps[] = {
		"properties", "patternProperties", "$defs", "definitions",
		"dependentSchemas", NULL
	};
	static const char	*schema_lists[] = {
		"allOf", "anyOf", "oneOf", "prefixItems", NULL
	};
	static const char	*schema_one[] = {
		"additionalProperties", "not", "if", "then", "else",
		"contains", "propertyNames", "unevaluatedItems",
		"unevaluatedProperties", "additionalItems", "contentSchema",
		NULL
	};
	size_t			i;

	switch (ctx) {
	case KBC_CTX_SCHEMA_MAP:
		return (KBC_CTX_SCHEMA);
	case KBC_CTX_SCHEMA_LIST:
		return (KBC_CTX_SCHEMA);
	case KBC_CTX_SCHEMA:
		if (kbc_bundle_literal(key) || strcmp(key, "examples") == 0)
			return (-1);
		for (i = 0; schema_maps[i] != NULL; i++)
			if (strcmp(key, schema_maps[i]) == 0)
				return (KBC_CTX_SCHEMA_MAP);
		for (i = 0; schema_lists[i] != NULL; i++)
			if (strcmp(key, schema_lists[i]) == 0)
				return (KBC_CTX_SCHEMA_LIST);
		for (i = 0; schema_one[i] != NULL; i++)
			if (strcmp(key, schema_one[i]) == 0)
				return (KBC_CTX_SCHEMA);
		if (strcmp(key, "items") == 0)
			return (json_is_array(val) ? KBC_CTX_SCHEMA_LIST :
			    KBC_CTX_SCHEMA);
		return (-1);
	case KBC_CTX_EXAMPLES:
		return (-1);
	default:
		/* Outside a schema "default" is a response (responses.default). */
		if (kbc_bundle_literal(key) && strcmp(key, "default") != 0)
			return (-1);
		if (strcmp(key, "schema") == 0)
			return (KBC_CTX_SCHEMA);
		if (strcmp(key, "schemas") == 0)
			return (KBC_CTX_SCHEMA_MAP);
		if (strcmp(key, "examples") == 0)
			return (KBC_CTX_EXAMPLES);
		return (KBC_CTX_OTHER);
	}
}

/*
 * Walk `node` (written in `file`).  Returns the node to use in its place
 * (itself, or the inlined target of a $ref object).
 */
static json_t *
kbc_bundle_walk(struct kbc_bundler *b, json_t *node, int file,
    enum kbc_bctx ctx)
{
	json_t		*ref, *repl, *mapping, *v;
	const char	*local, *k;

	if (!json_is_object(node) && !json_is_array(node))
		return (node);
	if ((repl = kbc_pmap_get(&b->visited, node)) != NULL)
		return (repl);
	kbc_pmap_put(&b->visited, node, json_incref(node));

	if (json_is_object(node) && ctx != KBC_CTX_SCHEMA_MAP &&
	    (ref = json_object_get(node, "$ref")) != NULL &&
	    json_is_string(ref)) {
		repl = NULL;
		local = kbc_bundle_ref(b, file, json_string_value(ref), ref,
		    ctx == KBC_CTX_SCHEMA_LIST ? KBC_CTX_SCHEMA : ctx, &repl);
		if (repl != NULL) {
			kbc_pmap_put(&b->visited, node, repl);
			return (repl);
		}
		if (local != NULL && strcmp(local, json_string_value(ref)) != 0)
			json_object_set_new(node, "$ref", json_string(local));
	}

	/* Discriminator mappings name schemas by reference, too. */
	if (json_is_object(node) && ctx == KBC_CTX_SCHEMA &&
	    (mapping = json_object_get(json_object_get(node,
	    "discriminator"), "mapping")) != NULL && json_is_object(mapping)) {
		json_object_foreach(mapping, k, v) {
			if (!json_is_string(v) ||
			    strpbrk(json_string_value(v), "#/") == NULL)
				continue;
			local = kbc_bundle_ref(b, file, json_string_value(v),
			    v, KBC_CTX_SCHEMA, NULL);
			if (local != NULL &&
			    strcmp(local, json_string_value(v)) != 0)
				json_object_set_new(mapping, k,
				    json_string(local));
		}
	}

	kbc_bundle_children(b, node, file, ctx);
	return (node);
}

static void
kbc_bundle_children(struct kbc_bundler *b, json_t *node, int file,
    enum kbc_bctx ctx)
{
	const char	**keys, *k;
	json_t		*v, *r;
	size_t		i, n;
	int		cctx;

	if (json_is_array(node)) {
		for (i = 0; i < json_array_size(node); i++) {
			v = json_array_get(node, i);
			cctx = ctx == KBC_CTX_SCHEMA_LIST ? KBC_CTX_SCHEMA :
			    ctx == KBC_CTX_SCHEMA ? -1 : (int)ctx;
			if (cctx < 0)
				continue;
			r = kbc_bundle_walk(b, v, file, cctx);
			if (r != v)
				json_array_set(node, i, r);
		}
		return;
	}

	/* Collect keys first: hoisting may add members while we walk. */
	n = json_object_size(node);
	keys = kbc_xrealloc(NULL, (n + 1) * sizeof(*keys));
	i = 0;
	json_object_foreach(node, k, v)
		keys[i++] = k;
	n = i;

	for (i = 0; i < n; i++) {
		v = json_object_get(node, keys[i]);
		if (v == NULL || strcmp(keys[i], "$ref") == 0)
			continue;
		if (ctx == KBC_CTX_EXAMPLES) {
			/* Example objects: only a $ref of their own. */
			if (json_is_object(v) && json_object_get(v, "$ref")) {
				r = kbc_bundle_walk(b, v, file, KBC_CTX_OTHER);
				if (r != v)
					json_object_set(node, keys[i], r);
			}
			continue;
		}
		cctx = kbc_bundle_child_ctx(ctx, keys[i], v);
		if (cctx < 0)
			continue;
		r = kbc_bundle_walk(b, v, file, cctx);
		if (r != v)
			json_object_set(node, keys[i], r);
	}
	free(keys);
}

/*
 * True if `entry` (a root component) is just a $ref to file#ptr: the
 * root names that external object, so it takes the root's name instead
 * of a numbered one ("components: {schemas: {Setting: {$ref:
 * schemas.yaml#/Setting}}}" bundles as #/components/schemas/Setting).
 */
static int
kbc_bundle_names(struct kbc_bundler *b, json_t *entry, int tfile,
    const char *tptr)
{
	json_t		*ref;
	const char	*p;
	int		 f;

	if (!json_is_object(entry) || json_object_size(entry) != 1 ||
	    !json_is_string(ref = json_object_get(entry, "$ref")))
		return (0);
	if (kbc_ref_resolve(b->kbc, 0, json_string_value(ref), entry, &f,
	    &p) == NULL)
		return (0);
	return (f == tfile && strcmp(p, tptr) == 0);
}

/* A component name from a pointer's last token or the file's base name. */
static char *
kbc_bundle_name(struct kbc *kbc, int file, const char *ptr)
{
	const char	*s, *e;
	char		*name, *p;

	if (ptr[0] != '\0' && (s = strrchr(ptr, '/')) != NULL && s[1] != '\0')
		name = kbc_strdup(kbc, s + 1);
	else {
		s = strrchr(kbc->files[file].display, '/');
		s = s ? s + 1 : kbc->files[file].display;
		e = strrchr(s, '.');
		name = kbc_strndup(kbc, s, e && e != s ? (size_t)(e - s) :
		    strlen(s));
	}
	for (p = name; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			*p = '_';
	}
	return (name);
}

/*
 * Make `ref` (written in `file`) local to the root document.  Returns the
 * local reference, or NULL with *inlined set to the node to put in place
 * of the $ref object, or NULL after an error.
 */
static const char *
kbc_bundle_ref(struct kbc_bundler *b, int file, const char *ref,
    json_t *refnode, enum kbc_bctx ctx, json_t **inlined)
{
	struct kbc	*kbc = b->kbc;
	json_t		*target, *comps, *kindobj, *r;
	const char	*tptr, *local, *p1, *p2;
	char		*key, *kind, *name, *base;
	int		tfile, n, hoist;

	if (file == 0 && ref[0] == '#')
		return (ref);

	if ((target = kbc_ref_resolve(kbc, file, ref, refnode, &tfile,
	    &tptr)) == NULL) {
		b->failed = 1;
		return (NULL);
	}
	if (tfile == 0)
		return (kbc_sprintf(kbc, "#%s", tptr));

	key = kbc_sprintf(kbc, "%d#%s", tfile, tptr);
	if ((r = json_object_get(b->memo, key)) != NULL)
		return (json_string_value(r));

	kind = NULL;
	name = NULL;
	hoist = 0;
	if (strncmp(tptr, "/components/", 12) == 0 &&
	    (p1 = strchr(tptr + 12, '/')) != NULL &&
	    (p2 = strchr(p1 + 1, '/')) == NULL) {
		kind = kbc_strndup(kbc, tptr + 12, (size_t)(p1 - tptr - 12));
		name = kbc_bundle_name(kbc, tfile, tptr);
		hoist = !(strcmp(kind, "pathItems") == 0 && !kbc->oas31);
	}
	if (!hoist && ctx == KBC_CTX_SCHEMA) {
		kind = "schemas";
		name = kbc_bundle_name(kbc, tfile, tptr);
		hoist = 1;
	}

	if (!hoist) {
		if (inlined == NULL)
			return (NULL);
		if (kbc_pmap_get(&b->inlining, target) != NULL) {
			kbc_error(kbc, refnode, NULL, "circular $ref \"%s\" "
			    "through objects that are not schemas", ref);
			b->failed = 1;
			return (NULL);
		}
		kbc_pmap_put(&b->inlining, target, target);
		r = kbc_bundle_walk(b, target, tfile, ctx);
		kbc_pmap_put(&b->inlining, target, NULL);
		*inlined = r;
		return (NULL);
	}

	if ((comps = json_object_get(b->root, "components")) == NULL) {
		comps = json_object();
		json_object_set_new(b->root, "components", comps);
	}
	if ((kindobj = json_object_get(comps, kind)) == NULL) {
		kindobj = json_object();
		json_object_set_new(comps, kind, kindobj);
	}
	base = name;
	for (n = 2; json_object_get(kindobj, name) != NULL &&
	    json_object_get(kindobj, name) != target &&
	    !kbc_bundle_names(b, json_object_get(kindobj, name), tfile, tptr);
	    n++)
		name = kbc_sprintf(kbc, "%s_%d", base, n);
	json_object_set(kindobj, name, target);

	local = kbc_sprintf(kbc, "#/components/%s/%s", kind,
	    kbc_pointer_escape(kbc, name));
	json_object_set_new(b->memo, key, json_string(local));

	r = kbc_bundle_walk(b, target, tfile, strcmp(kind, "schemas") == 0 ?
	    KBC_CTX_SCHEMA : KBC_CTX_OTHER);
	if (r != target)
		json_object_set(kindobj, name, r);

	return (json_string_value(json_object_get(b->memo, key)));
}
