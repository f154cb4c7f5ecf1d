/*
 * Unit tests of runtime and codegen functions that the data-driven cases
 * do not reach directly: method names, the error list, formats, the
 * validation depth guard, C identifiers and C string literals.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kbc.h"

struct kb_ctx {
	int	unused;
};

void *
kb_ctx_alloc(struct kb_ctx *ctx, size_t len)
{
	(void)ctx;
	return (calloc(1, len));
}

static void
test_method_index(void **state)
{
	(void)state;
	assert_int_equal(kb_method_index("GET", 3), KB_M_GET);
	assert_int_equal(kb_method_index("PATCH", 5), KB_M_PATCH);
	assert_int_equal(kb_method_index("TRACE", 5), KB_M_TRACE);
	assert_int_equal(kb_method_index("get", 3), -1);
	assert_int_equal(kb_method_index("GETX", 3), KB_M_GET);
	assert_int_equal(kb_method_index("GE", 2), -1);
	assert_int_equal(kb_method_index("CONNECT", 7), -1);
}

static void
test_errors_list(void **state)
{
	struct kb_errors	errs;
	json_t			*j;
	char			*s;
	int			i;

	(void)state;
	kb_errors_init(&errs);
	for (i = 0; i < 20; i++)
		kb_errors_add(&errs, "/body/x", "must be >= %d", i);
	assert_int_equal(errs.count, 20);
	assert_string_equal(errs.items[19].message, "must be >= 19");
	j = kb_errors_json(&errs);
	s = json_dumps(json_array_get(j, 0), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"message\":\"must be >= 0\","
	    "\"path\":\"/body/x\"}");
	free(s);
	json_decref(j);
	kb_errors_clear(&errs);
	assert_int_equal(errs.count, 0);
	kb_errors_add(&errs, "", "%s", "reusable after clear");
	assert_int_equal(errs.count, 1);
	kb_errors_clear(&errs);
}

static void
test_formats(void **state)
{
	(void)state;
	assert_true(kb_format_check(KB_F_DATE_TIME, "1985-04-12T23:20:50.52Z",
	    23));
	assert_true(kb_format_check(KB_F_DATE_TIME,
	    "1996-12-19T16:39:57-08:00", 25));
	assert_false(kb_format_check(KB_F_DATE_TIME,
	    "1996-12-19T16:39:57-08", 22));
	assert_false(kb_format_check(KB_F_DATE_TIME, "1996-13-19T16:39:57Z",
	    20));
	assert_false(kb_format_check(KB_F_DATE, "1900-02-29", 10));
	assert_true(kb_format_check(KB_F_DATE, "2000-02-29", 10));
	assert_false(kb_format_check(KB_F_TIME, "12:00:00.Z", 10));
	assert_false(kb_format_check(KB_F_EMAIL, "a@-b.com", 8));
	assert_false(kb_format_check(KB_F_EMAIL, "a@b", 3));
	assert_false(kb_format_check(KB_F_EMAIL, ".a@b.com", 8));
	assert_true(kb_format_check(KB_F_EMAIL, "o'neil@x-y.org", 14));
	assert_false(kb_format_check(KB_F_URI, "1http://x", 9));
	assert_false(kb_format_check(KB_F_URI, "http://x/%zz", 12));
	assert_true(kb_format_check(KB_F_URI, "mailto:a@b.c", 12));
	assert_true(kb_format_check(KB_F_IPV6, "2001:db8::1", 11));
	assert_false(kb_format_check(KB_F_IPV4, "1.2.3", 5));
	assert_false(kb_format_check(KB_F_BYTE, "a===", 4));
	assert_true(kb_format_check(KB_F_BYTE, "ab+/", 4));
	/* An embedded NUL never passes. */
	assert_false(kb_format_check(KB_F_UUID,
	    "123e4567-e89b-12d3-a456-42661417400\0", 36));
	assert_true(kb_format_check(KB_F_OTHER, "whatever", 8));
}

/* A self-recursive schema against a very deep value stops, reporting. */
static void
test_depth_guard(void **state)
{
	struct kb_schema_cache	cache;
	struct kb_schema_prop	prop;
	struct kb_schema	s;
	struct kb_errors	errs;
	json_t			*v, *inner;
	int			i;

	(void)state;
	memset(&cache, 0, sizeof(cache));
	memset(&s, 0, sizeof(s));
	s.min_length = s.max_length = s.min_items = s.max_items = -1;
	s.min_props = s.max_props = -1;
	s.types = KB_T_OBJECT;
	prop.name = "a";
	prop.schema = &s;
	s.props = &prop;
	s.nprops = 1;
	s.cache = &cache;

	v = json_object();
	inner = v;
	for (i = 0; i < 1000; i++) {
		json_t *n = json_object();

		json_object_set_new(inner, "a", n);
		inner = n;
	}
	kb_errors_init(&errs);
	assert_int_equal(kb_validate(&s, v, "/body", &errs), 1);
	assert_string_equal(errs.items[0].message, "is nested too deeply");
	kb_errors_clear(&errs);
	json_decref(v);
}

static void
test_cident(void **state)
{
	struct kbc	*kbc;
	json_t		*set;

	(void)state;
	kbc = kbc_new();
	assert_string_equal(kbc_cident(kbc, "get-user"), "get_user");
	assert_string_equal(kbc_cident(kbc, "repos/list-for-org"),
	    "repos_list_for_org");
	assert_string_equal(kbc_cident(kbc, "com.example.Pet"),
	    "com_example_Pet");
	assert_string_equal(kbc_cident(kbc, "2fa"), "_2fa");
	assert_string_equal(kbc_cident(kbc, "int"), "int_");
	assert_string_equal(kbc_cident(kbc, ""), "_");
	assert_string_equal(kbc_cident(kbc, "héllo"), "h_llo");
	set = json_object();
	assert_string_equal(kbc_unique(kbc, set, "a"), "a");
	assert_string_equal(kbc_unique(kbc, set, "a"), "a_2");
	assert_string_equal(kbc_unique(kbc, set, "a"), "a_3");
	json_decref(set);
	kbc_free(kbc);
}

static void
test_cstring(void **state)
{
	struct kbc_buf	b;

	(void)state;
	kbc_buf_init(&b);
	kbc_buf_cstring(&b, "a\"b\\c?" "?=\n\xc3\xa9" "1");
	assert_string_equal(b.data,
	    "\"a\\\"b\\\\c\\?\\?=\\012\\303\\2511\"");
	kbc_buf_free(&b);
}

/* The loader keeps key positions and types plain scalars by YAML 1.2. */
static void
test_loader_scalars(void **state)
{
	struct kbc	*kbc;
	json_t		*r;
	const char	*text = "a: 1\nb: 1.5\nc: 'x'\nd: ~\ne: true\n"
			    "f: 0x1f\ng: 99999999999999999999\nh: \"2\"\n"
			    "i: yes\n";

	(void)state;
	kbc = kbc_new();
	kbc->quiet = 1;
	assert_int_equal(kbc_load_string(kbc, "t.yaml", text, strlen(text)),
	    0);
	r = kbc->files[0].root;
	assert_true(json_is_integer(json_object_get(r, "a")));
	assert_true(json_is_real(json_object_get(r, "b")));
	assert_true(json_is_string(json_object_get(r, "c")));
	assert_true(json_is_null(json_object_get(r, "d")));
	assert_true(json_is_true(json_object_get(r, "e")));
	assert_int_equal(json_integer_value(json_object_get(r, "f")), 31);
	assert_true(json_is_real(json_object_get(r, "g")));
	assert_true(json_is_string(json_object_get(r, "h")));
	assert_string_equal(json_string_value(json_object_get(r, "i")), "yes");
	assert_string_equal(kbc_where(kbc, json_object_get(r, "c"), NULL),
	    "t.yaml:3:1");
	kbc_free(kbc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_index),
		cmocka_unit_test(test_errors_list),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_depth_guard),
		cmocka_unit_test(test_cident),
		cmocka_unit_test(test_cstring),
		cmocka_unit_test(test_loader_scalars),
	};

	return (cmocka_run_group_tests_name("runtime", tests, NULL, NULL));
}
