/*
 * korebase tables: the query grammar (PostgREST's, plus the reference's
 * short form), parsed into a tree checked against the schema.
 *
 * Grammar (after percent-decoding each key and value):
 *	select=item,...		item: * | [alias:]field[::cast]
 *				    | [alias:]rel[!hint...](item,...)
 *	field			name(->key|->>key)*, name may be "quoted"
 *	col=[not.]op[(mod)].value	filters; rel.col=... on an embed
 *	col.[not.]op=value	the reference's short form
 *	or=(cond,...) and=(...) not.or=(...) not.and=(...), rel.or=(...)
 *	order=field[.asc|.desc][.nullsfirst|.nullslast],...  rel.order=...
 *	limit=n offset=n rel.limit=n rel.offset=n
 *	columns=a,b  on_conflict=a,b  all=true
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_arena.h"
#include "kb_query.h"

struct qparam {
	char	*key;
	char	*val;
};

struct ctx {
	struct kb_arena		*a;
	const struct kb_catalog	*schema;
	struct kb_query		*q;
	struct kb_tables_error	*err;
	int			 nnodes;
};

/* A cursor over [p, end). */
struct cur {
	const char	*p;
	const char	*end;
};

static const char *const op_names[] = {
	"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match",
	"imatch", "in", "is", "isdistinct", "fts", "plfts", "phfts", "wfts",
	"cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj"
};

static const struct {
	const char	*name;
	const char	*type;
} casts[] = {
	{ "bigint", "bigint" }, { "bool", "boolean" },
	{ "boolean", "boolean" }, { "bytea", "bytea" },
	{ "char", "character" }, { "cidr", "cidr" }, { "date", "date" },
	{ "decimal", "numeric" }, { "float", "double precision" },
	{ "float4", "real" }, { "float8", "double precision" },
	{ "inet", "inet" }, { "int", "integer" }, { "int2", "smallint" },
	{ "int4", "integer" }, { "int8", "bigint" }, { "integer", "integer" },
	{ "interval", "interval" }, { "json", "json" }, { "jsonb", "jsonb" },
	{ "numeric", "numeric" }, { "real", "real" },
	{ "smallint", "smallint" }, { "text", "text" }, { "time", "time" },
	{ "timestamp", "timestamp" }, { "timestamptz", "timestamptz" },
	{ "tsvector", "tsvector" }, { "uuid", "uuid" },
	{ "varchar", "character varying" },
};

static int	 perr(struct ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 no_column(struct ctx *, const struct kb_table *,
		    const char *);
static int	 split_params(struct ctx *, const char *, struct qparam **,
		    size_t *);
static char	*read_name(struct ctx *, struct cur *, const char *);
static int	 parse_field(struct ctx *, const struct kb_table *,
		    struct cur *, const char *, struct kb_field *,
		    char **);
static int	 parse_field_str(struct ctx *, const struct kb_table *,
		    const char *, struct kb_field *);
static int	 parse_select(struct ctx *, struct kb_node *, struct cur *,
		    int);
static int	 resolve_embed(struct ctx *, struct kb_node *,
		    struct kb_node *, const char *, char **, size_t);
static int	 parse_list(struct ctx *, const char *, size_t, char,
		    char, char ***, size_t *);
static int	 parse_op(struct ctx *, const char *, size_t, int *,
		    enum kb_qop *, enum kb_quant *, char **);
static int	 make_leaf(struct ctx *, struct kb_cond *, const char *,
		    size_t);
static int	 parse_filter(struct ctx *, struct kb_node *, const char *,
		    const char *, const char *);
static int	 parse_logic(struct ctx *, struct kb_node *, struct cur *,
		    struct kb_cond *, int);
static int	 parse_order(struct ctx *, struct kb_node *, const char *);
static const char *unquoted_dot(const char *);
static int	 parse_count(struct ctx *, const char *, const char *,
		    long long *);
static int	 parse_names(struct ctx *, const struct kb_table *,
		    const char *, const char *, const struct kb_column ***,
		    size_t *);
static void	 add_cond(struct ctx *, struct kb_node *, struct kb_cond *);
static struct kb_node *find_child(struct kb_node *, const char *, size_t);
static int	 hexval(int);
static struct kb_node *new_node(struct ctx *, const struct kb_table *,
		    struct kb_node *);
static void	 add_star(struct ctx *, struct kb_node *);
static int	 fk_has_col(const struct kb_fkey *, const char *);
static int	 fk_in_pk(const struct kb_fkey *, const struct kb_table *);
static int	 apply_param(struct ctx *, const char *, const char *);

int
kb_tables_fail(struct kb_tables_error *err, int status, const char *code,
    const char *details, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL)
		return (-1);
	memset(err, 0, sizeof(*err));
	err->status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	if (details != NULL)
		snprintf(err->details, sizeof(err->details), "%s", details);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return (-1);
}

/* A parse error: 400 PGRST100, PostgREST's "failed to parse" family. */
static int
perr(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;
	char	msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return (kb_tables_fail(c->err, 400, "PGRST100", NULL, "%s", msg));
}

/*
 * A column the query reads (select, filters, order) that the table does
 * not have: PostgREST lets PostgreSQL refuse it, 400 42703 "column
 * t.x does not exist", and clients (postgrest-js users detecting schema
 * drift) look for that code.  Names the write takes (columns=,
 * on_conflict=, body keys) are PGRST204, as PostgREST checks those.
 */
static int
undefined_column(struct ctx *c, const struct kb_table *t, const char *name)
{
	return (kb_tables_fail(c->err, 400, "42703", NULL,
	    "column %s.%.64s does not exist", t->name, name));
}

static int
no_column(struct ctx *c, const struct kb_table *t, const char *name)
{
	return (kb_tables_fail(c->err, 400, "PGRST204", NULL,
	    "Could not find the '%.64s' column of '%s' in the schema cache",
	    name, t->name));
}

const char *
kb_op_name(enum kb_qop op)
{
	if ((size_t)op >= sizeof(op_names) / sizeof(op_names[0]))
		return ("?");
	return (op_names[op]);
}

int
kb_op_lookup(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strlen(op_names[i]) == len &&
		    memcmp(op_names[i], name, len) == 0)
			return ((int)i);
	}
	return (-1);
}

const char *
kb_cast_type(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(casts) / sizeof(casts[0]); i++) {
		if (strlen(casts[i].name) == len &&
		    memcmp(casts[i].name, name, len) == 0)
			return (casts[i].type);
	}
	return (NULL);
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	if (ch >= 'A' && ch <= 'F')
		return (ch - 'A' + 10);
	return (-1);
}

char *
kb_query_decode(struct kb_arena *a, const char *s, size_t len,
    struct kb_tables_error *err)
{
	char	*out;
	size_t	 i, n;
	int	 hi, lo;

	out = kb_arena_alloc(a, len + 1);
	for (i = 0, n = 0; i < len; i++) {
		if (s[i] == '+') {
			out[n++] = ' ';
		} else if (s[i] == '%') {
			if (i + 2 >= len ||
			    (hi = hexval((unsigned char)s[i + 1])) == -1 ||
			    (lo = hexval((unsigned char)s[i + 2])) == -1) {
				kb_tables_fail(err, 400, "PGRST100", NULL,
				    "bad percent-encoding in the query string");
				return (NULL);
			}
			if (hi == 0 && lo == 0) {
				kb_tables_fail(err, 400, "PGRST100", NULL,
				    "%%00 in the query string");
				return (NULL);
			}
			out[n++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	return (out);
}

static int
split_params(struct ctx *c, const char *qs, struct qparam **out,
    size_t *nout)
{
	struct qparam	*ps = NULL;
	const char	*p, *amp, *eq, *end;
	size_t		 n = 0;

	*out = NULL;
	*nout = 0;
	if (qs == NULL)
		return (0);
	if (strlen(qs) > KB_QUERY_MAX_LEN)
		return (kb_tables_fail(c->err, 414, "PGRST100", NULL,
		    "the query string is longer than %d bytes",
		    KB_QUERY_MAX_LEN));
	for (p = qs; *p != '\0'; p = *amp ? amp + 1 : amp) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		if (n == KB_QUERY_MAX_PARAMS)
			return (perr(c, "more than %d query parameters",
			    KB_QUERY_MAX_PARAMS));
		end = amp;
		if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL)
			eq = end;
		ps = kb_arena_grow(c->a, ps, n, sizeof(*ps));
		if ((ps[n].key = kb_query_decode(c->a, p, (size_t)(eq - p),
		    c->err)) == NULL)
			return (-1);
		if (eq < end)
			ps[n].val = kb_query_decode(c->a, eq + 1,
			    (size_t)(end - eq - 1), c->err);
		else
			ps[n].val = kb_arena_strdup(c->a, "");
		if (ps[n].val == NULL)
			return (-1);
		if (ps[n].key[0] == '\0')
			return (perr(c, "a query parameter without a name"));
		n++;
	}
	*out = ps;
	*nout = n;
	return (0);
}

/*
 * A name at the cursor: "quoted" (\" and \\ escapes) or plain up to a
 * character of `stop`, "->" or the end.  NULL (with err) if empty, too
 * long or badly quoted.
 */
static char *
read_name(struct ctx *c, struct cur *cu, const char *stop)
{
	struct kb_sbuf	 sb;
	const char	*s = cu->p;

	kb_sbuf_init(&sb, c->a);
	if (cu->p < cu->end && *cu->p == '"') {
		for (cu->p++; cu->p < cu->end; cu->p++) {
			if (*cu->p == '"') {
				/* "" is a quote inside a quoted name */
				if (cu->p + 1 < cu->end && cu->p[1] == '"')
					cu->p++;
				else
					break;
			} else if (*cu->p == '\\' && cu->p + 1 < cu->end)
				cu->p++;
			kb_sbuf_putc(&sb, *cu->p);
		}
		if (cu->p >= cu->end) {
			perr(c, "unterminated quoted name");
			return (NULL);
		}
		cu->p++;
	} else {
		while (cu->p < cu->end && strchr(stop, *cu->p) == NULL &&
		    !(cu->p[0] == '-' && cu->p + 1 < cu->end &&
		    cu->p[1] == '>'))
			cu->p++;
		kb_sbuf_add(&sb, s, (size_t)(cu->p - s));
	}
	if (sb.len == 0) {
		perr(c, "empty name at \"%.40s\"", s);
		return (NULL);
	}
	if (sb.len > KB_NAME_MAX) {
		perr(c, "name longer than %d bytes: \"%.40s...\"",
		    KB_NAME_MAX, kb_sbuf_str(&sb));
		return (NULL);
	}
	return ((char *)kb_sbuf_str(&sb));
}

/*
 * name(->key|->>key)* at the cursor, resolved in `t`.  The name (and,
 * for a path, its last key, not index, PostgREST's default output name:
 * `meta->tags->0` is "tags", `arr->0` is "arr") go to *outname when it
 * is not NULL.
 */
static int
parse_field(struct ctx *c, const struct kb_table *t, struct cur *cu,
    const char *stop, struct kb_field *f, char **outname)
{
	struct kb_jstep	*st;
	char		*name, *key, *endp;
	long long	 v;

	memset(f, 0, sizeof(*f));
	if ((name = read_name(c, cu, stop)) == NULL)
		return (-1);
	if ((f->col = kb_table_column(t, name)) == NULL)
		return (undefined_column(c, t, name));
	if (outname != NULL)
		*outname = name;
	while (cu->end - cu->p >= 2 && cu->p[0] == '-' && cu->p[1] == '>') {
		if (f->npath == KB_QUERY_MAX_JPATH)
			return (perr(c, "JSON path longer than %d steps",
			    KB_QUERY_MAX_JPATH));
		f->path = kb_arena_grow(c->a, f->path, f->npath,
		    sizeof(*f->path));
		st = &f->path[f->npath++];
		cu->p += 2;
		if (cu->p < cu->end && *cu->p == '>') {
			st->as_text = 1;
			cu->p++;
		}
		if ((key = read_name(c, cu, stop)) == NULL)
			return (-1);
		errno = 0;
		v = strtoll(key, &endp, 10);
		if (*endp == '\0' && errno == 0 &&
		    (isdigit((unsigned char)key[0]) ||
		    (key[0] == '-' && isdigit((unsigned char)key[1]))))
			st->index = v;
		else
			st->key = key;
		/* An index step keeps the last key (or the column). */
		if (outname != NULL && st->key != NULL)
			*outname = key;
	}
	return (0);
}

/* A whole string that must be one field. */
static int
parse_field_str(struct ctx *c, const struct kb_table *t, const char *s,
    struct kb_field *f)
{
	struct cur	cu = { s, s + strlen(s) };

	if (parse_field(c, t, &cu, "", f, NULL) == -1)
		return (-1);
	if (cu.p != cu.end)
		return (perr(c, "unexpected \"%.40s\" after a column", cu.p));
	return (0);
}

static struct kb_node *
new_node(struct ctx *c, const struct kb_table *t, struct kb_node *parent)
{
	struct kb_node	*n;

	n = kb_arena_alloc(c->a, sizeof(*n));
	n->table = t;
	n->parent = parent;
	n->limit = -1;
	n->depth = parent ? parent->depth + 1 : 0;
	n->id = c->nnodes++;
	return (n);
}

static void
add_star(struct ctx *c, struct kb_node *n)
{
	const struct kb_table	*t = n->table;
	struct kb_sel		*s;
	size_t			 i;

	for (i = 0; i < t->ncols; i++) {
		n->sel = kb_arena_grow(c->a, n->sel, n->nsel, sizeof(*n->sel));
		s = &n->sel[n->nsel++];
		s->alias = t->cols[i].name;
		s->field.col = &t->cols[i];
	}
}

/*
 * The items of a select list at the cursor, up to the end or, inside an
 * embed (depth > 0), up to the closing parenthesis (left unconsumed).
 */
/*
 * Aggregates (select=count(), col.sum(), ...): PostgREST refuses them
 * unless db-aggregates-enabled, its default; so do we, with its error.
 */
static int
no_aggregates(struct ctx *c)
{
	return (kb_tables_fail(c->err, 400, "PGRST123", NULL,
	    "Use of aggregate functions is not allowed"));
}

/* ".sum()" (avg max min count) at the cursor, after a field. */
static int
is_aggregate(const struct cur *cu)
{
	static const char *const fn[] = { "sum", "avg", "max", "min",
	    "count" };
	size_t	i, len;

	if (cu->p >= cu->end || *cu->p != '.')
		return (0);
	for (i = 0; i < sizeof(fn) / sizeof(fn[0]); i++) {
		len = strlen(fn[i]);
		if ((size_t)(cu->end - cu->p) >= len + 3 &&
		    memcmp(cu->p + 1, fn[i], len) == 0 &&
		    memcmp(cu->p + 1 + len, "()", 2) == 0)
			return (1);
	}
	return (0);
}

static int
parse_select(struct ctx *c, struct kb_node *n, struct cur *cu, int depth)
{
	struct kb_sel	*s;
	struct kb_node	*e;
	struct cur	 save;
	char		*first, *alias, *name, *hints[4];
	const char	*t0;
	size_t		 nhints, nitems = 0;
	int		 spread;

	if (cu->p < cu->end && *cu->p == ')' && depth > 0)
		return (0);	/* rel(): embedded for filtering only */
	for (;;) {
		if (++nitems > KB_QUERY_MAX_SELECT)
			return (perr(c, "more than %d select items",
			    KB_QUERY_MAX_SELECT));
		if (cu->p < cu->end && *cu->p == '*') {
			cu->p++;
			add_star(c, n);
			goto next;
		}
		spread = 0;
		if (cu->end - cu->p >= 3 && memcmp(cu->p, "...", 3) == 0) {
			/* ...rel(cols): a to-one's columns, inline. */
			if (n->spread)
				return (perr(c, "a spread inside a spread is "
				    "not supported"));
			spread = 1;
			cu->p += 3;
		}
		alias = NULL;
		save = *cu;
		if ((first = read_name(c, cu, ",()!:.")) == NULL)
			return (-1);
		if (spread && (cu->p >= cu->end ||
		    (*cu->p != '(' && *cu->p != '!')))
			return (perr(c, "expected an embedded resource after "
			    "\"...\""));
		if (!spread && cu->p < cu->end && *cu->p == ':' &&
		    !(cu->p + 1 < cu->end && cu->p[1] == ':')) {
			alias = first;
			cu->p++;
			save = *cu;
			if ((first = read_name(c, cu, ",()!:.")) == NULL)
				return (-1);
		}
		if (!spread && strcmp(first, "count") == 0 &&
		    cu->end - cu->p >= 2 && memcmp(cu->p, "()", 2) == 0)
			return (no_aggregates(c));
		if (cu->p < cu->end && (*cu->p == '(' || *cu->p == '!')) {
			if (depth + 1 > KB_QUERY_MAX_EMBED)
				return (perr(c, "embedding nested deeper than "
				    "%d", KB_QUERY_MAX_EMBED));
			nhints = 0;
			while (cu->p < cu->end && *cu->p == '!') {
				cu->p++;
				if (nhints == 4)
					return (perr(c, "too many hints on "
					    "\"%s\"", first));
				if ((hints[nhints++] = read_name(c, cu,
				    ",()!:.")) == NULL)
					return (-1);
			}
			if (cu->p >= cu->end || *cu->p != '(')
				return (perr(c, "expected \"(\" after "
				    "\"%s\"", first));
			cu->p++;
			e = new_node(c, NULL, n);
			e->alias = alias ? alias : first;
			e->spread = spread;
			if (resolve_embed(c, n, e, first, hints, nhints) == -1)
				return (-1);
			if (spread && e->to_many)
				return (kb_tables_fail(c->err, 400,
				    "PGRST119", NULL, "A spread operation on "
				    "'%.64s' is not possible: it is not a "
				    "to-one relationship", first));
			if (parse_select(c, e, cu, depth + 1) == -1)
				return (-1);
			if (cu->p >= cu->end || *cu->p != ')')
				return (perr(c, "unbalanced parentheses in "
				    "select"));
			cu->p++;
			n->sel = kb_arena_grow(c->a, n->sel, n->nsel,
			    sizeof(*n->sel));
			s = &n->sel[n->nsel++];
			s->alias = e->alias;
			s->embed = e;
			goto next;
		}
		/* A field: reparse from its start to follow a JSON path. */
		*cu = save;
		n->sel = kb_arena_grow(c->a, n->sel, n->nsel, sizeof(*n->sel));
		s = &n->sel[n->nsel++];
		if (parse_field(c, n->table, cu, ",()!:.", &s->field,
		    &name) == -1)
			return (-1);
		s->alias = alias ? alias : name;
		if (cu->end - cu->p >= 2 && cu->p[0] == ':' &&
		    cu->p[1] == ':') {
			cu->p += 2;
			t0 = cu->p;
			while (cu->p < cu->end && (isalnum((unsigned char)
			    *cu->p) || *cu->p == '_'))
				cu->p++;
			if ((s->cast = kb_cast_type(t0,
			    (size_t)(cu->p - t0))) == NULL)
				return (perr(c, "unsupported cast \"%.*s\"",
				    (int)(cu->p - t0 > 40 ? 40 :
				    cu->p - t0), t0));
		}
		if (is_aggregate(cu))
			return (no_aggregates(c));
next:
		if (cu->p >= cu->end)
			return (depth == 0 ? 0 : perr(c, "unbalanced "
			    "parentheses in select"));
		if (*cu->p == ')') {
			if (depth == 0)
				return (perr(c, "unbalanced parentheses in "
				    "select"));
			return (0);
		}
		if (*cu->p != ',')
			return (perr(c, "unexpected \"%.40s\" in select",
			    cu->p));
		cu->p++;
	}
}

static int
fk_has_col(const struct kb_fkey *fk, const char *name)
{
	size_t	i;

	for (i = 0; i < fk->ncols; i++) {
		if (strcmp(fk->cols[i]->name, name) == 0)
			return (1);
	}
	return (0);
}

/* Whether every column of fk is in t's primary key. */
static int
fk_in_pk(const struct kb_fkey *fk, const struct kb_table *t)
{
	size_t	i, j;

	for (i = 0; i < fk->ncols; i++) {
		for (j = 0; j < t->npk && t->pk[j] != fk->cols[i]; j++)
			;
		if (j == t->npk)
			return (0);
	}
	return (1);
}

/*
 * Which relationship joins `parent` and the resource called `name`:
 * to-one (the parent's key to a table called `name`, or whose only
 * column or constraint is called `name`), to-many (a key of a table
 * called `name` to the parent; one-to-one when that key is unique), or
 * many-to-many (a junction table whose primary key holds a key to the
 * parent and one to a table called `name`).  Hints pick among several:
 * a constraint name, a key column or the junction's name; "inner" and
 * "left" set the join.
 */
static int
resolve_embed(struct ctx *c, struct kb_node *parent, struct kb_node *e,
    const char *name, char **hints, size_t nhints)
{
	const struct kb_table	*p = parent->table, *t;
	const struct kb_fkey	*fk, *fk2, *found[8], *jchild[8];
	int			 dir[8];
	const char		*hint = NULL;
	struct kb_sbuf		 sb;
	size_t			 i, j, k, n = 0;

	for (i = 0; i < nhints; i++) {
		if (strcmp(hints[i], "inner") == 0)
			e->inner = 1;
		else if (strcmp(hints[i], "left") == 0)
			e->inner = 0;
		else if (hint == NULL)
			hint = hints[i];
		else
			return (perr(c, "more than one hint on \"%s\"",
			    name));
	}
	for (i = 0; i < p->nfkeys && n < 8; i++) {
		fk = &p->fkeys[i];
		if (strcmp(fk->ref->name, name) != 0 &&
		    strcmp(fk->name, name) != 0 &&
		    !(fk->ncols == 1 && strcmp(fk->cols[0]->name, name) == 0))
			continue;
		if (hint != NULL && strcmp(fk->name, hint) != 0 &&
		    !fk_has_col(fk, hint))
			continue;
		found[n] = fk;
		dir[n++] = 0;
	}
	for (i = 0; i < c->schema->ntables && n < 8; i++) {
		t = &c->schema->tables[i];
		if (strcmp(t->name, name) != 0)
			continue;
		for (j = 0; j < t->nfkeys && n < 8; j++) {
			fk = &t->fkeys[j];
			if (fk->ref != p)
				continue;
			if (hint != NULL && strcmp(fk->name, hint) != 0 &&
			    !fk_has_col(fk, hint))
				continue;
			found[n] = fk;
			dir[n++] = 1;
		}
	}
	/* Many-to-many through a junction table. */
	for (i = 0; i < c->schema->ntables && n < 8; i++) {
		t = &c->schema->tables[i];
		for (j = 0; j < t->nfkeys && n < 8; j++) {
			fk = &t->fkeys[j];
			if (fk->ref != p || !fk_in_pk(fk, t))
				continue;
			for (k = 0; k < t->nfkeys && n < 8; k++) {
				fk2 = &t->fkeys[k];
				if (fk2 == fk ||
				    strcmp(fk2->ref->name, name) != 0 ||
				    !fk_in_pk(fk2, t))
					continue;
				if (hint != NULL &&
				    strcmp(t->name, hint) != 0 &&
				    strcmp(fk->name, hint) != 0 &&
				    strcmp(fk2->name, hint) != 0)
					continue;
				jchild[n] = fk2;
				found[n] = fk;
				dir[n++] = 2;
			}
		}
	}
	if (n == 0)
		return (kb_tables_fail(c->err, 400, "PGRST200", NULL,
		    "Could not find a relationship between '%s' and '%.64s' "
		    "in the schema cache", p->name, name));
	/*
	 * A self-reference matches one key both ways: a column hint (or
	 * the column as the name) means the row's parent (to-one), the
	 * constraint name its children (to-many).
	 */
	if (n == 2 && found[0] == found[1]) {
		i = (hint != NULL ? strcmp(hint, found[0]->name) == 0 :
		    strcmp(name, found[0]->name) == 0 ||
		    strcmp(name, found[0]->ref->name) == 0) ? 1 : 0;
		found[0] = found[i];
		dir[0] = dir[i];
		n = 1;
	}
	if (n > 1) {
		kb_sbuf_init(&sb, c->a);
		for (i = 0; i < n; i++)
			kb_sbuf_printf(&sb, "%s'%s!%s'", i ? ", " : "",
			    name, dir[i] == 2 ? found[i]->table->name :
			    found[i]->name);
		kb_tables_fail(c->err, 300, "PGRST201", NULL,
		    "Could not embed because more than one relationship was "
		    "found for '%s' and '%.64s'", p->name, name);
		snprintf(c->err->hint, sizeof(c->err->hint), "Try changing "
		    "'%.64s' to one of the following: %s", name,
		    kb_sbuf_str(&sb));
		return (-1);
	}
	switch (dir[0]) {
	case 0:
		e->fk = found[0];
		e->table = found[0]->ref;
		break;
	case 1:
		e->fk = found[0];
		e->reverse = 1;
		e->to_many = !found[0]->unique;
		e->table = found[0]->table;
		break;
	default:
		e->junction = found[0]->table;
		e->jfk_parent = found[0];
		e->jfk_child = jchild[0];
		e->to_many = 1;
		e->table = jchild[0]->ref;
		break;
	}
	return (0);
}

/*
 * A list between `open` and `close` (the whole of s[0..len)): items
 * separated by commas, each "quoted" (\ escapes) or verbatim.
 */
static int
parse_list(struct ctx *c, const char *s, size_t len, char open, char close,
    char ***out, size_t *nout)
{
	struct kb_sbuf	 sb;
	const char	*p, *end;
	char		**v = NULL;
	size_t		 n = 0;

	if (len < 2 || s[0] != open || s[len - 1] != close)
		return (perr(c, "expected a list in %c%c, got \"%.40s\"",
		    open, close, s));
	p = s + 1;
	end = s + len - 1;
	if (p == end)
		goto done;
	for (;;) {
		if (n == KB_QUERY_MAX_LIST)
			return (perr(c, "more than %d values in a list",
			    KB_QUERY_MAX_LIST));
		kb_sbuf_init(&sb, c->a);
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				kb_sbuf_putc(&sb, *p);
			}
			if (p >= end)
				return (perr(c, "unterminated quoted value "
				    "in a list"));
			p++;
			if (p < end && *p != ',')
				return (perr(c, "unexpected \"%.20s\" after a "
				    "quoted value", p));
		} else {
			while (p < end && *p != ',') {
				kb_sbuf_putc(&sb, *p);
				p++;
			}
		}
		v = kb_arena_grow(c->a, v, n, sizeof(*v));
		v[n++] = (char *)kb_sbuf_str(&sb);
		if (p >= end)
			break;
		p++;	/* ',' */
	}
done:
	*out = v;
	*nout = n;
	return (0);
}

/*
 * [not.]op[(modifier)] in s[0..len): any/all for the comparison
 * operators, a text search configuration for the fts family.
 */
static int
parse_op(struct ctx *c, const char *s, size_t len, int *negate,
    enum kb_qop *op, enum kb_quant *quant, char **config)
{
	const char	*paren;
	size_t		 oplen;
	int		 o;

	*negate = 0;
	*quant = KB_QUANT_NONE;
	*config = NULL;
	if (len >= 4 && memcmp(s, "not.", 4) == 0) {
		*negate = 1;
		s += 4;
		len -= 4;
	}
	paren = memchr(s, '(', len);
	oplen = paren ? (size_t)(paren - s) : len;
	if ((o = kb_op_lookup(s, oplen)) == -1)
		return (perr(c, "unknown operator \"%.*s\"",
		    (int)(oplen > 20 ? 20 : oplen), s));
	*op = (enum kb_qop)o;
	if (paren == NULL)
		return (0);
	if (s[len - 1] != ')' || paren + 1 >= s + len - 1)
		return (perr(c, "bad operator modifier in \"%.*s\"",
		    (int)(len > 40 ? 40 : len), s));
	if (o >= KB_OP_FTS && o <= KB_OP_WFTS) {
		*config = kb_arena_strndup(c->a, paren + 1,
		    (size_t)(s + len - 1 - paren - 1));
		if (strlen(*config) > KB_NAME_MAX * 2 + 1)
			return (perr(c, "text search configuration too long"));
		return (0);
	}
	if (o > KB_OP_IMATCH)
		return (perr(c, "operator %s takes no (any) or (all)",
		    op_names[o]));
	if ((size_t)(s + len - paren) == 5 && memcmp(paren, "(any)", 5) == 0)
		*quant = KB_QUANT_ANY;
	else if ((size_t)(s + len - paren) == 5 &&
	    memcmp(paren, "(all)", 5) == 0)
		*quant = KB_QUANT_ALL;
	else
		return (perr(c, "unknown modifier \"%.*s\"",
		    (int)(s + len - paren > 20 ? 20 : s + len - paren), paren));
	return (0);
}

/* The value of a leaf whose field and operator are set. */
static int
make_leaf(struct ctx *c, struct kb_cond *l, const char *v, size_t len)
{
	static const char *const is_vals[] = { "null", "not_null", "true",
	    "false", "unknown" };
	char	*s, *p;
	size_t	 i;

	if (l->op == KB_OP_IS) {
		for (i = 0; i < 5; i++) {
			if (strlen(is_vals[i]) == len &&
			    strncasecmp(is_vals[i], v, len) == 0) {
				l->is = (enum kb_is)i;
				return (0);
			}
		}
		return (perr(c, "is. takes null, not_null, true, false or "
		    "unknown, not \"%.*s\"", (int)(len > 20 ? 20 : len), v));
	}
	if (l->op == KB_OP_IN)
		return (parse_list(c, v, len, '(', ')', &l->values,
		    &l->nvalues));
	if (l->quant != KB_QUANT_NONE) {
		if (parse_list(c, v, len, '{', '}', &l->values,
		    &l->nvalues) == -1)
			return (-1);
		if (l->nvalues == 0)
			return (perr(c, "an empty list for (any) or (all)"));
	} else {
		l->values = kb_arena_alloc(c->a, sizeof(*l->values));
		l->values[0] = kb_arena_strndup(c->a, v, len);
		l->nvalues = 1;
	}
	if (l->op == KB_OP_LIKE || l->op == KB_OP_ILIKE) {
		for (i = 0; i < l->nvalues; i++) {
			s = l->values[i];
			for (p = s; *p != '\0'; p++) {
				if (*p == '*')
					*p = '%';
			}
		}
	}
	return (0);
}

static void
add_cond(struct ctx *c, struct kb_node *n, struct kb_cond *cond)
{
	if (n->where == NULL) {
		n->where = kb_arena_alloc(c->a, sizeof(*n->where));
		n->where->kind = KB_COND_AND;
	}
	n->where->kids = kb_arena_grow(c->a, n->where->kids, n->where->nkids,
	    sizeof(*n->where->kids));
	n->where->kids[n->where->nkids++] = cond;
}

/*
 * A filter on `n`: `field` with "[not.]op.value" (PostgREST's form,
 * opstr NULL) or with the operator from the key (the short form,
 * opstr "[not.]op", value verbatim).
 */
static int
parse_filter(struct ctx *c, struct kb_node *n, const char *field,
    const char *opstr, const char *val)
{
	struct kb_cond	*l;
	const char	*dot, *p;
	size_t		 oplen;
	int		 depth;

	l = kb_arena_alloc(c->a, sizeof(*l));
	l->kind = KB_COND_LEAF;
	if (parse_field_str(c, n->table, field, &l->field) == -1)
		return (-1);
	if (opstr != NULL) {
		if (parse_op(c, opstr, strlen(opstr), &l->negate, &l->op,
		    &l->quant, &l->fts_config) == -1)
			return (-1);
		/* Short form: in=a,b as well as in=(a,b). */
		if (l->op == KB_OP_IN && val[0] != '(') {
			val = kb_arena_printf(c->a, "(%s)", val);
		}
		if (make_leaf(c, l, val, strlen(val)) == -1)
			return (-1);
		add_cond(c, n, l);
		return (0);
	}
	/* The operator ends at the first '.' outside parentheses. */
	p = val;
	if (strncmp(p, "not.", 4) == 0)
		p += 4;
	for (depth = 0, dot = p; *dot != '\0'; dot++) {
		if (*dot == '(')
			depth++;
		else if (*dot == ')')
			depth--;
		else if (*dot == '.' && depth == 0)
			break;
	}
	if (*dot != '.')
		return (perr(c, "failed to parse filter (%.60s)", val));
	oplen = (size_t)(dot - val);
	if (parse_op(c, val, oplen, &l->negate, &l->op, &l->quant,
	    &l->fts_config) == -1)
		return (-1);
	if (make_leaf(c, l, dot + 1, strlen(dot + 1)) == -1)
		return (-1);
	add_cond(c, n, l);
	return (0);
}

/*
 * A logic list "(cond,cond,...)" at the cursor into `into` (an AND or
 * OR whose kind is set).  cond: [not.]and(...) | [not.]or(...) |
 * field.[not.]op[(mod)].value, the value "quoted", {braced}, (listed)
 * for in, or up to the next ',' or ')'.
 */
/*
 * rel.is.null / rel.not.is.null in a logic tree (or=(rel.is.null,..)),
 * rel an embed of n and not a column: 1 with k filled, 0 (cursor
 * unmoved) when the leaf is not of that form, -1 on error.
 */
static int
embed_null_leaf(struct ctx *c, struct kb_node *n, struct cur *cu,
    struct kb_cond *k)
{
	struct cur	 save = *cu;
	struct kb_node	*child;
	char		*name;
	size_t		 len;

	if ((name = read_name(c, cu, ".,()")) == NULL)
		return (-1);
	if (cu->p >= cu->end || *cu->p != '.' ||
	    kb_table_column(n->table, name) != NULL ||
	    (child = find_child(n, name, strlen(name))) == NULL) {
		*cu = save;
		return (0);
	}
	cu->p++;
	for (len = 0; cu->p + len < cu->end && cu->p[len] != ',' &&
	    cu->p[len] != ')'; len++)
		;
	if (len == 7 && memcmp(cu->p, "is.null", 7) == 0)
		k->negate = 1;
	else if (len != 11 || memcmp(cu->p, "not.is.null", 11) != 0)
		return (perr(c, "an embedded resource ('%.64s') can only be "
		    "filtered with is.null or not.is.null", name));
	cu->p += len;
	k->embed = child;
	return (1);
}

static int
parse_logic(struct ctx *c, struct kb_node *n, struct cur *cu,
    struct kb_cond *into, int depth)
{
	struct kb_cond	*k;
	const char	*s, *v;
	struct kb_sbuf	 sb;
	int		 negate, level, inq, r;

	if (depth > KB_QUERY_MAX_LOGIC)
		return (perr(c, "logic nested deeper than %d",
		    KB_QUERY_MAX_LOGIC));
	if (cu->p >= cu->end || *cu->p != '(')
		return (perr(c, "expected \"(\" in a logic tree at \"%.40s\"",
		    cu->p));
	cu->p++;
	for (;;) {
		k = kb_arena_alloc(c->a, sizeof(*k));
		negate = 0;
		if (cu->end - cu->p >= 4 && memcmp(cu->p, "not.", 4) == 0) {
			negate = 1;
			cu->p += 4;
		}
		if (cu->end - cu->p >= 4 && memcmp(cu->p, "and(", 4) == 0) {
			k->kind = KB_COND_AND;
			cu->p += 3;
			k->negate = negate;
			if (parse_logic(c, n, cu, k, depth + 1) == -1)
				return (-1);
			goto added;
		}
		if (cu->end - cu->p >= 3 && memcmp(cu->p, "or(", 3) == 0) {
			k->kind = KB_COND_OR;
			cu->p += 2;
			k->negate = negate;
			if (parse_logic(c, n, cu, k, depth + 1) == -1)
				return (-1);
			goto added;
		}
		if (negate)
			cu->p -= 4;	/* not.field is a field called not */
		k->kind = KB_COND_LEAF;
		if ((r = embed_null_leaf(c, n, cu, k)) == -1)
			return (-1);
		if (r == 1)
			goto added;
		if (parse_field(c, n->table, cu, ".,()", &k->field,
		    NULL) == -1)
			return (-1);
		if (cu->p >= cu->end || *cu->p != '.')
			return (perr(c, "expected an operator after a column "
			    "in a logic tree"));
		cu->p++;
		/* [not.]op[(mod)] up to the next '.' */
		s = cu->p;
		if (cu->end - cu->p >= 4 && memcmp(cu->p, "not.", 4) == 0)
			cu->p += 4;
		while (cu->p < cu->end && *cu->p != '.' && *cu->p != '(' &&
		    *cu->p != ',' && *cu->p != ')')
			cu->p++;
		if (cu->p < cu->end && *cu->p == '(') {
			while (cu->p < cu->end && *cu->p != ')')
				cu->p++;
			if (cu->p < cu->end)
				cu->p++;
		}
		if (cu->p >= cu->end || *cu->p != '.')
			return (perr(c, "expected \"op.value\" in a logic "
			    "tree at \"%.40s\"", s));
		if (parse_op(c, s, (size_t)(cu->p - s), &k->negate, &k->op,
		    &k->quant, &k->fts_config) == -1)
			return (-1);
		cu->p++;
		v = cu->p;
		if (k->op == KB_OP_IN || k->quant != KB_QUANT_NONE ||
		    (cu->p < cu->end && *cu->p == '{')) {
			/* A bracketed value, quotes and nesting respected. */
			level = 0;
			inq = 0;
			for (; cu->p < cu->end; cu->p++) {
				if (inq) {
					if (*cu->p == '\\' &&
					    cu->p + 1 < cu->end)
						cu->p++;
					else if (*cu->p == '"')
						inq = 0;
					continue;
				}
				if (*cu->p == '"')
					inq = 1;
				else if (*cu->p == '(' || *cu->p == '{')
					level++;
				else if (*cu->p == ')' || *cu->p == '}') {
					if (--level == 0) {
						cu->p++;
						break;
					}
					if (level < 0)
						break;
				}
			}
			if (level != 0)
				return (perr(c, "unbalanced brackets in a "
				    "logic tree value"));
			if (make_leaf(c, k, v, (size_t)(cu->p - v)) == -1)
				return (-1);
		} else if (cu->p < cu->end && *cu->p == '"') {
			kb_sbuf_init(&sb, c->a);
			for (cu->p++; cu->p < cu->end && *cu->p != '"';
			    cu->p++) {
				if (*cu->p == '\\' && cu->p + 1 < cu->end)
					cu->p++;
				kb_sbuf_putc(&sb, *cu->p);
			}
			if (cu->p >= cu->end)
				return (perr(c, "unterminated quoted value"));
			cu->p++;
			if (make_leaf(c, k, kb_sbuf_str(&sb), sb.len) == -1)
				return (-1);
		} else {
			while (cu->p < cu->end && *cu->p != ',' &&
			    *cu->p != ')')
				cu->p++;
			if (make_leaf(c, k, v, (size_t)(cu->p - v)) == -1)
				return (-1);
		}
added:
		into->kids = kb_arena_grow(c->a, into->kids, into->nkids,
		    sizeof(*into->kids));
		into->kids[into->nkids++] = k;
		if (into->nkids > KB_QUERY_MAX_LIST)
			return (perr(c, "too many conditions"));
		if (cu->p >= cu->end)
			return (perr(c, "unbalanced parentheses in a logic "
			    "tree"));
		if (*cu->p == ')') {
			cu->p++;
			return (0);
		}
		if (*cu->p != ',')
			return (perr(c, "unexpected \"%.40s\" in a logic tree",
			    cu->p));
		cu->p++;
	}
}

static int
parse_order(struct ctx *c, struct kb_node *n, const char *s)
{
	struct cur	 cu = { s, s + strlen(s) }, save;
	struct kb_order	*o;
	struct kb_node	*rel;
	const char	*w;
	char		*name;
	size_t		 len;

	for (;;) {
		if (n->norder == KB_QUERY_MAX_SELECT)
			return (perr(c, "too many order terms"));
		n->order = kb_arena_grow(c->a, n->order, n->norder,
		    sizeof(*n->order));
		o = &n->order[n->norder++];
		/* rel(field): a column of a to-one embedded resource. */
		save = cu;
		if ((name = read_name(c, &cu, ",.()")) == NULL)
			return (-1);
		if (cu.p < cu.end && *cu.p == '(') {
			rel = find_child(n, name, strlen(name));
			if (rel == NULL || rel->to_many)
				return (perr(c, "order: \"%s\" is not a "
				    "to-one embedded resource", name));
			cu.p++;
			if (parse_field(c, rel->table, &cu, ",.()",
			    &o->field, NULL) == -1)
				return (-1);
			if (cu.p >= cu.end || *cu.p != ')')
				return (perr(c, "order: expected \")\""));
			cu.p++;
			o->rel = rel;
		} else {
			cu = save;
			if (parse_field(c, n->table, &cu, ",.()", &o->field,
			    NULL) == -1)
				return (-1);
		}
		while (cu.p < cu.end && *cu.p == '.') {
			w = ++cu.p;
			while (cu.p < cu.end && *cu.p != '.' && *cu.p != ',')
				cu.p++;
			len = (size_t)(cu.p - w);
			if (len == 3 && memcmp(w, "asc", 3) == 0)
				o->desc = 0;
			else if (len == 4 && memcmp(w, "desc", 4) == 0)
				o->desc = 1;
			else if (len == 10 && memcmp(w, "nullsfirst", 10) == 0)
				o->nulls = 1;
			else if (len == 9 && memcmp(w, "nullslast", 9) == 0)
				o->nulls = 2;
			else
				return (perr(c, "unknown order modifier "
				    "\"%.*s\"", (int)(len > 20 ? 20 : len), w));
		}
		if (cu.p >= cu.end)
			return (0);
		if (*cu.p != ',')
			return (perr(c, "unexpected \"%.40s\" in order", cu.p));
		cu.p++;
	}
}

static int
parse_count(struct ctx *c, const char *what, const char *s, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return (perr(c, "%s must be a non-negative integer", what));
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v > 1000000000000LL)
		return (perr(c, "%s must be a non-negative integer", what));
	*out = v;
	return (0);
}

/* A comma list of column names of `t` (columns=, on_conflict=). */
static int
parse_names(struct ctx *c, const struct kb_table *t, const char *what,
    const char *s, const struct kb_column ***out, size_t *nout)
{
	struct cur		 cu = { s, s + strlen(s) };
	const struct kb_column	**v = NULL, *col;
	size_t			 n = 0;
	char			*name;

	for (;;) {
		if (n == KB_QUERY_MAX_SELECT)
			return (perr(c, "too many names in %s", what));
		if ((name = read_name(c, &cu, ",")) == NULL)
			return (-1);
		if ((col = kb_table_column(t, name)) == NULL)
			return (no_column(c, t, name));
		v = kb_arena_grow(c->a, v, n, sizeof(*v));
		v[n++] = col;
		if (cu.p >= cu.end)
			break;
		if (*cu.p != ',')
			return (perr(c, "unexpected \"%.40s\" in %s", cu.p,
			    what));
		cu.p++;
	}
	*out = v;
	*nout = n;
	return (0);
}

/* The embedded child of n called `name` (its alias, else its name). */
static struct kb_node *
find_child(struct kb_node *n, const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < n->nsel; i++) {
		if (n->sel[i].embed != NULL &&
		    strlen(n->sel[i].alias) == len &&
		    memcmp(n->sel[i].alias, name, len) == 0)
			return (n->sel[i].embed);
	}
	for (i = 0; i < n->nsel; i++) {
		if (n->sel[i].embed != NULL &&
		    strlen(n->sel[i].embed->table->name) == len &&
		    memcmp(n->sel[i].embed->table->name, name, len) == 0)
			return (n->sel[i].embed);
	}
	return (NULL);
}

/* The first '.' of s outside "quotes", or NULL. */
static const char *
unquoted_dot(const char *s)
{
	int	inq = 0;

	for (; *s != '\0'; s++) {
		if (*s == '"')
			inq = !inq;
		else if (*s == '.' && !inq)
			return (s);
	}
	return (NULL);
}

/* The key of one non-select parameter, on the root or an embed. */
static int
apply_param(struct ctx *c, const char *key, const char *val)
{
	struct kb_node	*n = c->q->root, *child;
	struct kb_cond	*l;
	struct cur	 cu;
	const char	*k = key, *dot, *rest, *op;
	char		*field;

	if (strcmp(key, "columns") == 0)
		return (parse_names(c, n->table, "columns", val,
		    &c->q->columns, &c->q->ncolumns));
	if (strcmp(key, "on_conflict") == 0)
		return (parse_names(c, n->table, "on_conflict", val,
		    &c->q->on_conflict, &c->q->non_conflict));
	if (strcmp(key, "all") == 0 && strcmp(val, "true") == 0) {
		c->q->all_rows = 1;
		return (0);
	}
	/* Descend through embedded resources named by the key. */
	while ((dot = unquoted_dot(k)) != NULL &&
	    (child = find_child(n, k, (size_t)(dot - k))) != NULL) {
		n = child;
		k = dot + 1;
	}
	if (strcmp(k, "order") == 0)
		return (parse_order(c, n, val));
	if (strcmp(k, "limit") == 0)
		return (parse_count(c, "limit", val, &n->limit));
	if (strcmp(k, "offset") == 0)
		return (parse_count(c, "offset", val, &n->offset));
	if (strcmp(k, "or") == 0 || strcmp(k, "and") == 0 ||
	    strcmp(k, "not.or") == 0 || strcmp(k, "not.and") == 0) {
		l = kb_arena_alloc(c->a, sizeof(*l));
		l->negate = (k[0] == 'n');
		l->kind = strcmp(k + (l->negate ? 4 : 0), "or") == 0 ?
		    KB_COND_OR : KB_COND_AND;
		cu.p = val;
		cu.end = val + strlen(val);
		if (parse_logic(c, n, &cu, l, 1) == -1)
			return (-1);
		if (cu.p != cu.end)
			return (perr(c, "unexpected \"%.40s\" after a logic "
			    "tree", cu.p));
		add_cond(c, n, l);
		return (0);
	}
	/* rel=is.null, rel=not.is.null: whether an embedded row exists. */
	if (unquoted_dot(k) == NULL && kb_table_column(n->table, k) == NULL &&
	    (child = find_child(n, k, strlen(k))) != NULL) {
		if (strcasecmp(val, "not.is.null") == 0)
			child->exists = 1;
		else if (strcasecmp(val, "is.null") == 0)
			child->exists = -1;
		else
			return (perr(c, "an embedded resource takes is.null "
			    "or not.is.null, not \"%.40s\"", val));
		return (0);
	}
	if ((rest = unquoted_dot(k)) == NULL)
		return (parse_filter(c, n, k, NULL, val));
	/* Short form: field.op or field.not.op. */
	op = rest + 1;
	field = kb_arena_strndup(c->a, k, (size_t)(rest - k));
	if (kb_table_column(n->table, field) == NULL &&
	    strstr(field, "->") == NULL &&
	    kb_op_lookup(op, strcspn(op, "(")) == -1 &&
	    strncmp(op, "not.", 4) != 0)
		return (kb_tables_fail(c->err, 400, "PGRST200", NULL,
		    "'%.64s' is neither a column nor an embedded resource "
		    "of '%s'", field, n->table->name));
	return (parse_filter(c, n, field, op, val));
}

int
kb_query_parse(struct kb_arena *a, const struct kb_catalog *schema,
    const struct kb_table *table, const char *qs, int flags,
    struct kb_query *q, struct kb_tables_error *err)
{
	struct ctx	 c;
	struct qparam	*ps;
	struct cur	 cu;
	size_t		 i, nps;
	int		 sel = -1;

	memset(q, 0, sizeof(*q));
	memset(err, 0, sizeof(*err));
	c.a = a;
	c.schema = schema;
	c.q = q;
	c.err = err;
	c.nnodes = 0;
	if (table == NULL)
		return (kb_tables_fail(err, 404, "PGRST205", NULL,
		    "Could not find the table in the schema cache"));
	if (split_params(&c, qs, &ps, &nps) == -1)
		return (-1);
	q->root = new_node(&c, table, NULL);
	for (i = 0; i < nps; i++) {
		if (strcmp(ps[i].key, "select") == 0) {
			if (sel != -1)
				return (perr(&c, "select given twice"));
			sel = (int)i;
		}
	}
	if (sel != -1 && ps[sel].val[0] != '\0') {
		q->has_select = 1;
		cu.p = ps[sel].val;
		cu.end = cu.p + strlen(cu.p);
		if (parse_select(&c, q->root, &cu, 0) == -1)
			return (-1);
	} else {
		add_star(&c, q->root);
	}
	for (i = 0; i < nps; i++) {
		if ((int)i == sel)
			continue;
		if ((flags & KB_QUERY_EXPORT) &&
		    strcmp(ps[i].key, "format") == 0) {
			q->format = ps[i].val;
			continue;
		}
		if (apply_param(&c, ps[i].key, ps[i].val) == -1)
			return (-1);
	}
	q->nnodes = c.nnodes;
	return (0);
}
