/*
 * korebase tables: the schema cache model (issue 4).
 *
 * Pure C (jansson only): no Kore, no libpq, so it is unit tested and
 * fuzzed on its own.  The server loads the catalog with one statement,
 * KB_SCHEMA_CATALOG_SQL, whose single text column is a JSON document,
 * and turns it into a struct kb_catalog with kb_schema_from_json().  A
 * schema is immutable once built: the server swaps in a new one when DDL
 * runs (an event trigger NOTIFYs kb_schema_changed) and frees the old one
 * once no request uses it (server/kb_schema_cache.c: kb_schema_acquire).
 *
 * Identifiers here are the catalog's own names, unquoted; SQL is built
 * only from these names (quoted with kb_sql_ident), never from input.
 */

#ifndef KB_SCHEMA_H
#define KB_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct kb_table;
struct kb_arena;

struct kb_column {
	char		*name;
	char		*type;		/* format_type(): "integer", "text[]" */
	char		*base_type;	/* element/base type name: "int4" */
	char		 category;	/* pg_type.typcategory: N S B D A J ... */
	int		 is_array;
	int		 nullable;
	int		 has_default;	/* or identity / generated */
	int		 generated;	/* GENERATED ALWAYS: never written */
	int		 position;	/* attnum */
	char		*description;	/* COMMENT ON COLUMN, or NULL */
	char		 identity;	/* attidentity: 'a', 'd' or 0 */
	/*
	 * The default as SQL text from the catalog (pg_get_expr, or nextval
	 * of an identity's sequence), NULL when none: used for missing keys
	 * under Prefer: missing=default.  Catalog text, never request input.
	 */
	char		*default_expr;
	/* An enum's labels in their order (an array's element's), or none. */
	char		**enum_labels;
	size_t		 nenum;
};

/* A foreign key: from `table` (ncols columns) to `ref` (same count). */
struct kb_fkey {
	char			*name;		/* constraint name */
	const struct kb_table	*table;
	const struct kb_table	*ref;
	size_t			 ncols;
	const struct kb_column	**cols;		/* in `table` */
	const struct kb_column	**ref_cols;	/* in `ref` */
	/*
	 * cols cover `table`'s primary key or a unique key: a `ref` row
	 * has at most one referencing row (one-to-one).
	 */
	int			 unique;
};

/* A UNIQUE constraint's columns. */
struct kb_ukey {
	const struct kb_column	**cols;
	size_t			 ncols;
};

struct kb_table {
	char			*schema;
	char			*name;
	int			 is_view;
	int			 insertable;	/* views: auto-updatable */
	int			 updatable;
	int			 deletable;
	int			 has_tenant_id;	/* a tenant_id uuid column */
	struct kb_column	*cols;		/* by attnum */
	size_t			 ncols;
	const struct kb_column	**pk;		/* primary key, in order */
	size_t			 npk;
	struct kb_ukey		*uniques;	/* UNIQUE constraints */
	size_t			 nuniques;
	struct kb_fkey		*fkeys;		/* outgoing */
	size_t			 nfkeys;
	char			*description;
	char			 kind;		/* relkind: r v m f p */
};

struct kb_func_arg {
	char		*name;		/* "" for unnamed */
	char		*type;
	int		 has_default;
	int		 mode;		/* 'i', 'o', 'b', 'v', 't' */
};

struct kb_function {
	char			*schema;
	char			*name;
	struct kb_func_arg	*args;
	size_t			 nargs;
	char			*ret_type;	/* format_type of prorettype */
	int			 returns_set;
	int			 ret_table;	/* RETURNS TABLE / SETOF composite */
	char			 volatility;	/* 'i' immutable, 's', 'v' */
	char			*description;
};

struct kb_catalog {
	uint64_t		 version;	/* increases on every reload */
	struct kb_table		*tables;	/* sorted by (schema, name) */
	size_t			 ntables;
	struct kb_function	*funcs;		/* sorted by (schema, name) */
	size_t			 nfuncs;
	int			 refs;		/* requests using it */
	char			**schemas;	/* exposed, in lookup order */
	size_t			 nschemas;
	struct kb_arena		*arena;		/* owns everything above */
};

/*
 * The catalog query.  $1 is a text[] of the exposed schemas
 * (KB_TABLES_SCHEMAS, default {public}).  One row, one text column: the
 * JSON document kb_schema_from_json() reads.
 */
extern const char	KB_SCHEMA_CATALOG_SQL[];

/*
 * Build from the catalog JSON (borrowed, not kept); NULL with `err`
 * filled on a bad document (never a crash).  Foreign keys to tables
 * outside the exposed schemas are dropped.  `version` and `refs` are the
 * caller's (0 here).  kb_schema_free releases everything at once.
 */
struct kb_catalog	*kb_schema_from_json(json_t *doc, char *err,
			    size_t errlen);
void			 kb_schema_free(struct kb_catalog *);

/* Lookups (binary search); `schema` NULL means the first exposed match. */
const struct kb_table	*kb_schema_table(const struct kb_catalog *,
			    const char *schema, const char *name);
const struct kb_column	*kb_table_column(const struct kb_table *,
			    const char *name);
const struct kb_function *kb_schema_function(const struct kb_catalog *,
			    const char *schema, const char *name);

#endif /* !KB_SCHEMA_H */
