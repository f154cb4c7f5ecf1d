/*
 * korebase tables: plans (SQL text + parameters) for Tables API requests
 * and the responses to their results.
 *
 * SQL is written here only: identifiers from the schema, quoted by
 * kb_sql_ident; request values only as $n parameters with an explicit
 * cast to the column type; integers we parsed (limit, offset, JSON array
 * indexes) as digits.  Statements are shaped like PostgREST's:
 *
 *	WITH pgrst_source AS (<select, insert, update or delete>)
 *	SELECT <total> AS total_result_set, pg_catalog.count(*) AS page_total,
 *	    <body> AS body, <location> AS location
 *	FROM (SELECT <select list> FROM pgrst_source) AS _postgrest_t
 *
 * Every resource gets the alias "t<id>" (root "t0"); embedded resources
 * are correlated subqueries on their foreign key, to-one as an object
 * (row_to_json), to-many as an array (json_agg), !inner as an EXISTS in
 * the parent's WHERE.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kb_arena.h"
#include "kb_tables.h"

struct bld {
	struct kb_arena			*a;
	const struct kb_tables_request	*req;
	struct kb_tables_plan		*plan;
	struct kb_tables_error		*err;
	const char			**params;
	int				 nparams;
	int				 failed;
	int				 tenant;	/* its $n, or 0 */
	const char			**where;	/* per node id */
	const char			*id_cond;	/* by id: pk = $n */
	int				 missing_default;
	int				 resolution;	/* 0, 'm', 'i' */
};

static int	param(struct bld *, const char *);
static int	tenant_param(struct bld *);
static void	table_ref(struct kb_sbuf *, const struct kb_table *);
static void	node_alias(struct kb_sbuf *, const struct kb_node *);
static void	col_ref(struct kb_sbuf *, const struct kb_node *,
		    const struct kb_column *);
static void	render_field(struct bld *, struct kb_sbuf *,
		    const struct kb_node *, const struct kb_field *);
static const char *field_type(const struct kb_field *);
static void	render_cond(struct bld *, struct kb_sbuf *,
		    const struct kb_node *, const struct kb_cond *);
static const char *node_where(struct bld *, const struct kb_node *);
static void	render_select(struct bld *, struct kb_sbuf *,
		    const struct kb_node *);
static void	render_order(struct kb_sbuf *, struct bld *,
		    const struct kb_node *);
static void	render_embed(struct bld *, struct kb_sbuf *,
		    const struct kb_node *);
static void	render_item(struct bld *, struct kb_sbuf *,
		    const struct kb_node *, const struct kb_sel *);
static void	render_spread(struct bld *, struct kb_sbuf *,
		    const struct kb_node *, int *);
static void	out_aliases(struct bld *, const struct kb_node *,
		    const char ***, size_t *);
static void	render_csv_row(struct bld *, struct kb_sbuf *,
		    const struct kb_node *);
static char	*csv_header(struct bld *, const struct kb_node *);

/* $n for a value (NULL: SQL NULL); 0 once there are too many. */
static int
param(struct bld *b, const char *v)
{
	if (b->nparams >= KB_TABLES_MAX_PARAMS) {
		if (!b->failed)
			kb_tables_fail(b->err, 400, "PGRST100", NULL,
			    "more than %d values in one request",
			    KB_TABLES_MAX_PARAMS);
		b->failed = 1;
		return (0);
	}
	b->params = kb_arena_grow(b->a, b->params, (size_t)b->nparams,
	    sizeof(*b->params));
	b->params[b->nparams++] = v;
	return (b->nparams);
}

/* The tenant's $n, made on first use (an unused $n has no type). */
static int
tenant_param(struct bld *b)
{
	if (b->tenant == 0)
		b->tenant = param(b, b->req->tenant_id);
	return (b->tenant);
}

static void
table_ref(struct kb_sbuf *sb, const struct kb_table *t)
{
	kb_sql_ident(sb, t->schema);
	kb_sbuf_putc(sb, '.');
	kb_sql_ident(sb, t->name);
}

static void
node_alias(struct kb_sbuf *sb, const struct kb_node *n)
{
	kb_sbuf_add(sb, "\"t", 2);
	kb_sbuf_putuint(sb, (unsigned)n->id);
	kb_sbuf_putc(sb, '"');
}

static void
col_ref(struct kb_sbuf *sb, const struct kb_node *n,
    const struct kb_column *c)
{
	node_alias(sb, n);
	kb_sbuf_putc(sb, '.');
	kb_sql_ident(sb, c->name);
}

/* "tN"."col"->$k::text->>(3) ... */
static void
render_field(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n,
    const struct kb_field *f)
{
	size_t	i;

	col_ref(sb, n, f->col);
	for (i = 0; i < f->npath; i++) {
		kb_sbuf_puts(sb, f->path[i].as_text ? "->>" : "->");
		if (f->path[i].key != NULL)
			kb_sbuf_printf(sb, "$%d::text",
			    param(b, f->path[i].key));
		else
			kb_sbuf_printf(sb, "(%lld)", f->path[i].index);
	}
}

/* The type a value compared with the field is cast to. */
static const char *
field_type(const struct kb_field *f)
{
	if (f->npath == 0)
		return (f->col->type);
	return (f->path[f->npath - 1].as_text ? "text" : "jsonb");
}

/* The left side of a comparison: a json path compares as jsonb. */
static void
render_lhs(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n,
    const struct kb_field *f)
{
	if (f->npath > 0 && !f->path[f->npath - 1].as_text &&
	    strcmp(f->col->base_type, "jsonb") != 0) {
		kb_sbuf_putc(sb, '(');
		render_field(b, sb, n, f);
		kb_sbuf_puts(sb, ")::jsonb");
		return;
	}
	render_field(b, sb, n, f);
}

static void
render_value(struct bld *b, struct kb_sbuf *sb, const char *v,
    const char *type)
{
	kb_sbuf_putc(sb, '$');
	kb_sbuf_putuint(sb, (unsigned)param(b, v));
	kb_sbuf_add(sb, "::", 2);
	kb_sbuf_puts(sb, type);
}

static void
render_cond(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n,
    const struct kb_cond *c)
{
	static const char *const sqlop[] = {
		[KB_OP_EQ] = "=", [KB_OP_NEQ] = "<>", [KB_OP_GT] = ">",
		[KB_OP_GTE] = ">=", [KB_OP_LT] = "<", [KB_OP_LTE] = "<=",
		[KB_OP_LIKE] = "LIKE", [KB_OP_ILIKE] = "ILIKE",
		[KB_OP_MATCH] = "~", [KB_OP_IMATCH] = "~*",
		[KB_OP_CS] = "@>", [KB_OP_CD] = "<@", [KB_OP_OV] = "&&",
		[KB_OP_SL] = "<<", [KB_OP_SR] = ">>", [KB_OP_NXR] = "&<",
		[KB_OP_NXL] = "&>", [KB_OP_ADJ] = "-|-",
	};
	static const char *const tsq[] = {
		[KB_OP_FTS] = "to_tsquery", [KB_OP_PLFTS] = "plainto_tsquery",
		[KB_OP_PHFTS] = "phraseto_tsquery",
		[KB_OP_WFTS] = "websearch_to_tsquery",
	};
	static const char *const is[] = {
		[KB_IS_NULL] = "IS NULL", [KB_IS_NOT_NULL] = "IS NOT NULL",
		[KB_IS_TRUE] = "IS TRUE", [KB_IS_FALSE] = "IS FALSE",
		[KB_IS_UNKNOWN] = "IS UNKNOWN",
	};
	const char	*type, *vtype;
	size_t		 i;

	if (c->negate)
		kb_sbuf_puts(sb, "NOT ");
	if (c->kind == KB_COND_LEAF && c->embed != NULL) {
		/* rel.[not.]is.null: whether the embed has a row. */
		kb_sbuf_puts(sb, "EXISTS (SELECT 1 FROM ");
		table_ref(sb, c->embed->table);
		kb_sbuf_puts(sb, " AS ");
		node_alias(sb, c->embed);
		kb_sbuf_printf(sb, " WHERE %s)", node_where(b, c->embed));
		return;
	}
	if (c->kind != KB_COND_LEAF) {
		kb_sbuf_putc(sb, '(');
		for (i = 0; i < c->nkids; i++) {
			if (i > 0)
				kb_sbuf_puts(sb, c->kind == KB_COND_AND ?
				    " AND " : " OR ");
			render_cond(b, sb, n, c->kids[i]);
		}
		if (c->nkids == 0)
			kb_sbuf_puts(sb, c->kind == KB_COND_AND ? "true" :
			    "false");
		kb_sbuf_putc(sb, ')');
		return;
	}
	type = field_type(&c->field);
	kb_sbuf_putc(sb, '(');
	switch (c->op) {
	case KB_OP_IS:
		render_lhs(b, sb, n, &c->field);
		kb_sbuf_printf(sb, " %s", is[c->is]);
		break;
	case KB_OP_ISDISTINCT:
		render_lhs(b, sb, n, &c->field);
		kb_sbuf_puts(sb, " IS DISTINCT FROM ");
		render_value(b, sb, c->values[0], type);
		break;
	case KB_OP_IN:
		if (c->nvalues == 0) {
			kb_sbuf_puts(sb, "false");
			break;
		}
		render_lhs(b, sb, n, &c->field);
		kb_sbuf_puts(sb, " IN (");
		for (i = 0; i < c->nvalues; i++) {
			if (i > 0)
				kb_sbuf_puts(sb, ", ");
			render_value(b, sb, c->values[i], type);
		}
		kb_sbuf_putc(sb, ')');
		break;
	case KB_OP_FTS:
	case KB_OP_PLFTS:
	case KB_OP_PHFTS:
	case KB_OP_WFTS:
		if (c->field.npath == 0 &&
		    strcmp(c->field.col->base_type, "tsvector") == 0) {
			render_field(b, sb, n, &c->field);
		} else {
			kb_sbuf_puts(sb, "pg_catalog.to_tsvector(");
			if (c->fts_config != NULL)
				render_value(b, sb, c->fts_config,
				    "pg_catalog.regconfig");
			if (c->fts_config != NULL)
				kb_sbuf_puts(sb, ", ");
			render_field(b, sb, n, &c->field);
			if (c->field.npath == 0 &&
			    c->field.col->category != 'S')
				kb_sbuf_puts(sb, "::text");
			kb_sbuf_putc(sb, ')');
		}
		kb_sbuf_printf(sb, " @@ pg_catalog.%s(", tsq[c->op]);
		if (c->fts_config != NULL) {
			render_value(b, sb, c->fts_config,
			    "pg_catalog.regconfig");
			kb_sbuf_puts(sb, ", ");
		}
		render_value(b, sb, c->values[0], "text");
		kb_sbuf_putc(sb, ')');
		break;
	default:
		vtype = type;
		if (c->op == KB_OP_LIKE || c->op == KB_OP_ILIKE ||
		    c->op == KB_OP_MATCH || c->op == KB_OP_IMATCH)
			vtype = "text";
		render_lhs(b, sb, n, &c->field);
		kb_sbuf_printf(sb, " %s ", sqlop[c->op]);
		if (c->quant == KB_QUANT_NONE) {
			render_value(b, sb, c->values[0], vtype);
			break;
		}
		kb_sbuf_puts(sb, c->quant == KB_QUANT_ANY ? "ANY (ARRAY[" :
		    "ALL (ARRAY[");
		for (i = 0; i < c->nvalues; i++) {
			if (i > 0)
				kb_sbuf_puts(sb, ", ");
			render_value(b, sb, c->values[i], vtype);
		}
		kb_sbuf_puts(sb, "])");
		break;
	}
	kb_sbuf_putc(sb, ')');
}

/*
 * The WHERE of a resource (without the keyword, "" for none): the join
 * of an embed, the tenant, the filters, !inner children as EXISTS.
 * Rendered once per resource, so its $n are shared by every use.
 */
static const char *
node_where(struct bld *b, const struct kb_node *n)
{
	struct kb_sbuf		 sb;
	const struct kb_fkey	*fk = n->fk;
	const struct kb_node	*k;
	const struct kb_column	*tid;
	size_t			 i;
	int			 first = 1;

	if (b->where[n->id] != NULL)
		return (b->where[n->id]);
	kb_sbuf_init(&sb, b->a);
#define AND()	do { if (!first) kb_sbuf_puts(&sb, " AND "); first = 0; } \
		    while (0)
	if (n->junction != NULL) {
		/* Many-to-many: a junction row ties the two. */
		AND();
		kb_sbuf_puts(&sb, "EXISTS (SELECT 1 FROM ");
		table_ref(&sb, n->junction);
		kb_sbuf_printf(&sb, " AS \"t%d_j\" WHERE ", n->id);
		for (i = 0; i < n->jfk_child->ncols; i++) {
			kb_sbuf_printf(&sb, "%s\"t%d_j\".", i ? " AND " : "",
			    n->id);
			kb_sql_ident(&sb, n->jfk_child->cols[i]->name);
			kb_sbuf_puts(&sb, " = ");
			col_ref(&sb, n, n->jfk_child->ref_cols[i]);
		}
		for (i = 0; i < n->jfk_parent->ncols; i++) {
			kb_sbuf_printf(&sb, " AND \"t%d_j\".", n->id);
			kb_sql_ident(&sb, n->jfk_parent->cols[i]->name);
			kb_sbuf_puts(&sb, " = ");
			col_ref(&sb, n->parent, n->jfk_parent->ref_cols[i]);
		}
		/* The junction's rows are the tenant's too. */
		if (b->req->tenant_id != NULL && n->junction->has_tenant_id)
			kb_sbuf_printf(&sb, " AND \"t%d_j\".\"tenant_id\" = "
			    "$%d::uuid", n->id, tenant_param(b));
		kb_sbuf_putc(&sb, ')');
	}
	if (fk != NULL) {
		for (i = 0; i < fk->ncols; i++) {
			AND();
			if (n->reverse) {
				col_ref(&sb, n, fk->cols[i]);
				kb_sbuf_puts(&sb, " = ");
				col_ref(&sb, n->parent, fk->ref_cols[i]);
			} else {
				col_ref(&sb, n, fk->ref_cols[i]);
				kb_sbuf_puts(&sb, " = ");
				col_ref(&sb, n->parent, fk->cols[i]);
			}
		}
	}
	if (b->req->tenant_id != NULL && n->table->has_tenant_id &&
	    (tid = kb_table_column(n->table, "tenant_id")) != NULL) {
		AND();
		col_ref(&sb, n, tid);
		kb_sbuf_printf(&sb, " = $%d::uuid", tenant_param(b));
	}
	if (n->parent == NULL && b->id_cond != NULL) {
		AND();
		kb_sbuf_puts(&sb, b->id_cond);
	}
	if (n->where != NULL) {
		for (i = 0; i < n->where->nkids; i++) {
			AND();
			render_cond(b, &sb, n, n->where->kids[i]);
		}
	}
	for (i = 0; i < n->nsel; i++) {
		if ((k = n->sel[i].embed) == NULL ||
		    (!k->inner && k->exists == 0))
			continue;
		AND();
		if (k->exists == -1)
			kb_sbuf_puts(&sb, "NOT ");
		kb_sbuf_puts(&sb, "EXISTS (SELECT 1 FROM ");
		table_ref(&sb, k->table);
		kb_sbuf_puts(&sb, " AS ");
		node_alias(&sb, k);
		kb_sbuf_printf(&sb, " WHERE %s)", node_where(b, k));
	}
#undef AND
	b->where[n->id] = kb_sbuf_str(&sb);
	return (b->where[n->id]);
}

static void
render_order(struct kb_sbuf *sb, struct bld *b, const struct kb_node *n)
{
	const struct kb_node	*k;
	size_t			 i;

	for (i = 0; i < n->norder; i++) {
		kb_sbuf_puts(sb, i == 0 ? " ORDER BY " : ", ");
		if ((k = n->order[i].rel) != NULL) {
			/* The embedded row's column, by the embed's join. */
			kb_sbuf_puts(sb, "(SELECT ");
			render_field(b, sb, k, &n->order[i].field);
			kb_sbuf_puts(sb, " FROM ");
			table_ref(sb, k->table);
			kb_sbuf_puts(sb, " AS ");
			node_alias(sb, k);
			kb_sbuf_printf(sb, " WHERE %s)", node_where(b, k));
		} else {
			render_field(b, sb, n, &n->order[i].field);
		}
		if (n->order[i].desc)
			kb_sbuf_puts(sb, " DESC");
		if (n->order[i].nulls == 1)
			kb_sbuf_puts(sb, " NULLS FIRST");
		else if (n->order[i].nulls == 2)
			kb_sbuf_puts(sb, " NULLS LAST");
	}
}

static void
render_limit(struct kb_sbuf *sb, long long limit, long long offset)
{
	if (limit >= 0)
		kb_sbuf_printf(sb, " LIMIT %lld", limit);
	if (offset > 0)
		kb_sbuf_printf(sb, " OFFSET %lld", offset);
}

/* The select list of a resource (its embeds as subqueries). */
static void
render_select(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n)
{
	const struct kb_sel	*s;
	size_t			 i;
	int			 first = 1;

	for (i = 0; i < n->nsel; i++) {
		s = &n->sel[i];
		if (s->embed != NULL && s->embed->nsel == 0)
			continue;	/* rel!inner(): a filter only */
		if (s->embed != NULL && s->embed->spread) {
			render_spread(b, sb, s->embed, &first);
			continue;
		}
		if (!first)
			kb_sbuf_puts(sb, ", ");
		first = 0;
		render_item(b, sb, n, s);
		kb_sbuf_puts(sb, " AS ");
		kb_sql_ident(sb, s->alias);
	}
}

/* One select item of n (a field with its cast, or an embed). */
static void
render_item(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n,
    const struct kb_sel *s)
{
	if (s->embed != NULL) {
		render_embed(b, sb, s->embed);
		return;
	}
	/* (a->b)::t: a cast would bind to the last step. */
	if (s->cast != NULL && s->field.npath > 0)
		kb_sbuf_putc(sb, '(');
	render_field(b, sb, n, &s->field);
	if (s->cast != NULL && s->field.npath > 0)
		kb_sbuf_putc(sb, ')');
	if (s->cast != NULL)
		kb_sbuf_printf(sb, "::%s", s->cast);
}

/*
 * ...rel(a,b): each item of the to-one e as a column of its parent,
 * (SELECT item FROM rel WHERE <join>) AS "a".
 */
static void
render_spread(struct bld *b, struct kb_sbuf *sb, const struct kb_node *e,
    int *first)
{
	const struct kb_sel	*s;
	size_t			 i;

	for (i = 0; i < e->nsel; i++) {
		s = &e->sel[i];
		if (s->embed != NULL && s->embed->nsel == 0)
			continue;
		if (!*first)
			kb_sbuf_puts(sb, ", ");
		*first = 0;
		kb_sbuf_puts(sb, "(SELECT ");
		render_item(b, sb, e, s);
		kb_sbuf_puts(sb, " FROM ");
		table_ref(sb, e->table);
		kb_sbuf_puts(sb, " AS ");
		node_alias(sb, e);
		kb_sbuf_printf(sb, " WHERE %s) AS ", node_where(b, e));
		kb_sql_ident(sb, s->alias);
	}
}

static void
render_embed(struct bld *b, struct kb_sbuf *sb, const struct kb_node *e)
{
	kb_sbuf_puts(sb, e->to_many ?
	    "(SELECT COALESCE(pg_catalog.json_agg(" :
	    "(SELECT pg_catalog.row_to_json(");
	kb_sbuf_printf(sb, "\"t%d_r\")", e->id);
	if (e->to_many)
		kb_sbuf_puts(sb, ", '[]')");
	kb_sbuf_puts(sb, " FROM (SELECT ");
	render_select(b, sb, e);
	kb_sbuf_puts(sb, " FROM ");
	table_ref(sb, e->table);
	kb_sbuf_puts(sb, " AS ");
	node_alias(sb, e);
	kb_sbuf_printf(sb, " WHERE %s", node_where(b, e));
	if (e->to_many) {
		render_order(sb, b, e);
		render_limit(sb, e->limit, e->offset);
	}
	kb_sbuf_printf(sb, ") AS \"t%d_r\")", e->id);
}

/* One CSV field of _postgrest_t, quoted when it needs to be. */
static void
render_csv_field(struct kb_sbuf *sb, const char *alias)
{
	struct kb_sbuf	x;
	const char	*v;

	kb_sbuf_init(&x, sb->arena);
	kb_sbuf_puts(&x, "(_postgrest_t.");
	kb_sql_ident(&x, alias);
	kb_sbuf_puts(&x, ")::text");
	v = kb_sbuf_str(&x);
	kb_sbuf_printf(sb, "COALESCE(CASE WHEN %s ~ '[\",\\r\\n]' THEN "
	    "'\"' || pg_catalog.replace(%s, '\"', '\"\"') || '\"' ELSE %s "
	    "END, '')", v, v, v);
}

/*
 * Append the output columns of n in order (spreads inlined, filter-only
 * embeds left out) to the arena array *out of *n_out elements.
 */
static void
out_aliases(struct bld *b, const struct kb_node *n, const char ***out,
    size_t *nout)
{
	const struct kb_sel	*s;
	size_t			 i;

	for (i = 0; i < n->nsel; i++) {
		s = &n->sel[i];
		if (s->embed != NULL && s->embed->nsel == 0)
			continue;
		if (s->embed != NULL && s->embed->spread) {
			out_aliases(b, s->embed, out, nout);
			continue;
		}
		*out = kb_arena_grow(b->a, *out, *nout, sizeof(**out));
		(*out)[(*nout)++] = s->alias;
	}
}

static void
render_csv_row(struct bld *b, struct kb_sbuf *sb, const struct kb_node *n)
{
	const char	**cols = NULL;
	size_t		 i, ncols = 0;

	out_aliases(b, n, &cols, &ncols);
	for (i = 0; i < ncols; i++) {
		if (i > 0)
			kb_sbuf_puts(sb, " || ',' || ");
		render_csv_field(sb, cols[i]);
	}
	if (ncols == 0)
		kb_sbuf_puts(sb, "''");
}

/* The header line, CSV-quoted, without the newline. */
static char *
csv_header(struct bld *b, const struct kb_node *n)
{
	struct kb_sbuf	 sb;
	const char	*p, *s, **cols = NULL;
	size_t		 i, ncols = 0;

	kb_sbuf_init(&sb, b->a);
	out_aliases(b, n, &cols, &ncols);
	for (i = 0; i < ncols; i++) {
		if (i > 0)
			kb_sbuf_putc(&sb, ',');
		s = cols[i];
		if (strpbrk(s, "\",\r\n") == NULL) {
			kb_sbuf_puts(&sb, s);
			continue;
		}
		kb_sbuf_putc(&sb, '"');
		for (p = s; *p != '\0'; p++) {
			if (*p == '"')
				kb_sbuf_putc(&sb, '"');
			kb_sbuf_putc(&sb, *p);
		}
		kb_sbuf_putc(&sb, '"');
	}
	return ((char *)kb_sbuf_str(&sb));
}

/*
 * Prefer, Accept and Range.
 */

struct prefs {
	enum kb_tables_return	ret;
	enum kb_tables_count	count;
	int			resolution;
	int			missing_default;
	int			handling;	/* 0, 's'trict, 'l'enient */
	long long		max_affected;	/* -1: not given */
};

static int
token_is(const char *s, size_t len, const char *want)
{
	return (strlen(want) == len && strncasecmp(s, want, len) == 0);
}

static void
parse_prefer(const char *h, struct prefs *p)
{
	const char	*s, *e;
	size_t		 len;

	memset(p, 0, sizeof(*p));
	p->max_affected = -1;
	for (s = h; s != NULL && *s != '\0'; s = *e ? e + 1 : e) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, ",;");
		len = (size_t)(e - s);
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (token_is(s, len, "return=minimal"))
			p->ret = KB_RETURN_MINIMAL;
		else if (token_is(s, len, "return=headers-only"))
			p->ret = KB_RETURN_HEADERS;
		else if (token_is(s, len, "return=representation"))
			p->ret = KB_RETURN_REPRESENTATION;
		else if (token_is(s, len, "count=exact"))
			p->count = KB_COUNT_EXACT;
		else if (token_is(s, len, "count=planned"))
			p->count = KB_COUNT_PLANNED;
		else if (token_is(s, len, "count=estimated"))
			p->count = KB_COUNT_ESTIMATED;
		else if (token_is(s, len, "resolution=merge-duplicates"))
			p->resolution = 'm';
		else if (token_is(s, len, "resolution=ignore-duplicates"))
			p->resolution = 'i';
		else if (token_is(s, len, "missing=default"))
			p->missing_default = 1;
		else if (token_is(s, len, "handling=strict"))
			p->handling = 's';
		else if (token_is(s, len, "handling=lenient"))
			p->handling = 'l';
		else if (len > 13 && len < 13 + 19 &&
		    strncasecmp(s, "max-affected=", 13) == 0 &&
		    strspn(s + 13, "0123456789") == len - 13)
			p->max_affected = strtoll(s + 13, NULL, 10);
		/* Anything else (tx=, timezone=) is ignored. */
	}
}

/* -1 when no media type we produce is acceptable (406). */
/*
 * The first media type of Accept we produce; *strip when it carries
 * nulls=stripped (postgrest-js stripNulls(): vnd.pgrst.array+json or
 * vnd.pgrst.object+json with ;nulls=stripped), as PostgREST 11.2+.
 */
static int
parse_accept(const char *h, enum kb_tables_format *f, int *strip)
{
	const char	*s, *e, *q;
	size_t		 len;

	*f = KB_TABLES_JSON;
	*strip = 0;
	if (h == NULL || *h == '\0')
		return (0);
	for (s = h; *s != '\0'; s = *e ? e + 1 : e) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, ",");
		len = strcspn(s, ";,");
		while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		/* Parameters (";p=v" up to e): only nulls=stripped counts. */
		for (q = s + strcspn(s, ";,"); q < e && *q == ';';
		    q += strcspn(q, ";,")) {
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			if (token_is(q, strcspn(q, " \t;,"), "nulls=stripped"))
				*strip = 1;
		}
		if (token_is(s, len, "application/vnd.pgrst.object+json") ||
		    token_is(s, len, "application/vnd.pgrst.object")) {
			*f = KB_TABLES_OBJECT;
			return (0);
		}
		if (token_is(s, len, "text/csv")) {
			*f = KB_TABLES_CSV;
			*strip = 0;
			return (0);
		}
		if (token_is(s, len, "application/vnd.pgrst.array+json") ||
		    token_is(s, len, "application/vnd.pgrst.array"))
			return (0);
		*strip = 0;
		if (token_is(s, len, "application/json") ||
		    token_is(s, len, "application/*") ||
		    token_is(s, len, "*/*"))
			return (0);
	}
	return (-1);
}

/*
 * "items=0-9", "0-9", "10-": lower and upper (-1 for open).  Bounds past
 * 10^15 are not a range (and cannot overflow the arithmetic on them).
 */
#define RANGE_MAX	1000000000000000LL

static int
parse_range(const char *h, long long *lo, long long *hi)
{
	char		*end;
	const char	*p = h;

	while (*p == ' ')
		p++;
	if (strncasecmp(p, "items=", 6) == 0)
		p += 6;
	if (!isdigit((unsigned char)*p))
		return (-1);
	errno = 0;
	*lo = strtoll(p, &end, 10);
	if (errno != 0 || *end != '-' || *lo > RANGE_MAX)
		return (-1);
	p = end + 1;
	if (*p == '\0') {
		*hi = -1;
		return (0);
	}
	if (!isdigit((unsigned char)*p))
		return (-1);
	*hi = strtoll(p, &end, 10);
	if (errno != 0 || *end != '\0' || *hi > RANGE_MAX)
		return (-1);
	return (0);
}

/*
 * Bodies.
 */

/* A JSON scalar as the text PostgreSQL reads it, NULL for null. */
static const char *
json_text(struct bld *b, json_t *v)
{
	char	*s, *r;

	if (v == NULL || json_is_null(v))
		return (NULL);
	if (json_is_string(v))
		return (kb_arena_strndup(b->a, json_string_value(v),
		    json_string_length(v)));
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL)
		abort();
	r = kb_arena_strdup(b->a, s);
	free(s);
	return (r);
}

static const char *
json_param(struct bld *b, json_t *v)
{
	char	*s, *r;

	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s == NULL)
		abort();
	r = kb_arena_strdup(b->a, s);
	free(s);
	return (r);
}

/* 403 unless the row's tenant_id is absent, null or the caller's. */
static int
check_tenant(struct bld *b, json_t *row)
{
	json_t	*v;

	if (b->req->tenant_id == NULL || !b->plan->table->has_tenant_id)
		return (0);
	v = json_object_get(row, "tenant_id");
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_string(v) ||
	    strcasecmp(json_string_value(v), b->req->tenant_id) != 0)
		return (kb_tables_fail(b->err, 403, "KB_TENANT", NULL,
		    "the row belongs to another tenant than the caller's"));
	return (0);
}

static int
has_col(const struct kb_column **cols, size_t n, const struct kb_column *c)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (cols[i] == c)
			return (1);
	}
	return (0);
}

/*
 * The columns a write sets, from the body rows (or columns=): every key
 * must be a column; without columns= or missing=default all rows must
 * have the same keys (PostgREST's PGRST102).  tenant_id is left out when
 * it is forced.
 */
static int
write_columns(struct bld *b, json_t *rows, const struct kb_column ***out,
    size_t *nout, int pk_too)
{
	const struct kb_table	*t = b->plan->table;
	const struct kb_query	*q = &b->plan->query;
	const struct kb_column	**cols = NULL, *c;
	json_t			*row, *v;
	const char		*key;
	size_t			 i, n = 0, nkeys0 = 0;

	if (q->columns != NULL) {
		for (i = 0; i < q->ncolumns; i++) {
			if (has_col(cols, n, q->columns[i]))
				continue;
			cols = kb_arena_grow(b->a, cols, n, sizeof(*cols));
			cols[n++] = q->columns[i];
		}
		goto done;
	}
	json_array_foreach(rows, i, row) {
		if (i == 0)
			nkeys0 = json_object_size(row);
		else if (json_object_size(row) != nkeys0 &&
		    !b->missing_default)
			return (kb_tables_fail(b->err, 400, "PGRST102", NULL,
			    "All object keys must match"));
		json_object_foreach(row, key, v) {
			if ((c = kb_table_column(t, key)) == NULL)
				return (kb_tables_fail(b->err, 400, "PGRST204",
				    NULL, "Could not find the '%.64s' column "
				    "of '%s' in the schema cache", key,
				    t->name));
			if (has_col(cols, n, c))
				continue;
			if (i > 0 && !b->missing_default)
				return (kb_tables_fail(b->err, 400, "PGRST102",
				    NULL, "All object keys must match"));
			cols = kb_arena_grow(b->a, cols, n, sizeof(*cols));
			cols[n++] = c;
		}
	}
done:
	/* The forced tenant and, for by-id writes, the key are set apart. */
	for (i = 0; i < n; ) {
		if ((b->req->tenant_id != NULL && t->has_tenant_id &&
		    strcmp(cols[i]->name, "tenant_id") == 0) ||
		    (!pk_too && b->plan->by_id && t->npk == 1 &&
		    cols[i] == t->pk[0])) {
			memmove(&cols[i], &cols[i + 1],
			    (n - i - 1) * sizeof(*cols));
			n--;
			continue;
		}
		i++;
	}
	*out = cols;
	*nout = n;
	return (0);
}

/* _r."col", or the default when the row lacks the key (missing=default). */
static void
render_row_value(struct bld *b, struct kb_sbuf *sb,
    const struct kb_column *c)
{
	if (!b->missing_default) {
		kb_sbuf_puts(sb, "_r.");
		kb_sql_ident(sb, c->name);
		return;
	}
	kb_sbuf_puts(sb, "CASE WHEN _j.v ? ");
	kb_sql_literal(sb, c->name);
	kb_sbuf_puts(sb, " THEN _r.");
	kb_sql_ident(sb, c->name);
	kb_sbuf_printf(sb, " ELSE %s END",
	    c->default_expr != NULL ? c->default_expr : "NULL");
}

/*
 * The statement around pgrst_source: totals, body, location.
 */

static void
render_body(struct bld *b, struct kb_sbuf *sb, const struct kb_node *root)
{
	struct kb_tables_plan	*p = b->plan;

	if (p->method == KB_TABLES_HEAD ||
	    (p->method != KB_TABLES_GET &&
	    p->ret != KB_RETURN_REPRESENTATION)) {
		kb_sbuf_puts(sb, "NULL::text");
		return;
	}
	switch (p->format) {
	case KB_TABLES_OBJECT:
		/*
		 * The one row's object; with more rows the answer is 406 and
		 * the body is not used.  Not json_agg(...)->0, which builds
		 * the array only to parse it again.
		 */
		kb_sbuf_puts(sb, p->strip_nulls ?
		    "pg_catalog.min(pg_catalog.json_strip_nulls("
		    "pg_catalog.row_to_json(_postgrest_t))::text COLLATE \"C\")" :
		    "pg_catalog.min(pg_catalog.row_to_json(_postgrest_t)::text "
		    "COLLATE \"C\")");
		break;
	case KB_TABLES_CSV:
		kb_sbuf_printf(sb, "$%d::text || COALESCE(E'\\n' || "
		    "pg_catalog.string_agg(", param(b, csv_header(b, root)));
		render_csv_row(b, sb, root);
		kb_sbuf_puts(sb, ", E'\\n'), '')");
		break;
	default:
		if (p->strip_nulls)
			kb_sbuf_puts(sb, "pg_catalog.json_strip_nulls(");
		kb_sbuf_puts(sb, "COALESCE(pg_catalog.json_agg(_postgrest_t), "
		    "'[]')");
		if (p->strip_nulls)
			kb_sbuf_putc(sb, ')');
		kb_sbuf_puts(sb, "::text");
		break;
	}
}

/* Location goes with POST and Prefer: return=headers-only (PostgREST). */
static int
wants_location(const struct kb_tables_plan *p)
{
	return (p->method == KB_TABLES_POST && p->ret == KB_RETURN_HEADERS &&
	    p->table->npk > 0);
}

/* json_build_array of the primary key of the first written row. */
static void
render_location(struct bld *b, struct kb_sbuf *sb)
{
	const struct kb_table	*t = b->plan->table;
	size_t			 i;

	if (!wants_location(b->plan)) {
		kb_sbuf_puts(sb, "NULL::text");
		return;
	}
	kb_sbuf_puts(sb, "(SELECT pg_catalog.json_build_array(");
	for (i = 0; i < t->npk; i++) {
		if (i > 0)
			kb_sbuf_puts(sb, ", ");
		kb_sbuf_puts(sb, "\"t0\".");
		kb_sql_ident(sb, t->pk[i]->name);
	}
	kb_sbuf_puts(sb, ")::text FROM pgrst_source AS \"t0\" LIMIT 1)");
}

/*
 * RETURNING of a write: all columns for a body, the key for a Location
 * (headers-only inserts), else 1, as PostgREST: it counts the rows and
 * reads no column (which matters under column privileges).
 */
static void
render_returning(struct bld *b, struct kb_sbuf *sb)
{
	const struct kb_table	*t = b->plan->table;
	size_t			 i;

	kb_sbuf_puts(sb, " RETURNING ");
	if (b->plan->ret == KB_RETURN_REPRESENTATION) {
		kb_sbuf_puts(sb, "\"t0\".*");
	} else if (t->npk == 0 || !wants_location(b->plan)) {
		kb_sbuf_puts(sb, "1");
	} else {
		for (i = 0; i < t->npk; i++) {
			if (i > 0)
				kb_sbuf_puts(sb, ", ");
			kb_sbuf_puts(sb, "\"t0\".");
			kb_sql_ident(sb, t->pk[i]->name);
		}
	}
	/* A merged row was updated by this transaction: its xmax is set. */
	if (b->plan->merge_upsert)
		kb_sbuf_puts(sb, ", (\"t0\".xmax = 0) AS pgrst_inserted");
}

/* After "WITH pgrst_source AS (<write>)": the result row. */
static void
render_write_tail(struct bld *b, struct kb_sbuf *sb)
{
	struct kb_tables_plan	*p = b->plan;

	kb_sbuf_puts(sb, ") SELECT ");
	kb_sbuf_puts(sb, p->count != KB_COUNT_NONE ? "pg_catalog.count(*)" :
	    "NULL::bigint");
	kb_sbuf_puts(sb, " AS total_result_set, pg_catalog.count(*) AS "
	    "page_total, ");
	render_body(b, sb, p->query.root);
	kb_sbuf_puts(sb, " AS body, ");
	render_location(b, sb);
	kb_sbuf_puts(sb, " AS location");
	if (p->merge_upsert)
		kb_sbuf_puts(sb, ", (SELECT pg_catalog.count(*) FROM "
		    "pgrst_source WHERE pgrst_inserted) AS inserted");
	kb_sbuf_puts(sb, " FROM ");
	if (p->ret == KB_RETURN_REPRESENTATION) {
		/* The representation in the order asked for (PostgREST). */
		kb_sbuf_puts(sb, "(SELECT ");
		render_select(b, sb, p->query.root);
		kb_sbuf_puts(sb, " FROM pgrst_source AS \"t0\"");
		render_order(sb, b, p->query.root);
		kb_sbuf_puts(sb, ") AS _postgrest_t");
	} else {
		kb_sbuf_puts(sb, "pgrst_source AS _postgrest_t");
	}
	/*
	 * A write that must touch exactly one row fails otherwise, and so
	 * rolls itself back: the cast that only the ELSE branch evaluates
	 * fails (22P02) with the row count in its message, which
	 * kb_tables_not_one_row() reads for the handler (PostgREST's 406
	 * says "The result contains N rows").
	 */
	if (p->needs_one_row || p->max_affected >= 0) {
		kb_sbuf_puts(sb, " HAVING CASE");
		/* max-affected first: PostgREST checks it before 406. */
		if (p->max_affected >= 0)
			kb_sbuf_printf(sb, " WHEN pg_catalog.count(*) > %lld "
			    "THEN ('" KB_TABLES_MAX_AFFECTED_MARK "' || "
			    "pg_catalog.count(*))::integer = 1",
			    p->max_affected);
		if (p->needs_one_row)
			kb_sbuf_puts(sb, " WHEN pg_catalog.count(*) <> 1 "
			    "THEN ('" KB_TABLES_NOT_ONE_ROW_MARK "' || "
			    "pg_catalog.count(*))::integer = 1");
		kb_sbuf_puts(sb, " ELSE true END");
	}
}

/*
 * Reads.
 */

static int
plan_read(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;
	struct kb_node		*root = p->query.root;
	struct kb_sbuf		 sb, from;
	const char		*w;
	long long		 lo = 0, hi = -1, limit, offset;

	/* Query limit/offset intersected with the Range header. */
	if (b->req->range != NULL && !p->by_id && !p->stream) {
		if (parse_range(b->req->range, &lo, &hi) == 0) {
			p->range_given = 1;
			if (hi != -1 && lo > hi)
				return (kb_tables_fail(b->err, 416, "PGRST103",
				    NULL, "Requested range not satisfiable"));
		} else {
			lo = 0;
			hi = -1;
		}
	}
	offset = root->offset > lo ? root->offset : lo;
	limit = hi == -1 ? -1 : hi - offset + 1;
	if (limit < -1)
		limit = 0;
	if (root->limit >= 0 && (limit == -1 || root->limit < limit))
		limit = root->limit;
	p->offset = offset;

	w = node_where(b, root);
	/* Every $n of the root's WHERE exists now; count_sql needs no more. */
	p->count_nparams = b->nparams;
	kb_sbuf_init(&from, b->a);
	kb_sbuf_puts(&from, " FROM ");
	table_ref(&from, root->table);
	kb_sbuf_puts(&from, " AS \"t0\"");
	if (*w != '\0') {
		kb_sbuf_add(&from, " WHERE ", 7);
		kb_sbuf_puts(&from, w);
	}

	kb_sbuf_init(&sb, b->a);
	if (p->stream) {
		kb_sbuf_puts(&sb, "SELECT ");
		if (p->format == KB_TABLES_CSV)
			render_csv_row(b, &sb, root);
		else
			kb_sbuf_puts(&sb, "pg_catalog.row_to_json(_postgrest_t)"
			    "::text");
		kb_sbuf_puts(&sb, " FROM (SELECT ");
		render_select(b, &sb, root);
		kb_sbuf_puts(&sb, kb_sbuf_str(&from));
		render_order(&sb, b, root);
		render_limit(&sb, limit, offset);
		kb_sbuf_puts(&sb, ") AS _postgrest_t");
		p->sql = kb_sbuf_str(&sb);
		return (0);
	}
	kb_sbuf_puts(&sb, "WITH pgrst_source AS (SELECT ");
	render_select(b, &sb, root);
	kb_sbuf_puts(&sb, kb_sbuf_str(&from));
	render_order(&sb, b, root);
	render_limit(&sb, limit, offset);
	kb_sbuf_puts(&sb, ") SELECT ");
	switch (p->count) {
	case KB_COUNT_EXACT:
		kb_sbuf_printf(&sb, "(SELECT pg_catalog.count(*)%s)",
		    kb_sbuf_str(&from));
		break;
	case KB_COUNT_ESTIMATED:
		kb_sbuf_printf(&sb, "(SELECT pg_catalog.count(*) FROM (SELECT "
		    "1%s LIMIT %d) AS _c)", kb_sbuf_str(&from),
		    KB_TABLES_ESTIMATE_LIMIT + 1);
		break;
	default:
		kb_sbuf_puts(&sb, "NULL::bigint");
		break;
	}
	kb_sbuf_puts(&sb, " AS total_result_set, pg_catalog.count(*) AS "
	    "page_total, ");
	render_body(b, &sb, root);
	kb_sbuf_puts(&sb, " AS body, NULL::text AS location FROM (SELECT * "
	    "FROM pgrst_source) AS _postgrest_t");
	p->sql = kb_sbuf_str(&sb);
	if (p->count == KB_COUNT_PLANNED || p->count == KB_COUNT_ESTIMATED)
		p->count_sql = kb_arena_printf(b->a, "EXPLAIN (FORMAT JSON) "
		    "SELECT 1%s", kb_sbuf_str(&from));
	return (0);
}

/*
 * Writes.
 */

static json_t *
body_rows(struct bld *b, json_t *body)
{
	json_t	*rows, *v;
	size_t	 i;

	if (json_is_object(body)) {
		rows = json_array();
		json_array_append(rows, body);
	} else if (json_is_array(body)) {
		rows = json_incref(body);
	} else {
		kb_tables_fail(b->err, 400, "PGRST102", NULL,
		    "the body must be a JSON object or an array of objects");
		return (NULL);
	}
	json_array_foreach(rows, i, v) {
		if (!json_is_object(v) || check_tenant(b, v) == -1) {
			if (!json_is_object(v))
				kb_tables_fail(b->err, 400, "PGRST102", NULL,
				    "every element of the body must be an "
				    "object");
			json_decref(rows);
			return (NULL);
		}
	}
	return (rows);
}

static int
plan_insert(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;
	const struct kb_table	*t = p->table;
	const struct kb_column	**cols, **target;
	struct kb_sbuf		 sb;
	json_t			*rows, *pkv;
	size_t			 i, n, ntarget;
	int			 bodyp, idp = 0, first;

	if (!t->insertable)
		return (kb_tables_fail(b->err, 405, "KB_READ_ONLY", NULL,
		    "'%s' does not accept inserts", t->name));
	if ((rows = body_rows(b, b->req->body)) == NULL)
		return (-1);
	if (p->by_id) {
		/* PUT: the body's key, if any, must be the path's. */
		pkv = json_object_get(json_array_get(rows, 0), t->pk[0]->name);
		if (json_array_size(rows) != 1 || (pkv != NULL &&
		    (json_text(b, pkv) == NULL ||
		    strcmp(json_text(b, pkv), b->req->id) != 0))) {
			json_decref(rows);
			return (kb_tables_fail(b->err, 400, "KB_PK_MISMATCH",
			    NULL, "the body's primary key differs from the "
			    "path's"));
		}
	}
	if (write_columns(b, rows, &cols, &n, 0) == -1) {
		json_decref(rows);
		return (-1);
	}
	bodyp = param(b, json_param(b, rows));
	json_decref(rows);
	kb_sbuf_init(&sb, b->a);
	kb_sbuf_puts(&sb, "WITH pgrst_source AS (INSERT INTO ");
	table_ref(&sb, t);
	kb_sbuf_puts(&sb, " AS \"t0\"");
	first = 1;
	if (n > 0 || p->by_id ||
	    (b->req->tenant_id != NULL && t->has_tenant_id)) {
		kb_sbuf_puts(&sb, " (");
		for (i = 0; i < n; i++) {
			kb_sbuf_puts(&sb, first ? "" : ", ");
			first = 0;
			kb_sql_ident(&sb, cols[i]->name);
		}
		if (p->by_id) {
			kb_sbuf_puts(&sb, first ? "" : ", ");
			first = 0;
			kb_sql_ident(&sb, t->pk[0]->name);
		}
		if (b->req->tenant_id != NULL && t->has_tenant_id) {
			kb_sbuf_puts(&sb, first ? "" : ", ");
			first = 0;
			kb_sbuf_puts(&sb, "\"tenant_id\"");
		}
		kb_sbuf_putc(&sb, ')');
	}
	kb_sbuf_puts(&sb, " SELECT ");
	first = 1;
	for (i = 0; i < n; i++) {
		kb_sbuf_puts(&sb, first ? "" : ", ");
		first = 0;
		render_row_value(b, &sb, cols[i]);
	}
	if (p->by_id) {
		idp = param(b, b->req->id);
		kb_sbuf_printf(&sb, "%s$%d::%s", first ? "" : ", ", idp,
		    t->pk[0]->type);
		first = 0;
	}
	if (b->req->tenant_id != NULL && t->has_tenant_id)
		kb_sbuf_printf(&sb, "%s$%d::uuid", first ? "" : ", ",
		    tenant_param(b));
	kb_sbuf_printf(&sb, " FROM pg_catalog.jsonb_array_elements($%d::jsonb)"
	    " AS _j(v), LATERAL pg_catalog.jsonb_populate_record(NULL::",
	    bodyp);
	table_ref(&sb, t);
	kb_sbuf_puts(&sb, ", _j.v) AS _r");

	if (b->resolution || p->by_id) {
		if (p->by_id) {
			target = t->pk;
			ntarget = 1;
		} else if (p->query.on_conflict != NULL) {
			target = p->query.on_conflict;
			ntarget = p->query.non_conflict;
		} else if (t->npk > 0) {
			target = t->pk;
			ntarget = t->npk;
		} else {
			return (kb_tables_fail(b->err, 400, "KB_NO_CONFLICT",
			    NULL, "an upsert on '%s' needs on_conflict= (it "
			    "has no primary key)", t->name));
		}
		kb_sbuf_puts(&sb, " ON CONFLICT (");
		for (i = 0; i < ntarget; i++) {
			if (i > 0)
				kb_sbuf_puts(&sb, ", ");
			kb_sql_ident(&sb, target[i]->name);
		}
		kb_sbuf_putc(&sb, ')');
		if (b->resolution == 'i' && !p->by_id) {
			kb_sbuf_puts(&sb, " DO NOTHING");
		} else {
			kb_sbuf_puts(&sb, " DO UPDATE SET ");
			for (i = 0; i < n; i++) {
				if (i > 0)
					kb_sbuf_puts(&sb, ", ");
				kb_sql_ident(&sb, cols[i]->name);
				kb_sbuf_puts(&sb, " = EXCLUDED.");
				kb_sql_ident(&sb, cols[i]->name);
			}
			if (n == 0) {
				kb_sql_ident(&sb, target[0]->name);
				kb_sbuf_puts(&sb, " = EXCLUDED.");
				kb_sql_ident(&sb, target[0]->name);
			}
			if (b->req->tenant_id != NULL && t->has_tenant_id)
				kb_sbuf_printf(&sb, " WHERE \"t0\"."
				    "\"tenant_id\" = $%d::uuid",
				    tenant_param(b));
		}
	}
	render_returning(b, &sb);
	render_write_tail(b, &sb);
	p->sql = kb_sbuf_str(&sb);
	return (0);
}

/* Refuse a filter-less PATCH or DELETE on the whole table. */
static int
need_filter(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;

	if (p->by_id || b->req->bulk || p->query.all_rows ||
	    p->query.root->where != NULL)
		return (0);
	return (kb_tables_fail(b->err, 400, "KB_NO_FILTER",
	    "A PATCH or DELETE without a filter would change every row.",
	    "%s without a filter on '%s'",
	    p->method == KB_TABLES_PATCH ? "PATCH" : "DELETE", p->table->name));
}

static int
plan_update(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;
	const struct kb_table	*t = p->table;
	const struct kb_column	**cols;
	struct kb_sbuf		 sb;
	json_t			*rows;
	const char		*w;
	size_t			 i, j, n;
	int			 bodyp;

	if (!t->updatable)
		return (kb_tables_fail(b->err, 405, "KB_READ_ONLY", NULL,
		    "'%s' does not accept updates", t->name));
	if (need_filter(b) == -1)
		return (-1);
	if (!b->req->bulk && !json_is_object(b->req->body))
		return (kb_tables_fail(b->err, 400, "PGRST102", NULL,
		    "the body of a PATCH must be a JSON object"));
	if (b->req->bulk && !json_is_array(b->req->body))
		return (kb_tables_fail(b->err, 400, "PGRST102", NULL,
		    "the body of a bulk PATCH must be an array of objects"));
	if ((rows = body_rows(b, b->req->body)) == NULL)
		return (-1);
	/* Bulk rows differ in their keys: absent ones keep their value. */
	b->missing_default = b->req->bulk;
	if (write_columns(b, rows, &cols, &n, 1) == -1) {
		json_decref(rows);
		return (-1);
	}
	if (b->req->bulk) {
		if (t->npk == 0) {
			json_decref(rows);
			return (kb_tables_fail(b->err, 400, "KB_NO_PK", NULL,
			    "'%s' has no primary key", t->name));
		}
		for (i = 0; i < json_array_size(rows); i++) {
			for (j = 0; j < t->npk; j++) {
				if (json_object_get(json_array_get(rows, i),
				    t->pk[j]->name) != NULL)
					continue;
				json_decref(rows);
				return (kb_tables_fail(b->err, 400,
				    "KB_NO_PK", NULL, "row %zu of the body "
				    "lacks the primary key column '%s'", i,
				    t->pk[j]->name));
			}
		}
		/* The key identifies the row; it is not set. */
		for (i = 0; i < n; ) {
			if (has_col(t->pk, t->npk, cols[i])) {
				memmove(&cols[i], &cols[i + 1],
				    (n - i - 1) * sizeof(*cols));
				n--;
			} else {
				i++;
			}
		}
	} else if (p->by_id) {
		for (i = 0; i < n; i++) {
			if (cols[i] == t->pk[0]) {
				json_decref(rows);
				return (kb_tables_fail(b->err, 400,
				    "KB_PK_MISMATCH", NULL, "a PATCH by id "
				    "cannot change the primary key"));
			}
		}
	}
	if (n == 0) {
		json_decref(rows);
		return (kb_tables_fail(b->err, 400, "PGRST102", NULL,
		    "nothing to update: the body names no column"));
	}
	bodyp = param(b, json_param(b, b->req->bulk ? rows :
	    json_array_get(rows, 0)));
	json_decref(rows);
	w = node_where(b, p->query.root);
	kb_sbuf_init(&sb, b->a);
	kb_sbuf_puts(&sb, "WITH pgrst_source AS (UPDATE ");
	table_ref(&sb, t);
	kb_sbuf_puts(&sb, " AS \"t0\" SET ");
	for (i = 0; i < n; i++) {
		if (i > 0)
			kb_sbuf_puts(&sb, ", ");
		kb_sql_ident(&sb, cols[i]->name);
		kb_sbuf_puts(&sb, " = ");
		if (b->req->bulk) {
			kb_sbuf_puts(&sb, "CASE WHEN _j.v ? ");
			kb_sql_literal(&sb, cols[i]->name);
			kb_sbuf_puts(&sb, " THEN _r.");
			kb_sql_ident(&sb, cols[i]->name);
			kb_sbuf_puts(&sb, " ELSE \"t0\".");
			kb_sql_ident(&sb, cols[i]->name);
			kb_sbuf_puts(&sb, " END");
		} else {
			kb_sbuf_puts(&sb, "_r.");
			kb_sql_ident(&sb, cols[i]->name);
		}
	}
	if (b->req->bulk) {
		kb_sbuf_printf(&sb, " FROM pg_catalog.jsonb_array_elements("
		    "$%d::jsonb) AS _j(v), LATERAL "
		    "pg_catalog.jsonb_populate_record(NULL::", bodyp);
		table_ref(&sb, t);
		kb_sbuf_puts(&sb, ", _j.v) AS _r WHERE ");
		for (i = 0; i < t->npk; i++) {
			if (i > 0)
				kb_sbuf_puts(&sb, " AND ");
			kb_sbuf_puts(&sb, "\"t0\".");
			kb_sql_ident(&sb, t->pk[i]->name);
			kb_sbuf_puts(&sb, " = _r.");
			kb_sql_ident(&sb, t->pk[i]->name);
		}
		if (*w != '\0')
			kb_sbuf_printf(&sb, " AND %s", w);
	} else {
		kb_sbuf_printf(&sb, " FROM pg_catalog.jsonb_populate_record("
		    "NULL::");
		table_ref(&sb, t);
		kb_sbuf_printf(&sb, ", $%d::jsonb) AS _r", bodyp);
		if (*w != '\0')
			kb_sbuf_printf(&sb, " WHERE %s", w);
	}
	render_returning(b, &sb);
	render_write_tail(b, &sb);
	p->sql = kb_sbuf_str(&sb);
	return (0);
}

static int
plan_delete(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;
	const struct kb_table	*t = p->table;
	struct kb_sbuf		 sb;
	json_t			*rows, *v, *o;
	const char		*w;
	size_t			 i, j;
	int			 bodyp = 0;

	if (!t->deletable)
		return (kb_tables_fail(b->err, 405, "KB_READ_ONLY", NULL,
		    "'%s' does not accept deletes", t->name));
	if (need_filter(b) == -1)
		return (-1);
	if (b->req->bulk) {
		if (t->npk == 0)
			return (kb_tables_fail(b->err, 400, "KB_NO_PK", NULL,
			    "'%s' has no primary key", t->name));
		if (!json_is_array(b->req->body))
			return (kb_tables_fail(b->err, 400, "PGRST102", NULL,
			    "the body of a bulk DELETE must be an array of "
			    "keys or of objects"));
		rows = json_array();
		json_array_foreach(b->req->body, i, v) {
			if (!json_is_object(v) && t->npk == 1 &&
			    !json_is_array(v)) {
				o = json_object();
				json_object_set(o, t->pk[0]->name, v);
			} else if (json_is_object(v)) {
				o = json_incref(v);
			} else {
				json_decref(rows);
				return (kb_tables_fail(b->err, 400, "PGRST102",
				    NULL, "element %zu of the body is neither "
				    "a key nor an object", i));
			}
			json_array_append_new(rows, o);
			for (j = 0; j < t->npk; j++) {
				if (json_object_get(o, t->pk[j]->name) !=
				    NULL)
					continue;
				json_decref(rows);
				return (kb_tables_fail(b->err, 400,
				    "KB_NO_PK", NULL, "element %zu of the "
				    "body lacks the key column '%s'", i,
				    t->pk[j]->name));
			}
		}
		bodyp = param(b, json_param(b, rows));
		json_decref(rows);
	}
	w = node_where(b, p->query.root);
	kb_sbuf_init(&sb, b->a);
	kb_sbuf_puts(&sb, "WITH pgrst_source AS (DELETE FROM ");
	table_ref(&sb, t);
	kb_sbuf_puts(&sb, " AS \"t0\"");
	if (b->req->bulk) {
		kb_sbuf_puts(&sb, " USING pg_catalog.jsonb_populate_recordset("
		    "NULL::");
		table_ref(&sb, t);
		kb_sbuf_printf(&sb, ", $%d::jsonb) AS _r WHERE ", bodyp);
		for (i = 0; i < t->npk; i++) {
			if (i > 0)
				kb_sbuf_puts(&sb, " AND ");
			kb_sbuf_puts(&sb, "\"t0\".");
			kb_sql_ident(&sb, t->pk[i]->name);
			kb_sbuf_puts(&sb, " = _r.");
			kb_sql_ident(&sb, t->pk[i]->name);
		}
		if (*w != '\0')
			kb_sbuf_printf(&sb, " AND %s", w);
	} else if (*w != '\0') {
		kb_sbuf_printf(&sb, " WHERE %s", w);
	}
	render_returning(b, &sb);
	render_write_tail(b, &sb);
	p->sql = kb_sbuf_str(&sb);
	return (0);
}

/* Comma-joined applied preferences, or NULL. */
static const char *
applied(struct bld *b, const struct prefs *pr)
{
	struct kb_sbuf	sb;
	const char	*ret[] = { NULL, "return=minimal",
			    "return=headers-only", "return=representation" };
	const char	*cnt[] = { NULL, "count=exact", "count=planned",
			    "count=estimated" };

	kb_sbuf_init(&sb, b->a);
	if (pr->resolution && b->plan->method == KB_TABLES_POST)
		kb_sbuf_printf(&sb, "resolution=%s", pr->resolution == 'm' ?
		    "merge-duplicates" : "ignore-duplicates");
	if (pr->missing_default && b->plan->method == KB_TABLES_POST)
		kb_sbuf_printf(&sb, "%smissing=default", sb.len ? ", " : "");
	if (pr->ret != KB_RETURN_DEFAULT && b->plan->method != KB_TABLES_GET &&
	    b->plan->method != KB_TABLES_HEAD)
		kb_sbuf_printf(&sb, "%s%s", sb.len ? ", " : "", ret[pr->ret]);
	if (pr->count != KB_COUNT_NONE)
		kb_sbuf_printf(&sb, "%s%s", sb.len ? ", " : "", cnt[pr->count]);
	if (pr->handling)
		kb_sbuf_printf(&sb, "%shandling=%s", sb.len ? ", " : "",
		    pr->handling == 's' ? "strict" : "lenient");
	if (b->plan->max_affected >= 0)
		kb_sbuf_printf(&sb, "%smax-affected=%lld", sb.len ? ", " : "",
		    b->plan->max_affected);
	return (sb.len ? kb_sbuf_str(&sb) : NULL);
}

/*
 * Whether `name` (Accept-Profile / Content-Profile) is an exposed
 * schema; else 406 PGRST106 listing them, as PostgREST.
 */
static int
exposed(const struct kb_catalog *schema, const char *name,
    struct kb_tables_error *err)
{
	char	list[200];
	size_t	i, len = 0;

	for (i = 0; schema != NULL && i < schema->nschemas; i++)
		if (strcmp(schema->schemas[i], name) == 0)
			return (1);
	list[0] = '\0';
	for (i = 0; schema != NULL && i < schema->nschemas &&
	    len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
		    "%s%s", i ? ", " : "", schema->schemas[i]);
	kb_tables_fail(err, 406, "PGRST106", NULL, "The schema must be one "
	    "of the following: %s", list);
	return (0);
}

/*
 * A read by id can be answered together with other reads like it
 * (kb_db.c coalesces them): the same statement for an array of keys, $1,
 * one row per key in their order, each row what the statement answers
 * for that key alone.  The key is the statement's only use of $1.
 */
static void
batch_form(struct bld *b)
{
	struct kb_tables_plan	*p = b->plan;
	struct kb_sbuf		 sb;
	const char		*at;

	if (!p->by_id || p->stream || p->count_sql != NULL ||
	    (p->method != KB_TABLES_GET && p->method != KB_TABLES_HEAD) ||
	    b->id_cond == NULL || p->nparams < 1 ||
	    p->params[0] != b->req->id ||
	    (at = strstr(p->sql, b->id_cond)) == NULL)
		return;
	kb_sbuf_init(&sb, b->a);
	kb_sbuf_puts(&sb, "SELECT kb_b.* FROM pg_catalog.unnest($1::");
	kb_sbuf_puts(&sb, p->table->pk[0]->type);
	kb_sbuf_puts(&sb, "[]) WITH ORDINALITY AS kb_k(k, n) CROSS JOIN "
	    "LATERAL (");
	kb_sbuf_add(&sb, p->sql, (size_t)(at - p->sql));
	kb_sbuf_puts(&sb, "\"t0\".");
	kb_sql_ident(&sb, p->table->pk[0]->name);
	kb_sbuf_puts(&sb, " = kb_k.k");
	kb_sbuf_puts(&sb, at + strlen(b->id_cond));
	kb_sbuf_puts(&sb, ") AS kb_b ORDER BY kb_k.n");
	p->batch_sql = kb_sbuf_str(&sb);
}

struct kb_tables_plan *
kb_tables_plan(const struct kb_catalog *schema,
    const struct kb_tables_request *req, struct kb_tables_error *err)
{
	struct kb_tables_plan	*p;
	struct bld		 b;
	struct prefs		 pr;
	struct kb_sbuf		 sb;
	const struct kb_table	*t;
	const char		*fmt;
	int			 r, is_write;

	memset(err, 0, sizeof(*err));
	if (req != NULL && req->schema != NULL && !exposed(schema,
	    req->schema, err))
		return (NULL);
	if (req == NULL || req->table == NULL ||
	    (t = kb_schema_table(schema, req->schema, req->table)) == NULL) {
		/* Qualified by the schema looked in, as PostgREST says it. */
		kb_tables_fail(err, 404, "PGRST205", NULL, "Could not find "
		    "the table '%.64s%s%.64s' in the schema cache",
		    req && req->schema ? req->schema : schema != NULL &&
		    schema->nschemas > 0 ? schema->schemas[0] : "",
		    (req && req->schema) || (schema != NULL &&
		    schema->nschemas > 0) ? "." : "",
		    req && req->table ? req->table : "");
		return (NULL);
	}
	memset(&b, 0, sizeof(b));
	b.a = kb_arena_new();
	p = kb_arena_alloc(b.a, sizeof(*p));
	p->arena = b.a;
	p->table = t;
	p->method = req->method;
	b.req = req;
	b.plan = p;
	b.err = err;
	is_write = req->method != KB_TABLES_GET &&
	    req->method != KB_TABLES_HEAD;
	p->read_only = !is_write;

	if (req->bulk && (req->id != NULL || req->export ||
	    req->method == KB_TABLES_GET || req->method == KB_TABLES_HEAD ||
	    req->method == KB_TABLES_PUT)) {
		kb_tables_fail(err, 405, "KB_METHOD", NULL,
		    "/bulk takes POST, PATCH and DELETE");
		goto bad;
	}
	if ((req->export && (req->method != KB_TABLES_GET ||
	    req->id != NULL)) ||
	    (req->method == KB_TABLES_PUT && req->id == NULL) ||
	    (req->method == KB_TABLES_POST && req->id != NULL)) {
		kb_tables_fail(err, 405, "KB_METHOD", NULL,
		    "method not allowed on this path");
		goto bad;
	}
	if (req->id != NULL) {
		if (t->npk == 0) {
			kb_tables_fail(err, 400, "KB_NO_PK", NULL,
			    "'%s' has no primary key to address a row by",
			    t->name);
			goto bad;
		}
		if (t->npk > 1) {
			kb_tables_fail(err, 400, "KB_COMPOSITE_PK", NULL,
			    "'%s' has a composite primary key: use filters "
			    "on /tables/%s instead", t->name, t->name);
			goto bad;
		}
		p->by_id = 1;
	}
	if (is_write && req->method != KB_TABLES_DELETE &&
	    req->content_type != NULL && strncasecmp(req->content_type,
	    "application/json", 16) != 0) {
		kb_tables_fail(err, 415, "KB_CONTENT_TYPE", NULL,
		    "the body must be application/json");
		goto bad;
	}
	if (is_write && (req->method != KB_TABLES_DELETE || req->bulk) &&
	    req->body == NULL) {
		kb_tables_fail(err, 400, "PGRST102", NULL,
		    "a JSON body is required");
		goto bad;
	}

	parse_prefer(req->prefer, &pr);
	p->ret = pr.ret;
	p->count = pr.count;
	b.resolution = req->method == KB_TABLES_POST ? pr.resolution : 0;
	p->max_affected = pr.handling == 's' && (req->method ==
	    KB_TABLES_PATCH || req->method == KB_TABLES_DELETE) ?
	    pr.max_affected : -1;
	p->merge_upsert = b.resolution == 'm' && !p->by_id;
	b.missing_default = req->method == KB_TABLES_POST &&
	    pr.missing_default;
	if (p->ret == KB_RETURN_DEFAULT && p->by_id &&
	    req->method != KB_TABLES_DELETE)
		p->ret = KB_RETURN_REPRESENTATION;
	if (req->export) {
		p->stream = 1;
	} else if (parse_accept(req->accept, &p->format,
	    &p->strip_nulls) == -1) {
		kb_tables_fail(err, 406, "PGRST107", NULL, "None of these "
		    "media types are available: %.128s", req->accept);
		goto bad;
	}
	if (p->by_id && p->format == KB_TABLES_JSON)
		p->format = KB_TABLES_OBJECT;
	if (is_write && p->format == KB_TABLES_CSV) {
		kb_tables_fail(err, 406, "PGRST107", NULL,
		    "text/csv is for reads only");
		goto bad;
	}
	p->needs_one_row = is_write && p->format == KB_TABLES_OBJECT;

	if (kb_query_parse(b.a, schema, t, req->query,
	    req->export ? KB_QUERY_EXPORT : 0, &p->query, err) == -1)
		goto bad;
	if (req->export) {
		/* The request's format, else ?format=, else JSON. */
		fmt = req->export_format ? req->export_format :
		    p->query.format;
		if (fmt != NULL && strcmp(fmt, "csv") != 0 &&
		    strcmp(fmt, "json") != 0) {
			kb_tables_fail(err, 400, "PGRST100", NULL,
			    "export format must be csv or json");
			goto bad;
		}
		p->format = fmt != NULL && strcmp(fmt, "csv") == 0 ?
		    KB_TABLES_CSV : KB_TABLES_JSON;
	}
	b.where = kb_arena_alloc(b.a, (size_t)p->query.nnodes *
	    sizeof(*b.where));
	if (p->by_id && req->method != KB_TABLES_PUT) {
		kb_sbuf_init(&sb, b.a);
		kb_sbuf_puts(&sb, "\"t0\".");
		kb_sql_ident(&sb, t->pk[0]->name);
		kb_sbuf_printf(&sb, " = $%d::%s", param(&b, req->id),
		    t->pk[0]->type);
		b.id_cond = kb_sbuf_str(&sb);
	}

	switch (req->method) {
	case KB_TABLES_GET:
	case KB_TABLES_HEAD:
		r = plan_read(&b);
		break;
	case KB_TABLES_POST:
	case KB_TABLES_PUT:
		r = plan_insert(&b);
		break;
	case KB_TABLES_PATCH:
		r = plan_update(&b);
		break;
	case KB_TABLES_DELETE:
		r = plan_delete(&b);
		break;
	default:
		r = kb_tables_fail(err, 405, "KB_METHOD", NULL,
		    "method not allowed");
		break;
	}
	if (r == -1 || b.failed)
		goto bad;
	if (strlen(p->sql) > KB_TABLES_MAX_SQL) {
		kb_tables_fail(err, 400, "PGRST100", NULL, "the query is too "
		    "complex (its SQL would exceed %d bytes)",
		    KB_TABLES_MAX_SQL);
		goto bad;
	}
	p->params = b.params;
	p->nparams = b.nparams;
	p->applied = applied(&b, &pr);
	batch_form(&b);
	p->location_prefix = req->location_base ? req->location_base :
	    "/api/v1/tables/";
	if (p->stream) {
		if (p->format == KB_TABLES_CSV) {
			p->stream_head = kb_arena_printf(b.a, "%s\n",
			    csv_header(&b, p->query.root));
			p->stream_sep = "\n";
			p->stream_tail = "";
			p->stream_type = "text/csv; charset=utf-8";
		} else {
			p->stream_head = "[";
			p->stream_sep = ",";
			p->stream_tail = "]";
			p->stream_type = "application/json; charset=utf-8";
		}
	}
	return (p);
bad:
	kb_arena_free(b.a);
	return (NULL);
}

void
kb_tables_plan_free(struct kb_tables_plan *p)
{
	if (p != NULL)
		kb_arena_free(p->arena);
}
