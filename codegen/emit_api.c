/*
 * kbgen: the API tables (kbg_api.c), the embedded spec (kbg_spec.c) and
 * writing OUTDIR.
 *
 * Output is deterministic: schemas are numbered in the order a depth-first
 * walk from the operations (in spec order) first meets them, router nodes
 * in creation order, and nothing depends on addresses or the clock.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emit.h"

static void	kbc_emit_number(struct kbc_schema *, struct kbc_schema **,
		    size_t *, size_t *);
static void	kbc_emit_schema_walk(const struct kb_schema *,
		    struct kbc_schema ***, size_t *, size_t *);
static void	kbc_emit_schema(struct kbc_buf *, struct kbc_schema *);
static void	kbc_emit_sref(struct kbc_buf *, const struct kb_schema *);
static void	kbc_emit_double(struct kbc_buf *, double);
static void	kbc_emit_strlist(struct kbc_buf *, const char *,
		    const char *const *, size_t);
static int	kbc_mkdirs(struct kbc *, const char *);
static int	kbc_write(struct kbc *, const char *, const char *,
		    const struct kbc_buf *);

static void
kbc_emit_schema_walk(const struct kb_schema *s, struct kbc_schema ***list,
    size_t *n, size_t *cap)
{
	struct kbc_schema	*c;
	size_t			i;

	if (s == NULL)
		return;
	c = (struct kbc_schema *)s;
	if (c->id >= 0)
		return;
	kbc_emit_number(c, NULL, n, cap);
	if (*n > *cap) {
		*cap = *n * 2;
		*list = kbc_xrealloc(*list, *cap * sizeof(**list));
	}
	(*list)[*n - 1] = c;

	for (i = 0; i < s->nprops; i++)
		kbc_emit_schema_walk(s->props[i].schema, list, n, cap);
	kbc_emit_schema_walk(s->additional, list, n, cap);
	kbc_emit_schema_walk(s->items, list, n, cap);
	for (i = 0; i < s->nall_of; i++)
		kbc_emit_schema_walk(s->all_of[i], list, n, cap);
	for (i = 0; i < s->nany_of; i++)
		kbc_emit_schema_walk(s->any_of[i], list, n, cap);
	for (i = 0; i < s->none_of; i++)
		kbc_emit_schema_walk(s->one_of[i], list, n, cap);
	kbc_emit_schema_walk(s->not_schema, list, n, cap);
	for (i = 0; i < s->nmapping; i++)
		kbc_emit_schema_walk(s->mapping[i].schema, list, n, cap);
}

static void
kbc_emit_number(struct kbc_schema *c, struct kbc_schema **unused, size_t *n,
    size_t *cap)
{
	(void)unused;
	(void)cap;
	c->id = (int)(*n)++;
}

static void
kbc_emit_sref(struct kbc_buf *b, const struct kb_schema *s)
{
	if (s == NULL)
		kbc_buf_str(b, "NULL");
	else
		kbc_buf_printf(b, "&kbs_%d", ((const struct kbc_schema *)s)->id);
}

/* Exact and portable: integers as integers, else 17 significant digits. */
static void
kbc_emit_double(struct kbc_buf *b, double d)
{
	if (d == (double)(long long)d && d > -9e15 && d < 9e15)
		kbc_buf_printf(b, "%lld.0", (long long)d);
	else
		kbc_buf_printf(b, "%.17g", d);
}

static void
kbc_emit_strlist(struct kbc_buf *b, const char *name,
    const char *const *list, size_t n)
{
	size_t		i;

	kbc_buf_printf(b, "static const char *const %s[] = { ", name);
	for (i = 0; i < n; i++) {
		kbc_buf_cstring(b, list[i]);
		kbc_buf_str(b, ", ");
	}
	kbc_buf_str(b, "NULL };\n");
}

static void
kbc_emit_schema(struct kbc_buf *b, struct kbc_schema *c)
{
	const struct kb_schema	*s = &c->s;
	size_t			i;
	int			id = c->id;
	char			name[64];

	kbc_buf_printf(b, "static struct kb_schema_cache kbsc_%d;\n", id);
	if (s->nprops > 0) {
		kbc_buf_printf(b, "static const struct kb_schema_prop "
		    "kbs_%d_p[] = {\n", id);
		for (i = 0; i < s->nprops; i++) {
			kbc_buf_str(b, "\t{ ");
			kbc_buf_cstring(b, s->props[i].name);
			kbc_buf_str(b, ", ");
			kbc_emit_sref(b, s->props[i].schema);
			kbc_buf_str(b, " },\n");
		}
		kbc_buf_str(b, "};\n");
	}
	if (s->nrequired > 0) {
		(void)snprintf(name, sizeof(name), "kbs_%d_r", id);
		kbc_emit_strlist(b, name, s->required, s->nrequired);
	}
#define KBC_LIST(field, n, suffix)					\
	if (s->n > 0) {							\
		kbc_buf_printf(b, "static const struct kb_schema *const "	\
		    "kbs_%d_%s[] = { ", id, suffix);			\
		for (i = 0; i < s->n; i++) {				\
			kbc_emit_sref(b, s->field[i]);			\
			kbc_buf_str(b, ", ");				\
		}							\
		kbc_buf_str(b, "};\n");					\
	}
	KBC_LIST(all_of, nall_of, "all")
	KBC_LIST(any_of, nany_of, "any")
	KBC_LIST(one_of, none_of, "one")
#undef KBC_LIST
	if (s->nmapping > 0) {
		kbc_buf_printf(b, "static const struct kb_disc_map "
		    "kbs_%d_m[] = {\n", id);
		for (i = 0; i < s->nmapping; i++) {
			kbc_buf_str(b, "\t{ ");
			kbc_buf_cstring(b, s->mapping[i].value);
			kbc_buf_str(b, ", ");
			kbc_emit_sref(b, s->mapping[i].schema);
			kbc_buf_str(b, " },\n");
		}
		kbc_buf_str(b, "};\n");
	}

	kbc_buf_printf(b, "static const struct kb_schema kbs_%d = {", id);
	if (s->name != NULL) {
		kbc_buf_str(b, "\n\t.name = ");
		kbc_buf_cstring(b, s->name);
		kbc_buf_str(b, ",");
	}
	kbc_buf_printf(b, "\n\t.types = 0x%02x, .flags = 0x%04x, .format = %d,",
	    s->types, s->flags, (int)s->format);
	if (s->flags & KB_S_HAS_MIN) {
		kbc_buf_str(b, "\n\t.minimum = ");
		kbc_emit_double(b, s->minimum);
		kbc_buf_str(b, ",");
	}
	if (s->flags & KB_S_HAS_MAX) {
		kbc_buf_str(b, "\n\t.maximum = ");
		kbc_emit_double(b, s->maximum);
		kbc_buf_str(b, ",");
	}
	if (s->flags & KB_S_HAS_MULTIPLE) {
		kbc_buf_str(b, "\n\t.multiple_of = ");
		kbc_emit_double(b, s->multiple_of);
		kbc_buf_str(b, ",");
	}
	kbc_buf_printf(b, "\n\t.min_length = %lld, .max_length = %lld, "
	    ".min_items = %lld, .max_items = %lld,\n\t.min_props = %lld, "
	    ".max_props = %lld,", (long long)s->min_length,
	    (long long)s->max_length, (long long)s->min_items,
	    (long long)s->max_items, (long long)s->min_props,
	    (long long)s->max_props);
	if (s->pattern != NULL) {
		kbc_buf_str(b, "\n\t.pattern = ");
		kbc_buf_cstring(b, s->pattern);
		kbc_buf_str(b, ",");
	}
	if (s->enum_json != NULL) {
		kbc_buf_str(b, "\n\t.enum_json = ");
		kbc_buf_cstring(b, s->enum_json);
		kbc_buf_str(b, ",");
	}
	if (s->const_json != NULL) {
		kbc_buf_str(b, "\n\t.const_json = ");
		kbc_buf_cstring(b, s->const_json);
		kbc_buf_str(b, ",");
	}
	if (s->nprops > 0)
		kbc_buf_printf(b, "\n\t.props = kbs_%d_p, .nprops = %zu,", id,
		    s->nprops);
	if (s->nrequired > 0)
		kbc_buf_printf(b, "\n\t.required = kbs_%d_r, .nrequired = %zu,",
		    id, s->nrequired);
	if (s->additional != NULL) {
		kbc_buf_str(b, "\n\t.additional = ");
		kbc_emit_sref(b, s->additional);
		kbc_buf_str(b, ",");
	}
	if (s->items != NULL) {
		kbc_buf_str(b, "\n\t.items = ");
		kbc_emit_sref(b, s->items);
		kbc_buf_str(b, ",");
	}
	if (s->nall_of > 0)
		kbc_buf_printf(b, "\n\t.all_of = kbs_%d_all, .nall_of = %zu,",
		    id, s->nall_of);
	if (s->nany_of > 0)
		kbc_buf_printf(b, "\n\t.any_of = kbs_%d_any, .nany_of = %zu,",
		    id, s->nany_of);
	if (s->none_of > 0)
		kbc_buf_printf(b, "\n\t.one_of = kbs_%d_one, .none_of = %zu,",
		    id, s->none_of);
	if (s->not_schema != NULL) {
		kbc_buf_str(b, "\n\t.not_schema = ");
		kbc_emit_sref(b, s->not_schema);
		kbc_buf_str(b, ",");
	}
	if (s->discriminator != NULL) {
		kbc_buf_str(b, "\n\t.discriminator = ");
		kbc_buf_cstring(b, s->discriminator);
		kbc_buf_str(b, ",");
		if (s->nmapping > 0)
			kbc_buf_printf(b, "\n\t.mapping = kbs_%d_m, "
			    ".nmapping = %zu,", id, s->nmapping);
	}
	kbc_buf_printf(b, "\n\t.cache = &kbsc_%d,\n};\n\n", id);
}

void
kbc_emit_api_c(struct kbc_emit *e, struct kbc_buf *b, size_t spec_len)
{
	struct kbc_api		*api = e->api;
	struct kbc_schema	**list;
	struct kbc_op		*op;
	struct kbc_node		*node;
	const struct kb_path_item *pi;
	size_t			n, cap, i, j;
	char			name[64];

	kbc_buf_str(b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n#include <stddef.h>\n\n"
	    "#include \"kbg_api.h\"\n#include \"kbg_handlers.h\"\n\n");

	/* Schemas reachable from parameters and bodies. */
	list = NULL;
	n = cap = 0;
	for (i = 0; i < api->nops; i++) {
		op = api->ops[i];
		for (j = 0; j < op->op.nparams; j++)
			kbc_emit_schema_walk(op->params[j].schema, &list, &n,
			    &cap);
		if (op->op.body != NULL)
			kbc_emit_schema_walk(op->op.body->schema, &list, &n,
			    &cap);
	}
	kbc_buf_printf(b, "/* %zu compiled schemas */\n", n);
	for (i = 0; i < n; i++)
		kbc_buf_printf(b, "static const struct kb_schema kbs_%zu;\n", i);
	kbc_buf_str(b, "\n");
	for (i = 0; i < n; i++)
		kbc_emit_schema(b, list[i]);
	free(list);

	/* Typed invokers. */
	kbc_emit_invokers(e, b);

	/* Operations. */
	for (i = 0; i < api->nops; i++) {
		op = api->ops[i];
		if (op->op.nparams > 0) {
			kbc_buf_printf(b, "static const struct kb_param "
			    "kbo_%zu_p[] = {\n", i);
			for (j = 0; j < op->op.nparams; j++) {
				kbc_buf_str(b, "\t{ ");
				kbc_buf_cstring(b, op->params[j].name);
				kbc_buf_printf(b, ", %d, %d, %d, ",
				    (int)op->params[j].in,
				    op->params[j].required,
				    op->params[j].explode);
				kbc_emit_sref(b, op->params[j].schema);
				kbc_buf_printf(b, ", %d, %d },\n",
				    (int)op->params[j].style,
				    op->params[j].content_json);
			}
			kbc_buf_str(b, "};\n");
		}
		if (op->op.body != NULL) {
			(void)snprintf(name, sizeof(name), "kbo_%zu_mt", i);
			kbc_emit_strlist(b, name, op->op.body->media_types,
			    op->op.body->nmedia_types);
			kbc_buf_printf(b, "static const struct kb_body "
			    "kbo_%zu_b = { %d, kbo_%zu_mt, %zu, ", i,
			    op->op.body->required, i,
			    op->op.body->nmedia_types);
			kbc_emit_sref(b, op->op.body->schema);
			kbc_buf_str(b, " };\n");
		}
		if (op->op.roles != NULL) {
			for (j = 0; op->op.roles[j] != NULL; j++)
				;
			(void)snprintf(name, sizeof(name), "kbo_%zu_roles", i);
			kbc_emit_strlist(b, name, op->op.roles, j);
		}
		if (op->op.scopes != NULL) {
			for (j = 0; op->op.scopes[j] != NULL; j++)
				;
			(void)snprintf(name, sizeof(name), "kbo_%zu_scopes", i);
			kbc_emit_strlist(b, name, op->op.scopes, j);
		}
		kbc_buf_printf(b, "static const struct kb_op kbo_%zu = {\n"
		    "\t.operation_id = ", i);
		kbc_buf_cstring(b, op->op.operation_id);
		kbc_buf_printf(b, ",\n\t.method = \"%s\",\n\t.path = ",
		    op->op.method);
		kbc_buf_cstring(b, op->op.path);
		kbc_buf_str(b, ",\n\t.summary = ");
		kbc_buf_cstring(b, op->op.summary);
		kbc_buf_str(b, ",\n");
		if (op->op.nparams > 0)
			kbc_buf_printf(b, "\t.params = kbo_%zu_p, .nparams = "
			    "%zu,\n", i, op->op.nparams);
		if (op->op.body != NULL)
			kbc_buf_printf(b, "\t.body = &kbo_%zu_b,\n", i);
		if (op->op.roles != NULL)
			kbc_buf_printf(b, "\t.roles = kbo_%zu_roles,\n", i);
		if (op->op.scopes != NULL)
			kbc_buf_printf(b, "\t.scopes = kbo_%zu_scopes,\n", i);
		kbc_buf_printf(b, "\t.tenant_param = %d,\n",
		    op->op.tenant_param);
		kbc_buf_printf(b, "\t.secured = %d,\n\t.invoke = kbi_%s,\n"
		    "\t.implemented = kbm_%s,\n};\n\n", op->op.secured,
		    op->cname, op->cname);
	}
	kbc_buf_str(b, "static const struct kb_op *const kbg_ops[] = {\n");
	for (i = 0; i < api->nops; i++)
		kbc_buf_printf(b, "\t&kbo_%zu,\n", i);
	kbc_buf_str(b, "\tNULL\n};\n\n");

	/* Path items. */
	for (i = 0; i < api->api.npaths; i++) {
		pi = &api->paths[i];
		(void)snprintf(name, sizeof(name), "kbg_path_%zu_names", i);
		kbc_emit_strlist(b, name, pi->param_names, pi->nparam_names);
	}
	kbc_buf_str(b, "\nstatic const struct kb_path_item kbg_paths[] = {\n");
	for (i = 0; i < api->api.npaths; i++) {
		static const char	*mnames[KB_M_COUNT] = {
			"KB_M_GET", "KB_M_PUT", "KB_M_POST", "KB_M_DELETE",
			"KB_M_OPTIONS", "KB_M_HEAD", "KB_M_PATCH", "KB_M_TRACE"
		};
		pi = &api->paths[i];
		kbc_buf_str(b, "\t{\n\t\t.path = ");
		kbc_buf_cstring(b, pi->path);
		kbc_buf_str(b, ",\n\t\t.ops = {");
		for (j = 0; j < KB_M_COUNT; j++) {
			if (pi->ops[j] == NULL)
				continue;
			kbc_buf_printf(b, " [%s] = &kbo_%d,", mnames[j],
			    ((const struct kbc_op *)pi->ops[j])->index);
		}
		kbc_buf_str(b, " },\n\t\t.allow = ");
		kbc_buf_cstring(b, pi->allow);
		kbc_buf_printf(b, ",\n\t\t.param_names = kbg_path_%zu_names,\n"
		    "\t\t.nparam_names = %zu,\n\t},\n", i, pi->nparam_names);
	}
	if (api->api.npaths == 0)
		kbc_buf_str(b, "\t{ .path = NULL }\n");
	kbc_buf_str(b, "};\n\n");

	/* Router trie. */
	for (i = 0; i < api->nnodes; i++)
		kbc_buf_printf(b, "static const struct kb_route_node kbn_%zu;\n",
		    i);
	kbc_buf_str(b, "\n");
	for (i = 0; i < api->nnodes; i++) {
		node = api->nodes[i];
		if (node->n.nedges > 0) {
			kbc_buf_printf(b, "static const struct kb_route_edge "
			    "kbn_%zu_e[] = {\n", i);
			for (j = 0; j < node->n.nedges; j++) {
				kbc_buf_str(b, "\t{ ");
				kbc_buf_cstring(b, node->n.edges[j].seg);
				kbc_buf_printf(b, ", %zu, &kbn_%d },\n",
				    node->n.edges[j].len,
				    ((const struct kbc_node *)
				    node->n.edges[j].node)->id);
			}
			kbc_buf_str(b, "};\n");
		}
		if (node->n.nmore_params > 0) {
			for (j = 0; j < node->n.nmore_params; j++) {
				if (node->n.more_params[j].nseps == 0)
					continue;
				(void)snprintf(name, sizeof(name),
				    "kbn_%zu_s%zu", i, j);
				kbc_emit_strlist(b, name,
				    node->n.more_params[j].seps,
				    node->n.more_params[j].nseps);
			}
			kbc_buf_printf(b, "static const struct kb_route_param "
			    "kbn_%zu_m[] = {\n", i);
			for (j = 0; j < node->n.nmore_params; j++) {
				kbc_buf_str(b, "\t{ .prefix = ");
				kbc_buf_cstring(b, node->n.more_params[j].prefix);
				kbc_buf_str(b, ", .suffix = ");
				kbc_buf_cstring(b, node->n.more_params[j].suffix);
				kbc_buf_printf(b, ", .node = &kbn_%d",
				    ((const struct kbc_node *)
				    node->n.more_params[j].node)->id);
				if (node->n.more_params[j].nseps > 0)
					kbc_buf_printf(b, ", .seps = kbn_%zu_s%zu, "
					    ".nseps = %zu", i, j,
					    node->n.more_params[j].nseps);
				kbc_buf_str(b, " },\n");
			}
			kbc_buf_str(b, "};\n");
		}
		kbc_buf_printf(b, "static const struct kb_route_node kbn_%zu = {",
		    i);
		if (node->n.nedges > 0)
			kbc_buf_printf(b, " .edges = kbn_%zu_e, .nedges = %zu,",
			    i, node->n.nedges);
		if (node->n.param != NULL) {
			kbc_buf_printf(b, "\n\t.param = &kbn_%d, "
			    ".param_prefix = ", ((const struct kbc_node *)
			    node->n.param)->id);
			kbc_buf_cstring(b, node->n.param_prefix);
			kbc_buf_str(b, ", .param_suffix = ");
			kbc_buf_cstring(b, node->n.param_suffix);
			kbc_buf_str(b, ",");
		} else {
			kbc_buf_str(b, " .param_prefix = \"\", "
			    ".param_suffix = \"\",");
		}
		if (node->n.nmore_params > 0)
			kbc_buf_printf(b, "\n\t.more_params = kbn_%zu_m, "
			    ".nmore_params = %zu,", i, node->n.nmore_params);
		kbc_buf_printf(b, " .path_index = %d };\n", node->n.path_index);
	}

	kbc_buf_str(b, "\nextern const char kbg_spec_json[];\n\n"
	    "const struct kb_api kbg_api = {\n\t.title = ");
	kbc_buf_cstring(b, api->api.title);
	kbc_buf_str(b, ",\n\t.version = ");
	kbc_buf_cstring(b, api->api.version);
	kbc_buf_printf(b, ",\n\t.root = &kbn_0,\n\t.paths = kbg_paths,\n"
	    "\t.npaths = %zu,\n\t.ops = kbg_ops,\n\t.nops = %zu,\n"
	    "\t.spec_json = kbg_spec_json,\n\t.spec_json_len = %zu,\n};\n",
	    api->api.npaths, api->nops, spec_len);
}

/* One string literal per line of the (indented) JSON text. */
void
kbc_emit_spec_c(struct kbc_emit *e, struct kbc_buf *b, const char *json,
    size_t len)
{
	const char	*p, *nl, *end;
	char		tmp[8];
	unsigned char	c;

	(void)e;
	kbc_buf_printf(b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n/* The bundled spec, %zu bytes of JSON. */\n"
	    "extern const char kbg_spec_json[];\n"
	    "const char kbg_spec_json[] =\n", len);
	p = json;
	end = json + len;
	if (len == 0)
		kbc_buf_str(b, "\"\"");
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl + 1 : end;
		kbc_buf_str(b, "\"");
		for (; p < nl; p++) {
			c = (unsigned char)*p;
			if (c == '"' || c == '\\' || c == '?') {
				tmp[0] = '\\';
				tmp[1] = (char)c;
				kbc_buf_add(b, tmp, 2);
			} else if (c == '\n') {
				kbc_buf_add(b, "\\n", 2);
			} else if (c >= 0x20 && c < 0x7f) {
				kbc_buf_add(b, p, 1);
			} else {
				(void)snprintf(tmp, sizeof(tmp), "\\%03o", c);
				kbc_buf_add(b, tmp, 4);
			}
		}
		kbc_buf_str(b, p < end ? "\"\n" : "\"");
	}
	kbc_buf_str(b, ";\n");
}

/* mkdir -p */
static int
kbc_mkdirs(struct kbc *kbc, const char *dir)
{
	char		*p, *s;

	p = kbc_strdup(kbc, dir);
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == -1 && errno != EEXIST)
			return (-1);
		*s = '/';
	}
	if (mkdir(p, 0755) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

/* Write atomically: a temporary file renamed over the target. */
static int
kbc_write(struct kbc *kbc, const char *dir, const char *name,
    const struct kbc_buf *b)
{
	char		*path, *tmp;
	FILE		*fp;

	path = kbc_sprintf(kbc, "%s/%s", dir, name);
	tmp = kbc_sprintf(kbc, "%s/.%s.tmp", dir, name);
	if ((fp = fopen(tmp, "wb")) == NULL) {
		kbc_error_file(kbc, path, 0, 0, "cannot write: %s",
		    strerror(errno));
		return (-1);
	}
	if ((b->len > 0 && fwrite(b->data, 1, b->len, fp) != b->len) ||
	    fclose(fp) != 0) {
		kbc_error_file(kbc, path, 0, 0, "cannot write: %s",
		    strerror(errno));
		(void)unlink(tmp);
		return (-1);
	}
	if (rename(tmp, path) == -1) {
		kbc_error_file(kbc, path, 0, 0, "cannot rename: %s",
		    strerror(errno));
		(void)unlink(tmp);
		return (-1);
	}
	return (0);
}

int
kbc_emit_all(struct kbc *kbc, struct kbc_api *api, const char *dir)
{
	struct kbc_emit		e;
	struct kbc_buf		b;
	char			*json;
	size_t			len;
	int			rc;

	memset(&e, 0, sizeof(e));
	e.kbc = kbc;
	e.api = api;
	if (kbc_emit_types_prepare(&e) == -1) {
		json_decref(e.typenames);
		kbc_pmap_free(&e.structs);
		free(e.list);
		return (-1);
	}

	if (kbc_mkdirs(kbc, dir) == -1) {
		kbc_error_file(kbc, dir, 0, 0, "cannot create: %s",
		    strerror(errno));
		return (-1);
	}

	json = json_dumps(kbc->bundle, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
	if (json == NULL) {
		kbc_error_file(kbc, kbc->files[0].display, 0, 0,
		    "cannot serialise the bundled document");
		return (-1);
	}
	len = strlen(json);

	rc = 0;
	kbc_buf_init(&b);
	kbc_buf_add(&b, json, len);
	kbc_buf_add(&b, "\n", 1);
	rc |= kbc_write(kbc, dir, "openapi.json", &b);
	kbc_buf_free(&b);

	kbc_emit_spec_c(&e, &b, json, len);
	rc |= kbc_write(kbc, dir, "kbg_spec.c", &b);
	kbc_buf_free(&b);
	free(json);

	kbc_buf_str(&b, "/* Generated by kbgen from the OpenAPI document. "
	    "Do not edit. */\n\n#ifndef KBG_API_H\n#define KBG_API_H\n\n"
	    "#include \"kb_rt.h\"\n\n/* The whole API: router, operations, "
	    "schemas and the bundled spec. */\n"
	    "extern const struct kb_api kbg_api;\n\n#endif\n");
	rc |= kbc_write(kbc, dir, "kbg_api.h", &b);
	kbc_buf_free(&b);

	kbc_emit_types_h(&e, &b);
	rc |= kbc_write(kbc, dir, "kbg_types.h", &b);
	kbc_buf_free(&b);

	kbc_emit_types_c(&e, &b);
	rc |= kbc_write(kbc, dir, "kbg_types.c", &b);
	kbc_buf_free(&b);

	kbc_emit_handlers_h(&e, &b);
	rc |= kbc_write(kbc, dir, "kbg_handlers.h", &b);
	kbc_buf_free(&b);

	kbc_emit_api_c(&e, &b, len);
	rc |= kbc_write(kbc, dir, "kbg_api.c", &b);
	kbc_buf_free(&b);

	json_decref(e.typenames);
	kbc_pmap_free(&e.structs);
	free(e.list);
	return (rc ? -1 : 0);
}
