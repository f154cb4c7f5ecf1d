/*
 * korebase auth tests: HS256 access tokens.
 *
 * Attack tokens are built by hand (kbt_jwt) with the right secret, so each
 * test shows that one property alone makes verification fail.
 */

#include "kb_auth_test.h"

#define NOW		1700000000
#define SECRET		"0123456789abcdef0123456789abcdef"	/* 32 bytes */
#define HS256		"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static const struct kb_jwt_config	cfg = {
	(const uint8_t *)SECRET, 32, "https://api.korebase.test",
	"korebase", 900
};

/* A payload that passes every check at NOW, with `extra` claims spliced. */
static char *
payload(const char *fmt, ...)
{
	static char	buf[4096];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	return (buf);
}

#define GOOD_CLAIMS \
	"\"sub\":\"u1\",\"role\":\"user\",\"sid\":\"s1\",\"jti\":\"j1\""
#define GOOD_TIMES	"\"iat\":1700000000,\"exp\":1700000900"
#define GOOD_ISS_AUD \
	"\"iss\":\"https://api.korebase.test\",\"aud\":\"korebase\""

static char *
good_payload(void)
{
	return (payload("{" GOOD_CLAIMS "," GOOD_TIMES "," GOOD_ISS_AUD "}"));
}

static int
verify_crafted(const char *hdr, const char *pl, const EVP_MD *md,
    const char *key)
{
	struct kb_jwt_claims	c;
	char			*tok;
	int			rc;

	tok = kbt_jwt(hdr, pl, md, key, key != NULL ? strlen(key) : 0);
	rc = kb_jwt_verify(&cfg, tok, NOW, &c);
	if (rc == KB_JWT_OK)
		kb_jwt_claims_free(&c);
	else
		assert_null(c.sub);
	free(tok);

	return (rc);
}

static void
secret_must_be_at_least_32_bytes(void **state)
{
	assert_int_equal(kb_jwt_secret_ok((const uint8_t *)SECRET, 31), 0);
	assert_int_equal(kb_jwt_secret_ok((const uint8_t *)SECRET, 32), 1);
	assert_int_equal(kb_jwt_secret_ok(NULL, 32), 0);
}

static void
issued_token_verifies_with_its_claims(void **state)
{
	struct kb_jwt_claims	in = { "user-1", "admin", "sess-1", "acme",
				    NULL, 0, 0 };
	struct kb_jwt_claims	out;
	char			*tok;

	assert_int_equal(kb_jwt_issue(&cfg, &in, NOW, &tok), KB_JWT_OK);
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &out), KB_JWT_OK);
	assert_string_equal(out.sub, "user-1");
	assert_string_equal(out.role, "admin");
	assert_string_equal(out.sid, "sess-1");
	assert_string_equal(out.tenant, "acme");
	assert_int_equal(out.iat, NOW);
	assert_int_equal(out.exp, NOW + 900);
	/* 16 random bytes, base64url. */
	assert_int_equal(strlen(out.jti), 22);
	kb_jwt_claims_free(&out);
	assert_null(out.sub);
	free(tok);
}

static void
issued_token_without_tenant_has_null_tenant(void **state)
{
	struct kb_jwt_claims	in = { "user-1", "user", "sess-1", NULL,
				    "my-jti", 0, 0 };
	struct kb_jwt_claims	out;
	char			*tok;

	assert_int_equal(kb_jwt_issue(&cfg, &in, NOW, &tok), KB_JWT_OK);
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &out), KB_JWT_OK);
	assert_null(out.tenant);
	assert_string_equal(out.jti, "my-jti");
	kb_jwt_claims_free(&out);
	free(tok);
}

static void
two_issued_tokens_have_different_jti(void **state)
{
	struct kb_jwt_claims	in = { "u", "r", "s", NULL, NULL, 0, 0 };
	char			*a, *b;

	assert_int_equal(kb_jwt_issue(&cfg, &in, NOW, &a), KB_JWT_OK);
	assert_int_equal(kb_jwt_issue(&cfg, &in, NOW, &b), KB_JWT_OK);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void
issue_refuses_bad_arguments(void **state)
{
	struct kb_jwt_config	c;
	struct kb_jwt_claims	in = { "u", "r", "s", NULL, NULL, 0, 0 };
	struct kb_jwt_claims	x;
	char			*tok, big[2000];

	c = cfg;
	c.secret_len = 31;
	assert_int_equal(kb_jwt_issue(&c, &in, NOW, &tok), KB_JWT_ERR_SECRET);
	assert_null(tok);

	c = cfg;
	c.ttl = 0;
	assert_int_equal(kb_jwt_issue(&c, &in, NOW, &tok), KB_JWT_ERR_ARGS);
	c = cfg;
	c.issuer = NULL;
	assert_int_equal(kb_jwt_issue(&c, &in, NOW, &tok), KB_JWT_ERR_ARGS);
	c = cfg;
	c.audience = "";
	assert_int_equal(kb_jwt_issue(&c, &in, NOW, &tok), KB_JWT_ERR_ARGS);

	x = in;
	x.sub = NULL;
	assert_int_equal(kb_jwt_issue(&cfg, &x, NOW, &tok), KB_JWT_ERR_ARGS);
	x = in;
	x.role = "";
	assert_int_equal(kb_jwt_issue(&cfg, &x, NOW, &tok), KB_JWT_ERR_ARGS);
	x = in;
	x.sid = NULL;
	assert_int_equal(kb_jwt_issue(&cfg, &x, NOW, &tok), KB_JWT_ERR_ARGS);
	x = in;
	x.tenant = "";
	assert_int_equal(kb_jwt_issue(&cfg, &x, NOW, &tok), KB_JWT_ERR_ARGS);
	x = in;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	x.sub = big;
	assert_int_equal(kb_jwt_issue(&cfg, &x, NOW, &tok), KB_JWT_ERR_ARGS);
	assert_int_equal(kb_jwt_issue(&cfg, NULL, NOW, &tok), KB_JWT_ERR_ARGS);
	assert_null(tok);
}

static void
hand_made_hs256_token_verifies(void **state)
{
	assert_int_equal(verify_crafted(HS256, good_payload(), EVP_sha256(),
	    SECRET), KB_JWT_OK);
	/* typ is optional. */
	assert_int_equal(verify_crafted("{\"alg\":\"HS256\"}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_OK);
}

static void
alg_none_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    good_payload(), NULL, NULL), KB_JWT_ERR_ALG);
}

static void
alg_none_with_a_valid_hs256_signature_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"none\"}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_ALG);
}

static void
alg_none_in_other_cases_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"None\"}", good_payload(),
	    NULL, NULL), KB_JWT_ERR_ALG);
	assert_int_equal(verify_crafted("{\"alg\":\"NONE\"}", good_payload(),
	    NULL, NULL), KB_JWT_ERR_ALG);
}

static void
hs384_with_the_right_secret_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
	    good_payload(), EVP_sha384(), SECRET), KB_JWT_ERR_ALG);
}

static void
hs512_with_the_right_secret_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    good_payload(), EVP_sha512(), SECRET), KB_JWT_ERR_ALG);
}

static void
rs256_header_with_hmac_signature_is_rejected(void **state)
{
	/* Algorithm confusion: the "public key" used as an HMAC secret. */
	assert_int_equal(verify_crafted("{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
	    good_payload(), EVP_sha256(), SECRET), KB_JWT_ERR_ALG);
}

static void
missing_or_mistyped_alg_is_rejected(void **state)
{
	assert_int_equal(verify_crafted("{\"typ\":\"JWT\"}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_ALG);
	assert_int_equal(verify_crafted("{\"alg\":256}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_ALG);
	assert_int_equal(verify_crafted("{\"alg\":\"hs256\"}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_ALG);
}

static void
duplicate_alg_in_header_is_malformed(void **state)
{
	assert_int_equal(verify_crafted(
	    "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
}

static void
unknown_typ_or_crit_header_is_malformed(void **state)
{
	assert_int_equal(verify_crafted("{\"alg\":\"HS256\",\"typ\":\"JWE\"}",
	    good_payload(), EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
	assert_int_equal(verify_crafted(
	    "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
}

static void
wrong_secret_is_a_bad_signature(void **state)
{
	assert_int_equal(verify_crafted(HS256, good_payload(), EVP_sha256(),
	    "fedcba9876543210fedcba9876543210"), KB_JWT_ERR_SIGNATURE);
}

static void
tampered_payload_is_a_bad_signature(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok, *adm, *dot;
	char			*p;

	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 32);
	/* Swap in another payload, keep the original signature. */
	adm = kbt_b64url("{\"sub\":\"admin\"}", 15);
	dot = strrchr(tok, '.');
	p = malloc(strlen(tok) + strlen(adm) + 1);
	sprintf(p, "%.*s.%s%s", (int)(strchr(tok, '.') - tok), tok, adm, dot);
	assert_int_equal(kb_jwt_verify(&cfg, p, NOW, &c),
	    KB_JWT_ERR_SIGNATURE);
	free(p);
	free(adm);
	free(tok);
}

static void
flipped_signature_character_is_a_bad_signature(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok;
	size_t			len;

	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 32);
	len = strlen(tok);
	tok[len - 5] = tok[len - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_SIGNATURE);
	free(tok);
}

static void
non_canonical_signature_encoding_is_a_bad_signature(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok, *last;
	const char		*alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz0123456789-_";

	/*
	 * 32 bytes are 43 characters; the last carries 4 unused bits.  Set
	 * one: lenient decoders yield the same MAC, we refuse the spelling.
	 */
	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 32);
	last = tok + strlen(tok) - 1;
	*last = alpha[(strchr(alpha, *last) - alpha) | 1];
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_SIGNATURE);
	free(tok);
}

static void
stripped_signature_is_a_bad_signature(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok;

	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 32);
	strrchr(tok, '.')[1] = '\0';
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_SIGNATURE);
	free(tok);
}

static void
expired_token_is_expired(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_ISS_AUD ",\"iat\":1699990000,\"exp\":1699999999}"),
	    EVP_sha256(), SECRET), KB_JWT_EXPIRED);
}

static void
token_expires_exactly_at_exp(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok;

	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 32);
	assert_int_equal(kb_jwt_verify(&cfg, tok, 1700000899, &c), KB_JWT_OK);
	kb_jwt_claims_free(&c);
	assert_int_equal(kb_jwt_verify(&cfg, tok, 1700000900, &c),
	    KB_JWT_EXPIRED);
	free(tok);
}

static void
expired_with_bad_signature_is_not_merely_expired(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_ISS_AUD ",\"iat\":1699990000,\"exp\":1699999999}"),
	    EVP_sha256(), "fedcba9876543210fedcba9876543210"),
	    KB_JWT_ERR_SIGNATURE);
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    "\"iss\":\"https://api.korebase.test\",\"aud\":\"other\","
	    "\"iat\":1699990000,\"exp\":1699999999}"), EVP_sha256(), SECRET),
	    KB_JWT_ERR_AUDIENCE);
}

static void
nbf_beyond_leeway_is_not_yet_valid(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES "," GOOD_ISS_AUD ",\"nbf\":1700000031}"),
	    EVP_sha256(), SECRET), KB_JWT_ERR_NOT_YET_VALID);
}

static void
nbf_within_leeway_is_accepted(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES "," GOOD_ISS_AUD ",\"nbf\":1700000030}"),
	    EVP_sha256(), SECRET), KB_JWT_OK);
}

static void
iat_beyond_leeway_is_not_yet_valid(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_ISS_AUD ",\"iat\":1700000031,\"exp\":1700000900}"),
	    EVP_sha256(), SECRET), KB_JWT_ERR_NOT_YET_VALID);
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_ISS_AUD ",\"iat\":1700000030,\"exp\":1700000900}"),
	    EVP_sha256(), SECRET), KB_JWT_OK);
}

static void
wrong_audience_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES ",\"iss\":\"https://api.korebase.test\","
	    "\"aud\":\"korebase-admin\"}"), EVP_sha256(), SECRET),
	    KB_JWT_ERR_AUDIENCE);
}

static void
missing_audience_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES ",\"iss\":\"https://api.korebase.test\"}"),
	    EVP_sha256(), SECRET), KB_JWT_ERR_AUDIENCE);
}

static void
audience_list_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES ",\"iss\":\"https://api.korebase.test\","
	    "\"aud\":[\"korebase\"]}"), EVP_sha256(), SECRET),
	    KB_JWT_ERR_AUDIENCE);
}

static void
wrong_issuer_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES ",\"iss\":\"https://evil.test\",\"aud\":\"korebase\"}"),
	    EVP_sha256(), SECRET), KB_JWT_ERR_ISSUER);
}

static void
missing_issuer_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    GOOD_TIMES ",\"aud\":\"korebase\"}"), EVP_sha256(), SECRET),
	    KB_JWT_ERR_ISSUER);
}

static void
missing_sub_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{\"role\":\"user\","
	    "\"sid\":\"s1\",\"jti\":\"j1\"," GOOD_TIMES "," GOOD_ISS_AUD "}"),
	    EVP_sha256(), SECRET), KB_JWT_ERR_CLAIMS);
}

static void
missing_exp_is_rejected(void **state)
{
	assert_int_equal(verify_crafted(HS256, payload("{" GOOD_CLAIMS ","
	    "\"iat\":1700000000," GOOD_ISS_AUD "}"), EVP_sha256(), SECRET),
	    KB_JWT_ERR_CLAIMS);
}

static void
mistyped_or_empty_claims_are_rejected(void **state)
{
	static const char	*bad[] = {
		/* exp as a string, as a float */
		"{" GOOD_CLAIMS ",\"iat\":1700000000,\"exp\":\"1700000900\","
		    GOOD_ISS_AUD "}",
		"{" GOOD_CLAIMS ",\"iat\":1700000000,\"exp\":1700000900.5,"
		    GOOD_ISS_AUD "}",
		/* iat missing, nbf a string */
		"{" GOOD_CLAIMS ",\"exp\":1700000900," GOOD_ISS_AUD "}",
		"{" GOOD_CLAIMS "," GOOD_TIMES "," GOOD_ISS_AUD
		    ",\"nbf\":\"0\"}",
		/* sub a number, sub empty */
		"{\"sub\":1,\"role\":\"user\",\"sid\":\"s1\",\"jti\":\"j1\","
		    GOOD_TIMES "," GOOD_ISS_AUD "}",
		"{\"sub\":\"\",\"role\":\"user\",\"sid\":\"s1\",\"jti\":\"j1\","
		    GOOD_TIMES "," GOOD_ISS_AUD "}",
		/* role, sid, jti missing */
		"{\"sub\":\"u1\",\"sid\":\"s1\",\"jti\":\"j1\"," GOOD_TIMES ","
		    GOOD_ISS_AUD "}",
		"{\"sub\":\"u1\",\"role\":\"user\",\"jti\":\"j1\"," GOOD_TIMES
		    "," GOOD_ISS_AUD "}",
		"{\"sub\":\"u1\",\"role\":\"user\",\"sid\":\"s1\"," GOOD_TIMES
		    "," GOOD_ISS_AUD "}",
		/* tenant not a string */
		"{" GOOD_CLAIMS "," GOOD_TIMES "," GOOD_ISS_AUD
		    ",\"tenant\":7}",
	};
	size_t			i;
	int			rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = verify_crafted(HS256, bad[i], EVP_sha256(), SECRET);
		if (rc != KB_JWT_ERR_CLAIMS)
			fail_msg("case %zu: %s (%s)", i, bad[i],
			    kb_jwt_strerror(rc));
	}
}

static void
nul_inside_a_claim_is_malformed(void **state)
{
	/* libjwt's JSON parser refuses \u0000 before we see the claim. */
	assert_int_equal(verify_crafted(HS256, payload("{\"sub\":\"a\\u0000b\","
	    "\"role\":\"user\",\"sid\":\"s1\",\"jti\":\"j1\"," GOOD_TIMES ","
	    GOOD_ISS_AUD "}"), EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
}

static void
payload_that_is_not_json_is_malformed(void **state)
{
	assert_int_equal(verify_crafted(HS256, "not json", EVP_sha256(),
	    SECRET), KB_JWT_ERR_MALFORMED);
	assert_int_equal(verify_crafted(HS256, "[1,2]", EVP_sha256(),
	    SECRET), KB_JWT_ERR_MALFORMED);
}

static void
header_that_is_not_a_json_object_is_malformed(void **state)
{
	assert_int_equal(verify_crafted("not json", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
	assert_int_equal(verify_crafted("[\"HS256\"]", good_payload(),
	    EVP_sha256(), SECRET), KB_JWT_ERR_MALFORMED);
}

static void
tokens_of_the_wrong_shape_are_malformed(void **state)
{
	static const char	*bad[] = {
		"", "abc", "a.b", "a.b.c.d", ".b.c", "a..c", "..",
		"eyJhbGciOiJIUzI1NiJ9.e30.a+b", "eyJhbGciOiJIUzI1NiJ9=.e30.ab",
		"eyJhbGciOiJIUzI1NiJ9.e30.ab ", "e.e30.ab",
	};
	struct kb_jwt_claims	c;
	size_t			i;

	assert_int_equal(kb_jwt_verify(&cfg, NULL, NOW, &c),
	    KB_JWT_ERR_MALFORMED);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kb_jwt_verify(&cfg, bad[i], NOW, &c) !=
		    KB_JWT_ERR_MALFORMED)
			fail_msg("case %zu: \"%s\"", i, bad[i]);
	}
}

static void
oversize_token_is_rejected(void **state)
{
	struct kb_jwt_claims	c;
	char			*pl, *tok;

	/* Correctly signed, just too long. */
	pl = malloc(KB_JWT_MAX_LEN);
	snprintf(pl, KB_JWT_MAX_LEN, "{" GOOD_CLAIMS "," GOOD_TIMES ","
	    GOOD_ISS_AUD ",\"pad\":\"%07000d\"}", 0);
	tok = kbt_jwt(HS256, pl, EVP_sha256(), SECRET, 32);
	assert_true(strlen(tok) > KB_JWT_MAX_LEN);
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_OVERSIZE);
	free(tok);
	free(pl);
}

static void
token_of_exactly_max_length_is_not_oversize(void **state)
{
	struct kb_jwt_claims	c;
	char			*tok;

	tok = malloc(KB_JWT_MAX_LEN + 2);
	memset(tok, 'a', KB_JWT_MAX_LEN + 1);
	tok[KB_JWT_MAX_LEN] = '\0';
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_MALFORMED);
	tok[KB_JWT_MAX_LEN] = 'a';
	tok[KB_JWT_MAX_LEN + 1] = '\0';
	assert_int_equal(kb_jwt_verify(&cfg, tok, NOW, &c),
	    KB_JWT_ERR_OVERSIZE);
	free(tok);
}

static void
verify_with_a_short_secret_is_refused(void **state)
{
	struct kb_jwt_config	c;
	struct kb_jwt_claims	out;
	char			*tok;

	tok = kbt_jwt(HS256, good_payload(), EVP_sha256(), SECRET, 16);
	c = cfg;
	c.secret_len = 16;
	assert_int_equal(kb_jwt_verify(&c, tok, NOW, &out),
	    KB_JWT_ERR_SECRET);
	c = cfg;
	c.issuer = NULL;
	assert_int_equal(kb_jwt_verify(&c, tok, NOW, &out), KB_JWT_ERR_ARGS);
	free(tok);
}

static void
claims_free_accepts_null_and_empty(void **state)
{
	struct kb_jwt_claims	c;

	memset(&c, 0, sizeof(c));
	kb_jwt_claims_free(NULL);
	kb_jwt_claims_free(&c);
}

static void
strerror_names_every_code(void **state)
{
	int	c;

	for (c = KB_JWT_OK; c <= KB_JWT_ERR_INTERNAL; c++)
		assert_string_not_equal(kb_jwt_strerror(c), "unknown error");
	assert_string_equal(kb_jwt_strerror(-1), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(secret_must_be_at_least_32_bytes),
		cmocka_unit_test(issued_token_verifies_with_its_claims),
		cmocka_unit_test(issued_token_without_tenant_has_null_tenant),
		cmocka_unit_test(two_issued_tokens_have_different_jti),
		cmocka_unit_test(issue_refuses_bad_arguments),
		cmocka_unit_test(hand_made_hs256_token_verifies),
		cmocka_unit_test(alg_none_is_rejected),
		cmocka_unit_test(
		    alg_none_with_a_valid_hs256_signature_is_rejected),
		cmocka_unit_test(alg_none_in_other_cases_is_rejected),
		cmocka_unit_test(hs384_with_the_right_secret_is_rejected),
		cmocka_unit_test(hs512_with_the_right_secret_is_rejected),
		cmocka_unit_test(rs256_header_with_hmac_signature_is_rejected),
		cmocka_unit_test(missing_or_mistyped_alg_is_rejected),
		cmocka_unit_test(duplicate_alg_in_header_is_malformed),
		cmocka_unit_test(unknown_typ_or_crit_header_is_malformed),
		cmocka_unit_test(wrong_secret_is_a_bad_signature),
		cmocka_unit_test(tampered_payload_is_a_bad_signature),
		cmocka_unit_test(
		    flipped_signature_character_is_a_bad_signature),
		cmocka_unit_test(
		    non_canonical_signature_encoding_is_a_bad_signature),
		cmocka_unit_test(stripped_signature_is_a_bad_signature),
		cmocka_unit_test(expired_token_is_expired),
		cmocka_unit_test(token_expires_exactly_at_exp),
		cmocka_unit_test(
		    expired_with_bad_signature_is_not_merely_expired),
		cmocka_unit_test(nbf_beyond_leeway_is_not_yet_valid),
		cmocka_unit_test(nbf_within_leeway_is_accepted),
		cmocka_unit_test(iat_beyond_leeway_is_not_yet_valid),
		cmocka_unit_test(wrong_audience_is_rejected),
		cmocka_unit_test(missing_audience_is_rejected),
		cmocka_unit_test(audience_list_is_rejected),
		cmocka_unit_test(wrong_issuer_is_rejected),
		cmocka_unit_test(missing_issuer_is_rejected),
		cmocka_unit_test(missing_sub_is_rejected),
		cmocka_unit_test(missing_exp_is_rejected),
		cmocka_unit_test(mistyped_or_empty_claims_are_rejected),
		cmocka_unit_test(nul_inside_a_claim_is_malformed),
		cmocka_unit_test(payload_that_is_not_json_is_malformed),
		cmocka_unit_test(header_that_is_not_a_json_object_is_malformed),
		cmocka_unit_test(tokens_of_the_wrong_shape_are_malformed),
		cmocka_unit_test(oversize_token_is_rejected),
		cmocka_unit_test(token_of_exactly_max_length_is_not_oversize),
		cmocka_unit_test(verify_with_a_short_secret_is_refused),
		cmocka_unit_test(claims_free_accepts_null_and_empty),
		cmocka_unit_test(strerror_names_every_code),
	};

	return (cmocka_run_group_tests_name("auth/jwt", tests, NULL, NULL));
}
