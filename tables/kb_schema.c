/*
 * korebase tables: the schema cache model, built from one catalog query.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_arena.h"
#include "kb_schema.h"

/*
 * One row, one text column.  Relations and functions of the schemas in
 * $1 (never pg_catalog or information_schema), not extension members,
 * not partitions (their partitioned table is exposed).
 * Views say whether they are auto-updatable (pg_relation_is_updatable's
 * bits: 4 UPDATE, 8 INSERT, 16 DELETE).  Column types are format_type()
 * text; base_type is the element's (arrays) or the domain base's typname.
 */
const char KB_SCHEMA_CATALOG_SQL[] =
	"WITH schemas AS (\n"
	"    SELECT n.oid, n.nspname, s.ord\n"
	"    FROM unnest($1::text[]) WITH ORDINALITY AS s(name, ord)\n"
	"    JOIN pg_catalog.pg_namespace n ON n.nspname = s.name\n"
	"    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')\n"
	"), rels AS (\n"
	"    SELECT c.oid, s.nspname, c.relname, c.relkind,\n"
	"        pg_catalog.pg_relation_is_updatable(c.oid, true) AS upd\n"
	"    FROM pg_catalog.pg_class c\n"
	"    JOIN schemas s ON s.oid = c.relnamespace\n"
	"    WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass\n"
	"        AND d.objid = c.oid AND d.deptype = 'e')\n"
	"), cols AS (\n"
	"    SELECT a.attrelid, a.attnum, a.attname, a.attnotnull, a.atthasdef,\n"
	"        a.attidentity, a.attgenerated,\n"
	"        pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,\n"
	"        dt.typcategory AS category,\n"
	"        (dt.typcategory = 'A' OR (dt.typelem <> 0 AND dt.typlen = -1\n"
	"            AND dt.typsubscript = 'array_subscript_handler'::regproc))\n"
	"            AS is_array,\n"
	"        CASE WHEN a.attgenerated <> '' THEN NULL\n"
	"        WHEN a.atthasdef THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid)\n"
	"        WHEN a.attidentity <> '' THEN pg_catalog.format(\n"
	"            'nextval(%L::regclass)', pg_catalog.pg_get_serial_sequence(\n"
	"            pg_catalog.quote_ident(r.nspname) || '.' ||\n"
	"            pg_catalog.quote_ident(r.relname), a.attname))\n"
	"        END AS default_expr,\n"
	"        dt.typelem, dt.oid AS dtoid,\n"
	"        (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)\n"
	"            FROM pg_catalog.pg_enum e WHERE e.enumtypid =\n"
	"            CASE WHEN dt.typtype = 'e' THEN dt.oid ELSE dt.typelem END)\n"
	"            AS enum_labels,\n"
	"        pg_catalog.col_description(a.attrelid, a.attnum) AS description\n"
	"    FROM rels r\n"
	"    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid\n"
	"    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid\n"
	"    JOIN pg_catalog.pg_type dt ON dt.oid = CASE WHEN t.typtype = 'd'\n"
	"        THEN t.typbasetype ELSE t.oid END\n"
	"    LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid\n"
	"        AND ad.adnum = a.attnum\n"
	"    WHERE a.attnum > 0 AND NOT a.attisdropped\n"
	"), keys AS (\n"
	"    SELECT con.conrelid, con.conname, con.contype, con.confrelid,\n"
	"        (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)\n"
	"            FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, ord)\n"
	"            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid\n"
	"            AND a.attnum = k.n) AS cols,\n"
	"        (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)\n"
	"            FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, ord)\n"
	"            JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid\n"
	"            AND a.attnum = k.n) AS ref_cols\n"
	"    FROM pg_catalog.pg_constraint con\n"
	"    JOIN rels r ON r.oid = con.conrelid\n"
	"    WHERE con.contype IN ('p', 'f', 'u')\n"
	"), funcs AS (\n"
	"    SELECT p.oid, s.nspname, p.proname, p.pronargs, p.pronargdefaults,\n"
	"        p.prorettype, p.proretset, p.provolatile, p.proargmodes,\n"
	"        p.proargnames,\n"
	"        coalesce(p.proallargtypes, p.proargtypes::pg_catalog.oid[])\n"
	"            AS argtypes\n"
	"    FROM pg_catalog.pg_proc p\n"
	"    JOIN schemas s ON s.oid = p.pronamespace\n"
	"    WHERE p.prokind = 'f'\n"
	"    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d\n"
	"        WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass\n"
	"        AND d.objid = p.oid AND d.deptype = 'e')\n"
	"), fargs AS (\n"
	"    SELECT f.oid, k.ord, k.t,\n"
	"        coalesce(f.proargnames[k.ord], '') AS name,\n"
	"        coalesce(f.proargmodes[k.ord], 'i') AS mode,\n"
	"        pg_catalog.sum(CASE WHEN coalesce(f.proargmodes[k.ord], 'i')\n"
	"            IN ('i', 'b', 'v') THEN 1 ELSE 0 END)\n"
	"            OVER (PARTITION BY f.oid ORDER BY k.ord) AS inpos,\n"
	"        f.pronargs, f.pronargdefaults\n"
	"    FROM funcs f, pg_catalog.unnest(f.argtypes) WITH ORDINALITY k(t, ord)\n"
	")\n"
	"SELECT pg_catalog.json_build_object(\n"
	"    'schemas', (SELECT coalesce(pg_catalog.json_agg(s.nspname\n"
	"        ORDER BY s.ord), '[]') FROM schemas s),\n"
	"    'tables', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"    'schema', r.nspname,\n"
	"    'name', r.relname,\n"
	"    'kind', r.relkind,\n"
	"    'insertable', (r.upd & 8) = 8,\n"
	"    'updatable', (r.upd & 4) = 4,\n"
	"    'deletable', (r.upd & 16) = 16,\n"
	"    'description', pg_catalog.obj_description(r.oid, 'pg_class'),\n"
	"    'columns', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"        'name', c.attname,\n"
	"        'type', c.type,\n"
	"        'base_type', (SELECT et.typname FROM pg_catalog.pg_type et\n"
	"            WHERE et.oid = CASE WHEN c.is_array THEN c.typelem\n"
	"            ELSE c.dtoid END),\n"
	"        'category', c.category,\n"
	"        'array', c.is_array,\n"
	"        'nullable', NOT c.attnotnull,\n"
	"        'has_default', c.atthasdef OR c.attidentity <> '',\n"
	"        'identity', c.attidentity,\n"
	"        'generated', c.attgenerated <> '' OR c.attidentity = 'a',\n"
	"        'default', c.default_expr,\n"
	"        'enum', c.enum_labels,\n"
	"        'position', c.attnum,\n"
	"        'description', c.description) ORDER BY c.attnum), '[]')\n"
	"        FROM cols c WHERE c.attrelid = r.oid),\n"
	"    'pk', (SELECT k.cols FROM keys k WHERE k.conrelid = r.oid\n"
	"        AND k.contype = 'p'),\n"
	"    'uniques', (SELECT coalesce(pg_catalog.json_agg(k.cols\n"
	"        ORDER BY k.conname), '[]') FROM keys k\n"
	"        WHERE k.conrelid = r.oid AND k.contype = 'u'),\n"
	"    'fkeys', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"        'name', k.conname,\n"
	"        'columns', k.cols,\n"
	"        'ref_schema', rn.nspname,\n"
	"        'ref_table', rc.relname,\n"
	"        'ref_columns', k.ref_cols) ORDER BY k.conname), '[]')\n"
	"        FROM keys k\n"
	"        JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid\n"
	"        JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace\n"
	"        WHERE k.conrelid = r.oid AND k.contype = 'f'))\n"
	"    ORDER BY r.nspname, r.relname), '[]') FROM rels r),\n"
	"    'functions', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"    'schema', f.nspname,\n"
	"    'name', f.proname,\n"
	"    'args', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(\n"
	"        'name', a.name,\n"
	"        'type', pg_catalog.format_type(a.t, NULL),\n"
	"        'mode', a.mode,\n"
	"        'has_default', a.mode IN ('i', 'b', 'v')\n"
	"            AND a.inpos > a.pronargs - a.pronargdefaults)\n"
	"        ORDER BY a.ord), '[]') FROM fargs a WHERE a.oid = f.oid),\n"
	"    'ret_type', pg_catalog.format_type(f.prorettype, NULL),\n"
	"    'returns_set', f.proretset,\n"
	"    'ret_table', f.proretset AND (rt.typtype = 'c' OR rt.oid = 'pg_catalog.record'::pg_catalog.regtype),\n"
	"    'volatility', f.provolatile,\n"
	"    'description', pg_catalog.obj_description(f.oid, 'pg_proc'))\n"
	"    ORDER BY f.nspname, f.proname, f.oid), '[]')\n"
	"    FROM funcs f JOIN pg_catalog.pg_type rt ON rt.oid = f.prorettype)\n"
	")::text\n";

struct build {
	struct kb_arena		*arena;
	char			*err;
	size_t			 errlen;
};

static int	fail(struct build *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	get_str(struct build *, json_t *, const char *, int,
		    char **);
static int	get_bool(struct build *, json_t *, const char *, int *);
static int	get_labels(struct build *, json_t *, struct kb_column *);
static int	get_char(struct build *, json_t *, const char *, char *);
static int	build_table(struct build *, json_t *, struct kb_table *);
static int	build_uniques(struct build *, json_t *, struct kb_table *);
static int	cols_unique(const struct kb_table *, const struct kb_column **,
		    size_t);
static int	build_fkeys(struct build *, struct kb_catalog *, json_t *);
static int	build_function(struct build *, json_t *,
		    struct kb_function *);
static int	cmp_table(const void *, const void *);
static int	cmp_function(const void *, const void *);

static int
fail(struct build *b, const char *fmt, ...)
{
	va_list	ap;

	if (b->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(b->err, b->errlen, fmt, ap);
		va_end(ap);
	}
	return (-1);
}

/* A string member (NULL allowed when `nullable`); copied to the arena. */
static int
get_str(struct build *b, json_t *obj, const char *key, int nullable,
    char **out)
{
	json_t	*v;

	v = json_object_get(obj, key);
	if ((v == NULL || json_is_null(v)) && nullable) {
		*out = NULL;
		return (0);
	}
	if (!json_is_string(v))
		return (fail(b, "\"%s\" must be a string", key));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return (fail(b, "\"%s\" contains NUL", key));
	*out = kb_arena_strdup(b->arena, json_string_value(v));
	return (0);
}

/*
 * An enum's labels ("enum": its values in their order, the element's for
 * an array of an enum), or none.
 */
static int
get_labels(struct build *b, json_t *obj, struct kb_column *c)
{
	json_t	*v, *l;
	size_t	 i;

	v = json_object_get(obj, "enum");
	c->enum_labels = NULL;
	c->nenum = 0;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_array(v))
		return (fail(b, "\"enum\" must be an array"));
	c->enum_labels = kb_arena_alloc(b->arena,
	    (json_array_size(v) + 1) * sizeof(*c->enum_labels));
	json_array_foreach(v, i, l) {
		if (!json_is_string(l) ||
		    strlen(json_string_value(l)) != json_string_length(l))
			return (fail(b, "an enum label must be a string"));
		c->enum_labels[i] = kb_arena_strdup(b->arena,
		    json_string_value(l));
	}
	c->nenum = json_array_size(v);
	return (0);
}

static int
get_bool(struct build *b, json_t *obj, const char *key, int *out)
{
	json_t	*v;

	v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v)) {
		*out = 0;
		return (0);
	}
	if (!json_is_boolean(v))
		return (fail(b, "\"%s\" must be a boolean", key));
	*out = json_is_true(v);
	return (0);
}

/* A one-character string ("" or absent gives 0). */
static int
get_char(struct build *b, json_t *obj, const char *key, char *out)
{
	json_t	*v;

	v = json_object_get(obj, key);
	*out = 0;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_string(v) || json_string_length(v) > 1)
		return (fail(b, "\"%s\" must be a one-character string", key));
	*out = json_string_value(v)[0];
	return (0);
}

/* "uniques": [["a", "b"], ...], the table's UNIQUE constraints. */
static int
build_uniques(struct build *b, json_t *jt, struct kb_table *t)
{
	json_t			*us, *u, *v;
	struct kb_ukey		*k;
	size_t			 i, j;

	us = json_object_get(jt, "uniques");
	if (us == NULL || json_is_null(us))
		return (0);
	if (!json_is_array(us))
		return (fail(b, "%s: \"uniques\" must be an array", t->name));
	t->nuniques = json_array_size(us);
	t->uniques = kb_arena_alloc(b->arena,
	    (t->nuniques + 1) * sizeof(*t->uniques));
	json_array_foreach(us, i, u) {
		k = &t->uniques[i];
		if (!json_is_array(u) || json_array_size(u) == 0)
			return (fail(b, "%s: bad unique key", t->name));
		k->ncols = json_array_size(u);
		k->cols = kb_arena_alloc(b->arena, k->ncols * sizeof(*k->cols));
		json_array_foreach(u, j, v) {
			if (!json_is_string(v) || (k->cols[j] =
			    kb_table_column(t, json_string_value(v))) == NULL)
				return (fail(b, "%s: bad unique key column",
				    t->name));
		}
	}
	return (0);
}

static int
has_all(const struct kb_column **set, size_t nset,
    const struct kb_column **cols, size_t ncols)
{
	size_t	i, j;

	for (i = 0; i < nset; i++) {
		for (j = 0; j < ncols && cols[j] != set[i]; j++)
			;
		if (j == ncols)
			return (0);
	}
	return (1);
}

/* Whether cols (a key's columns) include the PK or a unique key. */
static int
cols_unique(const struct kb_table *t, const struct kb_column **cols,
    size_t ncols)
{
	size_t	i;

	if (t->npk > 0 && has_all(t->pk, t->npk, cols, ncols))
		return (1);
	for (i = 0; i < t->nuniques; i++) {
		if (has_all(t->uniques[i].cols, t->uniques[i].ncols, cols,
		    ncols))
			return (1);
	}
	return (0);
}

static int
build_table(struct build *b, json_t *jt, struct kb_table *t)
{
	json_t			*cols, *jc, *pk, *v;
	struct kb_column	*c;
	size_t			 i, j;
	char			*name;

	if (!json_is_object(jt))
		return (fail(b, "a table must be an object"));
	if (get_str(b, jt, "schema", 0, &t->schema) == -1 ||
	    get_str(b, jt, "name", 0, &t->name) == -1 ||
	    get_str(b, jt, "description", 1, &t->description) == -1 ||
	    get_char(b, jt, "kind", &t->kind) == -1 ||
	    get_bool(b, jt, "insertable", &t->insertable) == -1 ||
	    get_bool(b, jt, "updatable", &t->updatable) == -1 ||
	    get_bool(b, jt, "deletable", &t->deletable) == -1)
		return (-1);
	t->is_view = (t->kind == 'v' || t->kind == 'm');
	cols = json_object_get(jt, "columns");
	if (!json_is_array(cols))
		return (fail(b, "%s: \"columns\" must be an array", t->name));
	t->ncols = json_array_size(cols);
	t->cols = kb_arena_alloc(b->arena, (t->ncols + 1) * sizeof(*t->cols));
	json_array_foreach(cols, i, jc) {
		c = &t->cols[i];
		if (!json_is_object(jc))
			return (fail(b, "%s: a column must be an object",
			    t->name));
		if (get_str(b, jc, "name", 0, &c->name) == -1 ||
		    get_str(b, jc, "type", 0, &c->type) == -1 ||
		    get_str(b, jc, "base_type", 1, &c->base_type) == -1 ||
		    get_char(b, jc, "category", &c->category) == -1 ||
		    get_bool(b, jc, "array", &c->is_array) == -1 ||
		    get_bool(b, jc, "nullable", &c->nullable) == -1 ||
		    get_bool(b, jc, "has_default", &c->has_default) == -1 ||
		    get_bool(b, jc, "generated", &c->generated) == -1 ||
		    get_char(b, jc, "identity", &c->identity) == -1 ||
		    get_str(b, jc, "default", 1, &c->default_expr) == -1 ||
		    get_str(b, jc, "description", 1, &c->description) == -1 ||
		    get_labels(b, jc, c) == -1)
			return (-1);
		if (c->name[0] == '\0' || c->type[0] == '\0')
			return (fail(b, "%s: empty column name or type",
			    t->name));
		if (c->base_type == NULL)
			c->base_type = c->type;
		v = json_object_get(jc, "position");
		c->position = json_is_integer(v) ?
		    (int)json_integer_value(v) : (int)i + 1;
		for (j = 0; j < i; j++) {
			if (strcmp(t->cols[j].name, c->name) == 0)
				return (fail(b, "%s: duplicate column %s",
				    t->name, c->name));
		}
		if (strcmp(c->name, "tenant_id") == 0 &&
		    strcmp(c->base_type, "uuid") == 0 && !c->is_array)
			t->has_tenant_id = 1;
	}
	if (build_uniques(b, jt, t) == -1)
		return (-1);
	pk = json_object_get(jt, "pk");
	if (pk != NULL && !json_is_null(pk)) {
		if (!json_is_array(pk))
			return (fail(b, "%s: \"pk\" must be an array",
			    t->name));
		t->npk = json_array_size(pk);
		t->pk = kb_arena_alloc(b->arena,
		    (t->npk + 1) * sizeof(*t->pk));
		json_array_foreach(pk, i, v) {
			name = (char *)json_string_value(v);
			if (name == NULL ||
			    (t->pk[i] = kb_table_column(t, name)) == NULL)
				return (fail(b, "%s: bad primary key column",
				    t->name));
		}
	}
	return (0);
}

/* The fkeys of every table, once all tables exist (they point at them). */
static int
build_fkeys(struct build *b, struct kb_catalog *s, json_t *tables)
{
	json_t			*jt, *fks, *jf, *cols, *rcols;
	struct kb_table		*t;
	const struct kb_table	*ref;
	struct kb_fkey		*fk;
	char			*rs, *rt;
	size_t			 i, j, k, n;

	json_array_foreach(tables, i, jt) {
		if (get_str(b, jt, "schema", 0, &rs) == -1 ||
		    get_str(b, jt, "name", 0, &rt) == -1)
			return (-1);
		/* kb_schema_table() gives the sorted copy of this table. */
		t = (struct kb_table *)kb_schema_table(s, rs, rt);
		if (t == NULL)
			return (fail(b, "table vanished"));
		fks = json_object_get(jt, "fkeys");
		if (fks == NULL || json_is_null(fks))
			continue;
		if (!json_is_array(fks))
			return (fail(b, "%s: \"fkeys\" must be an array",
			    t->name));
		t->fkeys = kb_arena_alloc(b->arena,
		    (json_array_size(fks) + 1) * sizeof(*t->fkeys));
		n = 0;
		json_array_foreach(fks, j, jf) {
			fk = &t->fkeys[n];
			if (!json_is_object(jf))
				return (fail(b, "%s: bad foreign key",
				    t->name));
			if (get_str(b, jf, "name", 0, &fk->name) == -1 ||
			    get_str(b, jf, "ref_schema", 0, &rs) == -1 ||
			    get_str(b, jf, "ref_table", 0, &rt) == -1)
				return (-1);
			cols = json_object_get(jf, "columns");
			rcols = json_object_get(jf, "ref_columns");
			if (!json_is_array(cols) || !json_is_array(rcols) ||
			    json_array_size(cols) == 0 ||
			    json_array_size(cols) != json_array_size(rcols))
				return (fail(b, "%s: foreign key %s: bad "
				    "columns", t->name, fk->name));
			/* Not exposed: not embeddable, not an error. */
			if ((ref = kb_schema_table(s, rs, rt)) == NULL)
				continue;
			fk->table = t;
			fk->ref = ref;
			fk->ncols = json_array_size(cols);
			fk->cols = kb_arena_alloc(b->arena,
			    fk->ncols * sizeof(*fk->cols));
			fk->ref_cols = kb_arena_alloc(b->arena,
			    fk->ncols * sizeof(*fk->ref_cols));
			for (k = 0; k < fk->ncols; k++) {
				rs = (char *)json_string_value(
				    json_array_get(cols, k));
				rt = (char *)json_string_value(
				    json_array_get(rcols, k));
				if (rs == NULL || rt == NULL ||
				    (fk->cols[k] = kb_table_column(t,
				    rs)) == NULL ||
				    (fk->ref_cols[k] = kb_table_column(ref,
				    rt)) == NULL)
					return (fail(b, "%s: foreign key %s: "
					    "unknown column", t->name,
					    fk->name));
			}
			fk->unique = cols_unique(t, fk->cols, fk->ncols);
			n++;
		}
		t->nfkeys = n;
	}
	return (0);
}

static int
build_function(struct build *b, json_t *jf, struct kb_function *f)
{
	json_t			*args, *ja;
	struct kb_func_arg	*a;
	size_t			 i;
	char			 mode;

	if (!json_is_object(jf))
		return (fail(b, "a function must be an object"));
	if (get_str(b, jf, "schema", 0, &f->schema) == -1 ||
	    get_str(b, jf, "name", 0, &f->name) == -1 ||
	    get_str(b, jf, "ret_type", 0, &f->ret_type) == -1 ||
	    get_str(b, jf, "description", 1, &f->description) == -1 ||
	    get_bool(b, jf, "returns_set", &f->returns_set) == -1 ||
	    get_bool(b, jf, "ret_table", &f->ret_table) == -1 ||
	    get_char(b, jf, "volatility", &f->volatility) == -1)
		return (-1);
	args = json_object_get(jf, "args");
	if (args == NULL || json_is_null(args))
		return (0);
	if (!json_is_array(args))
		return (fail(b, "%s: \"args\" must be an array", f->name));
	f->nargs = json_array_size(args);
	f->args = kb_arena_alloc(b->arena, (f->nargs + 1) * sizeof(*f->args));
	json_array_foreach(args, i, ja) {
		a = &f->args[i];
		if (!json_is_object(ja))
			return (fail(b, "%s: bad argument", f->name));
		if (get_str(b, ja, "name", 1, &a->name) == -1 ||
		    get_str(b, ja, "type", 0, &a->type) == -1 ||
		    get_bool(b, ja, "has_default", &a->has_default) == -1 ||
		    get_char(b, ja, "mode", &mode) == -1)
			return (-1);
		if (a->name == NULL)
			a->name = kb_arena_strdup(b->arena, "");
		a->mode = mode ? mode : 'i';
	}
	return (0);
}

static int
cmp_table(const void *a, const void *b)
{
	const struct kb_table	*x = a, *y = b;
	int			 r;

	if ((r = strcmp(x->schema, y->schema)) != 0)
		return (r);
	return (strcmp(x->name, y->name));
}

static int
cmp_function(const void *a, const void *b)
{
	const struct kb_function	*x = a, *y = b;
	int				 r;

	if ((r = strcmp(x->schema, y->schema)) != 0)
		return (r);
	return (strcmp(x->name, y->name));
}

struct kb_catalog *
kb_schema_from_json(json_t *doc, char *err, size_t errlen)
{
	struct build		 b;
	struct kb_catalog	*s;
	json_t			*tables, *funcs, *schemas, *v;
	size_t			 i;

	if (errlen > 0)
		err[0] = '\0';
	b.err = err;
	b.errlen = errlen;
	b.arena = kb_arena_new();
	s = kb_arena_alloc(b.arena, sizeof(*s));
	s->arena = b.arena;

	if (!json_is_object(doc)) {
		fail(&b, "the catalog document must be an object");
		goto bad;
	}
	schemas = json_object_get(doc, "schemas");
	tables = json_object_get(doc, "tables");
	funcs = json_object_get(doc, "functions");
	if (!json_is_array(schemas) || !json_is_array(tables) ||
	    (funcs != NULL && !json_is_array(funcs))) {
		fail(&b, "\"schemas\", \"tables\" and \"functions\" must "
		    "be arrays");
		goto bad;
	}
	s->nschemas = json_array_size(schemas);
	s->schemas = kb_arena_alloc(b.arena,
	    (s->nschemas + 1) * sizeof(*s->schemas));
	json_array_foreach(schemas, i, v) {
		if (!json_is_string(v)) {
			fail(&b, "a schema name must be a string");
			goto bad;
		}
		s->schemas[i] = kb_arena_strdup(b.arena, json_string_value(v));
	}

	s->ntables = json_array_size(tables);
	s->tables = kb_arena_alloc(b.arena,
	    (s->ntables + 1) * sizeof(*s->tables));
	json_array_foreach(tables, i, v) {
		if (build_table(&b, v, &s->tables[i]) == -1)
			goto bad;
	}
	qsort(s->tables, s->ntables, sizeof(*s->tables), cmp_table);
	for (i = 1; i < s->ntables; i++) {
		if (cmp_table(&s->tables[i - 1], &s->tables[i]) == 0) {
			fail(&b, "duplicate table %s.%s", s->tables[i].schema,
			    s->tables[i].name);
			goto bad;
		}
	}
	if (build_fkeys(&b, s, tables) == -1)
		goto bad;

	s->nfuncs = funcs ? json_array_size(funcs) : 0;
	s->funcs = kb_arena_alloc(b.arena, (s->nfuncs + 1) * sizeof(*s->funcs));
	for (i = 0; i < s->nfuncs; i++) {
		if (build_function(&b, json_array_get(funcs, i),
		    &s->funcs[i]) == -1)
			goto bad;
	}
	/* A stable sort: overloads stay in catalog order. */
	for (i = 1; i < s->nfuncs; i++) {
		struct kb_function	 f = s->funcs[i];
		size_t			 j = i;

		while (j > 0 && cmp_function(&s->funcs[j - 1], &f) > 0) {
			s->funcs[j] = s->funcs[j - 1];
			j--;
		}
		s->funcs[j] = f;
	}
	return (s);

bad:
	kb_arena_free(b.arena);
	return (NULL);
}

void
kb_schema_free(struct kb_catalog *s)
{
	if (s != NULL)
		kb_arena_free(s->arena);
}

const struct kb_table *
kb_schema_table(const struct kb_catalog *s, const char *schema,
    const char *name)
{
	struct kb_table	 key;
	size_t		 i;
	const void	*t;

	if (s == NULL || name == NULL)
		return (NULL);
	if (schema == NULL) {
		for (i = 0; i < s->nschemas; i++) {
			if ((t = kb_schema_table(s, s->schemas[i],
			    name)) != NULL)
				return (t);
		}
		return (NULL);
	}
	key.schema = (char *)schema;
	key.name = (char *)name;
	return (bsearch(&key, s->tables, s->ntables, sizeof(*s->tables),
	    cmp_table));
}

const struct kb_column *
kb_table_column(const struct kb_table *t, const char *name)
{
	size_t	i;

	if (t == NULL || name == NULL)
		return (NULL);
	for (i = 0; i < t->ncols; i++) {
		if (strcmp(t->cols[i].name, name) == 0)
			return (&t->cols[i]);
	}
	return (NULL);
}

/* The first overload (catalog order) of schema.name. */
const struct kb_function *
kb_schema_function(const struct kb_catalog *s, const char *schema,
    const char *name)
{
	struct kb_function	 key;
	const struct kb_function *f;
	size_t			 i;

	if (s == NULL || name == NULL)
		return (NULL);
	if (schema == NULL) {
		for (i = 0; i < s->nschemas; i++) {
			if ((f = kb_schema_function(s, s->schemas[i],
			    name)) != NULL)
				return (f);
		}
		return (NULL);
	}
	key.schema = (char *)schema;
	key.name = (char *)name;
	f = bsearch(&key, s->funcs, s->nfuncs, sizeof(*s->funcs),
	    cmp_function);
	while (f != NULL && f > s->funcs && cmp_function(f - 1, &key) == 0)
		f--;
	return (f);
}
