/*
 * korebase auth tests: opaque tokens, token hashes and recovery codes.
 */

#include "kb_auth_test.h"

#define PEPPER	"pepper-pepper-pepper-pepper-pepp"	/* 32 bytes */

static const char	b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char	crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void
token_is_prefix_and_43_base64url_characters(void **state)
{
	char	tok[KB_TOKEN_LEN(32)];
	uint8_t	raw[32];

	assert_int_equal(kb_token_new("kbsk_", 32, tok, sizeof(tok)),
	    KB_TOKEN_OK);
	assert_int_equal(strlen(tok), 5 + 43);
	assert_true(strncmp(tok, "kbsk_", 5) == 0);
	assert_int_equal(strspn(tok + 5, b64url), 43);
	assert_int_equal(kb_base64_decode(tok + 5, 43, 1, raw, sizeof(raw)),
	    32);
}

static void
two_tokens_differ(void **state)
{
	char	a[KB_TOKEN_LEN(32)], b[KB_TOKEN_LEN(32)];

	assert_int_equal(kb_token_new("kbrt_", 32, a, sizeof(a)), KB_TOKEN_OK);
	assert_int_equal(kb_token_new("kbrt_", 32, b, sizeof(b)), KB_TOKEN_OK);
	assert_string_not_equal(a, b);
}

static void
token_may_be_longer_and_unprefixed(void **state)
{
	char	tok[KB_TOKEN_LEN(64)];

	assert_int_equal(kb_token_new("", 64, tok, sizeof(tok)), KB_TOKEN_OK);
	assert_int_equal(strlen(tok), 86);
}

static void
token_refuses_fewer_than_32_bytes(void **state)
{
	char	tok[KB_TOKEN_LEN(32)];

	assert_int_equal(kb_token_new("kbsk_", 31, tok, sizeof(tok)),
	    KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_token_new("kbsk_", 0, tok, sizeof(tok)),
	    KB_TOKEN_ERR_ARGS);
}

static void
token_refuses_bad_prefixes(void **state)
{
	char	tok[KB_TOKEN_LEN(32) + 16];

	assert_int_equal(kb_token_new("KBSK_", 32, tok, sizeof(tok)),
	    KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_token_new("kb-sk", 32, tok, sizeof(tok)),
	    KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_token_new("kbsk_0123456789ab", 32, tok,
	    sizeof(tok)), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_token_new(NULL, 32, tok, sizeof(tok)),
	    KB_TOKEN_ERR_ARGS);
	/* 16 characters is the longest prefix. */
	assert_int_equal(kb_token_new("kbsk_0123456789a", 32, tok,
	    sizeof(tok)), KB_TOKEN_OK);
}

static void
token_needs_exactly_enough_room(void **state)
{
	char	*tok;

	tok = malloc(5 + 43);
	assert_int_equal(kb_token_new("kbsk_", 32, tok, 5 + 43),
	    KB_TOKEN_ERR_ARGS);
	free(tok);
	tok = malloc(5 + 43 + 1);
	assert_int_equal(kb_token_new("kbsk_", 32, tok, 5 + 43 + 1),
	    KB_TOKEN_OK);
	free(tok);
}

static void
token_hash_is_hex_sha256(void **state)
{
	char	h[KB_TOKEN_HASH_LEN];

	assert_int_equal(kb_token_hash("abc", 3, h, sizeof(h)), KB_TOKEN_OK);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(kb_token_hash("", 0, h, sizeof(h)), KB_TOKEN_OK);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

static void
token_hash_refuses_small_buffer_and_null(void **state)
{
	char	h[KB_TOKEN_HASH_LEN];

	assert_int_equal(kb_token_hash("abc", 3, h, sizeof(h) - 1),
	    KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_token_hash(NULL, 0, h, sizeof(h)),
	    KB_TOKEN_ERR_ARGS);
}

static void
recovery_codes_are_ten_distinct_xxxx_xxxx(void **state)
{
	char	codes[KB_RECOVERY_CODES][KB_RECOVERY_CODE_LEN];
	size_t	i, j;

	assert_int_equal(kb_recovery_codes_new(codes, KB_RECOVERY_CODES),
	    KB_TOKEN_OK);
	for (i = 0; i < KB_RECOVERY_CODES; i++) {
		assert_int_equal(strlen(codes[i]), 9);
		assert_int_equal(codes[i][4], '-');
		assert_int_equal(strspn(codes[i], crockford), 4);
		assert_int_equal(strspn(codes[i] + 5, crockford), 4);
		for (j = 0; j < i; j++)
			assert_string_not_equal(codes[i], codes[j]);
	}
}

static void
recovery_codes_use_the_whole_alphabet(void **state)
{
	char	codes[100][KB_RECOVERY_CODE_LEN];
	int	seen[256];
	size_t	i, j;

	/* 800 draws from 32 symbols: missing one has odds below 1e-9. */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(kb_recovery_codes_new(codes, 100), KB_TOKEN_OK);
	for (i = 0; i < 100; i++)
		for (j = 0; j < 9; j++)
			seen[(unsigned char)codes[i][j]] = 1;
	for (j = 0; j < 32; j++)
		assert_int_equal(seen[(unsigned char)crockford[j]], 1);
	assert_int_equal(seen['i'] + seen['l'] + seen['o'] + seen['u'], 0);
}

static void
recovery_codes_refuse_bad_counts(void **state)
{
	char	codes[1][KB_RECOVERY_CODE_LEN];

	assert_int_equal(kb_recovery_codes_new(codes, 0), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_recovery_codes_new(NULL, 1), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_recovery_codes_new(codes, 101), KB_TOKEN_ERR_ARGS);
}

static void
recovery_hash_is_hmac_sha256_of_the_normal_form(void **state)
{
	char		h[KB_TOKEN_HASH_LEN], want[KB_TOKEN_HASH_LEN];
	unsigned char	mac[32];
	unsigned int	len;

	assert_non_null(HMAC(EVP_sha256(), PEPPER, 32,
	    (const unsigned char *)"01abxyz9", 8, mac, &len));
	kb_hex_encode(mac, len, want, sizeof(want));

	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)PEPPER, 32, h, sizeof(h)), KB_TOKEN_OK);
	assert_string_equal(h, want);
}

static void
recovery_hash_forgives_how_the_user_typed_it(void **state)
{
	static const char	*typed[] = {
		"01ab-xyz9", "01abxyz9", "01AB-XYZ9", " 01ab - xyz9 ",
		"OLab-xyz9", "oIAB xyz9", "0iab-xyz9",
	};
	char			ref[KB_TOKEN_HASH_LEN], h[KB_TOKEN_HASH_LEN];
	size_t			i;

	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)PEPPER, 32, ref, sizeof(ref)), KB_TOKEN_OK);
	for (i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		assert_int_equal(kb_recovery_code_hash(typed[i],
		    (const uint8_t *)PEPPER, 32, h, sizeof(h)), KB_TOKEN_OK);
		if (strcmp(h, ref) != 0)
			fail_msg("case %zu: \"%s\"", i, typed[i]);
	}
}

static void
recovery_hash_differs_by_code_and_pepper(void **state)
{
	char	a[KB_TOKEN_HASH_LEN], b[KB_TOKEN_HASH_LEN];

	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)PEPPER, 32, a, sizeof(a)), KB_TOKEN_OK);
	assert_int_equal(kb_recovery_code_hash("01ab-xyz8",
	    (const uint8_t *)PEPPER, 32, b, sizeof(b)), KB_TOKEN_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)"another-pepper-another-pepper-an", 32, b,
	    sizeof(b)), KB_TOKEN_OK);
	assert_string_not_equal(a, b);
}

static void
recovery_hash_refuses_malformed_codes(void **state)
{
	static const char	*bad[] = {
		"", "01ab-xyz", "01ab-xyz99", "01ab-xyzu", "01ab_xyz9",
		"01ab-xyz!", "01ab\txyz9", "\xc3\xa9" "1ab-xyz9",
	};
	char			h[KB_TOKEN_HASH_LEN];
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_recovery_code_hash(bad[i], (const uint8_t *)PEPPER, 32,
		    h, sizeof(h)) != KB_TOKEN_ERR_FORMAT)
			fail_msg("case %zu: \"%s\"", i, bad[i]);
	}
}

static void
recovery_hash_refuses_short_pepper_and_small_buffer(void **state)
{
	char	h[KB_TOKEN_HASH_LEN];

	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)PEPPER, 31, h, sizeof(h)), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_recovery_code_hash("01ab-xyz9", NULL, 32, h,
	    sizeof(h)), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_recovery_code_hash("01ab-xyz9",
	    (const uint8_t *)PEPPER, 32, h, sizeof(h) - 1), KB_TOKEN_ERR_ARGS);
	assert_int_equal(kb_recovery_code_hash(NULL,
	    (const uint8_t *)PEPPER, 32, h, sizeof(h)), KB_TOKEN_ERR_ARGS);
}

static void
generated_codes_hash_as_typed(void **state)
{
	char	codes[2][KB_RECOVERY_CODE_LEN];
	char	h[KB_TOKEN_HASH_LEN];

	assert_int_equal(kb_recovery_codes_new(codes, 2), KB_TOKEN_OK);
	assert_int_equal(kb_recovery_code_hash(codes[0],
	    (const uint8_t *)PEPPER, 32, h, sizeof(h)), KB_TOKEN_OK);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(token_is_prefix_and_43_base64url_characters),
		cmocka_unit_test(two_tokens_differ),
		cmocka_unit_test(token_may_be_longer_and_unprefixed),
		cmocka_unit_test(token_refuses_fewer_than_32_bytes),
		cmocka_unit_test(token_refuses_bad_prefixes),
		cmocka_unit_test(token_needs_exactly_enough_room),
		cmocka_unit_test(token_hash_is_hex_sha256),
		cmocka_unit_test(token_hash_refuses_small_buffer_and_null),
		cmocka_unit_test(recovery_codes_are_ten_distinct_xxxx_xxxx),
		cmocka_unit_test(recovery_codes_use_the_whole_alphabet),
		cmocka_unit_test(recovery_codes_refuse_bad_counts),
		cmocka_unit_test(
		    recovery_hash_is_hmac_sha256_of_the_normal_form),
		cmocka_unit_test(recovery_hash_forgives_how_the_user_typed_it),
		cmocka_unit_test(recovery_hash_differs_by_code_and_pepper),
		cmocka_unit_test(recovery_hash_refuses_malformed_codes),
		cmocka_unit_test(
		    recovery_hash_refuses_short_pepper_and_small_buffer),
		cmocka_unit_test(generated_codes_hash_as_typed),
	};

	return (cmocka_run_group_tests_name("auth/token", tests, NULL, NULL));
}
