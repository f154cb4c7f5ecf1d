/*
 * korebase auth tests: kb_seal / kb_open (AES-256-GCM at rest).
 */

#include "kb_auth_test.h"

static void
key_of(const char *label, uint8_t key[KB_SEAL_KEY_LEN])
{
	static const char	secret[] = "0123456789abcdef0123456789abcdef";

	assert_int_equal(kb_seal_key((const uint8_t *)secret,
	    sizeof(secret) - 1, label, key), KB_SEAL_OK);
}

static void
seal_round_trips(void **state)
{
	uint8_t		 key[KB_SEAL_KEY_LEN];
	const char	*msg[] = { "", "x", "Hello,\r\n\r\nkbml_abc\r\n" };
	char		*s, *o;
	size_t		 i, n;

	key_of("kb-test", key);
	for (i = 0; i < sizeof(msg) / sizeof(msg[0]); i++) {
		assert_int_equal(kb_seal(key, "ad", 2, msg[i], strlen(msg[i]),
		    &s), KB_SEAL_OK);
		assert_int_equal(strncmp(s, "kbs1.", 5), 0);
		assert_null(strstr(s, "kbml_"));
		assert_int_equal(kb_open(key, "ad", 2, s, &o, &n), KB_SEAL_OK);
		assert_int_equal(n, strlen(msg[i]));
		assert_string_equal(o, msg[i]);
		free(o);
		free(s);
	}
}

static void
seal_uses_a_fresh_nonce(void **state)
{
	uint8_t	 key[KB_SEAL_KEY_LEN];
	char	*a, *b;

	key_of("kb-test", key);
	assert_int_equal(kb_seal(key, "", 0, "same", 4, &a), KB_SEAL_OK);
	assert_int_equal(kb_seal(key, "", 0, "same", 4, &b), KB_SEAL_OK);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
open_rejects_wrong_key_ad_tampering_and_garbage(void **state)
{
	uint8_t	 key[KB_SEAL_KEY_LEN], other[KB_SEAL_KEY_LEN];
	char	*s, *o;
	size_t	 n, i;

	key_of("kb-test", key);
	key_of("kb-other", other);
	assert_int_equal(kb_seal(key, "to@example.com", 14, "secret", 6, &s),
	    KB_SEAL_OK);
	assert_int_equal(kb_open(other, "to@example.com", 14, s, &o, &n),
	    KB_SEAL_ERR_AUTH);
	assert_null(o);
	assert_int_equal(kb_open(key, "to@example.org", 14, s, &o, &n),
	    KB_SEAL_ERR_AUTH);
	assert_null(o);
	/* Flip one character of the payload anywhere. */
	for (i = 5; s[i] != '\0'; i++) {
		s[i] = s[i] == 'A' ? 'B' : 'A';
		assert_int_not_equal(kb_open(key, "to@example.com", 14, s,
		    &o, &n), KB_SEAL_OK);
		assert_null(o);
		s[i] = s[i] == 'A' ? 'B' : 'A';
	}
	free(s);
	assert_int_equal(kb_open(key, "", 0, "plain text", &o, &n),
	    KB_SEAL_ERR_FORMAT);
	assert_int_equal(kb_open(key, "", 0, "kbs1.", &o, &n),
	    KB_SEAL_ERR_FORMAT);
	assert_int_equal(kb_open(key, "", 0, "kbs1.!!!!", &o, &n),
	    KB_SEAL_ERR_FORMAT);
	assert_null(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_round_trips),
		cmocka_unit_test(seal_uses_a_fresh_nonce),
		cmocka_unit_test(open_rejects_wrong_key_ad_tampering_and_garbage),
	};

	return (cmocka_run_group_tests_name("auth/seal", tests, NULL, NULL));
}
