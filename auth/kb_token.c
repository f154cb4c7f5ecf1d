/*
 * korebase auth: opaque random tokens (API keys, refresh tokens, reset
 * links) and 2FA recovery codes.
 *
 * Tokens carry 256 bits or more, so a plain SHA-256 of them is what the
 * database stores and indexes.  Recovery codes carry 40 bits, which a
 * plain digest would not protect once the table leaks: they are hashed
 * with HMAC under a server-side pepper instead.
 */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kb_auth.h"

#define KB_TOKEN_MAX_BYTES	1024
#define KB_RECOVERY_CHARS	8

/* Crockford's base32: no i, l, o or u to misread or misspell. */
static const char	kb_recovery_alpha[] =
    "0123456789abcdefghjkmnpqrstvwxyz";

static int	kb_recovery_normalize(const char *, char *);

/*
 * SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm
 * up again on every digest, which was a tenth of the gate's time for a
 * service key.
 */
static pthread_once_t	 sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD		*sha256_md;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int
kb_token_new(const char *prefix, size_t bytes, char *out, size_t outlen)
{
	uint8_t		rnd[KB_TOKEN_MAX_BYTES];
	size_t		plen, i;
	int		n;

	if (prefix == NULL || bytes < KB_TOKEN_MIN_BYTES ||
	    bytes > KB_TOKEN_MAX_BYTES)
		return (KB_TOKEN_ERR_ARGS);

	plen = strnlen(prefix, KB_TOKEN_PREFIX_MAX + 1);
	if (plen > KB_TOKEN_PREFIX_MAX)
		return (KB_TOKEN_ERR_ARGS);
	for (i = 0; i < plen; i++) {
		if ((prefix[i] < 'a' || prefix[i] > 'z') &&
		    (prefix[i] < '0' || prefix[i] > '9') && prefix[i] != '_')
			return (KB_TOKEN_ERR_ARGS);
	}
	if (outlen < plen + KB_BASE64_ENCLEN(bytes))
		return (KB_TOKEN_ERR_ARGS);

	if (RAND_bytes(rnd, (int)bytes) != 1)
		return (KB_TOKEN_ERR_INTERNAL);

	memcpy(out, prefix, plen);
	n = kb_base64_encode(rnd, bytes, 1, out + plen, outlen - plen);
	OPENSSL_cleanse(rnd, bytes);

	return (n == -1 ? KB_TOKEN_ERR_ARGS : KB_TOKEN_OK);
}

int
kb_token_hash(const char *token, size_t len, char *out, size_t outlen)
{
	uint8_t		md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;

	if (token == NULL || outlen < KB_TOKEN_HASH_LEN)
		return (KB_TOKEN_ERR_ARGS);

	(void)pthread_once(&sha256_once, sha256_fetch);
	if (EVP_Digest(token, len, md, &mdlen, sha256_md != NULL ?
	    sha256_md : EVP_sha256(), NULL) != 1)
		return (KB_TOKEN_ERR_INTERNAL);
	(void)kb_hex_encode(md, mdlen, out, outlen);

	return (KB_TOKEN_OK);
}

int
kb_recovery_codes_new(char (*codes)[KB_RECOVERY_CODE_LEN], size_t n)
{
	uint8_t		rnd[5];
	uint64_t	bits;
	size_t		i;
	int		j, o;

	if (codes == NULL || n == 0 || n > 100)
		return (KB_TOKEN_ERR_ARGS);

	for (i = 0; i < n; i++) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return (KB_TOKEN_ERR_INTERNAL);

		/* 40 random bits, 5 per character: no modulo bias. */
		bits = 0;
		for (j = 0; j < 5; j++)
			bits = (bits << 8) | rnd[j];

		o = 0;
		for (j = 0; j < KB_RECOVERY_CHARS; j++) {
			if (j == KB_RECOVERY_CHARS / 2)
				codes[i][o++] = '-';
			codes[i][o++] = kb_recovery_alpha[(bits >>
			    (5 * (KB_RECOVERY_CHARS - 1 - j))) & 0x1f];
		}
		codes[i][o] = '\0';
	}
	OPENSSL_cleanse(rnd, sizeof(rnd));

	return (KB_TOKEN_OK);
}

int
kb_recovery_code_hash(const char *code, const uint8_t *pepper,
    size_t pepperlen, char *out, size_t outlen)
{
	char		norm[KB_RECOVERY_CHARS + 1];
	uint8_t		mac[EVP_MAX_MD_SIZE];
	unsigned int	maclen;

	if (code == NULL || pepper == NULL ||
	    pepperlen < KB_RECOVERY_PEPPER_MIN || pepperlen > INT32_MAX ||
	    outlen < KB_TOKEN_HASH_LEN)
		return (KB_TOKEN_ERR_ARGS);
	if (kb_recovery_normalize(code, norm) == -1)
		return (KB_TOKEN_ERR_FORMAT);

	if (HMAC(EVP_sha256(), pepper, (int)pepperlen, (const uint8_t *)norm,
	    KB_RECOVERY_CHARS, mac, &maclen) == NULL)
		return (KB_TOKEN_ERR_INTERNAL);
	(void)kb_hex_encode(mac, maclen, out, outlen);
	OPENSSL_cleanse(norm, sizeof(norm));
	OPENSSL_cleanse(mac, sizeof(mac));

	return (KB_TOKEN_OK);
}

/*
 * What a user types into the canonical 8 characters: case, spaces and
 * dashes do not matter, and the letters Crockford left out read as the
 * digits they look like.  `norm` gets KB_RECOVERY_CHARS + 1 bytes.
 */
static int
kb_recovery_normalize(const char *code, char *norm)
{
	size_t		n;
	char		c;

	n = 0;
	for (; *code != '\0'; code++) {
		c = *code;
		if (c == ' ' || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == 'o')
			c = '0';
		else if (c == 'i' || c == 'l')
			c = '1';
		if (c == '\0' || strchr(kb_recovery_alpha, c) == NULL)
			return (-1);
		if (n == KB_RECOVERY_CHARS)
			return (-1);
		norm[n++] = c;
	}
	norm[n] = '\0';

	return (n == KB_RECOVERY_CHARS ? 0 : -1);
}
