/*
 * korebase auth: HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords.
 *
 * The default is what every authenticator app implements: HMAC-SHA1,
 * 6 digits, 30 second steps.  SHA256/SHA512 and 8 digits exist for the
 * RFC 6238 test vectors and for clients that ask for them.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"

#define KB_TOTP_DIGITS_MIN	6
#define KB_TOTP_DIGITS_MAX	8
#define KB_TOTP_WINDOW_MAX	10
#define KB_TOTP_PERIOD_MAX	300

static int	kb_totp_params_ok(const struct kb_totp_params *);
static const EVP_MD	*kb_totp_md(enum kb_totp_alg);
static const char	*kb_totp_alg_name(enum kb_totp_alg);
static int	kb_totp_pct(const char *, char *, size_t, size_t *);

static const struct kb_totp_params	kb_totp_defaults =
    KB_TOTP_PARAMS_DEFAULT;

static const uint32_t	kb_totp_pow10[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
};

int
kb_hotp(const uint8_t *key, size_t keylen, uint64_t counter,
    enum kb_totp_alg alg, int digits, uint32_t *code)
{
	const EVP_MD	*md;
	uint8_t		msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen;
	uint32_t	bin;
	int		i, off;

	if (key == NULL || keylen == 0 || keylen > INT32_MAX ||
	    digits < KB_TOTP_DIGITS_MIN || digits > KB_TOTP_DIGITS_MAX ||
	    (md = kb_totp_md(alg)) == NULL)
		return (KB_TOTP_ERR_ARGS);

	for (i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(counter & 0xff);
		counter >>= 8;
	}

	if (HMAC(md, key, (int)keylen, msg, sizeof(msg), mac, &maclen) ==
	    NULL)
		return (KB_TOTP_ERR_INTERNAL);

	/* RFC 4226 section 5.3, dynamic truncation. */
	off = mac[maclen - 1] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) |
	    ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) |
	    (uint32_t)mac[off + 3];
	OPENSSL_cleanse(mac, sizeof(mac));

	*code = bin % kb_totp_pow10[digits];

	return (KB_TOTP_OK);
}

int64_t
kb_totp_step(time_t t, int period)
{
	if (t < 0 || period <= 0)
		return (-1);

	return ((int64_t)t / period);
}

int
kb_totp_code(const uint8_t *key, size_t keylen,
    const struct kb_totp_params *params, time_t t, char *out, size_t outlen)
{
	uint32_t	code;
	int64_t		step;
	int		rc;

	if (params == NULL)
		params = &kb_totp_defaults;
	if (!kb_totp_params_ok(params) || outlen < (size_t)params->digits + 1)
		return (KB_TOTP_ERR_ARGS);
	if ((step = kb_totp_step(t, params->period)) == -1)
		return (KB_TOTP_ERR_ARGS);

	rc = kb_hotp(key, keylen, (uint64_t)step, params->alg, params->digits,
	    &code);
	if (rc != KB_TOTP_OK)
		return (rc);

	(void)snprintf(out, outlen, "%0*u", params->digits, code);

	return (KB_TOTP_OK);
}

int
kb_totp_verify(const uint8_t *key, size_t keylen,
    const struct kb_totp_params *params, const char *code, time_t now,
    int64_t last_step, int64_t *step)
{
	char		want[KB_TOTP_DIGITS_MAX + 1];
	uint32_t	v;
	int64_t		cur, s, matched;
	size_t		len, i;
	int		rc, hit, replay;

	if (params == NULL)
		params = &kb_totp_defaults;
	if (!kb_totp_params_ok(params) || code == NULL || step == NULL)
		return (KB_TOTP_ERR_ARGS);
	if ((cur = kb_totp_step(now, params->period)) == -1)
		return (KB_TOTP_ERR_ARGS);

	len = strnlen(code, KB_TOTP_DIGITS_MAX + 1);
	if (len != (size_t)params->digits)
		return (KB_TOTP_ERR_FORMAT);
	for (i = 0; i < len; i++) {
		if (code[i] < '0' || code[i] > '9')
			return (KB_TOTP_ERR_FORMAT);
	}

	/*
	 * Compute and compare every candidate: how long this takes does not
	 * depend on which step, if any, matched.
	 */
	matched = -1;
	replay = 0;
	for (s = cur - params->window; s <= cur + params->window; s++) {
		if (s < 0)
			continue;
		rc = kb_hotp(key, keylen, (uint64_t)s, params->alg,
		    params->digits, &v);
		if (rc != KB_TOTP_OK)
			return (rc);
		(void)snprintf(want, sizeof(want), "%0*u", params->digits, v);
		hit = kb_ct_equal(want, len, code, len);
		if (hit && s <= last_step)
			replay = 1;
		else if (hit)
			matched = s;
	}
	OPENSSL_cleanse(want, sizeof(want));

	if (matched != -1) {
		*step = matched;
		return (KB_TOTP_OK);
	}

	return (replay ? KB_TOTP_ERR_REPLAY : KB_TOTP_ERR_MISMATCH);
}

int
kb_totp_secret_new(char *out, size_t outlen)
{
	uint8_t		secret[KB_TOTP_SECRET_LEN];
	int		n;

	if (outlen < KB_TOTP_SECRET_B32LEN)
		return (KB_TOTP_ERR_ARGS);
	if (RAND_bytes(secret, sizeof(secret)) != 1)
		return (KB_TOTP_ERR_INTERNAL);

	n = kb_base32_encode(secret, sizeof(secret), out, outlen);
	OPENSSL_cleanse(secret, sizeof(secret));

	return (n == -1 ? KB_TOTP_ERR_ARGS : KB_TOTP_OK);
}

int
kb_totp_uri(const char *issuer, const char *account, const char *secret_b32,
    const struct kb_totp_params *params, char *out, size_t outlen)
{
	uint8_t		secret[256];
	size_t		i, o, slen;
	int		n;
	char		c;

	if (params == NULL)
		params = &kb_totp_defaults;
	if (!kb_totp_params_ok(params))
		return (KB_TOTP_ERR_ARGS);
	if (issuer == NULL || account == NULL || secret_b32 == NULL)
		return (KB_TOTP_ERR_ARGS);
	if (issuer[0] == '\0' || account[0] == '\0' ||
	    strchr(issuer, ':') != NULL || strchr(account, ':') != NULL)
		return (KB_TOTP_ERR_ARGS);

	/* The secret must decode, and is then written as given (upper). */
	slen = strlen(secret_b32);
	if (kb_base32_decode(secret_b32, slen, secret, sizeof(secret)) <= 0)
		return (KB_TOTP_ERR_ARGS);
	OPENSSL_cleanse(secret, sizeof(secret));

	n = snprintf(out, outlen, "otpauth://totp/");
	if (n < 0 || (size_t)n >= outlen)
		return (KB_TOTP_ERR_ARGS);
	o = (size_t)n;
	if (kb_totp_pct(issuer, out, outlen, &o) == -1)
		return (KB_TOTP_ERR_ARGS);
	if (o + 1 >= outlen)
		return (KB_TOTP_ERR_ARGS);
	out[o++] = ':';
	if (kb_totp_pct(account, out, outlen, &o) == -1)
		return (KB_TOTP_ERR_ARGS);

	n = snprintf(out + o, outlen - o, "?secret=");
	if (n < 0 || (size_t)n >= outlen - o)
		return (KB_TOTP_ERR_ARGS);
	o += (size_t)n;
	/* Base32 is case-insensitive; apps expect upper case. */
	for (i = 0; i < slen; i++) {
		if (o + 1 >= outlen)
			return (KB_TOTP_ERR_ARGS);
		c = secret_b32[i];
		out[o++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
	}
	out[o] = '\0';

	n = snprintf(out + o, outlen - o, "&issuer=");
	if (n < 0 || (size_t)n >= outlen - o)
		return (KB_TOTP_ERR_ARGS);
	o += (size_t)n;
	if (kb_totp_pct(issuer, out, outlen, &o) == -1)
		return (KB_TOTP_ERR_ARGS);

	n = snprintf(out + o, outlen - o, "&algorithm=%s&digits=%d&period=%d",
	    kb_totp_alg_name(params->alg), params->digits, params->period);
	if (n < 0 || (size_t)n >= outlen - o)
		return (KB_TOTP_ERR_ARGS);

	return (KB_TOTP_OK);
}

const char *
kb_totp_strerror(int code)
{
	switch (code) {
	case KB_TOTP_OK:
		return ("ok");
	case KB_TOTP_ERR_MISMATCH:
		return ("wrong code");
	case KB_TOTP_ERR_REPLAY:
		return ("code already used");
	case KB_TOTP_ERR_FORMAT:
		return ("malformed code");
	case KB_TOTP_ERR_ARGS:
		return ("invalid arguments");
	case KB_TOTP_ERR_INTERNAL:
		return ("internal error");
	}

	return ("unknown error");
}

static int
kb_totp_params_ok(const struct kb_totp_params *p)
{
	if (kb_totp_md(p->alg) == NULL)
		return (0);
	if (p->digits < KB_TOTP_DIGITS_MIN || p->digits > KB_TOTP_DIGITS_MAX)
		return (0);
	if (p->period <= 0 || p->period > KB_TOTP_PERIOD_MAX)
		return (0);
	if (p->window < 0 || p->window > KB_TOTP_WINDOW_MAX)
		return (0);

	return (1);
}

static const EVP_MD *
kb_totp_md(enum kb_totp_alg alg)
{
	switch (alg) {
	case KB_TOTP_SHA1:
		return (EVP_sha1());
	case KB_TOTP_SHA256:
		return (EVP_sha256());
	case KB_TOTP_SHA512:
		return (EVP_sha512());
	}

	return (NULL);
}

static const char *
kb_totp_alg_name(enum kb_totp_alg alg)
{
	switch (alg) {
	case KB_TOTP_SHA1:
		return ("SHA1");
	case KB_TOTP_SHA256:
		return ("SHA256");
	case KB_TOTP_SHA512:
		return ("SHA512");
	}

	return ("SHA1");
}

/*
 * Append `s` percent-encoded (RFC 3986: everything but the unreserved
 * ALPHA / DIGIT / "-" / "." / "_" / "~") at out[*o], keeping room for the
 * NUL.  -1 when it does not fit.
 */
static int
kb_totp_pct(const char *s, char *out, size_t outlen, size_t *o)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			if (*o + 1 >= outlen)
				return (-1);
			out[(*o)++] = (char)c;
		} else {
			if (*o + 3 >= outlen)
				return (-1);
			out[(*o)++] = '%';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 0x0f];
		}
	}
	out[*o] = '\0';

	return (0);
}
