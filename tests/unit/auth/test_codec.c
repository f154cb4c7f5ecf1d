/*
 * korebase auth tests: kb_ct_equal and the RFC 4648 codecs.
 */

#include "kb_auth_test.h"

struct vec {
	const char	*plain;
	const char	*enc;
};

/* RFC 4648 section 10, without padding. */
static const struct vec	b32_vectors[] = {
	{ "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
	{ "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" },
	{ "foobar", "MZXW6YTBOI" }
};

static const struct vec	b64_vectors[] = {
	{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }
};

#define NVEC(v)	(sizeof(v) / sizeof((v)[0]))

static void
ct_equal_same_bytes_is_1(void **state)
{
	assert_int_equal(kb_ct_equal("abcd", 4, "abcd", 4), 1);
}

static void
ct_equal_different_bytes_is_0(void **state)
{
	assert_int_equal(kb_ct_equal("abcd", 4, "abce", 4), 0);
	assert_int_equal(kb_ct_equal("xbcd", 4, "abcd", 4), 0);
}

static void
ct_equal_different_lengths_is_0(void **state)
{
	assert_int_equal(kb_ct_equal("abc", 3, "abcd", 4), 0);
	assert_int_equal(kb_ct_equal("", 0, "a", 1), 0);
}

static void
ct_equal_empty_is_1(void **state)
{
	assert_int_equal(kb_ct_equal(NULL, 0, NULL, 0), 1);
}

static void
base32_encodes_rfc4648_vectors(void **state)
{
	char	out[32];
	size_t	i;

	for (i = 0; i < NVEC(b32_vectors); i++) {
		assert_int_equal(kb_base32_encode(
		    (const uint8_t *)b32_vectors[i].plain,
		    strlen(b32_vectors[i].plain), out, sizeof(out)),
		    (int)strlen(b32_vectors[i].enc));
		assert_string_equal(out, b32_vectors[i].enc);
	}
}

static void
base32_decodes_rfc4648_vectors_either_case(void **state)
{
	uint8_t	out[32];
	char	lower[32];
	size_t	i, j, len;

	for (i = 0; i < NVEC(b32_vectors); i++) {
		len = strlen(b32_vectors[i].enc);
		assert_int_equal(kb_base32_decode(b32_vectors[i].enc, len,
		    out, sizeof(out)), (int)strlen(b32_vectors[i].plain));
		assert_memory_equal(out, b32_vectors[i].plain,
		    strlen(b32_vectors[i].plain));

		for (j = 0; j <= len; j++)
			lower[j] = (char)((b32_vectors[i].enc[j] >= 'A' &&
			    b32_vectors[i].enc[j] <= 'Z') ?
			    b32_vectors[i].enc[j] + 32 : b32_vectors[i].enc[j]);
		assert_int_equal(kb_base32_decode(lower, len, out,
		    sizeof(out)), (int)strlen(b32_vectors[i].plain));
		assert_memory_equal(out, b32_vectors[i].plain,
		    strlen(b32_vectors[i].plain));
	}
}

static void
base32_round_trips_every_length_and_byte(void **state)
{
	uint8_t	in[64], back[64];
	char	enc[KB_BASE32_ENCLEN(64)];
	size_t	len, i;
	int	n;

	for (len = 0; len <= sizeof(in); len++) {
		for (i = 0; i < len; i++)
			in[i] = (uint8_t)(i * 37 + len * 11 + 0x80);
		n = kb_base32_encode(in, len, enc, KB_BASE32_ENCLEN(len));
		assert_int_equal(n, (int)(KB_BASE32_ENCLEN(len) - 1));
		assert_int_equal(kb_base32_decode(enc, (size_t)n, back, len),
		    (int)len);
		assert_memory_equal(in, back, len);
	}
}

static void
base32_rejects_characters_outside_the_alphabet(void **state)
{
	uint8_t	out[16];

	assert_int_equal(kb_base32_decode("MZXW1", 5, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZXW8", 5, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZXW!", 5, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZ X6", 5, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZ\0W6", 5, out, sizeof(out)), -1);
}

static void
base32_rejects_padding(void **state)
{
	uint8_t	out[16];

	assert_int_equal(kb_base32_decode("MY======", 8, out, sizeof(out)),
	    -1);
}

static void
base32_rejects_impossible_lengths(void **state)
{
	uint8_t	out[16];

	assert_int_equal(kb_base32_decode("M", 1, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZX", 3, out, sizeof(out)), -1);
	assert_int_equal(kb_base32_decode("MZXW6Y", 6, out, sizeof(out)), -1);
}

static void
base32_rejects_nonzero_trailing_bits(void **state)
{
	uint8_t	out[16];

	/* "MY" is "f"; "MZ" would be "f" plus a stray 1 bit. */
	assert_int_equal(kb_base32_decode("MY", 2, out, sizeof(out)), 1);
	assert_int_equal(kb_base32_decode("MZ", 2, out, sizeof(out)), -1);
}

static void
base32_refuses_small_buffers(void **state)
{
	uint8_t	out[6];
	char	enc[11];

	assert_int_equal(kb_base32_encode((const uint8_t *)"foobar", 6, enc,
	    10), -1);
	assert_int_equal(kb_base32_encode((const uint8_t *)"foobar", 6, enc,
	    11), 10);
	assert_int_equal(kb_base32_decode("MZXW6YTBOI", 10, out, 5), -1);
	assert_int_equal(kb_base32_decode("MZXW6YTBOI", 10, out, 6), 6);
}

static void
base64_encodes_and_decodes_rfc4648_vectors(void **state)
{
	uint8_t	bin[32];
	char	out[32];
	size_t	i;

	for (i = 0; i < NVEC(b64_vectors); i++) {
		assert_int_equal(kb_base64_encode(
		    (const uint8_t *)b64_vectors[i].plain,
		    strlen(b64_vectors[i].plain), 0, out, sizeof(out)),
		    (int)strlen(b64_vectors[i].enc));
		assert_string_equal(out, b64_vectors[i].enc);
		assert_int_equal(kb_base64_decode(b64_vectors[i].enc,
		    strlen(b64_vectors[i].enc), 0, bin, sizeof(bin)),
		    (int)strlen(b64_vectors[i].plain));
		assert_memory_equal(bin, b64_vectors[i].plain,
		    strlen(b64_vectors[i].plain));
	}
}

static void
base64_url_and_standard_alphabets_differ(void **state)
{
	const uint8_t	in[] = { 0xfb, 0xff, 0xbf };
	uint8_t		out[3];
	char		enc[8];

	kb_base64_encode(in, sizeof(in), 0, enc, sizeof(enc));
	assert_string_equal(enc, "+/+/");
	kb_base64_encode(in, sizeof(in), 1, enc, sizeof(enc));
	assert_string_equal(enc, "-_-_");

	assert_int_equal(kb_base64_decode("-_-_", 4, 1, out, 3), 3);
	assert_memory_equal(out, in, 3);
	assert_int_equal(kb_base64_decode("-_-_", 4, 0, out, 3), -1);
	assert_int_equal(kb_base64_decode("+/+/", 4, 1, out, 3), -1);
}

static void
base64_round_trips_every_length(void **state)
{
	uint8_t	in[70], back[70];
	char	enc[KB_BASE64_ENCLEN(70)];
	size_t	len, i;
	int	n, url;

	for (url = 0; url <= 1; url++) {
		for (len = 0; len <= sizeof(in); len++) {
			for (i = 0; i < len; i++)
				in[i] = (uint8_t)(255 - i * 7 - len);
			n = kb_base64_encode(in, len, url, enc, sizeof(enc));
			assert_true(n >= 0);
			assert_int_equal(kb_base64_decode(enc, (size_t)n, url,
			    back, len), (int)len);
			assert_memory_equal(in, back, len);
		}
	}
}

static void
base64_rejects_padding_bad_lengths_and_trailing_bits(void **state)
{
	uint8_t	out[8];

	assert_int_equal(kb_base64_decode("Zg==", 4, 0, out, sizeof(out)), -1);
	assert_int_equal(kb_base64_decode("Zm9vY", 5, 0, out, sizeof(out)),
	    -1);
	assert_int_equal(kb_base64_decode("Zh", 2, 0, out, sizeof(out)), -1);
	assert_int_equal(kb_base64_decode("Zm9", 3, 0, out, sizeof(out)), -1);
	assert_int_equal(kb_base64_decode("Zm.v", 4, 0, out, sizeof(out)), -1);
}

static void
base64_refuses_small_buffers(void **state)
{
	uint8_t	out[6];
	char	enc[9];

	assert_int_equal(kb_base64_encode((const uint8_t *)"foobar", 6, 0,
	    enc, 8), -1);
	assert_int_equal(kb_base64_encode((const uint8_t *)"foobar", 6, 0,
	    enc, 9), 8);
	assert_int_equal(kb_base64_decode("Zm9vYmFy", 8, 0, out, 5), -1);
}

static void
hex_encodes_lower_case(void **state)
{
	const uint8_t	in[] = { 0x00, 0x9f, 0xa0, 0xff };
	char		out[9];

	assert_int_equal(kb_hex_encode(in, sizeof(in), out, sizeof(out)), 8);
	assert_string_equal(out, "009fa0ff");
	assert_int_equal(kb_hex_encode(in, sizeof(in), out, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(ct_equal_same_bytes_is_1),
		cmocka_unit_test(ct_equal_different_bytes_is_0),
		cmocka_unit_test(ct_equal_different_lengths_is_0),
		cmocka_unit_test(ct_equal_empty_is_1),
		cmocka_unit_test(base32_encodes_rfc4648_vectors),
		cmocka_unit_test(base32_decodes_rfc4648_vectors_either_case),
		cmocka_unit_test(base32_round_trips_every_length_and_byte),
		cmocka_unit_test(
		    base32_rejects_characters_outside_the_alphabet),
		cmocka_unit_test(base32_rejects_padding),
		cmocka_unit_test(base32_rejects_impossible_lengths),
		cmocka_unit_test(base32_rejects_nonzero_trailing_bits),
		cmocka_unit_test(base32_refuses_small_buffers),
		cmocka_unit_test(base64_encodes_and_decodes_rfc4648_vectors),
		cmocka_unit_test(base64_url_and_standard_alphabets_differ),
		cmocka_unit_test(base64_round_trips_every_length),
		cmocka_unit_test(
		    base64_rejects_padding_bad_lengths_and_trailing_bits),
		cmocka_unit_test(base64_refuses_small_buffers),
		cmocka_unit_test(hex_encodes_lower_case),
	};

	return (cmocka_run_group_tests_name("auth/codec", tests, NULL, NULL));
}
