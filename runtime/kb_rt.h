/*
 * korebase runtime: the contract between generated code and the runtime.
 *
 * Generated code (generated/) describes the API as constant tables: a
 * router, operations, parameters and compiled JSON Schemas.  The runtime
 * (runtime/, pure C + jansson, no Kore headers) interprets those tables:
 * it matches paths, coerces and validates parameters and validates bodies.
 * The Kore glue (server/) calls into the runtime; nothing here includes a
 * Kore header, so all of it is unit-testable without a server.
 *
 * Ownership: every table here is static, read-only data emitted by kbgen,
 * except the per-schema caches (compiled patterns, parsed enums), which are
 * filled lazily on first use and live for the life of the process.
 */

#ifndef KB_RT_H
#define KB_RT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* JSON types, as a bit set; 0 means "any type". */
#define KB_T_NULL	0x01
#define KB_T_BOOLEAN	0x02
#define KB_T_INTEGER	0x04
#define KB_T_NUMBER	0x08	/* includes integers */
#define KB_T_STRING	0x10
#define KB_T_ARRAY	0x20
#define KB_T_OBJECT	0x40

/* Schema flags. */
#define KB_S_HAS_MIN		0x0001
#define KB_S_HAS_MAX		0x0002
#define KB_S_EXCL_MIN		0x0004	/* minimum is exclusive */
#define KB_S_EXCL_MAX		0x0008	/* maximum is exclusive */
#define KB_S_HAS_MULTIPLE	0x0010
#define KB_S_UNIQUE_ITEMS	0x0020
#define KB_S_NO_ADDITIONAL	0x0040	/* additionalProperties: false */
#define KB_S_HAS_CONST		0x0080
#define KB_S_FALSE		0x0100	/* the schema `false`: nothing valid */
#define KB_S_READ_ONLY		0x0200
#define KB_S_WRITE_ONLY		0x0400

enum kb_format {
	KB_F_NONE = 0,
	KB_F_DATE_TIME,
	KB_F_DATE,
	KB_F_TIME,
	KB_F_EMAIL,
	KB_F_UUID,
	KB_F_URI,
	KB_F_IPV4,
	KB_F_IPV6,
	KB_F_BYTE,
	KB_F_INT32,
	KB_F_INT64,
	KB_F_FLOAT,
	KB_F_DOUBLE,
	KB_F_OTHER		/* unknown formats are annotations only */
};

struct kb_schema;

struct kb_schema_prop {
	const char			*name;
	const struct kb_schema		*schema;
};

struct kb_disc_map {
	const char			*value;	/* discriminator value */
	const struct kb_schema		*schema;
};

/* Lazily filled, process-lifetime caches of one schema. */
struct kb_schema_cache {
	void		*pattern;	/* compiled `pattern` (pcre2_code *) */
	json_t		*enum_values;	/* parsed `enum` */
	json_t		*const_value;	/* parsed `const` */
};

/*
 * A compiled JSON Schema (the subset OpenAPI 3.0/3.1 uses).  Recursive
 * schemas are pointers to each other; kbgen emits one static object per
 * distinct schema node.
 */
struct kb_schema {
	const char			*name;		/* component name or NULL */
	unsigned int			types;		/* KB_T_* or 0 */
	unsigned int			flags;		/* KB_S_* */
	enum kb_format			format;
	double				minimum;
	double				maximum;
	double				multiple_of;
	int64_t				min_length;	/* -1: unset */
	int64_t				max_length;	/* -1: unset */
	int64_t				min_items;	/* -1: unset */
	int64_t				max_items;	/* -1: unset */
	int64_t				min_props;	/* -1: unset */
	int64_t				max_props;	/* -1: unset */
	const char			*pattern;	/* ECMA-262 source */
	const char			*enum_json;	/* JSON array text */
	const char			*const_json;	/* JSON value text */
	const struct kb_schema_prop	*props;
	size_t				nprops;
	const char *const		*required;
	size_t				nrequired;
	const struct kb_schema		*additional;	/* NULL: any */
	const struct kb_schema		*items;		/* NULL: any */
	const struct kb_schema *const	*all_of;
	size_t				nall_of;
	const struct kb_schema *const	*any_of;
	size_t				nany_of;
	const struct kb_schema *const	*one_of;
	size_t				none_of;
	const struct kb_schema		*not_schema;
	const char			*discriminator;	/* property name */
	const struct kb_disc_map	*mapping;
	size_t				nmapping;
	struct kb_schema_cache		*cache;		/* never NULL */
};

/*
 * pcre2_compile() options for `pattern` (ECMA-262 flavour: \uHHHH escapes,
 * `$` only at the very end).  kbgen checks every pattern compiles with
 * these, so the runtime's lazy compile cannot fail.
 */
#define KB_PATTERN_OPTIONS \
	(PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY)

/* One validation failure: a JSON pointer into the request and a message. */
struct kb_error_item {
	char		*path;		/* "/body/email", "/query/limit" */
	char		*message;	/* "must be a valid e-mail address" */
};

/* A growable list of failures; all failures are collected, not the first. */
struct kb_errors {
	struct kb_error_item	*items;
	size_t			count;
	size_t			cap;
};

void	kb_errors_init(struct kb_errors *);
void	kb_errors_add(struct kb_errors *, const char *path, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	kb_errors_clear(struct kb_errors *);	/* frees every item */

/*
 * The failures as a JSON array of {"path": ..., "message": ...} objects,
 * in the order they were added.  Returns a new reference.
 */
json_t	*kb_errors_json(const struct kb_errors *);

/*
 * Validate `value` against `schema`; failures are appended to `errs`, each
 * with a JSON pointer made of `base` plus the location inside `value`.
 * Returns the number of failures added (0: valid).  `value` is borrowed.
 */
size_t	kb_validate(const struct kb_schema *schema, json_t *value,
	    const char *base, struct kb_errors *errs);

/* 1 when `s` (`len` bytes) is a valid value of string format `f`. */
int	kb_format_check(enum kb_format f, const char *s, size_t len);

/* Parameters. */
enum kb_param_in {
	KB_IN_PATH = 0,
	KB_IN_QUERY,
	KB_IN_HEADER,
	KB_IN_COOKIE
};

/* Serialization styles kb_param_coerce understands for arrays. */
enum kb_param_style {
	KB_STYLE_FORM = 0,	/* query, cookie default: a,b or a&a */
	KB_STYLE_SIMPLE,	/* path, header default: a,b */
	KB_STYLE_SPACE,		/* spaceDelimited: "a b" */
	KB_STYLE_PIPE		/* pipeDelimited: a|b */
};

struct kb_param {
	const char		*name;
	enum kb_param_in	in;
	int			required;
	int			explode;	/* form style: repeated keys */
	const struct kb_schema	*schema;	/* NULL: passed as string */
	enum kb_param_style	style;
	int			content_json;	/* `content: application/json` */
};

/*
 * Coerce one raw parameter string into the JSON value its schema asks for
 * (integer, number, boolean, array of those in form style, else string).
 * Returns a new reference, or NULL with a failure added to `errs` at
 * `pointer`.  For exploded arrays, call once per occurrence with `into`
 * set to the array being built; the function appends and returns `into`
 * with an extra reference.
 */
json_t	*kb_param_coerce(const struct kb_param *, const char *raw, size_t len,
	    json_t *into, const char *pointer, struct kb_errors *errs);

/* Request bodies. */
struct kb_body {
	int			required;
	const char *const	*media_types;	/* as declared in the spec */
	size_t			nmedia_types;
	const struct kb_schema	*schema;	/* of application/json, or NULL */
};

/*
 * Handlers get an opaque per-request context owned by the server runtime.
 */
struct kb_ctx;

/*
 * Per-request memory: zeroed, never NULL, released when the request ends.
 * Generated decoders allocate typed inputs with it, so an asynchronous
 * handler may keep pointers into its input until it responds.  The server
 * runtime implements it; unit tests link their own.
 */
void	*kb_ctx_alloc(struct kb_ctx *, size_t);

/*
 * What a generated invoker returns: KB_INVOKE_OK when the handler ran (it
 * responded or will respond asynchronously), KB_INVOKE_MISSING when no
 * handler is linked in (the server answers 501), KB_INVOKE_DECODE when the
 * validated input could not be decoded into the typed structs (a bug: 500).
 */
#define KB_INVOKE_OK		0
#define KB_INVOKE_MISSING	1
#define KB_INVOKE_DECODE	2

/* Operation: one method on one path. */
struct kb_op {
	const char		*operation_id;
	const char		*method;	/* "GET", "POST", ... */
	const char		*path;		/* template, "/a/{id}" */
	const char		*summary;
	const struct kb_param	*params;
	size_t			nparams;
	const struct kb_body	*body;		/* NULL: no request body */
	const char *const	*roles;		/* x-kb-roles, NULL-terminated */
	const char *const	*scopes;	/* x-kb-scopes, NULL-terminated */
	int			secured;	/* spec asks for credentials */
	/*
	 * x-kb-tenant-param: the index, among the path's {name}s, of the
	 * parameter that names the tenant the operation acts on, or -1.
	 */
	int			tenant_param;
	/*
	 * Decodes `params` (object: name -> coerced value) and `body`
	 * (validated JSON or NULL) into the typed structs and calls the
	 * handler, if one is linked in.  Both are borrowed and stay alive
	 * until the request ends.
	 */
	int			(*invoke)(struct kb_ctx *, json_t *params,
				    json_t *body);
	int			(*implemented)(void);	/* handler linked? */
};

/* Methods in the order kbgen indexes them. */
enum kb_method {
	KB_M_GET = 0,
	KB_M_PUT,
	KB_M_POST,
	KB_M_DELETE,
	KB_M_OPTIONS,
	KB_M_HEAD,
	KB_M_PATCH,
	KB_M_TRACE,
	KB_M_COUNT
};

int		kb_method_index(const char *name, size_t len);	/* -1: unknown */

/* A path item: the operations declared on one path template. */
struct kb_path_item {
	const char		*path;		/* template */
	const struct kb_op	*ops[KB_M_COUNT];
	const char		*allow;		/* "GET, HEAD, POST" */
	const char *const	*param_names;	/* {name}s in path order */
	size_t			nparam_names;
};

/*
 * The router is a trie over '/'-separated segments.  Each node has sorted
 * static children (binary search by segment) and at most one parameter
 * child; matching is O(path length * log fan-out).  A parameter segment
 * may also be a template with literal prefix/suffix ("{id}.json").
 */
struct kb_route_node {
	const struct kb_route_edge	*edges;		/* sorted by seg */
	size_t				nedges;
	const struct kb_route_node	*param;		/* {x} child or NULL */
	const char			*param_prefix;	/* "" unless a template */
	const char			*param_suffix;
	int				path_index;	/* -1: none ends here */
	/*
	 * Further parameter children when one level has several templates
	 * ("{id}.json" next to "{id}"), or one with several parameters in a
	 * segment; tried after `param`, in order.  kbgen orders every
	 * parameter child most specific (longest literal text) first, so a
	 * plain "{id}" comes last.  `param` is only used for a child with a
	 * single parameter.
	 */
	const struct kb_route_param	*more_params;
	size_t				nmore_params;
};

/*
 * A parameter child.  Several parameters may share one segment
 * ("{base}...{head}"): `seps` are the literals between them, each capture
 * ending at the first occurrence of the next separator.
 */
struct kb_route_param {
	const char			*prefix;
	const char			*suffix;
	const struct kb_route_node	*node;
	const char *const		*seps;		/* NULL: one param */
	size_t				nseps;
};

struct kb_route_edge {
	const char			*seg;
	size_t				len;
	const struct kb_route_node	*node;
};

#define KB_MAX_CAPTURES		16

struct kb_capture {
	const char		*ptr;	/* into the matched path, not decoded */
	size_t			len;
};

struct kb_route_match {
	const struct kb_path_item	*item;
	size_t				ncaptures;
	struct kb_capture		captures[KB_MAX_CAPTURES];
};

/* The whole API, as emitted by kbgen in generated/ (symbol `kbg_api`). */
struct kb_api {
	const char			*title;
	const char			*version;
	const struct kb_route_node	*root;
	const struct kb_path_item	*paths;
	size_t				npaths;
	const struct kb_op *const	*ops;		/* every operation */
	size_t				nops;
	const char			*spec_json;	/* bundled spec */
	size_t				spec_json_len;
};

/*
 * Match a request path (without query string) against the router.
 * Returns 1 and fills `m` on a match, 0 when no path matches.  Captures
 * point into `path`; a trailing slash does not match.  Static segments win
 * over parameters; when a static branch dead-ends, the parameter branch
 * at that level is tried (so "/a/b/d" finds "/a/{x}/d" next to "/a/b/c").
 * Captures are never empty.
 */
int	kb_route_match(const struct kb_api *, const char *path, size_t len,
	    struct kb_route_match *m);

#endif /* KB_RT_H */
