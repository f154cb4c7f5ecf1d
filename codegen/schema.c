/*
 * kbgen: JSON Schema -> compiled kb_schema graph.
 *
 * Each distinct schema node becomes one struct kbc_schema (memoised by
 * node), so shared components are compiled once and recursive schemas
 * become pointers to each other.  A `$ref` alone (or, in 3.0, with the
 * siblings 3.0 says to ignore) is an alias: it yields its target's schema
 * and so emits no object of its own.  In 3.1 a `$ref` with validating
 * siblings becomes a schema with its target in allOf.
 *
 * Keywords that would change validation but are not implemented are
 * errors; unknown keywords are annotations and ignored.
 */

#include <math.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH	8
#include <pcre2.h>

#include "kbc.h"

#define KBC_MAX_ALIAS_CHAIN	64

static struct kbc_schema *kbc_sc_node(struct kbc *, json_t *, json_t *,
		    json_t *);
static struct kbc_schema *kbc_sc_new(struct kbc *, json_t *);
static void	kbc_sc_fill(struct kbc *, json_t *, struct kbc_schema *,
		    json_t *);
static int	kbc_sc_pure_ref(struct kbc *, json_t *);
static const struct kb_schema *const *kbc_sc_list(struct kbc *, json_t *,
		    json_t *, const char *, size_t *);
static void	kbc_sc_discriminator(struct kbc *, json_t *,
		    struct kbc_schema *, json_t *);
static int	kbc_sc_count(struct kbc *, json_t *, json_t *, const char *,
		    int64_t *);
static int	kbc_sc_number(struct kbc *, json_t *, json_t *, const char *,
		    double *);
static enum kb_format kbc_sc_format(const char *);
static int	kbc_sc_cycle_visit(struct kbc *, struct kbc_schema *);
static void	kbc_sc_add_edge(const struct kb_schema **, size_t *,
		    const struct kb_schema *);

static const char *kbc_unsupported[] = {
	"if", "then", "else", "patternProperties", "dependentRequired",
	"dependentSchemas", "prefixItems", "contains", "minContains",
	"maxContains", "unevaluatedProperties", "unevaluatedItems",
	"propertyNames", "$dynamicRef", "$recursiveRef", "additionalItems",
	"dependencies", NULL
};

/* Keywords a 3.1 `$ref` may carry and still be a plain alias. */
static const char *kbc_annotations[] = {
	"$ref", "description", "title", "summary", "example", "examples",
	"deprecated", "$comment", "default", "externalDocs", "xml", NULL
};

void
kbc_pattern_free(void *p)
{
	pcre2_code_free(p);
}

void
kbc_schema_names(struct kbc *kbc, json_t *root)
{
	json_t		*schemas, *v;
	const char	*k;

	schemas = json_object_get(json_object_get(root, "components"),
	    "schemas");
	if (!json_is_object(schemas))
		return;
	json_object_foreach(schemas, k, v) {
		if (kbc_pmap_get(&kbc->schema_names, v) == NULL)
			kbc_pmap_put(&kbc->schema_names, v,
			    kbc_strdup(kbc, k));
	}
}

const struct kb_schema *
kbc_schema_compile(struct kbc *kbc, json_t *root, json_t *node,
    json_t *parent)
{
	struct kbc_schema	*s;
	size_t			errs;

	errs = kbc->nerrors;
	s = kbc_sc_node(kbc, root, node, parent);
	if (s == NULL || kbc->nerrors != errs)
		return (NULL);
	return (&s->s);
}

static struct kbc_schema *
kbc_sc_new(struct kbc *kbc, json_t *src)
{
	struct kbc_schema	*s;

	s = kbc_alloc(kbc, sizeof(*s));
	s->src = src;
	s->id = -1;
	s->s.cache = &s->cache;
	s->s.min_length = s->s.max_length = -1;
	s->s.min_items = s->s.max_items = -1;
	s->s.min_props = s->s.max_props = -1;

	if (kbc->nschemas == kbc->schemas_cap) {
		kbc->schemas_cap = kbc->schemas_cap ? kbc->schemas_cap * 2 : 256;
		kbc->schemas = kbc_xrealloc(kbc->schemas,
		    kbc->schemas_cap * sizeof(*kbc->schemas));
	}
	kbc->schemas[kbc->nschemas++] = s;
	return (s);
}

/* 1 when `node` is a `$ref` that only aliases its target. */
static int
kbc_sc_pure_ref(struct kbc *kbc, json_t *node)
{
	const char	*k;
	json_t		*v;
	size_t		i;

	if (!json_is_object(node) || !json_is_string(json_object_get(node,
	    "$ref")))
		return (0);
	if (!kbc->oas31)
		return (1);
	json_object_foreach(node, k, v) {
		for (i = 0; kbc_annotations[i] != NULL; i++) {
			if (strcmp(k, kbc_annotations[i]) == 0)
				break;
		}
		if (kbc_annotations[i] == NULL && strncmp(k, "x-", 2) != 0)
			return (0);
	}
	return (1);
}

static struct kbc_schema *
kbc_sc_node(struct kbc *kbc, json_t *root, json_t *node, json_t *parent)
{
	struct kbc_schema	*s, *t;
	json_t			*chain[KBC_MAX_ALIAS_CHAIN], *cur, *next;
	const char		*ref, *name;
	size_t			n, i;

	if (node == NULL) {
		kbc_error(kbc, parent, NULL, "missing schema");
		return (NULL);
	}
	if ((s = kbc_pmap_get(&kbc->schema_memo, node)) != NULL)
		return (s);

	if (json_is_true(node) || json_is_false(node)) {
		s = kbc_sc_new(kbc, node);
		if (json_is_false(node))
			s->s.flags |= KB_S_FALSE;
		kbc_pmap_put(&kbc->schema_memo, node, s);
		return (s);
	}
	if (!json_is_object(node)) {
		kbc_error(kbc, node, parent, "a schema must be a mapping or a "
		    "boolean");
		return (NULL);
	}

	if (kbc_sc_pure_ref(kbc, node)) {
		/* Follow the alias chain to a real schema. */
		n = 0;
		cur = node;
		while (kbc_sc_pure_ref(kbc, cur)) {
			for (i = 0; i < n; i++) {
				if (chain[i] == cur)
					break;
			}
			if (i < n || n == KBC_MAX_ALIAS_CHAIN) {
				kbc_error(kbc, node, parent, "$ref cycle: "
				    "\"%s\" only refers to itself through "
				    "other $refs", json_string_value(
				    json_object_get(node, "$ref")));
				return (NULL);
			}
			chain[n++] = cur;
			if ((t = kbc_pmap_get(&kbc->schema_memo, cur)) != NULL)
				break;
			ref = json_string_value(json_object_get(cur, "$ref"));
			if (ref[0] != '#') {
				kbc_error(kbc, cur, parent, "$ref \"%s\" was "
				    "not bundled (external refs are only "
				    "followed from the root document)", ref);
				return (NULL);
			}
			next = kbc_pointer_get(kbc, root, ref + 1, cur, 1);
			if (next == NULL)
				return (NULL);
			cur = next;
		}
		t = kbc_sc_node(kbc, root, cur, parent);
		if (t == NULL)
			return (NULL);
		for (i = 0; i < n; i++)
			kbc_pmap_put(&kbc->schema_memo, chain[i], t);
		return (t);
	}

	s = kbc_sc_new(kbc, node);
	kbc_pmap_put(&kbc->schema_memo, node, s);
	if ((name = kbc_pmap_get(&kbc->schema_names, node)) != NULL)
		s->s.name = name;
	s->compiling = 1;
	kbc_sc_fill(kbc, root, s, node);
	s->compiling = 0;
	return (s);
}

static void
kbc_sc_fill(struct kbc *kbc, json_t *root, struct kbc_schema *sc,
    json_t *node)
{
	struct kb_schema	*s = &sc->s;
	struct kbc_schema	*c, *target;
	struct kb_schema_prop	*props;
	const char		**req;
	const struct kb_schema	**all;
	const char		*k, *str;
	json_t			*v, *t, *ref;
	size_t			i, n;
	double			d;
	int			errcode;
	PCRE2_SIZE		erroff;
	pcre2_code		*re;
	PCRE2_UCHAR		msg[256];

	if ((v = json_object_get(node, "$ref")) != NULL && !json_is_string(v))
		kbc_error(kbc, v, node, "$ref must be a string");

	for (i = 0; kbc_unsupported[i] != NULL; i++) {
		if ((v = json_object_get(node, kbc_unsupported[i])) != NULL)
			kbc_error(kbc, v, node, "unsupported keyword \"%s\" "
			    "in schema", kbc_unsupported[i]);
	}

	/* type (string or list; 3.0 nullable adds "null") */
	if ((t = json_object_get(node, "type")) != NULL) {
		n = json_is_array(t) ? json_array_size(t) : 1;
		for (i = 0; i < n; i++) {
			v = json_is_array(t) ? json_array_get(t, i) : t;
			str = json_string_value(v);
			if (str == NULL)
				str = "";
			if (strcmp(str, "null") == 0)
				s->types |= KB_T_NULL;
			else if (strcmp(str, "boolean") == 0)
				s->types |= KB_T_BOOLEAN;
			else if (strcmp(str, "integer") == 0)
				s->types |= KB_T_INTEGER;
			else if (strcmp(str, "number") == 0)
				s->types |= KB_T_NUMBER;
			else if (strcmp(str, "string") == 0)
				s->types |= KB_T_STRING;
			else if (strcmp(str, "array") == 0)
				s->types |= KB_T_ARRAY;
			else if (strcmp(str, "object") == 0)
				s->types |= KB_T_OBJECT;
			else
				kbc_error(kbc, v, node, "unknown type \"%s\"",
				    str);
		}
	}
	if (json_is_true(json_object_get(node, "nullable")) && s->types != 0)
		s->types |= KB_T_NULL;

	/* numbers: both 3.0 (boolean) and 3.1 (number) exclusive forms */
	if (kbc_sc_number(kbc, node, node, "minimum", &s->minimum) == 1)
		s->flags |= KB_S_HAS_MIN;
	if (kbc_sc_number(kbc, node, node, "maximum", &s->maximum) == 1)
		s->flags |= KB_S_HAS_MAX;
	v = json_object_get(node, "exclusiveMinimum");
	if (json_is_true(v) && (s->flags & KB_S_HAS_MIN))
		s->flags |= KB_S_EXCL_MIN;
	else if (v != NULL && !json_is_boolean(v) &&
	    kbc_sc_number(kbc, node, node, "exclusiveMinimum", &d) == 1) {
		if (!(s->flags & KB_S_HAS_MIN) || d >= s->minimum) {
			s->minimum = d;
			s->flags |= KB_S_HAS_MIN | KB_S_EXCL_MIN;
		}
	}
	v = json_object_get(node, "exclusiveMaximum");
	if (json_is_true(v) && (s->flags & KB_S_HAS_MAX))
		s->flags |= KB_S_EXCL_MAX;
	else if (v != NULL && !json_is_boolean(v) &&
	    kbc_sc_number(kbc, node, node, "exclusiveMaximum", &d) == 1) {
		if (!(s->flags & KB_S_HAS_MAX) || d <= s->maximum) {
			s->maximum = d;
			s->flags |= KB_S_HAS_MAX | KB_S_EXCL_MAX;
		}
	}
	if (kbc_sc_number(kbc, node, node, "multipleOf", &s->multiple_of) == 1) {
		if (!(s->multiple_of > 0))
			kbc_error(kbc, json_object_get(node, "multipleOf"),
			    node, "multipleOf must be greater than 0");
		s->flags |= KB_S_HAS_MULTIPLE;
	}

	(void)kbc_sc_count(kbc, node, node, "minLength", &s->min_length);
	(void)kbc_sc_count(kbc, node, node, "maxLength", &s->max_length);
	(void)kbc_sc_count(kbc, node, node, "minItems", &s->min_items);
	(void)kbc_sc_count(kbc, node, node, "maxItems", &s->max_items);
	(void)kbc_sc_count(kbc, node, node, "minProperties", &s->min_props);
	(void)kbc_sc_count(kbc, node, node, "maxProperties", &s->max_props);

	if ((v = json_object_get(node, "uniqueItems")) != NULL) {
		if (!json_is_boolean(v))
			kbc_error(kbc, v, node, "uniqueItems must be a boolean");
		else if (json_is_true(v))
			s->flags |= KB_S_UNIQUE_ITEMS;
	}
	if (json_is_true(json_object_get(node, "readOnly")))
		s->flags |= KB_S_READ_ONLY;
	if (json_is_true(json_object_get(node, "writeOnly")))
		s->flags |= KB_S_WRITE_ONLY;

	if ((v = json_object_get(node, "pattern")) != NULL) {
		if (!json_is_string(v)) {
			kbc_error(kbc, v, node, "pattern must be a string");
		} else {
			re = pcre2_compile((PCRE2_SPTR)json_string_value(v),
			    PCRE2_ZERO_TERMINATED, KB_PATTERN_OPTIONS,
			    &errcode, &erroff, NULL);
			if (re == NULL) {
				(void)pcre2_get_error_message(errcode, msg,
				    sizeof(msg));
				kbc_error(kbc, v, node, "invalid pattern "
				    "\"%s\": %s at offset %zu",
				    json_string_value(v), (char *)msg,
				    (size_t)erroff);
			} else {
				pcre2_code_free(re);
				s->pattern = json_string_value(v);
			}
		}
	}

	if ((v = json_object_get(node, "format")) != NULL) {
		if (!json_is_string(v))
			kbc_error(kbc, v, node, "format must be a string");
		else
			s->format = kbc_sc_format(json_string_value(v));
	}

	if ((v = json_object_get(node, "enum")) != NULL) {
		if (!json_is_array(v))
			kbc_error(kbc, v, node, "enum must be a list");
		else {
			char *txt = json_dumps(v, JSON_COMPACT);
			s->enum_json = kbc_strdup(kbc, txt);
			free(txt);
		}
	}
	if ((v = json_object_get(node, "const")) != NULL ||
	    json_object_get(node, "const") != NULL) {
		char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		s->const_json = kbc_strdup(kbc, txt);
		s->flags |= KB_S_HAS_CONST;
		free(txt);
	}

	/* object keywords */
	if ((v = json_object_get(node, "properties")) != NULL) {
		if (!json_is_object(v)) {
			kbc_error(kbc, v, node, "properties must be a mapping");
		} else {
			props = kbc_alloc(kbc, json_object_size(v) *
			    sizeof(*props));
			n = 0;
			json_object_foreach(v, k, t) {
				c = kbc_sc_node(kbc, root, t, v);
				if (c == NULL)
					continue;
				props[n].name = k;
				props[n].schema = &c->s;
				n++;
			}
			s->props = props;
			s->nprops = n;
		}
	}
	if ((v = json_object_get(node, "required")) != NULL) {
		if (!json_is_array(v)) {
			kbc_error(kbc, v, node, "required must be a list of "
			    "property names");
		} else {
			req = kbc_alloc(kbc, (json_array_size(v) + 1) *
			    sizeof(*req));
			for (i = 0; i < json_array_size(v); i++) {
				str = json_string_value(json_array_get(v, i));
				if (str == NULL) {
					kbc_error(kbc, json_array_get(v, i), v,
					    "required must list strings");
					str = "";
				}
				req[i] = str;
			}
			s->required = req;
			s->nrequired = json_array_size(v);
		}
	}
	if ((v = json_object_get(node, "additionalProperties")) != NULL) {
		if (json_is_false(v))
			s->flags |= KB_S_NO_ADDITIONAL;
		else if (!json_is_true(v) && (c = kbc_sc_node(kbc, root, v,
		    node)) != NULL)
			s->additional = &c->s;
	}

	/* arrays */
	if ((v = json_object_get(node, "items")) != NULL) {
		if (json_is_array(v))
			kbc_error(kbc, v, node, "unsupported keyword \"items\" "
			    "as a list (tuple validation)");
		else if ((c = kbc_sc_node(kbc, root, v, node)) != NULL)
			s->items = &c->s;
	}

	/* combinators */
	s->all_of = kbc_sc_list(kbc, root, node, "allOf", &s->nall_of);
	s->any_of = kbc_sc_list(kbc, root, node, "anyOf", &s->nany_of);
	s->one_of = kbc_sc_list(kbc, root, node, "oneOf", &s->none_of);
	if ((v = json_object_get(node, "not")) != NULL &&
	    (c = kbc_sc_node(kbc, root, v, node)) != NULL)
		s->not_schema = &c->s;

	/* 3.1: a $ref with validating siblings is allOf its target, too. */
	if ((ref = json_object_get(node, "$ref")) != NULL &&
	    json_is_string(ref)) {
		target = NULL;
		if (json_string_value(ref)[0] != '#')
			kbc_error(kbc, ref, node, "$ref \"%s\" was not bundled",
			    json_string_value(ref));
		else if ((t = kbc_pointer_get(kbc, root,
		    json_string_value(ref) + 1, node, 1)) != NULL)
			target = kbc_sc_node(kbc, root, t, node);
		if (target != NULL) {
			all = kbc_alloc(kbc, (s->nall_of + 1) * sizeof(*all));
			all[0] = &target->s;
			for (i = 0; i < s->nall_of; i++)
				all[i + 1] = s->all_of[i];
			s->all_of = all;
			s->nall_of++;
		}
	}

	if (json_object_get(node, "discriminator") != NULL)
		kbc_sc_discriminator(kbc, root, sc, node);
}

static const struct kb_schema *const *
kbc_sc_list(struct kbc *kbc, json_t *root, json_t *node, const char *key,
    size_t *count)
{
	const struct kb_schema	**list;
	struct kbc_schema	*c;
	json_t			*v;
	size_t			i, n;

	*count = 0;
	if ((v = json_object_get(node, key)) == NULL)
		return (NULL);
	if (!json_is_array(v) || json_array_size(v) == 0) {
		kbc_error(kbc, v, node, "%s must be a non-empty list of "
		    "schemas", key);
		return (NULL);
	}
	list = kbc_alloc(kbc, json_array_size(v) * sizeof(*list));
	n = 0;
	for (i = 0; i < json_array_size(v); i++) {
		if ((c = kbc_sc_node(kbc, root, json_array_get(v, i), v)) ==
		    NULL)
			continue;
		list[n++] = &c->s;
	}
	*count = n;
	return (list);
}

/*
 * discriminator: explicit mapping (a schema name or a $ref) first, then
 * the implicit one: each oneOf/anyOf branch that is a component by name.
 * Only used when there is a oneOf/anyOf to select from.
 */
static void
kbc_sc_discriminator(struct kbc *kbc, json_t *root, struct kbc_schema *sc,
    json_t *node)
{
	struct kb_schema	*s = &sc->s;
	struct kb_disc_map	*map;
	struct kbc_schema	*c;
	json_t			*d, *mapping, *v, *target, *list;
	const char		*k, *ref, *name;
	size_t			i, j, n, cap;

	d = json_object_get(node, "discriminator");
	if (!json_is_object(d) ||
	    !json_is_string(json_object_get(d, "propertyName"))) {
		kbc_error(kbc, d, node, "discriminator needs a propertyName");
		return;
	}
	list = json_object_get(node, "oneOf");
	if (list == NULL)
		list = json_object_get(node, "anyOf");
	if (!json_is_array(list))
		return;

	mapping = json_object_get(d, "mapping");
	if (mapping != NULL && !json_is_object(mapping)) {
		kbc_error(kbc, mapping, d, "discriminator mapping must be a "
		    "mapping");
		return;
	}

	cap = json_object_size(mapping) + json_array_size(list);
	map = kbc_alloc(kbc, (cap + 1) * sizeof(*map));
	n = 0;
	json_object_foreach(mapping, k, v) {
		if (!json_is_string(v)) {
			kbc_error(kbc, v, mapping, "discriminator mapping "
			    "values must be strings");
			continue;
		}
		ref = json_string_value(v);
		if (strpbrk(ref, "#/") == NULL)
			ref = kbc_sprintf(kbc, "#/components/schemas/%s",
			    kbc_pointer_escape(kbc, ref));
		if (ref[0] != '#') {
			kbc_error(kbc, v, mapping, "discriminator mapping "
			    "\"%s\" was not bundled", ref);
			continue;
		}
		if ((target = kbc_pointer_get(kbc, root, ref + 1, v, 1)) ==
		    NULL)
			continue;
		if ((c = kbc_sc_node(kbc, root, target, v)) == NULL)
			continue;
		map[n].value = k;
		map[n].schema = &c->s;
		n++;
	}

	for (i = 0; i < json_array_size(list); i++) {
		v = json_array_get(list, i);
		if (!json_is_object(v) ||
		    (ref = json_string_value(json_object_get(v, "$ref"))) ==
		    NULL || strncmp(ref, "#/components/schemas/", 21) != 0)
			continue;
		if ((target = kbc_pointer_get(kbc, root, ref + 1, v, 0)) ==
		    NULL || (c = kbc_sc_node(kbc, root, target, v)) == NULL)
			continue;
		name = kbc_pmap_get(&kbc->schema_names, target);
		if (name == NULL)
			continue;
		for (j = 0; j < n; j++) {
			if (map[j].schema == &c->s ||
			    strcmp(map[j].value, name) == 0)
				break;
		}
		if (j < n)
			continue;
		map[n].value = name;
		map[n].schema = &c->s;
		n++;
	}

	s->discriminator = json_string_value(json_object_get(d,
	    "propertyName"));
	s->mapping = map;
	s->nmapping = n;
}

/* Returns 1 when `key` is present and a number, 0 when absent, -1 bad. */
static int
kbc_sc_number(struct kbc *kbc, json_t *node, json_t *parent, const char *key,
    double *out)
{
	json_t		*v;

	if ((v = json_object_get(node, key)) == NULL)
		return (0);
	if (!json_is_number(v)) {
		kbc_error(kbc, v, parent, "%s must be a number", key);
		return (-1);
	}
	*out = json_number_value(v);
	return (1);
}

static int
kbc_sc_count(struct kbc *kbc, json_t *node, json_t *parent, const char *key,
    int64_t *out)
{
	json_t		*v;
	double		d;

	if ((v = json_object_get(node, key)) == NULL)
		return (0);
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return (1);
	}
	if (json_is_real(v) && (d = json_real_value(v)) >= 0 &&
	    d == floor(d) && d < 9.2e18) {
		*out = (int64_t)d;
		return (1);
	}
	kbc_error(kbc, v, parent, "%s must be a non-negative integer", key);
	return (-1);
}

static enum kb_format
kbc_sc_format(const char *f)
{
	static const struct {
		const char	*name;
		enum kb_format	fmt;
	} formats[] = {
		{ "date-time", KB_F_DATE_TIME },
		{ "date", KB_F_DATE },
		{ "time", KB_F_TIME },
		{ "email", KB_F_EMAIL },
		{ "uuid", KB_F_UUID },
		{ "uri", KB_F_URI },
		{ "ipv4", KB_F_IPV4 },
		{ "ipv6", KB_F_IPV6 },
		{ "byte", KB_F_BYTE },
		{ "int32", KB_F_INT32 },
		{ "int64", KB_F_INT64 },
		{ "float", KB_F_FLOAT },
		{ "double", KB_F_DOUBLE },
	};
	size_t		i;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(formats[i].name, f) == 0)
			return (formats[i].fmt);
	}
	return (KB_F_OTHER);
}

static void
kbc_sc_add_edge(const struct kb_schema **edges, size_t *n,
    const struct kb_schema *s)
{
	if (s != NULL)
		edges[(*n)++] = s;
}

/*
 * Edges that validate the same value again (allOf/anyOf/oneOf/not and a
 * discriminator's choice) must not form a cycle, or validation would
 * never end.  Edges into properties/items consume input and may.
 */
static int
kbc_sc_cycle_visit(struct kbc *kbc, struct kbc_schema *c)
{
	const struct kb_schema	*s = &c->s;
	const struct kb_schema	**edges;
	size_t			i, n;
	int			rc;

	if (c->mark == 2)
		return (0);
	if (c->mark == 1) {
		kbc_error(kbc, c->src, NULL, "schema%s%s refers to itself "
		    "through allOf/anyOf/oneOf/not without an object or array "
		    "in between; validation would never end",
		    s->name ? " " : "", s->name ? s->name : "");
		return (-1);
	}
	c->mark = 1;

	edges = kbc_xrealloc(NULL, (s->nall_of + s->nany_of + s->none_of +
	    s->nmapping + 1) * sizeof(*edges));
	n = 0;
	for (i = 0; i < s->nall_of; i++)
		kbc_sc_add_edge(edges, &n, s->all_of[i]);
	for (i = 0; i < s->nany_of; i++)
		kbc_sc_add_edge(edges, &n, s->any_of[i]);
	for (i = 0; i < s->none_of; i++)
		kbc_sc_add_edge(edges, &n, s->one_of[i]);
	for (i = 0; i < s->nmapping; i++)
		kbc_sc_add_edge(edges, &n, s->mapping[i].schema);
	kbc_sc_add_edge(edges, &n, s->not_schema);

	rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = kbc_sc_cycle_visit(kbc, (struct kbc_schema *)edges[i]);
	free(edges);

	c->mark = rc == 0 ? 2 : 2;
	return (rc);
}

int
kbc_schema_check_cycles(struct kbc *kbc)
{
	size_t		i;
	int		rc;

	rc = 0;
	for (i = 0; i < kbc->nschemas; i++) {
		if (kbc_sc_cycle_visit(kbc, kbc->schemas[i]) == -1)
			rc = -1;
	}
	return (rc);
}
