/*
 * korebase tables: the query grammar of the Tables API (issue 4).
 *
 * kb_query_parse() turns a raw query string (PostgREST's grammar, as
 * @supabase/postgrest-js sends it, plus the reference's short form
 * `col.op=value`) into a tree checked against the schema: every column,
 * relationship and cast exists, every value is decoded and kept as a
 * string for a $n parameter.  Nothing here writes SQL; kb_tables.c does.
 *
 * Everything is allocated in the caller's arena.  Errors are values
 * (struct kb_tables_error) with an HTTP status and a PostgREST-style code.
 */

#ifndef KB_QUERY_H
#define KB_QUERY_H

#include <stddef.h>

#include "kb_schema.h"

struct kb_arena;

/* Limits on input, so a request cannot make the planner work for long. */
#define KB_QUERY_MAX_LEN	16384	/* bytes of raw query string */
#define KB_QUERY_MAX_PARAMS	256	/* key=value pairs */
#define KB_QUERY_MAX_EMBED	8	/* nesting of embedded resources */
#define KB_QUERY_MAX_LOGIC	16	/* nesting of or()/and() */
#define KB_QUERY_MAX_LIST	1000	/* values in in.(...) / {...} */
#define KB_QUERY_MAX_SELECT	200	/* select items per resource */
#define KB_QUERY_MAX_JPATH	16	/* -> steps in one field */
#define KB_NAME_MAX		63	/* PostgreSQL's NAMEDATALEN - 1 */

/*
 * An error for the client.  `code` is PostgREST's where one exists
 * (PGRST100 bad query, PGRST200 no relationship, PGRST204 no column,
 * PGRST116 not one row, ...) or the SQLSTATE of a database error; ours
 * start with KB.  Strings are always NUL-terminated, "" when empty.
 */
struct kb_tables_error {
	int	status;
	char	code[16];
	char	message[256];
	char	details[512];
	char	hint[256];
};

enum kb_qop {
	KB_OP_EQ, KB_OP_NEQ, KB_OP_GT, KB_OP_GTE, KB_OP_LT, KB_OP_LTE,
	KB_OP_LIKE, KB_OP_ILIKE, KB_OP_MATCH, KB_OP_IMATCH, KB_OP_IN,
	KB_OP_IS, KB_OP_ISDISTINCT, KB_OP_FTS, KB_OP_PLFTS, KB_OP_PHFTS,
	KB_OP_WFTS, KB_OP_CS, KB_OP_CD, KB_OP_OV, KB_OP_SL, KB_OP_SR,
	KB_OP_NXR, KB_OP_NXL, KB_OP_ADJ
};

enum kb_quant { KB_QUANT_NONE, KB_QUANT_ANY, KB_QUANT_ALL };

enum kb_is {
	KB_IS_NULL, KB_IS_NOT_NULL, KB_IS_TRUE, KB_IS_FALSE, KB_IS_UNKNOWN
};

/* One -> or ->> step of a JSON path. */
struct kb_jstep {
	char		*key;		/* object key, or NULL for an index */
	long long	 index;
	int		 as_text;	/* ->> */
};

/* A column, possibly followed by a JSON path. */
struct kb_field {
	const struct kb_column	*col;
	struct kb_jstep		*path;
	size_t			 npath;
};

enum kb_cond_kind { KB_COND_LEAF, KB_COND_AND, KB_COND_OR };

struct kb_cond {
	enum kb_cond_kind	 kind;
	int			 negate;
	/* KB_COND_AND, KB_COND_OR */
	struct kb_cond		**kids;
	size_t			 nkids;
	/* KB_COND_LEAF */
	struct kb_field		 field;
	enum kb_qop		 op;
	enum kb_quant		 quant;
	char			**values;	/* decoded, never NULL */
	size_t			 nvalues;
	char			*fts_config;	/* fts(config), or NULL */
	enum kb_is		 is;
	/*
	 * rel.is.null / rel.not.is.null in a logic tree: the embed whose
	 * row must not / must exist (negate set for is.null), else NULL.
	 */
	const struct kb_node	*embed;
};

struct kb_node;

struct kb_order {
	struct kb_field		 field;
	const struct kb_node	*rel;	/* order=rel(col): a to-one embed */
	int			 desc;
	int			 nulls;	/* 0 default, 1 first, 2 last */
};

struct kb_node;

/* A select item: a field (with alias and cast) or an embedded resource. */
struct kb_sel {
	char		*alias;		/* output key, never NULL */
	struct kb_field	 field;
	const char	*cast;		/* canonical type name, or NULL */
	struct kb_node	*embed;		/* non-NULL: an embedded resource */
};

/* A resource: the root table, or one embedded through a foreign key. */
struct kb_node {
	const struct kb_table	*table;
	char			*alias;		/* output key of an embed */
	struct kb_sel		*sel;		/* '*' expanded to columns */
	size_t			 nsel;
	struct kb_cond		*where;		/* an AND, NULL when none */
	struct kb_order		*order;
	size_t			 norder;
	long long		 limit;		/* -1: none */
	long long		 offset;
	/*
	 * Embedded resources only.  Joined on fk: the parent's (to-one),
	 * or the child's (`reverse`: to-many, or one-to-one when the key
	 * is unique).  Many-to-many: fk is NULL and the junction table has
	 * jfk_parent to the parent and jfk_child to this resource.
	 */
	struct kb_node		*parent;
	const struct kb_fkey	*fk;
	int			 reverse;
	const struct kb_table	*junction;
	const struct kb_fkey	*jfk_parent;
	const struct kb_fkey	*jfk_child;
	int			 to_many;	/* an array, else an object */
	int			 inner;		/* !inner */
	int			 exists;	/* rel=not.is.null 1, is.null -1 */
	int			 spread;	/* ...rel(): its columns inline */
	int			 depth;		/* root 0 */
	int			 id;		/* SQL alias "t<id>" */
};

struct kb_query {
	struct kb_node		*root;
	int			 nnodes;
	int			 has_select;	/* select= was given */
	const struct kb_column	**columns;	/* columns=, or NULL */
	size_t			 ncolumns;
	const struct kb_column	**on_conflict;	/* on_conflict=, or NULL */
	size_t			 non_conflict;
	int			 all_rows;	/* all=true */
	const char		*format;	/* format= (exports), or NULL */
};

/* kb_query_parse flags. */
#define KB_QUERY_EXPORT		0x01	/* format= is not a filter */

/*
 * Parse `qs` (the raw query string, without '?'; NULL or "" for none)
 * for `table`.  0 on success with `q` filled (arena memory); -1 with
 * `err` filled (400 and a PGRST code, 300 for an ambiguous embedding).
 */
int	kb_query_parse(struct kb_arena *, const struct kb_catalog *,
	    const struct kb_table *, const char *qs, int flags,
	    struct kb_query *q, struct kb_tables_error *err);

/*
 * Decode one query-string component: %XX escapes and '+' as a space.
 * NULL (with err) on a bad escape or an encoded NUL.
 */
char	*kb_query_decode(struct kb_arena *, const char *s, size_t len,
	    struct kb_tables_error *err);

/* Fill `err`; returns -1 so callers can `return (kb_tables_fail(...))`. */
int	kb_tables_fail(struct kb_tables_error *err, int status,
	    const char *code, const char *details, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* The operator's name ("eq") and whether `name` is one (-1 if not). */
const char	*kb_op_name(enum kb_qop);
int		 kb_op_lookup(const char *name, size_t len);

/* A cast the grammar accepts ("int" -> "integer"), or NULL. */
const char	*kb_cast_type(const char *name, size_t len);

#endif /* !KB_QUERY_H */
