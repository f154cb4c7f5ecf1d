/*
 * korebase auth tests: key scopes.
 */

#include "kb_auth_test.h"

static void
valid_scopes(void **state)
{
	assert_true(kb_scope_valid("*"));
	assert_true(kb_scope_valid("tables:read"));
	assert_true(kb_scope_valid("storage:*"));
	assert_true(kb_scope_valid("user_settings:write_all"));
	assert_true(kb_scope_valid("abcdefghijklmnopqrstuvwxyzabcdef:x"));
}

static void
invalid_scopes(void **state)
{
	static const char *bad[] = { "", ":", "tables", "tables:", ":read",
	    "Tables:read", "tables:read:more", "tables:re ad", "*:read",
	    "tables:**", "tables*", "t-ables:read", "tables:read\n",
	    "abcdefghijklmnopqrstuvwxyzabcdefg:x", "**" };
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_scope_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_false(kb_scope_valid(NULL));
}

static void
coverage(void **state)
{
	assert_true(kb_scope_covers("*", "tables:read"));
	assert_true(kb_scope_covers("tables:read", "tables:read"));
	assert_true(kb_scope_covers("tables:*", "tables:write"));
	assert_false(kb_scope_covers("tables:read", "tables:write"));
	assert_false(kb_scope_covers("tables:*", "tablesx:read"));
	assert_false(kb_scope_covers("table:*", "tables:read"));
	assert_false(kb_scope_covers("tables:read", "*"));
	assert_false(kb_scope_covers("tables:*", "*"));
	assert_false(kb_scope_covers("bogus", "bogus"));
	assert_false(kb_scope_covers(NULL, "tables:read"));
	assert_false(kb_scope_covers("*", NULL));
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(valid_scopes),
		cmocka_unit_test(invalid_scopes),
		cmocka_unit_test(coverage),
	};

	return (cmocka_run_group_tests_name("auth/scope", tests, NULL, NULL));
}
