/*
 * kbgen: typed C structs for named object schemas, their JSON decoders
 * and encoders, the per-operation input structs and handler prototypes.
 *
 * Naming (all C identifiers sanitised and made unique):
 *   struct kbg_<Schema>            one per object schema in
 *                                  components/schemas
 *   int kbg_<Schema>_decode(struct kb_ctx *, json_t *, struct kbg_<Schema> *)
 *   json_t *kbg_<Schema>_encode(const struct kbg_<Schema> *)
 *   struct kbg_<opId>_in           typed parameters and body of one op
 *   void kbh_<opId>(struct kb_ctx *, const struct kbg_<opId>_in *)
 */

#include <stdlib.h>
#include <string.h>

#include "emit.h"

#define KBC_ALLOF_DEPTH		32

static const struct kb_schema *kbc_unwrap(const struct kb_schema *);
static int	kbc_objectlike(const struct kb_schema *, int);
static void	kbc_collect(struct kbc *, const struct kb_schema *, json_t *,
		    json_t *, const struct kb_schema ***, size_t *, int);
static void	kbc_field_type(const struct kb_schema *, struct kbc_field *);
static void	kbc_field_names(struct kbc *, struct kbc_field *, size_t,
		    json_t *);
static const char *kbc_ctype_name(struct kbc_emit *, const struct kbc_field *);
static void	kbc_emit_fields(struct kbc_emit *, struct kbc_buf *,
		    struct kbc_field *, size_t);
static void	kbc_emit_decode_one(struct kbc_emit *, struct kbc_buf *,
		    const struct kbc_field *, const char *, const char *,
		    const char *);
static void	kbc_emit_encode_one(struct kbc_emit *, struct kbc_buf *,
		    const struct kbc_field *);
static void	kbc_emit_comment(struct kbc_buf *, const char *, const char *);

/* A schema that is only `allOf: [X]` (3.0's way to annotate a $ref) is X. */
static const struct kb_schema *
kbc_unwrap(const struct kb_schema *s)
{
	int	n;

	for (n = 0; n < KBC_ALLOF_DEPTH && s->types == 0 && s->nall_of == 1 &&
	    s->nprops == 0 && s->nany_of == 0 && s->none_of == 0 &&
	    s->not_schema == NULL && s->enum_json == NULL &&
	    !(s->flags & ~(KB_S_READ_ONLY | KB_S_WRITE_ONLY)); n++)
		s = s->all_of[0];
	return (s);
}

static int
kbc_objectlike(const struct kb_schema *s, int depth)
{
	size_t		i;

	if (depth > KBC_ALLOF_DEPTH || (s->flags & KB_S_FALSE) ||
	    s->nany_of > 0 || s->none_of > 0)
		return (0);
	if ((s->types & ~KB_T_NULL) == KB_T_OBJECT)
		return (1);
	if (s->types != 0)
		return (0);
	if (s->nprops > 0)
		return (1);
	for (i = 0; i < s->nall_of; i++) {
		if (kbc_objectlike(s->all_of[i], depth + 1))
			return (1);
	}
	return (0);
}

/* Own properties, then those of allOf branches; first one wins. */
static void
kbc_collect(struct kbc *kbc, const struct kb_schema *s, json_t *seen,
    json_t *required, const struct kb_schema ***props, size_t *n, int depth)
{
	size_t		i;

	if (depth > KBC_ALLOF_DEPTH)
		return;
	for (i = 0; i < s->nrequired; i++)
		json_object_set_new(required, s->required[i], json_true());
	for (i = 0; i < s->nprops; i++) {
		if (json_object_get(seen, s->props[i].name) != NULL)
			continue;
		json_object_set_new(seen, s->props[i].name,
		    json_integer((json_int_t)*n));
		*props = kbc_xrealloc(*props, (*n + 1) * 2 * sizeof(**props));
		(*props)[*n * 2] = (const struct kb_schema *)s->props[i].name;
		(*props)[*n * 2 + 1] = s->props[i].schema;
		(*n)++;
	}
	for (i = 0; i < s->nall_of; i++)
		kbc_collect(kbc, s->all_of[i], seen, required, props, n,
		    depth + 1);
}

int
kbc_is_struct(const struct kb_schema *s)
{
	json_t				*seen, *req;
	const struct kb_schema		**props;
	size_t				n;

	if (s->name == NULL || !kbc_objectlike(s, 0))
		return (0);
	seen = json_object();
	req = json_object();
	props = NULL;
	n = 0;
	kbc_collect(NULL, s, seen, req, &props, &n, 0);
	json_decref(seen);
	json_decref(req);
	free(props);
	return (n > 0);
}

static void
kbc_field_type(const struct kb_schema *ps, struct kbc_field *f)
{
	const struct kb_schema	*s, *it;
	unsigned int		t;

	s = kbc_unwrap(ps);
	f->array = 0;
	f->st = NULL;
	if (kbc_is_struct(s)) {
		f->type = KBC_CT_STRUCT;
		f->st = s;
		return;
	}
	t = s->types & ~KB_T_NULL;
	if (t == KB_T_ARRAY && s->items != NULL) {
		it = kbc_unwrap(s->items);
		if (kbc_is_struct(it) && !(it->types & KB_T_NULL)) {
			f->type = KBC_CT_STRUCT;
			f->st = it;
			f->array = 1;
			return;
		}
		t = it->types;
		if (t == KB_T_STRING || t == KB_T_INTEGER ||
		    t == KB_T_NUMBER || t == (KB_T_NUMBER | KB_T_INTEGER) ||
		    t == KB_T_BOOLEAN) {
			s = it;
			f->array = 1;
		} else {
			f->type = KBC_CT_JSON;
			return;
		}
		t = s->types;
	}
	if (t == KB_T_STRING)
		f->type = KBC_CT_STRING;
	else if (t == KB_T_INTEGER)
		f->type = KBC_CT_INT;
	else if (t == KB_T_NUMBER || t == (KB_T_NUMBER | KB_T_INTEGER))
		f->type = KBC_CT_NUM;
	else if (t == KB_T_BOOLEAN)
		f->type = KBC_CT_BOOL;
	else
		f->type = KBC_CT_JSON;
}

/* Member names unique within one struct, flags included. */
static void
kbc_field_names(struct kbc *kbc, struct kbc_field *f, size_t n, json_t *set)
{
	size_t		i;

	for (i = 0; i < n; i++)
		f[i].cname = kbc_unique(kbc, set, kbc_cident(kbc,
		    f[i].label ? f[i].label : f[i].key));
	for (i = 0; i < n; i++) {
		if (f[i].array)
			f[i].count_name = kbc_unique(kbc, set,
			    kbc_sprintf(kbc, "n_%s", f[i].cname));
		if (!f[i].required)
			f[i].has_name = kbc_unique(kbc, set,
			    kbc_sprintf(kbc, "has_%s", f[i].cname));
	}
}

int
kbc_emit_types_prepare(struct kbc_emit *e)
{
	struct kbc		*kbc = e->kbc;
	struct kbc_struct	*st;
	struct kbc_op		*op;
	const struct kb_schema	*s, **props;
	json_t			*schemas, *node, *seen, *req, *set;
	const char		*k;
	size_t			i, n, j;

	e->typenames = json_object();
	schemas = json_object_get(json_object_get(e->api->root,
	    "components"), "schemas");

	/* Compile every component (also those no operation uses). */
	json_object_foreach(schemas, k, node) {
		if ((s = kbc_schema_compile(kbc, e->api->root, node,
		    schemas)) == NULL)
			continue;
		if (!kbc_is_struct(s) || kbc_pmap_get(&e->structs, s) != NULL)
			continue;
		st = kbc_alloc(kbc, sizeof(*st));
		st->schema = s;
		st->cname = kbc_unique(kbc, e->typenames,
		    kbc_sprintf(kbc, "kbg_%s", kbc_cident(kbc, s->name)));
		kbc_pmap_put(&e->structs, s, st);
		e->list = kbc_xrealloc(e->list,
		    (e->nlist + 1) * sizeof(*e->list));
		e->list[e->nlist++] = st;
	}
	if (kbc->nerrors > 0 || kbc_schema_check_cycles(kbc) == -1)
		return (-1);

	for (i = 0; i < e->nlist; i++) {
		st = e->list[i];
		seen = json_object();
		req = json_object();
		props = NULL;
		n = 0;
		kbc_collect(kbc, st->schema, seen, req, &props, &n, 0);
		st->fields = kbc_alloc(kbc, n * sizeof(*st->fields));
		st->nfields = n;
		for (j = 0; j < n; j++) {
			st->fields[j].key = (const char *)props[j * 2];
			s = props[j * 2 + 1];
			kbc_field_type(s, &st->fields[j]);
			st->fields[j].required =
			    json_object_get(req, st->fields[j].key) != NULL &&
			    !(s->flags & KB_S_READ_ONLY) &&
			    !(kbc_unwrap(s)->types & KB_T_NULL);
		}
		set = json_object();
		kbc_field_names(kbc, st->fields, n, set);
		json_decref(set);
		json_decref(seen);
		json_decref(req);
		free(props);
	}

	/* Operation names and their input structs. */
	set = json_object();
	e->opfields = kbc_alloc(kbc, (e->api->nops + 1) *
	    sizeof(*e->opfields));
	e->nopfields = kbc_alloc(kbc, (e->api->nops + 1) *
	    sizeof(*e->nopfields));
	for (i = 0; i < e->api->nops; i++) {
		const char	*base, *cname;
		int		n;

		op = e->api->ops[i];
		/* Unique as an operation, and its input struct as a type. */
		base = kbc_cident(kbc, op->op.operation_id);
		cname = base;
		for (n = 2; json_object_get(set, cname) != NULL ||
		    json_object_get(e->typenames, kbc_sprintf(kbc,
		    "kbg_%s_in", cname)) != NULL; n++)
			cname = kbc_sprintf(kbc, "%s_%d", base, n);
		json_object_set_new(set, cname, json_true());
		json_object_set_new(e->typenames, kbc_sprintf(kbc,
		    "kbg_%s_in", cname), json_true());
		op->cname = cname;
	}
	json_decref(set);
	for (i = 0; i < e->api->nops; i++) {
		struct kbc_field	*f;

		op = e->api->ops[i];
		f = kbc_alloc(kbc, (op->op.nparams + 1) * sizeof(*f));
		for (j = 0; j < op->op.nparams; j++) {
			f[j].key = op->params[j].name;
			f[j].label = op->pmeta[j].label;
			f[j].required = op->params[j].required;
			if (op->params[j].content_json)
				f[j].type = KBC_CT_JSON;
			else if (op->params[j].schema == NULL)
				f[j].type = KBC_CT_STRING;
			else
				kbc_field_type(op->params[j].schema, &f[j]);
			if (f[j].type == KBC_CT_STRUCT) {
				f[j].type = KBC_CT_JSON;
				f[j].array = 0;
				f[j].st = NULL;
			}
		}
		set = json_object();
		json_object_set_new(set, "body", json_true());
		json_object_set_new(set, "body_json", json_true());
		json_object_set_new(set, "params_json", json_true());
		kbc_field_names(kbc, f, op->op.nparams, set);
		json_decref(set);
		e->opfields[i] = f;
		e->nopfields[i] = op->op.nparams;
	}
	return (0);
}

static const char *
kbc_ctype_name(struct kbc_emit *e, const struct kbc_field *f)
{
	struct kbc_struct	*st;

	switch (f->type) {
	case KBC_CT_STRING:
		return ("const char *");
	case KBC_CT_INT:
		return ("int64_t ");
	case KBC_CT_NUM:
		return ("double ");
	case KBC_CT_BOOL:
		return ("int ");
	case KBC_CT_STRUCT:
		st = kbc_pmap_get(&e->structs, f->st);
		return (kbc_sprintf(e->kbc, "struct %s *", st->cname));
	default:
		return ("json_t *");
	}
}

/* A comment that cannot be closed early by the text it quotes. */
static void
kbc_emit_comment(struct kbc_buf *b, const char *prefix, const char *text)
{
	kbc_buf_str(b, prefix);
	for (; *text != '\0'; text++) {
		if ((unsigned char)*text < 0x20 || (unsigned char)*text >= 0x7f)
			kbc_buf_add(b, "?", 1);
		else if (text[0] == '*' && text[1] == '/')
			kbc_buf_add(b, "* ", 2);
		else if (text[0] == '/' && text[1] == '*')
			kbc_buf_add(b, "/ ", 2);
		else if (text[0] == '?' && text[1] == '?')
			kbc_buf_add(b, "? ", 2);
		else if (text[0] == '\\')
			kbc_buf_add(b, "/", 1);
		else
			kbc_buf_add(b, text, 1);
	}
	kbc_buf_str(b, " */\n");
}

static void
kbc_emit_fields(struct kbc_emit *e, struct kbc_buf *b, struct kbc_field *f,
    size_t n)
{
	size_t		i;
	const char	*t;

	for (i = 0; i < n; i++) {
		t = kbc_ctype_name(e, &f[i]);
		if (f[i].array) {
			kbc_buf_printf(b, "\tsize_t\t%s;\n", f[i].count_name);
			if (f[i].type == KBC_CT_STRUCT)
				kbc_buf_printf(b, "\t%s%s;", t, f[i].cname);
			else
				kbc_buf_printf(b, "\t%s*%s;", t, f[i].cname);
		} else {
			kbc_buf_printf(b, "\t%s%s;", t, f[i].cname);
		}
		kbc_emit_comment(b, "\t/* ", f[i].key);
		if (f[i].has_name != NULL)
			kbc_buf_printf(b, "\tint\t%s;\n", f[i].has_name);
	}
}

void
kbc_emit_types_h(struct kbc_emit *e, struct kbc_buf *b)
{
	size_t			i;
	struct kbc_struct	*st;

	kbc_buf_str(b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n#ifndef KBG_TYPES_H\n#define KBG_TYPES_H\n\n"
	    "#include <stddef.h>\n#include <stdint.h>\n\n"
	    "#include <jansson.h>\n\n#include \"kb_rt.h\"\n\n"
	    "/*\n * One struct per object schema in components/schemas.\n"
	    " * Strings and json_t * members are borrowed from the decoded "
	    "JSON,\n * which outlives the request; arrays are a count and a "
	    "pointer;\n * optional (or nullable) members have a has_ flag, "
	    "set when the\n * member was present and not null.  Decoders "
	    "allocate with\n * kb_ctx_alloc() and return 0, or -1 when the "
	    "JSON does not fit.\n * Encoders return a new reference.\n */\n\n");

	for (i = 0; i < e->nlist; i++)
		kbc_buf_printf(b, "struct %s;\n", e->list[i]->cname);
	kbc_buf_str(b, "\n");

	for (i = 0; i < e->nlist; i++) {
		st = e->list[i];
		kbc_emit_comment(b, "/* ", st->schema->name);
		kbc_buf_printf(b, "struct %s {\n", st->cname);
		kbc_emit_fields(e, b, st->fields, st->nfields);
		kbc_buf_str(b, "};\n\n");
		kbc_buf_printf(b, "int\t%s_decode(struct kb_ctx *, json_t *, "
		    "struct %s *);\n", st->cname, st->cname);
		kbc_buf_printf(b, "json_t\t*%s_encode(const struct %s *);\n\n",
		    st->cname, st->cname);
	}
	kbc_buf_str(b, "#endif /* KBG_TYPES_H */\n");
}

/*
 * Decode JSON value `v` into `dst` (an lvalue prefix like "out->"),
 * running `fail` when it does not fit.
 */
static void
kbc_emit_decode_one(struct kbc_emit *e, struct kbc_buf *b,
    const struct kbc_field *f, const char *dst, const char *obj,
    const char *fail)
{
	struct kbc_struct	*st;
	const char		*fn;

	kbc_buf_str(b, "\tv = json_object_get(");
	kbc_buf_str(b, obj);
	kbc_buf_str(b, ", ");
	kbc_buf_cstring(b, f->key);
	kbc_buf_str(b, ");\n\tif (v != NULL && !json_is_null(v)) {\n");

	st = f->type == KBC_CT_STRUCT ? kbc_pmap_get(&e->structs, f->st) :
	    NULL;
	switch (f->type) {
	case KBC_CT_STRING:
		fn = "kbg_dec_str";
		break;
	case KBC_CT_INT:
		fn = "kbg_dec_int";
		break;
	case KBC_CT_NUM:
		fn = "kbg_dec_num";
		break;
	case KBC_CT_BOOL:
		fn = "kbg_dec_bool";
		break;
	default:
		fn = NULL;
		break;
	}

	if (f->array) {
		kbc_buf_printf(b, "\t\tif (!json_is_array(v))\n\t\t\t%s\n"
		    "\t\t%s%s = json_array_size(v);\n"
		    "\t\t%s%s = kb_ctx_alloc(ctx, (%s%s + 1) * "
		    "sizeof(*%s%s));\n"
		    "\t\tfor (i = 0; i < %s%s; i++) {\n",
		    fail, dst, f->count_name, dst, f->cname, dst,
		    f->count_name, dst, f->cname, dst, f->count_name);
		if (st != NULL)
			kbc_buf_printf(b, "\t\t\tif (%s_decode(ctx, "
			    "json_array_get(v, i), &%s%s[i]) == -1)\n"
			    "\t\t\t\t%s\n", st->cname, dst, f->cname, fail);
		else
			kbc_buf_printf(b, "\t\t\tif (%s(json_array_get(v, i), "
			    "&%s%s[i]) == -1)\n\t\t\t\t%s\n", fn, dst,
			    f->cname, fail);
		kbc_buf_str(b, "\t\t}\n");
	} else if (st != NULL) {
		kbc_buf_printf(b, "\t\t%s%s = kb_ctx_alloc(ctx, "
		    "sizeof(*%s%s));\n\t\tif (%s_decode(ctx, v, %s%s) == -1)\n"
		    "\t\t\t%s\n", dst, f->cname, dst, f->cname, st->cname,
		    dst, f->cname, fail);
	} else if (fn != NULL) {
		kbc_buf_printf(b, "\t\tif (%s(v, &%s%s) == -1)\n\t\t\t%s\n",
		    fn, dst, f->cname, fail);
	} else {
		kbc_buf_printf(b, "\t\t%s%s = v;\n", dst, f->cname);
	}

	if (f->has_name != NULL)
		kbc_buf_printf(b, "\t\t%s%s = 1;\n", dst, f->has_name);
	kbc_buf_str(b, "\t}");
	if (f->required)
		kbc_buf_printf(b, " else\n\t\t%s\n", fail);
	else
		kbc_buf_str(b, "\n");
}

static void
kbc_emit_encode_one(struct kbc_emit *e, struct kbc_buf *b,
    const struct kbc_field *f)
{
	struct kbc_struct	*st;
	const char		*ind, *item;

	st = f->type == KBC_CT_STRUCT ? kbc_pmap_get(&e->structs, f->st) :
	    NULL;
	ind = "\t";
	if (f->has_name != NULL) {
		kbc_buf_printf(b, "\tif (in->%s) {\n", f->has_name);
		ind = "\t\t";
	}

	if (f->array) {
		kbc_buf_printf(b, "%sa = json_array();\n%sfor (i = 0; i < "
		    "in->%s; i++)\n%s\tjson_array_append_new(a, ", ind, ind,
		    f->count_name, ind);
		item = kbc_sprintf(e->kbc, "in->%s[i]", f->cname);
	} else {
		kbc_buf_printf(b, "%sjson_object_set_new(o, ", ind);
		kbc_buf_cstring(b, f->key);
		kbc_buf_str(b, ", ");
		item = kbc_sprintf(e->kbc, "in->%s", f->cname);
	}

	switch (f->type) {
	case KBC_CT_STRING:
		kbc_buf_printf(b, "%s != NULL ? json_string(%s) : json_null()",
		    item, item);
		break;
	case KBC_CT_INT:
		kbc_buf_printf(b, "json_integer((json_int_t)%s)", item);
		break;
	case KBC_CT_NUM:
		kbc_buf_printf(b, "json_real(%s)", item);
		break;
	case KBC_CT_BOOL:
		kbc_buf_printf(b, "json_boolean(%s)", item);
		break;
	case KBC_CT_STRUCT:
		if (f->array)
			kbc_buf_printf(b, "%s_encode(&%s)", st->cname, item);
		else
			kbc_buf_printf(b, "%s != NULL ? %s_encode(%s) : "
			    "json_null()", item, st->cname, item);
		break;
	default:
		kbc_buf_printf(b, "%s != NULL ? json_incref(%s) : json_null()",
		    item, item);
		break;
	}
	kbc_buf_str(b, ");\n");

	if (f->array) {
		kbc_buf_printf(b, "%sjson_object_set_new(o, ", ind);
		kbc_buf_cstring(b, f->key);
		kbc_buf_str(b, ", a);\n");
	}
	if (f->has_name != NULL)
		kbc_buf_str(b, "\t}\n");
}

void
kbc_emit_types_c(struct kbc_emit *e, struct kbc_buf *b)
{
	struct kbc_struct	*st;
	size_t			i, j;
	int			arrays;

	kbc_buf_str(b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n#include <stddef.h>\n#include <stdint.h>\n\n"
	    "#include <jansson.h>\n\n#include \"kbg_types.h\"\n\n"
	    "/* Scalar decoders shared by the struct and input decoders. */\n"
	    "int\tkbg_dec_str(json_t *, const char **);\n"
	    "int\tkbg_dec_int(json_t *, int64_t *);\n"
	    "int\tkbg_dec_num(json_t *, double *);\n"
	    "int\tkbg_dec_bool(json_t *, int *);\n\n"
	    "int\nkbg_dec_str(json_t *v, const char **out)\n{\n"
	    "\tif (json_is_null(v)) {\n\t\t*out = NULL;\n\t\treturn (0);\n\t}\n"
	    "\tif (!json_is_string(v))\n\t\treturn (-1);\n"
	    "\t*out = json_string_value(v);\n\treturn (0);\n}\n\n"
	    "int\nkbg_dec_int(json_t *v, int64_t *out)\n{\n"
	    "\tdouble\td;\n\n"
	    "\tif (json_is_integer(v)) {\n"
	    "\t\t*out = (int64_t)json_integer_value(v);\n\t\treturn (0);\n\t}\n"
	    "\tif (!json_is_real(v))\n\t\treturn (-1);\n"
	    "\td = json_real_value(v);\n"
	    "\tif (d != (double)(int64_t)d)\n\t\treturn (-1);\n"
	    "\t*out = (int64_t)d;\n\treturn (0);\n}\n\n"
	    "int\nkbg_dec_num(json_t *v, double *out)\n{\n"
	    "\tif (!json_is_number(v))\n\t\treturn (-1);\n"
	    "\t*out = json_number_value(v);\n\treturn (0);\n}\n\n"
	    "int\nkbg_dec_bool(json_t *v, int *out)\n{\n"
	    "\tif (!json_is_boolean(v))\n\t\treturn (-1);\n"
	    "\t*out = json_is_true(v);\n\treturn (0);\n}\n\n");

	for (i = 0; i < e->nlist; i++) {
		st = e->list[i];
		arrays = 0;
		for (j = 0; j < st->nfields; j++)
			arrays |= st->fields[j].array;

		kbc_buf_printf(b, "int\n%s_decode(struct kb_ctx *ctx, json_t "
		    "*j, struct %s *out)\n{\n\tjson_t\t*v;\n", st->cname,
		    st->cname);
		if (arrays)
			kbc_buf_str(b, "\tsize_t\ti;\n");
		kbc_buf_str(b, "\n\t(void)ctx;\n\tif (!json_is_object(j))\n"
		    "\t\treturn (-1);\n");
		for (j = 0; j < st->nfields; j++)
			kbc_emit_decode_one(e, b, &st->fields[j], "out->", "j",
			    "return (-1);");
		kbc_buf_str(b, "\treturn (0);\n}\n\n");

		kbc_buf_printf(b, "json_t *\n%s_encode(const struct %s *in)\n"
		    "{\n\tjson_t\t*o;\n", st->cname, st->cname);
		if (arrays)
			kbc_buf_str(b, "\tjson_t\t*a;\n\tsize_t\ti;\n");
		kbc_buf_str(b, "\n\tif (in == NULL)\n\t\treturn (json_null());\n"
		    "\tif ((o = json_object()) == NULL)\n\t\treturn (NULL);\n");
		for (j = 0; j < st->nfields; j++)
			kbc_emit_encode_one(e, b, &st->fields[j]);
		kbc_buf_str(b, "\treturn (o);\n}\n\n");
	}
}

void
kbc_emit_handlers_h(struct kbc_emit *e, struct kbc_buf *b)
{
	struct kbc_op	*op;
	size_t		i;

	kbc_buf_str(b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n#ifndef KBG_HANDLERS_H\n"
	    "#define KBG_HANDLERS_H\n\n#include \"kbg_types.h\"\n\n"
	    "/*\n * One input struct and one handler per operation.  The "
	    "input is\n * allocated with kb_ctx_alloc() and stays valid until "
	    "the request\n * ends, so an asynchronous handler may keep it "
	    "until it responds.\n * body_json and params_json are borrowed: "
	    "the validated body (or\n * NULL) and the object of coerced "
	    "parameters.  Handlers are weak:\n * an operation whose handler "
	    "is not linked in answers 501.\n */\n\n");

	for (i = 0; i < e->api->nops; i++) {
		op = e->api->ops[i];
		kbc_emit_comment(b, "/* ", kbc_sprintf(e->kbc, "%s %s (%s)",
		    op->op.method, op->op.path, op->op.operation_id));
		kbc_buf_printf(b, "struct kbg_%s_in {\n", op->cname);
		kbc_emit_fields(e, b, e->opfields[i], e->nopfields[i]);
		if (op->body_struct != NULL)
			kbc_buf_printf(b, "\tstruct %s *body;\n",
			    ((struct kbc_struct *)kbc_pmap_get(&e->structs,
			    op->body_struct))->cname);
		kbc_buf_str(b, "\tjson_t\t*body_json;\n\tjson_t\t*params_json;\n"
		    "};\n\n");
		kbc_buf_printf(b, "void\tkbh_%s(struct kb_ctx *, const struct "
		    "kbg_%s_in *)\n\t    __attribute__((weak));\n\n",
		    op->cname, op->cname);
	}
	kbc_buf_str(b, "#endif /* KBG_HANDLERS_H */\n");
}

void
kbc_emit_invokers(struct kbc_emit *e, struct kbc_buf *b)
{
	struct kbc_op		*op;
	struct kbc_struct	*st;
	size_t			i, j;
	int			arrays;

	kbc_buf_str(b, "int\tkbg_dec_str(json_t *, const char **);\n"
	    "int\tkbg_dec_int(json_t *, int64_t *);\n"
	    "int\tkbg_dec_num(json_t *, double *);\n"
	    "int\tkbg_dec_bool(json_t *, int *);\n\n");

	for (i = 0; i < e->api->nops; i++) {
		op = e->api->ops[i];
		arrays = 0;
		for (j = 0; j < e->nopfields[i]; j++)
			arrays |= e->opfields[i][j].array;

		kbc_buf_printf(b, "static int\nkbi_%s(struct kb_ctx *ctx, "
		    "json_t *params, json_t *body)\n{\n"
		    "\tstruct kbg_%s_in\t*in;\n", op->cname, op->cname);
		if (e->nopfields[i] > 0)
			kbc_buf_str(b, "\tjson_t\t*v;\n");
		if (arrays)
			kbc_buf_str(b, "\tsize_t\ti;\n");
		kbc_buf_printf(b, "\n\tif (kbh_%s == NULL)\n"
		    "\t\treturn (KB_INVOKE_MISSING);\n"
		    "\tin = kb_ctx_alloc(ctx, sizeof(*in));\n"
		    "\tin->params_json = params;\n\tin->body_json = body;\n",
		    op->cname);
		for (j = 0; j < e->nopfields[i]; j++)
			kbc_emit_decode_one(e, b, &e->opfields[i][j], "in->",
			    "params", "return (KB_INVOKE_DECODE);");
		if (op->body_struct != NULL) {
			st = kbc_pmap_get(&e->structs, op->body_struct);
			kbc_buf_printf(b, "\tif (body != NULL && "
			    "!json_is_null(body)) {\n"
			    "\t\tin->body = kb_ctx_alloc(ctx, "
			    "sizeof(*in->body));\n"
			    "\t\tif (%s_decode(ctx, body, in->body) == -1)\n"
			    "\t\t\treturn (KB_INVOKE_DECODE);\n\t}\n",
			    st->cname);
		}
		kbc_buf_printf(b, "\tkbh_%s(ctx, in);\n"
		    "\treturn (KB_INVOKE_OK);\n}\n\n", op->cname);
		kbc_buf_printf(b, "static int\nkbm_%s(void)\n{\n"
		    "\treturn (kbh_%s != NULL);\n}\n\n", op->cname, op->cname);
	}
}
