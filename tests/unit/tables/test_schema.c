/*
 * korebase tables tests: the schema model built from the catalog JSON.
 *
 * With `--print-sql` the program prints KB_SCHEMA_CATALOG_SQL, so
 * catalog.sh runs exactly the compiled query with psql.
 */

#include "kb_tables_test.h"

static struct kb_catalog	*sample;

static int
setup(void **state)
{
	sample = kbt_sample_schema();
	return (0);
}

static int
teardown(void **state)
{
	kb_schema_free(sample);
	return (0);
}

static const struct kb_table *
table(const char *name)
{
	const struct kb_table	*t;

	t = kb_schema_table(sample, NULL, name);
	if (t == NULL)
		fail_msg("no table %s", name);
	return (t);
}

static void
tables_and_views(void **state)
{
	const struct kb_table	*t;

	t = table("projects");
	assert_string_equal(t->schema, "public");
	assert_false(t->is_view);
	assert_true(t->insertable && t->updatable && t->deletable);
	t = table("active_projects");
	assert_true(t->is_view);
	assert_true(t->insertable && t->updatable && t->deletable);
	t = table("project_counts");
	assert_true(t->is_view);
	assert_false(t->insertable || t->updatable || t->deletable);
	assert_string_equal(table("clients")->description, "Customers");
	assert_non_null(table("weird \"name\""));
	/* Schema order decides an unqualified lookup; qualified works too. */
	assert_non_null(kb_schema_table(sample, "private", "secrets"));
	assert_non_null(kb_schema_table(sample, NULL, "secrets"));
	assert_null(kb_schema_table(sample, "public", "secrets"));
	assert_null(kb_schema_table(sample, NULL, "pg_class"));
	/* A partitioned table is exposed, its partitions are not. */
	assert_int_equal(table("events")->kind, 'p');
	assert_null(kb_schema_table(sample, NULL, "events_2024"));
	assert_null(kb_schema_table(sample, NULL, "nope"));
	assert_null(kb_schema_table(sample, NULL, NULL));
}

static void
columns(void **state)
{
	const struct kb_table	*t = table("projects");
	const struct kb_column	*c;

	c = kb_table_column(t, "tags");
	assert_string_equal(c->type, "text[]");
	assert_string_equal(c->base_type, "text");
	assert_true(c->is_array);
	assert_int_equal(c->category, 'A');
	assert_true(c->has_default);
	c = kb_table_column(t, "meta");
	assert_string_equal(c->type, "jsonb");
	assert_false(c->is_array);
	assert_string_equal(kb_table_column(t, "search")->type, "tsvector");
	assert_int_equal(kb_table_column(t, "period")->category, 'R');
	c = kb_table_column(t, "feeling");
	assert_int_equal(c->category, 'E');
	assert_string_equal(c->default_expr, "'ok'::mood");
	/* An enum's labels, in their order. */
	assert_int_equal(c->nenum, 3);
	assert_string_equal(c->enum_labels[0], "sad");
	assert_string_equal(c->enum_labels[1], "ok");
	assert_string_equal(c->enum_labels[2], "happy");
	assert_int_equal(kb_table_column(t, "meta")->nenum, 0);
	assert_int_equal(kb_table_column(t, "tags")->nenum, 0);
	assert_string_equal(kb_table_column(t, "budget")->type,
	    "numeric(10,2)");
	/* A domain: its own name as type, the base's as base_type. */
	c = kb_table_column(t, "stars");
	assert_string_equal(c->type, "posint");
	assert_string_equal(c->base_type, "int4");
	c = kb_table_column(t, "code");
	assert_true(c->generated);
	assert_null(c->default_expr);
	c = kb_table_column(t, "name");
	assert_false(c->nullable);
	assert_int_equal(c->position, 2);
	assert_string_equal(kb_table_column(table("clients"), "name")->
	    description, "The \"display\" name");
	assert_null(kb_table_column(t, "nope"));
	assert_null(kb_table_column(t, "NAME"));
}

static void
identity_and_defaults(void **state)
{
	const struct kb_column	*c;

	c = kb_table_column(table("clients"), "id");
	assert_int_equal(c->identity, 'd');
	assert_false(c->generated);
	assert_string_equal(c->default_expr,
	    "nextval('public.clients_id_seq'::regclass)");
	c = kb_table_column(table("tasks"), "id");
	assert_int_equal(c->identity, 'a');
	assert_true(c->generated);
	c = kb_table_column(table("projects"), "created_at");
	assert_string_equal(c->default_expr, "now()");
	assert_int_equal(kb_table_column(table("projects"), "name")->identity,
	    0);
}

static void
keys(void **state)
{
	const struct kb_table	*t;
	const struct kb_fkey	*fk;
	size_t			 i;

	t = table("line_items");
	assert_int_equal(t->npk, 2);
	assert_string_equal(t->pk[0]->name, "order_id");
	assert_string_equal(t->pk[1]->name, "line");
	t = table("shipments");
	assert_int_equal(t->nfkeys, 1);
	fk = &t->fkeys[0];
	assert_int_equal(fk->ncols, 2);
	assert_ptr_equal(fk->table, t);
	assert_ptr_equal(fk->ref, table("line_items"));
	assert_string_equal(fk->cols[1]->name, "line");
	assert_string_equal(fk->ref_cols[0]->name, "order_id");

	t = table("projects");
	assert_int_equal(t->npk, 1);
	assert_int_equal(t->nfkeys, 2);
	for (i = 0; i < t->nfkeys; i++)
		assert_ptr_equal(t->fkeys[i].ref, table("clients"));
	/* Self-reference. */
	t = table("tasks");
	assert_int_equal(t->nfkeys, 2);
	assert_string_equal(t->fkeys[0].name, "tasks_parent_id_fkey");
	assert_ptr_equal(t->fkeys[0].ref, t);
	/* Views have no keys of their own. */
	assert_int_equal(table("active_projects")->npk, 0);
	/* One-to-one: the key is the child's primary key or unique. */
	assert_true(table("client_profiles")->fkeys[0].unique);
	assert_true(table("passports")->fkeys[0].unique);
	assert_int_equal(table("passports")->nuniques, 1);
	assert_false(table("projects")->fkeys[0].unique);
	/* Part of a composite key is not unique on its own. */
	assert_false(table("roles")->fkeys[0].unique);
	assert_false(table("shipments")->fkeys[0].unique);
	/* Across exposed schemas. */
	assert_ptr_equal(table("secrets")->fkeys[0].ref, table("clients"));
}

static void
tenant_column(void **state)
{
	assert_true(table("clients")->has_tenant_id);
	assert_true(table("tasks")->has_tenant_id);
	assert_false(table("projects")->has_tenant_id);
}

static void
functions(void **state)
{
	const struct kb_function	*f;

	f = kb_schema_function(sample, NULL, "add");
	assert_non_null(f);
	assert_int_equal(f->nargs, 2);
	assert_string_equal(f->args[0].name, "a");
	assert_false(f->args[0].has_default);
	assert_true(f->args[1].has_default);
	assert_string_equal(f->ret_type, "integer");
	assert_false(f->returns_set);
	assert_int_equal(f->volatility, 'i');

	f = kb_schema_function(sample, "public", "search_projects");
	assert_true(f->returns_set && f->ret_table);
	assert_int_equal(f->volatility, 's');
	f = kb_schema_function(sample, NULL, "pairs");
	assert_int_equal(f->nargs, 3);
	assert_int_equal(f->args[1].mode, 'o');
	assert_true(f->ret_table);
	f = kb_schema_function(sample, NULL, "tabled");
	assert_int_equal(f->args[0].mode, 'v');
	assert_string_equal(f->args[0].type, "integer[]");
	assert_int_equal(f->args[2].mode, 't');
	/* Extension members (pgcrypto) are not exposed. */
	assert_null(kb_schema_function(sample, NULL, "gen_random_uuid"));
	assert_null(kb_schema_function(sample, NULL, "crypt"));
	assert_null(kb_schema_function(sample, NULL, "nope"));
}

/* Bad documents: an error message, never a crash or a leak. */
static void
bad_documents(void **state)
{
	static const char *bad[] = {
		"[]", "{}", "{\"schemas\":[],\"tables\":{}}",
		"{\"schemas\":[1],\"tables\":[]}",
		"{\"schemas\":[],\"tables\":[1]}",
		"{\"schemas\":[],\"tables\":[{}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\"}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"\",\"type\":\"int\"}]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"int\"},"
		    "{\"name\":\"a\",\"type\":\"int\"}]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"int\"}],"
		    "\"pk\":[\"b\"]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"int\","
		    "\"nullable\":\"yes\"}]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"int\","
		    "\"category\":\"NN\"}]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[]},{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[]}]}",
		"{\"schemas\":[\"s\"],\"tables\":[{\"schema\":\"s\",\"name\":"
		    "\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int\"}],"
		    "\"fkeys\":[{\"name\":\"f\",\"columns\":[\"a\"],"
		    "\"ref_schema\":\"s\",\"ref_table\":\"t\","
		    "\"ref_columns\":[\"zz\"]}]}]}",
		"{\"schemas\":[\"s\"],\"tables\":[{\"schema\":\"s\",\"name\":"
		    "\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int\"}],"
		    "\"fkeys\":[{\"name\":\"f\",\"columns\":[\"a\"],"
		    "\"ref_schema\":\"s\",\"ref_table\":\"t\","
		    "\"ref_columns\":[]}]}]}",
		"{\"schemas\":[],\"tables\":[],\"functions\":[{\"schema\":\"s\","
		    "\"name\":\"f\",\"ret_type\":\"int\",\"args\":[{}]}]}",
		"{\"schemas\":[],\"tables\":[],\"functions\":{}}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"e\","
		    "\"enum\":\"x\"}]}]}",
		"{\"schemas\":[],\"tables\":[{\"schema\":\"s\",\"name\":\"t\","
		    "\"columns\":[{\"name\":\"a\",\"type\":\"e\","
		    "\"enum\":[\"x\",1]}]}]}",
	};
	struct kb_catalog	*s;
	json_t			*doc;
	char			 err[128];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = json_loads(bad[i], 0, NULL);
		assert_non_null(doc);
		s = kb_schema_from_json(doc, err, sizeof(err));
		json_decref(doc);
		if (s != NULL)
			fail_msg("accepted %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_null(kb_schema_from_json(NULL, err, sizeof(err)));
	assert_null(kb_schema_from_json(NULL, NULL, 0));
}

/* A foreign key to a table that is not exposed is dropped, not an error. */
static void
unexposed_reference(void **state)
{
	struct kb_catalog	*s;
	json_t			*doc;
	char			 err[128];

	doc = json_loads("{\"schemas\":[\"s\"],\"tables\":[{\"schema\":\"s\","
	    "\"name\":\"t\",\"columns\":[{\"name\":\"a\",\"type\":\"int\"}],"
	    "\"fkeys\":[{\"name\":\"f\",\"columns\":[\"a\"],\"ref_schema\":"
	    "\"hidden\",\"ref_table\":\"u\",\"ref_columns\":[\"id\"]}]}]}",
	    0, NULL);
	s = kb_schema_from_json(doc, err, sizeof(err));
	json_decref(doc);
	assert_non_null(s);
	assert_int_equal(kb_schema_table(s, "s", "t")->nfkeys, 0);
	kb_schema_free(s);
	kb_schema_free(NULL);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(tables_and_views),
		cmocka_unit_test(columns),
		cmocka_unit_test(identity_and_defaults),
		cmocka_unit_test(keys),
		cmocka_unit_test(tenant_column),
		cmocka_unit_test(functions),
		cmocka_unit_test(bad_documents),
		cmocka_unit_test(unexposed_reference),
	};

	if (argc > 1 && strcmp(argv[1], "--print-sql") == 0) {
		fputs(KB_SCHEMA_CATALOG_SQL, stdout);
		return (0);
	}
	return (cmocka_run_group_tests_name("tables/schema", tests, setup,
	    teardown));
}
