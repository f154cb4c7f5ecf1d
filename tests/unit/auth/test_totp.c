/*
 * korebase auth tests: HOTP/TOTP, against RFC 4226 Appendix D and
 * RFC 6238 Appendix B, plus the verify window, replay and URI builder.
 */

#include "kb_auth_test.h"

#define SEED20	"12345678901234567890"
#define SEED32	"12345678901234567890123456789012"
#define SEED64	"1234567890123456789012345678901234567890" \
		"123456789012345678901234"

/* RFC 6238 Appendix B. */
static const struct {
	time_t		t;
	const char	*sha1, *sha256, *sha512;
} rfc6238[] = {
	{ 59LL,		 "94287082", "46119246", "90693936" },
	{ 1111111109LL,	 "07081804", "68084774", "25091201" },
	{ 1111111111LL,	 "14050471", "67062674", "99943326" },
	{ 1234567890LL,	 "89005924", "91819424", "93441116" },
	{ 2000000000LL,	 "69279037", "90698825", "38618901" },
	{ 20000000000LL, "65353130", "77737706", "47863826" },
};

static void
hotp_matches_rfc4226_vectors(void **state)
{
	static const uint32_t	want[] = { 755224, 287082, 359152, 969429,
				    338314, 254676, 287922, 162583, 399871,
				    520489 };
	uint32_t		code;
	uint64_t		c;

	for (c = 0; c < 10; c++) {
		assert_int_equal(kb_hotp((const uint8_t *)SEED20, 20, c,
		    KB_TOTP_SHA1, 6, &code), KB_TOTP_OK);
		assert_int_equal(code, want[c]);
	}
}

static void
hotp_refuses_bad_arguments(void **state)
{
	uint32_t	code;

	assert_int_equal(kb_hotp(NULL, 20, 0, KB_TOTP_SHA1, 6, &code),
	    KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_hotp((const uint8_t *)SEED20, 0, 0, KB_TOTP_SHA1,
	    6, &code), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_hotp((const uint8_t *)SEED20, 20, 0, KB_TOTP_SHA1,
	    5, &code), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_hotp((const uint8_t *)SEED20, 20, 0, KB_TOTP_SHA1,
	    9, &code), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_hotp((const uint8_t *)SEED20, 20, 0,
	    (enum kb_totp_alg)7, 6, &code), KB_TOTP_ERR_ARGS);
}

static void
totp_matches_rfc6238_sha1_vectors(void **state)
{
	struct kb_totp_params	p = { KB_TOTP_SHA1, 8, 30, 1 };
	char			out[9];
	size_t			i;

	for (i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, &p,
		    rfc6238[i].t, out, sizeof(out)), KB_TOTP_OK);
		assert_string_equal(out, rfc6238[i].sha1);
	}
}

static void
totp_matches_rfc6238_sha256_vectors(void **state)
{
	struct kb_totp_params	p = { KB_TOTP_SHA256, 8, 30, 1 };
	char			out[9];
	size_t			i;

	for (i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		assert_int_equal(kb_totp_code((const uint8_t *)SEED32, 32, &p,
		    rfc6238[i].t, out, sizeof(out)), KB_TOTP_OK);
		assert_string_equal(out, rfc6238[i].sha256);
	}
}

static void
totp_matches_rfc6238_sha512_vectors(void **state)
{
	struct kb_totp_params	p = { KB_TOTP_SHA512, 8, 30, 1 };
	char			out[9];
	size_t			i;

	for (i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		assert_int_equal(kb_totp_code((const uint8_t *)SEED64, 64, &p,
		    rfc6238[i].t, out, sizeof(out)), KB_TOTP_OK);
		assert_string_equal(out, rfc6238[i].sha512);
	}
}

static void
rfc6238_vectors_verify_with_8_digits(void **state)
{
	struct kb_totp_params	p = { KB_TOTP_SHA1, 8, 30, 1 };
	int64_t			step;
	size_t			i;

	for (i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20,
		    &p, rfc6238[i].sha1, rfc6238[i].t, -1, &step), KB_TOTP_OK);
		assert_int_equal(step, rfc6238[i].t / 30);
	}
}

static void
default_code_is_six_digits_with_leading_zeros(void **state)
{
	char	out[7];

	/* The 8-digit SHA1 value at 1111111109 is 07081804. */
	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    1111111109, out, sizeof(out)), KB_TOTP_OK);
	assert_string_equal(out, "081804");
	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    1111111109, out, 6), KB_TOTP_ERR_ARGS);
}

static void
step_is_time_over_period(void **state)
{
	assert_int_equal(kb_totp_step(0, 30), 0);
	assert_int_equal(kb_totp_step(59, 30), 1);
	assert_int_equal(kb_totp_step(60, 30), 2);
	assert_int_equal(kb_totp_step(-1, 30), -1);
	assert_int_equal(kb_totp_step(60, 0), -1);
}

static void
verify_accepts_current_previous_and_next_step(void **state)
{
	const struct kb_totp_params	defaults = KB_TOTP_PARAMS_DEFAULT;
	const time_t			now = 1111111111; /* step 37037037 */
	char				code[7];
	int64_t				step;
	int				d;

	for (d = -1; d <= 1; d++) {
		assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
		    now + d * 30, code, sizeof(code)), KB_TOTP_OK);
		step = -7;
		assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20,
		    &defaults, code, now, -1, &step), KB_TOTP_OK);
		assert_int_equal(step, 37037037 + d);
	}
}

static void
verify_refuses_codes_two_steps_away(void **state)
{
	const time_t	now = 1111111111;
	char		code[7];
	int64_t		step;

	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    now - 60, code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now, -1, &step), KB_TOTP_ERR_MISMATCH);
	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    now + 60, code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now, -1, &step), KB_TOTP_ERR_MISMATCH);
}

static void
verify_refuses_a_wrong_code(void **state)
{
	char	code[7];
	int64_t	step;

	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    1111111111, code, sizeof(code)), KB_TOTP_OK);
	code[5] = code[5] == '9' ? '0' : code[5] + 1;
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, 1111111111, -1, &step), KB_TOTP_ERR_MISMATCH);
	assert_int_equal(kb_totp_verify((const uint8_t *)"another key", 11,
	    NULL, "050471", 1111111111, -1, &step), KB_TOTP_ERR_MISMATCH);
}

static void
verify_refuses_replay_of_the_same_step(void **state)
{
	const time_t	now = 1111111111;
	char		code[7];
	int64_t		step, again;

	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL, now,
	    code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now, -1, &step), KB_TOTP_OK);
	/* The caller stored `step`; the same code, 10 s later, is refused. */
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now + 10, step, &again), KB_TOTP_ERR_REPLAY);
	/* So is an older code still inside the window. */
	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    now - 30, code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now, step, &again), KB_TOTP_ERR_REPLAY);
	/* The next step's code is fine. */
	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL,
	    now + 30, code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, now + 30, step, &again), KB_TOTP_OK);
	assert_int_equal(again, step + 1);
}

static void
verify_refuses_malformed_codes(void **state)
{
	static const char	*bad[] = {
		"", "12345", "1234567", "12345a", " 12345", "123 45",
		"12345\n", "-12345", "１２３４５６",
	};
	int64_t			step;
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_totp_verify((const uint8_t *)SEED20, 20, NULL, bad[i],
		    1111111111, -1, &step) != KB_TOTP_ERR_FORMAT)
			fail_msg("case %zu: \"%s\"", i, bad[i]);
	}
}

static void
verify_refuses_bad_arguments(void **state)
{
	const struct kb_totp_params	bad[] = {
		{ KB_TOTP_SHA1, 5, 30, 1 },
		{ KB_TOTP_SHA1, 9, 30, 1 },
		{ KB_TOTP_SHA1, 6, 0, 1 },
		{ KB_TOTP_SHA1, 6, 301, 1 },
		{ KB_TOTP_SHA1, 6, 30, -1 },
		{ KB_TOTP_SHA1, 6, 30, 11 },
		{ (enum kb_totp_alg)9, 6, 30, 1 },
	};
	int64_t				step;
	size_t				i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_totp_verify((const uint8_t *)SEED20, 20, &bad[i],
		    "123456", 1111111111, -1, &step) != KB_TOTP_ERR_ARGS)
			fail_msg("case %zu", i);
	}
	assert_int_equal(kb_totp_verify(NULL, 0, NULL, "123456", 1111111111,
	    -1, &step), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    NULL, 1111111111, -1, &step), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    "123456", 1111111111, -1, NULL), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    "123456", -5, -1, &step), KB_TOTP_ERR_ARGS);
}

static void
verify_near_the_epoch_skips_negative_steps(void **state)
{
	char	code[7];
	int64_t	step;

	assert_int_equal(kb_totp_code((const uint8_t *)SEED20, 20, NULL, 0,
	    code, sizeof(code)), KB_TOTP_OK);
	assert_int_equal(kb_totp_verify((const uint8_t *)SEED20, 20, NULL,
	    code, 10, -1, &step), KB_TOTP_OK);
	assert_int_equal(step, 0);
}

static void
new_secret_is_20_random_bytes_in_base32(void **state)
{
	char	a[KB_TOTP_SECRET_B32LEN], b[KB_TOTP_SECRET_B32LEN];
	uint8_t	raw[32];

	assert_int_equal(kb_totp_secret_new(a, sizeof(a)), KB_TOTP_OK);
	assert_int_equal(kb_totp_secret_new(b, sizeof(b)), KB_TOTP_OK);
	assert_int_equal(strlen(a), 32);
	assert_string_not_equal(a, b);
	assert_int_equal(kb_base32_decode(a, strlen(a), raw, sizeof(raw)), 20);
	assert_int_equal(kb_totp_secret_new(a, sizeof(a) - 1),
	    KB_TOTP_ERR_ARGS);
}

static void
uri_has_every_parameter(void **state)
{
	char	uri[256];

	assert_int_equal(kb_totp_uri("korebase", "alice@example.com",
	    "JBSWY3DPEHPK3PXP", NULL, uri, sizeof(uri)), KB_TOTP_OK);
	assert_string_equal(uri, "otpauth://totp/korebase:alice%40example.com"
	    "?secret=JBSWY3DPEHPK3PXP&issuer=korebase&algorithm=SHA1"
	    "&digits=6&period=30");
}

static void
uri_percent_encodes_issuer_and_account(void **state)
{
	char	uri[512];

	assert_int_equal(kb_totp_uri("Acme Co & Sons", "b\xc3\xa9" "a+x/y?z#",
	    "jbswy3dpehpk3pxp", NULL, uri, sizeof(uri)), KB_TOTP_OK);
	assert_string_equal(uri, "otpauth://totp/Acme%20Co%20%26%20Sons:"
	    "b%C3%A9a%2Bx%2Fy%3Fz%23?secret=JBSWY3DPEHPK3PXP"
	    "&issuer=Acme%20Co%20%26%20Sons&algorithm=SHA1&digits=6"
	    "&period=30");
}

static void
uri_names_other_parameters(void **state)
{
	struct kb_totp_params	p = { KB_TOTP_SHA256, 8, 60, 1 };
	char			uri[256];

	assert_int_equal(kb_totp_uri("kb", "a-b_c.d~e", "JBSWY3DPEHPK3PXP", &p,
	    uri, sizeof(uri)), KB_TOTP_OK);
	assert_string_equal(uri, "otpauth://totp/kb:a-b_c.d~e"
	    "?secret=JBSWY3DPEHPK3PXP&issuer=kb&algorithm=SHA256"
	    "&digits=8&period=60");
}

static void
uri_refuses_bad_labels_and_secrets(void **state)
{
	char	uri[256];

	assert_int_equal(kb_totp_uri("a:b", "alice", "JBSWY3DPEHPK3PXP", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("kb", "al:ice", "JBSWY3DPEHPK3PXP", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("", "alice", "JBSWY3DPEHPK3PXP", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("kb", "", "JBSWY3DPEHPK3PXP", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("kb", "alice", "JBSWY3DPEHPK3PX1", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("kb", "alice", "", NULL, uri,
	    sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri("kb", "alice", "JBSWY3DPEHPK3PXP=", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
	assert_int_equal(kb_totp_uri(NULL, "alice", "JBSWY3DPEHPK3PXP", NULL,
	    uri, sizeof(uri)), KB_TOTP_ERR_ARGS);
}

static void
uri_never_overflows_a_small_buffer(void **state)
{
	char	full[512], *small;
	size_t	need, n;

	assert_int_equal(kb_totp_uri("Acme Co", "alice@example.com",
	    "JBSWY3DPEHPK3PXP", NULL, full, sizeof(full)), KB_TOTP_OK);
	need = strlen(full) + 1;

	/* Exact-size heap buffers: ASan catches any write past the end. */
	for (n = 1; n < need; n++) {
		small = malloc(n);
		assert_int_equal(kb_totp_uri("Acme Co", "alice@example.com",
		    "JBSWY3DPEHPK3PXP", NULL, small, n), KB_TOTP_ERR_ARGS);
		free(small);
	}
	small = malloc(need);
	assert_int_equal(kb_totp_uri("Acme Co", "alice@example.com",
	    "JBSWY3DPEHPK3PXP", NULL, small, need), KB_TOTP_OK);
	assert_string_equal(small, full);
	free(small);
}

static void
strerror_names_every_code(void **state)
{
	int	c;

	for (c = KB_TOTP_OK; c <= KB_TOTP_ERR_INTERNAL; c++)
		assert_string_not_equal(kb_totp_strerror(c), "unknown error");
	assert_string_equal(kb_totp_strerror(-1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(hotp_matches_rfc4226_vectors),
		cmocka_unit_test(hotp_refuses_bad_arguments),
		cmocka_unit_test(totp_matches_rfc6238_sha1_vectors),
		cmocka_unit_test(totp_matches_rfc6238_sha256_vectors),
		cmocka_unit_test(totp_matches_rfc6238_sha512_vectors),
		cmocka_unit_test(rfc6238_vectors_verify_with_8_digits),
		cmocka_unit_test(default_code_is_six_digits_with_leading_zeros),
		cmocka_unit_test(step_is_time_over_period),
		cmocka_unit_test(verify_accepts_current_previous_and_next_step),
		cmocka_unit_test(verify_refuses_codes_two_steps_away),
		cmocka_unit_test(verify_refuses_a_wrong_code),
		cmocka_unit_test(verify_refuses_replay_of_the_same_step),
		cmocka_unit_test(verify_refuses_malformed_codes),
		cmocka_unit_test(verify_refuses_bad_arguments),
		cmocka_unit_test(verify_near_the_epoch_skips_negative_steps),
		cmocka_unit_test(new_secret_is_20_random_bytes_in_base32),
		cmocka_unit_test(uri_has_every_parameter),
		cmocka_unit_test(uri_percent_encodes_issuer_and_account),
		cmocka_unit_test(uri_names_other_parameters),
		cmocka_unit_test(uri_refuses_bad_labels_and_secrets),
		cmocka_unit_test(uri_never_overflows_a_small_buffer),
		cmocka_unit_test(strerror_names_every_code),
	};

	return (cmocka_run_group_tests_name("auth/totp", tests, NULL, NULL));
}
