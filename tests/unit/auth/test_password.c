/*
 * korebase auth tests: argon2id password hashing.
 *
 * Most tests use the cheapest accepted parameters to stay fast; one uses
 * the defaults and prints how long a hash takes on this machine.
 */

#include <time.h>

#include "kb_auth_test.h"

static const struct kb_password_params	cheap = { KB_PASSWORD_M_MIN, 1, 1 };

static double
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return ((double)(b->tv_sec - a->tv_sec) * 1e3 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6);
}

static void
default_hash_is_argon2id_phc_and_verifies(void **state)
{
	struct timespec	t0, t1;
	char		enc[KB_PASSWORD_ENCODED_MAX];
	double		best, ms;
	int		i;

	best = 1e9;
	for (i = 0; i < 5; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(kb_password_hash("correct horse", 13, NULL,
		    enc, sizeof(enc)), KB_PASSWORD_OK);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = elapsed_ms(&t0, &t1);
		if (ms < best)
			best = ms;
	}
	print_message("argon2id m=19456 t=2 p=1: %.1f ms per hash "
	    "(best of 5, ASan build)\n", best);

	assert_true(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	/* 16 byte salt and 32 byte digest: 22 and 43 base64 characters. */
	assert_int_equal(strlen(enc), 31 + 22 + 1 + 43);
	assert_int_equal(kb_password_verify("correct horse", 13, enc),
	    KB_PASSWORD_OK);
	assert_int_equal(kb_password_needs_rehash(enc, NULL), 0);
}

/* Only weaker parameters are "below"; stronger ones are kept. */
static void
below_means_weaker(void **state)
{
	static const struct kb_password_params	strong = { 8192 * 2, 2, 1 };
	static const struct kb_password_params	wide = { 8192, 1, 2 };
	char	enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_below(enc, NULL), 1);
	assert_int_equal(kb_password_below(enc, &cheap), 0);
	assert_int_equal(kb_password_below(enc, &strong), 1);

	assert_int_equal(kb_password_hash("password1", 9, &strong, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_below(enc, &cheap), 0);
	assert_int_equal(kb_password_needs_rehash(enc, &cheap), 1);
	assert_int_equal(kb_password_below(enc, &strong), 0);

	/* More lanes at the same memory and passes: not weaker. */
	assert_int_equal(kb_password_hash("password1", 9, &wide, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_below(enc, &cheap), 0);

	assert_int_equal(kb_password_below("not a hash", NULL), 1);
	assert_int_equal(kb_password_below(NULL, NULL), 1);
}

static void
wrong_password_is_mismatch(void **state)
{
	char	enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify("password2", 9, enc),
	    KB_PASSWORD_ERR_MISMATCH);
	assert_int_equal(kb_password_verify("password", 8, enc),
	    KB_PASSWORD_ERR_MISMATCH);
	assert_int_equal(kb_password_verify("password1", 9, enc),
	    KB_PASSWORD_OK);
}

static void
same_password_gets_a_new_salt_each_time(void **state)
{
	char	a[KB_PASSWORD_ENCODED_MAX], b[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("password1", 9, &cheap, a,
	    sizeof(a)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_hash("password1", 9, &cheap, b,
	    sizeof(b)), KB_PASSWORD_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(kb_password_verify("password1", 9, b),
	    KB_PASSWORD_OK);
}

static void
password_bytes_after_a_nul_count(void **state)
{
	char	enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("abc\0defgh", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify("abc\0defgX", 9, enc),
	    KB_PASSWORD_ERR_MISMATCH);
	assert_int_equal(kb_password_verify("abc\0defgh", 9, enc),
	    KB_PASSWORD_OK);
}

static void
seven_bytes_is_too_short_eight_is_fine(void **state)
{
	char	enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("1234567", 7, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_ERR_TOO_SHORT);
	assert_int_equal(kb_password_hash("", 0, &cheap, enc, sizeof(enc)),
	    KB_PASSWORD_ERR_TOO_SHORT);
	assert_int_equal(kb_password_hash("12345678", 8, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
}

static void
over_1024_bytes_is_too_long_1024_is_fine(void **state)
{
	char	pw[1025], enc[KB_PASSWORD_ENCODED_MAX];

	memset(pw, 'x', sizeof(pw));
	assert_int_equal(kb_password_hash(pw, 1025, &cheap, enc, sizeof(enc)),
	    KB_PASSWORD_ERR_TOO_LONG);
	assert_int_equal(kb_password_hash(pw, 1024, &cheap, enc, sizeof(enc)),
	    KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify(pw, 1024, enc), KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify(pw, 1025, enc),
	    KB_PASSWORD_ERR_TOO_LONG);
}

static void
verify_refuses_empty_password_but_not_short_ones(void **state)
{
	char	enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify("", 0, enc),
	    KB_PASSWORD_ERR_TOO_SHORT);
	/* A minimum raised later must not lock out existing users. */
	assert_int_equal(kb_password_verify("pass", 4, enc),
	    KB_PASSWORD_ERR_MISMATCH);
}

static void
parameters_out_of_range_are_refused(void **state)
{
	const struct kb_password_params	bad[] = {
		{ KB_PASSWORD_M_MIN - 1, 1, 1 },
		{ KB_PASSWORD_M_MAX + 1, 1, 1 },
		{ KB_PASSWORD_M_MIN, 0, 1 },
		{ KB_PASSWORD_M_MIN, KB_PASSWORD_T_MAX + 1, 1 },
		{ KB_PASSWORD_M_MIN, 1, 0 },
		{ KB_PASSWORD_M_MIN, 1, KB_PASSWORD_P_MAX + 1 },
	};
	char				enc[KB_PASSWORD_ENCODED_MAX];
	size_t				i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kb_password_hash("password1", 9, &bad[i], enc,
		    sizeof(enc)), KB_PASSWORD_ERR_PARAMS);
}

static void
small_output_buffer_is_refused(void **state)
{
	char	enc[KB_PASSWORD_ENCODED_MAX];
	size_t	need;

	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	need = strlen(enc) + 1;
	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    need - 1), KB_PASSWORD_ERR_BUFFER);
	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc, need),
	    KB_PASSWORD_OK);
}

/* Known answer from the argon2 reference implementation's test suite. */
static void
verifies_reference_known_answer(void **state)
{
	const char	*enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$"
			    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

	assert_int_equal(kb_password_verify("password", 8, enc),
	    KB_PASSWORD_OK);
	assert_int_equal(kb_password_verify("Password", 8, enc),
	    KB_PASSWORD_ERR_MISMATCH);
	/* 8-byte salt, other parameters: valid but due for a rehash. */
	assert_int_equal(kb_password_needs_rehash(enc, NULL), 1);
}

static void
malformed_hashes_are_format_errors(void **state)
{
	static const char	*bad[] = {
		"",
		"password",
		"$argon2i$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2d$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=16$m=8192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$m=8192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=08192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$t=1,m=8192,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ",
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$",
		"$argon2id$v=19$m=8192,t=1,p=1$$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ=$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPP!",
		/* 7-byte salt, 12-byte digest: below argon2's minimums. */
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbA$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMa",
		/* Parameters a row must never make us pay for. */
		"$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1000,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=8192,t=1,p=255$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=99999999999,t=1,p=1$c29tZXNhbHQ$"
		    "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
	};
	size_t			i;

	assert_int_equal(kb_password_verify("password", 8, NULL),
	    KB_PASSWORD_ERR_FORMAT);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_password_verify("password", 8, bad[i]) !=
		    KB_PASSWORD_ERR_FORMAT)
			fail_msg("case %zu: %s", i, bad[i]);
		assert_int_equal(kb_password_needs_rehash(bad[i], NULL), 1);
	}
}

static void
needs_rehash_when_any_parameter_changes(void **state)
{
	const struct kb_password_params	more_m = { 2 * KB_PASSWORD_M_MIN, 1,
					    1 };
	const struct kb_password_params	more_t = { KB_PASSWORD_M_MIN, 2, 1 };
	const struct kb_password_params	more_p = { KB_PASSWORD_M_MIN, 1, 2 };
	char				enc[KB_PASSWORD_ENCODED_MAX];

	assert_int_equal(kb_password_hash("password1", 9, &cheap, enc,
	    sizeof(enc)), KB_PASSWORD_OK);
	assert_int_equal(kb_password_needs_rehash(enc, &cheap), 0);
	assert_int_equal(kb_password_needs_rehash(enc, &more_m), 1);
	assert_int_equal(kb_password_needs_rehash(enc, &more_t), 1);
	assert_int_equal(kb_password_needs_rehash(enc, &more_p), 1);
	assert_int_equal(kb_password_needs_rehash(enc, NULL), 1);
	assert_int_equal(kb_password_needs_rehash(NULL, NULL), 1);
}

static void
strerror_names_every_code(void **state)
{
	int	c;

	for (c = KB_PASSWORD_OK; c <= KB_PASSWORD_ERR_INTERNAL; c++)
		assert_string_not_equal(kb_password_strerror(c),
		    "unknown error");
	assert_string_equal(kb_password_strerror(-1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(default_hash_is_argon2id_phc_and_verifies),
		cmocka_unit_test(wrong_password_is_mismatch),
		cmocka_unit_test(below_means_weaker),
		cmocka_unit_test(same_password_gets_a_new_salt_each_time),
		cmocka_unit_test(password_bytes_after_a_nul_count),
		cmocka_unit_test(seven_bytes_is_too_short_eight_is_fine),
		cmocka_unit_test(over_1024_bytes_is_too_long_1024_is_fine),
		cmocka_unit_test(
		    verify_refuses_empty_password_but_not_short_ones),
		cmocka_unit_test(parameters_out_of_range_are_refused),
		cmocka_unit_test(small_output_buffer_is_refused),
		cmocka_unit_test(verifies_reference_known_answer),
		cmocka_unit_test(malformed_hashes_are_format_errors),
		cmocka_unit_test(needs_rehash_when_any_parameter_changes),
		cmocka_unit_test(strerror_names_every_code),
	};

	return (cmocka_run_group_tests_name("auth/password", tests, NULL,
	    NULL));
}
