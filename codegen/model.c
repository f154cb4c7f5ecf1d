/*
 * kbgen: the API model (paths, operations, parameters, bodies, router).
 *
 * Builds a live `struct kb_api` from the bundled document: exactly the
 * tables the emitters print.  Path items keep spec order; operations are
 * in spec order within their path item; static router edges are sorted for
 * binary search and parameter children are ordered most specific first.
 */

#include <stdlib.h>
#include <string.h>

#include "kbc.h"

static const char *kbc_methods[KB_M_COUNT] = {
	[KB_M_GET] = "get", [KB_M_PUT] = "put", [KB_M_POST] = "post",
	[KB_M_DELETE] = "delete", [KB_M_OPTIONS] = "options",
	[KB_M_HEAD] = "head", [KB_M_PATCH] = "patch", [KB_M_TRACE] = "trace",
};

struct kbc_seg {
	char		*text;		/* static segment, or NULL */
	char		*prefix;	/* param segment: literal around */
	char		*suffix;
	char		**names;	/* the parameters, in order */
	char		**seps;		/* literals between them */
	size_t		nnames;
};

static json_t	*kbc_model_deref(struct kbc *, json_t *, json_t *,
		    const char *);
static int	kbc_model_path(struct kbc *, struct kbc_api *, size_t,
		    const char *, json_t *, json_t *, json_t *);
static struct kbc_op *kbc_model_op(struct kbc *, struct kbc_api *,
		    const char *, int, json_t *, json_t *, json_t *,
		    struct kbc_seg *, size_t);
static int	kbc_model_param(struct kbc *, json_t *, struct kb_param *,
		    struct kbc_param *);
static const struct kb_body *kbc_model_body(struct kbc *, struct kbc_op *,
		    json_t *, json_t *);
static const char *const *kbc_model_strings(struct kbc *, json_t *,
		    json_t *, const char *);
static int	kbc_model_segments(struct kbc *, const char *, json_t *,
		    struct kbc_seg **, size_t *);
static int	kbc_model_insert(struct kbc *, struct kbc_api *,
		    struct kbc_seg *, size_t, int, json_t *);
static struct kbc_node *kbc_model_node(struct kbc *, struct kbc_api *);
static void	kbc_model_finish(struct kbc *, struct kbc_api *);
static int	kbc_model_json_media(const char *);
static int	kbc_model_path_index(const char *, const char *);
static int	kbc_model_same_param(const struct kb_route_param *,
		    const struct kbc_seg *);

struct kbc_api *
kbc_api_load(struct kbc *kbc, const char *path)
{
	if (kbc_load_file(kbc, path, path) != 0)
		return (NULL);
	return (kbc_api_build(kbc));
}

struct kbc_api *
kbc_api_build(struct kbc *kbc)
{
	struct kbc_api	*api;
	json_t		*root, *v, *paths, *item;
	const char	*ver, *k;
	size_t		n;

	root = kbc->files[0].root;
	if (!json_is_object(root)) {
		kbc_error(kbc, root, NULL, "an OpenAPI document must be a "
		    "mapping");
		return (NULL);
	}
	if (json_object_get(root, "swagger") != NULL) {
		kbc_error(kbc, json_object_get(root, "swagger"), root,
		    "Swagger 2.0 is not supported: convert to OpenAPI 3");
		return (NULL);
	}
	v = json_object_get(root, "openapi");
	ver = json_string_value(v);
	if (ver == NULL || (strncmp(ver, "3.0", 3) != 0 &&
	    strncmp(ver, "3.1", 3) != 0) || (ver[3] != '\0' && ver[3] != '.')) {
		kbc_error(kbc, v, root, "unsupported OpenAPI version%s%s%s: "
		    "expected \"openapi: 3.0.x\" or \"3.1.x\"",
		    ver ? " \"" : "", ver ? ver : "", ver ? "\"" : "");
		return (NULL);
	}
	kbc->oas31 = strncmp(ver, "3.1", 3) == 0;

	if (kbc_bundle(kbc) == -1)
		return (NULL);
	kbc_schema_names(kbc, root);

	api = kbc_alloc(kbc, sizeof(*api));
	api->root = root;
	kbc->api = api;
	v = json_object_get(root, "info");
	api->api.title = json_string_value(json_object_get(v, "title"));
	api->api.version = json_string_value(json_object_get(v, "version"));
	if (api->api.title == NULL)
		api->api.title = "";
	if (api->api.version == NULL)
		api->api.version = "";

	(void)kbc_model_node(kbc, api);		/* the root */

	paths = json_object_get(root, "paths");
	if (paths != NULL && !json_is_object(paths)) {
		kbc_error(kbc, paths, root, "paths must be a mapping");
		return (NULL);
	}
	api->paths = kbc_alloc(kbc, (json_object_size(paths) + 1) *
	    sizeof(*api->paths));
	n = 0;
	json_object_foreach(paths, k, item) {
		if (strncmp(k, "x-", 2) == 0)
			continue;
		if (kbc_model_path(kbc, api, n, k, item, paths, root) == 0)
			n++;
	}
	api->api.root = &api->nodes[0]->n;
	api->api.paths = api->paths;
	api->api.npaths = n;
	api->api.ops = (const struct kb_op *const *)api->ops;
	api->api.nops = api->nops;
	api->api.spec_json = NULL;
	api->api.spec_json_len = 0;

	kbc_model_finish(kbc, api);
	(void)kbc_schema_check_cycles(kbc);

	if (kbc->nerrors > 0)
		return (NULL);
	return (api);
}

/* Follow $refs of a non-schema object (parameter, body, path item). */
static json_t *
kbc_model_deref(struct kbc *kbc, json_t *root, json_t *node, const char *what)
{
	json_t		*ref, *orig;
	int		n;

	orig = node;
	for (n = 0; n < 32; n++) {
		if (!json_is_object(node)) {
			kbc_error(kbc, node, orig, "%s must be a mapping", what);
			return (NULL);
		}
		if ((ref = json_object_get(node, "$ref")) == NULL)
			return (node);
		if (!json_is_string(ref) || json_string_value(ref)[0] != '#') {
			kbc_error(kbc, ref, node, "bad $ref in %s", what);
			return (NULL);
		}
		node = kbc_pointer_get(kbc, root, json_string_value(ref) + 1,
		    ref, 1);
		if (node == NULL)
			return (NULL);
	}
	kbc_error(kbc, orig, NULL, "$ref cycle in %s", what);
	return (NULL);
}

/* The path item already routed with exactly this shape, or -1. */
static int
kbc_model_find(struct kbc_api *api, struct kbc_seg *segs, size_t nsegs)
{
	struct kbc_node		*node;
	size_t			i, j;

	node = api->nodes[0];
	for (i = 0; i < nsegs && node != NULL; i++) {
		const struct kb_route_node *next = NULL;

		if (segs[i].text != NULL) {
			for (j = 0; j < node->n.nedges; j++) {
				if (strcmp(node->edges[j].seg,
				    segs[i].text) == 0)
					next = node->edges[j].node;
			}
		} else {
			for (j = 0; j < node->n.nmore_params; j++) {
				if (kbc_model_same_param(&node->more[j],
				    &segs[i]))
					next = node->more[j].node;
			}
		}
		node = (struct kbc_node *)next;
	}
	return (node != NULL ? node->n.path_index : -1);
}

static void
kbc_model_allow(struct kbc *kbc, struct kb_path_item *pi)
{
	static const int	order[] = {
		KB_M_DELETE, KB_M_GET, KB_M_HEAD, KB_M_OPTIONS, KB_M_PATCH,
		KB_M_POST, KB_M_PUT, KB_M_TRACE
	};
	static const char	*upper[KB_M_COUNT] = {
		"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH",
		"TRACE"
	};
	char			allow[128];
	size_t			i;
	int			m;

	allow[0] = '\0';
	for (i = 0; i < KB_M_COUNT; i++) {
		m = order[i];
		if (pi->ops[m] == NULL && !(m == KB_M_HEAD &&
		    pi->ops[KB_M_GET] != NULL))
			continue;
		if (allow[0] != '\0')
			strcat(allow, ", ");
		strcat(allow, upper[m]);
	}
	pi->allow = kbc_strdup(kbc, allow);
}

/*
 * One path item.  A path with the same shape as an earlier one
 * ("/a/{x}" after "/a/{y}") is invalid OpenAPI but common; when their
 * methods do not overlap, its operations join the earlier path item and
 * their path parameters take that item's names, position by position
 * (the typed input keeps the operation's own member names).
 */
static int
kbc_model_path(struct kbc *kbc, struct kbc_api *api, size_t index,
    const char *path, json_t *item, json_t *paths, json_t *root)
{
	struct kb_path_item	*pi;
	struct kbc_seg		*segs;
	struct kbc_op		*op;
	json_t			*params, *opnode, *v;
	const char		**names, *k;
	size_t			nsegs, i, j, l, nnames;
	int			m, existing;

	if (path[0] != '/') {
		kbc_error(kbc, item, paths, "path \"%s\" must start with '/'",
		    path);
		return (-1);
	}
	if ((item = kbc_model_deref(kbc, root, item, "a path item")) == NULL)
		return (-1);
	if (kbc_model_segments(kbc, path, item, &segs, &nsegs) == -1)
		return (-1);

	json_object_foreach(item, k, v) {
		if (strcmp(k, "query") == 0)
			kbc_warn(kbc, v, item, "method \"query\" is not "
			    "routed");
	}

	names = kbc_alloc(kbc, (KB_MAX_CAPTURES + 1) * sizeof(*names));
	nnames = 0;
	for (i = 0; i < nsegs; i++) {
		for (j = 0; j < segs[i].nnames; j++) {
			if (nnames == KB_MAX_CAPTURES) {
				kbc_error(kbc, item, paths, "path \"%s\" has "
				    "more than %d parameters", path,
				    KB_MAX_CAPTURES);
				return (-1);
			}
			names[nnames++] = segs[i].names[j];
		}
	}

	existing = kbc_model_find(api, segs, nsegs);
	if (existing >= 0) {
		pi = &api->paths[existing];
		kbc_warn(kbc, item, paths, "path \"%s\" has the same shape as "
		    "\"%s\"; merged into it", path, pi->path);
	} else {
		pi = &api->paths[index];
		pi->path = path;
		pi->param_names = names;
		pi->nparam_names = nnames;
	}

	params = json_object_get(item, "parameters");
	/* Spec order of the methods in the path item. */
	json_object_foreach(item, k, opnode) {
		for (m = 0; m < KB_M_COUNT; m++) {
			if (strcmp(k, kbc_methods[m]) == 0)
				break;
		}
		if (m == KB_M_COUNT)
			continue;
		if (existing >= 0 && pi->ops[m] != NULL) {
			kbc_error(kbc, opnode, item, "%s %s is the same route "
			    "as %s %s", pi->ops[m]->method, path,
			    pi->ops[m]->method, pi->path);
			continue;
		}
		op = kbc_model_op(kbc, api, path, m, opnode, params, root,
		    segs, nsegs);
		if (op == NULL)
			continue;
		pi->ops[m] = &op->op;
		if (existing < 0)
			continue;
		for (l = 0; l < op->op.nparams; l++) {
			if (op->params[l].in != KB_IN_PATH)
				continue;
			for (j = 0; j < nnames; j++) {
				if (strcmp(names[j], op->params[l].name) == 0)
					break;
			}
			if (j < nnames) {
				op->pmeta[l].label = op->params[l].name;
				op->params[l].name = pi->param_names[j];
			}
		}
	}
	kbc_model_allow(kbc, pi);

	if (existing >= 0)
		return (-1);
	return (kbc_model_insert(kbc, api, segs, nsegs, (int)index, item));
}

static int
kbc_model_segments(struct kbc *kbc, const char *path, json_t *item,
    struct kbc_seg **out, size_t *nout)
{
	struct kbc_seg	*segs, *sg;
	const char	*p, *end, *q, *ob, *cb, *lit;
	size_t		n, cap;

	cap = 8;
	segs = kbc_alloc(kbc, cap * sizeof(*segs));
	n = 0;
	p = path + 1;
	for (;;) {
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		if (n == cap) {
			sg = kbc_alloc(kbc, cap * 2 * sizeof(*sg));
			memcpy(sg, segs, cap * sizeof(*sg));
			segs = sg;
			cap *= 2;
		}
		sg = &segs[n];
		if (memchr(p, '{', (size_t)(end - p)) == NULL) {
			if (memchr(p, '}', (size_t)(end - p)) != NULL) {
				kbc_error(kbc, item, NULL, "path \"%s\": "
				    "unbalanced '}'", path);
				return (-1);
			}
			sg->text = kbc_strndup(kbc, p, (size_t)(end - p));
		} else {
			sg->names = kbc_alloc(kbc, (size_t)(end - p) *
			    sizeof(*sg->names));
			sg->seps = kbc_alloc(kbc, (size_t)(end - p) *
			    sizeof(*sg->seps));
			q = p;
			while ((ob = memchr(q, '{', (size_t)(end - q))) !=
			    NULL) {
				cb = memchr(ob, '}', (size_t)(end - ob));
				if (cb == NULL || cb == ob + 1 ||
				    memchr(ob + 1, '{', (size_t)(cb - ob - 1)) ||
				    memchr(q, '}', (size_t)(ob - q))) {
					kbc_error(kbc, item, NULL, "path "
					    "\"%s\": bad parameter in segment",
					    path);
					return (-1);
				}
				lit = kbc_strndup(kbc, q, (size_t)(ob - q));
				if (sg->nnames == 0) {
					sg->prefix = (char *)lit;
				} else if (lit[0] == '\0') {
					kbc_error(kbc, item, NULL, "path "
					    "\"%s\": two parameters with no "
					    "literal text between them", path);
					return (-1);
				} else {
					sg->seps[sg->nnames - 1] = (char *)lit;
				}
				sg->names[sg->nnames++] = kbc_strndup(kbc,
				    ob + 1, (size_t)(cb - ob - 1));
				q = cb + 1;
			}
			if (memchr(q, '}', (size_t)(end - q)) != NULL) {
				kbc_error(kbc, item, NULL, "path \"%s\": "
				    "unbalanced '}'", path);
				return (-1);
			}
			sg->suffix = kbc_strndup(kbc, q, (size_t)(end - q));
		}
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*out = segs;
	*nout = n;
	return (0);
}

/* Same literal shape: prefix, suffix and separators. */
static int
kbc_model_same_param(const struct kb_route_param *rp, const struct kbc_seg *sg)
{
	size_t		i;

	if (strcmp(rp->prefix, sg->prefix) != 0 ||
	    strcmp(rp->suffix, sg->suffix) != 0 ||
	    rp->nseps != sg->nnames - 1)
		return (0);
	for (i = 0; i < rp->nseps; i++) {
		if (strcmp(rp->seps[i], sg->seps[i]) != 0)
			return (0);
	}
	return (1);
}

static struct kbc_node *
kbc_model_node(struct kbc *kbc, struct kbc_api *api)
{
	struct kbc_node		*node;

	node = kbc_alloc(kbc, sizeof(*node));
	node->n.path_index = -1;
	node->n.param_prefix = "";
	node->n.param_suffix = "";
	node->id = (int)api->nnodes;
	api->nodes = kbc_xrealloc(api->nodes,
	    (api->nnodes + 1) * sizeof(*api->nodes));
	api->nodes[api->nnodes++] = node;
	return (node);
}

/*
 * Children are kept in the kbc_node's growable arrays while inserting;
 * kbc_model_finish() sorts them into the runtime layout.
 */
static int
kbc_model_insert(struct kbc *kbc, struct kbc_api *api, struct kbc_seg *segs,
    size_t nsegs, int index, json_t *item)
{
	struct kbc_node		*node, *next;
	struct kb_route_param	*rp;
	size_t			i, j;

	node = api->nodes[0];
	for (i = 0; i < nsegs; i++) {
		next = NULL;
		if (segs[i].text != NULL) {
			for (j = 0; j < node->n.nedges; j++) {
				if (strcmp(node->edges[j].seg,
				    segs[i].text) == 0) {
					next = (struct kbc_node *)
					    node->edges[j].node;
					break;
				}
			}
			if (next == NULL) {
				next = kbc_model_node(kbc, api);
				node->edges = kbc_xrealloc(node->edges,
				    (node->n.nedges + 1) *
				    sizeof(*node->edges));
				node->edges[node->n.nedges].seg = segs[i].text;
				node->edges[node->n.nedges].len =
				    strlen(segs[i].text);
				node->edges[node->n.nedges].node = &next->n;
				node->n.nedges++;
			}
		} else {
			for (j = 0; j < node->n.nmore_params; j++) {
				if (kbc_model_same_param(&node->more[j],
				    &segs[i])) {
					next = (struct kbc_node *)
					    node->more[j].node;
					break;
				}
			}
			if (next == NULL) {
				next = kbc_model_node(kbc, api);
				node->more = kbc_xrealloc(node->more,
				    (node->n.nmore_params + 1) *
				    sizeof(*node->more));
				rp = &node->more[node->n.nmore_params];
				memset(rp, 0, sizeof(*rp));
				rp->prefix = segs[i].prefix;
				rp->suffix = segs[i].suffix;
				rp->node = &next->n;
				if (segs[i].nnames > 1) {
					rp->seps = (const char *const *)
					    segs[i].seps;
					rp->nseps = segs[i].nnames - 1;
				}
				node->n.nmore_params++;
			}
		}
		node = next;
	}

	if (node->n.path_index >= 0) {
		kbc_error(kbc, item, NULL, "path \"%s\" is the same route as "
		    "\"%s\" (only parameter names differ)",
		    api->paths[index].path,
		    api->paths[node->n.path_index].path);
		return (-1);
	}
	node->n.path_index = index;
	return (0);
}

static int
kbc_model_edge_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct kb_route_edge *)a)->seg,
	    ((const struct kb_route_edge *)b)->seg));
}

/* Most specific first: longer literal text, then bytewise. */
static int
kbc_model_param_cmp(const void *a, const void *b)
{
	const struct kb_route_param	*x = a, *y = b;
	size_t				lx, ly;
	int				c;

	size_t				i;

	lx = strlen(x->prefix) + strlen(x->suffix);
	ly = strlen(y->prefix) + strlen(y->suffix);
	for (i = 0; i < x->nseps; i++)
		lx += strlen(x->seps[i]);
	for (i = 0; i < y->nseps; i++)
		ly += strlen(y->seps[i]);
	if (lx != ly)
		return (lx > ly ? -1 : 1);
	if (x->nseps != y->nseps)
		return (x->nseps > y->nseps ? -1 : 1);
	if ((c = strcmp(x->prefix, y->prefix)) != 0)
		return (c);
	if ((c = strcmp(x->suffix, y->suffix)) != 0)
		return (c);
	for (i = 0; i < x->nseps; i++) {
		if ((c = strcmp(x->seps[i], y->seps[i])) != 0)
			return (c);
	}
	return (0);
}

static void
kbc_model_finish(struct kbc *kbc, struct kbc_api *api)
{
	struct kbc_node		*node;
	size_t			i;

	(void)kbc;
	for (i = 0; i < api->nnodes; i++) {
		node = api->nodes[i];
		if (node->n.nedges > 1)
			qsort(node->edges, node->n.nedges,
			    sizeof(*node->edges), kbc_model_edge_cmp);
		node->n.edges = node->edges;
		if (node->n.nmore_params > 1)
			qsort(node->more, node->n.nmore_params,
			    sizeof(*node->more), kbc_model_param_cmp);
		if (node->n.nmore_params > 0 && node->more[0].nseps == 0) {
			node->n.param = node->more[0].node;
			node->n.param_prefix = node->more[0].prefix;
			node->n.param_suffix = node->more[0].suffix;
			node->n.more_params = node->more + 1;
			node->n.nmore_params--;
		} else {
			node->n.more_params = node->more;
		}
		if (node->n.nmore_params == 0)
			node->n.more_params = NULL;
	}
}

static int
kbc_model_json_media(const char *mt)
{
	size_t		len;
	const char	*semi;

	semi = strchr(mt, ';');
	len = semi ? (size_t)(semi - mt) : strlen(mt);
	while (len > 0 && mt[len - 1] == ' ')
		len--;
	if (len == 16 && strncasecmp(mt, "application/json", 16) == 0)
		return (1);
	if (len > 5 && strncasecmp(mt + len - 5, "+json", 5) == 0)
		return (1);
	return (0);
}

static const char *const *
kbc_model_strings(struct kbc *kbc, json_t *node, json_t *parent,
    const char *key)
{
	const char	**list;
	json_t		*v;
	size_t		i;

	if ((v = json_object_get(node, key)) == NULL)
		return (NULL);
	if (!json_is_array(v)) {
		kbc_error(kbc, v, parent, "%s must be a list of strings", key);
		return (NULL);
	}
	list = kbc_alloc(kbc, (json_array_size(v) + 1) * sizeof(*list));
	for (i = 0; i < json_array_size(v); i++) {
		if (!json_is_string(json_array_get(v, i))) {
			kbc_error(kbc, json_array_get(v, i), v,
			    "%s must be a list of strings", key);
			return (NULL);
		}
		list[i] = json_string_value(json_array_get(v, i));
	}
	list[i] = NULL;
	return (list);
}

static struct kbc_op *
kbc_model_op(struct kbc *kbc, struct kbc_api *api, const char *path,
    int method, json_t *opnode, json_t *pparams, json_t *root,
    struct kbc_seg *segs, size_t nsegs)
{
	static const char	*upper[KB_M_COUNT] = {
		"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH",
		"TRACE"
	};
	struct kbc_op		*op;
	json_t			*list, *p, *sec, *e, *lists[2];
	const char		*name, *in, *id;
	size_t			i, j, k, l, n;
	int			found;

	if (!json_is_object(opnode)) {
		kbc_error(kbc, opnode, NULL, "an operation must be a mapping");
		return (NULL);
	}

	op = kbc_alloc(kbc, sizeof(*op));
	op->src = opnode;
	op->op.method = upper[method];
	op->op.path = path;
	op->op.summary = json_string_value(json_object_get(opnode, "summary"));

	if ((p = json_object_get(opnode, "operationId")) != NULL) {
		if (!json_is_string(p) || json_string_length(p) == 0) {
			kbc_error(kbc, p, opnode, "operationId must be a "
			    "non-empty string");
			return (NULL);
		}
		id = json_string_value(p);
	} else {
		id = kbc_sprintf(kbc, "%s%s", kbc_methods[method], path);
	}
	for (i = 0; i < api->nops; i++) {
		if (strcmp(api->ops[i]->op.operation_id, id) == 0) {
			kbc_error(kbc, p ? p : opnode, opnode, "duplicate "
			    "operationId \"%s\" (also %s %s)", id,
			    api->ops[i]->op.method, api->ops[i]->op.path);
			return (NULL);
		}
	}
	op->op.operation_id = id;

	/* Path-level parameters, overridden by name+in at the op level. */
	list = json_array();
	lists[0] = pparams;
	lists[1] = json_object_get(opnode, "parameters");
	for (l = 0; l < 2; l++) {
		if (lists[l] == NULL)
			continue;
		if (!json_is_array(lists[l])) {
			kbc_error(kbc, lists[l], opnode, "parameters must be a "
			    "list");
			continue;
		}
		for (i = 0; i < json_array_size(lists[l]); i++) {
			p = kbc_model_deref(kbc, root,
			    json_array_get(lists[l], i), "a parameter");
			if (p == NULL)
				continue;
			name = json_string_value(json_object_get(p, "name"));
			in = json_string_value(json_object_get(p, "in"));
			if (name == NULL || in == NULL) {
				kbc_error(kbc, p, NULL, "a parameter needs "
				    "\"name\" and \"in\"");
				continue;
			}
			for (j = 0; j < json_array_size(list); j++) {
				e = json_array_get(list, j);
				if (strcmp(json_string_value(json_object_get(e,
				    "name")), name) == 0 &&
				    strcmp(json_string_value(json_object_get(e,
				    "in")), in) == 0)
					break;
			}
			if (j < json_array_size(list)) {
				if (l == 0) {
					kbc_error(kbc, p, NULL, "duplicate "
					    "parameter %s in %s", name, in);
					continue;
				}
				json_array_set(list, j, p);
			} else
				json_array_append(list, p);
		}
	}

	n = json_array_size(list);
	op->params = kbc_alloc(kbc, (n + 1) * sizeof(*op->params));
	op->pmeta = kbc_alloc(kbc, (n + 1) * sizeof(*op->pmeta));
	j = 0;
	for (i = 0; i < n; i++) {
		if (kbc_model_param(kbc, json_array_get(list, i),
		    &op->params[j], &op->pmeta[j]) == 0)
			j++;
	}
	op->op.params = op->params;
	op->op.nparams = j;

	/* Template names and declared path parameters must agree. */
	for (i = 0; i < nsegs; i++) {
		for (k = 0; k < segs[i].nnames; k++) {
			found = 0;
			for (l = 0; l < op->op.nparams; l++) {
				if (op->params[l].in == KB_IN_PATH &&
				    strcmp(op->params[l].name,
				    segs[i].names[k]) == 0)
					found = 1;
			}
			if (!found)
				kbc_error(kbc, opnode, NULL, "%s %s: path "
				    "parameter \"%s\" is not declared",
				    upper[method], path, segs[i].names[k]);
		}
	}
	for (l = 0; l < op->op.nparams; l++) {
		if (op->params[l].in != KB_IN_PATH)
			continue;
		found = 0;
		for (i = 0; i < nsegs; i++) {
			for (k = 0; k < segs[i].nnames; k++) {
				if (strcmp(op->params[l].name,
				    segs[i].names[k]) == 0)
					found = 1;
			}
		}
		if (!found)
			kbc_error(kbc, op->pmeta[l].src, opnode, "%s %s: path "
			    "parameter \"%s\" is not in the path template",
			    upper[method], path, op->params[l].name);
	}
	json_decref(list);

	if ((p = json_object_get(opnode, "requestBody")) != NULL)
		op->op.body = kbc_model_body(kbc, op, root, p);

	op->op.roles = kbc_model_strings(kbc, opnode, opnode, "x-kb-roles");
	op->op.scopes = kbc_model_strings(kbc, opnode, opnode, "x-kb-scopes");
	op->op.tenant_param = -1;
	if ((p = json_object_get(opnode, "x-kb-tenant-param")) != NULL) {
		if (!json_is_string(p) || (op->op.tenant_param =
		    kbc_model_path_index(path, json_string_value(p))) == -1)
			kbc_error(kbc, p, opnode, "%s %s: x-kb-tenant-param "
			    "must name a parameter of the path template",
			    upper[method], path);
	}

	sec = json_object_get(opnode, "security");
	if (sec == NULL)
		sec = json_object_get(root, "security");
	if (sec != NULL && !json_is_array(sec)) {
		kbc_error(kbc, sec, opnode, "security must be a list");
	} else if (json_array_size(sec) > 0) {
		op->op.secured = 1;
		for (i = 0; i < json_array_size(sec); i++) {
			e = json_array_get(sec, i);
			if (json_is_object(e) && json_object_size(e) == 0)
				op->op.secured = 0;
		}
	}

	op->index = (int)api->nops;
	api->ops = kbc_xrealloc(api->ops, (api->nops + 1) * sizeof(*api->ops));
	api->ops[api->nops++] = op;
	return (op);
}

static int
kbc_model_param(struct kbc *kbc, json_t *p, struct kb_param *kp,
    struct kbc_param *meta)
{
	const struct kb_schema	*s;
	json_t			*root, *schema, *content, *v;
	const char		*in, *style, *k;

	root = kbc->bundle;
	meta->src = p;
	kp->name = json_string_value(json_object_get(p, "name"));
	in = json_string_value(json_object_get(p, "in"));
	if (strcmp(in, "path") == 0)
		kp->in = KB_IN_PATH;
	else if (strcmp(in, "query") == 0)
		kp->in = KB_IN_QUERY;
	else if (strcmp(in, "header") == 0)
		kp->in = KB_IN_HEADER;
	else if (strcmp(in, "cookie") == 0)
		kp->in = KB_IN_COOKIE;
	else {
		kbc_error(kbc, json_object_get(p, "in"), p, "parameter \"%s\": "
		    "unknown location \"%s\"", kp->name, in);
		return (-1);
	}

	kp->required = json_is_true(json_object_get(p, "required"));
	if (kp->in == KB_IN_PATH && !kp->required) {
		kbc_error(kbc, p, NULL, "path parameter \"%s\" must have "
		    "\"required: true\"", kp->name);
		return (-1);
	}

	style = json_string_value(json_object_get(p, "style"));
	if (style == NULL)
		style = (kp->in == KB_IN_QUERY || kp->in == KB_IN_COOKIE) ?
		    "form" : "simple";
	if (strcmp(style, "form") == 0)
		kp->style = KB_STYLE_FORM;
	else if (strcmp(style, "simple") == 0)
		kp->style = KB_STYLE_SIMPLE;
	else if (strcmp(style, "spaceDelimited") == 0)
		kp->style = KB_STYLE_SPACE;
	else if (strcmp(style, "pipeDelimited") == 0)
		kp->style = KB_STYLE_PIPE;
	else
		kp->style = -1;
	v = json_object_get(p, "explode");
	kp->explode = v != NULL ? json_is_true(v) :
	    kp->style == KB_STYLE_FORM;

	schema = json_object_get(p, "schema");
	content = json_object_get(p, "content");
	if (schema == NULL && json_is_object(content) &&
	    json_object_size(content) == 1) {
		json_object_foreach(content, k, v) {
			schema = json_object_get(v, "schema");
			kp->content_json = kbc_model_json_media(k);
		}
	}
	if (schema == NULL) {
		if (content == NULL)
			kbc_warn(kbc, p, NULL, "parameter \"%s\" has no schema; "
			    "it is passed as a string", kp->name);
		kp->schema = NULL;
		return (0);
	}
	if ((s = kbc_schema_compile(kbc, root, schema, p)) == NULL)
		return (-1);

	if ((int)kp->style == -1) {
		kbc_warn(kbc, p, NULL, "parameter \"%s\": style \"%s\" is not "
		    "supported; it is passed as a string, not validated",
		    kp->name, style);
		kp->style = KB_STYLE_FORM;
		kp->schema = NULL;
		return (0);
	}
	if (!kp->content_json && (s->types & KB_T_OBJECT)) {
		kbc_warn(kbc, p, NULL, "parameter \"%s\": object parameters "
		    "are not supported; it is passed as a string, not "
		    "validated", kp->name);
		kp->schema = NULL;
		return (0);
	}
	kp->schema = s;
	return (0);
}

static const struct kb_body *
kbc_model_body(struct kbc *kbc, struct kbc_op *op, json_t *root, json_t *rb)
{
	struct kb_body		*body;
	const char		**media, *k;
	json_t			*content, *v, *schema;
	size_t			n;

	if ((rb = kbc_model_deref(kbc, root, rb, "a request body")) == NULL)
		return (NULL);
	content = json_object_get(rb, "content");
	if (!json_is_object(content) || json_object_size(content) == 0) {
		kbc_error(kbc, rb, NULL, "a request body needs \"content\"");
		return (NULL);
	}

	body = kbc_alloc(kbc, sizeof(*body));
	body->required = json_is_true(json_object_get(rb, "required"));
	media = kbc_alloc(kbc, (json_object_size(content) + 1) *
	    sizeof(*media));
	n = 0;
	json_object_foreach(content, k, v) {
		media[n++] = k;
		if (op->body_media != NULL || !kbc_model_json_media(k))
			continue;
		op->body_media = k;
		if ((schema = json_object_get(v, "schema")) == NULL)
			continue;
		body->schema = kbc_schema_compile(kbc, root, schema, v);
		if (body->schema != NULL && kbc_is_struct(body->schema))
			op->body_struct = body->schema;
	}
	body->media_types = media;
	body->nmedia_types = n;
	return (body);
}

/* Index of {name} among the {...} parameters of a path template, or -1. */
static int
kbc_model_path_index(const char *path, const char *name)
{
	const char	*p, *e;
	size_t		 len;
	int		 i;

	len = strlen(name);
	for (i = 0, p = path; (p = strchr(p, '{')) != NULL; p = e + 1, i++) {
		if ((e = strchr(p, '}')) == NULL)
			break;
		if ((size_t)(e - p - 1) == len && memcmp(p + 1, name, len) == 0)
			return (i);
	}
	return (-1);
}
