/*
 * kbgen: the OpenAPI -> C generator, as a library.
 *
 * The front end (load.c, ref.c, bundle.c, schema.c, model.c) turns an
 * OpenAPI document, possibly spread over several YAML/JSON files, into
 * live runtime structures: a `struct kb_api` with its router trie,
 * operations, parameters and compiled `struct kb_schema` graphs, exactly
 * what the generated C will contain.  The emitters (emit_*.c) only print
 * those structures as C.  Tests use the live structures directly, so the
 * runtime is tested against what the generator really builds.
 *
 * Ownership: everything hangs off one `struct kbc` and is released by
 * kbc_free(); callers never free what kbc functions return.
 */

#ifndef KBC_H
#define KBC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "kb_rt.h"

/* Where a node came from: its key (or item) in a source file. */
struct kbc_loc {
	uint32_t	file;	/* index into kbc.files */
	uint32_t	line;	/* 1-based */
	uint32_t	col;	/* 1-based */
};

/* Open-addressing map from a pointer to a pointer-sized value. */
struct kbc_pmap {
	const void	**keys;
	void		**vals;
	size_t		cap;
	size_t		count;
};

/* A growable byte buffer. */
struct kbc_buf {
	char		*data;
	size_t		len;
	size_t		cap;
};

struct kbc_file {
	char		*display;	/* as given or joined from a $ref */
	char		*real;		/* realpath(), identity */
	json_t		*root;
};

struct kbc_schema;
struct kbc_api;

struct kbc {
	struct kbc_file		*files;
	size_t			nfiles;

	/* json_t * -> struct kbc_loc * */
	struct kbc_pmap		locs;

	/* Diagnostics: "file:line:col: message" lines, in order. */
	char			**diags;
	size_t			ndiags;
	size_t			nerrors;
	int			quiet;		/* do not print as they come */

	int			oas31;		/* 3.1 semantics */
	struct kbc_api		*api;		/* the model, once built */
	json_t			*bundle;	/* the one bundled document */

	/* Schema compiler: json_t * -> struct kbc_schema * */
	struct kbc_pmap		schema_memo;
	struct kbc_pmap		schema_names;	/* json_t * -> component name */
	struct kbc_schema	**schemas;	/* every compiled schema */
	size_t			nschemas;
	size_t			schemas_cap;

	/* Arena: every kbc_alloc()ed block, freed by kbc_free(). */
	void			**blocks;
	size_t			nblocks;
	size_t			blocks_cap;
};

/*
 * A compiled schema: the runtime struct first, so a `struct kb_schema *`
 * handed out by the compiler can be cast back.
 */
struct kbc_schema {
	struct kb_schema	s;
	struct kb_schema_cache	cache;
	json_t			*src;		/* defining node, borrowed */
	int			id;		/* emission order, -1: not yet */
	int			mark;		/* cycle-check colour */
	int			compiling;
	int			is_ref_alias;	/* unused in emitted tables */
};

/* util.c */
struct kbc	*kbc_new(void);
void		 kbc_free(struct kbc *);
void		*kbc_alloc(struct kbc *, size_t);
char		*kbc_strdup(struct kbc *, const char *);
char		*kbc_strndup(struct kbc *, const char *, size_t);
char		*kbc_sprintf(struct kbc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		*kbc_xrealloc(void *, size_t);

void		 kbc_pmap_put(struct kbc_pmap *, const void *, void *);
void		*kbc_pmap_get(const struct kbc_pmap *, const void *);
void		 kbc_pmap_free(struct kbc_pmap *);

void		 kbc_buf_init(struct kbc_buf *);
void		 kbc_buf_add(struct kbc_buf *, const void *, size_t);
void		 kbc_buf_str(struct kbc_buf *, const char *);
void		 kbc_buf_printf(struct kbc_buf *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 kbc_buf_cstring(struct kbc_buf *, const char *);
void		 kbc_buf_free(struct kbc_buf *);

void		 kbc_set_loc(struct kbc *, json_t *, uint32_t, uint32_t,
		    uint32_t);
const struct kbc_loc *kbc_get_loc(struct kbc *, json_t *);
/* "file:line:col" of `node`, else of `fallback`, else `?`. */
const char	*kbc_where(struct kbc *, json_t *node, json_t *fallback);

/* Report an error at `node` (falling back to `fallback`'s location). */
void		 kbc_error(struct kbc *, json_t *node, json_t *fallback,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 kbc_warn(struct kbc *, json_t *node, json_t *fallback,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
void		 kbc_error_file(struct kbc *, const char *file, uint32_t line,
		    uint32_t col, const char *, ...)
		    __attribute__((format(printf, 5, 6)));

/* A valid, non-keyword C identifier made of `s`; caller frees via kbc. */
char		*kbc_cident(struct kbc *, const char *s);
/* `base` made unique within `set` (a json object used as a set). */
char		*kbc_unique(struct kbc *, json_t *set, const char *base);

/* load.c: parse a YAML or JSON file; returns its file index or -1. */
int		 kbc_load_file(struct kbc *, const char *display,
		    const char *path);
/* Parse text already in memory (tests); `name` is used in messages. */
int		 kbc_load_string(struct kbc *, const char *name,
		    const char *text, size_t len);

/* ref.c */
/* Follow a JSON pointer (without '#', with ~0 ~1 and %XX escapes). */
json_t		*kbc_pointer_get(struct kbc *, json_t *root, const char *ptr,
		    json_t *refnode, int report);
/*
 * Resolve `ref` written in file `file`.  Loads external files as needed.
 * Returns the target and sets *tfile / *tptr (pointer part, unescaped
 * form kept as written, "" for the whole document), or NULL after an error.
 */
json_t		*kbc_ref_resolve(struct kbc *, int file, const char *ref,
		    json_t *refnode, int *tfile, const char **tptr);
/* Escape one JSON-pointer token (~0, ~1). */
char		*kbc_pointer_escape(struct kbc *, const char *);

/* bundle.c: inline every external file into file 0; sets kbc->bundle. */
int		 kbc_bundle(struct kbc *);

/* schema.c */
/*
 * Compile the schema at `node` (in the bundled document, or any document
 * loaded into `kbc` for tests) into a live kb_schema graph.  Local $refs
 * resolve against `root`.  Returns NULL after reporting errors.
 */
const struct kb_schema *kbc_schema_compile(struct kbc *, json_t *root,
		    json_t *node, json_t *parent);
/* Register components/schemas names of `root` (call once per root). */
void		 kbc_schema_names(struct kbc *, json_t *root);
/* Free a pcre2 code compiled into a live schema cache. */
void		 kbc_pattern_free(void *);
/* Reject cycles that never consume input (A: allOf: [A]). */
int		 kbc_schema_check_cycles(struct kbc *);

/* model.c: the API model. */
struct kbc_param {
	const char		*label;		/* name for the C member when
						   the path item renamed it */
	json_t			*src;
};

struct kbc_op {
	struct kb_op		op;
	struct kb_param		*params;	/* op.params, mutable */
	struct kbc_param	*pmeta;		/* parallel to params */
	const char		*cname;		/* C form of operation_id */
	const struct kb_schema	*body_struct;	/* named object body or NULL */
	const char		*body_media;	/* JSON media type or NULL */
	int			index;
	json_t			*src;
};

struct kbc_node {
	struct kb_route_node	n;
	struct kb_route_edge	*edges;
	struct kb_route_param	*more;
	char			**seg_owned;
	int			id;
};

struct kbc_api {
	struct kb_api		api;
	struct kb_path_item	*paths;
	struct kbc_op		**ops;
	size_t			nops;
	struct kbc_node		**nodes;	/* every trie node, root first */
	size_t			nnodes;
	json_t			*root;
};

/*
 * Load `path`, bundle, check and model it.  Returns NULL when errors were
 * reported (see kbc->nerrors and kbc->diags).
 */
struct kbc_api	*kbc_api_load(struct kbc *, const char *path);
/* Model an already loaded and bundled document (file 0). */
struct kbc_api	*kbc_api_build(struct kbc *);

/* types.c: C type model for named object schemas. */
int		 kbc_is_struct(const struct kb_schema *);

/* emit_*.c: write OUTDIR/...; return 0 or -1 (after reporting). */
int		 kbc_emit_all(struct kbc *, struct kbc_api *, const char *dir);

#endif /* KBC_H */
